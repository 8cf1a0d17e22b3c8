//! What the visits service hears of a customer file: the part it plans visits and care from
//! (tier, key account, region, owner, important dates, granted consents, archived), and the
//! rule that a change is published only when that part changes, or the file is created,
//! archived or restored.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{Channel, Customer, DateKind, Region, Relation, State, Tier};

/// The receiving service of customer changes (the outbox destination).
pub const VISITS: &str = "visits";

/// The outbox kind of a customer change.
pub const CUSTOMER_CHANGED: &str = "customer.changed";

/// What happened to the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChangeKind {
    /// The file was opened.
    Created,
    /// Tier, key account, region, owner, important dates or consents changed.
    Updated,
    /// The file was archived.
    Archived,
    /// The file was restored.
    Restored,
}

/// An important date as visits plans care from it (the year is not needed).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CareDate {
    /// What the date is.
    pub kind: DateKind,
    /// Whose date it is.
    pub relation: Relation,
    /// Name of the person when not the customer.
    pub person_name: String,
    /// 1-12.
    pub month: u32,
    /// 1-31.
    pub day: u32,
    /// Note from the file.
    pub note: String,
}

/// The part of a customer file that visits plans from, as it is after a change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VisitsSnapshot {
    /// The customer.
    pub customer_id: String,
    /// Tier.
    pub tier: Tier,
    /// Key account (VIP) flag.
    pub key_account: bool,
    /// Region.
    pub region: Region,
    /// Account manager, may be empty.
    pub owner_agent_id: String,
    /// Important dates, in the file's order.
    pub important_dates: Vec<CareDate>,
    /// Channels the customer agreed to, each once, in `Channel` order.
    pub consented_channels: Vec<Channel>,
    /// True when the file is archived.
    pub archived: bool,
    /// When the file last changed: visits ignores a snapshot older than the one it planned from.
    #[serde(with = "csops_runtime::time::serde_micros")]
    pub update_time: DateTime<Utc>,
}

/// A change of a file, for the visits service.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CustomerChanged {
    /// What happened.
    pub change: ChangeKind,
    /// The file after it.
    pub customer: VisitsSnapshot,
}

impl VisitsSnapshot {
    /// What visits needs of `customer`.
    pub fn of(customer: &Customer) -> Self {
        let mut consented_channels: Vec<Channel> = customer
            .profile
            .consents
            .iter()
            .filter(|c| c.granted)
            .map(|c| c.channel)
            .collect();
        consented_channels.sort_unstable();
        consented_channels.dedup();
        Self {
            customer_id: customer.id.clone(),
            tier: customer.tier,
            key_account: customer.key_account,
            region: customer.region,
            owner_agent_id: customer.owner_agent_id.clone(),
            important_dates: customer
                .profile
                .important_dates
                .iter()
                .map(|d| CareDate {
                    kind: d.kind,
                    relation: d.relation,
                    person_name: d.person_name.clone(),
                    month: d.month,
                    day: d.day,
                    note: d.note.clone(),
                })
                .collect(),
            consented_channels,
            archived: customer.state == State::Archived,
            update_time: customer.update_time,
        }
    }
}

/// The change visits must hear of when a file goes from `before` (its snapshot; `None` when
/// it is new) to `after`; `None` when nothing visits plans from changed (e.g. only notes,
/// contacts, the name or churn signals).
pub fn visits_change(before: Option<VisitsSnapshot>, after: &Customer) -> Option<CustomerChanged> {
    let customer = VisitsSnapshot::of(after);
    let change = match before {
        None => ChangeKind::Created,
        Some(b) if !b.archived && customer.archived => ChangeKind::Archived,
        Some(b) if b.archived && !customer.archived => ChangeKind::Restored,
        Some(b) => {
            let unchanged = VisitsSnapshot {
                update_time: customer.update_time,
                ..b
            };
            if unchanged == customer {
                return None;
            }
            ChangeKind::Updated
        }
    };
    Some(CustomerChanged { change, customer })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::domain::{
        ChurnPolicy, ChurnSignal, Consent, CustomerPatch, ImportantDate, NewCustomer, Profile,
        RiskLevel, SignalKind,
    };

    fn t(micros: i64) -> DateTime<Utc> {
        csops_runtime::time::from_micros(micros)
    }

    fn date(kind: DateKind, relation: Relation, month: u32, day: u32) -> ImportantDate {
        ImportantDate {
            kind,
            relation,
            person_name: String::new(),
            month,
            day,
            year: 0,
            note: String::new(),
        }
    }

    fn consent(channel: Channel, granted: bool) -> Consent {
        Consent {
            channel,
            granted,
            update_time: None,
        }
    }

    fn customer() -> Customer {
        let input = NewCustomer {
            display_name: "Li Lei".into(),
            tier: Tier::B,
            key_account: true,
            region: Region::Rural,
            owner_agent_id: "agent-7".into(),
            profile: Profile {
                important_dates: vec![date(DateKind::Birthday, Relation::SelfPerson, 3, 8)],
                consents: vec![
                    consent(Channel::Sms, true),
                    consent(Channel::Email, false),
                    consent(Channel::PhoneCall, true),
                ],
                ..Profile::default()
            },
        };
        Customer::create("cus_1".into(), input, "agent-7", t(100)).unwrap()
    }

    /// The change `patch` makes to a fresh file, at 200.
    fn after_patch(patch: CustomerPatch) -> Option<CustomerChanged> {
        let mut c = customer();
        let before = VisitsSnapshot::of(&c);
        c.apply(patch, t(200)).unwrap();
        visits_change(Some(before), &c)
    }

    #[test]
    fn a_new_file_is_created_with_what_visits_plans_from() {
        let c = customer();
        let event = visits_change(None, &c).unwrap();
        assert_eq!(event.change, ChangeKind::Created);
        assert_eq!(
            event.customer,
            VisitsSnapshot {
                customer_id: "cus_1".into(),
                tier: Tier::B,
                key_account: true,
                region: Region::Rural,
                owner_agent_id: "agent-7".into(),
                important_dates: vec![CareDate {
                    kind: DateKind::Birthday,
                    relation: Relation::SelfPerson,
                    person_name: String::new(),
                    month: 3,
                    day: 8,
                    note: String::new(),
                }],
                // Granted only, in channel order.
                consented_channels: vec![Channel::PhoneCall, Channel::Sms],
                archived: false,
                update_time: t(100),
            }
        );
    }

    #[test]
    fn notes_name_contacts_needs_or_lifetime_value_alone_publish_nothing() {
        for patch in [
            CustomerPatch {
                notes: Some("prefers mornings".into()),
                ..CustomerPatch::default()
            },
            CustomerPatch {
                display_name: Some("Li Lei (Jr)".into()),
                needs: Some(vec!["fibre".into()]),
                preferences: Some(vec!["tea".into()]),
                contacts: Some(Vec::new()),
                ..CustomerPatch::default()
            },
            // The same values again.
            CustomerPatch {
                key_account: Some(true),
                region: Some(Region::Rural),
                owner_agent_id: Some("agent-7".into()),
                ..CustomerPatch::default()
            },
        ] {
            assert_eq!(after_patch(patch.clone()), None, "{patch:?}");
        }
    }

    #[test]
    fn consents_count_by_the_granted_channels_only() {
        // Reordered, a refusal added, the same answers: visits sees the same channels.
        let same = CustomerPatch {
            consents: Some(vec![
                consent(Channel::PhoneCall, true),
                consent(Channel::Post, false),
                consent(Channel::Sms, true),
            ]),
            ..CustomerPatch::default()
        };
        assert_eq!(after_patch(same), None);
        let granted = CustomerPatch {
            consents: Some(vec![
                consent(Channel::Sms, true),
                consent(Channel::Email, true),
            ]),
            ..CustomerPatch::default()
        };
        let event = after_patch(granted).unwrap();
        assert_eq!(event.change, ChangeKind::Updated);
        assert_eq!(
            event.customer.consented_channels,
            [Channel::Sms, Channel::Email]
        );
        assert_eq!(event.customer.update_time, t(200));
    }

    #[test]
    fn key_account_region_owner_and_dates_each_publish_an_update() {
        let mut dates = vec![date(DateKind::Birthday, Relation::SelfPerson, 3, 8)];
        dates[0].note = "likes lilies".into();
        for patch in [
            CustomerPatch {
                key_account: Some(false),
                ..CustomerPatch::default()
            },
            CustomerPatch {
                region: Some(Region::Urban),
                ..CustomerPatch::default()
            },
            CustomerPatch {
                owner_agent_id: Some("agent-9".into()),
                ..CustomerPatch::default()
            },
            CustomerPatch {
                important_dates: Some(dates),
                ..CustomerPatch::default()
            },
            CustomerPatch {
                important_dates: Some(Vec::new()),
                ..CustomerPatch::default()
            },
        ] {
            let event = after_patch(patch.clone()).unwrap_or_else(|| panic!("{patch:?}"));
            assert_eq!(event.change, ChangeKind::Updated, "{patch:?}");
        }
    }

    #[test]
    fn the_year_of_a_date_alone_publishes_nothing() {
        let mut dated = date(DateKind::Birthday, Relation::SelfPerson, 3, 8);
        dated.year = 1980;
        let patch = CustomerPatch {
            important_dates: Some(vec![dated]),
            ..CustomerPatch::default()
        };
        assert_eq!(after_patch(patch), None);
    }

    #[test]
    fn a_tier_change_publishes_an_update_and_a_churn_signal_nothing() {
        let mut c = customer();
        let before = VisitsSnapshot::of(&c);
        c.change_tier(Tier::A, "grew", "sup-1", t(200)).unwrap();
        let event = visits_change(Some(before), &c).unwrap();
        assert_eq!(
            (event.change, event.customer.tier),
            (ChangeKind::Updated, Tier::A)
        );

        let before = VisitsSnapshot::of(&c);
        let signal = ChurnSignal {
            signal_id: "s1".into(),
            kind: SignalKind::Silence,
            level: RiskLevel::High,
            evidence: String::new(),
            source: "feedback".into(),
            observe_time: t(250),
        };
        c.record_churn_signal(signal, &ChurnPolicy::default(), t(300))
            .unwrap();
        assert_eq!(visits_change(Some(before), &c), None);
    }

    #[test]
    fn archiving_and_restoring_publish_their_own_kinds() {
        let mut c = customer();
        let before = VisitsSnapshot::of(&c);
        c.archive(t(200)).unwrap();
        let archived = visits_change(Some(before), &c).unwrap();
        assert_eq!(archived.change, ChangeKind::Archived);
        assert!(archived.customer.archived);

        let before = VisitsSnapshot::of(&c);
        c.restore(t(300)).unwrap();
        let restored = visits_change(Some(before), &c).unwrap();
        assert_eq!(restored.change, ChangeKind::Restored);
        assert!(!restored.customer.archived);
        assert_eq!(restored.customer.update_time, t(300));
    }

    /// The payload is stored in the outbox and read back by `events/`, perhaps by a newer
    /// build: its shape is a format, pinned here.
    #[test]
    fn the_payload_keeps_its_json_shape() {
        let event = visits_change(None, &customer()).unwrap();
        assert_eq!(
            serde_json::to_value(&event).unwrap(),
            serde_json::json!({
                "change": "created",
                "customer": {
                    "customer_id": "cus_1",
                    "tier": "B",
                    "key_account": true,
                    "region": "Rural",
                    "owner_agent_id": "agent-7",
                    "important_dates": [{
                        "kind": "Birthday",
                        "relation": "SelfPerson",
                        "person_name": "",
                        "month": 3,
                        "day": 8,
                        "note": ""
                    }],
                    "consented_channels": ["PhoneCall", "Sms"],
                    "archived": false,
                    "update_time": 100
                }
            })
        );
        let text = serde_json::to_string(&event).unwrap();
        assert_eq!(
            serde_json::from_str::<CustomerChanged>(&text).unwrap(),
            event
        );
    }
}
