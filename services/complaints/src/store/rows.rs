//! Rows as stored: one struct per table read, mapped to the domain with every column named.
//! Times are BIGINT microseconds since the epoch; the aggregate, entries and events are JSON
//! TEXT. The filter and lease columns of `complaints` are written, never read back.

use csops_observability::TraceHeaders;
use csops_runtime::db::StoreError;
use csops_runtime::time::from_micros;

use super::ViolationRecord;
use crate::domain::{Complaint, Entry, SlaEvent};

fn corrupt(id: &str, what: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt {
        id: id.to_owned(),
        what: what.to_string(),
    }
}

/// A row of `complaints`, as `SELECT {COMPLAINT_COLUMNS}` reads it.
#[derive(Debug, sqlx::FromRow)]
pub(super) struct ComplaintRow {
    id: String,
    body: String,
    version: i64,
}

/// The columns [`ComplaintRow`] reads.
pub(super) const COMPLAINT_COLUMNS: &str = "id, body, version";

impl TryFrom<ComplaintRow> for Complaint {
    type Error = StoreError;

    fn try_from(row: ComplaintRow) -> Result<Self, StoreError> {
        let ComplaintRow { id, body, version } = row;
        let mut complaint: Complaint = serde_json::from_str(&body).map_err(|e| corrupt(&id, e))?;
        // The column is the truth: the version guards every save.
        complaint.version = version;
        Ok(complaint)
    }
}

/// A due complaint as the watcher's claim returns it: the complaint and the trace context
/// of the call that created it.
#[derive(Debug, sqlx::FromRow)]
pub(super) struct DueRow {
    id: String,
    body: String,
    version: i64,
    traceparent: String,
    tracestate: String,
}

/// The columns [`DueRow`] reads.
pub(super) const DUE_COLUMNS: &str = "id, body, version, traceparent, tracestate";

impl DueRow {
    pub(super) fn into_complaint(self) -> Result<(Complaint, TraceHeaders), StoreError> {
        let DueRow {
            id,
            body,
            version,
            traceparent,
            tracestate,
        } = self;
        let complaint = Complaint::try_from(ComplaintRow { id, body, version })?;
        Ok((
            complaint,
            TraceHeaders {
                traceparent,
                tracestate,
            },
        ))
    }
}

/// A row of `timeline_entries`, as `SELECT {ENTRY_COLUMNS}` reads it.
#[derive(Debug, sqlx::FromRow)]
pub(super) struct EntryRow {
    complaint_id: String,
    sequence: i64,
    body: String,
}

/// The columns [`EntryRow`] reads.
pub(super) const ENTRY_COLUMNS: &str = "complaint_id, sequence, body";

impl TryFrom<EntryRow> for Entry {
    type Error = StoreError;

    fn try_from(row: EntryRow) -> Result<Self, StoreError> {
        let EntryRow {
            complaint_id,
            sequence,
            body,
        } = row;
        serde_json::from_str(&body)
            .map_err(|e| corrupt(&complaint_id, format!("timeline entry {sequence}: {e}")))
    }
}

/// A row of `sla_events`, as `SELECT {SLA_EVENT_COLUMNS}` reads it.
#[derive(Debug, sqlx::FromRow)]
pub(super) struct SlaEventRow {
    id: String,
    body: String,
}

/// The columns [`SlaEventRow`] reads.
pub(super) const SLA_EVENT_COLUMNS: &str = "id, body";

impl TryFrom<SlaEventRow> for SlaEvent {
    type Error = StoreError;

    fn try_from(row: SlaEventRow) -> Result<Self, StoreError> {
        let SlaEventRow { id, body } = row;
        serde_json::from_str(&body).map_err(|e| corrupt(&id, e))
    }
}

/// A row of `reply_violations`, as `SELECT {VIOLATION_COLUMNS}` reads it.
#[derive(Debug, sqlx::FromRow)]
pub(super) struct ViolationRow {
    id: String,
    agent_id: String,
    complaint_id: String,
    check_time: i64,
    body: String,
}

/// The columns [`ViolationRow`] reads.
pub(super) const VIOLATION_COLUMNS: &str = "id, agent_id, complaint_id, check_time, body";

impl From<ViolationRow> for ViolationRecord {
    fn from(row: ViolationRow) -> Self {
        let ViolationRow {
            id,
            agent_id,
            complaint_id,
            check_time,
            body,
        } = row;
        ViolationRecord {
            id,
            agent_id,
            complaint_id,
            check_time: from_micros(check_time),
            body,
        }
    }
}
