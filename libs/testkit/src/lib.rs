//! Test support shared by csops crates: the two test databases (SQLite, throwaway
//! PostgreSQL), servers run inside the test, an in-process OTLP trace receiver and tool lookup.
#![forbid(unsafe_code)]

pub mod backend;
pub mod certs;
pub mod hostile;
pub mod otlp;
pub mod postgres;
pub mod raw;
pub mod server;
pub mod tools;

pub use backend::Backend;
