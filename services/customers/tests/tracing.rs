//! One trace spans a client and the real `csops-customers` binary at a real OTLP receiver,
//! and personal data reaches neither the spans nor the logs.
#![allow(clippy::unwrap_used, unreachable_pub)]

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use csops_observability::{LogFormat, TelemetryConfig, TracingInterceptor};
use csops_proto::customers::v1 as pb;
use csops_proto::customers::v1::customers_service_client::CustomersServiceClient;
use csops_testkit::otlp::OtlpReceiver;
use tracing::Instrument as _;

const NAME: &str = "Zhang Weiguo";
const PHONE: &str = "13912345678";
const ADDRESS: &str = "No. 88 Jianguo Road, Chaoyang District";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_call_and_the_service_form_one_trace_without_personal_data() {
    let receiver = OtlpReceiver::start().await;
    std::env::set_var("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.endpoint());
    std::env::set_var("OTEL_SERVICE_NAME", "csops-test-client");
    let telemetry = csops_observability::init(TelemetryConfig {
        service_name: "csops-test-client".into(),
        log_format: LogFormat::Json,
    })
    .unwrap();

    let dir = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut child = Command::new(env!("CARGO_BIN_EXE_csops-customers"))
        .env("CSOPS_AUTH", "off")
        .args([
            "--listen-addr",
            &format!("127.0.0.1:{port}"),
            "--metrics-addr",
            "off",
        ])
        .arg("--data-dir")
        .arg(dir.path())
        .env("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.endpoint())
        .env("OTEL_SERVICE_NAME", "csops-customers")
        .env("CSOPS_LOG_FORMAT", "json")
        .env("RUST_LOG", "debug")
        .env_remove("DATABASE_URL")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();

    let deadline = Instant::now() + Duration::from_secs(20);
    let channel = loop {
        match tonic::transport::Endpoint::from_shared(format!("http://127.0.0.1:{port}"))
            .unwrap()
            .connect()
            .await
        {
            Ok(channel) => break channel,
            Err(e) => assert!(Instant::now() < deadline, "service never listened: {e}"),
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let mut client = CustomersServiceClient::with_interceptor(channel, TracingInterceptor);
    let request = pb::CreateCustomerRequest {
        customer: Some(pb::Customer {
            display_name: NAME.into(),
            tier: pb::CustomerTier::A as i32,
            region: pb::Region::Urban as i32,
            contacts: vec![
                pb::Contact {
                    kind: pb::ContactKind::Phone as i32,
                    value: PHONE.into(),
                    ..Default::default()
                },
                pb::Contact {
                    kind: pb::ContactKind::Address as i32,
                    value: ADDRESS.into(),
                    ..Default::default()
                },
            ],
            ..Default::default()
        }),
        request_id: "trace-test".into(),
        actor_id: "agent-1".into(),
    };
    let created = client
        .create_customer(request)
        .instrument(tracing::info_span!(
            "open customer file",
            otel.kind = "client"
        ))
        .await
        .unwrap()
        .into_inner()
        .customer
        .unwrap();
    // A rejected call is logged too; its message must not echo the bad value.
    let _ = client
        .create_customer(pb::CreateCustomerRequest {
            customer: Some(pb::Customer {
                display_name: NAME.into(),
                ..Default::default()
            }),
            request_id: "trace-test-2".into(),
            actor_id: String::new(),
        })
        .instrument(tracing::info_span!("rejected call", otel.kind = "client"))
        .await
        .unwrap_err();

    telemetry.shutdown();
    Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    let output = tokio::task::spawn_blocking(move || {
        let status = child.wait().unwrap();
        let mut logs = String::new();
        std::io::Read::read_to_string(child.stderr.as_mut().unwrap(), &mut logs).unwrap();
        (status, logs)
    })
    .await
    .unwrap();
    assert!(output.0.success());
    let logs = output.1;

    let method = "csops.customers.v1.CustomersService/CreateCustomer";
    let spans = receiver
        .wait_for_spans(
            |spans| {
                spans.iter().any(|s| s.name == "open customer file")
                    && spans
                        .iter()
                        .any(|s| s.name == method && s.service_name == "csops-customers")
            },
            Duration::from_secs(20),
        )
        .await;
    let client_span = spans
        .iter()
        .find(|s| s.name == "open customer file")
        .unwrap();
    let server_span = spans
        .iter()
        .find(|s| s.name == method && s.trace_id == client_span.trace_id)
        .unwrap_or_else(|| panic!("no server span in the client's trace: {spans:#?}"));
    assert_eq!(client_span.service_name, "csops-test-client");
    assert_eq!(server_span.service_name, "csops-customers");
    assert_eq!(server_span.parent_span_id, client_span.span_id);

    assert!(
        logs.contains(&created.id),
        "the service logs the customer id:\n{logs}"
    );
    for secret in [NAME, PHONE, ADDRESS, "13912345678"] {
        assert!(
            !logs.contains(secret),
            "logs contain personal data {secret:?}"
        );
        for span in &spans {
            assert!(
                !span.mentions(secret),
                "span {} contains personal data {secret:?}",
                span.name
            );
        }
    }
}
