//! Storage of scores (issue 12).
