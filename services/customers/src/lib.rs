//! The customers service: the customer service file (客户服务档案) behind a gRPC API.
//!
//! `api/` is the gRPC surface, `app` the use cases, `domain/` the rules of the file, `store/`
//! its SQL (see docs/service-anatomy.md).
#![forbid(unsafe_code)]

pub mod api;
pub mod app;
pub mod config;
pub mod domain;
pub mod store;

pub use config::Config;
use csops_observability::Metrics;
use csops_proto::customers::v1::customers_service_server::CustomersServiceServer;
pub use csops_runtime::StartError;
use csops_runtime::{ServeError, Server, ServiceSpec, Settings};
use std::net::SocketAddr;
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
};

/// Embedded migrations of the customers database.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// A customers service bound to its port, ready to run.
#[derive(Debug)]
pub struct App {
    server: Server,
    routes: Routes,
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
        let pool = csops_runtime::db::connect(&settings.database).await?;
        csops_runtime::db::migrate(&pool, &MIGRATOR).await?;
        let app = app::Customers::with_churn_policy(store::Store::new(pool.clone()), churn);
        let api = api::CustomersApi::new(app, settings.page_tokens.clone());
        let server = Server::bind(SPEC, settings, pool, metrics).await?;
        Ok(Self {
            server,
            // gzip-compressed requests are accepted (collectors and some clients send them);
            // responses are compressed only for a caller that asks.
            routes: Routes::new(
                CustomersServiceServer::new(api)
                    .accept_compressed(CompressionEncoding::Gzip)
                    .send_compressed(CompressionEncoding::Gzip),
            ),
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

    /// Serves until `stop` completes, then drains gracefully.
    pub async fn run_until_stopped(
        self,
        stop: impl std::future::Future<Output = ()> + Send,
    ) -> Result<(), ServeError> {
        self.server.serve(self.routes, stop).await
    }
}
