//! Storage of plans, visits, care events and field jobs: one method per query, on SQLite or
//! PostgreSQL through `sqlx::Any`. Only this module speaks SQL. Each resource is stored as a
//! JSON document beside the columns its listings, sweeps and bookings filter on; a change is
//! written only if the version it read is still current, together with its retry key and its
//! outbox events, in one transaction.

mod care;
mod field_jobs;
mod plans;
mod visits;

use std::sync::Arc;

use chrono::{DateTime, Utc};
use csops_runtime::db;
pub use csops_runtime::db::StoreError;
use csops_runtime::db::Traced as _;
use csops_runtime::idempotency::{self, Key, Recorded};
/// Position after the last row of a page.
pub use csops_runtime::paging::Cursor;
use csops_runtime::Error;
use serde::de::DeserializeOwned;
use serde::Serialize;
use sqlx::{AnyPool, Row};
use tokio::sync::Notify;

pub use care::{date_key as care_date_key, CareFilter};
pub use field_jobs::FieldJobFilter;
pub use plans::{PlanFilter, PlanVisits};
pub use visits::VisitFilter;

/// The kinds of record the audit log names (every change is recorded in its transaction).
const PLAN: &str = "visit_plan";
const VISIT: &str = "visit";
const FIELD_JOB: &str = "field_job";
const CARE_EVENT: &str = "care_event";

use crate::domain::booking::Booking;

/// Result of an idempotent insert.
#[derive(Debug, PartialEq, Eq)]
pub enum Inserted {
    /// Written.
    Created,
    /// The retry key (or the unique key) was taken: nothing was written.
    Replayed,
}

/// Storage over a shared pool.
#[derive(Debug, Clone)]
pub struct Store {
    pool: AnyPool,
    /// OpenTelemetry's `db.system.name` of the pool.
    system: &'static str,
    relay: Arc<Notify>,
}

impl Store {
    /// Wraps a pool whose database has the visits migrations applied; `relay` is woken when
    /// a change wrote outbox events.
    pub fn new(pool: AnyPool, relay: Arc<Notify>) -> Self {
        let system = db::system(&pool);
        Self {
            pool,
            system,
            relay,
        }
    }

    /// The span of one store call.
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
    /// key came with another request).
    pub async fn replay(&self, key: &Key) -> Result<Option<Recorded>, Error> {
        idempotency::find(&self.pool, key).await
    }

    /// Everything `person` is booked for between `from` and `until`: scheduled open visits
    /// and field jobs with an agreed window.
    pub async fn bookings(
        &self,
        person: &str,
        from: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<Vec<Booking>, StoreError> {
        async {
            let mut conn = db::acquire(&self.pool).await?;
            let (from, until) = (from.timestamp_micros(), until.timestamp_micros());
            let visits = sqlx::query(
                "SELECT id, scheduled_start_time, scheduled_end_time FROM visits \
                 WHERE assigned_agent_id = $1 AND state IN ('scheduled', 'in_progress') \
                 AND scheduled_start_time < $2 AND scheduled_end_time > $3",
            )
            .bind(person)
            .bind(until)
            .bind(from)
            .fetch_all(&mut *conn)
            .await?;
            let jobs = sqlx::query(
                "SELECT id, window_start_time, window_end_time FROM field_jobs \
                 WHERE engineer_id = $1 AND window_start_time > 0 \
                 AND state IN ('window_agreed', 'arrived', 'in_progress', 'paused') \
                 AND window_start_time < $2 AND window_end_time > $3",
            )
            .bind(person)
            .bind(until)
            .bind(from)
            .fetch_all(&mut *conn)
            .await?;
            db::returned_rows(visits.len() + jobs.len());
            let row = |kind: &'static str, r: &sqlx::any::AnyRow| -> Result<Booking, StoreError> {
                Ok(Booking {
                    kind,
                    id: r.try_get(0)?,
                    start: csops_runtime::time::from_micros(r.try_get(1)?),
                    end: csops_runtime::time::from_micros(r.try_get(2)?),
                })
            };
            let mut out = Vec::with_capacity(visits.len() + jobs.len());
            for r in &visits {
                out.push(row("visit", r)?);
            }
            for r in &jobs {
                out.push(row("field job", r)?);
            }
            out.sort_by_key(|b| b.start);
            Ok(out)
        }
        .traced(self.span("SELECT", "visits", "visits.bookings"))
        .await
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

/// Reads `(id, doc)` rows into documents.
fn docs<T: DeserializeOwned>(rows: Vec<(String, String)>) -> Result<Vec<T>, StoreError> {
    rows.iter().map(|(id, doc)| from_doc(id, doc)).collect()
}
