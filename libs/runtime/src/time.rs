//! Time at the API edge: `google.protobuf.Timestamp` ↔ `DateTime<Utc>`, with `Option` for unset
//! and the range checks of the Timestamp contract (years 1-9999, nanos below one second), so an
//! extreme value is a field violation instead of an overflow deeper in.
//!
//! Stores keep times as microseconds since the Unix epoch (`sqlx::Any` has no time type), where
//! 0 means unset; [`micros_to_timestamp`] and [`timestamp_to_micros`] bridge code that still
//! carries that convention.

use chrono::{DateTime, Utc};
use prost_types::Timestamp;

use crate::violations::Violations;

/// 0001-01-01T00:00:00Z, the earliest valid Timestamp.
const MIN_SECONDS: i64 = -62_135_596_800;
/// 9999-12-31T23:59:59Z, the latest valid Timestamp.
const MAX_SECONDS: i64 = 253_402_300_799;

/// Returns the Timestamp of an instant.
pub fn to_timestamp(t: DateTime<Utc>) -> Timestamp {
    Timestamp {
        seconds: t.timestamp(),
        // Below 2e9, so it fits (a leap second reads as 1e9..2e9).
        nanos: i32::try_from(t.timestamp_subsec_nanos()).unwrap_or(999_999_999),
    }
}

/// Returns the Timestamp of an optional instant.
pub fn to_timestamp_opt(t: Option<DateTime<Utc>>) -> Option<Timestamp> {
    t.map(to_timestamp)
}

/// Reads an optional Timestamp field: `None` when unset, the instant when valid, else a
/// violation on `field` (and `None`).
pub fn from_timestamp(
    field: &str,
    t: Option<Timestamp>,
    v: &mut Violations,
) -> Option<DateTime<Utc>> {
    let t = t?;
    let valid =
        (MIN_SECONDS..=MAX_SECONDS).contains(&t.seconds) && (0..1_000_000_000).contains(&t.nanos);
    let instant = valid
        .then(|| DateTime::from_timestamp(t.seconds, u32::try_from(t.nanos).unwrap_or(0)))
        .flatten();
    if instant.is_none() {
        v.push(
            field,
            "must be a valid timestamp between 0001-01-01 and 9999-12-31 (nanos 0-999999999)",
        );
    }
    instant
}

/// Returns the Timestamp of microseconds since the epoch; `None` for 0 (unset).
pub fn micros_to_timestamp(micros: i64) -> Option<Timestamp> {
    (micros != 0).then(|| Timestamp {
        seconds: micros.div_euclid(1_000_000),
        // In 0..1e9, so it fits.
        nanos: i32::try_from(micros.rem_euclid(1_000_000) * 1_000).unwrap_or(0),
    })
}

/// Reads an optional Timestamp field as microseconds since the epoch (0 when unset), with the
/// checks of [`from_timestamp`].
pub fn timestamp_to_micros(field: &str, t: Option<Timestamp>, v: &mut Violations) -> i64 {
    from_timestamp(field, t, v).map_or(0, |t| t.timestamp_micros())
}

/// Returns the current time in microseconds since the Unix epoch, the unit of every stored time.
pub fn now_micros() -> i64 {
    Utc::now().timestamp_micros()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn unset_is_none_and_zero_micros_is_unset() {
        let mut v = Violations::default();
        assert_eq!(from_timestamp("t", None, &mut v), None);
        assert_eq!(micros_to_timestamp(0), None);
        assert_eq!(timestamp_to_micros("t", None, &mut v), 0);
        assert!(v.is_empty());
    }

    #[test]
    fn microseconds_survive_the_round_trip() {
        let ts = micros_to_timestamp(1_700_000_000_123_456).unwrap();
        assert_eq!(ts.seconds, 1_700_000_000);
        assert_eq!(ts.nanos, 123_456_000);
        let mut v = Violations::default();
        assert_eq!(
            timestamp_to_micros("t", Some(ts), &mut v),
            1_700_000_000_123_456
        );
        let before_epoch = micros_to_timestamp(-1).unwrap();
        assert_eq!(
            (before_epoch.seconds, before_epoch.nanos),
            (-1, 999_999_000)
        );
    }

    #[test]
    fn extreme_values_are_field_violations() {
        let mut v = Violations::default();
        for (seconds, nanos) in [
            (i64::MAX, 0),
            (i64::MIN, 0),
            (0, -1),
            (0, 1_000_000_000),
            (MAX_SECONDS + 1, 0),
        ] {
            assert_eq!(
                from_timestamp(
                    "create_time_end",
                    Some(Timestamp { seconds, nanos }),
                    &mut v
                ),
                None
            );
        }
        assert_eq!(v.0.len(), 5);
        assert!(v.0.iter().all(|f| f.field == "create_time_end"));
    }

    proptest! {
        #[test]
        fn every_valid_timestamp_converts_both_ways(seconds in MIN_SECONDS..=MAX_SECONDS, nanos in 0..1_000_000_000i32) {
            let mut v = Violations::default();
            let t = from_timestamp("t", Some(Timestamp { seconds, nanos }), &mut v).unwrap();
            prop_assert_eq!(to_timestamp(t), Timestamp { seconds, nanos });
        }
    }
}
