//! Field violations and rule errors: every broken input rule names its field by its proto path
//! (e.g. `customer.contacts[1].value`), so a caller can fix all of them at once. Pure data, used
//! by the services' domain rules; `crate::error` turns them into gRPC statuses.

use std::fmt;

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
