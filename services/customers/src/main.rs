//! The `csops-customers` binary: settings → telemetry → app → serve until SIGTERM → flush.
#![forbid(unsafe_code)]

use csops_customers::{App, SPEC};
use csops_observability::TelemetryConfig;
use csops_runtime::config::{parse_or_exit, NoExtraArgs};

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let (settings, NoExtraArgs {}) = parse_or_exit::<NoExtraArgs>(&SPEC);
    let telemetry = match csops_observability::init(TelemetryConfig {
        service_name: SPEC.binary.to_owned(),
        log_format: settings.log_format,
    }) {
        Ok(telemetry) => telemetry,
        Err(error) => {
            eprintln!("error: cannot start telemetry: {error}");
            return std::process::ExitCode::from(64);
        }
    };
    let result = match App::build(&settings, telemetry.metrics()).await {
        Ok(app) => app
            .run_until_stopped(csops_runtime::shutdown::signal())
            .await
            .map_err(Into::into),
        Err(error) => Err(error),
    };
    let code = match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!(
                error = &error as &dyn std::error::Error,
                "customers service failed"
            );
            std::process::ExitCode::FAILURE
        }
    };
    telemetry.shutdown();
    code
}
