//! The documented maximum of every string and list of the callback requests (see the proto
//! comments), checked before a request does any work. Each request is destructured field by
//! field, so a new field does not build until its limit is chosen here.

use csops_proto::feedback::v1 as pb;
use csops_runtime::violations::{MAX_FILTER_VALUES, MAX_PAGE_TOKEN_LEN};
use csops_runtime::{Error, Violations};

use crate::domain::callback::{
    MAX_CANCEL_REASON, MAX_FINDING, MAX_FINDINGS, MAX_FIX_NOTE, MAX_NOTES,
};

/// A request whose sizes are bounded.
pub(super) trait Bounded {
    /// Records a violation for every field over its documented maximum.
    fn check_sizes(&self, v: &mut Violations);
}

/// Answers INVALID_ARGUMENT naming every field of `request` over its maximum.
pub(super) fn check(request: &impl Bounded) -> Result<(), Error> {
    let mut v = Violations::default();
    request.check_sizes(&mut v);
    v.into_result(()).map_err(Error::InvalidArgument)
}

fn actor(v: &mut Violations, actor: Option<&pb::Actor>) {
    if let Some(pb::Actor { id, role: _ }) = actor {
        v.max_id("actor.id", id);
    }
}

macro_rules! bounded {
    ($name:ident |$r:ident, $v:ident| $body:block) => {
        impl Bounded for pb::$name {
            fn check_sizes(&self, $v: &mut Violations) {
                let $r = self;
                $body
            }
        }
    };
}

bounded!(
    ScheduleCallbackRequest | r,
    v | {
        let pb::ScheduleCallbackRequest {
            customer_id,
            subject,
            service_end_time: _,
            served_by_agent_id,
            source_event_id,
            actor: a,
        } = r;
        v.max_id("customer_id", customer_id);
        if let Some(pb::Subject { kind: _, id }) = subject {
            v.max_id("subject.id", id);
        }
        v.max_id("served_by_agent_id", served_by_agent_id);
        v.max_id("source_event_id", source_event_id);
        actor(v, a.as_ref());
    }
);
bounded!(
    GetCallbackRequest | r,
    v | {
        let pb::GetCallbackRequest { callback_id } = r;
        v.max_id("callback_id", callback_id);
    }
);
bounded!(
    ListCallbacksRequest | r,
    v | {
        let pb::ListCallbacksRequest {
            page_size: _,
            page_token,
            states,
            assigned_agent_id,
            customer_id,
            subject_kind: _,
            subject_id,
            due_before: _,
        } = r;
        v.max_len("page_token", page_token, MAX_PAGE_TOKEN_LEN);
        v.max_items("states", states.len(), MAX_FILTER_VALUES);
        v.max_id("assigned_agent_id", assigned_agent_id);
        v.max_id("customer_id", customer_id);
        v.max_id("subject_id", subject_id);
    }
);
bounded!(
    RecordCallbackAttemptRequest | r,
    v | {
        let pb::RecordCallbackAttemptRequest {
            callback_id,
            reached: _,
            outcome: _,
            findings,
            notes,
            attempt_time: _,
            request_id,
            actor: a,
            etag,
        } = r;
        v.max_id("callback_id", callback_id);
        if v.max_items("findings", findings.len(), MAX_FINDINGS) {
            for (i, f) in findings.iter().enumerate() {
                let pb::FindingInput {
                    description,
                    owner_agent_id,
                } = f;
                v.max_len(
                    &format!("findings[{i}].description"),
                    description,
                    MAX_FINDING,
                );
                v.max_id(&format!("findings[{i}].owner_agent_id"), owner_agent_id);
            }
        }
        v.max_len("notes", notes, MAX_NOTES);
        v.max_id("request_id", request_id);
        actor(v, a.as_ref());
        v.max_id("etag", etag);
    }
);
bounded!(
    CancelCallbackRequest | r,
    v | {
        let pb::CancelCallbackRequest {
            callback_id,
            reason,
            actor: a,
            etag,
        } = r;
        v.max_id("callback_id", callback_id);
        v.max_len("reason", reason, MAX_CANCEL_REASON);
        actor(v, a.as_ref());
        v.max_id("etag", etag);
    }
);
bounded!(
    FixCallbackFindingRequest | r,
    v | {
        let pb::FixCallbackFindingRequest {
            callback_id,
            finding_id,
            fix_note,
            actor: a,
            etag,
        } = r;
        v.max_id("callback_id", callback_id);
        v.max_id("finding_id", finding_id);
        v.max_len("fix_note", fix_note, MAX_FIX_NOTE);
        actor(v, a.as_ref());
        v.max_id("etag", etag);
    }
);
