//! Grades by the seed 001 service-hall rules: a weighted [`Scorecard`] gives a unit (agent,
//! team or service hall) a 0-100 score with bonuses and deductions, [`GradeRules`] turns it
//! into a [`Grade`] and applies the quotas over a set of units ([`GradeRules::grade_units`]),
//! and [`ServiceTypeRules`] places a unit among the four service types.

mod quotas;
mod scorecard;
mod service_type;

use csops_runtime::Violations;
use serde::{Deserialize, Serialize};

pub(crate) use quotas::share_of;
pub use quotas::{Quotas, UnitGrade, UnitScore};
pub use scorecard::{Adjustment, AdjustmentKind, Contribution, Metric, Metrics, Scorecard, Scored};
pub use service_type::{
    PersonalPart, ProceduralPart, ServiceParts, ServiceType, ServiceTypeRules, ServiceTyping,
};

/// A service grade. Ordered from worst to best, so `a > b` means `a` is the better grade.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Grade {
    /// Below the standard (< 80 by default).
    Fails,
    /// Meets the service standard (服务达标, 80-90 by default).
    MeetsStandard,
    /// Good (良好, 90-95 by default).
    Good,
    /// Excellent (优秀, 95 and above by default).
    Excellent,
}

impl Grade {
    /// The next grade down; [`Grade::Fails`] stays where it is.
    pub fn lower(self) -> Grade {
        match self {
            Grade::Excellent => Grade::Good,
            Grade::Good => Grade::MeetsStandard,
            Grade::MeetsStandard | Grade::Fails => Grade::Fails,
        }
    }

    /// The grade's name in plain words.
    pub fn label(self) -> &'static str {
        match self {
            Grade::Excellent => "excellent",
            Grade::Good => "good",
            Grade::MeetsStandard => "meets standard",
            Grade::Fails => "fails",
        }
    }
}

/// Where the grades start, and the quotas on the top two. A score exactly on a threshold earns
/// the higher grade (seed 001: "95 分及以上" is excellent, so 95 is excellent, 90 good, 80
/// meets standard).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct GradeRules {
    /// The lowest excellent score. Default 95.
    pub excellent_from: f64,
    /// The lowest good score. Default 90.
    pub good_from: f64,
    /// The lowest score that meets the standard; below it fails. Default 80.
    pub meets_from: f64,
    /// How many units of a set may hold the top grades.
    pub quotas: Quotas,
}

impl Default for GradeRules {
    fn default() -> Self {
        Self {
            excellent_from: 95.0,
            good_from: 90.0,
            meets_from: 80.0,
            quotas: Quotas::default(),
        }
    }
}

impl GradeRules {
    /// The grade a score earns on its own, before any quota.
    pub fn grade(&self, score: f64) -> Grade {
        if score >= self.excellent_from {
            Grade::Excellent
        } else if score >= self.good_from {
            Grade::Good
        } else if score >= self.meets_from {
            Grade::MeetsStandard
        } else {
            Grade::Fails
        }
    }

    /// Checks the rules: thresholds within 0-100 and in order, quota shares within 0-100 %.
    /// Violations name `field.excellent_from` and so on.
    pub fn check(&self, field: &str, v: &mut Violations) {
        let thresholds = [
            ("meets_from", self.meets_from),
            ("good_from", self.good_from),
            ("excellent_from", self.excellent_from),
        ];
        let mut previous = 0.0;
        for (name, value) in thresholds {
            if !(0.0..=100.0).contains(&value) {
                v.push(
                    format!("{field}.{name}"),
                    format!("must be 0-100 (got {value})"),
                );
            } else if value < previous {
                v.push(
                    format!("{field}.{name}"),
                    format!("must not be below the grade beneath it ({previous})"),
                );
            } else {
                previous = value;
            }
        }
        self.quotas.check(&format!("{field}.quotas"), v);
    }
}

/// One weighted part of a weighted mean, after the weights of the parts that have a value
/// were re-normalised to sum to 1.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Weighted<K> {
    key: K,
    value: f64,
    share: f64,
}

/// The weighted mean of the parts that have a value (the others left out and the remaining
/// weights re-normalised), with each part's share; `None` when no part with weight has one.
fn weighted_mean<K: Copy>(
    items: &[(K, f64)],
    value: impl Fn(K) -> Option<f64>,
) -> Option<(f64, Vec<Weighted<K>>)> {
    let present: Vec<(K, f64, f64)> = items
        .iter()
        .filter(|(_, w)| *w > 0.0)
        .filter_map(|&(k, w)| value(k).map(|x| (k, w, x)))
        .collect();
    let total: f64 = present.iter().map(|(_, w, _)| w).sum();
    if total <= 0.0 {
        return None;
    }
    let parts: Vec<Weighted<K>> = present
        .into_iter()
        .map(|(key, w, value)| Weighted {
            key,
            value,
            share: w / total,
        })
        .collect();
    let mean = parts.iter().map(|p| p.value * p.share).sum();
    Some((mean, parts))
}

/// Checks a list of weights: each finite and not negative, each key at most once, some
/// weight above 0. Violations name `field[i]`.
fn check_weights<K: PartialEq + std::fmt::Debug>(
    items: &[(K, f64)],
    field: &str,
    v: &mut Violations,
) {
    for (i, (key, weight)) in items.iter().enumerate() {
        if !weight.is_finite() || *weight < 0.0 {
            v.push(
                format!("{field}[{i}]"),
                format!("weight must be a number 0 or above (got {weight})"),
            );
        }
        if items[..i].iter().any(|(k, _)| k == key) {
            v.push(format!("{field}[{i}]"), format!("{key:?} is listed twice"));
        }
    }
    if !items.iter().any(|(_, w)| *w > 0.0) {
        v.push(field, "must give some part a weight above 0");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_score_on_a_threshold_earns_the_higher_grade() {
        let r = GradeRules::default();
        assert_eq!(r.grade(100.0), Grade::Excellent);
        assert_eq!(r.grade(95.0), Grade::Excellent);
        assert_eq!(r.grade(94.99), Grade::Good);
        assert_eq!(r.grade(90.0), Grade::Good);
        assert_eq!(r.grade(89.9), Grade::MeetsStandard);
        assert_eq!(r.grade(80.0), Grade::MeetsStandard);
        assert_eq!(r.grade(79.9), Grade::Fails);
        assert_eq!(r.grade(f64::NAN), Grade::Fails);
    }

    #[test]
    fn grades_order_from_worst_to_best_and_step_down_one_at_a_time() {
        assert!(Grade::Excellent > Grade::Good && Grade::MeetsStandard > Grade::Fails);
        assert_eq!(Grade::Excellent.lower(), Grade::Good);
        assert_eq!(Grade::Fails.lower(), Grade::Fails);
        assert_eq!(Grade::MeetsStandard.label(), "meets standard");
    }

    #[test]
    fn rules_out_of_order_or_range_are_refused_by_field() {
        let mut v = Violations::default();
        GradeRules::default().check("grade_rules", &mut v);
        assert!(v.is_empty());
        let below = GradeRules {
            excellent_from: 85.0,
            ..GradeRules::default()
        };
        below.check("grade_rules", &mut v);
        let out = GradeRules {
            meets_from: 120.0,
            ..GradeRules::default()
        };
        out.check("grade_rules", &mut v);
        let fields: Vec<&str> = v.0.iter().map(|f| f.field.as_str()).collect();
        assert_eq!(
            fields,
            ["grade_rules.excellent_from", "grade_rules.meets_from"]
        );
        assert_eq!(
            v.0[0].description,
            "must not be below the grade beneath it (90)"
        );
    }

    #[test]
    fn a_weighted_mean_leaves_out_missing_parts_and_renormalises() {
        let items = [("a", 3.0), ("b", 1.0), ("c", 4.0), ("d", 0.0)];
        let value = |k: &str| match k {
            "a" => Some(80.0),
            "b" => Some(40.0),
            "d" => Some(0.0),
            _ => None,
        };
        // c is missing and d weighs nothing: (3 × 80 + 1 × 40) / 4 = 70.
        let (mean, parts) = weighted_mean(&items, value).expect("two parts have values");
        assert_eq!(mean, 70.0);
        assert_eq!(parts.len(), 2);
        assert_eq!(parts[0].share, 0.75);
        assert_eq!(weighted_mean(&items, |_| None), None);
    }
}
