//! Storage of churn (issue 12).
