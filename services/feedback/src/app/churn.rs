//! Churn use cases: the detector's sweep (signals raised once per customer, kind, episode and
//! level, pushed to the customers service through the outbox), the signals' life (acknowledge,
//! resolve), and lost customers (record, count by reason).
//!
//! The sweep walks the customers service's files one `ListCustomers` page per pass (at most
//! [`SWEEP_PAGE`] customers), reads what this service knows of those customers in one query,
//! runs the detectors and stores each new signal with its event in one transaction. Where the
//! walk stands is kept in the database (`churn_sweep`), so a restart or another replica goes on
//! from there; after the last page it starts over. At the default interval of 60 s a pass
//! covers 500 customers a minute, 720,000 a day.

use chrono::{DateTime, Utc};
use csops_runtime::change::{self, Attempt};
use csops_runtime::idempotency::Key;
use csops_runtime::paging::Cursor;
use csops_runtime::{time, Error, RuleError};

use super::{event, not_found, Feedback};
use crate::clients::{customer_page, CustomerFile, PageError};
use crate::domain::churn::tally::{self, LossCount};
use crate::domain::churn::{detect, ContactSummary, CustomerLoss, NewCustomerLoss, RiskSignal};
use crate::domain::Actor;
use crate::events::Outgoing;
use crate::store::churn::{LossInserted, SignalFilter, StoredSignal};

fn resource(id: &str) -> String {
    format!("churn signal {id}")
}

impl Feedback {
    /// One pass of the churn detector at `now` over the next page of customer files; returns
    /// the signals raised. Nothing happens when the customers service is not configured.
    pub async fn sweep_churn(&self, now: DateTime<Utc>) -> Result<usize, Error> {
        let Some(client) = self.customers.client() else {
            return Ok(0);
        };
        let token = self.store.churn_cursor().await?;
        let (files, next) = match customer_page(client.clone(), &token).await {
            Ok(page) => page,
            Err(PageError::StaleToken) => {
                tracing::info!("churn detector's page token refused; starting over");
                match customer_page(client, "").await {
                    Ok(page) => page,
                    Err(PageError::StaleToken) => unreachable!("a first page has no token"),
                    Err(PageError::Unavailable(why)) => return Err(Error::Unavailable(why)),
                }
            }
            Err(PageError::Unavailable(why)) => return Err(Error::Unavailable(why)),
        };
        let raised = self.detect_page(&files, now).await?;
        if next != token {
            self.store.set_churn_cursor(&next, now).await?;
        }
        Ok(raised)
    }

    /// Runs the detectors over one page of customers and stores the new signals.
    async fn detect_page(
        &self,
        files: &[CustomerFile],
        now: DateTime<Utc>,
    ) -> Result<usize, Error> {
        let rules = &self.rules.churn;
        let ids: Vec<String> = files.iter().map(|f| f.id.clone()).collect();
        let mut facts = self.store.contact_facts(&ids, rules.history).await?;
        let mut found = Vec::new();
        for file in files {
            let f = facts.remove(&file.id).unwrap_or_default();
            // A customer who left is no longer at risk.
            if f.lost {
                continue;
            }
            let summary = ContactSummary {
                customer_id: file.id.clone(),
                tier: file.tier,
                key_account: file.key_account,
                // Never contacted: silent since registered.
                last_contact_time: f.last_contact.unwrap_or(file.create_time),
                last_survey_answer_time: f.last_answer,
                surveys: f.surveys,
            };
            found.extend(detect(&summary, rules, now));
        }
        if found.is_empty() {
            return Ok(0);
        }
        let keys: Vec<String> = found.iter().map(|s| s.key.clone()).collect();
        let known = self.store.known_signals(&keys).await?;
        let new: Vec<_> = found
            .into_iter()
            .filter(|s| !known.contains(&s.key))
            .map(|s| {
                let signal = RiskSignal::raise(s);
                let outgoing = Outgoing::RecordChurnSignal {
                    customer_id: signal.customer_id.clone(),
                    signal_id: signal.id.clone(),
                    kind: signal.kind.code().to_owned(),
                    level: signal.level.code().to_owned(),
                    evidence: signal.evidence.clone(),
                    observe_time: signal.detect_time,
                };
                let e = event(&outgoing);
                (signal, e)
            })
            .collect();
        if new.is_empty() {
            return Ok(0);
        }
        let stored = self.store.insert_signals(&new, now).await?;
        for (s, _) in new.iter().filter(|(s, _)| stored.contains(&s.id)) {
            tracing::info!(
                signal_id = %s.id,
                customer_id = %s.customer_id,
                kind = s.kind.code(),
                level = s.level.code(),
                "churn risk signal raised"
            );
        }
        Ok(stored.len())
    }

    /// Returns a signal, or NOT_FOUND.
    pub async fn load_signal(&self, id: &str) -> Result<StoredSignal, Error> {
        self.store
            .get_signal(id)
            .await?
            .ok_or_else(|| not_found("churn signal", id))
    }

    /// Lists signals newest first.
    pub async fn list_signals(
        &self,
        filter: &SignalFilter,
        before: Option<&Cursor>,
        limit: u32,
    ) -> Result<Vec<StoredSignal>, Error> {
        Ok(self.store.list_signals(filter, before, limit).await?)
    }

    /// OPEN → ACKNOWLEDGED with what will be done (a repeat of the same acknowledge changes
    /// nothing).
    pub async fn acknowledge_signal(
        &self,
        id: &str,
        note: &str,
        actor: Actor,
    ) -> Result<StoredSignal, Error> {
        self.change_signal(id, &actor, "acknowledged", |s, now| {
            s.acknowledge(note, &actor, now)
        })
        .await
    }

    /// OPEN or ACKNOWLEDGED → RESOLVED with what was done (a repeat of the same resolve
    /// changes nothing).
    pub async fn resolve_signal(
        &self,
        id: &str,
        note: &str,
        actor: Actor,
    ) -> Result<StoredSignal, Error> {
        self.change_signal(id, &actor, "resolved", |s, now| {
            s.resolve(note, &actor, now)
        })
        .await
    }

    /// Applies `rule` to the signal as it is now and saves it unless someone saved first
    /// (then it is tried again on what they saved). A rule that changes nothing saves nothing.
    async fn change_signal(
        &self,
        id: &str,
        actor: &Actor,
        what: &str,
        rule: impl Fn(&mut RiskSignal, DateTime<Utc>) -> Result<bool, RuleError> + Sync,
    ) -> Result<StoredSignal, Error> {
        let rule = &rule;
        let changed = change::run(&resource(id), "", move || async move {
            let StoredSignal { mut signal, .. } = self.load_signal(id).await?;
            let read_version = signal.version;
            if !rule(&mut signal, time::now())? {
                return Ok(Attempt::Saved(false));
            }
            if self.store.save_signal(&signal, read_version).await? {
                Ok(Attempt::Saved(true))
            } else {
                Ok(Attempt::Lost {
                    read_version,
                    current_version: read_version + 1,
                })
            }
        })
        .await?;
        if changed {
            tracing::info!(signal_id = %id, actor_id = %actor.id, "churn risk signal {what}");
        }
        self.load_signal(id).await
    }

    /// Records a lost customer once: the same request again answers the first record; a
    /// second loss of the same customer is ALREADY_EXISTS.
    pub async fn record_loss(
        &self,
        input: NewCustomerLoss,
        key: &Key,
        actor: Actor,
    ) -> Result<CustomerLoss, Error> {
        if let Some(first) = self.store.replay(key).await? {
            return self.load_loss(&first.resource_id).await;
        }
        let loss = CustomerLoss::record(input, &actor, time::now())?;
        match self.store.insert_loss(&loss, key).await? {
            LossInserted::Created => {
                tracing::info!(
                    customer_id = %loss.customer_id,
                    reason = loss.reason.code(),
                    actor_id = %actor.id,
                    "customer loss recorded"
                );
                Ok(loss)
            }
            LossInserted::Replayed => match self.store.replay(key).await? {
                Some(first) => self.load_loss(&first.resource_id).await,
                None => Err(Error::Aborted(
                    "a concurrent call with this request_id did not finish; retry".into(),
                )),
            },
            LossInserted::Exists => Err(Error::AlreadyExists(format!(
                "the loss of customer {} was recorded already",
                loss.customer_id
            ))),
        }
    }

    async fn load_loss(&self, customer_id: &str) -> Result<CustomerLoss, Error> {
        self.store
            .get_loss(customer_id)
            .await?
            .ok_or_else(|| not_found("customer loss", customer_id))
    }

    /// The losses of [`start`, `end`) by loss time, per reason (most frequent first), and
    /// their total.
    pub async fn count_losses(
        &self,
        start: DateTime<Utc>,
        end: DateTime<Utc>,
    ) -> Result<(Vec<LossCount>, i64), Error> {
        let counts = self.store.count_losses(start, end).await?;
        Ok(tally::by_reason(&counts))
    }
}
