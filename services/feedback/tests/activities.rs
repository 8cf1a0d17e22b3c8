//! Activities and process indicators as a client sees them, on SQLite and on a real
//! PostgreSQL: activities recorded once per sender event, and the indicators of a period per
//! agent (paged by agent id) and in total, checked against numbers computed by hand in the
//! comments.
#![allow(clippy::unwrap_used, unreachable_pub)]

mod common;

use chrono::{DateTime, TimeDelta, Utc};
use csops_proto::feedback::v1 as pb;
use csops_testkit::Backend;

use common::{agent, close, fields, spawn_app, ts, TestApp};

/// The start of the period the scenarios look at: 90 days before the tests began, in whole
/// seconds (fixed once, so every call names the same instants).
fn base() -> DateTime<Utc> {
    static BASE: std::sync::OnceLock<DateTime<Utc>> = std::sync::OnceLock::new();
    *BASE.get_or_init(|| {
        DateTime::from_timestamp((Utc::now() - TimeDelta::days(90)).timestamp(), 0).unwrap()
    })
}

fn day(n: i64) -> DateTime<Utc> {
    base() + TimeDelta::days(n)
}

struct Act<'a> {
    kind: pb::ActivityKind,
    customer: &'a str,
    agent: &'a str,
    clock_kind: &'a str,
    at: DateTime<Utc>,
}

fn act<'a>(
    kind: pb::ActivityKind,
    customer: &'a str,
    agent: &'a str,
    at: DateTime<Utc>,
) -> Act<'a> {
    Act {
        kind,
        customer,
        agent,
        clock_kind: "",
        at,
    }
}

fn clock<'a>(
    kind: pb::ActivityKind,
    clock_kind: &'a str,
    customer: &'a str,
    at: DateTime<Utc>,
) -> Act<'a> {
    Act {
        clock_kind,
        ..act(kind, customer, "agent-1", at)
    }
}

/// The request a sender makes, as the complaints service would send it (visits kinds as the
/// visits service sends them: source "visits", subject the visit or field job).
fn request(a: &Act<'_>, event_id: &str) -> pb::RecordActivityRequest {
    use pb::ActivityKind as K;
    let (source, subject_kind, category) = match a.kind {
        K::VisitCompleted => ("visits", pb::SubjectKind::Visit, ""),
        K::FieldJobCompleted => ("visits", pb::SubjectKind::FieldJob, ""),
        K::ComplaintReceived => ("complaints", pb::SubjectKind::Complaint, "PRODUCT_QUALITY"),
        _ => ("complaints", pb::SubjectKind::Complaint, ""),
    };
    pb::RecordActivityRequest {
        activity: Some(pb::Activity {
            kind: a.kind as i32,
            customer_id: a.customer.into(),
            agent_id: a.agent.into(),
            subject: Some(pb::Subject {
                kind: subject_kind as i32,
                id: format!("subj-{event_id}"),
            }),
            category: category.into(),
            clock_kind: a.clock_kind.into(),
            occur_time: ts(a.at),
            source_service: source.into(),
            source_event_id: event_id.into(),
        }),
    }
}

async fn record_all(app: &mut TestApp, acts: &[Act<'_>]) {
    for (i, a) in acts.iter().enumerate() {
        let answer = app
            .client
            .record_activity(request(a, &format!("ev-{i}")))
            .await
            .unwrap()
            .into_inner();
        assert!(!answer.duplicate, "event {i} is new");
    }
}

fn list(agent_ids: &[&str], page_size: i32, token: String) -> pb::ListProcessIndicatorsRequest {
    pb::ListProcessIndicatorsRequest {
        period_start: ts(day(0)),
        period_end: ts(day(30)),
        agent_ids: agent_ids.iter().map(|s| s.to_string()).collect(),
        page_size,
        page_token: token,
    }
}

async fn indicators(app: &mut TestApp, agent_ids: &[&str]) -> pb::ListProcessIndicatorsResponse {
    app.client
        .list_process_indicators(list(agent_ids, 0, String::new()))
        .await
        .unwrap()
        .into_inner()
}

/// A template of two SERVQUAL items (empathy, reliability), neither required.
async fn create_template(app: &mut TestApp) {
    let item = |id: &str, d: pb::Dimension| pb::SurveyItem {
        item_id: id.into(),
        kind: pb::ItemKind::Servqual as i32,
        prompt: format!("{id}?"),
        dimension: d as i32,
        required: false,
    };
    app.client
        .create_survey_template(pb::CreateSurveyTemplateRequest {
            template: Some(pb::SurveyTemplate {
                id: "after-service".into(),
                title: "After the service".into(),
                items: vec![
                    item("empathy", pb::Dimension::Empathy),
                    item("reliability", pb::Dimension::Reliability),
                ],
                ..Default::default()
            }),
            request_id: "tpl-1".into(),
            actor: agent("sup-1"),
        })
        .await
        .unwrap();
}

/// Records a survey answered at `at` rating `agent_id`: (item, expectation, perception).
async fn survey(
    app: &mut TestApp,
    agent_id: &str,
    at: DateTime<Utc>,
    answers: &[(&str, i32, i32)],
) {
    let n = at.timestamp();
    app.client
        .create_survey(pb::CreateSurveyRequest {
            survey: Some(pb::Survey {
                customer_id: "cus_a".into(),
                subject: Some(pb::Subject {
                    kind: pb::SubjectKind::Complaint as i32,
                    id: "cmp_1".into(),
                }),
                agent_id: agent_id.into(),
                channel: pb::SurveyChannel::Phone as i32,
                template_id: "after-service".into(),
                answers: answers
                    .iter()
                    .map(|(item, e, p)| pb::Answer {
                        item_id: (*item).into(),
                        expectation: *e,
                        perception: *p,
                        ..Default::default()
                    })
                    .collect(),
                answer_time: ts(at),
                ..Default::default()
            }),
            request_id: format!("srv-{agent_id}-{n}"),
            actor: agent(agent_id),
        })
        .await
        .unwrap();
}

async fn an_activity_is_recorded_once_per_sender_event(backend: Backend) {
    let mut app = spawn_app(backend).await;
    let complaint = act(
        pb::ActivityKind::ComplaintReceived,
        "cus_a",
        "agent-1",
        day(1),
    );
    let first = app
        .client
        .record_activity(request(&complaint, "cev-1"))
        .await;
    assert!(!first.unwrap().into_inner().duplicate);
    // A retried delivery of the same event changes nothing, even with other content.
    let again = app
        .client
        .record_activity(request(&complaint, "cev-1"))
        .await;
    assert!(again.unwrap().into_inner().duplicate);
    let other = act(
        pb::ActivityKind::ComplaintReceived,
        "cus_b",
        "agent-9",
        day(2),
    );
    let again = app.client.record_activity(request(&other, "cev-1")).await;
    assert!(again.unwrap().into_inner().duplicate);
    // The same event id from another sender is another event (visits sends ev ids too).
    let visit = act(pb::ActivityKind::VisitCompleted, "cus_a", "agent-1", day(3));
    let from_visits = app.client.record_activity(request(&visit, "cev-1")).await;
    assert!(!from_visits.unwrap().into_inner().duplicate);

    let page = indicators(&mut app, &[]).await;
    assert_eq!(page.agents.len(), 1);
    let a = &page.agents[0];
    assert_eq!(a.agent_id, "agent-1");
    // One complaint, one visit, one customer; no contacts handled: rate 0.
    assert_eq!((a.complaints, a.visits_completed, a.customers), (1, 1, 1));
    assert_eq!(a.complaint_rate, 0.0);
    assert_eq!(page.total.unwrap().complaints, 1);
    let rows: (i64,) = sqlx::query_as("SELECT COUNT(*) FROM activities")
        .fetch_one(app.core.store.pool())
        .await
        .unwrap();
    assert_eq!(rows.0, 2);
}

async fn process_indicators_are_computed_per_agent_and_in_total_as_by_hand(backend: Backend) {
    use pb::ActivityKind as K;
    let mut app = spawn_app(backend).await;
    let mut acts = vec![
        // Before the period: cus_a 10 days before its complaint of day 1 (a repeat), cus_b
        // 41 days before its complaint of day 1 (outside the 30-day window: not a repeat).
        act(K::ComplaintReceived, "cus_a", "agent-1", day(-10)),
        act(K::ComplaintReceived, "cus_b", "agent-2", day(-40)),
        // agent-1's complaints: cus_a (repeat), cus_b (not), cus_c day 2 (first), cus_c day
        // 20 (repeat, 18 days after): 4 complaints, 2 repeats.
        act(K::ComplaintReceived, "cus_a", "agent-1", day(1)),
        act(K::ComplaintReceived, "cus_b", "agent-1", day(1)),
        act(K::ComplaintReceived, "cus_c", "agent-1", day(2)),
        act(K::ComplaintReceived, "cus_c", "agent-1", day(20)),
        // agent-1's clocks: first contact met ×2 and late ×1, resolution met ×1 and breached
        // ×1, callback met ×1.
        clock(K::ClockMet, "FIRST_CONTACT", "cus_a", day(1)),
        clock(K::ClockMet, "FIRST_CONTACT", "cus_b", day(1)),
        clock(K::ClockMetLate, "FIRST_CONTACT", "cus_c", day(3)),
        clock(K::ClockMet, "RESOLUTION", "cus_a", day(5)),
        clock(K::ClockBreached, "RESOLUTION", "cus_c", day(9)),
        clock(K::ClockMet, "CALLBACK", "cus_a", day(7)),
        // A customer's own contact.
        act(K::CustomerContact, "cus_a", "agent-1", day(4)),
        // agent-2: a visit and a field job for cus_d (as visits sends them), a contact for cus_e.
        act(K::VisitCompleted, "cus_d", "agent-2", day(6)),
        act(K::FieldJobCompleted, "cus_d", "agent-2", day(6)),
        act(K::ContactHandled, "cus_e", "agent-2", day(8)),
        // A complaint nobody was assigned yet: in the total only.
        act(K::ComplaintReceived, "cus_f", "", day(3)),
        // At the period's end (exclusive): not counted.
        act(K::ComplaintReceived, "cus_a", "agent-1", day(30)),
    ];
    // agent-1's contacts handled: cus_a ×3, cus_b ×2, cus_c ×3 = 8.
    for (customer, n) in [("cus_a", 3), ("cus_b", 2), ("cus_c", 3)] {
        for _ in 0..n {
            acts.push(act(K::ContactHandled, customer, "agent-1", day(1)));
        }
    }
    record_all(&mut app, &acts).await;
    create_template(&mut app).await;
    // agent-1: empathy 4 → 7: perception 7 → (7 − 1) / 6 × 100 = 100; empathy 6 → 5 and
    // reliability 7 → 6: mean perception 5.5 → 4.5 / 6 × 100 = 75. A survey before the period
    // is not counted.
    survey(&mut app, "agent-1", day(2), &[("empathy", 4, 7)]).await;
    survey(
        &mut app,
        "agent-1",
        day(12),
        &[("empathy", 6, 5), ("reliability", 7, 6)],
    )
    .await;
    survey(&mut app, "agent-1", day(-1), &[("empathy", 1, 1)]).await;
    // agent-3 has no activity, only a survey: empathy 5 → 5: 4 / 6 × 100 = 66.67.
    survey(&mut app, "agent-3", day(15), &[("empathy", 5, 5)]).await;

    let page1 = app
        .client
        .list_process_indicators(list(&[], 2, String::new()))
        .await
        .unwrap()
        .into_inner();
    let ids: Vec<&str> = page1.agents.iter().map(|a| a.agent_id.as_str()).collect();
    assert_eq!(ids, ["agent-1", "agent-2"]);
    assert!(!page1.next_page_token.is_empty());

    let a1 = &page1.agents[0];
    assert_eq!(a1.period_start, ts(day(0)));
    assert_eq!(a1.period_end, ts(day(30)));
    // 8 contacts, 4 complaints: 4 / 8 = 0.5; 2 repeats: 2 / 4 = 0.5.
    assert_eq!((a1.contacts_handled, a1.complaints), (8, 4));
    assert_eq!(a1.complaint_rate, 0.5);
    assert_eq!((a1.repeat_complaints, a1.repeat_complaint_rate), (2, 0.5));
    // 6 clocks, 4 met (2 first contact, 1 resolution, 1 callback): 4 / 6.
    assert_eq!((a1.clocks_total, a1.clocks_met), (6, 4));
    assert!(close(a1.on_time_rate, 4.0 / 6.0), "{}", a1.on_time_rate);
    // First contact 2 of 3; resolution 1 of 2.
    assert_eq!((a1.first_contact_clocks, a1.first_contact_met), (3, 2));
    assert!(close(a1.first_contact_on_time_rate, 2.0 / 3.0));
    assert_eq!((a1.resolution_clocks, a1.resolution_met), (2, 1));
    assert_eq!(a1.resolution_on_time_rate, 0.5);
    // Customers a, b, c: 3; 4 × 1000 / 3; (8 contacts + 1 customer contact + 0 visits) / 3 = 3.
    assert_eq!(a1.customers, 3);
    assert!(close(a1.complaints_per_thousand_customers, 4000.0 / 3.0));
    assert_eq!(a1.visits_completed, 0);
    assert_eq!(a1.contacts_per_customer, 3.0);
    // Surveys: (100 + 75) / 2 = 87.5, meets the standard (80-90).
    assert_eq!(a1.surveys, 2);
    assert!(
        close(a1.mean_survey_score, 87.5),
        "{}",
        a1.mean_survey_score
    );
    assert_eq!(a1.grade, pb::Grade::MeetsStandard as i32);
    // Empathy gaps +3 and −1: mean 1 over 2 answers; reliability −1 over 1.
    let gaps: Vec<(i32, f64, i64)> = a1
        .dimension_gaps
        .iter()
        .map(|g| (g.dimension, g.mean_gap, g.answers))
        .collect();
    assert_eq!(
        gaps,
        [
            (pb::Dimension::Empathy as i32, 1.0, 2),
            (pb::Dimension::Reliability as i32, -1.0, 1)
        ]
    );

    let a2 = &page1.agents[1];
    // A visit and a field job for cus_d, a contact for cus_e: 2 customers; no complaints, no
    // clocks (rate 1), no surveys; (1 + 0 + 2) / 2 = 1.5 contacts per customer.
    assert_eq!(
        (a2.contacts_handled, a2.complaints, a2.visits_completed),
        (1, 0, 2)
    );
    assert_eq!((a2.complaint_rate, a2.on_time_rate), (0.0, 1.0));
    assert_eq!(
        (a2.first_contact_on_time_rate, a2.resolution_on_time_rate),
        (1.0, 1.0)
    );
    assert_eq!((a2.customers, a2.contacts_per_customer), (2, 1.5));
    assert_eq!((a2.surveys, a2.mean_survey_score), (0, 0.0));
    assert_eq!(a2.grade, pb::Grade::Unspecified as i32);
    assert!(a2.dimension_gaps.is_empty());

    // The total: 9 contacts, 5 complaints (with cus_f's), 2 repeats, 6 clocks with 4 met,
    // customers a-f: 6; 5 × 1000 / 6; (9 + 1 + 2) / 6 = 2 contacts per customer.
    let total = page1.total.clone().unwrap();
    assert_eq!(total.agent_id, "");
    assert_eq!((total.contacts_handled, total.complaints), (9, 5));
    assert!(close(total.complaint_rate, 5.0 / 9.0));
    assert_eq!((total.repeat_complaints, total.clocks_total), (2, 6));
    assert!(close(total.repeat_complaint_rate, 0.4));
    assert_eq!(total.customers, 6);
    assert!(close(total.complaints_per_thousand_customers, 5000.0 / 6.0));
    assert_eq!(
        (total.visits_completed, total.contacts_per_customer),
        (2, 2.0)
    );
    // Surveys 100, 75, 66.67: mean 80.56, meets the standard; empathy (3 − 1 + 0) / 3.
    assert_eq!(total.surveys, 3);
    assert!(close(total.mean_survey_score, (175.0 + 400.0 / 6.0) / 3.0));
    assert_eq!(total.grade, pb::Grade::MeetsStandard as i32);
    assert_eq!(total.dimension_gaps[0].answers, 3);
    assert!(close(total.dimension_gaps[0].mean_gap, 2.0 / 3.0));

    // Page 2: agent-3, rated by a survey alone; the same total.
    let err = app
        .client
        .list_process_indicators(list(&["agent-1"], 2, page1.next_page_token.clone()))
        .await
        .unwrap_err();
    assert_eq!(fields(&err), ["page_token"]);
    let page2 = app
        .client
        .list_process_indicators(list(&[], 2, page1.next_page_token.clone()))
        .await
        .unwrap()
        .into_inner();
    let ids: Vec<&str> = page2.agents.iter().map(|a| a.agent_id.as_str()).collect();
    assert_eq!(ids, ["agent-3"]);
    assert!(page2.next_page_token.is_empty());
    assert_eq!(page2.total, page1.total);
    let a3 = &page2.agents[0];
    assert_eq!((a3.surveys, a3.customers, a3.complaints), (1, 0, 0));
    assert!(close(a3.mean_survey_score, 400.0 / 6.0));
    assert_eq!(a3.grade, pb::Grade::Fails as i32);

    // Only agent-2 (named twice): its row, and a total over it alone.
    let only = indicators(&mut app, &["agent-2", " agent-2"]).await;
    assert_eq!(only.agents.len(), 1);
    let total = only.total.unwrap();
    assert_eq!((total.customers, total.visits_completed), (2, 2));
    assert_eq!(total.complaints, 0);
}

async fn bad_requests_answer_invalid_argument_naming_the_field(backend: Backend) {
    let mut app = spawn_app(backend).await;
    let err = app
        .client
        .record_activity(pb::RecordActivityRequest { activity: None })
        .await
        .unwrap_err();
    assert_eq!(fields(&err), ["activity"]);
    let err = app
        .client
        .record_activity(pb::RecordActivityRequest {
            activity: Some(pb::Activity {
                kind: 0,
                customer_id: " ".into(),
                subject: Some(pb::Subject {
                    kind: 99,
                    id: "x".into(),
                }),
                ..Default::default()
            }),
        })
        .await
        .unwrap_err();
    assert_eq!(
        fields(&err),
        [
            "activity.kind",
            "activity.subject.kind",
            "activity.occur_time",
            "activity.customer_id",
            "activity.source_service",
            "activity.source_event_id"
        ]
    );
    let mut long = request(
        &act(pb::ActivityKind::ClockMet, "cus_a", "agent-1", day(1)),
        "e1",
    );
    if let Some(a) = long.activity.as_mut() {
        a.clock_kind = "K".repeat(101);
        a.source_event_id = "e".repeat(101);
    }
    let err = app.client.record_activity(long).await.unwrap_err();
    assert_eq!(
        fields(&err),
        ["activity.clock_kind", "activity.source_event_id"]
    );

    let bad = |f: fn(&mut pb::ListProcessIndicatorsRequest)| {
        let mut r = list(&[], 0, String::new());
        f(&mut r);
        r
    };
    let cases: [(pb::ListProcessIndicatorsRequest, &[&str]); 5] = [
        (
            bad(|r| {
                r.period_start = None;
                r.period_end = None;
            }),
            &["period_start", "period_end"],
        ),
        (bad(|r| r.period_end = ts(day(0))), &["period_end"]),
        (bad(|r| r.period_end = ts(day(367))), &["period_end"]),
        (
            bad(|r| {
                r.page_size = 501;
                r.agent_ids = vec!["agent-1".into(), " ".into()];
            }),
            &["agent_ids[1]", "page_size"],
        ),
        (bad(|r| r.page_token = "forged".into()), &["page_token"]),
    ];
    for (request, want) in cases {
        let err = app
            .client
            .list_process_indicators(request)
            .await
            .unwrap_err();
        assert_eq!(fields(&err), want);
    }
    // 366 days is allowed; nothing recorded: no agents, a total of zeros and full rates.
    let empty = app
        .client
        .list_process_indicators(bad(|r| r.period_end = ts(day(366))))
        .await
        .unwrap()
        .into_inner();
    assert!(empty.agents.is_empty());
    let total = empty.total.unwrap();
    assert_eq!((total.complaints, total.on_time_rate), (0, 1.0));
}

csops_testkit::on_both_backends!(
    an_activity_is_recorded_once_per_sender_event,
    process_indicators_are_computed_per_agent_and_in_total_as_by_hand,
    bad_requests_answer_invalid_argument_naming_the_field,
);
