//! The outbox relay: claims due events in batches, delivers them through a service's
//! [`Deliver`] (events of one resource in order, different resources concurrently), marks them
//! delivered in one statement, and retries failures with exponential backoff and jitter. It
//! keeps claiming while batches come back full and otherwise sleeps until its interval passes
//! or a change wakes it.

use std::collections::hash_map::RandomState;
use std::future::Future;
use std::hash::BuildHasher;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use std::time::Duration;

use csops_observability::{Metrics, TraceHeaders};
use futures_util::stream::{self, StreamExt};
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use tracing::Instrument as _;

use super::{Claimed, Outbox};
use crate::db::StoreError;
use crate::time::now_micros;

/// How a service delivers its events to their receivers.
pub trait Deliver: Send + Sync + 'static {
    /// Every destination the service sends to, and whether its receiver is configured (the
    /// events of one that is not wait in the outbox).
    fn destinations(&self) -> Vec<(&'static str, bool)>;

    /// Delivers one event; an error leaves it for a later attempt. Receivers apply each event
    /// id once, so a repeat is harmless.
    fn deliver(&self, event: &Claimed) -> impl Future<Output = Result<(), tonic::Status>> + Send;
}

/// How a relay paces itself.
#[derive(Debug, Clone, Copy)]
pub struct RelaySettings {
    /// Sleep between passes when the outbox has nothing due (a change wakes it earlier).
    pub interval: Duration,
    /// Events claimed per pass.
    pub batch: u32,
    /// How long a claim holds if the relay dies mid-pass: short, because a living relay
    /// renews the claims of a long pass every third of it (a heartbeat).
    pub lease: Duration,
    /// Resources delivered to at the same time.
    pub concurrency: usize,
    /// Wait before the first retry; it doubles with each failure.
    pub base_backoff: Duration,
    /// The longest wait between retries.
    pub max_backoff: Duration,
}

impl Default for RelaySettings {
    fn default() -> Self {
        Self {
            interval: Duration::from_secs(2),
            batch: 200,
            lease: Duration::from_secs(3),
            concurrency: 16,
            base_backoff: Duration::from_secs(1),
            max_backoff: Duration::from_secs(60),
        }
    }
}

/// What one pass did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Pass {
    /// Events claimed.
    pub claimed: usize,
    /// Events delivered.
    pub delivered: usize,
}

type Labels = Vec<(String, String)>;

/// `csops_outbox_pending{destination,configured}` and
/// `csops_outbox_oldest_pending_age_seconds{destination,configured}`.
#[derive(Debug, Clone, Default)]
struct Gauges {
    pending: Family<Labels, Gauge>,
    oldest_age: Family<Labels, Gauge<f64, AtomicU64>>,
}

/// Delivers a service's outbox.
#[derive(Debug)]
pub struct Relay<D> {
    pub(super) outbox: Outbox,
    pub(super) deliver: D,
    owner: String,
    settings: RelaySettings,
    gauges: Gauges,
    wake: Arc<Notify>,
}

fn micros(d: Duration) -> i64 {
    i64::try_from(d.as_micros()).unwrap_or(i64::MAX)
}

/// The wait before retry number `attempts + 1`: the exponential delay, half of it fixed and
/// half random ("equal jitter"), so receivers coming back are not hit by every event at once.
pub(super) fn backoff(settings: &RelaySettings, attempts: i64, event_id: &str) -> i64 {
    let exponent = u32::try_from(attempts.clamp(0, 30)).unwrap_or(30);
    let delay = micros(settings.base_backoff)
        .saturating_mul(1_i64 << exponent)
        .min(micros(settings.max_backoff))
        .max(2);
    let half = delay / 2;
    // RandomState is seeded randomly per instance: a std-only source of jitter.
    let random = RandomState::new().hash_one(event_id);
    half + i64::try_from(random % u64::try_from(half + 1).unwrap_or(1)).unwrap_or(0)
}

impl<D: Deliver> Relay<D> {
    /// A relay for `outbox` that reports what waits in `metrics`.
    pub fn new(outbox: Outbox, deliver: D, settings: RelaySettings, metrics: &Metrics) -> Self {
        let gauges = Gauges::default();
        metrics.register(
            "csops_outbox_pending",
            "Outbox events not yet delivered, by destination service",
            gauges.pending.clone(),
        );
        metrics.register(
            "csops_outbox_oldest_pending_age_seconds",
            "Age of the oldest undelivered outbox event, by destination service (0: none)",
            gauges.oldest_age.clone(),
        );
        Self {
            outbox,
            deliver,
            owner: format!("relay-{:016x}", RandomState::new().hash_one(now_micros())),
            settings,
            gauges,
            wake: Arc::new(Notify::new()),
        }
    }

    /// Returns the handle a service notifies after writing events, so they leave at once.
    pub fn waker(&self) -> Arc<Notify> {
        self.wake.clone()
    }

    /// Delivers one batch of what is due.
    pub async fn run_once(&self) -> Result<Pass, StoreError> {
        let destinations: Vec<&str> = self
            .deliver
            .destinations()
            .into_iter()
            .filter_map(|(d, configured)| configured.then_some(d))
            .collect();
        let now = now_micros();
        let claimed = self
            .outbox
            .claim(
                &destinations,
                &self.owner,
                now,
                now.saturating_add(micros(self.settings.lease)),
                self.settings.batch,
            )
            .await?;
        let count = claimed.len();
        if count == 0 {
            return Ok(Pass::default());
        }
        let ids: Vec<String> = claimed.iter().map(|e| e.id.clone()).collect();
        // The batch serves many traces, so it links to each event's trace; each delivery
        // continues its own event's trace (see `deliver_group`).
        let batch = tracing::info_span!(
            "outbox.relay",
            otel.name = "outbox relay batch",
            otel.kind = "internal",
            messaging.system = "csops.outbox",
            messaging.batch.message_count = count,
        );
        for event in &claimed {
            event.trace.link_from(&batch);
        }
        let delivering = self.deliver_batch(claimed).instrument(batch);
        tokio::pin!(delivering);
        // The claims are renewed while the pass runs, so the lease can stay short: after a
        // crash another relay takes the events over within one lease.
        let mut heartbeat =
            tokio::time::interval((self.settings.lease / 3).max(Duration::from_millis(10)));
        heartbeat.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        heartbeat.tick().await;
        let result = loop {
            tokio::select! {
                result = &mut delivering => break result,
                _ = heartbeat.tick() => {
                    let now = now_micros();
                    let until = now.saturating_add(micros(self.settings.lease));
                    if let Err(error) = self.outbox.extend(&ids, &self.owner, now, until).await {
                        tracing::warn!(
                            error = &error as &dyn std::error::Error,
                            "outbox claims not renewed; another relay may deliver them again"
                        );
                    }
                }
            }
        };
        match result {
            Ok(delivered) => Ok(Pass {
                claimed: count,
                delivered,
            }),
            Err(error) => {
                // Give back what this pass still holds, so it does not wait out the lease.
                if let Err(release) = self.outbox.release(&ids, &self.owner).await {
                    tracing::warn!(
                        error = &release as &dyn std::error::Error,
                        "outbox claims not released; they expire with their lease"
                    );
                }
                Err(error)
            }
        }
    }

    async fn deliver_batch(&self, claimed: Vec<Claimed>) -> Result<usize, StoreError> {
        // Events of one resource go in order, one after another; resources go concurrently.
        let mut groups: Vec<Vec<Claimed>> = Vec::new();
        for event in claimed {
            match groups
                .iter_mut()
                .find(|g| g[0].aggregate_id == event.aggregate_id)
            {
                Some(group) => group.push(event),
                None => groups.push(vec![event]),
            }
        }
        let outcomes: Vec<GroupOutcome> = stream::iter(groups)
            .map(|group| self.deliver_group(group))
            .buffer_unordered(self.settings.concurrency.max(1))
            .collect()
            .await;
        let mut delivered = Vec::new();
        let mut untried = Vec::new();
        for outcome in outcomes {
            delivered.extend(outcome.delivered);
            untried.extend(outcome.untried);
            if let Some((event, status)) = outcome.failed {
                let wait = backoff(&self.settings, event.attempts, &event.id);
                tracing::warn!(event_id = %event.id, kind = %event.kind, destination = %event.destination, code = ?status.code(), attempts = event.attempts + 1, retry_in_ms = wait / 1000, "outbox delivery failed; will retry");
                self.outbox
                    .failed(
                        &event.id,
                        &format!("{:?}: {}", status.code(), status.message()),
                        now_micros().saturating_add(wait),
                    )
                    .await?;
            }
        }
        self.outbox.delivered(&delivered, now_micros()).await?;
        self.outbox.release(&untried, &self.owner).await?;
        Ok(delivered.len())
    }

    async fn deliver_group(&self, group: Vec<Claimed>) -> GroupOutcome {
        let mut outcome = GroupOutcome::default();
        let mut events = group.into_iter();
        let batch = TraceHeaders::current();
        for event in events.by_ref() {
            let span = delivery_span(&event);
            // A delivery belongs to exactly one event, so it continues the trace of the change
            // that wrote it (the receiver's handling then joins that trace too) and links back
            // to the batch; without a stored context it stays a child of the batch.
            if event.trace.continue_in(&span) {
                batch.link_from(&span);
            }
            let result = self.deliver.deliver(&event).instrument(span.clone()).await;
            if let Err(status) = &result {
                span.record("otel.status_code", "ERROR");
                span.record("error.type", tracing::field::debug(status.code()));
            }
            match result {
                Ok(()) => {
                    tracing::info!(event_id = %event.id, kind = %event.kind, destination = %event.destination, "outbox event delivered");
                    outcome.delivered.push(event.id);
                }
                Err(status) => {
                    outcome.failed = Some((event, status));
                    break;
                }
            }
        }
        // After a failure the rest of the resource's events wait, to keep their order.
        outcome.untried = events.map(|e| e.id).collect();
        outcome
    }

    /// Refreshes the outbox gauges from the table (every replica reports the same figures).
    pub async fn update_gauges(&self) -> Result<(), StoreError> {
        let pending = self.outbox.pending().await?;
        let now = now_micros();
        for (destination, configured) in self.deliver.destinations() {
            let waiting = pending.iter().find(|p| p.destination == destination);
            let labels = vec![
                ("destination".to_owned(), destination.to_owned()),
                ("configured".to_owned(), configured.to_string()),
            ];
            self.gauges
                .pending
                .get_or_create(&labels)
                .set(waiting.map_or(0, |p| p.events));
            self.gauges
                .oldest_age
                .get_or_create(&labels)
                .set(waiting.map_or(0.0, |p| (now - p.oldest_create_time).max(0) as f64 / 1e6));
        }
        Ok(())
    }

    /// Runs until `stop` is cancelled: passes back to back while batches come back full,
    /// else a pause of the interval (cut short by the waker).
    pub async fn run(self, stop: CancellationToken) {
        let gauge_every = Duration::from_secs(10).min(self.settings.interval * 5);
        let mut last_gauges: Option<tokio::time::Instant> = None;
        loop {
            // Registered before the pass, so a change committed during it is not missed.
            let woken = self.wake.notified();
            let full = match self.run_once().await {
                Ok(pass) => pass.claimed >= self.settings.batch as usize,
                Err(error) => {
                    tracing::warn!(
                        error = &error as &dyn std::error::Error,
                        "outbox relay pass failed"
                    );
                    false
                }
            };
            if last_gauges.is_none_or(|t| t.elapsed() >= gauge_every) {
                last_gauges = Some(tokio::time::Instant::now());
                if let Err(error) = self.update_gauges().await {
                    tracing::warn!(
                        error = &error as &dyn std::error::Error,
                        "outbox gauges not updated"
                    );
                }
            }
            if stop.is_cancelled() {
                return;
            }
            if full {
                continue;
            }
            tokio::select! {
                () = stop.cancelled() => return,
                () = woken => {}
                () = tokio::time::sleep(self.settings.interval) => {}
            }
        }
    }
}

/// The span of one delivery, after the OpenTelemetry messaging conventions: a producer span
/// named `send <destination>`. The payload is never recorded: it holds personal data.
fn delivery_span(event: &Claimed) -> tracing::Span {
    tracing::info_span!(
        "outbox.deliver",
        otel.name = %format_args!("send {}", event.destination),
        otel.kind = "producer",
        otel.status_code = tracing::field::Empty,
        error.type = tracing::field::Empty,
        messaging.system = "csops.outbox",
        messaging.operation.type = "send",
        messaging.destination.name = %event.destination,
        messaging.message.id = %event.id,
        csops.event.kind = %event.kind,
        csops.event.attempt = event.attempts + 1,
    )
}

#[derive(Debug, Default)]
struct GroupOutcome {
    delivered: Vec<String>,
    failed: Option<(Claimed, tonic::Status)>,
    untried: Vec<String>,
}
