//! GetFeedbackScores as a client sees it, on SQLite and on a real PostgreSQL: surveys recorded
//! with CreateSurvey and sent with SendSurvey (the customers service beside, for the consent
//! check), then aggregated for a period, in total, by group and with filters. Every figure is
//! checked against values computed by hand in the comments.
#![allow(clippy::unwrap_used, unreachable_pub)]

mod common;

use chrono::{DateTime, TimeDelta, Utc};
use csops_proto::customers::v1 as cpb;
use csops_proto::feedback::v1 as pb;
use csops_testkit::Backend;

use common::{
    agent, close, create_customer, fields, full_items, item, score, servqual, spawn_with_customers,
    ts, TestApp, WithCustomers,
};

async fn create_template(app: &mut TestApp, id: &str, items: Vec<pb::SurveyItem>) {
    app.client
        .create_survey_template(pb::CreateSurveyTemplateRequest {
            template: Some(pb::SurveyTemplate {
                id: id.into(),
                title: format!("Survey {id}"),
                items,
                ..Default::default()
            }),
            request_id: format!("req-{id}"),
            actor: agent("agent-1"),
        })
        .await
        .unwrap();
}

/// Where a survey is counted: agent, team, service hall, complaint nature, tier, region and
/// channel.
struct Where {
    agent: &'static str,
    team: &'static str,
    hall: &'static str,
    nature: &'static str,
    tier: &'static str,
    region: &'static str,
    channel: pb::SurveyChannel,
}

fn survey(customer_id: &str, template_id: &str, w: &Where, answers: Vec<pb::Answer>) -> pb::Survey {
    pb::Survey {
        customer_id: customer_id.into(),
        subject: Some(pb::Subject {
            kind: pb::SubjectKind::Complaint as i32,
            id: "cmp_1".into(),
        }),
        agent_id: w.agent.into(),
        channel: w.channel as i32,
        template_id: template_id.into(),
        answers,
        slice: Some(pb::SurveySlice {
            team_id: w.team.into(),
            service_hall_id: w.hall.into(),
            complaint_nature: w.nature.into(),
            customer_tier: w.tier.into(),
            customer_region: w.region.into(),
        }),
        ..Default::default()
    }
}

/// Records a survey answered on the spot at `at` (its send time).
async fn record(
    app: &mut TestApp,
    template_id: &str,
    w: &Where,
    at: DateTime<Utc>,
    answers: Vec<pb::Answer>,
) {
    app.client
        .create_survey(pb::CreateSurveyRequest {
            survey: Some(pb::Survey {
                answer_time: ts(at),
                ..survey("cus_1", template_id, w, answers)
            }),
            request_id: uuid::Uuid::new_v4().to_string(),
            actor: agent(w.agent),
        })
        .await
        .unwrap();
}

/// Sends a survey now (SENT: counted in the response rate, nothing answered); returns its id.
async fn send(app: &mut TestApp, customer_id: &str, w: &Where) -> String {
    app.client
        .send_survey(pb::SendSurveyRequest {
            survey: Some(survey(customer_id, "full", w, Vec::new())),
            request_id: uuid::Uuid::new_v4().to_string(),
            actor: agent(w.agent),
        })
        .await
        .unwrap()
        .into_inner()
        .survey
        .unwrap()
        .id
}

/// (value, answers) of a figure.
fn fig(f: &Option<pb::ScoreFigure>) -> (f64, i64) {
    let f = f.as_ref().unwrap();
    (f.value, f.answers)
}

fn assert_figure(what: &str, got: &Option<pb::ScoreFigure>, value: f64, answers: i64) {
    let (v, n) = fig(got);
    assert!(
        close(v, value) && n == answers,
        "{what}: got ({v}, {n}), want ({value}, {answers})"
    );
}

/// (mean gap, answers) of each dimension, in the five's order.
fn gaps(g: &pb::ScoreGroup) -> Vec<(i32, f64, i64)> {
    g.dimension_gaps
        .iter()
        .map(|d| (d.dimension, d.mean_gap, d.answers))
        .collect()
}

fn assert_gaps(g: &pb::ScoreGroup, want: [(f64, i64); 5]) {
    use pb::Dimension as D;
    let got = gaps(g);
    let dims = [
        D::Tangibles,
        D::Empathy,
        D::Assurance,
        D::Responsiveness,
        D::Reliability,
    ];
    assert_eq!(got.len(), 5, "{got:?}");
    for ((dim, gap, n), (d, (want_gap, want_n))) in got.iter().zip(dims.iter().zip(want)) {
        assert_eq!(*dim, *d as i32, "{got:?}");
        assert!(
            close(*gap, want_gap) && *n == want_n,
            "{d:?} of {:?}: got ({gap}, {n}), want ({want_gap}, {want_n})",
            g.key
        );
    }
}

/// (key, sent, responses, complete) of a group.
fn counts(g: &pb::ScoreGroup) -> (&str, i64, i64, i64) {
    (g.key.as_str(), g.sent, g.responses, g.complete)
}

const TEAM_A_NORTH_PHONE: Where = Where {
    agent: "agent-1",
    team: "team-a",
    hall: "hall-1",
    nature: "SERVICE_ATTITUDE",
    tier: "A",
    region: "north",
    channel: pb::SurveyChannel::Phone,
};

/// The period's surveys, seeded through the API:
///
/// | survey | when | agent | team | tier | region | channel | answers |
/// |---|---|---|---|---|---|---|---|
/// | R1 | base (= period_start) | agent-1 | team-a | A | north | PHONE | CSAT 5, NPS 10, CES 2, tangibles 5→6, empathy 6→4 |
/// | R2 | base + 1 h | agent-2 | team-a | B | north | SMS | CSAT 4, NPS 9, CES 3, empathy 7→5, reliability 5→6 |
/// | R3 | base + 2 h | agent-3 | team-b | A | south | PHONE | CSAT 2, NPS 3, empathy 4→4, reliability 6→3 |
/// | R4 | base + 3 h | agent-3 | team-b | C | south | WEB | CSAT 3, NPS 7 |
/// | R5 | base + 4 h | agent-4 | team-c | C | north | PAPER | CSAT 1 (template "short": complete) |
/// | S1 | now (sent) | agent-1 | team-a | A | north | PHONE | — |
/// | S2 | now (sent) | agent-3 | team-b | B | south | SMS | — |
/// | S3 | now (sent, then answered) | agent-3 | team-b | A | south | PHONE | CSAT 5, NPS 8, CES 4 |
///
/// and X1 at base − 1 s (team-a, CSAT 1, NPS 0), outside the period. Returns `base`.
async fn seed(with: &mut WithCustomers) -> DateTime<Utc> {
    let app = &mut with.app;
    create_template(app, "full", full_items()).await;
    create_template(
        app,
        "short",
        vec![item("csat", pb::ItemKind::Csat, pb::Dimension::Unspecified)],
    )
    .await;
    let base = DateTime::from_timestamp((Utc::now() - TimeDelta::hours(5)).timestamp(), 0).unwrap();
    let hour = TimeDelta::hours;
    let a1 = TEAM_A_NORTH_PHONE;
    let a2 = Where {
        agent: "agent-2",
        nature: "BILLING",
        tier: "B",
        channel: pb::SurveyChannel::Sms,
        ..TEAM_A_NORTH_PHONE
    };
    let b_phone = Where {
        agent: "agent-3",
        team: "team-b",
        hall: "hall-2",
        region: "south",
        ..TEAM_A_NORTH_PHONE
    };
    let b_web = Where {
        nature: "",
        tier: "C",
        channel: pb::SurveyChannel::Web,
        ..b_phone
    };
    let c_paper = Where {
        agent: "agent-4",
        team: "team-c",
        nature: "",
        tier: "C",
        channel: pb::SurveyChannel::Paper,
        ..TEAM_A_NORTH_PHONE
    };
    let b_sms = Where {
        tier: "B",
        channel: pb::SurveyChannel::Sms,
        ..b_phone
    };
    record(
        app,
        "full",
        &a1,
        base,
        vec![
            score("csat", 5),
            score("nps", 10),
            score("ces", 2),
            servqual("tangibles", 5, 6),
            servqual("empathy", 6, 4),
        ],
    )
    .await;
    record(
        app,
        "full",
        &a2,
        base + hour(1),
        vec![
            score("csat", 4),
            score("nps", 9),
            score("ces", 3),
            servqual("empathy", 7, 5),
            servqual("reliability", 5, 6),
        ],
    )
    .await;
    record(
        app,
        "full",
        &b_phone,
        base + hour(2),
        vec![
            score("csat", 2),
            score("nps", 3),
            servqual("empathy", 4, 4),
            servqual("reliability", 6, 3),
        ],
    )
    .await;
    record(
        app,
        "full",
        &b_web,
        base + hour(3),
        vec![score("csat", 3), score("nps", 7)],
    )
    .await;
    record(
        app,
        "short",
        &c_paper,
        base + hour(4),
        vec![score("csat", 1)],
    )
    .await;
    record(
        app,
        "full",
        &a1,
        base - TimeDelta::seconds(1),
        vec![score("csat", 1), score("nps", 0)],
    )
    .await;

    let customer = create_customer(
        &mut with.customers,
        cpb::CustomerTier::A,
        &[cpb::ContactChannel::PhoneCall, cpb::ContactChannel::Sms],
    )
    .await;
    send(app, &customer, &a1).await;
    send(app, &customer, &b_sms).await;
    let s3 = send(app, &customer, &b_phone).await;
    app.client
        .answer_survey(pb::AnswerSurveyRequest {
            survey_id: s3,
            answers: vec![score("csat", 5), score("nps", 8), score("ces", 4)],
            answer_time: None,
            actor: agent("agent-3"),
            etag: String::new(),
        })
        .await
        .unwrap();
    base
}

fn period(base: DateTime<Utc>) -> pb::GetFeedbackScoresRequest {
    pb::GetFeedbackScoresRequest {
        period_start: ts(base),
        period_end: ts(Utc::now() + TimeDelta::hours(1)),
        ..Default::default()
    }
}

async fn scores(
    app: &mut TestApp,
    request: pb::GetFeedbackScoresRequest,
) -> pb::GetFeedbackScoresResponse {
    app.client
        .get_feedback_scores(request)
        .await
        .unwrap()
        .into_inner()
}

async fn the_total_of_a_period_has_every_figure_computed_by_hand(backend: Backend) {
    let mut with = spawn_with_customers(backend).await;
    let base = seed(&mut with).await;
    let app = &mut with.app;
    let answer = scores(app, period(base)).await;
    assert!(answer.groups.is_empty(), "{:?}", answer.groups);
    let t = answer.total.unwrap();
    // R1-R5, S1-S3 (X1 is 1 s before the period); answered: R1-R5 and S3; complete: R5 only
    // (its template asks CSAT alone). 6 / 8 = 0.75.
    assert_eq!(counts(&t), ("", 8, 6, 1));
    assert!(close(t.response_rate, 0.75), "{}", t.response_rate);
    // CSAT 5, 4, 2, 3, 1, 5: three of six are 4-5 → 50 %.
    assert_figure("csat", &t.csat, 50.0, 6);
    // NPS 10, 9 promoters; 3 detractor; 7, 8 passive: 2/5 − 1/5 = 40 % − 20 % = 20.
    assert_figure("nps", &t.nps, 20.0, 5);
    // CES 2, 3, 4 → 3.
    assert_figure("ces", &t.ces, 3.0, 3);
    // Tangibles 5→6: +1 (1). Empathy 6→4, 7→5, 4→4: 13/3 − 17/3 = −4/3 (3). Reliability
    // 5→6, 6→3: 4.5 − 5.5 = −1 (2). Assurance, responsiveness: no answers.
    assert_gaps(
        &t,
        [(1.0, 1), (-4.0 / 3.0, 3), (0.0, 0), (0.0, 0), (-1.0, 2)],
    );
    // Mean of the three gaps with answers: (1 − 4/3 − 1) / 3 = −4/9, on 6 answers.
    assert_figure("servqual_gap", &t.servqual_gap, -4.0 / 9.0, 6);

    // The start is inclusive, the end exclusive: [base, base + 1 h) holds R1 only.
    let first_hour = scores(
        app,
        pb::GetFeedbackScoresRequest {
            period_end: ts(base + TimeDelta::hours(1)),
            ..period(base)
        },
    )
    .await;
    let t = first_hour.total.unwrap();
    assert_eq!(counts(&t), ("", 1, 1, 0));
    assert_figure("csat", &t.csat, 100.0, 1);
    // A period with no survey: zeros and no answers behind them.
    let empty = scores(
        app,
        pb::GetFeedbackScoresRequest {
            period_start: ts(base - TimeDelta::days(30)),
            period_end: ts(base - TimeDelta::days(29)),
            group_by: pb::GroupBy::Team as i32,
            ..Default::default()
        },
    )
    .await;
    let t = empty.total.unwrap();
    assert_eq!((counts(&t), t.response_rate), (("", 0, 0, 0), 0.0));
    assert_figure("csat", &t.csat, 0.0, 0);
    assert_figure("servqual_gap", &t.servqual_gap, 0.0, 0);
    assert!(empty.groups.is_empty());
}

async fn groups_are_listed_by_key_with_their_own_figures(backend: Backend) {
    let mut with = spawn_with_customers(backend).await;
    let base = seed(&mut with).await;
    let app = &mut with.app;
    let by_team = scores(
        app,
        pb::GetFeedbackScoresRequest {
            group_by: pb::GroupBy::Team as i32,
            ..period(base)
        },
    )
    .await;
    // The total is the same with or without a grouping.
    assert_eq!(counts(by_team.total.as_ref().unwrap()), ("", 8, 6, 1));
    let g = &by_team.groups;
    let keys: Vec<(&str, i64, i64, i64)> = g.iter().map(counts).collect();
    assert_eq!(
        keys,
        [
            ("team-a", 3, 2, 0),
            ("team-b", 4, 3, 0),
            ("team-c", 1, 1, 1)
        ]
    );
    // team-a: R1, R2, S1. Rate 2/3; CSAT 5, 4 → 100 %; NPS 10, 9 → 100; CES 2, 3 → 2.5;
    // tangibles +1; empathy 6→4, 7→5: 4.5 − 6.5 = −2; reliability 5→6: +1; overall
    // (1 − 2 + 1) / 3 = 0 on 4 answers.
    let a = &g[0];
    assert!(close(a.response_rate, 2.0 / 3.0), "{}", a.response_rate);
    assert_figure("team-a csat", &a.csat, 100.0, 2);
    assert_figure("team-a nps", &a.nps, 100.0, 2);
    assert_figure("team-a ces", &a.ces, 2.5, 2);
    assert_gaps(a, [(1.0, 1), (-2.0, 2), (0.0, 0), (0.0, 0), (1.0, 1)]);
    assert_figure("team-a servqual", &a.servqual_gap, 0.0, 4);
    // team-b: R3, R4, S2, S3. Rate 3/4; CSAT 2, 3, 5 → 1/3; NPS 3, 7, 8: no promoter, one
    // detractor → −33.3; CES 4; empathy 4→4: 0; reliability 6→3: −3; overall −1.5 on 2.
    let b = &g[1];
    assert!(close(b.response_rate, 0.75), "{}", b.response_rate);
    assert_figure("team-b csat", &b.csat, 100.0 / 3.0, 3);
    assert_figure("team-b nps", &b.nps, -100.0 / 3.0, 3);
    assert_figure("team-b ces", &b.ces, 4.0, 1);
    assert_gaps(b, [(0.0, 0), (0.0, 1), (0.0, 0), (0.0, 0), (-3.0, 1)]);
    assert_figure("team-b servqual", &b.servqual_gap, -1.5, 2);
    // team-c: R5 alone: CSAT 1 → 0 %; nothing else answered.
    let c = &g[2];
    assert!(close(c.response_rate, 1.0));
    assert_figure("team-c csat", &c.csat, 0.0, 1);
    assert_figure("team-c nps", &c.nps, 0.0, 0);
    assert_figure("team-c servqual", &c.servqual_gap, 0.0, 0);

    // By channel, keys are the enum's names (sorted): PAPER R5; PHONE R1, R3, S1, S3;
    // SMS R2, S2; WEB R4. PHONE's CSAT 5, 2, 5 → 2/3.
    let by_channel = scores(
        app,
        pb::GetFeedbackScoresRequest {
            group_by: pb::GroupBy::Channel as i32,
            ..period(base)
        },
    )
    .await;
    let keys: Vec<(&str, i64, i64, i64)> = by_channel.groups.iter().map(counts).collect();
    assert_eq!(
        keys,
        [
            ("SURVEY_CHANNEL_PAPER", 1, 1, 1),
            ("SURVEY_CHANNEL_PHONE", 4, 3, 0),
            ("SURVEY_CHANNEL_SMS", 2, 1, 0),
            ("SURVEY_CHANNEL_WEB", 1, 1, 0),
        ]
    );
    assert_figure("phone csat", &by_channel.groups[1].csat, 200.0 / 3.0, 3);

    // By complaint nature: R4 and R5 have none (key ""), the SENT surveys carry
    // SERVICE_ATTITUDE (S1, S2, S3) as R1 and R3 do; BILLING is R2.
    let by_nature = scores(
        app,
        pb::GetFeedbackScoresRequest {
            group_by: pb::GroupBy::ComplaintNature as i32,
            ..period(base)
        },
    )
    .await;
    let keys: Vec<(&str, i64, i64, i64)> = by_nature.groups.iter().map(counts).collect();
    assert_eq!(
        keys,
        [
            ("", 2, 2, 1),
            ("BILLING", 1, 1, 0),
            ("SERVICE_ATTITUDE", 5, 3, 0)
        ]
    );
}

async fn filters_combine_with_and_and_values_of_one_filter_with_or(backend: Backend) {
    let mut with = spawn_with_customers(backend).await;
    let base = seed(&mut with).await;
    let app = &mut with.app;
    // team-b AND tier A: R3 and S3. CSAT 2, 5 → 50 %; NPS 3, 8 → 0 − 50 % = −50; CES 4.
    let b_and_a = scores(
        app,
        pb::GetFeedbackScoresRequest {
            team_ids: vec!["team-b".into()],
            customer_tiers: vec!["A".into()],
            ..period(base)
        },
    )
    .await;
    let t = b_and_a.total.unwrap();
    assert_eq!(counts(&t), ("", 2, 2, 0));
    assert_figure("csat", &t.csat, 50.0, 2);
    assert_figure("nps", &t.nps, -50.0, 2);
    assert_figure("ces", &t.ces, 4.0, 1);
    // PHONE or SMS, AND team-a or team-c, AND north: R1, R2, S1 (R5 is on PAPER).
    let t = scores(
        app,
        pb::GetFeedbackScoresRequest {
            channels: vec![
                pb::SurveyChannel::Phone as i32,
                pb::SurveyChannel::Sms as i32,
            ],
            team_ids: vec!["team-a".into(), "team-c".into()],
            customer_regions: vec!["north".into()],
            ..period(base)
        },
    )
    .await
    .total
    .unwrap();
    assert_eq!(counts(&t), ("", 3, 2, 0));
    // Grouped by agent, agent-3 only, in hall-2: R3, R4, S2, S3 in one group.
    let by_agent = scores(
        app,
        pb::GetFeedbackScoresRequest {
            group_by: pb::GroupBy::Agent as i32,
            agent_ids: vec!["agent-3".into()],
            service_hall_ids: vec!["hall-2".into()],
            ..period(base)
        },
    )
    .await;
    let keys: Vec<(&str, i64, i64, i64)> = by_agent.groups.iter().map(counts).collect();
    assert_eq!(keys, [("agent-3", 4, 3, 0)]);
    // Only template "short": R5.
    let t = scores(
        app,
        pb::GetFeedbackScoresRequest {
            template_id: "short".into(),
            ..period(base)
        },
    )
    .await
    .total
    .unwrap();
    assert_eq!(counts(&t), ("", 1, 1, 1));
    // A complaint nature and a tier no survey has together: nothing.
    let t = scores(
        app,
        pb::GetFeedbackScoresRequest {
            complaint_natures: vec!["BILLING".into()],
            customer_tiers: vec!["C".into()],
            ..period(base)
        },
    )
    .await
    .total
    .unwrap();
    assert_eq!(counts(&t), ("", 0, 0, 0));
}

async fn bad_requests_answer_invalid_argument_naming_every_field(backend: Backend) {
    let mut with = spawn_with_customers(backend).await;
    let app = &mut with.app;
    let now = DateTime::from_timestamp(Utc::now().timestamp(), 0).unwrap();
    let err = app
        .client
        .get_feedback_scores(pb::GetFeedbackScoresRequest::default())
        .await
        .unwrap_err();
    assert_eq!(fields(&err), ["period_start", "period_end"]);
    // The end before the start, an unknown grouping, an unspecified and an unknown channel.
    let err = app
        .client
        .get_feedback_scores(pb::GetFeedbackScoresRequest {
            period_start: ts(now),
            period_end: ts(now - TimeDelta::hours(1)),
            group_by: 99,
            channels: vec![0, pb::SurveyChannel::Web as i32, 42],
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(
        fields(&err),
        ["period_end", "group_by", "channels[0]", "channels[2]"]
    );
    // 366 days is the most; 366 days and a second is refused.
    let year = |extra: i64| pb::GetFeedbackScoresRequest {
        period_start: ts(now),
        period_end: ts(now + TimeDelta::days(366) + TimeDelta::seconds(extra)),
        ..Default::default()
    };
    app.client.get_feedback_scores(year(0)).await.unwrap();
    let err = app.client.get_feedback_scores(year(1)).await.unwrap_err();
    assert_eq!(fields(&err), ["period_end"]);
    // Sizes come first, alone: 101 teams, a 101-character agent id, 101 channels, a long
    // template id (the missing period is not even looked at).
    let err = app
        .client
        .get_feedback_scores(pb::GetFeedbackScoresRequest {
            team_ids: (0..101).map(|i| format!("team-{i}")).collect(),
            agent_ids: vec!["agent-1".into(), "a".repeat(101)],
            channels: vec![pb::SurveyChannel::Phone as i32; 101],
            template_id: "t".repeat(101),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(
        fields(&err),
        ["team_ids", "agent_ids[1]", "channels", "template_id"]
    );
}

async fn past_1000_groups_the_largest_are_kept_and_the_total_counts_every_survey(backend: Backend) {
    let mut with = spawn_with_customers(backend).await;
    let app = &mut with.app;
    // 1,003 surveys rating 1,002 agents (agent-0000 … agent-1001, agent-1001 twice), written
    // straight into the facts table: a thousand CreateSurvey calls would only make the test
    // slow. SENT, nothing answered.
    let at = DateTime::from_timestamp(Utc::now().timestamp(), 0).unwrap() - TimeDelta::hours(1);
    let rows: Vec<String> = (0..1003)
        .map(|n| {
            let agent = if n == 1002 { 1001 } else { n };
            format!(
                "('srv_{n:04}', {}, 'full', 'agent-{agent:04}', 'team-a', '', '', 'A', 'north', \
                 'phone', 0, 0)",
                at.timestamp_micros()
            )
        })
        .collect();
    sqlx::query(&format!(
        "INSERT INTO survey_facts (survey_id, send_time, template_id, agent_id, team_id, \
         service_hall_id, complaint_nature, customer_tier, customer_region, channel, responded, \
         complete) VALUES {}",
        rows.join(", ")
    ))
    .execute(app.core.store.pool())
    .await
    .unwrap();
    let answer = scores(
        app,
        pb::GetFeedbackScoresRequest {
            period_start: ts(at),
            period_end: ts(at + TimeDelta::hours(1)),
            group_by: pb::GroupBy::Agent as i32,
            ..Default::default()
        },
    )
    .await;
    // Largest first, ties by key: agent-1001 (2 surveys), then agent-0000 … agent-0998; left
    // out: agent-0999 and agent-1000. Listed by key; the total still counts all 1,003, so
    // the groups' 1,001 tell that some are missing.
    let g = &answer.groups;
    assert_eq!(g.len(), 1000);
    assert_eq!(counts(&g[0]), ("agent-0000", 1, 0, 0));
    assert_eq!(counts(&g[998]), ("agent-0998", 1, 0, 0));
    assert_eq!(counts(&g[999]), ("agent-1001", 2, 0, 0));
    assert_eq!(g.iter().map(|x| x.sent).sum::<i64>(), 1001);
    assert_eq!(counts(answer.total.as_ref().unwrap()), ("", 1003, 0, 0));
}

csops_testkit::on_both_backends!(
    the_total_of_a_period_has_every_figure_computed_by_hand,
    groups_are_listed_by_key_with_their_own_figures,
    filters_combine_with_and_and_values_of_one_filter_with_or,
    bad_requests_answer_invalid_argument_naming_every_field,
    past_1000_groups_the_largest_are_kept_and_the_total_counts_every_survey,
);
