//! The read limits: the echo service answered by one prepared SELECT on PostgreSQL.
//!
//! Every call runs `sql` (one `$1`: a primary key, or the agent of a list) with the next of
//! the keys read at start-up, on a native `PgPool`, and answers with the rows' columns as the
//! payload. No validation, tracing, metrics or mapping to a domain type: the floor under any
//! read a service does with the same statement, measured with the same client
//! (`csops-load run -s echo`).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use anyhow::{ensure, Context as _};
use sqlx::postgres::{PgPool, PgPoolOptions, PgRow};
use sqlx::{Column as _, Row as _, TypeInfo as _};
use tonic::{Request, Response, Status};

use crate::echo::pb;
use pb::echo_service_server::EchoService;

/// What the server reads.
#[derive(Debug, Clone)]
pub struct Select {
    /// PostgreSQL to read from.
    pub database_url: String,
    /// The read, with `$1` the primary key, e.g. `SELECT id, body FROM complaints WHERE id = $1`.
    pub sql: String,
    /// A statement returning the keys to read (one text column), e.g.
    /// `SELECT id FROM complaints LIMIT 10000`.
    pub keys_sql: String,
    /// Pool size (the services' default is 10).
    pub pool_size: u32,
}

/// Answers each echo with one SELECT.
#[derive(Debug, Clone)]
pub struct PkSelect {
    pool: PgPool,
    sql: Arc<str>,
    keys: Arc<[String]>,
    next: Arc<AtomicUsize>,
}

impl PkSelect {
    /// Connects and reads the keys; fails when there are none.
    pub async fn connect(select: &Select) -> anyhow::Result<Self> {
        let pool = PgPoolOptions::new()
            .max_connections(select.pool_size)
            .connect(&select.database_url)
            .await
            .context("connecting to PostgreSQL")?;
        let keys: Vec<String> = sqlx::query_scalar(&select.keys_sql)
            .fetch_all(&pool)
            .await
            .context("reading the keys")?;
        ensure!(!keys.is_empty(), "`{}` returned no keys", select.keys_sql);
        Ok(Self {
            pool,
            sql: select.sql.as_str().into(),
            keys: keys.into(),
            next: Arc::new(AtomicUsize::new(0)),
        })
    }

    /// Number of keys the calls go round.
    pub fn keys(&self) -> usize {
        self.keys.len()
    }
}

#[tonic::async_trait]
impl EchoService for PkSelect {
    async fn echo(
        &self,
        _request: Request<pb::EchoRequest>,
    ) -> Result<Response<pb::EchoResponse>, Status> {
        let n = self.next.fetch_add(1, Ordering::Relaxed) % self.keys.len();
        let key = self.keys.get(n).map_or("", String::as_str);
        let rows = sqlx::query(&self.sql)
            .bind(key)
            .fetch_all(&self.pool)
            .await
            .map_err(|e| Status::unavailable(e.to_string()))?;
        if rows.is_empty() {
            return Err(Status::not_found(key.to_owned()));
        }
        let mut out = Vec::with_capacity(512 * rows.len());
        for row in &rows {
            payload(row, &mut out);
        }
        Ok(Response::new(pb::EchoResponse { payload: out }))
    }
}

/// Appends the row's columns to `out`, text as bytes and integers little-endian.
fn payload(row: &PgRow, out: &mut Vec<u8>) {
    for (i, column) in row.columns().iter().enumerate() {
        match column.type_info().name() {
            "INT8" => {
                if let Ok(v) = row.try_get::<i64, _>(i) {
                    out.extend_from_slice(&v.to_le_bytes());
                }
            }
            "INT4" => {
                if let Ok(v) = row.try_get::<i32, _>(i) {
                    out.extend_from_slice(&v.to_le_bytes());
                }
            }
            "BYTEA" => {
                if let Ok(v) = row.try_get::<&[u8], _>(i) {
                    out.extend_from_slice(v);
                }
            }
            _ => {
                if let Ok(v) = row.try_get::<&str, _>(i) {
                    out.extend_from_slice(v.as_bytes());
                }
            }
        }
    }
}
