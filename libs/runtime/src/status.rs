//! The shared part of every service's error mapping: invalid input with
//! `google.rpc.BadRequest` details, and storage failures (logged with their cause, answered
//! with an opaque message).

use tonic::{Code, Status};
use tonic_types::{ErrorDetails, StatusExt};

use crate::db::StoreError;
use crate::violations::Violations;

/// Answers INVALID_ARGUMENT carrying one BadRequest field violation per broken rule.
pub fn invalid_argument(violations: &Violations) -> Status {
    let mut details = ErrorDetails::new();
    for v in &violations.0 {
        details.add_bad_request_violation(v.field.clone(), v.description.clone());
    }
    Status::with_error_details(
        Code::InvalidArgument,
        format!("invalid argument: {violations}"),
        details,
    )
}

/// Maps a storage failure: a lost race is ABORTED (retry), a duplicate key ALREADY_EXISTS,
/// an unreachable database UNAVAILABLE, anything else INTERNAL with an opaque message.
pub fn store_error(error: StoreError) -> Status {
    match error {
        error @ StoreError::Conflict(_) => {
            tracing::info!(error = %error, "concurrent update; client may retry");
            Status::aborted("concurrent update; retry the call")
        }
        StoreError::Duplicate(_) => Status::already_exists("already exists"),
        error @ StoreError::Unavailable(_) => {
            tracing::warn!(
                error = &error as &dyn std::error::Error,
                "database unavailable"
            );
            Status::unavailable("database unavailable; retry later")
        }
        error @ (StoreError::Corrupt { .. } | StoreError::Other(_)) => {
            tracing::error!(error = &error as &dyn std::error::Error, "storage failure");
            Status::internal("internal error")
        }
    }
}
