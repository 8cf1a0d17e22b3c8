//! The gRPC API of the complaints service: each method validates its request, applies the
//! domain rules, calls the store and converts the answer.

mod convert;
mod error;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use csops_proto::complaints::v1 as pb;
use csops_proto::complaints::v1::complaints_service_server::ComplaintsService;
use csops_runtime::db::now_micros;
use csops_runtime::page_token::{self, Cursor};
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status};

use crate::clients::Lookup;
use crate::domain::{
    at, new_id, Actor, CallbackOutcome, ClockKind, CompensationKind, Complaint, EntryKind,
    EscalationReason, Level, Micros, Nature, PauseReason, ReopenReason, ResolutionInput, RuleError,
    Rules, Severity, SlaEvent, SlaEventKind, Snapshot, State, Violations,
};
use crate::error::Error;
use crate::store::{Inserted, ListFilter, RequestKey, StoreError, ViolationRow};
use crate::Core;

const MAX_PAGE_SIZE: u32 = 500;
/// Streams re-read events this far back, so a row committed late by another replica is seen.
const STREAM_OVERLAP: Micros = 5_000_000;
const STREAM_POLL: Duration = Duration::from_millis(500);

/// Implementation of `csops.complaints.v1.ComplaintsService`.
#[derive(Debug, Clone)]
pub struct ComplaintsApi {
    core: Arc<Core>,
}

fn require_id(v: &mut Violations, field: &str, id: &str) {
    if id.trim().is_empty() {
        v.push(field, "is required");
    } else if id.len() > 100 {
        v.push(field, "must be at most 100 characters");
    }
}

fn done(v: Violations) -> Result<(), Error> {
    v.into_result(()).map_err(Error::InvalidArgument)
}

fn limit_of(size: i32, default: u32, v: &mut Violations) -> u32 {
    match u32::try_from(size) {
        Ok(0) => default,
        Ok(n) if n <= MAX_PAGE_SIZE => n,
        _ => {
            v.push(
                "page_size",
                format!("must be 0-{MAX_PAGE_SIZE} (0 means {default})"),
            );
            default
        }
    }
}

fn request_id(v: &mut Violations, id: &str) -> Option<String> {
    let id = id.trim();
    if id.len() > 100 {
        v.push("request_id", "must be at most 100 characters");
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
    /// Serves complaints from the shared core.
    pub fn new(core: Arc<Core>) -> Self {
        Self { core }
    }

    fn rules(&self) -> &Rules {
        &self.core.rules
    }

    async fn load(&self, id: &str) -> Result<Complaint, Error> {
        self.core
            .store
            .get(id)
            .await?
            .ok_or_else(|| Error::NotFound(format!("complaint {id} not found")))
    }

    fn to_pb(&self, c: &Complaint) -> pb::Complaint {
        convert::complaint(c, self.rules(), now_micros())
    }

    /// Loads a complaint, checks the etag (empty = unconditional), applies `change` and saves
    /// it with everything it produced, only if nobody changed it meanwhile. An unconditional
    /// change is retried on a concurrent write; a conditional one answers ABORTED. With a
    /// retry key, a repeated call returns the complaint and the id the first call produced.
    async fn mutate(
        &self,
        id: &str,
        etag: &str,
        retry: Option<(&'static str, String)>,
        change: impl Fn(&mut Complaint, &Rules, Micros) -> Result<String, RuleError>,
    ) -> Result<(Complaint, String), Error> {
        if let Some((scope, request_id)) = &retry {
            if let Some(found) = self.replay(id, scope, request_id).await? {
                return Ok(found);
            }
        }
        for _ in 0..5 {
            let mut c = self.load(id).await?;
            if !etag.is_empty() && etag != c.etag() {
                return Err(Error::StaleEtag {
                    id: id.to_owned(),
                    given: etag.to_owned(),
                    current: c.etag(),
                });
            }
            let expected = c.version;
            let now = now_micros();
            let produced = change(&mut c, self.rules(), now)?;
            let sla_state = c.sla_state(self.rules(), now);
            let next = c.next_check(self.rules(), now);
            let key = retry.as_ref().map(|(scope, request_id)| RequestKey {
                scope,
                request_id: request_id.clone(),
                ref_id: produced.clone(),
            });
            match self
                .core
                .store
                .save(&mut c, expected, key.as_ref(), sla_state, next)
                .await
            {
                Ok(true) => {
                    self.core.published(&c);
                    return Ok((c, produced));
                }
                Ok(false) if etag.is_empty() => continue,
                Ok(false) => {
                    let current = self.load(id).await?;
                    return Err(Error::StaleEtag {
                        id: id.to_owned(),
                        given: etag.to_owned(),
                        current: current.etag(),
                    });
                }
                Err(StoreError::Duplicate(e)) => {
                    if let Some((scope, request_id)) = &retry {
                        if let Some(found) = self.replay(id, scope, request_id).await? {
                            return Ok(found);
                        }
                    }
                    return Err(StoreError::Duplicate(e).into());
                }
                Err(e) => return Err(e.into()),
            }
        }
        let current = self.load(id).await?;
        Err(Error::StaleEtag {
            id: id.to_owned(),
            given: String::new(),
            current: current.etag(),
        })
    }

    async fn replay(
        &self,
        id: &str,
        scope: &str,
        request_id: &str,
    ) -> Result<Option<(Complaint, String)>, Error> {
        match self.core.store.find_request(scope, request_id).await? {
            Some((complaint_id, _)) if complaint_id != id => Err(Error::invalid(
                "request_id",
                format!("was already used for complaint {complaint_id}"),
            )),
            Some((_, produced)) => {
                tracing::info!(complaint_id = %id, scope, "retried call answered from its first result");
                Ok(Some((self.load(id).await?, produced)))
            }
            None => Ok(None),
        }
    }

    /// A state change whose request has complaint_id, actor and etag.
    async fn transition(
        &self,
        complaint_id: &str,
        actor: Option<pb::Actor>,
        etag: &str,
        mut v: Violations,
        change: impl Fn(&mut Complaint, &Actor, &Rules, Micros) -> Result<(), RuleError>,
    ) -> Result<pb::Complaint, Status> {
        require_id(&mut v, "complaint_id", complaint_id);
        let actor = convert::actor(actor, &mut v);
        done(v)?;
        let (c, _) = self
            .mutate(complaint_id, etag, None, |c, rules, now| {
                change(c, &actor, rules, now).map(|()| String::new())
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
    ) -> Result<(pb::Complaint, Option<pb::Compensation>), Status> {
        let mut v = Violations::default();
        require_id(&mut v, "compensation_id", compensation_id);
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

type SlaStream = ReceiverStream<Result<pb::WatchSlaEventsResponse, Status>>;

#[derive(Debug, Clone)]
struct SlaFilter {
    kinds: Vec<SlaEventKind>,
    clock_kinds: Vec<ClockKind>,
    complaint_id: String,
    assigned_agent_id: String,
    customer_id: String,
    min_severity: Option<Severity>,
}

impl SlaFilter {
    fn matches(&self, e: &SlaEvent) -> bool {
        (self.kinds.is_empty() || self.kinds.contains(&e.kind))
            && (self.clock_kinds.is_empty()
                || e.clock_kind.is_some_and(|k| self.clock_kinds.contains(&k)))
            && (self.complaint_id.is_empty() || self.complaint_id == e.complaint_id)
            && (self.assigned_agent_id.is_empty() || self.assigned_agent_id == e.assigned_agent_id)
            && (self.customer_id.is_empty() || self.customer_id == e.customer_id)
            && self.min_severity.is_none_or(|s| e.severity >= s)
    }
}

async fn stream_sla_events(
    core: Arc<Core>,
    filter: SlaFilter,
    floor: Micros,
    skip: Option<String>,
    tx: mpsc::Sender<Result<pb::WatchSlaEventsResponse, Status>>,
) {
    let mut stop = core.stop.clone();
    let mut seen: HashMap<String, Micros> = HashMap::new();
    if let Some(id) = skip {
        seen.insert(id, floor);
    }
    let mut cursor = floor;
    loop {
        let notified = core.sla_recorded.notified();
        match core
            .store
            .sla_events_since((cursor - STREAM_OVERLAP).max(floor), 5000)
            .await
        {
            Ok(events) => {
                for e in events {
                    if e.time < floor || seen.contains_key(&e.id) {
                        continue;
                    }
                    cursor = cursor.max(e.time);
                    seen.insert(e.id.clone(), e.time);
                    if filter.matches(&e)
                        && tx
                            .send(Ok(pb::WatchSlaEventsResponse {
                                event: Some(convert::sla_event(&e)),
                            }))
                            .await
                            .is_err()
                    {
                        return;
                    }
                }
                seen.retain(|_, t| *t >= cursor - 2 * STREAM_OVERLAP);
            }
            Err(error) => {
                tracing::warn!(
                    error = &error as &dyn std::error::Error,
                    "sla stream poll failed"
                );
            }
        }
        tokio::select! {
            _ = stop.wait_for(|s| *s) => return,
            () = tx.closed() => return,
            () = notified => {}
            () = tokio::time::sleep(STREAM_POLL) => {}
        }
    }
}

#[tonic::async_trait]
impl ComplaintsService for ComplaintsApi {
    async fn create_complaint(
        &self,
        request: Request<pb::CreateComplaintRequest>,
    ) -> Result<Response<pb::CreateComplaintResponse>, Status> {
        let pb::CreateComplaintRequest {
            complaint,
            request_id,
            actor,
        } = request.into_inner();
        let mut v = Violations::default();
        let request_id = request_id.trim().to_owned();
        if request_id.is_empty() || request_id.len() > 100 {
            v.push(
                "request_id",
                "must be 1-100 characters (e.g. a UUID) so retries are safe",
            );
        }
        let actor = convert::actor(actor, &mut v);
        let Some(complaint) = complaint else {
            v.push("complaint", "is required");
            return Err(Error::InvalidArgument(v).into());
        };
        let input = convert::input(complaint, &mut v);
        done(v)?;
        if let Some((id, _)) = self
            .core
            .store
            .find_request("create", &request_id)
            .await
            .map_err(Error::from)?
        {
            let c = self.load(&id).await?;
            return Ok(Response::new(pb::CreateComplaintResponse {
                complaint: Some(self.to_pb(&c)),
            }));
        }
        let now = now_micros();
        let snapshot = if input.customer_id.trim().is_empty() {
            Snapshot::most_demanding()
        } else {
            match self
                .core
                .customers
                .lookup(input.customer_id.trim(), now)
                .await
            {
                Lookup::Found(s) => s,
                Lookup::Unreachable => Snapshot::most_demanding(),
                Lookup::NotFound => {
                    return Err(Error::invalid(
                        "complaint.customer_id",
                        "no such customer in the customers service",
                    )
                    .into())
                }
            }
        };
        let mut c = Complaint::create(new_id("cmp"), input, snapshot, actor, self.rules(), now)
            .map_err(|e| match e {
                RuleError::Invalid(v) => Error::InvalidArgument(v.prefixed("complaint")),
                other => other.into(),
            })?;
        let sla_state = c.sla_state(self.rules(), now);
        let next = c.next_check(self.rules(), now);
        let c = match self
            .core
            .store
            .insert(&mut c, &request_id, sla_state, next)
            .await
            .map_err(Error::from)?
        {
            Inserted::Created => {
                tracing::info!(
                    complaint_id = %c.id,
                    severity = c.severity.code(),
                    defaulted = c.customer.defaulted,
                    "complaint created"
                );
                self.core.published(&c);
                c
            }
            Inserted::Replayed(id) => self.load(&id).await?,
        };
        Ok(Response::new(pb::CreateComplaintResponse {
            complaint: Some(self.to_pb(&c)),
        }))
    }

    async fn get_complaint(
        &self,
        request: Request<pb::GetComplaintRequest>,
    ) -> Result<Response<pb::GetComplaintResponse>, Status> {
        let pb::GetComplaintRequest { complaint_id } = request.into_inner();
        let mut v = Violations::default();
        require_id(&mut v, "complaint_id", &complaint_id);
        done(v)?;
        let c = self.load(&complaint_id).await?;
        Ok(Response::new(pb::GetComplaintResponse {
            complaint: Some(self.to_pb(&c)),
        }))
    }

    async fn list_complaints(
        &self,
        request: Request<pb::ListComplaintsRequest>,
    ) -> Result<Response<pb::ListComplaintsResponse>, Status> {
        let pb::ListComplaintsRequest {
            page_size,
            page_token,
            states,
            natures,
            severities,
            assigned_agent_id,
            unassigned,
            customer_id,
            sla_state,
            create_time_start,
            create_time_end,
            escalation_level,
        } = request.into_inner();
        let mut v = Violations::default();
        let limit = page_size_of(page_size, &mut v);
        let mut filter = ListFilter::default();
        for (i, s) in states.iter().enumerate() {
            match State::from_number(*s) {
                Some(s) => filter.states.push(s.code().to_owned()),
                None => v.push(format!("states[{i}]"), "unknown state"),
            }
        }
        for (i, s) in natures.iter().enumerate() {
            match Nature::from_number(*s) {
                Some(s) => filter.natures.push(s.code().to_owned()),
                None => v.push(format!("natures[{i}]"), "unknown nature"),
            }
        }
        for (i, s) in severities.iter().enumerate() {
            match Severity::from_number(*s) {
                Some(s) => filter.severities.push(s.code().to_owned()),
                None => v.push(format!("severities[{i}]"), "unknown severity"),
            }
        }
        filter.assigned_agent_id =
            Some(assigned_agent_id.trim().to_owned()).filter(|s| !s.is_empty());
        filter.unassigned = unassigned;
        if unassigned && filter.assigned_agent_id.is_some() {
            v.push("unassigned", "cannot be combined with assigned_agent_id");
        }
        filter.customer_id = Some(customer_id.trim().to_owned()).filter(|s| !s.is_empty());
        filter.sla_states = match pb::SlaStateFilter::try_from(sla_state) {
            Ok(pb::SlaStateFilter::Unspecified) => vec![],
            Ok(pb::SlaStateFilter::AtRisk) => vec!["at_risk".into()],
            Ok(pb::SlaStateFilter::Breached) => vec!["breached".into()],
            Ok(pb::SlaStateFilter::AtRiskOrBreached) => vec!["at_risk".into(), "breached".into()],
            Ok(pb::SlaStateFilter::OnTrack) => vec!["on_track".into()],
            Err(_) => {
                v.push("sla_state", "unknown value");
                vec![]
            }
        };
        filter.create_time_start = convert::from_ts(create_time_start);
        filter.create_time_end = convert::from_ts(create_time_end);
        filter.escalation_level = known(
            Level::from_number(escalation_level),
            escalation_level,
            "escalation_level",
            &mut v,
        )
        .map(|l| l.code().to_owned());
        let fingerprint = page_token::fingerprint(&format!("{filter:?}"));
        let cursor = if page_token.is_empty() {
            None
        } else {
            match page_token::decode(&page_token, fingerprint) {
                Ok(c) => Some(c),
                Err(why) => {
                    v.push("page_token", why);
                    None
                }
            }
        };
        done(v)?;
        let mut rows = self
            .core
            .store
            .list(&filter, cursor.as_ref(), limit + 1)
            .await
            .map_err(Error::from)?;
        let more = rows.len() > limit as usize;
        rows.truncate(limit as usize);
        let next_page_token = match (more, rows.last()) {
            (true, Some(last)) => page_token::encode(
                &Cursor {
                    key: last.create_time,
                    id: last.id.clone(),
                },
                fingerprint,
            ),
            _ => String::new(),
        };
        Ok(Response::new(pb::ListComplaintsResponse {
            complaints: rows.iter().map(|c| self.to_pb(c)).collect(),
            next_page_token,
        }))
    }

    async fn update_complaint(
        &self,
        request: Request<pb::UpdateComplaintRequest>,
    ) -> Result<Response<pb::UpdateComplaintResponse>, Status> {
        let pb::UpdateComplaintRequest {
            complaint,
            update_mask,
            actor,
        } = request.into_inner();
        let mut v = Violations::default();
        let actor = convert::actor(actor, &mut v);
        let Some(complaint) = complaint else {
            v.push("complaint", "is required");
            return Err(Error::InvalidArgument(v).into());
        };
        require_id(&mut v, "complaint.id", &complaint.id);
        if complaint.etag.trim().is_empty() {
            v.push(
                "complaint.etag",
                "is required: send the etag of the complaint you read",
            );
        }
        let id = complaint.id.clone();
        let etag = complaint.etag.clone();
        let paths = update_mask.map(|m| m.paths).unwrap_or_default();
        let patch = match convert::patch(complaint, &paths) {
            Ok(p) => Some(p),
            Err(more) => {
                v.extend(more);
                None
            }
        };
        done(v)?;
        let Some(patch) = patch else {
            return Err(Error::invalid("update_mask", "is required").into());
        };
        let (c, _) = self
            .mutate(&id, &etag, None, |c, rules, now| {
                c.update(patch.clone(), paths.clone(), &actor, rules, now)
                    .map(|()| String::new())
            })
            .await
            .map_err(|e| match e {
                Error::InvalidArgument(v) => Error::InvalidArgument(v.prefixed("complaint")),
                other => other,
            })?;
        tracing::info!(complaint_id = %id, fields = ?paths, "complaint updated");
        Ok(Response::new(pb::UpdateComplaintResponse {
            complaint: Some(self.to_pb(&c)),
        }))
    }

    async fn assign_complaint(
        &self,
        request: Request<pb::AssignComplaintRequest>,
    ) -> Result<Response<pb::AssignComplaintResponse>, Status> {
        let pb::AssignComplaintRequest {
            complaint_id,
            agent_id,
            reason,
            actor,
            etag,
        } = request.into_inner();
        let c = self
            .transition(
                &complaint_id,
                actor,
                &etag,
                Violations::default(),
                |c, a, r, now| c.assign(&agent_id, &reason, a, r, now),
            )
            .await?;
        Ok(Response::new(pb::AssignComplaintResponse {
            complaint: Some(c),
        }))
    }

    async fn acknowledge_complaint(
        &self,
        request: Request<pb::AcknowledgeComplaintRequest>,
    ) -> Result<Response<pb::AcknowledgeComplaintResponse>, Status> {
        let pb::AcknowledgeComplaintRequest {
            complaint_id,
            note,
            contact_time,
            actor,
            etag,
        } = request.into_inner();
        let contact_time = convert::from_ts(contact_time);
        let c = self
            .transition(
                &complaint_id,
                actor,
                &etag,
                Violations::default(),
                |c, a, r, now| c.acknowledge(&note, contact_time, a, r, now),
            )
            .await?;
        Ok(Response::new(pb::AcknowledgeComplaintResponse {
            complaint: Some(c),
        }))
    }

    async fn start_investigation(
        &self,
        request: Request<pb::StartInvestigationRequest>,
    ) -> Result<Response<pb::StartInvestigationResponse>, Status> {
        let pb::StartInvestigationRequest {
            complaint_id,
            note,
            actor,
            etag,
        } = request.into_inner();
        let c = self
            .transition(
                &complaint_id,
                actor,
                &etag,
                Violations::default(),
                |c, a, r, now| c.start_investigation(&note, a, r, now),
            )
            .await?;
        Ok(Response::new(pb::StartInvestigationResponse {
            complaint: Some(c),
        }))
    }

    async fn propose_solution(
        &self,
        request: Request<pb::ProposeSolutionRequest>,
    ) -> Result<Response<pb::ProposeSolutionResponse>, Status> {
        let pb::ProposeSolutionRequest {
            complaint_id,
            measures,
            plan,
            actor,
            etag,
        } = request.into_inner();
        let plan: Vec<_> = plan.into_iter().map(convert::plan_step).collect();
        let c = self
            .transition(
                &complaint_id,
                actor,
                &etag,
                Violations::default(),
                |c, a, r, now| c.propose_solution(measures.clone(), plan.clone(), a, r, now),
            )
            .await?;
        Ok(Response::new(pb::ProposeSolutionResponse {
            complaint: Some(c),
        }))
    }

    async fn accept_solution(
        &self,
        request: Request<pb::AcceptSolutionRequest>,
    ) -> Result<Response<pb::AcceptSolutionResponse>, Status> {
        let pb::AcceptSolutionRequest {
            complaint_id,
            customer_comment,
            actor,
            etag,
        } = request.into_inner();
        let c = self
            .transition(
                &complaint_id,
                actor,
                &etag,
                Violations::default(),
                |c, a, r, now| c.decide_solution(true, &customer_comment, a, r, now),
            )
            .await?;
        Ok(Response::new(pb::AcceptSolutionResponse {
            complaint: Some(c),
        }))
    }

    async fn reject_solution(
        &self,
        request: Request<pb::RejectSolutionRequest>,
    ) -> Result<Response<pb::RejectSolutionResponse>, Status> {
        let pb::RejectSolutionRequest {
            complaint_id,
            customer_comment,
            actor,
            etag,
        } = request.into_inner();
        let c = self
            .transition(
                &complaint_id,
                actor,
                &etag,
                Violations::default(),
                |c, a, r, now| c.decide_solution(false, &customer_comment, a, r, now),
            )
            .await?;
        Ok(Response::new(pb::RejectSolutionResponse {
            complaint: Some(c),
        }))
    }

    async fn resolve_complaint(
        &self,
        request: Request<pb::ResolveComplaintRequest>,
    ) -> Result<Response<pb::ResolveComplaintResponse>, Status> {
        let pb::ResolveComplaintRequest {
            complaint_id,
            resolution,
            actor,
            etag,
        } = request.into_inner();
        let mut v = Violations::default();
        if resolution.is_none() {
            v.push(
                "resolution",
                "is required: summary, root_cause and corrective_action",
            );
        }
        let r = resolution.unwrap_or_default();
        let input = ResolutionInput {
            summary: r.summary,
            root_cause: r.root_cause,
            corrective_action: r.corrective_action,
            lesson_learned: r.lesson_learned,
            company_at_fault: r.company_at_fault,
        };
        let c = self
            .transition(&complaint_id, actor, &etag, v, |c, a, r, now| {
                c.resolve(input.clone(), a, r, now)
            })
            .await?;
        Ok(Response::new(pb::ResolveComplaintResponse {
            complaint: Some(c),
        }))
    }

    async fn record_callback(
        &self,
        request: Request<pb::RecordCallbackRequest>,
    ) -> Result<Response<pb::RecordCallbackResponse>, Status> {
        let pb::RecordCallbackRequest {
            complaint_id,
            outcome,
            notes,
            callback_time,
            feedback_callback_id,
            request_id,
            actor,
            etag,
        } = request.into_inner();
        let mut v = Violations::default();
        require_id(&mut v, "complaint_id", &complaint_id);
        let actor = convert::actor(actor, &mut v);
        let outcome = convert::required(CallbackOutcome::from_number(outcome), "outcome", &mut v);
        let rid = request_id_of(&mut v, &request_id);
        done(v)?;
        let Some(outcome) = outcome else {
            return Err(Error::invalid("outcome", "is required").into());
        };
        let time = convert::from_ts(callback_time);
        let (c, _) = self
            .mutate(
                &complaint_id,
                &etag,
                rid.map(|r| ("callback", r)),
                |c, rules, now| {
                    c.record_callback(
                        outcome,
                        &notes,
                        time,
                        &feedback_callback_id,
                        &actor,
                        rules,
                        now,
                    )
                    .map(|()| String::new())
                },
            )
            .await?;
        tracing::info!(complaint_id = %c.id, outcome = outcome.code(), state = c.state.code(), "callback recorded");
        Ok(Response::new(pb::RecordCallbackResponse {
            complaint: Some(self.to_pb(&c)),
        }))
    }

    async fn close_complaint(
        &self,
        request: Request<pb::CloseComplaintRequest>,
    ) -> Result<Response<pb::CloseComplaintResponse>, Status> {
        let pb::CloseComplaintRequest {
            complaint_id,
            note,
            actor,
            etag,
        } = request.into_inner();
        let c = self
            .transition(
                &complaint_id,
                actor,
                &etag,
                Violations::default(),
                |c, a, r, now| c.close(&note, a, r, now),
            )
            .await?;
        Ok(Response::new(pb::CloseComplaintResponse {
            complaint: Some(c),
        }))
    }

    async fn reopen_complaint(
        &self,
        request: Request<pb::ReopenComplaintRequest>,
    ) -> Result<Response<pb::ReopenComplaintResponse>, Status> {
        let pb::ReopenComplaintRequest {
            complaint_id,
            reason,
            note,
            request_id,
            actor,
            etag,
        } = request.into_inner();
        let mut v = Violations::default();
        require_id(&mut v, "complaint_id", &complaint_id);
        let actor = convert::actor(actor, &mut v);
        let rid = request_id_of(&mut v, &request_id);
        done(v)?;
        let reason = ReopenReason::from_number(reason);
        let (c, _) = self
            .mutate(
                &complaint_id,
                &etag,
                rid.map(|r| ("reopen", r)),
                |c, rules, now| {
                    c.reopen(reason, &note, &actor, rules, now)
                        .map(|()| String::new())
                },
            )
            .await?;
        tracing::info!(complaint_id = %c.id, reopen_count = c.reopen_count, "complaint reopened");
        Ok(Response::new(pb::ReopenComplaintResponse {
            complaint: Some(self.to_pb(&c)),
        }))
    }

    async fn withdraw_complaint(
        &self,
        request: Request<pb::WithdrawComplaintRequest>,
    ) -> Result<Response<pb::WithdrawComplaintResponse>, Status> {
        let pb::WithdrawComplaintRequest {
            complaint_id,
            reason,
            actor,
            etag,
        } = request.into_inner();
        let c = self
            .transition(
                &complaint_id,
                actor,
                &etag,
                Violations::default(),
                |c, a, r, now| c.withdraw(&reason, a, r, now),
            )
            .await?;
        Ok(Response::new(pb::WithdrawComplaintResponse {
            complaint: Some(c),
        }))
    }

    async fn escalate_complaint(
        &self,
        request: Request<pb::EscalateComplaintRequest>,
    ) -> Result<Response<pb::EscalateComplaintResponse>, Status> {
        let pb::EscalateComplaintRequest {
            complaint_id,
            to_level,
            reason,
            escalated_to_id,
            note,
            actor,
            etag,
        } = request.into_inner();
        let to = Level::from_number(to_level);
        let reason = EscalationReason::from_number(reason);
        let c = self
            .transition(
                &complaint_id,
                actor,
                &etag,
                Violations::default(),
                |c, a, r, now| c.escalate(to, reason, &escalated_to_id, &note, a, r, now),
            )
            .await?;
        Ok(Response::new(pb::EscalateComplaintResponse {
            complaint: Some(c),
        }))
    }

    async fn pause_clocks(
        &self,
        request: Request<pb::PauseClocksRequest>,
    ) -> Result<Response<pb::PauseClocksResponse>, Status> {
        let pb::PauseClocksRequest {
            complaint_id,
            reason,
            note,
            actor,
            etag,
        } = request.into_inner();
        let reason = PauseReason::from_number(reason);
        let c = self
            .transition(
                &complaint_id,
                actor,
                &etag,
                Violations::default(),
                |c, a, r, now| c.pause(reason, &note, a, r, now),
            )
            .await?;
        Ok(Response::new(pb::PauseClocksResponse {
            complaint: Some(c),
        }))
    }

    async fn resume_clocks(
        &self,
        request: Request<pb::ResumeClocksRequest>,
    ) -> Result<Response<pb::ResumeClocksResponse>, Status> {
        let pb::ResumeClocksRequest {
            complaint_id,
            note,
            actor,
            etag,
        } = request.into_inner();
        let c = self
            .transition(
                &complaint_id,
                actor,
                &etag,
                Violations::default(),
                |c, a, r, now| c.resume(&note, a, r, now),
            )
            .await?;
        Ok(Response::new(pb::ResumeClocksResponse {
            complaint: Some(c),
        }))
    }

    async fn explain_clock(
        &self,
        request: Request<pb::ExplainClockRequest>,
    ) -> Result<Response<pb::ExplainClockResponse>, Status> {
        let pb::ExplainClockRequest {
            complaint_id,
            clock_id,
        } = request.into_inner();
        let mut v = Violations::default();
        require_id(&mut v, "complaint_id", &complaint_id);
        require_id(&mut v, "clock_id", &clock_id);
        done(v)?;
        let c = self.load(&complaint_id).await?;
        let clock = c.clock(&clock_id).ok_or_else(|| {
            Error::NotFound(format!("complaint {complaint_id} has no clock {clock_id}"))
        })?;
        let now = now_micros();
        let explained = self
            .rules()
            .policy
            .explain(&clock.clock, at(now))
            .map_err(|e| {
                Error::FailedPrecondition(format!(
                    "clock {clock_id} cannot be explained under the current SLA policy: {e}"
                ))
            })?;
        Ok(Response::new(pb::ExplainClockResponse {
            explanation: Some(convert::explanation(clock, explained, self.rules(), now)),
        }))
    }

    type WatchSlaEventsStream = SlaStream;

    async fn watch_sla_events(
        &self,
        request: Request<pb::WatchSlaEventsRequest>,
    ) -> Result<Response<Self::WatchSlaEventsStream>, Status> {
        let pb::WatchSlaEventsRequest {
            kinds,
            clock_kinds,
            complaint_id,
            assigned_agent_id,
            customer_id,
            min_severity,
            since,
            after_event_id,
        } = request.into_inner();
        let mut v = Violations::default();
        let mut filter = SlaFilter {
            kinds: Vec::new(),
            clock_kinds: Vec::new(),
            complaint_id,
            assigned_agent_id,
            customer_id,
            min_severity: known(
                Severity::from_number(min_severity),
                min_severity,
                "min_severity",
                &mut v,
            ),
        };
        for (i, k) in kinds.iter().enumerate() {
            match SlaEventKind::from_number(*k) {
                Some(k) => filter.kinds.push(k),
                None => v.push(format!("kinds[{i}]"), "unknown kind"),
            }
        }
        for (i, k) in clock_kinds.iter().enumerate() {
            match ClockKind::from_number(*k) {
                Some(k) => filter.clock_kinds.push(k),
                None => v.push(format!("clock_kinds[{i}]"), "unknown clock kind"),
            }
        }
        done(v)?;
        let (floor, skip) = if !after_event_id.is_empty() {
            let time = self
                .core
                .store
                .sla_event_time(&after_event_id)
                .await
                .map_err(Error::from)?
                .ok_or_else(|| Error::invalid("after_event_id", "no stored event has this id"))?;
            (time, Some(after_event_id))
        } else if since.is_some() {
            (convert::from_ts(since) + 1, None)
        } else {
            (now_micros(), None)
        };
        let (tx, rx) = mpsc::channel(64);
        tokio::spawn(stream_sla_events(
            self.core.clone(),
            filter,
            floor,
            skip,
            tx,
        ));
        Ok(Response::new(ReceiverStream::new(rx)))
    }

    async fn list_timeline(
        &self,
        request: Request<pb::ListTimelineRequest>,
    ) -> Result<Response<pb::ListTimelineResponse>, Status> {
        let pb::ListTimelineRequest {
            complaint_id,
            page_size,
            page_token,
            kinds,
        } = request.into_inner();
        let mut v = Violations::default();
        require_id(&mut v, "complaint_id", &complaint_id);
        let limit = limit_of(page_size, 100, &mut v);
        let mut wanted = Vec::new();
        for (i, k) in kinds.iter().enumerate() {
            match EntryKind::from_number(*k) {
                Some(k) => wanted.push(k),
                None => v.push(format!("kinds[{i}]"), "unknown kind"),
            }
        }
        let fingerprint = page_token::fingerprint(&format!("{complaint_id}|{wanted:?}"));
        let after = if page_token.is_empty() {
            0
        } else {
            match page_token::decode(&page_token, fingerprint) {
                Ok(c) => c.key,
                Err(why) => {
                    v.push("page_token", why);
                    0
                }
            }
        };
        done(v)?;
        self.load(&complaint_id).await?;
        let mut rows = self
            .core
            .store
            .timeline(&complaint_id, after, &wanted, limit + 1)
            .await
            .map_err(Error::from)?;
        let more = rows.len() > limit as usize;
        rows.truncate(limit as usize);
        let next_page_token = match (more, rows.last()) {
            (true, Some(last)) => page_token::encode(
                &Cursor {
                    key: last.sequence,
                    id: last.id.clone(),
                },
                fingerprint,
            ),
            _ => String::new(),
        };
        Ok(Response::new(pb::ListTimelineResponse {
            entries: rows.iter().map(convert::entry).collect(),
            next_page_token,
        }))
    }

    async fn add_note(
        &self,
        request: Request<pb::AddNoteRequest>,
    ) -> Result<Response<pb::AddNoteResponse>, Status> {
        let pb::AddNoteRequest {
            complaint_id,
            text,
            request_id,
            actor,
        } = request.into_inner();
        let mut v = Violations::default();
        require_id(&mut v, "complaint_id", &complaint_id);
        let actor = convert::actor(actor, &mut v);
        let rid = request_id_of(&mut v, &request_id);
        done(v)?;
        let (c, seq) = self
            .mutate(&complaint_id, "", rid.map(|r| ("note", r)), |c, _, now| {
                c.add_note(&text, &actor, now)?;
                Ok(c.timeline_seq.to_string())
            })
            .await?;
        let entry = self.entry_at(&c.id, &seq).await?;
        Ok(Response::new(pb::AddNoteResponse { entry: Some(entry) }))
    }

    async fn record_call(
        &self,
        request: Request<pb::RecordCallRequest>,
    ) -> Result<Response<pb::RecordCallResponse>, Status> {
        let pb::RecordCallRequest {
            complaint_id,
            call,
            request_id,
            actor,
        } = request.into_inner();
        let mut v = Violations::default();
        require_id(&mut v, "complaint_id", &complaint_id);
        let actor = convert::actor(actor, &mut v);
        let rid = request_id_of(&mut v, &request_id);
        let call = convert::call(call, &mut v);
        done(v)?;
        let (c, seq) = self
            .mutate(&complaint_id, "", rid.map(|r| ("call", r)), |c, _, now| {
                c.record_call(call.clone(), &actor, now)?;
                Ok(c.timeline_seq.to_string())
            })
            .await?;
        let entry = self.entry_at(&c.id, &seq).await?;
        Ok(Response::new(pb::RecordCallResponse { entry: Some(entry) }))
    }

    async fn make_promise(
        &self,
        request: Request<pb::MakePromiseRequest>,
    ) -> Result<Response<pb::MakePromiseResponse>, Status> {
        let pb::MakePromiseRequest {
            complaint_id,
            description,
            due_time,
            request_id,
            actor,
            etag,
        } = request.into_inner();
        let mut v = Violations::default();
        require_id(&mut v, "complaint_id", &complaint_id);
        let actor = convert::actor(actor, &mut v);
        let rid = request_id_of(&mut v, &request_id);
        done(v)?;
        let due = convert::from_ts(due_time);
        let (c, id) = self
            .mutate(
                &complaint_id,
                &etag,
                rid.map(|r| ("promise", r)),
                |c, rules, now| c.make_promise(&description, due, &actor, rules, now),
            )
            .await?;
        let promise = c.promises.iter().find(|p| p.id == id).map(convert::promise);
        Ok(Response::new(pb::MakePromiseResponse {
            complaint: Some(self.to_pb(&c)),
            promise,
        }))
    }

    async fn keep_promise(
        &self,
        request: Request<pb::KeepPromiseRequest>,
    ) -> Result<Response<pb::KeepPromiseResponse>, Status> {
        let pb::KeepPromiseRequest {
            complaint_id,
            promise_id,
            note,
            actor,
            etag,
        } = request.into_inner();
        let mut v = Violations::default();
        require_id(&mut v, "promise_id", &promise_id);
        let c = self
            .transition(&complaint_id, actor, &etag, v, |c, a, _, now| {
                c.keep_promise(&promise_id, &note, a, now)
            })
            .await?;
        let promise = c.promises.iter().find(|p| p.id == promise_id).cloned();
        Ok(Response::new(pb::KeepPromiseResponse {
            complaint: Some(c),
            promise,
        }))
    }

    async fn reschedule_promise(
        &self,
        request: Request<pb::ReschedulePromiseRequest>,
    ) -> Result<Response<pb::ReschedulePromiseResponse>, Status> {
        let pb::ReschedulePromiseRequest {
            complaint_id,
            promise_id,
            new_due_time,
            reason,
            customer_consent,
            actor,
            etag,
        } = request.into_inner();
        let mut v = Violations::default();
        require_id(&mut v, "promise_id", &promise_id);
        let due = convert::from_ts(new_due_time);
        let c = self
            .transition(&complaint_id, actor, &etag, v, |c, a, _, now| {
                c.reschedule_promise(&promise_id, due, &reason, &customer_consent, a, now)
            })
            .await?;
        let promise = c.promises.iter().find(|p| p.id == promise_id).cloned();
        Ok(Response::new(pb::ReschedulePromiseResponse {
            complaint: Some(c),
            promise,
        }))
    }

    async fn propose_compensation(
        &self,
        request: Request<pb::ProposeCompensationRequest>,
    ) -> Result<Response<pb::ProposeCompensationResponse>, Status> {
        let pb::ProposeCompensationRequest {
            complaint_id,
            kind,
            description,
            amount_minor,
            currency_code,
            request_id,
            actor,
            etag,
        } = request.into_inner();
        let mut v = Violations::default();
        require_id(&mut v, "complaint_id", &complaint_id);
        let actor = convert::actor(actor, &mut v);
        let rid = request_id_of(&mut v, &request_id);
        done(v)?;
        let kind = CompensationKind::from_number(kind);
        let (c, id) = self
            .mutate(
                &complaint_id,
                &etag,
                rid.map(|r| ("compensation", r)),
                |c, rules, now| {
                    c.propose_compensation(
                        kind,
                        &description,
                        amount_minor,
                        &currency_code,
                        &actor,
                        rules,
                        now,
                    )
                },
            )
            .await?;
        let compensation = c
            .compensations
            .iter()
            .find(|x| x.id == id)
            .map(convert::compensation);
        tracing::info!(complaint_id = %c.id, compensation_id = %id, "compensation proposed");
        Ok(Response::new(pb::ProposeCompensationResponse {
            complaint: Some(self.to_pb(&c)),
            compensation,
        }))
    }

    async fn approve_compensation(
        &self,
        request: Request<pb::ApproveCompensationRequest>,
    ) -> Result<Response<pb::ApproveCompensationResponse>, Status> {
        let pb::ApproveCompensationRequest {
            complaint_id,
            compensation_id,
            note,
            actor,
            etag,
        } = request.into_inner();
        let (complaint, compensation) = self
            .decide_compensation(&complaint_id, &compensation_id, true, &note, actor, &etag)
            .await?;
        Ok(Response::new(pb::ApproveCompensationResponse {
            complaint: Some(complaint),
            compensation,
        }))
    }

    async fn reject_compensation(
        &self,
        request: Request<pb::RejectCompensationRequest>,
    ) -> Result<Response<pb::RejectCompensationResponse>, Status> {
        let pb::RejectCompensationRequest {
            complaint_id,
            compensation_id,
            note,
            actor,
            etag,
        } = request.into_inner();
        let (complaint, compensation) = self
            .decide_compensation(&complaint_id, &compensation_id, false, &note, actor, &etag)
            .await?;
        Ok(Response::new(pb::RejectCompensationResponse {
            complaint: Some(complaint),
            compensation,
        }))
    }

    async fn check_reply(
        &self,
        request: Request<pb::CheckReplyRequest>,
    ) -> Result<Response<pb::CheckReplyResponse>, Status> {
        let pb::CheckReplyRequest {
            text,
            agent_id,
            complaint_id,
        } = request.into_inner();
        let mut v = Violations::default();
        let n = text.chars().count();
        if text.trim().is_empty() || n > 10_000 {
            v.push("text", "must be 1-10000 characters");
        }
        if agent_id.len() > 100 {
            v.push("agent_id", "must be at most 100 characters");
        }
        done(v)?;
        let found = self.rules().reply.check(&text);
        if !agent_id.trim().is_empty() && !found.is_empty() {
            let now = now_micros();
            let rows: Vec<ViolationRow> = found
                .iter()
                .map(|x| ViolationRow {
                    id: new_id("rvi"),
                    agent_id: agent_id.trim().to_owned(),
                    complaint_id: complaint_id.trim().to_owned(),
                    check_time: now,
                    body: serde_json::to_string(x).unwrap_or_default(),
                })
                .collect();
            self.core
                .store
                .insert_violations(&rows)
                .await
                .map_err(Error::from)?;
            tracing::info!(agent_id = %agent_id.trim(), violations = rows.len(), "reply violations recorded");
        }
        Ok(Response::new(pb::CheckReplyResponse {
            clean: found.is_empty(),
            violations: found.iter().map(convert::violation).collect(),
        }))
    }

    async fn list_reply_violations(
        &self,
        request: Request<pb::ListReplyViolationsRequest>,
    ) -> Result<Response<pb::ListReplyViolationsResponse>, Status> {
        let pb::ListReplyViolationsRequest {
            page_size,
            page_token,
            agent_id,
            complaint_id,
            check_time_start,
            check_time_end,
        } = request.into_inner();
        let mut v = Violations::default();
        let limit = page_size_of(page_size, &mut v);
        let start = convert::from_ts(check_time_start);
        let end = convert::from_ts(check_time_end);
        let fingerprint =
            page_token::fingerprint(&format!("{agent_id}|{complaint_id}|{start}|{end}"));
        let cursor = if page_token.is_empty() {
            None
        } else {
            match page_token::decode(&page_token, fingerprint) {
                Ok(c) => Some(c),
                Err(why) => {
                    v.push("page_token", why);
                    None
                }
            }
        };
        done(v)?;
        let mut rows = self
            .core
            .store
            .list_violations(
                agent_id.trim(),
                complaint_id.trim(),
                start,
                end,
                cursor.as_ref(),
                limit + 1,
            )
            .await
            .map_err(Error::from)?;
        let more = rows.len() > limit as usize;
        rows.truncate(limit as usize);
        let next_page_token = match (more, rows.last()) {
            (true, Some(last)) => page_token::encode(
                &Cursor {
                    key: last.check_time,
                    id: last.id.clone(),
                },
                fingerprint,
            ),
            _ => String::new(),
        };
        Ok(Response::new(pb::ListReplyViolationsResponse {
            violations: rows
                .iter()
                .map(|r| pb::ReplyViolationRecord {
                    id: r.id.clone(),
                    agent_id: r.agent_id.clone(),
                    complaint_id: r.complaint_id.clone(),
                    violation: serde_json::from_str(&r.body)
                        .ok()
                        .map(|x| convert::violation(&x)),
                    check_time: convert::ts(r.check_time),
                })
                .collect(),
            next_page_token,
        }))
    }
}

fn page_size_of(size: i32, v: &mut Violations) -> u32 {
    limit_of(size, 50, v)
}

fn request_id_of(v: &mut Violations, id: &str) -> Option<String> {
    request_id(v, id)
}

impl ComplaintsApi {
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
