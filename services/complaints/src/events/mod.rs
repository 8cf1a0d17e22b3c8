//! Events out: how the complaints service delivers its outbox events (written with each change
//! by the store) to the feedback service (callback requests and the activities its process
//! indicators count) and the visits service (in-person visits). The kit's relay claims,
//! retries and measures; this module only knows the receivers. Events for a receiver that is down, or not
//! deployed yet (no URL), wait in the outbox until it answers.

use std::time::Duration;

use csops_observability::Metrics;
use csops_proto::feedback::v1 as fb;
use csops_proto::feedback::v1::feedback_service_client::FeedbackServiceClient;
use csops_proto::visits::v1 as vs;
use csops_proto::visits::v1::visits_service_client::VisitsServiceClient;
use csops_runtime::auth::Credentials;
use csops_runtime::client::{observed_channel, Observed};
use csops_runtime::outbox::{Claimed, Deliver};
use csops_runtime::time::to_timestamp;
use tonic::Status;

use crate::domain::{ActivityKind, Outgoing};

const DELIVERY_TIMEOUT: Duration = Duration::from_secs(2);

type Feedback = FeedbackServiceClient<Observed>;
type Visits = VisitsServiceClient<Observed>;

/// The receivers of the complaints service's events.
#[derive(Debug, Clone)]
pub struct Receivers {
    feedback: Option<Feedback>,
    visits: Option<Visits>,
}

impl Receivers {
    /// Clients for the configured receivers (an empty URL: not deployed yet), counted in
    /// `metrics`.
    pub fn new(
        feedback_url: &str,
        visits_url: &str,
        metrics: &Metrics,
        credentials: &Credentials,
    ) -> Self {
        Self {
            feedback: observed_channel(feedback_url, DELIVERY_TIMEOUT, metrics, credentials)
                .map(FeedbackServiceClient::new),
            visits: observed_channel(visits_url, DELIVERY_TIMEOUT, metrics, credentials)
                .map(VisitsServiceClient::new),
        }
    }
}

impl Deliver for Receivers {
    fn destinations(&self) -> Vec<(&'static str, bool)> {
        vec![
            ("feedback", self.feedback.is_some()),
            ("visits", self.visits.is_some()),
        ]
    }

    async fn deliver(&self, event: &Claimed) -> Result<(), Status> {
        let outgoing: Outgoing = serde_json::from_str(&event.payload).map_err(|e| {
            Status::internal(format!("outbox event {} is unreadable: {e}", event.id))
        })?;
        match outgoing {
            Outgoing::ScheduleCallback {
                customer_id,
                complaint_id,
                service_end_time,
                served_by_agent_id,
            } => {
                let Some(mut client) = self.feedback.clone() else {
                    return Err(Status::unavailable("feedback not configured"));
                };
                let mut request = tonic::Request::new(fb::ScheduleCallbackRequest {
                    customer_id,
                    subject: Some(fb::Subject {
                        kind: fb::SubjectKind::Complaint as i32,
                        id: complaint_id,
                    }),
                    service_end_time: Some(to_timestamp(service_end_time)),
                    served_by_agent_id,
                    source_event_id: event.id.clone(),
                    actor: Some(fb::Actor {
                        id: "complaints".into(),
                        role: fb::ActorRole::System as i32,
                    }),
                });
                request.set_timeout(DELIVERY_TIMEOUT);
                client.schedule_callback(request).await.map(|_| ())
            }
            Outgoing::Activity {
                kind,
                customer_id,
                agent_id,
                complaint_id,
                category,
                clock_kind,
                occur_time,
            } => {
                let Some(mut client) = self.feedback.clone() else {
                    return Err(Status::unavailable("feedback not configured"));
                };
                let kind = match kind {
                    ActivityKind::ContactHandled => fb::ActivityKind::ContactHandled,
                    ActivityKind::ComplaintReceived => fb::ActivityKind::ComplaintReceived,
                    ActivityKind::ClockMet => fb::ActivityKind::ClockMet,
                    ActivityKind::ClockMetLate => fb::ActivityKind::ClockMetLate,
                    ActivityKind::ClockBreached => fb::ActivityKind::ClockBreached,
                };
                let mut request = tonic::Request::new(fb::RecordActivityRequest {
                    activity: Some(fb::Activity {
                        kind: kind as i32,
                        customer_id,
                        agent_id,
                        subject: Some(fb::Subject {
                            kind: fb::SubjectKind::Complaint as i32,
                            id: complaint_id,
                        }),
                        category,
                        clock_kind,
                        occur_time: Some(to_timestamp(occur_time)),
                        source_service: "complaints".into(),
                        source_event_id: event.id.clone(),
                    }),
                });
                request.set_timeout(DELIVERY_TIMEOUT);
                client.record_activity(request).await.map(|_| ())
            }
            Outgoing::RequestVisit {
                complaint_id,
                customer_id,
                reason,
                due_time,
                assigned_agent_id,
            } => {
                let Some(mut client) = self.visits.clone() else {
                    return Err(Status::unavailable("visits not configured"));
                };
                let reason = match reason.as_str() {
                    "media" => vs::ComplaintVisitReason::Media,
                    "legal" => vs::ComplaintVisitReason::Legal,
                    "social_background" => vs::ComplaintVisitReason::SocialBackground,
                    _ => vs::ComplaintVisitReason::KeyAccount,
                };
                let mut request = tonic::Request::new(vs::RequestComplaintVisitRequest {
                    description: format!("in-person visit after complaint {complaint_id}"),
                    complaint_id,
                    customer_id,
                    reason: reason as i32,
                    due_time: Some(to_timestamp(due_time)),
                    assigned_agent_id,
                    source_event_id: event.id.clone(),
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
}
