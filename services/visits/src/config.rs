//! The visits service's own flags (the shared ones live in csops-runtime): its neighbours, the
//! SLA policy (cadence, care and field-job limits live there) and the booking rules.

use std::path::PathBuf;
use std::time::Duration;

use clap::Args;
use csops_runtime::config::parse_duration;
use csops_sla::Policy;

use crate::domain::Zone;

/// Flags of the visits service.
#[derive(Debug, Clone, Args)]
pub struct Config {
    /// URL of the customers service (tier, key account, region, important dates, consents).
    #[arg(
        long,
        env = "CSOPS_CUSTOMERS_URL",
        value_name = "URL",
        default_value = "http://127.0.0.1:50051"
    )]
    pub customers_url: String,
    /// Deadline of a call to the customers service.
    #[arg(long, env = "CSOPS_CUSTOMERS_TIMEOUT", value_name = "DURATION", default_value = "2s", value_parser = parse_duration)]
    pub customers_timeout: Duration,
    /// URL of the feedback service; empty = not deployed yet (its events wait in the outbox).
    #[arg(
        long,
        env = "CSOPS_FEEDBACK_URL",
        value_name = "URL",
        default_value = ""
    )]
    pub feedback_url: String,
    /// SLA policy TOML (format of csops-sla: its [visits] table holds the cadence, horizon and
    /// care rules); default: the presets embedded in csops-sla.
    #[arg(long, env = "CSOPS_SLA_POLICY_FILE", value_name = "FILE")]
    pub sla_policy_file: Option<PathBuf>,
    /// Who gets a visit when neither the request nor the customer file names an agent.
    #[arg(
        long,
        env = "CSOPS_DEFAULT_AGENT",
        value_name = "ID",
        default_value = "visits-desk"
    )]
    pub default_agent: String,
    /// The most visits and field jobs one person takes in a day; scheduling more is refused
    /// (the handbooks name overload as a cause of bad service).
    #[arg(
        long,
        env = "CSOPS_MAX_DAILY_BOOKINGS",
        value_name = "N",
        default_value_t = 8,
        value_parser = clap::value_parser!(u32).range(1..=100)
    )]
    pub max_daily_bookings: u32,
    /// How often the sweep marks overdue visits missed, extends plans over the horizon and
    /// creates care tasks.
    #[arg(long, env = "CSOPS_SWEEP_INTERVAL", value_name = "DURATION", default_value = "30s", value_parser = parse_duration)]
    pub sweep_interval: Duration,
    /// Longest pause of the outbox relay when nothing is due (a change wakes it at once).
    #[arg(long, env = "CSOPS_OUTBOX_INTERVAL", value_name = "DURATION", default_value = "2s", value_parser = parse_duration)]
    pub outbox_interval: Duration,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            customers_url: "http://127.0.0.1:50051".into(),
            customers_timeout: Duration::from_secs(2),
            feedback_url: String::new(),
            sla_policy_file: None,
            default_agent: "visits-desk".into(),
            max_daily_bookings: 8,
            sweep_interval: Duration::from_secs(30),
            outbox_interval: Duration::from_secs(2),
        }
    }
}

impl Config {
    /// Defaults for tests: the given customers and feedback URLs, fast background work.
    pub fn for_tests(customers_url: &str, feedback_url: &str) -> Self {
        Self {
            customers_url: customers_url.into(),
            feedback_url: feedback_url.into(),
            sweep_interval: Duration::from_millis(200),
            outbox_interval: Duration::from_millis(100),
            ..Self::default()
        }
    }

    /// Reads the policy and checks the settings, naming the flag at fault.
    pub fn rules(&self) -> Result<crate::app::Rules, String> {
        let policy = match &self.sla_policy_file {
            Some(path) => Policy::load_from_path(path).map_err(|e| e.to_string())?,
            None => Policy::default_presets(),
        };
        let visits = policy.visits().clone();
        let calendar = policy.calendar(&visits.calendar).cloned().ok_or_else(|| {
            format!(
                "the policy's [visits] calendar {:?} is not defined",
                visits.calendar
            )
        })?;
        let default_agent = self.default_agent.trim();
        if default_agent.is_empty() || default_agent.len() > 100 {
            return Err("--default-agent / CSOPS_DEFAULT_AGENT: must be 1-100 characters".into());
        }
        Ok(crate::app::Rules {
            zone: Zone(calendar.time_zone()),
            visits,
            calendar,
            policy,
            max_daily_bookings: self.max_daily_bookings,
            default_agent: default_agent.to_owned(),
        })
    }
}
