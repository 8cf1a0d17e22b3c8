//! The one mapping from service errors to gRPC statuses.

use csops_runtime::status;
use tonic::Status;

use crate::error::Error;

impl From<Error> for Status {
    fn from(error: Error) -> Self {
        match error {
            Error::InvalidArgument(violations) => status::invalid_argument(&violations),
            error @ Error::NotFound(_) => Status::not_found(error.to_string()),
            error @ Error::StaleEtag { .. } => Status::aborted(error.to_string()),
            Error::FailedPrecondition(message) => Status::failed_precondition(message),
            Error::PermissionDenied(message) => Status::permission_denied(message),
            Error::Store(store) => status::store_error(store),
        }
    }
}
