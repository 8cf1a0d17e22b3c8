//! Unit tests of the complaint aggregate: the moves, clocks, promises and compensation rules.
#![allow(clippy::unwrap_used)]

use chrono::{DateTime, TimeDelta, Utc};
use proptest::prelude::*;

use super::*;
use crate::domain::rules::{Rules, SensitiveEscalation};

/// 2026-02-25, a working Wednesday in Shanghai.
fn t0() -> DateTime<Utc> {
    DateTime::from_timestamp(1_772_000_000, 0).unwrap()
}

fn rules() -> Rules {
    Rules::new(csops_sla::Policy::default_presets())
}

fn agent() -> Actor {
    Actor {
        id: "agent-1".into(),
        role: Role::Agent,
    }
}

fn input() -> Input {
    Input {
        customer_id: "cus_1".into(),
        title: "router broken".into(),
        nature: Some(Nature::ProductQuality),
        severity: Some(Severity::Medium),
        channel: Some(Channel::Hotline),
        ..Input::default()
    }
}

fn snapshot(tier: Tier, key_account: bool, region: Region) -> Snapshot {
    Snapshot {
        tier,
        key_account,
        region,
        defaulted: false,
        fetch_time: Some(t0()),
    }
}

fn new_complaint() -> Complaint {
    let (c, _) = Complaint::create(
        "cmp_1".into(),
        input(),
        snapshot(Tier::C, false, Region::Rural),
        agent(),
        &rules(),
        t0(),
    )
    .unwrap();
    c
}

fn plan() -> Vec<PlanStep> {
    vec![PlanStep {
        description: "replace".into(),
        owner_id: "eng-1".into(),
        due_time: Some(t0() + TimeDelta::days(1)),
    }]
}

/// (kind, clock kind, agent) of the activities among outbox events, in order.
fn activities(outbox: &[OutboxEvent]) -> Vec<(ActivityKind, String, String)> {
    outbox
        .iter()
        .filter_map(|e| match &e.event {
            Outgoing::Activity {
                kind,
                clock_kind,
                agent_id,
                ..
            } => Some((*kind, clock_kind.clone(), agent_id.clone())),
            _ => None,
        })
        .collect()
}

#[derive(Debug, Clone, Copy)]
enum Action {
    Ack,
    Investigate,
    Propose,
    Accept,
    Reject,
    Resolve,
    Satisfied,
    Unsatisfied,
    Unreachable,
    Close,
    Reopen,
    Withdraw,
}

fn apply(
    c: &mut Complaint,
    a: Action,
    r: &Rules,
    now: DateTime<Utc>,
) -> Result<Effects, RuleError> {
    let who = agent();
    match a {
        Action::Ack => c.acknowledge("", None, &who, r, now),
        Action::Investigate => c.start_investigation("", &who, r, now),
        Action::Propose => c.propose_solution(vec!["swap".into()], plan(), &who, r, now),
        Action::Accept => c.decide_solution(true, "", &who, r, now),
        Action::Reject => c.decide_solution(false, "too slow", &who, r, now),
        Action::Resolve => c.resolve(
            ResolutionInput {
                summary: "swapped".into(),
                root_cause: "bad batch".into(),
                corrective_action: "check batch".into(),
                ..Default::default()
            },
            &who,
            r,
            now,
        ),
        Action::Satisfied => {
            c.record_callback(CallbackOutcome::Satisfied, "", None, "", &who, r, now)
        }
        Action::Unsatisfied => c.record_callback(
            CallbackOutcome::Unsatisfied,
            "still slow",
            None,
            "",
            &who,
            r,
            now,
        ),
        Action::Unreachable => {
            c.record_callback(CallbackOutcome::Unreachable, "", None, "", &who, r, now)
        }
        Action::Close => c.close("", &who, r, now),
        Action::Reopen => c.reopen(
            Some(ReopenReason::CustomerUnhappy),
            "still broken",
            &who,
            r,
            now,
        ),
        Action::Withdraw => c.withdraw("changed mind", &who, r, now),
    }
}

#[test]
fn a_complaint_goes_through_every_step_with_its_clocks() {
    let r = rules();
    let mut c = new_complaint();
    assert_eq!(c.clocks.len(), 2);
    let mut now = t0();
    let mut outbox = Vec::new();
    for a in [
        Action::Ack,
        Action::Investigate,
        Action::Propose,
        Action::Accept,
        Action::Resolve,
    ] {
        now += TimeDelta::minutes(1);
        outbox.extend(apply(&mut c, a, &r, now).unwrap().outbox);
    }
    assert_eq!(c.state, State::Resolved);
    let callbacks = outbox
        .iter()
        .filter(|e| matches!(e.event, Outgoing::ScheduleCallback { .. }))
        .count();
    assert_eq!(callbacks, 1, "resolution asks feedback for the callback");
    assert_eq!(
        activities(&outbox),
        [
            (
                ActivityKind::ClockMet,
                "FIRST_CONTACT".into(),
                "agent-1".into()
            ),
            (
                ActivityKind::ContactHandled,
                String::new(),
                "agent-1".into()
            ),
            (
                ActivityKind::ClockMet,
                "RESOLUTION".into(),
                "agent-1".into()
            ),
        ],
        "the first contact and the clocks' outcomes are reported"
    );
    assert_eq!(c.clocks.iter().filter(|k| k.is_open()).count(), 1);
    let _ = apply(
        &mut c,
        Action::Unsatisfied,
        &r,
        now + TimeDelta::nanoseconds(1_000),
    )
    .unwrap();
    assert_eq!(c.state, State::Reopened);
    assert_eq!(c.reopen_count, 1);
    assert!(c.clock("callback_fix-1").unwrap().is_open());
    for a in [
        Action::Investigate,
        Action::Propose,
        Action::Accept,
        Action::Resolve,
        Action::Satisfied,
        Action::Close,
    ] {
        now += TimeDelta::minutes(1);
        let _ = apply(&mut c, a, &r, now).unwrap();
    }
    assert_eq!(c.state, State::Closed);
    assert!(c.close_time.is_some());
    assert!(c.clocks.iter().all(|k| !k.is_open()));
}

#[test]
fn a_refused_transition_names_the_state_and_the_allowed_ones() {
    let r = rules();
    let mut c = new_complaint();
    let RuleError::Precondition(message) = apply(&mut c, Action::Resolve, &r, t0()).unwrap_err()
    else {
        panic!("precondition expected");
    };
    assert!(message.contains("RECEIVED"), "{message}");
    assert!(message.contains("ACKNOWLEDGED, WITHDRAWN"), "{message}");
}

#[test]
fn key_accounts_get_half_the_resolution_time_and_sensitive_traits_tighten_the_sla() {
    let r = rules();
    let (vip, vip_effects) = Complaint::create(
        "cmp_v".into(),
        input(),
        snapshot(Tier::A, true, Region::Urban),
        agent(),
        &r,
        t0(),
    )
    .unwrap();
    let plain = new_complaint();
    let target = |c: &Complaint| c.clock("resolution-1").unwrap().clock.spec().target;
    assert_eq!(target(&vip) * 2, target(&plain));
    let visits = vip_effects
        .outbox
        .iter()
        .filter(|e| matches!(e.event, Outgoing::RequestVisit { .. }))
        .count();
    assert_eq!(visits, 1, "a VIP complaint asks for a visit");
    assert_eq!(
        activities(&vip_effects.outbox),
        [(
            ActivityKind::ComplaintReceived,
            String::new(),
            "agent-1".into()
        )],
        "one activity per create: the complaint received"
    );
    let mut i = input();
    i.traits = vec![Trait::Media];
    let (media, _) = Complaint::create(
        "cmp_m".into(),
        i,
        snapshot(Tier::C, false, Region::Rural),
        agent(),
        &r,
        t0(),
    )
    .unwrap();
    assert_eq!(
        media.escalation_level,
        Level::Agent,
        "escalated when demands cannot be met, not at intake (seed 003)"
    );
    assert_eq!(media.priority(&r), Priority::High);
    assert!(
        target(&media) < target(&plain),
        "a media complainant tightens the SLA"
    );
}

#[test]
fn pausing_moves_the_deadline_out() {
    let r = rules();
    let mut c = new_complaint();
    let deadline = |c: &Complaint, now| {
        r.status(&c.clock("resolution-1").unwrap().clock, now)
            .deadline
    };
    let before = deadline(&c, t0());
    let _ = c
        .pause(
            Some(PauseReason::WaitingOnCustomer),
            "waiting for photos",
            &agent(),
            &r,
            t0() + TimeDelta::hours(1),
        )
        .unwrap();
    let _ = c
        .resume("", &agent(), &r, t0() + TimeDelta::hours(5))
        .unwrap();
    assert!(deadline(&c, t0() + TimeDelta::hours(5)) > before);
    assert!(matches!(
        c.resume("", &agent(), &r, t0() + TimeDelta::hours(6)),
        Err(RuleError::Precondition(_))
    ));
}

#[test]
fn the_watcher_breaches_once_and_escalates_along_the_chain() {
    let r = rules();
    let mut c = new_complaint();
    let late = t0() + TimeDelta::days(10);
    let effects = c.tick(&r, late);
    assert!(!effects.is_empty());
    assert_eq!(
        c.escalation_level,
        Level::Manager,
        "each breach escalates one level"
    );
    assert_eq!(effects.escalation_keys.len(), 2);
    let breaches = effects
        .sla_events
        .iter()
        .filter(|e| e.kind == SlaEventKind::Breached)
        .count();
    assert_eq!(breaches, 2, "first contact and resolution both breached");
    assert!(
        c.tick(&r, late + TimeDelta::nanoseconds(1_000)).is_empty(),
        "milestones are reported once"
    );
}

#[test]
fn compensation_beyond_authority_waits_for_a_supervisor() {
    let r = rules();
    let mut c = new_complaint();
    let (id, _) = c
        .propose_compensation(
            Some(CompensationKind::Refund),
            "refund",
            50_000,
            "CNY",
            &agent(),
            &r,
            t0(),
        )
        .unwrap();
    assert_eq!(c.compensations[0].state, CompensationState::PendingApproval);
    assert!(matches!(
        c.decide_compensation(&id, true, "", &agent(), &r, t0()),
        Err(RuleError::PermissionDenied(_))
    ));
    let sup = Actor {
        id: "sup-1".into(),
        role: Role::Supervisor,
    };
    let _ = c
        .decide_compensation(&id, true, "ok", &sup, &r, t0())
        .unwrap();
    assert_eq!(c.compensations[0].state, CompensationState::Approved);
}

#[test]
fn whoever_proposed_a_compensation_may_not_approve_it_whatever_the_role() {
    let r = rules();
    let mut c = new_complaint();
    let sup = Actor {
        id: "sup-1".into(),
        role: Role::Supervisor,
    };
    // A supervisor proposing beyond an agent's authority (here: beyond the supervisor's own).
    let (id, _) = c
        .propose_compensation(
            Some(CompensationKind::Refund),
            "refund",
            500_000,
            "CNY",
            &sup,
            &r,
            t0(),
        )
        .unwrap();
    assert_eq!(c.compensations[0].state, CompensationState::PendingApproval);
    let refused = c.decide_compensation(&id, true, "mine", &sup, &r, t0());
    assert!(
        matches!(&refused, Err(RuleError::PermissionDenied(why)) if why.contains("four eyes")),
        "{refused:?}"
    );
    let manager = Actor {
        id: "mgr-1".into(),
        role: Role::Manager,
    };
    let _ = c
        .decide_compensation(&id, true, "second pair of eyes", &manager, &r, t0())
        .unwrap();
    assert_eq!(c.compensations[0].state, CompensationState::Approved);
}

#[test]
fn a_note_returns_the_sequence_of_the_entry_it_appends() {
    let mut c = new_complaint();
    let before = c.timeline_seq;
    let (sequence, effects) = c.add_note("called twice", &agent(), t0()).unwrap();
    assert_eq!(sequence, before + 1);
    assert_eq!(c.timeline_seq, sequence);
    assert_eq!(effects.entries.len(), 1);
    assert_eq!(effects.entries[0].sequence, sequence);
    assert!(effects.sla_events.is_empty() && effects.outbox.is_empty());
}

fn action() -> impl Strategy<Value = Action> {
    prop_oneof![
        Just(Action::Ack),
        Just(Action::Investigate),
        Just(Action::Propose),
        Just(Action::Accept),
        Just(Action::Reject),
        Just(Action::Resolve),
        Just(Action::Satisfied),
        Just(Action::Unsatisfied),
        Just(Action::Unreachable),
        Just(Action::Close),
        Just(Action::Reopen),
        Just(Action::Withdraw),
    ]
}

proptest! {
    #[test]
    fn every_move_follows_the_machine_and_every_refusal_lists_the_allowed_states(actions in proptest::collection::vec(action(), 1..40)) {
        let r = rules();
        let mut c = new_complaint();
        let mut now = t0();
        for a in actions {
            now += TimeDelta::seconds(1);
            let before = c.state;
            let allowed = c.allowed_next(&r);
            match apply(&mut c, a, &r, now) {
                Ok(_) => prop_assert!(c.state == before || allowed.contains(&c.state), "{before:?} -> {:?}", c.state),
                Err(RuleError::Precondition(m)) => {
                    prop_assert_eq!(c.state, before);
                    prop_assert!(m.contains(&before.label()), "{}", m);
                    prop_assert!(m.contains("allowed next states"), "{}", m);
                }
                Err(other) => prop_assert!(false, "unexpected {other:?}"),
            }
        }
    }
}

#[test]
fn a_clock_born_breached_is_due_for_a_check_until_its_breach_is_reported() {
    let r = rules();
    let (mut c, _) = Complaint::create(
        "cmp_late".into(),
        Input {
            receive_time: Some(t0() - TimeDelta::days(20)),
            ..input()
        },
        snapshot(Tier::C, false, Region::Rural),
        agent(),
        &r,
        t0(),
    )
    .unwrap();
    // A breached clock changes no more: without the unreported breach it would have no next
    // check at all, and nobody would ever escalate it.
    assert_eq!(c.next_check(&r, t0()), Some(t0()));
    let effects = c.tick(&r, t0());
    assert_eq!(effects.escalation_keys.len(), 2, "{effects:?}");
    assert_eq!(
        c.next_check(&r, t0()),
        None,
        "nothing more to watch once reported"
    );
}

fn fields(error: RuleError) -> Vec<String> {
    match error {
        RuleError::Invalid(v) => v.0.into_iter().map(|f| f.field).collect(),
        other => panic!("not invalid input: {other:?}"),
    }
}

#[test]
fn times_decades_back_or_far_ahead_are_refused_naming_the_field() {
    let r = rules();
    let backdated = Complaint::create(
        "cmp_old".into(),
        Input {
            receive_time: Some(t0() - TimeDelta::days(367)),
            ..input()
        },
        snapshot(Tier::C, false, Region::Rural),
        agent(),
        &r,
        t0(),
    )
    .unwrap_err();
    assert_eq!(fields(backdated), ["receive_time"]);

    let mut c = new_complaint();
    let call = |start: DateTime<Utc>, duration: TimeDelta| Call {
        direction: CallDirection::Outbound,
        start_time: Some(start),
        duration,
        reached: true,
        summary: String::new(),
    };
    for (bad, field) in [
        (
            call(t0() - TimeDelta::days(400), TimeDelta::minutes(5)),
            "call.start_time",
        ),
        (
            call(t0() + TimeDelta::hours(1), TimeDelta::minutes(5)),
            "call.start_time",
        ),
        (call(t0(), TimeDelta::days(2)), "call.duration"),
    ] {
        assert_eq!(
            fields(c.record_call(Some(bad), &agent(), t0()).unwrap_err()),
            [field]
        );
    }
    let (_, recorded) = c
        .record_call(
            Some(call(t0() - TimeDelta::minutes(30), TimeDelta::minutes(5))),
            &agent(),
            t0(),
        )
        .unwrap();
    assert!(!recorded.is_empty(), "a valid call is recorded");

    let far = c
        .make_promise(
            "call back",
            Some(t0() + TimeDelta::days(400)),
            &agent(),
            &r,
            t0(),
        )
        .unwrap_err();
    assert_eq!(fields(far), ["due_time"]);
    let (promise, _) = c
        .make_promise(
            "call back",
            Some(t0() + TimeDelta::days(2)),
            &agent(),
            &r,
            t0(),
        )
        .unwrap();
    assert!(!promise.is_empty());
}

/// 首问负责 (seed 001): whoever first takes the contact owns it through every reassignment; a
/// complaint a system recorded is owned by the first agent it is assigned to.
#[test]
fn the_first_agent_to_take_a_complaint_stays_accountable_through_reassignments() {
    let r = rules();
    let mut c = new_complaint();
    assert_eq!(c.accountable_agent_id, "agent-1");
    let _ = c
        .assign("agent-2", "night shift", &agent(), &r, t0())
        .unwrap();
    assert_eq!(
        (
            c.assigned_agent_id.as_str(),
            c.accountable_agent_id.as_str()
        ),
        ("agent-2", "agent-1")
    );

    let (mut letter, _) = Complaint::create(
        "cmp_letter".into(),
        input(),
        snapshot(Tier::C, false, Region::Rural),
        Actor::system("mailroom"),
        &r,
        t0(),
    )
    .unwrap();
    assert_eq!(letter.accountable_agent_id, "");
    let _ = letter.assign("agent-3", "", &agent(), &r, t0()).unwrap();
    let _ = letter.assign("agent-4", "", &agent(), &r, t0()).unwrap();
    assert_eq!(letter.accountable_agent_id, "agent-3");
}

/// Seed 003: find who was accountable (找到责任人) when the company was at fault, and confirm
/// some days later that the fix held (效果确认); a fix that did not hold reopens the complaint.
#[test]
fn the_resolution_names_who_was_accountable_and_the_fix_is_confirmed_later() {
    let r = rules();
    let mut c = new_complaint();
    let mut now = t0();
    for a in [
        Action::Ack,
        Action::Investigate,
        Action::Propose,
        Action::Accept,
    ] {
        now += TimeDelta::minutes(1);
        let _ = apply(&mut c, a, &r, now).unwrap();
    }
    let at_fault = ResolutionInput {
        summary: "router replaced".into(),
        root_cause: "faulty batch".into(),
        corrective_action: "batch recalled".into(),
        company_at_fault: true,
        ..Default::default()
    };
    let refused = c.resolve(at_fault.clone(), &agent(), &r, now).unwrap_err();
    assert_eq!(fields(refused), ["resolution.accountable_party"]);
    let _ = c
        .resolve(
            ResolutionInput {
                accountable_party: "installation team north".into(),
                ..at_fault
            },
            &agent(),
            &r,
            now,
        )
        .unwrap();
    assert_eq!(
        c.resolution.as_ref().unwrap().accountable_party,
        "installation team north"
    );
    // Not before the callback.
    assert!(matches!(
        c.confirm_effect(true, "", &agent(), &r, now),
        Err(RuleError::Precondition(_))
    ));
    now += TimeDelta::days(1);
    let _ = apply(&mut c, Action::Satisfied, &r, now).unwrap();
    now += TimeDelta::days(7);
    // A fix that did not hold must say why, then reopens the complaint with a fix clock.
    assert_eq!(
        fields(c.confirm_effect(false, " ", &agent(), &r, now).unwrap_err()),
        ["note"]
    );
    let _ = c
        .confirm_effect(false, "drops again since Monday", &agent(), &r, now)
        .unwrap();
    assert_eq!(c.state, State::Reopened);
    assert_eq!(c.reopen_count, 1);
    assert!(c
        .clocks
        .iter()
        .any(|k| k.kind == ClockKind::CallbackFix && k.is_open()));
    let check = c.resolution.as_ref().unwrap().effect_check.clone().unwrap();
    assert!(!check.effective);

    // Fixed again, called back, and this time the fix holds: recorded once, state unchanged.
    for a in [
        Action::Investigate,
        Action::Propose,
        Action::Accept,
        Action::Resolve,
        Action::Satisfied,
    ] {
        now += TimeDelta::minutes(1);
        let _ = apply(&mut c, a, &r, now).unwrap();
    }
    let _ = c.confirm_effect(true, "", &agent(), &r, now).unwrap();
    assert_eq!(c.state, State::CallbackDone);
    assert!(matches!(
        c.confirm_effect(true, "", &agent(), &r, now),
        Err(RuleError::Precondition(_))
    ));
}

/// Seed 003: a media, legal or social-background complainant is escalated at once "when their
/// demands cannot be met" (a rejected solution) — or at intake when the policy says so; which
/// traits count is policy too.
#[test]
fn sensitive_complainants_escalate_as_the_policy_says() {
    let media_complaint = |r: &Rules| {
        let mut i = input();
        i.traits = vec![Trait::Media];
        Complaint::create(
            "cmp_m".into(),
            i,
            snapshot(Tier::C, false, Region::Rural),
            agent(),
            r,
            t0(),
        )
        .unwrap()
        .0
    };
    let r = rules();
    let mut c = media_complaint(&r);
    let mut now = t0();
    for a in [Action::Ack, Action::Investigate, Action::Propose] {
        now += TimeDelta::minutes(1);
        let _ = apply(&mut c, a, &r, now).unwrap();
    }
    assert_eq!(c.escalation_level, Level::Agent);
    let fx = apply(&mut c, Action::Reject, &r, now).unwrap();
    assert_eq!(c.escalation_level, Level::Supervisor);
    assert_eq!(fx.escalation_keys.len(), 0, "a hand-over, not a breach");
    assert_eq!(
        c.escalations.last().unwrap().reason,
        EscalationReason::SensitiveComplainant
    );

    let mut at_intake = rules();
    at_intake.sensitive.escalate = SensitiveEscalation::Intake;
    assert_eq!(
        media_complaint(&at_intake).escalation_level,
        Level::Supervisor
    );

    let mut not_media = rules();
    not_media.sensitive.traits = vec![Trait::Legal];
    let c = media_complaint(&not_media);
    assert_eq!(c.priority(&not_media), Priority::Normal);
    assert_eq!(c.priority(&r), Priority::High);
}

mod activities;
mod promises;
