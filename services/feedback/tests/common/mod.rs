//! What the feedback tests share: the service started in-process on a fresh database, and
//! small builders and readers of its messages.
#![allow(dead_code, unreachable_pub, clippy::unwrap_used)]

use std::sync::Arc;

use chrono::{DateTime, TimeDelta, Utc};
use csops_feedback::app::Feedback;
use csops_feedback::{App, Config};
use csops_observability::Metrics;
use csops_proto::customers::v1 as cpb;
use csops_proto::customers::v1::customers_service_client::CustomersServiceClient;
use csops_proto::feedback::v1 as pb;
use csops_proto::feedback::v1::feedback_service_client::FeedbackServiceClient;
use csops_runtime::Settings;
use csops_testkit::server::Running;
use csops_testkit::Backend;
use prost_types::Timestamp;
use tonic::transport::Channel;
use tonic::Code;
use tonic_types::StatusExt;

pub struct TestApp {
    pub client: FeedbackServiceClient<Channel>,
    pub core: Arc<Feedback>,
    _server: Running,
    _dir: tempfile::TempDir,
}

/// The feedback service alone (no complaints service: its events wait in the outbox).
pub async fn spawn_app(backend: Backend) -> TestApp {
    let dir = tempfile::tempdir().unwrap();
    let db = backend.database_url(dir.path(), "feedback").await;
    let app = App::build(
        &Settings::for_tests(&db),
        Config::for_tests(""),
        Metrics::new(),
    )
    .await
    .unwrap();
    let core = app.core();
    let server = Running::spawn(app.local_addr(), |stop| async move {
        app.run_until_stopped(stop).await.unwrap();
    });
    TestApp {
        client: FeedbackServiceClient::connect(format!("http://{}", server.addr))
            .await
            .unwrap(),
        core,
        _server: server,
        _dir: dir,
    }
}

pub fn system(id: &str) -> Option<pb::Actor> {
    Some(pb::Actor {
        id: id.into(),
        role: pb::ActorRole::System as i32,
    })
}

pub fn agent(id: &str) -> Option<pb::Actor> {
    Some(pb::Actor {
        id: id.into(),
        role: pb::ActorRole::Agent as i32,
    })
}

pub fn ts(t: DateTime<Utc>) -> Option<Timestamp> {
    Some(Timestamp {
        seconds: t.timestamp(),
        nanos: 0,
    })
}

pub fn time_of(t: &Option<Timestamp>) -> DateTime<Utc> {
    let t = t.as_ref().unwrap();
    DateTime::from_timestamp(t.seconds, u32::try_from(t.nanos).unwrap()).unwrap()
}

pub fn fields(status: &tonic::Status) -> Vec<String> {
    assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
    status
        .get_details_bad_request()
        .expect("BadRequest details")
        .field_violations
        .into_iter()
        .map(|v| v.field)
        .collect()
}

pub fn schedule_request(
    kind: pb::SubjectKind,
    subject_id: &str,
    event_id: &str,
    ended: DateTime<Utc>,
) -> pb::ScheduleCallbackRequest {
    pb::ScheduleCallbackRequest {
        customer_id: "cus_1".into(),
        subject: Some(pb::Subject {
            kind: kind as i32,
            id: subject_id.into(),
        }),
        service_end_time: ts(ended),
        served_by_agent_id: "agent-7".into(),
        source_event_id: event_id.into(),
        actor: system("complaints"),
    }
}

/// A complaint callback for a service that ended an hour ago.
pub async fn complaint_callback(app: &mut TestApp, complaint_id: &str) -> pb::Callback {
    app.client
        .schedule_callback(schedule_request(
            pb::SubjectKind::Complaint,
            complaint_id,
            &format!("cev_{complaint_id}"),
            Utc::now() - TimeDelta::hours(1),
        ))
        .await
        .unwrap()
        .into_inner()
        .callback
        .unwrap()
}

pub fn attempt(
    c: &pb::Callback,
    reached: bool,
    outcome: pb::CallbackOutcome,
) -> pb::RecordCallbackAttemptRequest {
    pb::RecordCallbackAttemptRequest {
        callback_id: c.id.clone(),
        reached,
        outcome: outcome as i32,
        findings: Vec::new(),
        notes: String::new(),
        attempt_time: None,
        request_id: String::new(),
        actor: agent("agent-3"),
        etag: String::new(),
    }
}

pub async fn record(app: &mut TestApp, request: pb::RecordCallbackAttemptRequest) -> pb::Callback {
    app.client
        .record_callback_attempt(request)
        .await
        .unwrap()
        .into_inner()
        .callback
        .unwrap()
}

/// (destination, kind, id, payload) of every outbox event of `callback_id`, oldest first.
pub async fn outbox(
    app: &TestApp,
    callback_id: &str,
) -> Vec<(String, String, String, serde_json::Value)> {
    let rows = sqlx::query_as::<_, (String, String, String, String)>(
        "SELECT destination, kind, id, payload FROM outbox_events WHERE aggregate_id = $1 \
         ORDER BY create_time, id",
    )
    .bind(callback_id)
    .fetch_all(app.core.store.pool())
    .await
    .unwrap();
    rows.into_iter()
        .map(|(d, k, id, p)| (d, k, id, serde_json::from_str(&p).unwrap()))
        .collect()
}

/// The feedback service pointed at a real customers service (both in-process, each on its own
/// fresh database): what SendSurvey's consent check and the churn detector talk to.
pub struct WithCustomers {
    pub app: TestApp,
    pub customers: CustomersServiceClient<Channel>,
    _customers_server: Running,
    _dir: tempfile::TempDir,
}

pub async fn spawn_with_customers(backend: Backend) -> WithCustomers {
    let dir = tempfile::tempdir().unwrap();
    let customers_db = backend.database_url(dir.path(), "customers").await;
    let customers_app =
        csops_customers::App::build(&Settings::for_tests(&customers_db), Metrics::new())
            .await
            .unwrap();
    let customers_server = Running::spawn(customers_app.local_addr(), |stop| async move {
        customers_app.run_until_stopped(stop).await.unwrap();
    });
    let customers_url = format!("http://{}", customers_server.addr);
    let db = backend.database_url(dir.path(), "feedback").await;
    let app = App::build(
        &Settings::for_tests(&db),
        Config {
            customers_url: customers_url.clone(),
            ..Config::for_tests("")
        },
        Metrics::new(),
    )
    .await
    .unwrap();
    let core = app.core();
    let server = Running::spawn(app.local_addr(), |stop| async move {
        app.run_until_stopped(stop).await.unwrap();
    });
    WithCustomers {
        app: TestApp {
            client: FeedbackServiceClient::connect(format!("http://{}", server.addr))
                .await
                .unwrap(),
            core,
            _server: server,
            _dir: tempfile::tempdir().unwrap(),
        },
        customers: CustomersServiceClient::connect(customers_url)
            .await
            .unwrap(),
        _customers_server: customers_server,
        _dir: dir,
    }
}

/// A tier-`tier` urban customer who consented to `consents` (and refused nothing else); returns
/// the id.
pub async fn create_customer(
    customers: &mut CustomersServiceClient<Channel>,
    tier: cpb::CustomerTier,
    consents: &[cpb::ContactChannel],
) -> String {
    customers
        .create_customer(cpb::CreateCustomerRequest {
            customer: Some(cpb::Customer {
                display_name: "Li Lei".into(),
                tier: tier as i32,
                region: cpb::Region::Urban as i32,
                owner_agent_id: "agent-7".into(),
                consents: consents
                    .iter()
                    .map(|c| cpb::ChannelConsent {
                        channel: *c as i32,
                        granted: true,
                        update_time: None,
                    })
                    .collect(),
                ..Default::default()
            }),
            request_id: uuid::Uuid::new_v4().to_string(),
            actor_id: "agent-7".into(),
        })
        .await
        .unwrap()
        .into_inner()
        .customer
        .unwrap()
        .id
}

pub fn supervisor() -> Option<pb::Actor> {
    Some(pb::Actor {
        id: "sup-1".into(),
        role: pb::ActorRole::Supervisor as i32,
    })
}

pub fn item(item_id: &str, kind: pb::ItemKind, dimension: pb::Dimension) -> pb::SurveyItem {
    pb::SurveyItem {
        item_id: item_id.into(),
        kind: kind as i32,
        prompt: format!("{item_id}?"),
        dimension: dimension as i32,
        required: kind != pb::ItemKind::Text,
    }
}

/// CSAT, NPS, CES, the five SERVQUAL dimensions (all required) and an optional comment.
pub fn full_items() -> Vec<pb::SurveyItem> {
    use pb::Dimension as D;
    use pb::ItemKind as K;
    vec![
        item("csat", K::Csat, D::Unspecified),
        item("nps", K::Nps, D::Unspecified),
        item("ces", K::Ces, D::Unspecified),
        item("tangibles", K::Servqual, D::Tangibles),
        item("empathy", K::Servqual, D::Empathy),
        item("assurance", K::Servqual, D::Assurance),
        item("responsiveness", K::Servqual, D::Responsiveness),
        item("reliability", K::Servqual, D::Reliability),
        item("comment", K::Text, D::Unspecified),
    ]
}

pub fn score(item_id: &str, score: i32) -> pb::Answer {
    pb::Answer {
        item_id: item_id.into(),
        score,
        ..Default::default()
    }
}

pub fn servqual(item_id: &str, expectation: i32, perception: i32) -> pb::Answer {
    pb::Answer {
        item_id: item_id.into(),
        expectation,
        perception,
        ..Default::default()
    }
}

pub fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-9
}
