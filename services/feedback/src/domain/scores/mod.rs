//! Survey scores: the item kinds and their answers (`answers`), and the [`Tally`] of counts
//! and sums a store computes with `COUNT`/`SUM` over any number of responses, which
//! [`Tally::scores`] turns into CSAT, NPS, CES, the SERVQUAL gaps and the response rate.
//!
//! Satisfaction on a SERVQUAL dimension is perception minus expectation (seed 003), never
//! perception alone: a customer who expected 7 and perceived 6 is less satisfied than one who
//! expected 3 and perceived 5.

mod answers;
mod tally;

use serde::{Deserialize, Serialize};

pub use answers::{Answer, ItemKind, Response, MAX_FREE_TEXT_CHARS};
pub use tally::{
    DimensionScore, DimensionTally, Figure, Scores, Tally, CSAT_SATISFIED_FROM,
    NPS_DETRACTOR_UP_TO, NPS_PROMOTER_FROM,
};

/// One of the five SERVQUAL service-quality dimensions (DOMAIN §5, seed 003).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Dimension {
    /// Tangibles (有形度): premises, equipment, the look of staff and material.
    Tangibles,
    /// Empathy (同理度): individual care and attention.
    Empathy,
    /// Assurance, professionalism (专业度): knowledge and courtesy that inspire trust.
    Assurance,
    /// Responsiveness (反应度): willingness to help and prompt service.
    Responsiveness,
    /// Reliability (信赖度): doing what was promised, dependably and accurately.
    Reliability,
}

impl Dimension {
    /// The five dimensions, in the order reports list them.
    pub const ALL: [Dimension; 5] = [
        Dimension::Tangibles,
        Dimension::Empathy,
        Dimension::Assurance,
        Dimension::Responsiveness,
        Dimension::Reliability,
    ];

    /// The dimension's name in snake case, as stored and as serde writes it.
    pub fn name(self) -> &'static str {
        match self {
            Dimension::Tangibles => "tangibles",
            Dimension::Empathy => "empathy",
            Dimension::Assurance => "assurance",
            Dimension::Responsiveness => "responsiveness",
            Dimension::Reliability => "reliability",
        }
    }
}

/// One value per SERVQUAL dimension, with named fields so stored JSON and SQL columns read
/// plainly.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Dimensions<T> {
    /// The value for [`Dimension::Tangibles`].
    pub tangibles: T,
    /// The value for [`Dimension::Empathy`].
    pub empathy: T,
    /// The value for [`Dimension::Assurance`].
    pub assurance: T,
    /// The value for [`Dimension::Responsiveness`].
    pub responsiveness: T,
    /// The value for [`Dimension::Reliability`].
    pub reliability: T,
}

impl<T> Dimensions<T> {
    /// The value for one dimension.
    pub fn get(&self, dimension: Dimension) -> &T {
        match dimension {
            Dimension::Tangibles => &self.tangibles,
            Dimension::Empathy => &self.empathy,
            Dimension::Assurance => &self.assurance,
            Dimension::Responsiveness => &self.responsiveness,
            Dimension::Reliability => &self.reliability,
        }
    }

    /// The value for one dimension, to change it.
    pub fn get_mut(&mut self, dimension: Dimension) -> &mut T {
        match dimension {
            Dimension::Tangibles => &mut self.tangibles,
            Dimension::Empathy => &mut self.empathy,
            Dimension::Assurance => &mut self.assurance,
            Dimension::Responsiveness => &mut self.responsiveness,
            Dimension::Reliability => &mut self.reliability,
        }
    }

    /// Every dimension with its value, in [`Dimension::ALL`] order.
    pub fn iter(&self) -> impl Iterator<Item = (Dimension, &T)> + '_ {
        Dimension::ALL.into_iter().map(move |d| (d, self.get(d)))
    }

    /// A value per dimension computed from this one's.
    pub fn map<U>(&self, mut f: impl FnMut(Dimension, &T) -> U) -> Dimensions<U> {
        Dimensions {
            tangibles: f(Dimension::Tangibles, &self.tangibles),
            empathy: f(Dimension::Empathy, &self.empathy),
            assurance: f(Dimension::Assurance, &self.assurance),
            responsiveness: f(Dimension::Responsiveness, &self.responsiveness),
            reliability: f(Dimension::Reliability, &self.reliability),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_dimension_reads_back_the_value_written_for_it() {
        let mut d = Dimensions::<u32>::default();
        for (i, dim) in Dimension::ALL.into_iter().enumerate() {
            *d.get_mut(dim) = i as u32 + 1;
        }
        let read: Vec<(Dimension, u32)> = d.iter().map(|(k, v)| (k, *v)).collect();
        assert_eq!(
            read,
            [
                (Dimension::Tangibles, 1),
                (Dimension::Empathy, 2),
                (Dimension::Assurance, 3),
                (Dimension::Responsiveness, 4),
                (Dimension::Reliability, 5),
            ]
        );
        assert_eq!(d.map(|_, v| v * 10).reliability, 50);
        assert_eq!(Dimension::Assurance.name(), "assurance");
    }
}
