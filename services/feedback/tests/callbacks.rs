//! Callbacks as a client sees them, on SQLite and on a real PostgreSQL: every scenario runs
//! against a server on a random port with a fresh database. No complaints service runs here:
//! the outcomes for it wait in the outbox, where the tests read them.
#![allow(clippy::unwrap_used, unreachable_pub)]

mod common;

use chrono::{DateTime, TimeDelta, Utc};
use csops_feedback::store::Deliveries;
use csops_proto::feedback::v1 as pb;
use csops_testkit::Backend;
use tonic::Code;
use tonic_types::StatusExt;

use common::{
    agent, attempt, complaint_callback, fields, outbox, record, schedule_request, spawn_app,
    time_of, ts, TestApp,
};

async fn a_repeated_event_returns_the_first_callback_and_listing_pages_by_due_time(
    backend: Backend,
) {
    let mut app = spawn_app(backend).await;
    // Whole seconds, as the request carries it.
    let ended =
        DateTime::from_timestamp((Utc::now() - TimeDelta::hours(3)).timestamp(), 0).unwrap();
    let request = schedule_request(pb::SubjectKind::Complaint, "cmp_1", "cev_1", ended);
    let first = app
        .client
        .schedule_callback(request.clone())
        .await
        .unwrap()
        .into_inner();
    assert!(!first.duplicate);
    let c = first.callback.unwrap();
    assert!(c.id.starts_with("cbk_"), "{}", c.id);
    assert_eq!(c.state, pb::CallbackState::Scheduled as i32);
    assert_eq!(c.source_event_id, "cev_1");
    assert_eq!(time_of(&c.earliest_time), ended + TimeDelta::days(1));
    assert_eq!(time_of(&c.due_time), ended + TimeDelta::days(2));
    assert_eq!(c.complaint_delivery, pb::DeliveryState::Unspecified as i32);
    assert!(!c.overdue);
    assert_eq!(c.etag, "v1");

    let again = app
        .client
        .schedule_callback(request)
        .await
        .unwrap()
        .into_inner();
    assert!(again.duplicate);
    assert_eq!(again.callback.unwrap(), c);
    let got = app
        .client
        .get_callback(pb::GetCallbackRequest {
            callback_id: c.id.clone(),
        })
        .await
        .unwrap()
        .into_inner()
        .callback
        .unwrap();
    assert_eq!(got, c);

    // Two more, ended later (so due later); one about a field job.
    app.client
        .schedule_callback(schedule_request(
            pb::SubjectKind::FieldJob,
            "fjb_1",
            "vev_1",
            ended + TimeDelta::hours(1),
        ))
        .await
        .unwrap();
    app.client
        .schedule_callback(schedule_request(
            pb::SubjectKind::Complaint,
            "cmp_2",
            "cev_2",
            ended + TimeDelta::hours(2),
        ))
        .await
        .unwrap();
    let mut ids = Vec::new();
    let mut token = String::new();
    loop {
        let page = app
            .client
            .list_callbacks(pb::ListCallbacksRequest {
                page_size: 2,
                page_token: token.clone(),
                states: vec![pb::CallbackState::Scheduled as i32],
                customer_id: "cus_1".into(),
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner();
        assert!(page.callbacks.len() <= 2);
        ids.extend(
            page.callbacks
                .iter()
                .map(|c| c.subject.as_ref().unwrap().id.clone()),
        );
        if page.next_page_token.is_empty() {
            break;
        }
        token = page.next_page_token;
        // A token is valid only with the filters of the first page.
        let err = app
            .client
            .list_callbacks(pb::ListCallbacksRequest {
                page_size: 2,
                page_token: token.clone(),
                ..Default::default()
            })
            .await
            .unwrap_err();
        assert_eq!(fields(&err), ["page_token"]);
    }
    assert_eq!(ids, ["cmp_1", "fjb_1", "cmp_2"]);
    let complaints = app
        .client
        .list_callbacks(pb::ListCallbacksRequest {
            subject_kind: pb::SubjectKind::Complaint as i32,
            due_before: ts(ended + TimeDelta::days(2) + TimeDelta::minutes(90)),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let ids: Vec<_> = complaints
        .callbacks
        .iter()
        .map(|c| c.subject.as_ref().unwrap().id.as_str())
        .collect();
    assert_eq!(ids, ["cmp_1"]);
}

async fn a_satisfied_answer_before_the_deadline_completes_and_lets_the_complaint_close(
    backend: Backend,
) {
    let mut app = spawn_app(backend).await;
    let c = complaint_callback(&mut app, "cmp_1").await;
    // Before the earliest time too: the window plans the work, it does not gate the customer.
    assert!(Utc::now() < time_of(&c.earliest_time));
    let done = record(&mut app, attempt(&c, true, pb::CallbackOutcome::Satisfied)).await;
    assert_eq!(done.state, pb::CallbackState::Completed as i32);
    assert_eq!(done.outcome, pb::CallbackOutcome::Satisfied as i32);
    assert_eq!(done.attempts.len(), 1);
    assert!(time_of(&done.attempts[0].attempt_time) < time_of(&done.due_time));
    assert!(!done.overdue);
    assert_eq!(done.etag, "v2");
    assert_eq!(done.complaint_delivery, pb::DeliveryState::Pending as i32);
    let events = outbox(&app, &c.id).await;
    assert_eq!(events.len(), 1);
    let (destination, kind, _, payload) = &events[0];
    assert_eq!(
        (destination.as_str(), kind.as_str()),
        ("complaints", "record_callback")
    );
    assert_eq!(payload["outcome"], "satisfied");
    assert_eq!(payload["complaint_id"], "cmp_1");
    assert_eq!(payload["request_id"], format!("{}:outcome", c.id));
    // A field-job callback has no complaint to tell.
    let job = app
        .client
        .schedule_callback(schedule_request(
            pb::SubjectKind::FieldJob,
            "fjb_1",
            "vev_1",
            Utc::now() - TimeDelta::hours(2),
        ))
        .await
        .unwrap()
        .into_inner()
        .callback
        .unwrap();
    let done = record(
        &mut app,
        attempt(&job, true, pb::CallbackOutcome::Satisfied),
    )
    .await;
    assert_eq!(done.state, pb::CallbackState::Completed as i32);
    assert_eq!(
        done.complaint_delivery,
        pb::DeliveryState::Unspecified as i32
    );
    assert!(outbox(&app, &job.id).await.is_empty());
}

async fn three_unreached_attempts_end_the_callback_unreachable(backend: Backend) {
    let mut app = spawn_app(backend).await;
    let c = complaint_callback(&mut app, "cmp_1").await;
    let mut last = c.clone();
    for n in 1..=3 {
        last = record(
            &mut app,
            attempt(&c, false, pb::CallbackOutcome::Unspecified),
        )
        .await;
        let expected = if n < 3 {
            pb::CallbackState::Scheduled
        } else {
            pb::CallbackState::Unreachable
        };
        assert_eq!(last.state, expected as i32, "after attempt {n}");
    }
    assert_eq!(last.outcome, pb::CallbackOutcome::Unreachable as i32);
    assert_eq!(last.attempts.len(), 3);
    assert!(last.attempts.iter().all(|a| !a.reached));
    let events = outbox(&app, &c.id).await;
    let requests: Vec<_> = events
        .iter()
        .map(|(_, _, _, p)| {
            (
                p["outcome"].as_str().unwrap().to_owned(),
                p["request_id"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        requests,
        (1..=3)
            .map(|n| ("unreachable".to_owned(), format!("{}:attempt-{n}", c.id)))
            .collect::<Vec<_>>()
    );
    let err = app
        .client
        .record_callback_attempt(attempt(&c, false, pb::CallbackOutcome::Unspecified))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::FailedPrecondition, "{err:?}");
    assert!(err.message().contains("UNREACHABLE"), "{}", err.message());
}

async fn an_unsatisfied_answer_with_a_finding_leaves_a_reopen_event_for_complaints(
    backend: Backend,
) {
    let mut app = spawn_app(backend).await;
    let c = complaint_callback(&mut app, "cmp_9").await;
    let mut request = attempt(&c, true, pb::CallbackOutcome::Unsatisfied);
    request.notes = "still no signal at home".into();
    request.findings = vec![pb::FindingInput {
        description: "the antenna was not replaced".into(),
        owner_agent_id: String::new(),
    }];
    let done = record(&mut app, request).await;
    assert_eq!(done.state, pb::CallbackState::Completed as i32);
    assert_eq!(done.outcome, pb::CallbackOutcome::Unsatisfied as i32);
    assert_eq!(done.findings.len(), 1);
    let f = &done.findings[0];
    assert_eq!(f.id, "fnd_1");
    assert_eq!(f.state, pb::FindingState::Open as i32);
    // The owner is who served the customer; the fix limit is 2 days from the attempt (the
    // SLA clock counts whole seconds).
    assert_eq!(f.owner_agent_id, "agent-7");
    let limit = time_of(&f.fix_due_time) - time_of(&f.find_time);
    assert!(
        limit > TimeDelta::days(2) - TimeDelta::seconds(1) && limit <= TimeDelta::days(2),
        "{limit:?}"
    );
    assert_eq!(done.complaint_delivery, pb::DeliveryState::Pending as i32);
    let events = outbox(&app, &c.id).await;
    assert_eq!(events.len(), 1);
    let (destination, kind, _, payload) = &events[0];
    assert_eq!(destination, "complaints");
    assert_eq!(kind, "record_callback");
    assert_eq!(payload["type"], "record_callback");
    assert_eq!(payload["outcome"], "unsatisfied");
    assert_eq!(payload["complaint_id"], "cmp_9");
    assert_eq!(payload["callback_id"], c.id.as_str());
    assert_eq!(payload["request_id"], format!("{}:outcome", c.id));
    let notes = payload["notes"].as_str().unwrap();
    assert!(notes.contains("the antenna was not replaced"), "{notes}");
    assert!(notes.contains("still no signal at home"), "{notes}");
    // It waits for the complaints service, which is not deployed here.
    let pending = csops_runtime::outbox::Outbox::new(app.core.store.pool().clone())
        .pending()
        .await
        .unwrap();
    assert_eq!(pending.len(), 1);
    assert_eq!(pending[0].destination, "complaints");
    assert_eq!(pending[0].events, 1);
}

async fn fixing_a_finding_marks_it_fixed_once(backend: Backend) {
    let mut app = spawn_app(backend).await;
    let c = complaint_callback(&mut app, "cmp_1").await;
    let mut request = attempt(&c, true, pb::CallbackOutcome::Unsatisfied);
    request.findings = vec![pb::FindingInput {
        description: "bill still wrong".into(),
        owner_agent_id: "agent-9".into(),
    }];
    let done = record(&mut app, request).await;
    assert_eq!(done.findings[0].owner_agent_id, "agent-9");
    let fix = |etag: &str, finding: &str| pb::FixCallbackFindingRequest {
        callback_id: c.id.clone(),
        finding_id: finding.into(),
        fix_note: "credited the difference".into(),
        actor: agent("agent-9"),
        etag: etag.into(),
    };
    let fixed = app
        .client
        .fix_callback_finding(fix(&done.etag, "fnd_1"))
        .await
        .unwrap()
        .into_inner()
        .callback
        .unwrap();
    let f = &fixed.findings[0];
    assert_eq!(f.state, pb::FindingState::Fixed as i32);
    assert_eq!(f.fix_note, "credited the difference");
    assert!(f.fix_time.is_some());
    assert!(!f.overdue);
    assert_eq!(fixed.state, pb::CallbackState::Completed as i32);
    // Fixing sends nothing more: the complaint has its own fix clock.
    assert_eq!(outbox(&app, &c.id).await.len(), 1);
    let again = app
        .client
        .fix_callback_finding(fix("", "fnd_1"))
        .await
        .unwrap_err();
    assert_eq!(again.code(), Code::FailedPrecondition, "{again:?}");
    let unknown = app
        .client
        .fix_callback_finding(fix("", "fnd_7"))
        .await
        .unwrap_err();
    assert_eq!(unknown.code(), Code::NotFound, "{unknown:?}");
}

async fn a_stale_etag_answers_aborted(backend: Backend) {
    let mut app = spawn_app(backend).await;
    let c = complaint_callback(&mut app, "cmp_1").await;
    let once = record(
        &mut app,
        attempt(&c, false, pb::CallbackOutcome::Unspecified),
    )
    .await;
    assert_eq!(once.etag, "v2");
    let mut stale = attempt(&c, false, pb::CallbackOutcome::Unspecified);
    stale.etag = c.etag.clone();
    let err = app.client.record_callback_attempt(stale).await.unwrap_err();
    assert_eq!(err.code(), Code::Aborted, "{err:?}");
    assert_eq!(
        err.get_details_error_info().unwrap().metadata["current_etag"],
        "v2"
    );
    let cancel = |etag: &str| pb::CancelCallbackRequest {
        callback_id: c.id.clone(),
        reason: "complaint withdrawn".into(),
        actor: agent("agent-3"),
        etag: etag.into(),
    };
    let err = app.client.cancel_callback(cancel("v1")).await.unwrap_err();
    assert_eq!(err.code(), Code::Aborted, "{err:?}");
    let cancelled = app
        .client
        .cancel_callback(cancel("v2"))
        .await
        .unwrap()
        .into_inner()
        .callback
        .unwrap();
    assert_eq!(cancelled.state, pb::CallbackState::Cancelled as i32);
    assert_eq!(cancelled.etag, "v3");
    let err = app.client.cancel_callback(cancel("")).await.unwrap_err();
    assert_eq!(err.code(), Code::FailedPrecondition, "{err:?}");
}

async fn a_retried_attempt_with_the_same_request_id_is_recorded_once(backend: Backend) {
    let mut app = spawn_app(backend).await;
    let c = complaint_callback(&mut app, "cmp_1").await;
    let mut request = attempt(&c, false, pb::CallbackOutcome::Unspecified);
    request.request_id = "att-1".into();
    let first = record(&mut app, request.clone()).await;
    let again = record(&mut app, request.clone()).await;
    assert_eq!(again.attempts.len(), 1);
    assert_eq!(again, first);
    request.notes = "another request".into();
    let err = app
        .client
        .record_callback_attempt(request)
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::AlreadyExists, "{err:?}");
    assert_eq!(outbox(&app, &c.id).await.len(), 1);
}

async fn bad_input_answers_invalid_argument_naming_the_field(backend: Backend) {
    let mut app = spawn_app(backend).await;
    let err = app
        .client
        .schedule_callback(pb::ScheduleCallbackRequest::default())
        .await
        .unwrap_err();
    assert_eq!(
        fields(&err),
        [
            "customer_id",
            "subject",
            "service_end_time",
            "source_event_id",
            "actor"
        ]
    );
    let mut general = schedule_request(
        pb::SubjectKind::General,
        "x",
        "ev-general",
        Utc::now() - TimeDelta::hours(1),
    );
    let err = app
        .client
        .schedule_callback(general.clone())
        .await
        .unwrap_err();
    assert_eq!(fields(&err), ["subject.kind"]);
    general.subject = Some(pb::Subject {
        kind: pb::SubjectKind::Complaint as i32,
        id: "cmp_1".into(),
    });
    general.service_end_time = ts(Utc::now() + TimeDelta::days(1));
    let err = app.client.schedule_callback(general).await.unwrap_err();
    assert_eq!(fields(&err), ["service_end_time"]);
    let long = app
        .client
        .get_callback(pb::GetCallbackRequest {
            callback_id: "x".repeat(101),
        })
        .await
        .unwrap_err();
    assert_eq!(fields(&long), ["callback_id"]);
    let c = complaint_callback(&mut app, "cmp_1").await;
    let err = app
        .client
        .record_callback_attempt(attempt(&c, true, pb::CallbackOutcome::Unspecified))
        .await
        .unwrap_err();
    assert_eq!(fields(&err), ["outcome"]);
    let err = app
        .client
        .record_callback_attempt(attempt(&c, true, pb::CallbackOutcome::Unsatisfied))
        .await
        .unwrap_err();
    assert_eq!(fields(&err), ["findings"]);
    let mut no_actor = attempt(&c, false, pb::CallbackOutcome::Unspecified);
    no_actor.actor = None;
    no_actor.outcome = 42;
    let err = app
        .client
        .record_callback_attempt(no_actor)
        .await
        .unwrap_err();
    assert_eq!(fields(&err), ["outcome", "actor"]);
    let err = app
        .client
        .cancel_callback(pb::CancelCallbackRequest {
            callback_id: c.id.clone(),
            reason: " ".into(),
            actor: agent("agent-3"),
            etag: String::new(),
        })
        .await
        .unwrap_err();
    assert_eq!(fields(&err), ["reason"]);
    let err = app
        .client
        .list_callbacks(pb::ListCallbacksRequest {
            page_size: 501,
            states: vec![0, 9],
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(fields(&err), ["page_size", "states[0]", "states[1]"]);
    // Nothing was recorded by the refused calls.
    let same = app
        .client
        .get_callback(pb::GetCallbackRequest {
            callback_id: c.id.clone(),
        })
        .await
        .unwrap()
        .into_inner()
        .callback
        .unwrap();
    assert_eq!(same, c);
}

async fn an_unknown_callback_answers_not_found(backend: Backend) {
    let mut app = spawn_app(backend).await;
    let err = app
        .client
        .get_callback(pb::GetCallbackRequest {
            callback_id: "cbk_missing".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound, "{err:?}");
    let ghost = pb::Callback {
        id: "cbk_missing".into(),
        ..Default::default()
    };
    let err = app
        .client
        .record_callback_attempt(attempt(&ghost, false, pb::CallbackOutcome::Unspecified))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound, "{err:?}");
}

async fn delivery_shows_delivered_only_once_the_newest_event_was_accepted(backend: Backend) {
    let mut app = spawn_app(backend).await;
    let c = complaint_callback(&mut app, "cmp_1").await;
    record(
        &mut app,
        attempt(&c, false, pb::CallbackOutcome::Unspecified),
    )
    .await;
    record(
        &mut app,
        attempt(&c, false, pb::CallbackOutcome::Unspecified),
    )
    .await;
    let events = outbox(&app, &c.id).await;
    let deliveries = Deliveries::new(app.core.store.pool().clone());
    let delivery = |app: &mut TestApp| {
        let mut client = app.client.clone();
        let id = c.id.clone();
        async move {
            client
                .get_callback(pb::GetCallbackRequest { callback_id: id })
                .await
                .unwrap()
                .into_inner()
                .callback
                .unwrap()
                .complaint_delivery
        }
    };
    // What the relay does after complaints accepted an event.
    deliveries.delivered(&c.id, &events[0].2).await.unwrap();
    assert_eq!(delivery(&mut app).await, pb::DeliveryState::Pending as i32);
    deliveries.delivered(&c.id, &events[1].2).await.unwrap();
    assert_eq!(
        delivery(&mut app).await,
        pb::DeliveryState::Delivered as i32
    );
    // Delivery is not a change of the callback: its etag stays.
    let after = record(&mut app, attempt(&c, true, pb::CallbackOutcome::Satisfied)).await;
    assert_eq!(after.etag, "v4");
    assert_eq!(after.complaint_delivery, pb::DeliveryState::Pending as i32);
}

async fn callbacks_and_findings_past_their_deadlines_are_counted_as_overdue(backend: Backend) {
    let mut app = spawn_app(backend).await;
    let now = Utc::now();
    // Ended 3 days ago: due 2 days after, so a day overdue and still scheduled.
    let late = app
        .client
        .schedule_callback(schedule_request(
            pb::SubjectKind::Complaint,
            "cmp_late",
            "cev_late",
            now - TimeDelta::days(3),
        ))
        .await
        .unwrap()
        .into_inner()
        .callback
        .unwrap();
    assert_eq!(late.state, pb::CallbackState::Scheduled as i32);
    // Ended an hour ago: not due yet.
    complaint_callback(&mut app, "cmp_fresh").await;
    // Ended 5 days ago, called back 4 days ago, unhappy with a finding: fixed by 2 days ago,
    // so the finding is overdue (the callback itself is done).
    let found = app
        .client
        .schedule_callback(schedule_request(
            pb::SubjectKind::FieldJob,
            "fjb_1",
            "vev_1",
            now - TimeDelta::days(5),
        ))
        .await
        .unwrap()
        .into_inner()
        .callback
        .unwrap();
    let mut request = attempt(&found, true, pb::CallbackOutcome::Unsatisfied);
    request.attempt_time = ts(now - TimeDelta::days(4));
    request.findings = vec![pb::FindingInput {
        description: "the cabinet door was left open".into(),
        owner_agent_id: "eng-2".into(),
    }];
    let found = record(&mut app, request).await;
    assert_eq!(found.state, pb::CallbackState::Completed as i32);

    let metrics = csops_observability::Metrics::new();
    let gauges = csops_feedback::sweep::Gauges::register(&metrics);
    let swept = csops_feedback::sweep::sweep_once(&app.core, &gauges)
        .await
        .unwrap();
    assert_eq!((swept.callbacks_overdue, swept.findings_overdue), (1, 1));
    let text = metrics.encode();
    assert!(
        text.contains("csops_feedback_callbacks_overdue 1"),
        "{text}"
    );
    assert!(text.contains("csops_feedback_findings_overdue 1"), "{text}");

    // The finding fixed and the late callback made: nothing overdue.
    app.client
        .fix_callback_finding(pb::FixCallbackFindingRequest {
            callback_id: found.id.clone(),
            finding_id: found.findings[0].id.clone(),
            fix_note: "closed and locked the door".into(),
            actor: agent("eng-2"),
            ..Default::default()
        })
        .await
        .unwrap();
    record(
        &mut app,
        attempt(&late, true, pb::CallbackOutcome::Satisfied),
    )
    .await;
    let swept = csops_feedback::sweep::sweep_once(&app.core, &gauges)
        .await
        .unwrap();
    assert_eq!((swept.callbacks_overdue, swept.findings_overdue), (0, 0));
}

csops_testkit::on_both_backends!(
    a_repeated_event_returns_the_first_callback_and_listing_pages_by_due_time,
    a_satisfied_answer_before_the_deadline_completes_and_lets_the_complaint_close,
    three_unreached_attempts_end_the_callback_unreachable,
    an_unsatisfied_answer_with_a_finding_leaves_a_reopen_event_for_complaints,
    fixing_a_finding_marks_it_fixed_once,
    a_stale_etag_answers_aborted,
    a_retried_attempt_with_the_same_request_id_is_recorded_once,
    bad_input_answers_invalid_argument_naming_the_field,
    an_unknown_callback_answers_not_found,
    delivery_shows_delivered_only_once_the_newest_event_was_accepted,
    callbacks_and_findings_past_their_deadlines_are_counted_as_overdue,
);
