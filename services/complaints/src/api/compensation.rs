//! Compensation within authority: ProposeCompensation, ApproveCompensation and
//! RejectCompensation.

use csops_proto::complaints::v1 as pb;
use csops_runtime::idempotency::Key;
use csops_runtime::Error;

use super::enums::ProtoEnum;
use super::{convert, done, limits, retry_key, ComplaintsApi};
use crate::domain::{CompensationKind, Violations};

/// Handles `propose_compensation`.
pub(super) async fn propose_compensation(
    api: &ComplaintsApi,
    request: pb::ProposeCompensationRequest,
) -> Result<pb::ProposeCompensationResponse, Error> {
    limits::check(&request)?;
    let key = Key::new("compensation", request.request_id.trim(), &request);
    let pb::ProposeCompensationRequest {
        complaint_id,
        kind,
        description,
        amount_minor,
        currency_code,
        request_id,
        actor,
        etag,
    } = request;
    let mut v = Violations::default();
    v.require_id("complaint_id", &complaint_id);
    let actor = convert::actor(actor, &mut v);
    let rid = retry_key(&mut v, &request_id);
    done(v)?;
    let kind = CompensationKind::from_number(kind);
    let (c, id) = api
        .mutate(&complaint_id, &etag, rid.map(|_| key), |c, rules, now| {
            c.propose_compensation(
                kind,
                &description,
                amount_minor,
                &currency_code,
                &actor,
                rules,
                now,
            )
        })
        .await?;
    let compensation = c
        .compensations
        .iter()
        .find(|x| x.id == id)
        .map(convert::compensation);
    tracing::info!(complaint_id = %c.id, compensation_id = %id, "compensation proposed");
    Ok(pb::ProposeCompensationResponse {
        complaint: Some(api.to_pb(&c)),
        compensation,
    })
}

/// Handles `approve_compensation`.
pub(super) async fn approve_compensation(
    api: &ComplaintsApi,
    request: pb::ApproveCompensationRequest,
) -> Result<pb::ApproveCompensationResponse, Error> {
    limits::check(&request)?;
    let pb::ApproveCompensationRequest {
        complaint_id,
        compensation_id,
        note,
        actor,
        etag,
    } = request;
    let (complaint, compensation) = api
        .decide_compensation(&complaint_id, &compensation_id, true, &note, actor, &etag)
        .await?;
    Ok(pb::ApproveCompensationResponse {
        complaint: Some(complaint),
        compensation,
    })
}

/// Handles `reject_compensation`.
pub(super) async fn reject_compensation(
    api: &ComplaintsApi,
    request: pb::RejectCompensationRequest,
) -> Result<pb::RejectCompensationResponse, Error> {
    limits::check(&request)?;
    let pb::RejectCompensationRequest {
        complaint_id,
        compensation_id,
        note,
        actor,
        etag,
    } = request;
    let (complaint, compensation) = api
        .decide_compensation(&complaint_id, &compensation_id, false, &note, actor, &etag)
        .await?;
    Ok(pb::RejectCompensationResponse {
        complaint: Some(complaint),
        compensation,
    })
}
