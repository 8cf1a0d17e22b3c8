//! The complaint's life through the real grpcurl, shared by the end-to-end tests: the four
//! services on PostgreSQL ([`AllFour`]), calls as JSON, and the steps an agent takes.

use std::net::SocketAddr;
use std::process::Command;
use std::time::Duration;

use csops_observability::Metrics;
use csops_runtime::Settings;
use csops_testkit::server::Running;
use csops_testkit::tools::grpcurl;
use serde_json::{json, Value};
use sqlx::AnyPool;

pub const COMPLAINTS: &str = "csops.complaints.v1.ComplaintsService";
pub const CUSTOMERS: &str = "csops.customers.v1.CustomersService";
pub const FEEDBACK: &str = "csops.feedback.v1.FeedbackService";

/// Calls `method` on `addr` with the real grpcurl and returns the answer as JSON.
pub async fn call(addr: SocketAddr, method: &str, body: Value) -> Value {
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
pub async fn wait_for<T>(what: &str, mut check: impl AsyncFnMut() -> Option<T>) -> T {
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

pub fn free_addr() -> SocketAddr {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
}

pub fn agent() -> Value {
    json!({"id": "agent-1", "role": "ACTOR_ROLE_AGENT"})
}

pub struct AllFour {
    pub customers: Running,
    pub complaints: Running,
    pub visits: Running,
    pub feedback: Running,
    pub complaints_db: String,
    pub feedback_db: String,
}

impl AllFour {
    /// The four services on fresh PostgreSQL databases, each told where its neighbours are.
    pub async fn start() -> Self {
        Self::start_with(None).await
    }

    /// Like [`AllFour::start`], complaints running with the SLA policy in `complaints_policy`
    /// (a test policy with short clocks makes the breach watcher act during a test).
    pub async fn start_with(complaints_policy: Option<std::path::PathBuf>) -> Self {
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
            sla_policy_file: complaints_policy,
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

    pub async fn stop(self) {
        self.feedback.stop().await;
        self.complaints.stop().await;
        self.visits.stop().await;
        self.customers.stop().await;
    }
}

/// Delivers a service's already delivered events to `destination` once more, as a relay that
/// lost its acknowledgement would: the receiver sees every one of them a second time.
pub async fn redeliver(db: &str, destination: &str) -> u64 {
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
pub async fn all_delivered(db: &str, destination: &str) -> bool {
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

pub async fn complaint(cmp: SocketAddr, id: &str) -> Value {
    call(
        cmp,
        &format!("{COMPLAINTS}/GetComplaint"),
        json!({"complaintId": id}),
    )
    .await["complaint"]
        .clone()
}

pub async fn step(cmp: SocketAddr, rpc: &str, id: &str, mut body: Value) -> Value {
    body["complaintId"] = json!(id);
    body["actor"] = agent();
    call(cmp, &format!("{COMPLAINTS}/{rpc}"), body).await["complaint"].clone()
}

/// Investigate, propose, accept and resolve: the complaint ends RESOLVED.
pub async fn resolve(cmp: SocketAddr, id: &str, summary: &str) {
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
pub async fn callbacks(fb: SocketAddr, complaint_id: &str) -> Vec<Value> {
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

pub fn states(c: &Value) -> Vec<String> {
    c["stateHistory"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["toState"].as_str().unwrap().to_owned())
        .collect()
}
