//! The `csops-feedback` binary: settings → telemetry → app → serve until SIGTERM → flush.
#![forbid(unsafe_code)]

use csops_feedback::{App, Config, StartError, SPEC};
use csops_runtime::config::parse_or_exit;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let (settings, config) = parse_or_exit::<Config>(&SPEC);
    csops_runtime::process::run(&SPEC, &settings, |metrics, stop| async {
        let app = App::build(&settings, config, metrics).await?;
        app.run_until_stopped(stop).await?;
        Ok::<(), StartError>(())
    })
    .await
}
