//! Calls to neighbours: the customers service (a customer's channel consents and tier for a
//! survey; the customer files the churn detector walks). Each call has its own deadline; an
//! empty URL means the customers service is not deployed.

use std::time::Duration;

use csops_observability::Metrics;
use csops_proto::customers::v1::customers_service_client::CustomersServiceClient;
use csops_runtime::client::{observed_channel, Observed};

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
    pub fn new(url: &str, metrics: &Metrics) -> Self {
        Self {
            client: observed_channel(url, CALL_TIMEOUT, metrics).map(CustomersServiceClient::new),
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
