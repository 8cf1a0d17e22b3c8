//! Criterion benchmarks for csops-sla (filled in later).
fn main() {}
