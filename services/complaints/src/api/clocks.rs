//! SLA clocks: PauseClocks, ResumeClocks and ExplainClock.

use csops_proto::complaints::v1 as pb;
use csops_runtime::{time, Error};

use super::enums::ProtoEnum;
use super::{convert, done, limits, ComplaintsApi};
use crate::domain::{PauseReason, Violations};

/// Handles `pause_clocks`.
pub(super) async fn pause_clocks(
    api: &ComplaintsApi,
    request: pb::PauseClocksRequest,
) -> Result<pb::PauseClocksResponse, Error> {
    limits::check(&request)?;
    let pb::PauseClocksRequest {
        complaint_id,
        reason,
        note,
        actor,
        etag,
    } = request;
    let reason = PauseReason::from_number(reason);
    let c = api
        .transition(
            &complaint_id,
            actor,
            &etag,
            Violations::default(),
            |c, a, r, now| c.pause(reason, &note, a, r, now),
        )
        .await?;
    Ok(pb::PauseClocksResponse { complaint: Some(c) })
}

/// Handles `resume_clocks`.
pub(super) async fn resume_clocks(
    api: &ComplaintsApi,
    request: pb::ResumeClocksRequest,
) -> Result<pb::ResumeClocksResponse, Error> {
    limits::check(&request)?;
    let pb::ResumeClocksRequest {
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
            |c, a, r, now| c.resume(&note, a, r, now),
        )
        .await?;
    Ok(pb::ResumeClocksResponse { complaint: Some(c) })
}

/// Handles `explain_clock`.
pub(super) async fn explain_clock(
    api: &ComplaintsApi,
    request: pb::ExplainClockRequest,
) -> Result<pb::ExplainClockResponse, Error> {
    limits::check(&request)?;
    let pb::ExplainClockRequest {
        complaint_id,
        clock_id,
    } = request;
    let mut v = Violations::default();
    v.require_id("complaint_id", &complaint_id);
    v.require_id("clock_id", &clock_id);
    done(v)?;
    let c = api.load(&complaint_id).await?;
    let clock = c.clock(&clock_id).ok_or_else(|| {
        Error::NotFound(format!("complaint {complaint_id} has no clock {clock_id}"))
    })?;
    let now = time::now();
    let explained = api.rules().policy.explain(&clock.clock, now).map_err(|e| {
        Error::precondition(format!(
            "clock {clock_id} cannot be explained under the current SLA policy: {e}"
        ))
    })?;
    Ok(pb::ExplainClockResponse {
        explanation: Some(convert::explanation(clock, explained, api.rules(), now)),
    })
}
