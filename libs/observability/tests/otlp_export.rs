//! A client call and the server it reaches arrive at an OTLP collector as one trace.

use std::time::Duration;

use csops_observability::{
    init, GrpcClientLayer, GrpcServerLayer, LogFormat, TelemetryConfig, TracingInterceptor,
};
use csops_testkit::otlp::{OtlpReceiver, ReceivedSpan};
use tokio::net::TcpListener;
use tonic::transport::{server::TcpIncoming, Endpoint, Server};
use tonic_health::pb::health_client::HealthClient;
use tonic_health::pb::HealthCheckRequest;
use tracing::Instrument as _;

const CHECK: &str = "grpc.health.v1.Health/Check";

fn find<'a>(spans: &'a [ReceivedSpan], name: &str, kind: &str) -> Vec<&'a ReceivedSpan> {
    spans
        .iter()
        .filter(|s| s.name == name && s.kind == kind)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_and_server_spans_reach_the_collector_as_one_trace() {
    let receiver = OtlpReceiver::start().await;
    std::env::set_var("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.endpoint());
    std::env::remove_var("OTEL_SERVICE_NAME");
    std::env::remove_var("OTEL_RESOURCE_ATTRIBUTES");
    let telemetry = init(TelemetryConfig {
        service_name: "observability-test".to_owned(),
        log_format: LogFormat::Json,
    })
    .expect("telemetry initialises");
    assert!(telemetry.exports_traces());

    let (_reporter, health) = tonic_health::server::health_reporter();
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("local address");
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(
        Server::builder()
            .layer(GrpcServerLayer::new(telemetry.metrics()))
            .add_service(health)
            .serve_with_incoming_shutdown(TcpIncoming::from(listener), async {
                let _ = stopped.await;
            }),
    );
    let channel = Endpoint::from_shared(format!("http://{addr}"))
        .expect("endpoint")
        .connect()
        .await
        .expect("connect");

    // 1. The interceptor carries a hand-made client span's context.
    let mut intercepted = HealthClient::with_interceptor(channel.clone(), TracingInterceptor);
    let response = intercepted
        .check(HealthCheckRequest::default())
        .instrument(tracing::info_span!("check health", otel.kind = "client"))
        .await;
    assert!(response.is_ok(), "{response:?}");

    // 2. The client layer opens the client span itself, under the caller's span.
    let mut layered = HealthClient::new(
        tower::ServiceBuilder::new()
            .layer(GrpcClientLayer::new())
            .service(channel),
    );
    let response = layered
        .check(HealthCheckRequest::default())
        .instrument(tracing::info_span!("sync customers"))
        .await;
    assert!(response.is_ok(), "{response:?}");

    let metrics = telemetry.metrics();
    let _ = stop.send(());
    let _ = server.await;
    telemetry.shutdown();

    let spans = receiver
        .wait_for_spans(
            |spans| find(spans, CHECK, "server").len() >= 2,
            Duration::from_secs(10),
        )
        .await;

    let manual = find(&spans, "check health", "client");
    let [manual] = manual.as_slice() else {
        panic!("one hand-made client span expected in {spans:#?}");
    };
    let layer_client = find(&spans, CHECK, "client");
    let [layer_client] = layer_client.as_slice() else {
        panic!("one client-layer span expected in {spans:#?}");
    };
    let servers = find(&spans, CHECK, "server");
    for client in [manual, layer_client] {
        let server = servers
            .iter()
            .find(|s| s.parent_span_id == client.span_id)
            .unwrap_or_else(|| panic!("no server span under {client:#?} in {servers:#?}"));
        assert_eq!(server.trace_id, client.trace_id);
        assert_eq!(server.service_name, "observability-test");
        assert_eq!(
            server.attributes.get("rpc.system").map(String::as_str),
            Some("grpc")
        );
        assert_eq!(
            server.attributes.get("rpc.service").map(String::as_str),
            Some("grpc.health.v1.Health")
        );
        assert_eq!(
            server.attributes.get("rpc.method").map(String::as_str),
            Some("Check")
        );
        assert_eq!(
            server
                .attributes
                .get("rpc.grpc.status_code")
                .map(String::as_str),
            Some("0")
        );
    }
    let caller = find(&spans, "sync customers", "internal");
    let [caller] = caller.as_slice() else {
        panic!("one caller span expected in {spans:#?}");
    };
    assert_eq!(layer_client.parent_span_id, caller.span_id);
    assert_eq!(layer_client.trace_id, caller.trace_id);

    let text = metrics.encode();
    let counted =
        r#"grpc_server_requests_total{service="grpc.health.v1.Health",method="Check",code="OK"} 2"#;
    assert!(text.contains(counted), "{text}");
}
