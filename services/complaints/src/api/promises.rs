//! Promises to the customer: MakePromise, KeepPromise and ReschedulePromise.

use csops_proto::complaints::v1 as pb;
use csops_runtime::idempotency::Key;
use csops_runtime::Error;

use super::{convert, done, limits, retry_key, ComplaintsApi};
use crate::domain::Violations;

/// Handles `make_promise`.
pub(super) async fn make_promise(
    api: &ComplaintsApi,
    request: pb::MakePromiseRequest,
) -> Result<pb::MakePromiseResponse, Error> {
    limits::check(&request)?;
    let key = Key::new("promise", request.request_id.trim(), &request);
    let pb::MakePromiseRequest {
        complaint_id,
        description,
        due_time,
        request_id,
        actor,
        etag,
    } = request;
    let mut v = Violations::default();
    v.require_id("complaint_id", &complaint_id);
    let actor = convert::actor(actor, &mut v);
    let rid = retry_key(&mut v, &request_id);
    let due = convert::instant("due_time", due_time, &mut v);
    done(v)?;
    let (c, id) = api
        .mutate(&complaint_id, &etag, rid.map(|_| key), |c, rules, now| {
            c.make_promise(&description, due, &actor, rules, now)
        })
        .await?;
    let promise = c.promises.iter().find(|p| p.id == id).map(convert::promise);
    Ok(pb::MakePromiseResponse {
        complaint: Some(api.to_pb(&c)),
        promise,
    })
}

/// Handles `keep_promise`.
pub(super) async fn keep_promise(
    api: &ComplaintsApi,
    request: pb::KeepPromiseRequest,
) -> Result<pb::KeepPromiseResponse, Error> {
    limits::check(&request)?;
    let pb::KeepPromiseRequest {
        complaint_id,
        promise_id,
        note,
        actor,
        etag,
    } = request;
    let mut v = Violations::default();
    v.require_id("promise_id", &promise_id);
    let c = api
        .transition(&complaint_id, actor, &etag, v, |c, a, _, now| {
            c.keep_promise(&promise_id, &note, a, now)
        })
        .await?;
    let promise = c.promises.iter().find(|p| p.id == promise_id).cloned();
    Ok(pb::KeepPromiseResponse {
        complaint: Some(c),
        promise,
    })
}

/// Handles `reschedule_promise`.
pub(super) async fn reschedule_promise(
    api: &ComplaintsApi,
    request: pb::ReschedulePromiseRequest,
) -> Result<pb::ReschedulePromiseResponse, Error> {
    limits::check(&request)?;
    let pb::ReschedulePromiseRequest {
        complaint_id,
        promise_id,
        new_due_time,
        reason,
        customer_consent,
        actor,
        etag,
    } = request;
    let mut v = Violations::default();
    v.require_id("promise_id", &promise_id);
    let due = convert::instant("new_due_time", new_due_time, &mut v);
    let c = api
        .transition(&complaint_id, actor, &etag, v, |c, a, _, now| {
            c.reschedule_promise(&promise_id, due, &reason, &customer_consent, a, now)
        })
        .await?;
    let promise = c.promises.iter().find(|p| p.id == promise_id).cloned();
    Ok(pb::ReschedulePromiseResponse {
        complaint: Some(c),
        promise,
    })
}
