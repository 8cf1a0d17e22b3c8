//! PostgreSQL crashes under load (`pg_ctl restart -m immediate`, on a server this test owns):
//! every call is answered OK or with a clean, retryable status; no write is half-applied (each
//! customer has its one outbox event and its one retry key, or nothing at all); re-sending
//! every request with its request_id afterwards creates each customer exactly once; and the
//! service serves again by itself, without a restart.
#![allow(clippy::unwrap_used, unreachable_pub)]

use std::collections::HashMap;
use std::time::Duration;

mod common;

use common::{resend_all, Creators};

use csops_customers::App;
use csops_observability::Metrics;
use csops_proto::customers::v1::customers_service_client::CustomersServiceClient;
use csops_runtime::Settings;
use csops_testkit::postgres::Dedicated;
use csops_testkit::server::Running;
use tonic::Code;

const GENEROUS: Duration = Duration::from_secs(90);
const CALLERS: usize = 8;

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
    let creators = Creators::start(&client, CALLERS);
    creators
        .until_accepted(50, GENEROUS, "the first creates never succeeded")
        .await;
    // The crash, under load: every session cut, recovery from the WAL.
    let pg = tokio::task::spawn_blocking(move || {
        pg.crash_and_restart();
        pg
    })
    .await
    .unwrap();
    // The service recovers by itself: creates succeed again.
    let after = creators.accepted();
    creators
        .until_accepted(
            after + 50,
            GENEROUS,
            "the service did not recover after PostgreSQL came back",
        )
        .await;
    let outcomes = creators.finish().await;

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

    // Every request sent again with its request_id creates each customer once.
    let mut client = client.clone();
    resend_all(&mut client, &outcomes).await;

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
