//! A development token issuer: one random HS256 key in a JWKS file, and tokens signed with it.
//!
//! `csops-suite` creates the key in its data directory on first start (file mode 0600), runs
//! every service against it, and `csops-suite token --role …` signs tokens for grpcurl. Tests
//! use it to mint tokens for each role. Production takes its JWKS from the identity provider;
//! nothing here is used there.

use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use ring::rand::SecureRandom as _;
use serde::Serialize;

use super::{Role, Verifier};

/// The issuer (`iss`) of development tokens.
pub const ISSUER: &str = "csops-dev";

/// The audience (`aud`) every csops service accepts unless configured otherwise.
pub const AUDIENCE: &str = "csops";

/// The key id of the development key.
const KID: &str = "csops-dev-1";

/// Signs development tokens.
pub struct DevIssuer {
    secret: Vec<u8>,
}

impl std::fmt::Debug for DevIssuer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DevIssuer(..)")
    }
}

#[derive(Serialize)]
struct Claims<'a> {
    iss: &'a str,
    aud: &'a str,
    sub: &'a str,
    roles: Vec<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    team: Option<&'a str>,
    iat: u64,
    exp: u64,
}

impl DevIssuer {
    /// A new random 256-bit key.
    pub fn generate() -> Self {
        let mut secret = vec![0u8; 32];
        if ring::rand::SystemRandom::new().fill(&mut secret).is_err() {
            // The OS random source failing is not something to continue after.
            panic!("the operating system's random source failed");
        }
        Self { secret }
    }

    /// Reads the key from a JWKS written by [`DevIssuer::jwks`].
    pub fn from_jwks(text: &str) -> Result<Self, String> {
        let value: serde_json::Value =
            serde_json::from_str(text).map_err(|e| format!("not a JWKS: {e}"))?;
        let secret = value["keys"]
            .as_array()
            .and_then(|keys| keys.iter().find(|k| k["kid"] == KID))
            .and_then(|k| k["k"].as_str())
            .ok_or_else(|| format!("no {KID} key"))?;
        let secret = URL_SAFE_NO_PAD
            .decode(secret)
            .map_err(|e| format!("bad key: {e}"))?;
        Ok(Self { secret })
    }

    /// Reads the key at `path`, or creates it (readable by its owner only).
    pub fn load_or_create(path: &Path) -> Result<Self, String> {
        match std::fs::read_to_string(path) {
            Ok(text) => Self::from_jwks(&text),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
                let issuer = Self::generate();
                if let Some(dir) = path.parent() {
                    std::fs::create_dir_all(dir)
                        .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
                }
                write_private(path, &issuer.jwks())
                    .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
                Ok(issuer)
            }
            Err(error) => Err(format!("cannot read {}: {error}", path.display())),
        }
    }

    /// The JWKS that verifies this issuer's tokens.
    pub fn jwks(&self) -> String {
        serde_json::json!({
            "keys": [{
                "kty": "oct",
                "kid": KID,
                "alg": "HS256",
                "use": "sig",
                "k": URL_SAFE_NO_PAD.encode(&self.secret),
            }]
        })
        .to_string()
    }

    /// A verifier for this issuer's tokens, with the default audience.
    pub fn verifier(&self) -> Verifier {
        match Verifier::from_jwks(&self.jwks(), ISSUER, AUDIENCE) {
            Ok(verifier) => verifier,
            // The JWKS is built above from a 32-byte key: it always parses.
            Err(error) => panic!("the development JWKS does not parse: {error}"),
        }
    }

    /// Signs a token for `subject` with `roles` (and `team`), valid for `ttl`.
    pub fn token(
        &self,
        subject: &str,
        roles: &[Role],
        team: Option<&str>,
        ttl: Duration,
    ) -> String {
        self.token_with(subject, roles, team, ttl, ISSUER, AUDIENCE)
    }

    /// Signs a token with any issuer and audience (tests of refusals).
    pub fn token_with(
        &self,
        subject: &str,
        roles: &[Role],
        team: Option<&str>,
        ttl: Duration,
        issuer: &str,
        audience: &str,
    ) -> String {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs();
        let claims = Claims {
            iss: issuer,
            aud: audience,
            sub: subject,
            roles: roles.iter().map(|r| r.claim()).collect(),
            team,
            iat: now,
            exp: now + ttl.as_secs(),
        };
        let mut header = Header::new(Algorithm::HS256);
        header.kid = Some(KID.to_owned());
        match jsonwebtoken::encode(&header, &claims, &EncodingKey::from_secret(&self.secret)) {
            Ok(token) => token,
            // HS256 over serializable claims cannot fail.
            Err(error) => panic!("cannot sign a development token: {error}"),
        }
    }

    /// A token that expired `ago` ago (tests of refusals).
    pub fn expired_token(&self, subject: &str, roles: &[Role], ago: Duration) -> String {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs();
        let claims = Claims {
            iss: ISSUER,
            aud: AUDIENCE,
            sub: subject,
            roles: roles.iter().map(|r| r.claim()).collect(),
            team: None,
            iat: now.saturating_sub(ago.as_secs() + 3600),
            exp: now.saturating_sub(ago.as_secs()),
        };
        let mut header = Header::new(Algorithm::HS256);
        header.kid = Some(KID.to_owned());
        jsonwebtoken::encode(&header, &claims, &EncodingKey::from_secret(&self.secret))
            .unwrap_or_default()
    }
}

#[cfg(unix)]
fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    file.write_all(text.as_bytes())
}

#[cfg(not(unix))]
fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    std::fs::write(path, text)
}
