//! The change flow every use case shares: load → check the etag → apply the domain rule → save
//! guarded by the version read. A change that names an etag is refused (ABORTED, with the
//! current etag) when someone else saved first; an unconditional one is retried a few times.

use std::future::Future;

use crate::error::Error;
use crate::etag;

/// How many times an unconditional change is tried before the caller is told to retry.
pub const ATTEMPTS: u32 = 5;

/// What one attempt at a change came to.
#[derive(Debug)]
pub enum Attempt<T> {
    /// Saved: the change is done.
    Saved(T),
    /// Another writer saved after this attempt read the resource at `read_version`; it is now
    /// at `current_version`.
    Lost {
        /// The version this attempt read.
        read_version: i64,
        /// The version now stored.
        current_version: i64,
    },
}

/// Runs `attempt` until it saves: once when `etag` names a version (a lost race is then a
/// stale-etag error), up to [`ATTEMPTS`] times when it is empty. `resource` names the resource
/// in errors, e.g. `customer cus_…`.
///
/// `attempt` is a plain closure returning a future (not an async closure) so the futures of
/// the handlers that call this stay `Send`.
pub async fn run<T, F>(
    resource: &str,
    given_etag: &str,
    mut attempt: impl FnMut() -> F,
) -> Result<T, Error>
where
    F: Future<Output = Result<Attempt<T>, Error>>,
{
    for _ in 0..ATTEMPTS {
        match attempt().await? {
            Attempt::Saved(done) => return Ok(done),
            Attempt::Lost { .. } if given_etag.is_empty() => {
                tracing::debug!(resource, "lost a race; retrying the change");
            }
            Attempt::Lost {
                read_version,
                current_version,
            } => {
                return Err(etag::lost_race(
                    resource.to_owned(),
                    given_etag,
                    read_version,
                    current_version,
                ))
            }
        }
    }
    Err(Error::Aborted(format!(
        "{resource} kept changing during {ATTEMPTS} attempts; retry the call"
    )))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use std::sync::atomic::{AtomicI64, Ordering};

    use tonic::Code;

    use super::*;

    #[tokio::test]
    async fn an_unconditional_change_is_retried_until_it_saves() {
        let count = AtomicI64::new(0);
        let counter = &count;
        let done = run("customer cus_1", "", move || async move {
            let tries = counter.fetch_add(1, Ordering::SeqCst) + 1;
            Ok(if tries < 3 {
                Attempt::Lost {
                    read_version: tries,
                    current_version: tries + 1,
                }
            } else {
                Attempt::Saved(tries)
            })
        })
        .await
        .unwrap();
        assert_eq!(done, 3);
    }

    #[tokio::test]
    async fn a_conditional_change_that_loses_is_a_stale_etag() {
        let error = run("customer cus_1", "v1", || async {
            Ok(Attempt::<()>::Lost {
                read_version: 1,
                current_version: 2,
            })
        })
        .await
        .unwrap_err();
        assert_eq!(tonic::Status::from(error).code(), Code::Aborted);
    }

    #[tokio::test]
    async fn an_unconditional_change_gives_up_after_the_last_attempt() {
        let count = AtomicI64::new(0);
        let counter = &count;
        let error = run("complaint cmp_1", "", move || async move {
            counter.fetch_add(1, Ordering::SeqCst);
            Ok(Attempt::<()>::Lost {
                read_version: 1,
                current_version: 2,
            })
        })
        .await
        .unwrap_err();
        assert_eq!(count.load(Ordering::SeqCst), i64::from(ATTEMPTS));
        assert!(matches!(error, Error::Aborted(_)), "{error}");
    }
}
