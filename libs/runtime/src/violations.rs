//! Field violations and rule errors: every broken input rule names its field by its proto path
//! (e.g. `customer.contacts[1].value`), so a caller can fix all of them at once. Pure data, used
//! by the services' domain rules; `crate::error` turns them into gRPC statuses.
//!
//! Sizes are bounded before any work: every string, list and update mask of a request has a
//! documented maximum, checked first with [`Violations::max_len`], [`Violations::max_id`],
//! [`Violations::max_items`] and [`Violations::max_paths`]. What goes back to the caller is
//! bounded too: a violation list keeps at most [`MAX_VIOLATIONS`] entries and counts the rest,
//! and input is only ever quoted through [`quote`], a short prefix and its size.

use std::fmt;

/// The longest id (resource ids, request ids, actor ids, `changed_by`, etags) any csops API
/// accepts.
pub const MAX_ID_LEN: usize = 100;
/// The longest `page_token` any List RPC accepts; the tokens it issues are far shorter.
pub const MAX_PAGE_TOKEN_LEN: usize = 1024;
/// The most values one repeated filter of a List or Watch RPC accepts.
pub const MAX_FILTER_VALUES: usize = 100;
/// The longest path of an `update_mask`.
pub const MAX_MASK_PATH_LEN: usize = 100;
/// The most violations kept for one request; the others are only counted ("and K more").
pub const MAX_VIOLATIONS: usize = 20;
/// The longest field path or description a violation keeps, in bytes.
pub const MAX_VIOLATION_TEXT: usize = 256;
/// How many bytes of an input [`quote`] shows.
pub const QUOTE_LEN: usize = 32;

/// One broken input rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldViolation {
    /// Path of the field.
    pub field: String,
    /// What is wrong, for a person.
    pub description: String,
}

/// Every broken input rule of one request: the first [`MAX_VIOLATIONS`] of them, and how many
/// more there were.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Violations(pub Vec<FieldViolation>, usize);

/// Quotes an input for a message: the whole of a short one, else its first [`QUOTE_LEN`] bytes
/// (cut at a character boundary) and its size, e.g. `"aaaa…"…(1048576 bytes)`.
pub fn quote(input: &str) -> String {
    if input.len() <= QUOTE_LEN {
        format!("{input:?}")
    } else {
        format!("{:?}…({} bytes)", prefix(input, QUOTE_LEN), input.len())
    }
}

/// Cuts `text` to at most `max` bytes (at a character boundary), marking a cut with
/// "…(N bytes)" so a reader knows the original size.
pub fn clip(text: String, max: usize) -> String {
    if text.len() <= max {
        return text;
    }
    let marker = format!("…({} bytes)", text.len());
    let keep = prefix(&text, max.saturating_sub(marker.len()));
    format!("{keep}{marker}")
}

/// The longest prefix of `text` of at most `max` bytes that ends at a character boundary.
fn prefix(text: &str, max: usize) -> &str {
    let mut end = max.min(text.len());
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

impl Violations {
    /// Reads a required proto enum field: `parsed` is the enum its `number` names (`None` when
    /// the number is unknown). 0 (UNSPECIFIED) is "is required", an unknown number "unknown
    /// value N"; both are recorded under `field`.
    pub fn required_enum<T>(&mut self, parsed: Option<T>, number: i32, field: &str) -> Option<T> {
        if number == 0 {
            self.push(field, "is required");
            return None;
        }
        self.optional_enum(parsed, number, field)
    }

    /// Reads an optional proto enum field: 0 (UNSPECIFIED) is `None` without a violation, an
    /// unknown number is "unknown value N" under `field`.
    pub fn optional_enum<T>(&mut self, parsed: Option<T>, number: i32, field: &str) -> Option<T> {
        if number != 0 && parsed.is_none() {
            self.push(field, format!("unknown value {number}"));
        }
        parsed
    }

    /// Records a violation; past [`MAX_VIOLATIONS`] it is only counted. Field paths and
    /// descriptions are clipped to [`MAX_VIOLATION_TEXT`] bytes.
    pub fn push(&mut self, field: impl Into<String>, description: impl Into<String>) {
        if self.0.len() >= MAX_VIOLATIONS {
            self.1 += 1;
            return;
        }
        self.0.push(FieldViolation {
            field: clip(field.into(), MAX_VIOLATION_TEXT),
            description: clip(description.into(), MAX_VIOLATION_TEXT),
        });
    }

    /// How many violations were counted but not kept (past [`MAX_VIOLATIONS`]).
    pub fn omitted(&self) -> usize {
        self.1
    }

    /// Checks that a text field holds at most `max` characters and no NUL character (which
    /// PostgreSQL cannot store in text, and no person types); returns whether it does. Cheap
    /// for any size: a text of at most `max` bytes is not even counted.
    pub fn max_len(&mut self, field: &str, value: &str, max: usize) -> bool {
        let within = value.len() <= max || value.chars().count() <= max;
        if !within {
            self.push(
                field,
                format!(
                    "must be at most {max} characters (got {} bytes)",
                    value.len()
                ),
            );
            return false;
        }
        if value.as_bytes().contains(&0) {
            self.push(field, "must not contain NUL characters");
            return false;
        }
        true
    }

    /// Checks an optional id field (empty allowed): at most [`MAX_ID_LEN`] characters.
    pub fn max_id(&mut self, field: &str, id: &str) -> bool {
        self.max_len(field, id, MAX_ID_LEN)
    }

    /// Checks that a repeated field holds at most `max` entries; returns whether it does.
    pub fn max_items(&mut self, field: &str, len: usize, max: usize) -> bool {
        let within = len <= max;
        if !within {
            self.push(
                field,
                format!("must hold at most {max} entries (got {len})"),
            );
        }
        within
    }

    /// Checks the paths of an update mask before they are read: at most `max` paths (the
    /// number of fields a request may change), each at most [`MAX_MASK_PATH_LEN`] characters.
    pub fn max_paths(&mut self, field: &str, paths: &[String], max: usize) -> bool {
        if !self.max_items(&format!("{field}.paths"), paths.len(), max) {
            return false;
        }
        let mut within = true;
        for (i, path) in paths.iter().enumerate() {
            within &= self.max_len(&format!("{field}.paths[{i}]"), path, MAX_MASK_PATH_LEN);
        }
        within
    }

    /// Checks a required id field: present and at most 100 characters.
    pub fn require_id(&mut self, field: &str, id: &str) {
        if id.trim().is_empty() {
            self.push(field, "is required");
        } else {
            self.max_id(field, id);
        }
    }

    /// Checks the `request_id` a create must carry so retries are safe; returns it trimmed.
    pub fn require_request_id<'a>(&mut self, request_id: &'a str) -> &'a str {
        let request_id = request_id.trim();
        if request_id.is_empty() || request_id.chars().count() > MAX_ID_LEN {
            self.push(
                "request_id",
                format!("must be 1-{MAX_ID_LEN} characters (e.g. a UUID) so retries are safe"),
            );
        }
        request_id
    }

    /// Returns true when no rule was broken.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty() && self.1 == 0
    }

    /// Returns the violations with `prefix.` put before every field path.
    pub fn prefixed(self, prefix: &str) -> Self {
        Self(
            self.0
                .into_iter()
                .map(|v| FieldViolation {
                    field: clip(format!("{prefix}.{}", v.field), MAX_VIOLATION_TEXT),
                    ..v
                })
                .collect(),
            self.1,
        )
    }

    /// Appends another set of violations (still keeping at most [`MAX_VIOLATIONS`]).
    pub fn extend(&mut self, other: Self) {
        for v in other.0 {
            self.push(v.field, v.description);
        }
        self.1 += other.1;
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
        f.write_str(&parts.join("; "))?;
        if self.1 > 0 {
            write!(f, "; and {} more", self.1)?;
        }
        Ok(())
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

    #[test]
    fn sizes_are_checked_by_field_and_name_the_maximum() {
        let mut v = Violations::default();
        assert!(v.max_len("title", "短い", 2));
        assert!(!v.max_len("title", "三个字", 2));
        assert!(v.max_id("owner_agent_id", ""));
        assert!(!v.max_id("changed_by", &"x".repeat(1 << 20)));
        assert!(v.max_items("states", 100, MAX_FILTER_VALUES));
        assert!(!v.max_items("states", 40_000, MAX_FILTER_VALUES));
        assert!(!v.max_len("notes", "a\0b", 100));
        assert!(v.max_len("notes", "tab\tand\nnewline", 100));
        let fields: Vec<&str> = v.0.iter().map(|f| f.field.as_str()).collect();
        assert_eq!(fields, ["title", "changed_by", "states", "notes"]);
        assert_eq!(
            v.0[2].description,
            "must hold at most 100 entries (got 40000)"
        );
        assert_eq!(v.0[3].description, "must not contain NUL characters");
        assert!(v.0.iter().all(|f| f.description.len() < 100), "{v}");
    }

    #[test]
    fn an_update_mask_is_bounded_before_its_paths_are_read() {
        let mut v = Violations::default();
        let paths = vec!["title".to_owned(); 50_000];
        assert!(!v.max_paths("update_mask", &paths, 9));
        assert_eq!(v.0.len(), 1);
        assert_eq!(v.0[0].field, "update_mask.paths");
        let mut v = Violations::default();
        assert!(!v.max_paths("update_mask", &["x".repeat(101)], 9));
        assert_eq!(v.0[0].field, "update_mask.paths[0]");
        assert!(Violations::default().max_paths("update_mask", &["title".into()], 9));
    }

    #[test]
    fn past_the_cap_violations_are_only_counted() {
        let mut v = Violations::default();
        for i in 0..100_000 {
            v.push(format!("measures[{i}]"), "is required");
        }
        assert_eq!(v.0.len(), MAX_VIOLATIONS);
        assert_eq!(v.omitted(), 100_000 - MAX_VIOLATIONS);
        assert!(!v.is_empty());
        let mut all = Violations::default();
        all.push("title", "is required");
        all.extend(v.prefixed("complaint"));
        assert_eq!(all.0.len(), MAX_VIOLATIONS);
        assert_eq!(all.omitted(), 100_000 - MAX_VIOLATIONS + 1);
        let text = all.to_string();
        assert!(text.ends_with("; and 99981 more"), "{text}");
        assert!(text.len() < 2048);
    }

    #[test]
    fn long_inputs_are_quoted_by_a_short_prefix_and_their_size() {
        assert_eq!(quote("v1"), "\"v1\"");
        let etag = "e".repeat(1 << 20);
        assert_eq!(
            quote(&etag),
            format!("\"{}\"…(1048576 bytes)", "e".repeat(QUOTE_LEN))
        );
        // A cut never splits a character.
        let q = quote(&"é".repeat(100));
        assert!(q.starts_with(&format!("\"{}\"", "é".repeat(16))), "{q}");
        let mut v = Violations::default();
        v.push("x".repeat(10_000), "y".repeat(10_000));
        assert!(v.0[0].field.len() <= MAX_VIOLATION_TEXT);
        assert!(v.0[0].description.ends_with("…(10000 bytes)"));
        assert_eq!(clip("short".into(), 10), "short");
    }
}
