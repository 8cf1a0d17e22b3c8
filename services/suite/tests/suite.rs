//! The README's first command: `csops-suite` starts the four services on SQLite, prints
//! where each listens, serves, and stops cleanly on SIGINT.
#![allow(clippy::unwrap_used, unreachable_pub)]

mod common;

use std::io::{BufRead as _, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{free_offset, stop_with_sigint};
use tonic_health::pb::health_client::HealthClient;
use tonic_health::pb::HealthCheckRequest;

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
    // One line per service, as each starts.
    let lines = tokio::task::spawn_blocking(move || {
        let lines: Vec<String> = (0..4)
            .map(|_| lines_rx.recv_timeout(Duration::from_secs(60)).unwrap())
            .collect();
        lines
    })
    .await
    .unwrap();
    let names: Vec<&str> = lines
        .iter()
        .map(|l| l.split_whitespace().next().unwrap_or(""))
        .collect();
    assert_eq!(
        names,
        ["customers", "visits", "complaints", "feedback"],
        "{lines:#?}"
    );
    let first = &lines[0];
    let grpc = format!("127.0.0.1:{}", 50051 + offset);
    assert!(first.contains(&format!("grpc={grpc}")), "{first}");
    assert!(
        first.contains(&format!(
            "metrics=http://127.0.0.1:{}/metrics",
            9091 + offset
        )),
        "{first}"
    );
    assert!(
        lines[3].contains(&format!("grpc=127.0.0.1:{}", 50054 + offset)),
        "{}",
        lines[3]
    );
    for db in ["customers", "visits", "complaints", "feedback"] {
        assert!(dir.path().join(format!("{db}.db")).exists(), "{db}.db");
    }

    for (port, service) in [
        (50051, "csops.customers.v1.CustomersService"),
        (50052, "csops.complaints.v1.ComplaintsService"),
        (50053, "csops.visits.v1.VisitsService"),
        (50054, "csops.feedback.v1.FeedbackService"),
    ] {
        let channel =
            tonic::transport::Endpoint::from_shared(format!("http://127.0.0.1:{}", port + offset))
                .unwrap()
                .connect()
                .await
                .unwrap();
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let status = HealthClient::new(channel.clone())
                .check(HealthCheckRequest {
                    service: service.into(),
                })
                .await
                .map(|r| r.into_inner().status);
            if status.as_ref().ok() == Some(&1) {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "{service} never SERVING: {status:?}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    // Calls need a token; `csops-suite token` signs one the running suite accepts.
    let customers =
        tonic::transport::Endpoint::from_shared(format!("http://127.0.0.1:{}", 50051 + offset))
            .unwrap()
            .connect()
            .await
            .unwrap();
    let list = csops_testkit::raw::methods("csops.customers.v1.CustomersService")
        .into_iter()
        .find(|m| m.name == "ListCustomers")
        .unwrap();
    let refused = csops_testkit::raw::call(customers.clone(), &list, Vec::new(), &[])
        .await
        .unwrap_err();
    assert_eq!(refused.code(), tonic::Code::Unauthenticated, "{refused:?}");
    let token = Command::new(env!("CARGO_BIN_EXE_csops-suite"))
        .args(["token", "--role", "ops", "--data-dir"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(token.status.success(), "{token:?}");
    let token = String::from_utf8(token.stdout).unwrap().trim().to_owned();
    let headers = [("authorization", format!("Bearer {token}"))];
    csops_testkit::raw::call(customers, &list, Vec::new(), &headers)
        .await
        .unwrap();
    let unknown = Command::new(env!("CARGO_BIN_EXE_csops-suite"))
        .args(["token", "--role", "admin", "--data-dir"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(!unknown.status.success());

    stop_with_sigint(child).await;
}

#[test]
fn token_signs_with_the_dev_overlay_key_for_a_cluster() {
    // What k8s/README.md tells people to type to call the dev cluster: the token must pass the
    // checks the pods make (the dev overlay's JWKS, issuer csops-dev, audience csops).
    let jwks = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../k8s/overlays/dev/auth/jwks.json"
    );
    let out = Command::new(env!("CARGO_BIN_EXE_csops-suite"))
        .args([
            "token",
            "--key",
            jwks,
            "--role",
            "agent",
            "--subject",
            "agent-7",
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let token = String::from_utf8(out.stdout).unwrap().trim().to_owned();
    let verifier =
        csops_runtime::auth::Verifier::load(std::path::Path::new(jwks), "csops-dev", "csops")
            .unwrap();
    let caller = verifier.verify(&token).unwrap();
    assert_eq!(caller.subject, "agent-7");
    assert!(caller.has(csops_runtime::auth::Role::Agent));
    assert!(!caller.has(csops_runtime::auth::Role::Supervisor));

    // A key file that is not there is refused (never silently replaced by a new key).
    let missing = Command::new(env!("CARGO_BIN_EXE_csops-suite"))
        .args([
            "token",
            "--key",
            "/nonexistent/jwks.json",
            "--role",
            "agent",
        ])
        .output()
        .unwrap();
    assert_eq!(missing.status.code(), Some(64), "{missing:?}");
}
