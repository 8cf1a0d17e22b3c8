//! The parts of the complaint aggregate: actors, clocks, the solution, promises, escalations,
//! compensation, calls, SLA events, timeline entries and outbox events.

use chrono::{DateTime, TimeDelta, Utc};
use csops_sla::{Clock, Milestone};
use serde::{Deserialize, Serialize};

use super::vocabulary::*;

/// Who did something.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Actor {
    /// Person or system id.
    pub id: String,
    /// Role.
    pub role: Role,
}

impl Actor {
    /// The breach watcher and the other background tasks of this service.
    pub fn system(id: &str) -> Self {
        Self {
            id: id.to_owned(),
            role: Role::System,
        }
    }
}

/// The customer facts the SLA was chosen with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Snapshot {
    /// Tier.
    pub tier: Tier,
    /// Key account (VIP).
    pub key_account: bool,
    /// Region.
    pub region: Region,
    /// True when the customers service was unreachable and the most demanding defaults apply.
    pub defaulted: bool,
    /// When the facts were read; `None` while defaulted.
    #[serde(with = "csops_runtime::time::serde_micros_opt")]
    pub fetch_time: Option<DateTime<Utc>>,
}

impl Snapshot {
    /// The most demanding defaults (tier A, key account, urban), used while the customers
    /// service cannot be reached: deadlines are then never later than the real ones.
    pub fn most_demanding() -> Self {
        Self {
            tier: Tier::A,
            key_account: true,
            region: Region::Urban,
            defaulted: true,
            fetch_time: None,
        }
    }
}

/// An external reference.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reference {
    /// Kind, e.g. "order".
    pub kind: String,
    /// Id.
    pub id: String,
}

/// One state change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Transition {
    /// Before (None when the complaint was just received).
    pub from: Option<State>,
    /// After.
    pub to: State,
    /// Who.
    pub actor: Actor,
    /// When.
    #[serde(with = "csops_runtime::time::serde_micros")]
    pub time: DateTime<Utc>,
    /// Why.
    pub reason: String,
}

/// A pause's bookkeeping beside the libs/sla clock (who, why in words).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PauseNote {
    /// Why.
    pub reason: PauseReason,
    /// Detail.
    pub note: String,
    /// Who paused.
    pub paused_by: Actor,
    /// Who resumed.
    pub resumed_by: Option<Actor>,
}

/// One SLA clock of the complaint.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SlaClock {
    /// Id within the complaint, e.g. `resolution-1`.
    pub id: String,
    /// What it measures.
    pub kind: ClockKind,
    /// The libs/sla clock.
    pub clock: Clock,
    /// Milestones already announced (each is announced once).
    pub reported: Vec<Milestone>,
    /// One note per pause of `clock`, same order.
    pub pauses: Vec<PauseNote>,
}

impl SlaClock {
    /// True while running or paused.
    pub fn is_open(&self) -> bool {
        self.clock.ending().is_none()
    }
}

/// A step of a solution's time plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanStep {
    /// What.
    pub description: String,
    /// Who.
    pub owner_id: String,
    /// By when (`None` when the request gave none; a proposal refuses that).
    #[serde(with = "csops_runtime::time::serde_micros_opt")]
    pub due_time: Option<DateTime<Utc>>,
}

/// A proposed solution.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Solution {
    /// Id within the complaint.
    pub id: String,
    /// Measures.
    pub measures: Vec<String>,
    /// Plan.
    pub plan: Vec<PlanStep>,
    /// Proposer.
    pub proposed_by: Actor,
    /// When proposed.
    #[serde(with = "csops_runtime::time::serde_micros")]
    pub propose_time: DateTime<Utc>,
    /// The customer's answer.
    pub decision: Decision,
    /// When answered (`None` while pending).
    #[serde(with = "csops_runtime::time::serde_micros_opt")]
    pub decide_time: Option<DateTime<Utc>>,
    /// The customer's words.
    pub customer_comment: String,
}

/// The resolution record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Resolution {
    /// What was done.
    pub summary: String,
    /// Root cause.
    pub root_cause: String,
    /// Corrective action.
    pub corrective_action: String,
    /// Lesson learned.
    pub lesson_learned: String,
    /// Company at fault.
    pub company_at_fault: bool,
    /// Who resolved.
    pub resolved_by: Actor,
    /// When.
    #[serde(with = "csops_runtime::time::serde_micros")]
    pub resolve_time: DateTime<Utc>,
    /// Who or which unit was accountable for the cause (找到责任人). Left out of stored bodies
    /// while empty.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub accountable_party: String,
    /// Whether the fix held (效果确认); `None` until checked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub effect_check: Option<EffectCheck>,
}

/// Whether a fix held, checked some days after the resolution.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EffectCheck {
    /// The fix held.
    pub effective: bool,
    /// What was found.
    pub note: String,
    /// Who checked.
    pub checked_by: Actor,
    /// When.
    #[serde(with = "csops_runtime::time::serde_micros")]
    pub check_time: DateTime<Utc>,
}

/// A callback attempt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CallbackAttempt {
    /// Outcome.
    pub outcome: CallbackOutcome,
    /// Notes.
    pub notes: String,
    /// Who called.
    pub actor: Actor,
    /// When.
    #[serde(with = "csops_runtime::time::serde_micros")]
    pub time: DateTime<Utc>,
    /// Feedback service's callback id.
    pub feedback_callback_id: String,
}

/// A change of a promise's due time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PromiseChange {
    /// Before.
    #[serde(with = "csops_runtime::time::serde_micros")]
    pub previous_due_time: DateTime<Utc>,
    /// After.
    #[serde(with = "csops_runtime::time::serde_micros")]
    pub new_due_time: DateTime<Utc>,
    /// Why.
    pub reason: String,
    /// The customer's consent.
    pub customer_consent: String,
    /// Who.
    pub actor: Actor,
    /// When.
    #[serde(with = "csops_runtime::time::serde_micros")]
    pub time: DateTime<Utc>,
}

/// A promise made to the customer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Promise {
    /// Id.
    pub id: String,
    /// What.
    pub description: String,
    /// By when.
    #[serde(with = "csops_runtime::time::serde_micros")]
    pub due_time: DateTime<Utc>,
    /// By whom.
    pub promised_by: Actor,
    /// When made.
    #[serde(with = "csops_runtime::time::serde_micros")]
    pub make_time: DateTime<Utc>,
    /// State.
    pub state: PromiseState,
    /// When kept (`None` until kept).
    #[serde(with = "csops_runtime::time::serde_micros_opt")]
    pub keep_time: Option<DateTime<Utc>>,
    /// Who recorded it kept.
    pub kept_by: Option<Actor>,
    /// Due-time changes.
    pub changes: Vec<PromiseChange>,
    /// Whether the owner was warned that it falls due soon (since it was made or last
    /// rescheduled). Left out of stored bodies while false, so older bodies read back alike.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub warned: bool,
}

/// One escalation step.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Escalation {
    /// From.
    pub from: Level,
    /// To.
    pub to: Level,
    /// Why.
    pub reason: EscalationReason,
    /// Breached clock.
    pub clock_id: String,
    /// Broken promise.
    pub promise_id: String,
    /// New owner.
    pub escalated_to_id: String,
    /// Detail.
    pub note: String,
    /// Who.
    pub actor: Actor,
    /// When.
    #[serde(with = "csops_runtime::time::serde_micros")]
    pub time: DateTime<Utc>,
}

/// A compensation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Compensation {
    /// Id.
    pub id: String,
    /// Kind.
    pub kind: CompensationKind,
    /// What.
    pub description: String,
    /// Amount in minor units.
    pub amount_minor: i64,
    /// Currency.
    pub currency_code: String,
    /// State.
    pub state: CompensationState,
    /// The proposer's limit (i64::MAX = unlimited).
    pub authority_limit_minor: i64,
    /// Approval needed.
    pub approval_required: bool,
    /// Proposer.
    pub proposed_by: Actor,
    /// When proposed.
    #[serde(with = "csops_runtime::time::serde_micros")]
    pub propose_time: DateTime<Utc>,
    /// Who decided.
    pub decided_by: Option<Actor>,
    /// When decided (`None` while waiting for approval).
    #[serde(with = "csops_runtime::time::serde_micros_opt")]
    pub decide_time: Option<DateTime<Utc>>,
    /// Decision note.
    pub decision_note: String,
}

/// A phone call.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Call {
    /// Direction.
    pub direction: CallDirection,
    /// Start (`None` when the request gave none; recording the call refuses that).
    #[serde(with = "csops_runtime::time::serde_micros_opt")]
    pub start_time: Option<DateTime<Utc>>,
    /// Length.
    #[serde(with = "csops_runtime::time::serde_micros_delta")]
    pub duration: TimeDelta,
    /// Reached.
    pub reached: bool,
    /// What was said.
    pub summary: String,
}

/// Something that happened to a clock or promise.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SlaEvent {
    /// Unique id.
    pub id: String,
    /// Complaint.
    pub complaint_id: String,
    /// Clock (empty for promise events).
    pub clock_id: String,
    /// Clock kind.
    pub clock_kind: Option<ClockKind>,
    /// What.
    pub kind: SlaEventKind,
    /// Threshold for AT_RISK.
    pub threshold_percent: i32,
    /// Deadline after the event.
    #[serde(with = "csops_runtime::time::serde_micros")]
    pub deadline: DateTime<Utc>,
    /// New level for ESCALATED.
    pub escalation_level: Option<Level>,
    /// Promise id.
    pub promise_id: String,
    /// Assigned agent then.
    pub assigned_agent_id: String,
    /// Severity then.
    pub severity: Severity,
    /// Customer.
    pub customer_id: String,
    /// When.
    #[serde(with = "csops_runtime::time::serde_micros")]
    pub time: DateTime<Utc>,
}

/// The details of a timeline entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "type")]
pub enum Details {
    /// A note.
    Note {
        /// Text.
        text: String,
    },
    /// A call.
    Call(Call),
    /// A state change.
    StateChange(Transition),
    /// An assignment.
    Assignment {
        /// Before.
        previous_agent_id: String,
        /// After.
        agent_id: String,
        /// Why.
        reason: String,
    },
    /// An escalation.
    Escalation(Escalation),
    /// A promise after the action.
    Promise(Promise),
    /// A compensation after the action.
    Compensation(Compensation),
    /// A callback.
    Callback(CallbackAttempt),
    /// An SLA event.
    Sla(SlaEvent),
    /// Changed fields.
    Update {
        /// Paths.
        changed_fields: Vec<String>,
    },
}

impl Details {
    /// The entry kind these details belong to.
    pub fn kind(&self) -> EntryKind {
        match self {
            Details::Note { .. } => EntryKind::Note,
            Details::Call(_) => EntryKind::Call,
            Details::StateChange(_) => EntryKind::StateChange,
            Details::Assignment { .. } => EntryKind::Assignment,
            Details::Escalation(_) => EntryKind::Escalation,
            Details::Promise(_) => EntryKind::Promise,
            Details::Compensation(_) => EntryKind::Compensation,
            Details::Callback(_) => EntryKind::Callback,
            Details::Sla(_) => EntryKind::Sla,
            Details::Update { .. } => EntryKind::Update,
        }
    }
}

/// One append-only timeline entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    /// Id.
    pub id: String,
    /// Complaint.
    pub complaint_id: String,
    /// Position, from 1, without gaps.
    pub sequence: i64,
    /// Who.
    pub actor: Actor,
    /// When.
    #[serde(with = "csops_runtime::time::serde_micros")]
    pub time: DateTime<Utc>,
    /// One line.
    pub summary: String,
    /// Details.
    pub details: Details,
}

/// An event for another service, written to the outbox with the change that caused it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "type")]
pub enum Outgoing {
    /// Ask feedback to schedule the 1-2 day callback.
    ScheduleCallback {
        /// Customer.
        customer_id: String,
        /// Complaint.
        complaint_id: String,
        /// When the service ended.
        #[serde(with = "csops_runtime::time::serde_micros")]
        service_end_time: DateTime<Utc>,
        /// Who served.
        served_by_agent_id: String,
    },
    /// Ask visits for an in-person visit.
    RequestVisit {
        /// Complaint.
        complaint_id: String,
        /// Customer.
        customer_id: String,
        /// Why: key_account, media, legal or social_background.
        reason: String,
        /// By when.
        #[serde(with = "csops_runtime::time::serde_micros")]
        due_time: DateTime<Utc>,
        /// Agent.
        assigned_agent_id: String,
    },
    /// Tell feedback what happened, for its process indicators (RecordActivity).
    Activity {
        /// What happened.
        kind: ActivityKind,
        /// Customer.
        customer_id: String,
        /// The agent it counts for (empty when none).
        agent_id: String,
        /// Complaint.
        complaint_id: String,
        /// The complaint's nature as the proto names it, e.g. `SERVICE_ATTITUDE`.
        category: String,
        /// For clocks: the clock kind as the proto names it, e.g. `FIRST_CONTACT`; else empty.
        clock_kind: String,
        /// When it happened.
        #[serde(with = "csops_runtime::time::serde_micros")]
        occur_time: DateTime<Utc>,
    },
}

impl Outgoing {
    /// The receiving service.
    pub fn destination(&self) -> &'static str {
        match self {
            Outgoing::ScheduleCallback { .. } | Outgoing::Activity { .. } => "feedback",
            Outgoing::RequestVisit { .. } => "visits",
        }
    }

    /// The event kind, for storage and logs.
    pub fn kind(&self) -> &'static str {
        match self {
            Outgoing::ScheduleCallback { .. } => "schedule_callback",
            Outgoing::RequestVisit { .. } => "request_complaint_visit",
            Outgoing::Activity { .. } => "record_activity",
        }
    }
}

/// An outbox event with its id (the receivers' idempotency key).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutboxEvent {
    /// Id, sent as source_event_id.
    pub id: String,
    /// What.
    pub event: Outgoing,
}
