//! SIGTERM under load, on the real binary: while callers create customers without pause, the
//! process is told to stop. Health turns NOT_SERVING while the listener is still open; every
//! call is answered OK or UNAVAILABLE (never a half-written customer, never INTERNAL; a call
//! hyper had not yet sent when the connection closed comes back CANCELLED from the client
//! library and counts as UNAVAILABLE, as the kit's `retry_idempotent` treats it); after a
//! restart on the same data, every customer the stopping process accepted is there, and
//! re-sending every request with its request_id creates each customer exactly once.
#![allow(clippy::unwrap_used, unreachable_pub)]

use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

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

fn request(request_id: &str) -> pb::CreateCustomerRequest {
    pb::CreateCustomerRequest {
        customer: Some(pb::Customer {
            display_name: format!("Customer {request_id}"),
            tier: pb::CustomerTier::C as i32,
            region: pb::Region::Rural as i32,
            owner_agent_id: "agent-1".into(),
            ..Default::default()
        }),
        request_id: request_id.to_owned(),
        actor_id: "agent-1".into(),
    }
}

type Outcome = Result<String, Code>;

async fn create(client: &mut CustomersServiceClient<Channel>, request_id: &str) -> Outcome {
    client
        .create_customer(request(request_id))
        .await
        .map(|r| r.into_inner().customer.unwrap().id)
        .map_err(|status| match status.code() {
            // hyper's answer for a request still queued on a connection the server closed
            // after its GOAWAY: never sent, so never accepted. Any other CANCELLED is not
            // clean.
            Code::Cancelled if std::error::Error::source(&status).is_some() => Code::Unavailable,
            code => code,
        })
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

    let ok = Arc::new(AtomicUsize::new(0));
    let exited = Arc::new(AtomicBool::new(false));
    let callers: Vec<_> = (0..CALLERS)
        .map(|worker| {
            let mut client = client.clone();
            let ok = ok.clone();
            let exited = exited.clone();
            tokio::spawn(async move {
                let mut outcomes: Vec<(String, Outcome)> = Vec::new();
                for n in 0.. {
                    if exited.load(Ordering::SeqCst) {
                        break;
                    }
                    let request_id = format!("w{worker}-{n}");
                    let outcome = create(&mut client, &request_id).await;
                    let failed = outcome.is_err();
                    if !failed {
                        ok.fetch_add(1, Ordering::SeqCst);
                    }
                    outcomes.push((request_id, outcome));
                    if failed {
                        // A client backs off after a failure instead of spinning on it.
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                }
                outcomes
            })
        })
        .collect();
    let deadline = Instant::now() + GENEROUS;
    while ok.load(Ordering::SeqCst) < 30 {
        assert!(
            Instant::now() < deadline,
            "the first creates never succeeded"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

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
    let accepted_while_draining = ok.load(Ordering::SeqCst);
    let deadline = Instant::now() + GENEROUS;
    let exit = loop {
        if let Some(exit) = process.0.try_wait().unwrap() {
            break exit;
        }
        assert!(Instant::now() < deadline, "did not exit after SIGTERM");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(exit.success(), "exit status {exit:?}");
    exited.store(true, Ordering::SeqCst);
    let mut outcomes: Vec<(String, Outcome)> = Vec::new();
    for caller in callers {
        outcomes.extend(caller.await.unwrap());
    }
    assert!(
        ok.load(Ordering::SeqCst) > accepted_while_draining,
        "no call was served during the drain"
    );
    let bad: Vec<_> = outcomes
        .iter()
        .filter(|(_, o)| o.as_ref().is_err_and(|code| *code != Code::Unavailable))
        .collect();
    assert!(bad.is_empty(), "unclean answers: {bad:?}");

    // The same data, a new process: what was accepted is there; what failed can be re-sent.
    let _process = start(dir.path(), port);
    let mut client = serving(port).await;
    for (request_id, outcome) in &outcomes {
        let again = create(&mut client, request_id)
            .await
            .unwrap_or_else(|code| panic!("{request_id} re-sent: {code:?}"));
        if let Ok(first) = outcome {
            assert_eq!(&again, first, "{request_id} answered another customer");
        }
    }
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
