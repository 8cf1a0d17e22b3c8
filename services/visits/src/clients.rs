//! Calls to the customers service: one customer file (to create or refresh a plan) and pages
//! of all files (the full re-plan), each with a deadline, traced and counted.

use std::time::Duration;

use csops_observability::Metrics;
use csops_proto::customers::v1 as pb;
use csops_proto::customers::v1::customers_service_client::CustomersServiceClient;
use csops_runtime::auth::Credentials;
use csops_runtime::client::{observed_channel, retry_idempotent, Observed};
use csops_runtime::time::from_timestamp;
use csops_runtime::{Error, Violations};
use tonic::Code;

use crate::domain::care::{CareDate, Occasion, Relation};
use crate::domain::plan::CustomerFacts;
use crate::domain::{Channel as Consent, Region, Tier};

type Client = CustomersServiceClient<Observed>;

/// What the customers service said about a customer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Lookup {
    /// The file's facts.
    Found(CustomerFacts),
    /// No such customer.
    NotFound,
    /// The service did not answer in time (or is not configured).
    Unreachable,
}

/// A customers-service client.
#[derive(Debug, Clone)]
pub struct CustomersClient {
    client: Option<Client>,
    timeout: Duration,
}

impl CustomersClient {
    /// A client of the customers service at `url` (empty: never reachable).
    pub fn new(url: &str, timeout: Duration, metrics: &Metrics, credentials: &Credentials) -> Self {
        let client =
            observed_channel(url, timeout, metrics, credentials).map(CustomersServiceClient::new);
        Self { client, timeout }
    }

    /// Reads one customer file.
    pub async fn lookup(&self, customer_id: &str) -> Lookup {
        let Some(client) = self.client.clone() else {
            return Lookup::Unreachable;
        };
        let answer = retry_idempotent(|| {
            let mut client = client.clone();
            let mut request = tonic::Request::new(pb::GetCustomerRequest {
                customer_id: customer_id.to_owned(),
            });
            request.set_timeout(self.timeout);
            async move { client.get_customer(request).await }
        })
        .await;
        match answer {
            Ok(answer) => match answer.into_inner().customer.map(|c| facts(&c)) {
                Some(Ok(facts)) => Lookup::Found(facts),
                _ => Lookup::Unreachable,
            },
            Err(status) if status.code() == Code::NotFound => Lookup::NotFound,
            Err(status) => {
                tracing::warn!(code = ?status.code(), "customers service did not answer a lookup");
                Lookup::Unreachable
            }
        }
    }

    /// Reads one page of all customer files (archived ones included): (id, facts) and the
    /// next page's token, empty after the last.
    pub async fn list_page(
        &self,
        token: &str,
        page_size: u32,
    ) -> Result<(Vec<(String, CustomerFacts)>, String), Error> {
        let Some(client) = self.client.clone() else {
            return Err(Error::Unavailable(
                "no customers service is configured".into(),
            ));
        };
        let page = retry_idempotent(|| {
            let mut client = client.clone();
            let mut request = tonic::Request::new(pb::ListCustomersRequest {
                page_size: i32::try_from(page_size).unwrap_or(500),
                page_token: token.to_owned(),
                archive_filter: pb::ArchiveFilter::All as i32,
                ..Default::default()
            });
            request.set_timeout(self.timeout * 5);
            async move { client.list_customers(request).await }
        })
        .await
        .map_err(|s| {
            Error::Unavailable(format!(
                "the customers service did not answer: {}",
                s.code()
            ))
        })?
        .into_inner();
        let mut out = Vec::with_capacity(page.customers.len());
        for c in &page.customers {
            match facts(c) {
                Ok(f) => out.push((c.id.clone(), f)),
                Err(_) => tracing::warn!(customer_id = %c.id, "customer file unreadable; skipped"),
            }
        }
        Ok((out, page.next_page_token))
    }
}

/// The facts of a customer file as the customers service returns it.
pub fn facts(c: &pb::Customer) -> Result<CustomerFacts, Violations> {
    let mut v = Violations::default();
    let tier = match pb::CustomerTier::try_from(c.tier) {
        Ok(pb::CustomerTier::A) => Tier::A,
        Ok(pb::CustomerTier::B) => Tier::B,
        Ok(pb::CustomerTier::C) => Tier::C,
        _ => {
            v.push("tier", "unknown");
            Tier::A
        }
    };
    let region = match pb::Region::try_from(c.region) {
        Ok(pb::Region::Rural) => Region::Rural,
        _ => Region::Urban,
    };
    let care_dates = c
        .important_dates
        .iter()
        .filter_map(|d| {
            let relation = match pb::Relation::try_from(d.relation).ok()? {
                pb::Relation::Self_ => Relation::SelfRelation,
                pb::Relation::Spouse => Relation::Spouse,
                pb::Relation::Child => Relation::Child,
                pb::Relation::Parent => Relation::Parent,
                pb::Relation::Other => Relation::Other,
                pb::Relation::Unspecified => return None,
            };
            let occasion = match pb::ImportantDateKind::try_from(d.kind).ok()? {
                pb::ImportantDateKind::Birthday if relation == Relation::SelfRelation => {
                    Occasion::Birthday
                }
                pb::ImportantDateKind::Birthday => Occasion::FamilyBirthday,
                pb::ImportantDateKind::Anniversary => Occasion::Anniversary,
                pb::ImportantDateKind::Other => Occasion::Other,
                pb::ImportantDateKind::Unspecified => return None,
            };
            Some(CareDate {
                occasion,
                relation: Some(relation),
                person_name: d.person_name.clone(),
                month: u32::try_from(d.month).ok()?,
                day: u32::try_from(d.day).ok()?,
                note: d.note.clone(),
            })
        })
        .collect();
    let consents = c
        .consents
        .iter()
        .filter(|x| x.granted)
        .filter_map(|x| match pb::ContactChannel::try_from(x.channel).ok()? {
            pb::ContactChannel::PhoneCall => Some(Consent::PhoneCall),
            pb::ContactChannel::Sms => Some(Consent::Sms),
            pb::ContactChannel::Email => Some(Consent::Email),
            pb::ContactChannel::Post => Some(Consent::Post),
            pb::ContactChannel::InPerson => Some(Consent::InPerson),
            pb::ContactChannel::MessagingApp => Some(Consent::MessagingApp),
            pb::ContactChannel::Unspecified => None,
        })
        .collect();
    let update_time = from_timestamp("update_time", c.update_time, &mut v);
    v.into_result(CustomerFacts {
        tier,
        key_account: c.key_account,
        region,
        owner_agent_id: c.owner_agent_id.clone(),
        care_dates,
        consents,
        archived: c.state == pb::CustomerState::Archived as i32,
        update_time,
        defaulted: false,
    })
}
