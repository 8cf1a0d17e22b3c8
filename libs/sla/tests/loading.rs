//! Policy files that are wrong fail with the file, line, key and what is wrong.
#![allow(clippy::unwrap_used)]

use csops_sla::{Case, Policy, PolicyError, Promise, Region, Tier};

const CAL: &str = r#"
[calendars.always]
always = true
"#;

fn load(body: &str) -> Result<Policy, csops_sla::LoadError> {
    Policy::from_toml_str(&format!("{CAL}{body}"), "sla.toml")
}

#[test]
fn an_unknown_key_is_named_with_its_line() {
    let e = load(
        r#"
[[rule]]
id = "r"
promise = "reconnection"
target = "24h"
calendar = "always"
colour = "red"
"#,
    )
    .unwrap_err();
    assert_eq!(e.file, "sla.toml");
    assert_eq!(e.line, 10);
    assert_eq!(e.key, "rule[0].colour");
    assert!(e.message.contains("unknown field `colour`"), "{e}");
    assert!(
        e.to_string()
            .starts_with("sla.toml:10:1: rule[0].colour: unknown field"),
        "{e}"
    );
}

#[test]
fn an_unknown_key_in_a_selector_is_rejected() {
    let e = load(
        r#"
[[rule]]
id = "r"
promise = "reconnection"
when = { teir = "A" }
target = "24h"
calendar = "always"
"#,
    )
    .unwrap_err();
    assert_eq!(e.line, 8);
    assert!(e.message.contains("unknown field `teir`"), "{e}");
}

#[test]
fn a_negative_duration_is_rejected_at_its_value() {
    let e = load(
        r#"
[[rule]]
id = "r"
promise = "reconnection"
target = "-24h"
calendar = "always"
"#,
    )
    .unwrap_err();
    assert_eq!((e.line, e.column), (8, 10));
    assert_eq!(e.key, "rule[0].target");
    assert!(e.message.contains("negative"), "{e}");
}

#[test]
fn overlapping_ranges_and_unknown_time_zones_are_rejected() {
    let e = Policy::from_toml_str(
        r#"
[calendars.office]
time_zone = "Asia/Shanghai"
mon = ["09:00-12:00", "11:30-18:00"]
"#,
        "office.toml",
    )
    .unwrap_err();
    assert_eq!(e.line, 4);
    assert_eq!(e.key, "calendars.office.mon");
    assert!(e.message.contains("overlap"), "{e}");

    let e = Policy::from_toml_str(
        "[calendars.office]\ntime_zone = \"Mars/Olympus\"\nmon = [\"09:00-18:00\"]\n",
        "office.toml",
    )
    .unwrap_err();
    assert_eq!((e.line, e.key.as_str()), (2, "calendars.office.time_zone"));
    assert!(
        e.message.contains("unknown time zone \"Mars/Olympus\""),
        "{e}"
    );

    let e = Policy::from_toml_str(
        "[calendars.office]\ntime_zone = \"UTC\"\nmon = [\"09:00-25:00\"]\n",
        "office.toml",
    )
    .unwrap_err();
    assert!(e.message.contains("25:00"), "{e}");
}

#[test]
fn equally_specific_overlapping_rules_are_rejected_unless_a_more_specific_rule_decides() {
    let two = r#"
[[rule]]
id = "tier_a"
promise = "resolution"
when = { tier = "A" }
target = "1d"
calendar = "always"

[[rule]]
id = "urban"
promise = "resolution"
when = { region = "urban" }
target = "2d"
calendar = "always"
"#;
    let e = load(two).unwrap_err();
    assert_eq!(e.line, 13);
    assert_eq!(e.key, "rule[1].when");
    assert!(
        e.message
            .contains("`urban` overlaps rule `tier_a` (line 6)"),
        "{e}"
    );
    assert!(e.message.contains("tier=A, region=urban"), "{e}");

    let three = format!(
        "{two}\n[[rule]]\nid = \"a_urban\"\npromise = \"resolution\"\nwhen = {{ tier = \"A\", region = \"urban\" }}\ntarget = \"12h\"\ncalendar = \"always\"\n"
    );
    let p = load(&three).unwrap();
    let case = Case::new().tier(Tier::A).region(Region::Urban);
    assert_eq!(
        p.resolve(Promise::Resolution, &case).unwrap().rule,
        "a_urban"
    );
    let case = Case::new().tier(Tier::B).region(Region::Urban);
    assert_eq!(p.resolve(Promise::Resolution, &case).unwrap().rule, "urban");
    assert_eq!(
        p.resolve(Promise::Installation, &case),
        Err(PolicyError::NoRule {
            promise: Promise::Installation
        })
    );
}

#[test]
fn bad_values_say_what_is_allowed() {
    let e = load("[[rule]]\nid = \"r\"\npromise = \"resolution\"\nwhen = { tier = \"D\" }\ntarget = \"1d\"\ncalendar = \"always\"\n")
        .unwrap_err();
    assert!(e.message.contains("unknown variant `D`"), "{e}");
    let e = load(
        "[[rule]]\nid = \"r\"\npromise = \"teleport\"\ntarget = \"1d\"\ncalendar = \"always\"\n",
    )
    .unwrap_err();
    assert!(e.message.contains("unknown variant `teleport`"), "{e}");
    let e = load(
        "[[rule]]\nid = \"r\"\npromise = \"resolution\"\ntarget = \"1d\"\ncalendar = \"office\"\n",
    )
    .unwrap_err();
    assert!(
        e.message
            .contains("unknown calendar `office` (known: always)"),
        "{e}"
    );
    let e = load("[[rule]]\nid = \"r\"\npromise = \"resolution\"\nfactor = -0.5\n").unwrap_err();
    assert_eq!(e.key, "rule[0].factor");
    let e = Policy::from_toml_str("thresholds = [50, 120]\n", "t.toml").unwrap_err();
    assert_eq!(e.key, "thresholds");
    let e = load("[calendars.x]\ntime_zone = \"UTC\"\nmon = [\"09:00-17:00\"]\nholidays = [\"2026-02-30\"]\n").unwrap_err();
    assert_eq!(e.key, "calendars.x.holidays");
    assert_eq!(e.line, 7);
}

#[test]
fn a_missing_file_is_reported_with_its_name() {
    let e = Policy::load_from_path("/nonexistent/sla.toml").unwrap_err();
    assert_eq!(e.file, "/nonexistent/sla.toml");
    assert!(e.message.contains("cannot read"), "{e}");
    let text = Policy::default_presets_toml();
    assert!(Policy::from_toml_str(text, "copy.toml").is_ok());
}
