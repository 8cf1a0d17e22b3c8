//! Scorecard use cases (issue 12).

#[allow(unused_imports)]
use super::Feedback;
