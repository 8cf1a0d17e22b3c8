//! SLA clocks (csops-sla): start, pause and resume, stop and cancel, breach watch, next check.

use chrono::{DateTime, Utc};
use csops_sla::{Calendar, Clock, Milestone, Policy, Promise, Status};

use super::{
    invalid, required_text, ClockKind, FieldJob, FieldJobKind, FieldJobState, JobClock,
    JobCustomer, PauseNote, PauseReason, MAX_PAUSES,
};
use crate::domain::{Actor, RuleError, Violations};

/// Evaluates a clock at `now` on its policy calendar; a calendar dropped from the policy since
/// the clock started counts calendar time rather than failing.
pub fn status(policy: &Policy, clock: &Clock, now: DateTime<Utc>) -> Status {
    match policy.calendar_for(clock) {
        Ok(calendar) => clock.status(calendar, now),
        Err(_) => clock.status(&Calendar::always("always"), now),
    }
}

/// The latest instant recorded on a clock: later operations must not be earlier.
fn latest(clock: &Clock) -> DateTime<Utc> {
    clock
        .pauses()
        .last()
        .map_or(clock.started_at(), |p| p.until.unwrap_or(p.from))
        .max(clock.started_at())
}

fn clock_refused(what: &str, error: impl std::fmt::Display) -> RuleError {
    RuleError::Precondition(format!("the SLA clock cannot {what}: {error}"))
}

/// A new job's clocks: FIRST_CONTACT from the dispatch (when given, the dispatch-contact
/// promise) or the acceptance, COMPLETION from the acceptance with the kind's promise for
/// `customer`.
pub(super) fn start_clocks(
    kind: FieldJobKind,
    customer: &JobCustomer,
    policy: &Policy,
    accept_time: DateTime<Utc>,
    dispatch_time: Option<DateTime<Utc>>,
) -> Result<Vec<JobClock>, RuleError> {
    let case = customer.case();
    let start = |promise: Promise, at: DateTime<Utc>| {
        policy.start(promise, &case, at).map_err(|e| {
            RuleError::Precondition(format!(
                "the SLA policy cannot start the {promise} clock: {e}"
            ))
        })
    };
    let first_contact = match dispatch_time {
        Some(d) => start(Promise::DispatchContact, d)?,
        None => start(Promise::FirstContact, accept_time)?,
    };
    let completion = start(kind.promise(), accept_time)?;
    Ok(vec![
        JobClock {
            id: format!("{}-1", ClockKind::FirstContact.code()),
            kind: ClockKind::FirstContact,
            clock: first_contact,
            breached: false,
        },
        JobClock {
            id: format!("{}-1", ClockKind::Completion.code()),
            kind: ClockKind::Completion,
            clock: completion,
            breached: false,
        },
    ])
}

impl FieldJob {
    fn clock_mut(&mut self, kind: ClockKind) -> Option<&mut JobClock> {
        self.clocks.iter_mut().rev().find(|c| c.kind == kind)
    }

    /// The job's clock of `kind`.
    pub fn clock(&self, kind: ClockKind) -> Option<&JobClock> {
        self.clocks.iter().rev().find(|c| c.kind == kind)
    }

    /// True once any clock's deadline passed before it stopped.
    pub fn breached(&self) -> bool {
        self.clocks.iter().any(|c| c.breached)
    }

    /// Stops the first-contact clock if it still counts (the first agreed window).
    pub(super) fn stop_first_contact(&mut self, now: DateTime<Utc>) -> Result<(), RuleError> {
        if let Some(first_contact) = self
            .clock_mut(ClockKind::FirstContact)
            .filter(|c| c.clock.ending().is_none())
        {
            let at = now.max(latest(&first_contact.clock));
            first_contact
                .clock
                .stop(at)
                .map_err(|e| clock_refused("stop", e))?;
        }
        Ok(())
    }

    /// Stops every clock that still counts, at `at` or a clock's latest instant if later.
    pub(super) fn stop_clocks(&mut self, at: DateTime<Utc>) -> Result<(), RuleError> {
        for c in self
            .clocks
            .iter_mut()
            .filter(|c| c.clock.ending().is_none())
        {
            let at = at.max(latest(&c.clock));
            c.clock.stop(at).map_err(|e| clock_refused("stop", e))?;
        }
        Ok(())
    }

    /// Cancels every clock that still counts, at `now` or a clock's latest instant if later.
    pub(super) fn cancel_clocks(&mut self, now: DateTime<Utc>) -> Result<(), RuleError> {
        for c in self
            .clocks
            .iter_mut()
            .filter(|c| c.clock.ending().is_none())
        {
            let at = now.max(latest(&c.clock));
            c.clock.cancel(at).map_err(|e| clock_refused("cancel", e))?;
        }
        Ok(())
    }

    /// Pauses the job and its completion clock for a delay the company did not cause.
    pub fn pause(
        &mut self,
        reason: PauseReason,
        note: String,
        actor: &Actor,
        now: DateTime<Utc>,
    ) -> Result<(), RuleError> {
        let mut v = Violations::default();
        required_text(&mut v, "note", &note, "say what the company waits for");
        invalid(v)?;
        self.can_go(FieldJobState::Paused)?;
        if self.pauses.len() >= MAX_PAUSES {
            return Err(RuleError::Precondition(format!(
                "field job {} was already paused {MAX_PAUSES} times",
                self.id
            )));
        }
        if let Some(completion) = self
            .clock_mut(ClockKind::Completion)
            .filter(|c| c.clock.ending().is_none() && !c.clock.is_paused())
        {
            let at = now.max(latest(&completion.clock));
            completion
                .clock
                .pause(at, reason.sla())
                .map_err(|e| clock_refused("pause", e))?;
        }
        let from = self.state;
        self.pauses.push(PauseNote {
            reason,
            note: note.trim().to_owned(),
            from,
            paused_by: actor.clone(),
            pause_time: now,
            resumed_by: None,
            resume_time: None,
        });
        self.to(FieldJobState::Paused, now);
        Ok(())
    }

    /// Resumes a paused job to where it was; its completion deadline moves out by the pause.
    pub fn resume(&mut self, actor: &Actor, now: DateTime<Utc>) -> Result<(), RuleError> {
        let Some(from) = self.paused_from() else {
            return Err(RuleError::Precondition(format!(
                "field job {} is {}; only a paused job resumes",
                self.id,
                self.state.code()
            )));
        };
        if let Some(completion) = self
            .clock_mut(ClockKind::Completion)
            .filter(|c| c.clock.is_paused())
        {
            let at = now.max(latest(&completion.clock));
            completion
                .clock
                .resume(at)
                .map_err(|e| clock_refused("resume", e))?;
        }
        self.close_pause(actor, now);
        self.to(from, now);
        Ok(())
    }

    pub(super) fn close_pause(&mut self, actor: &Actor, now: DateTime<Utc>) {
        if let Some(p) = self.pauses.last_mut().filter(|p| p.resume_time.is_none()) {
            p.resumed_by = Some(actor.clone());
            p.resume_time = Some(now);
        }
    }

    /// Notes every clock whose deadline passed before it stopped (breached, or met late) and
    /// returns the ids of those noted now: each breach is noted once.
    pub fn watch(&mut self, policy: &Policy, now: DateTime<Utc>) -> Vec<String> {
        let mut noted = Vec::new();
        for c in self.clocks.iter_mut().filter(|c| !c.breached) {
            if status(policy, &c.clock, now)
                .reached
                .contains(&Milestone::Breach)
            {
                c.breached = true;
                noted.push(c.id.clone());
            }
        }
        noted
    }

    /// When the clocks must be looked at again: the earliest next change of a counting clock,
    /// or `now` when a breach is not noted yet; `None` when no clock counts.
    pub fn next_check(&self, policy: &Policy, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.clocks
            .iter()
            .filter(|c| c.clock.ending().is_none() && !c.breached)
            .filter_map(|c| {
                let status = status(policy, &c.clock, now);
                if status.reached.contains(&Milestone::Breach) {
                    Some(now)
                } else {
                    status.next_change
                }
            })
            .min()
    }
}
