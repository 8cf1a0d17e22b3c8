//! Staff of the month as a client sees it, on SQLite and on a real PostgreSQL: a supervisor
//! records each agent's month, surveys recorded through CreateSurvey give the monthly scores,
//! and the evaluation (eligibility, its reasons, the 3 % selection) is checked against values
//! computed by hand in the comments.
#![allow(clippy::unwrap_used, unreachable_pub)]

mod common;

use chrono::{DateTime, TimeZone, Utc};
use csops_proto::feedback::v1 as pb;
use csops_testkit::Backend;
use tonic::Code;

use common::{agent, close, fields, full_items, servqual, spawn_app, supervisor, time_of, TestApp};

/// The month every scenario evaluates.
const MONTH: &str = "2025-03";

fn manager() -> Option<pb::Actor> {
    Some(pb::Actor {
        id: "mgr-1".into(),
        role: pb::ActorRole::Manager as i32,
    })
}

async fn create_template(app: &mut TestApp, id: &str) {
    app.client
        .create_survey_template(pb::CreateSurveyTemplateRequest {
            template: Some(pb::SurveyTemplate {
                id: id.into(),
                title: format!("Survey {id}"),
                items: full_items(),
                ..Default::default()
            }),
            request_id: format!("req-{id}"),
            actor: agent("agent-1"),
        })
        .await
        .unwrap();
}

/// Records a survey rating `agent_id`, answered (and so sent) at `at`, with the five
/// SERVQUAL perceptions given (expectations 7). Its overall score is the mean perception
/// mapped onto 0-100: (p − 1) / 6 × 100.
async fn rate(
    app: &mut TestApp,
    agent_id: &str,
    at: DateTime<Utc>,
    perceptions: [i32; 5],
) -> String {
    let names = [
        "tangibles",
        "empathy",
        "assurance",
        "responsiveness",
        "reliability",
    ];
    let answers = names
        .iter()
        .zip(perceptions)
        .map(|(n, p)| servqual(n, 7, p))
        .collect();
    app.client
        .create_survey(pb::CreateSurveyRequest {
            survey: Some(pb::Survey {
                customer_id: "cus_1".into(),
                subject: Some(pb::Subject {
                    kind: pb::SubjectKind::Complaint as i32,
                    id: "cmp_1".into(),
                }),
                agent_id: agent_id.into(),
                channel: pb::SurveyChannel::Phone as i32,
                template_id: "after-repair".into(),
                answers,
                answer_time: common::ts(at),
                slice: Some(pb::SurveySlice {
                    team_id: "team-a".into(),
                    ..Default::default()
                }),
                ..Default::default()
            }),
            request_id: format!("rate-{agent_id}-{}", at.timestamp()),
            actor: agent(agent_id),
        })
        .await
        .unwrap()
        .into_inner()
        .survey
        .unwrap()
        .id
}

fn march(day: u32, hour: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 3, day, hour, 0, 0).unwrap()
}

fn month_of(
    agent_id: &str,
    leave_hours: f64,
    attendance_lapses: i32,
    penalties: &[&str],
) -> pb::StaffMonth {
    pb::StaffMonth {
        agent_id: agent_id.into(),
        month: MONTH.into(),
        leave_hours,
        attendance_lapses,
        penalties: penalties.iter().map(|p| (*p).to_owned()).collect(),
        ..Default::default()
    }
}

async fn record(app: &mut TestApp, month: pb::StaffMonth) -> pb::StaffMonth {
    app.client
        .record_staff_month(pb::RecordStaffMonthRequest {
            staff_month: Some(month),
            actor: supervisor(),
        })
        .await
        .unwrap()
        .into_inner()
        .staff_month
        .unwrap()
}

/// Every evaluation of the month, page by page.
async fn evaluations(
    app: &mut TestApp,
    eligible_only: bool,
    page_size: i32,
) -> Vec<pb::StaffMonth> {
    let mut all = Vec::new();
    let mut token = String::new();
    loop {
        let page = app
            .client
            .list_staff_evaluations(pb::ListStaffEvaluationsRequest {
                month: MONTH.into(),
                eligible_only,
                page_size,
                page_token: token.clone(),
            })
            .await
            .unwrap()
            .into_inner();
        assert!(page.staff_months.len() <= page_size as usize);
        all.extend(page.staff_months);
        if page.next_page_token.is_empty() {
            return all;
        }
        token = page.next_page_token;
    }
}

fn ids(months: &[pb::StaffMonth]) -> Vec<&str> {
    months.iter().map(|m| m.agent_id.as_str()).collect()
}

fn selected(months: &[pb::StaffMonth]) -> Vec<&str> {
    months
        .iter()
        .filter(|m| m.selected)
        .map(|m| m.agent_id.as_str())
        .collect()
}

async fn only_a_supervisor_or_manager_records_a_month_and_a_second_record_replaces_the_first(
    backend: Backend,
) {
    let mut app = spawn_app(backend).await;
    let request = |actor| pb::RecordStaffMonthRequest {
        staff_month: Some(month_of("a-ann", 2.0, 0, &["late weekly report"])),
        actor,
    };
    let err = app
        .client
        .record_staff_month(request(agent("a-ann")))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied, "{err:?}");
    let err = app
        .client
        .record_staff_month(request(common::system("hr-sync")))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied, "{err:?}");

    let first = app
        .client
        .record_staff_month(request(supervisor()))
        .await
        .unwrap()
        .into_inner()
        .staff_month
        .unwrap();
    assert_eq!(
        (first.agent_id.as_str(), first.month.as_str()),
        ("a-ann", MONTH)
    );
    assert_eq!(first.penalties, ["late weekly report"]);
    // 2 hours of leave and no lapse: full attendance; but a penalty and no survey.
    assert!(first.full_attendance);
    assert!(!first.eligible);
    assert_eq!(
        first.ineligible_reasons,
        [
            "monthly score 0 < 90",
            "1 penalty this month (none allowed)"
        ]
    );
    assert_eq!(
        (first.surveys, first.grade),
        (0, pb::Grade::Unspecified as i32)
    );
    assert_eq!(first.recorded_by, supervisor());
    // The only agent recorded holds the month's one place only when eligible.
    assert!(!first.selected);

    // The manager corrects the month: the record is replaced whole (the penalty list too),
    // not added to.
    let second = app
        .client
        .record_staff_month(pb::RecordStaffMonthRequest {
            staff_month: Some(month_of("a-ann", 8.0, 0, &[])),
            actor: manager(),
        })
        .await
        .unwrap()
        .into_inner()
        .staff_month
        .unwrap();
    assert!(second.penalties.is_empty());
    assert_eq!(second.leave_hours, 8.0);
    assert_eq!(second.recorded_by, manager());
    assert!(time_of(&second.update_time) >= time_of(&first.update_time));
    assert_eq!(second.ineligible_reasons, ["monthly score 0 < 90"]);
    let listed = evaluations(&mut app, false, 50).await;
    assert_eq!(listed, [second]);
}

async fn bad_months_answer_invalid_argument_naming_every_field(backend: Backend) {
    let mut app = spawn_app(backend).await;
    let err = app
        .client
        .record_staff_month(pb::RecordStaffMonthRequest {
            staff_month: Some(pb::StaffMonth {
                agent_id: " ".into(),
                month: "2025-13".into(),
                leave_hours: -1.0,
                attendance_lapses: -1,
                penalties: vec!["shouted at a customer".into(), "  ".into()],
                ..Default::default()
            }),
            actor: None,
        })
        .await
        .unwrap_err();
    assert_eq!(
        fields(&err),
        [
            "staff_month.agent_id",
            "staff_month.month",
            "staff_month.leave_hours",
            "staff_month.attendance_lapses",
            "staff_month.penalties[1]",
            "actor"
        ]
    );
    // More than a month of leave (31 × 24 = 744 hours), a month not over yet, no record.
    let mut late = month_of("a-ann", 744.5, 0, &[]);
    late.month = "2099-01".into();
    let err = app
        .client
        .record_staff_month(pb::RecordStaffMonthRequest {
            staff_month: Some(late),
            actor: supervisor(),
        })
        .await
        .unwrap_err();
    assert_eq!(
        fields(&err),
        ["staff_month.month", "staff_month.leave_hours"]
    );
    let err = app
        .client
        .record_staff_month(pb::RecordStaffMonthRequest {
            staff_month: None,
            actor: supervisor(),
        })
        .await
        .unwrap_err();
    assert_eq!(fields(&err), ["staff_month"]);

    let list = |month: &str, token: String| pb::ListStaffEvaluationsRequest {
        month: month.into(),
        eligible_only: false,
        page_size: 1,
        page_token: token,
    };
    let err = app
        .client
        .list_staff_evaluations(list("March", String::new()))
        .await
        .unwrap_err();
    assert_eq!(fields(&err), ["month"]);
    record(&mut app, month_of("a-ann", 0.0, 0, &[])).await;
    record(&mut app, month_of("a-bob", 0.0, 0, &[])).await;
    let page = app
        .client
        .list_staff_evaluations(list(MONTH, String::new()))
        .await
        .unwrap()
        .into_inner();
    assert!(!page.next_page_token.is_empty());
    // A token is valid only with the month of the first page.
    let err = app
        .client
        .list_staff_evaluations(list("2025-04", page.next_page_token))
        .await
        .unwrap_err();
    assert_eq!(fields(&err), ["page_token"]);
}

async fn the_best_eligible_agents_up_to_3_percent_of_all_staff_are_the_staff_of_the_month(
    backend: Backend,
) {
    let mut app = spawn_app(backend).await;
    create_template(&mut app, "after-repair").await;
    // Perceptions (expectations 7) → overall score (p̄ − 1) / 6 × 100:
    //   all 7 → 100; four 7 and a 6 (p̄ 6.8) → 5.8 / 6 × 100 = 96.67; all 6 → 83.33.
    rate(&mut app, "a-ann", march(3, 9), [7, 7, 7, 7, 7]).await;
    rate(&mut app, "a-ann", march(4, 9), [7, 7, 7, 7, 6]).await;
    rate(&mut app, "a-bob", march(5, 9), [7, 7, 7, 7, 7]).await;
    rate(&mut app, "a-bob", march(6, 9), [7, 7, 7, 7, 7]).await;
    rate(&mut app, "a-cat", march(7, 9), [7, 7, 7, 7, 6]).await;
    // The last second of March counts; the first of April does not (a score of 0 there).
    rate(
        &mut app,
        "a-cat",
        Utc.with_ymd_and_hms(2025, 3, 31, 23, 59, 59).unwrap(),
        [7, 7, 7, 7, 6],
    )
    .await;
    rate(
        &mut app,
        "a-cat",
        Utc.with_ymd_and_hms(2025, 4, 1, 0, 0, 0).unwrap(),
        [1, 1, 1, 1, 1],
    )
    .await;
    rate(&mut app, "a-dan", march(8, 9), [7, 7, 7, 7, 7]).await;
    rate(&mut app, "a-eve", march(9, 9), [7, 7, 7, 7, 7]).await;
    let gus_survey = rate(&mut app, "a-gus", march(10, 9), [6, 6, 6, 6, 6]).await;

    // ann: leave 8 h exactly is still full attendance; score (100 + 96.67) / 2 = 98.33.
    let ann = record(&mut app, month_of("a-ann", 8.0, 0, &[])).await;
    assert!(ann.full_attendance && ann.eligible, "{ann:?}");
    assert!(close(ann.monthly_score, (100.0 + 580.0 / 6.0) / 2.0));
    assert_eq!((ann.surveys, ann.grade), (2, pb::Grade::Excellent as i32));
    assert!(ann.selected); // the only one recorded so far: 1 place
                           // bob: 8.5 h of leave is not full attendance, though he scores 100.
    let bob = record(&mut app, month_of("a-bob", 8.5, 0, &[])).await;
    assert!(!bob.full_attendance && !bob.eligible && !bob.selected);
    assert_eq!(bob.ineligible_reasons, ["leave 8.5 hours > 8"]);
    // cat: (96.67 + 96.67) / 2; dan: a penalty; eve: late once; fay: no survey; gus: 83.33.
    record(&mut app, month_of("a-cat", 0.0, 0, &[])).await;
    record(&mut app, month_of("a-dan", 0.0, 0, &["rude on the phone"])).await;
    record(&mut app, month_of("a-eve", 0.0, 1, &[])).await;
    record(&mut app, month_of("a-fay", 4.0, 0, &[])).await;
    record(&mut app, month_of("a-gus", 0.0, 0, &[])).await;

    // 7 staff: 3 % is 0.21 places, raised to 1. Eligible first by score (ann 98.33, cat
    // 96.67), then the others by score (bob, dan, eve 100 by id; gus 83.33; fay 0).
    let all = evaluations(&mut app, false, 3).await;
    assert_eq!(
        ids(&all),
        ["a-ann", "a-cat", "a-bob", "a-dan", "a-eve", "a-gus", "a-fay"]
    );
    assert_eq!(selected(&all), ["a-ann"]);
    let cat = &all[1];
    assert!(close(cat.monthly_score, 580.0 / 6.0) && cat.surveys == 2);
    assert!(cat.eligible && !cat.selected && cat.ineligible_reasons.is_empty());
    assert_eq!(
        all[3].ineligible_reasons,
        ["1 penalty this month (none allowed)"]
    );
    assert_eq!(
        all[4].ineligible_reasons,
        ["late, left early or absent 1 time (full attendance allows none)"]
    );
    assert!(!all[4].full_attendance);
    let gus = &all[5];
    assert!(close(gus.monthly_score, 500.0 / 6.0)); // 83.33
    assert_eq!(gus.grade, pb::Grade::MeetsStandard as i32);
    assert_eq!(gus.ineligible_reasons.len(), 1);
    assert!(gus.ineligible_reasons[0].starts_with("monthly score 83.33"));
    assert_eq!(
        (all[6].surveys, all[6].grade),
        (0, pb::Grade::Unspecified as i32)
    );
    assert_eq!(
        ids(&evaluations(&mut app, true, 50).await),
        ["a-ann", "a-cat"]
    );

    // A bonus of 10 on gus's survey (83.33 → 93.33) is read at once: he is eligible now.
    app.client
        .adjust_survey_score(pb::AdjustSurveyScoreRequest {
            survey_id: gus_survey,
            adjustment: Some(pb::ScoreAdjustment {
                kind: pb::AdjustmentKind::Bonus as i32,
                points: 10.0,
                reason: "praised by the branch manager".into(),
                ..Default::default()
            }),
            actor: supervisor(),
            etag: String::new(),
        })
        .await
        .unwrap();
    let eligible = evaluations(&mut app, true, 50).await;
    assert_eq!(ids(&eligible), ["a-ann", "a-cat", "a-gus"]);
    assert!(close(eligible[2].monthly_score, 500.0 / 6.0 + 10.0));

    // bob's leave corrected to 8 h: eligible with 100, he takes the one place from ann.
    let bob = record(&mut app, month_of("a-bob", 8.0, 0, &[])).await;
    assert!(bob.eligible && bob.selected);
    let all = evaluations(&mut app, false, 50).await;
    assert_eq!(selected(&all), ["a-bob"]);

    // 59 more staff (no surveys, so not eligible): 66 staff, 3 % is 1.98, still 1 place.
    for i in 0..59 {
        record(&mut app, month_of(&format!("s-{i:02}"), 0.0, 0, &[])).await;
    }
    let all = evaluations(&mut app, false, 500).await;
    assert_eq!(all.len(), 66);
    assert_eq!(selected(&all), ["a-bob"]);
    // One more: 67 staff, 3 % is 2.01, 2 places: bob (100) and ann (98.33).
    record(&mut app, month_of("s-59", 0.0, 0, &[])).await;
    let all = evaluations(&mut app, false, 500).await;
    assert_eq!(all.len(), 67);
    assert_eq!(selected(&all), ["a-bob", "a-ann"]);
    assert_eq!(ids(&all[..4]), ["a-bob", "a-ann", "a-cat", "a-gus"]);
}

csops_testkit::on_both_backends!(
    only_a_supervisor_or_manager_records_a_month_and_a_second_record_replaces_the_first,
    bad_months_answer_invalid_argument_naming_every_field,
    the_best_eligible_agents_up_to_3_percent_of_all_staff_are_the_staff_of_the_month,
);
