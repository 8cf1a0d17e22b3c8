//! Sizes of the field-job requests.

use csops_proto::visits::v1 as pb;
use csops_runtime::violations::{MAX_FILTER_VALUES, MAX_PAGE_TOKEN_LEN};
use csops_runtime::Violations;

use super::{actor, Bounded, MAX_CLOCKS, MAX_CURRENCY};
use crate::domain::field_job::{
    self as fj, MAX_AGREED_WITH, MAX_EVIDENCE_REF, MAX_EXPLANATION, MAX_EXTRA_WORK,
    MAX_EXTRA_WORK_DESCRIPTION, MAX_SIGNER_NAME, MAX_SITE, MAX_SUMMARY, MAX_WINDOWS,
};

fn actor_at(v: &mut Violations, field: &str, actor: Option<&pb::Actor>) {
    if let Some(pb::Actor { id, role: _ }) = actor {
        v.max_id(&format!("{field}.id"), id);
    }
}

fn time_window(v: &mut Violations, field: &str, w: &pb::TimeWindow) {
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
    actor_at(v, &format!("{field}.agreed_by"), agreed_by.as_ref());
}

fn consent_record(v: &mut Violations, field: &str, c: &pb::ConsentRecord) {
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
    actor_at(v, &format!("{field}.recorded_by"), recorded_by.as_ref());
}

fn extra_work(v: &mut Violations, field: &str, w: &pb::ExtraWork) {
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
        consent_record(v, &format!("{field}.consent"), c);
    }
    actor_at(v, &format!("{field}.proposed_by"), proposed_by.as_ref());
}

fn field_job_completion(v: &mut Violations, field: &str, c: &pb::FieldJobCompletion) {
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
    actor_at(v, &format!("{field}.completed_by"), completed_by.as_ref());
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
fn field_job(v: &mut Violations, j: &pb::FieldJob) {
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
        extra_work: items,
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
    v.max_len("job.description", description, fj::MAX_DESCRIPTION);
    v.max_len("job.site", site, MAX_SITE);
    v.max_id("job.complaint_id", complaint_id);
    v.max_id("job.engineer_id", engineer_id);
    if let Some(w) = agreed_window {
        time_window(v, "job.agreed_window", w);
    }
    if v.max_items("job.previous_windows", previous_windows.len(), MAX_WINDOWS) {
        for (i, w) in previous_windows.iter().enumerate() {
            time_window(v, &format!("job.previous_windows[{i}]"), w);
        }
    }
    v.max_len("job.explanation", explanation, MAX_EXPLANATION);
    if v.max_items("job.extra_work", items.len(), MAX_EXTRA_WORK) {
        for (i, w) in items.iter().enumerate() {
            extra_work(v, &format!("job.extra_work[{i}]"), w);
        }
    }
    if let Some(c) = completion {
        field_job_completion(v, "job.completion", c);
    }
    v.max_len("job.cancel_reason", cancel_reason, fj::MAX_REASON);
    if v.max_items("job.clocks", clocks.len(), MAX_CLOCKS) {
        for (i, c) in clocks.iter().enumerate() {
            v.max_id(&format!("job.clocks[{i}].id"), &c.id);
            v.max_id(&format!("job.clocks[{i}].rule_id"), &c.rule_id);
        }
    }
    actor_at(v, "job.created_by", created_by.as_ref());
    v.max_id("job.etag", etag);
}

bounded!(
    CreateFieldJobRequest | r,
    v | {
        let pb::CreateFieldJobRequest {
            job,
            request_id,
            actor: a,
        } = r;
        if let Some(j) = job {
            field_job(v, j);
        }
        v.max_id("request_id", request_id);
        actor(v, a.as_ref());
    }
);
bounded!(
    GetFieldJobRequest | r,
    v | {
        let pb::GetFieldJobRequest { field_job_id } = r;
        v.max_id("field_job_id", field_job_id);
    }
);
bounded!(
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
bounded!(
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
            time_window(v, "window", w);
        }
        actor(v, a.as_ref());
        v.max_id("etag", etag);
    }
);
bounded!(
    RecordFieldJobArrivalRequest | r,
    v | {
        let pb::RecordFieldJobArrivalRequest {
            field_job_id,
            arrive_time: _,
            actor: a,
            etag,
        } = r;
        v.max_id("field_job_id", field_job_id);
        actor(v, a.as_ref());
        v.max_id("etag", etag);
    }
);
bounded!(
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
        actor(v, a.as_ref());
        v.max_id("etag", etag);
    }
);
bounded!(
    ProposeExtraWorkRequest | r,
    v | {
        let pb::ProposeExtraWorkRequest {
            field_job_id,
            extra_work: w,
            request_id,
            actor: a,
            etag,
        } = r;
        v.max_id("field_job_id", field_job_id);
        if let Some(w) = w {
            extra_work(v, "extra_work", w);
        }
        v.max_id("request_id", request_id);
        actor(v, a.as_ref());
        v.max_id("etag", etag);
    }
);
bounded!(
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
            consent_record(v, "consent", c);
        }
        actor(v, a.as_ref());
        v.max_id("etag", etag);
    }
);
bounded!(
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
        v.max_len("note", note, fj::MAX_REASON);
        actor(v, a.as_ref());
        v.max_id("etag", etag);
    }
);
bounded!(
    ResumeFieldJobRequest | r,
    v | {
        let pb::ResumeFieldJobRequest {
            field_job_id,
            actor: a,
            etag,
        } = r;
        v.max_id("field_job_id", field_job_id);
        actor(v, a.as_ref());
        v.max_id("etag", etag);
    }
);
bounded!(
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
            field_job_completion(v, "completion", c);
        }
        actor(v, a.as_ref());
        v.max_id("etag", etag);
    }
);
bounded!(
    CancelFieldJobRequest | r,
    v | {
        let pb::CancelFieldJobRequest {
            field_job_id,
            reason,
            actor: a,
            etag,
        } = r;
        v.max_id("field_job_id", field_job_id);
        v.max_len("reason", reason, fj::MAX_REASON);
        actor(v, a.as_ref());
        v.max_id("etag", etag);
    }
);
