//! The state machine's moves: create, agree a window, arrive, start, complete, cancel.

use chrono::{DateTime, Utc};
use csops_sla::Policy;

use super::clocks::start_clocks;
use super::{
    invalid, money, required_text, Completion, CompletionInput, ConsentState, FieldJob,
    FieldJobState, JobCustomer, NewFieldJob, TimeWindow, WindowInput, MAX_SPAN, MAX_WINDOW,
    MAX_WINDOWS, SKEW,
};
use crate::domain::{Actor, Outgoing, RuleError, Violations};

impl FieldJob {
    /// A new CREATED job with its clocks started: FIRST_CONTACT from the dispatch (when given,
    /// the dispatch-contact promise) or the acceptance, COMPLETION from the acceptance with the
    /// kind's promise for `customer`.
    pub fn new(
        id: String,
        input: NewFieldJob,
        customer: JobCustomer,
        policy: &Policy,
        created_by: Actor,
        now: DateTime<Utc>,
    ) -> Result<Self, RuleError> {
        let NewFieldJob {
            customer_id,
            kind,
            description,
            site,
            complaint_id,
            engineer_id,
            accept_time,
            dispatch_time,
        } = input;
        let mut v = Violations::default();
        required_text(
            &mut v,
            "job.description",
            &description,
            "say what is to be done",
        );
        let accept_time = accept_time.unwrap_or(now);
        if accept_time > now + SKEW {
            v.push("job.accept_time", "must not be in the future");
        } else if accept_time < now - MAX_SPAN {
            v.push("job.accept_time", "must be at most 366 days ago");
        }
        if let Some(d) = dispatch_time {
            if d > now + SKEW {
                v.push("job.dispatch_time", "must not be in the future");
            } else if d < accept_time {
                v.push("job.dispatch_time", "must not be before accept_time");
            }
        }
        invalid(v)?;
        let clocks = start_clocks(kind, &customer, policy, accept_time, dispatch_time)?;
        Ok(Self {
            id,
            customer_id,
            kind,
            description: description.trim().to_owned(),
            site: site.trim().to_owned(),
            complaint_id,
            engineer_id,
            state: FieldJobState::Created,
            accept_time,
            dispatch_time,
            agreed_window: None,
            previous_windows: Vec::new(),
            arrive_time: None,
            arrived_on_time: false,
            explanation: String::new(),
            extra_work: Vec::new(),
            completion: None,
            cancel_reason: String::new(),
            pauses: Vec::new(),
            clocks,
            customer,
            created_by,
            create_time: now,
            update_time: now,
            version: 1,
        })
    }

    /// The states this job may go to next.
    pub fn allowed(&self) -> Vec<FieldJobState> {
        self.state.next(self.paused_from())
    }

    /// Where a paused job resumes.
    pub fn paused_from(&self) -> Option<FieldJobState> {
        (self.state == FieldJobState::Paused)
            .then(|| self.pauses.last().map(|p| p.from))
            .flatten()
    }

    /// Refuses a change to `next` that the state machine does not allow here. A paused job
    /// goes back only by resuming (see [`FieldJob::resume`]), or is cancelled.
    pub(super) fn can_go(&self, next: FieldJobState) -> Result<(), RuleError> {
        let allowed = self.allowed();
        if allowed.contains(&next)
            && (self.state != FieldJobState::Paused || next == FieldJobState::Cancelled)
        {
            return Ok(());
        }
        if let Some(from) = self.paused_from() {
            return Err(RuleError::Precondition(format!(
                "field job {} is paused; resume it first (it goes back to {}) or cancel it, \
                 then it can go to {}",
                self.id,
                from.code(),
                next.code()
            )));
        }
        let allowed: Vec<&str> = allowed.iter().map(|s| s.code()).collect();
        Err(RuleError::Precondition(format!(
            "field job {} is {}; it can go to {} but not {}",
            self.id,
            self.state.code(),
            if allowed.is_empty() {
                "no other state".to_owned()
            } else {
                allowed.join(", ")
            },
            next.code()
        )))
    }

    pub(super) fn to(&mut self, next: FieldJobState, now: DateTime<Utc>) {
        self.state = next;
        self.update_time = now;
    }

    /// Records (or moves) the window agreed with the customer. A move keeps the earlier window
    /// and needs the customer's agreement again; the first agreement stops the first-contact
    /// clock.
    pub fn agree_window(
        &mut self,
        window: WindowInput,
        actor: &Actor,
        now: DateTime<Utc>,
    ) -> Result<(), RuleError> {
        let WindowInput {
            start,
            end,
            agreed_with_customer,
        } = window;
        let mut v = Violations::default();
        required_text(
            &mut v,
            "window.agreed_with_customer",
            &agreed_with_customer,
            "say how the customer agreed (every change of the window needs their agreement)",
        );
        if end <= start {
            v.push("window.end_time", "must be after start_time");
        } else if end - start > MAX_WINDOW {
            v.push("window.end_time", "a window lasts at most 12 hours");
        }
        if end <= now {
            v.push("window.end_time", "must be in the future");
        }
        if start > now + MAX_SPAN {
            v.push("window.start_time", "must be at most 366 days ahead");
        }
        invalid(v)?;
        self.can_go(FieldJobState::WindowAgreed)?;
        if self.previous_windows.len() + 1 >= MAX_WINDOWS {
            return Err(RuleError::Precondition(format!(
                "field job {} was already agreed {MAX_WINDOWS} windows; cancel it and open a new \
                 order",
                self.id
            )));
        }
        self.stop_first_contact(now)?;
        if let Some(earlier) = self.agreed_window.take() {
            self.previous_windows.push(earlier);
        }
        self.agreed_window = Some(TimeWindow {
            start,
            end,
            agreed_with_customer: agreed_with_customer.trim().to_owned(),
            agreed_by: actor.clone(),
            agree_time: now,
        });
        self.to(FieldJobState::WindowAgreed, now);
        Ok(())
    }

    /// The engineer arrived at `at` (default `now`); records whether inside the window.
    pub fn arrive(
        &mut self,
        at: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
    ) -> Result<(), RuleError> {
        let at = at.unwrap_or(now);
        let mut v = Violations::default();
        if at > now + SKEW {
            v.push("arrive_time", "must not be in the future");
        } else if at < self.accept_time {
            v.push("arrive_time", "must not be before the order was accepted");
        }
        invalid(v)?;
        self.can_go(FieldJobState::Arrived)?;
        self.arrived_on_time = self.agreed_window.as_ref().is_some_and(|w| w.contains(at));
        self.arrive_time = Some(at);
        self.to(FieldJobState::Arrived, now);
        Ok(())
    }

    /// The engineer explained the work (what, how long, what it costs) and started.
    pub fn start(&mut self, explanation: String, now: DateTime<Utc>) -> Result<(), RuleError> {
        let mut v = Violations::default();
        required_text(
            &mut v,
            "explanation",
            &explanation,
            "say what was explained to the customer before starting",
        );
        invalid(v)?;
        self.can_go(FieldJobState::InProgress)?;
        self.explanation = explanation.trim().to_owned();
        self.to(FieldJobState::InProgress, now);
        Ok(())
    }

    /// The work is done: refused while extra work waits for consent. Stops the clocks and
    /// returns the events for feedback: the 1-2 day callback and the finished activity.
    pub fn complete(
        &mut self,
        input: CompletionInput,
        actor: &Actor,
        now: DateTime<Utc>,
    ) -> Result<Vec<Outgoing>, RuleError> {
        let CompletionInput {
            summary,
            complete_time,
            customer_signed_off,
            charged_minor,
            currency_code,
        } = input;
        let complete_time = complete_time.unwrap_or(now);
        let mut v = Violations::default();
        required_text(&mut v, "completion.summary", &summary, "say what was done");
        if complete_time > now + SKEW {
            v.push("completion.complete_time", "must not be in the future");
        } else if complete_time < self.arrive_time.unwrap_or(self.accept_time) {
            v.push(
                "completion.complete_time",
                "must not be before the engineer arrived",
            );
        }
        money(
            &mut v,
            "completion.charged_minor",
            charged_minor,
            "completion.currency_code",
            &currency_code,
        );
        invalid(v)?;
        self.can_go(FieldJobState::Completed)?;
        let pending: Vec<String> = self
            .extra_work
            .iter()
            .filter(|w| w.consent_state == ConsentState::Pending)
            .map(|w| w.id.clone())
            .collect();
        if !pending.is_empty() {
            return Err(RuleError::Precondition(format!(
                "field job {} has extra work waiting for the customer's consent ({}); record the \
                 customer's answer with RecordExtraWorkConsent before completing",
                self.id,
                pending.join(", ")
            )));
        }
        self.stop_clocks(complete_time)?;
        self.completion = Some(Completion {
            summary: summary.trim().to_owned(),
            complete_time,
            completed_by: actor.clone(),
            customer_signed_off,
            charged_minor,
            currency_code,
            feedback_callback_id: String::new(),
        });
        self.to(FieldJobState::Completed, now);
        Ok(vec![
            Outgoing::ScheduleCallback {
                customer_id: self.customer_id.clone(),
                field_job_id: self.id.clone(),
                service_end_time: complete_time,
                served_by_agent_id: self.engineer_id.clone(),
            },
            Outgoing::Activity {
                kind: "field_job_completed".into(),
                customer_id: self.customer_id.clone(),
                agent_id: self.engineer_id.clone(),
                subject_kind: "field_job".into(),
                subject_id: self.id.clone(),
                occur_time: complete_time,
            },
        ])
    }

    /// The job will not be done; its open clocks are cancelled.
    pub fn cancel(
        &mut self,
        reason: String,
        actor: &Actor,
        now: DateTime<Utc>,
    ) -> Result<(), RuleError> {
        let mut v = Violations::default();
        required_text(&mut v, "reason", &reason, "say why the job is cancelled");
        invalid(v)?;
        self.can_go(FieldJobState::Cancelled)?;
        self.cancel_clocks(now)?;
        self.close_pause(actor, now);
        self.cancel_reason = reason.trim().to_owned();
        self.to(FieldJobState::Cancelled, now);
        Ok(())
    }
}
