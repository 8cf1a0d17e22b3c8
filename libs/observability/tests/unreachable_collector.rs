//! Shutdown stays bounded when the OTLP collector cannot be reached.

use std::time::{Duration, Instant};

use csops_observability::{init, LogFormat, TelemetryConfig};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_returns_promptly_when_the_collector_is_unreachable() {
    // Bind and drop a listener so the port is (almost certainly) closed.
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port");
    std::env::set_var("OTEL_EXPORTER_OTLP_ENDPOINT", format!("http://{closed}"));
    let telemetry = init(TelemetryConfig {
        service_name: "unreachable-test".to_owned(),
        log_format: LogFormat::Text,
    })
    .expect("telemetry initialises without contacting the collector");

    for n in 0..10 {
        tracing::info_span!("work", n).in_scope(|| tracing::info!("did some work"));
    }

    let started = Instant::now();
    telemetry.shutdown();
    let waited = started.elapsed();
    assert!(waited < Duration::from_secs(8), "shutdown took {waited:?}");
}
