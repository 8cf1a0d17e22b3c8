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
