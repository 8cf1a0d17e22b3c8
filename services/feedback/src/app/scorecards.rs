//! Scorecard use case: every agent, team or service hall of a period scored with the weighted
//! scorecard, graded with the quotas applied over all of them, and placed in its service type.
//!
//! Every call scores every unit of the period (the quotas rank all units, so no page can be
//! graded alone); the units of a period are agents, teams or halls — thousands at most — and
//! their figures come from two grouped aggregates. The weights, the quotas and the service-type
//! line are the domain defaults; the grade thresholds are the configured survey grades.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Utc};
use csops_runtime::paging::Cursor;
use csops_runtime::{Error, RuleError};

use super::Feedback;
use crate::domain::grades::{
    Adjustment, AdjustmentKind, Metrics, Scorecard, ServiceParts, ServiceTypeRules, UnitGrade,
    UnitScore,
};
use crate::store::scorecards::{ProcessFigures, SurveyFigures, UnitCard, UnitKind};
use crate::store::StoreError;

/// A part of `part` over `whole`, 0-1; `None` when there is no whole (no data, left out).
fn rate(part: i64, whole: i64) -> Option<f64> {
    (whole > 0).then(|| part as f64 / whole as f64)
}

/// A quality side's mean perception (1-7) on the scorecard's 0-100 scale, as a survey's base
/// score maps perceptions.
fn side_score(perception: f64) -> f64 {
    ((perception - 1.0) / 6.0 * 100.0).clamp(0.0, 100.0)
}

/// The surveys' bonuses and deductions as one adjustment: a score is `base + bonuses −
/// deductions` clamped to 0-100 and the base lies within 0-100, so the net, clamped to ±100,
/// moves the score exactly as the two sums do.
fn net_adjustment(bonuses: f64, deductions: f64) -> Vec<Adjustment> {
    let net = bonuses - deductions;
    if !net.is_finite() || net == 0.0 {
        return Vec::new();
    }
    let (kind, reason) = if net > 0.0 {
        (
            AdjustmentKind::Bonus,
            "the surveys' bonuses net of deductions",
        )
    } else {
        (
            AdjustmentKind::Deduction,
            "the surveys' deductions net of bonuses",
        )
    };
    vec![Adjustment {
        kind,
        points: net.abs().min(100.0),
        reason: reason.to_owned(),
    }]
}

/// A rule refusing stored figures means the figures are wrong, not the request.
fn corrupt(unit: &str, e: RuleError) -> Error {
    StoreError::Corrupt {
        id: unit.to_owned(),
        what: e.to_string(),
    }
    .into()
}

impl Feedback {
    /// Up to `limit` scorecards of a period after `after`, by score descending then unit id,
    /// and how many units the period scored in all.
    pub async fn list_scorecards(
        &self,
        kind: UnitKind,
        start: DateTime<Utc>,
        end: DateTime<Utc>,
        after: Option<&Cursor>,
        limit: u32,
    ) -> Result<(Vec<UnitCard>, usize), Error> {
        let cards = self.scorecards(kind, start, end).await?;
        let total = cards.len();
        let page = cards
            .into_iter()
            .filter(|c| match after {
                None => true,
                Some(a) => {
                    let own = c.cursor();
                    own.key < a.key || (own.key == a.key && own.id > a.id)
                }
            })
            .take(limit as usize)
            .collect();
        Ok((page, total))
    }

    /// Every unit of the period with a score, in the listing order.
    async fn scorecards(
        &self,
        kind: UnitKind,
        start: DateTime<Utc>,
        end: DateTime<Utc>,
    ) -> Result<Vec<UnitCard>, Error> {
        let mut units: BTreeMap<String, (SurveyFigures, Option<ProcessFigures>)> = self
            .store
            .unit_survey_figures(kind, start, end)
            .await?
            .into_iter()
            .map(|(id, s)| (id, (s, None)))
            .collect();
        if kind == UnitKind::Agent {
            for (id, p) in self
                .store
                .agent_process_figures(start, end, self.rules.indicators.repeat_window)
                .await?
            {
                units.entry(id).or_default().1 = Some(p);
            }
        }
        let card = Scorecard::default();
        // A unit's side is high from 80 of 100, the grades' "meets the standard" line; a single
        // survey's quadrant uses its own, lower line (5 of 7 ≈ 66.7), so a unit whose surveys
        // each sit just above 5 can be COLD here. Choosing one line is left open (issue 12 note).
        let typing = ServiceTypeRules::default();
        let mut scored_units = Vec::with_capacity(units.len());
        for (unit_id, (s, p)) in units {
            let mut metrics = Metrics::from_scores(&s.tally.scores());
            if let Some(p) = p {
                metrics.first_contact_on_time = rate(p.first_contact_met, p.first_contact_clocks);
                metrics.resolution_on_time = rate(p.resolution_met, p.resolution_clocks);
                metrics.repeat_complaint_rate = rate(p.repeat_complaints, p.complaints);
            }
            let scored = card
                .score(
                    &metrics,
                    &net_adjustment(s.bonus_points, s.deduction_points),
                )
                .map_err(|e| corrupt(&unit_id, e))?;
            // A unit with no metric of the scorecard has no score: it is not a unit scored.
            let Some(score) = scored.score else { continue };
            // The surveys' two sides enter as one part each: procedural quality (responsiveness
            // and reliability) as responsiveness, personal quality (empathy and assurance) as
            // attitude; a side without data leaves the type open.
            let service = typing
                .classify(&ServiceParts {
                    responsiveness: s.procedural.map(side_score),
                    attitude: s.personal.map(side_score),
                    ..ServiceParts::default()
                })
                .map_err(|e| corrupt(&unit_id, e))?;
            scored_units.push((UnitScore { id: unit_id, score }, scored, service, s));
        }
        let ranked: Vec<UnitScore> = scored_units.iter().map(|(u, ..)| u.clone()).collect();
        let grades: HashMap<String, UnitGrade> = self
            .rules
            .surveys
            .grades
            .grade_units(&ranked)
            .map_err(|e| corrupt(&format!("{} scorecards", kind.code()), e))?
            .into_iter()
            .map(|g| (g.id.clone(), g))
            .collect();
        let mut cards: Vec<UnitCard> = scored_units
            .into_iter()
            .filter_map(|(unit, scored, service, s)| {
                let g = grades.get(&unit.id)?;
                Some(UnitCard {
                    earned: g.earned,
                    grade: g.grade,
                    unit_id: unit.id,
                    score: unit.score,
                    scored,
                    bonus_points: s.bonus_points,
                    deduction_points: s.deduction_points,
                    service,
                    surveys: s.surveys,
                })
            })
            .collect();
        cards.sort_by(|a, b| {
            let (a, b) = (a.cursor(), b.cursor());
            b.key.cmp(&a.key).then_with(|| a.id.cmp(&b.id))
        });
        tracing::debug!(
            unit_kind = kind.code(),
            units = cards.len(),
            "scorecards computed"
        );
        Ok(cards)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_net_adjustment_moves_a_score_as_the_two_sums_do() {
        let card = Scorecard {
            items: vec![(crate::domain::grades::Metric::Csat, 1.0)],
        };
        let metrics = Metrics {
            csat: Some(50.0),
            ..Metrics::default()
        };
        let score = |b: f64, d: f64| {
            card.score(&metrics, &net_adjustment(b, d))
                .expect("valid")
                .score
                .expect("csat present")
        };
        // 50 + 150 − 120 = 80, though each sum alone is beyond 100 points.
        assert_eq!(score(150.0, 120.0), 80.0);
        assert_eq!(score(0.0, 20.0), 30.0);
        assert_eq!(score(300.0, 0.0), 100.0);
        assert_eq!(score(0.0, 300.0), 0.0);
        assert_eq!(score(5.0, 5.0), 50.0);
    }

    #[test]
    fn rates_without_a_whole_are_left_out_and_sides_map_1_7_onto_0_100() {
        assert_eq!(rate(1, 0), None);
        assert_eq!(rate(3, 4), Some(0.75));
        assert_eq!(side_score(1.0), 0.0);
        assert_eq!(side_score(5.5), 75.0);
        assert_eq!(side_score(7.0), 100.0);
    }
}
