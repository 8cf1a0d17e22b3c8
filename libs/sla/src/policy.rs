//! Policies as data: calendars, rules and objectives read from one TOML file.

use std::collections::BTreeMap;
use std::fmt;
use std::marker::PhantomData;
use std::path::Path;
use std::sync::OnceLock;

use chrono::{DateTime, Datelike, NaiveDate, TimeDelta, Utc, Weekday};
use serde::de::{self, IntoDeserializer, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize};
use toml::Spanned;

use crate::calendar::{weekday_key, Calendar, CalendarError, TimeRange, WeeklyHours};
use crate::case::{Case, Promise, Region, Severity, Tier};
use crate::clock::{Adjustment, Clock, ClockError, ClockSpec, Status, DEFAULT_THRESHOLDS};
use crate::duration::parse_amount;
use crate::ics::{self, IcsDays};
use crate::visits::{annual_occurrence, Cadence, CareHoliday, HolidayShift, VisitRules};

/// The on-time rate the telecom standard asks for (DOMAIN §4) when a policy names none.
pub const DEFAULT_ON_TIME_TARGET: f64 = 0.98;

const PRESETS: &str = include_str!("../presets/default.toml");
const PRESETS_FILE: &str = "presets/default.toml";

/// The calendar visits fall on when the file has no `[visits] calendar` and no calendar named
/// as in the presets: a 24x7 one, added under this name if the file has none by it.
const VISITS_FALLBACK_CALENDAR: &str = "always";
/// The longest planning horizon accepted: ten years.
const MAX_HORIZON_DAYS: u32 = 3_653;
/// The longest care lead and visit grace accepted: a year.
const MAX_LEAD_DAYS: u32 = 366;

/// A policy file could not be loaded: where and what.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}:{line}:{column}: {key}: {message}")]
pub struct LoadError {
    /// The file name given to the loader.
    pub file: String,
    /// 1-based line (0 when the file could not be read).
    pub line: usize,
    /// 1-based column.
    pub column: usize,
    /// The key in error, as a path (`rule[3].target`, `calendars.office.mon`).
    pub key: String,
    /// What is wrong.
    pub message: String,
}

/// A clock could not be set up or evaluated from a policy.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PolicyError {
    /// No rule gives a target for this promise and case.
    #[error("no rule gives a {promise} target for this case")]
    NoRule {
        /// The promise asked for.
        promise: Promise,
    },
    /// Two rules of equal specificity match (load-time checks make this rare: only cases that
    /// no single rule can describe get here).
    #[error("rules `{0}` and `{1}` match equally well")]
    Ambiguous(String, String),
    /// The clock names a calendar the policy does not have.
    #[error("unknown calendar `{0}`")]
    UnknownCalendar(String),
    /// The clock refused the operation.
    #[error(transparent)]
    Clock(#[from] ClockError),
}

/// Which cases a rule applies to. Each dimension left out matches everything; a dimension
/// given matches when the case's value is one of those listed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Selector {
    /// Tiers.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tier: Option<Vec<Tier>>,
    /// Key-account flag.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key_account: Option<bool>,
    /// Regions.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub region: Option<Vec<Region>>,
    /// Severities.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub severity: Option<Vec<Severity>>,
    /// Channels (lowercase).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub channel: Option<Vec<String>>,
    /// Traits the case must all have.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub traits: Vec<String>,
}

/// One condition of a rule and the case's value for it, as shown in an explanation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Condition {
    /// `tier`, `key_account`, `region`, `severity`, `channel` or `traits`.
    pub key: String,
    /// What the rule asks for (alternatives joined by `|`).
    pub expected: String,
    /// The case's value (`unknown` when not given).
    pub actual: String,
}

fn join<T: fmt::Debug>(v: &[T]) -> String {
    v.iter()
        .map(|x| format!("{x:?}").to_lowercase())
        .collect::<Vec<_>>()
        .join("|")
}

fn show<T: fmt::Debug>(v: Option<&T>) -> String {
    v.map_or_else(
        || "unknown".to_string(),
        |x| format!("{x:?}").to_lowercase(),
    )
}

impl Selector {
    /// Returns how specific the selector is: one per dimension given, one per trait.
    pub fn specificity(&self) -> usize {
        usize::from(self.tier.is_some())
            + usize::from(self.key_account.is_some())
            + usize::from(self.region.is_some())
            + usize::from(self.severity.is_some())
            + usize::from(self.channel.is_some())
            + self.traits.len()
    }

    /// Tells whether a case is selected.
    pub fn matches(&self, case: &Case) -> bool {
        fn dim<T: PartialEq>(want: &Option<Vec<T>>, have: Option<&T>) -> bool {
            match want {
                None => true,
                Some(w) => have.is_some_and(|h| w.contains(h)),
            }
        }
        dim(&self.tier, case.tier.as_ref())
            && self.key_account.is_none_or(|k| k == case.key_account)
            && dim(&self.region, case.region.as_ref())
            && dim(&self.severity, case.severity.as_ref())
            && dim(&self.channel, case.channel.as_ref())
            && self.traits.iter().all(|t| case.traits.contains(t))
    }

    /// Lists the selector's conditions with the case's value for each.
    pub fn conditions(&self, case: &Case) -> Vec<Condition> {
        let mut out = Vec::new();
        let mut push = |key: &str, expected: String, actual: String| {
            out.push(Condition {
                key: key.into(),
                expected,
                actual,
            })
        };
        if let Some(v) = &self.tier {
            push(
                "tier",
                join(v).to_uppercase(),
                show(case.tier.as_ref()).to_uppercase(),
            );
        }
        if let Some(v) = self.key_account {
            push("key_account", v.to_string(), case.key_account.to_string());
        }
        if let Some(v) = &self.region {
            push("region", join(v), show(case.region.as_ref()));
        }
        if let Some(v) = &self.severity {
            push("severity", join(v), show(case.severity.as_ref()));
        }
        if let Some(v) = &self.channel {
            push(
                "channel",
                v.join("|"),
                case.channel.clone().unwrap_or_else(|| "unknown".into()),
            );
        }
        if !self.traits.is_empty() {
            push("traits", self.traits.join("+"), case.traits.join("+"));
        }
        out
    }

    /// The selector of the cases both select, or `None` when no case matches both.
    fn intersect(&self, other: &Selector) -> Option<Selector> {
        fn dim<T: PartialEq + Clone>(
            a: &Option<Vec<T>>,
            b: &Option<Vec<T>>,
        ) -> Option<Option<Vec<T>>> {
            match (a, b) {
                (None, x) | (x, None) => Some(x.clone()),
                (Some(a), Some(b)) => {
                    let both: Vec<T> = a.iter().filter(|x| b.contains(x)).cloned().collect();
                    (!both.is_empty()).then_some(Some(both))
                }
            }
        }
        let key_account = match (self.key_account, other.key_account) {
            (Some(a), Some(b)) if a != b => return None,
            (a, b) => a.or(b),
        };
        let mut traits = self.traits.clone();
        traits.extend(
            other
                .traits
                .iter()
                .filter(|t| !self.traits.contains(t))
                .cloned(),
        );
        Some(Selector {
            tier: dim(&self.tier, &other.tier)?,
            key_account,
            region: dim(&self.region, &other.region)?,
            severity: dim(&self.severity, &other.severity)?,
            channel: dim(&self.channel, &other.channel)?,
            traits,
        })
    }

    /// Tells whether every case `inner` selects is also selected by `self`.
    fn covers(&self, inner: &Selector) -> bool {
        fn dim<T: PartialEq>(outer: &Option<Vec<T>>, inner: &Option<Vec<T>>) -> bool {
            match (outer, inner) {
                (None, _) => true,
                (Some(_), None) => false,
                (Some(o), Some(i)) => i.iter().all(|x| o.contains(x)),
            }
        }
        dim(&self.tier, &inner.tier)
            && (self.key_account.is_none() || self.key_account == inner.key_account)
            && dim(&self.region, &inner.region)
            && dim(&self.severity, &inner.severity)
            && dim(&self.channel, &inner.channel)
            && self.traits.iter().all(|t| inner.traits.contains(t))
    }
}

impl fmt::Display for Selector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> = self
            .conditions(&Case::default())
            .into_iter()
            .map(|c| format!("{}={}", c.key, c.expected))
            .collect();
        if parts.is_empty() {
            f.write_str("any case")
        } else {
            f.write_str(&parts.join(", "))
        }
    }
}

/// What a rule does once it is chosen.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RuleAction {
    /// Sets the target, counted on a calendar.
    Target {
        /// The working time allowed.
        #[serde(with = "crate::duration::serde_human")]
        target: TimeDelta,
        /// The calendar's name.
        calendar: String,
    },
    /// Scales the target chosen by the target rules (0.5 = "half of the normal limit").
    Factor(f64),
}

/// One rule of a policy.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Rule {
    /// The rule's id, unique in the file.
    pub id: String,
    /// Why the rule exists, in words.
    pub description: String,
    /// What it is about.
    pub promise: Promise,
    /// Which cases it applies to.
    pub when: Selector,
    /// What it does.
    pub action: RuleAction,
    /// Warning thresholds for clocks it sets (the policy's default when `None`).
    pub thresholds: Option<Vec<u8>>,
    /// The line of the rule's `id` in the file.
    pub line: usize,
}

/// A compliance objective: the on-time rate and mean duration a promise must achieve.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Objective {
    /// What it is about.
    pub promise: Promise,
    /// Minimum share of clocks met on time, 0-1 (0.98 in the telecom standard).
    pub on_time_rate: f64,
    /// Maximum mean duration, when the standard names one (installation: 15 days).
    #[serde(with = "opt_human_ser", skip_serializing_if = "Option::is_none")]
    pub mean_at_most: Option<TimeDelta>,
}

mod opt_human_ser {
    use chrono::TimeDelta;
    use serde::Serializer;

    pub(super) fn serialize<S: Serializer>(d: &Option<TimeDelta>, s: S) -> Result<S::Ok, S::Error> {
        match d {
            Some(d) => crate::duration::serde_human::serialize(d, s),
            None => s.serialize_none(),
        }
    }
}

/// The rules that decide a case's target, as found by [`Policy::matching`].
#[derive(Debug, Clone, PartialEq)]
pub struct Matched<'a> {
    /// The target rule that won.
    pub rule: &'a Rule,
    /// The factor rule that applied, if any.
    pub adjustment: Option<&'a Rule>,
    /// Other target rules that matched but were less specific.
    pub less_specific: Vec<&'a Rule>,
}

/// A loaded, validated policy: calendars, rules and objectives.
#[derive(Debug, Clone)]
pub struct Policy {
    version: String,
    file: String,
    thresholds: Vec<u8>,
    on_time_target: f64,
    calendars: BTreeMap<String, Calendar>,
    rules: Vec<Rule>,
    objectives: Vec<Objective>,
    visits: VisitRules,
}

impl Policy {
    /// Returns the presets of DOMAIN §2 and §4 shipped in `presets/default.toml`, with the 2026
    /// mainland-China holidays and make-up working days.
    #[allow(clippy::expect_used)]
    pub fn default_presets() -> Policy {
        Policy::from_toml_str(PRESETS, PRESETS_FILE)
            .expect("the shipped presets are loaded by the crate's tests")
    }

    /// Returns the text of the shipped presets, to start a deployment's own file from.
    pub fn default_presets_toml() -> &'static str {
        PRESETS
    }

    /// Reads and loads a policy file. Parsing is [`Policy::from_toml_str`]; this only reads.
    pub fn load_from_path(path: impl AsRef<Path>) -> Result<Policy, LoadError> {
        let path = path.as_ref();
        let name = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| LoadError {
            file: name.clone(),
            line: 0,
            column: 0,
            key: String::new(),
            message: format!("cannot read the file: {e}"),
        })?;
        Policy::from_toml_str(&text, &name)
    }

    /// Loads a policy from TOML text; `file` names it in error messages, and the iCalendar
    /// files its calendars name in `holidays_ics` are read relative to `file`'s directory.
    pub fn from_toml_str(text: &str, file: &str) -> Result<Policy, LoadError> {
        let raw: RawPolicy = toml::from_str(text).map_err(|e| from_toml_error(text, file, &e))?;
        Loader { text, file }.build(raw)
    }

    /// Returns the policy's version: its `version` key, or a hash of its text.
    pub fn version(&self) -> &str {
        &self.version
    }

    /// Returns the file name the policy was loaded from.
    pub fn file(&self) -> &str {
        &self.file
    }

    /// Returns the default warning thresholds.
    pub fn thresholds(&self) -> &[u8] {
        &self.thresholds
    }

    /// Returns the on-time rate objective used when a promise has no objective of its own.
    pub fn on_time_target(&self) -> f64 {
        self.on_time_target
    }

    /// Returns a calendar by name.
    pub fn calendar(&self, name: &str) -> Option<&Calendar> {
        self.calendars.get(name)
    }

    /// Returns every calendar, by name.
    pub fn calendars(&self) -> &BTreeMap<String, Calendar> {
        &self.calendars
    }

    /// Business calendars whose holiday lists stop before the year of `date`, with the last
    /// year each lists: deadlines there would count that year's public holidays as working
    /// time. Services check a month ahead at start and export the year as a gauge, so the
    /// next year's dates are added before they are needed. Calendars without any holiday (a
    /// deliberate choice) are not reported.
    pub fn calendars_missing_holidays(&self, date: NaiveDate) -> Vec<(&str, i32)> {
        self.calendars
            .iter()
            .filter_map(|(name, cal)| {
                let last = cal.holidays_listed_until()?;
                (last < date.year()).then_some((name.as_str(), last))
            })
            .collect()
    }

    /// Returns every rule, in file order.
    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    /// Returns a rule by id.
    pub fn rule(&self, id: &str) -> Option<&Rule> {
        self.rules.iter().find(|r| r.id == id)
    }

    /// Returns the objective for a promise, if the file names one.
    pub fn objective(&self, promise: Promise) -> Option<&Objective> {
        self.objectives.iter().find(|o| o.promise == promise)
    }

    /// Returns every objective.
    pub fn objectives(&self) -> &[Objective] {
        &self.objectives
    }

    /// Returns the visits service's rules: the file's `[visits]` table, each key left out
    /// taking the shipped presets' value.
    pub fn visits(&self) -> &VisitRules {
        &self.visits
    }

    /// Returns the calendar visits fall on ([`VisitRules::calendar`]); the loader guarantees
    /// the policy has it.
    #[allow(clippy::expect_used)]
    pub fn visit_calendar(&self) -> &Calendar {
        self.calendars
            .get(&self.visits.calendar)
            .expect("the loader checks or adds the visits calendar")
    }

    /// Finds the rules that decide a promise's target for a case: the most specific matching
    /// target rule, and the most specific matching factor rule.
    pub fn matching(&self, promise: Promise, case: &Case) -> Result<Matched<'_>, PolicyError> {
        let pick = |want_factor: bool| -> Result<(Option<&Rule>, Vec<&Rule>), PolicyError> {
            let mut m: Vec<&Rule> = self
                .rules
                .iter()
                .filter(|r| {
                    r.promise == promise
                        && matches!(r.action, RuleAction::Factor(_)) == want_factor
                        && r.when.matches(case)
                })
                .collect();
            m.sort_by_key(|r| std::cmp::Reverse(r.when.specificity()));
            if let [a, b, ..] = m[..] {
                if a.when.specificity() == b.when.specificity() {
                    return Err(PolicyError::Ambiguous(a.id.clone(), b.id.clone()));
                }
            }
            let first = m.first().copied();
            Ok((first, m.into_iter().skip(1).collect()))
        };
        let (rule, less_specific) = pick(false)?;
        let rule = rule.ok_or(PolicyError::NoRule { promise })?;
        let (adjustment, _) = pick(true)?;
        Ok(Matched {
            rule,
            adjustment,
            less_specific,
        })
    }

    /// Resolves what is promised for a case: target, calendar, thresholds and their origin.
    pub fn resolve(&self, promise: Promise, case: &Case) -> Result<ClockSpec, PolicyError> {
        let m = self.matching(promise, case)?;
        let RuleAction::Target { target, calendar } = &m.rule.action else {
            return Err(PolicyError::NoRule { promise });
        };
        let (adjusted, adjustment) = match m.adjustment.map(|r| (r, &r.action)) {
            Some((r, RuleAction::Factor(f))) => (
                TimeDelta::seconds((target.num_seconds() as f64 * f).round() as i64),
                Some(Adjustment {
                    rule: r.id.clone(),
                    factor: *f,
                }),
            ),
            _ => (*target, None),
        };
        Ok(ClockSpec {
            promise,
            target: adjusted,
            calendar: calendar.clone(),
            thresholds: m
                .rule
                .thresholds
                .clone()
                .unwrap_or_else(|| self.thresholds.clone()),
            rule: m.rule.id.clone(),
            base_target: adjustment.as_ref().map(|_| *target),
            adjustment,
            case: case.clone(),
        })
    }

    /// Resolves the promise for a case and starts its clock at `at`.
    pub fn start(
        &self,
        promise: Promise,
        case: &Case,
        at: DateTime<Utc>,
    ) -> Result<Clock, PolicyError> {
        Ok(Clock::start(self.resolve(promise, case)?, at)?)
    }

    /// Returns the calendar a clock counts on.
    pub fn calendar_for(&self, clock: &Clock) -> Result<&Calendar, PolicyError> {
        self.calendar(&clock.spec().calendar)
            .ok_or_else(|| PolicyError::UnknownCalendar(clock.spec().calendar.clone()))
    }

    /// Evaluates a clock at `now` on its calendar.
    pub fn status(&self, clock: &Clock, now: DateTime<Utc>) -> Result<Status, PolicyError> {
        Ok(clock.status(self.calendar_for(clock)?, now))
    }
}

// ---------------------------------------------------------------------------------------------
// The file format, as serde reads it. Every table denies unknown keys so typos fail loudly.

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPolicy {
    version: Option<String>,
    thresholds: Option<Spanned<Vec<u8>>>,
    on_time_target: Option<Spanned<f64>>,
    #[serde(default)]
    calendars: BTreeMap<Spanned<String>, RawCalendar>,
    #[serde(default)]
    rule: Vec<RawRule>,
    #[serde(default)]
    objective: Vec<RawObjective>,
    visits: Option<RawVisits>,
}

/// The `[visits]` table. Every key is optional: one left out takes the presets' value.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawVisits {
    calendar: Option<Spanned<String>>,
    holiday_shift: Option<Spanned<HolidayShift>>,
    cadence: Option<RawCadences>,
    key_account_in_person: Option<Spanned<bool>>,
    in_person_every: Option<Spanned<String>>,
    horizon: Option<Spanned<String>>,
    grace: Option<Spanned<String>>,
    care_lead: Option<Spanned<String>>,
    holiday: Option<Vec<RawCareHoliday>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCadences {
    #[serde(rename = "A")]
    a: Option<Spanned<String>>,
    #[serde(rename = "B")]
    b: Option<Spanned<String>>,
    #[serde(rename = "C")]
    c: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCareHoliday {
    name: Spanned<String>,
    date: Spanned<String>,
}

/// Where each `[visits]` key comes from: the file, else the presets.
struct VisitSources<'a> {
    file: &'a Loader<'a>,
    presets: &'a Loader<'a>,
    own: Option<&'a RawVisits>,
    base: Option<&'a RawVisits>,
}

impl<'a> VisitSources<'a> {
    /// The value of a key, with the loader of the file it comes from (an error names that file).
    fn get<T: ?Sized>(
        &self,
        key: &str,
        get: impl Fn(&'a RawVisits) -> Option<&'a T>,
    ) -> Result<(&'a Loader<'a>, &'a T), LoadError> {
        match (self.own.and_then(&get), self.base.and_then(&get)) {
            (Some(v), _) => Ok((self.file, v)),
            (None, Some(v)) => Ok((self.presets, v)),
            (None, None) => Err(self.presets.err(0, key, "the presets give no default")),
        }
    }
}

/// The presets' `[visits]` table, the default of every key a file leaves out.
fn preset_visits() -> Option<&'static RawVisits> {
    #[derive(Deserialize)]
    struct PresetFile {
        visits: Option<RawVisits>,
    }
    static PRESET: OnceLock<Option<RawVisits>> = OnceLock::new();
    PRESET
        .get_or_init(|| {
            toml::from_str::<PresetFile>(PRESETS)
                .ok()
                .and_then(|f| f.visits)
        })
        .as_ref()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCalendar {
    #[serde(default)]
    always: bool,
    time_zone: Option<Spanned<String>>,
    mon: Option<Vec<Spanned<String>>>,
    tue: Option<Vec<Spanned<String>>>,
    wed: Option<Vec<Spanned<String>>>,
    thu: Option<Vec<Spanned<String>>>,
    fri: Option<Vec<Spanned<String>>>,
    sat: Option<Vec<Spanned<String>>>,
    sun: Option<Vec<Spanned<String>>>,
    makeup_hours: Option<Vec<Spanned<String>>>,
    working_day: Option<Spanned<String>>,
    #[serde(default)]
    holidays: Vec<Spanned<String>>,
    #[serde(default)]
    extra_working_days: Vec<Spanned<String>>,
    #[serde(default)]
    holidays_ics: Vec<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRule {
    id: Spanned<String>,
    #[serde(default)]
    description: String,
    promise: Promise,
    #[serde(default)]
    when: RawSelector,
    target: Option<Spanned<String>>,
    factor: Option<Spanned<f64>>,
    calendar: Option<Spanned<String>>,
    thresholds: Option<Spanned<Vec<u8>>>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawSelector {
    tier: Option<OneOrMany<Tier>>,
    key_account: Option<bool>,
    region: Option<OneOrMany<Region>>,
    severity: Option<OneOrMany<Severity>>,
    channel: Option<OneOrMany<String>>,
    #[serde(default)]
    traits: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawObjective {
    promise: Promise,
    on_time_rate: Spanned<f64>,
    mean_at_most: Option<Spanned<String>>,
}

/// A value or a list of values (`tier = "A"` or `tier = ["A", "B"]`), keeping the element
/// type's own error messages ("unknown variant `D`, expected one of `A`, `B`, `C`").
struct OneOrMany<T>(Vec<T>);

impl<'de, T: Deserialize<'de>> Deserialize<'de> for OneOrMany<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<T>(PhantomData<T>);
        impl<'de, T: Deserialize<'de>> Visitor<'de> for V<T> {
            type Value = Vec<T>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a value or a list of values")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Vec<T>, E> {
                T::deserialize(v.into_deserializer()).map(|x| vec![x])
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<T>, A::Error> {
                let mut out = Vec::new();
                while let Some(x) = seq.next_element()? {
                    out.push(x);
                }
                if out.is_empty() {
                    return Err(de::Error::custom(
                        "an empty list matches nothing; leave the key out to match everything",
                    ));
                }
                Ok(out)
            }
        }
        d.deserialize_any(V(PhantomData)).map(OneOrMany)
    }
}

// ---------------------------------------------------------------------------------------------
// Error positions.

fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(text.len());
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let col = before.rfind('\n').map_or(offset, |i| offset - i - 1) + 1;
    (line, col)
}

/// Names the key at a byte offset: the enclosing table header (with its index for `[[rule]]`)
/// and the key written on that line.
fn key_at(text: &str, offset: usize) -> String {
    let offset = offset.min(text.len());
    let line_start = text[..offset].rfind('\n').map_or(0, |i| i + 1);
    let line_end = text[offset..].find('\n').map_or(text.len(), |i| offset + i);
    let line = &text[line_start..line_end];
    let mut table = String::new();
    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    for l in text[..line_start].lines() {
        let l = l.trim();
        if let Some(name) = l.strip_prefix("[[").and_then(|r| r.split("]]").next()) {
            let name = name.trim().to_string();
            let n = counts.entry(name.clone()).or_insert(0);
            table = format!("{name}[{n}]");
            *n += 1;
        } else if let Some(name) = l.strip_prefix('[').and_then(|r| r.split(']').next()) {
            table = name.trim().to_string();
        }
    }
    let own = line
        .trim_start()
        .starts_with('[')
        .then(String::new)
        .unwrap_or_else(|| line.split('=').next().unwrap_or("").trim().to_string());
    match (table.is_empty(), own.is_empty()) {
        (true, _) => own,
        (false, true) => table,
        (false, false) => format!("{table}.{own}"),
    }
}

fn from_toml_error(text: &str, file: &str, e: &toml::de::Error) -> LoadError {
    let offset = e.span().map_or(0, |s| s.start);
    let (line, column) = line_col(text, offset);
    let mut key = key_at(text, offset);
    let message = e.message().trim().to_string();
    // An unknown key is named in the message; put it in the path too.
    if let Some(rest) = message.strip_prefix("unknown field `") {
        if let Some(name) = rest.split('`').next() {
            if !key.ends_with(name) {
                key = if key.is_empty() {
                    name.to_string()
                } else {
                    format!("{key}.{name}")
                };
            }
        }
    }
    LoadError {
        file: file.to_string(),
        line,
        column,
        key,
        message,
    }
}

struct Loader<'a> {
    text: &'a str,
    file: &'a str,
}

impl Loader<'_> {
    fn err(&self, offset: usize, key: impl Into<String>, message: impl Into<String>) -> LoadError {
        let (line, column) = line_col(self.text, offset);
        LoadError {
            file: self.file.to_string(),
            line,
            column,
            key: key.into(),
            message: message.into(),
        }
    }

    fn at<T>(
        &self,
        s: &Spanned<T>,
        key: impl Into<String>,
        message: impl Into<String>,
    ) -> LoadError {
        self.err(s.span().start, key, message)
    }

    fn thresholds(&self, t: &Spanned<Vec<u8>>, key: &str) -> Result<Vec<u8>, LoadError> {
        let mut v = t.get_ref().clone();
        if let Some(bad) = v.iter().find(|&&p| p == 0 || p >= 100) {
            return Err(self.at(t, key, format!("threshold {bad} is outside 1-99 (percent of the target; the breach itself is always reported)")));
        }
        v.sort_unstable();
        v.dedup();
        Ok(v)
    }

    fn ranges(&self, list: &[Spanned<String>], key: &str) -> Result<Vec<TimeRange>, LoadError> {
        list.iter()
            .map(|s| {
                s.get_ref()
                    .parse::<TimeRange>()
                    .map_err(|e| self.at(s, key, e.to_string()))
            })
            .collect()
    }

    fn dates(&self, list: &[Spanned<String>], key: &str) -> Result<Vec<NaiveDate>, LoadError> {
        let mut out = Vec::new();
        for s in list {
            let text = s.get_ref().trim();
            let parse = |d: &str| {
                NaiveDate::parse_from_str(d.trim(), "%Y-%m-%d").map_err(|_| {
                    self.at(
                        s,
                        key,
                        format!(
                            "invalid date \"{d}\": expected YYYY-MM-DD or YYYY-MM-DD..YYYY-MM-DD"
                        ),
                    )
                })
            };
            if let Some((a, b)) = text.split_once("..") {
                let (a, b) = (parse(a)?, parse(b)?);
                if b < a {
                    return Err(self.at(
                        s,
                        key,
                        format!("date range \"{text}\" ends before it starts"),
                    ));
                }
                out.extend(a.iter_days().take_while(|d| *d <= b));
            } else {
                out.push(parse(text)?);
            }
        }
        Ok(out)
    }

    /// Reads and validates one iCalendar holiday file, relative to the policy file's directory.
    fn ics(&self, path: &Spanned<String>, key: &str) -> Result<IcsDays, LoadError> {
        let rel = Path::new(path.get_ref().trim());
        let full = match Path::new(self.file).parent() {
            Some(dir) if rel.is_relative() => dir.join(rel),
            _ => rel.to_path_buf(),
        };
        let text = std::fs::read_to_string(&full).map_err(|e| {
            self.at(
                path,
                key,
                format!("cannot read the iCalendar file {}: {e}", full.display()),
            )
        })?;
        ics::parse(&text).map_err(|e| {
            self.at(
                path,
                key,
                format!("iCalendar file {} refused: {e}", full.display()),
            )
        })
    }

    fn calendar(&self, name: &Spanned<String>, c: &RawCalendar) -> Result<Calendar, LoadError> {
        let key = format!("calendars.{}", name.get_ref());
        let days = [
            (Weekday::Mon, &c.mon),
            (Weekday::Tue, &c.tue),
            (Weekday::Wed, &c.wed),
            (Weekday::Thu, &c.thu),
            (Weekday::Fri, &c.fri),
            (Weekday::Sat, &c.sat),
            (Weekday::Sun, &c.sun),
        ];
        if c.always {
            let business_key = days
                .iter()
                .find(|(_, r)| r.is_some())
                .map(|(d, _)| weekday_key(*d))
                .or(c.time_zone.as_ref().map(|_| "time_zone"))
                .or((!c.holidays.is_empty()).then_some("holidays"))
                .or((!c.extra_working_days.is_empty()).then_some("extra_working_days"))
                .or((!c.holidays_ics.is_empty()).then_some("holidays_ics"))
                .or(c.makeup_hours.as_ref().map(|_| "makeup_hours"))
                .or(c.working_day.as_ref().map(|_| "working_day"));
            if let Some(k) = business_key {
                return Err(self.at(name, format!("{key}.{k}"), "a 24x7 calendar (always = true) counts every second; remove business-calendar keys"));
            }
            return Ok(Calendar::always(name.get_ref().clone()));
        }
        let tz = c.time_zone.as_ref().ok_or_else(|| {
            self.at(
                name,
                format!("{key}.time_zone"),
                "a business calendar needs a time_zone (or always = true for 24x7)",
            )
        })?;
        let tz_val = Calendar::parse_time_zone(tz.get_ref())
            .map_err(|e| self.at(tz, format!("{key}.time_zone"), e.to_string()))?;
        let mut week = WeeklyHours::new();
        for (day, ranges) in days {
            let Some(list) = ranges else { continue };
            let k = format!("{key}.{}", weekday_key(day));
            let r = self.ranges(list, &k)?;
            week.set(day, r)
                .map_err(|e| self.at(list.first().unwrap_or(name), k.clone(), e.to_string()))?;
        }
        let mut holidays = self.dates(&c.holidays, &format!("{key}.holidays"))?;
        let mut extra = self.dates(&c.extra_working_days, &format!("{key}.extra_working_days"))?;
        for path in &c.holidays_ics {
            let days = self.ics(path, &format!("{key}.holidays_ics"))?;
            holidays.extend(days.holidays);
            extra.extend(days.extra_working_days);
        }
        let mut b = Calendar::builder(name.get_ref().clone(), tz_val)
            .hours(week)
            .holidays(holidays)
            .extra_working_days(extra);
        if let Some(m) = &c.makeup_hours {
            b = b.makeup_hours(self.ranges(m, &format!("{key}.makeup_hours"))?);
        }
        if let Some(w) = &c.working_day {
            let a = parse_amount(w.get_ref())
                .map_err(|e| self.at(w, format!("{key}.working_day"), e))?;
            if a.working_days != 0 {
                return Err(self.at(
                    w,
                    format!("{key}.working_day"),
                    "working_day defines `wd`; write it in hours, e.g. \"8h\"",
                ));
            }
            b = b.working_day(TimeDelta::seconds(a.secs));
        }
        b.build().map_err(|e| {
            let sub = match &e {
                CalendarError::OverlappingRanges { day, .. } => format!("{key}.{day}"),
                CalendarError::HolidayAndWorkingDay(_) => format!("{key}.extra_working_days"),
                CalendarError::NoWorkingTime => key.clone(),
                CalendarError::NonPositiveWorkingDay => format!("{key}.working_day"),
                _ => key.clone(),
            };
            self.at(name, sub, e.to_string())
        })
    }

    fn build(&self, raw: RawPolicy) -> Result<Policy, LoadError> {
        let thresholds = match &raw.thresholds {
            Some(t) => self.thresholds(t, "thresholds")?,
            None => DEFAULT_THRESHOLDS.to_vec(),
        };
        let on_time_target = match &raw.on_time_target {
            Some(t) if !(0.0..=1.0).contains(t.get_ref()) => {
                return Err(self.at(t, "on_time_target", "a rate between 0 and 1, e.g. 0.98"))
            }
            Some(t) => *t.get_ref(),
            None => DEFAULT_ON_TIME_TARGET,
        };
        let mut calendars = BTreeMap::new();
        for (name, c) in &raw.calendars {
            calendars.insert(name.get_ref().clone(), self.calendar(name, c)?);
        }
        let mut rules: Vec<Rule> = Vec::new();
        for (i, r) in raw.rule.iter().enumerate() {
            let key = format!("rule[{i}]");
            let id = r.id.get_ref().trim().to_string();
            if id.is_empty() {
                return Err(self.at(&r.id, format!("{key}.id"), "a rule needs a non-empty id"));
            }
            if let Some(prev) = rules.iter().find(|p| p.id == id) {
                return Err(self.at(
                    &r.id,
                    format!("{key}.id"),
                    format!(
                        "duplicate rule id `{id}` (first used on line {})",
                        prev.line
                    ),
                ));
            }
            let action = match (&r.target, &r.factor) {
                (Some(_), Some(f)) => {
                    return Err(self.at(
                        f,
                        format!("{key}.factor"),
                        "give either target or factor, not both",
                    ))
                }
                (None, None) => {
                    return Err(self.at(
                        &r.id,
                        key,
                        "a rule needs a target (e.g. \"28d\") or a factor (e.g. 0.5)",
                    ))
                }
                (None, Some(f)) => {
                    let v = *f.get_ref();
                    if !(v > 0.0 && v.is_finite()) {
                        return Err(self.at(f, format!("{key}.factor"), format!("factor {v} must be greater than 0 (0.5 = half of the normal limit)")));
                    }
                    if let Some(c) = &r.calendar {
                        return Err(self.at(
                            c,
                            format!("{key}.calendar"),
                            "a factor rule uses the calendar of the target it scales",
                        ));
                    }
                    RuleAction::Factor(v)
                }
                (Some(t), None) => {
                    let cal_name = r.calendar.as_ref().ok_or_else(|| {
                        self.at(
                            &r.id,
                            format!("{key}.calendar"),
                            "a target rule needs a calendar",
                        )
                    })?;
                    let cal = calendars.get(cal_name.get_ref()).ok_or_else(|| {
                        let known: Vec<&str> = calendars.keys().map(String::as_str).collect();
                        self.at(
                            cal_name,
                            format!("{key}.calendar"),
                            format!(
                                "unknown calendar `{}` (known: {})",
                                cal_name.get_ref(),
                                known.join(", ")
                            ),
                        )
                    })?;
                    let a = parse_amount(t.get_ref())
                        .map_err(|e| self.at(t, format!("{key}.target"), e))?;
                    let secs = a.resolve(cal.working_day().num_seconds());
                    if secs <= 0 {
                        return Err(self.at(
                            t,
                            format!("{key}.target"),
                            "a target must be longer than zero",
                        ));
                    }
                    RuleAction::Target {
                        target: TimeDelta::seconds(secs),
                        calendar: cal_name.get_ref().clone(),
                    }
                }
            };
            let when = &r.when;
            let lower = |v: &Vec<String>| {
                v.iter()
                    .map(|s| s.trim().to_lowercase())
                    .collect::<Vec<_>>()
            };
            rules.push(Rule {
                id,
                description: r.description.clone(),
                promise: r.promise,
                when: Selector {
                    tier: when.tier.as_ref().map(|v| v.0.clone()),
                    key_account: when.key_account,
                    region: when.region.as_ref().map(|v| v.0.clone()),
                    severity: when.severity.as_ref().map(|v| v.0.clone()),
                    channel: when.channel.as_ref().map(|v| lower(&v.0)),
                    traits: lower(&when.traits),
                },
                action,
                thresholds: match &r.thresholds {
                    Some(t) => Some(self.thresholds(t, &format!("{key}.thresholds"))?),
                    None => None,
                },
                line: line_col(self.text, r.id.span().start).0,
            });
        }
        self.check_overlaps(&raw, &rules)?;
        let visits = self.visits(raw.visits.as_ref(), &mut calendars)?;
        let mut objectives: Vec<Objective> = Vec::new();
        for (i, o) in raw.objective.iter().enumerate() {
            let key = format!("objective[{i}]");
            let rate = *o.on_time_rate.get_ref();
            if !(0.0..=1.0).contains(&rate) {
                return Err(self.at(
                    &o.on_time_rate,
                    format!("{key}.on_time_rate"),
                    "a rate between 0 and 1, e.g. 0.98",
                ));
            }
            let mean_at_most = match &o.mean_at_most {
                Some(m) => {
                    let a = parse_amount(m.get_ref())
                        .map_err(|e| self.at(m, format!("{key}.mean_at_most"), e))?;
                    if a.working_days != 0 {
                        return Err(self.at(
                            m,
                            format!("{key}.mean_at_most"),
                            "write objectives in s, m, h or d",
                        ));
                    }
                    Some(TimeDelta::seconds(a.secs))
                }
                None => None,
            };
            if objectives.iter().any(|x| x.promise == o.promise) {
                return Err(self.at(
                    &o.on_time_rate,
                    key,
                    format!("a second objective for {}", o.promise),
                ));
            }
            objectives.push(Objective {
                promise: o.promise,
                on_time_rate: rate,
                mean_at_most,
            });
        }
        Ok(Policy {
            version: raw
                .version
                .clone()
                .unwrap_or_else(|| format!("fnv1a:{:016x}", fnv1a(self.text))),
            file: self.file.to_string(),
            thresholds,
            on_time_target,
            calendars,
            rules,
            objectives,
            visits,
        })
    }

    /// Reads the `[visits]` table; each key the file leaves out takes the presets' value (and
    /// an error in that value names the presets file).
    fn visits(
        &self,
        own: Option<&RawVisits>,
        calendars: &mut BTreeMap<String, Calendar>,
    ) -> Result<VisitRules, LoadError> {
        let presets = Loader {
            text: PRESETS,
            file: PRESETS_FILE,
        };
        let base = preset_visits();
        let keys = VisitSources {
            file: self,
            presets: &presets,
            own,
            base,
        };

        let calendar = match own.and_then(|v| v.calendar.as_ref()) {
            Some(name) => {
                if !calendars.contains_key(name.get_ref()) {
                    let known: Vec<&str> = calendars.keys().map(String::as_str).collect();
                    return Err(self.at(
                        name,
                        "visits.calendar",
                        format!(
                            "unknown calendar `{}` (known: {})",
                            name.get_ref(),
                            known.join(", ")
                        ),
                    ));
                }
                name.get_ref().clone()
            }
            // The presets' calendar if the file has one by that name, else every day.
            None => match base.and_then(|v| v.calendar.as_ref()) {
                Some(name) if calendars.contains_key(name.get_ref()) => name.get_ref().clone(),
                _ => {
                    calendars
                        .entry(VISITS_FALLBACK_CALENDAR.to_string())
                        .or_insert_with(|| Calendar::always(VISITS_FALLBACK_CALENDAR));
                    VISITS_FALLBACK_CALENDAR.to_string()
                }
            },
        };
        let holiday_shift = *keys
            .get("visits.holiday_shift", |v| v.holiday_shift.as_ref())?
            .1
            .get_ref();
        let key_account_in_person = *keys
            .get("visits.key_account_in_person", |v| {
                v.key_account_in_person.as_ref()
            })?
            .1
            .get_ref();
        let cadence = |key: &str, get: fn(&RawVisits) -> Option<&Spanned<String>>| {
            let (l, v) = keys.get(key, get)?;
            Cadence::parse(v.get_ref()).map_err(|e| l.at(v, key, e))
        };
        let tier_a = cadence("visits.cadence.A", |v| v.cadence.as_ref()?.a.as_ref())?;
        let tier_b = cadence("visits.cadence.B", |v| v.cadence.as_ref()?.b.as_ref())?;
        let tier_c = cadence("visits.cadence.C", |v| v.cadence.as_ref()?.c.as_ref())?;
        let in_person_every = cadence("visits.in_person_every", |v| v.in_person_every.as_ref())?;

        let (l, v) = keys.get("visits.horizon", |v| v.horizon.as_ref())?;
        let horizon_days = l.whole_days(v, "visits.horizon", 1, MAX_HORIZON_DAYS)?;
        let (l, v) = keys.get("visits.care_lead", |v| v.care_lead.as_ref())?;
        let care_lead_days = l.whole_days(v, "visits.care_lead", 0, MAX_LEAD_DAYS)?;
        let (l, v) = keys.get("visits.grace", |v| v.grace.as_ref())?;
        let grace = l.grace(v, "visits.grace")?;
        let (l, list) = keys.get("visits.holiday", |v| v.holiday.as_deref())?;
        let holidays = list
            .iter()
            .enumerate()
            .map(|(i, h)| l.care_holiday(h, &format!("visits.holiday[{i}]")))
            .collect::<Result<Vec<_>, _>>()?;

        Ok(VisitRules {
            calendar,
            holiday_shift,
            tier_a,
            tier_b,
            tier_c,
            key_account_in_person,
            in_person_every,
            horizon_days,
            grace,
            care_lead_days,
            holidays,
        })
    }

    /// Reads an amount of whole days between `min` and `max`: "90d", "3d", "2w".
    fn whole_days(
        &self,
        s: &Spanned<String>,
        key: &str,
        min: u32,
        max: u32,
    ) -> Result<u32, LoadError> {
        let a = parse_amount(s.get_ref()).map_err(|e| self.at(s, key, e))?;
        let days = a.secs / 86_400;
        if a.working_days != 0 || a.secs % 86_400 != 0 {
            return Err(self.at(
                s,
                key,
                format!("write whole calendar days, e.g. \"{min}d\" or \"90d\""),
            ));
        }
        if days < i64::from(min) || days > i64::from(max) {
            return Err(self.at(s, key, format!("{days} days is outside {min}-{max} days")));
        }
        u32::try_from(days).map_err(|_| self.at(s, key, "too large"))
    }

    /// Reads a visit's grace: calendar time ("2d", "36h"), zero to a year.
    fn grace(&self, s: &Spanned<String>, key: &str) -> Result<TimeDelta, LoadError> {
        let a = parse_amount(s.get_ref()).map_err(|e| self.at(s, key, e))?;
        if a.working_days != 0 {
            return Err(self.at(
                s,
                key,
                "write the grace in calendar time (s, m, h, d, w), e.g. \"2d\"",
            ));
        }
        if a.secs > i64::from(MAX_LEAD_DAYS) * 86_400 {
            return Err(self.at(s, key, "a grace of at most a year, e.g. \"2d\""));
        }
        Ok(TimeDelta::seconds(a.secs))
    }

    /// Reads a care holiday: `date = "10-01"` (every year) or `"2027-02-06"` (that year).
    fn care_holiday(&self, h: &RawCareHoliday, key: &str) -> Result<CareHoliday, LoadError> {
        let name = h.name.get_ref().trim();
        if name.is_empty() {
            return Err(self.at(&h.name, format!("{key}.name"), "a holiday needs a name"));
        }
        let text = h.date.get_ref().trim();
        let bad = || {
            self.at(
                &h.date,
                format!("{key}.date"),
                format!("invalid date \"{text}\": expected MM-DD (every year) or YYYY-MM-DD (that year only)"),
            )
        };
        let (year, month, day) = match text.split('-').collect::<Vec<_>>()[..] {
            [m, d] if m.len() == 2 && d.len() == 2 => (None, m, d),
            [y, m, d] if y.len() == 4 && m.len() == 2 && d.len() == 2 => {
                (Some(y.parse::<i32>().map_err(|_| bad())?), m, d)
            }
            _ => return Err(bad()),
        };
        let month: u32 = month.parse().map_err(|_| bad())?;
        let day: u32 = day.parse().map_err(|_| bad())?;
        let valid = match year {
            Some(y) => NaiveDate::from_ymd_opt(y, month, day).is_some(),
            // Any year that has the date: 29 February is kept (28 February in other years).
            None => annual_occurrence(month, day, 2028).is_some(),
        };
        if !valid {
            return Err(bad());
        }
        Ok(CareHoliday {
            name: name.to_string(),
            month,
            day,
            year,
        })
    }

    /// Rejects two rules of the same promise and kind, equally specific, that can both match a
    /// case — unless a more specific rule covers every such case.
    fn check_overlaps(&self, raw: &RawPolicy, rules: &[Rule]) -> Result<(), LoadError> {
        let is_factor = |r: &Rule| matches!(r.action, RuleAction::Factor(_));
        for (j, b) in rules.iter().enumerate() {
            for a in &rules[..j] {
                if a.promise != b.promise
                    || is_factor(a) != is_factor(b)
                    || a.when.specificity() != b.when.specificity()
                {
                    continue;
                }
                let Some(both) = a.when.intersect(&b.when) else {
                    continue;
                };
                let spec = a.when.specificity();
                let covered = rules.iter().any(|c| {
                    c.promise == a.promise
                        && is_factor(c) == is_factor(a)
                        && c.when.specificity() > spec
                        && c.when.covers(&both)
                });
                if !covered {
                    return Err(self.at(
                        &raw.rule[j].id,
                        format!("rule[{j}].when"),
                        format!(
                            "rule `{}` overlaps rule `{}` (line {}) with the same specificity {spec}: a case with {both} matches both; make one more specific or add a rule for that case",
                            b.id, a.id, a.line
                        ),
                    ));
                }
            }
        }
        Ok(())
    }
}

/// A stable, dependency-free hash of the policy text, used as its version when none is given.
fn fnv1a(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}
