//! The complaint aggregate and every change the process allows.
//!
//! Each change checks the state machine first (an illegal move names the current state and the
//! allowed next ones), then applies itself and appends what happened to the pending timeline,
//! SLA events and outbox, which the store writes in the same transaction as the complaint.

use chrono::TimeDelta;
use csops_sla::{Case, Milestone, PolicyError};
use serde::{Deserialize, Serialize};

use super::rules::Rules;
use super::types::*;
use super::{at, micros, new_id, RuleError, Violations};

const MAX_TITLE: usize = 200;
const MAX_DESCRIPTION: usize = 10_000;
const MAX_DEMAND: usize = 2_000;
const MAX_NOTE: usize = 4_000;
const MAX_SHORT_NOTE: usize = 1_000;
const MAX_REFERENCES: usize = 20;
/// An in-person visit for a key account or sensitive complainant is due within two days.
const VISIT_WITHIN: TimeDelta = TimeDelta::days(2);
/// Client clocks may run a little ahead of ours.
const CLOCK_SKEW_MICROS: i64 = 60_000_000;

/// What a caller gives to record a complaint.
#[derive(Debug, Clone, Default)]
pub struct Input {
    /// Customer id.
    pub customer_id: String,
    /// Summary.
    pub title: String,
    /// Full text.
    pub description: String,
    /// What the customer asks for.
    pub customer_demand: String,
    /// Nature (None when not given).
    pub nature: Option<Nature>,
    /// Severity.
    pub severity: Option<Severity>,
    /// Channel.
    pub channel: Option<Channel>,
    /// Traits.
    pub traits: Vec<Trait>,
    /// References.
    pub references: Vec<Reference>,
    /// When the customer complained; 0 = now.
    pub receive_time: Micros,
}

/// Editable fields named by an update mask; `None` leaves a field alone.
#[derive(Debug, Clone, Default)]
pub struct Patch {
    /// Title.
    pub title: Option<String>,
    /// Description.
    pub description: Option<String>,
    /// Demand.
    pub customer_demand: Option<String>,
    /// Nature.
    pub nature: Option<Nature>,
    /// Severity.
    pub severity: Option<Severity>,
    /// Channel.
    pub channel: Option<Channel>,
    /// Traits.
    pub traits: Option<Vec<Trait>>,
    /// References.
    pub references: Option<Vec<Reference>>,
    /// Lesson learned.
    pub lesson_learned: Option<String>,
}

/// The resolution record given to ResolveComplaint.
#[derive(Debug, Clone, Default)]
pub struct ResolutionInput {
    /// What was done.
    pub summary: String,
    /// Root cause.
    pub root_cause: String,
    /// Corrective action.
    pub corrective_action: String,
    /// Lesson.
    pub lesson_learned: String,
    /// At fault.
    pub company_at_fault: bool,
}

/// What a change produced, for the store: timeline entries, SLA events, outbox events and
/// exactly-once escalation keys.
pub type Pending = (
    Vec<Entry>,
    Vec<SlaEvent>,
    Vec<OutboxEvent>,
    Vec<(String, Level)>,
);

/// A complaint and everything done about it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Complaint {
    /// Id.
    pub id: String,
    /// Customer.
    pub customer_id: String,
    /// Title.
    pub title: String,
    /// Description (personal data: never logged).
    pub description: String,
    /// Demand.
    pub customer_demand: String,
    /// Nature.
    pub nature: Nature,
    /// Severity.
    pub severity: Severity,
    /// Channel.
    pub channel: Channel,
    /// Traits.
    pub traits: Vec<Trait>,
    /// State.
    pub state: State,
    /// Assigned agent.
    pub assigned_agent_id: String,
    /// Escalation level.
    pub escalation_level: Level,
    /// Customer facts.
    pub customer: Snapshot,
    /// Clocks.
    pub clocks: Vec<SlaClock>,
    /// Solutions.
    pub solutions: Vec<Solution>,
    /// Resolution.
    pub resolution: Option<Resolution>,
    /// Callbacks.
    pub callbacks: Vec<CallbackAttempt>,
    /// Promises.
    pub promises: Vec<Promise>,
    /// Compensations.
    pub compensations: Vec<Compensation>,
    /// Escalations.
    pub escalations: Vec<Escalation>,
    /// State history.
    pub history: Vec<Transition>,
    /// Reopens.
    pub reopen_count: i32,
    /// References.
    pub references: Vec<Reference>,
    /// When the customer complained.
    pub receive_time: Micros,
    /// Who recorded it.
    pub created_by: Actor,
    /// Created.
    pub create_time: Micros,
    /// Updated.
    pub update_time: Micros,
    /// Closed or withdrawn.
    pub close_time: Micros,
    /// True once an in-person visit was requested from the visits service.
    pub visit_requested: bool,
    /// Optimistic-concurrency version.
    pub version: i64,
    /// Last timeline sequence used.
    pub timeline_seq: i64,
    /// Timeline entries to append.
    #[serde(skip)]
    pub pending_entries: Vec<Entry>,
    /// SLA events to record.
    #[serde(skip)]
    pub pending_sla: Vec<SlaEvent>,
    /// Outbox events to write.
    #[serde(skip)]
    pub pending_outbox: Vec<OutboxEvent>,
    /// Exactly-once escalation keys (subject, level) to claim.
    #[serde(skip)]
    pub pending_guards: Vec<(String, Level)>,
}

fn text(v: &mut Violations, field: &str, value: &str, max: usize, required: bool) {
    if required && value.trim().is_empty() {
        v.push(field, "is required");
    } else if value.chars().count() > max {
        v.push(field, format!("must be at most {max} characters"));
    }
}

fn references(v: &mut Violations, refs: &[Reference]) {
    if refs.len() > MAX_REFERENCES {
        v.push("references", format!("at most {MAX_REFERENCES} entries"));
    }
    for (i, r) in refs.iter().enumerate() {
        text(v, &format!("references[{i}].kind"), &r.kind, 50, true);
        text(v, &format!("references[{i}].id"), &r.id, 200, true);
    }
}

fn policy_error(error: PolicyError) -> RuleError {
    RuleError::Precondition(format!("the SLA policy cannot start this clock: {error}"))
}

fn list(states: &[State]) -> String {
    if states.is_empty() {
        "none (final state)".to_owned()
    } else {
        states
            .iter()
            .map(|s| s.label())
            .collect::<Vec<_>>()
            .join(", ")
    }
}

impl Complaint {
    /// Records a new complaint: validates the input, starts the first-contact and resolution
    /// clocks at the receive time, escalates a sensitive complainant at once and asks for an
    /// in-person visit for a key account or sensitive complainant.
    pub fn create(
        id: String,
        input: Input,
        customer: Snapshot,
        actor: Actor,
        rules: &Rules,
        now: Micros,
    ) -> Result<Self, RuleError> {
        let mut v = Violations::default();
        text(&mut v, "customer_id", &input.customer_id, 100, true);
        text(&mut v, "title", &input.title, MAX_TITLE, true);
        text(
            &mut v,
            "description",
            &input.description,
            MAX_DESCRIPTION,
            false,
        );
        text(
            &mut v,
            "customer_demand",
            &input.customer_demand,
            MAX_DEMAND,
            false,
        );
        if input.nature.is_none() {
            v.push("nature", "is required");
        }
        if input.severity.is_none() {
            v.push("severity", "is required");
        }
        if input.channel.is_none() {
            v.push("channel", "is required");
        }
        references(&mut v, &input.references);
        if input.receive_time > now + CLOCK_SKEW_MICROS {
            v.push("receive_time", "must not be in the future");
        }
        let (Some(nature), Some(severity), Some(channel)) =
            (input.nature, input.severity, input.channel)
        else {
            return Err(RuleError::Invalid(v));
        };
        if !v.is_empty() {
            return Err(RuleError::Invalid(v));
        }
        let receive_time = if input.receive_time > 0 {
            input.receive_time.min(now)
        } else {
            now
        };
        let mut traits = input.traits;
        traits.sort();
        traits.dedup();
        let mut c = Complaint {
            id,
            customer_id: input.customer_id.trim().to_owned(),
            title: input.title.trim().to_owned(),
            description: input.description,
            customer_demand: input.customer_demand,
            nature,
            severity,
            channel,
            traits,
            state: State::Received,
            assigned_agent_id: String::new(),
            escalation_level: Level::Agent,
            customer,
            clocks: Vec::new(),
            solutions: Vec::new(),
            resolution: None,
            callbacks: Vec::new(),
            promises: Vec::new(),
            compensations: Vec::new(),
            escalations: Vec::new(),
            history: Vec::new(),
            reopen_count: 0,
            references: input.references,
            receive_time,
            created_by: actor.clone(),
            create_time: now,
            update_time: now,
            close_time: 0,
            visit_requested: false,
            version: 1,
            timeline_seq: 0,
            pending_entries: Vec::new(),
            pending_sla: Vec::new(),
            pending_outbox: Vec::new(),
            pending_guards: Vec::new(),
        };
        let transition = Transition {
            from: None,
            to: State::Received,
            actor: actor.clone(),
            time: now,
            reason: String::new(),
        };
        c.history.push(transition.clone());
        c.entry(
            &actor,
            now,
            "complaint received".into(),
            Details::StateChange(transition),
        );
        c.start_clock(ClockKind::FirstContact, receive_time, &actor, rules, now)?;
        c.start_clock(ClockKind::Resolution, receive_time, &actor, rules, now)?;
        c.sensitive_follow_up(rules, now);
        c.request_visit_if_due(now);
        Ok(c)
    }

    /// Opaque etag of this version.
    pub fn etag(&self) -> String {
        format!("v{}", self.version)
    }

    /// Priority: severity, one step up for a key account and one for a sensitive complainant.
    pub fn priority(&self) -> Priority {
        let mut p = match self.severity {
            Severity::Low | Severity::Medium => 1,
            Severity::High => 2,
            Severity::Critical => 3,
        };
        if self.customer.key_account {
            p += 1;
        }
        if self.is_sensitive() {
            p += 1;
        }
        Priority::from_number(p.min(3)).unwrap_or(Priority::Urgent)
    }

    /// True for a media, legal or social-background complainant.
    pub fn is_sensitive(&self) -> bool {
        self.traits.iter().any(|t| t.is_sensitive())
    }

    /// The facts the SLA policy selects on. A sensitive complainant counts as at least HIGH
    /// severity ("resolve fast"), and every trait is passed so a policy may name them.
    pub fn case(&self) -> Case {
        let severity = if self.is_sensitive() {
            self.severity.max(Severity::High)
        } else {
            self.severity
        };
        let mut case = Case::new()
            .tier(match self.customer.tier {
                Tier::A => csops_sla::Tier::A,
                Tier::B => csops_sla::Tier::B,
                Tier::C => csops_sla::Tier::C,
            })
            .key_account(self.customer.key_account)
            .region(match self.customer.region {
                Region::Urban => csops_sla::Region::Urban,
                Region::Rural => csops_sla::Region::Rural,
            })
            .severity(match severity {
                Severity::Low => csops_sla::Severity::Low,
                Severity::Medium => csops_sla::Severity::Medium,
                Severity::High => csops_sla::Severity::High,
                Severity::Critical => csops_sla::Severity::Critical,
            })
            .channel(self.channel.code());
        for t in &self.traits {
            case = case.with_trait(t.code());
        }
        case
    }

    /// Unreachable callbacks recorded since the latest resolution.
    fn unreachable_since_resolution(&self) -> u32 {
        let since = self.resolution.as_ref().map_or(0, |r| r.resolve_time);
        let n = self
            .callbacks
            .iter()
            .filter(|c| c.outcome == CallbackOutcome::Unreachable && c.time >= since)
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

    fn refuse(&self, action: &str, rules: &Rules) -> RuleError {
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

    fn move_to(&mut self, to: State, actor: &Actor, now: Micros, reason: &str) {
        let transition = Transition {
            from: Some(self.state),
            to,
            actor: actor.clone(),
            time: now,
            reason: reason.to_owned(),
        };
        let summary = format!("state {} -> {}", self.state.label(), to.label());
        self.state = to;
        if matches!(to, State::Closed | State::Withdrawn) {
            self.close_time = now;
        } else {
            self.close_time = 0;
        }
        self.history.push(transition.clone());
        self.entry(actor, now, summary, Details::StateChange(transition));
    }

    /// Marks the start of a change: a new version at `now`.
    pub fn touch(&mut self, now: Micros) {
        self.version += 1;
        self.update_time = now;
    }

    fn entry(&mut self, actor: &Actor, now: Micros, summary: String, details: Details) {
        self.timeline_seq += 1;
        self.pending_entries.push(Entry {
            id: new_id("tle"),
            complaint_id: self.id.clone(),
            sequence: self.timeline_seq,
            actor: actor.clone(),
            time: now,
            summary,
            details,
        });
    }

    /// Records an SLA event on the timeline and for watchers.
    #[allow(clippy::too_many_arguments)]
    fn sla_event(
        &mut self,
        actor: &Actor,
        now: Micros,
        clock: Option<usize>,
        kind: SlaEventKind,
        threshold_percent: i32,
        deadline: Micros,
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
        self.pending_sla.push(event.clone());
        self.entry(actor, now, summary, Details::Sla(event));
    }

    fn deadline(&self, i: usize, rules: &Rules, now: Micros) -> Micros {
        micros(rules.status(&self.clocks[i].clock, at(now)).deadline)
    }

    fn start_clock(
        &mut self,
        kind: ClockKind,
        start: Micros,
        actor: &Actor,
        rules: &Rules,
        now: Micros,
    ) -> Result<(), RuleError> {
        let clock = rules
            .policy
            .start(kind.promise(), &self.case(), at(start))
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

    fn open_clock(&self, kind: ClockKind) -> Option<usize> {
        self.clocks
            .iter()
            .rposition(|c| c.kind == kind && c.is_open())
    }

    /// Stops a clock at `when` (not before its latest event) and reports met or met late.
    fn stop_clock(&mut self, i: usize, when: Micros, actor: &Actor, rules: &Rules, now: Micros) {
        let clock = &mut self.clocks[i].clock;
        let when = at(when.max(micros(clock.started_at())));
        if clock.stop(when).is_err() {
            let _ = clock.stop(at(now));
        }
        let status = rules.status(&self.clocks[i].clock, at(now));
        let kind = if status.state == csops_sla::State::MetLate {
            SlaEventKind::MetLate
        } else {
            SlaEventKind::Met
        };
        if let Some(p) = self.clocks[i].pauses.last_mut() {
            if p.resumed_by.is_none() {
                p.resumed_by = Some(actor.clone());
            }
        }
        self.sla_event(
            actor,
            now,
            Some(i),
            kind,
            0,
            micros(status.deadline),
            None,
            "",
        );
    }

    fn cancel_clock(&mut self, i: usize, actor: &Actor, rules: &Rules, now: Micros) {
        if self.clocks[i].clock.cancel(at(now)).is_ok() {
            let deadline = self.deadline(i, rules, now);
            self.sla_event(
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

    /// A sensitive complainant is escalated to the first level of the chain at once.
    fn sensitive_follow_up(&mut self, rules: &Rules, now: Micros) {
        if !self.is_sensitive() || self.escalation_level != Level::Agent {
            return;
        }
        if let Some((to, owner)) = rules.chain.next(Level::Agent) {
            self.record_escalation(
                to,
                EscalationReason::SensitiveComplainant,
                "",
                "",
                owner,
                "media, legal or social-background complainant: escalated at once".into(),
                &Actor::system("complaints"),
                now,
            );
        }
    }

    /// VIP or sensitive complaint: ask the visits service once for an in-person visit.
    fn request_visit_if_due(&mut self, now: Micros) {
        if self.visit_requested {
            return;
        }
        let reason = if self.traits.contains(&Trait::Media) {
            "media"
        } else if self.traits.contains(&Trait::Legal) {
            "legal"
        } else if self.traits.contains(&Trait::SocialBackground) {
            "social_background"
        } else if self.customer.key_account && !self.customer.defaulted {
            "key_account"
        } else {
            return;
        };
        self.visit_requested = true;
        self.pending_outbox.push(OutboxEvent {
            id: new_id("obx"),
            event: Outgoing::RequestVisit {
                complaint_id: self.id.clone(),
                customer_id: self.customer_id.clone(),
                reason: reason.to_owned(),
                due_time: now + VISIT_WITHIN.num_microseconds().unwrap_or(0),
                assigned_agent_id: self.assigned_agent_id.clone(),
            },
        });
    }

    #[allow(clippy::too_many_arguments)]
    fn record_escalation(
        &mut self,
        to: Level,
        reason: EscalationReason,
        clock_id: &str,
        promise_id: &str,
        escalated_to_id: String,
        note: String,
        actor: &Actor,
        now: Micros,
    ) {
        let escalation = Escalation {
            from: self.escalation_level,
            to,
            reason,
            clock_id: clock_id.to_owned(),
            promise_id: promise_id.to_owned(),
            escalated_to_id,
            note,
            actor: actor.clone(),
            time: now,
        };
        let summary = format!(
            "escalated {} -> {} ({})",
            self.escalation_level.label(),
            to.label(),
            reason.label()
        );
        self.escalation_level = to;
        self.escalations.push(escalation.clone());
        self.entry(actor, now, summary, Details::Escalation(escalation));
    }

    /// RECEIVED -> ACKNOWLEDGED; stops the first-contact clock at the contact time.
    pub fn acknowledge(
        &mut self,
        note: &str,
        contact_time: Micros,
        actor: &Actor,
        rules: &Rules,
        now: Micros,
    ) -> Result<(), RuleError> {
        self.check_move(State::Acknowledged, "acknowledge", rules)?;
        let mut v = Violations::default();
        text(&mut v, "note", note, MAX_NOTE, false);
        if contact_time > now + CLOCK_SKEW_MICROS {
            v.push("contact_time", "must not be in the future");
        }
        if !v.is_empty() {
            return Err(RuleError::Invalid(v));
        }
        let when = if contact_time > 0 {
            contact_time.min(now)
        } else {
            now
        };
        self.touch(now);
        self.move_to(State::Acknowledged, actor, now, note);
        if let Some(i) = self.open_clock(ClockKind::FirstContact) {
            self.stop_clock(i, when, actor, rules, now);
        }
        Ok(())
    }

    /// ACKNOWLEDGED or REOPENED -> INVESTIGATING.
    pub fn start_investigation(
        &mut self,
        note: &str,
        actor: &Actor,
        rules: &Rules,
        now: Micros,
    ) -> Result<(), RuleError> {
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
        self.move_to(State::Investigating, actor, now, note);
        Ok(())
    }

    /// INVESTIGATING or REOPENED -> SOLUTION_PROPOSED with measures and a time plan.
    pub fn propose_solution(
        &mut self,
        measures: Vec<String>,
        plan: Vec<PlanStep>,
        actor: &Actor,
        rules: &Rules,
        now: Micros,
    ) -> Result<(), RuleError> {
        self.check_move(State::SolutionProposed, "propose a solution", rules)?;
        let mut v = Violations::default();
        if measures.is_empty() {
            v.push("measures", "at least one concrete measure is required");
        }
        for (i, m) in measures.iter().enumerate() {
            text(&mut v, &format!("measures[{i}]"), m, MAX_SHORT_NOTE, true);
        }
        if plan.is_empty() {
            v.push("plan", "at least one step with a due time is required");
        }
        for (i, s) in plan.iter().enumerate() {
            text(
                &mut v,
                &format!("plan[{i}].description"),
                &s.description,
                MAX_SHORT_NOTE,
                true,
            );
            if s.due_time <= 0 {
                v.push(format!("plan[{i}].due_time"), "is required");
            }
        }
        if !v.is_empty() {
            return Err(RuleError::Invalid(v));
        }
        self.touch(now);
        let id = format!("solution-{}", self.solutions.len() + 1);
        self.solutions.push(Solution {
            id: id.clone(),
            measures,
            plan,
            proposed_by: actor.clone(),
            propose_time: now,
            decision: Decision::Pending,
            decide_time: 0,
            customer_comment: String::new(),
        });
        self.move_to(State::SolutionProposed, actor, now, &id);
        Ok(())
    }

    /// SOLUTION_PROPOSED -> SOLUTION_ACCEPTED (accept) or INVESTIGATING (reject).
    pub fn decide_solution(
        &mut self,
        accept: bool,
        comment: &str,
        actor: &Actor,
        rules: &Rules,
        now: Micros,
    ) -> Result<(), RuleError> {
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
        if let Some(s) = self.solutions.last_mut() {
            s.decision = if accept {
                Decision::Accepted
            } else {
                Decision::Rejected
            };
            s.decide_time = now;
            s.customer_comment = comment.to_owned();
        }
        self.move_to(to, actor, now, comment);
        Ok(())
    }

    /// SOLUTION_ACCEPTED -> RESOLVED: stops the resolution (or callback-fix) clock, keeps the
    /// resolution record, starts the callback clock and asks feedback to schedule the callback.
    pub fn resolve(
        &mut self,
        input: ResolutionInput,
        actor: &Actor,
        rules: &Rules,
        now: Micros,
    ) -> Result<(), RuleError> {
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
        if !v.is_empty() {
            return Err(RuleError::Invalid(v));
        }
        self.touch(now);
        self.resolution = Some(Resolution {
            summary: input.summary,
            root_cause: input.root_cause,
            corrective_action: input.corrective_action,
            lesson_learned: input.lesson_learned,
            company_at_fault: input.company_at_fault,
            resolved_by: actor.clone(),
            resolve_time: now,
        });
        self.move_to(State::Resolved, actor, now, "");
        let running = self
            .open_clock(ClockKind::CallbackFix)
            .or_else(|| self.open_clock(ClockKind::Resolution));
        if let Some(i) = running {
            self.stop_clock(i, now, actor, rules, now);
        }
        self.start_clock(ClockKind::Callback, now, actor, rules, now)?;
        self.pending_outbox.push(OutboxEvent {
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
        Ok(())
    }

    /// Records a callback outcome in RESOLVED: SATISFIED -> CALLBACK_DONE, UNSATISFIED ->
    /// REOPENED (callback-fix clock), UNREACHABLE keeps the state.
    #[allow(clippy::too_many_arguments)]
    pub fn record_callback(
        &mut self,
        outcome: CallbackOutcome,
        notes: &str,
        time: Micros,
        feedback_callback_id: &str,
        actor: &Actor,
        rules: &Rules,
        now: Micros,
    ) -> Result<(), RuleError> {
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
        if time > now + CLOCK_SKEW_MICROS {
            v.push("callback_time", "must not be in the future");
        }
        if !v.is_empty() {
            return Err(RuleError::Invalid(v));
        }
        let time = if time > 0 { time.min(now) } else { now };
        self.touch(now);
        let attempt = CallbackAttempt {
            outcome,
            notes: notes.to_owned(),
            actor: actor.clone(),
            time,
            feedback_callback_id: feedback_callback_id.to_owned(),
        };
        self.callbacks.push(attempt.clone());
        self.entry(
            actor,
            now,
            format!("callback {}", outcome.label()),
            Details::Callback(attempt),
        );
        match outcome {
            CallbackOutcome::Unreachable => {}
            CallbackOutcome::Satisfied => {
                self.move_to(State::CallbackDone, actor, now, notes);
                if let Some(i) = self.open_clock(ClockKind::Callback) {
                    self.stop_clock(i, time, actor, rules, now);
                }
            }
            CallbackOutcome::Unsatisfied => {
                self.reopen_inner(
                    ReopenReason::CallbackFinding,
                    notes,
                    time,
                    actor,
                    rules,
                    now,
                )?;
            }
        }
        Ok(())
    }

    fn reopen_inner(
        &mut self,
        reason: ReopenReason,
        note: &str,
        time: Micros,
        actor: &Actor,
        rules: &Rules,
        now: Micros,
    ) -> Result<(), RuleError> {
        self.reopen_count += 1;
        self.move_to(
            State::Reopened,
            actor,
            now,
            &format!("{}: {note}", reason.code()),
        );
        // The callback reached the customer (and found a problem): that promise was kept.
        if let Some(i) = self.open_clock(ClockKind::Callback) {
            self.stop_clock(i, time, actor, rules, now);
        }
        self.start_clock(ClockKind::CallbackFix, now, actor, rules, now)
    }

    /// CALLBACK_DONE -> CLOSED, or RESOLVED -> CLOSED after the configured unreachable
    /// callbacks (the callback clock is then cancelled).
    pub fn close(
        &mut self,
        note: &str,
        actor: &Actor,
        rules: &Rules,
        now: Micros,
    ) -> Result<(), RuleError> {
        self.check_move(State::Closed, "close", rules)?;
        let mut v = Violations::default();
        text(&mut v, "note", note, MAX_NOTE, false);
        if !v.is_empty() {
            return Err(RuleError::Invalid(v));
        }
        self.touch(now);
        self.move_to(State::Closed, actor, now, note);
        if let Some(i) = self.open_clock(ClockKind::Callback) {
            self.cancel_clock(i, actor, rules, now);
        }
        Ok(())
    }

    /// RESOLVED, CALLBACK_DONE or CLOSED -> REOPENED; starts the 2-day callback-fix clock.
    pub fn reopen(
        &mut self,
        reason: Option<ReopenReason>,
        note: &str,
        actor: &Actor,
        rules: &Rules,
        now: Micros,
    ) -> Result<(), RuleError> {
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
        self.reopen_inner(reason, note, now, actor, rules, now)
    }

    /// Any state before RESOLVED, or REOPENED -> WITHDRAWN: clocks and open promises cancelled.
    pub fn withdraw(
        &mut self,
        reason: &str,
        actor: &Actor,
        rules: &Rules,
        now: Micros,
    ) -> Result<(), RuleError> {
        self.check_move(State::Withdrawn, "withdraw", rules)?;
        let mut v = Violations::default();
        text(&mut v, "reason", reason, MAX_NOTE, true);
        if !v.is_empty() {
            return Err(RuleError::Invalid(v));
        }
        self.touch(now);
        self.move_to(State::Withdrawn, actor, now, reason);
        for i in 0..self.clocks.len() {
            if self.clocks[i].is_open() {
                self.cancel_clock(i, actor, rules, now);
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
                    actor,
                    now,
                    format!("promise {} cancelled", p.id),
                    Details::Promise(p),
                );
            }
        }
        Ok(())
    }

    fn ensure_not_final(&self, action: &str, rules: &Rules) -> Result<(), RuleError> {
        if self.state == State::Withdrawn {
            Err(self.refuse(action, rules))
        } else {
            Ok(())
        }
    }

    /// Escalates by hand to a higher level.
    #[allow(clippy::too_many_arguments)]
    pub fn escalate(
        &mut self,
        to: Option<Level>,
        reason: Option<EscalationReason>,
        escalated_to_id: &str,
        note: &str,
        actor: &Actor,
        rules: &Rules,
        now: Micros,
    ) -> Result<(), RuleError> {
        self.ensure_not_final("escalate", rules)?;
        let mut v = Violations::default();
        match to {
            None => v.push("to_level", "is required"),
            Some(l) if l <= self.escalation_level => v.push(
                "to_level",
                format!(
                    "must be above the current level {}",
                    self.escalation_level.label()
                ),
            ),
            Some(_) => {}
        }
        if reason.is_none() {
            v.push("reason", "is required");
        }
        text(&mut v, "note", note, MAX_NOTE, false);
        let (Some(to), Some(reason)) = (to, reason) else {
            return Err(RuleError::Invalid(v));
        };
        if !v.is_empty() {
            return Err(RuleError::Invalid(v));
        }
        self.touch(now);
        let owner = if escalated_to_id.trim().is_empty() {
            rules.chain.owner(to)
        } else {
            escalated_to_id.trim().to_owned()
        };
        self.record_escalation(to, reason, "", "", owner, note.to_owned(), actor, now);
        Ok(())
    }

    /// Assigns the complaint to an agent.
    pub fn assign(
        &mut self,
        agent_id: &str,
        reason: &str,
        actor: &Actor,
        rules: &Rules,
        now: Micros,
    ) -> Result<(), RuleError> {
        self.ensure_not_final("assign", rules)?;
        let mut v = Violations::default();
        text(&mut v, "agent_id", agent_id, 100, true);
        text(&mut v, "reason", reason, MAX_SHORT_NOTE, false);
        if !v.is_empty() {
            return Err(RuleError::Invalid(v));
        }
        self.touch(now);
        let previous = std::mem::replace(&mut self.assigned_agent_id, agent_id.trim().to_owned());
        self.entry(
            actor,
            now,
            format!("assigned to {}", agent_id.trim()),
            Details::Assignment {
                previous_agent_id: previous,
                agent_id: agent_id.trim().to_owned(),
                reason: reason.to_owned(),
            },
        );
        Ok(())
    }

    /// Pauses the running pausable clocks (resolution, callback fix).
    pub fn pause(
        &mut self,
        reason: Option<PauseReason>,
        note: &str,
        actor: &Actor,
        rules: &Rules,
        now: Micros,
    ) -> Result<(), RuleError> {
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
        for i in targets {
            let sla_reason = match reason {
                PauseReason::WaitingOnCustomer => csops_sla::PauseReason::WaitingOnCustomer,
                PauseReason::ExternalDelay => csops_sla::PauseReason::ExternalDelay,
            };
            if self.clocks[i].clock.pause(at(now), sla_reason).is_ok() {
                self.clocks[i].pauses.push(PauseNote {
                    reason,
                    note: note.to_owned(),
                    paused_by: actor.clone(),
                    resumed_by: None,
                });
                let deadline = self.deadline(i, rules, now);
                self.sla_event(
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
        Ok(())
    }

    /// Resumes paused clocks; their deadlines move out by the paused working time.
    pub fn resume(
        &mut self,
        note: &str,
        actor: &Actor,
        rules: &Rules,
        now: Micros,
    ) -> Result<(), RuleError> {
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
        for i in targets {
            if self.clocks[i].clock.resume(at(now)).is_ok() {
                if let Some(p) = self.clocks[i].pauses.last_mut() {
                    p.resumed_by = Some(actor.clone());
                }
                let deadline = self.deadline(i, rules, now);
                self.sla_event(
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
        Ok(())
    }

    /// Applies the masked fields; severity, channel or traits re-evaluate the clocks.
    pub fn update(
        &mut self,
        patch: Patch,
        paths: Vec<String>,
        actor: &Actor,
        rules: &Rules,
        now: Micros,
    ) -> Result<(), RuleError> {
        self.ensure_not_final("update", rules)?;
        let mut v = Violations::default();
        if let Some(t) = &patch.title {
            text(&mut v, "title", t, MAX_TITLE, true);
        }
        if let Some(t) = &patch.description {
            text(&mut v, "description", t, MAX_DESCRIPTION, false);
        }
        if let Some(t) = &patch.customer_demand {
            text(&mut v, "customer_demand", t, MAX_DEMAND, false);
        }
        if let Some(r) = &patch.references {
            references(&mut v, r);
        }
        if let Some(t) = &patch.lesson_learned {
            if self.resolution.is_none() {
                v.push(
                    "resolution.lesson_learned",
                    "the complaint has no resolution yet",
                );
            }
            text(&mut v, "resolution.lesson_learned", t, MAX_NOTE, false);
        }
        if !v.is_empty() {
            return Err(RuleError::Invalid(v));
        }
        self.touch(now);
        let Patch {
            title,
            description,
            customer_demand,
            nature,
            severity,
            channel,
            traits,
            references,
            lesson_learned,
        } = patch;
        let mut retarget = false;
        if let Some(t) = title {
            self.title = t.trim().to_owned();
        }
        if let Some(t) = description {
            self.description = t;
        }
        if let Some(t) = customer_demand {
            self.customer_demand = t;
        }
        if let Some(n) = nature {
            self.nature = n;
        }
        if let Some(s) = severity {
            retarget |= s != self.severity;
            self.severity = s;
        }
        if let Some(c) = channel {
            retarget |= c != self.channel;
            self.channel = c;
        }
        if let Some(mut t) = traits {
            t.sort();
            t.dedup();
            retarget |= t != self.traits;
            self.traits = t;
        }
        if let Some(r) = references {
            self.references = r;
        }
        if let (Some(l), Some(r)) = (lesson_learned, self.resolution.as_mut()) {
            r.lesson_learned = l;
        }
        self.entry(
            actor,
            now,
            format!("updated {}", paths.join(", ")),
            Details::Update {
                changed_fields: paths,
            },
        );
        if retarget {
            self.retarget_clocks(actor, rules, now)?;
            self.sensitive_follow_up(rules, now);
            self.request_visit_if_due(now);
        }
        Ok(())
    }

    /// Re-selects the target of every open clock for the current facts; reports changes.
    fn retarget_clocks(
        &mut self,
        actor: &Actor,
        rules: &Rules,
        now: Micros,
    ) -> Result<(), RuleError> {
        let case = self.case();
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
                let status = rules.status(&self.clocks[i].clock, at(now));
                self.clocks[i]
                    .reported
                    .retain(|m| status.reached.contains(m));
                if after != before {
                    self.sla_event(
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
        now: Micros,
    ) -> Result<(), RuleError> {
        let actor = Actor::system("customer-reevaluation");
        self.touch(now);
        self.customer = snapshot;
        self.entry(
            &actor,
            now,
            "customer facts re-read from the customers service".into(),
            Details::Update {
                changed_fields: vec!["customer".into()],
            },
        );
        self.retarget_clocks(&actor, rules, now)?;
        self.request_visit_if_due(now);
        Ok(())
    }

    /// Appends a note.
    pub fn add_note(&mut self, text_: &str, actor: &Actor, now: Micros) -> Result<(), RuleError> {
        let mut v = Violations::default();
        text(&mut v, "text", text_, MAX_NOTE, true);
        if !v.is_empty() {
            return Err(RuleError::Invalid(v));
        }
        self.touch(now);
        self.entry(
            actor,
            now,
            "note".into(),
            Details::Note {
                text: text_.to_owned(),
            },
        );
        Ok(())
    }

    /// Appends a call.
    pub fn record_call(
        &mut self,
        call: Option<Call>,
        actor: &Actor,
        now: Micros,
    ) -> Result<(), RuleError> {
        let Some(call) = call else {
            return Err(RuleError::invalid(
                "call",
                "direction and start_time are required",
            ));
        };
        let mut v = Violations::default();
        if call.start_time <= 0 {
            v.push("call.start_time", "is required");
        }
        if call.duration < 0 {
            v.push("call.duration", "must not be negative");
        }
        text(&mut v, "call.summary", &call.summary, MAX_NOTE, false);
        if !v.is_empty() {
            return Err(RuleError::Invalid(v));
        }
        self.touch(now);
        let summary = format!(
            "{} call{}",
            call.direction.code(),
            if call.reached { "" } else { " (not reached)" }
        );
        self.entry(actor, now, summary, Details::Call(call));
        Ok(())
    }

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
        due_time: Micros,
        actor: &Actor,
        rules: &Rules,
        now: Micros,
    ) -> Result<String, RuleError> {
        if matches!(self.state, State::Withdrawn | State::Closed) {
            return Err(self.refuse("make a promise", rules));
        }
        let mut v = Violations::default();
        text(&mut v, "description", description, MAX_SHORT_NOTE, true);
        if due_time <= now {
            v.push("due_time", "is required and must be in the future");
        }
        if !v.is_empty() {
            return Err(RuleError::Invalid(v));
        }
        self.touch(now);
        let promise = Promise {
            id: new_id("prm"),
            description: description.to_owned(),
            due_time,
            promised_by: actor.clone(),
            make_time: now,
            state: PromiseState::Open,
            keep_time: 0,
            kept_by: None,
            changes: Vec::new(),
        };
        self.promises.push(promise.clone());
        let id = promise.id.clone();
        self.entry(
            actor,
            now,
            format!("promise {id} made"),
            Details::Promise(promise),
        );
        Ok(id)
    }

    /// Marks a promise kept (KEPT_LATE when past due).
    pub fn keep_promise(
        &mut self,
        id: &str,
        note: &str,
        actor: &Actor,
        now: Micros,
    ) -> Result<(), RuleError> {
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
        p.keep_time = now;
        p.kept_by = Some(actor.clone());
        let p = p.clone();
        self.entry(
            actor,
            now,
            format!("promise {id} {}", p.state.label()),
            Details::Promise(p),
        );
        Ok(())
    }

    /// Moves a promise's due time with the customer's consent.
    #[allow(clippy::too_many_arguments)]
    pub fn reschedule_promise(
        &mut self,
        id: &str,
        new_due: Micros,
        reason: &str,
        consent: &str,
        actor: &Actor,
        now: Micros,
    ) -> Result<(), RuleError> {
        let i = self.promise_index(id)?;
        let mut v = Violations::default();
        if new_due <= now {
            v.push("new_due_time", "is required and must be in the future");
        }
        text(&mut v, "reason", reason, MAX_SHORT_NOTE, true);
        text(&mut v, "customer_consent", consent, MAX_SHORT_NOTE, true);
        if !v.is_empty() {
            return Err(RuleError::Invalid(v));
        }
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
        let p = p.clone();
        self.entry(
            actor,
            now,
            format!("promise {id} rescheduled"),
            Details::Promise(p),
        );
        Ok(())
    }

    fn compensation_index(&self, id: &str) -> Result<usize, RuleError> {
        self.compensations
            .iter()
            .position(|c| c.id == id)
            .ok_or_else(|| {
                RuleError::NotFound(format!("complaint {} has no compensation {id}", self.id))
            })
    }

    /// Proposes a compensation: approved at once within the proposer's authority, else pending.
    #[allow(clippy::too_many_arguments)]
    pub fn propose_compensation(
        &mut self,
        kind: Option<CompensationKind>,
        description: &str,
        amount_minor: i64,
        currency_code: &str,
        actor: &Actor,
        rules: &Rules,
        now: Micros,
    ) -> Result<String, RuleError> {
        self.ensure_not_final("propose a compensation", rules)?;
        let mut v = Violations::default();
        if kind.is_none() {
            v.push("kind", "is required");
        }
        text(&mut v, "description", description, MAX_SHORT_NOTE, true);
        if amount_minor < 0 {
            v.push("amount_minor", "must be >= 0");
        }
        if currency_code.len() != 3 || !currency_code.chars().all(|c| c.is_ascii_uppercase()) {
            v.push("currency_code", "must be an ISO 4217 code such as CNY");
        }
        let Some(kind) = kind.filter(|_| v.is_empty()) else {
            return Err(RuleError::Invalid(v));
        };
        self.touch(now);
        let limit = rules.authority.limit(actor.role);
        let approval_required = amount_minor > limit;
        let compensation = Compensation {
            id: new_id("cps"),
            kind,
            description: description.to_owned(),
            amount_minor,
            currency_code: currency_code.to_owned(),
            state: if approval_required {
                CompensationState::PendingApproval
            } else {
                CompensationState::Approved
            },
            authority_limit_minor: limit,
            approval_required,
            proposed_by: actor.clone(),
            propose_time: now,
            decided_by: (!approval_required).then(|| actor.clone()),
            decide_time: if approval_required { 0 } else { now },
            decision_note: String::new(),
        };
        let id = compensation.id.clone();
        self.compensations.push(compensation.clone());
        self.entry(
            actor,
            now,
            format!("compensation {id} {}", compensation.state.label()),
            Details::Compensation(compensation),
        );
        Ok(id)
    }

    /// Approves or rejects a pending compensation.
    pub fn decide_compensation(
        &mut self,
        id: &str,
        approve: bool,
        note: &str,
        actor: &Actor,
        rules: &Rules,
        now: Micros,
    ) -> Result<(), RuleError> {
        let i = self.compensation_index(id)?;
        let mut v = Violations::default();
        text(&mut v, "note", note, MAX_SHORT_NOTE, !approve);
        if !v.is_empty() {
            return Err(RuleError::Invalid(v));
        }
        let c = &self.compensations[i];
        if c.state != CompensationState::PendingApproval {
            return Err(RuleError::Precondition(format!(
                "compensation {id} is {}; only a PENDING_APPROVAL one can be decided",
                c.state.label()
            )));
        }
        if !matches!(actor.role, Role::Supervisor | Role::Manager) {
            return Err(RuleError::PermissionDenied(format!(
                "only a supervisor or manager may decide compensation {id}; the actor is {}",
                actor.role.label()
            )));
        }
        let limit = rules.authority.limit(actor.role);
        if approve && c.amount_minor > limit {
            return Err(RuleError::PermissionDenied(format!(
                "compensation {id} of {} {} exceeds the {} authority limit of {limit}",
                c.amount_minor,
                c.currency_code,
                actor.role.label()
            )));
        }
        self.touch(now);
        let c = &mut self.compensations[i];
        c.state = if approve {
            CompensationState::Approved
        } else {
            CompensationState::Rejected
        };
        c.decided_by = Some(actor.clone());
        c.decide_time = now;
        c.decision_note = note.to_owned();
        let c = c.clone();
        self.entry(
            actor,
            now,
            format!("compensation {id} {}", c.state.label()),
            Details::Compensation(c),
        );
        Ok(())
    }

    /// The breach watcher's step: announces new warning thresholds and breaches once, breaks
    /// overdue promises, and escalates each breach or broken promise one level up the chain.
    /// Returns true when something changed (the caller then saves).
    pub fn tick(&mut self, rules: &Rules, now: Micros) -> bool {
        let actor = Actor::system("sla-watcher");
        let mut changed = false;
        for i in 0..self.clocks.len() {
            if !self.clocks[i].is_open() {
                continue;
            }
            let status = rules.status(&self.clocks[i].clock, at(now));
            for m in status.unreported(&self.clocks[i].reported) {
                if !changed {
                    self.touch(now);
                    changed = true;
                }
                self.clocks[i].reported.push(m);
                let deadline = micros(status.deadline);
                match m {
                    Milestone::Threshold(p) => {
                        self.sla_event(
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
                            &actor,
                            now,
                            Some(i),
                            SlaEventKind::Breached,
                            0,
                            deadline,
                            None,
                            "",
                        );
                        let id = self.clocks[i].id.clone();
                        self.escalate_for(
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
                &actor,
                now,
                format!("promise {} BROKEN", p.id),
                Details::Promise(p.clone()),
            );
            self.sla_event(
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
                "",
                &p.id,
                EscalationReason::PromiseBroken,
                p.due_time,
                &actor,
                rules,
                now,
            );
        }
        changed
    }

    #[allow(clippy::too_many_arguments)]
    fn escalate_for(
        &mut self,
        clock_id: &str,
        promise_id: &str,
        reason: EscalationReason,
        deadline: Micros,
        actor: &Actor,
        rules: &Rules,
        now: Micros,
    ) {
        let Some((to, owner)) = rules.chain.next(self.escalation_level) else {
            return;
        };
        let subject = if clock_id.is_empty() {
            format!("promise:{promise_id}")
        } else {
            format!("clock:{clock_id}")
        };
        self.pending_guards.push((subject, to));
        self.record_escalation(
            to,
            reason,
            clock_id,
            promise_id,
            owner,
            String::new(),
            actor,
            now,
        );
        let clock = self
            .clocks
            .iter()
            .position(|c| c.id == clock_id && !clock_id.is_empty());
        self.sla_event(
            actor,
            now,
            clock,
            SlaEventKind::Escalated,
            0,
            deadline,
            Some(to),
            promise_id,
        );
    }

    /// When the watcher must look at this complaint again (0: never, until something changes).
    pub fn next_check(&self, rules: &Rules, now: Micros) -> Micros {
        let clocks = self
            .clocks
            .iter()
            .filter(|c| c.is_open())
            .filter_map(|c| rules.status(&c.clock, at(now)).next_change.map(micros));
        let promises = self
            .promises
            .iter()
            .filter(|p| p.state == PromiseState::Open)
            .map(|p| p.due_time + 1);
        clocks.chain(promises).min().unwrap_or(0)
    }

    /// The SLA state of the open clocks at `now`.
    pub fn sla_state(&self, rules: &Rules, now: Micros) -> SlaState {
        let mut state = SlaState::OnTrack;
        for c in self.clocks.iter().filter(|c| c.is_open()) {
            let status = rules.status(&c.clock, at(now));
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

    /// Clears the pending changes once written.
    pub fn take_pending(&mut self) -> Pending {
        (
            std::mem::take(&mut self.pending_entries),
            std::mem::take(&mut self.pending_sla),
            std::mem::take(&mut self.pending_outbox),
            std::mem::take(&mut self.pending_guards),
        )
    }
}

#[cfg(test)]
#[path = "complaint_tests.rs"]
mod tests;
