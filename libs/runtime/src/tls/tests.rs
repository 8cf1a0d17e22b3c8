use std::time::Duration;

use csops_testkit::certs::TestCa;
use tonic_health::pb::health_client::HealthClient;
use tonic_health::pb::HealthCheckRequest;

use super::*;
use crate::client::balanced_channel;

const FAST: Duration = Duration::from_millis(100);

/// A health server on a random port, speaking TLS with `tls`; its address.
async fn serve(tls: Tls) -> std::net::SocketAddr {
    let (addr, _server) = serve_on("127.0.0.1:0".parse().unwrap(), tls).await;
    addr
}

/// A health server on `addr`; its address, and its task (aborting it closes the listener).
async fn serve_on(
    addr: std::net::SocketAddr,
    tls: Tls,
) -> (std::net::SocketAddr, tokio::task::JoinHandle<()>) {
    let listener = TcpListener::bind(addr).await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (_reporter, health) = tonic_health::server::health_reporter();
    let server = tokio::spawn(async move {
        let _ = tonic::transport::Server::builder()
            .add_service(health)
            .serve_with_incoming(incoming(
                listener,
                tls,
                tokio_util::sync::CancellationToken::new(),
            ))
            .await;
    });
    (addr, server)
}

/// Checks health at `url` once, with `tls` for the client.
async fn check(url: &str, tls: &Tls) -> Result<(), tonic::Status> {
    let channel = balanced_channel(url, Duration::from_secs(5), tls)
        .map_err(|e| tonic::Status::invalid_argument(e.to_string()))?;
    HealthClient::new(channel)
        .check(HealthCheckRequest::default())
        .await
        .map(drop)
}

/// With TLS 1.3 the client finishes its side of the handshake before the server checks the
/// client's certificate, so the refusal (an alert, then the connection closed) reaches the
/// call as UNAVAILABLE or, when it lands on the request, UNKNOWN: never an answer.
fn refused_in_handshake(answer: Result<(), tonic::Status>) {
    let status = answer.unwrap_err();
    assert!(
        matches!(
            status.code(),
            tonic::Code::Unavailable | tonic::Code::Unknown
        ),
        "{status:?}"
    );
}

fn files(dir: &Path) -> (TlsFiles, TlsFiles) {
    let server = TlsFiles {
        cert: Some(dir.join("server.pem")),
        key: Some(dir.join("server.key")),
        client_ca: Some(dir.join("clients-ca.pem")),
        ca: None,
    };
    let client = TlsFiles {
        cert: Some(dir.join("client.pem")),
        key: Some(dir.join("client.key")),
        client_ca: None,
        ca: Some(dir.join("servers-ca.pem")),
    };
    (server, client)
}

#[test]
fn nothing_named_is_plaintext_and_half_a_configuration_is_refused() {
    let off = Tls::load(TlsFiles::default(), FAST).unwrap();
    assert!(!off.serves_tls());
    assert!(off.client_config("customers").is_none());

    let dir = tempfile::tempdir().unwrap();
    let ca = TestCa::new("csops test CA");
    let (cert, key) = ca.issue(&["localhost"]).write(dir.path(), "server");
    let only_cert = TlsFiles {
        cert: Some(cert.clone()),
        ..TlsFiles::default()
    };
    assert!(Tls::load(only_cert, FAST)
        .unwrap_err()
        .contains("go together"));
    let ca_without_cert = TlsFiles {
        client_ca: Some(ca.write(dir.path(), "ca")),
        ..TlsFiles::default()
    };
    assert!(Tls::load(ca_without_cert, FAST).is_err());
    std::fs::write(dir.path().join("garbage.pem"), "not a certificate").unwrap();
    let garbage = TlsFiles {
        cert: Some(dir.path().join("garbage.pem")),
        key: Some(key),
        ..TlsFiles::default()
    };
    let error = Tls::load(garbage, FAST).unwrap_err();
    assert!(error.contains("--tls-cert"), "{error}");
    let missing = TlsFiles {
        ca: Some(dir.path().join("absent.pem")),
        ..TlsFiles::default()
    };
    assert!(Tls::load(missing, FAST)
        .unwrap_err()
        .contains("cannot read"));
}

#[tokio::test]
async fn mutual_tls_admits_only_clients_with_a_certificate_from_the_client_ca() {
    let dir = tempfile::tempdir().unwrap();
    let servers_ca = TestCa::new("servers CA");
    let clients_ca = TestCa::new("clients CA");
    servers_ca.issue(&["127.0.0.1"]).write(dir.path(), "server");
    clients_ca
        .issue(&["complaints"])
        .write(dir.path(), "client");
    servers_ca.write(dir.path(), "servers-ca");
    clients_ca.write(dir.path(), "clients-ca");
    let (server_files, client_files) = files(dir.path());
    let addr = serve(Tls::load(server_files, FAST).unwrap()).await;
    let url = format!("https://{addr}");

    let client = Tls::load(client_files.clone(), FAST).unwrap();
    check(&url, &client).await.unwrap();

    // Plaintext gets nowhere; https without --tls-ca is refused before any connection.
    assert!(check(&format!("http://{addr}"), &Tls::off()).await.is_err());
    let refused = check(&url, &Tls::off()).await.unwrap_err();
    assert!(refused.message().contains("--tls-ca"), "{refused:?}");
    // A client that trusts the server but shows no certificate, or one from another CA.
    let anonymous = Tls::load(
        TlsFiles {
            cert: None,
            key: None,
            ..client_files.clone()
        },
        FAST,
    )
    .unwrap();
    refused_in_handshake(check(&url, &anonymous).await);
    let stranger_ca = TestCa::new("stranger CA");
    stranger_ca
        .issue(&["intruder"])
        .write(dir.path(), "stranger");
    let stranger = Tls::load(
        TlsFiles {
            cert: Some(dir.path().join("stranger.pem")),
            key: Some(dir.path().join("stranger.key")),
            ..client_files
        },
        FAST,
    )
    .unwrap();
    refused_in_handshake(check(&url, &stranger).await);
    // A server whose certificate does not name the host it is called by.
    let wrong_name = check(&format!("https://localhost:{}", addr.port()), &client).await;
    assert!(wrong_name.is_err());
}

#[tokio::test]
async fn renewed_certificates_are_served_and_used_without_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let old_ca = TestCa::new("old CA");
    let clients_ca = TestCa::new("clients CA");
    old_ca.issue(&["127.0.0.1"]).write(dir.path(), "server");
    old_ca.write(dir.path(), "servers-ca");
    clients_ca
        .issue(&["complaints"])
        .write(dir.path(), "client");
    clients_ca.write(dir.path(), "clients-ca");
    let (server_files, client_files) = files(dir.path());
    let server = Tls::load(server_files, FAST).unwrap();
    let addr = serve(server.clone()).await;
    let url = format!("https://{addr}");
    // A long-lived channel, trusting what its own file says (the old CA for now).
    old_ca.write(dir.path(), "channel-trust");
    let client = Tls::load(
        TlsFiles {
            ca: Some(dir.path().join("channel-trust.pem")),
            ..client_files
        },
        FAST,
    )
    .unwrap();
    let channel = balanced_channel(&url, Duration::from_secs(5), &client).unwrap();
    let mut health = HealthClient::new(channel);
    health.check(HealthCheckRequest::default()).await.unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);

    // The server's certificate is renewed under a new CA: new connections get it, with no
    // restart (a client trusting only the new CA gets through).
    let new_ca = TestCa::new("new CA");
    new_ca.issue(&["127.0.0.1"]).write(dir.path(), "server");
    new_ca.write(dir.path(), "servers-ca");
    loop {
        let fresh = Tls::load(files(dir.path()).1, FAST).unwrap();
        if check(&url, &fresh).await.is_ok() {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the server never served the new certificate"
        );
        tokio::time::sleep(FAST).await;
    }
    assert!(server.generation() >= 1);

    // The channel's trust is renewed in its file: it connects again with it (a handshake
    // the server counts: no other client is left) and answers.
    let before = server.handshakes();
    new_ca.write(dir.path(), "channel-trust");
    loop {
        // The new connection is made by the next call (channels connect lazily).
        let answered = health.check(HealthCheckRequest::default()).await.is_ok();
        if answered && server.handshakes() > before {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the channel never reconnected with the renewed trust"
        );
        tokio::time::sleep(FAST).await;
    }
    assert!(client.generation() >= 1);

    // A file that stops parsing keeps the material in use: once the reload interval has
    // passed, the next look (generation() reads the files when due) keeps the generation.
    let generation = server.generation();
    std::fs::write(dir.path().join("server.pem"), "broken").unwrap();
    tokio::time::sleep(FAST * 3).await;
    assert_eq!(server.generation(), generation);
    let fresh = Tls::load(files(dir.path()).1, FAST).unwrap();
    check(&url, &fresh).await.unwrap();
}

#[tokio::test]
async fn a_draining_tls_server_closes_its_listener_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let ca = TestCa::new("CA");
    let (cert, key) = ca.issue(&["127.0.0.1"]).write(dir.path(), "server");
    let tls = Tls::load(
        TlsFiles {
            cert: Some(cert),
            key: Some(key),
            ..TlsFiles::default()
        },
        FAST,
    )
    .unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let stop = tokio_util::sync::CancellationToken::new();
    // The server still holds its stream of connections (it drains its calls meanwhile).
    let _connections = incoming(listener, tls, stop.clone());
    TcpStream::connect(addr).await.unwrap();
    stop.cancel();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while TcpStream::connect(addr).await.is_ok() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the listener stayed open"
        );
        tokio::time::sleep(FAST).await;
    }
}
