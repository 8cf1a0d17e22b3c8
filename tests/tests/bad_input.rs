//! Bad input, everywhere: every RPC of every service gets malformed and extreme requests
//! (`csops_testkit::hostile`: garbage, truncated, oversized and deeply nested bodies, invalid
//! UTF-8, unknown fields and enum numbers, empty and huge strings, NUL characters, negative and
//! huge page sizes, garbage and tampered page tokens, far-past and far-future timestamps,
//! fields repeated by the thousand) from a caller its role table admits. Every answer must be
//! a clean status — never INTERNAL, UNKNOWN (a panic), DATA_LOSS or UNIMPLEMENTED — and a
//! refused call must leave the service's database exactly as it was.
//!
//! Random cases come from a seed: `CSOPS_FUZZ_SEED=<n>` replays a run, `CSOPS_FUZZ_CASES=<n>`
//! sends more per RPC (default 16 wholly hostile and 16 nearly valid, with about one value in
//! eight hostile, which get past the first checks to the use cases).
#![allow(clippy::unwrap_used, clippy::print_stdout, unreachable_pub)]

mod common;

use std::collections::BTreeMap;
use std::hash::{Hash as _, Hasher as _};
use std::sync::Arc;

use common::secured::{bearer, channel, with_token, Four, Service, Wiring, HOUR};
use csops_proto::complaints::v1 as pb;
use csops_proto::complaints::v1::complaints_service_client::ComplaintsServiceClient;
use csops_proto::customers::v1 as cpb;
use csops_proto::customers::v1::customers_service_client::CustomersServiceClient;
use csops_proto::visits::v1 as vpb;
use csops_proto::visits::v1::visits_service_client::VisitsServiceClient;
use csops_runtime::auth::dev::DevIssuer;
use csops_runtime::auth::{self, Role};
use csops_testkit::hostile::{Hints, Hostile, Schema};
use csops_testkit::{on_both_backends, raw, Backend};
use tonic::Code;

/// Codes a server must never answer to bad input.
const UNCLEAN: [Code; 4] = [
    Code::Internal,
    Code::Unknown,
    Code::DataLoss,
    Code::Unimplemented,
];

fn seed() -> u64 {
    std::env::var("CSOPS_FUZZ_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(20_261_204)
}

fn random_cases() -> u64 {
    std::env::var("CSOPS_FUZZ_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(16)
}

/// What a database holds, table by table (row count and a hash of every row), so a refused
/// call that changed anything is seen.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Fingerprint(BTreeMap<String, (i64, u64)>);

enum Db {
    Postgres(sqlx::PgPool),
    Sqlite(sqlx::SqlitePool),
}

impl Db {
    async fn open(url: &str) -> Self {
        if url.starts_with("postgres") {
            Self::Postgres(sqlx::PgPool::connect(url).await.unwrap())
        } else {
            Self::Sqlite(sqlx::SqlitePool::connect(url).await.unwrap())
        }
    }

    async fn fingerprint(&self) -> Fingerprint {
        let mut tables = BTreeMap::new();
        match self {
            Self::Postgres(pool) => {
                let names: Vec<String> = sqlx::query_scalar(
                    "SELECT tablename::text FROM pg_tables WHERE schemaname = current_schema()",
                )
                .fetch_all(pool)
                .await
                .unwrap();
                for name in names {
                    let (count, md5): (i64, String) = sqlx::query_as(&format!(
                        "SELECT count(*), coalesce(md5(string_agg(t::text, '|' ORDER BY t::text)), '') \
                         FROM \"{name}\" t"
                    ))
                    .fetch_one(pool)
                    .await
                    .unwrap();
                    tables.insert(name, (count, hash(&md5)));
                }
            }
            Self::Sqlite(pool) => {
                let names: Vec<String> = sqlx::query_scalar(
                    "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'",
                )
                .fetch_all(pool)
                .await
                .unwrap();
                for name in names {
                    let columns: Vec<String> = sqlx::query_scalar(&format!(
                        "SELECT name FROM pragma_table_info('{name}')"
                    ))
                    .fetch_all(pool)
                    .await
                    .unwrap();
                    let row = columns
                        .iter()
                        .map(|c| format!("quote(\"{c}\")"))
                        .collect::<Vec<_>>()
                        .join(" || ',' || ");
                    let (count, rows): (i64, String) = sqlx::query_as(&format!(
                        "SELECT count(*), coalesce(group_concat(r, '|'), '') \
                         FROM (SELECT {row} AS r FROM \"{name}\" ORDER BY 1)"
                    ))
                    .fetch_one(pool)
                    .await
                    .unwrap();
                    tables.insert(name, (count, hash(&rows)));
                }
            }
        }
        Fingerprint(tables)
    }
}

fn hash(text: &str) -> u64 {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    text.hash(&mut h);
    h.finish()
}

/// The role a bad-input call is made as: the one with the widest reach the table admits.
fn caller_for(table: auth::RoleTable, method: &str) -> Role {
    let allowed = auth::allowed(table, method).unwrap();
    [
        Role::Supervisor,
        Role::Service,
        Role::Agent,
        Role::FieldEngineer,
        Role::Ops,
    ]
    .into_iter()
    .find(|r| auth::permits(allowed, *r))
    .unwrap()
}

/// Reads top-level string field `number` of a serialized message.
fn string_field(mut bytes: &[u8], number: u64) -> Option<String> {
    fn varint(bytes: &mut &[u8]) -> Option<u64> {
        let mut value = 0u64;
        for shift in (0..64).step_by(7) {
            let (&byte, rest) = bytes.split_first()?;
            *bytes = rest;
            value |= u64::from(byte & 0x7f) << shift;
            if byte < 0x80 {
                return Some(value);
            }
        }
        None
    }
    while !bytes.is_empty() {
        let key = varint(&mut bytes)?;
        match key & 7 {
            0 => {
                varint(&mut bytes)?;
            }
            1 => bytes = bytes.get(8..)?,
            5 => bytes = bytes.get(4..)?,
            2 => {
                let len = usize::try_from(varint(&mut bytes)?).ok()?;
                let (value, rest) = (bytes.get(..len)?, bytes.get(len..)?);
                if key >> 3 == number {
                    return String::from_utf8(value.to_vec()).ok();
                }
                bytes = rest;
            }
            _ => return None,
        }
    }
    None
}

/// Records that exist, so generated ids sometimes name a real one and page tokens are real.
async fn seed_records(suite: &Four, issuer: &DevIssuer) -> Vec<String> {
    let lead = issuer.token("lead-1", &[Role::Supervisor], None, HOUR);
    let mut customers = CustomersServiceClient::with_interceptor(
        channel(suite.customers.addr()).await,
        with_token(lead.clone()),
    );
    let mut complaints = ComplaintsServiceClient::with_interceptor(
        channel(suite.complaints.addr()).await,
        with_token(lead.clone()),
    );
    let mut visits =
        VisitsServiceClient::with_interceptor(channel(suite.visits.addr()).await, with_token(lead));
    let mut ids = Vec::new();
    for n in 0..3 {
        let customer = customers
            .create_customer(cpb::CreateCustomerRequest {
                customer: Some(cpb::Customer {
                    display_name: format!("Customer {n}"),
                    tier: cpb::CustomerTier::A as i32,
                    region: cpb::Region::Urban as i32,
                    owner_agent_id: "agent-7".into(),
                    ..Default::default()
                }),
                request_id: format!("seed-customer-{n}"),
                actor_id: String::new(),
            })
            .await
            .unwrap()
            .into_inner()
            .customer
            .unwrap();
        let complaint = complaints
            .create_complaint(pb::CreateComplaintRequest {
                complaint: Some(pb::Complaint {
                    customer_id: customer.id.clone(),
                    title: format!("Broadband drops, case {n}"),
                    nature: pb::ComplaintNature::ProductQuality as i32,
                    severity: pb::Severity::Medium as i32,
                    channel: pb::Channel::Hotline as i32,
                    ..Default::default()
                }),
                request_id: format!("seed-complaint-{n}"),
                actor: None,
            })
            .await
            .unwrap()
            .into_inner()
            .complaint
            .unwrap();
        let plan = visits
            .create_visit_plan(vpb::CreateVisitPlanRequest {
                plan: Some(vpb::VisitPlan {
                    customer_id: customer.id.clone(),
                    owner_agent_id: "agent-7".into(),
                    ..Default::default()
                }),
                request_id: format!("seed-plan-{n}"),
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner()
            .plan
            .unwrap();
        ids.extend([customer.id, complaint.id, plan.id]);
    }
    ids
}

/// Asks every List method of `service` for a page of one, as `headers`, and keeps the next
/// page tokens it hands out.
async fn page_tokens(
    schema: &Schema,
    service: &Service,
    headers: &[(&'static str, String)],
) -> Vec<String> {
    let channel = channel(service.addr()).await;
    let mut tokens = Vec::new();
    for method in raw::methods(service.spec.grpc_service) {
        let Some(size) = schema.field_number(&method.input, "page_size") else {
            continue;
        };
        let output = method.input.replace("Request", "Response");
        let Some(next) = schema.field_number(&output, "next_page_token") else {
            continue;
        };
        let mut body = vec![u8::try_from(size << 3).unwrap()];
        body.push(1);
        if let Ok(answer) = raw::call(channel.clone(), &method, body, headers).await {
            if let Some(token) = string_field(&answer, u64::from(next)).filter(|t| !t.is_empty()) {
                tokens.push(token);
            }
        }
    }
    tokens
}

/// Sends every case to every RPC of `service`; returns the problems found and the answers
/// by code.
async fn walk(
    service: &Service,
    schema: Arc<Schema>,
    hints: Arc<Hints>,
    issuer: Arc<DevIssuer>,
) -> (Vec<String>, BTreeMap<String, usize>, usize, usize) {
    let spec = service.spec;
    let db = Db::open(&service.database_url).await;
    let channel = channel(service.addr()).await;
    let hostile = Hostile::new(&schema, &hints);
    let mut problems = Vec::new();
    let mut codes = BTreeMap::new();
    let mut before = db.fingerprint().await;
    // Accepted calls that changed the database: proof that the fingerprint sees writes.
    let mut seen_writes = 0;
    // The service's own API and the kit's audit log.
    let methods: Vec<_> = spec
        .guarded()
        .into_iter()
        .flat_map(|(grpc_service, table)| {
            raw::methods(grpc_service)
                .into_iter()
                .map(move |method| (table, method))
        })
        .collect();
    for (table, method) in &methods {
        let role = caller_for(table, &method.name);
        let headers = bearer(&issuer.token(&format!("{role}-1"), &[role], None, HOUR));
        let mut cases = hostile.fixed(&method.input);
        for n in 0..random_cases() {
            let case_seed = seed() ^ hash(&method.path) ^ n;
            cases.push((
                format!("random case (seed {case_seed})"),
                hostile.random(&method.input, case_seed),
            ));
            cases.push((
                format!("nearly valid case (seed {case_seed})"),
                hostile.nearly_valid(&method.input, case_seed),
            ));
        }
        for (what, body) in cases {
            let answer = raw::call(channel.clone(), method, body, &headers).await;
            let code = answer.as_ref().map_or_else(|s| s.code(), |_| Code::Ok);
            *codes.entry(format!("{code:?}")).or_insert(0) += 1;
            if let Err(status) = &answer {
                if UNCLEAN.contains(&status.code()) {
                    problems.push(format!(
                        "{} as {role} with {what}: {:?} {:?}",
                        method.path,
                        status.code(),
                        status.message()
                    ));
                }
            }
            let after = db.fingerprint().await;
            if answer.is_err() && after != before {
                let changed: Vec<&String> = after
                    .0
                    .iter()
                    .filter(|(table, print)| before.0.get(*table) != Some(*print))
                    .map(|(table, _)| table)
                    .collect();
                problems.push(format!(
                    "{} as {role} with {what}: refused ({code:?}) but changed {changed:?}",
                    method.path
                ));
            }
            if answer.is_ok() && after != before {
                seen_writes += 1;
            }
            before = after;
        }
        // The server is still there and answering.
        let health = raw::Method {
            name: "Check".into(),
            path: "/grpc.health.v1.Health/Check".into(),
            input: ".grpc.health.v1.HealthCheckRequest".into(),
            server_streaming: false,
        };
        if let Err(status) = raw::call(channel.clone(), &health, Vec::new(), &[]).await {
            problems.push(format!(
                "{} after {}: health {status:?}",
                spec.name, method.name
            ));
        }
    }
    (problems, codes, methods.len(), seen_writes)
}

async fn every_rpc_answers_bad_input_with_a_clean_status_and_changes_nothing(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let issuer = Arc::new(DevIssuer::generate());
    let suite = Four::start(dir.path(), backend, &issuer, Wiring::Quiet).await;
    let schema = Arc::new(Schema::load());
    let ids = seed_records(&suite, &issuer).await;
    let lead = bearer(&issuer.token("lead-1", &[Role::Supervisor], None, HOUR));
    let mut tokens = Vec::new();
    for service in suite.services() {
        tokens.extend(page_tokens(&schema, service, &lead).await);
    }
    assert!(
        tokens.len() >= 3,
        "the listings handed out page tokens: {tokens:?}"
    );
    let hints = Arc::new(Hints {
        ids,
        page_tokens: tokens,
    });

    // The four services are walked at once, each checking its own database.
    let mut walks = tokio::task::JoinSet::new();
    let suite = Arc::new(suite);
    for index in 0..4 {
        let (suite, schema, hints, issuer) =
            (suite.clone(), schema.clone(), hints.clone(), issuer.clone());
        walks.spawn(async move {
            let service = suite.services()[index];
            let (problems, codes, methods, writes) = walk(service, schema, hints, issuer).await;
            (service.spec.name, problems, codes, methods, writes)
        });
    }
    let mut problems = Vec::new();
    let mut walked = 0;
    let mut writes = 0;
    while let Some(done) = walks.join_next().await {
        let (name, found, codes, methods, seen_writes) = done.unwrap();
        println!(
            "{name}: {methods} RPCs, answers by code {codes:?}, {seen_writes} accepted writes seen"
        );
        walked += methods;
        writes += seen_writes;
        problems.extend(found);
    }
    assert_eq!(
        walked, 105,
        "every RPC of the four services, and each one's audit log"
    );
    assert!(writes > 0, "the fingerprints never saw an accepted write");
    assert!(
        problems.is_empty(),
        "seed {}: {} problems:\n{}",
        seed(),
        problems.len(),
        problems.join("\n")
    );
    Arc::into_inner(suite).unwrap().stop().await;
}

on_both_backends!(every_rpc_answers_bad_input_with_a_clean_status_and_changes_nothing);
