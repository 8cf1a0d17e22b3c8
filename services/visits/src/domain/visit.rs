//! One visit: friendly care, never a sales call (there is no sales purpose). Its state
//! machine: PLANNED → SCHEDULED (a time agreed with the customer; moving it is a new
//! agreement) → IN_PROGRESS → COMPLETED, or MISSED (with a reason; still completable, late),
//! or CANCELLED (with a reason).

use chrono::{DateTime, Utc};
use csops_runtime::time::{serde_micros, serde_micros_opt};
use serde::{Deserialize, Serialize};

use super::{coded, Actor, Gift, Method, RuleError};

/// Longest description or follow-up, in characters.
pub const MAX_DESCRIPTION: usize = 2000;
/// Longest notes or outcome summary, in characters.
pub const MAX_NOTES: usize = 4000;
/// Longest reason, in characters.
pub const MAX_REASON: usize = 1000;
/// Most needs found on one visit.
pub const MAX_NEEDS: usize = 50;
/// Longest need, in characters.
pub const MAX_NEED: usize = 500;

coded! {
    /// Where a visit is.
    pub enum VisitState {
        /// Due; no time agreed yet.
        Planned = "planned",
        /// A time is agreed with the customer.
        Scheduled = "scheduled",
        /// Under way.
        InProgress = "in_progress",
        /// It took place.
        Completed = "completed",
        /// It did not take place.
        Missed = "missed",
        /// It will not take place.
        Cancelled = "cancelled",
    }
}

impl VisitState {
    /// The states a visit may go to next.
    pub fn next(self) -> &'static [VisitState] {
        use VisitState::*;
        match self {
            Planned => &[Scheduled, Completed, Missed, Cancelled],
            Scheduled => &[Scheduled, InProgress, Completed, Missed, Cancelled],
            InProgress => &[Completed, Missed, Cancelled],
            Missed => &[Completed],
            Completed | Cancelled => &[],
        }
    }

    /// True while the visit still has to take place.
    pub fn is_open(self) -> bool {
        matches!(
            self,
            VisitState::Planned | VisitState::Scheduled | VisitState::InProgress
        )
    }
}

coded! {
    /// Scheduled (定期) or unscheduled (非定期) care.
    pub enum CareKind {
        /// Plan visits, holidays, birthdays, anniversaries.
        Scheduled = "scheduled",
        /// Useful information, ad-hoc visits, greetings, events, small gifts.
        Unscheduled = "unscheduled",
    }
}

coded! {
    /// Why a visit is made; deliberately no sales purpose.
    pub enum Purpose {
        /// Keep the relationship warm.
        Relationship = "relationship",
        /// Greet on an occasion.
        CareGreeting = "care_greeting",
        /// Learn the customer's needs.
        NeedsSurvey = "needs_survey",
        /// Check satisfaction.
        SatisfactionCheck = "satisfaction_check",
        /// Share useful information.
        Information = "information",
        /// Invite to or hold an event.
        Event = "event",
        /// In person after a complaint.
        ComplaintFollowUp = "complaint_follow_up",
    }
}

coded! {
    /// What created a visit.
    pub enum SourceKind {
        /// The plan's cadence.
        Plan = "plan",
        /// A care event.
        CareEvent = "care_event",
        /// A complaint.
        Complaint = "complaint",
        /// By hand.
        Manual = "manual",
    }
}

/// What created a visit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Source {
    /// The kind of origin.
    pub kind: SourceKind,
    /// The care event or complaint id; empty otherwise.
    pub source_id: String,
    /// For complaints: the sender's event id.
    pub source_event_id: String,
}

coded! {
    /// How the customer seemed.
    pub enum Mood {
        /// Pleased.
        Positive = "positive",
        /// Neither.
        Neutral = "neutral",
        /// Unhappy.
        Negative = "negative",
    }
}

/// What happened on a completed visit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Outcome {
    /// When it took place.
    #[serde(with = "serde_micros")]
    pub visit_time: DateTime<Utc>,
    /// Who made it.
    pub performed_by: Actor,
    /// The method used.
    pub method: Method,
    /// Summary.
    pub summary: String,
    /// Needs found (DOMAIN §2, step 2).
    pub needs_found: Vec<String>,
    /// Mood.
    pub mood: Option<Mood>,
    /// True when a follow-up is needed.
    pub follow_up_needed: bool,
    /// What happens next and who does it.
    pub follow_up: String,
}

/// A visit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Visit {
    /// `vst_…`.
    pub id: String,
    /// The customer.
    pub customer_id: String,
    /// The plan; empty outside a plan.
    pub plan_id: String,
    /// Scheduled or unscheduled care.
    pub care_kind: CareKind,
    /// Why.
    pub purpose: Purpose,
    /// How.
    pub method: Method,
    /// What is given, for gifts.
    pub gift: Option<Gift>,
    /// What it is for.
    pub description: String,
    /// What created it.
    pub source: Source,
    /// Who makes it.
    pub assigned_agent_id: String,
    /// Where it is.
    pub state: VisitState,
    /// When it is due.
    #[serde(with = "serde_micros")]
    pub due_time: DateTime<Utc>,
    /// The agreed time.
    #[serde(with = "serde_micros_opt")]
    pub scheduled_start_time: Option<DateTime<Utc>>,
    /// End of the agreed time.
    #[serde(with = "serde_micros_opt")]
    pub scheduled_end_time: Option<DateTime<Utc>>,
    /// What happened.
    pub outcome: Option<Outcome>,
    /// Why it was cancelled.
    pub cancel_reason: String,
    /// Why it was missed.
    pub miss_reason: String,
    /// Notes.
    pub notes: String,
    /// Who created it.
    pub created_by: Actor,
    /// Created.
    #[serde(with = "serde_micros")]
    pub create_time: DateTime<Utc>,
    /// Last changed.
    #[serde(with = "serde_micros")]
    pub update_time: DateTime<Utc>,
    /// Optimistic-concurrency version.
    pub version: i64,
}

/// The fields of a new visit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewVisit {
    /// The customer.
    pub customer_id: String,
    /// The plan, if any.
    pub plan_id: String,
    /// Scheduled or unscheduled care.
    pub care_kind: CareKind,
    /// Why.
    pub purpose: Purpose,
    /// How.
    pub method: Method,
    /// Gift, if any.
    pub gift: Option<Gift>,
    /// What for.
    pub description: String,
    /// Origin.
    pub source: Source,
    /// Who makes it.
    pub assigned_agent_id: String,
    /// Due.
    pub due_time: DateTime<Utc>,
    /// Notes.
    pub notes: String,
}

impl Visit {
    /// A new PLANNED visit.
    pub fn new(id: String, input: NewVisit, created_by: Actor, now: DateTime<Utc>) -> Self {
        let NewVisit {
            customer_id,
            plan_id,
            care_kind,
            purpose,
            method,
            gift,
            description,
            source,
            assigned_agent_id,
            due_time,
            notes,
        } = input;
        Self {
            id,
            customer_id,
            plan_id,
            care_kind,
            purpose,
            method,
            gift,
            description,
            source,
            assigned_agent_id,
            state: VisitState::Planned,
            due_time,
            scheduled_start_time: None,
            scheduled_end_time: None,
            outcome: None,
            cancel_reason: String::new(),
            miss_reason: String::new(),
            notes,
            created_by,
            create_time: now,
            update_time: now,
            version: 1,
        }
    }

    fn to(&mut self, next: VisitState, now: DateTime<Utc>) -> Result<(), RuleError> {
        if !self.state.next().contains(&next) {
            let allowed: Vec<_> = self.state.next().iter().map(|s| s.code()).collect();
            return Err(RuleError::Precondition(format!(
                "visit {} is {}; it can go to {} but not {}",
                self.id,
                self.state.code(),
                if allowed.is_empty() {
                    "no other state".to_owned()
                } else {
                    allowed.join(", ")
                },
                next.code()
            )));
        }
        self.state = next;
        self.update_time = now;
        Ok(())
    }

    /// Fixes (or moves) the time agreed with the customer.
    pub fn schedule(
        &mut self,
        start: DateTime<Utc>,
        end: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<(), RuleError> {
        if end <= start {
            return Err(RuleError::invalid("end_time", "must be after start_time"));
        }
        if end - start > chrono::TimeDelta::hours(12) {
            return Err(RuleError::invalid(
                "end_time",
                "a visit lasts at most 12 hours",
            ));
        }
        self.to(VisitState::Scheduled, now)?;
        self.scheduled_start_time = Some(start);
        self.scheduled_end_time = Some(end);
        Ok(())
    }

    /// The visitor is with the customer.
    pub fn start(&mut self, now: DateTime<Utc>) -> Result<(), RuleError> {
        self.to(VisitState::InProgress, now)
    }

    /// The visit took place.
    pub fn complete(&mut self, outcome: Outcome, now: DateTime<Utc>) -> Result<(), RuleError> {
        if outcome.follow_up_needed && outcome.follow_up.trim().is_empty() {
            return Err(RuleError::invalid(
                "outcome.follow_up",
                "is required when follow_up_needed: say what happens next and who does it",
            ));
        }
        if outcome.visit_time > now + chrono::TimeDelta::minutes(5) {
            return Err(RuleError::invalid(
                "outcome.visit_time",
                "must not be in the future",
            ));
        }
        self.to(VisitState::Completed, now)?;
        self.outcome = Some(outcome);
        Ok(())
    }

    /// The visit did not take place.
    pub fn miss(&mut self, reason: String, now: DateTime<Utc>) -> Result<(), RuleError> {
        self.to(VisitState::Missed, now)?;
        self.miss_reason = reason;
        Ok(())
    }

    /// The visit will not take place.
    pub fn cancel(&mut self, reason: String, now: DateTime<Utc>) -> Result<(), RuleError> {
        self.to(VisitState::Cancelled, now)?;
        self.cancel_reason = reason;
        Ok(())
    }

    /// True when the visit is in person.
    pub fn in_person(&self) -> bool {
        self.method == Method::InPerson
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use chrono::TimeZone;

    fn visit() -> Visit {
        let now = Utc.with_ymd_and_hms(2026, 11, 2, 2, 0, 0).unwrap();
        Visit::new(
            "vst_1".into(),
            NewVisit {
                customer_id: "cus_1".into(),
                plan_id: String::new(),
                care_kind: CareKind::Unscheduled,
                purpose: Purpose::Information,
                method: Method::Phone,
                gift: None,
                description: String::new(),
                source: Source {
                    kind: SourceKind::Manual,
                    source_id: String::new(),
                    source_event_id: String::new(),
                },
                assigned_agent_id: "agent-1".into(),
                due_time: now + chrono::TimeDelta::days(1),
                notes: String::new(),
            },
            Actor::system(),
            now,
        )
    }

    fn outcome(follow_up_needed: bool, follow_up: &str) -> Outcome {
        Outcome {
            visit_time: Utc.with_ymd_and_hms(2026, 11, 2, 3, 0, 0).unwrap(),
            performed_by: Actor::system(),
            method: Method::Phone,
            summary: "talked".into(),
            needs_found: vec![],
            mood: None,
            follow_up_needed,
            follow_up: follow_up.into(),
        }
    }

    #[test]
    fn a_visit_goes_planned_scheduled_in_progress_completed_and_no_further() {
        let mut v = visit();
        let now = v.create_time;
        v.schedule(now, now + chrono::TimeDelta::hours(1), now)
            .unwrap();
        v.start(now).unwrap();
        let now2 = now + chrono::TimeDelta::hours(2);
        assert!(matches!(
            v.complete(outcome(true, " "), now2),
            Err(RuleError::Invalid(_))
        ));
        v.complete(outcome(true, "agent-1 sends the tariff sheet"), now2)
            .unwrap();
        assert_eq!(v.state, VisitState::Completed);
        let err = v.cancel("late".into(), now2).unwrap_err();
        assert!(matches!(err, RuleError::Precondition(m) if m.contains("completed")));
    }

    #[test]
    fn a_missed_visit_can_still_be_completed_late_but_not_cancelled() {
        let mut v = visit();
        let now = v.create_time + chrono::TimeDelta::hours(2);
        v.miss("customer not at home".into(), now).unwrap();
        assert!(v.cancel("x".into(), now).is_err());
        v.complete(outcome(false, ""), now).unwrap();
        assert_eq!(v.state, VisitState::Completed);
        assert_eq!(v.miss_reason, "customer not at home");
    }

    #[test]
    fn a_schedule_must_end_after_it_starts() {
        let mut v = visit();
        let now = v.create_time;
        assert!(matches!(
            v.schedule(now, now, now),
            Err(RuleError::Invalid(_))
        ));
    }
}
