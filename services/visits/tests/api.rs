//! The visits API as a client sees it, on SQLite and on a real PostgreSQL, with the real
//! customers service beside it: every scenario runs once per backend against servers on
//! random ports with fresh databases.
#![allow(clippy::unwrap_used, unreachable_pub)]

use std::time::Duration;

use chrono::{Datelike, NaiveDate, TimeZone, Utc};
use csops_observability::Metrics;
use csops_proto::customers::v1 as cpb;
use csops_proto::customers::v1::customers_service_client::CustomersServiceClient;
use csops_proto::visits::v1 as pb;
use csops_proto::visits::v1::visits_service_client::VisitsServiceClient;
use csops_runtime::time::to_timestamp;
use csops_runtime::Settings;
use csops_testkit::server::Running;
use csops_testkit::Backend;
use csops_visits::{App, Config};
use tonic::transport::Channel;
use tonic::Code;
use tonic_types::StatusExt;

struct Suite {
    visits: VisitsServiceClient<Channel>,
    customers: CustomersServiceClient<Channel>,
    core: std::sync::Arc<csops_visits::app::Visits>,
    _servers: Vec<Running>,
    _dir: tempfile::TempDir,
}

async fn start(backend: Backend) -> Suite {
    let dir = tempfile::tempdir().unwrap();
    let customers_db = backend.database_url(dir.path(), "customers").await;
    let customers =
        csops_customers::App::build(&Settings::for_tests(&customers_db), Metrics::new())
            .await
            .unwrap();
    let customers_addr = customers.local_addr();
    let customers = Running::spawn(customers_addr, |stop| async move {
        customers.run_until_stopped(stop).await.unwrap();
    });
    let visits_db = backend.database_url(dir.path(), "visits").await;
    let config = Config::for_tests(&format!("http://{customers_addr}"), "");
    let app = App::build(&Settings::for_tests(&visits_db), config, Metrics::new())
        .await
        .unwrap();
    let core = app.core();
    let addr = app.local_addr();
    let visits = Running::spawn(addr, |stop| async move {
        app.run_until_stopped(stop).await.unwrap();
    });
    Suite {
        visits: VisitsServiceClient::connect(format!("http://{addr}"))
            .await
            .unwrap(),
        customers: CustomersServiceClient::connect(format!("http://{customers_addr}"))
            .await
            .unwrap(),
        core,
        _servers: vec![visits, customers],
        _dir: dir,
    }
}

fn actor() -> Option<pb::Actor> {
    Some(pb::Actor {
        id: "agent-1".into(),
        role: pb::ActorRole::Agent as i32,
    })
}

fn rid() -> String {
    uuid::Uuid::new_v4().to_string()
}

async fn customer(
    s: &mut Suite,
    tier: cpb::CustomerTier,
    f: impl FnOnce(&mut cpb::Customer),
) -> cpb::Customer {
    let mut c = cpb::Customer {
        display_name: "Wang Fang".into(),
        tier: tier as i32,
        region: cpb::Region::Urban as i32,
        owner_agent_id: "agent-1".into(),
        ..Default::default()
    };
    f(&mut c);
    s.customers
        .create_customer(cpb::CreateCustomerRequest {
            customer: Some(c),
            request_id: rid(),
            actor_id: "agent-1".into(),
        })
        .await
        .unwrap()
        .into_inner()
        .customer
        .unwrap()
}

async fn create_plan(s: &mut Suite, customer_id: &str) -> pb::VisitPlan {
    s.visits
        .create_visit_plan(pb::CreateVisitPlanRequest {
            plan: Some(pb::VisitPlan {
                customer_id: customer_id.into(),
                ..Default::default()
            }),
            request_id: rid(),
            actor: actor(),
        })
        .await
        .unwrap()
        .into_inner()
        .plan
        .unwrap()
}

async fn plan_visits(s: &mut Suite, plan_id: &str, states: &[pb::VisitState]) -> Vec<pb::Visit> {
    let mut out = Vec::new();
    let mut token = String::new();
    loop {
        let page = s
            .visits
            .list_visits(pb::ListVisitsRequest {
                page_size: 7,
                page_token: token.clone(),
                plan_id: plan_id.into(),
                states: states.iter().map(|s| *s as i32).collect(),
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner();
        out.extend(page.visits);
        if page.next_page_token.is_empty() {
            return out;
        }
        token = page.next_page_token;
    }
}

/// The day something due at `t` is due on (due times are the end of that day).
fn local_date(t: &prost_types::Timestamp) -> NaiveDate {
    Utc.timestamp_opt(t.seconds - 1, 0)
        .unwrap()
        .with_timezone(&chrono_tz::Asia::Shanghai)
        .date_naive()
}

fn violations(status: &tonic::Status) -> Vec<String> {
    assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
    status
        .get_details_bad_request()
        .expect("BadRequest details")
        .field_violations
        .into_iter()
        .map(|v| v.field)
        .collect()
}

fn is_working_day(d: NaiveDate) -> bool {
    let policy = csops_sla::Policy::default_presets();
    let cal = policy.calendar(&policy.visits().calendar).unwrap();
    cal.is_working_day(d)
}

async fn a_b_and_c_customers_get_weekly_monthly_and_two_monthly_visits_on_working_days(
    backend: Backend,
) {
    let mut s = start(backend).await;
    let mut gaps = Vec::new();
    for tier in [
        cpb::CustomerTier::A,
        cpb::CustomerTier::B,
        cpb::CustomerTier::C,
    ] {
        let c = customer(&mut s, tier, |_| {}).await;
        let plan = create_plan(&mut s, &c.id).await;
        assert_eq!(plan.tier, tier as i32);
        assert!(!plan.defaulted);
        let visits = plan_visits(&mut s, &plan.id, &[pb::VisitState::Planned]).await;
        assert!(!visits.is_empty(), "{tier:?}");
        let dates: Vec<NaiveDate> = visits
            .iter()
            .map(|v| local_date(v.due_time.as_ref().unwrap()))
            .collect();
        for d in &dates {
            assert!(is_working_day(*d), "{tier:?}: {d} is not a working day");
        }
        // Never met in person: the first visit is in person.
        assert_eq!(visits[0].method, pb::VisitMethod::InPerson as i32);
        assert_eq!(plan.next_visit_id, visits[0].id);
        // A friendly visit, never a sales call.
        assert!(visits
            .iter()
            .all(|v| v.purpose == pb::VisitPurpose::Relationship as i32));
        gaps.push((tier, dates));
    }
    let today = Utc::now()
        .with_timezone(&chrono_tz::Asia::Shanghai)
        .date_naive();
    // Within the 90-day horizon: A about 12-13 weekly visits, B 3, C 1-2; each nominal date is
    // today plus whole weeks or calendar months, moved at most a few days earlier to a working day.
    let (_, a) = &gaps[0];
    assert!((11..=13).contains(&a.len()), "A: {a:?}");
    for (i, d) in a.iter().enumerate() {
        let nominal = today + chrono::Days::new(7 * (i as u64 + 1));
        assert!(
            *d <= nominal && (nominal - *d).num_days() <= 9,
            "A visit {i}: {d} vs {nominal}"
        );
    }
    let (_, b) = &gaps[1];
    assert_eq!(b.len(), 3, "B: {b:?}");
    for (i, d) in b.iter().enumerate() {
        let nominal = today
            .checked_add_months(chrono::Months::new(i as u32 + 1))
            .unwrap();
        assert!(
            *d <= nominal && (nominal - *d).num_days() <= 9,
            "B visit {i}: {d} vs {nominal}"
        );
    }
    let (_, c) = &gaps[2];
    let nominal = today.checked_add_months(chrono::Months::new(2)).unwrap();
    assert!(
        c[0] <= nominal && (nominal - c[0]).num_days() <= 9,
        "C: {c:?}"
    );
}

async fn a_tier_change_event_replans_without_duplicates_and_a_repeat_changes_nothing(
    backend: Backend,
) {
    let mut s = start(backend).await;
    let c = customer(&mut s, cpb::CustomerTier::C, |_| {}).await;
    let plan = create_plan(&mut s, &c.id).await;
    let before = plan_visits(&mut s, &plan.id, &[pb::VisitState::Planned]).await;
    let event = pb::ApplyCustomerChangeRequest {
        source_event_id: "cev_tier_1".into(),
        change: pb::CustomerChangeKind::Updated as i32,
        customer: Some(pb::CustomerFile {
            customer_id: c.id.clone(),
            tier: pb::CustomerTier::A as i32,
            key_account: false,
            region: pb::Region::Urban as i32,
            owner_agent_id: "agent-1".into(),
            important_dates: vec![],
            consented_channels: vec![],
            archived: false,
            update_time: Some(to_timestamp(Utc::now())),
        }),
        actor: Some(pb::Actor {
            id: "customers".into(),
            role: pb::ActorRole::System as i32,
        }),
    };
    let first = s
        .visits
        .apply_customer_change(event.clone())
        .await
        .unwrap()
        .into_inner();
    assert!(!first.duplicate);
    assert_eq!(
        first.plan.as_ref().unwrap().tier,
        pb::CustomerTier::A as i32
    );
    let after = plan_visits(&mut s, &plan.id, &[pb::VisitState::Planned]).await;
    assert!(
        after.len() > before.len() + 5,
        "weekly now: {} -> {}",
        before.len(),
        after.len()
    );
    // The C visit was moved to the first weekly date, not duplicated.
    assert!(after.iter().any(|v| v.id == before[0].id));
    let mut dates: Vec<_> = after.iter().map(|v| v.due_time.unwrap().seconds).collect();
    dates.dedup();
    assert_eq!(dates.len(), after.len(), "two visits on one day");
    // The same event again: nothing changes.
    let again = s
        .visits
        .apply_customer_change(event)
        .await
        .unwrap()
        .into_inner();
    assert!(again.duplicate);
    assert_eq!(again.plan.unwrap().etag, first.plan.unwrap().etag);
    assert_eq!(
        plan_visits(&mut s, &plan.id, &[pb::VisitState::Planned])
            .await
            .len(),
        after.len()
    );
    // Archived: the plan closes and its planned visits are cancelled; done ones stay.
    let mut closing = pb::ApplyCustomerChangeRequest {
        source_event_id: "cev_tier_2".into(),
        change: pb::CustomerChangeKind::Archived as i32,
        ..Default::default()
    };
    let mut file = again_file(&c.id);
    file.archived = true;
    closing.customer = Some(file);
    closing.actor = actor();
    let closed = s
        .visits
        .apply_customer_change(closing)
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        closed.plan.unwrap().state,
        pb::VisitPlanState::Closed as i32
    );
    assert!(plan_visits(&mut s, &plan.id, &[pb::VisitState::Planned])
        .await
        .is_empty());
}

fn again_file(customer_id: &str) -> pb::CustomerFile {
    pb::CustomerFile {
        customer_id: customer_id.into(),
        tier: pb::CustomerTier::A as i32,
        region: pb::Region::Urban as i32,
        update_time: Some(to_timestamp(Utc::now())),
        ..Default::default()
    }
}

async fn a_family_birthday_coming_up_becomes_a_care_task_by_a_consented_channel(backend: Backend) {
    let mut s = start(backend).await;
    let soon = Utc::now()
        .with_timezone(&chrono_tz::Asia::Shanghai)
        .date_naive()
        + chrono::Days::new(2);
    let family = |c: &mut cpb::Customer, consents: &[cpb::ContactChannel]| {
        c.important_dates = vec![cpb::ImportantDate {
            kind: cpb::ImportantDateKind::Birthday as i32,
            relation: cpb::Relation::Child as i32,
            person_name: "Xiaomei".into(),
            month: soon.month() as i32,
            day: soon.day() as i32,
            year: 2018,
            note: String::new(),
        }];
        c.consents = consents
            .iter()
            .map(|ch| cpb::ChannelConsent {
                channel: *ch as i32,
                granted: true,
                update_time: None,
            })
            .collect();
    };
    let with_post = customer(&mut s, cpb::CustomerTier::B, |c| {
        family(c, &[cpb::ContactChannel::Sms, cpb::ContactChannel::Post]);
    })
    .await;
    let with_nothing = customer(&mut s, cpb::CustomerTier::B, |c| family(c, &[])).await;
    for c in [&with_post, &with_nothing] {
        create_plan(&mut s, &c.id).await;
    }
    let care = |id: String| pb::ListCareEventsRequest {
        customer_id: id,
        occasions: vec![pb::OccasionKind::FamilyBirthday as i32],
        ..Default::default()
    };
    let events = s
        .visits
        .list_care_events(care(with_post.id.clone()))
        .await
        .unwrap()
        .into_inner()
        .care_events;
    assert_eq!(events.len(), 1, "{events:?}");
    let e = &events[0];
    assert_eq!(e.occasion_date, soon.to_string());
    assert_eq!(e.title, "Xiaomei");
    assert_eq!(e.relation, pb::Relation::Child as i32);
    assert_eq!(e.state, pb::CareEventState::Upcoming as i32);
    // A card by post: consented, and preferred to an SMS for a family birthday.
    assert_eq!(e.suggested_method, pb::VisitMethod::LetterCard as i32);
    let visit = s
        .visits
        .get_visit(pb::GetVisitRequest {
            visit_id: e.visit_id.clone(),
        })
        .await
        .unwrap()
        .into_inner()
        .visit
        .unwrap();
    assert_eq!(visit.method, pb::VisitMethod::LetterCard as i32);
    assert_eq!(visit.purpose, pb::VisitPurpose::CareGreeting as i32);
    assert_eq!(local_date(visit.due_time.as_ref().unwrap()), soon);
    // No consent: no contact; the occasion is recorded as skipped, with why.
    let none = s
        .visits
        .list_care_events(care(with_nothing.id.clone()))
        .await
        .unwrap()
        .into_inner()
        .care_events;
    assert_eq!(none.len(), 1);
    assert_eq!(none[0].state, pb::CareEventState::Skipped as i32);
    assert_eq!(
        none[0].suggested_method,
        pb::VisitMethod::Unspecified as i32
    );
    assert!(none[0].visit_id.is_empty());
    assert!(none[0].skip_reason.contains("consent"));
    // Completing the card marks the occasion done.
    let done = complete(&mut s, &visit.id).await;
    assert_eq!(done.state, pb::VisitState::Completed as i32);
    let events = s
        .visits
        .list_care_events(care(with_post.id.clone()))
        .await
        .unwrap()
        .into_inner()
        .care_events;
    assert_eq!(events[0].state, pb::CareEventState::Done as i32);
}

async fn complete(s: &mut Suite, visit_id: &str) -> pb::Visit {
    s.visits
        .complete_visit(pb::CompleteVisitRequest {
            visit_id: visit_id.into(),
            outcome: Some(pb::VisitOutcome {
                visit_time: Some(to_timestamp(Utc::now() - chrono::TimeDelta::minutes(5))),
                summary: "talked about the new tariff; happy".into(),
                needs_found: vec!["faster broadband at home".into()],
                mood: pb::CustomerMood::Positive as i32,
                ..Default::default()
            }),
            actor: actor(),
            etag: String::new(),
        })
        .await
        .unwrap()
        .into_inner()
        .visit
        .unwrap()
}

async fn manual_visit(s: &mut Suite, customer_id: &str, agent: &str) -> pb::Visit {
    s.visits
        .create_visit(pb::CreateVisitRequest {
            visit: Some(pb::Visit {
                customer_id: customer_id.into(),
                care_kind: pb::CareKind::Unscheduled as i32,
                purpose: pb::VisitPurpose::Information as i32,
                method: pb::VisitMethod::InPerson as i32,
                assigned_agent_id: agent.into(),
                due_time: Some(to_timestamp(Utc::now() + chrono::TimeDelta::days(3))),
                ..Default::default()
            }),
            request_id: rid(),
            actor: actor(),
        })
        .await
        .unwrap()
        .into_inner()
        .visit
        .unwrap()
}

async fn a_double_booked_agent_is_refused_naming_the_clash(backend: Backend) {
    let mut s = start(backend).await;
    let c = customer(&mut s, cpb::CustomerTier::B, |_| {}).await;
    let first = manual_visit(&mut s, &c.id, "agent-7").await;
    let second = manual_visit(&mut s, &c.id, "agent-7").await;
    let at = Utc::now() + chrono::TimeDelta::days(2);
    let schedule = |id: &str, from: chrono::DateTime<Utc>| pb::ScheduleVisitRequest {
        visit_id: id.into(),
        start_time: Some(to_timestamp(from)),
        end_time: Some(to_timestamp(from + chrono::TimeDelta::hours(1))),
        actor: actor(),
        etag: String::new(),
    };
    let booked = s
        .visits
        .schedule_visit(schedule(&first.id, at))
        .await
        .unwrap()
        .into_inner()
        .visit
        .unwrap();
    assert_eq!(booked.state, pb::VisitState::Scheduled as i32);
    let clash = s
        .visits
        .schedule_visit(schedule(&second.id, at + chrono::TimeDelta::minutes(30)))
        .await
        .unwrap_err();
    assert_eq!(clash.code(), Code::FailedPrecondition, "{clash:?}");
    assert!(clash.message().contains(&first.id), "{}", clash.message());
    // Right after the first one ends is fine; moving the first one does not clash with itself.
    s.visits
        .schedule_visit(schedule(&second.id, at + chrono::TimeDelta::hours(1)))
        .await
        .unwrap();
    s.visits
        .schedule_visit(schedule(&first.id, at - chrono::TimeDelta::minutes(30)))
        .await
        .unwrap();
    // The agenda shows both, and the day's load.
    let agenda = s
        .visits
        .get_agenda(pb::GetAgendaRequest {
            assignee_id: "agent-7".into(),
            start_time: Some(to_timestamp(Utc::now())),
            end_time: Some(to_timestamp(Utc::now() + chrono::TimeDelta::days(7))),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(agenda.visits.len(), 2);
    assert_eq!(agenda.load.iter().map(|d| d.booked).sum::<i32>(), 2);
    assert!(agenda.load.iter().all(|d| d.limit == 8));
}

async fn a_complaint_visit_is_created_once_per_event_in_person_for_the_plan_owner(
    backend: Backend,
) {
    let mut s = start(backend).await;
    let c = customer(&mut s, cpb::CustomerTier::A, |c| {
        c.key_account = true;
        c.owner_agent_id = "am-9".into();
    })
    .await;
    create_plan(&mut s, &c.id).await;
    let ask = pb::RequestComplaintVisitRequest {
        complaint_id: "cmp_1".into(),
        customer_id: c.id.clone(),
        reason: pb::ComplaintVisitReason::KeyAccount as i32,
        due_time: Some(to_timestamp(Utc::now() + chrono::TimeDelta::days(2))),
        assigned_agent_id: String::new(),
        description: String::new(),
        source_event_id: "evt_cmp_1".into(),
        actor: Some(pb::Actor {
            id: "complaints".into(),
            role: pb::ActorRole::System as i32,
        }),
    };
    let first = s
        .visits
        .request_complaint_visit(ask.clone())
        .await
        .unwrap()
        .into_inner();
    assert!(!first.duplicate);
    let visit = first.visit.unwrap();
    assert_eq!(visit.method, pb::VisitMethod::InPerson as i32);
    assert_eq!(visit.purpose, pb::VisitPurpose::ComplaintFollowUp as i32);
    assert_eq!(visit.assigned_agent_id, "am-9");
    assert_eq!(visit.source.as_ref().unwrap().source_id, "cmp_1");
    let again = s
        .visits
        .request_complaint_visit(ask)
        .await
        .unwrap()
        .into_inner();
    assert!(again.duplicate);
    assert_eq!(again.visit.unwrap().id, visit.id);
    let all = s
        .visits
        .list_visits(pb::ListVisitsRequest {
            customer_id: c.id.clone(),
            purposes: vec![pb::VisitPurpose::ComplaintFollowUp as i32],
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .visits;
    assert_eq!(all.len(), 1);
}

async fn a_completed_visit_moves_the_plan_and_leaves_an_activity_for_feedback(backend: Backend) {
    let mut s = start(backend).await;
    let c = customer(&mut s, cpb::CustomerTier::B, |_| {}).await;
    let plan = create_plan(&mut s, &c.id).await;
    let first = plan.next_visit_id.clone();
    let done = complete(&mut s, &first).await;
    assert_eq!(
        done.outcome.as_ref().unwrap().needs_found,
        vec!["faster broadband at home"]
    );
    let plan = s
        .visits
        .get_visit_plan(pb::GetVisitPlanRequest {
            plan_id: plan.id.clone(),
        })
        .await
        .unwrap()
        .into_inner()
        .plan
        .unwrap();
    assert!(plan.last_visit_time.is_some());
    assert!(plan.last_in_person_visit_time.is_some());
    assert_ne!(plan.next_visit_id, first);
    // The activity waits in the outbox for feedback (not deployed in this test).
    let pending = csops_runtime::outbox::Outbox::new(s.core.store.pool().clone())
        .pending()
        .await
        .unwrap();
    assert!(
        pending
            .iter()
            .any(|p| p.destination == "feedback" && p.events == 1),
        "{pending:?}"
    );
}

async fn a_visit_past_its_due_time_and_grace_is_marked_missed_and_the_plan_overdue(
    backend: Backend,
) {
    let mut s = start(backend).await;
    let c = customer(&mut s, cpb::CustomerTier::B, |_| {}).await;
    let v = s
        .visits
        .create_visit(pb::CreateVisitRequest {
            visit: Some(pb::Visit {
                customer_id: c.id.clone(),
                care_kind: pb::CareKind::Unscheduled as i32,
                purpose: pb::VisitPurpose::SatisfactionCheck as i32,
                method: pb::VisitMethod::Phone as i32,
                assigned_agent_id: "agent-1".into(),
                due_time: Some(to_timestamp(Utc::now() - chrono::TimeDelta::days(3))),
                ..Default::default()
            }),
            request_id: rid(),
            actor: actor(),
        })
        .await
        .unwrap()
        .into_inner()
        .visit
        .unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        let now = s
            .visits
            .get_visit(pb::GetVisitRequest {
                visit_id: v.id.clone(),
            })
            .await
            .unwrap()
            .into_inner()
            .visit
            .unwrap();
        if now.state == pb::VisitState::Missed as i32 {
            assert!(!now.miss_reason.is_empty());
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "never marked missed"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Still completable, late.
    let late = complete(&mut s, &v.id).await;
    assert_eq!(late.state, pb::VisitState::Completed as i32);
}

async fn bad_input_names_the_field_and_a_stale_etag_is_aborted(backend: Backend) {
    let mut s = start(backend).await;
    let err = s
        .visits
        .create_visit(pb::CreateVisitRequest {
            visit: Some(pb::Visit {
                method: 42,
                due_time: Some(prost_types::Timestamp {
                    seconds: 1,
                    nanos: 0,
                }),
                ..Default::default()
            }),
            request_id: String::new(),
            actor: None,
        })
        .await
        .unwrap_err();
    let fields = violations(&err);
    for f in [
        "request_id",
        "actor",
        "visit.customer_id",
        "visit.method",
        "visit.care_kind",
        "visit.due_time",
    ] {
        assert!(fields.iter().any(|x| x == f), "{f} missing from {fields:?}");
    }
    let err = s
        .visits
        .get_visit_plan(pb::GetVisitPlanRequest {
            plan_id: "vpl_nope".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
    let missing = s
        .visits
        .create_visit_plan(pb::CreateVisitPlanRequest {
            plan: Some(pb::VisitPlan {
                customer_id: "cus_nope".into(),
                ..Default::default()
            }),
            request_id: rid(),
            actor: actor(),
        })
        .await
        .unwrap_err();
    assert_eq!(missing.code(), Code::FailedPrecondition, "{missing:?}");
    let c = customer(&mut s, cpb::CustomerTier::B, |_| {}).await;
    let plan = create_plan(&mut s, &c.id).await;
    let twice = s
        .visits
        .create_visit_plan(pb::CreateVisitPlanRequest {
            plan: Some(pb::VisitPlan {
                customer_id: c.id.clone(),
                ..Default::default()
            }),
            request_id: rid(),
            actor: actor(),
        })
        .await
        .unwrap_err();
    assert_eq!(twice.code(), Code::AlreadyExists);
    let pause = |etag: &str| pb::PauseVisitPlanRequest {
        plan_id: plan.id.clone(),
        reason: "customer abroad".into(),
        resume_time: None,
        actor: actor(),
        etag: etag.into(),
    };
    let paused = s
        .visits
        .pause_visit_plan(pause(&plan.etag))
        .await
        .unwrap()
        .into_inner()
        .plan
        .unwrap();
    assert_eq!(paused.state, pb::VisitPlanState::Paused as i32);
    assert!(plan_visits(&mut s, &plan.id, &[pb::VisitState::Planned])
        .await
        .is_empty());
    let stale = s
        .visits
        .pause_visit_plan(pause(&plan.etag))
        .await
        .unwrap_err();
    assert_eq!(stale.code(), Code::Aborted, "{stale:?}");
    let resumed = s
        .visits
        .resume_visit_plan(pb::ResumeVisitPlanRequest {
            plan_id: plan.id.clone(),
            actor: actor(),
            etag: paused.etag,
        })
        .await
        .unwrap()
        .into_inner()
        .plan
        .unwrap();
    assert_eq!(resumed.state, pb::VisitPlanState::Active as i32);
    assert!(!plan_visits(&mut s, &plan.id, &[pb::VisitState::Planned])
        .await
        .is_empty());
}

async fn a_full_replan_pages_through_every_customer(backend: Backend) {
    let mut s = start(backend).await;
    for _ in 0..5 {
        customer(&mut s, cpb::CustomerTier::C, |_| {}).await;
    }
    let first = s
        .visits
        .replan_visits(pb::ReplanVisitsRequest {
            page_size: 2,
            actor: actor(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!((first.customers_read, first.plans_created), (5, 5));
    let again = s
        .visits
        .replan_visits(pb::ReplanVisitsRequest {
            page_size: 2,
            actor: actor(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        (
            again.customers_read,
            again.plans_created,
            again.plans_changed
        ),
        (5, 0, 0)
    );
    let plans = s
        .visits
        .list_visit_plans(pb::ListVisitPlansRequest::default())
        .await
        .unwrap()
        .into_inner()
        .plans;
    assert_eq!(plans.len(), 5);
}

csops_testkit::on_both_backends!(
    a_b_and_c_customers_get_weekly_monthly_and_two_monthly_visits_on_working_days,
    a_tier_change_event_replans_without_duplicates_and_a_repeat_changes_nothing,
    a_family_birthday_coming_up_becomes_a_care_task_by_a_consented_channel,
    a_double_booked_agent_is_refused_naming_the_clash,
    a_complaint_visit_is_created_once_per_event_in_person_for_the_plan_owner,
    a_completed_visit_moves_the_plan_and_leaves_an_activity_for_feedback,
    a_visit_past_its_due_time_and_grace_is_marked_missed_and_the_plan_overdue,
    bad_input_names_the_field_and_a_stale_etag_is_aborted,
    a_full_replan_pages_through_every_customer,
);
