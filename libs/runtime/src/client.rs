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
//! `None` when the neighbour is not configured. Every call through it carries a deadline: the
//! channel's own timeout, or what is left of the caller's deadline when that is shorter
//! ([`crate::deadline`]), sent as `grpc-timeout` so the neighbour stops when its answer could
//! no longer be used. Connections are kept alive with HTTP/2 pings, so a neighbour that
//! vanished without closing its connections (a node lost) is noticed in seconds, not at the
//! next call's timeout. [`retry_idempotent`] retries a read that found its neighbour
//! unavailable, with backoff and jitter, within the deadline.

use std::collections::HashSet;
use std::future::Future;
use std::hash::{BuildHasher, RandomState};
use std::net::SocketAddr;
use std::task::{Context, Poll};
use std::time::Duration;

use csops_observability::{GrpcClientLayer, GrpcClientService, Metrics};
use tonic::transport::channel::Change;
use tonic::transport::{Channel, Endpoint, Uri};
use tower_layer::Layer as _;
use tower_service::Service;

use crate::auth::Credentials;
use crate::deadline::{self, GRPC_TIMEOUT};
use crate::tls::Tls;

/// How often the name is resolved again.
const RESOLVE_INTERVAL: Duration = Duration::from_secs(15);

/// How often an HTTP/2 ping checks a connection to a neighbour, idle or not.
pub const KEEPALIVE_INTERVAL: Duration = Duration::from_secs(20);

/// How long a ping may go unanswered before the connection is dropped.
pub const KEEPALIVE_TIMEOUT: Duration = Duration::from_secs(10);

/// How many times [`retry_idempotent`] calls at most.
pub const RETRY_ATTEMPTS: u32 = 3;

/// The first retry's backoff ceiling; it doubles on each retry (full jitter below it).
pub const RETRY_BACKOFF: Duration = Duration::from_millis(25);

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
pub type Observed = GrpcClientService<Deadlined<Channel>>;

/// Builds a lazily connecting, observed channel with a deadline per call, balanced per
/// request across the pods behind the neighbour's (headless) Service name; `None` for an empty
/// URL (the neighbour is not deployed) or a malformed one (logged).
///
/// Every call carries `credentials` (the service's own token) unless the request already has
/// an `authorization` header.
pub fn observed_channel(
    url: &str,
    timeout: Duration,
    metrics: &Metrics,
    credentials: &Credentials,
) -> Option<Observed> {
    if url.trim().is_empty() {
        return None;
    }
    match balanced_channel(url, timeout, credentials.tls()) {
        Ok(channel) => Some(
            GrpcClientLayer::with_metrics(metrics.clone()).layer(Deadlined {
                inner: channel,
                timeout,
                credentials: credentials.clone(),
            }),
        ),
        Err(error) => {
            tracing::warn!(%error, "bad neighbour url; calls will be treated as unreachable");
            None
        }
    }
}

/// Returns a channel to `url` (e.g. `http://customers:50051`) that connects lazily, applies
/// `timeout` to connecting and to every call, and balances across the resolved addresses.
/// An `https://` URL is called over TLS with `tls` (the neighbour's certificate must carry
/// the URL's host name and chain to `--tls-ca`); when the certificates are renewed, every
/// connection is replaced by one made with the new ones. Must be called inside a tokio
/// runtime: it spawns the resolver task, which ends when the channel is dropped.
pub fn balanced_channel(url: &str, timeout: Duration, tls: &Tls) -> Result<Channel, ClientError> {
    let invalid = |reason: &str| ClientError::InvalidUrl {
        url: url.to_owned(),
        reason: reason.to_owned(),
    };
    let uri: Uri = url.trim().parse().map_err(|_| invalid("not a URL"))?;
    let host = uri.host().ok_or_else(|| invalid("no host"))?.to_owned();
    let port = uri.port_u16().ok_or_else(|| invalid("no port"))?;
    let scheme = uri.scheme_str().unwrap_or("http").to_owned();
    let secure = scheme == "https";
    let name = host.trim_matches(['[', ']']).to_owned();
    if secure && tls.client_config(&name).is_none() {
        return Err(invalid(
            "https:// needs --tls-ca, the CA the neighbour's certificate chains to",
        ));
    }
    let renewals = tls.clone();
    let tls = tls.clone();
    let endpoint_for = move |addr: SocketAddr| -> Option<Endpoint> {
        let endpoint = Endpoint::from_shared(format!("{scheme}://{addr}")).ok()?;
        let endpoint = if secure {
            endpoint.tls_config(tls.client_config(&name)?).ok()?
        } else {
            endpoint
        };
        Some(configure(endpoint, timeout))
    };
    if !secure
        && host
            .trim_matches(['[', ']'])
            .parse::<std::net::IpAddr>()
            .is_ok()
    {
        let endpoint =
            Endpoint::from_shared(url.trim().to_owned()).map_err(|_| invalid("not a URL"))?;
        return Ok(configure(endpoint, timeout).connect_lazy());
    }
    let (channel, changes) = Channel::balance_channel::<SocketAddr>(64);
    // Over TLS the resolver also looks for renewed certificates, as often as they are read.
    let every = match renewals.reload_every() {
        Some(reload) if secure => reload.min(RESOLVE_INTERVAL),
        _ => RESOLVE_INTERVAL,
    };
    tokio::spawn(async move {
        let mut known: HashSet<SocketAddr> = HashSet::new();
        let mut generation = renewals.generation();
        loop {
            // Renewed certificates: every address gets a connection made with them (the
            // balancer replaces the service of the same key).
            if secure && renewals.generation() != generation {
                generation = renewals.generation();
                for addr in &known {
                    if let Some(endpoint) = endpoint_for(*addr) {
                        if changes.send(Change::Insert(*addr, endpoint)).await.is_err() {
                            return;
                        }
                    }
                }
            }
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
                () = tokio::time::sleep(every) => {}
                () = changes.closed() => return,
            }
        }
    });
    Ok(channel)
}

/// Timeouts and keepalive of every connection to a neighbour.
fn configure(endpoint: Endpoint, timeout: Duration) -> Endpoint {
    endpoint
        .connect_timeout(timeout)
        .timeout(timeout)
        .http2_keep_alive_interval(KEEPALIVE_INTERVAL)
        .keep_alive_timeout(KEEPALIVE_TIMEOUT)
        .keep_alive_while_idle(true)
}

/// A channel whose every call carries `grpc-timeout`: the shortest of the channel's timeout,
/// a timeout the request already carries, and what is left of the deadline of the call being
/// served; and the service's token.
#[derive(Debug, Clone)]
pub struct Deadlined<S> {
    inner: S,
    timeout: Duration,
    credentials: Credentials,
}

impl<S, B> Service<http::Request<B>> for Deadlined<S>
where
    S: Service<http::Request<B>>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: http::Request<B>) -> Self::Future {
        let asked = request
            .headers()
            .get(GRPC_TIMEOUT)
            .and_then(|v| v.to_str().ok())
            .and_then(deadline::parse_grpc_timeout);
        let budget = [Some(self.timeout), asked, deadline::remaining()]
            .into_iter()
            .flatten()
            .min()
            .unwrap_or(self.timeout);
        if let Ok(value) = http::HeaderValue::from_str(&deadline::format_grpc_timeout(budget)) {
            request.headers_mut().insert(GRPC_TIMEOUT, value);
        }
        if !request.headers().contains_key(http::header::AUTHORIZATION) {
            if let Some(token) = self.credentials.header() {
                request
                    .headers_mut()
                    .insert(http::header::AUTHORIZATION, token);
            }
        }
        self.inner.call(request)
    }
}

/// Calls `call` until it answers anything but UNAVAILABLE (or a connection that closed before
/// the answer, see [`worth_retrying`]), at most [`RETRY_ATTEMPTS`] times,
/// sleeping a random time below 25 ms, 50 ms, … between tries, and never past the deadline
/// of the call being served. Only for calls that may run twice (reads, or writes the
/// receiver makes idempotent); RESOURCE_EXHAUSTED (an overloaded neighbour) and timeouts are
/// not retried, so retries never multiply the load on a struggling neighbour.
pub async fn retry_idempotent<T, F, Fut>(mut call: F) -> Result<T, tonic::Status>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, tonic::Status>>,
{
    let mut attempt = 1;
    loop {
        let answer = call().await;
        match &answer {
            Err(status) if worth_retrying(status) && attempt < RETRY_ATTEMPTS => {
                let ceiling = RETRY_BACKOFF * 2u32.pow(attempt - 1);
                let pause = jitter(ceiling);
                if deadline::remaining().is_some_and(|left| left <= pause) {
                    return answer;
                }
                tracing::debug!(attempt, ?pause, "neighbour unavailable; retrying");
                tokio::time::sleep(pause).await;
                attempt += 1;
            }
            _ => return answer,
        }
    }
}

/// Whether a failed call may be tried again: UNAVAILABLE, or CANCELLED raised by this side's
/// transport (the status has a local source) — hyper's answer for a request still queued on
/// a connection the neighbour closed, as a stopping pod does after its GOAWAY. A CANCELLED
/// the neighbour itself sent (decoded from its trailers: no source) is not retried.
fn worth_retrying(status: &tonic::Status) -> bool {
    match status.code() {
        tonic::Code::Unavailable => true,
        tonic::Code::Cancelled => std::error::Error::source(status).is_some(),
        _ => false,
    }
}

/// A random duration in `[0, ceiling)` (full jitter), from the process's hash seed and a
/// counter: no random-number crate for a pause length.
fn jitter(ceiling: Duration) -> Duration {
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    thread_local! {
        static SEED: RandomState = RandomState::new();
    }
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let random = SEED.with(|seed| seed.hash_one(n));
    let nanos = u64::try_from(ceiling.as_nanos()).unwrap_or(u64::MAX).max(1);
    Duration::from_nanos(random % nanos)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    /// The `grpc-timeout` a neighbour receives for `request` through a channel whose own
    /// timeout is 5 s.
    async fn sent_timeout(request: http::Request<()>) -> Duration {
        let headers = sent_headers(request, Credentials::none()).await;
        deadline::parse_grpc_timeout(headers[GRPC_TIMEOUT].to_str().unwrap()).unwrap()
    }

    /// The headers a neighbour receives for `request` through a channel with `credentials`.
    async fn sent_headers(request: http::Request<()>, credentials: Credentials) -> http::HeaderMap {
        let mut channel = Deadlined {
            inner: tower::service_fn(|request: http::Request<()>| async move {
                Ok::<_, std::convert::Infallible>(request.headers().clone())
            }),
            timeout: Duration::from_secs(5),
            credentials,
        };
        channel.call(request).await.unwrap()
    }

    #[tokio::test]
    async fn a_neighbour_gets_the_services_token_unless_the_call_brings_its_own() {
        let service = Credentials::bearer("service.token.sig").unwrap();
        let headers = sent_headers(http::Request::new(()), service.clone()).await;
        assert_eq!(headers["authorization"], "Bearer service.token.sig");
        let own = http::Request::builder()
            .header("authorization", "Bearer caller.token.sig")
            .body(())
            .unwrap();
        let headers = sent_headers(own, service).await;
        assert_eq!(headers["authorization"], "Bearer caller.token.sig");
        let headers = sent_headers(http::Request::new(()), Credentials::none()).await;
        assert!(!headers.contains_key("authorization"));
    }

    #[tokio::test]
    async fn a_neighbour_gets_the_shortest_of_the_channel_timeout_the_request_and_the_callers_deadline(
    ) {
        assert_eq!(
            sent_timeout(http::Request::new(())).await,
            Duration::from_secs(5)
        );
        let asked = http::Request::builder()
            .header(GRPC_TIMEOUT, "2S")
            .body(())
            .unwrap();
        assert_eq!(sent_timeout(asked).await, Duration::from_secs(2));
        let left = deadline::within(
            Duration::from_millis(300),
            sent_timeout(http::Request::new(())),
        )
        .await;
        assert!(
            left <= Duration::from_millis(300) && left > Duration::ZERO,
            "{left:?}"
        );
        let longer_caller = deadline::within(
            Duration::from_secs(60),
            sent_timeout(http::Request::new(())),
        )
        .await;
        assert_eq!(longer_caller, Duration::from_secs(5));
    }

    async fn attempts_until(answers: Vec<tonic::Code>) -> (u32, tonic::Code) {
        let calls = std::sync::Arc::new(std::sync::atomic::AtomicU32::new(0));
        let counted = calls.clone();
        let result = retry_idempotent(|| {
            let n = counted.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            let code = answers[usize::try_from(n).unwrap().min(answers.len() - 1)];
            async move {
                if code == tonic::Code::Ok {
                    Ok(())
                } else {
                    Err(tonic::Status::new(code, "test"))
                }
            }
        })
        .await;
        let code = result.map_or_else(|s| s.code(), |()| tonic::Code::Ok);
        (calls.load(std::sync::atomic::Ordering::SeqCst), code)
    }

    #[tokio::test]
    async fn only_unavailable_is_retried_and_at_most_three_calls_are_made() {
        use tonic::Code::{Ok as Fine, ResourceExhausted, Unavailable};
        assert_eq!(attempts_until(vec![Unavailable, Fine]).await, (2, Fine));
        assert_eq!(attempts_until(vec![Unavailable]).await, (3, Unavailable));
        assert_eq!(
            attempts_until(vec![ResourceExhausted, Fine]).await,
            (1, ResourceExhausted)
        );
        assert_eq!(
            attempts_until(vec![tonic::Code::DeadlineExceeded, Fine]).await,
            (1, tonic::Code::DeadlineExceeded)
        );
    }

    #[test]
    fn a_connection_closed_under_a_call_is_retried_but_a_neighbours_cancel_is_not() {
        let mut closed = tonic::Status::cancelled("operation was canceled");
        closed.set_source(std::sync::Arc::new(std::io::Error::other(
            "connection closed",
        )));
        assert!(worth_retrying(&closed));
        assert!(!worth_retrying(&tonic::Status::cancelled(
            "Timeout expired"
        )));
        assert!(worth_retrying(&tonic::Status::unavailable("gone")));
        assert!(!worth_retrying(&tonic::Status::resource_exhausted("full")));
    }

    #[tokio::test]
    async fn no_retry_sleeps_past_the_callers_deadline() {
        let answer = deadline::within(
            Duration::ZERO,
            attempts_until(vec![tonic::Code::Unavailable, tonic::Code::Ok]),
        )
        .await;
        assert_eq!(answer, (1, tonic::Code::Unavailable));
    }

    #[test]
    fn jitter_stays_below_its_ceiling_and_varies() {
        let ceiling = Duration::from_millis(25);
        let pauses: HashSet<Duration> = (0..100).map(|_| jitter(ceiling)).collect();
        assert!(pauses.iter().all(|p| *p < ceiling));
        assert!(pauses.len() > 50, "pauses repeat: {}", pauses.len());
    }

    #[tokio::test]
    async fn urls_without_a_port_or_host_are_rejected() {
        assert!(balanced_channel("http://customers", Duration::from_secs(1), &Tls::off()).is_err());
        assert!(balanced_channel("not a url", Duration::from_secs(1), &Tls::off()).is_err());
        assert!(balanced_channel(
            "http://127.0.0.1:50051",
            Duration::from_secs(1),
            &Tls::off()
        )
        .is_ok());
        assert!(balanced_channel(
            "http://localhost:50051",
            Duration::from_secs(1),
            &Tls::off()
        )
        .is_ok());
    }

    #[tokio::test]
    async fn an_empty_or_malformed_url_gives_no_observed_channel() {
        let metrics = Metrics::new();
        let timeout = Duration::from_secs(1);
        assert!(observed_channel("", timeout, &metrics, &Credentials::none()).is_none());
        assert!(observed_channel("  ", timeout, &metrics, &Credentials::none()).is_none());
        assert!(
            observed_channel("http://visits", timeout, &metrics, &Credentials::none()).is_none()
        );
        assert!(observed_channel(
            "http://127.0.0.1:50053",
            timeout,
            &metrics,
            &Credentials::none()
        )
        .is_some());
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
        let channel = balanced_channel(
            &format!("http://localhost:{port}"),
            Duration::from_secs(2),
            &Tls::off(),
        )
        .unwrap();
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
