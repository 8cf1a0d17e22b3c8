//! A field job (装维): the entity, its state enum, its shared types, inputs and limits.
//!
//! The work is on-site installation, move, repair, maintenance, reconnection or business
//! change at the customer's.
//!
//! Its state machine: CREATED → WINDOW_AGREED (a time window agreed with the customer; moving
//! it is a new agreement, the earlier window is kept) → ARRIVED (on time or not) → IN_PROGRESS
//! (the work explained to the customer) → COMPLETED; PAUSED from WINDOW_AGREED, ARRIVED or
//! IN_PROGRESS for a delay the company did not cause, back to where it was; CANCELLED from any
//! state before COMPLETED.
//!
//! Its SLA clocks (csops-sla, DOMAIN §4): FIRST_CONTACT from acceptance (or 30 minutes from a
//! dispatch), stopped by the first agreed window; COMPLETION from acceptance, its target chosen
//! by the kind and the customer (installations and moves 28 days urban, 38 rural, key
//! accounts half), paused while the job is. Extra work or cost needs the customer's recorded
//! consent (增加修理项目通知单): a job does not complete while an answer is pending.

use chrono::{DateTime, TimeDelta, Utc};
use csops_runtime::time::{serde_micros, serde_micros_delta, serde_micros_opt};
use csops_sla::{Case, Clock, Promise};
use serde::{Deserialize, Serialize};

use super::plan::CustomerFacts;
use super::{coded, Actor, Region, RuleError, Tier, Violations};

mod clocks;
mod consent;
mod lifecycle;

pub use clocks::status;

/// Longest job description, in characters.
pub const MAX_DESCRIPTION: usize = 4000;
/// Longest site (an address id or the address text), in characters.
pub const MAX_SITE: usize = 500;
/// Longest explanation given before the work starts, in characters.
pub const MAX_EXPLANATION: usize = 4000;
/// Longest completion summary, in characters.
pub const MAX_SUMMARY: usize = 4000;
/// Longest extra-work description, in characters.
pub const MAX_EXTRA_WORK_DESCRIPTION: usize = 2000;
/// Longest name of who signed or agreed, in characters.
pub const MAX_SIGNER_NAME: usize = 200;
/// Longest consent evidence reference (form number, stored signature id), in characters.
pub const MAX_EVIDENCE_REF: usize = 200;
/// Longest note of how the customer agreed a window, in characters.
pub const MAX_AGREED_WITH: usize = 500;
/// Longest cancel reason or pause note, in characters.
pub const MAX_REASON: usize = 1000;
/// Longest agreed window.
pub const MAX_WINDOW: TimeDelta = TimeDelta::hours(12);
/// Most windows one job is agreed (moves included): a job moved this often needs a new order.
pub const MAX_WINDOWS: usize = 50;
/// Most extra work items proposed on one job.
pub const MAX_EXTRA_WORK: usize = 20;
/// Most pauses of one job.
pub const MAX_PAUSES: usize = 100;
/// How far in the future a reported time may be (clocks of callers differ a little).
const SKEW: TimeDelta = TimeDelta::minutes(5);
/// How far back a reported acceptance or dispatch may be, and how far ahead a window.
const MAX_SPAN: TimeDelta = TimeDelta::days(366);

coded! {
    /// A kind of on-site work; it selects the completion time limit.
    pub enum FieldJobKind {
        /// A new installation.
        Installation = "installation",
        /// Moving an installation.
        Move = "move",
        /// A repair.
        Repair = "repair",
        /// Preventive maintenance.
        Maintenance = "maintenance",
        /// Reconnection after payment.
        Reconnection = "reconnection",
        /// A business change (rename, transfer, service options).
        BusinessChange = "business_change",
    }
}

impl FieldJobKind {
    /// The promise the completion clock keeps (moves have the installation limits, seed 001).
    pub fn promise(self) -> Promise {
        match self {
            FieldJobKind::Installation | FieldJobKind::Move => Promise::Installation,
            FieldJobKind::Repair => Promise::Repair,
            FieldJobKind::Maintenance => Promise::Maintenance,
            FieldJobKind::Reconnection => Promise::Reconnection,
            FieldJobKind::BusinessChange => Promise::BusinessChange,
        }
    }
}

coded! {
    /// Where a field job is (the codes are the `state` column the bookings read).
    pub enum FieldJobState {
        /// Accepted; no window agreed yet.
        Created = "created",
        /// A window is agreed with the customer.
        WindowAgreed = "window_agreed",
        /// The engineer is on site.
        Arrived = "arrived",
        /// The work was explained and is under way.
        InProgress = "in_progress",
        /// Waiting on a delay the company did not cause.
        Paused = "paused",
        /// Done.
        Completed = "completed",
        /// Will not be done.
        Cancelled = "cancelled",
    }
}

impl FieldJobState {
    /// The states a job in this state may go to; `paused_from` is where a paused job resumes.
    pub fn next(self, paused_from: Option<FieldJobState>) -> Vec<FieldJobState> {
        use FieldJobState::*;
        match self {
            Created => vec![WindowAgreed, Cancelled],
            WindowAgreed => vec![WindowAgreed, Arrived, Paused, Cancelled],
            Arrived => vec![InProgress, Paused, Cancelled],
            InProgress => vec![Completed, Paused, Cancelled],
            Paused => paused_from.into_iter().chain([Cancelled]).collect(),
            Completed | Cancelled => vec![],
        }
    }

    /// True until the job is completed or cancelled.
    pub fn is_open(self) -> bool {
        !matches!(self, FieldJobState::Completed | FieldJobState::Cancelled)
    }
}

coded! {
    /// What a field-job clock measures.
    pub enum ClockKind {
        /// From acceptance (or dispatch) to the first agreed window.
        FirstContact = "first_contact",
        /// From acceptance to completion, excluding delays the company did not cause.
        Completion = "completion",
    }
}

coded! {
    /// Why a job is paused: only delays the company did not cause (DOMAIN §4).
    pub enum PauseReason {
        /// Waiting on the customer (not at home, access, a decision).
        WaitingOnCustomer = "waiting_on_customer",
        /// Another delay the company did not cause.
        ExternalDelay = "external_delay",
    }
}

impl PauseReason {
    fn sla(self) -> csops_sla::PauseReason {
        match self {
            PauseReason::WaitingOnCustomer => csops_sla::PauseReason::WaitingOnCustomer,
            PauseReason::ExternalDelay => csops_sla::PauseReason::ExternalDelay,
        }
    }
}

coded! {
    /// Whether the customer agreed to extra work.
    pub enum ConsentState {
        /// Asked, no answer yet: the work must not be done.
        Pending = "pending",
        /// Agreed.
        Granted = "granted",
        /// Refused: the work is not done.
        Refused = "refused",
    }
}

coded! {
    /// How the customer answered.
    pub enum ConsentMethod {
        /// Signed the paper notice of additional repair items.
        SignedForm = "signed_form",
        /// Signed on the engineer's device.
        ElectronicSignature = "electronic_signature",
        /// Agreed by phone on a recorded line.
        RecordedCall = "recorded_call",
    }
}

impl ConsentMethod {
    /// True when the answer leaves a document whose reference must be recorded.
    pub fn needs_evidence(self) -> bool {
        matches!(
            self,
            ConsentMethod::SignedForm | ConsentMethod::ElectronicSignature
        )
    }
}

coded! {
    /// What happens to the parts extra work replaces (旧件处理).
    pub enum ReplacedParts {
        /// No part is replaced.
        None = "none",
        /// The customer keeps the old parts.
        CustomerKeeps = "customer_keeps",
        /// The company disposes of them.
        CompanyDisposes = "company_disposes",
    }
}

/// The customer facts the SLA was chosen with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobCustomer {
    /// Value tier.
    pub tier: Tier,
    /// Key account: half the installation limit.
    pub key_account: bool,
    /// Urban or rural.
    pub region: Region,
    /// True when the customers service could not be asked and these are defaults.
    pub defaulted: bool,
}

impl JobCustomer {
    /// The facts of a customer file.
    pub fn of(facts: &CustomerFacts) -> Self {
        Self {
            tier: facts.tier,
            key_account: facts.key_account,
            region: facts.region,
            defaulted: facts.defaulted,
        }
    }

    /// The most demanding facts, used when the customers service cannot be asked: a key
    /// account (half the limit) in a town (the shorter limit), flagged as defaulted.
    pub fn demanding_defaults() -> Self {
        Self {
            tier: Tier::A,
            key_account: true,
            region: Region::Urban,
            defaulted: true,
        }
    }

    /// The case the SLA policy selects rules for.
    pub fn case(&self) -> Case {
        Case::new()
            .tier(self.tier.sla())
            .key_account(self.key_account)
            .region(self.region.sla())
    }
}

/// A window agreed with the customer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TimeWindow {
    /// Start.
    #[serde(with = "serde_micros")]
    pub start: DateTime<Utc>,
    /// End, after the start.
    #[serde(with = "serde_micros")]
    pub end: DateTime<Utc>,
    /// How the customer agreed.
    pub agreed_with_customer: String,
    /// Who agreed it for the company.
    pub agreed_by: Actor,
    /// When it was agreed.
    #[serde(with = "serde_micros")]
    pub agree_time: DateTime<Utc>,
}

impl TimeWindow {
    /// True when `t` falls inside the window (ends included).
    pub fn contains(&self, t: DateTime<Utc>) -> bool {
        self.start <= t && t <= self.end
    }
}

/// A recorded consent or refusal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Consent {
    /// How it was given.
    pub method: ConsentMethod,
    /// Who signed or agreed (personal data: never logged).
    pub signer_name: String,
    /// The form number or stored signature id; empty for a recorded call without one.
    pub evidence_ref: String,
    /// When it was given.
    #[serde(with = "serde_micros")]
    pub consent_time: DateTime<Utc>,
    /// Who recorded it.
    pub recorded_by: Actor,
}

/// Extra work or cost proposed on site.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExtraWork {
    /// `xw-<n>` within the job.
    pub id: String,
    /// What and why.
    pub description: String,
    /// Extra cost in minor units, >= 0.
    pub cost_minor: i64,
    /// ISO 4217 code; empty when there is no cost.
    pub currency_code: String,
    /// Extra time needed (zero when none).
    #[serde(with = "serde_micros_delta")]
    pub extra_time: TimeDelta,
    /// The answer so far.
    pub consent_state: ConsentState,
    /// The recorded answer; `None` while pending.
    pub consent: Option<Consent>,
    /// Who proposed it.
    pub proposed_by: Actor,
    /// When.
    #[serde(with = "serde_micros")]
    pub propose_time: DateTime<Utc>,
    /// The new estimated completion time with the extra work (估计交车时间).
    #[serde(with = "serde_micros")]
    pub estimated_completion_time: DateTime<Utc>,
    /// What happens to replaced parts.
    pub replaced_parts: ReplacedParts,
}

/// How a job ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Completion {
    /// What was done.
    pub summary: String,
    /// When the work was finished.
    #[serde(with = "serde_micros")]
    pub complete_time: DateTime<Utc>,
    /// Who finished it.
    pub completed_by: Actor,
    /// True when the customer signed off the work on site.
    pub customer_signed_off: bool,
    /// Total charged, in minor units.
    pub charged_minor: i64,
    /// ISO 4217 code of the charge; empty when nothing was charged.
    pub currency_code: String,
    /// The callback the feedback service scheduled, once it answered.
    pub feedback_callback_id: String,
}

/// One pause of a job.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PauseNote {
    /// Why.
    pub reason: PauseReason,
    /// What the company waits for.
    pub note: String,
    /// The state the job resumes to.
    pub from: FieldJobState,
    /// Who paused it.
    pub paused_by: Actor,
    /// When.
    #[serde(with = "serde_micros")]
    pub pause_time: DateTime<Utc>,
    /// Who resumed it (or cancelled the job); `None` while paused.
    pub resumed_by: Option<Actor>,
    /// When it ended.
    #[serde(with = "serde_micros_opt")]
    pub resume_time: Option<DateTime<Utc>>,
}

/// One SLA clock of a job.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobClock {
    /// `first_contact-1`, `completion-1`.
    pub id: String,
    /// What it measures.
    pub kind: ClockKind,
    /// The clock itself.
    pub clock: Clock,
    /// True once its breach was noted (it then stays a breached job).
    pub breached: bool,
}

/// A field job.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FieldJob {
    /// `fjb_…`.
    pub id: String,
    /// The customer.
    pub customer_id: String,
    /// What kind of work.
    pub kind: FieldJobKind,
    /// What is to be done.
    pub description: String,
    /// Service address id or text (personal data: never logged).
    pub site: String,
    /// The complaint it comes from; empty when none.
    pub complaint_id: String,
    /// The engineer.
    pub engineer_id: String,
    /// Where it is.
    pub state: FieldJobState,
    /// When the order was accepted: the time limit counts from here.
    #[serde(with = "serde_micros")]
    pub accept_time: DateTime<Utc>,
    /// When the order was dispatched to the service centre.
    #[serde(with = "serde_micros_opt")]
    pub dispatch_time: Option<DateTime<Utc>>,
    /// The window agreed with the customer.
    pub agreed_window: Option<TimeWindow>,
    /// Earlier windows, oldest first.
    pub previous_windows: Vec<TimeWindow>,
    /// When the engineer arrived.
    #[serde(with = "serde_micros_opt")]
    pub arrive_time: Option<DateTime<Utc>>,
    /// True when the arrival fell inside the agreed window.
    pub arrived_on_time: bool,
    /// What was explained before the work started.
    pub explanation: String,
    /// Extra work proposed on site.
    pub extra_work: Vec<ExtraWork>,
    /// How it ended, when completed.
    pub completion: Option<Completion>,
    /// Why it was cancelled.
    pub cancel_reason: String,
    /// Pauses, oldest first; the last is open while paused.
    pub pauses: Vec<PauseNote>,
    /// SLA clocks.
    pub clocks: Vec<JobClock>,
    /// The customer facts the SLA was chosen with.
    pub customer: JobCustomer,
    /// Who created it.
    pub created_by: Actor,
    /// Created.
    #[serde(with = "serde_micros")]
    pub create_time: DateTime<Utc>,
    /// Last changed.
    #[serde(with = "serde_micros")]
    pub update_time: DateTime<Utc>,
    /// Optimistic-concurrency version.
    pub version: i64,
}

/// The fields of a new job a caller chooses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewFieldJob {
    /// The customer.
    pub customer_id: String,
    /// What kind of work.
    pub kind: FieldJobKind,
    /// What is to be done.
    pub description: String,
    /// Address id or text.
    pub site: String,
    /// The complaint it comes from, if any.
    pub complaint_id: String,
    /// The engineer.
    pub engineer_id: String,
    /// When the order was accepted; `None`: now.
    pub accept_time: Option<DateTime<Utc>>,
    /// When it was dispatched, if it was.
    pub dispatch_time: Option<DateTime<Utc>>,
}

/// A window to agree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WindowInput {
    /// Start.
    pub start: DateTime<Utc>,
    /// End.
    pub end: DateTime<Utc>,
    /// How the customer agreed.
    pub agreed_with_customer: String,
}

/// Extra work to propose.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExtraWorkInput {
    /// What and why.
    pub description: String,
    /// Extra cost in minor units.
    pub cost_minor: i64,
    /// ISO 4217 code.
    pub currency_code: String,
    /// Extra time needed, if any.
    pub extra_time: Option<TimeDelta>,
    /// The new estimated completion time.
    pub estimated_completion_time: DateTime<Utc>,
    /// What happens to replaced parts.
    pub replaced_parts: ReplacedParts,
}

/// The customer's answer to extra work.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsentInput {
    /// True when the customer agreed.
    pub granted: bool,
    /// How.
    pub method: ConsentMethod,
    /// Who signed or agreed.
    pub signer_name: String,
    /// Form number or stored signature id.
    pub evidence_ref: String,
    /// When; `None`: now.
    pub consent_time: Option<DateTime<Utc>>,
}

/// How the work ended, as reported.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompletionInput {
    /// What was done.
    pub summary: String,
    /// When it was finished; `None`: now.
    pub complete_time: Option<DateTime<Utc>>,
    /// True when the customer signed off.
    pub customer_signed_off: bool,
    /// Total charged in minor units.
    pub charged_minor: i64,
    /// ISO 4217 code of the charge.
    pub currency_code: String,
}

fn required_text(v: &mut Violations, field: &str, value: &str, why: &str) {
    if value.trim().is_empty() {
        v.push(field, format!("is required: {why}"));
    }
}

fn money(
    v: &mut Violations,
    amount_field: &str,
    amount: i64,
    currency_field: &str,
    currency: &str,
) {
    if amount < 0 {
        v.push(amount_field, "must not be negative");
    }
    let code_ok = currency.len() == 3 && currency.bytes().all(|b| b.is_ascii_uppercase());
    if currency.is_empty() {
        if amount > 0 {
            v.push(
                currency_field,
                format!("is required when {amount_field} is above 0"),
            );
        }
    } else if !code_ok {
        v.push(
            currency_field,
            "must be an ISO 4217 code of three capital letters, e.g. CNY",
        );
    }
}

fn invalid(v: Violations) -> Result<(), RuleError> {
    if v.is_empty() {
        Ok(())
    } else {
        Err(RuleError::Invalid(v))
    }
}

#[cfg(test)]
mod tests;
