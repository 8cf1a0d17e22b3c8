//! Background work on complaints, scheduled here and run by the use cases in `crate::app`:
//! the breach watcher (at risk, breached, broken promises, escalation), the re-evaluation of
//! complaints accepted with defaulted customer facts, and the SLA gauges. Correct with several
//! replicas: each complaint is claimed under a lease and saved under its version, and each
//! escalation holds a unique key, so it happens exactly once. The watcher works set-wise — a
//! batch is claimed in one statement, checked in memory and written back with one statement
//! per table — and sleeps until the next check is due instead of polling.

use std::sync::Arc;
use std::time::Duration;

use csops_runtime::wake::Woken;
use csops_runtime::{audit, time};
use futures_util::stream::{self, StreamExt as _};
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use std::sync::atomic::AtomicU64;
use tokio_util::sync::CancellationToken;
use tracing::Instrument as _;

use crate::app::{Batch, CheckedBatch, Complaints, Reevaluated};
use crate::domain::Complaint;
use crate::store::StoreError;

/// How often the SLA gauges are refreshed.
const GAUGES_EVERY: Duration = Duration::from_secs(10);
/// Batches per sweep at most (of `--sla-watch-batch` complaints each), so a stop request is seen in time even with a large backlog.
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

/// One sweep of the breach watcher: claims and checks due complaints a batch at a time until
/// none is due (or [`MAX_BATCHES`] batches were done, so the watcher re-plans); returns how
/// many complaints changed. A backlog (a morning when thousands of clocks cross a threshold
/// together) is worked off at once instead of a batch per interval. The next batch is claimed
/// and checked while the current one is written, so the database and the watcher work at the
/// same time. A stop request ends the sweep after the batch being written, so shutdown never
/// waits for a backlog.
///
/// Its changes are recorded in the audit log as the job `breach-watcher`.
pub async fn sweep(core: &Complaints, batch_size: u32) -> Result<usize, StoreError> {
    audit::as_job("breach-watcher", async {
        let full = batch_size as usize;
        let mut changed = 0;
        let mut current = claim(core, batch_size).await?;
        for n in 1..=MAX_BATCHES {
            let (span, checked) = current;
            let more = checked.due == full && n < MAX_BATCHES && !stopping(core);
            let written = write(core, span, checked);
            if !more {
                changed += written.await?.changed;
                break;
            }
            let (written, next) = tokio::join!(written, claim(core, batch_size));
            changed += written?.changed;
            current = next?;
        }
        Ok(changed)
    })
    .await
}

fn stopping(core: &Complaints) -> bool {
    core.stop.is_cancelled()
}

/// Claims and checks one batch of due complaints (`Complaints::claim_checks`) in a new
/// `breach watcher batch` span. The batch serves many complaints, so it links to the trace of
/// each one it changes; each change continues its complaint's trace and links back to the
/// batch.
async fn claim(
    core: &Complaints,
    batch_size: u32,
) -> Result<(tracing::Span, CheckedBatch), StoreError> {
    let batch = tracing::info_span!(
        "watcher.sweep",
        otel.name = "breach watcher batch",
        otel.kind = "internal",
        csops.watcher.due = tracing::field::Empty,
        csops.watcher.changed = tracing::field::Empty,
        otel.status_code = tracing::field::Empty,
    );
    match core
        .claim_checks(batch_size)
        .instrument(batch.clone())
        .await
    {
        Ok(checked) => {
            batch.record("csops.watcher.due", checked.due);
            Ok((batch, checked))
        }
        Err(error) => {
            batch.record("otel.status_code", "ERROR");
            Err(error)
        }
    }
}

/// Writes a checked batch back (`Complaints::write_checks`) in its span.
async fn write(
    core: &Complaints,
    batch: tracing::Span,
    checked: CheckedBatch,
) -> Result<Batch, StoreError> {
    let written = core.write_checks(checked).instrument(batch.clone()).await;
    match &written {
        Ok(done) => batch.record("csops.watcher.changed", done.changed),
        Err(_) => batch.record("otel.status_code", "ERROR"),
    };
    written
}

/// Re-reads customer facts for every complaint accepted while the customers service was
/// away, oldest first, [`REEVALUATE_CONCURRENCY`] at a time; returns how many were corrected.
/// Stops early while the customers service is unreachable (its breaker is open) or when the
/// service stops. Its corrections are recorded in the audit log as the job `reevaluation`.
pub async fn reevaluate(core: &Complaints) -> Result<usize, StoreError> {
    audit::as_job("reevaluation", reevaluate_all(core)).await
}

async fn reevaluate_all(core: &Complaints) -> Result<usize, StoreError> {
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

/// Runs the watcher and the gauges until `stop` is cancelled. Between sweeps the watcher
/// sleeps until the earliest next check of a complaint no one holds, woken early when a
/// change of this replica schedules a check sooner (`Store::checks`), and at most `longest`
/// (the bound on how late it sees checks scheduled by other replicas, and leases that ran
/// out). The gauges are refreshed every [`GAUGES_EVERY`] on their own.
pub async fn run(
    core: Arc<Complaints>,
    gauges: SlaGauges,
    longest: Duration,
    batch_size: u32,
    stop: CancellationToken,
) {
    tokio::join!(
        watch(&core, longest, batch_size, &stop),
        refresh_gauges(&core, &gauges, &stop)
    );
}

async fn watch(core: &Complaints, longest: Duration, batch_size: u32, stop: &CancellationToken) {
    loop {
        if let Err(error) = sweep(core, batch_size).await {
            tracing::warn!(
                error = &error as &dyn std::error::Error,
                "breach watcher sweep failed"
            );
        }
        let wake = core.store.checks();
        wake.planning();
        let next = match core.store.next_due(time::now()).await {
            Ok(next) => next,
            Err(error) => {
                tracing::warn!(
                    error = &error as &dyn std::error::Error,
                    "breach watcher cannot read its next check"
                );
                None
            }
        };
        if wake.sleep_until(next, longest, stop).await == Woken::Stopped {
            return;
        }
    }
}

async fn refresh_gauges(core: &Complaints, gauges: &SlaGauges, stop: &CancellationToken) {
    loop {
        match core.store.recent(1000).await {
            Ok(complaints) => gauges.update(core, &complaints),
            Err(error) => tracing::warn!(
                error = &error as &dyn std::error::Error,
                "sla gauges not updated"
            ),
        }
        tokio::select! {
            () = stop.cancelled() => return,
            () = tokio::time::sleep(GAUGES_EVERY) => {}
        }
    }
}
