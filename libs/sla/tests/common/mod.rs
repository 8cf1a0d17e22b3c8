//! A slow, obviously-correct reference: it looks at every minute on its own.
#![allow(dead_code, unreachable_pub, clippy::unwrap_used)]

use std::collections::BTreeSet;

use chrono::{DateTime, Datelike, NaiveDate, TimeZone, Timelike, Utc};
use chrono_tz::Tz;
use csops_sla::{Calendar, TimeRange, WeeklyHours};

/// The same calendar data the engine gets, kept raw.
#[derive(Debug, Clone)]
pub struct RefCalendar {
    pub tz: Tz,
    /// Monday first; ranges in minutes since midnight.
    pub week: Vec<Vec<(u16, u16)>>,
    pub makeup: Vec<(u16, u16)>,
    pub holidays: BTreeSet<NaiveDate>,
    pub extra: BTreeSet<NaiveDate>,
}

impl RefCalendar {
    /// Tells whether the minute starting at Unix minute `m` is working time, by asking which
    /// local date and time it is.
    pub fn minute_is_working(&self, m: i64) -> bool {
        let local = self.tz.timestamp_opt(m * 60, 0).unwrap().naive_local();
        let d = local.date();
        let ranges = if self.holidays.contains(&d) {
            &[][..]
        } else if self.extra.contains(&d) {
            &self.makeup[..]
        } else {
            &self.week[d.weekday().num_days_from_monday() as usize][..]
        };
        let mm = (local.hour() * 60 + local.minute()) as u16;
        ranges.iter().any(|&(s, e)| s <= mm && mm < e)
    }

    /// Counts working minutes in `[a, b)` (minute-aligned instants).
    pub fn working_minutes(&self, a: DateTime<Utc>, b: DateTime<Utc>) -> i64 {
        let (a, b) = (a.timestamp() / 60, b.timestamp() / 60);
        (a..b).filter(|&m| self.minute_is_working(m)).count() as i64
    }

    /// Walks forward minute by minute until `n` working minutes have passed; the deadline is the
    /// end of the last of them.
    pub fn deadline(&self, start: DateTime<Utc>, n: i64) -> DateTime<Utc> {
        if n == 0 {
            return start;
        }
        let mut m = start.timestamp() / 60;
        let mut left = n;
        loop {
            if self.minute_is_working(m) {
                left -= 1;
                if left == 0 {
                    return DateTime::from_timestamp((m + 1) * 60, 0).unwrap();
                }
            }
            m += 1;
        }
    }

    /// Builds the engine's calendar from the same data.
    pub fn engine(&self, narrow_index: bool) -> Calendar {
        let mut w = WeeklyHours::new();
        for (i, day) in self.week.iter().enumerate() {
            let wd = [
                chrono::Weekday::Mon,
                chrono::Weekday::Tue,
                chrono::Weekday::Wed,
                chrono::Weekday::Thu,
                chrono::Weekday::Fri,
                chrono::Weekday::Sat,
                chrono::Weekday::Sun,
            ][i];
            w.set(
                wd,
                day.iter()
                    .map(|&(s, e)| TimeRange::new(s, e).unwrap())
                    .collect(),
            )
            .unwrap();
        }
        let mut b = Calendar::builder("ref", self.tz)
            .hours(w)
            .holidays(self.holidays.iter().copied())
            .extra_working_days(self.extra.iter().copied())
            .makeup_hours(
                self.makeup
                    .iter()
                    .map(|&(s, e)| TimeRange::new(s, e).unwrap())
                    .collect(),
            );
        if narrow_index {
            // Only December 2025 is indexed: later instants take the day-walking path.
            b = b.index_years(2025, 2026);
        }
        b.build().unwrap()
    }
}

/// Reference elapsed time of a paused clock: working minutes in the active periods.
pub fn reference_elapsed(
    cal: &RefCalendar,
    start: DateTime<Utc>,
    pauses: &[(DateTime<Utc>, DateTime<Utc>)],
    now: DateTime<Utc>,
) -> i64 {
    let (s, n) = (start.timestamp() / 60, now.timestamp() / 60);
    (s..n)
        .filter(|&m| {
            let t = m * 60;
            !pauses
                .iter()
                .any(|(a, b)| a.timestamp() <= t && t < b.timestamp())
                && cal.minute_is_working(m)
        })
        .count() as i64
}
