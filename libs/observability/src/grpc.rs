//! Tower layers that trace gRPC calls and count them, and the client trace interceptor.
//!
//! Only the RPC path, the status code and the W3C trace headers are read; request and
//! response bodies and all other metadata are never recorded, so personal data carried in
//! messages cannot reach logs or spans.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{ready, Context, Poll};
use std::time::Instant;

use http_body::{Body, Frame, SizeHint};
use opentelemetry::trace::{SpanContext, TraceContextExt as _};
use pin_project_lite::pin_project;
use tonic::Code;
use tower_layer::Layer;
use tower_service::Service;
use tracing::field::Empty;
use tracing::Span;
use tracing_opentelemetry::OpenTelemetrySpanExt as _;

use crate::metrics::{code_name, Metrics};
use crate::propagation::{extract_context, inject_context, inject_metadata};

/// The label and attribute value used when a path does not name a real RPC.
const UNKNOWN: &str = "unknown";

/// The longest path taken as an RPC name; longer ones are `unknown`.
const MAX_PATH_LEN: usize = 256;

/// The service and method a gRPC request path names.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Rpc {
    service: String,
    method: String,
}

impl Rpc {
    /// Parses `/package.Service/Method`; anything else becomes `unknown/unknown` so odd
    /// paths cannot inflate span names or metric label sets.
    fn from_path(path: &str) -> Self {
        let valid = |s: &str| {
            !s.is_empty()
                && s.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'_')
        };
        path.strip_prefix('/')
            .filter(|_| path.len() <= MAX_PATH_LEN)
            .and_then(|p| p.split_once('/'))
            .filter(|(service, method)| valid(service) && valid(method))
            .map_or_else(
                || Rpc {
                    service: UNKNOWN.to_owned(),
                    method: UNKNOWN.to_owned(),
                },
                |(service, method)| Rpc {
                    service: service.to_owned(),
                    method: method.to_owned(),
                },
            )
    }

    fn span_name(&self) -> String {
        format!("{}/{}", self.service, self.method)
    }
}

/// Reads the `grpc-status` header or trailer as a code.
fn grpc_status(headers: &http::HeaderMap) -> Option<Code> {
    let value = headers.get("grpc-status")?;
    let code = value.to_str().ok()?.trim().parse::<i32>().ok()?;
    Some(Code::from(code))
}

/// Tells whether a server should mark its span as failed for this code (OpenTelemetry
/// gRPC semantic conventions: client errors are not server errors).
fn is_server_error(code: Code) -> bool {
    matches!(
        code,
        Code::Unknown
            | Code::DeadlineExceeded
            | Code::Unimplemented
            | Code::Internal
            | Code::Unavailable
            | Code::DataLoss
    )
}

/// Whether a call is observed on the serving or the calling side.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Side {
    Server,
    Client,
}

/// The state of one call until its final status is known; finishing records the span
/// status and metrics. Dropped unfinished (the peer went away), the call counts as cancelled.
struct CallGuard {
    span: Span,
    /// The OpenTelemetry side of `span`: its trace becomes the duration's exemplar. Read once
    /// when the call starts, because the call may finish outside the span (a dropped body).
    span_context: SpanContext,
    rpc: Rpc,
    side: Side,
    start: Instant,
    metrics: Option<Metrics>,
    finished: bool,
}

impl fmt::Debug for CallGuard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CallGuard")
            .field("rpc", &self.rpc)
            .field("side", &self.side)
            .field("finished", &self.finished)
            .finish_non_exhaustive()
    }
}

impl CallGuard {
    fn finish(&mut self, code: Code) {
        if std::mem::replace(&mut self.finished, true) {
            return;
        }
        let elapsed = self.start.elapsed();
        // Unknown paths all answer UNIMPLEMENTED; folding them keeps label sets bounded.
        let (service, method) = if code == Code::Unimplemented {
            (UNKNOWN, UNKNOWN)
        } else {
            (self.rpc.service.as_str(), self.rpc.method.as_str())
        };
        if let Some(metrics) = &self.metrics {
            let span = &self.span_context;
            match self.side {
                Side::Server => metrics.record_served(service, method, code, elapsed, span),
                Side::Client => metrics.record_called(service, method, code, elapsed, span),
            }
        }
        self.span.record("rpc.grpc.status_code", code as i64);
        let failed = match self.side {
            Side::Server => is_server_error(code),
            Side::Client => code != Code::Ok,
        };
        if failed {
            self.span.record("otel.status_code", "ERROR");
        }
        tracing::debug!(
            parent: &self.span,
            rpc.grpc.status_code = code as i64,
            grpc.code = code_name(code),
            elapsed_ms = elapsed.as_secs_f64() * 1000.0,
            "grpc call finished"
        );
    }
}

impl Drop for CallGuard {
    fn drop(&mut self) {
        self.finish(Code::Cancelled);
    }
}

pin_project! {
    /// A response body that reports the call's final gRPC status when it ends.
    pub struct ObservedBody<B> {
        #[pin]
        inner: B,
        guard: Option<CallGuard>,
        code: Option<Code>,
    }
}

impl<B> fmt::Debug for ObservedBody<B> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ObservedBody")
            .field("guard", &self.guard)
            .field("code", &self.code)
            .finish_non_exhaustive()
    }
}

impl<B> ObservedBody<B> {
    fn new(inner: B, guard: Option<CallGuard>) -> Self {
        Self {
            inner,
            guard,
            code: None,
        }
    }
}

impl<B: Body> Body for ObservedBody<B> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        let mut this = self.project();
        let polled = {
            // Streaming handlers produce messages while the body is polled.
            let _entered = this.guard.as_ref().map(|g| g.span.enter());
            ready!(this.inner.as_mut().poll_frame(cx))
        };
        match &polled {
            Some(Ok(frame)) => {
                if let Some(trailers) = frame.trailers_ref() {
                    *this.code = grpc_status(trailers);
                }
                // Trailers end a gRPC body; peers often stop polling once they arrive.
                if frame.is_trailers() || this.inner.is_end_stream() {
                    if let Some(mut guard) = this.guard.take() {
                        guard.finish(this.code.unwrap_or(Code::Ok));
                    }
                }
            }
            Some(Err(_)) => {
                if let Some(mut guard) = this.guard.take() {
                    guard.finish(Code::Unknown);
                }
            }
            None => {
                // A body that ends without a status is a unary call that succeeded.
                if let Some(mut guard) = this.guard.take() {
                    guard.finish(this.code.unwrap_or(Code::Ok));
                }
            }
        }
        Poll::Ready(polled)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

pin_project! {
    /// The response future of the gRPC layers.
    pub struct ResponseFuture<F> {
        #[pin]
        inner: F,
        guard: Option<CallGuard>,
    }
}

impl<F> fmt::Debug for ResponseFuture<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResponseFuture")
            .field("guard", &self.guard)
            .finish_non_exhaustive()
    }
}

impl<F, B, E> Future for ResponseFuture<F>
where
    F: Future<Output = Result<http::Response<B>, E>>,
{
    type Output = Result<http::Response<ObservedBody<B>>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let result = {
            let _entered = this.guard.as_ref().map(|g| g.span.enter());
            ready!(this.inner.poll(cx))
        };
        let mut guard = this.guard.take();
        Poll::Ready(match result {
            Err(error) => {
                if let Some(guard) = &mut guard {
                    // A client that could not reach its peer sees UNAVAILABLE (as tonic
                    // reports a transport error).
                    guard.finish(match guard.side {
                        Side::Client => Code::Unavailable,
                        Side::Server => Code::Unknown,
                    });
                }
                Err(error)
            }
            Ok(response) => {
                // A trailers-only response (most errors) carries its status in the headers.
                if let (Some(code), Some(guard)) = (grpc_status(response.headers()), &mut guard) {
                    guard.finish(code);
                }
                Ok(response.map(|body| ObservedBody::new(body, guard)))
            }
        })
    }
}

/// A tower layer for `tonic::transport::Server::builder().layer(..)` that traces and
/// counts every RPC.
///
/// Each request gets a span named after the RPC (`package.Service/Method`) with
/// `otel.kind = "server"`, `rpc.system`, `rpc.service`, `rpc.method` and, once known,
/// `rpc.grpc.status_code`; its parent is the caller's span from the W3C `traceparent`
/// and `tracestate` headers. The request is counted in `grpc_server_requests_total` and
/// timed in `grpc_server_request_duration_seconds`; when its span is sampled, the timing
/// carries the span's trace and span ids as an exemplar.
#[derive(Clone, Debug)]
pub struct GrpcServerLayer {
    metrics: Metrics,
}

impl GrpcServerLayer {
    /// Creates the layer, recording into `metrics`.
    pub fn new(metrics: Metrics) -> Self {
        Self { metrics }
    }
}

impl<S> Layer<S> for GrpcServerLayer {
    type Service = GrpcServerService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        GrpcServerService {
            inner,
            metrics: self.metrics.clone(),
        }
    }
}

/// The service produced by [`GrpcServerLayer`].
#[derive(Clone, Debug)]
pub struct GrpcServerService<S> {
    inner: S,
    metrics: Metrics,
}

impl<S, ReqBody, ResBody> Service<http::Request<ReqBody>> for GrpcServerService<S>
where
    S: Service<http::Request<ReqBody>, Response = http::Response<ResBody>>,
{
    type Response = http::Response<ObservedBody<ResBody>>;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<ReqBody>) -> Self::Future {
        let rpc = Rpc::from_path(request.uri().path());
        let span = tracing::info_span!(
            "grpc.server",
            otel.name = %rpc.span_name(),
            otel.kind = "server",
            otel.status_code = Empty,
            rpc.system = "grpc",
            rpc.service = %rpc.service,
            rpc.method = %rpc.method,
            rpc.grpc.status_code = Empty,
        );
        let parent = extract_context(request.headers());
        if parent.span().span_context().is_valid() {
            // Fails only when no OpenTelemetry layer is installed, and then there is no trace.
            let _ = span.set_parent(parent);
        }
        // Log lines inside the call carry its trace and span ids (the log formats add them), so
        // logs and traces can be joined; the span itself need not repeat its trace id.
        let span_context = span.context().span().span_context().clone();
        let inner = {
            let _entered = span.enter();
            self.inner.call(request)
        };
        ResponseFuture {
            inner,
            guard: Some(CallGuard {
                span,
                span_context,
                rpc,
                side: Side::Server,
                start: Instant::now(),
                metrics: Some(self.metrics.clone()),
                finished: false,
            }),
        }
    }
}

/// A tower layer for a client `Channel` that opens an `otel.kind = "client"` span per call,
/// sends its context as W3C `traceparent`/`tracestate` headers and, built
/// [`with_metrics`](Self::with_metrics), counts the call in `grpc_client_requests_total` and
/// times it in `grpc_client_request_duration_seconds` (with the client span's trace as an
/// exemplar when it is sampled).
///
/// `CustomersServiceClient::new(ServiceBuilder::new().layer(GrpcClientLayer::new()).service(channel))`
#[derive(Clone, Debug, Default)]
pub struct GrpcClientLayer {
    metrics: Option<Metrics>,
}

impl GrpcClientLayer {
    /// Creates the layer (spans and propagation only).
    pub fn new() -> Self {
        Self::default()
    }

    /// Creates the layer, also recording client RED metrics into `metrics`.
    pub fn with_metrics(metrics: Metrics) -> Self {
        Self {
            metrics: Some(metrics),
        }
    }
}

impl<S> Layer<S> for GrpcClientLayer {
    type Service = GrpcClientService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        GrpcClientService {
            inner,
            metrics: self.metrics.clone(),
        }
    }
}

/// The service produced by [`GrpcClientLayer`].
#[derive(Clone, Debug)]
pub struct GrpcClientService<S> {
    inner: S,
    metrics: Option<Metrics>,
}

impl<S, ReqBody, ResBody> Service<http::Request<ReqBody>> for GrpcClientService<S>
where
    S: Service<http::Request<ReqBody>, Response = http::Response<ResBody>>,
{
    type Response = http::Response<ObservedBody<ResBody>>;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: http::Request<ReqBody>) -> Self::Future {
        let rpc = Rpc::from_path(request.uri().path());
        let span = tracing::info_span!(
            "grpc.client",
            otel.name = %rpc.span_name(),
            otel.kind = "client",
            otel.status_code = Empty,
            rpc.system = "grpc",
            rpc.service = %rpc.service,
            rpc.method = %rpc.method,
            rpc.grpc.status_code = Empty,
        );
        let context = span.context();
        inject_context(&context, request.headers_mut());
        let span_context = context.span().span_context().clone();
        let inner = {
            let _entered = span.enter();
            self.inner.call(request)
        };
        ResponseFuture {
            inner,
            guard: Some(CallGuard {
                span,
                span_context,
                rpc,
                side: Side::Client,
                start: Instant::now(),
                metrics: self.metrics.clone(),
                finished: false,
            }),
        }
    }
}

/// A tonic interceptor that sends the current span's context as W3C `traceparent` and
/// `tracestate` metadata, so the callee's spans join the caller's trace.
///
/// `CustomersServiceClient::with_interceptor(channel, TracingInterceptor)`
#[derive(Clone, Copy, Debug, Default)]
pub struct TracingInterceptor;

impl tonic::service::Interceptor for TracingInterceptor {
    fn call(
        &mut self,
        mut request: tonic::Request<()>,
    ) -> Result<tonic::Request<()>, tonic::Status> {
        inject_metadata(&Span::current().context(), request.metadata_mut());
        Ok(request)
    }
}

#[cfg(test)]
mod tests {
    use std::convert::Infallible;

    use tower::ServiceExt as _;

    use super::*;

    /// A body that sends one message and then the given status in trailers, like a stream.
    struct TrailersBody {
        frames: Vec<Frame<bytes_like::Bytes>>,
    }

    mod bytes_like {
        pub(super) type Bytes = std::io::Cursor<Vec<u8>>;
    }

    impl TrailersBody {
        fn with_status(code: Code) -> Self {
            let mut trailers = http::HeaderMap::new();
            trailers.insert("grpc-status", http::HeaderValue::from(code as i32));
            Self {
                frames: vec![
                    Frame::trailers(trailers),
                    Frame::data(std::io::Cursor::new(b"message".to_vec())),
                ],
            }
        }
    }

    impl Body for TrailersBody {
        type Data = bytes_like::Bytes;
        type Error = Infallible;

        fn poll_frame(
            mut self: Pin<&mut Self>,
            _: &mut Context<'_>,
        ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
            Poll::Ready(self.frames.pop().map(Ok))
        }
    }

    async fn drain<B: Body + Unpin>(mut body: B) {
        while let Some(frame) = std::future::poll_fn(|cx| Pin::new(&mut body).poll_frame(cx)).await
        {
            assert!(frame.is_ok());
        }
    }

    fn request(path: &str) -> http::Request<()> {
        let mut request = http::Request::new(());
        *request.uri_mut() = http::Uri::try_from(path).expect("valid test path");
        request
    }

    fn trailers_only(code: Code) -> http::Response<String> {
        let mut response = http::Response::new(String::new());
        response
            .headers_mut()
            .insert("grpc-status", http::HeaderValue::from(code as i32));
        response
    }

    #[test]
    fn rpc_paths_parse_into_service_and_method_and_odd_paths_are_unknown() {
        let rpc = Rpc::from_path("/csops.customers.v1.CustomersService/GetCustomer");
        assert_eq!(rpc.service, "csops.customers.v1.CustomersService");
        assert_eq!(rpc.method, "GetCustomer");
        assert_eq!(
            rpc.span_name(),
            "csops.customers.v1.CustomersService/GetCustomer"
        );
        for odd in ["/", "/a", "/a/", "//b", "/a/b/c", "/a b/c", "no-slash"] {
            assert_eq!(Rpc::from_path(odd).service, UNKNOWN, "{odd}");
        }
    }

    #[tokio::test]
    async fn server_layer_counts_requests_by_final_status_code() {
        let metrics = Metrics::new();
        let layer = GrpcServerLayer::new(metrics.clone());

        // Unary success: no status in headers, body ends without trailers.
        let ok = layer.layer(tower::service_fn(|_: http::Request<()>| async {
            Ok::<_, Infallible>(http::Response::new(String::from("payload")))
        }));
        let response = ok.oneshot(request("/a.v1.Svc/Get")).await;
        drain(response.expect("infallible").into_body()).await;

        // Trailers-only error response.
        let not_found = layer.layer(tower::service_fn(|_: http::Request<()>| async {
            Ok::<_, Infallible>(trailers_only(Code::NotFound))
        }));
        let response = not_found.oneshot(request("/a.v1.Svc/Get")).await;
        drain(response.expect("infallible").into_body()).await;

        // Streaming response whose final status arrives in trailers.
        let streaming = layer.layer(tower::service_fn(|_: http::Request<()>| async {
            Ok::<_, Infallible>(http::Response::new(TrailersBody::with_status(
                Code::PermissionDenied,
            )))
        }));
        let response = streaming.oneshot(request("/a.v1.Svc/Watch")).await;
        drain(response.expect("infallible").into_body()).await;

        let text = metrics.encode();
        for line in [
            r#"grpc_server_requests_total{service="a.v1.Svc",method="Get",code="OK"} 1"#,
            r#"grpc_server_requests_total{service="a.v1.Svc",method="Get",code="NOT_FOUND"} 1"#,
            r#"grpc_server_requests_total{service="a.v1.Svc",method="Watch",code="PERMISSION_DENIED"} 1"#,
            r#"grpc_server_request_duration_seconds_count{service="a.v1.Svc",method="Get"} 2"#,
        ] {
            assert!(text.contains(line), "missing {line} in\n{text}");
        }
    }

    #[tokio::test]
    async fn client_layer_counts_calls_by_status_and_an_unreachable_peer_as_unavailable() {
        let metrics = Metrics::new();
        let layer = GrpcClientLayer::with_metrics(metrics.clone());

        let not_found = layer.layer(tower::service_fn(|_: http::Request<()>| async {
            Ok::<_, Infallible>(trailers_only(Code::NotFound))
        }));
        let response = not_found.oneshot(request("/a.v1.Peer/Get")).await;
        drain(response.expect("infallible").into_body()).await;

        // The transport failed: no response at all.
        let refused = layer.layer(tower::service_fn(|_: http::Request<()>| async {
            Err::<http::Response<String>, _>(std::io::Error::from(
                std::io::ErrorKind::ConnectionRefused,
            ))
        }));
        assert!(refused.oneshot(request("/a.v1.Peer/Get")).await.is_err());

        let text = metrics.encode();
        for line in [
            r#"grpc_client_requests_total{service="a.v1.Peer",method="Get",code="NOT_FOUND"} 1"#,
            r#"grpc_client_requests_total{service="a.v1.Peer",method="Get",code="UNAVAILABLE"} 1"#,
            r#"grpc_client_request_duration_seconds_count{service="a.v1.Peer",method="Get"} 2"#,
        ] {
            assert!(text.contains(line), "missing {line} in\n{text}");
        }
        assert!(
            !text.contains("grpc_server_requests_total{"),
            "client calls are not counted as served:\n{text}"
        );
    }

    #[tokio::test]
    async fn server_layer_takes_the_trailer_status_even_if_the_body_is_dropped_after_it() {
        let metrics = Metrics::new();
        let service = GrpcServerLayer::new(metrics.clone()).layer(tower::service_fn(
            |_: http::Request<()>| async {
                Ok::<_, Infallible>(http::Response::new(TrailersBody::with_status(
                    Code::Aborted,
                )))
            },
        ));
        let response = service.oneshot(request("/a.v1.Svc/Update")).await;
        let mut body = response.expect("infallible").into_body();
        // Read the message and the trailers, then stop, as h2 does.
        for _ in 0..2 {
            let frame = std::future::poll_fn(|cx| Pin::new(&mut body).poll_frame(cx)).await;
            assert!(matches!(frame, Some(Ok(_))));
        }
        drop(body);
        assert!(metrics
            .encode()
            .contains(r#"{service="a.v1.Svc",method="Update",code="ABORTED"} 1"#));
    }

    #[tokio::test]
    async fn server_layer_counts_a_response_dropped_before_its_end_as_cancelled() {
        let metrics = Metrics::new();
        let service = GrpcServerLayer::new(metrics.clone()).layer(tower::service_fn(
            |_: http::Request<()>| async {
                Ok::<_, Infallible>(http::Response::new(TrailersBody::with_status(Code::Ok)))
            },
        ));
        let response = service.oneshot(request("/a.v1.Svc/Watch")).await;
        drop(response);
        assert!(metrics
            .encode()
            .contains(r#"{service="a.v1.Svc",method="Watch",code="CANCELLED"} 1"#));
    }
}
