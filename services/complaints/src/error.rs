//! The one error type of the complaints service; `api::error` maps it to gRPC statuses.

use crate::domain::{RuleError, Violations};
use crate::store::StoreError;

/// Everything that can go wrong while serving a request.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The request breaks input rules; each violation names its field.
    #[error("invalid argument: {0}")]
    InvalidArgument(Violations),
    /// Something named by the request does not exist.
    #[error("{0}")]
    NotFound(String),
    /// The caller's etag is not the current one: someone changed the complaint meanwhile.
    #[error("complaint {id} changed meanwhile: etag {given} is stale, current is {current}")]
    StaleEtag {
        /// The complaint.
        id: String,
        /// The etag the caller sent.
        given: String,
        /// The current etag.
        current: String,
    },
    /// The change is not possible in the complaint's current state.
    #[error("{0}")]
    FailedPrecondition(String),
    /// The actor's role does not allow the change.
    #[error("{0}")]
    PermissionDenied(String),
    /// Storage failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<RuleError> for Error {
    fn from(error: RuleError) -> Self {
        match error {
            RuleError::Invalid(violations) => Self::InvalidArgument(violations),
            RuleError::Precondition(message) => Self::FailedPrecondition(message),
            RuleError::PermissionDenied(message) => Self::PermissionDenied(message),
            RuleError::NotFound(message) => Self::NotFound(message),
        }
    }
}

impl Error {
    /// Builds an invalid-argument error for a single field.
    pub fn invalid(field: &str, description: impl Into<String>) -> Self {
        let mut violations = Violations::default();
        violations.push(field, description);
        Self::InvalidArgument(violations)
    }
}
