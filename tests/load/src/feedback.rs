//! The feedback service under load (issue 12): GetFeedbackScores over a period of a million
//! surveys, timed call by call for three request shapes (the total, by team, a filtered one
//! by agent), and CreateSurvey ingestion as a closed loop against the bare echo.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use csops_load::harness::{self, CallCtx, CallFuture, Scenario};
use csops_load::{Channels, Mode, RunConfig, Weighted};
use csops_proto::feedback::v1 as pb;
use csops_proto::feedback::v1::feedback_service_client::FeedbackServiceClient;
use prost_types::Timestamp;
use serde_json::json;

/// Teams the filtered shape asks for (the bench data has 24: `team-00` … `team-23`).
pub(crate) const FILTER_TEAMS: [&str; 2] = ["team-03", "team-11"];
/// Tiers the filtered shape asks for.
pub(crate) const FILTER_TIERS: [&str; 1] = ["A"];
/// Channels the filtered shape asks for.
const FILTER_CHANNELS: [pb::SurveyChannel; 2] = [pb::SurveyChannel::Phone, pb::SurveyChannel::Sms];

fn timestamp(micros: i64) -> Option<Timestamp> {
    Some(Timestamp {
        seconds: micros.div_euclid(1_000_000),
        nanos: i32::try_from(micros.rem_euclid(1_000_000) * 1000).unwrap_or(0),
    })
}

/// The request shapes timed: (name, request).
fn shapes(start_micros: i64, end_micros: i64) -> Vec<(&'static str, pb::GetFeedbackScoresRequest)> {
    let period = pb::GetFeedbackScoresRequest {
        period_start: timestamp(start_micros),
        period_end: timestamp(end_micros),
        ..Default::default()
    };
    vec![
        ("total", period.clone()),
        (
            "by_team",
            pb::GetFeedbackScoresRequest {
                group_by: pb::GroupBy::Team as i32,
                ..period.clone()
            },
        ),
        (
            "filtered_by_agent",
            pb::GetFeedbackScoresRequest {
                group_by: pb::GroupBy::Agent as i32,
                team_ids: FILTER_TEAMS.iter().map(|s| (*s).to_owned()).collect(),
                customer_tiers: FILTER_TIERS.iter().map(|s| (*s).to_owned()).collect(),
                channels: FILTER_CHANNELS.iter().map(|c| *c as i32).collect(),
                ..period
            },
        ),
    ]
}

fn ms(d: Duration) -> f64 {
    (d.as_secs_f64() * 1e6).round() / 1e3
}

/// Median, min and max of some durations, in ms.
fn spread(times: &[Duration]) -> serde_json::Value {
    let mut sorted = times.to_vec();
    sorted.sort();
    let median = match sorted.len() {
        0 => Duration::ZERO,
        n if n % 2 == 1 => sorted[n / 2],
        n => (sorted[n / 2 - 1] + sorted[n / 2]) / 2,
    };
    json!({
        "median_ms": ms(median),
        "min_ms": sorted.first().map_or(0.0, |d| ms(*d)),
        "max_ms": sorted.last().map_or(0.0, |d| ms(*d)),
        "runs_ms": times.iter().map(|d| ms(*d)).collect::<Vec<_>>(),
    })
}

/// Calls GetFeedbackScores `runs` times per shape, one call at a time on one connection,
/// after `warmup_calls` unmeasured calls per shape: enough that every connection of the
/// service's pool has run the statement more than five times, past which PostgreSQL may
/// switch a prepared statement to a generic plan (the steady state of a running service,
/// not its first calls). Prints each shape's times and what its answer counted.
pub(crate) async fn scores(
    url: &str,
    start_micros: i64,
    end_micros: i64,
    runs: usize,
    warmup_calls: usize,
) -> anyhow::Result<serde_json::Value> {
    let channels = Channels::connect(url, 1).await?;
    let client = FeedbackServiceClient::new(channels.get(0));
    let mut out = serde_json::Map::new();
    for (name, request) in shapes(start_micros, end_micros) {
        let call = || {
            let mut r = tonic::Request::new(request.clone());
            r.set_timeout(Duration::from_secs(120));
            let mut client = client.clone();
            async move {
                client
                    .get_feedback_scores(r)
                    .await
                    .with_context(|| format!("GetFeedbackScores ({name})"))
            }
        };
        let first = call().await?.into_inner();
        for _ in 1..warmup_calls {
            call().await?;
        }
        let mut times = Vec::with_capacity(runs);
        for _ in 0..runs {
            let started = Instant::now();
            call().await?;
            times.push(started.elapsed());
        }
        let total = first.total.unwrap_or_default();
        let figure = |f: Option<pb::ScoreFigure>| {
            let f = f.unwrap_or_default();
            json!({"value": f.value, "answers": f.answers})
        };
        out.insert(
            name.to_owned(),
            json!({
                "times": spread(&times),
                "total": {
                    "sent": total.sent,
                    "responses": total.responses,
                    "complete": total.complete,
                    "response_rate": total.response_rate,
                    "csat": figure(total.csat),
                    "nps": figure(total.nps),
                    "ces": figure(total.ces),
                    "servqual_gap": figure(total.servqual_gap),
                },
                "groups": first.groups.len(),
                "groups_sent": first.groups.iter().map(|g| g.sent).sum::<i64>(),
            }),
        );
    }
    Ok(json!({
        "benchmark": "get_feedback_scores",
        "runs": runs,
        "warmup_calls": warmup_calls,
        "shapes": out,
    }))
}

/// The template the ingestion scenario records on: CSAT, NPS, CES, the five SERVQUAL
/// dimensions and a comment.
fn template() -> pb::SurveyTemplate {
    use pb::Dimension as D;
    use pb::ItemKind as K;
    let item = |id: &str, kind: K, dimension: D| pb::SurveyItem {
        item_id: id.to_owned(),
        kind: kind as i32,
        prompt: format!("How was the {id}?"),
        dimension: dimension as i32,
        required: kind != K::Text,
    };
    pb::SurveyTemplate {
        id: "after-complaint".into(),
        title: "After a complaint".into(),
        items: vec![
            item("csat", K::Csat, D::Unspecified),
            item("nps", K::Nps, D::Unspecified),
            item("ces", K::Ces, D::Unspecified),
            item("tangibles", K::Servqual, D::Tangibles),
            item("empathy", K::Servqual, D::Empathy),
            item("assurance", K::Servqual, D::Assurance),
            item("responsiveness", K::Servqual, D::Responsiveness),
            item("reliability", K::Servqual, D::Reliability),
            item("comment", K::Text, D::Unspecified),
        ],
        ..Default::default()
    }
}

/// Survey `n` recorded on the spot: every item answered (values spread by `n`), a slice of
/// the bench data's shape.
fn create_survey_request(n: u64) -> pb::CreateSurveyRequest {
    let answer = |id: &str, score: i32| pb::Answer {
        item_id: id.to_owned(),
        score,
        ..Default::default()
    };
    let sq = |id: &str, k: u64| {
        let e = 4 + i32::try_from((n + k) % 4).unwrap_or(0);
        pb::Answer {
            item_id: id.to_owned(),
            expectation: e,
            perception: (e - i32::try_from((n / 3 + k) % 4).unwrap_or(0)).max(1),
            ..Default::default()
        }
    };
    let small = |m: u64| i32::try_from(n % m).unwrap_or(0);
    let agent = n % 600;
    let channels = [
        pb::SurveyChannel::Phone,
        pb::SurveyChannel::Sms,
        pb::SurveyChannel::Web,
        pb::SurveyChannel::InPerson,
        pb::SurveyChannel::Paper,
    ];
    pb::CreateSurveyRequest {
        survey: Some(pb::Survey {
            customer_id: format!("cus_{:032x}", n % 200_000),
            subject: Some(pb::Subject {
                kind: pb::SubjectKind::Complaint as i32,
                id: format!("cmp_{n:032x}"),
            }),
            agent_id: format!("agent-{agent:04}"),
            channel: channels[usize::try_from(n % 5).unwrap_or(0)] as i32,
            template_id: "after-complaint".into(),
            answers: vec![
                answer("csat", 1 + small(5)),
                answer("nps", small(11)),
                answer("ces", 1 + small(7)),
                sq("tangibles", 0),
                sq("empathy", 1),
                sq("assurance", 2),
                sq("responsiveness", 3),
                sq("reliability", 4),
                pb::Answer {
                    item_id: "comment".into(),
                    text: "The engineer came on time and fixed it.".into(),
                    ..Default::default()
                },
            ],
            slice: Some(pb::SurveySlice {
                team_id: format!("team-{:02}", agent / 25),
                service_hall_id: format!("hall-{:02}", n % 40),
                complaint_nature: "SERVICE_ATTITUDE".into(),
                customer_tier: ["A", "B", "C"][usize::try_from(n % 3).unwrap_or(0)].into(),
                customer_region: "urban".into(),
            }),
            ..Default::default()
        }),
        request_id: uuid::Uuid::new_v4().to_string(),
        actor: Some(pb::Actor {
            id: format!("agent-{agent:04}"),
            role: pb::ActorRole::Agent as i32,
        }),
    }
}

/// Ingestion: CreateSurvey with a fresh request id from `concurrency` callers for
/// `duration` (after `warmup`), on the template created first; writes the load report to
/// `out` (`feedback_postgres_create_survey.json` sits beside the echo in a summary).
pub(crate) async fn create_surveys(
    url: &str,
    concurrency: usize,
    duration: Duration,
    warmup: Duration,
    label: String,
    out: Option<PathBuf>,
) -> anyhow::Result<String> {
    let connections = concurrency.clamp(1, 64);
    let channels = Channels::connect(url, connections).await?;
    let mut client = FeedbackServiceClient::new(channels.get(0));
    client
        .create_survey_template(pb::CreateSurveyTemplateRequest {
            template: Some(template()),
            request_id: "bench-template".into(),
            actor: Some(pb::Actor {
                id: "csops-load".into(),
                role: pb::ActorRole::Supervisor as i32,
            }),
        })
        .await
        .context("creating the bench template")?;
    let scenario: Arc<dyn Scenario> = Arc::new(move |ctx: CallCtx| -> CallFuture {
        let mut client = FeedbackServiceClient::new(channels.get(ctx.worker));
        Box::pin(async move {
            client
                .create_survey(create_survey_request(ctx.seq))
                .await
                .map(drop)
        })
    });
    let config = RunConfig {
        mode: Mode::Closed { concurrency },
        duration,
        warmup,
        call_timeout: Duration::from_secs(10),
        max_calls: 50_000_000,
    };
    let mut report = harness::run(
        vec![Weighted {
            name: "create_survey".into(),
            weight: 1,
            scenario,
        }],
        &config,
    )
    .await;
    report.label = label;
    report.connections = connections;
    if let Some(path) = &out {
        std::fs::write(path, serde_json::to_string_pretty(&report)?)
            .with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(report.table())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_keep_microseconds_and_shapes_share_the_period() {
        let t = timestamp(1_764_547_200_123_456).expect("a timestamp");
        assert_eq!((t.seconds, t.nanos), (1_764_547_200, 123_456_000));
        let s = shapes(1, 2);
        assert_eq!(s.len(), 3);
        assert!(s.iter().all(|(_, r)| r.period_end == timestamp(2)));
        assert_eq!(s[2].1.team_ids, ["team-03", "team-11"]);
    }

    #[test]
    fn ingested_surveys_answer_within_the_scales() {
        for n in 0..500 {
            let r = create_survey_request(n);
            for a in &r.survey.expect("a survey").answers {
                assert!((0..=10).contains(&a.score), "{a:?}");
                assert!((0..=7).contains(&a.expectation) && (0..=7).contains(&a.perception));
            }
        }
    }
}
