//! Conversions of survey templates and surveys between the proto messages and the domain,
//! every field named so a new field does not build until it is handled.

use chrono::{DateTime, Utc};
use csops_proto::feedback::v1 as pb;
use csops_runtime::time::{from_timestamp, to_timestamp, to_timestamp_opt};
use csops_runtime::{etag, Violations};

use super::convert::{actor_pb, subject, subject_pb};
use crate::domain::grades::{AdjustmentKind, Grade, ServiceType};
use crate::domain::scores::{Answer, Dimension, ItemKind};
use crate::domain::survey::{
    Adjusted, AnswerInput, ItemAnswer, ItemDraft, ItemForm, Need, NeedLevel, NewSurvey, Slice,
    Survey, SurveyChannel, SurveyScores, SurveyState, Template,
};

fn item_form_of(n: i32) -> Option<ItemForm> {
    Some(match pb::ItemKind::try_from(n).ok()? {
        pb::ItemKind::Csat => ItemForm::Csat,
        pb::ItemKind::Nps => ItemForm::Nps,
        pb::ItemKind::Ces => ItemForm::Ces,
        pb::ItemKind::Servqual => ItemForm::Servqual,
        pb::ItemKind::Text => ItemForm::Text,
        pb::ItemKind::Unspecified => return None,
    })
}

fn dimension_of(n: i32) -> Option<Dimension> {
    Some(match pb::Dimension::try_from(n).ok()? {
        pb::Dimension::Tangibles => Dimension::Tangibles,
        pb::Dimension::Empathy => Dimension::Empathy,
        pb::Dimension::Assurance => Dimension::Assurance,
        pb::Dimension::Responsiveness => Dimension::Responsiveness,
        pb::Dimension::Reliability => Dimension::Reliability,
        pb::Dimension::Unspecified => return None,
    })
}

pub(super) fn dimension_pb(d: Dimension) -> pb::Dimension {
    match d {
        Dimension::Tangibles => pb::Dimension::Tangibles,
        Dimension::Empathy => pb::Dimension::Empathy,
        Dimension::Assurance => pb::Dimension::Assurance,
        Dimension::Responsiveness => pb::Dimension::Responsiveness,
        Dimension::Reliability => pb::Dimension::Reliability,
    }
}

pub(super) fn grade_of(n: i32) -> Option<Grade> {
    Some(match pb::Grade::try_from(n).ok()? {
        pb::Grade::Excellent => Grade::Excellent,
        pb::Grade::Good => Grade::Good,
        pb::Grade::MeetsStandard => Grade::MeetsStandard,
        pb::Grade::Fails => Grade::Fails,
        pb::Grade::Unspecified => return None,
    })
}

pub(super) fn grade_pb(g: Option<Grade>) -> pb::Grade {
    match g {
        None => pb::Grade::Unspecified,
        Some(Grade::Excellent) => pb::Grade::Excellent,
        Some(Grade::Good) => pb::Grade::Good,
        Some(Grade::MeetsStandard) => pb::Grade::MeetsStandard,
        Some(Grade::Fails) => pb::Grade::Fails,
    }
}

pub(super) fn service_type_of(n: i32) -> Option<ServiceType> {
    Some(match pb::ServiceType::try_from(n).ok()? {
        pb::ServiceType::Quality => ServiceType::Quality,
        pb::ServiceType::Friendly => ServiceType::Friendly,
        pb::ServiceType::Production => ServiceType::Production,
        pb::ServiceType::Cold => ServiceType::Cold,
        pb::ServiceType::Unspecified => return None,
    })
}

fn service_type_pb(t: Option<ServiceType>) -> pb::ServiceType {
    match t {
        None => pb::ServiceType::Unspecified,
        Some(ServiceType::Quality) => pb::ServiceType::Quality,
        Some(ServiceType::Friendly) => pb::ServiceType::Friendly,
        Some(ServiceType::Production) => pb::ServiceType::Production,
        Some(ServiceType::Cold) => pb::ServiceType::Cold,
    }
}

fn channel_of(n: i32) -> Option<SurveyChannel> {
    Some(match pb::SurveyChannel::try_from(n).ok()? {
        pb::SurveyChannel::Phone => SurveyChannel::Phone,
        pb::SurveyChannel::Sms => SurveyChannel::Sms,
        pb::SurveyChannel::Web => SurveyChannel::Web,
        pb::SurveyChannel::InPerson => SurveyChannel::InPerson,
        pb::SurveyChannel::Paper => SurveyChannel::Paper,
        pb::SurveyChannel::Unspecified => return None,
    })
}

fn channel_pb(c: SurveyChannel) -> pb::SurveyChannel {
    match c {
        SurveyChannel::Phone => pb::SurveyChannel::Phone,
        SurveyChannel::Sms => pb::SurveyChannel::Sms,
        SurveyChannel::Web => pb::SurveyChannel::Web,
        SurveyChannel::InPerson => pb::SurveyChannel::InPerson,
        SurveyChannel::Paper => pb::SurveyChannel::Paper,
    }
}

fn need_level_of(n: i32) -> Option<NeedLevel> {
    Some(match pb::NeedLevel::try_from(n).ok()? {
        pb::NeedLevel::Basic => NeedLevel::Basic,
        pb::NeedLevel::Expected => NeedLevel::Expected,
        pb::NeedLevel::Desired => NeedLevel::Desired,
        pb::NeedLevel::Unexpected => NeedLevel::Unexpected,
        pb::NeedLevel::Unspecified => return None,
    })
}

fn need_level_pb(l: NeedLevel) -> pb::NeedLevel {
    match l {
        NeedLevel::Basic => pb::NeedLevel::Basic,
        NeedLevel::Expected => pb::NeedLevel::Expected,
        NeedLevel::Desired => pb::NeedLevel::Desired,
        NeedLevel::Unexpected => pb::NeedLevel::Unexpected,
    }
}

pub(super) fn adjustment_kind_of(n: i32) -> Option<AdjustmentKind> {
    Some(match pb::AdjustmentKind::try_from(n).ok()? {
        pb::AdjustmentKind::Bonus => AdjustmentKind::Bonus,
        pb::AdjustmentKind::Deduction => AdjustmentKind::Deduction,
        pb::AdjustmentKind::Unspecified => return None,
    })
}

fn adjustment_kind_pb(k: AdjustmentKind) -> pb::AdjustmentKind {
    match k {
        AdjustmentKind::Bonus => pb::AdjustmentKind::Bonus,
        AdjustmentKind::Deduction => pb::AdjustmentKind::Deduction,
    }
}

/// Reads the items of a template; violations name `field[i].kind` and `field[i].dimension`
/// (the rest is the domain's to check).
pub(super) fn item_drafts(
    items: Vec<pb::SurveyItem>,
    field: &str,
    v: &mut Violations,
) -> Vec<ItemDraft> {
    items
        .into_iter()
        .enumerate()
        .filter_map(|(i, item)| {
            let pb::SurveyItem {
                item_id,
                kind,
                prompt,
                dimension,
                required,
            } = item;
            let form = v.required_enum(item_form_of(kind), kind, &format!("{field}[{i}].kind"));
            let dimension = v.optional_enum(
                dimension_of(dimension),
                dimension,
                &format!("{field}[{i}].dimension"),
            );
            Some(ItemDraft {
                item_id: item_id.trim().to_owned(),
                form: form?,
                dimension,
                prompt,
                required,
            })
        })
        .collect()
}

fn item_pb(item: &crate::domain::survey::Item) -> pb::SurveyItem {
    let crate::domain::survey::Item {
        item_id,
        kind,
        prompt,
        required,
    } = item;
    let (kind, dimension) = match kind {
        ItemKind::Csat => (pb::ItemKind::Csat, pb::Dimension::Unspecified),
        ItemKind::Nps => (pb::ItemKind::Nps, pb::Dimension::Unspecified),
        ItemKind::Ces => (pb::ItemKind::Ces, pb::Dimension::Unspecified),
        ItemKind::Servqual(d) => (pb::ItemKind::Servqual, dimension_pb(*d)),
        ItemKind::FreeText => (pb::ItemKind::Text, pb::Dimension::Unspecified),
    };
    pb::SurveyItem {
        item_id: item_id.clone(),
        kind: kind as i32,
        prompt: prompt.clone(),
        dimension: dimension as i32,
        required: *required,
    }
}

/// The proto template version.
pub(super) fn template_pb(t: &Template) -> pb::SurveyTemplate {
    let Template {
        id,
        version,
        title,
        items,
        created_by,
        create_time,
    } = t;
    pb::SurveyTemplate {
        id: id.clone(),
        version: *version,
        title: title.clone(),
        items: items.iter().map(item_pb).collect(),
        created_by: Some(actor_pb(created_by)),
        create_time: Some(to_timestamp(*create_time)),
    }
}

/// The answers as sent, for the domain to read against the template.
pub(super) fn answer_inputs(answers: Vec<pb::Answer>) -> Vec<AnswerInput> {
    answers
        .into_iter()
        .map(
            |pb::Answer {
                 item_id,
                 score,
                 expectation,
                 perception,
                 text,
             }| AnswerInput {
                item_id: item_id.trim().to_owned(),
                score,
                expectation,
                perception,
                text,
            },
        )
        .collect()
}

fn answer_pb(a: &ItemAnswer) -> pb::Answer {
    let ItemAnswer { item_id, answer } = a;
    let mut out = pb::Answer {
        item_id: item_id.clone(),
        ..pb::Answer::default()
    };
    match answer {
        Answer::Csat(x) | Answer::Nps(x) | Answer::Ces(x) => out.score = *x,
        Answer::Servqual {
            dimension: _,
            expectation,
            perception,
        } => {
            out.expectation = *expectation;
            out.perception = *perception;
        }
        Answer::FreeText(text) => out.text = text.clone(),
    }
    out
}

/// A survey as a caller sends it: the new survey's fields, the template it names (version
/// `None`: the latest), its answers and answer time. Output-only fields are ignored.
pub(super) struct SurveyInput {
    pub(super) survey: Option<NewSurvey>,
    pub(super) template_id: String,
    pub(super) template_version: Option<i32>,
    pub(super) answers: Vec<AnswerInput>,
    pub(super) answer_time: Option<DateTime<Utc>>,
}

/// Reads the survey of a Send or Create request; violations name `survey.…`.
pub(super) fn survey_input(survey: Option<pb::Survey>, v: &mut Violations) -> SurveyInput {
    let Some(pb::Survey {
        id: _,
        customer_id,
        subject: sub,
        agent_id,
        callback_id,
        channel,
        dimensions: _,
        needs,
        comment,
        mean_gap: _,
        base_score: _,
        adjustments: _,
        overall_score: _,
        grade: _,
        procedural_quality: _,
        personal_quality: _,
        service_type: _,
        answer_time,
        created_by: _,
        create_time: _,
        etag: _,
        template_id,
        template_version,
        answers,
        state: _,
        slice,
        csat: _,
        nps: _,
        ces: _,
        send_time: _,
    }) = survey
    else {
        v.push("survey", "is required");
        return SurveyInput {
            survey: None,
            template_id: String::new(),
            template_version: None,
            answers: Vec::new(),
            answer_time: None,
        };
    };
    v.require_id("survey.customer_id", &customer_id);
    v.require_id("survey.template_id", &template_id);
    let sub = subject("survey.subject", sub, v);
    let channel = v.required_enum(channel_of(channel), channel, "survey.channel");
    if template_version < 0 {
        v.push(
            "survey.template_version",
            "must be 0 (the latest) or a version",
        );
    }
    let needs: Vec<Option<Need>> = needs
        .into_iter()
        .enumerate()
        .map(|(i, n)| {
            let pb::NeedObservation {
                level,
                description,
                met,
            } = n;
            let level = v.required_enum(
                need_level_of(level),
                level,
                &format!("survey.needs[{i}].level"),
            );
            Some(Need {
                level: level?,
                description: description.trim().to_owned(),
                met,
            })
        })
        .collect();
    let pb::SurveySlice {
        team_id,
        service_hall_id,
        complaint_nature,
        customer_tier,
        customer_region,
    } = slice.unwrap_or_default();
    let answer_time = from_timestamp("survey.answer_time", answer_time, v);
    let survey = match (sub, channel) {
        (Some(subject), Some(channel)) => Some(NewSurvey {
            customer_id: customer_id.trim().to_owned(),
            subject,
            agent_id: agent_id.trim().to_owned(),
            callback_id: callback_id.trim().to_owned(),
            channel,
            needs: needs.into_iter().flatten().collect(),
            comment,
            slice: Slice {
                team_id: team_id.trim().to_owned(),
                service_hall_id: service_hall_id.trim().to_owned(),
                complaint_nature: complaint_nature.trim().to_owned(),
                customer_tier: customer_tier.trim().to_owned(),
                customer_region: customer_region.trim().to_owned(),
            },
        }),
        _ => None,
    };
    SurveyInput {
        survey,
        template_id: template_id.trim().to_owned(),
        template_version: (template_version > 0).then_some(template_version),
        answers: answer_inputs(answers),
        answer_time,
    }
}

fn adjustment_pb(a: &Adjusted) -> pb::ScoreAdjustment {
    let Adjusted {
        kind,
        points,
        reason,
        actor,
        adjust_time,
    } = a;
    pb::ScoreAdjustment {
        kind: adjustment_kind_pb(*kind) as i32,
        points: *points,
        reason: reason.clone(),
        actor: Some(actor_pb(actor)),
        adjust_time: Some(to_timestamp(*adjust_time)),
    }
}

/// The proto survey.
pub(super) fn survey_pb(s: &Survey) -> pb::Survey {
    let Survey {
        id,
        customer_id,
        subject,
        agent_id,
        callback_id,
        channel,
        template_id,
        template_version,
        answers,
        state,
        needs,
        comment,
        slice,
        adjustments,
        scores,
        send_time,
        answer_time,
        created_by,
        create_time,
        // The contract shows the etag, which is made from the version.
        update_time: _,
        version,
    } = s;
    let SurveyScores {
        csat,
        nps,
        ces,
        dimensions,
        mean_gap,
        base_score,
        overall_score,
        grade,
        procedural_quality,
        personal_quality,
        service_type,
    } = scores;
    let Slice {
        team_id,
        service_hall_id,
        complaint_nature,
        customer_tier,
        customer_region,
    } = slice;
    pb::Survey {
        id: id.clone(),
        customer_id: customer_id.clone(),
        subject: Some(subject_pb(subject)),
        agent_id: agent_id.clone(),
        callback_id: callback_id.clone(),
        channel: channel_pb(*channel) as i32,
        dimensions: dimensions
            .iter()
            .map(|d| pb::DimensionScore {
                dimension: dimension_pb(d.dimension) as i32,
                expectation: d.expectation,
                perception: d.perception,
                gap: d.gap(),
            })
            .collect(),
        needs: needs
            .iter()
            .map(|n| pb::NeedObservation {
                level: need_level_pb(n.level) as i32,
                description: n.description.clone(),
                met: n.met,
            })
            .collect(),
        comment: comment.clone(),
        mean_gap: mean_gap.unwrap_or_default(),
        base_score: base_score.unwrap_or_default(),
        adjustments: adjustments.iter().map(adjustment_pb).collect(),
        overall_score: overall_score.unwrap_or_default(),
        grade: grade_pb(*grade) as i32,
        procedural_quality: procedural_quality.unwrap_or_default(),
        personal_quality: personal_quality.unwrap_or_default(),
        service_type: service_type_pb(*service_type) as i32,
        answer_time: to_timestamp_opt(*answer_time),
        created_by: Some(actor_pb(created_by)),
        create_time: Some(to_timestamp(*create_time)),
        etag: etag::of(*version),
        template_id: template_id.clone(),
        template_version: *template_version,
        answers: answers.iter().map(answer_pb).collect(),
        state: match state {
            SurveyState::Sent => pb::SurveyState::Sent,
            SurveyState::Partial => pb::SurveyState::Partial,
            SurveyState::Complete => pb::SurveyState::Complete,
        } as i32,
        slice: Some(pb::SurveySlice {
            team_id: team_id.clone(),
            service_hall_id: service_hall_id.clone(),
            complaint_nature: complaint_nature.clone(),
            customer_tier: customer_tier.clone(),
            customer_region: customer_region.clone(),
        }),
        csat: *csat,
        nps: *nps,
        ces: *ces,
        send_time: Some(to_timestamp(*send_time)),
    }
}
