//! The callback's moves: scheduling, attempts, cancelling and fixing findings, each returning
//! the [`Effects`] it causes.

use chrono::{DateTime, Utc};
use csops_runtime::violations::clip;
use csops_runtime::{RuleError, Violations};

use super::{
    invalid, text, Actor, Attempt, AttemptInput, Callback, CallbackOutcome, CallbackRules,
    CallbackState, Effect, Effects, Finding, FindingInput, FindingState, NewCallback, SubjectKind,
    CLOCK_SKEW, MAX_CANCEL_REASON, MAX_FINDING, MAX_FINDINGS, MAX_FIX_NOTE, MAX_NOTES,
    MAX_REOPEN_REASON, MAX_SERVICE_AGE,
};

impl Callback {
    /// Schedules a callback for a service that ended at `new.service_end_time`: earliest
    /// `earliest_after` later, due by the `due` limit. `id` is the new callback's id (the app
    /// makes it; the domain stays deterministic). A GENERAL subject is refused: a callback
    /// follows up a complaint, a field job or a visit.
    pub fn schedule(
        id: String,
        new: NewCallback,
        actor: &Actor,
        rules: &CallbackRules,
        now: DateTime<Utc>,
    ) -> Result<Callback, RuleError> {
        let NewCallback {
            customer_id,
            subject,
            service_end_time,
            served_by_agent_id,
            source_event_id,
        } = new;
        let mut v = Violations::default();
        v.require_id("customer_id", &customer_id);
        if subject.kind == SubjectKind::General {
            v.push(
                "subject.kind",
                "a callback follows up a COMPLAINT, FIELD_JOB or VISIT",
            );
        }
        v.require_id("subject.id", &subject.id);
        v.require_id("source_event_id", &source_event_id);
        v.max_id("served_by_agent_id", &served_by_agent_id);
        if service_end_time > now + CLOCK_SKEW {
            v.push("service_end_time", "must not be in the future");
        } else if service_end_time < now - MAX_SERVICE_AGE {
            v.push(
                "service_end_time",
                "must be within the last 366 days: a callback so late follows up nothing",
            );
        }
        invalid(v)?;
        Ok(Callback {
            id,
            customer_id,
            subject,
            source_event_id,
            assigned_agent_id: String::new(),
            served_by_agent_id,
            state: CallbackState::Scheduled,
            service_end_time,
            earliest_time: service_end_time
                .checked_add_signed(rules.earliest_after)
                .unwrap_or(DateTime::<Utc>::MAX_UTC),
            due_time: rules.due.deadline(service_end_time),
            attempts: Vec::new(),
            outcome: None,
            findings: Vec::new(),
            survey_id: String::new(),
            cancel_reason: String::new(),
            cancelled_by: None,
            end_time: None,
            created_by: actor.clone(),
            create_time: now,
            update_time: now,
            version: 1,
        })
    }

    /// Refuses a move of an ended callback, naming its state.
    fn require_scheduled(&self, action: &str) -> Result<(), RuleError> {
        if self.state == CallbackState::Scheduled {
            Ok(())
        } else {
            Err(RuleError::Precondition(format!(
                "cannot {action}: callback {} is {}; only a scheduled callback can",
                self.id,
                self.state.code().to_uppercase()
            )))
        }
    }

    fn touch(&mut self, now: DateTime<Utc>) {
        self.update_time = now;
        self.version += 1;
    }

    /// Records one attempt to reach the customer.
    ///
    /// - Reached: the callback COMPLETES with the customer's answer; its outcome is
    ///   UNSATISFIED when the customer said so or any problem was found. Each finding gets its
    ///   owner (the one named, else the agent who served the customer) and a fix deadline
    ///   (found time + the fix limit). For a complaint this yields, once, either
    ///   [`Effect::ReopenComplaint`] or [`Effect::ComplaintMayClose`].
    /// - Not reached: the attempt is kept; the configured number of them ends the callback
    ///   UNREACHABLE. For a complaint each yields [`Effect::ComplaintCallbackUnreachable`].
    ///
    /// An attempt before the earliest time is allowed: the earliest time plans the work list,
    /// it does not gate the customer (who may call back early, or be reached while on the
    /// phone for something else); refusing would lose their answer. An attempt must not be
    /// in the future, before the service ended, or before the previous attempt.
    pub fn record_attempt(
        &mut self,
        input: AttemptInput,
        actor: &Actor,
        rules: &CallbackRules,
        now: DateTime<Utc>,
    ) -> Result<Effects, RuleError> {
        self.require_scheduled("record an attempt")?;
        let AttemptInput {
            reached,
            outcome,
            findings,
            notes,
            attempt_time,
        } = input;
        let mut v = Violations::default();
        text(&mut v, "notes", &notes, MAX_NOTES, false);
        match (reached, outcome) {
            (true, Some(CallbackOutcome::Satisfied | CallbackOutcome::Unsatisfied)) => {}
            (true, _) => v.push(
                "outcome",
                "is required when the customer was reached: SATISFIED or UNSATISFIED",
            ),
            (false, None | Some(CallbackOutcome::Unreachable)) => {}
            (false, Some(_)) => {
                v.push("outcome", "must be unset when the customer was not reached")
            }
        }
        if v.max_items("findings", findings.len(), MAX_FINDINGS) {
            if !reached && !findings.is_empty() {
                v.push("findings", "only a reached customer's answer has findings");
            }
            if reached && outcome == Some(CallbackOutcome::Unsatisfied) && findings.is_empty() {
                v.push(
                    "findings",
                    "at least one is required for UNSATISFIED: say what the problem is",
                );
            }
            for (i, f) in findings.iter().enumerate() {
                self.check_finding(&mut v, i, f);
            }
        }
        let time = attempt_time.unwrap_or(now);
        if time > now + CLOCK_SKEW {
            v.push("attempt_time", "must not be in the future");
        } else if time < self.service_end_time {
            v.push(
                "attempt_time",
                format!(
                    "must not be before the service ended ({})",
                    self.service_end_time.to_rfc3339()
                ),
            );
        } else if let Some(last) = self.attempts.last() {
            if time < last.attempt_time {
                v.push(
                    "attempt_time",
                    format!(
                        "must not be before the previous attempt ({})",
                        last.attempt_time.to_rfc3339()
                    ),
                );
            }
        }
        invalid(v)?;
        // A time a little ahead of ours (another machine's clock) is taken as now.
        let time = time
            .min(now)
            .max(self.attempts.last().map_or(time, |a| a.attempt_time));
        self.touch(now);
        self.attempts.push(Attempt {
            attempt_time: time,
            actor: actor.clone(),
            reached,
            outcome: if reached { outcome } else { None },
            notes: notes.clone(),
        });
        let mut fx = Effects::default();
        if reached {
            self.complete(&mut fx, outcome, findings, &notes, time, rules);
        } else {
            if let Some(complaint_id) = self.complaint_id() {
                fx.0.push(Effect::ComplaintCallbackUnreachable {
                    complaint_id,
                    attempt_time: time,
                    request_id: format!("{}:attempt-{}", self.id, self.attempts.len()),
                });
            }
            let limit = usize::try_from(rules.max_unreached_attempts.max(1)).unwrap_or(usize::MAX);
            if self.unreached_attempts() >= limit {
                self.state = CallbackState::Unreachable;
                self.outcome = Some(CallbackOutcome::Unreachable);
                self.end_time = Some(time);
            }
        }
        Ok(fx)
    }

    fn check_finding(&self, v: &mut Violations, i: usize, f: &FindingInput) {
        text(
            v,
            &format!("findings[{i}].description"),
            &f.description,
            MAX_FINDING,
            true,
        );
        v.max_id(&format!("findings[{i}].owner_agent_id"), &f.owner_agent_id);
        if f.owner_agent_id.trim().is_empty() && self.served_by_agent_id.trim().is_empty() {
            v.push(
                format!("findings[{i}].owner_agent_id"),
                "is required: the callback names no agent who served the customer",
            );
        }
    }

    /// The complaint's id when the callback follows up a complaint.
    fn complaint_id(&self) -> Option<String> {
        (self.subject.kind == SubjectKind::Complaint).then(|| self.subject.id.clone())
    }

    /// SCHEDULED → COMPLETED with the reached customer's answer and findings.
    fn complete(
        &mut self,
        fx: &mut Effects,
        answer: Option<CallbackOutcome>,
        findings: Vec<FindingInput>,
        notes: &str,
        time: DateTime<Utc>,
        rules: &CallbackRules,
    ) {
        let unsatisfied = answer == Some(CallbackOutcome::Unsatisfied) || !findings.is_empty();
        let fix_due_time = rules.fix.deadline(time);
        let first = self.findings.len();
        for (n, f) in findings.into_iter().enumerate() {
            let owner = if f.owner_agent_id.trim().is_empty() {
                self.served_by_agent_id.trim().to_owned()
            } else {
                f.owner_agent_id.trim().to_owned()
            };
            let finding = Finding {
                id: format!("fnd_{}", first + n + 1),
                description: f.description.trim().to_owned(),
                owner_agent_id: owner,
                state: FindingState::Open,
                find_time: time,
                fix_due_time,
                fix_time: None,
                fix_note: String::new(),
                fixed_by: None,
            };
            fx.0.push(Effect::FindingOpened {
                finding_id: finding.id.clone(),
                owner_agent_id: finding.owner_agent_id.clone(),
                fix_due_time,
            });
            self.findings.push(finding);
        }
        self.state = CallbackState::Completed;
        self.end_time = Some(time);
        self.outcome = Some(if unsatisfied {
            CallbackOutcome::Unsatisfied
        } else {
            CallbackOutcome::Satisfied
        });
        // The state machine makes this happen once: a completed callback takes no attempt.
        if let Some(complaint_id) = self.complaint_id() {
            let request_id = format!("{}:outcome", self.id);
            fx.0.push(if unsatisfied {
                Effect::ReopenComplaint {
                    complaint_id,
                    reason: self.reopen_reason(notes),
                    callback_time: time,
                    request_id,
                }
            } else {
                Effect::ComplaintMayClose {
                    complaint_id,
                    callback_time: time,
                    request_id,
                }
            });
        }
    }

    /// "callback cbk_1 found: (1) <finding>; (2) <finding>. customer said: <notes>", at most
    /// [`MAX_REOPEN_REASON`] bytes.
    fn reopen_reason(&self, notes: &str) -> String {
        let mut reason = if self.findings.is_empty() {
            format!("callback {}: the customer is not satisfied", self.id)
        } else {
            let list: Vec<String> = self
                .findings
                .iter()
                .enumerate()
                .map(|(i, f)| format!("({}) {}", i + 1, f.description))
                .collect();
            format!("callback {} found: {}", self.id, list.join("; "))
        };
        let notes = notes.trim();
        if !notes.is_empty() {
            reason.push_str(&format!(". customer said: {notes}"));
        }
        clip(reason, MAX_REOPEN_REASON)
    }

    /// SCHEDULED → CANCELLED: the callback is no longer needed (the complaint was withdrawn,
    /// the customer asked not to be called).
    pub fn cancel(
        &mut self,
        reason: &str,
        actor: &Actor,
        now: DateTime<Utc>,
    ) -> Result<Effects, RuleError> {
        self.require_scheduled("cancel")?;
        let mut v = Violations::default();
        text(&mut v, "reason", reason, MAX_CANCEL_REASON, true);
        invalid(v)?;
        self.touch(now);
        self.state = CallbackState::Cancelled;
        self.cancel_reason = reason.trim().to_owned();
        self.cancelled_by = Some(actor.clone());
        self.end_time = Some(now);
        Ok(Effects::default())
    }

    /// Marks a finding fixed with what was done. NOT_FOUND-style for an unknown finding,
    /// FAILED_PRECONDITION-style when it is fixed already. Any actor may record the fix (the
    /// owner, or a supervisor for them); the time is `now`.
    pub fn fix_finding(
        &mut self,
        finding_id: &str,
        fix_note: &str,
        actor: &Actor,
        now: DateTime<Utc>,
    ) -> Result<Effects, RuleError> {
        let id = self.id.clone();
        let Some(i) = self.findings.iter().position(|f| f.id == finding_id) else {
            return Err(RuleError::NotFound(format!(
                "callback {id} has no finding {finding_id}"
            )));
        };
        if self.findings[i].state == FindingState::Fixed {
            return Err(RuleError::Precondition(format!(
                "cannot fix finding {finding_id} of callback {id}: it is FIXED already"
            )));
        }
        let mut v = Violations::default();
        text(&mut v, "fix_note", fix_note, MAX_FIX_NOTE, true);
        invalid(v)?;
        self.touch(now);
        let f = &mut self.findings[i];
        f.state = FindingState::Fixed;
        f.fix_time = Some(now);
        f.fix_note = fix_note.trim().to_owned();
        f.fixed_by = Some(actor.clone());
        Ok(Effects(vec![Effect::FindingFixed {
            finding_id: f.id.clone(),
            on_time: now <= f.fix_due_time,
        }]))
    }

    /// Links the survey taken during the callback. Allowed once the customer was reached
    /// (COMPLETED); linking the same survey again changes nothing, another one is refused.
    pub fn link_survey(&mut self, survey_id: &str, now: DateTime<Utc>) -> Result<(), RuleError> {
        let mut v = Violations::default();
        v.require_id("survey_id", survey_id);
        invalid(v)?;
        if self.state != CallbackState::Completed {
            return Err(RuleError::Precondition(format!(
                "cannot link a survey: callback {} is {}; only a completed callback has one",
                self.id,
                self.state.code().to_uppercase()
            )));
        }
        if self.survey_id == survey_id {
            return Ok(());
        }
        if !self.survey_id.is_empty() {
            return Err(RuleError::Precondition(format!(
                "cannot link survey {survey_id}: callback {} has survey {} already",
                self.id, self.survey_id
            )));
        }
        self.touch(now);
        self.survey_id = survey_id.to_owned();
        Ok(())
    }
}
