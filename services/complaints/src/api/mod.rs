//! The gRPC API of the complaints service. This file holds the service struct, the checks
//! every handler shares and the generated trait's impl, which hands each RPC to its handler in
//! a file per group of RPCs; a handler validates its request, calls the use cases in
//! `crate::app` and converts the answer. Only `api/` speaks tonic.

mod clocks;
mod compensation;
mod convert;
mod enums;
mod intake;
mod lifecycle;
mod limits;
mod promises;
mod replies;
pub mod roles;
mod stream;
mod timeline;

use std::sync::Arc;

use chrono::{DateTime, Utc};
use csops_proto::complaints::v1 as pb;
use csops_proto::complaints::v1::complaints_service_server::ComplaintsService;
use csops_runtime::idempotency::Key;
use csops_runtime::paging::PageTokens;
use csops_runtime::violations::MAX_ID_LEN;
use csops_runtime::{time, Error};
use tonic::{Request, Response, Status};

use crate::app::Complaints;
use crate::domain::{Actor, Complaint, Effects, RuleError, Rules, Violations};

/// Implementation of `csops.complaints.v1.ComplaintsService`.
#[derive(Debug, Clone)]
pub struct ComplaintsApi {
    core: Arc<Complaints>,
    page_tokens: PageTokens,
    /// One permit per WatchSlaEvents stream this process may hold open.
    streams: Arc<tokio::sync::Semaphore>,
}

fn done(v: Violations) -> Result<(), Error> {
    v.into_result(()).map_err(Error::InvalidArgument)
}

/// Reads an optional request_id, the retry key of a change.
fn retry_key(v: &mut Violations, id: &str) -> Option<String> {
    let id = id.trim();
    if id.len() > MAX_ID_LEN {
        v.push(
            "request_id",
            format!("must be at most {MAX_ID_LEN} characters"),
        );
    }
    (!id.is_empty()).then(|| id.to_owned())
}

/// Type-checks an optional proto enum filter value.
fn known<T>(parsed: Option<T>, number: i32, field: &str, v: &mut Violations) -> Option<T> {
    if number != 0 && parsed.is_none() {
        v.push(field, "unknown value");
    }
    parsed
}

impl ComplaintsApi {
    /// Serves complaints from the shared core, with at most `max_sla_streams`
    /// WatchSlaEvents streams open at once.
    pub fn new(core: Arc<Complaints>, page_tokens: PageTokens, max_sla_streams: usize) -> Self {
        Self {
            core,
            page_tokens,
            streams: Arc::new(tokio::sync::Semaphore::new(max_sla_streams.max(1))),
        }
    }

    fn rules(&self) -> &Rules {
        &self.core.rules
    }

    async fn load(&self, id: &str) -> Result<Complaint, Error> {
        self.core.load(id).await
    }

    fn to_pb(&self, c: &Complaint) -> pb::Complaint {
        convert::complaint(c, self.rules(), time::now())
    }

    /// Runs a change through the use case (see `Complaints::change`).
    async fn mutate(
        &self,
        id: &str,
        etag: &str,
        retry: Option<Key>,
        change: impl Fn(&mut Complaint, &Rules, DateTime<Utc>) -> Result<(String, Effects), RuleError>
            + Sync,
    ) -> Result<(Complaint, String), Error> {
        self.core.change(id, etag, retry, change).await
    }

    /// A state change whose request has complaint_id, actor and etag.
    async fn transition<F>(
        &self,
        complaint_id: &str,
        actor: Option<pb::Actor>,
        etag: &str,
        mut v: Violations,
        change: F,
    ) -> Result<pb::Complaint, Error>
    where
        F: Fn(&mut Complaint, &Actor, &Rules, DateTime<Utc>) -> Result<Effects, RuleError> + Sync,
    {
        v.require_id("complaint_id", complaint_id);
        let actor = convert::actor(actor, &mut v);
        done(v)?;
        let (c, _) = self
            .mutate(complaint_id, etag, None, |c, rules, now| {
                change(c, &actor, rules, now).map(|effects| (String::new(), effects))
            })
            .await?;
        tracing::info!(complaint_id = %c.id, state = c.state.code(), "complaint changed");
        Ok(self.to_pb(&c))
    }

    /// Approves or rejects a proposed compensation; returns the complaint and the decision.
    async fn decide_compensation(
        &self,
        complaint_id: &str,
        compensation_id: &str,
        approve: bool,
        note: &str,
        actor: Option<pb::Actor>,
        etag: &str,
    ) -> Result<(pb::Complaint, Option<pb::Compensation>), Error> {
        let mut v = Violations::default();
        v.require_id("compensation_id", compensation_id);
        let c = self
            .transition(complaint_id, actor, etag, v, |c, a, r, now| {
                c.decide_compensation(compensation_id, approve, note, a, r, now)
            })
            .await?;
        let compensation = c
            .compensations
            .iter()
            .find(|x| x.id == compensation_id)
            .cloned();
        Ok((c, compensation))
    }
}

impl ComplaintsApi {
    /// Returns the timeline entry a change wrote, by its sequence number.
    async fn entry_at(
        &self,
        complaint_id: &str,
        sequence: &str,
    ) -> Result<pb::TimelineEntry, Error> {
        let seq: i64 = sequence.parse().unwrap_or(1);
        let rows = self
            .core
            .store
            .timeline(complaint_id, seq - 1, &[], 1)
            .await?;
        rows.first()
            .map(convert::entry)
            .ok_or_else(|| Error::NotFound(format!("complaint {complaint_id} has no entry {seq}")))
    }
}

#[tonic::async_trait]
impl ComplaintsService for ComplaintsApi {
    async fn create_complaint(
        &self,
        request: Request<pb::CreateComplaintRequest>,
    ) -> Result<Response<pb::CreateComplaintResponse>, Status> {
        Ok(Response::new(
            intake::create_complaint(self, request.into_inner()).await?,
        ))
    }

    async fn get_complaint(
        &self,
        request: Request<pb::GetComplaintRequest>,
    ) -> Result<Response<pb::GetComplaintResponse>, Status> {
        Ok(Response::new(
            intake::get_complaint(self, request.into_inner()).await?,
        ))
    }

    async fn list_complaints(
        &self,
        request: Request<pb::ListComplaintsRequest>,
    ) -> Result<Response<pb::ListComplaintsResponse>, Status> {
        Ok(Response::new(
            intake::list_complaints(self, request.into_inner()).await?,
        ))
    }

    async fn update_complaint(
        &self,
        request: Request<pb::UpdateComplaintRequest>,
    ) -> Result<Response<pb::UpdateComplaintResponse>, Status> {
        Ok(Response::new(
            intake::update_complaint(self, request.into_inner()).await?,
        ))
    }

    async fn assign_complaint(
        &self,
        request: Request<pb::AssignComplaintRequest>,
    ) -> Result<Response<pb::AssignComplaintResponse>, Status> {
        Ok(Response::new(
            lifecycle::assign_complaint(self, request.into_inner()).await?,
        ))
    }

    async fn acknowledge_complaint(
        &self,
        request: Request<pb::AcknowledgeComplaintRequest>,
    ) -> Result<Response<pb::AcknowledgeComplaintResponse>, Status> {
        Ok(Response::new(
            lifecycle::acknowledge_complaint(self, request.into_inner()).await?,
        ))
    }

    async fn start_investigation(
        &self,
        request: Request<pb::StartInvestigationRequest>,
    ) -> Result<Response<pb::StartInvestigationResponse>, Status> {
        Ok(Response::new(
            lifecycle::start_investigation(self, request.into_inner()).await?,
        ))
    }

    async fn propose_solution(
        &self,
        request: Request<pb::ProposeSolutionRequest>,
    ) -> Result<Response<pb::ProposeSolutionResponse>, Status> {
        Ok(Response::new(
            lifecycle::propose_solution(self, request.into_inner()).await?,
        ))
    }

    async fn accept_solution(
        &self,
        request: Request<pb::AcceptSolutionRequest>,
    ) -> Result<Response<pb::AcceptSolutionResponse>, Status> {
        Ok(Response::new(
            lifecycle::accept_solution(self, request.into_inner()).await?,
        ))
    }

    async fn reject_solution(
        &self,
        request: Request<pb::RejectSolutionRequest>,
    ) -> Result<Response<pb::RejectSolutionResponse>, Status> {
        Ok(Response::new(
            lifecycle::reject_solution(self, request.into_inner()).await?,
        ))
    }

    async fn resolve_complaint(
        &self,
        request: Request<pb::ResolveComplaintRequest>,
    ) -> Result<Response<pb::ResolveComplaintResponse>, Status> {
        Ok(Response::new(
            lifecycle::resolve_complaint(self, request.into_inner()).await?,
        ))
    }

    async fn record_callback(
        &self,
        request: Request<pb::RecordCallbackRequest>,
    ) -> Result<Response<pb::RecordCallbackResponse>, Status> {
        Ok(Response::new(
            lifecycle::record_callback(self, request.into_inner()).await?,
        ))
    }

    async fn close_complaint(
        &self,
        request: Request<pb::CloseComplaintRequest>,
    ) -> Result<Response<pb::CloseComplaintResponse>, Status> {
        Ok(Response::new(
            lifecycle::close_complaint(self, request.into_inner()).await?,
        ))
    }

    async fn confirm_effect(
        &self,
        request: Request<pb::ConfirmEffectRequest>,
    ) -> Result<Response<pb::ConfirmEffectResponse>, Status> {
        Ok(Response::new(
            lifecycle::confirm_effect(self, request.into_inner()).await?,
        ))
    }

    async fn reopen_complaint(
        &self,
        request: Request<pb::ReopenComplaintRequest>,
    ) -> Result<Response<pb::ReopenComplaintResponse>, Status> {
        Ok(Response::new(
            lifecycle::reopen_complaint(self, request.into_inner()).await?,
        ))
    }

    async fn withdraw_complaint(
        &self,
        request: Request<pb::WithdrawComplaintRequest>,
    ) -> Result<Response<pb::WithdrawComplaintResponse>, Status> {
        Ok(Response::new(
            lifecycle::withdraw_complaint(self, request.into_inner()).await?,
        ))
    }

    async fn escalate_complaint(
        &self,
        request: Request<pb::EscalateComplaintRequest>,
    ) -> Result<Response<pb::EscalateComplaintResponse>, Status> {
        Ok(Response::new(
            lifecycle::escalate_complaint(self, request.into_inner()).await?,
        ))
    }

    async fn pause_clocks(
        &self,
        request: Request<pb::PauseClocksRequest>,
    ) -> Result<Response<pb::PauseClocksResponse>, Status> {
        Ok(Response::new(
            clocks::pause_clocks(self, request.into_inner()).await?,
        ))
    }

    async fn resume_clocks(
        &self,
        request: Request<pb::ResumeClocksRequest>,
    ) -> Result<Response<pb::ResumeClocksResponse>, Status> {
        Ok(Response::new(
            clocks::resume_clocks(self, request.into_inner()).await?,
        ))
    }

    async fn explain_clock(
        &self,
        request: Request<pb::ExplainClockRequest>,
    ) -> Result<Response<pb::ExplainClockResponse>, Status> {
        Ok(Response::new(
            clocks::explain_clock(self, request.into_inner()).await?,
        ))
    }

    type WatchSlaEventsStream = stream::SlaStream;

    async fn watch_sla_events(
        &self,
        request: Request<pb::WatchSlaEventsRequest>,
    ) -> Result<Response<Self::WatchSlaEventsStream>, Status> {
        Ok(Response::new(
            stream::watch_sla_events(self, request.into_inner()).await?,
        ))
    }

    async fn list_timeline(
        &self,
        request: Request<pb::ListTimelineRequest>,
    ) -> Result<Response<pb::ListTimelineResponse>, Status> {
        Ok(Response::new(
            timeline::list_timeline(self, request.into_inner()).await?,
        ))
    }

    async fn add_note(
        &self,
        request: Request<pb::AddNoteRequest>,
    ) -> Result<Response<pb::AddNoteResponse>, Status> {
        Ok(Response::new(
            timeline::add_note(self, request.into_inner()).await?,
        ))
    }

    async fn record_call(
        &self,
        request: Request<pb::RecordCallRequest>,
    ) -> Result<Response<pb::RecordCallResponse>, Status> {
        Ok(Response::new(
            timeline::record_call(self, request.into_inner()).await?,
        ))
    }

    async fn make_promise(
        &self,
        request: Request<pb::MakePromiseRequest>,
    ) -> Result<Response<pb::MakePromiseResponse>, Status> {
        Ok(Response::new(
            promises::make_promise(self, request.into_inner()).await?,
        ))
    }

    async fn keep_promise(
        &self,
        request: Request<pb::KeepPromiseRequest>,
    ) -> Result<Response<pb::KeepPromiseResponse>, Status> {
        Ok(Response::new(
            promises::keep_promise(self, request.into_inner()).await?,
        ))
    }

    async fn reschedule_promise(
        &self,
        request: Request<pb::ReschedulePromiseRequest>,
    ) -> Result<Response<pb::ReschedulePromiseResponse>, Status> {
        Ok(Response::new(
            promises::reschedule_promise(self, request.into_inner()).await?,
        ))
    }

    async fn propose_compensation(
        &self,
        request: Request<pb::ProposeCompensationRequest>,
    ) -> Result<Response<pb::ProposeCompensationResponse>, Status> {
        Ok(Response::new(
            compensation::propose_compensation(self, request.into_inner()).await?,
        ))
    }

    async fn approve_compensation(
        &self,
        request: Request<pb::ApproveCompensationRequest>,
    ) -> Result<Response<pb::ApproveCompensationResponse>, Status> {
        Ok(Response::new(
            compensation::approve_compensation(self, request.into_inner()).await?,
        ))
    }

    async fn reject_compensation(
        &self,
        request: Request<pb::RejectCompensationRequest>,
    ) -> Result<Response<pb::RejectCompensationResponse>, Status> {
        Ok(Response::new(
            compensation::reject_compensation(self, request.into_inner()).await?,
        ))
    }

    async fn check_reply(
        &self,
        request: Request<pb::CheckReplyRequest>,
    ) -> Result<Response<pb::CheckReplyResponse>, Status> {
        Ok(Response::new(
            replies::check_reply(self, request.into_inner()).await?,
        ))
    }

    async fn list_reply_violations(
        &self,
        request: Request<pb::ListReplyViolationsRequest>,
    ) -> Result<Response<pb::ListReplyViolationsResponse>, Status> {
        Ok(Response::new(
            replies::list_reply_violations(self, request.into_inner()).await?,
        ))
    }
}
