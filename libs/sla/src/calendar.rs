//! Business calendars: weekly working hours in a time zone, holidays, extra working days (调休).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Datelike, LocalResult, NaiveDate, TimeDelta, TimeZone, Utc, Weekday};
use chrono_tz::Tz;
use serde::Serialize;

use crate::duration::format_secs;

/// Minutes in a day; a range may end at `24:00`.
const DAY_MINUTES: u16 = 1_440;

/// The first year of the precomputed index when the calendar names no earlier date.
const DEFAULT_INDEX_FROM: i32 = 2024;
/// The first year after the precomputed index when the calendar names no later date.
const DEFAULT_INDEX_UNTIL: i32 = 2036;

/// Weekdays in the order used by [`WeeklyHours`] and policy files.
const WEEKDAYS: [Weekday; 7] = [
    Weekday::Mon,
    Weekday::Tue,
    Weekday::Wed,
    Weekday::Thu,
    Weekday::Fri,
    Weekday::Sat,
    Weekday::Sun,
];

/// Returns the three-letter lowercase key (`mon` … `sun`) policy files use for a weekday.
pub(crate) fn weekday_key(w: Weekday) -> &'static str {
    ["mon", "tue", "wed", "thu", "fri", "sat", "sun"][w.num_days_from_monday() as usize]
}

/// Errors found while building a calendar.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CalendarError {
    /// A time of day could not be read (expected `HH:MM`, `00:00` to `24:00`).
    #[error("invalid time of day \"{0}\": expected HH:MM between 00:00 and 24:00")]
    BadTime(String),
    /// A range could not be read (expected `HH:MM-HH:MM`).
    #[error("invalid range \"{0}\": expected \"HH:MM-HH:MM\", e.g. \"09:00-12:00\"")]
    BadRange(String),
    /// A range ends at or before its start.
    #[error("range {0} is empty or backwards: the end must come after the start")]
    EmptyRange(TimeRange),
    /// Two ranges of the same day overlap.
    #[error("ranges {a} and {b} on {day} overlap")]
    OverlappingRanges {
        /// Which day (`mon` … `sun`, or `makeup`).
        day: String,
        /// The earlier range.
        a: TimeRange,
        /// The later range.
        b: TimeRange,
    },
    /// The weekly template has no working time, so no deadline could ever be reached.
    #[error("the calendar has no working hours on any weekday")]
    NoWorkingTime,
    /// A date is both a holiday and an extra working day.
    #[error("{0} is listed both as a holiday and as an extra working day")]
    HolidayAndWorkingDay(NaiveDate),
    /// The working-day length (the `wd` unit) is zero or negative.
    #[error("the working day must be longer than zero")]
    NonPositiveWorkingDay,
    /// The time zone name is not in the IANA database.
    #[error("unknown time zone \"{0}\" (use an IANA name such as \"Asia/Shanghai\")")]
    UnknownTimeZone(String),
    /// The index window is empty.
    #[error("the index window {0}..{1} is empty")]
    EmptyIndexWindow(i32, i32),
}

/// A working-time range within one local day, from `start` (inclusive) to `end` (exclusive),
/// in minutes since local midnight; `end` may be 1440 (`24:00`).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TimeRange {
    start: u16,
    end: u16,
}

impl TimeRange {
    /// Creates a range from minutes since midnight; rejects empty, backwards or out-of-day ranges.
    pub fn new(start_minute: u16, end_minute: u16) -> Result<Self, CalendarError> {
        let r = TimeRange {
            start: start_minute,
            end: end_minute,
        };
        if end_minute > DAY_MINUTES || start_minute >= end_minute {
            return Err(CalendarError::EmptyRange(r));
        }
        Ok(r)
    }

    /// Creates a range from hours and minutes, e.g. `TimeRange::hm(9, 0, 12, 0)`.
    pub fn hm(h1: u16, m1: u16, h2: u16, m2: u16) -> Result<Self, CalendarError> {
        if m1 >= 60 || m2 >= 60 {
            return Err(CalendarError::BadTime(format!("{h1}:{m1} or {h2}:{m2}")));
        }
        Self::new(h1 * 60 + m1, h2 * 60 + m2)
    }

    /// Returns the start in minutes since local midnight.
    pub fn start_minute(&self) -> u16 {
        self.start
    }

    /// Returns the end in minutes since local midnight (1440 for `24:00`).
    pub fn end_minute(&self) -> u16 {
        self.end
    }

    /// Returns the length of the range in minutes.
    pub fn minutes(&self) -> u16 {
        self.end - self.start
    }
}

fn parse_hhmm(s: &str) -> Result<u16, CalendarError> {
    let bad = || CalendarError::BadTime(s.to_string());
    let (h, m) = s.trim().split_once(':').ok_or_else(bad)?;
    if h.is_empty() || h.len() > 2 || m.len() != 2 {
        return Err(bad());
    }
    let h: u16 = h.parse().map_err(|_| bad())?;
    let m: u16 = m.parse().map_err(|_| bad())?;
    if m >= 60 || h > 24 || (h == 24 && m != 0) {
        return Err(bad());
    }
    Ok(h * 60 + m)
}

impl FromStr for TimeRange {
    type Err = CalendarError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (a, b) = s
            .split_once('-')
            .ok_or_else(|| CalendarError::BadRange(s.to_string()))?;
        let start = parse_hhmm(a)?;
        let end = parse_hhmm(b)?;
        TimeRange::new(start, end)
    }
}

impl fmt::Display for TimeRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:02}:{:02}-{:02}:{:02}",
            self.start / 60,
            self.start % 60,
            self.end / 60,
            self.end % 60
        )
    }
}

impl fmt::Debug for TimeRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl Serialize for TimeRange {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// Sorts ranges and rejects overlaps; touching ranges (`09:00-12:00`, `12:00-13:00`) are merged
/// so that the index holds as few intervals as possible.
fn normalize(day: &str, mut ranges: Vec<TimeRange>) -> Result<Vec<TimeRange>, CalendarError> {
    ranges.sort();
    let mut out: Vec<TimeRange> = Vec::with_capacity(ranges.len());
    for r in ranges {
        match out.last_mut() {
            Some(last) if r.start < last.end => {
                return Err(CalendarError::OverlappingRanges {
                    day: day.to_string(),
                    a: *last,
                    b: r,
                })
            }
            Some(last) if r.start == last.end => last.end = r.end,
            _ => out.push(r),
        }
    }
    Ok(out)
}

/// Working hours for each day of the week (Monday first), several ranges per day allowed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WeeklyHours {
    days: [Vec<TimeRange>; 7],
}

impl WeeklyHours {
    /// Returns a week without working hours; fill it with [`WeeklyHours::set`].
    pub fn new() -> Self {
        Self::default()
    }

    /// Returns the same ranges on Monday to Friday and nothing at the weekend.
    pub fn weekdays(ranges: &[TimeRange]) -> Result<Self, CalendarError> {
        let mut w = Self::new();
        for day in &WEEKDAYS[..5] {
            w.set(*day, ranges.to_vec())?;
        }
        Ok(w)
    }

    /// Replaces the ranges of one weekday; rejects overlapping ranges.
    pub fn set(&mut self, day: Weekday, ranges: Vec<TimeRange>) -> Result<(), CalendarError> {
        self.days[day.num_days_from_monday() as usize] = normalize(weekday_key(day), ranges)?;
        Ok(())
    }

    /// Returns the ranges of one weekday, sorted.
    pub fn get(&self, day: Weekday) -> &[TimeRange] {
        &self.days[day.num_days_from_monday() as usize]
    }

    fn is_empty(&self) -> bool {
        self.days.iter().all(Vec::is_empty)
    }
}

/// Builds a business [`Calendar`]; see [`Calendar::builder`].
#[derive(Debug, Clone)]
pub struct CalendarBuilder {
    name: String,
    tz: Tz,
    week: WeeklyHours,
    makeup: Option<Vec<TimeRange>>,
    holidays: BTreeSet<NaiveDate>,
    extra: BTreeSet<NaiveDate>,
    working_day: Option<i64>,
    index_years: Option<(i32, i32)>,
}

impl CalendarBuilder {
    /// Sets the weekly working hours.
    pub fn hours(mut self, week: WeeklyHours) -> Self {
        self.week = week;
        self
    }

    /// Adds a holiday: no working time on that local date.
    pub fn holiday(mut self, date: NaiveDate) -> Self {
        self.holidays.insert(date);
        self
    }

    /// Adds holidays.
    pub fn holidays(mut self, dates: impl IntoIterator<Item = NaiveDate>) -> Self {
        self.holidays.extend(dates);
        self
    }

    /// Adds an extra working day (调休): a date, usually a weekend, worked with the make-up hours.
    pub fn extra_working_day(mut self, date: NaiveDate) -> Self {
        self.extra.insert(date);
        self
    }

    /// Adds extra working days.
    pub fn extra_working_days(mut self, dates: impl IntoIterator<Item = NaiveDate>) -> Self {
        self.extra.extend(dates);
        self
    }

    /// Sets the hours worked on extra working days (default: the first weekday that has hours).
    pub fn makeup_hours(mut self, ranges: Vec<TimeRange>) -> Self {
        self.makeup = Some(ranges);
        self
    }

    /// Sets the length of one working day, the `wd` unit (default: the first weekday's total).
    pub fn working_day(mut self, length: TimeDelta) -> Self {
        self.working_day = Some(length.num_seconds());
        self
    }

    /// Sets the years `[from, until)` precomputed for fast lookups; outside them the calendar
    /// stays correct but walks day by day. The default covers 2024-2035 and every listed date.
    pub fn index_years(mut self, from: i32, until: i32) -> Self {
        self.index_years = Some((from, until));
        self
    }

    /// Validates the calendar and precomputes its working intervals.
    pub fn build(self) -> Result<Calendar, CalendarError> {
        if self.week.is_empty() {
            return Err(CalendarError::NoWorkingTime);
        }
        if let Some(d) = self.holidays.intersection(&self.extra).next() {
            return Err(CalendarError::HolidayAndWorkingDay(*d));
        }
        // A normal working day: the first weekday that has hours (Monday in most calendars).
        let normal_day = WEEKDAYS
            .iter()
            .map(|d| self.week.get(*d))
            .find(|r| !r.is_empty())
            .map(<[TimeRange]>::to_vec)
            .unwrap_or_default();
        let working_day = self
            .working_day
            .unwrap_or_else(|| normal_day.iter().map(|r| i64::from(r.minutes()) * 60).sum());
        let makeup = match self.makeup {
            Some(r) => normalize("makeup", r)?,
            None => normal_day,
        };
        if working_day <= 0 {
            return Err(CalendarError::NonPositiveWorkingDay);
        }
        let (from, until) = self.index_years.unwrap_or_else(|| {
            let years = self.holidays.iter().chain(&self.extra).map(Datelike::year);
            let (lo, hi) = years.fold(
                (DEFAULT_INDEX_FROM, DEFAULT_INDEX_UNTIL - 1),
                |(lo, hi), y| (lo.min(y), hi.max(y)),
            );
            (lo, hi + 1)
        });
        if from >= until {
            return Err(CalendarError::EmptyIndexWindow(from, until));
        }
        let mut b = Business {
            tz: self.tz,
            week: self.week,
            makeup,
            holidays: self.holidays,
            extra: self.extra,
            working_day,
            index: Index::default(),
        };
        b.index = Index::build(&b, from, until);
        Ok(Calendar {
            name: self.name,
            kind: Kind::Business(Box::new(b)),
        })
    }
}

/// A calendar that says which instants are working time.
///
/// Two kinds exist: 24x7 ([`Calendar::always`]), where every second counts, and business
/// calendars ([`Calendar::builder`]), with weekly hours in a time zone, holidays and extra
/// working days. Times have one-second resolution.
///
/// Business calendars precompute their working intervals for a window of years (2024-2035 and
/// every year a holiday or extra day names), so elapsed time and deadlines inside it cost two
/// binary searches; outside it they stay correct but walk day by day.
#[derive(Debug, Clone)]
pub struct Calendar {
    name: String,
    kind: Kind,
}

#[derive(Debug, Clone)]
enum Kind {
    Always,
    Business(Box<Business>),
}

#[derive(Debug, Clone)]
struct Business {
    tz: Tz,
    week: WeeklyHours,
    makeup: Vec<TimeRange>,
    holidays: BTreeSet<NaiveDate>,
    extra: BTreeSet<NaiveDate>,
    working_day: i64,
    index: Index,
}

/// Every working interval of the window as Unix seconds, with running totals.
#[derive(Debug, Clone, Default)]
struct Index {
    /// Unix second of the window's first local midnight.
    lo: i64,
    /// Unix second of the local midnight that ends the window.
    hi: i64,
    starts: Vec<i64>,
    ends: Vec<i64>,
    /// Working seconds from `lo` to the end of interval `i`.
    cum_end: Vec<i64>,
}

impl Index {
    fn build(b: &Business, from: i32, until: i32) -> Index {
        let first = NaiveDate::from_ymd_opt(from, 1, 1).unwrap_or(NaiveDate::MIN);
        let end = NaiveDate::from_ymd_opt(until, 1, 1).unwrap_or(NaiveDate::MAX);
        let mut idx = Index {
            lo: local_to_utc(&b.tz, first, 0),
            hi: local_to_utc(&b.tz, end, 0),
            ..Index::default()
        };
        let mut total = 0;
        let mut d = first;
        while d < end {
            b.for_each_interval(d, |s, e| {
                idx.starts.push(s);
                idx.ends.push(e);
                total += e - s;
                idx.cum_end.push(total);
            });
            d = d.succ_opt().unwrap_or(end);
        }
        idx
    }

    fn total(&self) -> i64 {
        self.cum_end.last().copied().unwrap_or(0)
    }

    /// Working seconds from `lo` to `t`, for `lo <= t <= hi`.
    #[inline]
    fn position(&self, t: i64) -> i64 {
        let i = self.starts.partition_point(|&s| s <= t);
        if i == 0 {
            return 0;
        }
        let j = i - 1;
        self.cum_end[j] - (self.ends[j] - t.min(self.ends[j]))
    }

    /// The instant at which the position reaches `target`, for `0 < target <= total`; an exact
    /// fit ends at the end of a range rather than at the start of the next one.
    #[inline]
    fn instant(&self, target: i64) -> i64 {
        let k = self.cum_end.partition_point(|&c| c < target);
        self.ends[k] - (self.cum_end[k] - target)
    }

    fn contains(&self, t: i64) -> bool {
        self.lo <= t && t < self.hi
    }
}

/// Converts a local date and minute of day to a Unix second. Ambiguous local times (the clock
/// goes back) take the earlier instant; local times skipped by a DST jump take the instant of
/// the jump, so a range crossing the gap keeps only its real length.
fn local_to_utc(tz: &Tz, date: NaiveDate, minute: u16) -> i64 {
    let (date, minute) = if minute >= DAY_MINUTES {
        (date.succ_opt().unwrap_or(date), minute - DAY_MINUTES)
    } else {
        (date, minute)
    };
    let naive =
        date.and_hms_opt(0, 0, 0).unwrap_or_default() + TimeDelta::minutes(i64::from(minute));
    match tz.from_local_datetime(&naive) {
        LocalResult::Single(x) | LocalResult::Ambiguous(x, _) => x.timestamp(),
        LocalResult::None => {
            // Gaps are at most a few hours; step to the first local minute that exists.
            let mut n = naive;
            for _ in 0..(48 * 60) {
                n += TimeDelta::minutes(1);
                if let Some(x) = tz.from_local_datetime(&n).earliest() {
                    return x.timestamp();
                }
            }
            naive.and_utc().timestamp()
        }
    }
}

impl Business {
    fn ranges_on(&self, d: NaiveDate) -> &[TimeRange] {
        if self.holidays.contains(&d) {
            &[]
        } else if self.extra.contains(&d) {
            &self.makeup
        } else {
            self.week.get(d.weekday())
        }
    }

    /// Calls `f(start, end)` for each working interval of a local date, in Unix seconds.
    fn for_each_interval(&self, d: NaiveDate, mut f: impl FnMut(i64, i64)) {
        for r in self.ranges_on(d) {
            let s = local_to_utc(&self.tz, d, r.start);
            let e = local_to_utc(&self.tz, d, r.end);
            if e > s {
                f(s, e);
            }
        }
    }

    fn local_date(&self, t: i64) -> NaiveDate {
        match self.tz.timestamp_opt(t, 0) {
            LocalResult::Single(x) | LocalResult::Ambiguous(x, _) => x.date_naive(),
            LocalResult::None => DateTime::from_timestamp(t, 0)
                .map(|x| x.date_naive())
                .unwrap_or_default(),
        }
    }

    /// Working seconds in `[a, b)` by walking the days; correct everywhere, used outside the index.
    fn slow_working(&self, a: i64, b: i64) -> i64 {
        if a >= b {
            return 0;
        }
        let mut d = self.local_date(a).pred_opt().unwrap_or(NaiveDate::MIN);
        let last = self.local_date(b).succ_opt().unwrap_or(NaiveDate::MAX);
        let mut sum = 0;
        while d <= last {
            self.for_each_interval(d, |s, e| {
                let (s, e) = (s.max(a), e.min(b));
                if e > s {
                    sum += e - s;
                }
            });
            d = match d.succ_opt() {
                Some(n) => n,
                None => break,
            };
        }
        sum
    }

    /// Walks forward from `t` until `rem` working seconds have passed. With `stop`, gives up at
    /// the first day starting at or after it and returns what is left (`Err`).
    fn slow_add(&self, t: i64, mut rem: i64, stop: Option<i64>) -> Result<i64, i64> {
        let mut d = self.local_date(t).pred_opt().unwrap_or(NaiveDate::MIN);
        loop {
            if let Some(stop) = stop {
                if local_to_utc(&self.tz, d, 0) >= stop {
                    return Err(rem);
                }
            }
            let mut found = None;
            self.for_each_interval(d, |s, e| {
                if found.is_some() || e <= t {
                    return;
                }
                let s = s.max(t);
                let len = e - s;
                if len >= rem {
                    found = Some(s + rem);
                } else {
                    rem -= len;
                }
            });
            if let Some(x) = found {
                return Ok(x);
            }
            // The weekly template has working time, so only a finite run of holidays can
            // delay the answer; the loop ends.
            d = match d.succ_opt() {
                Some(n) => n,
                None => return Ok(i64::MAX),
            };
        }
    }

    fn working(&self, a: i64, b: i64) -> i64 {
        if a >= b {
            return 0;
        }
        let idx = &self.index;
        if idx.contains(a) && b <= idx.hi {
            return idx.position(b) - idx.position(a);
        }
        let mut sum = 0;
        if a < idx.lo {
            sum += self.slow_working(a, b.min(idx.lo));
        }
        let (ia, ib) = (a.max(idx.lo), b.min(idx.hi));
        if ia < ib {
            sum += idx.position(ib) - idx.position(ia);
        }
        if b > idx.hi {
            sum += self.slow_working(a.max(idx.hi), b);
        }
        sum
    }

    fn add(&self, mut t: i64, mut rem: i64) -> i64 {
        let idx = &self.index;
        loop {
            if rem <= 0 {
                return t;
            }
            if idx.contains(t) {
                let target = idx.position(t) + rem;
                if target <= idx.total() {
                    return idx.instant(target);
                }
                rem = target - idx.total();
                t = idx.hi;
                continue;
            }
            let stop = (t < idx.lo).then_some(idx.lo);
            match self.slow_add(t, rem, stop) {
                Ok(x) => return x,
                Err(left) => {
                    rem = left;
                    t = idx.lo;
                }
            }
        }
    }

    fn is_working(&self, t: i64) -> bool {
        if self.index.contains(t) {
            let i = self.index.starts.partition_point(|&s| s <= t);
            return i > 0 && t < self.index.ends[i - 1];
        }
        let mut hit = false;
        let d = self.local_date(t);
        self.for_each_interval(d, |s, e| hit |= s <= t && t < e);
        hit
    }
}

fn ts(t: DateTime<Utc>) -> i64 {
    t.timestamp()
}

fn from_ts(t: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(t, 0).unwrap_or(DateTime::<Utc>::MAX_UTC)
}

impl Calendar {
    /// Returns a 24x7 calendar: every second is working time, holidays do not exist.
    pub fn always(name: impl Into<String>) -> Calendar {
        Calendar {
            name: name.into(),
            kind: Kind::Always,
        }
    }

    /// Starts a business calendar in a time zone; add hours, holidays and extra days, then build.
    pub fn builder(name: impl Into<String>, time_zone: Tz) -> CalendarBuilder {
        CalendarBuilder {
            name: name.into(),
            tz: time_zone,
            week: WeeklyHours::new(),
            makeup: None,
            holidays: BTreeSet::new(),
            extra: BTreeSet::new(),
            working_day: None,
            index_years: None,
        }
    }

    /// Parses an IANA time zone name, with the error calendars use.
    pub fn parse_time_zone(name: &str) -> Result<Tz, CalendarError> {
        name.parse::<Tz>()
            .map_err(|_| CalendarError::UnknownTimeZone(name.to_string()))
    }

    /// Returns the calendar's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Tells whether the calendar is 24x7.
    pub fn is_always(&self) -> bool {
        matches!(self.kind, Kind::Always)
    }

    /// Returns the time zone of a business calendar (`None` for 24x7).
    pub fn time_zone(&self) -> Option<Tz> {
        match &self.kind {
            Kind::Always => None,
            Kind::Business(b) => Some(b.tz),
        }
    }

    /// Returns the length of one working day, the `wd` unit (24 hours for a 24x7 calendar).
    pub fn working_day(&self) -> TimeDelta {
        match &self.kind {
            Kind::Always => TimeDelta::days(1),
            Kind::Business(b) => TimeDelta::seconds(b.working_day),
        }
    }

    /// Renders an amount of working time in this calendar's units, for people: on a business
    /// calendar "4 working days (32 working hours)", "2 working hours 30 minutes"; on a 24x7
    /// calendar plain time ("1d8h").
    pub fn describe_working_time(&self, time: TimeDelta) -> String {
        let Kind::Business(b) = &self.kind else {
            return format_secs(time.num_seconds());
        };
        let secs = time.num_seconds();
        let hours = |s: i64| {
            let (h, m) = (s / 3600, s % 3600 / 60);
            let unit = if h == 1 {
                "working hour"
            } else {
                "working hours"
            };
            match (h, m) {
                (0, m) => format!("{m} working minutes"),
                (h, 0) => format!("{h} {unit}"),
                (h, m) => format!("{h} {unit} {m} minutes"),
            }
        };
        if b.working_day <= 0 || secs < b.working_day {
            return hours(secs);
        }
        let (days, rest) = (secs / b.working_day, secs % b.working_day);
        let day_unit = if days == 1 {
            "working day"
        } else {
            "working days"
        };
        if rest == 0 {
            format!("{days} {day_unit} ({})", hours(secs))
        } else {
            format!("{days} {day_unit} {} ({})", hours(rest), hours(secs))
        }
    }

    /// Returns the working time in `[from, to)` (zero when `to <= from`), in whole seconds.
    pub fn working_time(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> TimeDelta {
        TimeDelta::seconds(self.working_secs(ts(from), ts(to)))
    }

    pub(crate) fn working_secs(&self, a: i64, b: i64) -> i64 {
        match &self.kind {
            Kind::Always => (b - a).max(0),
            Kind::Business(bz) => bz.working(a, b),
        }
    }

    /// Returns the instant at which `amount` of working time has passed since `from`.
    ///
    /// A positive amount always ends inside working time: when it fits exactly, the answer is
    /// the end of a working range (17:00), not the start of the next one (next day 09:00),
    /// because a promise "by 17:00" is the stricter and the more honest one. A zero or negative
    /// amount returns `from` unchanged.
    pub fn add_working_time(&self, from: DateTime<Utc>, amount: TimeDelta) -> DateTime<Utc> {
        from_ts(self.add_secs(ts(from), amount.num_seconds()))
    }

    pub(crate) fn add_secs(&self, t: i64, amount: i64) -> i64 {
        match &self.kind {
            Kind::Always => t.saturating_add(amount.max(0)),
            Kind::Business(b) => b.add(t, amount),
        }
    }

    /// Tells whether an instant is working time.
    pub fn is_working(&self, at: DateTime<Utc>) -> bool {
        match &self.kind {
            Kind::Always => true,
            Kind::Business(b) => b.is_working(ts(at)),
        }
    }

    /// Tells whether a local date has working time (not a holiday, a working weekday or an
    /// extra working day). Always true for a 24x7 calendar.
    pub fn is_working_day(&self, date: NaiveDate) -> bool {
        match &self.kind {
            Kind::Always => true,
            Kind::Business(b) => !b.ranges_on(date).is_empty(),
        }
    }

    /// Returns the working ranges of a local date (a full day for a 24x7 calendar).
    pub fn ranges_on(&self, date: NaiveDate) -> Vec<TimeRange> {
        match &self.kind {
            Kind::Always => vec![TimeRange {
                start: 0,
                end: DAY_MINUTES,
            }],
            Kind::Business(b) => b.ranges_on(date).to_vec(),
        }
    }

    /// Describes the calendar for an explanation, listing the holidays and extra working days
    /// between two instants (local dates, inclusive).
    pub fn summary(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> CalendarSummary {
        match &self.kind {
            Kind::Always => CalendarSummary {
                name: self.name.clone(),
                always: true,
                time_zone: None,
                weekly_hours: BTreeMap::new(),
                makeup_hours: Vec::new(),
                working_day: "1d".into(),
                holidays: Vec::new(),
                extra_working_days: Vec::new(),
            },
            Kind::Business(b) => {
                let (d0, d1) = (b.local_date(ts(from)), b.local_date(ts(to)));
                CalendarSummary {
                    name: self.name.clone(),
                    always: false,
                    time_zone: Some(b.tz.name().to_string()),
                    weekly_hours: WEEKDAYS
                        .iter()
                        .map(|d| (weekday_key(*d).to_string(), b.week.get(*d).to_vec()))
                        .collect(),
                    makeup_hours: b.makeup.clone(),
                    working_day: format_secs(b.working_day),
                    holidays: b.holidays.range(d0..=d1).copied().collect(),
                    extra_working_days: b.extra.range(d0..=d1).copied().collect(),
                }
            }
        }
    }

    /// Returns every holiday (empty for 24x7).
    pub fn holidays(&self) -> Vec<NaiveDate> {
        match &self.kind {
            Kind::Always => Vec::new(),
            Kind::Business(b) => b.holidays.iter().copied().collect(),
        }
    }

    /// Returns every extra working day (empty for 24x7).
    pub fn extra_working_days(&self) -> Vec<NaiveDate> {
        match &self.kind {
            Kind::Always => Vec::new(),
            Kind::Business(b) => b.extra.iter().copied().collect(),
        }
    }

    /// The last year whose public holidays this business calendar lists, `None` for a 24x7
    /// calendar or one without any holiday. Holidays are published a year at a time (the State
    /// Council's notice each autumn); past that year the calendar counts holidays as working
    /// days, so deadlines come too early.
    pub fn holidays_listed_until(&self) -> Option<i32> {
        match &self.kind {
            Kind::Always => None,
            Kind::Business(b) => b.holidays.last().map(Datelike::year),
        }
    }
}

/// A serializable description of a calendar, as shown in an explanation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CalendarSummary {
    /// The calendar's name in the policy.
    pub name: String,
    /// True for a 24x7 calendar.
    pub always: bool,
    /// The IANA time zone of a business calendar.
    pub time_zone: Option<String>,
    /// Working ranges per weekday key (`mon` … `sun`).
    pub weekly_hours: BTreeMap<String, Vec<TimeRange>>,
    /// Ranges worked on extra working days.
    pub makeup_hours: Vec<TimeRange>,
    /// The length of one working day (`wd`).
    pub working_day: String,
    /// Holidays in the explained period.
    pub holidays: Vec<NaiveDate>,
    /// Extra working days (调休) in the explained period.
    pub extra_working_days: Vec<NaiveDate>,
}

impl fmt::Display for Calendar {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            Kind::Always => write!(f, "{} (24x7)", self.name),
            Kind::Business(b) => write!(f, "{} ({})", self.name, b.tz.name()),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use chrono_tz::Asia::Shanghai;

    fn at(s: &str) -> DateTime<Utc> {
        Shanghai
            .from_local_datetime(
                &chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M").unwrap(),
            )
            .unwrap()
            .with_timezone(&Utc)
    }

    fn office() -> Calendar {
        let r = [
            "09:00-12:00".parse().unwrap(),
            "13:30-18:00".parse().unwrap(),
        ];
        Calendar::builder("office", Shanghai)
            .hours(WeeklyHours::weekdays(&r).unwrap())
            .holiday(NaiveDate::from_ymd_opt(2026, 10, 1).unwrap())
            .extra_working_day(NaiveDate::from_ymd_opt(2026, 10, 10).unwrap())
            .build()
            .unwrap()
    }

    #[test]
    fn deadline_skips_lunch_nights_and_holidays() {
        let c = office();
        // Wed 30 Sep 17:00 + 2h: 1h today, lunch does not count, Thu 1 Oct is a holiday.
        let d = c.add_working_time(at("2026-09-30 17:00"), TimeDelta::hours(2));
        assert_eq!(d, at("2026-10-02 10:00"));
        // An exact fit ends at the end of the range.
        let d = c.add_working_time(at("2026-09-30 17:00"), TimeDelta::hours(1));
        assert_eq!(d, at("2026-09-30 18:00"));
        assert_eq!(
            c.working_time(at("2026-09-30 11:00"), at("2026-09-30 14:30")),
            TimeDelta::hours(2)
        );
    }

    #[test]
    fn extra_working_day_counts_on_a_saturday() {
        let c = office();
        assert!(c.is_working(at("2026-10-10 10:00")));
        assert!(!c.is_working(at("2026-10-03 10:00")));
        let d = c.add_working_time(at("2026-10-09 17:30"), TimeDelta::hours(1));
        assert_eq!(d, at("2026-10-10 09:30"));
    }

    #[test]
    fn rejects_overlaps_and_conflicts() {
        let mut w = WeeklyHours::new();
        let err = w
            .set(
                Weekday::Mon,
                vec![
                    "09:00-12:00".parse().unwrap(),
                    "11:00-13:00".parse().unwrap(),
                ],
            )
            .unwrap_err();
        assert!(err.to_string().contains("overlap"));
        assert!("25:00-26:00".parse::<TimeRange>().is_err());
        assert!("12:00-09:00".parse::<TimeRange>().is_err());
        let d = NaiveDate::from_ymd_opt(2026, 1, 1).unwrap();
        let r = ["09:00-17:00".parse().unwrap()];
        let err = Calendar::builder("x", Shanghai)
            .hours(WeeklyHours::weekdays(&r).unwrap())
            .holiday(d)
            .extra_working_day(d)
            .build()
            .unwrap_err();
        assert_eq!(err, CalendarError::HolidayAndWorkingDay(d));
        assert_eq!(
            Calendar::builder("x", Shanghai).build().unwrap_err(),
            CalendarError::NoWorkingTime
        );
    }

    #[test]
    fn outside_the_index_gives_the_same_answers() {
        let r = [
            "09:00-12:00".parse().unwrap(),
            "13:30-18:00".parse().unwrap(),
        ];
        let narrow = Calendar::builder("n", Shanghai)
            .hours(WeeklyHours::weekdays(&r).unwrap())
            .index_years(2026, 2027)
            .build()
            .unwrap();
        let wide = Calendar::builder("w", Shanghai)
            .hours(WeeklyHours::weekdays(&r).unwrap())
            .build()
            .unwrap();
        for (s, h) in [
            ("2025-12-31 17:00", 20),
            ("2026-12-30 10:00", 30),
            ("2040-01-01 00:00", 3),
        ] {
            let a = narrow.add_working_time(at(s), TimeDelta::hours(h));
            let b = wide.add_working_time(at(s), TimeDelta::hours(h));
            assert_eq!(a, b, "{s}");
            assert_eq!(
                narrow.working_time(at(s), a),
                wide.working_time(at(s), b),
                "{s}"
            );
        }
    }
}
