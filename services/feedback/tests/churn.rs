//! Churn as a client sees it, on SQLite and on a real PostgreSQL: the feedback service pointed at
//! a real customers service (both in-process, each on a fresh database). The detector's signals
//! (silence, unanswered surveys), their delivery to the customers service, their life
//! (acknowledge, resolve), the listing, and lost customers counted by reason. Days are counted
//! by hand in the comments; time passes by running the sweep with a later `now`.
#![allow(clippy::unwrap_used, unreachable_pub)]

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use csops_feedback::app::Feedback;
use csops_feedback::{App, Config};
use csops_observability::Metrics;
use csops_proto::customers::v1 as cpb;
use csops_proto::customers::v1::customers_service_client::CustomersServiceClient;
use csops_proto::feedback::v1 as pb;
use csops_proto::feedback::v1::feedback_service_client::FeedbackServiceClient;
use csops_runtime::Settings;
use csops_testkit::server::Running;
use csops_testkit::Backend;
use prost_types::Timestamp;
use tonic::transport::Channel;
use tonic::Code;
use tonic_types::StatusExt;

/// The feedback service with the customers service it walks.
struct Env {
    feedback: FeedbackServiceClient<Channel>,
    customers: CustomersServiceClient<Channel>,
    core: Arc<Feedback>,
    _feedback_server: Running,
    _customers_server: Running,
    _dir: tempfile::TempDir,
}

/// Both services on `backend`; the feedback sweep runs every `sweep_interval` (the tests' 200 ms,
/// or an hour when a test drives every pass itself).
async fn spawn(backend: Backend, sweep_interval: Duration) -> Env {
    let dir = tempfile::tempdir().unwrap();
    let customers_db = backend.database_url(dir.path(), "customers").await;
    let customers_app =
        csops_customers::App::build(&Settings::for_tests(&customers_db), Metrics::new())
            .await
            .unwrap();
    let customers_server = Running::spawn(customers_app.local_addr(), |stop| async move {
        customers_app.run_until_stopped(stop).await.unwrap();
    });
    let customers_url = format!("http://{}", customers_server.addr);
    let db = backend.database_url(dir.path(), "feedback").await;
    let app = App::build(
        &Settings::for_tests(&db),
        Config {
            customers_url: customers_url.clone(),
            sweep_interval,
            ..Config::for_tests("")
        },
        Metrics::new(),
    )
    .await
    .unwrap();
    let core = app.core();
    let feedback_server = Running::spawn(app.local_addr(), |stop| async move {
        app.run_until_stopped(stop).await.unwrap();
    });
    Env {
        feedback: FeedbackServiceClient::connect(format!("http://{}", feedback_server.addr))
            .await
            .unwrap(),
        customers: CustomersServiceClient::connect(customers_url)
            .await
            .unwrap(),
        core,
        _feedback_server: feedback_server,
        _customers_server: customers_server,
        _dir: dir,
    }
}

const FAST: Duration = Duration::from_millis(200);
const DRIVEN: Duration = Duration::from_secs(3600);

fn ts(t: DateTime<Utc>) -> Option<Timestamp> {
    Some(Timestamp {
        seconds: t.timestamp(),
        nanos: 0,
    })
}

/// The instant a request carries for `t`: whole seconds.
fn whole(t: DateTime<Utc>) -> DateTime<Utc> {
    DateTime::from_timestamp(t.timestamp(), 0).unwrap()
}

fn time_of(t: &Option<Timestamp>) -> DateTime<Utc> {
    let t = t.as_ref().unwrap();
    DateTime::from_timestamp(t.seconds, u32::try_from(t.nanos).unwrap()).unwrap()
}

fn agent(id: &str) -> Option<pb::Actor> {
    Some(pb::Actor {
        id: id.into(),
        role: pb::ActorRole::Agent as i32,
    })
}

fn fields(status: &tonic::Status) -> Vec<String> {
    assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
    status
        .get_details_bad_request()
        .expect("BadRequest details")
        .field_violations
        .into_iter()
        .map(|v| v.field)
        .collect()
}

/// Polls `check` until it gives a value, for at most 30 s.
async fn eventually<T, F, Fut>(what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(found) = check().await {
            return found;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A customer of `tier` who agreed to phone calls; returns the id.
async fn customer(env: &mut Env, tier: cpb::CustomerTier, key_account: bool) -> String {
    env.customers
        .create_customer(cpb::CreateCustomerRequest {
            customer: Some(cpb::Customer {
                display_name: "Han Meimei".into(),
                tier: tier as i32,
                key_account,
                region: cpb::Region::Urban as i32,
                consents: vec![cpb::ChannelConsent {
                    channel: cpb::ContactChannel::PhoneCall as i32,
                    granted: true,
                    update_time: None,
                }],
                ..Default::default()
            }),
            request_id: uuid::Uuid::new_v4().to_string(),
            actor_id: "agent-7".into(),
        })
        .await
        .unwrap()
        .into_inner()
        .customer
        .unwrap()
        .id
}

/// A contact from the customer at `at`, as another service reports it.
async fn contact(env: &mut Env, customer_id: &str, at: DateTime<Utc>) {
    env.feedback
        .record_activity(pb::RecordActivityRequest {
            activity: Some(pb::Activity {
                kind: pb::ActivityKind::CustomerContact as i32,
                customer_id: customer_id.into(),
                occur_time: ts(at),
                source_service: "complaints".into(),
                source_event_id: uuid::Uuid::new_v4().to_string(),
                ..Default::default()
            }),
        })
        .await
        .unwrap();
}

fn list(customer_id: &str) -> pb::ListChurnRiskSignalsRequest {
    pb::ListChurnRiskSignalsRequest {
        customer_id: customer_id.into(),
        ..Default::default()
    }
}

async fn signals(
    env: &mut Env,
    request: pb::ListChurnRiskSignalsRequest,
) -> Vec<pb::ChurnRiskSignal> {
    env.feedback
        .list_churn_risk_signals(request)
        .await
        .unwrap()
        .into_inner()
        .signals
}

async fn customer_file(env: &mut Env, id: &str) -> cpb::Customer {
    env.customers
        .get_customer(cpb::GetCustomerRequest {
            customer_id: id.into(),
        })
        .await
        .unwrap()
        .into_inner()
        .customer
        .unwrap()
}

/// A customer's first signal, once the background sweep raised it and the customers service
/// accepted it (DELIVERED: from then on the signal changes only when someone handles it).
async fn raised(env: &Env, customer_id: &str) -> pb::ChurnRiskSignal {
    let feedback = env.feedback.clone();
    eventually("a delivered signal", || {
        let mut feedback = feedback.clone();
        let request = list(customer_id);
        async move {
            let found = feedback
                .list_churn_risk_signals(request)
                .await
                .unwrap()
                .into_inner()
                .signals;
            found
                .into_iter()
                .next()
                .filter(|s| s.customers_delivery == pb::DeliveryState::Delivered as i32)
        }
    })
    .await
}

/// `t` at the microsecond precision the service keeps.
fn micros(t: DateTime<Utc>) -> DateTime<Utc> {
    DateTime::from_timestamp_micros(t.timestamp_micros()).unwrap()
}

async fn a_silent_customer_gets_one_silence_signal_that_reaches_the_customers_service(
    backend: Backend,
) {
    let mut env = spawn(backend, FAST).await;
    let now = Utc::now();
    // Tier A expects a contact every 7 days; the last one was 40 days ago: past 4 × 7 = 28,
    // high.
    let silent = customer(&mut env, cpb::CustomerTier::A, false).await;
    contact(&mut env, &silent, now - TimeDelta::days(40)).await;
    // Contacted yesterday: quiet.
    let quiet = customer(&mut env, cpb::CustomerTier::A, false).await;
    contact(&mut env, &quiet, now - TimeDelta::days(1)).await;
    // As silent, but recorded lost: no longer a risk. The loss is recorded before the old
    // contact: the background sweep may pass between the two, and must never see this
    // customer silent and not lost.
    let lost = customer(&mut env, cpb::CustomerTier::A, false).await;
    env.feedback
        .record_customer_loss(pb::RecordCustomerLossRequest {
            loss: Some(pb::CustomerLoss {
                customer_id: lost.clone(),
                reason: pb::LossReason::MovedAway as i32,
                ..Default::default()
            }),
            request_id: "loss-1".into(),
            actor: agent("agent-3"),
        })
        .await
        .unwrap();
    contact(&mut env, &lost, now - TimeDelta::days(40)).await;

    let signal = raised(&env, &silent).await;
    assert_eq!(signal.kind, pb::ChurnSignalKind::Silence as i32);
    assert_eq!(signal.level, pb::RiskLevel::High as i32);
    assert_eq!(signal.state, pb::ChurnSignalState::Open as i32);
    assert_eq!(
        signal.evidence,
        "no contact for 40 days; tier A expects one every 7 days"
    );
    let anchor = whole(now - TimeDelta::days(40));
    // The key: kind, level, the episode's start (the last contact) in µs, the customer's hash.
    assert!(
        signal
            .id
            .starts_with(&format!("chs_silence_high_{}_", anchor.timestamp_micros())),
        "{}",
        signal.id
    );
    let quiet_for = signal.silence.as_ref().unwrap().seconds;
    let detected = time_of(&signal.detect_time);
    assert_eq!(quiet_for, (detected - anchor).num_seconds());
    assert!(quiet_for >= 40 * 86_400, "{quiet_for}");
    assert_eq!(signal.action_note, "");
    assert_eq!(signal.handled_by, None);

    // The customers service recorded it once, by the signal's id (DELIVERED here).
    let id = signal.id.clone();
    let file = customer_file(&mut env, &silent).await;
    let risk = file.churn_risk.unwrap();
    assert_eq!(risk.level, cpb::ChurnRiskLevel::High as i32);
    assert_eq!(risk.recent_signals.len(), 1);
    let recorded = &risk.recent_signals[0];
    assert_eq!(recorded.signal_id, id);
    assert_eq!(recorded.kind, cpb::ChurnSignalKind::Silence as i32);
    assert_eq!(recorded.level, cpb::ChurnRiskLevel::High as i32);
    assert_eq!(recorded.source, "feedback");
    assert_eq!(recorded.evidence, signal.evidence);

    // More passes raise nothing new: the same episode at the same level has the same key.
    for _ in 0..3 {
        assert_eq!(env.core.sweep_churn(Utc::now()).await.unwrap(), 0);
    }
    assert_eq!(signals(&mut env, list(&silent)).await.len(), 1);
    let file = customer_file(&mut env, &silent).await;
    assert_eq!(file.churn_risk.unwrap().recent_signals.len(), 1);
    // The quiet customer and the lost one were swept too, and raised nothing.
    assert!(signals(&mut env, list(&quiet)).await.is_empty());
    assert!(signals(&mut env, list(&lost)).await.is_empty());
    let all = signals(&mut env, pb::ListChurnRiskSignalsRequest::default()).await;
    assert_eq!(all.len(), 1);
}

fn template_request() -> pb::CreateSurveyTemplateRequest {
    pb::CreateSurveyTemplateRequest {
        template: Some(pb::SurveyTemplate {
            id: "after-visit".into(),
            title: "After the visit".into(),
            items: vec![pb::SurveyItem {
                item_id: "csat".into(),
                kind: pb::ItemKind::Csat as i32,
                prompt: "How satisfied are you?".into(),
                dimension: pb::Dimension::Unspecified as i32,
                required: true,
            }],
            ..Default::default()
        }),
        request_id: "tpl-1".into(),
        actor: agent("agent-1"),
    }
}

async fn send_survey(env: &mut Env, customer_id: &str, n: u32) -> pb::Survey {
    env.feedback
        .send_survey(pb::SendSurveyRequest {
            survey: Some(pb::Survey {
                customer_id: customer_id.into(),
                subject: Some(pb::Subject {
                    kind: pb::SubjectKind::Visit as i32,
                    id: format!("vst_{n}"),
                }),
                agent_id: "agent-7".into(),
                channel: pb::SurveyChannel::Phone as i32,
                template_id: "after-visit".into(),
                ..Default::default()
            }),
            request_id: format!("send-{customer_id}-{n}"),
            actor: agent("agent-1"),
        })
        .await
        .unwrap()
        .into_inner()
        .survey
        .unwrap()
}

async fn a_customer_whose_last_three_surveys_went_unanswered_stopped_answering(backend: Backend) {
    let mut env = spawn(backend, FAST).await;
    let id = customer(&mut env, cpb::CustomerTier::B, false).await;
    env.feedback
        .create_survey_template(template_request())
        .await
        .unwrap();
    // The first survey is answered; the three sent after it are not.
    let first = send_survey(&mut env, &id, 1).await;
    let answered = env
        .feedback
        .answer_survey(pb::AnswerSurveyRequest {
            survey_id: first.id.clone(),
            answers: vec![pb::Answer {
                item_id: "csat".into(),
                score: 4,
                ..Default::default()
            }],
            answer_time: None,
            actor: agent("agent-1"),
            etag: String::new(),
        })
        .await
        .unwrap()
        .into_inner()
        .survey
        .unwrap();
    let answer_time = time_of(&answered.answer_time);
    let mut unanswered = Vec::new();
    for n in 2..=4 {
        unanswered.push(send_survey(&mut env, &id, n).await);
    }
    let days: Vec<String> = unanswered
        .iter()
        .map(|s| time_of(&s.send_time).format("%Y-%m-%d").to_string())
        .collect();
    let unanswered: Vec<String> = unanswered.into_iter().map(|s| s.id).collect();
    // Today the three are inside their 7-day answer window: not unanswered yet.
    let now = Utc::now();
    assert_eq!(env.core.sweep_churn(now).await.unwrap(), 0);
    assert!(signals(&mut env, list(&id)).await.is_empty());
    // Eight days on they are. (The answer 8 days before is within tier B's monthly rhythm: no
    // silence.)
    let later = now + TimeDelta::days(8);
    assert_eq!(env.core.sweep_churn(later).await.unwrap(), 1);
    let found = signals(&mut env, list(&id)).await;
    assert_eq!(found.len(), 1);
    let s = &found[0];
    assert_eq!(s.kind, pb::ChurnSignalKind::StoppedAnswering as i32);
    // The rule's level: medium.
    assert_eq!(s.level, pb::RiskLevel::Medium as i32);
    assert_eq!(s.evidence_ids, unanswered);
    assert_eq!(
        s.evidence,
        format!(
            "the last 3 surveys sent ({}) went unanswered; the last answer was on {}",
            days.join(", "),
            answer_time.format("%Y-%m-%d")
        )
    );
    // The episode starts at the last answer.
    assert!(
        s.id.starts_with(&format!(
            "chs_stopped_answering_medium_{}_",
            answer_time.timestamp_micros()
        )),
        "{}",
        s.id
    );
    assert_eq!(time_of(&s.detect_time), micros(later));
    assert_eq!(env.core.sweep_churn(later).await.unwrap(), 0);

    // The customers service has no such kind: it records OTHER, saying what it was.
    let customers = env.customers.clone();
    let recorded = eventually("the signal in the customer file", || {
        let mut customers = customers.clone();
        let id = id.clone();
        async move {
            let file = customers
                .get_customer(cpb::GetCustomerRequest { customer_id: id })
                .await
                .unwrap()
                .into_inner()
                .customer
                .unwrap();
            file.churn_risk
                .and_then(|r| r.recent_signals.into_iter().next())
        }
    })
    .await;
    assert_eq!(recorded.signal_id, s.id);
    assert_eq!(recorded.kind, cpb::ChurnSignalKind::Other as i32);
    assert_eq!(recorded.level, cpb::ChurnRiskLevel::Medium as i32);
    assert_eq!(
        recorded.evidence,
        format!("stopped answering surveys: {}", s.evidence)
    );
}

fn handle(signal_id: &str, note: &str, who: &str) -> pb::AcknowledgeChurnRiskSignalRequest {
    pb::AcknowledgeChurnRiskSignalRequest {
        signal_id: signal_id.into(),
        action_note: note.into(),
        actor: agent(who),
    }
}

fn resolve(signal_id: &str, note: &str, who: &str) -> pb::ResolveChurnRiskSignalRequest {
    pb::ResolveChurnRiskSignalRequest {
        signal_id: signal_id.into(),
        action_note: note.into(),
        actor: agent(who),
    }
}

async fn acknowledge_and_resolve_move_a_signal_and_refuse_what_its_state_does_not_allow(
    backend: Backend,
) {
    let mut env = spawn(backend, FAST).await;
    let id = customer(&mut env, cpb::CustomerTier::A, true).await;
    contact(&mut env, &id, Utc::now() - TimeDelta::days(40)).await;
    let signal = raised(&env, &id).await;
    // A key account: already high, stays high.
    assert_eq!(signal.level, pb::RiskLevel::High as i32);
    assert!(signal.evidence.ends_with("; key account: one level higher"));

    let acked = env
        .feedback
        .acknowledge_churn_risk_signal(handle(&signal.id, " visit in person this week ", "agent-3"))
        .await
        .unwrap()
        .into_inner()
        .signal
        .unwrap();
    assert_eq!(acked.state, pb::ChurnSignalState::Acknowledged as i32);
    assert_eq!(acked.action_note, "visit in person this week");
    assert_eq!(acked.handled_by, agent("agent-3"));
    assert!(acked.handle_time.is_some());
    // The same acknowledge again (a retry) changes nothing.
    let again = env
        .feedback
        .acknowledge_churn_risk_signal(handle(&signal.id, "visit in person this week", "agent-3"))
        .await
        .unwrap()
        .into_inner()
        .signal
        .unwrap();
    assert_eq!(again, acked);
    // Another acknowledge of an acknowledged signal is refused.
    let err = env
        .feedback
        .acknowledge_churn_risk_signal(handle(&signal.id, "call tomorrow", "agent-4"))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::FailedPrecondition, "{err:?}");
    assert!(
        err.message().contains("already acknowledged by agent-3"),
        "{}",
        err.message()
    );

    let resolved = env
        .feedback
        .resolve_churn_risk_signal(resolve(&signal.id, "visited; staying with us", "agent-3"))
        .await
        .unwrap()
        .into_inner()
        .signal
        .unwrap();
    assert_eq!(resolved.state, pb::ChurnSignalState::Resolved as i32);
    assert_eq!(resolved.action_note, "visited; staying with us");
    assert!(time_of(&resolved.handle_time) >= time_of(&acked.handle_time));
    // Nothing moves a resolved signal, but the same resolve again is harmless.
    let err = env
        .feedback
        .acknowledge_churn_risk_signal(handle(&signal.id, "visit", "agent-3"))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::FailedPrecondition, "{err:?}");
    let err = env
        .feedback
        .resolve_churn_risk_signal(resolve(&signal.id, "false alarm", "agent-4"))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::FailedPrecondition, "{err:?}");
    let same = env
        .feedback
        .resolve_churn_risk_signal(resolve(&signal.id, "visited; staying with us", "agent-3"))
        .await
        .unwrap()
        .into_inner()
        .signal
        .unwrap();
    assert_eq!(same, resolved);
    // An open signal may be resolved at once (found false); here a second customer's.
    let other = customer(&mut env, cpb::CustomerTier::A, false).await;
    contact(&mut env, &other, Utc::now() - TimeDelta::days(40)).await;
    let other_signal = raised(&env, &other).await;
    let closed = env
        .feedback
        .resolve_churn_risk_signal(resolve(&other_signal.id, "on holiday, told us", "agent-5"))
        .await
        .unwrap()
        .into_inner()
        .signal
        .unwrap();
    assert_eq!(closed.state, pb::ChurnSignalState::Resolved as i32);

    // The resolved episode is not raised again, and the default listing leaves it out.
    assert_eq!(env.core.sweep_churn(Utc::now()).await.unwrap(), 0);
    assert!(signals(&mut env, list(&id)).await.is_empty());
    let resolved_only = signals(
        &mut env,
        pb::ListChurnRiskSignalsRequest {
            customer_id: id.clone(),
            states: vec![pb::ChurnSignalState::Resolved as i32],
            ..Default::default()
        },
    )
    .await;
    assert_eq!(resolved_only, [resolved]);

    let err = env
        .feedback
        .acknowledge_churn_risk_signal(handle("chs_none", "visit", "agent-3"))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound, "{err:?}");
    let err = env
        .feedback
        .resolve_churn_risk_signal(resolve("chs_none", "done", "agent-3"))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound, "{err:?}");
    let err = env
        .feedback
        .acknowledge_churn_risk_signal(pb::AcknowledgeChurnRiskSignalRequest {
            signal_id: " ".into(),
            action_note: " ".into(),
            actor: None,
        })
        .await
        .unwrap_err();
    assert_eq!(fields(&err), ["signal_id", "action_note", "actor"]);
    let err = env
        .feedback
        .resolve_churn_risk_signal(pb::ResolveChurnRiskSignalRequest {
            signal_id: "x".repeat(101),
            action_note: "y".repeat(1001),
            actor: agent("agent-3"),
        })
        .await
        .unwrap_err();
    assert_eq!(fields(&err), ["signal_id", "action_note"]);
}

async fn the_listing_filters_and_pages_newest_first(backend: Backend) {
    // The sweep is driven here: every signal comes from a pass at a chosen time.
    let mut env = spawn(backend, DRIVEN).await;
    let t0 = Utc::now();
    // Tier A: low past 14 days of silence, medium past 21, high past 28. X was last in contact
    // 10 days ago, Y 5 days ago: quiet today.
    let x = customer(&mut env, cpb::CustomerTier::A, false).await;
    contact(&mut env, &x, t0 - TimeDelta::days(10)).await;
    let y = customer(&mut env, cpb::CustomerTier::A, false).await;
    contact(&mut env, &y, t0 - TimeDelta::days(5)).await;
    assert_eq!(env.core.sweep_churn(t0).await.unwrap(), 0);
    // +5 d: X 15 days, low. +10 d: Y 15 days, low (X still low: the same signal). +12 d: X 22
    // days, medium. +17 d: Y 22 days, medium. +19 d: X 29 days, high (Y 24 days: medium still).
    for (days, who) in [(5, &x), (10, &y), (12, &x), (17, &y), (19, &x)] {
        let raised = env
            .core
            .sweep_churn(t0 + TimeDelta::days(days))
            .await
            .unwrap();
        assert_eq!(raised, 1, "pass at +{days} days for {who}");
    }
    let level = |s: &pb::ChurnRiskSignal| (s.customer_id.clone(), s.level);
    let (low, medium, high) = (
        pb::RiskLevel::Low as i32,
        pb::RiskLevel::Medium as i32,
        pb::RiskLevel::High as i32,
    );
    let all = signals(&mut env, pb::ListChurnRiskSignalsRequest::default()).await;
    assert_eq!(
        all.iter().map(level).collect::<Vec<_>>(),
        [
            (x.clone(), high),
            (y.clone(), medium),
            (x.clone(), medium),
            (y.clone(), low),
            (x.clone(), low),
        ]
    );
    assert_eq!(
        time_of(&all[0].detect_time),
        micros(t0 + TimeDelta::days(19))
    );

    // Pages of two, newest first; the last page has no token.
    let mut seen = Vec::new();
    let mut token = String::new();
    let mut pages = 0;
    loop {
        let page = env
            .feedback
            .list_churn_risk_signals(pb::ListChurnRiskSignalsRequest {
                page_size: 2,
                page_token: token.clone(),
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner();
        pages += 1;
        assert!(page.signals.len() <= 2);
        seen.extend(page.signals);
        token = page.next_page_token;
        if token.is_empty() {
            break;
        }
    }

    let ids = |found: Vec<pb::ChurnRiskSignal>| found.into_iter().map(|s| s.id).collect::<Vec<_>>();
    // (Compared by id: deliveries go on meanwhile.)
    assert_eq!((pages, ids(seen)), (3, ids(all.clone())));
    let of_y = signals(&mut env, list(&y)).await;
    assert_eq!(ids(of_y), [all[1].id.clone(), all[3].id.clone()]);
    let at_least = |l: pb::RiskLevel| pb::ListChurnRiskSignalsRequest {
        min_level: l as i32,
        ..Default::default()
    };
    let medium_up = signals(&mut env, at_least(pb::RiskLevel::Medium)).await;
    assert_eq!(ids(medium_up), ids(all[..3].to_vec()));
    let high_only = signals(&mut env, at_least(pb::RiskLevel::High)).await;
    assert_eq!(ids(high_only), [all[0].id.clone()]);
    let of_kind = |k: pb::ChurnSignalKind| pb::ListChurnRiskSignalsRequest {
        kinds: vec![k as i32],
        ..Default::default()
    };
    assert_eq!(
        signals(&mut env, of_kind(pb::ChurnSignalKind::Silence))
            .await
            .len(),
        5
    );
    assert!(
        signals(&mut env, of_kind(pb::ChurnSignalKind::StoppedAnswering))
            .await
            .is_empty()
    );

    // Resolved signals leave the default listing; asked for by state they come back.
    env.feedback
        .resolve_churn_risk_signal(resolve(&all[4].id, "called; fine", "agent-3"))
        .await
        .unwrap();
    assert_eq!(
        ids(signals(&mut env, pb::ListChurnRiskSignalsRequest::default()).await),
        ids(all[..4].to_vec())
    );
    let in_states = |states: &[pb::ChurnSignalState]| pb::ListChurnRiskSignalsRequest {
        states: states.iter().map(|s| *s as i32).collect(),
        ..Default::default()
    };
    assert_eq!(
        ids(signals(&mut env, in_states(&[pb::ChurnSignalState::Resolved])).await),
        [all[4].id.clone()]
    );
    assert_eq!(
        signals(
            &mut env,
            in_states(&[pb::ChurnSignalState::Open, pb::ChurnSignalState::Resolved])
        )
        .await
        .len(),
        5
    );

    // A token is valid only with the filters it was issued for.
    let first = env
        .feedback
        .list_churn_risk_signals(pb::ListChurnRiskSignalsRequest {
            page_size: 1,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let err = env
        .feedback
        .list_churn_risk_signals(pb::ListChurnRiskSignalsRequest {
            page_size: 1,
            page_token: first.next_page_token,
            customer_id: x.clone(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(fields(&err), ["page_token"]);
    let err = env
        .feedback
        .list_churn_risk_signals(pb::ListChurnRiskSignalsRequest {
            page_size: -1,
            states: vec![0],
            kinds: vec![pb::ChurnSignalKind::Silence as i32, 99],
            min_level: 9,
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(
        fields(&err),
        ["page_size", "states[0]", "kinds[1]", "min_level"]
    );
}

fn loss(
    customer_id: &str,
    reason: pb::LossReason,
    note: &str,
    at: DateTime<Utc>,
) -> pb::CustomerLoss {
    pb::CustomerLoss {
        customer_id: customer_id.into(),
        reason: reason as i32,
        note: note.into(),
        loss_time: ts(at),
        ..Default::default()
    }
}

fn record(request_id: &str, loss: pb::CustomerLoss) -> pb::RecordCustomerLossRequest {
    pb::RecordCustomerLossRequest {
        loss: Some(loss),
        request_id: request_id.into(),
        actor: agent("mgr-1"),
    }
}

async fn count(
    env: &mut Env,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
) -> (Vec<(i32, i64, f64)>, i64) {
    let r = env
        .feedback
        .count_customer_losses(pb::CountCustomerLossesRequest {
            period_start: ts(start),
            period_end: ts(end),
        })
        .await
        .unwrap()
        .into_inner();
    (
        r.counts
            .into_iter()
            .map(|c| (c.reason, c.count, c.share))
            .collect(),
        r.total,
    )
}

async fn losses_are_recorded_once_and_counted_by_reason_with_their_share(backend: Backend) {
    let mut env = spawn(backend, FAST).await;
    let now = Utc::now();
    use pb::LossReason as R;
    let first = env
        .feedback
        .record_customer_loss(record(
            "l1",
            loss(
                "cus_1",
                R::StaffIndifference,
                " nobody called back ",
                now - TimeDelta::days(10),
            ),
        ))
        .await
        .unwrap()
        .into_inner()
        .loss
        .unwrap();
    assert_eq!(first.customer_id, "cus_1");
    assert_eq!(first.note, "nobody called back");
    assert_eq!(time_of(&first.loss_time), whole(now - TimeDelta::days(10)));
    assert_eq!(first.recorded_by, agent("mgr-1"));
    assert!(first.create_time.is_some());
    for (request_id, l) in [
        (
            "l2",
            loss("cus_2", R::StaffIndifference, "", now - TimeDelta::days(3)),
        ),
        (
            "l3",
            loss(
                "cus_3",
                R::CompetitionPrice,
                "cheaper elsewhere",
                now - TimeDelta::days(2),
            ),
        ),
        (
            "l4",
            loss("cus_4", R::MovedAway, "", now - TimeDelta::days(1)),
        ),
        (
            "l5",
            loss(
                "cus_5",
                R::Other,
                "closed the shop",
                now - TimeDelta::days(40),
            ),
        ),
    ] {
        env.feedback
            .record_customer_loss(record(request_id, l))
            .await
            .unwrap();
    }
    // A retry answers the first record and records nothing.
    let again = env
        .feedback
        .record_customer_loss(record(
            "l1",
            loss(
                "cus_1",
                R::StaffIndifference,
                " nobody called back ",
                now - TimeDelta::days(10),
            ),
        ))
        .await
        .unwrap()
        .into_inner()
        .loss
        .unwrap();
    assert_eq!(again, first);
    // A second loss of the same customer, or the same key for another request: ALREADY_EXISTS.
    let err = env
        .feedback
        .record_customer_loss(record("l6", loss("cus_1", R::MovedAway, "", now)))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::AlreadyExists, "{err:?}");
    let err = env
        .feedback
        .record_customer_loss(record("l1", loss("cus_9", R::MovedAway, "", now)))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::AlreadyExists, "{err:?}");

    // The last 30 days: 4 losses (cus_5 left 40 days ago). Staff indifference 2 / 4 = 50 %;
    // competition 1 / 4 = 25 % and a move 1 / 4 = 25 % (a tie: in the seeds' order).
    let (counts, total) = count(
        &mut env,
        now - TimeDelta::days(30),
        now + TimeDelta::hours(1),
    )
    .await;
    assert_eq!(total, 4);
    assert_eq!(
        counts,
        [
            (R::StaffIndifference as i32, 2, 50.0),
            (R::CompetitionPrice as i32, 1, 25.0),
            (R::MovedAway as i32, 1, 25.0),
        ]
    );
    // By loss time, the start inclusive and the end exclusive: [−40 d, −3 d) holds cus_5 (at
    // the start) and cus_1 (−10 d), not cus_2 (at the end).
    let (counts, total) = count(
        &mut env,
        whole(now - TimeDelta::days(40)),
        whole(now - TimeDelta::days(3)),
    )
    .await;
    // cus_5 (other) and cus_1 (staff): 1 / 2 = 50 % each, staff first in the seeds' order.
    assert_eq!(total, 2);
    assert_eq!(
        counts,
        [
            (R::StaffIndifference as i32, 1, 50.0),
            (R::Other as i32, 1, 50.0),
        ]
    );
    let (counts, total) = count(&mut env, now + TimeDelta::days(1), now + TimeDelta::days(2)).await;
    assert_eq!((counts, total), (vec![], 0));

    // Bad input names every field at once.
    let err = env
        .feedback
        .record_customer_loss(pb::RecordCustomerLossRequest {
            loss: Some(loss(" ", R::Unspecified, "", now + TimeDelta::hours(1))),
            request_id: String::new(),
            actor: None,
        })
        .await
        .unwrap_err();
    assert_eq!(
        fields(&err),
        [
            "request_id",
            "actor",
            "loss.customer_id",
            "loss.reason",
            "loss.loss_time"
        ]
    );
    let err = env
        .feedback
        .record_customer_loss(record("l7", loss("cus_7", R::Other, " ", now)))
        .await
        .unwrap_err();
    assert_eq!(fields(&err), ["loss.note"]);
    let err = env
        .feedback
        .record_customer_loss(record(
            "l8",
            loss("cus_8", R::Other, &"x".repeat(1001), now),
        ))
        .await
        .unwrap_err();
    assert_eq!(fields(&err), ["loss.note"]);
    let err = env
        .feedback
        .record_customer_loss(pb::RecordCustomerLossRequest {
            loss: None,
            request_id: "l9".into(),
            actor: agent("mgr-1"),
        })
        .await
        .unwrap_err();
    assert_eq!(fields(&err), ["loss"]);
    let err = env
        .feedback
        .count_customer_losses(pb::CountCustomerLossesRequest::default())
        .await
        .unwrap_err();
    assert_eq!(fields(&err), ["period_start", "period_end"]);
    let err = env
        .feedback
        .count_customer_losses(pb::CountCustomerLossesRequest {
            period_start: ts(now),
            period_end: ts(now),
        })
        .await
        .unwrap_err();
    assert_eq!(fields(&err), ["period_end"]);
}

async fn without_a_customers_service_the_detector_does_nothing(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let db = backend.database_url(dir.path(), "feedback").await;
    let app = App::build(
        &Settings::for_tests(&db),
        Config {
            customers_url: String::new(),
            ..Config::for_tests("")
        },
        Metrics::new(),
    )
    .await
    .unwrap();
    let core = app.core();
    assert_eq!(core.sweep_churn(Utc::now()).await.unwrap(), 0);
}

csops_testkit::on_both_backends!(
    a_silent_customer_gets_one_silence_signal_that_reaches_the_customers_service,
    a_customer_whose_last_three_surveys_went_unanswered_stopped_answering,
    acknowledge_and_resolve_move_a_signal_and_refuse_what_its_state_does_not_allow,
    the_listing_filters_and_pages_newest_first,
    losses_are_recorded_once_and_counted_by_reason_with_their_share,
    without_a_customers_service_the_detector_does_nothing,
);
