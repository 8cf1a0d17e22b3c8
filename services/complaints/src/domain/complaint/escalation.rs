//! Escalation up the chain (by hand, on a breach, for a sensitive complainant) and visits.

use chrono::{DateTime, Utc};

use super::{text, Complaint, Effects, EscalationKey, MAX_NOTE};
use crate::domain::rules::{Rules, SensitiveEscalation};
use crate::domain::types::*;
use crate::domain::vocabulary::*;
use crate::domain::{new_id, RuleError, Violations};

impl Complaint {
    /// A sensitive complainant is escalated to the first level of the chain when the policy
    /// says so: at intake, or when their demands cannot be met (`demands_unmet`: a rejected
    /// solution). Seed 003: "要求无法满足时…立即上报".
    pub(super) fn sensitive_follow_up(
        &mut self,
        fx: &mut Effects,
        demands_unmet: bool,
        rules: &Rules,
        now: DateTime<Utc>,
    ) {
        if !self.is_sensitive(rules) || self.escalation_level != Level::Agent {
            return;
        }
        let (due, note) = match rules.sensitive.escalate {
            SensitiveEscalation::Intake => (
                true,
                "media, legal or social-background complainant: escalated at once",
            ),
            SensitiveEscalation::DemandsUnmet => (
                demands_unmet,
                "media, legal or social-background complainant whose demands cannot be met: escalated at once",
            ),
        };
        if !due {
            return;
        }
        if let Some((to, owner)) = rules.chain.next(Level::Agent) {
            self.record_escalation(
                fx,
                to,
                EscalationReason::SensitiveComplainant,
                "",
                "",
                owner,
                note.into(),
                &Actor::system("complaints"),
                now,
            );
        }
    }

    /// VIP or sensitive complaint: ask the visits service once for an in-person visit.
    pub(super) fn request_visit_if_due(
        &mut self,
        fx: &mut Effects,
        rules: &Rules,
        now: DateTime<Utc>,
    ) {
        if self.visit_requested {
            return;
        }
        let sensitive = self
            .traits
            .iter()
            .find(|t| rules.sensitive.traits.contains(t));
        let reason = if let Some(t) = sensitive {
            t.code()
        } else if self.customer.key_account && !self.customer.defaulted {
            "key_account"
        } else {
            return;
        };
        self.visit_requested = true;
        fx.outbox.push(OutboxEvent {
            id: new_id("obx"),
            event: Outgoing::RequestVisit {
                complaint_id: self.id.clone(),
                customer_id: self.customer_id.clone(),
                reason: reason.to_owned(),
                due_time: now + rules.sensitive.visit_within,
                assigned_agent_id: self.assigned_agent_id.clone(),
            },
        });
    }

    #[allow(clippy::too_many_arguments)]
    fn record_escalation(
        &mut self,
        fx: &mut Effects,
        to: Level,
        reason: EscalationReason,
        clock_id: &str,
        promise_id: &str,
        escalated_to_id: String,
        note: String,
        actor: &Actor,
        now: DateTime<Utc>,
    ) {
        let escalation = Escalation {
            from: self.escalation_level,
            to,
            reason,
            clock_id: clock_id.to_owned(),
            promise_id: promise_id.to_owned(),
            escalated_to_id,
            note,
            actor: actor.clone(),
            time: now,
        };
        let summary = format!(
            "escalated {} -> {} ({})",
            self.escalation_level.label(),
            to.label(),
            reason.label()
        );
        self.escalation_level = to;
        self.escalations.push(escalation.clone());
        self.entry(fx, actor, now, summary, Details::Escalation(escalation));
    }

    /// Escalates by hand to a higher level.
    #[allow(clippy::too_many_arguments)]
    pub fn escalate(
        &mut self,
        to: Option<Level>,
        reason: Option<EscalationReason>,
        escalated_to_id: &str,
        note: &str,
        actor: &Actor,
        rules: &Rules,
        now: DateTime<Utc>,
    ) -> Result<Effects, RuleError> {
        self.ensure_not_final("escalate", rules)?;
        let mut v = Violations::default();
        match to {
            None => v.push("to_level", "is required"),
            Some(l) if l <= self.escalation_level => v.push(
                "to_level",
                format!(
                    "must be above the current level {}",
                    self.escalation_level.label()
                ),
            ),
            Some(_) => {}
        }
        if reason.is_none() {
            v.push("reason", "is required");
        }
        text(&mut v, "note", note, MAX_NOTE, false);
        let (Some(to), Some(reason)) = (to, reason) else {
            return Err(RuleError::Invalid(v));
        };
        if !v.is_empty() {
            return Err(RuleError::Invalid(v));
        }
        self.touch(now);
        let owner = if escalated_to_id.trim().is_empty() {
            rules.chain.owner(to)
        } else {
            escalated_to_id.trim().to_owned()
        };
        let mut fx = Effects::default();
        self.record_escalation(
            &mut fx,
            to,
            reason,
            "",
            "",
            owner,
            note.to_owned(),
            actor,
            now,
        );
        Ok(fx)
    }

    #[allow(clippy::too_many_arguments)]
    pub(super) fn escalate_for(
        &mut self,
        fx: &mut Effects,
        clock_id: &str,
        promise_id: &str,
        reason: EscalationReason,
        deadline: DateTime<Utc>,
        actor: &Actor,
        rules: &Rules,
        now: DateTime<Utc>,
    ) {
        let Some((to, owner)) = rules.chain.next(self.escalation_level) else {
            return;
        };
        let subject = if clock_id.is_empty() {
            format!("promise:{promise_id}")
        } else {
            format!("clock:{clock_id}")
        };
        fx.escalation_keys
            .push(EscalationKey { subject, level: to });
        self.record_escalation(
            fx,
            to,
            reason,
            clock_id,
            promise_id,
            owner,
            String::new(),
            actor,
            now,
        );
        let clock = self
            .clocks
            .iter()
            .position(|c| c.id == clock_id && !clock_id.is_empty());
        self.sla_event(
            fx,
            actor,
            now,
            clock,
            SlaEventKind::Escalated,
            0,
            deadline,
            Some(to),
            promise_id,
        );
    }
}
