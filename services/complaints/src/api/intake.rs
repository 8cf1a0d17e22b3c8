//! Intake and the complaint resource: CreateComplaint, GetComplaint, ListComplaints and
//! UpdateComplaint.

use csops_proto::complaints::v1 as pb;
use csops_runtime::idempotency::Key;
use csops_runtime::paging::{self, Cursor, Filters};
use csops_runtime::time::to_micros_opt;
use csops_runtime::Error;

use super::enums::ProtoEnum;
use super::{convert, done, known, limits, ComplaintsApi};
use crate::domain::{Level, Nature, Severity, State, Violations};
use crate::store::ListFilter;

/// Handles `create_complaint`.
pub(super) async fn create_complaint(
    api: &ComplaintsApi,
    request: pb::CreateComplaintRequest,
) -> Result<pb::CreateComplaintResponse, Error> {
    limits::check(&request)?;
    let key = Key::new("create", request.request_id.trim(), &request);
    let pb::CreateComplaintRequest {
        complaint,
        request_id,
        actor,
    } = request;
    let mut v = Violations::default();
    v.require_request_id(&request_id);
    let actor = convert::actor(actor, &mut v);
    let Some(complaint) = complaint else {
        v.push("complaint", "is required");
        return Err(Error::InvalidArgument(v));
    };
    let input = convert::input(complaint, &mut v);
    done(v)?;
    let c = api.core.create(input, &key, actor).await?;
    Ok(pb::CreateComplaintResponse {
        complaint: Some(api.to_pb(&c)),
    })
}

/// Handles `get_complaint`.
pub(super) async fn get_complaint(
    api: &ComplaintsApi,
    request: pb::GetComplaintRequest,
) -> Result<pb::GetComplaintResponse, Error> {
    limits::check(&request)?;
    let pb::GetComplaintRequest { complaint_id } = request;
    let mut v = Violations::default();
    v.require_id("complaint_id", &complaint_id);
    done(v)?;
    let c = api.load(&complaint_id).await?;
    Ok(pb::GetComplaintResponse {
        complaint: Some(api.to_pb(&c)),
    })
}

/// Handles `list_complaints`.
pub(super) async fn list_complaints(
    api: &ComplaintsApi,
    request: pb::ListComplaintsRequest,
) -> Result<pb::ListComplaintsResponse, Error> {
    limits::check(&request)?;
    let pb::ListComplaintsRequest {
        page_size,
        page_token,
        states,
        natures,
        severities,
        assigned_agent_id,
        unassigned,
        customer_id,
        sla_state,
        create_time_start,
        create_time_end,
        escalation_level,
        accountable_agent_id,
    } = request;
    let mut v = Violations::default();
    let limit = paging::page_size(page_size, 50, &mut v);
    let mut filter = ListFilter::default();
    for (i, s) in states.iter().enumerate() {
        match State::from_number(*s) {
            Some(s) => filter.states.push(s.code().to_owned()),
            None => v.push(format!("states[{i}]"), "unknown state"),
        }
    }
    for (i, s) in natures.iter().enumerate() {
        match Nature::from_number(*s) {
            Some(s) => filter.natures.push(s.code().to_owned()),
            None => v.push(format!("natures[{i}]"), "unknown nature"),
        }
    }
    for (i, s) in severities.iter().enumerate() {
        match Severity::from_number(*s) {
            Some(s) => filter.severities.push(s.code().to_owned()),
            None => v.push(format!("severities[{i}]"), "unknown severity"),
        }
    }
    // An agent lists only their own cases, or the unassigned queue.
    filter.assigned_agent_id = Some(assigned_agent_id.trim().to_owned()).filter(|s| !s.is_empty());
    if !unassigned {
        filter.assigned_agent_id = csops_runtime::auth::listing_owner(filter.assigned_agent_id)
            .map_err(Error::PermissionDenied)?;
    }
    filter.unassigned = unassigned;
    if unassigned && filter.assigned_agent_id.is_some() {
        v.push("unassigned", "cannot be combined with assigned_agent_id");
    }
    filter.accountable_agent_id =
        Some(accountable_agent_id.trim().to_owned()).filter(|s| !s.is_empty());
    filter.customer_id = Some(customer_id.trim().to_owned()).filter(|s| !s.is_empty());
    filter.sla_states = match pb::SlaStateFilter::try_from(sla_state) {
        Ok(pb::SlaStateFilter::Unspecified) => vec![],
        Ok(pb::SlaStateFilter::AtRisk) => vec!["at_risk".into()],
        Ok(pb::SlaStateFilter::Breached) => vec!["breached".into()],
        Ok(pb::SlaStateFilter::AtRiskOrBreached) => vec!["at_risk".into(), "breached".into()],
        Ok(pb::SlaStateFilter::OnTrack) => vec!["on_track".into()],
        Err(_) => {
            v.push("sla_state", "unknown value");
            vec![]
        }
    };
    filter.create_time_start = convert::instant("create_time_start", create_time_start, &mut v);
    filter.create_time_end = convert::instant("create_time_end", create_time_end, &mut v);
    filter.escalation_level = known(
        Level::from_number(escalation_level),
        escalation_level,
        "escalation_level",
        &mut v,
    )
    .map(|l| l.code().to_owned());
    let filters = list_filters(&filter);
    let after = api.page_tokens.read(&page_token, &filters, &mut v);
    done(v)?;
    let rows = api
        .core
        .store
        .list(&filter, after.as_ref(), limit + 1)
        .await?;
    let (rows, next_page_token) = api.page_tokens.page(rows, limit, &filters, |last| Cursor {
        key: last.create_time.timestamp_micros(),
        id: last.id.clone(),
    });
    Ok(pb::ListComplaintsResponse {
        complaints: rows.iter().map(|c| api.to_pb(c)).collect(),
        next_page_token,
    })
}

/// The canonical filters of a ListComplaints page, for its page token.
fn list_filters(filter: &ListFilter) -> Filters {
    let ListFilter {
        states,
        natures,
        severities,
        assigned_agent_id,
        unassigned,
        accountable_agent_id,
        customer_id,
        sla_states,
        create_time_start,
        create_time_end,
        escalation_level,
    } = filter;
    Filters::new("ListComplaints")
        .with_all("states", states)
        .with_all("natures", natures)
        .with_all("severities", severities)
        .with(
            "assigned_agent_id",
            assigned_agent_id.as_deref().unwrap_or(""),
        )
        .with("unassigned", unassigned)
        .with(
            "accountable_agent_id",
            accountable_agent_id.as_deref().unwrap_or(""),
        )
        .with("customer_id", customer_id.as_deref().unwrap_or(""))
        .with_all("sla_states", sla_states)
        // Stored microseconds (0 for unset), the form page tokens were always signed over.
        .with("create_time_start", to_micros_opt(*create_time_start))
        .with("create_time_end", to_micros_opt(*create_time_end))
        .with(
            "escalation_level",
            escalation_level.as_deref().unwrap_or(""),
        )
}

/// Handles `update_complaint`.
pub(super) async fn update_complaint(
    api: &ComplaintsApi,
    request: pb::UpdateComplaintRequest,
) -> Result<pb::UpdateComplaintResponse, Error> {
    limits::check(&request)?;
    let pb::UpdateComplaintRequest {
        complaint,
        update_mask,
        actor,
    } = request;
    let mut v = Violations::default();
    let actor = convert::actor(actor, &mut v);
    let Some(complaint) = complaint else {
        v.push("complaint", "is required");
        return Err(Error::InvalidArgument(v));
    };
    v.require_id("complaint.id", &complaint.id);
    if complaint.etag.trim().is_empty() {
        v.push(
            "complaint.etag",
            "is required: send the etag of the complaint you read",
        );
    }
    let id = complaint.id.clone();
    let etag = complaint.etag.clone();
    let paths = update_mask.map(|m| m.paths).unwrap_or_default();
    let patch = match convert::patch(complaint, &paths) {
        Ok(p) => Some(p),
        Err(more) => {
            v.extend(more);
            None
        }
    };
    done(v)?;
    let Some(patch) = patch else {
        return Err(Error::invalid("update_mask", "is required"));
    };
    let (c, _) = api
        .mutate(&id, &etag, None, |c, rules, now| {
            c.update(patch.clone(), paths.clone(), &actor, rules, now)
                .map(|effects| (String::new(), effects))
        })
        .await
        .map_err(|e| match e {
            Error::InvalidArgument(v) => Error::InvalidArgument(v.prefixed("complaint")),
            other => other,
        })?;
    tracing::info!(complaint_id = %id, fields = ?paths, "complaint updated");
    Ok(pb::UpdateComplaintResponse {
        complaint: Some(api.to_pb(&c)),
    })
}
