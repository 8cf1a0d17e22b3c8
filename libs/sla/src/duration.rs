//! Human-readable amounts of working time: `28d`, `1h30m`, `2wd`.

/// Seconds in one calendar day; a `d` always means 24 hours of the clock's calendar time.
const DAY: i64 = 86_400;

/// An amount of time as written in a policy file, before `wd` is resolved against a calendar.
///
/// `wd` (working days) depends on the calendar's working-day length, so the parser keeps the
/// two parts apart and [`Amount::resolve`] joins them once the calendar is known.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Amount {
    /// Seconds given with the units `s`, `m`, `h`, `d`, `w`.
    pub(crate) secs: i64,
    /// Working days given with the unit `wd`.
    pub(crate) working_days: i64,
}

impl Amount {
    pub(crate) fn resolve(self, working_day_secs: i64) -> i64 {
        self.secs + self.working_days * working_day_secs
    }
}

/// Parses `1h30m`, `28d`, `2wd`, `45s` (units may repeat in any order and are added up).
pub(crate) fn parse_amount(text: &str) -> Result<Amount, String> {
    let t = text.trim();
    if t.is_empty() {
        return Err("empty duration; write e.g. \"1h\", \"30m\", \"28d\" or \"2wd\"".into());
    }
    if t.starts_with('-') {
        return Err(format!(
            "negative duration \"{text}\": time limits must be positive"
        ));
    }
    let mut out = Amount::default();
    let bytes = t.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let start = i;
        while i < bytes.len() && bytes[i].is_ascii_digit() {
            i += 1;
        }
        if start == i {
            return Err(format!(
                "invalid duration \"{text}\": expected a number at \"{}\"",
                &t[start..]
            ));
        }
        let n: i64 = t[start..i]
            .parse()
            .map_err(|_| format!("invalid duration \"{text}\": number too large"))?;
        let ustart = i;
        while i < bytes.len() && bytes[i].is_ascii_alphabetic() {
            i += 1;
        }
        let unit = &t[ustart..i];
        let mul = match unit {
            "s" => 1,
            "m" | "min" => 60,
            "h" => 3_600,
            "d" => DAY,
            "w" => 7 * DAY,
            "wd" => {
                out.working_days = out
                    .working_days
                    .checked_add(n)
                    .ok_or_else(|| format!("invalid duration \"{text}\": too large"))?;
                continue;
            }
            "" => {
                return Err(format!(
                    "invalid duration \"{text}\": missing unit after {n} (use s, m, h, d, w or wd)"
                ))
            }
            other => {
                return Err(format!(
                "invalid duration \"{text}\": unknown unit \"{other}\" (use s, m, h, d, w or wd)"
            ))
            }
        };
        out.secs = n
            .checked_mul(mul)
            .and_then(|v| out.secs.checked_add(v))
            .ok_or_else(|| format!("invalid duration \"{text}\": too large"))?;
    }
    Ok(out)
}

/// Formats seconds as `14d`, `1h30m`, `0s`: the shortest exact form using d, h, m and s.
pub(crate) fn format_secs(secs: i64) -> String {
    if secs == 0 {
        return "0s".into();
    }
    let mut out = String::new();
    if secs < 0 {
        out.push('-');
    }
    let mut s = secs.unsigned_abs();
    for (unit, len) in [("d", 86_400u64), ("h", 3_600), ("m", 60), ("s", 1)] {
        if s >= len {
            out.push_str(&format!("{}{unit}", s / len));
            s %= len;
        }
    }
    out
}

/// Serde helpers that write a [`chrono::TimeDelta`] as a string such as `"1h30m"` (whole seconds).
pub mod serde_human {
    use chrono::TimeDelta;
    use serde::{Deserialize, Deserializer, Serializer};

    /// Serializes a [`TimeDelta`] as `"1h30m"`.
    pub fn serialize<S: Serializer>(d: &TimeDelta, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&super::format_secs(d.num_seconds()))
    }

    /// Deserializes `"1h30m"` (no `wd`: a stored value is already resolved) into a [`TimeDelta`].
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<TimeDelta, D::Error> {
        let text = String::deserialize(d)?;
        let a = super::parse_amount(&text).map_err(serde::de::Error::custom)?;
        if a.working_days != 0 {
            return Err(serde::de::Error::custom(
                "stored durations cannot use `wd`; they are resolved to seconds",
            ));
        }
        Ok(TimeDelta::seconds(a.secs))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn parses_and_formats_round_trip() {
        assert_eq!(parse_amount("1h30m").unwrap().secs, 5_400);
        assert_eq!(parse_amount("28d").unwrap().secs, 28 * 86_400);
        assert_eq!(parse_amount("2wd").unwrap().working_days, 2);
        assert_eq!(format_secs(5_400), "1h30m");
        assert_eq!(format_secs(14 * 86_400), "14d");
        assert!(parse_amount("-1h").unwrap_err().contains("negative"));
        assert!(parse_amount("3 parsecs").is_err());
        assert!(parse_amount("12").unwrap_err().contains("missing unit"));
    }
}
