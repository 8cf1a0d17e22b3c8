//! What the visits service is told, as the outbox holds it: each API change a customer's visit
//! plan depends on leaves exactly one undelivered `customer.changed` event for "visits" in the
//! change's transaction, and other changes leave none. Read through the kit's `Outbox` on the
//! service's own database, on SQLite and on a real PostgreSQL. Delivery to a real visits
//! service is tested end to end with it.
#![allow(clippy::unwrap_used, unreachable_pub)]

use std::time::Duration;

use csops_customers::{App, Config};
use csops_observability::Metrics;
use csops_proto::customers::v1 as pb;
use csops_proto::customers::v1::customers_service_client::CustomersServiceClient;
use csops_runtime::outbox::{Claimed, Outbox, Pending};
use csops_runtime::time::now_micros;
use csops_runtime::Settings;
use csops_testkit::Backend;
use prost_types::FieldMask;
use serde_json::{json, Value};
use tokio::sync::oneshot;
use tonic::transport::Channel;
use tonic::Code;

struct TestApp {
    client: CustomersServiceClient<Channel>,
    outbox: Outbox,
    metrics: Metrics,
    stop: Option<oneshot::Sender<()>>,
    _dir: tempfile::TempDir,
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// The service without a visits URL (visits not deployed): its events wait in the outbox.
async fn spawn_app(backend: Backend) -> TestApp {
    spawn_app_with(backend, Config::default()).await
}

async fn spawn_app_with(backend: Backend, config: Config) -> TestApp {
    let dir = tempfile::tempdir().unwrap();
    let url = backend.database_url(dir.path(), "customers").await;
    let settings = Settings::for_tests(&url);
    let metrics = Metrics::new();
    let app = App::build_with(&settings, &config, metrics.clone())
        .await
        .unwrap();
    let addr = app.local_addr();
    let (stop, stopped) = oneshot::channel::<()>();
    tokio::spawn(app.run_until_stopped(async move {
        let _ = stopped.await;
    }));
    let client = CustomersServiceClient::connect(format!("http://{addr}"))
        .await
        .unwrap();
    let pool = csops_runtime::db::connect(&settings.database)
        .await
        .unwrap();
    TestApp {
        client,
        outbox: Outbox::new(pool),
        metrics,
        stop: Some(stop),
        _dir: dir,
    }
}

impl TestApp {
    /// The undelivered events for visits due by `at`, oldest first, with their payloads. Read
    /// with a claim whose lease has already run out, so the relay may claim them as before.
    async fn visits_events_due_by(&self, at: i64) -> Vec<(Claimed, Value)> {
        self.outbox
            .claim(&["visits"], "test-reader", at, 0, 1000)
            .await
            .unwrap()
            .into_iter()
            .map(|event| {
                let payload = serde_json::from_str(&event.payload).unwrap();
                (event, payload)
            })
            .collect()
    }

    async fn visits_events(&self) -> Vec<(Claimed, Value)> {
        self.visits_events_due_by(now_micros()).await
    }

    /// The `change` of every undelivered event for visits, oldest first.
    async fn changes(&self) -> Vec<String> {
        self.visits_events()
            .await
            .iter()
            .map(|(_, payload)| payload["change"].as_str().unwrap().to_owned())
            .collect()
    }

    async fn create(&mut self, customer: pb::Customer, request_id: &str) -> pb::Customer {
        self.client
            .create_customer(pb::CreateCustomerRequest {
                customer: Some(customer),
                request_id: request_id.into(),
                actor_id: "agent-1".into(),
            })
            .await
            .unwrap()
            .into_inner()
            .customer
            .unwrap()
    }

    async fn update(
        &mut self,
        customer: pb::Customer,
        paths: &[&str],
    ) -> Result<pb::Customer, tonic::Status> {
        self.client
            .update_customer(pb::UpdateCustomerRequest {
                customer: Some(customer),
                update_mask: Some(FieldMask {
                    paths: paths.iter().map(|p| (*p).to_owned()).collect(),
                }),
            })
            .await
            .map(|r| r.into_inner().customer.unwrap())
    }
}

fn customer() -> pb::Customer {
    pb::Customer {
        display_name: "Wang Fang".into(),
        tier: pb::CustomerTier::B as i32,
        key_account: true,
        region: pb::Region::Rural as i32,
        owner_agent_id: "agent-1".into(),
        important_dates: vec![
            pb::ImportantDate {
                kind: pb::ImportantDateKind::Birthday as i32,
                relation: pb::Relation::Self_ as i32,
                person_name: String::new(),
                month: 3,
                day: 8,
                year: 1980,
                note: String::new(),
            },
            pb::ImportantDate {
                kind: pb::ImportantDateKind::Birthday as i32,
                relation: pb::Relation::Child as i32,
                person_name: "Xiao Ming".into(),
                month: 2,
                day: 29,
                year: 2016,
                note: "likes kites".into(),
            },
        ],
        consents: vec![
            pb::ChannelConsent {
                channel: pb::ContactChannel::Sms as i32,
                granted: true,
                update_time: None,
            },
            pb::ChannelConsent {
                channel: pb::ContactChannel::Email as i32,
                granted: false,
                update_time: None,
            },
        ],
        notes: "first notes".into(),
        ..Default::default()
    }
}

fn micros(t: Option<prost_types::Timestamp>) -> i64 {
    let t = t.unwrap();
    t.seconds * 1_000_000 + i64::from(t.nanos) / 1000
}

async fn creating_a_customer_leaves_one_created_event_for_visits_with_its_snapshot(
    backend: Backend,
) {
    let mut app = spawn_app(backend).await;
    let created = app.create(customer(), "create-1").await;

    let pending = app.outbox.pending().await.unwrap();
    assert_eq!(
        pending
            .iter()
            .map(|p| (p.destination.as_str(), p.events))
            .collect::<Vec<_>>(),
        [("visits", 1)]
    );
    let Pending {
        oldest_create_time, ..
    } = &pending[0];
    assert_eq!(*oldest_create_time, micros(created.update_time));

    let events = app.visits_events().await;
    assert_eq!(events.len(), 1);
    let (event, payload) = &events[0];
    assert!(event.id.starts_with("cev_"), "{}", event.id);
    assert_eq!(event.kind, "customer.changed");
    assert_eq!(event.aggregate_id, created.id);
    assert_eq!(event.attempts, 0);
    assert_eq!(
        *payload,
        json!({
            "change": "created",
            "customer": {
                "customer_id": created.id,
                "tier": "B",
                "key_account": true,
                "region": "Rural",
                "owner_agent_id": "agent-1",
                "important_dates": [
                    {"kind": "Birthday", "relation": "SelfPerson", "person_name": "",
                     "month": 3, "day": 8, "note": ""},
                    {"kind": "Birthday", "relation": "Child", "person_name": "Xiao Ming",
                     "month": 2, "day": 29, "note": "likes kites"}
                ],
                "consented_channels": ["Sms"],
                "archived": false,
                "update_time": micros(created.update_time)
            }
        })
    );
}

async fn a_retried_create_with_the_same_request_id_writes_no_second_event(backend: Backend) {
    let mut app = spawn_app(backend).await;
    let first = app.create(customer(), "retry-me").await;
    let again = app.create(customer(), "retry-me").await;
    assert_eq!(again.id, first.id);
    assert_eq!(app.changes().await, ["created"]);
}

async fn a_tier_change_leaves_an_updated_event_and_a_refused_one_none(backend: Backend) {
    let mut app = spawn_app(backend).await;
    let created = app.create(customer(), "create-1").await;
    let changed = app
        .client
        .change_customer_tier(pb::ChangeCustomerTierRequest {
            customer_id: created.id.clone(),
            tier: pb::CustomerTier::A as i32,
            reason: "signed a 3-year contract".into(),
            changed_by: "sup-1".into(),
            etag: created.etag.clone(),
        })
        .await
        .unwrap()
        .into_inner()
        .customer
        .unwrap();
    // A stale etag: refused, nothing published.
    let status = app
        .client
        .change_customer_tier(pb::ChangeCustomerTierRequest {
            customer_id: created.id.clone(),
            tier: pb::CustomerTier::C as i32,
            reason: "downgrade".into(),
            changed_by: "sup-1".into(),
            etag: created.etag.clone(),
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::Aborted, "{status:?}");

    let events = app.visits_events().await;
    assert_eq!(events.len(), 2);
    let (event, payload) = &events[1];
    assert_eq!(event.aggregate_id, created.id);
    assert_ne!(event.id, events[0].0.id);
    assert_eq!(payload["change"], "updated");
    assert_eq!(payload["customer"]["tier"], "A");
    assert_eq!(
        payload["customer"]["update_time"],
        micros(changed.update_time)
    );
    // The rest of the snapshot is the file as it is.
    assert_eq!(payload["customer"]["key_account"], true);
    assert_eq!(payload["customer"]["region"], "Rural");
    assert_eq!(payload["customer"]["consented_channels"], json!(["Sms"]));
    assert_eq!(
        payload["customer"]["important_dates"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
}

async fn an_update_of_only_notes_or_the_name_leaves_no_event_but_a_consent_change_does(
    backend: Backend,
) {
    let mut app = spawn_app(backend).await;
    let created = app.create(customer(), "create-1").await;

    let mut change = created.clone();
    change.notes = "prefers calls after 18:00".into();
    change.display_name = "Wang Fang (Mrs)".into();
    let updated = app
        .update(change, &["notes", "display_name"])
        .await
        .unwrap();
    assert_eq!(updated.notes, "prefers calls after 18:00");
    assert_eq!(app.changes().await, ["created"]);

    // The same consents again (a refusal repeated, order changed) change nothing for visits.
    let mut same = updated.clone();
    same.consents.reverse();
    let updated = app.update(same, &["consents"]).await.unwrap();
    assert_eq!(app.changes().await, ["created"]);

    let mut granted = updated.clone();
    granted.consents[0].granted = true;
    granted.consents[1].granted = true;
    app.update(granted, &["consents"]).await.unwrap();
    let events = app.visits_events().await;
    assert_eq!(events.len(), 2);
    assert_eq!(events[1].1["change"], "updated");
    assert_eq!(
        events[1].1["customer"]["consented_channels"],
        json!(["Sms", "Email"])
    );
}

async fn archiving_and_restoring_leave_archived_then_restored_events_in_order(backend: Backend) {
    let mut app = spawn_app(backend).await;
    let created = app.create(customer(), "create-1").await;
    let archived = app
        .client
        .delete_customer(pb::DeleteCustomerRequest {
            customer_id: created.id.clone(),
            etag: created.etag.clone(),
        })
        .await
        .unwrap()
        .into_inner()
        .customer
        .unwrap();
    let restored = app
        .client
        .undelete_customer(pb::UndeleteCustomerRequest {
            customer_id: created.id.clone(),
            etag: archived.etag.clone(),
        })
        .await
        .unwrap()
        .into_inner()
        .customer
        .unwrap();

    let events = app.visits_events().await;
    let seen: Vec<(&str, bool, i64)> = events
        .iter()
        .map(|(_, p)| {
            (
                p["change"].as_str().unwrap(),
                p["customer"]["archived"].as_bool().unwrap(),
                p["customer"]["update_time"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        seen,
        [
            ("created", false, micros(created.update_time)),
            ("archived", true, micros(archived.update_time)),
            ("restored", false, micros(restored.update_time)),
        ]
    );
    assert!(events.iter().all(|(e, _)| e.aggregate_id == created.id));
    assert_eq!(app.outbox.pending().await.unwrap()[0].events, 3);
}

async fn a_churn_signal_leaves_no_event(backend: Backend) {
    let mut app = spawn_app(backend).await;
    let created = app.create(customer(), "create-1").await;
    let now = chrono::Utc::now();
    app.client
        .record_churn_signal(pb::RecordChurnSignalRequest {
            customer_id: created.id.clone(),
            signal: Some(pb::ChurnSignal {
                signal_id: "sig-1".into(),
                kind: pb::ChurnSignalKind::Silence as i32,
                level: pb::ChurnRiskLevel::High as i32,
                evidence: String::new(),
                source: "feedback".into(),
                observe_time: Some(prost_types::Timestamp {
                    seconds: now.timestamp(),
                    nanos: 0,
                }),
            }),
        })
        .await
        .unwrap();
    assert_eq!(app.changes().await, ["created"]);
}

/// With a visits URL nobody answers at, the relay tries to deliver, the event stays in the
/// outbox with the failed attempt counted, and the gauges say it waits for a configured
/// receiver.
async fn with_visits_unreachable_the_event_stays_in_the_outbox_and_is_retried(backend: Backend) {
    let mut app = spawn_app_with(
        backend,
        Config {
            visits_url: "http://127.0.0.1:1".into(),
            outbox_interval: Duration::from_millis(100),
            ..Config::default()
        },
    )
    .await;
    let created = app.create(customer(), "create-1").await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let text = app.metrics.encode();
        let tried = text.lines().any(|l| {
            l.starts_with("grpc_client_requests_total{")
                && l.contains(r#"method="ApplyCustomerChange""#)
        });
        let waiting =
            text.contains(r#"csops_outbox_pending{destination="visits",configured="true"} 1"#);
        if tried && waiting {
            // Due again within the backoff (at most a minute): still there, its failure counted.
            let events = app.visits_events_due_by(now_micros() + 3_600_000_000).await;
            assert_eq!(events.len(), 1);
            assert_eq!(events[0].0.aggregate_id, created.id);
            if events[0].0.attempts >= 1 {
                break;
            }
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no failed delivery seen:\n{text}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

csops_testkit::on_both_backends!(
    creating_a_customer_leaves_one_created_event_for_visits_with_its_snapshot,
    a_retried_create_with_the_same_request_id_writes_no_second_event,
    a_tier_change_leaves_an_updated_event_and_a_refused_one_none,
    an_update_of_only_notes_or_the_name_leaves_no_event_but_a_consent_change_does,
    archiving_and_restoring_leave_archived_then_restored_events_in_order,
    a_churn_signal_leaves_no_event,
    with_visits_unreachable_the_event_stays_in_the_outbox_and_is_retried,
);
