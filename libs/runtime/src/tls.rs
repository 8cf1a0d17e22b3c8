//! Native TLS, when configured: rustls (ring) on the server and on calls to neighbours, mutual
//! TLS when the server names a client CA, and certificates reloaded without a restart.
//!
//! The default deployment leaves TLS to the mesh (Linkerd's mTLS between pods, see
//! `k8s/README.md`) and serves plaintext. With `--tls-cert` and `--tls-key` the server speaks
//! only TLS (HTTP/2 by ALPN); with `--tls-client-ca` as well it asks every client for a
//! certificate that chains to that CA and refuses the handshake without one (mTLS). A
//! neighbour URL with `https://` is called over TLS, verified against `--tls-ca`, presenting
//! the service's own certificate (the same `--tls-cert`/`--tls-key`: one certificate with the
//! server and client usages, as cert-manager issues them).
//!
//! Every file is read again every `--tls-reload-interval` (30 s), on the next handshake or
//! call after it: a renewed certificate (or CA) takes effect for new connections without a
//! restart, and channels to neighbours reconnect with it. A file that no longer parses keeps
//! the material in use and is logged.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, Semaphore};
use tokio_rustls::rustls::crypto::CryptoProvider;
use tokio_rustls::rustls::pki_types::pem::PemObject as _;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::rustls::server::WebPkiClientVerifier;
use tokio_rustls::rustls::{RootCertStore, ServerConfig};
use tokio_rustls::server::TlsStream;
use tokio_rustls::TlsAcceptor;
use tonic::transport::{Certificate, ClientTlsConfig, Identity};

/// How often the files are read again unless configured.
pub const DEFAULT_RELOAD_INTERVAL: Duration = Duration::from_secs(30);

/// How long a client may take to finish its handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Handshakes in progress at once; a connection beyond them is closed at once (a flood of
/// idle connections must not hold unbounded tasks).
const MAX_HANDSHAKES: usize = 512;

/// Where the TLS material is.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TlsFiles {
    /// The service's certificate chain (PEM): served, and presented to neighbours.
    pub cert: Option<PathBuf>,
    /// Its private key (PEM, PKCS#8, PKCS#1 or SEC1).
    pub key: Option<PathBuf>,
    /// CA(s) a client certificate must chain to; set: mutual TLS.
    pub client_ca: Option<PathBuf>,
    /// CA(s) a neighbour's certificate must chain to (for `https://` neighbour URLs).
    pub ca: Option<PathBuf>,
}

impl TlsFiles {
    fn is_empty(&self) -> bool {
        self.cert.is_none() && self.key.is_none() && self.client_ca.is_none() && self.ca.is_none()
    }

    fn paths(&self) -> [Option<&Path>; 4] {
        [
            self.cert.as_deref(),
            self.key.as_deref(),
            self.client_ca.as_deref(),
            self.ca.as_deref(),
        ]
    }
}

/// The TLS material of one process, followed as its files change; plaintext when empty.
/// Cheap to clone.
#[derive(Clone, Default)]
pub struct Tls(Option<Arc<Inner>>);

impl fmt::Debug for Tls {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            None => f.write_str("Tls(off)"),
            Some(inner) => f
                .debug_struct("Tls")
                .field("files", &inner.files)
                .field("generation", &inner.generation.load(Ordering::Relaxed))
                .finish(),
        }
    }
}

struct Inner {
    files: TlsFiles,
    reload_every: Duration,
    last_check: Mutex<Instant>,
    current: RwLock<Arc<Material>>,
    generation: AtomicU64,
    handshakes: AtomicU64,
}

/// What the files held when last read, and what was built from it.
struct Material {
    /// The bytes of each file, in [`TlsFiles::paths`] order.
    bytes: [Option<Vec<u8>>; 4],
    server: Option<Arc<ServerConfig>>,
}

impl Material {
    fn read(files: &TlsFiles) -> Result<Self, String> {
        let mut bytes: [Option<Vec<u8>>; 4] = Default::default();
        for (slot, path) in bytes.iter_mut().zip(files.paths()) {
            if let Some(path) = path {
                *slot = Some(
                    std::fs::read(path)
                        .map_err(|e| format!("cannot read {}: {e}", path.display()))?,
                );
            }
        }
        Self::build(bytes)
    }

    fn build(bytes: [Option<Vec<u8>>; 4]) -> Result<Self, String> {
        let [cert, key, client_ca, ca] = &bytes;
        let server = match (cert, key) {
            (Some(cert), Some(key)) => {
                Some(Arc::new(server_config(cert, key, client_ca.as_deref())?))
            }
            (None, None) => {
                if client_ca.is_some() {
                    return Err("--tls-client-ca needs --tls-cert and --tls-key".to_owned());
                }
                None
            }
            _ => return Err("--tls-cert and --tls-key go together".to_owned()),
        };
        if let Some(ca) = ca {
            roots(ca, "--tls-ca")?;
        }
        Ok(Self { bytes, server })
    }

    fn client_config(&self, domain: &str) -> Option<ClientTlsConfig> {
        let [cert, key, _, ca] = &self.bytes;
        let mut config = ClientTlsConfig::new()
            .ca_certificate(Certificate::from_pem(ca.as_ref()?))
            .domain_name(domain);
        if let (Some(cert), Some(key)) = (cert, key) {
            config = config.identity(Identity::from_pem(cert, key));
        }
        Some(config)
    }
}

/// rustls with ring, which the tree has already (jsonwebtoken); aws-lc-rs would add a C
/// build to every CI run. rustls marks ring's provider deprecated because it lacks the
/// post-quantum key exchange (X25519MLKEM768): connections use X25519 and the NIST curves.
#[allow(deprecated)]
fn provider() -> Arc<CryptoProvider> {
    Arc::new(tokio_rustls::rustls::crypto::ring::default_provider())
}

fn certificates(pem: &[u8], what: &str) -> Result<Vec<CertificateDer<'static>>, String> {
    let certs = CertificateDer::pem_slice_iter(pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("{what}: not PEM certificates: {e}"))?;
    if certs.is_empty() {
        return Err(format!("{what}: no certificate in the file"));
    }
    Ok(certs)
}

fn roots(pem: &[u8], what: &str) -> Result<RootCertStore, String> {
    let mut roots = RootCertStore::empty();
    for cert in certificates(pem, what)? {
        roots
            .add(cert)
            .map_err(|e| format!("{what}: not a usable CA certificate: {e}"))?;
    }
    Ok(roots)
}

fn server_config(
    cert: &[u8],
    key: &[u8],
    client_ca: Option<&[u8]>,
) -> Result<ServerConfig, String> {
    let chain = certificates(cert, "--tls-cert")?;
    let key = PrivateKeyDer::from_pem_slice(key)
        .map_err(|e| format!("--tls-key: not a PEM private key: {e}"))?;
    let builder = ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS: {e}"))?;
    let builder = match client_ca {
        Some(pem) => {
            let verifier = WebPkiClientVerifier::builder_with_provider(
                Arc::new(roots(pem, "--tls-client-ca")?),
                provider(),
            )
            .build()
            .map_err(|e| format!("--tls-client-ca: {e}"))?;
            builder.with_client_cert_verifier(verifier)
        }
        None => builder.with_no_client_auth(),
    };
    let mut config = builder
        .with_single_cert(chain, key)
        .map_err(|e| format!("--tls-cert/--tls-key: {e}"))?;
    config.alpn_protocols = vec![b"h2".to_vec()];
    Ok(config)
}

impl Tls {
    /// Plaintext: no TLS anywhere.
    pub fn off() -> Self {
        Self(None)
    }

    /// Reads `files` (all of them must parse) and follows them every `reload_every`; plaintext
    /// when no file is named.
    pub fn load(files: TlsFiles, reload_every: Duration) -> Result<Self, String> {
        if files.is_empty() {
            return Ok(Self(None));
        }
        let material = Material::read(&files)?;
        Ok(Self(Some(Arc::new(Inner {
            files,
            reload_every,
            last_check: Mutex::new(Instant::now()),
            current: RwLock::new(Arc::new(material)),
            generation: AtomicU64::new(0),
            handshakes: AtomicU64::new(0),
        }))))
    }

    /// Returns true when the server speaks TLS.
    pub fn serves_tls(&self) -> bool {
        self.current().is_some_and(|m| m.server.is_some())
    }

    /// How many times the material changed since it was loaded (reading the files again when
    /// due): a channel reconnects when it moves.
    pub fn generation(&self) -> u64 {
        self.0.as_ref().map_or(0, |inner| {
            inner.refresh_if_due();
            inner.generation.load(Ordering::Acquire)
        })
    }

    /// How many TLS handshakes the server completed (a connection each).
    pub fn handshakes(&self) -> u64 {
        self.0
            .as_ref()
            .map_or(0, |inner| inner.handshakes.load(Ordering::Relaxed))
    }

    /// How often the files are read again; `None` when TLS is off.
    pub fn reload_every(&self) -> Option<Duration> {
        self.0.as_ref().map(|inner| inner.reload_every)
    }

    /// The server's TLS configuration, reading the files again when due.
    pub fn server_config(&self) -> Option<Arc<ServerConfig>> {
        self.current()?.server.clone()
    }

    /// The configuration of a TLS connection to the neighbour `domain` (the name its
    /// certificate must carry), reading the files again when due; `None` without `--tls-ca`.
    pub fn client_config(&self, domain: &str) -> Option<ClientTlsConfig> {
        self.current()?.client_config(domain)
    }

    fn current(&self) -> Option<Arc<Material>> {
        let inner = self.0.as_ref()?;
        inner.refresh_if_due();
        Some(
            inner
                .current
                .read()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .clone(),
        )
    }
}

impl Inner {
    fn refresh_if_due(&self) {
        {
            let mut last = self
                .last_check
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            if last.elapsed() < self.reload_every {
                return;
            }
            *last = Instant::now();
        }
        let mut bytes: [Option<Vec<u8>>; 4] = Default::default();
        for (slot, path) in bytes.iter_mut().zip(self.files.paths()) {
            if let Some(path) = path {
                match std::fs::read(path) {
                    Ok(read) => *slot = Some(read),
                    Err(error) => {
                        tracing::warn!(path = %path.display(), %error, "cannot read a TLS file; keeping the material in use");
                        return;
                    }
                }
            }
        }
        let unchanged = self
            .current
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .bytes
            == bytes;
        if unchanged {
            return;
        }
        match Material::build(bytes) {
            Ok(material) => {
                *self
                    .current
                    .write()
                    .unwrap_or_else(std::sync::PoisonError::into_inner) = Arc::new(material);
                let generation = self.generation.fetch_add(1, Ordering::AcqRel) + 1;
                tracing::info!(generation, "TLS certificates reloaded");
            }
            Err(error) => {
                tracing::warn!(%error, "TLS files changed but do not parse; keeping the material in use");
            }
        }
    }
}

/// The connections a TLS server serves: each accepted TCP connection's handshake runs in its
/// own task (a slow client holds no one else up), at most [`MAX_HANDSHAKES`] at once, with
/// the configuration current when it arrived. The listener closes when `stop` is cancelled
/// (the server began to drain: a new client is refused at once, not left waiting) or the
/// receiver is dropped.
pub fn incoming(
    listener: TcpListener,
    tls: Tls,
    stop: tokio_util::sync::CancellationToken,
) -> tokio_stream::wrappers::ReceiverStream<Result<TlsStream<TcpStream>, std::io::Error>> {
    let (tx, rx) = mpsc::channel(64);
    let handshakes = Arc::new(Semaphore::new(MAX_HANDSHAKES));
    tokio::spawn(async move {
        loop {
            let accepted = tokio::select! {
                accepted = listener.accept() => accepted,
                () = tx.closed() => return,
                () = stop.cancelled() => return,
            };
            let (tcp, peer) = match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    // Out of file descriptors and the like: wait a little, do not spin.
                    tracing::warn!(%error, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            };
            let Ok(permit) = handshakes.clone().try_acquire_owned() else {
                tracing::debug!(%peer, "too many TLS handshakes in progress; connection closed");
                continue;
            };
            let Some(config) = tls.server_config() else {
                continue;
            };
            // As tonic's own listener: with Nagle on, a response written in two segments
            // waits for the client's delayed ACK.
            let _ = tcp.set_nodelay(true);
            let tx = tx.clone();
            let tls = tls.clone();
            tokio::spawn(async move {
                let handshake = TlsAcceptor::from(config).accept(tcp);
                match tokio::time::timeout(HANDSHAKE_TIMEOUT, handshake).await {
                    Ok(Ok(stream)) => {
                        drop(permit);
                        if let Some(inner) = &tls.0 {
                            inner.handshakes.fetch_add(1, Ordering::Relaxed);
                        }
                        let _ = tx.send(Ok(stream)).await;
                    }
                    Ok(Err(error)) => {
                        tracing::debug!(%peer, %error, "TLS handshake refused");
                    }
                    Err(_) => tracing::debug!(%peer, "TLS handshake timed out"),
                }
            });
        }
    });
    tokio_stream::wrappers::ReceiverStream::new(rx)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests;
