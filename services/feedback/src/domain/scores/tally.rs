//! The tally of survey answers and the scores computed from it.
//!
//! A [`Tally`] holds only counts and sums, so a store can compute it for a million responses
//! with `COUNT(*) FILTER (…)` and `SUM(…)` grouped by any slice, merge slices with
//! [`Tally::merge`], and hand it to [`Tally::scores`]: the one place each formula lives.
//! [`Tally::add`] counts one response the same way, for tests and in-memory paths.

use std::ops::AddAssign;

use serde::{Deserialize, Serialize};

use super::{Answer, Dimensions, Response};

/// A CSAT answer at or above this counts as satisfied (the top two boxes of 1-5).
pub const CSAT_SATISFIED_FROM: i32 = 4;
/// An NPS answer at or above this is a promoter (9-10).
pub const NPS_PROMOTER_FROM: i32 = 9;
/// An NPS answer at or below this is a detractor (0-6).
pub const NPS_DETRACTOR_UP_TO: i32 = 6;

/// Counts and sums of SERVQUAL answers on one dimension.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DimensionTally {
    /// Answers on the dimension: `COUNT(*)`.
    pub answers: u64,
    /// Sum of their expectations: `SUM(expectation)`.
    pub expectation_sum: u64,
    /// Sum of their perceptions: `SUM(perception)`.
    pub perception_sum: u64,
}

/// Counts and sums over a set of surveys, everything the scores need and nothing a store
/// cannot compute with `COUNT` and `SUM`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tally {
    /// Surveys sent: `COUNT(*)` over surveys.
    pub surveys_sent: u64,
    /// Surveys with at least one item answered.
    pub responses: u64,
    /// Surveys with every item answered.
    pub complete_responses: u64,
    /// CSAT answers.
    pub csat_answers: u64,
    /// CSAT answers of 4 or 5.
    pub csat_satisfied: u64,
    /// NPS answers.
    pub nps_answers: u64,
    /// NPS answers of 9 or 10.
    pub nps_promoters: u64,
    /// NPS answers of 0 to 6.
    pub nps_detractors: u64,
    /// CES answers.
    pub ces_answers: u64,
    /// Sum of CES answers.
    pub ces_sum: u64,
    /// SERVQUAL counts and sums per dimension.
    pub dimensions: Dimensions<DimensionTally>,
}

impl Tally {
    /// Counts one survey sent, with whatever answers it has. Blank free text and values
    /// outside their scale (which validation refuses before they are stored) are not counted.
    pub fn add(&mut self, response: &Response) {
        self.surveys_sent += 1;
        if response.is_answered() {
            self.responses += 1;
        }
        if response.is_complete() {
            self.complete_responses += 1;
        }
        for answer in response.answers.iter().flatten() {
            if answer.is_given() && answer.is_in_scale() {
                self.count(answer);
            }
        }
    }

    fn count(&mut self, answer: &Answer) {
        match *answer {
            Answer::Csat(x) => {
                self.csat_answers += 1;
                self.csat_satisfied += u64::from(x >= CSAT_SATISFIED_FROM);
            }
            Answer::Nps(x) => {
                self.nps_answers += 1;
                self.nps_promoters += u64::from(x >= NPS_PROMOTER_FROM);
                self.nps_detractors += u64::from(x <= NPS_DETRACTOR_UP_TO);
            }
            Answer::Ces(x) => {
                self.ces_answers += 1;
                self.ces_sum += scale_value(x);
            }
            Answer::Servqual {
                dimension,
                expectation,
                perception,
            } => {
                let d = self.dimensions.get_mut(dimension);
                d.answers += 1;
                d.expectation_sum += scale_value(expectation);
                d.perception_sum += scale_value(perception);
            }
            Answer::FreeText(_) => {}
        }
    }

    /// Adds another tally's counts and sums to this one (two slices, two pages of a scan).
    pub fn merge(&mut self, other: &Tally) {
        self.surveys_sent += other.surveys_sent;
        self.responses += other.responses;
        self.complete_responses += other.complete_responses;
        self.csat_answers += other.csat_answers;
        self.csat_satisfied += other.csat_satisfied;
        self.nps_answers += other.nps_answers;
        self.nps_promoters += other.nps_promoters;
        self.nps_detractors += other.nps_detractors;
        self.ces_answers += other.ces_answers;
        self.ces_sum += other.ces_sum;
        for d in super::Dimension::ALL {
            let (mine, theirs) = (self.dimensions.get_mut(d), other.dimensions.get(d));
            mine.answers += theirs.answers;
            mine.expectation_sum += theirs.expectation_sum;
            mine.perception_sum += theirs.perception_sum;
        }
    }

    /// The figures: CSAT, NPS, CES, SERVQUAL per dimension and overall, response rate. Each is
    /// `None` when nothing stands behind it and carries the count it stands on.
    pub fn scores(&self) -> Scores {
        let dimensions = self.dimensions.map(|_, d| {
            let expectation = mean(d.expectation_sum, d.answers);
            let perception = mean(d.perception_sum, d.answers);
            DimensionScore {
                answers: d.answers,
                expectation,
                perception,
                gap: perception.zip(expectation).map(|(p, e)| p - e),
            }
        });
        let gaps: Vec<f64> = dimensions.iter().filter_map(|(_, d)| d.gap).collect();
        let servqual_answers = dimensions.iter().map(|(_, d)| d.answers).sum();
        Scores {
            response_rate: Figure::new(ratio(self.responses, self.surveys_sent), self.surveys_sent),
            complete_rate: Figure::new(
                ratio(self.complete_responses, self.surveys_sent),
                self.surveys_sent,
            ),
            csat: Figure::new(
                percent(self.csat_satisfied, self.csat_answers),
                self.csat_answers,
            ),
            nps: Figure::new(
                net_promoter(self.nps_promoters, self.nps_detractors, self.nps_answers),
                self.nps_answers,
            ),
            ces: Figure::new(mean(self.ces_sum, self.ces_answers), self.ces_answers),
            servqual_gap: Figure::new(
                (!gaps.is_empty()).then(|| gaps.iter().sum::<f64>() / gaps.len() as f64),
                servqual_answers,
            ),
            dimensions,
        }
    }
}

impl AddAssign<&Tally> for Tally {
    fn add_assign(&mut self, other: &Tally) {
        self.merge(other);
    }
}

impl AddAssign for Tally {
    fn add_assign(&mut self, other: Tally) {
        self.merge(&other);
    }
}

impl<'a> FromIterator<&'a Response> for Tally {
    fn from_iter<I: IntoIterator<Item = &'a Response>>(responses: I) -> Self {
        let mut tally = Tally::default();
        for r in responses {
            tally.add(r);
        }
        tally
    }
}

/// A scale value already checked to lie within 0-10, as a sum term.
fn scale_value(x: i32) -> u64 {
    u64::try_from(x).unwrap_or(0)
}

/// `part / whole`, a fraction 0-1.
fn ratio(part: u64, whole: u64) -> Option<f64> {
    (whole > 0).then(|| part as f64 / whole as f64)
}

/// `part / whole` in percent, 0-100.
fn percent(part: u64, whole: u64) -> Option<f64> {
    ratio(part, whole).map(|r| r * 100.0)
}

/// The mean of `n` values summing to `sum`.
fn mean(sum: u64, n: u64) -> Option<f64> {
    ratio(sum, n)
}

/// % promoters − % detractors, −100 to 100.
fn net_promoter(promoters: u64, detractors: u64, answers: u64) -> Option<f64> {
    (answers > 0).then(|| (promoters as f64 - detractors as f64) / answers as f64 * 100.0)
}

/// One figure and the count it stands on.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Figure {
    /// The value; `None` when its denominator is 0.
    pub value: Option<f64>,
    /// How many answers (for rates: surveys sent) the value stands on.
    pub count: u64,
}

impl Figure {
    fn new(value: Option<f64>, count: u64) -> Self {
        Self { value, count }
    }
}

/// The SERVQUAL figures of one dimension.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct DimensionScore {
    /// Answers on the dimension.
    pub answers: u64,
    /// Mean expectation, 1-7.
    pub expectation: Option<f64>,
    /// Mean perception, 1-7.
    pub perception: Option<f64>,
    /// Mean perception − mean expectation, −6 to 6: the dimension's satisfaction (seed 003).
    /// Negative means service fell short of what customers expected.
    pub gap: Option<f64>,
}

/// The figures of a tally.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Scores {
    /// Responses / surveys sent, 0-1; count: surveys sent.
    pub response_rate: Figure,
    /// Complete responses / surveys sent, 0-1; count: surveys sent.
    pub complete_rate: Figure,
    /// Share of CSAT answers that are 4 or 5, in percent (0-100); count: CSAT answers.
    pub csat: Figure,
    /// % promoters (9-10) − % detractors (0-6), −100 to 100; count: NPS answers.
    pub nps: Figure,
    /// Mean CES, 1-7 (lower is less effort); count: CES answers.
    pub ces: Figure,
    /// Per dimension: mean expectation, mean perception and their gap.
    pub dimensions: Dimensions<DimensionScore>,
    /// Mean of the gaps of the dimensions that have answers (each dimension weighs the same,
    /// however many answers it has), −6 to 6; count: SERVQUAL answers on all dimensions.
    pub servqual_gap: Figure,
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::super::Dimension;
    use super::*;

    fn sq(dimension: Dimension, expectation: i32, perception: i32) -> Option<Answer> {
        Some(Answer::Servqual {
            dimension,
            expectation,
            perception,
        })
    }

    fn response(answers: Vec<Option<Answer>>) -> Response {
        Response { answers }
    }

    #[test]
    fn a_seeded_set_of_responses_gives_the_scores_computed_by_hand() {
        let responses = [
            response(vec![
                Some(Answer::Csat(5)),
                Some(Answer::Nps(10)),
                Some(Answer::Ces(2)),
                sq(Dimension::Empathy, 6, 4),
            ]),
            response(vec![
                Some(Answer::Csat(4)),
                Some(Answer::Nps(9)),
                Some(Answer::Ces(3)),
                sq(Dimension::Empathy, 7, 5),
            ]),
            response(vec![
                Some(Answer::Csat(2)),
                Some(Answer::Nps(3)),
                None,
                sq(Dimension::Reliability, 5, 6),
            ]),
            response(vec![
                Some(Answer::Csat(3)),
                Some(Answer::Nps(7)),
                None,
                None,
            ]),
            response(vec![None, None, None, None]),
        ];
        let tally: Tally = responses.iter().collect();
        let s = tally.scores();
        // 4 of 5 surveys answered, 2 of them completely.
        assert_eq!(s.response_rate, Figure::new(Some(0.8), 5));
        assert_eq!(s.complete_rate, Figure::new(Some(0.4), 5));
        // CSAT: answers 5, 4, 2, 3 → two of four are 4-5 → 50 %.
        assert_eq!(s.csat, Figure::new(Some(50.0), 4));
        // NPS: 10, 9 promoters; 3 detractor; 7 passive → 50 % − 25 % = 25.
        assert_eq!(s.nps, Figure::new(Some(25.0), 4));
        // CES: (2 + 3) / 2 = 2.5.
        assert_eq!(s.ces, Figure::new(Some(2.5), 2));
        // Empathy: expectations 6, 7 → 6.5; perceptions 4, 5 → 4.5; gap −2.
        let empathy = s.dimensions.empathy;
        assert_eq!(
            (
                empathy.answers,
                empathy.expectation,
                empathy.perception,
                empathy.gap
            ),
            (2, Some(6.5), Some(4.5), Some(-2.0))
        );
        // Reliability: 6 − 5 = +1; a perception of 6 alone would have hidden nothing, the gap
        // says expectations were exceeded.
        assert_eq!(s.dimensions.reliability.gap, Some(1.0));
        assert_eq!(s.dimensions.tangibles, DimensionScore::default());
        // Overall: mean of the two dimensions with answers, (−2 + 1) / 2 = −0.5, on 3 answers.
        assert_eq!(s.servqual_gap, Figure::new(Some(-0.5), 3));
    }

    #[test]
    fn an_empty_tally_has_no_figures() {
        let s = Tally::default().scores();
        assert_eq!(s, Scores::default());
        assert_eq!(s.nps.value, None);
        assert_eq!(s.servqual_gap.value, None);
    }

    #[test]
    fn sums_from_a_store_give_the_same_scores_as_counted_responses() {
        // What `COUNT`/`SUM` over 1,000 NPS rows (300 × 10, 500 × 8, 200 × 5) would return.
        let from_sql = Tally {
            surveys_sent: 4000,
            responses: 1000,
            nps_answers: 1000,
            nps_promoters: 300,
            nps_detractors: 200,
            ..Tally::default()
        };
        // 30 % − 20 % = 10; 1000 / 4000 = 0.25.
        assert_eq!(from_sql.scores().nps, Figure::new(Some(10.0), 1000));
        assert_eq!(from_sql.scores().response_rate.value, Some(0.25));
    }

    #[test]
    fn values_outside_their_scale_are_never_counted() {
        let mut t = Tally::default();
        t.add(&response(vec![
            Some(Answer::Nps(11)),
            Some(Answer::Csat(4)),
        ]));
        assert_eq!((t.nps_answers, t.csat_answers, t.responses), (0, 1, 1));
    }

    fn answer() -> impl Strategy<Value = Option<Answer>> {
        prop_oneof![
            Just(None),
            (1..=5i32).prop_map(|x| Some(Answer::Csat(x))),
            (0..=10i32).prop_map(|x| Some(Answer::Nps(x))),
            (1..=7i32).prop_map(|x| Some(Answer::Ces(x))),
            (0..5usize, 1..=7i32, 1..=7i32).prop_map(|(d, e, p)| sq(Dimension::ALL[d], e, p)),
            "[a-z ]{0,5}".prop_map(|t| Some(Answer::FreeText(t))),
        ]
    }

    fn responses() -> impl Strategy<Value = Vec<Response>> {
        proptest::collection::vec(
            proptest::collection::vec(answer(), 0..8).prop_map(response),
            0..40,
        )
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        fn nps_stays_within_minus_100_and_100_and_csat_within_0_and_100(rs in responses()) {
            let s = rs.iter().collect::<Tally>().scores();
            if let Some(nps) = s.nps.value {
                prop_assert!((-100.0..=100.0).contains(&nps), "{nps}");
            }
            if let Some(csat) = s.csat.value {
                prop_assert!((0.0..=100.0).contains(&csat), "{csat}");
            }
            if let Some(rate) = s.response_rate.value {
                prop_assert!((0.0..=1.0).contains(&rate), "{rate}");
            }
        }

        #[test]
        fn merging_two_tallies_equals_tallying_the_union(rs in responses(), cut in 0usize..40) {
            let cut = cut.min(rs.len());
            let mut merged: Tally = rs[..cut].iter().collect();
            merged += rs[cut..].iter().collect::<Tally>();
            prop_assert_eq!(&merged, &rs.iter().collect::<Tally>());
            prop_assert_eq!(merged.scores(), rs.iter().collect::<Tally>().scores());
        }

        #[test]
        fn perception_equal_to_expectation_on_every_dimension_has_no_gap(
            levels in proptest::collection::vec(1..=7i32, 5),
            copies in 1usize..5,
        ) {
            let one = response(
                Dimension::ALL.iter().zip(&levels).map(|(d, x)| sq(*d, *x, *x)).collect(),
            );
            let s = std::iter::repeat_n(&one, copies).collect::<Tally>().scores();
            for (_, d) in s.dimensions.iter() {
                prop_assert_eq!(d.gap, Some(0.0));
            }
            prop_assert_eq!(s.servqual_gap.value, Some(0.0));
        }
    }
}
