//! Survey templates and surveys as a client sees them, on SQLite and on a real PostgreSQL:
//! every scenario runs against a server on a random port with a fresh database. Scores are
//! checked against values computed by hand in the comments.
#![allow(clippy::unwrap_used, unreachable_pub)]

mod common;

use chrono::{DateTime, TimeDelta, Utc};
use csops_proto::feedback::v1 as pb;
use csops_testkit::Backend;
use tonic::Code;

use common::{
    agent, close, create_customer, fields, full_items, item, score, servqual, spawn_app,
    spawn_with_customers, supervisor, time_of, ts, TestApp,
};
use csops_proto::customers::v1 as cpb;

fn create_template_request(id: &str, request_id: &str) -> pb::CreateSurveyTemplateRequest {
    pb::CreateSurveyTemplateRequest {
        template: Some(pb::SurveyTemplate {
            id: id.into(),
            title: format!("Survey {id}"),
            items: full_items(),
            ..Default::default()
        }),
        request_id: request_id.into(),
        actor: agent("agent-1"),
    }
}

async fn create_template(app: &mut TestApp, id: &str) -> pb::SurveyTemplate {
    app.client
        .create_survey_template(create_template_request(id, &format!("req-{id}")))
        .await
        .unwrap()
        .into_inner()
        .template
        .unwrap()
}

fn survey(agent_id: &str, answers: Vec<pb::Answer>) -> pb::Survey {
    pb::Survey {
        customer_id: "cus_1".into(),
        subject: Some(pb::Subject {
            kind: pb::SubjectKind::Complaint as i32,
            id: "cmp_1".into(),
        }),
        agent_id: agent_id.into(),
        channel: pb::SurveyChannel::Phone as i32,
        template_id: "after-repair".into(),
        answers,
        slice: Some(pb::SurveySlice {
            team_id: "team-a".into(),
            customer_tier: "A".into(),
            ..Default::default()
        }),
        ..Default::default()
    }
}

fn answer(id: &str, answers: Vec<pb::Answer>, etag: &str) -> pb::AnswerSurveyRequest {
    pb::AnswerSurveyRequest {
        survey_id: id.into(),
        answers,
        answer_time: None,
        actor: agent("agent-3"),
        etag: etag.into(),
    }
}

/// responded, complete, csat, nps, ces, empathy expectation and perception of a facts row.
type Facts = (
    i64,
    i64,
    Option<i64>,
    Option<i64>,
    Option<i64>,
    Option<i64>,
    Option<i64>,
);

/// (dimension, expectation, perception, gap) of a survey.
fn dims(s: &pb::Survey) -> Vec<(i32, i32, i32, i32)> {
    s.dimensions
        .iter()
        .map(|d| (d.dimension, d.expectation, d.perception, d.gap))
        .collect()
}

async fn templates_are_created_once_revised_from_the_latest_and_listed_by_id(backend: Backend) {
    let mut app = spawn_app(backend).await;
    let request = create_template_request("after-repair", "req-1");
    let first = app
        .client
        .create_survey_template(request.clone())
        .await
        .unwrap()
        .into_inner()
        .template
        .unwrap();
    assert_eq!((first.id.as_str(), first.version), ("after-repair", 1));
    assert_eq!(first.items.len(), 9);
    assert_eq!(first.items[3].dimension, pb::Dimension::Tangibles as i32);
    // The same request again is the template created first.
    let again = app.client.create_survey_template(request.clone()).await;
    assert_eq!(again.unwrap().into_inner().template.unwrap(), first);
    // The same request_id with another request, or another request for the same id.
    let mut other = request.clone();
    other.template.as_mut().unwrap().title = "Another".into();
    let err = app
        .client
        .create_survey_template(other.clone())
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::AlreadyExists, "{err:?}");
    other.request_id = "req-2".into();
    let err = app.client.create_survey_template(other).await.unwrap_err();
    assert_eq!(err.code(), Code::AlreadyExists, "{err:?}");
    assert!(
        err.message().contains("exists already"),
        "{}",
        err.message()
    );

    let revise = |version: i32| pb::ReviseSurveyTemplateRequest {
        template_id: "after-repair".into(),
        version,
        title: "After a repair, short".into(),
        items: vec![item("csat", pb::ItemKind::Csat, pb::Dimension::Unspecified)],
        actor: agent("agent-1"),
    };
    let second = app
        .client
        .revise_survey_template(revise(1))
        .await
        .unwrap()
        .into_inner()
        .template
        .unwrap();
    assert_eq!((second.version, second.items.len()), (2, 1));
    let err = app
        .client
        .revise_survey_template(revise(1))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::Aborted, "{err:?}");
    let get = |version: i32| pb::GetSurveyTemplateRequest {
        template_id: "after-repair".into(),
        version,
    };
    let latest = app.client.get_survey_template(get(0)).await.unwrap();
    assert_eq!(latest.into_inner().template.unwrap(), second);
    let v1 = app.client.get_survey_template(get(1)).await.unwrap();
    assert_eq!(v1.into_inner().template.unwrap(), first);
    let err = app.client.get_survey_template(get(3)).await.unwrap_err();
    assert_eq!(err.code(), Code::NotFound, "{err:?}");

    create_template(&mut app, "zz-last").await;
    create_template(&mut app, "a-first").await;
    let mut listed = Vec::new();
    let mut token = String::new();
    loop {
        let page = app
            .client
            .list_survey_templates(pb::ListSurveyTemplatesRequest {
                page_size: 2,
                page_token: token.clone(),
            })
            .await
            .unwrap()
            .into_inner();
        listed.extend(page.templates.iter().map(|t| (t.id.clone(), t.version)));
        if page.next_page_token.is_empty() {
            break;
        }
        token = page.next_page_token;
    }
    let want = [("a-first", 1), ("after-repair", 2), ("zz-last", 1)];
    let want: Vec<(String, i32)> = want.iter().map(|(i, v)| (i.to_string(), *v)).collect();
    assert_eq!(listed, want);

    // SERVQUAL without a dimension, a dimension on CSAT, an id with capitals.
    let mut bad = create_template_request("Bad", "req-bad");
    let items = &mut bad.template.as_mut().unwrap().items;
    items[0].dimension = pb::Dimension::Empathy as i32;
    items[3].dimension = pb::Dimension::Unspecified as i32;
    let err = app.client.create_survey_template(bad).await.unwrap_err();
    assert_eq!(
        fields(&err),
        [
            "template.id",
            "template.items[0].dimension",
            "template.items[3].dimension"
        ]
    );
}

async fn a_survey_answered_partially_then_completely_has_its_scores_computed_by_hand(
    backend: Backend,
) {
    let mut w = spawn_with_customers(backend).await;
    let customer = create_customer(
        &mut w.customers,
        cpb::CustomerTier::A,
        &[cpb::ContactChannel::PhoneCall],
    )
    .await;
    let app = &mut w.app;
    create_template(app, "after-repair").await;
    let sent = app
        .client
        .send_survey(pb::SendSurveyRequest {
            survey: Some(pb::Survey {
                customer_id: customer.clone(),
                ..survey("agent-7", Vec::new())
            }),
            request_id: "send-1".into(),
            actor: agent("agent-7"),
        })
        .await
        .unwrap()
        .into_inner()
        .survey
        .unwrap();
    assert!(sent.id.starts_with("srv_"), "{}", sent.id);
    assert_eq!(sent.state, pb::SurveyState::Sent as i32);
    assert_eq!((sent.template_version, sent.etag.as_str()), (1, "v1"));
    assert_eq!(sent.grade, pb::Grade::Unspecified as i32);

    // CSAT 4; tangibles 5 → 6 (+1), empathy 6 → 4 (−2).
    let partial = app
        .client
        .answer_survey(answer(
            &sent.id,
            vec![
                score("csat", 4),
                servqual("tangibles", 5, 6),
                servqual("empathy", 6, 4),
            ],
            "v1",
        ))
        .await
        .unwrap()
        .into_inner()
        .survey
        .unwrap();
    assert_eq!(partial.state, pb::SurveyState::Partial as i32);
    assert_eq!(
        (partial.csat, partial.nps, partial.ces),
        (Some(4), None, None)
    );
    assert_eq!(
        dims(&partial),
        [
            (pb::Dimension::Tangibles as i32, 5, 6, 1),
            (pb::Dimension::Empathy as i32, 6, 4, -2)
        ]
    );
    // Mean gap (1 − 2) / 2 = −0.5; mean perception 5 → (5 − 1) / 6 × 100 = 66.67: fails.
    assert!(close(partial.mean_gap, -0.5), "{}", partial.mean_gap);
    assert!(
        close(partial.base_score, 400.0 / 6.0),
        "{}",
        partial.base_score
    );
    assert_eq!(partial.grade, pb::Grade::Fails as i32);
    assert_eq!(partial.service_type, pb::ServiceType::Unspecified as i32);

    // A stale etag is refused.
    let err = app
        .client
        .answer_survey(answer(&sent.id, vec![score("nps", 9)], "v1"))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::Aborted, "{err:?}");

    // The rest; empathy replaced by 6 → 5 (−1).
    let complete = app
        .client
        .answer_survey(answer(
            &sent.id,
            vec![
                score("nps", 9),
                score("ces", 2),
                servqual("empathy", 6, 5),
                servqual("assurance", 7, 7),
                servqual("responsiveness", 6, 5),
                servqual("reliability", 7, 6),
            ],
            "v2",
        ))
        .await
        .unwrap()
        .into_inner()
        .survey
        .unwrap();
    assert_eq!(complete.state, pb::SurveyState::Complete as i32);
    assert_eq!(complete.etag, "v3");
    assert_eq!(
        (complete.csat, complete.nps, complete.ces),
        (Some(4), Some(9), Some(2))
    );
    assert_eq!(complete.answers.len(), 8);
    let gaps: Vec<i32> = complete.dimensions.iter().map(|d| d.gap).collect();
    assert_eq!(gaps, [1, -1, 0, -1, -1]);
    // Mean gap −2 / 5 = −0.4; perceptions 6, 5, 7, 5, 6: mean 5.8 → 4.8 / 6 × 100 = 80.
    assert!(close(complete.mean_gap, -0.4), "{}", complete.mean_gap);
    assert!(close(complete.base_score, 80.0), "{}", complete.base_score);
    assert!(close(complete.overall_score, 80.0));
    assert_eq!(complete.grade, pb::Grade::MeetsStandard as i32);
    // Procedural (5 + 6) / 2 = 5.5, personal (5 + 7) / 2 = 6: both ≥ 5, quality.
    assert!(close(complete.procedural_quality, 5.5));
    assert!(close(complete.personal_quality, 6.0));
    assert_eq!(complete.service_type, pb::ServiceType::Quality as i32);

    // The narrow facts row follows the survey.
    let facts: Facts = sqlx::query_as(
        "SELECT CAST(responded AS BIGINT), CAST(complete AS BIGINT), CAST(csat AS BIGINT), \
             CAST(nps AS BIGINT), CAST(ces AS BIGINT), CAST(empathy_e AS BIGINT), \
             CAST(empathy_p AS BIGINT) FROM survey_facts WHERE survey_id = $1",
    )
    .bind(&sent.id)
    .fetch_one(app.core.store.pool())
    .await
    .unwrap();
    assert_eq!(facts, (1, 1, Some(4), Some(9), Some(2), Some(6), Some(5)));

    // Only a supervisor or a manager adjusts: 80 + 12 = 92, good.
    let adjust = |actor: Option<pb::Actor>| pb::AdjustSurveyScoreRequest {
        survey_id: sent.id.clone(),
        adjustment: Some(pb::ScoreAdjustment {
            kind: pb::AdjustmentKind::Bonus as i32,
            points: 12.0,
            reason: "fixed it on a Sunday".into(),
            ..Default::default()
        }),
        actor,
        etag: String::new(),
    };
    let err = app
        .client
        .adjust_survey_score(adjust(agent("agent-7")))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied, "{err:?}");
    let adjusted = app
        .client
        .adjust_survey_score(adjust(supervisor()))
        .await
        .unwrap()
        .into_inner()
        .survey
        .unwrap();
    assert!(close(adjusted.overall_score, 92.0));
    assert_eq!(adjusted.grade, pb::Grade::Good as i32);
    assert_eq!(adjusted.adjustments.len(), 1);
    let got = app
        .client
        .get_survey(pb::GetSurveyRequest {
            survey_id: sent.id.clone(),
        })
        .await
        .unwrap()
        .into_inner()
        .survey
        .unwrap();
    assert_eq!(got, adjusted);
}

async fn bad_answers_answer_invalid_argument_naming_their_path(backend: Backend) {
    let mut w = spawn_with_customers(backend).await;
    let customer = create_customer(
        &mut w.customers,
        cpb::CustomerTier::A,
        &[cpb::ContactChannel::PhoneCall],
    )
    .await;
    let app = &mut w.app;
    create_template(app, "after-repair").await;
    let sent = app
        .client
        .send_survey(pb::SendSurveyRequest {
            survey: Some(pb::Survey {
                customer_id: customer.clone(),
                ..survey("agent-7", Vec::new())
            }),
            request_id: "send-1".into(),
            actor: agent("agent-7"),
        })
        .await
        .unwrap()
        .into_inner()
        .survey
        .unwrap();
    let err = app
        .client
        .answer_survey(answer(
            &sent.id,
            vec![
                score("csat", 6),
                score("no_such_item", 1),
                servqual("empathy", 0, 4),
                score("tangibles", 3),
            ],
            "",
        ))
        .await
        .unwrap_err();
    assert_eq!(
        fields(&err),
        [
            "answers[0].score",
            "answers[1].item_id",
            "answers[2].expectation",
            "answers[3].score",
            "answers[3].expectation",
            "answers[3].perception",
        ]
    );
    // A sent survey carries no answers; a recorded one is checked as an answer is.
    let err = app
        .client
        .send_survey(pb::SendSurveyRequest {
            survey: Some(pb::Survey {
                customer_id: customer.clone(),
                ..survey("agent-7", vec![score("csat", 4)])
            }),
            request_id: "send-2".into(),
            actor: agent("agent-7"),
        })
        .await
        .unwrap_err();
    assert_eq!(fields(&err), ["survey.answers"]);
    let err = app
        .client
        .create_survey(pb::CreateSurveyRequest {
            survey: Some(pb::Survey {
                customer_id: customer.clone(),
                ..survey("agent-7", vec![score("nps", 11)])
            }),
            request_id: "rec-1".into(),
            actor: agent("agent-7"),
        })
        .await
        .unwrap_err();
    assert_eq!(fields(&err), ["survey.answers[0].score"]);
    let err = app
        .client
        .get_survey(pb::GetSurveyRequest {
            survey_id: "srv_unknown".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound, "{err:?}");
}

async fn create_survey_is_idempotent_and_listing_pages_newest_first_with_filters(backend: Backend) {
    let mut app = spawn_app(backend).await;
    create_template(&mut app, "after-repair").await;
    let base = DateTime::from_timestamp((Utc::now() - TimeDelta::hours(5)).timestamp(), 0).unwrap();
    let record = |n: i64, agent_id: &str, csat: i32| pb::CreateSurveyRequest {
        survey: Some(pb::Survey {
            answer_time: ts(base + TimeDelta::hours(n)),
            ..survey(
                agent_id,
                vec![score("csat", csat), servqual("empathy", 4, 7)],
            )
        }),
        request_id: format!("rec-{n}"),
        actor: agent(agent_id),
    };
    let first = app.client.create_survey(record(1, "agent-7", 5)).await;
    let first = first.unwrap().into_inner().survey.unwrap();
    assert_eq!(first.state, pb::SurveyState::Partial as i32);
    assert_eq!(time_of(&first.send_time), base + TimeDelta::hours(1));
    assert_eq!(first.send_time, first.answer_time);
    let again = app.client.create_survey(record(1, "agent-7", 5)).await;
    assert_eq!(again.unwrap().into_inner().survey.unwrap(), first);
    let err = app
        .client
        .create_survey(record(1, "agent-7", 3))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::AlreadyExists, "{err:?}");

    app.client
        .create_survey(record(2, "agent-9", 5))
        .await
        .unwrap();
    let third = app.client.create_survey(record(3, "agent-7", 2)).await;
    let third = third.unwrap().into_inner().survey.unwrap();
    let fourth = app.client.create_survey(record(4, "agent-7", 4)).await;
    let fourth = fourth.unwrap().into_inner().survey.unwrap();

    let list = |token: String| pb::ListSurveysRequest {
        page_size: 2,
        page_token: token,
        agent_id: "agent-7".into(),
        subject_kind: pb::SubjectKind::Complaint as i32,
        answer_time_start: ts(base),
        ..Default::default()
    };
    let page1 = app.client.list_surveys(list(String::new())).await;
    let page1 = page1.unwrap().into_inner();
    let ids: Vec<&str> = page1.surveys.iter().map(|s| s.id.as_str()).collect();
    assert_eq!(ids, [fourth.id.as_str(), third.id.as_str()]);
    assert!(!page1.next_page_token.is_empty());
    let err = app
        .client
        .list_surveys(pb::ListSurveysRequest {
            agent_id: "agent-9".into(),
            ..list(page1.next_page_token.clone())
        })
        .await
        .unwrap_err();
    assert_eq!(fields(&err), ["page_token"]);
    let page2 = app.client.list_surveys(list(page1.next_page_token)).await;
    let page2 = page2.unwrap().into_inner();
    let ids: Vec<&str> = page2.surveys.iter().map(|s| s.id.as_str()).collect();
    assert_eq!(ids, [first.id.as_str()]);
    assert!(page2.next_page_token.is_empty());

    // Empathy 4 → 7 gives 100 and excellent for all; answered in hours 2-3 only.
    let graded = app
        .client
        .list_surveys(pb::ListSurveysRequest {
            grades: vec![pb::Grade::Excellent as i32],
            answer_time_start: ts(base + TimeDelta::hours(2)),
            answer_time_end: ts(base + TimeDelta::hours(4)),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(graded.surveys.len(), 2);
    assert_eq!(graded.surveys[0].id, third.id);
}

async fn a_survey_is_sent_only_by_a_channel_the_customer_consented_to(backend: Backend) {
    let mut w = spawn_with_customers(backend).await;
    let sms_only = create_customer(
        &mut w.customers,
        cpb::CustomerTier::B,
        &[cpb::ContactChannel::Sms],
    )
    .await;
    let app = &mut w.app;
    create_template(app, "after-repair").await;
    let send = |customer_id: &str, channel: pb::SurveyChannel, request_id: &str| {
        let mut s = survey("agent-7", Vec::new());
        s.customer_id = customer_id.into();
        s.channel = channel as i32;
        // No tier or region given: they come from the customer file.
        s.slice = Some(pb::SurveySlice {
            team_id: "team-a".into(),
            ..Default::default()
        });
        pb::SendSurveyRequest {
            survey: Some(s),
            request_id: request_id.into(),
            actor: agent("agent-7"),
        }
    };
    // The customer agreed to text messages only: a phone survey is refused, naming both.
    let refused = app
        .client
        .send_survey(send(&sms_only, pb::SurveyChannel::Phone, "send-phone"))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::FailedPrecondition, "{refused:?}");
    assert!(
        refused.message().contains(&sms_only) && refused.message().contains("phone"),
        "{}",
        refused.message()
    );
    // Nothing was written.
    let listed = app
        .client
        .list_surveys(pb::ListSurveysRequest {
            customer_id: sms_only.clone(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert!(listed.surveys.is_empty(), "{listed:?}");

    let sent = app
        .client
        .send_survey(send(&sms_only, pb::SurveyChannel::Sms, "send-sms"))
        .await
        .unwrap()
        .into_inner()
        .survey
        .unwrap();
    assert_eq!(sent.state, pb::SurveyState::Sent as i32);
    let slice = sent.slice.unwrap();
    assert_eq!(
        (slice.customer_tier.as_str(), slice.customer_region.as_str()),
        ("B", "urban")
    );

    let unknown = app
        .client
        .send_survey(send("cus_nobody", pb::SurveyChannel::Sms, "send-unknown"))
        .await
        .unwrap_err();
    assert_eq!(unknown.code(), Code::NotFound, "{unknown:?}");

    // Without a customers service to ask, consent cannot be checked: UNAVAILABLE, not sent.
    let mut alone = spawn_app(backend).await;
    create_template(&mut alone, "after-repair").await;
    let unavailable = alone
        .client
        .send_survey(send(&sms_only, pb::SurveyChannel::Sms, "send-alone"))
        .await
        .unwrap_err();
    assert_eq!(unavailable.code(), Code::Unavailable, "{unavailable:?}");
}

csops_testkit::on_both_backends!(
    a_survey_is_sent_only_by_a_channel_the_customer_consented_to,
    templates_are_created_once_revised_from_the_latest_and_listed_by_id,
    a_survey_answered_partially_then_completely_has_its_scores_computed_by_hand,
    bad_answers_answer_invalid_argument_naming_their_path,
    create_survey_is_idempotent_and_listing_pages_newest_first_with_filters,
);
