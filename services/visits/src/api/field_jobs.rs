//! Field-job handlers: each checks its request's sizes (`limits.rs`: the maxima the proto
//! comments document), destructures and validates it into field violations by proto path,
//! makes one call to the use cases in `crate::app` and converts the job
//! (`convert_field_jobs.rs`), every field named.

use chrono::{DateTime, Utc};
use csops_proto::visits::v1 as pb;
use csops_runtime::idempotency::Key;
use csops_runtime::paging::{self, Cursor, Filters};
use csops_runtime::time::from_timestamp;
use csops_runtime::{Error, Violations};

use super::convert::actor;
use super::convert_field_jobs::{
    completion_of, consent_of, extra_work_of, extra_work_pb, field_job_pb, kind_of, listed,
    new_job, pause_reason_of, require_text, state_of, window_of,
};
use super::limits;
use super::{done, VisitsApi, DEFAULT_PAGE_SIZE};
use crate::domain::field_job::FieldJob;
use crate::store::FieldJobFilter;

pub(super) async fn create_field_job(
    api: &VisitsApi,
    request: pb::CreateFieldJobRequest,
) -> Result<pb::CreateFieldJobResponse, Error> {
    limits::check(&request)?;
    let key = Key::new("create-field-job", request.request_id.trim(), &request);
    let pb::CreateFieldJobRequest {
        job,
        request_id,
        actor: a,
    } = request;
    let mut v = Violations::default();
    let input = match job {
        Some(job) => new_job(job, &mut v),
        None => {
            v.push("job", "is required");
            None
        }
    };
    v.require_request_id(&request_id);
    let actor = actor(a, &mut v);
    done(v)?;
    let Some(input) = input else {
        return Err(Error::invalid("job", "is required"));
    };
    let job = api.core.create_field_job(input, &key, actor).await?;
    Ok(pb::CreateFieldJobResponse {
        job: Some(answer(api, &job)),
    })
}

pub(super) async fn get_field_job(
    api: &VisitsApi,
    request: pb::GetFieldJobRequest,
) -> Result<pb::GetFieldJobResponse, Error> {
    limits::check(&request)?;
    let pb::GetFieldJobRequest { field_job_id } = request;
    let mut v = Violations::default();
    v.require_id("field_job_id", &field_job_id);
    done(v)?;
    let job = api.core.load_field_job(field_job_id.trim()).await?;
    Ok(pb::GetFieldJobResponse {
        job: Some(answer(api, &job)),
    })
}

pub(super) async fn list_field_jobs(
    api: &VisitsApi,
    request: pb::ListFieldJobsRequest,
) -> Result<pb::ListFieldJobsResponse, Error> {
    limits::check(&request)?;
    let pb::ListFieldJobsRequest {
        page_size,
        page_token,
        customer_id,
        engineer_id,
        states,
        kinds,
        complaint_id,
        consent_pending_only,
        breached_only,
        create_time_start,
        create_time_end,
    } = request;
    let mut v = Violations::default();
    let limit = paging::page_size(page_size, DEFAULT_PAGE_SIZE, &mut v);
    let id = |s: String| Some(s.trim().to_owned()).filter(|s| !s.is_empty());
    let filter = FieldJobFilter {
        customer_id: id(customer_id),
        // A field engineer lists only their own jobs; agents and leads see all.
        engineer_id: csops_runtime::auth::listing_owner_among(
            &[csops_runtime::auth::Role::FieldEngineer],
            id(engineer_id),
        )
        .map_err(Error::PermissionDenied)?,
        states: listed(&states, "states", state_of, &mut v),
        kinds: listed(&kinds, "kinds", kind_of, &mut v),
        complaint_id: id(complaint_id),
        consent_pending_only,
        breached_only,
        create_time_start: from_timestamp("create_time_start", create_time_start, &mut v),
        create_time_end: from_timestamp("create_time_end", create_time_end, &mut v),
    };
    if let (Some(start), Some(end)) = (filter.create_time_start, filter.create_time_end) {
        if end <= start {
            v.push("create_time_end", "must be after create_time_start");
        }
    }
    let filters = list_filters(&filter);
    let after = api.page_tokens.read(&page_token, &filters, &mut v);
    done(v)?;
    let rows = api
        .core
        .list_field_jobs(&filter, after.as_ref(), limit + 1)
        .await?;
    let (rows, next_page_token) = api.page_tokens.page(rows, limit, &filters, |last| Cursor {
        key: last.create_time.timestamp_micros(),
        id: last.id.clone(),
    });
    let policy = &api.core.rules.policy;
    let now = csops_runtime::time::now();
    Ok(pb::ListFieldJobsResponse {
        jobs: rows.iter().map(|j| field_job_pb(j, policy, now)).collect(),
        next_page_token,
    })
}

pub(super) async fn agree_field_job_window(
    api: &VisitsApi,
    request: pb::AgreeFieldJobWindowRequest,
) -> Result<pb::AgreeFieldJobWindowResponse, Error> {
    limits::check(&request)?;
    let pb::AgreeFieldJobWindowRequest {
        field_job_id,
        window,
        actor: a,
        etag,
    } = request;
    let mut v = Violations::default();
    v.require_id("field_job_id", &field_job_id);
    let window = match window {
        Some(w) => window_of(w, &mut v),
        None => {
            v.push("window", "is required");
            None
        }
    };
    let actor = actor(a, &mut v);
    done(v)?;
    let Some(window) = window else {
        return Err(Error::invalid("window", "is required"));
    };
    let job = api
        .core
        .agree_field_job_window(field_job_id.trim(), etag.trim(), window, actor)
        .await?;
    Ok(pb::AgreeFieldJobWindowResponse {
        job: Some(answer(api, &job)),
    })
}

pub(super) async fn record_field_job_arrival(
    api: &VisitsApi,
    request: pb::RecordFieldJobArrivalRequest,
) -> Result<pb::RecordFieldJobArrivalResponse, Error> {
    limits::check(&request)?;
    let pb::RecordFieldJobArrivalRequest {
        field_job_id,
        arrive_time,
        actor: a,
        etag,
    } = request;
    let mut v = Violations::default();
    v.require_id("field_job_id", &field_job_id);
    let arrive_time = from_timestamp("arrive_time", arrive_time, &mut v);
    let actor = actor(a, &mut v);
    done(v)?;
    let job = api
        .core
        .record_field_job_arrival(field_job_id.trim(), etag.trim(), arrive_time, actor)
        .await?;
    Ok(pb::RecordFieldJobArrivalResponse {
        job: Some(answer(api, &job)),
    })
}

pub(super) async fn start_field_job(
    api: &VisitsApi,
    request: pb::StartFieldJobRequest,
) -> Result<pb::StartFieldJobResponse, Error> {
    limits::check(&request)?;
    let pb::StartFieldJobRequest {
        field_job_id,
        explanation,
        actor: a,
        etag,
    } = request;
    let mut v = Violations::default();
    v.require_id("field_job_id", &field_job_id);
    require_text(&mut v, "explanation", &explanation);
    let actor = actor(a, &mut v);
    done(v)?;
    let job = api
        .core
        .start_field_job(field_job_id.trim(), etag.trim(), explanation, actor)
        .await?;
    Ok(pb::StartFieldJobResponse {
        job: Some(answer(api, &job)),
    })
}

pub(super) async fn propose_extra_work(
    api: &VisitsApi,
    request: pb::ProposeExtraWorkRequest,
) -> Result<pb::ProposeExtraWorkResponse, Error> {
    limits::check(&request)?;
    let key = Some(request.request_id.trim())
        .filter(|id| !id.is_empty())
        .map(|id| Key::new("propose-extra-work", id, &request));
    let pb::ProposeExtraWorkRequest {
        field_job_id,
        extra_work,
        request_id: _,
        actor: a,
        etag,
    } = request;
    let mut v = Violations::default();
    v.require_id("field_job_id", &field_job_id);
    let input = match extra_work {
        Some(w) => extra_work_of(w, &mut v),
        None => {
            v.push("extra_work", "is required");
            None
        }
    };
    let actor = actor(a, &mut v);
    done(v)?;
    let Some(input) = input else {
        return Err(Error::invalid("extra_work", "is required"));
    };
    let (job, work) = api
        .core
        .propose_extra_work(field_job_id.trim(), etag.trim(), input, key.as_ref(), actor)
        .await?;
    Ok(pb::ProposeExtraWorkResponse {
        job: Some(answer(api, &job)),
        extra_work: Some(extra_work_pb(&work)),
    })
}

pub(super) async fn record_extra_work_consent(
    api: &VisitsApi,
    request: pb::RecordExtraWorkConsentRequest,
) -> Result<pb::RecordExtraWorkConsentResponse, Error> {
    limits::check(&request)?;
    let pb::RecordExtraWorkConsentRequest {
        field_job_id,
        extra_work_id,
        granted,
        consent,
        actor: a,
        etag,
    } = request;
    let mut v = Violations::default();
    v.require_id("field_job_id", &field_job_id);
    v.require_id("extra_work_id", &extra_work_id);
    let answer_in = match consent {
        Some(c) => consent_of(c, granted, &mut v),
        None => {
            v.push("consent", "is required");
            None
        }
    };
    let actor = actor(a, &mut v);
    done(v)?;
    let Some(answer_in) = answer_in else {
        return Err(Error::invalid("consent", "is required"));
    };
    let job = api
        .core
        .record_extra_work_consent(
            field_job_id.trim(),
            etag.trim(),
            extra_work_id.trim(),
            answer_in,
            actor,
        )
        .await?;
    Ok(pb::RecordExtraWorkConsentResponse {
        job: Some(answer(api, &job)),
    })
}

pub(super) async fn pause_field_job(
    api: &VisitsApi,
    request: pb::PauseFieldJobRequest,
) -> Result<pb::PauseFieldJobResponse, Error> {
    limits::check(&request)?;
    let pb::PauseFieldJobRequest {
        field_job_id,
        reason,
        note,
        actor: a,
        etag,
    } = request;
    let mut v = Violations::default();
    v.require_id("field_job_id", &field_job_id);
    let reason = v.required_enum(pause_reason_of(reason), reason, "reason");
    require_text(&mut v, "note", &note);
    let actor = actor(a, &mut v);
    done(v)?;
    let Some(reason) = reason else {
        return Err(Error::invalid("reason", "is required"));
    };
    let job = api
        .core
        .pause_field_job(field_job_id.trim(), etag.trim(), reason, note, actor)
        .await?;
    Ok(pb::PauseFieldJobResponse {
        job: Some(answer(api, &job)),
    })
}

pub(super) async fn resume_field_job(
    api: &VisitsApi,
    request: pb::ResumeFieldJobRequest,
) -> Result<pb::ResumeFieldJobResponse, Error> {
    limits::check(&request)?;
    let pb::ResumeFieldJobRequest {
        field_job_id,
        actor: a,
        etag,
    } = request;
    let mut v = Violations::default();
    v.require_id("field_job_id", &field_job_id);
    let actor = actor(a, &mut v);
    done(v)?;
    let job = api
        .core
        .resume_field_job(field_job_id.trim(), etag.trim(), actor)
        .await?;
    Ok(pb::ResumeFieldJobResponse {
        job: Some(answer(api, &job)),
    })
}

pub(super) async fn complete_field_job(
    api: &VisitsApi,
    request: pb::CompleteFieldJobRequest,
) -> Result<pb::CompleteFieldJobResponse, Error> {
    limits::check(&request)?;
    let pb::CompleteFieldJobRequest {
        field_job_id,
        completion,
        actor: a,
        etag,
    } = request;
    let mut v = Violations::default();
    v.require_id("field_job_id", &field_job_id);
    let input = match completion {
        Some(c) => Some(completion_of(c, &mut v)),
        None => {
            v.push("completion", "is required");
            None
        }
    };
    let actor = actor(a, &mut v);
    done(v)?;
    let Some(input) = input else {
        return Err(Error::invalid("completion", "is required"));
    };
    let job = api
        .core
        .complete_field_job(field_job_id.trim(), etag.trim(), input, actor)
        .await?;
    Ok(pb::CompleteFieldJobResponse {
        job: Some(answer(api, &job)),
    })
}

pub(super) async fn cancel_field_job(
    api: &VisitsApi,
    request: pb::CancelFieldJobRequest,
) -> Result<pb::CancelFieldJobResponse, Error> {
    limits::check(&request)?;
    let pb::CancelFieldJobRequest {
        field_job_id,
        reason,
        actor: a,
        etag,
    } = request;
    let mut v = Violations::default();
    v.require_id("field_job_id", &field_job_id);
    require_text(&mut v, "reason", &reason);
    let actor = actor(a, &mut v);
    done(v)?;
    let job = api
        .core
        .cancel_field_job(field_job_id.trim(), etag.trim(), reason, actor)
        .await?;
    Ok(pb::CancelFieldJobResponse {
        job: Some(answer(api, &job)),
    })
}

/// The canonical filters of a listing, which its page tokens are bound to.
fn list_filters(f: &FieldJobFilter) -> Filters {
    let FieldJobFilter {
        customer_id,
        engineer_id,
        states,
        kinds,
        complaint_id,
        consent_pending_only,
        breached_only,
        create_time_start,
        create_time_end,
    } = f;
    let micros = |t: &Option<DateTime<Utc>>| t.map_or(0, |t| t.timestamp_micros());
    Filters::new("ListFieldJobs")
        .with("customer_id", customer_id.as_deref().unwrap_or(""))
        .with("engineer_id", engineer_id.as_deref().unwrap_or(""))
        .with_all("states", states.iter().map(|s| s.code()))
        .with_all("kinds", kinds.iter().map(|k| k.code()))
        .with("complaint_id", complaint_id.as_deref().unwrap_or(""))
        .with("consent_pending_only", consent_pending_only)
        .with("breached_only", breached_only)
        .with("create_time_start", micros(create_time_start))
        .with("create_time_end", micros(create_time_end))
}

/// The proto job, its clocks evaluated now.
fn answer(api: &VisitsApi, job: &FieldJob) -> pb::FieldJob {
    field_job_pb(job, &api.core.rules.policy, csops_runtime::time::now())
}
