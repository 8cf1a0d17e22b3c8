//! SLA clocks: starting, stopping, pausing and retargeting them, and the breach watcher's tick.

use chrono::{DateTime, TimeDelta, Utc};
use csops_sla::Milestone;

use super::{policy_error, text, Complaint, Effects, MAX_SHORT_NOTE};
use crate::domain::rules::Rules;
use crate::domain::types::*;
use crate::domain::vocabulary::*;
use crate::domain::{new_id, RuleError, Violations};

/// The precision of stored times: an open promise breaks one step after its due time.
const STEP: TimeDelta = TimeDelta::nanoseconds(1_000);

impl Complaint {
    /// Records an SLA event on the timeline and for watchers.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn sla_event(
        &mut self,
        fx: &mut Effects,
        actor: &Actor,
        now: DateTime<Utc>,
        clock: Option<usize>,
        kind: SlaEventKind,
        threshold_percent: i32,
        deadline: DateTime<Utc>,
        escalation_level: Option<Level>,
        promise_id: &str,
    ) {
        let (clock_id, clock_kind) = clock
            .and_then(|i| self.clocks.get(i))
            .map_or((String::new(), None), |c| (c.id.clone(), Some(c.kind)));
        let event = SlaEvent {
            id: new_id("sle"),
            complaint_id: self.id.clone(),
            clock_id: clock_id.clone(),
            clock_kind,
            kind,
            threshold_percent,
            deadline,
            escalation_level,
            promise_id: promise_id.to_owned(),
            assigned_agent_id: self.assigned_agent_id.clone(),
            severity: self.severity,
            customer_id: self.customer_id.clone(),
            time: now,
        };
        let subject = if clock_id.is_empty() {
            format!("promise {promise_id}")
        } else {
            format!("clock {clock_id}")
        };
        let mut summary = format!("sla {} {subject}", kind.label());
        if threshold_percent > 0 {
            summary.push_str(&format!(" ({threshold_percent} %)"));
        }
        fx.sla_events.push(event.clone());
        self.entry(fx, actor, now, summary, Details::Sla(event));
    }

    fn deadline(&self, i: usize, rules: &Rules, now: DateTime<Utc>) -> DateTime<Utc> {
        rules.status(&self.clocks[i].clock, now).deadline
    }

    pub(super) fn start_clock(
        &mut self,
        fx: &mut Effects,
        kind: ClockKind,
        start: DateTime<Utc>,
        actor: &Actor,
        rules: &Rules,
        now: DateTime<Utc>,
    ) -> Result<(), RuleError> {
        let clock = rules
            .policy
            .start(kind.promise(), &self.case(rules), start)
            .map_err(policy_error)?;
        let n = self.clocks.iter().filter(|c| c.kind == kind).count() + 1;
        self.clocks.push(SlaClock {
            id: format!("{}-{n}", kind.code()),
            kind,
            clock,
            reported: Vec::new(),
            pauses: Vec::new(),
        });
        let i = self.clocks.len() - 1;
        let deadline = self.deadline(i, rules, now);
        self.sla_event(
            fx,
            actor,
            now,
            Some(i),
            SlaEventKind::Started,
            0,
            deadline,
            None,
            "",
        );
        Ok(())
    }

    pub(super) fn open_clock(&self, kind: ClockKind) -> Option<usize> {
        self.clocks
            .iter()
            .rposition(|c| c.kind == kind && c.is_open())
    }

    /// Stops a clock at `when` (not before its latest event) and reports met or met late.
    pub(super) fn stop_clock(
        &mut self,
        fx: &mut Effects,
        i: usize,
        when: DateTime<Utc>,
        actor: &Actor,
        rules: &Rules,
        now: DateTime<Utc>,
    ) {
        let clock = &mut self.clocks[i].clock;
        let when = when.max(clock.started_at());
        if clock.stop(when).is_err() {
            let _ = clock.stop(now);
        }
        let status = rules.status(&self.clocks[i].clock, now);
        let (kind, activity) = if status.state == csops_sla::State::MetLate {
            (SlaEventKind::MetLate, ActivityKind::ClockMetLate)
        } else {
            (SlaEventKind::Met, ActivityKind::ClockMet)
        };
        if let Some(p) = self.clocks[i].pauses.last_mut() {
            if p.resumed_by.is_none() {
                p.resumed_by = Some(actor.clone());
            }
        }
        self.sla_event(fx, actor, now, Some(i), kind, 0, status.deadline, None, "");
        let stopped = match self.clocks[i].clock.ending() {
            Some(csops_sla::Ending::Stopped(at)) => at,
            _ => when,
        };
        self.report_clock(fx, i, activity, stopped);
    }

    pub(super) fn cancel_clock(
        &mut self,
        fx: &mut Effects,
        i: usize,
        actor: &Actor,
        rules: &Rules,
        now: DateTime<Utc>,
    ) {
        if self.clocks[i].clock.cancel(now).is_ok() {
            let deadline = self.deadline(i, rules, now);
            self.sla_event(
                fx,
                actor,
                now,
                Some(i),
                SlaEventKind::Cancelled,
                0,
                deadline,
                None,
                "",
            );
        }
    }

    /// Pauses the running pausable clocks (resolution, callback fix).
    pub fn pause(
        &mut self,
        reason: Option<PauseReason>,
        note: &str,
        actor: &Actor,
        rules: &Rules,
        now: DateTime<Utc>,
    ) -> Result<Effects, RuleError> {
        let mut v = Violations::default();
        if reason.is_none() {
            v.push(
                "reason",
                "is required: only delays the company did not cause pause a clock",
            );
        }
        text(&mut v, "note", note, MAX_SHORT_NOTE, true);
        let Some(reason) = reason.filter(|_| v.is_empty()) else {
            return Err(RuleError::Invalid(v));
        };
        let targets: Vec<usize> = (0..self.clocks.len())
            .filter(|&i| {
                let c = &self.clocks[i];
                c.kind.pausable() && c.is_open() && !c.clock.is_paused()
            })
            .collect();
        if targets.is_empty() {
            return Err(RuleError::Precondition(format!(
                "complaint {} has no running resolution or callback-fix clock to pause (state {})",
                self.id,
                self.state.label()
            )));
        }
        self.touch(now);
        let mut fx = Effects::default();
        for i in targets {
            let sla_reason = match reason {
                PauseReason::WaitingOnCustomer => csops_sla::PauseReason::WaitingOnCustomer,
                PauseReason::ExternalDelay => csops_sla::PauseReason::ExternalDelay,
            };
            if self.clocks[i].clock.pause(now, sla_reason).is_ok() {
                self.clocks[i].pauses.push(PauseNote {
                    reason,
                    note: note.to_owned(),
                    paused_by: actor.clone(),
                    resumed_by: None,
                });
                let deadline = self.deadline(i, rules, now);
                self.sla_event(
                    &mut fx,
                    actor,
                    now,
                    Some(i),
                    SlaEventKind::Paused,
                    0,
                    deadline,
                    None,
                    "",
                );
            }
        }
        Ok(fx)
    }

    /// Resumes paused clocks; their deadlines move out by the paused working time.
    pub fn resume(
        &mut self,
        note: &str,
        actor: &Actor,
        rules: &Rules,
        now: DateTime<Utc>,
    ) -> Result<Effects, RuleError> {
        let mut v = Violations::default();
        text(&mut v, "note", note, MAX_SHORT_NOTE, false);
        if !v.is_empty() {
            return Err(RuleError::Invalid(v));
        }
        let targets: Vec<usize> = (0..self.clocks.len())
            .filter(|&i| self.clocks[i].is_open() && self.clocks[i].clock.is_paused())
            .collect();
        if targets.is_empty() {
            return Err(RuleError::Precondition(format!(
                "complaint {} has no paused clock to resume",
                self.id
            )));
        }
        self.touch(now);
        let mut fx = Effects::default();
        for i in targets {
            if self.clocks[i].clock.resume(now).is_ok() {
                if let Some(p) = self.clocks[i].pauses.last_mut() {
                    p.resumed_by = Some(actor.clone());
                }
                let deadline = self.deadline(i, rules, now);
                self.sla_event(
                    &mut fx,
                    actor,
                    now,
                    Some(i),
                    SlaEventKind::Resumed,
                    0,
                    deadline,
                    None,
                    "",
                );
            }
        }
        Ok(fx)
    }

    /// Re-selects the target of every open clock for the current facts; reports changes.
    pub(super) fn retarget_clocks(
        &mut self,
        fx: &mut Effects,
        actor: &Actor,
        rules: &Rules,
        now: DateTime<Utc>,
    ) -> Result<(), RuleError> {
        let case = self.case(rules);
        for i in 0..self.clocks.len() {
            if !self.clocks[i].is_open() {
                continue;
            }
            let spec = rules
                .policy
                .resolve(self.clocks[i].kind.promise(), &case)
                .map_err(policy_error)?;
            if &spec == self.clocks[i].clock.spec() {
                continue;
            }
            let before = self.deadline(i, rules, now);
            if self.clocks[i].clock.retarget(spec).is_ok() {
                let after = self.deadline(i, rules, now);
                // Milestones of the old target no longer say anything about the new one.
                let status = rules.status(&self.clocks[i].clock, now);
                self.clocks[i]
                    .reported
                    .retain(|m| status.reached.contains(m));
                if after != before {
                    self.sla_event(
                        fx,
                        actor,
                        now,
                        Some(i),
                        SlaEventKind::DeadlineChanged,
                        0,
                        after,
                        None,
                        "",
                    );
                }
            }
        }
        Ok(())
    }

    /// Takes the customer facts read from the customers service (after a defaulted create,
    /// or when they changed) and corrects the open clocks.
    pub fn reevaluate(
        &mut self,
        snapshot: Snapshot,
        rules: &Rules,
        now: DateTime<Utc>,
    ) -> Result<Effects, RuleError> {
        let actor = Actor::system("customer-reevaluation");
        self.touch(now);
        let mut fx = Effects::default();
        self.customer = snapshot;
        self.entry(
            &mut fx,
            &actor,
            now,
            "customer facts re-read from the customers service".into(),
            Details::Update {
                changed_fields: vec!["customer".into()],
            },
        );
        self.retarget_clocks(&mut fx, &actor, rules, now)?;
        self.request_visit_if_due(&mut fx, rules, now);
        Ok(fx)
    }

    /// The breach watcher's step: announces new warning thresholds and breaches once, breaks
    /// overdue promises, and escalates each breach or broken promise one level up the chain.
    /// Returns what that caused: nothing when nothing changed (the caller then only postpones
    /// the next check), else a new version to save with its effects.
    pub fn tick(&mut self, rules: &Rules, now: DateTime<Utc>) -> Effects {
        let actor = Actor::system("sla-watcher");
        let mut fx = Effects::default();
        let mut changed = false;
        for i in 0..self.clocks.len() {
            if !self.clocks[i].is_open() {
                continue;
            }
            let status = rules.status(&self.clocks[i].clock, now);
            for m in status.unreported(&self.clocks[i].reported) {
                if !changed {
                    self.touch(now);
                    changed = true;
                }
                self.clocks[i].reported.push(m);
                let deadline = status.deadline;
                match m {
                    Milestone::Threshold(p) => {
                        self.sla_event(
                            &mut fx,
                            &actor,
                            now,
                            Some(i),
                            SlaEventKind::AtRisk,
                            i32::from(p),
                            deadline,
                            None,
                            "",
                        );
                    }
                    Milestone::Breach => {
                        self.sla_event(
                            &mut fx,
                            &actor,
                            now,
                            Some(i),
                            SlaEventKind::Breached,
                            0,
                            deadline,
                            None,
                            "",
                        );
                        self.report_clock(&mut fx, i, ActivityKind::ClockBreached, deadline);
                        let id = self.clocks[i].id.clone();
                        self.escalate_for(
                            &mut fx,
                            &id,
                            "",
                            EscalationReason::SlaBreached,
                            deadline,
                            &actor,
                            rules,
                            now,
                        );
                    }
                }
            }
        }
        for i in 0..self.promises.len() {
            // Warned once, before it is due (a promise found overdue is broken instead).
            let p = &self.promises[i];
            let warn = p
                .warning_time(rules.promise_warning_percent)
                .is_some_and(|at| at <= now && now <= p.due_time);
            if !warn {
                continue;
            }
            if !changed {
                self.touch(now);
                changed = true;
            }
            self.promises[i].warned = true;
            let p = self.promises[i].clone();
            self.sla_event(
                &mut fx,
                &actor,
                now,
                None,
                SlaEventKind::AtRisk,
                i32::from(rules.promise_warning_percent),
                p.due_time,
                None,
                &p.id,
            );
        }
        for i in 0..self.promises.len() {
            let p = &self.promises[i];
            if p.state != PromiseState::Open || p.due_time >= now {
                continue;
            }
            if !changed {
                self.touch(now);
                changed = true;
            }
            self.promises[i].state = PromiseState::Broken;
            let p = self.promises[i].clone();
            self.entry(
                &mut fx,
                &actor,
                now,
                format!("promise {} BROKEN", p.id),
                Details::Promise(p.clone()),
            );
            self.sla_event(
                &mut fx,
                &actor,
                now,
                None,
                SlaEventKind::PromiseBroken,
                0,
                p.due_time,
                None,
                &p.id,
            );
            self.escalate_for(
                &mut fx,
                "",
                &p.id,
                EscalationReason::PromiseBroken,
                p.due_time,
                &actor,
                rules,
                now,
            );
        }
        fx
    }

    /// When the watcher must look at this complaint again (`None`: never, until something
    /// changes).
    pub fn next_check(&self, rules: &Rules, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let clocks = self.clocks.iter().filter(|c| c.is_open()).filter_map(|c| {
            let status = rules.status(&c.clock, now);
            // A milestone reached but not yet reported (a clock born breached, or made so
            // by an edit) is due now: otherwise a breached clock, which changes no more,
            // would never be looked at again.
            if status.unreported(&c.reported).is_empty() {
                status.next_change
            } else {
                Some(now)
            }
        });
        let promises = self
            .promises
            .iter()
            .filter(|p| p.state == PromiseState::Open)
            .map(|p| p.due_time.checked_add_signed(STEP).unwrap_or(p.due_time));
        let warnings = self
            .promises
            .iter()
            .filter_map(|p| p.warning_time(rules.promise_warning_percent));
        clocks.chain(promises).chain(warnings).min()
    }

    /// The SLA state of the open clocks at `now`.
    pub fn sla_state(&self, rules: &Rules, now: DateTime<Utc>) -> SlaState {
        let mut state = SlaState::OnTrack;
        for c in self.clocks.iter().filter(|c| c.is_open()) {
            let status = rules.status(&c.clock, now);
            if status.state == csops_sla::State::Breached {
                return SlaState::Breached;
            }
            if status.at_risk.is_some() {
                state = SlaState::AtRisk;
            }
        }
        if self
            .promises
            .iter()
            .any(|p| p.state == PromiseState::Broken)
        {
            return SlaState::Breached;
        }
        state
    }

    /// Finds a clock by id.
    pub fn clock(&self, id: &str) -> Option<&SlaClock> {
        self.clocks.iter().find(|c| c.id == id)
    }
}
