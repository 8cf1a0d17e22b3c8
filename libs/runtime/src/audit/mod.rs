//! The audit log: who did what to which record, queryable per record.
//!
//! Every store writes one entry per changed record with [`record`] (or [`record_many`] for a
//! batch), on the connection of the change's own transaction: an entry exists exactly when
//! the change does, and a refused or rolled-back change leaves none. The entry's action and
//! actor are not parameters: they come from the [`Call`] the task serves, which the server's
//! auth layer sets from the RPC's path and the caller's verified token
//! ([`crate::auth::AuthLayer`]) and a background job sets with [`as_job`]. So no handler can
//! record an actor a caller typed in.
//!
//! Every server serves the log of its own database as `csops.audit.v1.AuditService`
//! ([`AuditApi`]), guarded by [`ROLES`].

mod api;

use std::sync::Arc;

use csops_observability::TraceHeaders;
use sqlx::AnyConnection;

use crate::auth::{self, Call, OnBehalfOf, Role, RoleTable};
use crate::db::{self, StoreError, Traced as _};
use crate::sql::{self, Sql, Value};

pub use api::AuditApi;

/// The audit API's gRPC service name, served by every csops server.
pub const GRPC_SERVICE: &str = "csops.audit.v1.AuditService";

/// Who may read the audit log: supervisors (and managers) and ops.
pub const ROLES: RoleTable = &[("ListRecordHistory", &[Role::Supervisor, Role::Ops])];

/// The actor of a change made by the service itself.
pub const SYSTEM: &str = "system";

/// The actor of a change made through an RPC served with authentication off.
pub const ANONYMOUS: &str = "anonymous";

/// Runs one pass of a background job (a sweep, a watcher) as the job `name`: the changes it
/// makes are recorded as `name` by [`SYSTEM`].
pub async fn as_job<F: std::future::Future>(name: &'static str, future: F) -> F::Output {
    let call = Call {
        action: Arc::from(name),
        on_behalf_of: OnBehalfOf::System,
    };
    auth::in_call(call, future).await
}

/// What is recorded of the task's call: (action, actor id, actor role).
fn actor() -> (Arc<str>, String, &'static str) {
    match auth::current_call() {
        Some(Call {
            action,
            on_behalf_of,
        }) => match on_behalf_of {
            OnBehalfOf::Caller(principal) => {
                let role = principal.acting_role().claim();
                (action, principal.subject, role)
            }
            OnBehalfOf::Anonymous => (action, ANONYMOUS.to_owned(), ""),
            OnBehalfOf::System => (action, SYSTEM.to_owned(), SYSTEM),
        },
        // A store used outside a call or job (a test driving it directly, a tool).
        None => (Arc::from("unknown"), "unknown".to_owned(), ""),
    }
}

/// The trace id of the current span (32 hex digits), or empty.
fn trace_id() -> String {
    // `00-<32 hex trace id>-<16 hex span id>-<flags>`
    TraceHeaders::current()
        .traceparent
        .get(3..35)
        .map(str::to_owned)
        .unwrap_or_default()
}

fn new_id() -> String {
    format!("aud_{}", uuid::Uuid::now_v7().simple())
}

/// Records that the task's call changed the record `kind` `id` (e.g. `customer`, `cus_…`), on
/// the connection of the change's transaction.
pub async fn record(
    conn: &mut AnyConnection,
    kind: &'static str,
    id: &str,
    now_micros: i64,
) -> Result<(), StoreError> {
    record_many(conn, kind, &[id], now_micros).await
}

/// Records that the task's call changed each record `kind` of `ids`, on the connection of the
/// batch's transaction: one multi-row statement per [`sql::rows_per_statement`] records.
pub async fn record_many(
    conn: &mut AnyConnection,
    kind: &'static str,
    ids: &[&str],
    now_micros: i64,
) -> Result<(), StoreError> {
    if ids.is_empty() {
        return Ok(());
    }
    let (action, actor_id, actor_role) = actor();
    let trace_id = trace_id();
    let system = db::system_name(conn.backend_name());
    async {
        for chunk in ids.chunks(sql::rows_per_statement(8)) {
            let mut statement = Sql::new(
                "INSERT INTO audit_log (id, record_kind, record_id, action, actor_id, \
                 actor_role, trace_id, create_time) VALUES ",
            );
            for (i, id) in chunk.iter().enumerate() {
                statement.tuple(
                    i == 0,
                    [
                        Value::from(new_id()),
                        Value::from(kind),
                        Value::from(*id),
                        Value::from(&*action),
                        Value::from(actor_id.as_str()),
                        Value::from(actor_role),
                        Value::from(trace_id.as_str()),
                        Value::from(now_micros),
                    ],
                );
            }
            statement.query().execute(&mut *conn).await?;
        }
        Ok(())
    }
    .traced(db::span(system, "INSERT", "audit_log", "audit.record"))
    .await
}

/// The audit entry of a change, for a store that writes it in the change's own statement (on
/// PostgreSQL, a change without a transaction: [`Entry::after`]).
#[derive(Debug, Clone)]
pub struct Entry {
    kind: &'static str,
    action: Arc<str>,
    actor_id: String,
    actor_role: &'static str,
    trace_id: String,
    now_micros: i64,
}

impl Entry {
    /// The entry of the task's call changing a record of `kind` at `now_micros`.
    pub fn of_call(kind: &'static str, now_micros: i64) -> Self {
        let (action, actor_id, actor_role) = actor();
        Self {
            kind,
            action,
            actor_id,
            actor_role,
            trace_id: trace_id(),
            now_micros,
        }
    }

    /// PostgreSQL only: `update` (an `UPDATE … RETURNING id` with `params` placeholders) and
    /// the entry of each row it changed, as one statement. Bind the update's values, then the
    /// entry's ([`Entry::bind`]); the statement reports as many rows as the update changed.
    /// One statement is atomic without a transaction: the change saves BEGIN and COMMIT.
    pub fn after(update: &str, params: usize) -> String {
        let p = |n: usize| params + n;
        format!(
            "WITH changed AS ({update}) INSERT INTO audit_log (id, record_kind, record_id, \
             action, actor_id, actor_role, trace_id, create_time) SELECT ${}, ${}, id, ${}, \
             ${}, ${}, ${}, ${} FROM changed",
            p(1),
            p(2),
            p(3),
            p(4),
            p(5),
            p(6),
            p(7)
        )
    }

    /// Binds the entry's values to a statement made by [`Entry::after`].
    pub fn bind<'q>(
        &'q self,
        query: sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>>,
    ) -> sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>> {
        query
            .bind(new_id())
            .bind(self.kind)
            .bind(&*self.action)
            .bind(self.actor_id.as_str())
            .bind(self.actor_role)
            .bind(self.trace_id.as_str())
            .bind(self.now_micros)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests;
