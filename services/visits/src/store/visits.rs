//! Visits.

use chrono::{DateTime, Utc};
use csops_runtime::audit;
use csops_runtime::db;
use csops_runtime::db::Traced as _;
use csops_runtime::idempotency::{Key, Recorded};
use csops_runtime::outbox::{self, NewEvent};
use csops_runtime::sql::Sql;
use csops_runtime::time::to_micros_opt;
use sqlx::AnyConnection;

use super::{docs, from_doc, to_doc, Cursor, Inserted, Store, StoreError, VISIT};
use crate::domain::visit::{CareKind, Purpose, Visit, VisitState};
use crate::domain::Method;

/// Filters of a visit listing; they combine with AND, values of one list with OR.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VisitFilter {
    /// Only this customer.
    pub customer_id: Option<String>,
    /// Only this assignee.
    pub assigned_agent_id: Option<String>,
    /// Only these states.
    pub states: Vec<VisitState>,
    /// Only this care kind.
    pub care_kind: Option<CareKind>,
    /// Only these methods.
    pub methods: Vec<Method>,
    /// Only these purposes.
    pub purposes: Vec<Purpose>,
    /// Only due at or after.
    pub due_start: Option<DateTime<Utc>>,
    /// Only due before.
    pub due_end: Option<DateTime<Utc>>,
    /// Only this plan.
    pub plan_id: Option<String>,
}

pub(super) async fn insert_visit(conn: &mut AnyConnection, v: &Visit) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO visits (id, customer_id, plan_id, assigned_agent_id, state, care_kind, \
         purpose, method, due_time, scheduled_start_time, scheduled_end_time, doc, version, \
         create_time, update_time) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)",
    )
    .bind(&v.id)
    .bind(&v.customer_id)
    .bind(&v.plan_id)
    .bind(&v.assigned_agent_id)
    .bind(v.state.code())
    .bind(v.care_kind.code())
    .bind(v.purpose.code())
    .bind(v.method.code())
    .bind(v.due_time.timestamp_micros())
    .bind(to_micros_opt(v.scheduled_start_time))
    .bind(to_micros_opt(v.scheduled_end_time))
    .bind(to_doc(v))
    .bind(v.version)
    .bind(v.create_time.timestamp_micros())
    .bind(v.update_time.timestamp_micros())
    .execute(conn)
    .await?;
    Ok(())
}

/// Inserts many visits, a statement per 500 rows.
pub(super) async fn insert_visits(
    conn: &mut AnyConnection,
    visits: &[&Visit],
) -> Result<(), StoreError> {
    for chunk in visits.chunks(500) {
        let mut sql = Sql::new(
            "INSERT INTO visits (id, customer_id, plan_id, assigned_agent_id, state, care_kind, \
             purpose, method, due_time, scheduled_start_time, scheduled_end_time, doc, version, \
             create_time, update_time) VALUES ",
        );
        for (i, v) in chunk.iter().enumerate() {
            sql.push(if i == 0 { "(" } else { ", (" })
                .bind("$?", v.id.as_str())
                .bind(", $?", v.customer_id.as_str())
                .bind(", $?", v.plan_id.as_str())
                .bind(", $?", v.assigned_agent_id.as_str())
                .bind(", $?", v.state.code())
                .bind(", $?", v.care_kind.code())
                .bind(", $?", v.purpose.code())
                .bind(", $?", v.method.code())
                .bind(", $?", v.due_time.timestamp_micros())
                .bind(", $?", to_micros_opt(v.scheduled_start_time))
                .bind(", $?", to_micros_opt(v.scheduled_end_time))
                .bind(", $?", to_doc(*v))
                .bind(", $?", v.version)
                .bind(", $?", v.create_time.timestamp_micros())
                .bind(", $?)", v.update_time.timestamp_micros());
        }
        sql.query().execute(&mut *conn).await?;
    }
    Ok(())
}

/// Writes a changed visit if it is still at `read_version`.
pub(super) async fn update_visit(
    conn: &mut AnyConnection,
    v: &Visit,
    read_version: i64,
) -> Result<bool, StoreError> {
    let done = sqlx::query(
        "UPDATE visits SET assigned_agent_id = $1, state = $2, purpose = $3, method = $4, \
         due_time = $5, scheduled_start_time = $6, scheduled_end_time = $7, doc = $8, \
         version = $9, update_time = $10 WHERE id = $11 AND version = $12",
    )
    .bind(&v.assigned_agent_id)
    .bind(v.state.code())
    .bind(v.purpose.code())
    .bind(v.method.code())
    .bind(v.due_time.timestamp_micros())
    .bind(to_micros_opt(v.scheduled_start_time))
    .bind(to_micros_opt(v.scheduled_end_time))
    .bind(to_doc(v))
    .bind(v.version)
    .bind(v.update_time.timestamp_micros())
    .bind(&v.id)
    .bind(read_version)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

impl Store {
    /// Inserts a visit with its retry key and events; `Replayed` when the key was recorded
    /// before.
    pub async fn insert_visit(
        &self,
        visit: &Visit,
        key: Option<&Key>,
        events: &[NewEvent],
    ) -> Result<Inserted, StoreError> {
        async {
            let mut tx = db::begin(&self.pool).await?;
            let produced = Recorded {
                resource_id: visit.id.clone(),
                ref_id: String::new(),
            };
            match outbox::record_change(
                &mut tx,
                key.map(|k| (k, &produced)),
                events,
                visit.create_time.timestamp_micros(),
            )
            .await
            {
                Ok(()) => {}
                Err(StoreError::Duplicate(_)) => return Ok(Inserted::Replayed),
                Err(e) => return Err(e),
            }
            insert_visit(&mut tx, visit).await?;
            audit::record(
                &mut tx,
                VISIT,
                &visit.id,
                visit.create_time.timestamp_micros(),
            )
            .await?;
            tx.commit().await?;
            self.published(events.len());
            Ok(Inserted::Created)
        }
        .traced(self.span("INSERT", "visits", "visits.insert_visit"))
        .await
    }

    /// Returns a visit by id.
    pub async fn get_visit(&self, id: &str) -> Result<Option<Visit>, StoreError> {
        async {
            let mut conn = db::acquire(&self.pool).await?;
            let row: Option<(String, String)> =
                sqlx::query_as("SELECT id, doc FROM visits WHERE id = $1")
                    .bind(id)
                    .fetch_optional(&mut *conn)
                    .await?;
            row.map(|(id, doc)| from_doc(&id, &doc)).transpose()
        }
        .traced(self.span("SELECT", "visits", "visits.get_visit"))
        .await
    }

    /// Saves a changed visit with its events if nobody changed it since `read_version`.
    pub async fn save_visit(
        &self,
        visit: &Visit,
        read_version: i64,
        events: &[NewEvent],
    ) -> Result<bool, StoreError> {
        async {
            let mut tx = db::begin(&self.pool).await?;
            if !update_visit(&mut tx, visit, read_version).await? {
                return Ok(false);
            }
            outbox::record_change(&mut tx, None, events, visit.update_time.timestamp_micros())
                .await?;
            audit::record(
                &mut tx,
                VISIT,
                &visit.id,
                visit.update_time.timestamp_micros(),
            )
            .await?;
            tx.commit().await?;
            self.published(events.len());
            Ok(true)
        }
        .traced(self.span("UPDATE", "visits", "visits.save_visit"))
        .await
    }

    /// Open visits of a plan due at or after `from`, by due time.
    pub async fn open_plan_visits(
        &self,
        plan_id: &str,
        from: DateTime<Utc>,
    ) -> Result<Vec<Visit>, StoreError> {
        async {
            let mut conn = db::acquire(&self.pool).await?;
            let rows: Vec<(String, String)> = sqlx::query_as(
                "SELECT id, doc FROM visits WHERE plan_id = $1 AND due_time >= $2 \
                 AND state IN ('planned', 'scheduled', 'in_progress') ORDER BY due_time, id",
            )
            .bind(plan_id)
            .bind(from.timestamp_micros())
            .fetch_all(&mut *conn)
            .await?;
            db::returned_rows(rows.len());
            let visits: Vec<Visit> = docs(rows)?;
            // Care and complaint visits of the plan's customer are not plan visits.
            Ok(visits
                .into_iter()
                .filter(|v| v.source.kind == crate::domain::visit::SourceKind::Plan)
                .collect())
        }
        .traced(self.span("SELECT", "visits", "visits.open_plan_visits"))
        .await
    }

    /// Ids of up to `limit` open visits due before `before`.
    pub async fn open_due_before(
        &self,
        before: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<String>, StoreError> {
        async {
            let mut conn = db::acquire(&self.pool).await?;
            let rows: Vec<(String,)> = sqlx::query_as(
                "SELECT id FROM visits WHERE state IN ('planned', 'scheduled', 'in_progress') \
                 AND due_time < $1 ORDER BY due_time, id LIMIT $2",
            )
            .bind(before.timestamp_micros())
            .bind(i64::from(limit))
            .fetch_all(&mut *conn)
            .await?;
            db::returned_rows(rows.len());
            Ok(rows.into_iter().map(|(id,)| id).collect())
        }
        .traced(self.span("SELECT", "visits", "visits.open_due_before"))
        .await
    }

    /// Counts visits not done in time: MISSED, or open and past `overdue_before`.
    pub async fn count_overdue(&self, overdue_before: DateTime<Utc>) -> Result<i64, StoreError> {
        async {
            let mut conn = db::acquire(&self.pool).await?;
            let (n,): (i64,) = sqlx::query_as(
                "SELECT COUNT(*) FROM visits WHERE state = 'missed' \
                 OR (state IN ('planned', 'scheduled', 'in_progress') AND due_time < $1)",
            )
            .bind(overdue_before.timestamp_micros())
            .fetch_one(&mut *conn)
            .await?;
            Ok(n)
        }
        .traced(self.span("SELECT", "visits", "visits.count_overdue"))
        .await
    }

    /// Returns up to `limit` visits after `after` in (due_time, id) order.
    pub async fn list_visits(
        &self,
        filter: &VisitFilter,
        after: Option<&Cursor>,
        limit: u32,
    ) -> Result<Vec<Visit>, StoreError> {
        async {
            let VisitFilter {
                customer_id,
                assigned_agent_id,
                states,
                care_kind,
                methods,
                purposes,
                due_start,
                due_end,
                plan_id,
            } = filter;
            let mut sql = Sql::new("SELECT id, doc FROM visits WHERE 1 = 1");
            if let Some(c) = customer_id {
                sql.bind(" AND customer_id = $?", c.as_str());
            }
            if let Some(a) = assigned_agent_id {
                sql.bind(" AND assigned_agent_id = $?", a.as_str());
            }
            if let Some(p) = plan_id {
                sql.bind(" AND plan_id = $?", p.as_str());
            }
            in_list(&mut sql, "state", states.iter().map(|s| s.code()));
            if let Some(k) = care_kind {
                sql.bind(" AND care_kind = $?", k.code());
            }
            in_list(&mut sql, "method", methods.iter().map(|m| m.code()));
            in_list(&mut sql, "purpose", purposes.iter().map(|p| p.code()));
            if let Some(t) = due_start {
                sql.bind(" AND due_time >= $?", t.timestamp_micros());
            }
            if let Some(t) = due_end {
                sql.bind(" AND due_time < $?", t.timestamp_micros());
            }
            if let Some(cursor) = after {
                sql.after("due_time", cursor.key, cursor.id.as_str());
            }
            sql.bind(" ORDER BY due_time, id LIMIT $?", i64::from(limit));
            let mut conn = db::acquire(&self.pool).await?;
            let rows: Vec<(String, String)> = sql.query_as().fetch_all(&mut *conn).await?;
            db::returned_rows(rows.len());
            docs(rows)
        }
        .traced(self.span("SELECT", "visits", "visits.list_visits"))
        .await
    }
}

/// Appends ` AND column IN (…)` for a non-empty list.
pub(super) fn in_list<'a>(sql: &mut Sql, column: &str, values: impl Iterator<Item = &'a str>) {
    let values: Vec<&str> = values.collect();
    if values.is_empty() {
        return;
    }
    sql.push(&format!(" AND {column} IN ("));
    for (i, value) in values.into_iter().enumerate() {
        sql.bind(if i == 0 { "$?" } else { ", $?" }, value);
    }
    sql.push(")");
}
