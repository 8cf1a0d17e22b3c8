//! The visits service: keep in touch with each customer in person on the tier's rhythm, care
//! on the dates that matter to them, and keep field appointments with their SLA and the
//! customer's consent.
//!
//! `api/` is the gRPC surface, `app/` the use cases, `domain/` the rules (plans, visits, care,
//! bookings, field jobs), `store/` its SQL, `events/` the outbox relay to feedback, `sweep`
//! the background work (missed visits, the planning horizon, care tasks, field-job clocks),
//! `clients` the customers service (see docs/service-anatomy.md).
#![forbid(unsafe_code)]

pub mod api;
pub mod app;
pub mod clients;
pub mod config;
pub mod domain;
pub mod events;
pub mod store;
pub mod sweep;

use std::net::SocketAddr;
use std::sync::Arc;

use csops_observability::Metrics;
use csops_proto::visits::v1::visits_service_server::VisitsServiceServer;
use csops_runtime::outbox::{Outbox, Relay, RelaySettings};
pub use csops_runtime::StartError;
use csops_runtime::{ServeError, Server, ServiceSpec, Settings};
use tokio_util::sync::CancellationToken;
use tonic::codec::CompressionEncoding;
use tonic::service::Routes;

use crate::app::Visits;
pub use config::Config;

/// The visits service's identity, default ports and database variable.
pub const SPEC: ServiceSpec = ServiceSpec {
    name: "visits",
    binary: "csops-visits",
    about: "csops visits service: visit plans on the tier's rhythm, care on important dates, and field jobs with their SLA and the customer's consent, over gRPC.",
    grpc_service: "csops.visits.v1.VisitsService",
    default_port: 50053,
    default_metrics_port: 9093,
    roles: api::roles::ROLES,
};

/// Embedded migrations of the visits database.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// A visits service bound to its port, ready to run.
#[derive(Debug)]
pub struct App {
    server: Server,
    routes: Routes,
    core: Arc<Visits>,
    config: Config,
    gauges: sweep::Gauges,
    relay: Relay<events::Receivers>,
    stop: CancellationToken,
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
            events::Receivers::new(&config.feedback_url, &metrics, &settings.credentials),
            RelaySettings {
                interval: config.outbox_interval,
                ..RelaySettings::default()
            },
            &metrics,
        );
        let core = Arc::new(Visits {
            store: store::Store::new(pool.clone(), relay.waker()),
            rules,
            customers: clients::CustomersClient::new(
                &config.customers_url,
                config.customers_timeout,
                &metrics,
                &settings.credentials,
            ),
            stop: stop.clone(),
        });
        let gauges = sweep::Gauges::register(&metrics);
        let server = Server::bind(SPEC, settings, pool, metrics.clone()).await?;
        Ok(Self {
            server,
            // gzip-compressed requests are accepted; responses are compressed for a caller
            // that asks.
            routes: Routes::new(
                VisitsServiceServer::new(api::VisitsApi::new(
                    core.clone(),
                    settings.page_tokens.clone(),
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
    pub fn core(&self) -> Arc<Visits> {
        self.core.clone()
    }

    /// Serves and runs the background work (the sweep, the outbox relay) until `stop`
    /// completes; then they stop and the server drains gracefully.
    pub async fn run_until_stopped(
        self,
        stop: impl std::future::Future<Output = ()> + Send,
    ) -> Result<(), ServeError> {
        let sweep = tokio::spawn(sweep::run(
            self.core.clone(),
            self.gauges.clone(),
            self.config.sweep_interval,
            self.stop.clone(),
        ));
        let relay = tokio::spawn(self.relay.run(self.stop.clone()));
        let token = self.stop;
        let result = self
            .server
            .serve(self.routes, async move {
                stop.await;
                token.cancel();
            })
            .await;
        let _ = sweep.await;
        let _ = relay.await;
        result
    }
}
