//! A circuit breaker for calls to a neighbour service: after a few consecutive failures
//! (timeouts, UNAVAILABLE) calls are not made at all for a while, so a neighbour that hangs
//! costs each caller nothing instead of a full deadline; the caller takes its documented
//! fallback at once. While open, one background probe at a time asks the neighbour whether it
//! is back; the first answer closes the breaker and wakes whoever waits for the neighbour's
//! return (`recovered`).
//!
//! The state machine is pure (`Breaker::record`, `Breaker::allows`); `probe_until_closed`
//! is the I/O loop around it.

use std::future::Future;
use std::sync::Mutex;
use std::time::Duration;

use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

/// When a breaker opens and how often it probes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BreakerSettings {
    /// Consecutive failed calls that open the breaker.
    pub failures_to_open: u32,
    /// How long an open breaker waits between probes.
    pub probe_every: Duration,
}

impl Default for BreakerSettings {
    fn default() -> Self {
        Self {
            failures_to_open: 3,
            probe_every: Duration::from_secs(1),
        }
    }
}

/// How one call to the neighbour went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The neighbour answered (an error status that is an answer, such as NOT_FOUND, counts).
    Answered,
    /// It did not: a timeout, UNAVAILABLE, a broken connection.
    Failed,
}

/// What recording an outcome changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transition {
    /// Nothing.
    None,
    /// The breaker just opened: start probing.
    Opened,
    /// The breaker just closed: the neighbour is back.
    Closed,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Closed { failures: u32 },
    Open,
}

/// A circuit breaker for one neighbour.
#[derive(Debug)]
pub struct Breaker {
    name: &'static str,
    settings: BreakerSettings,
    state: Mutex<State>,
    recovered: Notify,
}

impl Breaker {
    /// A closed breaker for the neighbour `name` (used in logs).
    pub fn new(name: &'static str, settings: BreakerSettings) -> Self {
        Self {
            name,
            settings,
            state: Mutex::new(State::Closed { failures: 0 }),
            recovered: Notify::new(),
        }
    }

    /// The settings it was made with.
    pub fn settings(&self) -> BreakerSettings {
        self.settings
    }

    /// True when calls may be made (the breaker is closed).
    pub fn allows(&self) -> bool {
        matches!(self.state(), State::Closed { .. })
    }

    fn state(&self) -> State {
        *self
            .state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Records how a call (or a probe) went.
    pub fn record(&self, outcome: Outcome) -> Transition {
        let mut state = self
            .state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let (next, transition) = step(*state, outcome, self.settings.failures_to_open);
        *state = next;
        drop(state);
        match transition {
            Transition::Opened => tracing::warn!(
                neighbour = self.name,
                failures = self.settings.failures_to_open,
                "neighbour not answering: circuit open, calls take the fallback until a probe answers"
            ),
            Transition::Closed => {
                tracing::info!(neighbour = self.name, "neighbour answers again: circuit closed");
                self.recovered.notify_one();
            }
            Transition::None => {}
        }
        transition
    }

    /// Completes when the breaker next closes (the neighbour came back). Meant for one task
    /// (such as a re-evaluation loop): a closing that nobody waited for is kept, so the next
    /// wait returns at once instead of missing it.
    pub async fn recovered(&self) {
        self.recovered.notified().await;
    }
}

/// The pure transition.
fn step(state: State, outcome: Outcome, failures_to_open: u32) -> (State, Transition) {
    match (state, outcome) {
        (State::Closed { .. }, Outcome::Answered) => {
            (State::Closed { failures: 0 }, Transition::None)
        }
        (State::Closed { failures }, Outcome::Failed) => {
            let failures = failures.saturating_add(1);
            if failures >= failures_to_open.max(1) {
                (State::Open, Transition::Opened)
            } else {
                (State::Closed { failures }, Transition::None)
            }
        }
        (State::Open, Outcome::Answered) => (State::Closed { failures: 0 }, Transition::Closed),
        (State::Open, Outcome::Failed) => (State::Open, Transition::None),
    }
}

/// Probes the neighbour every `probe_every` while the breaker is open, recording each
/// outcome, until a probe answers (the breaker closes) or `stop` is cancelled. Run it in a
/// task when [`Breaker::record`] returns [`Transition::Opened`].
pub async fn probe_until_closed<F, Fut>(breaker: &Breaker, stop: &CancellationToken, probe: F)
where
    F: Fn() -> Fut,
    Fut: Future<Output = Outcome>,
{
    while !breaker.allows() {
        tokio::select! {
            () = stop.cancelled() => return,
            () = tokio::time::sleep(breaker.settings.probe_every) => {}
        }
        let outcome = tokio::select! {
            () = stop.cancelled() => return,
            outcome = probe() => outcome,
        };
        breaker.record(outcome);
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn opens_after_consecutive_failures_only() {
        let breaker = Breaker::new("customers", BreakerSettings::default());
        assert_eq!(breaker.record(Outcome::Failed), Transition::None);
        assert_eq!(breaker.record(Outcome::Failed), Transition::None);
        assert_eq!(breaker.record(Outcome::Answered), Transition::None);
        assert!(breaker.allows());
        assert_eq!(breaker.record(Outcome::Failed), Transition::None);
        assert_eq!(breaker.record(Outcome::Failed), Transition::None);
        assert_eq!(breaker.record(Outcome::Failed), Transition::Opened);
        assert!(!breaker.allows());
        assert_eq!(breaker.record(Outcome::Failed), Transition::None);
        assert_eq!(breaker.record(Outcome::Answered), Transition::Closed);
        assert!(breaker.allows());
    }

    proptest! {
        /// Whatever the history, the breaker is open exactly when the last
        /// `failures_to_open` outcomes since the last answer were all failures.
        #[test]
        fn open_means_enough_failures_since_the_last_answer(
            outcomes in proptest::collection::vec(any::<bool>(), 0..60),
            threshold in 1u32..6,
        ) {
            let breaker = Breaker::new("n", BreakerSettings { failures_to_open: threshold, probe_every: Duration::from_millis(1) });
            let mut since_answer = 0u32;
            for answered in outcomes {
                breaker.record(if answered { Outcome::Answered } else { Outcome::Failed });
                since_answer = if answered { 0 } else { since_answer + 1 };
                prop_assert_eq!(breaker.allows(), since_answer < threshold);
            }
        }
    }

    #[tokio::test]
    async fn probing_closes_the_breaker_and_wakes_waiters_when_the_neighbour_answers() {
        let breaker = std::sync::Arc::new(Breaker::new(
            "customers",
            BreakerSettings {
                failures_to_open: 1,
                probe_every: Duration::from_millis(5),
            },
        ));
        assert_eq!(breaker.record(Outcome::Failed), Transition::Opened);
        let waiter = {
            let breaker = breaker.clone();
            tokio::spawn(async move { breaker.recovered().await })
        };
        tokio::task::yield_now().await;
        let probes = std::sync::atomic::AtomicU32::new(0);
        let stop = CancellationToken::new();
        probe_until_closed(&breaker, &stop, || async {
            // The neighbour is back at the third probe.
            if probes.fetch_add(1, std::sync::atomic::Ordering::SeqCst) < 2 {
                Outcome::Failed
            } else {
                Outcome::Answered
            }
        })
        .await;
        assert!(breaker.allows());
        assert_eq!(probes.load(std::sync::atomic::Ordering::SeqCst), 3);
        tokio::time::timeout(Duration::from_secs(10), waiter)
            .await
            .expect("the waiter was not woken")
            .unwrap();
    }

    #[tokio::test]
    async fn probing_ends_on_stop() {
        let breaker = Breaker::new(
            "customers",
            BreakerSettings {
                failures_to_open: 1,
                probe_every: Duration::from_millis(1),
            },
        );
        breaker.record(Outcome::Failed);
        let stop = CancellationToken::new();
        stop.cancel();
        probe_until_closed(&breaker, &stop, || async { Outcome::Failed }).await;
        assert!(!breaker.allows());
    }
}
