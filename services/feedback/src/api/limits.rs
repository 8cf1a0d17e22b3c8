//! The documented maximum of every string and list of the callback and survey requests (see
//! the proto comments), checked before a request does any work. Each request is destructured field by
//! field, so a new field does not build until its limit is chosen here.

use csops_proto::feedback::v1 as pb;
use csops_runtime::violations::{MAX_FILTER_VALUES, MAX_PAGE_TOKEN_LEN};
use csops_runtime::{Error, Violations};

use crate::domain::callback::{
    MAX_CANCEL_REASON, MAX_FINDING, MAX_FINDINGS, MAX_FIX_NOTE, MAX_NOTES,
};
use crate::domain::scores::{Dimension, MAX_FREE_TEXT_CHARS};
use crate::domain::survey::{
    MAX_COMMENT, MAX_ITEMS, MAX_ITEM_ID, MAX_NEED, MAX_NEEDS, MAX_PROMPT, MAX_REASON,
    MAX_SLICE_VALUE, MAX_TEMPLATE_ID, MAX_TIER, MAX_TITLE,
};

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
    ScheduleCallbackRequest | r,
    v | {
        let pb::ScheduleCallbackRequest {
            customer_id,
            subject,
            service_end_time: _,
            served_by_agent_id,
            source_event_id,
            actor: a,
        } = r;
        v.max_id("customer_id", customer_id);
        if let Some(pb::Subject { kind: _, id }) = subject {
            v.max_id("subject.id", id);
        }
        v.max_id("served_by_agent_id", served_by_agent_id);
        v.max_id("source_event_id", source_event_id);
        actor(v, a.as_ref());
    }
);
bounded!(
    GetCallbackRequest | r,
    v | {
        let pb::GetCallbackRequest { callback_id } = r;
        v.max_id("callback_id", callback_id);
    }
);
bounded!(
    ListCallbacksRequest | r,
    v | {
        let pb::ListCallbacksRequest {
            page_size: _,
            page_token,
            states,
            assigned_agent_id,
            customer_id,
            subject_kind: _,
            subject_id,
            due_before: _,
        } = r;
        v.max_len("page_token", page_token, MAX_PAGE_TOKEN_LEN);
        v.max_items("states", states.len(), MAX_FILTER_VALUES);
        v.max_id("assigned_agent_id", assigned_agent_id);
        v.max_id("customer_id", customer_id);
        v.max_id("subject_id", subject_id);
    }
);
bounded!(
    RecordCallbackAttemptRequest | r,
    v | {
        let pb::RecordCallbackAttemptRequest {
            callback_id,
            reached: _,
            outcome: _,
            findings,
            notes,
            attempt_time: _,
            request_id,
            actor: a,
            etag,
        } = r;
        v.max_id("callback_id", callback_id);
        if v.max_items("findings", findings.len(), MAX_FINDINGS) {
            for (i, f) in findings.iter().enumerate() {
                let pb::FindingInput {
                    description,
                    owner_agent_id,
                } = f;
                v.max_len(
                    &format!("findings[{i}].description"),
                    description,
                    MAX_FINDING,
                );
                v.max_id(&format!("findings[{i}].owner_agent_id"), owner_agent_id);
            }
        }
        v.max_len("notes", notes, MAX_NOTES);
        v.max_id("request_id", request_id);
        actor(v, a.as_ref());
        v.max_id("etag", etag);
    }
);
bounded!(
    CancelCallbackRequest | r,
    v | {
        let pb::CancelCallbackRequest {
            callback_id,
            reason,
            actor: a,
            etag,
        } = r;
        v.max_id("callback_id", callback_id);
        v.max_len("reason", reason, MAX_CANCEL_REASON);
        actor(v, a.as_ref());
        v.max_id("etag", etag);
    }
);
bounded!(
    FixCallbackFindingRequest | r,
    v | {
        let pb::FixCallbackFindingRequest {
            callback_id,
            finding_id,
            fix_note,
            actor: a,
            etag,
        } = r;
        v.max_id("callback_id", callback_id);
        v.max_id("finding_id", finding_id);
        v.max_len("fix_note", fix_note, MAX_FIX_NOTE);
        actor(v, a.as_ref());
        v.max_id("etag", etag);
    }
);

fn items(v: &mut Violations, field: &str, items: &[pb::SurveyItem]) {
    if v.max_items(field, items.len(), MAX_ITEMS) {
        for (i, item) in items.iter().enumerate() {
            let pb::SurveyItem {
                item_id,
                kind: _,
                prompt,
                dimension: _,
                required: _,
            } = item;
            v.max_len(&format!("{field}[{i}].item_id"), item_id, MAX_ITEM_ID);
            v.max_len(&format!("{field}[{i}].prompt"), prompt, MAX_PROMPT);
        }
    }
}

fn answers(v: &mut Violations, field: &str, answers: &[pb::Answer]) {
    if v.max_items(field, answers.len(), MAX_ITEMS) {
        for (i, answer) in answers.iter().enumerate() {
            let pb::Answer {
                item_id,
                score: _,
                expectation: _,
                perception: _,
                text,
            } = answer;
            v.max_len(&format!("{field}[{i}].item_id"), item_id, MAX_ITEM_ID);
            v.max_len(&format!("{field}[{i}].text"), text, MAX_FREE_TEXT_CHARS);
        }
    }
}

/// The sizes of a survey sent or recorded; output-only lists are bounded too, though ignored.
fn survey(v: &mut Violations, survey: Option<&pb::Survey>) {
    let Some(pb::Survey {
        id,
        customer_id,
        subject,
        agent_id,
        callback_id,
        channel: _,
        dimensions,
        needs,
        comment,
        mean_gap: _,
        base_score: _,
        adjustments,
        overall_score: _,
        grade: _,
        procedural_quality: _,
        personal_quality: _,
        service_type: _,
        answer_time: _,
        created_by: _,
        create_time: _,
        etag,
        template_id,
        template_version: _,
        answers: a,
        state: _,
        slice,
        csat: _,
        nps: _,
        ces: _,
        send_time: _,
    }) = survey
    else {
        return;
    };
    v.max_id("survey.id", id);
    v.max_id("survey.customer_id", customer_id);
    if let Some(pb::Subject { kind: _, id }) = subject {
        v.max_id("survey.subject.id", id);
    }
    v.max_id("survey.agent_id", agent_id);
    v.max_id("survey.callback_id", callback_id);
    v.max_items("survey.dimensions", dimensions.len(), Dimension::ALL.len());
    if v.max_items("survey.needs", needs.len(), MAX_NEEDS) {
        for (i, n) in needs.iter().enumerate() {
            let pb::NeedObservation {
                level: _,
                description,
                met: _,
            } = n;
            v.max_len(
                &format!("survey.needs[{i}].description"),
                description,
                MAX_NEED,
            );
        }
    }
    v.max_len("survey.comment", comment, MAX_COMMENT);
    v.max_items("survey.adjustments", adjustments.len(), MAX_FILTER_VALUES);
    v.max_id("survey.etag", etag);
    v.max_len("survey.template_id", template_id, MAX_TEMPLATE_ID);
    answers(v, "survey.answers", a);
    if let Some(pb::SurveySlice {
        team_id,
        service_hall_id,
        complaint_nature,
        customer_tier,
        customer_region,
    }) = slice
    {
        v.max_len("survey.slice.team_id", team_id, MAX_SLICE_VALUE);
        v.max_len(
            "survey.slice.service_hall_id",
            service_hall_id,
            MAX_SLICE_VALUE,
        );
        v.max_len(
            "survey.slice.complaint_nature",
            complaint_nature,
            MAX_SLICE_VALUE,
        );
        v.max_len("survey.slice.customer_tier", customer_tier, MAX_TIER);
        v.max_len(
            "survey.slice.customer_region",
            customer_region,
            MAX_SLICE_VALUE,
        );
    }
}

bounded!(
    CreateSurveyTemplateRequest | r,
    v | {
        let pb::CreateSurveyTemplateRequest {
            template,
            request_id,
            actor: a,
        } = r;
        if let Some(pb::SurveyTemplate {
            id,
            version: _,
            title,
            items: i,
            created_by: _,
            create_time: _,
        }) = template
        {
            v.max_len("template.id", id, MAX_TEMPLATE_ID);
            v.max_len("template.title", title, MAX_TITLE);
            items(v, "template.items", i);
        }
        v.max_id("request_id", request_id);
        actor(v, a.as_ref());
    }
);
bounded!(
    ReviseSurveyTemplateRequest | r,
    v | {
        let pb::ReviseSurveyTemplateRequest {
            template_id,
            version: _,
            title,
            items: i,
            actor: a,
        } = r;
        v.max_len("template_id", template_id, MAX_TEMPLATE_ID);
        v.max_len("title", title, MAX_TITLE);
        items(v, "items", i);
        actor(v, a.as_ref());
    }
);
bounded!(
    GetSurveyTemplateRequest | r,
    v | {
        let pb::GetSurveyTemplateRequest {
            template_id,
            version: _,
        } = r;
        v.max_len("template_id", template_id, MAX_TEMPLATE_ID);
    }
);
bounded!(
    ListSurveyTemplatesRequest | r,
    v | {
        let pb::ListSurveyTemplatesRequest {
            page_size: _,
            page_token,
        } = r;
        v.max_len("page_token", page_token, MAX_PAGE_TOKEN_LEN);
    }
);
bounded!(
    SendSurveyRequest | r,
    v | {
        let pb::SendSurveyRequest {
            survey: s,
            request_id,
            actor: a,
        } = r;
        survey(v, s.as_ref());
        v.max_id("request_id", request_id);
        actor(v, a.as_ref());
    }
);
bounded!(
    CreateSurveyRequest | r,
    v | {
        let pb::CreateSurveyRequest {
            survey: s,
            request_id,
            actor: a,
        } = r;
        survey(v, s.as_ref());
        v.max_id("request_id", request_id);
        actor(v, a.as_ref());
    }
);
bounded!(
    AnswerSurveyRequest | r,
    v | {
        let pb::AnswerSurveyRequest {
            survey_id,
            answers: a,
            answer_time: _,
            actor: who,
            etag,
        } = r;
        v.max_id("survey_id", survey_id);
        answers(v, "answers", a);
        actor(v, who.as_ref());
        v.max_id("etag", etag);
    }
);
bounded!(
    GetSurveyRequest | r,
    v | {
        let pb::GetSurveyRequest { survey_id } = r;
        v.max_id("survey_id", survey_id);
    }
);
bounded!(
    ListSurveysRequest | r,
    v | {
        let pb::ListSurveysRequest {
            page_size: _,
            page_token,
            customer_id,
            agent_id,
            subject_kind: _,
            grades,
            service_type: _,
            answer_time_start: _,
            answer_time_end: _,
        } = r;
        v.max_len("page_token", page_token, MAX_PAGE_TOKEN_LEN);
        v.max_id("customer_id", customer_id);
        v.max_id("agent_id", agent_id);
        v.max_items("grades", grades.len(), MAX_FILTER_VALUES);
    }
);
bounded!(
    AdjustSurveyScoreRequest | r,
    v | {
        let pb::AdjustSurveyScoreRequest {
            survey_id,
            adjustment,
            actor: a,
            etag,
        } = r;
        v.max_id("survey_id", survey_id);
        if let Some(pb::ScoreAdjustment {
            kind: _,
            points: _,
            reason,
            actor: _,
            adjust_time: _,
        }) = adjustment
        {
            v.max_len("adjustment.reason", reason, MAX_REASON);
        }
        actor(v, a.as_ref());
        v.max_id("etag", etag);
    }
);
