//! The quotas on the top grades over a set of units (seed 001: excellent "不超过 … 总数的5%",
//! good "不超过 … 总数的20%").
//!
//! How they are read, where the seed is silent:
//! - the shares are of **all** units in the set, graded or not ("总数": the total number of
//!   halls), each grade with its own quota (so at most 25 % hold excellent or good);
//! - "at most" is never exceeded: a quota is the share rounded **down** (19 halls allow no
//!   excellent one, 20 allow one);
//! - units are ranked by score, highest first, ties by id (ascending) so the outcome is
//!   deterministic; walking that ranking, a unit that earned a grade whose quota is full moves
//!   down to the next grade, where it competes for that grade's quota (an excellent score
//!   beyond both quotas ends as meets standard). Units never move up.
//!
//! The seed's own procedure ("差额产生": a province short-lists, the group picks) is a
//! competitive selection, so filling a quota by rank is its closest mechanical reading.

use std::collections::HashSet;

use csops_runtime::{RuleError, Violations};
use serde::{Deserialize, Serialize};

use super::{Grade, GradeRules};

/// The largest shares of a set of units the top two grades may hold.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Quotas {
    /// Most units graded excellent, in percent of all units. Default 5 (seed 001).
    pub excellent_percent: f64,
    /// Most units graded good, in percent of all units. Default 20 (seed 001).
    pub good_percent: f64,
}

impl Default for Quotas {
    fn default() -> Self {
        Self {
            excellent_percent: 5.0,
            good_percent: 20.0,
        }
    }
}

impl Quotas {
    /// How many units of a set of `units` may be excellent and how many good: each share
    /// rounded down.
    pub fn caps(&self, units: usize) -> (usize, usize) {
        (
            share_of(units, self.excellent_percent),
            share_of(units, self.good_percent),
        )
    }

    /// Checks both shares lie within 0-100 %. Violations name `field.excellent_percent` and
    /// `field.good_percent`.
    pub fn check(&self, field: &str, v: &mut Violations) {
        for (name, value) in [
            ("excellent_percent", self.excellent_percent),
            ("good_percent", self.good_percent),
        ] {
            if !(0.0..=100.0).contains(&value) {
                v.push(
                    format!("{field}.{name}"),
                    format!("must be 0-100 (got {value})"),
                );
            }
        }
    }
}

/// `percent` % of `units`, rounded down. A share that is a whole number of units in decimal
/// (e.g. 29 % of 100) counts as that number even though its binary product falls a hair short.
pub(crate) fn share_of(units: usize, percent: f64) -> usize {
    let exact = units as f64 * percent / 100.0;
    (exact + 1e-9).floor().max(0.0) as usize
}

/// One unit's score for the period.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UnitScore {
    /// The unit's id (agent, team or hall).
    pub id: String,
    /// Its score, 0-100.
    pub score: f64,
}

/// One unit's grade after the quotas.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UnitGrade {
    /// The unit's id.
    pub id: String,
    /// Its score.
    pub score: f64,
    /// Its place in the ranking, from 1.
    pub rank: usize,
    /// The grade its score earns on its own.
    pub earned: Grade,
    /// The grade it gets once the quotas are applied: `earned` or lower.
    pub grade: Grade,
}

impl UnitGrade {
    /// Whether a quota moved the unit below the grade its score earned.
    pub fn moved_down(&self) -> bool {
        self.grade < self.earned
    }
}

impl GradeRules {
    /// Grades a set of units and applies the quotas (see the module documentation for the
    /// rule). Returns them in rank order. Refuses rules out of order (`grade_rules.*`), empty
    /// or repeated ids (`units[i].id`) and scores outside 0-100 (`units[i].score`).
    pub fn grade_units(&self, units: &[UnitScore]) -> Result<Vec<UnitGrade>, RuleError> {
        let mut v = Violations::default();
        self.check("grade_rules", &mut v);
        let mut seen = HashSet::new();
        for (i, u) in units.iter().enumerate() {
            if u.id.trim().is_empty() {
                v.push(format!("units[{i}].id"), "is required");
            } else if !seen.insert(u.id.as_str()) {
                v.push(
                    format!("units[{i}].id"),
                    format!("{:?} is listed twice", u.id),
                );
            }
            if !(0.0..=100.0).contains(&u.score) {
                v.push(
                    format!("units[{i}].score"),
                    format!("must be 0-100 (got {})", u.score),
                );
            }
        }
        v.into_result(()).map_err(RuleError::Invalid)?;

        let mut ranked: Vec<&UnitScore> = units.iter().collect();
        ranked.sort_by(|a, b| b.score.total_cmp(&a.score).then_with(|| a.id.cmp(&b.id)));
        let (excellent_cap, good_cap) = self.quotas.caps(units.len());
        let (mut excellent, mut good) = (0, 0);
        let graded = ranked
            .into_iter()
            .enumerate()
            .map(|(i, u)| {
                let earned = self.grade(u.score);
                let mut grade = earned;
                if grade == Grade::Excellent {
                    if excellent < excellent_cap {
                        excellent += 1;
                    } else {
                        grade = grade.lower();
                    }
                }
                if grade == Grade::Good {
                    if good < good_cap {
                        good += 1;
                    } else {
                        grade = grade.lower();
                    }
                }
                UnitGrade {
                    id: u.id.clone(),
                    score: u.score,
                    rank: i + 1,
                    earned,
                    grade,
                }
            })
            .collect();
        Ok(graded)
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn units(scores: &[(&str, f64)]) -> Vec<UnitScore> {
        scores
            .iter()
            .map(|(id, score)| UnitScore {
                id: (*id).into(),
                score: *score,
            })
            .collect()
    }

    fn summary(graded: &[UnitGrade]) -> Vec<(&str, Grade)> {
        graded.iter().map(|g| (g.id.as_str(), g.grade)).collect()
    }

    #[test]
    fn quotas_are_shares_of_all_units_rounded_down() {
        let q = Quotas::default();
        assert_eq!(q.caps(19), (0, 3)); // 0.95 → 0, 3.8 → 3
        assert_eq!(q.caps(20), (1, 4)); // 1, 4
        assert_eq!(q.caps(59), (2, 11)); // 2.95 → 2, 11.8 → 11
        assert_eq!(q.caps(0), (0, 0));
        assert_eq!(share_of(100, 29.0), 29); // 100 × 0.29 is 28.999… in binary
    }

    #[test]
    fn twenty_halls_keep_one_excellent_and_four_good_and_the_rest_move_down() {
        // Caps for 20 halls: excellent 1, good 4.
        let mut scores = vec![
            ("h01", 97.0),
            ("h02", 96.0), // excellent earned, quota taken by h01 → good
            ("h03", 95.0), // → good
            ("h04", 93.0),
            ("h05", 91.0), // fourth good: h02, h03, h04, h05
            ("h06", 90.0), // good earned, good quota full → meets standard
            ("h07", 85.0),
            ("h08", 79.0),
        ];
        let rest: Vec<String> = (9..=20).map(|i| format!("h{i:02}")).collect();
        scores.extend(rest.iter().map(|id| (id.as_str(), 82.0)));
        let graded = GradeRules::default()
            .grade_units(&units(&scores))
            .expect("valid");
        assert_eq!(
            summary(&graded[..8]),
            [
                ("h01", Grade::Excellent),
                ("h02", Grade::Good),
                ("h03", Grade::Good),
                ("h04", Grade::Good),
                ("h05", Grade::Good),
                ("h06", Grade::MeetsStandard),
                ("h07", Grade::MeetsStandard),
                ("h09", Grade::MeetsStandard),
            ]
        );
        assert_eq!(
            graded.last().map(|g| (g.id.as_str(), g.grade)),
            Some(("h08", Grade::Fails))
        );
        assert!(graded[1].moved_down() && !graded[0].moved_down());
        assert_eq!(graded[5].earned, Grade::Good);
    }

    #[test]
    fn ties_at_a_quota_go_to_the_lower_id() {
        let mut scores: Vec<(String, f64)> = vec![("b".into(), 96.0), ("a".into(), 96.0)];
        scores.extend((0..18).map(|i| (format!("z{i:02}"), 70.0)));
        let input: Vec<UnitScore> = scores
            .into_iter()
            .map(|(id, score)| UnitScore { id, score })
            .collect();
        let graded = GradeRules::default().grade_units(&input).expect("valid");
        assert_eq!(
            summary(&graded[..2]),
            [("a", Grade::Excellent), ("b", Grade::Good)]
        );
        assert_eq!((graded[0].rank, graded[1].rank), (1, 2));
    }

    #[test]
    fn an_excellent_score_beyond_both_quotas_ends_as_meets_standard() {
        // 5 units: no excellent (0.25 → 0), one good (1).
        let graded = GradeRules::default()
            .grade_units(&units(&[
                ("a", 99.0),
                ("b", 98.0),
                ("c", 50.0),
                ("d", 50.0),
                ("e", 50.0),
            ]))
            .expect("valid");
        assert_eq!(
            summary(&graded[..2]),
            [("a", Grade::Good), ("b", Grade::MeetsStandard)]
        );
    }

    #[test]
    fn bad_units_are_refused_by_field() {
        let err = GradeRules::default()
            .grade_units(&units(&[("a", 90.0), ("a", 101.0), (" ", f64::NAN)]))
            .expect_err("invalid");
        let RuleError::Invalid(v) = err else {
            panic!("expected invalid input")
        };
        let fields: Vec<&str> = v.0.iter().map(|f| f.field.as_str()).collect();
        assert_eq!(
            fields,
            [
                "units[1].id",
                "units[1].score",
                "units[2].id",
                "units[2].score"
            ]
        );
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        fn quotas_always_hold_and_no_unit_ever_moves_up(
            tenths in proptest::collection::vec(700u32..=1000, 0..120),
            excellent_percent in 0.0f64..=30.0,
            good_percent in 0.0f64..=60.0,
        ) {
            // Scores in tenths of a point, so ties happen often.
            let input: Vec<UnitScore> = tenths
                .iter()
                .enumerate()
                .map(|(i, t)| UnitScore { id: format!("u{i}"), score: f64::from(*t) / 10.0 })
                .collect();
            let rules = GradeRules {
                quotas: Quotas { excellent_percent, good_percent },
                ..GradeRules::default()
            };
            let graded = rules.grade_units(&input).expect("valid");
            let (excellent_cap, good_cap) = rules.quotas.caps(input.len());
            let count = |g| graded.iter().filter(|u| u.grade == g).count();
            prop_assert!(count(Grade::Excellent) <= excellent_cap);
            prop_assert!(count(Grade::Good) <= good_cap);
            for u in &graded {
                prop_assert!(u.grade <= u.earned, "{u:?}");
                prop_assert_eq!(u.earned, rules.grade(u.score));
                // A unit only moves down from a grade whose quota is full.
                if u.moved_down() && u.earned == Grade::Excellent {
                    prop_assert_eq!(count(Grade::Excellent), excellent_cap);
                }
                if u.moved_down() && u.grade < Grade::Good {
                    prop_assert_eq!(count(Grade::Good), good_cap);
                }
            }
            // Down the ranking, scores never rise and grades never improve.
            for pair in graded.windows(2) {
                prop_assert!(pair[0].score >= pair[1].score);
                prop_assert!(pair[0].grade >= pair[1].grade);
            }
        }
    }
}
