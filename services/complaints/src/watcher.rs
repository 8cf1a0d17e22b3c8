//! Background work on complaints, scheduled here and run by the use cases in `crate::app`:
//! the breach watcher (at risk, breached, broken promises, escalation), the re-evaluation of
//! complaints accepted with defaulted customer facts, and the SLA gauges. Correct with several
//! replicas: each complaint is claimed under a lease and saved under its version, and each
//! escalation holds a unique key, so it happens exactly once.

use std::sync::Arc;
use std::time::Duration;

use csops_observability::TraceHeaders;
use csops_runtime::time;
use futures_util::stream::{self, StreamExt as _};
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use std::sync::atomic::AtomicU64;
use tokio_util::sync::CancellationToken;
use tracing::Instrument as _;

use crate::app::{Checked, Complaints, Reevaluated};
use crate::domain::Complaint;
use crate::store::StoreError;

const BATCH: u32 = 100;
/// Batches per sweep at most, so a stop request is seen in time even with a large backlog.
const MAX_BATCHES: usize = 200;
/// Defaulted complaints read per page by the re-evaluation.
const REEVALUATE_PAGE: u32 = 200;
/// Complaints re-evaluated at once (each is a customer lookup and a save).
const REEVALUATE_CONCURRENCY: usize = 16;

/// The SLA gauges the dashboards read.
#[derive(Debug, Clone, Default)]
pub struct SlaGauges {
    clocks: Family<Vec<(String, String)>, Gauge>,
    on_time: Gauge<f64, AtomicU64>,
}

impl SlaGauges {
    /// Registers `csops_sla_clocks{state}` and `csops_sla_on_time_ratio`.
    pub fn register(metrics: &csops_observability::Metrics) -> Self {
        let gauges = Self::default();
        metrics.register(
            "csops_sla_clocks",
            "SLA clocks of recent complaints by state (running, at_risk, paused, met, met_late, breached, cancelled)",
            gauges.clocks.clone(),
        );
        metrics.register(
            "csops_sla_on_time_ratio",
            "Share of decided SLA clocks of recent complaints that were met on time",
            gauges.on_time.clone(),
        );
        gauges
    }

    fn update(&self, core: &Complaints, complaints: &[Complaint]) {
        let now = time::now();
        let mut counts = std::collections::BTreeMap::<&'static str, i64>::new();
        for state in [
            "running",
            "at_risk",
            "paused",
            "met",
            "met_late",
            "breached",
            "cancelled",
        ] {
            counts.insert(state, 0);
        }
        for c in complaints {
            for clock in &c.clocks {
                let state = match core.rules.status(&clock.clock, now).state {
                    csops_sla::State::Running => "running",
                    csops_sla::State::AtRisk => "at_risk",
                    csops_sla::State::Paused => "paused",
                    csops_sla::State::Met => "met",
                    csops_sla::State::MetLate => "met_late",
                    csops_sla::State::Breached => "breached",
                    csops_sla::State::Cancelled => "cancelled",
                };
                *counts.entry(state).or_default() += 1;
            }
        }
        for (state, n) in &counts {
            self.clocks
                .get_or_create(&vec![("state".to_owned(), (*state).to_owned())])
                .set(*n);
        }
        let met = counts["met"];
        let decided = met + counts["met_late"] + counts["breached"];
        self.on_time.set(if decided == 0 {
            1.0
        } else {
            met as f64 / decided as f64
        });
    }
}

/// Checks that every business calendar lists the public holidays of the coming month: warns
/// for each that does not (its deadlines would count holidays as working time) and exports
/// `csops_sla_calendar_holidays_until{calendar}`, the last year listed, for an alert.
pub fn check_calendars(metrics: &csops_observability::Metrics, policy: &csops_sla::Policy) {
    let years: Family<Vec<(String, String)>, Gauge> = Family::default();
    metrics.register(
        "csops_sla_calendar_holidays_until",
        "Last year whose public holidays a business calendar of the SLA policy lists",
        years.clone(),
    );
    for (name, calendar) in policy.calendars() {
        if let Some(year) = calendar.holidays_listed_until() {
            years
                .get_or_create(&vec![("calendar".to_owned(), name.clone())])
                .set(i64::from(year));
        }
    }
    let soon = time::now().date_naive() + chrono::Days::new(31);
    for (calendar, last) in policy.calendars_missing_holidays(soon) {
        tracing::warn!(
            calendar,
            holidays_listed_until = last,
            "SLA calendar lists no public holidays for {}: its deadlines count them as working \
             time; add the year's holidays and make-up days to the SLA policy file",
            soon.format("%Y")
        );
    }
}

/// One sweep of the breach watcher: checks due complaints a batch at a time until none is
/// due (or [`MAX_BATCHES`] batches were done, so the other background work gets its turn);
/// returns how many complaints changed. A backlog (a morning when thousands of clocks cross a
/// threshold together) is worked off at once instead of a batch per interval. A stop request
/// ends the sweep after the complaint being checked, so shutdown never waits for a backlog.
pub async fn sweep(core: &Complaints) -> Result<usize, StoreError> {
    let mut changed = 0;
    for _ in 0..MAX_BATCHES {
        let (batch_changed, fetched) = sweep_batch(core).await?;
        changed += batch_changed;
        if fetched < BATCH as usize || stopping(core) {
            break;
        }
    }
    Ok(changed)
}

fn stopping(core: &Complaints) -> bool {
    core.stop.is_cancelled()
}

/// Checks one batch of due complaints; returns how many changed and how many were due. A
/// complaint whose check fails (a lost race, a busy database) is logged and left for a later
/// sweep; only an unreachable database ends the sweep.
async fn sweep_batch(core: &Complaints) -> Result<(usize, usize), StoreError> {
    let now = time::now();
    let due = core.store.due_for_check(now, BATCH).await?;
    let fetched = due.len();
    if due.is_empty() {
        return Ok((0, 0));
    }
    // The batch serves many complaints, so it links to each one's trace; each check continues
    // its complaint's trace (an escalation is found from the complaint's trace) and links back
    // to the batch.
    let batch = tracing::info_span!(
        "watcher.sweep",
        otel.name = "breach watcher batch",
        otel.kind = "internal",
        csops.watcher.due = fetched,
        csops.watcher.changed = tracing::field::Empty,
    );
    for (_, trace) in &due {
        trace.link_from(&batch);
    }
    let batch_trace = TraceHeaders::of(&batch);
    let checks = async {
        let mut changed = 0;
        for (id, trace) in due {
            if stopping(core) {
                break;
            }
            let check = tracing::info_span!(
                "watcher.check",
                otel.name = "check complaint clocks",
                otel.kind = "internal",
                complaint_id = %id,
                csops.watcher.outcome = tracing::field::Empty,
                otel.status_code = tracing::field::Empty,
            );
            if trace.continue_in(&check) {
                batch_trace.link_from(&check);
            }
            let outcome = core.tick(&id).instrument(check.clone()).await;
            // Only the outcome's name: a database error's text can quote stored values.
            match &outcome {
                Ok(checked) => {
                    check.record("csops.watcher.outcome", tracing::field::debug(checked))
                }
                Err(_) => check.record("otel.status_code", "ERROR"),
            };
            match outcome {
                Ok(Checked::Changed) => changed += 1,
                Ok(Checked::Postponed | Checked::Skipped) => {}
                Err(error @ StoreError::Unavailable(_)) => return Err(error),
                Err(error) => tracing::warn!(
                    complaint_id = %id,
                    error = &error as &dyn std::error::Error,
                    "complaint check failed; a later sweep retries"
                ),
            }
        }
        tracing::Span::current().record("csops.watcher.changed", changed);
        Ok(changed)
    };
    let changed = checks.instrument(batch).await?;
    Ok((changed, fetched))
}

/// Re-reads customer facts for every complaint accepted while the customers service was
/// away, oldest first, [`REEVALUATE_CONCURRENCY`] at a time; returns how many were corrected.
/// Stops early while the customers service is unreachable (its breaker is open) or when the
/// service stops.
pub async fn reevaluate(core: &Complaints) -> Result<usize, StoreError> {
    let mut corrected = 0;
    let mut after = None;
    while !stopping(core) && core.customers.available() {
        let page = core
            .store
            .defaulted(after.as_ref(), REEVALUATE_PAGE)
            .await?;
        let full = page.len() == REEVALUATE_PAGE as usize;
        after = page.last().cloned();
        let mut results = stream::iter(page)
            .map(|c| async move { core.reevaluate(&c.id).await })
            .buffer_unordered(REEVALUATE_CONCURRENCY);
        let mut unreachable = false;
        while let Some(result) = results.next().await {
            match result? {
                Reevaluated::Corrected => corrected += 1,
                Reevaluated::Skipped => {}
                Reevaluated::CustomersUnreachable => unreachable = true,
            }
        }
        if unreachable || !full {
            break;
        }
    }
    Ok(corrected)
}

/// Runs the re-evaluation until `stop` is cancelled: every `every`, and at once when the
/// customers service answers again after an outage (its breaker closes).
pub async fn run_reevaluation(core: Arc<Complaints>, every: Duration, stop: CancellationToken) {
    loop {
        tokio::select! {
            () = stop.cancelled() => return,
            () = tokio::time::sleep(every) => {}
            () = core.customers.recovered() => {
                tracing::info!("customers service is back: re-evaluating complaints accepted without its facts");
            }
        }
        match reevaluate(&core).await {
            Ok(0) => {}
            Ok(corrected) => tracing::info!(
                corrected,
                "complaints re-evaluated with their customers' facts"
            ),
            Err(error) => tracing::warn!(
                error = &error as &dyn std::error::Error,
                "re-evaluation failed"
            ),
        }
    }
}

/// Runs the watcher and the gauges until `stop` is cancelled.
pub async fn run(
    core: Arc<Complaints>,
    gauges: SlaGauges,
    interval: Duration,
    stop: CancellationToken,
) {
    let mut last_gauges: Option<tokio::time::Instant> = None;
    loop {
        if let Err(error) = sweep(&core).await {
            tracing::warn!(
                error = &error as &dyn std::error::Error,
                "breach watcher sweep failed"
            );
        }
        if last_gauges.is_none_or(|t| t.elapsed() >= Duration::from_secs(10)) {
            last_gauges = Some(tokio::time::Instant::now());
            match core.store.recent(1000).await {
                Ok(complaints) => gauges.update(&core, &complaints),
                Err(error) => tracing::warn!(
                    error = &error as &dyn std::error::Error,
                    "sla gauges not updated"
                ),
            }
        }
        tokio::select! {
            () = stop.cancelled() => return,
            () = tokio::time::sleep(interval) => {}
        }
    }
}
