//! The reply check: CheckReply and ListReplyViolations.

use csops_proto::complaints::v1 as pb;
use csops_runtime::paging::{self, Cursor, Filters};
use csops_runtime::time::{self, to_micros_opt, to_timestamp};
use csops_runtime::Error;

use super::{convert, done, limits, ComplaintsApi};
use crate::domain::{new_id, reply, Violations};
use crate::store::ViolationRecord;

/// Handles `check_reply`.
pub(super) async fn check_reply(
    api: &ComplaintsApi,
    request: pb::CheckReplyRequest,
) -> Result<pb::CheckReplyResponse, Error> {
    limits::check(&request)?;
    let pb::CheckReplyRequest {
        text,
        agent_id,
        complaint_id,
        written,
    } = request;
    let mut v = Violations::default();
    if text.trim().is_empty() {
        v.push(
            "text",
            format!("must be 1-{} characters", limits::MAX_REPLY_TEXT),
        );
    }
    done(v)?;
    let mut found = api.rules().reply.check(&text);
    if written && !complaint_id.trim().is_empty() {
        let complaint = api
            .core
            .store
            .get(complaint_id.trim())
            .await?
            .ok_or_else(|| {
                Error::NotFound(format!("complaint {} not found", complaint_id.trim()))
            })?;
        if complaint.is_sensitive(api.rules()) {
            found.insert(0, reply::written_to_sensitive(&text));
        }
    }
    if !agent_id.trim().is_empty() && !found.is_empty() {
        let now = time::now();
        let rows: Vec<ViolationRecord> = found
            .iter()
            .map(|x| ViolationRecord {
                id: new_id("rvi"),
                agent_id: agent_id.trim().to_owned(),
                complaint_id: complaint_id.trim().to_owned(),
                check_time: now,
                body: serde_json::to_string(x).unwrap_or_default(),
            })
            .collect();
        api.core
            .store
            .insert_violations(&rows)
            .await
            .map_err(Error::from)?;
        tracing::info!(agent_id = %agent_id.trim(), violations = rows.len(), "reply violations recorded");
    }
    Ok(pb::CheckReplyResponse {
        clean: found.is_empty(),
        violations: found.iter().map(convert::violation).collect(),
    })
}

/// Handles `list_reply_violations`.
pub(super) async fn list_reply_violations(
    api: &ComplaintsApi,
    request: pb::ListReplyViolationsRequest,
) -> Result<pb::ListReplyViolationsResponse, Error> {
    limits::check(&request)?;
    let pb::ListReplyViolationsRequest {
        page_size,
        page_token,
        agent_id,
        complaint_id,
        check_time_start,
        check_time_end,
    } = request;
    let mut v = Violations::default();
    let limit = paging::page_size(page_size, 50, &mut v);
    let start = convert::instant("check_time_start", check_time_start, &mut v);
    let end = convert::instant("check_time_end", check_time_end, &mut v);
    // Stored microseconds (0 for unset), the form page tokens were always signed over.
    let filters = Filters::new("ListReplyViolations")
        .with("agent_id", agent_id.trim())
        .with("complaint_id", complaint_id.trim())
        .with("check_time_start", to_micros_opt(start))
        .with("check_time_end", to_micros_opt(end));
    let after = api.page_tokens.read(&page_token, &filters, &mut v);
    done(v)?;
    let rows = api
        .core
        .store
        .list_violations(
            agent_id.trim(),
            complaint_id.trim(),
            start,
            end,
            after.as_ref(),
            limit + 1,
        )
        .await?;
    let (rows, next_page_token) = api.page_tokens.page(rows, limit, &filters, |last| Cursor {
        key: last.check_time.timestamp_micros(),
        id: last.id.clone(),
    });
    Ok(pb::ListReplyViolationsResponse {
        violations: rows
            .iter()
            .map(|r| pb::ReplyViolationRecord {
                id: r.id.clone(),
                agent_id: r.agent_id.clone(),
                complaint_id: r.complaint_id.clone(),
                violation: serde_json::from_str(&r.body)
                    .ok()
                    .map(|x| convert::violation(&x)),
                check_time: Some(to_timestamp(r.check_time)),
            })
            .collect(),
        next_page_token,
    })
}
