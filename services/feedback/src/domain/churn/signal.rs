//! A churn-risk signal's life: raised OPEN by the detector, ACKNOWLEDGED when someone takes it
//! in hand and says what they will do, RESOLVED when the risk was dealt with or found false.
//!
//! The requests that change a signal carry no retry key, so a repeated identical call (the same
//! person, the same note, on a signal already in the state it asks for) changes nothing and
//! answers the signal as it is; anything else on a signal past the step is refused.

use chrono::{DateTime, TimeDelta, Utc};
use csops_runtime::time::{serde_micros, serde_micros_opt};
use csops_runtime::{RuleError, Violations};
use serde::{Deserialize, Serialize};

use super::{ChurnKind, ChurnSignal, RiskLevel};
use crate::domain::{coded, Actor};

/// Longest action note (acknowledge or resolve), in characters.
pub const MAX_ACTION_NOTE: usize = 1_000;

coded! {
    /// Where a churn-risk signal is.
    pub enum SignalState {
        /// Raised; nobody took it yet.
        Open = "open",
        /// Someone is dealing with it.
        Acknowledged = "acknowledged",
        /// Dealt with, or found false.
        Resolved = "resolved",
    }
}

/// One step someone took on a signal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Handling {
    /// What they will do (acknowledge) or what was done (resolve).
    pub note: String,
    /// Who.
    pub actor: Actor,
    /// When.
    #[serde(with = "serde_micros")]
    pub time: DateTime<Utc>,
}

/// A churn-risk signal as this service keeps it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RiskSignal {
    /// The detector's key ([`ChurnSignal::key`]): stable for the episode and the level, so a
    /// signal is stored once; also the `signal_id` the customers service applies once.
    pub id: String,
    /// The customer at risk.
    pub customer_id: String,
    /// What was noticed.
    pub kind: ChurnKind,
    /// How strong the risk is.
    pub level: RiskLevel,
    /// Where the signal is.
    pub state: SignalState,
    /// Why, in plain words.
    pub evidence: String,
    /// For SILENCE: the time since the last contact when it was raised.
    #[serde(with = "micros_delta_opt")]
    pub silence: Option<TimeDelta>,
    /// For FALLING_SCORES: the scores compared, oldest first.
    pub recent_scores: Vec<f64>,
    /// The surveys behind the signal.
    pub evidence_ids: Vec<String>,
    /// Where the episode started.
    #[serde(with = "serde_micros")]
    pub episode_start: DateTime<Utc>,
    /// When it was raised.
    #[serde(with = "serde_micros")]
    pub detect_time: DateTime<Utc>,
    /// Who took it in hand and what they said they would do.
    pub acknowledged: Option<Handling>,
    /// Who closed it and why.
    pub resolved: Option<Handling>,
    /// When it last changed.
    #[serde(with = "serde_micros_opt")]
    pub update_time: Option<DateTime<Utc>>,
    /// Raised by one with every change.
    pub version: i64,
}

impl RiskSignal {
    /// A signal the detector raised, OPEN, version 1.
    pub fn raise(signal: ChurnSignal) -> Self {
        let ChurnSignal {
            key,
            customer_id,
            kind,
            level,
            evidence,
            silence,
            recent_scores,
            evidence_ids,
            episode_start,
            detect_time,
        } = signal;
        Self {
            id: key,
            customer_id,
            kind,
            level,
            state: SignalState::Open,
            evidence,
            silence,
            recent_scores,
            evidence_ids,
            episode_start,
            detect_time,
            acknowledged: None,
            resolved: None,
            update_time: None,
            version: 1,
        }
    }

    /// The latest step taken: the resolve, else the acknowledge.
    pub fn last_handling(&self) -> Option<&Handling> {
        self.resolved.as_ref().or(self.acknowledged.as_ref())
    }

    /// OPEN → ACKNOWLEDGED with what will be done. Returns `false` (nothing changed) when the
    /// same person already acknowledged it with the same note; any other acknowledge of a
    /// signal that is not OPEN is refused.
    pub fn acknowledge(
        &mut self,
        note: &str,
        actor: &Actor,
        now: DateTime<Utc>,
    ) -> Result<bool, RuleError> {
        let note = action_note(note)?;
        match self.state {
            SignalState::Open => {}
            SignalState::Acknowledged if same(self.acknowledged.as_ref(), &note, actor) => {
                return Ok(false)
            }
            SignalState::Acknowledged => {
                return Err(RuleError::Precondition(format!(
                    "churn signal {} was already acknowledged{}; resolve it instead",
                    self.id,
                    by(self.acknowledged.as_ref())
                )))
            }
            SignalState::Resolved => {
                return Err(RuleError::Precondition(format!(
                    "churn signal {} is resolved{}; it cannot be acknowledged",
                    self.id,
                    by(self.resolved.as_ref())
                )))
            }
        }
        self.acknowledged = Some(Handling {
            note,
            actor: actor.clone(),
            time: now,
        });
        self.changed(SignalState::Acknowledged, now);
        Ok(true)
    }

    /// OPEN or ACKNOWLEDGED → RESOLVED with what was done (or why the signal was false).
    /// Returns `false` (nothing changed) when the same person already resolved it with the same
    /// note; any other resolve of a RESOLVED signal is refused.
    pub fn resolve(
        &mut self,
        note: &str,
        actor: &Actor,
        now: DateTime<Utc>,
    ) -> Result<bool, RuleError> {
        let note = action_note(note)?;
        if self.state == SignalState::Resolved {
            if same(self.resolved.as_ref(), &note, actor) {
                return Ok(false);
            }
            return Err(RuleError::Precondition(format!(
                "churn signal {} is already resolved{}",
                self.id,
                by(self.resolved.as_ref())
            )));
        }
        self.resolved = Some(Handling {
            note,
            actor: actor.clone(),
            time: now,
        });
        self.changed(SignalState::Resolved, now);
        Ok(true)
    }

    fn changed(&mut self, state: SignalState, now: DateTime<Utc>) {
        self.state = state;
        self.update_time = Some(now);
        self.version += 1;
    }
}

/// The note, trimmed: required, at most [`MAX_ACTION_NOTE`] characters.
fn action_note(note: &str) -> Result<String, RuleError> {
    let mut v = Violations::default();
    let note = note.trim();
    if note.is_empty() {
        v.push(
            "action_note",
            "is required: say what will be done or was done",
        );
    } else {
        v.max_len("action_note", note, MAX_ACTION_NOTE);
    }
    v.into_result(note.to_owned()).map_err(RuleError::Invalid)
}

fn same(done: Option<&Handling>, note: &str, actor: &Actor) -> bool {
    done.is_some_and(|h| h.note == note && h.actor == *actor)
}

fn by(done: Option<&Handling>) -> String {
    done.map(|h| format!(" by {}", h.actor.id))
        .unwrap_or_default()
}

/// Serde adapter: an optional duration as a JSON integer of microseconds (`null` when unset).
mod micros_delta_opt {
    use chrono::TimeDelta;
    use serde::{Deserialize, Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer>(d: &Option<TimeDelta>, s: S) -> Result<S::Ok, S::Error> {
        match d {
            Some(d) => s.serialize_some(&d.num_microseconds().unwrap_or(i64::MAX)),
            None => s.serialize_none(),
        }
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Option<TimeDelta>, D::Error> {
        Ok(Option::<i64>::deserialize(d)?.map(TimeDelta::microseconds))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use chrono::TimeZone;

    use super::*;
    use crate::domain::churn::{detect, ChurnRules, ContactSummary};
    use crate::domain::Role;

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 2, 2, 0, 0).unwrap()
    }

    fn raised() -> RiskSignal {
        // Tier A, silent since 30 Jul: 95 days, past 4 × 7 days: high.
        let summary = ContactSummary {
            customer_id: "cus_1".into(),
            tier: csops_sla::Tier::A,
            key_account: false,
            last_contact_time: Utc.with_ymd_and_hms(2026, 7, 30, 2, 0, 0).unwrap(),
            last_survey_answer_time: None,
            surveys: vec![],
        };
        let signal = detect(&summary, &ChurnRules::default(), now()).remove(0);
        RiskSignal::raise(signal)
    }

    fn agent(id: &str) -> Actor {
        Actor {
            id: id.into(),
            role: Role::Agent,
        }
    }

    #[test]
    fn a_raised_signal_is_open_and_keeps_the_detector_key() {
        let s = raised();
        assert_eq!(s.state, SignalState::Open);
        assert_eq!(s.id, "chs_silence_high_1785376800000000_fcb6ecd5bff046e2");
        assert_eq!(s.silence, Some(TimeDelta::days(95)));
        assert_eq!((s.version, s.last_handling()), (1, None));
    }

    #[test]
    fn acknowledge_then_resolve_records_who_and_why() {
        let mut s = raised();
        let later = now() + TimeDelta::hours(1);
        assert!(s
            .acknowledge(" visit this week ", &agent("agent-3"), now())
            .unwrap());
        assert_eq!(s.state, SignalState::Acknowledged);
        assert_eq!(s.last_handling().unwrap().note, "visit this week");
        assert!(s
            .resolve("visited; happy", &agent("agent-4"), later)
            .unwrap());
        assert_eq!(s.state, SignalState::Resolved);
        let last = s.last_handling().unwrap();
        assert_eq!((last.actor.id.as_str(), last.time), ("agent-4", later));
        assert_eq!(s.acknowledged.as_ref().unwrap().note, "visit this week");
        assert_eq!((s.version, s.update_time), (3, Some(later)));
    }

    #[test]
    fn an_open_signal_may_be_resolved_directly() {
        let mut s = raised();
        assert!(s.resolve("false alarm", &agent("agent-3"), now()).unwrap());
        assert_eq!(s.state, SignalState::Resolved);
        assert_eq!(s.acknowledged, None);
    }

    #[test]
    fn a_repeated_identical_step_changes_nothing() {
        let mut s = raised();
        s.acknowledge("visit", &agent("agent-3"), now()).unwrap();
        let before = s.clone();
        assert!(!s
            .acknowledge("visit", &agent("agent-3"), now() + TimeDelta::hours(1))
            .unwrap());
        assert_eq!(s, before);
        s.resolve("done", &agent("agent-3"), now()).unwrap();
        let before = s.clone();
        assert!(!s.resolve(" done", &agent("agent-3"), now()).unwrap());
        assert_eq!(s, before);
    }

    #[test]
    fn other_steps_past_the_state_are_refused() {
        let mut s = raised();
        s.acknowledge("visit", &agent("agent-3"), now()).unwrap();
        let e = s.acknowledge("call", &agent("agent-3"), now()).unwrap_err();
        assert!(
            matches!(&e, RuleError::Precondition(m) if m.contains("already acknowledged by agent-3")),
            "{e:?}"
        );
        s.resolve("done", &agent("agent-3"), now()).unwrap();
        let e = s
            .acknowledge("visit", &agent("agent-3"), now())
            .unwrap_err();
        assert!(
            matches!(&e, RuleError::Precondition(m) if m.contains("is resolved")),
            "{e:?}"
        );
        let e = s.resolve("done", &agent("agent-9"), now()).unwrap_err();
        assert!(
            matches!(&e, RuleError::Precondition(m) if m.contains("already resolved")),
            "{e:?}"
        );
    }

    #[test]
    fn the_note_is_required_and_bounded() {
        let mut s = raised();
        for note in [" ".to_owned(), "x".repeat(MAX_ACTION_NOTE + 1)] {
            match s.acknowledge(&note, &agent("agent-3"), now()).unwrap_err() {
                RuleError::Invalid(v) => assert_eq!(v.0[0].field, "action_note"),
                other => panic!("{other:?}"),
            }
        }
        assert_eq!(s.state, SignalState::Open);
    }

    #[test]
    fn a_signal_reads_back_from_its_document() {
        let mut s = raised();
        s.acknowledge("visit", &agent("agent-3"), now()).unwrap();
        let doc = serde_json::to_string(&s).unwrap();
        assert_eq!(serde_json::from_str::<RiskSignal>(&doc).unwrap(), s);
    }
}
