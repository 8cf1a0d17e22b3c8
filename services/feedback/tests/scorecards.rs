//! Scorecards as a client sees them, on SQLite and on a real PostgreSQL: surveys recorded
//! through CreateSurvey and activities written into `activities` give each agent, team and
//! service hall its weighted score, grade after the quotas and service type, all checked
//! against values computed by hand in the comments.
#![allow(clippy::unwrap_used, unreachable_pub)]

mod common;

use chrono::{DateTime, TimeDelta, TimeZone, Utc};
use csops_proto::feedback::v1 as pb;
use csops_testkit::Backend;

use common::{
    agent, close, fields, full_items, score, servqual, spawn_app, supervisor, ts, TestApp,
};

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

/// Records a survey answered (and so sent) at `at`, rating `agent_id` of `team_id` in
/// `hall_id`; returns its id.
async fn rate(
    app: &mut TestApp,
    (agent_id, team_id, hall_id): (&str, &str, &str),
    at: DateTime<Utc>,
    answers: Vec<pb::Answer>,
) -> String {
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
                answer_time: ts(at),
                slice: Some(pb::SurveySlice {
                    team_id: team_id.into(),
                    service_hall_id: hall_id.into(),
                    ..Default::default()
                }),
                ..Default::default()
            }),
            request_id: format!("rate-{agent_id}-{hall_id}-{}", at.timestamp()),
            actor: agent(agent_id),
        })
        .await
        .unwrap()
        .into_inner()
        .survey
        .unwrap()
        .id
}

async fn adjust(app: &mut TestApp, survey_id: &str, kind: pb::AdjustmentKind, points: f64) {
    app.client
        .adjust_survey_score(pb::AdjustSurveyScoreRequest {
            survey_id: survey_id.into(),
            adjustment: Some(pb::ScoreAdjustment {
                kind: kind as i32,
                points,
                reason: "seen by the inspector".into(),
                ..Default::default()
            }),
            actor: supervisor(),
            etag: String::new(),
        })
        .await
        .unwrap();
}

/// Writes one activity as RecordActivity would store it.
async fn activity(
    app: &TestApp,
    id: &str,
    kind: &str,
    (customer_id, agent_id): (&str, &str),
    clock_kind: &str,
    at: DateTime<Utc>,
) {
    sqlx::query(
        "INSERT INTO activities (id, source_service, source_event_id, kind, customer_id, \
         agent_id, subject_kind, subject_id, category, clock_kind, occur_time, create_time) \
         VALUES ($1, 'complaints', $2, $3, $4, $5, 'complaint', 'cmp_1', '', $6, $7, $8)",
    )
    .bind(id)
    .bind(format!("ev-{id}"))
    .bind(kind)
    .bind(customer_id)
    .bind(agent_id)
    .bind(clock_kind)
    .bind(at.timestamp_micros())
    .bind(at.timestamp_micros())
    .execute(app.core.store.pool())
    .await
    .unwrap();
}

fn may(day: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 5, day, 10, 0, 0).unwrap()
}

fn list(kind: pb::UnitKind, page_size: i32, token: String) -> pb::ListScorecardsRequest {
    pb::ListScorecardsRequest {
        period_start: ts(Utc.with_ymd_and_hms(2025, 5, 1, 0, 0, 0).unwrap()),
        period_end: ts(Utc.with_ymd_and_hms(2025, 6, 1, 0, 0, 0).unwrap()),
        unit_kind: kind as i32,
        page_size,
        page_token: token,
    }
}

/// Every scorecard of May 2025 for `kind`, page by page; checks total_units on each page.
async fn scorecards(app: &mut TestApp, kind: pb::UnitKind, page_size: i32) -> Vec<pb::Scorecard> {
    let mut all = Vec::new();
    let mut token = String::new();
    let mut totals = Vec::new();
    loop {
        let page = app
            .client
            .list_scorecards(list(kind, page_size, token))
            .await
            .unwrap()
            .into_inner();
        assert!(page.scorecards.len() <= page_size as usize);
        totals.push(page.total_units);
        all.extend(page.scorecards);
        if page.next_page_token.is_empty() {
            break;
        }
        token = page.next_page_token;
    }
    assert!(totals.iter().all(|t| *t == all.len() as i64), "{totals:?}");
    all
}

fn units(cards: &[pb::Scorecard]) -> Vec<&str> {
    cards.iter().map(|c| c.unit_id.as_str()).collect()
}

/// (metric, weight) of a breakdown.
fn weights(card: &pb::Scorecard) -> Vec<(&str, f64)> {
    card.breakdown
        .iter()
        .map(|c| (c.metric.as_str(), c.weight))
        .collect()
}

async fn every_unit_gets_its_weighted_score_grade_and_service_type_computed_by_hand(
    backend: Backend,
) {
    let mut app = spawn_app(backend).await;
    create_template(&mut app, "after-repair").await;
    // S1, S2 rate agent-1 (team-a, hall-1); S3 agent-3 (team-b, hall-1); S4 agent-4 (team-c,
    // hall-2). Expectation, perception per dimension.
    let s1 = rate(
        &mut app,
        ("agent-1", "team-a", "hall-1"),
        may(2),
        vec![
            score("csat", 5),
            score("nps", 10),
            score("ces", 2),
            servqual("tangibles", 6, 6),
            servqual("empathy", 6, 7),
            servqual("assurance", 6, 6),
            servqual("responsiveness", 7, 6),
            servqual("reliability", 7, 5),
        ],
    )
    .await;
    let s2 = rate(
        &mut app,
        ("agent-1", "team-a", "hall-1"),
        may(3),
        vec![
            score("csat", 3),
            score("nps", 7),
            score("ces", 4),
            servqual("tangibles", 5, 6),
            servqual("empathy", 6, 6),
            servqual("assurance", 7, 6),
            servqual("responsiveness", 6, 6),
            servqual("reliability", 6, 6),
        ],
    )
    .await;
    rate(
        &mut app,
        ("agent-3", "team-b", "hall-1"),
        may(4),
        vec![
            score("csat", 3),
            servqual("empathy", 6, 5),
            servqual("assurance", 6, 5),
            servqual("responsiveness", 5, 7),
            servqual("reliability", 5, 7),
        ],
    )
    .await;
    rate(
        &mut app,
        ("agent-4", "team-c", "hall-2"),
        may(5),
        vec![
            score("csat", 2),
            servqual("empathy", 6, 4),
            servqual("assurance", 6, 4),
            servqual("responsiveness", 6, 4),
            servqual("reliability", 6, 4),
        ],
    )
    .await;
    // Sent an hour before May: outside the period, it would sink agent-1 if it counted.
    rate(
        &mut app,
        ("agent-1", "team-a", "hall-1"),
        Utc.with_ymd_and_hms(2025, 4, 30, 23, 0, 0).unwrap(),
        vec![score("csat", 1), score("nps", 0), score("ces", 7)],
    )
    .await;
    adjust(&mut app, &s1, pb::AdjustmentKind::Bonus, 12.0).await;
    adjust(&mut app, &s2, pb::AdjustmentKind::Deduction, 3.0).await;

    // agent-1's clocks: resolution met 3 of 4 (one met late); first contact 1 of 2 (one
    // breached). A CALLBACK clock, a contact and an April breach do not count.
    for (id, kind, clock, day) in [
        ("r1", "clock_met", "RESOLUTION", 2),
        ("r2", "clock_met", "RESOLUTION", 3),
        ("r3", "clock_met", "RESOLUTION", 4),
        ("r4", "clock_met_late", "RESOLUTION", 5),
        ("f1", "clock_met", "FIRST_CONTACT", 2),
        ("f2", "clock_breached", "FIRST_CONTACT", 6),
        ("x1", "clock_breached", "CALLBACK", 7),
        ("x2", "contact_handled", "", 8),
    ] {
        activity(&app, id, kind, ("cus_9", "agent-1"), clock, may(day)).await;
    }
    let april_30 = Utc.with_ymd_and_hms(2025, 4, 30, 10, 0, 0).unwrap();
    activity(
        &app,
        "x3",
        "clock_breached",
        ("cus_9", "agent-1"),
        "RESOLUTION",
        april_30,
    )
    .await;
    // agent-2 has one resolution clock, met, and no survey.
    activity(
        &app,
        "r5",
        "clock_met",
        ("cus_9", "agent-2"),
        "RESOLUTION",
        may(3),
    )
    .await;
    // Complaints about agent-1 in May: c1 (cus_1 complained about agent-2 10 days before:
    // repeat), c2 (cus_2's last complaint 40 days before: not), c3 (cus_3's first), c4
    // (cus_3 again 5 days later: repeat), c5 (cus_4's first): 2 repeats of 5.
    let complaint = "complaint_received";
    let before = |days: i64, at: DateTime<Utc>| at - TimeDelta::days(days);
    activity(
        &app,
        "c0",
        complaint,
        ("cus_1", "agent-2"),
        "",
        before(10, may(1)),
    )
    .await;
    activity(&app, "c1", complaint, ("cus_1", "agent-1"), "", may(1)).await;
    activity(
        &app,
        "c-old",
        complaint,
        ("cus_2", "agent-2"),
        "",
        before(40, may(9)),
    )
    .await;
    activity(&app, "c2", complaint, ("cus_2", "agent-1"), "", may(9)).await;
    activity(&app, "c3", complaint, ("cus_3", "agent-1"), "", may(10)).await;
    activity(&app, "c4", complaint, ("cus_3", "agent-1"), "", may(15)).await;
    activity(&app, "c5", complaint, ("cus_4", "agent-1"), "", may(20)).await;

    // agent-1's metrics:
    //   CSAT: 1 of 2 answers 4-5 → 50.
    //   NPS: 1 promoter (10), 0 detractors (7 is passive) of 2 → 50 → (50 + 100) / 2 = 75.
    //   CES: mean (2 + 4) / 2 = 3 → (7 − 3) / 6 × 100 = 66.67.
    //   Gap per dimension: tangibles (0 + 1) / 2 = 0.5, empathy (1 + 0) / 2 = 0.5, assurance
    //   (0 − 1) / 2 = −0.5, responsiveness (−1 + 0) / 2 = −0.5, reliability (−2 + 0) / 2 = −1;
    //   mean −1 / 5 = −0.2 → (−0.2 + 6) / 6 × 100 = 96.67.
    //   Resolution 3 / 4 → 75; first contact 1 / 2 → 50; repeats 2 / 5 = 0.4 → 60.
    //   Weights 25, 15, 10, 10, 20, 10, 10 (all present, sum 100):
    //   (25×50 + 15×96.67 + 10×75 + 10×66.67 + 20×75 + 10×50 + 10×60) / 100
    //   = (1250 + 1450 + 750 + 666.67 + 1500 + 500 + 600) / 100 = 67.17; + 12 − 3 = 76.17.
    //   Procedural (1-7): S1 (6 + 5) / 2 = 5.5, S2 6 → 5.75 → 4.75 / 6 × 100 = 79.17 (< 80:
    //   low); personal S1 (7 + 6) / 2 = 6.5, S2 6 → 6.25 → 87.5 (high): friendly.
    // agent-2: resolution 1 / 1 alone, its weight renormalised to 1 → 100.
    // agent-3: CSAT 0 (a 3); gap (−1 − 1 + 2 + 2) / 4 = 0.5 → capped at 100; NPS, CES and
    //   the process metrics missing, weights 25 and 15 renormalised to 0.625 and 0.375:
    //   0.625 × 0 + 0.375 × 100 = 37.5. Procedural 7 → 100, personal 5 → 66.67: production.
    // agent-4: CSAT 0; gap −2 → 4 / 6 × 100 = 66.67; 0.375 × 66.67 = 25. Both sides 4 → 50:
    //   cold.
    // Quotas over 4 agents: excellent 5 % × 4 = 0.2 → 0, good 20 % × 4 = 0.8 → 0, so
    // agent-2's 100 earns excellent and is moved down past good to meets standard.
    let agents = scorecards(&mut app, pb::UnitKind::Agent, 2).await;
    assert_eq!(units(&agents), ["agent-2", "agent-1", "agent-3", "agent-4"]);
    let a2 = &agents[0];
    assert!(close(a2.score, 100.0));
    assert_eq!(weights(a2), [("resolution_on_time", 1.0)]);
    assert_eq!(a2.score_grade, pb::Grade::Excellent as i32);
    assert_eq!(a2.grade, pb::Grade::MeetsStandard as i32);
    assert_eq!(a2.surveys, 0);
    assert_eq!(a2.service_type, pb::ServiceType::Unspecified as i32);
    assert_eq!(a2.unit_kind, pb::UnitKind::Agent as i32);

    let a1 = &agents[1];
    let base = (1250.0 + 1450.0 + 750.0 + 2000.0 / 3.0 + 1500.0 + 500.0 + 600.0) / 100.0;
    assert!(close(a1.score, base + 12.0 - 3.0), "{}", a1.score);
    assert_eq!(
        weights(a1),
        [
            ("csat", 0.25),
            ("servqual_gap", 0.15),
            ("nps", 0.1),
            ("ces", 0.1),
            ("resolution_on_time", 0.2),
            ("first_contact_on_time", 0.1),
            ("repeat_complaint_rate", 0.1),
        ]
    );
    let b = &a1.breakdown;
    assert!(close(b[0].value, 50.0) && close(b[0].points, 12.5));
    assert!(close(b[1].value, -0.2) && close(b[1].normalized, 580.0 / 6.0));
    assert!(close(b[2].value, 50.0) && close(b[2].normalized, 75.0));
    assert!(close(b[3].value, 3.0) && close(b[3].normalized, 200.0 / 3.0));
    assert!(close(b[4].value, 0.75) && close(b[5].value, 0.5) && close(b[6].value, 0.4));
    assert!(close(b[6].normalized, 60.0));
    let points: f64 = b.iter().map(|c| c.points).sum();
    assert!(close(points, base));
    assert_eq!((a1.bonus_points, a1.deduction_points), (12.0, 3.0));
    assert_eq!(a1.surveys, 2);
    assert!(close(a1.procedural_score, 4.75 / 6.0 * 100.0));
    assert!(close(a1.personal_score, 87.5));
    assert_eq!(a1.service_type, pb::ServiceType::Friendly as i32);
    assert_eq!(
        (a1.score_grade, a1.grade),
        (pb::Grade::Fails as i32, pb::Grade::Fails as i32)
    );

    let a3 = &agents[2];
    assert!(close(a3.score, 37.5));
    assert_eq!(weights(a3), [("csat", 0.625), ("servqual_gap", 0.375)]);
    assert_eq!(a3.service_type, pb::ServiceType::Production as i32);
    let a4 = &agents[3];
    assert!(close(a4.score, 25.0));
    assert_eq!(a4.service_type, pb::ServiceType::Cold as i32);
    assert!(close(a4.procedural_score, 50.0) && close(a4.personal_score, 50.0));

    // Teams: team-a is agent-1's surveys without the process metrics:
    //   (25×50 + 15×96.67 + 10×75 + 10×66.67) / 60 = 4116.67 / 60 = 68.61; + 12 − 3 = 77.61.
    let teams = scorecards(&mut app, pb::UnitKind::Team, 50).await;
    assert_eq!(units(&teams), ["team-a", "team-b", "team-c"]);
    let team_a = (1250.0 + 1450.0 + 750.0 + 2000.0 / 3.0) / 60.0 + 9.0;
    assert!(close(teams[0].score, team_a), "{}", teams[0].score);
    assert_eq!(teams[0].breakdown.len(), 4);
    assert!(close(teams[0].breakdown[0].weight, 25.0 / 60.0));
    assert_eq!(teams[0].service_type, pb::ServiceType::Friendly as i32);
    assert!(close(teams[1].score, 37.5) && close(teams[2].score, 25.0));

    // hall-1 holds S1, S2 and S3:
    //   CSAT 1 of 3 → 33.33; NPS 1 promoter of 2 → 75; CES 3 → 66.67.
    //   Gap = mean perception − mean expectation per dimension: tangibles 6 − 5.5 = 0.5,
    //   empathy 6 − 6 = 0, assurance 5.67 − 6.33 = −0.67, responsiveness 6.33 − 6 = 0.33,
    //   reliability 6 − 6 = 0; mean 0.033 → above 0, 100.
    //   (25×33.33 + 15×100 + 10×75 + 10×66.67) / 60 = 3750 / 60 = 62.5; + 12 − 3 = 71.5.
    //   Procedural (5.5 + 6 + 7) / 3 = 6.17 → 86.11; personal (6.5 + 6 + 5) / 3 = 5.83 →
    //   80.56: both high, quality.
    // hall-2 is S4 alone: 25, cold.
    let halls = scorecards(&mut app, pb::UnitKind::ServiceHall, 50).await;
    assert_eq!(units(&halls), ["hall-1", "hall-2"]);
    let h1 = &halls[0];
    assert!(close(h1.score, 71.5), "{}", h1.score);
    assert_eq!(h1.surveys, 3);
    assert_eq!((h1.bonus_points, h1.deduction_points), (12.0, 3.0));
    assert!(close(h1.procedural_score, (37.0 / 6.0 - 1.0) / 6.0 * 100.0));
    assert!(close(h1.personal_score, (35.0 / 6.0 - 1.0) / 6.0 * 100.0));
    assert_eq!(h1.service_type, pb::ServiceType::Quality as i32);
    assert_eq!(h1.grade, pb::Grade::Fails as i32);
    assert_eq!(halls[1].service_type, pb::ServiceType::Cold as i32);
}

async fn the_quotas_over_25_halls_keep_one_excellent_and_five_good(backend: Backend) {
    let mut app = spawn_app(backend).await;
    create_template(&mut app, "after-repair").await;
    // One survey per hall, the SERVQUAL items alone (expectations 7), so each hall's score is
    // its gap mapped alone: (gap + 6) / 6 × 100, the gap being the mean of the five.
    //   all perceptions 7: gap 0 → 100;           tangibles 6: −0.2 → 96.67;
    //   tangibles 5: −0.4 → 93.33;                tangibles 3: −0.8 → 86.67;
    //   tangibles 2: −1.0 → 83.33;                tangibles 1, empathy 6: −1.4 → 76.67.
    let perceptions = |hall: usize| -> (i32, i32) {
        match hall {
            1 | 2 => (7, 7),
            3 => (6, 7),
            4..=8 => (5, 7),
            9..=20 => (3, 7),
            21..=24 => (2, 7),
            _ => (1, 6),
        }
    };
    for hall in 1..=25 {
        let (tangibles, empathy) = perceptions(hall);
        rate(
            &mut app,
            ("agent-q", "team-q", &format!("h{hall:02}")),
            may(10) + TimeDelta::hours(hall as i64),
            vec![
                servqual("tangibles", 7, tangibles),
                servqual("empathy", 7, empathy),
                servqual("assurance", 7, 7),
                servqual("responsiveness", 7, 7),
                servqual("reliability", 7, 7),
            ],
        )
        .await;
    }
    // 25 halls: excellent at most 5 % × 25 = 1.25 → 1, good at most 20 % × 25 = 5.
    // Ranked by score then id: h01 (100) is excellent; h02 (100) and h03 (96.67) earned
    // excellent and move down to good, with h04, h05, h06 (93.33): 5 good; h07 and h08
    // (93.33) earned good and move down to meets standard; h09-h24 meet the standard; h25
    // (76.67) fails.
    let halls = scorecards(&mut app, pb::UnitKind::ServiceHall, 10).await;
    let want: Vec<String> = (1..=25).map(|h| format!("h{h:02}")).collect();
    assert_eq!(units(&halls), want);
    use pb::Grade as G;
    let grade_of = |h: usize| -> (i32, i32) {
        let (score_grade, grade) = match h {
            1 => (G::Excellent, G::Excellent),
            2 | 3 => (G::Excellent, G::Good),
            4..=6 => (G::Good, G::Good),
            7 | 8 => (G::Good, G::MeetsStandard),
            9..=24 => (G::MeetsStandard, G::MeetsStandard),
            _ => (G::Fails, G::Fails),
        };
        (score_grade as i32, grade as i32)
    };
    for (i, card) in halls.iter().enumerate() {
        assert_eq!((card.score_grade, card.grade), grade_of(i + 1), "{card:?}");
        assert_eq!(card.service_type, pb::ServiceType::Quality as i32);
        assert_eq!(weights(card), [("servqual_gap", 1.0)]);
    }
    assert!(close(halls[2].score, 580.0 / 6.0)); // 96.67
    assert!(close(halls[3].score, 560.0 / 6.0)); // 93.33
    assert!(close(halls[24].score, 460.0 / 6.0)); // 76.67
    let count = |g: G| halls.iter().filter(|c| c.grade == g as i32).count();
    assert_eq!((count(G::Excellent), count(G::Good)), (1, 5));
}

async fn bad_periods_and_foreign_tokens_answer_invalid_argument(backend: Backend) {
    let mut app = spawn_app(backend).await;
    let err = app
        .client
        .list_scorecards(pb::ListScorecardsRequest::default())
        .await
        .unwrap_err();
    assert_eq!(fields(&err), ["period_start", "period_end", "unit_kind"]);
    let start = Utc.with_ymd_and_hms(2025, 5, 1, 0, 0, 0).unwrap();
    let period = |days: i64, page_size: i32| pb::ListScorecardsRequest {
        period_start: ts(start),
        period_end: ts(start + TimeDelta::days(days)),
        unit_kind: pb::UnitKind::Team as i32,
        page_size,
        page_token: String::new(),
    };
    let err = app.client.list_scorecards(period(0, 0)).await.unwrap_err();
    assert_eq!(fields(&err), ["period_end"]);
    let err = app
        .client
        .list_scorecards(period(367, -1))
        .await
        .unwrap_err();
    assert_eq!(fields(&err), ["period_end", "page_size"]);
    // 366 days is the longest period; nothing was scored in it.
    let empty = app.client.list_scorecards(period(366, 0)).await.unwrap();
    let empty = empty.into_inner();
    assert!(empty.scorecards.is_empty() && empty.next_page_token.is_empty());
    assert_eq!(empty.total_units, 0);

    // A token is valid only with the unit kind and period of its first page.
    create_template(&mut app, "after-repair").await;
    for agent_id in ["agent-1", "agent-2"] {
        rate(
            &mut app,
            (agent_id, "team-a", "hall-1"),
            may(2),
            vec![score("csat", 5)],
        )
        .await;
    }
    let page = app
        .client
        .list_scorecards(list(pb::UnitKind::Agent, 1, String::new()))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(page.total_units, 2);
    let err = app
        .client
        .list_scorecards(list(pb::UnitKind::Team, 1, page.next_page_token))
        .await
        .unwrap_err();
    assert_eq!(fields(&err), ["page_token"]);
}

csops_testkit::on_both_backends!(
    every_unit_gets_its_weighted_score_grade_and_service_type_computed_by_hand,
    the_quotas_over_25_halls_keep_one_excellent_and_five_good,
    bad_periods_and_foreign_tokens_answer_invalid_argument,
);
