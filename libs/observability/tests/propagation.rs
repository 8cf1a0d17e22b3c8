//! The interceptor's trace context becomes the parent of the server span the layer opens.
//!
//! Its own test binary: it installs a subscriber, and tracing's per-callsite interest cache is
//! process-wide, so a test running beside it without a subscriber could switch its spans off.

use std::convert::Infallible;
use std::sync::{Arc, Mutex};

use csops_observability::{GrpcServerLayer, Metrics, TracingInterceptor};
use opentelemetry::trace::{TraceContextExt as _, TraceId, TracerProvider as _};
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tonic::service::Interceptor as _;
use tower::{Layer as _, ServiceExt as _};
use tracing::Span;
use tracing_opentelemetry::OpenTelemetrySpanExt as _;
use tracing_subscriber::layer::SubscriberExt as _;

#[tokio::test]
async fn interceptor_context_becomes_the_server_span_parent() {
    opentelemetry::global::set_text_map_propagator(TraceContextPropagator::new());
    let provider = SdkTracerProvider::builder().build();
    let subscriber = tracing_subscriber::registry()
        .with(tracing_opentelemetry::layer().with_tracer(provider.tracer("test")));
    let _default = tracing::subscriber::set_default(subscriber);

    let seen = Arc::new(Mutex::new(None::<TraceId>));
    let server = GrpcServerLayer::new(Metrics::new()).layer(tower::service_fn({
        let seen = Arc::clone(&seen);
        move |_: http::Request<()>| {
            let trace_id = Span::current().context().span().span_context().trace_id();
            *seen.lock().expect("not poisoned") = Some(trace_id);
            async { Ok::<_, Infallible>(http::Response::new(String::new())) }
        }
    }));

    let client_span = tracing::info_span!("client call", otel.kind = "client");
    let client_trace_id = client_span.context().span().span_context().trace_id();
    assert_ne!(client_trace_id, TraceId::INVALID);
    let outgoing = client_span.in_scope(|| TracingInterceptor.call(tonic::Request::new(())));
    let headers = outgoing
        .expect("interceptor never fails")
        .metadata()
        .clone()
        .into_headers();
    assert!(headers.contains_key("traceparent"), "{headers:?}");

    let mut incoming = http::Request::new(());
    *incoming.uri_mut() = http::Uri::from_static("/a.v1.Svc/Get");
    *incoming.headers_mut() = headers;
    let _ = server.oneshot(incoming).await;

    let server_trace_id = *seen.lock().expect("not poisoned");
    assert_eq!(server_trace_id, Some(client_trace_id));
}
