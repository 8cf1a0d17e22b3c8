//! The one error type of every csops service and its one mapping to `tonic::Status`.
//!
//! Handlers, use cases and stores return [`Error`]; only the generated trait methods turn it
//! into a `Status`, through the exhaustive `From<Error> for Status` below. Invalid input carries
//! `google.rpc.BadRequest` field violations, a failed precondition a
//! `google.rpc.PreconditionFailure`, a stale etag a `google.rpc.ErrorInfo`; storage failures are
//! logged with their cause chain and answered with an opaque message. Every text that goes out
//! is bounded: a message at most [`MAX_MESSAGE_LEN`] bytes, a detail at most
//! [`MAX_VIOLATION_TEXT`] bytes, at most [`MAX_VIOLATIONS`] field violations and one that
//! counts the rest, so no input comes back whole.

use tonic::{Code, Status};
use tonic_types::{ErrorDetails, StatusExt};

use crate::db::StoreError;
use crate::violations::{clip, quote, RuleError, Violations, MAX_VIOLATIONS, MAX_VIOLATION_TEXT};

/// The `google.rpc.ErrorInfo` domain of csops errors.
pub const ERROR_DOMAIN: &str = "csops";
/// The longest status message any csops service sends, in bytes.
pub const MAX_MESSAGE_LEN: usize = 1024;

fn message(text: String) -> String {
    clip(text, MAX_MESSAGE_LEN)
}

fn detail(text: String) -> String {
    clip(text, MAX_VIOLATION_TEXT)
}

/// Everything that can go wrong while serving a request, in the terms a caller acts on.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The request breaks input rules; each violation names its field.
    #[error("invalid argument: {0}")]
    InvalidArgument(Violations),
    /// Something named by the request does not exist.
    #[error("{0}")]
    NotFound(String),
    /// The resource the request would create exists already, or a retry key was used for
    /// another request.
    #[error("{0}")]
    AlreadyExists(String),
    /// The caller's etag is not the current one: someone changed the resource meanwhile.
    #[error("{resource} changed meanwhile: etag {given} is stale, current is {current}")]
    StaleEtag {
        /// The resource, e.g. `complaint cmp_…`.
        resource: String,
        /// The etag the caller sent (or the version it read, for an unconditional change).
        given: String,
        /// The current etag.
        current: String,
    },
    /// The change is not possible in the system's current state.
    #[error("{message}")]
    FailedPrecondition {
        /// What is wrong, for a person.
        message: String,
        /// The `google.rpc.PreconditionFailure` violation: (type, subject), e.g.
        /// ("STATE", "complaint cmp_…"); `None` for a plain message.
        subject: Option<(String, String)>,
    },
    /// The caller may not do this.
    #[error("{0}")]
    PermissionDenied(String),
    /// The change lost a race it could not retry; the caller may retry the whole call.
    #[error("{0}")]
    Aborted(String),
    /// A neighbour service the call needs cannot be reached; the caller may retry later.
    #[error("{0}")]
    Unavailable(String),
    /// A bounded resource of the server (open streams, call slots) is used up; the caller
    /// may retry later, with backoff.
    #[error("{0}")]
    ResourceExhausted(String),
    /// Storage failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl Error {
    /// Builds an invalid-argument error for a single field.
    pub fn invalid(field: &str, description: impl Into<String>) -> Self {
        let mut violations = Violations::default();
        violations.push(field, description);
        Self::InvalidArgument(violations)
    }

    /// Builds a failed precondition without a structured subject.
    pub fn precondition(message: impl Into<String>) -> Self {
        Self::FailedPrecondition {
            message: message.into(),
            subject: None,
        }
    }

    /// Builds a failed precondition naming what it is about, e.g.
    /// `precondition_on("CUSTOMER", "customers/cus_1", "no such customer")`.
    pub fn precondition_on(
        kind: impl Into<String>,
        subject: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        Self::FailedPrecondition {
            message: message.into(),
            subject: Some((kind.into(), subject.into())),
        }
    }

    /// Returns the error with every field violation moved under `prefix` (the request field
    /// that holds the validated message); other errors are returned unchanged.
    #[must_use]
    pub fn in_field(self, prefix: &str) -> Self {
        match self {
            Self::InvalidArgument(v) => Self::InvalidArgument(v.prefixed(prefix)),
            other => other,
        }
    }
}

impl From<RuleError> for Error {
    fn from(error: RuleError) -> Self {
        match error {
            RuleError::Invalid(violations) => Self::InvalidArgument(violations),
            RuleError::Precondition(message) => Self::precondition(message),
            RuleError::PermissionDenied(message) => Self::PermissionDenied(message),
            RuleError::NotFound(message) => Self::NotFound(message),
        }
    }
}

impl From<Violations> for Error {
    fn from(violations: Violations) -> Self {
        Self::InvalidArgument(violations)
    }
}

impl From<Error> for Status {
    fn from(error: Error) -> Self {
        match error {
            Error::InvalidArgument(violations) => invalid_argument(&violations),
            error @ Error::NotFound(_) => Status::not_found(message(error.to_string())),
            error @ Error::AlreadyExists(_) => Status::already_exists(message(error.to_string())),
            Error::StaleEtag {
                resource,
                given,
                current,
            } => {
                let (resource, current) = (detail(resource), detail(current));
                let text = message(format!(
                    "{resource} changed meanwhile: etag {} is stale, current is {current}",
                    quote(&given)
                ));
                let details = ErrorDetails::with_error_info(
                    "STALE_ETAG",
                    ERROR_DOMAIN,
                    [
                        ("resource".to_owned(), resource),
                        ("current_etag".to_owned(), current),
                    ],
                );
                Status::with_error_details(Code::Aborted, text, details)
            }
            Error::FailedPrecondition {
                message: text,
                subject: None,
            } => Status::failed_precondition(message(text)),
            Error::FailedPrecondition {
                message: text,
                subject: Some((kind, subject)),
            } => {
                let text = message(text);
                let mut details = ErrorDetails::new();
                details.add_precondition_failure_violation(
                    detail(kind),
                    detail(subject),
                    detail(text.clone()),
                );
                Status::with_error_details(Code::FailedPrecondition, text, details)
            }
            Error::PermissionDenied(text) => Status::permission_denied(message(text)),
            Error::Aborted(text) => Status::aborted(message(text)),
            Error::Unavailable(text) => Status::unavailable(message(text)),
            Error::ResourceExhausted(text) => Status::resource_exhausted(message(text)),
            Error::Store(store) => store_error(store),
        }
    }
}

/// Answers INVALID_ARGUMENT carrying one BadRequest field violation per broken rule, at most
/// [`MAX_VIOLATIONS`] of them; when there were more, a last violation on the whole request
/// (field `""`) says how many more.
pub fn invalid_argument(violations: &Violations) -> Status {
    let mut details = ErrorDetails::new();
    let mut more = violations.omitted();
    for (i, v) in violations.0.iter().enumerate() {
        if i < MAX_VIOLATIONS {
            details
                .add_bad_request_violation(detail(v.field.clone()), detail(v.description.clone()));
        } else {
            more += 1;
        }
    }
    if more > 0 {
        details.add_bad_request_violation("", format!("and {more} more violations"));
    }
    Status::with_error_details(
        Code::InvalidArgument,
        message(format!("invalid argument: {violations}")),
        details,
    )
}

/// Maps a storage failure: a lost race is ABORTED (retry), a duplicate key ALREADY_EXISTS,
/// an unreachable database UNAVAILABLE, anything else INTERNAL with an opaque message.
fn store_error(error: StoreError) -> Status {
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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn invalid_input_names_every_field_in_bad_request_details() {
        let mut v = Violations::default();
        v.push("customer.tier", "must be set");
        v.push("request_id", "is required");
        let status = Status::from(Error::InvalidArgument(v));
        assert_eq!(status.code(), Code::InvalidArgument);
        let fields: Vec<String> = status
            .get_details_bad_request()
            .unwrap()
            .field_violations
            .into_iter()
            .map(|f| f.field)
            .collect();
        assert_eq!(fields, ["customer.tier", "request_id"]);
    }

    #[test]
    fn a_stale_etag_is_aborted_and_says_which_etag_is_current() {
        let status = Status::from(Error::StaleEtag {
            resource: "complaint cmp_1".into(),
            given: "v1".into(),
            current: "v2".into(),
        });
        assert_eq!(status.code(), Code::Aborted);
        assert!(status.message().contains("current is v2"), "{status:?}");
        let info = status.get_details_error_info().unwrap();
        assert_eq!(info.reason, "STALE_ETAG");
        assert_eq!(info.metadata.get("current_etag").unwrap(), "v2");
    }

    #[test]
    fn a_precondition_on_a_subject_carries_a_precondition_failure() {
        let status = Status::from(Error::precondition_on(
            "CUSTOMER",
            "customers/cus_1",
            "no such customer",
        ));
        assert_eq!(status.code(), Code::FailedPrecondition);
        let failure = status.get_details_precondition_failure().unwrap();
        assert_eq!(failure.violations[0].r#type, "CUSTOMER");
        assert_eq!(failure.violations[0].subject, "customers/cus_1");
    }

    #[test]
    fn rule_errors_keep_their_meaning() {
        let code = |e: RuleError| Status::from(Error::from(e)).code();
        assert_eq!(code(RuleError::invalid("x", "bad")), Code::InvalidArgument);
        assert_eq!(
            code(RuleError::Precondition("closed".into())),
            Code::FailedPrecondition
        );
        assert_eq!(
            code(RuleError::PermissionDenied("no".into())),
            Code::PermissionDenied
        );
        assert_eq!(code(RuleError::NotFound("gone".into())), Code::NotFound);
    }

    fn size(status: &Status) -> usize {
        status.message().len() + status.details().len()
    }

    #[test]
    fn a_huge_violation_list_answers_a_short_status_that_counts_the_rest() {
        let mut v = Violations::default();
        for i in 0..100_000 {
            v.push(format!("measures[{i}]"), "x".repeat(1000));
        }
        // Violations built by hand bypass `push`'s cap; the status is bounded all the same.
        v.0.extend((0..1000).map(|i| crate::violations::FieldViolation {
            field: format!("plan[{i}]"),
            description: "y".repeat(1 << 16),
        }));
        let status = Status::from(Error::InvalidArgument(v));
        assert!(size(&status) < 16 * 1024, "{} bytes", size(&status));
        assert!(status.message().len() <= MAX_MESSAGE_LEN);
        let list = status.get_details_bad_request().unwrap().field_violations;
        assert_eq!(list.len(), MAX_VIOLATIONS + 1);
        let last = list.last().unwrap();
        assert_eq!(last.field, "");
        assert_eq!(last.description, "and 100980 more violations");
    }

    #[test]
    fn no_message_echoes_a_huge_input() {
        let huge = "e".repeat(1 << 20);
        let statuses = [
            Status::from(Error::StaleEtag {
                resource: format!("customer {huge}"),
                given: huge.clone(),
                current: huge.clone(),
            }),
            Status::from(Error::NotFound(huge.clone())),
            Status::from(Error::AlreadyExists(huge.clone())),
            Status::from(Error::precondition(huge.clone())),
            Status::from(Error::precondition_on(&huge, &huge, &huge)),
            Status::from(Error::PermissionDenied(huge.clone())),
            Status::from(Error::Aborted(huge.clone())),
            Status::from(Error::invalid(&huge, &huge)),
        ];
        for status in statuses {
            let size = size(&status);
            assert!(size < 4096, "{:?}: {size} bytes", status.code());
        }
        let stale = Status::from(Error::StaleEtag {
            resource: "customer cus_1".into(),
            given: huge,
            current: "v2".into(),
        });
        assert!(
            stale.message().contains("…(1048576 bytes) is stale"),
            "{stale:?}"
        );
    }

    #[test]
    fn internal_failures_answer_an_opaque_message() {
        let status = Status::from(Error::Store(StoreError::Corrupt {
            id: "cus_1".into(),
            what: "secret detail".into(),
        }));
        assert_eq!(status.code(), Code::Internal);
        assert!(!status.message().contains("secret"));
    }
}
