//! Time at the API edge: `google.protobuf.Timestamp` ↔ `DateTime<Utc>`, with `Option` for unset
//! and the range checks of the Timestamp contract (years 1-9999, nanos below one second), so an
//! extreme value is a field violation instead of an overflow deeper in.
//!
//! Stores keep times as microseconds since the Unix epoch (`sqlx::Any` has no time type), where
//! 0 means unset; [`timestamp_to_micros`] reads a request time straight into that convention,
//! [`from_micros`], [`from_micros_opt`] and [`to_micros_opt`] convert at a store's edge, and the `serde_*` modules keep instants in JSON bodies in the same shape
//! (integers, 0 for unset), so rows written before a domain carried `DateTime<Utc>` still read.

use chrono::{DateTime, SubsecRound, TimeDelta, Utc};
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

/// Reads an optional Timestamp field as microseconds since the epoch (0 when unset), with the
/// checks of [`from_timestamp`].
pub fn timestamp_to_micros(field: &str, t: Option<Timestamp>, v: &mut Violations) -> i64 {
    from_timestamp(field, t, v).map_or(0, |t| t.timestamp_micros())
}

/// Returns the current time in microseconds since the Unix epoch, the unit of every stored time.
pub fn now_micros() -> i64 {
    Utc::now().timestamp_micros()
}

/// Returns the current time cut to whole microseconds, the precision of every stored time, so
/// an instant reads back from storage equal to the one that was written.
pub fn now() -> DateTime<Utc> {
    Utc::now().trunc_subsecs(6)
}

/// Returns the instant of microseconds since the epoch. Values beyond chrono's range (about
/// 262,000 years either way; no valid Timestamp comes near) saturate to its ends (in whole
/// microseconds), so a stored value always reads.
pub fn from_micros(micros: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_micros(micros).unwrap_or(if micros < 0 {
        DateTime::<Utc>::MIN_UTC
    } else {
        DateTime::<Utc>::MAX_UTC.trunc_subsecs(6)
    })
}

/// Returns the instant of stored microseconds; `None` for 0 (unset).
pub fn from_micros_opt(micros: i64) -> Option<DateTime<Utc>> {
    (micros != 0).then(|| from_micros(micros))
}

/// Returns the stored microseconds of an optional instant; 0 for `None` (unset).
pub fn to_micros_opt(t: Option<DateTime<Utc>>) -> i64 {
    t.map_or(0, |t| t.timestamp_micros())
}

/// Serde adapter, `#[serde(with = "csops_runtime::time::serde_micros")]`: an instant as a JSON
/// integer of microseconds since the epoch.
pub mod serde_micros {
    use chrono::{DateTime, Utc};
    use serde::{Deserialize, Deserializer, Serializer};

    /// Writes the instant as microseconds since the epoch.
    pub fn serialize<S: Serializer>(t: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_i64(t.timestamp_micros())
    }

    /// Reads microseconds since the epoch (see [`super::from_micros`]).
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<DateTime<Utc>, D::Error> {
        i64::deserialize(d).map(super::from_micros)
    }
}

/// Serde adapter, `#[serde(with = "csops_runtime::time::serde_micros_opt")]`: an optional
/// instant as a JSON integer of microseconds since the epoch, 0 when unset (`None`). The epoch
/// itself therefore reads back as unset, as it always has in stored rows.
pub mod serde_micros_opt {
    use chrono::{DateTime, Utc};
    use serde::{Deserialize, Deserializer, Serializer};

    /// Writes the instant as microseconds since the epoch, 0 for `None`.
    pub fn serialize<S: Serializer>(t: &Option<DateTime<Utc>>, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_i64(super::to_micros_opt(*t))
    }

    /// Reads microseconds since the epoch; 0 (or `null`) is `None`.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<DateTime<Utc>>, D::Error> {
        Ok(Option::<i64>::deserialize(d)?.and_then(super::from_micros_opt))
    }
}

/// Serde adapter, `#[serde(with = "csops_runtime::time::serde_micros_delta")]`: a duration as a
/// JSON integer of microseconds.
pub mod serde_micros_delta {
    use chrono::TimeDelta;
    use serde::{Deserialize, Deserializer, Serializer};

    /// Writes the duration in whole microseconds (saturating beyond the range of `i64`).
    pub fn serialize<S: Serializer>(d: &TimeDelta, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_i64(super::delta_micros(*d))
    }

    /// Reads a duration in microseconds.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<TimeDelta, D::Error> {
        i64::deserialize(d).map(TimeDelta::microseconds)
    }
}

/// Whole microseconds of a duration, saturating beyond the range of `i64`.
fn delta_micros(d: TimeDelta) -> i64 {
    d.num_microseconds().unwrap_or(if d < TimeDelta::zero() {
        i64::MIN
    } else {
        i64::MAX
    })
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
        assert_eq!(to_timestamp_opt(from_micros_opt(0)), None);
        assert_eq!(timestamp_to_micros("t", None, &mut v), 0);
        assert!(v.is_empty());
    }

    #[test]
    fn microseconds_survive_the_round_trip() {
        let ts = to_timestamp(from_micros(1_700_000_000_123_456));
        assert_eq!(ts.seconds, 1_700_000_000);
        assert_eq!(ts.nanos, 123_456_000);
        let mut v = Violations::default();
        assert_eq!(
            timestamp_to_micros("t", Some(ts), &mut v),
            1_700_000_000_123_456
        );
        let before_epoch = to_timestamp(from_micros(-1));
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

    /// A body in the shape rows were written in while the domain carried integers.
    #[derive(Debug, PartialEq, serde::Serialize, serde::Deserialize)]
    struct Stored {
        #[serde(with = "serde_micros")]
        at: DateTime<Utc>,
        #[serde(with = "serde_micros_opt")]
        closed: Option<DateTime<Utc>>,
        #[serde(with = "serde_micros_opt")]
        kept: Option<DateTime<Utc>>,
        #[serde(with = "serde_micros_delta")]
        took: TimeDelta,
    }

    #[test]
    fn a_body_written_with_integer_times_reads_back_and_writes_the_same_bytes() {
        let old = r#"{"at":1772000000123456,"closed":0,"kept":1772086400000000,"took":90500000}"#;
        let stored: Stored = serde_json::from_str(old).unwrap();
        assert_eq!(
            stored,
            Stored {
                at: DateTime::from_timestamp(1_772_000_000, 123_456_000).unwrap(),
                closed: None,
                kept: DateTime::from_timestamp(1_772_086_400, 0),
                took: TimeDelta::milliseconds(90_500),
            }
        );
        assert_eq!(serde_json::to_string(&stored).unwrap(), old);
    }

    #[test]
    fn zero_is_unset_and_unset_is_zero() {
        assert_eq!(from_micros_opt(0), None);
        assert_eq!(to_micros_opt(None), 0);
        let unset = Stored {
            at: DateTime::UNIX_EPOCH,
            closed: None,
            kept: None,
            took: TimeDelta::zero(),
        };
        let json = serde_json::to_string(&unset).unwrap();
        assert_eq!(json, r#"{"at":0,"closed":0,"kept":0,"took":0}"#);
        assert_eq!(serde_json::from_str::<Stored>(&json).unwrap(), unset);
        let null = r#"{"at":0,"closed":null,"kept":0,"took":0}"#;
        assert_eq!(serde_json::from_str::<Stored>(null).unwrap(), unset);
    }

    #[test]
    fn values_beyond_chrono_saturate_instead_of_failing() {
        let latest = DateTime::<Utc>::MAX_UTC.trunc_subsecs(6);
        assert_eq!(from_micros(i64::MAX), latest);
        assert_eq!(from_micros(i64::MIN), DateTime::<Utc>::MIN_UTC);
        let stored: Stored = serde_json::from_str(&format!(
            r#"{{"at":{},"closed":{},"kept":0,"took":{}}}"#,
            i64::MAX,
            i64::MIN,
            i64::MAX
        ))
        .unwrap();
        assert_eq!(stored.at, latest);
        assert_eq!(stored.closed, Some(DateTime::<Utc>::MIN_UTC));
        assert_eq!(delta_micros(stored.took), i64::MAX);
        assert_eq!(delta_micros(TimeDelta::MAX), i64::MAX);
        assert_eq!(delta_micros(TimeDelta::MIN), i64::MIN);
    }

    #[test]
    fn now_has_the_precision_of_storage() {
        let t = now();
        assert_eq!(t.timestamp_subsec_nanos() % 1_000, 0);
        assert_eq!(from_micros(t.timestamp_micros()), t);
    }

    proptest! {
        #[test]
        fn stored_micros_survive_the_round_trip(
            micros in any::<i64>(),
            delta in any::<i64>(),
            set in any::<bool>(),
        ) {
            let at = from_micros(micros);
            let stored = Stored {
                at,
                closed: from_micros_opt(if set { micros } else { 0 }),
                kept: None,
                took: TimeDelta::microseconds(delta),
            };
            let json = serde_json::to_string(&stored).unwrap();
            prop_assert_eq!(serde_json::from_str::<Stored>(&json).unwrap(), stored);
            if DateTime::from_timestamp_micros(micros).is_some() {
                prop_assert_eq!(at.timestamp_micros(), micros);
                prop_assert_eq!(to_timestamp(at).seconds, micros.div_euclid(1_000_000));
            }
        }

        #[test]
        fn every_valid_timestamp_converts_both_ways(seconds in MIN_SECONDS..=MAX_SECONDS, nanos in 0..1_000_000_000i32) {
            let mut v = Violations::default();
            let t = from_timestamp("t", Some(Timestamp { seconds, nanos }), &mut v).unwrap();
            prop_assert_eq!(to_timestamp(t), Timestamp { seconds, nanos });
        }
    }
}
