//! Test support shared by csops crates: an in-process OTLP trace receiver and throwaway PostgreSQL.
#![forbid(unsafe_code)]

pub mod otlp;
pub mod postgres;
pub mod server;
pub mod tools;
