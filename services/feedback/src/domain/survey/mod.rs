//! Surveys: versioned [`Template`]s and the [`Survey`] a customer answers on one version.
//!
//! A survey is SENT (nothing answered), PARTIAL (some answers, not every required item) or
//! COMPLETE (every required item answered); answers may be added or replaced at any time, and
//! the state follows. What a survey's answers mean is computed with the scores' [`Tally`] (the
//! one place the formulas live) and the grades' [`GradeRules`] and [`ServiceType`], at every
//! change, and kept with the survey: a later change of the configured thresholds does not
//! regrade surveys already recorded.

mod consent;
mod scoring;
mod template;
#[cfg(test)]
mod tests;

use chrono::{DateTime, Utc};
use csops_runtime::time::{serde_micros, serde_micros_opt};
use csops_runtime::{RuleError, Violations};
use serde::{Deserialize, Serialize};

pub use consent::Reach;
pub use scoring::{DimensionAnswer, SurveyRules, SurveyScores};
pub use template::{
    AnswerInput, Item, ItemDraft, ItemForm, Template, MAX_ITEMS, MAX_ITEM_ID, MAX_PROMPT,
    MAX_TEMPLATE_ID, MAX_TITLE,
};

use super::callback::CLOCK_SKEW;
use super::grades::AdjustmentKind;
use super::scores::Answer;
use super::{coded, Actor, Role, Subject, SubjectKind};

/// Longest comment, in characters.
pub const MAX_COMMENT: usize = 4_000;
/// Longest need description, in characters.
pub const MAX_NEED: usize = 1_000;
/// Most needs one survey notes.
pub const MAX_NEEDS: usize = 20;
/// Longest adjustment reason, in characters.
pub const MAX_REASON: usize = 1_000;
/// Longest slice value (team, hall, nature, region), in characters.
pub const MAX_SLICE_VALUE: usize = 100;
/// Longest customer tier, in characters.
pub const MAX_TIER: usize = 10;

coded! {
    /// How a survey was taken.
    pub enum SurveyChannel {
        /// On a phone callback.
        Phone = "phone",
        /// By text message.
        Sms = "sms",
        /// On the web or in an app.
        Web = "web",
        /// In person.
        InPerson = "in_person",
        /// On paper.
        Paper = "paper",
    }
}

coded! {
    /// How far a survey is answered.
    pub enum SurveyState {
        /// Nothing answered yet.
        Sent = "sent",
        /// Some items answered, not every required one.
        Partial = "partial",
        /// Every required item answered.
        Complete = "complete",
    }
}

coded! {
    /// The four levels of customer needs (seed 001).
    pub enum NeedLevel {
        /// Must be met.
        Basic = "basic",
        /// Counted on.
        Expected = "expected",
        /// Wished for.
        Desired = "desired",
        /// Beyond what the customer imagined.
        Unexpected = "unexpected",
    }
}

/// A need noted in a survey and whether the service met it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Need {
    /// Its level.
    pub level: NeedLevel,
    /// The need, in the customer's words.
    pub description: String,
    /// Whether it was met.
    pub met: bool,
}

/// What a survey is counted under in aggregates.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Slice {
    /// Team of the agent rated.
    pub team_id: String,
    /// Service hall.
    pub service_hall_id: String,
    /// The complaint's nature, as complaints names it.
    pub complaint_nature: String,
    /// The customer's tier.
    pub customer_tier: String,
    /// The customer's region.
    pub customer_region: String,
}

/// One answer, with the item it answers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ItemAnswer {
    /// The item.
    pub item_id: String,
    /// The answer.
    pub answer: Answer,
}

/// A bonus or deduction on a survey's score, with who made it and when.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Adjusted {
    /// Bonus or deduction.
    pub kind: AdjustmentKind,
    /// Points, above 0 and at most 100.
    pub points: f64,
    /// The highlight or the incident.
    pub reason: String,
    /// Who made it.
    pub actor: Actor,
    /// When.
    #[serde(with = "serde_micros")]
    pub adjust_time: DateTime<Utc>,
}

/// The fields of a new survey a caller gives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewSurvey {
    /// The customer.
    pub customer_id: String,
    /// What it is about.
    pub subject: Subject,
    /// The agent rated; empty for a general survey.
    pub agent_id: String,
    /// The callback it was taken on.
    pub callback_id: String,
    /// How it is taken.
    pub channel: SurveyChannel,
    /// Needs noted.
    pub needs: Vec<Need>,
    /// Free-text comment.
    pub comment: String,
    /// What it is counted under.
    pub slice: Slice,
}

/// A survey on one template version, with the answers given so far.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Survey {
    /// `srv_…`.
    pub id: String,
    /// The customer.
    pub customer_id: String,
    /// What it is about.
    pub subject: Subject,
    /// The agent rated; empty for a general survey.
    pub agent_id: String,
    /// The callback it was taken on; empty when none.
    pub callback_id: String,
    /// How it was taken.
    pub channel: SurveyChannel,
    /// The template.
    pub template_id: String,
    /// Its version.
    pub template_version: i32,
    /// Answers given, in the template's item order.
    pub answers: Vec<ItemAnswer>,
    /// How far it is answered.
    pub state: SurveyState,
    /// Needs noted.
    pub needs: Vec<Need>,
    /// Free-text comment.
    pub comment: String,
    /// What it is counted under.
    pub slice: Slice,
    /// Bonuses and deductions, oldest first.
    pub adjustments: Vec<Adjusted>,
    /// What the answers and adjustments come to.
    pub scores: SurveyScores,
    /// When it was sent (for a survey taken on the spot: when it was answered).
    #[serde(with = "serde_micros")]
    pub send_time: DateTime<Utc>,
    /// When the customer last answered.
    #[serde(with = "serde_micros_opt")]
    pub answer_time: Option<DateTime<Utc>>,
    /// Who recorded or sent it.
    pub created_by: Actor,
    /// When it was recorded.
    #[serde(with = "serde_micros")]
    pub create_time: DateTime<Utc>,
    /// When it last changed.
    #[serde(with = "serde_micros")]
    pub update_time: DateTime<Utc>,
    /// Optimistic-concurrency version, raised by every change.
    pub version: i64,
}

impl NewSurvey {
    /// Checks what the API cannot: a subject id for every kind but GENERAL, the needs.
    fn check(&self, v: &mut Violations) {
        if self.subject.kind != SubjectKind::General && self.subject.id.is_empty() {
            v.push("subject.id", "is required unless the subject is GENERAL");
        }
        if self.needs.len() > MAX_NEEDS {
            v.push("needs", format!("must hold at most {MAX_NEEDS} needs"));
        }
        for (i, need) in self.needs.iter().enumerate() {
            let d = need.description.trim();
            if d.is_empty() || d.chars().count() > MAX_NEED {
                v.push(
                    format!("needs[{i}].description"),
                    format!("must be 1-{MAX_NEED} characters"),
                );
            }
        }
    }
}

/// Checks an answer time: not in the future (beyond clock skew), not before `sent`.
fn check_answer_time(
    t: DateTime<Utc>,
    sent: DateTime<Utc>,
    now: DateTime<Utc>,
    v: &mut Violations,
) {
    if t > now + CLOCK_SKEW {
        v.push("answer_time", "must not be in the future");
    } else if t < sent {
        v.push("answer_time", "must not be before the survey was sent");
    }
}

impl Survey {
    fn new(
        id: String,
        input: NewSurvey,
        template: &Template,
        send_time: DateTime<Utc>,
        actor: &Actor,
        now: DateTime<Utc>,
    ) -> Survey {
        let NewSurvey {
            customer_id,
            subject,
            agent_id,
            callback_id,
            channel,
            needs,
            comment,
            slice,
        } = input;
        Survey {
            id,
            customer_id,
            subject,
            agent_id,
            callback_id,
            channel,
            template_id: template.id.clone(),
            template_version: template.version,
            answers: Vec::new(),
            state: SurveyState::Sent,
            needs,
            comment,
            slice,
            adjustments: Vec::new(),
            scores: SurveyScores::default(),
            send_time,
            answer_time: None,
            created_by: actor.clone(),
            create_time: now,
            update_time: now,
            version: 1,
        }
    }

    /// A survey sent to be answered later: SENT, no answers.
    pub fn send(
        id: String,
        input: NewSurvey,
        template: &Template,
        actor: &Actor,
        now: DateTime<Utc>,
    ) -> Result<Survey, RuleError> {
        let mut v = Violations::default();
        input.check(&mut v);
        v.into_result(()).map_err(RuleError::Invalid)?;
        Ok(Self::new(id, input, template, now, actor, now))
    }

    /// A survey answered on the spot: sent when answered (`answer_time`, default now), with at
    /// least one answer. Violations name `answers[i]…`, `answer_time`, `needs[i]…`.
    #[allow(clippy::too_many_arguments)]
    pub fn record(
        id: String,
        input: NewSurvey,
        template: &Template,
        answers: &[AnswerInput],
        answer_time: Option<DateTime<Utc>>,
        actor: &Actor,
        rules: &SurveyRules,
        now: DateTime<Utc>,
    ) -> Result<Survey, RuleError> {
        let mut v = Violations::default();
        input.check(&mut v);
        let answered = answer_time.unwrap_or(now);
        check_answer_time(answered, answered, now, &mut v);
        if answers.is_empty() {
            v.push(
                "answers",
                "is required: a survey recorded on the spot carries its answers (SendSurvey \
                 sends one to answer later)",
            );
        }
        let read = template.read_answers(answers, "answers");
        if let Err(RuleError::Invalid(more)) = &read {
            v.extend(more.clone());
        }
        v.into_result(()).map_err(RuleError::Invalid)?;
        let mut survey = Self::new(id, input, template, answered, actor, now);
        survey.put_answers(template, read?, answered, rules);
        Ok(survey)
    }

    /// Adds or replaces answers (an item answered before takes the new answer); the state and
    /// the scores follow. Violations name `answers[i]…` and `answer_time`.
    pub fn answer(
        &mut self,
        template: &Template,
        answers: &[AnswerInput],
        answer_time: Option<DateTime<Utc>>,
        rules: &SurveyRules,
        now: DateTime<Utc>,
    ) -> Result<(), RuleError> {
        if template.id != self.template_id || template.version != self.template_version {
            return Err(RuleError::Precondition(format!(
                "survey {} is on template {} v{}, not {}",
                self.id,
                self.template_id,
                self.template_version,
                template.name()
            )));
        }
        let mut v = Violations::default();
        let answered = answer_time.unwrap_or(now);
        check_answer_time(answered, self.send_time, now, &mut v);
        if answers.is_empty() {
            v.push("answers", "is required");
        }
        let read = template.read_answers(answers, "answers");
        if let Err(RuleError::Invalid(more)) = &read {
            v.extend(more.clone());
        }
        v.into_result(()).map_err(RuleError::Invalid)?;
        self.put_answers(template, read?, answered, rules);
        self.touch(now);
        Ok(())
    }

    /// Adds a bonus or deduction: only a supervisor or a manager may (PERMISSION_DENIED),
    /// points above 0 and at most 100, a reason; the survey must have a score to adjust.
    pub fn adjust(
        &mut self,
        kind: AdjustmentKind,
        points: f64,
        reason: &str,
        actor: &Actor,
        rules: &SurveyRules,
        now: DateTime<Utc>,
    ) -> Result<(), RuleError> {
        if !matches!(actor.role, Role::Supervisor | Role::Manager) {
            return Err(RuleError::PermissionDenied(format!(
                "only a supervisor or a manager adjusts a survey's score ({} acts as {})",
                actor.id, actor.role
            )));
        }
        let mut v = Violations::default();
        if !(points > 0.0 && points <= 100.0) {
            v.push(
                "adjustment.points",
                format!("must be above 0 and at most 100 (got {points})"),
            );
        }
        let reason = reason.trim();
        if reason.is_empty() || reason.chars().count() > MAX_REASON {
            v.push(
                "adjustment.reason",
                format!("must be 1-{MAX_REASON} characters: the grade is explained with it"),
            );
        }
        v.into_result(()).map_err(RuleError::Invalid)?;
        if self.scores.base_score.is_none() {
            return Err(RuleError::Precondition(format!(
                "survey {} has no score to adjust: no SERVQUAL item is answered",
                self.id
            )));
        }
        self.adjustments.push(Adjusted {
            kind,
            points,
            reason: reason.to_owned(),
            actor: actor.clone(),
            adjust_time: now,
        });
        self.scores = self.compute(rules);
        self.touch(now);
        Ok(())
    }

    fn touch(&mut self, now: DateTime<Utc>) {
        self.update_time = now;
        self.version += 1;
    }

    /// Puts answers in their items' slots, in template order, and recomputes state and scores.
    fn put_answers(
        &mut self,
        template: &Template,
        read: Vec<(usize, Answer)>,
        answered: DateTime<Utc>,
        rules: &SurveyRules,
    ) {
        let mut slots: Vec<Option<Answer>> = template
            .items
            .iter()
            .map(|item| {
                self.answers
                    .iter()
                    .find(|a| a.item_id == item.item_id)
                    .map(|a| a.answer.clone())
            })
            .collect();
        for (index, answer) in read {
            slots[index] = Some(answer);
        }
        let given = |i: usize| slots[i].as_ref().is_some_and(Answer::is_given);
        self.state = if !(0..slots.len()).any(given) {
            SurveyState::Sent
        } else if template
            .items
            .iter()
            .enumerate()
            .all(|(i, item)| !item.required || given(i))
        {
            SurveyState::Complete
        } else {
            SurveyState::Partial
        };
        self.answers = template
            .items
            .iter()
            .zip(slots)
            .filter_map(|(item, slot)| {
                slot.map(|answer| ItemAnswer {
                    item_id: item.item_id.clone(),
                    answer,
                })
            })
            .collect();
        self.answer_time = Some(answered);
        self.scores = self.compute(rules);
    }
}
