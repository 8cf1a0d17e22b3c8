//! The complaint process of the handbooks as pure rules: an explicit state machine, SLA clocks
//! from csops-sla, promises, compensation within authority, escalation and the reply check.
//! No I/O: `now` is passed in, and each change returns the effects it caused (timeline
//! entries, SLA events, outbox events, escalation keys) for the store to write.
//! Instants are `DateTime<Utc>`, `Option` where one may be unset; stored bodies keep the shape
//! they always had through the serde adapters of `csops_runtime::time`.

mod complaint;
pub mod reply;
pub mod rules;
pub mod types;
pub mod vocabulary;

pub use complaint::{
    Complaint, Effects, EscalationKey, Input, Patch, ResolutionInput, MAX_ACCOUNTABLE_PARTY,
    MAX_DEMAND, MAX_DESCRIPTION, MAX_MEASURES, MAX_NOTE, MAX_PLAN_STEPS, MAX_REFERENCES,
    MAX_REFERENCE_ID, MAX_REFERENCE_KIND, MAX_SHORT_NOTE, MAX_TITLE, MAX_TRAITS,
};
pub use csops_runtime::violations::{FieldViolation, RuleError, Violations};
pub use rules::{AuthorityLimits, Chain, Rules, DEFAULT_PROMISE_WARNING_PERCENT};
pub use types::*;
pub use vocabulary::*;

/// A new unique id with a prefix, time-ordered.
pub fn new_id(prefix: &str) -> String {
    format!("{prefix}_{}", uuid::Uuid::now_v7().simple())
}

impl State {
    /// Every state reachable in one step, whatever the complaint's details.
    pub fn next(self) -> &'static [State] {
        use State::*;
        match self {
            Received => &[Acknowledged, Withdrawn],
            Acknowledged => &[Investigating, Withdrawn],
            Investigating => &[SolutionProposed, Withdrawn],
            SolutionProposed => &[SolutionAccepted, Investigating, Withdrawn],
            SolutionAccepted => &[Resolved, Withdrawn],
            Resolved => &[CallbackDone, Reopened, Closed],
            CallbackDone => &[Closed, Reopened],
            Closed => &[Reopened],
            // DOMAIN §3 step 3 (seed 003): a problem that came back is investigated again —
            // its cause was not what was thought — before a new solution is proposed.
            Reopened => &[Investigating, Withdrawn],
            Withdrawn => &[],
        }
    }
}
