//! The complaints service's own flags (the shared ones live in csops-runtime): its neighbours,
//! the SLA policy file and the rules a deployment may change.

use std::path::PathBuf;
use std::time::Duration;

use clap::Args;
use csops_runtime::config::parse_duration;
use csops_sla::Policy;

use crate::domain::reply::ReplyRules;
use crate::domain::rules::{Sensitive, SensitiveEscalation};
use crate::domain::{AuthorityLimits, Chain, Rules};

/// Flags of the complaints service.
#[derive(Debug, Clone, Args)]
pub struct Config {
    /// URL of the customers service (tier, key account, region).
    #[arg(
        long,
        env = "CSOPS_CUSTOMERS_URL",
        value_name = "URL",
        default_value = "http://127.0.0.1:50051"
    )]
    pub customers_url: String,
    /// URL of the visits service; empty = not deployed yet (its events wait in the outbox).
    #[arg(long, env = "CSOPS_VISITS_URL", value_name = "URL", default_value = "")]
    pub visits_url: String,
    /// URL of the feedback service; empty = not deployed yet (its events wait in the outbox).
    #[arg(
        long,
        env = "CSOPS_FEEDBACK_URL",
        value_name = "URL",
        default_value = ""
    )]
    pub feedback_url: String,
    /// SLA policy TOML (format of csops-sla); default: the presets embedded in csops-sla.
    #[arg(long, env = "CSOPS_SLA_POLICY_FILE", value_name = "FILE")]
    pub sla_policy_file: Option<PathBuf>,
    /// The longest the breach watcher sleeps between sweeps. It wakes when the next check is
    /// due, and early when this replica schedules one sooner; this bounds how late it sees
    /// checks scheduled by another replica (and leases that ran out).
    #[arg(long, env = "CSOPS_SLA_WATCH_INTERVAL", value_name = "DURATION", default_value = "5s", value_parser = parse_duration)]
    pub sla_watch_interval: Duration,
    /// Complaints the breach watcher claims, checks and writes back per batch (one statement
    /// per table). Larger batches work a backlog off faster and hold their row locks longer.
    #[arg(long, env = "CSOPS_SLA_WATCH_BATCH", value_name = "N", default_value_t = 500, value_parser = clap::value_parser!(u32).range(1..=5000))]
    pub sla_watch_batch: u32,
    /// Escalation chain above the agent, with who takes over each level, e.g.
    /// "supervisor=sup-1,manager=mgr-1".
    #[arg(
        long,
        env = "CSOPS_ESCALATION_CHAIN",
        value_name = "CHAIN",
        default_value = "supervisor,manager"
    )]
    pub escalation_chain: String,
    /// Compensation authority per role in minor units ("unlimited" for none).
    #[arg(
        long,
        env = "CSOPS_COMPENSATION_LIMITS",
        value_name = "LIMITS",
        default_value = "agent=20000,supervisor=200000,manager=unlimited"
    )]
    pub compensation_limits: String,
    /// UNREACHABLE callbacks after which a RESOLVED complaint may be closed.
    #[arg(
        long,
        env = "CSOPS_CLOSE_AFTER_UNREACHABLE_CALLBACKS",
        value_name = "N",
        default_value_t = 3
    )]
    pub close_after_unreachable_callbacks: u32,
    /// When an open promise warns its owner, in percent of the time from its making (or last
    /// rescheduling) to its due time (1-99).
    #[arg(
        long,
        env = "CSOPS_PROMISE_WARNING_PERCENT",
        value_name = "PERCENT",
        default_value_t = crate::domain::DEFAULT_PROMISE_WARNING_PERCENT,
        value_parser = clap::value_parser!(u8).range(1..=99)
    )]
    pub promise_warning_percent: u8,
    /// Complainant traits that count as sensitive (seed 003: social background, media,
    /// lawyers): at least HIGH severity for the SLA, a priority step up, an in-person visit,
    /// escalation as --sensitive-escalation says, and no written replies.
    #[arg(
        long,
        env = "CSOPS_SENSITIVE_TRAITS",
        value_name = "TRAITS",
        default_value = "social_background,media,legal"
    )]
    pub sensitive_traits: String,
    /// When a sensitive complainant is escalated: `demands-unmet` (when they reject a proposed
    /// solution, seed 003) or `intake` (as soon as recorded).
    #[arg(
        long,
        env = "CSOPS_SENSITIVE_ESCALATION",
        value_name = "WHEN",
        default_value = "demands-unmet"
    )]
    pub sensitive_escalation: String,
    /// When the in-person visit for a sensitive complainant or a key account is due, counted
    /// from the complaint.
    #[arg(long, env = "CSOPS_VISIT_WITHIN", value_name = "DURATION", default_value = "2d", value_parser = parse_duration)]
    pub visit_within: Duration,
    /// Forbidden reply phrases as TOML ([[phrase]] id, phrase, variants, category,
    /// suggestion); default: the handbook's phrases in Chinese and English.
    #[arg(long, env = "CSOPS_REPLY_RULES_FILE", value_name = "FILE")]
    pub reply_rules_file: Option<PathBuf>,
    /// Longest pause of the outbox relay when nothing is due (a change wakes it at once).
    #[arg(long, env = "CSOPS_OUTBOX_INTERVAL", value_name = "DURATION", default_value = "2s", value_parser = parse_duration)]
    pub outbox_interval: Duration,
    /// How often complaints accepted with defaulted customer facts are re-evaluated.
    #[arg(long, env = "CSOPS_REEVALUATE_INTERVAL", value_name = "DURATION", default_value = "10s", value_parser = parse_duration)]
    pub reevaluate_interval: Duration,
    /// Deadline of a call to the customers service.
    #[arg(long, env = "CSOPS_CUSTOMERS_TIMEOUT", value_name = "DURATION", default_value = "500ms", value_parser = parse_duration)]
    pub customers_timeout: Duration,
    /// How long customer facts are cached.
    #[arg(long, env = "CSOPS_CUSTOMERS_CACHE_TTL", value_name = "DURATION", default_value = "30s", value_parser = parse_duration)]
    pub customers_cache_ttl: Duration,
    /// WatchSlaEvents streams one process keeps open at most (each polls the store); a new
    /// one beyond it is refused with RESOURCE_EXHAUSTED.
    #[arg(long, env = "CSOPS_MAX_SLA_STREAMS", value_name = "N", default_value_t = 256,
          value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub max_sla_streams: u32,
}

impl Config {
    /// Defaults for tests: the given customers URL, no neighbours, fast background tasks.
    pub fn for_tests(customers_url: &str) -> Self {
        Self {
            customers_url: customers_url.to_owned(),
            visits_url: String::new(),
            feedback_url: String::new(),
            sla_policy_file: None,
            sla_watch_interval: Duration::from_millis(200),
            sla_watch_batch: 500,
            escalation_chain: "supervisor,manager".to_owned(),
            compensation_limits: "agent=20000,supervisor=200000,manager=unlimited".to_owned(),
            close_after_unreachable_callbacks: 3,
            promise_warning_percent: crate::domain::DEFAULT_PROMISE_WARNING_PERCENT,
            sensitive_traits: "social_background,media,legal".to_owned(),
            sensitive_escalation: "demands-unmet".to_owned(),
            visit_within: Duration::from_secs(2 * 24 * 60 * 60),
            reply_rules_file: None,
            outbox_interval: Duration::from_millis(200),
            reevaluate_interval: Duration::from_millis(300),
            customers_timeout: Duration::from_millis(500),
            customers_cache_ttl: Duration::from_secs(30),
            max_sla_streams: 256,
        }
    }

    /// Loads the policy and parses the rules, naming the flag at fault.
    pub fn rules(&self) -> Result<Rules, String> {
        let policy = match &self.sla_policy_file {
            Some(path) => Policy::load_from_path(path)
                .map_err(|e| format!("--sla-policy-file / CSOPS_SLA_POLICY_FILE: {e}"))?,
            None => Policy::default_presets(),
        };
        let mut rules = Rules::new(policy);
        rules.chain = Chain::parse(&self.escalation_chain)
            .map_err(|e| format!("--escalation-chain / CSOPS_ESCALATION_CHAIN: {e}"))?;
        rules.authority = AuthorityLimits::parse(&self.compensation_limits)
            .map_err(|e| format!("--compensation-limits / CSOPS_COMPENSATION_LIMITS: {e}"))?;
        rules.close_after_unreachable = self.close_after_unreachable_callbacks;
        rules.promise_warning_percent = self.promise_warning_percent;
        rules.sensitive.traits = Sensitive::parse_traits(&self.sensitive_traits)
            .map_err(|e| format!("--sensitive-traits / CSOPS_SENSITIVE_TRAITS: {e}"))?;
        rules.sensitive.escalate = SensitiveEscalation::parse(&self.sensitive_escalation)
            .map_err(|e| format!("--sensitive-escalation / CSOPS_SENSITIVE_ESCALATION: {e}"))?;
        rules.sensitive.visit_within = chrono::TimeDelta::from_std(self.visit_within)
            .ok()
            .filter(|d| *d > chrono::TimeDelta::zero() && *d <= chrono::TimeDelta::days(366))
            .ok_or(
                "--visit-within / CSOPS_VISIT_WITHIN: must be more than 0 and at most 366 days",
            )?;
        if let Some(path) = &self.reply_rules_file {
            let text = std::fs::read_to_string(path)
                .map_err(|e| format!("--reply-rules-file {}: {e}", path.display()))?;
            rules.reply = ReplyRules::from_toml(&text)
                .map_err(|e| format!("--reply-rules-file {}: {e}", path.display()))?;
        }
        for promise in [
            csops_sla::Promise::FirstContact,
            csops_sla::Promise::Resolution,
            csops_sla::Promise::Callback,
            csops_sla::Promise::CallbackFix,
        ] {
            rules
                .policy
                .resolve(promise, &csops_sla::Case::new())
                .map_err(|e| format!("SLA policy: no default rule for {promise}: {e}"))?;
        }
        Ok(rules)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn test_defaults_load_the_presets() {
        let rules = Config::for_tests("http://127.0.0.1:1").rules().unwrap();
        assert_eq!(rules.close_after_unreachable, 3);
    }
}
