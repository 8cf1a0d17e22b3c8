//! Activity handlers: RecordActivity (other services' events, once each) and
//! ListProcessIndicators, the per-agent process figures of a period.

use csops_proto::feedback::v1 as pb;
use csops_runtime::paging::{self, Cursor, Filters};
use csops_runtime::time::{from_timestamp, to_timestamp};
use csops_runtime::violations::{MAX_FILTER_VALUES, MAX_PAGE_TOKEN_LEN};
use csops_runtime::{Error, RuleError, Violations};

use super::convert::subject_kind_of;
use super::convert_surveys::{dimension_pb, grade_pb};
use super::{done, FeedbackApi, DEFAULT_PAGE_SIZE};
use crate::domain::indicators::{
    ActivityKind, DimensionGap, Indicators, NewActivity, Period, MAX_CODE,
};
use crate::domain::Subject;

/// Answers INVALID_ARGUMENT naming every field over its documented maximum.
fn sizes(check: impl FnOnce(&mut Violations)) -> Result<(), Error> {
    let mut v = Violations::default();
    check(&mut v);
    done(v)
}

fn record_sizes(r: &pb::RecordActivityRequest, v: &mut Violations) {
    let pb::RecordActivityRequest { activity } = r;
    let Some(pb::Activity {
        kind: _,
        customer_id,
        agent_id,
        subject,
        category,
        clock_kind,
        occur_time: _,
        source_service,
        source_event_id,
    }) = activity
    else {
        return;
    };
    v.max_id("activity.customer_id", customer_id);
    v.max_id("activity.agent_id", agent_id);
    if let Some(pb::Subject { kind: _, id }) = subject {
        v.max_id("activity.subject.id", id);
    }
    v.max_len("activity.category", category, MAX_CODE);
    v.max_len("activity.clock_kind", clock_kind, MAX_CODE);
    v.max_id("activity.source_service", source_service);
    v.max_id("activity.source_event_id", source_event_id);
}

fn list_sizes(r: &pb::ListProcessIndicatorsRequest, v: &mut Violations) {
    let pb::ListProcessIndicatorsRequest {
        period_start: _,
        period_end: _,
        agent_ids,
        page_size: _,
        page_token,
    } = r;
    if v.max_items("agent_ids", agent_ids.len(), MAX_FILTER_VALUES) {
        for (i, id) in agent_ids.iter().enumerate() {
            v.max_id(&format!("agent_ids[{i}]"), id);
        }
    }
    v.max_len("page_token", page_token, MAX_PAGE_TOKEN_LEN);
}

fn activity_kind_of(n: i32) -> Option<ActivityKind> {
    Some(match pb::ActivityKind::try_from(n).ok()? {
        pb::ActivityKind::ContactHandled => ActivityKind::ContactHandled,
        pb::ActivityKind::ComplaintReceived => ActivityKind::ComplaintReceived,
        pb::ActivityKind::ClockMet => ActivityKind::ClockMet,
        pb::ActivityKind::ClockMetLate => ActivityKind::ClockMetLate,
        pb::ActivityKind::ClockBreached => ActivityKind::ClockBreached,
        pb::ActivityKind::FieldJobCompleted => ActivityKind::FieldJobCompleted,
        pb::ActivityKind::VisitCompleted => ActivityKind::VisitCompleted,
        pb::ActivityKind::CustomerContact => ActivityKind::CustomerContact,
        pb::ActivityKind::Unspecified => return None,
    })
}

pub(super) async fn record_activity(
    api: &FeedbackApi,
    request: pb::RecordActivityRequest,
) -> Result<pb::RecordActivityResponse, Error> {
    sizes(|v| record_sizes(&request, v))?;
    let pb::RecordActivityRequest { activity } = request;
    let Some(pb::Activity {
        kind,
        customer_id,
        agent_id,
        subject,
        category,
        clock_kind,
        occur_time,
        source_service,
        source_event_id,
    }) = activity
    else {
        return Err(Error::invalid("activity", "is required"));
    };
    let mut v = Violations::default();
    let kind = v.required_enum(activity_kind_of(kind), kind, "activity.kind");
    let subject = subject.and_then(|pb::Subject { kind, id }| {
        let kind = v.required_enum(subject_kind_of(kind), kind, "activity.subject.kind")?;
        Some(Subject { kind, id })
    });
    if occur_time.is_none() {
        v.push("activity.occur_time", "is required");
    }
    let occur_time = from_timestamp("activity.occur_time", occur_time, &mut v);
    // Placeholders where a field is broken: the violations answer before they are used.
    let input = NewActivity {
        kind: kind.unwrap_or(ActivityKind::CustomerContact),
        customer_id,
        agent_id,
        subject,
        category,
        clock_kind,
        occur_time: occur_time.unwrap_or_default(),
        source_service,
        source_event_id,
    };
    input.check(&mut v);
    done(v)?;
    let duplicate = api.core.record_activity(input).await?;
    Ok(pb::RecordActivityResponse { duplicate })
}

fn indicators_pb(i: &Indicators) -> pb::ProcessIndicators {
    let Indicators {
        agent_id,
        period,
        counts,
        complaint_rate,
        on_time_rate,
        repeat_complaint_rate,
        complaints_per_thousand_customers,
        first_contact_on_time_rate,
        resolution_on_time_rate,
        contacts_per_customer,
        surveys,
        mean_survey_score,
        grade,
        dimension_gaps,
    } = i;
    let crate::domain::indicators::ActivityCounts {
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
        // Only in contacts_per_customer; the contract shows no count of its own.
        customer_contacts: _,
    } = *counts;
    pb::ProcessIndicators {
        agent_id: agent_id.clone(),
        period_start: Some(to_timestamp(period.start)),
        period_end: Some(to_timestamp(period.end)),
        contacts_handled,
        complaints,
        complaint_rate: *complaint_rate,
        clocks_total,
        clocks_met,
        on_time_rate: *on_time_rate,
        repeat_complaints,
        repeat_complaint_rate: *repeat_complaint_rate,
        surveys: *surveys,
        mean_survey_score: *mean_survey_score,
        grade: grade_pb(*grade) as i32,
        dimension_gaps: dimension_gaps
            .iter()
            .map(
                |DimensionGap {
                     dimension,
                     mean_gap,
                     answers,
                 }| pb::DimensionGap {
                    dimension: dimension_pb(*dimension) as i32,
                    mean_gap: *mean_gap,
                    answers: *answers,
                },
            )
            .collect(),
        customers,
        complaints_per_thousand_customers: *complaints_per_thousand_customers,
        first_contact_clocks,
        first_contact_met,
        first_contact_on_time_rate: *first_contact_on_time_rate,
        resolution_clocks,
        resolution_met,
        resolution_on_time_rate: *resolution_on_time_rate,
        visits_completed,
        contacts_per_customer: *contacts_per_customer,
    }
}

pub(super) async fn list_process_indicators(
    api: &FeedbackApi,
    request: pb::ListProcessIndicatorsRequest,
) -> Result<pb::ListProcessIndicatorsResponse, Error> {
    sizes(|v| list_sizes(&request, v))?;
    let pb::ListProcessIndicatorsRequest {
        period_start,
        period_end,
        agent_ids,
        page_size,
        page_token,
    } = request;
    let mut v = Violations::default();
    for (field, t) in [("period_start", &period_start), ("period_end", &period_end)] {
        if t.is_none() {
            v.push(field, "is required");
        }
    }
    let start = from_timestamp("period_start", period_start, &mut v);
    let end = from_timestamp("period_end", period_end, &mut v);
    let period = match (start, end) {
        (Some(start), Some(end)) => match Period::new(start, end) {
            Ok(p) => Some(p),
            Err(RuleError::Invalid(broken)) => {
                v.extend(broken);
                None
            }
            Err(other) => return Err(other.into()),
        },
        _ => None,
    };
    let mut agents = Vec::with_capacity(agent_ids.len());
    for (i, id) in agent_ids.iter().enumerate() {
        let id = id.trim();
        if id.is_empty() {
            v.push(format!("agent_ids[{i}]"), "must not be empty");
        } else {
            agents.push(id.to_owned());
        }
    }
    agents.sort();
    agents.dedup();
    let limit = paging::page_size(page_size, DEFAULT_PAGE_SIZE, &mut v);
    let filters = Filters::new("ListProcessIndicators")
        .with("period_start", start.map_or(0, |t| t.timestamp_micros()))
        .with("period_end", end.map_or(0, |t| t.timestamp_micros()))
        .with_all("agent_ids", &agents);
    let after = api.page_tokens.read(&page_token, &filters, &mut v);
    done(v)?;
    let Some(period) = period else {
        return Err(Error::invalid("period_end", "is required"));
    };
    let (rows, total) = api
        .core
        .list_process_indicators(period, &agents, after.as_ref(), limit + 1)
        .await?;
    let (rows, next_page_token) = api.page_tokens.page(rows, limit, &filters, |last| Cursor {
        key: 0,
        id: last.agent_id.clone(),
    });
    Ok(pb::ListProcessIndicatorsResponse {
        agents: rows.iter().map(indicators_pb).collect(),
        total: Some(indicators_pb(&total)),
        next_page_token,
    })
}
