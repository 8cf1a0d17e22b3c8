//! Events out: how the visits service delivers its outbox events (written with each change by
//! the store) to the feedback service: finished activities (completed visits and field jobs,
//! for contact frequency and silence) and the callback a completed field job asks for. The
//! kit's relay claims, retries and measures; this module only knows the receiver. Events wait
//! in the outbox while feedback is down or not deployed yet (no URL).

use std::time::Duration;

use csops_observability::Metrics;
use csops_proto::feedback::v1 as fb;
use csops_proto::feedback::v1::feedback_service_client::FeedbackServiceClient;
use csops_runtime::auth::Credentials;
use csops_runtime::client::{observed_channel, Observed};
use csops_runtime::outbox::{Claimed, Deliver};
use csops_runtime::time::to_timestamp;
use tonic::Status;

use crate::domain::Outgoing;

const DELIVERY_TIMEOUT: Duration = Duration::from_secs(2);

type Feedback = FeedbackServiceClient<Observed>;

/// The receivers of the visits service's events.
#[derive(Debug, Clone)]
pub struct Receivers {
    feedback: Option<Feedback>,
}

impl Receivers {
    /// A client for the feedback service at `url` (empty: not deployed yet).
    pub fn new(feedback_url: &str, metrics: &Metrics, credentials: &Credentials) -> Self {
        let feedback = observed_channel(feedback_url, DELIVERY_TIMEOUT, metrics, credentials)
            .map(FeedbackServiceClient::new);
        Self { feedback }
    }
}

fn actor() -> Option<fb::Actor> {
    Some(fb::Actor {
        id: "visits".into(),
        role: fb::ActorRole::System as i32,
    })
}

impl Deliver for Receivers {
    fn destinations(&self) -> Vec<(&'static str, bool)> {
        vec![("feedback", self.feedback.is_some())]
    }

    async fn deliver(&self, event: &Claimed) -> Result<(), Status> {
        let outgoing: Outgoing = serde_json::from_str(&event.payload).map_err(|e| {
            Status::internal(format!("outbox event {} is unreadable: {e}", event.id))
        })?;
        let Some(mut client) = self.feedback.clone() else {
            return Err(Status::unavailable("feedback not configured"));
        };
        match outgoing {
            Outgoing::Activity {
                kind,
                customer_id,
                agent_id,
                subject_kind,
                subject_id,
                occur_time,
            } => {
                let kind = match kind.as_str() {
                    "field_job_completed" => fb::ActivityKind::FieldJobCompleted,
                    _ => fb::ActivityKind::VisitCompleted,
                };
                let subject = match subject_kind.as_str() {
                    "field_job" => fb::SubjectKind::FieldJob,
                    _ => fb::SubjectKind::Visit,
                };
                let mut request = tonic::Request::new(fb::RecordActivityRequest {
                    activity: Some(fb::Activity {
                        kind: kind as i32,
                        customer_id,
                        agent_id,
                        subject: Some(fb::Subject {
                            kind: subject as i32,
                            id: subject_id,
                        }),
                        category: String::new(),
                        clock_kind: String::new(),
                        occur_time: Some(to_timestamp(occur_time)),
                        source_service: "visits".into(),
                        source_event_id: event.id.clone(),
                    }),
                });
                request.set_timeout(DELIVERY_TIMEOUT);
                client.record_activity(request).await.map(|_| ())
            }
            Outgoing::ScheduleCallback {
                customer_id,
                field_job_id,
                service_end_time,
                served_by_agent_id,
            } => {
                let mut request = tonic::Request::new(fb::ScheduleCallbackRequest {
                    customer_id,
                    subject: Some(fb::Subject {
                        kind: fb::SubjectKind::FieldJob as i32,
                        id: field_job_id,
                    }),
                    service_end_time: Some(to_timestamp(service_end_time)),
                    served_by_agent_id,
                    source_event_id: event.id.clone(),
                    actor: actor(),
                });
                request.set_timeout(DELIVERY_TIMEOUT);
                client.schedule_callback(request).await.map(|_| ())
            }
        }
    }
}
