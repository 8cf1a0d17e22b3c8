//! Sleeping until the next piece of scheduled work, and being woken early when a change
//! schedules something sooner: what a background sweeper (the breach watcher) does between
//! sweeps instead of polling.
//!
//! The sweeper plans its sleep in three steps — [`Wake::planning`], read the earliest due
//! instant from storage, [`Wake::sleep_until`] — and every change that schedules work calls
//! [`Wake::scheduled`] after it commits. A change committed after `planning` and earlier than
//! the planned instant leaves a wake-up signal, so none is missed between reading the earliest
//! instant and falling asleep; while the sweeper works, changes cost one atomic load.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::sync::Notify;

use crate::time;

/// The planned wake-up of one sweeper and the signal that brings it forward.
#[derive(Debug)]
pub struct Wake {
    /// Microseconds since the epoch of the planned wake-up: 0 while the sweeper works (it
    /// reads what is due itself), `i64::MAX` while it plans.
    at: AtomicI64,
    early: Notify,
}

impl Default for Wake {
    fn default() -> Self {
        Self {
            at: AtomicI64::new(0),
            early: Notify::new(),
        }
    }
}

/// Why a sleep ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Woken {
    /// The planned instant (or the longest sleep) came.
    Due,
    /// A change scheduled work before the planned instant.
    Early,
    /// The stop was requested.
    Stopped,
}

impl Wake {
    /// A change scheduled work at `at` (`None`: nothing): wakes the sweeper when that is
    /// sooner than its planned wake-up.
    pub fn scheduled(&self, at: Option<DateTime<Utc>>) {
        let Some(at) = at else { return };
        let planned = self.at.load(Ordering::SeqCst);
        if planned != 0 && at.timestamp_micros() < planned {
            self.early.notify_one();
        }
    }

    /// The sweeper is about to read the earliest due instant: from now on a change that
    /// schedules anything wakes it.
    pub fn planning(&self) {
        self.at.store(i64::MAX, Ordering::SeqCst);
    }

    /// Sleeps until `next` (now when it has passed; at most `longest`, the safety net for work
    /// scheduled elsewhere, e.g. by another replica), until a change schedules something
    /// sooner, or until `stop` is cancelled.
    pub async fn sleep_until(
        &self,
        next: Option<DateTime<Utc>>,
        longest: Duration,
        stop: &tokio_util::sync::CancellationToken,
    ) -> Woken {
        let now = time::now();
        let wait = next.map_or(longest, |next| {
            (next - now).to_std().unwrap_or(Duration::ZERO).min(longest)
        });
        let planned = now + chrono::TimeDelta::from_std(wait).unwrap_or(chrono::TimeDelta::MAX);
        self.at
            .store(planned.timestamp_micros().max(1), Ordering::SeqCst);
        let woken = tokio::select! {
            () = stop.cancelled() => Woken::Stopped,
            () = self.early.notified() => Woken::Early,
            () = tokio::time::sleep(wait) => Woken::Due,
        };
        self.at.store(0, Ordering::SeqCst);
        woken
    }
}

/// On PostgreSQL, wakes `wake` when another replica announces work it scheduled soon: a change
/// whose next due instant is closer than the replicas' longest sleep runs
/// `SELECT pg_notify(<channel>, <microseconds since the epoch>)` in its transaction (see
/// [`announce`]), and every replica listening on `channel` hears it on commit. Runs until
/// `stop`; reconnects by itself after a lost connection (a notification missed meanwhile
/// costs at most one longest sleep).
pub async fn listen(
    database: crate::config::DatabaseSettings,
    channel: &'static str,
    wake: Arc<Wake>,
    stop: tokio_util::sync::CancellationToken,
) {
    use secrecy::ExposeSecret as _;
    let mut listener = loop {
        match sqlx::postgres::PgListener::connect(database.url.expose_secret()).await {
            Ok(mut listener) => match listener.listen(channel).await {
                Ok(()) => break listener,
                Err(error) => {
                    tracing::warn!(error = %error, channel, "cannot listen for scheduled work")
                }
            },
            Err(error) => {
                tracing::warn!(error = %error, channel, "cannot listen for scheduled work")
            }
        }
        tokio::select! {
            () = stop.cancelled() => return,
            () = tokio::time::sleep(Duration::from_secs(5)) => {}
        }
    };
    loop {
        tokio::select! {
            () = stop.cancelled() => return,
            received = listener.recv() => match received {
                Ok(notification) => {
                    let at = notification
                        .payload()
                        .parse::<i64>()
                        .ok()
                        .and_then(time::from_micros_opt);
                    wake.scheduled(at);
                }
                Err(error) => {
                    tracing::warn!(error = %error, channel, "listening for scheduled work failed; retrying");
                    tokio::select! {
                        () = stop.cancelled() => return,
                        () = tokio::time::sleep(Duration::from_secs(1)) => {}
                    }
                }
            }
        }
    }
}

/// Announces to the replicas listening on `channel` ([`listen`]) that work is due at `at`, on
/// the connection of the change's transaction (PostgreSQL delivers it on commit, never for a
/// change rolled back).
pub async fn announce(
    conn: &mut sqlx::AnyConnection,
    channel: &str,
    at: DateTime<Utc>,
) -> Result<(), crate::db::StoreError> {
    sqlx::query("SELECT pg_notify($1, $2)")
        .bind(channel)
        .bind(at.timestamp_micros().to_string())
        .execute(conn)
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use tokio_util::sync::CancellationToken;

    fn in_secs(secs: i64) -> Option<DateTime<Utc>> {
        Some(time::now() + chrono::TimeDelta::seconds(secs))
    }

    #[tokio::test]
    async fn work_scheduled_sooner_than_planned_wakes_the_sleeper() {
        let wake = std::sync::Arc::new(Wake::default());
        let stop = CancellationToken::new();
        wake.planning();
        let sleeper = {
            let (wake, stop) = (wake.clone(), stop.clone());
            tokio::spawn(async move {
                wake.sleep_until(in_secs(3600), Duration::from_secs(3600), &stop)
                    .await
            })
        };
        // Later than planned: no signal; sooner: the sleeper wakes.
        wake.scheduled(in_secs(7200));
        wake.scheduled(None);
        wake.scheduled(in_secs(60));
        let woken = tokio::time::timeout(Duration::from_secs(30), sleeper)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(woken, Woken::Early);
    }

    #[tokio::test]
    async fn a_change_between_planning_and_sleeping_is_not_missed() {
        let wake = Wake::default();
        let stop = CancellationToken::new();
        wake.planning();
        // Committed after the sweeper read the earliest instant, before it fell asleep.
        wake.scheduled(in_secs(10));
        let woken = tokio::time::timeout(
            Duration::from_secs(30),
            wake.sleep_until(in_secs(3600), Duration::from_secs(3600), &stop),
        )
        .await
        .unwrap();
        assert_eq!(woken, Woken::Early);
    }

    #[tokio::test]
    async fn while_the_sweeper_works_changes_leave_no_signal() {
        let wake = Wake::default();
        let stop = CancellationToken::new();
        wake.scheduled(in_secs(1));
        let woken = wake
            .sleep_until(None, Duration::from_millis(50), &stop)
            .await;
        assert_eq!(woken, Woken::Due);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn work_announced_by_another_replica_wakes_the_sleeper() {
        let url = csops_testkit::postgres::fresh_database().await;
        let wake = Arc::new(Wake::default());
        let stop = CancellationToken::new();
        let database = crate::config::Settings::for_tests(&url).database;
        let listener = tokio::spawn(listen(
            database.clone(),
            "csops_test_checks",
            wake.clone(),
            stop.clone(),
        ));
        let pool = crate::db::connect(&database).await.unwrap();
        wake.planning();
        let sleeper = {
            let (wake, stop) = (wake.clone(), stop.clone());
            tokio::spawn(async move {
                wake.sleep_until(None, Duration::from_secs(3600), &stop)
                    .await
            })
        };
        // The listener may still be connecting: announce until the sleeper wakes.
        let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
        while !sleeper.is_finished() {
            assert!(
                tokio::time::Instant::now() < deadline,
                "the announcement never woke the sleeper"
            );
            let mut tx = pool.begin().await.unwrap();
            announce(
                &mut tx,
                "csops_test_checks",
                time::now() + chrono::TimeDelta::seconds(2),
            )
            .await
            .unwrap();
            tx.commit().await.unwrap();
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        assert_eq!(sleeper.await.unwrap(), Woken::Early);
        stop.cancel();
        listener.await.unwrap();
        pool.close().await;
    }

    #[tokio::test]
    async fn a_passed_instant_sleeps_not_at_all_and_stop_ends_the_sleep() {
        let wake = Wake::default();
        let stop = CancellationToken::new();
        let woken = tokio::time::timeout(
            Duration::from_secs(30),
            wake.sleep_until(in_secs(-5), Duration::from_secs(3600), &stop),
        )
        .await
        .unwrap();
        assert_eq!(woken, Woken::Due);
        stop.cancel();
        assert_eq!(
            wake.sleep_until(None, Duration::from_secs(3600), &stop)
                .await,
            Woken::Stopped
        );
    }
}
