//! Events out: the outbox rows written with each change are delivered by a relay, at least
//! once, with backoff; the receivers apply each `source_event_id` once. Events for a receiver
//! that is down, or not deployed yet (no URL), wait in the outbox until it answers.

use std::time::Duration;

use crate::clients::{channel, Observed};
use crate::domain::{new_id, Micros, Outgoing};
use crate::store::{OutboxRow, Store, StoreError};
use csops_observability::Metrics;
use csops_proto::feedback::v1 as fb;
use csops_proto::feedback::v1::feedback_service_client::FeedbackServiceClient;
use csops_proto::visits::v1 as vs;
use csops_proto::visits::v1::visits_service_client::VisitsServiceClient;
use csops_runtime::db::now_micros;
use tokio::sync::watch;

const DELIVERY_TIMEOUT: Duration = Duration::from_secs(2);
const LEASE: i64 = 30_000_000;
const MAX_BACKOFF: i64 = 60_000_000;
const BATCH: u32 = 50;

type Feedback = FeedbackServiceClient<Observed>;
type Visits = VisitsServiceClient<Observed>;

/// Delivers outbox events to the feedback and visits services.
#[derive(Debug, Clone)]
pub struct Relay {
    store: Store,
    feedback: Option<Feedback>,
    visits: Option<Visits>,
    owner: String,
}

fn ts(micros: Micros) -> prost_types::Timestamp {
    prost_types::Timestamp {
        seconds: micros.div_euclid(1_000_000),
        nanos: i32::try_from(micros.rem_euclid(1_000_000) * 1000).unwrap_or(0),
    }
}

impl Relay {
    /// A relay for the configured receivers (an empty URL: not deployed yet), counting its
    /// deliveries in `metrics`.
    pub fn new(store: Store, feedback_url: &str, visits_url: &str, metrics: &Metrics) -> Self {
        Self {
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

    /// Runs until `stop` turns true.
    pub async fn run(self, interval: Duration, mut stop: watch::Receiver<bool>) {
        loop {
            if let Err(error) = self.run_once().await {
                tracing::warn!(
                    error = &error as &dyn std::error::Error,
                    "outbox relay pass failed"
                );
            }
            tokio::select! {
                _ = stop.wait_for(|s| *s) => return,
                () = tokio::time::sleep(interval) => {}
            }
        }
    }
}
