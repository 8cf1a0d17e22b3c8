//! The stored shape: complaint bodies, timeline entries, SLA events and outbox payloads
//! written while the domain carried integer times (counts since the epoch, 0 for unset) read
//! back with their instants and write back byte for byte. The fixtures were serialized by that
//! code (scenario: a VIP media complaint through every step to CLOSED, and a fresh one created
//! with defaulted customer facts).
#![allow(clippy::unwrap_used)]

use chrono::{DateTime, TimeDelta, Utc};
use serde::de::DeserializeOwned;
use serde::Serialize;

use super::*;

/// A complaint taken through every step to CLOSED, as the store wrote its body.
const CLOSED: &str = concat!(
    r#"{"id":"cmp_fixture","customer_id":"cus_1","title":"router broken","#,
    r#""description":"it blinks red","customer_demand":"a new router","#,
    r#""nature":"product_quality","severity":"high","channel":"hotline","traits":["media"],"#,
    r#""state":"closed","assigned_agent_id":"agent-2","escalation_level":"manager","#,
    r#""customer":{"tier":"a","key_account":true,"region":"urban","defaulted":false,"#,
    r#""fetch_time":1771999940000000},"clocks":[{"id":"first_contact-1","kind":"first_contact","#,
    r#""clock":{"spec":{"promise":"first_contact","target":"1h","calendar":"cn_service","#,
    r#""thresholds":[50,75,90],"rule":"first_contact.default","case":{"tier":"A","#,
    r#""key_account":true,"region":"urban","severity":"high","channel":"hotline","#,
    r#""traits":["media"]}},"started_at":"2026-02-25T05:13:20Z","ending":{"kind":"stopped","#,
    r#""at":"2026-02-25T06:15:20Z"}},"reported":[],"pauses":[]},{"id":"resolution-1","#,
    r#""kind":"resolution","clock":{"spec":{"promise":"resolution","target":"8h","#,
    r#""calendar":"cn_service","thresholds":[50,75,90],"rule":"resolution.high","#,
    r#""adjustment":{"rule":"resolution.key_account","factor":0.5},"base_target":"16h","#,
    r#""case":{"tier":"A","key_account":true,"region":"urban","severity":"high","#,
    r#""channel":"hotline","traits":["media"]}},"started_at":"2026-02-25T05:13:20Z","#,
    r#""pauses":[{"from":"2026-02-25T06:25:20Z","until":"2026-02-25T06:26:20Z","#,
    r#""reason":"waiting_on_customer"}],"ending":{"kind":"stopped","#,
    r#""at":"2026-02-25T06:32:20Z"}},"reported":[],"pauses":[{"reason":"waiting_on_customer","#,
    r#""note":"waiting for photos","paused_by":{"id":"agent-1","role":"agent"},"#,
    r#""resumed_by":{"id":"agent-1","role":"agent"}}]},{"id":"callback-1","kind":"callback","#,
    r#""clock":{"spec":{"promise":"callback","target":"16h","calendar":"cn_service","#,
    r#""thresholds":[50,75,90],"rule":"callback.default","case":{"tier":"A","key_account":true,"#,
    r#""region":"urban","severity":"high","channel":"hotline","traits":["media"]}},"#,
    r#""started_at":"2026-02-25T06:32:20Z","ending":{"kind":"stopped","#,
    r#""at":"2026-02-27T06:13:20Z"}},"reported":[],"pauses":[]}],"#,
    r#""solutions":[{"id":"solution-1","measures":["swap"],"plan":[{"description":"replace","#,
    r#""owner_id":"eng-1","due_time":1772086400000000}],"proposed_by":{"id":"agent-1","#,
    r#""role":"agent"},"propose_time":1772000840000000,"decision":"rejected","#,
    r#""decide_time":1772000900000000,"customer_comment":"too slow"},{"id":"solution-2","#,
    r#""measures":["swap today"],"plan":[{"description":"replace","owner_id":"eng-1","#,
    r#""due_time":1772086400000000}],"proposed_by":{"id":"agent-1","role":"agent"},"#,
    r#""propose_time":1772000960000000,"decision":"accepted","decide_time":1772001020000000,"#,
    r#""customer_comment":"fine"}],"resolution":{"summary":"swapped","root_cause":"bad batch","#,
    r#""corrective_action":"check batch","lesson_learned":"test","company_at_fault":true,"#,
    r#""resolved_by":{"id":"agent-1","role":"agent"},"resolve_time":1772001140000000},"#,
    r#""callbacks":[{"outcome":"unreachable","notes":"","actor":{"id":"agent-1","#,
    r#""role":"agent"},"time":1772086400000000,"feedback_callback_id":"fbc_1"},"#,
    r#"{"outcome":"satisfied","notes":"happy","actor":{"id":"agent-1","role":"agent"},"#,
    r#""time":1772172800000000,"feedback_callback_id":"fbc_2"}],"#,
    r#""promises":[{"id":"prm_01a237177dbc7279b2e2d0c3c13aad80","#,
    r#""description":"call back with a date","due_time":1772086400000000,"#,
    r#""promised_by":{"id":"agent-1","role":"agent"},"make_time":1772000300000000,"#,
    r#""state":"kept","keep_time":1772000420000000,"kept_by":{"id":"agent-1","role":"agent"},"#,
    r#""changes":[]},{"id":"prm_01a237177dbc7279b2e2d0c5f937636b","description":"send photos","#,
    r#""due_time":1772259200000000,"promised_by":{"id":"agent-1","role":"agent"},"#,
    r#""make_time":1772000360000000,"state":"open","keep_time":0,"kept_by":null,"#,
    r#""changes":[{"previous_due_time":1772172800000000,"new_due_time":1772259200000000,"#,
    r#""reason":"engineer ill","customer_consent":"ok by phone","actor":{"id":"agent-1","#,
    r#""role":"agent"},"time":1772000480000000}]}],"#,
    r#""compensations":[{"id":"cps_01a237177dbc7279b2e2d0c9254110c1","kind":"refund","#,
    r#""description":"refund","amount_minor":50000,"currency_code":"CNY","#,
    r#""state":"pending_approval","authority_limit_minor":20000,"approval_required":true,"#,
    r#""proposed_by":{"id":"agent-1","role":"agent"},"propose_time":1772000540000000,"#,
    r#""decided_by":null,"decide_time":0,"decision_note":""},"#,
    r#"{"id":"cps_01a237177dbc7279b2e2d0cbf8172c3a","kind":"gift","description":"voucher","#,
    r#""amount_minor":1000,"currency_code":"CNY","state":"approved","#,
    r#""authority_limit_minor":20000,"approval_required":false,"proposed_by":{"id":"agent-1","#,
    r#""role":"agent"},"propose_time":1772000600000000,"decided_by":{"id":"agent-1","#,
    r#""role":"agent"},"decide_time":1772000600000000,"decision_note":""}],"#,
    r#""escalations":[{"from":"agent","to":"supervisor","reason":"sensitive_complainant","#,
    r#""clock_id":"","promise_id":"","escalated_to_id":"","note":"media,"#,
    r#" legal or social-background complainant: escalated at once","actor":{"id":"complaints","#,
    r#""role":"system"},"time":1772000000000000},{"from":"supervisor","to":"manager","#,
    r#""reason":"customer_request","clock_id":"","promise_id":"","escalated_to_id":"","#,
    r#""note":"asked for the boss","actor":{"id":"agent-1","role":"agent"},"#,
    r#""time":1772001080000000}],"history":[{"from":null,"to":"received","#,
    r#""actor":{"id":"agent-1","role":"agent"},"time":1772000000000000,"reason":""},"#,
    r#"{"from":"received","to":"acknowledged","actor":{"id":"agent-1","role":"agent"},"#,
    r#""time":1772000180000000,"reason":"called back"},{"from":"acknowledged","#,
    r#""to":"investigating","actor":{"id":"agent-1","role":"agent"},"time":1772000660000000,"#,
    r#""reason":"looking"},{"from":"investigating","to":"solution_proposed","#,
    r#""actor":{"id":"agent-1","role":"agent"},"time":1772000840000000,"reason":"solution-1"},"#,
    r#"{"from":"solution_proposed","to":"investigating","actor":{"id":"agent-1","#,
    r#""role":"agent"},"time":1772000900000000,"reason":"too slow"},{"from":"investigating","#,
    r#""to":"solution_proposed","actor":{"id":"agent-1","role":"agent"},"#,
    r#""time":1772000960000000,"reason":"solution-2"},{"from":"solution_proposed","#,
    r#""to":"solution_accepted","actor":{"id":"agent-1","role":"agent"},"#,
    r#""time":1772001020000000,"reason":"fine"},{"from":"solution_accepted","to":"resolved","#,
    r#""actor":{"id":"agent-1","role":"agent"},"time":1772001140000000,"reason":""},"#,
    r#"{"from":"resolved","to":"callback_done","actor":{"id":"agent-1","role":"agent"},"#,
    r#""time":1772172800000000,"reason":"happy"},{"from":"callback_done","to":"closed","#,
    r#""actor":{"id":"agent-1","role":"agent"},"time":1772172860000000,"reason":"done"}],"#,
    r#""reopen_count":0,"references":[{"kind":"order","id":"ord-9"}],"#,
    r#""receive_time":1771996400000000,"created_by":{"id":"agent-1","role":"agent"},"#,
    r#""create_time":1772000000000000,"update_time":1772172860000000,"#,
    r#""close_time":1772172860000000,"visit_requested":true,"version":22,"timeline_seq":30}"#,
);

/// A complaint just created with the most demanding defaults (customers service unreachable).
const DEFAULTED: &str = concat!(
    r#"{"id":"cmp_defaulted","customer_id":"cus_2","title":"late","description":"","#,
    r#""customer_demand":"","nature":"waiting_delay","severity":"low","channel":"web","#,
    r#""traits":[],"state":"received","assigned_agent_id":"","escalation_level":"agent","#,
    r#""customer":{"tier":"a","key_account":true,"region":"urban","defaulted":true,"#,
    r#""fetch_time":0},"clocks":[{"id":"first_contact-1","kind":"first_contact","#,
    r#""clock":{"spec":{"promise":"first_contact","target":"1h","calendar":"cn_service","#,
    r#""thresholds":[50,75,90],"rule":"first_contact.default","case":{"tier":"A","#,
    r#""key_account":true,"region":"urban","severity":"low","channel":"web"}},"#,
    r#""started_at":"2026-02-25T06:13:20Z"},"reported":[],"pauses":[]},{"id":"resolution-1","#,
    r#""kind":"resolution","clock":{"spec":{"promise":"resolution","target":"16h","#,
    r#""calendar":"cn_service","thresholds":[50,75,90],"rule":"resolution.default","#,
    r#""adjustment":{"rule":"resolution.key_account","factor":0.5},"base_target":"1d8h","#,
    r#""case":{"tier":"A","key_account":true,"region":"urban","severity":"low","#,
    r#""channel":"web"}},"started_at":"2026-02-25T06:13:20Z"},"reported":[],"pauses":[]}],"#,
    r#""solutions":[],"resolution":null,"callbacks":[],"promises":[],"compensations":[],"#,
    r#""escalations":[],"history":[{"from":null,"to":"received","actor":{"id":"agent-1","#,
    r#""role":"agent"},"time":1772000000000000,"reason":""}],"reopen_count":0,"references":[],"#,
    r#""receive_time":1772000000000000,"created_by":{"id":"agent-1","role":"agent"},"#,
    r#""create_time":1772000000000000,"update_time":1772000000000000,"close_time":0,"#,
    r#""visit_requested":false,"version":1,"timeline_seq":3}"#,
);

/// Timeline entries of the closed complaint: escalation, call, promise kept, promise
/// rescheduled, compensation pending and approved, state change, SLA event, callback.
const ENTRIES: [&str; 9] = [
    concat!(
        r#"{"id":"tle_01a237177dbc7279b2e2d0bce1a79783","complaint_id":"cmp_fixture","#,
        r#""sequence":4,"actor":{"id":"complaints","role":"system"},"time":1772000000000000,"#,
        r#""summary":"escalated AGENT -> SUPERVISOR (SENSITIVE_COMPLAINANT)","#,
        r#""details":{"type":"escalation","from":"agent","to":"supervisor","#,
        r#""reason":"sensitive_complainant","clock_id":"","promise_id":"","escalated_to_id":"","#,
        r#""note":"media, legal or social-background complainant: escalated at once","#,
        r#""actor":{"id":"complaints","role":"system"},"time":1772000000000000}}"#,
    ),
    concat!(
        r#"{"id":"tle_01a237177dbc7279b2e2d0c2529951b9","complaint_id":"cmp_fixture","#,
        r#""sequence":8,"actor":{"id":"agent-1","role":"agent"},"time":1772000240000000,"#,
        r#""summary":"inbound call","details":{"type":"call","direction":"inbound","#,
        r#""start_time":1772000090000000,"duration":90500000,"reached":true,"summary":"angry"}}"#,
    ),
    concat!(
        r#"{"id":"tle_01a237177dbc7279b2e2d0c7cea02266","complaint_id":"cmp_fixture","#,
        r#""sequence":11,"actor":{"id":"agent-1","role":"agent"},"time":1772000420000000,"#,
        r#""summary":"promise prm_01a237177dbc7279b2e2d0c3c13aad80 KEPT","#,
        r#""details":{"type":"promise","id":"prm_01a237177dbc7279b2e2d0c3c13aad80","#,
        r#""description":"call back with a date","due_time":1772086400000000,"#,
        r#""promised_by":{"id":"agent-1","role":"agent"},"make_time":1772000300000000,"#,
        r#""state":"kept","keep_time":1772000420000000,"kept_by":{"id":"agent-1","#,
        r#""role":"agent"},"changes":[]}}"#,
    ),
    concat!(
        r#"{"id":"tle_01a237177dbc7279b2e2d0c894c2cc47","complaint_id":"cmp_fixture","#,
        r#""sequence":12,"actor":{"id":"agent-1","role":"agent"},"time":1772000480000000,"#,
        r#""summary":"promise prm_01a237177dbc7279b2e2d0c5f937636b rescheduled","#,
        r#""details":{"type":"promise","id":"prm_01a237177dbc7279b2e2d0c5f937636b","#,
        r#""description":"send photos","due_time":1772259200000000,"#,
        r#""promised_by":{"id":"agent-1","role":"agent"},"make_time":1772000360000000,"#,
        r#""state":"open","keep_time":0,"kept_by":null,"#,
        r#""changes":[{"previous_due_time":1772172800000000,"new_due_time":1772259200000000,"#,
        r#""reason":"engineer ill","customer_consent":"ok by phone","actor":{"id":"agent-1","#,
        r#""role":"agent"},"time":1772000480000000}]}}"#,
    ),
    concat!(
        r#"{"id":"tle_01a237177dbc7279b2e2d0caa9c2aa10","complaint_id":"cmp_fixture","#,
        r#""sequence":13,"actor":{"id":"agent-1","role":"agent"},"time":1772000540000000,"#,
        r#""summary":"compensation cps_01a237177dbc7279b2e2d0c9254110c1 PENDING_APPROVAL","#,
        r#""details":{"type":"compensation","id":"cps_01a237177dbc7279b2e2d0c9254110c1","#,
        r#""kind":"refund","description":"refund","amount_minor":50000,"currency_code":"CNY","#,
        r#""state":"pending_approval","authority_limit_minor":20000,"approval_required":true,"#,
        r#""proposed_by":{"id":"agent-1","role":"agent"},"propose_time":1772000540000000,"#,
        r#""decided_by":null,"decide_time":0,"decision_note":""}}"#,
    ),
    concat!(
        r#"{"id":"tle_01a237177dbc7279b2e2d0cce8bd8d3e","complaint_id":"cmp_fixture","#,
        r#""sequence":14,"actor":{"id":"agent-1","role":"agent"},"time":1772000600000000,"#,
        r#""summary":"compensation cps_01a237177dbc7279b2e2d0cbf8172c3a APPROVED","#,
        r#""details":{"type":"compensation","id":"cps_01a237177dbc7279b2e2d0cbf8172c3a","#,
        r#""kind":"gift","description":"voucher","amount_minor":1000,"currency_code":"CNY","#,
        r#""state":"approved","authority_limit_minor":20000,"approval_required":false,"#,
        r#""proposed_by":{"id":"agent-1","role":"agent"},"propose_time":1772000600000000,"#,
        r#""decided_by":{"id":"agent-1","role":"agent"},"decide_time":1772000600000000,"#,
        r#""decision_note":""}}"#,
    ),
    concat!(
        r#"{"id":"tle_01a237177dbc7279b2e2d0d735de4f6f","complaint_id":"cmp_fixture","#,
        r#""sequence":23,"actor":{"id":"agent-1","role":"agent"},"time":1772001140000000,"#,
        r#""summary":"state SOLUTION_ACCEPTED -> RESOLVED","details":{"type":"state_change","#,
        r#""from":"solution_accepted","to":"resolved","actor":{"id":"agent-1","role":"agent"},"#,
        r#""time":1772001140000000,"reason":""}}"#,
    ),
    concat!(
        r#"{"id":"tle_01a237177dbc7279b2e2d0d9c2ebf909","complaint_id":"cmp_fixture","#,
        r#""sequence":24,"actor":{"id":"agent-1","role":"agent"},"time":1772001140000000,"#,
        r#""summary":"sla MET clock resolution-1","details":{"type":"sla","#,
        r#""id":"sle_01a237177dbc7279b2e2d0d81efe05bd","complaint_id":"cmp_fixture","#,
        r#""clock_id":"resolution-1","clock_kind":"resolution","kind":"met","#,
        r#""threshold_percent":0,"deadline":1772082860000000,"escalation_level":null,"#,
        r#""promise_id":"","assigned_agent_id":"agent-2","severity":"high","#,
        r#""customer_id":"cus_1","time":1772001140000000}}"#,
    ),
    concat!(
        r#"{"id":"tle_01a237177dbc7279b2e2d0ddf4f3295e","complaint_id":"cmp_fixture","#,
        r#""sequence":26,"actor":{"id":"agent-1","role":"agent"},"time":1772086460000000,"#,
        r#""summary":"callback UNREACHABLE","details":{"type":"callback","#,
        r#""outcome":"unreachable","notes":"","actor":{"id":"agent-1","role":"agent"},"#,
        r#""time":1772086400000000,"feedback_callback_id":"fbc_1"}}"#,
    ),
];

/// The SLA event stored when the resolution clock was met.
const SLA_EVENT: &str = concat!(
    r#"{"id":"sle_01a237177dbc7279b2e2d0d81efe05bd","complaint_id":"cmp_fixture","#,
    r#""clock_id":"resolution-1","clock_kind":"resolution","kind":"met","threshold_percent":0,"#,
    r#""deadline":1772082860000000,"escalation_level":null,"promise_id":"","#,
    r#""assigned_agent_id":"agent-2","severity":"high","customer_id":"cus_1","#,
    r#""time":1772001140000000}"#,
);

/// The outbox payloads: the visit request at creation and the callback request at resolution.
const OUTGOING: [&str; 2] = [
    concat!(
        r#"{"type":"request_visit","complaint_id":"cmp_fixture","customer_id":"cus_1","#,
        r#""reason":"media","due_time":1772172800000000,"assigned_agent_id":""}"#,
    ),
    concat!(
        r#"{"type":"schedule_callback","customer_id":"cus_1","complaint_id":"cmp_fixture","#,
        r#""service_end_time":1772001140000000,"served_by_agent_id":"agent-2"}"#,
    ),
];

/// 2026-02-25T06:13:20Z, the scenario's "now" at creation.
fn t0() -> DateTime<Utc> {
    DateTime::from_timestamp(1_772_000_000, 0).unwrap()
}

fn secs(n: i64) -> TimeDelta {
    TimeDelta::seconds(n)
}

/// Reads a stored body and checks that writing it again gives the same bytes.
fn read_back<T: Serialize + DeserializeOwned>(stored: &str) -> T {
    let value: T = serde_json::from_str(stored).unwrap();
    assert_eq!(serde_json::to_string(&value).unwrap(), stored);
    value
}

#[test]
fn a_complaint_stored_with_integer_times_reads_back_with_its_instants() {
    let c: Complaint = read_back(CLOSED);
    let day = TimeDelta::days(1);
    assert_eq!(c.state, State::Closed);
    assert_eq!(c.receive_time, t0() - secs(3_600));
    assert_eq!(c.create_time, t0());
    assert_eq!(c.update_time, t0() + day * 2 + secs(60));
    assert_eq!(c.close_time, Some(t0() + day * 2 + secs(60)));
    assert_eq!(c.customer.fetch_time, Some(t0() - secs(60)));
    assert_eq!(c.history[0].time, t0());
    assert_eq!(c.history[9].time, t0() + day * 2 + secs(60));

    let rejected = &c.solutions[0];
    assert_eq!(rejected.propose_time, t0() + secs(840));
    assert_eq!(rejected.decide_time, Some(t0() + secs(900)));
    assert_eq!(rejected.plan[0].due_time, Some(t0() + day));
    assert_eq!(c.solutions[1].decide_time, Some(t0() + secs(1_020)));

    let resolution = c.resolution.as_ref().unwrap();
    assert_eq!(resolution.resolve_time, t0() + secs(1_140));
    assert_eq!(c.callbacks[0].time, t0() + day);
    assert_eq!(c.callbacks[1].time, t0() + day * 2);

    let kept = &c.promises[0];
    assert_eq!(kept.due_time, t0() + day);
    assert_eq!(kept.make_time, t0() + secs(300));
    assert_eq!(kept.keep_time, Some(t0() + secs(420)));
    let open = &c.promises[1];
    assert_eq!(open.state, PromiseState::Open);
    assert_eq!(open.keep_time, None, "0 reads as not kept");
    assert_eq!(open.due_time, t0() + day * 3);
    assert_eq!(open.changes[0].previous_due_time, t0() + day * 2);
    assert_eq!(open.changes[0].new_due_time, t0() + day * 3);
    assert_eq!(open.changes[0].time, t0() + secs(480));

    let pending = &c.compensations[0];
    assert_eq!(pending.state, CompensationState::PendingApproval);
    assert_eq!(pending.propose_time, t0() + secs(540));
    assert_eq!(pending.decide_time, None, "0 reads as not decided");
    assert_eq!(c.compensations[1].decide_time, Some(t0() + secs(600)));
    assert_eq!(c.escalations[1].time, t0() + secs(1_080));
}

#[test]
fn zero_reads_as_unset_in_a_complaint_created_with_defaulted_facts() {
    let c: Complaint = read_back(DEFAULTED);
    assert!(c.customer.defaulted);
    assert_eq!(c.customer.fetch_time, None);
    assert_eq!(c.close_time, None);
    assert_eq!(c.receive_time, t0());
    assert_eq!(c.create_time, t0());
    assert_eq!(c.update_time, t0());
}

#[test]
fn timeline_entries_sla_events_and_outbox_payloads_read_back() {
    let entries: Vec<Entry> = ENTRIES.iter().map(|e| read_back(e)).collect();
    assert_eq!(entries[0].time, t0());
    let Details::Call(call) = &entries[1].details else {
        panic!("a call entry expected");
    };
    assert_eq!(call.start_time, Some(t0() + secs(90)));
    assert_eq!(call.duration, TimeDelta::milliseconds(90_500));
    let Details::Promise(rescheduled) = &entries[3].details else {
        panic!("a promise entry expected");
    };
    assert_eq!(rescheduled.keep_time, None);
    let Details::Compensation(pending) = &entries[4].details else {
        panic!("a compensation entry expected");
    };
    assert_eq!(pending.decide_time, None);

    let event: SlaEvent = read_back(SLA_EVENT);
    assert_eq!(event.kind, SlaEventKind::Met);
    assert_eq!(event.deadline, t0() + secs(82_860));
    assert_eq!(event.time, t0() + secs(1_140));

    let [visit, callback] = OUTGOING.map(read_back::<Outgoing>);
    let Outgoing::RequestVisit { due_time, .. } = visit else {
        panic!("a visit request expected");
    };
    assert_eq!(due_time, t0() + TimeDelta::days(2));
    let Outgoing::ScheduleCallback {
        service_end_time, ..
    } = callback
    else {
        panic!("a callback request expected");
    };
    assert_eq!(service_end_time, t0() + secs(1_140));
}
