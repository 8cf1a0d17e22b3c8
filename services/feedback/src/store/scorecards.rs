//! Storage of scorecards (issue 12).
