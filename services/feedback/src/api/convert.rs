//! Conversions between the proto messages and the domain, every field named so a new field
//! does not build until it is handled.

use chrono::{DateTime, Utc};
use csops_proto::feedback::v1 as pb;
use csops_runtime::auth;
use csops_runtime::time::{to_timestamp, to_timestamp_opt};
use csops_runtime::{etag, Violations};

use crate::domain::callback::{
    Attempt, Callback, CallbackOutcome, CallbackState, Finding, FindingState,
};
use crate::domain::{Actor, Role, Subject, SubjectKind};
use crate::store::{Delivery, Stored};

/// Reads the actor of a change: the verified caller when authentication is on (the
/// request's actor is then ignored: no one acts as someone else); otherwise the request's
/// required actor.
pub(super) fn actor(actor: Option<pb::Actor>, v: &mut Violations) -> Actor {
    if let Some(caller) = csops_runtime::auth::caller() {
        return Actor {
            role: match caller.acting_role() {
                auth::Role::Manager => Role::Manager,
                auth::Role::Supervisor => Role::Supervisor,
                auth::Role::Service => Role::System,
                auth::Role::FieldEngineer => Role::Agent,
                auth::Role::Agent | auth::Role::Ops => Role::Agent,
            },
            id: caller.subject,
        };
    }
    let Some(pb::Actor { id, role }) = actor else {
        v.push("actor", "is required");
        return Actor {
            id: String::new(),
            role: Role::System,
        };
    };
    let id = id.trim().to_owned();
    if id.is_empty() {
        v.push("actor.id", "is required");
    }
    let role = v
        .required_enum(role_of(role), role, "actor.role")
        .unwrap_or(Role::System);
    Actor { id, role }
}

fn role_of(n: i32) -> Option<Role> {
    Some(match pb::ActorRole::try_from(n).ok()? {
        pb::ActorRole::Agent => Role::Agent,
        pb::ActorRole::Supervisor => Role::Supervisor,
        pb::ActorRole::Manager => Role::Manager,
        pb::ActorRole::System => Role::System,
        pb::ActorRole::Unspecified => return None,
    })
}

pub(super) fn actor_pb(a: &Actor) -> pb::Actor {
    let Actor { id, role } = a;
    let role = match role {
        Role::Agent => pb::ActorRole::Agent,
        Role::Supervisor => pb::ActorRole::Supervisor,
        Role::Manager => pb::ActorRole::Manager,
        Role::System => pb::ActorRole::System,
    };
    pb::Actor {
        id: id.clone(),
        role: role as i32,
    }
}

pub(super) fn subject_kind_of(n: i32) -> Option<SubjectKind> {
    Some(match pb::SubjectKind::try_from(n).ok()? {
        pb::SubjectKind::Complaint => SubjectKind::Complaint,
        pb::SubjectKind::FieldJob => SubjectKind::FieldJob,
        pb::SubjectKind::Visit => SubjectKind::Visit,
        pb::SubjectKind::General => SubjectKind::General,
        pb::SubjectKind::Unspecified => return None,
    })
}

fn subject_kind_pb(k: SubjectKind) -> pb::SubjectKind {
    match k {
        SubjectKind::Complaint => pb::SubjectKind::Complaint,
        SubjectKind::FieldJob => pb::SubjectKind::FieldJob,
        SubjectKind::Visit => pb::SubjectKind::Visit,
        SubjectKind::General => pb::SubjectKind::General,
    }
}

/// Reads the required subject of `field`.
pub(super) fn subject(field: &str, s: Option<pb::Subject>, v: &mut Violations) -> Option<Subject> {
    let Some(pb::Subject { kind, id }) = s else {
        v.push(field, "is required");
        return None;
    };
    let kind = v.required_enum(subject_kind_of(kind), kind, &format!("{field}.kind"));
    Some(Subject {
        kind: kind?,
        id: id.trim().to_owned(),
    })
}

pub(super) fn subject_pb(s: &Subject) -> pb::Subject {
    let Subject { kind, id } = s;
    pb::Subject {
        kind: subject_kind_pb(*kind) as i32,
        id: id.clone(),
    }
}

pub(super) fn callback_state_of(n: i32) -> Option<CallbackState> {
    Some(match pb::CallbackState::try_from(n).ok()? {
        pb::CallbackState::Scheduled => CallbackState::Scheduled,
        pb::CallbackState::Completed => CallbackState::Completed,
        pb::CallbackState::Unreachable => CallbackState::Unreachable,
        pb::CallbackState::Cancelled => CallbackState::Cancelled,
        pb::CallbackState::Unspecified => return None,
    })
}

fn callback_state_pb(s: CallbackState) -> pb::CallbackState {
    match s {
        CallbackState::Scheduled => pb::CallbackState::Scheduled,
        CallbackState::Completed => pb::CallbackState::Completed,
        CallbackState::Unreachable => pb::CallbackState::Unreachable,
        CallbackState::Cancelled => pb::CallbackState::Cancelled,
    }
}

pub(super) fn outcome_of(n: i32) -> Option<CallbackOutcome> {
    Some(match pb::CallbackOutcome::try_from(n).ok()? {
        pb::CallbackOutcome::Satisfied => CallbackOutcome::Satisfied,
        pb::CallbackOutcome::Unsatisfied => CallbackOutcome::Unsatisfied,
        pb::CallbackOutcome::Unreachable => CallbackOutcome::Unreachable,
        pb::CallbackOutcome::Unspecified => return None,
    })
}

fn outcome_pb(o: Option<CallbackOutcome>) -> pb::CallbackOutcome {
    match o {
        None => pb::CallbackOutcome::Unspecified,
        Some(CallbackOutcome::Satisfied) => pb::CallbackOutcome::Satisfied,
        Some(CallbackOutcome::Unsatisfied) => pb::CallbackOutcome::Unsatisfied,
        Some(CallbackOutcome::Unreachable) => pb::CallbackOutcome::Unreachable,
    }
}

fn delivery_pb(d: Delivery) -> pb::DeliveryState {
    match d {
        Delivery::None => pb::DeliveryState::Unspecified,
        Delivery::Pending => pb::DeliveryState::Pending,
        Delivery::Delivered => pb::DeliveryState::Delivered,
    }
}

fn attempt_pb(a: &Attempt) -> pb::CallbackAttempt {
    let Attempt {
        attempt_time,
        actor,
        reached,
        outcome,
        notes,
    } = a;
    pb::CallbackAttempt {
        attempt_time: Some(to_timestamp(*attempt_time)),
        actor: Some(actor_pb(actor)),
        reached: *reached,
        outcome: outcome_pb(*outcome) as i32,
        notes: notes.clone(),
    }
}

fn finding_pb(f: &Finding, now: DateTime<Utc>) -> pb::Finding {
    let Finding {
        id,
        description,
        owner_agent_id,
        state,
        find_time,
        fix_due_time,
        fix_time,
        fix_note,
        // Who fixed it is kept in the document; the contract does not show it yet.
        fixed_by: _,
    } = f;
    pb::Finding {
        id: id.clone(),
        description: description.clone(),
        owner_agent_id: owner_agent_id.clone(),
        state: match state {
            FindingState::Open => pb::FindingState::Open,
            FindingState::Fixed => pb::FindingState::Fixed,
        } as i32,
        find_time: Some(to_timestamp(*find_time)),
        fix_due_time: Some(to_timestamp(*fix_due_time)),
        fix_time: to_timestamp_opt(*fix_time),
        fix_note: fix_note.clone(),
        overdue: f.is_overdue(now),
    }
}

/// The proto callback as it stands at `now` (the overdue flags are computed).
pub(super) fn callback_pb(stored: &Stored, now: DateTime<Utc>) -> pb::Callback {
    let Stored { callback, delivery } = stored;
    let Callback {
        id,
        customer_id,
        subject,
        source_event_id,
        assigned_agent_id,
        served_by_agent_id,
        state,
        // The window counts from it; the contract shows the window it gave.
        service_end_time: _,
        earliest_time,
        due_time,
        attempts,
        outcome,
        findings,
        survey_id,
        // Kept in the document for the record; the contract does not show them yet.
        cancel_reason: _,
        cancelled_by: _,
        end_time: _,
        created_by: _,
        create_time,
        update_time,
        version,
    } = callback;
    pb::Callback {
        id: id.clone(),
        customer_id: customer_id.clone(),
        subject: Some(subject_pb(subject)),
        source_event_id: source_event_id.clone(),
        assigned_agent_id: assigned_agent_id.clone(),
        served_by_agent_id: served_by_agent_id.clone(),
        state: callback_state_pb(*state) as i32,
        earliest_time: Some(to_timestamp(*earliest_time)),
        due_time: Some(to_timestamp(*due_time)),
        attempts: attempts.iter().map(attempt_pb).collect(),
        outcome: outcome_pb(*outcome) as i32,
        findings: findings.iter().map(|f| finding_pb(f, now)).collect(),
        survey_id: survey_id.clone(),
        complaint_delivery: delivery_pb(*delivery) as i32,
        create_time: Some(to_timestamp(*create_time)),
        update_time: Some(to_timestamp(*update_time)),
        etag: etag::of(*version),
        overdue: callback.is_overdue(now),
    }
}
