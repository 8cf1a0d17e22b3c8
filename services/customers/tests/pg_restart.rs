//! PostgreSQL crashes under load (`pg_ctl restart -m immediate`, on a server this test owns):
//! every call is answered OK or with a clean, retryable status; no write is half-applied (each
//! customer has its one outbox event and its one retry key, or nothing at all); re-sending
//! every request with its request_id afterwards creates each customer exactly once; and the
//! service serves again by itself, without a restart.
#![allow(clippy::unwrap_used, unreachable_pub)]

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use csops_customers::App;
use csops_observability::Metrics;
use csops_proto::customers::v1 as pb;
use csops_proto::customers::v1::customers_service_client::CustomersServiceClient;
use csops_runtime::Settings;
use csops_testkit::postgres::Dedicated;
use csops_testkit::server::Running;
use tonic::transport::Channel;
use tonic::Code;

const GENEROUS: Duration = Duration::from_secs(90);
const CALLERS: usize = 8;

fn request(request_id: &str) -> pb::CreateCustomerRequest {
    pb::CreateCustomerRequest {
        customer: Some(pb::Customer {
            display_name: format!("Customer {request_id}"),
            tier: pb::CustomerTier::B as i32,
            region: pb::Region::Urban as i32,
            owner_agent_id: "agent-1".into(),
            ..Default::default()
        }),
        request_id: request_id.to_owned(),
        actor_id: "agent-1".into(),
    }
}

/// What one create call answered: the customer's id, or the status code.
type Outcome = Result<String, Code>;

async fn create(client: &mut CustomersServiceClient<Channel>, request_id: &str) -> Outcome {
    client
        .create_customer(request(request_id))
        .await
        .map(|r| r.into_inner().customer.unwrap().id)
        .map_err(|status| status.code())
}

/// Waits until `count` reaches `want`.
async fn until(count: &AtomicUsize, want: usize, what: &str) {
    let deadline = tokio::time::Instant::now() + GENEROUS;
    while count.load(Ordering::SeqCst) < want {
        assert!(tokio::time::Instant::now() < deadline, "{what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_postgres_crash_under_load_half_applies_nothing_and_the_service_recovers_by_itself() {
    let pg = Dedicated::start();
    let url = pg.database("customers").await;
    let app = App::build(&Settings::for_tests(&url), Metrics::new())
        .await
        .unwrap();
    let addr = app.local_addr();
    let _server = Running::spawn(addr, |stop| async move {
        app.run_until_stopped(stop).await.unwrap();
    });
    let client = CustomersServiceClient::connect(format!("http://{addr}"))
        .await
        .unwrap();

    // Callers create customers without pause, each call with its own request_id.
    let ok = Arc::new(AtomicUsize::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let callers: Vec<_> = (0..CALLERS)
        .map(|worker| {
            let mut client = client.clone();
            let ok = ok.clone();
            let stop = stop.clone();
            tokio::spawn(async move {
                let mut outcomes: Vec<(String, Outcome)> = Vec::new();
                for n in 0.. {
                    if stop.load(Ordering::SeqCst) {
                        break;
                    }
                    let request_id = format!("w{worker}-{n}");
                    let outcome = create(&mut client, &request_id).await;
                    let failed = outcome.is_err();
                    if !failed {
                        ok.fetch_add(1, Ordering::SeqCst);
                    }
                    outcomes.push((request_id, outcome));
                    // A client backs off after a failure instead of spinning on it.
                    if failed {
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                }
                outcomes
            })
        })
        .collect();

    until(&ok, 50, "the first creates never succeeded").await;
    // The crash, under load: every session cut, recovery from the WAL.
    let pg = tokio::task::spawn_blocking(move || {
        pg.crash_and_restart();
        pg
    })
    .await
    .unwrap();
    // The service recovers by itself: creates succeed again.
    let after = ok.load(Ordering::SeqCst);
    until(
        &ok,
        after + 50,
        "the service did not recover after PostgreSQL came back",
    )
    .await;
    stop.store(true, Ordering::SeqCst);
    let mut outcomes: Vec<(String, Outcome)> = Vec::new();
    for caller in callers {
        outcomes.extend(caller.await.unwrap());
    }

    // Every failure is a clean status a client may retry on: never INTERNAL or UNKNOWN.
    let failures: HashMap<Code, usize> = outcomes
        .iter()
        .filter_map(|(_, o)| o.as_ref().err())
        .fold(HashMap::new(), |mut m, code| {
            *m.entry(*code).or_default() += 1;
            m
        });
    eprintln!("{} creates, failures by code: {failures:?}", outcomes.len());
    assert!(
        failures
            .keys()
            .all(|code| matches!(code, Code::Unavailable | Code::Aborted)),
        "failures by code: {failures:?}"
    );

    // Every request sent again with its request_id: an accepted one answers the same customer,
    // a failed one is created now (or answers the customer it did create before its answer
    // was lost).
    let mut client = client.clone();
    for (request_id, outcome) in &outcomes {
        let again = create(&mut client, request_id).await;
        let id = again.unwrap_or_else(|code| panic!("{request_id} re-sent: {code:?}"));
        if let Ok(first) = outcome {
            assert_eq!(&id, first, "{request_id} answered another customer");
        }
    }

    // In the database: one customer per request, each with its one event and retry key.
    let db = sqlx::PgPool::connect(&url).await.unwrap();
    let count = |sql: &'static str| {
        let db = db.clone();
        async move {
            sqlx::query_scalar::<_, i64>(sql)
                .fetch_one(&db)
                .await
                .unwrap()
        }
    };
    let requests = i64::try_from(outcomes.len()).unwrap();
    assert_eq!(count("SELECT count(*) FROM customers").await, requests);
    assert_eq!(
        count(
            "SELECT count(*) FROM customers c WHERE \
             (SELECT count(*) FROM outbox_events e WHERE e.aggregate_id = c.id) <> 1"
        )
        .await,
        0,
        "a customer without its event, or with two"
    );
    assert_eq!(
        count(
            "SELECT count(*) FROM customers c WHERE \
             (SELECT count(*) FROM idempotency_keys k WHERE k.resource_id = c.id) <> 1"
        )
        .await,
        0,
        "a customer without its retry key, or with two"
    );
    drop(pg);
}
