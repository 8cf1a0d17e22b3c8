//! What the suite's tests share.

/// Picks a port offset whose gRPC and metrics ports (50051-50054, 9091-9094, plus the offset)
/// are all free right now. The search starts at a place that depends on the test process, so
/// two suites started at once by two test binaries rarely try the same range.
pub fn free_offset() -> u16 {
    let start = 1000 + u16::try_from(std::process::id() % 97).unwrap_or(0) * 89;
    for offset in (start..20000).step_by(97).chain((1000..start).step_by(97)) {
        let ports = (50051..=50054).chain(9091..=9094).map(|p: u16| p + offset);
        if ports
            .into_iter()
            .all(|p| std::net::TcpListener::bind(("127.0.0.1", p)).is_ok())
        {
            return offset;
        }
    }
    panic!("no free port range");
}

/// Stops the suite as Ctrl-C does (SIGINT) and asserts it exits cleanly.
pub async fn stop_with_sigint(mut child: std::process::Child) {
    let sent = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(sent.success(), "kill -INT failed");
    let status = tokio::task::spawn_blocking(move || child.wait().unwrap())
        .await
        .unwrap();
    assert!(status.success(), "{status:?}");
}
