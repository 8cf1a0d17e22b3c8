//! The customers API as a client sees it, on SQLite and on a real PostgreSQL: every scenario
//! runs once per backend against a server on a random port with a fresh database.
#![allow(clippy::unwrap_used, unreachable_pub)]

use std::collections::HashSet;

use csops_customers::App;
use csops_observability::Metrics;
use csops_proto::customers::v1 as pb;
use csops_proto::customers::v1::customers_service_client::CustomersServiceClient;
use csops_runtime::Settings;
use csops_testkit::Backend;
use prost_types::FieldMask;
use tokio::sync::oneshot;
use tonic::transport::Channel;
use tonic::Code;
use tonic_types::StatusExt;

struct TestApp {
    client: CustomersServiceClient<Channel>,
    addr: std::net::SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    _dir: tempfile::TempDir,
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

async fn spawn_app(backend: Backend) -> TestApp {
    spawn_app_with(backend, csops_customers::Config::default()).await
}

async fn spawn_app_with(backend: Backend, config: csops_customers::Config) -> TestApp {
    let dir = tempfile::tempdir().unwrap();
    let url = backend.database_url(dir.path(), "customers").await;
    let settings = Settings::for_tests(&url);
    let app = App::build_with(&settings, &config, Metrics::new())
        .await
        .unwrap();
    let addr = app.local_addr();
    let (stop, stopped) = oneshot::channel::<()>();
    tokio::spawn(app.run_until_stopped(async move {
        let _ = stopped.await;
    }));
    let client = CustomersServiceClient::connect(format!("http://{addr}"))
        .await
        .unwrap();
    TestApp {
        client,
        addr,
        stop: Some(stop),
        _dir: dir,
    }
}

fn customer(name: &str, tier: pb::CustomerTier, region: pb::Region) -> pb::Customer {
    pb::Customer {
        display_name: name.into(),
        tier: tier as i32,
        region: region as i32,
        owner_agent_id: "agent-1".into(),
        contacts: vec![pb::Contact {
            kind: pb::ContactKind::Phone as i32,
            value: "+86 138 0013 8000".into(),
            label: "mobile".into(),
            primary: true,
        }],
        ..Default::default()
    }
}

async fn create(app: &mut TestApp, c: pb::Customer) -> pb::Customer {
    let request_id = uuid::Uuid::new_v4().to_string();
    app.client
        .create_customer(pb::CreateCustomerRequest {
            customer: Some(c),
            request_id,
            actor_id: "agent-1".into(),
        })
        .await
        .unwrap()
        .into_inner()
        .customer
        .unwrap()
}

fn violations(status: &tonic::Status) -> Vec<String> {
    assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
    let bad_request = status
        .get_details_bad_request()
        .expect("BadRequest details");
    bad_request
        .field_violations
        .into_iter()
        .map(|v| v.field)
        .collect()
}

async fn create_then_get_returns_the_full_file(backend: Backend) {
    let mut app = spawn_app(backend).await;
    let mut input = customer("Wang Fang", pb::CustomerTier::A, pb::Region::Urban);
    input.key_account = true;
    input.important_dates = vec![pb::ImportantDate {
        kind: pb::ImportantDateKind::Birthday as i32,
        relation: pb::Relation::Child as i32,
        person_name: "Xiao Ming".into(),
        month: 2,
        day: 29,
        year: 2016,
        note: "likes kites".into(),
    }];
    input.consents = vec![pb::ChannelConsent {
        channel: pb::ContactChannel::Sms as i32,
        granted: true,
        update_time: None,
    }];
    input.needs = vec!["fibre at home".into()];
    input.lifetime_value_inputs = Some(pb::LifetimeValueInputs {
        currency_code: "CNY".into(),
        annual_revenue_minor: 120_000,
        annual_service_cost_minor: 20_000,
        acquisition_cost_minor: 50_000,
        expected_years: 3,
        discount_rate: 0.10,
    });
    let created = create(&mut app, input).await;
    assert!(created.id.starts_with("cus_"));
    assert_eq!(created.lifetime_value_minor, 198_685);
    assert_eq!(created.state, pb::CustomerState::Active as i32);
    assert_eq!(created.tier_history.len(), 1);
    assert!(created.consents[0].update_time.is_some());
    let got = app
        .client
        .get_customer(pb::GetCustomerRequest {
            customer_id: created.id.clone(),
        })
        .await
        .unwrap()
        .into_inner()
        .customer
        .unwrap();
    assert_eq!(got, created);
}

async fn create_answers_invalid_argument_naming_every_bad_field(backend: Backend) {
    let mut app = spawn_app(backend).await;
    let mut bad = customer(" ", pb::CustomerTier::Unspecified, pb::Region::Rural);
    bad.contacts[0].value = "not a phone".into();
    bad.important_dates = vec![pb::ImportantDate {
        kind: pb::ImportantDateKind::Anniversary as i32,
        relation: pb::Relation::Spouse as i32,
        month: 4,
        day: 31,
        ..Default::default()
    }];
    let status = app
        .client
        .create_customer(pb::CreateCustomerRequest {
            customer: Some(bad.clone()),
            request_id: String::new(),
            actor_id: String::new(),
        })
        .await
        .unwrap_err();
    assert_eq!(violations(&status), ["request_id", "customer.tier"]);
    bad.tier = pb::CustomerTier::C as i32;
    let status = app
        .client
        .create_customer(pb::CreateCustomerRequest {
            customer: Some(bad),
            request_id: "r1".into(),
            actor_id: String::new(),
        })
        .await
        .unwrap_err();
    assert_eq!(
        violations(&status),
        [
            "customer.display_name",
            "customer.contacts[0].value",
            "customer.important_dates[0].day"
        ]
    );
}

async fn a_repeated_request_id_returns_the_first_customer_and_creates_nothing(backend: Backend) {
    let mut app = spawn_app(backend).await;
    let request = pb::CreateCustomerRequest {
        customer: Some(customer("Zhao Lei", pb::CustomerTier::B, pb::Region::Rural)),
        request_id: "retry-me".into(),
        actor_id: String::new(),
    };
    let first = app
        .client
        .create_customer(request.clone())
        .await
        .unwrap()
        .into_inner()
        .customer
        .unwrap();
    let second = app
        .client
        .create_customer(request.clone())
        .await
        .unwrap()
        .into_inner()
        .customer
        .unwrap();
    assert_eq!(first, second);
    // The same key with another request is not a retry: it is refused, and creates nothing.
    let mut other = request;
    other.customer.as_mut().unwrap().display_name = "Someone Else".into();
    let status = app.client.create_customer(other).await.unwrap_err();
    assert_eq!(status.code(), Code::AlreadyExists, "{status:?}");
    assert!(status.message().contains("retry-me"), "{status:?}");
    let list = app
        .client
        .list_customers(pb::ListCustomersRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert_eq!(list.customers.len(), 1);
}

async fn get_answers_not_found_for_an_unknown_id_and_invalid_argument_for_none(backend: Backend) {
    let mut app = spawn_app(backend).await;
    let status = app
        .client
        .get_customer(pb::GetCustomerRequest {
            customer_id: "cus_nope".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::NotFound);
    let status = app
        .client
        .get_customer(pb::GetCustomerRequest {
            customer_id: String::new(),
        })
        .await
        .unwrap_err();
    assert_eq!(violations(&status), ["customer_id"]);
}

async fn update_changes_only_masked_fields_and_a_stale_etag_is_aborted(backend: Backend) {
    let mut app = spawn_app(backend).await;
    let created = create(
        &mut app,
        customer("Chen Jie", pb::CustomerTier::B, pb::Region::Urban),
    )
    .await;
    let mut change = created.clone();
    change.notes = "prefers calls after 18:00".into();
    change.display_name = "ignored because not masked".into();
    let updated = app
        .client
        .update_customer(pb::UpdateCustomerRequest {
            customer: Some(change.clone()),
            update_mask: Some(FieldMask {
                paths: vec!["notes".into()],
            }),
        })
        .await
        .unwrap()
        .into_inner()
        .customer
        .unwrap();
    assert_eq!(updated.notes, "prefers calls after 18:00");
    assert_eq!(updated.display_name, "Chen Jie");
    assert_ne!(updated.etag, created.etag);

    // The same etag again is stale now.
    let status = app
        .client
        .update_customer(pb::UpdateCustomerRequest {
            customer: Some(change),
            update_mask: Some(FieldMask {
                paths: vec!["notes".into()],
            }),
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::Aborted, "{status:?}");

    // Without an etag nothing is applied blindly: the etag is required.
    let mut blind = updated.clone();
    blind.etag = String::new();
    blind.notes = "overwritten without reading".into();
    let status = app
        .client
        .update_customer(pb::UpdateCustomerRequest {
            customer: Some(blind),
            update_mask: Some(FieldMask {
                paths: vec!["notes".into()],
            }),
        })
        .await
        .unwrap_err();
    assert_eq!(violations(&status), ["customer.etag"]);
    let current = app
        .client
        .get_customer(pb::GetCustomerRequest {
            customer_id: updated.id.clone(),
        })
        .await
        .unwrap()
        .into_inner()
        .customer
        .unwrap();
    assert_eq!(current.notes, "prefers calls after 18:00");

    let mut tier_change = updated;
    tier_change.tier = pb::CustomerTier::A as i32;
    let status = app
        .client
        .update_customer(pb::UpdateCustomerRequest {
            customer: Some(tier_change),
            update_mask: Some(FieldMask {
                paths: vec!["tier".into()],
            }),
        })
        .await
        .unwrap_err();
    assert_eq!(violations(&status), ["update_mask"]);
}

async fn a_tier_change_is_kept_in_the_history_with_who_and_why(backend: Backend) {
    let mut app = spawn_app(backend).await;
    let created = create(
        &mut app,
        customer("Liu Yang", pb::CustomerTier::C, pb::Region::Rural),
    )
    .await;
    let changed = app
        .client
        .change_customer_tier(pb::ChangeCustomerTierRequest {
            customer_id: created.id.clone(),
            tier: pb::CustomerTier::A as i32,
            reason: "signed an enterprise contract".into(),
            changed_by: "supervisor-2".into(),
            etag: created.etag.clone(),
        })
        .await
        .unwrap()
        .into_inner()
        .customer
        .unwrap();
    assert_eq!(changed.tier, pb::CustomerTier::A as i32);
    let last = changed.tier_history.last().unwrap();
    assert_eq!(
        (last.from_tier, last.to_tier),
        (pb::CustomerTier::C as i32, pb::CustomerTier::A as i32)
    );
    assert_eq!(last.changed_by, "supervisor-2");
    assert_eq!(last.reason, "signed an enterprise contract");

    let status = app
        .client
        .change_customer_tier(pb::ChangeCustomerTierRequest {
            customer_id: created.id,
            tier: pb::CustomerTier::A as i32,
            reason: "again".into(),
            changed_by: "supervisor-2".into(),
            etag: changed.etag,
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::FailedPrecondition, "{status:?}");
}

async fn delete_archives_the_file_and_archived_files_can_be_listed_and_restored(backend: Backend) {
    let mut app = spawn_app(backend).await;
    let keep = create(
        &mut app,
        customer("Active One", pb::CustomerTier::B, pb::Region::Urban),
    )
    .await;
    let gone = create(
        &mut app,
        customer("Archived One", pb::CustomerTier::B, pb::Region::Urban),
    )
    .await;
    let archived = app
        .client
        .delete_customer(pb::DeleteCustomerRequest {
            customer_id: gone.id.clone(),
            etag: gone.etag.clone(),
        })
        .await
        .unwrap()
        .into_inner()
        .customer
        .unwrap();
    assert_eq!(archived.state, pb::CustomerState::Archived as i32);
    assert!(archived.delete_time.is_some());

    let ids =
        |r: pb::ListCustomersResponse| r.customers.into_iter().map(|c| c.id).collect::<Vec<_>>();
    let active = app
        .client
        .list_customers(pb::ListCustomersRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert_eq!(ids(active), vec![keep.id.clone()]);
    let only_archived = app
        .client
        .list_customers(pb::ListCustomersRequest {
            archive_filter: pb::ArchiveFilter::Archived as i32,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(ids(only_archived), vec![gone.id.clone()]);

    let status = app
        .client
        .delete_customer(pb::DeleteCustomerRequest {
            customer_id: gone.id.clone(),
            etag: String::new(),
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::FailedPrecondition);
    app.client
        .undelete_customer(pb::UndeleteCustomerRequest {
            customer_id: gone.id.clone(),
            etag: archived.etag,
        })
        .await
        .unwrap();
    let all = app
        .client
        .list_customers(pb::ListCustomersRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert_eq!(ids(all), [keep.id, gone.id]);
}

async fn list_filters_by_tier_region_key_account_owner_and_text(backend: Backend) {
    let mut app = spawn_app(backend).await;
    let mut vip = customer("Zhou Min", pb::CustomerTier::A, pb::Region::Urban);
    vip.key_account = true;
    vip.owner_agent_id = "agent-9".into();
    vip.contacts[0].value = "010-6552-0001".into();
    let vip = create(&mut app, vip).await;
    let rural = create(
        &mut app,
        customer("Sun Hua", pb::CustomerTier::C, pb::Region::Rural),
    )
    .await;
    let _other = create(
        &mut app,
        customer("Zhou Tao_", pb::CustomerTier::B, pb::Region::Urban),
    )
    .await;

    let list = |request: pb::ListCustomersRequest| {
        let mut client = app.client.clone();
        async move {
            client
                .list_customers(request)
                .await
                .unwrap()
                .into_inner()
                .customers
                .into_iter()
                .map(|c| c.id)
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(
        list(pb::ListCustomersRequest {
            tier: pb::CustomerTier::A as i32,
            ..Default::default()
        })
        .await,
        vec![vip.id.clone()]
    );
    assert_eq!(
        list(pb::ListCustomersRequest {
            region: pb::Region::Rural as i32,
            ..Default::default()
        })
        .await,
        vec![rural.id.clone()]
    );
    assert_eq!(
        list(pb::ListCustomersRequest {
            key_account: Some(true),
            ..Default::default()
        })
        .await,
        vec![vip.id.clone()]
    );
    assert_eq!(
        list(pb::ListCustomersRequest {
            owner_agent_id: "agent-9".into(),
            ..Default::default()
        })
        .await,
        vec![vip.id.clone()]
    );
    assert_eq!(
        list(pb::ListCustomersRequest {
            query: "zhou m".into(),
            ..Default::default()
        })
        .await,
        vec![vip.id.clone()]
    );
    assert_eq!(
        list(pb::ListCustomersRequest {
            query: "6552 0001".into(),
            ..Default::default()
        })
        .await,
        vec![vip.id.clone()]
    );
    // LIKE wildcards in the query are taken literally.
    assert_eq!(
        list(pb::ListCustomersRequest {
            query: "%".into(),
            ..Default::default()
        })
        .await,
        Vec::<String>::new()
    );
    assert_eq!(
        list(pb::ListCustomersRequest {
            query: "_".into(),
            ..Default::default()
        })
        .await
        .len(),
        1
    );
}

async fn pages_neither_skip_nor_repeat_customers_created_meanwhile(backend: Backend) {
    let mut app = spawn_app(backend).await;
    let mut before = HashSet::new();
    for i in 0..7 {
        before.insert(
            create(
                &mut app,
                customer(&format!("C{i}"), pb::CustomerTier::B, pb::Region::Urban),
            )
            .await
            .id,
        );
    }
    let mut seen = Vec::new();
    let mut token = String::new();
    let mut round = 0;
    loop {
        let page = app
            .client
            .list_customers(pb::ListCustomersRequest {
                page_size: 3,
                page_token: token.clone(),
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner();
        seen.extend(page.customers.into_iter().map(|c| c.id));
        // Others keep creating customers while we page.
        create(
            &mut app,
            customer(
                &format!("New{round}"),
                pb::CustomerTier::B,
                pb::Region::Urban,
            ),
        )
        .await;
        round += 1;
        if page.next_page_token.is_empty() {
            break;
        }
        token = page.next_page_token;
        assert!(round < 20, "paging does not end");
    }
    let unique: HashSet<_> = seen.iter().cloned().collect();
    assert_eq!(
        unique.len(),
        seen.len(),
        "a customer was repeated: {seen:?}"
    );
    assert!(before.is_subset(&unique), "a customer was skipped");
}

async fn a_page_token_is_refused_with_other_filters_or_when_forged(backend: Backend) {
    let mut app = spawn_app(backend).await;
    for i in 0..3 {
        create(
            &mut app,
            customer(&format!("P{i}"), pb::CustomerTier::B, pb::Region::Urban),
        )
        .await;
    }
    let page = app
        .client
        .list_customers(pb::ListCustomersRequest {
            page_size: 1,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let token = page.next_page_token;
    let status = app
        .client
        .list_customers(pb::ListCustomersRequest {
            page_size: 1,
            page_token: token.clone(),
            tier: pb::CustomerTier::A as i32,
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(violations(&status), ["page_token"]);
    let status = app
        .client
        .list_customers(pb::ListCustomersRequest {
            page_token: "garbage".into(),
            page_size: 9999,
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(violations(&status), ["page_size", "page_token"]);
    // A token with one character changed (a forged position) is refused too.
    let mut forged: Vec<char> = token.chars().collect();
    let i = forged.len() / 2;
    forged[i] = if forged[i] == 'A' { 'B' } else { 'A' };
    let status = app
        .client
        .list_customers(pb::ListCustomersRequest {
            page_size: 1,
            page_token: forged.into_iter().collect(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(violations(&status), ["page_token"]);
}

async fn health_reports_serving_for_the_service(backend: Backend) {
    let app = spawn_app(backend).await;
    let channel = Channel::from_shared(format!("http://{}", app.addr))
        .unwrap()
        .connect()
        .await
        .unwrap();
    let mut health = tonic_health::pb::health_client::HealthClient::new(channel);
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let status = health
            .check(tonic_health::pb::HealthCheckRequest {
                service: "csops.customers.v1.CustomersService".into(),
            })
            .await
            .map(|r| r.into_inner().status);
        if status.as_ref().ok()
            == Some(&(tonic_health::pb::health_check_response::ServingStatus::Serving as i32))
        {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "never SERVING: {status:?}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

async fn churn_signals_raise_the_risk_once_per_signal_and_can_be_listed(backend: Backend) {
    let mut app = spawn_app(backend).await;
    let quiet = create(
        &mut app,
        customer("Quiet One", pb::CustomerTier::A, pb::Region::Urban),
    )
    .await;
    let _calm = create(
        &mut app,
        customer("Calm One", pb::CustomerTier::A, pb::Region::Urban),
    )
    .await;
    let request = pb::RecordChurnSignalRequest {
        customer_id: quiet.id.clone(),
        signal: Some(pb::ChurnSignal {
            signal_id: "fb-sig-1".into(),
            kind: pb::ChurnSignalKind::Silence as i32,
            level: pb::ChurnRiskLevel::High as i32,
            evidence: "no contact for 95 days".into(),
            source: "feedback".into(),
            observe_time: None,
        }),
    };
    let first = app
        .client
        .record_churn_signal(request.clone())
        .await
        .unwrap()
        .into_inner()
        .customer
        .unwrap();
    let risk = first.churn_risk.clone().unwrap();
    assert_eq!(risk.level, pb::ChurnRiskLevel::High as i32);
    assert_eq!(risk.recent_signals.len(), 1);
    // Delivered twice, counted once.
    let again = app
        .client
        .record_churn_signal(request)
        .await
        .unwrap()
        .into_inner()
        .customer
        .unwrap();
    assert_eq!(again, first);

    let at_risk = app
        .client
        .list_customers(pb::ListCustomersRequest {
            min_churn_risk: pb::ChurnRiskLevel::Medium as i32,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        at_risk
            .customers
            .iter()
            .map(|c| c.id.clone())
            .collect::<Vec<_>>(),
        vec![quiet.id.clone()]
    );

    let status = app
        .client
        .record_churn_signal(pb::RecordChurnSignalRequest {
            customer_id: quiet.id,
            signal: Some(pb::ChurnSignal {
                signal_id: String::new(),
                ..Default::default()
            }),
        })
        .await
        .unwrap_err();
    assert_eq!(violations(&status), ["signal.kind", "signal.level"]);
}

/// The bytes a status carries back: its message and its details.
fn answer_size(status: &tonic::Status) -> usize {
    status.message().len() + status.details().len()
}

/// Asserts INVALID_ARGUMENT naming exactly `fields`, in a short answer that does not echo the
/// input.
fn refused_briefly(status: &tonic::Status, fields: &[&str]) {
    assert_eq!(violations(status), fields, "{}", status.message());
    assert!(
        answer_size(status) < 2048,
        "{} bytes: {}",
        answer_size(status),
        status.message()
    );
}

async fn oversize_ids_lists_masks_and_etags_are_refused_naming_the_field_briefly(backend: Backend) {
    let mut app = spawn_app(backend).await;
    let created = create(
        &mut app,
        customer("Zhao Lei", pb::CustomerTier::B, pb::Region::Urban),
    )
    .await;
    let mib = "x".repeat(1 << 20);

    let status = app
        .client
        .get_customer(pb::GetCustomerRequest {
            customer_id: mib.clone(),
        })
        .await
        .unwrap_err();
    refused_briefly(&status, &["customer_id"]);

    let mut input = customer("Zhao Lei", pb::CustomerTier::B, pb::Region::Urban);
    input.needs = vec!["a need".into(); 100_000];
    let status = app
        .client
        .create_customer(pb::CreateCustomerRequest {
            customer: Some(input),
            request_id: uuid::Uuid::new_v4().to_string(),
            actor_id: mib.clone(),
        })
        .await
        .unwrap_err();
    refused_briefly(&status, &["customer.needs", "actor_id"]);

    let status = app
        .client
        .update_customer(pb::UpdateCustomerRequest {
            customer: Some(pb::Customer {
                id: created.id.clone(),
                etag: created.etag.clone(),
                notes: "n".into(),
                ..Default::default()
            }),
            update_mask: Some(FieldMask {
                paths: vec!["notes".into(); 50_000],
            }),
        })
        .await
        .unwrap_err();
    refused_briefly(&status, &["update_mask.paths"]);

    let status = app
        .client
        .change_customer_tier(pb::ChangeCustomerTierRequest {
            customer_id: created.id.clone(),
            tier: pb::CustomerTier::A as i32,
            reason: "grew".into(),
            changed_by: mib.clone(),
            etag: mib.clone(),
        })
        .await
        .unwrap_err();
    refused_briefly(&status, &["changed_by", "etag"]);

    let status = app
        .client
        .delete_customer(pb::DeleteCustomerRequest {
            customer_id: created.id.clone(),
            etag: mib.clone(),
        })
        .await
        .unwrap_err();
    refused_briefly(&status, &["etag"]);

    let status = app
        .client
        .list_customers(pb::ListCustomersRequest {
            page_token: mib.clone(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    refused_briefly(&status, &["page_token"]);

    let status = app
        .client
        .record_churn_signal(pb::RecordChurnSignalRequest {
            customer_id: created.id.clone(),
            signal: Some(pb::ChurnSignal {
                signal_id: "sig-1".into(),
                kind: pb::ChurnSignalKind::Silence as i32,
                level: pb::ChurnRiskLevel::Low as i32,
                source: mib,
                ..Default::default()
            }),
        })
        .await
        .unwrap_err();
    refused_briefly(&status, &["signal.source"]);

    // Nothing refused was stored.
    let stored = app
        .client
        .get_customer(pb::GetCustomerRequest {
            customer_id: created.id.clone(),
        })
        .await
        .unwrap()
        .into_inner()
        .customer
        .unwrap();
    assert_eq!(stored.etag, created.etag);
}

csops_testkit::on_both_backends!(
    the_churn_window_and_signal_count_follow_the_configuration,
    create_then_get_returns_the_full_file,
    create_answers_invalid_argument_naming_every_bad_field,
    a_repeated_request_id_returns_the_first_customer_and_creates_nothing,
    get_answers_not_found_for_an_unknown_id_and_invalid_argument_for_none,
    update_changes_only_masked_fields_and_a_stale_etag_is_aborted,
    a_tier_change_is_kept_in_the_history_with_who_and_why,
    delete_archives_the_file_and_archived_files_can_be_listed_and_restored,
    list_filters_by_tier_region_key_account_owner_and_text,
    pages_neither_skip_nor_repeat_customers_created_meanwhile,
    a_page_token_is_refused_with_other_filters_or_when_forged,
    health_reports_serving_for_the_service,
    churn_signals_raise_the_risk_once_per_signal_and_can_be_listed,
    oversize_ids_lists_masks_and_etags_are_refused_naming_the_field_briefly,
);

/// Replicas starting at once against one empty PostgreSQL database all migrate and serve.
#[tokio::test]
async fn replicas_starting_together_on_postgres_migrate_once_and_all_serve() {
    let url = csops_testkit::postgres::fresh_database().await;
    let settings = Settings::for_tests(&url);
    let builds = (0..4).map(|_| {
        let settings = settings.clone();
        tokio::spawn(async move { App::build(&settings, Metrics::new()).await })
    });
    let mut stops = Vec::new();
    for build in builds {
        let app = build.await.unwrap().expect("every replica starts");
        let addr = app.local_addr();
        let (stop, stopped) = oneshot::channel::<()>();
        tokio::spawn(app.run_until_stopped(async move {
            let _ = stopped.await;
        }));
        let mut client = CustomersServiceClient::connect(format!("http://{addr}"))
            .await
            .unwrap();
        client
            .list_customers(pb::ListCustomersRequest::default())
            .await
            .unwrap();
        stops.push(stop);
    }
}

/// Health answers NOT_SERVING while the database is gone, so Kubernetes stops routing to it.
#[tokio::test]
async fn health_is_not_serving_while_the_postgres_database_is_unreachable() {
    use sqlx::{Connection, Executor};
    let url = csops_testkit::postgres::fresh_database().await;
    let app = App::build(&Settings::for_tests(&url), Metrics::new())
        .await
        .unwrap();
    let addr = app.local_addr();
    let (_stop, stopped) = oneshot::channel::<()>();
    tokio::spawn(app.run_until_stopped(async move {
        let _ = stopped.await;
    }));
    let channel = Channel::from_shared(format!("http://{addr}"))
        .unwrap()
        .connect()
        .await
        .unwrap();
    let mut health = tonic_health::pb::health_client::HealthClient::new(channel);
    let serving = tonic_health::pb::health_check_response::ServingStatus::Serving as i32;
    let not_serving = tonic_health::pb::health_check_response::ServingStatus::NotServing as i32;
    let wait_for = |want: i32| {
        let mut health = health.clone();
        async move {
            let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(15);
            loop {
                let got = health
                    .check(tonic_health::pb::HealthCheckRequest {
                        service: "csops.customers.v1.CustomersService".into(),
                    })
                    .await
                    .map(|r| r.into_inner().status);
                if got.as_ref().ok() == Some(&want) {
                    return;
                }
                assert!(
                    tokio::time::Instant::now() < deadline,
                    "health stayed {got:?}, wanted {want}"
                );
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            }
        }
    };
    wait_for(serving).await;
    let name = url.rsplit('/').next().unwrap().to_owned();
    let admin = url.replace(&format!("/{name}"), "/postgres");
    let mut conn = sqlx::PgConnection::connect(&admin).await.unwrap();
    conn.execute(format!("DROP DATABASE {name} WITH (FORCE)").as_str())
        .await
        .unwrap();
    wait_for(not_serving).await;
    // Liveness ("") stays SERVING: a database outage must not make Kubernetes restart pods.
    let liveness = health
        .check(tonic_health::pb::HealthCheckRequest::default())
        .await
        .unwrap()
        .into_inner()
        .status;
    assert_eq!(liveness, serving);
    let status = app_call_fails(addr).await;
    assert!(
        matches!(status, Code::Unavailable | Code::Internal),
        "{status:?}"
    );
    let _ = health
        .check(tonic_health::pb::HealthCheckRequest::default())
        .await;
}

async fn app_call_fails(addr: std::net::SocketAddr) -> Code {
    let mut client = CustomersServiceClient::connect(format!("http://{addr}"))
        .await
        .unwrap();
    client
        .list_customers(pb::ListCustomersRequest::default())
        .await
        .unwrap_err()
        .code()
}

/// The churn window and the number of signals kept are a deployment's policy: with a 30-day
/// window, a HIGH signal 60 days before the newest one is kept but no longer counts, and the
/// file keeps the 3 newest signals only.
async fn the_churn_window_and_signal_count_follow_the_configuration(backend: Backend) {
    let mut app = spawn_app_with(
        backend,
        csops_customers::Config {
            churn_signal_window: std::time::Duration::from_secs(30 * 24 * 3600),
            churn_recent_signals: 3,
            ..csops_customers::Config::default()
        },
    )
    .await;
    let c = create(
        &mut app,
        customer("Windowed One", pb::CustomerTier::B, pb::Region::Urban),
    )
    .await;
    let now = chrono::Utc::now();
    let mut last: Option<pb::Customer> = None;
    for (id, level, days_ago) in [
        ("old-high", pb::ChurnRiskLevel::High, 60),
        ("mid-low", pb::ChurnRiskLevel::Low, 10),
        ("new-low", pb::ChurnRiskLevel::Low, 0),
        ("newest-low", pb::ChurnRiskLevel::Low, -0),
    ] {
        if id == "newest-low" {
            let risk = last.clone().unwrap().churn_risk.unwrap();
            assert_eq!(
                risk.level,
                pb::ChurnRiskLevel::Low as i32,
                "outside the window"
            );
            let kept: Vec<&str> = risk
                .recent_signals
                .iter()
                .map(|s| s.signal_id.as_str())
                .collect();
            assert_eq!(kept, ["new-low", "mid-low", "old-high"]);
        }
        let at = now - chrono::TimeDelta::days(days_ago);
        last = app
            .client
            .record_churn_signal(pb::RecordChurnSignalRequest {
                customer_id: c.id.clone(),
                signal: Some(pb::ChurnSignal {
                    signal_id: id.into(),
                    kind: pb::ChurnSignalKind::Silence as i32,
                    level: level as i32,
                    evidence: String::new(),
                    source: "feedback".into(),
                    observe_time: Some(prost_types::Timestamp {
                        seconds: at.timestamp(),
                        nanos: 0,
                    }),
                }),
            })
            .await
            .unwrap()
            .into_inner()
            .customer;
    }
    let risk = last.unwrap().churn_risk.unwrap();
    assert_eq!(risk.level, pb::ChurnRiskLevel::Low as i32);
    let kept: Vec<&str> = risk
        .recent_signals
        .iter()
        .map(|s| s.signal_id.as_str())
        .collect();
    assert_eq!(kept.len(), 3, "{kept:?}");
    assert!(!kept.contains(&"old-high"), "{kept:?}");
}
