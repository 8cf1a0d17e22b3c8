//! Activity use cases: recording what other services report (once per sender event) and the
//! process indicators of a period, per agent and in total.

use std::collections::HashMap;

use csops_runtime::paging::Cursor;
use csops_runtime::{time, Error};

use super::{new_id, Feedback};
use crate::domain::indicators::{
    Activity, ActivityCounts, Indicators, NewActivity, Period, SurveyCounts,
};
use crate::store::activities::Scope;

impl Feedback {
    /// Records what another service reports, once per (source_service, source_event_id);
    /// returns true when that event had been recorded before (nothing changed).
    pub async fn record_activity(&self, input: NewActivity) -> Result<bool, Error> {
        let activity = Activity::record(new_id("act"), input, time::now())?;
        let written = self.store.insert_activity(&activity).await?;
        let r = &activity.reported;
        if written {
            tracing::info!(
                activity_id = %activity.id,
                kind = r.kind.code(),
                agent_id = %r.agent_id,
                source_service = %r.source_service,
                source_event_id = %r.source_event_id,
                "activity recorded"
            );
        } else {
            tracing::debug!(
                source_service = %r.source_service,
                source_event_id = %r.source_event_id,
                "activity recorded before"
            );
        }
        Ok(!written)
    }

    /// The indicators over `period` of up to `limit` agents after `after` (by agent id; only
    /// `agent_ids` when not empty) and the total over every agent of the filter (the same on
    /// every page). With no agents named, the total
    /// covers every activity of the period, with an agent or without (a complaint nobody was
    /// assigned yet still counts), and every survey sent in it.
    pub async fn list_process_indicators(
        &self,
        period: Period,
        agent_ids: &[String],
        after: Option<&Cursor>,
        limit: u32,
    ) -> Result<(Vec<Indicators>, Indicators), Error> {
        let rules = &self.rules.indicators;
        let window = rules.repeat_window.num_microseconds().unwrap_or(i64::MAX);
        let grades = &self.rules.surveys.grades;
        let agents = self
            .store
            .indicator_agents(period, agent_ids, after.map(|c| c.id.as_str()), limit)
            .await?;
        let mut rows = Vec::with_capacity(agents.len());
        if !agents.is_empty() {
            let scope = Scope::Each(&agents);
            let counts: HashMap<String, ActivityCounts> = self
                .store
                .activity_counts(period, scope, window)
                .await?
                .into_iter()
                .collect();
            let surveys: HashMap<String, SurveyCounts> = self
                .store
                .survey_counts(period, scope)
                .await?
                .into_iter()
                .collect();
            for agent in &agents {
                rows.push(Indicators::compute(
                    agent,
                    period,
                    &counts.get(agent).copied().unwrap_or_default(),
                    &surveys.get(agent).copied().unwrap_or_default(),
                    grades,
                ));
            }
        }
        let scope = if agent_ids.is_empty() {
            Scope::Everything
        } else {
            Scope::Together(agent_ids)
        };
        let counts = self.store.activity_counts(period, scope, window).await?;
        let surveys = self.store.survey_counts(period, scope).await?;
        let total = Indicators::compute(
            "",
            period,
            &counts.first().map(|(_, c)| *c).unwrap_or_default(),
            &surveys.first().map(|(_, s)| *s).unwrap_or_default(),
            grades,
        );
        Ok((rows, total))
    }
}
