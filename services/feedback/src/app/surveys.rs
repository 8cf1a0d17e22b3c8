//! Survey use cases: templates (create once per request id, revise the latest version only,
//! read, list) and surveys (send, record on the spot, answer, adjust, read, list), each change
//! through the etag and retry flow.

use chrono::{DateTime, Utc};
use csops_runtime::change::{self, Attempt};
use csops_runtime::idempotency::Key;
use csops_runtime::paging::Cursor;
use csops_runtime::{etag, time, Error, RuleError};

use super::{new_id, not_found, Feedback};
use crate::domain::grades::AdjustmentKind;
use crate::domain::survey::{AnswerInput, ItemDraft, NewSurvey, Survey, Template};
use crate::domain::Actor;
use crate::store::{Inserted, StoreError, SurveyFilter};

fn resource(id: &str) -> String {
    format!("survey {id}")
}

/// The answer to a retried create whose first call did not finish.
fn unfinished() -> Error {
    Error::Aborted("a concurrent call with this request_id did not finish; retry".into())
}

impl Feedback {
    /// Returns one version of a template (the latest when `version` is `None`), or NOT_FOUND.
    pub async fn load_template(&self, id: &str, version: Option<i32>) -> Result<Template, Error> {
        self.store
            .get_template(id, version)
            .await?
            .ok_or_else(|| match version {
                Some(v) => not_found("survey template", &format!("{id} v{v}")),
                None => not_found("survey template", id),
            })
    }

    /// Creates version 1 of a template; the same request again answers the template created
    /// first; another request for an id that exists is ALREADY_EXISTS.
    pub async fn create_template(
        &self,
        id: &str,
        title: &str,
        items: Vec<ItemDraft>,
        key: &Key,
        actor: Actor,
    ) -> Result<Template, Error> {
        if let Some(first) = self.store.replay(key).await? {
            return self.load_template(&first.resource_id, Some(1)).await;
        }
        let template = Template::create(id, title, items, &actor, time::now())?;
        match self.store.insert_template(&template, key).await {
            Ok(Inserted::Created) => {
                tracing::info!(template_id = %template.id, items = template.items.len(), actor_id = %actor.id, "survey template created");
                Ok(template)
            }
            Ok(Inserted::Replayed) => match self.store.replay(key).await? {
                Some(first) => self.load_template(&first.resource_id, Some(1)).await,
                None => Err(unfinished()),
            },
            Err(StoreError::Duplicate(_)) => Err(Error::AlreadyExists(format!(
                "survey template {id} exists already; ReviseSurveyTemplate makes its next version"
            ))),
            Err(e) => Err(e.into()),
        }
    }

    /// Makes the next version of a template from `version`, which must be the latest (ABORTED
    /// otherwise: someone revised it meanwhile).
    pub async fn revise_template(
        &self,
        id: &str,
        version: i32,
        title: &str,
        items: Vec<ItemDraft>,
        actor: Actor,
    ) -> Result<Template, Error> {
        let latest = self.load_template(id, None).await?;
        let stale = |latest: i32| {
            Error::Aborted(format!(
                "survey template {id} is at version {latest}, not {version}: read it again and \
                 revise version {latest}"
            ))
        };
        if latest.version != version {
            return Err(stale(latest.version));
        }
        let next = latest.revise(title, items, &actor, time::now())?;
        if !self.store.insert_revision(&next).await? {
            let now_latest = self.load_template(id, None).await?;
            return Err(stale(now_latest.version));
        }
        tracing::info!(template_id = %next.id, version = next.version, actor_id = %actor.id, "survey template revised");
        Ok(next)
    }

    /// Lists latest template versions by id, after the id `after`.
    pub async fn list_templates(
        &self,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Vec<Template>, Error> {
        Ok(self.store.list_templates(after, limit).await?)
    }

    /// Returns a survey, or NOT_FOUND.
    pub async fn load_survey(&self, id: &str) -> Result<Survey, Error> {
        self.store
            .get_survey(id)
            .await?
            .ok_or_else(|| not_found("survey", id))
    }

    /// Sends a survey on a template version (`None`: the latest), SENT, after the customers
    /// service confirmed the customer consented to the channel (FAILED_PRECONDITION when not,
    /// or when the file is archived; NOT_FOUND for an unknown customer; UNAVAILABLE when it
    /// cannot be asked). An empty tier or region of the slice is filled from the file.
    pub async fn send_survey(
        &self,
        input: NewSurvey,
        template_id: &str,
        version: Option<i32>,
        key: &Key,
        actor: Actor,
    ) -> Result<Survey, Error> {
        if let Some(first) = self.store.replay(key).await? {
            return self.load_survey(&first.resource_id).await;
        }
        let template = self.load_template(template_id, version).await?;
        let mut input = input;
        let customer = self.customers.profile(&input.customer_id).await?;
        if customer.archived {
            return Err(Error::precondition(format!(
                "customer {} is archived: surveys are no longer sent",
                input.customer_id
            )));
        }
        input
            .channel
            .check_consent(&input.customer_id, &customer.consents)?;
        if input.slice.customer_tier.is_empty() {
            input.slice.customer_tier = customer.tier;
        }
        if input.slice.customer_region.is_empty() {
            input.slice.customer_region = customer.region;
        }
        let survey = Survey::send(new_id("srv"), input, &template, &actor, time::now())?;
        self.insert_survey(survey, key, "survey sent").await
    }

    /// Records a survey answered on the spot (sent and answered at once).
    #[allow(clippy::too_many_arguments)]
    pub async fn create_survey(
        &self,
        input: NewSurvey,
        template_id: &str,
        version: Option<i32>,
        answers: &[AnswerInput],
        answer_time: Option<DateTime<Utc>>,
        key: &Key,
        actor: Actor,
    ) -> Result<Survey, Error> {
        if let Some(first) = self.store.replay(key).await? {
            return self.load_survey(&first.resource_id).await;
        }
        let template = self.load_template(template_id, version).await?;
        let survey = Survey::record(
            new_id("srv"),
            input,
            &template,
            answers,
            answer_time,
            &actor,
            &self.rules.surveys,
            time::now(),
        )?;
        self.insert_survey(survey, key, "survey recorded").await
    }

    async fn insert_survey(
        &self,
        survey: Survey,
        key: &Key,
        what: &'static str,
    ) -> Result<Survey, Error> {
        match self.store.insert_survey(&survey, key).await? {
            Inserted::Created => {
                tracing::info!(survey_id = %survey.id, customer_id = %survey.customer_id, template_id = %survey.template_id, state = survey.state.code(), "{what}");
                Ok(survey)
            }
            Inserted::Replayed => match self.store.replay(key).await? {
                Some(first) => self.load_survey(&first.resource_id).await,
                None => Err(unfinished()),
            },
        }
    }

    /// Adds or replaces answers of a survey.
    pub async fn answer_survey(
        &self,
        id: &str,
        given_etag: &str,
        answers: &[AnswerInput],
        answer_time: Option<DateTime<Utc>>,
        actor: &Actor,
    ) -> Result<Survey, Error> {
        let rules = &self.rules.surveys;
        let survey = self
            .change_survey(id, given_etag, |s, template, now| {
                s.answer(template, answers, answer_time, rules, now)
            })
            .await?;
        tracing::info!(survey_id = %survey.id, state = survey.state.code(), actor_id = %actor.id, "survey answered");
        Ok(survey)
    }

    /// Adds a bonus or deduction to a survey's score.
    pub async fn adjust_survey(
        &self,
        id: &str,
        given_etag: &str,
        kind: AdjustmentKind,
        points: f64,
        reason: &str,
        actor: &Actor,
    ) -> Result<Survey, Error> {
        let rules = &self.rules.surveys;
        let survey = self
            .change_survey(id, given_etag, |s, _, now| {
                s.adjust(kind, points, reason, actor, rules, now)
            })
            .await?;
        tracing::info!(survey_id = %survey.id, overall_score = ?survey.scores.overall_score, actor_id = %actor.id, "survey score adjusted");
        Ok(survey)
    }

    /// Lists surveys, newest first.
    pub async fn list_surveys(
        &self,
        filter: &SurveyFilter,
        before: Option<&Cursor>,
        limit: u32,
    ) -> Result<Vec<Survey>, Error> {
        Ok(self.store.list_surveys(filter, before, limit).await?)
    }

    /// Applies `rule` to a survey (with its template version) if `given_etag` is current
    /// (empty: whatever is current) and saves it unless someone saved first. The domain raises
    /// the version.
    async fn change_survey(
        &self,
        id: &str,
        given_etag: &str,
        rule: impl Fn(&mut Survey, &Template, DateTime<Utc>) -> Result<(), RuleError> + Sync,
    ) -> Result<Survey, Error> {
        let rule = &rule;
        change::run(&resource(id), given_etag, move || async move {
            let mut survey = self.load_survey(id).await?;
            etag::check(|| resource(id), given_etag, survey.version)?;
            let template = self
                .load_template(&survey.template_id, Some(survey.template_version))
                .await?;
            let read_version = survey.version;
            rule(&mut survey, &template, time::now())?;
            if self.store.save_survey(&survey, read_version).await? {
                Ok(Attempt::Saved(survey))
            } else {
                Ok(Attempt::Lost {
                    read_version,
                    current_version: self.load_survey(id).await?.version,
                })
            }
        })
        .await
    }
}
