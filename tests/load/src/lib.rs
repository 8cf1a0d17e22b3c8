//! Load generator for the csops gRPC services: closed and open loops, HDR latency, errors by gRPC status.
#![forbid(unsafe_code)]

pub mod backlog;
pub mod echo;
pub mod harness;
pub mod pk;
pub mod report;
pub mod scenarios;
pub mod serve;
pub mod summary;
pub mod visits;

pub use harness::{run, CallCtx, CallFuture, Mode, RunConfig, Scenario, Weighted};
pub use report::{Latency, Report, ScenarioReport};
pub use scenarios::{Channels, ScenarioDef, Setup, SCENARIOS};
