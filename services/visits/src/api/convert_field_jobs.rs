//! Conversions between the field-job protos and the domain, every field named.

use chrono::{DateTime, TimeDelta, Utc};
use csops_proto::visits::v1 as pb;
use csops_runtime::time::{from_timestamp, to_timestamp, to_timestamp_opt};
use csops_runtime::{etag, Violations};
use csops_sla::{Ending, Policy, State};
use prost_types::Duration;

use super::convert::{actor_pb, region_pb};
use crate::domain::field_job::{
    status, ClockKind, Completion, CompletionInput, Consent, ConsentInput, ConsentMethod,
    ConsentState, ExtraWork, ExtraWorkInput, FieldJob, FieldJobKind, FieldJobState, JobClock,
    NewFieldJob, PauseReason, ReplacedParts, TimeWindow, WindowInput,
};

/// Longest extra time of extra work.
const MAX_EXTRA_TIME: TimeDelta = TimeDelta::days(366);

// ---------------------------------------------------------------------------------------------
// Requests in.

pub(super) fn require_text(v: &mut Violations, field: &str, value: &str) {
    if value.trim().is_empty() {
        v.push(field, "is required");
    }
}

/// Reads the input fields of a new job; the output-only ones are ignored.
pub(super) fn new_job(job: pb::FieldJob, v: &mut Violations) -> Option<NewFieldJob> {
    let pb::FieldJob {
        id: _,
        customer_id,
        kind,
        description,
        site,
        complaint_id,
        engineer_id,
        state: _,
        accept_time,
        dispatch_time,
        agreed_window: _,
        previous_windows: _,
        arrive_time: _,
        arrived_on_time: _,
        explanation: _,
        extra_work: _,
        completion: _,
        cancel_reason: _,
        clocks: _,
        key_account: _,
        region: _,
        defaulted: _,
        created_by: _,
        create_time: _,
        update_time: _,
        etag: _,
    } = job;
    v.require_id("job.customer_id", &customer_id);
    let kind = v.required_enum(kind_of(kind), kind, "job.kind");
    require_text(v, "job.description", &description);
    v.require_id("job.engineer_id", &engineer_id);
    let accept_time = from_timestamp("job.accept_time", accept_time, v);
    let dispatch_time = from_timestamp("job.dispatch_time", dispatch_time, v);
    Some(NewFieldJob {
        customer_id: customer_id.trim().to_owned(),
        kind: kind?,
        description,
        site,
        complaint_id: complaint_id.trim().to_owned(),
        engineer_id: engineer_id.trim().to_owned(),
        accept_time,
        dispatch_time,
    })
}

/// Reads a window to agree; who agreed it and when come from the request's actor and now.
pub(super) fn window_of(w: pb::TimeWindow, v: &mut Violations) -> Option<WindowInput> {
    let pb::TimeWindow {
        start_time,
        end_time,
        agreed_with_customer,
        agreed_by: _,
        agree_time: _,
    } = w;
    let start = required_time("window.start_time", start_time, v);
    let end = required_time("window.end_time", end_time, v);
    require_text(v, "window.agreed_with_customer", &agreed_with_customer);
    Some(WindowInput {
        start: start?,
        end: end?,
        agreed_with_customer,
    })
}

/// Reads proposed extra work; its consent, proposer and time are output only.
pub(super) fn extra_work_of(w: pb::ExtraWork, v: &mut Violations) -> Option<ExtraWorkInput> {
    let pb::ExtraWork {
        id: _,
        description,
        cost_minor,
        currency_code,
        extra_time,
        consent_state: _,
        consent: _,
        proposed_by: _,
        propose_time: _,
        estimated_completion_time,
        replaced_parts,
    } = w;
    require_text(v, "extra_work.description", &description);
    let extra_time = extra_time.and_then(|d| duration_of("extra_work.extra_time", d, v));
    let estimate = required_time(
        "extra_work.estimated_completion_time",
        estimated_completion_time,
        v,
    );
    let parts = v.required_enum(
        replaced_parts_of(replaced_parts),
        replaced_parts,
        "extra_work.replaced_parts",
    );
    Some(ExtraWorkInput {
        description,
        cost_minor,
        currency_code: currency_code.trim().to_owned(),
        extra_time,
        estimated_completion_time: estimate?,
        replaced_parts: parts?,
    })
}

/// Reads the customer's answer; who records it is the request's actor.
pub(super) fn consent_of(
    c: pb::ConsentRecord,
    granted: bool,
    v: &mut Violations,
) -> Option<ConsentInput> {
    let pb::ConsentRecord {
        method,
        signer_name,
        evidence_ref,
        consent_time,
        recorded_by: _,
    } = c;
    let method = v.required_enum(consent_method_of(method), method, "consent.method");
    require_text(v, "consent.signer_name", &signer_name);
    let consent_time = from_timestamp("consent.consent_time", consent_time, v);
    Some(ConsentInput {
        granted,
        method: method?,
        signer_name,
        evidence_ref,
        consent_time,
    })
}

/// Reads how the work ended; who finished it is the request's actor, the callback id is
/// output only.
pub(super) fn completion_of(c: pb::FieldJobCompletion, v: &mut Violations) -> CompletionInput {
    let pb::FieldJobCompletion {
        summary,
        complete_time,
        completed_by: _,
        customer_signed_off,
        charged_minor,
        currency_code,
        feedback_callback_id: _,
    } = c;
    require_text(v, "completion.summary", &summary);
    CompletionInput {
        summary,
        complete_time: from_timestamp("completion.complete_time", complete_time, v),
        customer_signed_off,
        charged_minor,
        currency_code: currency_code.trim().to_owned(),
    }
}

fn required_time(
    field: &str,
    t: Option<prost_types::Timestamp>,
    v: &mut Violations,
) -> Option<DateTime<Utc>> {
    if t.is_none() {
        v.push(field, "is required");
        return None;
    }
    from_timestamp(field, t, v)
}

fn duration_of(field: &str, d: Duration, v: &mut Violations) -> Option<TimeDelta> {
    let Duration { seconds, nanos } = d;
    let delta = (seconds >= 0 && (0..1_000_000_000).contains(&nanos))
        .then(|| TimeDelta::try_seconds(seconds))
        .flatten()
        .map(|s| s + TimeDelta::nanoseconds(i64::from(nanos)));
    match delta {
        Some(d) if d <= MAX_EXTRA_TIME => Some(d),
        _ => {
            v.push(field, "must be a duration of 0 to 366 days");
            None
        }
    }
}

/// Reads a repeated enum filter; an unknown or unspecified value is a violation.
pub(super) fn listed<T>(
    numbers: &[i32],
    field: &str,
    parse: fn(i32) -> Option<T>,
    v: &mut Violations,
) -> Vec<T> {
    numbers
        .iter()
        .enumerate()
        .filter_map(|(i, &n)| {
            let parsed = parse(n);
            if parsed.is_none() {
                v.push(format!("{field}[{i}]"), format!("unknown value {n}"));
            }
            parsed
        })
        .collect()
}

pub(super) fn kind_of(n: i32) -> Option<FieldJobKind> {
    Some(match pb::FieldJobKind::try_from(n).ok()? {
        pb::FieldJobKind::Installation => FieldJobKind::Installation,
        pb::FieldJobKind::Move => FieldJobKind::Move,
        pb::FieldJobKind::Repair => FieldJobKind::Repair,
        pb::FieldJobKind::Maintenance => FieldJobKind::Maintenance,
        pb::FieldJobKind::Reconnection => FieldJobKind::Reconnection,
        pb::FieldJobKind::BusinessChange => FieldJobKind::BusinessChange,
        pb::FieldJobKind::Unspecified => return None,
    })
}

pub(super) fn state_of(n: i32) -> Option<FieldJobState> {
    Some(match pb::FieldJobState::try_from(n).ok()? {
        pb::FieldJobState::Created => FieldJobState::Created,
        pb::FieldJobState::WindowAgreed => FieldJobState::WindowAgreed,
        pb::FieldJobState::Arrived => FieldJobState::Arrived,
        pb::FieldJobState::InProgress => FieldJobState::InProgress,
        pb::FieldJobState::Paused => FieldJobState::Paused,
        pb::FieldJobState::Completed => FieldJobState::Completed,
        pb::FieldJobState::Cancelled => FieldJobState::Cancelled,
        pb::FieldJobState::Unspecified => return None,
    })
}

pub(super) fn pause_reason_of(n: i32) -> Option<PauseReason> {
    Some(match pb::PauseReason::try_from(n).ok()? {
        pb::PauseReason::WaitingOnCustomer => PauseReason::WaitingOnCustomer,
        pb::PauseReason::ExternalDelay => PauseReason::ExternalDelay,
        pb::PauseReason::Unspecified => return None,
    })
}

fn consent_method_of(n: i32) -> Option<ConsentMethod> {
    Some(match pb::ConsentMethod::try_from(n).ok()? {
        pb::ConsentMethod::SignedForm => ConsentMethod::SignedForm,
        pb::ConsentMethod::ElectronicSignature => ConsentMethod::ElectronicSignature,
        pb::ConsentMethod::RecordedCall => ConsentMethod::RecordedCall,
        pb::ConsentMethod::Unspecified => return None,
    })
}

fn replaced_parts_of(n: i32) -> Option<ReplacedParts> {
    Some(match pb::ReplacedParts::try_from(n).ok()? {
        pb::ReplacedParts::None => ReplacedParts::None,
        pb::ReplacedParts::CustomerKeeps => ReplacedParts::CustomerKeeps,
        pb::ReplacedParts::CompanyDisposes => ReplacedParts::CompanyDisposes,
        pb::ReplacedParts::Unspecified => return None,
    })
}

// ---------------------------------------------------------------------------------------------
// Jobs out.

fn kind_pb(k: FieldJobKind) -> pb::FieldJobKind {
    match k {
        FieldJobKind::Installation => pb::FieldJobKind::Installation,
        FieldJobKind::Move => pb::FieldJobKind::Move,
        FieldJobKind::Repair => pb::FieldJobKind::Repair,
        FieldJobKind::Maintenance => pb::FieldJobKind::Maintenance,
        FieldJobKind::Reconnection => pb::FieldJobKind::Reconnection,
        FieldJobKind::BusinessChange => pb::FieldJobKind::BusinessChange,
    }
}

fn state_pb(s: FieldJobState) -> pb::FieldJobState {
    match s {
        FieldJobState::Created => pb::FieldJobState::Created,
        FieldJobState::WindowAgreed => pb::FieldJobState::WindowAgreed,
        FieldJobState::Arrived => pb::FieldJobState::Arrived,
        FieldJobState::InProgress => pb::FieldJobState::InProgress,
        FieldJobState::Paused => pb::FieldJobState::Paused,
        FieldJobState::Completed => pb::FieldJobState::Completed,
        FieldJobState::Cancelled => pb::FieldJobState::Cancelled,
    }
}

fn duration_pb(d: TimeDelta) -> Duration {
    Duration {
        seconds: d.num_seconds(),
        nanos: d.subsec_nanos(),
    }
}

fn window_pb(w: &TimeWindow) -> pb::TimeWindow {
    let TimeWindow {
        start,
        end,
        agreed_with_customer,
        agreed_by,
        agree_time,
    } = w;
    pb::TimeWindow {
        start_time: Some(to_timestamp(*start)),
        end_time: Some(to_timestamp(*end)),
        agreed_with_customer: agreed_with_customer.clone(),
        agreed_by: Some(actor_pb(agreed_by)),
        agree_time: Some(to_timestamp(*agree_time)),
    }
}

fn consent_pb(c: &Consent) -> pb::ConsentRecord {
    let Consent {
        method,
        signer_name,
        evidence_ref,
        consent_time,
        recorded_by,
    } = c;
    pb::ConsentRecord {
        method: match method {
            ConsentMethod::SignedForm => pb::ConsentMethod::SignedForm,
            ConsentMethod::ElectronicSignature => pb::ConsentMethod::ElectronicSignature,
            ConsentMethod::RecordedCall => pb::ConsentMethod::RecordedCall,
        } as i32,
        signer_name: signer_name.clone(),
        evidence_ref: evidence_ref.clone(),
        consent_time: Some(to_timestamp(*consent_time)),
        recorded_by: Some(actor_pb(recorded_by)),
    }
}

pub(super) fn extra_work_pb(w: &ExtraWork) -> pb::ExtraWork {
    let ExtraWork {
        id,
        description,
        cost_minor,
        currency_code,
        extra_time,
        consent_state,
        consent,
        proposed_by,
        propose_time,
        estimated_completion_time,
        replaced_parts,
    } = w;
    pb::ExtraWork {
        id: id.clone(),
        description: description.clone(),
        cost_minor: *cost_minor,
        currency_code: currency_code.clone(),
        extra_time: (*extra_time > TimeDelta::zero()).then(|| duration_pb(*extra_time)),
        consent_state: match consent_state {
            ConsentState::Pending => pb::ConsentState::Pending,
            ConsentState::Granted => pb::ConsentState::Granted,
            ConsentState::Refused => pb::ConsentState::Refused,
        } as i32,
        consent: consent.as_ref().map(consent_pb),
        proposed_by: Some(actor_pb(proposed_by)),
        propose_time: Some(to_timestamp(*propose_time)),
        estimated_completion_time: Some(to_timestamp(*estimated_completion_time)),
        replaced_parts: match replaced_parts {
            ReplacedParts::None => pb::ReplacedParts::None,
            ReplacedParts::CustomerKeeps => pb::ReplacedParts::CustomerKeeps,
            ReplacedParts::CompanyDisposes => pb::ReplacedParts::CompanyDisposes,
        } as i32,
    }
}

fn completion_pb(c: &Completion) -> pb::FieldJobCompletion {
    let Completion {
        summary,
        complete_time,
        completed_by,
        customer_signed_off,
        charged_minor,
        currency_code,
        feedback_callback_id,
    } = c;
    pb::FieldJobCompletion {
        summary: summary.clone(),
        complete_time: Some(to_timestamp(*complete_time)),
        completed_by: Some(actor_pb(completed_by)),
        customer_signed_off: *customer_signed_off,
        charged_minor: *charged_minor,
        currency_code: currency_code.clone(),
        feedback_callback_id: feedback_callback_id.clone(),
    }
}

fn clock_pb(c: &JobClock, policy: &Policy, now: DateTime<Utc>) -> pb::SlaClock {
    let JobClock {
        id,
        kind,
        clock,
        breached: _,
    } = c;
    let status = status(policy, clock, now);
    let state = match status.state {
        State::Running | State::AtRisk => pb::SlaClockState::Running,
        State::Paused => pb::SlaClockState::Paused,
        State::Met => pb::SlaClockState::Met,
        State::MetLate => pb::SlaClockState::MetLate,
        State::Breached => pb::SlaClockState::Breached,
        State::Cancelled => pb::SlaClockState::Cancelled,
    };
    let counting = matches!(status.state, State::Running | State::AtRisk | State::Paused);
    let stop_time = match clock.ending() {
        Some(Ending::Stopped(t) | Ending::Cancelled(t)) => Some(t),
        None => None,
    };
    pb::SlaClock {
        id: id.clone(),
        kind: match kind {
            ClockKind::FirstContact => pb::SlaClockKind::FirstContact,
            ClockKind::Completion => pb::SlaClockKind::Completion,
        } as i32,
        state: state as i32,
        at_risk: counting && status.at_risk.is_some(),
        target: Some(duration_pb(clock.spec().target)),
        start_time: Some(to_timestamp(clock.started_at())),
        deadline: Some(to_timestamp(status.deadline)),
        stop_time: to_timestamp_opt(stop_time),
        paused: Some(duration_pb(status.paused)),
        rule_id: clock.spec().rule.clone(),
    }
}

/// The proto job, every field named; clocks are evaluated at `now`.
pub(super) fn field_job_pb(j: &FieldJob, policy: &Policy, now: DateTime<Utc>) -> pb::FieldJob {
    let FieldJob {
        id,
        customer_id,
        kind,
        description,
        site,
        complaint_id,
        engineer_id,
        state,
        accept_time,
        dispatch_time,
        agreed_window,
        previous_windows,
        arrive_time,
        arrived_on_time,
        explanation,
        extra_work,
        completion,
        cancel_reason,
        pauses: _,
        clocks,
        customer,
        created_by,
        create_time,
        update_time,
        version,
    } = j;
    pb::FieldJob {
        id: id.clone(),
        customer_id: customer_id.clone(),
        kind: kind_pb(*kind) as i32,
        description: description.clone(),
        site: site.clone(),
        complaint_id: complaint_id.clone(),
        engineer_id: engineer_id.clone(),
        state: state_pb(*state) as i32,
        accept_time: Some(to_timestamp(*accept_time)),
        dispatch_time: to_timestamp_opt(*dispatch_time),
        agreed_window: agreed_window.as_ref().map(window_pb),
        previous_windows: previous_windows.iter().map(window_pb).collect(),
        arrive_time: to_timestamp_opt(*arrive_time),
        arrived_on_time: *arrived_on_time,
        explanation: explanation.clone(),
        extra_work: extra_work.iter().map(extra_work_pb).collect(),
        completion: completion.as_ref().map(completion_pb),
        cancel_reason: cancel_reason.clone(),
        clocks: clocks.iter().map(|c| clock_pb(c, policy, now)).collect(),
        key_account: customer.key_account,
        region: region_pb(customer.region) as i32,
        defaulted: customer.defaulted,
        created_by: Some(actor_pb(created_by)),
        create_time: Some(to_timestamp(*create_time)),
        update_time: Some(to_timestamp(*update_time)),
        etag: etag::of(*version),
    }
}
