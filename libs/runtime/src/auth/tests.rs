use std::convert::Infallible;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use ring::signature::KeyPair as _;

use super::dev::{DevIssuer, AUDIENCE, ISSUER};
use super::*;

const HOUR: Duration = Duration::from_secs(3600);

fn issuer() -> DevIssuer {
    DevIssuer::generate()
}

#[test]
fn a_dev_token_verifies_and_names_its_caller() {
    let issuer = issuer();
    let token = issuer.token("agent-7", &[Role::Agent], Some("team-north"), HOUR);
    let principal = issuer.verifier().verify(&token).unwrap();
    assert_eq!(principal.subject, "agent-7");
    assert!(principal.has(Role::Agent));
    assert!(!principal.has(Role::Supervisor));
    assert_eq!(principal.team.as_deref(), Some("team-north"));
    assert!(!principal.sees_all());
    assert!(!principal.masks_personal_data());
}

#[test]
fn expired_foreign_forged_and_tampered_tokens_are_refused_for_what_they_are() {
    let issuer = issuer();
    let verifier = issuer.verifier();
    let roles = [Role::Supervisor];

    let expired = issuer.expired_token("lead-1", &roles, Duration::from_secs(120));
    assert_eq!(verifier.verify(&expired), Err(Rejection::Expired));
    // Within the 30 s leeway an expired token still passes (clock skew).
    let just = issuer.expired_token("lead-1", &roles, Duration::from_secs(5));
    assert!(verifier.verify(&just).is_ok());

    let other_issuer = issuer.token_with("lead-1", &roles, None, HOUR, "evil", AUDIENCE);
    assert_eq!(verifier.verify(&other_issuer), Err(Rejection::Issuer));
    let other_audience = issuer.token_with("lead-1", &roles, None, HOUR, ISSUER, "billing");
    assert_eq!(verifier.verify(&other_audience), Err(Rejection::Audience));

    let forged = DevIssuer::generate().token("lead-1", &roles, None, HOUR);
    assert_eq!(verifier.verify(&forged), Err(Rejection::BadSignature));

    // Change the payload (claim a role) and keep the signature.
    let token = issuer.token("agent-7", &[Role::Agent], None, HOUR);
    let parts: Vec<&str> = token.split('.').collect();
    let payload = String::from_utf8(URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
    let promoted = payload.replace("\"agent\"", "\"supervisor\"");
    let tampered = format!(
        "{}.{}.{}",
        parts[0],
        URL_SAFE_NO_PAD.encode(promoted),
        parts[2]
    );
    assert_eq!(verifier.verify(&tampered), Err(Rejection::BadSignature));

    // alg "none": no key has that algorithm, so nothing verifies it.
    let none_header = URL_SAFE_NO_PAD.encode(r#"{"alg":"none","typ":"JWT"}"#);
    let unsigned = format!("{none_header}.{}.", parts[1]);
    assert!(verifier.verify(&unsigned).is_err());

    assert_eq!(verifier.verify("garbage"), Err(Rejection::NotAJwt));
}

#[test]
fn a_token_without_a_subject_is_refused() {
    let issuer = issuer();
    let token = issuer.token("", &[Role::Agent], None, HOUR);
    assert_eq!(
        issuer.verifier().verify(&token),
        Err(Rejection::Claim("sub".to_owned()))
    );
}

#[test]
fn an_eddsa_key_from_a_jwks_verifies_tokens_it_signed() {
    let rng = ring::rand::SystemRandom::new();
    let pkcs8 = ring::signature::Ed25519KeyPair::generate_pkcs8(&rng).unwrap();
    let pair = ring::signature::Ed25519KeyPair::from_pkcs8(pkcs8.as_ref()).unwrap();
    let jwks = serde_json::json!({"keys": [{
        "kty": "OKP", "crv": "Ed25519", "kid": "idp-1",
        "x": URL_SAFE_NO_PAD.encode(pair.public_key().as_ref()),
    }]})
    .to_string();
    let verifier = Verifier::from_jwks(&jwks, "https://idp.example", "csops").unwrap();
    let mut header = jsonwebtoken::Header::new(Algorithm::EdDSA);
    header.kid = Some("idp-1".to_owned());
    let exp = jsonwebtoken::get_current_timestamp() + 600;
    let claims = serde_json::json!({
        "iss": "https://idp.example", "aud": "csops", "sub": "eng-3",
        "roles": ["field_engineer", "astronaut"], "exp": exp,
    });
    let key = jsonwebtoken::EncodingKey::from_ed_der(pkcs8.as_ref());
    let token = jsonwebtoken::encode(&header, &claims, &key).unwrap();
    let principal = verifier.verify(&token).unwrap();
    assert_eq!(principal.subject, "eng-3");
    assert_eq!(
        principal.roles.iter().copied().collect::<Vec<_>>(),
        vec![Role::FieldEngineer],
        "unknown role names are ignored"
    );

    // An HS256 token claiming the same kid cannot use the public key as a secret.
    let mut confused = jsonwebtoken::Header::new(Algorithm::HS256);
    confused.kid = Some("idp-1".to_owned());
    let secret = jsonwebtoken::EncodingKey::from_secret(pair.public_key().as_ref());
    let token = jsonwebtoken::encode(&confused, &claims, &secret).unwrap();
    assert_eq!(verifier.verify(&token), Err(Rejection::BadSignature));
}

/// An Ed25519 key named `kid`: its JWK and a function signing tokens for `sub`.
fn ed25519_key(kid: &str) -> (serde_json::Value, impl Fn(&str) -> String) {
    let rng = ring::rand::SystemRandom::new();
    let pkcs8 = ring::signature::Ed25519KeyPair::generate_pkcs8(&rng).unwrap();
    let pair = ring::signature::Ed25519KeyPair::from_pkcs8(pkcs8.as_ref()).unwrap();
    let jwk = serde_json::json!({
        "kty": "OKP", "crv": "Ed25519", "kid": kid,
        "x": URL_SAFE_NO_PAD.encode(pair.public_key().as_ref()),
    });
    let kid = kid.to_owned();
    let der = pkcs8.as_ref().to_vec();
    let sign = move |sub: &str| {
        let mut header = jsonwebtoken::Header::new(Algorithm::EdDSA);
        header.kid = Some(kid.clone());
        let claims = serde_json::json!({
            "iss": "https://idp.example", "aud": "csops", "sub": sub, "roles": ["agent"],
            "exp": jsonwebtoken::get_current_timestamp() + 600,
        });
        jsonwebtoken::encode(
            &header,
            &claims,
            &jsonwebtoken::EncodingKey::from_ed_der(&der),
        )
        .unwrap()
    };
    (jwk, sign)
}

#[test]
fn a_jwks_file_is_followed_as_the_provider_rotates_its_keys() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("jwks.json");
    let write = |keys: &[&serde_json::Value]| {
        // Through a rename, as Kubernetes updates a mounted Secret.
        let next = dir.path().join("jwks.json.next");
        std::fs::write(&next, serde_json::json!({ "keys": keys }).to_string()).unwrap();
        std::fs::rename(&next, &path).unwrap();
    };
    let (old, sign_old) = ed25519_key("2026-11");
    let (new, sign_new) = ed25519_key("2026-12");
    write(&[&old]);
    let verifier = Verifier::load(&path, "https://idp.example", "csops")
        .unwrap()
        .refresh_every(Duration::from_secs(3600), Duration::ZERO);
    assert!(verifier.verify(&sign_old("agent-1")).is_ok());
    assert_eq!(
        verifier.verify(&sign_new("agent-1")),
        Err(Rejection::BadSignature),
        "a key the file does not hold yet"
    );

    // The provider publishes its next key and signs with it: a token naming the new key id
    // makes the verifier look at the file at once, long before the periodic look.
    write(&[&old, &new]);
    assert_eq!(
        verifier.verify(&sign_new("agent-2")).unwrap().subject,
        "agent-2"
    );
    assert!(verifier.verify(&sign_old("agent-1")).is_ok());

    // A broken file keeps the keys in use.
    std::fs::write(&path, "{\"keys\": [").unwrap();
    let (_, sign_unknown) = ed25519_key("made-up");
    assert_eq!(
        verifier.verify(&sign_unknown("x")),
        Err(Rejection::BadSignature)
    );
    assert!(verifier.verify(&sign_new("agent-2")).is_ok());

    // The old key retired: found on the periodic look (here due on every call).
    let verifier = verifier.refresh_every(Duration::ZERO, Duration::ZERO);
    write(&[&new]);
    assert_eq!(
        verifier.verify(&sign_old("agent-1")),
        Err(Rejection::BadSignature)
    );
    assert!(verifier.verify(&sign_new("agent-2")).is_ok());
}

#[test]
fn unknown_key_ids_do_not_make_the_file_be_read_on_every_call() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("jwks.json");
    let (key, _) = ed25519_key("current");
    let (later, sign_later) = ed25519_key("later");
    std::fs::write(&path, serde_json::json!({ "keys": [&key] }).to_string()).unwrap();
    let verifier = Verifier::load(&path, "https://idp.example", "csops").unwrap();
    // The first unknown key id looks at the file (unchanged); the next key, added right after,
    // is not seen until the 5 s between looks for unknown ids have passed.
    assert_eq!(
        verifier.verify(&sign_later("a")),
        Err(Rejection::BadSignature)
    );
    std::fs::write(
        &path,
        serde_json::json!({ "keys": [&key, &later] }).to_string(),
    )
    .unwrap();
    for _ in 0..100 {
        assert_eq!(
            verifier.verify(&sign_later("a")),
            Err(Rejection::BadSignature)
        );
    }
}

#[test]
fn a_jwks_without_keys_or_without_an_issuer_is_refused() {
    assert!(Verifier::from_jwks(r#"{"keys": []}"#, ISSUER, AUDIENCE).is_err());
    assert!(Verifier::from_jwks("not json", ISSUER, AUDIENCE).is_err());
    assert!(Verifier::from_jwks(&issuer().jwks(), "", AUDIENCE).is_err());
}

#[test]
fn the_dev_key_survives_a_restart_and_is_private() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("auth").join("dev-jwks.json");
    let first = DevIssuer::load_or_create(&path).unwrap();
    let token = first.token("agent-7", &[Role::Agent], None, HOUR);
    let again = DevIssuer::load_or_create(&path).unwrap();
    assert!(again.verifier().verify(&token).is_ok());
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o077, 0, "only its owner may read the key");
    }
}

const TABLE: RoleTable = &[
    ("GetCustomer", READERS),
    ("DeleteCustomer", &[Role::Supervisor]),
];

const AUDIT_TABLE: RoleTable = &[("ListRecordHistory", &[Role::Ops])];

fn guarded(
    issuer: &DevIssuer,
) -> impl Service<http::Request<()>, Response = http::Response<tonic::body::Body>, Error = Infallible>
{
    layered(&Auth::Jwt(Arc::new(issuer.verifier())))
}

fn layered(
    auth: &Auth,
) -> impl Service<http::Request<()>, Response = http::Response<tonic::body::Body>, Error = Infallible>
{
    let services = [
        ("csops.customers.v1.CustomersService", TABLE),
        ("csops.audit.v1.AuditService", AUDIT_TABLE),
    ];
    AuthLayer::new(auth, &services).layer(tower::service_fn(
        |request: http::Request<()>| async move {
            // The service answers with the caller it was given and the call it serves.
            let caller = request
                .extensions()
                .get::<Principal>()
                .map_or_else(String::new, |p| p.subject.clone());
            let action = current_call().map_or_else(String::new, |c| {
                let who = match c.on_behalf_of {
                    OnBehalfOf::Caller(p) => p.subject,
                    OnBehalfOf::Anonymous => "anonymous".to_owned(),
                    OnBehalfOf::System => "system".to_owned(),
                };
                format!("{} by {who}", c.action)
            });
            let mut response = http::Response::new(tonic::body::Body::empty());
            let headers = response.headers_mut();
            headers.insert("x-caller", http::HeaderValue::from_str(&caller).unwrap());
            headers.insert("x-call", http::HeaderValue::from_str(&action).unwrap());
            Ok::<_, Infallible>(response)
        },
    ))
}

fn call(path: &str, token: Option<&str>) -> http::Request<()> {
    let mut builder = http::Request::builder().uri(path);
    if let Some(token) = token {
        builder = builder.header("authorization", format!("Bearer {token}"));
    }
    builder.body(()).unwrap()
}

fn code(response: &http::Response<tonic::body::Body>) -> Option<tonic::Code> {
    response
        .headers()
        .get("grpc-status")
        .map(|v| tonic::Code::from_i32(v.to_str().unwrap().parse().unwrap()))
}

#[tokio::test]
async fn the_layer_refuses_before_the_service_and_hands_it_the_caller() {
    let issuer = issuer();
    let mut service = guarded(&issuer);
    let get = "/csops.customers.v1.CustomersService/GetCustomer";
    let delete = "/csops.customers.v1.CustomersService/DeleteCustomer";
    let agent = issuer.token("agent-7", &[Role::Agent], None, HOUR);
    let lead = issuer.token("lead-1", &[Role::Supervisor], None, HOUR);
    let forged = DevIssuer::generate().token("lead-1", &[Role::Supervisor], None, HOUR);

    let response = service.call(call(get, None)).await.unwrap();
    assert_eq!(code(&response), Some(tonic::Code::Unauthenticated));
    let response = service.call(call(get, Some(&forged))).await.unwrap();
    assert_eq!(code(&response), Some(tonic::Code::Unauthenticated));
    let response = service.call(call(delete, Some(&agent))).await.unwrap();
    assert_eq!(code(&response), Some(tonic::Code::PermissionDenied));
    // A method the table does not list is refused to everyone.
    let unlisted = "/csops.customers.v1.CustomersService/MergeCustomers";
    let response = service.call(call(unlisted, Some(&lead))).await.unwrap();
    assert_eq!(code(&response), Some(tonic::Code::PermissionDenied));

    let response = service.call(call(delete, Some(&lead))).await.unwrap();
    assert_eq!(code(&response), None);
    assert_eq!(response.headers()["x-caller"], "lead-1");
    assert_eq!(response.headers()["x-call"], "DeleteCustomer by lead-1");

    // The second service is guarded by its own table.
    let history = "/csops.audit.v1.AuditService/ListRecordHistory";
    let response = service.call(call(history, Some(&lead))).await.unwrap();
    assert_eq!(code(&response), Some(tonic::Code::PermissionDenied));
    let ops = issuer.token("ops-1", &[Role::Ops], None, HOUR);
    let response = service.call(call(history, Some(&ops))).await.unwrap();
    assert_eq!(code(&response), None);
    assert_eq!(response.headers()["x-call"], "ListRecordHistory by ops-1");

    // Probes and reflection need no token.
    for open in [
        "/grpc.health.v1.Health/Check",
        "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo",
    ] {
        let response = service.call(call(open, None)).await.unwrap();
        assert_eq!(code(&response), None, "{open}");
    }
}

#[tokio::test]
async fn with_authentication_off_every_call_is_served_as_anonymous() {
    let mut service = layered(&Auth::Off);
    let delete = "/csops.customers.v1.CustomersService/DeleteCustomer";
    let response = service.call(call(delete, None)).await.unwrap();
    assert_eq!(code(&response), None);
    assert_eq!(response.headers()["x-caller"], "");
    assert_eq!(response.headers()["x-call"], "DeleteCustomer by anonymous");
    // Paths of no service of ours run outside a call.
    let response = service
        .call(call("/grpc.health.v1.Health/Check", None))
        .await
        .unwrap();
    assert_eq!(response.headers()["x-call"], "");
}

#[test]
fn only_a_bearer_authorization_header_is_read() {
    let mut headers = http::HeaderMap::new();
    assert_eq!(bearer_token(&headers), Err(Rejection::Missing));
    headers.insert("authorization", "Basic dXNlcjpwdw==".parse().unwrap());
    assert_eq!(bearer_token(&headers), Err(Rejection::Malformed));
    headers.insert("authorization", "Bearer ".parse().unwrap());
    assert_eq!(bearer_token(&headers), Err(Rejection::Malformed));
    headers.insert("authorization", "bearer abc.def.ghi".parse().unwrap());
    assert_eq!(bearer_token(&headers), Ok("abc.def.ghi"));
}

#[test]
fn credentials_read_a_token_file_and_refuse_an_empty_one() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("token");
    std::fs::write(&path, "abc.def.ghi\n").unwrap();
    let credentials = Credentials::from_file(&path).unwrap();
    assert_eq!(credentials.header().unwrap(), "Bearer abc.def.ghi");
    std::fs::write(&path, "  \n").unwrap();
    assert!(Credentials::from_file(&path).is_err());
    assert!(Credentials::none().header().is_none());
}

#[test]
fn a_remembered_token_still_expires_with_the_leeway_its_first_check_had() {
    assert!(unexpired(1_000, 1_000));
    assert!(unexpired(1_000, 1_000 + LEEWAY_SECONDS));
    assert!(!unexpired(1_000, 1_001 + LEEWAY_SECONDS));
    assert!(unexpired(u64::MAX, u64::MAX));
}

#[test]
fn a_remembered_token_is_the_same_token_byte_for_byte() {
    let issuer = issuer();
    let verifier = issuer.verifier();
    let token = issuer.token("agent-1", &[Role::Agent], None, Duration::from_secs(600));
    assert!(verifier.verify(&token).is_ok());
    assert!(verifier.verify(&token).is_ok(), "again, from the cache");
    // The same claims with one character of the signature changed are checked afresh.
    let mut tampered: Vec<char> = token.chars().collect();
    let at = tampered.len() - 10;
    tampered[at] = if tampered[at] == 'A' { 'B' } else { 'A' };
    let tampered: String = tampered.into_iter().collect();
    assert_eq!(verifier.verify(&tampered), Err(Rejection::BadSignature));
}
