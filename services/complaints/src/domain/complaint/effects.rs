//! What a change of a complaint causes besides the complaint itself. Every changing method
//! returns its [`Effects`]; the store writes them in the same transaction as the complaint.

use crate::domain::types::{Entry, OutboxEvent, SlaEvent};
use crate::domain::vocabulary::Level;

/// The claim that makes an automatic escalation happen once: the store keeps one row per
/// (complaint, subject, level), so a second watcher escalating the same breach fails to save.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EscalationKey {
    /// What was breached: `clock:<clock id>` or `promise:<promise id>`.
    pub subject: String,
    /// The level escalated to.
    pub level: Level,
}

/// Everything one change caused, each list in the order it happened.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[must_use = "a change's effects are lost unless they are saved with the complaint"]
pub struct Effects {
    /// Timeline entries to append (their sequences continue the complaint's timeline).
    pub entries: Vec<Entry>,
    /// SLA events to record for the SLA streams.
    pub sla_events: Vec<SlaEvent>,
    /// Events for other services, delivered by the outbox relay.
    pub outbox: Vec<OutboxEvent>,
    /// Exactly-once keys of the automatic escalations.
    pub escalation_keys: Vec<EscalationKey>,
}

impl Effects {
    /// Adds what a later step of the same change caused, after what is here.
    pub fn append(&mut self, later: Effects) {
        let Effects {
            entries,
            sla_events,
            outbox,
            escalation_keys,
        } = later;
        self.entries.extend(entries);
        self.sla_events.extend(sla_events);
        self.outbox.extend(outbox);
        self.escalation_keys.extend(escalation_keys);
    }

    /// True when the change caused nothing (the watcher's tick then changed nothing either).
    pub fn is_empty(&self) -> bool {
        let Self {
            entries,
            sla_events,
            outbox,
            escalation_keys,
        } = self;
        entries.is_empty()
            && sla_events.is_empty()
            && outbox.is_empty()
            && escalation_keys.is_empty()
    }
}
