//! Events out: what the feedback service writes to its outbox (with each change, by the store)
//! and how the kit's relay delivers it: a callback's outcome goes to the complaints service's
//! `RecordCallback` (SATISFIED lets the complaint close, UNSATISFIED reopens it with its 2-day
//! fix clock, UNREACHABLE counts an attempt); a churn-risk signal goes to the customers
//! service's `RecordChurnSignal` (idempotent by the signal's id). Events wait in the outbox
//! while their receiver is down or not deployed (no URL). After the complaints service accepted
//! an event, the callback's `complaint_delivery` becomes DELIVERED (when it is the callback's
//! newest event); a signal's `customers_delivery` is read from its event, which the relay marks
//! delivered once the customers service accepted it.

use std::time::Duration;

use chrono::{DateTime, Utc};
use csops_observability::Metrics;
use csops_proto::complaints::v1 as cp;
use csops_proto::complaints::v1::complaints_service_client::ComplaintsServiceClient;
use csops_proto::customers::v1 as cs;
use csops_proto::customers::v1::customers_service_client::CustomersServiceClient;
use csops_runtime::auth::Credentials;
use csops_runtime::client::{observed_channel, Observed};
use csops_runtime::outbox::{Claimed, Deliver};
use csops_runtime::time::to_timestamp;
use serde::{Deserialize, Serialize};
use tonic::Status;

use crate::domain::churn::{ChurnKind, RiskLevel};
use crate::store::Deliveries;

/// The destination of the events for the complaints service.
pub const COMPLAINTS: &str = "complaints";
/// The kind of a callback-outcome event.
pub const RECORD_CALLBACK: &str = "record_callback";

const DELIVERY_TIMEOUT: Duration = Duration::from_secs(2);

/// The destination of the events for the customers service.
pub const CUSTOMERS: &str = "customers";
/// The kind of a churn-risk signal event.
pub const RECORD_CHURN_SIGNAL: &str = "record_churn_signal";
/// Who the customers service is told observed a signal.
const SIGNAL_SOURCE: &str = "feedback";
/// The customers service keeps evidence up to this many characters.
const MAX_EVIDENCE: usize = 1_000;

type Complaints = ComplaintsServiceClient<Observed>;
type Customers = CustomersServiceClient<Observed>;

/// An event for another service, as written to the outbox (JSON, times in microseconds).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Outgoing {
    /// A complaint callback's outcome, for complaints' `RecordCallback`.
    RecordCallback {
        /// The complaint.
        complaint_id: String,
        /// The callback in this service.
        callback_id: String,
        /// "satisfied", "unsatisfied" or "unreachable".
        outcome: String,
        /// Why (the findings and what the customer said); empty unless unsatisfied.
        notes: String,
        /// When the customer was reached, or the attempt made.
        #[serde(with = "csops_runtime::time::serde_micros")]
        callback_time: DateTime<Utc>,
        /// The retry key complaints applies once: `<callback id>:outcome` or
        /// `<callback id>:attempt-<n>`.
        request_id: String,
    },
    /// A churn-risk signal, for customers' `RecordChurnSignal`.
    RecordChurnSignal {
        /// The customer at risk.
        customer_id: String,
        /// The signal's id here (the detector's key): the customers service records it once.
        signal_id: String,
        /// The kind's code, e.g. "silence".
        kind: String,
        /// The level's code: "low", "medium" or "high".
        level: String,
        /// Why, in plain words.
        evidence: String,
        /// When the signal was raised.
        #[serde(with = "csops_runtime::time::serde_micros")]
        observe_time: DateTime<Utc>,
    },
}

impl Outgoing {
    /// The receiving service.
    pub fn destination(&self) -> &'static str {
        match self {
            Outgoing::RecordCallback { .. } => COMPLAINTS,
            Outgoing::RecordChurnSignal { .. } => CUSTOMERS,
        }
    }

    /// What happened.
    pub fn kind(&self) -> &'static str {
        match self {
            Outgoing::RecordCallback { .. } => RECORD_CALLBACK,
            Outgoing::RecordChurnSignal { .. } => RECORD_CHURN_SIGNAL,
        }
    }

    /// The resource the event is about (events of one resource are delivered in order).
    pub fn aggregate_id(&self) -> &str {
        match self {
            Outgoing::RecordCallback { callback_id, .. } => callback_id,
            // Each signal on its own: one the customers service refuses (an archived customer)
            // holds back no other.
            Outgoing::RecordChurnSignal { signal_id, .. } => signal_id,
        }
    }
}

/// The receivers of the feedback service's events.
#[derive(Debug, Clone)]
pub struct Receivers {
    complaints: Option<Complaints>,
    customers: Option<Customers>,
    deliveries: Deliveries,
}

impl Receivers {
    /// Clients for the complaints and customers services at their URLs (empty: not deployed;
    /// their events wait), counted in `metrics`; accepted outcomes are marked through
    /// `deliveries`.
    pub fn new(
        complaints_url: &str,
        customers_url: &str,
        deliveries: Deliveries,
        metrics: &Metrics,
        credentials: &Credentials,
    ) -> Self {
        Self {
            complaints: observed_channel(complaints_url, DELIVERY_TIMEOUT, metrics, credentials)
                .map(ComplaintsServiceClient::new),
            customers: observed_channel(customers_url, DELIVERY_TIMEOUT, metrics, credentials)
                .map(CustomersServiceClient::new),
            deliveries,
        }
    }
}

fn outcome_pb(outcome: &str) -> Result<cp::CallbackOutcome, Status> {
    match outcome {
        "satisfied" => Ok(cp::CallbackOutcome::Satisfied),
        "unsatisfied" => Ok(cp::CallbackOutcome::Unsatisfied),
        "unreachable" => Ok(cp::CallbackOutcome::Unreachable),
        other => Err(Status::internal(format!(
            "outbox event has an unknown callback outcome {other:?}"
        ))),
    }
}

/// The customers service's kind for a signal, and what the evidence says first when that kind
/// is OTHER (the customers service has no STOPPED_ANSWERING).
fn signal_kind_pb(code: &str) -> Result<(cs::ChurnSignalKind, &'static str), Status> {
    let kind = ChurnKind::from_code(code).ok_or_else(|| {
        Status::internal(format!("outbox event has an unknown churn kind {code:?}"))
    })?;
    Ok(match kind {
        ChurnKind::Silence => (cs::ChurnSignalKind::Silence, ""),
        ChurnKind::FallingScores => (cs::ChurnSignalKind::FallingScores, ""),
        ChurnKind::UnhappyCallback => (cs::ChurnSignalKind::UnhappyCallback, ""),
        ChurnKind::RepeatComplaints => (cs::ChurnSignalKind::RepeatComplaints, ""),
        ChurnKind::NegativeGap => (cs::ChurnSignalKind::NegativeGap, ""),
        ChurnKind::StoppedAnswering => (cs::ChurnSignalKind::Other, "stopped answering surveys: "),
    })
}

fn signal_level_pb(code: &str) -> Result<cs::ChurnRiskLevel, Status> {
    match RiskLevel::from_code(code) {
        Some(RiskLevel::Low) => Ok(cs::ChurnRiskLevel::Low),
        Some(RiskLevel::Medium) => Ok(cs::ChurnRiskLevel::Medium),
        Some(RiskLevel::High) => Ok(cs::ChurnRiskLevel::High),
        None => Err(Status::internal(format!(
            "outbox event has an unknown risk level {code:?}"
        ))),
    }
}

impl Deliver for Receivers {
    fn destinations(&self) -> Vec<(&'static str, bool)> {
        vec![
            (COMPLAINTS, self.complaints.is_some()),
            (CUSTOMERS, self.customers.is_some()),
        ]
    }

    async fn deliver(&self, event: &Claimed) -> Result<(), Status> {
        let outgoing: Outgoing = serde_json::from_str(&event.payload).map_err(|e| {
            Status::internal(format!("outbox event {} is unreadable: {e}", event.id))
        })?;
        match outgoing {
            Outgoing::RecordCallback {
                complaint_id,
                callback_id,
                outcome,
                notes,
                callback_time,
                request_id,
            } => {
                let Some(mut client) = self.complaints.clone() else {
                    return Err(Status::unavailable("complaints not configured"));
                };
                let mut request = tonic::Request::new(cp::RecordCallbackRequest {
                    complaint_id,
                    outcome: outcome_pb(&outcome)? as i32,
                    notes,
                    callback_time: Some(to_timestamp(callback_time)),
                    feedback_callback_id: callback_id.clone(),
                    request_id,
                    actor: Some(cp::Actor {
                        id: "feedback".into(),
                        role: cp::ActorRole::System as i32,
                    }),
                    etag: String::new(),
                });
                request.set_timeout(DELIVERY_TIMEOUT);
                client.record_callback(request).await?;
                // Accepted. When noting it fails the event is retried: complaints applies each
                // request id once, and the next pass notes it.
                self.deliveries
                    .delivered(&callback_id, &event.id)
                    .await
                    .map_err(|e| {
                        Status::unavailable(format!(
                            "callback {callback_id} delivery not noted: {e}"
                        ))
                    })?;
                Ok(())
            }
            Outgoing::RecordChurnSignal {
                customer_id,
                signal_id,
                kind,
                level,
                evidence,
                observe_time,
            } => {
                let Some(mut client) = self.customers.clone() else {
                    return Err(Status::unavailable("customers not configured"));
                };
                let (kind, prefix) = signal_kind_pb(&kind)?;
                let evidence: String = format!("{prefix}{evidence}")
                    .chars()
                    .take(MAX_EVIDENCE)
                    .collect();
                let mut request = tonic::Request::new(cs::RecordChurnSignalRequest {
                    customer_id,
                    signal: Some(cs::ChurnSignal {
                        signal_id,
                        kind: kind as i32,
                        level: signal_level_pb(&level)? as i32,
                        evidence,
                        source: SIGNAL_SOURCE.into(),
                        // Never ahead of this clock: the customers service refuses a future
                        // observation.
                        observe_time: Some(to_timestamp(
                            observe_time.min(csops_runtime::time::now()),
                        )),
                    }),
                });
                request.set_timeout(DELIVERY_TIMEOUT);
                // Accepted (or recorded before: the customers service applies a signal id
                // once); the relay marks the event delivered, which is the signal's delivery.
                client.record_churn_signal(request).await?;
                Ok(())
            }
        }
    }
}
