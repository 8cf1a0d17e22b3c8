//! The state machine: the allowed next states and every move of the complaint process.

use chrono::{DateTime, Utc};
use csops_runtime::violations::MAX_ID_LEN;

use super::{
    list, text, Complaint, Effects, ResolutionInput, CLOCK_SKEW, MAX_ACCOUNTABLE_PARTY,
    MAX_MEASURES, MAX_NOTE, MAX_PLAN_STEPS, MAX_SHORT_NOTE,
};
use crate::domain::rules::Rules;
use crate::domain::types::*;
use crate::domain::vocabulary::*;
use crate::domain::{new_id, RuleError, Violations};

impl Complaint {
    /// Unreachable callbacks recorded since the latest resolution.
    fn unreachable_since_resolution(&self) -> u32 {
        let since = self.resolution.as_ref().map(|r| r.resolve_time);
        let n = self
            .callbacks
            .iter()
            .filter(|c| {
                c.outcome == CallbackOutcome::Unreachable && since.is_none_or(|s| c.time >= s)
            })
            .count();
        u32::try_from(n).unwrap_or(u32::MAX)
    }

    /// States the complaint may move to next, given its details.
    pub fn allowed_next(&self, rules: &Rules) -> Vec<State> {
        self.state
            .next()
            .iter()
            .copied()
            .filter(|s| {
                !(self.state == State::Resolved
                    && *s == State::Closed
                    && self.unreachable_since_resolution() < rules.close_after_unreachable)
            })
            .collect()
    }

    pub(super) fn refuse(&self, action: &str, rules: &Rules) -> RuleError {
        RuleError::Precondition(format!(
            "cannot {action}: complaint {} is {}; allowed next states: {}",
            self.id,
            self.state.label(),
            list(&self.allowed_next(rules))
        ))
    }

    fn check_move(&self, to: State, action: &str, rules: &Rules) -> Result<(), RuleError> {
        if self.allowed_next(rules).contains(&to) {
            Ok(())
        } else {
            Err(self.refuse(action, rules))
        }
    }

    fn move_to(
        &mut self,
        fx: &mut Effects,
        to: State,
        actor: &Actor,
        now: DateTime<Utc>,
        reason: &str,
    ) {
        let transition = Transition {
            from: Some(self.state),
            to,
            actor: actor.clone(),
            time: now,
            reason: reason.to_owned(),
        };
        let summary = format!("state {} -> {}", self.state.label(), to.label());
        self.state = to;
        self.close_time = matches!(to, State::Closed | State::Withdrawn).then_some(now);
        self.history.push(transition.clone());
        self.entry(fx, actor, now, summary, Details::StateChange(transition));
    }

    /// RECEIVED -> ACKNOWLEDGED; stops the first-contact clock at the contact time.
    pub fn acknowledge(
        &mut self,
        note: &str,
        contact_time: Option<DateTime<Utc>>,
        actor: &Actor,
        rules: &Rules,
        now: DateTime<Utc>,
    ) -> Result<Effects, RuleError> {
        self.check_move(State::Acknowledged, "acknowledge", rules)?;
        let mut v = Violations::default();
        text(&mut v, "note", note, MAX_NOTE, false);
        if contact_time.is_some_and(|t| t > now + CLOCK_SKEW) {
            v.push("contact_time", "must not be in the future");
        }
        if !v.is_empty() {
            return Err(RuleError::Invalid(v));
        }
        let when = contact_time.map_or(now, |t| t.min(now));
        self.touch(now);
        let mut fx = Effects::default();
        self.move_to(&mut fx, State::Acknowledged, actor, now, note);
        if let Some(i) = self.open_clock(ClockKind::FirstContact) {
            self.stop_clock(&mut fx, i, when, actor, rules, now);
        }
        self.report_contact(&mut fx, actor, when);
        Ok(fx)
    }

    /// ACKNOWLEDGED or REOPENED -> INVESTIGATING.
    pub fn start_investigation(
        &mut self,
        note: &str,
        actor: &Actor,
        rules: &Rules,
        now: DateTime<Utc>,
    ) -> Result<Effects, RuleError> {
        if !matches!(self.state, State::Acknowledged | State::Reopened) {
            return Err(self.refuse("start the investigation", rules));
        }
        self.check_move(State::Investigating, "start the investigation", rules)?;
        let mut v = Violations::default();
        text(&mut v, "note", note, MAX_NOTE, false);
        if !v.is_empty() {
            return Err(RuleError::Invalid(v));
        }
        self.touch(now);
        let mut fx = Effects::default();
        self.move_to(&mut fx, State::Investigating, actor, now, note);
        Ok(fx)
    }

    /// INVESTIGATING or REOPENED -> SOLUTION_PROPOSED with measures and a time plan.
    pub fn propose_solution(
        &mut self,
        measures: Vec<String>,
        plan: Vec<PlanStep>,
        actor: &Actor,
        rules: &Rules,
        now: DateTime<Utc>,
    ) -> Result<Effects, RuleError> {
        self.check_move(State::SolutionProposed, "propose a solution", rules)?;
        let mut v = Violations::default();
        if measures.is_empty() {
            v.push("measures", "at least one concrete measure is required");
        } else if v.max_items("measures", measures.len(), MAX_MEASURES) {
            for (i, m) in measures.iter().enumerate() {
                text(&mut v, &format!("measures[{i}]"), m, MAX_SHORT_NOTE, true);
            }
        }
        if plan.is_empty() {
            v.push("plan", "at least one step with a due time is required");
        } else if !v.max_items("plan", plan.len(), MAX_PLAN_STEPS) {
            return Err(RuleError::Invalid(v));
        }
        for (i, s) in plan.iter().enumerate() {
            text(
                &mut v,
                &format!("plan[{i}].description"),
                &s.description,
                MAX_SHORT_NOTE,
                true,
            );
            if s.due_time.is_none() {
                v.push(format!("plan[{i}].due_time"), "is required");
            }
        }
        if !v.is_empty() {
            return Err(RuleError::Invalid(v));
        }
        self.touch(now);
        let mut fx = Effects::default();
        let id = format!("solution-{}", self.solutions.len() + 1);
        self.solutions.push(Solution {
            id: id.clone(),
            measures,
            plan,
            proposed_by: actor.clone(),
            propose_time: now,
            decision: Decision::Pending,
            decide_time: None,
            customer_comment: String::new(),
        });
        self.move_to(&mut fx, State::SolutionProposed, actor, now, &id);
        Ok(fx)
    }

    /// SOLUTION_PROPOSED -> SOLUTION_ACCEPTED (accept) or INVESTIGATING (reject).
    pub fn decide_solution(
        &mut self,
        accept: bool,
        comment: &str,
        actor: &Actor,
        rules: &Rules,
        now: DateTime<Utc>,
    ) -> Result<Effects, RuleError> {
        let (to, action) = if accept {
            (State::SolutionAccepted, "accept the solution")
        } else {
            (State::Investigating, "reject the solution")
        };
        if self.state != State::SolutionProposed {
            return Err(self.refuse(action, rules));
        }
        let mut v = Violations::default();
        text(&mut v, "customer_comment", comment, MAX_NOTE, !accept);
        if !v.is_empty() {
            return Err(RuleError::Invalid(v));
        }
        self.touch(now);
        let mut fx = Effects::default();
        if let Some(s) = self.solutions.last_mut() {
            s.decision = if accept {
                Decision::Accepted
            } else {
                Decision::Rejected
            };
            s.decide_time = Some(now);
            s.customer_comment = comment.to_owned();
        }
        self.move_to(&mut fx, to, actor, now, comment);
        if !accept {
            // The customer's demands cannot be met by what was offered.
            self.sensitive_follow_up(&mut fx, true, rules, now);
        }
        Ok(fx)
    }

    /// SOLUTION_ACCEPTED -> RESOLVED: stops the resolution (or callback-fix) clock, keeps the
    /// resolution record, starts the callback clock and asks feedback to schedule the callback.
    pub fn resolve(
        &mut self,
        input: ResolutionInput,
        actor: &Actor,
        rules: &Rules,
        now: DateTime<Utc>,
    ) -> Result<Effects, RuleError> {
        self.check_move(State::Resolved, "resolve", rules)?;
        let mut v = Violations::default();
        text(&mut v, "resolution.summary", &input.summary, MAX_NOTE, true);
        text(
            &mut v,
            "resolution.root_cause",
            &input.root_cause,
            MAX_NOTE,
            true,
        );
        text(
            &mut v,
            "resolution.corrective_action",
            &input.corrective_action,
            MAX_NOTE,
            true,
        );
        text(
            &mut v,
            "resolution.lesson_learned",
            &input.lesson_learned,
            MAX_NOTE,
            false,
        );
        // Seed 003: when the company was at fault, find who was accountable (找到责任人).
        text(
            &mut v,
            "resolution.accountable_party",
            &input.accountable_party,
            MAX_ACCOUNTABLE_PARTY,
            input.company_at_fault,
        );
        if !v.is_empty() {
            return Err(RuleError::Invalid(v));
        }
        self.touch(now);
        let mut fx = Effects::default();
        self.resolution = Some(Resolution {
            summary: input.summary,
            root_cause: input.root_cause,
            corrective_action: input.corrective_action,
            lesson_learned: input.lesson_learned,
            company_at_fault: input.company_at_fault,
            resolved_by: actor.clone(),
            resolve_time: now,
            accountable_party: input.accountable_party.trim().to_owned(),
            effect_check: None,
        });
        self.move_to(&mut fx, State::Resolved, actor, now, "");
        let running = self
            .open_clock(ClockKind::CallbackFix)
            .or_else(|| self.open_clock(ClockKind::Resolution));
        if let Some(i) = running {
            self.stop_clock(&mut fx, i, now, actor, rules, now);
        }
        self.start_clock(&mut fx, ClockKind::Callback, now, actor, rules, now)?;
        fx.outbox.push(OutboxEvent {
            id: new_id("obx"),
            event: Outgoing::ScheduleCallback {
                customer_id: self.customer_id.clone(),
                complaint_id: self.id.clone(),
                service_end_time: now,
                served_by_agent_id: if self.assigned_agent_id.is_empty() {
                    actor.id.clone()
                } else {
                    self.assigned_agent_id.clone()
                },
            },
        });
        Ok(fx)
    }

    /// Records a callback outcome in RESOLVED: SATISFIED -> CALLBACK_DONE, UNSATISFIED ->
    /// REOPENED (callback-fix clock), UNREACHABLE keeps the state.
    #[allow(clippy::too_many_arguments)]
    pub fn record_callback(
        &mut self,
        outcome: CallbackOutcome,
        notes: &str,
        time: Option<DateTime<Utc>>,
        feedback_callback_id: &str,
        actor: &Actor,
        rules: &Rules,
        now: DateTime<Utc>,
    ) -> Result<Effects, RuleError> {
        if self.state != State::Resolved {
            return Err(self.refuse("record a callback", rules));
        }
        let mut v = Violations::default();
        text(
            &mut v,
            "notes",
            notes,
            MAX_NOTE,
            outcome == CallbackOutcome::Unsatisfied,
        );
        if time.is_some_and(|t| t > now + CLOCK_SKEW) {
            v.push("callback_time", "must not be in the future");
        }
        if !v.is_empty() {
            return Err(RuleError::Invalid(v));
        }
        let time = time.map_or(now, |t| t.min(now));
        self.touch(now);
        let mut fx = Effects::default();
        let attempt = CallbackAttempt {
            outcome,
            notes: notes.to_owned(),
            actor: actor.clone(),
            time,
            feedback_callback_id: feedback_callback_id.to_owned(),
        };
        self.callbacks.push(attempt.clone());
        self.entry(
            &mut fx,
            actor,
            now,
            format!("callback {}", outcome.label()),
            Details::Callback(attempt),
        );
        match outcome {
            CallbackOutcome::Unreachable => {}
            CallbackOutcome::Satisfied => {
                self.move_to(&mut fx, State::CallbackDone, actor, now, notes);
                if let Some(i) = self.open_clock(ClockKind::Callback) {
                    self.stop_clock(&mut fx, i, time, actor, rules, now);
                }
            }
            CallbackOutcome::Unsatisfied => {
                self.reopen_inner(
                    &mut fx,
                    ReopenReason::CallbackFinding,
                    notes,
                    time,
                    actor,
                    rules,
                    now,
                )?;
            }
        }
        Ok(fx)
    }

    #[allow(clippy::too_many_arguments)]
    fn reopen_inner(
        &mut self,
        fx: &mut Effects,
        reason: ReopenReason,
        note: &str,
        time: DateTime<Utc>,
        actor: &Actor,
        rules: &Rules,
        now: DateTime<Utc>,
    ) -> Result<(), RuleError> {
        self.reopen_count += 1;
        self.move_to(
            fx,
            State::Reopened,
            actor,
            now,
            &format!("{}: {note}", reason.code()),
        );
        // The callback reached the customer (and found a problem): that promise was kept.
        if let Some(i) = self.open_clock(ClockKind::Callback) {
            self.stop_clock(fx, i, time, actor, rules, now);
        }
        self.start_clock(fx, ClockKind::CallbackFix, now, actor, rules, now)
    }

    /// Records whether the fix held, some days after it (效果确认, seed 003): once per
    /// resolution, in CALLBACK_DONE or CLOSED. A fix that did not hold reopens the complaint
    /// (reason RECURRENCE) with its 2-day callback-fix clock.
    pub fn confirm_effect(
        &mut self,
        effective: bool,
        note: &str,
        actor: &Actor,
        rules: &Rules,
        now: DateTime<Utc>,
    ) -> Result<Effects, RuleError> {
        if !matches!(self.state, State::CallbackDone | State::Closed) {
            return Err(self.refuse("confirm the effect of the fix", rules));
        }
        if self
            .resolution
            .as_ref()
            .is_some_and(|r| r.effect_check.is_some())
        {
            return Err(RuleError::Precondition(format!(
                "the effect of the fix of complaint {} was already checked",
                self.id
            )));
        }
        let mut v = Violations::default();
        text(&mut v, "note", note, MAX_NOTE, !effective);
        if !v.is_empty() {
            return Err(RuleError::Invalid(v));
        }
        self.touch(now);
        let mut fx = Effects::default();
        if let Some(resolution) = self.resolution.as_mut() {
            resolution.effect_check = Some(EffectCheck {
                effective,
                note: note.to_owned(),
                checked_by: actor.clone(),
                check_time: now,
            });
        }
        let text_ = if effective {
            format!("effect confirmed: {note}")
        } else {
            format!("effect NOT confirmed: {note}")
        };
        self.entry(
            &mut fx,
            actor,
            now,
            text_.trim_end_matches([':', ' ']).to_owned(),
            Details::Note {
                text: note.to_owned(),
            },
        );
        if !effective {
            self.reopen_inner(
                &mut fx,
                ReopenReason::Recurrence,
                note,
                now,
                actor,
                rules,
                now,
            )?;
        }
        Ok(fx)
    }

    /// CALLBACK_DONE -> CLOSED, or RESOLVED -> CLOSED after the configured unreachable
    /// callbacks (the callback clock is then cancelled).
    pub fn close(
        &mut self,
        note: &str,
        actor: &Actor,
        rules: &Rules,
        now: DateTime<Utc>,
    ) -> Result<Effects, RuleError> {
        self.check_move(State::Closed, "close", rules)?;
        let mut v = Violations::default();
        text(&mut v, "note", note, MAX_NOTE, false);
        if !v.is_empty() {
            return Err(RuleError::Invalid(v));
        }
        self.touch(now);
        let mut fx = Effects::default();
        self.move_to(&mut fx, State::Closed, actor, now, note);
        if let Some(i) = self.open_clock(ClockKind::Callback) {
            self.cancel_clock(&mut fx, i, actor, rules, now);
        }
        Ok(fx)
    }

    /// RESOLVED, CALLBACK_DONE or CLOSED -> REOPENED; starts the 2-day callback-fix clock.
    pub fn reopen(
        &mut self,
        reason: Option<ReopenReason>,
        note: &str,
        actor: &Actor,
        rules: &Rules,
        now: DateTime<Utc>,
    ) -> Result<Effects, RuleError> {
        self.check_move(State::Reopened, "reopen", rules)?;
        let mut v = Violations::default();
        if reason.is_none() {
            v.push("reason", "is required");
        }
        text(&mut v, "note", note, MAX_NOTE, true);
        let Some(reason) = reason.filter(|_| v.is_empty()) else {
            return Err(RuleError::Invalid(v));
        };
        self.touch(now);
        let mut fx = Effects::default();
        self.reopen_inner(&mut fx, reason, note, now, actor, rules, now)?;
        Ok(fx)
    }

    /// Any state before RESOLVED, or REOPENED -> WITHDRAWN: clocks and open promises cancelled.
    pub fn withdraw(
        &mut self,
        reason: &str,
        actor: &Actor,
        rules: &Rules,
        now: DateTime<Utc>,
    ) -> Result<Effects, RuleError> {
        self.check_move(State::Withdrawn, "withdraw", rules)?;
        let mut v = Violations::default();
        text(&mut v, "reason", reason, MAX_NOTE, true);
        if !v.is_empty() {
            return Err(RuleError::Invalid(v));
        }
        self.touch(now);
        let mut fx = Effects::default();
        self.move_to(&mut fx, State::Withdrawn, actor, now, reason);
        for i in 0..self.clocks.len() {
            if self.clocks[i].is_open() {
                self.cancel_clock(&mut fx, i, actor, rules, now);
            }
        }
        for i in 0..self.promises.len() {
            if matches!(
                self.promises[i].state,
                PromiseState::Open | PromiseState::Broken
            ) {
                self.promises[i].state = PromiseState::Cancelled;
                let p = self.promises[i].clone();
                self.entry(
                    &mut fx,
                    actor,
                    now,
                    format!("promise {} cancelled", p.id),
                    Details::Promise(p),
                );
            }
        }
        Ok(fx)
    }

    pub(super) fn ensure_not_final(&self, action: &str, rules: &Rules) -> Result<(), RuleError> {
        if self.state == State::Withdrawn {
            Err(self.refuse(action, rules))
        } else {
            Ok(())
        }
    }

    /// Assigns the complaint to an agent.
    pub fn assign(
        &mut self,
        agent_id: &str,
        reason: &str,
        actor: &Actor,
        rules: &Rules,
        now: DateTime<Utc>,
    ) -> Result<Effects, RuleError> {
        self.ensure_not_final("assign", rules)?;
        let mut v = Violations::default();
        text(&mut v, "agent_id", agent_id, MAX_ID_LEN, true);
        text(&mut v, "reason", reason, MAX_SHORT_NOTE, false);
        if !v.is_empty() {
            return Err(RuleError::Invalid(v));
        }
        self.touch(now);
        let mut fx = Effects::default();
        let previous = std::mem::replace(&mut self.assigned_agent_id, agent_id.trim().to_owned());
        // 首问负责: the first agent to take it owns it when nobody did at intake.
        if self.accountable_agent_id.is_empty() {
            self.accountable_agent_id = agent_id.trim().to_owned();
        }
        self.entry(
            &mut fx,
            actor,
            now,
            format!("assigned to {}", agent_id.trim()),
            Details::Assignment {
                previous_agent_id: previous,
                agent_id: agent_id.trim().to_owned(),
                reason: reason.to_owned(),
            },
        );
        Ok(fx)
    }
}
