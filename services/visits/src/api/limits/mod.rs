//! The documented maximum of every string and list of the plan, visit, care and field-job
//! requests (see the proto comments), checked before a request does any work. Each request is
//! destructured field by field, so a new field does not build until its limit is chosen here.
//! The field-job requests are in `field_jobs`.

use csops_proto::visits::v1 as pb;
use csops_runtime::violations::{MAX_FILTER_VALUES, MAX_PAGE_TOKEN_LEN};
use csops_runtime::{Error, Violations};

use crate::domain::care::{MAX_CARE_DATES, MAX_CARE_NOTE, MAX_PERSON_NAME};
use crate::domain::visit::{MAX_DESCRIPTION, MAX_NEED, MAX_NEEDS, MAX_NOTES, MAX_REASON};

/// Longest care preferences, in characters.
pub(super) const MAX_CARE_PREFERENCES: usize = 2000;
/// Most consented channels (there are six).
const MAX_CHANNELS: usize = 6;
/// Longest currency code accepted before it is read (ISO 4217 codes have three letters).
const MAX_CURRENCY: usize = 3;
/// Most clocks a job carries (output only; bounded so an echoed job stays small).
const MAX_CLOCKS: usize = 10;

/// A request whose sizes are bounded.
pub(super) trait Bounded {
    /// Records a violation for every field over its documented maximum.
    fn check_sizes(&self, v: &mut Violations);
}

/// Answers INVALID_ARGUMENT naming every field of `request` over its maximum.
pub(super) fn check(request: &impl Bounded) -> Result<(), Error> {
    let mut v = Violations::default();
    request.check_sizes(&mut v);
    v.into_result(()).map_err(Error::InvalidArgument)
}

fn actor(v: &mut Violations, actor: Option<&pb::Actor>) {
    if let Some(pb::Actor { id, role: _ }) = actor {
        v.max_id("actor.id", id);
    }
}

fn care_dates(v: &mut Violations, field: &str, dates: &[pb::CareDate]) {
    if v.max_items(field, dates.len(), MAX_CARE_DATES) {
        for (i, d) in dates.iter().enumerate() {
            let pb::CareDate {
                occasion: _,
                relation: _,
                person_name,
                month: _,
                day: _,
                note,
            } = d;
            v.max_len(
                &format!("{field}[{i}].person_name"),
                person_name,
                MAX_PERSON_NAME,
            );
            v.max_len(&format!("{field}[{i}].note"), note, MAX_CARE_NOTE);
        }
    }
}

/// The input fields of a plan; output-only fields are ignored by every RPC.
fn plan(v: &mut Violations, p: &pb::VisitPlan) {
    let pb::VisitPlan {
        id,
        customer_id,
        owner_agent_id,
        care_preferences,
        etag,
        care_dates: dates,
        consented_channels,
        anchor_date,
        ..
    } = p;
    v.max_id("plan.id", id);
    v.max_id("plan.customer_id", customer_id);
    v.max_id("plan.owner_agent_id", owner_agent_id);
    v.max_len(
        "plan.care_preferences",
        care_preferences,
        MAX_CARE_PREFERENCES,
    );
    v.max_id("plan.etag", etag);
    v.max_len("plan.anchor_date", anchor_date, 10);
    care_dates(v, "plan.care_dates", dates);
    v.max_items(
        "plan.consented_channels",
        consented_channels.len(),
        MAX_CHANNELS,
    );
}

fn visit(v: &mut Violations, x: &pb::Visit) {
    let pb::Visit {
        id,
        customer_id,
        plan_id,
        description,
        assigned_agent_id,
        cancel_reason,
        notes,
        etag,
        miss_reason,
        outcome,
        ..
    } = x;
    v.max_id("visit.id", id);
    v.max_id("visit.customer_id", customer_id);
    v.max_id("visit.plan_id", plan_id);
    v.max_len("visit.description", description, MAX_DESCRIPTION);
    v.max_id("visit.assigned_agent_id", assigned_agent_id);
    v.max_len("visit.cancel_reason", cancel_reason, MAX_REASON);
    v.max_len("visit.notes", notes, MAX_NOTES);
    v.max_id("visit.etag", etag);
    v.max_len("visit.miss_reason", miss_reason, MAX_REASON);
    if let Some(o) = outcome {
        visit_outcome(v, "visit.outcome", o);
    }
}

fn visit_outcome(v: &mut Violations, field: &str, o: &pb::VisitOutcome) {
    let pb::VisitOutcome {
        visit_time: _,
        performed_by,
        method: _,
        summary,
        needs_found,
        mood: _,
        follow_up_needed: _,
        follow_up,
    } = o;
    if let Some(pb::Actor { id, role: _ }) = performed_by {
        v.max_id(&format!("{field}.performed_by.id"), id);
    }
    v.max_len(&format!("{field}.summary"), summary, MAX_NOTES);
    if v.max_items(
        &format!("{field}.needs_found"),
        needs_found.len(),
        MAX_NEEDS,
    ) {
        for (i, need) in needs_found.iter().enumerate() {
            v.max_len(&format!("{field}.needs_found[{i}]"), need, MAX_NEED);
        }
    }
    v.max_len(&format!("{field}.follow_up"), follow_up, MAX_DESCRIPTION);
}

fn mask(v: &mut Violations, mask: Option<&prost_types::FieldMask>) {
    if let Some(m) = mask {
        v.max_paths("update_mask", &m.paths, 20);
    }
}

macro_rules! bounded {
    ($name:ident |$r:ident, $v:ident| $body:block) => {
        impl Bounded for pb::$name {
            fn check_sizes(&self, $v: &mut Violations) {
                let $r = self;
                $body
            }
        }
    };
}

bounded!(
    CreateVisitPlanRequest | r,
    v | {
        let pb::CreateVisitPlanRequest {
            plan: p,
            request_id,
            actor: a,
        } = r;
        if let Some(p) = p {
            plan(v, p);
        }
        v.max_id("request_id", request_id);
        actor(v, a.as_ref());
    }
);
bounded!(
    GetVisitPlanRequest | r,
    v | {
        let pb::GetVisitPlanRequest { plan_id } = r;
        v.max_id("plan_id", plan_id);
    }
);
bounded!(
    ListVisitPlansRequest | r,
    v | {
        let pb::ListVisitPlansRequest {
            page_size: _,
            page_token,
            owner_agent_id,
            customer_id,
            tier: _,
            key_account: _,
            overdue_only: _,
            next_due_before: _,
            state: _,
        } = r;
        v.max_len("page_token", page_token, MAX_PAGE_TOKEN_LEN);
        v.max_id("owner_agent_id", owner_agent_id);
        v.max_id("customer_id", customer_id);
    }
);
bounded!(
    UpdateVisitPlanRequest | r,
    v | {
        let pb::UpdateVisitPlanRequest {
            plan: p,
            update_mask,
            actor: a,
        } = r;
        if let Some(p) = p {
            plan(v, p);
        }
        mask(v, update_mask.as_ref());
        actor(v, a.as_ref());
    }
);
bounded!(
    RefreshVisitPlanRequest | r,
    v | {
        let pb::RefreshVisitPlanRequest { plan_id, actor: a } = r;
        v.max_id("plan_id", plan_id);
        actor(v, a.as_ref());
    }
);
bounded!(
    PauseVisitPlanRequest | r,
    v | {
        let pb::PauseVisitPlanRequest {
            plan_id,
            reason,
            resume_time: _,
            actor: a,
            etag,
        } = r;
        v.max_id("plan_id", plan_id);
        v.max_len("reason", reason, MAX_REASON);
        actor(v, a.as_ref());
        v.max_id("etag", etag);
    }
);
bounded!(
    ResumeVisitPlanRequest | r,
    v | {
        let pb::ResumeVisitPlanRequest {
            plan_id,
            actor: a,
            etag,
        } = r;
        v.max_id("plan_id", plan_id);
        actor(v, a.as_ref());
        v.max_id("etag", etag);
    }
);
bounded!(
    ApplyCustomerChangeRequest | r,
    v | {
        let pb::ApplyCustomerChangeRequest {
            source_event_id,
            change: _,
            customer,
            actor: a,
        } = r;
        v.max_id("source_event_id", source_event_id);
        if let Some(pb::CustomerFile {
            customer_id,
            tier: _,
            key_account: _,
            region: _,
            owner_agent_id,
            important_dates,
            consented_channels,
            archived: _,
            update_time: _,
        }) = customer
        {
            v.max_id("customer.customer_id", customer_id);
            v.max_id("customer.owner_agent_id", owner_agent_id);
            care_dates(v, "customer.important_dates", important_dates);
            v.max_items(
                "customer.consented_channels",
                consented_channels.len(),
                MAX_CHANNELS,
            );
        }
        actor(v, a.as_ref());
    }
);
bounded!(
    ReplanVisitsRequest | r,
    v | {
        let pb::ReplanVisitsRequest {
            page_size: _,
            actor: a,
        } = r;
        actor(v, a.as_ref());
    }
);
bounded!(
    CreateVisitRequest | r,
    v | {
        let pb::CreateVisitRequest {
            visit: x,
            request_id,
            actor: a,
        } = r;
        if let Some(x) = x {
            visit(v, x);
        }
        v.max_id("request_id", request_id);
        actor(v, a.as_ref());
    }
);
bounded!(
    RequestComplaintVisitRequest | r,
    v | {
        let pb::RequestComplaintVisitRequest {
            complaint_id,
            customer_id,
            reason: _,
            due_time: _,
            assigned_agent_id,
            description,
            source_event_id,
            actor: a,
        } = r;
        v.max_id("complaint_id", complaint_id);
        v.max_id("customer_id", customer_id);
        v.max_id("assigned_agent_id", assigned_agent_id);
        v.max_len("description", description, MAX_DESCRIPTION);
        v.max_id("source_event_id", source_event_id);
        actor(v, a.as_ref());
    }
);
bounded!(
    GetVisitRequest | r,
    v | {
        let pb::GetVisitRequest { visit_id } = r;
        v.max_id("visit_id", visit_id);
    }
);
bounded!(
    ListVisitsRequest | r,
    v | {
        let pb::ListVisitsRequest {
            page_size: _,
            page_token,
            customer_id,
            assigned_agent_id,
            states,
            care_kind: _,
            methods,
            purposes,
            due_time_start: _,
            due_time_end: _,
            plan_id,
        } = r;
        v.max_len("page_token", page_token, MAX_PAGE_TOKEN_LEN);
        v.max_id("customer_id", customer_id);
        v.max_id("assigned_agent_id", assigned_agent_id);
        v.max_items("states", states.len(), MAX_FILTER_VALUES);
        v.max_items("methods", methods.len(), MAX_FILTER_VALUES);
        v.max_items("purposes", purposes.len(), MAX_FILTER_VALUES);
        v.max_id("plan_id", plan_id);
    }
);
bounded!(
    UpdateVisitRequest | r,
    v | {
        let pb::UpdateVisitRequest {
            visit: x,
            update_mask,
            actor: a,
        } = r;
        if let Some(x) = x {
            visit(v, x);
        }
        mask(v, update_mask.as_ref());
        actor(v, a.as_ref());
    }
);
bounded!(
    ScheduleVisitRequest | r,
    v | {
        let pb::ScheduleVisitRequest {
            visit_id,
            start_time: _,
            end_time: _,
            actor: a,
            etag,
        } = r;
        v.max_id("visit_id", visit_id);
        actor(v, a.as_ref());
        v.max_id("etag", etag);
    }
);
bounded!(
    StartVisitRequest | r,
    v | {
        let pb::StartVisitRequest {
            visit_id,
            actor: a,
            etag,
        } = r;
        v.max_id("visit_id", visit_id);
        actor(v, a.as_ref());
        v.max_id("etag", etag);
    }
);
bounded!(
    CompleteVisitRequest | r,
    v | {
        let pb::CompleteVisitRequest {
            visit_id,
            outcome,
            actor: a,
            etag,
        } = r;
        v.max_id("visit_id", visit_id);
        if let Some(o) = outcome {
            visit_outcome(v, "outcome", o);
        }
        actor(v, a.as_ref());
        v.max_id("etag", etag);
    }
);
bounded!(
    MissVisitRequest | r,
    v | {
        let pb::MissVisitRequest {
            visit_id,
            reason,
            actor: a,
            etag,
        } = r;
        v.max_id("visit_id", visit_id);
        v.max_len("reason", reason, MAX_REASON);
        actor(v, a.as_ref());
        v.max_id("etag", etag);
    }
);
bounded!(
    CancelVisitRequest | r,
    v | {
        let pb::CancelVisitRequest {
            visit_id,
            reason,
            actor: a,
            etag,
        } = r;
        v.max_id("visit_id", visit_id);
        v.max_len("reason", reason, MAX_REASON);
        actor(v, a.as_ref());
        v.max_id("etag", etag);
    }
);
bounded!(
    GetAgendaRequest | r,
    v | {
        let pb::GetAgendaRequest {
            assignee_id,
            start_time: _,
            end_time: _,
        } = r;
        v.max_id("assignee_id", assignee_id);
    }
);
bounded!(
    ListCareEventsRequest | r,
    v | {
        let pb::ListCareEventsRequest {
            page_size: _,
            page_token,
            customer_id,
            owner_agent_id,
            states,
            occasions,
            occasion_date_start,
            occasion_date_end,
        } = r;
        v.max_len("page_token", page_token, MAX_PAGE_TOKEN_LEN);
        v.max_id("customer_id", customer_id);
        v.max_id("owner_agent_id", owner_agent_id);
        v.max_items("states", states.len(), MAX_FILTER_VALUES);
        v.max_items("occasions", occasions.len(), MAX_FILTER_VALUES);
        v.max_len("occasion_date_start", occasion_date_start, 10);
        v.max_len("occasion_date_end", occasion_date_end, 10);
    }
);
bounded!(
    SkipCareEventRequest | r,
    v | {
        let pb::SkipCareEventRequest {
            care_event_id,
            reason,
            actor: a,
        } = r;
        v.max_id("care_event_id", care_event_id);
        v.max_len("reason", reason, MAX_REASON);
        actor(v, a.as_ref());
    }
);

mod field_jobs;
