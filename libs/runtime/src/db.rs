//! Database plumbing: one `sqlx::Any` pool that is SQLite or PostgreSQL, migrations, and the
//! classification of database errors that services map to gRPC codes.
//!
//! The same SQL runs on both engines: `$n` placeholders, BIGINT for numbers and times
//! (microseconds since the Unix epoch), BIGINT 0/1 for flags, TEXT for ids and JSON, and no
//! NULL bindings (empty text or 0 stand for "unset").

use std::time::Duration;

use secrecy::ExposeSecret;
use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::migrate::Migrator;
use sqlx::pool::PoolConnection;
use sqlx::{Any, AnyPool, ConnectOptions, Executor, Transaction};

use crate::config::DatabaseSettings;

/// Opens a pool on the configured database, creating the SQLite file and its directory when
/// needed. SQLite connections use WAL and wait up to 5 s for a busy lock.
pub async fn connect(settings: &DatabaseSettings) -> Result<AnyPool, sqlx::Error> {
    sqlx::any::install_default_drivers();
    let url = settings.url.expose_secret();
    let is_sqlite = url.starts_with("sqlite:");
    if is_sqlite {
        create_sqlite_dir(url)?;
    }
    let options: AnyConnectOptions = url
        .parse::<AnyConnectOptions>()?
        .disable_statement_logging();
    AnyPoolOptions::new()
        .max_connections(settings.max_connections)
        .min_connections(0)
        .acquire_timeout(Duration::from_secs(5))
        .after_connect(move |conn, _meta| {
            Box::pin(async move {
                if is_sqlite {
                    conn.execute(
                        "PRAGMA journal_mode = WAL; PRAGMA busy_timeout = 5000; \
                         PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON;",
                    )
                    .await?;
                }
                Ok(())
            })
        })
        .connect_with(options)
        .await
}

fn create_sqlite_dir(url: &str) -> Result<(), sqlx::Error> {
    let path = url.trim_start_matches("sqlite:").trim_start_matches("//");
    let path = path.split('?').next().unwrap_or_default();
    if path.is_empty() || path == ":memory:" {
        return Ok(());
    }
    if let Some(dir) = std::path::Path::new(path).parent() {
        if !dir.as_os_str().is_empty() {
            std::fs::create_dir_all(dir)?;
        }
    }
    Ok(())
}

/// The kit's own tables (retry keys, outbox), in every service's database.
static KIT_MIGRATOR: Migrator = sqlx::migrate!("./migrations");

/// Applies the kit's migrations and the service's, in version order, as one history. On
/// PostgreSQL sqlx holds an advisory lock while migrating, so replicas starting together apply
/// each migration once.
pub async fn migrate(
    pool: &AnyPool,
    service: &Migrator,
) -> Result<(), sqlx::migrate::MigrateError> {
    let mut migrations: Vec<_> = KIT_MIGRATOR.iter().chain(service.iter()).cloned().collect();
    migrations.sort_by_key(|m| m.version);
    let merged = Migrator {
        migrations: std::borrow::Cow::Owned(migrations),
        ..Migrator::DEFAULT
    };
    merged.run(pool).await
}

/// Returns true when `pool` is a PostgreSQL pool (some statements differ, e.g. row locks).
pub fn is_postgres(pool: &AnyPool) -> bool {
    pool.connect_options()
        .database_url
        .scheme()
        .starts_with("postgres")
}

/// Returns true when the database answers a trivial query within two seconds.
pub async fn ping(pool: &AnyPool) -> bool {
    matches!(
        tokio::time::timeout(
            Duration::from_secs(2),
            sqlx::query("SELECT 1").execute(pool)
        )
        .await,
        Ok(Ok(_))
    )
}

/// OpenTelemetry's `db.system.name` for a backend as sqlx names it (`PostgreSQL`, `SQLite`).
pub fn system_name(backend: &str) -> &'static str {
    let backend = backend.to_ascii_lowercase();
    if backend.starts_with("postgres") {
        "postgresql"
    } else if backend.starts_with("sqlite") {
        "sqlite"
    } else {
        "other_sql"
    }
}

/// OpenTelemetry's `db.system.name` for a pool.
pub fn system(pool: &AnyPool) -> &'static str {
    if is_postgres(pool) {
        "postgresql"
    } else {
        "sqlite"
    }
}

/// The span of one store call, after the OpenTelemetry database conventions: named
/// `<operation> <collection>` (the query summary), a client span with `db.system.name`,
/// `db.operation.name`, `db.collection.name`, `db.query.summary` and the store call's name in
/// `db.query.name` (e.g. `complaints.get`). Never the statement's parameters: they hold
/// personal data. [`returned_rows`] adds `db.response.returned_rows`. Every store method runs
/// inside one (`.traced(db::span(..))`), and takes its connection with [`acquire`] or
/// [`begin`], which record the wait for a pooled connection on it as
/// `db.client.connection.wait_time` (seconds, the unit of OpenTelemetry's metric of that name).
///
/// Its parent is the store call it is made in, if any (the audit entry or outbox event a change
/// writes), else the current span (the RPC's, or a job's).
pub fn span(
    system: &'static str,
    operation: &'static str,
    collection: &'static str,
    name: &'static str,
) -> tracing::Span {
    macro_rules! db_span {
        ($($parent:tt)*) => {
            tracing::info_span!(
                $($parent)*
                "db",
                otel.name = %format_args!("{operation} {collection}"),
                otel.kind = "client",
                otel.status_code = tracing::field::Empty,
                db.system.name = system,
                db.operation.name = operation,
                db.collection.name = collection,
                db.query.summary = %format_args!("{operation} {collection}"),
                db.query.name = name,
                db.response.returned_rows = tracing::field::Empty,
                db.client.connection.wait_time = tracing::field::Empty,
            )
        };
    }
    match STORE_CALL.try_with(|call| call.id()).ok().flatten() {
        Some(outer) => db_span!(parent: outer,),
        None => db_span!(),
    }
}

tokio::task_local! {
    /// The span of the store call running in this task, which is never entered (see
    /// [`Traced`]): its records and the spans of store calls made inside it find it here.
    static STORE_CALL: tracing::Span;
}

/// Runs a store call in its span (from [`span`]) and marks the span failed when the call
/// fails: `async { .. }.traced(self.span(..)).await`.
///
/// The span covers the call from its creation to its end and is never entered. A store call's
/// future is polled at least once per round trip to the database, and entering and leaving
/// its span (and the spans around it) on each poll was the largest part of what tracing cost
/// a write (BENCHMARKS.md, "Tracing overhead"). What runs inside the call (a log line, a
/// neighbour's span) belongs to the span the store call was made in.
pub trait Traced: std::future::Future + Sized {
    /// Instruments the call with `span`, recording `otel.status_code = ERROR` on an error.
    fn traced(self, span: tracing::Span) -> impl std::future::Future<Output = Self::Output>;
}

impl<F, T, E> Traced for F
where
    F: std::future::Future<Output = Result<T, E>>,
{
    async fn traced(self, span: tracing::Span) -> Result<T, E> {
        let result = STORE_CALL.scope(span.clone(), self).await;
        if result.is_err() {
            span.record("otel.status_code", "ERROR");
        }
        result
    }
}

/// Records on the current store call's span how many rows it returned.
pub fn returned_rows(rows: usize) {
    let _ = STORE_CALL.try_with(|span| {
        span.record("db.response.returned_rows", rows);
    });
}

/// Records on the current store call's span how long it waited for a pooled connection.
///
/// An attribute, not a span of its own: a span per store call is the bulk of the tracing
/// cost of a read (BENCHMARKS.md, "Tracing overhead"), and the wait is one number.
fn record_wait(started: std::time::Instant) {
    let waited = started.elapsed().as_secs_f64();
    let _ = STORE_CALL.try_with(|span| {
        span.record("db.client.connection.wait_time", waited);
    });
}

/// Takes a pooled connection, recording the wait on the store call's span.
pub async fn acquire(pool: &AnyPool) -> Result<PoolConnection<Any>, sqlx::Error> {
    let started = std::time::Instant::now();
    let connection = pool.acquire().await;
    record_wait(started);
    connection
}

/// Takes a pooled connection and begins a transaction on it, recording the wait on the store
/// call's span.
pub async fn begin(pool: &AnyPool) -> Result<Transaction<'static, Any>, sqlx::Error> {
    let started = std::time::Instant::now();
    let transaction = pool.begin().await;
    record_wait(started);
    transaction
}

/// What a database error means to a caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DbErrorKind {
    /// A unique constraint was violated (SQLSTATE 23505, SQLite UNIQUE).
    UniqueViolation,
    /// A concurrent transaction won (SQLSTATE 40001/40P01, SQLite BUSY): retry.
    Conflict,
    /// The database could not be reached or the pool is exhausted.
    Unavailable,
    /// Anything else: a bug or a broken database.
    Other,
}

/// Classifies a database error.
///
/// PostgreSQL: 23505 is a duplicate; 40001/40P01 a lost race (retry); class 08 (connection
/// exceptions), 57P01-57P03 (the server shutting down or starting) and 53300 (too many
/// connections) mean the database is unreachable for now. SQLite: BUSY/LOCKED (5, 6, 517) is a
/// lost race. A broken or timed-out connection, a closed or exhausted pool likewise.
pub fn classify(error: &sqlx::Error) -> DbErrorKind {
    match error {
        sqlx::Error::Database(db) => {
            if db.is_unique_violation() {
                return DbErrorKind::UniqueViolation;
            }
            classify_code(db.code().as_deref())
        }
        sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::WorkerCrashed
        | sqlx::Error::Protocol(_) => DbErrorKind::Unavailable,
        _ => DbErrorKind::Other,
    }
}

/// Classifies a SQLSTATE (PostgreSQL) or result code (SQLite).
fn classify_code(code: Option<&str>) -> DbErrorKind {
    match code {
        Some("40001" | "40P01" | "5" | "6" | "517") => DbErrorKind::Conflict,
        Some("57P01" | "57P02" | "57P03" | "53300") => DbErrorKind::Unavailable,
        Some(code) if code.starts_with("08") && code.len() == 5 => DbErrorKind::Unavailable,
        _ => DbErrorKind::Other,
    }
}

/// A storage failure, classified for the caller.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A concurrent writer won; the caller may retry.
    #[error("concurrent update: {0}")]
    Conflict(#[source] sqlx::Error),
    /// The database is unreachable.
    #[error("database unavailable: {0}")]
    Unavailable(#[source] sqlx::Error),
    /// A unique key already exists.
    #[error("duplicate key: {0}")]
    Duplicate(#[source] sqlx::Error),
    /// A stored row could not be read back.
    #[error("corrupt row {id}: {what}")]
    Corrupt {
        /// Row id.
        id: String,
        /// What is wrong.
        what: String,
    },
    /// Any other database error.
    #[error("database error: {0}")]
    Other(#[source] sqlx::Error),
}

impl From<sqlx::Error> for StoreError {
    fn from(error: sqlx::Error) -> Self {
        match classify(&error) {
            DbErrorKind::UniqueViolation => Self::Duplicate(error),
            DbErrorKind::Conflict => Self::Conflict(error),
            DbErrorKind::Unavailable => Self::Unavailable(error),
            DbErrorKind::Other => Self::Other(error),
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    #![allow(clippy::unwrap_used)]
    use secrecy::SecretString;

    use super::*;

    #[test]
    fn server_shutdown_and_lost_connections_are_unavailable_and_races_are_conflicts() {
        for code in [
            "57P01", "57P02", "57P03", "08006", "08003", "08000", "53300",
        ] {
            assert_eq!(
                classify_code(Some(code)),
                DbErrorKind::Unavailable,
                "{code}"
            );
        }
        for code in ["40001", "40P01", "5", "517"] {
            assert_eq!(classify_code(Some(code)), DbErrorKind::Conflict, "{code}");
        }
        for code in [None, Some("42P01"), Some("08"), Some("22003")] {
            assert_eq!(classify_code(code), DbErrorKind::Other, "{code:?}");
        }
        assert_eq!(
            classify(&sqlx::Error::PoolTimedOut),
            DbErrorKind::Unavailable
        );
        let io = std::io::Error::new(std::io::ErrorKind::ConnectionReset, "reset");
        assert_eq!(classify(&sqlx::Error::Io(io)), DbErrorKind::Unavailable);
    }

    #[tokio::test]
    async fn a_stopped_postgresql_is_unavailable_not_internal() {
        // A real server terminating our session (what a restart does) answers 57P01.
        let url = csops_testkit::postgres::fresh_database().await;
        let pool = connect(&DatabaseSettings {
            url: SecretString::from(url),
            max_connections: 1,
        })
        .await
        .unwrap();
        let mut victim = pool.acquire().await.unwrap();
        let pid: i32 = sqlx::query_scalar("SELECT pg_backend_pid()")
            .fetch_one(&mut *victim)
            .await
            .unwrap();
        let killer = connect(&DatabaseSettings {
            url: SecretString::from(csops_testkit::postgres::fresh_database().await),
            max_connections: 1,
        })
        .await
        .unwrap();
        sqlx::query("SELECT pg_terminate_backend($1)")
            .bind(pid)
            .execute(&killer)
            .await
            .unwrap();
        let error = sqlx::query("SELECT 1")
            .execute(&mut *victim)
            .await
            .unwrap_err();
        assert_eq!(classify(&error), DbErrorKind::Unavailable, "{error:?}");
        let status = tonic::Status::from(crate::Error::Store(StoreError::from(error)));
        assert_eq!(status.code(), tonic::Code::Unavailable);
    }

    #[tokio::test]
    async fn a_pooled_connection_the_server_closed_costs_at_most_one_failed_call() {
        // A pooled connection whose server session ended (a restart, an idle timeout in a
        // proxy) fails at most one call, is dropped, and the next call gets a fresh connection,
        // without restarting anything.
        let settings = |url: String| DatabaseSettings {
            url: SecretString::from(url),
            max_connections: 1,
        };
        let pool = connect(&settings(csops_testkit::postgres::fresh_database().await))
            .await
            .unwrap();
        let killer = connect(&settings(csops_testkit::postgres::fresh_database().await))
            .await
            .unwrap();
        let backend = || sqlx::query_scalar::<_, i32>("SELECT pg_backend_pid()").fetch_one(&pool);
        let first = backend().await.unwrap();
        let terminated: bool = sqlx::query_scalar("SELECT pg_terminate_backend($1)")
            .bind(first)
            .fetch_one(&killer)
            .await
            .unwrap();
        assert!(terminated);

        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        let mut failed = 0;
        let replacement = loop {
            match backend().await {
                Ok(pid) if pid != first => break pid,
                Ok(_) => {} // the session has not ended yet: pg_terminate_backend only signals it
                Err(error) => {
                    assert_eq!(classify(&error), DbErrorKind::Unavailable, "{error:?}");
                    failed += 1;
                }
            }
            assert!(
                std::time::Instant::now() < deadline,
                "no fresh connection after 30 s"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        };
        assert_ne!(replacement, first);
        assert!(
            failed <= 1,
            "{failed} calls failed on the closed connection"
        );
    }

    /// Migrated databases (kit tables only) on both backends: SQLite in a temporary
    /// directory (returned with it, to keep it alive) and a fresh throwaway PostgreSQL one.
    pub(crate) async fn both() -> Vec<(&'static str, AnyPool, tempfile::TempDir)> {
        let dir = tempfile::tempdir().unwrap();
        let sqlite = sqlite(&dir).await;
        let pg = connect(&DatabaseSettings {
            url: SecretString::from(csops_testkit::postgres::fresh_database().await),
            max_connections: 4,
        })
        .await
        .unwrap();
        migrate(&pg, &Migrator::DEFAULT).await.unwrap();
        vec![
            ("sqlite", sqlite, dir),
            ("postgresql", pg, tempfile::tempdir().unwrap()),
        ]
    }

    /// A migrated SQLite database (kit tables only) in `dir`.
    pub(crate) async fn sqlite(dir: &tempfile::TempDir) -> AnyPool {
        let url = format!("sqlite://{}?mode=rwc", dir.path().join("kit.db").display());
        let pool = connect(&DatabaseSettings {
            url: SecretString::from(url),
            max_connections: 2,
        })
        .await
        .unwrap();
        migrate(&pool, &Migrator::DEFAULT).await.unwrap();
        pool
    }
}
