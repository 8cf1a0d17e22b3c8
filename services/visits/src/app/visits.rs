//! Visit use cases: create (by hand, or for a complaint), read, change through the state
//! machine, book without double booking or overload, and the agenda.

use chrono::{DateTime, Utc};
use csops_runtime::change::{self, Attempt};
use csops_runtime::idempotency::Key;
use csops_runtime::paging::Cursor;
use csops_runtime::{etag, time, Error};

use super::{event, not_found, Visits};
use crate::domain::booking::{self, Booking};
use crate::domain::care::CareState;
use crate::domain::visit::{NewVisit, Visit, VisitState};
use crate::domain::{Outgoing, RuleError};
use crate::store::{Inserted, VisitFilter};

fn resource(id: &str) -> String {
    format!("visit {id}")
}

/// What a visit change also does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Booked {
    /// Nothing.
    No,
    /// The change books the assignee at the visit's scheduled time: refused on a clash or a
    /// full day.
    Check,
}

/// One person's agenda.
#[derive(Debug, Clone, Default)]
pub struct Agenda {
    /// Open visits due or scheduled in the period.
    pub visits: Vec<Visit>,
    /// Ids of open field jobs whose window falls in the period.
    pub field_jobs: Vec<String>,
    /// Visits due before the period and still not done.
    pub overdue: Vec<Visit>,
    /// Booked items per day.
    pub load: Vec<(chrono::NaiveDate, u32)>,
    /// True when a list was cut.
    pub truncated: bool,
}

/// The most items of one kind an agenda returns.
pub const AGENDA_MAX: u32 = 500;

impl Visits {
    /// Returns a visit, or NOT_FOUND; PERMISSION_DENIED for an agent or field engineer it is
    /// not assigned to.
    pub async fn load_visit(&self, id: &str) -> Result<Visit, Error> {
        let visit = self
            .store
            .get_visit(id)
            .await?
            .ok_or_else(|| not_found("visit", id))?;
        csops_runtime::auth::check_owner(&visit.assigned_agent_id, &format!("visit {id}"))
            .map_err(Error::PermissionDenied)?;
        Ok(visit)
    }

    /// Creates a visit; a retry with the same key answers the visit the first call made.
    pub async fn create_visit(
        &self,
        input: NewVisit,
        key: &Key,
        actor: crate::domain::Actor,
    ) -> Result<(Visit, bool), Error> {
        if let Some(first) = self.store.replay(key).await? {
            return Ok((self.load_visit(&first.resource_id).await?, true));
        }
        let now = time::now();
        let visit = Visit::new(crate::domain::new_id("vst"), input, actor, now);
        match self.store.insert_visit(&visit, Some(key), &[]).await? {
            Inserted::Created => {
                tracing::info!(visit_id = %visit.id, customer_id = %visit.customer_id, purpose = visit.purpose.code(), "visit created");
                Ok((visit, false))
            }
            Inserted::Replayed => match self.store.replay(key).await? {
                Some(first) => Ok((self.load_visit(&first.resource_id).await?, true)),
                None => Err(Error::Aborted(
                    "a concurrent call with this request_id did not finish; retry".into(),
                )),
            },
        }
    }

    /// The agent a complaint visit goes to: the one asked for, else the plan's owner, else
    /// the default agent.
    pub async fn complaint_visit_agent(
        &self,
        customer_id: &str,
        asked: &str,
    ) -> Result<String, Error> {
        if !asked.is_empty() {
            return Ok(asked.to_owned());
        }
        Ok(self
            .store
            .plan_of_customer(customer_id)
            .await?
            .map_or_else(|| self.rules.default_agent.clone(), |p| p.owner_agent_id))
    }

    /// Lists visits.
    pub async fn list_visits(
        &self,
        filter: &VisitFilter,
        after: Option<&Cursor>,
        limit: u32,
    ) -> Result<Vec<Visit>, Error> {
        Ok(self.store.list_visits(filter, after, limit).await?)
    }

    /// Applies `rule` to a visit if `etag` is current and saves it (with the events the
    /// rule returns) unless someone saved first. A completed visit re-plans its customer's
    /// plan and marks its care event done.
    pub async fn change_visit(
        &self,
        id: &str,
        given_etag: &str,
        booked: Booked,
        rule: impl Fn(&mut Visit, DateTime<Utc>) -> Result<Vec<Outgoing>, RuleError> + Sync,
    ) -> Result<Visit, Error> {
        let rule = &rule;
        let visit = change::run(&resource(id), given_etag, move || async move {
            let mut visit = self.load_visit(id).await?;
            etag::check(|| resource(id), given_etag, visit.version)?;
            let read_version = visit.version;
            let now = time::now();
            let outgoing = rule(&mut visit, now)?;
            if booked == Booked::Check {
                self.check_booking(&visit).await?;
            }
            visit.version += 1;
            visit.update_time = now;
            let events: Vec<_> = outgoing.iter().map(event).collect();
            if self.store.save_visit(&visit, read_version, &events).await? {
                Ok(Attempt::Saved(visit))
            } else {
                Ok(Attempt::Lost {
                    read_version,
                    current_version: self.load_visit(id).await?.version,
                })
            }
        })
        .await?;
        tracing::info!(visit_id = %visit.id, state = visit.state.code(), "visit changed");
        if matches!(visit.state, VisitState::Completed | VisitState::Cancelled) {
            self.after_visit(&visit).await?;
        }
        Ok(visit)
    }

    /// What a finished visit changes elsewhere: the plan's rhythm (re-anchored on a completed
    /// visit, a cancelled plan visit replaced) and the care event's state.
    async fn after_visit(&self, visit: &Visit) -> Result<(), Error> {
        if let Some(plan) = self.store.plan_of_customer(&visit.customer_id).await? {
            let completed = visit
                .outcome
                .clone()
                .filter(|_| visit.state == VisitState::Completed);
            let zone = self.rules.zone;
            self.change_plan(&plan.id, "", None, |plan, _, _| {
                if let Some(outcome) = &completed {
                    plan.visited(
                        outcome.visit_time,
                        outcome.method == crate::domain::Method::InPerson,
                        zone,
                    );
                    plan.overdue = false;
                }
                Ok(true)
            })
            .await?;
        }
        if visit.state == VisitState::Completed {
            if let Some(mut care) = self.store.care_of_visit(visit).await? {
                if care.state == CareState::Upcoming || care.state == CareState::Missed {
                    let read = care.version;
                    care.state = CareState::Done;
                    care.version += 1;
                    self.store.save_care(&care, read, None).await?;
                }
            }
        }
        Ok(())
    }

    /// Refuses a booking that clashes with another of the assignee's, or overfills their day.
    async fn check_booking(&self, visit: &Visit) -> Result<(), Error> {
        let (Some(start), Some(end)) = (visit.scheduled_start_time, visit.scheduled_end_time)
        else {
            return Ok(());
        };
        let zone = self.rules.zone;
        let day = zone.date(start);
        let (from, until) = (zone.start_of(day).min(start), zone.end_of(day).max(end));
        let booked = self
            .store
            .bookings(&visit.assigned_agent_id, from, until)
            .await?;
        booking::check(
            &visit.assigned_agent_id,
            &visit.id,
            start,
            end,
            &booked,
            self.rules.max_daily_bookings,
            zone,
        )
        .map_err(|e| match e {
            RuleError::Precondition(message) => Error::precondition_on(
                "BOOKING",
                format!("agents/{}", visit.assigned_agent_id),
                message,
            ),
            other => other.into(),
        })
    }

    /// What is due for `person` between `from` and `until`.
    pub async fn agenda(
        &self,
        person: &str,
        from: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<Agenda, Error> {
        let open = vec![
            VisitState::Planned,
            VisitState::Scheduled,
            VisitState::InProgress,
        ];
        let mut visits = self
            .store
            .list_visits(
                &VisitFilter {
                    assigned_agent_id: Some(person.to_owned()),
                    states: open.clone(),
                    due_start: Some(from),
                    due_end: Some(until),
                    ..VisitFilter::default()
                },
                None,
                AGENDA_MAX + 1,
            )
            .await?;
        let mut overdue = self
            .store
            .list_visits(
                &VisitFilter {
                    assigned_agent_id: Some(person.to_owned()),
                    states: vec![
                        VisitState::Planned,
                        VisitState::Scheduled,
                        VisitState::InProgress,
                        VisitState::Missed,
                    ],
                    due_end: Some(from),
                    ..VisitFilter::default()
                },
                None,
                AGENDA_MAX + 1,
            )
            .await?;
        let booked: Vec<Booking> = self.store.bookings(person, from, until).await?;
        let field_jobs: Vec<String> = booked
            .iter()
            .filter(|b| b.kind == "field job")
            .map(|b| b.id.clone())
            .collect();
        let max = usize::try_from(AGENDA_MAX).unwrap_or(usize::MAX);
        let truncated = visits.len() > max || overdue.len() > max;
        visits.truncate(max);
        overdue.truncate(max);
        let zone = self.rules.zone;
        let load = booking::load(
            &booked,
            zone.date(from),
            zone.date(until - chrono::TimeDelta::microseconds(1))
                .succ_opt()
                .unwrap_or_else(|| zone.date(until)),
            zone,
        );
        Ok(Agenda {
            visits,
            field_jobs,
            overdue,
            load,
            truncated,
        })
    }
}
