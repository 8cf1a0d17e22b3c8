//! Plan use cases: create, read, change, pause/resume, refresh, and the re-plan every change
//! of a plan runs (its open visits brought in line with the cadence over the horizon, and the
//! care events coming up created).

use chrono::{DateTime, Utc};
use csops_runtime::change::{self, Attempt};
use csops_runtime::idempotency::{Key, Recorded};
use csops_runtime::paging::Cursor;
use csops_runtime::{etag, time, Error};

use super::{not_found, Rules, Visits};
use crate::clients::Lookup;
use crate::domain::care::{occasions, suggest, CareEvent, CareState};
use crate::domain::plan::{reconcile, CustomerFacts, NextVisit, Open, Plan, PlanState};
use crate::domain::visit::{CareKind, NewVisit, Purpose, Source, SourceKind, Visit, VisitState};
use crate::domain::{new_id, Actor, Method, RuleError};
use crate::store::{Inserted, PlanFilter, PlanVisits};

fn resource(id: &str) -> String {
    format!("visit plan {id}")
}

/// The fields of a new plan a caller chooses.
#[derive(Debug, Clone, Default)]
pub struct PlanInput {
    /// The customer.
    pub customer_id: String,
    /// The owner; empty: the customer file's account manager, else the default agent.
    pub owner_agent_id: String,
    /// Cadence override.
    pub cadence_override: Option<csops_sla::Cadence>,
    /// In-person interval override.
    pub in_person_override: Option<csops_sla::Cadence>,
    /// Care preferences.
    pub care_preferences: String,
    /// The day the cadence counts from; today when unset.
    pub anchor: Option<chrono::NaiveDate>,
}

impl Visits {
    /// Returns a plan, or NOT_FOUND; PERMISSION_DENIED for an agent who does not own it.
    pub async fn load_plan(&self, id: &str) -> Result<Plan, Error> {
        let plan = self
            .store
            .get_plan(id)
            .await?
            .ok_or_else(|| not_found("visit plan", id))?;
        csops_runtime::auth::check_owner(&plan.owner_agent_id, &format!("visit plan {id}"))
            .map_err(Error::PermissionDenied)?;
        Ok(plan)
    }

    /// Creates a customer's plan from their file in the customers service (tier A defaults,
    /// flagged, when it cannot be asked); ALREADY_EXISTS for a second plan.
    pub async fn create_plan(
        &self,
        input: PlanInput,
        key: &Key,
        actor: Actor,
    ) -> Result<Plan, Error> {
        if let Some(first) = self.store.replay(key).await? {
            return self.load_plan(&first.resource_id).await;
        }
        if let Some(existing) = self.store.plan_of_customer(&input.customer_id).await? {
            return Err(Error::AlreadyExists(format!(
                "customer {} already has visit plan {}",
                input.customer_id, existing.id
            )));
        }
        let facts = match self.customers.lookup(&input.customer_id).await {
            Lookup::Found(facts) => facts,
            Lookup::Unreachable => CustomerFacts::defaults(),
            Lookup::NotFound => {
                return Err(Error::precondition_on(
                    "CUSTOMER_EXISTS",
                    format!("customers/{}", input.customer_id),
                    format!(
                        "customer {} does not exist in the customers service; open the customer's file first",
                        input.customer_id
                    ),
                ))
            }
        };
        let plan = self.new_plan(input, facts, actor, Some(key)).await?;
        Ok(plan)
    }

    /// Inserts a plan for `facts` with its first visits; a concurrent creation for the same
    /// customer (or retry key) answers the plan that won.
    pub(super) async fn new_plan(
        &self,
        input: PlanInput,
        facts: CustomerFacts,
        actor: Actor,
        key: Option<&Key>,
    ) -> Result<Plan, Error> {
        let now = time::now();
        let mut plan = self.build_plan(input, facts, actor, now);
        let visits = self.plan_visits(&mut plan, &[], now);
        let sweep = plan.sweep_time(self.rules.zone, self.rules.today(now));
        match self
            .store
            .insert_plan(&plan, &visits.create, key, sweep)
            .await?
        {
            Inserted::Created => {
                tracing::info!(plan_id = %plan.id, customer_id = %plan.customer_id, tier = plan.facts.tier.code(), "visit plan created");
                self.create_care(&plan, now).await?;
                Ok(plan)
            }
            Inserted::Replayed => {
                if let Some(key) = key {
                    if let Some(first) = self.store.replay(key).await? {
                        return self.load_plan(&first.resource_id).await;
                    }
                }
                match self.store.plan_of_customer(&plan.customer_id).await? {
                    Some(existing) => Err(Error::AlreadyExists(format!(
                        "customer {} already has visit plan {}",
                        plan.customer_id, existing.id
                    ))),
                    None => Err(Error::Aborted(
                        "a concurrent call with this request_id did not finish; retry".into(),
                    )),
                }
            }
        }
    }

    /// A new plan for `facts` (not stored): the owner asked for, else the file's account
    /// manager, else the default agent.
    pub(super) fn build_plan(
        &self,
        input: PlanInput,
        facts: CustomerFacts,
        actor: Actor,
        now: DateTime<Utc>,
    ) -> Plan {
        let owner = [input.owner_agent_id.as_str(), facts.owner_agent_id.as_str()]
            .into_iter()
            .find(|o| !o.is_empty())
            .unwrap_or(&self.rules.default_agent)
            .to_owned();
        let mut plan = Plan::new(
            new_id("vpl"),
            input.customer_id,
            owner,
            facts,
            actor,
            self.rules.zone,
            now,
        );
        plan.cadence_override = input.cadence_override;
        plan.in_person_override = input.in_person_override;
        plan.care_preferences = input.care_preferences;
        if let Some(anchor) = input.anchor {
            plan.anchor = anchor;
        }
        plan
    }

    /// Lists plans.
    pub async fn list_plans(
        &self,
        filter: &PlanFilter,
        after: Option<&Cursor>,
        limit: u32,
    ) -> Result<Vec<Plan>, Error> {
        Ok(self
            .store
            .list_plans(filter, after, limit, time::now())
            .await?)
    }

    /// Applies `rule` to a plan if `etag` is current (empty: whatever is current), re-plans
    /// its visits and saves it with them, unless someone saved first (then ABORTED for a
    /// conditional change, a retry for an unconditional one). `rule` returns false when
    /// nothing changed (nothing is written). With `key`, it is recorded with the change.
    pub async fn change_plan(
        &self,
        id: &str,
        given_etag: &str,
        key: Option<&Key>,
        rule: impl Fn(&mut Plan, &Rules, DateTime<Utc>) -> Result<bool, RuleError> + Sync,
    ) -> Result<(Plan, bool), Error> {
        let rule = &rule;
        let (plan, changed) = change::run(&resource(id), given_etag, move || async move {
            let mut plan = self.load_plan(id).await?;
            etag::check(|| resource(id), given_etag, plan.version)?;
            let read_version = plan.version;
            let now = time::now();
            if !rule(&mut plan, &self.rules, now)? {
                return Ok(Attempt::Saved((plan, false)));
            }
            let from = self.rules.zone.start_of(self.rules.today(now));
            let open = self.store.open_plan_visits(&plan.id, from).await?;
            let visits = self.plan_visits(&mut plan, &open, now);
            plan.version += 1;
            plan.update_time = now;
            let produced = Recorded {
                resource_id: plan.id.clone(),
                ref_id: String::new(),
            };
            let sweep = plan.sweep_time(self.rules.zone, self.rules.today(now));
            if self
                .store
                .save_plan(
                    &plan,
                    read_version,
                    &visits,
                    &[],
                    key.map(|k| (k, &produced)),
                    sweep,
                )
                .await?
            {
                Ok(Attempt::Saved((plan, true)))
            } else {
                Ok(Attempt::Lost {
                    read_version,
                    current_version: self.load_plan(id).await?.version,
                })
            }
        })
        .await?;
        if changed {
            self.create_care(&plan, time::now()).await?;
        }
        Ok((plan, changed))
    }

    /// Brings the plan's open visits from today on in line with what it wants (see
    /// `reconcile`), and updates its next visit and horizon.
    pub(super) fn plan_visits(
        &self,
        plan: &mut Plan,
        open: &[Visit],
        now: DateTime<Utc>,
    ) -> PlanVisits {
        let today = self.rules.today(now);
        let desired = plan.desired(self.rules.planning(), today);
        let seen: Vec<Open> = open
            .iter()
            .map(|v| Open {
                id: v.id.clone(),
                due_time: v.due_time,
                in_person: v.in_person(),
                agreed: v.state != VisitState::Planned,
            })
            .collect();
        let replan = reconcile(&seen, &desired);
        let mut out = PlanVisits::default();
        for (id, wanted) in &replan.moves {
            if let Some(v) = open.iter().find(|v| &v.id == id) {
                let mut moved = v.clone();
                moved.due_time = wanted.due_time;
                moved.method = plan_method(wanted.in_person);
                moved.version += 1;
                moved.update_time = now;
                out.update.push((moved, v.version));
            }
        }
        for id in &replan.cancel {
            if let Some(v) = open.iter().find(|v| &v.id == id) {
                let mut cancelled = v.clone();
                let reason = match plan.state {
                    PlanState::Active => "re-planned: no longer due under the plan's cadence",
                    PlanState::Paused => "the visit plan is paused",
                    PlanState::Closed => "the customer file is archived",
                };
                if cancelled.cancel(reason.into(), now).is_ok() {
                    cancelled.version += 1;
                    out.update.push((cancelled, v.version));
                }
            }
        }
        for wanted in &replan.create {
            out.create.push(Visit::new(
                new_id("vst"),
                NewVisit {
                    customer_id: plan.customer_id.clone(),
                    plan_id: plan.id.clone(),
                    care_kind: CareKind::Scheduled,
                    purpose: Purpose::Relationship,
                    method: plan_method(wanted.in_person),
                    gift: None,
                    description: "regular care visit (a friendly visit, not a sales call)".into(),
                    source: Source {
                        kind: SourceKind::Plan,
                        source_id: plan.id.clone(),
                        source_event_id: String::new(),
                    },
                    assigned_agent_id: plan.owner_agent_id.clone(),
                    due_time: wanted.due_time,
                    notes: String::new(),
                },
                Actor::system(),
                now,
            ));
        }
        // The plan's next visit: the earliest open one after the change.
        let cancelled: Vec<&String> = replan.cancel.iter().collect();
        let mut upcoming: Vec<NextVisit> = open
            .iter()
            .filter(|v| !cancelled.contains(&&v.id))
            .map(|v| {
                let moved = out
                    .update
                    .iter()
                    .find(|(m, _)| m.id == v.id)
                    .map(|(m, _)| m);
                let v = moved.unwrap_or(v);
                NextVisit {
                    visit_id: v.id.clone(),
                    due_time: v.due_time,
                    in_person: v.in_person(),
                }
            })
            .chain(out.create.iter().map(|v| NextVisit {
                visit_id: v.id.clone(),
                due_time: v.due_time,
                in_person: v.in_person(),
            }))
            .collect();
        upcoming.sort_by(|a, b| {
            a.due_time
                .cmp(&b.due_time)
                .then(a.visit_id.cmp(&b.visit_id))
        });
        plan.next = upcoming.into_iter().next();
        plan.planned_until =
            today.max(plan.anchor) + chrono::Days::new(u64::from(self.rules.visits.horizon_days));
        out
    }

    /// Creates the care events (with their visits) whose preparation starts by today: the
    /// occasions from today to the lead time ahead. Repeats create nothing new.
    pub(super) async fn create_care(
        &self,
        plan: &Plan,
        now: DateTime<Utc>,
    ) -> Result<usize, Error> {
        Ok(self.store.insert_care(&self.care_for(plan, now)).await?)
    }

    /// Builds the care events (with their visits) of [`App::create_care`] without writing
    /// them, so a page of new plans writes its care in one transaction.
    pub(super) fn care_for(
        &self,
        plan: &Plan,
        now: DateTime<Utc>,
    ) -> Vec<(CareEvent, Option<Visit>)> {
        if plan.state != PlanState::Active {
            return Vec::new();
        }
        let today = self.rules.today(now);
        let lead = u64::from(self.rules.visits.care_lead_days);
        let until = today + chrono::Days::new(lead);
        let mut batch = Vec::new();
        for o in occasions(
            &plan.id,
            &plan.facts.care_dates,
            &self.rules.visits,
            today,
            until,
        ) {
            let (method, gift) = suggest(o.occasion, plan.facts.key_account, &plan.facts.consents);
            let id = new_id("cev");
            let prepare = self
                .rules
                .zone
                .start_of(o.date - chrono::Days::new(lead))
                .max(plan.create_time.min(now));
            let visit = method.map(|method| {
                Visit::new(
                    new_id("vst"),
                    NewVisit {
                        customer_id: plan.customer_id.clone(),
                        plan_id: plan.id.clone(),
                        care_kind: CareKind::Scheduled,
                        purpose: Purpose::CareGreeting,
                        method,
                        gift,
                        description: format!("care on {} ({})", o.date, o.occasion.code()),
                        source: Source {
                            kind: SourceKind::CareEvent,
                            source_id: id.clone(),
                            source_event_id: String::new(),
                        },
                        assigned_agent_id: plan.owner_agent_id.clone(),
                        due_time: self.rules.zone.end_of(o.date),
                        notes: String::new(),
                    },
                    Actor::system(),
                    now,
                )
            });
            let event = CareEvent {
                id,
                customer_id: plan.customer_id.clone(),
                plan_id: plan.id.clone(),
                owner_agent_id: plan.owner_agent_id.clone(),
                occasion: o.occasion,
                relation: o.relation,
                title: o.title,
                occasion_date: o.date,
                prepare_time: prepare,
                state: if method.is_some() {
                    CareState::Upcoming
                } else {
                    CareState::Skipped
                },
                visit_id: visit.as_ref().map(|v| v.id.clone()).unwrap_or_default(),
                skip_reason: if method.is_some() {
                    String::new()
                } else {
                    "the customer consented to no channel this care could use".into()
                },
                suggested_method: method,
                suggested_gift: gift,
                key: o.key,
                version: 1,
            };
            batch.push((event, visit));
        }
        batch
    }

    /// Re-reads the customer file and re-plans; UNAVAILABLE when the customers service
    /// cannot be asked.
    pub async fn refresh_plan(&self, id: &str) -> Result<Plan, Error> {
        let plan = self.load_plan(id).await?;
        let facts = match self.customers.lookup(&plan.customer_id).await {
            Lookup::Found(facts) => facts,
            Lookup::NotFound => CustomerFacts {
                archived: true,
                ..plan.facts.clone()
            },
            Lookup::Unreachable => {
                return Err(Error::Unavailable(
                    "the customers service cannot be reached; retry later".into(),
                ))
            }
        };
        let default_agent = self.rules.default_agent.clone();
        let (plan, _) = self
            .change_plan(id, "", None, |plan, _, now| {
                let mut facts = facts.clone();
                // A refresh reads the file as it is now: never older than what the plan has.
                facts.update_time = None;
                plan.apply_facts(facts, &default_agent, now);
                Ok(true)
            })
            .await?;
        Ok(plan)
    }
}

/// The method of a plan visit: in person, or a phone call.
fn plan_method(in_person: bool) -> Method {
    if in_person {
        Method::InPerson
    } else {
        Method::Phone
    }
}
