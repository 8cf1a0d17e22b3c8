//! `csops-suite`: every csops service in one process, each on its own port with its own SQLite
//! database, calling each other over gRPC exactly as separate processes would.
//!
//! Authentication is on, as in production, with a development key: the first start writes a
//! random HS256 key to `<data-dir>/dev-auth/jwks.json` (mode 0600), every service verifies
//! tokens with it, and each presents a service token to its neighbours.
//! `csops-suite token --role agent` prints a token for grpcurl.
#![forbid(unsafe_code)]

use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::{Parser, Subcommand};
use csops_observability::{LogFormat, TelemetryConfig};
use csops_runtime::auth::dev::DevIssuer;
use csops_runtime::auth::{Auth, Credentials, Role};
use csops_runtime::{ServiceSpec, Settings};
use tokio::sync::watch;

/// How long the services' own tokens last: longer than any local run.
const SERVICE_TOKEN_TTL: Duration = Duration::from_secs(365 * 24 * 3600);

/// Runs the whole csops suite locally on SQLite: no server to install.
#[derive(Debug, Parser)]
#[command(name = "csops-suite", version)]
struct Args {
    #[command(subcommand)]
    command: Option<Command>,
    /// Directory holding one SQLite database per service, and the development signing key.
    #[arg(long, env = "CSOPS_DATA_DIR", default_value = "data", global = true)]
    data_dir: PathBuf,
    /// "jwt": calls need a bearer token signed with the development key (`csops-suite token`);
    /// "off": no authentication.
    #[arg(long, env = "CSOPS_AUTH", default_value = "jwt", value_parser = ["jwt", "off"])]
    auth: String,
    /// IP address every service binds.
    #[arg(long, env = "CSOPS_BIND_IP", default_value = "127.0.0.1")]
    bind_ip: IpAddr,
    /// Added to every default port (gRPC 50051.., metrics 9091..), to run two suites side by side.
    #[arg(long, env = "CSOPS_PORT_OFFSET", default_value_t = 0)]
    port_offset: u16,
    /// Log format: json, text or auto.
    #[arg(long, env = "CSOPS_LOG_FORMAT", default_value = "auto")]
    log_format: LogFormat,
}

/// What the suite can do besides serving.
#[derive(Debug, Subcommand)]
enum Command {
    /// Prints a development bearer token, for grpcurl: -H "authorization: Bearer $TOKEN".
    Token {
        /// The caller's role: agent, supervisor, manager, field_engineer, ops or service.
        #[arg(long, value_parser = parse_role)]
        role: Role,
        /// The caller's id (the actor recorded in timelines); defaults to "<role>-1".
        #[arg(long)]
        subject: Option<String>,
        /// The caller's team.
        #[arg(long)]
        team: Option<String>,
        /// How long the token is valid, e.g. "12h".
        #[arg(long, default_value = "12h", value_parser = csops_runtime::config::parse_duration)]
        ttl: Duration,
        /// Sign with this development JWKS instead of the suite's own key, e.g. the dev
        /// overlay's `k8s/overlays/dev/auth/jwks.json` for a cluster.
        #[arg(long, value_name = "FILE")]
        key: Option<PathBuf>,
    },
}

fn parse_role(name: &str) -> Result<Role, String> {
    Role::from_claim(name).ok_or_else(|| {
        let known: Vec<&str> = Role::ALL.iter().map(|r| r.claim()).collect();
        format!("unknown role; one of {}", known.join(", "))
    })
}

/// Where the development signing key lives.
fn dev_key_path(data_dir: &Path) -> PathBuf {
    data_dir.join("dev-auth").join("jwks.json")
}

fn settings(args: &Args, spec: &ServiceSpec, issuer: Option<&DevIssuer>) -> Settings {
    let mut settings = Settings::for_tests(&Settings::sqlite_url(&args.data_dir, spec.name));
    if let Some(issuer) = issuer {
        settings.auth = Auth::Jwt(Arc::new(issuer.verifier()));
        let token = issuer.token(spec.binary, &[Role::Service], None, SERVICE_TOKEN_TTL);
        if let Ok(credentials) = Credentials::bearer(&token) {
            settings.credentials = credentials;
        }
    }
    settings.listen_addr = SocketAddr::new(args.bind_ip, spec.default_port + args.port_offset);
    settings.metrics_addr = Some(SocketAddr::new(
        args.bind_ip,
        spec.default_metrics_port + args.port_offset,
    ));
    settings.shutdown_grace = std::time::Duration::from_secs(10);
    settings.log_format = args.log_format;
    settings
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    // `token --key FILE` signs with that key (which must exist) instead of the suite's own.
    let other_key = match &args.command {
        Some(Command::Token {
            key: Some(path), ..
        }) => Some(path),
        _ => None,
    };
    let issuer = if let Some(path) = other_key {
        match std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))
            .and_then(|text| DevIssuer::from_jwks(&text))
        {
            Ok(issuer) => Some(issuer),
            Err(error) => {
                eprintln!("error: --key: {error}");
                return ExitCode::from(64);
            }
        }
    } else if args.auth == "jwt" {
        match DevIssuer::load_or_create(&dev_key_path(&args.data_dir)) {
            Ok(issuer) => Some(issuer),
            Err(error) => {
                eprintln!("error: cannot prepare the development signing key: {error}");
                return ExitCode::from(64);
            }
        }
    } else {
        None
    };
    if let Some(Command::Token {
        role,
        subject,
        team,
        ttl,
        ..
    }) = &args.command
    {
        let Some(issuer) = &issuer else {
            eprintln!("error: authentication is off (--auth off); no token is needed");
            return ExitCode::from(64);
        };
        let subject = subject.clone().unwrap_or_else(|| format!("{role}-1"));
        let token = issuer.token(&subject, &[*role], team.as_deref(), *ttl);
        use std::io::Write as _;
        return match writeln!(std::io::stdout(), "{token}") {
            Ok(()) => ExitCode::SUCCESS,
            Err(_) => ExitCode::FAILURE,
        };
    }
    let issuer = issuer.as_ref();
    // Registered before the services start, so an early Ctrl-C still stops them gracefully.
    let stop_signal = csops_runtime::shutdown::signal();
    let telemetry = match csops_observability::init(TelemetryConfig {
        service_name: "csops-suite".to_owned(),
        log_format: args.log_format,
    }) {
        Ok(telemetry) => telemetry,
        Err(error) => {
            eprintln!("error: cannot start telemetry: {error}");
            return ExitCode::from(64);
        }
    };
    let (stop_tx, stop_rx) = watch::channel(false);
    let stopped = move || {
        let mut rx = stop_rx.clone();
        async move {
            let _ = rx.wait_for(|stop| *stop).await;
        }
    };
    let mut tasks = Vec::new();

    let customers = settings(&args, &csops_customers::SPEC, issuer);
    let visits = settings(&args, &csops_visits::SPEC, issuer);
    let visits_url = format!("http://{}", visits.listen_addr);
    let feedback = settings(&args, &csops_feedback::SPEC, issuer);
    let feedback_url = format!("http://{}", feedback.listen_addr);
    // Customer changes go to visits through the customers outbox (they wait there until visits
    // answers, so the start order does not matter).
    let customers_config = csops_customers::Config {
        visits_url: visits_url.clone(),
        outbox_interval: std::time::Duration::from_secs(2),
        ..csops_customers::Config::default()
    };
    let built =
        csops_customers::App::build_with(&customers, &customers_config, telemetry.metrics()).await;
    match built {
        Ok(app) => {
            announce(
                "customers",
                csops_customers::SPEC.grpc_service,
                app.local_addr(),
                app.metrics_addr(),
            );
            tasks.push(tokio::spawn(app.run_until_stopped(stopped())));
        }
        Err(error) => {
            tracing::error!(
                error = &error as &dyn std::error::Error,
                "customers failed to start"
            );
            return ExitCode::FAILURE;
        }
    }

    let visits_config = csops_visits::Config {
        customers_url: format!("http://{}", customers.listen_addr),
        feedback_url: feedback_url.clone(),
        ..csops_visits::Config::default()
    };
    match csops_visits::App::build(&visits, visits_config, telemetry.metrics()).await {
        Ok(app) => {
            announce(
                "visits",
                csops_visits::SPEC.grpc_service,
                app.local_addr(),
                app.metrics_addr(),
            );
            tasks.push(tokio::spawn(app.run_until_stopped(stopped())));
        }
        Err(error) => {
            tracing::error!(
                error = &error as &dyn std::error::Error,
                "visits failed to start"
            );
            return ExitCode::FAILURE;
        }
    }

    let complaints = settings(&args, &csops_complaints::SPEC, issuer);
    let complaints_config = csops_complaints::Config {
        customers_url: format!("http://{}", customers.listen_addr),
        sla_watch_interval: std::time::Duration::from_secs(5),
        outbox_interval: std::time::Duration::from_secs(2),
        reevaluate_interval: std::time::Duration::from_secs(10),
        visits_url,
        feedback_url,
        ..csops_complaints::Config::for_tests("")
    };
    match csops_complaints::App::build(&complaints, complaints_config, telemetry.metrics()).await {
        Ok(app) => {
            announce(
                "complaints",
                csops_complaints::SPEC.grpc_service,
                app.local_addr(),
                app.metrics_addr(),
            );
            tasks.push(tokio::spawn(app.run_until_stopped(stopped())));
        }
        Err(error) => {
            tracing::error!(
                error = &error as &dyn std::error::Error,
                "complaints failed to start"
            );
            return ExitCode::FAILURE;
        }
    }

    let complaints_url = format!("http://{}", complaints.listen_addr);
    let feedback_config = csops_feedback::Config {
        complaints_url,
        customers_url: format!("http://{}", customers.listen_addr),
        ..csops_feedback::Config::default()
    };
    match csops_feedback::App::build(&feedback, feedback_config, telemetry.metrics()).await {
        Ok(app) => {
            announce(
                "feedback",
                csops_feedback::SPEC.grpc_service,
                app.local_addr(),
                app.metrics_addr(),
            );
            tasks.push(tokio::spawn(app.run_until_stopped(stopped())));
        }
        Err(error) => {
            tracing::error!(
                error = &error as &dyn std::error::Error,
                "feedback failed to start"
            );
            return ExitCode::FAILURE;
        }
    }

    if issuer.is_some() {
        tracing::info!(
            "suite ready; calls need a bearer token: TOKEN=$(csops-suite token --role agent); Ctrl-C stops it"
        );
    } else {
        tracing::info!("suite ready, authentication off; Ctrl-C stops it");
    }
    stop_signal.await;
    let _ = stop_tx.send(true);
    let mut code = ExitCode::SUCCESS;
    for task in tasks {
        if !matches!(task.await, Ok(Ok(()))) {
            code = ExitCode::FAILURE;
        }
    }
    telemetry.shutdown();
    code
}

/// Prints where a service listens, on stdout, for people and scripts. A closed stdout is not
/// a reason to stop serving, so write errors are ignored.
fn announce(name: &str, grpc_service: &str, addr: SocketAddr, metrics: Option<SocketAddr>) {
    let metrics = metrics.map_or_else(|| "off".to_owned(), |m| format!("http://{m}/metrics"));
    use std::io::Write as _;
    let _ = writeln!(
        std::io::stdout(),
        "{name:<11} grpc={addr:<16} service={grpc_service:<40} metrics={metrics}"
    );
}
