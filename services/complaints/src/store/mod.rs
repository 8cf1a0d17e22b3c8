//! Storage of complaints, their timeline, SLA events, outbox and reply violations, on SQLite
//! or PostgreSQL through `sqlx::Any`: one method per query. Only this module speaks SQL;
//! `rows` maps what it reads to the domain.
//!
//! A complaint is saved with the effects of its change (timeline entries, SLA events, outbox
//! events, escalation keys), its retry key and its audit entry in one transaction guarded by
//! its version.
//!
//! Time columns hold microseconds since the epoch (0 for unset); methods take and return
//! `DateTime<Utc>` and `Option` and convert here. Only the SLA stream's cursor over
//! `sla_events.event_time` stays in stored microseconds.

mod effects;
mod rows;
mod violations;

use std::sync::Arc;

use chrono::{DateTime, Utc};
use csops_observability::TraceHeaders;
use csops_runtime::audit;
pub use csops_runtime::db::StoreError;
use csops_runtime::db::Traced as _;
use csops_runtime::idempotency::{self, Key, Recorded};
pub use csops_runtime::paging::Cursor;
use csops_runtime::sql::{self, Sql, Value};
use csops_runtime::time::to_micros_opt;
use csops_runtime::wake::{self, Wake};
use csops_runtime::{db, Error};
use sqlx::{Any, AnyPool, Transaction};
use tokio::sync::Notify;
use tracing::Span;

use crate::domain::{Complaint, Effects, Entry, EntryKind, SlaEvent, SlaState};
pub use effects::CheckedChange;
use effects::{write_batch_effects, write_effects};
pub use violations::ViolationRecord;

/// The kinds of record the audit log names.
const COMPLAINT: &str = "complaint";
use rows::{
    ComplaintRow, DueRow, EntryRow, SlaEventRow, COMPLAINT_COLUMNS, DUE_COLUMNS, ENTRY_COLUMNS,
    SLA_EVENT_COLUMNS,
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

/// A complaint the breach watcher checked without change: its next check moves out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Postponed {
    /// Complaint id.
    pub id: String,
    /// The version the check read (a newer one is left alone).
    pub version: i64,
    /// Its next check (`None`: nothing left to watch).
    pub next_check: Option<DateTime<Utc>>,
}

/// Result of saving a watcher batch.
#[derive(Debug, PartialEq, Eq)]
pub enum BatchSaved {
    /// Committed: the complaints written (the others were saved by someone else since the
    /// check read them) and how many SLA events they recorded.
    Written {
        /// Ids of the complaints written.
        ids: Vec<String>,
        /// SLA events recorded (the SLA streams wait for these).
        sla_events: usize,
    },
    /// An escalation of the batch was recorded before (by another watcher): nothing written.
    EscalatedBefore,
}

/// Complaint storage over a shared pool.
#[derive(Debug, Clone)]
pub struct Store {
    pool: AnyPool,
    system: &'static str,
    /// Woken after a commit that wrote outbox events, so the relay sends them at once.
    outbox_written: Arc<Notify>,
    /// The breach watcher's sleep, brought forward by a commit that schedules a check
    /// sooner than it planned to wake.
    checks: Arc<Wake>,
    /// On PostgreSQL, a change whose next check is closer than this (the watchers' longest
    /// sleep) announces it to the other replicas' watchers ([`CHECKS_CHANNEL`]).
    announce_within: Option<chrono::TimeDelta>,
}

/// The PostgreSQL channel on which a change announces a check due soon to every replica's
/// breach watcher (`runtime::wake::listen`).
pub const CHECKS_CHANNEL: &str = "csops_complaints_checks";

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
            checks: Arc::default(),
            announce_within: None,
        }
    }

    /// On PostgreSQL, announces each check a change schedules within `longest_sleep` to the
    /// other replicas' watchers (which sleep up to that long), in the change's transaction.
    pub fn announcing_checks_within(mut self, longest_sleep: std::time::Duration) -> Self {
        if self.system == "postgresql" {
            self.announce_within = chrono::TimeDelta::from_std(longest_sleep).ok();
        }
        self
    }

    /// The breach watcher's sleep: every insert and save that sets a complaint's next check
    /// tells it (after commit), so a check due sooner than planned wakes it.
    pub fn checks(&self) -> &Arc<Wake> {
        &self.checks
    }

    /// Announces `next_check` to the other replicas when it is due within their longest sleep.
    async fn announce(
        &self,
        tx: &mut Transaction<'_, Any>,
        next_check: Option<DateTime<Utc>>,
    ) -> Result<(), StoreError> {
        match (self.announce_within, next_check) {
            (Some(within), Some(at)) if at < csops_runtime::time::now() + within => {
                wake::announce(tx, CHECKS_CHANNEL, at).await
            }
            _ => Ok(()),
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
        audit::record(&mut tx, COMPLAINT, &c.id, c.update_time.timestamp_micros()).await?;
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
            self.announce(&mut tx, next_check).await?;
            let sla_events = self.commit(tx, c, effects).await?;
            self.checks.scheduled(next_check);
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
            self.announce(&mut tx, next_check).await?;
            let sla_events = self.commit(tx, c, effects).await?;
            self.checks.scheduled(next_check);
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

    /// Claims up to `limit` complaints whose next check is due and whose lease is free, for
    /// `owner` until `until`, in one statement, and returns them with the trace context of the
    /// call that created each (the watcher's check continues that trace). On PostgreSQL the
    /// claim skips rows another replica is claiming (`FOR UPDATE SKIP LOCKED`), so replicas
    /// share a backlog without waiting on each other. A row that does not read back as a
    /// complaint is logged and left leased (its lease runs out; a later sweep meets it again).
    pub async fn claim_due(
        &self,
        now: DateTime<Utc>,
        owner: &str,
        until: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<(Complaint, TraceHeaders)>, StoreError> {
        let lock = if self.system == "postgresql" {
            " FOR UPDATE SKIP LOCKED"
        } else {
            ""
        };
        async {
            let mut conn = db::acquire(&self.pool).await?;
            let now = now.timestamp_micros();
            let rows: Vec<DueRow> = sqlx::query_as(&format!(
                "UPDATE complaints SET lease_owner = $1, lease_until = $2 \
                 WHERE id IN (SELECT id FROM complaints \
                 WHERE next_check_time > 0 AND next_check_time <= $3 AND lease_until < $3 \
                 ORDER BY next_check_time LIMIT $4{lock}) AND lease_until < $3 \
                 RETURNING {DUE_COLUMNS}"
            ))
            .bind(owner)
            .bind(until.timestamp_micros())
            .bind(now)
            .bind(i64::from(limit))
            .fetch_all(&mut *conn)
            .await?;
            db::returned_rows(rows.len());
            Ok(rows
                .into_iter()
                .filter_map(|row| match row.into_complaint() {
                    Ok(due) => Some(due),
                    Err(error) => {
                        tracing::warn!(
                            error = &error as &dyn std::error::Error,
                            "due complaint unreadable; left for a later sweep"
                        );
                        None
                    }
                })
                .collect())
        }
        .traced(self.span("UPDATE", "complaints", "complaints.claim_due"))
        .await
    }

    /// The earliest next check among complaints no one holds, if any: when the watcher has
    /// work again.
    pub async fn next_due(&self, now: DateTime<Utc>) -> Result<Option<DateTime<Utc>>, StoreError> {
        async {
            let mut conn = db::acquire(&self.pool).await?;
            let (earliest,): (Option<i64>,) = sqlx::query_as(
                "SELECT MIN(next_check_time) FROM complaints \
                 WHERE next_check_time > 0 AND lease_until < $1",
            )
            .bind(now.timestamp_micros())
            .fetch_one(&mut *conn)
            .await?;
            Ok(earliest.and_then(csops_runtime::time::from_micros_opt))
        }
        .traced(self.span("SELECT", "complaints", "complaints.next_due"))
        .await
    }

    /// Moves the next check of complaints checked without change and frees their lease, in
    /// one statement; a complaint someone saved meanwhile (its version moved) is left alone.
    pub async fn postpone_many(&self, checks: &[Postponed]) -> Result<(), StoreError> {
        if checks.is_empty() {
            return Ok(());
        }
        async {
            let mut conn = db::acquire(&self.pool).await?;
            for chunk in checks.chunks(sql::rows_per_statement(3)) {
                let mut statement = Sql::new(
                    "UPDATE complaints SET next_check_time = v.column3, lease_owner = '', \
                     lease_until = 0 FROM (VALUES ",
                );
                for (i, check) in chunk.iter().enumerate() {
                    statement.tuple(
                        i == 0,
                        [
                            Value::from(check.id.as_str()),
                            Value::from(check.version),
                            Value::from(to_micros_opt(check.next_check)),
                        ],
                    );
                }
                statement.push(
                    ") AS v WHERE complaints.id = v.column1 AND complaints.version = v.column2",
                );
                statement.query().execute(&mut *conn).await?;
            }
            Ok(())
        }
        .traced(self.span("UPDATE", "complaints", "complaints.postpone_many"))
        .await
    }

    /// Saves the complaints a watcher batch changed, with the effects of each change, in one
    /// transaction of one multi-row statement per table. A complaint someone saved since the
    /// check read it (its version moved) is left out with its effects; the ids written are
    /// returned with how many SLA events they recorded. When an escalation key of the batch
    /// was recorded before (another watcher escalated first) nothing is written
    /// (`EscalatedBefore`): the caller saves the batch one complaint at a time.
    pub async fn save_checked(
        &self,
        changes: &[CheckedChange<'_>],
    ) -> Result<BatchSaved, StoreError> {
        if changes.is_empty() {
            return Ok(BatchSaved::Written {
                ids: Vec::new(),
                sla_events: 0,
            });
        }
        async {
            let mut tx = db::begin(&self.pool).await?;
            let mut written = std::collections::HashSet::new();
            for chunk in changes.chunks(sql::rows_per_statement(14)) {
                let mut statement = Sql::new(
                    "UPDATE complaints SET state = v.column3, nature = v.column4, \
                     severity = v.column5, assigned_agent_id = v.column6, \
                     escalation_level = v.column7, sla_state = v.column8, defaulted = v.column9, \
                     next_check_time = v.column10, lease_owner = '', lease_until = 0, \
                     body = v.column11, version = v.column12, update_time = v.column13, \
                     accountable_agent_id = v.column14 FROM (VALUES ",
                );
                for (i, change) in chunk.iter().enumerate() {
                    let c = change.complaint;
                    statement.tuple(
                        i == 0,
                        [
                            Value::from(c.id.as_str()),
                            Value::from(change.read_version),
                            Value::from(c.state.code()),
                            Value::from(c.nature.code()),
                            Value::from(c.severity.code()),
                            Value::from(c.assigned_agent_id.as_str()),
                            Value::from(c.escalation_level.code()),
                            Value::from(change.sla_state.code()),
                            Value::from(i64::from(c.customer.defaulted)),
                            Value::from(to_micros_opt(change.next_check)),
                            Value::from(to_json(c)),
                            Value::from(c.version),
                            Value::from(c.update_time.timestamp_micros()),
                            Value::from(c.accountable_agent_id.as_str()),
                        ],
                    );
                }
                statement.push(
                    ") AS v WHERE complaints.id = v.column1 AND complaints.version = v.column2 \
                     RETURNING id",
                );
                let ids: Vec<(String,)> = statement.query_as().fetch_all(&mut *tx).await?;
                written.extend(ids.into_iter().map(|(id,)| id));
            }
            let saved: Vec<&CheckedChange<'_>> = changes
                .iter()
                .filter(|change| written.contains(&change.complaint.id))
                .collect();
            if !write_batch_effects(&mut tx, &saved).await? {
                return Ok(BatchSaved::EscalatedBefore);
            }
            let ids: Vec<&str> = saved.iter().map(|c| c.complaint.id.as_str()).collect();
            let now = saved
                .iter()
                .map(|c| c.complaint.update_time.timestamp_micros())
                .max()
                .unwrap_or_default();
            audit::record_many(&mut tx, COMPLAINT, &ids, now).await?;
            tx.commit().await?;
            if saved.iter().any(|change| !change.effects.outbox.is_empty()) {
                self.outbox_written.notify_one();
            }
            db::returned_rows(saved.len());
            let sla_events = saved.iter().map(|c| c.effects.sla_events.len()).sum();
            let ids = saved.iter().map(|c| c.complaint.id.clone()).collect();
            Ok(BatchSaved::Written { ids, sla_events })
        }
        .traced(self.span("UPDATE", "complaints", "complaints.save_checked"))
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
}
