//! Staff-of-the-month use cases: a supervisor or manager records an agent's month (a second
//! record for the same agent and month replaces the first: a correction, not an addition), and
//! every recorded agent of a month is evaluated when read.
//!
//! The evaluation is computed at read time, never stored: the monthly score comes from the
//! surveys rating the agent, which keep arriving (and being adjusted) after attendance is
//! recorded, and `selected` depends on every record of the month, so a stored answer would go
//! stale whenever a survey or another agent's record changed. A month holds one row per agent
//! on staff (hundreds, not millions), which one query and one aggregate read.

use std::collections::HashSet;

use chrono::{DateTime, Months, NaiveDate, Utc};
use csops_runtime::paging::Cursor;
use csops_runtime::{time, Error};

use super::Feedback;
use crate::domain::staff::{StaffMonth, StaffRules};
use crate::domain::Role;
use crate::store::staff::{StaffEvaluation, StaffRecord};
use crate::store::StoreError;

/// The instants a month ("YYYY-MM", UTC) starts and ends (exclusive).
fn period(month: &str) -> Result<(DateTime<Utc>, DateTime<Utc>), Error> {
    let first = NaiveDate::parse_from_str(&format!("{month}-01"), "%Y-%m-%d").ok();
    let start = first.and_then(|d| d.and_hms_opt(0, 0, 0));
    let end = first
        .and_then(|d| d.checked_add_months(Months::new(1)))
        .and_then(|d| d.and_hms_opt(0, 0, 0));
    match start.zip(end) {
        Some((s, e)) => Ok((s.and_utc(), e.and_utc())),
        None => Err(Error::invalid("month", "must be a month, YYYY-MM")),
    }
}

impl Feedback {
    /// Records an agent's month, replacing an earlier record of the same agent and month
    /// (attendance, leave and the whole list of penalties: the supervisor's latest word), and
    /// returns its evaluation among the month's records. Only a supervisor or a manager may
    /// (PERMISSION_DENIED). `record.update_time` is set here.
    pub async fn record_staff_month(
        &self,
        mut record: StaffRecord,
    ) -> Result<StaffEvaluation, Error> {
        let actor = &record.recorded_by;
        if !matches!(actor.role, Role::Supervisor | Role::Manager) {
            return Err(Error::PermissionDenied(format!(
                "only a supervisor or a manager records an agent's month ({} acts as {})",
                actor.id, actor.role
            )));
        }
        period(&record.month)?;
        record.update_time = time::now();
        self.store.put_staff_month(&record).await?;
        tracing::info!(
            agent_id = %record.agent_id,
            month = %record.month,
            actor_id = %record.recorded_by.id,
            leave_hours = record.leave_hours,
            attendance_lapses = record.attendance_lapses,
            penalties = record.penalties.len(),
            "staff month recorded"
        );
        self.evaluate_staff_month(&record.month)
            .await?
            .into_iter()
            .find(|e| e.record.agent_id == record.agent_id)
            .ok_or_else(|| {
                Error::Aborted(format!(
                    "the month of {} changed while it was read; retry",
                    record.agent_id
                ))
            })
    }

    /// Up to `limit` evaluations of a month after `after`, in the listing order (eligible
    /// first, then the monthly score descending, then the agent id); with `eligible_only`, the
    /// eligible ones alone. The selection is always made over every record of the month.
    pub async fn list_staff_evaluations(
        &self,
        month: &str,
        eligible_only: bool,
        after: Option<&Cursor>,
        limit: u32,
    ) -> Result<Vec<StaffEvaluation>, Error> {
        let all = self.evaluate_staff_month(month).await?;
        Ok(all
            .into_iter()
            .filter(|e| e.eligible || !eligible_only)
            .filter(|e| match after {
                None => true,
                Some(c) => {
                    let own = e.cursor();
                    own.key < c.key || (own.key == c.key && own.id > c.id)
                }
            })
            .take(limit as usize)
            .collect())
    }

    /// Every record of a month evaluated, in the listing order.
    async fn evaluate_staff_month(&self, month: &str) -> Result<Vec<StaffEvaluation>, Error> {
        let (start, end) = period(month)?;
        let records = self.store.staff_months(month).await?;
        let scores = self.store.monthly_scores(month, start, end).await?;
        let rules = StaffRules::default();
        let grades = &self.rules.surveys.grades;
        let months: Vec<StaffMonth> = records
            .iter()
            .map(|r| StaffMonth {
                agent_id: r.agent_id.clone(),
                leave_hours: r.leave_hours,
                attendance_lapses: r.attendance_lapses,
                monthly_score: scores.get(&r.agent_id).map_or(0.0, |(mean, _)| *mean),
                penalties: u32::try_from(r.penalties.len()).unwrap_or(u32::MAX),
            })
            .collect();
        let selection = rules.select(&months).map_err(|e| StoreError::Corrupt {
            id: format!("staff month {month}"),
            what: e.to_string(),
        })?;
        let chosen: HashSet<&str> = selection.chosen.iter().map(String::as_str).collect();
        let mut evaluations: Vec<StaffEvaluation> = records
            .into_iter()
            .zip(&months)
            .map(|(record, m)| {
                let surveys = scores.get(&record.agent_id).map_or(0, |(_, n)| *n);
                let ineligible_reasons = rules.reasons(m);
                StaffEvaluation {
                    full_attendance: m.attendance_lapses == 0
                        && m.leave_hours <= rules.max_leave_hours,
                    monthly_score: m.monthly_score,
                    surveys,
                    grade: (surveys > 0).then(|| grades.grade(m.monthly_score)),
                    eligible: ineligible_reasons.is_empty(),
                    ineligible_reasons,
                    selected: chosen.contains(m.agent_id.as_str()),
                    record,
                }
            })
            .collect();
        evaluations.sort_by(|a, b| {
            let (a, b) = (a.cursor(), b.cursor());
            b.key.cmp(&a.key).then_with(|| a.id.cmp(&b.id))
        });
        Ok(evaluations)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_month_runs_from_its_first_day_to_the_next_months_in_utc() {
        let (start, end) = period("2024-02").expect("valid");
        assert_eq!(start.to_rfc3339(), "2024-02-01T00:00:00+00:00");
        assert_eq!(end.to_rfc3339(), "2024-03-01T00:00:00+00:00");
        let (_, end) = period("2025-12").expect("valid");
        assert_eq!(end.to_rfc3339(), "2026-01-01T00:00:00+00:00");
        assert!(period("2025-13").is_err());
        assert!(period("2025").is_err());
    }
}
