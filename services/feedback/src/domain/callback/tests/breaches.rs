//! Breaches: an overdue callback, overdue findings, fixing them; and the linked survey.
#![allow(clippy::unwrap_used)]

use chrono::TimeDelta;

use super::*;

#[test]
fn a_callback_still_scheduled_after_its_due_time_is_overdue() {
    let mut cb = scheduled(SubjectKind::Complaint);
    // Due 4 Nov 02:00: at that second it is still on time, one second later it is breached.
    assert!(!cb.is_overdue(at(4, 2, 0)));
    assert!(cb.is_overdue(at(4, 2, 0) + TimeDelta::seconds(1)));
    assert_eq!(cb.next_deadline(at(3, 0, 0)), Some(at(4, 2, 0)));
    let _ = cb
        .record_attempt(
            reached(CallbackOutcome::Satisfied, &[]),
            &agent(),
            &CallbackRules::default(),
            at(4, 5, 0),
        )
        .unwrap();
    // Completed late: no longer overdue, but not on time.
    assert!(!cb.is_overdue(at(4, 6, 0)));
    assert_eq!(cb.on_time(), Some(false));
    assert_eq!(cb.next_deadline(at(4, 6, 0)), None);
}

#[test]
fn an_open_finding_past_its_fix_deadline_is_overdue_until_fixed() {
    let mut cb = scheduled(SubjectKind::FieldJob);
    let _ = cb
        .record_attempt(
            reached(
                CallbackOutcome::Unsatisfied,
                &["socket loose", "scratched wall"],
            ),
            &agent(),
            &CallbackRules::default(),
            at(3, 10, 0),
        )
        .unwrap();
    // Found 3 Nov 10:00, fix by 5 Nov 10:00.
    assert_eq!(cb.next_deadline(at(4, 0, 0)), Some(at(5, 10, 0)));
    assert_eq!(cb.overdue_findings(at(5, 10, 0)).count(), 0);
    let late = at(5, 11, 0);
    let ids: Vec<&str> = cb.overdue_findings(late).map(|f| f.id.as_str()).collect();
    assert_eq!(ids, ["fnd_1", "fnd_2"]);

    let fx = cb
        .fix_finding("fnd_1", "socket replaced", &agent(), at(4, 9, 0))
        .unwrap();
    assert_eq!(
        fx.0,
        [Effect::FindingFixed {
            finding_id: "fnd_1".into(),
            on_time: true,
        }]
    );
    let f = &cb.findings[0];
    assert_eq!(f.state, FindingState::Fixed);
    assert_eq!(
        (f.fix_time, f.fixed_on_time()),
        (Some(at(4, 9, 0)), Some(true))
    );
    assert_eq!(f.fixed_by, Some(agent()));
    let ids: Vec<&str> = cb.overdue_findings(late).map(|f| f.id.as_str()).collect();
    assert_eq!(ids, ["fnd_2"]);

    let fx = cb
        .fix_finding("fnd_2", "wall painted", &agent(), late)
        .unwrap();
    assert_eq!(
        fx.0,
        [Effect::FindingFixed {
            finding_id: "fnd_2".into(),
            on_time: false,
        }]
    );
    assert_eq!(cb.overdue_findings(late).count(), 0);
}

#[test]
fn fixing_refuses_an_unknown_finding_a_fixed_one_and_a_blank_note() {
    let mut cb = scheduled(SubjectKind::FieldJob);
    let _ = cb
        .record_attempt(
            reached(CallbackOutcome::Unsatisfied, &["socket loose"]),
            &agent(),
            &CallbackRules::default(),
            at(3, 10, 0),
        )
        .unwrap();
    let now = at(4, 0, 0);
    assert_eq!(
        cb.fix_finding("fnd_9", "done", &agent(), now),
        Err(RuleError::NotFound(
            "callback cbk_1 has no finding fnd_9".into()
        ))
    );
    let e = cb.fix_finding("fnd_1", "  ", &agent(), now).unwrap_err();
    assert_eq!(fields(e), ["fix_note"]);
    let _ = cb.fix_finding("fnd_1", "done", &agent(), now).unwrap();
    let e = cb.fix_finding("fnd_1", "done", &agent(), now).unwrap_err();
    assert_eq!(
        precondition(e),
        "cannot fix finding fnd_1 of callback cbk_1: it is FIXED already"
    );
}

#[test]
fn a_survey_is_linked_once_to_a_completed_callback() {
    let mut cb = scheduled(SubjectKind::Visit);
    let e = cb.link_survey("srv_1", at(3, 0, 0)).unwrap_err();
    assert!(precondition(e).contains("is SCHEDULED"));
    let _ = cb
        .record_attempt(
            reached(CallbackOutcome::Satisfied, &[]),
            &agent(),
            &CallbackRules::default(),
            at(3, 0, 0),
        )
        .unwrap();
    cb.link_survey("srv_1", at(3, 1, 0)).unwrap();
    cb.link_survey("srv_1", at(3, 2, 0)).unwrap();
    assert_eq!((cb.survey_id.as_str(), cb.version), ("srv_1", 3));
    let e = cb.link_survey("srv_2", at(3, 3, 0)).unwrap_err();
    assert!(precondition(e).contains("has survey srv_1 already"));
}
