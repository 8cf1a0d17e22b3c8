//! The complaints service: the complaint process of the handbooks, with SLA clocks that are kept.
//!
//! `api/` is the gRPC surface, `app/` the use cases, `domain/` the rules of the process,
//! `store/` its SQL, `events/` the outbox relay, `watcher` the breach watcher and
//! re-evaluation, `clients` the customers lookup (see docs/service-anatomy.md).
#![forbid(unsafe_code)]

pub mod api;
pub mod app;
pub mod clients;
pub mod config;
pub mod domain;
pub mod events;
pub mod store;
pub mod watcher;

use std::net::SocketAddr;
use std::sync::Arc;

use csops_observability::Metrics;
use csops_proto::complaints::v1::complaints_service_server::ComplaintsServiceServer;
use csops_runtime::outbox::{Outbox, Relay, RelaySettings};
pub use csops_runtime::StartError;
use csops_runtime::{ServeError, Server, ServiceSpec, Settings};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use tonic::codec::CompressionEncoding;
use tonic::service::Routes;

use crate::app::Complaints;
pub use config::Config;

/// The complaints service's identity, default ports and database variable.
pub const SPEC: ServiceSpec = ServiceSpec {
    name: "complaints",
    binary: "csops-complaints",
    about: "csops complaints service: the complaint process with SLA clocks, escalation, promises, compensation and reply checks over gRPC.",
    grpc_service: "csops.complaints.v1.ComplaintsService",
    default_port: 50052,
    default_metrics_port: 9092,
    roles: api::roles::ROLES,
};

/// Embedded migrations of the complaints database.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// A complaints service bound to its port, ready to run.
#[derive(Debug)]
pub struct App {
    server: Server,
    routes: Routes,
    core: Arc<Complaints>,
    config: Config,
    gauges: watcher::SlaGauges,
    relay: Relay<events::Receivers>,
    stop: CancellationToken,
    /// On PostgreSQL, the database whose announcements of checks due soon wake the watcher.
    checks_database: Option<csops_runtime::config::DatabaseSettings>,
}

impl App {
    /// Reads the rules, opens and migrates the database and binds the listeners.
    pub async fn build(
        settings: &Settings,
        config: Config,
        metrics: Metrics,
    ) -> Result<Self, StartError> {
        let rules = config.rules().map_err(StartError::Config)?;
        let pool = csops_runtime::db::connect(&settings.database).await?;
        csops_runtime::db::migrate(&pool, &MIGRATOR).await?;
        let stop = CancellationToken::new();
        let relay = Relay::new(
            Outbox::new(pool.clone()),
            events::Receivers::new(
                &config.feedback_url,
                &config.visits_url,
                &metrics,
                &settings.credentials,
            ),
            RelaySettings {
                interval: config.outbox_interval,
                ..RelaySettings::default()
            },
            &metrics,
        );
        let core = Arc::new(Complaints {
            store: store::Store::new(pool.clone(), relay.waker())
                .announcing_checks_within(config.sla_watch_interval),
            rules,
            customers: clients::CustomersClient::new(
                &config.customers_url,
                config.customers_timeout,
                config.customers_cache_ttl,
                &metrics,
                &settings.credentials,
                stop.clone(),
            ),
            sla_recorded: Notify::new(),
            stop: stop.clone(),
            instance: domain::new_id("replica"),
        });
        if config.customers_url.trim().is_empty() {
            tracing::warn!(
                "no customers URL: every complaint uses the most demanding SLA defaults"
            );
        }
        let gauges = watcher::SlaGauges::register(&metrics);
        watcher::check_calendars(&metrics, &core.rules.policy);
        let server = Server::bind(SPEC, settings, pool, metrics.clone()).await?;
        Ok(Self {
            checks_database: settings
                .database
                .is_postgres()
                .then(|| settings.database.clone()),
            server,
            // gzip-compressed requests are accepted; responses are compressed for a caller
            // that asks.
            routes: Routes::new(
                ComplaintsServiceServer::new(api::ComplaintsApi::new(
                    core.clone(),
                    settings.page_tokens.clone(),
                    usize::try_from(config.max_sla_streams).unwrap_or(usize::MAX),
                ))
                .accept_compressed(CompressionEncoding::Gzip)
                .send_compressed(CompressionEncoding::Gzip)
                .max_decoding_message_size(settings.max_message_size),
            ),
            core,
            config,
            gauges,
            relay,
            stop,
        })
    }

    /// Returns the address the gRPC server listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.server.local_addr()
    }

    /// Returns the metrics endpoint address, when on.
    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.server.metrics_addr()
    }

    /// Returns the plaintext health listener's address, when on (`--health-addr`).
    pub fn health_addr(&self) -> Option<SocketAddr> {
        self.server.health_addr()
    }

    /// Returns the shared core (store and rules), for tests and tools.
    pub fn core(&self) -> Arc<Complaints> {
        self.core.clone()
    }

    /// Serves and runs the background tasks (breach watcher, re-evaluation, outbox relay)
    /// until `stop` completes; then they stop and the server drains gracefully.
    pub async fn run_until_stopped(
        self,
        stop: impl std::future::Future<Output = ()> + Send,
    ) -> Result<(), ServeError> {
        let watcher = tokio::spawn(watcher::run(
            self.core.clone(),
            self.gauges.clone(),
            self.config.sla_watch_interval,
            self.config.sla_watch_batch,
            self.stop.clone(),
        ));
        let reevaluation = tokio::spawn(watcher::run_reevaluation(
            self.core.clone(),
            self.config.reevaluate_interval,
            self.stop.clone(),
        ));
        let relay = tokio::spawn(self.relay.run(self.stop.clone()));
        // Checks scheduled soon by other replicas wake this one's watcher (PostgreSQL only).
        let listener = self.checks_database.map(|database| {
            tokio::spawn(csops_runtime::wake::listen(
                database,
                store::CHECKS_CHANNEL,
                self.core.store.checks().clone(),
                self.stop.clone(),
            ))
        });
        let token = self.stop;
        let result = self
            .server
            .serve(self.routes, async move {
                stop.await;
                token.cancel();
            })
            .await;
        let _ = watcher.await;
        let _ = reevaluation.await;
        let _ = relay.await;
        if let Some(listener) = listener {
            let _ = listener.await;
        }
        result
    }
}
