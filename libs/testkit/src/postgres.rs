//! A throwaway PostgreSQL server for tests, started by the test process itself.
//!
//! The first call in a process runs `initdb` into a temporary directory and starts `postgres`
//! on a free 127.0.0.1 port with durability switched off (tests need speed, not crash
//! safety). A watchdog shell stops the server and deletes its directory when the test
//! process exits. When running as root (CI, containers) the server runs as the `postgres`
//! user, as PostgreSQL refuses root. Each call to [`fresh_database`] creates an empty
//! database, so tests never see each other's rows.
//!
//! `CSOPS_TEST_PG_BINDIR` overrides where the PostgreSQL binaries are looked for.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use sqlx::{Connection, Executor, PgConnection};

/// A running throwaway PostgreSQL server.
#[derive(Debug)]
pub struct PgServer {
    port: u16,
}

impl PgServer {
    /// Returns the URL of database `name` on this server.
    pub fn url(&self, name: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{name}", self.port)
    }

    /// Returns the server's port.
    pub fn port(&self) -> u16 {
        self.port
    }
}

static SERVER: OnceLock<PgServer> = OnceLock::new();
static NEXT_DB: AtomicU32 = AtomicU32::new(0);

/// Returns the process's PostgreSQL server, starting it on first use.
///
/// # Panics
/// Panics with the server's own output when it cannot be started.
pub fn server() -> &'static PgServer {
    SERVER.get_or_init(|| start().unwrap_or_else(|e| panic!("cannot start PostgreSQL: {e}")))
}

/// Creates an empty database on the process's server and returns its URL.
///
/// # Panics
/// Panics when the server cannot be started or the database cannot be created.
pub async fn fresh_database() -> String {
    let server = server();
    let name = format!(
        "t{}_{}",
        std::process::id(),
        NEXT_DB.fetch_add(1, Ordering::Relaxed)
    );
    let mut conn = PgConnection::connect(&server.url("postgres"))
        .await
        .unwrap_or_else(|e| panic!("cannot connect to the test PostgreSQL: {e}"));
    conn.execute(format!("CREATE DATABASE {name}").as_str())
        .await
        .unwrap_or_else(|e| panic!("cannot create database {name}: {e}"));
    let _ = conn.close().await;
    server.url(&name)
}

fn bindir() -> Result<PathBuf, String> {
    if let Ok(dir) = std::env::var("CSOPS_TEST_PG_BINDIR") {
        return Ok(PathBuf::from(dir));
    }
    for version in ["15", "16", "17", "14"] {
        let dir = PathBuf::from(format!("/usr/lib/postgresql/{version}/bin"));
        if dir.join("postgres").exists() {
            return Ok(dir);
        }
    }
    let out = Command::new("pg_config").arg("--bindir").output();
    match out {
        Ok(out) if out.status.success() => {
            Ok(PathBuf::from(String::from_utf8_lossy(&out.stdout).trim()))
        }
        _ => Err(
            "no PostgreSQL binaries found (install postgresql, or set CSOPS_TEST_PG_BINDIR)".into(),
        ),
    }
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

/// Wraps a command so it runs as `postgres` when we are root.
fn as_pg_user(root: bool, program: &Path) -> Command {
    if root {
        let mut cmd = Command::new("setpriv");
        cmd.args(["--reuid=postgres", "--regid=postgres", "--init-groups"]);
        cmd.arg(program);
        cmd
    } else {
        Command::new(program)
    }
}

fn free_port() -> Result<u16, String> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
    listener
        .local_addr()
        .map(|a| a.port())
        .map_err(|e| e.to_string())
}

fn start() -> Result<PgServer, String> {
    let bin = bindir()?;
    let root = is_root();
    let (dir, data) = initdb(&bin, root)?;

    // The port is probed then released; another process could take it in between, so retry.
    let mut last_error = String::new();
    for _ in 0..5 {
        let port = free_port()?;
        let postgres = as_pg_user(root, &bin.join("postgres"));
        let postgres_cmd = std::iter::once(postgres.get_program().to_string_lossy().into_owned())
            .chain(
                postgres
                    .get_args()
                    .map(|a| a.to_string_lossy().into_owned()),
            )
            .chain([
                "-D".to_owned(),
                data.display().to_string(),
                "-p".to_owned(),
                port.to_string(),
                "-c".to_owned(),
                "listen_addresses=127.0.0.1".to_owned(),
                "-c".to_owned(),
                format!("unix_socket_directories={}", dir.display()),
                "-c".to_owned(),
                "fsync=off".to_owned(),
                "-c".to_owned(),
                "synchronous_commit=off".to_owned(),
                "-c".to_owned(),
                "full_page_writes=off".to_owned(),
                "-c".to_owned(),
                "max_connections=400".to_owned(),
                "-c".to_owned(),
                "shared_buffers=64MB".to_owned(),
            ])
            .map(|arg| shell_quote(&arg))
            .collect::<Vec<_>>()
            .join(" ");
        // The watchdog outlives nothing: when the test process is gone it stops the server
        // (SIGINT = fast shutdown) and removes the directory.
        let script = format!(
            "{postgres_cmd} >{log} 2>&1 & pg=$!; \
             while kill -0 {parent} 2>/dev/null && kill -0 $pg 2>/dev/null; do sleep 0.5; done; \
             kill -INT $pg 2>/dev/null; wait $pg; rm -rf {dir}",
            log = shell_quote(&dir.join("log").display().to_string()),
            parent = std::process::id(),
            dir = shell_quote(&dir.display().to_string()),
        );
        Command::new("sh")
            .arg("-c")
            .arg(script)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("cannot spawn postgres: {e}"))?;
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
                && Command::new(bin.join("pg_isready"))
                    .args([
                        "-h",
                        "127.0.0.1",
                        "-p",
                        &port.to_string(),
                        "-U",
                        "postgres",
                        "-q",
                    ])
                    .status()
                    .map(|s| s.success())
                    .unwrap_or(false)
            {
                return Ok(PgServer { port });
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        last_error = std::fs::read_to_string(dir.join("log")).unwrap_or_default();
    }
    Err(format!("postgres did not become ready: {last_error}"))
}

/// Creates a fresh cluster in a new temporary directory; returns (directory, data directory).
fn initdb(bin: &Path, root: bool) -> Result<(PathBuf, PathBuf), String> {
    static NEXT_DIR: AtomicU32 = AtomicU32::new(0);
    let dir = std::env::temp_dir().join(format!(
        "csops-pg-{}-{}",
        std::process::id(),
        NEXT_DIR.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let data = dir.join("data");
    if root {
        let status = Command::new("chown")
            .args(["-R", "postgres:postgres"])
            .arg(&dir)
            .status()
            .map_err(|e| e.to_string())?;
        if !status.success() {
            return Err("chown to the postgres user failed (is there a postgres user?)".into());
        }
    }
    let out = as_pg_user(root, &bin.join("initdb"))
        .args([
            "-A",
            "trust",
            "-U",
            "postgres",
            "-E",
            "UTF8",
            "--locale=C",
            "--no-sync",
            "-D",
        ])
        .arg(&data)
        .output()
        .map_err(|e| format!("initdb: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "initdb failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    Ok((dir, data))
}

/// A PostgreSQL server one test owns and may restart (fault tests): started with `pg_ctl`, at
/// PostgreSQL's default durability except `fsync` (the tests restart the server, not the
/// machine, so what reached the OS survives), stopped and deleted when dropped or when the
/// test process is gone.
#[derive(Debug)]
pub struct Dedicated {
    bin: PathBuf,
    root: bool,
    data: PathBuf,
    log: PathBuf,
    port: u16,
}

impl Dedicated {
    /// Initializes and starts a server on a free port.
    ///
    /// # Panics
    /// Panics with PostgreSQL's output when it cannot be started.
    pub fn start() -> Self {
        Self::try_start().unwrap_or_else(|e| panic!("cannot start a dedicated PostgreSQL: {e}"))
    }

    fn try_start() -> Result<Self, String> {
        let bin = bindir()?;
        let root = is_root();
        let (dir, data) = initdb(&bin, root)?;
        let port = free_port()?;
        let server = Self {
            bin,
            root,
            data,
            log: dir.join("log"),
            port,
        };
        let options = format!(
            "-p {port} -c listen_addresses=127.0.0.1 -c unix_socket_directories={} -c fsync=off -c max_connections=200",
            dir.display()
        );
        server.pg_ctl(&["start", "-w", "-t", "60"], &options)?;
        // When the test process is gone (even killed), stop the server and remove it all.
        let watchdog = format!(
            "while kill -0 {parent} 2>/dev/null; do sleep 0.5; done; {stop} -D {data} -m immediate stop; rm -rf {dir}",
            parent = std::process::id(),
            stop = server
                .pg_ctl_command()
                .iter()
                .map(|a| shell_quote(a))
                .collect::<Vec<_>>()
                .join(" "),
            data = shell_quote(&server.data.display().to_string()),
            dir = shell_quote(&dir.display().to_string()),
        );
        Command::new("sh")
            .arg("-c")
            .arg(watchdog)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("cannot spawn the watchdog: {e}"))?;
        Ok(server)
    }

    /// The URL of database `name`.
    pub fn url(&self, name: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{name}", self.port)
    }

    /// Creates database `name` and returns its URL.
    ///
    /// # Panics
    /// When the database cannot be created.
    pub async fn database(&self, name: &str) -> String {
        let mut conn = PgConnection::connect(&self.url("postgres"))
            .await
            .unwrap_or_else(|e| panic!("cannot connect to the dedicated PostgreSQL: {e}"));
        conn.execute(format!("CREATE DATABASE {name}").as_str())
            .await
            .unwrap_or_else(|e| panic!("cannot create database {name}: {e}"));
        let _ = conn.close().await;
        self.url(name)
    }

    /// Restarts the server as after a crash (`pg_ctl restart -m immediate`: every session
    /// cut, no checkpoint, recovery from the WAL on start) and waits until it accepts
    /// connections again, on the same port.
    ///
    /// # Panics
    /// When it does not come back.
    pub fn crash_and_restart(&self) {
        self.pg_ctl(&["restart", "-m", "immediate", "-w", "-t", "60"], "")
            .unwrap_or_else(|e| panic!("PostgreSQL did not restart: {e}"));
    }

    fn pg_ctl_command(&self) -> Vec<String> {
        let cmd = as_pg_user(self.root, &self.bin.join("pg_ctl"));
        std::iter::once(cmd.get_program().to_string_lossy().into_owned())
            .chain(cmd.get_args().map(|a| a.to_string_lossy().into_owned()))
            .collect()
    }

    /// Runs pg_ctl on the cluster. The server it starts writes to the log file: were its
    /// output pg_ctl's (a pipe), reading that pipe to its end would wait for the server.
    fn pg_ctl(&self, args: &[&str], options: &str) -> Result<(), String> {
        let mut cmd = as_pg_user(self.root, &self.bin.join("pg_ctl"));
        cmd.args(args);
        cmd.arg("-l").arg(&self.log);
        cmd.arg("-D").arg(&self.data);
        if !options.is_empty() {
            cmd.args(["-o", options]);
        }
        let out = cmd
            .stdin(Stdio::null())
            .output()
            .map_err(|e| format!("pg_ctl: {e}"))?;
        if out.status.success() {
            Ok(())
        } else {
            Err(format!(
                "pg_ctl {args:?} failed: {}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ))
        }
    }
}

impl Drop for Dedicated {
    fn drop(&mut self) {
        let _ = self.pg_ctl(&["stop", "-m", "immediate"], "");
    }
}

fn shell_quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', r"'\''"))
}
