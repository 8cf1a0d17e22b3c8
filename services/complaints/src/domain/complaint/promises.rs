//! Promises made to the customer: making, keeping and rescheduling them.

use chrono::{DateTime, Utc};

use super::{text, Complaint, Effects, MAX_PROMISE_AHEAD, MAX_SHORT_NOTE};
use crate::domain::rules::Rules;
use crate::domain::types::*;
use crate::domain::vocabulary::*;
use crate::domain::{new_id, RuleError, Violations};

impl Complaint {
    fn promise_index(&self, id: &str) -> Result<usize, RuleError> {
        self.promises
            .iter()
            .position(|p| p.id == id)
            .ok_or_else(|| {
                RuleError::NotFound(format!("complaint {} has no promise {id}", self.id))
            })
    }

    /// Records a promise; returns its id.
    pub fn make_promise(
        &mut self,
        description: &str,
        due_time: Option<DateTime<Utc>>,
        actor: &Actor,
        rules: &Rules,
        now: DateTime<Utc>,
    ) -> Result<(String, Effects), RuleError> {
        if matches!(self.state, State::Withdrawn | State::Closed) {
            return Err(self.refuse("make a promise", rules));
        }
        let mut v = Violations::default();
        text(&mut v, "description", description, MAX_SHORT_NOTE, true);
        let due_time = due_time.filter(|d| *d > now && *d <= now + MAX_PROMISE_AHEAD);
        if due_time.is_none() {
            v.push(
                "due_time",
                format!(
                    "is required and must be in the future, at most {} days ahead",
                    MAX_PROMISE_AHEAD.num_days()
                ),
            );
        }
        let Some(due_time) = due_time.filter(|_| v.is_empty()) else {
            return Err(RuleError::Invalid(v));
        };
        self.touch(now);
        let promise = Promise {
            id: new_id("prm"),
            description: description.to_owned(),
            due_time,
            promised_by: actor.clone(),
            make_time: now,
            state: PromiseState::Open,
            keep_time: None,
            kept_by: None,
            changes: Vec::new(),
            warned: false,
        };
        self.promises.push(promise.clone());
        let id = promise.id.clone();
        let mut fx = Effects::default();
        self.entry(
            &mut fx,
            actor,
            now,
            format!("promise {id} made"),
            Details::Promise(promise),
        );
        Ok((id, fx))
    }

    /// Marks a promise kept (KEPT_LATE when past due).
    pub fn keep_promise(
        &mut self,
        id: &str,
        note: &str,
        actor: &Actor,
        now: DateTime<Utc>,
    ) -> Result<Effects, RuleError> {
        let i = self.promise_index(id)?;
        let mut v = Violations::default();
        text(&mut v, "note", note, MAX_SHORT_NOTE, false);
        if !v.is_empty() {
            return Err(RuleError::Invalid(v));
        }
        let p = &self.promises[i];
        if !matches!(p.state, PromiseState::Open | PromiseState::Broken) {
            return Err(RuleError::Precondition(format!(
                "promise {id} is {}; only an OPEN or BROKEN promise can be kept",
                p.state.label()
            )));
        }
        self.touch(now);
        let p = &mut self.promises[i];
        p.state = if now > p.due_time {
            PromiseState::KeptLate
        } else {
            PromiseState::Kept
        };
        p.keep_time = Some(now);
        p.kept_by = Some(actor.clone());
        let p = p.clone();
        let mut fx = Effects::default();
        self.entry(
            &mut fx,
            actor,
            now,
            format!("promise {id} {}", p.state.label()),
            Details::Promise(p),
        );
        Ok(fx)
    }

    /// Moves a promise's due time with the customer's consent.
    #[allow(clippy::too_many_arguments)]
    pub fn reschedule_promise(
        &mut self,
        id: &str,
        new_due: Option<DateTime<Utc>>,
        reason: &str,
        consent: &str,
        actor: &Actor,
        now: DateTime<Utc>,
    ) -> Result<Effects, RuleError> {
        let i = self.promise_index(id)?;
        let mut v = Violations::default();
        let new_due = new_due.filter(|d| *d > now && *d <= now + MAX_PROMISE_AHEAD);
        if new_due.is_none() {
            v.push(
                "new_due_time",
                format!(
                    "is required and must be in the future, at most {} days ahead",
                    MAX_PROMISE_AHEAD.num_days()
                ),
            );
        }
        text(&mut v, "reason", reason, MAX_SHORT_NOTE, true);
        text(&mut v, "customer_consent", consent, MAX_SHORT_NOTE, true);
        let Some(new_due) = new_due.filter(|_| v.is_empty()) else {
            return Err(RuleError::Invalid(v));
        };
        let p = &self.promises[i];
        if !matches!(p.state, PromiseState::Open | PromiseState::Broken) {
            return Err(RuleError::Precondition(format!(
                "promise {id} is {}; only an OPEN or BROKEN promise can be rescheduled",
                p.state.label()
            )));
        }
        self.touch(now);
        let p = &mut self.promises[i];
        p.changes.push(PromiseChange {
            previous_due_time: p.due_time,
            new_due_time: new_due,
            reason: reason.to_owned(),
            customer_consent: consent.to_owned(),
            actor: actor.clone(),
            time: now,
        });
        p.due_time = new_due;
        p.state = PromiseState::Open;
        // A new due time is a new span: the owner is warned again before it.
        p.warned = false;
        let p = p.clone();
        let mut fx = Effects::default();
        self.entry(
            &mut fx,
            actor,
            now,
            format!("promise {id} rescheduled"),
            Details::Promise(p),
        );
        Ok(fx)
    }
}

impl Promise {
    /// When an open promise warns its owner: `percent` of the way from its making (or last
    /// rescheduling) to its due time. `None` for a promise that is not open or already warned.
    pub fn warning_time(&self, percent: u8) -> Option<DateTime<Utc>> {
        if self.state != PromiseState::Open || self.warned {
            return None;
        }
        let start = self.changes.last().map_or(self.make_time, |c| c.time);
        let span = self.due_time.signed_duration_since(start);
        let lead = span * i32::from(percent.min(100)) / 100;
        start.checked_add_signed(lead)
    }
}
