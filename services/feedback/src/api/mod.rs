//! The gRPC API of the feedback service. This file holds the service struct, the checks every
//! handler shares and the generated trait's impl, which hands each RPC to its handler in a
//! file per group of RPCs; a handler checks sizes, validates its request, calls the use cases
//! in `crate::app` and converts the answer. Only `api/` speaks tonic.
//!
//! The groups: callbacks (`callbacks.rs`), survey templates and surveys (`surveys.rs`), the
//! survey aggregates (`scores.rs`), activities and process indicators (`activities.rs`), staff
//! of the month (`staff.rs`), scorecards (`scorecards.rs`), churn-risk signals and lost
//! customers (`churn.rs`).

mod activities;
mod callbacks;
mod churn;
mod convert;
mod convert_surveys;
mod limits;
pub mod roles;
mod scorecards;
mod scores;
mod staff;
mod surveys;

use std::sync::Arc;

use csops_proto::feedback::v1 as pb;
use csops_proto::feedback::v1::feedback_service_server::FeedbackService;
use csops_runtime::paging::PageTokens;
use csops_runtime::{Error, Violations};
use tonic::{Request, Response, Status};

use crate::app::Feedback;

/// Default page size of the listings.
const DEFAULT_PAGE_SIZE: u32 = 50;

/// Implementation of `csops.feedback.v1.FeedbackService`.
#[derive(Debug, Clone)]
pub struct FeedbackApi {
    core: Arc<Feedback>,
    page_tokens: PageTokens,
}

impl FeedbackApi {
    /// Serves feedback from the shared core; page tokens are signed by `page_tokens`.
    pub fn new(core: Arc<Feedback>, page_tokens: PageTokens) -> Self {
        Self { core, page_tokens }
    }
}

/// INVALID_ARGUMENT for every violation, or nothing.
fn done(v: Violations) -> Result<(), Error> {
    v.into_result(()).map_err(Error::InvalidArgument)
}

#[tonic::async_trait]
impl FeedbackService for FeedbackApi {
    async fn schedule_callback(
        &self,
        request: Request<pb::ScheduleCallbackRequest>,
    ) -> Result<Response<pb::ScheduleCallbackResponse>, Status> {
        Ok(Response::new(
            callbacks::schedule_callback(self, request.into_inner()).await?,
        ))
    }

    async fn get_callback(
        &self,
        request: Request<pb::GetCallbackRequest>,
    ) -> Result<Response<pb::GetCallbackResponse>, Status> {
        Ok(Response::new(
            callbacks::get_callback(self, request.into_inner()).await?,
        ))
    }

    async fn list_callbacks(
        &self,
        request: Request<pb::ListCallbacksRequest>,
    ) -> Result<Response<pb::ListCallbacksResponse>, Status> {
        Ok(Response::new(
            callbacks::list_callbacks(self, request.into_inner()).await?,
        ))
    }

    async fn record_callback_attempt(
        &self,
        request: Request<pb::RecordCallbackAttemptRequest>,
    ) -> Result<Response<pb::RecordCallbackAttemptResponse>, Status> {
        Ok(Response::new(
            callbacks::record_callback_attempt(self, request.into_inner()).await?,
        ))
    }

    async fn cancel_callback(
        &self,
        request: Request<pb::CancelCallbackRequest>,
    ) -> Result<Response<pb::CancelCallbackResponse>, Status> {
        Ok(Response::new(
            callbacks::cancel_callback(self, request.into_inner()).await?,
        ))
    }

    async fn fix_callback_finding(
        &self,
        request: Request<pb::FixCallbackFindingRequest>,
    ) -> Result<Response<pb::FixCallbackFindingResponse>, Status> {
        Ok(Response::new(
            callbacks::fix_callback_finding(self, request.into_inner()).await?,
        ))
    }

    async fn create_survey_template(
        &self,
        request: Request<pb::CreateSurveyTemplateRequest>,
    ) -> Result<Response<pb::CreateSurveyTemplateResponse>, Status> {
        Ok(Response::new(
            surveys::create_survey_template(self, request.into_inner()).await?,
        ))
    }

    async fn revise_survey_template(
        &self,
        request: Request<pb::ReviseSurveyTemplateRequest>,
    ) -> Result<Response<pb::ReviseSurveyTemplateResponse>, Status> {
        Ok(Response::new(
            surveys::revise_survey_template(self, request.into_inner()).await?,
        ))
    }

    async fn get_survey_template(
        &self,
        request: Request<pb::GetSurveyTemplateRequest>,
    ) -> Result<Response<pb::GetSurveyTemplateResponse>, Status> {
        Ok(Response::new(
            surveys::get_survey_template(self, request.into_inner()).await?,
        ))
    }

    async fn list_survey_templates(
        &self,
        request: Request<pb::ListSurveyTemplatesRequest>,
    ) -> Result<Response<pb::ListSurveyTemplatesResponse>, Status> {
        Ok(Response::new(
            surveys::list_survey_templates(self, request.into_inner()).await?,
        ))
    }

    async fn send_survey(
        &self,
        request: Request<pb::SendSurveyRequest>,
    ) -> Result<Response<pb::SendSurveyResponse>, Status> {
        Ok(Response::new(
            surveys::send_survey(self, request.into_inner()).await?,
        ))
    }

    async fn answer_survey(
        &self,
        request: Request<pb::AnswerSurveyRequest>,
    ) -> Result<Response<pb::AnswerSurveyResponse>, Status> {
        Ok(Response::new(
            surveys::answer_survey(self, request.into_inner()).await?,
        ))
    }

    async fn get_feedback_scores(
        &self,
        request: Request<pb::GetFeedbackScoresRequest>,
    ) -> Result<Response<pb::GetFeedbackScoresResponse>, Status> {
        Ok(Response::new(
            scores::get_feedback_scores(self, request.into_inner()).await?,
        ))
    }

    async fn create_survey(
        &self,
        request: Request<pb::CreateSurveyRequest>,
    ) -> Result<Response<pb::CreateSurveyResponse>, Status> {
        Ok(Response::new(
            surveys::create_survey(self, request.into_inner()).await?,
        ))
    }

    async fn get_survey(
        &self,
        request: Request<pb::GetSurveyRequest>,
    ) -> Result<Response<pb::GetSurveyResponse>, Status> {
        Ok(Response::new(
            surveys::get_survey(self, request.into_inner()).await?,
        ))
    }

    async fn list_surveys(
        &self,
        request: Request<pb::ListSurveysRequest>,
    ) -> Result<Response<pb::ListSurveysResponse>, Status> {
        Ok(Response::new(
            surveys::list_surveys(self, request.into_inner()).await?,
        ))
    }

    async fn adjust_survey_score(
        &self,
        request: Request<pb::AdjustSurveyScoreRequest>,
    ) -> Result<Response<pb::AdjustSurveyScoreResponse>, Status> {
        Ok(Response::new(
            surveys::adjust_survey_score(self, request.into_inner()).await?,
        ))
    }

    async fn record_activity(
        &self,
        request: Request<pb::RecordActivityRequest>,
    ) -> Result<Response<pb::RecordActivityResponse>, Status> {
        Ok(Response::new(
            activities::record_activity(self, request.into_inner()).await?,
        ))
    }

    async fn list_process_indicators(
        &self,
        request: Request<pb::ListProcessIndicatorsRequest>,
    ) -> Result<Response<pb::ListProcessIndicatorsResponse>, Status> {
        Ok(Response::new(
            activities::list_process_indicators(self, request.into_inner()).await?,
        ))
    }

    async fn record_staff_month(
        &self,
        request: Request<pb::RecordStaffMonthRequest>,
    ) -> Result<Response<pb::RecordStaffMonthResponse>, Status> {
        Ok(Response::new(
            staff::record_staff_month(self, request.into_inner()).await?,
        ))
    }

    async fn list_staff_evaluations(
        &self,
        request: Request<pb::ListStaffEvaluationsRequest>,
    ) -> Result<Response<pb::ListStaffEvaluationsResponse>, Status> {
        Ok(Response::new(
            staff::list_staff_evaluations(self, request.into_inner()).await?,
        ))
    }

    async fn list_scorecards(
        &self,
        request: Request<pb::ListScorecardsRequest>,
    ) -> Result<Response<pb::ListScorecardsResponse>, Status> {
        Ok(Response::new(
            scorecards::list_scorecards(self, request.into_inner()).await?,
        ))
    }

    async fn list_churn_risk_signals(
        &self,
        request: Request<pb::ListChurnRiskSignalsRequest>,
    ) -> Result<Response<pb::ListChurnRiskSignalsResponse>, Status> {
        Ok(Response::new(
            churn::list_churn_risk_signals(self, request.into_inner()).await?,
        ))
    }

    async fn acknowledge_churn_risk_signal(
        &self,
        request: Request<pb::AcknowledgeChurnRiskSignalRequest>,
    ) -> Result<Response<pb::AcknowledgeChurnRiskSignalResponse>, Status> {
        Ok(Response::new(
            churn::acknowledge_churn_risk_signal(self, request.into_inner()).await?,
        ))
    }

    async fn resolve_churn_risk_signal(
        &self,
        request: Request<pb::ResolveChurnRiskSignalRequest>,
    ) -> Result<Response<pb::ResolveChurnRiskSignalResponse>, Status> {
        Ok(Response::new(
            churn::resolve_churn_risk_signal(self, request.into_inner()).await?,
        ))
    }

    async fn record_customer_loss(
        &self,
        request: Request<pb::RecordCustomerLossRequest>,
    ) -> Result<Response<pb::RecordCustomerLossResponse>, Status> {
        Ok(Response::new(
            churn::record_customer_loss(self, request.into_inner()).await?,
        ))
    }

    async fn count_customer_losses(
        &self,
        request: Request<pb::CountCustomerLossesRequest>,
    ) -> Result<Response<pb::CountCustomerLossesResponse>, Status> {
        Ok(Response::new(
            churn::count_customer_losses(self, request.into_inner()).await?,
        ))
    }
}
