//! What a run measured: throughput, latency percentiles and errors by gRPC status, as a table
//! for people and JSON for scripts.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::{Deserialize, Serialize};
use tonic::Code;

use crate::harness::{code_name, Mode, RunConfig, Stats};

/// Latency percentiles of the measured calls, in milliseconds.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Latency {
    /// Median.
    pub p50: f64,
    /// 90th percentile.
    pub p90: f64,
    /// 99th percentile.
    pub p99: f64,
    /// 99.9th percentile.
    pub p999: f64,
    /// Slowest call.
    pub max: f64,
    /// Arithmetic mean.
    pub mean: f64,
}

/// Figures of one scenario (or of a whole mix).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ScenarioReport {
    /// Scenario name, or "mix".
    pub name: String,
    /// Calls measured (after the warm-up), whatever their outcome.
    pub calls: u64,
    /// Calls answered OK.
    pub ok: u64,
    /// Non-OK answers by gRPC status name, e.g. `{"NOT_FOUND": 3}`.
    pub errors: BTreeMap<String, u64>,
    /// Open loop only: calls not started because too many were in flight.
    pub dropped: u64,
    /// Calls per second (all outcomes) over the measured time.
    pub throughput: f64,
    /// OK calls per second over the measured time.
    pub ok_per_s: f64,
    /// Latency of every measured call, OK or not.
    pub latency_ms: Latency,
    /// Latency of the calls answered OK.
    #[serde(default)]
    pub ok_latency_ms: Latency,
    /// Latency of the calls answered with an error (a refused call's answer time).
    #[serde(default)]
    pub error_latency_ms: Latency,
}

impl ScenarioReport {
    pub(crate) fn from_stats(name: &str, stats: &Stats, seconds: f64) -> Self {
        let ms = |us: u64| (us as f64) / 1000.0;
        let latency = |h: &hdrhistogram::Histogram<u64>| {
            if h.is_empty() {
                Latency::default()
            } else {
                Latency {
                    p50: ms(h.value_at_quantile(0.50)),
                    p90: ms(h.value_at_quantile(0.90)),
                    p99: ms(h.value_at_quantile(0.99)),
                    p999: ms(h.value_at_quantile(0.999)),
                    max: ms(h.max()),
                    mean: h.mean() / 1000.0,
                }
            }
        };
        let calls: u64 = stats.codes.iter().sum();
        let ok = stats.codes[0];
        let errors = stats
            .codes
            .iter()
            .enumerate()
            .skip(1)
            .filter(|(_, n)| **n > 0)
            .map(|(i, n)| {
                let code = Code::from(i32::try_from(i).unwrap_or(2));
                (code_name(code).to_owned(), *n)
            })
            .collect();
        let per_s = |n: u64| {
            if seconds > 0.0 {
                n as f64 / seconds
            } else {
                0.0
            }
        };
        Self {
            name: name.to_owned(),
            calls,
            ok,
            errors,
            dropped: stats.dropped,
            throughput: per_s(calls),
            ok_per_s: per_s(ok),
            latency_ms: latency(&stats.latency_us),
            ok_latency_ms: latency(&stats.ok_latency_us),
            error_latency_ms: latency(&stats.error_latency_us),
        }
    }

    /// Returns the number of non-OK answers.
    pub fn error_count(&self) -> u64 {
        self.errors.values().sum()
    }
}

/// The result of one run.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Report {
    /// Free label given on the command line (e.g. "customers/postgres").
    pub label: String,
    /// "closed" or "open".
    pub mode: String,
    /// Closed loop: number of callers.
    pub concurrency: Option<usize>,
    /// Open loop: target calls per second.
    pub rate: Option<f64>,
    /// Number of client connections.
    pub connections: usize,
    /// Measured seconds.
    pub duration_s: f64,
    /// Warm-up seconds (not measured).
    pub warmup_s: f64,
    /// The whole run (the only scenario, or the mix).
    pub total: ScenarioReport,
    /// Each scenario of a mix; empty for a single scenario.
    pub scenarios: Vec<ScenarioReport>,
}

impl Report {
    pub(crate) fn new(
        config: &RunConfig,
        total: ScenarioReport,
        scenarios: Vec<ScenarioReport>,
    ) -> Self {
        let (mode, concurrency, rate) = match config.mode {
            Mode::Closed { concurrency } => ("closed", Some(concurrency), None),
            Mode::Open { rate, .. } => ("open", None, Some(rate)),
        };
        Self {
            label: String::new(),
            mode: mode.to_owned(),
            concurrency,
            rate,
            connections: 0,
            duration_s: config.duration.as_secs_f64(),
            warmup_s: config.warmup.as_secs_f64(),
            total,
            scenarios,
        }
    }

    /// Renders the report as an aligned text table.
    pub fn table(&self) -> String {
        let mut out = String::new();
        let load = match (self.concurrency, self.rate) {
            (Some(c), _) => format!("closed loop, {c} callers"),
            (None, Some(r)) => format!("open loop, {r} calls/s"),
            (None, None) => self.mode.clone(),
        };
        let _ = writeln!(
            out,
            "{}{load}, {} connection(s), {:.0} s measured after {:.0} s warm-up",
            if self.label.is_empty() {
                String::new()
            } else {
                format!("{}: ", self.label)
            },
            self.connections,
            self.duration_s,
            self.warmup_s
        );
        let _ = writeln!(
            out,
            "{:<24} {:>9} {:>10} {:>8} {:>8} {:>8} {:>8}  errors by gRPC status",
            "scenario", "calls", "calls/s", "p50 ms", "p90 ms", "p99 ms", "max ms"
        );
        for row in self.scenarios.iter().chain(std::iter::once(&self.total)) {
            let errors = if row.errors.is_empty() && row.dropped == 0 {
                "none".to_owned()
            } else {
                let mut parts: Vec<String> =
                    row.errors.iter().map(|(k, v)| format!("{k}={v}")).collect();
                if row.dropped > 0 {
                    parts.push(format!("dropped={}", row.dropped));
                }
                if !row.errors.is_empty() {
                    parts.push(format!(
                        "(errors answered in p50 {:.2} ms, p99 {:.2} ms)",
                        row.error_latency_ms.p50, row.error_latency_ms.p99
                    ));
                }
                parts.join(" ")
            };
            let _ = writeln!(
                out,
                "{:<24} {:>9} {:>10.0} {:>8.2} {:>8.2} {:>8.2} {:>8.2}  {errors}",
                row.name,
                row.calls,
                row.throughput,
                row.latency_ms.p50,
                row.latency_ms.p90,
                row.latency_ms.p99,
                row.latency_ms.max
            );
        }
        out
    }
}
