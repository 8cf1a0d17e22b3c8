//! Personal data in request bodies and metadata never reaches logs or exported spans.

use std::io;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use csops_observability::{
    init_with_writer, GrpcServerLayer, LogFormat, TelemetryConfig, TracingInterceptor,
};
use csops_testkit::otlp::OtlpReceiver;
use tokio::net::TcpListener;
use tonic::transport::{server::TcpIncoming, Endpoint, Server};
use tonic_health::pb::health_client::HealthClient;
use tonic_health::pb::HealthCheckRequest;
use tracing::Instrument as _;

const NAME: &str = "Jane Q. Doe";
const PHONE: &str = "+27 82 555 0142";
const ID_NUMBER: &str = "8001015009087";

/// Collects log output in memory.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.lock().expect("not poisoned").extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Captured {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().expect("not poisoned")).into_owned()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn personal_data_in_requests_never_reaches_logs_or_spans() {
    let receiver = OtlpReceiver::start().await;
    std::env::set_var("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.endpoint());
    // Debug is more than production logs; the layer's per-call event is at debug.
    std::env::set_var("RUST_LOG", "debug");
    let logs = Captured::default();
    let telemetry = init_with_writer(
        TelemetryConfig {
            service_name: "pii-test".to_owned(),
            log_format: LogFormat::Json,
        },
        {
            let logs = logs.clone();
            move || logs.clone()
        },
    )
    .expect("telemetry initialises");

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
    let mut client = HealthClient::with_interceptor(channel, TracingInterceptor);

    // The body carries a name, a phone number and an ID number; so does the metadata.
    let mut request = tonic::Request::new(HealthCheckRequest {
        service: format!("{NAME} {PHONE} {ID_NUMBER}"),
    });
    let metadata = request.metadata_mut();
    metadata.insert("x-customer-name", NAME.parse().expect("ascii"));
    metadata.insert("x-customer-phone", PHONE.parse().expect("ascii"));
    let status = client
        .check(request)
        .instrument(tracing::info_span!(
            "look up customer",
            otel.kind = "client"
        ))
        .await
        .expect_err("an unknown service is NOT_FOUND");
    assert_eq!(status.code(), tonic::Code::NotFound);

    let _ = stop.send(());
    let _ = server.await;
    telemetry.shutdown();

    let spans = receiver
        .wait_for_spans(
            |spans| spans.iter().any(|s| s.kind == "server"),
            Duration::from_secs(10),
        )
        .await;
    let server_span = spans
        .iter()
        .find(|s| s.kind == "server")
        .expect("a server span");
    assert_eq!(
        server_span
            .attributes
            .get("rpc.grpc.status_code")
            .map(String::as_str),
        Some("5"),
        "the span saw the call's outcome: {server_span:#?}"
    );

    let logs = logs.text();
    assert!(
        logs.contains("grpc call finished"),
        "the layer's event was logged: {logs}"
    );
    assert!(
        logs.contains(&server_span.trace_id),
        "log lines inside the call carry the trace id {}: {logs}",
        server_span.trace_id
    );
    for secret in [NAME, PHONE, ID_NUMBER, "Jane", "555 0142"] {
        assert!(
            !logs.contains(secret),
            "{secret:?} leaked into logs:\n{logs}"
        );
        for span in &spans {
            assert!(!span.mentions(secret), "{secret:?} leaked into {span:#?}");
        }
    }
}
