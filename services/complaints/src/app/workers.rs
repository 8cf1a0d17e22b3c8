//! The use cases of the background workers: the breach watcher's check of one due complaint
//! and the re-evaluation of one complaint accepted with defaulted customer facts. They save
//! through the step every change shares (`Complaints::save`: version guard, effects, publish)
//! but never retry: a lost race is logged and left for a later sweep, which still finds the
//! complaint due (or still defaulted).

use chrono::TimeDelta;
use csops_runtime::time;

use super::Complaints;
use crate::clients::Lookup;
use crate::store::{Saved, StoreError};

/// How long a watcher holds a complaint it checks; another watcher may take it afterwards.
const LEASE: TimeDelta = TimeDelta::seconds(30);
/// A complaint checked without change is looked at again no sooner than this.
const MIN_RECHECK: TimeDelta = TimeDelta::seconds(1);

/// What the check of one due complaint came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Checked {
    /// Its clocks moved on: it was saved with what that caused.
    Changed,
    /// Nothing was due after all: its next check was moved out.
    Postponed,
    /// Another watcher holds it, it is gone, or it lost a race (someone saved first, or
    /// another watcher recorded the escalation): left for a later sweep.
    Skipped,
}

/// What the re-evaluation of one complaint came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reevaluated {
    /// Its clocks were corrected with the customer's facts.
    Corrected,
    /// Left as it is for now (gone, customer unknown, refused, or saved by someone else
    /// meanwhile).
    Skipped,
    /// The customers service did not answer: the rest of the pass would not fare better.
    CustomersUnreachable,
}

impl Complaints {
    /// Claims a due complaint under a lease, moves its clocks on (`Complaint::tick`: warning
    /// thresholds, breaches, broken promises, escalations) and saves it with what that caused.
    /// An unchanged complaint only has its next check postponed. Each automatic escalation
    /// holds a unique key, so with several watchers it happens exactly once.
    pub async fn tick(&self, id: &str) -> Result<Checked, StoreError> {
        let now = time::now();
        if !self
            .store
            .claim(id, &self.instance, now + LEASE, now)
            .await?
        {
            return Ok(Checked::Skipped);
        }
        let Some(mut complaint) = self.store.get(id).await? else {
            return Ok(Checked::Skipped);
        };
        let read_version = complaint.version;
        let now = time::now();
        let effects = complaint.tick(&self.rules, now);
        if effects.is_empty() {
            let next = complaint
                .next_check(&self.rules, now)
                .map(|next| next.max(now + MIN_RECHECK));
            self.store.postpone(id, read_version, next).await?;
            return Ok(Checked::Postponed);
        }
        match self
            .save(&complaint, &effects, read_version, None, now)
            .await
        {
            Ok(Saved::Written { .. }) => Ok(Checked::Changed),
            Ok(Saved::Stale) => {
                tracing::info!(complaint_id = %id, "complaint changed during the check; next sweep retries");
                Ok(Checked::Skipped)
            }
            Err(StoreError::Duplicate(_)) => {
                tracing::info!(complaint_id = %id, "escalation already recorded by another watcher");
                Ok(Checked::Skipped)
            }
            Err(error) => Err(error),
        }
    }

    /// Re-reads the customer's facts from the customers service for a complaint accepted
    /// while it was away, and corrects the open clocks with them (`Complaint::reevaluate`).
    pub async fn reevaluate(&self, id: &str) -> Result<Reevaluated, StoreError> {
        let Some(mut complaint) = self.store.get(id).await? else {
            return Ok(Reevaluated::Skipped);
        };
        let snapshot = match self
            .customers
            .lookup(&complaint.customer_id, time::now())
            .await
        {
            Lookup::Found(snapshot) => snapshot,
            Lookup::Unreachable => return Ok(Reevaluated::CustomersUnreachable),
            Lookup::NotFound => {
                tracing::warn!(complaint_id = %id, "customer unknown to the customers service; keeping the defaults");
                return Ok(Reevaluated::Skipped);
            }
        };
        let read_version = complaint.version;
        let now = time::now();
        let mut effects = match complaint.reevaluate(snapshot, &self.rules, now) {
            Ok(effects) => effects,
            Err(error) => {
                tracing::warn!(complaint_id = %id, %error, "re-evaluation refused");
                return Ok(Reevaluated::Skipped);
            }
        };
        // Stricter facts can make a clock late at once: reported and escalated now.
        effects.append(complaint.tick(&self.rules, now));
        match self
            .save(&complaint, &effects, read_version, None, now)
            .await?
        {
            Saved::Written { .. } => {
                tracing::info!(complaint_id = %id, "clocks corrected with the customer's facts");
                Ok(Reevaluated::Corrected)
            }
            Saved::Stale => {
                tracing::info!(complaint_id = %id, "complaint changed during the re-evaluation; a later pass retries");
                Ok(Reevaluated::Skipped)
            }
        }
    }
}
