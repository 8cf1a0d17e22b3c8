//! Callbacks: the JSON document beside the columns listings filter on (customer, subject,
//! assignee, state, due time) and the delivery of their outcome to the complaints service.

use chrono::{DateTime, Utc};
use csops_runtime::audit;
use csops_runtime::db;
use csops_runtime::db::Traced as _;
use csops_runtime::idempotency::{Key, Recorded};
use csops_runtime::outbox::{self, NewEvent};
use csops_runtime::sql::Sql;
use sqlx::{AnyConnection, AnyPool};

use super::rows::CallbackRow;
use super::{to_doc, Cursor, Inserted, Store, StoreError, CALLBACK};
use crate::domain::callback::{Callback, CallbackState};
use crate::domain::SubjectKind;

const COLUMNS: &str = "id, doc, complaint_delivery";
/// The outbox destination whose events a callback's `complaint_delivery` follows.
const COMPLAINTS: &str = "complaints";

/// Whether a callback's outcome reached the complaints service.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivery {
    /// Nothing to deliver (not a complaint callback, or nothing happened yet).
    None,
    /// The newest outcome event waits in the outbox.
    Pending,
    /// The complaints service accepted the newest outcome event.
    Delivered,
}

/// A callback as stored: the domain value and where its outcome's delivery is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stored {
    /// The callback.
    pub callback: Callback,
    /// Delivery of its outcome to the complaints service.
    pub delivery: Delivery,
}

/// Filters of a callback listing; they combine with AND, values of one list with OR.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CallbackFilter {
    /// Only these states.
    pub states: Vec<CallbackState>,
    /// Only callbacks assigned to this agent.
    pub assigned_agent_id: Option<String>,
    /// Only this customer.
    pub customer_id: Option<String>,
    /// Only this kind of subject.
    pub subject_kind: Option<SubjectKind>,
    /// Only this subject id.
    pub subject_id: Option<String>,
    /// Only due before.
    pub due_before: Option<DateTime<Utc>>,
}

/// The earliest fix deadline of the open findings, in microseconds; 0 when none is open.
fn finding_due_time(c: &Callback) -> i64 {
    c.findings
        .iter()
        .filter_map(|f| f.open_due_time())
        .min()
        .map_or(0, |t| t.timestamp_micros())
}

async fn insert_callback(conn: &mut AnyConnection, c: &Callback) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO callbacks (id, customer_id, subject_kind, subject_id, source_event_id, \
         assigned_agent_id, state, due_time, finding_due_time, complaint_delivery, last_event_id, \
         doc, version, create_time, update_time) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, '', '', $10, $11, $12, $13)",
    )
    .bind(&c.id)
    .bind(&c.customer_id)
    .bind(c.subject.kind.code())
    .bind(&c.subject.id)
    .bind(&c.source_event_id)
    .bind(&c.assigned_agent_id)
    .bind(c.state.code())
    .bind(c.due_time.timestamp_micros())
    .bind(finding_due_time(c))
    .bind(to_doc(c))
    .bind(c.version)
    .bind(c.create_time.timestamp_micros())
    .bind(c.update_time.timestamp_micros())
    .execute(conn)
    .await?;
    Ok(())
}

/// Writes a changed callback if it is still at `read_version`; with events for the complaints
/// service, its delivery becomes pending on the newest of them.
async fn update_callback(
    conn: &mut AnyConnection,
    c: &Callback,
    read_version: i64,
    newest_complaint_event: Option<&str>,
) -> Result<bool, StoreError> {
    let mut sql = Sql::new("UPDATE callbacks SET ");
    sql.bind("assigned_agent_id = $?", c.assigned_agent_id.as_str())
        .bind(", state = $?", c.state.code())
        .bind(", due_time = $?", c.due_time.timestamp_micros())
        .bind(", finding_due_time = $?", finding_due_time(c))
        .bind(", doc = $?", to_doc(c))
        .bind(", version = $?", c.version)
        .bind(", update_time = $?", c.update_time.timestamp_micros());
    if let Some(event_id) = newest_complaint_event {
        sql.push(", complaint_delivery = 'pending'")
            .bind(", last_event_id = $?", event_id);
    }
    sql.bind(" WHERE id = $?", c.id.as_str())
        .bind(" AND version = $?", read_version);
    let done = sql.query().execute(conn).await?;
    Ok(done.rows_affected() == 1)
}

impl Store {
    /// Counts the callbacks still scheduled past their due time and the callbacks with a
    /// finding open past its fix deadline, at `now`.
    pub async fn count_overdue(&self, now: DateTime<Utc>) -> Result<(i64, i64), StoreError> {
        async {
            let mut conn = db::acquire(&self.pool).await?;
            let now = now.timestamp_micros();
            let row: (i64, i64) = sqlx::query_as(
                "SELECT (SELECT COUNT(*) FROM callbacks WHERE state = 'scheduled' AND due_time < $1), \
                 (SELECT COUNT(*) FROM callbacks WHERE finding_due_time > 0 AND finding_due_time < $1)",
            )
            .bind(now)
            .fetch_one(&mut *conn)
            .await?;
            Ok(row)
        }
        .traced(self.span("SELECT", "callbacks", "feedback.count_overdue"))
        .await
    }

    /// Inserts a callback with its retry key; `Replayed` when the key was recorded before.
    pub async fn insert_callback(
        &self,
        callback: &Callback,
        key: &Key,
    ) -> Result<Inserted, StoreError> {
        async {
            let mut tx = db::begin(&self.pool).await?;
            let produced = Recorded {
                resource_id: callback.id.clone(),
                ref_id: String::new(),
            };
            match outbox::record_change(
                &mut tx,
                Some((key, &produced)),
                &[],
                callback.create_time.timestamp_micros(),
            )
            .await
            {
                Ok(()) => {}
                Err(StoreError::Duplicate(_)) => return Ok(Inserted::Replayed),
                Err(e) => return Err(e),
            }
            insert_callback(&mut tx, callback).await?;
            let now = callback.create_time.timestamp_micros();
            audit::record(&mut tx, CALLBACK, &callback.id, now).await?;
            tx.commit().await?;
            Ok(Inserted::Created)
        }
        .traced(self.span("INSERT", "callbacks", "feedback.insert_callback"))
        .await
    }

    /// Returns a callback by id.
    pub async fn get_callback(&self, id: &str) -> Result<Option<Stored>, StoreError> {
        async {
            let mut conn = db::acquire(&self.pool).await?;
            let row: Option<CallbackRow> =
                sqlx::query_as(&format!("SELECT {COLUMNS} FROM callbacks WHERE id = $1"))
                    .bind(id)
                    .fetch_optional(&mut *conn)
                    .await?;
            row.map(Stored::try_from).transpose()
        }
        .traced(self.span("SELECT", "callbacks", "feedback.get_callback"))
        .await
    }

    /// Saves a changed callback with its events (and the retry key with what it produced) if
    /// nobody changed it since `read_version`. A retry key recorded meanwhile by another call
    /// is [`StoreError::Duplicate`], and nothing is written.
    pub async fn save_callback(
        &self,
        callback: &Callback,
        read_version: i64,
        events: &[NewEvent],
        key: Option<(&Key, &Recorded)>,
    ) -> Result<bool, StoreError> {
        async {
            let newest = events
                .iter()
                .rev()
                .find(|e| e.destination == COMPLAINTS)
                .map(|e| e.id.as_str());
            let mut tx = db::begin(&self.pool).await?;
            if !update_callback(&mut tx, callback, read_version, newest).await? {
                return Ok(false);
            }
            let now = callback.update_time.timestamp_micros();
            outbox::record_change(&mut tx, key, events, now).await?;
            audit::record(&mut tx, CALLBACK, &callback.id, now).await?;
            tx.commit().await?;
            self.published(events.len());
            Ok(true)
        }
        .traced(self.span("UPDATE", "callbacks", "feedback.save_callback"))
        .await
    }

    /// Returns up to `limit` callbacks after `after` in (due_time, id) order.
    pub async fn list_callbacks(
        &self,
        filter: &CallbackFilter,
        after: Option<&Cursor>,
        limit: u32,
    ) -> Result<Vec<Stored>, StoreError> {
        async {
            let mut conn = db::acquire(&self.pool).await?;
            let CallbackFilter {
                states,
                assigned_agent_id,
                customer_id,
                subject_kind,
                subject_id,
                due_before,
            } = filter;
            let mut sql = Sql::new(&format!("SELECT {COLUMNS} FROM callbacks WHERE 1 = 1"));
            let states: Vec<&str> = states.iter().map(|s| s.code()).collect();
            sql.and_in("state", &states);
            if let Some(a) = assigned_agent_id {
                sql.bind(" AND assigned_agent_id = $?", a.as_str());
            }
            if let Some(c) = customer_id {
                sql.bind(" AND customer_id = $?", c.as_str());
            }
            if let Some(k) = subject_kind {
                sql.bind(" AND subject_kind = $?", k.code());
            }
            if let Some(s) = subject_id {
                sql.bind(" AND subject_id = $?", s.as_str());
            }
            if let Some(t) = due_before {
                sql.bind(" AND due_time < $?", t.timestamp_micros());
            }
            if let Some(cursor) = after {
                sql.after("due_time", cursor.key, cursor.id.as_str());
            }
            sql.bind(" ORDER BY due_time, id LIMIT $?", i64::from(limit));
            let rows: Vec<CallbackRow> = sql.query_as().fetch_all(&mut *conn).await?;
            db::returned_rows(rows.len());
            rows.into_iter().map(Stored::try_from).collect()
        }
        .traced(self.span("SELECT", "callbacks", "feedback.list_callbacks"))
        .await
    }
}

/// What the outbox relay needs of the store: marking a callback's outcome delivered. A handle
/// of its own (a pool, no relay waker), because the relay is built before the [`Store`].
#[derive(Debug, Clone)]
pub struct Deliveries {
    pool: AnyPool,
    /// `db.system.name` of the pool's database.
    system: &'static str,
}

impl Deliveries {
    /// Marks on the pool's database.
    pub fn new(pool: AnyPool) -> Self {
        Self {
            system: db::system(&pool),
            pool,
        }
    }

    /// The span of one store call (the kit's database span).
    fn span(
        &self,
        operation: &'static str,
        collection: &'static str,
        name: &'static str,
    ) -> tracing::Span {
        db::span(self.system, operation, collection, name)
    }

    /// The complaints service accepted `event_id` of `callback_id`: the callback's delivery is
    /// DELIVERED if that event is still its newest (a later one keeps it PENDING). The
    /// callback's version and etag do not change: delivery is not a change of the callback.
    pub async fn delivered(&self, callback_id: &str, event_id: &str) -> Result<(), StoreError> {
        async {
            let mut conn = db::acquire(&self.pool).await?;
            sqlx::query(
                "UPDATE callbacks SET complaint_delivery = 'delivered' \
                 WHERE id = $1 AND last_event_id = $2",
            )
            .bind(callback_id)
            .bind(event_id)
            .execute(&mut *conn)
            .await?;
            Ok(())
        }
        .traced(self.span("UPDATE", "callbacks", "feedback.delivered"))
        .await
    }
}
