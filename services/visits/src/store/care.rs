//! Care events, created with their visits.

use chrono::NaiveDate;
use csops_runtime::audit;
use csops_runtime::db;
use csops_runtime::db::Traced as _;
use csops_runtime::sql::Sql;
use csops_runtime::time;

use super::visits::{in_list, insert_visit, update_visit};
use super::{docs, from_doc, to_doc, Cursor, Store, StoreError, CARE_EVENT, VISIT};
use crate::domain::care::{CareEvent, CareState, Occasion};
use crate::domain::visit::Visit;

/// Filters of a care-event listing.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CareFilter {
    /// Only this customer.
    pub customer_id: Option<String>,
    /// Only events of plans owned by this agent.
    pub owner_agent_id: Option<String>,
    /// Only these states.
    pub states: Vec<CareState>,
    /// Only these occasions.
    pub occasions: Vec<Occasion>,
    /// Only on or after.
    pub date_start: Option<NaiveDate>,
    /// Only before.
    pub date_end: Option<NaiveDate>,
}

/// A cursor key for a date (days since the common era).
pub fn date_key(date: NaiveDate) -> i64 {
    i64::from(chrono::Datelike::num_days_from_ce(&date))
}

fn key_date(key: i64) -> NaiveDate {
    i32::try_from(key)
        .ok()
        .and_then(NaiveDate::from_num_days_from_ce_opt)
        .unwrap_or_default()
}

impl Store {
    /// Inserts care events with their visits; an event whose occasion key exists already is
    /// skipped with its visit. Returns how many were new.
    pub async fn insert_care(
        &self,
        events: &[(CareEvent, Option<Visit>)],
    ) -> Result<usize, StoreError> {
        if events.is_empty() {
            return Ok(0);
        }
        async {
            let mut tx = db::begin(&self.pool).await?;
            let mut created = 0;
            let mut new_care = Vec::new();
            let mut new_visits = Vec::new();
            for (event, visit) in events {
                let done = sqlx::query(
                    "INSERT INTO care_events (id, customer_id, plan_id, owner_agent_id, occasion, \
                     occasion_date, state, occasion_key, doc, version, create_time, update_time) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) \
                     ON CONFLICT (occasion_key) DO NOTHING",
                )
                .bind(&event.id)
                .bind(&event.customer_id)
                .bind(&event.plan_id)
                .bind(&event.owner_agent_id)
                .bind(event.occasion.code())
                .bind(event.occasion_date.to_string())
                .bind(event.state.code())
                .bind(&event.key)
                .bind(to_doc(event))
                .bind(event.version)
                .bind(event.prepare_time.timestamp_micros())
                .bind(event.prepare_time.timestamp_micros())
                .execute(&mut *tx)
                .await?;
                if done.rows_affected() == 1 {
                    created += 1;
                    new_care.push(event.id.as_str());
                    if let Some(visit) = visit {
                        insert_visit(&mut tx, visit).await?;
                        new_visits.push(visit.id.as_str());
                    }
                }
            }
            let now = events
                .iter()
                .map(|(e, _)| e.prepare_time.timestamp_micros())
                .max()
                .unwrap_or_default();
            audit::record_many(&mut tx, CARE_EVENT, &new_care, now).await?;
            audit::record_many(&mut tx, VISIT, &new_visits, now).await?;
            tx.commit().await?;
            Ok(created)
        }
        .traced(self.span("INSERT", "care_events", "visits.insert_care"))
        .await
    }

    /// Returns a care event by id.
    pub async fn get_care(&self, id: &str) -> Result<Option<CareEvent>, StoreError> {
        async {
            let mut conn = db::acquire(&self.pool).await?;
            let row: Option<(String, String)> =
                sqlx::query_as("SELECT id, doc FROM care_events WHERE id = $1")
                    .bind(id)
                    .fetch_optional(&mut *conn)
                    .await?;
            row.map(|(id, doc)| from_doc(&id, &doc)).transpose()
        }
        .traced(self.span("SELECT", "care_events", "visits.get_care"))
        .await
    }

    /// Saves a changed care event (and its changed visit) if neither changed meanwhile.
    pub async fn save_care(
        &self,
        event: &CareEvent,
        read_version: i64,
        visit: Option<(&Visit, i64)>,
    ) -> Result<bool, StoreError> {
        async {
            let mut tx = db::begin(&self.pool).await?;
            let done = sqlx::query(
                "UPDATE care_events SET state = $1, doc = $2, version = $3 WHERE id = $4 AND \
                 version = $5",
            )
            .bind(event.state.code())
            .bind(to_doc(event))
            .bind(event.version)
            .bind(&event.id)
            .bind(read_version)
            .execute(&mut *tx)
            .await?;
            if done.rows_affected() != 1 {
                return Ok(false);
            }
            if let Some((visit, read)) = visit {
                if !update_visit(&mut tx, visit, read).await? {
                    return Ok(false);
                }
                audit::record(
                    &mut tx,
                    VISIT,
                    &visit.id,
                    visit.update_time.timestamp_micros(),
                )
                .await?;
            }
            audit::record(&mut tx, CARE_EVENT, &event.id, time::now_micros()).await?;
            tx.commit().await?;
            Ok(true)
        }
        .traced(self.span("UPDATE", "care_events", "visits.save_care"))
        .await
    }

    /// The care event a visit was created for.
    pub async fn care_of_visit(&self, visit: &Visit) -> Result<Option<CareEvent>, StoreError> {
        if visit.source.kind != crate::domain::visit::SourceKind::CareEvent {
            return Ok(None);
        }
        self.get_care(&visit.source.source_id).await
    }

    /// Returns up to `limit` care events after `after` in (occasion_date, id) order.
    pub async fn list_care(
        &self,
        filter: &CareFilter,
        after: Option<&Cursor>,
        limit: u32,
    ) -> Result<Vec<CareEvent>, StoreError> {
        async {
            let CareFilter {
                customer_id,
                owner_agent_id,
                states,
                occasions,
                date_start,
                date_end,
            } = filter;
            let mut sql = Sql::new("SELECT id, doc FROM care_events WHERE 1 = 1");
            if let Some(c) = customer_id {
                sql.bind(" AND customer_id = $?", c.as_str());
            }
            if let Some(o) = owner_agent_id {
                sql.bind(" AND owner_agent_id = $?", o.as_str());
            }
            in_list(&mut sql, "state", states.iter().map(|s| s.code()));
            in_list(&mut sql, "occasion", occasions.iter().map(|o| o.code()));
            if let Some(d) = date_start {
                sql.bind(" AND occasion_date >= $?", d.to_string());
            }
            if let Some(d) = date_end {
                sql.bind(" AND occasion_date < $?", d.to_string());
            }
            if let Some(cursor) = after {
                let date = key_date(cursor.key).to_string();
                sql.after("occasion_date", date, cursor.id.as_str());
            }
            sql.bind(" ORDER BY occasion_date, id LIMIT $?", i64::from(limit));
            let mut conn = db::acquire(&self.pool).await?;
            let rows: Vec<(String, String)> = sql.query_as().fetch_all(&mut *conn).await?;
            db::returned_rows(rows.len());
            docs(rows)
        }
        .traced(self.span("SELECT", "care_events", "visits.list_care"))
        .await
    }
}
