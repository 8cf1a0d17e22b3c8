//! Server bootstrap shared by csops services: settings, storage, health, reflection, shutdown.
#![forbid(unsafe_code)]
