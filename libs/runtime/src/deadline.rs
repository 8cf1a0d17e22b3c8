//! The caller's deadline, carried from an incoming call to the calls it makes.
//!
//! A caller that sends `grpc-timeout` gives up after it; work done for it afterwards is
//! wasted, and so is a call to a neighbour that outlives it. The server layer
//! ([`DeadlineLayer`]) reads the incoming `grpc-timeout` and keeps the instant it expires for
//! the duration of the call (a task-local); [`remaining`] tells what is left of it, and the
//! kit's client channels ([`crate::client`]) send a neighbour `min(their own timeout, what is
//! left)` as its `grpc-timeout`, so a chain of calls shares one deadline. Work spawned off the
//! call (the outbox relay, sweeps) is not bound by it: those have their own timeouts.
//!
//! tonic's server enforces the incoming deadline itself (the call is cancelled when it
//! passes); this module only carries it on.

use std::future::Future;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::task::futures::TaskLocalFuture;
use tokio::time::Instant;
use tower_layer::Layer;
use tower_service::Service;

/// The gRPC header that carries a call's timeout.
pub const GRPC_TIMEOUT: &str = "grpc-timeout";

tokio::task_local! {
    static DEADLINE: Option<Instant>;
}

/// What is left of the deadline of the call being served, `None` when it has none (or when
/// called outside a served call).
pub fn remaining() -> Option<Duration> {
    DEADLINE
        .try_with(|deadline| *deadline)
        .ok()
        .flatten()
        .map(|at| at.saturating_duration_since(Instant::now()))
}

/// Runs `future` as if served under a call whose deadline is `timeout` from now (background
/// work that should share a deadline across several calls, and tests).
pub async fn within<F: Future>(timeout: Duration, future: F) -> F::Output {
    DEADLINE.scope(Some(Instant::now() + timeout), future).await
}

/// Parses a `grpc-timeout` value: at most 8 digits and a unit (`H`, `M`, `S`, `m`, `u`, `n`).
pub fn parse_grpc_timeout(value: &str) -> Option<Duration> {
    let split = value.len().checked_sub(1)?;
    let (digits, unit) = value.split_at(split);
    if digits.is_empty() || digits.len() > 8 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let amount: u64 = digits.parse().ok()?;
    Some(match unit {
        "H" => Duration::from_secs(amount * 3600),
        "M" => Duration::from_secs(amount * 60),
        "S" => Duration::from_secs(amount),
        "m" => Duration::from_millis(amount),
        "u" => Duration::from_micros(amount),
        "n" => Duration::from_nanos(amount),
        _ => return None,
    })
}

/// Formats a timeout as a `grpc-timeout` value, in the finest unit that fits in 8 digits
/// (rounded down: a neighbour never gets more time than is left).
pub fn format_grpc_timeout(timeout: Duration) -> String {
    const MAX: u128 = 99_999_999;
    let nanos = timeout.as_nanos();
    for (per_unit, unit) in [
        (1, 'n'),
        (1_000, 'u'),
        (1_000_000, 'm'),
        (1_000_000_000, 'S'),
        (60_000_000_000, 'M'),
    ] {
        let amount = nanos / per_unit;
        if amount <= MAX {
            return format!("{amount}{unit}");
        }
    }
    format!("{}H", (nanos / 3_600_000_000_000).min(MAX))
}

/// The server layer that keeps each call's deadline for [`remaining`].
#[derive(Debug, Clone, Copy, Default)]
pub struct DeadlineLayer;

impl<S> Layer<S> for DeadlineLayer {
    type Service = DeadlineService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        DeadlineService { inner }
    }
}

/// The service [`DeadlineLayer`] makes.
#[derive(Debug, Clone)]
pub struct DeadlineService<S> {
    inner: S,
}

impl<S, B> Service<http::Request<B>> for DeadlineService<S>
where
    S: Service<http::Request<B>>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = TaskLocalFuture<Option<Instant>, S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        let deadline = request
            .headers()
            .get(GRPC_TIMEOUT)
            .and_then(|v| v.to_str().ok())
            .and_then(parse_grpc_timeout)
            .map(|timeout| Instant::now() + timeout);
        DEADLINE.scope(deadline, self.inner.call(request))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn every_unit_parses_and_bad_values_do_not() {
        assert_eq!(parse_grpc_timeout("2H"), Some(Duration::from_secs(7200)));
        assert_eq!(parse_grpc_timeout("3M"), Some(Duration::from_secs(180)));
        assert_eq!(parse_grpc_timeout("10S"), Some(Duration::from_secs(10)));
        assert_eq!(parse_grpc_timeout("250m"), Some(Duration::from_millis(250)));
        assert_eq!(parse_grpc_timeout("7u"), Some(Duration::from_micros(7)));
        assert_eq!(parse_grpc_timeout("9n"), Some(Duration::from_nanos(9)));
        for bad in [
            "",
            "S",
            "10",
            "10s",
            "123456789S",
            "-1S",
            "1.5S",
            "ten S",
            "1SS",
        ] {
            assert_eq!(parse_grpc_timeout(bad), None, "{bad:?}");
        }
    }

    proptest! {
        #[test]
        fn a_formatted_timeout_parses_back_no_longer_and_nearly_equal(nanos in 0u64..u64::MAX / 4) {
            let timeout = Duration::from_nanos(nanos);
            let text = format_grpc_timeout(timeout);
            let back = parse_grpc_timeout(&text).unwrap();
            prop_assert!(back <= timeout, "{text} is longer than {timeout:?}");
            // A coarser unit is taken only past 8 digits of the finer one, so rounding down
            // loses less than one part in 100,000.
            prop_assert!(timeout - back <= timeout / 99_999 + Duration::from_nanos(1));
        }
    }

    #[tokio::test]
    async fn a_served_call_sees_what_is_left_of_its_callers_timeout() {
        let mut service =
            DeadlineLayer.layer(tower::service_fn(|_request: http::Request<()>| async {
                Ok::<_, std::convert::Infallible>(remaining())
            }));
        let request = http::Request::builder()
            .header(GRPC_TIMEOUT, "1500m")
            .body(())
            .unwrap();
        let left = service.call(request).await.unwrap().unwrap();
        assert!(left <= Duration::from_millis(1500) && left > Duration::from_millis(1000));

        let without = service.call(http::Request::new(())).await.unwrap();
        assert_eq!(without, None);
        assert_eq!(remaining(), None, "nothing outside a call");
    }
}
