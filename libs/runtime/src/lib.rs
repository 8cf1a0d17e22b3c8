//! Server bootstrap shared by csops services: settings, storage, health, reflection, shutdown.
#![forbid(unsafe_code)]

pub mod client;
pub mod config;
pub mod db;
pub mod page_token;
pub mod process;
pub mod server;
pub mod shutdown;
pub mod status;
pub mod violations;

pub use config::{DatabaseSettings, ServiceSpec, Settings};
pub use server::{ServeError, Server};

/// Exit code for a bad configuration value (`EX_USAGE` from sysexits.h).
pub const EXIT_BAD_CONFIG: u8 = 64;
