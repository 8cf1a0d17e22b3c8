//! RED metrics per RPC in a prometheus-client registry, and a tiny `/metrics` HTTP endpoint.

use std::fmt;
use std::future::Future;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use axum::http::header::CONTENT_TYPE;
use axum::http::StatusCode;
use axum::routing::get;
use axum::Router;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::{Metric, Registry};
use tokio::net::TcpListener;

/// Upper bounds, in seconds, of the request duration histogram buckets.
const DURATION_BUCKETS: [f64; 14] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

/// The `Content-Type` of the Prometheus text exposition format.
const PROMETHEUS_TEXT: &str = "text/plain; version=0.0.4; charset=utf-8";

/// How long a metrics client may take to send its request head.
const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(5);

/// How long shutdown waits for scrapes in flight.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(1);

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    service: String,
    method: String,
    code: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct MethodLabels {
    service: String,
    method: String,
}

type DurationFamily = Family<MethodLabels, Histogram, fn() -> Histogram>;

/// One side's RED families: calls by final status, and their durations.
struct Red {
    requests: Family<RequestLabels, Counter>,
    durations: DurationFamily,
}

impl Red {
    fn register(registry: &mut Registry, side: &str, counted: &str, timed: &str) -> Self {
        let requests = Family::<RequestLabels, Counter>::default();
        let durations: DurationFamily =
            Family::new_with_constructor(|| Histogram::new(DURATION_BUCKETS));
        registry.register(format!("grpc_{side}_requests"), counted, requests.clone());
        registry.register(
            format!("grpc_{side}_request_duration_seconds"),
            timed,
            durations.clone(),
        );
        Self {
            requests,
            durations,
        }
    }

    fn record(&self, service: &str, method: &str, code: tonic::Code, elapsed: Duration) {
        self.requests
            .get_or_create(&RequestLabels {
                service: service.to_owned(),
                method: method.to_owned(),
                code: code_name(code),
            })
            .inc();
        self.durations
            .get_or_create(&MethodLabels {
                service: service.to_owned(),
                method: method.to_owned(),
            })
            .observe(elapsed.as_secs_f64());
    }
}

struct Inner {
    registry: Mutex<Registry>,
    server: Red,
    client: Red,
}

/// The process's metrics: RED metrics per RPC plus whatever services register.
///
/// Cloning is cheap; clones share one registry.
#[derive(Clone)]
pub struct Metrics {
    inner: Arc<Inner>,
}

impl fmt::Debug for Metrics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// Creates a registry holding the gRPC RED metrics: calls this process served
    /// (`grpc_server_*`) and calls it made to its neighbours (`grpc_client_*`).
    pub fn new() -> Self {
        let mut registry = Registry::default();
        let server = Red::register(
            &mut registry,
            "server",
            "gRPC requests handled, by service, method and final status code",
            "Time from receiving a gRPC request to sending its final status, in seconds",
        );
        let client = Red::register(
            &mut registry,
            "client",
            "gRPC calls made to other services, by service, method and final status code",
            "Time from sending a gRPC call to receiving its final status, in seconds",
        );
        Self {
            inner: Arc::new(Inner {
                registry: Mutex::new(registry),
                server,
                client,
            }),
        }
    }

    /// Registers a service's own metric (a counter, gauge, family...) for exposition.
    ///
    /// Keep the metric handle: updating it updates what `/metrics` shows.
    pub fn register(&self, name: &str, help: &str, metric: impl Metric) {
        self.registry().register(name, help, metric);
    }

    /// Gives direct access to the registry, e.g. for sub-registries or collectors.
    pub fn registry(&self) -> MutexGuard<'_, Registry> {
        self.inner
            .registry
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Records one finished RPC this process served.
    pub fn record_grpc_request(
        &self,
        service: &str,
        method: &str,
        code: tonic::Code,
        elapsed: Duration,
    ) {
        self.inner.server.record(service, method, code, elapsed);
    }

    /// Records one finished call this process made to another service.
    pub fn record_grpc_client_request(
        &self,
        service: &str,
        method: &str,
        code: tonic::Code,
        elapsed: Duration,
    ) {
        self.inner.client.record(service, method, code, elapsed);
    }

    /// Renders every metric in the Prometheus text exposition format.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        let registry = self.registry();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode_registry(&mut out, &registry);
        out
    }
}

/// The canonical upper-case name of a gRPC status code, as used in the `code` label.
pub(crate) fn code_name(code: tonic::Code) -> &'static str {
    use tonic::Code;
    match code {
        Code::Ok => "OK",
        Code::Cancelled => "CANCELLED",
        Code::Unknown => "UNKNOWN",
        Code::InvalidArgument => "INVALID_ARGUMENT",
        Code::DeadlineExceeded => "DEADLINE_EXCEEDED",
        Code::NotFound => "NOT_FOUND",
        Code::AlreadyExists => "ALREADY_EXISTS",
        Code::PermissionDenied => "PERMISSION_DENIED",
        Code::ResourceExhausted => "RESOURCE_EXHAUSTED",
        Code::FailedPrecondition => "FAILED_PRECONDITION",
        Code::Aborted => "ABORTED",
        Code::OutOfRange => "OUT_OF_RANGE",
        Code::Unimplemented => "UNIMPLEMENTED",
        Code::Internal => "INTERNAL",
        Code::Unavailable => "UNAVAILABLE",
        Code::DataLoss => "DATA_LOSS",
        Code::Unauthenticated => "UNAUTHENTICATED",
    }
}

/// Serves `GET /metrics` in the Prometheus text format until `shutdown` completes.
///
/// Every other path answers 404, other methods on `/metrics` 405. Each connection serves one
/// request and is closed.
pub async fn serve_metrics(
    listener: TcpListener,
    metrics: Metrics,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let router = router(metrics);
    let mut http = http1::Builder::new();
    // hyper's builder rather than `axum::serve`, which can neither title-case header names
    // (some scrapers and scripts match them byte for byte) nor time out a client that never
    // finishes its request (graceful shutdown would then wait for it forever). A scrape comes
    // once per interval, so kept-alive connections would only be idle sockets.
    http.title_case_headers(true)
        .keep_alive(false)
        .timer(TokioTimer::new())
        .header_read_timeout(HEADER_READ_TIMEOUT);
    let connections = GracefulShutdown::new();

    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    let service = TowerToHyperService::new(router.clone());
                    let connection = http.serve_connection(TokioIo::new(stream), service);
                    let connection = connections.watch(connection);
                    tokio::spawn(async move {
                        if let Err(error) = connection.await {
                            tracing::debug!(%error, "metrics connection failed");
                        }
                    });
                }
                Err(error) => {
                    // Usually out of file descriptors: back off instead of spinning.
                    tracing::warn!(%error, "cannot accept a metrics connection");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            },
        }
    }

    // The caller waits for this future before it exits, so a client that never finishes its
    // request must not hold up the process for the whole header timeout.
    drop(listener);
    if tokio::time::timeout(SHUTDOWN_GRACE, connections.shutdown())
        .await
        .is_err()
    {
        tracing::debug!("metrics connections still open at shutdown; leaving them");
    }
    Ok(())
}

/// Routes `GET /metrics` (and so `HEAD`) to the registry; anything else is not found.
fn router(metrics: Metrics) -> Router {
    let scrape = get(move || {
        let metrics = metrics.clone();
        async move { ([(CONTENT_TYPE, PROMETHEUS_TEXT)], metrics.encode()) }
    });
    Router::new()
        .route("/metrics", scrape)
        .fallback(|| async { (StatusCode::NOT_FOUND, "not found\n") })
}

#[cfg(test)]
mod tests {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpStream;

    use super::*;

    #[test]
    fn encode_shows_request_counter_and_duration_histogram() {
        let metrics = Metrics::new();
        metrics.record_grpc_request("a.v1.S", "Get", tonic::Code::Ok, Duration::from_millis(3));
        metrics.record_grpc_request(
            "a.v1.S",
            "Get",
            tonic::Code::NotFound,
            Duration::from_millis(1),
        );
        let text = metrics.encode();
        assert!(
            text.contains(
                r#"grpc_server_requests_total{service="a.v1.S",method="Get",code="OK"} 1"#
            ),
            "{text}"
        );
        assert!(
            text.contains(
                r#"grpc_server_requests_total{service="a.v1.S",method="Get",code="NOT_FOUND"} 1"#
            ),
            "{text}"
        );
        assert!(
            text.contains(
                r#"grpc_server_request_duration_seconds_count{service="a.v1.S",method="Get"} 2"#
            ),
            "{text}"
        );
    }

    #[test]
    fn services_can_register_their_own_metrics() {
        let metrics = Metrics::new();
        let open = prometheus_client::metrics::gauge::Gauge::<i64>::default();
        metrics.register("complaints_open", "Open complaints", open.clone());
        open.set(7);
        assert!(metrics.encode().contains("complaints_open 7"));
    }

    #[tokio::test]
    async fn metrics_endpoint_serves_metrics_and_404_elsewhere() -> std::io::Result<()> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let metrics = Metrics::new();
        metrics.record_grpc_request("a.v1.S", "Get", tonic::Code::Ok, Duration::ZERO);
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(serve_metrics(listener, metrics, async {
            let _ = stopped.await;
        }));

        let ok = fetch(addr, "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n").await?;
        assert!(ok.starts_with("HTTP/1.1 200 OK\r\n"), "{ok}");
        assert!(
            ok.contains("Content-Type: text/plain; version=0.0.4"),
            "{ok}"
        );
        assert!(ok.contains("grpc_server_requests_total{"), "{ok}");

        let missing = fetch(addr, "GET /other HTTP/1.1\r\nHost: x\r\n\r\n").await?;
        assert!(
            missing.starts_with("HTTP/1.1 404 Not Found\r\n"),
            "{missing}"
        );

        let _ = stop.send(());
        assert!(matches!(server.await, Ok(Ok(()))));
        Ok(())
    }

    #[tokio::test]
    async fn metrics_endpoint_refuses_other_methods_and_answers_head_without_a_body(
    ) -> std::io::Result<()> {
        let (addr, stop, server) = spawn_endpoint().await?;

        let post = fetch(addr, "POST /metrics HTTP/1.1\r\nHost: x\r\n\r\n").await?;
        assert!(
            post.starts_with("HTTP/1.1 405 Method Not Allowed\r\n"),
            "{post}"
        );

        let head = fetch(addr, "HEAD /metrics HTTP/1.1\r\nHost: x\r\n\r\n").await?;
        assert!(head.starts_with("HTTP/1.1 200 OK\r\n"), "{head}");
        assert!(head.ends_with("\r\n\r\n"), "{head}");

        let _ = stop.send(());
        assert!(matches!(server.await, Ok(Ok(()))));
        Ok(())
    }

    #[tokio::test]
    async fn clients_that_never_finish_a_request_hold_up_neither_scrapes_nor_shutdown(
    ) -> std::io::Result<()> {
        let (addr, stop, server) = spawn_endpoint().await?;
        let _silent = TcpStream::connect(addr).await?;
        let mut half_sent = TcpStream::connect(addr).await?;
        half_sent.write_all(b"GET /metrics HTTP/1.1\r\n").await?;

        // Under the 5 s a client gets to send its request: a scrape stuck behind the silent
        // client would take at least that long; 4 s leaves a loaded machine room.
        let ok = tokio::time::timeout(
            Duration::from_secs(4),
            fetch(addr, "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n"),
        )
        .await
        .map_err(|_| std::io::Error::other("a scrape waited behind a silent client"))??;
        assert!(ok.starts_with("HTTP/1.1 200 OK\r\n"), "{ok}");

        // Neither can they hold up the process's shutdown.
        let _ = stop.send(());
        let stopped = tokio::time::timeout(Duration::from_secs(4), server).await;
        assert!(matches!(stopped, Ok(Ok(Ok(())))), "{stopped:?}");
        Ok(())
    }

    type Endpoint = (
        std::net::SocketAddr,
        tokio::sync::oneshot::Sender<()>,
        tokio::task::JoinHandle<std::io::Result<()>>,
    );

    async fn spawn_endpoint() -> std::io::Result<Endpoint> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(serve_metrics(listener, Metrics::new(), async {
            let _ = stopped.await;
        }));
        Ok((addr, stop, server))
    }

    async fn fetch(addr: std::net::SocketAddr, request: &str) -> std::io::Result<String> {
        let mut stream = TcpStream::connect(addr).await?;
        stream.write_all(request.as_bytes()).await?;
        let mut response = String::new();
        stream.read_to_string(&mut response).await?;
        Ok(response)
    }
}
