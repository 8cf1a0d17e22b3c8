//! Runs every csops service in one process on the embedded SQLite default.
#![forbid(unsafe_code)]
