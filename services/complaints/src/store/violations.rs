//! Storage of reply violations: what CheckReply found in agents' replies.

use chrono::{DateTime, Utc};
use csops_runtime::audit;
use csops_runtime::db::{self, StoreError, Traced as _};
use csops_runtime::sql::Sql;

use super::rows::{ViolationRow, VIOLATION_COLUMNS};
use super::{Cursor, Store};

/// The kind of record the audit log names.
const REPLY_VIOLATION: &str = "reply_violation";

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

impl Store {
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
            let ids: Vec<&str> = records.iter().map(|v| v.id.as_str()).collect();
            let now = records
                .iter()
                .map(|v| v.check_time.timestamp_micros())
                .max()
                .unwrap_or_default();
            audit::record_many(&mut tx, REPLY_VIOLATION, &ids, now).await?;
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
