//! The `csops-customers` binary: settings → telemetry → app → serve until SIGTERM → flush.
#![forbid(unsafe_code)]

use csops_customers::{App, StartError, SPEC};
use csops_runtime::config::{parse_or_exit, NoExtraArgs};

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let (settings, NoExtraArgs {}) = parse_or_exit::<NoExtraArgs>(&SPEC);
    csops_runtime::process::run(&SPEC, &settings, |metrics, stop| async {
        let app = App::build(&settings, metrics).await?;
        app.run_until_stopped(stop).await?;
        Ok::<(), StartError>(())
    })
    .await
}
