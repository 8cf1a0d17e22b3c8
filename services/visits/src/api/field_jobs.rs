//! Field-job handlers: each checks its request's sizes (the maxima below, which the proto
//! comments document), destructures and validates it into field violations by proto path,
//! makes one call to the use cases in `crate::app` and converts the job, every field named.

use chrono::{DateTime, TimeDelta, Utc};
use csops_proto::visits::v1 as pb;
use csops_runtime::idempotency::Key;
use csops_runtime::paging::{self, Cursor, Filters};
use csops_runtime::time::{from_timestamp, to_timestamp, to_timestamp_opt};
use csops_runtime::violations::{MAX_FILTER_VALUES, MAX_PAGE_TOKEN_LEN};
use csops_runtime::{etag, Error, Violations};
use csops_sla::{Ending, Policy, State};
use prost_types::Duration;

use super::convert::{actor, actor_pb, region_pb, required};
use super::{VisitsApi, DEFAULT_PAGE_SIZE};
use crate::domain::field_job::{
    status, ClockKind, Completion, CompletionInput, Consent, ConsentInput, ConsentMethod,
    ConsentState, ExtraWork, ExtraWorkInput, FieldJob, FieldJobKind, FieldJobState, JobClock,
    NewFieldJob, PauseReason, ReplacedParts, TimeWindow, WindowInput, MAX_AGREED_WITH,
    MAX_DESCRIPTION, MAX_EVIDENCE_REF, MAX_EXPLANATION, MAX_EXTRA_WORK, MAX_EXTRA_WORK_DESCRIPTION,
    MAX_REASON, MAX_SIGNER_NAME, MAX_SITE, MAX_SUMMARY, MAX_WINDOWS,
};
use crate::store::FieldJobFilter;

/// Longest currency code accepted before it is read (ISO 4217 codes have three letters).
const MAX_CURRENCY: usize = 3;
/// Most clocks a job carries (output only; bounded so an echoed job stays small).
const MAX_CLOCKS: usize = 10;
/// Longest extra time of extra work.
const MAX_EXTRA_TIME: TimeDelta = TimeDelta::days(366);

// ---------------------------------------------------------------------------------------------
// Sizes, checked before any work.

/// A field-job request whose sizes are bounded.
trait Bounded {
    /// Records a violation for every field over its documented maximum.
    fn check_sizes(&self, v: &mut Violations);
}

/// Answers INVALID_ARGUMENT naming every field of `request` over its maximum.
fn check_sizes(request: &impl Bounded) -> Result<(), Error> {
    let mut v = Violations::default();
    request.check_sizes(&mut v);
    valid(v)
}

/// INVALID_ARGUMENT for every violation, or nothing.
fn valid(v: Violations) -> Result<(), Error> {
    v.into_result(()).map_err(Error::InvalidArgument)
}

fn actor_sizes(v: &mut Violations, field: &str, actor: Option<&pb::Actor>) {
    if let Some(pb::Actor { id, role: _ }) = actor {
        v.max_id(&format!("{field}.id"), id);
    }
}

fn window_sizes(v: &mut Violations, field: &str, w: &pb::TimeWindow) {
    let pb::TimeWindow {
        start_time: _,
        end_time: _,
        agreed_with_customer,
        agreed_by,
        agree_time: _,
    } = w;
    v.max_len(
        &format!("{field}.agreed_with_customer"),
        agreed_with_customer,
        MAX_AGREED_WITH,
    );
    actor_sizes(v, &format!("{field}.agreed_by"), agreed_by.as_ref());
}

fn consent_sizes(v: &mut Violations, field: &str, c: &pb::ConsentRecord) {
    let pb::ConsentRecord {
        method: _,
        signer_name,
        evidence_ref,
        consent_time: _,
        recorded_by,
    } = c;
    v.max_len(
        &format!("{field}.signer_name"),
        signer_name,
        MAX_SIGNER_NAME,
    );
    v.max_len(
        &format!("{field}.evidence_ref"),
        evidence_ref,
        MAX_EVIDENCE_REF,
    );
    actor_sizes(v, &format!("{field}.recorded_by"), recorded_by.as_ref());
}

fn extra_work_sizes(v: &mut Violations, field: &str, w: &pb::ExtraWork) {
    let pb::ExtraWork {
        id,
        description,
        cost_minor: _,
        currency_code,
        extra_time: _,
        consent_state: _,
        consent,
        proposed_by,
        propose_time: _,
        estimated_completion_time: _,
        replaced_parts: _,
    } = w;
    v.max_id(&format!("{field}.id"), id);
    v.max_len(
        &format!("{field}.description"),
        description,
        MAX_EXTRA_WORK_DESCRIPTION,
    );
    v.max_len(
        &format!("{field}.currency_code"),
        currency_code,
        MAX_CURRENCY,
    );
    if let Some(c) = consent {
        consent_sizes(v, &format!("{field}.consent"), c);
    }
    actor_sizes(v, &format!("{field}.proposed_by"), proposed_by.as_ref());
}

fn completion_sizes(v: &mut Violations, field: &str, c: &pb::FieldJobCompletion) {
    let pb::FieldJobCompletion {
        summary,
        complete_time: _,
        completed_by,
        customer_signed_off: _,
        charged_minor: _,
        currency_code,
        feedback_callback_id,
    } = c;
    v.max_len(&format!("{field}.summary"), summary, MAX_SUMMARY);
    actor_sizes(v, &format!("{field}.completed_by"), completed_by.as_ref());
    v.max_len(
        &format!("{field}.currency_code"),
        currency_code,
        MAX_CURRENCY,
    );
    v.max_id(
        &format!("{field}.feedback_callback_id"),
        feedback_callback_id,
    );
}

/// Every field of a job; the output-only ones are ignored by every RPC but still bounded, so
/// a client echoing a job back cannot send an unbounded one.
fn job_sizes(v: &mut Violations, j: &pb::FieldJob) {
    let pb::FieldJob {
        id,
        customer_id,
        kind: _,
        description,
        site,
        complaint_id,
        engineer_id,
        state: _,
        accept_time: _,
        dispatch_time: _,
        agreed_window,
        previous_windows,
        arrive_time: _,
        arrived_on_time: _,
        explanation,
        extra_work,
        completion,
        cancel_reason,
        clocks,
        key_account: _,
        region: _,
        defaulted: _,
        created_by,
        create_time: _,
        update_time: _,
        etag,
    } = j;
    v.max_id("job.id", id);
    v.max_id("job.customer_id", customer_id);
    v.max_len("job.description", description, MAX_DESCRIPTION);
    v.max_len("job.site", site, MAX_SITE);
    v.max_id("job.complaint_id", complaint_id);
    v.max_id("job.engineer_id", engineer_id);
    if let Some(w) = agreed_window {
        window_sizes(v, "job.agreed_window", w);
    }
    if v.max_items("job.previous_windows", previous_windows.len(), MAX_WINDOWS) {
        for (i, w) in previous_windows.iter().enumerate() {
            window_sizes(v, &format!("job.previous_windows[{i}]"), w);
        }
    }
    v.max_len("job.explanation", explanation, MAX_EXPLANATION);
    if v.max_items("job.extra_work", extra_work.len(), MAX_EXTRA_WORK) {
        for (i, w) in extra_work.iter().enumerate() {
            extra_work_sizes(v, &format!("job.extra_work[{i}]"), w);
        }
    }
    if let Some(c) = completion {
        completion_sizes(v, "job.completion", c);
    }
    v.max_len("job.cancel_reason", cancel_reason, MAX_REASON);
    if v.max_items("job.clocks", clocks.len(), MAX_CLOCKS) {
        for (i, c) in clocks.iter().enumerate() {
            v.max_id(&format!("job.clocks[{i}].id"), &c.id);
            v.max_id(&format!("job.clocks[{i}].rule_id"), &c.rule_id);
        }
    }
    actor_sizes(v, "job.created_by", created_by.as_ref());
    v.max_id("job.etag", etag);
}

macro_rules! sized {
    ($name:ident |$r:ident, $v:ident| $body:block) => {
        impl Bounded for pb::$name {
            fn check_sizes(&self, $v: &mut Violations) {
                let $r = self;
                $body
            }
        }
    };
}

sized!(
    CreateFieldJobRequest | r,
    v | {
        let pb::CreateFieldJobRequest {
            job,
            request_id,
            actor: a,
        } = r;
        if let Some(j) = job {
            job_sizes(v, j);
        }
        v.max_id("request_id", request_id);
        actor_sizes(v, "actor", a.as_ref());
    }
);
sized!(
    GetFieldJobRequest | r,
    v | {
        let pb::GetFieldJobRequest { field_job_id } = r;
        v.max_id("field_job_id", field_job_id);
    }
);
sized!(
    ListFieldJobsRequest | r,
    v | {
        let pb::ListFieldJobsRequest {
            page_size: _,
            page_token,
            customer_id,
            engineer_id,
            states,
            kinds,
            complaint_id,
            consent_pending_only: _,
            breached_only: _,
            create_time_start: _,
            create_time_end: _,
        } = r;
        v.max_len("page_token", page_token, MAX_PAGE_TOKEN_LEN);
        v.max_id("customer_id", customer_id);
        v.max_id("engineer_id", engineer_id);
        v.max_items("states", states.len(), MAX_FILTER_VALUES);
        v.max_items("kinds", kinds.len(), MAX_FILTER_VALUES);
        v.max_id("complaint_id", complaint_id);
    }
);
sized!(
    AgreeFieldJobWindowRequest | r,
    v | {
        let pb::AgreeFieldJobWindowRequest {
            field_job_id,
            window,
            actor: a,
            etag,
        } = r;
        v.max_id("field_job_id", field_job_id);
        if let Some(w) = window {
            window_sizes(v, "window", w);
        }
        actor_sizes(v, "actor", a.as_ref());
        v.max_id("etag", etag);
    }
);
sized!(
    RecordFieldJobArrivalRequest | r,
    v | {
        let pb::RecordFieldJobArrivalRequest {
            field_job_id,
            arrive_time: _,
            actor: a,
            etag,
        } = r;
        v.max_id("field_job_id", field_job_id);
        actor_sizes(v, "actor", a.as_ref());
        v.max_id("etag", etag);
    }
);
sized!(
    StartFieldJobRequest | r,
    v | {
        let pb::StartFieldJobRequest {
            field_job_id,
            explanation,
            actor: a,
            etag,
        } = r;
        v.max_id("field_job_id", field_job_id);
        v.max_len("explanation", explanation, MAX_EXPLANATION);
        actor_sizes(v, "actor", a.as_ref());
        v.max_id("etag", etag);
    }
);
sized!(
    ProposeExtraWorkRequest | r,
    v | {
        let pb::ProposeExtraWorkRequest {
            field_job_id,
            extra_work,
            request_id,
            actor: a,
            etag,
        } = r;
        v.max_id("field_job_id", field_job_id);
        if let Some(w) = extra_work {
            extra_work_sizes(v, "extra_work", w);
        }
        v.max_id("request_id", request_id);
        actor_sizes(v, "actor", a.as_ref());
        v.max_id("etag", etag);
    }
);
sized!(
    RecordExtraWorkConsentRequest | r,
    v | {
        let pb::RecordExtraWorkConsentRequest {
            field_job_id,
            extra_work_id,
            granted: _,
            consent,
            actor: a,
            etag,
        } = r;
        v.max_id("field_job_id", field_job_id);
        v.max_id("extra_work_id", extra_work_id);
        if let Some(c) = consent {
            consent_sizes(v, "consent", c);
        }
        actor_sizes(v, "actor", a.as_ref());
        v.max_id("etag", etag);
    }
);
sized!(
    PauseFieldJobRequest | r,
    v | {
        let pb::PauseFieldJobRequest {
            field_job_id,
            reason: _,
            note,
            actor: a,
            etag,
        } = r;
        v.max_id("field_job_id", field_job_id);
        v.max_len("note", note, MAX_REASON);
        actor_sizes(v, "actor", a.as_ref());
        v.max_id("etag", etag);
    }
);
sized!(
    ResumeFieldJobRequest | r,
    v | {
        let pb::ResumeFieldJobRequest {
            field_job_id,
            actor: a,
            etag,
        } = r;
        v.max_id("field_job_id", field_job_id);
        actor_sizes(v, "actor", a.as_ref());
        v.max_id("etag", etag);
    }
);
sized!(
    CompleteFieldJobRequest | r,
    v | {
        let pb::CompleteFieldJobRequest {
            field_job_id,
            completion,
            actor: a,
            etag,
        } = r;
        v.max_id("field_job_id", field_job_id);
        if let Some(c) = completion {
            completion_sizes(v, "completion", c);
        }
        actor_sizes(v, "actor", a.as_ref());
        v.max_id("etag", etag);
    }
);
sized!(
    CancelFieldJobRequest | r,
    v | {
        let pb::CancelFieldJobRequest {
            field_job_id,
            reason,
            actor: a,
            etag,
        } = r;
        v.max_id("field_job_id", field_job_id);
        v.max_len("reason", reason, MAX_REASON);
        actor_sizes(v, "actor", a.as_ref());
        v.max_id("etag", etag);
    }
);

// ---------------------------------------------------------------------------------------------
// Handlers.

pub(super) async fn create_field_job(
    api: &VisitsApi,
    request: pb::CreateFieldJobRequest,
) -> Result<pb::CreateFieldJobResponse, Error> {
    check_sizes(&request)?;
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
    valid(v)?;
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
    check_sizes(&request)?;
    let pb::GetFieldJobRequest { field_job_id } = request;
    let mut v = Violations::default();
    v.require_id("field_job_id", &field_job_id);
    valid(v)?;
    let job = api.core.load_field_job(field_job_id.trim()).await?;
    Ok(pb::GetFieldJobResponse {
        job: Some(answer(api, &job)),
    })
}

pub(super) async fn list_field_jobs(
    api: &VisitsApi,
    request: pb::ListFieldJobsRequest,
) -> Result<pb::ListFieldJobsResponse, Error> {
    check_sizes(&request)?;
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
        engineer_id: id(engineer_id),
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
    valid(v)?;
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
    check_sizes(&request)?;
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
    valid(v)?;
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
    check_sizes(&request)?;
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
    valid(v)?;
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
    check_sizes(&request)?;
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
    valid(v)?;
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
    check_sizes(&request)?;
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
    valid(v)?;
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
    check_sizes(&request)?;
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
    valid(v)?;
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
    check_sizes(&request)?;
    let pb::PauseFieldJobRequest {
        field_job_id,
        reason,
        note,
        actor: a,
        etag,
    } = request;
    let mut v = Violations::default();
    v.require_id("field_job_id", &field_job_id);
    let reason = required(pause_reason_of(reason), reason, "reason", &mut v);
    require_text(&mut v, "note", &note);
    let actor = actor(a, &mut v);
    valid(v)?;
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
    check_sizes(&request)?;
    let pb::ResumeFieldJobRequest {
        field_job_id,
        actor: a,
        etag,
    } = request;
    let mut v = Violations::default();
    v.require_id("field_job_id", &field_job_id);
    let actor = actor(a, &mut v);
    valid(v)?;
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
    check_sizes(&request)?;
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
    valid(v)?;
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
    check_sizes(&request)?;
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
    valid(v)?;
    let job = api
        .core
        .cancel_field_job(field_job_id.trim(), etag.trim(), reason, actor)
        .await?;
    Ok(pb::CancelFieldJobResponse {
        job: Some(answer(api, &job)),
    })
}

// ---------------------------------------------------------------------------------------------
// Requests in.

fn require_text(v: &mut Violations, field: &str, value: &str) {
    if value.trim().is_empty() {
        v.push(field, "is required");
    }
}

/// Reads the input fields of a new job; the output-only ones are ignored.
fn new_job(job: pb::FieldJob, v: &mut Violations) -> Option<NewFieldJob> {
    let pb::FieldJob {
        id: _,
        customer_id,
        kind,
        description,
        site,
        complaint_id,
        engineer_id,
        state: _,
        accept_time,
        dispatch_time,
        agreed_window: _,
        previous_windows: _,
        arrive_time: _,
        arrived_on_time: _,
        explanation: _,
        extra_work: _,
        completion: _,
        cancel_reason: _,
        clocks: _,
        key_account: _,
        region: _,
        defaulted: _,
        created_by: _,
        create_time: _,
        update_time: _,
        etag: _,
    } = job;
    v.require_id("job.customer_id", &customer_id);
    let kind = required(kind_of(kind), kind, "job.kind", v);
    require_text(v, "job.description", &description);
    v.require_id("job.engineer_id", &engineer_id);
    let accept_time = from_timestamp("job.accept_time", accept_time, v);
    let dispatch_time = from_timestamp("job.dispatch_time", dispatch_time, v);
    Some(NewFieldJob {
        customer_id: customer_id.trim().to_owned(),
        kind: kind?,
        description,
        site,
        complaint_id: complaint_id.trim().to_owned(),
        engineer_id: engineer_id.trim().to_owned(),
        accept_time,
        dispatch_time,
    })
}

/// Reads a window to agree; who agreed it and when come from the request's actor and now.
fn window_of(w: pb::TimeWindow, v: &mut Violations) -> Option<WindowInput> {
    let pb::TimeWindow {
        start_time,
        end_time,
        agreed_with_customer,
        agreed_by: _,
        agree_time: _,
    } = w;
    let start = required_time("window.start_time", start_time, v);
    let end = required_time("window.end_time", end_time, v);
    require_text(v, "window.agreed_with_customer", &agreed_with_customer);
    Some(WindowInput {
        start: start?,
        end: end?,
        agreed_with_customer,
    })
}

/// Reads proposed extra work; its consent, proposer and time are output only.
fn extra_work_of(w: pb::ExtraWork, v: &mut Violations) -> Option<ExtraWorkInput> {
    let pb::ExtraWork {
        id: _,
        description,
        cost_minor,
        currency_code,
        extra_time,
        consent_state: _,
        consent: _,
        proposed_by: _,
        propose_time: _,
        estimated_completion_time,
        replaced_parts,
    } = w;
    require_text(v, "extra_work.description", &description);
    let extra_time = extra_time.and_then(|d| duration_of("extra_work.extra_time", d, v));
    let estimate = required_time(
        "extra_work.estimated_completion_time",
        estimated_completion_time,
        v,
    );
    let parts = required(
        replaced_parts_of(replaced_parts),
        replaced_parts,
        "extra_work.replaced_parts",
        v,
    );
    Some(ExtraWorkInput {
        description,
        cost_minor,
        currency_code: currency_code.trim().to_owned(),
        extra_time,
        estimated_completion_time: estimate?,
        replaced_parts: parts?,
    })
}

/// Reads the customer's answer; who records it is the request's actor.
fn consent_of(c: pb::ConsentRecord, granted: bool, v: &mut Violations) -> Option<ConsentInput> {
    let pb::ConsentRecord {
        method,
        signer_name,
        evidence_ref,
        consent_time,
        recorded_by: _,
    } = c;
    let method = required(consent_method_of(method), method, "consent.method", v);
    require_text(v, "consent.signer_name", &signer_name);
    let consent_time = from_timestamp("consent.consent_time", consent_time, v);
    Some(ConsentInput {
        granted,
        method: method?,
        signer_name,
        evidence_ref,
        consent_time,
    })
}

/// Reads how the work ended; who finished it is the request's actor, the callback id is
/// output only.
fn completion_of(c: pb::FieldJobCompletion, v: &mut Violations) -> CompletionInput {
    let pb::FieldJobCompletion {
        summary,
        complete_time,
        completed_by: _,
        customer_signed_off,
        charged_minor,
        currency_code,
        feedback_callback_id: _,
    } = c;
    require_text(v, "completion.summary", &summary);
    CompletionInput {
        summary,
        complete_time: from_timestamp("completion.complete_time", complete_time, v),
        customer_signed_off,
        charged_minor,
        currency_code: currency_code.trim().to_owned(),
    }
}

fn required_time(
    field: &str,
    t: Option<prost_types::Timestamp>,
    v: &mut Violations,
) -> Option<DateTime<Utc>> {
    if t.is_none() {
        v.push(field, "is required");
        return None;
    }
    from_timestamp(field, t, v)
}

fn duration_of(field: &str, d: Duration, v: &mut Violations) -> Option<TimeDelta> {
    let Duration { seconds, nanos } = d;
    let delta = (seconds >= 0 && (0..1_000_000_000).contains(&nanos))
        .then(|| TimeDelta::try_seconds(seconds))
        .flatten()
        .map(|s| s + TimeDelta::nanoseconds(i64::from(nanos)));
    match delta {
        Some(d) if d <= MAX_EXTRA_TIME => Some(d),
        _ => {
            v.push(field, "must be a duration of 0 to 366 days");
            None
        }
    }
}

/// Reads a repeated enum filter; an unknown or unspecified value is a violation.
fn listed<T>(
    numbers: &[i32],
    field: &str,
    parse: fn(i32) -> Option<T>,
    v: &mut Violations,
) -> Vec<T> {
    numbers
        .iter()
        .enumerate()
        .filter_map(|(i, &n)| {
            let parsed = parse(n);
            if parsed.is_none() {
                v.push(format!("{field}[{i}]"), format!("unknown value {n}"));
            }
            parsed
        })
        .collect()
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

fn kind_of(n: i32) -> Option<FieldJobKind> {
    Some(match pb::FieldJobKind::try_from(n).ok()? {
        pb::FieldJobKind::Installation => FieldJobKind::Installation,
        pb::FieldJobKind::Move => FieldJobKind::Move,
        pb::FieldJobKind::Repair => FieldJobKind::Repair,
        pb::FieldJobKind::Maintenance => FieldJobKind::Maintenance,
        pb::FieldJobKind::Reconnection => FieldJobKind::Reconnection,
        pb::FieldJobKind::BusinessChange => FieldJobKind::BusinessChange,
        pb::FieldJobKind::Unspecified => return None,
    })
}

fn state_of(n: i32) -> Option<FieldJobState> {
    Some(match pb::FieldJobState::try_from(n).ok()? {
        pb::FieldJobState::Created => FieldJobState::Created,
        pb::FieldJobState::WindowAgreed => FieldJobState::WindowAgreed,
        pb::FieldJobState::Arrived => FieldJobState::Arrived,
        pb::FieldJobState::InProgress => FieldJobState::InProgress,
        pb::FieldJobState::Paused => FieldJobState::Paused,
        pb::FieldJobState::Completed => FieldJobState::Completed,
        pb::FieldJobState::Cancelled => FieldJobState::Cancelled,
        pb::FieldJobState::Unspecified => return None,
    })
}

fn pause_reason_of(n: i32) -> Option<PauseReason> {
    Some(match pb::PauseReason::try_from(n).ok()? {
        pb::PauseReason::WaitingOnCustomer => PauseReason::WaitingOnCustomer,
        pb::PauseReason::ExternalDelay => PauseReason::ExternalDelay,
        pb::PauseReason::Unspecified => return None,
    })
}

fn consent_method_of(n: i32) -> Option<ConsentMethod> {
    Some(match pb::ConsentMethod::try_from(n).ok()? {
        pb::ConsentMethod::SignedForm => ConsentMethod::SignedForm,
        pb::ConsentMethod::ElectronicSignature => ConsentMethod::ElectronicSignature,
        pb::ConsentMethod::RecordedCall => ConsentMethod::RecordedCall,
        pb::ConsentMethod::Unspecified => return None,
    })
}

fn replaced_parts_of(n: i32) -> Option<ReplacedParts> {
    Some(match pb::ReplacedParts::try_from(n).ok()? {
        pb::ReplacedParts::None => ReplacedParts::None,
        pb::ReplacedParts::CustomerKeeps => ReplacedParts::CustomerKeeps,
        pb::ReplacedParts::CompanyDisposes => ReplacedParts::CompanyDisposes,
        pb::ReplacedParts::Unspecified => return None,
    })
}

// ---------------------------------------------------------------------------------------------
// Jobs out.

/// The proto job, its clocks evaluated now.
fn answer(api: &VisitsApi, job: &FieldJob) -> pb::FieldJob {
    field_job_pb(job, &api.core.rules.policy, csops_runtime::time::now())
}

fn kind_pb(k: FieldJobKind) -> pb::FieldJobKind {
    match k {
        FieldJobKind::Installation => pb::FieldJobKind::Installation,
        FieldJobKind::Move => pb::FieldJobKind::Move,
        FieldJobKind::Repair => pb::FieldJobKind::Repair,
        FieldJobKind::Maintenance => pb::FieldJobKind::Maintenance,
        FieldJobKind::Reconnection => pb::FieldJobKind::Reconnection,
        FieldJobKind::BusinessChange => pb::FieldJobKind::BusinessChange,
    }
}

fn state_pb(s: FieldJobState) -> pb::FieldJobState {
    match s {
        FieldJobState::Created => pb::FieldJobState::Created,
        FieldJobState::WindowAgreed => pb::FieldJobState::WindowAgreed,
        FieldJobState::Arrived => pb::FieldJobState::Arrived,
        FieldJobState::InProgress => pb::FieldJobState::InProgress,
        FieldJobState::Paused => pb::FieldJobState::Paused,
        FieldJobState::Completed => pb::FieldJobState::Completed,
        FieldJobState::Cancelled => pb::FieldJobState::Cancelled,
    }
}

fn duration_pb(d: TimeDelta) -> Duration {
    Duration {
        seconds: d.num_seconds(),
        nanos: d.subsec_nanos(),
    }
}

fn window_pb(w: &TimeWindow) -> pb::TimeWindow {
    let TimeWindow {
        start,
        end,
        agreed_with_customer,
        agreed_by,
        agree_time,
    } = w;
    pb::TimeWindow {
        start_time: Some(to_timestamp(*start)),
        end_time: Some(to_timestamp(*end)),
        agreed_with_customer: agreed_with_customer.clone(),
        agreed_by: Some(actor_pb(agreed_by)),
        agree_time: Some(to_timestamp(*agree_time)),
    }
}

fn consent_pb(c: &Consent) -> pb::ConsentRecord {
    let Consent {
        method,
        signer_name,
        evidence_ref,
        consent_time,
        recorded_by,
    } = c;
    pb::ConsentRecord {
        method: match method {
            ConsentMethod::SignedForm => pb::ConsentMethod::SignedForm,
            ConsentMethod::ElectronicSignature => pb::ConsentMethod::ElectronicSignature,
            ConsentMethod::RecordedCall => pb::ConsentMethod::RecordedCall,
        } as i32,
        signer_name: signer_name.clone(),
        evidence_ref: evidence_ref.clone(),
        consent_time: Some(to_timestamp(*consent_time)),
        recorded_by: Some(actor_pb(recorded_by)),
    }
}

fn extra_work_pb(w: &ExtraWork) -> pb::ExtraWork {
    let ExtraWork {
        id,
        description,
        cost_minor,
        currency_code,
        extra_time,
        consent_state,
        consent,
        proposed_by,
        propose_time,
        estimated_completion_time,
        replaced_parts,
    } = w;
    pb::ExtraWork {
        id: id.clone(),
        description: description.clone(),
        cost_minor: *cost_minor,
        currency_code: currency_code.clone(),
        extra_time: (*extra_time > TimeDelta::zero()).then(|| duration_pb(*extra_time)),
        consent_state: match consent_state {
            ConsentState::Pending => pb::ConsentState::Pending,
            ConsentState::Granted => pb::ConsentState::Granted,
            ConsentState::Refused => pb::ConsentState::Refused,
        } as i32,
        consent: consent.as_ref().map(consent_pb),
        proposed_by: Some(actor_pb(proposed_by)),
        propose_time: Some(to_timestamp(*propose_time)),
        estimated_completion_time: Some(to_timestamp(*estimated_completion_time)),
        replaced_parts: match replaced_parts {
            ReplacedParts::None => pb::ReplacedParts::None,
            ReplacedParts::CustomerKeeps => pb::ReplacedParts::CustomerKeeps,
            ReplacedParts::CompanyDisposes => pb::ReplacedParts::CompanyDisposes,
        } as i32,
    }
}

fn completion_pb(c: &Completion) -> pb::FieldJobCompletion {
    let Completion {
        summary,
        complete_time,
        completed_by,
        customer_signed_off,
        charged_minor,
        currency_code,
        feedback_callback_id,
    } = c;
    pb::FieldJobCompletion {
        summary: summary.clone(),
        complete_time: Some(to_timestamp(*complete_time)),
        completed_by: Some(actor_pb(completed_by)),
        customer_signed_off: *customer_signed_off,
        charged_minor: *charged_minor,
        currency_code: currency_code.clone(),
        feedback_callback_id: feedback_callback_id.clone(),
    }
}

fn clock_pb(c: &JobClock, policy: &Policy, now: DateTime<Utc>) -> pb::SlaClock {
    let JobClock {
        id,
        kind,
        clock,
        breached: _,
    } = c;
    let status = status(policy, clock, now);
    let state = match status.state {
        State::Running | State::AtRisk => pb::SlaClockState::Running,
        State::Paused => pb::SlaClockState::Paused,
        State::Met => pb::SlaClockState::Met,
        State::MetLate => pb::SlaClockState::MetLate,
        State::Breached => pb::SlaClockState::Breached,
        State::Cancelled => pb::SlaClockState::Cancelled,
    };
    let counting = matches!(status.state, State::Running | State::AtRisk | State::Paused);
    let stop_time = match clock.ending() {
        Some(Ending::Stopped(t) | Ending::Cancelled(t)) => Some(t),
        None => None,
    };
    pb::SlaClock {
        id: id.clone(),
        kind: match kind {
            ClockKind::FirstContact => pb::SlaClockKind::FirstContact,
            ClockKind::Completion => pb::SlaClockKind::Completion,
        } as i32,
        state: state as i32,
        at_risk: counting && status.at_risk.is_some(),
        target: Some(duration_pb(clock.spec().target)),
        start_time: Some(to_timestamp(clock.started_at())),
        deadline: Some(to_timestamp(status.deadline)),
        stop_time: to_timestamp_opt(stop_time),
        paused: Some(duration_pb(status.paused)),
        rule_id: clock.spec().rule.clone(),
    }
}

/// The proto job, every field named; clocks are evaluated at `now`.
fn field_job_pb(j: &FieldJob, policy: &Policy, now: DateTime<Utc>) -> pb::FieldJob {
    let FieldJob {
        id,
        customer_id,
        kind,
        description,
        site,
        complaint_id,
        engineer_id,
        state,
        accept_time,
        dispatch_time,
        agreed_window,
        previous_windows,
        arrive_time,
        arrived_on_time,
        explanation,
        extra_work,
        completion,
        cancel_reason,
        pauses: _,
        clocks,
        customer,
        created_by,
        create_time,
        update_time,
        version,
    } = j;
    pb::FieldJob {
        id: id.clone(),
        customer_id: customer_id.clone(),
        kind: kind_pb(*kind) as i32,
        description: description.clone(),
        site: site.clone(),
        complaint_id: complaint_id.clone(),
        engineer_id: engineer_id.clone(),
        state: state_pb(*state) as i32,
        accept_time: Some(to_timestamp(*accept_time)),
        dispatch_time: to_timestamp_opt(*dispatch_time),
        agreed_window: agreed_window.as_ref().map(window_pb),
        previous_windows: previous_windows.iter().map(window_pb).collect(),
        arrive_time: to_timestamp_opt(*arrive_time),
        arrived_on_time: *arrived_on_time,
        explanation: explanation.clone(),
        extra_work: extra_work.iter().map(extra_work_pb).collect(),
        completion: completion.as_ref().map(completion_pb),
        cancel_reason: cancel_reason.clone(),
        clocks: clocks.iter().map(|c| clock_pb(c, policy, now)).collect(),
        key_account: customer.key_account,
        region: region_pb(customer.region) as i32,
        defaulted: customer.defaulted,
        created_by: Some(actor_pb(created_by)),
        create_time: Some(to_timestamp(*create_time)),
        update_time: Some(to_timestamp(*update_time)),
        etag: etag::of(*version),
    }
}
