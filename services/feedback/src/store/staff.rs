//! Staff of the month: what a supervisor records per agent and month (a JSON document keyed by
//! month and agent; a second record replaces the first), and the monthly survey scores the
//! evaluation reads from `survey_facts`.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use csops_runtime::audit;
use csops_runtime::db;
use csops_runtime::db::Traced as _;
use serde::{Deserialize, Serialize};

use super::{from_doc, to_doc, Cursor, Store, StoreError, STAFF_MONTH};
use crate::domain::grades::Grade;
use crate::domain::Actor;

/// What a supervisor recorded for one agent and month.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StaffRecord {
    /// The agent.
    pub agent_id: String,
    /// The month, "YYYY-MM" (UTC).
    pub month: String,
    /// Hours of leave taken in the month.
    pub leave_hours: f64,
    /// Times late, left early or absent without leave.
    pub attendance_lapses: u32,
    /// One reason per penalty of the month.
    pub penalties: Vec<String>,
    /// Who recorded it last.
    pub recorded_by: Actor,
    /// When it was recorded last.
    #[serde(with = "csops_runtime::time::serde_micros")]
    pub update_time: DateTime<Utc>,
}

/// A recorded month evaluated against the staff-of-the-month rules, as the listing shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct StaffEvaluation {
    /// What the supervisor recorded.
    pub record: StaffRecord,
    /// Leave within the allowance and no attendance lapse.
    pub full_attendance: bool,
    /// Mean overall score of the surveys rating the agent in the month; 0 without surveys.
    pub monthly_score: f64,
    /// Surveys the score is computed from.
    pub surveys: i64,
    /// The grade of the monthly score; `None` without surveys.
    pub grade: Option<Grade>,
    /// Full attendance, the minimum score and no penalty.
    pub eligible: bool,
    /// Why not eligible, one reason per entry.
    pub ineligible_reasons: Vec<String>,
    /// Among the month's staff of the month.
    pub selected: bool,
}

impl StaffEvaluation {
    /// The position of this evaluation in the listing order (eligible first, then the monthly
    /// score descending, then the agent id): the key orders descending, the id ascending.
    pub fn cursor(&self) -> Cursor {
        Cursor {
            key: rank_key(self.eligible, self.monthly_score),
            id: self.record.agent_id.clone(),
        }
    }
}

/// One number that orders (eligible, score) as the listing does, highest first: the bits of a
/// score 0 or above order as the score does, and an ineligible agent's key is pushed below
/// every eligible one's.
pub fn rank_key(eligible: bool, score: f64) -> i64 {
    // `+ 0.0` turns −0.0 into 0.0; a score is never negative, but NaN or −0 must not wrap.
    let bits = i64::try_from((score.max(0.0) + 0.0).to_bits()).unwrap_or(i64::MAX);
    if eligible {
        bits
    } else {
        bits.wrapping_add(i64::MIN)
    }
}

/// A staff month's row.
#[derive(Debug, sqlx::FromRow)]
struct StaffRow {
    agent_id: String,
    doc: String,
}

/// A monthly score row: the agent, the mean overall score and how many surveys.
#[derive(Debug, sqlx::FromRow)]
struct ScoreRow {
    agent_id: String,
    mean_score: Option<f64>,
    surveys: i64,
}

impl Store {
    /// Writes an agent's month, replacing what was recorded for that agent and month before
    /// (the row keeps the time it was first recorded). An upsert, so two supervisors recording
    /// at once both succeed and the later one wins.
    pub async fn put_staff_month(&self, record: &StaffRecord) -> Result<(), StoreError> {
        let at = record.update_time.timestamp_micros();
        async {
            let mut tx = db::begin(&self.pool).await?;
            sqlx::query(
                "INSERT INTO staff_months (month, agent_id, doc, create_time, update_time) \
                 VALUES ($1, $2, $3, $4, $5) \
                 ON CONFLICT (month, agent_id) DO UPDATE SET doc = excluded.doc, \
                 update_time = excluded.update_time",
            )
            .bind(&record.month)
            .bind(&record.agent_id)
            .bind(to_doc(record))
            .bind(at)
            .bind(at)
            .execute(&mut *tx)
            .await?;
            // The record is named by agent and month, e.g. "agent-7/2026-11".
            let id = format!("{}/{}", record.agent_id, record.month);
            audit::record(&mut tx, STAFF_MONTH, &id, at).await?;
            tx.commit().await?;
            Ok(())
        }
        .traced(self.span("UPSERT", "staff_months", "feedback.put_staff_month"))
        .await
    }

    /// Every record of a month, by agent id.
    pub async fn staff_months(&self, month: &str) -> Result<Vec<StaffRecord>, StoreError> {
        async {
            let mut conn = db::acquire(&self.pool).await?;
            let rows: Vec<StaffRow> = sqlx::query_as(
                "SELECT agent_id, doc FROM staff_months WHERE month = $1 ORDER BY agent_id",
            )
            .bind(month)
            .fetch_all(&mut *conn)
            .await?;
            db::returned_rows(rows.len());
            rows.into_iter()
                .map(|StaffRow { agent_id, doc }| from_doc(&agent_id, &doc))
                .collect()
        }
        .traced(self.span("SELECT", "staff_months", "feedback.staff_months"))
        .await
    }

    /// The mean overall score and the number of scored surveys of every agent recorded for
    /// `month`, over the surveys sent in [`start`, `end`); agents without a scored survey are
    /// absent.
    pub async fn monthly_scores(
        &self,
        month: &str,
        start: DateTime<Utc>,
        end: DateTime<Utc>,
    ) -> Result<HashMap<String, (f64, i64)>, StoreError> {
        async {
            let mut conn = db::acquire(&self.pool).await?;
            let rows: Vec<ScoreRow> = sqlx::query_as(
                "SELECT agent_id, CAST(AVG(overall_score) AS DOUBLE PRECISION) AS mean_score, \
                 CAST(COUNT(overall_score) AS BIGINT) AS surveys \
                 FROM survey_facts \
                 WHERE agent_id IN (SELECT agent_id FROM staff_months WHERE month = $1) \
                 AND send_time >= $2 AND send_time < $3 AND overall_score IS NOT NULL \
                 GROUP BY agent_id",
            )
            .bind(month)
            .bind(start.timestamp_micros())
            .bind(end.timestamp_micros())
            // Planned with its period at every call, as the score aggregate (scores.rs).
            .persistent(false)
            .fetch_all(&mut *conn)
            .await?;
            db::returned_rows(rows.len());
            Ok(rows
                .into_iter()
                .filter_map(|r| r.mean_score.map(|m| (r.agent_id, (m, r.surveys))))
                .collect())
        }
        .traced(self.span("SELECT", "survey_facts", "feedback.monthly_scores"))
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rank_keys_order_eligible_first_then_by_score() {
        let keys = [
            rank_key(true, 100.0),
            rank_key(true, 90.5),
            rank_key(true, 0.0),
            rank_key(false, 100.0),
            rank_key(false, 87.5),
            rank_key(false, 0.0),
        ];
        assert!(keys.windows(2).all(|w| w[0] > w[1]), "{keys:?}");
        assert_eq!(rank_key(true, -0.0), rank_key(true, 0.0));
    }
}
