//! The callback (回访): a follow-up call to the customer 1-2 days after a complaint is resolved,
//! a field job is completed or a visit is made (seed 002: "在维修结束后1-2天内做电话回访").
//!
//! Its state machine: SCHEDULED → COMPLETED (the customer was reached and answered) |
//! UNREACHABLE (the configured number of attempts, default 3, did not reach the customer) |
//! CANCELLED (no longer needed). Every end state is final: an attempt, a cancel or a second
//! answer on an ended callback is refused with a [`RuleError::Precondition`] naming the state.
//!
//! Problems found on the callback are [`Finding`]s, each with an owner and a fix deadline (the
//! SLA policy's callback-fix limit, 2 days, seed 002: "必须在2天内解决"). What a change causes
//! outside the callback (the complaint reopened or allowed to close, a finding opened or
//! fixed) comes back from the changing method as [`Effects`]; nothing is kept in buffers.
//!
//! Files: `rules.rs` holds the configuration ([`CallbackRules`]: window, fix limit,
//! attempts, taken from csops-sla), `lifecycle.rs` the moves (scheduling, attempts,
//! cancelling, fixing findings) and their effects; the breaches ([`Callback::is_overdue`],
//! [`Callback::overdue_findings`]) are here.

use chrono::{DateTime, TimeDelta, Utc};
use csops_runtime::time::{serde_micros, serde_micros_opt};
use csops_runtime::{RuleError, Violations};
use serde::{Deserialize, Serialize};

mod lifecycle;
mod rules;

pub use rules::{CallbackRules, Limit};

use super::coded;
pub use super::{Actor, Role, Subject, SubjectKind};

/// Longest notes of an attempt (what the customer said), in characters.
pub const MAX_NOTES: usize = 4_000;
/// Longest finding description, in characters.
pub const MAX_FINDING: usize = 1_000;
/// Most findings one attempt records.
pub const MAX_FINDINGS: usize = 20;
/// Longest fix note of a finding, in characters.
pub const MAX_FIX_NOTE: usize = 4_000;
/// Longest cancel reason, in characters.
pub const MAX_CANCEL_REASON: usize = 1_000;
/// Longest reason sent to the complaints service with a reopen (its notes field), in bytes.
pub const MAX_REOPEN_REASON: usize = 4_000;
/// How far in the future a reported time may be (clocks of callers differ a little).
pub const CLOCK_SKEW: TimeDelta = TimeDelta::minutes(5);
/// How far back a service may have ended for a callback to be scheduled from it.
pub const MAX_SERVICE_AGE: TimeDelta = TimeDelta::days(366);

coded! {
    /// Where a callback is.
    pub enum CallbackState {
        /// Waiting for its time or for the next attempt.
        Scheduled = "scheduled",
        /// The customer was reached and answered.
        Completed = "completed",
        /// The configured number of attempts did not reach the customer.
        Unreachable = "unreachable",
        /// No longer needed.
        Cancelled = "cancelled",
    }
}

impl CallbackState {
    /// True once the callback can no longer change state.
    pub fn is_final(self) -> bool {
        self != CallbackState::Scheduled
    }
}

coded! {
    /// The result of a callback, as the complaints service knows it.
    pub enum CallbackOutcome {
        /// The customer is satisfied.
        Satisfied = "satisfied",
        /// The customer is unhappy or a problem was found.
        Unsatisfied = "unsatisfied",
        /// The customer could not be reached.
        Unreachable = "unreachable",
    }
}

coded! {
    /// Where a finding is.
    pub enum FindingState {
        /// To be fixed.
        Open = "open",
        /// Fixed.
        Fixed = "fixed",
    }
}

/// One attempt to reach the customer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attempt {
    /// When the attempt was made.
    #[serde(with = "serde_micros")]
    pub attempt_time: DateTime<Utc>,
    /// Who called.
    pub actor: Actor,
    /// True when the customer was reached.
    pub reached: bool,
    /// What the reached customer answered (SATISFIED or UNSATISFIED); `None` when not reached.
    pub outcome: Option<CallbackOutcome>,
    /// What the customer said.
    pub notes: String,
}

/// A problem found on a callback, to be fixed by its owner before its deadline.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Finding {
    /// `fnd_<n>` within the callback, numbered from 1.
    pub id: String,
    /// The problem.
    pub description: String,
    /// Who fixes it.
    pub owner_agent_id: String,
    /// Open or fixed.
    pub state: FindingState,
    /// When it was found (the attempt's time): the fix limit counts from here.
    #[serde(with = "serde_micros")]
    pub find_time: DateTime<Utc>,
    /// Fix by this time.
    #[serde(with = "serde_micros")]
    pub fix_due_time: DateTime<Utc>,
    /// When it was fixed.
    #[serde(with = "serde_micros_opt")]
    pub fix_time: Option<DateTime<Utc>>,
    /// What was done.
    pub fix_note: String,
    /// Who fixed it.
    pub fixed_by: Option<Actor>,
}

impl Finding {
    /// The fix deadline while the finding is open.
    pub fn open_due_time(&self) -> Option<DateTime<Utc>> {
        (self.state == FindingState::Open).then_some(self.fix_due_time)
    }

    /// True while the finding is open after its fix deadline: a breach.
    pub fn is_overdue(&self, now: DateTime<Utc>) -> bool {
        self.state == FindingState::Open && now > self.fix_due_time
    }

    /// Whether it was fixed by its deadline; `None` while open.
    pub fn fixed_on_time(&self) -> Option<bool> {
        self.fix_time.map(|t| t <= self.fix_due_time)
    }
}

/// A callback (回访).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Callback {
    /// `cbk_…`, given by the caller of [`Callback::schedule`].
    pub id: String,
    /// The customer to call.
    pub customer_id: String,
    /// What the callback follows up.
    pub subject: Subject,
    /// The sender's outbox event id it was scheduled from (the idempotency key).
    pub source_event_id: String,
    /// The agent who calls; empty while unassigned.
    pub assigned_agent_id: String,
    /// The agent who served the customer; owns the findings no one else is named for.
    pub served_by_agent_id: String,
    /// Where it is.
    pub state: CallbackState,
    /// When the service ended: the window counts from here.
    #[serde(with = "serde_micros")]
    pub service_end_time: DateTime<Utc>,
    /// Planned not before this time (a work list shows the callback from here).
    #[serde(with = "serde_micros")]
    pub earliest_time: DateTime<Utc>,
    /// Due by this time: still scheduled after it is a breach.
    #[serde(with = "serde_micros")]
    pub due_time: DateTime<Utc>,
    /// Every attempt, oldest first.
    pub attempts: Vec<Attempt>,
    /// The final outcome; `None` while scheduled or when cancelled. UNSATISFIED when the
    /// customer said so or any problem was found (what the complaints service acts on).
    pub outcome: Option<CallbackOutcome>,
    /// Problems found, in the order found.
    pub findings: Vec<Finding>,
    /// The survey taken during the callback; empty when none.
    pub survey_id: String,
    /// Why it was cancelled; empty unless cancelled.
    pub cancel_reason: String,
    /// Who cancelled it.
    pub cancelled_by: Option<Actor>,
    /// When it reached its end state.
    #[serde(with = "serde_micros_opt")]
    pub end_time: Option<DateTime<Utc>>,
    /// Who scheduled it (the sending service as a system actor).
    pub created_by: Actor,
    /// When it was scheduled.
    #[serde(with = "serde_micros")]
    pub create_time: DateTime<Utc>,
    /// When it last changed.
    #[serde(with = "serde_micros")]
    pub update_time: DateTime<Utc>,
    /// Optimistic-concurrency version, raised by every change.
    pub version: i64,
}

/// The fields of a new callback, from the event that asks for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewCallback {
    /// The customer to call.
    pub customer_id: String,
    /// What to follow up: a complaint, a field job or a visit.
    pub subject: Subject,
    /// When the service ended (resolution or completion).
    pub service_end_time: DateTime<Utc>,
    /// The agent or engineer who served the customer; may be empty.
    pub served_by_agent_id: String,
    /// The sender's outbox event id.
    pub source_event_id: String,
}

/// A problem found on an attempt, as reported.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FindingInput {
    /// The problem, 1-1000 characters.
    pub description: String,
    /// Who fixes it; empty means the agent who served the customer.
    pub owner_agent_id: String,
}

/// One attempt, as reported.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttemptInput {
    /// True when the customer was reached.
    pub reached: bool,
    /// For a reached customer, SATISFIED or UNSATISFIED (required); unset (or UNREACHABLE)
    /// when not reached.
    pub outcome: Option<CallbackOutcome>,
    /// Problems found (a reached customer only); at least one for UNSATISFIED.
    pub findings: Vec<FindingInput>,
    /// What the customer said.
    pub notes: String,
    /// When the attempt was made; `None`: now.
    pub attempt_time: Option<DateTime<Utc>>,
}

/// What a change of a callback causes outside it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect {
    /// The complaints service reopens the complaint with this reason and starts its 2-day fix
    /// clock (complaints' `RecordCallback` with UNSATISFIED). Produced once per callback, when
    /// it completes.
    ReopenComplaint {
        /// The complaint.
        complaint_id: String,
        /// Why, in plain words: the findings and what the customer said.
        reason: String,
        /// When the customer was reached.
        callback_time: DateTime<Utc>,
        /// The request id that makes the complaints call safe to retry:
        /// `<callback id>:outcome`.
        request_id: String,
    },
    /// The complaint may close (complaints' `RecordCallback` with SATISFIED). Produced once
    /// per callback, when it completes.
    ComplaintMayClose {
        /// The complaint.
        complaint_id: String,
        /// When the customer was reached.
        callback_time: DateTime<Utc>,
        /// `<callback id>:outcome`.
        request_id: String,
    },
    /// An attempt did not reach the customer (complaints' `RecordCallback` with UNREACHABLE:
    /// the complaint may close after its configured number of these).
    ComplaintCallbackUnreachable {
        /// The complaint.
        complaint_id: String,
        /// When the attempt was made.
        attempt_time: DateTime<Utc>,
        /// `<callback id>:attempt-<n>`, n counting attempts from 1.
        request_id: String,
    },
    /// A finding was opened: its owner must fix it by the deadline.
    FindingOpened {
        /// The finding.
        finding_id: String,
        /// Who fixes it.
        owner_agent_id: String,
        /// Fix by this time.
        fix_due_time: DateTime<Utc>,
    },
    /// A finding was fixed.
    FindingFixed {
        /// The finding.
        finding_id: String,
        /// True when fixed by its deadline.
        on_time: bool,
    },
}

/// Everything one change caused, in the order it happened.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[must_use = "a change's effects are lost unless they are saved with the callback"]
pub struct Effects(pub Vec<Effect>);

impl Effects {
    /// True when the change caused nothing outside the callback.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The effects, in order.
    pub fn iter(&self) -> std::slice::Iter<'_, Effect> {
        self.0.iter()
    }
}

impl Callback {
    /// True while the callback is still scheduled after its due time: a breach (the
    /// `csops_feedback_callbacks_overdue` gauge counts these).
    pub fn is_overdue(&self, now: DateTime<Utc>) -> bool {
        self.state == CallbackState::Scheduled && now > self.due_time
    }

    /// The open findings past their fix deadline (each a breach).
    pub fn overdue_findings(&self, now: DateTime<Utc>) -> impl Iterator<Item = &Finding> + '_ {
        self.findings.iter().filter(move |f| f.is_overdue(now))
    }

    /// True once `now` is at or after the earliest time and the callback is still scheduled:
    /// it belongs on today's work list.
    pub fn is_ready(&self, now: DateTime<Utc>) -> bool {
        self.state == CallbackState::Scheduled && now >= self.earliest_time
    }

    /// Whether the callback reached its end by the due time (completed or found unreachable);
    /// `None` while scheduled or when cancelled (neither met nor breached).
    pub fn on_time(&self) -> Option<bool> {
        match self.state {
            CallbackState::Completed | CallbackState::Unreachable => {
                self.end_time.map(|t| t <= self.due_time)
            }
            CallbackState::Scheduled | CallbackState::Cancelled => None,
        }
    }

    /// The next instant after `now` at which a breach begins (the due time of a scheduled
    /// callback, the deadline of an open finding); a watcher sleeps until then.
    pub fn next_deadline(&self, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let due = (self.state == CallbackState::Scheduled).then_some(self.due_time);
        let fixes = self
            .findings
            .iter()
            .filter(|f| f.state == FindingState::Open)
            .map(|f| f.fix_due_time);
        due.into_iter().chain(fixes).filter(|t| *t >= now).min()
    }

    /// How many attempts did not reach the customer.
    pub fn unreached_attempts(&self) -> usize {
        self.attempts.iter().filter(|a| !a.reached).count()
    }
}

/// Pushes a violation when a text is blank (if required) or longer than `max` characters.
fn text(v: &mut Violations, field: &str, value: &str, max: usize, required: bool) {
    if required && value.trim().is_empty() {
        v.push(field, "is required");
    } else {
        v.max_len(field, value, max);
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
