//! Callback handlers: schedule (from the complaints and visits outboxes, once per event), read,
//! list, and the changes: an attempt, a cancel, a finding fixed.

use csops_proto::feedback::v1 as pb;
use csops_runtime::idempotency::Key;
use csops_runtime::paging::{self, Cursor, Filters};
use csops_runtime::time::{from_timestamp, now};
use csops_runtime::{Error, Violations};

use super::convert::{self, callback_pb};
use super::limits;
use super::{done, FeedbackApi, DEFAULT_PAGE_SIZE};
use crate::domain::callback::{AttemptInput, FindingInput, NewCallback};
use crate::store::CallbackFilter;

pub(super) async fn schedule_callback(
    api: &FeedbackApi,
    request: pb::ScheduleCallbackRequest,
) -> Result<pb::ScheduleCallbackResponse, Error> {
    limits::check(&request)?;
    let key = Key::new(
        "schedule-callback",
        request.source_event_id.trim(),
        &request,
    );
    let pb::ScheduleCallbackRequest {
        customer_id,
        subject,
        service_end_time,
        served_by_agent_id,
        source_event_id,
        actor,
    } = request;
    let mut v = Violations::default();
    v.require_id("customer_id", &customer_id);
    let subject = convert::subject("subject", subject, &mut v);
    if let Some(s) = &subject {
        v.require_id("subject.id", &s.id);
    }
    if service_end_time.is_none() {
        v.push("service_end_time", "is required");
    }
    let service_end_time = from_timestamp("service_end_time", service_end_time, &mut v);
    v.require_id("source_event_id", &source_event_id);
    let actor = convert::actor(actor, &mut v);
    done(v)?;
    let (Some(subject), Some(service_end_time)) = (subject, service_end_time) else {
        return Err(Error::invalid("subject", "is required"));
    };
    let input = NewCallback {
        customer_id: customer_id.trim().to_owned(),
        subject,
        service_end_time,
        served_by_agent_id: served_by_agent_id.trim().to_owned(),
        source_event_id: source_event_id.trim().to_owned(),
    };
    let (callback, duplicate) = api.core.schedule_callback(input, &key, actor).await?;
    Ok(pb::ScheduleCallbackResponse {
        callback: Some(callback_pb(&callback, now())),
        duplicate,
    })
}

pub(super) async fn get_callback(
    api: &FeedbackApi,
    request: pb::GetCallbackRequest,
) -> Result<pb::GetCallbackResponse, Error> {
    limits::check(&request)?;
    let pb::GetCallbackRequest { callback_id } = request;
    let mut v = Violations::default();
    v.require_id("callback_id", &callback_id);
    done(v)?;
    let callback = api.core.load_callback(callback_id.trim()).await?;
    Ok(pb::GetCallbackResponse {
        callback: Some(callback_pb(&callback, now())),
    })
}

fn callback_filters(f: &CallbackFilter) -> Filters {
    let CallbackFilter {
        states,
        assigned_agent_id,
        customer_id,
        subject_kind,
        subject_id,
        due_before,
    } = f;
    Filters::new("ListCallbacks")
        .with_all("states", states.iter().map(|s| s.code()))
        .with(
            "assigned_agent_id",
            assigned_agent_id.as_deref().unwrap_or(""),
        )
        .with("customer_id", customer_id.as_deref().unwrap_or(""))
        .with("subject_kind", subject_kind.map_or("", |k| k.code()))
        .with("subject_id", subject_id.as_deref().unwrap_or(""))
        .with("due_before", due_before.map_or(0, |t| t.timestamp_micros()))
}

pub(super) async fn list_callbacks(
    api: &FeedbackApi,
    request: pb::ListCallbacksRequest,
) -> Result<pb::ListCallbacksResponse, Error> {
    limits::check(&request)?;
    let pb::ListCallbacksRequest {
        page_size,
        page_token,
        states,
        assigned_agent_id,
        customer_id,
        subject_kind,
        subject_id,
        due_before,
    } = request;
    let mut v = Violations::default();
    let limit = paging::page_size(page_size, DEFAULT_PAGE_SIZE, &mut v);
    let some = |s: String| Some(s.trim().to_owned()).filter(|s| !s.is_empty());
    let filter = CallbackFilter {
        states: states
            .iter()
            .enumerate()
            .filter_map(|(i, n)| {
                v.required_enum(convert::callback_state_of(*n), *n, &format!("states[{i}]"))
            })
            .collect(),
        assigned_agent_id: some(assigned_agent_id),
        customer_id: some(customer_id),
        subject_kind: v.optional_enum(
            convert::subject_kind_of(subject_kind),
            subject_kind,
            "subject_kind",
        ),
        subject_id: some(subject_id),
        due_before: from_timestamp("due_before", due_before, &mut v),
    };
    let filters = callback_filters(&filter);
    let after = api.page_tokens.read(&page_token, &filters, &mut v);
    done(v)?;
    let rows = api
        .core
        .list_callbacks(&filter, after.as_ref(), limit + 1)
        .await?;
    let (rows, next_page_token) = api.page_tokens.page(rows, limit, &filters, |last| Cursor {
        key: last.callback.due_time.timestamp_micros(),
        id: last.callback.id.clone(),
    });
    let now = now();
    Ok(pb::ListCallbacksResponse {
        callbacks: rows.iter().map(|c| callback_pb(c, now)).collect(),
        next_page_token,
    })
}

pub(super) async fn record_callback_attempt(
    api: &FeedbackApi,
    request: pb::RecordCallbackAttemptRequest,
) -> Result<pb::RecordCallbackAttemptResponse, Error> {
    limits::check(&request)?;
    let key = (!request.request_id.trim().is_empty())
        .then(|| Key::new("callback-attempt", request.request_id.trim(), &request));
    let pb::RecordCallbackAttemptRequest {
        callback_id,
        reached,
        outcome,
        findings,
        notes,
        attempt_time,
        request_id: _,
        actor,
        etag,
    } = request;
    let mut v = Violations::default();
    v.require_id("callback_id", &callback_id);
    let outcome = v.optional_enum(convert::outcome_of(outcome), outcome, "outcome");
    let attempt_time = from_timestamp("attempt_time", attempt_time, &mut v);
    let actor = convert::actor(actor, &mut v);
    done(v)?;
    let input = AttemptInput {
        reached,
        outcome,
        findings: findings
            .into_iter()
            .map(
                |pb::FindingInput {
                     description,
                     owner_agent_id,
                 }| FindingInput {
                    description,
                    owner_agent_id,
                },
            )
            .collect(),
        notes,
        attempt_time,
    };
    let callback = api
        .core
        .record_callback_attempt(callback_id.trim(), &etag, input, key.as_ref(), actor)
        .await?;
    Ok(pb::RecordCallbackAttemptResponse {
        callback: Some(callback_pb(&callback, now())),
    })
}

pub(super) async fn cancel_callback(
    api: &FeedbackApi,
    request: pb::CancelCallbackRequest,
) -> Result<pb::CancelCallbackResponse, Error> {
    limits::check(&request)?;
    let pb::CancelCallbackRequest {
        callback_id,
        reason,
        actor,
        etag,
    } = request;
    let mut v = Violations::default();
    v.require_id("callback_id", &callback_id);
    if reason.trim().is_empty() {
        v.push("reason", "is required");
    }
    let actor = convert::actor(actor, &mut v);
    done(v)?;
    let callback = api
        .core
        .cancel_callback(callback_id.trim(), &etag, &reason, actor)
        .await?;
    Ok(pb::CancelCallbackResponse {
        callback: Some(callback_pb(&callback, now())),
    })
}

pub(super) async fn fix_callback_finding(
    api: &FeedbackApi,
    request: pb::FixCallbackFindingRequest,
) -> Result<pb::FixCallbackFindingResponse, Error> {
    limits::check(&request)?;
    let pb::FixCallbackFindingRequest {
        callback_id,
        finding_id,
        fix_note,
        actor,
        etag,
    } = request;
    let mut v = Violations::default();
    v.require_id("callback_id", &callback_id);
    v.require_id("finding_id", &finding_id);
    if fix_note.trim().is_empty() {
        v.push("fix_note", "is required");
    }
    let actor = convert::actor(actor, &mut v);
    done(v)?;
    let callback = api
        .core
        .fix_callback_finding(
            callback_id.trim(),
            &etag,
            finding_id.trim(),
            &fix_note,
            actor,
        )
        .await?;
    Ok(pb::FixCallbackFindingResponse {
        callback: Some(callback_pb(&callback, now())),
    })
}
