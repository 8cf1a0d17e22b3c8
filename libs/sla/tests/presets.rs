//! Dated tests for every DOMAIN §2 and §4 preset, on the 2026 mainland-China calendar.
#![allow(clippy::unwrap_used)]

use chrono::{DateTime, NaiveDateTime, TimeDelta, TimeZone, Utc};
use chrono_tz::Asia::Shanghai;
use csops_sla::{Case, Clock, PauseReason, Policy, Promise, Region, Severity, State, Tier};

/// A Beijing-time instant, e.g. `bj("2026-09-30 16:30")`.
fn bj(s: &str) -> DateTime<Utc> {
    let n = NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M").unwrap();
    Shanghai
        .from_local_datetime(&n)
        .unwrap()
        .with_timezone(&Utc)
}

fn deadline(promise: Promise, case: &Case, start: &str) -> DateTime<Utc> {
    let p = Policy::default_presets();
    let clock = p.start(promise, case, bj(start)).unwrap();
    p.status(&clock, bj(start)).unwrap().deadline
}

#[test]
fn presets_load_and_name_their_version() {
    let p = Policy::default_presets();
    assert_eq!(p.version(), "presets-2026.1");
    assert_eq!(p.thresholds(), &[50, 75, 90]);
    let cal = p.calendar("cn_service").unwrap();
    assert_eq!(cal.holidays().len(), 3 + 9 + 3 + 5 + 3 + 3 + 7);
    assert_eq!(cal.extra_working_days().len(), 6);
    for promise in Promise::ALL {
        assert!(
            p.resolve(promise, &Case::new()).is_ok(),
            "{promise} has a default rule"
        );
    }
}

#[test]
fn first_contact_within_one_hotline_hour_with_no_lunch_gap_nor_holiday_stop() {
    // Seed 002: phones are staffed at noon and a repair call is answered within the hour. The
    // hotline calendar (08:00-20:00 every day) has no lunch gap and no holidays.
    let c = Case::new();
    assert_eq!(
        deadline(Promise::FirstContact, &c, "2026-09-30 16:30"),
        bj("2026-09-30 17:30")
    );
    // A 17:30 call is answered the same evening, not the next morning (nor after the
    // National Day week, as on the office calendar).
    assert_eq!(
        deadline(Promise::FirstContact, &c, "2026-09-30 17:30"),
        bj("2026-09-30 18:30")
    );
    // A call during lunch is answered by 13:20, not 14:00.
    assert_eq!(
        deadline(Promise::FirstContact, &c, "2026-03-04 12:20"),
        bj("2026-03-04 13:20")
    );
    // A call on a public holiday counts too; a call after hours is due an hour after opening.
    assert_eq!(
        deadline(Promise::FirstContact, &c, "2026-10-01 10:00"),
        bj("2026-10-01 11:00")
    );
    assert_eq!(
        deadline(Promise::FirstContact, &c, "2026-10-01 19:30"),
        bj("2026-10-02 08:30")
    );
    let spec = Policy::default_presets()
        .resolve(Promise::FirstContact, &c)
        .unwrap();
    assert_eq!(spec.calendar, "cn_hotline");
}

#[test]
fn dispatch_contact_within_thirty_hotline_minutes_on_a_friday_evening() {
    // Friday 18 September 17:45: the service centre calls by 18:15 the same evening.
    let d = deadline(Promise::DispatchContact, &Case::new(), "2026-09-18 17:45");
    assert_eq!(d, bj("2026-09-18 18:15"));
    // 19:45: a quarter of an hour tonight, the rest on Saturday morning.
    let d = deadline(Promise::DispatchContact, &Case::new(), "2026-09-18 19:45");
    assert_eq!(d, bj("2026-09-19 08:15"));
}

#[test]
fn callback_within_two_calendar_days_across_the_spring_festival() {
    // Seed 002: "维修结束后1-2天内做电话回访". Friday 13 February 15:00: the festival does not
    // stop the count, so the callback is due Sunday 15 February 15:00 (not 24 February).
    let d = deadline(Promise::Callback, &Case::new(), "2026-02-13 15:00");
    assert_eq!(d, bj("2026-02-15 15:00"));
    let p = Policy::default_presets();
    let clock = p
        .start(Promise::Callback, &Case::new(), bj("2026-02-13 15:00"))
        .unwrap();
    // The 50 % warning ("call back after 1 day") falls a day after the service.
    let s = p.status(&clock, bj("2026-02-14 15:00")).unwrap();
    assert_eq!(s.state, State::AtRisk);
    assert_eq!(s.at_risk, Some(50));
}

#[test]
fn callback_fix_within_two_calendar_days_across_labour_day() {
    // Seed 002: "必须在2天内解决". Thursday 30 April 10:00: due Saturday 2 May 10:00.
    let d = deadline(Promise::CallbackFix, &Case::new(), "2026-04-30 10:00");
    assert_eq!(d, bj("2026-05-02 10:00"));
}

#[test]
fn callbacks_in_working_days_remain_a_policy_option() {
    // The preset's comment says how: target = "2wd" on calendar cn_service, in both rules.
    let text = Policy::default_presets_toml();
    let mut edited = String::new();
    let mut in_callback = false;
    for line in text.lines() {
        if line.starts_with("id = ") {
            in_callback =
                line.contains("\"callback.default\"") || line.contains("\"callback_fix.default\"");
        }
        let line = match (in_callback, line) {
            (true, "target = \"2d\"") => "target = \"2wd\"",
            (true, "calendar = \"always\"") => "calendar = \"cn_service\"",
            (_, l) => l,
        };
        edited.push_str(line);
        edited.push('\n');
    }
    let p = Policy::from_toml_str(&edited, "working-day-callbacks.toml").unwrap();
    let at = |promise, start: &str| {
        let clock = p.start(promise, &Case::new(), bj(start)).unwrap();
        p.status(&clock, bj(start)).unwrap().deadline
    };
    // Friday 13 February 15:00: 3 h that day, Saturday 14 February is worked (8 h), the
    // festival runs 15-23 February, the last 5 h fall on Tuesday 24 February.
    assert_eq!(
        at(Promise::Callback, "2026-02-13 15:00"),
        bj("2026-02-24 15:00")
    );
    // Thursday 30 April 10:00: 7 h that day, 1-5 May off, Wednesday 6 May 8 h, 1 h Thursday.
    assert_eq!(
        at(Promise::CallbackFix, "2026-04-30 10:00"),
        bj("2026-05-07 10:00")
    );
}

#[test]
fn every_rule_of_the_preset_names_its_seed_or_says_it_is_a_deployment_choice() {
    let p = Policy::default_presets();
    for rule in p.rules() {
        let d = &rule.description;
        assert!(
            d.contains("seed 00") || d.contains("deployment choice"),
            "rule {} does not say where it comes from: {d}",
            rule.id
        );
    }
    // Seed 001 halves only installations and moves: halving resolution is labelled.
    let halving = p.rule("resolution.key_account").unwrap();
    assert!(
        halving.description.contains("deployment choice")
            && !halving.description.contains("as in the telecom standard"),
        "{}",
        halving.description
    );
}

#[test]
fn urban_installation_accepted_on_the_friday_before_national_day() {
    // Friday 25 September 2026 (Mid-Autumn, right before the National Day week). The standard
    // counts calendar days from acceptance, so the holidays do not move the deadline.
    let urban = Case::new().region(Region::Urban);
    assert_eq!(
        deadline(Promise::Installation, &urban, "2026-09-25 10:00"),
        bj("2026-10-23 10:00")
    );
    // Three days waiting for the customer to be home move it out by three days.
    let p = Policy::default_presets();
    let mut clock = p
        .start(Promise::Installation, &urban, bj("2026-09-25 10:00"))
        .unwrap();
    clock
        .pause(bj("2026-10-02 09:00"), PauseReason::WaitingOnCustomer)
        .unwrap();
    clock.resume(bj("2026-10-05 09:00")).unwrap();
    clock.stop(bj("2026-10-25 18:00")).unwrap();
    let s = p.status(&clock, bj("2026-11-01 00:00")).unwrap();
    assert_eq!(s.deadline, bj("2026-10-26 10:00"));
    assert_eq!(s.state, State::Met);
}

#[test]
fn rural_installation_takes_38_days_and_big_customers_half() {
    let rural = Case::new().region(Region::Rural);
    assert_eq!(
        deadline(Promise::Installation, &rural, "2026-09-25 10:00"),
        bj("2026-11-02 10:00")
    );
    let big_urban = Case::new().region(Region::Urban).key_account(true);
    assert_eq!(
        deadline(Promise::Installation, &big_urban, "2026-09-25 10:00"),
        bj("2026-10-09 10:00")
    );
    let big_rural = Case::new().region(Region::Rural).key_account(true);
    assert_eq!(
        deadline(Promise::Installation, &big_rural, "2026-09-25 10:00"),
        bj("2026-10-14 10:00")
    );
    let spec = Policy::default_presets()
        .resolve(Promise::Installation, &big_rural)
        .unwrap();
    assert_eq!(spec.rule, "installation.rural");
    assert_eq!(spec.adjustment.unwrap().rule, "installation.key_account");
    assert_eq!(spec.base_target, Some(TimeDelta::days(38)));
    let o = Policy::default_presets();
    let obj = o.objective(Promise::Installation).unwrap();
    assert_eq!(obj.on_time_rate, 0.98);
    assert_eq!(obj.mean_at_most, Some(TimeDelta::days(15)));
}

#[test]
fn reconnection_and_business_change_within_24_hours_even_on_a_holiday() {
    let c = Case::new();
    assert_eq!(
        deadline(Promise::Reconnection, &c, "2026-10-01 20:00"),
        bj("2026-10-02 20:00")
    );
    assert_eq!(
        deadline(Promise::BusinessChange, &c, "2026-10-01 20:00"),
        bj("2026-10-02 20:00")
    );
    let p = Policy::default_presets();
    let clock = p
        .start(Promise::Reconnection, &c, bj("2026-10-01 20:00"))
        .unwrap();
    assert_eq!(
        p.status(&clock, bj("2026-10-02 20:01")).unwrap().state,
        State::Breached
    );
}

#[test]
fn repairs_take_48_hours_urban_72_rural_and_key_accounts_half() {
    // Deployment choices (the handbooks give no repair limit), in calendar time.
    let start = "2026-09-30 10:00";
    let urban = Case::new().region(Region::Urban);
    let rural = Case::new().region(Region::Rural);
    assert_eq!(
        deadline(Promise::Repair, &urban, start),
        bj("2026-10-02 10:00")
    );
    assert_eq!(
        deadline(Promise::Repair, &Case::new(), start),
        bj("2026-10-02 10:00")
    );
    assert_eq!(
        deadline(Promise::Repair, &rural, start),
        bj("2026-10-03 10:00")
    );
    assert_eq!(
        deadline(Promise::Repair, &urban.clone().key_account(true), start),
        bj("2026-10-01 10:00")
    );
    assert_eq!(
        deadline(Promise::Repair, &rural.key_account(true), start),
        bj("2026-10-01 22:00")
    );
    assert_eq!(
        deadline(Promise::Maintenance, &urban.key_account(true), start),
        bj("2026-10-07 10:00")
    );
}

#[test]
fn the_presets_plan_visits_on_the_office_calendar_by_tier() {
    use csops_sla::{Cadence, HolidayShift};
    let p = Policy::default_presets();
    let v = p.visits();
    assert_eq!(v.calendar, "cn_service");
    assert_eq!(p.visit_calendar().name(), "cn_service");
    assert_eq!(v.holiday_shift, HolidayShift::Earlier);
    assert_eq!(v.cadence(Tier::A), Cadence::Weeks(1));
    assert_eq!(v.cadence(Tier::B), Cadence::Months(1));
    assert_eq!(v.cadence(Tier::C), Cadence::Months(2));
    assert!(v.key_account_in_person);
    assert_eq!(v.in_person_every, Cadence::Months(3));
    assert_eq!(v.horizon_days, 90);
    assert_eq!(v.grace, TimeDelta::days(2));
    assert_eq!(v.care_lead_days, 3);
    let dates: Vec<String> = v
        .holidays
        .iter()
        .map(|h| format!("{} {:?}-{}-{}", h.name, h.year, h.month, h.day))
        .collect();
    assert_eq!(dates.len(), 8, "{dates:?}");
    // The 2026 lunar festivals are the first days of the calendar's holidays.
    let cal = p.visit_calendar();
    for h in v.holidays.iter().filter(|h| h.year == Some(2026)) {
        let day = chrono::NaiveDate::from_ymd_opt(2026, h.month, h.day).unwrap();
        assert!(cal.holidays().contains(&day), "{} {day}", h.name);
    }
}

#[test]
fn resolution_defaults() {
    // 4 working days from Monday 09:00 end on Thursday 18:00.
    assert_eq!(
        deadline(Promise::Resolution, &Case::new(), "2026-03-02 09:00"),
        bj("2026-03-05 18:00")
    );
    let vip_critical = Case::new().key_account(true).severity(Severity::Critical);
    // One working day halved: four hours.
    assert_eq!(
        deadline(Promise::Resolution, &vip_critical, "2026-03-02 09:00"),
        bj("2026-03-02 14:00")
    );
}

#[test]
fn a_clock_stored_as_json_comes_back_and_evaluates_the_same() {
    let p = Policy::default_presets();
    let case = Case::new()
        .tier(Tier::A)
        .key_account(true)
        .severity(Severity::High)
        .channel("Phone");
    let mut clock = p
        .start(Promise::Resolution, &case, bj("2026-03-02 09:00"))
        .unwrap();
    clock
        .pause(bj("2026-03-02 10:00"), PauseReason::WaitingOnCustomer)
        .unwrap();
    let json = serde_json::to_string(&clock).unwrap();
    let back: Clock = serde_json::from_str(&json).unwrap();
    let now = bj("2026-03-03 11:00");
    assert_eq!(
        p.status(&back, now).unwrap(),
        p.status(&clock, now).unwrap()
    );
    assert!(json.contains("\"target\":\"8h\""), "{json}");
}

#[test]
fn a_calendar_whose_holidays_stop_before_the_year_is_reported() {
    let presets = Policy::default_presets();
    let date = |s: &str| chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap();
    // The shipped service calendar lists the 2026 holidays: fine this year, not next.
    assert!(presets
        .calendars_missing_holidays(date("2026-12-31"))
        .is_empty());
    assert_eq!(
        presets.calendars_missing_holidays(date("2027-01-01")),
        vec![("cn_service", 2026)],
        "the 24x7 calendar has no holidays to miss"
    );
    // A business calendar without any holiday is a deliberate choice, not a gap.
    let no_holidays = Policy::from_toml_str(
        "[calendars.office]\ntime_zone = \"Europe/Paris\"\nmon = [\"09:00-17:00\"]\n",
        "office.toml",
    )
    .unwrap();
    assert!(no_holidays
        .calendars_missing_holidays(date("2030-06-01"))
        .is_empty());
}
