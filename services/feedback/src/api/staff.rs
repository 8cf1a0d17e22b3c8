//! Staff-of-the-month handlers: RecordStaffMonth and ListStaffEvaluations.

use csops_proto::feedback::v1 as pb;
use tonic::Status;

use super::{later, FeedbackApi};

pub(super) async fn record_staff_month(
    _api: &FeedbackApi,
    _request: pb::RecordStaffMonthRequest,
) -> Result<pb::RecordStaffMonthResponse, Status> {
    Err(later("RecordStaffMonth"))
}

pub(super) async fn list_staff_evaluations(
    _api: &FeedbackApi,
    _request: pb::ListStaffEvaluationsRequest,
) -> Result<pb::ListStaffEvaluationsResponse, Status> {
    Err(later("ListStaffEvaluations"))
}
