//! Quiet logs do not switch tracing off: with `RUST_LOG=warn` an info span is still exported
//! (its filter is `CSOPS_TRACE_FILTER`, default info), while a debug span is not; and nothing
//! finer than the two filters reach the subscriber.
#![allow(clippy::unwrap_used)]

use std::time::Duration;

use csops_observability::{LogFormat, TelemetryConfig};
use csops_testkit::otlp::OtlpReceiver;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spans_are_exported_at_info_even_when_the_logs_show_only_warnings() {
    let receiver = OtlpReceiver::start().await;
    std::env::set_var("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.endpoint());
    std::env::set_var("RUST_LOG", "warn");
    std::env::remove_var("CSOPS_TRACE_FILTER");
    let telemetry = csops_observability::init(TelemetryConfig {
        service_name: "csops-trace-filter".into(),
        log_format: LogFormat::Json,
    })
    .unwrap();
    // Nothing below the filters' levels reaches the subscriber at all: a layer that let every
    // level through (as an unfiltered layer does) would send every trace-level event of h2,
    // hyper and sqlx through the filters of both layers, a cost paid on every call.
    assert_eq!(
        tracing::level_filters::LevelFilter::current(),
        tracing::level_filters::LevelFilter::INFO
    );
    {
        let _store = tracing::info_span!("store call at info").entered();
        let _detail = tracing::debug_span!("detail at debug").entered();
    }
    telemetry.shutdown();
    let spans = receiver
        .wait_for_spans(
            |spans| spans.iter().any(|s| s.name == "store call at info"),
            Duration::from_secs(20),
        )
        .await;
    assert!(
        !spans.iter().any(|s| s.name == "detail at debug"),
        "{spans:#?}"
    );
}
