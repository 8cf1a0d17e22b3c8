//! Settings every service shares, read from flags and environment variables.
//!
//! Each flag has an environment variable shown in `--help`. A bad value stops the process with
//! a message naming the flag or variable and exit code 64; `--help` exits 0.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Command, FromArgMatches};
use csops_observability::LogFormat;
use secrecy::{ExposeSecret, SecretString};

use crate::auth::{Auth, Credentials, RoleTable, Verifier};
use crate::paging::PageTokens;
use crate::tls::{Tls, TlsFiles};

/// Static facts about one service that shape its settings and its server.
#[derive(Debug, Clone, Copy)]
pub struct ServiceSpec {
    /// Short name, e.g. `customers`: the SQLite file name and the prefix of its database variable.
    pub name: &'static str,
    /// Name of the binary, e.g. `csops-customers`.
    pub binary: &'static str,
    /// One line for `--help`.
    pub about: &'static str,
    /// Fully qualified gRPC service name, reported by the health service.
    pub grpc_service: &'static str,
    /// Default gRPC port on 127.0.0.1.
    pub default_port: u16,
    /// Default metrics port on 127.0.0.1.
    pub default_metrics_port: u16,
    /// Which roles may call each RPC ([`crate::auth`]); a method not listed is refused.
    pub roles: RoleTable,
}

impl ServiceSpec {
    /// Every gRPC service of ours the server serves, with who may call each RPC: the service's
    /// own API and the kit's audit log ([`crate::audit`]). Health and reflection are open.
    pub fn guarded(&self) -> [(&'static str, RoleTable); 2] {
        [
            (self.grpc_service, self.roles),
            (crate::audit::GRPC_SERVICE, crate::audit::ROLES),
        ]
    }

    /// Returns the service's own database variable, e.g. `CUSTOMERS_DATABASE_URL`.
    pub fn database_env(&self) -> String {
        format!("{}_DATABASE_URL", self.name.to_uppercase())
    }
}

/// Where a service keeps its data.
#[derive(Debug, Clone)]
pub struct DatabaseSettings {
    /// `sqlite://…` or `postgres://…`; secret because it may carry a password.
    pub url: SecretString,
    /// Upper bound of pooled connections.
    pub max_connections: u32,
}

impl DatabaseSettings {
    /// Returns true when the URL names a PostgreSQL server.
    pub fn is_postgres(&self) -> bool {
        is_postgres_url(self.url.expose_secret())
    }
}

/// The resolved settings of one service process.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Address the gRPC server binds.
    pub listen_addr: SocketAddr,
    /// Address of the Prometheus metrics endpoint; `None` when switched off.
    pub metrics_addr: Option<SocketAddr>,
    /// Address of a plaintext listener serving only health (for probes when the gRPC port
    /// speaks TLS); `None` when switched off.
    pub health_addr: Option<SocketAddr>,
    /// The service's database.
    pub database: DatabaseSettings,
    /// How long in-flight calls may run after a stop signal.
    pub shutdown_grace: Duration,
    /// How long the server reports NOT_SERVING before it stops accepting calls.
    pub drain_delay: Duration,
    /// Log output format.
    pub log_format: LogFormat,
    /// Signs and checks page tokens, with a key every replica of the service shares.
    pub page_tokens: PageTokens,
    /// Calls worked on at once; more are refused with RESOURCE_EXHAUSTED (health and
    /// reflection excepted).
    pub max_concurrent_calls: usize,
    /// How often HTTP/2 pings check each client connection (a dead peer is dropped after
    /// one unanswered ping); `None`: never.
    pub http2_keepalive: Option<Duration>,
    /// Whether calls need a bearer token, and the keys that verify it.
    pub auth: Auth,
    /// What this service presents to its neighbours (its token; its certificate with TLS).
    pub credentials: Credentials,
    /// Native TLS for the server (off: plaintext, the mesh's mTLS protects the wire).
    pub tls: Tls,
    /// The largest request message the server decodes (after decompression), in bytes; a
    /// larger one is refused with RESOURCE_EXHAUSTED before it is read whole.
    pub max_message_size: usize,
}

/// The largest request message a server decodes unless configured (gRPC's usual 4 MiB).
pub const DEFAULT_MAX_MESSAGE_SIZE: usize = 4 << 20;

/// Calls a server works on at once unless configured.
pub const DEFAULT_MAX_CONCURRENT_CALLS: usize = 128;

impl Settings {
    /// Returns settings for tests: ports chosen by the OS, no metrics port, no drain delay.
    pub fn for_tests(database_url: &str) -> Self {
        Self {
            listen_addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            metrics_addr: None,
            health_addr: None,
            database: DatabaseSettings {
                url: SecretString::from(database_url.to_owned()),
                max_connections: 5,
            },
            shutdown_grace: Duration::from_secs(5),
            drain_delay: Duration::ZERO,
            log_format: LogFormat::Text,
            page_tokens: PageTokens::new(database_url.as_bytes()),
            max_concurrent_calls: DEFAULT_MAX_CONCURRENT_CALLS,
            http2_keepalive: Some(Duration::from_secs(20)),
            auth: Auth::Off,
            credentials: Credentials::none(),
            tls: Tls::off(),
            max_message_size: DEFAULT_MAX_MESSAGE_SIZE,
        }
    }

    /// Returns the default SQLite URL for a service under `data_dir`.
    pub fn sqlite_url(data_dir: &std::path::Path, service: &str) -> String {
        format!(
            "sqlite://{}?mode=rwc",
            data_dir.join(format!("{service}.db")).display()
        )
    }
}

/// Flags shared by every service. Defaults that depend on the service are filled in by
/// [`command`].
#[derive(Debug, Args)]
struct CommonArgs {
    /// Address the gRPC server listens on.
    #[arg(long, env = "CSOPS_LISTEN_ADDR", value_name = "IP:PORT")]
    listen_addr: SocketAddr,
    /// Address of the Prometheus metrics endpoint (GET /metrics), or "off".
    #[arg(long, env = "CSOPS_METRICS_ADDR", value_name = "IP:PORT|off", value_parser = parse_metrics_addr)]
    metrics_addr: MetricsAddr,
    /// Directory of the embedded SQLite database, used when no database URL is given.
    #[arg(
        long,
        env = "CSOPS_DATA_DIR",
        value_name = "DIR",
        default_value = "data"
    )]
    data_dir: PathBuf,
    /// Database URL: postgres://user:password@host:port/db or sqlite://path. Falls back to
    /// DATABASE_URL, then to a SQLite file in --data-dir.
    #[arg(long, value_name = "URL", hide_env_values = true)]
    database_url: Option<String>,
    /// Maximum number of pooled database connections.
    #[arg(long, env = "CSOPS_DB_MAX_CONNECTIONS", value_name = "N", default_value_t = 10,
          value_parser = clap::value_parser!(u32).range(1..=1000))]
    db_max_connections: u32,
    /// How long in-flight calls may finish after SIGTERM/SIGINT, e.g. "20s".
    #[arg(long, env = "CSOPS_SHUTDOWN_GRACE", value_name = "DURATION", default_value = "20s",
          value_parser = parse_duration)]
    shutdown_grace: Duration,
    /// How long health reports NOT_SERVING before the listener closes, e.g. "5s" in Kubernetes.
    #[arg(long, env = "CSOPS_DRAIN_DELAY", value_name = "DURATION", default_value = "0s",
          value_parser = parse_duration)]
    drain_delay: Duration,
    /// Log format: "json", "text", or "auto" (text on a terminal, JSON otherwise).
    #[arg(long, env = "CSOPS_LOG_FORMAT", value_name = "FORMAT", default_value = "auto",
          value_parser = parse_log_format)]
    log_format: LogFormat,
    /// Secret that signs page tokens; every replica of a service needs the same one. Defaults
    /// to one derived from the database URL (shared by the replicas, and secret where it
    /// carries a password).
    #[arg(
        long,
        env = "CSOPS_PAGE_TOKEN_SECRET",
        value_name = "SECRET",
        hide_env_values = true
    )]
    page_token_secret: Option<String>,
    /// Calls worked on at once; beyond it calls are refused at once with RESOURCE_EXHAUSTED
    /// instead of queueing (health and reflection are always answered).
    #[arg(long, env = "CSOPS_MAX_CONCURRENT_CALLS", value_name = "N",
          default_value_t = DEFAULT_MAX_CONCURRENT_CALLS as u32,
          value_parser = clap::value_parser!(u32).range(1..=100_000))]
    max_concurrent_calls: u32,
    /// The largest request message decoded, in bytes (64 KiB to 64 MiB); a larger one is
    /// refused with RESOURCE_EXHAUSTED.
    #[arg(long, env = "CSOPS_MAX_MESSAGE_SIZE", value_name = "BYTES",
          default_value_t = DEFAULT_MAX_MESSAGE_SIZE as u32,
          value_parser = clap::value_parser!(u32).range(65_536..=67_108_864))]
    max_message_size: u32,
    /// How often HTTP/2 pings check each client connection, e.g. "20s", or "off"; a peer
    /// that does not answer one within 10 s is disconnected.
    #[arg(long, env = "CSOPS_HTTP2_KEEPALIVE", value_name = "DURATION|off", default_value = "20s",
          value_parser = parse_keepalive)]
    http2_keepalive: Keepalive,
    /// "jwt": every call but health and reflection needs a bearer token verified against
    /// --auth-jwks; "off": no authentication (local development only).
    #[arg(long, env = "CSOPS_AUTH", value_name = "jwt|off", default_value = "jwt",
          value_parser = ["jwt", "off"])]
    auth: String,
    /// JWKS file with the keys that sign bearer tokens (the identity provider's).
    #[arg(long, env = "CSOPS_AUTH_JWKS", value_name = "FILE")]
    auth_jwks: Option<PathBuf>,
    /// The issuer (`iss`) tokens must name.
    #[arg(long, env = "CSOPS_AUTH_ISSUER", value_name = "ISSUER")]
    auth_issuer: Option<String>,
    /// The audience (`aud`) tokens must name.
    #[arg(long, env = "CSOPS_AUTH_AUDIENCE", value_name = "AUDIENCE", default_value = crate::auth::dev::AUDIENCE)]
    auth_audience: String,
    /// File holding the bearer token this service sends to its neighbours (role "service"),
    /// read again every 30 s so a rotated token is picked up.
    #[arg(long, env = "CSOPS_AUTH_TOKEN_FILE", value_name = "FILE")]
    auth_token_file: Option<PathBuf>,
    /// The service's TLS certificate chain (PEM). With --tls-key the server speaks only TLS,
    /// and the service presents it to https:// neighbours. Default: plaintext (the mesh's
    /// mTLS, e.g. Linkerd, protects the wire).
    #[arg(long, env = "CSOPS_TLS_CERT", value_name = "FILE")]
    tls_cert: Option<PathBuf>,
    /// The private key of --tls-cert (PEM).
    #[arg(long, env = "CSOPS_TLS_KEY", value_name = "FILE")]
    tls_key: Option<PathBuf>,
    /// CA certificates (PEM) a client's certificate must chain to: mutual TLS, a client
    /// without one is refused in the handshake.
    #[arg(long, env = "CSOPS_TLS_CLIENT_CA", value_name = "FILE")]
    tls_client_ca: Option<PathBuf>,
    /// CA certificates (PEM) that https:// neighbours' certificates must chain to.
    #[arg(long, env = "CSOPS_TLS_CA", value_name = "FILE")]
    tls_ca: Option<PathBuf>,
    /// A plaintext listener serving only grpc.health.v1 (no API), e.g. "0.0.0.0:8086", or
    /// "off": the Kubernetes gRPC probe cannot speak TLS, so with --tls-cert the probes ask
    /// here.
    #[arg(long, env = "CSOPS_HEALTH_ADDR", value_name = "IP:PORT|off", default_value = "off",
          value_parser = parse_metrics_addr)]
    health_addr: MetricsAddr,
    /// How often the TLS files are read again, so renewed certificates take effect without a
    /// restart.
    #[arg(long, env = "CSOPS_TLS_RELOAD_INTERVAL", value_name = "DURATION", default_value = "30s",
          value_parser = parse_duration)]
    tls_reload_interval: Duration,
}

fn tls_settings(common: &CommonArgs) -> Result<Tls, ConfigError> {
    let files = TlsFiles {
        cert: common.tls_cert.clone(),
        key: common.tls_key.clone(),
        client_ca: common.tls_client_ca.clone(),
        ca: common.tls_ca.clone(),
    };
    Tls::load(files, common.tls_reload_interval).map_err(|message| ConfigError::Invalid {
        name: "--tls-* / CSOPS_TLS_*".to_owned(),
        message,
    })
}

fn auth_settings(common: &CommonArgs) -> Result<(Auth, Credentials), ConfigError> {
    let invalid = |name: &str, message: String| ConfigError::Invalid {
        name: name.to_owned(),
        message,
    };
    let credentials = match &common.auth_token_file {
        Some(path) => Credentials::from_file(path)
            .map_err(|m| invalid("--auth-token-file / CSOPS_AUTH_TOKEN_FILE", m))?,
        None => Credentials::none(),
    };
    if common.auth == "off" {
        return Ok((Auth::Off, credentials));
    }
    let jwks = common.auth_jwks.as_ref().ok_or_else(|| {
        invalid(
            "--auth-jwks / CSOPS_AUTH_JWKS",
            "required: the keys that verify bearer tokens (\"--auth off\" runs without \
             authentication, for local development only)"
                .to_owned(),
        )
    })?;
    let issuer = common.auth_issuer.as_deref().ok_or_else(|| {
        invalid(
            "--auth-issuer / CSOPS_AUTH_ISSUER",
            "required with --auth-jwks".to_owned(),
        )
    })?;
    let verifier = Verifier::load(jwks, issuer, &common.auth_audience)
        .map_err(|m| invalid("--auth-jwks / CSOPS_AUTH_JWKS", m))?;
    Ok((Auth::Jwt(std::sync::Arc::new(verifier)), credentials))
}

#[derive(Debug, Clone, Copy)]
struct Keepalive(Option<Duration>);

fn parse_keepalive(value: &str) -> Result<Keepalive, String> {
    if value.eq_ignore_ascii_case("off") {
        return Ok(Keepalive(None));
    }
    match parse_duration(value)? {
        d if d.is_zero() => {
            Err("must be longer than 0; use \"off\" to switch pings off".to_owned())
        }
        d => Ok(Keepalive(Some(d))),
    }
}

#[derive(Debug, Clone, Copy)]
struct MetricsAddr(Option<SocketAddr>);

fn parse_metrics_addr(value: &str) -> Result<MetricsAddr, String> {
    if value.eq_ignore_ascii_case("off") {
        return Ok(MetricsAddr(None));
    }
    value
        .parse::<SocketAddr>()
        .map(|addr| MetricsAddr(Some(addr)))
        .map_err(|e| format!("{e}; expected IP:PORT or \"off\""))
}

/// Parses a duration flag such as "500ms", "20s" or "1m".
pub fn parse_duration(value: &str) -> Result<Duration, String> {
    humantime::parse_duration(value).map_err(|e| format!("{e}; expected e.g. \"20s\" or \"1m\""))
}

fn parse_log_format(value: &str) -> Result<LogFormat, String> {
    value.parse::<LogFormat>().map_err(|e| e.to_string())
}

fn is_postgres_url(url: &str) -> bool {
    url.starts_with("postgres://") || url.starts_with("postgresql://")
}

fn leak(text: String) -> &'static str {
    // Runs once per process while building the command line; the strings live as long as it.
    Box::leak(text.into_boxed_str())
}

/// Builds the command line of a service: the shared flags plus the service's own `E`.
pub fn command<E: Args>(spec: &ServiceSpec) -> Command {
    let listen = leak(format!("127.0.0.1:{}", spec.default_port));
    let metrics = leak(format!("127.0.0.1:{}", spec.default_metrics_port));
    let database_env = leak(spec.database_env());
    let command = Command::new(spec.binary)
        .version(env!("CARGO_PKG_VERSION"))
        .after_help(
            "OpenTelemetry: traces are exported over OTLP/gRPC when OTEL_EXPORTER_OTLP_ENDPOINT is set; \
             OTEL_SERVICE_NAME, OTEL_RESOURCE_ATTRIBUTES and OTEL_TRACES_SAMPLER are honoured. \
             RUST_LOG filters the log lines and CSOPS_TRACE_FILTER the exported spans \
             (each default \"info\").",
        );
    let command = CommonArgs::augment_args(command)
        .mut_arg("listen_addr", |a| a.default_value(listen).required(false))
        .mut_arg("metrics_addr", |a| a.default_value(metrics).required(false))
        .mut_arg("database_url", |a| a.env(database_env));
    // Set last: deriving `Args` copies the flag structs' doc comments into the description.
    E::augment_args(command)
        .about(spec.about)
        .long_about(None::<&str>)
}

/// Why settings could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// A flag or variable was malformed, or `--help`/`--version` was asked for.
    #[error(transparent)]
    Cli(#[from] clap::Error),
    /// A value parsed but is not acceptable.
    #[error("invalid {name}: {message}")]
    Invalid {
        /// The flag or variable at fault.
        name: String,
        /// What is wrong with it.
        message: String,
    },
}

/// Parses settings from `args`, reading `DATABASE_URL` through `env` as the last fallback.
pub fn try_parse_from<E, I, T>(
    spec: &ServiceSpec,
    args: I,
    env: impl Fn(&str) -> Option<String>,
) -> Result<(Settings, E), ConfigError>
where
    E: Args + FromArgMatches,
    I: IntoIterator<Item = T>,
    T: Into<std::ffi::OsString> + Clone,
{
    let matches = command::<E>(spec).try_get_matches_from(args)?;
    let common = CommonArgs::from_arg_matches(&matches)?;
    let extra = E::from_arg_matches(&matches)?;
    let (auth, credentials) = auth_settings(&common)?;
    let tls = tls_settings(&common)?;
    let credentials = credentials.with_tls(tls.clone());
    let (url, source) = match (common.database_url, env("DATABASE_URL")) {
        (Some(url), _) => (url, format!("--database-url / {}", spec.database_env())),
        (None, Some(url)) => (url, "DATABASE_URL".to_owned()),
        (None, None) => (
            Settings::sqlite_url(&common.data_dir, spec.name),
            "--data-dir".to_owned(),
        ),
    };
    if !(is_postgres_url(&url) || url.starts_with("sqlite:")) {
        return Err(ConfigError::Invalid {
            name: source,
            message: "expected a URL starting with postgres://, postgresql:// or sqlite:"
                .to_owned(),
        });
    }
    let token_secret = match common.page_token_secret {
        Some(secret) if secret.len() < 16 => {
            return Err(ConfigError::Invalid {
                name: "--page-token-secret / CSOPS_PAGE_TOKEN_SECRET".to_owned(),
                message: "must be at least 16 characters".to_owned(),
            })
        }
        Some(secret) => SecretString::from(secret),
        None => SecretString::from(url.clone()),
    };
    let settings = Settings {
        auth,
        credentials,
        tls,
        page_tokens: PageTokens::new(token_secret.expose_secret().as_bytes()),
        listen_addr: common.listen_addr,
        metrics_addr: common.metrics_addr.0,
        health_addr: common.health_addr.0,
        database: DatabaseSettings {
            url: SecretString::from(url),
            max_connections: common.db_max_connections,
        },
        shutdown_grace: common.shutdown_grace,
        drain_delay: common.drain_delay,
        log_format: common.log_format,
        max_concurrent_calls: usize::try_from(common.max_concurrent_calls)
            .unwrap_or(DEFAULT_MAX_CONCURRENT_CALLS),
        http2_keepalive: common.http2_keepalive.0,
        max_message_size: usize::try_from(common.max_message_size)
            .unwrap_or(DEFAULT_MAX_MESSAGE_SIZE),
    };
    Ok((settings, extra))
}

/// Parses the process's flags and environment, or exits: 0 after `--help`/`--version`,
/// 64 with a precise message on a bad value.
pub fn parse_or_exit<E: Args + FromArgMatches>(spec: &ServiceSpec) -> (Settings, E) {
    match try_parse_from(spec, std::env::args_os(), |name| std::env::var(name).ok()) {
        Ok(parsed) => parsed,
        Err(ConfigError::Cli(error)) => {
            use clap::error::ErrorKind;
            if matches!(
                error.kind(),
                ErrorKind::DisplayHelp | ErrorKind::DisplayVersion
            ) {
                error.exit();
            }
            let _ = error.print();
            std::process::exit(i32::from(crate::EXIT_BAD_CONFIG));
        }
        Err(error @ ConfigError::Invalid { .. }) => {
            eprintln!("error: {error}");
            std::process::exit(i32::from(crate::EXIT_BAD_CONFIG));
        }
    }
}

/// Service-specific flags for a service that has none.
#[derive(Debug, Clone, Args)]
pub struct NoExtraArgs {}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    const SPEC: ServiceSpec = ServiceSpec {
        name: "customers",
        binary: "csops-customers",
        about: "test",
        grpc_service: "csops.customers.v1.CustomersService",
        default_port: 50051,
        default_metrics_port: 9091,
        roles: &[],
    };

    /// Parses `args`; without an --auth flag of their own, with authentication off.
    fn parse(args: &[&str], database_url: Option<&str>) -> Result<Settings, ConfigError> {
        let off: &[&str] = if args.iter().any(|a| a.starts_with("--auth")) {
            &[]
        } else {
            &["--auth", "off"]
        };
        let argv = std::iter::once("csops-customers")
            .chain(off.iter().copied())
            .chain(args.iter().copied());
        try_parse_from::<NoExtraArgs, _, _>(&SPEC, argv, |name| {
            (name == "DATABASE_URL")
                .then(|| database_url.map(str::to_owned))
                .flatten()
        })
        .map(|(settings, _)| settings)
    }

    #[test]
    fn defaults_listen_on_the_service_port_with_sqlite_in_the_data_dir() {
        let settings = parse(&[], None).unwrap();
        assert_eq!(settings.listen_addr.to_string(), "127.0.0.1:50051");
        assert_eq!(settings.metrics_addr.unwrap().to_string(), "127.0.0.1:9091");
        assert_eq!(
            settings.database.url.expose_secret(),
            "sqlite://data/customers.db?mode=rwc"
        );
        assert_eq!(settings.shutdown_grace, Duration::from_secs(20));
    }

    #[test]
    fn overload_limits_have_defaults_and_refuse_nonsense() {
        let settings = parse(&[], None).unwrap();
        assert_eq!(settings.max_concurrent_calls, DEFAULT_MAX_CONCURRENT_CALLS);
        assert_eq!(settings.http2_keepalive, Some(Duration::from_secs(20)));
        let settings = parse(
            &["--max-concurrent-calls", "8", "--http2-keepalive", "off"],
            None,
        )
        .unwrap();
        assert_eq!(settings.max_concurrent_calls, 8);
        assert_eq!(settings.http2_keepalive, None);
        assert_eq!(settings.max_message_size, DEFAULT_MAX_MESSAGE_SIZE);
        let settings = parse(&["--max-message-size", "1048576"], None).unwrap();
        assert_eq!(settings.max_message_size, 1 << 20);
        assert!(parse(&["--max-message-size", "100"], None).is_err());
        for bad in [
            ["--max-concurrent-calls", "0"],
            ["--http2-keepalive", "0s"],
            ["--http2-keepalive", "often"],
        ] {
            let error = parse(&bad, None).unwrap_err();
            assert!(error.to_string().contains(bad[0]), "{error}");
        }
    }

    #[test]
    fn authentication_is_on_unless_switched_off_and_needs_keys_and_an_issuer() {
        let error = parse(&["--auth-audience", "csops"], None).unwrap_err();
        assert!(error.to_string().contains("CSOPS_AUTH_JWKS"), "{error}");
        let dir = tempfile::tempdir().unwrap();
        let jwks = dir.path().join("jwks.json");
        std::fs::write(&jwks, crate::auth::dev::DevIssuer::generate().jwks()).unwrap();
        let jwks = jwks.to_str().unwrap();
        let error = parse(&["--auth-jwks", jwks], None).unwrap_err();
        assert!(error.to_string().contains("CSOPS_AUTH_ISSUER"), "{error}");
        let settings = parse(&["--auth-jwks", jwks, "--auth-issuer", "csops-dev"], None).unwrap();
        assert!(matches!(settings.auth, Auth::Jwt(_)));
        let error = parse(
            &[
                "--auth-jwks",
                "/nonexistent/jwks.json",
                "--auth-issuer",
                "x",
            ],
            None,
        )
        .unwrap_err();
        assert!(error.to_string().contains("cannot read"), "{error}");
        let settings = parse(&["--auth", "off"], None).unwrap();
        assert!(matches!(settings.auth, Auth::Off));
        let error = parse(&["--auth", "maybe"], None).unwrap_err();
        assert!(error.to_string().contains("--auth"), "{error}");
    }

    #[test]
    fn database_url_falls_back_to_the_shared_variable() {
        let settings = parse(&[], Some("postgres://db/x")).unwrap();
        assert!(settings.database.is_postgres());
        let settings = parse(
            &["--database-url", "sqlite://own.db"],
            Some("postgres://db/x"),
        )
        .unwrap();
        assert_eq!(settings.database.url.expose_secret(), "sqlite://own.db");
    }

    #[test]
    fn a_database_url_of_another_kind_is_rejected_naming_its_source() {
        let error = parse(&[], Some("mysql://db/x")).unwrap_err();
        assert!(error.to_string().contains("DATABASE_URL"), "{error}");
    }

    #[test]
    fn metrics_can_be_switched_off_and_bad_durations_are_rejected() {
        assert!(parse(&["--metrics-addr", "off"], None)
            .unwrap()
            .metrics_addr
            .is_none());
        let error = parse(&["--shutdown-grace", "soon"], None).unwrap_err();
        assert!(error.to_string().contains("--shutdown-grace"), "{error}");
    }

    #[test]
    fn a_short_page_token_secret_is_rejected() {
        let error = parse(&["--page-token-secret", "short"], None).unwrap_err();
        assert!(
            error.to_string().contains("CSOPS_PAGE_TOKEN_SECRET"),
            "{error}"
        );
        assert!(parse(&["--page-token-secret", "a-long-enough-secret"], None).is_ok());
    }

    #[test]
    fn help_names_every_environment_variable() {
        let help = command::<NoExtraArgs>(&SPEC).render_long_help().to_string();
        assert!(
            help.starts_with("test\n"),
            "--help opens with the service's description:\n{help}"
        );
        for name in [
            "CSOPS_LISTEN_ADDR",
            "CSOPS_METRICS_ADDR",
            "CSOPS_DATA_DIR",
            "CUSTOMERS_DATABASE_URL",
            "CSOPS_DB_MAX_CONNECTIONS",
            "CSOPS_SHUTDOWN_GRACE",
            "CSOPS_DRAIN_DELAY",
            "CSOPS_LOG_FORMAT",
            "CSOPS_PAGE_TOKEN_SECRET",
            "CSOPS_AUTH",
            "CSOPS_AUTH_JWKS",
            "CSOPS_AUTH_ISSUER",
            "CSOPS_AUTH_AUDIENCE",
            "CSOPS_AUTH_TOKEN_FILE",
            "OTEL_EXPORTER_OTLP_ENDPOINT",
        ] {
            assert!(help.contains(name), "--help lacks {name}:\n{help}");
        }
    }
}
