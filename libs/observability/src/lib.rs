//! Telemetry for csops services.
#![forbid(unsafe_code)]
