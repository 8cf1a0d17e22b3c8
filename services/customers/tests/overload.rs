//! A saturated server, as a client sees it (the kit's admission layer, on the customers
//! service and a real PostgreSQL): calls beyond `--max-concurrent-calls` are refused at once
//! with RESOURCE_EXHAUSTED instead of queueing, health still answers, and the server serves
//! again as soon as its calls finish.
#![allow(clippy::unwrap_used, unreachable_pub)]

use std::time::Duration;

use csops_customers::App;
use csops_observability::Metrics;
use csops_proto::customers::v1 as pb;
use csops_proto::customers::v1::customers_service_client::CustomersServiceClient;
use csops_runtime::Settings;
use sqlx::{Connection, Executor};
use tokio::sync::oneshot;
use tonic::Code;

const GENEROUS: Duration = Duration::from_secs(30);

/// How many sessions wait for a lock on `table`.
async fn waiting_on(observer: &mut sqlx::PgConnection, table: &str) -> i64 {
    sqlx::query_scalar(
        "SELECT count(*) FROM pg_locks WHERE NOT granted AND relation = $1::regclass",
    )
    .bind(table)
    .fetch_one(observer)
    .await
    .unwrap()
}

#[tokio::test]
async fn a_saturated_server_refuses_at_once_keeps_answering_health_and_recovers() {
    let url = csops_testkit::postgres::fresh_database().await;
    let mut settings = Settings::for_tests(&url);
    settings.max_concurrent_calls = 2;
    let app = App::build(&settings, Metrics::new()).await.unwrap();
    let addr = app.local_addr();
    let (_stop, stopped) = oneshot::channel::<()>();
    tokio::spawn(app.run_until_stopped(async move {
        let _ = stopped.await;
    }));
    let mut client = CustomersServiceClient::connect(format!("http://{addr}"))
        .await
        .unwrap();
    let customer = client
        .create_customer(pb::CreateCustomerRequest {
            customer: Some(pb::Customer {
                display_name: "Wang Fang".into(),
                tier: pb::CustomerTier::B as i32,
                region: pb::Region::Urban as i32,
                owner_agent_id: "agent-1".into(),
                ..Default::default()
            }),
            request_id: "overload-1".into(),
            actor_id: "agent-1".into(),
        })
        .await
        .unwrap()
        .into_inner()
        .customer
        .unwrap();
    let get = {
        let client = client.clone();
        let id = customer.id.clone();
        move || {
            let mut client = client.clone();
            let request = pb::GetCustomerRequest {
                customer_id: id.clone(),
            };
            async move { client.get_customer(request).await }
        }
    };

    // Another session holds the customers table: reads of it wait.
    let mut locker = sqlx::PgConnection::connect(&url).await.unwrap();
    locker.execute("BEGIN").await.unwrap();
    locker
        .execute("LOCK TABLE customers IN ACCESS EXCLUSIVE MODE")
        .await
        .unwrap();
    let held: Vec<_> = (0..2).map(|_| tokio::spawn(get())).collect();
    let mut observer = sqlx::PgConnection::connect(&url).await.unwrap();
    let deadline = tokio::time::Instant::now() + GENEROUS;
    while waiting_on(&mut observer, "customers").await < 2 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the two calls never reached the database"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    // Both slots are taken by calls that cannot finish while the lock is held: a third call
    // that answered at all was refused without queueing.
    let refused = tokio::time::timeout(GENEROUS, get())
        .await
        .expect("a call to a full server is answered while the lock is still held")
        .unwrap_err();
    assert_eq!(refused.code(), Code::ResourceExhausted, "{refused:?}");
    assert!(refused.message().contains("overloaded"), "{refused:?}");

    // Probes are never refused: a busy service must not be restarted for being busy.
    let channel = tonic::transport::Channel::from_shared(format!("http://{addr}"))
        .unwrap()
        .connect()
        .await
        .unwrap();
    let mut health = tonic_health::pb::health_client::HealthClient::new(channel);
    let status = health
        .check(tonic_health::pb::HealthCheckRequest {
            service: "csops.customers.v1.CustomersService".into(),
        })
        .await
        .unwrap()
        .into_inner()
        .status;
    assert_eq!(
        status,
        tonic_health::pb::health_check_response::ServingStatus::Serving as i32
    );

    // The lock goes: the waiting calls complete and the server takes calls again.
    locker.execute("ROLLBACK").await.unwrap();
    for call in held {
        let answer = call.await.unwrap().unwrap().into_inner();
        assert_eq!(answer.customer.unwrap().id, customer.id);
    }
    let again = get().await.unwrap().into_inner();
    assert_eq!(again.customer.unwrap().id, customer.id);
}
