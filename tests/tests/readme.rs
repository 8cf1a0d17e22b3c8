//! The README's grpcurl examples, run exactly as written with the real grpcurl against running
//! services, authentication on (random ports substituted for the documented ones, and
//! `csops-suite token` for a token signed with the services' development key).
#![allow(clippy::unwrap_used, unreachable_pub)]

use std::process::Command;
use std::sync::{Arc, LazyLock};
use std::time::Duration;

use csops_observability::Metrics;
use csops_runtime::auth::dev::DevIssuer;
use csops_runtime::auth::{Auth, Credentials, Role};
use csops_runtime::tls::{Tls, TlsFiles};
use csops_runtime::Settings;
use csops_testkit::certs::TestCa;
use csops_testkit::server::Running;
use csops_testkit::tools::{grpcurl, repo_root};

/// The development key the README's services verify tokens with, as `csops-suite` would.
fn issuer() -> &'static DevIssuer {
    static ISSUER: LazyLock<DevIssuer> = LazyLock::new(DevIssuer::generate);
    &ISSUER
}

/// Settings with authentication on, as the suite runs: tokens signed with [`issuer`], and a
/// service token for calls to neighbours.
fn with_auth(mut settings: Settings) -> Settings {
    settings.auth = Auth::Jwt(Arc::new(issuer().verifier()));
    let token = issuer().token(
        "csops-service",
        &[Role::Service],
        None,
        Duration::from_secs(3600),
    );
    settings.credentials = Credentials::bearer(&token).unwrap();
    settings
}

/// The README asks `csops-suite token` for a token; the test signs the same token with the
/// key its services use (`csops-suite token` itself is run by the suite's own test).
fn sign_token_commands(script: &str) -> String {
    const COMMAND: &str = "$(cargo run -q -p csops-suite -- token ";
    let mut out = String::new();
    let mut rest = script;
    while let Some(at) = rest.find(COMMAND) {
        out.push_str(&rest[..at]);
        let args_end = rest[at..].find(')').expect("a closing parenthesis") + at;
        let args: Vec<&str> = rest[at + COMMAND.len()..args_end]
            .split_whitespace()
            .collect();
        let value = |flag: &str| {
            args.iter()
                .position(|a| *a == flag)
                .map(|i| args[i + 1].to_owned())
        };
        let role = Role::from_claim(&value("--role").expect("--role")).expect("a known role");
        let subject = value("--subject").unwrap_or_else(|| format!("{role}-1"));
        let token = issuer().token(&subject, &[role], None, Duration::from_secs(3600));
        out.push_str(&token);
        rest = &rest[args_end + 1..];
    }
    out.push_str(rest);
    out
}

/// Returns the shell block between the README's `<!-- NAME:start -->` and `<!-- NAME:end -->`,
/// its token commands replaced by tokens.
fn readme_block(name: &str) -> String {
    sign_token_commands(&readme_block_as_written(name))
}

fn readme_block_as_written(name: &str) -> String {
    let readme = std::fs::read_to_string(repo_root().join("README.md")).unwrap();
    let start = readme
        .find(&format!("<!-- {name}:start -->"))
        .expect("start marker");
    let end = readme
        .find(&format!("<!-- {name}:end -->"))
        .expect("end marker");
    let block = &readme[start..end];
    let body_start = block.find("```sh\n").expect("a ```sh block") + "```sh\n".len();
    let body_end = block[body_start..].find("```").expect("closing fence") + body_start;
    block[body_start..body_end].to_owned()
}

/// Runs a script with `bash -euo pipefail` and grpcurl on the PATH; returns its stdout after
/// asserting it succeeded.
async fn run_script(script: String) -> String {
    assert!(script.contains("grpcurl"), "no grpcurl examples found");
    let grpcurl = grpcurl();
    let path = format!(
        "{}:{}",
        grpcurl.parent().unwrap().display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let output = tokio::task::spawn_blocking(move || {
        Command::new("bash")
            .args(["-euo", "pipefail", "-c", &script])
            .env("PATH", path)
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "README examples failed:\n{stdout}\n{stderr}"
    );
    stdout
}

/// Starts the customers service on SQLite under `dir`.
async fn start_customers(dir: &std::path::Path) -> Running {
    let settings = with_auth(Settings::for_tests(&Settings::sqlite_url(dir, "customers")));
    let app = csops_customers::App::build(&settings, Metrics::new())
        .await
        .unwrap();
    Running::spawn(app.local_addr(), |stop| async move {
        app.run_until_stopped(stop).await.unwrap();
    })
}

/// Starts the complaints service on SQLite under `dir`, calling customers at `customers`.
async fn start_complaints(dir: &std::path::Path, customers: std::net::SocketAddr) -> Running {
    let settings = with_auth(Settings::for_tests(&Settings::sqlite_url(
        dir,
        "complaints",
    )));
    let config = csops_complaints::Config::for_tests(&format!("http://{customers}"));
    let app = csops_complaints::App::build(&settings, config, Metrics::new())
        .await
        .unwrap();
    Running::spawn(app.local_addr(), |stop| async move {
        app.run_until_stopped(stop).await.unwrap();
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_readme_grpcurl_examples_work_as_written() {
    let dir = tempfile::tempdir().unwrap();
    let customers = start_customers(dir.path()).await;
    let port = customers.addr.port();

    let script =
        readme_block("grpcurl-examples").replace("localhost:50051", &format!("127.0.0.1:{port}"));
    let stdout = run_script(script).await;

    // list + describe
    assert!(
        stdout.contains("csops.customers.v1.CustomersService\n"),
        "{stdout}"
    );
    assert!(stdout.contains("grpc.health.v1.Health\n"));
    assert!(stdout.contains("grpc.reflection.v1alpha.ServerReflection"));
    assert!(
        stdout.contains("// Creates a customer file."),
        "describe shows comments:\n{stdout}"
    );
    // health
    assert_eq!(
        stdout.matches("\"status\": \"SERVING\"").count(),
        2,
        "{stdout}"
    );
    // create, the two lists and the get all show the customer
    assert!(
        stdout.matches("\"displayName\": \"Li Na\"").count() >= 4,
        "{stdout}"
    );
    assert!(stdout.contains("\"tier\": \"CUSTOMER_TIER_A\""));
    // the churn signal raised the risk, and the at-risk listing finds the customer
    assert!(
        stdout
            .matches("\"level\": \"CHURN_RISK_LEVEL_HIGH\"")
            .count()
            >= 2,
        "{stdout}"
    );

    customers.stop().await;
}

/// Starts the visits service on SQLite under `dir`, calling customers at `customers`.
async fn start_visits(dir: &std::path::Path, customers: std::net::SocketAddr) -> Running {
    let settings = with_auth(Settings::for_tests(&Settings::sqlite_url(dir, "visits")));
    let config = csops_visits::Config::for_tests(&format!("http://{customers}"), "");
    let app = csops_visits::App::build(&settings, config, Metrics::new())
        .await
        .unwrap();
    Running::spawn(app.local_addr(), |stop| async move {
        app.run_until_stopped(stop).await.unwrap();
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_readme_visits_examples_work_as_written() {
    let dir = tempfile::tempdir().unwrap();
    let customers = start_customers(dir.path()).await;
    let customers_port = customers.addr.port();
    let visits = start_visits(dir.path(), customers.addr).await;
    let visits_port = visits.addr.port();

    let script = readme_block("grpcurl-visits")
        .replace("localhost:50051", &format!("127.0.0.1:{customers_port}"))
        .replace("localhost:50053", &format!("127.0.0.1:{visits_port}"));
    let stdout = run_script(script).await;

    assert!(stdout.contains("rpc CreateVisitPlan"), "{stdout}");
    // The plan took the tier from the customers service and is monthly (about 30 days).
    assert!(stdout.contains("\"tier\": \"CUSTOMER_TIER_B\""), "{stdout}");
    assert!(
        stdout.contains("\"effectiveCadence\": \"2592000s\""),
        "{stdout}"
    );
    // Scheduled, on the agenda with the day's load, completed with the needs found.
    assert!(
        stdout.contains("\"state\": \"VISIT_STATE_SCHEDULED\""),
        "{stdout}"
    );
    assert!(stdout.contains("\"booked\": 1"), "{stdout}");
    assert!(
        stdout.contains("\"state\": \"VISIT_STATE_COMPLETED\""),
        "{stdout}"
    );
    assert!(stdout.contains("faster broadband at home"), "{stdout}");
    assert!(stdout.contains("\"lastInPersonVisitTime\""), "{stdout}");
    // One complaint visit, in person, the second delivery a duplicate.
    assert_eq!(
        stdout
            .matches("\"purpose\": \"VISIT_PURPOSE_COMPLAINT_FOLLOW_UP\"")
            .count(),
        2,
        "{stdout}"
    );
    assert_eq!(stdout.matches("\"duplicate\": true").count(), 1, "{stdout}");

    visits.stop().await;
    customers.stop().await;
}

/// Starts the feedback service on SQLite under `dir`, asking customers at `customers`; no
/// complaints service (callback outcomes wait in the outbox).
async fn start_feedback(dir: &std::path::Path, customers: std::net::SocketAddr) -> Running {
    let settings = with_auth(Settings::for_tests(&Settings::sqlite_url(dir, "feedback")));
    let config = csops_feedback::Config {
        customers_url: format!("http://{customers}"),
        ..csops_feedback::Config::for_tests("")
    };
    let app = csops_feedback::App::build(&settings, config, Metrics::new())
        .await
        .unwrap();
    Running::spawn(app.local_addr(), |stop| async move {
        app.run_until_stopped(stop).await.unwrap();
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_readme_feedback_examples_work_as_written() {
    let dir = tempfile::tempdir().unwrap();
    let customers = start_customers(dir.path()).await;
    let customers_port = customers.addr.port();
    let feedback = start_feedback(dir.path(), customers.addr).await;
    let feedback_port = feedback.addr.port();

    let script = readme_block("grpcurl-feedback")
        .replace("localhost:50051", &format!("127.0.0.1:{customers_port}"))
        .replace("localhost:50054", &format!("127.0.0.1:{feedback_port}"));
    let stdout = run_script(script).await;

    assert!(stdout.contains("rpc RecordCallbackAttempt"), "{stdout}");
    // One callback for the event delivered twice, the second answer a duplicate.
    assert_eq!(stdout.matches("\"duplicate\": true").count(), 1, "{stdout}");
    // Reached and unhappy: completed with a finding owned by eng-3, outcome pending delivery.
    assert!(
        stdout.contains("\"state\": \"CALLBACK_STATE_COMPLETED\""),
        "{stdout}"
    );
    assert!(stdout.contains("\"ownerAgentId\": \"eng-3\""), "{stdout}");
    assert!(stdout.contains("\"fixDueTime\""), "{stdout}");
    // The survey took tier and region from the customer file and was answered in full:
    // CSAT 4 → 100 % of 4-5, NPS 9 → promoter, reliability gap 5 - 7 = -2.
    assert!(stdout.contains("\"customerTier\": \"A\""), "{stdout}");
    assert!(stdout.contains("\"customerRegion\": \"urban\""), "{stdout}");
    assert!(
        stdout.contains("\"state\": \"SURVEY_STATE_COMPLETE\""),
        "{stdout}"
    );
    assert!(stdout.contains("\"gap\": -2"), "{stdout}");
    // The scores of the day, by team: the one survey, CSAT 4 → 100 % of 4-5, NPS 9 → +100.
    assert!(stdout.contains("\"key\": \"team-east\""), "{stdout}");
    assert!(stdout.contains("\"responseRate\": 1"), "{stdout}");
    assert!(stdout.contains("\"value\": 100"), "{stdout}");
    assert!(stdout.contains("\"meanGap\": -2"), "{stdout}");
    // agent-7's scorecard, and the loss counted: one of one, 100 %.
    assert!(stdout.contains("\"unitId\": \"agent-7\""), "{stdout}");
    assert!(
        stdout.contains("\"reason\": \"LOSS_REASON_STAFF_INDIFFERENCE\""),
        "{stdout}"
    );
    assert!(stdout.contains("\"share\": 100"), "{stdout}");

    feedback.stop().await;
    customers.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_readme_complaints_examples_work_as_written() {
    let dir = tempfile::tempdir().unwrap();
    let customers = start_customers(dir.path()).await;
    let customers_port = customers.addr.port();
    let complaints = start_complaints(dir.path(), customers.addr).await;
    let complaints_port = complaints.addr.port();

    let script = readme_block("grpcurl-complaints")
        .replace("localhost:50051", &format!("127.0.0.1:{customers_port}"))
        .replace("localhost:50052", &format!("127.0.0.1:{complaints_port}"));
    let stdout = run_script(script).await;

    // list + describe
    assert!(
        stdout.contains("csops.complaints.v1.ComplaintsService\n"),
        "{stdout}"
    );
    assert!(stdout.contains("rpc ExplainClock"), "{stdout}");
    // the complaint took the customer's tier and region from the customers service
    assert!(stdout.contains("\"tier\": \"CUSTOMER_TIER_C\""), "{stdout}");
    assert!(stdout.contains("\"region\": \"REGION_RURAL\""), "{stdout}");
    // every step answered with the new state
    for state in [
        "ACKNOWLEDGED",
        "INVESTIGATING",
        "SOLUTION_PROPOSED",
        "SOLUTION_ACCEPTED",
        "RESOLVED",
        "REOPENED",
    ] {
        assert!(
            stdout.contains(&format!("\"state\": \"COMPLAINT_STATE_{state}\"")),
            "{state}: {stdout}"
        );
    }
    // pause, explanation, reply check, the callback-fix clock, the SLA stream
    assert!(
        stdout.contains("\"reason\": \"PAUSE_REASON_WAITING_ON_CUSTOMER\""),
        "the explanation lists the pause: {stdout}"
    );
    assert!(
        stdout.contains("\"ruleId\": \"resolution."),
        "explanation: {stdout}"
    );
    assert!(
        stdout.contains("\"ruleId\": \"company-rule-en\""),
        "reply check: {stdout}"
    );
    assert!(stdout.contains("SLA_CLOCK_KIND_CALLBACK_FIX"), "{stdout}");
    assert!(
        stdout.contains("\"kind\": \"SLA_EVENT_KIND_PAUSED\""),
        "stream: {stdout}"
    );
    // The audit log: the complaint's changes, each by the token's subject in its role.
    for action in [
        "CreateComplaint",
        "AcknowledgeComplaint",
        "ResolveComplaint",
        "RecordCallback",
    ] {
        assert!(
            stdout.contains(&format!("\"action\": \"{action}\"")),
            "audit: {action}: {stdout}"
        );
    }
    assert!(
        stdout.matches("\"actorId\": \"lead-1\"").count() >= 9,
        "audit: {stdout}"
    );
    assert!(stdout.contains("\"actorRole\": \"supervisor\""), "{stdout}");
    assert!(stdout.contains("\"recordKind\": \"complaint\""), "{stdout}");

    complaints.stop().await;
    customers.stop().await;
}

/// Settings with mutual TLS from `certs/` under `dir`: the server's certificate (for
/// localhost and 127.0.0.1), callers' certificates from the same CA, and that CA trusted for
/// `https://` neighbours.
fn with_tls(mut settings: Settings, dir: &std::path::Path) -> Settings {
    let certs = dir.join("certs");
    let tls = Tls::load(
        TlsFiles {
            cert: Some(certs.join("server.pem")),
            key: Some(certs.join("server.key")),
            client_ca: Some(certs.join("ca.pem")),
            ca: Some(certs.join("ca.pem")),
        },
        Duration::from_secs(30),
    )
    .unwrap();
    settings.credentials = settings.credentials.with_tls(tls.clone());
    settings.tls = tls;
    settings
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_readme_tls_examples_work_as_written() {
    let dir = tempfile::tempdir().unwrap();
    let certs = dir.path().join("certs");
    std::fs::create_dir(&certs).unwrap();
    let ca = TestCa::new("csops readme CA");
    ca.write(&certs, "ca");
    ca.issue(&["localhost", "127.0.0.1"])
        .write(&certs, "server");
    ca.issue(&["readme-user"]).write(&certs, "client");

    let mut settings = with_tls(
        with_auth(Settings::for_tests(&Settings::sqlite_url(
            dir.path(),
            "customers",
        ))),
        dir.path(),
    );
    settings.health_addr = Some("127.0.0.1:0".parse().unwrap());
    let app = csops_customers::App::build(&settings, Metrics::new())
        .await
        .unwrap();
    let health_addr = app.health_addr().unwrap();
    let customers = Running::spawn(app.local_addr(), |stop| async move {
        app.run_until_stopped(stop).await.unwrap();
    });
    let settings = with_tls(
        with_auth(Settings::for_tests(&Settings::sqlite_url(
            dir.path(),
            "complaints",
        ))),
        dir.path(),
    );
    let config = csops_complaints::Config::for_tests(&format!(
        "https://127.0.0.1:{}",
        customers.addr.port()
    ));
    let app = csops_complaints::App::build(&settings, config, Metrics::new())
        .await
        .unwrap();
    let complaints = Running::spawn(app.local_addr(), |stop| async move {
        app.run_until_stopped(stop).await.unwrap();
    });

    let script = format!(
        "cd {}\n{}",
        dir.path().display(),
        readme_block("grpcurl-tls")
            .replace(
                "localhost:50051",
                &format!("127.0.0.1:{}", customers.addr.port())
            )
            .replace(
                "localhost:50052",
                &format!("127.0.0.1:{}", complaints.addr.port())
            )
    );
    let stdout = run_script(script).await;
    assert!(
        stdout.contains("csops.customers.v1.CustomersService\n"),
        "{stdout}"
    );
    // The complaint took the customer's tier and region from customers, over mutual TLS (the
    // complaints service's lookup would fall back to the defaults, A-tier urban, otherwise).
    assert!(stdout.contains("\"tier\": \"CUSTOMER_TIER_C\""), "{stdout}");
    assert!(stdout.contains("\"region\": \"REGION_RURAL\""), "{stdout}");
    assert!(!stdout.contains("\"defaulted\": true"), "{stdout}");
    // The probes' plaintext port answers health (as the kubelet asks), and nothing else.
    let channel = tonic::transport::Endpoint::from_shared(format!("http://{health_addr}"))
        .unwrap()
        .connect()
        .await
        .unwrap();
    let health = tonic_health::pb::health_client::HealthClient::new(channel.clone())
        .check(tonic_health::pb::HealthCheckRequest {
            service: "csops.customers.v1.CustomersService".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        health.status,
        tonic_health::pb::health_check_response::ServingStatus::Serving as i32
    );
    let list = csops_testkit::raw::methods("csops.customers.v1.CustomersService")
        .into_iter()
        .find(|m| m.name == "ListCustomers")
        .unwrap();
    let refused = csops_testkit::raw::call(channel, &list, Vec::new(), &[])
        .await
        .unwrap_err();
    assert_eq!(refused.code(), tonic::Code::Unimplemented, "{refused:?}");

    complaints.stop().await;
    customers.stop().await;
}
