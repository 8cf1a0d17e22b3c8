//! The gRPC API of the visits service. This file holds the service struct, the checks every
//! handler shares and the generated trait's impl, which hands each RPC to its handler in a
//! file per group of RPCs (plans, visits, care, field jobs); a handler checks sizes, validates
//! its request, calls the use cases in `crate::app` and converts the answer. Only `api/`
//! speaks tonic.

mod care;
mod convert;
mod convert_field_jobs;
mod field_jobs;
mod limits;
mod plans;
pub mod roles;
mod visits;

use std::sync::Arc;

use csops_proto::visits::v1 as pb;
use csops_proto::visits::v1::visits_service_server::VisitsService;
use csops_runtime::paging::PageTokens;
use csops_runtime::{Error, Violations};
use tonic::{Request, Response, Status};

use crate::app::Visits;

/// Default page size of the listings.
const DEFAULT_PAGE_SIZE: u32 = 50;

/// Implementation of `csops.visits.v1.VisitsService`.
#[derive(Debug, Clone)]
pub struct VisitsApi {
    core: Arc<Visits>,
    page_tokens: PageTokens,
}

impl VisitsApi {
    /// Serves visits from the shared core; page tokens are signed by `page_tokens`.
    pub fn new(core: Arc<Visits>, page_tokens: PageTokens) -> Self {
        Self { core, page_tokens }
    }
}

/// INVALID_ARGUMENT for every violation, or nothing.
fn done(v: Violations) -> Result<(), Error> {
    v.into_result(()).map_err(Error::InvalidArgument)
}

#[tonic::async_trait]
impl VisitsService for VisitsApi {
    async fn create_visit_plan(
        &self,
        request: Request<pb::CreateVisitPlanRequest>,
    ) -> Result<Response<pb::CreateVisitPlanResponse>, Status> {
        Ok(Response::new(
            plans::create_visit_plan(self, request.into_inner()).await?,
        ))
    }

    async fn get_visit_plan(
        &self,
        request: Request<pb::GetVisitPlanRequest>,
    ) -> Result<Response<pb::GetVisitPlanResponse>, Status> {
        Ok(Response::new(
            plans::get_visit_plan(self, request.into_inner()).await?,
        ))
    }

    async fn list_visit_plans(
        &self,
        request: Request<pb::ListVisitPlansRequest>,
    ) -> Result<Response<pb::ListVisitPlansResponse>, Status> {
        Ok(Response::new(
            plans::list_visit_plans(self, request.into_inner()).await?,
        ))
    }

    async fn update_visit_plan(
        &self,
        request: Request<pb::UpdateVisitPlanRequest>,
    ) -> Result<Response<pb::UpdateVisitPlanResponse>, Status> {
        Ok(Response::new(
            plans::update_visit_plan(self, request.into_inner()).await?,
        ))
    }

    async fn refresh_visit_plan(
        &self,
        request: Request<pb::RefreshVisitPlanRequest>,
    ) -> Result<Response<pb::RefreshVisitPlanResponse>, Status> {
        Ok(Response::new(
            plans::refresh_visit_plan(self, request.into_inner()).await?,
        ))
    }

    async fn pause_visit_plan(
        &self,
        request: Request<pb::PauseVisitPlanRequest>,
    ) -> Result<Response<pb::PauseVisitPlanResponse>, Status> {
        Ok(Response::new(
            plans::pause_visit_plan(self, request.into_inner()).await?,
        ))
    }

    async fn resume_visit_plan(
        &self,
        request: Request<pb::ResumeVisitPlanRequest>,
    ) -> Result<Response<pb::ResumeVisitPlanResponse>, Status> {
        Ok(Response::new(
            plans::resume_visit_plan(self, request.into_inner()).await?,
        ))
    }

    async fn create_visit(
        &self,
        request: Request<pb::CreateVisitRequest>,
    ) -> Result<Response<pb::CreateVisitResponse>, Status> {
        Ok(Response::new(
            visits::create_visit(self, request.into_inner()).await?,
        ))
    }

    async fn request_complaint_visit(
        &self,
        request: Request<pb::RequestComplaintVisitRequest>,
    ) -> Result<Response<pb::RequestComplaintVisitResponse>, Status> {
        Ok(Response::new(
            visits::request_complaint_visit(self, request.into_inner()).await?,
        ))
    }

    async fn get_visit(
        &self,
        request: Request<pb::GetVisitRequest>,
    ) -> Result<Response<pb::GetVisitResponse>, Status> {
        Ok(Response::new(
            visits::get_visit(self, request.into_inner()).await?,
        ))
    }

    async fn list_visits(
        &self,
        request: Request<pb::ListVisitsRequest>,
    ) -> Result<Response<pb::ListVisitsResponse>, Status> {
        Ok(Response::new(
            visits::list_visits(self, request.into_inner()).await?,
        ))
    }

    async fn update_visit(
        &self,
        request: Request<pb::UpdateVisitRequest>,
    ) -> Result<Response<pb::UpdateVisitResponse>, Status> {
        Ok(Response::new(
            visits::update_visit(self, request.into_inner()).await?,
        ))
    }

    async fn schedule_visit(
        &self,
        request: Request<pb::ScheduleVisitRequest>,
    ) -> Result<Response<pb::ScheduleVisitResponse>, Status> {
        Ok(Response::new(
            visits::schedule_visit(self, request.into_inner()).await?,
        ))
    }

    async fn start_visit(
        &self,
        request: Request<pb::StartVisitRequest>,
    ) -> Result<Response<pb::StartVisitResponse>, Status> {
        Ok(Response::new(
            visits::start_visit(self, request.into_inner()).await?,
        ))
    }

    async fn complete_visit(
        &self,
        request: Request<pb::CompleteVisitRequest>,
    ) -> Result<Response<pb::CompleteVisitResponse>, Status> {
        Ok(Response::new(
            visits::complete_visit(self, request.into_inner()).await?,
        ))
    }

    async fn miss_visit(
        &self,
        request: Request<pb::MissVisitRequest>,
    ) -> Result<Response<pb::MissVisitResponse>, Status> {
        Ok(Response::new(
            visits::miss_visit(self, request.into_inner()).await?,
        ))
    }

    async fn cancel_visit(
        &self,
        request: Request<pb::CancelVisitRequest>,
    ) -> Result<Response<pb::CancelVisitResponse>, Status> {
        Ok(Response::new(
            visits::cancel_visit(self, request.into_inner()).await?,
        ))
    }

    async fn get_agenda(
        &self,
        request: Request<pb::GetAgendaRequest>,
    ) -> Result<Response<pb::GetAgendaResponse>, Status> {
        Ok(Response::new(
            visits::get_agenda(self, request.into_inner()).await?,
        ))
    }

    async fn apply_customer_change(
        &self,
        request: Request<pb::ApplyCustomerChangeRequest>,
    ) -> Result<Response<pb::ApplyCustomerChangeResponse>, Status> {
        Ok(Response::new(
            plans::apply_customer_change(self, request.into_inner()).await?,
        ))
    }

    async fn replan_visits(
        &self,
        request: Request<pb::ReplanVisitsRequest>,
    ) -> Result<Response<pb::ReplanVisitsResponse>, Status> {
        Ok(Response::new(
            plans::replan_visits(self, request.into_inner()).await?,
        ))
    }

    async fn list_care_events(
        &self,
        request: Request<pb::ListCareEventsRequest>,
    ) -> Result<Response<pb::ListCareEventsResponse>, Status> {
        Ok(Response::new(
            care::list_care_events(self, request.into_inner()).await?,
        ))
    }

    async fn skip_care_event(
        &self,
        request: Request<pb::SkipCareEventRequest>,
    ) -> Result<Response<pb::SkipCareEventResponse>, Status> {
        Ok(Response::new(
            care::skip_care_event(self, request.into_inner()).await?,
        ))
    }

    async fn create_field_job(
        &self,
        request: Request<pb::CreateFieldJobRequest>,
    ) -> Result<Response<pb::CreateFieldJobResponse>, Status> {
        Ok(Response::new(
            field_jobs::create_field_job(self, request.into_inner()).await?,
        ))
    }

    async fn get_field_job(
        &self,
        request: Request<pb::GetFieldJobRequest>,
    ) -> Result<Response<pb::GetFieldJobResponse>, Status> {
        Ok(Response::new(
            field_jobs::get_field_job(self, request.into_inner()).await?,
        ))
    }

    async fn list_field_jobs(
        &self,
        request: Request<pb::ListFieldJobsRequest>,
    ) -> Result<Response<pb::ListFieldJobsResponse>, Status> {
        Ok(Response::new(
            field_jobs::list_field_jobs(self, request.into_inner()).await?,
        ))
    }

    async fn agree_field_job_window(
        &self,
        request: Request<pb::AgreeFieldJobWindowRequest>,
    ) -> Result<Response<pb::AgreeFieldJobWindowResponse>, Status> {
        Ok(Response::new(
            field_jobs::agree_field_job_window(self, request.into_inner()).await?,
        ))
    }

    async fn record_field_job_arrival(
        &self,
        request: Request<pb::RecordFieldJobArrivalRequest>,
    ) -> Result<Response<pb::RecordFieldJobArrivalResponse>, Status> {
        Ok(Response::new(
            field_jobs::record_field_job_arrival(self, request.into_inner()).await?,
        ))
    }

    async fn start_field_job(
        &self,
        request: Request<pb::StartFieldJobRequest>,
    ) -> Result<Response<pb::StartFieldJobResponse>, Status> {
        Ok(Response::new(
            field_jobs::start_field_job(self, request.into_inner()).await?,
        ))
    }

    async fn propose_extra_work(
        &self,
        request: Request<pb::ProposeExtraWorkRequest>,
    ) -> Result<Response<pb::ProposeExtraWorkResponse>, Status> {
        Ok(Response::new(
            field_jobs::propose_extra_work(self, request.into_inner()).await?,
        ))
    }

    async fn record_extra_work_consent(
        &self,
        request: Request<pb::RecordExtraWorkConsentRequest>,
    ) -> Result<Response<pb::RecordExtraWorkConsentResponse>, Status> {
        Ok(Response::new(
            field_jobs::record_extra_work_consent(self, request.into_inner()).await?,
        ))
    }

    async fn pause_field_job(
        &self,
        request: Request<pb::PauseFieldJobRequest>,
    ) -> Result<Response<pb::PauseFieldJobResponse>, Status> {
        Ok(Response::new(
            field_jobs::pause_field_job(self, request.into_inner()).await?,
        ))
    }

    async fn resume_field_job(
        &self,
        request: Request<pb::ResumeFieldJobRequest>,
    ) -> Result<Response<pb::ResumeFieldJobResponse>, Status> {
        Ok(Response::new(
            field_jobs::resume_field_job(self, request.into_inner()).await?,
        ))
    }

    async fn complete_field_job(
        &self,
        request: Request<pb::CompleteFieldJobRequest>,
    ) -> Result<Response<pb::CompleteFieldJobResponse>, Status> {
        Ok(Response::new(
            field_jobs::complete_field_job(self, request.into_inner()).await?,
        ))
    }

    async fn cancel_field_job(
        &self,
        request: Request<pb::CancelFieldJobRequest>,
    ) -> Result<Response<pb::CancelFieldJobResponse>, Status> {
        Ok(Response::new(
            field_jobs::cancel_field_job(self, request.into_inner()).await?,
        ))
    }
}
