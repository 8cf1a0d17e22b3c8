//! Calls to neighbour services: the customers service for the facts an SLA is chosen by
//! (deadline, traced, cached briefly, behind a circuit breaker: after 3 consecutive calls
//! that time out or find it unavailable, lookups answer `Unreachable` at once — the most
//! demanding defaults — while a background probe waits for it to answer again).

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use csops_observability::Metrics;
use csops_proto::customers::v1 as pb;
use csops_proto::customers::v1::customers_service_client::CustomersServiceClient;
use csops_runtime::auth::Credentials;
use csops_runtime::client::{observed_channel, retry_idempotent, Observed};
use moka::sync::Cache;

use csops_runtime::breaker::{self, Breaker, BreakerSettings, Outcome, Transition};
use tokio_util::sync::CancellationToken;

use crate::domain::{Region, Snapshot, Tier};

/// The customer id the breaker's probe asks for: any answer, NOT_FOUND included, shows the
/// customers service is back.
const PROBE_CUSTOMER_ID: &str = "csops-breaker-probe";

type Client = CustomersServiceClient<Observed>;

/// How many customers' facts are cached at most; the least useful are evicted beyond that.
const CUSTOMER_CACHE_CAPACITY: u64 = 10_000;

/// The longest time facts are cached: moka refuses TTLs over 1000 years, and a year already
/// means "until the process restarts".
const MAX_CUSTOMER_CACHE_TTL: Duration = Duration::from_secs(365 * 24 * 60 * 60);

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

/// A customers-service client with a deadline, a short cache and a circuit breaker.
#[derive(Debug)]
pub struct CustomersClient {
    client: Option<Client>,
    timeout: Duration,
    cache: Cache<String, Snapshot>,
    breaker: Arc<Breaker>,
    stop: CancellationToken,
}

impl CustomersClient {
    /// A client of the customers service at `url` (empty: never reachable), counting its
    /// calls in `metrics` and caching what it learns for `ttl`; its breaker's probe stops
    /// with `stop`.
    pub fn new(
        url: &str,
        timeout: Duration,
        ttl: Duration,
        metrics: &Metrics,
        credentials: &Credentials,
        stop: CancellationToken,
    ) -> Self {
        Self {
            client: observed_channel(url, timeout, metrics, credentials)
                .map(CustomersServiceClient::new),
            timeout,
            cache: Cache::builder()
                .max_capacity(CUSTOMER_CACHE_CAPACITY)
                .time_to_live(ttl.min(MAX_CUSTOMER_CACHE_TTL))
                .build(),
            breaker: Arc::new(Breaker::new("customers", BreakerSettings::default())),
            stop,
        }
    }

    /// True while calls are made (the breaker is closed) and a customers URL is configured.
    pub fn available(&self) -> bool {
        self.client.is_some() && self.breaker.allows()
    }

    /// Completes when the customers service answers again after its breaker opened.
    pub async fn recovered(&self) {
        self.breaker.recovered().await;
    }

    /// Reads a customer's tier, key-account flag and region.
    pub async fn lookup(&self, customer_id: &str, now: DateTime<Utc>) -> Lookup {
        if let Some(snapshot) = self.cache.get(customer_id) {
            return Lookup::Found(snapshot);
        }
        let Some(client) = self.client.clone() else {
            return Lookup::Unreachable;
        };
        if !self.breaker.allows() {
            return Lookup::Unreachable;
        }
        let answer = get_customer(client.clone(), customer_id, self.timeout).await;
        if self.breaker.record(outcome(&answer)) == Transition::Opened {
            let breaker = self.breaker.clone();
            let stop = self.stop.clone();
            let timeout = self.timeout;
            tokio::spawn(async move {
                breaker::probe_until_closed(&breaker, &stop, || {
                    let client = client.clone();
                    async move { outcome(&get_customer(client, PROBE_CUSTOMER_ID, timeout).await) }
                })
                .await;
            });
        }
        match answer {
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
                    fetch_time: Some(now),
                };
                self.cache.insert(customer_id.to_owned(), snapshot.clone());
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

/// One GetCustomer call under the deadline (retried while the customers service is
/// UNAVAILABLE); `Err` when the deadline passed.
async fn get_customer(
    client: Client,
    customer_id: &str,
    timeout: Duration,
) -> Result<
    Result<tonic::Response<pb::GetCustomerResponse>, tonic::Status>,
    tokio::time::error::Elapsed,
> {
    let call = retry_idempotent(|| {
        let mut client = client.clone();
        let mut request = tonic::Request::new(pb::GetCustomerRequest {
            customer_id: customer_id.to_owned(),
        });
        request.set_timeout(timeout);
        async move { client.get_customer(request).await }
    });
    tokio::time::timeout(timeout, call).await
}

/// Whether the customers service answered: any status but a timeout or an unreachable peer
/// is an answer (NOT_FOUND, a refusal).
fn outcome<T>(answer: &Result<Result<T, tonic::Status>, tokio::time::error::Elapsed>) -> Outcome {
    match answer {
        Ok(Ok(_)) => Outcome::Answered,
        Ok(Err(status))
            if matches!(
                status.code(),
                tonic::Code::Unavailable
                    | tonic::Code::DeadlineExceeded
                    | tonic::Code::Cancelled
                    | tonic::Code::Unknown
            ) =>
        {
            Outcome::Failed
        }
        Ok(Err(_)) => Outcome::Answered,
        Err(_) => Outcome::Failed,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn snapshot(fetch_time: Option<DateTime<Utc>>) -> Snapshot {
        Snapshot {
            tier: Tier::B,
            key_account: false,
            region: Region::Rural,
            defaulted: false,
            fetch_time,
        }
    }

    /// A client with no customers service behind it: only its cache can answer.
    fn offline(ttl: Duration) -> CustomersClient {
        CustomersClient::new(
            "",
            Duration::from_millis(10),
            ttl,
            &Metrics::new(),
            &Credentials::none(),
            CancellationToken::new(),
        )
    }

    #[tokio::test]
    async fn lookup_answers_from_the_cache_until_the_ttl_expires() {
        let client = offline(Duration::from_millis(300));
        let fetched = DateTime::from_timestamp(7, 0);
        let now = DateTime::from_timestamp(9, 0).unwrap_or_default();
        client.cache.insert("c-1".to_owned(), snapshot(fetched));

        assert_eq!(
            client.lookup("c-1", now).await,
            Lookup::Found(snapshot(fetched))
        );
        tokio::time::sleep(Duration::from_millis(400)).await;
        assert_eq!(client.lookup("c-1", now).await, Lookup::Unreachable);
    }

    #[test]
    fn the_cache_holds_at_most_its_capacity() {
        let client = offline(Duration::from_secs(30));
        for n in 0..CUSTOMER_CACHE_CAPACITY + 1_000 {
            client.cache.insert(format!("c-{n}"), snapshot(None));
        }
        client.cache.run_pending_tasks();
        assert!(
            client.cache.entry_count() <= CUSTOMER_CACHE_CAPACITY,
            "{} entries",
            client.cache.entry_count()
        );
    }

    #[test]
    fn a_ttl_beyond_what_moka_accepts_is_capped_instead_of_panicking() {
        let client = offline(Duration::MAX);
        assert_eq!(
            client.cache.policy().time_to_live(),
            Some(MAX_CUSTOMER_CACHE_TTL)
        );
    }
}
