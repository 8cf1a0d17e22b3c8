//! Care-event handlers: list and skip.

use chrono::NaiveDate;
use csops_proto::visits::v1 as pb;
use csops_runtime::paging::{self, Cursor, Filters};
use csops_runtime::{Error, Violations};

use super::convert::{self, care_pb};
use super::limits;
use super::{done, VisitsApi, DEFAULT_PAGE_SIZE};
use crate::domain::visit::MAX_REASON;
use crate::store::care_date_key;
use crate::store::CareFilter;

fn date(v: &mut Violations, field: &str, text: &str) -> Option<NaiveDate> {
    let text = text.trim();
    if text.is_empty() {
        return None;
    }
    NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .map_err(|_| v.push(field, "must be a date YYYY-MM-DD"))
        .ok()
}

fn care_filters(f: &CareFilter) -> Filters {
    let CareFilter {
        customer_id,
        owner_agent_id,
        states,
        occasions,
        date_start,
        date_end,
    } = f;
    Filters::new("ListCareEvents")
        .with("customer_id", customer_id.as_deref().unwrap_or(""))
        .with("owner_agent_id", owner_agent_id.as_deref().unwrap_or(""))
        .with_all("states", states.iter().map(|s| s.code()))
        .with_all("occasions", occasions.iter().map(|o| o.code()))
        .with(
            "date_start",
            date_start.map(|d| d.to_string()).unwrap_or_default(),
        )
        .with(
            "date_end",
            date_end.map(|d| d.to_string()).unwrap_or_default(),
        )
}

pub(super) async fn list_care_events(
    api: &VisitsApi,
    request: pb::ListCareEventsRequest,
) -> Result<pb::ListCareEventsResponse, Error> {
    limits::check(&request)?;
    let pb::ListCareEventsRequest {
        page_size,
        page_token,
        customer_id,
        owner_agent_id,
        states,
        occasions,
        occasion_date_start,
        occasion_date_end,
    } = request;
    let mut v = Violations::default();
    let limit = paging::page_size(page_size, DEFAULT_PAGE_SIZE, &mut v);
    let some = |s: String| Some(s.trim().to_owned()).filter(|s| !s.is_empty());
    let filter = CareFilter {
        customer_id: some(customer_id),
        owner_agent_id: some(owner_agent_id),
        states: states
            .iter()
            .enumerate()
            .filter_map(|(i, n)| {
                v.required_enum(convert::care_state_of(*n), *n, &format!("states[{i}]"))
            })
            .collect(),
        occasions: occasions
            .iter()
            .enumerate()
            .filter_map(|(i, n)| {
                v.required_enum(convert::occasion_of(*n), *n, &format!("occasions[{i}]"))
            })
            .collect(),
        date_start: date(&mut v, "occasion_date_start", &occasion_date_start),
        date_end: date(&mut v, "occasion_date_end", &occasion_date_end),
    };
    let filters = care_filters(&filter);
    let after = api.page_tokens.read(&page_token, &filters, &mut v);
    done(v)?;
    let rows = api
        .core
        .list_care(&filter, after.as_ref(), limit + 1)
        .await?;
    let (rows, next_page_token) = api.page_tokens.page(rows, limit, &filters, |last| Cursor {
        key: care_date_key(last.occasion_date),
        id: last.id.clone(),
    });
    Ok(pb::ListCareEventsResponse {
        care_events: rows.iter().map(care_pb).collect(),
        next_page_token,
    })
}

pub(super) async fn skip_care_event(
    api: &VisitsApi,
    request: pb::SkipCareEventRequest,
) -> Result<pb::SkipCareEventResponse, Error> {
    limits::check(&request)?;
    let pb::SkipCareEventRequest {
        care_event_id,
        reason,
        actor,
    } = request;
    let mut v = Violations::default();
    v.require_id("care_event_id", &care_event_id);
    let reason = reason.trim().to_owned();
    if reason.is_empty() {
        v.push("reason", "is required");
    } else if reason.chars().count() > MAX_REASON {
        v.push("reason", format!("must be at most {MAX_REASON} characters"));
    }
    convert::actor(actor, &mut v);
    done(v)?;
    let care = api.core.skip_care(&care_event_id, &reason).await?;
    Ok(pb::SkipCareEventResponse {
        care_event: Some(care_pb(&care)),
    })
}
