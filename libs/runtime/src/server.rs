//! The gRPC server every service runs: its API plus health, reflection (v1 and v1alpha),
//! tracing and RED metrics, and a graceful stop.
//!
//! Every server also serves the audit log of its database ([`crate::audit`],
//! `csops.audit.v1.AuditService`).
//!
//! Every call passes, outermost first: the trace and RED metrics layer, the edge
//! ([`crate::edge`]), the caller's deadline kept for calls to neighbours
//! ([`crate::deadline`]), authentication and the service's role table ([`crate::auth`]:
//! UNAUTHENTICATED, PERMISSION_DENIED) and admission ([`crate::overload`]: beyond
//! `--max-concurrent-calls` a call is refused at once with RESOURCE_EXHAUSTED). A caller
//! without a valid token never takes one of the admission's slots. With `--tls-cert` the
//! server speaks only TLS, mutual with `--tls-client-ca` ([`crate::tls`]). HTTP/2 pings every
//! `--http2-keepalive` drop connections whose client vanished.
//!
//! Health has two names: `""` for liveness (SERVING while the process runs) and the service's
//! own name for readiness (NOT_SERVING while its database is unreachable). Both flip to
//! NOT_SERVING first when a stop begins; in-flight calls then get the grace period to finish.

use std::net::SocketAddr;
use std::time::Duration;

use csops_observability::{GrpcServerLayer, Metrics};
use sqlx::AnyPool;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio_util::sync::CancellationToken;
use tonic::codec::CompressionEncoding;
use tonic::service::Routes;
use tonic::transport::server::TcpIncoming;
use tonic_health::server::HealthReporter;
use tonic_health::ServingStatus;

use crate::audit::{self, AuditApi};
use crate::auth::AuthLayer;
use crate::config::{ServiceSpec, Settings};
use crate::db;
use crate::deadline::DeadlineLayer;
use crate::edge::EdgeLayer;
use crate::overload::AdmissionLayer;
use crate::tls::Tls;
use csops_proto::audit::v1::audit_service_server::AuditServiceServer;

/// How often health re-checks the database.
const HEALTH_PROBE_INTERVAL: Duration = Duration::from_secs(2);

/// Why a server could not start or stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// A listener could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address asked for.
        addr: SocketAddr,
        /// The cause.
        source: std::io::Error,
    },
    /// Reflection could not read the descriptor set.
    #[error("cannot build the reflection service: {0}")]
    Reflection(#[from] tonic_reflection::server::Error),
    /// The transport failed.
    #[error("grpc server failed: {0}")]
    Transport(#[from] tonic::transport::Error),
}

/// Why a service could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// A configuration value is unusable.
    #[error("invalid configuration: {0}")]
    Config(String),
    /// The database could not be opened.
    #[error("cannot open the database: {0}")]
    Database(#[from] sqlx::Error),
    /// Migrations failed.
    #[error("cannot migrate the database: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// The server could not bind or failed.
    #[error(transparent)]
    Serve(#[from] ServeError),
}

/// A bound, not yet running, gRPC server for one service.
#[derive(Debug)]
pub struct Server {
    spec: ServiceSpec,
    listener: TcpListener,
    metrics_listener: Option<TcpListener>,
    health_listener: Option<TcpListener>,
    metrics: Metrics,
    pool: AnyPool,
    shutdown_grace: Duration,
    drain_delay: Duration,
    admission: AdmissionLayer,
    auth: AuthLayer,
    http2_keepalive: Option<Duration>,
    audit: AuditApi,
    max_message_size: usize,
    tls: Tls,
}

/// How long an HTTP/2 ping may go unanswered before the connection is closed.
const KEEPALIVE_TIMEOUT: Duration = Duration::from_secs(10);

impl Server {
    /// Binds the gRPC and metrics listeners (port 0 picks a free port).
    pub async fn bind(
        spec: ServiceSpec,
        settings: &Settings,
        pool: AnyPool,
        metrics: Metrics,
    ) -> Result<Self, ServeError> {
        let listener = bind(settings.listen_addr).await?;
        let metrics_listener = match settings.metrics_addr {
            Some(addr) => Some(bind(addr).await?),
            None => None,
        };
        let health_listener = match settings.health_addr {
            Some(addr) => Some(bind(addr).await?),
            None => None,
        };
        Ok(Self {
            spec,
            listener,
            metrics_listener,
            health_listener,
            metrics,
            pool: pool.clone(),
            shutdown_grace: settings.shutdown_grace,
            drain_delay: settings.drain_delay,
            admission: AdmissionLayer::new(settings.max_concurrent_calls),
            auth: AuthLayer::new(&settings.auth, &spec.guarded()),
            http2_keepalive: settings.http2_keepalive,
            audit: AuditApi::new(pool.clone(), settings.page_tokens.clone()),
            max_message_size: settings.max_message_size,
            tls: settings.tls.clone(),
        })
    }

    /// Returns the address the gRPC server listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.listener
            .local_addr()
            .unwrap_or_else(|_| SocketAddr::from(([127, 0, 0, 1], 0)))
    }

    /// Returns the address of the plaintext health listener, when it is on.
    pub fn health_addr(&self) -> Option<SocketAddr> {
        self.health_listener
            .as_ref()
            .and_then(|l| l.local_addr().ok())
    }

    /// Returns the address of the metrics endpoint, when it is on.
    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.metrics_listener
            .as_ref()
            .and_then(|l| l.local_addr().ok())
    }

    /// Serves `routes` until `stop` completes, then drains: health flips to NOT_SERVING, the
    /// drain delay passes, the listener closes, open streams end with UNAVAILABLE and
    /// in-flight unary calls get the grace period.
    pub async fn serve(
        self,
        routes: Routes,
        stop: impl std::future::Future<Output = ()> + Send,
    ) -> Result<(), ServeError> {
        let (reporter, health_service) = tonic_health::server::health_reporter();
        let reflection_v1 = reflection(self.spec.grpc_service).build_v1()?;
        let reflection_v1alpha = reflection(self.spec.grpc_service).build_v1alpha()?;
        let health_service = health_service
            .accept_compressed(CompressionEncoding::Gzip)
            .send_compressed(CompressionEncoding::Gzip);
        let audit_service = AuditServiceServer::new(self.audit)
            .accept_compressed(CompressionEncoding::Gzip)
            .send_compressed(CompressionEncoding::Gzip)
            .max_decoding_message_size(self.max_message_size);
        // Probes that cannot speak TLS ask a plaintext listener that serves health alone; it
        // closes with the gRPC listener.
        let (health_stop_tx, health_stop_rx) = oneshot::channel::<()>();
        let health_only = self.health_listener.map(|listener| {
            let incoming = TcpIncoming::from(listener).with_nodelay(Some(true));
            tokio::spawn(
                tonic::transport::Server::builder()
                    .add_service(health_service.clone())
                    .serve_with_incoming_shutdown(incoming, async move {
                        let _ = health_stop_rx.await;
                    }),
            )
        });
        let routes = routes
            .add_service(audit_service)
            .add_service(health_service)
            .add_service(reflection_v1)
            .add_service(reflection_v1alpha);

        // "" answers liveness: SERVING while the process runs, until it drains. The service's
        // own name answers readiness: NOT_SERVING until the first database probe answers and
        // whenever the database is unreachable (a database outage must not restart pods).
        reporter
            .set_service_status("", ServingStatus::Serving)
            .await;
        reporter
            .set_service_status(self.spec.grpc_service, ServingStatus::NotServing)
            .await;
        let health_task = tokio::spawn(watch_database(
            reporter.clone(),
            self.spec.grpc_service,
            self.pool.clone(),
        ));
        // Statistics for tables PostgreSQL has never analyzed (a fresh bulk load).
        let statistics_task = tokio::spawn(crate::statistics::keep(self.pool.clone()));

        let (metrics_stop_tx, metrics_stop_rx) = oneshot::channel::<()>();
        let metrics_task = self.metrics_listener.map(|listener| {
            let shutdown = async move {
                let _ = metrics_stop_rx.await;
            };
            tokio::spawn(csops_observability::serve_metrics(
                listener,
                self.metrics.clone(),
                shutdown,
            ))
        });

        let addr = self.listener.local_addr().ok();
        let (grpc_stop_tx, grpc_stop_rx) = oneshot::channel::<()>();
        // Cancelled when the listener closes: open streams then end with UNAVAILABLE.
        let streams_end = CancellationToken::new();
        let router = tonic::transport::Server::builder()
            .http2_keepalive_interval(self.http2_keepalive)
            .http2_keepalive_timeout(Some(KEEPALIVE_TIMEOUT))
            .layer(GrpcServerLayer::new(self.metrics.clone()))
            .layer(EdgeLayer::new(streams_end.clone()))
            .layer(DeadlineLayer)
            .layer(self.auth.clone())
            .layer(self.admission.clone())
            .add_routes(routes);
        let grpc_stop = async move {
            let _ = grpc_stop_rx.await;
        };
        let tls = self.tls.serves_tls();
        let mut server_task = if tls {
            tokio::spawn(router.serve_with_incoming_shutdown(
                crate::tls::incoming(self.listener, self.tls.clone(), streams_end.clone()),
                grpc_stop,
            ))
        } else {
            // TCP_NODELAY as tonic's own `serve` sets it: with Nagle on, a response written
            // in two segments waits for the client's delayed ACK (~40 ms per unary call).
            let incoming = TcpIncoming::from(self.listener).with_nodelay(Some(true));
            tokio::spawn(router.serve_with_incoming_shutdown(incoming, grpc_stop))
        };
        tracing::info!(service = self.spec.name, addr = %addr.map_or_else(String::new, |a| a.to_string()), tls, "serving");

        tokio::select! {
            () = stop => {}
            result = &mut server_task => {
                health_task.abort();
                statistics_task.abort();
                return flatten(result);
            }
        }

        // Tell load balancers first, then stop accepting, then let in-flight calls finish.
        // The database watcher is stopped before the flip so it cannot flip health back.
        health_task.abort();
        statistics_task.abort();
        let _ = health_task.await;
        set_status(&reporter, self.spec.grpc_service, ServingStatus::NotServing).await;
        tracing::info!(service = self.spec.name, drain_delay = ?self.drain_delay, "draining");
        tokio::time::sleep(self.drain_delay).await;
        let _ = grpc_stop_tx.send(());
        // Not awaited: a Health/Watch stream on it must not hold the stop.
        let _ = health_stop_tx.send(());
        drop(health_only);
        streams_end.cancel();
        let result = match tokio::time::timeout(self.shutdown_grace, &mut server_task).await {
            Ok(result) => flatten(result),
            Err(_) => {
                tracing::warn!(
                    service = self.spec.name,
                    grace = ?self.shutdown_grace,
                    "shutdown grace period expired; cancelling calls still in flight"
                );
                server_task.abort();
                Ok(())
            }
        };
        let _ = metrics_stop_tx.send(());
        if let Some(task) = metrics_task {
            let _ = task.await;
        }
        tracing::info!(service = self.spec.name, "stopped");
        result
    }
}

/// Reflection lists only what this server serves (the descriptor set holds every csops
/// service), knows the health service so `grpcurl describe grpc.health.v1.Health` works, and
/// serves the `google.rpc` error details (`BadRequest`, `PreconditionFailure`, `ErrorInfo`,
/// `Status`) so grpcurl prints the details of an error instead of base64.
fn reflection(service: &str) -> tonic_reflection::server::Builder<'static> {
    tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(csops_proto::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_types::pb::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_reflection::pb::v1::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_reflection::pb::v1alpha::FILE_DESCRIPTOR_SET)
        .with_service_name(service)
        .with_service_name(audit::GRPC_SERVICE)
        .with_service_name("grpc.health.v1.Health")
        .with_service_name("grpc.reflection.v1.ServerReflection")
        .with_service_name("grpc.reflection.v1alpha.ServerReflection")
}

fn flatten(
    result: Result<Result<(), tonic::transport::Error>, tokio::task::JoinError>,
) -> Result<(), ServeError> {
    match result {
        Ok(inner) => inner.map_err(ServeError::from),
        Err(join) => {
            tracing::error!(error = %join, "grpc server task failed");
            Ok(())
        }
    }
}

async fn bind(addr: SocketAddr) -> Result<TcpListener, ServeError> {
    TcpListener::bind(addr)
        .await
        .map_err(|source| ServeError::Bind { addr, source })
}

async fn set_status(reporter: &HealthReporter, service: &str, status: ServingStatus) {
    reporter.set_service_status("", status).await;
    reporter.set_service_status(service, status).await;
}

async fn watch_database(reporter: HealthReporter, service: &'static str, pool: AnyPool) {
    let mut last = None;
    loop {
        let up = db::ping(&pool).await;
        if last != Some(up) {
            if up {
                tracing::info!(service, "database reachable; serving");
            } else {
                tracing::warn!(service, "database unreachable; not serving");
            }
            let status = if up {
                ServingStatus::Serving
            } else {
                ServingStatus::NotServing
            };
            reporter.set_service_status(service, status).await;
            last = Some(up);
        }
        tokio::time::sleep(HEALTH_PROBE_INTERVAL).await;
    }
}
