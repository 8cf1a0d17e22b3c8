//! The documented maximum of every string, list and update mask of the complaints API (see
//! the proto comments), checked before a request does any work: before its retry key is
//! hashed, its mask read, a filter bound into SQL or the database asked. Each request is
//! destructured field by field, so a new field does not build until its limit is chosen here.

use csops_proto::complaints::v1 as pb;
use csops_runtime::violations::{MAX_FILTER_VALUES, MAX_PAGE_TOKEN_LEN};
use csops_runtime::Error;

use super::convert::UPDATABLE;
use crate::domain::{
    Violations, MAX_ACCOUNTABLE_PARTY, MAX_DEMAND, MAX_DESCRIPTION, MAX_MEASURES, MAX_NOTE,
    MAX_PLAN_STEPS, MAX_REFERENCES, MAX_REFERENCE_ID, MAX_REFERENCE_KIND, MAX_SHORT_NOTE,
    MAX_TITLE, MAX_TRAITS,
};

/// The longest text CheckReply reads, in characters.
pub(super) const MAX_REPLY_TEXT: usize = 10_000;
/// An ISO 4217 currency code has three letters.
const MAX_CURRENCY_CODE: usize = 3;

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

/// The input fields of a complaint; output-only fields are ignored by every RPC.
fn complaint(v: &mut Violations, c: &pb::Complaint) {
    let pb::Complaint {
        id,
        customer_id,
        title,
        description,
        customer_demand,
        nature: _,
        severity: _,
        channel: _,
        complainant_traits,
        priority: _,
        state: _,
        allowed_next_states: _,
        assigned_agent_id: _,
        escalation_level: _,
        customer: _,
        clocks: _,
        solutions: _,
        resolution,
        callbacks: _,
        promises: _,
        compensations: _,
        escalations: _,
        state_history: _,
        references,
        receive_time: _,
        created_by: _,
        create_time: _,
        update_time: _,
        close_time: _,
        etag,
        reopen_count: _,
        accountable_agent_id: _,
    } = c;
    v.max_id("complaint.id", id);
    v.max_id("complaint.customer_id", customer_id);
    v.max_len("complaint.title", title, MAX_TITLE);
    v.max_len("complaint.description", description, MAX_DESCRIPTION);
    v.max_len("complaint.customer_demand", customer_demand, MAX_DEMAND);
    v.max_items(
        "complaint.complainant_traits",
        complainant_traits.len(),
        MAX_TRAITS,
    );
    if let Some(r) = resolution {
        // Only lesson_learned is an input (UpdateComplaint); the rest is output only.
        v.max_len(
            "complaint.resolution.lesson_learned",
            &r.lesson_learned,
            MAX_NOTE,
        );
    }
    if v.max_items("complaint.references", references.len(), MAX_REFERENCES) {
        for (i, r) in references.iter().enumerate() {
            let pb::ExternalReference { kind, id } = r;
            let field = format!("complaint.references[{i}]");
            v.max_len(&format!("{field}.kind"), kind, MAX_REFERENCE_KIND);
            v.max_len(&format!("{field}.id"), id, MAX_REFERENCE_ID);
        }
    }
    v.max_id("complaint.etag", etag);
}

/// What every change names: the complaint, the actor and the etag.
fn target(v: &mut Violations, complaint_id: &str, actor_: Option<&pb::Actor>, etag: &str) {
    v.max_id("complaint_id", complaint_id);
    actor(v, actor_);
    v.max_id("etag", etag);
}

/// The common shape of a lifecycle change: the target and one text (field, value, maximum).
fn change(
    v: &mut Violations,
    complaint_id: &str,
    text: (&str, &str, usize),
    actor_: Option<&pb::Actor>,
    etag: &str,
) {
    let (field, value, max) = text;
    v.max_len(field, value, max);
    target(v, complaint_id, actor_, etag);
}

impl Bounded for pb::CreateComplaintRequest {
    fn check_sizes(&self, v: &mut Violations) {
        let Self {
            complaint: c,
            request_id,
            actor: a,
        } = self;
        if let Some(c) = c {
            complaint(v, c);
        }
        v.max_id("request_id", request_id);
        actor(v, a.as_ref());
    }
}

impl Bounded for pb::GetComplaintRequest {
    fn check_sizes(&self, v: &mut Violations) {
        let Self { complaint_id } = self;
        v.max_id("complaint_id", complaint_id);
    }
}

impl Bounded for pb::ListComplaintsRequest {
    fn check_sizes(&self, v: &mut Violations) {
        let Self {
            page_size: _,
            page_token,
            states,
            natures,
            severities,
            assigned_agent_id,
            unassigned: _,
            customer_id,
            sla_state: _,
            create_time_start: _,
            create_time_end: _,
            escalation_level: _,
            accountable_agent_id,
        } = self;
        v.max_len("page_token", page_token, MAX_PAGE_TOKEN_LEN);
        v.max_items("states", states.len(), MAX_FILTER_VALUES);
        v.max_items("natures", natures.len(), MAX_FILTER_VALUES);
        v.max_items("severities", severities.len(), MAX_FILTER_VALUES);
        v.max_id("assigned_agent_id", assigned_agent_id);
        v.max_id("customer_id", customer_id);
        v.max_id("accountable_agent_id", accountable_agent_id);
    }
}

impl Bounded for pb::UpdateComplaintRequest {
    fn check_sizes(&self, v: &mut Violations) {
        let Self {
            complaint: c,
            update_mask,
            actor: a,
        } = self;
        if let Some(c) = c {
            complaint(v, c);
        }
        if let Some(mask) = update_mask {
            v.max_paths("update_mask", &mask.paths, UPDATABLE.len());
        }
        actor(v, a.as_ref());
    }
}

impl Bounded for pb::AssignComplaintRequest {
    fn check_sizes(&self, v: &mut Violations) {
        let Self {
            complaint_id,
            agent_id,
            reason,
            actor: a,
            etag,
        } = self;
        v.max_id("agent_id", agent_id);
        change(
            v,
            complaint_id,
            ("reason", reason, MAX_SHORT_NOTE),
            a.as_ref(),
            etag,
        );
    }
}

impl Bounded for pb::AcknowledgeComplaintRequest {
    fn check_sizes(&self, v: &mut Violations) {
        let Self {
            complaint_id,
            note,
            contact_time: _,
            actor: a,
            etag,
        } = self;
        change(v, complaint_id, ("note", note, MAX_NOTE), a.as_ref(), etag);
    }
}

impl Bounded for pb::StartInvestigationRequest {
    fn check_sizes(&self, v: &mut Violations) {
        let Self {
            complaint_id,
            note,
            actor: a,
            etag,
        } = self;
        change(v, complaint_id, ("note", note, MAX_NOTE), a.as_ref(), etag);
    }
}

impl Bounded for pb::ProposeSolutionRequest {
    fn check_sizes(&self, v: &mut Violations) {
        let Self {
            complaint_id,
            measures,
            plan,
            actor: a,
            etag,
        } = self;
        if v.max_items("measures", measures.len(), MAX_MEASURES) {
            for (i, m) in measures.iter().enumerate() {
                v.max_len(&format!("measures[{i}]"), m, MAX_SHORT_NOTE);
            }
        }
        if v.max_items("plan", plan.len(), MAX_PLAN_STEPS) {
            for (i, step) in plan.iter().enumerate() {
                let pb::PlanStep {
                    description,
                    owner_id,
                    due_time: _,
                } = step;
                v.max_len(
                    &format!("plan[{i}].description"),
                    description,
                    MAX_SHORT_NOTE,
                );
                v.max_id(&format!("plan[{i}].owner_id"), owner_id);
            }
        }
        target(v, complaint_id, a.as_ref(), etag);
    }
}

impl Bounded for pb::AcceptSolutionRequest {
    fn check_sizes(&self, v: &mut Violations) {
        let Self {
            complaint_id,
            customer_comment,
            actor: a,
            etag,
        } = self;
        let text = ("customer_comment", customer_comment.as_str(), MAX_NOTE);
        change(v, complaint_id, text, a.as_ref(), etag);
    }
}

impl Bounded for pb::RejectSolutionRequest {
    fn check_sizes(&self, v: &mut Violations) {
        let Self {
            complaint_id,
            customer_comment,
            actor: a,
            etag,
        } = self;
        let text = ("customer_comment", customer_comment.as_str(), MAX_NOTE);
        change(v, complaint_id, text, a.as_ref(), etag);
    }
}

impl Bounded for pb::ResolveComplaintRequest {
    fn check_sizes(&self, v: &mut Violations) {
        let Self {
            complaint_id,
            resolution,
            actor: a,
            etag,
        } = self;
        if let Some(r) = resolution {
            let pb::Resolution {
                summary,
                root_cause,
                corrective_action,
                lesson_learned,
                company_at_fault: _,
                resolved_by: _,
                resolve_time: _,
                accountable_party,
                effect_check: _,
            } = r;
            v.max_len("resolution.summary", summary, MAX_NOTE);
            v.max_len(
                "resolution.accountable_party",
                accountable_party,
                MAX_ACCOUNTABLE_PARTY,
            );
            v.max_len("resolution.root_cause", root_cause, MAX_NOTE);
            v.max_len("resolution.corrective_action", corrective_action, MAX_NOTE);
            v.max_len("resolution.lesson_learned", lesson_learned, MAX_NOTE);
        }
        target(v, complaint_id, a.as_ref(), etag);
    }
}

impl Bounded for pb::RecordCallbackRequest {
    fn check_sizes(&self, v: &mut Violations) {
        let Self {
            complaint_id,
            outcome: _,
            notes,
            callback_time: _,
            feedback_callback_id,
            request_id,
            actor: a,
            etag,
        } = self;
        v.max_id("feedback_callback_id", feedback_callback_id);
        v.max_id("request_id", request_id);
        change(
            v,
            complaint_id,
            ("notes", notes, MAX_NOTE),
            a.as_ref(),
            etag,
        );
    }
}

impl Bounded for pb::CloseComplaintRequest {
    fn check_sizes(&self, v: &mut Violations) {
        let Self {
            complaint_id,
            note,
            actor: a,
            etag,
        } = self;
        change(v, complaint_id, ("note", note, MAX_NOTE), a.as_ref(), etag);
    }
}

impl Bounded for pb::ConfirmEffectRequest {
    fn check_sizes(&self, v: &mut Violations) {
        let Self {
            complaint_id,
            effective: _,
            note,
            actor: a,
            etag,
        } = self;
        change(v, complaint_id, ("note", note, MAX_NOTE), a.as_ref(), etag);
    }
}

impl Bounded for pb::ReopenComplaintRequest {
    fn check_sizes(&self, v: &mut Violations) {
        let Self {
            complaint_id,
            reason: _,
            note,
            request_id,
            actor: a,
            etag,
        } = self;
        v.max_id("request_id", request_id);
        change(v, complaint_id, ("note", note, MAX_NOTE), a.as_ref(), etag);
    }
}

impl Bounded for pb::WithdrawComplaintRequest {
    fn check_sizes(&self, v: &mut Violations) {
        let Self {
            complaint_id,
            reason,
            actor: a,
            etag,
        } = self;
        change(
            v,
            complaint_id,
            ("reason", reason, MAX_NOTE),
            a.as_ref(),
            etag,
        );
    }
}

impl Bounded for pb::EscalateComplaintRequest {
    fn check_sizes(&self, v: &mut Violations) {
        let Self {
            complaint_id,
            to_level: _,
            reason: _,
            escalated_to_id,
            note,
            actor: a,
            etag,
        } = self;
        v.max_id("escalated_to_id", escalated_to_id);
        change(v, complaint_id, ("note", note, MAX_NOTE), a.as_ref(), etag);
    }
}

impl Bounded for pb::PauseClocksRequest {
    fn check_sizes(&self, v: &mut Violations) {
        let Self {
            complaint_id,
            reason: _,
            note,
            actor: a,
            etag,
        } = self;
        let text = ("note", note.as_str(), MAX_SHORT_NOTE);
        change(v, complaint_id, text, a.as_ref(), etag);
    }
}

impl Bounded for pb::ResumeClocksRequest {
    fn check_sizes(&self, v: &mut Violations) {
        let Self {
            complaint_id,
            note,
            actor: a,
            etag,
        } = self;
        let text = ("note", note.as_str(), MAX_SHORT_NOTE);
        change(v, complaint_id, text, a.as_ref(), etag);
    }
}

impl Bounded for pb::ExplainClockRequest {
    fn check_sizes(&self, v: &mut Violations) {
        let Self {
            complaint_id,
            clock_id,
        } = self;
        v.max_id("complaint_id", complaint_id);
        v.max_id("clock_id", clock_id);
    }
}

impl Bounded for pb::WatchSlaEventsRequest {
    fn check_sizes(&self, v: &mut Violations) {
        let Self {
            kinds,
            clock_kinds,
            complaint_id,
            assigned_agent_id,
            customer_id,
            min_severity: _,
            since: _,
            after_event_id,
        } = self;
        v.max_items("kinds", kinds.len(), MAX_FILTER_VALUES);
        v.max_items("clock_kinds", clock_kinds.len(), MAX_FILTER_VALUES);
        v.max_id("complaint_id", complaint_id);
        v.max_id("assigned_agent_id", assigned_agent_id);
        v.max_id("customer_id", customer_id);
        v.max_id("after_event_id", after_event_id);
    }
}

impl Bounded for pb::ListTimelineRequest {
    fn check_sizes(&self, v: &mut Violations) {
        let Self {
            complaint_id,
            page_size: _,
            page_token,
            kinds,
        } = self;
        v.max_id("complaint_id", complaint_id);
        v.max_len("page_token", page_token, MAX_PAGE_TOKEN_LEN);
        v.max_items("kinds", kinds.len(), MAX_FILTER_VALUES);
    }
}

impl Bounded for pb::AddNoteRequest {
    fn check_sizes(&self, v: &mut Violations) {
        let Self {
            complaint_id,
            text,
            request_id,
            actor: a,
        } = self;
        v.max_id("request_id", request_id);
        change(v, complaint_id, ("text", text, MAX_NOTE), a.as_ref(), "");
    }
}

impl Bounded for pb::RecordCallRequest {
    fn check_sizes(&self, v: &mut Violations) {
        let Self {
            complaint_id,
            call,
            request_id,
            actor: a,
        } = self;
        if let Some(pb::CallDetails {
            direction: _,
            start_time: _,
            duration: _,
            reached: _,
            summary,
        }) = call
        {
            v.max_len("call.summary", summary, MAX_NOTE);
        }
        v.max_id("request_id", request_id);
        target(v, complaint_id, a.as_ref(), "");
    }
}

impl Bounded for pb::MakePromiseRequest {
    fn check_sizes(&self, v: &mut Violations) {
        let Self {
            complaint_id,
            description,
            due_time: _,
            request_id,
            actor: a,
            etag,
        } = self;
        v.max_id("request_id", request_id);
        let text = ("description", description.as_str(), MAX_SHORT_NOTE);
        change(v, complaint_id, text, a.as_ref(), etag);
    }
}

impl Bounded for pb::KeepPromiseRequest {
    fn check_sizes(&self, v: &mut Violations) {
        let Self {
            complaint_id,
            promise_id,
            note,
            actor: a,
            etag,
        } = self;
        v.max_id("promise_id", promise_id);
        let text = ("note", note.as_str(), MAX_SHORT_NOTE);
        change(v, complaint_id, text, a.as_ref(), etag);
    }
}

impl Bounded for pb::ReschedulePromiseRequest {
    fn check_sizes(&self, v: &mut Violations) {
        let Self {
            complaint_id,
            promise_id,
            new_due_time: _,
            reason,
            customer_consent,
            actor: a,
            etag,
        } = self;
        v.max_id("promise_id", promise_id);
        v.max_len("reason", reason, MAX_SHORT_NOTE);
        let text = (
            "customer_consent",
            customer_consent.as_str(),
            MAX_SHORT_NOTE,
        );
        change(v, complaint_id, text, a.as_ref(), etag);
    }
}

impl Bounded for pb::ProposeCompensationRequest {
    fn check_sizes(&self, v: &mut Violations) {
        let Self {
            complaint_id,
            kind: _,
            description,
            amount_minor: _,
            currency_code,
            request_id,
            actor: a,
            etag,
        } = self;
        v.max_len("currency_code", currency_code, MAX_CURRENCY_CODE);
        v.max_id("request_id", request_id);
        let text = ("description", description.as_str(), MAX_SHORT_NOTE);
        change(v, complaint_id, text, a.as_ref(), etag);
    }
}

impl Bounded for pb::ApproveCompensationRequest {
    fn check_sizes(&self, v: &mut Violations) {
        let Self {
            complaint_id,
            compensation_id,
            note,
            actor: a,
            etag,
        } = self;
        v.max_id("compensation_id", compensation_id);
        let text = ("note", note.as_str(), MAX_SHORT_NOTE);
        change(v, complaint_id, text, a.as_ref(), etag);
    }
}

impl Bounded for pb::RejectCompensationRequest {
    fn check_sizes(&self, v: &mut Violations) {
        let Self {
            complaint_id,
            compensation_id,
            note,
            actor: a,
            etag,
        } = self;
        v.max_id("compensation_id", compensation_id);
        let text = ("note", note.as_str(), MAX_SHORT_NOTE);
        change(v, complaint_id, text, a.as_ref(), etag);
    }
}

impl Bounded for pb::CheckReplyRequest {
    fn check_sizes(&self, v: &mut Violations) {
        let Self {
            text,
            agent_id,
            complaint_id,
            written: _,
        } = self;
        v.max_len("text", text, MAX_REPLY_TEXT);
        v.max_id("agent_id", agent_id);
        v.max_id("complaint_id", complaint_id);
    }
}

impl Bounded for pb::ListReplyViolationsRequest {
    fn check_sizes(&self, v: &mut Violations) {
        let Self {
            page_size: _,
            page_token,
            agent_id,
            complaint_id,
            check_time_start: _,
            check_time_end: _,
        } = self;
        v.max_len("page_token", page_token, MAX_PAGE_TOKEN_LEN);
        v.max_id("agent_id", agent_id);
        v.max_id("complaint_id", complaint_id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(request: &impl Bounded) -> Vec<String> {
        let mut v = Violations::default();
        request.check_sizes(&mut v);
        v.0.into_iter().map(|f| f.field).collect()
    }

    #[test]
    fn filters_measures_and_masks_are_bounded_by_count_before_their_values_are_read() {
        let list = pb::ListComplaintsRequest {
            states: vec![1; 40_000],
            severities: vec![1; MAX_FILTER_VALUES],
            ..Default::default()
        };
        assert_eq!(fields(&list), ["states"]);
        let propose = pb::ProposeSolutionRequest {
            complaint_id: "cmp_1".into(),
            measures: vec!["x".repeat(1 << 20); MAX_MEASURES + 1],
            ..Default::default()
        };
        assert_eq!(fields(&propose), ["measures"]);
        let update = pb::UpdateComplaintRequest {
            update_mask: Some(prost_types::FieldMask {
                paths: vec!["title".into(); 50_000],
            }),
            ..Default::default()
        };
        assert_eq!(fields(&update), ["update_mask.paths"]);
    }

    #[test]
    fn ids_actor_ids_and_etags_are_at_most_100_characters() {
        let long = "x".repeat(101);
        let close = pb::CloseComplaintRequest {
            complaint_id: long.clone(),
            note: String::new(),
            actor: Some(pb::Actor {
                id: long.clone(),
                role: 1,
            }),
            etag: long,
        };
        assert_eq!(fields(&close), ["complaint_id", "actor.id", "etag"]);
    }
}
