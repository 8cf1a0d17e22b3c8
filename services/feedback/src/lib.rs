//! The feedback service (issue 12). Its domain rules come first: scores, grades, service
//! types, the staff of the month, callbacks and churn signals, as pure code with tests; the
//! store, API and events follow on the service kit (see `docs/service-anatomy.md`).

pub mod domain;
