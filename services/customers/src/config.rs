//! The customers service's own settings (the kit's are in `csops_runtime::Settings`): the
//! churn policy, and where customer changes go (the visits service, through the outbox).

use std::time::Duration;

use clap::builder::TypedValueParser as _;
use clap::Args;
use csops_runtime::config::parse_duration;
use csops_runtime::outbox::RelaySettings;

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
    /// URL of the visits service, told when a customer's tier, key account, region, owner,
    /// important dates or consents change or the file is archived or restored; empty = not
    /// deployed yet (the changes wait in the outbox).
    #[arg(long, env = "CSOPS_VISITS_URL", value_name = "URL", default_value = "")]
    pub visits_url: String,
    /// Longest pause of the outbox relay when nothing is due (a change wakes it at once).
    #[arg(long, env = "CSOPS_OUTBOX_INTERVAL", value_name = "DURATION", default_value = "2s", value_parser = parse_duration)]
    pub outbox_interval: Duration,
}

impl Default for Config {
    fn default() -> Self {
        let policy = ChurnPolicy::default();
        Self {
            churn_signal_window: policy.window.to_std().unwrap_or(Duration::ZERO),
            churn_recent_signals: policy.recent,
            visits_url: String::new(),
            outbox_interval: RelaySettings::default().interval,
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

    /// How the outbox relay paces itself, naming the flag at fault.
    pub fn relay_settings(&self) -> Result<RelaySettings, String> {
        if self.outbox_interval.is_zero() {
            return Err("--outbox-interval / CSOPS_OUTBOX_INTERVAL: must be more than 0".into());
        }
        Ok(RelaySettings {
            interval: self.outbox_interval,
            ..RelaySettings::default()
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[derive(Debug, clap::Parser)]
    struct Cli {
        #[command(flatten)]
        config: Config,
    }

    #[test]
    fn the_flags_defaults_are_the_default_config() {
        use clap::Parser as _;
        let parsed = Cli::try_parse_from(["csops-customers"]).unwrap().config;
        let default = Config::default();
        assert_eq!(parsed.churn_signal_window, default.churn_signal_window);
        assert_eq!(parsed.churn_recent_signals, default.churn_recent_signals);
        assert_eq!(parsed.visits_url, default.visits_url);
        assert_eq!(parsed.outbox_interval, default.outbox_interval);
    }

    #[test]
    fn a_zero_outbox_interval_is_refused() {
        let zero = Config {
            outbox_interval: Duration::ZERO,
            ..Config::default()
        };
        assert!(zero
            .relay_settings()
            .unwrap_err()
            .contains("--outbox-interval"));
        assert_eq!(
            Config::default().relay_settings().unwrap().interval,
            Duration::from_secs(2)
        );
    }

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
