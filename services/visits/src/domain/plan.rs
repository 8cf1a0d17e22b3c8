//! A customer's visit plan: how often they are visited (the tier's cadence from the SLA
//! policy, or the agreement's override for a key account, "重要用户…以协议为准"), when they
//! must be met in person, and which visits that puts on the calendar over the planning
//! horizon. Visits are friendly care, never sales calls (DOMAIN §2).

use chrono::{DateTime, NaiveDate, Utc};
use csops_runtime::time::{serde_micros, serde_micros_opt};
use csops_sla::{Cadence, Calendar, VisitRules};
use serde::{Deserialize, Serialize};

use super::care::CareDate;
use super::{coded, Actor, Channel, Region, RuleError, Tier, Zone};

coded! {
    /// Where a plan is.
    pub enum PlanState {
        /// Visits become due by the cadence.
        Active = "active",
        /// No visits become due until resumed.
        Paused = "paused",
        /// The customer file is archived.
        Closed = "closed",
    }
}

/// What the plan knows of the customer file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CustomerFacts {
    /// Value tier.
    pub tier: Tier,
    /// Key account (VIP, big customer).
    pub key_account: bool,
    /// Region.
    pub region: Region,
    /// The account manager named in the file; empty when none.
    pub owner_agent_id: String,
    /// Dates to care for.
    pub care_dates: Vec<CareDate>,
    /// Channels the customer consented to.
    pub consents: Vec<Channel>,
    /// True when the file is archived.
    pub archived: bool,
    /// When the file last changed (orders snapshots); unset when read without one.
    #[serde(with = "serde_micros_opt")]
    pub update_time: Option<DateTime<Utc>>,
    /// True when the customers service could not be asked and defaults were used.
    pub defaulted: bool,
}

impl CustomerFacts {
    /// The facts used when the customers service cannot be asked: tier A's cadence (the most
    /// frequent), in person, urban; refreshed once it answers.
    pub fn defaults() -> Self {
        Self {
            tier: Tier::A,
            key_account: false,
            region: Region::Urban,
            owner_agent_id: String::new(),
            care_dates: Vec::new(),
            consents: Vec::new(),
            archived: false,
            update_time: None,
            defaulted: true,
        }
    }
}

/// Why and until when a plan is paused.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pause {
    /// Why.
    pub reason: String,
    /// When it resumes by itself; unset: when resumed by hand.
    #[serde(with = "serde_micros_opt")]
    pub resume_time: Option<DateTime<Utc>>,
}

/// A customer's visit plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Plan {
    /// `vpl_…`.
    pub id: String,
    /// The customer.
    pub customer_id: String,
    /// The agent who makes the visits.
    pub owner_agent_id: String,
    /// What the plan knows of the customer file.
    pub facts: CustomerFacts,
    /// Cadence replacing the tier's, in whole days.
    pub cadence_override: Option<Cadence>,
    /// In-person interval replacing the policy's, in whole days.
    pub in_person_override: Option<Cadence>,
    /// Care preferences, free text.
    pub care_preferences: String,
    /// Where the plan is.
    pub state: PlanState,
    /// Set while paused.
    pub pause: Option<Pause>,
    /// The date cadence counts from: the last completed plan visit, or the plan's start.
    pub anchor: NaiveDate,
    /// When the last completed visit took place.
    #[serde(with = "serde_micros_opt")]
    pub last_visit_time: Option<DateTime<Utc>>,
    /// When the last completed in-person visit took place.
    #[serde(with = "serde_micros_opt")]
    pub last_in_person_time: Option<DateTime<Utc>>,
    /// The next open plan visit: its id, due time and whether it is in person.
    pub next: Option<NextVisit>,
    /// True when a plan visit passed its due time plus grace without being completed.
    pub overdue: bool,
    /// The last day planned and cared for so far (the horizon's end at the last planning).
    pub planned_until: NaiveDate,
    /// Who created the plan.
    pub created_by: Actor,
    /// When the customer file was last read.
    #[serde(with = "serde_micros")]
    pub refresh_time: DateTime<Utc>,
    /// Created.
    #[serde(with = "serde_micros")]
    pub create_time: DateTime<Utc>,
    /// Last changed.
    #[serde(with = "serde_micros")]
    pub update_time: DateTime<Utc>,
    /// Optimistic-concurrency version.
    pub version: i64,
}

/// The next open plan visit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NextVisit {
    /// Visit id.
    pub visit_id: String,
    /// Its due time.
    #[serde(with = "serde_micros")]
    pub due_time: DateTime<Utc>,
    /// True when it must be in person.
    pub in_person: bool,
}

/// The rules a plan is planned with.
#[derive(Debug, Clone, Copy)]
pub struct Planning<'a> {
    /// Cadence, in-person rule, horizon, grace (SLA policy `[visits]`).
    pub rules: &'a VisitRules,
    /// The calendar whose working days visits fall on.
    pub calendar: &'a Calendar,
    /// The deployment's time zone.
    pub zone: Zone,
}

/// One plan visit the plan wants on the calendar.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Desired {
    /// The day (a working day of the calendar).
    pub date: NaiveDate,
    /// Due by the end of that day.
    pub due_time: DateTime<Utc>,
    /// True when it must be in person.
    pub in_person: bool,
}

/// An open plan visit as the planner sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Open {
    /// Visit id.
    pub id: String,
    /// Its due time.
    pub due_time: DateTime<Utc>,
    /// True when planned in person.
    pub in_person: bool,
    /// True once a time is agreed with the customer (SCHEDULED, IN_PROGRESS): kept as is.
    pub agreed: bool,
}

/// What re-planning changes: visits to add, PLANNED visits to move (or switch method), and
/// PLANNED visits no longer wanted. Past, agreed and finished visits are never touched.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Replan {
    /// New PLANNED visits.
    pub create: Vec<Desired>,
    /// (visit id, its new date and method).
    pub moves: Vec<(String, Desired)>,
    /// Visit ids to cancel.
    pub cancel: Vec<String>,
}

impl Replan {
    /// True when nothing changes.
    pub fn is_empty(&self) -> bool {
        self.create.is_empty() && self.moves.is_empty() && self.cancel.is_empty()
    }
}

/// Checks a cadence given as whole days (1 day to 10 years).
pub fn days_cadence(field: &str, days: i64) -> Result<Cadence, RuleError> {
    if !(1..=3660).contains(&days) {
        return Err(RuleError::invalid(
            field,
            "must be a whole number of days from 1 day to 10 years",
        ));
    }
    Ok(Cadence::Days(u32::try_from(days).unwrap_or(1)))
}

impl Plan {
    /// A new plan for a customer, planned from `today`.
    pub fn new(
        id: String,
        customer_id: String,
        owner_agent_id: String,
        facts: CustomerFacts,
        created_by: Actor,
        zone: Zone,
        now: DateTime<Utc>,
    ) -> Self {
        let today = zone.date(now);
        let state = if facts.archived {
            PlanState::Closed
        } else {
            PlanState::Active
        };
        Self {
            id,
            customer_id,
            owner_agent_id,
            facts,
            cadence_override: None,
            in_person_override: None,
            care_preferences: String::new(),
            state,
            pause: None,
            anchor: today,
            last_visit_time: None,
            last_in_person_time: None,
            next: None,
            overdue: false,
            planned_until: today,
            created_by,
            refresh_time: now,
            create_time: now,
            update_time: now,
            version: 1,
        }
    }

    /// The cadence from the tier (policy).
    pub fn tier_cadence(&self, rules: &VisitRules) -> Cadence {
        rules.cadence(self.facts.tier.sla())
    }

    /// The cadence in force.
    pub fn cadence(&self, rules: &VisitRules) -> Cadence {
        self.cadence_override
            .unwrap_or_else(|| self.tier_cadence(rules))
    }

    /// The longest time between two in-person visits.
    pub fn in_person_interval(&self, rules: &VisitRules) -> Cadence {
        self.in_person_override.unwrap_or(rules.in_person_every)
    }

    /// True when every plan visit is in person (key accounts, seed 001).
    pub fn always_in_person(&self, rules: &VisitRules) -> bool {
        self.facts.key_account && rules.key_account_in_person
    }

    /// Applies a customer file; false (nothing to re-plan) for one older than the file the
    /// plan was planned from, or one that changes nothing.
    pub fn apply_facts(
        &mut self,
        facts: CustomerFacts,
        default_owner: &str,
        now: DateTime<Utc>,
    ) -> bool {
        if let (Some(known), Some(given)) = (self.facts.update_time, facts.update_time) {
            if given < known {
                return false;
            }
        }
        let owner_before = self.owner_agent_id.clone();
        let state_before = self.state;
        if !facts.owner_agent_id.is_empty() {
            self.owner_agent_id.clone_from(&facts.owner_agent_id);
        } else if self.owner_agent_id.is_empty() {
            self.owner_agent_id = default_owner.to_owned();
        }
        match (self.state, facts.archived) {
            (PlanState::Active | PlanState::Paused, true) => {
                self.state = PlanState::Closed;
                self.pause = None;
            }
            (PlanState::Closed, false) => self.state = PlanState::Active,
            _ => {}
        }
        self.refresh_time = now;
        if facts == self.facts && owner_before == self.owner_agent_id && state_before == self.state
        {
            return false;
        }
        self.facts = facts;
        true
    }

    /// Pauses the plan.
    pub fn pause(
        &mut self,
        reason: String,
        resume_time: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
    ) -> Result<(), RuleError> {
        if self.state != PlanState::Active {
            return Err(RuleError::Precondition(format!(
                "visit plan {} is {}; only an active plan can be paused",
                self.id,
                self.state.code()
            )));
        }
        if resume_time.is_some_and(|t| t <= now) {
            return Err(RuleError::invalid("resume_time", "must be in the future"));
        }
        self.state = PlanState::Paused;
        self.pause = Some(Pause {
            reason,
            resume_time,
        });
        Ok(())
    }

    /// Resumes a paused plan: the next visit is due one cadence after the last one (or after
    /// today, when that is already past).
    pub fn resume(
        &mut self,
        zone: Zone,
        rules: &VisitRules,
        now: DateTime<Utc>,
    ) -> Result<(), RuleError> {
        if self.state != PlanState::Paused {
            return Err(RuleError::Precondition(format!(
                "visit plan {} is {}; only a paused plan can be resumed",
                self.id,
                self.state.code()
            )));
        }
        self.state = PlanState::Active;
        self.pause = None;
        let today = zone.date(now);
        if self.cadence(rules).nth_after(self.anchor, 1) < today {
            self.anchor = today;
        }
        Ok(())
    }

    /// Records a completed visit of the customer (any visit counts for the cadence; a plan
    /// visit or any in-person one re-anchors it).
    pub fn visited(&mut self, at: DateTime<Utc>, in_person: bool, zone: Zone) {
        if self.last_visit_time.is_none_or(|t| t < at) {
            self.last_visit_time = Some(at);
            let day = zone.date(at);
            if day > self.anchor {
                self.anchor = day;
            }
        }
        if in_person && self.last_in_person_time.is_none_or(|t| t < at) {
            self.last_in_person_time = Some(at);
        }
    }

    /// The plan visits wanted from `today` to the horizon: the cadence counted from the
    /// anchor, each on a working day (holidays moved as the policy says, make-up days
    /// worked), in person for key accounts and whenever the in-person interval would
    /// otherwise pass.
    pub fn desired(&self, p: Planning<'_>, today: NaiveDate) -> Vec<Desired> {
        if self.state != PlanState::Active {
            return Vec::new();
        }
        // A plan that starts later (an agreement's start date) is planned from its start.
        let until = today.max(self.anchor) + chrono::Days::new(u64::from(p.rules.horizon_days));
        let after = today.pred_opt().unwrap_or(today);
        let dates = csops_sla::visits::plan_dates(
            self.cadence(p.rules),
            self.anchor,
            after,
            until,
            p.calendar,
            p.rules.holiday_shift,
        );
        let always = self.always_in_person(p.rules);
        let interval = self.in_person_interval(p.rules);
        let mut last_in_person = self.last_in_person_time.map(|t| p.zone.date(t));
        let cadence = self.cadence(p.rules);
        // A date moved earlier than today (a holiday shift) is due today.
        // Two dates a long holiday moves onto the same day make one visit.
        let mut days: Vec<NaiveDate> = dates.iter().map(|d| d.date.max(today)).collect();
        days.dedup();
        days.iter()
            .enumerate()
            .map(|(i, &date)| {
                // In person when the customer has never been met, or when waiting for the
                // visit after this one would pass the in-person deadline.
                let following = days
                    .get(i + 1)
                    .copied()
                    .unwrap_or_else(|| cadence.nth_after(date, 1));
                let in_person = always
                    || match last_in_person {
                        None => true,
                        Some(last) => following > interval.nth_after(last, 1),
                    };
                if in_person {
                    last_in_person = Some(date);
                }
                Desired {
                    date,
                    due_time: p.zone.end_of(date),
                    in_person,
                }
            })
            .collect()
    }

    /// The shortest time after which the sweep must look at the plan again: when the horizon
    /// moves by a day, or a pause ends.
    pub fn sweep_time(&self, zone: Zone, today: NaiveDate) -> DateTime<Utc> {
        let tomorrow = zone.start_of(today.succ_opt().unwrap_or(today));
        match (&self.state, &self.pause) {
            (
                PlanState::Paused,
                Some(Pause {
                    resume_time: Some(t),
                    ..
                }),
            ) => (*t).min(tomorrow),
            (PlanState::Paused | PlanState::Closed, _) => DateTime::<Utc>::MAX_UTC,
            (PlanState::Active, _) => tomorrow,
        }
    }
}

/// Matches the open plan visits from today on with the wanted ones: agreed visits stay and
/// stand for the wanted visit nearest them; PLANNED ones are kept when already right, moved
/// when their date or method must change, and cancelled when no longer wanted; missing ones
/// are created. Repeating a re-plan changes nothing, so duplicate events make no duplicates.
pub fn reconcile(open: &[Open], desired: &[Desired]) -> Replan {
    let mut wanted: Vec<Desired> = desired.to_vec();
    for agreed in open.iter().filter(|o| o.agreed) {
        if let Some(i) = (0..wanted.len())
            .min_by_key(|&i| (wanted[i].due_time - agreed.due_time).num_seconds().abs())
        {
            wanted.remove(i);
        }
    }
    let mut planned: Vec<&Open> = open.iter().filter(|o| !o.agreed).collect();
    planned.sort_by(|a, b| a.due_time.cmp(&b.due_time).then(a.id.cmp(&b.id)));
    let mut replan = Replan::default();
    let mut wanted = wanted.into_iter();
    for visit in planned {
        match wanted.next() {
            Some(w) if w.due_time == visit.due_time && w.in_person == visit.in_person => {}
            Some(w) => replan.moves.push((visit.id.clone(), w)),
            None => replan.cancel.push(visit.id.clone()),
        }
    }
    replan.create.extend(wanted);
    replan
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use chrono::TimeZone;
    use csops_sla::Policy;
    use proptest::prelude::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    fn plan(tier: Tier, key_account: bool, anchor: NaiveDate) -> Plan {
        let zone = Zone(Some(chrono_tz::Asia::Shanghai));
        let mut p = Plan::new(
            "vpl_1".into(),
            "cus_1".into(),
            "agent-1".into(),
            CustomerFacts {
                tier,
                key_account,
                ..CustomerFacts::defaults()
            },
            Actor::system(),
            zone,
            zone.start_of(anchor),
        );
        p.facts.defaulted = false;
        p
    }

    fn planning(policy: &Policy) -> Planning<'_> {
        let rules = policy.visits();
        let calendar = policy.calendar(&rules.calendar).unwrap();
        Planning {
            rules,
            calendar,
            zone: Zone(calendar.time_zone()),
        }
    }

    #[test]
    fn a_b_customer_anchored_on_the_31st_is_visited_on_month_ends_without_drift() {
        let policy = Policy::default_presets();
        let p = planning(&policy);
        let mut b = plan(Tier::B, false, d(2027, 12, 31));
        b.anchor = d(2027, 12, 31);
        let dates: Vec<_> = b
            .desired(p, d(2028, 1, 1))
            .into_iter()
            .map(|x| x.date)
            .collect();
        // 31 Jan 2028 is a Monday; 29 Feb 2028 (leap) a Tuesday; 31 Mar 2028 a Friday.
        assert_eq!(dates, vec![d(2028, 1, 31), d(2028, 2, 29), d(2028, 3, 31)]);
    }

    #[test]
    fn key_accounts_are_always_visited_in_person_and_others_once_per_interval() {
        let policy = Policy::default_presets();
        let p = planning(&policy);
        let vip = plan(Tier::A, true, d(2026, 11, 2));
        assert!(vip.desired(p, d(2026, 11, 2)).iter().all(|x| x.in_person));
        // Met in person on 20 August: by 20 November again, so the weekly visit of
        // 16 November (the last before that deadline) is in person, the others by phone.
        let mut a = plan(Tier::A, false, d(2026, 11, 2));
        a.last_in_person_time = Some(Utc.with_ymd_and_hms(2026, 8, 20, 2, 0, 0).unwrap());
        let wanted = a.desired(p, d(2026, 11, 2));
        let in_person: Vec<_> = wanted
            .iter()
            .filter(|x| x.in_person)
            .map(|x| x.date)
            .collect();
        assert_eq!(in_person, vec![d(2026, 11, 16)], "{wanted:?}");
        assert!(wanted.len() > 10);
    }

    #[test]
    fn a_paused_or_closed_plan_wants_no_visits() {
        let policy = Policy::default_presets();
        let p = planning(&policy);
        let mut a = plan(Tier::A, false, d(2026, 11, 2));
        a.state = PlanState::Paused;
        assert!(a.desired(p, d(2026, 11, 2)).is_empty());
        a.state = PlanState::Closed;
        assert!(a.desired(p, d(2026, 11, 2)).is_empty());
    }

    #[test]
    fn an_older_customer_file_changes_nothing() {
        let mut a = plan(Tier::A, false, d(2026, 11, 2));
        let newer = Utc.with_ymd_and_hms(2026, 11, 3, 0, 0, 0).unwrap();
        a.facts.update_time = Some(newer);
        let older = CustomerFacts {
            tier: Tier::C,
            update_time: Some(newer - chrono::TimeDelta::seconds(1)),
            ..CustomerFacts::defaults()
        };
        assert!(!a.apply_facts(older, "desk", newer));
        assert_eq!(a.facts.tier, Tier::A);
    }

    fn open(id: &str, due: DateTime<Utc>, agreed: bool) -> Open {
        Open {
            id: id.into(),
            due_time: due,
            in_person: true,
            agreed,
        }
    }

    fn want(due: DateTime<Utc>) -> Desired {
        Desired {
            date: due.date_naive(),
            due_time: due,
            in_person: true,
        }
    }

    #[test]
    fn reconcile_keeps_right_visits_moves_wrong_ones_and_adds_the_missing() {
        let t = |day| Utc.with_ymd_and_hms(2026, 11, day, 16, 0, 0).unwrap();
        let r = reconcile(
            &[open("v1", t(3), false), open("v2", t(9), false)],
            &[want(t(3)), want(t(10)), want(t(17))],
        );
        assert_eq!(r.moves, vec![("v2".to_owned(), want(t(10)))]);
        assert_eq!(r.create, vec![want(t(17))]);
        assert!(r.cancel.is_empty());
        // Fewer wanted (C after A): extra planned visits are cancelled; an agreed one stays.
        let r = reconcile(
            &[
                open("v1", t(3), true),
                open("v2", t(10), false),
                open("v3", t(17), false),
            ],
            &[want(t(4))],
        );
        assert_eq!(r.cancel, vec!["v2".to_owned(), "v3".to_owned()]);
        assert!(r.create.is_empty() && r.moves.is_empty());
    }

    proptest! {
        #[test]
        fn reconciling_what_reconcile_produced_changes_nothing(
            have in proptest::collection::vec(1u32..60, 0..8),
            wanted in proptest::collection::btree_set(1u32..60, 0..8),
        ) {
            let t = |day: u32| Utc.with_ymd_and_hms(2026, 1, 1, 16, 0, 0).unwrap() + chrono::TimeDelta::days(i64::from(day));
            let open_now: Vec<Open> = have.iter().enumerate().map(|(i, d)| open(&format!("v{i}"), t(*d), false)).collect();
            let desired: Vec<Desired> = wanted.iter().map(|d| want(t(*d))).collect();
            let r = reconcile(&open_now, &desired);
            // Apply it.
            let mut after: Vec<Open> = open_now.iter().filter(|o| !r.cancel.contains(&o.id)).cloned().collect();
            for (id, w) in &r.moves {
                let o = after.iter_mut().find(|o| &o.id == id).unwrap();
                o.due_time = w.due_time;
                o.in_person = w.in_person;
            }
            for (i, w) in r.create.iter().enumerate() {
                after.push(Open { id: format!("new{i}"), due_time: w.due_time, in_person: w.in_person, agreed: false });
            }
            prop_assert_eq!(after.len(), desired.len());
            prop_assert!(reconcile(&after, &desired).is_empty());
        }
    }
}
