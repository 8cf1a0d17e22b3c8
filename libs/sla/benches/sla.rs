//! Criterion benchmarks for csops-sla: deadlines, explanations and compliance at scale.
#![allow(clippy::unwrap_used, missing_docs)]

#[path = "../tests/common/mod.rs"]
mod common;

use std::collections::BTreeSet;
use std::hint::black_box;

use chrono::{DateTime, TimeDelta, TimeZone, Utc};
use common::RefCalendar;
use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use csops_sla::{Case, Clock, PauseReason, Policy, Promise, Region, Severity, Tier};

/// 1,024 start instants spread over 2026 at odd minutes, so lookups do not hit one cache line.
fn starts() -> Vec<DateTime<Utc>> {
    let base = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
    (0..1024i64)
        .map(|i| base + TimeDelta::minutes(i * 487 % (340 * 1440)))
        .collect()
}

/// The minute-walking reference for the presets' calendar (same hours, holidays, make-up days).
fn reference(p: &Policy) -> RefCalendar {
    let cal = p.calendar("cn_service").unwrap();
    let day: Vec<(u16, u16)> = vec![(540, 720), (780, 1080)];
    RefCalendar {
        tz: chrono_tz::Asia::Shanghai,
        week: vec![
            day.clone(),
            day.clone(),
            day.clone(),
            day.clone(),
            day.clone(),
            vec![],
            vec![],
        ],
        makeup: day,
        holidays: cal.holidays().into_iter().collect::<BTreeSet<_>>(),
        extra: cal
            .extra_working_days()
            .into_iter()
            .collect::<BTreeSet<_>>(),
    }
}

fn deadline(c: &mut Criterion) {
    let p = Policy::default_presets();
    let cal = p.calendar("cn_service").unwrap();
    let thirty = cal.working_day() * 30;
    let starts = starts();
    let mut g = c.benchmark_group("deadline_30_working_days");
    g.throughput(Throughput::Elements(starts.len() as u64));
    g.bench_function("engine", |b| {
        b.iter(|| {
            for s in &starts {
                black_box(cal.add_working_time(black_box(*s), thirty));
            }
        })
    });
    let r = reference(&p);
    let few = &starts[..8];
    for s in few {
        assert_eq!(
            r.deadline(*s, thirty.num_minutes()),
            cal.add_working_time(*s, thirty)
        );
    }
    g.throughput(Throughput::Elements(few.len() as u64));
    g.sample_size(10);
    g.bench_function("minute_walk_baseline", |b| {
        b.iter(|| {
            for s in few {
                black_box(r.deadline(black_box(*s), thirty.num_minutes()));
            }
        })
    });
    g.finish();
}

fn explain(c: &mut Criterion) {
    let p = Policy::default_presets();
    let case = Case::new()
        .tier(Tier::A)
        .key_account(true)
        .severity(Severity::High);
    let start = Utc.with_ymd_and_hms(2026, 9, 29, 2, 0, 0).unwrap();
    let mut clock = p.start(Promise::Resolution, &case, start).unwrap();
    clock
        .pause(start + TimeDelta::hours(4), PauseReason::WaitingOnCustomer)
        .unwrap();
    clock.resume(start + TimeDelta::hours(6)).unwrap();
    let now = start + TimeDelta::hours(7);
    c.bench_function("explain", |b| {
        b.iter(|| black_box(p.explain(black_box(&clock), now).unwrap()))
    });
}

fn compliance(c: &mut Criterion) {
    let p = Policy::default_presets();
    let base = Utc.with_ymd_and_hms(2026, 1, 5, 1, 0, 0).unwrap();
    let urban = p
        .resolve(Promise::Installation, &Case::new().region(Region::Urban))
        .unwrap();
    let rural = p
        .resolve(Promise::Installation, &Case::new().region(Region::Rural))
        .unwrap();
    let callback = p.resolve(Promise::Callback, &Case::new()).unwrap();
    let build = |i: i64| {
        let spec = match i % 3 {
            0 => rural.clone(),
            _ => urban.clone(),
        };
        (spec, i)
    };
    let clocks: Vec<Clock> = (0..1_000_000i64)
        .map(build)
        .map(|(spec, i)| {
            let start = base + TimeDelta::minutes(i * 7 % (300 * 1440));
            let mut c = Clock::start(spec, start).unwrap();
            if i % 10 == 0 {
                c.pause(start + TimeDelta::days(2), PauseReason::WaitingOnCustomer)
                    .unwrap();
                c.resume(start + TimeDelta::days(4)).unwrap();
            }
            if i % 7 != 0 {
                // Paused clocks stop after their resume; durations spread over 1-44 days.
                let h = i * 13 % (40 * 24) + if i % 10 == 0 { 97 } else { 1 };
                c.stop(start + TimeDelta::hours(h)).unwrap();
            }
            c
        })
        .collect();
    // The same shapes on the business-hours calendar (2 working days, 2026 holidays).
    let business: Vec<Clock> = clocks
        .iter()
        .map(|c| {
            let mut events = c.events();
            if let Some(csops_sla::ClockEvent::Start { spec, .. }) = events.first_mut() {
                **spec = callback.clone();
            }
            Clock::from_events(&events).unwrap()
        })
        .collect();
    let now = Utc.with_ymd_and_hms(2027, 1, 1, 0, 0, 0).unwrap();
    let mut g = c.benchmark_group("compliance");
    g.sample_size(10);
    g.throughput(Throughput::Elements(clocks.len() as u64));
    g.bench_function("1M_installation_clocks", |b| {
        b.iter_batched(
            || (),
            |()| black_box(p.compliance(Promise::Installation, &clocks, now).unwrap()),
            BatchSize::PerIteration,
        )
    });
    g.bench_function("1M_callback_clocks_business_hours", |b| {
        b.iter_batched(
            || (),
            |()| black_box(p.compliance(Promise::Callback, &business, now).unwrap()),
            BatchSize::PerIteration,
        )
    });
    g.finish();
}

criterion_group!(benches, deadline, explain, compliance);
criterion_main!(benches);
