//! The activities the complaints service tells the feedback service about, on SQLite and on a
//! real PostgreSQL: written to the outbox with the change that caused them (one per create),
//! and, with the real feedback service running next to it, counted in feedback's process
//! indicators.
#![allow(clippy::unwrap_used, unreachable_pub)]

use std::time::Duration;

mod common;

use chrono::{TimeDelta, Utc};
use common::{fast_policy, start_complaints, start_customers, Running};
use csops_complaints::Config;
use csops_observability::Metrics;
use csops_proto::complaints::v1 as pb;
use csops_proto::complaints::v1::complaints_service_client::ComplaintsServiceClient;
use csops_proto::customers::v1 as cpb;
use csops_proto::customers::v1::customers_service_client::CustomersServiceClient;
use csops_proto::feedback::v1 as fb;
use csops_proto::feedback::v1::feedback_service_client::FeedbackServiceClient;
use csops_runtime::time::to_timestamp;
use csops_runtime::Settings;
use csops_testkit::Backend;
use sqlx::AnyPool;
use tonic::transport::Channel;

fn agent() -> Option<pb::Actor> {
    Some(pb::Actor {
        id: "agent-1".into(),
        role: pb::ActorRole::Agent as i32,
    })
}

/// A B-tier urban customer (no key account: no visit is requested).
async fn open_customer(addr: std::net::SocketAddr) -> String {
    let mut client = CustomersServiceClient::connect(format!("http://{addr}"))
        .await
        .unwrap();
    client
        .create_customer(cpb::CreateCustomerRequest {
            customer: Some(cpb::Customer {
                display_name: "Test Customer".into(),
                tier: cpb::CustomerTier::B as i32,
                region: cpb::Region::Urban as i32,
                ..Default::default()
            }),
            request_id: uuid::Uuid::new_v4().to_string(),
            actor_id: "agent-1".into(),
        })
        .await
        .unwrap()
        .into_inner()
        .customer
        .unwrap()
        .id
}

async fn create(client: &mut ComplaintsServiceClient<Channel>, customer_id: &str) -> pb::Complaint {
    client
        .create_complaint(pb::CreateComplaintRequest {
            complaint: Some(pb::Complaint {
                customer_id: customer_id.into(),
                title: "Rude answer on the hotline".into(),
                nature: pb::ComplaintNature::ServiceAttitude as i32,
                severity: pb::Severity::Medium as i32,
                channel: pb::Channel::Hotline as i32,
                ..Default::default()
            }),
            request_id: uuid::Uuid::new_v4().to_string(),
            actor: agent(),
        })
        .await
        .unwrap()
        .into_inner()
        .complaint
        .unwrap()
}

async fn acknowledge(client: &mut ComplaintsServiceClient<Channel>, id: &str) {
    client
        .acknowledge_complaint(pb::AcknowledgeComplaintRequest {
            complaint_id: id.into(),
            actor: agent(),
            ..Default::default()
        })
        .await
        .unwrap();
}

/// ACKNOWLEDGED → RESOLVED: investigation, a solution proposed and accepted, resolution.
async fn resolve(client: &mut ComplaintsServiceClient<Channel>, id: &str) {
    client
        .start_investigation(pb::StartInvestigationRequest {
            complaint_id: id.into(),
            actor: agent(),
            ..Default::default()
        })
        .await
        .unwrap();
    client
        .propose_solution(pb::ProposeSolutionRequest {
            complaint_id: id.into(),
            measures: vec!["apologise and coach the agent".into()],
            plan: vec![pb::PlanStep {
                description: "coaching session".into(),
                owner_id: "sup-1".into(),
                due_time: Some(to_timestamp(Utc::now() + TimeDelta::days(1))),
            }],
            actor: agent(),
            etag: String::new(),
        })
        .await
        .unwrap();
    client
        .accept_solution(pb::AcceptSolutionRequest {
            complaint_id: id.into(),
            actor: agent(),
            ..Default::default()
        })
        .await
        .unwrap();
    client
        .resolve_complaint(pb::ResolveComplaintRequest {
            complaint_id: id.into(),
            resolution: Some(pb::Resolution {
                summary: "apologised".into(),
                root_cause: "a bad day".into(),
                corrective_action: "coaching".into(),
                ..Default::default()
            }),
            actor: agent(),
            etag: String::new(),
        })
        .await
        .unwrap();
}

/// (kind, payload) of the complaint's outbox events for feedback, in the order written.
async fn feedback_events(pool: &AnyPool, complaint_id: &str) -> Vec<(String, serde_json::Value)> {
    let rows: Vec<(String, String)> = sqlx::query_as(
        "SELECT kind, payload FROM outbox_events \
         WHERE aggregate_id = $1 AND destination = 'feedback' ORDER BY create_time, id",
    )
    .bind(complaint_id)
    .fetch_all(pool)
    .await
    .unwrap();
    rows.into_iter()
        .map(|(k, p)| (k, serde_json::from_str(&p).unwrap()))
        .collect()
}

/// (kind, clock kind) of the activity payloads among `events`.
fn activity_kinds(events: &[(String, serde_json::Value)]) -> Vec<(String, String)> {
    events
        .iter()
        .filter(|(k, _)| k == "record_activity")
        .map(|(_, p)| {
            (
                p["kind"].as_str().unwrap().to_owned(),
                p["clock_kind"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

async fn each_step_writes_its_activities_to_the_outbox_with_the_change(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let customers_db = backend.database_url(dir.path(), "customers").await;
    let complaints_db = backend.database_url(dir.path(), "complaints").await;
    let customers = start_customers(&customers_db, None).await;
    // No feedback deployed: the events wait in the outbox.
    let complaints = start_complaints(
        &complaints_db,
        Config::for_tests(&format!("http://{}", customers.addr)),
    )
    .await;
    let pool = csops_runtime::db::connect(&Settings::for_tests(&complaints_db).database)
        .await
        .unwrap();
    let mut client = ComplaintsServiceClient::connect(format!("http://{}", complaints.addr))
        .await
        .unwrap();
    let cus = open_customer(customers.addr).await;
    let created = create(&mut client, &cus).await;

    // A create writes exactly one outbox row: the complaint received, there as soon as the
    // create answers (the same transaction).
    let all: (i64,) = sqlx::query_as("SELECT COUNT(*) FROM outbox_events WHERE aggregate_id = $1")
        .bind(&created.id)
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(all.0, 1);
    let events = feedback_events(&pool, &created.id).await;
    let (kind, payload) = &events[0];
    assert_eq!(kind, "record_activity");
    let receive = created.receive_time.unwrap();
    let receive_micros = receive.seconds * 1_000_000 + i64::from(receive.nanos) / 1_000;
    assert_eq!(
        payload,
        &serde_json::json!({
            "type": "activity",
            "kind": "complaint_received",
            "customer_id": cus,
            "agent_id": "agent-1",
            "complaint_id": created.id,
            "category": "SERVICE_ATTITUDE",
            "clock_kind": "",
            "occur_time": receive_micros,
        })
    );

    // The first contact: its clock met, and the contact handled.
    acknowledge(&mut client, &created.id).await;
    // The resolution: its clock met, and the callback request.
    resolve(&mut client, &created.id).await;
    let events = feedback_events(&pool, &created.id).await;
    let kinds: Vec<&str> = events.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(
        kinds,
        [
            "record_activity",
            "record_activity",
            "record_activity",
            "record_activity",
            "schedule_callback"
        ]
    );
    let s = |a: &str, b: &str| (a.to_owned(), b.to_owned());
    assert_eq!(
        activity_kinds(&events),
        [
            s("complaint_received", ""),
            s("clock_met", "FIRST_CONTACT"),
            s("contact_handled", ""),
            s("clock_met", "RESOLUTION"),
        ]
    );
    drop(complaints);
    drop(customers);
}

async fn wait_for<T, F: std::future::Future<Output = Option<T>>>(
    mut check: impl FnMut() -> F,
    what: &str,
) -> T {
    // Generous: a loaded CI machine is slow; the check returns as soon as it holds.
    for _ in 0..300 {
        if let Some(found) = check().await {
            return found;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("timed out waiting: {what}");
}

/// agent-1's indicators today, once `ready` holds for them.
async fn agent_indicators(
    feedback: &FeedbackServiceClient<Channel>,
    ready: impl Fn(&fb::ProcessIndicators) -> bool,
    what: &str,
) -> fb::ProcessIndicators {
    let now = Utc::now();
    wait_for(
        || {
            let mut feedback = feedback.clone();
            let request = fb::ListProcessIndicatorsRequest {
                period_start: Some(to_timestamp(now - TimeDelta::days(1))),
                period_end: Some(to_timestamp(now + TimeDelta::days(1))),
                agent_ids: vec!["agent-1".into()],
                ..Default::default()
            };
            let ready = &ready;
            async move {
                let page = feedback
                    .list_process_indicators(request)
                    .await
                    .unwrap()
                    .into_inner();
                page.agents.into_iter().find(|a| ready(a))
            }
        },
        what,
    )
    .await
}

async fn a_complaints_activities_arrive_in_feedbacks_process_indicators(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let customers_db = backend.database_url(dir.path(), "customers").await;
    let complaints_db = backend.database_url(dir.path(), "complaints").await;
    let feedback_db = backend.database_url(dir.path(), "feedback").await;
    let customers = start_customers(&customers_db, None).await;
    // The real feedback service (its callback outcomes for complaints are not needed here).
    let mut feedback_config = csops_feedback::Config::for_tests("");
    feedback_config.customers_url = format!("http://{}", customers.addr);
    let app = csops_feedback::App::build(
        &Settings::for_tests(&feedback_db),
        feedback_config,
        Metrics::new(),
    )
    .await
    .unwrap();
    let feedback_srv = Running::spawn(app.local_addr(), |stop| async move {
        app.run_until_stopped(stop).await.unwrap();
    });
    // Complaints with a one-second first contact, so the watcher breaches it in the test.
    let mut config = Config::for_tests(&format!("http://{}", customers.addr));
    config.feedback_url = format!("http://{}", feedback_srv.addr);
    config.sla_policy_file = Some(fast_policy());
    config.sla_watch_interval = Duration::from_millis(100);
    config.outbox_interval = Duration::from_millis(100);
    let complaints = start_complaints(&complaints_db, config).await;
    let mut client = ComplaintsServiceClient::connect(format!("http://{}", complaints.addr))
        .await
        .unwrap();
    let feedback = FeedbackServiceClient::connect(format!("http://{}", feedback_srv.addr))
        .await
        .unwrap();
    let cus = open_customer(customers.addr).await;
    let created = create(&mut client, &cus).await;

    // The complaint arrives, then the first-contact clock's breach (1 s; the watcher sees it).
    let breached = agent_indicators(
        &feedback,
        |a| a.complaints == 1 && a.clocks_total == 1,
        "the complaint and the breach in feedback",
    )
    .await;
    assert_eq!(
        (breached.first_contact_clocks, breached.first_contact_met),
        (1, 0)
    );
    assert_eq!(breached.customers, 1);

    // The late first contact counts as a contact only (its clock was counted breached), and
    // the resolution's clock is met within its 4 hours.
    acknowledge(&mut client, &created.id).await;
    resolve(&mut client, &created.id).await;
    let done = agent_indicators(
        &feedback,
        |a| a.contacts_handled == 1 && a.resolution_clocks == 1,
        "the contact and the resolution in feedback",
    )
    .await;
    // 1 complaint / 1 contact = 1; clocks: first contact breached, resolution met: 1 / 2.
    assert_eq!((done.complaints, done.complaint_rate), (1, 1.0));
    assert_eq!(
        (done.clocks_total, done.clocks_met, done.on_time_rate),
        (2, 1, 0.5)
    );
    assert_eq!(
        (
            done.first_contact_on_time_rate,
            done.resolution_on_time_rate
        ),
        (0.0, 1.0)
    );
    // One customer: 1 000 complaints per 1 000 customers; 1 contact per customer.
    assert_eq!(
        (done.customers, done.complaints_per_thousand_customers),
        (1, 1000.0)
    );
    assert_eq!(done.contacts_per_customer, 1.0);
    assert_eq!(done.repeat_complaints, 0);
    drop(complaints);
    drop(feedback_srv);
    drop(customers);
}

csops_testkit::on_both_backends!(
    each_step_writes_its_activities_to_the_outbox_with_the_change,
    a_complaints_activities_arrive_in_feedbacks_process_indicators,
);
