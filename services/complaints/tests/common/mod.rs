//! Servers the complaints tests start in-process: the real customers service and complaints.
#![allow(dead_code, unreachable_pub)]

use std::net::SocketAddr;
use std::path::PathBuf;

use csops_complaints::{App, Config};
use csops_observability::Metrics;
use csops_runtime::Settings;
pub use csops_testkit::server::Running;

/// Starts the real customers service on `db`, at `addr` when given (to restart it in place).
pub async fn start_customers(db: &str, addr: Option<SocketAddr>) -> Running {
    let mut settings = Settings::for_tests(db);
    if let Some(addr) = addr {
        settings.listen_addr = addr;
    }
    let app = csops_customers::App::build(&settings, Metrics::new())
        .await
        .unwrap();
    Running::spawn(app.local_addr(), |stop| async move {
        app.run_until_stopped(stop).await.unwrap();
    })
}

/// Starts the complaints service on `db` with `config`.
pub async fn start_complaints(db: &str, config: Config) -> Running {
    start_complaints_with_metrics(db, config, Metrics::new()).await
}

/// Starts the complaints service on `db` with `config`, recording into `metrics`.
pub async fn start_complaints_with_metrics(db: &str, config: Config, metrics: Metrics) -> Running {
    let app = App::build(&Settings::for_tests(db), config, metrics)
        .await
        .unwrap();
    Running::spawn(app.local_addr(), |stop| async move {
        app.run_until_stopped(stop).await.unwrap();
    })
}

/// A policy with one-second first contact, so breaches happen within a test.
pub fn fast_policy() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fast-policy.toml")
}
