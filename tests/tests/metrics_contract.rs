//! The Grafana dashboard and the Prometheus alerts query metrics the services really export:
//! both services run in-process, and every metric name (and every `state` label value) the
//! dashboard's and the alerts' expressions use must appear in what their metrics port serves.
//! A renamed metric or label fails here instead of leaving an empty panel or a silent alert.
#![allow(clippy::unwrap_used, unreachable_pub)]

use std::collections::BTreeSet;
use std::time::Duration;

use csops_observability::Metrics;
use csops_proto::complaints::v1::complaints_service_client::ComplaintsServiceClient;
use csops_testkit::tools::repo_root;
use serde_json::Value;

mod common;
use common::{complaint_request, Suite};

const DASHBOARD: &str = "k8s/components/monitoring/grafana/csops-dashboard.json";
const ALERTS: &str = "k8s/components/monitoring/prometheusrule.yaml";

/// Every `expr` string anywhere in a JSON value.
fn exprs(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            for (key, v) in map {
                match v {
                    Value::String(s) if key == "expr" => out.push(s.clone()),
                    _ => exprs(v, out),
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|v| exprs(v, out)),
        _ => {}
    }
}

/// The csops and gRPC metric names a PromQL expression uses.
fn metric_names(expr: &str) -> BTreeSet<String> {
    expr.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == ':'))
        .filter(|t| t.starts_with("csops_") || t.starts_with("grpc_"))
        .map(str::to_owned)
        .collect()
}

/// The values a PromQL expression matches the `state` label against.
fn state_values(expr: &str) -> BTreeSet<String> {
    expr.match_indices("state=\"")
        .filter_map(|(i, m)| {
            let rest = &expr[i + m.len()..];
            rest.find('"').map(|end| rest[..end].to_owned())
        })
        .collect()
}

/// Metric families in Prometheus text, by the names a query may use (a histogram's
/// `_bucket`, `_sum` and `_count` series included).
fn exported(text: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    for line in text.lines() {
        let mut words = line.split_whitespace();
        if words.next() == Some("#") && words.next() == Some("TYPE") {
            let (Some(name), Some(kind)) = (words.next(), words.next()) else {
                continue;
            };
            names.insert(name.to_owned());
            match kind {
                "histogram" => {
                    for suffix in ["_bucket", "_sum", "_count"] {
                        names.insert(format!("{name}{suffix}"));
                    }
                }
                // OpenMetrics names a counter family without its `_total` sample suffix.
                "counter" => {
                    names.insert(format!("{name}_total"));
                }
                _ => {}
            }
        }
    }
    names
}

fn read(path: &str) -> String {
    std::fs::read_to_string(repo_root().join(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dashboard_and_alerts_query_what_the_services_export() {
    let mut queries = Vec::new();
    exprs(
        &serde_json::from_str(&read(DASHBOARD)).unwrap(),
        &mut queries,
    );
    let dashboard_queries = queries.len();
    let rule: Value = serde_yaml_ng::from_str(&read(ALERTS)).unwrap();
    exprs(&rule, &mut queries);
    assert!(dashboard_queries > 0, "{DASHBOARD} has no queries");
    assert!(queries.len() > dashboard_queries, "{ALERTS} has no rules");

    let dir = tempfile::tempdir().unwrap();
    let customers_metrics = Metrics::new();
    let complaints_metrics = Metrics::new();
    let visits_metrics = Metrics::new();
    let suite = Suite::start(
        dir.path(),
        customers_metrics.clone(),
        complaints_metrics.clone(),
        visits_metrics.clone(),
    )
    .await;
    // A complaint for a new customer: calls to both services, and complaints' own call to
    // customers, so the server and client families have samples (empty ones are not shown).
    let customer_id = suite.create_customer("Metrics", "metrics-contract").await;
    ComplaintsServiceClient::connect(format!("http://{}", suite.complaints.addr))
        .await
        .unwrap()
        .create_complaint(complaint_request(
            &customer_id,
            "Router drops every evening",
            "metrics-contract",
        ))
        .await
        .unwrap();
    // The SLA and outbox gauges are set by the watcher's and the relay's first rounds.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while !["csops_sla_clocks{", "csops_outbox_pending{"]
        .iter()
        .all(|g| complaints_metrics.encode().contains(g))
        || !visits_metrics.encode().contains("csops_visits_overdue ")
    {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the gauges never appeared"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Feedback, on its own database: its sweep sets the overdue gauges on its first round.
    let feedback_metrics = Metrics::new();
    let feedback_app = csops_feedback::App::build(
        &csops_runtime::Settings::for_tests(&csops_runtime::Settings::sqlite_url(
            dir.path(),
            "feedback",
        )),
        csops_feedback::Config::for_tests(""),
        feedback_metrics.clone(),
    )
    .await
    .unwrap();
    let feedback =
        csops_testkit::server::Running::spawn(feedback_app.local_addr(), |stop| async move {
            feedback_app.run_until_stopped(stop).await.unwrap();
        });
    while !feedback_metrics
        .encode()
        .contains("csops_feedback_callbacks_overdue ")
    {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the feedback gauges never appeared"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let text = format!(
        "{}\n{}\n{}\n{}",
        customers_metrics.encode(),
        complaints_metrics.encode(),
        visits_metrics.encode(),
        feedback_metrics.encode()
    );
    feedback.stop().await;
    suite.stop().await;

    let names = exported(&text);
    let mut missing = Vec::new();
    for query in &queries {
        for name in metric_names(query) {
            if !names.contains(&name) {
                missing.push(format!("{name} (in `{query}`)"));
            }
        }
        for state in state_values(query) {
            if !text.contains(&format!("state=\"{state}\"")) {
                missing.push(format!("state=\"{state}\" (in `{query}`)"));
            }
        }
    }
    assert!(
        missing.is_empty(),
        "queried but not exported:\n  {}\nexported: {names:?}",
        missing.join("\n  ")
    );
}

/// The 98 % on-time standard (DOMAIN §4) lives in the SLA policy; the alert's threshold and the
/// dashboard's target lines must say the same number, so changing the policy without them (or
/// them without the policy) fails here.
#[test]
fn the_on_time_alert_and_dashboard_use_the_policys_target() {
    let policy = csops_sla::Policy::from_toml_str(
        &read("k8s/base/sla/default.toml"),
        "k8s/base/sla/default.toml",
    )
    .unwrap();
    let target = policy.on_time_target();
    let rule: Value = serde_yaml_ng::from_str(&read(ALERTS)).unwrap();
    let mut alerts = Vec::new();
    exprs(&rule, &mut alerts);
    let thresholds: Vec<f64> = alerts
        .iter()
        .filter(|e| e.contains("csops_sla_on_time_ratio"))
        .map(|e| {
            e.rsplit('<')
                .next()
                .and_then(|n| n.trim().parse().ok())
                .unwrap_or_else(|| panic!("no `< threshold` in {e}"))
        })
        .collect();
    assert!(!thresholds.is_empty(), "no on-time alert in {ALERTS}");
    for t in thresholds {
        assert!(
            (t - target).abs() < 1e-9,
            "{ALERTS}: {t} vs the policy's {target}"
        );
    }
    let dashboard: Value = serde_json::from_str(&read(DASHBOARD)).unwrap();
    let mut lines = Vec::new();
    target_values(&dashboard, &mut lines);
    assert!(!lines.is_empty(), "no 98 % target line in {DASHBOARD}");
    for t in lines {
        assert!(
            (t - target).abs() < 1e-9,
            "{DASHBOARD}: {t} vs the policy's {target}"
        );
    }
}

/// The on-time target lines of the dashboard: `vector(x)` queries and threshold steps of the
/// on-time panels (values between 0.5 and 1).
fn target_values(value: &Value, out: &mut Vec<f64>) {
    match value {
        Value::Object(map) => {
            if let Some(Value::String(expr)) = map.get("expr") {
                if let Some(x) = expr
                    .strip_prefix("vector(")
                    .and_then(|r| r.strip_suffix(')'))
                {
                    out.extend(x.trim().parse::<f64>().ok());
                }
            }
            if let Some(Value::Number(n)) = map.get("value") {
                if let Some(x) = n.as_f64().filter(|x| (0.5..1.0).contains(x)) {
                    out.push(x);
                }
            }
            map.values().for_each(|v| target_values(v, out));
        }
        Value::Array(items) => items.iter().for_each(|v| target_values(v, out)),
        _ => {}
    }
}
