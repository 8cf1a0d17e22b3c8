//! The load loops: closed (N callers, each waits for its answer) and open (calls started at a
//! fixed rate whatever the answers do), with warm-up, a weighted scenario mix, an HDR latency
//! histogram over every measured call and errors counted by gRPC status code.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use hdrhistogram::Histogram;
use tokio::sync::Semaphore;
use tokio::time::Instant;
use tonic::{Code, Status};

use crate::report::{Report, ScenarioReport};

/// One call of a scenario, ready to be awaited.
pub type CallFuture = Pin<Box<dyn Future<Output = Result<(), Status>> + Send + 'static>>;

/// Who makes a call: the caller's index (closed loop) and the call's global sequence number.
#[derive(Debug, Clone, Copy)]
pub struct CallCtx {
    /// Index of the caller; scenarios use it to pick a connection.
    pub worker: usize,
    /// Sequence number of the call, unique within a run; scenarios use it to pick data.
    pub seq: u64,
}

/// Something to measure: each call is one unit of work (one RPC or a short sequence of RPCs).
pub trait Scenario: Send + Sync {
    /// Starts one call.
    fn call(&self, ctx: CallCtx) -> CallFuture;
}

impl<F> Scenario for F
where
    F: Fn(CallCtx) -> CallFuture + Send + Sync,
{
    fn call(&self, ctx: CallCtx) -> CallFuture {
        self(ctx)
    }
}

/// A scenario in a mix with its weight.
#[derive(Clone)]
pub struct Weighted {
    /// Name shown in reports.
    pub name: String,
    /// Relative share of calls.
    pub weight: u32,
    /// The calls.
    pub scenario: Arc<dyn Scenario>,
}

impl std::fmt::Debug for Weighted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Weighted")
            .field("name", &self.name)
            .field("weight", &self.weight)
            .finish_non_exhaustive()
    }
}

/// How calls are started.
#[derive(Debug, Clone, Copy)]
pub enum Mode {
    /// `concurrency` callers, each starting its next call when the previous one answers.
    Closed {
        /// Number of callers.
        concurrency: usize,
    },
    /// Calls started at `rate` per second; latency counts from the intended start, so a slow
    /// server is not hidden by a generator that waits for it (no coordinated omission).
    Open {
        /// Calls per second.
        rate: f64,
        /// Calls allowed in flight at once; a call due beyond it is counted as dropped.
        max_in_flight: usize,
    },
}

/// What to run and for how long.
#[derive(Debug, Clone)]
pub struct RunConfig {
    /// How calls are started.
    pub mode: Mode,
    /// Measured time, after the warm-up.
    pub duration: Duration,
    /// Time during which calls run but are not measured.
    pub warmup: Duration,
    /// Upper bound of one call; a call still running then counts as DEADLINE_EXCEEDED.
    pub call_timeout: Duration,
    /// Upper bound of calls started (warm-up included), as a safety net.
    pub max_calls: u64,
}

/// Highest latency the histograms hold, in microseconds (larger values are clamped).
const MAX_LATENCY_US: u64 = 120_000_000;

/// Latencies and outcomes of one scenario.
#[derive(Debug, Clone)]
pub(crate) struct Stats {
    pub(crate) latency_us: Histogram<u64>,
    /// The same calls split by outcome: a refusal must not hide in the OK calls' figures.
    pub(crate) ok_latency_us: Histogram<u64>,
    pub(crate) error_latency_us: Histogram<u64>,
    pub(crate) codes: [u64; 17],
    pub(crate) dropped: u64,
}

impl Stats {
    fn new() -> Self {
        // Three significant digits from 1 µs to two minutes.
        let histogram = || {
            Histogram::new_with_bounds(1, MAX_LATENCY_US, 3)
                .expect("constant histogram bounds are valid")
        };
        Self {
            latency_us: histogram(),
            ok_latency_us: histogram(),
            error_latency_us: histogram(),
            codes: [0; 17],
            dropped: 0,
        }
    }

    fn record(&mut self, elapsed: Duration, result: &Result<(), Status>) {
        let micros = u64::try_from(elapsed.as_micros())
            .unwrap_or(MAX_LATENCY_US)
            .clamp(1, MAX_LATENCY_US);
        self.latency_us.saturating_record(micros);
        let code = match result {
            Ok(()) => Code::Ok,
            Err(status) => status.code(),
        };
        if code == Code::Ok {
            self.ok_latency_us.saturating_record(micros);
        } else {
            self.error_latency_us.saturating_record(micros);
        }
        self.codes[code_index(code)] += 1;
    }

    fn merge(&mut self, other: &Self) {
        // Both histograms have the same bounds, so adding cannot fail.
        let _ = self.latency_us.add(&other.latency_us);
        let _ = self.ok_latency_us.add(&other.ok_latency_us);
        let _ = self.error_latency_us.add(&other.error_latency_us);
        for (mine, theirs) in self.codes.iter_mut().zip(other.codes.iter()) {
            *mine += theirs;
        }
        self.dropped += other.dropped;
    }
}

fn code_index(code: Code) -> usize {
    usize::try_from(code as i32).unwrap_or(2).min(16)
}

/// Picks the scenario of call `seq`: a deterministic weighted round-robin, so every mix
/// interleaves its scenarios evenly from the first call on.
#[derive(Debug)]
struct Picker {
    slots: Vec<usize>,
}

impl Picker {
    fn new(mix: &[Weighted]) -> Self {
        let mut slots = Vec::new();
        // Interleave: slot k goes to the scenario with the largest remaining deficit.
        let total: u32 = mix.iter().map(|w| w.weight.max(1)).sum();
        let mut credit = vec![0i64; mix.len()];
        for _ in 0..total {
            for (c, w) in credit.iter_mut().zip(mix) {
                *c += i64::from(w.weight.max(1));
            }
            let best = credit
                .iter()
                .enumerate()
                .max_by_key(|(i, c)| (**c, std::cmp::Reverse(*i)))
                .map_or(0, |(i, _)| i);
            credit[best] -= i64::from(total);
            slots.push(best);
        }
        Self { slots }
    }

    fn pick(&self, seq: u64) -> usize {
        let len = self.slots.len().max(1) as u64;
        self.slots
            .get(usize::try_from(seq % len).unwrap_or(0))
            .copied()
            .unwrap_or(0)
    }
}

async fn timed_call(
    scenario: &dyn Scenario,
    ctx: CallCtx,
    timeout: Duration,
) -> Result<(), Status> {
    match tokio::time::timeout(timeout, scenario.call(ctx)).await {
        Ok(result) => result,
        Err(_) => Err(Status::deadline_exceeded("call timed out in the load tool")),
    }
}

/// Runs `mix` under `config` and reports every measured call.
///
/// # Panics
/// Panics when `mix` is empty.
pub async fn run(mix: Vec<Weighted>, config: &RunConfig) -> Report {
    assert!(!mix.is_empty(), "a run needs at least one scenario");
    let start = Instant::now();
    let measure_from = start + config.warmup;
    let end = measure_from + config.duration;
    let stats = match config.mode {
        Mode::Closed { concurrency } => closed(&mix, config, measure_from, end, concurrency).await,
        Mode::Open {
            rate,
            max_in_flight,
        } => open(&mix, config, start, measure_from, end, rate, max_in_flight).await,
    };
    let measured = config.duration.as_secs_f64();
    let mut total = Stats::new();
    let mut scenarios = Vec::new();
    for (weighted, stats) in mix.iter().zip(&stats) {
        total.merge(stats);
        scenarios.push(ScenarioReport::from_stats(&weighted.name, stats, measured));
    }
    let total_name = if mix.len() == 1 {
        mix[0].name.clone()
    } else {
        "mix".to_owned()
    };
    Report::new(
        config,
        ScenarioReport::from_stats(&total_name, &total, measured),
        if mix.len() == 1 {
            Vec::new()
        } else {
            scenarios
        },
    )
}

async fn closed(
    mix: &[Weighted],
    config: &RunConfig,
    measure_from: Instant,
    end: Instant,
    concurrency: usize,
) -> Vec<Stats> {
    let picker = Arc::new(Picker::new(mix));
    let next_seq = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::with_capacity(concurrency);
    for worker in 0..concurrency.max(1) {
        let mix: Vec<Weighted> = mix.to_vec();
        let picker = Arc::clone(&picker);
        let next_seq = Arc::clone(&next_seq);
        let timeout = config.call_timeout;
        let max_calls = config.max_calls;
        tasks.push(tokio::spawn(async move {
            let mut stats: Vec<Stats> = mix.iter().map(|_| Stats::new()).collect();
            loop {
                let began = Instant::now();
                if began >= end {
                    break;
                }
                let seq = next_seq.fetch_add(1, Ordering::Relaxed);
                if seq >= max_calls {
                    break;
                }
                let index = picker.pick(seq);
                let result =
                    timed_call(&*mix[index].scenario, CallCtx { worker, seq }, timeout).await;
                if began >= measure_from {
                    stats[index].record(began.elapsed(), &result);
                }
            }
            stats
        }));
    }
    let mut merged: Vec<Stats> = mix.iter().map(|_| Stats::new()).collect();
    for task in tasks {
        if let Ok(stats) = task.await {
            for (m, s) in merged.iter_mut().zip(&stats) {
                m.merge(s);
            }
        }
    }
    merged
}

async fn open(
    mix: &[Weighted],
    config: &RunConfig,
    start: Instant,
    measure_from: Instant,
    end: Instant,
    rate: f64,
    max_in_flight: usize,
) -> Vec<Stats> {
    let picker = Picker::new(mix);
    let shared: Arc<Mutex<Vec<Stats>>> =
        Arc::new(Mutex::new(mix.iter().map(|_| Stats::new()).collect()));
    let permits = Arc::new(Semaphore::new(max_in_flight.max(1)));
    let interval = Duration::from_secs_f64(1.0 / rate.max(0.001));
    let mut seq: u64 = 0;
    while seq < config.max_calls {
        let due = start + interval.mul_f64(seq as f64);
        if due >= end {
            break;
        }
        tokio::time::sleep_until(due).await;
        let index = picker.pick(seq);
        let ctx = CallCtx {
            worker: usize::try_from(seq % (max_in_flight.max(1) as u64)).unwrap_or(0),
            seq,
        };
        seq += 1;
        let Ok(permit) = Arc::clone(&permits).try_acquire_owned() else {
            if due >= measure_from {
                lock(&shared)[index].dropped += 1;
            }
            continue;
        };
        let scenario = Arc::clone(&mix[index].scenario);
        let shared = Arc::clone(&shared);
        let timeout = config.call_timeout;
        tokio::spawn(async move {
            let result = timed_call(&*scenario, ctx, timeout).await;
            if due >= measure_from {
                lock(&shared)[index].record(due.elapsed(), &result);
            }
            drop(permit);
        });
    }
    // Every call ends within its timeout, so waiting for all permits is bounded.
    let all = u32::try_from(max_in_flight.max(1)).unwrap_or(u32::MAX);
    let _ = tokio::time::timeout(
        config.call_timeout + Duration::from_secs(1),
        permits.acquire_many(all),
    )
    .await;
    let stats = lock(&shared).clone();
    stats
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The canonical upper-case name of a gRPC status code.
pub fn code_name(code: Code) -> &'static str {
    match code {
        Code::Ok => "OK",
        Code::Cancelled => "CANCELLED",
        Code::Unknown => "UNKNOWN",
        Code::InvalidArgument => "INVALID_ARGUMENT",
        Code::DeadlineExceeded => "DEADLINE_EXCEEDED",
        Code::NotFound => "NOT_FOUND",
        Code::AlreadyExists => "ALREADY_EXISTS",
        Code::PermissionDenied => "PERMISSION_DENIED",
        Code::ResourceExhausted => "RESOURCE_EXHAUSTED",
        Code::FailedPrecondition => "FAILED_PRECONDITION",
        Code::Aborted => "ABORTED",
        Code::OutOfRange => "OUT_OF_RANGE",
        Code::Unimplemented => "UNIMPLEMENTED",
        Code::Internal => "INTERNAL",
        Code::Unavailable => "UNAVAILABLE",
        Code::DataLoss => "DATA_LOSS",
        Code::Unauthenticated => "UNAUTHENTICATED",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn weighted(name: &str, weight: u32) -> Weighted {
        let scenario: Arc<dyn Scenario> =
            Arc::new(|_ctx: CallCtx| -> CallFuture { Box::pin(async { Ok(()) }) });
        Weighted {
            name: name.to_owned(),
            weight,
            scenario,
        }
    }

    #[test]
    fn picker_honours_weights_and_interleaves() {
        let picker = Picker::new(&[weighted("a", 3), weighted("b", 1)]);
        let picks: Vec<usize> = (0..8).map(|s| picker.pick(s)).collect();
        assert_eq!(picks.iter().filter(|&&i| i == 0).count(), 6);
        assert_eq!(picks.iter().filter(|&&i| i == 1).count(), 2);
        // Never the same scenario four times in a row with a 3:1 mix.
        assert!(picks.windows(4).all(|w| w.iter().any(|&i| i != w[0])));
    }

    #[test]
    fn every_code_has_its_own_slot() {
        let mut stats = Stats::new();
        stats.record(Duration::from_millis(1), &Ok(()));
        stats.record(Duration::from_millis(1), &Err(Status::not_found("x")));
        stats.record(Duration::from_millis(1), &Err(Status::unauthenticated("x")));
        assert_eq!(stats.codes[0], 1);
        assert_eq!(stats.codes[5], 1);
        assert_eq!(stats.codes[16], 1);
    }
}
