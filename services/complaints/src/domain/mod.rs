//! The complaint process of the handbooks as pure rules: an explicit state machine, SLA clocks
//! from csops-sla, promises, compensation within authority, escalation and the reply check.
//! No I/O: `now` is passed in, changes are collected on the aggregate for the store to write.

mod complaint;
pub mod reply;
pub mod rules;
pub mod types;

pub use complaint::{Complaint, Input, Patch, Pending, ResolutionInput};
pub use csops_runtime::violations::{FieldViolation, Violations};
pub use rules::{AuthorityLimits, Chain, Rules};
pub use types::*;

use chrono::{DateTime, Utc};

/// Why a rule refused a change.
#[derive(Debug, thiserror::Error)]
pub enum RuleError {
    /// Input values are invalid.
    #[error("invalid input: {0}")]
    Invalid(Violations),
    /// The change is not possible in the complaint's current state.
    #[error("{0}")]
    Precondition(String),
    /// The actor's role does not allow it.
    #[error("{0}")]
    PermissionDenied(String),
    /// Something named inside the complaint does not exist.
    #[error("{0}")]
    NotFound(String),
}

impl RuleError {
    /// One invalid field.
    pub fn invalid(field: &str, description: impl Into<String>) -> Self {
        let mut v = Violations::default();
        v.push(field, description);
        Self::Invalid(v)
    }
}

/// Converts stored microseconds to an instant.
pub fn at(micros: Micros) -> DateTime<Utc> {
    DateTime::from_timestamp_micros(micros).unwrap_or_default()
}

/// Converts an instant to stored microseconds.
pub fn micros(t: DateTime<Utc>) -> Micros {
    t.timestamp_micros()
}

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
            Reopened => &[Investigating, SolutionProposed, Withdrawn],
            Withdrawn => &[],
        }
    }
}
