//! The one mapping from service errors to gRPC statuses.

use tonic::{Code, Status};
use tonic_types::{ErrorDetails, StatusExt};

use crate::error::Error;
use crate::store::StoreError;

impl From<Error> for Status {
    fn from(error: Error) -> Self {
        match error {
            Error::InvalidArgument(violations) => {
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
            error @ Error::NotFound(_) => Status::not_found(error.to_string()),
            error @ Error::StaleEtag { .. } => Status::aborted(error.to_string()),
            Error::FailedPrecondition(message) => Status::failed_precondition(message),
            Error::PermissionDenied(message) => Status::permission_denied(message),
            Error::Store(store) => match store {
                error @ StoreError::Conflict(_) => {
                    tracing::info!(error = %error, "concurrent update; client may retry");
                    Status::aborted("concurrent update; retry the call")
                }
                error @ StoreError::Duplicate(_) => Status::already_exists(error.to_string()),
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
            },
        }
    }
}
