//! Nothing is lost when a receiver dies: the customers service's events flow to a visits
//! *process* (the real binary, on a real PostgreSQL) that is SIGKILLed while they flow and
//! started again on the same port and database. Every customer created before, during and
//! after the outage ends with exactly one visit plan, and the changes made while visits was
//! dead are applied in order (each plan shows the customer's last tier).
#![allow(clippy::unwrap_used, unreachable_pub)]

use std::collections::HashMap;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use csops_customers::{App as CustomersApp, Config as CustomersConfig};
use csops_observability::Metrics;
use csops_proto::customers::v1 as cpb;
use csops_proto::customers::v1::customers_service_client::CustomersServiceClient;
use csops_proto::visits::v1 as pb;
use csops_proto::visits::v1::visits_service_client::VisitsServiceClient;
use csops_runtime::Settings;
use csops_testkit::server::Running;
use tonic::transport::Channel;

const GENEROUS: Duration = Duration::from_secs(90);
const PER_BATCH: usize = 20;

/// A visits process, killed when dropped.
struct Visits(Child);

impl Drop for Visits {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Starts the visits binary on `port` and `database_url`, without a customers URL (plans
/// come only from the delivered events), and waits until it serves.
async fn start_visits(port: u16, database_url: &str) -> Visits {
    let child = Command::new(env!("CARGO_BIN_EXE_csops-visits"))
        .env("CSOPS_AUTH", "off")
        .args([
            "--listen-addr",
            &format!("127.0.0.1:{port}"),
            "--metrics-addr",
            "off",
            "--database-url",
            database_url,
            "--customers-url=",
        ])
        .env("RUST_LOG", "warn")
        .env("CSOPS_LOG_FORMAT", "json")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let visits = Visits(child);
    let deadline = tokio::time::Instant::now() + GENEROUS;
    loop {
        if let Ok(mut client) = visits_client(port).await {
            if client
                .list_visit_plans(pb::ListVisitPlansRequest::default())
                .await
                .is_ok()
            {
                return visits;
            }
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "visits never served"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn visits_client(port: u16) -> Result<VisitsServiceClient<Channel>, tonic::transport::Error> {
    VisitsServiceClient::connect(format!("http://127.0.0.1:{port}")).await
}

/// Every plan visits holds: customer id → tiers of its plans (one entry per plan).
async fn plans(port: u16) -> HashMap<String, Vec<i32>> {
    let mut client = visits_client(port).await.unwrap();
    let mut out: HashMap<String, Vec<i32>> = HashMap::new();
    let mut token = String::new();
    loop {
        let page = client
            .list_visit_plans(pb::ListVisitPlansRequest {
                page_size: 500,
                page_token: token,
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner();
        for plan in page.plans {
            out.entry(plan.customer_id).or_default().push(plan.tier);
        }
        if page.next_page_token.is_empty() {
            return out;
        }
        token = page.next_page_token;
    }
}

/// Creates `PER_BATCH` tier-A customers at once; returns their ids.
async fn create_batch(customers: &CustomersServiceClient<Channel>, batch: &str) -> Vec<String> {
    let calls = (0..PER_BATCH).map(|i| {
        let mut client = customers.clone();
        let request = cpb::CreateCustomerRequest {
            customer: Some(cpb::Customer {
                display_name: format!("Customer {batch}-{i}"),
                tier: cpb::CustomerTier::A as i32,
                region: cpb::Region::Urban as i32,
                owner_agent_id: "agent-1".into(),
                ..Default::default()
            }),
            request_id: format!("{batch}-{i}"),
            actor_id: "agent-1".into(),
        };
        tokio::spawn(async move { client.create_customer(request).await })
    });
    let mut ids = Vec::new();
    for call in calls {
        ids.push(
            call.await
                .unwrap()
                .unwrap()
                .into_inner()
                .customer
                .unwrap()
                .id,
        );
    }
    ids
}

/// Changes each customer's tier to C.
async fn demote(customers: &CustomersServiceClient<Channel>, ids: &[String]) {
    for id in ids {
        let mut client = customers.clone();
        let etag = client
            .get_customer(cpb::GetCustomerRequest {
                customer_id: id.clone(),
            })
            .await
            .unwrap()
            .into_inner()
            .customer
            .unwrap()
            .etag;
        client
            .change_customer_tier(cpb::ChangeCustomerTierRequest {
                customer_id: id.clone(),
                tier: cpb::CustomerTier::C as i32,
                reason: "no purchase in two years".into(),
                changed_by: "agent-1".into(),
                etag,
            })
            .await
            .unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_receiver_killed_mid_stream_and_restarted_gets_every_event_once_and_in_order() {
    let visits_db = csops_testkit::postgres::fresh_database().await;
    let customers_db = csops_testkit::postgres::fresh_database().await;
    let port = free_port();
    let mut visits = start_visits(port, &visits_db).await;

    let config = CustomersConfig {
        visits_url: format!("http://127.0.0.1:{port}"),
        outbox_interval: Duration::from_millis(200),
        ..CustomersConfig::default()
    };
    let app =
        CustomersApp::build_with(&Settings::for_tests(&customers_db), &config, Metrics::new())
            .await
            .unwrap();
    let addr = app.local_addr();
    let _customers = Running::spawn(addr, |stop| async move {
        app.run_until_stopped(stop).await.unwrap();
    });
    let customers = CustomersServiceClient::connect(format!("http://{addr}"))
        .await
        .unwrap();

    // Events flow: the first batch starts arriving.
    let mut ids = create_batch(&customers, "before").await;
    let demoted = ids.clone();
    let deadline = tokio::time::Instant::now() + GENEROUS;
    while plans(port).await.is_empty() {
        assert!(tokio::time::Instant::now() < deadline, "no event arrived");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    // SIGKILL while they flow: no goodbye, calls in flight cut mid-way.
    visits.0.kill().unwrap();
    visits.0.wait().unwrap();
    drop(visits);
    // Changes accepted while the receiver is dead: more customers, and the first batch
    // demoted (the plans must end at tier C: the update follows the create).
    ids.extend(create_batch(&customers, "during").await);
    demote(&customers, &demoted).await;

    let _visits = start_visits(port, &visits_db).await;
    ids.extend(create_batch(&customers, "after").await);

    let want: HashMap<String, i32> = ids
        .iter()
        .map(|id| {
            let tier = if demoted.contains(id) {
                pb::CustomerTier::C
            } else {
                pb::CustomerTier::A
            };
            (id.clone(), tier as i32)
        })
        .collect();
    let deadline = tokio::time::Instant::now() + GENEROUS;
    loop {
        let got = plans(port).await;
        let settled = want
            .iter()
            .all(|(id, tier)| got.get(id).is_some_and(|tiers| tiers == &vec![*tier]));
        if settled && got.len() == want.len() {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "visits holds {} of {} customers' plans; duplicates or stale tiers: {:?}",
            got.len(),
            want.len(),
            got.iter()
                .filter(|(id, tiers)| want.get(*id).is_none_or(|t| *tiers != &vec![*t]))
                .collect::<Vec<_>>()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
