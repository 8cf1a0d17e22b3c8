//! The harness counts answers by gRPC status: an echo server told to fail some calls shows up
//! as those codes in the report, in the closed and in the open loop.
#![allow(clippy::unwrap_used, unreachable_pub)]

use std::sync::Arc;
use std::time::Duration;

use csops_load::echo::pb::echo_service_client::EchoServiceClient;
use csops_load::scenarios::echo_request;
use csops_load::{run, CallCtx, CallFuture, Channels, Mode, RunConfig, Scenario, Weighted};
use tonic::Code;

/// Every fourth call asks the echo server for NOT_FOUND, every tenth for UNAVAILABLE.
fn failing_echo(channels: Channels) -> Arc<dyn Scenario> {
    Arc::new(move |ctx: CallCtx| -> CallFuture {
        let mut client = EchoServiceClient::new(channels.get(ctx.worker));
        let code = if ctx.seq % 10 == 9 {
            Code::Unavailable
        } else if ctx.seq % 4 == 3 {
            Code::NotFound
        } else {
            Code::Ok
        };
        Box::pin(async move { client.echo(echo_request(code as i32)).await.map(drop) })
    })
}

fn config(mode: Mode) -> RunConfig {
    RunConfig {
        mode,
        duration: Duration::from_millis(600),
        warmup: Duration::from_millis(100),
        call_timeout: Duration::from_secs(5),
        max_calls: 1_000_000,
    }
}

async fn check(mode: Mode) {
    let server = csops_load::serve::echo().await.unwrap();
    let channels = Channels::connect(&server.url(), 2).await.unwrap();
    let mix = vec![Weighted {
        name: "failing_echo".into(),
        weight: 1,
        scenario: failing_echo(channels),
    }];
    let report = run(mix, &config(mode)).await;
    let total = &report.total;
    assert!(total.calls > 20, "too few calls: {total:?}");
    let not_found = total.errors.get("NOT_FOUND").copied().unwrap_or(0);
    let unavailable = total.errors.get("UNAVAILABLE").copied().unwrap_or(0);
    assert_eq!(total.ok + not_found + unavailable, total.calls, "{total:?}");
    assert_eq!(
        total.errors.len(),
        2,
        "only the two asked-for codes: {total:?}"
    );
    // Shares of 1/4·9/10 ≈ 22 % and 1/10, with slack for the calls cut at the edges.
    let share = |n: u64| n as f64 / total.calls as f64;
    assert!((0.15..0.30).contains(&share(not_found)), "{total:?}");
    assert!((0.05..0.15).contains(&share(unavailable)), "{total:?}");
    assert!(total.latency_ms.p50 > 0.0 && total.latency_ms.max >= total.latency_ms.p99);
    // The split by outcome covers the same calls: both halves have answers within the whole.
    for part in [&total.ok_latency_ms, &total.error_latency_ms] {
        assert!(
            part.p50 > 0.0 && part.max <= total.latency_ms.max,
            "{total:?}"
        );
    }
    assert!(
        report.table().contains("errors answered in"),
        "{}",
        report.table()
    );
    assert!(report.table().contains("NOT_FOUND="), "{}", report.table());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn closed_loop_counts_errors_by_grpc_status() {
    check(Mode::Closed { concurrency: 4 }).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn open_loop_counts_errors_by_grpc_status() {
    check(Mode::Open {
        rate: 400.0,
        max_in_flight: 64,
    })
    .await;
}
