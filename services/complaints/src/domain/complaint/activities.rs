//! What the feedback service is told for its process indicators: one activity per thing that
//! happened — the complaint received, the first contact, each SLA clock's outcome — written to
//! the outbox with the change that caused it.

use chrono::{DateTime, Utc};
use csops_sla::Milestone;

use super::{Complaint, Effects};
use crate::domain::new_id;
use crate::domain::types::{Actor, OutboxEvent, Outgoing};
use crate::domain::vocabulary::{ActivityKind, ClockKind, Role};

impl Complaint {
    /// The agent the indicators count this complaint for: the assigned agent, else the
    /// accountable one (首问负责); empty when neither is known yet.
    fn handling_agent(&self) -> &str {
        if self.assigned_agent_id.is_empty() {
            &self.accountable_agent_id
        } else {
            &self.assigned_agent_id
        }
    }

    fn report(
        &self,
        fx: &mut Effects,
        kind: ActivityKind,
        agent_id: String,
        clock_kind: Option<ClockKind>,
        occur_time: DateTime<Utc>,
    ) {
        fx.outbox.push(OutboxEvent {
            id: new_id("obx"),
            event: Outgoing::Activity {
                kind,
                customer_id: self.customer_id.clone(),
                agent_id,
                complaint_id: self.id.clone(),
                category: self.nature.label(),
                clock_kind: clock_kind.map(|k| k.label()).unwrap_or_default(),
                occur_time,
            },
        });
    }

    /// COMPLAINT_RECEIVED at the receive time.
    pub(super) fn report_received(&self, fx: &mut Effects) {
        let agent = self.handling_agent().to_owned();
        self.report(
            fx,
            ActivityKind::ComplaintReceived,
            agent,
            None,
            self.receive_time,
        );
    }

    /// CONTACT_HANDLED at the contact time, for the person who made the contact (the handling
    /// agent when a system recorded it).
    pub(super) fn report_contact(&self, fx: &mut Effects, actor: &Actor, when: DateTime<Utc>) {
        let agent = if actor.role == Role::System {
            self.handling_agent().to_owned()
        } else {
            actor.id.clone()
        };
        self.report(fx, ActivityKind::ContactHandled, agent, None, when);
    }

    /// The outcome of clock `i`: CLOCK_MET or CLOCK_MET_LATE when it stopped (at its stop
    /// time), CLOCK_BREACHED when the watcher saw it breach (at its deadline). Each clock
    /// counts once: a clock whose breach was already reported sends nothing when it stops.
    pub(super) fn report_clock(
        &self,
        fx: &mut Effects,
        i: usize,
        kind: ActivityKind,
        when: DateTime<Utc>,
    ) {
        let clock = &self.clocks[i];
        let breach_reported = clock.reported.contains(&Milestone::Breach);
        if kind != ActivityKind::ClockBreached && breach_reported {
            return;
        }
        let agent = self.handling_agent().to_owned();
        self.report(fx, kind, agent, Some(clock.kind), when);
    }
}
