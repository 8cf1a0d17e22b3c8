//! The `csops-complaints` binary: settings → telemetry → app → serve until SIGTERM → flush.
#![forbid(unsafe_code)]

use csops_complaints::{App, Config, SPEC};
use csops_observability::TelemetryConfig;
use csops_runtime::config::parse_or_exit;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let (settings, config) = parse_or_exit::<Config>(&SPEC);
    if let Err(error) = config.rules() {
        eprintln!("error: {error}");
        return std::process::ExitCode::from(64);
    }
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
    let result = match App::build(&settings, config, telemetry.metrics()).await {
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
                "complaints service failed"
            );
            std::process::ExitCode::FAILURE
        }
    };
    telemetry.shutdown();
    code
}
