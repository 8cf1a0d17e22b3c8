//! The complaint's lifecycle: assignment, acknowledgement, investigation, the solution and
//! the customer's decision, resolution, callback, closing, reopening, withdrawal and
//! escalation.

use csops_proto::complaints::v1 as pb;
use csops_runtime::idempotency::Key;
use csops_runtime::Error;

use super::enums::ProtoEnum;
use super::{convert, done, limits, retry_key, ComplaintsApi};
use crate::domain::{
    CallbackOutcome, EscalationReason, Level, ReopenReason, ResolutionInput, Violations,
};

/// Handles `assign_complaint`.
pub(super) async fn assign_complaint(
    api: &ComplaintsApi,
    request: pb::AssignComplaintRequest,
) -> Result<pb::AssignComplaintResponse, Error> {
    limits::check(&request)?;
    let pb::AssignComplaintRequest {
        complaint_id,
        agent_id,
        reason,
        actor,
        etag,
    } = request;
    let c = api
        .transition(
            &complaint_id,
            actor,
            &etag,
            Violations::default(),
            |c, a, r, now| c.assign(&agent_id, &reason, a, r, now),
        )
        .await?;
    Ok(pb::AssignComplaintResponse { complaint: Some(c) })
}

/// Handles `acknowledge_complaint`.
pub(super) async fn acknowledge_complaint(
    api: &ComplaintsApi,
    request: pb::AcknowledgeComplaintRequest,
) -> Result<pb::AcknowledgeComplaintResponse, Error> {
    limits::check(&request)?;
    let pb::AcknowledgeComplaintRequest {
        complaint_id,
        note,
        contact_time,
        actor,
        etag,
    } = request;
    let mut v = Violations::default();
    let contact_time = convert::instant("contact_time", contact_time, &mut v);
    let c = api
        .transition(&complaint_id, actor, &etag, v, |c, a, r, now| {
            c.acknowledge(&note, contact_time, a, r, now)
        })
        .await?;
    Ok(pb::AcknowledgeComplaintResponse { complaint: Some(c) })
}

/// Handles `start_investigation`.
pub(super) async fn start_investigation(
    api: &ComplaintsApi,
    request: pb::StartInvestigationRequest,
) -> Result<pb::StartInvestigationResponse, Error> {
    limits::check(&request)?;
    let pb::StartInvestigationRequest {
        complaint_id,
        note,
        actor,
        etag,
    } = request;
    let c = api
        .transition(
            &complaint_id,
            actor,
            &etag,
            Violations::default(),
            |c, a, r, now| c.start_investigation(&note, a, r, now),
        )
        .await?;
    Ok(pb::StartInvestigationResponse { complaint: Some(c) })
}

/// Handles `propose_solution`.
pub(super) async fn propose_solution(
    api: &ComplaintsApi,
    request: pb::ProposeSolutionRequest,
) -> Result<pb::ProposeSolutionResponse, Error> {
    limits::check(&request)?;
    let pb::ProposeSolutionRequest {
        complaint_id,
        measures,
        plan,
        actor,
        etag,
    } = request;
    let mut v = Violations::default();
    let plan: Vec<_> = (0..)
        .zip(plan)
        .map(|(i, s)| convert::plan_step(i, s, &mut v))
        .collect();
    let c = api
        .transition(&complaint_id, actor, &etag, v, |c, a, r, now| {
            c.propose_solution(measures.clone(), plan.clone(), a, r, now)
        })
        .await?;
    Ok(pb::ProposeSolutionResponse { complaint: Some(c) })
}

/// Handles `accept_solution`.
pub(super) async fn accept_solution(
    api: &ComplaintsApi,
    request: pb::AcceptSolutionRequest,
) -> Result<pb::AcceptSolutionResponse, Error> {
    limits::check(&request)?;
    let pb::AcceptSolutionRequest {
        complaint_id,
        customer_comment,
        actor,
        etag,
    } = request;
    let c = api
        .transition(
            &complaint_id,
            actor,
            &etag,
            Violations::default(),
            |c, a, r, now| c.decide_solution(true, &customer_comment, a, r, now),
        )
        .await?;
    Ok(pb::AcceptSolutionResponse { complaint: Some(c) })
}

/// Handles `reject_solution`.
pub(super) async fn reject_solution(
    api: &ComplaintsApi,
    request: pb::RejectSolutionRequest,
) -> Result<pb::RejectSolutionResponse, Error> {
    limits::check(&request)?;
    let pb::RejectSolutionRequest {
        complaint_id,
        customer_comment,
        actor,
        etag,
    } = request;
    let c = api
        .transition(
            &complaint_id,
            actor,
            &etag,
            Violations::default(),
            |c, a, r, now| c.decide_solution(false, &customer_comment, a, r, now),
        )
        .await?;
    Ok(pb::RejectSolutionResponse { complaint: Some(c) })
}

/// Handles `resolve_complaint`.
pub(super) async fn resolve_complaint(
    api: &ComplaintsApi,
    request: pb::ResolveComplaintRequest,
) -> Result<pb::ResolveComplaintResponse, Error> {
    limits::check(&request)?;
    let pb::ResolveComplaintRequest {
        complaint_id,
        resolution,
        actor,
        etag,
    } = request;
    let mut v = Violations::default();
    if resolution.is_none() {
        v.push(
            "resolution",
            "is required: summary, root_cause and corrective_action",
        );
    }
    let r = resolution.unwrap_or_default();
    let input = ResolutionInput {
        summary: r.summary,
        root_cause: r.root_cause,
        corrective_action: r.corrective_action,
        lesson_learned: r.lesson_learned,
        company_at_fault: r.company_at_fault,
        accountable_party: r.accountable_party,
    };
    let c = api
        .transition(&complaint_id, actor, &etag, v, |c, a, r, now| {
            c.resolve(input.clone(), a, r, now)
        })
        .await?;
    Ok(pb::ResolveComplaintResponse { complaint: Some(c) })
}

/// Handles `record_callback`.
pub(super) async fn record_callback(
    api: &ComplaintsApi,
    request: pb::RecordCallbackRequest,
) -> Result<pb::RecordCallbackResponse, Error> {
    limits::check(&request)?;
    let key = Key::new("callback", request.request_id.trim(), &request);
    let pb::RecordCallbackRequest {
        complaint_id,
        outcome,
        notes,
        callback_time,
        feedback_callback_id,
        request_id,
        actor,
        etag,
    } = request;
    let mut v = Violations::default();
    v.require_id("complaint_id", &complaint_id);
    let actor = convert::actor(actor, &mut v);
    let outcome = convert::required(CallbackOutcome::from_number(outcome), "outcome", &mut v);
    let rid = retry_key(&mut v, &request_id);
    let time = convert::instant("callback_time", callback_time, &mut v);
    done(v)?;
    let Some(outcome) = outcome else {
        return Err(Error::invalid("outcome", "is required"));
    };
    let (c, _) = api
        .mutate(&complaint_id, &etag, rid.map(|_| key), |c, rules, now| {
            c.record_callback(
                outcome,
                &notes,
                time,
                &feedback_callback_id,
                &actor,
                rules,
                now,
            )
            .map(|effects| (String::new(), effects))
        })
        .await?;
    tracing::info!(complaint_id = %c.id, outcome = outcome.code(), state = c.state.code(), "callback recorded");
    Ok(pb::RecordCallbackResponse {
        complaint: Some(api.to_pb(&c)),
    })
}

/// Handles `close_complaint`.
pub(super) async fn close_complaint(
    api: &ComplaintsApi,
    request: pb::CloseComplaintRequest,
) -> Result<pb::CloseComplaintResponse, Error> {
    limits::check(&request)?;
    let pb::CloseComplaintRequest {
        complaint_id,
        note,
        actor,
        etag,
    } = request;
    let c = api
        .transition(
            &complaint_id,
            actor,
            &etag,
            Violations::default(),
            |c, a, r, now| c.close(&note, a, r, now),
        )
        .await?;
    Ok(pb::CloseComplaintResponse { complaint: Some(c) })
}

/// Handles `confirm_effect`.
pub(super) async fn confirm_effect(
    api: &ComplaintsApi,
    request: pb::ConfirmEffectRequest,
) -> Result<pb::ConfirmEffectResponse, Error> {
    limits::check(&request)?;
    let pb::ConfirmEffectRequest {
        complaint_id,
        effective,
        note,
        actor,
        etag,
    } = request;
    let c = api
        .transition(
            &complaint_id,
            actor,
            &etag,
            Violations::default(),
            |c, a, r, now| c.confirm_effect(effective, &note, a, r, now),
        )
        .await?;
    Ok(pb::ConfirmEffectResponse { complaint: Some(c) })
}

/// Handles `reopen_complaint`.
pub(super) async fn reopen_complaint(
    api: &ComplaintsApi,
    request: pb::ReopenComplaintRequest,
) -> Result<pb::ReopenComplaintResponse, Error> {
    limits::check(&request)?;
    let key = Key::new("reopen", request.request_id.trim(), &request);
    let pb::ReopenComplaintRequest {
        complaint_id,
        reason,
        note,
        request_id,
        actor,
        etag,
    } = request;
    let mut v = Violations::default();
    v.require_id("complaint_id", &complaint_id);
    let actor = convert::actor(actor, &mut v);
    let rid = retry_key(&mut v, &request_id);
    done(v)?;
    let reason = ReopenReason::from_number(reason);
    let (c, _) = api
        .mutate(&complaint_id, &etag, rid.map(|_| key), |c, rules, now| {
            c.reopen(reason, &note, &actor, rules, now)
                .map(|effects| (String::new(), effects))
        })
        .await?;
    tracing::info!(complaint_id = %c.id, reopen_count = c.reopen_count, "complaint reopened");
    Ok(pb::ReopenComplaintResponse {
        complaint: Some(api.to_pb(&c)),
    })
}

/// Handles `withdraw_complaint`.
pub(super) async fn withdraw_complaint(
    api: &ComplaintsApi,
    request: pb::WithdrawComplaintRequest,
) -> Result<pb::WithdrawComplaintResponse, Error> {
    limits::check(&request)?;
    let pb::WithdrawComplaintRequest {
        complaint_id,
        reason,
        actor,
        etag,
    } = request;
    let c = api
        .transition(
            &complaint_id,
            actor,
            &etag,
            Violations::default(),
            |c, a, r, now| c.withdraw(&reason, a, r, now),
        )
        .await?;
    Ok(pb::WithdrawComplaintResponse { complaint: Some(c) })
}

/// Handles `escalate_complaint`.
pub(super) async fn escalate_complaint(
    api: &ComplaintsApi,
    request: pb::EscalateComplaintRequest,
) -> Result<pb::EscalateComplaintResponse, Error> {
    limits::check(&request)?;
    let pb::EscalateComplaintRequest {
        complaint_id,
        to_level,
        reason,
        escalated_to_id,
        note,
        actor,
        etag,
    } = request;
    let to = Level::from_number(to_level);
    let reason = EscalationReason::from_number(reason);
    let c = api
        .transition(
            &complaint_id,
            actor,
            &etag,
            Violations::default(),
            |c, a, r, now| c.escalate(to, reason, &escalated_to_id, &note, a, r, now),
        )
        .await?;
    Ok(pb::EscalateComplaintResponse { complaint: Some(c) })
}
