//! Explanations: why a clock's deadline is what it is, as data an RPC can return.

use chrono::{DateTime, TimeDelta, Utc};
use serde::Serialize;

use crate::calendar::CalendarSummary;
use crate::case::Promise;
use crate::clock::{Clock, PauseReason, State};
use crate::duration::serde_human;
use crate::policy::{Condition, Policy, PolicyError};

/// Why a clock's deadline is what it is ([`Policy::explain`]). Serializable as JSON.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Explanation {
    /// What is promised.
    pub promise: Promise,
    /// The instant the explanation was computed for.
    pub evaluated_at: DateTime<Utc>,
    /// The policy version in force.
    pub policy_version: String,
    /// The rule that set the target and why it matched.
    pub rule: RuleExplanation,
    /// The calendar the clock counts on, with the holidays and extra working days between the
    /// start and the deadline.
    pub calendar: CalendarSummary,
    /// When the clock started.
    pub started_at: DateTime<Utc>,
    /// Every pause, oldest first.
    pub pauses: Vec<PauseExplanation>,
    /// Working time counted so far.
    #[serde(with = "serde_human")]
    pub working_time_used: TimeDelta,
    /// Working time left before the deadline (zero once breached).
    #[serde(with = "serde_human")]
    pub working_time_remaining: TimeDelta,
    /// Working time kept out of the count by pauses.
    #[serde(with = "serde_human")]
    pub working_time_paused: TimeDelta,
    /// The deadline: start + target working time + paused working time, on the calendar.
    pub deadline: DateTime<Utc>,
    /// Where the clock is.
    pub state: State,
    /// Warning thresholds and when each was (or will be) passed.
    pub thresholds: Vec<ThresholdExplanation>,
    /// The explanation in one sentence.
    pub summary: String,
}

/// The rule part of an [`Explanation`].
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RuleExplanation {
    /// The rule's id.
    pub id: String,
    /// The rule's description (empty when the rule is no longer in the policy).
    pub description: String,
    /// False when the clock's rule is not in the current policy (the policy changed since).
    pub in_policy: bool,
    /// The target after any factor.
    #[serde(with = "serde_human")]
    pub target: TimeDelta,
    /// The target before the factor.
    #[serde(with = "serde_human")]
    pub base_target: TimeDelta,
    /// The factor applied (1 when none).
    pub factor: f64,
    /// The rule that supplied the factor.
    pub adjustment_rule: Option<String>,
    /// The factor rule's description (empty without one, or when it left the policy).
    pub adjustment_description: String,
    /// The factor rule's conditions and the case's value for each, e.g. `key_account = true`:
    /// why the factor applied.
    pub adjustment_conditions: Vec<Condition>,
    /// The target rule's conditions and the case's value for each.
    pub conditions: Vec<Condition>,
    /// How many conditions the rule has; the most specific matching rule wins.
    pub specificity: usize,
    /// Other rules that matched the case but were less specific.
    pub less_specific: Vec<String>,
}

/// One pause in an [`Explanation`].
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PauseExplanation {
    /// When it began.
    pub from: DateTime<Utc>,
    /// When it ended (`None`: still paused).
    pub until: Option<DateTime<Utc>>,
    /// Why.
    pub reason: PauseReason,
    /// Working time it kept out of the count.
    #[serde(with = "serde_human")]
    pub working_time: TimeDelta,
}

/// One warning threshold in an [`Explanation`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ThresholdExplanation {
    /// Percent of the target.
    pub percent: u8,
    /// When elapsed time reaches it (projected if not yet).
    pub at: DateTime<Utc>,
    /// Whether it has been reached.
    pub reached: bool,
}

impl Policy {
    /// Explains a clock at `now`: the rule and why it matched, the calendar, the pauses, the
    /// working time used and remaining, and the deadline.
    pub fn explain(&self, clock: &Clock, now: DateTime<Utc>) -> Result<Explanation, PolicyError> {
        let cal = self.calendar_for(clock)?;
        let status = clock.status(cal, now);
        let spec = clock.spec();
        let rule = self.rule(&spec.rule);
        let less_specific = self
            .matching(spec.promise, &spec.case)
            .map(|m| m.less_specific.iter().map(|r| r.id.clone()).collect())
            .unwrap_or_default();
        let factor = spec.adjustment.as_ref().map_or(1.0, |a| a.factor);
        let base_target = spec.base_target.unwrap_or(spec.target);
        let adjustment = spec.adjustment.as_ref().and_then(|a| self.rule(&a.rule));
        let rule = RuleExplanation {
            id: spec.rule.clone(),
            description: rule.map(|r| r.description.clone()).unwrap_or_default(),
            in_policy: rule.is_some(),
            target: spec.target,
            base_target,
            factor,
            adjustment_rule: spec.adjustment.as_ref().map(|a| a.rule.clone()),
            adjustment_description: adjustment
                .map(|r| r.description.clone())
                .unwrap_or_default(),
            adjustment_conditions: adjustment
                .map(|r| r.when.conditions(&spec.case))
                .unwrap_or_default(),
            conditions: rule
                .map(|r| r.when.conditions(&spec.case))
                .unwrap_or_default(),
            specificity: rule.map_or(0, |r| r.when.specificity()),
            less_specific,
        };
        let paused_each = clock.paused_working_time(cal, now);
        let pauses: Vec<PauseExplanation> = clock
            .pauses()
            .iter()
            .zip(paused_each)
            .map(|(p, w)| PauseExplanation {
                from: p.from,
                until: p.until,
                reason: p.reason.clone(),
                working_time: w,
            })
            .collect();
        let thresholds = clock
            .threshold_instants(cal, now)
            .into_iter()
            .map(|(percent, at)| ThresholdExplanation {
                percent,
                at,
                reached: status
                    .reached
                    .contains(&crate::clock::Milestone::Threshold(percent)),
            })
            .collect();
        let local = |t: DateTime<Utc>| match cal.time_zone() {
            Some(tz) => format!(
                "{} {}",
                t.with_timezone(&tz).format("%a %Y-%m-%d %H:%M"),
                tz.name()
            ),
            None => format!("{} UTC", t.format("%a %Y-%m-%d %H:%M")),
        };
        let mut summary = format!(
            "{} within {} (rule {}",
            spec.promise,
            if cal.is_always() {
                format!(
                    "{} of calendar time",
                    cal.describe_working_time(spec.target)
                )
            } else {
                format!(
                    "{} on {}",
                    cal.describe_working_time(spec.target),
                    cal.name()
                )
            },
            spec.rule
        );
        let conds: Vec<String> = rule
            .conditions
            .iter()
            .map(|c| format!("{}={}", c.key, c.actual))
            .collect();
        if !conds.is_empty() {
            summary.push_str(&format!(": {}", conds.join(", ")));
        }
        if let Some(a) = &rule.adjustment_rule {
            let why: Vec<String> = rule
                .adjustment_conditions
                .iter()
                .map(|c| format!("{}={}", c.key, c.actual))
                .collect();
            let why = if why.is_empty() {
                String::new()
            } else {
                format!(" ({})", why.join(", "))
            };
            summary.push_str(&format!(
                "; {a}{why} applies x{factor} to {}",
                cal.describe_working_time(base_target)
            ));
        }
        summary.push(')');
        if !pauses.is_empty() {
            summary.push_str(&format!(
                "; paused {} in {} pause(s)",
                cal.describe_working_time(status.paused),
                pauses.len()
            ));
        }
        summary.push_str(&format!(
            "; due {}; {}.",
            local(status.deadline),
            status.state.as_str()
        ));
        Ok(Explanation {
            promise: spec.promise,
            evaluated_at: now,
            policy_version: self.version().to_string(),
            // Between the start and the deadline, as the contract says: after a breach the
            // holidays since the deadline do not explain it.
            calendar: cal.summary(clock.started_at(), status.deadline),
            started_at: clock.started_at(),
            pauses,
            working_time_used: status.elapsed,
            working_time_remaining: status.remaining.max(TimeDelta::zero()),
            working_time_paused: status.paused,
            deadline: status.deadline,
            state: status.state,
            thresholds,
            summary,
            rule,
        })
    }
}
