//! The feedback service's own flags (the shared ones live in csops-runtime): its neighbours,
//! the SLA policy (the callback and callback-fix limits live there) and the callback rules.

use std::path::PathBuf;
use std::time::Duration;

use clap::Args;
use csops_runtime::config::parse_duration;
use csops_sla::{Case, Policy};

use crate::domain::callback::CallbackRules;
use crate::domain::churn::ChurnRules;
use crate::domain::survey::SurveyRules;

/// Flags of the feedback service.
#[derive(Debug, Clone, Args)]
pub struct Config {
    /// URL of the complaints service (callback outcomes go to its RecordCallback); empty = not
    /// deployed (the outcomes wait in the outbox).
    #[arg(
        long,
        env = "CSOPS_COMPLAINTS_URL",
        value_name = "URL",
        default_value = ""
    )]
    pub complaints_url: String,
    /// URL of the customers service: channel consents for surveys and churn-risk signals.
    #[arg(
        long,
        env = "CSOPS_CUSTOMERS_URL",
        value_name = "URL",
        default_value = "http://127.0.0.1:50051"
    )]
    pub customers_url: String,
    /// SLA policy TOML (format of csops-sla: its `callback` and `callback_fix` promises give
    /// the callback's due time and a finding's fix deadline); default: the presets embedded
    /// in csops-sla.
    #[arg(long, env = "CSOPS_SLA_POLICY_FILE", value_name = "FILE")]
    pub sla_policy_file: Option<PathBuf>,
    /// Unreached attempts after which a callback ends UNREACHABLE.
    #[arg(
        long,
        env = "CSOPS_CALLBACK_ATTEMPTS",
        value_name = "N",
        default_value_t = 3,
        value_parser = clap::value_parser!(u32).range(1..=20)
    )]
    pub callback_attempts: u32,
    /// How often the sweep counts overdue callbacks and findings and runs the churn detector.
    #[arg(long, env = "CSOPS_SWEEP_INTERVAL", value_name = "DURATION", default_value = "60s", value_parser = parse_duration)]
    pub sweep_interval: Duration,
    /// Longest pause of the outbox relay when nothing is due (a change wakes it at once).
    #[arg(long, env = "CSOPS_OUTBOX_INTERVAL", value_name = "DURATION", default_value = "2s", value_parser = parse_duration)]
    pub outbox_interval: Duration,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            complaints_url: String::new(),
            customers_url: "http://127.0.0.1:50051".into(),
            sla_policy_file: None,
            callback_attempts: 3,
            sweep_interval: Duration::from_secs(60),
            outbox_interval: Duration::from_secs(2),
        }
    }
}

impl Config {
    /// Defaults for tests: the given complaints URL, no customers service (set
    /// `customers_url` to give one), a fast relay and sweep.
    pub fn for_tests(complaints_url: &str) -> Self {
        Self {
            complaints_url: complaints_url.into(),
            customers_url: String::new(),
            outbox_interval: Duration::from_millis(100),
            sweep_interval: Duration::from_millis(200),
            ..Self::default()
        }
    }

    /// Reads the policy and checks the settings, naming the flag at fault.
    pub fn rules(&self) -> Result<crate::app::Rules, String> {
        let policy = match &self.sla_policy_file {
            Some(path) => Policy::load_from_path(path)
                .map_err(|e| format!("--sla-policy-file / CSOPS_SLA_POLICY_FILE: {e}"))?,
            None => Policy::default_presets(),
        };
        // No tier is known when an event arrives: the rules for every case.
        let callbacks = CallbackRules::from_policy(&policy, &Case::new()).map_err(|e| {
            format!("--sla-policy-file / CSOPS_SLA_POLICY_FILE: callback limits: {e}")
        })?;
        Ok(crate::app::Rules {
            callbacks: CallbackRules {
                max_unreached_attempts: self.callback_attempts,
                ..callbacks
            },
            // The contract's defaults (grades from 95/90/80, quadrant sides high from 5);
            // flags for them come with the scorecards.
            surveys: SurveyRules::default(),
            // The tiers' contact rhythm is the visit cadence of the same policy.
            churn: ChurnRules::with_visits(policy.visits()),
            // The contract's defaults: 30 days, 98 %.
            indicators: crate::domain::indicators::IndicatorRules::default(),
        })
    }
}
