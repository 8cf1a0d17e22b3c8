//! The background sweep: visits past their due time plus the policy's grace are marked
//! MISSED (a breach: counted, and their plan flagged overdue), plans are re-planned as the
//! horizon moves and paused plans resume, care tasks coming up are created, and field-job
//! clocks are checked. Every step goes through the same use cases as the API.

use std::time::Duration;

use csops_runtime::{audit, time, Error};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::gauge::Gauge;
use std::sync::Arc;
use tokio_util::sync::CancellationToken;
use tracing::Instrument as _;

use crate::app::Visits;
use crate::domain::plan::PlanState;

/// How many rows one sweep step takes at a time.
const BATCH: u32 = 500;

/// The sweep's metrics.
#[derive(Debug, Clone, Default)]
pub struct Gauges {
    overdue: Gauge,
    missed: Counter,
}

impl Gauges {
    /// Registers `csops_visits_overdue` and `csops_visits_missed_total`.
    pub fn register(metrics: &csops_observability::Metrics) -> Self {
        let gauges = Self::default();
        metrics.register(
            "csops_visits_overdue",
            "Visits not done in time: missed, or open past their due time plus grace (a breach of the visit plan)",
            gauges.overdue.clone(),
        );
        metrics.register(
            "csops_visits_missed",
            "Visits the sweep marked missed because their due time plus grace passed",
            gauges.missed.clone(),
        );
        gauges
    }
}

/// What one sweep did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Swept {
    /// Visits marked missed.
    pub missed: usize,
    /// Plans re-planned.
    pub plans: usize,
}

/// One sweep over what is due now; its changes are recorded in the audit log as the job
/// `visits-sweep`.
pub async fn sweep_once(core: &Visits, gauges: &Gauges) -> Result<Swept, Error> {
    audit::as_job("visits-sweep", sweep_due(core, gauges)).await
}

async fn sweep_due(core: &Visits, gauges: &Gauges) -> Result<Swept, Error> {
    let now = time::now();
    let grace = core.rules.visits.grace;
    let mut swept = Swept::default();
    loop {
        let due = core.store.open_due_before(now - grace, BATCH).await?;
        for id in &due {
            let visit = core
                .change_visit(id, "", crate::app::visits::Booked::No, |v, now| {
                    v.miss(
                        "not done by its due time and the grace after it".into(),
                        now,
                    )?;
                    Ok(Vec::new())
                })
                .await;
            match visit {
                Ok(visit) => {
                    swept.missed += 1;
                    gauges.missed.inc();
                    tracing::warn!(visit_id = %visit.id, customer_id = %visit.customer_id, "visit missed");
                    if visit.source.kind == crate::domain::visit::SourceKind::Plan {
                        core.change_plan(&visit.plan_id, "", None, |plan, _, _| {
                            plan.overdue = true;
                            Ok(true)
                        })
                        .await?;
                    }
                }
                // Changed meanwhile (completed, cancelled): nothing to mark.
                Err(Error::FailedPrecondition { .. }) => {}
                Err(e) => return Err(e),
            }
        }
        if due.len() < BATCH as usize || core.stop.is_cancelled() {
            break;
        }
    }
    loop {
        let ids = core.store.plans_to_sweep(now, BATCH).await?;
        for id in &ids {
            let zone = core.rules.zone;
            let rules = core.rules.visits.clone();
            core.change_plan(id, "", None, |plan, _, now| {
                if plan.state == PlanState::Paused
                    && plan
                        .pause
                        .as_ref()
                        .and_then(|p| p.resume_time)
                        .is_some_and(|t| t <= now)
                {
                    plan.resume(zone, &rules, now)?;
                }
                Ok(true)
            })
            .await?;
            swept.plans += 1;
        }
        if ids.len() < BATCH as usize || core.stop.is_cancelled() {
            break;
        }
    }
    core.sweep_field_jobs(now).await?;
    gauges
        .overdue
        .set(core.store.count_overdue(now - grace).await?);
    Ok(swept)
}

/// Sweeps every `interval` until `stop`.
pub async fn run(core: Arc<Visits>, gauges: Gauges, interval: Duration, stop: CancellationToken) {
    loop {
        // Each sweep is a root span of its own: background work shows in the traces too.
        let span = tracing::info_span!(
            "visits.sweep",
            otel.name = "visits sweep",
            otel.kind = "internal",
            otel.status_code = tracing::field::Empty,
        );
        if let Err(error) = sweep_once(&core, &gauges).instrument(span.clone()).await {
            span.record("otel.status_code", "ERROR");
            tracing::warn!(error = %error, "visits sweep failed");
        }
        tokio::select! {
            () = stop.cancelled() => return,
            () = tokio::time::sleep(interval) => {}
        }
    }
}
