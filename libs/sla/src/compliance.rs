//! Compliance statistics over many clocks: on-time rate, durations, breaches by rule.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, TimeDelta, Utc};
use serde::Serialize;

use crate::calendar::Calendar;
use crate::case::Promise;
use crate::clock::{Clock, Outcome};
use crate::duration::serde_human;
use crate::policy::{Policy, PolicyError};

/// Compliance of a set of clocks at an instant ([`Policy::compliance`]).
///
/// Decided clocks are those stopped (on time or late) and those still open past their deadline
/// (already failed). The on-time rate is met / decided. Durations (mean, percentiles) are the
/// working time of stopped clocks, pauses excluded — the telecom standard's "completion minus
/// acceptance, excluding delays not caused by the company".
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ComplianceReport {
    /// Clocks looked at.
    pub clocks: u64,
    /// Stopped on time.
    pub met: u64,
    /// Stopped late.
    pub met_late: u64,
    /// Open past the deadline.
    pub breached_open: u64,
    /// Open, not yet due.
    pub open: u64,
    /// Cancelled (not counted).
    pub cancelled: u64,
    /// met / (met + met_late + breached_open); 1 when nothing is decided.
    pub on_time_rate: f64,
    /// The objective for the on-time rate (e.g. 0.98).
    pub on_time_target: f64,
    /// Whether the on-time rate reaches the objective.
    pub meets_on_time_target: bool,
    /// Duration statistics of stopped clocks (`None` when none stopped).
    pub durations: Option<DurationStats>,
    /// The objective for the mean duration, when one is set (installation: 15 days).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mean_at_most: Option<String>,
    /// Whether the mean duration meets its objective (`None` without an objective or data).
    pub meets_mean_objective: Option<bool>,
    /// Late or breached clocks per rule id.
    pub breaches_by_rule: BTreeMap<String, u64>,
}

/// Mean and percentiles of durations (nearest-rank percentiles).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct DurationStats {
    /// Mean.
    #[serde(with = "serde_human")]
    pub mean: TimeDelta,
    /// Median.
    #[serde(with = "serde_human")]
    pub p50: TimeDelta,
    /// 90th percentile.
    #[serde(with = "serde_human")]
    pub p90: TimeDelta,
    /// 95th percentile.
    #[serde(with = "serde_human")]
    pub p95: TimeDelta,
    /// 99th percentile.
    #[serde(with = "serde_human")]
    pub p99: TimeDelta,
    /// Longest.
    #[serde(with = "serde_human")]
    pub max: TimeDelta,
}

/// Accumulates outcomes one at a time; for services that keep outcomes rather than clocks.
#[derive(Debug, Clone, Default)]
pub struct ComplianceBuilder {
    clocks: u64,
    met: u64,
    met_late: u64,
    breached_open: u64,
    open: u64,
    cancelled: u64,
    durations: Vec<i64>,
    breaches: HashMap<String, u64>,
}

impl ComplianceBuilder {
    /// Returns an empty builder.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds one clock's outcome under the id of the rule that set its target.
    pub fn add(&mut self, rule: &str, outcome: Outcome) {
        self.clocks += 1;
        let mut breach = false;
        match outcome {
            Outcome::Open => self.open += 1,
            Outcome::Cancelled => self.cancelled += 1,
            Outcome::Breached => {
                self.breached_open += 1;
                breach = true;
            }
            Outcome::Met(d) => {
                self.met += 1;
                self.durations.push(d.num_seconds());
            }
            Outcome::MetLate(d) => {
                self.met_late += 1;
                self.durations.push(d.num_seconds());
                breach = true;
            }
        }
        if breach {
            // Look up before inserting so the common case allocates no key.
            match self.breaches.get_mut(rule) {
                Some(n) => *n += 1,
                None => {
                    self.breaches.insert(rule.to_string(), 1);
                }
            }
        }
    }

    /// Finishes the report against an on-time objective and an optional mean objective.
    pub fn finish(
        mut self,
        on_time_target: f64,
        mean_at_most: Option<TimeDelta>,
    ) -> ComplianceReport {
        let decided = self.met + self.met_late + self.breached_open;
        let on_time_rate = if decided == 0 {
            1.0
        } else {
            self.met as f64 / decided as f64
        };
        let durations = stats(&mut self.durations);
        ComplianceReport {
            clocks: self.clocks,
            met: self.met,
            met_late: self.met_late,
            breached_open: self.breached_open,
            open: self.open,
            cancelled: self.cancelled,
            on_time_rate,
            on_time_target,
            meets_on_time_target: on_time_rate >= on_time_target,
            mean_at_most: mean_at_most.map(|m| crate::duration::format_secs(m.num_seconds())),
            meets_mean_objective: match (mean_at_most, &durations) {
                (Some(m), Some(d)) => Some(d.mean <= m),
                _ => None,
            },
            durations,
            breaches_by_rule: self.breaches.into_iter().collect(),
        }
    }
}

/// Nearest-rank percentiles by selection (linear time), which matters at a million clocks.
fn stats(v: &mut [i64]) -> Option<DurationStats> {
    if v.is_empty() {
        return None;
    }
    let n = v.len();
    let sum: i128 = v.iter().map(|&x| i128::from(x)).sum();
    let mean = (sum / n as i128) as i64;
    let mut pick = |p: usize| -> TimeDelta {
        let rank = (p * n).div_ceil(100).clamp(1, n) - 1;
        let (_, x, _) = v.select_nth_unstable(rank);
        TimeDelta::seconds(*x)
    };
    // Ascending ranks let each selection work on an already partly ordered slice.
    let p50 = pick(50);
    let p90 = pick(90);
    let p95 = pick(95);
    let p99 = pick(99);
    let max = pick(100);
    Some(DurationStats {
        mean: TimeDelta::seconds(mean),
        p50,
        p90,
        p95,
        p99,
        max,
    })
}

impl Policy {
    /// Computes compliance for one promise over many clocks at `now`, against the policy's
    /// objective for that promise (or its default on-time target). Clocks of other promises are
    /// skipped.
    pub fn compliance<'a>(
        &self,
        promise: Promise,
        clocks: impl IntoIterator<Item = &'a Clock>,
        now: DateTime<Utc>,
    ) -> Result<ComplianceReport, PolicyError> {
        let mut b = ComplianceBuilder::new();
        // Most sets use one or two calendars; remembering the last avoids a map lookup per clock.
        let mut last: Option<(&str, &Calendar)> = None;
        for c in clocks {
            let spec = c.spec();
            if spec.promise != promise {
                continue;
            }
            let cal = match last {
                Some((name, cal)) if name == spec.calendar => cal,
                _ => {
                    let cal = self.calendar_for(c)?;
                    last = Some((spec.calendar.as_str(), cal));
                    cal
                }
            };
            b.add(&spec.rule, c.outcome(cal, now));
        }
        let (target, mean) = match self.objective(promise) {
            Some(o) => (o.on_time_rate, o.mean_at_most),
            None => (self.on_time_target(), None),
        };
        Ok(b.finish(target, mean))
    }
}
