//! Official holidays and make-up working days (调休) read from iCalendar (RFC 5545) files.
//!
//! The State Council publishes next year's schedule each autumn; calendar feeds such as the npm
//! package `chinese-days` (`dist/years/2026.ics`, `dist/holidays.ics`) carry it as all-day
//! events. A policy calendar names such files (`holidays_ics`), so a deployment adds next year
//! by dropping in a file, without a rebuild.
//!
//! Only what those files need is read: `VEVENT`s with an all-day `DTSTART;VALUE=DATE` (and
//! `DTEND`, exclusive, one day when absent) and a `SUMMARY` that ends in `(休)` / `(Holiday)`
//! (days off) or `(班)` / `(Workday)` (weekend days worked instead). Content lines are unfolded
//! first (RFC 5545 §3.1: a line starting with a space or a tab continues the previous one).
//! Everything else is ignored.

use std::collections::BTreeMap;

use chrono::{Datelike, NaiveDate};

/// Holidays and make-up working days read from one iCalendar file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IcsDays {
    /// Days off, each date once, sorted.
    pub holidays: Vec<NaiveDate>,
    /// Weekend days worked instead (调休), sorted.
    pub extra_working_days: Vec<NaiveDate>,
}

/// What is wrong with an iCalendar holiday file (the caller adds the file's name).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IcsError {
    /// A line could not be read as an event property.
    #[error("line {line}: {message}")]
    Syntax {
        /// 1-based line of the (unfolded) content line in the file.
        line: usize,
        /// What is wrong.
        message: String,
    },
    /// The file has no holiday or make-up event at all.
    #[error("no holiday events (VEVENT with SUMMARY ending in \"(休)\" or \"(班)\")")]
    Empty,
    /// A year has holidays but no make-up working day: most likely a truncated or
    /// half-published schedule (every official schedule since 2004 has both).
    #[error("{year} has holidays but no make-up working days (调休, SUMMARY \"…(班)\"): the file looks incomplete")]
    NoMakeupDays {
        /// The year.
        year: i32,
    },
    /// Two events cover the same date.
    #[error(
        "events \"{first}\" ({first_range}) and \"{second}\" ({second_range}) overlap on {date}"
    )]
    Overlap {
        /// The date both cover.
        date: NaiveDate,
        /// The earlier event's summary.
        first: String,
        /// Its dates, `YYYY-MM-DD..YYYY-MM-DD` inclusive.
        first_range: String,
        /// The later event's summary.
        second: String,
        /// Its dates.
        second_range: String,
    },
}

/// One all-day event as read.
struct Event {
    line: usize,
    summary: Option<String>,
    start: Option<NaiveDate>,
    end: Option<NaiveDate>,
}

/// Unfolds content lines (RFC 5545 §3.1): CRLF or LF line ends, a leading space or tab joins
/// the line to the previous one. Returns each logical line with the number of its first line.
fn unfold(text: &str) -> Vec<(usize, String)> {
    let mut out: Vec<(usize, String)> = Vec::new();
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    for (i, raw) in text.split('\n').enumerate() {
        let raw = raw.strip_suffix('\r').unwrap_or(raw);
        match (raw.strip_prefix([' ', '\t']), out.last_mut()) {
            (Some(rest), Some(last)) => last.1.push_str(rest),
            _ => out.push((i + 1, raw.to_string())),
        }
    }
    out
}

/// Reads `20260101` (`VALUE=DATE`) as a date.
fn date_value(line: usize, name: &str, params: &str, value: &str) -> Result<NaiveDate, IcsError> {
    let syntax = |message: String| IcsError::Syntax { line, message };
    let is_date = params
        .split(';')
        .any(|p| p.trim().eq_ignore_ascii_case("VALUE=DATE"));
    if !is_date || value.len() != 8 {
        return Err(syntax(format!(
            "{name}:{value}: expected an all-day date ({name};VALUE=DATE:YYYYMMDD)"
        )));
    }
    NaiveDate::parse_from_str(value, "%Y%m%d")
        .map_err(|_| syntax(format!("{name}:{value}: not a date (YYYYMMDD)")))
}

/// Undoes the TEXT escapes of RFC 5545 §3.3.11 (`\,` `\;` `\n` `\\`).
fn unescape(v: &str) -> String {
    let mut out = String::with_capacity(v.len());
    let mut chars = v.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('n' | 'N') => out.push('\n'),
            Some(x) => out.push(x),
            None => out.push('\\'),
        }
    }
    out
}

/// Days off or days worked, from an event's summary.
fn kind_of(summary: &str) -> Option<bool> {
    let s = summary.trim();
    const OFF: [&str; 3] = ["(休)", "（休）", "(holiday)"];
    const WORK: [&str; 3] = ["(班)", "（班）", "(workday)"];
    let lower = s.to_lowercase();
    if OFF.iter().any(|x| lower.ends_with(x)) {
        Some(true)
    } else if WORK.iter().any(|x| lower.ends_with(x)) {
        Some(false)
    } else {
        None
    }
}

/// Parses an iCalendar file of official holidays and make-up working days and validates it:
/// every event is all-day and says which it is, no two events share a date, and every year
/// with holidays also has make-up working days.
pub fn parse(text: &str) -> Result<IcsDays, IcsError> {
    let mut events: Vec<Event> = Vec::new();
    let mut current: Option<Event> = None;
    for (line, content) in unfold(text) {
        if content.trim().is_empty() {
            continue;
        }
        // name *(";" param) ":" value; a parameter value may be quoted and hold ':'.
        let mut in_quotes = false;
        let colon = content.char_indices().find_map(|(i, c)| {
            if c == '"' {
                in_quotes = !in_quotes;
            }
            (c == ':' && !in_quotes).then_some(i)
        });
        let Some(colon) = colon else {
            return Err(IcsError::Syntax {
                line,
                message: format!("\"{content}\" is not a content line (NAME:value)"),
            });
        };
        let (head, value) = (&content[..colon], &content[colon + 1..]);
        let (name, params) = head.split_once(';').unwrap_or((head, ""));
        let name = name.trim().to_ascii_uppercase();
        match (name.as_str(), current.as_mut()) {
            ("BEGIN", None) if value.trim().eq_ignore_ascii_case("VEVENT") => {
                current = Some(Event {
                    line,
                    summary: None,
                    start: None,
                    end: None,
                });
            }
            ("END", Some(_)) if value.trim().eq_ignore_ascii_case("VEVENT") => {
                events.extend(current.take());
            }
            ("SUMMARY", Some(e)) => e.summary = Some(unescape(value)),
            ("DTSTART", Some(e)) => e.start = Some(date_value(line, "DTSTART", params, value)?),
            ("DTEND", Some(e)) => e.end = Some(date_value(line, "DTEND", params, value)?),
            _ => {}
        }
    }
    if let Some(e) = current {
        return Err(IcsError::Syntax {
            line: e.line,
            message: "BEGIN:VEVENT without END:VEVENT".into(),
        });
    }

    // Each date with the event (summary, inclusive range) that covers it.
    let mut days: BTreeMap<NaiveDate, (bool, String, String)> = BTreeMap::new();
    let mut years: BTreeMap<i32, (bool, bool)> = BTreeMap::new();
    for e in events {
        let syntax = |message: String| IcsError::Syntax {
            line: e.line,
            message,
        };
        let summary = e.summary.clone().unwrap_or_default();
        let Some(start) = e.start else {
            return Err(syntax(format!("event \"{summary}\" has no DTSTART")));
        };
        let off = kind_of(&summary).ok_or_else(|| {
            syntax(format!(
                "event \"{summary}\": SUMMARY must end in \"(休)\"/\"(Holiday)\" (day off) or \"(班)\"/\"(Workday)\" (make-up working day)"
            ))
        })?;
        // DTEND is exclusive; an all-day event without one lasts one day (RFC 5545 §3.6.1).
        let end = e.end.unwrap_or_else(|| start.succ_opt().unwrap_or(start));
        if end <= start {
            return Err(syntax(format!(
                "event \"{summary}\" ends ({end}) at or before it starts ({start})"
            )));
        }
        let last = end.pred_opt().unwrap_or(start);
        let range = format!("{start}..{last}");
        for d in start.iter_days().take_while(|d| *d < end) {
            if let Some((_, first, first_range)) = days.get(&d) {
                return Err(IcsError::Overlap {
                    date: d,
                    first: first.clone(),
                    first_range: first_range.clone(),
                    second: summary,
                    second_range: range,
                });
            }
            days.insert(d, (off, summary.clone(), range.clone()));
            let y = years.entry(d.year()).or_default();
            if off {
                y.0 = true;
            } else {
                y.1 = true;
            }
        }
    }
    if days.is_empty() {
        return Err(IcsError::Empty);
    }
    if let Some((year, _)) = years.iter().find(|(_, (off, work))| *off && !*work) {
        return Err(IcsError::NoMakeupDays { year: *year });
    }
    let (holidays, extra): (Vec<_>, Vec<_>) = days.iter().partition(|(_, (off, ..))| *off);
    Ok(IcsDays {
        holidays: holidays.into_iter().map(|(d, _)| *d).collect(),
        extra_working_days: extra.into_iter().map(|(d, _)| *d).collect(),
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn event(start: &str, end: &str, summary: &str) -> String {
        format!(
            "BEGIN:VEVENT\r\nDTSTART;VALUE=DATE:{start}\r\nDTEND;VALUE=DATE:{end}\r\nSUMMARY:{summary}\r\nEND:VEVENT\r\n"
        )
    }

    fn cal(events: &[String]) -> String {
        format!(
            "BEGIN:VCALENDAR\r\nVERSION:2.0\r\n{}END:VCALENDAR\r\n",
            events.concat()
        )
    }

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    #[test]
    fn reads_holidays_and_make_up_days_with_exclusive_ends_and_folded_lines() {
        let text = cal(&[
            event("20270101", "20270104", "元旦(休)"),
            // A folded SUMMARY: the continuation line starts with a space.
            "BEGIN:VEVENT\r\nDTSTART;VALUE=DATE:20270104\r\nSUMMARY:元旦\r\n (班)\r\nEND:VEVENT\r\n"
                .to_string(),
        ]);
        let days = parse(&text).unwrap();
        assert_eq!(
            days.holidays,
            vec![d("2027-01-01"), d("2027-01-02"), d("2027-01-03")]
        );
        assert_eq!(days.extra_working_days, vec![d("2027-01-04")]);
    }

    #[test]
    fn refuses_overlaps_a_year_without_make_up_days_and_unknown_events() {
        let overlap = cal(&[
            event("20270101", "20270104", "元旦(休)"),
            event("20270103", "20270104", "元旦(班)"),
        ]);
        let e = parse(&overlap).unwrap_err();
        assert!(
            matches!(e, IcsError::Overlap { date, .. } if date == d("2027-01-03")),
            "{e}"
        );
        assert!(e.to_string().contains("2027-01-01..2027-01-03"), "{e}");

        let no_makeup = cal(&[event("20270101", "20270104", "元旦(休)")]);
        assert_eq!(
            parse(&no_makeup).unwrap_err(),
            IcsError::NoMakeupDays { year: 2027 }
        );

        let unknown = cal(&[event("20270101", "20270102", "Company picnic")]);
        assert!(parse(&unknown)
            .unwrap_err()
            .to_string()
            .contains("SUMMARY must end in"));
        let timed = "BEGIN:VEVENT\r\nDTSTART:20270101T090000\r\nSUMMARY:元旦(休)\r\nEND:VEVENT\r\n";
        assert!(parse(timed).unwrap_err().to_string().contains("all-day"));
        assert_eq!(
            parse("BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n"),
            Err(IcsError::Empty)
        );
    }
}
