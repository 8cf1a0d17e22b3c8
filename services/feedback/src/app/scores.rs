//! Score use cases: the survey aggregates of a period (GetFeedbackScores), as counts and sums
//! from one statement, the figures left to the domain's [`Tally::scores`].

use csops_runtime::Error;

use super::Feedback;
use crate::domain::scores::Tally;
use crate::store::scores::{GroupTally, ScoreFilter, ScoreGrouping};

/// The most groups an answer carries (the contract's limit). Beyond it the answer keeps the
/// 1000 largest groups by surveys sent (ties by key) and leaves the others out, rather than
/// refusing the request: a report by agent over a large centre still shows the agents that
/// carry the most surveys, and the total still counts every survey of the filter, so a total
/// `sent` above the groups' sum tells the reader some groups are missing. Filter (e.g. by
/// team) to see the rest.
pub(crate) const MAX_SCORE_GROUPS: usize = 1000;

/// The aggregates of a period.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScoreTallies {
    /// Every survey of the filter.
    pub total: Tally,
    /// Per group, by key (empty without a grouping); at most [`MAX_SCORE_GROUPS`].
    pub groups: Vec<GroupTally>,
    /// Groups left out past [`MAX_SCORE_GROUPS`] (their surveys are in the total).
    pub left_out: usize,
}

impl Feedback {
    /// Tallies the surveys of `filter`, in total and per group of `grouping`.
    pub async fn feedback_scores(
        &self,
        filter: &ScoreFilter,
        grouping: Option<ScoreGrouping>,
    ) -> Result<ScoreTallies, Error> {
        let (total, mut groups, left_out) = self
            .store
            .score_tallies(filter, grouping, MAX_SCORE_GROUPS)
            .await?;
        if left_out > 0 {
            tracing::info!(
                groups = groups.len() + left_out,
                left_out,
                grouping = ?grouping,
                "feedback scores: more groups than an answer carries; the largest are kept"
            );
        }
        groups.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(ScoreTallies {
            total,
            groups,
            left_out,
        })
    }
}
