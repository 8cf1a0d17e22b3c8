//! The use cases of the complaints service: the one place where a change runs (load, etag,
//! domain rule, save with the effects the rule returned, publish, retry on a lost race,
//! idempotent replay by request id). The gRPC handlers call these; the background workers call
//! theirs in `workers`, which save through the same guarded step.

mod workers;

use chrono::{DateTime, Utc};
use csops_runtime::change::{self, Attempt};
use csops_runtime::idempotency::Key;
use csops_runtime::{etag, time, Error};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use crate::clients::{CustomersClient, Lookup};
use crate::domain::{new_id, Actor, Complaint, Effects, Input, RuleError, Rules, Snapshot};
use crate::store::{Inserted, Saved, Store, StoreError};

pub use workers::{Batch, Checked, CheckedBatch, Reevaluated};

/// What the API and the background workers share: the store, the rules, the customers
/// lookup, and the signals between them.
#[derive(Debug)]
pub struct Complaints {
    /// Storage.
    pub store: Store,
    /// Configurable rules.
    pub rules: Rules,
    /// Customers lookup.
    pub customers: CustomersClient,
    /// Woken whenever this replica records SLA events (streams then poll at once).
    pub sla_recorded: Notify,
    /// Cancelled when the process stops; every background task and stream watches it.
    pub stop: CancellationToken,
    /// This replica's id (lease owner).
    pub instance: String,
}

fn resource(id: &str) -> String {
    format!("complaint {id}")
}

impl Complaints {
    /// Tells local SLA streams that a committed change recorded `sla_events` SLA events.
    fn published(&self, sla_events: usize) {
        if sla_events > 0 {
            self.sla_recorded.notify_waiters();
        }
    }

    /// Returns a complaint by id, or NOT_FOUND.
    pub async fn load(&self, id: &str) -> Result<Complaint, Error> {
        let c = self
            .store
            .get(id)
            .await?
            .ok_or_else(|| Error::NotFound(format!("{} not found", resource(id))))?;
        // Every read and change of one complaint passes here: an agent sees only the cases
        // assigned to them (and the unassigned queue).
        csops_runtime::auth::check_owner(&c.assigned_agent_id, &resource(id))
            .map_err(Error::PermissionDenied)?;
        Ok(c)
    }

    /// Records a complaint with the customer's facts from the customers service (the most
    /// demanding defaults when it is unreachable or no customer is named, re-evaluated later);
    /// a retry with the same request answers the complaint its first call recorded.
    ///
    /// A retry is found by the retry key's insert in the create's transaction, not by a read
    /// before it: a first call (the common case) makes one round trip fewer.
    pub async fn create(&self, input: Input, key: &Key, actor: Actor) -> Result<Complaint, Error> {
        let now = time::now();
        let customer_id = input.customer_id.trim().to_owned();
        let snapshot = if customer_id.is_empty() {
            Snapshot::most_demanding()
        } else {
            match self.customers.lookup(&customer_id, now).await {
                Lookup::Found(s) => s,
                Lookup::Unreachable => Snapshot::most_demanding(),
                Lookup::NotFound => {
                    // A retry of a create that succeeded answers its complaint, even when the
                    // customer's file was closed since.
                    if let Some(first) = self.store.replay(key).await? {
                        return self.load(&first.resource_id).await;
                    }
                    // Whether a customer exists is the system's state, not the request's form
                    // (AIP-193): FAILED_PRECONDITION naming the customer.
                    return Err(Error::precondition_on(
                        "CUSTOMER_EXISTS",
                        format!("customers/{customer_id}"),
                        format!(
                            "customer {customer_id} does not exist in the customers service; \
                             open the customer's file first"
                        ),
                    ));
                }
            }
        };
        let (mut c, mut effects) =
            Complaint::create(new_id("cmp"), input, snapshot, actor, &self.rules, now)
                .map_err(|e| Error::from(e).in_field("complaint"))?;
        // A complaint already late when it is recorded (a letter received days ago, a
        // backdated receive time) reports its milestones and escalates now, in the same
        // transaction, not at some later threshold.
        effects.append(c.tick(&self.rules, now));
        let sla_state = c.sla_state(&self.rules, now);
        let next = c.next_check(&self.rules, now);
        match self
            .store
            .insert(&c, &effects, key, sla_state, next)
            .await?
        {
            Inserted::Created { sla_events } => {
                tracing::info!(
                    complaint_id = %c.id,
                    severity = c.severity.code(),
                    defaulted = c.customer.defaulted,
                    "complaint created"
                );
                self.published(sla_events);
                Ok(c)
            }
            // A retry, or a concurrent call with the same key that won the race: answer what
            // the first call made (ALREADY_EXISTS when the key came with another request).
            Inserted::Replayed => match self.store.replay(key).await? {
                Some(first) => self.load(&first.resource_id).await,
                None => Err(Error::Aborted(
                    "a concurrent call with this request_id did not finish; retry".into(),
                )),
            },
        }
    }

    /// Loads a complaint, checks the etag (empty = unconditional), applies `rule` and saves
    /// the complaint with the effects the rule returned, only if nobody changed it meanwhile.
    /// An unconditional change is retried on a concurrent write; a conditional one answers
    /// ABORTED. With a retry key, a repeated call returns the complaint and the id the first
    /// call produced (`rule` returns that id beside its effects: an entry's sequence, a
    /// promise's or a compensation's id; empty when the change produces none).
    pub async fn change(
        &self,
        id: &str,
        given_etag: &str,
        retry: Option<Key>,
        rule: impl Fn(&mut Complaint, &Rules, DateTime<Utc>) -> Result<(String, Effects), RuleError>
            + Sync,
    ) -> Result<(Complaint, String), Error> {
        if let Some(key) = &retry {
            if let Some(found) = self.replay(id, key).await? {
                return Ok(found);
            }
        }
        let (rule, retry) = (&rule, &retry);
        change::run(&resource(id), given_etag, move || async move {
            let mut c = self.load(id).await?;
            etag::check(|| resource(id), given_etag, c.version)?;
            let read_version = c.version;
            let now = time::now();
            let (produced, mut effects) = rule(&mut c, &self.rules, now)?;
            // A clock the change made late (an edited receive time, a resumed pause) is
            // reported and escalated with the change itself.
            effects.append(c.tick(&self.rules, now));
            let key = retry.as_ref().map(|key| (key, produced.as_str()));
            match self.save(&c, &effects, read_version, key, now).await {
                Ok(Saved::Written { .. }) => Ok(Attempt::Saved((c, produced))),
                Ok(Saved::Stale) => Ok(Attempt::Lost {
                    read_version,
                    current_version: self.load(id).await?.version,
                }),
                Err(StoreError::Duplicate(e)) => {
                    // Another call with the same retry key won the race: answer its result.
                    if let Some(key) = retry {
                        if let Some(found) = self.replay(id, key).await? {
                            return Ok(Attempt::Saved(found));
                        }
                    }
                    Err(StoreError::Duplicate(e).into())
                }
                Err(e) => Err(e.into()),
            }
        })
        .await
    }

    /// The step every change shares: saves `c` with the effects of its change (and the retry
    /// key of the request that made it) if it is still at `read_version`, then tells the SLA
    /// streams about recorded SLA events. `Stale` when someone saved first.
    async fn save(
        &self,
        c: &Complaint,
        effects: &Effects,
        read_version: i64,
        retry: Option<(&Key, &str)>,
        now: DateTime<Utc>,
    ) -> Result<Saved, StoreError> {
        let sla_state = c.sla_state(&self.rules, now);
        let next = c.next_check(&self.rules, now);
        let saved = self
            .store
            .save(c, effects, read_version, retry, sla_state, next)
            .await?;
        if let Saved::Written { sla_events } = saved {
            self.published(sla_events);
        }
        Ok(saved)
    }

    async fn replay(&self, id: &str, key: &Key) -> Result<Option<(Complaint, String)>, Error> {
        match self.store.replay(key).await? {
            // Keys recorded before request digests existed: the same key for another complaint.
            Some(first) if first.resource_id != id => Err(Error::AlreadyExists(format!(
                "request_id {:?} was already used for complaint {}",
                key.request_id, first.resource_id
            ))),
            Some(first) => {
                tracing::info!(complaint_id = %id, scope = key.scope, "retried call answered from its first result");
                Ok(Some((self.load(id).await?, first.ref_id)))
            }
            None => Ok(None),
        }
    }
}
