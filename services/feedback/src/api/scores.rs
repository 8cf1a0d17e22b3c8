//! Score handlers: GetFeedbackScores, the survey aggregates of a period by slice and group.

use csops_proto::feedback::v1 as pb;
use tonic::Status;

use super::{later, FeedbackApi};

pub(super) async fn get_feedback_scores(
    _api: &FeedbackApi,
    _request: pb::GetFeedbackScoresRequest,
) -> Result<pb::GetFeedbackScoresResponse, Status> {
    Err(later("GetFeedbackScores"))
}
