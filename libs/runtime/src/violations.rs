//! Field violations and rule errors: every broken input rule names its field by its proto path
//! (e.g. `customer.contacts[1].value`), so a caller can fix all of them at once. Pure data, used
//! by the services' domain rules; `crate::error` turns them into gRPC statuses.

use std::fmt;

/// The longest id (resource ids, request ids, actor ids) any csops API accepts.
pub const MAX_ID_LEN: usize = 100;

/// One broken input rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldViolation {
    /// Path of the field.
    pub field: String,
    /// What is wrong, for a person.
    pub description: String,
}

/// Every broken input rule of one request.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Violations(pub Vec<FieldViolation>);

impl Violations {
    /// Records a violation.
    pub fn push(&mut self, field: impl Into<String>, description: impl Into<String>) {
        self.0.push(FieldViolation {
            field: field.into(),
            description: description.into(),
        });
    }

    /// Checks a required id field: present and at most 100 characters.
    pub fn require_id(&mut self, field: &str, id: &str) {
        if id.trim().is_empty() {
            self.push(field, "is required");
        } else if id.len() > MAX_ID_LEN {
            self.push(field, format!("must be at most {MAX_ID_LEN} characters"));
        }
    }

    /// Checks the `request_id` a create must carry so retries are safe; returns it trimmed.
    pub fn require_request_id<'a>(&mut self, request_id: &'a str) -> &'a str {
        let request_id = request_id.trim();
        if request_id.is_empty() || request_id.len() > MAX_ID_LEN {
            self.push(
                "request_id",
                format!("must be 1-{MAX_ID_LEN} characters (e.g. a UUID) so retries are safe"),
            );
        }
        request_id
    }

    /// Returns true when no rule was broken.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Returns the violations with `prefix.` put before every field path.
    pub fn prefixed(self, prefix: &str) -> Self {
        Self(
            self.0
                .into_iter()
                .map(|v| FieldViolation {
                    field: format!("{prefix}.{}", v.field),
                    ..v
                })
                .collect(),
        )
    }

    /// Appends another set of violations.
    pub fn extend(&mut self, other: Self) {
        self.0.extend(other.0);
    }

    /// Returns `Ok(value)` when no rule was broken, else the violations.
    pub fn into_result<T>(self, value: T) -> Result<T, Self> {
        if self.is_empty() {
            Ok(value)
        } else {
            Err(self)
        }
    }
}

impl fmt::Display for Violations {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> = self
            .0
            .iter()
            .map(|v| format!("{}: {}", v.field, v.description))
            .collect();
        f.write_str(&parts.join("; "))
    }
}

/// Why a domain rule refused a change: what the pure domain code of every service returns.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RuleError {
    /// Input values are invalid.
    #[error("invalid input: {0}")]
    Invalid(Violations),
    /// The change is not possible in the current state.
    #[error("{0}")]
    Precondition(String),
    /// The actor's role does not allow it.
    #[error("{0}")]
    PermissionDenied(String),
    /// Something named inside the aggregate does not exist.
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

    /// Returns the error with every field violation moved under `prefix`.
    #[must_use]
    pub fn in_field(self, prefix: &str) -> Self {
        match self {
            Self::Invalid(v) => Self::Invalid(v.prefixed(prefix)),
            other => other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_required_and_bounded() {
        let mut v = Violations::default();
        v.require_id("customer_id", " ");
        v.require_id("complaint_id", &"x".repeat(101));
        v.require_id("agent_id", "agent-1");
        assert_eq!(v.require_request_id(" r1 "), "r1");
        v.require_request_id("");
        let fields: Vec<&str> = v.0.iter().map(|f| f.field.as_str()).collect();
        assert_eq!(fields, ["customer_id", "complaint_id", "request_id"]);
    }

    #[test]
    fn prefixes_join_with_a_dot_and_display_lists_every_field() {
        let mut v = Violations::default();
        v.push("tier", "must be set");
        v.push("contacts[0].value", "must be a phone number");
        let v = v.prefixed("customer");
        assert_eq!(
            v.to_string(),
            "customer.tier: must be set; customer.contacts[0].value: must be a phone number"
        );
    }
}
