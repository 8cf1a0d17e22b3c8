//! Churn risk: signals that a customer may leave, and the risk level they add up to.
//! Only 4 % of unhappy customers complain (DOMAIN §1), so silence and falling scores must be
//! visible on the file itself.

use chrono::{DateTime, TimeDelta, Utc};
use csops_runtime::violations::MAX_ID_LEN;
use serde::{Deserialize, Serialize};

use super::Violations;

/// How many recent signals a file keeps inline by default (older ones stay in the signal
/// history). Deployment choice.
pub const RECENT_SIGNALS: usize = 20;

/// The longest `evidence` of a churn signal, in characters.
pub const MAX_EVIDENCE: usize = 1000;

/// How far back a reported signal may have been observed: older ones say nothing about the
/// risk today (the level counts [`SIGNAL_WINDOW`] only), and decades back is a wrong value.
pub const MAX_SIGNAL_AGE: TimeDelta = TimeDelta::days(366);

/// By default, signals older than this, counted back from the newest one, no longer raise the
/// level. Deployment choice (a quarter).
pub const SIGNAL_WINDOW: TimeDelta = TimeDelta::days(90);

/// How churn signals add up to a risk level: a deployment's policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChurnPolicy {
    /// Signals older than this, counted back from the newest one, no longer raise the level.
    pub window: TimeDelta,
    /// How many recent signals a file keeps (and the level is computed from).
    pub recent: usize,
}

impl Default for ChurnPolicy {
    fn default() -> Self {
        Self {
            window: SIGNAL_WINDOW,
            recent: RECENT_SIGNALS,
        }
    }
}

/// How strong a churn risk is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub enum RiskLevel {
    /// Worth watching.
    Low,
    /// Act soon.
    Medium,
    /// Act now.
    High,
}

impl RiskLevel {
    /// Returns the stored rank: 1 low, 2 medium, 3 high (0 stands for none).
    pub fn rank(self) -> i64 {
        match self {
            Self::Low => 1,
            Self::Medium => 2,
            Self::High => 3,
        }
    }

    /// The level of a stored rank; `None` for 0 (no signals) or an unknown rank.
    pub fn from_rank(rank: i64) -> Option<Self> {
        match rank {
            1 => Some(Self::Low),
            2 => Some(Self::Medium),
            3 => Some(Self::High),
            _ => None,
        }
    }
}

/// What suggests the customer may leave.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum SignalKind {
    /// No contact for longer than usual.
    Silence,
    /// Scores falling.
    FallingScores,
    /// Unhappy on a callback.
    UnhappyCallback,
    /// Repeat complaints.
    RepeatComplaints,
    /// Expectation far above perception.
    NegativeGap,
    /// Anything else.
    Other,
}

/// One churn signal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChurnSignal {
    /// Sender's id; the idempotency key.
    pub signal_id: String,
    /// What was observed.
    pub kind: SignalKind,
    /// How strong.
    pub level: RiskLevel,
    /// Why, in words.
    pub evidence: String,
    /// Who observed it.
    pub source: String,
    /// When it was observed.
    #[serde(with = "csops_runtime::time::serde_micros")]
    pub observe_time: DateTime<Utc>,
}

impl ChurnSignal {
    /// Checks the signal; field paths are relative to the signal message.
    pub fn validate(&self) -> Violations {
        let mut v = Violations::default();
        if self.signal_id.trim().is_empty() || self.signal_id.chars().count() > MAX_ID_LEN {
            v.push("signal_id", format!("must be 1-{MAX_ID_LEN} characters"));
        }
        if self.source.trim().is_empty() || self.source.chars().count() > MAX_ID_LEN {
            v.push(
                "source",
                format!("must name who observed the signal (1-{MAX_ID_LEN} characters)"),
            );
        }
        if self.evidence.chars().count() > MAX_EVIDENCE {
            v.push(
                "evidence",
                format!("must be at most {MAX_EVIDENCE} characters"),
            );
        }
        v
    }
}

/// Returns the strongest level among signals observed within the window before the newest
/// one, or `None` without signals.
pub fn risk_level(signals: &[ChurnSignal], window: TimeDelta) -> Option<RiskLevel> {
    let newest = signals.iter().map(|s| s.observe_time).max()?;
    signals
        .iter()
        .filter(|s| s.observe_time >= newest - window)
        .map(|s| s.level)
        .max()
}

/// Adds a signal to the recent list: newest first, at most `keep`.
pub(super) fn remember(recent: &mut Vec<ChurnSignal>, signal: ChurnSignal, keep: usize) {
    recent.push(signal);
    recent.sort_by(|a, b| {
        b.observe_time
            .cmp(&a.observe_time)
            .then_with(|| a.signal_id.cmp(&b.signal_id))
    });
    recent.truncate(keep.max(1));
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const DAY: i64 = 24 * 3600 * 1_000_000;

    fn day_at(day: i64) -> DateTime<Utc> {
        csops_runtime::time::from_micros(day * DAY)
    }

    fn signal(id: &str, level: RiskLevel, day: i64) -> ChurnSignal {
        ChurnSignal {
            signal_id: id.into(),
            kind: SignalKind::Silence,
            level,
            evidence: String::new(),
            source: "feedback".into(),
            observe_time: day_at(day),
        }
    }

    #[test]
    fn the_strongest_recent_signal_sets_the_level_and_old_ones_expire() {
        assert_eq!(risk_level(&[], SIGNAL_WINDOW), None);
        let recent = [
            signal("a", RiskLevel::High, 100),
            signal("b", RiskLevel::Low, 150),
        ];
        assert_eq!(risk_level(&recent, SIGNAL_WINDOW), Some(RiskLevel::High));
        let later = [
            signal("a", RiskLevel::High, 100),
            signal("b", RiskLevel::Low, 200),
        ];
        assert_eq!(risk_level(&later, SIGNAL_WINDOW), Some(RiskLevel::Low));
        // A deployment with a 30-day window forgets the high signal 50 days back.
        assert_eq!(
            risk_level(&recent, TimeDelta::days(30)),
            Some(RiskLevel::Low)
        );
    }

    proptest! {
        #[test]
        fn the_recent_list_stays_bounded_and_newest_first(days in proptest::collection::vec(0i64..1000, 0..60), keep in 1usize..30) {
            let mut recent = Vec::new();
            for (i, day) in days.iter().enumerate() {
                remember(&mut recent, signal(&i.to_string(), RiskLevel::Medium, *day), keep);
            }
            prop_assert!(recent.len() <= keep);
            prop_assert!(recent.windows(2).all(|w| w[0].observe_time >= w[1].observe_time));
            if let Some(max) = days.iter().max() {
                prop_assert_eq!(recent[0].observe_time, day_at(*max));
            }
        }
    }
}
