//! The scenarios the load tool knows, by name. Adding one is an entry in [`SCENARIOS`] and a
//! builder that prepares its data and returns a closure making one call.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use anyhow::Context as _;
use csops_proto::complaints::v1 as complaints_pb;
use csops_proto::complaints::v1::complaints_service_client::ComplaintsServiceClient;
use csops_proto::customers::v1 as customers_pb;
use csops_proto::customers::v1::customers_service_client::CustomersServiceClient;
use tonic::metadata::{Ascii, MetadataValue};
use tonic::service::interceptor::InterceptedService;
use tonic::transport::{Channel, Endpoint};

use crate::echo::pb as echo_pb;
use crate::echo::pb::echo_service_client::EchoServiceClient;
use crate::harness::{CallCtx, CallFuture, Scenario};

/// The environment variable holding the bearer token every call of the load tool carries
/// (for services with authentication on); unset, calls carry none.
pub const TOKEN_ENV: &str = "CSOPS_LOAD_TOKEN";

/// One client connection: a channel whose calls carry the bearer token of [`TOKEN_ENV`].
pub type Conn = InterceptedService<Channel, Bearer>;

/// Adds `authorization: Bearer …` to each call when a token is set.
#[derive(Debug, Clone)]
pub struct Bearer(Option<MetadataValue<Ascii>>);

impl Bearer {
    /// The token of [`TOKEN_ENV`], if set and not empty.
    pub fn from_env() -> anyhow::Result<Self> {
        match std::env::var(TOKEN_ENV) {
            Ok(token) if !token.trim().is_empty() => Ok(Self(Some(
                format!("Bearer {}", token.trim())
                    .parse()
                    .with_context(|| format!("{TOKEN_ENV} is not a valid header value"))?,
            ))),
            _ => Ok(Self(None)),
        }
    }
}

impl tonic::service::Interceptor for Bearer {
    fn call(
        &mut self,
        mut request: tonic::Request<()>,
    ) -> Result<tonic::Request<()>, tonic::Status> {
        if let Some(value) = &self.0 {
            request
                .metadata_mut()
                .insert("authorization", value.clone());
        }
        Ok(request)
    }
}

/// A set of client connections to one server; caller `i` uses connection `i % n`.
#[derive(Debug, Clone)]
pub struct Channels(Arc<Vec<Channel>>, Bearer);

impl Channels {
    /// Opens `n` HTTP/2 connections to `url` (`http://127.0.0.1:PORT`); their calls carry the
    /// token of [`TOKEN_ENV`] when it is set.
    pub async fn connect(url: &str, n: usize) -> anyhow::Result<Self> {
        let bearer = Bearer::from_env()?;
        let endpoint = Endpoint::from_shared(url.to_owned())
            .with_context(|| format!("bad target URL {url:?}"))?
            .tcp_nodelay(true)
            .connect_timeout(std::time::Duration::from_secs(5));
        let mut channels = Vec::with_capacity(n.max(1));
        for _ in 0..n.max(1) {
            channels.push(
                endpoint
                    .connect()
                    .await
                    .with_context(|| format!("cannot connect to {url}"))?,
            );
        }
        Ok(Self(Arc::new(channels), bearer))
    }

    /// Returns the connection of caller `worker`.
    pub fn get(&self, worker: usize) -> Conn {
        InterceptedService::new(self.0[worker % self.0.len()].clone(), self.1.clone())
    }

    /// Returns the number of connections.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Returns true when there is no connection (never, once connected).
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// What a scenario builder gets: connections to the service under test and its neighbours.
#[derive(Debug, Clone)]
pub struct Setup {
    /// Connections to the server under test.
    pub target: Channels,
    /// Connections to the customers service, for scenarios that need existing customers.
    pub customers: Option<Channels>,
    /// How many rows read scenarios create before the run (e.g. customers to get).
    pub seed: usize,
}

/// A boxed future returned by scenario builders.
pub type BuildFuture =
    Pin<Box<dyn Future<Output = anyhow::Result<Arc<dyn Scenario>>> + Send + 'static>>;

/// A scenario the tool knows by name.
#[derive(Debug, Clone, Copy)]
pub struct ScenarioDef {
    /// Name on the command line and in reports, e.g. `get_customer`.
    pub name: &'static str,
    /// The service it calls: `echo`, `customers`, `complaints`, `visits`.
    pub service: &'static str,
    /// One line for `csops-load list`.
    pub about: &'static str,
    /// Prepares data and returns the call.
    pub build: fn(Setup) -> BuildFuture,
}

/// Every known scenario.
pub const SCENARIOS: &[ScenarioDef] = &[
    ScenarioDef {
        name: "echo",
        service: "echo",
        about: "bare unary echo of a 300-byte payload: the gRPC limit",
        build: |s| Box::pin(echo(s)),
    },
    ScenarioDef {
        name: "create_customer",
        service: "customers",
        about:
            "CreateCustomer with a fresh request_id (customer row + request row in one transaction)",
        build: |s| Box::pin(create_customer(s)),
    },
    ScenarioDef {
        name: "get_customer",
        service: "customers",
        about: "GetCustomer by id, among `seed` customers created before the run",
        build: |s| Box::pin(get_customer(s)),
    },
    ScenarioDef {
        name: "update_customer",
        service: "customers",
        about: "GetCustomer, then UpdateCustomer of its notes with the etag read (2 RPCs), among `seed` customers",
        build: |s| Box::pin(update_customer(s)),
    },
    ScenarioDef {
        name: "list_customers",
        service: "customers",
        about: "ListCustomers: the first page of 20 of one owner agent's customers",
        build: |s| Box::pin(list_customers(s)),
    },
    ScenarioDef {
        name: "create_complaint",
        service: "complaints",
        about: "CreateComplaint: customers lookup, SLA evaluation, complaint + outbox rows in one transaction",
        build: |s| Box::pin(create_complaint(s)),
    },
    ScenarioDef {
        name: "get_complaint",
        service: "complaints",
        about: "GetComplaint by id, among `seed` complaints created before the run",
        build: |s| Box::pin(get_complaint(s)),
    },
    ScenarioDef {
        name: "list_open_complaints",
        service: "complaints",
        about: "ListComplaints: the first page of 20 open complaints assigned to one agent",
        build: |s| Box::pin(list_open_complaints(s)),
    },
    ScenarioDef {
        name: "complaint_lifecycle",
        service: "complaints",
        about: "one call = create, acknowledge, investigate, propose, accept, resolve (6 RPCs)",
        build: |s| Box::pin(complaint_lifecycle(s)),
    },
    ScenarioDef {
        name: "get_visit",
        service: "visits",
        about: "GetVisit by id, among the next visits of `seed` plans created before the run",
        build: |s| Box::pin(crate::visits::get_visit(s)),
    },
    ScenarioDef {
        name: "get_visit_plan",
        service: "visits",
        about: "GetVisitPlan by id, among `seed` plans created before the run",
        build: |s| Box::pin(crate::visits::get_visit_plan(s)),
    },
    ScenarioDef {
        name: "list_visits",
        service: "visits",
        about: "ListVisits: the first page of 20 planned visits of one agent, by due time",
        build: |s| Box::pin(crate::visits::list_visits(s)),
    },
];

/// Returns the scenario called `name`.
pub fn find(name: &str) -> anyhow::Result<&'static ScenarioDef> {
    SCENARIOS.iter().find(|d| d.name == name).with_context(|| {
        let known: Vec<&str> = SCENARIOS.iter().map(|d| d.name).collect();
        format!("unknown scenario {name:?}; known: {}", known.join(", "))
    })
}

pub(crate) fn scenario<F, Fut>(f: F) -> Arc<dyn Scenario>
where
    F: Fn(CallCtx) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<(), tonic::Status>> + Send + 'static,
{
    Arc::new(move |ctx: CallCtx| -> CallFuture { Box::pin(f(ctx)) })
}

// ---- echo -------------------------------------------------------------------------------

/// Returns an echo request with the baseline payload.
pub fn echo_request(fail_code: i32) -> echo_pb::EchoRequest {
    echo_pb::EchoRequest {
        payload: vec![b'x'; crate::echo::PAYLOAD_BYTES],
        fail_code,
    }
}

async fn echo(setup: Setup) -> anyhow::Result<Arc<dyn Scenario>> {
    let request = echo_request(0);
    Ok(scenario(move |ctx: CallCtx| {
        let mut client = EchoServiceClient::new(setup.target.get(ctx.worker));
        let request = request.clone();
        async move { client.echo(request).await.map(drop) }
    }))
}

// ---- customers --------------------------------------------------------------------------

/// Owner agents the seeded customers are spread over.
const AGENTS: u64 = 20;

/// Returns a customer of about 300 bytes on the wire, owned by one of [`AGENTS`] agents.
pub fn new_customer(n: u64) -> customers_pb::Customer {
    customers_pb::Customer {
        display_name: format!("Load Customer {n:08}"),
        tier: customers_pb::CustomerTier::B as i32,
        region: customers_pb::Region::Urban as i32,
        owner_agent_id: format!("agent-{:02}", n % AGENTS),
        contacts: vec![
            customers_pb::Contact {
                kind: customers_pb::ContactKind::Phone as i32,
                value: format!("+86 138 {:04} {:04}", n % 10_000, (n / 10_000) % 10_000),
                label: "mobile".into(),
                primary: true,
            },
            customers_pb::Contact {
                kind: customers_pb::ContactKind::Email as i32,
                value: format!("customer{n}@example.com"),
                label: "work".into(),
                primary: false,
            },
        ],
        needs: vec!["weekly delivery".into(), "invoice by e-mail".into()],
        preferences: vec!["calls after 18:00".into()],
        notes: "Created by csops-load for the benchmarks; prefers a short call before visits."
            .into(),
        ..Default::default()
    }
}

/// Returns a create request with a fresh request id.
pub fn create_customer_request(n: u64) -> customers_pb::CreateCustomerRequest {
    customers_pb::CreateCustomerRequest {
        customer: Some(new_customer(n)),
        request_id: uuid::Uuid::new_v4().to_string(),
        actor_id: "csops-load".into(),
    }
}

async fn create_customer(setup: Setup) -> anyhow::Result<Arc<dyn Scenario>> {
    Ok(scenario(move |ctx: CallCtx| {
        let mut client = CustomersServiceClient::new(setup.target.get(ctx.worker));
        async move {
            client
                .create_customer(create_customer_request(ctx.seq))
                .await
                .map(drop)
        }
    }))
}

/// Creates `count` customers through the API (32 at a time) and returns their ids.
pub async fn seed_customers(channels: &Channels, count: usize) -> anyhow::Result<Vec<String>> {
    let mut ids = Vec::with_capacity(count);
    let mut next = 0usize;
    while next < count {
        let batch = (count - next).min(32);
        let mut calls = Vec::with_capacity(batch);
        for i in 0..batch {
            let mut client = CustomersServiceClient::new(channels.get(i));
            let n = (next + i) as u64;
            calls.push(tokio::spawn(async move {
                client.create_customer(create_customer_request(n)).await
            }));
        }
        for call in calls {
            let response = call.await?.context("seeding customers")?;
            let customer = response
                .into_inner()
                .customer
                .context("CreateCustomer answered without a customer")?;
            ids.push(customer.id);
        }
        next += batch;
    }
    Ok(ids)
}

async fn get_customer(setup: Setup) -> anyhow::Result<Arc<dyn Scenario>> {
    let ids: Arc<Vec<String>> = Arc::new(seed_customers(&setup.target, setup.seed.max(1)).await?);
    Ok(scenario(move |ctx: CallCtx| {
        let mut client = CustomersServiceClient::new(setup.target.get(ctx.worker));
        let index = usize::try_from(ctx.seq % ids.len() as u64).unwrap_or(0);
        let customer_id = ids[index].clone();
        async move {
            client
                .get_customer(customers_pb::GetCustomerRequest { customer_id })
                .await
                .map(drop)
        }
    }))
}

async fn update_customer(setup: Setup) -> anyhow::Result<Arc<dyn Scenario>> {
    let ids: Arc<Vec<String>> = Arc::new(seed_customers(&setup.target, setup.seed.max(1)).await?);
    Ok(scenario(move |ctx: CallCtx| {
        let mut client = CustomersServiceClient::new(setup.target.get(ctx.worker));
        let index = usize::try_from(ctx.seq % ids.len() as u64).unwrap_or(0);
        let customer_id = ids[index].clone();
        async move {
            let read = client
                .get_customer(customers_pb::GetCustomerRequest {
                    customer_id: customer_id.clone(),
                })
                .await?
                .into_inner()
                .customer
                .unwrap_or_default();
            let change = customers_pb::Customer {
                id: customer_id,
                etag: read.etag,
                notes: format!("Called on visit {}; prefers a short call first.", ctx.seq),
                ..Default::default()
            };
            client
                .update_customer(customers_pb::UpdateCustomerRequest {
                    customer: Some(change),
                    update_mask: Some(prost_types::FieldMask {
                        paths: vec!["notes".into()],
                    }),
                })
                .await
                .map(drop)
        }
    }))
}

async fn list_customers(setup: Setup) -> anyhow::Result<Arc<dyn Scenario>> {
    seed_customers(&setup.target, setup.seed.max(1)).await?;
    Ok(scenario(move |ctx: CallCtx| {
        let mut client = CustomersServiceClient::new(setup.target.get(ctx.worker));
        let request = customers_pb::ListCustomersRequest {
            page_size: 20,
            owner_agent_id: format!("agent-{:02}", ctx.seq % AGENTS),
            ..Default::default()
        };
        async move { client.list_customers(request).await.map(drop) }
    }))
}

// ---- complaints -------------------------------------------------------------------------

/// Customers the complaints scenarios spread their complaints over.
const COMPLAINT_CUSTOMERS: usize = 200;

fn agent(n: u64) -> Option<complaints_pb::Actor> {
    Some(complaints_pb::Actor {
        id: format!("agent-{:02}", n % AGENTS),
        role: complaints_pb::ActorRole::Agent as i32,
    })
}

/// Returns a create request of about 300 bytes for one of `customers`.
pub fn create_complaint_request(
    customers: &[String],
    n: u64,
) -> complaints_pb::CreateComplaintRequest {
    let index = usize::try_from(n % customers.len().max(1) as u64).unwrap_or(0);
    complaints_pb::CreateComplaintRequest {
        complaint: Some(complaints_pb::Complaint {
            customer_id: customers.get(index).cloned().unwrap_or_default(),
            title: format!("Router drops every evening ({n})"),
            description: "The connection drops every evening between 19:00 and 22:00; \
                          restarting the router helps for an hour. Third call this week."
                .into(),
            customer_demand: "A working connection or a replacement router".into(),
            nature: complaints_pb::ComplaintNature::ProductQuality as i32,
            severity: complaints_pb::Severity::Medium as i32,
            channel: complaints_pb::Channel::Hotline as i32,
            ..Default::default()
        }),
        request_id: uuid::Uuid::new_v4().to_string(),
        actor: agent(n),
    }
}

async fn complaint_customers(setup: &Setup) -> anyhow::Result<Arc<Vec<String>>> {
    let customers = setup
        .customers
        .as_ref()
        .context("complaints scenarios need --customers-url")?;
    Ok(Arc::new(
        seed_customers(customers, COMPLAINT_CUSTOMERS).await?,
    ))
}

/// Creates `count` complaints (32 at a time), each assigned to agent `n % 20`; returns ids.
async fn seed_complaints(
    channels: &Channels,
    customers: &[String],
    count: usize,
) -> anyhow::Result<Vec<String>> {
    let customers = Arc::new(customers.to_vec());
    let mut ids = Vec::with_capacity(count);
    let mut next = 0usize;
    while next < count {
        let batch = (count - next).min(32);
        let mut calls = Vec::with_capacity(batch);
        for i in 0..batch {
            let mut client = ComplaintsServiceClient::new(channels.get(i));
            let n = (next + i) as u64;
            let customers = Arc::clone(&customers);
            calls.push(tokio::spawn(async move {
                let created = client
                    .create_complaint(create_complaint_request(&customers, n))
                    .await?
                    .into_inner()
                    .complaint
                    .unwrap_or_default();
                client
                    .assign_complaint(complaints_pb::AssignComplaintRequest {
                        complaint_id: created.id.clone(),
                        agent_id: format!("agent-{:02}", n % AGENTS),
                        reason: "load test".into(),
                        actor: agent(n),
                        etag: String::new(),
                    })
                    .await?;
                Ok::<_, tonic::Status>(created.id)
            }));
        }
        for call in calls {
            ids.push(call.await?.context("seeding complaints")?);
        }
        next += batch;
    }
    Ok(ids)
}

async fn create_complaint(setup: Setup) -> anyhow::Result<Arc<dyn Scenario>> {
    let customers = complaint_customers(&setup).await?;
    Ok(scenario(move |ctx: CallCtx| {
        let mut client = ComplaintsServiceClient::new(setup.target.get(ctx.worker));
        let request = create_complaint_request(&customers, ctx.seq);
        async move { client.create_complaint(request).await.map(drop) }
    }))
}

async fn get_complaint(setup: Setup) -> anyhow::Result<Arc<dyn Scenario>> {
    let customers = complaint_customers(&setup).await?;
    let ids = Arc::new(seed_complaints(&setup.target, &customers, setup.seed.max(1)).await?);
    Ok(scenario(move |ctx: CallCtx| {
        let mut client = ComplaintsServiceClient::new(setup.target.get(ctx.worker));
        let index = usize::try_from(ctx.seq % ids.len() as u64).unwrap_or(0);
        let complaint_id = ids[index].clone();
        async move {
            client
                .get_complaint(complaints_pb::GetComplaintRequest { complaint_id })
                .await
                .map(drop)
        }
    }))
}

async fn list_open_complaints(setup: Setup) -> anyhow::Result<Arc<dyn Scenario>> {
    use complaints_pb::ComplaintState as S;
    let customers = complaint_customers(&setup).await?;
    seed_complaints(&setup.target, &customers, setup.seed.max(1)).await?;
    let open = vec![
        S::Received as i32,
        S::Acknowledged as i32,
        S::Investigating as i32,
        S::SolutionProposed as i32,
        S::SolutionAccepted as i32,
    ];
    Ok(scenario(move |ctx: CallCtx| {
        let mut client = ComplaintsServiceClient::new(setup.target.get(ctx.worker));
        let request = complaints_pb::ListComplaintsRequest {
            page_size: 20,
            states: open.clone(),
            assigned_agent_id: format!("agent-{:02}", ctx.seq % AGENTS),
            ..Default::default()
        };
        async move { client.list_complaints(request).await.map(drop) }
    }))
}

async fn complaint_lifecycle(setup: Setup) -> anyhow::Result<Arc<dyn Scenario>> {
    let customers = complaint_customers(&setup).await?;
    Ok(scenario(move |ctx: CallCtx| {
        let mut c = ComplaintsServiceClient::new(setup.target.get(ctx.worker));
        let create = create_complaint_request(&customers, ctx.seq);
        let a = move || agent(ctx.seq);
        async move {
            let id = c
                .create_complaint(create)
                .await?
                .into_inner()
                .complaint
                .unwrap_or_default()
                .id;
            c.acknowledge_complaint(complaints_pb::AcknowledgeComplaintRequest {
                complaint_id: id.clone(),
                actor: a(),
                ..Default::default()
            })
            .await?;
            c.start_investigation(complaints_pb::StartInvestigationRequest {
                complaint_id: id.clone(),
                actor: a(),
                ..Default::default()
            })
            .await?;
            c.propose_solution(complaints_pb::ProposeSolutionRequest {
                complaint_id: id.clone(),
                measures: vec!["replace the router".into()],
                plan: vec![complaints_pb::PlanStep {
                    description: "engineer visit".into(),
                    owner_id: "eng-1".into(),
                    due_time: Some(prost_types::Timestamp {
                        seconds: 4_000_000_000,
                        nanos: 0,
                    }),
                }],
                actor: a(),
                etag: String::new(),
            })
            .await?;
            c.accept_solution(complaints_pb::AcceptSolutionRequest {
                complaint_id: id.clone(),
                actor: a(),
                ..Default::default()
            })
            .await?;
            c.resolve_complaint(complaints_pb::ResolveComplaintRequest {
                complaint_id: id,
                resolution: Some(complaints_pb::Resolution {
                    summary: "replaced the router".into(),
                    root_cause: "faulty batch".into(),
                    corrective_action: "batch check".into(),
                    ..Default::default()
                }),
                actor: a(),
                etag: String::new(),
            })
            .await
            .map(drop)
        }
    }))
}
