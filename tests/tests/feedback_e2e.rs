//! Feedback end to end (issue 12, "Done when"): the four services on PostgreSQL, each with its
//! own database, in-process on random ports, driven with the real grpcurl. A resolved complaint
//! yields a callback (complaints' outbox → feedback); an unhappy callback reopens the complaint
//! with its 2-day fix clock (feedback's outbox → complaints), once even when both events are
//! delivered again; after the second resolution a happy callback lets the complaint close.
#![allow(clippy::unwrap_used, unreachable_pub)]

mod common;
use common::flow::{
    agent, all_delivered, call, callbacks, complaint, redeliver, resolve, states, step, wait_for,
    AllFour, COMPLAINTS, CUSTOMERS, FEEDBACK,
};
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resolved_complaint_is_called_back_an_unhappy_callback_reopens_it_once_and_a_happy_one_lets_it_close(
) {
    let suite = AllFour::start().await;
    let (cus, cmp, fb) = (
        suite.customers.addr,
        suite.complaints.addr,
        suite.feedback.addr,
    );
    let customer = call(
        cus,
        &format!("{CUSTOMERS}/CreateCustomer"),
        json!({"requestId": "fb-e2e", "actorId": "agent-1", "customer": {
            "displayName": "Qian Yu", "tier": "CUSTOMER_TIER_A", "region": "REGION_URBAN",
            "consents": [{"channel": "CONTACT_CHANNEL_PHONE_CALL", "granted": true}]}}),
    )
    .await["customer"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let created = call(
        cmp,
        &format!("{COMPLAINTS}/CreateComplaint"),
        json!({"requestId": "fb-e2e-1", "actor": agent(), "complaint": {
            "customerId": customer, "title": "Broadband drops every evening",
            "description": "Drops between 19:00 and 22:00.", "customerDemand": "A line that works",
            "nature": "COMPLAINT_NATURE_PRODUCT_QUALITY", "severity": "SEVERITY_MEDIUM",
            "channel": "CHANNEL_HOTLINE"}}),
    )
    .await;
    let id = created["complaint"]["id"].as_str().unwrap().to_owned();
    step(
        cmp,
        "AcknowledgeComplaint",
        &id,
        json!({"note": "called the customer"}),
    )
    .await;
    resolve(cmp, &id, "modem replaced").await;

    // Complaints' outbox asks feedback for the callback, due 1-2 days after the resolution.
    let first = wait_for("the callback for the resolved complaint", async || {
        callbacks(fb, &id).await.into_iter().next()
    })
    .await;
    assert_eq!(first["customerId"], customer.as_str());
    assert_eq!(first["state"], "CALLBACK_STATE_SCHEDULED");
    // The same event delivered again schedules nothing new.
    wait_for("complaints' events to feedback delivered", async || {
        all_delivered(&suite.complaints_db, "feedback")
            .await
            .then_some(())
    })
    .await;
    assert!(redeliver(&suite.complaints_db, "feedback").await >= 1);
    wait_for("the redelivery", async || {
        all_delivered(&suite.complaints_db, "feedback")
            .await
            .then_some(())
    })
    .await;
    assert_eq!(callbacks(fb, &id).await.len(), 1, "one callback per event");

    // Reached and unhappy, with a finding: the complaint is reopened with a 2-day fix clock.
    let unhappy = call(
        fb,
        &format!("{FEEDBACK}/RecordCallbackAttempt"),
        json!({"callbackId": first["id"], "reached": true,
               "outcome": "CALLBACK_OUTCOME_UNSATISFIED", "notes": "still drops at night",
               "findings": [{"description": "drops at night", "ownerAgentId": "eng-3"}],
               "actor": {"id": "agent-9", "role": "ACTOR_ROLE_AGENT"}}),
    )
    .await["callback"]
        .clone();
    assert_eq!(unhappy["state"], "CALLBACK_STATE_COMPLETED");
    assert_eq!(unhappy["findings"][0]["ownerAgentId"], "eng-3");
    let reopened = wait_for("the complaint to reopen", async || {
        let c = complaint(cmp, &id).await;
        (c["state"] == "COMPLAINT_STATE_REOPENED").then_some(c)
    })
    .await;
    assert_eq!(reopened["reopenCount"], 1);
    let fix = reopened["clocks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["kind"] == "SLA_CLOCK_KIND_CALLBACK_FIX")
        .unwrap_or_else(|| panic!("no fix clock: {reopened}"))
        .clone();
    assert_eq!(fix["target"], "172800s", "2 days to fix");
    assert_eq!(fix["state"], "SLA_CLOCK_STATE_RUNNING");
    // Feedback shows the outcome delivered.
    wait_for("the outcome marked delivered", async || {
        let c = call(
            fb,
            &format!("{FEEDBACK}/GetCallback"),
            json!({"callbackId": first["id"]}),
        )
        .await;
        (c["callback"]["complaintDelivery"] == "DELIVERY_STATE_DELIVERED").then_some(())
    })
    .await;
    // The outcome delivered a second time reopens nothing more.
    assert!(redeliver(&suite.feedback_db, "complaints").await >= 1);
    wait_for("the outcome redelivered", async || {
        all_delivered(&suite.feedback_db, "complaints")
            .await
            .then_some(())
    })
    .await;
    let still = complaint(cmp, &id).await;
    assert_eq!(still["reopenCount"], 1, "{still}");
    assert_eq!(
        states(&still)
            .iter()
            .filter(|s| *s == "COMPLAINT_STATE_REOPENED")
            .count(),
        1
    );

    // Fixed: resolved again, a second callback, the customer is happy, the complaint closes.
    resolve(cmp, &id, "line re-spliced").await;
    let second = wait_for("the second callback", async || {
        callbacks(fb, &id)
            .await
            .into_iter()
            .find(|c| c["state"] == "CALLBACK_STATE_SCHEDULED")
    })
    .await;
    assert_ne!(second["id"], first["id"]);
    call(
        fb,
        &format!("{FEEDBACK}/RecordCallbackAttempt"),
        json!({"callbackId": second["id"], "reached": true,
               "outcome": "CALLBACK_OUTCOME_SATISFIED", "notes": "works now",
               "actor": {"id": "agent-9", "role": "ACTOR_ROLE_AGENT"}}),
    )
    .await;
    wait_for("the happy callback to reach complaints", async || {
        (complaint(cmp, &id).await["state"] == "COMPLAINT_STATE_CALLBACK_DONE").then_some(())
    })
    .await;
    let closed = step(cmp, "CloseComplaint", &id, json!({"note": "done"})).await;
    assert_eq!(closed["state"], "COMPLAINT_STATE_CLOSED");
    assert_eq!(
        states(&closed),
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
        ]
    );
    suite.stop().await;
}
