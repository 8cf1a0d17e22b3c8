//! Explanations and compliance statistics.
#![allow(clippy::unwrap_used)]

use chrono::{DateTime, NaiveDateTime, TimeDelta, TimeZone, Utc};
use chrono_tz::Asia::Shanghai;
use csops_sla::{Case, Clock, PauseReason, Policy, Promise, Region, Severity, State, Tier};

fn bj(s: &str) -> DateTime<Utc> {
    let n = NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M").unwrap();
    Shanghai
        .from_local_datetime(&n)
        .unwrap()
        .with_timezone(&Utc)
}

#[test]
fn explain_says_which_rule_why_and_how_the_deadline_follows() {
    let p = Policy::default_presets();
    let case = Case::new()
        .tier(Tier::A)
        .key_account(true)
        .severity(Severity::High);
    let mut clock = p
        .start(Promise::Resolution, &case, bj("2026-09-29 10:00"))
        .unwrap();
    clock
        .pause(bj("2026-09-29 14:00"), PauseReason::WaitingOnCustomer)
        .unwrap();
    clock.resume(bj("2026-09-29 16:00")).unwrap();
    let e = p.explain(&clock, bj("2026-09-29 17:00")).unwrap();
    assert_eq!(e.rule.id, "resolution.high");
    assert_eq!(
        e.rule.adjustment_rule.as_deref(),
        Some("resolution.key_account")
    );
    assert_eq!(e.rule.factor, 0.5);
    assert_eq!(e.rule.target, TimeDelta::hours(8));
    assert_eq!(e.rule.base_target, TimeDelta::hours(16));
    assert_eq!(e.rule.specificity, 1);
    assert_eq!(e.rule.less_specific, vec!["resolution.default".to_string()]);
    assert_eq!(e.rule.conditions[0].key, "severity");
    assert_eq!(e.rule.conditions[0].actual, "high");
    // The factor rule is named with the condition that made it apply, and says it is a
    // deployment choice rather than the telecom standard.
    assert_eq!(e.rule.adjustment_conditions.len(), 1);
    assert_eq!(e.rule.adjustment_conditions[0].key, "key_account");
    assert_eq!(e.rule.adjustment_conditions[0].expected, "true");
    assert_eq!(e.rule.adjustment_conditions[0].actual, "true");
    assert!(
        e.rule.adjustment_description.contains("deployment choice"),
        "{}",
        e.rule.adjustment_description
    );
    assert!(
        e.summary
            .contains("resolution.key_account (key_account=true) applies x0.5"),
        "{}",
        e.summary
    );
    assert_eq!(e.pauses.len(), 1);
    assert_eq!(e.pauses[0].working_time, TimeDelta::hours(2));
    // 10-12, 13-14 and 16-17: four hours used, four left; 17-18 today, then 30 Sep 09-12.
    assert_eq!(e.working_time_used, TimeDelta::hours(4));
    assert_eq!(e.working_time_remaining, TimeDelta::hours(4));
    assert_eq!(e.deadline, bj("2026-09-30 12:00"));
    assert_eq!(e.state, State::AtRisk);
    assert_eq!(e.thresholds[0].percent, 50);
    assert!(e.thresholds[0].reached);
    assert_eq!(e.calendar.time_zone.as_deref(), Some("Asia/Shanghai"));
    assert!(
        e.summary.contains("due Wed 2026-09-30 12:00 Asia/Shanghai"),
        "{}",
        e.summary
    );
    assert!(
        e.summary
            .contains("within 1 working day (8 working hours) on cn_service (rule resolution.high"),
        "{}",
        e.summary
    );
    let json = serde_json::to_value(&e).unwrap();
    assert_eq!(json["rule"]["target"], "8h");
    assert_eq!(
        json["rule"]["adjustment_conditions"][0]["key"],
        "key_account"
    );
    assert_eq!(json["state"], "at_risk");
}

#[test]
fn working_time_reads_in_the_calendars_units() {
    let p = Policy::default_presets();
    let cal = &p.calendars()["cn_service"];
    assert_eq!(
        cal.describe_working_time(TimeDelta::hours(32)),
        "4 working days (32 working hours)"
    );
    assert_eq!(
        cal.describe_working_time(TimeDelta::hours(10)),
        "1 working day 2 working hours (10 working hours)"
    );
    assert_eq!(
        cal.describe_working_time(TimeDelta::minutes(90)),
        "1 working hour 30 minutes"
    );
}

#[test]
fn a_breached_clock_lists_only_the_holidays_up_to_its_deadline() {
    let p = Policy::default_presets();
    // Resolution of a critical complaint counts office hours (first contact, on the hotline
    // calendar, has no holidays to list).
    let critical = Case::new().severity(Severity::Critical);
    let clock = p
        .start(Promise::Resolution, &critical, bj("2026-09-29 09:00"))
        .unwrap();
    // Due the same evening; explained in the middle of the National Day holidays.
    let e = p.explain(&clock, bj("2026-10-05 12:00")).unwrap();
    assert_eq!(e.state, State::Breached);
    assert!(e.calendar.holidays.is_empty(), "{:?}", e.calendar.holidays);
}

#[test]
fn explain_lists_holidays_between_start_and_deadline() {
    let p = Policy::default_presets();
    let critical = Case::new().severity(Severity::Critical);
    let clock = p
        .start(Promise::Resolution, &critical, bj("2026-09-30 17:30"))
        .unwrap();
    let e = p.explain(&clock, bj("2026-09-30 17:30")).unwrap();
    assert_eq!(e.calendar.holidays.len(), 7);
    // Half an hour on 30 September, 1-7 October off, seven and a half hours on 8 October.
    assert_eq!(e.deadline, bj("2026-10-08 17:30"));
}

#[test]
fn compliance_reports_on_time_rate_percentiles_and_breaches_by_rule() {
    let p = Policy::default_presets();
    let start = bj("2026-03-02 09:00");
    let mut clocks = Vec::new();
    for i in 0..100i64 {
        let region = if i % 2 == 0 {
            Region::Urban
        } else {
            Region::Rural
        };
        let mut c = p
            .start(Promise::Installation, &Case::new().region(region), start)
            .unwrap();
        // 98 clocks stop within 1-28 days; the last two take 40 days (one urban, one rural).
        if i < 98 {
            c.stop(start + TimeDelta::days(i % 28 + 1)).unwrap();
        } else {
            c.stop(start + TimeDelta::days(40)).unwrap();
        }
        clocks.push(c);
    }
    let mut cancelled = p.start(Promise::Installation, &Case::new(), start).unwrap();
    cancelled.cancel(start + TimeDelta::days(1)).unwrap();
    clocks.push(cancelled);
    clocks.push(p.start(Promise::Reconnection, &Case::new(), start).unwrap());
    let r = p
        .compliance(Promise::Installation, &clocks, bj("2026-06-01 00:00"))
        .unwrap();
    assert_eq!(r.clocks, 101);
    assert_eq!((r.met, r.met_late, r.cancelled), (98, 2, 1));
    assert_eq!(r.on_time_rate, 0.98);
    assert!(r.meets_on_time_target);
    assert_eq!(r.breaches_by_rule.get("installation.urban"), Some(&1));
    assert_eq!(r.breaches_by_rule.get("installation.rural"), Some(&1));
    let d = r.durations.unwrap();
    assert_eq!(d.max, TimeDelta::days(40));
    assert_eq!(d.p50, TimeDelta::days(13));
    assert_eq!(r.meets_mean_objective, Some(d.mean <= TimeDelta::days(15)));
    // An open clock past its deadline counts as a failure already.
    let open = vec![p.start(Promise::Reconnection, &Case::new(), start).unwrap()];
    let r = p
        .compliance(Promise::Reconnection, &open, start + TimeDelta::days(2))
        .unwrap();
    assert_eq!((r.breached_open, r.on_time_rate), (1, 0.0));
    let _ = Clock::outcome;
}
