//! Callback use cases: schedule (once per sender event), read, list, and change through the
//! state machine (etag, retry on a lost race, retry keys, the outcome events for the
//! complaints service in the same transaction).

use chrono::{DateTime, Utc};
use csops_runtime::change::{self, Attempt};
use csops_runtime::idempotency::{Key, Recorded};
use csops_runtime::paging::Cursor;
use csops_runtime::{etag, time, Error, RuleError};

use super::{event, new_id, not_found, Feedback};
use crate::domain::callback::{
    AttemptInput, Callback, CallbackOutcome, Effect, Effects, NewCallback,
};
use crate::domain::Actor;
use crate::events::Outgoing;
use crate::store::{CallbackFilter, Inserted, StoreError, Stored};

fn resource(id: &str) -> String {
    format!("callback {id}")
}

/// The events for other services of a change's effects; the rest is logged. Findings are
/// owned inside this service (their deadlines are watched here), so they send nothing.
fn outgoing(callback: &Callback, effects: &Effects) -> Vec<Outgoing> {
    let mut out = Vec::new();
    for effect in effects.iter() {
        let (complaint_id, outcome, notes, callback_time, request_id) = match effect {
            Effect::ReopenComplaint {
                complaint_id,
                reason,
                callback_time,
                request_id,
            } => (
                complaint_id,
                CallbackOutcome::Unsatisfied,
                reason.clone(),
                callback_time,
                request_id,
            ),
            Effect::ComplaintMayClose {
                complaint_id,
                callback_time,
                request_id,
            } => (
                complaint_id,
                CallbackOutcome::Satisfied,
                String::new(),
                callback_time,
                request_id,
            ),
            Effect::ComplaintCallbackUnreachable {
                complaint_id,
                attempt_time,
                request_id,
            } => (
                complaint_id,
                CallbackOutcome::Unreachable,
                String::new(),
                attempt_time,
                request_id,
            ),
            Effect::FindingOpened {
                finding_id,
                owner_agent_id,
                fix_due_time,
            } => {
                tracing::info!(callback_id = %callback.id, finding_id = %finding_id, owner_agent_id = %owner_agent_id, fix_due_time = %fix_due_time.to_rfc3339(), "callback finding opened");
                continue;
            }
            Effect::FindingFixed {
                finding_id,
                on_time,
            } => {
                tracing::info!(callback_id = %callback.id, finding_id = %finding_id, on_time, "callback finding fixed");
                continue;
            }
        };
        out.push(Outgoing::RecordCallback {
            complaint_id: complaint_id.clone(),
            callback_id: callback.id.clone(),
            outcome: outcome.code().to_owned(),
            notes,
            callback_time: *callback_time,
            request_id: request_id.clone(),
        });
    }
    out
}

impl Feedback {
    /// Returns a callback, or NOT_FOUND.
    pub async fn load_callback(&self, id: &str) -> Result<Stored, Error> {
        self.store
            .get_callback(id)
            .await?
            .ok_or_else(|| not_found("callback", id))
    }

    /// Schedules the callback an event asks for; the same event again (same key) answers the
    /// callback scheduled first, with `true`.
    pub async fn schedule_callback(
        &self,
        input: NewCallback,
        key: &Key,
        actor: Actor,
    ) -> Result<(Stored, bool), Error> {
        if let Some(first) = self.store.replay(key).await? {
            return Ok((self.load_callback(&first.resource_id).await?, true));
        }
        let now = time::now();
        let callback =
            Callback::schedule(new_id("cbk"), input, &actor, &self.rules.callbacks, now)?;
        match self.store.insert_callback(&callback, key).await? {
            Inserted::Created => {
                tracing::info!(
                    callback_id = %callback.id,
                    customer_id = %callback.customer_id,
                    subject_kind = callback.subject.kind.code(),
                    subject_id = %callback.subject.id,
                    due_time = %callback.due_time.to_rfc3339(),
                    "callback scheduled"
                );
                let id = callback.id.clone();
                Ok((self.load_callback(&id).await?, false))
            }
            Inserted::Replayed => match self.store.replay(key).await? {
                Some(first) => Ok((self.load_callback(&first.resource_id).await?, true)),
                None => Err(Error::Aborted(
                    "a concurrent call with this source_event_id did not finish; retry".into(),
                )),
            },
        }
    }

    /// (callbacks open past their due time, callbacks with a finding open past its fix
    /// deadline) at `now`: the breaches the sweep exports.
    pub async fn overdue(&self, now: DateTime<Utc>) -> Result<(i64, i64), Error> {
        Ok(self.store.count_overdue(now).await?)
    }

    /// Lists callbacks by due time.
    pub async fn list_callbacks(
        &self,
        filter: &CallbackFilter,
        after: Option<&Cursor>,
        limit: u32,
    ) -> Result<Vec<Stored>, Error> {
        Ok(self.store.list_callbacks(filter, after, limit).await?)
    }

    /// Records an attempt to reach the customer; with `key`, a retry records nothing new.
    pub async fn record_callback_attempt(
        &self,
        id: &str,
        given_etag: &str,
        input: AttemptInput,
        key: Option<&Key>,
        actor: Actor,
    ) -> Result<Stored, Error> {
        let rules = &self.rules.callbacks;
        self.change_callback(id, given_etag, key, &actor, |c, now| {
            c.record_attempt(input.clone(), &actor, rules, now)
        })
        .await
    }

    /// Cancels a callback that is no longer needed.
    pub async fn cancel_callback(
        &self,
        id: &str,
        given_etag: &str,
        reason: &str,
        actor: Actor,
    ) -> Result<Stored, Error> {
        self.change_callback(id, given_etag, None, &actor, |c, now| {
            c.cancel(reason, &actor, now)
        })
        .await
    }

    /// Marks a finding of a callback fixed.
    pub async fn fix_callback_finding(
        &self,
        id: &str,
        given_etag: &str,
        finding_id: &str,
        fix_note: &str,
        actor: Actor,
    ) -> Result<Stored, Error> {
        self.change_callback(id, given_etag, None, &actor, |c, now| {
            c.fix_finding(finding_id, fix_note, &actor, now)
        })
        .await
    }

    /// Applies `rule` to a callback if `given_etag` is current (empty: whatever is current)
    /// and saves it with the events of its effects (and `key`) unless someone saved first.
    /// The domain raises the version. A retry with `key` answers the callback as it is now.
    async fn change_callback(
        &self,
        id: &str,
        given_etag: &str,
        key: Option<&Key>,
        actor: &Actor,
        rule: impl Fn(&mut Callback, DateTime<Utc>) -> Result<Effects, RuleError> + Sync,
    ) -> Result<Stored, Error> {
        if let Some(key) = key {
            if let Some(first) = self.store.replay(key).await? {
                return self.load_callback(&first.resource_id).await;
            }
        }
        let rule = &rule;
        let changed = change::run(&resource(id), given_etag, move || async move {
            let Stored { mut callback, .. } = self.load_callback(id).await?;
            etag::check(|| resource(id), given_etag, callback.version)?;
            let read_version = callback.version;
            let now = time::now();
            let effects = rule(&mut callback, now)?;
            let events: Vec<_> = outgoing(&callback, &effects).iter().map(event).collect();
            let recorded = Recorded {
                resource_id: callback.id.clone(),
                ref_id: String::new(),
            };
            match self
                .store
                .save_callback(
                    &callback,
                    read_version,
                    &events,
                    key.map(|k| (k, &recorded)),
                )
                .await
            {
                Ok(true) => Ok(Attempt::Saved(callback)),
                Ok(false) => Ok(Attempt::Lost {
                    read_version,
                    current_version: self.load_callback(id).await?.callback.version,
                }),
                Err(e) => Err(e.into()),
            }
        })
        .await;
        let callback = match (changed, key) {
            // Another call with the same key saved first: answer the callback as it is now.
            (Err(Error::Store(StoreError::Duplicate(_))), Some(key)) => {
                return match self.store.replay(key).await? {
                    Some(first) => self.load_callback(&first.resource_id).await,
                    None => Err(Error::Aborted(
                        "a concurrent call with this request_id did not finish; retry".into(),
                    )),
                };
            }
            (changed, _) => changed?,
        };
        tracing::info!(
            callback_id = %callback.id,
            state = callback.state.code(),
            actor_id = %actor.id,
            "callback changed"
        );
        self.load_callback(&callback.id).await
    }
}
