//! The complaints API as a client sees it, on SQLite and on a real PostgreSQL, next to a real
//! customers service: every scenario runs against servers on random ports with fresh databases.
#![allow(clippy::unwrap_used, unreachable_pub)]

use std::collections::HashMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

mod common;

use common::{
    fast_policy, start_complaints, start_complaints_with_metrics, start_customers, Running,
};
use csops_complaints::Config;
use csops_proto::complaints::v1 as pb;
use csops_proto::complaints::v1::complaints_service_client::ComplaintsServiceClient;
use csops_proto::customers::v1 as cpb;
use csops_proto::customers::v1::customers_service_client::CustomersServiceClient;
use csops_proto::feedback::v1 as fb;
use csops_runtime::Settings;
use csops_testkit::Backend;
use tokio::sync::oneshot;
use tonic::codegen::{http, BoxFuture, Service};
use tonic::transport::Channel;
use tonic::Code;
use tonic_types::StatusExt;

async fn url(backend: Backend, dir: &tempfile::TempDir, name: &str) -> String {
    backend.database_url(dir.path(), name).await
}

struct TestApp {
    client: ComplaintsServiceClient<Channel>,
    customers: CustomersServiceClient<Channel>,
    customers_db: String,
    complaints_db: String,
    customers_srv: Option<Running>,
    _complaints_srv: Running,
    complaints_metrics: csops_observability::Metrics,
    _dir: tempfile::TempDir,
}

async fn spawn_app_with(backend: Backend, tune: impl FnOnce(&mut Config)) -> TestApp {
    let dir = tempfile::tempdir().unwrap();
    let customers_db = url(backend, &dir, "customers").await;
    let complaints_db = url(backend, &dir, "complaints").await;
    let customers_srv = start_customers(&customers_db, None).await;
    let mut config = Config::for_tests(&format!("http://{}", customers_srv.addr));
    tune(&mut config);
    let complaints_metrics = csops_observability::Metrics::new();
    let complaints_srv =
        start_complaints_with_metrics(&complaints_db, config, complaints_metrics.clone()).await;
    TestApp {
        client: ComplaintsServiceClient::connect(format!("http://{}", complaints_srv.addr))
            .await
            .unwrap(),
        customers: CustomersServiceClient::connect(format!("http://{}", customers_srv.addr))
            .await
            .unwrap(),
        customers_db,
        complaints_db,
        customers_srv: Some(customers_srv),
        _complaints_srv: complaints_srv,
        complaints_metrics,
        _dir: dir,
    }
}

async fn spawn_app(backend: Backend) -> TestApp {
    spawn_app_with(backend, |_| {}).await
}

async fn customer(
    app: &mut TestApp,
    tier: cpb::CustomerTier,
    key_account: bool,
    region: cpb::Region,
) -> String {
    open_customer(&mut app.customers, tier, key_account, region).await
}

/// Opens a B-tier urban customer on the customers service at `addr`; returns its id.
async fn b_urban_customer(addr: SocketAddr) -> String {
    let mut client = CustomersServiceClient::connect(format!("http://{addr}"))
        .await
        .unwrap();
    open_customer(&mut client, cpb::CustomerTier::B, false, cpb::Region::Urban).await
}

async fn open_customer(
    client: &mut CustomersServiceClient<Channel>,
    tier: cpb::CustomerTier,
    key_account: bool,
    region: cpb::Region,
) -> String {
    client
        .create_customer(cpb::CreateCustomerRequest {
            customer: Some(cpb::Customer {
                display_name: "Test Customer".into(),
                tier: tier as i32,
                key_account,
                region: region as i32,
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

fn agent() -> Option<pb::Actor> {
    Some(pb::Actor {
        id: "agent-1".into(),
        role: pb::ActorRole::Agent as i32,
    })
}

fn complaint(customer_id: &str) -> pb::Complaint {
    pb::Complaint {
        customer_id: customer_id.into(),
        title: "Router drops every evening".into(),
        description: "private words of the customer".into(),
        nature: pb::ComplaintNature::ProductQuality as i32,
        severity: pb::Severity::Medium as i32,
        channel: pb::Channel::Hotline as i32,
        ..Default::default()
    }
}

async fn create(app: &mut TestApp, c: pb::Complaint) -> pb::Complaint {
    app.client
        .create_complaint(pb::CreateComplaintRequest {
            complaint: Some(c),
            request_id: uuid::Uuid::new_v4().to_string(),
            actor: agent(),
        })
        .await
        .unwrap()
        .into_inner()
        .complaint
        .unwrap()
}

fn fields(status: &tonic::Status) -> Vec<String> {
    assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
    status
        .get_details_bad_request()
        .expect("BadRequest details")
        .field_violations
        .into_iter()
        .map(|v| v.field)
        .collect()
}

fn deadline(c: &pb::Complaint, clock: &str) -> i64 {
    c.clocks
        .iter()
        .find(|k| k.id == clock)
        .unwrap()
        .deadline
        .unwrap()
        .seconds
}

async fn create_validate_get_list_and_conflicts(backend: Backend) {
    let mut app = spawn_app(backend).await;
    let cus = customer(&mut app, cpb::CustomerTier::B, false, cpb::Region::Urban).await;

    // Validation names each bad field.
    let status = app
        .client
        .create_complaint(pb::CreateComplaintRequest {
            complaint: Some(pb::Complaint {
                customer_id: cus.clone(),
                ..Default::default()
            }),
            request_id: String::new(),
            actor: None,
        })
        .await
        .unwrap_err();
    let f = fields(&status);
    for want in ["request_id", "actor.id", "actor.role"] {
        assert!(f.contains(&want.to_owned()), "{f:?}");
    }
    let status = app
        .client
        .create_complaint(pb::CreateComplaintRequest {
            complaint: Some(pb::Complaint {
                customer_id: cus.clone(),
                ..Default::default()
            }),
            request_id: "r0".into(),
            actor: agent(),
        })
        .await
        .unwrap_err();
    assert_eq!(
        fields(&status),
        [
            "complaint.title",
            "complaint.nature",
            "complaint.severity",
            "complaint.channel"
        ]
    );

    // Idempotent create.
    let request = pb::CreateComplaintRequest {
        complaint: Some(complaint(&cus)),
        request_id: "same".into(),
        actor: agent(),
    };
    let first = app
        .client
        .create_complaint(request.clone())
        .await
        .unwrap()
        .into_inner()
        .complaint
        .unwrap();
    let again = app
        .client
        .create_complaint(request)
        .await
        .unwrap()
        .into_inner()
        .complaint
        .unwrap();
    assert_eq!(first.id, again.id);
    // The same retry key with another request is refused.
    let mut other = complaint(&cus);
    other.title = "Another complaint under the same key".into();
    let status = app
        .client
        .create_complaint(pb::CreateComplaintRequest {
            complaint: Some(other),
            request_id: "same".into(),
            actor: agent(),
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::AlreadyExists, "{status:?}");
    assert_eq!(first.state, pb::ComplaintState::Received as i32);
    assert_eq!(first.clocks.len(), 2);
    assert!(!first.customer.as_ref().unwrap().defaulted);

    // NOT_FOUND.
    let status = app
        .client
        .get_complaint(pb::GetComplaintRequest {
            complaint_id: "cmp_nope".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::NotFound);

    // Stale etag → ABORTED; illegal transition → FAILED_PRECONDITION listing the allowed states.
    let ack = app
        .client
        .acknowledge_complaint(pb::AcknowledgeComplaintRequest {
            complaint_id: first.id.clone(),
            actor: agent(),
            etag: first.etag.clone(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .complaint
        .unwrap();
    let status = app
        .client
        .start_investigation(pb::StartInvestigationRequest {
            complaint_id: first.id.clone(),
            actor: agent(),
            etag: first.etag.clone(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::Aborted, "{status:?}");
    let status = app
        .client
        .resolve_complaint(pb::ResolveComplaintRequest {
            complaint_id: first.id.clone(),
            actor: agent(),
            etag: ack.etag.clone(),
            resolution: Some(pb::Resolution {
                summary: "s".into(),
                root_cause: "r".into(),
                corrective_action: "c".into(),
                ..Default::default()
            }),
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::FailedPrecondition);
    assert!(
        status.message().contains("ACKNOWLEDGED")
            && status.message().contains("INVESTIGATING, WITHDRAWN"),
        "{}",
        status.message()
    );
    let status = app
        .client
        .update_complaint(pb::UpdateComplaintRequest {
            complaint: Some(pb::Complaint {
                id: first.id.clone(),
                ..Default::default()
            }),
            update_mask: None,
            actor: agent(),
        })
        .await
        .unwrap_err();
    assert!(fields(&status).contains(&"complaint.etag".to_owned()));

    // List filters and pagination.
    for _ in 0..4 {
        create(&mut app, complaint(&cus)).await;
    }
    let mut seen = Vec::new();
    let mut token = String::new();
    loop {
        let page = app
            .client
            .list_complaints(pb::ListComplaintsRequest {
                page_size: 2,
                page_token: token.clone(),
                states: vec![pb::ComplaintState::Received as i32],
                customer_id: cus.clone(),
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner();
        seen.extend(page.complaints.into_iter().map(|c| c.id));
        token = page.next_page_token;
        if token.is_empty() {
            break;
        }
    }
    assert_eq!(seen.len(), 4, "the acknowledged one is filtered out");
    let acked = app
        .client
        .list_complaints(pb::ListComplaintsRequest {
            states: vec![pb::ComplaintState::Acknowledged as i32],
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(acked.complaints.len(), 1);
    let status = app
        .client
        .list_complaints(pb::ListComplaintsRequest {
            page_token: "garbage".into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(fields(&status), ["page_token"]);

    // Reply check records violations per agent.
    let checked = app
        .client
        .check_reply(pb::CheckReplyRequest {
            text: "对不起，公司的规定就是这样的。".into(),
            agent_id: "agent-1".into(),
            complaint_id: first.id.clone(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert!(!checked.clean);
    assert_eq!(
        (checked.violations[0].start, checked.violations[0].end),
        (4, 14)
    );
    let listed = app
        .client
        .list_reply_violations(pb::ListReplyViolationsRequest {
            agent_id: "agent-1".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(listed.violations.len(), 1);
}

/// Stands in for the feedback service: ScheduleCallback and RecordActivity, each applied once
/// per source_event_id, counting every delivery and keeping the activities first delivered.
#[derive(Clone, Default)]
struct FeedbackStandIn {
    deliveries: Arc<Mutex<HashMap<String, usize>>>,
    activities: Arc<Mutex<Vec<fb::Activity>>>,
}

impl tonic::server::NamedService for FeedbackStandIn {
    const NAME: &'static str = "csops.feedback.v1.FeedbackService";
}

impl FeedbackStandIn {
    /// Counts a delivery of `event_id`; true when it was delivered before.
    fn count(&self, event_id: String) -> bool {
        let mut map = self.deliveries.lock().unwrap();
        let n = map.entry(event_id).or_default();
        *n += 1;
        *n > 1
    }
}

struct ScheduleCallback(FeedbackStandIn);

impl tonic::server::UnaryService<fb::ScheduleCallbackRequest> for ScheduleCallback {
    type Response = fb::ScheduleCallbackResponse;
    type Future = BoxFuture<tonic::Response<Self::Response>, tonic::Status>;
    fn call(&mut self, request: tonic::Request<fb::ScheduleCallbackRequest>) -> Self::Future {
        let duplicate = self.0.count(request.into_inner().source_event_id);
        Box::pin(async move {
            Ok(tonic::Response::new(fb::ScheduleCallbackResponse {
                callback: None,
                duplicate,
            }))
        })
    }
}

struct RecordActivity(FeedbackStandIn);

impl tonic::server::UnaryService<fb::RecordActivityRequest> for RecordActivity {
    type Response = fb::RecordActivityResponse;
    type Future = BoxFuture<tonic::Response<Self::Response>, tonic::Status>;
    fn call(&mut self, request: tonic::Request<fb::RecordActivityRequest>) -> Self::Future {
        let activity = request.into_inner().activity.unwrap_or_default();
        let duplicate = self.0.count(activity.source_event_id.clone());
        if !duplicate {
            self.0.activities.lock().unwrap().push(activity);
        }
        Box::pin(async move {
            Ok(tonic::Response::new(fb::RecordActivityResponse {
                duplicate,
            }))
        })
    }
}

impl Service<http::Request<tonic::body::Body>> for FeedbackStandIn {
    type Response = http::Response<tonic::body::Body>;
    type Error = Infallible;
    type Future = BoxFuture<Self::Response, Self::Error>;
    fn poll_ready(
        &mut self,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), Self::Error>> {
        std::task::Poll::Ready(Ok(()))
    }
    fn call(&mut self, request: http::Request<tonic::body::Body>) -> Self::Future {
        let standin = self.clone();
        Box::pin(async move {
            Ok(match request.uri().path() {
                "/csops.feedback.v1.FeedbackService/RecordActivity" => {
                    let mut grpc = tonic::server::Grpc::new(tonic_prost::ProstCodec::default());
                    grpc.unary(RecordActivity(standin), request).await
                }
                _ => {
                    let mut grpc = tonic::server::Grpc::new(tonic_prost::ProstCodec::default());
                    grpc.unary(ScheduleCallback(standin), request).await
                }
            })
        })
    }
}

async fn start_feedback(addr: SocketAddr, standin: FeedbackStandIn) -> oneshot::Sender<()> {
    let listener = tokio::net::TcpListener::bind(addr).await.unwrap();
    let (stop, stopped) = oneshot::channel::<()>();
    tokio::spawn(
        tonic::transport::Server::builder()
            .add_service(standin)
            .serve_with_incoming_shutdown(
                tonic::transport::server::TcpIncoming::from(listener),
                async {
                    let _ = stopped.await;
                },
            ),
    );
    stop
}

async fn drive_to_resolved(app: &mut TestApp, id: &str) -> pb::Complaint {
    let a = agent;
    let c = &mut app.client;
    c.acknowledge_complaint(pb::AcknowledgeComplaintRequest {
        complaint_id: id.into(),
        actor: a(),
        ..Default::default()
    })
    .await
    .unwrap();
    c.start_investigation(pb::StartInvestigationRequest {
        complaint_id: id.into(),
        actor: a(),
        ..Default::default()
    })
    .await
    .unwrap();
    c.propose_solution(pb::ProposeSolutionRequest {
        complaint_id: id.into(),
        measures: vec!["replace the router".into()],
        plan: vec![pb::PlanStep {
            description: "engineer visit".into(),
            owner_id: "eng-1".into(),
            due_time: Some(prost_types::Timestamp {
                seconds: 4_000_000_000,
                nanos: 0,
            }),
        }],
        actor: a(),
        etag: String::new(),
    })
    .await
    .unwrap();
    c.accept_solution(pb::AcceptSolutionRequest {
        complaint_id: id.into(),
        actor: a(),
        ..Default::default()
    })
    .await
    .unwrap();
    c.resolve_complaint(pb::ResolveComplaintRequest {
        complaint_id: id.into(),
        resolution: Some(pb::Resolution {
            summary: "replaced".into(),
            root_cause: "faulty batch".into(),
            corrective_action: "batch check".into(),
            ..Default::default()
        }),
        actor: a(),
        etag: String::new(),
    })
    .await
    .unwrap()
    .into_inner()
    .complaint
    .unwrap()
}

async fn wait_until<F: std::future::Future<Output = bool>>(
    mut check: impl FnMut() -> F,
    what: &str,
) {
    // Generous: a loaded CI machine is slow; the check returns as soon as it holds.
    for _ in 0..600 {
        if check().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("timed out waiting: {what}");
}

async fn the_outbox_delivers_to_a_late_receiver_once_per_event(backend: Backend) {
    let free = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let feedback_addr = free.local_addr().unwrap();
    drop(free);
    let mut app = spawn_app_with(backend, |c| {
        c.feedback_url = format!("http://{feedback_addr}")
    })
    .await;
    let cus = customer(&mut app, cpb::CustomerTier::C, false, cpb::Region::Rural).await;
    let created = create(&mut app, complaint(&cus)).await;
    drive_to_resolved(&mut app, &created.id).await;
    // The receiver is down: the event waits, and the outbox gauges say so.
    let metrics = app.complaints_metrics.clone();
    let gauges = move |want: &'static [&'static str]| {
        let metrics = metrics.clone();
        move || {
            let text = metrics.encode();
            async move { want.iter().all(|line| text.contains(line)) }
        }
    };
    // For feedback: the complaint received, the first contact's clock met and the contact, the
    // resolution clock met, and the callback request.
    wait_until(
        gauges(&[
            r#"csops_outbox_pending{destination="feedback",configured="true"} 5"#,
            r#"csops_outbox_pending{destination="visits",configured="false"} 0"#,
        ]),
        "the waiting events counted",
    )
    .await;
    let text = app.complaints_metrics.encode();
    let age = text
        .lines()
        .find(|l| {
            l.starts_with(r#"csops_outbox_oldest_pending_age_seconds{destination="feedback""#)
        })
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse::<f64>().ok())
        .unwrap_or_else(|| panic!("no age of the waiting event in:\n{text}"));
    assert!(age > 0.0, "the waiting event has an age: {age}");
    let standin = FeedbackStandIn::default();
    let _stop = start_feedback(feedback_addr, standin.clone()).await;
    let deliveries = standin.deliveries.clone();
    wait_until(
        || {
            let d = deliveries.clone();
            async move { d.lock().unwrap().len() == 5 }
        },
        "the activities and the callback event delivered",
    )
    .await;
    wait_until(
        gauges(&[
            r#"csops_outbox_pending{destination="feedback",configured="true"} 0"#,
            r#"csops_outbox_oldest_pending_age_seconds{destination="feedback",configured="true"} 0"#,
        ]),
        "nothing waits once delivered",
    )
    .await;
    tokio::time::sleep(Duration::from_millis(800)).await;
    let map = standin.deliveries.lock().unwrap().clone();
    assert_eq!(map.len(), 5, "five events for one complaint: {map:?}");
    assert!(
        map.values().all(|n| *n == 1),
        "delivered once once acknowledged: {map:?}"
    );
    // Each of the complaint's activities arrives once with its outbox id (in any order: each
    // waited out its own back-off while the receiver was down).
    let activities = standin.activities.lock().unwrap().clone();
    let mut kinds: Vec<(i32, &str)> = activities
        .iter()
        .map(|a| (a.kind, a.clock_kind.as_str()))
        .collect();
    kinds.sort();
    use fb::ActivityKind as K;
    assert_eq!(
        kinds,
        [
            (K::ContactHandled as i32, ""),
            (K::ComplaintReceived as i32, ""),
            (K::ClockMet as i32, "FIRST_CONTACT"),
            (K::ClockMet as i32, "RESOLUTION"),
        ]
    );
    for a in &activities {
        assert!(a.source_event_id.starts_with("obx_"), "{a:?}");
        assert_eq!(
            (a.source_service.as_str(), a.customer_id.as_str()),
            ("complaints", cus.as_str())
        );
        assert_eq!(a.agent_id, "agent-1");
        assert_eq!(a.category, "PRODUCT_QUALITY");
        assert_eq!(
            a.subject,
            Some(fb::Subject {
                kind: fb::SubjectKind::Complaint as i32,
                id: created.id.clone()
            })
        );
    }
}

async fn two_watchers_escalate_each_breach_exactly_once() {
    let dir = tempfile::tempdir().unwrap();
    let db = url(Backend::Postgres, &dir, "complaints").await;
    let customers_db = url(Backend::Postgres, &dir, "customers").await;
    let customers = start_customers(&customers_db, None).await;
    let config = || {
        let mut c = Config::for_tests(&format!("http://{}", customers.addr));
        c.sla_policy_file = Some(fast_policy());
        c.sla_watch_interval = Duration::from_millis(50);
        c
    };
    let a = start_complaints(&db, config()).await;
    let b = start_complaints(&db, config()).await;
    let mut client = ComplaintsServiceClient::connect(format!("http://{}", a.addr))
        .await
        .unwrap();
    let cus = b_urban_customer(customers.addr).await;
    let mut ids = Vec::new();
    for i in 0..5 {
        let c = client
            .create_complaint(pb::CreateComplaintRequest {
                complaint: Some(complaint(&cus)),
                request_id: format!("w{i}"),
                actor: agent(),
            })
            .await
            .unwrap()
            .into_inner()
            .complaint
            .unwrap();
        ids.push(c.id);
    }
    wait_until(
        || {
            let mut client = client.clone();
            let ids = ids.clone();
            async move {
                for id in ids {
                    let c = client
                        .get_complaint(pb::GetComplaintRequest { complaint_id: id })
                        .await
                        .unwrap()
                        .into_inner()
                        .complaint
                        .unwrap();
                    if c.escalations.is_empty() {
                        return false;
                    }
                }
                true
            }
        },
        "every breach escalated",
    )
    .await;
    // Both watchers keep sweeping meanwhile: give a second escalation the chance to happen.
    tokio::time::sleep(Duration::from_secs(1)).await;
    for id in &ids {
        let c = client
            .get_complaint(pb::GetComplaintRequest {
                complaint_id: id.clone(),
            })
            .await
            .unwrap()
            .into_inner()
            .complaint
            .unwrap();
        assert_eq!(
            c.escalations.len(),
            1,
            "one breach, one escalation: {:?}",
            c.escalations
        );
        assert_eq!(c.escalation_level, pb::EscalationLevel::Supervisor as i32);
        let timeline = client
            .list_timeline(pb::ListTimelineRequest {
                complaint_id: id.clone(),
                kinds: vec![pb::TimelineEntryKind::Escalation as i32],
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner();
        assert_eq!(timeline.entries.len(), 1);
    }
    let listed = client
        .list_complaints(pb::ListComplaintsRequest {
            sla_state: pb::SlaStateFilter::Breached as i32,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(listed.complaints.len(), 5);
    a.stop().await;
    b.stop().await;
}

async fn a_customers_outage_loses_nothing_and_clocks_are_corrected(backend: Backend) {
    let mut app = spawn_app_with(backend, |c| c.sla_policy_file = Some(fast_policy())).await;
    let rural = customer(&mut app, cpb::CustomerTier::C, false, cpb::Region::Rural).await;
    let running = app.customers_srv.take().unwrap();
    let addr = running.addr;
    running.stop().await;
    let request = pb::CreateComplaintRequest {
        complaint: Some(complaint(&rural)),
        request_id: "during-outage".into(),
        actor: agent(),
    };
    let created = app
        .client
        .create_complaint(request.clone())
        .await
        .unwrap()
        .into_inner()
        .complaint
        .unwrap();
    let snap = created.customer.unwrap();
    assert!(
        snap.defaulted && snap.key_account,
        "most demanding defaults while customers is down"
    );
    let defaulted_deadline = deadline(&created, "resolution-1");
    // Work goes on during the outage: a retried create, a first contact and a note.
    let retried = app
        .client
        .create_complaint(request)
        .await
        .unwrap()
        .into_inner()
        .complaint
        .unwrap();
    assert_eq!(
        retried.id, created.id,
        "a retry during the outage is no duplicate"
    );
    app.client
        .acknowledge_complaint(pb::AcknowledgeComplaintRequest {
            complaint_id: created.id.clone(),
            actor: agent(),
            ..Default::default()
        })
        .await
        .unwrap();
    app.client
        .add_note(pb::AddNoteRequest {
            complaint_id: created.id.clone(),
            text: "customer will send photos".into(),
            request_id: "note-during-outage".into(),
            actor: agent(),
        })
        .await
        .unwrap();
    app.customers_srv = Some(start_customers(&app.customers_db, Some(addr)).await);
    let id = created.id.clone();
    let mut client = app.client.clone();
    wait_until(
        || {
            let mut client = client.clone();
            let id = id.clone();
            async move {
                !client
                    .get_complaint(pb::GetComplaintRequest { complaint_id: id })
                    .await
                    .unwrap()
                    .into_inner()
                    .complaint
                    .unwrap()
                    .customer
                    .unwrap()
                    .defaulted
            }
        },
        "re-evaluation after customers returned",
    )
    .await;
    let corrected = client
        .get_complaint(pb::GetComplaintRequest { complaint_id: id })
        .await
        .unwrap()
        .into_inner()
        .complaint
        .unwrap();
    assert_eq!(
        corrected.customer.as_ref().unwrap().tier,
        pb::CustomerTier::C as i32
    );
    assert!(
        deadline(&corrected, "resolution-1") > defaulted_deadline,
        "rural C-tier gets the longer limit"
    );
    // Nothing was lost: the one complaint, still acknowledged, with everything done meanwhile.
    assert_eq!(corrected.state, pb::ComplaintState::Acknowledged as i32);
    let listed = client
        .list_complaints(pb::ListComplaintsRequest {
            customer_id: rural.clone(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(listed.complaints.len(), 1);
    let timeline = client
        .list_timeline(pb::ListTimelineRequest {
            complaint_id: corrected.id.clone(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let kinds: Vec<i32> = timeline.entries.iter().map(|e| e.kind).collect();
    for kind in [
        pb::TimelineEntryKind::StateChange,
        pb::TimelineEntryKind::Note,
    ] {
        assert!(kinds.contains(&(kind as i32)), "{kind:?} kept: {kinds:?}");
    }
    assert!(
        timeline.entries.iter().any(|e| matches!(
            &e.details,
            Some(pb::timeline_entry::Details::Note(n)) if n.text == "customer will send photos"
        )),
        "the note written during the outage is kept"
    );
    let _ = &app.complaints_db;
}

/// Returns `token` with one character in its middle changed to another base64url character.
fn tampered(token: &str) -> String {
    let mut chars: Vec<char> = token.chars().collect();
    let i = chars.len() / 2;
    chars[i] = if chars[i] == 'A' { 'B' } else { 'A' };
    chars.into_iter().collect()
}

/// Asserts that a List call refused its page token, naming `page_token`.
fn refused_token<T: std::fmt::Debug>(answer: Result<tonic::Response<T>, tonic::Status>) {
    let status = answer.unwrap_err();
    assert_eq!(fields(&status), ["page_token"], "{status:?}");
}

async fn every_list_refuses_a_malformed_or_tampered_page_token(backend: Backend) {
    let mut app = spawn_app(backend).await;
    let cus = customer(&mut app, cpb::CustomerTier::B, false, cpb::Region::Urban).await;
    let first = create(&mut app, complaint(&cus)).await;
    create(&mut app, complaint(&cus)).await;
    for _ in 0..2 {
        app.client
            .check_reply(pb::CheckReplyRequest {
                text: "对不起，公司的规定就是这样的。".into(),
                agent_id: "agent-1".into(),
                complaint_id: first.id.clone(),
                ..Default::default()
            })
            .await
            .unwrap();
    }
    let c = &mut app.client;

    let complaints = pb::ListComplaintsRequest {
        page_size: 1,
        customer_id: cus.clone(),
        ..Default::default()
    };
    let token = c
        .list_complaints(complaints.clone())
        .await
        .unwrap()
        .into_inner()
        .next_page_token;
    assert!(!token.is_empty());
    for bad in ["garbage".to_owned(), tampered(&token), format!("{token}A")] {
        let request = pb::ListComplaintsRequest {
            page_token: bad,
            ..complaints.clone()
        };
        refused_token(c.list_complaints(request).await);
    }
    let other_filters = pb::ListComplaintsRequest {
        page_token: token.clone(),
        customer_id: String::new(),
        ..complaints.clone()
    };
    refused_token(c.list_complaints(other_filters).await);

    let timeline = pb::ListTimelineRequest {
        complaint_id: first.id.clone(),
        page_size: 1,
        ..Default::default()
    };
    let token = c
        .list_timeline(timeline.clone())
        .await
        .unwrap()
        .into_inner()
        .next_page_token;
    assert!(!token.is_empty());
    for bad in ["garbage".to_owned(), tampered(&token)] {
        let request = pb::ListTimelineRequest {
            page_token: bad,
            ..timeline.clone()
        };
        refused_token(c.list_timeline(request).await);
    }
    // A timeline token is not a complaints token, and the other way round.
    let request = pb::ListComplaintsRequest {
        page_token: token,
        ..complaints.clone()
    };
    refused_token(c.list_complaints(request).await);

    let violations = pb::ListReplyViolationsRequest {
        agent_id: "agent-1".into(),
        page_size: 1,
        ..Default::default()
    };
    let token = c
        .list_reply_violations(violations.clone())
        .await
        .unwrap()
        .into_inner()
        .next_page_token;
    assert!(!token.is_empty());
    for bad in ["garbage".to_owned(), tampered(&token)] {
        let request = pb::ListReplyViolationsRequest {
            page_token: bad,
            ..violations.clone()
        };
        refused_token(c.list_reply_violations(request).await);
    }
    let next = pb::ListReplyViolationsRequest {
        page_token: token,
        ..violations
    };
    assert_eq!(
        c.list_reply_violations(next)
            .await
            .unwrap()
            .into_inner()
            .violations
            .len(),
        1
    );
}

async fn create_answers_failed_precondition_for_a_customer_the_customers_service_does_not_know(
    backend: Backend,
) {
    let mut app = spawn_app(backend).await;
    let status = app
        .client
        .create_complaint(pb::CreateComplaintRequest {
            complaint: Some(complaint("cus_nobody")),
            request_id: "unknown-customer".into(),
            actor: agent(),
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::FailedPrecondition, "{status:?}");
    let failure = status
        .get_details_precondition_failure()
        .expect("PreconditionFailure details");
    assert_eq!(failure.violations[0].subject, "customers/cus_nobody");
    let listed = app
        .client
        .list_complaints(pb::ListComplaintsRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert!(listed.complaints.is_empty(), "nothing was recorded");
}

async fn a_complaint_late_when_recorded_is_escalated_at_once(backend: Backend) {
    // The watcher does not run during the test (an hour between sweeps): whatever escalation
    // the answer shows was made by the create itself.
    let mut app = spawn_app_with(backend, |c| {
        c.sla_watch_interval = Duration::from_secs(3600);
    })
    .await;
    let cus = customer(&mut app, cpb::CustomerTier::B, false, cpb::Region::Urban).await;
    let received = chrono::Utc::now() - chrono::TimeDelta::days(20);
    let mut letter = complaint(&cus);
    letter.channel = pb::Channel::Letter as i32;
    letter.receive_time = Some(prost_types::Timestamp {
        seconds: received.timestamp(),
        nanos: 0,
    });
    let created = create(&mut app, letter).await;
    // Both clocks (first contact: 1 hour; resolution: 4 working days) were breached before the
    // complaint was recorded: one escalation each, up the chain, exactly once.
    let breached_clocks: Vec<&str> = created
        .escalations
        .iter()
        .map(|e| e.clock_id.as_str())
        .collect();
    assert_eq!(
        breached_clocks,
        ["first_contact-1", "resolution-1"],
        "{created:?}"
    );
    assert_eq!(
        created.escalation_level,
        pb::EscalationLevel::Manager as i32
    );
    let timeline = app
        .client
        .list_timeline(pb::ListTimelineRequest {
            complaint_id: created.id.clone(),
            kinds: vec![pb::TimelineEntryKind::Escalation as i32],
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert!(
        !timeline.entries.is_empty(),
        "the escalation is on the timeline"
    );
    let breached = app
        .client
        .list_complaints(pb::ListComplaintsRequest {
            sla_state: pb::SlaStateFilter::Breached as i32,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(breached.complaints.len(), 1);
}

/// Asserts INVALID_ARGUMENT naming exactly `want`, in a short answer (message and details
/// under 2 KiB) that does not echo the input.
fn refused_briefly(status: &tonic::Status, want: &[&str]) {
    assert_eq!(fields(status), want, "{}", status.message());
    let size = status.message().len() + status.details().len();
    assert!(size < 2048, "{size} bytes: {}", status.message());
}

async fn oversize_ids_filters_masks_and_etags_are_refused_naming_the_field_briefly(
    backend: Backend,
) {
    let mut app = spawn_app(backend).await;
    let cus = customer(&mut app, cpb::CustomerTier::B, false, cpb::Region::Urban).await;
    let created = create(&mut app, complaint(&cus)).await;
    let mib = "x".repeat(1 << 20);

    let status = app
        .client
        .get_complaint(pb::GetComplaintRequest {
            complaint_id: mib.clone(),
        })
        .await
        .unwrap_err();
    refused_briefly(&status, &["complaint_id"]);

    // 40,000 filter values once ran into "too many SQL variables" (INTERNAL) after seconds.
    let asked = std::time::Instant::now();
    let status = app
        .client
        .list_complaints(pb::ListComplaintsRequest {
            states: vec![pb::ComplaintState::Received as i32; 40_000],
            ..Default::default()
        })
        .await
        .unwrap_err();
    refused_briefly(&status, &["states"]);
    assert!(
        asked.elapsed() < Duration::from_secs(2),
        "{:?}",
        asked.elapsed()
    );

    let status = app
        .client
        .list_timeline(pb::ListTimelineRequest {
            complaint_id: created.id.clone(),
            kinds: vec![1; 40_000],
            page_token: mib.clone(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    refused_briefly(&status, &["page_token", "kinds"]);

    let status = app
        .client
        .update_complaint(pb::UpdateComplaintRequest {
            complaint: Some(pb::Complaint {
                id: created.id.clone(),
                etag: created.etag.clone(),
                title: "New title".into(),
                ..Default::default()
            }),
            update_mask: Some(prost_types::FieldMask {
                paths: vec!["title".into(); 50_000],
            }),
            actor: agent(),
        })
        .await
        .unwrap_err();
    refused_briefly(&status, &["update_mask.paths"]);

    let status = app
        .client
        .assign_complaint(pb::AssignComplaintRequest {
            complaint_id: created.id.clone(),
            agent_id: "agent-2".into(),
            reason: String::new(),
            actor: agent(),
            etag: mib.clone(),
        })
        .await
        .unwrap_err();
    refused_briefly(&status, &["etag"]);

    let status = app
        .client
        .propose_solution(pb::ProposeSolutionRequest {
            complaint_id: created.id.clone(),
            measures: vec!["refund".into(); 100_000],
            plan: vec![],
            actor: agent(),
            etag: String::new(),
        })
        .await
        .unwrap_err();
    refused_briefly(&status, &["measures"]);

    let status = app
        .client
        .add_note(pb::AddNoteRequest {
            complaint_id: created.id.clone(),
            text: "a note".into(),
            request_id: String::new(),
            actor: Some(pb::Actor {
                id: mib.clone(),
                role: pb::ActorRole::Agent as i32,
            }),
        })
        .await
        .unwrap_err();
    refused_briefly(&status, &["actor.id"]);

    let status = app
        .client
        .watch_sla_events(pb::WatchSlaEventsRequest {
            kinds: vec![1; 40_000],
            customer_id: mib,
            ..Default::default()
        })
        .await
        .unwrap_err();
    refused_briefly(&status, &["kinds", "customer_id"]);

    // Nothing refused was stored.
    let stored = app
        .client
        .get_complaint(pb::GetComplaintRequest {
            complaint_id: created.id.clone(),
        })
        .await
        .unwrap()
        .into_inner()
        .complaint
        .unwrap();
    assert_eq!(stored.etag, created.etag);
}

/// The watcher saves a batch set-wise; when one of the batch's escalations was recorded
/// before (as another watcher would have), nothing of the batch is written at once, and the
/// batch is saved one complaint at a time: the others escalate once each, the one already
/// escalated is not escalated again.
async fn a_batch_meeting_an_escalation_recorded_before_saves_the_others_one_by_one(
    backend: Backend,
) {
    let mut app = spawn_app_with(backend, |c| {
        c.sla_policy_file = Some(fast_policy());
    })
    .await;
    let cus = customer(&mut app, cpb::CustomerTier::B, false, cpb::Region::Urban).await;
    let pool = csops_runtime::db::connect(&Settings::for_tests(&app.complaints_db).database)
        .await
        .unwrap();
    let taken = create(&mut app, complaint(&cus)).await;
    // Within the one second its first contact has: the escalation the watcher would make.
    sqlx::query(
        "INSERT INTO sla_escalations (complaint_id, subject_id, escalation_level, create_time) \
         VALUES ($1, 'clock:first_contact-1', 'supervisor', 1)",
    )
    .bind(&taken.id)
    .execute(&pool)
    .await
    .unwrap();
    let others = [
        create(&mut app, complaint(&cus)).await.id,
        create(&mut app, complaint(&cus)).await.id,
    ];
    let escalations = |id: String| {
        let mut client = app.client.clone();
        async move {
            client
                .get_complaint(pb::GetComplaintRequest { complaint_id: id })
                .await
                .unwrap()
                .into_inner()
                .complaint
                .unwrap()
                .escalations
                .len()
        }
    };
    wait_until(
        || {
            let others = others.clone();
            let escalations = &escalations;
            async move {
                for id in others {
                    if escalations(id).await == 0 {
                        return false;
                    }
                }
                true
            }
        },
        "the rest of the batch escalated",
    )
    .await;
    for id in others {
        assert_eq!(escalations(id).await, 1);
    }
    assert_eq!(escalations(taken.id.clone()).await, 0);
    pool.close().await;
}

csops_testkit::on_both_backends!(
    a_media_complainant_is_not_written_to_and_escalates_when_demands_are_unmet,
    a_fix_that_did_not_hold_reopens_the_complaint_for_investigation,
    the_agent_who_took_a_complaint_stays_accountable_and_findable,
    promises_are_kept_rescheduled_with_consent_warned_and_broken,
    create_validate_get_list_and_conflicts,
    a_complaint_late_when_recorded_is_escalated_at_once,
    create_answers_failed_precondition_for_a_customer_the_customers_service_does_not_know,
    every_list_refuses_a_malformed_or_tampered_page_token,
    the_outbox_delivers_to_a_late_receiver_once_per_event,
    a_customers_outage_loses_nothing_and_clocks_are_corrected,
    oversize_ids_filters_masks_and_etags_are_refused_naming_the_field_briefly,
    a_batch_meeting_an_escalation_recorded_before_saves_the_others_one_by_one,
    the_watcher_wakes_for_a_check_scheduled_while_it_sleeps,
);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_breach_watchers_on_one_postgres_escalate_each_breach_exactly_once() {
    two_watchers_escalate_each_breach_exactly_once().await;
}

/// SQLite databases for complaints (returned) and customers (whose service runs).
async fn sqlite_pair() -> (tempfile::TempDir, String, Running) {
    let dir = tempfile::tempdir().unwrap();
    let db = url(Backend::Sqlite, &dir, "complaints").await;
    let customers_db = url(Backend::Sqlite, &dir, "customers").await;
    let customers = start_customers(&customers_db, None).await;
    (dir, db, customers)
}

/// One-second first contact, batches of 100, and a watcher that sleeps until a check is due
/// (its longest sleep is an hour: within a test it never polls).
fn start_up_sweep_only(customers: SocketAddr) -> Config {
    let mut c = Config::for_tests(&format!("http://{customers}"));
    c.sla_policy_file = Some(fast_policy());
    c.sla_watch_interval = Duration::from_secs(3600);
    c.sla_watch_batch = 100;
    c
}

/// A backlog larger than one batch (many clocks crossing at once) is worked off by one sweep,
/// not one batch per watch interval.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_sweep_works_off_a_backlog_larger_than_a_batch() {
    let (_dir, db, customers) = sqlite_pair().await;
    let config = || start_up_sweep_only(customers.addr);
    let first = start_complaints(&db, config()).await;
    let mut client = ComplaintsServiceClient::connect(format!("http://{}", first.addr))
        .await
        .unwrap();
    let cus = b_urban_customer(customers.addr).await;
    // More than one batch of 100. With only the start-up sweep running, the old watcher
    // stopped at exactly 100; how fast the rest arrive depends on the machine, hence the
    // generous deadline.
    const COMPLAINTS: usize = 150;
    for i in 0..COMPLAINTS {
        client
            .create_complaint(pb::CreateComplaintRequest {
                complaint: Some(complaint(&cus)),
                request_id: format!("b{i}"),
                actor: agent(),
            })
            .await
            .unwrap();
    }
    first.stop().await;
    // Let every one-second first-contact clock breach, then start a watcher: its first sweep
    // must find all of them. Clocks count whole seconds: one started at 10.002 s is due at
    // 11 s and reads as breached from 12 s, so a breach shows up to 2 s after the create.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let second = start_complaints(&db, config()).await;
    let mut client = ComplaintsServiceClient::connect(format!("http://{}", second.addr))
        .await
        .unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
    loop {
        let mut breached = 0;
        let mut token = String::new();
        loop {
            let page = client
                .list_complaints(pb::ListComplaintsRequest {
                    sla_state: pb::SlaStateFilter::Breached as i32,
                    page_size: 200,
                    page_token: token,
                    ..Default::default()
                })
                .await
                .unwrap()
                .into_inner();
            breached += page.complaints.len();
            token = page.next_page_token;
            if token.is_empty() {
                break;
            }
        }
        if breached == COMPLAINTS {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "only {breached} of {COMPLAINTS} breaches seen: the backlog was not worked off"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    second.stop().await;
}

/// The watcher does not poll: with an hour as its longest sleep, it still reports a breach on
/// time, because the create that scheduled the check woke it and it then slept until the
/// check was due. (On PostgreSQL the create also announces the check to other replicas.)
async fn the_watcher_wakes_for_a_check_scheduled_while_it_sleeps(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let db = url(backend, &dir, "complaints").await;
    let customers = start_customers(&url(backend, &dir, "customers").await, None).await;
    let running = start_complaints(&db, start_up_sweep_only(customers.addr)).await;
    let mut client = ComplaintsServiceClient::connect(format!("http://{}", running.addr))
        .await
        .unwrap();
    let cus = b_urban_customer(customers.addr).await;
    // The watcher has swept the empty database and sleeps (an hour: nothing is due).
    tokio::time::sleep(Duration::from_millis(300)).await;
    let created = client
        .create_complaint(pb::CreateComplaintRequest {
            complaint: Some(complaint(&cus)),
            request_id: "wake".into(),
            actor: agent(),
        })
        .await
        .unwrap()
        .into_inner()
        .complaint
        .unwrap();
    assert!(created.escalations.is_empty());
    wait_until(
        || {
            let mut client = client.clone();
            let id = created.id.clone();
            async move {
                !client
                    .get_complaint(pb::GetComplaintRequest { complaint_id: id })
                    .await
                    .unwrap()
                    .into_inner()
                    .complaint
                    .unwrap()
                    .escalations
                    .is_empty()
            }
        },
        "the one-second first contact breached and escalated well within the hour",
    )
    .await;
    running.stop().await;
}

/// A stop request is not held up by a backlog: the watcher ends its sweep after the batch it
/// is checking, so the server stops well within a Kubernetes grace period even when tens of
/// thousands of clocks are due at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stop_during_a_large_sweep_is_not_held_up_by_the_backlog() {
    let (_dir, db, customers) = sqlite_pair().await;
    let config = || start_up_sweep_only(customers.addr);
    let first = start_complaints(&db, config()).await;
    let cus = b_urban_customer(customers.addr).await;
    let template = ComplaintsServiceClient::connect(format!("http://{}", first.addr))
        .await
        .unwrap()
        .create_complaint(pb::CreateComplaintRequest {
            complaint: Some(complaint(&cus)),
            request_id: "stop-backlog".into(),
            actor: agent(),
        })
        .await
        .unwrap()
        .into_inner()
        .complaint
        .unwrap()
        .id;
    first.stop().await;
    // 20,000 copies of it, all due now: a sweep of them takes far longer than the stop may.
    let pool = csops_runtime::db::connect(&Settings::for_tests(&db).database)
        .await
        .unwrap();
    sqlx::query(
        "WITH RECURSIVE g(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM g WHERE n < 20000) \
         INSERT INTO complaints (id, customer_id, state, nature, severity, assigned_agent_id, \
         escalation_level, sla_state, defaulted, next_check_time, lease_owner, lease_until, \
         body, version, create_time, update_time) \
         SELECT 'w' || n, customer_id, state, nature, severity, assigned_agent_id, \
         escalation_level, sla_state, defaulted, 1, '', 0, replace(body, id, 'w' || n), \
         version, create_time, update_time FROM complaints, g WHERE id = $1",
    )
    .bind(&template)
    .execute(&pool)
    .await
    .unwrap();
    pool.close().await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let second = start_complaints(&db, config()).await;
    // Let the start-up sweep get going, then stop.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let asked = tokio::time::Instant::now();
    tokio::time::timeout(Duration::from_secs(15), second.stop())
        .await
        .unwrap_or_else(|_| panic!("the stop waited {:?} for the backlog", asked.elapsed()));
}

/// The SLA gauges the Grafana dashboard reads are exported with the service's metrics.
#[tokio::test]
async fn sla_gauges_are_exported_for_the_dashboard() {
    let dir = tempfile::tempdir().unwrap();
    let db = url(Backend::Sqlite, &dir, "complaints").await;
    let metrics = csops_observability::Metrics::new();
    let app = csops_complaints::App::build(
        &Settings::for_tests(&db),
        Config::for_tests("http://127.0.0.1:1"),
        metrics.clone(),
    )
    .await
    .unwrap();
    let running = Running::spawn(app.local_addr(), |stop| async move {
        app.run_until_stopped(stop).await.unwrap();
    });
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let text = metrics.encode();
        if text.contains("csops_sla_clocks{state=\"breached\"} 0")
            && text.contains("csops_sla_on_time_ratio 1")
            && text.contains("csops_sla_calendar_holidays_until{calendar=\"cn_service\"} 2026")
        {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no SLA gauges in:\n{text}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    running.stop().await;
}

/// A customers service that hangs costs the first few creates their deadline, then nothing:
/// the breaker opens and complaints take the most demanding defaults at once. When customers
/// answers again, the complaints accepted meanwhile are re-evaluated at once (the interval
/// here is an hour), not at the next tick.
#[tokio::test]
async fn a_hanging_customers_service_is_cut_off_and_its_return_starts_the_re_evaluation() {
    let dir = tempfile::tempdir().unwrap();
    let customers_db = url(Backend::Sqlite, &dir, "customers").await;
    let complaints_db = url(Backend::Sqlite, &dir, "complaints").await;
    let customers_srv = start_customers(&customers_db, None).await;
    let addr = customers_srv.addr;
    let mut customers = CustomersServiceClient::connect(format!("http://{addr}"))
        .await
        .unwrap();
    let cus = customers
        .create_customer(cpb::CreateCustomerRequest {
            customer: Some(cpb::Customer {
                display_name: "Frozen Peer Test".into(),
                tier: cpb::CustomerTier::C as i32,
                region: cpb::Region::Rural as i32,
                ..Default::default()
            }),
            request_id: "frozen-peer".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .customer
        .unwrap()
        .id;
    customers_srv.stop().await;

    // Customers frozen: its port accepts connections and never answers.
    let listener = tokio::net::TcpListener::bind(addr).await.unwrap();
    let frozen = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });

    let mut config = Config::for_tests(&format!("http://{addr}"));
    config.customers_timeout = Duration::from_secs(1);
    config.reevaluate_interval = Duration::from_secs(3600);
    let complaints_srv = start_complaints(&complaints_db, config).await;
    let client = ComplaintsServiceClient::connect(format!("http://{}", complaints_srv.addr))
        .await
        .unwrap();
    let create = |n: usize| {
        let mut client = client.clone();
        let cus = cus.clone();
        async move {
            client
                .create_complaint(pb::CreateComplaintRequest {
                    complaint: Some(complaint(&cus)),
                    request_id: format!("frozen-{n}"),
                    actor: agent(),
                })
                .await
                .unwrap()
                .into_inner()
                .complaint
                .unwrap()
        }
    };
    // The first three wait out the 1 s deadline and open the breaker.
    let mut ids = Vec::new();
    for n in 0..3 {
        ids.push(create(n).await.id);
    }
    // The next seven do not call customers at all: without the breaker they would take 7 s.
    let started = std::time::Instant::now();
    for n in 3..10 {
        let created = create(n).await;
        assert!(created.customer.unwrap().defaulted);
        ids.push(created.id);
    }
    assert!(
        started.elapsed() < Duration::from_millis(3500),
        "seven creates took {:?} with the breaker open",
        started.elapsed()
    );

    // Customers thaws (the frozen stand-in goes, the real service comes back on its port).
    frozen.abort();
    let _ = frozen.await;
    let _customers_srv = start_customers(&customers_db, Some(addr)).await;
    for id in ids {
        let client = client.clone();
        wait_until(
            move || {
                let mut client = client.clone();
                let id = id.clone();
                async move {
                    !client
                        .get_complaint(pb::GetComplaintRequest { complaint_id: id })
                        .await
                        .unwrap()
                        .into_inner()
                        .complaint
                        .unwrap()
                        .customer
                        .unwrap()
                        .defaulted
                }
            },
            "re-evaluation once customers answers again",
        )
        .await;
    }
    complaints_srv.stop().await;
}

/// A stop with WatchSlaEvents open ends the stream with UNAVAILABLE "server shutting down"
/// and completes soon after, instead of holding the stop for the whole grace period (30 s here).
#[tokio::test]
async fn a_stop_ends_an_open_sla_stream_with_unavailable_instead_of_waiting_out_the_grace() {
    let (_dir, db, _customers) = sqlite_pair().await;
    let mut settings = Settings::for_tests(&db);
    settings.shutdown_grace = Duration::from_secs(30);
    let app = csops_complaints::App::build(
        &settings,
        Config::for_tests(&format!("http://{}", _customers.addr)),
        csops_observability::Metrics::new(),
    )
    .await
    .unwrap();
    let running = Running::spawn(app.local_addr(), |stop| async move {
        app.run_until_stopped(stop).await.unwrap();
    });
    let mut client = ComplaintsServiceClient::connect(format!("http://{}", running.addr))
        .await
        .unwrap();
    let mut stream = client
        .watch_sla_events(pb::WatchSlaEventsRequest::default())
        .await
        .unwrap()
        .into_inner();
    let asked = std::time::Instant::now();
    let stopping = tokio::spawn(running.stop());
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
    .expect("the stream stayed open during the stop")
    .expect("the stream ended without a status");
    assert_eq!(ended.code(), Code::Unavailable, "{ended:?}");
    assert_eq!(ended.message(), "server shutting down");
    tokio::time::timeout(Duration::from_secs(20), stopping)
        .await
        .expect("the stop waited out the grace period")
        .unwrap();
    assert!(
        asked.elapsed() < Duration::from_secs(20),
        "the stop took {:?}",
        asked.elapsed()
    );
}

fn in_a_while(from_now: chrono::TimeDelta) -> Option<prost_types::Timestamp> {
    let t = chrono::Utc::now() + from_now;
    Some(prost_types::Timestamp {
        seconds: t.timestamp(),
        nanos: 0,
    })
}

async fn promise_of(app: &TestApp, complaint_id: &str, promise_id: &str) -> pb::Promise {
    app.client
        .clone()
        .get_complaint(pb::GetComplaintRequest {
            complaint_id: complaint_id.into(),
        })
        .await
        .unwrap()
        .into_inner()
        .complaint
        .unwrap()
        .promises
        .into_iter()
        .find(|p| p.id == promise_id)
        .unwrap()
}

/// Promises as an agent lives them (seed 002: "说到做到", and "因为特殊客观原因不能兑现承诺，要积极
/// 主动与客户沟通，并道歉"): made and kept; moved only with the customer's consent; the owner
/// warned before one falls due; one left open past its due time broken and escalated.
async fn promises_are_kept_rescheduled_with_consent_warned_and_broken(backend: Backend) {
    // Warn at 1 % of the way to the due time, so a warning comes within the test.
    let mut app = spawn_app_with(backend, |c| c.promise_warning_percent = 1).await;
    let cus = customer(&mut app, cpb::CustomerTier::C, false, cpb::Region::Rural).await;
    let created = create(&mut app, complaint(&cus)).await;
    let client = app.client.clone();
    let make = |description: &'static str, due: chrono::TimeDelta| {
        let mut client = client.clone();
        let id = created.id.clone();
        async move {
            client
                .make_promise(pb::MakePromiseRequest {
                    complaint_id: id,
                    description: description.into(),
                    due_time: in_a_while(due),
                    request_id: uuid::Uuid::new_v4().to_string(),
                    actor: agent(),
                    etag: String::new(),
                })
                .await
                .unwrap()
                .into_inner()
                .promise
                .unwrap()
        }
    };

    // Made and kept on time.
    let router = make("send the replacement router", chrono::TimeDelta::days(1)).await;
    assert_eq!(router.state, pb::PromiseState::Open as i32);
    let kept = app
        .client
        .keep_promise(pb::KeepPromiseRequest {
            complaint_id: created.id.clone(),
            promise_id: router.id.clone(),
            note: "delivered".into(),
            actor: agent(),
            etag: String::new(),
        })
        .await
        .unwrap()
        .into_inner()
        .promise
        .unwrap();
    assert_eq!(kept.state, pb::PromiseState::Kept as i32);

    // Moved only with the customer's consent, which the promise then records.
    let visit = make("engineer visits", chrono::TimeDelta::days(1)).await;
    let reschedule = |consent: &'static str| pb::ReschedulePromiseRequest {
        complaint_id: created.id.clone(),
        promise_id: visit.id.clone(),
        new_due_time: in_a_while(chrono::TimeDelta::days(2)),
        reason: "the spare part arrives a day late".into(),
        customer_consent: consent.into(),
        actor: agent(),
        etag: String::new(),
    };
    let refused = app
        .client
        .reschedule_promise(reschedule(""))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::InvalidArgument);
    let fields: Vec<String> = refused
        .get_details_bad_request()
        .unwrap()
        .field_violations
        .into_iter()
        .map(|v| v.field)
        .collect();
    assert_eq!(fields, ["customer_consent"]);
    let moved = app
        .client
        .reschedule_promise(reschedule("agreed on the phone at 10:05"))
        .await
        .unwrap()
        .into_inner()
        .promise
        .unwrap();
    assert_eq!(moved.changes.len(), 1);
    assert_eq!(
        moved.changes[0].customer_consent,
        "agreed on the phone at 10:05"
    );
    assert_eq!(moved.changes[0].previous_due_time, visit.due_time);

    // Left open: the owner is warned first, then it breaks and escalates.
    let refund = make("refund the fee", chrono::TimeDelta::seconds(3)).await;
    let id = created.id.clone();
    let app_ref = &app;
    wait_until(
        || {
            let (id, promise) = (id.clone(), refund.id.clone());
            async move {
                promise_of(app_ref, &id, &promise).await.state == pb::PromiseState::Broken as i32
            }
        },
        "the overdue promise breaks",
    )
    .await;
    let broken = promise_of(&app, &created.id, &refund.id).await;
    assert!(broken.warned, "the owner was warned before it broke");
    let after = app
        .client
        .clone()
        .get_complaint(pb::GetComplaintRequest {
            complaint_id: created.id.clone(),
        })
        .await
        .unwrap()
        .into_inner()
        .complaint
        .unwrap();
    let escalated: Vec<&str> = after
        .escalations
        .iter()
        .filter(|e| e.reason == pb::EscalationReason::PromiseBroken as i32)
        .map(|e| e.promise_id.as_str())
        .collect();
    assert_eq!(escalated, [refund.id.as_str()]);
    let kinds: Vec<i32> = app
        .client
        .clone()
        .list_timeline(pb::ListTimelineRequest {
            complaint_id: created.id.clone(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .entries
        .iter()
        .filter_map(|e| match &e.details {
            Some(pb::timeline_entry::Details::SlaEvent(s)) if s.promise_id == refund.id => {
                Some(s.kind)
            }
            _ => None,
        })
        .collect();
    assert_eq!(
        kinds[..2],
        [
            pb::SlaEventKind::AtRisk as i32,
            pb::SlaEventKind::PromiseBroken as i32
        ]
    );
}

/// ExplainClock names every rule that set a key account's resolution target and the conditions
/// that matched: the severity for the target rule, the key-account flag for the halving, whose
/// description says it is a deployment choice (seed 001 halves only installations and moves).
async fn explain_clock_names_the_rules_and_the_conditions_that_set_a_key_accounts_target(
    backend: Backend,
) {
    let mut app = spawn_app(backend).await;
    let cus = customer(&mut app, cpb::CustomerTier::A, true, cpb::Region::Urban).await;
    let mut serious = complaint(&cus);
    serious.severity = pb::Severity::High as i32;
    let created = create(&mut app, serious).await;
    let explained = app
        .client
        .explain_clock(pb::ExplainClockRequest {
            complaint_id: created.id.clone(),
            clock_id: "resolution-1".into(),
        })
        .await
        .unwrap()
        .into_inner()
        .explanation
        .unwrap();
    let rule = explained.rule.unwrap();
    let shown = |conditions: &[pb::RuleCondition]| -> Vec<String> {
        conditions
            .iter()
            .map(|c| format!("{} = {} (complaint: {})", c.key, c.expected, c.actual))
            .collect()
    };
    assert_eq!(rule.rule_id, "resolution.high");
    assert_eq!(
        shown(&rule.conditions),
        ["severity = high (complaint: high)"]
    );
    assert_eq!(rule.adjustment_rule_id, "resolution.key_account");
    assert_eq!(
        shown(&rule.adjustment_conditions),
        ["key_account = true (complaint: true)"]
    );
    assert_eq!(rule.factor, 0.5);
    assert!(
        rule.adjustment_description.contains("deployment choice"),
        "{}",
        rule.adjustment_description
    );
    assert!(
        explained
            .summary
            .contains("resolution.key_account (key_account=true) applies x0.5"),
        "{}",
        explained.summary
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn explain_clock_names_the_rules_and_the_conditions_that_set_a_key_accounts_target_on_sqlite()
{
    explain_clock_names_the_rules_and_the_conditions_that_set_a_key_accounts_target(
        Backend::Sqlite,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn explain_clock_names_the_rules_and_the_conditions_that_set_a_key_accounts_target_on_postgres(
) {
    explain_clock_names_the_rules_and_the_conditions_that_set_a_key_accounts_target(
        Backend::Postgres,
    )
    .await;
}

/// 首问负责 (seed 001): the agent who took the complaint stays accountable when it is handed
/// on, and a supervisor finds it by its owner, not only by who works on it now.
async fn the_agent_who_took_a_complaint_stays_accountable_and_findable(backend: Backend) {
    let mut app = spawn_app(backend).await;
    let cus = customer(&mut app, cpb::CustomerTier::B, false, cpb::Region::Urban).await;
    let created = create(&mut app, complaint(&cus)).await;
    assert_eq!(created.accountable_agent_id, "agent-1");
    let handed_on = app
        .client
        .assign_complaint(pb::AssignComplaintRequest {
            complaint_id: created.id.clone(),
            agent_id: "agent-2".into(),
            reason: "specialist for routers".into(),
            actor: agent(),
            etag: String::new(),
        })
        .await
        .unwrap()
        .into_inner()
        .complaint
        .unwrap();
    assert_eq!(handed_on.assigned_agent_id, "agent-2");
    assert_eq!(handed_on.accountable_agent_id, "agent-1");
    let list = |owner: &str, assignee: &str| pb::ListComplaintsRequest {
        accountable_agent_id: owner.into(),
        assigned_agent_id: assignee.into(),
        ..Default::default()
    };
    let owned = app
        .client
        .list_complaints(list("agent-1", ""))
        .await
        .unwrap()
        .into_inner()
        .complaints;
    assert_eq!(
        owned.iter().map(|c| c.id.as_str()).collect::<Vec<_>>(),
        [created.id.as_str()]
    );
    let worked_on_by_owner = app
        .client
        .list_complaints(list("", "agent-1"))
        .await
        .unwrap()
        .into_inner()
        .complaints;
    assert!(worked_on_by_owner.is_empty());
    let nobody = app
        .client
        .list_complaints(list("agent-2", ""))
        .await
        .unwrap()
        .into_inner()
        .complaints;
    assert!(nobody.is_empty(), "the new assignee owns nothing");
}

/// Seed 003 (效果确认): some days after the fix, whether it held is recorded once; a fix that
/// did not hold reopens the complaint with its 2-day fix clock, and a reopened complaint is
/// investigated again before a new solution.
async fn a_fix_that_did_not_hold_reopens_the_complaint_for_investigation(backend: Backend) {
    let mut app = spawn_app(backend).await;
    let cus = customer(&mut app, cpb::CustomerTier::B, false, cpb::Region::Urban).await;
    let created = create(&mut app, complaint(&cus)).await;
    drive_to_resolved(&mut app, &created.id).await;
    let confirm = |effective: bool, note: &str| pb::ConfirmEffectRequest {
        complaint_id: created.id.clone(),
        effective,
        note: note.into(),
        actor: agent(),
        etag: String::new(),
    };
    let early = app
        .client
        .confirm_effect(confirm(true, ""))
        .await
        .unwrap_err();
    assert_eq!(early.code(), Code::FailedPrecondition, "{early:?}");
    app.client
        .record_callback(pb::RecordCallbackRequest {
            complaint_id: created.id.clone(),
            outcome: pb::CallbackOutcome::Satisfied as i32,
            request_id: "effect-callback".into(),
            actor: agent(),
            ..Default::default()
        })
        .await
        .unwrap();
    let reopened = app
        .client
        .confirm_effect(confirm(false, "drops again since Monday"))
        .await
        .unwrap()
        .into_inner()
        .complaint
        .unwrap();
    assert_eq!(reopened.state, pb::ComplaintState::Reopened as i32);
    let check = reopened
        .resolution
        .as_ref()
        .unwrap()
        .effect_check
        .as_ref()
        .unwrap();
    assert!(!check.effective);
    assert_eq!(check.note, "drops again since Monday");
    assert_eq!(
        reopened.allowed_next_states,
        [
            pb::ComplaintState::Investigating as i32,
            pb::ComplaintState::Withdrawn as i32
        ]
    );
    let again = app
        .client
        .confirm_effect(confirm(true, ""))
        .await
        .unwrap_err();
    assert_eq!(again.code(), Code::FailedPrecondition, "{again:?}");
}

/// Seed 003, for complainants with media, lawyers or social background: answer them by phone
/// or in person, not in writing ("尽量避免使用文字"), and escalate at once when their demands
/// cannot be met — here, when they reject the solution offered.
async fn a_media_complainant_is_not_written_to_and_escalates_when_demands_are_unmet(
    backend: Backend,
) {
    let mut app = spawn_app(backend).await;
    let cus = customer(&mut app, cpb::CustomerTier::C, false, cpb::Region::Rural).await;
    let mut media = complaint(&cus);
    media.complainant_traits = vec![pb::ComplainantTrait::Media as i32];
    let created = create(&mut app, media).await;
    let plain = create(&mut app, complaint(&cus)).await;
    assert_eq!(created.escalation_level, pb::EscalationLevel::Agent as i32);

    let check = |complaint_id: &str, written: bool| pb::CheckReplyRequest {
        text: "We have checked your line and will replace the modem on Friday.".into(),
        complaint_id: complaint_id.into(),
        written,
        ..Default::default()
    };
    let written = app
        .client
        .check_reply(check(&created.id, true))
        .await
        .unwrap()
        .into_inner();
    let categories: Vec<i32> = written.violations.iter().map(|v| v.category).collect();
    assert_eq!(
        categories,
        [pb::ViolationCategory::WrittenToSensitive as i32]
    );
    for (id, how) in [(&created.id, false), (&plain.id, true)] {
        let fine = app.client.check_reply(check(id, how)).await.unwrap();
        assert!(fine.into_inner().clean, "{id} written={how}");
    }
    let unknown = app
        .client
        .check_reply(check("cmp_nobody", true))
        .await
        .unwrap_err();
    assert_eq!(unknown.code(), Code::NotFound);

    let c = &mut app.client;
    c.acknowledge_complaint(pb::AcknowledgeComplaintRequest {
        complaint_id: created.id.clone(),
        actor: agent(),
        ..Default::default()
    })
    .await
    .unwrap();
    c.start_investigation(pb::StartInvestigationRequest {
        complaint_id: created.id.clone(),
        actor: agent(),
        ..Default::default()
    })
    .await
    .unwrap();
    c.propose_solution(pb::ProposeSolutionRequest {
        complaint_id: created.id.clone(),
        measures: vec!["a voucher".into()],
        plan: vec![pb::PlanStep {
            description: "send the voucher".into(),
            owner_id: "agent-1".into(),
            due_time: in_a_while(chrono::TimeDelta::days(1)),
        }],
        actor: agent(),
        etag: String::new(),
    })
    .await
    .unwrap();
    let rejected = c
        .reject_solution(pb::RejectSolutionRequest {
            complaint_id: created.id.clone(),
            customer_comment: "I want the contract cancelled without fees".into(),
            actor: agent(),
            etag: String::new(),
        })
        .await
        .unwrap()
        .into_inner()
        .complaint
        .unwrap();
    assert_eq!(
        rejected.escalation_level,
        pb::EscalationLevel::Supervisor as i32
    );
    assert_eq!(
        rejected.escalations.last().unwrap().reason,
        pb::EscalationReason::SensitiveComplainant as i32
    );
}
