//! Identity and roles across the suite: every RPC of every service, called with no token, a
//! forged, an expired and a foreign token, and with a token of each role, answers as the
//! service's role table says; and the services' own calls to each other (a lookup, an outbox
//! delivery) carry their service token and are accepted; each service's audit log names the
//! token's subject as the actor of every change.
#![allow(clippy::unwrap_used, unreachable_pub)]

mod common;

use std::time::Duration;

use common::secured::{bearer, channel, with_token, Four, Wiring, HOUR};
use csops_proto::audit::v1 as apb;
use csops_proto::audit::v1::audit_service_client::AuditServiceClient;
use csops_proto::complaints::v1 as pb;
use csops_proto::complaints::v1::complaints_service_client::ComplaintsServiceClient;
use csops_proto::customers::v1 as cpb;
use csops_proto::customers::v1::customers_service_client::CustomersServiceClient;
use csops_proto::visits::v1 as vpb;
use csops_proto::visits::v1::visits_service_client::VisitsServiceClient;
use csops_runtime::auth::dev::{DevIssuer, AUDIENCE, ISSUER};
use csops_runtime::auth::{self, Role};
use csops_testkit::raw;
use csops_testkit::Backend;
use tonic::transport::Channel;
use tonic::Code;

/// The code an empty request to `method` gets with `headers` (OK as `Code::Ok`).
async fn code_of(
    channel: &Channel,
    method: &raw::Method,
    headers: &[(&'static str, String)],
) -> Code {
    match raw::call(channel.clone(), method, Vec::new(), headers).await {
        Ok(_) => Code::Ok,
        Err(status) => status.code(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_rpc_of_every_service_answers_each_caller_as_its_role_table_says() {
    let dir = tempfile::tempdir().unwrap();
    let issuer = DevIssuer::generate();
    let suite = Four::start(dir.path(), Backend::Sqlite, &issuer, Wiring::Live).await;

    let refused_tokens = [
        ("no token", Vec::new()),
        (
            "not a bearer header",
            vec![("authorization", "Basic YWdlbnQ6cHc=".to_owned())],
        ),
        (
            "a token another key signed",
            bearer(&DevIssuer::generate().token("lead-1", &[Role::Supervisor], None, HOUR)),
        ),
        (
            "an expired token",
            bearer(&issuer.expired_token("lead-1", &[Role::Supervisor], Duration::from_secs(600))),
        ),
        (
            "a token for another audience",
            bearer(&issuer.token_with(
                "lead-1",
                &[Role::Supervisor],
                None,
                HOUR,
                ISSUER,
                "billing",
            )),
        ),
        (
            "a token from another issuer",
            bearer(&issuer.token_with("lead-1", &[Role::Supervisor], None, HOUR, "evil", AUDIENCE)),
        ),
    ];
    let no_role = bearer(&issuer.token("visitor-1", &[], None, HOUR));
    let per_role: Vec<(Role, Vec<(&'static str, String)>)> = Role::ALL
        .into_iter()
        .map(|role| {
            let token = issuer.token(&format!("{role}-1"), &[role], Some("team-north"), HOUR);
            (role, bearer(&token))
        })
        .collect();

    let mut walked = 0;
    let mut problems = Vec::new();
    for service in suite.services() {
        let spec = service.spec;
        let channel = channel(service.addr()).await;
        // The service's own API and the kit's audit log, each with its table.
        for (grpc_service, table) in spec.guarded() {
            auth::check_table(table, grpc_service).unwrap();
            let methods = raw::methods(grpc_service);
            assert_eq!(methods.len(), table.len(), "{}", spec.name);
            for method in &methods {
                walked += 1;
                for (what, headers) in &refused_tokens {
                    let code = code_of(&channel, method, headers).await;
                    if code != Code::Unauthenticated {
                        problems.push(format!("{} with {what}: {code:?}", method.path));
                    }
                }
                let code = code_of(&channel, method, &no_role).await;
                if code != Code::PermissionDenied {
                    problems.push(format!("{} with no role: {code:?}", method.path));
                }
                let allowed = auth::allowed(table, &method.name).unwrap();
                for (role, headers) in &per_role {
                    let code = code_of(&channel, method, headers).await;
                    let refused = matches!(code, Code::Unauthenticated | Code::PermissionDenied);
                    let permitted = auth::permits(allowed, *role);
                    if permitted == refused {
                        problems.push(format!(
                            "{} as {role}: {code:?}, but the table {} it",
                            method.path,
                            if permitted { "allows" } else { "refuses" }
                        ));
                    }
                }
            }
        }
        // Health and reflection need no token.
        let health = raw::Method {
            name: "Check".into(),
            path: "/grpc.health.v1.Health/Check".into(),
            input: ".grpc.health.v1.HealthCheckRequest".into(),
            server_streaming: false,
        };
        assert_eq!(
            code_of(&channel, &health, &[]).await,
            Code::Ok,
            "{}",
            spec.name
        );
    }
    assert_eq!(
        walked, 105,
        "every RPC of the four services, and each one's audit log"
    );
    assert!(problems.is_empty(), "{}", problems.join("\n"));

    suite.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn services_call_each_other_with_their_own_tokens() {
    let dir = tempfile::tempdir().unwrap();
    let issuer = DevIssuer::generate();
    let suite = Four::start(dir.path(), Backend::Sqlite, &issuer, Wiring::Live).await;
    let agent = issuer.token("agent-7", &[Role::Agent], None, HOUR);
    let ops = issuer.token("ops-1", &[Role::Ops], None, HOUR);

    let mut customers = CustomersServiceClient::with_interceptor(
        channel(suite.customers.addr()).await,
        with_token(agent.clone()),
    );
    let customer = customers
        .create_customer(cpb::CreateCustomerRequest {
            customer: Some(cpb::Customer {
                display_name: "Li Na".into(),
                tier: cpb::CustomerTier::A as i32,
                region: cpb::Region::Urban as i32,
                owner_agent_id: "agent-7".into(),
                contacts: vec![
                    cpb::Contact {
                        kind: cpb::ContactKind::Phone as i32,
                        value: "+86 138 0013 8000".into(),
                        primary: true,
                        ..Default::default()
                    },
                    cpb::Contact {
                        kind: cpb::ContactKind::Email as i32,
                        value: "li.na@example.com".into(),
                        ..Default::default()
                    },
                ],
                ..Default::default()
            }),
            request_id: "auth-e2e-1".into(),
            actor_id: "agent-7".into(),
        })
        .await
        .unwrap()
        .into_inner()
        .customer
        .unwrap();

    // The agent sees the contacts whole; ops, who needs none of them, sees them masked.
    let values =
        |c: &cpb::Customer| -> Vec<String> { c.contacts.iter().map(|c| c.value.clone()).collect() };
    assert_eq!(
        values(&customer),
        ["+86 138 0013 8000", "li.na@example.com"]
    );
    let as_ops = CustomersServiceClient::with_interceptor(
        channel(suite.customers.addr()).await,
        with_token(ops.clone()),
    )
    .get_customer(cpb::GetCustomerRequest {
        customer_id: customer.id.clone(),
    })
    .await
    .unwrap()
    .into_inner()
    .customer
    .unwrap();
    assert_eq!(values(&as_ops), ["+** *** **** 8000", "l***@example.com"]);

    // Another agent can neither read agent-7's customer nor list it, nor ask for their list.
    let mut other = CustomersServiceClient::with_interceptor(
        channel(suite.customers.addr()).await,
        with_token(issuer.token("agent-8", &[Role::Agent], None, HOUR)),
    );
    let refused = other
        .get_customer(cpb::GetCustomerRequest {
            customer_id: customer.id.clone(),
        })
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::PermissionDenied, "{refused:?}");
    let theirs = other
        .list_customers(cpb::ListCustomersRequest::default())
        .await
        .unwrap()
        .into_inner()
        .customers;
    assert!(theirs.is_empty(), "agent-8 listed {theirs:?}");
    let refused = other
        .list_customers(cpb::ListCustomersRequest {
            owner_agent_id: "agent-7".into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::PermissionDenied, "{refused:?}");
    // agent-7 lists their own; a supervisor sees every file.
    let mine = customers
        .list_customers(cpb::ListCustomersRequest::default())
        .await
        .unwrap()
        .into_inner()
        .customers;
    assert_eq!(mine.len(), 1);
    let lead = CustomersServiceClient::with_interceptor(
        channel(suite.customers.addr()).await,
        with_token(issuer.token("lead-1", &[Role::Supervisor], None, HOUR)),
    )
    .get_customer(cpb::GetCustomerRequest {
        customer_id: customer.id.clone(),
    })
    .await;
    assert!(lead.is_ok(), "{lead:?}");

    // Complaints looked the customer up with its service token: the facts are real, not the
    // defaults it falls back to when customers refuses or cannot be reached.
    let mut complaints = ComplaintsServiceClient::with_interceptor(
        channel(suite.complaints.addr()).await,
        with_token(agent),
    );
    let complaint = complaints
        .create_complaint(pb::CreateComplaintRequest {
            complaint: Some(pb::Complaint {
                customer_id: customer.id.clone(),
                title: "Broadband drops every evening".into(),
                nature: pb::ComplaintNature::ProductQuality as i32,
                severity: pb::Severity::Medium as i32,
                channel: pb::Channel::Hotline as i32,
                ..Default::default()
            }),
            request_id: "auth-e2e-2".into(),
            // Claims to be a supervisor; the token says agent-7, an agent.
            actor: Some(pb::Actor {
                id: "lead-9".into(),
                role: pb::ActorRole::Supervisor as i32,
            }),
        })
        .await
        .unwrap()
        .into_inner()
        .complaint
        .unwrap();
    let facts = complaint.customer.unwrap();
    assert!(
        !facts.defaulted,
        "complaints could not read the customer: {facts:?}"
    );

    // Once a supervisor assigns the case to agent-7, another agent can no longer open it.
    let mut lead = ComplaintsServiceClient::with_interceptor(
        channel(suite.complaints.addr()).await,
        with_token(issuer.token("lead-1", &[Role::Supervisor], None, HOUR)),
    );
    lead.assign_complaint(pb::AssignComplaintRequest {
        complaint_id: complaint.id.clone(),
        agent_id: "agent-7".into(),
        reason: "owner of the customer".into(),
        ..Default::default()
    })
    .await
    .unwrap();
    let mut other = ComplaintsServiceClient::with_interceptor(
        channel(suite.complaints.addr()).await,
        with_token(issuer.token("agent-8", &[Role::Agent], None, HOUR)),
    );
    let refused = other
        .get_complaint(pb::GetComplaintRequest {
            complaint_id: complaint.id.clone(),
        })
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::PermissionDenied, "{refused:?}");
    complaints
        .get_complaint(pb::GetComplaintRequest {
            complaint_id: complaint.id.clone(),
        })
        .await
        .unwrap();

    // The timeline records who did what from the tokens: the intake by agent-7 as an agent
    // (not the "lead-9, supervisor" the request claimed), the assignment by lead-1.
    let entries = complaints
        .list_timeline(pb::ListTimelineRequest {
            complaint_id: complaint.id.clone(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .entries;
    let actors: Vec<(String, i32)> = entries
        .iter()
        .map(|e| {
            let a = e.actor.clone().unwrap_or_default();
            (a.id, a.role)
        })
        .collect();
    assert_eq!(
        actors.first(),
        Some(&("agent-7".to_owned(), pb::ActorRole::Agent as i32)),
        "{entries:#?}"
    );
    assert!(
        actors.contains(&("lead-1".to_owned(), pb::ActorRole::Supervisor as i32)),
        "{entries:#?}"
    );
    assert!(actors.iter().all(|(id, _)| id != "lead-9"), "{entries:#?}");

    // The customers outbox delivered the new customer to visits with its service token:
    // visits made the customer's plan.
    let mut visits =
        VisitsServiceClient::with_interceptor(channel(suite.visits.addr()).await, with_token(ops));
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    let plan = loop {
        let plans = visits
            .list_visit_plans(vpb::ListVisitPlansRequest {
                customer_id: customer.id.clone(),
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner()
            .plans;
        if let Some(plan) = plans.into_iter().next() {
            break plan;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "visits never received the customer"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(plan.owner_agent_id, "agent-7");

    // The plan is agent-7's: another agent can neither read nor list it, nor read agent-7's
    // agenda; agent-7 can.
    let as_agent = |subject: &str| issuer.token(subject, &[Role::Agent], None, HOUR);
    let mut other = VisitsServiceClient::with_interceptor(
        channel(suite.visits.addr()).await,
        with_token(as_agent("agent-8")),
    );
    let refused = other
        .get_visit_plan(vpb::GetVisitPlanRequest {
            plan_id: plan.id.clone(),
        })
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::PermissionDenied, "{refused:?}");
    let theirs = other
        .list_visit_plans(vpb::ListVisitPlansRequest::default())
        .await
        .unwrap()
        .into_inner()
        .plans;
    assert!(theirs.is_empty(), "agent-8 listed {theirs:?}");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let agenda = |assignee: &str| vpb::GetAgendaRequest {
        assignee_id: assignee.into(),
        start_time: Some(prost_types::Timestamp {
            seconds: i64::try_from(now).unwrap(),
            nanos: 0,
        }),
        end_time: Some(prost_types::Timestamp {
            seconds: i64::try_from(now + 86_400).unwrap(),
            nanos: 0,
        }),
    };
    let refused = other.get_agenda(agenda("agent-7")).await.unwrap_err();
    assert_eq!(refused.code(), Code::PermissionDenied, "{refused:?}");
    let mut own = VisitsServiceClient::with_interceptor(
        channel(suite.visits.addr()).await,
        with_token(as_agent("agent-7")),
    );
    own.get_visit_plan(vpb::GetVisitPlanRequest {
        plan_id: plan.id.clone(),
    })
    .await
    .unwrap();
    own.get_agenda(agenda("agent-7")).await.unwrap();

    // Each service's audit log says who changed its records, from the tokens: the customer
    // and the complaint by agent-7 as an agent (not the "lead-9, supervisor" the request
    // claimed), the assignment by lead-1, the plan by the customers service's delivery.
    let lead = issuer.token("lead-1", &[Role::Supervisor], None, HOUR);
    let history = |addr, id: &str| {
        let lead = lead.clone();
        let id = id.to_owned();
        async move {
            AuditServiceClient::with_interceptor(channel(addr).await, with_token(lead))
                .list_record_history(apb::ListRecordHistoryRequest {
                    record_id: id,
                    ..Default::default()
                })
                .await
                .unwrap()
                .into_inner()
                .entries
                .into_iter()
                .map(|e| (e.action, e.actor_id, e.actor_role))
                .collect::<Vec<_>>()
        }
    };
    let entry = |action: &str, actor: &str, role: &str| {
        (action.to_owned(), actor.to_owned(), role.to_owned())
    };
    assert_eq!(
        history(suite.customers.addr(), &customer.id).await,
        [entry("CreateCustomer", "agent-7", "agent")]
    );
    let changes = history(suite.complaints.addr(), &complaint.id).await;
    assert_eq!(
        changes.first(),
        Some(&entry("CreateComplaint", "agent-7", "agent")),
        "{changes:?}"
    );
    assert!(
        changes.contains(&entry("AssignComplaint", "lead-1", "supervisor")),
        "{changes:?}"
    );
    assert!(changes.iter().all(|(_, actor, _)| actor != "lead-9"));
    let changes = history(suite.visits.addr(), &plan.id).await;
    assert!(
        changes
            .first()
            .is_some_and(|(_, _, role)| role == "service"),
        "{changes:?}"
    );
    // Agents may not read the audit log.
    let refused = AuditServiceClient::with_interceptor(
        channel(suite.customers.addr()).await,
        with_token(as_agent("agent-7")),
    )
    .list_record_history(apb::ListRecordHistoryRequest {
        record_id: customer.id.clone(),
        ..Default::default()
    })
    .await
    .unwrap_err();
    assert_eq!(refused.code(), Code::PermissionDenied, "{refused:?}");

    suite.stop().await;
}
