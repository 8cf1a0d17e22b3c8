//! Compensation: proposed within the proposer's authority, else decided by a supervisor.

use chrono::{DateTime, Utc};

use super::{text, Complaint, Effects, MAX_SHORT_NOTE};
use crate::domain::rules::Rules;
use crate::domain::types::*;
use crate::domain::vocabulary::*;
use crate::domain::{new_id, RuleError, Violations};

impl Complaint {
    fn compensation_index(&self, id: &str) -> Result<usize, RuleError> {
        self.compensations
            .iter()
            .position(|c| c.id == id)
            .ok_or_else(|| {
                RuleError::NotFound(format!("complaint {} has no compensation {id}", self.id))
            })
    }

    /// Proposes a compensation: approved at once within the proposer's authority, else pending.
    #[allow(clippy::too_many_arguments)]
    pub fn propose_compensation(
        &mut self,
        kind: Option<CompensationKind>,
        description: &str,
        amount_minor: i64,
        currency_code: &str,
        actor: &Actor,
        rules: &Rules,
        now: DateTime<Utc>,
    ) -> Result<(String, Effects), RuleError> {
        self.ensure_not_final("propose a compensation", rules)?;
        let mut v = Violations::default();
        if kind.is_none() {
            v.push("kind", "is required");
        }
        text(&mut v, "description", description, MAX_SHORT_NOTE, true);
        if amount_minor < 0 {
            v.push("amount_minor", "must be >= 0");
        }
        if currency_code.len() != 3 || !currency_code.chars().all(|c| c.is_ascii_uppercase()) {
            v.push("currency_code", "must be an ISO 4217 code such as CNY");
        }
        let Some(kind) = kind.filter(|_| v.is_empty()) else {
            return Err(RuleError::Invalid(v));
        };
        self.touch(now);
        let limit = rules.authority.limit(actor.role);
        let approval_required = amount_minor > limit;
        let compensation = Compensation {
            id: new_id("cps"),
            kind,
            description: description.to_owned(),
            amount_minor,
            currency_code: currency_code.to_owned(),
            state: if approval_required {
                CompensationState::PendingApproval
            } else {
                CompensationState::Approved
            },
            authority_limit_minor: limit,
            approval_required,
            proposed_by: actor.clone(),
            propose_time: now,
            decided_by: (!approval_required).then(|| actor.clone()),
            decide_time: (!approval_required).then_some(now),
            decision_note: String::new(),
        };
        let id = compensation.id.clone();
        self.compensations.push(compensation.clone());
        let mut fx = Effects::default();
        self.entry(
            &mut fx,
            actor,
            now,
            format!("compensation {id} {}", compensation.state.label()),
            Details::Compensation(compensation),
        );
        Ok((id, fx))
    }

    /// Approves or rejects a pending compensation.
    pub fn decide_compensation(
        &mut self,
        id: &str,
        approve: bool,
        note: &str,
        actor: &Actor,
        rules: &Rules,
        now: DateTime<Utc>,
    ) -> Result<Effects, RuleError> {
        let i = self.compensation_index(id)?;
        let mut v = Violations::default();
        text(&mut v, "note", note, MAX_SHORT_NOTE, !approve);
        if !v.is_empty() {
            return Err(RuleError::Invalid(v));
        }
        let c = &self.compensations[i];
        if c.state != CompensationState::PendingApproval {
            return Err(RuleError::Precondition(format!(
                "compensation {id} is {}; only a PENDING_APPROVAL one can be decided",
                c.state.label()
            )));
        }
        if !matches!(actor.role, Role::Supervisor | Role::Manager) {
            return Err(RuleError::PermissionDenied(format!(
                "only a supervisor or manager may decide compensation {id}; the actor is {}",
                actor.role.label()
            )));
        }
        // Four eyes: whoever proposed a compensation may withdraw it (reject) but never
        // approve it, whatever their role.
        if approve && c.proposed_by.id == actor.id {
            return Err(RuleError::PermissionDenied(format!(
                "compensation {id} was proposed by {}; another person must approve it (four eyes)",
                actor.id
            )));
        }
        let limit = rules.authority.limit(actor.role);
        if approve && c.amount_minor > limit {
            return Err(RuleError::PermissionDenied(format!(
                "compensation {id} of {} {} exceeds the {} authority limit of {limit}",
                c.amount_minor,
                c.currency_code,
                actor.role.label()
            )));
        }
        self.touch(now);
        let c = &mut self.compensations[i];
        c.state = if approve {
            CompensationState::Approved
        } else {
            CompensationState::Rejected
        };
        c.decided_by = Some(actor.clone());
        c.decide_time = Some(now);
        c.decision_note = note.to_owned();
        let c = c.clone();
        let mut fx = Effects::default();
        self.entry(
            &mut fx,
            actor,
            now,
            format!("compensation {id} {}", c.state.label()),
            Details::Compensation(c),
        );
        Ok(fx)
    }
}
