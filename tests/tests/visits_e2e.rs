//! Visits end to end with the real grpcurl and all three services: a new customer file gets
//! a visit plan through the customers outbox, a key account's complaint
//! (complaints → its outbox → visits) becomes an in-person visit for the account manager, and
//! a finished field job leaves the 1-2 day callback request for feedback in visits' outbox.
#![allow(clippy::unwrap_used, unreachable_pub)]

mod common;

use std::process::Command;
use std::time::Duration;

use chrono::Utc;
use csops_observability::Metrics;
use csops_testkit::tools::grpcurl;
use serde_json::{json, Value};

use common::Suite;

/// Calls `method` on `addr` with the real grpcurl and returns the answer as JSON.
async fn call(addr: std::net::SocketAddr, method: &str, body: Value) -> Value {
    let (grpcurl, addr, called) = (grpcurl(), addr.to_string(), method.to_owned());
    let output = tokio::task::spawn_blocking(move || {
        Command::new(grpcurl)
            .args(["-plaintext", "-d", &body.to_string(), &addr, &called])
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    assert!(
        output.status.success(),
        "{method} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap()
}

fn ts(t: chrono::DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_vip_complaint_becomes_an_in_person_visit_and_a_finished_field_job_asks_for_a_callback() {
    let dir = tempfile::tempdir().unwrap();
    let visits_metrics = Metrics::new();
    let suite = Suite::start(dir.path(), Metrics::new(), Metrics::new(), visits_metrics).await;
    let (customers, complaints, visits) = (
        suite.customers.addr,
        suite.complaints.addr,
        suite.visits.addr,
    );

    let customer = call(
        customers,
        "csops.customers.v1.CustomersService/CreateCustomer",
        json!({"request_id": "e2e-vip", "actor_id": "agent-1", "customer": {
            "display_name": "Chen Jing", "tier": "CUSTOMER_TIER_A", "key_account": true,
            "region": "REGION_URBAN", "owner_agent_id": "am-3"}}),
    )
    .await;
    let customer_id = customer["customer"]["id"].as_str().unwrap().to_owned();
    // The customers outbox tells visits about the new file: its plan appears by itself.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        let plans = call(
            visits,
            "csops.visits.v1.VisitsService/ListVisitPlans",
            json!({"customer_id": customer_id}),
        )
        .await;
        if let Some(plan) = plans["plans"].as_array().and_then(|p| p.first()) {
            assert_eq!(plan["ownerAgentId"], "am-3");
            assert_eq!(plan["keyAccount"], true);
            assert_eq!(plan["nextVisitInPerson"], true);
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no plan from the customer event"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let complaint = call(
        complaints,
        "csops.complaints.v1.ComplaintsService/CreateComplaint",
        json!({"request_id": "e2e-complaint", "actor": {"id": "agent-1", "role": "ACTOR_ROLE_AGENT"},
               "complaint": {"customer_id": customer_id, "title": "Line down since Monday",
                 "nature": "COMPLAINT_NATURE_PRODUCT_QUALITY", "severity": "SEVERITY_HIGH",
                 "channel": "CHANNEL_HOTLINE"}}),
    )
    .await;
    let complaint_id = complaint["complaint"]["id"].as_str().unwrap().to_owned();

    // The complaints relay delivers the visit request; wait for it with a generous deadline.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    let visit = loop {
        let found = call(
            visits,
            "csops.visits.v1.VisitsService/ListVisits",
            json!({"customer_id": customer_id, "purposes": ["VISIT_PURPOSE_COMPLAINT_FOLLOW_UP"]}),
        )
        .await;
        if let Some(v) = found["visits"].as_array().and_then(|v| v.first()) {
            break v.clone();
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no visit from the complaint"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(visit["method"], "VISIT_METHOD_IN_PERSON");
    assert_eq!(visit["assignedAgentId"], "am-3");
    assert_eq!(visit["source"]["kind"], "VISIT_SOURCE_KIND_COMPLAINT");
    assert_eq!(visit["source"]["sourceId"], complaint_id.as_str());

    // A key account's installation: half the 28-day urban limit.
    let job = call(
        visits,
        "csops.visits.v1.VisitsService/CreateFieldJob",
        json!({"request_id": "e2e-job", "actor": {"id": "disp-1", "role": "ACTOR_ROLE_AGENT"},
               "job": {"customer_id": customer_id, "kind": "FIELD_JOB_KIND_INSTALLATION",
                 "description": "Fibre to the office", "engineer_id": "eng-5"}}),
    )
    .await;
    let job_id = job["job"]["id"].as_str().unwrap().to_owned();
    let completion = job["job"]["clocks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["kind"] == "SLA_CLOCK_KIND_COMPLETION")
        .unwrap()
        .clone();
    assert_eq!(completion["target"], "1209600s", "{completion}");
    let engineer = json!({"id": "eng-5", "role": "ACTOR_ROLE_ENGINEER"});
    let start = Utc::now() - chrono::TimeDelta::minutes(30);
    call(
        visits,
        "csops.visits.v1.VisitsService/AgreeFieldJobWindow",
        json!({"field_job_id": job_id, "actor": engineer, "window": {
            "start_time": ts(start), "end_time": ts(start + chrono::TimeDelta::hours(2)),
            "agreed_with_customer": "phone call 10:12"}}),
    )
    .await;
    call(
        visits,
        "csops.visits.v1.VisitsService/RecordFieldJobArrival",
        json!({"field_job_id": job_id, "actor": engineer}),
    )
    .await;
    call(
        visits,
        "csops.visits.v1.VisitsService/StartFieldJob",
        json!({"field_job_id": job_id, "actor": engineer,
               "explanation": "Fibre from the street box; two hours; no cost"}),
    )
    .await;
    let done = call(
        visits,
        "csops.visits.v1.VisitsService/CompleteFieldJob",
        json!({"field_job_id": job_id, "actor": engineer,
               "completion": {"summary": "Installed and tested", "customer_signed_off": true}}),
    )
    .await;
    assert_eq!(done["job"]["state"], "FIELD_JOB_STATE_COMPLETED");

    // The callback request waits in visits' outbox for feedback (not deployed here).
    let settings = csops_runtime::Settings::for_tests(&csops_runtime::Settings::sqlite_url(
        dir.path(),
        "visits",
    ));
    let pool = csops_runtime::db::connect(&settings.database)
        .await
        .unwrap();
    let kinds: Vec<(String, String)> = sqlx::query_as(
        "SELECT kind, aggregate_id FROM outbox_events WHERE destination = 'feedback' AND delivered_time = 0",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    assert!(
        kinds.contains(&("schedule_callback".to_owned(), job_id.clone())),
        "{kinds:?}"
    );
    suite.stop().await;
}
