//! The `csops-load` binary: runs scenarios, serves the echo baseline and helps the bench script.
#![forbid(unsafe_code)]

use std::io::Write as _;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{bail, Context as _};
use clap::{Parser, Subcommand, ValueEnum};
use csops_load::scenarios::{self, Channels, Setup};
use csops_load::{harness, serve, Mode, RunConfig, Weighted};
use prost::Message as _;

mod feedback;

/// Load generator and gRPC baselines for the csops benchmarks.
///
/// Every call carries `authorization: Bearer $CSOPS_LOAD_TOKEN` when that variable is set
/// (services with authentication on); none otherwise.
#[derive(Debug, Parser)]
#[command(name = "csops-load", version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Runs a scenario (or a weighted mix) and reports throughput, latency and errors by status.
    Run(RunArgs),
    /// Serves the bare echo baseline (or, with --select-database-url, the read limit: one
    /// primary-key SELECT per call) until SIGTERM/SIGINT or --max-lifetime.
    EchoServer(EchoArgs),
    /// Waits until a server's health says SERVING and prints the start-up time as JSON.
    WaitServing(WaitArgs),
    /// Writes a raw gRPC request body for h2load (creates one customer to get).
    H2loadBody(BodyArgs),
    /// Reads a bench run's JSON files, writes summary.json beside them and prints Markdown.
    Summarize {
        /// The run's directory, e.g. target-release/bench.
        #[arg(long)]
        dir: PathBuf,
    },
    /// Lists the known scenarios.
    List,
    /// Backlog benchmark: the outbox relay drains N events to a receiver answering in
    /// --receiver-delay, against that receiver called directly (prints JSON).
    RelayDrain {
        /// PostgreSQL (or SQLite) database to hold the outbox.
        #[arg(long)]
        database_url: String,
        /// Events in the backlog.
        #[arg(long, default_value_t = 20_000)]
        events: usize,
        /// Resources they are about (one resource's events go in order).
        #[arg(long, default_value_t = 5_000)]
        resources: usize,
        /// How long the receiver takes to answer.
        #[arg(long, default_value = "1ms", value_parser = humantime::parse_duration)]
        receiver_delay: std::time::Duration,
    },
    /// Backlog benchmark: complaints accepted while customers was away are re-evaluated once
    /// it is back, against the create rate of the same service (prints JSON).
    ReevaluationDrain {
        /// Database of the customers service.
        #[arg(long)]
        customers_database_url: String,
        /// Database of the complaints service.
        #[arg(long)]
        complaints_database_url: String,
        /// Complaints in the backlog.
        #[arg(long, default_value_t = 5_000)]
        complaints: usize,
        /// Customers they belong to.
        #[arg(long, default_value_t = 1_000)]
        customers: usize,
        /// Callers creating complaints (the baseline's concurrency).
        #[arg(long, default_value_t = 16)]
        concurrency: usize,
    },
    /// Planning benchmark set-up: creates customer files with the benchmark's mix (tiers
    /// 20/30/50 % A/B/C, key accounts, important dates, consents) through the customers API;
    /// prints JSON.
    VisitCustomers {
        /// Customers service to create them in.
        #[arg(long)]
        target: String,
        /// Files to create (file n gets the mix's n-th variant).
        #[arg(long, default_value_t = 100)]
        count: usize,
    },
    /// Planning benchmark: pages through every customer file over gRPC the way the visits
    /// service's full re-plan does, on one connection, and prints the time as JSON.
    PageCustomers {
        /// Customers service to page through.
        #[arg(long)]
        target: String,
        /// Customers per page.
        #[arg(long, default_value_t = 500)]
        page_size: i32,
    },
    /// Planning benchmark: one ReplanVisits call, timed; prints its answer and time as JSON.
    ReplanVisits {
        /// Visits service to call.
        #[arg(long)]
        target: String,
        /// Customers the visits service reads per page (its maximum: 500).
        #[arg(long, default_value_t = 500)]
        page_size: i32,
        /// Upper bound of the call.
        #[arg(long, default_value = "10m", value_parser = humantime::parse_duration)]
        timeout: Duration,
    },
    /// Feedback scores benchmark: GetFeedbackScores over a period, RUNS calls per request
    /// shape (the total, by team, filtered by agent), one at a time; prints the times
    /// (median, min, max) and what each answer counted as JSON.
    FeedbackScores {
        /// Feedback service to call.
        #[arg(long)]
        target: String,
        /// Start of the period, microseconds since the Unix epoch.
        #[arg(long)]
        start_micros: i64,
        /// End of the period (exclusive), microseconds since the Unix epoch.
        #[arg(long)]
        end_micros: i64,
        /// Measured calls per shape.
        #[arg(long, default_value_t = 7)]
        runs: usize,
        /// Unmeasured calls per shape before them (at least 1).
        #[arg(long, default_value_t = 30)]
        warmup_calls: usize,
    },
    /// Feedback ingestion benchmark: CreateSurvey (every item answered, a fresh request_id)
    /// from N callers, after creating the template it records on; prints the table.
    CreateSurveys {
        /// Feedback service to call.
        #[arg(long)]
        target: String,
        /// Closed loop: number of concurrent callers.
        #[arg(long, short = 'c', default_value_t = 32)]
        concurrency: usize,
        /// Measured time.
        #[arg(long, default_value = "10s", value_parser = humantime::parse_duration)]
        duration: Duration,
        /// Unmeasured warm-up before it.
        #[arg(long, default_value = "2s", value_parser = humantime::parse_duration)]
        warmup: Duration,
        /// Label stored in the report.
        #[arg(long, default_value = "")]
        label: String,
        /// Also write the JSON report to this file.
        #[arg(long)]
        out: Option<PathBuf>,
    },
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum Serve {
    /// The echo baseline.
    Echo,
    /// The customers service (needs --database-url).
    Customers,
}

#[derive(Debug, clap::Args)]
struct RunArgs {
    /// Scenarios with optional weights: `get_customer` or `get_customer=8,create_customer=2`.
    #[arg(long, short = 's', value_name = "NAME[=WEIGHT],...")]
    scenario: String,
    /// Server to call, e.g. http://127.0.0.1:50051.
    #[arg(long, conflicts_with = "serve")]
    target: Option<String>,
    /// Start this server inside the load tool's process instead of calling --target.
    #[arg(long, value_enum)]
    serve: Option<Serve>,
    /// Database of the in-process service (sqlite://... or postgres://...).
    #[arg(long)]
    database_url: Option<String>,
    /// Pool size of the in-process service.
    #[arg(long, default_value_t = 10)]
    db_max_connections: u32,
    /// Customers service for scenarios that need existing customers (defaults to --target).
    #[arg(long)]
    customers_url: Option<String>,
    /// Closed loop: number of concurrent callers.
    #[arg(long, short = 'c', default_value_t = 32)]
    concurrency: usize,
    /// Open loop at this many calls per second (instead of the closed loop).
    #[arg(long)]
    rate: Option<f64>,
    /// Open loop: calls allowed in flight; further due calls are counted as dropped.
    #[arg(long, default_value_t = 1000)]
    max_in_flight: usize,
    /// Client HTTP/2 connections (default: one per caller, at most 64).
    #[arg(long)]
    connections: Option<usize>,
    /// Measured time.
    #[arg(long, default_value = "10s", value_parser = humantime::parse_duration)]
    duration: Duration,
    /// Unmeasured warm-up before it.
    #[arg(long, default_value = "2s", value_parser = humantime::parse_duration)]
    warmup: Duration,
    /// Upper bound of one call.
    #[arg(long, default_value = "10s", value_parser = humantime::parse_duration)]
    call_timeout: Duration,
    /// Upper bound of calls started, warm-up included.
    #[arg(long, default_value_t = 50_000_000)]
    max_calls: u64,
    /// Rows read scenarios create before the run.
    #[arg(long, default_value_t = 1000)]
    seed: usize,
    /// Label stored in the report.
    #[arg(long, default_value = "")]
    label: String,
    /// Print JSON instead of the table.
    #[arg(long)]
    json: bool,
    /// Also write the JSON report to this file.
    #[arg(long)]
    out: Option<PathBuf>,
}

#[derive(Debug, clap::Args)]
struct EchoArgs {
    /// Address to listen on (port 0 picks a free port).
    #[arg(long, default_value = "127.0.0.1:0")]
    listen: SocketAddr,
    /// Write the bound address to this file once listening.
    #[arg(long)]
    addr_file: Option<PathBuf>,
    /// Stop by itself after this long, so a forgotten server does not linger.
    #[arg(long, default_value = "30m", value_parser = humantime::parse_duration)]
    max_lifetime: Duration,
    /// The read limit: answer every call with one prepared primary-key SELECT on this
    /// PostgreSQL (needs --select-sql and --select-keys-sql) instead of echoing.
    #[arg(long, requires_all = ["select_sql", "select_keys_sql"])]
    select_database_url: Option<String>,
    /// The read, `$1` being the primary key.
    #[arg(long)]
    select_sql: Option<String>,
    /// A statement returning the keys the calls go round (one text column).
    #[arg(long)]
    select_keys_sql: Option<String>,
    /// Pool size of the read limit.
    #[arg(long, default_value_t = 10)]
    select_pool_size: u32,
}

#[derive(Debug, clap::Args)]
struct WaitArgs {
    /// Server to ask, e.g. http://127.0.0.1:50051.
    #[arg(long)]
    target: String,
    /// Service name whose health must be SERVING.
    #[arg(long)]
    service: String,
    /// Give up after this long.
    #[arg(long, default_value = "30s", value_parser = humantime::parse_duration)]
    timeout: Duration,
    /// When the server was started, in nanoseconds since the Unix epoch (`date +%s%N`).
    #[arg(long)]
    since_unix_ns: Option<u128>,
}

#[derive(Debug, clap::Args)]
struct BodyArgs {
    /// Customers service to create the customer in.
    #[arg(long)]
    target: String,
    /// File to write the framed GetCustomerRequest to.
    #[arg(long)]
    out: PathBuf,
}

fn stdout_line(text: &str) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    writeln!(out, "{text}")?;
    out.flush()?;
    Ok(())
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Run(args) => run(args).await,
        Command::EchoServer(args) => echo_server(args).await,
        Command::WaitServing(args) => wait_serving(args).await,
        Command::H2loadBody(args) => h2load_body(args).await,
        Command::Summarize { dir } => summarize(&dir),
        Command::List => list(),
        Command::RelayDrain {
            database_url,
            events,
            resources,
            receiver_delay,
        } => csops_load::backlog::relay(&database_url, events, resources, receiver_delay)
            .await
            .and_then(|report| stdout_line(&report.to_string())),
        Command::ReevaluationDrain {
            customers_database_url,
            complaints_database_url,
            complaints,
            customers,
            concurrency,
        } => csops_load::backlog::reevaluate(
            &customers_database_url,
            &complaints_database_url,
            complaints,
            customers,
            concurrency,
        )
        .await
        .and_then(|report| stdout_line(&report.to_string())),
        Command::VisitCustomers { target, count } => visit_customers(&target, count).await,
        Command::PageCustomers { target, page_size } => {
            csops_load::visits::page_customers(&target, page_size)
                .await
                .and_then(|report| stdout_line(&report.to_string()))
        }
        Command::ReplanVisits {
            target,
            page_size,
            timeout,
        } => csops_load::visits::replan(&target, page_size, timeout)
            .await
            .and_then(|report| stdout_line(&report.to_string())),
        Command::FeedbackScores {
            target,
            start_micros,
            end_micros,
            runs,
            warmup_calls,
        } => feedback::scores(&target, start_micros, end_micros, runs, warmup_calls)
            .await
            .and_then(|report| stdout_line(&report.to_string())),
        Command::CreateSurveys {
            target,
            concurrency,
            duration,
            warmup,
            label,
            out,
        } => feedback::create_surveys(&target, concurrency, duration, warmup, label, out)
            .await
            .and_then(|table| stdout_line(table.trim_end())),
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn parse_mix(text: &str) -> anyhow::Result<Vec<(&'static scenarios::ScenarioDef, u32)>> {
    text.split(',')
        .filter(|part| !part.trim().is_empty())
        .map(|part| {
            let (name, weight) = match part.split_once('=') {
                Some((name, weight)) => (
                    name.trim(),
                    weight
                        .trim()
                        .parse::<u32>()
                        .with_context(|| format!("bad weight in {part:?}"))?,
                ),
                None => (part.trim(), 1),
            };
            Ok((scenarios::find(name)?, weight.max(1)))
        })
        .collect()
}

async fn run(args: RunArgs) -> anyhow::Result<()> {
    let mix = parse_mix(&args.scenario)?;
    if mix.is_empty() {
        bail!("--scenario names no scenario");
    }
    let _server;
    let target = match (args.serve, &args.target) {
        (Some(Serve::Echo), _) => {
            let server = serve::echo().await?;
            let url = server.url();
            _server = Some(server);
            url
        }
        (Some(Serve::Customers), _) => {
            let url = args
                .database_url
                .as_deref()
                .context("--serve customers needs --database-url")?;
            let server = serve::customers(url, args.db_max_connections).await?;
            let url = server.url();
            _server = Some(server);
            url
        }
        (None, Some(url)) => {
            _server = None;
            url.clone()
        }
        (None, None) => bail!("give --target URL or --serve SERVER"),
    };
    let connections = args
        .connections
        .unwrap_or_else(|| args.concurrency.clamp(1, 64));
    let channels = Channels::connect(&target, connections).await?;
    let customers = match &args.customers_url {
        Some(url) => Some(Channels::connect(url, connections.min(8)).await?),
        None => Some(channels.clone()),
    };
    let setup = Setup {
        target: channels,
        customers,
        seed: args.seed,
    };
    let mut weighted = Vec::with_capacity(mix.len());
    for (def, weight) in mix {
        let scenario = (def.build)(setup.clone())
            .await
            .with_context(|| format!("preparing scenario {}", def.name))?;
        weighted.push(Weighted {
            name: def.name.to_owned(),
            weight,
            scenario,
        });
    }
    let mode = match args.rate {
        Some(rate) => Mode::Open {
            rate,
            max_in_flight: args.max_in_flight,
        },
        None => Mode::Closed {
            concurrency: args.concurrency,
        },
    };
    let config = RunConfig {
        mode,
        duration: args.duration,
        warmup: args.warmup,
        call_timeout: args.call_timeout,
        max_calls: args.max_calls,
    };
    let mut report = harness::run(weighted, &config).await;
    report.label = args.label;
    report.connections = connections;
    let json = serde_json::to_string_pretty(&report)?;
    if let Some(path) = &args.out {
        std::fs::write(path, &json).with_context(|| format!("writing {}", path.display()))?;
    }
    if args.json {
        stdout_line(&json)
    } else {
        stdout_line(report.table().trim_end())
    }
}

async fn echo_server(args: EchoArgs) -> anyhow::Result<()> {
    // The read limit connects and reads its keys before the address is published, so the
    // first measured call does not wait for them.
    let select = match (
        args.select_database_url,
        args.select_sql,
        args.select_keys_sql,
    ) {
        (Some(database_url), Some(sql), Some(keys_sql)) => {
            let server = csops_load::pk::PkSelect::connect(&csops_load::pk::Select {
                database_url,
                sql,
                keys_sql,
                pool_size: args.select_pool_size,
            })
            .await?;
            eprintln!("pk-select: {} keys", server.keys());
            Some(server)
        }
        _ => None,
    };
    let (listener, addr) = csops_load::echo::bind(args.listen)
        .await
        .with_context(|| format!("cannot listen on {}", args.listen))?;
    if let Some(path) = &args.addr_file {
        std::fs::write(path, addr.to_string())
            .with_context(|| format!("writing {}", path.display()))?;
    }
    let lifetime = args.max_lifetime;
    let stop = async move {
        tokio::select! {
            () = csops_runtime::shutdown::signal() => {}
            () = tokio::time::sleep(lifetime) => {}
        }
    };
    match select {
        Some(server) => csops_load::echo::serve(listener, server, stop).await?,
        None => csops_load::echo::serve(listener, csops_load::echo::Echo, stop).await?,
    }
    Ok(())
}

async fn wait_serving(args: WaitArgs) -> anyhow::Result<()> {
    use tonic_health::pb::health_check_response::ServingStatus;
    use tonic_health::pb::health_client::HealthClient;
    use tonic_health::pb::HealthCheckRequest;

    let started = Instant::now();
    let deadline = started + args.timeout;
    let endpoint = tonic::transport::Endpoint::from_shared(args.target.clone())?
        .connect_timeout(Duration::from_millis(200));
    let mut last = String::from("not reachable");
    while Instant::now() < deadline {
        if let Ok(channel) = endpoint.connect().await {
            let mut client = HealthClient::new(channel);
            // Keep this connection while polling; a new one each time would add handshakes.
            while Instant::now() < deadline {
                match client
                    .check(HealthCheckRequest {
                        service: args.service.clone(),
                    })
                    .await
                {
                    Ok(response) if response.get_ref().status == ServingStatus::Serving as i32 => {
                        let now_ns = SystemTime::now()
                            .duration_since(UNIX_EPOCH)
                            .map(|d| d.as_nanos())
                            .unwrap_or_default();
                        let startup_ms = args
                            .since_unix_ns
                            .map(|t0| now_ns.saturating_sub(t0) as f64 / 1e6);
                        let json = serde_json::json!({
                            "serving": true,
                            "startup_ms": startup_ms,
                            "waited_ms": started.elapsed().as_secs_f64() * 1e3,
                        });
                        return stdout_line(&json.to_string());
                    }
                    Ok(response) => last = format!("status {}", response.get_ref().status),
                    Err(status) => last = format!("{}", status.code()),
                }
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    bail!(
        "{} not SERVING at {} within {:?} (last: {last})",
        args.service,
        args.target,
        args.timeout
    )
}

async fn h2load_body(args: BodyArgs) -> anyhow::Result<()> {
    let channels = Channels::connect(&args.target, 1).await?;
    let ids = scenarios::seed_customers(&channels, 1).await?;
    let request = csops_proto::customers::v1::GetCustomerRequest {
        customer_id: ids.into_iter().next().context("no customer created")?,
    };
    let message = request.encode_to_vec();
    let mut body = Vec::with_capacity(message.len() + 5);
    body.push(0u8);
    body.extend_from_slice(&u32::try_from(message.len())?.to_be_bytes());
    body.extend_from_slice(&message);
    std::fs::write(&args.out, body).with_context(|| format!("writing {}", args.out.display()))?;
    stdout_line("/csops.customers.v1.CustomersService/GetCustomer")
}

async fn visit_customers(target: &str, count: usize) -> anyhow::Result<()> {
    let channels = Channels::connect(target, 8).await?;
    let started = Instant::now();
    let ids = csops_load::visits::create_customers(&channels, 0, count).await?;
    let json = serde_json::json!({
        "created": ids.len(),
        "seconds": (started.elapsed().as_secs_f64() * 1000.0).round() / 1000.0,
    });
    stdout_line(&json.to_string())
}

fn summarize(dir: &std::path::Path) -> anyhow::Result<()> {
    let summary = csops_load::summary::load(dir)?;
    std::fs::write(
        dir.join("summary.json"),
        serde_json::to_string_pretty(&summary)?,
    )?;
    stdout_line(csops_load::summary::markdown(&summary).trim_end())
}

fn list() -> anyhow::Result<()> {
    for def in scenarios::SCENARIOS {
        stdout_line(&format!(
            "{:<20} {:<11} {}",
            def.name, def.service, def.about
        ))?;
    }
    Ok(())
}
