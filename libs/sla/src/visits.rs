//! Visit planning: tier cadences in calendar terms, visit days on a business calendar, care dates.
//!
//! A visit plan is not a clock: "A weekly, B monthly, C every two months" (DOMAIN §2, seed 001)
//! is a calendar rule. A month is a calendar month counted from a fixed anchor (31 January,
//! then 28/29 February, then 31 March), never 30 days and never chained from the previous
//! visit's clamped date. The numbers come from the policy's `[visits]` table
//! ([`crate::Policy::visits`]); everything here is pure and takes its dates as arguments.
//!
//! ```
//! use chrono::NaiveDate;
//! use csops_sla::visits::plan_dates;
//! use csops_sla::{Policy, Tier};
//!
//! let policy = Policy::default_presets();
//! let rules = policy.visits();
//! let calendar = policy.visit_calendar();
//! let last_visit = NaiveDate::from_ymd_opt(2026, 8, 31).unwrap();
//! let until = last_visit + chrono::Days::new(u64::from(rules.horizon_days));
//! let plan = plan_dates(rules.cadence(Tier::B), last_visit, last_visit, until, calendar,
//!     rules.holiday_shift);
//! // 30 September is a working day; 31 October is a Saturday, so the visit moves to Friday.
//! assert_eq!(plan[0].date, NaiveDate::from_ymd_opt(2026, 9, 30).unwrap());
//! assert_eq!(plan[1].nominal, NaiveDate::from_ymd_opt(2026, 10, 31).unwrap());
//! assert_eq!(plan[1].date, NaiveDate::from_ymd_opt(2026, 10, 30).unwrap());
//! ```

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Datelike, Days, Months, NaiveDate, TimeDelta, Utc};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::calendar::Calendar;
use crate::case::Tier;
use crate::duration::format_secs;

/// The longest cadence accepted, in each unit: ten years.
const MAX_DAYS: u32 = 3_652;
const MAX_WEEKS: u32 = 521;
const MAX_MONTHS: u32 = 120;

/// How far [`visit_day`] looks for a working day.
const SHIFT_SEARCH_DAYS: u64 = 60;

/// The most dates [`plan_dates`] returns.
const MAX_PLANNED: usize = 1_000;

/// How often something recurs, in calendar terms.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Cadence {
    /// Every n days.
    Days(u32),
    /// Every n weeks (7 n days).
    Weeks(u32),
    /// Every n calendar months, on the anchor's day of the month (or the month's last day).
    Months(u32),
}

impl Cadence {
    /// Parses "7d", "1w", "2w", "1mo", "2mo" (n >= 1, at most 10 years); error names the text.
    pub fn parse(text: &str) -> Result<Cadence, String> {
        let t = text.trim();
        let digits = t.bytes().take_while(u8::is_ascii_digit).count();
        let (number, unit) = t.split_at(digits);
        let hint = "write a number and d, w or mo, e.g. \"7d\", \"1w\", \"1mo\"";
        if number.is_empty() {
            return Err(format!("invalid cadence \"{text}\": {hint}"));
        }
        let n: u32 = number
            .parse()
            .map_err(|_| format!("invalid cadence \"{text}\": number too large"))?;
        let (cadence, max) = match unit {
            "d" => (Cadence::Days(n), MAX_DAYS),
            "w" => (Cadence::Weeks(n), MAX_WEEKS),
            "mo" => (Cadence::Months(n), MAX_MONTHS),
            "m" => {
                return Err(format!(
                    "invalid cadence \"{text}\": \"m\" is ambiguous; write \"mo\" for months"
                ))
            }
            "" => return Err(format!("invalid cadence \"{text}\": missing unit; {hint}")),
            other => {
                return Err(format!(
                    "invalid cadence \"{text}\": unknown unit \"{other}\"; {hint}"
                ))
            }
        };
        if n == 0 {
            return Err(format!(
                "invalid cadence \"{text}\": a cadence must be at least 1"
            ));
        }
        if n > max {
            return Err(format!(
                "invalid cadence \"{text}\": at most 10 years ({max}{unit})"
            ));
        }
        Ok(cadence)
    }

    /// anchor + n * self; months are anchored: from Jan 31, n=1 is Feb 28 (Feb 29 in a leap
    /// year), n=2 is Mar 31 (NOT Mar 28: always computed from the anchor, never chained).
    /// Saturates at the last representable date.
    pub fn nth_after(&self, anchor: NaiveDate, n: u32) -> NaiveDate {
        let n = u64::from(n);
        let out = match *self {
            Cadence::Days(d) => anchor.checked_add_days(Days::new(n * u64::from(d))),
            Cadence::Weeks(w) => {
                anchor.checked_add_days(Days::new(n.saturating_mul(7 * u64::from(w))))
            }
            Cadence::Months(m) => u32::try_from(n * u64::from(m))
                .ok()
                .and_then(|months| anchor.checked_add_months(Months::new(months))),
        };
        out.unwrap_or(NaiveDate::MAX)
    }

    /// Approximate length in days (a month counts 30), for comparing cadences.
    pub fn approx_days(&self) -> i64 {
        match *self {
            Cadence::Days(d) => i64::from(d),
            Cadence::Weeks(w) => 7 * i64::from(w),
            Cadence::Months(m) => 30 * i64::from(m),
        }
    }

    /// The first n >= 1 whose date can be after `after`: every earlier n falls on or before it.
    fn first_candidate(&self, anchor: NaiveDate, after: NaiveDate) -> u32 {
        let steps = match *self {
            Cadence::Days(_) | Cadence::Weeks(_) => {
                (after - anchor).num_days() / self.approx_days().max(1)
            }
            Cadence::Months(m) => {
                let months = |d: NaiveDate| i64::from(d.year()) * 12 + i64::from(d.month0());
                (months(after) - months(anchor)) / i64::from(m.max(1))
            }
        };
        u32::try_from(steps.max(1)).unwrap_or(u32::MAX)
    }
}

impl fmt::Display for Cadence {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Cadence::Days(n) => write!(f, "{n}d"),
            Cadence::Weeks(n) => write!(f, "{n}w"),
            Cadence::Months(n) => write!(f, "{n}mo"),
        }
    }
}

impl FromStr for Cadence {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Cadence::parse(s)
    }
}

impl Serialize for Cadence {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Cadence {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        Cadence::parse(&text).map_err(serde::de::Error::custom)
    }
}

/// Which way a visit due on a day off moves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum HolidayShift {
    /// To the last working day before: a due date is a latest date, so "at least once per
    /// cadence" still holds.
    Earlier,
    /// To the first working day after.
    Later,
}

impl fmt::Display for HolidayShift {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            HolidayShift::Earlier => "earlier",
            HolidayShift::Later => "later",
        })
    }
}

/// A holiday on which customers receive care (a greeting, a card, a visit).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CareHoliday {
    /// The holiday's name, e.g. "National Day (国庆节)".
    pub name: String,
    /// Month, 1-12.
    pub month: u32,
    /// Day of the month.
    pub day: u32,
    /// `None`: every year on month/day; `Some(y)`: that year only (lunar holidays are listed
    /// per year).
    pub year: Option<i32>,
}

impl CareHoliday {
    /// The holiday's date in `year`, if it falls in that year.
    pub fn date_in(&self, year: i32) -> Option<NaiveDate> {
        match self.year {
            Some(y) if y != year => None,
            _ => annual_occurrence(self.month, self.day, year),
        }
    }

    /// The date as written in a policy file: "10-01" (every year) or "2027-02-06" (once).
    pub fn date_text(&self) -> String {
        match self.year {
            Some(y) => format!("{y:04}-{:02}-{:02}", self.month, self.day),
            None => format!("{:02}-{:02}", self.month, self.day),
        }
    }
}

/// The visits service's rules, from the policy's `[visits]` table.
#[derive(Debug, Clone, PartialEq)]
pub struct VisitRules {
    /// A calendar of the policy whose working days visits fall on
    /// ([`crate::Policy::visit_calendar`] returns it).
    pub calendar: String,
    /// Where a visit due on a day off moves.
    pub holiday_shift: HolidayShift,
    /// Cadence of tier A customers.
    pub tier_a: Cadence,
    /// Cadence of tier B customers.
    pub tier_b: Cadence,
    /// Cadence of tier C customers.
    pub tier_c: Cadence,
    /// VIP/key accounts: every plan visit in person.
    pub key_account_in_person: bool,
    /// Every customer met in person at least this often.
    pub in_person_every: Cadence,
    /// Visits are planned this many days ahead.
    pub horizon_days: u32,
    /// A visit is overdue (a breach) once due + grace passed.
    pub grace: TimeDelta,
    /// Care tasks are created/prepared this many days ahead.
    pub care_lead_days: u32,
    /// Holidays that produce care tasks.
    pub holidays: Vec<CareHoliday>,
}

impl VisitRules {
    /// Returns the cadence of a tier.
    pub fn cadence(&self, tier: Tier) -> Cadence {
        match tier {
            Tier::A => self.tier_a,
            Tier::B => self.tier_b,
            Tier::C => self.tier_c,
        }
    }

    /// Returns the instant a visit due at `due` becomes overdue: `due + grace`.
    pub fn overdue_at(&self, due: DateTime<Utc>) -> DateTime<Utc> {
        due.checked_add_signed(self.grace)
            .unwrap_or(DateTime::<Utc>::MAX_UTC)
    }

    /// Returns the day care for an occasion on `occasion` is created/prepared: `care_lead_days`
    /// before it.
    pub fn care_start(&self, occasion: NaiveDate) -> NaiveDate {
        occasion
            .checked_sub_days(Days::new(u64::from(self.care_lead_days)))
            .unwrap_or(NaiveDate::MIN)
    }

    /// Renders the rules as a `[visits]` table that loads back to the same rules.
    pub fn to_toml(&self) -> String {
        let q = |s: &str| toml::Value::String(s.to_string()).to_string();
        let mut out = format!(
            "[visits]\ncalendar = {}\nholiday_shift = {}\ncadence = {{ A = {}, B = {}, C = {} }}\n\
             key_account_in_person = {}\nin_person_every = {}\nhorizon = {}\ngrace = {}\n\
             care_lead = {}\n",
            q(&self.calendar),
            q(&self.holiday_shift.to_string()),
            q(&self.tier_a.to_string()),
            q(&self.tier_b.to_string()),
            q(&self.tier_c.to_string()),
            self.key_account_in_person,
            q(&self.in_person_every.to_string()),
            q(&format!("{}d", self.horizon_days)),
            q(&format_secs(self.grace.num_seconds())),
            q(&format!("{}d", self.care_lead_days)),
        );
        if self.holidays.is_empty() {
            out.push_str("holiday = []\n");
        }
        for h in &self.holidays {
            out.push_str(&format!(
                "\n[[visits.holiday]]\nname = {}\ndate = {}\n",
                q(&h.name),
                q(&h.date_text())
            ));
        }
        out
    }
}

/// One planned visit date.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PlannedDate {
    /// Which occurrence after the anchor (1 = one cadence after it).
    pub n: u32,
    /// The date the cadence gives.
    pub nominal: NaiveDate,
    /// The date the visit falls on: `nominal` moved off a day off by [`visit_day`].
    pub date: NaiveDate,
}

/// `nominal` if the calendar works that day (an extra working day / 调休 make-up day counts as
/// working, a holiday or a non-working weekend day does not), else the nearest working day
/// before (Earlier) or after (Later) it. Searches at most 60 days; returns nominal if none.
/// An `always` calendar works every day.
pub fn visit_day(calendar: &Calendar, nominal: NaiveDate, shift: HolidayShift) -> NaiveDate {
    if calendar.is_working_day(nominal) {
        return nominal;
    }
    (1..=SHIFT_SEARCH_DAYS)
        .map_while(|k| match shift {
            HolidayShift::Earlier => nominal.checked_sub_days(Days::new(k)),
            HolidayShift::Later => nominal.checked_add_days(Days::new(k)),
        })
        .find(|d| calendar.is_working_day(*d))
        .unwrap_or(nominal)
}

/// Every occurrence n >= 1 of `cadence` after `anchor` whose nominal date is > `after` and
/// <= `until` (inclusive), each adjusted with visit_day; ascending; at most 1000 entries.
/// Empty for a zero cadence (`Cadence::Days(0)`, which [`Cadence::parse`] refuses).
///
/// Nominal dates are strictly ascending; two of them may move onto the same day (weekly visits
/// due on both Sundays of a nine-day Spring Festival holiday both move to the make-up Saturday
/// before it with [`HolidayShift::Earlier`]), and an early date may move to or before `after`.
pub fn plan_dates(
    cadence: Cadence,
    anchor: NaiveDate,
    after: NaiveDate,
    until: NaiveDate,
    calendar: &Calendar,
    shift: HolidayShift,
) -> Vec<PlannedDate> {
    let mut out = Vec::new();
    // A zero cadence (only constructible by hand: `parse` refuses it) never moves on.
    if until <= after || cadence.approx_days() == 0 {
        return out;
    }
    let mut n = cadence.first_candidate(anchor, after);
    while out.len() < MAX_PLANNED {
        let nominal = cadence.nth_after(anchor, n);
        if nominal > until {
            break;
        }
        if nominal > after {
            out.push(PlannedDate {
                n,
                nominal,
                date: visit_day(calendar, nominal, shift),
            });
        }
        let Some(next) = n.checked_add(1) else { break };
        n = next;
    }
    out
}

/// The date an annual occasion (birthday, anniversary, holiday) falls on in `year`:
/// 29 February is celebrated on 28 February in a non-leap year; None for an impossible date
/// (month 13, 31 April...).
pub fn annual_occurrence(month: u32, day: u32, year: i32) -> Option<NaiveDate> {
    match NaiveDate::from_ymd_opt(year, month, day) {
        Some(d) => Some(d),
        None if month == 2 && day == 29 => NaiveDate::from_ymd_opt(year, 2, 28),
        None => None,
    }
}

/// Care holidays whose date falls in [from, until], with their date, ascending.
pub fn care_holidays_between(
    rules: &VisitRules,
    from: NaiveDate,
    until: NaiveDate,
) -> Vec<(String, NaiveDate)> {
    let mut out = Vec::new();
    if until < from {
        return out;
    }
    for h in &rules.holidays {
        let years = match h.year {
            Some(y) => y..=y,
            None => from.year()..=until.year(),
        };
        for year in years {
            if let Some(d) = h.date_in(year).filter(|d| (from..=until).contains(d)) {
                out.push((h.name.clone(), d));
            }
        }
    }
    // Stable: holidays on the same date keep the file's order.
    out.sort_by_key(|(_, d)| *d);
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::Policy;

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    fn service() -> Calendar {
        Policy::default_presets()
            .calendar("cn_service")
            .unwrap()
            .clone()
    }

    #[test]
    fn cadences_parse_display_and_round_trip() {
        for (text, c) in [
            ("7d", Cadence::Days(7)),
            ("1w", Cadence::Weeks(1)),
            ("2w", Cadence::Weeks(2)),
            ("1mo", Cadence::Months(1)),
            ("2mo", Cadence::Months(2)),
            ("120mo", Cadence::Months(120)),
        ] {
            assert_eq!(Cadence::parse(text).unwrap(), c);
            assert_eq!(c.to_string(), text);
            assert_eq!(text.parse::<Cadence>().unwrap(), c);
        }
        assert_eq!(Cadence::parse(" 3mo ").unwrap(), Cadence::Months(3));
        for bad in [
            "", "mo", "0d", "0mo", "7", "1m", "1y", "-1w", "1.5w", "121mo", "3653d",
        ] {
            let e = Cadence::parse(bad).unwrap_err();
            assert!(e.contains(&format!("\"{bad}\"")), "{bad}: {e}");
        }
        assert!(Cadence::parse("1m").unwrap_err().contains("mo"));
        assert_eq!(Cadence::Months(2).approx_days(), 60);
        assert_eq!(Cadence::Weeks(2).approx_days(), 14);
        assert_eq!(Cadence::Days(5).approx_days(), 5);
    }

    #[test]
    fn cadences_serialize_as_their_text() {
        let json = serde_json::to_string(&[Cadence::Weeks(1), Cadence::Months(2)]).unwrap();
        assert_eq!(json, r#"["1w","2mo"]"#);
        let back: Vec<Cadence> = serde_json::from_str(&json).unwrap();
        assert_eq!(back, [Cadence::Weeks(1), Cadence::Months(2)]);
        let e = serde_json::from_str::<Cadence>(r#""2x""#).unwrap_err();
        assert!(e.to_string().contains("\"2x\""), "{e}");
        let shift: HolidayShift = serde_json::from_str(r#""earlier""#).unwrap();
        assert_eq!(shift, HolidayShift::Earlier);
    }

    #[test]
    fn months_are_counted_from_the_anchor_across_month_ends() {
        let monthly = Cadence::Months(1);
        let jan31 = d("2027-01-31");
        assert_eq!(monthly.nth_after(jan31, 1), d("2027-02-28"));
        assert_eq!(monthly.nth_after(jan31, 2), d("2027-03-31"));
        assert_eq!(monthly.nth_after(jan31, 3), d("2027-04-30"));
        assert_eq!(monthly.nth_after(d("2028-01-31"), 1), d("2028-02-29"));
        assert_eq!(monthly.nth_after(d("2028-01-31"), 2), d("2028-03-31"));
        assert_eq!(
            Cadence::Months(2).nth_after(d("2026-12-31"), 1),
            d("2027-02-28")
        );
        assert_eq!(
            Cadence::Months(2).nth_after(d("2026-12-31"), 2),
            d("2027-04-30")
        );
        // A leap day, yearly: 28 February in the years without one, 29 February again in 2032.
        let yearly = Cadence::Months(12);
        assert_eq!(yearly.nth_after(d("2028-02-29"), 1), d("2029-02-28"));
        assert_eq!(yearly.nth_after(d("2028-02-29"), 4), d("2032-02-29"));
        assert_eq!(monthly.nth_after(jan31, 0), jan31);
        assert_eq!(monthly.nth_after(jan31, u32::MAX), NaiveDate::MAX);
    }

    #[test]
    fn weeks_and_days_add_whole_days() {
        assert_eq!(
            Cadence::Weeks(1).nth_after(d("2026-12-28"), 1),
            d("2027-01-04")
        );
        assert_eq!(
            Cadence::Weeks(2).nth_after(d("2026-12-28"), 3),
            d("2027-02-08")
        );
        assert_eq!(
            Cadence::Days(7).nth_after(d("2028-02-26"), 1),
            d("2028-03-04")
        );
        assert_eq!(
            Cadence::Days(30).nth_after(d("2027-01-31"), 1),
            d("2027-03-02")
        );
    }

    #[test]
    fn a_visit_due_on_national_day_moves_to_the_last_working_day_before() {
        let cal = service();
        // 1-7 October 2026 are holidays; Wednesday 30 September is worked.
        for day in 1..=7 {
            let nominal = NaiveDate::from_ymd_opt(2026, 10, day).unwrap();
            assert_eq!(
                visit_day(&cal, nominal, HolidayShift::Earlier),
                d("2026-09-30")
            );
        }
        // Later: Thursday 8 October, the first working day after.
        assert_eq!(
            visit_day(&cal, d("2026-10-03"), HolidayShift::Later),
            d("2026-10-08")
        );
        // The Mid-Autumn Festival (25-27 September) backs onto Thursday 24 September.
        assert_eq!(
            visit_day(&cal, d("2026-09-26"), HolidayShift::Earlier),
            d("2026-09-24")
        );
    }

    #[test]
    fn a_make_up_sunday_is_a_working_day_and_weekends_move_to_friday_or_monday() {
        let cal = service();
        // Sunday 20 September 2026 is worked (调休 before National Day): it stays.
        for shift in [HolidayShift::Earlier, HolidayShift::Later] {
            assert_eq!(visit_day(&cal, d("2026-09-20"), shift), d("2026-09-20"));
            // An ordinary Tuesday stays too.
            assert_eq!(visit_day(&cal, d("2026-03-03"), shift), d("2026-03-03"));
        }
        // Saturday 7 / Sunday 8 March 2026: Friday 6 before, Monday 9 after.
        for weekend in ["2026-03-07", "2026-03-08"] {
            assert_eq!(
                visit_day(&cal, d(weekend), HolidayShift::Earlier),
                d("2026-03-06")
            );
            assert_eq!(
                visit_day(&cal, d(weekend), HolidayShift::Later),
                d("2026-03-09")
            );
        }
        // Saturday 10 October is worked, so a visit due on Sunday 11 October moves to it.
        assert_eq!(
            visit_day(&cal, d("2026-10-11"), HolidayShift::Earlier),
            d("2026-10-10")
        );
    }

    #[test]
    fn a_24x7_calendar_never_moves_a_visit_and_a_calendar_without_working_days_keeps_it() {
        let always = Calendar::always("always");
        assert_eq!(
            visit_day(&always, d("2026-10-01"), HolidayShift::Earlier),
            d("2026-10-01")
        );
        let tz = Calendar::parse_time_zone("Asia/Shanghai").unwrap();
        let holidays = d("2026-01-01").iter_days().take(200);
        let closed = Calendar::builder("closed", tz)
            .hours(crate::WeeklyHours::weekdays(&["09:00-17:00".parse().unwrap()]).unwrap())
            .holidays(holidays)
            .build()
            .unwrap();
        // 1 April: the 60 days before it are all holidays, so it stays; 1 March would reach
        // Wednesday 31 December 2025.
        assert_eq!(
            visit_day(&closed, d("2026-04-01"), HolidayShift::Earlier),
            d("2026-04-01")
        );
        assert_eq!(
            visit_day(&closed, d("2026-03-01"), HolidayShift::Earlier),
            d("2025-12-31")
        );
        assert_eq!(
            visit_day(&closed, d("2026-06-01"), HolidayShift::Later),
            d("2026-07-20")
        );
    }

    #[test]
    fn tier_plans_over_ninety_days_from_the_last_visit() {
        let p = Policy::default_presets();
        let rules = p.visits();
        let cal = p.visit_calendar();
        let last = d("2026-08-31");
        let until = last + Days::new(u64::from(rules.horizon_days));
        assert_eq!(until, d("2026-11-29"));
        let plan = |tier| {
            plan_dates(
                rules.cadence(tier),
                last,
                last,
                until,
                cal,
                rules.holiday_shift,
            )
        };

        let a = plan(Tier::A);
        assert_eq!(a.len(), 12);
        assert!(a.iter().enumerate().all(|(i, x)| x.n as usize == i + 1));
        assert_eq!(a[0].nominal, d("2026-09-07"));
        assert_eq!(a.last().unwrap().nominal, d("2026-11-23"));
        // Monday 5 October is a holiday: Wednesday 30 September (1-4 October off, too).
        let oct5 = a.iter().find(|x| x.nominal == d("2026-10-05")).unwrap();
        assert_eq!(oct5.date, d("2026-09-30"));
        // Monday 28 September is an ordinary working day.
        assert!(a
            .iter()
            .any(|x| x.nominal == d("2026-09-28") && x.date == x.nominal));

        let b = plan(Tier::B);
        let dates: Vec<_> = b.iter().map(|x| (x.nominal, x.date)).collect();
        assert_eq!(
            dates,
            [
                (d("2026-09-30"), d("2026-09-30")),
                // Saturday 31 October: Friday 30 October.
                (d("2026-10-31"), d("2026-10-30")),
            ]
        );
        let c = plan(Tier::C);
        let dates: Vec<_> = c.iter().map(|x| (x.nominal, x.date)).collect();
        assert_eq!(dates, [(d("2026-10-31"), d("2026-10-30"))]);
    }

    #[test]
    fn plan_dates_start_after_after_and_end_at_until_inclusive() {
        let always = Calendar::always("always");
        let anchor = d("2026-01-31");
        let plan = plan_dates(
            Cadence::Months(1),
            anchor,
            d("2026-04-30"),
            d("2026-07-31"),
            &always,
            HolidayShift::Earlier,
        );
        let got: Vec<_> = plan.iter().map(|x| (x.n, x.nominal)).collect();
        assert_eq!(
            got,
            [
                (4, d("2026-05-31")),
                (5, d("2026-06-30")),
                (6, d("2026-07-31")),
            ]
        );
        // An anchor far in the past is skipped to quickly, and the list is capped.
        let long = plan_dates(
            Cadence::Days(1),
            d("1900-01-01"),
            d("2026-01-01"),
            d("2030-01-01"),
            &always,
            HolidayShift::Later,
        );
        assert_eq!(long.len(), 1_000);
        assert_eq!(long[0].nominal, d("2026-01-02"));
        assert!(plan_dates(
            Cadence::Weeks(1),
            anchor,
            anchor,
            anchor,
            &always,
            HolidayShift::Earlier
        )
        .is_empty());
        let max = plan_dates(
            Cadence::Months(120),
            anchor,
            NaiveDate::MAX,
            NaiveDate::MAX,
            &always,
            HolidayShift::Earlier,
        );
        assert!(max.is_empty());
        let zero = plan_dates(
            Cadence::Days(0),
            anchor,
            d("2025-01-01"),
            d("2027-01-01"),
            &always,
            HolidayShift::Earlier,
        );
        assert!(zero.is_empty());
        assert_eq!(
            Cadence::Weeks(u32::MAX).nth_after(anchor, u32::MAX),
            NaiveDate::MAX
        );
    }

    #[test]
    fn leap_day_occasions_fall_on_28_february_in_other_years() {
        assert_eq!(annual_occurrence(2, 29, 2027), Some(d("2027-02-28")));
        assert_eq!(annual_occurrence(2, 29, 2028), Some(d("2028-02-29")));
        assert_eq!(annual_occurrence(10, 1, 2027), Some(d("2027-10-01")));
        assert_eq!(annual_occurrence(13, 1, 2027), None);
        assert_eq!(annual_occurrence(4, 31, 2027), None);
        assert_eq!(annual_occurrence(2, 30, 2028), None);
        assert_eq!(annual_occurrence(0, 1, 2028), None);
    }

    #[test]
    fn care_holidays_between_lists_yearly_and_one_off_holidays_in_order() {
        let rules = Policy::default_presets().visits().clone();
        let got = care_holidays_between(&rules, d("2026-09-01"), d("2027-02-06"));
        let names: Vec<_> = got.iter().map(|(n, d)| (n.as_str(), *d)).collect();
        assert_eq!(
            names,
            [
                ("Mid-Autumn Festival (中秋节)", d("2026-09-25")),
                ("National Day (国庆节)", d("2026-10-01")),
                ("New Year's Day (元旦)", d("2027-01-01")),
                ("Spring Festival (春节)", d("2027-02-06")),
            ]
        );
        assert!(care_holidays_between(&rules, d("2027-02-07"), d("2027-02-06")).is_empty());
        let leap = VisitRules {
            holidays: vec![CareHoliday {
                name: "leap".into(),
                month: 2,
                day: 29,
                year: None,
            }],
            ..rules
        };
        let got = care_holidays_between(&leap, d("2027-01-01"), d("2028-12-31"));
        assert_eq!(
            got.iter().map(|x| x.1).collect::<Vec<_>>(),
            [d("2027-02-28"), d("2028-02-29")]
        );
    }

    mod properties {
        use super::*;
        use proptest::prelude::*;

        fn cadence() -> impl Strategy<Value = Cadence> {
            prop_oneof![
                (1u32..=45).prop_map(Cadence::Days),
                (1u32..=10).prop_map(Cadence::Weeks),
                (1u32..=24).prop_map(Cadence::Months),
            ]
        }

        fn date() -> impl Strategy<Value = NaiveDate> {
            // 2024-01-01 .. 2031-12-31
            (0u64..2_922).prop_map(|k| NaiveDate::from_ymd_opt(2024, 1, 1).unwrap() + Days::new(k))
        }

        fn shift() -> impl Strategy<Value = HolidayShift> {
            prop_oneof![Just(HolidayShift::Earlier), Just(HolidayShift::Later)]
        }

        /// A business calendar: some weekdays worked, random holidays (runs of them, so that
        /// long closures happen) and make-up days; or the presets' office calendar.
        fn calendar() -> impl Strategy<Value = Calendar> {
            let business = (
                prop::collection::vec(any::<bool>(), 7),
                prop::collection::vec((date(), 1u64..=90), 0..12),
                prop::collection::vec(date(), 0..12),
            )
                .prop_map(|(days, closures, extra)| {
                    let tz = Calendar::parse_time_zone("Asia/Shanghai").unwrap();
                    let mut week = crate::WeeklyHours::new();
                    for (i, on) in days.iter().enumerate() {
                        if *on || i == 0 {
                            let day = chrono::Weekday::try_from(i as u8).unwrap();
                            week.set(day, vec!["09:00-17:00".parse().unwrap()]).unwrap();
                        }
                    }
                    let holidays: std::collections::BTreeSet<NaiveDate> = closures
                        .iter()
                        .flat_map(|(start, len)| start.iter_days().take(*len as usize))
                        .collect();
                    let extra: Vec<NaiveDate> = extra
                        .into_iter()
                        .filter(|d| !holidays.contains(d))
                        .collect();
                    Calendar::builder("random", tz)
                        .hours(week)
                        .holidays(holidays)
                        .extra_working_days(extra)
                        .build()
                        .unwrap()
                });
            prop_oneof![1 => Just(service()), 4 => business]
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(300))]

            #[test]
            fn cadences_round_trip_through_their_text(c in cadence()) {
                prop_assert_eq!(Cadence::parse(&c.to_string()), Ok(c));
            }

            #[test]
            fn planned_dates_ascend_fall_on_working_days_and_move_only_their_way(
                cadence in cadence(),
                anchor in date(),
                after_offset in 0u64..900,
                length in 0u64..400,
                calendar in calendar(),
                shift in shift(),
            ) {
                let after = anchor + Days::new(after_offset);
                let until = after + Days::new(length);
                let plan = plan_dates(cadence, anchor, after, until, &calendar, shift);
                for pair in plan.windows(2) {
                    prop_assert!(pair[0].nominal < pair[1].nominal, "{:?}", pair);
                    prop_assert!(pair[0].n < pair[1].n, "{:?}", pair);
                }
                for p in &plan {
                    prop_assert!(p.nominal > after && p.nominal <= until, "{:?}", p);
                    prop_assert_eq!(p.nominal, cadence.nth_after(anchor, p.n));
                    match shift {
                        HolidayShift::Earlier => prop_assert!(p.date <= p.nominal, "{:?}", p),
                        HolidayShift::Later => prop_assert!(p.date >= p.nominal, "{:?}", p),
                    }
                    let reachable = (0..=SHIFT_SEARCH_DAYS).any(|k| {
                        let day = match shift {
                            HolidayShift::Earlier => p.nominal - Days::new(k),
                            HolidayShift::Later => p.nominal + Days::new(k),
                        };
                        calendar.is_working_day(day)
                    });
                    if reachable {
                        prop_assert!(calendar.is_working_day(p.date), "{:?}", p);
                        // The nearest one: every day between nominal and date is off.
                        let (lo, hi) = (p.date.min(p.nominal), p.date.max(p.nominal));
                        let between = lo.iter_days().take_while(|d| *d <= hi);
                        let others = between.filter(|d| *d != p.date);
                        prop_assert!(others.clone().all(|d| !calendar.is_working_day(d)), "{:?}", p);
                    } else {
                        prop_assert_eq!(p.date, p.nominal);
                    }
                }
                // Nothing is missed: the same as counting every occurrence from the anchor.
                let every: Vec<NaiveDate> = (1u32..)
                    .map(|n| cadence.nth_after(anchor, n))
                    .take_while(|d| *d <= until)
                    .filter(|d| *d > after)
                    .collect();
                let got: Vec<NaiveDate> = plan.iter().map(|p| p.nominal).collect();
                prop_assert_eq!(got, every);
            }

            #[test]
            fn care_holidays_fall_in_the_window_in_order(
                from in date(),
                length in 0u64..800,
            ) {
                static RULES: std::sync::OnceLock<VisitRules> = std::sync::OnceLock::new();
                let rules = RULES.get_or_init(|| Policy::default_presets().visits().clone());
                let until = from + Days::new(length);
                let got = care_holidays_between(rules, from, until);
                prop_assert!(got.windows(2).all(|w| w[0].1 <= w[1].1));
                prop_assert!(got.iter().all(|(_, d)| (from..=until).contains(d)));
                // National Day and New Year come once a year each.
                let yearly = got.iter().filter(|(n, _)| n.starts_with("National Day")).count();
                let years = (from.year()..=until.year())
                    .filter(|y| (from..=until).contains(&NaiveDate::from_ymd_opt(*y, 10, 1).unwrap()))
                    .count();
                prop_assert_eq!(yearly, years);
            }
        }
    }

    #[test]
    fn overdue_and_care_start_follow_grace_and_lead() {
        let rules = Policy::default_presets().visits().clone();
        let due = DateTime::parse_from_rfc3339("2026-09-30T10:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(rules.overdue_at(due), due + TimeDelta::days(2));
        assert_eq!(rules.care_start(d("2026-10-01")), d("2026-09-28"));
    }
}
