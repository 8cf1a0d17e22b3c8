//! Storage of complaints, their timeline, SLA events, outbox and reply violations, on SQLite
//! or PostgreSQL through `sqlx::Any`: one method per query. Only this module speaks SQL;
//! `rows` maps what it reads to the domain.
//!
//! A complaint is saved with the effects of its change (timeline entries, SLA events, outbox
//! events, escalation keys) and its retry key in one transaction guarded by its version.
//!
//! Time columns hold microseconds since the epoch (0 for unset); methods take and return
//! `DateTime<Utc>` and `Option` and convert here. Only the SLA stream's cursor over
//! `sla_events.event_time` stays in stored microseconds.

mod rows;

use std::sync::Arc;

use chrono::{DateTime, Utc};
use csops_observability::TraceHeaders;
pub use csops_runtime::db::StoreError;
use csops_runtime::db::Traced as _;
use csops_runtime::idempotency::{self, Key, Recorded};
use csops_runtime::outbox::{self, NewEvent};
pub use csops_runtime::paging::Cursor;
use csops_runtime::sql::Sql;
use csops_runtime::time::to_micros_opt;
use csops_runtime::{db, Error};
use sqlx::{Any, AnyPool, Transaction};
use tokio::sync::Notify;
use tracing::Span;

use crate::domain::{Complaint, Effects, Entry, EntryKind, OutboxEvent, SlaEvent, SlaState};
use rows::{
    ComplaintRow, EntryRow, SlaEventRow, ViolationRow, COMPLAINT_COLUMNS, ENTRY_COLUMNS,
    SLA_EVENT_COLUMNS, VIOLATION_COLUMNS,
};

/// Where a page of defaulted complaints ended: one complaint's stored create time and id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DefaultedCursor {
    /// Stored create time (microseconds).
    pub create_time: i64,
    /// Complaint id.
    pub id: String,
}

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
    /// Accountable owner (首问负责).
    pub accountable_agent_id: Option<String>,
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
#[derive(Debug, PartialEq, Eq)]
pub enum Inserted {
    /// Created with its effects, `sla_events` of which were SLA events.
    Created {
        /// SLA events recorded (the SLA streams wait for these).
        sla_events: usize,
    },
    /// The retry key was recorded before: nothing was written.
    Replayed,
}

/// Result of a save guarded by the version read.
#[derive(Debug, PartialEq, Eq)]
pub enum Saved {
    /// Committed with its effects, `sla_events` of which were SLA events.
    Written {
        /// SLA events recorded (the SLA streams wait for these).
        sla_events: usize,
    },
    /// Someone saved a newer version first: nothing was written.
    Stale,
}

/// A recorded reply violation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ViolationRecord {
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

/// Complaint storage over a shared pool.
#[derive(Debug, Clone)]
pub struct Store {
    pool: AnyPool,
    system: &'static str,
    /// Woken after a commit that wrote outbox events, so the relay sends them at once.
    outbox_written: Arc<Notify>,
}

fn to_json<T: serde::Serialize>(value: &T) -> String {
    // Serialising plain data structs to a String cannot fail.
    serde_json::to_string(value).unwrap_or_default()
}

impl Store {
    /// Wraps a pool whose database has the complaints migrations applied.
    pub fn new(pool: AnyPool, outbox_written: Arc<Notify>) -> Self {
        Self {
            system: db::system(&pool),
            pool,
            outbox_written,
        }
    }

    /// The span of one store call (the kit's database span).
    fn span(&self, operation: &'static str, collection: &'static str, name: &'static str) -> Span {
        db::span(self.system, operation, collection, name)
    }

    /// Writes a change's effects and commits; wakes the relay when they held outbox events.
    /// Returns how many SLA events were recorded.
    async fn commit(
        &self,
        mut tx: Transaction<'_, Any>,
        c: &Complaint,
        effects: &Effects,
    ) -> Result<usize, StoreError> {
        write_effects(&mut tx, c, effects).await?;
        tx.commit().await?;
        if !effects.outbox.is_empty() {
            self.outbox_written.notify_one();
        }
        Ok(effects.sla_events.len())
    }

    /// Returns what the first call with `key` produced, if it ran (ALREADY_EXISTS when the
    /// key came with another request).
    pub async fn replay(&self, key: &Key) -> Result<Option<Recorded>, Error> {
        idempotency::find(&self.pool, key).await
    }

    /// Inserts a new complaint with the effects of its creation and its retry key, unless the
    /// key was recorded before.
    pub async fn insert(
        &self,
        c: &Complaint,
        effects: &Effects,
        key: &Key,
        sla_state: SlaState,
        next_check: Option<DateTime<Utc>>,
    ) -> Result<Inserted, StoreError> {
        let trace = TraceHeaders::current();
        async {
            let mut tx = db::begin(&self.pool).await?;
            let produced = Recorded {
                resource_id: c.id.clone(),
                ref_id: c.id.clone(),
            };
            match idempotency::record(&mut tx, key, &produced, c.create_time.timestamp_micros())
                .await
            {
                Ok(()) => {}
                Err(StoreError::Duplicate(_)) => return Ok(Inserted::Replayed),
                Err(e) => return Err(e),
            }
            sqlx::query(
                "INSERT INTO complaints (id, customer_id, state, nature, severity, \
             assigned_agent_id, escalation_level, sla_state, defaulted, next_check_time, \
             lease_owner, lease_until, body, version, create_time, update_time, \
             accountable_agent_id, traceparent, tracestate) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, '', 0, $11, $12, $13, $14, $15, \
             $16, $17)",
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
            .bind(to_json(c))
            .bind(c.version)
            .bind(c.create_time.timestamp_micros())
            .bind(c.update_time.timestamp_micros())
            .bind(&c.accountable_agent_id)
            .bind(&trace.traceparent)
            .bind(&trace.tracestate)
            .execute(&mut *tx)
            .await?;
            let sla_events = self.commit(tx, c, effects).await?;
            Ok(Inserted::Created { sla_events })
        }
        .traced(self.span("INSERT", "complaints", "complaints.insert"))
        .await
    }

    /// Returns a complaint by id.
    pub async fn get(&self, id: &str) -> Result<Option<Complaint>, StoreError> {
        async {
            let mut conn = db::acquire(&self.pool).await?;
            let row: Option<ComplaintRow> = sqlx::query_as(&format!(
                "SELECT {COMPLAINT_COLUMNS} FROM complaints WHERE id = $1"
            ))
            .bind(id)
            .fetch_optional(&mut *conn)
            .await?;
            row.map(Complaint::try_from).transpose()
        }
        .traced(self.span("SELECT", "complaints", "complaints.get"))
        .await
    }

    /// Writes a changed complaint with the effects of its change (and the retry key of the
    /// request that made it), if nobody changed it since `expected_version`; `Stale` when
    /// someone did (nothing is written then). A claimed retry key or escalation key that
    /// already exists fails with `Duplicate`.
    pub async fn save(
        &self,
        c: &Complaint,
        effects: &Effects,
        expected_version: i64,
        request: Option<(&Key, &str)>,
        sla_state: SlaState,
        next_check: Option<DateTime<Utc>>,
    ) -> Result<Saved, StoreError> {
        // The change's span (its RPC, or a watcher check) links to the trace of the call that
        // created the complaint, so its whole life can be followed from that one trace.
        let caller = Span::current();
        async {
            let mut tx = db::begin(&self.pool).await?;
            let created: Option<(String, String)> = sqlx::query_as(
                "UPDATE complaints SET state = $1, nature = $2, severity = $3, \
                 assigned_agent_id = $4, escalation_level = $5, sla_state = $6, defaulted = $7, \
                 next_check_time = $8, lease_owner = '', lease_until = 0, body = $9, \
                 version = $10, update_time = $11, accountable_agent_id = $14 \
                 WHERE id = $12 AND version = $13 RETURNING traceparent, tracestate",
            )
            .bind(c.state.code())
            .bind(c.nature.code())
            .bind(c.severity.code())
            .bind(&c.assigned_agent_id)
            .bind(c.escalation_level.code())
            .bind(sla_state.code())
            .bind(i64::from(c.customer.defaulted))
            .bind(to_micros_opt(next_check))
            .bind(to_json(c))
            .bind(c.version)
            .bind(c.update_time.timestamp_micros())
            .bind(&c.id)
            .bind(expected_version)
            .bind(&c.accountable_agent_id)
            .fetch_optional(&mut *tx)
            .await?;
            let Some((traceparent, tracestate)) = created else {
                return Ok(Saved::Stale);
            };
            let created = TraceHeaders {
                traceparent,
                tracestate,
            };
            if !created.same_trace(&TraceHeaders::of(&caller)) {
                created.link_from(&caller);
            }
            if let Some((key, ref_id)) = request {
                let produced = Recorded {
                    resource_id: c.id.clone(),
                    ref_id: ref_id.to_owned(),
                };
                idempotency::record(&mut tx, key, &produced, c.update_time.timestamp_micros())
                    .await?;
            }
            let sla_events = self.commit(tx, c, effects).await?;
            Ok(Saved::Written { sla_events })
        }
        .traced(self.span("UPDATE", "complaints", "complaints.save"))
        .await
    }

    /// Lists complaints in (create_time, id) order after `after`.
    pub async fn list(
        &self,
        filter: &ListFilter,
        after: Option<&Cursor>,
        limit: u32,
    ) -> Result<Vec<Complaint>, StoreError> {
        async {
            let mut conn = db::acquire(&self.pool).await?;
            let ListFilter {
                states,
                natures,
                severities,
                assigned_agent_id,
                unassigned,
                accountable_agent_id,
                customer_id,
                sla_states,
                create_time_start,
                create_time_end,
                escalation_level,
            } = filter;
            let mut sql = Sql::new(&format!(
                "SELECT {COMPLAINT_COLUMNS} FROM complaints WHERE 1 = 1"
            ));
            sql.and_in("state", states)
                .and_in("nature", natures)
                .and_in("severity", severities)
                .and_in("sla_state", sla_states);
            if let Some(level) = escalation_level {
                sql.bind(" AND escalation_level = $?", level.as_str());
            }
            if *unassigned {
                sql.bind(" AND assigned_agent_id = $?", "");
            } else if let Some(agent) = assigned_agent_id {
                sql.bind(" AND assigned_agent_id = $?", agent.as_str());
            }
            if let Some(owner) = accountable_agent_id {
                sql.bind(" AND accountable_agent_id = $?", owner.as_str());
            }
            if let Some(customer) = customer_id {
                sql.bind(" AND customer_id = $?", customer.as_str());
            }
            if let Some(start) = create_time_start {
                sql.bind(" AND create_time >= $?", start.timestamp_micros());
            }
            if let Some(end) = create_time_end {
                sql.bind(" AND create_time < $?", end.timestamp_micros());
            }
            if let Some(cursor) = after {
                sql.after("create_time", cursor.key, cursor.id.as_str());
            }
            sql.bind(" ORDER BY create_time, id LIMIT $?", i64::from(limit));
            let rows: Vec<ComplaintRow> = sql.query_as().fetch_all(&mut *conn).await?;
            db::returned_rows(rows.len());
            rows.into_iter().map(Complaint::try_from).collect()
        }
        .traced(self.span("SELECT", "complaints", "complaints.list"))
        .await
    }

    /// Lists timeline entries after sequence `after`, optionally only some kinds.
    pub async fn timeline(
        &self,
        complaint_id: &str,
        after: i64,
        kinds: &[EntryKind],
        limit: u32,
    ) -> Result<Vec<Entry>, StoreError> {
        async {
            let mut conn = db::acquire(&self.pool).await?;
            let kinds: Vec<&str> = kinds.iter().map(|k| k.code()).collect();
            let mut sql = Sql::new(&format!("SELECT {ENTRY_COLUMNS} FROM timeline_entries"));
            sql.bind(" WHERE complaint_id = $?", complaint_id)
                .bind(" AND sequence > $?", after)
                .and_in("kind", &kinds)
                .bind(" ORDER BY sequence LIMIT $?", i64::from(limit));
            let rows: Vec<EntryRow> = sql.query_as().fetch_all(&mut *conn).await?;
            db::returned_rows(rows.len());
            rows.into_iter().map(Entry::try_from).collect()
        }
        .traced(self.span("SELECT", "timeline_entries", "complaints.timeline"))
        .await
    }

    /// Complaints whose next check is due and whose lease is free: their ids and the trace
    /// context of the call that created them (the watcher's check continues that trace).
    pub async fn due_for_check(
        &self,
        now: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<(String, TraceHeaders)>, StoreError> {
        async {
            let mut conn = db::acquire(&self.pool).await?;
            let now = now.timestamp_micros();
            let rows: Vec<(String, String, String)> = sqlx::query_as(
                "SELECT id, traceparent, tracestate FROM complaints \
                 WHERE next_check_time > 0 AND next_check_time <= $1 \
                 AND lease_until < $2 ORDER BY next_check_time LIMIT $3",
            )
            .bind(now)
            .bind(now)
            .bind(i64::from(limit))
            .fetch_all(&mut *conn)
            .await?;
            db::returned_rows(rows.len());
            Ok(rows
                .into_iter()
                .map(|(id, traceparent, tracestate)| {
                    (
                        id,
                        TraceHeaders {
                            traceparent,
                            tracestate,
                        },
                    )
                })
                .collect())
        }
        .traced(self.span("SELECT", "complaints", "complaints.due_for_check"))
        .await
    }

    /// Claims a complaint for one watcher until `until`; false when another holds it.
    pub async fn claim(
        &self,
        id: &str,
        owner: &str,
        until: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        async {
            let mut conn = db::acquire(&self.pool).await?;
            let result = sqlx::query(
                "UPDATE complaints SET lease_owner = $1, lease_until = $2 \
             WHERE id = $3 AND lease_until < $4",
            )
            .bind(owner)
            .bind(until.timestamp_micros())
            .bind(id)
            .bind(now.timestamp_micros())
            .execute(&mut *conn)
            .await?;
            Ok(result.rows_affected() == 1)
        }
        .traced(self.span("UPDATE", "complaints", "complaints.claim"))
        .await
    }

    /// Moves a complaint's next check after a check that changed nothing, unless someone
    /// saved a newer version meanwhile.
    pub async fn postpone(
        &self,
        id: &str,
        version: i64,
        next_check: Option<DateTime<Utc>>,
    ) -> Result<(), StoreError> {
        async {
            let mut conn = db::acquire(&self.pool).await?;
            sqlx::query(
                "UPDATE complaints SET next_check_time = $1, lease_owner = '', lease_until = 0 \
             WHERE id = $2 AND version = $3",
            )
            .bind(to_micros_opt(next_check))
            .bind(id)
            .bind(version)
            .execute(&mut *conn)
            .await?;
            Ok(())
        }
        .traced(self.span("UPDATE", "complaints", "complaints.postpone"))
        .await
    }

    /// Complaints created with defaulted customer facts, oldest first, after `after` (the
    /// `(create_time, id)` of the last one of the previous page): their ids and cursors.
    pub async fn defaulted(
        &self,
        after: Option<&DefaultedCursor>,
        limit: u32,
    ) -> Result<Vec<DefaultedCursor>, StoreError> {
        async {
            let mut conn = db::acquire(&self.pool).await?;
            let (time, id) = after.map_or((i64::MIN, ""), |c| (c.create_time, c.id.as_str()));
            let rows: Vec<(i64, String)> = sqlx::query_as(
                "SELECT create_time, id FROM complaints WHERE defaulted = 1 \
             AND (create_time, id) > ($1, $2) \
             ORDER BY create_time, id LIMIT $3",
            )
            .bind(time)
            .bind(id)
            .bind(i64::from(limit))
            .fetch_all(&mut *conn)
            .await?;
            Ok(rows
                .into_iter()
                .map(|(create_time, id)| DefaultedCursor { create_time, id })
                .collect())
        }
        .traced(self.span("SELECT", "complaints", "complaints.defaulted"))
        .await
    }

    /// SLA events at or after `since` (stored microseconds, the stream's cursor), in
    /// (event_time, id) order.
    pub async fn sla_events_since(
        &self,
        since: i64,
        limit: u32,
    ) -> Result<Vec<SlaEvent>, StoreError> {
        async {
            let mut conn = db::acquire(&self.pool).await?;
            let rows: Vec<SlaEventRow> = sqlx::query_as(&format!(
                "SELECT {SLA_EVENT_COLUMNS} FROM sla_events WHERE event_time >= $1 \
             ORDER BY event_time, id LIMIT $2"
            ))
            .bind(since)
            .bind(i64::from(limit))
            .fetch_all(&mut *conn)
            .await?;
            rows.into_iter().map(SlaEvent::try_from).collect()
        }
        .traced(self.span("SELECT", "sla_events", "complaints.sla_events_since"))
        .await
    }

    /// The time of a stored SLA event, in stored microseconds (the stream's cursor).
    pub async fn sla_event_time(&self, id: &str) -> Result<Option<i64>, StoreError> {
        async {
            let mut conn = db::acquire(&self.pool).await?;
            Ok(
                sqlx::query_scalar("SELECT event_time FROM sla_events WHERE id = $1")
                    .bind(id)
                    .fetch_optional(&mut *conn)
                    .await?,
            )
        }
        .traced(self.span("SELECT", "sla_events", "complaints.sla_event_time"))
        .await
    }

    /// The most recent complaints, for the SLA gauges.
    pub async fn recent(&self, limit: u32) -> Result<Vec<Complaint>, StoreError> {
        async {
            let mut conn = db::acquire(&self.pool).await?;
            let rows: Vec<ComplaintRow> = sqlx::query_as(&format!(
                "SELECT {COMPLAINT_COLUMNS} FROM complaints ORDER BY create_time DESC LIMIT $1"
            ))
            .bind(i64::from(limit))
            .fetch_all(&mut *conn)
            .await?;
            rows.into_iter().map(Complaint::try_from).collect()
        }
        .traced(self.span("SELECT", "complaints", "complaints.recent"))
        .await
    }

    /// Records reply violations.
    pub async fn insert_violations(&self, records: &[ViolationRecord]) -> Result<(), StoreError> {
        async {
            let mut tx = db::begin(&self.pool).await?;
            for v in records {
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
        .traced(self.span("INSERT", "reply_violations", "complaints.insert_violations"))
        .await
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
    ) -> Result<Vec<ViolationRecord>, StoreError> {
        async {
            let mut conn = db::acquire(&self.pool).await?;
            let mut sql = Sql::new(&format!(
                "SELECT {VIOLATION_COLUMNS} FROM reply_violations WHERE 1 = 1"
            ));
            if !agent_id.is_empty() {
                sql.bind(" AND agent_id = $?", agent_id);
            }
            if !complaint_id.is_empty() {
                sql.bind(" AND complaint_id = $?", complaint_id);
            }
            if let Some(start) = start {
                sql.bind(" AND check_time >= $?", start.timestamp_micros());
            }
            if let Some(end) = end {
                sql.bind(" AND check_time < $?", end.timestamp_micros());
            }
            if let Some(c) = before {
                sql.before("check_time", c.key, c.id.as_str());
            }
            sql.bind(
                " ORDER BY check_time DESC, id DESC LIMIT $?",
                i64::from(limit),
            );
            let rows: Vec<ViolationRow> = sql.query_as().fetch_all(&mut *conn).await?;
            db::returned_rows(rows.len());
            Ok(rows.into_iter().map(ViolationRecord::from).collect())
        }
        .traced(self.span("SELECT", "reply_violations", "complaints.list_violations"))
        .await
    }
}

/// Writes the effects of a change of `c`: its exactly-once escalation keys first (a duplicate
/// fails the transaction before anything else is written), then its timeline entries, SLA
/// events and outbox events.
async fn write_effects(
    tx: &mut Transaction<'_, Any>,
    c: &Complaint,
    effects: &Effects,
) -> Result<(), StoreError> {
    let Effects {
        entries,
        sla_events,
        outbox,
        escalation_keys,
    } = effects;
    let time = c.update_time.timestamp_micros();
    for key in escalation_keys {
        sqlx::query(
            "INSERT INTO sla_escalations (complaint_id, subject_id, escalation_level, create_time) \
             VALUES ($1, $2, $3, $4)",
        )
        .bind(&c.id)
        .bind(&key.subject)
        .bind(key.level.code())
        .bind(time)
        .execute(&mut **tx)
        .await?;
    }
    for e in entries {
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
    for e in sla_events {
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
    for OutboxEvent { id, event } in outbox {
        let row = NewEvent {
            id: id.clone(),
            destination: event.destination(),
            kind: event.kind(),
            aggregate_id: c.id.clone(),
            payload: to_json(event),
        };
        outbox::write(tx, &row, time).await?;
    }
    Ok(())
}
