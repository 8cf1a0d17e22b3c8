//! The README's grpcurl examples, run exactly as written with the real grpcurl against running
//! services (random ports substituted for the documented ones).
#![allow(clippy::unwrap_used, unreachable_pub)]

use std::process::Command;

use csops_observability::Metrics;
use csops_runtime::Settings;
use csops_testkit::tools::{grpcurl, repo_root};

/// Returns the shell block between the README's grpcurl-example markers.
fn readme_examples() -> String {
    let readme = std::fs::read_to_string(repo_root().join("README.md")).unwrap();
    let start = readme
        .find("<!-- grpcurl-examples:start -->")
        .expect("start marker");
    let end = readme
        .find("<!-- grpcurl-examples:end -->")
        .expect("end marker");
    let block = &readme[start..end];
    let body_start = block.find("```sh\n").expect("a ```sh block") + "```sh\n".len();
    let body_end = block[body_start..].find("```").expect("closing fence") + body_start;
    block[body_start..body_end].to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_readme_grpcurl_examples_work_as_written() {
    let dir = tempfile::tempdir().unwrap();
    let settings = Settings::for_tests(&Settings::sqlite_url(dir.path(), "customers"));
    let customers = csops_customers::App::build(&settings, Metrics::new())
        .await
        .unwrap();
    let port = customers.port();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(customers.run_until_stopped(async move {
        let _ = stopped.await;
    }));

    let script = readme_examples().replace("localhost:50051", &format!("127.0.0.1:{port}"));
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
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "README examples failed:\n{stdout}\n{stderr}"
    );

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

    let _ = stop.send(());
    server.await.unwrap().unwrap();
}
