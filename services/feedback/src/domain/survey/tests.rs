//! Unit tests of templates and surveys: item rules, answers read by path, the state and the
//! scores of a survey answered in two steps, computed by hand.
#![allow(clippy::unwrap_used)]

use chrono::{TimeDelta, TimeZone};

use super::*;
use crate::domain::grades::{Grade, ServiceType};
use crate::domain::scores::Dimension;

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 12, 3, 10, 0, 0).unwrap()
}

fn agent() -> Actor {
    Actor {
        id: "agent-1".into(),
        role: Role::Agent,
    }
}

fn draft(item_id: &str, form: ItemForm, dimension: Option<Dimension>) -> ItemDraft {
    ItemDraft {
        item_id: item_id.into(),
        form,
        dimension,
        prompt: "How was it?".into(),
        required: true,
    }
}

fn template() -> Template {
    let mut items = vec![
        draft("csat", ItemForm::Csat, None),
        draft("nps", ItemForm::Nps, None),
        draft("ces", ItemForm::Ces, None),
    ];
    for (i, d) in Dimension::ALL.into_iter().enumerate() {
        items.push(draft(&format!("sq{i}"), ItemForm::Servqual, Some(d)));
    }
    let mut text = draft("comment", ItemForm::Text, None);
    text.required = false;
    items.push(text);
    Template::create("after-repair", "After a repair", items, &agent(), now()).unwrap()
}

fn fields(err: RuleError) -> Vec<String> {
    let RuleError::Invalid(v) = err else {
        panic!("expected invalid input, got {err}")
    };
    v.0.into_iter().map(|f| f.field).collect()
}

fn score(item_id: &str, score: i32) -> AnswerInput {
    AnswerInput {
        item_id: item_id.into(),
        score,
        ..AnswerInput::default()
    }
}

fn servqual(item_id: &str, expectation: i32, perception: i32) -> AnswerInput {
    AnswerInput {
        item_id: item_id.into(),
        expectation,
        perception,
        ..AnswerInput::default()
    }
}

fn new_survey() -> NewSurvey {
    NewSurvey {
        customer_id: "cus_1".into(),
        subject: Subject {
            kind: SubjectKind::Complaint,
            id: "cmp_1".into(),
        },
        agent_id: "agent-7".into(),
        callback_id: String::new(),
        channel: SurveyChannel::Phone,
        needs: Vec::new(),
        comment: String::new(),
        slice: Slice::default(),
    }
}

#[test]
fn a_template_refuses_bad_ids_dimensions_and_repeated_kinds_by_field() {
    let items = vec![
        draft("Bad Id", ItemForm::Csat, None),
        draft("csat", ItemForm::Csat, None),
        draft("csat", ItemForm::Nps, Some(Dimension::Empathy)),
        draft("sq", ItemForm::Servqual, None),
    ];
    let err = Template::create("After Repair", "", items, &agent(), now()).unwrap_err();
    assert_eq!(
        fields(err),
        [
            "id",
            "title",
            "items[0].item_id",
            "items[1].kind",
            "items[2].item_id",
            "items[2].dimension",
            "items[3].dimension",
        ]
    );
    let err = Template::create("empty", "t", Vec::new(), &agent(), now()).unwrap_err();
    assert_eq!(fields(err), ["items"]);
}

#[test]
fn a_revision_is_the_next_version_with_its_own_items() {
    let t = template();
    let next = t
        .revise(
            "Shorter",
            vec![draft("csat", ItemForm::Csat, None)],
            &agent(),
            now(),
        )
        .unwrap();
    assert_eq!((next.id.as_str(), next.version), ("after-repair", 2));
    assert_eq!(next.items.len(), 1);
    assert_eq!(t.version, 1);
}

#[test]
fn answers_are_read_against_their_items_and_named_by_path() {
    let t = template();
    let bad = [
        score("csat", 6),
        score("nope", 1),
        servqual("sq0", 0, 4),
        AnswerInput {
            item_id: "nps".into(),
            score: 9,
            text: "x".into(),
            ..AnswerInput::default()
        },
        score("csat", 4),
    ];
    let err = t.read_answers(&bad, "answers").unwrap_err();
    assert_eq!(
        fields(err),
        [
            "answers[0].score",
            "answers[1].item_id",
            "answers[2].expectation",
            "answers[3].text",
            "answers[4].item_id",
        ]
    );
}

#[test]
fn a_partial_survey_becomes_complete_and_its_scores_follow_the_answers() {
    let t = template();
    let rules = SurveyRules::default();
    let mut s = Survey::record(
        "srv_1".into(),
        new_survey(),
        &t,
        &[score("csat", 4), servqual("sq1", 6, 4)],
        None,
        &agent(),
        &rules,
        now(),
    )
    .unwrap();
    assert_eq!(s.state, SurveyState::Partial);
    assert_eq!(s.scores.csat, Some(4));
    assert_eq!(s.scores.mean_gap, Some(-2.0));
    // Perception 4 on 1-7: (4 - 1) / 6 * 100 = 50.
    assert_eq!(s.scores.base_score, Some(50.0));
    assert_eq!(s.scores.grade, Some(Grade::Fails));
    assert_eq!(s.scores.service_type, None);

    let later = now() + TimeDelta::hours(1);
    let rest = [
        score("nps", 10),
        score("ces", 2),
        servqual("sq0", 5, 7),
        servqual("sq1", 6, 7),
        servqual("sq2", 7, 7),
        servqual("sq3", 6, 7),
        servqual("sq4", 7, 7),
    ];
    s.answer(&t, &rest, None, &rules, later).unwrap();
    assert_eq!(s.state, SurveyState::Complete);
    assert_eq!(s.version, 2);
    assert_eq!(s.scores.dimensions.len(), 5);
    // Gaps 2, 1, 0, 1, 0: mean 0.8.
    assert!((s.scores.mean_gap.unwrap() - 0.8).abs() < 1e-9);
    assert_eq!(s.scores.base_score, Some(100.0));
    assert_eq!(s.scores.grade, Some(Grade::Excellent));
    assert_eq!(s.scores.service_type, Some(ServiceType::Quality));

    let supervisor = Actor {
        id: "sup-1".into(),
        role: Role::Supervisor,
    };
    let refused = s.adjust(
        AdjustmentKind::Deduction,
        10.0,
        "rude",
        &agent(),
        &rules,
        later,
    );
    assert!(matches!(refused, Err(RuleError::PermissionDenied(_))));
    s.adjust(
        AdjustmentKind::Deduction,
        10.0,
        "rude",
        &supervisor,
        &rules,
        later,
    )
    .unwrap();
    assert_eq!(s.scores.overall_score, Some(90.0));
    assert_eq!(s.scores.grade, Some(Grade::Good));
}

#[test]
fn a_recorded_survey_needs_answers_and_an_answer_time_not_in_the_future() {
    let t = template();
    let err = Survey::record(
        "srv_1".into(),
        new_survey(),
        &t,
        &[],
        Some(now() + TimeDelta::hours(1)),
        &agent(),
        &SurveyRules::default(),
        now(),
    )
    .unwrap_err();
    assert_eq!(fields(err), ["answer_time", "answers"]);
}
