//! The four services with authentication on, in-process: what the tests that walk every RPC
//! (roles, bad input) call. Tokens come from a [`DevIssuer`] the test holds; each service
//! presents its own `service` token to its neighbours.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use csops_observability::Metrics;
use csops_runtime::auth::dev::DevIssuer;
use csops_runtime::auth::{Auth, Credentials, Role};
use csops_runtime::{ServiceSpec, Settings};
use csops_testkit::backend::Backend;
use csops_testkit::server::Running;
use tonic::transport::Channel;

pub const HOUR: Duration = Duration::from_secs(3600);

/// How the four are wired.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wiring {
    /// As in production: customers' outbox delivers to visits, background work on its test
    /// intervals.
    Live,
    /// Only the lookups (complaints and feedback ask customers); no events are delivered and
    /// the background sweeps wait an hour, so nothing changes a database but the calls made.
    Quiet,
}

/// Settings with authentication on, verified by `issuer`, presenting a service token.
fn settings(url: &str, spec: &ServiceSpec, issuer: &DevIssuer) -> Settings {
    let mut settings = Settings::for_tests(url);
    settings.auth = Auth::Jwt(Arc::new(issuer.verifier()));
    let token = issuer.token(spec.binary, &[Role::Service], None, HOUR);
    settings.credentials = Credentials::bearer(&token).unwrap();
    settings
}

/// One running service and its database.
#[derive(Debug)]
pub struct Service {
    pub spec: ServiceSpec,
    pub running: Running,
    pub database_url: String,
}

impl Service {
    pub fn addr(&self) -> SocketAddr {
        self.running.addr
    }
}

#[derive(Debug)]
pub struct Four {
    pub customers: Service,
    pub complaints: Service,
    pub visits: Service,
    pub feedback: Service,
}

impl Four {
    /// The four services on `backend` (SQLite files under `dir`, or fresh PostgreSQL
    /// databases), authentication on; complaints and feedback ask customers.
    pub async fn start(dir: &Path, backend: Backend, issuer: &DevIssuer, wiring: Wiring) -> Self {
        let visits_addr = free_addr();
        let url = |addr: SocketAddr| format!("http://{addr}");
        let quiet = wiring == Wiring::Quiet;
        let idle = Duration::from_secs(3600);

        let customers_db = backend.database_url(dir, "customers").await;
        let config = csops_customers::Config {
            visits_url: if quiet {
                String::new()
            } else {
                url(visits_addr)
            },
            outbox_interval: if quiet {
                idle
            } else {
                Duration::from_millis(100)
            },
            ..csops_customers::Config::default()
        };
        let app = csops_customers::App::build_with(
            &settings(&customers_db, &csops_customers::SPEC, issuer),
            &config,
            Metrics::new(),
        )
        .await
        .unwrap();
        let customers = Running::spawn(app.local_addr(), |stop| async move {
            app.run_until_stopped(stop).await.unwrap();
        });

        let visits_db = backend.database_url(dir, "visits").await;
        let mut visits_settings = settings(&visits_db, &csops_visits::SPEC, issuer);
        visits_settings.listen_addr = visits_addr;
        let mut config = csops_visits::Config::for_tests(&url(customers.addr), "");
        if quiet {
            config.sweep_interval = idle;
            config.outbox_interval = idle;
        }
        let app = csops_visits::App::build(&visits_settings, config, Metrics::new())
            .await
            .unwrap();
        let visits = Running::spawn(app.local_addr(), |stop| async move {
            app.run_until_stopped(stop).await.unwrap();
        });

        let complaints_db = backend.database_url(dir, "complaints").await;
        let mut config = csops_complaints::Config::for_tests(&url(customers.addr));
        if quiet {
            config.sla_watch_interval = idle;
            config.outbox_interval = idle;
            config.reevaluate_interval = idle;
        }
        let app = csops_complaints::App::build(
            &settings(&complaints_db, &csops_complaints::SPEC, issuer),
            config,
            Metrics::new(),
        )
        .await
        .unwrap();
        let complaints = Running::spawn(app.local_addr(), |stop| async move {
            app.run_until_stopped(stop).await.unwrap();
        });

        let feedback_db = backend.database_url(dir, "feedback").await;
        let mut config = csops_feedback::Config {
            customers_url: url(customers.addr),
            ..csops_feedback::Config::for_tests("")
        };
        if quiet {
            config.sweep_interval = idle;
            config.outbox_interval = idle;
        }
        let app = csops_feedback::App::build(
            &settings(&feedback_db, &csops_feedback::SPEC, issuer),
            config,
            Metrics::new(),
        )
        .await
        .unwrap();
        let feedback = Running::spawn(app.local_addr(), |stop| async move {
            app.run_until_stopped(stop).await.unwrap();
        });
        Self {
            customers: Service {
                spec: csops_customers::SPEC,
                running: customers,
                database_url: customers_db,
            },
            complaints: Service {
                spec: csops_complaints::SPEC,
                running: complaints,
                database_url: complaints_db,
            },
            visits: Service {
                spec: csops_visits::SPEC,
                running: visits,
                database_url: visits_db,
            },
            feedback: Service {
                spec: csops_feedback::SPEC,
                running: feedback,
                database_url: feedback_db,
            },
        }
    }

    pub fn services(&self) -> [&Service; 4] {
        [
            &self.customers,
            &self.complaints,
            &self.visits,
            &self.feedback,
        ]
    }

    pub async fn stop(self) {
        self.feedback.running.stop().await;
        self.complaints.running.stop().await;
        self.visits.running.stop().await;
        self.customers.running.stop().await;
    }
}

pub fn free_addr() -> SocketAddr {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
}

pub async fn channel(addr: SocketAddr) -> Channel {
    Channel::from_shared(format!("http://{addr}"))
        .unwrap()
        .connect()
        .await
        .unwrap()
}

pub fn bearer(token: &str) -> Vec<(&'static str, String)> {
    vec![("authorization", format!("Bearer {token}"))]
}

/// Adds `token` to every call of a typed client.
pub fn with_token(
    token: String,
) -> impl FnMut(tonic::Request<()>) -> Result<tonic::Request<()>, tonic::Status> + Clone {
    move |mut request: tonic::Request<()>| {
        request
            .metadata_mut()
            .insert("authorization", format!("Bearer {token}").parse().unwrap());
        Ok(request)
    }
}
