//! SIGTERM under load, on the real binary: while callers create customers without pause, the
//! process is told to stop. Health turns NOT_SERVING while the listener is still open; every
//! call is answered OK or UNAVAILABLE (never a half-written customer, never INTERNAL; a call
//! hyper had not yet sent when the connection closed comes back CANCELLED from the client
//! library and counts as UNAVAILABLE, as the kit's `retry_idempotent` treats it); after a
//! restart on the same data, every customer the stopping process accepted is there, and
//! re-sending every request with its request_id creates each customer exactly once.
#![allow(clippy::unwrap_used, unreachable_pub)]

use std::process::{Child, Command, Stdio};
use std::time::Duration;

mod common;

use common::{resend_all, Creators};

use csops_proto::customers::v1 as pb;
use csops_proto::customers::v1::customers_service_client::CustomersServiceClient;
use tokio::time::Instant;
use tonic::transport::Channel;
use tonic::Code;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;
use tonic_health::pb::HealthCheckRequest;

const GENEROUS: Duration = Duration::from_secs(60);
const CALLERS: usize = 8;

/// The customers binary, killed when dropped.
struct Process(Child);

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start(data_dir: &std::path::Path, port: u16) -> Process {
    let child = Command::new(env!("CARGO_BIN_EXE_csops-customers"))
        .env("CSOPS_AUTH", "off")
        .env_remove("DATABASE_URL")
        .env_remove("CUSTOMERS_DATABASE_URL")
        .env_remove("OTEL_EXPORTER_OTLP_ENDPOINT")
        .args([
            "--listen-addr",
            &format!("127.0.0.1:{port}"),
            "--metrics-addr",
            "off",
            "--log-format",
            "json",
            "--drain-delay",
            "2s",
            "--shutdown-grace",
            "10s",
        ])
        .arg("--data-dir")
        .arg(data_dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    Process(child)
}

async fn channel(port: u16) -> Option<Channel> {
    tonic::transport::Endpoint::from_shared(format!("http://127.0.0.1:{port}"))
        .unwrap()
        .connect_timeout(Duration::from_millis(300))
        .connect()
        .await
        .ok()
}

async fn health(port: u16) -> Option<i32> {
    let channel = channel(port).await?;
    HealthClient::new(channel)
        .check(HealthCheckRequest {
            service: "csops.customers.v1.CustomersService".into(),
        })
        .await
        .ok()
        .map(|r| r.into_inner().status)
}

async fn serving(port: u16) -> CustomersServiceClient<Channel> {
    let deadline = Instant::now() + GENEROUS;
    while health(port).await != Some(ServingStatus::Serving as i32) {
        assert!(Instant::now() < deadline, "never served");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    CustomersServiceClient::new(channel(port).await.unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_under_load_answers_every_call_cleanly_and_keeps_every_accepted_write() {
    let dir = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut process = start(dir.path(), port);
    let client = serving(port).await;

    let creators = Creators::start(&client, CALLERS);
    creators
        .until_accepted(30, GENEROUS, "the first creates never succeeded")
        .await;

    let status = Command::new("kill")
        .args(["-TERM", &process.0.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    // The drain: health says NOT_SERVING while the listener still answers.
    let deadline = Instant::now() + GENEROUS;
    loop {
        match health(port).await {
            Some(code) if code == ServingStatus::NotServing as i32 => break,
            Some(_) => {}
            None => panic!("the listener closed before health said NOT_SERVING"),
        }
        assert!(Instant::now() < deadline, "health never said NOT_SERVING");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let accepted_while_draining = creators.accepted();
    let deadline = Instant::now() + GENEROUS;
    let exit = loop {
        if let Some(exit) = process.0.try_wait().unwrap() {
            break exit;
        }
        assert!(Instant::now() < deadline, "did not exit after SIGTERM");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(exit.success(), "exit status {exit:?}");
    let served_while_draining = creators.accepted() > accepted_while_draining;
    let outcomes = creators.finish().await;
    assert!(served_while_draining, "no call was served during the drain");
    let bad: Vec<_> = outcomes
        .iter()
        .filter(|(_, o)| o.as_ref().is_err_and(|code| *code != Code::Unavailable))
        .collect();
    assert!(bad.is_empty(), "unclean answers: {bad:?}");

    // The same data, a new process: what was accepted is there; what failed can be re-sent.
    let _process = start(dir.path(), port);
    let mut client = serving(port).await;
    resend_all(&mut client, &outcomes).await;
    let mut listed = 0;
    let mut token = String::new();
    loop {
        let page = client
            .list_customers(pb::ListCustomersRequest {
                page_size: 500,
                page_token: token,
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner();
        listed += page.customers.len();
        if page.next_page_token.is_empty() {
            break;
        }
        token = page.next_page_token;
    }
    assert_eq!(listed, outcomes.len(), "one customer per request");
}
