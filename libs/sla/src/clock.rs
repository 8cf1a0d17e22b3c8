//! Clocks: one promise for one case, started, paused, resumed, stopped or cancelled.

use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};

use crate::calendar::Calendar;
use crate::case::{Case, Promise};
use crate::duration::serde_human;

/// Warning thresholds used when a policy names none: 50 %, 75 % and 90 % of the target.
pub const DEFAULT_THRESHOLDS: [u8; 3] = [50, 75, 90];

/// What a clock promises: the target, the calendar it counts in and where they came from.
///
/// A [`crate::Policy`] resolves one for a case ([`crate::Policy::resolve`]); it can also be
/// written by hand for a clock that no policy governs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClockSpec {
    /// The kind of promise.
    pub promise: Promise,
    /// The working time allowed.
    #[serde(with = "serde_human")]
    pub target: TimeDelta,
    /// The name of the calendar the target counts in.
    pub calendar: String,
    /// Warning thresholds in percent of the target (1-99), ascending.
    pub thresholds: Vec<u8>,
    /// The policy rule that set the target (empty when written by hand).
    #[serde(default)]
    pub rule: String,
    /// The rule that scaled the target, and by how much (e.g. big customers: 0.5).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub adjustment: Option<Adjustment>,
    /// The target before the adjustment.
    #[serde(default, with = "opt_human", skip_serializing_if = "Option::is_none")]
    pub base_target: Option<TimeDelta>,
    /// The facts of the case the rule was chosen for.
    #[serde(default)]
    pub case: Case,
}

mod opt_human {
    use chrono::TimeDelta;
    use serde::{Deserialize, Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer>(d: &Option<TimeDelta>, s: S) -> Result<S::Ok, S::Error> {
        match d {
            Some(d) => crate::duration::serde_human::serialize(d, s),
            None => s.serialize_none(),
        }
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Option<TimeDelta>, D::Error> {
        #[derive(Deserialize)]
        struct W(#[serde(with = "crate::duration::serde_human")] TimeDelta);
        Ok(Option::<W>::deserialize(d)?.map(|w| w.0))
    }
}

/// A rule that scaled a target, as recorded in a [`ClockSpec`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Adjustment {
    /// The adjusting rule's name.
    pub rule: String,
    /// The factor applied (0.5 = half of the normal limit).
    pub factor: f64,
}

impl ClockSpec {
    /// Creates a hand-written spec with the default thresholds and no policy rule.
    pub fn new(promise: Promise, target: TimeDelta, calendar: impl Into<String>) -> Self {
        ClockSpec {
            promise,
            target,
            calendar: calendar.into(),
            thresholds: DEFAULT_THRESHOLDS.to_vec(),
            rule: String::new(),
            adjustment: None,
            base_target: None,
            case: Case::default(),
        }
    }
}

/// Why a clock is paused. DOMAIN §4: time limits exclude delays the company did not cause.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PauseReason {
    /// Waiting for the customer (an answer, access to the premises, a payment).
    WaitingOnCustomer,
    /// A delay the company did not cause (非局方原因), e.g. a third party or force majeure.
    ExternalDelay,
    /// Anything else, in words.
    Other(String),
}

/// One pause of a clock.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Pause {
    /// When the pause began.
    pub from: DateTime<Utc>,
    /// When it ended; `None` while the clock is still paused.
    pub until: Option<DateTime<Utc>>,
    /// Why.
    pub reason: PauseReason,
}

/// How a clock ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind", content = "at")]
pub enum Ending {
    /// The promise was fulfilled at this instant (met or met late).
    Stopped(DateTime<Utc>),
    /// The promise no longer applies (case withdrawn); it counts neither as met nor breached.
    Cancelled(DateTime<Utc>),
}

/// One entry of a clock's history. A service may store these instead of the clock and rebuild
/// it with [`Clock::from_events`], so that the calculation is pure and repeatable.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "event")]
pub enum ClockEvent {
    /// The clock starts (possibly in the past: a retroactive start).
    Start {
        /// When.
        at: DateTime<Utc>,
        /// What is promised.
        spec: Box<ClockSpec>,
    },
    /// The clock pauses.
    Pause {
        /// When.
        at: DateTime<Utc>,
        /// Why.
        reason: PauseReason,
    },
    /// The clock resumes.
    Resume {
        /// When.
        at: DateTime<Utc>,
    },
    /// The promise was fulfilled.
    Stop {
        /// When.
        at: DateTime<Utc>,
    },
    /// The promise no longer applies.
    Cancel {
        /// When.
        at: DateTime<Utc>,
    },
    /// The target changed (e.g. the case became urgent); the clock still counts from its start.
    Retarget {
        /// When.
        at: DateTime<Utc>,
        /// The new promise.
        spec: Box<ClockSpec>,
    },
}

impl ClockEvent {
    /// Returns the instant of the event.
    pub fn at(&self) -> DateTime<Utc> {
        match self {
            ClockEvent::Start { at, .. }
            | ClockEvent::Pause { at, .. }
            | ClockEvent::Resume { at }
            | ClockEvent::Stop { at }
            | ClockEvent::Cancel { at }
            | ClockEvent::Retarget { at, .. } => *at,
        }
    }
}

/// Ways a clock operation can be refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ClockError {
    /// The clock has already stopped or been cancelled.
    #[error("the clock has already ended")]
    Ended,
    /// A pause was requested while paused.
    #[error("the clock is already paused")]
    AlreadyPaused,
    /// A resume was requested while running.
    #[error("the clock is not paused")]
    NotPaused,
    /// An event is earlier than the clock's start or its latest event.
    #[error("event at {at} is earlier than the latest event at {latest}")]
    OutOfOrder {
        /// The event's instant.
        at: DateTime<Utc>,
        /// The latest instant already recorded.
        latest: DateTime<Utc>,
    },
    /// An event history does not begin with a start, or has a second start.
    #[error("an event history must begin with exactly one start event")]
    BadHistory,
    /// The target is negative.
    #[error("the target must not be negative")]
    NegativeTarget,
    /// A threshold is outside 1-99 %.
    #[error("threshold {0} % is outside 1-99")]
    BadThreshold(u8),
}

/// A promise's clock. Serializable, so a service can keep it as JSON; or keep the
/// [`ClockEvent`]s and rebuild it. Evaluating it needs the calendar named in its spec and `now`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Clock {
    spec: ClockSpec,
    started_at: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pauses: Vec<Pause>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    ending: Option<Ending>,
}

/// Where a clock stands at an instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum State {
    /// Counting, no warning threshold crossed.
    Running,
    /// Counting, and at least one warning threshold crossed.
    AtRisk,
    /// Paused, deadline not yet passed.
    Paused,
    /// Stopped on or before the deadline.
    Met,
    /// Stopped after the deadline.
    MetLate,
    /// Not stopped, and the deadline has passed.
    Breached,
    /// Cancelled.
    Cancelled,
}

impl State {
    /// Returns the snake_case name (`at_risk`, `met_late`, …), as serialized.
    pub fn as_str(self) -> &'static str {
        match self {
            State::Running => "running",
            State::AtRisk => "at_risk",
            State::Paused => "paused",
            State::Met => "met",
            State::MetLate => "met_late",
            State::Breached => "breached",
            State::Cancelled => "cancelled",
        }
    }

    /// Tells whether the clock has ended (met, met late or cancelled).
    pub fn is_final(self) -> bool {
        matches!(self, State::Met | State::MetLate | State::Cancelled)
    }
}

/// Something worth telling someone about, reported once per clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Milestone {
    /// Elapsed working time passed this percentage of the target.
    Threshold(u8),
    /// The deadline passed while the clock was not stopped.
    Breach,
}

/// What a clock counts for in compliance statistics ([`Clock::outcome`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Running or paused, deadline not passed: not decided yet.
    Open,
    /// Stopped on time, after this much working time.
    Met(#[serde(with = "serde_human")] TimeDelta),
    /// Stopped late, after this much working time.
    MetLate(#[serde(with = "serde_human")] TimeDelta),
    /// Still open past the deadline: already a failure.
    Breached,
    /// Cancelled: counts neither way.
    Cancelled,
}

/// The state of a clock at an instant ([`Clock::status`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Status {
    /// The state.
    pub state: State,
    /// Working time counted so far, pauses excluded (up to the stop when stopped).
    #[serde(with = "serde_human")]
    pub elapsed: TimeDelta,
    /// Target minus elapsed; negative when overdue.
    #[serde(with = "serde_human")]
    pub remaining: TimeDelta,
    /// The deadline. While paused, the deadline if the clock resumed at the evaluated instant.
    pub deadline: DateTime<Utc>,
    /// Elapsed as a percentage of the target (above 100 when overdue).
    pub percent: f64,
    /// Milestones reached so far, thresholds ascending and then the breach.
    pub reached: Vec<Milestone>,
    /// The highest warning threshold reached, in percent (`None` when none).
    pub at_risk: Option<u8>,
    /// When the deadline passed (breached, or met late); `None` if it has not.
    pub breached_at: Option<DateTime<Utc>>,
    /// Working time kept out of the count by pauses so far.
    #[serde(with = "serde_human")]
    pub paused: TimeDelta,
    /// When the current pause began, while paused.
    pub paused_since: Option<DateTime<Utc>>,
    /// The next instant at which the state or the milestones change if nothing else happens
    /// (`None` when paused or ended): when a breach watcher should look again.
    pub next_change: Option<DateTime<Utc>>,
}

impl Status {
    /// Returns the milestones reached but not in `reported`: what to announce now. A caller
    /// keeps the reported set with the clock, so that each milestone is announced once.
    pub fn unreported(&self, reported: &[Milestone]) -> Vec<Milestone> {
        self.reached
            .iter()
            .filter(|m| !reported.contains(m))
            .copied()
            .collect()
    }
}

fn ts(t: DateTime<Utc>) -> i64 {
    t.timestamp()
}

fn from_ts(t: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(t, 0).unwrap_or(DateTime::<Utc>::MAX_UTC)
}

/// The clock's active (counting) periods as seen at an instant.
struct Segments {
    /// Closed active periods, in order.
    closed: Vec<(i64, i64)>,
    /// Start of the last active period, which runs to the evaluated instant (or is projected to
    /// start then, when paused); counting continues from it forever for deadline purposes.
    tail: i64,
    /// Whether the clock is paused at the evaluated instant.
    paused: bool,
}

impl Clock {
    /// Starts a clock at `at`, which may be in the past (retroactive start).
    pub fn start(spec: ClockSpec, at: DateTime<Utc>) -> Result<Clock, ClockError> {
        validate_spec(&spec)?;
        Ok(Clock {
            spec,
            started_at: at,
            pauses: Vec::new(),
            ending: None,
        })
    }

    /// Rebuilds a clock by replaying its history (which must begin with a start).
    pub fn from_events<'a>(
        events: impl IntoIterator<Item = &'a ClockEvent>,
    ) -> Result<Clock, ClockError> {
        let mut it = events.into_iter();
        let mut clock = match it.next() {
            Some(ClockEvent::Start { at, spec }) => Clock::start((**spec).clone(), *at)?,
            _ => return Err(ClockError::BadHistory),
        };
        for e in it {
            clock.apply(e)?;
        }
        Ok(clock)
    }

    /// Applies one event of a history.
    pub fn apply(&mut self, event: &ClockEvent) -> Result<(), ClockError> {
        match event {
            ClockEvent::Start { .. } => Err(ClockError::BadHistory),
            ClockEvent::Pause { at, reason } => self.pause(*at, reason.clone()),
            ClockEvent::Resume { at } => self.resume(*at),
            ClockEvent::Stop { at } => self.stop(*at),
            ClockEvent::Cancel { at } => self.cancel(*at),
            ClockEvent::Retarget { at, spec } => {
                self.check(*at)?;
                self.retarget((**spec).clone())
            }
        }
    }

    /// Returns the history that rebuilds this clock (without retargets, which are folded in).
    pub fn events(&self) -> Vec<ClockEvent> {
        let mut out = vec![ClockEvent::Start {
            at: self.started_at,
            spec: Box::new(self.spec.clone()),
        }];
        for p in &self.pauses {
            out.push(ClockEvent::Pause {
                at: p.from,
                reason: p.reason.clone(),
            });
            if let Some(u) = p.until {
                out.push(ClockEvent::Resume { at: u });
            }
        }
        match self.ending {
            Some(Ending::Stopped(at)) => out.push(ClockEvent::Stop { at }),
            Some(Ending::Cancelled(at)) => out.push(ClockEvent::Cancel { at }),
            None => {}
        }
        out
    }

    /// Returns what the clock promises.
    pub fn spec(&self) -> &ClockSpec {
        &self.spec
    }

    /// Returns when the clock started.
    pub fn started_at(&self) -> DateTime<Utc> {
        self.started_at
    }

    /// Returns the pauses, in order.
    pub fn pauses(&self) -> &[Pause] {
        &self.pauses
    }

    /// Returns how the clock ended, if it has.
    pub fn ending(&self) -> Option<Ending> {
        self.ending
    }

    /// Tells whether the clock is paused now (its last pause is open).
    pub fn is_paused(&self) -> bool {
        self.pauses.last().is_some_and(|p| p.until.is_none())
    }

    fn latest(&self) -> DateTime<Utc> {
        let mut t = self.started_at;
        if let Some(p) = self.pauses.last() {
            t = t.max(p.until.unwrap_or(p.from));
        }
        t
    }

    fn check(&self, at: DateTime<Utc>) -> Result<(), ClockError> {
        if self.ending.is_some() {
            return Err(ClockError::Ended);
        }
        let latest = self.latest();
        if at < latest {
            return Err(ClockError::OutOfOrder { at, latest });
        }
        Ok(())
    }

    /// Pauses the clock at `at`: working time stops counting until [`Clock::resume`].
    pub fn pause(&mut self, at: DateTime<Utc>, reason: PauseReason) -> Result<(), ClockError> {
        self.check(at)?;
        if self.is_paused() {
            return Err(ClockError::AlreadyPaused);
        }
        self.pauses.push(Pause {
            from: at,
            until: None,
            reason,
        });
        Ok(())
    }

    /// Resumes a paused clock at `at`.
    pub fn resume(&mut self, at: DateTime<Utc>) -> Result<(), ClockError> {
        self.check(at)?;
        match self.pauses.last_mut() {
            Some(p) if p.until.is_none() => {
                p.until = Some(at);
                Ok(())
            }
            _ => Err(ClockError::NotPaused),
        }
    }

    /// Stops the clock: the promise was fulfilled at `at`. An open pause ends there too.
    pub fn stop(&mut self, at: DateTime<Utc>) -> Result<(), ClockError> {
        self.check(at)?;
        if let Some(p) = self.pauses.last_mut().filter(|p| p.until.is_none()) {
            p.until = Some(at);
        }
        self.ending = Some(Ending::Stopped(at));
        Ok(())
    }

    /// Cancels the clock at `at`; it then counts neither as met nor as breached.
    pub fn cancel(&mut self, at: DateTime<Utc>) -> Result<(), ClockError> {
        self.check(at)?;
        if let Some(p) = self.pauses.last_mut().filter(|p| p.until.is_none()) {
            p.until = Some(at);
        }
        self.ending = Some(Ending::Cancelled(at));
        Ok(())
    }

    /// Replaces the promise (e.g. a case escalated to urgent) while keeping the original start
    /// and pauses: a target tightened after the case began still counts from its start.
    pub fn retarget(&mut self, spec: ClockSpec) -> Result<(), ClockError> {
        if self.ending.is_some() {
            return Err(ClockError::Ended);
        }
        validate_spec(&spec)?;
        self.spec = spec;
        Ok(())
    }

    /// The instant evaluation stops at: `now`, or the ending if earlier.
    fn horizon(&self, now: DateTime<Utc>) -> i64 {
        let end = match self.ending {
            Some(Ending::Stopped(t) | Ending::Cancelled(t)) => ts(t).min(ts(now)),
            None => ts(now),
        };
        end.max(ts(self.started_at))
    }

    fn segments(&self, e: i64) -> Segments {
        let mut closed = Vec::new();
        let mut cursor = ts(self.started_at);
        for p in &self.pauses {
            let from = ts(p.from);
            if from > e {
                break;
            }
            closed.push((cursor, from));
            match p.until.map(ts) {
                Some(u) if u <= e => cursor = u,
                _ => {
                    return Segments {
                        closed,
                        tail: e,
                        paused: true,
                    }
                }
            }
        }
        Segments {
            closed,
            tail: cursor,
            paused: false,
        }
    }

    /// The instant at which `amount` seconds of active working time have passed.
    fn instant_at(cal: &Calendar, seg: &Segments, amount: i64) -> i64 {
        let mut left = amount;
        for &(a, b) in &seg.closed {
            let w = cal.working_secs(a, b);
            if w >= left && left > 0 {
                return cal.add_secs(a, left);
            }
            left -= w;
        }
        if left <= 0 {
            // Only a zero amount gets here: it is reached at the start.
            return seg.closed.first().map_or(seg.tail, |&(a, _)| a);
        }
        cal.add_secs(seg.tail, left)
    }

    /// Evaluates the clock at `now` in `calendar` (the one named by [`ClockSpec::calendar`]).
    ///
    /// Instants before the start count nothing; a pause starting after `now` is ignored, so a
    /// service may evaluate a stored clock at any past instant.
    pub fn status(&self, calendar: &Calendar, now: DateTime<Utc>) -> Status {
        let e = self.horizon(now);
        let seg = self.segments(e);
        let target = self.spec.target.num_seconds();
        let mut elapsed: i64 = seg
            .closed
            .iter()
            .map(|&(a, b)| calendar.working_secs(a, b))
            .sum();
        if !seg.paused {
            elapsed += calendar.working_secs(seg.tail, e);
        }
        let deadline = if target == 0 {
            ts(self.started_at)
        } else {
            Self::instant_at(calendar, &seg, target)
        };
        let mut reached: Vec<Milestone> = self
            .spec
            .thresholds
            .iter()
            .filter(|&&p| elapsed.saturating_mul(100) >= target.saturating_mul(i64::from(p)))
            .map(|&p| Milestone::Threshold(p))
            .collect();
        let state = match self.ending {
            Some(Ending::Cancelled(_)) => State::Cancelled,
            Some(Ending::Stopped(t)) if ts(t) <= deadline => State::Met,
            Some(Ending::Stopped(_)) => State::MetLate,
            None if e > deadline => State::Breached,
            None if seg.paused => State::Paused,
            None if !reached.is_empty() => State::AtRisk,
            None => State::Running,
        };
        if matches!(state, State::Breached | State::MetLate) {
            reached.push(Milestone::Breach);
        }
        let next_change = match state {
            State::Running | State::AtRisk => {
                let next_threshold = self
                    .spec
                    .thresholds
                    .iter()
                    .find(|&&p| !reached.contains(&Milestone::Threshold(p)))
                    .map(|&p| {
                        // The first second at which elapsed * 100 >= target * p holds.
                        let amount = (target * i64::from(p) + 99) / 100;
                        Self::instant_at(calendar, &seg, amount)
                    });
                Some(from_ts(
                    next_threshold.unwrap_or(deadline + 1).min(deadline + 1),
                ))
            }
            _ => None,
        };
        let percent = if target > 0 {
            elapsed as f64 * 100.0 / target as f64
        } else {
            100.0
        };
        let at_risk = reached.iter().rev().find_map(|m| match m {
            Milestone::Threshold(p) => Some(*p),
            Milestone::Breach => None,
        });
        let breached = matches!(state, State::Breached | State::MetLate);
        let paused: i64 = self
            .paused_working_time(calendar, now)
            .iter()
            .map(TimeDelta::num_seconds)
            .sum();
        Status {
            at_risk,
            breached_at: breached.then(|| from_ts(deadline)),
            paused: TimeDelta::seconds(paused),
            paused_since: if seg.paused && self.ending.is_none() {
                self.pauses.last().map(|p| p.from)
            } else {
                None
            },
            state,
            elapsed: TimeDelta::seconds(elapsed),
            remaining: TimeDelta::seconds(target - elapsed),
            deadline: from_ts(deadline),
            percent,
            reached,
            next_change,
        }
    }

    /// Returns each warning threshold with the instant elapsed time reaches (or will reach, if
    /// the clock keeps running from `now`) that percentage of the target.
    pub fn threshold_instants(
        &self,
        calendar: &Calendar,
        now: DateTime<Utc>,
    ) -> Vec<(u8, DateTime<Utc>)> {
        let seg = self.segments(self.horizon(now));
        let target = self.spec.target.num_seconds();
        self.spec
            .thresholds
            .iter()
            .map(|&p| {
                let amount = (target * i64::from(p) + 99) / 100;
                (p, from_ts(Self::instant_at(calendar, &seg, amount)))
            })
            .collect()
    }

    /// Classifies the clock at `now` for compliance statistics, without allocating (for clocks
    /// without pauses).
    pub fn outcome(&self, calendar: &Calendar, now: DateTime<Utc>) -> Outcome {
        if let Some(Ending::Cancelled(_)) = self.ending {
            return Outcome::Cancelled;
        }
        let e = self.horizon(now);
        let seg = self.segments(e);
        let target = self.spec.target.num_seconds();
        let mut elapsed: i64 = seg
            .closed
            .iter()
            .map(|&(a, b)| calendar.working_secs(a, b))
            .sum();
        if !seg.paused {
            elapsed += calendar.working_secs(seg.tail, e);
        }
        // Elapsed below the target means the deadline is still ahead, above it means it has
        // passed; only an exact tie needs the deadline itself. That halves the cost per clock.
        let late = match elapsed.cmp(&target) {
            std::cmp::Ordering::Less => false,
            std::cmp::Ordering::Greater => true,
            std::cmp::Ordering::Equal => {
                let deadline = if target == 0 {
                    ts(self.started_at)
                } else {
                    Self::instant_at(calendar, &seg, target)
                };
                e > deadline
            }
        };
        match (self.ending, late) {
            (Some(Ending::Stopped(_)), false) => Outcome::Met(TimeDelta::seconds(elapsed)),
            (Some(Ending::Stopped(_)), true) => Outcome::MetLate(TimeDelta::seconds(elapsed)),
            (_, true) => Outcome::Breached,
            (_, false) => Outcome::Open,
        }
    }

    /// Returns the deadline at `now` (see [`Status::deadline`]).
    pub fn deadline(&self, calendar: &Calendar, now: DateTime<Utc>) -> DateTime<Utc> {
        let e = self.horizon(now);
        let seg = self.segments(e);
        let target = self.spec.target.num_seconds();
        if target == 0 {
            return self.started_at;
        }
        from_ts(Self::instant_at(calendar, &seg, target))
    }

    /// Returns the working time counted up to `now`, pauses excluded.
    pub fn elapsed(&self, calendar: &Calendar, now: DateTime<Utc>) -> TimeDelta {
        let e = self.horizon(now);
        let seg = self.segments(e);
        let mut elapsed: i64 = seg
            .closed
            .iter()
            .map(|&(a, b)| calendar.working_secs(a, b))
            .sum();
        if !seg.paused {
            elapsed += calendar.working_secs(seg.tail, e);
        }
        TimeDelta::seconds(elapsed)
    }

    /// Returns, for each pause, the working time it kept out of the count (up to `now`).
    pub fn paused_working_time(&self, calendar: &Calendar, now: DateTime<Utc>) -> Vec<TimeDelta> {
        let e = self.horizon(now);
        self.pauses
            .iter()
            .map(|p| {
                let from = ts(p.from).min(e);
                let until = p.until.map_or(e, ts).min(e);
                TimeDelta::seconds(calendar.working_secs(from, until))
            })
            .collect()
    }
}

fn validate_spec(spec: &ClockSpec) -> Result<(), ClockError> {
    if spec.target < TimeDelta::zero() {
        return Err(ClockError::NegativeTarget);
    }
    if let Some(t) = spec.thresholds.iter().find(|&&t| t == 0 || t >= 100) {
        return Err(ClockError::BadThreshold(*t));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use chrono::TimeZone;

    fn t(h: u32, m: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 3, 2, h, m, 0).unwrap()
    }

    fn spec(hours: i64) -> ClockSpec {
        ClockSpec::new(Promise::FirstContact, TimeDelta::hours(hours), "always")
    }

    #[test]
    fn a_clock_paused_this_very_second_reads_paused() {
        let cal = Calendar::always("always");
        let mut c = Clock::start(spec(4), t(8, 0)).unwrap();
        c.pause(t(9, 0), PauseReason::WaitingOnCustomer).unwrap();
        let s = c.status(&cal, t(9, 0));
        assert_eq!(s.state, State::Paused);
        assert_eq!(s.elapsed, TimeDelta::hours(1));
    }

    #[test]
    fn pause_moves_the_deadline_and_thresholds_are_reported_once() {
        let cal = Calendar::always("always");
        let mut c = Clock::start(spec(4), t(8, 0)).unwrap();
        let s = c.status(&cal, t(10, 30));
        assert_eq!(s.state, State::AtRisk);
        assert_eq!(s.reached, vec![Milestone::Threshold(50)]);
        assert_eq!(s.next_change, Some(t(11, 0)));
        assert_eq!(s.unreported(&[Milestone::Threshold(50)]), vec![]);
        c.pause(t(10, 30), PauseReason::WaitingOnCustomer).unwrap();
        let s = c.status(&cal, t(11, 30));
        assert_eq!(s.state, State::Paused);
        assert_eq!(s.deadline, t(13, 0));
        assert_eq!(
            c.pause(t(11, 40), PauseReason::ExternalDelay),
            Err(ClockError::AlreadyPaused)
        );
        c.resume(t(12, 0)).unwrap();
        assert_eq!(c.deadline(&cal, t(12, 0)), t(13, 30));
        let s = c.status(&cal, t(13, 31));
        assert_eq!(s.state, State::Breached);
        assert_eq!(
            s.unreported(&[Milestone::Threshold(50)]),
            vec![
                Milestone::Threshold(75),
                Milestone::Threshold(90),
                Milestone::Breach
            ]
        );
        let mut c2 = c.clone();
        c2.stop(t(13, 30)).unwrap();
        assert_eq!(c2.status(&cal, t(20, 0)).state, State::Met);
        c.stop(t(13, 45)).unwrap();
        assert_eq!(c.status(&cal, t(20, 0)).state, State::MetLate);
        assert_eq!(c.resume(t(14, 0)), Err(ClockError::Ended));
    }

    #[test]
    fn history_round_trips_through_json() {
        let mut c = Clock::start(spec(4), t(8, 0)).unwrap();
        c.pause(t(9, 0), PauseReason::Other("parts on order".into()))
            .unwrap();
        c.resume(t(9, 30)).unwrap();
        c.cancel(t(10, 0)).unwrap();
        let json = serde_json::to_string(&c.events()).unwrap();
        let events: Vec<ClockEvent> = serde_json::from_str(&json).unwrap();
        assert_eq!(Clock::from_events(&events).unwrap(), c);
        let json = serde_json::to_string(&c).unwrap();
        assert_eq!(serde_json::from_str::<Clock>(&json).unwrap(), c);
        let cal = Calendar::always("always");
        assert_eq!(c.status(&cal, t(12, 0)).state, State::Cancelled);
    }

    #[test]
    fn retarget_keeps_the_original_start() {
        let cal = Calendar::always("always");
        let mut c = Clock::start(spec(8), t(8, 0)).unwrap();
        c.retarget(spec(2)).unwrap();
        assert_eq!(c.deadline(&cal, t(9, 0)), t(10, 0));
        assert_eq!(c.status(&cal, t(10, 1)).state, State::Breached);
    }
}
