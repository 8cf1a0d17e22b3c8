//! The attempts: answers, findings, unreachable customers, refusals, cancelling, and the
//! proptest that a complaint hears the outcome at most once.
#![allow(clippy::unwrap_used)]

use chrono::TimeDelta;
use proptest::prelude::*;

use super::*;

#[test]
fn a_satisfied_customer_completes_the_callback_and_lets_the_complaint_close() {
    let mut cb = scheduled(SubjectKind::Complaint);
    let now = at(3, 3, 30);
    let fx = cb
        .record_attempt(
            reached(CallbackOutcome::Satisfied, &[]),
            &agent(),
            &CallbackRules::default(),
            now,
        )
        .unwrap();
    assert_eq!(
        fx.0,
        [Effect::ComplaintMayClose {
            complaint_id: "cmp_9".into(),
            callback_time: now,
            request_id: "cbk_1:outcome".into(),
        }]
    );
    assert_eq!(cb.state, CallbackState::Completed);
    assert_eq!(cb.outcome, Some(CallbackOutcome::Satisfied));
    assert_eq!(cb.end_time, Some(now));
    // Ended 3 Nov 03:30, due 4 Nov 02:00: on time.
    assert_eq!(cb.on_time(), Some(true));
    assert_eq!((cb.version, cb.update_time), (2, now));
    assert_eq!(cb.attempts[0].outcome, Some(CallbackOutcome::Satisfied));
}

#[test]
fn an_unsatisfied_customer_reopens_the_complaint_once_with_the_findings_as_reason() {
    let mut cb = scheduled(SubjectKind::Complaint);
    let now = at(3, 4, 0);
    let mut input = reached(
        CallbackOutcome::Unsatisfied,
        &["line still drops at night", "bill not corrected"],
    );
    input.findings[1].owner_agent_id = "billing-2".into();
    input.notes = "still unhappy".into();
    let rules = CallbackRules::default();
    let fx = cb.record_attempt(input, &agent(), &rules, now).unwrap();
    // Found 3 Nov 04:00 + 2 days = fix by 5 Nov 04:00.
    let fix_due_time = at(5, 4, 0);
    assert_eq!(
        fx.0,
        [
            Effect::FindingOpened {
                finding_id: "fnd_1".into(),
                owner_agent_id: "agent-3".into(),
                fix_due_time,
            },
            Effect::FindingOpened {
                finding_id: "fnd_2".into(),
                owner_agent_id: "billing-2".into(),
                fix_due_time,
            },
            Effect::ReopenComplaint {
                complaint_id: "cmp_9".into(),
                reason: "callback cbk_1 found: (1) line still drops at night; (2) bill not \
                         corrected. customer said: still unhappy"
                    .into(),
                callback_time: now,
                request_id: "cbk_1:outcome".into(),
            },
        ]
    );
    assert_eq!(cb.outcome, Some(CallbackOutcome::Unsatisfied));
    assert_eq!(cb.findings[0].state, FindingState::Open);
    assert_eq!(cb.findings[0].find_time, now);
    // A repeated attempt (a retry, a second agent) is refused and causes nothing.
    let before = cb.clone();
    let e = cb
        .record_attempt(
            reached(CallbackOutcome::Unsatisfied, &["again"]),
            &agent(),
            &rules,
            now + TimeDelta::minutes(5),
        )
        .unwrap_err();
    assert_eq!(
        precondition(e),
        "cannot record an attempt: callback cbk_1 is COMPLETED; only a scheduled callback can"
    );
    assert_eq!(cb, before);
}

#[test]
fn a_problem_found_on_a_satisfied_answer_still_reopens_the_complaint() {
    let mut cb = scheduled(SubjectKind::Complaint);
    let fx = cb
        .record_attempt(
            reached(CallbackOutcome::Satisfied, &["engineer left cables behind"]),
            &agent(),
            &CallbackRules::default(),
            at(3, 4, 0),
        )
        .unwrap();
    assert_eq!(cb.outcome, Some(CallbackOutcome::Unsatisfied));
    // The customer's own answer is kept on the attempt.
    assert_eq!(cb.attempts[0].outcome, Some(CallbackOutcome::Satisfied));
    assert!(matches!(fx.0.last(), Some(Effect::ReopenComplaint { .. })));
}

#[test]
fn a_field_job_finding_gets_an_owner_and_a_fix_clock_but_touches_no_complaint() {
    let mut cb = scheduled(SubjectKind::FieldJob);
    let fx = cb
        .record_attempt(
            reached(CallbackOutcome::Unsatisfied, &["socket loose"]),
            &agent(),
            &CallbackRules::default(),
            at(2, 20, 0),
        )
        .unwrap();
    // Found 2 Nov 20:00 + 2 days = 4 Nov 20:00; owner: the engineer who served.
    assert_eq!(
        fx.0,
        [Effect::FindingOpened {
            finding_id: "fnd_1".into(),
            owner_agent_id: "agent-3".into(),
            fix_due_time: at(4, 20, 0),
        }]
    );
    let mut visit = scheduled(SubjectKind::Visit);
    let fx = visit
        .record_attempt(
            reached(CallbackOutcome::Satisfied, &[]),
            &agent(),
            &CallbackRules::default(),
            at(3, 9, 0),
        )
        .unwrap();
    assert!(fx.is_empty());
}

#[test]
fn an_attempt_before_the_earliest_time_is_recorded() {
    let mut cb = scheduled(SubjectKind::Complaint);
    // 2 Nov 06:00 is 4 h after the service ended, before the earliest time (3 Nov 02:00):
    // the customer called back early.
    assert!(!cb.is_ready(at(2, 6, 0)));
    let _ = cb
        .record_attempt(
            reached(CallbackOutcome::Satisfied, &[]),
            &agent(),
            &CallbackRules::default(),
            at(2, 6, 0),
        )
        .unwrap();
    assert_eq!(cb.state, CallbackState::Completed);
}

#[test]
fn three_unreached_attempts_end_the_callback_unreachable() {
    let mut cb = scheduled(SubjectKind::Complaint);
    let rules = CallbackRules::default();
    let times = [at(3, 2, 0), at(3, 8, 0), at(3, 14, 0)];
    for (n, t) in times.iter().enumerate() {
        assert_eq!(cb.state, CallbackState::Scheduled);
        let fx = cb
            .record_attempt(not_reached(), &agent(), &rules, *t)
            .unwrap();
        assert_eq!(
            fx.0,
            [Effect::ComplaintCallbackUnreachable {
                complaint_id: "cmp_9".into(),
                attempt_time: *t,
                request_id: format!("cbk_1:attempt-{}", n + 1),
            }]
        );
    }
    assert_eq!(cb.state, CallbackState::Unreachable);
    assert_eq!(cb.outcome, Some(CallbackOutcome::Unreachable));
    assert_eq!(cb.end_time, Some(at(3, 14, 0)));
    assert_eq!(cb.unreached_attempts(), 3);
    assert_eq!(cb.on_time(), Some(true));
    let e = cb
        .record_attempt(not_reached(), &agent(), &rules, at(3, 15, 0))
        .unwrap_err();
    assert!(precondition(e).contains("is UNREACHABLE"));
}

#[test]
fn the_number_of_attempts_is_configurable() {
    let mut cb = scheduled(SubjectKind::FieldJob);
    let rules = CallbackRules {
        max_unreached_attempts: 1,
        ..CallbackRules::default()
    };
    let fx = cb
        .record_attempt(not_reached(), &agent(), &rules, at(3, 2, 0))
        .unwrap();
    assert!(fx.is_empty());
    assert_eq!(cb.state, CallbackState::Unreachable);
}

#[test]
fn an_attempt_names_every_broken_field() {
    let mut cb = scheduled(SubjectKind::Complaint);
    let rules = CallbackRules::default();
    let now = at(3, 2, 0);
    let mut try_it =
        |input: AttemptInput| fields(cb.record_attempt(input, &agent(), &rules, now).unwrap_err());

    let mut no_outcome = reached(CallbackOutcome::Satisfied, &[]);
    no_outcome.outcome = None;
    assert_eq!(try_it(no_outcome), ["outcome"]);
    let mut unreachable_answer = reached(CallbackOutcome::Unreachable, &[]);
    unreachable_answer.notes = "x".repeat(MAX_NOTES + 1);
    assert_eq!(try_it(unreachable_answer), ["notes", "outcome"]);
    assert_eq!(
        try_it(reached(CallbackOutcome::Unsatisfied, &[])),
        ["findings"]
    );
    assert_eq!(
        try_it(reached(CallbackOutcome::Satisfied, &[" "])),
        ["findings[0].description"]
    );
    let many: Vec<&str> = vec!["p"; MAX_FINDINGS + 1];
    assert_eq!(
        try_it(reached(CallbackOutcome::Unsatisfied, &many)),
        ["findings"]
    );

    let mut answer_unreached = not_reached();
    answer_unreached.outcome = Some(CallbackOutcome::Satisfied);
    answer_unreached.findings = vec![FindingInput {
        description: "p".into(),
        owner_agent_id: String::new(),
    }];
    assert_eq!(try_it(answer_unreached), ["outcome", "findings"]);

    let mut future = not_reached();
    // 6 minutes ahead: past the 5-minute allowance for clock differences.
    future.attempt_time = Some(now + TimeDelta::minutes(6));
    assert_eq!(try_it(future), ["attempt_time"]);
    let mut before_end = not_reached();
    before_end.attempt_time = Some(end() - TimeDelta::seconds(1));
    assert_eq!(try_it(before_end), ["attempt_time"]);
}

#[test]
fn attempts_stay_in_order_and_a_finding_needs_an_owner() {
    let mut cb = scheduled(SubjectKind::Complaint);
    let rules = CallbackRules::default();
    let _ = cb
        .record_attempt(not_reached(), &agent(), &rules, at(3, 8, 0))
        .unwrap();
    let mut earlier = not_reached();
    earlier.attempt_time = Some(at(3, 7, 0));
    let e = cb
        .record_attempt(earlier, &agent(), &rules, at(3, 9, 0))
        .unwrap_err();
    assert_eq!(fields(e), ["attempt_time"]);

    cb.served_by_agent_id = String::new();
    let e = cb
        .record_attempt(
            reached(CallbackOutcome::Unsatisfied, &["no owner"]),
            &agent(),
            &rules,
            at(3, 9, 0),
        )
        .unwrap_err();
    assert_eq!(fields(e), ["findings[0].owner_agent_id"]);
    // A time a little ahead of ours is taken as now.
    let mut ahead = reached(CallbackOutcome::Satisfied, &[]);
    ahead.attempt_time = Some(at(3, 9, 3));
    let _ = cb
        .record_attempt(ahead, &agent(), &rules, at(3, 9, 0))
        .unwrap();
    assert_eq!(cb.attempts[1].attempt_time, at(3, 9, 0));
}

#[test]
fn a_cancelled_callback_takes_no_attempt_and_no_second_cancel() {
    let mut cb = scheduled(SubjectKind::Complaint);
    let now = at(2, 12, 0);
    let e = cb.cancel(" ", &agent(), now).unwrap_err();
    assert_eq!(fields(e), ["reason"]);
    let fx = cb.cancel("complaint withdrawn", &agent(), now).unwrap();
    assert!(fx.is_empty());
    assert_eq!(cb.state, CallbackState::Cancelled);
    assert_eq!(cb.cancel_reason, "complaint withdrawn");
    assert_eq!(cb.cancelled_by, Some(agent()));
    assert_eq!(cb.end_time, Some(now));
    assert_eq!(cb.on_time(), None);
    // Cancelled is not a breach, even past the due time.
    assert!(!cb.is_overdue(at(5, 0, 0)));
    let e = cb.cancel("again", &agent(), now).unwrap_err();
    assert_eq!(
        precondition(e),
        "cannot cancel: callback cbk_1 is CANCELLED; only a scheduled callback can"
    );
    let e = cb
        .record_attempt(not_reached(), &agent(), &CallbackRules::default(), now)
        .unwrap_err();
    assert!(precondition(e).contains("is CANCELLED"));
}
/// One step of a proptest run: an attempt (reached or not, with an answer and findings) or a
/// cancel.
#[derive(Debug, Clone)]
enum Step {
    Attempt {
        reached: bool,
        satisfied: bool,
        findings: usize,
    },
    Cancel,
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        4 => (any::<bool>(), any::<bool>(), 0usize..3).prop_map(|(reached, satisfied, findings)| {
            Step::Attempt { reached, satisfied, findings }
        }),
        1 => Just(Step::Cancel),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Whatever happens to a complaint callback, the complaint hears its outcome at most once,
    /// only from a completed callback, and never more than the configured unreached attempts.
    #[test]
    fn a_complaint_hears_the_outcome_at_most_once(
        steps in prop::collection::vec(step(), 1..12),
        max in 1u32..5,
    ) {
        let rules = CallbackRules { max_unreached_attempts: max, ..CallbackRules::default() };
        let mut cb = scheduled(SubjectKind::Complaint);
        let mut outcomes = 0;
        let mut unreached = 0;
        for (i, s) in steps.into_iter().enumerate() {
            let now = at(3, 0, 0) + TimeDelta::minutes(i64::try_from(i).unwrap() * 10);
            let was = cb.state;
            let result = match s {
                Step::Attempt { reached, satisfied, findings } => {
                    let outcome = if !reached {
                        None
                    } else if satisfied {
                        Some(CallbackOutcome::Satisfied)
                    } else {
                        Some(CallbackOutcome::Unsatisfied)
                    };
                    let findings = if reached && (!satisfied || findings > 0) {
                        vec![FindingInput { description: "p".into(), owner_agent_id: String::new() }; findings.max(usize::from(!satisfied))]
                    } else {
                        vec![]
                    };
                    cb.record_attempt(
                        AttemptInput { reached, outcome, findings, notes: String::new(), attempt_time: None },
                        &agent(), &rules, now,
                    )
                }
                Step::Cancel => cb.cancel("not needed", &agent(), now),
            };
            match result {
                Ok(fx) => {
                    prop_assert_eq!(was, CallbackState::Scheduled);
                    for e in fx.iter() {
                        match e {
                            Effect::ReopenComplaint { request_id, .. }
                            | Effect::ComplaintMayClose { request_id, .. } => {
                                outcomes += 1;
                                prop_assert_eq!(request_id.as_str(), "cbk_1:outcome");
                                prop_assert_eq!(cb.state, CallbackState::Completed);
                            }
                            Effect::ComplaintCallbackUnreachable { .. } => unreached += 1,
                            Effect::FindingOpened { .. } | Effect::FindingFixed { .. } => {}
                        }
                    }
                }
                Err(e) => {
                    prop_assert!(was.is_final(), "refused while scheduled: {e:?}");
                    prop_assert!(matches!(e, RuleError::Precondition(_)));
                }
            }
        }
        prop_assert!(outcomes <= 1);
        prop_assert_eq!(outcomes == 1, cb.state == CallbackState::Completed);
        prop_assert!(unreached <= max);
        prop_assert_eq!(cb.state == CallbackState::Unreachable, unreached == max);
    }
}
