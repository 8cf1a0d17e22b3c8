//! The feedback service: callbacks after a service (an unhappy one reopens the complaint),
//! surveys, the quality numbers and grades management steers by, and churn-risk signals.
//!
//! `api/` is the gRPC surface, `app/` the use cases, `domain/` the rules (callbacks, scores,
//! grades, staff of the month, churn), `store/` its SQL, `events/` the outbox relay to the
//! complaints and customers services, `sweep` the background work (overdue callbacks and
//! findings, the churn detector), `clients` the calls to the customers service (see
//! docs/service-anatomy.md).
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
use csops_proto::feedback::v1::feedback_service_server::FeedbackServiceServer;
use csops_runtime::outbox::{Outbox, Relay, RelaySettings};
pub use csops_runtime::StartError;
use csops_runtime::{ServeError, Server, ServiceSpec, Settings};
use tokio_util::sync::CancellationToken;
use tonic::codec::CompressionEncoding;
use tonic::service::Routes;

use crate::app::Feedback;
pub use config::Config;

/// The feedback service's identity, default ports and database variable.
pub const SPEC: ServiceSpec = ServiceSpec {
    name: "feedback",
    binary: "csops-feedback",
    about: "csops feedback service: callbacks after a service, surveys (CSAT, NPS, CES, SERVQUAL), quality scores and grades, and churn-risk signals, over gRPC.",
    grpc_service: "csops.feedback.v1.FeedbackService",
    default_port: 50054,
    default_metrics_port: 9094,
    roles: api::roles::ROLES,
};

/// Embedded migrations of the feedback database.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// A feedback service bound to its port, ready to run.
#[derive(Debug)]
pub struct App {
    server: Server,
    routes: Routes,
    core: Arc<Feedback>,
    relay: Relay<events::Receivers>,
    gauges: sweep::Gauges,
    sweep_interval: std::time::Duration,
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
            events::Receivers::new(
                &config.complaints_url,
                &config.customers_url,
                store::Deliveries::new(pool.clone()),
                &metrics,
                &settings.credentials,
            ),
            RelaySettings {
                interval: config.outbox_interval,
                ..RelaySettings::default()
            },
            &metrics,
        );
        let gauges = sweep::Gauges::register(&metrics);
        let core = Arc::new(Feedback {
            store: store::Store::new(pool.clone(), relay.waker()),
            rules,
            customers: clients::Customers::new(
                &config.customers_url,
                &metrics,
                &settings.credentials,
            ),
            stop: stop.clone(),
        });
        let server = Server::bind(SPEC, settings, pool, metrics).await?;
        Ok(Self {
            server,
            // gzip-compressed requests are accepted; responses are compressed for a caller
            // that asks.
            routes: Routes::new(
                FeedbackServiceServer::new(api::FeedbackApi::new(
                    core.clone(),
                    settings.page_tokens.clone(),
                ))
                .accept_compressed(CompressionEncoding::Gzip)
                .send_compressed(CompressionEncoding::Gzip)
                .max_decoding_message_size(settings.max_message_size),
            ),
            core,
            relay,
            gauges,
            sweep_interval: config.sweep_interval,
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
    pub fn core(&self) -> Arc<Feedback> {
        self.core.clone()
    }

    /// Serves and runs the background work (the sweep, the outbox relay) until `stop`
    /// completes; then they stop and the server drains gracefully.
    pub async fn run_until_stopped(
        self,
        stop: impl std::future::Future<Output = ()> + Send,
    ) -> Result<(), ServeError> {
        let relay = tokio::spawn(self.relay.run(self.stop.clone()));
        let sweep = tokio::spawn(sweep::run(
            self.core.clone(),
            self.gauges,
            self.sweep_interval,
            self.stop.clone(),
        ));
        let token = self.stop;
        let result = self
            .server
            .serve(self.routes, async move {
                stop.await;
                token.cancel();
            })
            .await;
        let _ = relay.await;
        let _ = sweep.await;
        result
    }
}
