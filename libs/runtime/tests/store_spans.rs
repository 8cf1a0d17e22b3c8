//! A store call's span, as an ops person finds it in a trace: a child of the span the call was
//! made in, the store calls made inside it (an audit entry, an outbox event) its children, the
//! pool wait and the row count on the right span, and a failure marked as one.
#![allow(clippy::unwrap_used, unreachable_pub)]

use std::time::Duration;

use csops_observability::{LogFormat, TelemetryConfig};
use csops_runtime::config::DatabaseSettings;
use csops_runtime::db::{self, Traced as _};
use csops_testkit::otlp::OtlpReceiver;
use tracing::Instrument as _;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn store_calls_nest_under_the_call_that_made_them() {
    let receiver = OtlpReceiver::start().await;
    std::env::set_var("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.endpoint());
    std::env::set_var("RUST_LOG", "warn");
    let telemetry = csops_observability::init(TelemetryConfig {
        service_name: "csops-store-spans".into(),
        log_format: LogFormat::Json,
    })
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let pool = db::connect(&DatabaseSettings {
        url: format!("sqlite://{}/spans.db?mode=rwc", dir.path().display()).into(),
        max_connections: 2,
    })
    .await
    .unwrap();

    async {
        // The outer call waits for a connection and, while it holds it, makes an inner call
        // that counts rows; then a call that fails.
        async {
            let mut conn = db::acquire(&pool).await?;
            sqlx::query("SELECT 1").execute(&mut *conn).await?;
            async {
                let rows = sqlx::query("SELECT 1 UNION ALL SELECT 2")
                    .fetch_all(&pool)
                    .await?;
                db::returned_rows(rows.len());
                Ok::<_, sqlx::Error>(())
            }
            .traced(db::span("sqlite", "SELECT", "audit_log", "audit.inner"))
            .await
        }
        .traced(db::span("sqlite", "INSERT", "customers", "customers.outer"))
        .await
        .unwrap();
        let failed = async { sqlx::query("SELECT * FROM missing").execute(&pool).await }
            .traced(db::span("sqlite", "SELECT", "missing", "missing.get"))
            .await;
        assert!(failed.is_err());
    }
    .instrument(tracing::info_span!("rpc"))
    .await;
    telemetry.shutdown_async().await;

    let spans = receiver
        .wait_for_spans(
            |spans| {
                [
                    "rpc",
                    "INSERT customers",
                    "SELECT audit_log",
                    "SELECT missing",
                ]
                .iter()
                .all(|name| spans.iter().any(|s| s.name == *name))
            },
            Duration::from_secs(20),
        )
        .await;
    let find = |name: &str| spans.iter().find(|s| s.name == name).unwrap();
    let (rpc, outer, inner, missing) = (
        find("rpc"),
        find("INSERT customers"),
        find("SELECT audit_log"),
        find("SELECT missing"),
    );
    assert_eq!(outer.parent_span_id, rpc.span_id);
    assert_eq!(inner.parent_span_id, outer.span_id, "{spans:#?}");
    assert_eq!(missing.parent_span_id, rpc.span_id, "{spans:#?}");
    assert!(outer.trace_id == rpc.trace_id && inner.trace_id == rpc.trace_id);
    assert_eq!(outer.kind, "client");
    assert_eq!(
        outer.attributes.get("db.query.name").map(String::as_str),
        Some("customers.outer")
    );
    // The wait is the outer call's (it took the connection), the rows the inner call's.
    assert!(outer
        .attributes
        .contains_key("db.client.connection.wait_time"));
    assert!(!outer.attributes.contains_key("db.response.returned_rows"));
    assert_eq!(
        inner
            .attributes
            .get("db.response.returned_rows")
            .map(String::as_str),
        Some("2")
    );
    assert!(!inner
        .attributes
        .contains_key("db.client.connection.wait_time"));
    assert_eq!(missing.status, "error", "{missing:#?}");
    assert_eq!(outer.status, "unset");
}
