//! One field job (装维): on-site installation, move, repair, maintenance, reconnection or
//! business change at the customer's.
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
use csops_sla::{Calendar, Case, Clock, Milestone, Policy, Promise, Status};
use serde::{Deserialize, Serialize};

use super::plan::CustomerFacts;
use super::{coded, Actor, Outgoing, Region, RuleError, Tier, Violations};

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

/// Evaluates a clock at `now` on its policy calendar; a calendar dropped from the policy since
/// the clock started counts calendar time rather than failing.
pub fn status(policy: &Policy, clock: &Clock, now: DateTime<Utc>) -> Status {
    match policy.calendar_for(clock) {
        Ok(calendar) => clock.status(calendar, now),
        Err(_) => clock.status(&Calendar::always("always"), now),
    }
}

/// The latest instant recorded on a clock: later operations must not be earlier.
fn latest(clock: &Clock) -> DateTime<Utc> {
    clock
        .pauses()
        .last()
        .map_or(clock.started_at(), |p| p.until.unwrap_or(p.from))
        .max(clock.started_at())
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

fn clock_refused(what: &str, error: impl std::fmt::Display) -> RuleError {
    RuleError::Precondition(format!("the SLA clock cannot {what}: {error}"))
}

impl FieldJob {
    /// A new CREATED job with its clocks started: FIRST_CONTACT from the dispatch (when given,
    /// the dispatch-contact promise) or the acceptance, COMPLETION from the acceptance with the
    /// kind's promise for `customer`.
    pub fn new(
        id: String,
        input: NewFieldJob,
        customer: JobCustomer,
        policy: &Policy,
        created_by: Actor,
        now: DateTime<Utc>,
    ) -> Result<Self, RuleError> {
        let NewFieldJob {
            customer_id,
            kind,
            description,
            site,
            complaint_id,
            engineer_id,
            accept_time,
            dispatch_time,
        } = input;
        let mut v = Violations::default();
        required_text(
            &mut v,
            "job.description",
            &description,
            "say what is to be done",
        );
        let accept_time = accept_time.unwrap_or(now);
        if accept_time > now + SKEW {
            v.push("job.accept_time", "must not be in the future");
        } else if accept_time < now - MAX_SPAN {
            v.push("job.accept_time", "must be at most 366 days ago");
        }
        if let Some(d) = dispatch_time {
            if d > now + SKEW {
                v.push("job.dispatch_time", "must not be in the future");
            } else if d < accept_time {
                v.push("job.dispatch_time", "must not be before accept_time");
            }
        }
        invalid(v)?;
        let case = customer.case();
        let start = |promise: Promise, at: DateTime<Utc>| {
            policy.start(promise, &case, at).map_err(|e| {
                RuleError::Precondition(format!(
                    "the SLA policy cannot start the {promise} clock: {e}"
                ))
            })
        };
        let first_contact = match dispatch_time {
            Some(d) => start(Promise::DispatchContact, d)?,
            None => start(Promise::FirstContact, accept_time)?,
        };
        let completion = start(kind.promise(), accept_time)?;
        Ok(Self {
            id,
            customer_id,
            kind,
            description: description.trim().to_owned(),
            site: site.trim().to_owned(),
            complaint_id,
            engineer_id,
            state: FieldJobState::Created,
            accept_time,
            dispatch_time,
            agreed_window: None,
            previous_windows: Vec::new(),
            arrive_time: None,
            arrived_on_time: false,
            explanation: String::new(),
            extra_work: Vec::new(),
            completion: None,
            cancel_reason: String::new(),
            pauses: Vec::new(),
            clocks: vec![
                JobClock {
                    id: format!("{}-1", ClockKind::FirstContact.code()),
                    kind: ClockKind::FirstContact,
                    clock: first_contact,
                    breached: false,
                },
                JobClock {
                    id: format!("{}-1", ClockKind::Completion.code()),
                    kind: ClockKind::Completion,
                    clock: completion,
                    breached: false,
                },
            ],
            customer,
            created_by,
            create_time: now,
            update_time: now,
            version: 1,
        })
    }

    /// The states this job may go to next.
    pub fn allowed(&self) -> Vec<FieldJobState> {
        self.state.next(self.paused_from())
    }

    /// Where a paused job resumes.
    pub fn paused_from(&self) -> Option<FieldJobState> {
        (self.state == FieldJobState::Paused)
            .then(|| self.pauses.last().map(|p| p.from))
            .flatten()
    }

    /// Refuses a change to `next` that the state machine does not allow here. A paused job
    /// goes back only by resuming (see [`FieldJob::resume`]), or is cancelled.
    fn can_go(&self, next: FieldJobState) -> Result<(), RuleError> {
        let allowed = self.allowed();
        if allowed.contains(&next)
            && (self.state != FieldJobState::Paused || next == FieldJobState::Cancelled)
        {
            return Ok(());
        }
        if let Some(from) = self.paused_from() {
            return Err(RuleError::Precondition(format!(
                "field job {} is paused; resume it first (it goes back to {}) or cancel it, \
                 then it can go to {}",
                self.id,
                from.code(),
                next.code()
            )));
        }
        let allowed: Vec<&str> = allowed.iter().map(|s| s.code()).collect();
        Err(RuleError::Precondition(format!(
            "field job {} is {}; it can go to {} but not {}",
            self.id,
            self.state.code(),
            if allowed.is_empty() {
                "no other state".to_owned()
            } else {
                allowed.join(", ")
            },
            next.code()
        )))
    }

    fn to(&mut self, next: FieldJobState, now: DateTime<Utc>) {
        self.state = next;
        self.update_time = now;
    }

    fn clock_mut(&mut self, kind: ClockKind) -> Option<&mut JobClock> {
        self.clocks.iter_mut().rev().find(|c| c.kind == kind)
    }

    /// The job's clock of `kind`.
    pub fn clock(&self, kind: ClockKind) -> Option<&JobClock> {
        self.clocks.iter().rev().find(|c| c.kind == kind)
    }

    /// True while any extra work waits for the customer's answer.
    pub fn consent_pending(&self) -> bool {
        self.extra_work
            .iter()
            .any(|w| w.consent_state == ConsentState::Pending)
    }

    /// True once any clock's deadline passed before it stopped.
    pub fn breached(&self) -> bool {
        self.clocks.iter().any(|c| c.breached)
    }

    /// Records (or moves) the window agreed with the customer. A move keeps the earlier window
    /// and needs the customer's agreement again; the first agreement stops the first-contact
    /// clock.
    pub fn agree_window(
        &mut self,
        window: WindowInput,
        actor: &Actor,
        now: DateTime<Utc>,
    ) -> Result<(), RuleError> {
        let WindowInput {
            start,
            end,
            agreed_with_customer,
        } = window;
        let mut v = Violations::default();
        required_text(
            &mut v,
            "window.agreed_with_customer",
            &agreed_with_customer,
            "say how the customer agreed (every change of the window needs their agreement)",
        );
        if end <= start {
            v.push("window.end_time", "must be after start_time");
        } else if end - start > MAX_WINDOW {
            v.push("window.end_time", "a window lasts at most 12 hours");
        }
        if end <= now {
            v.push("window.end_time", "must be in the future");
        }
        if start > now + MAX_SPAN {
            v.push("window.start_time", "must be at most 366 days ahead");
        }
        invalid(v)?;
        self.can_go(FieldJobState::WindowAgreed)?;
        if self.previous_windows.len() + 1 >= MAX_WINDOWS {
            return Err(RuleError::Precondition(format!(
                "field job {} was already agreed {MAX_WINDOWS} windows; cancel it and open a new \
                 order",
                self.id
            )));
        }
        if let Some(first_contact) = self
            .clock_mut(ClockKind::FirstContact)
            .filter(|c| c.clock.ending().is_none())
        {
            let at = now.max(latest(&first_contact.clock));
            first_contact
                .clock
                .stop(at)
                .map_err(|e| clock_refused("stop", e))?;
        }
        if let Some(earlier) = self.agreed_window.take() {
            self.previous_windows.push(earlier);
        }
        self.agreed_window = Some(TimeWindow {
            start,
            end,
            agreed_with_customer: agreed_with_customer.trim().to_owned(),
            agreed_by: actor.clone(),
            agree_time: now,
        });
        self.to(FieldJobState::WindowAgreed, now);
        Ok(())
    }

    /// The engineer arrived at `at` (default `now`); records whether inside the window.
    pub fn arrive(
        &mut self,
        at: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
    ) -> Result<(), RuleError> {
        let at = at.unwrap_or(now);
        let mut v = Violations::default();
        if at > now + SKEW {
            v.push("arrive_time", "must not be in the future");
        } else if at < self.accept_time {
            v.push("arrive_time", "must not be before the order was accepted");
        }
        invalid(v)?;
        self.can_go(FieldJobState::Arrived)?;
        self.arrived_on_time = self.agreed_window.as_ref().is_some_and(|w| w.contains(at));
        self.arrive_time = Some(at);
        self.to(FieldJobState::Arrived, now);
        Ok(())
    }

    /// The engineer explained the work (what, how long, what it costs) and started.
    pub fn start(&mut self, explanation: String, now: DateTime<Utc>) -> Result<(), RuleError> {
        let mut v = Violations::default();
        required_text(
            &mut v,
            "explanation",
            &explanation,
            "say what was explained to the customer before starting",
        );
        invalid(v)?;
        self.can_go(FieldJobState::InProgress)?;
        self.explanation = explanation.trim().to_owned();
        self.to(FieldJobState::InProgress, now);
        Ok(())
    }

    /// Proposes extra work or cost on an IN_PROGRESS job; its consent is PENDING.
    pub fn propose_extra_work(
        &mut self,
        input: ExtraWorkInput,
        actor: &Actor,
        now: DateTime<Utc>,
    ) -> Result<ExtraWork, RuleError> {
        let ExtraWorkInput {
            description,
            cost_minor,
            currency_code,
            extra_time,
            estimated_completion_time,
            replaced_parts,
        } = input;
        let mut v = Violations::default();
        required_text(
            &mut v,
            "extra_work.description",
            &description,
            "say what extra work is needed and why",
        );
        money(
            &mut v,
            "extra_work.cost_minor",
            cost_minor,
            "extra_work.currency_code",
            &currency_code,
        );
        if extra_time.is_some_and(|d| d < TimeDelta::zero()) {
            v.push("extra_work.extra_time", "must not be negative");
        }
        if estimated_completion_time <= now {
            v.push(
                "extra_work.estimated_completion_time",
                "must be in the future",
            );
        } else if estimated_completion_time > now + MAX_SPAN {
            v.push(
                "extra_work.estimated_completion_time",
                "must be at most 366 days ahead",
            );
        }
        invalid(v)?;
        if self.state != FieldJobState::InProgress {
            return Err(RuleError::Precondition(format!(
                "field job {} is {}; extra work is proposed only while it is in_progress",
                self.id,
                self.state.code()
            )));
        }
        if self.extra_work.len() >= MAX_EXTRA_WORK {
            return Err(RuleError::Precondition(format!(
                "field job {} already has {MAX_EXTRA_WORK} extra work items, the most one job \
                 takes",
                self.id
            )));
        }
        let work = ExtraWork {
            id: format!("xw-{}", self.extra_work.len() + 1),
            description: description.trim().to_owned(),
            cost_minor,
            currency_code,
            extra_time: extra_time.unwrap_or_else(TimeDelta::zero),
            consent_state: ConsentState::Pending,
            consent: None,
            proposed_by: actor.clone(),
            propose_time: now,
            estimated_completion_time,
            replaced_parts,
        };
        self.extra_work.push(work.clone());
        self.update_time = now;
        Ok(work)
    }

    /// Records the customer's answer to pending extra work.
    pub fn record_consent(
        &mut self,
        extra_work_id: &str,
        answer: ConsentInput,
        actor: &Actor,
        now: DateTime<Utc>,
    ) -> Result<(), RuleError> {
        let ConsentInput {
            granted,
            method,
            signer_name,
            evidence_ref,
            consent_time,
        } = answer;
        let Some(i) = self.extra_work.iter().position(|w| w.id == extra_work_id) else {
            return Err(RuleError::NotFound(format!(
                "field job {} has no extra work {extra_work_id}",
                self.id
            )));
        };
        let consent_time = consent_time.unwrap_or(now);
        let mut v = Violations::default();
        required_text(
            &mut v,
            "consent.signer_name",
            &signer_name,
            "name the person who signed or agreed",
        );
        if method.needs_evidence() && evidence_ref.trim().is_empty() {
            v.push(
                "consent.evidence_ref",
                "is required for a signed form or an electronic signature: the form number or \
                 the stored signature's id",
            );
        }
        if consent_time > now + SKEW {
            v.push("consent.consent_time", "must not be in the future");
        } else if consent_time < self.extra_work[i].propose_time {
            v.push(
                "consent.consent_time",
                "must not be before the extra work was proposed",
            );
        }
        invalid(v)?;
        if !matches!(
            self.state,
            FieldJobState::InProgress | FieldJobState::Paused
        ) {
            return Err(RuleError::Precondition(format!(
                "field job {} is {}; consent is recorded only while it is in_progress or paused",
                self.id,
                self.state.code()
            )));
        }
        let work = &mut self.extra_work[i];
        if work.consent_state != ConsentState::Pending {
            return Err(RuleError::Precondition(format!(
                "extra work {} of field job {} is already {}; the customer's answer is recorded \
                 once",
                work.id,
                self.id,
                work.consent_state.code()
            )));
        }
        work.consent_state = if granted {
            ConsentState::Granted
        } else {
            ConsentState::Refused
        };
        work.consent = Some(Consent {
            method,
            signer_name: signer_name.trim().to_owned(),
            evidence_ref: evidence_ref.trim().to_owned(),
            consent_time,
            recorded_by: actor.clone(),
        });
        self.update_time = now;
        Ok(())
    }

    /// Pauses the job and its completion clock for a delay the company did not cause.
    pub fn pause(
        &mut self,
        reason: PauseReason,
        note: String,
        actor: &Actor,
        now: DateTime<Utc>,
    ) -> Result<(), RuleError> {
        let mut v = Violations::default();
        required_text(&mut v, "note", &note, "say what the company waits for");
        invalid(v)?;
        self.can_go(FieldJobState::Paused)?;
        if self.pauses.len() >= MAX_PAUSES {
            return Err(RuleError::Precondition(format!(
                "field job {} was already paused {MAX_PAUSES} times",
                self.id
            )));
        }
        if let Some(completion) = self
            .clock_mut(ClockKind::Completion)
            .filter(|c| c.clock.ending().is_none() && !c.clock.is_paused())
        {
            let at = now.max(latest(&completion.clock));
            completion
                .clock
                .pause(at, reason.sla())
                .map_err(|e| clock_refused("pause", e))?;
        }
        let from = self.state;
        self.pauses.push(PauseNote {
            reason,
            note: note.trim().to_owned(),
            from,
            paused_by: actor.clone(),
            pause_time: now,
            resumed_by: None,
            resume_time: None,
        });
        self.to(FieldJobState::Paused, now);
        Ok(())
    }

    /// Resumes a paused job to where it was; its completion deadline moves out by the pause.
    pub fn resume(&mut self, actor: &Actor, now: DateTime<Utc>) -> Result<(), RuleError> {
        let Some(from) = self.paused_from() else {
            return Err(RuleError::Precondition(format!(
                "field job {} is {}; only a paused job resumes",
                self.id,
                self.state.code()
            )));
        };
        if let Some(completion) = self
            .clock_mut(ClockKind::Completion)
            .filter(|c| c.clock.is_paused())
        {
            let at = now.max(latest(&completion.clock));
            completion
                .clock
                .resume(at)
                .map_err(|e| clock_refused("resume", e))?;
        }
        self.close_pause(actor, now);
        self.to(from, now);
        Ok(())
    }

    fn close_pause(&mut self, actor: &Actor, now: DateTime<Utc>) {
        if let Some(p) = self.pauses.last_mut().filter(|p| p.resume_time.is_none()) {
            p.resumed_by = Some(actor.clone());
            p.resume_time = Some(now);
        }
    }

    /// The work is done: refused while extra work waits for consent. Stops the clocks and
    /// returns the events for feedback: the 1-2 day callback and the finished activity.
    pub fn complete(
        &mut self,
        input: CompletionInput,
        actor: &Actor,
        now: DateTime<Utc>,
    ) -> Result<Vec<Outgoing>, RuleError> {
        let CompletionInput {
            summary,
            complete_time,
            customer_signed_off,
            charged_minor,
            currency_code,
        } = input;
        let complete_time = complete_time.unwrap_or(now);
        let mut v = Violations::default();
        required_text(&mut v, "completion.summary", &summary, "say what was done");
        if complete_time > now + SKEW {
            v.push("completion.complete_time", "must not be in the future");
        } else if complete_time < self.arrive_time.unwrap_or(self.accept_time) {
            v.push(
                "completion.complete_time",
                "must not be before the engineer arrived",
            );
        }
        money(
            &mut v,
            "completion.charged_minor",
            charged_minor,
            "completion.currency_code",
            &currency_code,
        );
        invalid(v)?;
        self.can_go(FieldJobState::Completed)?;
        let pending: Vec<String> = self
            .extra_work
            .iter()
            .filter(|w| w.consent_state == ConsentState::Pending)
            .map(|w| w.id.clone())
            .collect();
        if !pending.is_empty() {
            return Err(RuleError::Precondition(format!(
                "field job {} has extra work waiting for the customer's consent ({}); record the \
                 customer's answer with RecordExtraWorkConsent before completing",
                self.id,
                pending.join(", ")
            )));
        }
        for c in self
            .clocks
            .iter_mut()
            .filter(|c| c.clock.ending().is_none())
        {
            let at = complete_time.max(latest(&c.clock));
            c.clock.stop(at).map_err(|e| clock_refused("stop", e))?;
        }
        self.completion = Some(Completion {
            summary: summary.trim().to_owned(),
            complete_time,
            completed_by: actor.clone(),
            customer_signed_off,
            charged_minor,
            currency_code,
            feedback_callback_id: String::new(),
        });
        self.to(FieldJobState::Completed, now);
        Ok(vec![
            Outgoing::ScheduleCallback {
                customer_id: self.customer_id.clone(),
                field_job_id: self.id.clone(),
                service_end_time: complete_time,
                served_by_agent_id: self.engineer_id.clone(),
            },
            Outgoing::Activity {
                kind: "field_job_completed".into(),
                customer_id: self.customer_id.clone(),
                agent_id: self.engineer_id.clone(),
                subject_kind: "field_job".into(),
                subject_id: self.id.clone(),
                occur_time: complete_time,
            },
        ])
    }

    /// The job will not be done; its open clocks are cancelled.
    pub fn cancel(
        &mut self,
        reason: String,
        actor: &Actor,
        now: DateTime<Utc>,
    ) -> Result<(), RuleError> {
        let mut v = Violations::default();
        required_text(&mut v, "reason", &reason, "say why the job is cancelled");
        invalid(v)?;
        self.can_go(FieldJobState::Cancelled)?;
        for c in self
            .clocks
            .iter_mut()
            .filter(|c| c.clock.ending().is_none())
        {
            let at = now.max(latest(&c.clock));
            c.clock.cancel(at).map_err(|e| clock_refused("cancel", e))?;
        }
        self.close_pause(actor, now);
        self.cancel_reason = reason.trim().to_owned();
        self.to(FieldJobState::Cancelled, now);
        Ok(())
    }

    /// Notes every clock whose deadline passed before it stopped (breached, or met late) and
    /// returns the ids of those noted now: each breach is noted once.
    pub fn watch(&mut self, policy: &Policy, now: DateTime<Utc>) -> Vec<String> {
        let mut noted = Vec::new();
        for c in self.clocks.iter_mut().filter(|c| !c.breached) {
            if status(policy, &c.clock, now)
                .reached
                .contains(&Milestone::Breach)
            {
                c.breached = true;
                noted.push(c.id.clone());
            }
        }
        noted
    }

    /// When the clocks must be looked at again: the earliest next change of a counting clock,
    /// or `now` when a breach is not noted yet; `None` when no clock counts.
    pub fn next_check(&self, policy: &Policy, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.clocks
            .iter()
            .filter(|c| c.clock.ending().is_none() && !c.breached)
            .filter_map(|c| {
                let status = status(policy, &c.clock, now);
                if status.reached.contains(&Milestone::Breach) {
                    Some(now)
                } else {
                    status.next_change
                }
            })
            .min()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::domain::Role;
    use chrono::TimeZone;
    use proptest::prelude::*;

    fn t0() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 2, 2, 0, 0).unwrap()
    }

    fn engineer() -> Actor {
        Actor {
            id: "eng-1".into(),
            role: Role::Engineer,
        }
    }

    fn customer(key_account: bool, region: Region) -> JobCustomer {
        JobCustomer {
            tier: Tier::B,
            key_account,
            region,
            defaulted: false,
        }
    }

    fn job_for(kind: FieldJobKind, who: JobCustomer, dispatch: Option<DateTime<Utc>>) -> FieldJob {
        FieldJob::new(
            "fjb_1".into(),
            NewFieldJob {
                customer_id: "cus_1".into(),
                kind,
                description: "install fibre".into(),
                site: String::new(),
                complaint_id: String::new(),
                engineer_id: "eng-1".into(),
                accept_time: None,
                dispatch_time: dispatch,
            },
            who,
            &Policy::default_presets(),
            engineer(),
            t0(),
        )
        .unwrap()
    }

    fn job() -> FieldJob {
        job_for(FieldJobKind::Repair, customer(false, Region::Urban), None)
    }

    fn target(job: &FieldJob, kind: ClockKind) -> TimeDelta {
        job.clock(kind).unwrap().clock.spec().target
    }

    fn window(now: DateTime<Utc>) -> WindowInput {
        WindowInput {
            start: now + TimeDelta::hours(1),
            end: now + TimeDelta::hours(3),
            agreed_with_customer: "phone call 10:12".into(),
        }
    }

    fn extra(now: DateTime<Utc>) -> ExtraWorkInput {
        ExtraWorkInput {
            description: "replace the corroded junction box".into(),
            cost_minor: 12_000,
            currency_code: "CNY".into(),
            extra_time: Some(TimeDelta::minutes(40)),
            estimated_completion_time: now + TimeDelta::hours(2),
            replaced_parts: ReplacedParts::CustomerKeeps,
        }
    }

    fn answer(granted: bool) -> ConsentInput {
        ConsentInput {
            granted,
            method: ConsentMethod::SignedForm,
            signer_name: "Wang Fang".into(),
            evidence_ref: "F-2026-118".into(),
            consent_time: None,
        }
    }

    fn done() -> CompletionInput {
        CompletionInput {
            summary: "box replaced, line tested".into(),
            complete_time: None,
            customer_signed_off: true,
            charged_minor: 12_000,
            currency_code: "CNY".into(),
        }
    }

    /// A job on site and working, an hour after creation.
    fn working() -> (FieldJob, DateTime<Utc>) {
        let mut j = job();
        let now = t0() + TimeDelta::minutes(10);
        j.agree_window(window(now), &engineer(), now).unwrap();
        let now = now + TimeDelta::hours(1);
        j.arrive(None, now).unwrap();
        j.start("explained the repair and its cost".into(), now)
            .unwrap();
        (j, now)
    }

    #[test]
    fn the_completion_limit_follows_the_kind_the_region_and_the_key_account() {
        let urban = customer(false, Region::Urban);
        let rural = customer(false, Region::Rural);
        let key = customer(true, Region::Urban);
        let install = |who| {
            target(
                &job_for(FieldJobKind::Installation, who, None),
                ClockKind::Completion,
            )
        };
        assert_eq!(install(urban), TimeDelta::days(28));
        assert_eq!(install(rural), TimeDelta::days(38));
        assert_eq!(install(key), TimeDelta::days(14));
        assert_eq!(
            target(
                &job_for(FieldJobKind::Move, rural, None),
                ClockKind::Completion
            ),
            TimeDelta::days(38)
        );
        for kind in [FieldJobKind::Reconnection, FieldJobKind::BusinessChange] {
            assert_eq!(
                target(&job_for(kind, urban, None), ClockKind::Completion),
                TimeDelta::hours(24)
            );
        }
        assert_eq!(
            target(
                &job_for(FieldJobKind::Repair, rural, None),
                ClockKind::Completion
            ),
            TimeDelta::hours(72)
        );
        assert_eq!(
            target(
                &job_for(FieldJobKind::Maintenance, urban, None),
                ClockKind::Completion
            ),
            TimeDelta::days(7)
        );
        // Unreachable customers service: the most demanding facts.
        assert_eq!(
            install(JobCustomer::demanding_defaults()),
            TimeDelta::days(14)
        );
    }

    #[test]
    fn first_contact_is_an_hour_from_acceptance_or_half_an_hour_from_a_dispatch() {
        let j = job();
        let c = j.clock(ClockKind::FirstContact).unwrap();
        assert_eq!(c.clock.spec().target, TimeDelta::hours(1));
        assert_eq!(c.clock.spec().promise, Promise::FirstContact);
        let dispatched = t0() - TimeDelta::minutes(1);
        let mut input = NewFieldJob {
            customer_id: "cus_1".into(),
            kind: FieldJobKind::Repair,
            description: "repair".into(),
            site: String::new(),
            complaint_id: String::new(),
            engineer_id: "eng-1".into(),
            accept_time: Some(t0() - TimeDelta::minutes(5)),
            dispatch_time: Some(dispatched),
        };
        let d = FieldJob::new(
            "fjb_2".into(),
            input.clone(),
            customer(false, Region::Urban),
            &Policy::default_presets(),
            engineer(),
            t0(),
        )
        .unwrap();
        let c = d.clock(ClockKind::FirstContact).unwrap();
        assert_eq!(c.clock.spec().promise, Promise::DispatchContact);
        assert_eq!(c.clock.started_at(), dispatched);
        input.dispatch_time = Some(t0() - TimeDelta::minutes(6));
        let err = FieldJob::new(
            "fjb_3".into(),
            input,
            customer(false, Region::Urban),
            &Policy::default_presets(),
            engineer(),
            t0(),
        )
        .unwrap_err();
        assert!(matches!(err, RuleError::Invalid(v) if v.0[0].field == "job.dispatch_time"));
    }

    #[test]
    fn agreeing_a_window_stops_first_contact_and_moving_it_keeps_the_earlier_one() {
        let mut j = job();
        let now = t0() + TimeDelta::minutes(20);
        j.agree_window(window(now), &engineer(), now).unwrap();
        assert_eq!(j.state, FieldJobState::WindowAgreed);
        let policy = Policy::default_presets();
        let fc = j.clock(ClockKind::FirstContact).unwrap();
        assert_eq!(status(&policy, &fc.clock, now).state, csops_sla::State::Met);
        let later = now + TimeDelta::hours(1);
        let mut moved = window(later + TimeDelta::days(1));
        moved.agreed_with_customer = " ".into();
        let err = j
            .agree_window(moved.clone(), &engineer(), later)
            .unwrap_err();
        assert!(
            matches!(err, RuleError::Invalid(v) if v.0[0].field == "window.agreed_with_customer")
        );
        moved.agreed_with_customer = "sms reply".into();
        j.agree_window(moved, &engineer(), later).unwrap();
        assert_eq!(j.previous_windows.len(), 1);
        assert_eq!(
            j.previous_windows[0].agreed_with_customer,
            "phone call 10:12"
        );
        assert_eq!(
            j.agreed_window.as_ref().unwrap().agreed_with_customer,
            "sms reply"
        );
        // The first-contact clock stays met at its first stop.
        let fc = j.clock(ClockKind::FirstContact).unwrap();
        assert_eq!(fc.clock.ending(), Some(csops_sla::Ending::Stopped(now)));
    }

    #[test]
    fn arrival_records_whether_it_fell_inside_the_window() {
        let mut j = job();
        let now = t0() + TimeDelta::minutes(10);
        j.agree_window(window(now), &engineer(), now).unwrap();
        let mut late = j.clone();
        j.arrive(Some(now + TimeDelta::hours(2)), now + TimeDelta::hours(2))
            .unwrap();
        assert!(j.arrived_on_time);
        late.arrive(None, now + TimeDelta::hours(4)).unwrap();
        assert!(!late.arrived_on_time);
        assert_eq!(late.state, FieldJobState::Arrived);
    }

    #[test]
    fn a_refused_transition_names_the_current_and_the_allowed_states() {
        let mut j = job();
        let err = j.arrive(None, t0()).unwrap_err();
        let RuleError::Precondition(m) = err else {
            panic!("{err:?}")
        };
        assert!(
            m.contains("is created")
                && m.contains("window_agreed, cancelled")
                && m.contains("not arrived"),
            "{m}"
        );
        j.cancel("customer withdrew the order".into(), &engineer(), t0())
            .unwrap();
        let err = j.cancel("again".into(), &engineer(), t0()).unwrap_err();
        assert!(matches!(err, RuleError::Precondition(m) if m.contains("no other state")));
        assert!(j.clocks.iter().all(|c| c.clock.ending().is_some()));
    }

    #[test]
    fn pending_extra_work_blocks_completion_until_the_customer_answers() {
        let (mut j, now) = working();
        let work = j.propose_extra_work(extra(now), &engineer(), now).unwrap();
        assert_eq!(work.consent_state, ConsentState::Pending);
        assert!(j.consent_pending());
        let err = j.complete(done(), &engineer(), now).unwrap_err();
        assert!(
            matches!(&err, RuleError::Precondition(m) if m.contains(&work.id)),
            "{err:?}"
        );
        let mut no_evidence = answer(true);
        no_evidence.evidence_ref = String::new();
        let err = j
            .record_consent(&work.id, no_evidence, &engineer(), now)
            .unwrap_err();
        assert!(matches!(err, RuleError::Invalid(v) if v.0[0].field == "consent.evidence_ref"));
        j.record_consent(&work.id, answer(true), &engineer(), now)
            .unwrap();
        assert!(!j.consent_pending());
        let err = j
            .record_consent(&work.id, answer(false), &engineer(), now)
            .unwrap_err();
        assert!(matches!(err, RuleError::Precondition(m) if m.contains("granted")));
        let events = j
            .complete(done(), &engineer(), now + TimeDelta::minutes(30))
            .unwrap();
        assert_eq!(j.state, FieldJobState::Completed);
        assert!(matches!(
            &events[0],
            Outgoing::ScheduleCallback { field_job_id, .. } if field_job_id == "fjb_1"
        ));
        assert!(matches!(
            &events[1],
            Outgoing::Activity { kind, subject_kind, .. }
                if kind == "field_job_completed" && subject_kind == "field_job"
        ));
        let policy = Policy::default_presets();
        for c in &j.clocks {
            assert_eq!(
                status(&policy, &c.clock, now + TimeDelta::days(9)).state,
                csops_sla::State::Met
            );
        }
    }

    #[test]
    fn extra_work_is_proposed_only_in_progress_with_an_estimate_ahead() {
        let mut j = job();
        let err = j
            .propose_extra_work(extra(t0()), &engineer(), t0())
            .unwrap_err();
        assert!(matches!(err, RuleError::Precondition(m) if m.contains("in_progress")));
        let (mut j, now) = working();
        let mut past = extra(now);
        past.estimated_completion_time = now;
        past.currency_code = String::new();
        let err = j.propose_extra_work(past, &engineer(), now).unwrap_err();
        let RuleError::Invalid(v) = err else { panic!() };
        let fields: Vec<_> = v.0.iter().map(|f| f.field.as_str()).collect();
        assert_eq!(
            fields,
            [
                "extra_work.currency_code",
                "extra_work.estimated_completion_time"
            ]
        );
    }

    #[test]
    fn a_pause_keeps_the_customers_delay_out_of_the_completion_limit() {
        let policy = Policy::default_presets();
        let (mut j, now) = working();
        let before = status(&policy, &j.clock(ClockKind::Completion).unwrap().clock, now).deadline;
        j.pause(
            PauseReason::WaitingOnCustomer,
            "customer decides on the new router".into(),
            &engineer(),
            now,
        )
        .unwrap();
        assert_eq!(j.state, FieldJobState::Paused);
        assert_eq!(
            j.allowed(),
            vec![FieldJobState::InProgress, FieldJobState::Cancelled]
        );
        let err = j.complete(done(), &engineer(), now).unwrap_err();
        assert!(matches!(err, RuleError::Precondition(m) if m.contains("paused")));
        let later = now + TimeDelta::hours(5);
        j.resume(&engineer(), later).unwrap();
        assert_eq!(j.state, FieldJobState::InProgress);
        let after = status(
            &policy,
            &j.clock(ClockKind::Completion).unwrap().clock,
            later,
        )
        .deadline;
        assert_eq!(after - before, TimeDelta::hours(5));
        assert_eq!(j.pauses[0].resume_time, Some(later));
    }

    #[test]
    fn a_clock_past_its_deadline_is_noted_breached_once() {
        let policy = Policy::default_presets();
        let mut j = job_for(
            FieldJobKind::Reconnection,
            customer(false, Region::Urban),
            None,
        );
        assert!(j.watch(&policy, t0() + TimeDelta::minutes(30)).is_empty());
        let next = j.next_check(&policy, t0()).unwrap();
        assert!(next > t0() && next <= t0() + TimeDelta::hours(1) + TimeDelta::seconds(1));
        let late = t0() + TimeDelta::hours(25);
        let noted = j.watch(&policy, late);
        assert_eq!(
            noted,
            vec!["first_contact-1".to_owned(), "completion-1".to_owned()]
        );
        assert!(j.breached());
        assert!(j.watch(&policy, late).is_empty());
        assert_eq!(j.next_check(&policy, late), None);
    }

    #[test]
    fn a_stored_job_reads_back_equal() {
        let (mut j, now) = working();
        j.propose_extra_work(extra(now), &engineer(), now).unwrap();
        let json = serde_json::to_string(&j).unwrap();
        assert_eq!(serde_json::from_str::<FieldJob>(&json).unwrap(), j);
    }

    #[derive(Debug, Clone)]
    enum Op {
        Agree(i64),
        Arrive,
        Start,
        Propose,
        Consent(usize, bool),
        Pause,
        Resume,
        Complete,
        Cancel,
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            3 => (0i64..600).prop_map(Op::Agree),
            3 => Just(Op::Arrive),
            3 => Just(Op::Start),
            2 => Just(Op::Propose),
            2 => (0usize..3, any::<bool>()).prop_map(|(i, g)| Op::Consent(i, g)),
            2 => Just(Op::Pause),
            2 => Just(Op::Resume),
            3 => Just(Op::Complete),
            1 => Just(Op::Cancel),
        ]
    }

    fn window_at(start: DateTime<Utc>) -> WindowInput {
        WindowInput {
            start,
            end: start + TimeDelta::hours(2),
            agreed_with_customer: "call".into(),
        }
    }

    /// Runs `ops` on a new job, `minutes` apart, checking the invariants after each.
    fn run(ops: Vec<(Op, i64)>) -> Result<(), TestCaseError> {
        let policy = Policy::default_presets();
        let mut j = job();
        let mut now = t0();
        let e = engineer();
        for (op, minutes) in ops {
            now += TimeDelta::minutes(minutes);
            let before = j.clone();
            let result = match op {
                Op::Agree(start) => {
                    j.agree_window(window_at(now + TimeDelta::minutes(start)), &e, now)
                }
                Op::Arrive => j.arrive(None, now),
                Op::Start => j.start("explained".into(), now),
                Op::Propose => j.propose_extra_work(extra(now), &e, now).map(|_| ()),
                Op::Consent(i, granted) => {
                    j.record_consent(&format!("xw-{}", i + 1), answer(granted), &e, now)
                }
                Op::Pause => j.pause(PauseReason::ExternalDelay, "parts".into(), &e, now),
                Op::Resume => j.resume(&e, now),
                Op::Complete => j.complete(done(), &e, now).map(|_| ()),
                Op::Cancel => j.cancel("withdrawn".into(), &e, now),
            };
            match result {
                Err(_) => prop_assert_eq!(&j, &before),
                Ok(()) if j.state != before.state => {
                    prop_assert!(
                        before.allowed().contains(&j.state),
                        "{:?} -> {:?}",
                        before.state,
                        j.state
                    );
                }
                Ok(()) => {}
            }
            j.watch(&policy, now);
            if j.state == FieldJobState::Completed {
                prop_assert!(!j.consent_pending());
            }
            let completion = &j.clock(ClockKind::Completion).unwrap().clock;
            prop_assert_eq!(completion.is_paused(), j.state == FieldJobState::Paused);
            let first_contact = &j.clock(ClockKind::FirstContact).unwrap().clock;
            prop_assert_eq!(
                first_contact.ending().is_none(),
                j.state == FieldJobState::Created
            );
            if !j.state.is_open() {
                prop_assert!(j.clocks.iter().all(|c| c.clock.ending().is_some()));
            }
            prop_assert!(j.previous_windows.is_empty() || j.agreed_window.is_some());
        }
        Ok(())
    }

    proptest! {
        /// Whatever callers do: a refused change leaves the job as it was, a state changes
        /// only along the machine, a completed job has no pending consent, the completion
        /// clock is paused exactly while the job is, and first contact counts only until a
        /// window is agreed.
        #[test]
        fn the_state_machine_and_the_clocks_stay_consistent(
            ops in proptest::collection::vec((op(), 0i64..240), 1..40)
        ) {
            run(ops)?;
        }
    }
}
