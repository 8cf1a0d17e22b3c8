//! The losses of a period counted by reason: how many customers left for each reason and what
//! share of all losses that is, most frequent first, so the main causes of churn lead.

use super::LossReason;

/// How many customers left for one reason.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LossCount {
    /// The reason.
    pub reason: LossReason,
    /// How many.
    pub count: i64,
    /// `count / total`, in percent.
    pub share: f64,
}

/// Counts per reason (in any order, each reason at most once) → one entry per reason with at
/// least one loss, most frequent first (ties in the seeds' order of reasons), and the total.
pub fn by_reason(counts: &[(LossReason, i64)]) -> (Vec<LossCount>, i64) {
    let total: i64 = counts.iter().map(|(_, n)| (*n).max(0)).sum();
    let mut out: Vec<LossCount> = counts
        .iter()
        .filter(|(_, n)| *n > 0)
        .map(|(reason, count)| LossCount {
            reason: *reason,
            count: *count,
            // i64 → f64 is exact below 2^53 losses.
            share: *count as f64 * 100.0 / total as f64,
        })
        .collect();
    out.sort_by(|a, b| b.count.cmp(&a.count).then(a.reason.cmp(&b.reason)));
    (out, total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons_are_counted_with_their_share_most_frequent_first() {
        let (counts, total) = by_reason(&[
            (LossReason::MovedAway, 1),
            (LossReason::StaffIndifference, 3),
            (LossReason::CompetitionPrice, 1),
            (LossReason::Other, 0),
        ]);
        assert_eq!(total, 5);
        // 3 / 5 = 60 %, 1 / 5 = 20 % each; the tie in the seeds' order (competition before a
        // move).
        assert_eq!(
            counts,
            [
                LossCount {
                    reason: LossReason::StaffIndifference,
                    count: 3,
                    share: 60.0
                },
                LossCount {
                    reason: LossReason::CompetitionPrice,
                    count: 1,
                    share: 20.0
                },
                LossCount {
                    reason: LossReason::MovedAway,
                    count: 1,
                    share: 20.0
                },
            ]
        );
    }

    #[test]
    fn no_losses_count_nothing() {
        assert_eq!(by_reason(&[]), (vec![], 0));
    }
}
