//! Unit tests of the field job's moves, clocks and consent, and a proptest of its machine.
#![allow(clippy::unwrap_used)]

use chrono::TimeZone;
use csops_sla::Policy;
use proptest::prelude::*;

use super::*;
use crate::domain::{Outgoing, Role};

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 2, 2, 0, 0).unwrap()
}

fn engineer() -> Actor {
    Actor {
        id: "eng-1".into(),
        role: Role::Engineer,
    }
}

fn customer(key_account: bool, region: Region) -> JobCustomer {
    JobCustomer {
        tier: Tier::B,
        key_account,
        region,
        defaulted: false,
    }
}

fn job_for(kind: FieldJobKind, who: JobCustomer, dispatch: Option<DateTime<Utc>>) -> FieldJob {
    FieldJob::new(
        "fjb_1".into(),
        NewFieldJob {
            customer_id: "cus_1".into(),
            kind,
            description: "install fibre".into(),
            site: String::new(),
            complaint_id: String::new(),
            engineer_id: "eng-1".into(),
            accept_time: None,
            dispatch_time: dispatch,
        },
        who,
        &Policy::default_presets(),
        engineer(),
        t0(),
    )
    .unwrap()
}

fn job() -> FieldJob {
    job_for(FieldJobKind::Repair, customer(false, Region::Urban), None)
}

fn target(job: &FieldJob, kind: ClockKind) -> TimeDelta {
    job.clock(kind).unwrap().clock.spec().target
}

fn window(now: DateTime<Utc>) -> WindowInput {
    WindowInput {
        start: now + TimeDelta::hours(1),
        end: now + TimeDelta::hours(3),
        agreed_with_customer: "phone call 10:12".into(),
    }
}

fn extra(now: DateTime<Utc>) -> ExtraWorkInput {
    ExtraWorkInput {
        description: "replace the corroded junction box".into(),
        cost_minor: 12_000,
        currency_code: "CNY".into(),
        extra_time: Some(TimeDelta::minutes(40)),
        estimated_completion_time: now + TimeDelta::hours(2),
        replaced_parts: ReplacedParts::CustomerKeeps,
    }
}

fn answer(granted: bool) -> ConsentInput {
    ConsentInput {
        granted,
        method: ConsentMethod::SignedForm,
        signer_name: "Wang Fang".into(),
        evidence_ref: "F-2026-118".into(),
        consent_time: None,
    }
}

fn done() -> CompletionInput {
    CompletionInput {
        summary: "box replaced, line tested".into(),
        complete_time: None,
        customer_signed_off: true,
        charged_minor: 12_000,
        currency_code: "CNY".into(),
    }
}

/// A job on site and working, an hour after creation.
fn working() -> (FieldJob, DateTime<Utc>) {
    let mut j = job();
    let now = t0() + TimeDelta::minutes(10);
    j.agree_window(window(now), &engineer(), now).unwrap();
    let now = now + TimeDelta::hours(1);
    j.arrive(None, now).unwrap();
    j.start("explained the repair and its cost".into(), now)
        .unwrap();
    (j, now)
}

#[test]
fn the_completion_limit_follows_the_kind_the_region_and_the_key_account() {
    let urban = customer(false, Region::Urban);
    let rural = customer(false, Region::Rural);
    let key = customer(true, Region::Urban);
    let install = |who| {
        target(
            &job_for(FieldJobKind::Installation, who, None),
            ClockKind::Completion,
        )
    };
    assert_eq!(install(urban), TimeDelta::days(28));
    assert_eq!(install(rural), TimeDelta::days(38));
    assert_eq!(install(key), TimeDelta::days(14));
    assert_eq!(
        target(
            &job_for(FieldJobKind::Move, rural, None),
            ClockKind::Completion
        ),
        TimeDelta::days(38)
    );
    for kind in [FieldJobKind::Reconnection, FieldJobKind::BusinessChange] {
        assert_eq!(
            target(&job_for(kind, urban, None), ClockKind::Completion),
            TimeDelta::hours(24)
        );
    }
    assert_eq!(
        target(
            &job_for(FieldJobKind::Repair, rural, None),
            ClockKind::Completion
        ),
        TimeDelta::hours(72)
    );
    assert_eq!(
        target(
            &job_for(FieldJobKind::Maintenance, urban, None),
            ClockKind::Completion
        ),
        TimeDelta::days(7)
    );
    // Unreachable customers service: the most demanding facts.
    assert_eq!(
        install(JobCustomer::demanding_defaults()),
        TimeDelta::days(14)
    );
}

#[test]
fn first_contact_is_an_hour_from_acceptance_or_half_an_hour_from_a_dispatch() {
    let j = job();
    let c = j.clock(ClockKind::FirstContact).unwrap();
    assert_eq!(c.clock.spec().target, TimeDelta::hours(1));
    assert_eq!(c.clock.spec().promise, Promise::FirstContact);
    let dispatched = t0() - TimeDelta::minutes(1);
    let mut input = NewFieldJob {
        customer_id: "cus_1".into(),
        kind: FieldJobKind::Repair,
        description: "repair".into(),
        site: String::new(),
        complaint_id: String::new(),
        engineer_id: "eng-1".into(),
        accept_time: Some(t0() - TimeDelta::minutes(5)),
        dispatch_time: Some(dispatched),
    };
    let d = FieldJob::new(
        "fjb_2".into(),
        input.clone(),
        customer(false, Region::Urban),
        &Policy::default_presets(),
        engineer(),
        t0(),
    )
    .unwrap();
    let c = d.clock(ClockKind::FirstContact).unwrap();
    assert_eq!(c.clock.spec().promise, Promise::DispatchContact);
    assert_eq!(c.clock.started_at(), dispatched);
    input.dispatch_time = Some(t0() - TimeDelta::minutes(6));
    let err = FieldJob::new(
        "fjb_3".into(),
        input,
        customer(false, Region::Urban),
        &Policy::default_presets(),
        engineer(),
        t0(),
    )
    .unwrap_err();
    assert!(matches!(err, RuleError::Invalid(v) if v.0[0].field == "job.dispatch_time"));
}

#[test]
fn agreeing_a_window_stops_first_contact_and_moving_it_keeps_the_earlier_one() {
    let mut j = job();
    let now = t0() + TimeDelta::minutes(20);
    j.agree_window(window(now), &engineer(), now).unwrap();
    assert_eq!(j.state, FieldJobState::WindowAgreed);
    let policy = Policy::default_presets();
    let fc = j.clock(ClockKind::FirstContact).unwrap();
    assert_eq!(status(&policy, &fc.clock, now).state, csops_sla::State::Met);
    let later = now + TimeDelta::hours(1);
    let mut moved = window(later + TimeDelta::days(1));
    moved.agreed_with_customer = " ".into();
    let err = j
        .agree_window(moved.clone(), &engineer(), later)
        .unwrap_err();
    assert!(matches!(err, RuleError::Invalid(v) if v.0[0].field == "window.agreed_with_customer"));
    moved.agreed_with_customer = "sms reply".into();
    j.agree_window(moved, &engineer(), later).unwrap();
    assert_eq!(j.previous_windows.len(), 1);
    assert_eq!(
        j.previous_windows[0].agreed_with_customer,
        "phone call 10:12"
    );
    assert_eq!(
        j.agreed_window.as_ref().unwrap().agreed_with_customer,
        "sms reply"
    );
    // The first-contact clock stays met at its first stop.
    let fc = j.clock(ClockKind::FirstContact).unwrap();
    assert_eq!(fc.clock.ending(), Some(csops_sla::Ending::Stopped(now)));
}

#[test]
fn arrival_records_whether_it_fell_inside_the_window() {
    let mut j = job();
    let now = t0() + TimeDelta::minutes(10);
    j.agree_window(window(now), &engineer(), now).unwrap();
    let mut late = j.clone();
    j.arrive(Some(now + TimeDelta::hours(2)), now + TimeDelta::hours(2))
        .unwrap();
    assert!(j.arrived_on_time);
    late.arrive(None, now + TimeDelta::hours(4)).unwrap();
    assert!(!late.arrived_on_time);
    assert_eq!(late.state, FieldJobState::Arrived);
}

#[test]
fn a_refused_transition_names_the_current_and_the_allowed_states() {
    let mut j = job();
    let err = j.arrive(None, t0()).unwrap_err();
    let RuleError::Precondition(m) = err else {
        panic!("{err:?}")
    };
    assert!(
        m.contains("is created")
            && m.contains("window_agreed, cancelled")
            && m.contains("not arrived"),
        "{m}"
    );
    j.cancel("customer withdrew the order".into(), &engineer(), t0())
        .unwrap();
    let err = j.cancel("again".into(), &engineer(), t0()).unwrap_err();
    assert!(matches!(err, RuleError::Precondition(m) if m.contains("no other state")));
    assert!(j.clocks.iter().all(|c| c.clock.ending().is_some()));
}

#[test]
fn pending_extra_work_blocks_completion_until_the_customer_answers() {
    let (mut j, now) = working();
    let work = j.propose_extra_work(extra(now), &engineer(), now).unwrap();
    assert_eq!(work.consent_state, ConsentState::Pending);
    assert!(j.consent_pending());
    let err = j.complete(done(), &engineer(), now).unwrap_err();
    assert!(
        matches!(&err, RuleError::Precondition(m) if m.contains(&work.id)),
        "{err:?}"
    );
    let mut no_evidence = answer(true);
    no_evidence.evidence_ref = String::new();
    let err = j
        .record_consent(&work.id, no_evidence, &engineer(), now)
        .unwrap_err();
    assert!(matches!(err, RuleError::Invalid(v) if v.0[0].field == "consent.evidence_ref"));
    j.record_consent(&work.id, answer(true), &engineer(), now)
        .unwrap();
    assert!(!j.consent_pending());
    let err = j
        .record_consent(&work.id, answer(false), &engineer(), now)
        .unwrap_err();
    assert!(matches!(err, RuleError::Precondition(m) if m.contains("granted")));
    let events = j
        .complete(done(), &engineer(), now + TimeDelta::minutes(30))
        .unwrap();
    assert_eq!(j.state, FieldJobState::Completed);
    assert!(matches!(
        &events[0],
        Outgoing::ScheduleCallback { field_job_id, .. } if field_job_id == "fjb_1"
    ));
    assert!(matches!(
        &events[1],
        Outgoing::Activity { kind, subject_kind, .. }
            if kind == "field_job_completed" && subject_kind == "field_job"
    ));
    let policy = Policy::default_presets();
    for c in &j.clocks {
        assert_eq!(
            status(&policy, &c.clock, now + TimeDelta::days(9)).state,
            csops_sla::State::Met
        );
    }
}

#[test]
fn extra_work_is_proposed_only_in_progress_with_an_estimate_ahead() {
    let mut j = job();
    let err = j
        .propose_extra_work(extra(t0()), &engineer(), t0())
        .unwrap_err();
    assert!(matches!(err, RuleError::Precondition(m) if m.contains("in_progress")));
    let (mut j, now) = working();
    let mut past = extra(now);
    past.estimated_completion_time = now;
    past.currency_code = String::new();
    let err = j.propose_extra_work(past, &engineer(), now).unwrap_err();
    let RuleError::Invalid(v) = err else { panic!() };
    let fields: Vec<_> = v.0.iter().map(|f| f.field.as_str()).collect();
    assert_eq!(
        fields,
        [
            "extra_work.currency_code",
            "extra_work.estimated_completion_time"
        ]
    );
}

#[test]
fn a_pause_keeps_the_customers_delay_out_of_the_completion_limit() {
    let policy = Policy::default_presets();
    let (mut j, now) = working();
    let before = status(&policy, &j.clock(ClockKind::Completion).unwrap().clock, now).deadline;
    j.pause(
        PauseReason::WaitingOnCustomer,
        "customer decides on the new router".into(),
        &engineer(),
        now,
    )
    .unwrap();
    assert_eq!(j.state, FieldJobState::Paused);
    assert_eq!(
        j.allowed(),
        vec![FieldJobState::InProgress, FieldJobState::Cancelled]
    );
    let err = j.complete(done(), &engineer(), now).unwrap_err();
    assert!(matches!(err, RuleError::Precondition(m) if m.contains("paused")));
    let later = now + TimeDelta::hours(5);
    j.resume(&engineer(), later).unwrap();
    assert_eq!(j.state, FieldJobState::InProgress);
    let after = status(
        &policy,
        &j.clock(ClockKind::Completion).unwrap().clock,
        later,
    )
    .deadline;
    assert_eq!(after - before, TimeDelta::hours(5));
    assert_eq!(j.pauses[0].resume_time, Some(later));
}

#[test]
fn a_clock_past_its_deadline_is_noted_breached_once() {
    let policy = Policy::default_presets();
    let mut j = job_for(
        FieldJobKind::Reconnection,
        customer(false, Region::Urban),
        None,
    );
    assert!(j.watch(&policy, t0() + TimeDelta::minutes(30)).is_empty());
    let next = j.next_check(&policy, t0()).unwrap();
    assert!(next > t0() && next <= t0() + TimeDelta::hours(1) + TimeDelta::seconds(1));
    let late = t0() + TimeDelta::hours(25);
    let noted = j.watch(&policy, late);
    assert_eq!(
        noted,
        vec!["first_contact-1".to_owned(), "completion-1".to_owned()]
    );
    assert!(j.breached());
    assert!(j.watch(&policy, late).is_empty());
    assert_eq!(j.next_check(&policy, late), None);
}

#[test]
fn a_stored_job_reads_back_equal() {
    let (mut j, now) = working();
    j.propose_extra_work(extra(now), &engineer(), now).unwrap();
    let json = serde_json::to_string(&j).unwrap();
    assert_eq!(serde_json::from_str::<FieldJob>(&json).unwrap(), j);
}

#[derive(Debug, Clone)]
enum Op {
    Agree(i64),
    Arrive,
    Start,
    Propose,
    Consent(usize, bool),
    Pause,
    Resume,
    Complete,
    Cancel,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => (0i64..600).prop_map(Op::Agree),
        3 => Just(Op::Arrive),
        3 => Just(Op::Start),
        2 => Just(Op::Propose),
        2 => (0usize..3, any::<bool>()).prop_map(|(i, g)| Op::Consent(i, g)),
        2 => Just(Op::Pause),
        2 => Just(Op::Resume),
        3 => Just(Op::Complete),
        1 => Just(Op::Cancel),
    ]
}

fn window_at(start: DateTime<Utc>) -> WindowInput {
    WindowInput {
        start,
        end: start + TimeDelta::hours(2),
        agreed_with_customer: "call".into(),
    }
}

/// Runs `ops` on a new job, `minutes` apart, checking the invariants after each.
fn run(ops: Vec<(Op, i64)>) -> Result<(), TestCaseError> {
    let policy = Policy::default_presets();
    let mut j = job();
    let mut now = t0();
    let e = engineer();
    for (op, minutes) in ops {
        now += TimeDelta::minutes(minutes);
        let before = j.clone();
        let result = match op {
            Op::Agree(start) => j.agree_window(window_at(now + TimeDelta::minutes(start)), &e, now),
            Op::Arrive => j.arrive(None, now),
            Op::Start => j.start("explained".into(), now),
            Op::Propose => j.propose_extra_work(extra(now), &e, now).map(|_| ()),
            Op::Consent(i, granted) => {
                j.record_consent(&format!("xw-{}", i + 1), answer(granted), &e, now)
            }
            Op::Pause => j.pause(PauseReason::ExternalDelay, "parts".into(), &e, now),
            Op::Resume => j.resume(&e, now),
            Op::Complete => j.complete(done(), &e, now).map(|_| ()),
            Op::Cancel => j.cancel("withdrawn".into(), &e, now),
        };
        match result {
            Err(_) => prop_assert_eq!(&j, &before),
            Ok(()) if j.state != before.state => {
                prop_assert!(
                    before.allowed().contains(&j.state),
                    "{:?} -> {:?}",
                    before.state,
                    j.state
                );
            }
            Ok(()) => {}
        }
        j.watch(&policy, now);
        if j.state == FieldJobState::Completed {
            prop_assert!(!j.consent_pending());
        }
        let completion = &j.clock(ClockKind::Completion).unwrap().clock;
        prop_assert_eq!(completion.is_paused(), j.state == FieldJobState::Paused);
        let first_contact = &j.clock(ClockKind::FirstContact).unwrap().clock;
        prop_assert_eq!(
            first_contact.ending().is_none(),
            j.state == FieldJobState::Created
        );
        if !j.state.is_open() {
            prop_assert!(j.clocks.iter().all(|c| c.clock.ending().is_some()));
        }
        prop_assert!(j.previous_windows.is_empty() || j.agreed_window.is_some());
    }
    Ok(())
}

proptest! {
    /// Whatever callers do: a refused change leaves the job as it was, a state changes
    /// only along the machine, a completed job has no pending consent, the completion
    /// clock is paused exactly while the job is, and first contact counts only until a
    /// window is agreed.
    #[test]
    fn the_state_machine_and_the_clocks_stay_consistent(
        ops in proptest::collection::vec((op(), 0i64..240), 1..40)
    ) {
        run(ops)?;
    }
}
