//! Etags for optimistic concurrency: a resource's etag is its stored version (`v7`); a request
//! that names an etag changes the resource only while it is current, an empty etag means
//! "whatever is current" (the change is then retried on a lost race instead of refused).

use crate::error::Error;

/// Returns the etag of a resource at `version`.
pub fn of(version: i64) -> String {
    format!("v{version}")
}

/// Checks the caller's etag against the resource's current version: empty passes; another
/// etag is a stale-etag error (ABORTED) naming the current one.
pub fn check(resource: impl FnOnce() -> String, given: &str, version: i64) -> Result<(), Error> {
    let current = of(version);
    if given.is_empty() || given == current {
        Ok(())
    } else {
        Err(Error::StaleEtag {
            resource: resource(),
            given: given.to_owned(),
            current,
        })
    }
}

/// The error for a change that lost the race between its read (at `read_version`) and its
/// write, now that the resource is at `current_version`.
pub fn lost_race(resource: String, given: &str, read_version: i64, current_version: i64) -> Error {
    Error::StaleEtag {
        resource,
        given: if given.is_empty() {
            of(read_version)
        } else {
            given.to_owned()
        },
        current: of(current_version),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn an_empty_or_current_etag_passes_and_another_names_the_current_one() {
        assert!(check(|| "customer cus_1".into(), "", 3).is_ok());
        assert!(check(|| "customer cus_1".into(), "v3", 3).is_ok());
        let error = check(|| "customer cus_1".into(), "v2", 3).unwrap_err();
        assert_eq!(
            error.to_string(),
            "customer cus_1 changed meanwhile: etag v2 is stale, current is v3"
        );
    }

    #[test]
    fn a_lost_unconditional_race_reports_the_version_read() {
        let error = lost_race("complaint cmp_1".into(), "", 4, 5);
        assert_eq!(
            error.to_string(),
            "complaint cmp_1 changed meanwhile: etag v4 is stale, current is v5"
        );
    }
}
