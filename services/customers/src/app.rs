//! The use cases of the customers service: the one place where a change runs (load, etag,
//! domain rule, save guarded by the version read with the event visits must hear of, retry on
//! a lost race, idempotent replay). The gRPC handlers validate, call one function here and
//! convert the answer.

use chrono::{DateTime, Utc};
use csops_runtime::change::{self, Attempt};
use csops_runtime::idempotency::Key;
use csops_runtime::time::now;
use csops_runtime::{Error, RuleError};

use crate::domain::{
    visits_change, ChurnPolicy, ChurnSignal, Customer, NewCustomer, VisitsSnapshot,
};
use crate::store::{Cursor, Inserted, ListFilter, SignalRecorded, Store};

/// The customers service's use cases over its store.
#[derive(Debug, Clone)]
pub struct Customers {
    store: Store,
    churn: ChurnPolicy,
}

fn resource(id: &str) -> String {
    format!("customer {id}")
}

fn new_id() -> String {
    format!("cus_{}", uuid::Uuid::now_v7().simple())
}

impl Customers {
    /// Serves customers from `store`.
    pub fn new(store: Store) -> Self {
        Self::with_churn_policy(store, ChurnPolicy::default())
    }

    /// Serves customers from `store`, adding churn signals up under `churn`.
    pub fn with_churn_policy(store: Store, churn: ChurnPolicy) -> Self {
        Self { store, churn }
    }

    /// Returns a customer by id, or NOT_FOUND.
    pub async fn get(&self, id: &str) -> Result<Customer, Error> {
        let customer = self
            .store
            .get(id)
            .await?
            .ok_or_else(|| Error::NotFound(format!("{} not found", resource(id))))?;
        // Every read and change of one file passes here: an agent sees only their own.
        csops_runtime::auth::check_owner(&customer.owner_agent_id, &resource(id))
            .map_err(Error::PermissionDenied)?;
        Ok(customer)
    }

    /// Opens a file; a retry with the same request answers the file its first call opened.
    /// The retry key and the event for visits are written in the insert's transaction, so a
    /// first call costs no extra round trip and a retry publishes nothing: only a call whose
    /// key is taken looks up what the first one made.
    pub async fn create(
        &self,
        input: NewCustomer,
        key: &Key,
        actor: &str,
    ) -> Result<Customer, Error> {
        let customer = Customer::create(new_id(), input, actor, now())
            .map_err(|e| Error::from(e).in_field("customer"))?;
        let change = visits_change(None, &customer);
        match self.store.insert(&customer, key, change.as_ref()).await? {
            Inserted::Created => {
                tracing::info!(customer_id = %customer.id, tier = customer.tier.code(), "customer created");
                Ok(customer)
            }
            // A retry, or a concurrent call with the same key that won: answer what it made.
            Inserted::Replayed => self.replayed(key).await?.ok_or_else(|| {
                Error::Aborted(
                    "a concurrent call with this request_id did not finish; retry".into(),
                )
            }),
        }
    }

    async fn replayed(&self, key: &Key) -> Result<Option<Customer>, Error> {
        match self.store.replay(key).await? {
            Some(first) => {
                tracing::info!(customer_id = %first.resource_id, "create replayed for a known request_id");
                self.get(&first.resource_id).await.map(Some)
            }
            None => Ok(None),
        }
    }

    /// Returns up to `limit` customers after `after`, in listing order.
    pub async fn list(
        &self,
        filter: &ListFilter,
        after: Option<&Cursor>,
        limit: u32,
    ) -> Result<Vec<Customer>, Error> {
        Ok(self.store.list(filter, after, limit).await?)
    }

    /// Applies `rule` to the customer if `etag` is current (empty = whatever is current) and
    /// saves it unless someone saved first, with an event for visits when what visits plans
    /// from changed (tier, key account, region, owner, dates, consents, archived).
    pub async fn change(
        &self,
        id: &str,
        etag: &str,
        rule: impl Fn(&mut Customer, DateTime<Utc>) -> Result<(), RuleError>,
    ) -> Result<Customer, Error> {
        let rule = &rule;
        change::run(&resource(id), etag, move || async move {
            let mut customer = self.get(id).await?;
            csops_runtime::etag::check(|| resource(id), etag, customer.version)?;
            let read_version = customer.version;
            let before = VisitsSnapshot::of(&customer);
            rule(&mut customer, now())?;
            let change = visits_change(Some(before), &customer);
            if self
                .store
                .save(&customer, read_version, change.as_ref())
                .await?
            {
                Ok(Attempt::Saved(customer))
            } else {
                Ok(Attempt::Lost {
                    read_version,
                    current_version: self.get(id).await?.version,
                })
            }
        })
        .await
    }

    /// Records a churn signal once per signal id. Signals come from systems without an etag,
    /// so a lost race is retried; a repeated signal answers the file as it is. Nothing is
    /// published: visits does not plan from churn signals.
    pub async fn record_churn_signal(
        &self,
        id: &str,
        signal: ChurnSignal,
    ) -> Result<Customer, Error> {
        let signal = &signal;
        change::run(&resource(id), "", move || async move {
            let mut customer = self.get(id).await?;
            let read_version = customer.version;
            customer.record_churn_signal(signal.clone(), &self.churn, now())?;
            match self
                .store
                .record_signal(&customer, read_version, signal)
                .await?
            {
                SignalRecorded::Recorded => {
                    tracing::info!(
                        customer_id = %id,
                        signal_id = %signal.signal_id,
                        level = signal.level.rank(),
                        "churn signal recorded"
                    );
                    Ok(Attempt::Saved(customer))
                }
                SignalRecorded::Duplicate => Ok(Attempt::Saved(self.get(id).await?)),
                SignalRecorded::Stale => Ok(Attempt::Lost {
                    read_version,
                    current_version: read_version + 1,
                }),
            }
        })
        .await
    }
}
