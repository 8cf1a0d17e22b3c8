//! The complaint aggregate and every change the process allows.
//!
//! Each change checks the state machine first (an illegal move names the current state and the
//! allowed next ones), then applies itself and returns what it caused — timeline entries, SLA
//! events, outbox events, escalation keys — as [`Effects`], which the store writes in the same
//! transaction as the complaint. Inside a change the private steps append to one `&mut Effects`.

use chrono::{DateTime, TimeDelta, Utc};
use csops_runtime::violations::MAX_ID_LEN;
use csops_sla::{Case, PolicyError};
use serde::{Deserialize, Serialize};

use super::rules::Rules;
use super::types::*;
use super::vocabulary::*;
use super::{RuleError, Violations};

mod activities;
mod clocks;
mod compensation;
mod edits;
mod effects;
mod escalation;
mod lifecycle;
mod promises;

pub use effects::{Effects, EscalationKey};

// The documented maxima of the complaint's texts and lists, in characters and entries; the API
// checks them before any work and the rules here again, for every caller.
/// The longest title.
pub const MAX_TITLE: usize = 200;
/// The longest description.
pub const MAX_DESCRIPTION: usize = 10_000;
/// The longest customer demand.
pub const MAX_DEMAND: usize = 2_000;
/// The longest note, comment, reason or resolution text.
pub const MAX_NOTE: usize = 4_000;
/// The longest short note: a measure, a plan step, a promise, a compensation, a pause.
pub const MAX_SHORT_NOTE: usize = 1_000;
/// The most external references of a complaint.
pub const MAX_REFERENCES: usize = 20;
/// The longest kind of an external reference.
pub const MAX_REFERENCE_KIND: usize = 50;
/// The longest id of an external reference.
pub const MAX_REFERENCE_ID: usize = 200;
/// The most complainant traits of a complaint (there are 8; a repeat is harmless).
pub const MAX_TRAITS: usize = 20;
/// The most measures of one proposed solution.
pub const MAX_MEASURES: usize = 50;
/// The most steps of one solution's plan.
pub const MAX_PLAN_STEPS: usize = 50;
/// Client clocks may run a little ahead of ours.
const CLOCK_SKEW: TimeDelta = TimeDelta::minutes(1);
/// How far back a time the caller reports about the past (a receive time, a call's start) may
/// lie: a complaint is recorded when it arrives, so a year covers a late letter with margin;
/// "decades back" is a typo or a default value, not a case.
const MAX_BACKDATE: TimeDelta = TimeDelta::days(366);
/// How far ahead a promise to the customer may fall due.
const MAX_PROMISE_AHEAD: TimeDelta = TimeDelta::days(366);
/// The longest name of an accountable party.
pub const MAX_ACCOUNTABLE_PARTY: usize = 200;
/// The longest call recorded.
const MAX_CALL: TimeDelta = TimeDelta::hours(24);

/// What a caller gives to record a complaint.
#[derive(Debug, Clone, Default)]
pub struct Input {
    /// Customer id.
    pub customer_id: String,
    /// Summary.
    pub title: String,
    /// Full text.
    pub description: String,
    /// What the customer asks for.
    pub customer_demand: String,
    /// Nature (None when not given).
    pub nature: Option<Nature>,
    /// Severity.
    pub severity: Option<Severity>,
    /// Channel.
    pub channel: Option<Channel>,
    /// Traits.
    pub traits: Vec<Trait>,
    /// References.
    pub references: Vec<Reference>,
    /// When the customer complained; `None` = now.
    pub receive_time: Option<DateTime<Utc>>,
}

/// Editable fields named by an update mask; `None` leaves a field alone.
#[derive(Debug, Clone, Default)]
pub struct Patch {
    /// Title.
    pub title: Option<String>,
    /// Description.
    pub description: Option<String>,
    /// Demand.
    pub customer_demand: Option<String>,
    /// Nature.
    pub nature: Option<Nature>,
    /// Severity.
    pub severity: Option<Severity>,
    /// Channel.
    pub channel: Option<Channel>,
    /// Traits.
    pub traits: Option<Vec<Trait>>,
    /// References.
    pub references: Option<Vec<Reference>>,
    /// Lesson learned.
    pub lesson_learned: Option<String>,
}

/// The resolution record given to ResolveComplaint.
#[derive(Debug, Clone, Default)]
pub struct ResolutionInput {
    /// What was done.
    pub summary: String,
    /// Root cause.
    pub root_cause: String,
    /// Corrective action.
    pub corrective_action: String,
    /// Lesson.
    pub lesson_learned: String,
    /// At fault.
    pub company_at_fault: bool,
    /// Who or which unit was accountable (required when at fault).
    pub accountable_party: String,
}

/// A complaint and everything done about it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Complaint {
    /// Id.
    pub id: String,
    /// Customer.
    pub customer_id: String,
    /// Title.
    pub title: String,
    /// Description (personal data: never logged).
    pub description: String,
    /// Demand.
    pub customer_demand: String,
    /// Nature.
    pub nature: Nature,
    /// Severity.
    pub severity: Severity,
    /// Channel.
    pub channel: Channel,
    /// Traits.
    pub traits: Vec<Trait>,
    /// State.
    pub state: State,
    /// Assigned agent.
    pub assigned_agent_id: String,
    /// The accountable owner (首问负责, seed 001: "首问负责制" — whoever first takes the
    /// customer's contact owns it to the end): the agent who recorded the complaint, or, when
    /// a system recorded it (a letter, a web form), the first agent it was assigned to. Kept
    /// through every reassignment. Left out of stored bodies while empty.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub accountable_agent_id: String,
    /// Escalation level.
    pub escalation_level: Level,
    /// Customer facts.
    pub customer: Snapshot,
    /// Clocks.
    pub clocks: Vec<SlaClock>,
    /// Solutions.
    pub solutions: Vec<Solution>,
    /// Resolution.
    pub resolution: Option<Resolution>,
    /// Callbacks.
    pub callbacks: Vec<CallbackAttempt>,
    /// Promises.
    pub promises: Vec<Promise>,
    /// Compensations.
    pub compensations: Vec<Compensation>,
    /// Escalations.
    pub escalations: Vec<Escalation>,
    /// State history.
    pub history: Vec<Transition>,
    /// Reopens.
    pub reopen_count: i32,
    /// References.
    pub references: Vec<Reference>,
    /// When the customer complained.
    #[serde(with = "csops_runtime::time::serde_micros")]
    pub receive_time: DateTime<Utc>,
    /// Who recorded it.
    pub created_by: Actor,
    /// Created.
    #[serde(with = "csops_runtime::time::serde_micros")]
    pub create_time: DateTime<Utc>,
    /// Updated.
    #[serde(with = "csops_runtime::time::serde_micros")]
    pub update_time: DateTime<Utc>,
    /// Closed or withdrawn (`None` while open, and again after a reopen).
    #[serde(with = "csops_runtime::time::serde_micros_opt")]
    pub close_time: Option<DateTime<Utc>>,
    /// True once an in-person visit was requested from the visits service.
    pub visit_requested: bool,
    /// Optimistic-concurrency version.
    pub version: i64,
    /// Last timeline sequence used.
    pub timeline_seq: i64,
}

fn text(v: &mut Violations, field: &str, value: &str, max: usize, required: bool) {
    if required && value.trim().is_empty() {
        v.push(field, "is required");
    } else if value.chars().count() > max {
        v.push(field, format!("must be at most {max} characters"));
    }
}

fn references(v: &mut Violations, refs: &[Reference]) {
    if refs.len() > MAX_REFERENCES {
        v.push("references", format!("at most {MAX_REFERENCES} entries"));
        return;
    }
    for (i, r) in refs.iter().enumerate() {
        let (kind, id) = (
            format!("references[{i}].kind"),
            format!("references[{i}].id"),
        );
        text(v, &kind, &r.kind, MAX_REFERENCE_KIND, true);
        text(v, &id, &r.id, MAX_REFERENCE_ID, true);
    }
}

fn policy_error(error: PolicyError) -> RuleError {
    RuleError::Precondition(format!("the SLA policy cannot start this clock: {error}"))
}

fn list(states: &[State]) -> String {
    if states.is_empty() {
        "none (final state)".to_owned()
    } else {
        states
            .iter()
            .map(|s| s.label())
            .collect::<Vec<_>>()
            .join(", ")
    }
}

impl Complaint {
    /// Records a new complaint: validates the input, starts the first-contact and resolution
    /// clocks at the receive time, escalates a sensitive complainant at once and asks for an
    /// in-person visit for a key account or sensitive complainant. Returns the complaint and
    /// what its creation caused.
    pub fn create(
        id: String,
        input: Input,
        customer: Snapshot,
        actor: Actor,
        rules: &Rules,
        now: DateTime<Utc>,
    ) -> Result<(Self, Effects), RuleError> {
        let mut v = Violations::default();
        text(&mut v, "customer_id", &input.customer_id, MAX_ID_LEN, true);
        text(&mut v, "title", &input.title, MAX_TITLE, true);
        text(
            &mut v,
            "description",
            &input.description,
            MAX_DESCRIPTION,
            false,
        );
        text(
            &mut v,
            "customer_demand",
            &input.customer_demand,
            MAX_DEMAND,
            false,
        );
        if input.nature.is_none() {
            v.push("nature", "is required");
        }
        if input.severity.is_none() {
            v.push("severity", "is required");
        }
        if input.channel.is_none() {
            v.push("channel", "is required");
        }
        references(&mut v, &input.references);
        if input.receive_time.is_some_and(|t| t > now + CLOCK_SKEW) {
            v.push("receive_time", "must not be in the future");
        }
        if input.receive_time.is_some_and(|t| t < now - MAX_BACKDATE) {
            v.push(
                "receive_time",
                format!("must be within the last {} days", MAX_BACKDATE.num_days()),
            );
        }
        let (Some(nature), Some(severity), Some(channel)) =
            (input.nature, input.severity, input.channel)
        else {
            return Err(RuleError::Invalid(v));
        };
        if !v.is_empty() {
            return Err(RuleError::Invalid(v));
        }
        let receive_time = input.receive_time.map_or(now, |t| t.min(now));
        let mut traits = input.traits;
        traits.sort();
        traits.dedup();
        let mut c = Complaint {
            id,
            customer_id: input.customer_id.trim().to_owned(),
            title: input.title.trim().to_owned(),
            description: input.description,
            customer_demand: input.customer_demand,
            nature,
            severity,
            channel,
            traits,
            state: State::Received,
            assigned_agent_id: String::new(),
            accountable_agent_id: if actor.role == Role::System {
                String::new()
            } else {
                actor.id.clone()
            },
            escalation_level: Level::Agent,
            customer,
            clocks: Vec::new(),
            solutions: Vec::new(),
            resolution: None,
            callbacks: Vec::new(),
            promises: Vec::new(),
            compensations: Vec::new(),
            escalations: Vec::new(),
            history: Vec::new(),
            reopen_count: 0,
            references: input.references,
            receive_time,
            created_by: actor.clone(),
            create_time: now,
            update_time: now,
            close_time: None,
            visit_requested: false,
            version: 1,
            timeline_seq: 0,
        };
        let mut fx = Effects::default();
        let transition = Transition {
            from: None,
            to: State::Received,
            actor: actor.clone(),
            time: now,
            reason: String::new(),
        };
        c.history.push(transition.clone());
        c.entry(
            &mut fx,
            &actor,
            now,
            "complaint received".into(),
            Details::StateChange(transition),
        );
        c.start_clock(
            &mut fx,
            ClockKind::FirstContact,
            receive_time,
            &actor,
            rules,
            now,
        )?;
        c.start_clock(
            &mut fx,
            ClockKind::Resolution,
            receive_time,
            &actor,
            rules,
            now,
        )?;
        c.sensitive_follow_up(&mut fx, false, rules, now);
        c.request_visit_if_due(&mut fx, rules, now);
        c.report_received(&mut fx);
        Ok((c, fx))
    }

    /// Opaque etag of this version.
    pub fn etag(&self) -> String {
        format!("v{}", self.version)
    }

    /// Priority: severity, one step up for a key account and one for a sensitive complainant.
    pub fn priority(&self, rules: &Rules) -> Priority {
        let mut p = match self.severity {
            Severity::Low | Severity::Medium => 1,
            Severity::High => 2,
            Severity::Critical => 3,
        };
        if self.customer.key_account {
            p += 1;
        }
        if self.is_sensitive(rules) {
            p += 1;
        }
        match p {
            1 => Priority::Normal,
            2 => Priority::High,
            _ => Priority::Urgent,
        }
    }

    /// True when a trait of the complainant is one the policy counts as sensitive (media,
    /// legal, social background by default).
    pub fn is_sensitive(&self, rules: &Rules) -> bool {
        self.traits
            .iter()
            .any(|t| rules.sensitive.traits.contains(t))
    }

    /// The facts the SLA policy selects on. A sensitive complainant counts as at least HIGH
    /// severity ("resolve fast"), and every trait is passed so a policy may name them.
    pub fn case(&self, rules: &Rules) -> Case {
        let severity = if self.is_sensitive(rules) {
            self.severity.max(Severity::High)
        } else {
            self.severity
        };
        let mut case = Case::new()
            .tier(match self.customer.tier {
                Tier::A => csops_sla::Tier::A,
                Tier::B => csops_sla::Tier::B,
                Tier::C => csops_sla::Tier::C,
            })
            .key_account(self.customer.key_account)
            .region(match self.customer.region {
                Region::Urban => csops_sla::Region::Urban,
                Region::Rural => csops_sla::Region::Rural,
            })
            .severity(match severity {
                Severity::Low => csops_sla::Severity::Low,
                Severity::Medium => csops_sla::Severity::Medium,
                Severity::High => csops_sla::Severity::High,
                Severity::Critical => csops_sla::Severity::Critical,
            })
            .channel(self.channel.code());
        for t in &self.traits {
            case = case.with_trait(t.code());
        }
        case
    }
}

#[cfg(test)]
mod stored_shape;
#[cfg(test)]
mod tests;
