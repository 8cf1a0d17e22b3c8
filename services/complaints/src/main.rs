//! The `csops-complaints` binary: settings → telemetry → app → serve until SIGTERM → flush.
#![forbid(unsafe_code)]

use csops_complaints::{App, Config, StartError, SPEC};
use csops_runtime::config::parse_or_exit;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let (settings, config) = parse_or_exit::<Config>(&SPEC);
    if let Err(error) = config.rules() {
        eprintln!("error: {error}");
        return std::process::ExitCode::from(csops_runtime::EXIT_BAD_CONFIG);
    }
    csops_runtime::process::run(&SPEC, &settings, |metrics, stop| async {
        let app = App::build(&settings, config, metrics).await?;
        app.run_until_stopped(stop).await?;
        Ok::<(), StartError>(())
    })
    .await
}
