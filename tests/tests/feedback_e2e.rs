//! Feedback end to end (issue 12, "Done when"): the four services on PostgreSQL, each with its
//! own database, in-process on random ports, driven with the real grpcurl. A resolved complaint
//! yields a callback (complaints' outbox → feedback); an unhappy callback reopens the complaint
//! with its 2-day fix clock (feedback's outbox → complaints), once even when both events are
//! delivered again; after the second resolution a happy callback lets the complaint close.
#![allow(clippy::unwrap_used, unreachable_pub)]

use std::net::SocketAddr;
use std::process::Command;
use std::time::Duration;

use csops_observability::Metrics;
use csops_runtime::Settings;
use csops_testkit::server::Running;
use csops_testkit::tools::grpcurl;
use serde_json::{json, Value};
use sqlx::AnyPool;

const COMPLAINTS: &str = "csops.complaints.v1.ComplaintsService";
const CUSTOMERS: &str = "csops.customers.v1.CustomersService";
const FEEDBACK: &str = "csops.feedback.v1.FeedbackService";

/// Calls `method` on `addr` with the real grpcurl and returns the answer as JSON.
async fn call(addr: SocketAddr, method: &str, body: Value) -> Value {
    let (grpcurl, target, called) = (grpcurl(), addr.to_string(), method.to_owned());
    let output = tokio::task::spawn_blocking(move || {
        Command::new(grpcurl)
            .args(["-plaintext", "-d", &body.to_string(), &target, &called])
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

/// Polls `check` until it gives a value, for up to 60 s.
async fn wait_for<T>(what: &str, mut check: impl AsyncFnMut() -> Option<T>) -> T {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn free_addr() -> SocketAddr {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
}

fn agent() -> Value {
    json!({"id": "agent-1", "role": "ACTOR_ROLE_AGENT"})
}

struct Suite {
    customers: Running,
    complaints: Running,
    visits: Running,
    feedback: Running,
    complaints_db: String,
    feedback_db: String,
}

impl Suite {
    /// The four services on fresh PostgreSQL databases, each told where its neighbours are.
    async fn start() -> Self {
        let (complaints_addr, visits_addr, feedback_addr) = (free_addr(), free_addr(), free_addr());
        let url = |addr: SocketAddr| format!("http://{addr}");
        let customers_db = csops_testkit::postgres::fresh_database().await;
        let complaints_db = csops_testkit::postgres::fresh_database().await;
        let visits_db = csops_testkit::postgres::fresh_database().await;
        let feedback_db = csops_testkit::postgres::fresh_database().await;

        let config = csops_customers::Config {
            visits_url: url(visits_addr),
            outbox_interval: Duration::from_millis(100),
            ..csops_customers::Config::default()
        };
        let app = csops_customers::App::build_with(
            &Settings::for_tests(&customers_db),
            &config,
            Metrics::new(),
        )
        .await
        .unwrap();
        let customers = Running::spawn(app.local_addr(), |stop| async move {
            app.run_until_stopped(stop).await.unwrap();
        });

        let mut settings = Settings::for_tests(&visits_db);
        settings.listen_addr = visits_addr;
        let config = csops_visits::Config::for_tests(&url(customers.addr), &url(feedback_addr));
        let app = csops_visits::App::build(&settings, config, Metrics::new())
            .await
            .unwrap();
        let visits = Running::spawn(app.local_addr(), |stop| async move {
            app.run_until_stopped(stop).await.unwrap();
        });

        let mut settings = Settings::for_tests(&complaints_db);
        settings.listen_addr = complaints_addr;
        let config = csops_complaints::Config {
            visits_url: url(visits_addr),
            feedback_url: url(feedback_addr),
            ..csops_complaints::Config::for_tests(&url(customers.addr))
        };
        let app = csops_complaints::App::build(&settings, config, Metrics::new())
            .await
            .unwrap();
        let complaints = Running::spawn(app.local_addr(), |stop| async move {
            app.run_until_stopped(stop).await.unwrap();
        });

        let mut settings = Settings::for_tests(&feedback_db);
        settings.listen_addr = feedback_addr;
        let config = csops_feedback::Config {
            customers_url: url(customers.addr),
            ..csops_feedback::Config::for_tests(&url(complaints_addr))
        };
        let app = csops_feedback::App::build(&settings, config, Metrics::new())
            .await
            .unwrap();
        let feedback = Running::spawn(app.local_addr(), |stop| async move {
            app.run_until_stopped(stop).await.unwrap();
        });
        Self {
            customers,
            complaints,
            visits,
            feedback,
            complaints_db,
            feedback_db,
        }
    }

    async fn stop(self) {
        self.feedback.stop().await;
        self.complaints.stop().await;
        self.visits.stop().await;
        self.customers.stop().await;
    }
}

/// Delivers a service's already delivered events to `destination` once more, as a relay that
/// lost its acknowledgement would: the receiver sees every one of them a second time.
async fn redeliver(db: &str, destination: &str) -> u64 {
    sqlx::any::install_default_drivers();
    let pool = AnyPool::connect(db).await.unwrap();
    let done = sqlx::query(
        "UPDATE outbox_events SET delivered_time = 0, next_attempt_time = 0, attempts = 0 \
         WHERE destination = $1 AND delivered_time > 0",
    )
    .bind(destination)
    .execute(&pool)
    .await
    .unwrap()
    .rows_affected();
    pool.close().await;
    done
}

/// Whether every event to `destination` has been delivered.
async fn all_delivered(db: &str, destination: &str) -> bool {
    sqlx::any::install_default_drivers();
    let pool = AnyPool::connect(db).await.unwrap();
    let (pending,): (i64,) = sqlx::query_as(
        "SELECT COUNT(*) FROM outbox_events WHERE destination = $1 AND delivered_time = 0",
    )
    .bind(destination)
    .fetch_one(&pool)
    .await
    .unwrap();
    pool.close().await;
    pending == 0
}

async fn complaint(cmp: SocketAddr, id: &str) -> Value {
    call(
        cmp,
        &format!("{COMPLAINTS}/GetComplaint"),
        json!({"complaintId": id}),
    )
    .await["complaint"]
        .clone()
}

async fn step(cmp: SocketAddr, rpc: &str, id: &str, mut body: Value) -> Value {
    body["complaintId"] = json!(id);
    body["actor"] = agent();
    call(cmp, &format!("{COMPLAINTS}/{rpc}"), body).await["complaint"].clone()
}

/// Investigate, propose, accept and resolve: the complaint ends RESOLVED.
async fn resolve(cmp: SocketAddr, id: &str, summary: &str) {
    step(cmp, "StartInvestigation", id, json!({})).await;
    step(
        cmp,
        "ProposeSolution",
        id,
        json!({"measures": ["replace the modem"],
               "plan": [{"description": "engineer visit", "ownerId": "eng-1",
                         "dueTime": "2099-01-01T10:00:00Z"}]}),
    )
    .await;
    step(cmp, "AcceptSolution", id, json!({})).await;
    let resolved = step(
        cmp,
        "ResolveComplaint",
        id,
        json!({"resolution": {"summary": summary, "rootCause": "faulty modem batch",
               "correctiveAction": "batch recalled", "lessonLearned": "check the batch",
               "companyAtFault": true, "accountableParty": "modem supplier"}}),
    )
    .await;
    assert_eq!(resolved["state"], "COMPLAINT_STATE_RESOLVED", "{resolved}");
}

/// The callbacks feedback holds for a complaint, oldest first.
async fn callbacks(fb: SocketAddr, complaint_id: &str) -> Vec<Value> {
    let listed = call(
        fb,
        &format!("{FEEDBACK}/ListCallbacks"),
        json!({"subjectKind": "SUBJECT_KIND_COMPLAINT", "subjectId": complaint_id,
               "states": ["CALLBACK_STATE_SCHEDULED", "CALLBACK_STATE_COMPLETED"]}),
    )
    .await;
    let mut all = listed["callbacks"].as_array().cloned().unwrap_or_default();
    all.sort_by_key(|c| c["createTime"].as_str().unwrap_or("").to_owned());
    all
}

fn states(c: &Value) -> Vec<String> {
    c["stateHistory"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["toState"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resolved_complaint_is_called_back_an_unhappy_callback_reopens_it_once_and_a_happy_one_lets_it_close(
) {
    let suite = Suite::start().await;
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
