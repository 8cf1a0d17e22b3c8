//! Conversions between the proto messages and the domain, every field named so a new field
//! does not build until it is handled.

use chrono::TimeDelta;
use csops_proto::visits::v1 as pb;
use csops_runtime::auth;
use csops_runtime::time::{to_timestamp, to_timestamp_opt};
use csops_runtime::{etag, Violations};
use csops_sla::{Cadence, VisitRules};
use prost_types::Duration;

use crate::domain::care::{CareDate, CareEvent, CareState, Occasion, Relation};
use crate::domain::plan::{Plan, PlanState};
use crate::domain::visit::{CareKind, Mood, Outcome, Purpose, SourceKind, Visit, VisitState};
use crate::domain::{Actor, Channel, Gift, Method, Region, Role, Tier};

/// Reads the actor of a change: the verified caller when authentication is on (the
/// request's actor is then ignored: no one acts as someone else); otherwise the request's
/// required actor.
pub(super) fn actor(actor: Option<pb::Actor>, v: &mut Violations) -> Actor {
    if let Some(caller) = csops_runtime::auth::caller() {
        return Actor {
            role: match caller.acting_role() {
                auth::Role::Manager => Role::Manager,
                auth::Role::Supervisor => Role::Supervisor,
                auth::Role::Service => Role::System,
                auth::Role::FieldEngineer => Role::Engineer,
                auth::Role::Agent | auth::Role::Ops => Role::Agent,
            },
            id: caller.subject,
        };
    }
    let Some(pb::Actor { id, role }) = actor else {
        v.push("actor", "is required");
        return Actor::system();
    };
    let id = id.trim().to_owned();
    if id.is_empty() {
        v.push("actor.id", "is required");
    }
    let role = v
        .required_enum(role_of(role), role, "actor.role")
        .unwrap_or(Role::System);
    Actor { id, role }
}

fn role_of(n: i32) -> Option<Role> {
    Some(match pb::ActorRole::try_from(n).ok()? {
        pb::ActorRole::Agent => Role::Agent,
        pb::ActorRole::Engineer => Role::Engineer,
        pb::ActorRole::Supervisor => Role::Supervisor,
        pb::ActorRole::Manager => Role::Manager,
        pb::ActorRole::System => Role::System,
        pb::ActorRole::Unspecified => return None,
    })
}

/// The proto actor.
pub(super) fn actor_pb(a: &Actor) -> pb::Actor {
    let role = match a.role {
        Role::Agent => pb::ActorRole::Agent,
        Role::Engineer => pb::ActorRole::Engineer,
        Role::Supervisor => pb::ActorRole::Supervisor,
        Role::Manager => pb::ActorRole::Manager,
        Role::System => pb::ActorRole::System,
    };
    pb::Actor {
        id: a.id.clone(),
        role: role as i32,
    }
}

pub(super) fn tier_of(n: i32) -> Option<Tier> {
    Some(match pb::CustomerTier::try_from(n).ok()? {
        pb::CustomerTier::A => Tier::A,
        pb::CustomerTier::B => Tier::B,
        pb::CustomerTier::C => Tier::C,
        pb::CustomerTier::Unspecified => return None,
    })
}

fn tier_pb(t: Tier) -> pb::CustomerTier {
    match t {
        Tier::A => pb::CustomerTier::A,
        Tier::B => pb::CustomerTier::B,
        Tier::C => pb::CustomerTier::C,
    }
}

pub(super) fn region_of(n: i32) -> Option<Region> {
    Some(match pb::Region::try_from(n).ok()? {
        pb::Region::Urban => Region::Urban,
        pb::Region::Rural => Region::Rural,
        pb::Region::Unspecified => return None,
    })
}

pub(super) fn region_pb(r: Region) -> pb::Region {
    match r {
        Region::Urban => pb::Region::Urban,
        Region::Rural => pb::Region::Rural,
    }
}

pub(super) fn channel_of(n: i32) -> Option<Channel> {
    Some(match pb::ContactChannel::try_from(n).ok()? {
        pb::ContactChannel::PhoneCall => Channel::PhoneCall,
        pb::ContactChannel::Sms => Channel::Sms,
        pb::ContactChannel::Email => Channel::Email,
        pb::ContactChannel::Post => Channel::Post,
        pb::ContactChannel::InPerson => Channel::InPerson,
        pb::ContactChannel::MessagingApp => Channel::MessagingApp,
        pb::ContactChannel::Unspecified => return None,
    })
}

fn channel_pb(c: Channel) -> pb::ContactChannel {
    match c {
        Channel::PhoneCall => pb::ContactChannel::PhoneCall,
        Channel::Sms => pb::ContactChannel::Sms,
        Channel::Email => pb::ContactChannel::Email,
        Channel::Post => pb::ContactChannel::Post,
        Channel::InPerson => pb::ContactChannel::InPerson,
        Channel::MessagingApp => pb::ContactChannel::MessagingApp,
    }
}

pub(super) fn method_of(n: i32) -> Option<Method> {
    Some(match pb::VisitMethod::try_from(n).ok()? {
        pb::VisitMethod::InPerson => Method::InPerson,
        pb::VisitMethod::LetterCard => Method::LetterCard,
        pb::VisitMethod::Phone => Method::Phone,
        pb::VisitMethod::Fax => Method::Fax,
        pb::VisitMethod::Email => Method::Email,
        pb::VisitMethod::Sms => Method::Sms,
        pb::VisitMethod::Gift => Method::Gift,
        pb::VisitMethod::Event => Method::Event,
        pb::VisitMethod::MessagingApp => Method::MessagingApp,
        pb::VisitMethod::Unspecified => return None,
    })
}

pub(super) fn method_pb(m: Option<Method>) -> pb::VisitMethod {
    match m {
        None => pb::VisitMethod::Unspecified,
        Some(Method::InPerson) => pb::VisitMethod::InPerson,
        Some(Method::LetterCard) => pb::VisitMethod::LetterCard,
        Some(Method::Phone) => pb::VisitMethod::Phone,
        Some(Method::Fax) => pb::VisitMethod::Fax,
        Some(Method::Email) => pb::VisitMethod::Email,
        Some(Method::Sms) => pb::VisitMethod::Sms,
        Some(Method::Gift) => pb::VisitMethod::Gift,
        Some(Method::Event) => pb::VisitMethod::Event,
        Some(Method::MessagingApp) => pb::VisitMethod::MessagingApp,
    }
}

pub(super) fn gift_of(n: i32) -> Option<Gift> {
    Some(match pb::GiftKind::try_from(n).ok()? {
        pb::GiftKind::Flowers => Gift::Flowers,
        pb::GiftKind::Cake => Gift::Cake,
        pb::GiftKind::Books => Gift::Books,
        pb::GiftKind::Coupons => Gift::Coupons,
        pb::GiftKind::Other => Gift::Other,
        pb::GiftKind::Unspecified => return None,
    })
}

pub(super) fn gift_pb(g: Option<Gift>) -> pb::GiftKind {
    match g {
        None => pb::GiftKind::Unspecified,
        Some(Gift::Flowers) => pb::GiftKind::Flowers,
        Some(Gift::Cake) => pb::GiftKind::Cake,
        Some(Gift::Books) => pb::GiftKind::Books,
        Some(Gift::Coupons) => pb::GiftKind::Coupons,
        Some(Gift::Other) => pb::GiftKind::Other,
    }
}

pub(super) fn care_kind_of(n: i32) -> Option<CareKind> {
    Some(match pb::CareKind::try_from(n).ok()? {
        pb::CareKind::Scheduled => CareKind::Scheduled,
        pb::CareKind::Unscheduled => CareKind::Unscheduled,
        pb::CareKind::Unspecified => return None,
    })
}

pub(super) fn purpose_of(n: i32) -> Option<Purpose> {
    Some(match pb::VisitPurpose::try_from(n).ok()? {
        pb::VisitPurpose::Relationship => Purpose::Relationship,
        pb::VisitPurpose::CareGreeting => Purpose::CareGreeting,
        pb::VisitPurpose::NeedsSurvey => Purpose::NeedsSurvey,
        pb::VisitPurpose::SatisfactionCheck => Purpose::SatisfactionCheck,
        pb::VisitPurpose::Information => Purpose::Information,
        pb::VisitPurpose::Event => Purpose::Event,
        pb::VisitPurpose::ComplaintFollowUp => Purpose::ComplaintFollowUp,
        pb::VisitPurpose::Unspecified => return None,
    })
}

fn purpose_pb(p: Purpose) -> pb::VisitPurpose {
    match p {
        Purpose::Relationship => pb::VisitPurpose::Relationship,
        Purpose::CareGreeting => pb::VisitPurpose::CareGreeting,
        Purpose::NeedsSurvey => pb::VisitPurpose::NeedsSurvey,
        Purpose::SatisfactionCheck => pb::VisitPurpose::SatisfactionCheck,
        Purpose::Information => pb::VisitPurpose::Information,
        Purpose::Event => pb::VisitPurpose::Event,
        Purpose::ComplaintFollowUp => pb::VisitPurpose::ComplaintFollowUp,
    }
}

pub(super) fn visit_state_of(n: i32) -> Option<VisitState> {
    Some(match pb::VisitState::try_from(n).ok()? {
        pb::VisitState::Planned => VisitState::Planned,
        pb::VisitState::Scheduled => VisitState::Scheduled,
        pb::VisitState::InProgress => VisitState::InProgress,
        pb::VisitState::Completed => VisitState::Completed,
        pb::VisitState::Missed => VisitState::Missed,
        pb::VisitState::Cancelled => VisitState::Cancelled,
        pb::VisitState::Unspecified => return None,
    })
}

fn visit_state_pb(s: VisitState) -> pb::VisitState {
    match s {
        VisitState::Planned => pb::VisitState::Planned,
        VisitState::Scheduled => pb::VisitState::Scheduled,
        VisitState::InProgress => pb::VisitState::InProgress,
        VisitState::Completed => pb::VisitState::Completed,
        VisitState::Missed => pb::VisitState::Missed,
        VisitState::Cancelled => pb::VisitState::Cancelled,
    }
}

pub(super) fn plan_state_of(n: i32) -> Option<PlanState> {
    Some(match pb::VisitPlanState::try_from(n).ok()? {
        pb::VisitPlanState::Active => PlanState::Active,
        pb::VisitPlanState::Paused => PlanState::Paused,
        pb::VisitPlanState::Closed => PlanState::Closed,
        pb::VisitPlanState::Unspecified => return None,
    })
}

fn plan_state_pb(s: PlanState) -> pb::VisitPlanState {
    match s {
        PlanState::Active => pb::VisitPlanState::Active,
        PlanState::Paused => pb::VisitPlanState::Paused,
        PlanState::Closed => pb::VisitPlanState::Closed,
    }
}

pub(super) fn mood_of(n: i32) -> Option<Mood> {
    Some(match pb::CustomerMood::try_from(n).ok()? {
        pb::CustomerMood::Positive => Mood::Positive,
        pb::CustomerMood::Neutral => Mood::Neutral,
        pb::CustomerMood::Negative => Mood::Negative,
        pb::CustomerMood::Unspecified => return None,
    })
}

fn mood_pb(m: Option<Mood>) -> pb::CustomerMood {
    match m {
        None => pb::CustomerMood::Unspecified,
        Some(Mood::Positive) => pb::CustomerMood::Positive,
        Some(Mood::Neutral) => pb::CustomerMood::Neutral,
        Some(Mood::Negative) => pb::CustomerMood::Negative,
    }
}

pub(super) fn occasion_of(n: i32) -> Option<Occasion> {
    Some(match pb::OccasionKind::try_from(n).ok()? {
        pb::OccasionKind::Holiday => Occasion::Holiday,
        pb::OccasionKind::Birthday => Occasion::Birthday,
        pb::OccasionKind::FamilyBirthday => Occasion::FamilyBirthday,
        pb::OccasionKind::Anniversary => Occasion::Anniversary,
        pb::OccasionKind::Other => Occasion::Other,
        pb::OccasionKind::Unspecified => return None,
    })
}

fn occasion_pb(o: Occasion) -> pb::OccasionKind {
    match o {
        Occasion::Holiday => pb::OccasionKind::Holiday,
        Occasion::Birthday => pb::OccasionKind::Birthday,
        Occasion::FamilyBirthday => pb::OccasionKind::FamilyBirthday,
        Occasion::Anniversary => pb::OccasionKind::Anniversary,
        Occasion::Other => pb::OccasionKind::Other,
    }
}

pub(super) fn relation_of(n: i32) -> Option<Relation> {
    Some(match pb::Relation::try_from(n).ok()? {
        pb::Relation::Self_ => Relation::SelfRelation,
        pb::Relation::Spouse => Relation::Spouse,
        pb::Relation::Child => Relation::Child,
        pb::Relation::Parent => Relation::Parent,
        pb::Relation::Other => Relation::Other,
        pb::Relation::Unspecified => return None,
    })
}

fn relation_pb(r: Option<Relation>) -> pb::Relation {
    match r {
        None => pb::Relation::Unspecified,
        Some(Relation::SelfRelation) => pb::Relation::Self_,
        Some(Relation::Spouse) => pb::Relation::Spouse,
        Some(Relation::Child) => pb::Relation::Child,
        Some(Relation::Parent) => pb::Relation::Parent,
        Some(Relation::Other) => pb::Relation::Other,
    }
}

pub(super) fn care_state_of(n: i32) -> Option<CareState> {
    Some(match pb::CareEventState::try_from(n).ok()? {
        pb::CareEventState::Upcoming => CareState::Upcoming,
        pb::CareEventState::Done => CareState::Done,
        pb::CareEventState::Skipped => CareState::Skipped,
        pb::CareEventState::Missed => CareState::Missed,
        pb::CareEventState::Unspecified => return None,
    })
}

fn care_state_pb(s: CareState) -> pb::CareEventState {
    match s {
        CareState::Upcoming => pb::CareEventState::Upcoming,
        CareState::Done => pb::CareEventState::Done,
        CareState::Skipped => pb::CareEventState::Skipped,
        CareState::Missed => pb::CareEventState::Missed,
    }
}

/// A duration in whole days.
fn days(n: i64) -> Duration {
    Duration {
        seconds: n * 86_400,
        nanos: 0,
    }
}

/// A cadence as a duration: months count 30 days (the dates themselves follow the calendar).
pub(super) fn cadence_pb(c: Cadence) -> Duration {
    days(c.approx_days())
}

/// Reads a cadence override given as a whole number of days.
pub(super) fn cadence_of(field: &str, d: Option<&Duration>, v: &mut Violations) -> Option<Cadence> {
    let d = d?;
    if d.nanos != 0 || d.seconds % 86_400 != 0 {
        v.push(field, "must be a whole number of days");
        return None;
    }
    match crate::domain::plan::days_cadence(field, d.seconds / 86_400) {
        Ok(c) => Some(c),
        Err(e) => {
            if let csops_runtime::RuleError::Invalid(more) = e {
                v.extend(more);
            }
            None
        }
    }
}

/// Reads a care date from the contract.
pub(super) fn care_date_of(d: &pb::CareDate, field: &str, v: &mut Violations) -> Option<CareDate> {
    let pb::CareDate {
        occasion,
        relation,
        person_name,
        month,
        day,
        note,
    } = d;
    let occasion = v.required_enum(
        occasion_of(*occasion),
        *occasion,
        &format!("{field}.occasion"),
    );
    let relation = v.optional_enum(
        relation_of(*relation),
        *relation,
        &format!("{field}.relation"),
    );
    let (month, day) = (
        u32::try_from(*month).unwrap_or(0),
        u32::try_from(*day).unwrap_or(0),
    );
    if csops_sla::visits::annual_occurrence(month, day, 2028).is_none() {
        v.push(
            format!("{field}.day"),
            "must be a valid day of the month (29 February allowed)",
        );
    }
    Some(CareDate {
        occasion: occasion?,
        relation,
        person_name: person_name.trim().to_owned(),
        month,
        day,
        note: note.trim().to_owned(),
    })
}

fn care_date_pb(d: &CareDate) -> pb::CareDate {
    let CareDate {
        occasion,
        relation,
        person_name,
        month,
        day,
        note,
    } = d;
    pb::CareDate {
        occasion: occasion_pb(*occasion) as i32,
        relation: relation_pb(*relation) as i32,
        person_name: person_name.clone(),
        month: i32::try_from(*month).unwrap_or(0),
        day: i32::try_from(*day).unwrap_or(0),
        note: note.clone(),
    }
}

/// The proto plan.
pub(super) fn plan_pb(
    p: &Plan,
    rules: &VisitRules,
    now: chrono::DateTime<chrono::Utc>,
) -> pb::VisitPlan {
    let Plan {
        id,
        customer_id,
        owner_agent_id,
        facts,
        cadence_override,
        in_person_override,
        care_preferences,
        state,
        pause: _,
        anchor,
        last_visit_time,
        last_in_person_time,
        next,
        overdue,
        planned_until: _,
        created_by: _,
        refresh_time,
        create_time,
        update_time,
        version,
    } = p;
    let next_overdue = next
        .as_ref()
        .is_some_and(|n| n.due_time + rules.grace < now);
    pb::VisitPlan {
        id: id.clone(),
        customer_id: customer_id.clone(),
        owner_agent_id: owner_agent_id.clone(),
        tier: tier_pb(facts.tier) as i32,
        key_account: facts.key_account,
        region: region_pb(facts.region) as i32,
        defaulted: facts.defaulted,
        tier_cadence: Some(cadence_pb(p.tier_cadence(rules))),
        cadence_override: cadence_override.map(cadence_pb),
        effective_cadence: Some(cadence_pb(p.cadence(rules))),
        in_person_interval: Some(cadence_pb(p.in_person_interval(rules))),
        in_person_interval_override: in_person_override.map(cadence_pb),
        state: plan_state_pb(*state) as i32,
        last_visit_time: to_timestamp_opt(*last_visit_time),
        last_in_person_visit_time: to_timestamp_opt(*last_in_person_time),
        next_due_time: next.as_ref().map(|n| to_timestamp(n.due_time)),
        next_visit_in_person: next.as_ref().is_some_and(|n| n.in_person),
        next_visit_id: next
            .as_ref()
            .map(|n| n.visit_id.clone())
            .unwrap_or_default(),
        overdue: *overdue || next_overdue,
        care_dates: facts.care_dates.iter().map(care_date_pb).collect(),
        care_preferences: care_preferences.clone(),
        create_time: Some(to_timestamp(*create_time)),
        update_time: Some(to_timestamp(*update_time)),
        refresh_time: Some(to_timestamp(*refresh_time)),
        etag: etag::of(*version),
        consented_channels: facts
            .consents
            .iter()
            .map(|c| channel_pb(*c) as i32)
            .collect(),
        customer_update_time: to_timestamp_opt(facts.update_time),
        anchor_date: anchor.to_string(),
    }
}

fn outcome_pb(o: &Outcome) -> pb::VisitOutcome {
    let Outcome {
        visit_time,
        performed_by,
        method,
        summary,
        needs_found,
        mood,
        follow_up_needed,
        follow_up,
    } = o;
    pb::VisitOutcome {
        visit_time: Some(to_timestamp(*visit_time)),
        performed_by: Some(actor_pb(performed_by)),
        method: method_pb(Some(*method)) as i32,
        summary: summary.clone(),
        needs_found: needs_found.clone(),
        mood: mood_pb(*mood) as i32,
        follow_up_needed: *follow_up_needed,
        follow_up: follow_up.clone(),
    }
}

/// The proto visit.
pub(super) fn visit_pb(x: &Visit) -> pb::Visit {
    let Visit {
        id,
        customer_id,
        plan_id,
        care_kind,
        purpose,
        method,
        gift,
        description,
        source,
        assigned_agent_id,
        state,
        due_time,
        scheduled_start_time,
        scheduled_end_time,
        outcome,
        cancel_reason,
        miss_reason,
        notes,
        created_by,
        create_time,
        update_time,
        version,
    } = x;
    pb::Visit {
        id: id.clone(),
        customer_id: customer_id.clone(),
        plan_id: plan_id.clone(),
        care_kind: match care_kind {
            CareKind::Scheduled => pb::CareKind::Scheduled,
            CareKind::Unscheduled => pb::CareKind::Unscheduled,
        } as i32,
        purpose: purpose_pb(*purpose) as i32,
        method: method_pb(Some(*method)) as i32,
        gift: gift_pb(*gift) as i32,
        description: description.clone(),
        source: Some(pb::VisitSource {
            kind: match source.kind {
                SourceKind::Plan => pb::VisitSourceKind::Plan,
                SourceKind::CareEvent => pb::VisitSourceKind::CareEvent,
                SourceKind::Complaint => pb::VisitSourceKind::Complaint,
                SourceKind::Manual => pb::VisitSourceKind::Manual,
            } as i32,
            source_id: source.source_id.clone(),
            source_event_id: source.source_event_id.clone(),
        }),
        assigned_agent_id: assigned_agent_id.clone(),
        state: visit_state_pb(*state) as i32,
        due_time: Some(to_timestamp(*due_time)),
        scheduled_start_time: to_timestamp_opt(*scheduled_start_time),
        scheduled_end_time: to_timestamp_opt(*scheduled_end_time),
        outcome: outcome.as_ref().map(outcome_pb),
        cancel_reason: cancel_reason.clone(),
        notes: notes.clone(),
        created_by: Some(actor_pb(created_by)),
        create_time: Some(to_timestamp(*create_time)),
        update_time: Some(to_timestamp(*update_time)),
        etag: etag::of(*version),
        miss_reason: miss_reason.clone(),
    }
}

/// The proto care event.
pub(super) fn care_pb(c: &CareEvent) -> pb::CareEvent {
    let CareEvent {
        id,
        customer_id,
        plan_id,
        owner_agent_id: _,
        occasion,
        relation,
        title,
        occasion_date,
        prepare_time,
        state,
        visit_id,
        skip_reason,
        suggested_method,
        suggested_gift,
        key: _,
        version: _,
    } = c;
    pb::CareEvent {
        id: id.clone(),
        customer_id: customer_id.clone(),
        plan_id: plan_id.clone(),
        occasion: occasion_pb(*occasion) as i32,
        relation: relation_pb(*relation) as i32,
        title: title.clone(),
        occasion_date: occasion_date.to_string(),
        prepare_time: Some(to_timestamp(*prepare_time)),
        state: care_state_pb(*state) as i32,
        visit_id: visit_id.clone(),
        skip_reason: skip_reason.clone(),
        suggested_method: method_pb(*suggested_method) as i32,
        suggested_gift: gift_pb(*suggested_gift) as i32,
    }
}

/// A bounded whole-day span, for agendas.
pub(super) const MAX_AGENDA: TimeDelta = TimeDelta::days(31);
