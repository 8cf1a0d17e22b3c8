//! The background sweep: counts the callbacks past their due time and the callback findings
//! past their fix deadline (breaches, exported as gauges for the alerts), and runs the churn
//! detector. Every step goes through the same use cases as the API.

use std::sync::Arc;
use std::time::Duration;

use csops_runtime::{audit, time, Error};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::gauge::Gauge;
use tokio_util::sync::CancellationToken;
use tracing::Instrument as _;

use crate::app::Feedback;

/// The sweep's metrics.
#[derive(Debug, Clone, Default)]
pub struct Gauges {
    callbacks_overdue: Gauge,
    findings_overdue: Gauge,
    churn_signals: Counter,
}

impl Gauges {
    /// Registers `csops_feedback_callbacks_overdue`, `csops_feedback_findings_overdue` and
    /// `csops_feedback_churn_signals_total`.
    pub fn register(metrics: &csops_observability::Metrics) -> Self {
        let gauges = Self::default();
        metrics.register(
            "csops_feedback_callbacks_overdue",
            "Callbacks still open past their due time (no callback within the 1-2 day window: a breach)",
            gauges.callbacks_overdue.clone(),
        );
        metrics.register(
            "csops_feedback_findings_overdue",
            "Callback findings not fixed by their 2-day fix deadline (a breach)",
            gauges.findings_overdue.clone(),
        );
        metrics.register(
            "csops_feedback_churn_signals",
            "Churn-risk signals the detector raised",
            gauges.churn_signals.clone(),
        );
        gauges
    }
}

/// What one sweep found.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Swept {
    /// Callbacks open past their due time.
    pub callbacks_overdue: i64,
    /// Findings open past their fix deadline.
    pub findings_overdue: i64,
    /// Churn-risk signals raised.
    pub churn_signals: usize,
}

/// One sweep at the current time; the churn-risk signals it raises are recorded in the audit
/// log as the job `feedback-sweep`.
pub async fn sweep_once(core: &Feedback, gauges: &Gauges) -> Result<Swept, Error> {
    audit::as_job("feedback-sweep", sweep_now(core, gauges)).await
}

async fn sweep_now(core: &Feedback, gauges: &Gauges) -> Result<Swept, Error> {
    let now = time::now();
    let (callbacks_overdue, findings_overdue) = core.overdue(now).await?;
    gauges.callbacks_overdue.set(callbacks_overdue);
    gauges.findings_overdue.set(findings_overdue);
    let churn_signals = core.sweep_churn(now).await?;
    gauges.churn_signals.inc_by(churn_signals as u64);
    Ok(Swept {
        callbacks_overdue,
        findings_overdue,
        churn_signals,
    })
}

/// Sweeps every `interval` until `stop`.
pub async fn run(core: Arc<Feedback>, gauges: Gauges, interval: Duration, stop: CancellationToken) {
    loop {
        // Each sweep is a root span of its own: background work shows in the traces too.
        let span = tracing::info_span!(
            "feedback.sweep",
            otel.name = "feedback sweep",
            otel.kind = "internal",
            otel.status_code = tracing::field::Empty,
        );
        if let Err(error) = sweep_once(&core, &gauges).instrument(span.clone()).await {
            span.record("otel.status_code", "ERROR");
            tracing::warn!(error = %error, "feedback sweep failed");
        }
        tokio::select! {
            () = stop.cancelled() => return,
            () = tokio::time::sleep(interval) => {}
        }
    }
}
