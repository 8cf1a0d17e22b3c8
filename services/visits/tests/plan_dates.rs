//! Plan dates as a client sees them, on SQLite and on a real PostgreSQL: calendar months
//! across month ends (31 January → the last day of February → 31 March), and a week of public
//! holidays with its make-up days (调休) in the calendar the policy file names. The years are
//! chosen from today so the dates are always within the 366 days a plan may start ahead.
#![allow(clippy::unwrap_used, unreachable_pub)]

use chrono::{Datelike, NaiveDate, TimeZone, Utc, Weekday};
use csops_observability::Metrics;
use csops_proto::customers::v1 as cpb;
use csops_proto::customers::v1::customers_service_client::CustomersServiceClient;
use csops_proto::visits::v1 as pb;
use csops_proto::visits::v1::visits_service_client::VisitsServiceClient;
use csops_runtime::Settings;
use csops_testkit::server::Running;
use csops_testkit::Backend;
use csops_visits::{App, Config};
use tonic::transport::Channel;

/// A national holiday week and its two make-up days in year `y`: 1-7 October off, the Sunday
/// before and the Saturday after worked.
struct Holidays {
    off: (NaiveDate, NaiveDate),
    makeup: [NaiveDate; 2],
}

fn holidays(y: i32) -> Holidays {
    let first = NaiveDate::from_ymd_opt(y, 10, 1).unwrap();
    let last = NaiveDate::from_ymd_opt(y, 10, 7).unwrap();
    let mut sunday = first.pred_opt().unwrap();
    while sunday.weekday() != Weekday::Sun {
        sunday = sunday.pred_opt().unwrap();
    }
    let mut saturday = last.succ_opt().unwrap();
    while saturday.weekday() != Weekday::Sat {
        saturday = saturday.succ_opt().unwrap();
    }
    Holidays {
        off: (first, last),
        makeup: [sunday, saturday],
    }
}

impl Holidays {
    fn works(&self, d: NaiveDate) -> bool {
        if self.makeup.contains(&d) {
            return true;
        }
        let weekday = !matches!(d.weekday(), Weekday::Sat | Weekday::Sun);
        weekday && !(self.off.0 <= d && d <= self.off.1)
    }

    /// The day a visit due on `nominal` is planned on: that day if worked, else the last
    /// worked day before it (the policy's "earlier").
    fn planned(&self, nominal: NaiveDate) -> NaiveDate {
        let mut d = nominal;
        while !self.works(d) {
            d = d.pred_opt().unwrap();
        }
        d
    }
}

fn today() -> NaiveDate {
    Utc::now()
        .with_timezone(&chrono_tz::Asia::Shanghai)
        .date_naive()
}

/// The first 1 October at least two weeks away.
fn holiday_year() -> i32 {
    let t = today();
    if t + chrono::Days::new(14) < NaiveDate::from_ymd_opt(t.year(), 10, 1).unwrap() {
        t.year()
    } else {
        t.year() + 1
    }
}

fn policy_file(dir: &std::path::Path, y: i32) -> std::path::PathBuf {
    let h = holidays(y);
    let text = format!(
        r#"
[calendars.always]
always = true

[calendars.office]
time_zone = "Asia/Shanghai"
mon = ["09:00-18:00"]
tue = ["09:00-18:00"]
wed = ["09:00-18:00"]
thu = ["09:00-18:00"]
fri = ["09:00-18:00"]
holidays = ["{}..{}"]
extra_working_days = ["{}", "{}"]

[visits]
calendar = "office"
"#,
        h.off.0, h.off.1, h.makeup[0], h.makeup[1]
    );
    let path = dir.join("policy.toml");
    std::fs::write(&path, text).unwrap();
    path
}

struct Suite {
    visits: VisitsServiceClient<Channel>,
    customers: CustomersServiceClient<Channel>,
    _servers: Vec<Running>,
    _dir: tempfile::TempDir,
}

async fn start(backend: Backend, y: i32) -> Suite {
    let dir = tempfile::tempdir().unwrap();
    let db = backend.database_url(dir.path(), "customers").await;
    let customers = csops_customers::App::build(&Settings::for_tests(&db), Metrics::new())
        .await
        .unwrap();
    let customers_addr = customers.local_addr();
    let customers = Running::spawn(customers_addr, |stop| async move {
        customers.run_until_stopped(stop).await.unwrap();
    });
    let mut config = Config::for_tests(&format!("http://{customers_addr}"), "");
    config.sla_policy_file = Some(policy_file(dir.path(), y));
    let db = backend.database_url(dir.path(), "visits").await;
    let app = App::build(&Settings::for_tests(&db), config, Metrics::new())
        .await
        .unwrap();
    let addr = app.local_addr();
    let visits = Running::spawn(addr, |stop| async move {
        app.run_until_stopped(stop).await.unwrap();
    });
    Suite {
        visits: VisitsServiceClient::connect(format!("http://{addr}"))
            .await
            .unwrap(),
        customers: CustomersServiceClient::connect(format!("http://{customers_addr}"))
            .await
            .unwrap(),
        _servers: vec![visits, customers],
        _dir: dir,
    }
}

/// A customer of `tier` and a plan for it counting from `anchor`; returns the planned days.
async fn planned_days(s: &mut Suite, tier: cpb::CustomerTier, anchor: NaiveDate) -> Vec<NaiveDate> {
    let customer = s
        .customers
        .create_customer(cpb::CreateCustomerRequest {
            customer: Some(cpb::Customer {
                display_name: "Sun Li".into(),
                tier: tier as i32,
                region: cpb::Region::Urban as i32,
                owner_agent_id: "agent-1".into(),
                ..Default::default()
            }),
            request_id: uuid::Uuid::new_v4().to_string(),
            actor_id: "agent-1".into(),
        })
        .await
        .unwrap()
        .into_inner()
        .customer
        .unwrap();
    let plan = s
        .visits
        .create_visit_plan(pb::CreateVisitPlanRequest {
            plan: Some(pb::VisitPlan {
                customer_id: customer.id,
                anchor_date: anchor.to_string(),
                ..Default::default()
            }),
            request_id: uuid::Uuid::new_v4().to_string(),
            actor: Some(pb::Actor {
                id: "agent-1".into(),
                role: pb::ActorRole::Agent as i32,
            }),
        })
        .await
        .unwrap()
        .into_inner()
        .plan
        .unwrap();
    assert_eq!(plan.anchor_date, anchor.to_string());
    let visits = s
        .visits
        .list_visits(pb::ListVisitsRequest {
            plan_id: plan.id,
            page_size: 100,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .visits;
    visits
        .iter()
        .map(|v| {
            // Due by the end of the day (local midnight): the day is the second before.
            let due = v.due_time.unwrap().seconds - 1;
            Utc.timestamp_opt(due, 0)
                .unwrap()
                .with_timezone(&chrono_tz::Asia::Shanghai)
                .date_naive()
        })
        .collect()
}

async fn monthly_visits_from_31_january_fall_on_the_last_day_of_each_month(backend: Backend) {
    let y = holiday_year();
    let mut s = start(backend, y).await;
    // The next 31 January.
    let t = today();
    let year = if t < NaiveDate::from_ymd_opt(t.year(), 1, 31).unwrap() {
        t.year()
    } else {
        t.year() + 1
    };
    let anchor = NaiveDate::from_ymd_opt(year, 1, 31).unwrap();
    let h = holidays(y);
    let last_of = |m: u32| {
        NaiveDate::from_ymd_opt(year, m + 1, 1)
            .unwrap()
            .pred_opt()
            .unwrap()
    };
    let days = planned_days(&mut s, cpb::CustomerTier::B, anchor).await;
    // 90 days from 31 January: the ends of February (28 or 29), March (31) and April (30),
    // each moved to the Friday before when it falls on a weekend.
    let expected: Vec<NaiveDate> = [2, 3, 4].iter().map(|m| h.planned(last_of(*m))).collect();
    assert_eq!(days, expected);
    assert!(last_of(2).day() == 28 || last_of(2).day() == 29);
}

async fn weekly_visits_skip_the_holiday_week_and_use_its_make_up_days(backend: Backend) {
    let y = holiday_year();
    let mut s = start(backend, y).await;
    let h = holidays(y);
    // Weekly from the Sunday three weeks before the make-up Sunday: nominal days are Sundays.
    let anchor = h.makeup[0] - chrono::Days::new(21);
    let days = planned_days(&mut s, cpb::CustomerTier::A, anchor).await;
    let expected: Vec<NaiveDate> = {
        // The 90-day horizon counts from the plan's start.
        let until = anchor + chrono::Days::new(90);
        let mut out: Vec<NaiveDate> = (1..)
            .map(|k| anchor + chrono::Days::new(7 * k))
            .take_while(|nominal| *nominal <= until)
            .map(|nominal| h.planned(nominal))
            .collect();
        out.dedup();
        out
    };
    assert_eq!(days, expected);
    // The make-up Sunday is worked: a visit stays on it.
    assert!(days.contains(&h.makeup[0]), "{days:?}");
    // Nothing in the holiday week, nothing on a weekend that is not worked, one visit a day.
    for d in &days {
        assert!(!(h.off.0 <= *d && *d <= h.off.1), "{d} is a holiday");
        assert!(h.works(*d), "{d} is not worked");
    }
    assert!(days.windows(2).all(|w| w[0] < w[1]), "{days:?}");
}

csops_testkit::on_both_backends!(
    monthly_visits_from_31_january_fall_on_the_last_day_of_each_month,
    weekly_visits_skip_the_holiday_week_and_use_its_make_up_days,
);
