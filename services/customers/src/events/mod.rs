//! Events out: how the customers service delivers its outbox events (written with each change
//! visits plans from, by the store) to the visits service, as `ApplyCustomerChange` calls. The
//! kit's relay claims, retries and measures; this module only knows the receiver and the
//! conversion. Events wait in the outbox while visits is down or not deployed (no URL).

use std::time::Duration;

use csops_observability::Metrics;
use csops_proto::visits::v1 as vs;
use csops_proto::visits::v1::visits_service_client::VisitsServiceClient;
use csops_runtime::auth::Credentials;
use csops_runtime::client::{observed_channel, Observed};
use csops_runtime::outbox::{Claimed, Deliver};
use csops_runtime::time::to_timestamp;
use tonic::Status;

use crate::domain::{
    CareDate, ChangeKind, Channel, CustomerChanged, DateKind, Region, Relation, Tier,
    VisitsSnapshot, CUSTOMER_CHANGED, VISITS,
};

/// Deadline of one delivery.
const DELIVERY_TIMEOUT: Duration = Duration::from_secs(2);

/// The actor id the customers service signs its calls with.
const ACTOR_ID: &str = "customers";

type Visits = VisitsServiceClient<Observed>;

/// The receivers of the customers service's events: the visits service.
#[derive(Debug, Clone)]
pub struct Receivers {
    visits: Option<Visits>,
}

impl Receivers {
    /// A client for visits at `visits_url` (empty: not deployed yet), counted in `metrics`.
    pub fn new(visits_url: &str, metrics: &Metrics, credentials: &Credentials) -> Self {
        Self {
            visits: observed_channel(visits_url, DELIVERY_TIMEOUT, metrics, credentials)
                .map(VisitsServiceClient::new),
        }
    }
}

impl Deliver for Receivers {
    fn destinations(&self) -> Vec<(&'static str, bool)> {
        vec![(VISITS, self.visits.is_some())]
    }

    async fn deliver(&self, event: &Claimed) -> Result<(), Status> {
        if event.kind != CUSTOMER_CHANGED {
            return Err(Status::internal(format!(
                "outbox event {} has an unknown kind {:?}",
                event.id, event.kind
            )));
        }
        let change: CustomerChanged = serde_json::from_str(&event.payload).map_err(|e| {
            Status::internal(format!("outbox event {} is unreadable: {e}", event.id))
        })?;
        let Some(mut client) = self.visits.clone() else {
            return Err(Status::unavailable("visits not configured"));
        };
        let mut request = tonic::Request::new(apply_customer_change(&event.id, change));
        request.set_timeout(DELIVERY_TIMEOUT);
        client.apply_customer_change(request).await.map(|_| ())
    }
}

/// The `ApplyCustomerChange` request for outbox event `event_id` carrying `change`.
pub fn apply_customer_change(
    event_id: &str,
    change: CustomerChanged,
) -> vs::ApplyCustomerChangeRequest {
    let CustomerChanged { change, customer } = change;
    let VisitsSnapshot {
        customer_id,
        tier,
        key_account,
        region,
        owner_agent_id,
        important_dates,
        consented_channels,
        archived,
        update_time,
    } = customer;
    vs::ApplyCustomerChangeRequest {
        source_event_id: event_id.to_owned(),
        change: change_kind(change) as i32,
        customer: Some(vs::CustomerFile {
            customer_id,
            tier: match tier {
                Tier::A => vs::CustomerTier::A,
                Tier::B => vs::CustomerTier::B,
                Tier::C => vs::CustomerTier::C,
            } as i32,
            key_account,
            region: match region {
                Region::Urban => vs::Region::Urban,
                Region::Rural => vs::Region::Rural,
            } as i32,
            owner_agent_id,
            important_dates: important_dates.into_iter().map(care_date).collect(),
            consented_channels: consented_channels
                .into_iter()
                .map(|c| contact_channel(c) as i32)
                .collect(),
            archived,
            update_time: Some(to_timestamp(update_time)),
        }),
        actor: Some(vs::Actor {
            id: ACTOR_ID.to_owned(),
            role: vs::ActorRole::System as i32,
        }),
    }
}

fn change_kind(kind: ChangeKind) -> vs::CustomerChangeKind {
    match kind {
        ChangeKind::Created => vs::CustomerChangeKind::Created,
        ChangeKind::Updated => vs::CustomerChangeKind::Updated,
        ChangeKind::Archived => vs::CustomerChangeKind::Archived,
        ChangeKind::Restored => vs::CustomerChangeKind::Restored,
    }
}

/// An important date as a care date: a birthday is the customer's own (BIRTHDAY) or a family
/// member's (FAMILY_BIRTHDAY) by whose it is.
fn care_date(date: CareDate) -> vs::CareDate {
    let CareDate {
        kind,
        relation,
        person_name,
        month,
        day,
        note,
    } = date;
    let occasion = match (kind, relation) {
        (DateKind::Birthday, Relation::SelfPerson) => vs::OccasionKind::Birthday,
        (DateKind::Birthday, _) => vs::OccasionKind::FamilyBirthday,
        (DateKind::Anniversary, _) => vs::OccasionKind::Anniversary,
        (DateKind::Other, _) => vs::OccasionKind::Other,
    };
    vs::CareDate {
        occasion: occasion as i32,
        relation: match relation {
            Relation::SelfPerson => vs::Relation::Self_,
            Relation::Spouse => vs::Relation::Spouse,
            Relation::Child => vs::Relation::Child,
            Relation::Parent => vs::Relation::Parent,
            Relation::Other => vs::Relation::Other,
        } as i32,
        person_name,
        // The domain keeps months 1-12 and days 1-31.
        month: i32::try_from(month).unwrap_or_default(),
        day: i32::try_from(day).unwrap_or_default(),
        note,
    }
}

fn contact_channel(channel: Channel) -> vs::ContactChannel {
    match channel {
        Channel::PhoneCall => vs::ContactChannel::PhoneCall,
        Channel::Sms => vs::ContactChannel::Sms,
        Channel::Email => vs::ContactChannel::Email,
        Channel::Post => vs::ContactChannel::Post,
        Channel::InPerson => vs::ContactChannel::InPerson,
        Channel::MessagingApp => vs::ContactChannel::MessagingApp,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn date(kind: DateKind, relation: Relation) -> CareDate {
        CareDate {
            kind,
            relation,
            person_name: "Xiao Ming".into(),
            month: 2,
            day: 29,
            note: "likes kites".into(),
        }
    }

    fn change() -> CustomerChanged {
        CustomerChanged {
            change: ChangeKind::Archived,
            customer: VisitsSnapshot {
                customer_id: "cus_1".into(),
                tier: Tier::C,
                key_account: true,
                region: Region::Rural,
                owner_agent_id: "agent-7".into(),
                important_dates: vec![
                    date(DateKind::Birthday, Relation::SelfPerson),
                    date(DateKind::Birthday, Relation::Child),
                    date(DateKind::Birthday, Relation::Other),
                    date(DateKind::Anniversary, Relation::Spouse),
                    date(DateKind::Other, Relation::Parent),
                ],
                consented_channels: vec![Channel::PhoneCall, Channel::MessagingApp],
                archived: true,
                update_time: csops_runtime::time::from_micros(1_700_000_000_123_456),
            },
        }
    }

    #[test]
    fn the_request_carries_the_event_id_the_file_and_the_system_actor() {
        let request = apply_customer_change("cev_1", change());
        assert_eq!(request.source_event_id, "cev_1");
        assert_eq!(request.change, vs::CustomerChangeKind::Archived as i32);
        assert_eq!(
            request.actor,
            Some(vs::Actor {
                id: "customers".into(),
                role: vs::ActorRole::System as i32,
            })
        );
        let file = request.customer.unwrap();
        assert_eq!(file.customer_id, "cus_1");
        assert_eq!(file.tier, vs::CustomerTier::C as i32);
        assert!(file.key_account && file.archived);
        assert_eq!(file.region, vs::Region::Rural as i32);
        assert_eq!(file.owner_agent_id, "agent-7");
        assert_eq!(
            file.consented_channels,
            [
                vs::ContactChannel::PhoneCall as i32,
                vs::ContactChannel::MessagingApp as i32
            ]
        );
        assert_eq!(
            file.update_time,
            Some(prost_types::Timestamp {
                seconds: 1_700_000_000,
                nanos: 123_456_000
            })
        );
    }

    #[test]
    fn a_birthday_is_the_customers_own_or_a_family_one_by_relation() {
        let dates = apply_customer_change("cev_1", change())
            .customer
            .unwrap()
            .important_dates;
        let kinds: Vec<(vs::OccasionKind, vs::Relation)> =
            dates.iter().map(|d| (d.occasion(), d.relation())).collect();
        assert_eq!(
            kinds,
            [
                (vs::OccasionKind::Birthday, vs::Relation::Self_),
                (vs::OccasionKind::FamilyBirthday, vs::Relation::Child),
                (vs::OccasionKind::FamilyBirthday, vs::Relation::Other),
                (vs::OccasionKind::Anniversary, vs::Relation::Spouse),
                (vs::OccasionKind::Other, vs::Relation::Parent),
            ]
        );
        assert_eq!(
            (
                dates[0].person_name.as_str(),
                dates[0].month,
                dates[0].day,
                dates[0].note.as_str()
            ),
            ("Xiao Ming", 2, 29, "likes kites")
        );
    }

    #[tokio::test]
    async fn without_a_visits_url_events_wait_and_a_bad_payload_is_refused() {
        let receivers = Receivers::new("", &Metrics::new(), &Credentials::none());
        assert_eq!(receivers.destinations(), [("visits", false)]);
        let event = Claimed {
            id: "cev_1".into(),
            destination: "visits".into(),
            kind: CUSTOMER_CHANGED.into(),
            aggregate_id: "cus_1".into(),
            payload: serde_json::to_string(&change()).unwrap(),
            attempts: 0,
            create_time: 0,
            trace: Default::default(),
        };
        let status = receivers.deliver(&event).await.unwrap_err();
        assert_eq!(status.code(), tonic::Code::Unavailable);
        let unreadable = Claimed {
            payload: "{}".into(),
            ..event.clone()
        };
        let status = receivers.deliver(&unreadable).await.unwrap_err();
        assert_eq!(status.code(), tonic::Code::Internal);
        let unknown = Claimed {
            kind: "customer.renamed".into(),
            ..event
        };
        let status = receivers.deliver(&unknown).await.unwrap_err();
        assert_eq!(status.code(), tonic::Code::Internal);
    }
}
