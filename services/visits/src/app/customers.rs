//! Customer files in: a change event from the customers service (idempotent by its event id,
//! older snapshots ignored) and the full re-plan that pages through every customer file over
//! gRPC for repair.

use std::collections::HashSet;

use csops_runtime::idempotency::Key;
use csops_runtime::{time, Error};

use super::plans::PlanInput;
use super::Visits;
use crate::domain::plan::{CustomerFacts, Plan, PlanState};
use crate::domain::Actor;

/// What a full re-plan did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Replanned {
    /// Files read.
    pub customers_read: i64,
    /// Plans created.
    pub plans_created: i64,
    /// Plans changed.
    pub plans_changed: i64,
    /// Plans closed.
    pub plans_closed: i64,
}

/// What applying one customer file did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Applied {
    /// A plan was created.
    Created,
    /// The plan changed.
    Changed,
    /// The plan was closed.
    Closed,
    /// Nothing changed (a repeated event or an older snapshot).
    Unchanged,
}

impl Replanned {
    fn count(&mut self, applied: Applied) {
        match applied {
            Applied::Created => self.plans_created += 1,
            Applied::Changed => self.plans_changed += 1,
            Applied::Closed => self.plans_closed += 1,
            Applied::Unchanged => {}
        }
    }
}

impl Visits {
    /// Applies a customer file: creates the plan, or re-plans (or closes) it. With `key` (the
    /// sender's event id), a repeated event changes nothing and answers the plan.
    pub async fn apply_customer(
        &self,
        customer_id: &str,
        facts: CustomerFacts,
        key: Option<&Key>,
        actor: Actor,
    ) -> Result<(Plan, Applied), Error> {
        if let Some(key) = key {
            if let Some(first) = self.store.replay(key).await? {
                return Ok((
                    self.load_plan(&first.resource_id).await?,
                    Applied::Unchanged,
                ));
            }
        }
        let Some(existing) = self.store.plan_of_customer(customer_id).await? else {
            let input = PlanInput {
                customer_id: customer_id.to_owned(),
                ..PlanInput::default()
            };
            return match self.new_plan(input, facts, actor, key).await {
                Ok(plan) => Ok((plan, Applied::Created)),
                // Another delivery created it meanwhile: apply to that one.
                Err(Error::AlreadyExists(_)) => {
                    Box::pin(self.apply_customer(
                        customer_id,
                        CustomerFacts::clone(&self.reread(customer_id).await?),
                        None,
                        Actor::system(),
                    ))
                    .await
                }
                Err(e) => Err(e),
            };
        };
        let was_closed = existing.state == PlanState::Closed;
        let default_agent = self.rules.default_agent.clone();
        let (plan, changed) = self
            .change_plan(&existing.id, "", key, |plan, _, now| {
                Ok(plan.apply_facts(facts.clone(), &default_agent, now))
            })
            .await?;
        let applied = match (changed, plan.state) {
            (false, _) => Applied::Unchanged,
            (true, PlanState::Closed) if !was_closed => Applied::Closed,
            (true, _) => Applied::Changed,
        };
        Ok((plan, applied))
    }

    async fn apply_page(
        &self,
        page: Vec<(String, CustomerFacts)>,
        done: &mut Replanned,
    ) -> Result<(), Error> {
        let ids: Vec<String> = page.iter().map(|(id, _)| id.clone()).collect();
        let existing: HashSet<String> = self
            .store
            .plans_of_customers(&ids)
            .await?
            .into_iter()
            .map(|p| p.customer_id)
            .collect();
        let now = time::now();
        let today = self.rules.today(now);
        let mut fresh = Vec::new();
        let mut visits = Vec::new();
        for (customer_id, facts) in page {
            done.customers_read += 1;
            if existing.contains(&customer_id) {
                let applied = self
                    .apply_customer(&customer_id, facts, None, Actor::system())
                    .await?
                    .1;
                done.count(applied);
                continue;
            }
            let input = PlanInput {
                customer_id,
                ..PlanInput::default()
            };
            let mut plan = self.build_plan(input, facts, Actor::system(), now);
            visits.extend(self.plan_visits(&mut plan, &[], now).create);
            let sweep = plan.sweep_time(self.rules.zone, today);
            fresh.push((plan, sweep));
        }
        let inserted: HashSet<String> = self
            .store
            .insert_plans(&fresh, &visits)
            .await?
            .into_iter()
            .collect();
        let mut care = Vec::new();
        for (plan, _) in &fresh {
            if inserted.contains(&plan.id) {
                done.plans_created += 1;
                care.extend(self.care_for(plan, now));
            } else {
                // Created meanwhile by a customer event: apply the file to that plan.
                let applied = self
                    .apply_customer(&plan.customer_id, plan.facts.clone(), None, Actor::system())
                    .await?
                    .1;
                done.count(applied);
            }
        }
        // The care of the page's new plans in one transaction (a plan whose care failed to be
        // written gets it from its sweep, which creates the care coming up: repeats create nothing).
        self.store.insert_care(&care).await?;
        Ok(())
    }

    async fn reread(&self, customer_id: &str) -> Result<CustomerFacts, Error> {
        match self.customers.lookup(customer_id).await {
            crate::clients::Lookup::Found(f) => Ok(f),
            _ => Err(Error::Aborted(format!(
                "customer {customer_id}'s plan was created concurrently; retry"
            ))),
        }
    }

    /// Pages through every customer file in the customers service and applies each, a page
    /// at a time (memory stays bounded by two pages: the next is fetched while one is
    /// written): the plans of customers who have none are created together, with their first
    /// visits, in one transaction per page, and their care in a second; existing plans are
    /// re-planned one by one when their file changed.
    pub async fn replan_all(&self, page_size: u32) -> Result<Replanned, Error> {
        let mut done = Replanned::default();
        let (mut page, mut next) = self.customers.list_page("", page_size).await?;
        loop {
            if next.is_empty() || self.stop.is_cancelled() {
                self.apply_page(page, &mut done).await?;
                break;
            }
            // The next page is fetched while this one is written (two pages in memory at most).
            let (applied, following) = tokio::join!(
                self.apply_page(page, &mut done),
                self.customers.list_page(&next, page_size)
            );
            applied?;
            (page, next) = following?;
        }
        tracing::info!(
            customers_read = done.customers_read,
            plans_created = done.plans_created,
            plans_changed = done.plans_changed,
            plans_closed = done.plans_closed,
            "full re-plan done"
        );
        Ok(done)
    }
}
