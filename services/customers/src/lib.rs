//! The customers service: the customer service file (客户服务档案) behind a gRPC API.
//!
//! `api/` is the gRPC surface, `app` the use cases, `domain/` the rules of the file, `store/`
//! its SQL, `events/` the delivery of customer changes to visits through the outbox (see
//! docs/service-anatomy.md).
#![forbid(unsafe_code)]

pub mod api;
pub mod app;
pub mod config;
pub mod domain;
pub mod events;
pub mod store;

pub use config::Config;
use csops_observability::Metrics;
use csops_proto::customers::v1::customers_service_server::CustomersServiceServer;
use csops_runtime::outbox::{Outbox, Relay};
pub use csops_runtime::StartError;
use csops_runtime::{ServeError, Server, ServiceSpec, Settings};
use std::net::SocketAddr;
use tokio_util::sync::CancellationToken;
use tonic::codec::CompressionEncoding;
use tonic::service::Routes;

/// The customers service's identity, default ports and database variable.
pub const SPEC: ServiceSpec = ServiceSpec {
    name: "customers",
    binary: "csops-customers",
    about: "csops customers service: the customer service file (tiers, contacts, important dates, consents) over gRPC.",
    grpc_service: "csops.customers.v1.CustomersService",
    default_port: 50051,
    default_metrics_port: 9091,
    roles: api::roles::ROLES,
};

/// Embedded migrations of the customers database.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// A customers service bound to its port, ready to run.
#[derive(Debug)]
pub struct App {
    server: Server,
    routes: Routes,
    relay: Relay<events::Receivers>,
    stop: CancellationToken,
}

impl App {
    /// Opens and migrates the database and binds the listeners, with the default
    /// customers-only settings.
    pub async fn build(settings: &Settings, metrics: Metrics) -> Result<Self, StartError> {
        Self::build_with(settings, &Config::default(), metrics).await
    }

    /// Opens and migrates the database and binds the listeners.
    pub async fn build_with(
        settings: &Settings,
        config: &Config,
        metrics: Metrics,
    ) -> Result<Self, StartError> {
        let churn = config.churn_policy().map_err(StartError::Config)?;
        let relay_settings = config.relay_settings().map_err(StartError::Config)?;
        let pool = csops_runtime::db::connect(&settings.database).await?;
        csops_runtime::db::migrate(&pool, &MIGRATOR).await?;
        let relay = Relay::new(
            Outbox::new(pool.clone()),
            events::Receivers::new(&config.visits_url, &metrics, &settings.credentials),
            relay_settings,
            &metrics,
        );
        if config.visits_url.trim().is_empty() {
            tracing::info!("no visits URL: customer changes wait in the outbox until one is set");
        }
        let store = store::Store::new(pool.clone(), relay.waker());
        let app = app::Customers::with_churn_policy(store, churn);
        let api = api::CustomersApi::new(app, settings.page_tokens.clone());
        let server = Server::bind(SPEC, settings, pool, metrics).await?;
        Ok(Self {
            server,
            // gzip-compressed requests are accepted (collectors and some clients send them);
            // responses are compressed only for a caller that asks.
            routes: Routes::new(
                CustomersServiceServer::new(api)
                    .accept_compressed(CompressionEncoding::Gzip)
                    .send_compressed(CompressionEncoding::Gzip)
                    .max_decoding_message_size(settings.max_message_size),
            ),
            relay,
            stop: CancellationToken::new(),
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

    /// Serves and relays the outbox until `stop` completes; then the relay stops and the
    /// server drains gracefully.
    pub async fn run_until_stopped(
        self,
        stop: impl std::future::Future<Output = ()> + Send,
    ) -> Result<(), ServeError> {
        let relay = tokio::spawn(self.relay.run(self.stop.clone()));
        let token = self.stop;
        let result = self
            .server
            .serve(self.routes, async move {
                stop.await;
                token.cancel();
            })
            .await;
        let _ = relay.await;
        result
    }
}
