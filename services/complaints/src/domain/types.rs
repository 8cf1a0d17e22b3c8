//! The complaint's vocabulary: coded enums (stored by code, sent by proto number) and the
//! parts of the aggregate.

use csops_sla::{Clock, Milestone};
use serde::{Deserialize, Serialize};

/// Microseconds since the Unix epoch, the unit of every stored time; 0 means unset.
pub type Micros = i64;

macro_rules! coded_enum {
    ($(#[$m:meta])* $name:ident { $($(#[$vm:meta])* $variant:ident = $num:literal, $code:literal;)+ }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(rename_all = "snake_case")]
        pub enum $name { $($(#[$vm])* $variant,)+ }

        impl $name {
            /// Every value, in proto order.
            pub const ALL: &'static [$name] = &[$($name::$variant,)+];

            /// Returns the stable lowercase code used in storage and logs.
            pub fn code(self) -> &'static str {
                match self { $($name::$variant => $code,)+ }
            }

            /// Parses a stored code.
            pub fn from_code(code: &str) -> Option<Self> {
                match code { $($code => Some($name::$variant),)+ _ => None }
            }

            /// Returns the proto enum number.
            pub fn number(self) -> i32 {
                match self { $($name::$variant => $num,)+ }
            }

            /// Parses a proto enum number; 0 (unspecified) and unknown numbers give `None`.
            pub fn from_number(number: i32) -> Option<Self> {
                match number { $($num => Some($name::$variant),)+ _ => None }
            }

            /// Returns the proto-style upper-case name, e.g. `SOLUTION_PROPOSED`.
            pub fn label(self) -> String {
                self.code().to_uppercase()
            }
        }
    };
}

coded_enum!(
    /// Where a complaint is in its lifecycle.
    State {
        /// Recorded, first contact not made.
        Received = 1, "received";
        /// First contact made.
        Acknowledged = 2, "acknowledged";
        /// Root cause being investigated.
        Investigating = 3, "investigating";
        /// Solution put to the customer.
        SolutionProposed = 4, "solution_proposed";
        /// Solution accepted, being carried out.
        SolutionAccepted = 5, "solution_accepted";
        /// Solution carried out; callback due.
        Resolved = 6, "resolved";
        /// Callback reached a satisfied customer.
        CallbackDone = 7, "callback_done";
        /// Finished (can be reopened).
        Closed = 8, "closed";
        /// Reopened after resolution.
        Reopened = 9, "reopened";
        /// Withdrawn by the customer. Final.
        Withdrawn = 10, "withdrawn";
    }
);

coded_enum!(
    /// What a complaint is about.
    Nature {
        /// Faulty product.
        ProductQuality = 1, "product_quality";
        /// Rude or unhelpful staff.
        ServiceAttitude = 2, "service_attitude";
        /// Waiting or delay.
        WaitingDelay = 3, "waiting_delay";
        /// Price or bill.
        PriceBilling = 4, "price_billing";
        /// Installation or repair.
        InstallationRepair = 5, "installation_repair";
        /// Anything else.
        Other = 6, "other";
    }
);

coded_enum!(
    /// How serious a complaint is.
    Severity {
        /// Minor.
        Low = 1, "low";
        /// Normal.
        Medium = 2, "medium";
        /// Serious.
        High = 3, "high";
        /// Safety, large loss or public exposure.
        Critical = 4, "critical";
    }
);

coded_enum!(
    /// Work-queue priority, derived.
    Priority {
        /// Normal order.
        Normal = 1, "normal";
        /// Before normal.
        High = 2, "high";
        /// Before everything.
        Urgent = 3, "urgent";
    }
);

coded_enum!(
    /// Where a complaint came in.
    Channel {
        /// Hotline.
        Hotline = 1, "hotline";
        /// Store or service hall.
        Store = 2, "store";
        /// Web, app, e-mail.
        Web = 3, "web";
        /// At the customer's site.
        OnSite = 4, "on_site";
        /// Letter.
        Letter = 5, "letter";
    }
);

coded_enum!(
    /// A difficult-complainant trait (DOMAIN §3).
    Trait {
        /// Emotional.
        Emotional = 1, "emotional";
        /// Abuses a sense of justice.
        JusticeSeeking = 2, "justice_seeking";
        /// Stubborn.
        Stubborn = 3, "stubborn";
        /// Self-absorbed.
        SelfAbsorbed = 4, "self_absorbed";
        /// Prepared (knows consumer law, records the call).
        Prepared = 5, "prepared";
        /// Social background.
        SocialBackground = 6, "social_background";
        /// Media.
        Media = 7, "media";
        /// Lawyer or legal action.
        Legal = 8, "legal";
    }
);

impl Trait {
    /// Media, legal and social-background complainants escalate at once and tighten the SLA.
    pub fn is_sensitive(self) -> bool {
        matches!(self, Trait::SocialBackground | Trait::Media | Trait::Legal)
    }
}

coded_enum!(
    /// The role an actor acts in.
    Role {
        /// Front-line agent.
        Agent = 1, "agent";
        /// Supervisor.
        Supervisor = 2, "supervisor";
        /// Manager.
        Manager = 3, "manager";
        /// A background task or another service.
        System = 4, "system";
    }
);

coded_enum!(
    /// Customer value tier.
    Tier {
        /// Most valuable.
        A = 1, "a";
        /// Regular.
        B = 2, "b";
        /// Least valuable.
        C = 3, "c";
    }
);

coded_enum!(
    /// Customer region.
    Region {
        /// City or town.
        Urban = 1, "urban";
        /// Countryside.
        Rural = 2, "rural";
    }
);

coded_enum!(
    /// What an SLA clock measures.
    ClockKind {
        /// Receipt to first contact.
        FirstContact = 1, "first_contact";
        /// Receipt to resolution.
        Resolution = 2, "resolution";
        /// Resolution to callback.
        Callback = 3, "callback";
        /// Reopen to renewed resolution.
        CallbackFix = 4, "callback_fix";
    }
);

impl ClockKind {
    /// The libs/sla promise the clock keeps.
    pub fn promise(self) -> csops_sla::Promise {
        match self {
            ClockKind::FirstContact => csops_sla::Promise::FirstContact,
            ClockKind::Resolution => csops_sla::Promise::Resolution,
            ClockKind::Callback => csops_sla::Promise::Callback,
            ClockKind::CallbackFix => csops_sla::Promise::CallbackFix,
        }
    }

    /// Only delays the company did not cause pause a clock, and only these clocks.
    pub fn pausable(self) -> bool {
        matches!(self, ClockKind::Resolution | ClockKind::CallbackFix)
    }
}

coded_enum!(
    /// Why a clock is paused.
    PauseReason {
        /// Waiting on the customer.
        WaitingOnCustomer = 1, "waiting_on_customer";
        /// A delay the company did not cause.
        ExternalDelay = 2, "external_delay";
    }
);

coded_enum!(
    /// The customer's answer to a solution.
    Decision {
        /// Not answered yet.
        Pending = 1, "pending";
        /// Accepted.
        Accepted = 2, "accepted";
        /// Rejected.
        Rejected = 3, "rejected";
    }
);

coded_enum!(
    /// Result of a callback.
    CallbackOutcome {
        /// Satisfied.
        Satisfied = 1, "satisfied";
        /// Unsatisfied: reopen.
        Unsatisfied = 2, "unsatisfied";
        /// Not reached.
        Unreachable = 3, "unreachable";
    }
);

coded_enum!(
    /// Why a complaint was reopened.
    ReopenReason {
        /// The callback found a problem.
        CallbackFinding = 1, "callback_finding";
        /// The customer is still unhappy.
        CustomerUnhappy = 2, "customer_unhappy";
        /// The problem recurred.
        Recurrence = 3, "recurrence";
    }
);

coded_enum!(
    /// Where a promise is.
    PromiseState {
        /// Not kept, not due.
        Open = 1, "open";
        /// Kept on time.
        Kept = 2, "kept";
        /// Past due, not kept.
        Broken = 3, "broken";
        /// Kept after being broken.
        KeptLate = 4, "kept_late";
        /// Dropped (complaint withdrawn).
        Cancelled = 5, "cancelled";
    }
);

coded_enum!(
    /// A step of the escalation chain.
    Level {
        /// Front-line agent.
        Agent = 1, "agent";
        /// Supervisor.
        Supervisor = 2, "supervisor";
        /// Manager.
        Manager = 3, "manager";
    }
);

coded_enum!(
    /// Why a complaint was escalated.
    EscalationReason {
        /// An SLA clock breached.
        SlaBreached = 1, "sla_breached";
        /// A promise was broken.
        PromiseBroken = 2, "promise_broken";
        /// Media, legal or social-background complainant.
        SensitiveComplainant = 3, "sensitive_complainant";
        /// Beyond the handler's authority.
        BeyondAuthority = 4, "beyond_authority";
        /// The customer asked for a superior.
        CustomerRequest = 5, "customer_request";
        /// Other.
        Other = 6, "other";
    }
);

coded_enum!(
    /// A kind of compensation.
    CompensationKind {
        /// Gift.
        Gift = 1, "gift";
        /// Privilege.
        Privilege = 2, "privilege";
        /// Discount.
        Discount = 3, "discount";
        /// Refund or credit.
        Refund = 4, "refund";
        /// Other.
        Other = 5, "other";
    }
);

coded_enum!(
    /// Where a compensation is.
    CompensationState {
        /// Waiting for approval; the customer must not be told.
        PendingApproval = 1, "pending_approval";
        /// Approved.
        Approved = 2, "approved";
        /// Rejected.
        Rejected = 3, "rejected";
    }
);

coded_enum!(
    /// Kind of a timeline entry.
    EntryKind {
        /// Note.
        Note = 1, "note";
        /// Call.
        Call = 2, "call";
        /// State change.
        StateChange = 3, "state_change";
        /// Assignment.
        Assignment = 4, "assignment";
        /// Escalation.
        Escalation = 5, "escalation";
        /// Promise.
        Promise = 6, "promise";
        /// Compensation.
        Compensation = 7, "compensation";
        /// Callback.
        Callback = 8, "callback";
        /// SLA event.
        Sla = 9, "sla";
        /// Field update or re-evaluation.
        Update = 10, "update";
    }
);

coded_enum!(
    /// Who called whom.
    CallDirection {
        /// The customer called.
        Inbound = 1, "inbound";
        /// The company called.
        Outbound = 2, "outbound";
    }
);

coded_enum!(
    /// What happened to a clock or promise.
    SlaEventKind {
        /// Started.
        Started = 1, "started";
        /// Paused.
        Paused = 2, "paused";
        /// Resumed.
        Resumed = 3, "resumed";
        /// Passed a warning threshold.
        AtRisk = 4, "at_risk";
        /// Passed its deadline.
        Breached = 5, "breached";
        /// Stopped in time.
        Met = 6, "met";
        /// Stopped late.
        MetLate = 7, "met_late";
        /// Cancelled.
        Cancelled = 8, "cancelled";
        /// Target or deadline changed.
        DeadlineChanged = 9, "deadline_changed";
        /// Escalated.
        Escalated = 10, "escalated";
        /// A promise broke.
        PromiseBroken = 11, "promise_broken";
    }
);

coded_enum!(
    /// SLA state of a complaint, kept in a column for List filters.
    SlaState {
        /// Every clock on track, met or cancelled.
        OnTrack = 1, "on_track";
        /// A clock at risk, none breached.
        AtRisk = 2, "at_risk";
        /// A clock breached.
        Breached = 3, "breached";
    }
);

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
    /// When the facts were read; 0 while defaulted.
    pub fetch_time: Micros,
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
            fetch_time: 0,
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
    pub time: Micros,
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
    /// By when.
    pub due_time: Micros,
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
    pub propose_time: Micros,
    /// The customer's answer.
    pub decision: Decision,
    /// When answered.
    pub decide_time: Micros,
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
    pub resolve_time: Micros,
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
    pub time: Micros,
    /// Feedback service's callback id.
    pub feedback_callback_id: String,
}

/// A change of a promise's due time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PromiseChange {
    /// Before.
    pub previous_due_time: Micros,
    /// After.
    pub new_due_time: Micros,
    /// Why.
    pub reason: String,
    /// The customer's consent.
    pub customer_consent: String,
    /// Who.
    pub actor: Actor,
    /// When.
    pub time: Micros,
}

/// A promise made to the customer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Promise {
    /// Id.
    pub id: String,
    /// What.
    pub description: String,
    /// By when.
    pub due_time: Micros,
    /// By whom.
    pub promised_by: Actor,
    /// When made.
    pub make_time: Micros,
    /// State.
    pub state: PromiseState,
    /// When kept.
    pub keep_time: Micros,
    /// Who recorded it kept.
    pub kept_by: Option<Actor>,
    /// Due-time changes.
    pub changes: Vec<PromiseChange>,
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
    pub time: Micros,
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
    pub propose_time: Micros,
    /// Who decided.
    pub decided_by: Option<Actor>,
    /// When decided.
    pub decide_time: Micros,
    /// Decision note.
    pub decision_note: String,
}

/// A phone call.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Call {
    /// Direction.
    pub direction: CallDirection,
    /// Start.
    pub start_time: Micros,
    /// Length in microseconds.
    pub duration: Micros,
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
    pub deadline: Micros,
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
    pub time: Micros,
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
    pub time: Micros,
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
        service_end_time: Micros,
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
        due_time: Micros,
        /// Agent.
        assigned_agent_id: String,
    },
}

impl Outgoing {
    /// The receiving service.
    pub fn destination(&self) -> &'static str {
        match self {
            Outgoing::ScheduleCallback { .. } => "feedback",
            Outgoing::RequestVisit { .. } => "visits",
        }
    }

    /// The event kind, for storage and logs.
    pub fn kind(&self) -> &'static str {
        match self {
            Outgoing::ScheduleCallback { .. } => "schedule_callback",
            Outgoing::RequestVisit { .. } => "request_complaint_visit",
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
