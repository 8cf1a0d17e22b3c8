//! The configurable rules a deployment may change: SLA policy, escalation chain, authority
//! limits per role, callback attempts before closing, forbidden reply phrases, sensitive
//! complainants, promise warnings.

use std::sync::Arc;

use chrono::{DateTime, TimeDelta, Utc};
use csops_sla::{Calendar, Clock, Policy, Status};

use super::reply::ReplyRules;
use super::vocabulary::{Level, Role, Trait};

/// Compensation authority per role, in minor units; `None` is unlimited.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthorityLimits {
    /// Front-line agent.
    pub agent: Option<i64>,
    /// Supervisor.
    pub supervisor: Option<i64>,
    /// Manager.
    pub manager: Option<i64>,
}

impl Default for AuthorityLimits {
    /// Agent 200.00, supervisor 2000.00, manager unlimited (deployment defaults).
    fn default() -> Self {
        Self {
            agent: Some(20_000),
            supervisor: Some(200_000),
            manager: None,
        }
    }
}

impl AuthorityLimits {
    /// Returns the limit of a role; a system actor has no authority of its own.
    pub fn limit(&self, role: Role) -> i64 {
        let limit = match role {
            Role::Agent => self.agent,
            Role::Supervisor => self.supervisor,
            Role::Manager => self.manager,
            Role::System => Some(0),
        };
        limit.unwrap_or(i64::MAX)
    }

    /// Parses `agent=20000,supervisor=200000,manager=unlimited`.
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut limits = Self::default();
        for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (role, value) = part
                .split_once('=')
                .ok_or_else(|| format!("{part:?}: expected ROLE=AMOUNT"))?;
            let value = match value.trim() {
                "unlimited" | "" => None,
                v => Some(
                    v.parse::<i64>()
                        .ok()
                        .filter(|n| *n >= 0)
                        .ok_or_else(|| format!("{part:?}: amount must be minor units >= 0"))?,
                ),
            };
            match role.trim() {
                "agent" => limits.agent = value,
                "supervisor" => limits.supervisor = value,
                "manager" => limits.manager = value,
                other => return Err(format!("unknown role {other:?}")),
            }
        }
        Ok(limits)
    }
}

/// The escalation chain above the agent: each level with the person who takes it over (empty:
/// nobody configured; the level is still recorded).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chain(pub Vec<(Level, String)>);

impl Default for Chain {
    fn default() -> Self {
        Self(vec![
            (Level::Supervisor, String::new()),
            (Level::Manager, String::new()),
        ])
    }
}

impl Chain {
    /// Parses `supervisor=sup-1,manager=mgr-1` (owners optional: `supervisor,manager`).
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut out: Vec<(Level, String)> = Vec::new();
        for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (level, owner) = part.split_once('=').unwrap_or((part, ""));
            let level = match level.trim() {
                "supervisor" => Level::Supervisor,
                "manager" => Level::Manager,
                other => return Err(format!("unknown escalation level {other:?}")),
            };
            if out.last().is_some_and(|(l, _)| *l >= level) {
                return Err("levels must go up: supervisor before manager".to_owned());
            }
            out.push((level, owner.trim().to_owned()));
        }
        Ok(Self(out))
    }

    /// The next level above `current`, with its owner.
    pub fn next(&self, current: Level) -> Option<(Level, String)> {
        self.0.iter().find(|(l, _)| *l > current).cloned()
    }

    /// The owner configured for a level.
    pub fn owner(&self, level: Level) -> String {
        self.0
            .iter()
            .find(|(l, _)| *l == level)
            .map(|(_, o)| o.clone())
            .unwrap_or_default()
    }
}

/// Everything configurable the complaint rules use.
#[derive(Debug, Clone)]
pub struct Rules {
    /// The SLA policy.
    pub policy: Arc<Policy>,
    /// Escalation chain.
    pub chain: Chain,
    /// Compensation limits.
    pub authority: AuthorityLimits,
    /// UNREACHABLE callbacks after which a RESOLVED complaint may close.
    pub close_after_unreachable: u32,
    /// When an open promise warns its owner, in percent of the time from its making (or last
    /// rescheduling) to its due time: early enough to tell the customer before it is broken.
    pub promise_warning_percent: u8,
    /// Forbidden reply phrases.
    pub reply: ReplyRules,
    /// Who counts as a sensitive complainant and what that causes.
    pub sensitive: Sensitive,
    fallback_calendar: Arc<Calendar>,
}

/// When a sensitive complainant is escalated up the chain.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SensitiveEscalation {
    /// As soon as the complaint is recorded (or the trait is added).
    Intake,
    /// When their demands cannot be met: the customer rejects a proposed solution. Seed 003:
    /// "要求无法满足时" escalate at once.
    DemandsUnmet,
}

impl SensitiveEscalation {
    /// Parses `intake` or `demands-unmet`.
    pub fn parse(text: &str) -> Result<Self, String> {
        match text.trim() {
            "intake" => Ok(Self::Intake),
            "demands-unmet" => Ok(Self::DemandsUnmet),
            other => Err(format!(
                "unknown value {other:?}: expected intake or demands-unmet"
            )),
        }
    }
}

/// Sensitive complainants (seed 003: "有社会背景的、媒体、律师"): their complaints count as at
/// least HIGH severity for the SLA ("resolve fast"), rank one priority step up, get an
/// in-person visit within `visit_within`, are escalated as `escalate` says, and should not be
/// answered in writing ("尽量避免使用文字"; CheckReply flags a written reply).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sensitive {
    /// The traits that make a complainant sensitive.
    pub traits: Vec<Trait>,
    /// When they are escalated.
    pub escalate: SensitiveEscalation,
    /// When the in-person visit for a sensitive complainant or a key account is due.
    pub visit_within: TimeDelta,
}

impl Default for Sensitive {
    fn default() -> Self {
        Self {
            traits: vec![Trait::SocialBackground, Trait::Media, Trait::Legal],
            escalate: SensitiveEscalation::DemandsUnmet,
            // Deployment choice: the handbooks ask for a fast, personal answer, not a number.
            visit_within: TimeDelta::days(2),
        }
    }
}

impl Sensitive {
    /// Parses a comma-separated trait list (`media,legal,social_background`).
    pub fn parse_traits(text: &str) -> Result<Vec<Trait>, String> {
        text.split(',')
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .map(|t| {
                Trait::from_code(t).ok_or_else(|| {
                    format!("unknown trait {t:?}: expected some of emotional, justice_seeking, stubborn, self_absorbed, prepared, social_background, media, legal")
                })
            })
            .collect()
    }
}

/// The default of [`Rules::promise_warning_percent`]: a promise due in two days warns its owner
/// twelve hours before. Seed 002: "因为特殊客观原因不能兑现承诺，要积极主动与客户沟通，并道歉" —
/// a promise that cannot be kept is told to the customer early, with an apology.
pub const DEFAULT_PROMISE_WARNING_PERCENT: u8 = 75;

impl Rules {
    /// Rules with the given policy and defaults for the rest.
    pub fn new(policy: Policy) -> Self {
        Self {
            policy: Arc::new(policy),
            chain: Chain::default(),
            authority: AuthorityLimits::default(),
            close_after_unreachable: 3,
            promise_warning_percent: DEFAULT_PROMISE_WARNING_PERCENT,
            reply: ReplyRules::default(),
            sensitive: Sensitive::default(),
            fallback_calendar: Arc::new(Calendar::always("always")),
        }
    }

    /// The calendar a clock counts on; a calendar dropped from the policy since the clock
    /// started counts calendar time rather than failing.
    pub fn calendar(&self, clock: &Clock) -> &Calendar {
        self.policy
            .calendar_for(clock)
            .unwrap_or(&self.fallback_calendar)
    }

    /// Evaluates a clock at `now`.
    pub fn status(&self, clock: &Clock, now: DateTime<Utc>) -> Status {
        clock.status(self.calendar(clock), now)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn authority_limits_parse_and_default() {
        let l = AuthorityLimits::parse("agent=100, manager=unlimited").unwrap();
        assert_eq!(l.limit(Role::Agent), 100);
        assert_eq!(l.limit(Role::Supervisor), 200_000);
        assert_eq!(l.limit(Role::Manager), i64::MAX);
        assert_eq!(l.limit(Role::System), 0);
        assert!(AuthorityLimits::parse("boss=1").is_err());
        assert!(AuthorityLimits::parse("agent=-1").is_err());
    }

    #[test]
    fn chain_goes_up_one_level_at_a_time() {
        let c = Chain::parse("supervisor=sup-1,manager=mgr-1").unwrap();
        assert_eq!(
            c.next(Level::Agent),
            Some((Level::Supervisor, "sup-1".into()))
        );
        assert_eq!(
            c.next(Level::Supervisor),
            Some((Level::Manager, "mgr-1".into()))
        );
        assert_eq!(c.next(Level::Manager), None);
        assert!(Chain::parse("manager,supervisor").is_err());
    }
}
