//! Field-job use cases: create (with the customer's SLA facts), read, list, change through the
//! state machine (etag, retry on a lost race, retry keys, the completion events in the same
//! transaction), book the engineer without double booking or overload, and the clock sweep
//! that notes breaches.

use chrono::{DateTime, Utc};
use csops_runtime::change::{self, Attempt};
use csops_runtime::idempotency::{Key, Recorded};
use csops_runtime::paging::Cursor;
use csops_runtime::{etag, time, Error};

use super::{event, not_found, Visits};
use crate::clients::Lookup;
use crate::domain::booking;
use crate::domain::field_job::{
    CompletionInput, ConsentInput, ExtraWork, ExtraWorkInput, FieldJob, JobCustomer, NewFieldJob,
    PauseReason, WindowInput,
};
use crate::domain::{new_id, Actor, Outgoing, RuleError};
use crate::store::{FieldJobFilter, Inserted, StoreError};

/// Jobs the sweep takes at a time.
const BATCH: u32 = 200;
/// Batches per sweep at most, so a stop is seen in time even with a backlog.
const MAX_BATCHES: usize = 50;

fn resource(id: &str) -> String {
    format!("field job {id}")
}

/// Whether a change books the engineer at the job's window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Booking {
    /// No.
    No,
    /// Yes: refused on a clash or a full day.
    Check,
}

/// What a rule produced: events for feedback, and what inside the job it made (an extra work
/// id, recorded with a retry key), else empty.
type Produced = (Vec<Outgoing>, String);

impl Visits {
    /// Returns a field job, or NOT_FOUND; PERMISSION_DENIED for a field engineer it is not
    /// assigned to (agents, who arrange the work with the customer, see every job).
    pub async fn load_field_job(&self, id: &str) -> Result<FieldJob, Error> {
        let job = self
            .store
            .get_field_job(id)
            .await?
            .ok_or_else(|| not_found("field job", id))?;
        csops_runtime::auth::check_owner_among(
            &[csops_runtime::auth::Role::FieldEngineer],
            &job.engineer_id,
            &format!("field job {id}"),
        )
        .map_err(Error::PermissionDenied)?;
        Ok(job)
    }

    /// Creates a field job for a customer of the customers service (the most demanding facts,
    /// flagged, when it cannot be asked) and starts its clocks; a retry with the same key
    /// answers the job the first call made.
    pub async fn create_field_job(
        &self,
        input: NewFieldJob,
        key: &Key,
        actor: Actor,
    ) -> Result<FieldJob, Error> {
        if let Some(first) = self.store.replay(key).await? {
            return self.load_field_job(&first.resource_id).await;
        }
        let customer = match self.customers.lookup(&input.customer_id).await {
            Lookup::Found(facts) => JobCustomer::of(&facts),
            Lookup::Unreachable => {
                tracing::warn!(
                    customer_id = %input.customer_id,
                    "customers service unreachable; the field job takes the most demanding limits"
                );
                JobCustomer::demanding_defaults()
            }
            Lookup::NotFound => {
                return Err(Error::precondition_on(
                    "CUSTOMER_EXISTS",
                    format!("customers/{}", input.customer_id),
                    format!(
                        "customer {} does not exist in the customers service; open the \
                         customer's file first",
                        input.customer_id
                    ),
                ))
            }
        };
        let now = time::now();
        let policy = &self.rules.policy;
        let mut job = FieldJob::new(new_id("fjb"), input, customer, policy, actor, now)?;
        // An order accepted long ago may be late already.
        for clock_id in job.watch(policy, now) {
            tracing::warn!(field_job_id = %job.id, clock_id, "field job clock breached");
        }
        let next_check = job.next_check(policy, now);
        match self
            .store
            .insert_field_job(&job, Some(key), next_check)
            .await?
        {
            Inserted::Created => {
                tracing::info!(
                    field_job_id = %job.id,
                    customer_id = %job.customer_id,
                    kind = job.kind.code(),
                    defaulted = job.customer.defaulted,
                    "field job created"
                );
                Ok(job)
            }
            Inserted::Replayed => match self.store.replay(key).await? {
                Some(first) => self.load_field_job(&first.resource_id).await,
                None => Err(Error::Aborted(
                    "a concurrent call with this request_id did not finish; retry".into(),
                )),
            },
        }
    }

    /// Lists field jobs.
    pub async fn list_field_jobs(
        &self,
        filter: &FieldJobFilter,
        after: Option<&Cursor>,
        limit: u32,
    ) -> Result<Vec<FieldJob>, Error> {
        Ok(self.store.list_field_jobs(filter, after, limit).await?)
    }

    /// Records (or moves) the window agreed with the customer, refused when the engineer is
    /// booked then or their day is full.
    pub async fn agree_field_job_window(
        &self,
        id: &str,
        given_etag: &str,
        window: WindowInput,
        actor: Actor,
    ) -> Result<FieldJob, Error> {
        let (job, _) = self
            .change_field_job(id, given_etag, Booking::Check, None, &actor, |job, now| {
                job.agree_window(window.clone(), &actor, now)?;
                Ok((Vec::new(), String::new()))
            })
            .await?;
        Ok(job)
    }

    /// The engineer arrived (at `at`, default now).
    pub async fn record_field_job_arrival(
        &self,
        id: &str,
        given_etag: &str,
        at: Option<DateTime<Utc>>,
        actor: Actor,
    ) -> Result<FieldJob, Error> {
        let (job, _) = self
            .change_field_job(id, given_etag, Booking::No, None, &actor, |job, now| {
                job.arrive(at, now)?;
                Ok((Vec::new(), String::new()))
            })
            .await?;
        Ok(job)
    }

    /// The work was explained and started.
    pub async fn start_field_job(
        &self,
        id: &str,
        given_etag: &str,
        explanation: String,
        actor: Actor,
    ) -> Result<FieldJob, Error> {
        let (job, _) = self
            .change_field_job(id, given_etag, Booking::No, None, &actor, |job, now| {
                job.start(explanation.clone(), now)?;
                Ok((Vec::new(), String::new()))
            })
            .await?;
        Ok(job)
    }

    /// Proposes extra work; with `key`, a retry answers the first proposal.
    pub async fn propose_extra_work(
        &self,
        id: &str,
        given_etag: &str,
        input: ExtraWorkInput,
        key: Option<&Key>,
        actor: Actor,
    ) -> Result<(FieldJob, ExtraWork), Error> {
        let (job, work_id) = self
            .change_field_job(id, given_etag, Booking::No, key, &actor, |job, now| {
                let work = job.propose_extra_work(input.clone(), &actor, now)?;
                Ok((Vec::new(), work.id))
            })
            .await?;
        let work = job
            .extra_work
            .iter()
            .find(|w| w.id == work_id)
            .cloned()
            .ok_or_else(|| {
                Error::NotFound(format!("extra work {work_id} of field job {id} not found"))
            })?;
        Ok((job, work))
    }

    /// Records the customer's answer to extra work.
    pub async fn record_extra_work_consent(
        &self,
        id: &str,
        given_etag: &str,
        extra_work_id: &str,
        answer: ConsentInput,
        actor: Actor,
    ) -> Result<FieldJob, Error> {
        let (job, _) = self
            .change_field_job(id, given_etag, Booking::No, None, &actor, |job, now| {
                job.record_consent(extra_work_id, answer.clone(), &actor, now)?;
                Ok((Vec::new(), String::new()))
            })
            .await?;
        Ok(job)
    }

    /// Pauses a job for a delay the company did not cause.
    pub async fn pause_field_job(
        &self,
        id: &str,
        given_etag: &str,
        reason: PauseReason,
        note: String,
        actor: Actor,
    ) -> Result<FieldJob, Error> {
        let (job, _) = self
            .change_field_job(id, given_etag, Booking::No, None, &actor, |job, now| {
                job.pause(reason, note.clone(), &actor, now)?;
                Ok((Vec::new(), String::new()))
            })
            .await?;
        Ok(job)
    }

    /// Resumes a paused job.
    pub async fn resume_field_job(
        &self,
        id: &str,
        given_etag: &str,
        actor: Actor,
    ) -> Result<FieldJob, Error> {
        let (job, _) = self
            .change_field_job(id, given_etag, Booking::No, None, &actor, |job, now| {
                job.resume(&actor, now)?;
                Ok((Vec::new(), String::new()))
            })
            .await?;
        Ok(job)
    }

    /// Completes a job: its clocks stop, and the callback and the activity go to feedback
    /// through the outbox, written with the change.
    pub async fn complete_field_job(
        &self,
        id: &str,
        given_etag: &str,
        input: CompletionInput,
        actor: Actor,
    ) -> Result<FieldJob, Error> {
        let (job, _) = self
            .change_field_job(id, given_etag, Booking::No, None, &actor, |job, now| {
                Ok((job.complete(input.clone(), &actor, now)?, String::new()))
            })
            .await?;
        Ok(job)
    }

    /// Cancels a job; its clocks are cancelled.
    pub async fn cancel_field_job(
        &self,
        id: &str,
        given_etag: &str,
        reason: String,
        actor: Actor,
    ) -> Result<FieldJob, Error> {
        let (job, _) = self
            .change_field_job(id, given_etag, Booking::No, None, &actor, |job, now| {
                job.cancel(reason.clone(), &actor, now)?;
                Ok((Vec::new(), String::new()))
            })
            .await?;
        Ok(job)
    }

    /// Looks at the clocks of the jobs due by `now`: notes (and logs) breaches, and moves each
    /// job's next look. Returns how many jobs had a breach noted.
    pub async fn sweep_field_jobs(&self, now: DateTime<Utc>) -> Result<usize, Error> {
        let mut noted = 0;
        for _ in 0..MAX_BATCHES {
            let ids = self.store.field_jobs_to_check(now, BATCH).await?;
            for id in &ids {
                if self.check_field_job(id).await? {
                    noted += 1;
                }
            }
            if ids.len() < BATCH as usize || self.stop.is_cancelled() {
                break;
            }
        }
        Ok(noted)
    }

    /// Notes a job's new breaches (a change, saved like any other), or only postpones its next
    /// look when nothing is new. True when a breach was noted.
    async fn check_field_job(&self, id: &str) -> Result<bool, Error> {
        let Some(job) = self.store.get_field_job(id).await? else {
            return Ok(false);
        };
        let now = time::now();
        let policy = &self.rules.policy;
        if job.clone().watch(policy, now).is_empty() {
            // Lost to a change meanwhile: that change computed the next look itself.
            self.store
                .postpone_field_job_check(id, job.version, job.next_check(policy, now))
                .await?;
            return Ok(false);
        }
        self.change_field_job(id, "", Booking::No, None, &Actor::system(), |_, _| {
            Ok((Vec::new(), String::new()))
        })
        .await?;
        Ok(true)
    }

    /// Applies `rule` to a job if `given_etag` is current (empty: whatever is current), notes
    /// breached clocks, and saves it with the events the rule returns (and `key` with what it
    /// produced) unless someone saved first. Answers the job and what the rule produced; a
    /// retry with `key` answers what the first call produced.
    async fn change_field_job(
        &self,
        id: &str,
        given_etag: &str,
        booking: Booking,
        key: Option<&Key>,
        actor: &Actor,
        rule: impl Fn(&mut FieldJob, DateTime<Utc>) -> Result<Produced, RuleError> + Sync,
    ) -> Result<(FieldJob, String), Error> {
        if let Some(key) = key {
            if let Some(first) = self.store.replay(key).await? {
                return Ok((self.load_field_job(&first.resource_id).await?, first.ref_id));
            }
        }
        let rule = &rule;
        let changed = change::run(&resource(id), given_etag, move || async move {
            let mut job = self.load_field_job(id).await?;
            etag::check(|| resource(id), given_etag, job.version)?;
            let read_version = job.version;
            let now = time::now();
            let (outgoing, produced) = rule(&mut job, now)?;
            if booking == Booking::Check {
                self.check_engineer_booking(&job).await?;
            }
            let policy = &self.rules.policy;
            for clock_id in job.watch(policy, now) {
                tracing::warn!(field_job_id = %job.id, clock_id, "field job clock breached");
            }
            let next_check = job.next_check(policy, now);
            job.version += 1;
            job.update_time = now;
            let events: Vec<_> = outgoing.iter().map(event).collect();
            let recorded = Recorded {
                resource_id: job.id.clone(),
                ref_id: produced.clone(),
            };
            match self
                .store
                .save_field_job(
                    &job,
                    read_version,
                    &events,
                    key.map(|k| (k, &recorded)),
                    next_check,
                )
                .await
            {
                Ok(true) => Ok(Attempt::Saved((job, produced))),
                Ok(false) => Ok(Attempt::Lost {
                    read_version,
                    current_version: self.load_field_job(id).await?.version,
                }),
                Err(e) => Err(e.into()),
            }
        })
        .await;
        let (job, produced) = match (changed, key) {
            // Another call with the same key saved first: answer what it produced.
            (Err(Error::Store(StoreError::Duplicate(_))), Some(key)) => {
                match self.store.replay(key).await? {
                    Some(first) => {
                        return Ok((self.load_field_job(&first.resource_id).await?, first.ref_id))
                    }
                    None => {
                        return Err(Error::Aborted(
                            "a concurrent call with this request_id did not finish; retry".into(),
                        ))
                    }
                }
            }
            (changed, _) => changed?,
        };
        tracing::info!(
            field_job_id = %job.id,
            state = job.state.code(),
            actor_id = %actor.id,
            "field job changed"
        );
        Ok((job, produced))
    }

    /// Refuses a window that clashes with another booking of the engineer, or overfills
    /// their day.
    async fn check_engineer_booking(&self, job: &FieldJob) -> Result<(), Error> {
        let Some(window) = &job.agreed_window else {
            return Ok(());
        };
        let zone = self.rules.zone;
        let day = zone.date(window.start);
        let (from, until) = (
            zone.start_of(day).min(window.start),
            zone.end_of(day).max(window.end),
        );
        let booked = self.store.bookings(&job.engineer_id, from, until).await?;
        booking::check(
            &job.engineer_id,
            &job.id,
            window.start,
            window.end,
            &booked,
            self.rules.max_daily_bookings,
            zone,
        )
        .map_err(|e| match e {
            RuleError::Precondition(message) => {
                Error::precondition_on("BOOKING", format!("engineers/{}", job.engineer_id), message)
            }
            other => other.into(),
        })
    }
}
