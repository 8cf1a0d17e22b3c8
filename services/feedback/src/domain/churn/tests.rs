//! Unit tests of the churn detectors and the loss record, with dates counted by hand, and
//! proptests of the episode keys.
#![allow(clippy::unwrap_used)]

use chrono::{TimeDelta, TimeZone};
use proptest::prelude::*;

use super::loss::MAX_LOSS_NOTE;
use super::*;
use crate::domain::{Actor, Role};
use csops_runtime::RuleError;

/// Monday 2 November 2026, 02:00 UTC: detection runs.
fn now() -> DateTime<Utc> {
    day(2026, 11, 2)
}

/// 02:00 UTC on a date.
fn day(y: i32, m: u32, d: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, m, d, 2, 0, 0).unwrap()
}

fn customer(tier: Tier, last_contact: DateTime<Utc>) -> ContactSummary {
    ContactSummary {
        customer_id: "cus_1".into(),
        tier,
        key_account: false,
        last_contact_time: last_contact,
        last_survey_answer_time: None,
        surveys: vec![],
    }
}

fn sent(id: &str, send: DateTime<Utc>, answer: Option<(DateTime<Utc>, f64)>) -> SurveySent {
    SurveySent {
        survey_id: id.into(),
        send_time: send,
        answer_time: answer.map(|a| a.0),
        overall_score: answer.map(|a| a.1),
    }
}

fn level_of(s: &ContactSummary, at: DateTime<Utc>) -> Option<RiskLevel> {
    silence(s, &ChurnRules::default(), at).map(|s| s.level)
}

#[test]
fn a_tier_a_customer_silent_for_95_days_is_a_high_risk() {
    // 30 Jul → 2 Nov: 1 + 31 + 30 + 31 + 2 = 95 days; tier A's rhythm is 7 days, 4× = 28.
    let s = customer(Tier::A, day(2026, 7, 30));
    let signal = silence(&s, &ChurnRules::default(), now()).unwrap();
    assert_eq!(signal.kind, ChurnKind::Silence);
    assert_eq!(signal.level, RiskLevel::High);
    assert_eq!(
        signal.evidence,
        "no contact for 95 days; tier A expects one every 7 days"
    );
    assert_eq!(signal.silence, Some(TimeDelta::days(95)));
    assert_eq!(signal.episode_start, day(2026, 7, 30));
    assert_eq!(signal.detect_time, now());
    // 2026-07-30T02:00Z is 1785376800 s after the epoch; FNV-1a of "cus_1" is fcb6ecd5bff046e2.
    assert_eq!(
        signal.key,
        "chs_silence_high_1785376800000000_fcb6ecd5bff046e2"
    );
}

#[test]
fn silence_levels_start_just_past_two_three_and_four_rhythms() {
    let second = TimeDelta::seconds(1);
    // Tier A, 7 days: 2× = 14 days (19 Oct), 3× = 21 (12 Oct), 4× = 28 (5 Oct) before 2 Nov.
    assert_eq!(level_of(&customer(Tier::A, day(2026, 10, 19)), now()), None);
    assert_eq!(
        level_of(&customer(Tier::A, day(2026, 10, 19)), now() + second),
        Some(RiskLevel::Low)
    );
    assert_eq!(
        level_of(&customer(Tier::A, day(2026, 10, 12)), now()),
        Some(RiskLevel::Low)
    );
    assert_eq!(
        level_of(&customer(Tier::A, day(2026, 10, 12)), now() + second),
        Some(RiskLevel::Medium)
    );
    assert_eq!(
        level_of(&customer(Tier::A, day(2026, 10, 5)), now()),
        Some(RiskLevel::Medium)
    );
    assert_eq!(
        level_of(&customer(Tier::A, day(2026, 10, 4)), now()),
        Some(RiskLevel::High)
    );
}

#[test]
fn monthly_rhythms_count_calendar_months() {
    // Tier B, monthly: from 31 Aug, 2 months is 31 Oct (passed on 2 Nov), 3 is 30 Nov.
    // 31 Aug → 2 Nov: 30 + 31 + 2 = 63 days.
    let b = silence(
        &customer(Tier::B, day(2026, 8, 31)),
        &ChurnRules::default(),
        now(),
    )
    .unwrap();
    assert_eq!(b.level, RiskLevel::Low);
    assert_eq!(
        b.evidence,
        "no contact for 63 days; tier B expects one every month"
    );
    // Tier C, every 2 months: from 1 May, 2× = 1 Sep and 3× = 1 Nov have passed, 4× = 1 Jan
    // 2027 has not. 1 May → 2 Nov: 31 + 30 + 31 + 31 + 30 + 31 + 1 = 185 days.
    let c = silence(
        &customer(Tier::C, day(2026, 5, 1)),
        &ChurnRules::default(),
        now(),
    )
    .unwrap();
    assert_eq!(c.level, RiskLevel::Medium);
    assert_eq!(
        c.evidence,
        "no contact for 185 days; tier C expects one every 2 months"
    );
    // Tier C contacted 2 Sep: 61 days, within 2 × 2 months.
    assert_eq!(level_of(&customer(Tier::C, day(2026, 9, 2)), now()), None);
}

#[test]
fn a_key_account_is_one_level_higher() {
    // 15 days of silence for tier A: past 2× (14 days), low; a key account makes it medium.
    let mut s = customer(Tier::A, day(2026, 10, 18));
    s.key_account = true;
    let signal = silence(&s, &ChurnRules::default(), now()).unwrap();
    assert_eq!(signal.level, RiskLevel::Medium);
    assert_eq!(
        signal.evidence,
        "no contact for 15 days; tier A expects one every 7 days; key account: one level higher"
    );
    let rules = ChurnRules {
        key_account_raises: false,
        ..ChurnRules::default()
    };
    assert_eq!(silence(&s, &rules, now()).unwrap().level, RiskLevel::Low);
}

#[test]
fn an_answered_survey_counts_as_contact() {
    let mut s = customer(Tier::A, day(2026, 7, 30));
    s.last_survey_answer_time = Some(day(2026, 10, 30));
    assert_eq!(level_of(&s, now()), None);
    let mut s = customer(Tier::A, day(2026, 7, 30));
    s.surveys = vec![sent(
        "srv_1",
        day(2026, 10, 28),
        Some((day(2026, 10, 29), 90.0)),
    )];
    assert_eq!(level_of(&s, now()), None);
}

#[test]
fn the_silence_key_holds_for_the_episode_and_changes_with_a_contact_or_a_higher_level() {
    let rules = ChurnRules::default();
    let s = customer(Tier::A, day(2026, 10, 4));
    let first = silence(&s, &rules, now()).unwrap();
    // A day later: still high, same episode, same key; nothing new to raise.
    let again = silence(&s, &rules, now() + TimeDelta::days(1)).unwrap();
    assert_eq!(first.key, again.key);
    // A new contact on 5 Oct starts a new episode: a new key (here at medium, 28 days).
    let later = silence(&customer(Tier::A, day(2026, 10, 5)), &rules, now()).unwrap();
    assert_ne!(first.key, later.key);
    // The same episode growing from low to medium is raised again at its new level.
    let s = customer(Tier::A, day(2026, 10, 18));
    let low = silence(&s, &rules, now()).unwrap();
    let medium = silence(&s, &rules, now() + TimeDelta::days(7)).unwrap();
    assert_eq!(
        (low.level, medium.level),
        (RiskLevel::Low, RiskLevel::Medium)
    );
    assert_ne!(low.key, medium.key);
}

fn answering(surveys: Vec<SurveySent>) -> ContactSummary {
    ContactSummary {
        surveys,
        ..customer(Tier::B, day(2026, 10, 30))
    }
}

#[test]
fn three_unanswered_surveys_after_an_answer_mean_the_customer_stopped_answering() {
    let s = answering(vec![
        sent("srv_1", day(2026, 9, 1), Some((day(2026, 9, 2), 80.0))),
        sent("srv_2", day(2026, 9, 20), None),
        sent("srv_3", day(2026, 10, 5), None),
        sent("srv_4", day(2026, 10, 20), None),
        // Sent 3 days ago: still inside its 7-day answer window, not unanswered yet.
        sent("srv_5", day(2026, 10, 30), None),
    ]);
    let signal = stopped_answering(&s, &ChurnRules::default(), now()).unwrap();
    assert_eq!(signal.kind, ChurnKind::StoppedAnswering);
    assert_eq!(signal.level, RiskLevel::Medium);
    assert_eq!(
        signal.evidence,
        "the last 3 surveys sent (2026-09-20, 2026-10-05, 2026-10-20) went unanswered; the last \
         answer was on 2026-09-02"
    );
    assert_eq!(signal.evidence_ids, ["srv_2", "srv_3", "srv_4"]);
    assert_eq!(signal.episode_start, day(2026, 9, 2));
    // A fourth unanswered survey later is the same episode: same key.
    let mut more = s.clone();
    more.surveys.push(sent("srv_6", day(2026, 11, 1), None));
    let later = stopped_answering(&more, &ChurnRules::default(), day(2026, 11, 9)).unwrap();
    assert_eq!(later.key, signal.key);
    assert_eq!(later.evidence_ids.len(), 5);
}

#[test]
fn unanswered_surveys_are_no_signal_without_an_earlier_answer_or_enough_of_them() {
    let rules = ChurnRules::default();
    // Never answered: nothing stopped.
    let never = answering(vec![
        sent("srv_1", day(2026, 9, 1), None),
        sent("srv_2", day(2026, 9, 20), None),
        sent("srv_3", day(2026, 10, 5), None),
    ]);
    assert_eq!(stopped_answering(&never, &rules, now()), None);
    // An answer older than the surveys held still counts as "answered before".
    let mut before = never.clone();
    before.last_survey_answer_time = Some(day(2026, 8, 1));
    let signal = stopped_answering(&before, &rules, now()).unwrap();
    assert_eq!(signal.episode_start, day(2026, 8, 1));
    // Two unanswered after an answer: not yet.
    let two = answering(vec![
        sent("srv_1", day(2026, 9, 1), Some((day(2026, 9, 2), 80.0))),
        sent("srv_2", day(2026, 9, 20), None),
        sent("srv_3", day(2026, 10, 5), None),
    ]);
    assert_eq!(stopped_answering(&two, &rules, now()), None);
}

fn scores(points: &[f64]) -> ContactSummary {
    // Survey n sent on day 1 + 10 n of September-October, answered the next day.
    let surveys = points
        .iter()
        .enumerate()
        .map(|(n, p)| {
            let send = day(2026, 9, 1) + TimeDelta::days(10 * i64::try_from(n).unwrap());
            sent(
                &format!("srv_{}", n + 1),
                send,
                Some((send + TimeDelta::days(1), *p)),
            )
        })
        .collect();
    answering(surveys)
}

#[test]
fn scores_falling_by_more_than_ten_points_over_three_surveys_are_a_signal() {
    let rules = ChurnRules::default();
    let s = scores(&[92.0, 85.0, 78.0]);
    let signal = falling_scores(&s, &rules, now()).unwrap();
    // 92 - 78 = 14 > 10: low.
    assert_eq!(signal.level, RiskLevel::Low);
    assert_eq!(
        signal.evidence,
        "scores 92, 85, 78 over the last 3 surveys: down 14 points"
    );
    assert_eq!(signal.recent_scores, [92.0, 85.0, 78.0]);
    assert_eq!(signal.evidence_ids, ["srv_1", "srv_2", "srv_3"]);
    // The fall started at survey 1, answered 2 Sep.
    assert_eq!(signal.episode_start, day(2026, 9, 2));
    // A fourth, lower score continues the same fall: 85 - 70 = 15, still low, same key.
    let longer = falling_scores(&scores(&[92.0, 85.0, 78.0, 70.0]), &rules, now()).unwrap();
    assert_eq!(longer.recent_scores, [85.0, 78.0, 70.0]);
    assert_eq!(longer.key, signal.key);
}

#[test]
fn the_size_of_the_fall_sets_the_level_and_a_rise_ends_the_episode() {
    let rules = ChurnRules::default();
    let level = |p: &[f64]| falling_scores(&scores(p), &rules, now()).map(|s| s.level);
    // 90 - 80 = 10: not more than 10.
    assert_eq!(level(&[90.0, 85.0, 80.0]), None);
    // A rise in between: not a fall.
    assert_eq!(level(&[92.0, 70.0, 80.0]), None);
    // 95 - 60 = 35 > 30: high.
    assert_eq!(level(&[95.0, 80.0, 60.0]), Some(RiskLevel::High));
    // Two scores are not enough.
    assert_eq!(level(&[95.0, 60.0]), None);
    // 92, 70 then a rise to 85, and 85, 80, 60: down 25, medium; the episode starts at the
    // 85 of survey 3 (answered 22 Sep), after the rise.
    let s = falling_scores(&scores(&[92.0, 70.0, 85.0, 80.0, 60.0]), &rules, now()).unwrap();
    assert_eq!(s.level, RiskLevel::Medium);
    assert_eq!(s.episode_start, day(2026, 9, 22));
    // Halves are shown as such: 90 - 79 = 11.
    let s = falling_scores(&scores(&[90.0, 87.5, 79.0]), &rules, now()).unwrap();
    assert_eq!(
        s.evidence,
        "scores 90, 87.5, 79 over the last 3 surveys: down 11 points"
    );
}

#[test]
fn detect_runs_every_detector_in_order() {
    let mut s = scores(&[92.0, 85.0, 78.0]);
    s.surveys.extend([
        sent("srv_7", day(2026, 10, 10), None),
        sent("srv_8", day(2026, 10, 15), None),
        sent("srv_9", day(2026, 10, 20), None),
    ]);
    s.tier = Tier::A;
    s.last_contact_time = day(2026, 7, 30);
    let kinds: Vec<ChurnKind> = detect(&s, &ChurnRules::default(), now())
        .into_iter()
        .map(|s| s.kind)
        .collect();
    // Silence counts from the last answer (22 Sep, survey 3): 41 days > 4 × 7.
    assert_eq!(
        kinds,
        [
            ChurnKind::Silence,
            ChurnKind::StoppedAnswering,
            ChurnKind::FallingScores
        ]
    );
    assert!(detect(
        &customer(Tier::A, day(2026, 11, 1)),
        &ChurnRules::default(),
        now()
    )
    .is_empty());
}

#[test]
fn the_rhythm_comes_from_the_policy_visits() {
    let rules = ChurnRules::with_visits(csops_sla::Policy::default_presets().visits());
    assert_eq!(rules.rhythm, Rhythm::default());
}

fn recorder() -> Actor {
    Actor {
        id: "mgr-1".into(),
        role: Role::Manager,
    }
}

fn loss(reason: Option<LossReason>, note: &str) -> NewCustomerLoss {
    NewCustomerLoss {
        customer_id: "cus_1".into(),
        reason,
        note: note.into(),
        loss_time: None,
    }
}

#[test]
fn a_loss_is_recorded_with_its_reason() {
    let l = CustomerLoss::record(
        loss(
            Some(LossReason::CompetitionPrice),
            " cheaper plan elsewhere ",
        ),
        &recorder(),
        now(),
    )
    .unwrap();
    assert_eq!(l.reason, LossReason::CompetitionPrice);
    assert_eq!(l.note, "cheaper plan elsewhere");
    assert_eq!((l.loss_time, l.create_time), (now(), now()));
    assert_eq!(l.recorded_by, recorder());
    assert_eq!(l.reason.code(), "competition_price");
}

#[test]
fn a_loss_needs_a_reason_a_note_for_other_a_short_note_and_a_past_time() {
    let fields = |e: RuleError| match e {
        RuleError::Invalid(v) => v.0.into_iter().map(|f| f.field).collect::<Vec<_>>(),
        other => panic!("{other:?}"),
    };
    let e = CustomerLoss::record(loss(None, ""), &recorder(), now()).unwrap_err();
    assert_eq!(fields(e), ["reason"]);
    let e =
        CustomerLoss::record(loss(Some(LossReason::Other), " "), &recorder(), now()).unwrap_err();
    assert_eq!(fields(e), ["note"]);
    let mut bad = loss(Some(LossReason::MovedAway), &"x".repeat(MAX_LOSS_NOTE + 1));
    bad.customer_id = String::new();
    bad.loss_time = Some(now() + TimeDelta::minutes(6));
    let e = CustomerLoss::record(bad, &recorder(), now()).unwrap_err();
    assert_eq!(fields(e), ["customer_id", "note", "loss_time"]);
    // Within the 5-minute clock allowance the time is taken as now.
    let mut close = loss(Some(LossReason::Deceased), "");
    close.loss_time = Some(now() + TimeDelta::minutes(4));
    assert_eq!(
        CustomerLoss::record(close, &recorder(), now())
            .unwrap()
            .loss_time,
        now()
    );
}

#[test]
fn loss_reasons_have_stable_codes_and_the_seeds_order() {
    let codes: Vec<&str> = LossReason::ALL.iter().map(|r| r.code()).collect();
    assert_eq!(
        codes,
        [
            "staff_indifference",
            "product_dissatisfaction",
            "competition_price",
            "relationship_elsewhere",
            "moved_away",
            "deceased",
            "other"
        ]
    );
    for r in LossReason::ALL {
        assert_eq!(LossReason::from_code(r.code()), Some(*r));
        assert!(!r.label().is_empty());
    }
    assert!(LossReason::StaffIndifference.is_avoidable());
    assert!(!LossReason::MovedAway.is_avoidable());
}

fn tier() -> impl Strategy<Value = Tier> {
    prop_oneof![Just(Tier::A), Just(Tier::B), Just(Tier::C)]
}

fn summary() -> impl Strategy<Value = ContactSummary> {
    let survey = (0i64..400, prop::option::of((0i64..10, 0.0f64..100.0)));
    (
        tier(),
        any::<bool>(),
        0i64..400,
        prop::option::of(0i64..400),
        prop::collection::vec(survey, 0..12),
    )
        .prop_map(
            |(tier, key_account, contact, answered, surveys)| ContactSummary {
                customer_id: "cus_p".into(),
                tier,
                key_account,
                last_contact_time: now() - TimeDelta::days(contact),
                last_survey_answer_time: answered.map(|d| now() - TimeDelta::days(d)),
                surveys: surveys
                    .into_iter()
                    .enumerate()
                    .map(|(i, (ago, answer))| {
                        let send = now() - TimeDelta::days(ago);
                        SurveySent {
                            survey_id: format!("srv_{i}"),
                            send_time: send,
                            answer_time: answer.map(|a| (send + TimeDelta::days(a.0)).min(now())),
                            overall_score: answer.map(|a| a.1),
                        }
                    })
                    .collect(),
            },
        )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Detection is a function of its input: run again, it gives the same signals and keys;
    /// keys fit the customers service's 100-character signal id and differ between kinds.
    #[test]
    fn detection_is_idempotent(s in summary(), later in 0i64..3600) {
        let rules = ChurnRules::default();
        let at = now() + TimeDelta::seconds(later);
        let first = detect(&s, &rules, at);
        prop_assert_eq!(&first, &detect(&s, &rules, at));
        for signal in &first {
            prop_assert!(signal.key.len() <= 100, "{}", signal.key);
            let prefix = format!("chs_{}_{}_", signal.kind, signal.level);
            prop_assert!(signal.key.starts_with(&prefix), "{}", signal.key);
        }
        let mut keys: Vec<&str> = first.iter().map(|s| s.key.as_str()).collect();
        keys.dedup();
        prop_assert_eq!(keys.len(), first.len());
    }

    /// A later run of the same episode at the same level gives the same key.
    #[test]
    fn the_same_episode_keeps_its_key(s in summary(), later in 1i64..30) {
        let rules = ChurnRules::default();
        let a = detect(&s, &rules, now());
        let b = detect(&s, &rules, now() + TimeDelta::days(later));
        for x in &a {
            if let Some(y) = b.iter().find(|y| y.kind == x.kind && y.level == x.level && y.episode_start == x.episode_start) {
                prop_assert_eq!(&x.key, &y.key);
            }
        }
    }

    /// A contact within the tier's rhythm never raises SILENCE, whatever else is known.
    #[test]
    fn a_contact_within_the_rhythm_never_raises_silence(
        mut s in summary(),
        fraction in 0.0f64..=1.0,
    ) {
        let rules = ChurnRules::default();
        let cadence = rules.rhythm.cadence(s.tier);
        let start = now().date_naive();
        // The rhythm measured backwards from today, so the contact is at most one rhythm ago.
        let rhythm_days = (cadence.nth_after(start, 1) - start).num_days();
        let ago = TimeDelta::seconds((rhythm_days as f64 * 86_400.0 * fraction) as i64);
        s.last_contact_time = now() - ago;
        prop_assert_eq!(silence(&s, &rules, now()), None);
    }
}
