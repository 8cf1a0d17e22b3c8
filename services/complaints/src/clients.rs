//! Calls to neighbour services: the customers service for the facts an SLA is chosen by
//! (deadline, traced, cached briefly).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use csops_observability::{GrpcClientLayer, GrpcClientService, Metrics};
use csops_proto::customers::v1 as pb;
use csops_proto::customers::v1::customers_service_client::CustomersServiceClient;
use tonic::transport::Channel;
use tower::Layer as _;

use crate::domain::{Micros, Region, Snapshot, Tier};

/// A channel to a neighbour whose calls are traced (a client span, W3C propagation) and
/// counted (`grpc_client_requests_total`, `grpc_client_request_duration_seconds`).
pub type Observed = GrpcClientService<Channel>;

type Client = CustomersServiceClient<Observed>;

/// What the customers service said about a customer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Lookup {
    /// The facts.
    Found(Snapshot),
    /// No such customer.
    NotFound,
    /// The service did not answer in time (or is not configured).
    Unreachable,
}

/// A customers-service client with a deadline and a short cache.
#[derive(Debug)]
pub struct CustomersClient {
    client: Option<Client>,
    timeout: Duration,
    ttl: Duration,
    cache: Mutex<HashMap<String, (Snapshot, Instant)>>,
}

/// Builds a lazily connecting, observed channel with a deadline per call, balanced per
/// request across the pods behind the neighbour's (headless) Service name; `None` for an empty
/// URL (the neighbour is not deployed) or a malformed one (logged).
pub fn channel(url: &str, timeout: Duration, metrics: &Metrics) -> Option<Observed> {
    if url.trim().is_empty() {
        return None;
    }
    match csops_runtime::client::balanced_channel(url, timeout) {
        Ok(channel) => Some(GrpcClientLayer::with_metrics(metrics.clone()).layer(channel)),
        Err(error) => {
            tracing::warn!(%error, "bad neighbour url; calls will be treated as unreachable");
            None
        }
    }
}

impl CustomersClient {
    /// A client of the customers service at `url` (empty: never reachable), counting its
    /// calls in `metrics`.
    pub fn new(url: &str, timeout: Duration, ttl: Duration, metrics: &Metrics) -> Self {
        Self {
            client: channel(url, timeout, metrics).map(CustomersServiceClient::new),
            timeout,
            ttl,
            cache: Mutex::new(HashMap::new()),
        }
    }

    /// Reads a customer's tier, key-account flag and region.
    pub async fn lookup(&self, customer_id: &str, now: Micros) -> Lookup {
        if let Some((snapshot, at)) = self
            .cache
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(customer_id)
        {
            if at.elapsed() < self.ttl {
                return Lookup::Found(snapshot.clone());
            }
        }
        let Some(mut client) = self.client.clone() else {
            return Lookup::Unreachable;
        };
        let mut request = tonic::Request::new(pb::GetCustomerRequest {
            customer_id: customer_id.to_owned(),
        });
        request.set_timeout(self.timeout);
        match tokio::time::timeout(self.timeout, client.get_customer(request)).await {
            Ok(Ok(response)) => {
                let Some(customer) = response.into_inner().customer else {
                    return Lookup::Unreachable;
                };
                let snapshot = Snapshot {
                    tier: match pb::CustomerTier::try_from(customer.tier) {
                        Ok(pb::CustomerTier::B) => Tier::B,
                        Ok(pb::CustomerTier::C) => Tier::C,
                        _ => Tier::A,
                    },
                    key_account: customer.key_account,
                    region: match pb::Region::try_from(customer.region) {
                        Ok(pb::Region::Rural) => Region::Rural,
                        _ => Region::Urban,
                    },
                    defaulted: false,
                    fetch_time: now,
                };
                self.cache
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .insert(customer_id.to_owned(), (snapshot.clone(), Instant::now()));
                Lookup::Found(snapshot)
            }
            Ok(Err(status)) if status.code() == tonic::Code::NotFound => Lookup::NotFound,
            Ok(Err(status)) => {
                tracing::warn!(code = ?status.code(), customer_id, "customers service did not answer; using the most demanding defaults");
                Lookup::Unreachable
            }
            Err(_) => {
                tracing::warn!(
                    customer_id,
                    "customers service timed out; using the most demanding defaults"
                );
                Lookup::Unreachable
            }
        }
    }
}
