//! Visit handlers: create (by hand, or asked by the complaints service), read, list, update,
//! the state changes, and a person's agenda.

use csops_proto::visits::v1 as pb;
use csops_runtime::idempotency::Key;
use csops_runtime::paging::{self, Cursor, Filters};
use csops_runtime::time::{from_timestamp, now};
use csops_runtime::{Error, Violations};

use super::convert::{self, visit_pb};
use super::limits;
use super::{done, VisitsApi, DEFAULT_PAGE_SIZE};
use crate::app::Booked;
use crate::domain::visit::{
    CareKind, NewVisit, Outcome, Purpose, Source, SourceKind, Visit, VisitState, MAX_DESCRIPTION,
    MAX_NOTES, MAX_REASON,
};
use crate::domain::{Method, Outgoing};
use crate::store::VisitFilter;

/// Fields UpdateVisit may change.
const UPDATABLE: [&str; 7] = [
    "purpose",
    "method",
    "gift",
    "description",
    "notes",
    "assigned_agent_id",
    "due_time",
];

/// The latest a visit may be due, counted from now.
const MAX_AHEAD: chrono::TimeDelta = chrono::TimeDelta::days(366);

fn text(v: &mut Violations, field: &str, value: &str, max: usize, required: bool) -> String {
    let value = value.trim();
    if required && value.is_empty() {
        v.push(field, "is required");
    } else if value.chars().count() > max {
        v.push(field, format!("must be at most {max} characters"));
    }
    value.to_owned()
}

fn due(
    v: &mut Violations,
    field: &str,
    t: Option<prost_types::Timestamp>,
) -> Option<chrono::DateTime<chrono::Utc>> {
    if t.is_none() {
        v.push(field, "is required");
        return None;
    }
    let t = from_timestamp(field, t, v)?;
    let now = now();
    if t > now + MAX_AHEAD || t < now - MAX_AHEAD {
        v.push(field, "must be within a year of now");
    }
    Some(t)
}

pub(super) async fn create_visit(
    api: &VisitsApi,
    request: pb::CreateVisitRequest,
) -> Result<pb::CreateVisitResponse, Error> {
    limits::check(&request)?;
    let key = Key::new("create-visit", request.request_id.trim(), &request);
    let pb::CreateVisitRequest {
        visit,
        request_id,
        actor,
    } = request;
    let mut v = Violations::default();
    v.require_request_id(&request_id);
    let actor = convert::actor(actor, &mut v);
    let Some(x) = visit else {
        v.push("visit", "is required");
        return Err(Error::InvalidArgument(v));
    };
    v.require_id("visit.customer_id", &x.customer_id);
    v.require_id("visit.assigned_agent_id", &x.assigned_agent_id);
    let care_kind = v.required_enum(
        convert::care_kind_of(x.care_kind),
        x.care_kind,
        "visit.care_kind",
    );
    let purpose = v.required_enum(convert::purpose_of(x.purpose), x.purpose, "visit.purpose");
    let method = v.required_enum(convert::method_of(x.method), x.method, "visit.method");
    let gift = v.optional_enum(convert::gift_of(x.gift), x.gift, "visit.gift");
    if purpose == Some(Purpose::ComplaintFollowUp) {
        v.push(
            "visit.purpose",
            "COMPLAINT_FOLLOW_UP visits come from RequestComplaintVisit",
        );
    }
    let description = text(
        &mut v,
        "visit.description",
        &x.description,
        MAX_DESCRIPTION,
        false,
    );
    let notes = text(&mut v, "visit.notes", &x.notes, MAX_NOTES, false);
    let due_time = due(&mut v, "visit.due_time", x.due_time);
    done(v)?;
    let (Some(care_kind), Some(purpose), Some(method), Some(due_time)) =
        (care_kind, purpose, method, due_time)
    else {
        return Err(Error::invalid("visit", "is incomplete"));
    };
    let input = NewVisit {
        customer_id: x.customer_id.trim().to_owned(),
        plan_id: String::new(),
        care_kind,
        purpose,
        method,
        gift,
        description,
        source: Source {
            kind: SourceKind::Manual,
            source_id: String::new(),
            source_event_id: String::new(),
        },
        assigned_agent_id: x.assigned_agent_id.trim().to_owned(),
        due_time,
        notes,
    };
    let (visit, _) = api.core.create_visit(input, &key, actor).await?;
    Ok(pb::CreateVisitResponse {
        visit: Some(visit_pb(&visit)),
    })
}

pub(super) async fn request_complaint_visit(
    api: &VisitsApi,
    request: pb::RequestComplaintVisitRequest,
) -> Result<pb::RequestComplaintVisitResponse, Error> {
    limits::check(&request)?;
    let key = Key::new("complaint-visit", request.source_event_id.trim(), &request);
    let pb::RequestComplaintVisitRequest {
        complaint_id,
        customer_id,
        reason,
        due_time,
        assigned_agent_id,
        description,
        source_event_id,
        actor,
    } = request;
    let mut v = Violations::default();
    v.require_id("complaint_id", &complaint_id);
    v.require_id("customer_id", &customer_id);
    v.require_id("source_event_id", &source_event_id);
    let reason = v.required_enum(
        pb::ComplaintVisitReason::try_from(reason)
            .ok()
            .filter(|r| *r != pb::ComplaintVisitReason::Unspecified),
        reason,
        "reason",
    );
    let description = text(&mut v, "description", &description, MAX_DESCRIPTION, false);
    let actor = convert::actor(actor, &mut v);
    let due_time = due(&mut v, "due_time", due_time);
    done(v)?;
    let (Some(reason), Some(due_time)) = (reason, due_time) else {
        return Err(Error::invalid("reason", "is required"));
    };
    let customer_id = customer_id.trim().to_owned();
    let agent = api
        .core
        .complaint_visit_agent(&customer_id, assigned_agent_id.trim())
        .await?;
    let why = reason
        .as_str_name()
        .trim_start_matches("COMPLAINT_VISIT_REASON_")
        .to_lowercase();
    let input = NewVisit {
        customer_id,
        plan_id: String::new(),
        care_kind: CareKind::Unscheduled,
        purpose: Purpose::ComplaintFollowUp,
        method: Method::InPerson,
        gift: None,
        description: if description.is_empty() {
            format!(
                "in-person visit after complaint {} ({why})",
                complaint_id.trim()
            )
        } else {
            description
        },
        source: Source {
            kind: SourceKind::Complaint,
            source_id: complaint_id.trim().to_owned(),
            source_event_id: source_event_id.trim().to_owned(),
        },
        assigned_agent_id: agent,
        due_time,
        notes: String::new(),
    };
    let (visit, duplicate) = api.core.create_visit(input, &key, actor).await?;
    Ok(pb::RequestComplaintVisitResponse {
        visit: Some(visit_pb(&visit)),
        duplicate,
    })
}

pub(super) async fn get_visit(
    api: &VisitsApi,
    request: pb::GetVisitRequest,
) -> Result<pb::GetVisitResponse, Error> {
    limits::check(&request)?;
    let pb::GetVisitRequest { visit_id } = request;
    let mut v = Violations::default();
    v.require_id("visit_id", &visit_id);
    done(v)?;
    let visit = api.core.load_visit(&visit_id).await?;
    Ok(pb::GetVisitResponse {
        visit: Some(visit_pb(&visit)),
    })
}

fn visit_filters(f: &VisitFilter) -> Filters {
    let VisitFilter {
        customer_id,
        assigned_agent_id,
        states,
        care_kind,
        methods,
        purposes,
        due_start,
        due_end,
        plan_id,
    } = f;
    Filters::new("ListVisits")
        .with("customer_id", customer_id.as_deref().unwrap_or(""))
        .with(
            "assigned_agent_id",
            assigned_agent_id.as_deref().unwrap_or(""),
        )
        .with_all("states", states.iter().map(|s| s.code()))
        .with("care_kind", care_kind.map_or("", |k| k.code()))
        .with_all("methods", methods.iter().map(|m| m.code()))
        .with_all("purposes", purposes.iter().map(|p| p.code()))
        .with("due_start", due_start.map_or(0, |t| t.timestamp_micros()))
        .with("due_end", due_end.map_or(0, |t| t.timestamp_micros()))
        .with("plan_id", plan_id.as_deref().unwrap_or(""))
}

fn all<T>(values: &[i32], field: &str, parse: fn(i32) -> Option<T>, v: &mut Violations) -> Vec<T> {
    values
        .iter()
        .enumerate()
        .filter_map(|(i, n)| v.required_enum(parse(*n), *n, &format!("{field}[{i}]")))
        .collect()
}

pub(super) async fn list_visits(
    api: &VisitsApi,
    request: pb::ListVisitsRequest,
) -> Result<pb::ListVisitsResponse, Error> {
    limits::check(&request)?;
    let pb::ListVisitsRequest {
        page_size,
        page_token,
        customer_id,
        assigned_agent_id,
        states,
        care_kind,
        methods,
        purposes,
        due_time_start,
        due_time_end,
        plan_id,
    } = request;
    let mut v = Violations::default();
    let limit = paging::page_size(page_size, DEFAULT_PAGE_SIZE, &mut v);
    let some = |s: String| Some(s.trim().to_owned()).filter(|s| !s.is_empty());
    let filter = VisitFilter {
        customer_id: some(customer_id),
        // An agent or field engineer lists only the visits assigned to them.
        assigned_agent_id: csops_runtime::auth::listing_owner(some(assigned_agent_id))
            .map_err(Error::PermissionDenied)?,
        states: all(&states, "states", convert::visit_state_of, &mut v),
        care_kind: v.optional_enum(convert::care_kind_of(care_kind), care_kind, "care_kind"),
        methods: all(&methods, "methods", convert::method_of, &mut v),
        purposes: all(&purposes, "purposes", convert::purpose_of, &mut v),
        due_start: from_timestamp("due_time_start", due_time_start, &mut v),
        due_end: from_timestamp("due_time_end", due_time_end, &mut v),
        plan_id: some(plan_id),
    };
    let filters = visit_filters(&filter);
    let after = api.page_tokens.read(&page_token, &filters, &mut v);
    done(v)?;
    let rows = api
        .core
        .list_visits(&filter, after.as_ref(), limit + 1)
        .await?;
    let (rows, next_page_token) = api.page_tokens.page(rows, limit, &filters, |last| Cursor {
        key: last.due_time.timestamp_micros(),
        id: last.id.clone(),
    });
    Ok(pb::ListVisitsResponse {
        visits: rows.iter().map(visit_pb).collect(),
        next_page_token,
    })
}

pub(super) async fn update_visit(
    api: &VisitsApi,
    request: pb::UpdateVisitRequest,
) -> Result<pb::UpdateVisitResponse, Error> {
    limits::check(&request)?;
    let pb::UpdateVisitRequest {
        visit,
        update_mask,
        actor,
    } = request;
    let mut v = Violations::default();
    convert::actor(actor, &mut v);
    let Some(x) = visit else {
        v.push("visit", "is required");
        return Err(Error::InvalidArgument(v));
    };
    v.require_id("visit.id", &x.id);
    if x.etag.trim().is_empty() {
        v.push(
            "visit.etag",
            "is required: send the etag of the visit you read",
        );
    }
    let paths = update_mask.map(|m| m.paths).unwrap_or_default();
    if paths.is_empty() {
        v.push("update_mask", "is required: name the fields to change");
    }
    for path in &paths {
        if !UPDATABLE.contains(&path.as_str()) {
            v.push(
                "update_mask",
                format!(
                    "{} cannot be changed; allowed: {}",
                    csops_runtime::violations::quote(path),
                    UPDATABLE.join(", ")
                ),
            );
        }
    }
    let has = |f: &str| paths.iter().any(|p| p == f);
    let purpose = if has("purpose") {
        v.required_enum(convert::purpose_of(x.purpose), x.purpose, "visit.purpose")
    } else {
        None
    };
    let method = if has("method") {
        v.required_enum(convert::method_of(x.method), x.method, "visit.method")
    } else {
        None
    };
    let gift = v.optional_enum(convert::gift_of(x.gift), x.gift, "visit.gift");
    let description = text(
        &mut v,
        "visit.description",
        &x.description,
        MAX_DESCRIPTION,
        false,
    );
    let notes = text(&mut v, "visit.notes", &x.notes, MAX_NOTES, false);
    let agent = x.assigned_agent_id.trim().to_owned();
    if has("assigned_agent_id") {
        v.require_id("visit.assigned_agent_id", &agent);
    }
    let due_time = if has("due_time") {
        due(&mut v, "visit.due_time", x.due_time)
    } else {
        None
    };
    done(v)?;
    let saved = api
        .core
        .change_visit(&x.id, x.etag.trim(), Booked::Check, |visit, _| {
            if !visit.state.is_open() && visit.state != VisitState::Missed {
                return Err(crate::domain::RuleError::Precondition(format!(
                    "visit {} is {}; a finished visit cannot be changed",
                    visit.id,
                    visit.state.code()
                )));
            }
            if let Some(p) = purpose {
                visit.purpose = p;
            }
            if let Some(m) = method {
                visit.method = m;
            }
            if has("gift") {
                visit.gift = gift;
            }
            if has("description") {
                visit.description.clone_from(&description);
            }
            if has("notes") {
                visit.notes.clone_from(&notes);
            }
            if has("assigned_agent_id") {
                visit.assigned_agent_id.clone_from(&agent);
            }
            if let Some(t) = due_time {
                visit.due_time = t;
            }
            Ok(Vec::new())
        })
        .await?;
    Ok(pb::UpdateVisitResponse {
        visit: Some(visit_pb(&saved)),
    })
}

/// A state change of one visit.
async fn transition(
    api: &VisitsApi,
    visit_id: &str,
    etag: &str,
    booked: Booked,
    rule: impl Fn(
            &mut Visit,
            chrono::DateTime<chrono::Utc>,
        ) -> Result<Vec<Outgoing>, crate::domain::RuleError>
        + Sync,
) -> Result<Option<pb::Visit>, Error> {
    let visit = api
        .core
        .change_visit(visit_id, etag.trim(), booked, rule)
        .await?;
    Ok(Some(visit_pb(&visit)))
}

pub(super) async fn schedule_visit(
    api: &VisitsApi,
    request: pb::ScheduleVisitRequest,
) -> Result<pb::ScheduleVisitResponse, Error> {
    limits::check(&request)?;
    let pb::ScheduleVisitRequest {
        visit_id,
        start_time,
        end_time,
        actor,
        etag,
    } = request;
    let mut v = Violations::default();
    v.require_id("visit_id", &visit_id);
    let start = due(&mut v, "start_time", start_time);
    let end = due(&mut v, "end_time", end_time);
    convert::actor(actor, &mut v);
    done(v)?;
    let (Some(start), Some(end)) = (start, end) else {
        return Err(Error::invalid("start_time", "is required"));
    };
    let visit = transition(api, &visit_id, &etag, Booked::Check, |x, now| {
        x.schedule(start, end, now)?;
        Ok(Vec::new())
    })
    .await?;
    Ok(pb::ScheduleVisitResponse { visit })
}

pub(super) async fn start_visit(
    api: &VisitsApi,
    request: pb::StartVisitRequest,
) -> Result<pb::StartVisitResponse, Error> {
    limits::check(&request)?;
    let pb::StartVisitRequest {
        visit_id,
        actor,
        etag,
    } = request;
    let mut v = Violations::default();
    v.require_id("visit_id", &visit_id);
    convert::actor(actor, &mut v);
    done(v)?;
    let visit = transition(api, &visit_id, &etag, Booked::No, |x, now| {
        x.start(now)?;
        Ok(Vec::new())
    })
    .await?;
    Ok(pb::StartVisitResponse { visit })
}

pub(super) async fn complete_visit(
    api: &VisitsApi,
    request: pb::CompleteVisitRequest,
) -> Result<pb::CompleteVisitResponse, Error> {
    limits::check(&request)?;
    let pb::CompleteVisitRequest {
        visit_id,
        outcome,
        actor,
        etag,
    } = request;
    let mut v = Violations::default();
    v.require_id("visit_id", &visit_id);
    let actor = convert::actor(actor, &mut v);
    let Some(pb::VisitOutcome {
        visit_time,
        performed_by,
        method,
        summary,
        needs_found,
        mood,
        follow_up_needed,
        follow_up,
    }) = outcome
    else {
        v.push("outcome", "is required");
        return Err(Error::InvalidArgument(v));
    };
    if visit_time.is_none() {
        v.push("outcome.visit_time", "is required");
    }
    let visit_time = from_timestamp("outcome.visit_time", visit_time, &mut v);
    let performed_by = match performed_by {
        Some(p) => {
            let mut inner = Violations::default();
            let a = convert::actor(Some(p), &mut inner);
            v.extend(inner.prefixed("outcome.performed_by"));
            a
        }
        None => actor.clone(),
    };
    let method = v.optional_enum(convert::method_of(method), method, "outcome.method");
    let summary = text(&mut v, "outcome.summary", &summary, MAX_NOTES, true);
    let needs_found: Vec<String> = needs_found
        .iter()
        .map(|n| n.trim().to_owned())
        .filter(|n| !n.is_empty())
        .collect();
    let mood = v.optional_enum(convert::mood_of(mood), mood, "outcome.mood");
    let follow_up = text(
        &mut v,
        "outcome.follow_up",
        &follow_up,
        MAX_DESCRIPTION,
        false,
    );
    done(v)?;
    let Some(visit_time) = visit_time else {
        return Err(Error::invalid("outcome.visit_time", "is required"));
    };
    let visit = transition(api, &visit_id, &etag, Booked::No, |x, now| {
        let outcome = Outcome {
            visit_time,
            performed_by: performed_by.clone(),
            method: method.unwrap_or(x.method),
            summary: summary.clone(),
            needs_found: needs_found.clone(),
            mood,
            follow_up_needed,
            follow_up: follow_up.clone(),
        };
        x.complete(outcome, now)?;
        Ok(vec![Outgoing::Activity {
            kind: "visit_completed".into(),
            customer_id: x.customer_id.clone(),
            agent_id: performed_by.id.clone(),
            subject_kind: "visit".into(),
            subject_id: x.id.clone(),
            occur_time: visit_time,
        }])
    })
    .await?;
    Ok(pb::CompleteVisitResponse { visit })
}

pub(super) async fn miss_visit(
    api: &VisitsApi,
    request: pb::MissVisitRequest,
) -> Result<pb::MissVisitResponse, Error> {
    limits::check(&request)?;
    let pb::MissVisitRequest {
        visit_id,
        reason,
        actor,
        etag,
    } = request;
    let mut v = Violations::default();
    v.require_id("visit_id", &visit_id);
    let reason = text(&mut v, "reason", &reason, MAX_REASON, true);
    convert::actor(actor, &mut v);
    done(v)?;
    let visit = transition(api, &visit_id, &etag, Booked::No, |x, now| {
        x.miss(reason.clone(), now)?;
        Ok(Vec::new())
    })
    .await?;
    Ok(pb::MissVisitResponse { visit })
}

pub(super) async fn cancel_visit(
    api: &VisitsApi,
    request: pb::CancelVisitRequest,
) -> Result<pb::CancelVisitResponse, Error> {
    limits::check(&request)?;
    let pb::CancelVisitRequest {
        visit_id,
        reason,
        actor,
        etag,
    } = request;
    let mut v = Violations::default();
    v.require_id("visit_id", &visit_id);
    let reason = text(&mut v, "reason", &reason, MAX_REASON, true);
    convert::actor(actor, &mut v);
    done(v)?;
    let visit = transition(api, &visit_id, &etag, Booked::No, |x, now| {
        x.cancel(reason.clone(), now)?;
        Ok(Vec::new())
    })
    .await?;
    Ok(pb::CancelVisitResponse { visit })
}

pub(super) async fn get_agenda(
    api: &VisitsApi,
    request: pb::GetAgendaRequest,
) -> Result<pb::GetAgendaResponse, Error> {
    limits::check(&request)?;
    let pb::GetAgendaRequest {
        assignee_id,
        start_time,
        end_time,
    } = request;
    let mut v = Violations::default();
    v.require_id("assignee_id", &assignee_id);
    let start = due(&mut v, "start_time", start_time);
    let end = due(&mut v, "end_time", end_time);
    if let (Some(s), Some(e)) = (start, end) {
        if e <= s {
            v.push("end_time", "must be after start_time");
        } else if e - s > convert::MAX_AGENDA {
            v.push("end_time", "must be at most 31 days after start_time");
        }
    }
    done(v)?;
    let (Some(start), Some(end)) = (start, end) else {
        return Err(Error::invalid("start_time", "is required"));
    };
    // An agent or field engineer reads only their own agenda.
    csops_runtime::auth::listing_owner(Some(assignee_id.trim().to_owned()))
        .map_err(Error::PermissionDenied)?;
    let agenda = api.core.agenda(assignee_id.trim(), start, end).await?;
    let mut jobs = Vec::new();
    for id in &agenda.field_jobs {
        if let Ok(job) = super::field_jobs::get_field_job(
            api,
            pb::GetFieldJobRequest {
                field_job_id: id.clone(),
            },
        )
        .await
        {
            jobs.extend(job.job);
        }
    }
    let limit = api.core.rules.max_daily_bookings;
    Ok(pb::GetAgendaResponse {
        visits: agenda.visits.iter().map(visit_pb).collect(),
        field_jobs: jobs,
        overdue_visits: agenda.overdue.iter().map(visit_pb).collect(),
        load: agenda
            .load
            .iter()
            .map(|(date, booked)| pb::DayLoad {
                date: date.to_string(),
                booked: i32::try_from(*booked).unwrap_or(i32::MAX),
                limit: i32::try_from(limit).unwrap_or(i32::MAX),
            })
            .collect(),
        truncated: agenda.truncated,
    })
}
