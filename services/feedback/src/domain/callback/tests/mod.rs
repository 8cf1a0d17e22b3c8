//! Unit tests of the callback: every move, every refusal, the SLA limits and a proptest of the
//! exactly-once outcome. Shared fixtures here; attempts and breaches in their own files.
#![allow(clippy::unwrap_used)]

use chrono::{TimeDelta, TimeZone};
use csops_sla::{Case, Policy};

use super::*;

mod attempts;
mod breaches;

/// Monday 2 November 2026, 02:00 UTC (10:00 in Beijing): the service ends.
fn end() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 2, 2, 0, 0).unwrap()
}

fn at(day: u32, hour: u32, minute: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, day, hour, minute, 0)
        .unwrap()
}

fn system() -> Actor {
    Actor {
        id: "complaints".into(),
        role: Role::System,
    }
}

fn agent() -> Actor {
    Actor {
        id: "agent-7".into(),
        role: Role::Agent,
    }
}

fn new(kind: SubjectKind) -> NewCallback {
    NewCallback {
        customer_id: "cus_1".into(),
        subject: Subject {
            kind,
            id: "cmp_9".into(),
        },
        service_end_time: end(),
        served_by_agent_id: "agent-3".into(),
        source_event_id: "evt_1".into(),
    }
}

fn scheduled(kind: SubjectKind) -> Callback {
    Callback::schedule(
        "cbk_1".into(),
        new(kind),
        &system(),
        &CallbackRules::default(),
        end() + TimeDelta::minutes(1),
    )
    .unwrap()
}

fn reached(outcome: CallbackOutcome, findings: &[&str]) -> AttemptInput {
    AttemptInput {
        reached: true,
        outcome: Some(outcome),
        findings: findings
            .iter()
            .map(|d| FindingInput {
                description: (*d).into(),
                owner_agent_id: String::new(),
            })
            .collect(),
        notes: String::new(),
        attempt_time: None,
    }
}

fn not_reached() -> AttemptInput {
    AttemptInput {
        reached: false,
        outcome: None,
        findings: vec![],
        notes: "no answer".into(),
        attempt_time: None,
    }
}

fn fields(e: RuleError) -> Vec<String> {
    match e {
        RuleError::Invalid(v) => v.0.into_iter().map(|f| f.field).collect(),
        other => panic!("expected invalid input, got {other:?}"),
    }
}

fn precondition(e: RuleError) -> String {
    match e {
        RuleError::Precondition(m) => m,
        other => panic!("expected a precondition, got {other:?}"),
    }
}

#[test]
fn a_callback_is_planned_one_day_and_due_two_days_after_the_service_ends() {
    let cb = scheduled(SubjectKind::Complaint);
    assert_eq!(cb.state, CallbackState::Scheduled);
    // 2 Nov 02:00 + 1 day = 3 Nov 02:00; + 2 days = 4 Nov 02:00.
    assert_eq!(cb.earliest_time, at(3, 2, 0));
    assert_eq!(cb.due_time, at(4, 2, 0));
    assert_eq!(cb.version, 1);
    assert_eq!(cb.created_by, system());
    assert!(cb.attempts.is_empty() && cb.outcome.is_none());
}

#[test]
fn the_sla_presets_give_the_handbook_window_and_fix_limit() {
    let rules = CallbackRules::from_policy(&Policy::default_presets(), &Case::new()).unwrap();
    // Rules callback.default and callback_fix.default: 2 days on the 24x7 calendar.
    assert_eq!(rules.due.deadline(end()), at(4, 2, 0));
    assert_eq!(rules.fix.deadline(end()), at(4, 2, 0));
    assert_eq!(
        rules.due.describe(),
        "2d on calendar always (rule callback.default)"
    );
    assert_eq!(rules.earliest_after, TimeDelta::days(1));
    assert_eq!(rules.max_unreached_attempts, 3);
    let defaults = CallbackRules::default();
    assert_eq!(defaults.due.deadline(end()), rules.due.deadline(end()));
    assert_eq!(defaults.due.describe(), "2d");
}

#[test]
fn a_policy_in_working_days_counts_the_due_time_on_its_calendar() {
    let toml = r#"
[calendars.always]
always = true

[calendars.office]
time_zone = "UTC"
mon = ["09:00-17:00"]
tue = ["09:00-17:00"]
wed = ["09:00-17:00"]
thu = ["09:00-17:00"]
fri = ["09:00-17:00"]

[[rule]]
id = "callback.office"
promise = "callback"
target = "2wd"
calendar = "office"

[[rule]]
id = "callback_fix.office"
promise = "callback_fix"
target = "2d"
calendar = "always"
"#;
    let policy = Policy::from_toml_str(toml, "test.toml").unwrap();
    let rules = CallbackRules::from_policy(&policy, &Case::new()).unwrap();
    // 2 working days = 16 h. Ends Friday 6 Nov 16:00: 1 h on Friday, 8 h on Monday 9 Nov,
    // the last 7 h on Tuesday 10 Nov from 09:00: due 16:00.
    let friday = at(6, 16, 0);
    assert_eq!(rules.due.deadline(friday), at(10, 16, 0));
    assert_eq!(rules.fix.deadline(friday), at(8, 16, 0));
}

#[test]
fn scheduling_names_every_broken_field_at_once() {
    let mut n = new(SubjectKind::General);
    n.customer_id = " ".into();
    n.subject.id = String::new();
    n.source_event_id = String::new();
    n.service_end_time = end() + TimeDelta::hours(1);
    let e = Callback::schedule(
        "cbk_1".into(),
        n,
        &system(),
        &CallbackRules::default(),
        end(),
    )
    .unwrap_err();
    assert_eq!(
        fields(e),
        [
            "customer_id",
            "subject.kind",
            "subject.id",
            "source_event_id",
            "service_end_time"
        ]
    );
    let mut old = new(SubjectKind::Visit);
    old.service_end_time = end() - TimeDelta::days(367);
    let e = Callback::schedule(
        "cbk_1".into(),
        old,
        &system(),
        &CallbackRules::default(),
        end(),
    )
    .unwrap_err();
    assert_eq!(fields(e), ["service_end_time"]);
}
#[test]
fn codes_round_trip() {
    for s in CallbackState::ALL {
        assert_eq!(CallbackState::from_code(s.code()), Some(*s));
    }
    for o in CallbackOutcome::ALL {
        assert_eq!(CallbackOutcome::from_code(&o.to_string()), Some(*o));
    }
    assert_eq!(
        SubjectKind::from_code("field_job"),
        Some(SubjectKind::FieldJob)
    );
    assert_eq!(Role::from_code("robot"), None);
}
