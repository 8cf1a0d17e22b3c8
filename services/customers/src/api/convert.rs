//! Conversions between protobuf messages and domain types. Every proto field is named, so a
//! new field breaks the build until it is handled here.

use chrono::{DateTime, TimeDelta, Utc};
use csops_proto::customers::v1 as pb;
use csops_runtime::time::{from_timestamp, to_timestamp, to_timestamp_opt};
use csops_runtime::violations::quote;

use crate::domain::{
    Channel, ChurnSignal, Consent, Contact, ContactKind, Customer, CustomerPatch, DateKind,
    ImportantDate, LifetimeValueInputs, NewCustomer, Profile, Region, Relation, RiskLevel,
    SignalKind, State, Tier, TierChange, Violations, MAX_SIGNAL_AGE,
};
use crate::store::ArchiveFilter;

pub(crate) fn tier_from_pb(value: i32, field: &str, v: &mut Violations) -> Option<Tier> {
    match pb::CustomerTier::try_from(value) {
        Ok(pb::CustomerTier::A) => Some(Tier::A),
        Ok(pb::CustomerTier::B) => Some(Tier::B),
        Ok(pb::CustomerTier::C) => Some(Tier::C),
        Ok(pb::CustomerTier::Unspecified) | Err(_) => {
            v.push(
                field,
                "must be CUSTOMER_TIER_A, CUSTOMER_TIER_B or CUSTOMER_TIER_C",
            );
            None
        }
    }
}

pub(crate) fn tier_to_pb(tier: Tier) -> pb::CustomerTier {
    match tier {
        Tier::A => pb::CustomerTier::A,
        Tier::B => pb::CustomerTier::B,
        Tier::C => pb::CustomerTier::C,
    }
}

pub(crate) fn region_from_pb(value: i32, field: &str, v: &mut Violations) -> Option<Region> {
    match pb::Region::try_from(value) {
        Ok(pb::Region::Urban) => Some(Region::Urban),
        Ok(pb::Region::Rural) => Some(Region::Rural),
        Ok(pb::Region::Unspecified) | Err(_) => {
            v.push(field, "must be REGION_URBAN or REGION_RURAL");
            None
        }
    }
}

fn region_to_pb(region: Region) -> pb::Region {
    match region {
        Region::Urban => pb::Region::Urban,
        Region::Rural => pb::Region::Rural,
    }
}

/// Reads an optional filter enum: unspecified means "any".
pub(crate) fn optional_tier(value: i32, field: &str, v: &mut Violations) -> Option<Tier> {
    (value != pb::CustomerTier::Unspecified as i32)
        .then(|| tier_from_pb(value, field, v))
        .flatten()
}

/// Reads an optional filter enum: unspecified means "any".
pub(crate) fn optional_region(value: i32, field: &str, v: &mut Violations) -> Option<Region> {
    (value != pb::Region::Unspecified as i32)
        .then(|| region_from_pb(value, field, v))
        .flatten()
}

pub(crate) fn archive_filter(value: i32, v: &mut Violations) -> ArchiveFilter {
    match pb::ArchiveFilter::try_from(value) {
        Ok(pb::ArchiveFilter::Unspecified | pb::ArchiveFilter::Active) => ArchiveFilter::Active,
        Ok(pb::ArchiveFilter::Archived) => ArchiveFilter::Archived,
        Ok(pb::ArchiveFilter::All) => ArchiveFilter::All,
        Err(_) => {
            v.push("archive_filter", "unknown value");
            ArchiveFilter::Active
        }
    }
}

fn contacts(list: Vec<pb::Contact>, prefix: &str, v: &mut Violations) -> Vec<Contact> {
    list.into_iter()
        .enumerate()
        .filter_map(|(i, c)| {
            let pb::Contact {
                kind,
                value,
                label,
                primary,
            } = c;
            let kind = match pb::ContactKind::try_from(kind) {
                Ok(pb::ContactKind::Phone) => ContactKind::Phone,
                Ok(pb::ContactKind::Email) => ContactKind::Email,
                Ok(pb::ContactKind::Address) => ContactKind::Address,
                Ok(pb::ContactKind::Unspecified) | Err(_) => {
                    v.push(
                        format!("{prefix}contacts[{i}].kind"),
                        "must be PHONE, EMAIL or ADDRESS",
                    );
                    return None;
                }
            };
            Some(Contact {
                kind,
                value: value.trim().to_owned(),
                label,
                primary,
            })
        })
        .collect()
}

fn contacts_to_pb(list: &[Contact]) -> Vec<pb::Contact> {
    list.iter()
        .map(|c| pb::Contact {
            kind: match c.kind {
                ContactKind::Phone => pb::ContactKind::Phone,
                ContactKind::Email => pb::ContactKind::Email,
                ContactKind::Address => pb::ContactKind::Address,
            } as i32,
            value: c.value.clone(),
            label: c.label.clone(),
            primary: c.primary,
        })
        .collect()
}

/// Masks every contact value of `customer` (for callers who may not see them).
pub(crate) fn mask_contacts(customer: &mut pb::Customer) {
    use csops_runtime::auth::mask;
    for contact in &mut customer.contacts {
        contact.value = match pb::ContactKind::try_from(contact.kind) {
            Ok(pb::ContactKind::Phone) => mask::phone(&contact.value),
            Ok(pb::ContactKind::Email) => mask::email(&contact.value),
            _ => mask::whole(&contact.value),
        };
    }
}

fn dates(list: Vec<pb::ImportantDate>, prefix: &str, v: &mut Violations) -> Vec<ImportantDate> {
    list.into_iter()
        .enumerate()
        .filter_map(|(i, d)| {
            let pb::ImportantDate {
                kind,
                relation,
                person_name,
                month,
                day,
                year,
                note,
            } = d;
            let kind = match pb::ImportantDateKind::try_from(kind) {
                Ok(pb::ImportantDateKind::Birthday) => Some(DateKind::Birthday),
                Ok(pb::ImportantDateKind::Anniversary) => Some(DateKind::Anniversary),
                Ok(pb::ImportantDateKind::Other) => Some(DateKind::Other),
                Ok(pb::ImportantDateKind::Unspecified) | Err(_) => {
                    v.push(
                        format!("{prefix}important_dates[{i}].kind"),
                        "must be BIRTHDAY, ANNIVERSARY or OTHER",
                    );
                    None
                }
            };
            let relation = match pb::Relation::try_from(relation) {
                Ok(pb::Relation::Self_) => Some(Relation::SelfPerson),
                Ok(pb::Relation::Spouse) => Some(Relation::Spouse),
                Ok(pb::Relation::Child) => Some(Relation::Child),
                Ok(pb::Relation::Parent) => Some(Relation::Parent),
                Ok(pb::Relation::Other) => Some(Relation::Other),
                Ok(pb::Relation::Unspecified) | Err(_) => {
                    v.push(
                        format!("{prefix}important_dates[{i}].relation"),
                        "must be SELF, SPOUSE, CHILD, PARENT or OTHER",
                    );
                    None
                }
            };
            let month = u32::try_from(month).unwrap_or(0);
            let day = u32::try_from(day).unwrap_or(0);
            Some(ImportantDate {
                kind: kind?,
                relation: relation?,
                person_name: person_name.trim().to_owned(),
                month,
                day,
                year,
                note,
            })
        })
        .collect()
}

fn dates_to_pb(list: &[ImportantDate]) -> Vec<pb::ImportantDate> {
    list.iter()
        .map(|d| pb::ImportantDate {
            kind: match d.kind {
                DateKind::Birthday => pb::ImportantDateKind::Birthday,
                DateKind::Anniversary => pb::ImportantDateKind::Anniversary,
                DateKind::Other => pb::ImportantDateKind::Other,
            } as i32,
            relation: match d.relation {
                Relation::SelfPerson => pb::Relation::Self_,
                Relation::Spouse => pb::Relation::Spouse,
                Relation::Child => pb::Relation::Child,
                Relation::Parent => pb::Relation::Parent,
                Relation::Other => pb::Relation::Other,
            } as i32,
            person_name: d.person_name.clone(),
            month: i32::try_from(d.month).unwrap_or_default(),
            day: i32::try_from(d.day).unwrap_or_default(),
            year: d.year,
            note: d.note.clone(),
        })
        .collect()
}

fn consents(list: Vec<pb::ChannelConsent>, prefix: &str, v: &mut Violations) -> Vec<Consent> {
    list.into_iter()
        .enumerate()
        .filter_map(|(i, c)| {
            // update_time is output only.
            let pb::ChannelConsent {
                channel,
                granted,
                update_time: _,
            } = c;
            let channel = match pb::ContactChannel::try_from(channel) {
                Ok(pb::ContactChannel::PhoneCall) => Channel::PhoneCall,
                Ok(pb::ContactChannel::Sms) => Channel::Sms,
                Ok(pb::ContactChannel::Email) => Channel::Email,
                Ok(pb::ContactChannel::Post) => Channel::Post,
                Ok(pb::ContactChannel::InPerson) => Channel::InPerson,
                Ok(pb::ContactChannel::MessagingApp) => Channel::MessagingApp,
                Ok(pb::ContactChannel::Unspecified) | Err(_) => {
                    v.push(
                        format!("{prefix}consents[{i}].channel"),
                        "must name a contact channel",
                    );
                    return None;
                }
            };
            Some(Consent {
                channel,
                granted,
                update_time: None,
            })
        })
        .collect()
}

fn consents_to_pb(list: &[Consent]) -> Vec<pb::ChannelConsent> {
    list.iter()
        .map(|c| pb::ChannelConsent {
            channel: match c.channel {
                Channel::PhoneCall => pb::ContactChannel::PhoneCall,
                Channel::Sms => pb::ContactChannel::Sms,
                Channel::Email => pb::ContactChannel::Email,
                Channel::Post => pb::ContactChannel::Post,
                Channel::InPerson => pb::ContactChannel::InPerson,
                Channel::MessagingApp => pb::ContactChannel::MessagingApp,
            } as i32,
            granted: c.granted,
            update_time: to_timestamp_opt(c.update_time),
        })
        .collect()
}

fn ltv_from_pb(inputs: pb::LifetimeValueInputs) -> LifetimeValueInputs {
    let pb::LifetimeValueInputs {
        currency_code,
        annual_revenue_minor,
        annual_service_cost_minor,
        acquisition_cost_minor,
        expected_years,
        discount_rate,
    } = inputs;
    LifetimeValueInputs {
        currency_code,
        annual_revenue_minor,
        annual_service_cost_minor,
        acquisition_cost_minor,
        expected_years,
        discount_rate,
    }
}

fn ltv_to_pb(inputs: &LifetimeValueInputs) -> pb::LifetimeValueInputs {
    pb::LifetimeValueInputs {
        currency_code: inputs.currency_code.clone(),
        annual_revenue_minor: inputs.annual_revenue_minor,
        annual_service_cost_minor: inputs.annual_service_cost_minor,
        acquisition_cost_minor: inputs.acquisition_cost_minor,
        expected_years: inputs.expected_years,
        discount_rate: inputs.discount_rate,
    }
}

/// Reads the input of CreateCustomer; output-only fields are ignored.
pub(crate) fn new_customer(customer: pb::Customer) -> Result<NewCustomer, Violations> {
    let pb::Customer {
        id: _,
        display_name,
        tier,
        key_account,
        region,
        owner_agent_id,
        contacts: contact_list,
        important_dates,
        needs,
        preferences,
        notes,
        consents: consent_list,
        lifetime_value_inputs,
        lifetime_value_minor: _,
        tier_history: _,
        state: _,
        create_time: _,
        update_time: _,
        delete_time: _,
        etag: _,
        churn_risk: _,
    } = customer;
    let prefix = "customer.";
    let mut v = Violations::default();
    let tier = tier_from_pb(tier, "customer.tier", &mut v);
    let region = region_from_pb(region, "customer.region", &mut v);
    let profile = Profile {
        contacts: contacts(contact_list, prefix, &mut v),
        important_dates: dates(important_dates, prefix, &mut v),
        needs,
        preferences,
        notes,
        consents: consents(consent_list, prefix, &mut v),
        lifetime_value_inputs: lifetime_value_inputs.map(ltv_from_pb),
    };
    match (tier, region, v.is_empty()) {
        (Some(tier), Some(region), true) => Ok(NewCustomer {
            display_name,
            tier,
            key_account,
            region,
            owner_agent_id: owner_agent_id.trim().to_owned(),
            profile,
        }),
        _ => Err(v),
    }
}

/// The fields UpdateCustomer may change, by mask path.
pub(crate) const UPDATABLE: &[&str] = &[
    "display_name",
    "key_account",
    "region",
    "owner_agent_id",
    "contacts",
    "important_dates",
    "needs",
    "preferences",
    "notes",
    "consents",
    "lifetime_value_inputs",
];

/// Builds a patch from the masked fields of `customer`.
pub(crate) fn patch(customer: pb::Customer, paths: &[String]) -> Result<CustomerPatch, Violations> {
    let mut v = Violations::default();
    if paths.is_empty() {
        v.push(
            "update_mask",
            format!("must name at least one field of: {}", UPDATABLE.join(", ")),
        );
        return Err(v);
    }
    let pb::Customer {
        id: _,
        display_name,
        tier: _,
        key_account,
        region,
        owner_agent_id,
        contacts: contact_list,
        important_dates,
        needs,
        preferences,
        notes,
        consents: consent_list,
        lifetime_value_inputs,
        lifetime_value_minor: _,
        tier_history: _,
        state: _,
        create_time: _,
        update_time: _,
        delete_time: _,
        etag: _,
        churn_risk: _,
    } = customer;
    let prefix = "customer.";
    let mut out = CustomerPatch::default();
    // Each field is moved out at most once; a path repeated in the mask is rejected.
    let mut display_name = Some(display_name);
    let mut owner_agent_id = Some(owner_agent_id);
    let mut contact_list = Some(contact_list);
    let mut important_dates = Some(important_dates);
    let mut needs = Some(needs);
    let mut preferences = Some(preferences);
    let mut notes = Some(notes);
    let mut consent_list = Some(consent_list);
    let mut lifetime_value_inputs = Some(lifetime_value_inputs);
    for (i, path) in paths.iter().enumerate() {
        if paths[..i].contains(path) {
            v.push("update_mask", format!("names {path} twice"));
            continue;
        }
        match path.as_str() {
            "display_name" => out.display_name = display_name.take(),
            "key_account" => out.key_account = Some(key_account),
            "region" => out.region = region_from_pb(region, "customer.region", &mut v),
            "owner_agent_id" => {
                out.owner_agent_id = owner_agent_id.take().map(|s| s.trim().to_owned())
            }
            "contacts" => out.contacts = contact_list.take().map(|l| contacts(l, prefix, &mut v)),
            "important_dates" => {
                out.important_dates = important_dates.take().map(|l| dates(l, prefix, &mut v))
            }
            "needs" => out.needs = needs.take(),
            "preferences" => out.preferences = preferences.take(),
            "notes" => out.notes = notes.take(),
            "consents" => out.consents = consent_list.take().map(|l| consents(l, prefix, &mut v)),
            "lifetime_value_inputs" => {
                out.lifetime_value_inputs =
                    lifetime_value_inputs.take().map(|o| o.map(ltv_from_pb));
            }
            "tier" => v.push(
                "update_mask",
                "tier is changed with ChangeCustomerTier, which records why",
            ),
            other => v.push(
                "update_mask",
                format!(
                    "{} cannot be updated; allowed: {}",
                    quote(other),
                    UPDATABLE.join(", ")
                ),
            ),
        }
    }
    if v.is_empty() {
        Ok(out)
    } else {
        Err(v)
    }
}

/// Converts a stored customer to its protobuf form.
pub(crate) fn customer_to_pb(c: &Customer) -> pb::Customer {
    pb::Customer {
        id: c.id.clone(),
        display_name: c.display_name.clone(),
        tier: tier_to_pb(c.tier) as i32,
        key_account: c.key_account,
        region: region_to_pb(c.region) as i32,
        owner_agent_id: c.owner_agent_id.clone(),
        contacts: contacts_to_pb(&c.profile.contacts),
        important_dates: dates_to_pb(&c.profile.important_dates),
        needs: c.profile.needs.clone(),
        preferences: c.profile.preferences.clone(),
        notes: c.profile.notes.clone(),
        consents: consents_to_pb(&c.profile.consents),
        lifetime_value_inputs: c.profile.lifetime_value_inputs.as_ref().map(ltv_to_pb),
        lifetime_value_minor: c.lifetime_value_minor(),
        tier_history: c
            .tier_history
            .iter()
            .map(|t: &TierChange| pb::TierChange {
                from_tier: t.from.map_or(pb::CustomerTier::Unspecified, tier_to_pb) as i32,
                to_tier: tier_to_pb(t.to) as i32,
                changed_by: t.changed_by.clone(),
                reason: t.reason.clone(),
                change_time: Some(to_timestamp(t.time)),
            })
            .collect(),
        state: match c.state {
            State::Active => pb::CustomerState::Active,
            State::Archived => pb::CustomerState::Archived,
        } as i32,
        create_time: Some(to_timestamp(c.create_time)),
        update_time: Some(to_timestamp(c.update_time)),
        delete_time: to_timestamp_opt(c.delete_time),
        etag: c.etag(),
        churn_risk: Some(pb::ChurnRisk {
            level: c
                .churn_risk()
                .map_or(pb::ChurnRiskLevel::Unspecified, level_to_pb) as i32,
            recent_signals: c.churn_signals.iter().map(signal_to_pb).collect(),
        }),
    }
}

fn level_to_pb(level: RiskLevel) -> pb::ChurnRiskLevel {
    match level {
        RiskLevel::Low => pb::ChurnRiskLevel::Low,
        RiskLevel::Medium => pb::ChurnRiskLevel::Medium,
        RiskLevel::High => pb::ChurnRiskLevel::High,
    }
}

fn level_from_pb(value: i32) -> Option<RiskLevel> {
    match pb::ChurnRiskLevel::try_from(value) {
        Ok(pb::ChurnRiskLevel::Low) => Some(RiskLevel::Low),
        Ok(pb::ChurnRiskLevel::Medium) => Some(RiskLevel::Medium),
        Ok(pb::ChurnRiskLevel::High) => Some(RiskLevel::High),
        Ok(pb::ChurnRiskLevel::Unspecified) | Err(_) => None,
    }
}

/// Reads the churn-risk filter: unspecified means any.
pub(crate) fn min_churn_risk(value: i32, v: &mut Violations) -> Option<RiskLevel> {
    let level = level_from_pb(value);
    if level.is_none() && value != pb::ChurnRiskLevel::Unspecified as i32 {
        v.push("min_churn_risk", "unknown value");
    }
    level
}

fn signal_to_pb(s: &ChurnSignal) -> pb::ChurnSignal {
    pb::ChurnSignal {
        signal_id: s.signal_id.clone(),
        kind: match s.kind {
            SignalKind::Silence => pb::ChurnSignalKind::Silence,
            SignalKind::FallingScores => pb::ChurnSignalKind::FallingScores,
            SignalKind::UnhappyCallback => pb::ChurnSignalKind::UnhappyCallback,
            SignalKind::RepeatComplaints => pb::ChurnSignalKind::RepeatComplaints,
            SignalKind::NegativeGap => pb::ChurnSignalKind::NegativeGap,
            SignalKind::Other => pb::ChurnSignalKind::Other,
        } as i32,
        level: level_to_pb(s.level) as i32,
        evidence: s.evidence.clone(),
        source: s.source.clone(),
        observe_time: Some(to_timestamp(s.observe_time)),
    }
}

/// Reads a churn signal; `now` stands in for a missing observe_time.
pub(crate) fn signal(
    signal: pb::ChurnSignal,
    now: DateTime<Utc>,
) -> Result<ChurnSignal, Violations> {
    let pb::ChurnSignal {
        signal_id,
        kind,
        level,
        evidence,
        source,
        observe_time,
    } = signal;
    let mut v = Violations::default();
    let kind = match pb::ChurnSignalKind::try_from(kind) {
        Ok(pb::ChurnSignalKind::Silence) => Some(SignalKind::Silence),
        Ok(pb::ChurnSignalKind::FallingScores) => Some(SignalKind::FallingScores),
        Ok(pb::ChurnSignalKind::UnhappyCallback) => Some(SignalKind::UnhappyCallback),
        Ok(pb::ChurnSignalKind::RepeatComplaints) => Some(SignalKind::RepeatComplaints),
        Ok(pb::ChurnSignalKind::NegativeGap) => Some(SignalKind::NegativeGap),
        Ok(pb::ChurnSignalKind::Other) => Some(SignalKind::Other),
        Ok(pb::ChurnSignalKind::Unspecified) | Err(_) => {
            v.push("signal.kind", "must name what was observed");
            None
        }
    };
    let level = level_from_pb(level);
    if level.is_none() {
        v.push("signal.level", "must be LOW, MEDIUM or HIGH");
    }
    let observe_time = match observe_time {
        None => now,
        Some(ts) if ts.seconds > 0 => {
            from_timestamp("signal.observe_time", Some(ts), &mut v).unwrap_or(now)
        }
        Some(_) => {
            v.push("signal.observe_time", "must be a time after 1970");
            now
        }
    };
    if observe_time > now + TimeDelta::minutes(5) {
        v.push("signal.observe_time", "must not be in the future");
    } else if observe_time < now - MAX_SIGNAL_AGE {
        v.push(
            "signal.observe_time",
            format!("must be within the last {} days", MAX_SIGNAL_AGE.num_days()),
        );
    }
    match (kind, level, v.is_empty()) {
        (Some(kind), Some(level), true) => Ok(ChurnSignal {
            signal_id: signal_id.trim().to_owned(),
            kind,
            level,
            evidence: evidence.trim().to_owned(),
            source: source.trim().to_owned(),
            observe_time,
        }),
        _ => Err(v),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn a_mask_naming_tier_or_an_unknown_field_is_rejected_with_the_mask_field() {
        let err = patch(pb::Customer::default(), &["tier".into(), "bogus".into()]).unwrap_err();
        assert_eq!(err.0.len(), 2);
        assert!(err.0.iter().all(|v| v.field == "update_mask"));
    }

    #[test]
    fn unspecified_tier_and_region_are_reported_on_create() {
        let err = new_customer(pb::Customer {
            display_name: "x".into(),
            ..Default::default()
        })
        .unwrap_err();
        let fields: Vec<&str> = err.0.iter().map(|v| v.field.as_str()).collect();
        assert_eq!(fields, ["customer.tier", "customer.region"]);
    }
}
