//! A scrape of `/metrics` leads from the latency histograms to the trace of a sampled call.
//!
//! Its own test binary: it installs a subscriber, and tracing's per-callsite interest cache is
//! process-wide, so a test running beside it without a subscriber could switch its spans off.
#![allow(clippy::unwrap_used)]

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use csops_observability::{serve_metrics, GrpcClientLayer, GrpcServerLayer, Metrics};
use opentelemetry::trace::{SpanContext, TraceContextExt as _, TracerProvider as _};
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};
use tonic::transport::{server::TcpIncoming, Endpoint, Server};
use tonic_health::pb::health_client::HealthClient;
use tonic_health::pb::HealthCheckRequest;
use tower::{Layer as _, ServiceExt as _};
use tracing::subscriber::DefaultGuard;
use tracing::{Instrument as _, Span};
use tracing_opentelemetry::OpenTelemetrySpanExt as _;
use tracing_subscriber::layer::SubscriberExt as _;

/// What Prometheus sends with its default `scrape_protocols`.
const PROMETHEUS_ACCEPT: &str = "application/openmetrics-text;version=1.0.0;q=0.5,\
    application/openmetrics-text;version=0.0.1;q=0.4,text/plain;version=0.0.4;q=0.3,*/*;q=0.2";

/// Traces every span whose caller did not decide otherwise (the SDK's default parent-based
/// always-on sampler), for this test's thread.
fn install_tracing() -> DefaultGuard {
    opentelemetry::global::set_text_map_propagator(TraceContextPropagator::new());
    let provider = SdkTracerProvider::builder().build();
    let subscriber = tracing_subscriber::registry()
        .with(tracing_opentelemetry::layer().with_tracer(provider.tracer("exemplars-test")));
    tracing::subscriber::set_default(subscriber)
}

/// A `/metrics` endpoint on a random port; it stops when the returned sender is dropped.
async fn metrics_endpoint(metrics: Metrics) -> (SocketAddr, tokio::sync::oneshot::Sender<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(serve_metrics(listener, metrics, async {
        let _ = stopped.await;
    }));
    (addr, stop)
}

/// One scrape: the response's head and body.
async fn scrape(addr: SocketAddr, accept: Option<&str>) -> (String, String) {
    let accept = accept.map_or_else(String::new, |a| format!("Accept: {a}\r\n"));
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream
        .write_all(format!("GET /metrics HTTP/1.1\r\nHost: x\r\n{accept}\r\n").as_bytes())
        .await
        .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).await.unwrap();
    let (head, body) = response.split_once("\r\n\r\n").unwrap();
    assert!(head.starts_with("HTTP/1.1 200 OK\r\n"), "{head}");
    (head.to_owned(), body.to_owned())
}

/// Scrapes in the OpenMetrics format until `done` holds for the body, for at most 30 s.
async fn scrape_until(addr: SocketAddr, done: impl Fn(&str) -> bool) -> String {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let (head, body) = scrape(addr, Some(PROMETHEUS_ACCEPT)).await;
        assert!(
            head.contains("Content-Type: application/openmetrics-text; version=1.0.0"),
            "{head}"
        );
        if done(&body) {
            return body;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the scrape never showed what was expected:\n{body}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The exemplars in an OpenMetrics body: (sample line up to the exemplar, trace id, span id).
fn exemplars(body: &str) -> Vec<(&str, &str, &str)> {
    body.lines()
        .filter_map(|line| {
            let (sample, exemplar) = line.split_once(" # {")?;
            let labels = exemplar.split_once('}')?.0;
            let trace_id = labels.strip_prefix("trace_id=\"")?.split_once('"')?.0;
            let span_id = labels.split_once("span_id=\"")?.1.split_once('"')?.0;
            Some((sample, trace_id, span_id))
        })
        .collect()
}

fn is_hex(id: &str, len: usize) -> bool {
    id.len() == len
        && id
            .bytes()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
}

#[tokio::test]
async fn a_sampled_call_leaves_its_trace_id_on_the_server_and_client_latency_histograms() {
    let _tracing = install_tracing();
    let server_metrics = Metrics::new();
    let client_metrics = Metrics::new();

    let (_reporter, health) = tonic_health::server::health_reporter();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(
        Server::builder()
            .layer(GrpcServerLayer::new(server_metrics.clone()))
            .add_service(health)
            .serve_with_incoming_shutdown(TcpIncoming::from(listener), async {
                let _ = stopped.await;
            }),
    );
    let (server_scrapes, _stop_server_scrapes) = metrics_endpoint(server_metrics).await;
    let (client_scrapes, _stop_client_scrapes) = metrics_endpoint(client_metrics.clone()).await;

    let channel = Endpoint::from_shared(format!("http://{addr}"))
        .unwrap()
        .connect()
        .await
        .unwrap();
    let mut client = HealthClient::new(
        tower::ServiceBuilder::new()
            .layer(GrpcClientLayer::with_metrics(client_metrics))
            .service(channel),
    );
    let operation = tracing::info_span!("check the neighbour");
    let trace_id = operation.context().span().span_context().trace_id();
    assert!(operation.context().span().span_context().is_sampled());
    let response = client
        .check(HealthCheckRequest::default())
        .instrument(operation)
        .await;
    assert!(response.is_ok(), "{response:?}");
    let trace_id = trace_id.to_string();

    // The server side: the call's bucket carries the trace the caller started.
    let body = scrape_until(server_scrapes, |body| body.contains(trace_id.as_str())).await;
    assert!(body.ends_with("\n# EOF\n"), "{body}");
    let found = exemplars(&body);
    let [(sample, exemplar_trace, server_span)] = found.as_slice() else {
        panic!("one exemplar expected in\n{body}");
    };
    assert!(
        sample.starts_with("grpc_server_request_duration_seconds_bucket{")
            && sample.contains(r#"service="grpc.health.v1.Health",method="Check"}"#),
        "{sample}"
    );
    assert_eq!(*exemplar_trace, trace_id);
    assert!(is_hex(server_span, 16), "{server_span}");

    // The calling side: the same trace, on the client span (the server span's parent).
    let body = scrape_until(client_scrapes, |body| body.contains(trace_id.as_str())).await;
    let found = exemplars(&body);
    let [(sample, exemplar_trace, client_span)] = found.as_slice() else {
        panic!("one exemplar expected in\n{body}");
    };
    assert!(
        sample.starts_with("grpc_client_request_duration_seconds_bucket{"),
        "{sample}"
    );
    assert_eq!(*exemplar_trace, trace_id);
    assert_ne!(client_span, server_span);

    // A Prometheus-text scrape counts the same call and shows no exemplar.
    let (head, plain) = scrape(server_scrapes, None).await;
    assert!(
        head.contains("Content-Type: text/plain; version=0.0.4"),
        "{head}"
    );
    assert!(
        plain.contains(
            r#"grpc_server_request_duration_seconds_count{service="grpc.health.v1.Health",method="Check"} 1"#
        ),
        "{plain}"
    );
    assert!(!plain.contains(" # {"), "{plain}");
    assert!(!plain.contains(trace_id.as_str()), "{plain}");
    assert!(!plain.contains("# EOF"), "{plain}");

    let _ = stop.send(());
    let _ = server.await;
}

#[tokio::test]
async fn the_exemplar_names_the_server_span_the_call_ran_in() {
    let _tracing = install_tracing();
    let metrics = Metrics::new();
    let (scrapes, _stop) = metrics_endpoint(metrics.clone()).await;

    let seen = Arc::new(Mutex::new(None::<SpanContext>));
    let service = GrpcServerLayer::new(metrics).layer(tower::service_fn({
        let seen = Arc::clone(&seen);
        move |_: http::Request<()>| {
            *seen.lock().unwrap() = Some(Span::current().context().span().span_context().clone());
            async { Ok::<_, Infallible>(http::Response::new(String::new())) }
        }
    }));
    let response = service
        .oneshot(
            http::Request::builder()
                .uri("/a.v1.Svc/Get")
                .body(())
                .unwrap(),
        )
        .await;
    drop(response);

    let server_span = seen.lock().unwrap().clone().unwrap();
    assert!(server_span.is_sampled());
    let trace_id = server_span.trace_id().to_string();
    let body = scrape_until(scrapes, |body| body.contains(trace_id.as_str())).await;
    let found = exemplars(&body);
    assert_eq!(found.len(), 1, "{body}");
    assert_eq!(found[0].1, trace_id);
    assert_eq!(found[0].2, server_span.span_id().to_string());
    assert!(is_hex(found[0].1, 32), "{body}");
}

#[tokio::test]
async fn calls_outside_a_sampled_span_are_timed_without_an_exemplar() {
    let _tracing = install_tracing();
    let metrics = Metrics::new();
    let (scrapes, _stop) = metrics_endpoint(metrics.clone()).await;

    // The caller decided not to sample this trace: the server span follows it.
    let service = GrpcServerLayer::new(metrics.clone()).layer(tower::service_fn(
        |_: http::Request<()>| async { Ok::<_, Infallible>(http::Response::new(String::new())) },
    ));
    let request = http::Request::builder()
        .uri("/a.v1.Svc/Get")
        .header(
            "traceparent",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00",
        )
        .body(())
        .unwrap();
    drop(service.oneshot(request).await);
    // Recorded by hand outside any span.
    metrics.record_grpc_request("a.v1.Svc", "Get", tonic::Code::Ok, Duration::from_millis(2));

    let body = scrape_until(scrapes, |body| {
        body.contains(
            r#"grpc_server_request_duration_seconds_count{service="a.v1.Svc",method="Get"} 2"#,
        )
    })
    .await;
    assert!(exemplars(&body).is_empty(), "{body}");
    assert!(!body.contains(" # {"), "{body}");
}
