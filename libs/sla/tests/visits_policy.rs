//! The `[visits]` table of a policy file: defaults, overrides, round trip and errors.
#![allow(clippy::unwrap_used)]

use chrono::{NaiveDate, TimeDelta};
use csops_sla::visits::{care_holidays_between, plan_dates};
use csops_sla::{Cadence, CareHoliday, HolidayShift, Policy, Tier, VisitRules};

const CALENDARS: &str = r#"
[calendars.always]
always = true

[calendars.office]
time_zone = "Asia/Shanghai"
mon = ["09:00-17:00"]
tue = ["09:00-17:00"]
wed = ["09:00-17:00"]
thu = ["09:00-17:00"]
fri = ["09:00-17:00"]
holidays = ["2027-10-01..2027-10-07"]
extra_working_days = ["2027-09-26"]
"#;

fn load(body: &str) -> Result<Policy, csops_sla::LoadError> {
    Policy::from_toml_str(&format!("{CALENDARS}{body}"), "sla.toml")
}

fn d(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
}

#[test]
fn a_file_without_visits_takes_the_presets_values() {
    let presets = Policy::default_presets();
    // Without cn_service, visits fall on every day (a 24x7 calendar named `always`).
    let p = load("").unwrap();
    let expected = VisitRules {
        calendar: "always".into(),
        ..presets.visits().clone()
    };
    assert_eq!(p.visits(), &expected);
    assert!(p.visit_calendar().is_always());
    // A file with neither calendar gets the 24x7 one added.
    let bare = Policy::from_toml_str("version = \"bare\"\n", "bare.toml").unwrap();
    assert_eq!(bare.visits().calendar, "always");
    assert!(bare.calendar("always").unwrap().is_always());
    // A file with a cn_service calendar plans on it.
    let presets_text = Policy::default_presets_toml();
    let no_visits = &presets_text[..presets_text.find("\n[visits]").unwrap()];
    let p = Policy::from_toml_str(no_visits, "no-visits.toml").unwrap();
    assert_eq!(p.visits(), presets.visits());
}

#[test]
fn each_key_left_out_takes_the_presets_value() {
    let p = load(
        r#"
[visits]
calendar = "office"
cadence = { B = "2w" }
horizon = "13w"
"#,
    )
    .unwrap();
    let v = p.visits();
    let presets = Policy::default_presets();
    assert_eq!(v.calendar, "office");
    assert_eq!(p.visit_calendar().name(), "office");
    assert_eq!(v.cadence(Tier::A), Cadence::Weeks(1));
    assert_eq!(v.cadence(Tier::B), Cadence::Weeks(2));
    assert_eq!(v.cadence(Tier::C), Cadence::Months(2));
    assert_eq!(v.horizon_days, 91);
    assert_eq!(v.holidays, presets.visits().holidays);
    // `holiday = []` means no holiday care.
    let none = load("[visits]\nholiday = []\n").unwrap();
    assert!(none.visits().holidays.is_empty());
}

#[test]
fn a_visits_table_round_trips_through_toml() {
    let rules = VisitRules {
        calendar: "office".into(),
        holiday_shift: HolidayShift::Later,
        tier_a: Cadence::Days(10),
        tier_b: Cadence::Weeks(3),
        tier_c: Cadence::Months(3),
        key_account_in_person: false,
        in_person_every: Cadence::Months(6),
        horizon_days: 120,
        grace: TimeDelta::hours(36),
        care_lead_days: 0,
        holidays: vec![
            CareHoliday {
                name: "National Day \"国庆\"".into(),
                month: 10,
                day: 1,
                year: None,
            },
            CareHoliday {
                name: "Leap".into(),
                month: 2,
                day: 29,
                year: None,
            },
            CareHoliday {
                name: "Spring Festival".into(),
                month: 2,
                day: 6,
                year: Some(2027),
            },
        ],
    };
    let text = rules.to_toml();
    let p = load(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
    assert_eq!(p.visits(), &rules, "{text}");
    // No holidays round-trip as `holiday = []`.
    let empty = VisitRules {
        holidays: Vec::new(),
        ..rules
    };
    assert_eq!(load(&empty.to_toml()).unwrap().visits(), &empty);
    // The presets' table renders and loads back equal too.
    let presets = Policy::default_presets();
    let text = presets.visits().to_toml();
    let body = format!(
        "[calendars.cn_service]\ntime_zone = \"Asia/Shanghai\"\nmon = [\"09:00-17:00\"]\n{text}"
    );
    assert_eq!(
        Policy::from_toml_str(&body, "x.toml").unwrap().visits(),
        presets.visits()
    );
}

#[test]
fn an_unknown_key_in_visits_is_named_with_its_line() {
    let e = load("[visits]\ncadense = { A = \"1w\" }\n").unwrap_err();
    assert_eq!(e.key, "visits.cadense", "{e}");
    assert_eq!(e.line, 15, "{e}");
    assert!(e.message.contains("unknown field `cadense`"), "{e}");
    let e = load("[visits]\ncadence = { D = \"1w\" }\n").unwrap_err();
    assert!(e.message.contains("unknown field `D`"), "{e}");
    assert_eq!(e.line, 15, "{e}");
    let e = load("[[visits.holiday]]\nname = \"x\"\ndate = \"10-01\"\nyear = 2027\n").unwrap_err();
    assert_eq!(e.key, "visits.holiday[0].year", "{e}");
    assert_eq!(e.line, 17, "{e}");
}

#[test]
fn an_unknown_calendar_is_rejected_naming_the_known_ones() {
    let e = load("[visits]\ncalendar = \"cn_service\"\n").unwrap_err();
    assert_eq!(e.file, "sla.toml");
    assert_eq!(e.key, "visits.calendar");
    assert_eq!((e.line, e.column), (15, 12), "{e}");
    assert!(
        e.message
            .contains("unknown calendar `cn_service` (known: always, office)"),
        "{e}"
    );
}

#[test]
fn bad_visit_values_say_what_is_allowed() {
    let cases = [
        (
            "holiday_shift = \"sooner\"",
            "visits.holiday_shift",
            "unknown variant `sooner`",
        ),
        (
            "cadence = { A = \"30\" }",
            "visits.cadence.A",
            "invalid cadence \"30\"",
        ),
        (
            "cadence = { C = \"1m\" }",
            "visits.cadence.C",
            "write \"mo\" for months",
        ),
        (
            "in_person_every = \"0mo\"",
            "visits.in_person_every",
            "at least 1",
        ),
        ("horizon = \"36h\"", "visits.horizon", "whole calendar days"),
        ("horizon = \"0d\"", "visits.horizon", "outside 1-3653 days"),
        ("horizon = \"5wd\"", "visits.horizon", "whole calendar days"),
        ("grace = \"1wd\"", "visits.grace", "calendar time"),
        ("grace = \"-1d\"", "visits.grace", "negative"),
        (
            "care_lead = \"400d\"",
            "visits.care_lead",
            "outside 0-366 days",
        ),
        (
            "key_account_in_person = \"yes\"",
            "visits.key_account_in_person",
            "bool",
        ),
    ];
    for (line, key, message) in cases {
        let e = load(&format!("[visits]\n{line}\n")).unwrap_err();
        assert_eq!(e.key, key, "{line}: {e}");
        assert_eq!(e.line, 15, "{line}: {e}");
        assert!(e.message.contains(message), "{line}: {e}");
    }
    for (date, ok) in [
        ("10-01", true),
        ("02-29", true),
        ("2027-02-06", true),
        ("2027-02-29", false),
        ("04-31", false),
        ("13-01", false),
        ("1-1", false),
        ("2027/02/06", false),
        ("", false),
    ] {
        let r = load(&format!(
            "[[visits.holiday]]\nname = \"h\"\ndate = \"{date}\"\n"
        ));
        match r {
            Ok(_) => assert!(ok, "{date} accepted"),
            Err(e) => {
                assert!(!ok, "{date}: {e}");
                assert_eq!(e.key, "visits.holiday[0].date", "{e}");
                assert_eq!(e.line, 16, "{e}");
                assert!(e.message.contains("MM-DD"), "{e}");
            }
        }
    }
    let e = load("[[visits.holiday]]\nname = \" \"\ndate = \"10-01\"\n").unwrap_err();
    assert_eq!(e.key, "visits.holiday[0].name", "{e}");
}

#[test]
fn a_deployment_calendar_moves_visits_off_its_holidays() {
    let p = load("[visits]\ncalendar = \"office\"\n").unwrap();
    let v = p.visits();
    let cal = p.visit_calendar();
    // Weekly from Monday 30 August 2027: Monday 4 October is a holiday, the last working day
    // before is Thursday 30 September; Sunday 26 September is a make-up day.
    let plan = plan_dates(
        v.cadence(Tier::A),
        d("2027-08-30"),
        d("2027-09-20"),
        d("2027-10-11"),
        cal,
        v.holiday_shift,
    );
    let got: Vec<_> = plan.iter().map(|x| (x.nominal, x.date)).collect();
    assert_eq!(
        got,
        [
            (d("2027-09-27"), d("2027-09-27")),
            (d("2027-10-04"), d("2027-09-30")),
            (d("2027-10-11"), d("2027-10-11")),
        ]
    );
    let care = care_holidays_between(v, d("2027-09-01"), d("2027-10-31"));
    assert_eq!(
        care,
        [
            ("Mid-Autumn Festival (中秋节)".to_string(), d("2027-09-15")),
            ("National Day (国庆节)".to_string(), d("2027-10-01")),
        ]
    );
}
