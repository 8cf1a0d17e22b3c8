//! Server bootstrap shared by csops services: settings, storage, health, reflection, shutdown.
#![forbid(unsafe_code)]

pub mod audit;
pub mod auth;
pub mod breaker;
pub mod change;
pub mod client;
pub mod config;
pub mod db;
pub mod deadline;
pub mod edge;
pub mod error;
pub mod etag;
pub mod idempotency;
pub mod outbox;
pub mod overload;
pub mod paging;
pub mod process;
pub mod server;
pub mod shutdown;
pub mod sql;
pub mod statistics;
pub mod time;
pub mod tls;
pub mod violations;
pub mod wake;

pub use config::{DatabaseSettings, ServiceSpec, Settings};
pub use error::Error;
pub use server::{ServeError, Server, StartError};
pub use violations::{RuleError, Violations};

/// Exit code for a bad configuration value (`EX_USAGE` from sysexits.h).
pub const EXIT_BAD_CONFIG: u8 = 64;
