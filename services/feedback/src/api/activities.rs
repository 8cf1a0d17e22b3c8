//! Activity handlers: RecordActivity (other services' events, once each) and
//! ListProcessIndicators, the per-agent process figures of a period.

use csops_proto::feedback::v1 as pb;
use tonic::Status;

use super::{later, FeedbackApi};

pub(super) async fn record_activity(
    _api: &FeedbackApi,
    _request: pb::RecordActivityRequest,
) -> Result<pb::RecordActivityResponse, Status> {
    Err(later("RecordActivity"))
}

pub(super) async fn list_process_indicators(
    _api: &FeedbackApi,
    _request: pb::ListProcessIndicatorsRequest,
) -> Result<pb::ListProcessIndicatorsResponse, Status> {
    Err(later("ListProcessIndicators"))
}
