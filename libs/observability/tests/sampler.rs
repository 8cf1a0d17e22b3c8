//! The standard OTEL_TRACES_SAMPLER variable decides what is exported.

use std::convert::Infallible;
use std::time::Duration;

use csops_observability::{init, GrpcServerLayer, LogFormat, Metrics, TelemetryConfig};
use csops_testkit::otlp::OtlpReceiver;
use tower::{Layer as _, ServiceExt as _};

const TRACE_ID: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const PARENT_ID: &str = "00f067aa0ba902b7";

#[tokio::test]
async fn parent_based_always_off_exports_only_calls_whose_caller_sampled_them() {
    let receiver = OtlpReceiver::start().await;
    std::env::set_var("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.endpoint());
    std::env::set_var("OTEL_TRACES_SAMPLER", "parentbased_always_off");
    let telemetry = init(TelemetryConfig {
        service_name: "sampler-test".to_owned(),
        log_format: LogFormat::Json,
    })
    .expect("telemetry initialises");

    // A root span: the sampler drops it.
    tracing::info_span!("not sampled").in_scope(|| tracing::info!("inside"));

    // A call whose caller sampled its trace: the server span follows the caller.
    let service = GrpcServerLayer::new(Metrics::new()).layer(tower::service_fn(
        |_: http::Request<()>| async { Ok::<_, Infallible>(http::Response::new(String::new())) },
    ));
    let request = http::Request::builder()
        .uri("/a.v1.Svc/Get")
        .header("traceparent", format!("00-{TRACE_ID}-{PARENT_ID}-01"))
        .body(())
        .expect("a valid request");
    let response = service.oneshot(request).await.expect("infallible");
    drop(response);

    // A current-thread runtime must keep running while the exporter flushes.
    telemetry.shutdown_async().await;
    let spans = receiver
        .wait_for_spans(|spans| !spans.is_empty(), Duration::from_secs(5))
        .await;
    let names: Vec<&str> = spans.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["a.v1.Svc/Get"]);
    assert_eq!(spans[0].trace_id, TRACE_ID);
    assert_eq!(spans[0].parent_span_id, PARENT_ID);
}
