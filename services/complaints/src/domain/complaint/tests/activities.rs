//! What the process indicators hear of a complaint's clocks: each clock once, breached or
//! stopped (on time or late).

use super::*;

#[test]
fn the_indicators_hear_of_each_clock_once_breached_or_stopped() {
    let r = rules();
    let (mut c, created) = Complaint::create(
        "cmp_sys".into(),
        input(),
        snapshot(Tier::C, false, Region::Rural),
        Actor::system("web-form"),
        &r,
        t0(),
    )
    .unwrap();
    let Some(Outgoing::Activity {
        kind,
        agent_id,
        category,
        customer_id,
        complaint_id,
        occur_time,
        ..
    }) = created.outbox.last().map(|e| &e.event)
    else {
        panic!("the complaint received is reported: {created:?}");
    };
    assert_eq!(*kind, ActivityKind::ComplaintReceived);
    // Recorded by a system and not assigned yet: nobody's complaint so far.
    assert_eq!(agent_id, "");
    assert_eq!(
        (
            category.as_str(),
            customer_id.as_str(),
            complaint_id.as_str()
        ),
        ("PRODUCT_QUALITY", "cus_1", "cmp_sys")
    );
    assert_eq!(*occur_time, t0());
    let _ = c.assign("agent-2", "", &agent(), &r, t0()).unwrap();
    // Both clocks breach; the watcher reports each at its deadline.
    let late = t0() + TimeDelta::days(10);
    let breached = c.tick(&r, late);
    let deadline = |id: &str| r.status(&c.clock(id).unwrap().clock, late).deadline;
    let times: Vec<DateTime<Utc>> = breached
        .outbox
        .iter()
        .filter_map(|e| match &e.event {
            Outgoing::Activity { occur_time, .. } => Some(*occur_time),
            _ => None,
        })
        .collect();
    assert_eq!(
        times,
        [deadline("first_contact-1"), deadline("resolution-1")]
    );
    assert_eq!(
        activities(&breached.outbox),
        [
            (
                ActivityKind::ClockBreached,
                "FIRST_CONTACT".into(),
                "agent-2".into()
            ),
            (
                ActivityKind::ClockBreached,
                "RESOLUTION".into(),
                "agent-2".into()
            ),
        ]
    );
    // The late first contact stops a clock already reported breached: only the contact, by
    // the agent who made it.
    let acked = c
        .acknowledge("", None, &agent(), &r, late + TimeDelta::hours(1))
        .unwrap();
    assert_eq!(
        activities(&acked.outbox),
        [(
            ActivityKind::ContactHandled,
            String::new(),
            "agent-1".into()
        )]
    );
}

#[test]
fn a_clock_stopped_late_before_the_watcher_saw_it_is_reported_met_late() {
    let r = rules();
    let mut c = new_complaint();
    let contact = t0() + TimeDelta::days(10);
    let acked = c
        .acknowledge(
            "",
            Some(contact),
            &agent(),
            &r,
            contact + TimeDelta::hours(1),
        )
        .unwrap();
    assert_eq!(
        activities(&acked.outbox),
        [
            (
                ActivityKind::ClockMetLate,
                "FIRST_CONTACT".into(),
                "agent-1".into()
            ),
            (
                ActivityKind::ContactHandled,
                String::new(),
                "agent-1".into()
            ),
        ]
    );
    let times: Vec<DateTime<Utc>> = acked
        .outbox
        .iter()
        .filter_map(|e| match &e.event {
            Outgoing::Activity { occur_time, .. } => Some(*occur_time),
            _ => None,
        })
        .collect();
    assert_eq!(times, [contact, contact], "both at the contact time");
}
