//! Field jobs: the JSON document beside the columns listings, bookings and the clock sweep
//! filter on (engineer and window for bookings, consent_pending and breached for listings,
//! next_check_time for the sweep).

use chrono::{DateTime, Utc};
use csops_runtime::audit;
use csops_runtime::db;
use csops_runtime::db::Traced as _;
use csops_runtime::idempotency::{Key, Recorded};
use csops_runtime::outbox::{self, NewEvent};
use csops_runtime::sql::Sql;
use csops_runtime::time::to_micros_opt;
use sqlx::AnyConnection;

use super::{docs, from_doc, to_doc, Cursor, Inserted, Store, StoreError, FIELD_JOB};
use crate::domain::field_job::{FieldJob, FieldJobKind, FieldJobState};

/// Filters of a field-job listing; they combine with AND, values of one list with OR.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FieldJobFilter {
    /// Only this customer.
    pub customer_id: Option<String>,
    /// Only this engineer.
    pub engineer_id: Option<String>,
    /// Only these states.
    pub states: Vec<FieldJobState>,
    /// Only these kinds.
    pub kinds: Vec<FieldJobKind>,
    /// Only jobs from this complaint.
    pub complaint_id: Option<String>,
    /// Only jobs with extra work waiting for consent.
    pub consent_pending_only: bool,
    /// Only jobs with a breached clock.
    pub breached_only: bool,
    /// Only created at or after.
    pub create_time_start: Option<DateTime<Utc>>,
    /// Only created before.
    pub create_time_end: Option<DateTime<Utc>>,
}

fn window(job: &FieldJob) -> (i64, i64) {
    let w = job.agreed_window.as_ref();
    (
        to_micros_opt(w.map(|w| w.start)),
        to_micros_opt(w.map(|w| w.end)),
    )
}

async fn insert_job(
    conn: &mut AnyConnection,
    job: &FieldJob,
    next_check: Option<DateTime<Utc>>,
) -> Result<(), StoreError> {
    let (start, end) = window(job);
    sqlx::query(
        "INSERT INTO field_jobs (id, customer_id, engineer_id, kind, state, complaint_id, \
         window_start_time, window_end_time, consent_pending, breached, next_check_time, doc, \
         version, create_time, update_time) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)",
    )
    .bind(&job.id)
    .bind(&job.customer_id)
    .bind(&job.engineer_id)
    .bind(job.kind.code())
    .bind(job.state.code())
    .bind(&job.complaint_id)
    .bind(start)
    .bind(end)
    .bind(i64::from(job.consent_pending()))
    .bind(i64::from(job.breached()))
    .bind(to_micros_opt(next_check))
    .bind(to_doc(job))
    .bind(job.version)
    .bind(job.create_time.timestamp_micros())
    .bind(job.update_time.timestamp_micros())
    .execute(conn)
    .await?;
    Ok(())
}

async fn update_job(
    conn: &mut AnyConnection,
    job: &FieldJob,
    read_version: i64,
    next_check: Option<DateTime<Utc>>,
) -> Result<bool, StoreError> {
    let (start, end) = window(job);
    let done = sqlx::query(
        "UPDATE field_jobs SET engineer_id = $1, state = $2, window_start_time = $3, \
         window_end_time = $4, consent_pending = $5, breached = $6, next_check_time = $7, \
         doc = $8, version = $9, update_time = $10 WHERE id = $11 AND version = $12",
    )
    .bind(&job.engineer_id)
    .bind(job.state.code())
    .bind(start)
    .bind(end)
    .bind(i64::from(job.consent_pending()))
    .bind(i64::from(job.breached()))
    .bind(to_micros_opt(next_check))
    .bind(to_doc(job))
    .bind(job.version)
    .bind(job.update_time.timestamp_micros())
    .bind(&job.id)
    .bind(read_version)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

impl Store {
    /// Inserts a job with its retry key; `Replayed` when the key was recorded before.
    /// `next_check` is when the sweep looks at its clocks.
    pub async fn insert_field_job(
        &self,
        job: &FieldJob,
        key: Option<&Key>,
        next_check: Option<DateTime<Utc>>,
    ) -> Result<Inserted, StoreError> {
        async {
            let mut tx = db::begin(&self.pool).await?;
            let produced = Recorded {
                resource_id: job.id.clone(),
                ref_id: String::new(),
            };
            match outbox::record_change(
                &mut tx,
                key.map(|k| (k, &produced)),
                &[],
                job.create_time.timestamp_micros(),
            )
            .await
            {
                Ok(()) => {}
                Err(StoreError::Duplicate(_)) => return Ok(Inserted::Replayed),
                Err(e) => return Err(e),
            }
            insert_job(&mut tx, job, next_check).await?;
            audit::record(
                &mut tx,
                FIELD_JOB,
                &job.id,
                job.create_time.timestamp_micros(),
            )
            .await?;
            tx.commit().await?;
            Ok(Inserted::Created)
        }
        .traced(self.span("INSERT", "field_jobs", "visits.insert_field_job"))
        .await
    }

    /// Returns a job by id.
    pub async fn get_field_job(&self, id: &str) -> Result<Option<FieldJob>, StoreError> {
        async {
            let mut conn = db::acquire(&self.pool).await?;
            let row: Option<(String, String)> =
                sqlx::query_as("SELECT id, doc FROM field_jobs WHERE id = $1")
                    .bind(id)
                    .fetch_optional(&mut *conn)
                    .await?;
            row.map(|(id, doc)| from_doc(&id, &doc)).transpose()
        }
        .traced(self.span("SELECT", "field_jobs", "visits.get_field_job"))
        .await
    }

    /// Saves a changed job with its events (and the retry key with what it produced) if
    /// nobody changed it since `read_version`. A retry key recorded meanwhile by another call
    /// is [`StoreError::Duplicate`], and nothing is written.
    pub async fn save_field_job(
        &self,
        job: &FieldJob,
        read_version: i64,
        events: &[NewEvent],
        key: Option<(&Key, &Recorded)>,
        next_check: Option<DateTime<Utc>>,
    ) -> Result<bool, StoreError> {
        async {
            let mut tx = db::begin(&self.pool).await?;
            if !update_job(&mut tx, job, read_version, next_check).await? {
                return Ok(false);
            }
            outbox::record_change(&mut tx, key, events, job.update_time.timestamp_micros()).await?;
            audit::record(
                &mut tx,
                FIELD_JOB,
                &job.id,
                job.update_time.timestamp_micros(),
            )
            .await?;
            tx.commit().await?;
            self.published(events.len());
            Ok(true)
        }
        .traced(self.span("UPDATE", "field_jobs", "visits.save_field_job"))
        .await
    }

    /// Moves the sweep's next look at a job's clocks, if the job is still at `version` (the
    /// job itself does not change).
    pub async fn postpone_field_job_check(
        &self,
        id: &str,
        version: i64,
        next_check: Option<DateTime<Utc>>,
    ) -> Result<bool, StoreError> {
        async {
            let mut conn = db::acquire(&self.pool).await?;
            let done = sqlx::query(
                "UPDATE field_jobs SET next_check_time = $1 WHERE id = $2 AND version = $3",
            )
            .bind(to_micros_opt(next_check))
            .bind(id)
            .bind(version)
            .execute(&mut *conn)
            .await?;
            Ok(done.rows_affected() == 1)
        }
        .traced(self.span("UPDATE", "field_jobs", "visits.postpone_field_job_check"))
        .await
    }

    /// Ids of up to `limit` jobs whose clocks need a look at `now`, most overdue first.
    pub async fn field_jobs_to_check(
        &self,
        now: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<String>, StoreError> {
        async {
            let mut conn = db::acquire(&self.pool).await?;
            let rows: Vec<(String,)> = sqlx::query_as(
                "SELECT id FROM field_jobs WHERE next_check_time > 0 AND next_check_time <= $1 \
                 ORDER BY next_check_time, id LIMIT $2",
            )
            .bind(now.timestamp_micros())
            .bind(i64::from(limit))
            .fetch_all(&mut *conn)
            .await?;
            db::returned_rows(rows.len());
            Ok(rows.into_iter().map(|(id,)| id).collect())
        }
        .traced(self.span("SELECT", "field_jobs", "visits.field_jobs_to_check"))
        .await
    }

    /// Returns up to `limit` jobs after `after` in (create_time, id) order.
    pub async fn list_field_jobs(
        &self,
        filter: &FieldJobFilter,
        after: Option<&Cursor>,
        limit: u32,
    ) -> Result<Vec<FieldJob>, StoreError> {
        async {
            let FieldJobFilter {
                customer_id,
                engineer_id,
                states,
                kinds,
                complaint_id,
                consent_pending_only,
                breached_only,
                create_time_start,
                create_time_end,
            } = filter;
            let mut sql = Sql::new("SELECT id, doc FROM field_jobs WHERE 1 = 1");
            if let Some(c) = customer_id {
                sql.bind(" AND customer_id = $?", c.as_str());
            }
            if let Some(e) = engineer_id {
                sql.bind(" AND engineer_id = $?", e.as_str());
            }
            let states: Vec<&str> = states.iter().map(|s| s.code()).collect();
            sql.and_in("state", &states);
            let kinds: Vec<&str> = kinds.iter().map(|k| k.code()).collect();
            sql.and_in("kind", &kinds);
            if let Some(c) = complaint_id {
                sql.bind(" AND complaint_id = $?", c.as_str());
            }
            if *consent_pending_only {
                sql.push(" AND consent_pending = 1");
            }
            if *breached_only {
                sql.push(" AND breached = 1");
            }
            if let Some(t) = create_time_start {
                sql.bind(" AND create_time >= $?", t.timestamp_micros());
            }
            if let Some(t) = create_time_end {
                sql.bind(" AND create_time < $?", t.timestamp_micros());
            }
            if let Some(cursor) = after {
                sql.after("create_time", cursor.key, cursor.id.as_str());
            }
            sql.bind(" ORDER BY create_time, id LIMIT $?", i64::from(limit));
            let mut conn = db::acquire(&self.pool).await?;
            let rows: Vec<(String, String)> = sql.query_as().fetch_all(&mut *conn).await?;
            db::returned_rows(rows.len());
            docs(rows)
        }
        .traced(self.span("SELECT", "field_jobs", "visits.list_field_jobs"))
        .await
    }
}
