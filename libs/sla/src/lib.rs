//! Pure SLA rules: business calendars, clocks, policies, visit planning, explanations and compliance statistics.
//!
//! Everything here is pure: no I/O (except reading policy files: [`Policy::load_from_path`]
//! reads the file and hands the text to [`Policy::from_toml_str`], which reads the iCalendar
//! holiday files a calendar names in `holidays_ics`), no async, and `now` is always passed in.
//!
//! # Using it
//!
//! ```
//! use chrono::{TimeZone, Utc};
//! use csops_sla::{Case, PauseReason, Policy, Promise, Region, Severity, State, Tier};
//!
//! let policy = Policy::default_presets(); // or Policy::load_from_path("/etc/csops/sla.toml")
//! let case = Case::new().tier(Tier::A).key_account(true).region(Region::Urban)
//!     .severity(Severity::High).channel("phone");
//! let received = Utc.with_ymd_and_hms(2026, 9, 29, 2, 0, 0).unwrap(); // 10:00 in Beijing
//! let mut clock = policy.start(Promise::Resolution, &case, received).unwrap();
//! clock.pause(received + chrono::TimeDelta::hours(4), PauseReason::WaitingOnCustomer).unwrap();
//! clock.resume(received + chrono::TimeDelta::hours(6)).unwrap();
//!
//! let now = received + chrono::TimeDelta::hours(7);
//! let status = policy.status(&clock, now).unwrap();
//! assert_eq!(status.state, State::AtRisk);
//! // Announce each milestone once: keep the reported ones with the clock.
//! let to_announce = status.unreported(&[]);
//! assert_eq!(to_announce.len(), 1);
//! // Why is the deadline what it is?
//! let why = policy.explain(&clock, now).unwrap();
//! assert_eq!(why.rule.id, "resolution.high");
//! // Store the clock as JSON (or its events, and rebuild it with Clock::from_events).
//! let json = serde_json::to_string(&clock).unwrap();
//! # let _ = (json, to_announce);
//! ```
//!
//! A breach watcher evaluates [`Clock::status`] at `now` and sleeps until
//! [`Status::next_change`].
//!
//! Clocks count whole seconds: instants are truncated to the second, a deadline is a whole
//! second, and a clock is breached once `now` is past that second. A 1 s target started at
//! 10.002 s is due at 11 s and reads as breached from 12 s; targets in minutes, hours and days
//! (every real promise) are unaffected.
//!
//! Visit cadences (tier A weekly, B monthly, C every two months) are not clocks but calendar
//! rules: the [`visits`] module plans visit dates in calendar weeks and months from the last
//! visit, on the working days of a calendar, with the numbers of the policy's `[visits]` table
//! ([`Policy::visits`]).
//!
//! # Policy file format (TOML)
//!
//! One file holds calendars, rules and objectives; a Kubernetes ConfigMap carries it unchanged.
//! Unknown keys are rejected, and every error names the file, line, column and key:
//! `sla.toml:10:1: rule[0].colour: unknown field `colour`, expected one of …`.
//! `presets/default.toml` is the annotated example and the shipped default.
//!
//! ```toml
//! version = "2026.1"           # optional; shown in explanations (default: hash of the text)
//! thresholds = [50, 75, 90]    # warning thresholds, percent of the target, 1-99
//! on_time_target = 0.98        # on-time objective for promises without [[objective]]
//!
//! [calendars.always]           # 24x7: every second counts
//! always = true
//!
//! [calendars.cn_service]       # business hours
//! time_zone = "Asia/Shanghai"  # IANA name; unknown names are rejected
//! mon = ["09:00-12:00", "13:00-18:00"]   # several ranges per day; overlaps are rejected
//! # tue … sun likewise; a weekday left out has no working time
//! makeup_hours = ["09:00-12:00", "13:00-18:00"]  # hours of extra working days (default: first weekday's)
//! working_day = "8h"           # length of the `wd` unit (default: the first weekday's total)
//! holidays = ["2026-10-01..2026-10-07"]          # dates or inclusive ranges
//! extra_working_days = ["2026-09-20", "2026-10-10"]  # 调休: weekend days that are worked
//! holidays_ics = ["holidays/2027.ics"]  # iCalendar files (RFC 5545) adding holidays and 调休,
//!                              # relative to the policy file; see the `ics` module
//!
//! [[rule]]
//! id = "installation.urban"    # unique; explanations cite it
//! description = "…"
//! promise = "installation"     # first_contact, dispatch_contact, resolution, callback,
//!                              # callback_fix, installation (also moves), reconnection,
//!                              # business_change, repair, maintenance
//! when = { region = "urban" }  # tier, key_account, region, severity, channel, traits;
//!                              # a value or a list of alternatives; keys left out match all
//! target = "28d"               # s, m, h, d (24 h), w (7 d), wd (working days); > 0
//! calendar = "always"
//! # thresholds = [50, 90]      # optional override
//!
//! [[rule]]
//! id = "installation.key_account"
//! promise = "installation"
//! when = { key_account = true }
//! factor = 0.5                 # "big customers get half of the normal limit"
//!
//! [[objective]]
//! promise = "installation"
//! on_time_rate = 0.98
//! mean_at_most = "15d"
//!
//! [visits]                     # planning rules of the visits service; every key optional,
//!                              # one left out takes the presets' value
//! calendar = "cn_service"      # visits fall on its working days (must be a calendar above;
//!                              # default cn_service if the file has it, else 24x7)
//! holiday_shift = "earlier"    # a visit due on a day off moves earlier, or "later"
//! cadence = { A = "1w", B = "1mo", C = "2mo" }  # d, w, mo (calendar months from the anchor)
//! key_account_in_person = true # every plan visit of a key account is in person
//! in_person_every = "3mo"      # every customer met in person at least this often
//! horizon = "90d"              # plan this many whole days ahead
//! grace = "2d"                 # a visit is overdue once due + grace has passed
//! care_lead = "3d"             # care is prepared this many whole days before the occasion
//!
//! [[visits.holiday]]           # holidays that produce care; `holiday = []` for none
//! name = "National Day (国庆节)"
//! date = "10-01"               # every year; "2027-02-06" for that year only (lunar holidays)
//! ```
//!
//! **Choosing a rule.** Among the target rules of the promise that match the case, the one with
//! the most conditions wins (one per key in `when`, one per trait). Then the most specific
//! matching factor rule, if any, scales its target. Two equally specific rules of the same
//! promise that could both match one case are rejected at load — unless a more specific rule
//! covers every such case — so a case never has two answers.
//!
//! # Semantics worth knowing
//!
//! * Working time has one-second resolution. A deadline that fits exactly ends at the end of a
//!   working range (18:00), not at the start of the next one.
//! * Pauses move the deadline out by the working time they cover; while paused, the reported
//!   deadline is the one that holds if the clock resumes at `now`.
//! * A clock is breached once `now` passes its deadline while not stopped; stopping after the
//!   deadline gives "met late". Thresholds are crossed on elapsed working time.
//! * On the night clocks go back (DST), a range starting inside the repeated hour counts from
//!   its first occurrence. Zones without DST (Asia/Shanghai) are unaffected.
#![forbid(unsafe_code)]

pub mod calendar;
pub mod case;
pub mod clock;
pub mod compliance;
pub mod duration;
pub mod explain;
pub mod ics;
pub mod policy;
pub mod visits;

pub use calendar::{
    Calendar, CalendarBuilder, CalendarError, CalendarSummary, TimeRange, WeeklyHours,
};
pub use case::{Case, Promise, Region, Severity, Tier};
pub use clock::{
    Adjustment, Clock, ClockError, ClockEvent, ClockSpec, Ending, Milestone, Outcome, Pause,
    PauseReason, State, Status, DEFAULT_THRESHOLDS,
};
pub use compliance::{ComplianceBuilder, ComplianceReport, DurationStats};
pub use explain::{Explanation, PauseExplanation, RuleExplanation, ThresholdExplanation};
pub use ics::{IcsDays, IcsError};
pub use policy::{
    Condition, LoadError, Matched, Objective, Policy, PolicyError, Rule, RuleAction, Selector,
    DEFAULT_ON_TIME_TARGET,
};
pub use visits::{Cadence, CareHoliday, HolidayShift, PlannedDate, VisitRules};
