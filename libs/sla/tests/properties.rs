//! Property tests: the engine agrees with the minute-by-minute reference and keeps its promises.
#![allow(clippy::unwrap_used)]

mod common;

use std::collections::BTreeSet;

use chrono::{DateTime, NaiveDate, TimeDelta, TimeZone, Utc};
use chrono_tz::Tz;
use common::{reference_elapsed, RefCalendar};
use csops_sla::{Clock, ClockSpec, Outcome, PauseReason, Promise, State};
use proptest::prelude::*;

/// Ranges for one day from up to six quarter-hour boundaries. Zones with daylight saving get
/// ranges from 04:00 on, so no range starts inside the hour repeated when clocks go back (a case
/// the engine documents rather than models minute by minute).
fn day_ranges(dst: bool) -> impl Strategy<Value = Vec<(u16, u16)>> {
    let lo: u16 = if dst { 16 } else { 0 };
    prop::collection::btree_set(lo..=96u16, 0..=6).prop_map(|set| {
        let pts: Vec<u16> = set.into_iter().collect();
        pts.chunks_exact(2)
            .map(|c| (c[0] * 15, c[1] * 15))
            .collect()
    })
}

fn dates(n: usize) -> impl Strategy<Value = BTreeSet<NaiveDate>> {
    let base = NaiveDate::from_ymd_opt(2026, 1, 1).unwrap();
    prop::collection::btree_set(0u64..120, 0..n)
        .prop_map(move |s| s.into_iter().map(|d| base + chrono::Days::new(d)).collect())
}

fn calendar() -> impl Strategy<Value = RefCalendar> {
    let zones = prop_oneof![
        Just(chrono_tz::UTC),
        Just(chrono_tz::Asia::Shanghai),
        Just(chrono_tz::Europe::Berlin),
        Just(chrono_tz::America::New_York),
    ];
    zones
        .prop_flat_map(|tz: Tz| {
            let dst = !matches!(tz, chrono_tz::UTC | chrono_tz::Asia::Shanghai);
            (
                Just(tz),
                prop::collection::vec(day_ranges(dst), 7),
                day_ranges(dst),
                dates(25),
                dates(8),
            )
        })
        .prop_filter("some working time in the week", |(_, week, ..)| {
            week.iter().any(|d| !d.is_empty())
        })
        .prop_map(|(tz, week, makeup, holidays, extra)| {
            let extra = extra.difference(&holidays).copied().collect();
            RefCalendar {
                tz,
                week,
                makeup,
                holidays,
                extra,
            }
        })
}

/// A minute-aligned instant between 10 December 2025 and April 2026.
fn instant() -> impl Strategy<Value = DateTime<Utc>> {
    (0i64..120 * 1440)
        .prop_map(|m| Utc.with_ymd_and_hms(2025, 12, 10, 0, 0, 0).unwrap() + TimeDelta::minutes(m))
}

fn spec(minutes: i64) -> ClockSpec {
    ClockSpec::new(Promise::Resolution, TimeDelta::minutes(minutes), "ref")
}

/// Pauses as (offset from start, length) in minutes, laid end to end with gaps.
fn pauses() -> impl Strategy<Value = Vec<(i64, i64)>> {
    prop::collection::vec((1i64..2000, 1i64..3000), 0..4)
}

/// A pause as (from, until).
type Span = (DateTime<Utc>, DateTime<Utc>);

fn build_clock(start: DateTime<Utc>, target: i64, pauses: &[(i64, i64)]) -> (Clock, Vec<Span>) {
    let mut clock = Clock::start(spec(target), start).unwrap();
    let mut t = start;
    let mut spans = Vec::new();
    for &(gap, len) in pauses {
        let from = t + TimeDelta::minutes(gap);
        let until = from + TimeDelta::minutes(len);
        clock.pause(from, PauseReason::WaitingOnCustomer).unwrap();
        clock.resume(until).unwrap();
        spans.push((from, until));
        t = until;
    }
    (clock, spans)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    #[test]
    fn deadline_and_elapsed_agree_with_the_reference(
        cal in calendar(), start in instant(), minutes in 0i64..1500, narrow in any::<bool>()
    ) {
        let engine = cal.engine(narrow);
        let expected = cal.deadline(start, minutes);
        let got = engine.add_working_time(start, TimeDelta::minutes(minutes));
        prop_assert_eq!(got, expected);
        prop_assert_eq!(engine.working_time(start, got).num_minutes(), cal.working_minutes(start, got));
        prop_assert_eq!(engine.working_time(start, got), TimeDelta::minutes(minutes));
    }

    #[test]
    fn elapsed_agrees_with_the_reference(cal in calendar(), a in instant(), len in 0i64..20_000) {
        let engine = cal.engine(false);
        let b = a + TimeDelta::minutes(len);
        prop_assert_eq!(engine.working_time(a, b).num_minutes(), cal.working_minutes(a, b));
    }

    #[test]
    fn a_business_deadline_never_falls_outside_working_time(
        cal in calendar(), start in instant(), secs in 1i64..200_000
    ) {
        let engine = cal.engine(false);
        let d = engine.add_working_time(start, TimeDelta::seconds(secs));
        // The deadline is the end of working time: the second before it is worked.
        prop_assert!(engine.is_working(d - TimeDelta::seconds(1)));
        prop_assert!(d > start);
    }

    #[test]
    fn two_consecutive_targets_equal_one_of_their_sum(
        cal in calendar(), start in instant(), a in 0i64..100_000, b in 0i64..100_000
    ) {
        let engine = cal.engine(false);
        let (a, b) = (TimeDelta::seconds(a), TimeDelta::seconds(b));
        let two = engine.add_working_time(engine.add_working_time(start, a), b);
        prop_assert_eq!(two, engine.add_working_time(start, a + b));
    }

    #[test]
    fn pausing_never_shortens_a_deadline(
        cal in calendar(), start in instant(), target in 1i64..3000, ps in pauses()
    ) {
        let engine = cal.engine(false);
        let (plain, _) = build_clock(start, target, &[]);
        let (paused, spans) = build_clock(start, target, &ps);
        let now = spans.last().map_or(start, |s| s.1);
        prop_assert!(paused.deadline(&engine, now) >= plain.deadline(&engine, now));
    }

    #[test]
    fn clock_elapsed_agrees_with_the_reference_and_is_monotonic_in_now(
        cal in calendar(), start in instant(), target in 1i64..3000, ps in pauses(),
        n1 in 0i64..15_000, n2 in 0i64..15_000
    ) {
        let engine = cal.engine(false);
        let (clock, spans) = build_clock(start, target, &ps);
        let (n1, n2) = (n1.min(n2), n1.max(n2));
        let (t1, t2) = (start + TimeDelta::minutes(n1), start + TimeDelta::minutes(n2));
        let e1 = clock.elapsed(&engine, t1);
        let e2 = clock.elapsed(&engine, t2);
        prop_assert!(e1 <= e2);
        prop_assert_eq!(e2.num_minutes(), reference_elapsed(&cal, start, &spans, t2));
        let s = clock.status(&engine, t2);
        prop_assert_eq!(s.elapsed, e2);
        prop_assert!(s.deadline >= start);
    }

    #[test]
    fn the_compliance_outcome_agrees_with_the_status(
        cal in calendar(), start in instant(), target in 1i64..3000, ps in pauses(),
        stop_after in prop::option::of(0i64..15_000), later in 0i64..15_000
    ) {
        let engine = cal.engine(false);
        let (mut clock, spans) = build_clock(start, target, &ps);
        let last = spans.last().map_or(start, |s| s.1);
        if let Some(m) = stop_after {
            clock.stop(last + TimeDelta::minutes(m)).unwrap();
        }
        let now = last + TimeDelta::minutes(stop_after.unwrap_or(0) + later);
        let state = clock.status(&engine, now).state;
        let expected = match state {
            State::Met => "met",
            State::MetLate => "met_late",
            State::Breached => "breached",
            _ => "open",
        };
        let got = match clock.outcome(&engine, now) {
            Outcome::Met(_) => "met",
            Outcome::MetLate(_) => "met_late",
            Outcome::Breached => "breached",
            Outcome::Open | Outcome::Cancelled => "open",
        };
        prop_assert_eq!(got, expected);
    }
}
