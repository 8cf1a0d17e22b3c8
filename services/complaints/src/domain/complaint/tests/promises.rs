//! Promises: the owner is warned before one is due, then it breaks and escalates.

use super::*;

fn promise_events(fx: &Effects) -> Vec<(SlaEventKind, i32, String)> {
    fx.sla_events
        .iter()
        .filter(|e| !e.promise_id.is_empty())
        .map(|e| (e.kind, e.threshold_percent, e.promise_id.clone()))
        .collect()
}

/// Seed 002: a promise that cannot be kept is told to the customer early. The owner is warned
/// once at 75 % of the way to the due time; a reschedule (with the customer's consent) starts
/// a new span and warns again; a promise left open past its due time breaks and escalates.
#[test]
fn a_promise_warns_its_owner_before_it_is_due_then_breaks_and_escalates() {
    let r = rules();
    let mut c = new_complaint();
    let (id, _) = c
        .make_promise(
            "engineer calls back",
            Some(t0() + TimeDelta::hours(4)),
            &agent(),
            &r,
            t0(),
        )
        .unwrap();
    let warn_at = t0() + TimeDelta::hours(3);
    assert!(c.next_check(&r, t0()).unwrap() <= warn_at);
    let early = c.tick(&r, t0() + TimeDelta::hours(2));
    assert!(promise_events(&early).is_empty(), "{early:?}");

    let warned = c.tick(&r, warn_at);
    assert_eq!(
        promise_events(&warned),
        [(SlaEventKind::AtRisk, 75, id.clone())]
    );
    assert!(c.promises[0].warned);
    let again = c.tick(&r, warn_at + TimeDelta::minutes(30));
    assert!(promise_events(&again).is_empty(), "warned once: {again:?}");

    // Rescheduled at 3h30 to 7h30 with the customer's consent: warned again at 6h30.
    let _ = c
        .reschedule_promise(
            &id,
            Some(t0() + TimeDelta::hours(7) + TimeDelta::minutes(30)),
            "spare part late",
            "customer agreed on the phone",
            &agent(),
            t0() + TimeDelta::hours(3) + TimeDelta::minutes(30),
        )
        .unwrap();
    assert!(!c.promises[0].warned);
    let rewarned = c.tick(&r, t0() + TimeDelta::hours(6) + TimeDelta::minutes(30));
    assert_eq!(
        promise_events(&rewarned),
        [(SlaEventKind::AtRisk, 75, id.clone())]
    );

    let broken = c.tick(&r, t0() + TimeDelta::hours(8));
    assert_eq!(
        promise_events(&broken)
            .into_iter()
            .map(|(k, _, _)| k)
            .collect::<Vec<_>>(),
        [SlaEventKind::PromiseBroken, SlaEventKind::Escalated]
    );
    assert_eq!(c.promises[0].state, PromiseState::Broken);
    assert_eq!(
        broken.escalation_keys.len(),
        1,
        "a broken promise escalates"
    );
}

#[test]
fn a_promise_found_overdue_breaks_without_a_late_warning() {
    let r = rules();
    let mut c = new_complaint();
    let _ = c
        .make_promise(
            "send the refund",
            Some(t0() + TimeDelta::hours(1)),
            &agent(),
            &r,
            t0(),
        )
        .unwrap();
    let fx = c.tick(&r, t0() + TimeDelta::hours(2));
    let kinds: Vec<SlaEventKind> = promise_events(&fx).into_iter().map(|(k, _, _)| k).collect();
    assert_eq!(
        kinds,
        [SlaEventKind::PromiseBroken, SlaEventKind::Escalated]
    );
}
