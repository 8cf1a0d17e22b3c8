//! Calls to neighbours: the customers service (a customer's channel consents and tier for a
//! survey; the customer files the churn detector walks). Each call has its own deadline; an
//! empty URL means the customers service is not deployed.

use std::time::Duration;

use chrono::{DateTime, Utc};
use csops_observability::Metrics;
use csops_proto::customers::v1 as cs;
use csops_proto::customers::v1::customers_service_client::CustomersServiceClient;
use csops_runtime::auth::Credentials;
use csops_runtime::client::{observed_channel, retry_idempotent, Observed};
use csops_runtime::{time, Error};
use csops_sla::Tier;
use tonic::Code;

use crate::domain::survey::Reach;

/// Deadline of one call to the customers service.
pub const CALL_TIMEOUT: Duration = Duration::from_secs(2);

/// A client of the customers service, traced and counted.
pub type CustomersClient = CustomersServiceClient<Observed>;

/// The customers service, when configured.
#[derive(Debug, Clone)]
pub struct Customers {
    client: Option<CustomersClient>,
}

impl Customers {
    /// A client for the customers service at `url` (empty: not deployed), counted in
    /// `metrics`.
    pub fn new(url: &str, metrics: &Metrics, credentials: &Credentials) -> Self {
        Self {
            client: observed_channel(url, CALL_TIMEOUT, metrics, credentials)
                .map(CustomersServiceClient::new),
        }
    }

    /// Not deployed.
    pub fn none() -> Self {
        Self { client: None }
    }

    /// The client, or `None` when the customers service is not configured.
    pub fn client(&self) -> Option<CustomersClient> {
        self.client.clone()
    }
}

/// What a survey needs to know of a customer file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CustomerProfile {
    /// "A", "B" or "C".
    pub tier: String,
    /// "urban" or "rural" ('' when unset).
    pub region: String,
    /// Archived files are no longer contacted.
    pub archived: bool,
    /// The ways of reaching the customer they consented to (refused ones left out).
    pub consents: Vec<Reach>,
}

impl Customers {
    /// The customer's tier, region, state and consents: NOT_FOUND when the customers service
    /// does not know the customer, UNAVAILABLE when it is not configured or cannot be asked.
    pub async fn profile(&self, customer_id: &str) -> Result<CustomerProfile, Error> {
        let Some(client) = self.client() else {
            return Err(Error::Unavailable(
                "the customers service is not configured (--customers-url): channel consents cannot be checked".into(),
            ));
        };
        let answer = retry_idempotent(|| {
            let mut client = client.clone();
            let mut request = tonic::Request::new(cs::GetCustomerRequest {
                customer_id: customer_id.to_owned(),
            });
            request.set_timeout(CALL_TIMEOUT);
            async move { client.get_customer(request).await }
        })
        .await;
        let customer = match answer {
            Ok(response) => response.into_inner().customer.unwrap_or_default(),
            Err(status) if status.code() == Code::NotFound => {
                return Err(Error::NotFound(format!(
                    "customer {customer_id} not found in the customers service"
                )))
            }
            Err(status) => {
                return Err(Error::Unavailable(format!(
                    "the customers service cannot be asked for customer {customer_id}: {}",
                    status.message()
                )))
            }
        };
        Ok(CustomerProfile {
            tier: match cs::CustomerTier::try_from(customer.tier) {
                Ok(cs::CustomerTier::A) => "A",
                Ok(cs::CustomerTier::B) => "B",
                Ok(cs::CustomerTier::C) => "C",
                _ => "",
            }
            .to_owned(),
            region: match cs::Region::try_from(customer.region) {
                Ok(cs::Region::Urban) => "urban",
                Ok(cs::Region::Rural) => "rural",
                _ => "",
            }
            .to_owned(),
            archived: customer.state == cs::CustomerState::Archived as i32,
            consents: customer
                .consents
                .iter()
                .filter(|c| c.granted)
                .filter_map(|c| reach(c.channel))
                .collect(),
        })
    }
}

fn reach(channel: i32) -> Option<Reach> {
    Some(match cs::ContactChannel::try_from(channel).ok()? {
        cs::ContactChannel::PhoneCall => Reach::PhoneCall,
        cs::ContactChannel::Sms => Reach::Sms,
        cs::ContactChannel::Email => Reach::Email,
        cs::ContactChannel::Post => Reach::Post,
        cs::ContactChannel::InPerson => Reach::InPerson,
        cs::ContactChannel::MessagingApp => Reach::MessagingApp,
        cs::ContactChannel::Unspecified => return None,
    })
}

/// Customer files the detector reads per pass: one `ListCustomers` page, the most it gives.
const SWEEP_PAGE: i32 = 500;
/// A page of customer files may be larger than tonic's default 4 MiB limit.
const MAX_PAGE_BYTES: usize = 64 << 20;

/// What the detector needs of a customer file.
#[derive(Debug)]
pub struct CustomerFile {
    /// The customer.
    pub id: String,
    /// Value tier.
    pub tier: Tier,
    /// Key account.
    pub key_account: bool,
    /// When the file was opened.
    pub create_time: DateTime<Utc>,
}

/// Why a page of customer files could not be read.
#[derive(Debug)]
pub enum PageError {
    /// The stored page token is no longer accepted (the customers service's token key
    /// changed): start over.
    StaleToken,
    /// The customers service cannot be asked now.
    Unavailable(String),
}

/// Reads one page of active customer files after `token`; returns them and the next token.
pub async fn customer_page(
    client: CustomersClient,
    token: &str,
) -> Result<(Vec<CustomerFile>, String), PageError> {
    let mut client = client.max_decoding_message_size(MAX_PAGE_BYTES);
    let request = cs::ListCustomersRequest {
        page_size: SWEEP_PAGE,
        page_token: token.to_owned(),
        ..Default::default()
    };
    let page = match client.list_customers(request).await {
        Ok(page) => page.into_inner(),
        Err(status) if status.code() == Code::InvalidArgument && !token.is_empty() => {
            return Err(PageError::StaleToken)
        }
        Err(status) => {
            return Err(PageError::Unavailable(format!(
                "the customers service cannot list customers for the churn detector: {:?} {}",
                status.code(),
                status.message()
            )))
        }
    };
    let files = page
        .customers
        .into_iter()
        .filter_map(|c| {
            let tier = match cs::CustomerTier::try_from(c.tier) {
                Ok(cs::CustomerTier::A) => Tier::A,
                Ok(cs::CustomerTier::B) => Tier::B,
                Ok(cs::CustomerTier::C) => Tier::C,
                Ok(cs::CustomerTier::Unspecified) | Err(_) => {
                    tracing::warn!(customer_id = %c.id, tier = c.tier, "customer without a known tier; skipped by the churn detector");
                    return None;
                }
            };
            let create_time = c
                .create_time
                .and_then(|t| DateTime::from_timestamp(t.seconds, u32::try_from(t.nanos).ok()?))
                .unwrap_or_else(time::now);
            Some(CustomerFile {
                id: c.id,
                tier,
                key_account: c.key_account,
                create_time,
            })
        })
        .collect();
    Ok((files, page.next_page_token))
}
