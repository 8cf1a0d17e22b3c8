//! Business calendars load holidays and make-up working days from iCalendar files, checked on
//! load, so next year's schedule needs no rebuild.
#![allow(clippy::unwrap_used)]

use chrono::{DateTime, NaiveDate, NaiveDateTime, TimeZone, Utc};
use chrono_tz::Asia::Shanghai;
use csops_sla::{Case, LoadError, Policy, Promise};

fn bj(s: &str) -> DateTime<Utc> {
    let n = NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M").unwrap();
    Shanghai
        .from_local_datetime(&n)
        .unwrap()
        .with_timezone(&Utc)
}

fn date(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
}

/// A policy "in" tests/fixtures (so `holidays_ics` paths are relative to that directory) with
/// one office calendar reading `files`, and a resolution rule counting on it.
fn policy(files: &[&str]) -> Result<Policy, LoadError> {
    let list: Vec<String> = files.iter().map(|f| format!("\"{f}\"")).collect();
    let text = format!(
        r#"
[calendars.office]
time_zone = "Asia/Shanghai"
mon = ["09:00-12:00", "13:00-18:00"]
tue = ["09:00-12:00", "13:00-18:00"]
wed = ["09:00-12:00", "13:00-18:00"]
thu = ["09:00-12:00", "13:00-18:00"]
fri = ["09:00-12:00", "13:00-18:00"]
holidays_ics = [{}]

[[rule]]
id = "resolution.default"
promise = "resolution"
target = "2wd"
calendar = "office"
"#,
        list.join(", ")
    );
    let file = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/sla.toml");
    Policy::from_toml_str(&text, file)
}

#[test]
fn next_years_holidays_come_from_an_ics_file_and_move_deadlines() {
    let p = policy(&["test-2027.ics"]).unwrap();
    let cal = p.calendar("office").unwrap();
    assert_eq!(cal.holidays().len(), 3 + 9 + 3 + 5 + 7);
    assert_eq!(
        cal.extra_working_days(),
        vec![
            date("2027-01-31"),
            date("2027-02-20"),
            date("2027-05-08"),
            date("2027-09-26"),
            date("2027-10-09"),
        ]
    );
    // Thursday 4 February 2027 10:00, two working days (16 h): 7 h that day, Friday 5 to
    // Saturday 13 February off (the folded 春节 event), Sunday 14 February not worked, 8 h on
    // Monday 15 February, the last hour on Tuesday 16 February.
    let clock = p
        .start(Promise::Resolution, &Case::new(), bj("2027-02-04 10:00"))
        .unwrap();
    assert_eq!(
        p.status(&clock, bj("2027-02-04 10:00")).unwrap().deadline,
        bj("2027-02-16 10:00")
    );
    // Friday 19 February 14:00: 4 h that day, 8 h on the make-up Saturday 20 February (an
    // event without DTEND: one day), the last 4 h on Monday 22 February.
    let clock = p
        .start(Promise::Resolution, &Case::new(), bj("2027-02-19 14:00"))
        .unwrap();
    assert_eq!(
        p.status(&clock, bj("2027-02-19 14:00")).unwrap().deadline,
        bj("2027-02-22 14:00")
    );
}

#[test]
fn ics_loaded_holidays_keep_the_start_up_warning_and_the_gauge_right() {
    // calendars_missing_holidays feeds the start-up warning and
    // csops_sla_calendar_holidays_until in the services.
    let p = policy(&["test-2027.ics"]).unwrap();
    assert_eq!(
        p.calendar("office").unwrap().holidays_listed_until(),
        Some(2027)
    );
    assert!(p.calendars_missing_holidays(date("2027-06-01")).is_empty());
    assert_eq!(
        p.calendars_missing_holidays(date("2028-01-01")),
        vec![("office", 2027)]
    );
}

#[test]
fn the_chinese_days_file_for_2026_gives_the_presets_2026_calendar() {
    // fixtures/chinese-days-2026.ics is dist/years/2026.ics of the npm package chinese-days
    // 1.5.7, MIT licence (see fixtures/README.md).
    let p = policy(&["chinese-days-2026.ics"]).unwrap();
    let from_ics = p.calendar("office").unwrap();
    let presets = Policy::default_presets();
    let shipped = presets.calendar("cn_service").unwrap();
    assert_eq!(from_ics.holidays(), shipped.holidays());
    assert_eq!(from_ics.extra_working_days(), shipped.extra_working_days());
    // Two files for two years add up.
    let both = policy(&["chinese-days-2026.ics", "test-2027.ics"]).unwrap();
    assert_eq!(
        both.calendar("office").unwrap().holidays().len(),
        shipped.holidays().len() + 27
    );
}

#[test]
fn a_year_with_holidays_but_no_make_up_days_is_refused_naming_the_file() {
    let e = policy(&["test-2027.ics", "test-2027-no-makeup.ics"]).unwrap_err();
    assert_eq!(e.key, "calendars.office.holidays_ics");
    assert_eq!((e.line, e.column), (9, 34), "{e}");
    assert!(e.message.contains("test-2027-no-makeup.ics"), "{e}");
    assert!(
        e.message
            .contains("2027 has holidays but no make-up working days"),
        "{e}"
    );
}

#[test]
fn overlapping_events_are_refused_naming_the_file_and_the_events() {
    let e = policy(&["test-2027-overlap.ics"]).unwrap_err();
    assert!(e.message.contains("test-2027-overlap.ics"), "{e}");
    assert!(e.message.contains("overlap on 2027-02-13"), "{e}");
    assert!(e.message.contains("2027-02-05..2027-02-13"), "{e}");
}

#[test]
fn a_missing_file_and_an_ics_list_on_a_24x7_calendar_are_refused() {
    let e = policy(&["nowhere-2027.ics"]).unwrap_err();
    assert!(e.message.contains("cannot read the iCalendar file"), "{e}");
    assert!(e.message.contains("nowhere-2027.ics"), "{e}");
    let e = Policy::from_toml_str(
        "[calendars.always]\nalways = true\nholidays_ics = [\"x.ics\"]\n",
        "sla.toml",
    )
    .unwrap_err();
    assert_eq!(e.key, "calendars.always.holidays_ics");
}
