//! Storage of the feedback service: one method per query, on SQLite or PostgreSQL through
//! `sqlx::Any`. Only this module speaks SQL. Each resource is stored as a JSON document beside
//! the columns its listings filter on; a change is written only if the version it read is still
//! current, together with its retry key and its outbox events, in one transaction. A survey's
//! narrow `survey_facts` row (what the aggregates filter and sum on) is written with it.

pub mod activities;
mod callbacks;
pub mod churn;
mod rows;
pub mod scorecards;
pub mod scores;
pub mod staff;
mod surveys;
mod templates;

use std::sync::Arc;

pub use csops_runtime::db::StoreError;
use csops_runtime::idempotency::{self, Key, Recorded};
/// Position after the last row of a page.
pub use csops_runtime::paging::Cursor;
use csops_runtime::{db, Error};
use serde::de::DeserializeOwned;
use serde::Serialize;
use sqlx::AnyPool;
use tokio::sync::Notify;

pub use callbacks::{CallbackFilter, Deliveries, Delivery, Stored};

/// The kinds of record the audit log names (every change is recorded in its transaction).
const TEMPLATE: &str = "survey_template";
const SURVEY: &str = "survey";
const CALLBACK: &str = "callback";
const CHURN_SIGNAL: &str = "churn_signal";
const CUSTOMER_LOSS: &str = "customer_loss";
const STAFF_MONTH: &str = "staff_month";
pub use surveys::{grade_code, service_type_code, SurveyFilter};

/// Result of an idempotent insert.
#[derive(Debug, PartialEq, Eq)]
pub enum Inserted {
    /// Written.
    Created,
    /// The retry key was taken by another call: nothing was written.
    Replayed,
}

/// Storage over a shared pool.
#[derive(Debug, Clone)]
pub struct Store {
    pool: AnyPool,
    /// `db.system.name` of the pool's database.
    system: &'static str,
    relay: Arc<Notify>,
}

impl Store {
    /// Wraps a pool whose database has the feedback migrations applied; `relay` is woken when
    /// a change wrote outbox events.
    pub fn new(pool: AnyPool, relay: Arc<Notify>) -> Self {
        Self {
            system: db::system(&pool),
            pool,
            relay,
        }
    }

    /// The span of one store call (the kit's database span): `operation` is the main
    /// statement's verb, `collection` its table, `name` the call (`feedback.<method>`).
    fn span(
        &self,
        operation: &'static str,
        collection: &'static str,
        name: &'static str,
    ) -> tracing::Span {
        db::span(self.system, operation, collection, name)
    }

    /// The pool, for tools and tests.
    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// Returns what the first call with `key` produced, if it ran (ALREADY_EXISTS when the
    /// key came with another request). The kit's lookup runs in its own database span.
    pub async fn replay(&self, key: &Key) -> Result<Option<Recorded>, Error> {
        idempotency::find(&self.pool, key).await
    }

    /// Tells the relay that committed changes wrote events.
    fn published(&self, events: usize) {
        if events > 0 {
            self.relay.notify_one();
        }
    }
}

fn to_doc<T: Serialize>(value: &T) -> String {
    // Serialising plain data structs to a String cannot fail.
    serde_json::to_string(value).unwrap_or_default()
}

fn from_doc<T: DeserializeOwned>(id: &str, doc: &str) -> Result<T, StoreError> {
    serde_json::from_str(doc).map_err(|e| StoreError::Corrupt {
        id: id.to_owned(),
        what: e.to_string(),
    })
}
