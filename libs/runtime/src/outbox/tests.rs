#![allow(clippy::unwrap_used)]

use std::collections::HashSet;
use std::sync::Mutex;

use proptest::prelude::*;
use sqlx::AnyPool;

use super::*;

/// A receiver in the test process: records what arrives, refuses the ids it is told to.
#[derive(Debug, Default)]
struct Receiver {
    got: Mutex<Vec<String>>,
    refuse: Mutex<HashSet<String>>,
}

impl Deliver for Receiver {
    fn destinations(&self) -> Vec<(&'static str, bool)> {
        vec![("feedback", true), ("visits", false)]
    }

    async fn deliver(&self, event: &Claimed) -> Result<(), tonic::Status> {
        if self.refuse.lock().unwrap().contains(&event.id) {
            return Err(tonic::Status::unavailable("receiver down"));
        }
        self.got.lock().unwrap().push(event.id.clone());
        Ok(())
    }
}

async fn add(pool: &AnyPool, id: &str, destination: &'static str, aggregate: &str, at: i64) {
    let mut conn = pool.acquire().await.unwrap();
    write(
        &mut conn,
        &NewEvent {
            id: id.into(),
            destination,
            kind: "schedule_callback",
            aggregate_id: aggregate.into(),
            payload: "{}".into(),
        },
        at,
    )
    .await
    .unwrap();
}

fn relay(pool: &AnyPool, receiver: Receiver) -> Relay<Receiver> {
    Relay::new(
        Outbox::new(pool.clone()),
        receiver,
        RelaySettings::default(),
        &Metrics::new(),
    )
}

use csops_observability::Metrics;

#[tokio::test]
async fn events_are_delivered_once_in_order_and_only_to_configured_receivers() {
    for (_, pool, _dir) in crate::db::tests::both().await {
        add(&pool, "e1", "feedback", "cmp_1", 1).await;
        add(&pool, "e2", "feedback", "cmp_2", 2).await;
        add(&pool, "e3", "feedback", "cmp_1", 3).await;
        add(&pool, "v1", "visits", "cmp_1", 4).await;
        let relay = relay(&pool, Receiver::default());
        let pass = relay.run_once().await.unwrap();
        assert_eq!(
            pass,
            Pass {
                claimed: 3,
                delivered: 3
            }
        );
        let got = relay.deliver.got.lock().unwrap().clone();
        let pos = |id: &str| got.iter().position(|g| g == id).unwrap();
        assert!(
            pos("e1") < pos("e3"),
            "one resource's events keep their order: {got:?}"
        );
        assert_eq!(relay.run_once().await.unwrap(), Pass::default());
        let pending = relay.outbox.pending().await.unwrap();
        assert_eq!(pending.len(), 1, "{pending:?}");
        assert_eq!(
            (pending[0].destination.as_str(), pending[0].events),
            ("visits", 1)
        );
    }
}

#[tokio::test]
async fn a_failed_delivery_backs_off_and_holds_back_the_resources_later_events() {
    for (_, pool, _dir) in crate::db::tests::both().await {
        add(&pool, "e1", "feedback", "cmp_1", 1).await;
        add(&pool, "e2", "feedback", "cmp_1", 2).await;
        add(&pool, "e3", "feedback", "cmp_2", 3).await;
        let receiver = Receiver::default();
        receiver.refuse.lock().unwrap().insert("e1".into());
        let relay = relay(&pool, receiver);
        let before = now_micros();
        let pass = relay.run_once().await.unwrap();
        assert_eq!(
            pass,
            Pass {
                claimed: 3,
                delivered: 1
            }
        );
        assert_eq!(*relay.deliver.got.lock().unwrap(), ["e3"]);
        let row = sqlx::query(
            "SELECT attempts, next_attempt_time, last_error FROM outbox_events WHERE id = 'e1'",
        )
        .fetch_one(&pool)
        .await
        .unwrap();
        assert_eq!(row.try_get::<i64, _>("attempts").unwrap(), 1);
        let next: i64 = row.try_get("next_attempt_time").unwrap();
        assert!(
            next >= before + 500_000,
            "backs off at least half the first delay"
        );
        assert!(row
            .try_get::<String, _>("last_error")
            .unwrap()
            .contains("Unavailable"));
        // e2 was not tried (it waits behind e1) and is not leased: it can go at once, but
        // order says it waits while e1 is not due.
        let e2_lease: i64 = sqlx::query("SELECT lease_until FROM outbox_events WHERE id = 'e2'")
            .fetch_one(&pool)
            .await
            .unwrap()
            .try_get("lease_until")
            .unwrap();
        assert_eq!(
            e2_lease, 0,
            "an untried event is released, not left to its lease"
        );
    }
}

#[tokio::test]
async fn claims_are_exclusive_until_released() {
    for (_, pool, _dir) in crate::db::tests::both().await {
        for i in 0..10 {
            add(&pool, &format!("e{i}"), "feedback", &format!("cmp_{i}"), i).await;
        }
        let outbox = Outbox::new(pool.clone());
        let now = now_micros();
        let (a, b) = tokio::join!(
            outbox.claim(&["feedback"], "a", now, now + 10_000_000, 6),
            outbox.claim(&["feedback"], "b", now, now + 10_000_000, 6),
        );
        let (a, b) = (a.unwrap(), b.unwrap());
        let ids: HashSet<String> = a.iter().chain(&b).map(|e| e.id.clone()).collect();
        assert_eq!(ids.len(), a.len() + b.len(), "no event is claimed twice");
        assert_eq!(ids.len(), 10);
        let a_ids: Vec<String> = a.iter().map(|e| e.id.clone()).collect();
        outbox.release(&a_ids, "b").await.unwrap();
        assert!(
            outbox
                .claim(&["feedback"], "c", now, now + 1, 10)
                .await
                .unwrap()
                .is_empty(),
            "another owner cannot release a claim"
        );
        outbox.release(&a_ids, "a").await.unwrap();
        assert_eq!(
            outbox
                .claim(&["feedback"], "c", now, now + 1, 10)
                .await
                .unwrap()
                .len(),
            a.len()
        );
    }
}

proptest! {
    #[test]
    fn backoff_stays_between_half_and_all_of_the_capped_delay(attempts in 0i64..100) {
        let settings = RelaySettings::default();
        let full = (1_000_000_i64 << attempts.min(30)).min(60_000_000);
        let wait = backoff(&settings, attempts, "e1");
        prop_assert!(wait >= full / 2 && wait <= full, "{wait} for {full}");
    }
}

/// A receiver that takes `delay` per event and counts what it got.
#[derive(Debug)]
struct Slow {
    delay: std::time::Duration,
    got: Mutex<Vec<String>>,
}

impl Deliver for Slow {
    fn destinations(&self) -> Vec<(&'static str, bool)> {
        vec![("feedback", true)]
    }

    async fn deliver(&self, event: &Claimed) -> Result<(), tonic::Status> {
        tokio::time::sleep(self.delay).await;
        self.got.lock().unwrap().push(event.id.clone());
        Ok(())
    }
}

/// A pass that takes several leases keeps its claims (heartbeat), so a second relay does not
/// deliver the same event meanwhile; the lease itself stays short for the crash case.
#[tokio::test]
async fn a_long_pass_renews_its_claims_so_another_relay_does_not_take_them() {
    use std::time::Duration;
    for (_, pool, _dir) in crate::db::tests::both().await {
        add(&pool, "slow-1", "feedback", "cmp_1", 1).await;
        let settings = RelaySettings {
            lease: Duration::from_millis(1500),
            ..RelaySettings::default()
        };
        let slow = std::sync::Arc::new(Relay::new(
            Outbox::new(pool.clone()),
            Slow {
                delay: Duration::from_secs(5),
                got: Mutex::default(),
            },
            settings,
            &Metrics::new(),
        ));
        let first = {
            let slow = slow.clone();
            tokio::spawn(async move { slow.run_once().await })
        };
        // Wait until the slow relay holds the event.
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        loop {
            let owner: String =
                sqlx::query_scalar("SELECT lease_owner FROM outbox_events WHERE id = 'slow-1'")
                    .fetch_one(&pool)
                    .await
                    .unwrap();
            if !owner.is_empty() {
                break;
            }
            assert!(std::time::Instant::now() < deadline, "never claimed");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        // Another relay keeps trying while the first one's delivery runs for 5 s (more than
        // three leases): it never gets the event.
        let other = Relay::new(
            Outbox::new(pool.clone()),
            Receiver::default(),
            settings,
            &Metrics::new(),
        );
        while !first.is_finished() {
            other.run_once().await.unwrap();
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert_eq!(first.await.unwrap().unwrap().delivered, 1);
        assert!(
            other.deliver.got.lock().unwrap().is_empty(),
            "the event was taken over while its relay was still delivering it"
        );
        assert_eq!(*slow.deliver.got.lock().unwrap(), ["slow-1"]);
    }
}

#[test]
fn the_default_lease_is_a_few_seconds() {
    assert!(RelaySettings::default().lease <= std::time::Duration::from_secs(5));
}
