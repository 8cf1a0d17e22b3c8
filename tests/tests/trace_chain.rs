//! A chain of calls across services is one trace: an agent's call to complaints, and the
//! customers lookup complaints makes for it, arrive at a real OTLP receiver under one trace id
//! with the lookup nested inside the complaint call.
#![allow(clippy::unwrap_used, unreachable_pub)]

use std::collections::HashMap;
use std::time::Duration;

use csops_observability::{LogFormat, TelemetryConfig, TracingInterceptor};
use csops_proto::complaints::v1 as pb;
use csops_proto::complaints::v1::complaints_service_client::ComplaintsServiceClient;
use csops_proto::customers::v1 as cpb;
use csops_proto::customers::v1::customers_service_client::CustomersServiceClient;
use csops_runtime::Settings;
use csops_testkit::otlp::{OtlpReceiver, ReceivedSpan};
use csops_testkit::server::Running;
use tracing::Instrument as _;

const CREATE: &str = "csops.complaints.v1.ComplaintsService/CreateComplaint";
const LOOKUP: &str = "csops.customers.v1.CustomersService/GetCustomer";

/// Returns true when `span` descends from a span with id `ancestor`.
fn descends_from(spans: &[ReceivedSpan], span: &ReceivedSpan, ancestor: &str) -> bool {
    let by_id: HashMap<&str, &ReceivedSpan> =
        spans.iter().map(|s| (s.span_id.as_str(), s)).collect();
    let mut parent = span.parent_span_id.as_str();
    for _ in 0..32 {
        if parent == ancestor {
            return true;
        }
        match by_id.get(parent) {
            Some(s) => parent = s.parent_span_id.as_str(),
            None => return false,
        }
    }
    false
}

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
    let settings = Settings::for_tests(&Settings::sqlite_url(dir.path(), "customers"));
    let app = csops_customers::App::build(&settings, telemetry.metrics())
        .await
        .unwrap();
    let customers = Running::spawn(app.local_addr(), |stop| async move {
        app.run_until_stopped(stop).await.unwrap();
    });
    let settings = Settings::for_tests(&Settings::sqlite_url(dir.path(), "complaints"));
    let config = csops_complaints::Config::for_tests(&format!("http://{}", customers.addr));
    let app = csops_complaints::App::build(&settings, config, telemetry.metrics())
        .await
        .unwrap();
    let complaints = Running::spawn(app.local_addr(), |stop| async move {
        app.run_until_stopped(stop).await.unwrap();
    });

    let mut customers_client =
        CustomersServiceClient::connect(format!("http://{}", customers.addr))
            .await
            .unwrap();
    let customer_id = customers_client
        .create_customer(cpb::CreateCustomerRequest {
            customer: Some(cpb::Customer {
                display_name: "Trace Me".into(),
                tier: cpb::CustomerTier::B as i32,
                region: cpb::Region::Urban as i32,
                ..Default::default()
            }),
            request_id: "trace-chain".into(),
            actor_id: "agent-1".into(),
        })
        .await
        .unwrap()
        .into_inner()
        .customer
        .unwrap()
        .id;

    let channel = tonic::transport::Endpoint::from_shared(format!("http://{}", complaints.addr))
        .unwrap()
        .connect()
        .await
        .unwrap();
    let mut client = ComplaintsServiceClient::with_interceptor(channel, TracingInterceptor);
    client
        .create_complaint(pb::CreateComplaintRequest {
            complaint: Some(pb::Complaint {
                customer_id,
                title: "No signal at home".into(),
                nature: pb::ComplaintNature::ProductQuality as i32,
                severity: pb::Severity::Medium as i32,
                channel: pb::Channel::Hotline as i32,
                ..Default::default()
            }),
            request_id: "trace-chain-1".into(),
            actor: Some(pb::Actor {
                id: "agent-1".into(),
                role: pb::ActorRole::Agent as i32,
            }),
        })
        .instrument(tracing::info_span!(
            "agent desk: log complaint",
            otel.kind = "client"
        ))
        .await
        .unwrap();

    complaints.stop().await;
    customers.stop().await;
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
