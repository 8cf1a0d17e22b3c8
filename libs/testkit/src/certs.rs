//! Certificates for TLS tests: a throwaway CA that issues certificates for the names a test
//! connects to (DNS names or IP addresses), each usable by a server and by a client (mTLS).

use std::path::{Path, PathBuf};

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose, SanType,
};

/// A certificate authority made for one test.
pub struct TestCa {
    issuer: Issuer<'static, KeyPair>,
    pem: String,
}

impl std::fmt::Debug for TestCa {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TestCa")
    }
}

/// A certificate and its private key, as PEM.
#[derive(Debug, Clone)]
pub struct Issued {
    /// The certificate.
    pub cert: String,
    /// Its private key (PKCS#8).
    pub key: String,
}

impl TestCa {
    /// A new CA named `name`.
    ///
    /// # Panics
    /// When rcgen cannot make a key or sign (a defect).
    pub fn new(name: &str) -> Self {
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("CA parameters");
        params.distinguished_name.push(DnType::CommonName, name);
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let key = KeyPair::generate().expect("a CA key");
        let cert = params.self_signed(&key).expect("a self-signed CA");
        Self {
            pem: cert.pem(),
            issuer: Issuer::new(params, key),
        }
    }

    /// The CA's certificate (PEM): what a peer trusts.
    pub fn pem(&self) -> &str {
        &self.pem
    }

    /// Issues a certificate for `names` (DNS names or IP addresses), for servers and clients.
    ///
    /// # Panics
    /// When a name is not a valid DNS name, or rcgen cannot sign (a defect).
    pub fn issue(&self, names: &[&str]) -> Issued {
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("leaf parameters");
        params.distinguished_name.push(
            DnType::CommonName,
            names.first().copied().unwrap_or("csops"),
        );
        params.subject_alt_names = names
            .iter()
            .map(|name| match name.parse::<std::net::IpAddr>() {
                Ok(ip) => SanType::IpAddress(ip),
                Err(_) => SanType::DnsName((*name).try_into().expect("a DNS name")),
            })
            .collect();
        params.key_usages = vec![
            KeyUsagePurpose::DigitalSignature,
            KeyUsagePurpose::KeyEncipherment,
        ];
        params.extended_key_usages = vec![
            ExtendedKeyUsagePurpose::ServerAuth,
            ExtendedKeyUsagePurpose::ClientAuth,
        ];
        let key = KeyPair::generate().expect("a leaf key");
        let cert = params.signed_by(&key, &self.issuer).expect("a signed leaf");
        Issued {
            cert: cert.pem(),
            key: key.serialize_pem(),
        }
    }

    /// Writes the CA to `dir/<stem>.pem`; returns the path.
    ///
    /// # Panics
    /// When the file cannot be written.
    pub fn write(&self, dir: &Path, stem: &str) -> PathBuf {
        let path = dir.join(format!("{stem}.pem"));
        write_atomically(&path, &self.pem);
        path
    }
}

impl Issued {
    /// Writes the certificate and key to `dir/<stem>.pem` and `dir/<stem>.key`, each replaced
    /// in one rename (as a Kubernetes Secret volume swaps its files); returns the paths.
    ///
    /// # Panics
    /// When the files cannot be written.
    pub fn write(&self, dir: &Path, stem: &str) -> (PathBuf, PathBuf) {
        let cert = dir.join(format!("{stem}.pem"));
        let key = dir.join(format!("{stem}.key"));
        write_atomically(&cert, &self.cert);
        write_atomically(&key, &self.key);
        (cert, key)
    }
}

fn write_atomically(path: &Path, text: &str) {
    let temporary = path.with_extension("tmp");
    std::fs::write(&temporary, text).expect("write a test certificate");
    std::fs::rename(&temporary, path).expect("move a test certificate in place");
}
