//! The survey aggregates: counts and sums over the narrow `survey_facts` rows of a period, in
//! ONE statement per request, grouped by a slice column when asked. The SQL only counts and
//! sums (what [`Tally`] holds); every figure is computed from the tally by the domain.

use chrono::{DateTime, Utc};
use csops_runtime::db;
use csops_runtime::db::Traced as _;
use csops_runtime::sql::Sql;

use super::{Store, StoreError};
// The statement counts with the domain's own thresholds (the one place they live).
use crate::domain::scores::{
    DimensionTally, Dimensions, Tally, CSAT_SATISFIED_FROM, NPS_DETRACTOR_UP_TO, NPS_PROMOTER_FROM,
};

/// The column surveys are grouped by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScoreGrouping {
    /// `team_id`.
    Team,
    /// `agent_id`.
    Agent,
    /// `complaint_nature`.
    ComplaintNature,
    /// `customer_tier`.
    CustomerTier,
    /// `customer_region`.
    CustomerRegion,
    /// `channel` (its stored code, e.g. `phone`).
    Channel,
    /// `service_hall_id`.
    ServiceHall,
}

impl ScoreGrouping {
    fn column(self) -> &'static str {
        match self {
            ScoreGrouping::Team => "team_id",
            ScoreGrouping::Agent => "agent_id",
            ScoreGrouping::ComplaintNature => "complaint_nature",
            ScoreGrouping::CustomerTier => "customer_tier",
            ScoreGrouping::CustomerRegion => "customer_region",
            ScoreGrouping::Channel => "channel",
            ScoreGrouping::ServiceHall => "service_hall_id",
        }
    }
}

/// Which surveys are aggregated: sent in `[start, end)`, and for each non-empty list one of
/// its values (the lists combine with AND). Values are compared as stored; an empty string
/// matches the surveys without that slice.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScoreFilter {
    /// Sent at or after.
    pub start: DateTime<Utc>,
    /// Sent before.
    pub end: DateTime<Utc>,
    /// Only these teams.
    pub team_ids: Vec<String>,
    /// Only surveys rating these agents.
    pub agent_ids: Vec<String>,
    /// Only these complaint natures.
    pub complaint_natures: Vec<String>,
    /// Only these customer tiers.
    pub customer_tiers: Vec<String>,
    /// Only these customer regions.
    pub customer_regions: Vec<String>,
    /// Only these channels (stored codes).
    pub channels: Vec<String>,
    /// Only these service halls.
    pub service_hall_ids: Vec<String>,
    /// Only this template (any version).
    pub template_id: Option<String>,
}

/// One group's tally; `key` is the grouping column's value (`""` for the total).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupTally {
    /// The grouping column's value.
    pub key: String,
    /// Its counts and sums.
    pub tally: Tally,
}

/// The counts and sums one statement returns per group (or once, ungrouped). Every column is
/// BIGINT on both engines (`COUNT` is; each `SUM` is cast: PostgreSQL's `SUM` of a BIGINT is
/// NUMERIC, and `COALESCE` turns the `NULL` of a sum over no row into 0).
#[derive(Debug, sqlx::FromRow)]
struct TallyRow {
    group_key: String,
    sent: i64,
    responses: i64,
    complete: i64,
    csat_answers: i64,
    csat_satisfied: i64,
    nps_answers: i64,
    nps_promoters: i64,
    nps_detractors: i64,
    ces_answers: i64,
    ces_sum: i64,
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

/// A count read back (never negative).
fn count(x: i64) -> u64 {
    u64::try_from(x).unwrap_or(0)
}

fn dimension(answers: i64, expectation_sum: i64, perception_sum: i64) -> DimensionTally {
    DimensionTally {
        answers: count(answers),
        expectation_sum: count(expectation_sum),
        perception_sum: count(perception_sum),
    }
}

impl From<TallyRow> for GroupTally {
    fn from(row: TallyRow) -> Self {
        let TallyRow {
            group_key,
            sent,
            responses,
            complete,
            csat_answers,
            csat_satisfied,
            nps_answers,
            nps_promoters,
            nps_detractors,
            ces_answers,
            ces_sum,
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
        GroupTally {
            key: group_key,
            tally: Tally {
                surveys_sent: count(sent),
                responses: count(responses),
                complete_responses: count(complete),
                csat_answers: count(csat_answers),
                csat_satisfied: count(csat_satisfied),
                nps_answers: count(nps_answers),
                nps_promoters: count(nps_promoters),
                nps_detractors: count(nps_detractors),
                ces_answers: count(ces_answers),
                ces_sum: count(ces_sum),
                dimensions: Dimensions {
                    tangibles: dimension(tangibles_n, tangibles_e, tangibles_p),
                    empathy: dimension(empathy_n, empathy_e, empathy_p),
                    assurance: dimension(assurance_n, assurance_e, assurance_p),
                    responsiveness: dimension(responsiveness_n, responsiveness_e, responsiveness_p),
                    reliability: dimension(reliability_n, reliability_e, reliability_p),
                },
            },
        }
    }
}

/// `CAST(COALESCE(SUM(expr), 0) AS BIGINT) AS alias`.
fn sum(expr: &str, alias: &str) -> String {
    format!("CAST(COALESCE(SUM({expr}), 0) AS BIGINT) AS {alias}")
}

/// The select list: the counts and sums of a [`Tally`], in [`TallyRow`]'s names. A facts row
/// has both halves of a SERVQUAL dimension or neither (they are written from one answer), so
/// `COUNT(<dimension>_e)` counts the dimension's answers.
fn tally_columns() -> String {
    let mut columns = vec![
        "COUNT(*) AS sent".to_owned(),
        sum("responded", "responses"),
        sum("complete", "complete"),
        "COUNT(csat) AS csat_answers".to_owned(),
        sum(
            &format!("CASE WHEN csat >= {CSAT_SATISFIED_FROM} THEN 1 ELSE 0 END"),
            "csat_satisfied",
        ),
        "COUNT(nps) AS nps_answers".to_owned(),
        sum(
            &format!("CASE WHEN nps >= {NPS_PROMOTER_FROM} THEN 1 ELSE 0 END"),
            "nps_promoters",
        ),
        sum(
            &format!("CASE WHEN nps <= {NPS_DETRACTOR_UP_TO} THEN 1 ELSE 0 END"),
            "nps_detractors",
        ),
        "COUNT(ces) AS ces_answers".to_owned(),
        sum("ces", "ces_sum"),
    ];
    for d in [
        "tangibles",
        "empathy",
        "assurance",
        "responsiveness",
        "reliability",
    ] {
        columns.push(format!("COUNT({d}_e) AS {d}_n"));
        columns.push(sum(&format!("{d}_e"), &format!("{d}_e")));
        columns.push(sum(&format!("{d}_p"), &format!("{d}_p")));
    }
    columns.join(", ")
}

/// The statement of a request: one pass over the period's facts (PostgreSQL walks the
/// `send_time` index for a short period and scans the table in parallel for a long one),
/// filtered, grouped by `grouping`'s column when given, largest groups first.
fn statement(filter: &ScoreFilter, grouping: Option<ScoreGrouping>) -> Sql {
    let ScoreFilter {
        start,
        end,
        team_ids,
        agent_ids,
        complaint_natures,
        customer_tiers,
        customer_regions,
        channels,
        service_hall_ids,
        template_id,
    } = filter;
    let key = grouping.map_or("''", ScoreGrouping::column);
    let mut sql = Sql::new(&format!(
        "SELECT {key} AS group_key, {} FROM survey_facts",
        tally_columns()
    ));
    sql.bind(" WHERE send_time >= $?", start.timestamp_micros())
        .bind(" AND send_time < $?", end.timestamp_micros())
        .and_in("team_id", team_ids)
        .and_in("agent_id", agent_ids)
        .and_in("complaint_nature", complaint_natures)
        .and_in("customer_tier", customer_tiers)
        .and_in("customer_region", customer_regions)
        .and_in("channel", channels)
        .and_in("service_hall_id", service_hall_ids);
    if let Some(template_id) = template_id {
        sql.bind(" AND template_id = $?", template_id.as_str());
    }
    if let Some(grouping) = grouping {
        let column = grouping.column();
        sql.push(&format!(
            " GROUP BY {column} ORDER BY COUNT(*) DESC, {column}"
        ));
    }
    sql
}

impl Store {
    /// The tally of every survey of `filter` (the total) and, with a `grouping`, of each
    /// group: the `max_groups` largest by surveys sent (ties by key), largest first, and how
    /// many groups were left out. One statement: the total is the merge of every group's
    /// counts and sums (exact: they only add up), including the groups left out.
    pub async fn score_tallies(
        &self,
        filter: &ScoreFilter,
        grouping: Option<ScoreGrouping>,
        max_groups: usize,
    ) -> Result<(Tally, Vec<GroupTally>, usize), StoreError> {
        async {
            let mut conn = db::acquire(&self.pool).await?;
            let sql = statement(filter, grouping);
            // Not kept as a prepared statement: PostgreSQL plans a prepared statement with its
            // parameters five times, then may switch to a generic plan that cannot see the
            // period's bounds, estimates 0.5 % of the table for `send_time >= $1 AND send_time <
            // $2` and walks the `send_time` index in one process instead of scanning the table in
            // parallel. Over 1,000,000 surveys that made GetFeedbackScores take 1.05-1.43 s
            // instead of 0.38-0.82 s once a pooled connection had run it five times (BENCHMARKS.md,
            // issue 12). An unnamed statement is planned with its values at every call; parsing
            // and planning it cost about a millisecond against hundreds for the scan.
            let rows: Vec<TallyRow> = sql
                .query_as()
                .persistent(false)
                .fetch_all(&mut *conn)
                .await?;
            db::returned_rows(rows.len());
            let mut total = Tally::default();
            let mut groups = Vec::new();
            let mut left_out = 0;
            for row in rows {
                let group = GroupTally::from(row);
                total.merge(&group.tally);
                if grouping.is_none() {
                    continue;
                }
                if groups.len() < max_groups {
                    groups.push(group);
                } else {
                    left_out += 1;
                }
            }
            Ok((total, groups, left_out))
        }
        .traced(self.span("SELECT", "survey_facts", "feedback.score_tallies"))
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_bind_one_placeholder_per_value_and_grouping_orders_largest_first() {
        let filter = ScoreFilter {
            start: DateTime::from_timestamp(0, 0).unwrap_or_default(),
            end: DateTime::from_timestamp(60, 0).unwrap_or_default(),
            team_ids: vec!["t1".into(), "t2".into()],
            agent_ids: Vec::new(),
            complaint_natures: Vec::new(),
            customer_tiers: vec!["A".into()],
            customer_regions: Vec::new(),
            channels: vec!["phone".into()],
            service_hall_ids: Vec::new(),
            template_id: Some("after-repair".into()),
        };
        let sql = statement(&filter, Some(ScoreGrouping::Team));
        let text = sql.text();
        assert!(text.starts_with("SELECT team_id AS group_key, COUNT(*) AS sent"));
        assert!(text.ends_with(
            " FROM survey_facts WHERE send_time >= $1 AND send_time < $2 \
             AND team_id IN ($3, $4) AND customer_tier IN ($5) AND channel IN ($6) \
             AND template_id = $7 GROUP BY team_id ORDER BY COUNT(*) DESC, team_id"
        ));
        let total = statement(&filter, None);
        assert!(total.text().starts_with("SELECT '' AS group_key, "));
        assert!(!total.text().contains("GROUP BY"));
    }
}
