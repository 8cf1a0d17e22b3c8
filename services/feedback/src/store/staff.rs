//! Storage of staff (issue 12).
