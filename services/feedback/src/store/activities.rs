//! Activities: one row per sender event (the unique `(source_service, source_event_id)` makes
//! a retried delivery write nothing), and the counts the process indicators are computed from:
//! activities by conditional sums, the surveys that rated an agent from `survey_facts`.

use csops_runtime::db;
use csops_runtime::db::Traced as _;
use csops_runtime::sql::Sql;

use super::{Store, StoreError};
use crate::domain::indicators::{Activity, ActivityCounts, Period, SurveyCounts};
use crate::domain::scores::{Dimension, DimensionTally, Dimensions};

/// Whose activities one count covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope<'a> {
    /// Every activity of the period, with an agent or without: one row.
    Everything,
    /// These agents together: one row.
    Together(&'a [String]),
    /// Each of these agents: a row per agent that has something to count.
    Each(&'a [String]),
}

impl Scope<'_> {
    fn agents(&self) -> &[String] {
        match self {
            Scope::Everything => &[],
            Scope::Together(ids) | Scope::Each(ids) => ids,
        }
    }

    fn grouped(&self) -> bool {
        matches!(self, Scope::Each(_))
    }
}

/// `CAST(COALESCE(SUM(CASE WHEN cond THEN 1 ELSE 0 END), 0) AS BIGINT) AS name`: a count
/// of the rows meeting `cond` that reads as BIGINT on both engines, 0 over no rows.
fn count_if(cond: &str, name: &str) -> String {
    format!(", CAST(COALESCE(SUM(CASE WHEN {cond} THEN 1 ELSE 0 END), 0) AS BIGINT) AS {name}")
}

/// Activity kinds that end a clock.
const CLOCK_END: &str = "a.kind IN ('clock_met', 'clock_met_late', 'clock_breached')";

#[derive(Debug, sqlx::FromRow)]
struct CountsRow {
    agent_id: String,
    contacts_handled: i64,
    complaints: i64,
    clocks_total: i64,
    clocks_met: i64,
    first_contact_clocks: i64,
    first_contact_met: i64,
    resolution_clocks: i64,
    resolution_met: i64,
    repeat_complaints: i64,
    customers: i64,
    visits_completed: i64,
    customer_contacts: i64,
}

impl From<CountsRow> for (String, ActivityCounts) {
    fn from(row: CountsRow) -> Self {
        let CountsRow {
            agent_id,
            contacts_handled,
            complaints,
            clocks_total,
            clocks_met,
            first_contact_clocks,
            first_contact_met,
            resolution_clocks,
            resolution_met,
            repeat_complaints,
            customers,
            visits_completed,
            customer_contacts,
        } = row;
        (
            agent_id,
            ActivityCounts {
                contacts_handled,
                complaints,
                clocks_total,
                clocks_met,
                first_contact_clocks,
                first_contact_met,
                resolution_clocks,
                resolution_met,
                repeat_complaints,
                customers,
                visits_completed,
                customer_contacts,
            },
        )
    }
}

#[derive(Debug, sqlx::FromRow)]
struct SurveyRow {
    agent_id: String,
    surveys: i64,
    score_sum: f64,
    tangibles_n: i64,
    tangibles_e: i64,
    tangibles_p: i64,
    empathy_n: i64,
    empathy_e: i64,
    empathy_p: i64,
    assurance_n: i64,
    assurance_e: i64,
    assurance_p: i64,
    responsiveness_n: i64,
    responsiveness_e: i64,
    responsiveness_p: i64,
    reliability_n: i64,
    reliability_e: i64,
    reliability_p: i64,
}

/// A count or sum read from storage, never negative for these columns.
fn unsigned(x: i64) -> u64 {
    u64::try_from(x).unwrap_or(0)
}

fn tally(answers: i64, expectation_sum: i64, perception_sum: i64) -> DimensionTally {
    DimensionTally {
        answers: unsigned(answers),
        expectation_sum: unsigned(expectation_sum),
        perception_sum: unsigned(perception_sum),
    }
}

impl From<SurveyRow> for (String, SurveyCounts) {
    fn from(row: SurveyRow) -> Self {
        let SurveyRow {
            agent_id,
            surveys,
            score_sum,
            tangibles_n,
            tangibles_e,
            tangibles_p,
            empathy_n,
            empathy_e,
            empathy_p,
            assurance_n,
            assurance_e,
            assurance_p,
            responsiveness_n,
            responsiveness_e,
            responsiveness_p,
            reliability_n,
            reliability_e,
            reliability_p,
        } = row;
        (
            agent_id,
            SurveyCounts {
                surveys,
                score_sum,
                dimensions: Dimensions {
                    tangibles: tally(tangibles_n, tangibles_e, tangibles_p),
                    empathy: tally(empathy_n, empathy_e, empathy_p),
                    assurance: tally(assurance_n, assurance_e, assurance_p),
                    responsiveness: tally(responsiveness_n, responsiveness_e, responsiveness_p),
                    reliability: tally(reliability_n, reliability_e, reliability_p),
                },
            },
        )
    }
}

impl Store {
    /// Records an activity unless its sender's event was recorded before; returns whether it
    /// was written.
    pub async fn insert_activity(&self, a: &Activity) -> Result<bool, StoreError> {
        async {
            let mut conn = db::acquire(&self.pool).await?;
            let r = &a.reported;
            let done = sqlx::query(
                "INSERT INTO activities (id, source_service, source_event_id, kind, customer_id, \
                 agent_id, subject_kind, subject_id, category, clock_kind, occur_time, create_time) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) \
                 ON CONFLICT (source_service, source_event_id) DO NOTHING",
            )
            .bind(&a.id)
            .bind(&r.source_service)
            .bind(&r.source_event_id)
            .bind(r.kind.code())
            .bind(&r.customer_id)
            .bind(&r.agent_id)
            .bind(r.subject.as_ref().map_or("", |s| s.kind.code()))
            .bind(r.subject.as_ref().map_or("", |s| s.id.as_str()))
            .bind(&r.category)
            .bind(&r.clock_kind)
            .bind(r.occur_time.timestamp_micros())
            .bind(a.create_time.timestamp_micros())
            .execute(&mut *conn)
            .await?;
            Ok(done.rows_affected() == 1)
        }
        .traced(self.span("INSERT", "activities", "feedback.insert_activity"))
        .await
    }

    /// Returns up to `limit` agents after `after`, by id, with an activity or a rated survey
    /// in `period` (only `agent_ids` when not empty).
    pub async fn indicator_agents(
        &self,
        period: Period,
        agent_ids: &[String],
        after: Option<&str>,
        limit: u32,
    ) -> Result<Vec<String>, StoreError> {
        async {
            let mut conn = db::acquire(&self.pool).await?;
            let mut sql = Sql::new("SELECT agent_id FROM (SELECT agent_id FROM activities WHERE ");
            sql.bind("occur_time >= $?", period.start.timestamp_micros())
                .bind(" AND occur_time < $?", period.end.timestamp_micros())
                .push(" AND agent_id <> ''")
                .and_in("agent_id", agent_ids);
            if let Some(after) = after {
                sql.bind(" AND agent_id > $?", after);
            }
            sql.push(" UNION SELECT agent_id FROM survey_facts WHERE ")
                .bind("send_time >= $?", period.start.timestamp_micros())
                .bind(" AND send_time < $?", period.end.timestamp_micros())
                .push(" AND agent_id <> '' AND overall_score IS NOT NULL")
                .and_in("agent_id", agent_ids);
            if let Some(after) = after {
                sql.bind(" AND agent_id > $?", after);
            }
            sql.bind(") agents ORDER BY agent_id LIMIT $?", i64::from(limit));
            let rows: Vec<(String,)> = sql.query_as().fetch_all(&mut *conn).await?;
            db::returned_rows(rows.len());
            Ok(rows.into_iter().map(|(id,)| id).collect())
        }
        .traced(self.span("SELECT", "activities", "feedback.indicator_agents"))
        .await
    }

    /// Counts the activities of `scope` in `period`; a complaint is a repeat when the same
    /// customer complained within `repeat_window_micros` before it (also before the period).
    pub async fn activity_counts(
        &self,
        period: Period,
        scope: Scope<'_>,
        repeat_window_micros: i64,
    ) -> Result<Vec<(String, ActivityCounts)>, StoreError> {
        async {
            let mut conn = db::acquire(&self.pool).await?;
            let on_time = "a.kind = 'clock_met'";
            let first = "a.clock_kind = 'FIRST_CONTACT'";
            let resolution = "a.clock_kind = 'RESOLUTION'";
            let mut sql = Sql::new(if scope.grouped() {
                "SELECT a.agent_id AS agent_id"
            } else {
                "SELECT '' AS agent_id"
            });
            sql.push(&count_if("a.kind = 'contact_handled'", "contacts_handled"))
                .push(&count_if("a.kind = 'complaint_received'", "complaints"))
                .push(&count_if(CLOCK_END, "clocks_total"))
                .push(&count_if(on_time, "clocks_met"))
                .push(&count_if(
                    &format!("{CLOCK_END} AND {first}"),
                    "first_contact_clocks",
                ))
                .push(&count_if(
                    &format!("{on_time} AND {first}"),
                    "first_contact_met",
                ))
                .push(&count_if(
                    &format!("{CLOCK_END} AND {resolution}"),
                    "resolution_clocks",
                ))
                .push(&count_if(
                    &format!("{on_time} AND {resolution}"),
                    "resolution_met",
                ))
                // An earlier complaint of the customer within the window, in (occur_time, id)
                // order so two at the same instant count one repeat; through activities_customer.
                .bind(
                    &count_if(
                        "a.kind = 'complaint_received' AND EXISTS (SELECT 1 FROM activities p \
                         WHERE p.customer_id = a.customer_id AND p.kind = 'complaint_received' \
                         AND p.occur_time >= a.occur_time - $? \
                         AND (p.occur_time, p.id) < (a.occur_time, a.id))",
                        "repeat_complaints",
                    ),
                    repeat_window_micros,
                )
                .push(", COUNT(DISTINCT a.customer_id) AS customers")
                .push(&count_if(
                    "a.kind IN ('visit_completed', 'field_job_completed')",
                    "visits_completed",
                ))
                .push(&count_if(
                    "a.kind = 'customer_contact'",
                    "customer_contacts",
                ))
                .bind(
                    " FROM activities a WHERE a.occur_time >= $?",
                    period.start.timestamp_micros(),
                )
                .bind(" AND a.occur_time < $?", period.end.timestamp_micros())
                .and_in("a.agent_id", scope.agents());
            if scope.grouped() {
                sql.push(" GROUP BY a.agent_id");
            }
            // Planned with its period at every call, as the score aggregate (scores.rs).
            let rows: Vec<CountsRow> = sql
                .query_as()
                .persistent(false)
                .fetch_all(&mut *conn)
                .await?;
            db::returned_rows(rows.len());
            Ok(rows.into_iter().map(Into::into).collect())
        }
        .traced(self.span("SELECT", "activities", "feedback.activity_counts"))
        .await
    }

    /// Counts the surveys of `scope` sent in `period` that rated the agent (those with an
    /// overall score), with their SERVQUAL answers per dimension.
    pub async fn survey_counts(
        &self,
        period: Period,
        scope: Scope<'_>,
    ) -> Result<Vec<(String, SurveyCounts)>, StoreError> {
        async {
            let mut conn = db::acquire(&self.pool).await?;
            let mut sql = Sql::new(if scope.grouped() {
                "SELECT f.agent_id AS agent_id"
            } else {
                "SELECT '' AS agent_id"
            });
            sql.push(
                ", COUNT(f.overall_score) AS surveys, \
                 CAST(COALESCE(SUM(f.overall_score), 0) AS DOUBLE PRECISION) AS score_sum",
            );
            for d in Dimension::ALL {
                let n = d.name();
                sql.push(&format!(
                    ", COUNT(f.{n}_p) AS {n}_n, \
                     CAST(COALESCE(SUM(f.{n}_e), 0) AS BIGINT) AS {n}_e, \
                     CAST(COALESCE(SUM(f.{n}_p), 0) AS BIGINT) AS {n}_p"
                ));
            }
            sql.bind(
                " FROM survey_facts f WHERE f.send_time >= $?",
                period.start.timestamp_micros(),
            )
            .bind(" AND f.send_time < $?", period.end.timestamp_micros())
            .push(" AND f.overall_score IS NOT NULL")
            .and_in("f.agent_id", scope.agents());
            if scope.grouped() {
                sql.push(" GROUP BY f.agent_id");
            }
            let rows: Vec<SurveyRow> = sql
                .query_as()
                .persistent(false)
                .fetch_all(&mut *conn)
                .await?;
            db::returned_rows(rows.len());
            Ok(rows.into_iter().map(Into::into).collect())
        }
        .traced(self.span("SELECT", "survey_facts", "feedback.survey_counts"))
        .await
    }
}
