//! A chain of calls across services is one trace: an agent's call to complaints, and the
//! customers lookup complaints makes for it, arrive at a real OTLP receiver under one trace id
//! with the lookup nested inside the complaint call.
#![allow(clippy::unwrap_used, unreachable_pub)]

use std::time::Duration;

use csops_observability::{LogFormat, TelemetryConfig, TracingInterceptor};
use csops_proto::complaints::v1::complaints_service_client::ComplaintsServiceClient;
use csops_testkit::otlp::{descends_from, OtlpReceiver};
use tracing::Instrument as _;

mod common;
use common::{complaint_request, Suite};

const CREATE: &str = "csops.complaints.v1.ComplaintsService/CreateComplaint";
const LOOKUP: &str = "csops.customers.v1.CustomersService/GetCustomer";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_complaint_and_the_customer_lookup_it_makes_are_one_trace() {
    let receiver = OtlpReceiver::start().await;
    std::env::set_var("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.endpoint());
    std::env::set_var("OTEL_SERVICE_NAME", "csops-trace-chain");
    let telemetry = csops_observability::init(TelemetryConfig {
        service_name: "csops-trace-chain".into(),
        log_format: LogFormat::Json,
    })
    .unwrap();

    let dir = tempfile::tempdir().unwrap();
    let suite = Suite::start(
        dir.path(),
        telemetry.metrics(),
        telemetry.metrics(),
        telemetry.metrics(),
    )
    .await;
    let customer_id = suite.create_customer("Trace Me", "trace-chain").await;

    let channel =
        tonic::transport::Endpoint::from_shared(format!("http://{}", suite.complaints.addr))
            .unwrap()
            .connect()
            .await
            .unwrap();
    let mut client = ComplaintsServiceClient::with_interceptor(channel, TracingInterceptor);
    client
        .create_complaint(complaint_request(
            &customer_id,
            "No signal at home",
            "trace-chain-1",
        ))
        .instrument(tracing::info_span!(
            "agent desk: log complaint",
            otel.kind = "client"
        ))
        .await
        .unwrap();

    suite.stop().await;
    telemetry.shutdown();

    let spans = receiver
        .wait_for_spans(
            |spans| {
                spans.iter().any(|s| s.name == "agent desk: log complaint")
                    && spans.iter().any(|s| s.name == CREATE)
                    && spans.iter().any(|s| s.name == LOOKUP)
            },
            Duration::from_secs(20),
        )
        .await;
    let desk = spans
        .iter()
        .find(|s| s.name == "agent desk: log complaint")
        .unwrap();
    let create = spans
        .iter()
        .find(|s| s.name == CREATE && s.trace_id == desk.trace_id)
        .unwrap_or_else(|| panic!("CreateComplaint is not in the desk's trace: {spans:#?}"));
    let lookup = spans
        .iter()
        .find(|s| s.name == LOOKUP && s.trace_id == desk.trace_id)
        .unwrap_or_else(|| panic!("the customers lookup is not in the desk's trace: {spans:#?}"));
    assert_eq!(create.parent_span_id, desk.span_id);
    assert!(
        descends_from(&spans, lookup, &create.span_id),
        "the lookup does not nest inside CreateComplaint: {spans:#?}"
    );
    // The customer's name and the complaint's words are personal: no span carries them.
    for secret in ["Trace Me", "No signal at home"] {
        for span in &spans {
            assert!(
                !span.mentions(secret),
                "span {} carries {secret:?}",
                span.name
            );
        }
    }
}
