//! RED metrics per RPC in a prometheus-client registry, and a tiny `/metrics` HTTP endpoint.
//!
//! The duration histograms carry OpenMetrics exemplars: the last sampled call of each bucket
//! names its `trace_id` and `span_id`, so a dashboard can jump from a slow bucket to the trace.
//! Only the OpenMetrics text format has exemplars; `/metrics` serves it to scrapers that ask
//! for it (Prometheus does) and the Prometheus text format, without exemplars, to the rest.

use std::fmt;
use std::future::Future;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, SystemTime};

use axum::http::header::{ACCEPT, CONTENT_TYPE, VARY};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::get;
use axum::Router;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use opentelemetry::trace::{SpanContext, TraceContextExt as _};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::exemplar::HistogramWithExemplars;
use prometheus_client::metrics::family::Family;
use prometheus_client::registry::{Metric, Registry};
use tokio::net::TcpListener;
use tracing_opentelemetry::OpenTelemetrySpanExt as _;

/// Upper bounds, in seconds, of the request duration histogram buckets.
const DURATION_BUCKETS: [f64; 14] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

/// The `Content-Type` of the Prometheus text exposition format.
const PROMETHEUS_TEXT: &str = "text/plain; version=0.0.4; charset=utf-8";

/// The `Content-Type` of the OpenMetrics text format, the one that carries exemplars.
const OPENMETRICS_TEXT: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// OpenMetrics 0.0.1, what older Prometheus releases ask for: the same text as 1.0.0.
const OPENMETRICS_TEXT_0_0_1: &str = "application/openmetrics-text; version=0.0.1; charset=utf-8";

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

/// An exemplar's labels: the trace and span of the call an observation measured.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct TraceExemplar {
    trace_id: String,
    span_id: String,
}

impl TraceExemplar {
    /// The exemplar of a call that ran in `span`, if that span is sampled: an unsampled
    /// trace is never exported, so its id would lead nowhere.
    fn of(span: &SpanContext) -> Option<Self> {
        (span.is_valid() && span.is_sampled()).then(|| Self {
            trace_id: span.trace_id().to_string(),
            span_id: span.span_id().to_string(),
        })
    }
}

type DurationHistogram = HistogramWithExemplars<TraceExemplar>;
type DurationFamily = Family<MethodLabels, DurationHistogram, fn() -> DurationHistogram>;

/// One side's RED families: calls by final status, and their durations.
struct Red {
    requests: Family<RequestLabels, Counter>,
    durations: DurationFamily,
}

impl Red {
    fn register(registry: &mut Registry, side: &str, counted: &str, timed: &str) -> Self {
        let requests = Family::<RequestLabels, Counter>::default();
        let durations: DurationFamily = Family::new_with_constructor(|| {
            HistogramWithExemplars::new(DURATION_BUCKETS.into_iter())
        });
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

    fn record(
        &self,
        service: &str,
        method: &str,
        code: tonic::Code,
        elapsed: Duration,
        span: &SpanContext,
    ) {
        self.requests
            .get_or_create(&RequestLabels {
                service: service.to_owned(),
                method: method.to_owned(),
                code: code_name(code),
            })
            .inc();
        let exemplar = TraceExemplar::of(span);
        // Stamped with the observation's time: without one, Prometheus would stamp the same
        // exemplar with every scrape's time and show an old slow call as a recent one.
        let timestamp = exemplar.as_ref().map(|_| SystemTime::now());
        self.durations
            .get_or_create(&MethodLabels {
                service: service.to_owned(),
                method: method.to_owned(),
            })
            .observe(elapsed.as_secs_f64(), exemplar, timestamp);
    }
}

/// The context of the current span, whose trace an observation made now belongs to.
fn current_span_context() -> SpanContext {
    tracing::Span::current()
        .context()
        .span()
        .span_context()
        .clone()
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

    /// Records one finished RPC this process served; inside a sampled span, its duration
    /// carries that span's trace as an exemplar.
    pub fn record_grpc_request(
        &self,
        service: &str,
        method: &str,
        code: tonic::Code,
        elapsed: Duration,
    ) {
        let span = current_span_context();
        self.record_served(service, method, code, elapsed, &span);
    }

    /// Records one finished call this process made to another service; inside a sampled
    /// span, its duration carries that span's trace as an exemplar.
    pub fn record_grpc_client_request(
        &self,
        service: &str,
        method: &str,
        code: tonic::Code,
        elapsed: Duration,
    ) {
        let span = current_span_context();
        self.record_called(service, method, code, elapsed, &span);
    }

    /// Records one finished RPC this process served in the span `span`.
    pub(crate) fn record_served(
        &self,
        service: &str,
        method: &str,
        code: tonic::Code,
        elapsed: Duration,
        span: &SpanContext,
    ) {
        self.inner
            .server
            .record(service, method, code, elapsed, span);
    }

    /// Records one finished call to another service made in the span `span`.
    pub(crate) fn record_called(
        &self,
        service: &str,
        method: &str,
        code: tonic::Code,
        elapsed: Duration,
        span: &SpanContext,
    ) {
        self.inner
            .client
            .record(service, method, code, elapsed, span);
    }

    /// Renders every metric in the Prometheus text exposition format, without exemplars
    /// (that format has none, and its parsers reject them).
    pub fn encode(&self) -> String {
        strip_exemplars(&self.encode_registry())
    }

    /// Renders every metric in the OpenMetrics text format, exemplars and the closing
    /// `# EOF` included.
    pub fn encode_openmetrics(&self) -> String {
        let mut out = self.encode_registry();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode_eof(&mut out);
        out
    }

    /// The registry in prometheus-client's text encoding: OpenMetrics syntax, without `# EOF`.
    fn encode_registry(&self) -> String {
        let mut out = String::new();
        let registry = self.registry();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode_registry(&mut out, &registry);
        out
    }
}

/// Removes the exemplar (` # {labels} value [timestamp]`) that ends a sample line, from every
/// line of an OpenMetrics text; the rest of the text is valid Prometheus text as it stands.
fn strip_exemplars(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for line in text.split_inclusive('\n') {
        match exemplar_start(line) {
            Some(at) => {
                out.push_str(&line[..at]);
                out.push('\n');
            }
            None => out.push_str(line),
        }
    }
    out
}

/// Where the exemplar of a sample line starts, if it has one. A label value may hold ` # `, so
/// the search starts after the sample's label set.
fn exemplar_start(line: &str) -> Option<usize> {
    if line.starts_with('#') {
        return None;
    }
    let name_end = line.find(['{', ' '])?;
    let mut after_labels = name_end;
    if line[name_end..].starts_with('{') {
        let mut quoted = false;
        let mut escaped = false;
        let mut close = None;
        for (i, c) in line[name_end..].char_indices() {
            match (quoted, escaped, c) {
                (true, true, _) => escaped = false,
                (true, false, '\\') => escaped = true,
                (true, false, '"') => quoted = false,
                (true, false, _) => {}
                (false, _, '"') => quoted = true,
                (false, _, '}') => {
                    close = Some(name_end + i + 1);
                    break;
                }
                (false, _, _) => {}
            }
        }
        after_labels = close?;
    }
    line[after_labels..].find(" # ").map(|at| after_labels + at)
}

/// The OpenMetrics content type to answer a scrape with, or `None` for the Prometheus text
/// format.
///
/// OpenMetrics when the `Accept` header values (comma-joined) prefer it at least as much as
/// plain text: Prometheus's default scrape protocols rank it first. Clients that send no
/// `Accept`, or only `*/*` or `text/plain` (curl, scripts, older scrapers) keep the Prometheus
/// text format they always got.
fn negotiate(accept: &str) -> Option<&'static str> {
    let mut openmetrics: Option<(f32, &'static str)> = None;
    // The quality of text/plain: from its most specific range (text/plain, text/*, */*).
    let mut plain = [None::<f32>; 3];
    let raise = |slot: &mut Option<f32>, quality: f32| {
        *slot = Some(slot.map_or(quality, |q| q.max(quality)));
    };
    for range in accept.split(',') {
        let mut parts = range.split(';');
        let media = parts.next().unwrap_or_default().trim().to_ascii_lowercase();
        let mut quality = 1.0_f32;
        let mut version = None;
        for param in parts {
            let Some((key, value)) = param.split_once('=') else {
                continue;
            };
            let value = value.trim().trim_matches('"');
            match key.trim().to_ascii_lowercase().as_str() {
                "q" => quality = value.parse().unwrap_or(0.0),
                "version" => version = Some(value.to_owned()),
                _ => {}
            }
        }
        match media.as_str() {
            "application/openmetrics-text" => {
                let content_type = match version.as_deref() {
                    None | Some("1.0.0") => OPENMETRICS_TEXT,
                    Some("0.0.1") => OPENMETRICS_TEXT_0_0_1,
                    Some(_) => continue,
                };
                if openmetrics.is_none_or(|(best, _)| quality > best) {
                    openmetrics = Some((quality, content_type));
                }
            }
            "text/plain" => raise(&mut plain[0], quality),
            "text/*" => raise(&mut plain[1], quality),
            "*/*" => raise(&mut plain[2], quality),
            _ => {}
        }
    }
    let plain = plain.into_iter().flatten().next().unwrap_or(0.0);
    openmetrics
        .filter(|&(quality, _)| quality > 0.0 && quality >= plain)
        .map(|(_, content_type)| content_type)
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

/// Serves `GET /metrics` until `shutdown` completes: in the OpenMetrics text format (with
/// exemplars) when the scraper's `Accept` header asks for it, else in the Prometheus text format.
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
    let scrape = get(move |headers: HeaderMap| {
        let metrics = metrics.clone();
        async move {
            let accept = headers
                .get_all(ACCEPT)
                .iter()
                .filter_map(|value| value.to_str().ok())
                .collect::<Vec<_>>()
                .join(",");
            let (content_type, body) = match negotiate(&accept) {
                Some(openmetrics) => (openmetrics, metrics.encode_openmetrics()),
                None => (PROMETHEUS_TEXT, metrics.encode()),
            };
            // Caches between scraper and pod must not answer one format's request with the other.
            ([(CONTENT_TYPE, content_type), (VARY, "accept")], body)
        }
    });
    Router::new()
        .route("/metrics", scrape)
        .fallback(|| async { (StatusCode::NOT_FOUND, "not found\n") })
}

#[cfg(test)]
mod tests {
    use opentelemetry::trace::{SpanId, TraceFlags, TraceId, TraceState};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpStream;

    use super::*;

    const TRACE_ID: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
    const SPAN_ID: &str = "00f067aa0ba902b7";

    /// What Prometheus 2 sends with its default `scrape_protocols`.
    const PROMETHEUS_2_ACCEPT: &str = "application/openmetrics-text;version=1.0.0;q=0.5,\
        application/openmetrics-text;version=0.0.1;q=0.4,text/plain;version=0.0.4;q=0.3,*/*;q=0.2";

    fn span_context(flags: TraceFlags) -> SpanContext {
        SpanContext::new(
            TraceId::from_hex(TRACE_ID).expect("a valid trace id"),
            SpanId::from_hex(SPAN_ID).expect("a valid span id"),
            flags,
            true,
            TraceState::default(),
        )
    }

    #[test]
    fn a_sampled_call_leaves_its_trace_as_an_exemplar_in_openmetrics_only() {
        let metrics = Metrics::new();
        let sampled = span_context(TraceFlags::SAMPLED);
        metrics.record_served(
            "a.v1.S",
            "Get",
            tonic::Code::Ok,
            Duration::from_millis(3),
            &sampled,
        );
        metrics.record_called(
            "b.v1.P",
            "Put",
            tonic::Code::Ok,
            Duration::from_millis(30),
            &sampled,
        );

        let openmetrics = metrics.encode_openmetrics();
        let server_bucket = format!(
            r#"grpc_server_request_duration_seconds_bucket{{le="0.005",service="a.v1.S",method="Get"}} 1 # {{trace_id="{TRACE_ID}",span_id="{SPAN_ID}"}} 0.003 "#
        );
        let client_bucket = format!(
            r#"grpc_client_request_duration_seconds_bucket{{le="0.05",service="b.v1.P",method="Put"}} 1 # {{trace_id="{TRACE_ID}",span_id="{SPAN_ID}"}} 0.03 "#
        );
        for bucket in [&server_bucket, &client_bucket] {
            assert!(
                openmetrics.contains(bucket.as_str()),
                "{bucket}\nnot in\n{openmetrics}"
            );
        }
        assert!(openmetrics.ends_with("\n# EOF\n"), "{openmetrics}");
        // Only the bucket the call fell in carries it.
        assert_eq!(openmetrics.matches(TRACE_ID).count(), 2, "{openmetrics}");

        let plain = metrics.encode();
        assert!(!plain.contains(TRACE_ID), "{plain}");
        assert!(!plain.contains("# EOF"), "{plain}");
        assert!(
            plain.contains(
                "grpc_server_request_duration_seconds_bucket{le=\"0.005\",service=\"a.v1.S\",method=\"Get\"} 1\n"
            ),
            "{plain}"
        );
    }

    #[test]
    fn a_call_outside_a_sampled_span_leaves_no_exemplar() {
        let metrics = Metrics::new();
        let unsampled = span_context(TraceFlags::NOT_SAMPLED);
        metrics.record_served(
            "a.v1.S",
            "Get",
            tonic::Code::Ok,
            Duration::from_millis(3),
            &unsampled,
        );
        metrics.record_served(
            "a.v1.S",
            "Get",
            tonic::Code::Ok,
            Duration::from_millis(3),
            &SpanContext::empty_context(),
        );
        // No tracing subscriber in this test: the current span is none.
        metrics.record_grpc_request("a.v1.S", "Get", tonic::Code::Ok, Duration::from_millis(3));
        let openmetrics = metrics.encode_openmetrics();
        assert!(
            openmetrics.contains(
                r#"grpc_server_request_duration_seconds_count{service="a.v1.S",method="Get"} 3"#
            ),
            "{openmetrics}"
        );
        assert!(!openmetrics.contains(" # {"), "{openmetrics}");
    }

    #[test]
    fn stripping_exemplars_leaves_label_values_that_look_like_one_alone() {
        let text = "# HELP x_seconds A # {b} help.\n\
            x_bucket{le=\"1.0\"} 2 # {trace_id=\"ab\"} 0.5 1700000000.5\n\
            y_total{path=\"/a # {b}\\\" # {c}\"} 1\n\
            z_total 3 # {trace_id=\"cd\"} 1.0\n";
        assert_eq!(
            strip_exemplars(text),
            "# HELP x_seconds A # {b} help.\n\
            x_bucket{le=\"1.0\"} 2\n\
            y_total{path=\"/a # {b}\\\" # {c}\"} 1\n\
            z_total 3\n"
        );
    }

    #[test]
    fn openmetrics_is_served_when_the_scraper_prefers_it() {
        let prometheus_3 = "application/openmetrics-text;version=1.0.0;escaping=allow-utf-8;q=0.5,\
            application/openmetrics-text;version=0.0.1;q=0.4,\
            text/plain;version=1.0.0;escaping=allow-utf-8;q=0.3,text/plain;version=0.0.4;q=0.2,*/*;q=0.1";
        let native_histograms_first = "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited;q=0.5,\
            application/openmetrics-text;version=1.0.0;q=0.4,text/plain;version=0.0.4;q=0.2,*/*;q=0.1";
        for (accept, expected) in [
            (PROMETHEUS_2_ACCEPT, Some(OPENMETRICS_TEXT)),
            (prometheus_3, Some(OPENMETRICS_TEXT)),
            (native_histograms_first, Some(OPENMETRICS_TEXT)),
            // Older Prometheus releases.
            (
                "application/openmetrics-text; version=0.0.1,text/plain;version=0.0.4;q=0.5,*/*;q=0.1",
                Some(OPENMETRICS_TEXT_0_0_1),
            ),
            ("Application/OpenMetrics-Text", Some(OPENMETRICS_TEXT)),
            ("", None),
            ("*/*", None),
            ("text/plain", None),
            ("text/plain;version=0.0.4, application/openmetrics-text;q=0.9", None),
            ("*/*;q=0.8, application/openmetrics-text;q=0.9", Some(OPENMETRICS_TEXT)),
            ("application/openmetrics-text;q=0", None),
            ("application/openmetrics-text;version=2.0.0", None),
        ] {
            assert_eq!(negotiate(accept), expected, "{accept}");
        }
    }

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
        assert!(!ok.contains("# EOF"), "{ok}");

        let request =
            format!("GET /metrics HTTP/1.1\r\nHost: x\r\nAccept: {PROMETHEUS_2_ACCEPT}\r\n\r\n");
        let openmetrics = fetch(addr, &request).await?;
        assert!(
            openmetrics.starts_with("HTTP/1.1 200 OK\r\n"),
            "{openmetrics}"
        );
        assert!(
            openmetrics.contains(
                "Content-Type: application/openmetrics-text; version=1.0.0; charset=utf-8\r\n"
            ),
            "{openmetrics}"
        );
        assert!(openmetrics.contains("Vary: accept\r\n"), "{openmetrics}");
        assert!(
            openmetrics.contains("grpc_server_requests_total{"),
            "{openmetrics}"
        );
        assert!(openmetrics.ends_with("\n# EOF\n"), "{openmetrics}");

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
