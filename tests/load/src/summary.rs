//! Turns the files of one bench run (`target-release/bench/`) into tables: each scenario beside
//! the limit measured in the same run, the ratio between them and the target it is held to.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use anyhow::Context as _;
use serde::Serialize;
use serde_json::Value;

use crate::report::Report;

/// A limit measured in the run.
#[derive(Debug, Clone, Serialize)]
pub struct Limit {
    /// File stem, e.g. `pgbench_create_customer_c32` or `echo_c32`.
    pub name: String,
    /// What it is.
    pub what: String,
    /// Operations per second.
    pub rate: f64,
    /// 99th percentile latency in ms, when known.
    pub p99_ms: Option<f64>,
}

/// One scenario against its limit.
#[derive(Debug, Clone, Serialize)]
pub struct Row {
    /// Service, e.g. `customers`.
    pub service: String,
    /// `postgres` or `sqlite`.
    pub backend: String,
    /// Scenario name.
    pub scenario: String,
    /// The load tool's report.
    pub report: Report,
    /// The limit it is compared with.
    pub limit: Option<Limit>,
    /// Throughput of OK calls over the limit's rate.
    pub ratio: Option<f64>,
    /// A second limit shown beside it (for reads: the bare echo, or the echo answered by the
    /// same list query).
    pub also: Option<Limit>,
    /// Throughput of OK calls over the second limit's rate.
    pub also_ratio: Option<f64>,
    /// Required ratio, if the issue sets one.
    pub target_ratio: Option<f64>,
    /// Required p99 in ms, if the issue sets one.
    pub target_p99_ms: Option<f64>,
    /// Whether both targets hold (None when there is no target).
    pub met: Option<bool>,
}

/// Everything one run measured.
#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    /// Machine, date, versions.
    pub machine: Value,
    /// Limits by name.
    pub limits: BTreeMap<String, Limit>,
    /// Scenario rows.
    pub rows: Vec<Row>,
    /// memory_*.json by service/backend.
    pub memory: BTreeMap<String, Value>,
    /// startup_*.json by service/backend.
    pub startup: BTreeMap<String, Value>,
    /// h2load cross-checks.
    pub cross_checks: BTreeMap<String, Value>,
}

/// How a scenario's p99 is held.
#[derive(Debug, Clone, Copy)]
enum P99 {
    /// At most this many milliseconds.
    Ms(f64),
    /// At most this multiple of its limit's own p99.
    TimesLimit(f64),
}

/// Which limit a scenario is held to and its targets (issue 13's table):
/// - writes against pgbench doing the same statements (create_complaint: the statements of
///   the create as it was on 2026-12-02, so ≥ 100 % means fewer or cheaper statements);
/// - gets against the read limit, the echo answered by one prepared primary-key SELECT on the
///   same table (`pkselect_<table>`), and also against the bare echo;
/// - lists against pgbench running the same list query, and also against the echo answered
///   by that query (`select_<scenario>`: gRPC and the query, nothing else);
/// - everything else against the bare echo, the most the gRPC stack can do.
///
/// Returns (limit, second limit, ratio target, p99 target).
fn limit_of(
    scenario: &str,
    backend: &str,
    concurrency: u64,
) -> (String, Option<String>, Option<f64>, Option<P99>) {
    let echo = format!("echo_c{concurrency}");
    let pg = backend == "postgres";
    let pgbench = |name: &str| format!("pgbench_{name}_c{concurrency}");
    match scenario {
        "create_customer" if pg => (pgbench(scenario), None, Some(0.50), Some(P99::Ms(20.0))),
        "create_complaint" if pg => (
            pgbench(scenario),
            None,
            Some(1.00),
            Some(P99::TimesLimit(1.5)),
        ),
        "get_customer" | "get_complaint" if pg => {
            let table = if scenario == "get_customer" {
                "customers"
            } else {
                "complaints"
            };
            (
                format!("pkselect_{table}_c{concurrency}"),
                Some(echo),
                Some(0.80),
                Some(P99::TimesLimit(2.0)),
            )
        }
        "list_customers" | "list_open_complaints" if pg => (
            pgbench(scenario),
            Some(format!("select_{scenario}_c{concurrency}")),
            Some(0.60),
            None,
        ),
        _ => (echo, None, None, None),
    }
}

fn read_json(path: &Path) -> anyhow::Result<Value> {
    let text = std::fs::read_to_string(path).with_context(|| format!("{}", path.display()))?;
    serde_json::from_str(&text).with_context(|| format!("{}", path.display()))
}

/// Reads the files of a bench run.
pub fn load(dir: &Path) -> anyhow::Result<Summary> {
    let machine = read_json(&dir.join("machine.json")).unwrap_or(Value::Null);
    let concurrency = machine
        .get("concurrency")
        .and_then(Value::as_u64)
        .unwrap_or(32);
    let mut limits = BTreeMap::new();
    let mut reports = Vec::new();
    let mut memory = BTreeMap::new();
    let mut startup = BTreeMap::new();
    let mut cross_checks = BTreeMap::new();
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .with_context(|| format!("{}", dir.display()))?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    entries.sort();
    for path in entries {
        let stem = path
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or_default()
            .to_owned();
        let value = read_json(&path)?;
        if let Some(name) = stem.strip_prefix("pgbench_") {
            limits.insert(
                stem.clone(),
                Limit {
                    name: stem.clone(),
                    what: format!(
                        "pgbench `{}`, same statements, {} clients",
                        name.rsplit_once("_c").map_or(name, |(n, _)| n),
                        value["clients"]
                    ),
                    rate: value["tps"].as_f64().unwrap_or(0.0),
                    p99_ms: value["p99_ms"].as_f64(),
                },
            );
        } else if let Some(key) = stem.strip_prefix("memory_") {
            memory.insert(key.to_owned(), value);
        } else if let Some(key) = stem.strip_prefix("startup_") {
            startup.insert(key.to_owned(), value);
        } else if let Some(key) = stem.strip_prefix("h2load_") {
            cross_checks.insert(key.to_owned(), value);
        } else if stem == "machine" || stem == "summary" || stem == "watcher_sweep" {
        } else {
            let report: Report = serde_json::from_value(value)
                .with_context(|| format!("{} is not a load report", path.display()))?;
            let select = |prefix: &str| {
                stem.strip_prefix(prefix)
                    .and_then(|rest| rest.rsplit_once("_c"))
                    .map(|(name, _)| name.to_owned())
            };
            let what = match (select("pkselect_"), select("select_")) {
                (Some(table), _) => Some(format!(
                    "tonic echo answered by one prepared primary-key SELECT on `{table}`"
                )),
                (None, Some(scenario)) => Some(format!(
                    "tonic echo answered by `{scenario}`'s list query, prepared"
                )),
                (None, None) => None,
            };
            if let Some(what) = what {
                limits.insert(
                    stem.clone(),
                    Limit {
                        name: stem.clone(),
                        what: format!("{what}, {} callers", report.concurrency.unwrap_or(0)),
                        rate: report.total.ok_per_s,
                        p99_ms: Some(report.total.latency_ms.p99),
                    },
                );
            } else if stem.starts_with("echo_") {
                limits.insert(
                    stem.clone(),
                    Limit {
                        name: stem.clone(),
                        what: format!(
                            "bare tonic echo, 300 B, {} callers (csops-load)",
                            report.concurrency.unwrap_or(0)
                        ),
                        rate: report.total.ok_per_s,
                        p99_ms: Some(report.total.latency_ms.p99),
                    },
                );
            } else {
                reports.push((stem, report));
            }
        }
    }
    let mut rows = Vec::new();
    for (stem, report) in reports {
        // <service>_<backend>_<scenario>
        let mut parts = stem.splitn(3, '_');
        let service = parts.next().unwrap_or_default().to_owned();
        let backend = parts.next().unwrap_or_default().to_owned();
        let scenario = parts.next().unwrap_or_default().to_owned();
        let (limit_name, also_name, target_ratio, p99) = limit_of(&scenario, &backend, concurrency);
        let limit = limits.get(&limit_name).cloned();
        let also = also_name.and_then(|name| limits.get(&name).cloned());
        let ratio_to = |limit: &Option<Limit>| {
            limit
                .as_ref()
                .filter(|l| l.rate > 0.0)
                .map(|l| report.total.ok_per_s / l.rate)
        };
        let ratio = ratio_to(&limit);
        let also_ratio = ratio_to(&also);
        let target_p99_ms = match p99 {
            Some(P99::Ms(ms)) => Some(ms),
            Some(P99::TimesLimit(times)) => {
                limit.as_ref().and_then(|l| l.p99_ms).map(|p| p * times)
            }
            None => None,
        };
        let met = match (target_ratio, ratio) {
            (Some(t), Some(r)) => Some(
                r >= t
                    && target_p99_ms.is_none_or(|p| report.total.latency_ms.p99 <= p)
                    && report.total.error_count() == 0,
            ),
            _ => None,
        };
        rows.push(Row {
            service,
            backend,
            scenario,
            report,
            limit,
            ratio,
            also,
            also_ratio,
            target_ratio,
            target_p99_ms,
            met,
        });
    }
    Ok(Summary {
        machine,
        limits,
        rows,
        memory,
        startup,
        cross_checks,
    })
}

fn yes_no(met: Option<bool>) -> &'static str {
    match met {
        Some(true) => "met",
        Some(false) => "**missed**",
        None => "—",
    }
}

/// Renders the summary as Markdown tables.
pub fn markdown(s: &Summary) -> String {
    let mut out = String::new();
    let m = &s.machine;
    let _ = writeln!(
        out,
        "Run {} on {} × {} ({}), load average at start {}; {}, fsync and synchronous_commit on; commit {}; each figure {} after {} warm-up.\n",
        m["date"].as_str().unwrap_or("?"),
        m["cores"],
        m["cpu"].as_str().unwrap_or("?"),
        m["rustc"].as_str().unwrap_or("?"),
        m["loadavg_at_start"].as_str().unwrap_or("?"),
        m["postgres"].as_str().unwrap_or("?"),
        m["commit"].as_str().unwrap_or("?"),
        m["duration"].as_str().unwrap_or("?"),
        m["warmup"].as_str().unwrap_or("?"),
    );
    let _ = writeln!(out, "### Limits measured in this run\n");
    let _ = writeln!(
        out,
        "| limit | what | rate /s | p99 ms |\n| --- | --- | ---: | ---: |"
    );
    for l in s.limits.values() {
        let _ = writeln!(
            out,
            "| `{}` | {} | {:.0} | {} |",
            l.name,
            l.what,
            l.rate,
            l.p99_ms.map_or("—".to_owned(), |p| format!("{p:.2}"))
        );
    }
    let _ = writeln!(out, "\n### Scenarios\n");
    let _ = writeln!(
        out,
        "| service | backend | scenario | calls/s (OK) | p50 ms | p90 ms | p99 ms | max ms | errors by status | limit | ratio | other limit | ratio | target | result |\n| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | --- | --- | ---: | --- | ---: | --- | --- |"
    );
    for r in &s.rows {
        let t = &r.report.total;
        let errors = if t.errors.is_empty() {
            "none".to_owned()
        } else {
            t.errors
                .iter()
                .map(|(k, v)| format!("{k} {v}"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let target = match (r.target_ratio, r.target_p99_ms) {
            (Some(ratio), Some(p99)) => format!("≥ {:.0} %, p99 ≤ {p99:.1} ms", ratio * 100.0),
            (Some(ratio), None) => format!("≥ {:.0} %", ratio * 100.0),
            _ => "—".to_owned(),
        };
        let _ =
            writeln!(
            out,
            "| {} | {} | `{}` | {:.0} | {:.2} | {:.2} | {:.2} | {:.2} | {} | {} | {} | {} | {} | {} | {} |",
            r.service,
            r.backend,
            r.scenario,
            t.ok_per_s,
            t.latency_ms.p50,
            t.latency_ms.p90,
            t.latency_ms.p99,
            t.latency_ms.max,
            errors,
            r.limit
                .as_ref()
                .map_or("—".to_owned(), |l| format!("`{}` {:.0}/s", l.name, l.rate)),
            r.ratio.map_or("—".to_owned(), |x| format!("{:.0} %", x * 100.0)),
            r.also
                .as_ref()
                .map_or("—".to_owned(), |l| format!("`{}` {:.0}/s", l.name, l.rate)),
            r.also_ratio
                .map_or("—".to_owned(), |x| format!("{:.0} %", x * 100.0)),
            target,
            yes_no(r.met),
        );
    }
    let _ = writeln!(
        out,
        "\n### Memory and start-up (the service binary as its own process)\n"
    );
    let _ = writeln!(
        out,
        "| service/backend | start-up to SERVING | idle RSS | RSS under load (peak sample / VmHWM) | targets (≤ 1 s, ≤ 30 MiB, ≤ 100 MiB) |\n| --- | ---: | ---: | ---: | --- |"
    );
    for (key, mem) in &s.memory {
        let startup = s
            .startup
            .get(key)
            .and_then(|v| v["startup_ms"].as_f64())
            .unwrap_or(f64::NAN);
        let idle = mem["idle_rss_mib"].as_f64().unwrap_or(f64::NAN);
        let peak = mem["load_rss_mib"].as_f64().unwrap_or(f64::NAN);
        let hwm = mem["vmhwm_mib"].as_f64().unwrap_or(f64::NAN);
        let met = startup <= 1000.0 && idle <= 30.0 && peak.max(hwm) <= 100.0;
        let _ = writeln!(
            out,
            "| {key} | {startup:.0} ms | {idle:.1} MiB | {peak:.1} / {hwm:.1} MiB | {} |",
            yes_no(Some(met))
        );
    }
    if !s.cross_checks.is_empty() {
        let _ = writeln!(out, "\n### Cross-checks with h2load\n");
        for (key, value) in &s.cross_checks {
            let _ = writeln!(out, "- `{key}`: `{value}`");
        }
    }
    out
}
