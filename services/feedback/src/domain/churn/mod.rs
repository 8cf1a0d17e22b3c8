//! Silence is not satisfaction: churn-risk signals from a customer's contact history, and the
//! record of a customer who left ([`loss`]).
//!
//! Seed 002: 96 % of unhappy customers never complain; they leave without a word. So the
//! absence of complaints proves nothing, and these detectors look at what customers stop
//! doing instead:
//!
//! - SILENCE: no contact for longer than the tier's rhythm (the visit cadence of the SLA
//!   policy: A weekly, B monthly, C every two months) times a factor: 2× low, 3× medium, 4×
//!   high by default. Two rhythms, not one: one missed rhythm is a missed visit, the visits
//!   service's own breach (its grace is 2 days); a customer who also made no contact of
//!   their own through a second full rhythm has gone quiet.
//! - STOPPED_ANSWERING: the last 3 surveys sent went unanswered (each given 7 days to be
//!   answered) after the customer had answered before.
//! - FALLING_SCORES: the last 3 overall scores fall step by step, by more than 10 points in
//!   all (low; 20 medium, 30 high).
//!
//! A key account's signal is one level higher (its loss costs the most; seed 001 gives key
//! accounts (大客户) their own care). Every signal carries a key that is stable for its episode (see
//! [`ChurnSignal::key`]), so running the detection again raises nothing new.

use chrono::{DateTime, TimeDelta, Utc};
use csops_sla::{Cadence, Tier, VisitRules};
use serde::{Deserialize, Serialize};

use super::coded;

pub mod loss;
pub mod signal;
pub mod tally;

pub use loss::{CustomerLoss, LossReason, NewCustomerLoss};
pub use signal::{Handling, RiskSignal, SignalState};

coded! {
    /// What suggests a customer may leave. This module detects SILENCE, STOPPED_ANSWERING
    /// and FALLING_SCORES; the others come from callbacks, complaints and surveys.
    pub enum ChurnKind {
        /// No contact for longer than the tier's rhythm allows.
        Silence = "silence",
        /// Overall scores falling over the last surveys.
        FallingScores = "falling_scores",
        /// A callback found the customer unhappy.
        UnhappyCallback = "unhappy_callback",
        /// Repeat complaints within the configured window.
        RepeatComplaints = "repeat_complaints",
        /// A large negative expectation-perception gap on a survey.
        NegativeGap = "negative_gap",
        /// The last surveys sent went unanswered.
        StoppedAnswering = "stopped_answering",
    }
}

coded! {
    /// How strong a churn risk is (ordered: low < medium < high).
    pub enum RiskLevel {
        /// Worth watching.
        Low = "low",
        /// Act soon.
        Medium = "medium",
        /// Act now.
        High = "high",
    }
}

impl RiskLevel {
    /// One level higher (high stays high).
    pub fn raised(self) -> Self {
        match self {
            RiskLevel::Low => RiskLevel::Medium,
            RiskLevel::Medium | RiskLevel::High => RiskLevel::High,
        }
    }
}

/// How often each tier is expected to be in contact.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rhythm {
    /// Tier A (default weekly).
    pub tier_a: Cadence,
    /// Tier B (default monthly).
    pub tier_b: Cadence,
    /// Tier C (default every two months).
    pub tier_c: Cadence,
}

impl Default for Rhythm {
    /// The visit cadences of the SLA presets (seed 001): A 1 week, B 1 month, C 2 months.
    fn default() -> Self {
        Self {
            tier_a: Cadence::Weeks(1),
            tier_b: Cadence::Months(1),
            tier_c: Cadence::Months(2),
        }
    }
}

impl Rhythm {
    /// The cadences of a policy's `[visits]` table.
    pub fn of_visits(visits: &VisitRules) -> Self {
        Self {
            tier_a: visits.tier_a,
            tier_b: visits.tier_b,
            tier_c: visits.tier_c,
        }
    }

    /// The cadence of a tier.
    pub fn cadence(&self, tier: Tier) -> Cadence {
        match tier {
            Tier::A => self.tier_a,
            Tier::B => self.tier_b,
            Tier::C => self.tier_c,
        }
    }
}

/// When silence becomes a signal, in multiples of the tier's rhythm.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SilenceRules {
    /// Low risk past this many rhythms (default 2).
    pub low: u32,
    /// Medium risk past this many (default 3).
    pub medium: u32,
    /// High risk past this many (default 4).
    pub high: u32,
}

impl Default for SilenceRules {
    fn default() -> Self {
        Self {
            low: 2,
            medium: 3,
            high: 4,
        }
    }
}

/// When unanswered surveys become a signal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AnswerRules {
    /// This many of the latest surveys unanswered (default 3).
    pub unanswered: usize,
    /// A survey counts as unanswered only this long after it was sent (default 7 days).
    pub answer_window: TimeDelta,
    /// The signal's level (default medium: the customer turned away from a channel they
    /// used, a clearer sign than silence alone).
    pub level: RiskLevel,
}

impl Default for AnswerRules {
    fn default() -> Self {
        Self {
            unanswered: 3,
            answer_window: TimeDelta::days(7),
            level: RiskLevel::Medium,
        }
    }
}

/// When falling scores become a signal (overall scores on the surveys' 0-100 scale).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ScoreRules {
    /// How many of the latest scores are compared (default 3, at least 2).
    pub count: usize,
    /// Low risk when they fall by more than this in all (default 10 points).
    pub low_drop: f64,
    /// Medium risk above this fall (default 20).
    pub medium_drop: f64,
    /// High risk above this fall (default 30).
    pub high_drop: f64,
}

impl Default for ScoreRules {
    fn default() -> Self {
        Self {
            count: 3,
            low_drop: 10.0,
            medium_drop: 20.0,
            high_drop: 30.0,
        }
    }
}

/// The churn rules a deployment may change.
#[derive(Debug, Clone, PartialEq)]
pub struct ChurnRules {
    /// How often each tier is expected to be in contact.
    pub rhythm: Rhythm,
    /// Silence thresholds.
    pub silence: SilenceRules,
    /// Unanswered-survey thresholds.
    pub answers: AnswerRules,
    /// Falling-score thresholds.
    pub scores: ScoreRules,
    /// How many of the latest surveys a summary holds (default 10): the store loads these.
    pub history: usize,
    /// A key account's signal is one level higher (default true).
    pub key_account_raises: bool,
}

impl Default for ChurnRules {
    fn default() -> Self {
        Self {
            rhythm: Rhythm::default(),
            silence: SilenceRules::default(),
            answers: AnswerRules::default(),
            scores: ScoreRules::default(),
            history: 10,
            key_account_raises: true,
        }
    }
}

impl ChurnRules {
    /// The default rules with the tier rhythm of a policy's `[visits]` table.
    pub fn with_visits(visits: &VisitRules) -> Self {
        Self {
            rhythm: Rhythm::of_visits(visits),
            ..Self::default()
        }
    }
}

/// One survey sent to (or taken by) the customer.
#[derive(Debug, Clone, PartialEq)]
pub struct SurveySent {
    /// The survey's id.
    pub survey_id: String,
    /// When it was sent (or taken).
    pub send_time: DateTime<Utc>,
    /// When it was answered; `None` while unanswered.
    pub answer_time: Option<DateTime<Utc>>,
    /// The overall score of the answer, 0-100; `None` when unanswered or not scored.
    pub overall_score: Option<f64>,
}

/// What the detectors know of one customer.
#[derive(Debug, Clone, PartialEq)]
pub struct ContactSummary {
    /// The customer.
    pub customer_id: String,
    /// Value tier: chooses the rhythm.
    pub tier: Tier,
    /// Key account: one level higher.
    pub key_account: bool,
    /// The latest contact of any kind (visit, call, complaint, callback reached); for a
    /// customer never contacted, when the customer was registered.
    pub last_contact_time: DateTime<Utc>,
    /// When the customer last answered a survey, even one older than `surveys` holds.
    pub last_survey_answer_time: Option<DateTime<Utc>>,
    /// The latest surveys sent (at most [`ChurnRules::history`] are read), in any order.
    pub surveys: Vec<SurveySent>,
}

/// A churn-risk signal, ready for the customers service's `RecordChurnSignal`.
#[derive(Debug, Clone, PartialEq)]
pub struct ChurnSignal {
    /// Stable for the episode and the level: `chs_<kind>_<level>_<episode start in µs>_<hash
    /// of the customer id>` (at most 100 characters, the customers service's `signal_id`).
    /// An episode starts at the last contact (SILENCE), the last answer (STOPPED_ANSWERING)
    /// or the score the fall started from (FALLING_SCORES): running detection again gives the
    /// same key, a new contact starts a new episode, and a risk that grows (low → medium)
    /// is raised again at its new level.
    pub key: String,
    /// The customer at risk.
    pub customer_id: String,
    /// What was noticed.
    pub kind: ChurnKind,
    /// How strong the risk is.
    pub level: RiskLevel,
    /// Why, in plain words.
    pub evidence: String,
    /// For SILENCE: the time since the last contact.
    pub silence: Option<TimeDelta>,
    /// For FALLING_SCORES: the scores compared, oldest first.
    pub recent_scores: Vec<f64>,
    /// The surveys behind the signal.
    pub evidence_ids: Vec<String>,
    /// Where the episode started.
    pub episode_start: DateTime<Utc>,
    /// When it was detected.
    pub detect_time: DateTime<Utc>,
}

/// Runs every detector: at most one signal per kind, in the order SILENCE,
/// STOPPED_ANSWERING, FALLING_SCORES.
pub fn detect(
    summary: &ContactSummary,
    rules: &ChurnRules,
    now: DateTime<Utc>,
) -> Vec<ChurnSignal> {
    [
        silence(summary, rules, now),
        stopped_answering(summary, rules, now),
        falling_scores(summary, rules, now),
    ]
    .into_iter()
    .flatten()
    .collect()
}

/// `anchor` plus `n` rhythms, in calendar terms (months are calendar months from the anchor's
/// UTC date; the time of day is kept).
fn rhythms_after(anchor: DateTime<Utc>, cadence: Cadence, n: u32) -> DateTime<Utc> {
    let day = anchor.date_naive();
    let days = (cadence.nth_after(day, n) - day).num_days();
    anchor
        .checked_add_signed(TimeDelta::days(days))
        .unwrap_or(DateTime::<Utc>::MAX_UTC)
}

/// "every 7 days", "every month", "every 2 months".
fn rhythm_words(cadence: Cadence) -> String {
    match cadence {
        Cadence::Days(1) => "every day".into(),
        Cadence::Days(d) => format!("every {d} days"),
        Cadence::Weeks(w) => format!("every {} days", 7 * u64::from(w)),
        Cadence::Months(1) => "every month".into(),
        Cadence::Months(m) => format!("every {m} months"),
    }
}

fn tier_name(tier: Tier) -> &'static str {
    match tier {
        Tier::A => "A",
        Tier::B => "B",
        Tier::C => "C",
    }
}

/// FNV-1a, 64 bits: a hash that never changes between builds (std's may).
fn stable_hash(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// The signal's key: see [`ChurnSignal::key`].
pub fn signal_key(
    customer_id: &str,
    kind: ChurnKind,
    level: RiskLevel,
    episode_start: DateTime<Utc>,
) -> String {
    format!(
        "chs_{kind}_{level}_{}_{:016x}",
        episode_start.timestamp_micros(),
        stable_hash(customer_id)
    )
}

impl ContactSummary {
    /// The latest surveys (at most `history`), oldest first.
    fn latest_surveys(&self, rules: &ChurnRules) -> Vec<&SurveySent> {
        let mut all: Vec<&SurveySent> = self.surveys.iter().collect();
        all.sort_by(|a, b| (a.send_time, &a.survey_id).cmp(&(b.send_time, &b.survey_id)));
        let skip = all.len().saturating_sub(rules.history);
        all.split_off(skip)
    }

    #[allow(clippy::too_many_arguments)]
    fn signal(
        &self,
        kind: ChurnKind,
        level: RiskLevel,
        evidence: String,
        episode_start: DateTime<Utc>,
        evidence_ids: Vec<String>,
        rules: &ChurnRules,
        now: DateTime<Utc>,
    ) -> ChurnSignal {
        let raised = self.key_account && rules.key_account_raises;
        let (level, evidence) = if raised {
            (
                level.raised(),
                format!("{evidence}; key account: one level higher"),
            )
        } else {
            (level, evidence)
        };
        ChurnSignal {
            key: signal_key(&self.customer_id, kind, level, episode_start),
            customer_id: self.customer_id.clone(),
            kind,
            level,
            evidence,
            silence: None,
            recent_scores: Vec::new(),
            evidence_ids,
            episode_start,
            detect_time: now,
        }
    }
}

/// SILENCE: the time since the latest contact or survey answer is past `low` rhythms of the
/// tier; the level is the highest threshold passed.
pub fn silence(
    summary: &ContactSummary,
    rules: &ChurnRules,
    now: DateTime<Utc>,
) -> Option<ChurnSignal> {
    let answered = summary
        .surveys
        .iter()
        .filter_map(|s| s.answer_time)
        .chain(summary.last_survey_answer_time);
    let anchor = answered.fold(summary.last_contact_time, DateTime::max);
    let cadence = rules.rhythm.cadence(summary.tier);
    let s = rules.silence;
    let level = [
        (s.high, RiskLevel::High),
        (s.medium, RiskLevel::Medium),
        (s.low, RiskLevel::Low),
    ]
    .into_iter()
    .find(|(n, _)| now > rhythms_after(anchor, cadence, *n))
    .map(|(_, level)| level)?;
    let quiet = now - anchor;
    let evidence = format!(
        "no contact for {} days; tier {} expects one {}",
        quiet.num_days(),
        tier_name(summary.tier),
        rhythm_words(cadence)
    );
    let mut signal = summary.signal(
        ChurnKind::Silence,
        level,
        evidence,
        anchor,
        Vec::new(),
        rules,
        now,
    );
    signal.silence = Some(quiet);
    Some(signal)
}

/// STOPPED_ANSWERING: the latest `unanswered` surveys, each older than the answer window, went
/// unanswered, and the customer had answered one before them.
pub fn stopped_answering(
    summary: &ContactSummary,
    rules: &ChurnRules,
    now: DateTime<Utc>,
) -> Option<ChurnSignal> {
    let a = rules.answers;
    // Surveys still inside their answer window are not unanswered yet.
    let settled: Vec<&SurveySent> = summary
        .latest_surveys(rules)
        .into_iter()
        .filter(|s| {
            s.answer_time.is_some()
                || s.send_time
                    .checked_add_signed(a.answer_window)
                    .is_some_and(|t| t <= now)
        })
        .collect();
    let streak = settled
        .iter()
        .rev()
        .take_while(|s| s.answer_time.is_none())
        .count();
    if streak < a.unanswered.max(1) {
        return None;
    }
    let last_answer = settled
        .iter()
        .filter_map(|s| s.answer_time)
        .chain(summary.last_survey_answer_time)
        .max()?;
    let unanswered = &settled[settled.len() - streak..];
    let dates: Vec<String> = unanswered
        .iter()
        .map(|s| s.send_time.format("%Y-%m-%d").to_string())
        .collect();
    let evidence = format!(
        "the last {streak} surveys sent ({}) went unanswered; the last answer was on {}",
        dates.join(", "),
        last_answer.format("%Y-%m-%d")
    );
    let ids = unanswered.iter().map(|s| s.survey_id.clone()).collect();
    Some(summary.signal(
        ChurnKind::StoppedAnswering,
        a.level,
        evidence,
        last_answer,
        ids,
        rules,
        now,
    ))
}

/// "92", "87.5".
fn score_text(score: f64) -> String {
    if score.fract() == 0.0 {
        format!("{score:.0}")
    } else {
        format!("{score:.1}")
    }
}

/// FALLING_SCORES: the latest `count` overall scores never rise from one survey to the next
/// and fall by more than `low_drop` in all; the level by the size of the fall.
pub fn falling_scores(
    summary: &ContactSummary,
    rules: &ChurnRules,
    now: DateTime<Utc>,
) -> Option<ChurnSignal> {
    let r = rules.scores;
    let mut scored: Vec<(DateTime<Utc>, &str, f64)> = summary
        .latest_surveys(rules)
        .into_iter()
        .filter_map(|s| match (s.answer_time, s.overall_score) {
            (Some(t), Some(score)) if score.is_finite() => Some((t, s.survey_id.as_str(), score)),
            _ => None,
        })
        .collect();
    scored.sort_by(|a, b| (a.0, a.1).cmp(&(b.0, b.1)));
    let count = r.count.max(2);
    if scored.len() < count {
        return None;
    }
    let window = &scored[scored.len() - count..];
    if window.windows(2).any(|w| w[1].2 > w[0].2) {
        return None;
    }
    let drop = window[0].2 - window[count - 1].2;
    let level = [
        (r.high_drop, RiskLevel::High),
        (r.medium_drop, RiskLevel::Medium),
        (r.low_drop, RiskLevel::Low),
    ]
    .into_iter()
    .find(|(limit, _)| drop > *limit)
    .map(|(_, level)| level)?;
    // The episode starts at the score the fall started from: walk back while scores do not
    // rise, so a longer fall of the same episode keeps its start.
    let mut peak = scored.len() - 1;
    while peak > 0 && scored[peak - 1].2 >= scored[peak].2 {
        peak -= 1;
    }
    let scores: Vec<f64> = window.iter().map(|s| s.2).collect();
    let texts: Vec<String> = scores.iter().map(|s| score_text(*s)).collect();
    let evidence = format!(
        "scores {} over the last {count} surveys: down {} points",
        texts.join(", "),
        score_text(drop)
    );
    let ids = window.iter().map(|s| s.1.to_owned()).collect();
    let mut signal = summary.signal(
        ChurnKind::FallingScores,
        level,
        evidence,
        scored[peak].0,
        ids,
        rules,
        now,
    );
    signal.recent_scores = scores;
    Some(signal)
}

#[cfg(test)]
mod tests;
