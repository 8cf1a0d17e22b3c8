//! Who is calling, and may they: bearer tokens (JWT) checked on every call, against one role
//! table per service.
//!
//! Every call to a service's own RPCs must carry `authorization: Bearer <JWT>`; health and
//! reflection never need one (probes and grpcurl `list`/`describe`). The token is verified
//! against the keys of a JWKS file (HS256/384/512, RS*, PS*, ES256/384, EdDSA: each key's
//! `alg`, or the algorithm its type implies), and its `iss`, `aud`, `exp` (and `nbf` when
//! present) are checked, with 30 s of leeway for clock skew. A missing, malformed, expired,
//! forged or foreign token is UNAUTHENTICATED; a valid token whose roles the service's
//! [`RoleTable`] does not list for the method is PERMISSION_DENIED. Neither reaches the service,
//! so bad tokens cost a signature check and nothing else.
//!
//! The caller's [`Principal`] (subject, roles, team) is put in the request's extensions; the
//! API reads it with [`principal`] to record the actor, mask personal data and check that an
//! agent touches only their own records.
//!
//! Claims: `sub` (the actor id), `roles` (any of `agent`, `supervisor`, `manager`,
//! `field_engineer`, `ops`, `service`; unknown names are ignored), `team` (optional). A manager
//! may call whatever a supervisor may.
//!
//! The caller is also kept for the call's task ([`caller`]): the services record the actor of
//! a change from it, never from a request field the caller fills in.
//!
//! Calls to neighbours carry the service's own token ([`Credentials`], a file re-read as it is
//! rotated), so the neighbour sees the `service` role.

use std::collections::BTreeSet;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use futures_util::future::{Either, Ready};
use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, JwkSet};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;
use tokio::task::futures::TaskLocalFuture;
use tower_layer::Layer;
use tower_service::Service;

/// Leeway on `exp` and `nbf` for clocks that disagree a little.
const LEEWAY_SECONDS: u64 = 30;

/// How often a followed JWKS file is looked at, so a key the provider adds is picked up.
const JWKS_REFRESH: Duration = Duration::from_secs(30);

/// The shortest time between two looks at the JWKS file caused by unknown key ids (a flood
/// of tokens naming made-up keys must not turn into a flood of file reads).
const JWKS_UNKNOWN_KID_REFRESH: Duration = Duration::from_secs(5);

/// How many verified tokens a server remembers, and for how long at most: a token seen again
/// (every call of a client holding one token does) costs a lookup instead of a signature
/// check, the most expensive step with RSA or ECDSA keys.
const VERIFIED_TOKENS: u64 = 10_000;
const VERIFIED_FOR: Duration = Duration::from_secs(300);

/// How often a token file is read again, so a rotated token is picked up.
const TOKEN_FILE_REFRESH: Duration = Duration::from_secs(30);

/// What a caller may do, named by the token's `roles` claim.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Role {
    /// A service agent: handles customers and cases (the ones assigned to them).
    Agent,
    /// A team lead: everything an agent does, for every record, plus approvals and policy.
    Supervisor,
    /// A manager: whatever a supervisor may call, with a manager's authority (the larger
    /// compensations, the decisions the handbooks reserve to management).
    Manager,
    /// A field engineer: visits and field jobs.
    FieldEngineer,
    /// Operations: reads and watches, never changes; personal data masked.
    Ops,
    /// Another csops service calling on a system's behalf.
    Service,
}

impl Role {
    /// Every role, in table order.
    pub const ALL: [Role; 6] = [
        Role::Agent,
        Role::Supervisor,
        Role::Manager,
        Role::FieldEngineer,
        Role::Ops,
        Role::Service,
    ];

    /// The role's name in a token's `roles` claim.
    pub fn claim(self) -> &'static str {
        match self {
            Role::Agent => "agent",
            Role::Supervisor => "supervisor",
            Role::Manager => "manager",
            Role::FieldEngineer => "field_engineer",
            Role::Ops => "ops",
            Role::Service => "service",
        }
    }

    /// Reads a role name from a token (`None` for a name csops does not know).
    pub fn from_claim(name: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.claim() == name)
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.claim())
    }
}

/// Which roles may call each RPC of one service: `(method name, roles)`, one row per RPC of
/// the service's proto. A method missing from the table is refused to everyone.
pub type RoleTable = &'static [(&'static str, &'static [Role])];

/// Roles that may read (and watch), used by most tables' Get/List rows.
pub const READERS: &[Role] = &[
    Role::Agent,
    Role::Supervisor,
    Role::FieldEngineer,
    Role::Ops,
    Role::Service,
];

/// Returns true when a row listing `allowed` admits `role`: listed, or a manager where a
/// supervisor is.
pub fn permits(allowed: &[Role], role: Role) -> bool {
    allowed.contains(&role) || (role == Role::Manager && allowed.contains(&Role::Supervisor))
}

/// Returns the roles `table` lets call `method`, or `None` when it does not list it.
pub fn allowed(table: RoleTable, method: &str) -> Option<&'static [Role]> {
    table
        .iter()
        .find(|(name, _)| *name == method)
        .map(|(_, roles)| *roles)
}

/// Agents and their leads: the people who work a customer's records.
pub const AGENTS: &[Role] = &[Role::Agent, Role::Supervisor];

/// Supervisors only: approvals, policy, deletions.
pub const SUPERVISORS: &[Role] = &[Role::Supervisor];

/// Checks that `table` lists every RPC of `grpc_service` in the compiled contract exactly
/// once, and nothing else; each service's test calls it, so a new RPC without a row (which
/// would be refused to everyone) fails the build's tests.
pub fn check_table(table: RoleTable, grpc_service: &str) -> Result<(), String> {
    use prost::Message as _;
    let set = prost_types::FileDescriptorSet::decode(csops_proto::FILE_DESCRIPTOR_SET)
        .map_err(|e| format!("cannot read the descriptor set: {e}"))?;
    let (package, service) = grpc_service
        .rsplit_once('.')
        .ok_or_else(|| format!("{grpc_service} is not a qualified name"))?;
    let methods: BTreeSet<String> = set
        .file
        .iter()
        .filter(|f| f.package() == package)
        .flat_map(|f| f.service.iter())
        .filter(|s| s.name() == service)
        .flat_map(|s| s.method.iter().map(|m| m.name().to_owned()))
        .collect();
    if methods.is_empty() {
        return Err(format!("the contract has no service {grpc_service}"));
    }
    let mut listed = BTreeSet::new();
    let mut problems = Vec::new();
    for (method, roles) in table {
        if !listed.insert((*method).to_owned()) {
            problems.push(format!("{method} is listed twice"));
        }
        if !methods.contains(*method) {
            problems.push(format!("{method} is not an RPC of {grpc_service}"));
        }
        if roles.is_empty() {
            problems.push(format!("{method} lists no role"));
        }
    }
    for method in methods.difference(&listed) {
        problems.push(format!("{method} has no row"));
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems.join("; "))
    }
}

/// The verified caller of a call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// The token's `sub`: the actor id recorded in timelines and audit.
    pub subject: String,
    /// The roles csops knows among the token's `roles`.
    pub roles: BTreeSet<Role>,
    /// The token's `team`, when it has one.
    pub team: Option<String>,
}

impl Principal {
    /// Returns true when the caller holds `role`.
    pub fn has(&self, role: Role) -> bool {
        self.roles.contains(&role)
    }

    /// Returns true when the caller holds any of `roles` (a manager counts as a supervisor).
    pub fn has_any(&self, roles: &[Role]) -> bool {
        self.roles.iter().any(|r| permits(roles, *r))
    }

    /// The role the caller acts in when a change records its actor: the one with the most
    /// authority among theirs (manager, supervisor, agent, field engineer, service, ops).
    pub fn acting_role(&self) -> Role {
        [
            Role::Manager,
            Role::Supervisor,
            Role::Agent,
            Role::FieldEngineer,
            Role::Service,
        ]
        .into_iter()
        .find(|r| self.has(*r))
        .unwrap_or(Role::Ops)
    }

    /// Returns true when the caller may see every record, not only their own: a supervisor,
    /// ops (reads only, by the tables) or another service.
    pub fn sees_all(&self) -> bool {
        self.has_any(&[Role::Supervisor, Role::Ops, Role::Service])
    }

    /// Returns true when personal data (phone and ID numbers) must be masked for this caller:
    /// only ops among its roles needs none of it.
    pub fn masks_personal_data(&self) -> bool {
        !self.has_any(&[
            Role::Agent,
            Role::Supervisor,
            Role::FieldEngineer,
            Role::Service,
        ])
    }

    fn roles_text(&self) -> String {
        if self.roles.is_empty() {
            return "none".to_owned();
        }
        self.roles
            .iter()
            .map(|r| r.claim())
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// Returns the verified caller of `request`; `None` when authentication is off.
pub fn principal<T>(request: &tonic::Request<T>) -> Option<&Principal> {
    request.extensions().get::<Principal>()
}

/// What the task at hand is doing on whose behalf: a call to one of the service's RPCs (its
/// method name and verified caller) or one of the service's own jobs. The audit log records
/// it with every change ([`crate::audit`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Call {
    /// The RPC's method name (e.g. `UpdateCustomer`), or the job's name (e.g. `sla-watcher`).
    pub action: Arc<str>,
    /// Who asked for it.
    pub on_behalf_of: OnBehalfOf,
}

/// Who a [`Call`] acts for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OnBehalfOf {
    /// The verified caller of an RPC.
    Caller(Principal),
    /// An RPC served with authentication off: nobody verified.
    Anonymous,
    /// The service itself (a background job).
    System,
}

tokio::task_local! {
    /// The call (or job) the task is serving.
    static CALL: Call;
}

/// Returns the call (or job) the task is serving; `None` outside of one.
pub fn current_call() -> Option<Call> {
    CALL.try_with(Call::clone).ok()
}

/// Runs `future` as `call` (what the server layer does per call, and a job per pass).
pub async fn in_call<F: std::future::Future>(call: Call, future: F) -> F::Output {
    CALL.scope(call, future).await
}

/// Returns the verified caller of the call being served (anywhere inside its handler);
/// `None` when authentication is off or outside a call.
pub fn caller() -> Option<Principal> {
    CALL.try_with(|call| match &call.on_behalf_of {
        OnBehalfOf::Caller(principal) => Some(principal.clone()),
        OnBehalfOf::Anonymous | OnBehalfOf::System => None,
    })
    .ok()
    .flatten()
}

/// The roles that act only on the records assigned to them: agents and field engineers.
pub const OWN_RECORDS_ONLY: &[Role] = &[Role::Agent, Role::FieldEngineer];

/// The caller of this call when every role they hold is among `limited` (and none of them
/// sees every record): the one whose reach is limited to their own records.
fn limited_caller(limited: &[Role]) -> Option<Principal> {
    caller().filter(|c| !c.sees_all() && c.roles.iter().all(|r| limited.contains(r)))
}

/// Object-level access (OWASP API #1): a caller whose roles do not see every record (an
/// agent, a field engineer) may read and change only the records assigned to them; an
/// unassigned record (empty `owner`) is open to them (the intake queue). `Err` carries the
/// PERMISSION_DENIED message. Always `Ok` when authentication is off or outside a call (the
/// background sweeps).
pub fn check_owner(owner: &str, record: &str) -> Result<(), String> {
    check_owner_among(OWN_RECORDS_ONLY, owner, record)
}

/// [`check_owner`] for a record only some roles are limited on: e.g. a field job, which a
/// field engineer sees only when it is theirs, and an agent always.
pub fn check_owner_among(limited: &[Role], owner: &str, record: &str) -> Result<(), String> {
    match limited_caller(limited) {
        Some(c) if !owner.is_empty() && owner != c.subject => Err(format!(
            "{record} is assigned to someone else; the caller may act only on their own"
        )),
        _ => Ok(()),
    }
}

/// The owner a listing must be limited to for the caller: their own id when their roles do
/// not see every record, `None` (everything) otherwise. A filter naming someone else is
/// PERMISSION_DENIED (`Err`).
pub fn listing_owner(asked: Option<String>) -> Result<Option<String>, String> {
    listing_owner_among(OWN_RECORDS_ONLY, asked)
}

/// [`listing_owner`] for records only some roles are limited on (see [`check_owner_among`]).
pub fn listing_owner_among(
    limited: &[Role],
    asked: Option<String>,
) -> Result<Option<String>, String> {
    match limited_caller(limited) {
        Some(c) => match asked {
            Some(other) if other != c.subject => Err(format!(
                "the caller may list only their own records, not {}'s",
                crate::violations::quote(&other)
            )),
            _ => Ok(Some(c.subject)),
        },
        None => Ok(asked),
    }
}

/// Why a token was refused (always UNAUTHENTICATED).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Rejection {
    /// No `authorization` header.
    #[error("missing bearer token: send \"authorization: Bearer <JWT>\"")]
    Missing,
    /// The header is not `Bearer <token>`.
    #[error("malformed authorization header: expected \"Bearer <JWT>\"")]
    Malformed,
    /// `exp` has passed.
    #[error("token expired")]
    Expired,
    /// `nbf` is still ahead.
    #[error("token not yet valid")]
    NotYetValid,
    /// No key signed it, or it was altered.
    #[error("token signature does not verify with any configured key")]
    BadSignature,
    /// `iss` is not the configured issuer.
    #[error("token issuer not accepted")]
    Issuer,
    /// `aud` does not name this suite.
    #[error("token audience not accepted")]
    Audience,
    /// A required claim is absent or of the wrong type.
    #[error("token lacks a valid {0} claim")]
    Claim(String),
    /// Not a JWT at all.
    #[error("token is not a well-formed JWT")]
    NotAJwt,
}

impl From<Rejection> for tonic::Status {
    fn from(rejection: Rejection) -> Self {
        tonic::Status::unauthenticated(rejection.to_string())
    }
}

#[derive(Debug, Deserialize)]
struct Claims {
    sub: String,
    exp: u64,
    #[serde(default)]
    roles: Vec<String>,
    #[serde(default)]
    team: Option<String>,
}

struct VerifyKey {
    kid: Option<String>,
    algorithm: Algorithm,
    key: DecodingKey,
}

/// Checks bearer tokens against the keys of a JWKS, one issuer and one audience.
///
/// A verifier [loaded](Verifier::load) from a file follows it: the file is looked at again
/// every 30 s, and at once (at most every 5 s) when a token names a key id it does not know,
/// so the identity provider's key rotation needs no restart. A file that cannot be read or
/// parsed keeps the keys in use (logged as a warning).
pub struct Verifier {
    keys: RwLock<Arc<[VerifyKey]>>,
    /// Tokens that verified, with their `exp` and caller: byte-for-byte the same token is
    /// not checked again until it expires, its entry is 5 minutes old, or the keys change.
    verified: moka::sync::Cache<String, (u64, Principal)>,
    file: Option<KeyFile>,
    issuer: String,
    audience: String,
}

/// The JWKS file a verifier follows.
struct KeyFile {
    path: PathBuf,
    /// When the file was last looked at, and what it looked like (modified time, length).
    seen: Mutex<(Instant, Option<(std::time::SystemTime, u64)>)>,
    /// Milliseconds after `epoch` when the next periodic look is due: one atomic load per call.
    due: AtomicU64,
    epoch: Instant,
    every: Duration,
    unknown_kid_every: Duration,
}

impl fmt::Debug for Verifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Verifier")
            .field("keys", &self.keys().len())
            .field(
                "file",
                &self.file.as_ref().map(|f| f.path.display().to_string()),
            )
            .field("issuer", &self.issuer)
            .field("audience", &self.audience)
            .finish()
    }
}

/// Reads the keys of a JWKS document.
fn parse_jwks(jwks: &str) -> Result<Vec<VerifyKey>, String> {
    let set: JwkSet = serde_json::from_str(jwks).map_err(|e| format!("not a JWKS: {e}"))?;
    let mut keys = Vec::new();
    for (index, jwk) in set.keys.iter().enumerate() {
        let algorithm = match jwk.common.key_algorithm {
            Some(declared) => declared
                .to_string()
                .parse::<Algorithm>()
                .map_err(|_| format!("key {index}: algorithm {declared} cannot sign JWTs"))?,
            None => implied_algorithm(&jwk.algorithm),
        };
        let key = DecodingKey::from_jwk(jwk).map_err(|e| format!("key {index}: {e}"))?;
        keys.push(VerifyKey {
            kid: jwk.common.key_id.clone(),
            algorithm,
            key,
        });
    }
    if keys.is_empty() {
        return Err("the JWKS holds no keys".to_owned());
    }
    Ok(keys)
}

fn file_stamp(path: &Path) -> Option<(std::time::SystemTime, u64)> {
    let meta = std::fs::metadata(path).ok()?;
    Some((meta.modified().ok()?, meta.len()))
}

impl Verifier {
    /// Builds a verifier from a JWKS document (`{"keys": [...]}`).
    pub fn from_jwks(jwks: &str, issuer: &str, audience: &str) -> Result<Self, String> {
        let keys = parse_jwks(jwks)?;
        if issuer.trim().is_empty() {
            return Err("an issuer is required".to_owned());
        }
        if audience.trim().is_empty() {
            return Err("an audience is required".to_owned());
        }
        Ok(Self {
            keys: RwLock::new(keys.into()),
            verified: moka::sync::Cache::builder()
                .max_capacity(VERIFIED_TOKENS)
                .time_to_live(VERIFIED_FOR)
                .build(),
            file: None,
            issuer: issuer.to_owned(),
            audience: audience.to_owned(),
        })
    }

    /// Reads the JWKS file at `path`, and follows it (see [`Verifier`]).
    pub fn load(path: &Path, issuer: &str, audience: &str) -> Result<Self, String> {
        let stamp = file_stamp(path);
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        let mut verifier = Self::from_jwks(&text, issuer, audience)?;
        let epoch = Instant::now();
        verifier.file = Some(KeyFile {
            path: path.to_owned(),
            seen: Mutex::new((epoch, stamp)),
            due: AtomicU64::new(millis(JWKS_REFRESH)),
            epoch,
            every: JWKS_REFRESH,
            unknown_kid_every: JWKS_UNKNOWN_KID_REFRESH,
        });
        Ok(verifier)
    }

    /// Looks at the followed file every `every`, and after at least `unknown_kid` when a
    /// token names a key id it does not know (30 s and 5 s unless changed).
    #[must_use]
    pub fn refresh_every(mut self, every: Duration, unknown_kid: Duration) -> Self {
        if let Some(file) = &mut self.file {
            file.every = every;
            file.unknown_kid_every = unknown_kid;
            file.due.store(millis(every), Ordering::Relaxed);
        }
        self
    }

    fn keys(&self) -> Arc<[VerifyKey]> {
        self.keys
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// Looks at the followed file if a look is due (`unknown_kid`: a token named a key id
    /// no key has); reloads the keys when it changed. Returns true when the keys changed.
    fn refresh(&self, unknown_kid: bool) -> bool {
        let Some(file) = &self.file else {
            return false;
        };
        let now_ms = millis(file.epoch.elapsed());
        if !unknown_kid && now_ms < file.due.load(Ordering::Relaxed) {
            return false;
        }
        // One caller looks; the others go on with the keys in use.
        let Ok(mut seen) = file.seen.try_lock() else {
            return false;
        };
        let min_gap = if unknown_kid {
            file.unknown_kid_every
        } else {
            file.every
        };
        if seen.0.elapsed() < min_gap && seen.0 != file.epoch {
            return false;
        }
        let now = Instant::now();
        seen.0 = now;
        file.due
            .store(millis(now - file.epoch + file.every), Ordering::Relaxed);
        let stamp = file_stamp(&file.path);
        if stamp == seen.1 {
            return false;
        }
        let loaded = std::fs::read_to_string(&file.path)
            .map_err(|e| e.to_string())
            .and_then(|text| parse_jwks(&text));
        match loaded {
            Ok(keys) => {
                tracing::info!(
                    path = %file.path.display(),
                    keys = keys.len(),
                    "token signing keys reloaded"
                );
                *self
                    .keys
                    .write()
                    .unwrap_or_else(std::sync::PoisonError::into_inner) = keys.into();
                // A retired key's tokens must not live on in the cache.
                self.verified.invalidate_all();
                seen.1 = stamp;
                true
            }
            Err(error) => {
                tracing::warn!(
                    path = %file.path.display(),
                    %error,
                    "cannot reload the token signing keys; keeping the ones in use"
                );
                false
            }
        }
    }

    /// Verifies `token` and returns its caller.
    pub fn verify(&self, token: &str) -> Result<Principal, Rejection> {
        self.refresh(false);
        if let Some((exp, principal)) = self.verified.get(token) {
            if unexpired(exp, jsonwebtoken::get_current_timestamp()) {
                return Ok(principal);
            }
            self.verified.invalidate(token);
        }
        let (exp, principal) = self.check_signed(token)?;
        self.verified
            .insert(token.to_owned(), (exp, principal.clone()));
        Ok(principal)
    }

    /// Checks `token`'s signature and claims; returns its `exp` and caller.
    fn check_signed(&self, token: &str) -> Result<(u64, Principal), Rejection> {
        let header = jsonwebtoken::decode_header(token).map_err(|_| Rejection::NotAJwt)?;
        let mut keys = self.keys();
        let knows_kid = |keys: &[VerifyKey]| {
            header
                .kid
                .as_ref()
                .is_none_or(|kid| keys.iter().any(|k| k.kid.as_ref() == Some(kid)))
        };
        if !knows_kid(&keys) && self.refresh(true) {
            keys = self.keys();
        }
        let mut validation = Validation::new(header.alg);
        validation.leeway = LEEWAY_SECONDS;
        validation.validate_nbf = true;
        validation.set_issuer(&[&self.issuer]);
        validation.set_audience(&[&self.audience]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        let candidates = keys.iter().filter(|k| {
            k.algorithm == header.alg
                && match (&header.kid, &k.kid) {
                    (Some(wanted), Some(kid)) => wanted == kid,
                    _ => true,
                }
        });
        let mut last = Rejection::BadSignature;
        for candidate in candidates {
            match jsonwebtoken::decode::<Claims>(token, &candidate.key, &validation) {
                Ok(data) => {
                    let exp = data.claims.exp;
                    return principal_of(data.claims).map(|p| (exp, p));
                }
                Err(error) => {
                    last = rejection(error.kind());
                    if last != Rejection::BadSignature {
                        // The signature verified: the claims are what is wrong.
                        return Err(last);
                    }
                }
            }
        }
        Err(last)
    }
}

/// Whether a token with this `exp` is still good at `now` (seconds), with the leeway the
/// first check allowed.
fn unexpired(exp: u64, now: u64) -> bool {
    now <= exp.saturating_add(LEEWAY_SECONDS)
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

fn principal_of(claims: Claims) -> Result<Principal, Rejection> {
    if claims.sub.trim().is_empty() || claims.sub.len() > 100 {
        return Err(Rejection::Claim("sub".to_owned()));
    }
    Ok(Principal {
        subject: claims.sub,
        roles: claims
            .roles
            .iter()
            .filter_map(|r| Role::from_claim(r))
            .collect(),
        team: claims.team.filter(|t| !t.trim().is_empty()),
    })
}

fn rejection(kind: &jsonwebtoken::errors::ErrorKind) -> Rejection {
    use jsonwebtoken::errors::ErrorKind;
    match kind {
        ErrorKind::ExpiredSignature => Rejection::Expired,
        ErrorKind::ImmatureSignature => Rejection::NotYetValid,
        ErrorKind::InvalidIssuer => Rejection::Issuer,
        ErrorKind::InvalidAudience => Rejection::Audience,
        ErrorKind::MissingRequiredClaim(claim) => Rejection::Claim(claim.clone()),
        ErrorKind::Json(_) => Rejection::Claim("sub/exp/roles/team".to_owned()),
        ErrorKind::InvalidToken | ErrorKind::Base64(_) | ErrorKind::Utf8(_) => Rejection::NotAJwt,
        _ => Rejection::BadSignature,
    }
}

fn implied_algorithm(parameters: &AlgorithmParameters) -> Algorithm {
    match parameters {
        AlgorithmParameters::OctetKey(_) => Algorithm::HS256,
        AlgorithmParameters::RSA(_) => Algorithm::RS256,
        AlgorithmParameters::EllipticCurve(ec) if ec.curve == EllipticCurve::P384 => {
            Algorithm::ES384
        }
        AlgorithmParameters::EllipticCurve(_) => Algorithm::ES256,
        AlgorithmParameters::OctetKeyPair(_) => Algorithm::EdDSA,
    }
}

/// Authentication of one server: off, or a verifier shared by its calls.
#[derive(Debug, Clone, Default)]
pub enum Auth {
    /// No token is asked for (local development, tests of other concerns).
    #[default]
    Off,
    /// Every call to the service's own RPCs needs a token this verifier accepts.
    Jwt(Arc<Verifier>),
}

/// What a service presents to its neighbours: its bearer token and, with native TLS
/// ([`crate::tls`]), its certificate and the CA their certificates must chain to.
#[derive(Clone, Default)]
pub struct Credentials {
    token: Option<Arc<Source>>,
    tls: crate::tls::Tls,
}

enum Source {
    Fixed(http::HeaderValue),
    File {
        path: PathBuf,
        cached: Mutex<Option<(Instant, Option<http::HeaderValue>)>>,
    },
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.token.as_deref() {
            None => f.write_str("Credentials(none")?,
            Some(Source::Fixed(_)) => f.write_str("Credentials(fixed")?,
            Some(Source::File { path, .. }) => write!(f, "Credentials(file {}", path.display())?,
        }
        write!(f, ", {:?})", self.tls)
    }
}

impl Credentials {
    /// No token: neighbours must run with authentication off.
    pub fn none() -> Self {
        Self::default()
    }

    /// Always presents `token`.
    pub fn bearer(token: &str) -> Result<Self, String> {
        bearer_header(token)
            .map(|h| Self {
                token: Some(Arc::new(Source::Fixed(h))),
                tls: crate::tls::Tls::off(),
            })
            .ok_or_else(|| "the token is not a valid header value".to_owned())
    }

    /// Presents the token in the file at `path`, read again every 30 s so a rotated token
    /// (a Kubernetes projected volume, a secret refreshed by an agent) is picked up.
    pub fn from_file(path: &Path) -> Result<Self, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        if bearer_header(&text).is_none() {
            return Err(format!("{} does not hold a token", path.display()));
        }
        Ok(Self {
            token: Some(Arc::new(Source::File {
                path: path.to_owned(),
                cached: Mutex::new(None),
            })),
            tls: crate::tls::Tls::off(),
        })
    }

    /// The same token, with `tls` for `https://` neighbours.
    #[must_use]
    pub fn with_tls(self, tls: crate::tls::Tls) -> Self {
        Self { tls, ..self }
    }

    /// The TLS material for `https://` neighbours (off unless configured).
    pub fn tls(&self) -> &crate::tls::Tls {
        &self.tls
    }

    /// The `authorization` header to send, if any.
    pub fn header(&self) -> Option<http::HeaderValue> {
        match self.token.as_deref()? {
            Source::Fixed(header) => Some(header.clone()),
            Source::File { path, cached } => {
                let mut cached = cached.lock().unwrap_or_else(|e| e.into_inner());
                match &*cached {
                    Some((read, header)) if read.elapsed() < TOKEN_FILE_REFRESH => header.clone(),
                    _ => {
                        let header = std::fs::read_to_string(path)
                            .ok()
                            .and_then(|t| bearer_header(&t));
                        if header.is_none() {
                            tracing::warn!(path = %path.display(), "cannot read the service token file");
                        }
                        *cached = Some((Instant::now(), header.clone()));
                        header
                    }
                }
            }
        }
    }
}

fn bearer_header(token: &str) -> Option<http::HeaderValue> {
    let token = token.trim();
    if token.is_empty() {
        return None;
    }
    let mut header = http::HeaderValue::from_str(&format!("Bearer {token}")).ok()?;
    header.set_sensitive(true);
    Some(header)
}

/// The server layer: verifies the token and checks the role table before a call reaches
/// the service, and keeps the [`Call`] for the call's task.
#[derive(Debug, Clone)]
pub struct AuthLayer {
    gate: Arc<Gate>,
}

#[derive(Debug)]
struct Gate {
    /// `(/package.Service/, its role table)` for each gRPC service the server guards.
    services: Vec<(String, RoleTable)>,
    /// `None` when authentication is off.
    verifier: Option<Arc<Verifier>>,
}

impl AuthLayer {
    /// Guards the RPCs of each `(grpc_service, table)` (e.g.
    /// `csops.customers.v1.CustomersService`) with its table; lets every call through,
    /// anonymous, when `auth` is off.
    pub fn new(auth: &Auth, services: &[(&str, RoleTable)]) -> Self {
        let verifier = match auth {
            Auth::Off => None,
            Auth::Jwt(verifier) => Some(verifier.clone()),
        };
        Self {
            gate: Arc::new(Gate {
                services: services
                    .iter()
                    .map(|(name, table)| (format!("/{name}/"), *table))
                    .collect(),
                verifier,
            }),
        }
    }
}

impl<S> Layer<S> for AuthLayer {
    type Service = AuthService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        AuthService {
            inner,
            gate: self.gate.clone(),
        }
    }
}

/// The service [`AuthLayer`] makes.
#[derive(Debug, Clone)]
pub struct AuthService<S> {
    inner: S,
    gate: Arc<Gate>,
}

impl<S, B> Service<http::Request<B>> for AuthService<S>
where
    S: Service<http::Request<B>, Response = http::Response<tonic::body::Body>>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = Either<
        Ready<Result<S::Response, S::Error>>,
        Either<S::Future, TaskLocalFuture<Call, S::Future>>,
    >;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: http::Request<B>) -> Self::Future {
        // Health, reflection and paths of no service of ours pass: probes and grpcurl's
        // list/describe need no token, and an unknown path gets UNIMPLEMENTED as before.
        let path = request.uri().path();
        let Some((method, table)) = self.gate.services.iter().find_map(|(prefix, table)| {
            path.strip_prefix(prefix.as_str())
                .map(|method| (method, *table))
        }) else {
            return Either::Right(Either::Left(self.inner.call(request)));
        };
        let action: Arc<str> = Arc::from(method);
        let Some(verifier) = self.gate.verifier.as_deref() else {
            let call = Call {
                action,
                on_behalf_of: OnBehalfOf::Anonymous,
            };
            return Either::Right(Either::Right(CALL.scope(call, self.inner.call(request))));
        };
        match admit(verifier, table, &action, request.headers()) {
            Ok(principal) => {
                request.extensions_mut().insert(principal.clone());
                let call = Call {
                    action,
                    on_behalf_of: OnBehalfOf::Caller(principal),
                };
                Either::Right(Either::Right(CALL.scope(call, self.inner.call(request))))
            }
            Err(status) => {
                tracing::debug!(method = %action, code = ?status.code(), "call refused by authentication");
                Either::Left(futures_util::future::ready(Ok(status.into_http())))
            }
        }
    }
}

fn admit(
    verifier: &Verifier,
    table: RoleTable,
    method: &str,
    headers: &http::HeaderMap,
) -> Result<Principal, tonic::Status> {
    let token = bearer_token(headers)?;
    let principal = verifier.verify(token)?;
    let roles = allowed(table, method).unwrap_or(&[]);
    if principal.has_any(roles) {
        Ok(principal)
    } else {
        Err(tonic::Status::permission_denied(format!(
            "the caller's roles ({}) may not call {method}",
            principal.roles_text()
        )))
    }
}

/// Reads the token of an `authorization: Bearer …` header.
fn bearer_token(headers: &http::HeaderMap) -> Result<&str, Rejection> {
    let value = headers
        .get(http::header::AUTHORIZATION)
        .ok_or(Rejection::Missing)?;
    let value = value.to_str().map_err(|_| Rejection::Malformed)?;
    let (scheme, token) = value.split_once(' ').ok_or(Rejection::Malformed)?;
    if !scheme.eq_ignore_ascii_case("bearer") || token.trim().is_empty() {
        return Err(Rejection::Malformed);
    }
    Ok(token.trim())
}

pub mod dev;
pub mod mask;

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests;
