//! The callback configuration: the window after the service, the fix limit of a finding and
//! how many unreached attempts end a callback. The limits come from the SLA policy
//! (csops-sla's `callback` and `callback_fix` promises) so the feedback service and the
//! complaints service count the same 2 days on the same calendar.

use chrono::{DateTime, TimeDelta, Utc};
use csops_sla::{Calendar, Case, Clock, ClockSpec, Policy, PolicyError, Promise};

/// How a deadline is counted from a start instant.
#[derive(Debug, Clone)]
pub struct Limit(Repr);

#[derive(Debug, Clone)]
enum Repr {
    /// Calendar time: every hour counts.
    Elapsed(TimeDelta),
    /// A promise of the SLA policy, counted on its calendar (working time, holidays).
    Sla {
        spec: Box<ClockSpec>,
        calendar: Box<Calendar>,
    },
}

impl Limit {
    /// A limit in calendar time (every hour counts).
    pub fn elapsed(limit: TimeDelta) -> Self {
        Limit(Repr::Elapsed(limit))
    }

    /// The limit the SLA policy gives a promise for a case: its target counted on its
    /// calendar, as `Policy::start(promise, case, from)` would count it.
    pub fn from_policy(
        policy: &Policy,
        promise: Promise,
        case: &Case,
    ) -> Result<Self, PolicyError> {
        let spec = policy.resolve(promise, case)?;
        let calendar = policy
            .calendar(&spec.calendar)
            .ok_or_else(|| PolicyError::UnknownCalendar(spec.calendar.clone()))?
            .clone();
        // A clock refuses only a malformed spec: check it once here, so `deadline` cannot fail.
        Clock::start(spec.clone(), DateTime::UNIX_EPOCH)?;
        Ok(Limit(Repr::Sla {
            spec: Box::new(spec),
            calendar: Box::new(calendar),
        }))
    }

    /// The deadline of something started at `from`.
    pub fn deadline(&self, from: DateTime<Utc>) -> DateTime<Utc> {
        match &self.0 {
            Repr::Elapsed(limit) => from
                .checked_add_signed(*limit)
                .unwrap_or(DateTime::<Utc>::MAX_UTC),
            Repr::Sla { spec, calendar } => match Clock::start((**spec).clone(), from) {
                Ok(clock) => clock.deadline(calendar, from),
                // Unreachable: the spec was checked when the limit was made.
                Err(_) => from
                    .checked_add_signed(spec.target)
                    .unwrap_or(DateTime::<Utc>::MAX_UTC),
            },
        }
    }

    /// The limit in words, e.g. "2d" or "2d on calendar always (rule callback.default)".
    pub fn describe(&self) -> String {
        match &self.0 {
            Repr::Elapsed(limit) => human(*limit),
            Repr::Sla { spec, .. } => format!(
                "{} on calendar {} (rule {})",
                human(spec.target),
                spec.calendar,
                spec.rule
            ),
        }
    }
}

/// "2d", "36h", "90m" or "45s": the largest whole unit.
fn human(d: TimeDelta) -> String {
    let s = d.num_seconds();
    match s {
        s if s != 0 && s % 86_400 == 0 => format!("{}d", s / 86_400),
        s if s != 0 && s % 3_600 == 0 => format!("{}h", s / 3_600),
        s if s != 0 && s % 60 == 0 => format!("{}m", s / 60),
        s => format!("{s}s"),
    }
}

/// The callback rules a deployment may change.
#[derive(Debug, Clone)]
pub struct CallbackRules {
    /// A callback is planned no earlier than this after the service ends (seed 002: 1-2 days
    /// after the repair; default 1 day). A planning hint, not a gate: see
    /// [`super::Callback::record_attempt`].
    pub earliest_after: TimeDelta,
    /// The callback is due within this of the service end (default 2 days: the SLA policy's
    /// `callback` promise).
    pub due: Limit,
    /// A finding is fixed within this of being found (default 2 days: the SLA policy's
    /// `callback_fix` promise, seed 002: "必须在2天内解决").
    pub fix: Limit,
    /// After this many attempts that do not reach the customer the callback ends UNREACHABLE
    /// (default 3, as the complaints service's `close_after_unreachable`).
    pub max_unreached_attempts: u32,
}

impl Default for CallbackRules {
    /// The handbook's numbers in calendar time: 1 day, 2 days, 2 days, 3 attempts (the shipped
    /// SLA presets give the same limits; [`CallbackRules::from_policy`] reads them).
    fn default() -> Self {
        Self {
            earliest_after: TimeDelta::days(1),
            due: Limit::elapsed(TimeDelta::days(2)),
            fix: Limit::elapsed(TimeDelta::days(2)),
            max_unreached_attempts: 3,
        }
    }
}

impl CallbackRules {
    /// The rules with the due and fix limits of the SLA policy's `callback` and
    /// `callback_fix` promises for `case` (the feedback service knows no tier of the customer
    /// when an event arrives, so it passes `Case::new()`: the rules for every case).
    pub fn from_policy(policy: &Policy, case: &Case) -> Result<Self, PolicyError> {
        Ok(Self {
            due: Limit::from_policy(policy, Promise::Callback, case)?,
            fix: Limit::from_policy(policy, Promise::CallbackFix, case)?,
            ..Self::default()
        })
    }
}
