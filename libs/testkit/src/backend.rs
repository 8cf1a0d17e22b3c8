//! The two databases every store and API test runs on: a SQLite file in the test's own
//! directory, or a fresh database on the throwaway PostgreSQL server (started on first use).

use std::path::Path;

/// Which database a test runs against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// The embedded default: a SQLite file.
    Sqlite,
    /// Production's engine: a fresh database on the throwaway PostgreSQL.
    Postgres,
}

impl Backend {
    /// Returns the URL of a new, empty database for `service`: a SQLite file in `dir`, or a
    /// fresh PostgreSQL database.
    pub async fn database_url(self, dir: &Path, service: &str) -> String {
        match self {
            Self::Sqlite => format!(
                "sqlite://{}?mode=rwc",
                dir.join(format!("{service}.db")).display()
            ),
            Self::Postgres => crate::postgres::fresh_database().await,
        }
    }
}

/// Runs each named `async fn name(backend: Backend)` as two tests, `sqlite::name` and
/// `postgres::name`, on a multi-threaded runtime. The calling module must import `Backend`.
#[macro_export]
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() { super::$name(super::Backend::Sqlite).await })*
        }
        mod postgres {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() { super::$name(super::Backend::Postgres).await })*
        }
    };
}
