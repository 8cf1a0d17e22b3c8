//! Channels to neighbour services that balance calls per request across every address the
//! service name resolves to.
//!
//! In Kubernetes each service has a headless Service, so its DNS name resolves to one address
//! per ready pod. HTTP/2 keeps one long-lived connection, so a plain channel would send every
//! call to the first pod it reached; this channel re-resolves the name periodically and
//! spreads calls over all pods (power of two choices), adding and dropping pods as they come
//! and go. An IP address or a name with one address behaves like a plain channel.
//!
//! [`observed_channel`] is what services use: the balanced channel, traced and counted, or
//! `None` when the neighbour is not configured.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::time::Duration;

use csops_observability::{GrpcClientLayer, GrpcClientService, Metrics};
use tonic::transport::channel::Change;
use tonic::transport::{Channel, Endpoint, Uri};
use tower_layer::Layer as _;

/// How often the name is resolved again.
const RESOLVE_INTERVAL: Duration = Duration::from_secs(15);

/// Why a neighbour URL cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The URL does not parse or lacks a host or port.
    #[error("invalid neighbour url {url:?}: {reason}")]
    InvalidUrl {
        /// The URL given.
        url: String,
        /// What is wrong.
        reason: String,
    },
}

/// A channel to a neighbour whose calls are traced (a client span, W3C propagation) and
/// counted (`grpc_client_requests_total`, `grpc_client_request_duration_seconds`).
pub type Observed = GrpcClientService<Channel>;

/// Builds a lazily connecting, observed channel with a deadline per call, balanced per
/// request across the pods behind the neighbour's (headless) Service name; `None` for an empty
/// URL (the neighbour is not deployed) or a malformed one (logged).
pub fn observed_channel(url: &str, timeout: Duration, metrics: &Metrics) -> Option<Observed> {
    if url.trim().is_empty() {
        return None;
    }
    match balanced_channel(url, timeout) {
        Ok(channel) => Some(GrpcClientLayer::with_metrics(metrics.clone()).layer(channel)),
        Err(error) => {
            tracing::warn!(%error, "bad neighbour url; calls will be treated as unreachable");
            None
        }
    }
}

/// Returns a channel to `url` (e.g. `http://customers:50051`) that connects lazily, applies
/// `timeout` to connecting and to every call, and balances across the resolved addresses.
/// Must be called inside a tokio runtime: it spawns the resolver task, which ends when the
/// channel is dropped.
pub fn balanced_channel(url: &str, timeout: Duration) -> Result<Channel, ClientError> {
    let invalid = |reason: &str| ClientError::InvalidUrl {
        url: url.to_owned(),
        reason: reason.to_owned(),
    };
    let uri: Uri = url.trim().parse().map_err(|_| invalid("not a URL"))?;
    let host = uri.host().ok_or_else(|| invalid("no host"))?.to_owned();
    let port = uri.port_u16().ok_or_else(|| invalid("no port"))?;
    let scheme = uri.scheme_str().unwrap_or("http").to_owned();
    let endpoint_for = move |addr: SocketAddr| -> Option<Endpoint> {
        Endpoint::from_shared(format!("{scheme}://{addr}"))
            .ok()
            .map(|e| e.connect_timeout(timeout).timeout(timeout))
    };
    if host
        .trim_matches(['[', ']'])
        .parse::<std::net::IpAddr>()
        .is_ok()
    {
        let endpoint = Endpoint::from_shared(url.trim().to_owned())
            .map_err(|_| invalid("not a URL"))?
            .connect_timeout(timeout)
            .timeout(timeout);
        return Ok(endpoint.connect_lazy());
    }
    let (channel, changes) = Channel::balance_channel::<SocketAddr>(64);
    tokio::spawn(async move {
        let mut known: HashSet<SocketAddr> = HashSet::new();
        loop {
            match tokio::net::lookup_host((host.as_str(), port)).await {
                Ok(addrs) => {
                    let now: HashSet<SocketAddr> = addrs.collect();
                    for gone in known.difference(&now) {
                        if changes.send(Change::Remove(*gone)).await.is_err() {
                            return;
                        }
                    }
                    for new in now.difference(&known) {
                        if let Some(endpoint) = endpoint_for(*new) {
                            if changes.send(Change::Insert(*new, endpoint)).await.is_err() {
                                return;
                            }
                        }
                    }
                    known = now;
                }
                Err(error) => {
                    // Keep the last known addresses: a DNS hiccup must not empty the pool.
                    tracing::warn!(%host, %error, "cannot resolve neighbour service");
                }
            }
            tokio::select! {
                () = tokio::time::sleep(RESOLVE_INTERVAL) => {}
                () = changes.closed() => return,
            }
        }
    });
    Ok(channel)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn urls_without_a_port_or_host_are_rejected() {
        assert!(balanced_channel("http://customers", Duration::from_secs(1)).is_err());
        assert!(balanced_channel("not a url", Duration::from_secs(1)).is_err());
        assert!(balanced_channel("http://127.0.0.1:50051", Duration::from_secs(1)).is_ok());
        assert!(balanced_channel("http://localhost:50051", Duration::from_secs(1)).is_ok());
    }

    #[tokio::test]
    async fn an_empty_or_malformed_url_gives_no_observed_channel() {
        let metrics = Metrics::new();
        let timeout = Duration::from_secs(1);
        assert!(observed_channel("", timeout, &metrics).is_none());
        assert!(observed_channel("  ", timeout, &metrics).is_none());
        assert!(observed_channel("http://visits", timeout, &metrics).is_none());
        assert!(observed_channel("http://127.0.0.1:50053", timeout, &metrics).is_some());
    }

    #[tokio::test]
    async fn calls_reach_a_server_through_a_resolved_name() {
        let (_reporter, health) = tonic_health::server::health_reporter();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        tokio::spawn(
            tonic::transport::Server::builder()
                .add_service(health)
                .serve_with_incoming(tonic::transport::server::TcpIncoming::from(listener)),
        );
        let channel =
            balanced_channel(&format!("http://localhost:{port}"), Duration::from_secs(2)).unwrap();
        let mut client = tonic_health::pb::health_client::HealthClient::new(channel);
        let mut last = None;
        // The resolver fills the pool asynchronously; the first calls may find it empty.
        for _ in 0..50 {
            match client
                .check(tonic_health::pb::HealthCheckRequest::default())
                .await
            {
                Ok(response) => {
                    assert_eq!(response.into_inner().status, 1);
                    return;
                }
                Err(status) => last = Some(status),
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("no call went through: {last:?}");
    }
}
