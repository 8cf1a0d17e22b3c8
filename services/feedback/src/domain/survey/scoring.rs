//! What a survey's answers and adjustments come to: the SERVQUAL figures through the scores'
//! [`Tally`] (the one place the gap formulas live), the base and overall score, the grade by
//! [`GradeRules`] and the quadrant by [`ServiceType::of`].

use serde::{Deserialize, Serialize};

use super::super::grades::{AdjustmentKind, Grade, GradeRules, ServiceType};
use super::super::scores::{Answer, Dimension, Response, Tally};
use super::Survey;

/// One dimension's expectation and perception in a survey.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct DimensionAnswer {
    /// The dimension.
    pub dimension: Dimension,
    /// Expected, 1-7.
    pub expectation: i32,
    /// Perceived, 1-7.
    pub perception: i32,
}

impl DimensionAnswer {
    /// Perception minus expectation, -6..6 (seed 003).
    pub fn gap(&self) -> i32 {
        self.perception - self.expectation
    }
}

/// What a survey's answers and adjustments come to.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SurveyScores {
    /// The CSAT answer, 1-5.
    pub csat: Option<i32>,
    /// The NPS answer, 0-10.
    pub nps: Option<i32>,
    /// The CES answer, 1-7.
    pub ces: Option<i32>,
    /// Per dimension answered, in [`Dimension::ALL`] order.
    pub dimensions: Vec<DimensionAnswer>,
    /// Mean of the dimension gaps.
    pub mean_gap: Option<f64>,
    /// Mean perception mapped from 1-7 onto 0-100: `(p - 1) / 6 * 100`.
    pub base_score: Option<f64>,
    /// Base plus bonuses minus deductions, clamped to 0-100.
    pub overall_score: Option<f64>,
    /// The grade of the overall score.
    pub grade: Option<Grade>,
    /// Mean perception of responsiveness and reliability, 1-7.
    pub procedural_quality: Option<f64>,
    /// Mean perception of empathy and assurance, 1-7.
    pub personal_quality: Option<f64>,
    /// The quadrant, once both sides have their two dimensions.
    pub service_type: Option<ServiceType>,
}

/// The thresholds a deployment configures.
#[derive(Debug, Clone, PartialEq)]
pub struct SurveyRules {
    /// Where the grades start.
    pub grades: GradeRules,
    /// The lowest side quality (1-7) that counts as high for the quadrant. Default 5.
    pub high_from: f64,
}

impl Default for SurveyRules {
    fn default() -> Self {
        Self {
            grades: GradeRules::default(),
            high_from: 5.0,
        }
    }
}

impl Survey {
    /// The scores of the answers and adjustments as they stand.
    pub fn compute(&self, rules: &SurveyRules) -> SurveyScores {
        let mut tally = Tally::default();
        tally.add(&Response {
            answers: self
                .answers
                .iter()
                .map(|a| Some(a.answer.clone()))
                .collect(),
        });
        let figures = tally.scores();
        let mut scores = SurveyScores::default();
        for a in &self.answers {
            match a.answer {
                Answer::Csat(x) => scores.csat = Some(x),
                Answer::Nps(x) => scores.nps = Some(x),
                Answer::Ces(x) => scores.ces = Some(x),
                Answer::Servqual { .. } | Answer::FreeText(_) => {}
            }
        }
        let mut dims: Vec<DimensionAnswer> = self
            .answers
            .iter()
            .filter_map(|a| match a.answer {
                Answer::Servqual {
                    dimension,
                    expectation,
                    perception,
                } => Some(DimensionAnswer {
                    dimension,
                    expectation,
                    perception,
                }),
                _ => None,
            })
            .collect();
        dims.sort_by_key(|d| d.dimension);
        scores.dimensions = dims;
        scores.mean_gap = figures.servqual_gap.value;
        let perceptions: Vec<f64> = figures
            .dimensions
            .iter()
            .filter_map(|(_, d)| d.perception)
            .collect();
        scores.base_score = mean(&perceptions).map(|p| (p - 1.0) / 6.0 * 100.0);
        let total = |kind| {
            self.adjustments
                .iter()
                .filter(|a| a.kind == kind)
                .map(|a| a.points)
                .sum::<f64>()
        };
        scores.overall_score = scores.base_score.map(|b| {
            (b + total(AdjustmentKind::Bonus) - total(AdjustmentKind::Deduction)).clamp(0.0, 100.0)
        });
        scores.grade = scores.overall_score.map(|s| rules.grades.grade(s));
        let side = |a: Dimension, b: Dimension| {
            let (pa, pb) = (
                figures.dimensions.get(a).perception,
                figures.dimensions.get(b).perception,
            );
            pa.zip(pb).map(|(x, y)| (x + y) / 2.0)
        };
        scores.procedural_quality = side(Dimension::Responsiveness, Dimension::Reliability);
        scores.personal_quality = side(Dimension::Empathy, Dimension::Assurance);
        scores.service_type = scores
            .procedural_quality
            .zip(scores.personal_quality)
            .map(|(proc, pers)| ServiceType::of(proc >= rules.high_from, pers >= rules.high_from));
        scores
    }
}

fn mean(values: &[f64]) -> Option<f64> {
    (!values.is_empty()).then(|| values.iter().sum::<f64>() / values.len() as f64)
}
