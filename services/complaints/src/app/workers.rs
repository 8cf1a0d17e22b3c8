//! The use cases of the background workers: the breach watcher's check of a batch of due
//! complaints and the re-evaluation of one complaint accepted with defaulted customer facts.
//! Their saves are guarded by the version read (a batch's in one multi-row statement, see
//! `Store::save_checked`) but never retried: a lost race is logged and left for a later
//! sweep, which still finds the complaint due (or still defaulted).

use std::collections::HashSet;

use chrono::{DateTime, TimeDelta, Utc};
use csops_observability::TraceHeaders;
use csops_runtime::time;
use tracing::Instrument as _;

use super::Complaints;
use crate::clients::Lookup;
use crate::domain::{Complaint, Effects};
use crate::store::{BatchSaved, CheckedChange, Postponed, Saved, StoreError};

/// How long a watcher holds a complaint it checks; another watcher may take it afterwards.
const LEASE: TimeDelta = TimeDelta::seconds(30);
/// A complaint checked without change is looked at again no sooner than this.
const MIN_RECHECK: TimeDelta = TimeDelta::seconds(1);

/// What one batch of the breach watcher came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Batch {
    /// Complaints claimed (due, and held by no other watcher).
    pub due: usize,
    /// Complaints saved with a change.
    pub changed: usize,
}

/// A batch of due complaints claimed and checked in memory, to write back
/// ([`Complaints::write_checks`]).
#[derive(Debug)]
pub struct CheckedBatch {
    /// Complaints claimed.
    pub due: usize,
    now: DateTime<Utc>,
    postponed: Vec<Postponed>,
    changed: Vec<Change>,
}

/// A complaint the check changed, with what that caused and the span of its check.
#[derive(Debug)]
struct Change {
    complaint: Complaint,
    effects: Effects,
    read_version: i64,
    check: tracing::Span,
}

/// What the check of one due complaint came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Checked {
    /// Its clocks moved on: it was saved with what that caused.
    Changed,
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
    /// The first half of a breach watcher batch: claims up to `limit` due complaints under a
    /// lease in one statement and moves their clocks on in memory (`Complaint::tick`: warning
    /// thresholds, breaches, broken promises, escalations). [`Complaints::write_checks`]
    /// writes the outcome; the watcher claims the next batch while it does.
    ///
    /// Runs inside the batch's span. Each changed complaint gets a `check complaint clocks`
    /// span that continues the complaint's trace (its breach is found from there) and links to
    /// the batch, which links back to it.
    pub async fn claim_checks(&self, limit: u32) -> Result<CheckedBatch, StoreError> {
        let now = time::now();
        let claimed = self
            .store
            .claim_due(now, &self.instance, now + LEASE, limit)
            .await?;
        let due = claimed.len();
        let batch = tracing::Span::current();
        let batch_trace = TraceHeaders::of(&batch);
        let mut postponed = Vec::new();
        let mut changed = Vec::new();
        for (mut complaint, created) in claimed {
            let read_version = complaint.version;
            let effects = complaint.tick(&self.rules, now);
            if effects.is_empty() {
                let next = complaint
                    .next_check(&self.rules, now)
                    .map(|next| next.max(now + MIN_RECHECK));
                postponed.push(Postponed {
                    id: complaint.id,
                    version: read_version,
                    next_check: next,
                });
                continue;
            }
            let check = tracing::info_span!(
                "watcher.check",
                otel.name = "check complaint clocks",
                otel.kind = "internal",
                complaint_id = %complaint.id,
                csops.watcher.outcome = tracing::field::Empty,
                otel.status_code = tracing::field::Empty,
            );
            if created.continue_in(&check) {
                batch_trace.link_from(&check);
                created.link_from(&batch);
            }
            changed.push(Change {
                complaint,
                effects,
                read_version,
                check,
            });
        }
        Ok(CheckedBatch {
            due,
            now,
            postponed,
            changed,
        })
    }

    /// The second half of a breach watcher batch: the unchanged complaints have their next
    /// check postponed in one statement, the changed ones are saved with what that caused in
    /// one transaction (`Store::save_checked`). Each automatic escalation holds a unique key,
    /// so with several watchers it happens exactly once: when another watcher recorded one of
    /// the batch's escalations first, the batch is saved one complaint at a time and that
    /// complaint's save fails alone. So is a batch the database refuses for another reason
    /// than being unreachable: one complaint that cannot be written does not hold up the rest
    /// (it is logged and left for a later sweep). Runs inside the batch's span.
    pub async fn write_checks(&self, batch: CheckedBatch) -> Result<Batch, StoreError> {
        let CheckedBatch {
            due,
            now,
            postponed,
            changed,
        } = batch;
        self.store.postpone_many(&postponed).await?;
        let changes: Vec<CheckedChange<'_>> = changed
            .iter()
            .map(|change| CheckedChange {
                complaint: &change.complaint,
                effects: &change.effects,
                read_version: change.read_version,
                sla_state: change.complaint.sla_state(&self.rules, now),
                next_check: change.complaint.next_check(&self.rules, now),
                trace: TraceHeaders::of(&change.check),
            })
            .collect();
        let saved = match self.store.save_checked(&changes).await {
            Err(error @ StoreError::Unavailable(_)) => return Err(error),
            // One complaint the batch cannot write (its rows refused) must not hold up the
            // rest: the batch is saved one complaint at a time, and only that one fails.
            Err(error) => {
                tracing::warn!(
                    error = &error as &dyn std::error::Error,
                    "breach watcher batch not saved; saving one by one"
                );
                BatchSaved::EscalatedBefore
            }
            Ok(saved) => saved,
        };
        let written = match saved {
            BatchSaved::Written { ids, sla_events } => {
                self.published(sla_events);
                let ids: HashSet<&str> = ids.iter().map(String::as_str).collect();
                for change in &changed {
                    let outcome = if ids.contains(change.complaint.id.as_str()) {
                        Checked::Changed
                    } else {
                        tracing::info!(complaint_id = %change.complaint.id, "complaint changed during the check; next sweep retries");
                        Checked::Skipped
                    };
                    change
                        .check
                        .record("csops.watcher.outcome", tracing::field::debug(outcome));
                }
                ids.len()
            }
            BatchSaved::EscalatedBefore => {
                tracing::info!("breach watcher batch saved one complaint at a time");
                let mut written = 0;
                for change in &changed {
                    let outcome = self
                        .save_one(&change.complaint, &change.effects, change.read_version, now)
                        .instrument(change.check.clone())
                        .await;
                    match outcome {
                        Ok(outcome) => {
                            change
                                .check
                                .record("csops.watcher.outcome", tracing::field::debug(outcome));
                            written += usize::from(outcome == Checked::Changed);
                        }
                        Err(error @ StoreError::Unavailable(_)) => return Err(error),
                        // Only the status: a database error's text can quote stored values.
                        Err(error) => {
                            change.check.record("otel.status_code", "ERROR");
                            tracing::warn!(
                                complaint_id = %change.complaint.id,
                                error = &error as &dyn std::error::Error,
                                "complaint check not saved; a later sweep retries"
                            );
                        }
                    }
                }
                written
            }
        };
        Ok(Batch {
            due,
            changed: written,
        })
    }

    /// Saves one checked complaint on its own (after its batch met an escalation recorded
    /// before): a lost race is logged and left for a later sweep.
    async fn save_one(
        &self,
        complaint: &Complaint,
        effects: &Effects,
        read_version: i64,
        now: DateTime<Utc>,
    ) -> Result<Checked, StoreError> {
        match self.save(complaint, effects, read_version, None, now).await {
            Ok(Saved::Written { .. }) => Ok(Checked::Changed),
            Ok(Saved::Stale) => {
                tracing::info!(complaint_id = %complaint.id, "complaint changed during the check; next sweep retries");
                Ok(Checked::Skipped)
            }
            Err(StoreError::Duplicate(_)) => {
                tracing::info!(complaint_id = %complaint.id, "escalation already recorded by another watcher");
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
