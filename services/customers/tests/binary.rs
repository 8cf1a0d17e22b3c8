//! The `csops-customers` binary as an operator runs it: help, bad settings, start on SQLite,
//! and a stop signal that flips health before the listener closes.
#![allow(clippy::unwrap_used, unreachable_pub)]

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;
use tonic_health::pb::HealthCheckRequest;

const BIN: &str = env!("CARGO_BIN_EXE_csops-customers");

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn command() -> Command {
    let mut cmd = Command::new(BIN);
    for var in [
        "DATABASE_URL",
        "CUSTOMERS_DATABASE_URL",
        "OTEL_EXPORTER_OTLP_ENDPOINT",
        "CSOPS_LISTEN_ADDR",
    ] {
        cmd.env_remove(var);
    }
    // These tests are about the process; authentication has its own tests.
    cmd.env("CSOPS_AUTH", "off");
    cmd
}

#[test]
fn help_lists_every_setting_with_its_environment_variable() {
    let out = command().arg("--help").output().unwrap();
    assert!(out.status.success());
    let help = String::from_utf8(out.stdout).unwrap();
    assert!(help.starts_with("csops customers service"), "{help}");
    for needle in [
        "--listen-addr",
        "CSOPS_LISTEN_ADDR",
        "CSOPS_METRICS_ADDR",
        "CUSTOMERS_DATABASE_URL",
        "DATABASE_URL",
        "CSOPS_SHUTDOWN_GRACE",
        "CSOPS_DRAIN_DELAY",
        "OTEL_EXPORTER_OTLP_ENDPOINT",
        "CSOPS_VISITS_URL",
        "CSOPS_OUTBOX_INTERVAL",
        "CSOPS_MAX_MESSAGE_SIZE",
        "CSOPS_AUTH_JWKS",
        "CSOPS_AUTH_ISSUER",
        "CSOPS_AUTH_TOKEN_FILE",
        "[default: 127.0.0.1:50051]",
    ] {
        assert!(help.contains(needle), "--help lacks {needle}:\n{help}");
    }
}

#[test]
fn a_bad_setting_exits_64_with_a_message_naming_it() {
    let out = command()
        .args(["--listen-addr", "everywhere"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(64));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("--listen-addr"), "{stderr}");

    let out = command()
        .env("DATABASE_URL", "mysql://db/customers")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(64));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("DATABASE_URL"), "{stderr}");

    let out = command()
        .env("CSOPS_SHUTDOWN_GRACE", "a while")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(64));
    assert!(String::from_utf8_lossy(&out.stderr).contains("shutdown-grace"));

    // Authentication is on unless switched off: without the keys the process does not start.
    let out = command().env_remove("CSOPS_AUTH").output().unwrap();
    assert_eq!(out.status.code(), Some(64));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("CSOPS_AUTH_JWKS"), "{stderr}");
}

struct Running {
    child: Child,
    port: u16,
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
    }
}

fn start(data_dir: &std::path::Path, extra: &[&str]) -> Running {
    let port = free_port();
    let child = command()
        .args([
            "--listen-addr",
            &format!("127.0.0.1:{port}"),
            "--metrics-addr",
            "off",
            "--log-format",
            "json",
        ])
        .arg("--data-dir")
        .arg(data_dir)
        .args(extra)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    Running { child, port }
}

async fn health(port: u16) -> Result<i32, String> {
    let channel = tonic::transport::Endpoint::from_shared(format!("http://127.0.0.1:{port}"))
        .unwrap()
        .connect_timeout(Duration::from_millis(300))
        .connect()
        .await
        .map_err(|e| e.to_string())?;
    HealthClient::new(channel)
        .check(HealthCheckRequest {
            service: "csops.customers.v1.CustomersService".into(),
        })
        .await
        .map(|r| r.into_inner().status)
        .map_err(|e| e.to_string())
}

async fn wait_for(port: u16, want: ServingStatus, within: Duration) {
    let deadline = Instant::now() + within;
    loop {
        let got = health(port).await;
        if got == Ok(want as i32) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "health never became {want:?}: {got:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn it_starts_on_sqlite_creating_its_data_directory() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("nested/data");
    let running = start(&data, &[]);
    wait_for(
        running.port,
        ServingStatus::Serving,
        Duration::from_secs(20),
    )
    .await;
    assert!(data.join("customers.db").exists());
}

#[tokio::test]
async fn sigterm_flips_health_to_not_serving_then_drains_and_exits_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let mut running = start(
        dir.path(),
        &["--drain-delay", "4s", "--shutdown-grace", "5s"],
    );
    wait_for(
        running.port,
        ServingStatus::Serving,
        Duration::from_secs(20),
    )
    .await;
    let sent = Instant::now();
    let status = Command::new("kill")
        .args(["-TERM", &running.child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    // During the drain delay the listener is still open and says NOT_SERVING.
    wait_for(
        running.port,
        ServingStatus::NotServing,
        Duration::from_secs(4),
    )
    .await;
    let deadline = Instant::now() + Duration::from_secs(15);
    let exit = loop {
        if let Some(exit) = running.child.try_wait().unwrap() {
            break exit;
        }
        assert!(Instant::now() < deadline, "did not exit after SIGTERM");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(exit.success(), "exit status {exit:?}");
    assert!(
        sent.elapsed() >= Duration::from_secs(4),
        "stopped before the drain delay"
    );
}

/// A stop with a server stream open (Health/Watch, as a load balancer or an operator keeps
/// one) ends the stream with UNAVAILABLE once the listener closes and exits soon after the
/// drain delay, instead of holding the connection open for the whole grace period.
#[tokio::test]
async fn sigterm_ends_open_streams_with_unavailable_instead_of_waiting_out_the_grace() {
    let dir = tempfile::tempdir().unwrap();
    let mut running = start(
        dir.path(),
        &["--drain-delay", "1s", "--shutdown-grace", "30s"],
    );
    wait_for(
        running.port,
        ServingStatus::Serving,
        Duration::from_secs(20),
    )
    .await;
    let channel =
        tonic::transport::Endpoint::from_shared(format!("http://127.0.0.1:{}", running.port))
            .unwrap()
            .connect()
            .await
            .unwrap();
    let mut stream = HealthClient::new(channel)
        .watch(HealthCheckRequest {
            service: String::new(),
        })
        .await
        .unwrap()
        .into_inner();
    let first = stream.message().await.unwrap().unwrap();
    assert_eq!(first.status, ServingStatus::Serving as i32);

    let sent = Instant::now();
    let status = Command::new("kill")
        .args(["-TERM", &running.child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    // The stream reports the drain, then ends with a status the client may retry elsewhere.
    let ended = tokio::time::timeout(Duration::from_secs(20), async {
        loop {
            match stream.message().await {
                Ok(Some(_)) => {}
                Ok(None) => break None,
                Err(status) => break Some(status),
            }
        }
    })
    .await
    .expect("the stream stayed open after SIGTERM");
    let ended = ended.expect("the stream ended without a status");
    assert_eq!(ended.code(), tonic::Code::Unavailable, "{ended:?}");
    assert_eq!(ended.message(), "server shutting down");

    // The grace period (30 s) is for unary calls; with only a stream open the process exits
    // right after the drain delay (1 s). 15 s leaves room for a loaded machine.
    let deadline = sent + Duration::from_secs(15);
    let exit = loop {
        if let Some(exit) = running.child.try_wait().unwrap() {
            break exit;
        }
        assert!(
            Instant::now() < deadline,
            "still running {:?} after SIGTERM",
            sent.elapsed()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(exit.success(), "exit status {exit:?}");
}

async fn customers_client(
    port: u16,
) -> csops_proto::customers::v1::customers_service_client::CustomersServiceClient<
    tonic::transport::Channel,
> {
    let channel = tonic::transport::Endpoint::from_shared(format!("http://127.0.0.1:{port}"))
        .unwrap()
        .connect()
        .await
        .unwrap();
    csops_proto::customers::v1::customers_service_client::CustomersServiceClient::new(channel)
}

/// What the transport answers: gzip requests are served, an oversize message is
/// RESOURCE_EXHAUSTED (gRPC's status table), and an undecodable one is INTERNAL without the
/// decoder's view of the input.
#[tokio::test]
async fn gzip_is_accepted_and_oversize_or_undecodable_messages_get_their_grpc_status() {
    use csops_proto::customers::v1 as pb;
    use tonic::codec::CompressionEncoding;

    let dir = tempfile::tempdir().unwrap();
    let running = start(dir.path(), &[]);
    wait_for(
        running.port,
        ServingStatus::Serving,
        Duration::from_secs(20),
    )
    .await;

    let mut gzip = customers_client(running.port)
        .await
        .send_compressed(CompressionEncoding::Gzip)
        .accept_compressed(CompressionEncoding::Gzip);
    let missing = gzip
        .get_customer(pb::GetCustomerRequest {
            customer_id: "no-such-customer".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(missing.code(), tonic::Code::NotFound, "{missing:?}");

    // 5 MiB: over the 4 MiB a server decodes.
    let oversize = customers_client(running.port)
        .await
        .get_customer(pb::GetCustomerRequest {
            customer_id: "x".repeat(5 << 20),
        })
        .await
        .unwrap_err();
    assert_eq!(
        oversize.code(),
        tonic::Code::ResourceExhausted,
        "{oversize:?}"
    );
    assert!(oversize.message().len() < 200, "{}", oversize.message());

    // Field 1 (customer_id, a string) sent as a varint: the request does not decode.
    #[derive(Clone, PartialEq, prost::Message)]
    struct Garbled {
        #[prost(uint64, tag = "1")]
        customer_id: u64,
    }
    let channel =
        tonic::transport::Endpoint::from_shared(format!("http://127.0.0.1:{}", running.port))
            .unwrap()
            .connect()
            .await
            .unwrap();
    let mut grpc = tonic::client::Grpc::new(channel);
    grpc.ready().await.unwrap();
    let undecodable = grpc
        .unary::<_, pb::GetCustomerResponse, _>(
            tonic::Request::new(Garbled { customer_id: 7 }),
            http::uri::PathAndQuery::from_static(
                "/csops.customers.v1.CustomersService/GetCustomer",
            ),
            tonic_prost::ProstCodec::default(),
        )
        .await
        .unwrap_err();
    assert_eq!(
        undecodable.code(),
        tonic::Code::InvalidArgument,
        "{undecodable:?}"
    );
    assert_eq!(undecodable.message(), "cannot decode the request");
}
