//! The visits service under load (issue 11): customer files with the tier mix the planning
//! benchmark asks for, the read scenarios (`get_visit`, `list_visits`, `get_visit_plan`) over
//! plans created through the real services, and the two timed calls of the planning
//! benchmark (`ListCustomers` paging alone, one `ReplanVisits`).

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use csops_proto::customers::v1 as customers_pb;
use csops_proto::customers::v1::customers_service_client::CustomersServiceClient;
use csops_proto::visits::v1 as pb;
use csops_proto::visits::v1::visits_service_client::VisitsServiceClient;
use serde_json::json;
use tokio::task::JoinSet;
use tonic::Code;

use crate::harness::{CallCtx, Scenario};
use crate::scenarios::{new_customer, scenario, Channels, Setup};

/// Owner agents the files (and so the plans and visits) are spread over.
const AGENTS: u64 = 20;

/// Calls in flight while seeding.
const SEED_CONCURRENCY: usize = 32;

/// Days of the months of a common year.
const MONTH_DAYS: [u32; 12] = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

/// Returns (month, day) of day `n` (0-based, taken modulo 365) of a common year.
fn month_day(n: u64) -> (i32, i32) {
    let mut left = u32::try_from(n % 365).unwrap_or(0);
    for (month, days) in (1..).zip(MONTH_DAYS) {
        if left < days {
            return (month, i32::try_from(left + 1).unwrap_or(1));
        }
        left -= days;
    }
    (12, 31)
}

fn tier(n: u64) -> customers_pb::CustomerTier {
    match n % 10 {
        0 | 1 => customers_pb::CustomerTier::A,
        2..=4 => customers_pb::CustomerTier::B,
        _ => customers_pb::CustomerTier::C,
    }
}

/// Returns customer file `n` of a population with the planning benchmark's mix: tiers
/// 20 % A / 30 % B / 50 % C (`n % 10`), key accounts 10 % (`n % 20` is 0 or 2, one A and one
/// B), a quarter rural, a birthday spread over the year (so ~1 % fall within the care lead
/// time on any day), a child's birthday for a third and an anniversary for a fifth, consent
/// to calls for all, to SMS for half, to e-mail for a third and in person for key accounts.
pub fn customer_file(n: u64) -> customers_pb::Customer {
    use customers_pb::{
        ChannelConsent, ContactChannel, ImportantDate, ImportantDateKind, Relation,
    };
    let date = |kind: ImportantDateKind, relation: Relation, day: u64, name: &str| {
        let (month, day) = month_day(day);
        ImportantDate {
            kind: kind as i32,
            relation: relation as i32,
            person_name: name.to_owned(),
            month,
            day,
            year: 0,
            note: String::new(),
        }
    };
    // `matches!(n % k, 0)` rather than `is_multiple_of`: the workspace's rust-version is 1.85.
    let mut important_dates = vec![date(
        ImportantDateKind::Birthday,
        Relation::Self_,
        n * 37,
        "",
    )];
    if matches!(n % 3, 0) {
        important_dates.push(date(
            ImportantDateKind::Birthday,
            Relation::Child,
            n * 113 + 11,
            "Xiaoming",
        ));
    }
    if matches!(n % 5, 0) {
        important_dates.push(date(
            ImportantDateKind::Anniversary,
            Relation::Spouse,
            n * 59 + 180,
            "",
        ));
    }
    let key_account = matches!(n % 20, 0 | 2);
    let consent = |channel: ContactChannel| ChannelConsent {
        channel: channel as i32,
        granted: true,
        update_time: None,
    };
    let mut consents = vec![consent(ContactChannel::PhoneCall)];
    if matches!(n % 2, 0) {
        consents.push(consent(ContactChannel::Sms));
    }
    if matches!(n % 3, 0) {
        consents.push(consent(ContactChannel::Email));
    }
    if key_account {
        consents.push(consent(ContactChannel::InPerson));
    }
    customers_pb::Customer {
        tier: tier(n) as i32,
        key_account,
        region: if n % 4 == 3 {
            customers_pb::Region::Rural as i32
        } else {
            customers_pb::Region::Urban as i32
        },
        owner_agent_id: format!("agent-{:02}", n % AGENTS),
        important_dates,
        consents,
        ..new_customer(n)
    }
}

/// Creates customer files `first..first + count` (see [`customer_file`]) through the customers
/// API, [`SEED_CONCURRENCY`] at a time; returns their ids in order.
pub async fn create_customers(
    customers: &Channels,
    first: u64,
    count: usize,
) -> anyhow::Result<Vec<String>> {
    let mut ids = vec![String::new(); count];
    let mut calls = JoinSet::new();
    let mut next = 0usize;
    while next < count || !calls.is_empty() {
        while next < count && calls.len() < SEED_CONCURRENCY {
            let mut client = CustomersServiceClient::new(customers.get(next));
            let n = first + next as u64;
            let index = next;
            calls.spawn(async move {
                let request = customers_pb::CreateCustomerRequest {
                    customer: Some(customer_file(n)),
                    request_id: uuid::Uuid::new_v4().to_string(),
                    actor_id: "csops-load".into(),
                };
                let created = client.create_customer(request).await?.into_inner();
                Ok::<_, tonic::Status>((index, created.customer.unwrap_or_default().id))
            });
            next += 1;
        }
        if let Some(done) = calls.join_next().await {
            let (index, id) = done?.context("creating customer files")?;
            anyhow::ensure!(!id.is_empty(), "CreateCustomer answered without a customer");
            ids[index] = id;
        }
    }
    Ok(ids)
}

fn load_actor() -> Option<pb::Actor> {
    Some(pb::Actor {
        id: "csops-load".into(),
        role: pb::ActorRole::Agent as i32,
    })
}

/// Returns the plan of `customer_id`: created by CreateVisitPlan, or the one the customers
/// outbox made already (ALREADY_EXISTS) read back by ListVisitPlans.
async fn plan_for(
    client: &mut VisitsServiceClient<crate::scenarios::Conn>,
    customer_id: String,
    owner: String,
) -> Result<pb::VisitPlan, tonic::Status> {
    let created = client
        .create_visit_plan(pb::CreateVisitPlanRequest {
            plan: Some(pb::VisitPlan {
                customer_id: customer_id.clone(),
                owner_agent_id: owner,
                ..Default::default()
            }),
            request_id: uuid::Uuid::new_v4().to_string(),
            actor: load_actor(),
        })
        .await;
    match created {
        Ok(answer) => Ok(answer.into_inner().plan.unwrap_or_default()),
        Err(status) if status.code() == Code::AlreadyExists => client
            .list_visit_plans(pb::ListVisitPlansRequest {
                page_size: 1,
                customer_id,
                ..Default::default()
            })
            .await?
            .into_inner()
            .plans
            .into_iter()
            .next()
            .ok_or_else(|| tonic::Status::not_found("plan reported as existing but not listed")),
        Err(status) => Err(status),
    }
}

/// What the read scenarios work on: plans and their next visits.
#[derive(Debug, Clone, Default)]
pub struct Seeded {
    /// Plan ids.
    pub plans: Vec<String>,
    /// The next visit of each plan that has one.
    pub visits: Vec<String>,
}

/// Creates `count` customer files in the customers service and a visit plan for each in the
/// visits service (which reads the file back from customers and plans its visits).
pub async fn seed_plans(setup: &Setup, count: usize) -> anyhow::Result<Seeded> {
    let customers = setup
        .customers
        .as_ref()
        .context("visits scenarios need --customers-url")?;
    let ids = create_customers(customers, 0, count).await?;
    let mut seeded = Seeded::default();
    let mut calls = JoinSet::new();
    let mut pending = ids.into_iter().enumerate();
    let mut more = true;
    while more || !calls.is_empty() {
        while more && calls.len() < SEED_CONCURRENCY {
            let Some((n, customer_id)) = pending.next() else {
                more = false;
                break;
            };
            let mut client = VisitsServiceClient::new(setup.target.get(n));
            let owner = format!("agent-{:02}", n as u64 % AGENTS);
            calls.spawn(async move { plan_for(&mut client, customer_id, owner).await });
        }
        if let Some(done) = calls.join_next().await {
            let plan = done?.context("creating visit plans")?;
            if !plan.next_visit_id.is_empty() {
                seeded.visits.push(plan.next_visit_id);
            }
            seeded.plans.push(plan.id);
        }
    }
    anyhow::ensure!(
        !seeded.visits.is_empty(),
        "no seeded plan has a planned visit"
    );
    Ok(seeded)
}

fn pick(ids: &[String], seq: u64) -> String {
    let index = usize::try_from(seq % ids.len().max(1) as u64).unwrap_or(0);
    ids.get(index).cloned().unwrap_or_default()
}

/// Scenario `get_visit`: GetVisit by id among the next visits of `seed` plans.
pub(crate) async fn get_visit(setup: Setup) -> anyhow::Result<Arc<dyn Scenario>> {
    let visits = Arc::new(seed_plans(&setup, setup.seed.max(1)).await?.visits);
    Ok(scenario(move |ctx: CallCtx| {
        let mut client = VisitsServiceClient::new(setup.target.get(ctx.worker));
        let visit_id = pick(&visits, ctx.seq);
        async move {
            client
                .get_visit(pb::GetVisitRequest { visit_id })
                .await
                .map(drop)
        }
    }))
}

/// Scenario `get_visit_plan`: GetVisitPlan by id among `seed` plans.
pub(crate) async fn get_visit_plan(setup: Setup) -> anyhow::Result<Arc<dyn Scenario>> {
    let plans = Arc::new(seed_plans(&setup, setup.seed.max(1)).await?.plans);
    Ok(scenario(move |ctx: CallCtx| {
        let mut client = VisitsServiceClient::new(setup.target.get(ctx.worker));
        let plan_id = pick(&plans, ctx.seq);
        async move {
            client
                .get_visit_plan(pb::GetVisitPlanRequest { plan_id })
                .await
                .map(drop)
        }
    }))
}

/// Scenario `list_visits`: an agent's agenda, the first page of 20 planned visits by due time.
pub(crate) async fn list_visits(setup: Setup) -> anyhow::Result<Arc<dyn Scenario>> {
    seed_plans(&setup, setup.seed.max(1)).await?;
    Ok(scenario(move |ctx: CallCtx| {
        let mut client = VisitsServiceClient::new(setup.target.get(ctx.worker));
        let request = pb::ListVisitsRequest {
            page_size: 20,
            assigned_agent_id: format!("agent-{:02}", ctx.seq % AGENTS),
            states: vec![pb::VisitState::Planned as i32],
            ..Default::default()
        };
        async move { client.list_visits(request).await.map(drop) }
    }))
}

// ---- the planning benchmark's timed calls ---------------------------------------------------

/// Pages through every customer file (archived ones included) as the visits service's full
/// re-plan does, one page after the other on one connection; returns the timing as JSON.
pub async fn page_customers(url: &str, page_size: i32) -> anyhow::Result<serde_json::Value> {
    let channels = Channels::connect(url, 1).await?;
    let mut client = CustomersServiceClient::new(channels.get(0));
    let started = Instant::now();
    let mut token = String::new();
    let (mut customers, mut pages, mut bytes) = (0usize, 0usize, 0usize);
    let mut slowest = Duration::ZERO;
    loop {
        let asked = Instant::now();
        let page = client
            .list_customers(customers_pb::ListCustomersRequest {
                page_size,
                page_token: token,
                archive_filter: customers_pb::ArchiveFilter::All as i32,
                ..Default::default()
            })
            .await
            .context("ListCustomers")?
            .into_inner();
        slowest = slowest.max(asked.elapsed());
        pages += 1;
        customers += page.customers.len();
        bytes += prost::Message::encoded_len(&page);
        if page.next_page_token.is_empty() {
            break;
        }
        token = page.next_page_token;
    }
    let seconds = started.elapsed().as_secs_f64();
    Ok(json!({
        "benchmark": "list_customers_paging",
        "page_size": page_size,
        "customers": customers,
        "pages": pages,
        "response_mib": (bytes as f64 / 1048576.0 * 10.0).round() / 10.0,
        "seconds": (seconds * 1000.0).round() / 1000.0,
        "customers_per_s": (customers as f64 / seconds).round(),
        "slowest_page_ms": (slowest.as_secs_f64() * 1e4).round() / 10.0,
    }))
}

/// Makes one ReplanVisits call (no deadline of its own beyond `timeout`) and returns its
/// answer and wall time as JSON.
pub async fn replan(
    url: &str,
    page_size: i32,
    timeout: Duration,
) -> anyhow::Result<serde_json::Value> {
    let channels = Channels::connect(url, 1).await?;
    let mut client = VisitsServiceClient::new(channels.get(0));
    let mut request = tonic::Request::new(pb::ReplanVisitsRequest {
        page_size,
        actor: Some(pb::Actor {
            id: "csops-load".into(),
            role: pb::ActorRole::Supervisor as i32,
        }),
    });
    request.set_timeout(timeout);
    let started = Instant::now();
    let answer = client.replan_visits(request).await;
    let seconds = started.elapsed().as_secs_f64();
    let answer = answer
        .map_err(|s| anyhow::anyhow!("ReplanVisits failed after {seconds:.1} s: {s}"))?
        .into_inner();
    Ok(json!({
        "benchmark": "replan_visits",
        "page_size": page_size,
        "seconds": (seconds * 1000.0).round() / 1000.0,
        "customers_read": answer.customers_read,
        "plans_created": answer.plans_created,
        "plans_changed": answer.plans_changed,
        "plans_closed": answer.plans_closed,
        "customers_per_s": (answer.customers_read as f64 / seconds).round(),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn month_day_walks_a_common_year() {
        assert_eq!(month_day(0), (1, 1));
        assert_eq!(month_day(31), (2, 1));
        assert_eq!(month_day(58), (2, 28));
        assert_eq!(month_day(59), (3, 1));
        assert_eq!(month_day(364), (12, 31));
        assert_eq!(month_day(365), (1, 1));
    }

    #[test]
    fn customer_files_have_the_asked_tier_and_key_account_mix() {
        let files: Vec<_> = (0..1000).map(customer_file).collect();
        let share = |tier: customers_pb::CustomerTier| {
            files.iter().filter(|c| c.tier == tier as i32).count()
        };
        assert_eq!(share(customers_pb::CustomerTier::A), 200);
        assert_eq!(share(customers_pb::CustomerTier::B), 300);
        assert_eq!(share(customers_pb::CustomerTier::C), 500);
        assert_eq!(files.iter().filter(|c| c.key_account).count(), 100);
        assert!(files
            .iter()
            .all(|c| !c.important_dates.is_empty() && !c.consents.is_empty()));
    }
}
