//! The customers service's own settings (the kit's are in `csops_runtime::Settings`).

use std::time::Duration;

use clap::builder::TypedValueParser as _;
use clap::Args;
use csops_runtime::config::parse_duration;

use crate::domain::{ChurnPolicy, RECENT_SIGNALS};

/// Customers-only flags and environment variables.
#[derive(Debug, Clone, Args)]
pub struct Config {
    /// Churn signals older than this, counted back from the newest one, no longer raise a
    /// customer's churn risk level.
    #[arg(long, env = "CSOPS_CHURN_SIGNAL_WINDOW", value_name = "DURATION", default_value = "90d", value_parser = parse_duration)]
    pub churn_signal_window: Duration,
    /// How many recent churn signals a customer file keeps (and its level is computed from).
    #[arg(
        long,
        env = "CSOPS_CHURN_RECENT_SIGNALS",
        value_name = "N",
        default_value_t = RECENT_SIGNALS,
        value_parser = clap::value_parser!(u16).range(1..=1000).map(usize::from)
    )]
    pub churn_recent_signals: usize,
}

impl Default for Config {
    fn default() -> Self {
        let policy = ChurnPolicy::default();
        Self {
            churn_signal_window: policy.window.to_std().unwrap_or(Duration::ZERO),
            churn_recent_signals: policy.recent,
        }
    }
}

impl Config {
    /// The churn policy these settings describe, naming the flag at fault.
    pub fn churn_policy(&self) -> Result<ChurnPolicy, String> {
        let window = chrono::TimeDelta::from_std(self.churn_signal_window)
            .ok()
            .filter(|w| *w > chrono::TimeDelta::zero() && *w <= chrono::TimeDelta::days(3660))
            .ok_or("--churn-signal-window / CSOPS_CHURN_SIGNAL_WINDOW: must be more than 0 and at most 10 years")?;
        Ok(ChurnPolicy {
            window,
            recent: self.churn_recent_signals,
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn the_defaults_are_the_domain_defaults_and_a_zero_window_is_refused() {
        assert_eq!(
            Config::default().churn_policy().unwrap(),
            ChurnPolicy::default()
        );
        let zero = Config {
            churn_signal_window: Duration::ZERO,
            ..Config::default()
        };
        assert!(zero
            .churn_policy()
            .unwrap_err()
            .contains("--churn-signal-window"));
    }
}
