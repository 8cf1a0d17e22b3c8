//! Backlog benchmarks: how fast a replica works off what piled up while a neighbour was away.
//!
//! - `relay`: N outbox events (over M resources) already in the `outbox_events` table are
//!   delivered by the kit's relay to a receiver that answers in `delay`; the baseline is the
//!   same receiver called directly with the same calls at the relay's concurrency, in the
//!   same run.
//! - `reevaluate`: N complaints accepted with defaulted customer facts (customers was down)
//!   are re-evaluated by the complaints service once customers is back; the baseline is the
//!   rate at which the same service, database and customers create complaints at the same
//!   concurrency, in the same run (a re-evaluation is a lookup and a save, like a create).

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use csops_observability::Metrics;
use csops_runtime::outbox::{self, Claimed, Deliver, NewEvent, Outbox, Relay, RelaySettings};
use csops_runtime::{DatabaseSettings, Settings};
use serde_json::json;
use tokio::task::JoinSet;
use tonic::transport::Channel;
use tonic::{Request, Response, Status};

use crate::echo::pb::echo_service_client::EchoServiceClient;
use crate::echo::pb::echo_service_server::{EchoService, EchoServiceServer};
use crate::echo::pb::{EchoRequest, EchoResponse};

/// An echo that takes `delay` to answer: the stand-in receiver.
#[derive(Debug, Clone, Copy)]
struct SlowEcho(Duration);

#[tonic::async_trait]
impl EchoService for SlowEcho {
    async fn echo(&self, request: Request<EchoRequest>) -> Result<Response<EchoResponse>, Status> {
        tokio::time::sleep(self.0).await;
        Ok(Response::new(EchoResponse {
            payload: request.into_inner().payload,
        }))
    }
}

async fn start_receiver(
    delay: Duration,
) -> anyhow::Result<(Channel, tokio::sync::oneshot::Sender<()>)> {
    let (listener, addr) = crate::echo::bind(([127, 0, 0, 1], 0).into()).await?;
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(
        tonic::transport::Server::builder()
            .add_service(EchoServiceServer::new(SlowEcho(delay)))
            .serve_with_incoming_shutdown(
                tonic::transport::server::TcpIncoming::from(listener).with_nodelay(Some(true)),
                async move {
                    let _ = stop_rx.await;
                },
            ),
    );
    let channel = tonic::transport::Endpoint::from_shared(format!("http://{addr}"))?
        .connect()
        .await?;
    Ok((channel, stop_tx))
}

/// Delivers every event as one echo call.
#[derive(Debug, Clone)]
struct ToEcho(EchoServiceClient<Channel>);

impl Deliver for ToEcho {
    fn destinations(&self) -> Vec<(&'static str, bool)> {
        vec![("bench", true)]
    }

    async fn deliver(&self, event: &Claimed) -> Result<(), Status> {
        self.0
            .clone()
            .echo(EchoRequest {
                payload: event.payload.clone().into_bytes(),
                fail_code: 0,
            })
            .await
            .map(|_| ())
    }
}

/// Calls the receiver `calls` times from `concurrency` callers; returns calls per second.
async fn direct_rate(
    client: &EchoServiceClient<Channel>,
    calls: usize,
    concurrency: usize,
    payload: &str,
) -> anyhow::Result<f64> {
    let started = Instant::now();
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let mut callers = JoinSet::new();
    for _ in 0..concurrency {
        let mut client = client.clone();
        let next = next.clone();
        let payload = payload.as_bytes().to_vec();
        callers.spawn(async move {
            while next.fetch_add(1, std::sync::atomic::Ordering::Relaxed) < calls {
                client
                    .echo(EchoRequest {
                        payload: payload.clone(),
                        fail_code: 0,
                    })
                    .await?;
            }
            Ok::<_, Status>(())
        });
    }
    while let Some(done) = callers.join_next().await {
        done??;
    }
    Ok(calls as f64 / started.elapsed().as_secs_f64())
}

static NO_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate::Migrator::DEFAULT;

/// The relay benchmark; returns its JSON report.
pub async fn relay(
    database_url: &str,
    events: usize,
    resources: usize,
    delay: Duration,
) -> anyhow::Result<serde_json::Value> {
    let pool = csops_runtime::db::connect(&DatabaseSettings {
        url: database_url.to_owned().into(),
        max_connections: 10,
    })
    .await?;
    csops_runtime::db::migrate(&pool, &NO_MIGRATIONS).await?;
    sqlx::query("DELETE FROM outbox_events")
        .execute(&pool)
        .await?;
    let payload = json!({"kind": "schedule_callback", "complaint_id": "c-0000000000", "customer_id": "cus-0000000000", "service_end_time": "2026-12-02T09:00:00Z"}).to_string();

    let (channel, stop_receiver) = start_receiver(delay).await?;
    let client = EchoServiceClient::new(channel);
    let settings = RelaySettings::default();
    // Warm the connection, then the baseline: the receiver alone, same calls, same concurrency.
    direct_rate(&client, 200, settings.concurrency, &payload).await?;
    let direct = direct_rate(&client, events, settings.concurrency, &payload).await?;

    // The backlog: written in batches, as many changes' transactions would have.
    let now = csops_runtime::time::now_micros();
    for chunk in (0..events).collect::<Vec<_>>().chunks(500) {
        let mut tx = pool.begin().await?;
        for n in chunk {
            outbox::write(
                &mut tx,
                &NewEvent {
                    id: format!("e-{n:08}"),
                    destination: "bench",
                    kind: "schedule_callback",
                    aggregate_id: format!("c-{:06}", n % resources),
                    payload: payload.clone(),
                },
                now,
            )
            .await?;
        }
        tx.commit().await?;
    }

    let relay = Relay::new(
        Outbox::new(pool.clone()),
        ToEcho(client),
        settings,
        &Metrics::new(),
    );
    let stop = tokio_util::sync::CancellationToken::new();
    let started = Instant::now();
    let task = tokio::spawn(relay.run(stop.clone()));
    let drained = loop {
        let left: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM outbox_events WHERE delivered_time = 0")
                .fetch_one(&pool)
                .await?;
        if left == 0 {
            break started.elapsed();
        }
        anyhow::ensure!(
            started.elapsed() < Duration::from_secs(600),
            "relay did not drain in 10 minutes ({left} left)"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    stop.cancel();
    let _ = task.await;
    let _ = stop_receiver.send(());
    let relay_rate = events as f64 / drained.as_secs_f64();
    Ok(json!({
        "benchmark": "outbox_relay_drain",
        "events": events,
        "resources": resources,
        "receiver_delay_ms": delay.as_secs_f64() * 1000.0,
        "concurrency": settings.concurrency,
        "batch": settings.batch,
        "relay_events_per_s": relay_rate.round(),
        "receiver_alone_calls_per_s": direct.round(),
        "ratio": (relay_rate / direct * 1000.0).round() / 1000.0,
    }))
}

/// The re-evaluation benchmark; returns its JSON report.
pub async fn reevaluate(
    customers_url: &str,
    complaints_url: &str,
    complaints: usize,
    customers: usize,
    concurrency: usize,
) -> anyhow::Result<serde_json::Value> {
    use csops_proto::customers::v1 as cpb;

    let customers_settings = Settings::for_tests(customers_url);
    let customers_app = csops_customers::App::build(&customers_settings, Metrics::new()).await?;
    let customers_addr = customers_app.local_addr();
    let (customers_stop, customers_stopped) = tokio::sync::oneshot::channel::<()>();
    let customers_task = tokio::spawn(customers_app.run_until_stopped(async move {
        let _ = customers_stopped.await;
    }));
    let mut customers_client =
        csops_proto::customers::v1::customers_service_client::CustomersServiceClient::connect(
            format!("http://{customers_addr}"),
        )
        .await?;
    let mut customer_ids = Vec::new();
    for n in 0..customers {
        let created = customers_client
            .create_customer(cpb::CreateCustomerRequest {
                customer: Some(cpb::Customer {
                    display_name: format!("Backlog Customer {n}"),
                    tier: [
                        cpb::CustomerTier::A,
                        cpb::CustomerTier::B,
                        cpb::CustomerTier::C,
                    ][n % 3] as i32,
                    region: cpb::Region::Rural as i32,
                    ..Default::default()
                }),
                request_id: format!("backlog-customer-{n}"),
                ..Default::default()
            })
            .await?
            .into_inner();
        customer_ids.push(created.customer.context("no customer")?.id);
    }

    // Complaints with customers reachable: the baseline create rate, then the same count
    // while customers is away (a free port: connection refused, breaker open).
    let refused = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?;
    let mut config = csops_complaints::Config::for_tests(&format!("http://{customers_addr}"));
    config.reevaluate_interval = Duration::from_secs(3600);
    config.sla_watch_interval = Duration::from_secs(3600);
    let baseline = {
        let app = csops_complaints::App::build(
            &Settings::for_tests(complaints_url),
            config.clone(),
            Metrics::new(),
        )
        .await?;
        let addr = app.local_addr();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(app.run_until_stopped(async move {
            let _ = stopped.await;
        }));
        let rate = create_complaints(
            &format!("http://{addr}"),
            &customer_ids,
            complaints,
            concurrency,
            "baseline",
        )
        .await?;
        let _ = stop.send(());
        task.await??;
        rate
    };
    config.customers_url = format!("http://{refused}");
    let app = csops_complaints::App::build(
        &Settings::for_tests(complaints_url),
        config.clone(),
        Metrics::new(),
    )
    .await?;
    let addr = app.local_addr();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(app.run_until_stopped(async move {
        let _ = stopped.await;
    }));
    create_complaints(
        &format!("http://{addr}"),
        &customer_ids,
        complaints,
        concurrency,
        "outage",
    )
    .await?;
    let _ = stop.send(());
    task.await??;

    // Customers is back: one replica re-evaluates the backlog.
    config.customers_url = format!("http://{customers_addr}");
    let app =
        csops_complaints::App::build(&Settings::for_tests(complaints_url), config, Metrics::new())
            .await?;
    let core = app.core();
    let started = Instant::now();
    let corrected = csops_complaints::watcher::reevaluate(&core).await?;
    let elapsed = started.elapsed();
    anyhow::ensure!(
        corrected == complaints,
        "re-evaluated {corrected} of {complaints}"
    );
    drop(app);
    let _ = customers_stop.send(());
    customers_task.await??;
    let rate = complaints as f64 / elapsed.as_secs_f64();
    Ok(json!({
        "benchmark": "reevaluation_drain",
        "complaints": complaints,
        "customers": customers,
        "create_concurrency": concurrency,
        "reevaluated_per_s": rate.round(),
        "create_complaint_per_s": baseline.round(),
        "ratio": (rate / baseline * 1000.0).round() / 1000.0,
    }))
}

/// Creates `count` complaints from `concurrency` callers; returns creates per second.
async fn create_complaints(
    url: &str,
    customer_ids: &[String],
    count: usize,
    concurrency: usize,
    tag: &str,
) -> anyhow::Result<f64> {
    use csops_proto::complaints::v1 as pb;
    let client =
        csops_proto::complaints::v1::complaints_service_client::ComplaintsServiceClient::connect(
            url.to_owned(),
        )
        .await?;
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let started = Instant::now();
    let mut callers = JoinSet::new();
    for _ in 0..concurrency {
        let mut client = client.clone();
        let next = next.clone();
        let customer_ids = customer_ids.to_vec();
        let tag = tag.to_owned();
        callers.spawn(async move {
            loop {
                let n = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                if n >= count {
                    return Ok::<_, Status>(());
                }
                client
                    .create_complaint(pb::CreateComplaintRequest {
                        complaint: Some(pb::Complaint {
                            customer_id: customer_ids[n % customer_ids.len()].clone(),
                            title: format!("Router drops every evening ({n})"),
                            description: "The connection drops every evening.".into(),
                            nature: pb::ComplaintNature::ProductQuality as i32,
                            severity: pb::Severity::Medium as i32,
                            channel: pb::Channel::Hotline as i32,
                            ..Default::default()
                        }),
                        request_id: format!("{tag}-{n}"),
                        actor: Some(pb::Actor {
                            id: "bench-agent".into(),
                            role: pb::ActorRole::Agent as i32,
                        }),
                    })
                    .await?;
            }
        });
    }
    while let Some(done) = callers.join_next().await {
        done??;
    }
    Ok(count as f64 / started.elapsed().as_secs_f64())
}
