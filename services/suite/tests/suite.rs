//! The README's first command: `csops-suite` starts every built service on SQLite, prints
//! where each listens, serves, and stops cleanly on SIGINT.
#![allow(clippy::unwrap_used, unreachable_pub)]

use std::io::{BufRead as _, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use tonic_health::pb::health_client::HealthClient;
use tonic_health::pb::HealthCheckRequest;

/// Picks a port offset whose gRPC and metrics ports are all free right now.
fn free_offset() -> u16 {
    for offset in (1000..20000).step_by(97) {
        let ports = (50051..=50054).chain(9091..=9094).map(|p: u16| p + offset);
        if ports
            .into_iter()
            .all(|p| std::net::TcpListener::bind(("127.0.0.1", p)).is_ok())
        {
            return offset;
        }
    }
    panic!("no free port range");
}

#[tokio::test]
async fn the_suite_starts_on_sqlite_prints_its_addresses_and_stops_on_sigint() {
    let dir = tempfile::tempdir().unwrap();
    let offset = free_offset();
    let mut child = Command::new(env!("CARGO_BIN_EXE_csops-suite"))
        .arg("--data-dir")
        .arg(dir.path())
        .args(["--port-offset", &offset.to_string(), "--log-format", "json"])
        .env_remove("OTEL_EXPORTER_OTLP_ENDPOINT")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Read stdout to its end in the background, so the suite never writes into a closed pipe.
    let stdout = child.stdout.take().unwrap();
    let (lines_tx, lines_rx) = std::sync::mpsc::channel::<String>();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = lines_tx.send(line);
        }
    });
    let first = tokio::task::spawn_blocking(move || {
        let first = lines_rx.recv_timeout(Duration::from_secs(30)).unwrap();
        (first, lines_rx)
    })
    .await
    .unwrap()
    .0;
    let grpc = format!("127.0.0.1:{}", 50051 + offset);
    assert!(first.starts_with("customers"), "{first}");
    assert!(first.contains(&format!("grpc={grpc}")), "{first}");
    assert!(
        first.contains(&format!(
            "metrics=http://127.0.0.1:{}/metrics",
            9091 + offset
        )),
        "{first}"
    );
    assert!(dir.path().join("customers.db").exists());

    let channel = tonic::transport::Endpoint::from_shared(format!("http://{grpc}"))
        .unwrap()
        .connect()
        .await
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let status = HealthClient::new(channel.clone())
            .check(HealthCheckRequest {
                service: "csops.customers.v1.CustomersService".into(),
            })
            .await
            .map(|r| r.into_inner().status);
        if status.as_ref().ok() == Some(&1) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "customers never SERVING: {status:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    let status = tokio::task::spawn_blocking(move || child.wait().unwrap())
        .await
        .unwrap();
    assert!(status.success(), "{status:?}");
}
