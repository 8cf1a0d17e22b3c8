//! Staff-of-the-month handlers: RecordStaffMonth (a supervisor or manager records an agent's
//! attendance, leave and penalties; the same agent and month again replaces the record) and
//! ListStaffEvaluations (every recorded agent of a month evaluated, eligible first).
//!
//! The evaluation is computed when read (see `app/staff.rs`), so its order is not an index's:
//! a page token holds the last row's position in that order (eligible and score folded into
//! one key, then the agent id), signed like every listing's, and the next page starts after
//! that position. A record added or rescored between two pages therefore never shifts the
//! others (an offset would skip or repeat them); only the changed row itself may move.

use chrono::{Datelike, NaiveDate};
use csops_proto::feedback::v1 as pb;
use csops_runtime::paging::{self, Filters};
use csops_runtime::time::{now, to_timestamp};
use csops_runtime::violations::MAX_PAGE_TOKEN_LEN;
use csops_runtime::{Error, Violations};

use super::convert::{self, actor_pb};
use super::convert_surveys::grade_pb;
use super::{done, FeedbackApi, DEFAULT_PAGE_SIZE};
use crate::store::staff::{StaffEvaluation, StaffRecord};

/// Most penalties one month may list.
const MAX_PENALTIES: usize = 100;
/// Longest reason of a penalty, in characters.
const MAX_PENALTY: usize = 500;
/// Longest month text read before its format is checked ("YYYY-MM" is 7).
const MAX_MONTH: usize = 100;
/// Most leave a month can hold: 31 days of 24 hours.
const MAX_LEAVE_HOURS: f64 = 744.0;

fn check_record_sizes(r: &pb::RecordStaffMonthRequest) -> Result<(), Error> {
    let pb::RecordStaffMonthRequest { staff_month, actor } = r;
    let mut v = Violations::default();
    if let Some(m) = staff_month {
        v.max_id("staff_month.agent_id", &m.agent_id);
        v.max_len("staff_month.month", &m.month, MAX_MONTH);
        if v.max_items("staff_month.penalties", m.penalties.len(), MAX_PENALTIES) {
            for (i, p) in m.penalties.iter().enumerate() {
                v.max_len(&format!("staff_month.penalties[{i}]"), p, MAX_PENALTY);
            }
        }
    }
    if let Some(pb::Actor { id, role: _ }) = actor {
        v.max_id("actor.id", id);
    }
    done(v)
}

/// Reads a month, "YYYY-MM", into its first day.
fn read_month(field: &str, text: &str, v: &mut Violations) -> Option<NaiveDate> {
    let text = text.trim();
    if text.is_empty() {
        v.push(field, "is required");
        return None;
    }
    let shaped = text.len() == 7
        && text
            .char_indices()
            .all(|(i, c)| if i == 4 { c == '-' } else { c.is_ascii_digit() });
    let first = shaped
        .then(|| NaiveDate::parse_from_str(&format!("{text}-01"), "%Y-%m-%d").ok())
        .flatten();
    if first.is_none() {
        v.push(field, "must be a month, YYYY-MM (e.g. 2026-11)");
    }
    first
}

fn month_text(first: NaiveDate) -> String {
    format!("{:04}-{:02}", first.year(), first.month())
}

fn staff_month_pb(e: &StaffEvaluation) -> pb::StaffMonth {
    let StaffEvaluation {
        record,
        full_attendance,
        monthly_score,
        surveys,
        grade,
        eligible,
        ineligible_reasons,
        selected,
    } = e;
    let StaffRecord {
        agent_id,
        month,
        leave_hours,
        attendance_lapses,
        penalties,
        recorded_by,
        update_time,
    } = record;
    pb::StaffMonth {
        agent_id: agent_id.clone(),
        month: month.clone(),
        full_attendance: *full_attendance,
        penalties: penalties.clone(),
        monthly_score: *monthly_score,
        surveys: *surveys,
        grade: grade_pb(*grade) as i32,
        eligible: *eligible,
        ineligible_reasons: ineligible_reasons.clone(),
        recorded_by: Some(actor_pb(recorded_by)),
        update_time: Some(to_timestamp(*update_time)),
        leave_hours: *leave_hours,
        selected: *selected,
        attendance_lapses: i32::try_from(*attendance_lapses).unwrap_or(i32::MAX),
    }
}

pub(super) async fn record_staff_month(
    api: &FeedbackApi,
    request: pb::RecordStaffMonthRequest,
) -> Result<pb::RecordStaffMonthResponse, Error> {
    check_record_sizes(&request)?;
    let pb::RecordStaffMonthRequest { staff_month, actor } = request;
    let mut v = Violations::default();
    let input = match staff_month {
        None => {
            v.push("staff_month", "is required");
            None
        }
        Some(pb::StaffMonth {
            agent_id,
            month,
            // Output only: computed from leave_hours and attendance_lapses.
            full_attendance: _,
            penalties,
            monthly_score: _,
            surveys: _,
            grade: _,
            eligible: _,
            ineligible_reasons: _,
            recorded_by: _,
            update_time: _,
            leave_hours,
            selected: _,
            attendance_lapses,
        }) => {
            v.require_id("staff_month.agent_id", &agent_id);
            let first = read_month("staff_month.month", &month, &mut v);
            let this_month = now().date_naive().with_day(1);
            if let (Some(first), Some(this_month)) = (first, this_month) {
                if first > this_month {
                    v.push(
                        "staff_month.month",
                        format!(
                            "must not be after the current month ({})",
                            month_text(this_month)
                        ),
                    );
                }
            }
            if !(0.0..=MAX_LEAVE_HOURS).contains(&leave_hours) {
                v.push(
                    "staff_month.leave_hours",
                    format!("must be 0-{MAX_LEAVE_HOURS} hours (got {leave_hours})"),
                );
            }
            if attendance_lapses < 0 {
                v.push(
                    "staff_month.attendance_lapses",
                    format!("must be 0 or more (got {attendance_lapses})"),
                );
            }
            for (i, p) in penalties.iter().enumerate() {
                if p.trim().is_empty() {
                    v.push(
                        format!("staff_month.penalties[{i}]"),
                        "must give the penalty's reason",
                    );
                }
            }
            first.map(|first| {
                (
                    agent_id.trim().to_owned(),
                    month_text(first),
                    leave_hours,
                    u32::try_from(attendance_lapses).unwrap_or(0),
                    penalties
                        .iter()
                        .map(|p| p.trim().to_owned())
                        .collect::<Vec<_>>(),
                )
            })
        }
    };
    let actor = convert::actor(actor, &mut v);
    done(v)?;
    let Some((agent_id, month, leave_hours, attendance_lapses, penalties)) = input else {
        return Err(Error::invalid("staff_month", "is required"));
    };
    let evaluation = api
        .core
        .record_staff_month(StaffRecord {
            agent_id,
            month,
            leave_hours,
            attendance_lapses,
            penalties,
            recorded_by: actor,
            update_time: now(),
        })
        .await?;
    Ok(pb::RecordStaffMonthResponse {
        staff_month: Some(staff_month_pb(&evaluation)),
    })
}

pub(super) async fn list_staff_evaluations(
    api: &FeedbackApi,
    request: pb::ListStaffEvaluationsRequest,
) -> Result<pb::ListStaffEvaluationsResponse, Error> {
    let pb::ListStaffEvaluationsRequest {
        month,
        eligible_only,
        page_size,
        page_token,
    } = request;
    let mut v = Violations::default();
    v.max_len("month", &month, MAX_MONTH);
    v.max_len("page_token", &page_token, MAX_PAGE_TOKEN_LEN);
    done(v)?;
    let mut v = Violations::default();
    let month = read_month("month", &month, &mut v).map(month_text);
    let limit = paging::page_size(page_size, DEFAULT_PAGE_SIZE, &mut v);
    let month = month.unwrap_or_default();
    let filters = Filters::new("ListStaffEvaluations")
        .with("month", &month)
        .with("eligible_only", eligible_only);
    let after = api.page_tokens.read(&page_token, &filters, &mut v);
    done(v)?;
    let rows = api
        .core
        .list_staff_evaluations(&month, eligible_only, after.as_ref(), limit + 1)
        .await?;
    let (rows, next_page_token) =
        api.page_tokens
            .page(rows, limit, &filters, StaffEvaluation::cursor);
    Ok(pb::ListStaffEvaluationsResponse {
        staff_months: rows.iter().map(staff_month_pb).collect(),
        next_page_token,
    })
}
