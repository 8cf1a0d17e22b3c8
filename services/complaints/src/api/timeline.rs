//! The timeline: ListTimeline, AddNote and RecordCall.

use csops_proto::complaints::v1 as pb;
use csops_runtime::idempotency::Key;
use csops_runtime::paging::{self, Cursor, Filters};
use csops_runtime::Error;

use super::enums::ProtoEnum;
use super::{convert, done, limits, retry_key, ComplaintsApi};
use crate::domain::{EntryKind, Violations};

/// Handles `list_timeline`.
pub(super) async fn list_timeline(
    api: &ComplaintsApi,
    request: pb::ListTimelineRequest,
) -> Result<pb::ListTimelineResponse, Error> {
    limits::check(&request)?;
    let pb::ListTimelineRequest {
        complaint_id,
        page_size,
        page_token,
        kinds,
    } = request;
    let mut v = Violations::default();
    v.require_id("complaint_id", &complaint_id);
    let limit = paging::page_size(page_size, 100, &mut v);
    let mut wanted = Vec::new();
    for (i, k) in kinds.iter().enumerate() {
        match EntryKind::from_number(*k) {
            Some(k) => wanted.push(k),
            None => v.push(format!("kinds[{i}]"), "unknown kind"),
        }
    }
    let filters = Filters::new("ListTimeline")
        .with("complaint_id", &complaint_id)
        .with_all("kinds", wanted.iter().map(|k| k.code()));
    let after = api
        .page_tokens
        .read(&page_token, &filters, &mut v)
        .map_or(0, |cursor| cursor.key);
    done(v)?;
    api.load(&complaint_id).await?;
    let rows = api
        .core
        .store
        .timeline(&complaint_id, after, &wanted, limit + 1)
        .await?;
    let (rows, next_page_token) = api.page_tokens.page(rows, limit, &filters, |last| Cursor {
        key: last.sequence,
        id: last.id.clone(),
    });
    Ok(pb::ListTimelineResponse {
        entries: rows.iter().map(convert::entry).collect(),
        next_page_token,
    })
}

/// Handles `add_note`.
pub(super) async fn add_note(
    api: &ComplaintsApi,
    request: pb::AddNoteRequest,
) -> Result<pb::AddNoteResponse, Error> {
    limits::check(&request)?;
    let key = Key::new("note", request.request_id.trim(), &request);
    let pb::AddNoteRequest {
        complaint_id,
        text,
        request_id,
        actor,
    } = request;
    let mut v = Violations::default();
    v.require_id("complaint_id", &complaint_id);
    let actor = convert::actor(actor, &mut v);
    let rid = retry_key(&mut v, &request_id);
    done(v)?;
    let (c, seq) = api
        .mutate(&complaint_id, "", rid.map(|_| key), |c, _, now| {
            let (sequence, effects) = c.add_note(&text, &actor, now)?;
            Ok((sequence.to_string(), effects))
        })
        .await?;
    let entry = api.entry_at(&c.id, &seq).await?;
    Ok(pb::AddNoteResponse { entry: Some(entry) })
}

/// Handles `record_call`.
pub(super) async fn record_call(
    api: &ComplaintsApi,
    request: pb::RecordCallRequest,
) -> Result<pb::RecordCallResponse, Error> {
    limits::check(&request)?;
    let key = Key::new("call", request.request_id.trim(), &request);
    let pb::RecordCallRequest {
        complaint_id,
        call,
        request_id,
        actor,
    } = request;
    let mut v = Violations::default();
    v.require_id("complaint_id", &complaint_id);
    let actor = convert::actor(actor, &mut v);
    let rid = retry_key(&mut v, &request_id);
    let call = convert::call(call, &mut v);
    done(v)?;
    let (c, seq) = api
        .mutate(&complaint_id, "", rid.map(|_| key), |c, _, now| {
            let (sequence, effects) = c.record_call(call.clone(), &actor, now)?;
            Ok((sequence.to_string(), effects))
        })
        .await?;
    let entry = api.entry_at(&c.id, &seq).await?;
    Ok(pb::RecordCallResponse { entry: Some(entry) })
}
