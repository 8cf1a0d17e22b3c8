//! Field jobs as a client sees them, on SQLite and on a real PostgreSQL, next to the real
//! customers service: every scenario runs against servers on random ports with fresh databases.
#![allow(clippy::unwrap_used, unreachable_pub)]

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, DurationRound, TimeDelta, Utc};
use csops_observability::Metrics;
use csops_proto::customers::v1 as cpb;
use csops_proto::customers::v1::customers_service_client::CustomersServiceClient;
use csops_proto::visits::v1 as pb;
use csops_proto::visits::v1::visits_service_client::VisitsServiceClient;
use csops_runtime::Settings;
use csops_testkit::server::Running;
use csops_testkit::Backend;
use csops_visits::app::Visits;
use csops_visits::{App, Config};
use prost_types::Timestamp;
use tonic::transport::Channel;
use tonic::Code;
use tonic_types::StatusExt;

struct TestApp {
    client: VisitsServiceClient<Channel>,
    customers: Option<CustomersServiceClient<Channel>>,
    core: Arc<Visits>,
    _visits: Running,
    _customers: Option<Running>,
    _dir: tempfile::TempDir,
}

/// The visits service next to a real customers service.
async fn spawn_app(backend: Backend) -> TestApp {
    spawn(backend, true).await
}

/// The visits service with (or without) a customers service to ask.
async fn spawn(backend: Backend, with_customers: bool) -> TestApp {
    let dir = tempfile::tempdir().unwrap();
    let (customers_url, customers_srv) = if with_customers {
        let db = backend.database_url(dir.path(), "customers").await;
        let app = csops_customers::App::build(&Settings::for_tests(&db), Metrics::new())
            .await
            .unwrap();
        let srv = Running::spawn(app.local_addr(), |stop| async move {
            app.run_until_stopped(stop).await.unwrap();
        });
        (format!("http://{}", srv.addr), Some(srv))
    } else {
        (String::new(), None)
    };
    let db = backend.database_url(dir.path(), "visits").await;
    let app = App::build(
        &Settings::for_tests(&db),
        Config::for_tests(&customers_url, ""),
        Metrics::new(),
    )
    .await
    .unwrap();
    let core = app.core();
    let visits = Running::spawn(app.local_addr(), |stop| async move {
        app.run_until_stopped(stop).await.unwrap();
    });
    let customers = match &customers_srv {
        Some(srv) => Some(
            CustomersServiceClient::connect(format!("http://{}", srv.addr))
                .await
                .unwrap(),
        ),
        None => None,
    };
    TestApp {
        client: VisitsServiceClient::connect(format!("http://{}", visits.addr))
            .await
            .unwrap(),
        customers,
        core,
        _visits: visits,
        _customers: customers_srv,
        _dir: dir,
    }
}

fn engineer(id: &str) -> Option<pb::Actor> {
    Some(pb::Actor {
        id: id.into(),
        role: pb::ActorRole::Engineer as i32,
    })
}

fn ts(t: DateTime<Utc>) -> Option<Timestamp> {
    Some(Timestamp {
        seconds: t.timestamp(),
        nanos: 0,
    })
}

fn time_of(t: &Option<Timestamp>) -> DateTime<Utc> {
    let t = t.as_ref().unwrap();
    DateTime::from_timestamp(t.seconds, u32::try_from(t.nanos).unwrap()).unwrap()
}

/// Tomorrow at `hour`:00 UTC.
fn tomorrow(hour: i64) -> DateTime<Utc> {
    (Utc::now() + TimeDelta::days(1))
        .duration_trunc(TimeDelta::days(1))
        .unwrap()
        + TimeDelta::hours(hour)
}

async fn customer(app: &mut TestApp, key_account: bool, region: cpb::Region) -> String {
    app.customers
        .as_mut()
        .unwrap()
        .create_customer(cpb::CreateCustomerRequest {
            customer: Some(cpb::Customer {
                display_name: "Wang Fang".into(),
                tier: cpb::CustomerTier::B as i32,
                key_account,
                region: region as i32,
                owner_agent_id: "agent-1".into(),
                contacts: vec![cpb::Contact {
                    kind: cpb::ContactKind::Phone as i32,
                    value: "+86 138 0013 8000".into(),
                    label: "mobile".into(),
                    primary: true,
                }],
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

fn job_input(customer_id: &str, kind: pb::FieldJobKind, engineer_id: &str) -> pb::FieldJob {
    pb::FieldJob {
        customer_id: customer_id.into(),
        kind: kind as i32,
        description: "install fibre to the flat".into(),
        site: "addr-1".into(),
        engineer_id: engineer_id.into(),
        ..Default::default()
    }
}

async fn create(app: &mut TestApp, job: pb::FieldJob) -> Result<pb::FieldJob, tonic::Status> {
    let engineer_id = job.engineer_id.clone();
    Ok(app
        .client
        .create_field_job(pb::CreateFieldJobRequest {
            job: Some(job),
            request_id: uuid::Uuid::new_v4().to_string(),
            actor: engineer(&engineer_id),
        })
        .await?
        .into_inner()
        .job
        .unwrap())
}

/// A repair job for a new urban customer, done by `engineer_id`.
async fn repair(app: &mut TestApp, engineer_id: &str) -> pb::FieldJob {
    let customer_id = customer(app, false, cpb::Region::Urban).await;
    create(
        app,
        job_input(&customer_id, pb::FieldJobKind::Repair, engineer_id),
    )
    .await
    .unwrap()
}

async fn agree(
    app: &mut TestApp,
    job: &pb::FieldJob,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    how: &str,
) -> Result<pb::FieldJob, tonic::Status> {
    Ok(app
        .client
        .agree_field_job_window(pb::AgreeFieldJobWindowRequest {
            field_job_id: job.id.clone(),
            window: Some(pb::TimeWindow {
                start_time: ts(start),
                end_time: ts(end),
                agreed_with_customer: how.into(),
                ..Default::default()
            }),
            actor: engineer(&job.engineer_id),
            etag: String::new(),
        })
        .await?
        .into_inner()
        .job
        .unwrap())
}

/// Agrees a window around now, arrives inside it and starts the work.
async fn in_progress(app: &mut TestApp, job: &pb::FieldJob) -> pb::FieldJob {
    let now = Utc::now();
    agree(
        app,
        job,
        now - TimeDelta::hours(1),
        now + TimeDelta::hours(1),
        "phone call 10:12",
    )
    .await
    .unwrap();
    let arrived = app
        .client
        .record_field_job_arrival(pb::RecordFieldJobArrivalRequest {
            field_job_id: job.id.clone(),
            arrive_time: None,
            actor: engineer(&job.engineer_id),
            etag: String::new(),
        })
        .await
        .unwrap()
        .into_inner()
        .job
        .unwrap();
    assert!(arrived.arrived_on_time);
    app.client
        .start_field_job(pb::StartFieldJobRequest {
            field_job_id: job.id.clone(),
            explanation: "explained the repair, about an hour, no charge".into(),
            actor: engineer(&job.engineer_id),
            etag: String::new(),
        })
        .await
        .unwrap()
        .into_inner()
        .job
        .unwrap()
}

/// The same proposal every time it is built, so a retried call carries the same request (a
/// real client retries the bytes it sent; a fresh `now()` on each build would make the retry a
/// different request whenever the two builds straddle the stored precision).
fn extra_work() -> pb::ExtraWork {
    static ESTIMATED_COMPLETION: std::sync::OnceLock<DateTime<Utc>> = std::sync::OnceLock::new();
    let estimated_completion =
        *ESTIMATED_COMPLETION.get_or_init(|| Utc::now() + TimeDelta::hours(2));
    pb::ExtraWork {
        description: "replace the corroded junction box".into(),
        cost_minor: 12_000,
        currency_code: "CNY".into(),
        extra_time: Some(prost_types::Duration {
            seconds: 2400,
            nanos: 0,
        }),
        estimated_completion_time: ts(estimated_completion),
        replaced_parts: pb::ReplacedParts::CustomerKeeps as i32,
        ..Default::default()
    }
}

async fn propose(
    app: &mut TestApp,
    job: &pb::FieldJob,
    request_id: &str,
) -> pb::ProposeExtraWorkResponse {
    app.client
        .propose_extra_work(pb::ProposeExtraWorkRequest {
            field_job_id: job.id.clone(),
            extra_work: Some(extra_work()),
            request_id: request_id.into(),
            actor: engineer(&job.engineer_id),
            etag: String::new(),
        })
        .await
        .unwrap()
        .into_inner()
}

async fn consent(
    app: &mut TestApp,
    job: &pb::FieldJob,
    extra_work_id: &str,
    granted: bool,
) -> pb::FieldJob {
    app.client
        .record_extra_work_consent(pb::RecordExtraWorkConsentRequest {
            field_job_id: job.id.clone(),
            extra_work_id: extra_work_id.into(),
            granted,
            consent: Some(pb::ConsentRecord {
                method: pb::ConsentMethod::SignedForm as i32,
                signer_name: "Wang Fang".into(),
                evidence_ref: "F-2026-118".into(),
                ..Default::default()
            }),
            actor: engineer(&job.engineer_id),
            etag: String::new(),
        })
        .await
        .unwrap()
        .into_inner()
        .job
        .unwrap()
}

async fn complete(app: &mut TestApp, job: &pb::FieldJob) -> Result<pb::FieldJob, tonic::Status> {
    Ok(app
        .client
        .complete_field_job(pb::CompleteFieldJobRequest {
            field_job_id: job.id.clone(),
            completion: Some(pb::FieldJobCompletion {
                summary: "line repaired and tested with the customer".into(),
                customer_signed_off: true,
                ..Default::default()
            }),
            actor: engineer(&job.engineer_id),
            etag: String::new(),
        })
        .await?
        .into_inner()
        .job
        .unwrap())
}

async fn get(app: &mut TestApp, id: &str) -> pb::FieldJob {
    app.client
        .get_field_job(pb::GetFieldJobRequest {
            field_job_id: id.into(),
        })
        .await
        .unwrap()
        .into_inner()
        .job
        .unwrap()
}

fn clock(job: &pb::FieldJob, kind: pb::SlaClockKind) -> &pb::SlaClock {
    job.clocks
        .iter()
        .find(|c| c.kind == kind as i32)
        .expect("the job has this clock")
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

fn subject(status: &tonic::Status) -> String {
    assert_eq!(status.code(), Code::FailedPrecondition, "{status:?}");
    status
        .get_details_precondition_failure()
        .expect("PreconditionFailure details")
        .violations[0]
        .subject
        .clone()
}

/// (kind, aggregate id, payload) of every outbox event of `id`, oldest first.
async fn outbox(app: &TestApp, id: &str) -> Vec<(String, String)> {
    sqlx::query_as::<_, (String, String)>(
        "SELECT kind, payload FROM outbox_events WHERE aggregate_id = $1 AND destination = $2 \
         ORDER BY create_time, id",
    )
    .bind(id)
    .bind("feedback")
    .fetch_all(app.core.store.pool())
    .await
    .unwrap()
}

async fn a_key_accounts_installation_is_due_in_half_the_time_and_a_rural_one_in_38_days(
    backend: Backend,
) {
    let mut app = spawn_app(backend).await;
    let key_account = customer(&mut app, true, cpb::Region::Urban).await;
    let rural = customer(&mut app, false, cpb::Region::Rural).await;
    for (customer_id, days, key, region) in [
        (&key_account, 14, true, pb::Region::Urban),
        (&rural, 38, false, pb::Region::Rural),
    ] {
        let job = create(
            &mut app,
            job_input(customer_id, pb::FieldJobKind::Installation, "eng-1"),
        )
        .await
        .unwrap();
        assert_eq!(job.state, pb::FieldJobState::Created as i32);
        assert_eq!(
            (job.key_account, job.region, job.defaulted),
            (key, region as i32, false)
        );
        let c = clock(&job, pb::SlaClockKind::Completion);
        assert_eq!(c.state, pb::SlaClockState::Running as i32);
        assert_eq!(c.target.unwrap().seconds, days * 86_400, "{customer_id}");
        // Clocks count whole seconds.
        assert_eq!(
            c.deadline.unwrap().seconds - c.start_time.unwrap().seconds,
            days * 86_400
        );
        assert_eq!(
            time_of(&c.start_time).timestamp(),
            time_of(&job.accept_time).timestamp()
        );
        let first = clock(&job, pb::SlaClockKind::FirstContact);
        assert_eq!(first.target.unwrap().seconds, 3600);
        assert_eq!(first.rule_id, "first_contact.default");
    }
}

async fn a_job_with_unconsented_extra_work_cannot_complete_and_completes_once_consent_is_recorded(
    backend: Backend,
) {
    let mut app = spawn_app(backend).await;
    let job = repair(&mut app, "eng-1").await;
    let job = in_progress(&mut app, &job).await;
    let proposed = propose(&mut app, &job, "xw-req-1").await;
    let work = proposed.extra_work.unwrap();
    assert_eq!(work.consent_state, pb::ConsentState::Pending as i32);
    assert_eq!(work.replaced_parts, pb::ReplacedParts::CustomerKeeps as i32);
    assert_eq!(work.extra_time.unwrap().seconds, 2400);
    // A retried proposal answers the first one and adds nothing.
    let again = propose(&mut app, &job, "xw-req-1").await;
    assert_eq!(again.extra_work.unwrap().id, work.id);
    assert_eq!(again.job.unwrap().extra_work.len(), 1);

    let refused = complete(&mut app, &job).await.unwrap_err();
    assert_eq!(refused.code(), Code::FailedPrecondition, "{refused:?}");
    assert!(
        refused.message().contains(&work.id),
        "{}",
        refused.message()
    );
    let listed = app
        .client
        .list_field_jobs(pb::ListFieldJobsRequest {
            consent_pending_only: true,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(listed.jobs.len(), 1);

    let job = consent(&mut app, &job, &work.id, true).await;
    let recorded = &job.extra_work[0];
    assert_eq!(recorded.consent_state, pb::ConsentState::Granted as i32);
    let record = recorded.consent.as_ref().unwrap();
    assert_eq!(record.evidence_ref, "F-2026-118");
    assert_eq!(record.recorded_by.as_ref().unwrap().id, "eng-1");
    let done = complete(&mut app, &job).await.unwrap();
    assert_eq!(done.state, pb::FieldJobState::Completed as i32);
    assert_eq!(
        clock(&done, pb::SlaClockKind::Completion).state,
        pb::SlaClockState::Met as i32
    );
    assert!(clock(&done, pb::SlaClockKind::Completion)
        .stop_time
        .is_some());
}

async fn a_refused_extra_work_does_not_block_completion(backend: Backend) {
    let mut app = spawn_app(backend).await;
    let job = repair(&mut app, "eng-1").await;
    let job = in_progress(&mut app, &job).await;
    let work = propose(&mut app, &job, "").await.extra_work.unwrap();
    let job = consent(&mut app, &job, &work.id, false).await;
    assert_eq!(
        job.extra_work[0].consent_state,
        pb::ConsentState::Refused as i32
    );
    let done = complete(&mut app, &job).await.unwrap();
    assert_eq!(done.state, pb::FieldJobState::Completed as i32);
}

async fn moving_the_window_keeps_the_previous_one_and_needs_the_customers_agreement_again(
    backend: Backend,
) {
    let mut app = spawn_app(backend).await;
    let job = repair(&mut app, "eng-1").await;
    let first = agree(&mut app, &job, tomorrow(2), tomorrow(4), "phone call 10:12")
        .await
        .unwrap();
    assert_eq!(first.state, pb::FieldJobState::WindowAgreed as i32);
    assert_eq!(
        clock(&first, pb::SlaClockKind::FirstContact).state,
        pb::SlaClockState::Met as i32
    );
    let unagreed = agree(&mut app, &job, tomorrow(5), tomorrow(7), " ")
        .await
        .unwrap_err();
    assert_eq!(fields(&unagreed), ["window.agreed_with_customer"]);
    let moved = agree(&mut app, &job, tomorrow(5), tomorrow(7), "sms reply 11:40")
        .await
        .unwrap();
    assert_eq!(moved.previous_windows.len(), 1);
    let earlier = &moved.previous_windows[0];
    assert_eq!(earlier.agreed_with_customer, "phone call 10:12");
    assert_eq!(time_of(&earlier.start_time), tomorrow(2));
    let now = moved.agreed_window.as_ref().unwrap();
    assert_eq!(now.agreed_with_customer, "sms reply 11:40");
    assert_eq!(time_of(&now.start_time), tomorrow(5));
    assert_eq!(now.agreed_by.as_ref().unwrap().id, "eng-1");
    // The first-contact clock was met by the first agreement and stays so.
    assert_eq!(
        clock(&moved, pb::SlaClockKind::FirstContact).stop_time,
        clock(&first, pb::SlaClockKind::FirstContact).stop_time
    );
}

async fn double_booking_an_engineer_is_refused_naming_the_clash(backend: Backend) {
    let mut app = spawn_app(backend).await;
    let booked = repair(&mut app, "eng-busy").await;
    agree(&mut app, &booked, tomorrow(2), tomorrow(4), "phone call")
        .await
        .unwrap();
    let other = repair(&mut app, "eng-busy").await;
    let clash = agree(&mut app, &other, tomorrow(3), tomorrow(5), "phone call")
        .await
        .unwrap_err();
    assert_eq!(subject(&clash), "engineers/eng-busy");
    assert!(clash.message().contains(&booked.id), "{}", clash.message());
    assert_eq!(
        get(&mut app, &other.id).await.state,
        pb::FieldJobState::Created as i32
    );
    // Right after the first one is fine; moving the first one does not clash with itself.
    agree(&mut app, &other, tomorrow(4), tomorrow(6), "phone call")
        .await
        .unwrap();
    agree(
        &mut app,
        &booked,
        tomorrow(1),
        tomorrow(3),
        "phone call again",
    )
    .await
    .unwrap();
}

async fn a_completed_job_leaves_a_schedule_callback_event_for_feedback_in_the_outbox(
    backend: Backend,
) {
    let mut app = spawn_app(backend).await;
    let job = repair(&mut app, "eng-1").await;
    let job = in_progress(&mut app, &job).await;
    assert!(outbox(&app, &job.id).await.is_empty());
    let done = complete(&mut app, &job).await.unwrap();
    let events = outbox(&app, &job.id).await;
    let kinds: Vec<&str> = events.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(kinds, ["schedule_callback", "activity"]);
    let callback: serde_json::Value = serde_json::from_str(&events[0].1).unwrap();
    assert_eq!(callback["type"], "schedule_callback");
    assert_eq!(callback["field_job_id"], job.id.as_str());
    assert_eq!(callback["customer_id"], job.customer_id.as_str());
    assert_eq!(callback["served_by_agent_id"], "eng-1");
    assert_eq!(
        callback["service_end_time"],
        time_of(&done.completion.as_ref().unwrap().complete_time).timestamp_micros()
    );
    let activity: serde_json::Value = serde_json::from_str(&events[1].1).unwrap();
    assert_eq!(activity["kind"], "field_job_completed");
    assert_eq!(activity["subject_kind"], "field_job");
    let pending = csops_runtime::outbox::Outbox::new(app.core.store.pool().clone())
        .pending()
        .await
        .unwrap();
    assert_eq!(pending[0].destination, "feedback");
    assert_eq!(pending[0].events, 2);
}

async fn bad_input_answers_invalid_argument_naming_the_field(backend: Backend) {
    let mut app = spawn_app(backend).await;
    let err = app
        .client
        .create_field_job(pb::CreateFieldJobRequest {
            job: Some(pb::FieldJob {
                kind: 99,
                ..Default::default()
            }),
            request_id: String::new(),
            actor: None,
        })
        .await
        .unwrap_err();
    assert_eq!(
        fields(&err),
        [
            "job.customer_id",
            "job.kind",
            "job.description",
            "job.engineer_id",
            "request_id",
            "actor"
        ]
    );
    let long = app
        .client
        .get_field_job(pb::GetFieldJobRequest {
            field_job_id: "x".repeat(101),
        })
        .await
        .unwrap_err();
    assert_eq!(fields(&long), ["field_job_id"]);
    let job = repair(&mut app, "eng-1").await;
    let backwards = agree(&mut app, &job, tomorrow(4), tomorrow(2), "phone call")
        .await
        .unwrap_err();
    assert_eq!(fields(&backwards), ["window.end_time"]);
    let job = in_progress(&mut app, &job).await;
    let err = app
        .client
        .propose_extra_work(pb::ProposeExtraWorkRequest {
            field_job_id: job.id.clone(),
            extra_work: Some(pb::ExtraWork {
                description: "new router".into(),
                replaced_parts: 7,
                ..Default::default()
            }),
            request_id: String::new(),
            actor: engineer("eng-1"),
            etag: String::new(),
        })
        .await
        .unwrap_err();
    assert_eq!(
        fields(&err),
        [
            "extra_work.estimated_completion_time",
            "extra_work.replaced_parts"
        ]
    );
    let work = propose(&mut app, &job, "").await.extra_work.unwrap();
    let err = app
        .client
        .record_extra_work_consent(pb::RecordExtraWorkConsentRequest {
            field_job_id: job.id.clone(),
            extra_work_id: work.id.clone(),
            granted: true,
            consent: Some(pb::ConsentRecord {
                method: pb::ConsentMethod::ElectronicSignature as i32,
                signer_name: "Wang Fang".into(),
                ..Default::default()
            }),
            actor: engineer("eng-1"),
            etag: String::new(),
        })
        .await
        .unwrap_err();
    assert_eq!(fields(&err), ["consent.evidence_ref"]);
    let err = app
        .client
        .pause_field_job(pb::PauseFieldJobRequest {
            field_job_id: job.id.clone(),
            reason: 0,
            note: String::new(),
            actor: engineer("eng-1"),
            etag: String::new(),
        })
        .await
        .unwrap_err();
    assert_eq!(fields(&err), ["reason", "note"]);
    let err = app
        .client
        .list_field_jobs(pb::ListFieldJobsRequest {
            states: vec![pb::FieldJobState::Created as i32, 42],
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(fields(&err), ["states[1]"]);
}

async fn a_stale_etag_answers_aborted(backend: Backend) {
    let mut app = spawn_app(backend).await;
    let job = repair(&mut app, "eng-1").await;
    assert_eq!(job.etag, "v1");
    let agreed = agree(&mut app, &job, tomorrow(2), tomorrow(4), "phone call")
        .await
        .unwrap();
    assert_eq!(agreed.etag, "v2");
    let stale = app
        .client
        .cancel_field_job(pb::CancelFieldJobRequest {
            field_job_id: job.id.clone(),
            reason: "customer withdrew".into(),
            actor: engineer("eng-1"),
            etag: job.etag.clone(),
        })
        .await
        .unwrap_err();
    assert_eq!(stale.code(), Code::Aborted, "{stale:?}");
    let cancelled = app
        .client
        .cancel_field_job(pb::CancelFieldJobRequest {
            field_job_id: job.id.clone(),
            reason: "customer withdrew".into(),
            actor: engineer("eng-1"),
            etag: agreed.etag.clone(),
        })
        .await
        .unwrap()
        .into_inner()
        .job
        .unwrap();
    assert_eq!(cancelled.state, pb::FieldJobState::Cancelled as i32);
    assert!(cancelled
        .clocks
        .iter()
        .all(|c| c.state != pb::SlaClockState::Running as i32));
    // A cancelled job names where it is and that nothing follows.
    let late = complete(&mut app, &job).await.unwrap_err();
    assert_eq!(late.code(), Code::FailedPrecondition);
    assert!(late.message().contains("cancelled"), "{}", late.message());
}

async fn a_retried_create_with_the_same_request_id_returns_the_same_job(backend: Backend) {
    let mut app = spawn_app(backend).await;
    let customer_id = customer(&mut app, false, cpb::Region::Urban).await;
    let request = pb::CreateFieldJobRequest {
        job: Some(job_input(
            &customer_id,
            pb::FieldJobKind::Maintenance,
            "eng-1",
        )),
        request_id: "create-1".into(),
        actor: engineer("eng-1"),
    };
    let first = app
        .client
        .create_field_job(request.clone())
        .await
        .unwrap()
        .into_inner()
        .job
        .unwrap();
    let again = app
        .client
        .create_field_job(request.clone())
        .await
        .unwrap()
        .into_inner()
        .job
        .unwrap();
    assert_eq!(again, first);
    let mut other = request;
    other.job.as_mut().unwrap().description = "another job".into();
    let reused = app.client.create_field_job(other).await.unwrap_err();
    assert_eq!(reused.code(), Code::AlreadyExists, "{reused:?}");
    let listed = app
        .client
        .list_field_jobs(pb::ListFieldJobsRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert_eq!(listed.jobs.len(), 1);
}

async fn a_job_for_an_unknown_customer_fails_naming_the_customer(backend: Backend) {
    let mut app = spawn_app(backend).await;
    let err = create(
        &mut app,
        job_input("cus_nobody", pb::FieldJobKind::Repair, "eng-1"),
    )
    .await
    .unwrap_err();
    assert_eq!(subject(&err), "customers/cus_nobody");
}

async fn when_the_customers_service_cannot_be_asked_the_job_takes_the_most_demanding_limits(
    backend: Backend,
) {
    let mut app = spawn(backend, false).await;
    let job = create(
        &mut app,
        job_input("cus_unknown", pb::FieldJobKind::Installation, "eng-1"),
    )
    .await
    .unwrap();
    assert!(job.defaulted && job.key_account);
    assert_eq!(job.region, pb::Region::Urban as i32);
    assert_eq!(
        clock(&job, pb::SlaClockKind::Completion)
            .target
            .unwrap()
            .seconds,
        14 * 86_400
    );
}

async fn pausing_for_the_customer_moves_the_deadline_and_resuming_returns_to_where_it_was(
    backend: Backend,
) {
    let mut app = spawn_app(backend).await;
    let job = repair(&mut app, "eng-1").await;
    let job = in_progress(&mut app, &job).await;
    let before = time_of(&clock(&job, pb::SlaClockKind::Completion).deadline);
    let paused = app
        .client
        .pause_field_job(pb::PauseFieldJobRequest {
            field_job_id: job.id.clone(),
            reason: pb::PauseReason::WaitingOnCustomer as i32,
            note: "the customer decides on the new router".into(),
            actor: engineer("eng-1"),
            etag: String::new(),
        })
        .await
        .unwrap()
        .into_inner()
        .job
        .unwrap();
    assert_eq!(paused.state, pb::FieldJobState::Paused as i32);
    assert_eq!(
        clock(&paused, pb::SlaClockKind::Completion).state,
        pb::SlaClockState::Paused as i32
    );
    let refused = complete(&mut app, &paused).await.unwrap_err();
    assert_eq!(refused.code(), Code::FailedPrecondition);
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let resumed = app
        .client
        .resume_field_job(pb::ResumeFieldJobRequest {
            field_job_id: job.id.clone(),
            actor: engineer("eng-1"),
            etag: paused.etag.clone(),
        })
        .await
        .unwrap()
        .into_inner()
        .job
        .unwrap();
    assert_eq!(resumed.state, pb::FieldJobState::InProgress as i32);
    let c = clock(&resumed, pb::SlaClockKind::Completion);
    assert_eq!(c.state, pb::SlaClockState::Running as i32);
    assert!(c.paused.unwrap().seconds >= 1, "{c:?}");
    assert!(time_of(&c.deadline) - before >= TimeDelta::seconds(1));
}

async fn a_clock_past_its_deadline_is_marked_breached_by_the_sweep(backend: Backend) {
    let mut app = spawn_app(backend).await;
    let customer_id = customer(&mut app, false, cpb::Region::Urban).await;
    let now = Utc::now();
    let mut input = job_input(&customer_id, pb::FieldJobKind::Reconnection, "eng-1");
    // Accepted almost 24 hours ago: the reconnection is due in two seconds. Dispatched now, so
    // first contact is still ahead.
    input.accept_time = ts(now - TimeDelta::hours(24) + TimeDelta::seconds(2));
    input.dispatch_time = ts(now);
    let job = create(&mut app, input).await.unwrap();
    assert_eq!(
        clock(&job, pb::SlaClockKind::Completion).state,
        pb::SlaClockState::Running as i32
    );
    let breached_only = pb::ListFieldJobsRequest {
        breached_only: true,
        ..Default::default()
    };
    let mut found = Vec::new();
    for _ in 0..100 {
        found = app
            .client
            .list_field_jobs(breached_only.clone())
            .await
            .unwrap()
            .into_inner()
            .jobs;
        if !found.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(found.len(), 1, "the sweep marks the job breached");
    let c = clock(&found[0], pb::SlaClockKind::Completion);
    assert_eq!(c.state, pb::SlaClockState::Breached as i32);
    assert_eq!(
        clock(&found[0], pb::SlaClockKind::FirstContact).state,
        pb::SlaClockState::Running as i32
    );
    // Completing late still stops the clock, as met late.
    let job = in_progress(&mut app, &found[0]).await;
    let done = complete(&mut app, &job).await.unwrap();
    assert_eq!(
        clock(&done, pb::SlaClockKind::Completion).state,
        pb::SlaClockState::MetLate as i32
    );
}

async fn listing_filters_by_engineer_state_and_kind_and_pages_without_repeats(backend: Backend) {
    let mut app = spawn_app(backend).await;
    let mut mine = HashSet::new();
    for _ in 0..5 {
        mine.insert(repair(&mut app, "eng-a").await.id);
    }
    let other = repair(&mut app, "eng-b").await;
    agree(&mut app, &other, tomorrow(2), tomorrow(3), "phone call")
        .await
        .unwrap();
    let mut seen = HashSet::new();
    let mut token = String::new();
    let mut pages = 0;
    loop {
        let page = app
            .client
            .list_field_jobs(pb::ListFieldJobsRequest {
                page_size: 2,
                page_token: token.clone(),
                engineer_id: "eng-a".into(),
                kinds: vec![pb::FieldJobKind::Repair as i32],
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner();
        pages += 1;
        for j in page.jobs {
            assert!(seen.insert(j.id), "a job came twice");
        }
        if page.next_page_token.is_empty() {
            break;
        }
        token = page.next_page_token;
    }
    assert_eq!(seen, mine);
    assert_eq!(pages, 3);
    let agreed = app
        .client
        .list_field_jobs(pb::ListFieldJobsRequest {
            states: vec![pb::FieldJobState::WindowAgreed as i32],
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(agreed.jobs.len(), 1);
    assert_eq!(agreed.jobs[0].id, other.id);
    // A token is bound to the filters it was issued for.
    let first = app
        .client
        .list_field_jobs(pb::ListFieldJobsRequest {
            page_size: 1,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let err = app
        .client
        .list_field_jobs(pb::ListFieldJobsRequest {
            page_size: 1,
            page_token: first.next_page_token,
            engineer_id: "eng-a".into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(fields(&err), ["page_token"]);
}

csops_testkit::on_both_backends!(
    a_key_accounts_installation_is_due_in_half_the_time_and_a_rural_one_in_38_days,
    a_job_with_unconsented_extra_work_cannot_complete_and_completes_once_consent_is_recorded,
    a_refused_extra_work_does_not_block_completion,
    moving_the_window_keeps_the_previous_one_and_needs_the_customers_agreement_again,
    double_booking_an_engineer_is_refused_naming_the_clash,
    a_completed_job_leaves_a_schedule_callback_event_for_feedback_in_the_outbox,
    bad_input_answers_invalid_argument_naming_the_field,
    a_stale_etag_answers_aborted,
    a_retried_create_with_the_same_request_id_returns_the_same_job,
    a_job_for_an_unknown_customer_fails_naming_the_customer,
    when_the_customers_service_cannot_be_asked_the_job_takes_the_most_demanding_limits,
    pausing_for_the_customer_moves_the_deadline_and_resuming_returns_to_where_it_was,
    a_clock_past_its_deadline_is_marked_breached_by_the_sweep,
    listing_filters_by_engineer_state_and_kind_and_pages_without_repeats,
);
