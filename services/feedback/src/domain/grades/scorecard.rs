//! The weighted scorecard: metrics normalised to 0-100, weighted (missing ones left out and
//! the remaining weights re-normalised), then bonuses added and deductions subtracted (seed
//! 001: "对优秀、亮点给予加分 … 造成负面影响的进行倒扣分"), clamped to 0-100, with the
//! breakdown that explains the score.

use std::ops::RangeInclusive;

use csops_runtime::{RuleError, Violations};
use serde::{Deserialize, Serialize};

use super::{check_weights, weighted_mean};
use crate::domain::scores::Scores;

/// A metric a scorecard can weigh, each with its raw range and its mapping to 0-100 (higher is
/// always better after the mapping).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Metric {
    /// CSAT in percent (0-100), taken as is.
    Csat,
    /// NPS (−100..100), mapped to (nps + 100) / 2.
    Nps,
    /// Mean CES (1-7, lower is less effort), mapped to (7 − ces) / 6 × 100.
    Ces,
    /// Overall SERVQUAL gap (−6..6), mapped to (gap + 6) / 12 × 100: expectations exactly met
    /// (gap 0) give 50.
    ServqualGap,
    /// First contact within its time limit, as a fraction (0-1), × 100.
    FirstContactOnTime,
    /// Resolution within its time limit, as a fraction (0-1), × 100.
    ResolutionOnTime,
    /// Complaints repeated within 30 days, as a fraction of complaints (0-1), inverted:
    /// (1 − rate) × 100.
    RepeatComplaintRate,
}

impl Metric {
    /// Every metric.
    pub const ALL: [Metric; 7] = [
        Metric::Csat,
        Metric::Nps,
        Metric::Ces,
        Metric::ServqualGap,
        Metric::FirstContactOnTime,
        Metric::ResolutionOnTime,
        Metric::RepeatComplaintRate,
    ];

    /// The metric's name in snake case, as field paths and serde write it.
    pub fn name(self) -> &'static str {
        match self {
            Metric::Csat => "csat",
            Metric::Nps => "nps",
            Metric::Ces => "ces",
            Metric::ServqualGap => "servqual_gap",
            Metric::FirstContactOnTime => "first_contact_on_time",
            Metric::ResolutionOnTime => "resolution_on_time",
            Metric::RepeatComplaintRate => "repeat_complaint_rate",
        }
    }

    /// The range a raw value must lie in.
    pub fn range(self) -> RangeInclusive<f64> {
        match self {
            Metric::Csat => 0.0..=100.0,
            Metric::Nps => -100.0..=100.0,
            Metric::Ces => 1.0..=7.0,
            Metric::ServqualGap => -6.0..=6.0,
            Metric::FirstContactOnTime | Metric::ResolutionOnTime | Metric::RepeatComplaintRate => {
                0.0..=1.0
            }
        }
    }

    /// Maps a raw value (within [`Metric::range`]) to 0-100, higher better.
    pub fn normalise(self, raw: f64) -> f64 {
        match self {
            Metric::Csat => raw,
            Metric::Nps => (raw + 100.0) / 2.0,
            Metric::Ces => (7.0 - raw) / 6.0 * 100.0,
            // Satisfaction is expectation met (gap 0) or exceeded: full marks from 0 up, none
            // at the widest shortfall (-6); a delighted customer cannot outweigh other metrics.
            Metric::ServqualGap => ((raw + 6.0) / 6.0 * 100.0).min(100.0),
            Metric::FirstContactOnTime | Metric::ResolutionOnTime => raw * 100.0,
            Metric::RepeatComplaintRate => (1.0 - raw) * 100.0,
        }
    }
}

/// The raw metric values of one unit over a period; `None` where there is no data.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Metrics {
    /// CSAT, percent 0-100.
    pub csat: Option<f64>,
    /// NPS, −100..100.
    pub nps: Option<f64>,
    /// Mean CES, 1-7.
    pub ces: Option<f64>,
    /// Overall SERVQUAL gap, −6..6.
    pub servqual_gap: Option<f64>,
    /// First-contact on-time rate, 0-1.
    pub first_contact_on_time: Option<f64>,
    /// Resolution on-time rate, 0-1.
    pub resolution_on_time: Option<f64>,
    /// Repeat-complaint rate (within 30 days), 0-1.
    pub repeat_complaint_rate: Option<f64>,
}

impl Metrics {
    /// The survey metrics of a unit's scores; the process metrics stay empty for the caller
    /// to fill from the other services' events.
    pub fn from_scores(scores: &Scores) -> Self {
        Self {
            csat: scores.csat.value,
            nps: scores.nps.value,
            ces: scores.ces.value,
            servqual_gap: scores.servqual_gap.value,
            ..Self::default()
        }
    }

    /// One metric's raw value.
    pub fn get(&self, metric: Metric) -> Option<f64> {
        match metric {
            Metric::Csat => self.csat,
            Metric::Nps => self.nps,
            Metric::Ces => self.ces,
            Metric::ServqualGap => self.servqual_gap,
            Metric::FirstContactOnTime => self.first_contact_on_time,
            Metric::ResolutionOnTime => self.resolution_on_time,
            Metric::RepeatComplaintRate => self.repeat_complaint_rate,
        }
    }
}

/// Whether an adjustment adds or takes away points.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AdjustmentKind {
    /// Points added for a highlight (加分).
    Bonus,
    /// Points taken away for a bad incident or an unmet basic requirement (倒扣分).
    Deduction,
}

/// A bonus or a deduction on a unit's score, with its reason.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Adjustment {
    /// Bonus or deduction.
    pub kind: AdjustmentKind,
    /// Points, 0-100 (the kind gives the sign).
    pub points: f64,
    /// Why, in plain words: the grade is explained with it.
    pub reason: String,
}

/// The weights of a scorecard: metric and weight (any positive numbers; only their ratios
/// matter).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Scorecard {
    /// Each metric weighed, with its weight.
    pub items: Vec<(Metric, f64)>,
}

impl Default for Scorecard {
    /// The customer's voice weighs 60 and the process 40: CSAT 25 (the most direct measure),
    /// SERVQUAL gap 15 (satisfaction as the seeds define it), NPS 10, CES 10; resolution on
    /// time 20 (the 98 % standard is the promise made to customers), first contact on time 10,
    /// repeat complaints 10. Process indicators count because they are objective and
    /// continuous where surveys are sparse (seed 000).
    fn default() -> Self {
        Self {
            items: vec![
                (Metric::Csat, 25.0),
                (Metric::ServqualGap, 15.0),
                (Metric::Nps, 10.0),
                (Metric::Ces, 10.0),
                (Metric::ResolutionOnTime, 20.0),
                (Metric::FirstContactOnTime, 10.0),
                (Metric::RepeatComplaintRate, 10.0),
            ],
        }
    }
}

/// One metric's part in a score.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Contribution {
    /// The metric.
    pub metric: Metric,
    /// Its raw value.
    pub raw: f64,
    /// Its value mapped to 0-100.
    pub normalised: f64,
    /// Its share of the weights of the metrics present, 0-1.
    pub weight: f64,
    /// Points it brings to the base score: normalised × weight.
    pub points: f64,
}

/// A unit's score and how it came about.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Scored {
    /// The weighted metrics, in scorecard order; their points sum to `base`.
    pub contributions: Vec<Contribution>,
    /// Metrics the scorecard weighs that had no value (left out, weights re-normalised).
    pub missing: Vec<Metric>,
    /// The weighted score before adjustments, 0-100; `None` when no weighed metric has a value.
    pub base: Option<f64>,
    /// Bonus points added.
    pub bonuses: f64,
    /// Deduction points subtracted.
    pub deductions: f64,
    /// `base + bonuses − deductions`, clamped to 0-100; `None` with `base`.
    pub score: Option<f64>,
}

impl Scorecard {
    /// Scores one unit. Refuses weights that are negative, repeated or all zero
    /// (`scorecard.items[i]`), raw values outside their metric's range (`metrics.<name>`)
    /// and adjustments outside 0-100 points or without a reason (`adjustments[i].points`,
    /// `adjustments[i].reason`).
    pub fn score(
        &self,
        metrics: &Metrics,
        adjustments: &[Adjustment],
    ) -> Result<Scored, RuleError> {
        let mut v = Violations::default();
        check_weights(&self.items, "scorecard.items", &mut v);
        for metric in Metric::ALL {
            if let Some(raw) = metrics.get(metric) {
                let range = metric.range();
                if !range.contains(&raw) {
                    v.push(
                        format!("metrics.{}", metric.name()),
                        format!("must be {} to {} (got {raw})", range.start(), range.end()),
                    );
                }
            }
        }
        for (i, a) in adjustments.iter().enumerate() {
            if !(0.0..=100.0).contains(&a.points) {
                v.push(
                    format!("adjustments[{i}].points"),
                    format!("must be 0-100 (got {})", a.points),
                );
            }
            if a.reason.trim().is_empty() {
                v.push(
                    format!("adjustments[{i}].reason"),
                    "is required to explain the grade",
                );
            }
        }
        if !v.is_empty() {
            return Err(RuleError::Invalid(v));
        }

        let weighted = weighted_mean(&self.items, |m| metrics.get(m).map(|x| m.normalise(x)));
        let contributions = weighted
            .as_ref()
            .map(|(_, parts)| {
                parts
                    .iter()
                    .map(|p| Contribution {
                        metric: p.key,
                        raw: metrics.get(p.key).unwrap_or_default(),
                        normalised: p.value,
                        weight: p.share,
                        points: p.value * p.share,
                    })
                    .collect()
            })
            .unwrap_or_default();
        let missing = self
            .items
            .iter()
            .filter(|(m, w)| *w > 0.0 && metrics.get(*m).is_none())
            .map(|(m, _)| *m)
            .collect();
        let total = |kind| {
            adjustments
                .iter()
                .filter(|a| a.kind == kind)
                .map(|a| a.points)
                .sum::<f64>()
        };
        let (bonuses, deductions) = (
            total(AdjustmentKind::Bonus),
            total(AdjustmentKind::Deduction),
        );
        let base = weighted.map(|(mean, _)| mean);
        Ok(Scored {
            contributions,
            missing,
            base,
            bonuses,
            deductions,
            score: base.map(|b| (b + bonuses - deductions).clamp(0.0, 100.0)),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn adjustment(kind: AdjustmentKind, points: f64) -> Adjustment {
        Adjustment {
            kind,
            points,
            reason: "seen by the inspector".into(),
        }
    }

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-9
    }

    #[test]
    fn every_metric_maps_to_0_100_with_higher_better() {
        assert_eq!(Metric::Nps.normalise(-100.0), 0.0);
        assert_eq!(Metric::Nps.normalise(40.0), 70.0);
        assert_eq!(Metric::Ces.normalise(1.0), 100.0);
        assert_eq!(Metric::Ces.normalise(7.0), 0.0);
        assert_eq!(Metric::ServqualGap.normalise(-6.0), 0.0);
        assert_eq!(Metric::ServqualGap.normalise(-3.0), 50.0);
        assert_eq!(Metric::ServqualGap.normalise(-1.5), 75.0);
        assert_eq!(Metric::ServqualGap.normalise(0.0), 100.0);
        assert_eq!(Metric::ServqualGap.normalise(6.0), 100.0);
        assert_eq!(Metric::ResolutionOnTime.normalise(0.98), 98.0);
        assert_eq!(Metric::RepeatComplaintRate.normalise(0.25), 75.0);
    }

    #[test]
    fn a_full_scorecard_gives_the_weighted_score_computed_by_hand() {
        let metrics = Metrics {
            csat: Some(90.0),                  // 90
            nps: Some(60.0),                   // (60 + 100) / 2 = 80
            ces: Some(2.2),                    // (7 − 2.2) / 6 × 100 = 80
            servqual_gap: Some(-1.5),          // (−1.5 + 6) / 6 × 100 = 75
            first_contact_on_time: Some(1.0),  // 100
            resolution_on_time: Some(0.98),    // 98
            repeat_complaint_rate: Some(0.05), // 95
        };
        let s = Scorecard::default().score(&metrics, &[]).expect("valid");
        // (25×90 + 15×75 + 10×80 + 10×80 + 20×98 + 10×100 + 10×95) / 100
        // = (2250 + 1125 + 800 + 800 + 1960 + 1000 + 950) / 100 = 88.85
        assert!(close(s.base.expect("all present"), 88.85), "{s:?}");
        assert!(close(s.score.expect("all present"), 88.85));
        assert!(s.missing.is_empty());
        assert_eq!(s.contributions.len(), 7);
        assert_eq!(s.contributions[0].metric, Metric::Csat);
        assert!(close(s.contributions[0].points, 22.5)); // 90 × 0.25
        let sum: f64 = s.contributions.iter().map(|c| c.points).sum();
        assert!(close(sum, 88.85));
    }

    #[test]
    fn missing_metrics_are_left_out_and_the_weights_renormalised() {
        let metrics = Metrics {
            csat: Some(96.0),
            resolution_on_time: Some(0.9),
            ..Metrics::default()
        };
        let s = Scorecard::default().score(&metrics, &[]).expect("valid");
        // CSAT 25 and resolution 20 remain: (25 × 96 + 20 × 90) / 45 = (2400 + 1800) / 45
        // = 93.333…
        assert!(close(s.base.expect("two present"), 4200.0 / 45.0));
        assert!(close(s.contributions[1].weight, 20.0 / 45.0));
        assert_eq!(
            s.missing,
            [
                Metric::ServqualGap,
                Metric::Nps,
                Metric::Ces,
                Metric::FirstContactOnTime,
                Metric::RepeatComplaintRate
            ]
        );
    }

    #[test]
    fn bonuses_and_deductions_apply_after_weighting_and_the_result_is_clamped() {
        let card = Scorecard {
            items: vec![(Metric::Csat, 1.0)],
        };
        let metrics = Metrics {
            csat: Some(92.0),
            ..Metrics::default()
        };
        let s = card
            .score(
                &metrics,
                &[
                    adjustment(AdjustmentKind::Bonus, 5.0),
                    adjustment(AdjustmentKind::Deduction, 2.0),
                ],
            )
            .expect("valid");
        // 92 + 5 − 2 = 95.
        assert_eq!(
            (s.base, s.bonuses, s.deductions, s.score),
            (Some(92.0), 5.0, 2.0, Some(95.0))
        );
        let s = card
            .score(&metrics, &[adjustment(AdjustmentKind::Bonus, 10.0)])
            .expect("valid");
        assert_eq!(s.score, Some(100.0)); // 102 clamped
        let s = card
            .score(
                &Metrics::default(),
                &[adjustment(AdjustmentKind::Bonus, 10.0)],
            )
            .expect("valid");
        assert_eq!((s.base, s.score), (None, None));
    }

    #[test]
    fn out_of_range_inputs_and_bad_weights_are_refused_by_field() {
        let card = Scorecard {
            items: vec![(Metric::Csat, -1.0), (Metric::Csat, 0.0)],
        };
        let metrics = Metrics {
            nps: Some(150.0),
            ..Metrics::default()
        };
        let mut bad = adjustment(AdjustmentKind::Deduction, f64::NAN);
        bad.reason = " ".into();
        let RuleError::Invalid(v) = card.score(&metrics, &[bad]).expect_err("invalid") else {
            panic!("expected invalid input")
        };
        let fields: Vec<&str> = v.0.iter().map(|f| f.field.as_str()).collect();
        assert_eq!(
            fields,
            [
                "scorecard.items[0]",
                "scorecard.items[1]",
                "scorecard.items",
                "metrics.nps",
                "adjustments[0].points",
                "adjustments[0].reason"
            ]
        );
        assert_eq!(v.0[3].description, "must be -100 to 100 (got 150)");
    }
}
