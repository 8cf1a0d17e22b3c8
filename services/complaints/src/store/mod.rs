//! Storage of complaints, their timeline, SLA events, outbox and reply violations, on SQLite
//! or PostgreSQL through `sqlx::Any`. Only this module speaks SQL.
//!
//! A complaint is saved with everything its change produced (timeline entries, SLA events,
//! outbox events, escalation keys, the request id) in one transaction guarded by its version.
//!
//! Time columns hold microseconds since the epoch (0 for unset); methods take and return
//! `DateTime<Utc>` and `Option` and convert here. Only the SLA stream's cursor over
//! `sla_events.event_time` stays in stored microseconds.

use chrono::{DateTime, Utc};
pub use csops_runtime::db::StoreError;
use csops_runtime::idempotency::{self, Key, Recorded};
use csops_runtime::outbox::{self, NewEvent};
pub use csops_runtime::paging::Cursor;
use csops_runtime::time::{from_micros, to_micros_opt};
use csops_runtime::Error;
use sqlx::any::AnyRow;
use std::sync::Arc;

use sqlx::{Any, AnyPool, Row, Transaction};
use tokio::sync::Notify;

use crate::domain::{Complaint, Entry, EntryKind, OutboxEvent, SlaEvent, SlaState};

/// Filters of ListComplaints; they combine with AND, values inside one with OR.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListFilter {
    /// States.
    pub states: Vec<String>,
    /// Natures.
    pub natures: Vec<String>,
    /// Severities.
    pub severities: Vec<String>,
    /// Assigned agent.
    pub assigned_agent_id: Option<String>,
    /// Only unassigned.
    pub unassigned: bool,
    /// Customer.
    pub customer_id: Option<String>,
    /// SLA states.
    pub sla_states: Vec<String>,
    /// Created at or after.
    pub create_time_start: Option<DateTime<Utc>>,
    /// Created before.
    pub create_time_end: Option<DateTime<Utc>>,
    /// Escalation level.
    pub escalation_level: Option<String>,
}

/// Result of an idempotent insert.
#[derive(Debug)]
pub enum Inserted {
    /// Created.
    Created,
    /// The retry key was recorded before: nothing was written.
    Replayed,
}

/// A recorded reply violation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ViolationRow {
    /// Id.
    pub id: String,
    /// Agent.
    pub agent_id: String,
    /// Complaint.
    pub complaint_id: String,
    /// When.
    pub check_time: DateTime<Utc>,
    /// The violation as JSON.
    pub body: String,
}

enum Bind {
    Text(String),
    Int(i64),
}

/// Complaint storage over a shared pool.
#[derive(Debug, Clone)]
pub struct Store {
    pool: AnyPool,
    /// Woken after a commit that wrote outbox events, so the relay sends them at once.
    outbox_written: Arc<Notify>,
}

fn to_json<T: serde::Serialize>(value: &T) -> String {
    // Serialising plain data structs to a String cannot fail.
    serde_json::to_string(value).unwrap_or_default()
}

fn corrupt(id: &str, what: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt {
        id: id.to_owned(),
        what: what.to_string(),
    }
}

fn complaint_from_row(row: &AnyRow) -> Result<Complaint, StoreError> {
    let id: String = row.try_get("id")?;
    let body: String = row.try_get("body")?;
    let mut c: Complaint = serde_json::from_str(&body).map_err(|e| corrupt(&id, e))?;
    c.version = row.try_get("version")?;
    Ok(c)
}

impl Store {
    /// Wraps a pool whose database has the complaints migrations applied.
    pub fn new(pool: AnyPool, outbox_written: Arc<Notify>) -> Self {
        Self {
            pool,
            outbox_written,
        }
    }

    /// Commits a change and wakes the relay when it wrote outbox events.
    async fn commit(
        &self,
        tx: Transaction<'_, Any>,
        outbox_events: usize,
    ) -> Result<(), StoreError> {
        tx.commit().await?;
        if outbox_events > 0 {
            self.outbox_written.notify_one();
        }
        Ok(())
    }

    /// Returns what the first call with `key` produced, if it ran (ALREADY_EXISTS when the
    /// key came with another request).
    pub async fn replay(&self, key: &Key) -> Result<Option<Recorded>, Error> {
        idempotency::find(&self.pool, key).await
    }

    /// Inserts a new complaint (with its pending changes) and its retry key, unless the key
    /// was recorded before.
    pub async fn insert(
        &self,
        c: &mut Complaint,
        key: &Key,
        sla_state: SlaState,
        next_check: Option<DateTime<Utc>>,
    ) -> Result<Inserted, StoreError> {
        let mut tx = self.pool.begin().await?;
        let produced = Recorded {
            resource_id: c.id.clone(),
            ref_id: c.id.clone(),
        };
        match idempotency::record(&mut tx, key, &produced, c.create_time.timestamp_micros()).await {
            Ok(()) => {}
            Err(StoreError::Duplicate(_)) => return Ok(Inserted::Replayed),
            Err(e) => return Err(e),
        }
        sqlx::query(
            "INSERT INTO complaints (id, customer_id, state, nature, severity, assigned_agent_id, \
             escalation_level, sla_state, defaulted, next_check_time, lease_owner, lease_until, body, \
             version, create_time, update_time) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, '', 0, $11, $12, $13, $14)",
        )
        .bind(&c.id)
        .bind(&c.customer_id)
        .bind(c.state.code())
        .bind(c.nature.code())
        .bind(c.severity.code())
        .bind(&c.assigned_agent_id)
        .bind(c.escalation_level.code())
        .bind(sla_state.code())
        .bind(i64::from(c.customer.defaulted))
        .bind(to_micros_opt(next_check))
        .bind(to_json(&*c))
        .bind(c.version)
        .bind(c.create_time.timestamp_micros())
        .bind(c.update_time.timestamp_micros())
        .execute(&mut *tx)
        .await?;
        let written = write_pending(&mut tx, c).await?;
        self.commit(tx, written).await?;
        Ok(Inserted::Created)
    }

    /// Returns a complaint by id.
    pub async fn get(&self, id: &str) -> Result<Option<Complaint>, StoreError> {
        let row = sqlx::query("SELECT id, body, version FROM complaints WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| complaint_from_row(&r)).transpose()
    }

    /// Writes a changed complaint and what the change produced, if nobody changed it since
    /// `expected_version`. Returns false when someone did (nothing is written then). A claimed
    /// request key or escalation key that already exists fails with `Duplicate`.
    pub async fn save(
        &self,
        c: &mut Complaint,
        expected_version: i64,
        request: Option<(&Key, &str)>,
        sla_state: SlaState,
        next_check: Option<DateTime<Utc>>,
    ) -> Result<bool, StoreError> {
        let mut tx = self.pool.begin().await?;
        let result = sqlx::query(
            "UPDATE complaints SET state = $1, nature = $2, severity = $3, assigned_agent_id = $4, \
             escalation_level = $5, sla_state = $6, defaulted = $7, next_check_time = $8, \
             lease_owner = '', lease_until = 0, body = $9, version = $10, update_time = $11 \
             WHERE id = $12 AND version = $13",
        )
        .bind(c.state.code())
        .bind(c.nature.code())
        .bind(c.severity.code())
        .bind(&c.assigned_agent_id)
        .bind(c.escalation_level.code())
        .bind(sla_state.code())
        .bind(i64::from(c.customer.defaulted))
        .bind(to_micros_opt(next_check))
        .bind(to_json(&*c))
        .bind(c.version)
        .bind(c.update_time.timestamp_micros())
        .bind(&c.id)
        .bind(expected_version)
        .execute(&mut *tx)
        .await?;
        if result.rows_affected() != 1 {
            return Ok(false);
        }
        if let Some((key, ref_id)) = request {
            let produced = Recorded {
                resource_id: c.id.clone(),
                ref_id: ref_id.to_owned(),
            };
            idempotency::record(&mut tx, key, &produced, c.update_time.timestamp_micros()).await?;
        }
        for (subject, level) in &c.pending_guards {
            sqlx::query(
                "INSERT INTO sla_escalations (complaint_id, subject_id, escalation_level, create_time) \
                 VALUES ($1, $2, $3, $4)",
            )
            .bind(&c.id)
            .bind(subject)
            .bind(level.code())
            .bind(c.update_time.timestamp_micros())
            .execute(&mut *tx)
            .await?;
        }
        let written = write_pending(&mut tx, c).await?;
        self.commit(tx, written).await?;
        Ok(true)
    }

    /// Lists complaints in (create_time, id) order after `after`.
    pub async fn list(
        &self,
        filter: &ListFilter,
        after: Option<&Cursor>,
        limit: u32,
    ) -> Result<Vec<Complaint>, StoreError> {
        let mut sql = String::from("SELECT id, body, version FROM complaints WHERE 1 = 1");
        let mut binds: Vec<Bind> = Vec::new();
        let mut param = |sql: &mut String, clause: &str, value: Bind| {
            binds.push(value);
            sql.push_str(&clause.replace("$?", &format!("${}", binds.len())));
        };
        let mut any_of = |sql: &mut String, column: &str, values: &[String]| {
            if values.is_empty() {
                return;
            }
            sql.push_str(&format!(" AND {column} IN ("));
            for (i, v) in values.iter().enumerate() {
                if i > 0 {
                    sql.push_str(", ");
                }
                param(sql, "$?", Bind::Text(v.clone()));
            }
            sql.push(')');
        };
        any_of(&mut sql, "state", &filter.states);
        any_of(&mut sql, "nature", &filter.natures);
        any_of(&mut sql, "severity", &filter.severities);
        any_of(&mut sql, "sla_state", &filter.sla_states);
        if let Some(level) = &filter.escalation_level {
            any_of(&mut sql, "escalation_level", std::slice::from_ref(level));
        }
        if filter.unassigned {
            any_of(&mut sql, "assigned_agent_id", &[String::new()]);
        } else if let Some(agent) = &filter.assigned_agent_id {
            any_of(&mut sql, "assigned_agent_id", std::slice::from_ref(agent));
        }
        if let Some(customer) = &filter.customer_id {
            any_of(&mut sql, "customer_id", std::slice::from_ref(customer));
        }
        if let Some(start) = filter.create_time_start {
            param(
                &mut sql,
                " AND create_time >= $?",
                Bind::Int(start.timestamp_micros()),
            );
        }
        if let Some(end) = filter.create_time_end {
            param(
                &mut sql,
                " AND create_time < $?",
                Bind::Int(end.timestamp_micros()),
            );
        }
        if let Some(cursor) = after {
            param(&mut sql, " AND (create_time > $?", Bind::Int(cursor.key));
            param(&mut sql, " OR (create_time = $?", Bind::Int(cursor.key));
            param(&mut sql, " AND id > $?))", Bind::Text(cursor.id.clone()));
        }
        param(
            &mut sql,
            " ORDER BY create_time, id LIMIT $?",
            Bind::Int(i64::from(limit)),
        );
        let rows = bind_all(sqlx::query(&sql), binds)
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(complaint_from_row).collect()
    }

    /// Lists timeline entries after sequence `after`, optionally only some kinds.
    pub async fn timeline(
        &self,
        complaint_id: &str,
        after: i64,
        kinds: &[EntryKind],
        limit: u32,
    ) -> Result<Vec<Entry>, StoreError> {
        let mut sql = String::from(
            "SELECT body FROM timeline_entries WHERE complaint_id = $1 AND sequence > $2",
        );
        let mut binds = vec![Bind::Text(complaint_id.to_owned()), Bind::Int(after)];
        if !kinds.is_empty() {
            sql.push_str(" AND kind IN (");
            for (i, k) in kinds.iter().enumerate() {
                binds.push(Bind::Text(k.code().to_owned()));
                if i > 0 {
                    sql.push_str(", ");
                }
                sql.push_str(&format!("${}", binds.len()));
            }
            sql.push(')');
        }
        binds.push(Bind::Int(i64::from(limit)));
        sql.push_str(&format!(" ORDER BY sequence LIMIT ${}", binds.len()));
        let rows = bind_all(sqlx::query(&sql), binds)
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| {
                let body: String = r.try_get(0)?;
                serde_json::from_str(&body).map_err(|e| corrupt(complaint_id, e))
            })
            .collect()
    }

    /// Ids of complaints whose next check is due and whose lease is free.
    pub async fn due_for_check(
        &self,
        now: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<String>, StoreError> {
        let now = now.timestamp_micros();
        let rows = sqlx::query(
            "SELECT id FROM complaints WHERE next_check_time > 0 AND next_check_time <= $1 \
             AND lease_until < $2 ORDER BY next_check_time LIMIT $3",
        )
        .bind(now)
        .bind(now)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(|r| Ok(r.try_get(0)?)).collect()
    }

    /// Claims a complaint for one watcher until `until`; false when another holds it.
    pub async fn claim(
        &self,
        id: &str,
        owner: &str,
        until: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let result = sqlx::query(
            "UPDATE complaints SET lease_owner = $1, lease_until = $2 WHERE id = $3 AND lease_until < $4",
        )
        .bind(owner)
        .bind(until.timestamp_micros())
        .bind(id)
        .bind(now.timestamp_micros())
        .execute(&self.pool)
        .await?;
        Ok(result.rows_affected() == 1)
    }

    /// Moves a complaint's next check after a check that changed nothing, unless someone
    /// saved a newer version meanwhile.
    pub async fn postpone(
        &self,
        id: &str,
        version: i64,
        next_check: Option<DateTime<Utc>>,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE complaints SET next_check_time = $1, lease_owner = '', lease_until = 0 \
             WHERE id = $2 AND version = $3",
        )
        .bind(to_micros_opt(next_check))
        .bind(id)
        .bind(version)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Ids of complaints created with defaulted customer facts, oldest first.
    pub async fn defaulted(&self, limit: u32) -> Result<Vec<String>, StoreError> {
        let rows = sqlx::query(
            "SELECT id FROM complaints WHERE defaulted = 1 ORDER BY create_time LIMIT $1",
        )
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(|r| Ok(r.try_get(0)?)).collect()
    }

    /// SLA events at or after `since` (stored microseconds, the stream's cursor), in
    /// (event_time, id) order.
    pub async fn sla_events_since(
        &self,
        since: i64,
        limit: u32,
    ) -> Result<Vec<SlaEvent>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, body FROM sla_events WHERE event_time >= $1 ORDER BY event_time, id LIMIT $2",
        )
        .bind(since)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                let id: String = r.try_get(0)?;
                let body: String = r.try_get(1)?;
                serde_json::from_str(&body).map_err(|e| corrupt(&id, e))
            })
            .collect()
    }

    /// The time of a stored SLA event, in stored microseconds (the stream's cursor).
    pub async fn sla_event_time(&self, id: &str) -> Result<Option<i64>, StoreError> {
        let row = sqlx::query("SELECT event_time FROM sla_events WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        Ok(match row {
            Some(r) => Some(r.try_get(0)?),
            None => None,
        })
    }

    /// The most recent complaints, for the SLA gauges.
    pub async fn recent(&self, limit: u32) -> Result<Vec<Complaint>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, body, version FROM complaints ORDER BY create_time DESC LIMIT $1",
        )
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(complaint_from_row).collect()
    }

    /// Records reply violations.
    pub async fn insert_violations(&self, rows: &[ViolationRow]) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        for v in rows {
            sqlx::query(
                "INSERT INTO reply_violations (id, agent_id, complaint_id, check_time, body) \
                 VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(&v.id)
            .bind(&v.agent_id)
            .bind(&v.complaint_id)
            .bind(v.check_time.timestamp_micros())
            .bind(&v.body)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Lists violations newest first, before `before` (keyset).
    pub async fn list_violations(
        &self,
        agent_id: &str,
        complaint_id: &str,
        start: Option<DateTime<Utc>>,
        end: Option<DateTime<Utc>>,
        before: Option<&Cursor>,
        limit: u32,
    ) -> Result<Vec<ViolationRow>, StoreError> {
        let mut sql = String::from(
            "SELECT id, agent_id, complaint_id, check_time, body FROM reply_violations WHERE 1 = 1",
        );
        let mut binds = Vec::new();
        let mut param = |sql: &mut String, clause: &str, value: Bind| {
            binds.push(value);
            sql.push_str(&clause.replace("$?", &format!("${}", binds.len())));
        };
        if !agent_id.is_empty() {
            param(
                &mut sql,
                " AND agent_id = $?",
                Bind::Text(agent_id.to_owned()),
            );
        }
        if !complaint_id.is_empty() {
            param(
                &mut sql,
                " AND complaint_id = $?",
                Bind::Text(complaint_id.to_owned()),
            );
        }
        if let Some(start) = start {
            param(
                &mut sql,
                " AND check_time >= $?",
                Bind::Int(start.timestamp_micros()),
            );
        }
        if let Some(end) = end {
            param(
                &mut sql,
                " AND check_time < $?",
                Bind::Int(end.timestamp_micros()),
            );
        }
        if let Some(c) = before {
            param(&mut sql, " AND (check_time < $?", Bind::Int(c.key));
            param(&mut sql, " OR (check_time = $?", Bind::Int(c.key));
            param(&mut sql, " AND id < $?))", Bind::Text(c.id.clone()));
        }
        param(
            &mut sql,
            " ORDER BY check_time DESC, id DESC LIMIT $?",
            Bind::Int(i64::from(limit)),
        );
        let rows = bind_all(sqlx::query(&sql), binds)
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| {
                Ok(ViolationRow {
                    id: r.try_get(0)?,
                    agent_id: r.try_get(1)?,
                    complaint_id: r.try_get(2)?,
                    check_time: from_micros(r.try_get(3)?),
                    body: r.try_get(4)?,
                })
            })
            .collect()
    }

    /// Number of escalations recorded for a complaint (exactly-once checks in tests).
    pub async fn escalation_keys(&self, complaint_id: &str) -> Result<i64, StoreError> {
        let row = sqlx::query("SELECT COUNT(*) FROM sla_escalations WHERE complaint_id = $1")
            .bind(complaint_id)
            .fetch_one(&self.pool)
            .await?;
        Ok(row.try_get(0)?)
    }
}

fn bind_all<'q>(
    mut query: sqlx::query::Query<'q, Any, sqlx::any::AnyArguments<'q>>,
    binds: Vec<Bind>,
) -> sqlx::query::Query<'q, Any, sqlx::any::AnyArguments<'q>> {
    for bind in binds {
        query = match bind {
            Bind::Text(text) => query.bind(text),
            Bind::Int(int) => query.bind(int),
        };
    }
    query
}

/// Writes what a change produced; returns how many outbox events it wrote.
async fn write_pending(
    tx: &mut Transaction<'_, Any>,
    c: &mut Complaint,
) -> Result<usize, StoreError> {
    let (entries, events, outbox, _guards) = c.take_pending();
    for e in &entries {
        sqlx::query(
            "INSERT INTO timeline_entries (complaint_id, sequence, id, kind, create_time, body) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(&e.complaint_id)
        .bind(e.sequence)
        .bind(&e.id)
        .bind(e.details.kind().code())
        .bind(e.time.timestamp_micros())
        .bind(to_json(e))
        .execute(&mut **tx)
        .await?;
    }
    for e in &events {
        sqlx::query(
            "INSERT INTO sla_events (id, complaint_id, event_time, body) VALUES ($1, $2, $3, $4)",
        )
        .bind(&e.id)
        .bind(&e.complaint_id)
        .bind(e.time.timestamp_micros())
        .bind(to_json(e))
        .execute(&mut **tx)
        .await?;
    }
    for OutboxEvent { id, event } in &outbox {
        let row = NewEvent {
            id: id.clone(),
            destination: event.destination(),
            kind: event.kind(),
            aggregate_id: c.id.clone(),
            payload: to_json(event),
        };
        outbox::write(&mut *tx, &row, c.update_time.timestamp_micros()).await?;
    }
    // Keep the events so the caller can publish them after the commit.
    c.pending_sla = events;
    Ok(outbox.len())
}
