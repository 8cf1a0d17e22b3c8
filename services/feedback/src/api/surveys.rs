//! Survey handlers: templates (create, revise, get, list) and surveys (send, record on the
//! spot, answer, get, list, adjust the score).

use csops_proto::feedback::v1 as pb;
use csops_runtime::idempotency::Key;
use csops_runtime::paging::{self, Cursor, Filters};
use csops_runtime::time::from_timestamp;
use csops_runtime::{Error, Violations};

use super::convert::{self, subject_kind_of};
use super::convert_surveys::{
    adjustment_kind_of, answer_inputs, grade_of, item_drafts, service_type_of, survey_input,
    survey_pb, template_pb, SurveyInput,
};
use super::limits;
use super::{done, FeedbackApi, DEFAULT_PAGE_SIZE};
use crate::store::{grade_code, service_type_code, SurveyFilter};

pub(super) async fn create_survey_template(
    api: &FeedbackApi,
    request: pb::CreateSurveyTemplateRequest,
) -> Result<pb::CreateSurveyTemplateResponse, Error> {
    limits::check(&request)?;
    let key = Key::new(
        "create-survey-template",
        request.request_id.trim(),
        &request,
    );
    let pb::CreateSurveyTemplateRequest {
        template,
        request_id,
        actor,
    } = request;
    let mut v = Violations::default();
    v.require_request_id(&request_id);
    let actor = convert::actor(actor, &mut v);
    let Some(pb::SurveyTemplate {
        id,
        version: _,
        title,
        items,
        created_by: _,
        create_time: _,
    }) = template
    else {
        v.push("template", "is required");
        return Err(Error::InvalidArgument(v));
    };
    let items = item_drafts(items, "template.items", &mut v);
    done(v)?;
    let template = api
        .core
        .create_template(id.trim(), &title, items, &key, actor)
        .await
        .map_err(|e| e.in_field("template"))?;
    Ok(pb::CreateSurveyTemplateResponse {
        template: Some(template_pb(&template)),
    })
}

pub(super) async fn revise_survey_template(
    api: &FeedbackApi,
    request: pb::ReviseSurveyTemplateRequest,
) -> Result<pb::ReviseSurveyTemplateResponse, Error> {
    limits::check(&request)?;
    let pb::ReviseSurveyTemplateRequest {
        template_id,
        version,
        title,
        items,
        actor,
    } = request;
    let mut v = Violations::default();
    v.require_id("template_id", &template_id);
    if version < 1 {
        v.push("version", "is required: the version revised, from 1");
    }
    let actor = convert::actor(actor, &mut v);
    let items = item_drafts(items, "items", &mut v);
    done(v)?;
    let template = api
        .core
        .revise_template(template_id.trim(), version, &title, items, actor)
        .await?;
    Ok(pb::ReviseSurveyTemplateResponse {
        template: Some(template_pb(&template)),
    })
}

pub(super) async fn get_survey_template(
    api: &FeedbackApi,
    request: pb::GetSurveyTemplateRequest,
) -> Result<pb::GetSurveyTemplateResponse, Error> {
    limits::check(&request)?;
    let pb::GetSurveyTemplateRequest {
        template_id,
        version,
    } = request;
    let mut v = Violations::default();
    v.require_id("template_id", &template_id);
    if version < 0 {
        v.push("version", "must be 0 (the latest) or a version");
    }
    done(v)?;
    let template = api
        .core
        .load_template(template_id.trim(), (version > 0).then_some(version))
        .await?;
    Ok(pb::GetSurveyTemplateResponse {
        template: Some(template_pb(&template)),
    })
}

pub(super) async fn list_survey_templates(
    api: &FeedbackApi,
    request: pb::ListSurveyTemplatesRequest,
) -> Result<pb::ListSurveyTemplatesResponse, Error> {
    limits::check(&request)?;
    let pb::ListSurveyTemplatesRequest {
        page_size,
        page_token,
    } = request;
    let mut v = Violations::default();
    let limit = paging::page_size(page_size, DEFAULT_PAGE_SIZE, &mut v);
    let filters = Filters::new("ListSurveyTemplates");
    let after = api.page_tokens.read(&page_token, &filters, &mut v);
    done(v)?;
    let rows = api
        .core
        .list_templates(after.as_ref().map(|c| c.id.as_str()), limit + 1)
        .await?;
    let (rows, next_page_token) = api.page_tokens.page(rows, limit, &filters, |last| Cursor {
        key: 0,
        id: last.id.clone(),
    });
    Ok(pb::ListSurveyTemplatesResponse {
        templates: rows.iter().map(template_pb).collect(),
        next_page_token,
    })
}

pub(super) async fn send_survey(
    api: &FeedbackApi,
    request: pb::SendSurveyRequest,
) -> Result<pb::SendSurveyResponse, Error> {
    limits::check(&request)?;
    let key = Key::new("send-survey", request.request_id.trim(), &request);
    let pb::SendSurveyRequest {
        survey,
        request_id,
        actor,
    } = request;
    let mut v = Violations::default();
    v.require_request_id(&request_id);
    let actor = convert::actor(actor, &mut v);
    let SurveyInput {
        survey,
        template_id,
        template_version,
        answers,
        answer_time,
    } = survey_input(survey, &mut v);
    if !answers.is_empty() {
        v.push(
            "survey.answers",
            "must be empty: a sent survey is answered later with AnswerSurvey (CreateSurvey \
             records one answered on the spot)",
        );
    }
    if answer_time.is_some() {
        v.push("survey.answer_time", "must be unset on a survey sent");
    }
    done(v)?;
    let Some(survey) = survey else {
        return Err(Error::invalid("survey", "is required"));
    };
    let survey = api
        .core
        .send_survey(survey, &template_id, template_version, &key, actor)
        .await
        .map_err(|e| e.in_field("survey"))?;
    Ok(pb::SendSurveyResponse {
        survey: Some(survey_pb(&survey)),
    })
}

pub(super) async fn create_survey(
    api: &FeedbackApi,
    request: pb::CreateSurveyRequest,
) -> Result<pb::CreateSurveyResponse, Error> {
    limits::check(&request)?;
    let key = Key::new("create-survey", request.request_id.trim(), &request);
    let pb::CreateSurveyRequest {
        survey,
        request_id,
        actor,
    } = request;
    let mut v = Violations::default();
    v.require_request_id(&request_id);
    let actor = convert::actor(actor, &mut v);
    let SurveyInput {
        survey,
        template_id,
        template_version,
        answers,
        answer_time,
    } = survey_input(survey, &mut v);
    done(v)?;
    let Some(survey) = survey else {
        return Err(Error::invalid("survey", "is required"));
    };
    let survey = api
        .core
        .create_survey(
            survey,
            &template_id,
            template_version,
            &answers,
            answer_time,
            &key,
            actor,
        )
        .await
        .map_err(|e| e.in_field("survey"))?;
    Ok(pb::CreateSurveyResponse {
        survey: Some(survey_pb(&survey)),
    })
}

pub(super) async fn answer_survey(
    api: &FeedbackApi,
    request: pb::AnswerSurveyRequest,
) -> Result<pb::AnswerSurveyResponse, Error> {
    limits::check(&request)?;
    let pb::AnswerSurveyRequest {
        survey_id,
        answers,
        answer_time,
        actor,
        etag,
    } = request;
    let mut v = Violations::default();
    v.require_id("survey_id", &survey_id);
    let answer_time = from_timestamp("answer_time", answer_time, &mut v);
    let actor = convert::actor(actor, &mut v);
    done(v)?;
    let survey = api
        .core
        .answer_survey(
            survey_id.trim(),
            &etag,
            &answer_inputs(answers),
            answer_time,
            &actor,
        )
        .await?;
    Ok(pb::AnswerSurveyResponse {
        survey: Some(survey_pb(&survey)),
    })
}

pub(super) async fn get_survey(
    api: &FeedbackApi,
    request: pb::GetSurveyRequest,
) -> Result<pb::GetSurveyResponse, Error> {
    limits::check(&request)?;
    let pb::GetSurveyRequest { survey_id } = request;
    let mut v = Violations::default();
    v.require_id("survey_id", &survey_id);
    done(v)?;
    let survey = api.core.load_survey(survey_id.trim()).await?;
    Ok(pb::GetSurveyResponse {
        survey: Some(survey_pb(&survey)),
    })
}

fn survey_filters(f: &SurveyFilter) -> Filters {
    let SurveyFilter {
        customer_id,
        agent_id,
        subject_kind,
        grades,
        service_type,
        answer_time_start,
        answer_time_end,
    } = f;
    Filters::new("ListSurveys")
        .with("customer_id", customer_id.as_deref().unwrap_or(""))
        .with("agent_id", agent_id.as_deref().unwrap_or(""))
        .with("subject_kind", subject_kind.map_or("", |k| k.code()))
        .with_all("grades", grades.iter().map(|g| grade_code(*g)))
        .with("service_type", service_type.map_or("", service_type_code))
        .with(
            "answer_time_start",
            answer_time_start.map_or(0, |t| t.timestamp_micros()),
        )
        .with(
            "answer_time_end",
            answer_time_end.map_or(0, |t| t.timestamp_micros()),
        )
}

pub(super) async fn list_surveys(
    api: &FeedbackApi,
    request: pb::ListSurveysRequest,
) -> Result<pb::ListSurveysResponse, Error> {
    limits::check(&request)?;
    let pb::ListSurveysRequest {
        page_size,
        page_token,
        customer_id,
        agent_id,
        subject_kind,
        grades,
        service_type,
        answer_time_start,
        answer_time_end,
    } = request;
    let mut v = Violations::default();
    let limit = paging::page_size(page_size, DEFAULT_PAGE_SIZE, &mut v);
    let some = |s: String| Some(s.trim().to_owned()).filter(|s| !s.is_empty());
    let filter = SurveyFilter {
        customer_id: some(customer_id),
        agent_id: some(agent_id),
        subject_kind: v.optional_enum(subject_kind_of(subject_kind), subject_kind, "subject_kind"),
        grades: grades
            .iter()
            .enumerate()
            .filter_map(|(i, n)| v.required_enum(grade_of(*n), *n, &format!("grades[{i}]")))
            .collect(),
        service_type: v.optional_enum(service_type_of(service_type), service_type, "service_type"),
        answer_time_start: from_timestamp("answer_time_start", answer_time_start, &mut v),
        answer_time_end: from_timestamp("answer_time_end", answer_time_end, &mut v),
    };
    let filters = survey_filters(&filter);
    let before = api.page_tokens.read(&page_token, &filters, &mut v);
    done(v)?;
    let rows = api
        .core
        .list_surveys(&filter, before.as_ref(), limit + 1)
        .await?;
    let (rows, next_page_token) = api.page_tokens.page(rows, limit, &filters, |last| Cursor {
        key: last.send_time.timestamp_micros(),
        id: last.id.clone(),
    });
    Ok(pb::ListSurveysResponse {
        surveys: rows.iter().map(survey_pb).collect(),
        next_page_token,
    })
}

pub(super) async fn adjust_survey_score(
    api: &FeedbackApi,
    request: pb::AdjustSurveyScoreRequest,
) -> Result<pb::AdjustSurveyScoreResponse, Error> {
    limits::check(&request)?;
    let pb::AdjustSurveyScoreRequest {
        survey_id,
        adjustment,
        actor,
        etag,
    } = request;
    let mut v = Violations::default();
    v.require_id("survey_id", &survey_id);
    let actor = convert::actor(actor, &mut v);
    let Some(pb::ScoreAdjustment {
        kind,
        points,
        reason,
        actor: _,
        adjust_time: _,
    }) = adjustment
    else {
        v.push("adjustment", "is required");
        return Err(Error::InvalidArgument(v));
    };
    let kind = v.required_enum(adjustment_kind_of(kind), kind, "adjustment.kind");
    done(v)?;
    let Some(kind) = kind else {
        return Err(Error::invalid("adjustment.kind", "is required"));
    };
    let survey = api
        .core
        .adjust_survey(survey_id.trim(), &etag, kind, points, &reason, &actor)
        .await?;
    Ok(pb::AdjustSurveyScoreResponse {
        survey: Some(survey_pb(&survey)),
    })
}
