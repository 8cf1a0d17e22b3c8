//! Scorecard handlers: ListScorecards, the weighted score, grade after quotas and service type
//! of every agent, team or service hall of a period.

use csops_proto::feedback::v1 as pb;
use tonic::Status;

use super::{later, FeedbackApi};

pub(super) async fn list_scorecards(
    _api: &FeedbackApi,
    _request: pb::ListScorecardsRequest,
) -> Result<pb::ListScorecardsResponse, Status> {
    Err(later("ListScorecards"))
}
