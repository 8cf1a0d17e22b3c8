//! Planner statistics for freshly filled tables (PostgreSQL).
//!
//! PostgreSQL plans a table it has never analyzed from guesses: an equality on any column
//! keeps 0.5 % of the rows, two of them 0.0025 %. After a bulk load (a migration, an import,
//! the first busy minutes of a new deployment) an agent's 1,700 customers are then estimated at
//! one or two rows, and "the first page of an agent's customers" reads and sorts all 1,700 on
//! every call instead of walking the index for 20: measured at 500 calls/s and a 62 ms p50 where
//! the same service with statistics answers 3,500/s (BENCHMARKS.md, issue 13). Autovacuum fixes
//! it, but only when it next visits the database (`autovacuum_naptime`, a minute by default,
//! server-wide).
//!
//! The keeper closes that window for every service: every [`INTERVAL`] it analyzes the tables
//! of its database that have never been analyzed and already hold [`FIRST_ANALYZE_ROWS`]
//! changed rows. Once a table has statistics, autovacuum keeps them current; the keeper does
//! not touch it again. Two replicas may analyze the same table once each; that is harmless.

use std::collections::HashSet;
use std::time::Duration;

use sqlx::AnyPool;

/// How often the keeper looks.
pub const INTERVAL: Duration = Duration::from_secs(5);

/// Changed rows a never-analyzed table needs before the keeper analyzes it (below that, a
/// sequential scan is as good as any plan).
pub const FIRST_ANALYZE_ROWS: i64 = 1_000;

/// Analyzes the tables PostgreSQL has never analyzed, each at most once per process.
#[derive(Debug)]
pub struct Keeper {
    pool: AnyPool,
    min_rows: i64,
    /// Tables this keeper has analyzed. A table it may not analyze (another role owns it:
    /// PostgreSQL skips it with a warning and it stays unanalyzed) is not tried again every
    /// interval; it is autovacuum's.
    tried: HashSet<String>,
}

impl Keeper {
    /// A keeper for tables with at least `min_rows` changed rows.
    pub fn new(pool: AnyPool, min_rows: i64) -> Self {
        Self {
            pool,
            min_rows,
            tried: HashSet::new(),
        }
    }

    /// Analyzes each table of the connected database that PostgreSQL has never analyzed, that
    /// has at least `min_rows` changed rows and that this keeper has not tried yet; returns
    /// their names (`schema.table`). Does nothing on SQLite, which plans without statistics.
    pub async fn pass(&mut self) -> Result<Vec<String>, sqlx::Error> {
        if !crate::db::is_postgres(&self.pool) {
            return Ok(Vec::new());
        }
        let tables: Vec<(String, String)> = sqlx::query_as(
            "SELECT schemaname::text, relname::text FROM pg_stat_user_tables \
             WHERE last_analyze IS NULL AND last_autoanalyze IS NULL \
             AND n_mod_since_analyze >= $1 ORDER BY n_mod_since_analyze DESC",
        )
        .bind(self.min_rows)
        .fetch_all(&self.pool)
        .await?;
        let mut analyzed = Vec::with_capacity(tables.len());
        for (schema, table) in tables {
            let name = format!("{schema}.{table}");
            if self.tried.contains(&name) {
                continue;
            }
            sqlx::query(&format!("ANALYZE {}.{}", quote(&schema), quote(&table)))
                .execute(&self.pool)
                .await?;
            self.tried.insert(name.clone());
            analyzed.push(name);
        }
        Ok(analyzed)
    }
}

/// Runs a [`Keeper`] pass every [`INTERVAL`] until the task is dropped. Errors (the database
/// unreachable) are logged and retried at the next interval.
pub async fn keep(pool: AnyPool) {
    if !crate::db::is_postgres(&pool) {
        return;
    }
    let mut keeper = Keeper::new(pool, FIRST_ANALYZE_ROWS);
    loop {
        tokio::time::sleep(INTERVAL).await;
        match keeper.pass().await {
            Ok(tables) => {
                for table in tables {
                    tracing::info!(table, "analyzed a table PostgreSQL had no statistics for");
                }
            }
            Err(error) => tracing::debug!(%error, "statistics check failed; retrying"),
        }
    }
}

/// Quotes an identifier for PostgreSQL.
fn quote(identifier: &str) -> String {
    format!("\"{}\"", identifier.replace('"', "\"\""))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use secrecy::SecretString;

    use super::*;
    use crate::config::DatabaseSettings;

    #[test]
    fn identifiers_are_quoted() {
        assert_eq!(quote("customers"), "\"customers\"");
        assert_eq!(quote("we\"ird"), "\"we\"\"ird\"");
    }

    async fn analyzed(pool: &AnyPool, table: &str) -> bool {
        sqlx::query_scalar::<_, i64>(
            "SELECT count(*) FROM pg_stat_user_tables WHERE relname = $1 \
             AND (last_analyze IS NOT NULL OR last_autoanalyze IS NOT NULL)",
        )
        .bind(table)
        .fetch_one(pool)
        .await
        .unwrap()
            == 1
    }

    /// The first pass that finds tables: a table's changes reach the statistics views within
    /// about a second, so this waits for the keeper's condition, not for a fixed time.
    async fn first_tables(keeper: &mut Keeper) -> Vec<String> {
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        loop {
            let tables = keeper.pass().await.unwrap();
            if !tables.is_empty() || std::time::Instant::now() > deadline {
                return tables;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    #[tokio::test]
    async fn a_freshly_filled_table_gets_statistics_and_its_list_walks_the_index() {
        let pool = crate::db::connect(&DatabaseSettings {
            url: SecretString::from(csops_testkit::postgres::fresh_database().await),
            max_connections: 2,
        })
        .await
        .unwrap();
        sqlx::query(
            "CREATE TABLE files (id TEXT PRIMARY KEY, owner TEXT NOT NULL, state TEXT NOT NULL, \
             create_time BIGINT NOT NULL, body TEXT NOT NULL)",
        )
        .execute(&pool)
        .await
        .unwrap();
        // Autovacuum is off for these tables so that only the keeper can analyze them.
        for statement in [
            "CREATE INDEX files_by_owner ON files (owner, create_time, id)",
            "ALTER TABLE files SET (autovacuum_enabled = false)",
            "CREATE TABLE small (id TEXT PRIMARY KEY) WITH (autovacuum_enabled = false)",
        ] {
            sqlx::query(statement).execute(&pool).await.unwrap();
        }
        // 20 owners of 1,000 files each, as a day of creates leaves them.
        sqlx::query(
            "INSERT INTO files SELECT 'f' || n, 'agent-' || (n % 20), 'active', n, \
             repeat('x', 300) FROM generate_series(1, 20000) AS n",
        )
        .execute(&pool)
        .await
        .unwrap();
        sqlx::query("INSERT INTO small VALUES ('a'), ('b')")
            .execute(&pool)
            .await
            .unwrap();
        let list = "EXPLAIN SELECT id FROM files WHERE state = 'active' AND owner = 'agent-7' \
                    ORDER BY create_time, id LIMIT 20";
        let plan = |pool: AnyPool| async move {
            let lines: Vec<String> = sqlx::query_scalar(list).fetch_all(&pool).await.unwrap();
            lines.join("\n")
        };
        // Without statistics PostgreSQL believes two rows match and sorts every file of the
        // owner (the plan the list_customers benchmark collapsed on).
        let before = plan(pool.clone()).await;
        assert!(before.contains("Sort"), "{before}");

        let mut keeper = Keeper::new(pool.clone(), FIRST_ANALYZE_ROWS);
        let tables = first_tables(&mut keeper).await;
        assert_eq!(tables, vec!["public.files".to_owned()]);
        assert!(analyzed(&pool, "files").await);
        assert!(
            !analyzed(&pool, "small").await,
            "a two-row table is left alone"
        );
        let after = plan(pool.clone()).await;
        assert!(
            after.contains("Index Scan using files_by_owner") && !after.contains("Sort"),
            "{after}"
        );
        // Once analyzed, a table is autovacuum's again, also for another replica's keeper.
        let mut other = Keeper::new(pool.clone(), FIRST_ANALYZE_ROWS);
        assert!(other.pass().await.unwrap().is_empty());
    }

    #[tokio::test]
    async fn a_table_the_service_may_not_analyze_is_tried_once() {
        // Banks often run services under a role that does not own the tables (the
        // migrations' role does): PostgreSQL then skips ANALYZE with a warning.
        let url = csops_testkit::postgres::fresh_database().await;
        let settings = |url: String| DatabaseSettings {
            url: SecretString::from(url),
            max_connections: 1,
        };
        let owner = crate::db::connect(&settings(url.clone())).await.unwrap();
        let role = format!("csops_guest_{}", std::process::id());
        for statement in [
            format!("DROP ROLE IF EXISTS {role}"),
            format!("CREATE ROLE {role} LOGIN"),
            "CREATE TABLE files (id TEXT PRIMARY KEY) WITH (autovacuum_enabled = false)".into(),
            format!("GRANT SELECT ON files TO {role}"),
            "INSERT INTO files SELECT 'f' || n FROM generate_series(1, 2000) AS n".into(),
        ] {
            sqlx::query(&statement).execute(&owner).await.unwrap();
        }
        let guest = crate::db::connect(&settings(url.replacen(
            "postgres://postgres@",
            &format!("postgres://{role}@"),
            1,
        )))
        .await
        .unwrap();
        let mut keeper = Keeper::new(guest.clone(), FIRST_ANALYZE_ROWS);
        let first = first_tables(&mut keeper).await;
        assert_eq!(first, vec!["public.files".to_owned()]);
        assert!(!analyzed(&owner, "files").await, "PostgreSQL skipped it");
        assert!(keeper.pass().await.unwrap().is_empty(), "not tried again");
        guest.close().await;
    }
}
