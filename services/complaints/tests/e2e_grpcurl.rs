//! End to end with the real grpcurl (issue 4, "Done when"): a complaints service on PostgreSQL
//! next to the real customers service (its own PostgreSQL database), both in-process on random
//! 127.0.0.1 ports. Every step of the complaint process is driven through grpcurl and read back
//! from its JSON output.
#![allow(clippy::unwrap_used, unreachable_pub)]

use std::net::SocketAddr;
use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Utc};
mod common;

use common::{fast_policy, start_complaints, start_customers};
use csops_complaints::Config;
use serde_json::{json, Value};

const COMPLAINTS: &str = "csops.complaints.v1.ComplaintsService";
const CUSTOMERS: &str = "csops.customers.v1.CustomersService";
/// grpcurl exits with 64 + the gRPC status code when the call fails; -max-time ends a stream
/// with DEADLINE_EXCEEDED (4).
const GRPCURL_DEADLINE_EXCEEDED: i32 = 64 + 4;

/// Runs `grpcurl -plaintext -emit-defaults -d BODY [extra] ADDR METHOD`, asserts its exit code
/// and returns every JSON message it printed.
async fn grpcurl_exit(
    addr: SocketAddr,
    method: &str,
    body: &Value,
    extra: &[&str],
    expected_code: i32,
) -> Vec<Value> {
    let output = tokio::process::Command::new(csops_testkit::tools::grpcurl())
        .args(["-plaintext", "-emit-defaults", "-d", &body.to_string()])
        .args(extra)
        .arg(addr.to_string())
        .arg(method)
        .output()
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(
        output.status.code(),
        Some(expected_code),
        "grpcurl {method} {body}\nstdout: {stdout}\nstderr: {stderr}"
    );
    serde_json::Deserializer::from_str(&stdout)
        .into_iter::<Value>()
        .collect::<Result<_, _>>()
        .unwrap_or_else(|e| panic!("grpcurl {method} printed no JSON ({e}): {stdout}"))
}

/// A unary call that must succeed; returns its response.
async fn grpcurl(addr: SocketAddr, method: &str, body: Value) -> Value {
    let mut messages = grpcurl_exit(addr, method, &body, &[], 0).await;
    assert_eq!(messages.len(), 1, "{method}: {messages:?}");
    messages.remove(0)
}

fn agent() -> Value {
    json!({"id": "agent-1", "role": "ACTOR_ROLE_AGENT"})
}

async fn create_customer(
    cus: SocketAddr,
    name: &str,
    tier: &str,
    vip: bool,
    region: &str,
) -> String {
    let created = grpcurl(
        cus,
        &format!("{CUSTOMERS}/CreateCustomer"),
        json!({
            "customer": {"displayName": name, "tier": tier, "keyAccount": vip, "region": region},
            "requestId": format!("e2e-{name}"),
            "actorId": "agent-1",
        }),
    )
    .await;
    created["customer"]["id"].as_str().unwrap().to_owned()
}

async fn create_complaint(cmp: SocketAddr, customer_id: &str, request_id: &str) -> Value {
    let created = grpcurl(
        cmp,
        &format!("{COMPLAINTS}/CreateComplaint"),
        json!({
            "complaint": {
                "customerId": customer_id,
                "title": "Broadband drops every evening",
                "description": "Drops between 19:00 and 22:00 since last week.",
                "customerDemand": "A line that works",
                "nature": "COMPLAINT_NATURE_PRODUCT_QUALITY",
                "severity": "SEVERITY_MEDIUM",
                "channel": "CHANNEL_HOTLINE",
            },
            "requestId": request_id,
            "actor": agent(),
        }),
    )
    .await;
    created["complaint"].clone()
}

async fn get(cmp: SocketAddr, id: &str) -> Value {
    grpcurl(
        cmp,
        &format!("{COMPLAINTS}/GetComplaint"),
        json!({"complaintId": id}),
    )
    .await["complaint"]
        .clone()
}

/// Calls a state-changing RPC on a complaint as agent-1 and returns the complaint it answers.
async fn step(cmp: SocketAddr, rpc: &str, id: &str, mut body: Value) -> Value {
    body["complaintId"] = json!(id);
    body["actor"] = agent();
    let response = grpcurl(cmp, &format!("{COMPLAINTS}/{rpc}"), body).await;
    response["complaint"].clone()
}

fn state(c: &Value) -> &str {
    c["state"].as_str().unwrap()
}

fn clock<'a>(c: &'a Value, kind: &str) -> &'a Value {
    c["clocks"]
        .as_array()
        .unwrap()
        .iter()
        .rev()
        .find(|k| k["kind"] == kind)
        .unwrap_or_else(|| panic!("no {kind} clock: {c}"))
}

fn time(v: &Value) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(v.as_str().unwrap())
        .unwrap_or_else(|e| panic!("{v}: {e}"))
        .with_timezone(&Utc)
}

fn resolution_deadline(c: &Value) -> DateTime<Utc> {
    time(&clock(c, "SLA_CLOCK_KIND_RESOLUTION")["deadline"])
}

/// Polls `check` every 200 ms for up to 20 s.
async fn wait_for(what: &str, mut check: impl AsyncFnMut() -> bool) {
    for _ in 0..100 {
        if check().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    panic!("timed out waiting for {what}");
}

fn propose_body() -> Value {
    json!({
        "measures": ["replace the modem", "re-splice the drop cable"],
        "plan": [{"description": "engineer visit", "ownerId": "eng-1", "dueTime": "2099-01-01T10:00:00Z"}],
    })
}

fn resolve_body(summary: &str) -> Value {
    json!({"resolution": {
        "summary": summary,
        "rootCause": "faulty modem batch",
        "correctiveAction": "batch recalled",
        "lessonLearned": "check the batch on the first call",
        "companyAtFault": true,
        "accountableParty": "modem supplier, batch 2026-11",
    }})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_complaint_goes_through_every_step_on_postgres_with_the_real_grpcurl() {
    let customers_db = csops_testkit::postgres::fresh_database().await;
    let complaints_db = csops_testkit::postgres::fresh_database().await;
    let customers = start_customers(&customers_db, None).await;
    let customers_addr = customers.addr;
    let mut config = Config::for_tests(&format!("http://{customers_addr}"));
    config.sla_policy_file = Some(fast_policy());
    config.sla_watch_interval = Duration::from_millis(100);
    let complaints = start_complaints(&complaints_db, config).await;
    let (cus, cmp) = (customers.addr, complaints.addr);
    let test_start = Utc::now() - chrono::TimeDelta::seconds(1);

    // (a) An A-tier VIP urban customer and a C-tier rural one get different deadlines.
    let vip = create_customer(cus, "Wang Fang", "CUSTOMER_TIER_A", true, "REGION_URBAN").await;
    let rural = create_customer(cus, "Li Qiang", "CUSTOMER_TIER_C", false, "REGION_RURAL").await;
    let later = create_customer(cus, "Zhao Lei", "CUSTOMER_TIER_C", false, "REGION_RURAL").await;
    let main = create_complaint(cmp, &vip, "e2e-main").await;
    let id = main["id"].as_str().unwrap().to_owned();
    // First contact at once (the fast policy gives 1 s): this complaint is not the breach.
    let acked = step(
        cmp,
        "AcknowledgeComplaint",
        &id,
        json!({"note": "called back"}),
    )
    .await;
    assert_eq!(state(&acked), "COMPLAINT_STATE_ACKNOWLEDGED");
    let breaching = create_complaint(cmp, &rural, "e2e-breach").await;
    let breaching_id = breaching["id"].as_str().unwrap().to_owned();
    let (main, breaching) = (get(cmp, &id).await, get(cmp, &breaching_id).await);
    assert_eq!(main["customer"]["tier"], "CUSTOMER_TIER_A");
    assert_eq!(main["customer"]["keyAccount"], true);
    assert_eq!(main["customer"]["defaulted"], false);
    assert_eq!(breaching["customer"]["tier"], "CUSTOMER_TIER_C");
    assert_eq!(breaching["customer"]["region"], "REGION_RURAL");
    let main_resolution = clock(&main, "SLA_CLOCK_KIND_RESOLUTION");
    let rural_resolution = clock(&breaching, "SLA_CLOCK_KIND_RESOLUTION");
    assert_eq!(
        main_resolution["target"], "7200s",
        "key account: half of 4 h"
    );
    assert_eq!(rural_resolution["target"], "21600s", "rural: 6 h");
    assert!(
        resolution_deadline(&main) + chrono::TimeDelta::hours(3) < resolution_deadline(&breaching),
        "the VIP is due hours earlier: {} vs {}",
        main_resolution["deadline"],
        rural_resolution["deadline"]
    );

    // The customers service stops in the middle: a complaint is still accepted (with the most
    // demanding defaults) and work on the others goes on.
    customers.stop().await;
    let during = create_complaint(cmp, &later, "e2e-outage").await;
    let during_id = during["id"].as_str().unwrap().to_owned();
    assert_eq!(during["customer"]["defaulted"], true);
    assert_eq!(
        during["customer"]["keyAccount"], true,
        "most demanding default"
    );
    let defaulted_deadline = resolution_deadline(&during);
    let investigating = step(cmp, "StartInvestigation", &id, json!({})).await;
    assert_eq!(state(&investigating), "COMPLAINT_STATE_INVESTIGATING");

    // (b) Waiting on the customer pauses the resolution clock and moves its deadline out.
    let before_pause = resolution_deadline(&investigating);
    step(
        cmp,
        "PauseClocks",
        &id,
        json!({"reason": "PAUSE_REASON_WAITING_ON_CUSTOMER", "note": "waiting for the router photos"}),
    )
    .await;
    tokio::time::sleep(Duration::from_millis(2500)).await;
    // Read after the pause's own second: libs/sla counts a pause from the next whole second.
    let paused = get(cmp, &id).await;
    let paused_clock = clock(&paused, "SLA_CLOCK_KIND_RESOLUTION");
    assert_eq!(paused_clock["state"], "SLA_CLOCK_STATE_PAUSED");
    assert!(
        time(&paused_clock["deadline"]) > before_pause,
        "while paused the deadline is the one that holds if resumed now"
    );
    step(cmp, "ResumeClocks", &id, json!({"note": "photos received"})).await;
    let resumed = get(cmp, &id).await;
    let resumed_clock = clock(&resumed, "SLA_CLOCK_KIND_RESOLUTION");
    assert_eq!(resumed_clock["state"], "SLA_CLOCK_STATE_RUNNING");
    assert!(
        resolution_deadline(&resumed) >= before_pause + chrono::TimeDelta::seconds(2),
        "the pause moved the deadline: {before_pause} -> {}",
        resumed_clock["deadline"]
    );

    // ExplainClock says why: libs/sla's explanation, the pause included.
    let explained = grpcurl(
        cmp,
        &format!("{COMPLAINTS}/ExplainClock"),
        json!({"complaintId": id, "clockId": resumed_clock["id"]}),
    )
    .await["explanation"]
        .clone();
    assert_eq!(explained["rule"]["ruleId"], "resolution.default");
    assert_eq!(explained["rule"]["policyVersion"], "test-fast");
    assert_eq!(explained["rule"]["baseTarget"], "14400s");
    assert_eq!(explained["rule"]["target"], "7200s");
    assert_eq!(explained["rule"]["factor"], 0.5);
    assert_eq!(explained["calendar"]["calendarId"], "always");
    assert_eq!(explained["calendar"]["alwaysOpen"], true);
    assert_eq!(explained["deadline"], resumed_clock["deadline"]);
    let pauses = explained["pauses"].as_array().unwrap();
    assert_eq!(pauses.len(), 1, "{explained}");
    assert_eq!(pauses[0]["reason"], "PAUSE_REASON_WAITING_ON_CUSTOMER");
    assert_eq!(pauses[0]["note"], "waiting for the router photos");
    assert_ne!(pauses[0]["workingTime"], "0s");
    let summary = explained["summary"].as_str().unwrap();
    assert!(
        summary.contains("resolution.default") && summary.contains("resolution.key_account"),
        "{summary}"
    );

    // The customers service is back: the complaint accepted meanwhile is corrected.
    let customers = start_customers(&customers_db, Some(customers_addr)).await;
    wait_for("the outage complaint to be re-evaluated", async || {
        get(cmp, &during_id).await["customer"]["defaulted"] == false
    })
    .await;
    let corrected = get(cmp, &during_id).await;
    assert_eq!(corrected["customer"]["tier"], "CUSTOMER_TIER_C");
    assert_eq!(corrected["customer"]["region"], "REGION_RURAL");
    assert_eq!(
        clock(&corrected, "SLA_CLOCK_KIND_RESOLUTION")["target"],
        "21600s"
    );
    assert!(resolution_deadline(&corrected) > defaulted_deadline);

    // Solution, acceptance, resolution.
    let proposed = step(cmp, "ProposeSolution", &id, propose_body()).await;
    assert_eq!(state(&proposed), "COMPLAINT_STATE_SOLUTION_PROPOSED");
    let accepted = step(cmp, "AcceptSolution", &id, json!({"customerComment": "ok"})).await;
    assert_eq!(state(&accepted), "COMPLAINT_STATE_SOLUTION_ACCEPTED");
    let resolved = step(cmp, "ResolveComplaint", &id, resolve_body("modem replaced")).await;
    assert_eq!(state(&resolved), "COMPLAINT_STATE_RESOLVED");
    assert_eq!(resolved["resolution"]["rootCause"], "faulty modem batch");

    // (d) A bad callback reopens it and starts the 2-day callback-fix clock.
    let unhappy = grpcurl(
        cmp,
        &format!("{COMPLAINTS}/RecordCallback"),
        json!({
            "complaintId": id,
            "outcome": "CALLBACK_OUTCOME_UNSATISFIED",
            "notes": "still drops at night",
            "requestId": "e2e-callback-1",
            "actor": agent(),
        }),
    )
    .await["complaint"]
        .clone();
    assert_eq!(state(&unhappy), "COMPLAINT_STATE_REOPENED");
    assert_eq!(unhappy["reopenCount"], 1);
    let fix = clock(&unhappy, "SLA_CLOCK_KIND_CALLBACK_FIX");
    assert_eq!(fix["target"], "172800s", "2 days to fix");
    assert_eq!(fix["state"], "SLA_CLOCK_STATE_RUNNING");

    // Fixed for good: investigated again (a reopened complaint cannot skip it), propose,
    // accept, resolve, a happy callback, close.
    let mut skip = propose_body();
    skip["complaintId"] = json!(id);
    skip["actor"] = agent();
    // grpcurl exits 64 + the status code: 73 is FAILED_PRECONDITION.
    grpcurl_exit(
        cmp,
        &format!("{COMPLAINTS}/ProposeSolution"),
        &skip,
        &[],
        73,
    )
    .await;
    step(cmp, "StartInvestigation", &id, json!({})).await;
    step(cmp, "ProposeSolution", &id, propose_body()).await;
    step(cmp, "AcceptSolution", &id, json!({})).await;
    step(
        cmp,
        "ResolveComplaint",
        &id,
        resolve_body("line re-spliced"),
    )
    .await;
    let happy = grpcurl(
        cmp,
        &format!("{COMPLAINTS}/RecordCallback"),
        json!({
            "complaintId": id,
            "outcome": "CALLBACK_OUTCOME_SATISFIED",
            "notes": "works now",
            "requestId": "e2e-callback-2",
            "actor": agent(),
        }),
    )
    .await["complaint"]
        .clone();
    assert_eq!(state(&happy), "COMPLAINT_STATE_CALLBACK_DONE");
    assert_eq!(
        clock(&happy, "SLA_CLOCK_KIND_CALLBACK_FIX")["state"],
        "SLA_CLOCK_STATE_MET",
        "the second resolution met the fix clock"
    );
    let closed = step(cmp, "CloseComplaint", &id, json!({"note": "done"})).await;
    assert_eq!(state(&closed), "COMPLAINT_STATE_CLOSED");
    let path: Vec<&str> = closed["stateHistory"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["toState"].as_str().unwrap())
        .collect();
    assert_eq!(
        path,
        [
            "COMPLAINT_STATE_RECEIVED",
            "COMPLAINT_STATE_ACKNOWLEDGED",
            "COMPLAINT_STATE_INVESTIGATING",
            "COMPLAINT_STATE_SOLUTION_PROPOSED",
            "COMPLAINT_STATE_SOLUTION_ACCEPTED",
            "COMPLAINT_STATE_RESOLVED",
            "COMPLAINT_STATE_REOPENED",
            "COMPLAINT_STATE_INVESTIGATING",
            "COMPLAINT_STATE_SOLUTION_PROPOSED",
            "COMPLAINT_STATE_SOLUTION_ACCEPTED",
            "COMPLAINT_STATE_RESOLVED",
            "COMPLAINT_STATE_CALLBACK_DONE",
            "COMPLAINT_STATE_CLOSED",
        ],
        "every step, in order"
    );

    // (c) The rural complaint got no first contact within 1 s: breached, escalated to the
    // supervisor, recorded on its timeline, listed as breached.
    wait_for("the breach to escalate", async || {
        get(cmp, &breaching_id).await["escalationLevel"] == "ESCALATION_LEVEL_SUPERVISOR"
    })
    .await;
    let escalated = get(cmp, &breaching_id).await;
    assert_eq!(
        clock(&escalated, "SLA_CLOCK_KIND_FIRST_CONTACT")["state"],
        "SLA_CLOCK_STATE_BREACHED"
    );
    let escalations = escalated["escalations"].as_array().unwrap();
    assert_eq!(escalations.len(), 1, "{escalations:?}");
    let timeline = grpcurl(
        cmp,
        &format!("{COMPLAINTS}/ListTimeline"),
        json!({"complaintId": breaching_id, "kinds": ["TIMELINE_ENTRY_KIND_ESCALATION"]}),
    )
    .await;
    assert_eq!(
        timeline["entries"].as_array().unwrap().len(),
        1,
        "{timeline}"
    );
    let breached = grpcurl(
        cmp,
        &format!("{COMPLAINTS}/ListComplaints"),
        json!({"slaState": "SLA_STATE_FILTER_BREACHED", "customerId": rural}),
    )
    .await;
    assert_eq!(breached["complaints"][0]["id"], breaching_id.as_str());

    // WatchSlaEvents streams until -max-time ends it (grpcurl then exits 64 + DEADLINE_EXCEEDED);
    // `since` replays the stored events first, the breach and its escalation among them.
    let events = grpcurl_exit(
        cmp,
        &format!("{COMPLAINTS}/WatchSlaEvents"),
        &json!({
            "complaintId": breaching_id,
            "since": test_start.to_rfc3339_opts(SecondsFormat::Secs, true),
        }),
        &["-max-time", "2"],
        GRPCURL_DEADLINE_EXCEEDED,
    )
    .await;
    let kinds: Vec<&str> = events
        .iter()
        .map(|e| e["event"]["kind"].as_str().unwrap())
        .collect();
    assert!(kinds.contains(&"SLA_EVENT_KIND_BREACHED"), "{kinds:?}");
    assert!(kinds.contains(&"SLA_EVENT_KIND_ESCALATED"), "{kinds:?}");
    assert!(events
        .iter()
        .all(|e| e["event"]["complaintId"] == breaching_id.as_str()));

    // CheckReply finds a forbidden phrase.
    let checked = grpcurl(
        cmp,
        &format!("{COMPLAINTS}/CheckReply"),
        json!({"text": "对不起，公司的规定就是这样的。", "agentId": "agent-1", "complaintId": id}),
    )
    .await;
    assert_eq!(checked["clean"], false);
    let found = &checked["violations"][0];
    assert_eq!(found["matchedText"], "公司的规定就是这样的");
    assert_eq!(found["category"], "VIOLATION_CATEGORY_HIDING_BEHIND_RULES");
    assert!(!found["suggestion"].as_str().unwrap().is_empty());

    // Nothing was lost: all three complaints are there.
    let all = grpcurl(cmp, &format!("{COMPLAINTS}/ListComplaints"), json!({})).await;
    let mut ids: Vec<&str> = all["complaints"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    ids.sort_unstable();
    let mut want = [id.as_str(), breaching_id.as_str(), during_id.as_str()];
    want.sort_unstable();
    assert_eq!(ids, want);

    complaints.stop().await;
    customers.stop().await;
}
