//! Surveys: the JSON document beside the columns ListSurveys filters on, and the narrow
//! `survey_facts` row the aggregates read, written in the same transaction.

use chrono::{DateTime, Utc};
use csops_runtime::audit;
use csops_runtime::db;
use csops_runtime::db::Traced as _;
use csops_runtime::idempotency::{Key, Recorded};
use csops_runtime::outbox;
use csops_runtime::sql::Sql;
use sqlx::AnyConnection;

use super::rows::DocRow;
use super::{from_doc, to_doc, Cursor, Inserted, Store, StoreError, SURVEY};
use crate::domain::grades::{AdjustmentKind, Grade, ServiceType};
use crate::domain::scores::Dimension;
use crate::domain::survey::{Survey, SurveyState};
use crate::domain::SubjectKind;

/// Filters of a survey listing; they combine with AND, values of one list with OR.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SurveyFilter {
    /// Only this customer.
    pub customer_id: Option<String>,
    /// Only surveys rating this agent.
    pub agent_id: Option<String>,
    /// Only this kind of subject.
    pub subject_kind: Option<SubjectKind>,
    /// Only these grades.
    pub grades: Vec<Grade>,
    /// Only this quadrant.
    pub service_type: Option<ServiceType>,
    /// Only answered at or after.
    pub answer_time_start: Option<DateTime<Utc>>,
    /// Only answered before.
    pub answer_time_end: Option<DateTime<Utc>>,
}

/// The stored code of a grade (`''` when not graded).
pub fn grade_code(g: Grade) -> &'static str {
    match g {
        Grade::Excellent => "excellent",
        Grade::Good => "good",
        Grade::MeetsStandard => "meets_standard",
        Grade::Fails => "fails",
    }
}

/// The stored code of a service type (`''` when not placed).
pub fn service_type_code(t: ServiceType) -> &'static str {
    match t {
        ServiceType::Quality => "quality",
        ServiceType::Friendly => "friendly",
        ServiceType::Production => "production",
        ServiceType::Cold => "cold",
    }
}

async fn insert_survey(conn: &mut AnyConnection, s: &Survey) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO surveys (id, customer_id, agent_id, subject_kind, subject_id, template_id, \
         template_version, state, grade, service_type, send_time, answer_time, doc, version, \
         create_time, update_time) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)",
    )
    .bind(&s.id)
    .bind(&s.customer_id)
    .bind(&s.agent_id)
    .bind(s.subject.kind.code())
    .bind(&s.subject.id)
    .bind(&s.template_id)
    .bind(i64::from(s.template_version))
    .bind(s.state.code())
    .bind(s.scores.grade.map_or("", grade_code))
    .bind(s.scores.service_type.map_or("", service_type_code))
    .bind(s.send_time.timestamp_micros())
    .bind(s.answer_time.map_or(0, |t| t.timestamp_micros()))
    .bind(to_doc(s))
    .bind(s.version)
    .bind(s.create_time.timestamp_micros())
    .bind(s.update_time.timestamp_micros())
    .execute(conn)
    .await?;
    Ok(())
}

/// The facts columns after `survey_id`, in the order [`write_facts`] binds them.
const FACT_COLUMNS: [&str; 32] = [
    "send_time",
    "template_id",
    "agent_id",
    "team_id",
    "service_hall_id",
    "complaint_nature",
    "customer_tier",
    "customer_region",
    "channel",
    "responded",
    "complete",
    "csat",
    "nps",
    "ces",
    "tangibles_e",
    "tangibles_p",
    "empathy_e",
    "empathy_p",
    "assurance_e",
    "assurance_p",
    "responsiveness_e",
    "responsiveness_p",
    "reliability_e",
    "reliability_p",
    "customer_id",
    "answer_time",
    "overall_score",
    "bonus_points",
    "deduction_points",
    "procedural_score",
    "personal_score",
    "survey_id",
];

/// The optional DOUBLE PRECISION columns: bound as a number always, -1 standing for NULL.
/// sqlx 0.8.6's `Any` binds a NULL `f64` as a `float4` on PostgreSQL (`Null(Double)` →
/// `Option::<f32>::None`), which types the cached statement's parameter as `float4`; the next
/// call binding a real `f64` is then refused ("incorrect binary data format"). Scores are
/// 0-100, so -1 is never a value.
const NULLABLE_DOUBLES: [&str; 3] = ["overall_score", "procedural_score", "personal_score"];

fn placeholder(column: &str, n: usize) -> String {
    if NULLABLE_DOUBLES.contains(&column) {
        format!("NULLIF(${n}, -1)")
    } else {
        format!("${n}")
    }
}

/// An optional score, -1 for none (see [`NULLABLE_DOUBLES`]).
fn double(x: Option<f64>) -> f64 {
    x.unwrap_or(-1.0)
}

/// A score as a SMALLINT (scales are 0-10).
fn small(x: Option<i32>) -> Option<i16> {
    x.and_then(|x| i16::try_from(x).ok())
}

/// Inserts (`insert`) or rewrites the survey's facts row.
async fn write_facts(conn: &mut AnyConnection, s: &Survey, insert: bool) -> Result<(), StoreError> {
    let text = if insert {
        let placeholders: Vec<String> = FACT_COLUMNS
            .iter()
            .enumerate()
            .map(|(i, c)| placeholder(c, i + 1))
            .collect();
        format!(
            "INSERT INTO survey_facts ({}) VALUES ({})",
            FACT_COLUMNS.join(", "),
            placeholders.join(", ")
        )
    } else {
        let sets: Vec<String> = FACT_COLUMNS[..FACT_COLUMNS.len() - 1]
            .iter()
            .enumerate()
            .map(|(i, c)| format!("{c} = {}", placeholder(c, i + 1)))
            .collect();
        format!(
            "UPDATE survey_facts SET {} WHERE survey_id = ${}",
            sets.join(", "),
            FACT_COLUMNS.len()
        )
    };
    let dim = |d: Dimension| s.scores.dimensions.iter().find(|x| x.dimension == d);
    let mut query = sqlx::query(&text)
        .bind(s.send_time.timestamp_micros())
        .bind(&s.template_id)
        .bind(&s.agent_id)
        .bind(&s.slice.team_id)
        .bind(&s.slice.service_hall_id)
        .bind(&s.slice.complaint_nature)
        .bind(&s.slice.customer_tier)
        .bind(&s.slice.customer_region)
        .bind(s.channel.code())
        .bind(i16::from(s.state != SurveyState::Sent))
        .bind(i16::from(s.state == SurveyState::Complete))
        .bind(small(s.scores.csat))
        .bind(small(s.scores.nps))
        .bind(small(s.scores.ces));
    for d in Dimension::ALL {
        query = query
            .bind(small(dim(d).map(|x| x.expectation)))
            .bind(small(dim(d).map(|x| x.perception)));
    }
    let points = |kind: AdjustmentKind| -> f64 {
        s.adjustments
            .iter()
            .filter(|a| a.kind == kind)
            .map(|a| a.points)
            .sum()
    };
    query
        .bind(&s.customer_id)
        .bind(s.answer_time.map_or(0, |t| t.timestamp_micros()))
        .bind(double(s.scores.overall_score))
        .bind(points(AdjustmentKind::Bonus))
        .bind(points(AdjustmentKind::Deduction))
        .bind(double(s.scores.procedural_quality))
        .bind(double(s.scores.personal_quality))
        .bind(&s.id)
        .execute(conn)
        .await?;
    Ok(())
}

impl Store {
    /// Inserts a survey and its facts with its retry key; `Replayed` when the key was recorded
    /// before.
    pub async fn insert_survey(&self, survey: &Survey, key: &Key) -> Result<Inserted, StoreError> {
        async {
            let mut tx = db::begin(&self.pool).await?;
            let produced = Recorded {
                resource_id: survey.id.clone(),
                ref_id: String::new(),
            };
            match outbox::record_change(
                &mut tx,
                Some((key, &produced)),
                &[],
                survey.create_time.timestamp_micros(),
            )
            .await
            {
                Ok(()) => {}
                Err(StoreError::Duplicate(_)) => return Ok(Inserted::Replayed),
                Err(e) => return Err(e),
            }
            insert_survey(&mut tx, survey).await?;
            write_facts(&mut tx, survey, true).await?;
            let now = survey.create_time.timestamp_micros();
            audit::record(&mut tx, SURVEY, &survey.id, now).await?;
            tx.commit().await?;
            Ok(Inserted::Created)
        }
        .traced(self.span("INSERT", "surveys", "feedback.insert_survey"))
        .await
    }

    /// Saves a changed survey and its facts if nobody changed it since `read_version`.
    pub async fn save_survey(&self, s: &Survey, read_version: i64) -> Result<bool, StoreError> {
        async {
            let mut tx = db::begin(&self.pool).await?;
            let mut sql = Sql::new("UPDATE surveys SET ");
            sql.bind("state = $?", s.state.code())
                .bind(", grade = $?", s.scores.grade.map_or("", grade_code))
                .bind(
                    ", service_type = $?",
                    s.scores.service_type.map_or("", service_type_code),
                )
                .bind(
                    ", answer_time = $?",
                    s.answer_time.map_or(0, |t| t.timestamp_micros()),
                )
                .bind(", doc = $?", to_doc(s))
                .bind(", version = $?", s.version)
                .bind(", update_time = $?", s.update_time.timestamp_micros())
                .bind(" WHERE id = $?", s.id.as_str())
                .bind(" AND version = $?", read_version);
            if sql.query().execute(&mut *tx).await?.rows_affected() != 1 {
                return Ok(false);
            }
            write_facts(&mut tx, s, false).await?;
            audit::record(&mut tx, SURVEY, &s.id, s.update_time.timestamp_micros()).await?;
            tx.commit().await?;
            Ok(true)
        }
        .traced(self.span("UPDATE", "surveys", "feedback.save_survey"))
        .await
    }

    /// Returns a survey by id.
    pub async fn get_survey(&self, id: &str) -> Result<Option<Survey>, StoreError> {
        async {
            let mut conn = db::acquire(&self.pool).await?;
            let row: Option<DocRow> = sqlx::query_as("SELECT id, doc FROM surveys WHERE id = $1")
                .bind(id)
                .fetch_optional(&mut *conn)
                .await?;
            row.map(|DocRow { id, doc }| from_doc(&id, &doc))
                .transpose()
        }
        .traced(self.span("SELECT", "surveys", "feedback.get_survey"))
        .await
    }

    /// Returns up to `limit` surveys before `before` in (send_time, id) order, newest first.
    pub async fn list_surveys(
        &self,
        filter: &SurveyFilter,
        before: Option<&Cursor>,
        limit: u32,
    ) -> Result<Vec<Survey>, StoreError> {
        async {
            let mut conn = db::acquire(&self.pool).await?;
            let SurveyFilter {
                customer_id,
                agent_id,
                subject_kind,
                grades,
                service_type,
                answer_time_start,
                answer_time_end,
            } = filter;
            let mut sql = Sql::new("SELECT id, doc FROM surveys WHERE 1 = 1");
            if let Some(c) = customer_id {
                sql.bind(" AND customer_id = $?", c.as_str());
            }
            if let Some(a) = agent_id {
                sql.bind(" AND agent_id = $?", a.as_str());
            }
            if let Some(k) = subject_kind {
                sql.bind(" AND subject_kind = $?", k.code());
            }
            let grades: Vec<&str> = grades.iter().map(|g| grade_code(*g)).collect();
            sql.and_in("grade", &grades);
            if let Some(t) = service_type {
                sql.bind(" AND service_type = $?", service_type_code(*t));
            }
            if answer_time_start.is_some() || answer_time_end.is_some() {
                // An unanswered survey (answer_time 0) was answered in no period.
                sql.push(" AND answer_time <> 0");
            }
            if let Some(t) = answer_time_start {
                sql.bind(" AND answer_time >= $?", t.timestamp_micros());
            }
            if let Some(t) = answer_time_end {
                sql.bind(" AND answer_time < $?", t.timestamp_micros());
            }
            if let Some(cursor) = before {
                sql.before("send_time", cursor.key, cursor.id.as_str());
            }
            sql.bind(
                " ORDER BY send_time DESC, id DESC LIMIT $?",
                i64::from(limit),
            );
            let rows: Vec<DocRow> = sql.query_as().fetch_all(&mut *conn).await?;
            db::returned_rows(rows.len());
            rows.into_iter()
                .map(|DocRow { id, doc }| from_doc(&id, &doc))
                .collect()
        }
        .traced(self.span("SELECT", "surveys", "feedback.list_surveys"))
        .await
    }
}
