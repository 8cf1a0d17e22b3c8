//! Score handlers: GetFeedbackScores, the survey aggregates of a period by slice and group.

use chrono::{DateTime, TimeDelta, Utc};
use csops_proto::feedback::v1 as pb;
use csops_runtime::time::from_timestamp;
use csops_runtime::violations::MAX_FILTER_VALUES;
use csops_runtime::{Error, Violations};

use super::{done, FeedbackApi};
use crate::domain::scores::{Dimension, Tally};
use crate::domain::survey::SurveyChannel;
use crate::store::scores::{ScoreFilter, ScoreGrouping};

/// The longest period one request aggregates: a year, leap day included.
const MAX_PERIOD_DAYS: i64 = 366;

/// The request's lists and strings within their maxima (at most [`MAX_FILTER_VALUES`] values
/// per list, each at most 100 characters), before anything else is read.
fn check_sizes(request: &pb::GetFeedbackScoresRequest) -> Result<(), Error> {
    let pb::GetFeedbackScoresRequest {
        period_start: _,
        period_end: _,
        group_by: _,
        team_ids,
        agent_ids,
        complaint_natures,
        customer_tiers,
        customer_regions,
        channels,
        service_hall_ids,
        template_id,
    } = request;
    let mut v = Violations::default();
    for (field, values) in [
        ("team_ids", team_ids),
        ("agent_ids", agent_ids),
        ("complaint_natures", complaint_natures),
        ("customer_tiers", customer_tiers),
        ("customer_regions", customer_regions),
        ("service_hall_ids", service_hall_ids),
    ] {
        if v.max_items(field, values.len(), MAX_FILTER_VALUES) {
            for (i, value) in values.iter().enumerate() {
                v.max_id(&format!("{field}[{i}]"), value);
            }
        }
    }
    v.max_items("channels", channels.len(), MAX_FILTER_VALUES);
    v.max_id("template_id", template_id);
    done(v)
}

fn grouping_of(n: i32) -> Option<Option<ScoreGrouping>> {
    Some(match pb::GroupBy::try_from(n).ok()? {
        pb::GroupBy::Unspecified => None,
        pb::GroupBy::Team => Some(ScoreGrouping::Team),
        pb::GroupBy::Agent => Some(ScoreGrouping::Agent),
        pb::GroupBy::ComplaintNature => Some(ScoreGrouping::ComplaintNature),
        pb::GroupBy::CustomerTier => Some(ScoreGrouping::CustomerTier),
        pb::GroupBy::CustomerRegion => Some(ScoreGrouping::CustomerRegion),
        pb::GroupBy::Channel => Some(ScoreGrouping::Channel),
        pb::GroupBy::ServiceHall => Some(ScoreGrouping::ServiceHall),
    })
}

fn channel_of(n: i32) -> Option<SurveyChannel> {
    Some(match pb::SurveyChannel::try_from(n).ok()? {
        pb::SurveyChannel::Phone => SurveyChannel::Phone,
        pb::SurveyChannel::Sms => SurveyChannel::Sms,
        pb::SurveyChannel::Web => SurveyChannel::Web,
        pb::SurveyChannel::InPerson => SurveyChannel::InPerson,
        pb::SurveyChannel::Paper => SurveyChannel::Paper,
        pb::SurveyChannel::Unspecified => return None,
    })
}

fn channel_pb(c: SurveyChannel) -> pb::SurveyChannel {
    match c {
        SurveyChannel::Phone => pb::SurveyChannel::Phone,
        SurveyChannel::Sms => pb::SurveyChannel::Sms,
        SurveyChannel::Web => pb::SurveyChannel::Web,
        SurveyChannel::InPerson => pb::SurveyChannel::InPerson,
        SurveyChannel::Paper => pb::SurveyChannel::Paper,
    }
}

fn dimension_pb(d: Dimension) -> pb::Dimension {
    match d {
        Dimension::Tangibles => pb::Dimension::Tangibles,
        Dimension::Empathy => pb::Dimension::Empathy,
        Dimension::Assurance => pb::Dimension::Assurance,
        Dimension::Responsiveness => pb::Dimension::Responsiveness,
        Dimension::Reliability => pb::Dimension::Reliability,
    }
}

/// A group's key as the answer shows it: a channel by its enum name (`SURVEY_CHANNEL_PHONE`,
/// which sorts as the stored codes do), any other slice as stored.
fn key_pb(grouping: Option<ScoreGrouping>, key: String) -> String {
    match (grouping, SurveyChannel::from_code(&key)) {
        (Some(ScoreGrouping::Channel), Some(c)) => channel_pb(c).as_str_name().to_owned(),
        _ => key,
    }
}

/// A figure: its value (0 when nothing stands behind it) and the answers behind it.
fn figure(value: Option<f64>, answers: u64) -> Option<pb::ScoreFigure> {
    Some(pb::ScoreFigure {
        value: value.unwrap_or(0.0),
        answers: i64::try_from(answers).unwrap_or(i64::MAX),
    })
}

fn int(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// A group of the answer from its tally: the counts as summed, the figures by the domain's
/// rules. Every dimension is listed, in the five's order; one without answers has
/// `answers` 0 (and a gap of 0 that means nothing).
fn group_pb(key: String, tally: &Tally) -> pb::ScoreGroup {
    let s = tally.scores();
    pb::ScoreGroup {
        key,
        sent: int(tally.surveys_sent),
        responses: int(tally.responses),
        complete: int(tally.complete_responses),
        response_rate: s.response_rate.value.unwrap_or(0.0),
        csat: figure(s.csat.value, s.csat.count),
        nps: figure(s.nps.value, s.nps.count),
        ces: figure(s.ces.value, s.ces.count),
        dimension_gaps: s
            .dimensions
            .iter()
            .map(|(d, score)| pb::DimensionGap {
                dimension: dimension_pb(d) as i32,
                mean_gap: score.gap.unwrap_or(0.0),
                answers: int(score.answers),
            })
            .collect(),
        servqual_gap: figure(s.servqual_gap.value, s.servqual_gap.count),
    }
}

/// A required Timestamp field: "is required" when unset, else as [`from_timestamp`] reads it.
fn required_time(
    field: &str,
    t: Option<prost_types::Timestamp>,
    v: &mut Violations,
) -> Option<DateTime<Utc>> {
    if t.is_none() {
        v.push(field, "is required");
    }
    from_timestamp(field, t, v)
}

/// Filter values as stored (surrounding blanks dropped).
fn values(list: Vec<String>) -> Vec<String> {
    list.into_iter().map(|s| s.trim().to_owned()).collect()
}

pub(super) async fn get_feedback_scores(
    api: &FeedbackApi,
    request: pb::GetFeedbackScoresRequest,
) -> Result<pb::GetFeedbackScoresResponse, Error> {
    check_sizes(&request)?;
    let pb::GetFeedbackScoresRequest {
        period_start,
        period_end,
        group_by,
        team_ids,
        agent_ids,
        complaint_natures,
        customer_tiers,
        customer_regions,
        channels,
        service_hall_ids,
        template_id,
    } = request;
    let mut v = Violations::default();
    let start = required_time("period_start", period_start, &mut v);
    let end = required_time("period_end", period_end, &mut v);
    if let (Some(start), Some(end)) = (start, end) {
        if end <= start {
            v.push("period_end", "must be after period_start");
        } else if end - start > TimeDelta::days(MAX_PERIOD_DAYS) {
            v.push(
                "period_end",
                format!("must be at most {MAX_PERIOD_DAYS} days after period_start"),
            );
        }
    }
    let grouping = v.optional_enum(grouping_of(group_by), group_by, "group_by");
    let channels: Vec<String> = channels
        .iter()
        .enumerate()
        .filter_map(|(i, n)| v.required_enum(channel_of(*n), *n, &format!("channels[{i}]")))
        .map(|c| c.code().to_owned())
        .collect();
    done(v)?;
    let (Some(start), Some(end)) = (start, end) else {
        return Err(Error::invalid("period_start", "is required"));
    };
    let grouping = grouping.flatten();
    let template_id = template_id.trim();
    let filter = ScoreFilter {
        start,
        end,
        team_ids: values(team_ids),
        agent_ids: values(agent_ids),
        complaint_natures: values(complaint_natures),
        customer_tiers: values(customer_tiers),
        customer_regions: values(customer_regions),
        channels,
        service_hall_ids: values(service_hall_ids),
        template_id: (!template_id.is_empty()).then(|| template_id.to_owned()),
    };
    let tallies = api.core.feedback_scores(&filter, grouping).await?;
    Ok(pb::GetFeedbackScoresResponse {
        total: Some(group_pb(String::new(), &tallies.total)),
        groups: tallies
            .groups
            .into_iter()
            .map(|g| group_pb(key_pb(grouping, g.key), &g.tally))
            .collect(),
    })
}
