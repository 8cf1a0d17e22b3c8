//! Scorecards: per unit (agent, team, service hall) of a period, the survey figures the
//! weighted scorecard needs (counts and sums of `survey_facts` grouped by the unit's column:
//! the tally CSAT, NPS, CES and the SERVQUAL gap come from, the adjustments, the two quality
//! sides) and, for agents, the clock and complaint counts of `activities`.
//!
//! The satisfied, promoter and detractor lines (CSAT 4-5, NPS 9-10 and 0-6) are the scores
//! tally's, written here in SQL so a million surveys are counted by the database.

use chrono::{DateTime, TimeDelta, Utc};
use csops_runtime::db;
use csops_runtime::db::Traced as _;
use sqlx::any::AnyRow;
use sqlx::Row;

use super::{Cursor, Store, StoreError};
use crate::domain::grades::{Grade, Scored, ServiceTyping};
use crate::domain::scores::{
    Dimension, DimensionTally, Tally, CSAT_SATISFIED_FROM, NPS_DETRACTOR_UP_TO, NPS_PROMOTER_FROM,
};

/// What a scorecard scores.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum UnitKind {
    /// One agent (`survey_facts.agent_id`, and the agent's activities).
    Agent,
    /// A team (`survey_facts.team_id`).
    Team,
    /// A service hall (`survey_facts.service_hall_id`).
    ServiceHall,
}

impl UnitKind {
    /// The stable name of the kind (page tokens, logs).
    pub fn code(self) -> &'static str {
        match self {
            UnitKind::Agent => "agent",
            UnitKind::Team => "team",
            UnitKind::ServiceHall => "service_hall",
        }
    }

    /// The `survey_facts` column that names the unit.
    fn column(self) -> &'static str {
        match self {
            UnitKind::Agent => "agent_id",
            UnitKind::Team => "team_id",
            UnitKind::ServiceHall => "service_hall_id",
        }
    }
}

/// One unit's surveys of a period, as counts and sums.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SurveyFigures {
    /// The tally CSAT, NPS, CES and the SERVQUAL gaps are computed from.
    pub tally: Tally,
    /// Surveys with at least one answer (the ones that rate the unit).
    pub surveys: i64,
    /// Sum of the surveys' bonus points.
    pub bonus_points: f64,
    /// Sum of the surveys' deduction points.
    pub deduction_points: f64,
    /// Mean procedural quality (1-7) of the surveys that have it.
    pub procedural: Option<f64>,
    /// Mean personal quality (1-7) of the surveys that have it.
    pub personal: Option<f64>,
}

/// One agent's clocks and complaints of a period.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ProcessFigures {
    /// First-contact clocks stopped or breached.
    pub first_contact_clocks: i64,
    /// Of which stopped before the deadline.
    pub first_contact_met: i64,
    /// Resolution clocks stopped or breached.
    pub resolution_clocks: i64,
    /// Of which stopped before the deadline.
    pub resolution_met: i64,
    /// Complaints received.
    pub complaints: i64,
    /// Of which from a customer who had complained within the window before.
    pub repeat_complaints: i64,
}

/// One unit's scorecard for a period, as the listing shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct UnitCard {
    /// The agent, team or service hall id.
    pub unit_id: String,
    /// The score, 0-100.
    pub score: f64,
    /// The weighted metrics behind it.
    pub scored: Scored,
    /// The grade the score earns on its own.
    pub earned: Grade,
    /// The grade after the quotas over every unit of the period.
    pub grade: Grade,
    /// Sum of the bonuses of the unit's surveys.
    pub bonus_points: f64,
    /// Sum of their deductions.
    pub deduction_points: f64,
    /// The two quality sides (0-100) and the service type.
    pub service: ServiceTyping,
    /// Surveys rating the unit in the period.
    pub surveys: i64,
}

impl UnitCard {
    /// The position of this card in the listing order (score descending, then unit id): the
    /// key orders descending, the id ascending.
    pub fn cursor(&self) -> Cursor {
        Cursor {
            key: super::staff::rank_key(true, self.score),
            id: self.unit_id.clone(),
        }
    }
}

/// A count or sum read as a tally term (never negative).
fn count(row: &AnyRow, column: &str) -> Result<u64, sqlx::Error> {
    Ok(u64::try_from(row.try_get::<i64, _>(column)?).unwrap_or(0))
}

fn survey_figures(row: &AnyRow) -> Result<(String, SurveyFigures), sqlx::Error> {
    let mut tally = Tally {
        surveys_sent: count(row, "sent")?,
        responses: count(row, "responses")?,
        complete_responses: count(row, "complete_responses")?,
        csat_answers: count(row, "csat_answers")?,
        csat_satisfied: count(row, "csat_satisfied")?,
        nps_answers: count(row, "nps_answers")?,
        nps_promoters: count(row, "nps_promoters")?,
        nps_detractors: count(row, "nps_detractors")?,
        ces_answers: count(row, "ces_answers")?,
        ces_sum: count(row, "ces_sum")?,
        ..Tally::default()
    };
    for d in Dimension::ALL {
        let name = d.name();
        *tally.dimensions.get_mut(d) = DimensionTally {
            answers: count(row, &format!("{name}_answers"))?,
            expectation_sum: count(row, &format!("{name}_e_sum"))?,
            perception_sum: count(row, &format!("{name}_p_sum"))?,
        };
    }
    Ok((
        row.try_get("unit_id")?,
        SurveyFigures {
            tally,
            surveys: row.try_get("responses")?,
            bonus_points: row.try_get("bonus_points")?,
            deduction_points: row.try_get("deduction_points")?,
            procedural: row.try_get("procedural")?,
            personal: row.try_get("personal")?,
        },
    ))
}

fn process_figures(row: &AnyRow) -> Result<(String, ProcessFigures), sqlx::Error> {
    Ok((
        row.try_get("unit_id")?,
        ProcessFigures {
            first_contact_clocks: row.try_get("first_contact_clocks")?,
            first_contact_met: row.try_get("first_contact_met")?,
            resolution_clocks: row.try_get("resolution_clocks")?,
            resolution_met: row.try_get("resolution_met")?,
            complaints: row.try_get("complaints")?,
            repeat_complaints: row.try_get("repeat_complaints")?,
        },
    ))
}

/// `SUM` of a 0/1 condition as a BIGINT on both engines.
fn sum_when(condition: &str, name: &str) -> String {
    format!("CAST(SUM(CASE WHEN {condition} THEN 1 ELSE 0 END) AS BIGINT) AS {name}")
}

impl Store {
    /// The survey figures of every unit of `kind` with a survey sent in [`start`, `end`),
    /// by unit id; surveys without the unit (an empty id) are left out.
    pub async fn unit_survey_figures(
        &self,
        kind: UnitKind,
        start: DateTime<Utc>,
        end: DateTime<Utc>,
    ) -> Result<Vec<(String, SurveyFigures)>, StoreError> {
        async {
            let mut conn = db::acquire(&self.pool).await?;
            let col = kind.column();
            let mut columns = vec![
                format!("{col} AS unit_id"),
                "CAST(COUNT(*) AS BIGINT) AS sent".to_owned(),
                "CAST(SUM(responded) AS BIGINT) AS responses".to_owned(),
                "CAST(SUM(complete) AS BIGINT) AS complete_responses".to_owned(),
                "CAST(COUNT(csat) AS BIGINT) AS csat_answers".to_owned(),
                sum_when(&format!("csat >= {CSAT_SATISFIED_FROM}"), "csat_satisfied"),
                "CAST(COUNT(nps) AS BIGINT) AS nps_answers".to_owned(),
                sum_when(&format!("nps >= {NPS_PROMOTER_FROM}"), "nps_promoters"),
                sum_when(&format!("nps <= {NPS_DETRACTOR_UP_TO}"), "nps_detractors"),
                "CAST(COUNT(ces) AS BIGINT) AS ces_answers".to_owned(),
                "CAST(COALESCE(SUM(ces), 0) AS BIGINT) AS ces_sum".to_owned(),
            ];
            for d in Dimension::ALL {
                let n = d.name();
                // An answer stores both sides, so counting perceptions counts answers.
                columns.push(format!("CAST(COUNT({n}_p) AS BIGINT) AS {n}_answers"));
                columns.push(format!(
                    "CAST(COALESCE(SUM({n}_e), 0) AS BIGINT) AS {n}_e_sum"
                ));
                columns.push(format!(
                    "CAST(COALESCE(SUM({n}_p), 0) AS BIGINT) AS {n}_p_sum"
                ));
            }
            columns.extend([
                "CAST(COALESCE(SUM(bonus_points), 0) AS DOUBLE PRECISION) AS bonus_points"
                    .to_owned(),
                "CAST(COALESCE(SUM(deduction_points), 0) AS DOUBLE PRECISION) AS deduction_points"
                    .to_owned(),
                "CAST(AVG(procedural_score) AS DOUBLE PRECISION) AS procedural".to_owned(),
                "CAST(AVG(personal_score) AS DOUBLE PRECISION) AS personal".to_owned(),
            ]);
            let text = format!(
                "SELECT {} FROM survey_facts WHERE send_time >= $1 AND send_time < $2 \
                 AND {col} <> '' GROUP BY {col} ORDER BY {col}",
                columns.join(", ")
            );
            let rows = sqlx::query(&text)
                .bind(start.timestamp_micros())
                .bind(end.timestamp_micros())
                // Planned with its period at every call, as the score aggregate (scores.rs).
                .persistent(false)
                .fetch_all(&mut *conn)
                .await?;
            db::returned_rows(rows.len());
            Ok(rows
                .iter()
                .map(survey_figures)
                .collect::<Result<_, sqlx::Error>>()?)
        }
        .traced(self.span("SELECT", "survey_facts", "feedback.unit_survey_figures"))
        .await
    }

    /// The clock and complaint counts of every agent with an activity in [`start`, `end`),
    /// by agent id. A clock counts once it stopped or breached (`clock_met`, `clock_met_late`,
    /// `clock_breached`), on time only as `clock_met`; a complaint is a repeat when the same
    /// customer had complained (about anyone, on any matter) within `repeat_window` before it,
    /// also before the period.
    pub async fn agent_process_figures(
        &self,
        start: DateTime<Utc>,
        end: DateTime<Utc>,
        repeat_window: TimeDelta,
    ) -> Result<Vec<(String, ProcessFigures)>, StoreError> {
        async {
            let mut conn = db::acquire(&self.pool).await?;
            let clocks = "a.kind IN ('clock_met', 'clock_met_late', 'clock_breached')";
            let columns = [
                "a.agent_id AS unit_id".to_owned(),
                sum_when(
                    &format!("a.clock_kind = 'FIRST_CONTACT' AND {clocks}"),
                    "first_contact_clocks",
                ),
                sum_when(
                    "a.clock_kind = 'FIRST_CONTACT' AND a.kind = 'clock_met'",
                    "first_contact_met",
                ),
                sum_when(
                    &format!("a.clock_kind = 'RESOLUTION' AND {clocks}"),
                    "resolution_clocks",
                ),
                sum_when(
                    "a.clock_kind = 'RESOLUTION' AND a.kind = 'clock_met'",
                    "resolution_met",
                ),
                sum_when("a.kind = 'complaint_received'", "complaints"),
                sum_when(
                    "a.kind = 'complaint_received' AND EXISTS (SELECT 1 FROM activities p \
                     WHERE p.customer_id = a.customer_id AND p.kind = 'complaint_received' \
                     AND p.occur_time >= a.occur_time - $3 \
                     AND (p.occur_time < a.occur_time OR (p.occur_time = a.occur_time AND p.id < a.id)))",
                    "repeat_complaints",
                ),
            ];
            let text = format!(
                "SELECT {} FROM activities a WHERE a.occur_time >= $1 AND a.occur_time < $2 \
                 AND a.agent_id <> '' GROUP BY a.agent_id ORDER BY a.agent_id",
                columns.join(", ")
            );
            let rows = sqlx::query(&text)
                .bind(start.timestamp_micros())
                .bind(end.timestamp_micros())
                .bind(repeat_window.num_microseconds().unwrap_or(i64::MAX))
                // Planned with its period at every call, as the score aggregate (scores.rs).
                .persistent(false)
                .fetch_all(&mut *conn)
                .await?;
            db::returned_rows(rows.len());
            Ok(rows
                .iter()
                .map(process_figures)
                .collect::<Result<_, sqlx::Error>>()?)
        }
        .traced(self.span("SELECT", "activities", "feedback.agent_process_figures"))
        .await
    }
}
