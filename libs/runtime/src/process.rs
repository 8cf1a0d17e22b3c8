//! The life of a service process, shared by every binary: listen for stop signals first,
//! start telemetry, build and serve the app until a signal, then flush telemetry.

use std::future::Future;
use std::pin::Pin;
use std::process::ExitCode;

use csops_observability::{Metrics, TelemetryConfig};

use crate::config::{ServiceSpec, Settings};

/// A future that completes when the process should stop.
pub type StopSignal = Pin<Box<dyn Future<Output = ()> + Send + 'static>>;

/// Runs one service: `serve` gets the metrics registry and the stop signal and returns when
/// the service has drained. Returns the process exit code: 0 after a clean stop, 1 when the
/// service failed, 64 when telemetry settings are bad.
pub async fn run<F, Fut, E>(spec: &ServiceSpec, settings: &Settings, serve: F) -> ExitCode
where
    F: FnOnce(Metrics, StopSignal) -> Fut,
    Fut: Future<Output = Result<(), E>>,
    E: std::error::Error + 'static,
{
    // Registered before anything slow, so an early SIGTERM still stops gracefully.
    let stop: StopSignal = Box::pin(crate::shutdown::signal());
    let telemetry = match csops_observability::init(TelemetryConfig {
        service_name: spec.binary.to_owned(),
        log_format: settings.log_format,
    }) {
        Ok(telemetry) => telemetry,
        Err(error) => {
            eprintln!("error: cannot start telemetry: {error}");
            return ExitCode::from(crate::EXIT_BAD_CONFIG);
        }
    };
    let code = match serve(telemetry.metrics(), stop).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!(
                service = spec.name,
                error = &error as &dyn std::error::Error,
                "service failed"
            );
            ExitCode::FAILURE
        }
    };
    telemetry.shutdown();
    code
}
