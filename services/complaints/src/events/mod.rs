//! Events out: the outbox rows written with each change are delivered by a relay, at least
//! once, with backoff; the receivers apply each `source_event_id` once. Events for a receiver
//! that is down, or not deployed yet (no URL), wait in the outbox until it answers.

use std::sync::atomic::AtomicU64;
use std::time::Duration;

use csops_observability::Metrics;
use csops_proto::feedback::v1 as fb;
use csops_proto::feedback::v1::feedback_service_client::FeedbackServiceClient;
use csops_proto::visits::v1 as vs;
use csops_proto::visits::v1::visits_service_client::VisitsServiceClient;
use csops_runtime::time::now_micros;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use tokio::sync::watch;

use crate::clients::{channel, Observed};
use crate::domain::{new_id, Micros, Outgoing};
use crate::store::{OutboxRow, Store, StoreError};

const DELIVERY_TIMEOUT: Duration = Duration::from_secs(2);
const LEASE: i64 = 30_000_000;
const MAX_BACKOFF: i64 = 60_000_000;
const BATCH: u32 = 50;
/// Every destination an event can have.
const DESTINATIONS: [&str; 2] = ["feedback", "visits"];
/// How often the outbox gauges are refreshed.
const GAUGE_EVERY: Duration = Duration::from_secs(10);

type Labels = Vec<(String, String)>;

/// `csops_outbox_pending{destination,configured}` and
/// `csops_outbox_oldest_pending_age_seconds{destination,configured}`: what waits for each
/// receiver, and for how long. `configured="false"` marks a receiver not deployed yet (its
/// events wait by design).
#[derive(Debug, Clone, Default)]
struct OutboxGauges {
    pending: Family<Labels, Gauge>,
    oldest_age: Family<Labels, Gauge<f64, AtomicU64>>,
}

type Feedback = FeedbackServiceClient<Observed>;
type Visits = VisitsServiceClient<Observed>;

/// Delivers outbox events to the feedback and visits services.
#[derive(Debug, Clone)]
pub struct Relay {
    store: Store,
    feedback: Option<Feedback>,
    visits: Option<Visits>,
    owner: String,
    gauges: OutboxGauges,
}

fn ts(micros: Micros) -> prost_types::Timestamp {
    prost_types::Timestamp {
        seconds: micros.div_euclid(1_000_000),
        nanos: i32::try_from(micros.rem_euclid(1_000_000) * 1000).unwrap_or(0),
    }
}

impl Relay {
    /// A relay for the configured receivers (an empty URL: not deployed yet), counting its
    /// deliveries and what waits in the outbox in `metrics`.
    pub fn new(store: Store, feedback_url: &str, visits_url: &str, metrics: &Metrics) -> Self {
        let gauges = OutboxGauges::default();
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
            gauges,
            store,
            feedback: channel(feedback_url, DELIVERY_TIMEOUT, metrics)
                .map(FeedbackServiceClient::new),
            visits: channel(visits_url, DELIVERY_TIMEOUT, metrics).map(VisitsServiceClient::new),
            owner: new_id("relay"),
        }
    }

    /// Delivers what is due now; returns how many were delivered.
    pub async fn run_once(&self) -> Result<usize, StoreError> {
        let mut destinations = Vec::new();
        if self.feedback.is_some() {
            destinations.push("feedback");
        }
        if self.visits.is_some() {
            destinations.push("visits");
        }
        let now = now_micros();
        let rows = self
            .store
            .claim_outbox(&destinations, &self.owner, now, now + LEASE, BATCH)
            .await?;
        let mut delivered = 0;
        for row in rows {
            match self.send(&row).await {
                Ok(()) => {
                    self.store.delivered(&row.id, now_micros()).await?;
                    tracing::info!(event_id = %row.id, kind = row.event.kind(), "outbox event delivered");
                    delivered += 1;
                }
                Err(status) => {
                    let backoff = (1_000_000_i64 << row.attempts.clamp(0, 16)).min(MAX_BACKOFF);
                    tracing::warn!(event_id = %row.id, kind = row.event.kind(), code = ?status.code(), attempts = row.attempts + 1, "outbox delivery failed; will retry");
                    self.store
                        .failed(
                            &row.id,
                            &format!("{:?}", status.code()),
                            now_micros() + backoff,
                        )
                        .await?;
                }
            }
        }
        Ok(delivered)
    }

    async fn send(&self, row: &OutboxRow) -> Result<(), tonic::Status> {
        match &row.event {
            Outgoing::ScheduleCallback {
                customer_id,
                complaint_id,
                service_end_time,
                served_by_agent_id,
            } => {
                let Some(mut client) = self.feedback.clone() else {
                    return Err(tonic::Status::unavailable("feedback not configured"));
                };
                let mut request = tonic::Request::new(fb::ScheduleCallbackRequest {
                    customer_id: customer_id.clone(),
                    subject: Some(fb::Subject {
                        kind: fb::SubjectKind::Complaint as i32,
                        id: complaint_id.clone(),
                    }),
                    service_end_time: Some(ts(*service_end_time)),
                    served_by_agent_id: served_by_agent_id.clone(),
                    source_event_id: row.id.clone(),
                    actor: Some(fb::Actor {
                        id: "complaints".into(),
                        role: fb::ActorRole::System as i32,
                    }),
                });
                request.set_timeout(DELIVERY_TIMEOUT);
                client.schedule_callback(request).await.map(|_| ())
            }
            Outgoing::RequestVisit {
                complaint_id,
                customer_id,
                reason,
                due_time,
                assigned_agent_id,
            } => {
                let Some(mut client) = self.visits.clone() else {
                    return Err(tonic::Status::unavailable("visits not configured"));
                };
                let reason = match reason.as_str() {
                    "media" => vs::ComplaintVisitReason::Media,
                    "legal" => vs::ComplaintVisitReason::Legal,
                    "social_background" => vs::ComplaintVisitReason::SocialBackground,
                    _ => vs::ComplaintVisitReason::KeyAccount,
                };
                let mut request = tonic::Request::new(vs::RequestComplaintVisitRequest {
                    complaint_id: complaint_id.clone(),
                    customer_id: customer_id.clone(),
                    reason: reason as i32,
                    due_time: Some(ts(*due_time)),
                    assigned_agent_id: assigned_agent_id.clone(),
                    description: format!("in-person visit after complaint {complaint_id}"),
                    source_event_id: row.id.clone(),
                    actor: Some(vs::Actor {
                        id: "complaints".into(),
                        role: vs::ActorRole::System as i32,
                    }),
                });
                request.set_timeout(DELIVERY_TIMEOUT);
                client.request_complaint_visit(request).await.map(|_| ())
            }
        }
    }

    fn configured(&self, destination: &str) -> bool {
        match destination {
            "feedback" => self.feedback.is_some(),
            "visits" => self.visits.is_some(),
            _ => false,
        }
    }

    /// Refreshes the outbox gauges from the table (every replica reports the same figures).
    pub async fn update_gauges(&self) -> Result<(), StoreError> {
        let pending = self.store.pending_outbox().await?;
        let now = now_micros();
        for destination in DESTINATIONS {
            let waiting = pending.iter().find(|p| p.destination == destination);
            let labels = vec![
                ("destination".to_owned(), destination.to_owned()),
                (
                    "configured".to_owned(),
                    self.configured(destination).to_string(),
                ),
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

    /// Runs until `stop` turns true.
    pub async fn run(self, interval: Duration, mut stop: watch::Receiver<bool>) {
        let mut last_gauges: Option<tokio::time::Instant> = None;
        loop {
            if let Err(error) = self.run_once().await {
                tracing::warn!(
                    error = &error as &dyn std::error::Error,
                    "outbox relay pass failed"
                );
            }
            if last_gauges.is_none_or(|t| t.elapsed() >= GAUGE_EVERY.min(interval * 5)) {
                last_gauges = Some(tokio::time::Instant::now());
                if let Err(error) = self.update_gauges().await {
                    tracing::warn!(
                        error = &error as &dyn std::error::Error,
                        "outbox gauges not updated"
                    );
                }
            }
            tokio::select! {
                _ = stop.wait_for(|s| *s) => return,
                () = tokio::time::sleep(interval) => {}
            }
        }
    }
}
