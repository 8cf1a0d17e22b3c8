//! `csops.audit.v1.AuditService` over the server's own database.

use csops_proto::audit::v1 as pb;
use csops_proto::audit::v1::audit_service_server::AuditService;
use sqlx::AnyPool;
use tonic::{Request, Response, Status};

use crate::db::{self, StoreError, Traced as _};
use crate::error::{invalid_argument, Error};
use crate::paging::{self, Cursor, Filters, PageTokens};
use crate::sql::Sql;
use crate::time::{from_micros, to_timestamp};
use crate::violations::Violations;

/// Entries per page when the caller does not say.
const DEFAULT_PAGE_SIZE: u32 = 100;

/// The longest page token any List RPC accepts.
const MAX_PAGE_TOKEN_LEN: usize = 1024;

/// Serves the audit log of one service's database.
#[derive(Debug, Clone)]
pub struct AuditApi {
    pool: AnyPool,
    page_tokens: PageTokens,
}

impl AuditApi {
    /// The audit API over `pool`, with the service's page token key.
    pub fn new(pool: AnyPool, page_tokens: PageTokens) -> Self {
        Self { pool, page_tokens }
    }

    async fn entries(
        &self,
        record_id: &str,
        after: Option<&Cursor>,
        limit: u32,
    ) -> Result<Vec<Row>, StoreError> {
        async {
            let mut sql = Sql::new(
                "SELECT id, record_kind, record_id, action, actor_id, actor_role, trace_id, \
                 create_time FROM audit_log WHERE 1 = 1",
            );
            sql.bind(" AND record_id = $?", record_id);
            if let Some(cursor) = after {
                sql.after("create_time", cursor.key, cursor.id.as_str());
            }
            sql.bind(" ORDER BY create_time, id LIMIT $?", i64::from(limit));
            let mut conn = db::acquire(&self.pool).await?;
            let rows: Vec<Row> = sql.query_as().fetch_all(&mut *conn).await?;
            db::returned_rows(rows.len());
            Ok(rows)
        }
        .traced(db::span(
            db::system(&self.pool),
            "SELECT",
            "audit_log",
            "audit.list",
        ))
        .await
    }
}

#[derive(sqlx::FromRow)]
struct Row {
    id: String,
    record_kind: String,
    record_id: String,
    action: String,
    actor_id: String,
    actor_role: String,
    trace_id: String,
    create_time: i64,
}

impl Row {
    fn into_entry(self) -> pb::AuditEntry {
        pb::AuditEntry {
            id: self.id,
            record_kind: self.record_kind,
            record_id: self.record_id,
            action: self.action,
            actor_id: self.actor_id,
            actor_role: self.actor_role,
            create_time: Some(to_timestamp(from_micros(self.create_time))),
            trace_id: self.trace_id,
        }
    }
}

#[tonic::async_trait]
impl AuditService for AuditApi {
    async fn list_record_history(
        &self,
        request: Request<pb::ListRecordHistoryRequest>,
    ) -> Result<Response<pb::ListRecordHistoryResponse>, Status> {
        let pb::ListRecordHistoryRequest {
            record_id,
            page_size,
            page_token,
        } = request.into_inner();
        let mut v = Violations::default();
        let record_id = record_id.trim();
        v.require_id("record_id", record_id);
        let limit = paging::page_size(page_size, DEFAULT_PAGE_SIZE, &mut v);
        let mut after = None;
        if v.max_len("page_token", &page_token, MAX_PAGE_TOKEN_LEN) {
            let filters = Filters::new("ListRecordHistory").with("record_id", record_id);
            after = self.page_tokens.read(&page_token, &filters, &mut v);
        }
        if !v.is_empty() {
            return Err(invalid_argument(&v));
        }
        let filters = Filters::new("ListRecordHistory").with("record_id", record_id);
        let rows = self
            .entries(record_id, after.as_ref(), limit + 1)
            .await
            .map_err(Error::from)?;
        let (rows, next_page_token) = self.page_tokens.page(rows, limit, &filters, |last| Cursor {
            key: last.create_time,
            id: last.id.clone(),
        });
        Ok(Response::new(pb::ListRecordHistoryResponse {
            entries: rows.into_iter().map(Row::into_entry).collect(),
            next_page_token,
        }))
    }
}
