//! The rows a change's effects add (escalation keys, timeline entries, SLA events, outbox
//! events), written with one multi-row statement per table: for one change
//! ([`write_effects`]) or for a breach watcher batch ([`write_batch_effects`]).

use chrono::{DateTime, Utc};
use csops_observability::TraceHeaders;
use csops_runtime::db::StoreError;
use csops_runtime::outbox::{self, NewEvent};
use csops_runtime::sql::{self, Sql, Value};
use sqlx::{Any, Transaction};

use super::to_json;
use crate::domain::{Complaint, Effects, OutboxEvent, SlaState};

/// A complaint a watcher batch changed, to save with the effects of its change.
#[derive(Debug)]
pub struct CheckedChange<'a> {
    /// The complaint as changed (its version already moved on).
    pub complaint: &'a Complaint,
    /// What the change caused.
    pub effects: &'a Effects,
    /// The version the check read: the save's guard.
    pub read_version: i64,
    /// Its SLA state after the change.
    pub sla_state: SlaState,
    /// Its next check.
    pub next_check: Option<DateTime<Utc>>,
    /// The context of the complaint's check span: its outbox events continue that trace.
    pub trace: TraceHeaders,
}

/// Writes the effects of a change of `c` with one multi-row statement per table: its
/// exactly-once escalation keys first (a duplicate fails with `Duplicate` before anything else
/// is written), then its timeline entries, SLA events and outbox events (with the trace
/// context of the current span, the change's).
pub(super) async fn write_effects(
    tx: &mut Transaction<'_, Any>,
    c: &Complaint,
    effects: &Effects,
) -> Result<(), StoreError> {
    let mut rows = EffectRows::default();
    rows.add(c, effects, &TraceHeaders::current());
    insert_rows(
        tx,
        "INSERT INTO sla_escalations (complaint_id, subject_id, escalation_level, create_time) \
         VALUES ",
        &rows.escalations,
    )
    .await?;
    rows.write_rest(tx, c.update_time.timestamp_micros()).await
}

/// Writes the effects of a watcher batch's changes, one multi-row statement per table (and per
/// [`sql::rows_per_statement`] rows): the escalation keys first, and false when one was
/// recorded before (the caller rolls back), then timeline entries, SLA events and outbox
/// events (each with the trace context of its complaint's check).
pub(super) async fn write_batch_effects(
    tx: &mut Transaction<'_, Any>,
    changes: &[&CheckedChange<'_>],
) -> Result<bool, StoreError> {
    let mut rows = EffectRows::default();
    for change in changes {
        rows.add(change.complaint, change.effects, &change.trace);
    }
    for chunk in rows.escalations.chunks(sql::rows_per_statement(4)) {
        let mut statement = Sql::new(
            "INSERT INTO sla_escalations (complaint_id, subject_id, escalation_level, \
             create_time) VALUES ",
        );
        for (i, row) in chunk.iter().enumerate() {
            statement.tuple(i == 0, row.iter().cloned());
        }
        statement.push(" ON CONFLICT DO NOTHING RETURNING complaint_id");
        let recorded: Vec<(String,)> = statement.query_as().fetch_all(&mut **tx).await?;
        if recorded.len() < chunk.len() {
            return Ok(false);
        }
    }
    let now = changes
        .first()
        .map_or(0, |c| c.complaint.update_time.timestamp_micros());
    rows.write_rest(tx, now).await?;
    Ok(true)
}

/// The rows the effects of one or more changes add, by table.
#[derive(Default)]
struct EffectRows {
    escalations: Vec<[Value; 4]>,
    entries: Vec<[Value; 6]>,
    sla_events: Vec<[Value; 4]>,
    outbox: Vec<(NewEvent, TraceHeaders)>,
}

impl EffectRows {
    /// Adds the effects of a change of `c`; its outbox events carry `trace`.
    fn add(&mut self, c: &Complaint, effects: &Effects, trace: &TraceHeaders) {
        let time = c.update_time.timestamp_micros();
        for key in &effects.escalation_keys {
            self.escalations.push([
                Value::from(c.id.as_str()),
                Value::from(key.subject.as_str()),
                Value::from(key.level.code()),
                Value::from(time),
            ]);
        }
        for e in &effects.entries {
            self.entries.push([
                Value::from(e.complaint_id.as_str()),
                Value::from(e.sequence),
                Value::from(e.id.as_str()),
                Value::from(e.details.kind().code()),
                Value::from(e.time.timestamp_micros()),
                Value::from(to_json(e)),
            ]);
        }
        for e in &effects.sla_events {
            self.sla_events.push([
                Value::from(e.id.as_str()),
                Value::from(e.complaint_id.as_str()),
                Value::from(e.time.timestamp_micros()),
                Value::from(to_json(e)),
            ]);
        }
        for OutboxEvent { id, event } in &effects.outbox {
            let row = NewEvent {
                id: id.clone(),
                destination: event.destination(),
                kind: event.kind(),
                aggregate_id: c.id.clone(),
                payload: to_json(event),
            };
            self.outbox.push((row, trace.clone()));
        }
    }

    /// Writes the timeline entries, SLA events and outbox events (everything but the
    /// escalation keys, which each caller writes its own way).
    async fn write_rest(
        &self,
        tx: &mut Transaction<'_, Any>,
        now_micros: i64,
    ) -> Result<(), StoreError> {
        insert_rows(
            tx,
            "INSERT INTO timeline_entries (complaint_id, sequence, id, kind, create_time, body) \
             VALUES ",
            &self.entries,
        )
        .await?;
        insert_rows(
            tx,
            "INSERT INTO sla_events (id, complaint_id, event_time, body) VALUES ",
            &self.sla_events,
        )
        .await?;
        outbox::write_many(tx, &self.outbox, now_micros).await
    }
}

/// Runs `insert` (ending in `VALUES `) over `rows`, one multi-row statement per chunk.
async fn insert_rows<const N: usize>(
    tx: &mut Transaction<'_, Any>,
    insert: &str,
    rows: &[[Value; N]],
) -> Result<(), StoreError> {
    for chunk in rows.chunks(sql::rows_per_statement(N)) {
        let mut statement = Sql::new(insert);
        for (i, row) in chunk.iter().enumerate() {
            statement.tuple(i == 0, row.iter().cloned());
        }
        statement.query().execute(&mut **tx).await?;
    }
    Ok(())
}
