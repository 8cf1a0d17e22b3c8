//! Extra work proposed on site and the customer's recorded consent to it.

use chrono::{DateTime, TimeDelta, Utc};

use super::{
    invalid, money, required_text, Consent, ConsentInput, ConsentState, ExtraWork, ExtraWorkInput,
    FieldJob, FieldJobState, MAX_EXTRA_WORK, MAX_SPAN, SKEW,
};
use crate::domain::{Actor, RuleError, Violations};

impl FieldJob {
    /// True while any extra work waits for the customer's answer.
    pub fn consent_pending(&self) -> bool {
        self.extra_work
            .iter()
            .any(|w| w.consent_state == ConsentState::Pending)
    }

    /// Proposes extra work or cost on an IN_PROGRESS job; its consent is PENDING.
    pub fn propose_extra_work(
        &mut self,
        input: ExtraWorkInput,
        actor: &Actor,
        now: DateTime<Utc>,
    ) -> Result<ExtraWork, RuleError> {
        let ExtraWorkInput {
            description,
            cost_minor,
            currency_code,
            extra_time,
            estimated_completion_time,
            replaced_parts,
        } = input;
        let mut v = Violations::default();
        required_text(
            &mut v,
            "extra_work.description",
            &description,
            "say what extra work is needed and why",
        );
        money(
            &mut v,
            "extra_work.cost_minor",
            cost_minor,
            "extra_work.currency_code",
            &currency_code,
        );
        if extra_time.is_some_and(|d| d < TimeDelta::zero()) {
            v.push("extra_work.extra_time", "must not be negative");
        }
        if estimated_completion_time <= now {
            v.push(
                "extra_work.estimated_completion_time",
                "must be in the future",
            );
        } else if estimated_completion_time > now + MAX_SPAN {
            v.push(
                "extra_work.estimated_completion_time",
                "must be at most 366 days ahead",
            );
        }
        invalid(v)?;
        if self.state != FieldJobState::InProgress {
            return Err(RuleError::Precondition(format!(
                "field job {} is {}; extra work is proposed only while it is in_progress",
                self.id,
                self.state.code()
            )));
        }
        if self.extra_work.len() >= MAX_EXTRA_WORK {
            return Err(RuleError::Precondition(format!(
                "field job {} already has {MAX_EXTRA_WORK} extra work items, the most one job \
                 takes",
                self.id
            )));
        }
        let work = ExtraWork {
            id: format!("xw-{}", self.extra_work.len() + 1),
            description: description.trim().to_owned(),
            cost_minor,
            currency_code,
            extra_time: extra_time.unwrap_or_else(TimeDelta::zero),
            consent_state: ConsentState::Pending,
            consent: None,
            proposed_by: actor.clone(),
            propose_time: now,
            estimated_completion_time,
            replaced_parts,
        };
        self.extra_work.push(work.clone());
        self.update_time = now;
        Ok(work)
    }

    /// Records the customer's answer to pending extra work.
    pub fn record_consent(
        &mut self,
        extra_work_id: &str,
        answer: ConsentInput,
        actor: &Actor,
        now: DateTime<Utc>,
    ) -> Result<(), RuleError> {
        let ConsentInput {
            granted,
            method,
            signer_name,
            evidence_ref,
            consent_time,
        } = answer;
        let Some(i) = self.extra_work.iter().position(|w| w.id == extra_work_id) else {
            return Err(RuleError::NotFound(format!(
                "field job {} has no extra work {extra_work_id}",
                self.id
            )));
        };
        let consent_time = consent_time.unwrap_or(now);
        let mut v = Violations::default();
        required_text(
            &mut v,
            "consent.signer_name",
            &signer_name,
            "name the person who signed or agreed",
        );
        if method.needs_evidence() && evidence_ref.trim().is_empty() {
            v.push(
                "consent.evidence_ref",
                "is required for a signed form or an electronic signature: the form number or \
                 the stored signature's id",
            );
        }
        if consent_time > now + SKEW {
            v.push("consent.consent_time", "must not be in the future");
        } else if consent_time < self.extra_work[i].propose_time {
            v.push(
                "consent.consent_time",
                "must not be before the extra work was proposed",
            );
        }
        invalid(v)?;
        if !matches!(
            self.state,
            FieldJobState::InProgress | FieldJobState::Paused
        ) {
            return Err(RuleError::Precondition(format!(
                "field job {} is {}; consent is recorded only while it is in_progress or paused",
                self.id,
                self.state.code()
            )));
        }
        let work = &mut self.extra_work[i];
        if work.consent_state != ConsentState::Pending {
            return Err(RuleError::Precondition(format!(
                "extra work {} of field job {} is already {}; the customer's answer is recorded \
                 once",
                work.id,
                self.id,
                work.consent_state.code()
            )));
        }
        work.consent_state = if granted {
            ConsentState::Granted
        } else {
            ConsentState::Refused
        };
        work.consent = Some(Consent {
            method,
            signer_name: signer_name.trim().to_owned(),
            evidence_ref: evidence_ref.trim().to_owned(),
            consent_time,
            recorded_by: actor.clone(),
        });
        self.update_time = now;
        Ok(())
    }
}
