//! Bookings: a person is not in two places at once, and not given more in a day than the
//! configured limit (the handbooks name overload as a cause of bad service).

use chrono::{DateTime, NaiveDate, Utc};

use super::{RuleError, Zone};

/// Something a person is booked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Booking {
    /// "visit" or "field job".
    pub kind: &'static str,
    /// Its id.
    pub id: String,
    /// Start of the agreed time.
    pub start: DateTime<Utc>,
    /// End of the agreed time.
    pub end: DateTime<Utc>,
}

/// Refuses booking `person` for [start, end) when it overlaps another of their bookings
/// (naming it), or when the day already holds `limit` bookings. `own_id` is the item being
/// booked (moving a visit does not clash with itself).
pub fn check(
    person: &str,
    own_id: &str,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    booked: &[Booking],
    limit: u32,
    zone: Zone,
) -> Result<(), RuleError> {
    let others = || booked.iter().filter(|b| b.id != own_id);
    if let Some(clash) = others().find(|b| b.start < end && start < b.end) {
        return Err(RuleError::Precondition(format!(
            "{person} is already booked from {} to {} for {} {}; choose another time or person",
            clash.start.to_rfc3339(),
            clash.end.to_rfc3339(),
            clash.kind,
            clash.id
        )));
    }
    let day = zone.date(start);
    let that_day = others().filter(|b| zone.date(b.start) == day).count();
    if that_day >= usize::try_from(limit).unwrap_or(usize::MAX) {
        return Err(RuleError::Precondition(format!(
            "{person} already has {that_day} bookings on {day}, the most one person takes in a \
             day ({limit}); choose another day or person"
        )));
    }
    Ok(())
}

/// How many bookings fall on each day of [from, until).
pub fn load(
    booked: &[Booking],
    from: NaiveDate,
    until: NaiveDate,
    zone: Zone,
) -> Vec<(NaiveDate, u32)> {
    from.iter_days()
        .take_while(|d| *d < until)
        .map(|day| {
            let n = booked.iter().filter(|b| zone.date(b.start) == day).count();
            (day, u32::try_from(n).unwrap_or(u32::MAX))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use chrono::TimeZone;

    fn at(h: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 2, h, 0, 0).unwrap()
    }

    fn b(id: &str, from: u32, to: u32) -> Booking {
        Booking {
            kind: "visit",
            id: id.into(),
            start: at(from),
            end: at(to),
        }
    }

    #[test]
    fn an_overlap_is_refused_naming_the_clash_and_touching_ends_are_fine() {
        let booked = [b("vst_1", 2, 4)];
        let err = check("agent-1", "vst_2", at(3), at(5), &booked, 8, Zone(None)).unwrap_err();
        assert!(matches!(err, RuleError::Precondition(m) if m.contains("vst_1")));
        check("agent-1", "vst_2", at(4), at(5), &booked, 8, Zone(None)).unwrap();
        // Moving a booking does not clash with itself.
        check("agent-1", "vst_1", at(3), at(5), &booked, 8, Zone(None)).unwrap();
    }

    #[test]
    fn a_full_day_is_refused() {
        let booked = [b("v1", 1, 2), b("v2", 2, 3)];
        let err = check("agent-1", "v3", at(5), at(6), &booked, 2, Zone(None)).unwrap_err();
        assert!(matches!(err, RuleError::Precondition(m) if m.contains("(2)")));
        let load = load(
            &booked,
            at(0).date_naive(),
            at(0).date_naive().succ_opt().unwrap(),
            Zone(None),
        );
        assert_eq!(load, vec![(at(0).date_naive(), 2)]);
    }
}
