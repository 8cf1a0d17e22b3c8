//! Churn handlers: the churn-risk signals (list, acknowledge, resolve) and lost customers
//! (record, count by reason).

use csops_proto::feedback::v1 as pb;
use tonic::Status;

use super::{later, FeedbackApi};

pub(super) async fn list_churn_risk_signals(
    _api: &FeedbackApi,
    _request: pb::ListChurnRiskSignalsRequest,
) -> Result<pb::ListChurnRiskSignalsResponse, Status> {
    Err(later("ListChurnRiskSignals"))
}

pub(super) async fn acknowledge_churn_risk_signal(
    _api: &FeedbackApi,
    _request: pb::AcknowledgeChurnRiskSignalRequest,
) -> Result<pb::AcknowledgeChurnRiskSignalResponse, Status> {
    Err(later("AcknowledgeChurnRiskSignal"))
}

pub(super) async fn resolve_churn_risk_signal(
    _api: &FeedbackApi,
    _request: pb::ResolveChurnRiskSignalRequest,
) -> Result<pb::ResolveChurnRiskSignalResponse, Status> {
    Err(later("ResolveChurnRiskSignal"))
}

pub(super) async fn record_customer_loss(
    _api: &FeedbackApi,
    _request: pb::RecordCustomerLossRequest,
) -> Result<pb::RecordCustomerLossResponse, Status> {
    Err(later("RecordCustomerLoss"))
}

pub(super) async fn count_customer_losses(
    _api: &FeedbackApi,
    _request: pb::CountCustomerLossesRequest,
) -> Result<pb::CountCustomerLossesResponse, Status> {
    Err(later("CountCustomerLosses"))
}
