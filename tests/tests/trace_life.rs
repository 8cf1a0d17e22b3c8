//! A complaint's life can be followed from its trace (issue 15, "Done when"): the four services
//! on PostgreSQL export to a real OTLP receiver while a complaint is created, resolved (the
//! callback request leaves through complaints' outbox to feedback) and called back unhappy
//! (the outcome leaves through feedback's outbox and reopens the complaint).
//!
//! - Each outbox delivery continues the trace of the change that wrote the event: the
//!   resolution's trace holds complaints' ResolveComplaint, the `send feedback` hop and
//!   feedback's ScheduleCallback; the unhappy callback's trace holds feedback's
//!   RecordCallbackAttempt, the `send complaints` hop and complaints' RecordCallback.
//! - Every later change of the complaint links to the trace of the call that created it, so
//!   one trace id leads to all of them; the relay's batch spans link to the traces they serve.
//! - The breach watcher's check of a complaint continues the complaint's trace (its
//!   escalation is found there), and its batch span links to the traces it serves.
//! - Store calls are database spans inside the RPC span, with the conventional attributes, the
//!   pooled connection wait as an attribute, and no parameter values.
#![allow(clippy::unwrap_used, unreachable_pub)]

use std::time::Duration;

use csops_observability::{LogFormat, TelemetryConfig};
use csops_testkit::otlp::{descends_from, OtlpReceiver, ReceivedSpan};
use serde_json::json;

mod common;
use common::flow::{
    agent, call, callbacks, complaint, resolve, step, wait_for, AllFour, COMPLAINTS, CUSTOMERS,
    FEEDBACK,
};

const NAME: &str = "Trace Life Customer";
const TITLE: &str = "Fibre box blinks red";

fn rpc(service: &str, method: &str) -> String {
    format!("{service}/{method}")
}

/// The one span named `name` with `kind`, when `pick` holds for it.
fn one<'a>(
    spans: &'a [ReceivedSpan],
    name: &str,
    kind: &str,
    pick: impl Fn(&ReceivedSpan) -> bool,
) -> &'a ReceivedSpan {
    let found: Vec<&ReceivedSpan> = spans
        .iter()
        .filter(|s| s.name == name && s.kind == kind && pick(s))
        .collect();
    assert_eq!(found.len(), 1, "{kind} span {name}: {found:#?}");
    found[0]
}

/// Asserts that a delivery hop `send <destination>` in `trace` sits under `from` and that the
/// receiver's `to` server span sits under the hop.
fn assert_hop(spans: &[ReceivedSpan], from: &ReceivedSpan, destination: &str, to: &str) {
    // A delivery that failed once is retried in the same trace: any attempt will do.
    let hop = spans
        .iter()
        .filter(|s| s.trace_id == from.trace_id && s.name == to && s.kind == "server")
        .find_map(|received| {
            spans.iter().find(|s| {
                s.name == format!("send {destination}")
                    && s.kind == "producer"
                    && s.trace_id == from.trace_id
                    && descends_from(spans, received, &s.span_id)
            })
        })
        .unwrap_or_else(|| {
            panic!(
                "no outbox hop to {destination} above {to} in the trace of {from:#?}: {spans:#?}"
            )
        });
    assert!(
        descends_from(spans, hop, &from.span_id),
        "the hop does not continue {}: {hop:#?}",
        from.name
    );
    assert_eq!(
        hop.attributes
            .get("messaging.destination.name")
            .map(String::as_str),
        Some(destination)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_complaints_life_across_services_and_outboxes_is_followed_from_its_trace() {
    let receiver = OtlpReceiver::start().await;
    std::env::set_var("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.endpoint());
    std::env::set_var("OTEL_SERVICE_NAME", "csops-trace-life");
    let telemetry = csops_observability::init(TelemetryConfig {
        service_name: "csops-trace-life".into(),
        log_format: LogFormat::Json,
    })
    .unwrap();

    // Complaints with a 1-second first-contact clock, so the watcher breaches one here.
    let fast_policy = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../services/complaints/tests/fast-policy.toml");
    let suite = AllFour::start_with(Some(fast_policy)).await;
    let (cus, cmp, fb) = (
        suite.customers.addr,
        suite.complaints.addr,
        suite.feedback.addr,
    );
    let customer = call(
        cus,
        &rpc(CUSTOMERS, "CreateCustomer"),
        json!({"requestId": "trace-life", "actorId": "agent-1", "customer": {
            "displayName": NAME, "tier": "CUSTOMER_TIER_A", "region": "REGION_URBAN",
            "consents": [{"channel": "CONTACT_CHANNEL_PHONE_CALL", "granted": true}]}}),
    )
    .await["customer"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let created = call(
        cmp,
        &rpc(COMPLAINTS, "CreateComplaint"),
        json!({"requestId": "trace-life-1", "actor": agent(), "complaint": {
            "customerId": customer, "title": TITLE,
            "nature": "COMPLAINT_NATURE_PRODUCT_QUALITY", "severity": "SEVERITY_MEDIUM",
            "channel": "CHANNEL_HOTLINE"}}),
    )
    .await;
    let id = created["complaint"]["id"].as_str().unwrap().to_owned();
    // A second complaint nobody contacts: its first-contact clock breaches within a second.
    let ignored = call(
        cmp,
        &rpc(COMPLAINTS, "CreateComplaint"),
        json!({"requestId": "trace-life-2", "actor": agent(), "complaint": {
            "customerId": customer, "title": TITLE,
            "nature": "COMPLAINT_NATURE_SERVICE_ATTITUDE", "severity": "SEVERITY_MEDIUM",
            "channel": "CHANNEL_HOTLINE"}}),
    )
    .await["complaint"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    step(
        cmp,
        "AcknowledgeComplaint",
        &id,
        json!({"note": "called back"}),
    )
    .await;
    resolve(cmp, &id, "box replaced").await;
    let callback = wait_for("the callback for the resolved complaint", async || {
        callbacks(fb, &id).await.into_iter().next()
    })
    .await;
    call(
        fb,
        &rpc(FEEDBACK, "RecordCallbackAttempt"),
        json!({"callbackId": callback["id"], "reached": true,
               "outcome": "CALLBACK_OUTCOME_UNSATISFIED", "notes": "still blinks",
               "findings": [{"description": "box still blinks", "ownerAgentId": "eng-3"}],
               "actor": {"id": "agent-9", "role": "ACTOR_ROLE_AGENT"}}),
    )
    .await;
    wait_for("the complaint to reopen", async || {
        (complaint(cmp, &id).await["state"] == "COMPLAINT_STATE_REOPENED").then_some(())
    })
    .await;
    wait_for(
        "the ignored complaint's first contact to breach",
        async || {
            let c = complaint(cmp, &ignored).await;
            c["clocks"]
                .as_array()?
                .iter()
                .any(|k| k["state"] == "SLA_CLOCK_STATE_BREACHED")
                .then_some(())
        },
    )
    .await;
    suite.stop().await;
    telemetry.shutdown();

    let (create_name, resolve_name) = (
        rpc(COMPLAINTS, "CreateComplaint"),
        rpc(COMPLAINTS, "ResolveComplaint"),
    );
    let (attempt_name, schedule_name, record_name) = (
        rpc(FEEDBACK, "RecordCallbackAttempt"),
        rpc(FEEDBACK, "ScheduleCallback"),
        rpc(COMPLAINTS, "RecordCallback"),
    );
    let spans = receiver
        .wait_for_spans(
            |spans| {
                [&create_name, &resolve_name, &schedule_name, &record_name]
                    .iter()
                    .all(|name| spans.iter().any(|s| &&s.name == name))
            },
            Duration::from_secs(30),
        )
        .await;

    // The complaint's own trace: the create call, with its store calls inside it.
    // Two complaints were created; the resolved one is the one ResolveComplaint links to.
    let resolved = one(&spans, &resolve_name, "server", |_| true);
    let create = one(&spans, &create_name, "server", |s| {
        resolved
            .links
            .contains(&(s.trace_id.clone(), s.span_id.clone()))
    });
    let origin = (create.trace_id.clone(), create.span_id.clone());
    let insert = spans
        .iter()
        .find(|s| {
            s.attributes.get("db.operation.name").map(String::as_str) == Some("INSERT")
                && s.attributes.get("db.collection.name").map(String::as_str) == Some("complaints")
                && s.trace_id == create.trace_id
        })
        .unwrap_or_else(|| panic!("no INSERT complaints span in the create trace: {spans:#?}"));
    assert!(descends_from(&spans, insert, &create.span_id));
    assert_eq!(insert.kind, "client");
    assert_eq!(insert.name, "INSERT complaints");
    for (key, value) in [
        ("db.system.name", "postgresql"),
        ("db.query.summary", "INSERT complaints"),
        ("db.query.name", "complaints.insert"),
    ] {
        assert_eq!(
            insert.attributes.get(key).map(String::as_str),
            Some(value),
            "{key}"
        );
    }
    let wait: f64 = insert
        .attributes
        .get("db.client.connection.wait_time")
        .and_then(|w| w.parse().ok())
        .unwrap_or_else(|| panic!("the store call does not record its pool wait: {insert:#?}"));
    assert!((0.0..5.0).contains(&wait), "pool wait {wait} s");

    // Resolution: its own trace, linked to the complaint's (above), through complaints' outbox to
    // feedback.
    assert_hop(&spans, resolved, "feedback", &schedule_name);
    assert!(
        spans.iter().any(|s| s.name == "outbox relay batch"
            && s.links.iter().any(|(trace, _)| *trace == resolved.trace_id)),
        "no relay batch links to the resolution's trace"
    );

    // The unhappy callback: feedback's call, through its outbox, reopens the complaint in
    // complaints, whose change links back to the complaint's trace.
    let attempt = one(&spans, &attempt_name, "server", |_| true);
    assert_hop(&spans, attempt, "complaints", &record_name);
    assert!(
        spans.iter().any(|s| s.name == record_name
            && s.trace_id == attempt.trace_id
            && s.links.contains(&origin)),
        "RecordCallback does not link to the complaint's trace: {spans:#?}"
    );

    // The breach: the watcher's check continues the ignored complaint's trace; its batch
    // links to that trace, the check links back to the batch, and the batch saves the breach
    // set-wise (one statement per table for all the complaints it changed).
    let ignored_create = spans
        .iter()
        .find(|s| s.name == create_name && s.trace_id != create.trace_id)
        .unwrap_or_else(|| panic!("no second CreateComplaint: {spans:#?}"));
    let check = spans
        .iter()
        .find(|s| {
            s.name == "check complaint clocks"
                && s.trace_id == ignored_create.trace_id
                && s.attributes
                    .get("csops.watcher.outcome")
                    .map(String::as_str)
                    == Some("Changed")
        })
        .unwrap_or_else(|| panic!("no watcher check that changed the complaint: {spans:#?}"));
    let batch = spans
        .iter()
        .find(|s| {
            s.name == "breach watcher batch"
                && s.links
                    .iter()
                    .any(|(trace, _)| *trace == ignored_create.trace_id)
        })
        .unwrap_or_else(|| panic!("no watcher batch links to the ignored complaint's trace"));
    assert!(
        check
            .links
            .contains(&(batch.trace_id.clone(), batch.span_id.clone())),
        "the check does not link to its batch: {check:#?}"
    );
    assert!(
        spans
            .iter()
            .any(|s| s.attributes.get("db.query.name").map(String::as_str)
                == Some("complaints.save_checked")
                && s.parent_span_id == batch.span_id),
        "the breach is not saved by its batch"
    );

    // Store calls carry no parameter values: nothing personal in any span.
    for secret in [NAME, TITLE, "still blinks"] {
        for span in &spans {
            assert!(
                !span.mentions(secret),
                "span {} carries {secret:?}",
                span.name
            );
        }
    }
}
