//! `csops-suite`: every csops service in one process, each on its own port with its own SQLite
//! database, calling each other over gRPC exactly as separate processes would.
#![forbid(unsafe_code)]

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use csops_observability::{LogFormat, TelemetryConfig};
use csops_runtime::{ServiceSpec, Settings};
use tokio::sync::watch;

/// Runs the whole csops suite locally on SQLite: no server to install.
#[derive(Debug, Parser)]
#[command(name = "csops-suite", version)]
struct Args {
    /// Directory holding one SQLite database per service.
    #[arg(long, env = "CSOPS_DATA_DIR", default_value = "data")]
    data_dir: PathBuf,
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

fn settings(args: &Args, spec: &ServiceSpec) -> Settings {
    let mut settings = Settings::for_tests(&Settings::sqlite_url(&args.data_dir, spec.name));
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

    let customers = settings(&args, &csops_customers::SPEC);
    let visits = settings(&args, &csops_visits::SPEC);
    let visits_url = format!("http://{}", visits.listen_addr);
    let feedback = settings(&args, &csops_feedback::SPEC);
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

    let complaints = settings(&args, &csops_complaints::SPEC);
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

    tracing::info!("suite ready; Ctrl-C stops it");
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
