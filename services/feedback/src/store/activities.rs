//! Storage of activities (issue 12).
