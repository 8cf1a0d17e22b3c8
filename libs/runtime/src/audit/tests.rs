use std::collections::BTreeSet;

use csops_proto::audit::v1 as pb;
use csops_proto::audit::v1::audit_service_server::AuditService as _;
use sqlx::AnyPool;
use tonic::{Code, Request};

use super::*;
use crate::auth::Principal;
use crate::paging::PageTokens;

fn agent(subject: &str) -> Call {
    Call {
        action: Arc::from("UpdateCustomer"),
        on_behalf_of: OnBehalfOf::Caller(Principal {
            subject: subject.to_owned(),
            roles: BTreeSet::from([Role::Agent]),
            team: None,
        }),
    }
}

/// Writes one entry for `id` in a transaction, committed or not.
async fn change(pool: &AnyPool, id: &str, at: i64, commit: bool) {
    let mut tx = pool.begin().await.unwrap();
    record(&mut tx, "customer", id, at).await.unwrap();
    if commit {
        tx.commit().await.unwrap();
    } else {
        tx.rollback().await.unwrap();
    }
}

async fn history(
    api: &AuditApi,
    id: &str,
    size: i32,
    token: &str,
) -> pb::ListRecordHistoryResponse {
    api.list_record_history(Request::new(pb::ListRecordHistoryRequest {
        record_id: id.to_owned(),
        page_size: size,
        page_token: token.to_owned(),
    }))
    .await
    .unwrap()
    .into_inner()
}

#[tokio::test]
async fn a_committed_change_is_recorded_with_its_call_and_a_rolled_back_one_is_not() {
    for (backend, pool, _dir) in crate::db::tests::both().await {
        let api = AuditApi::new(pool.clone(), PageTokens::new(b"test secret"));
        auth::in_call(agent("agent-7"), change(&pool, "cus_1", 1_000, true)).await;
        auth::in_call(agent("agent-8"), change(&pool, "cus_1", 2_000, false)).await;
        as_job("sla-watcher", change(&pool, "cus_1", 3_000, true)).await;
        let anonymous = Call {
            action: Arc::from("DeleteCustomer"),
            on_behalf_of: OnBehalfOf::Anonymous,
        };
        auth::in_call(anonymous, change(&pool, "cus_1", 4_000, true)).await;
        auth::in_call(agent("agent-7"), change(&pool, "cus_2", 5_000, true)).await;

        let page = history(&api, "cus_1", 0, "").await;
        let seen: Vec<_> = page
            .entries
            .iter()
            .map(|e| {
                (
                    e.record_kind.as_str(),
                    e.record_id.as_str(),
                    e.action.as_str(),
                    e.actor_id.as_str(),
                    e.actor_role.as_str(),
                    e.create_time.unwrap().nanos / 1_000,
                )
            })
            .collect();
        assert_eq!(
            seen,
            [
                (
                    "customer",
                    "cus_1",
                    "UpdateCustomer",
                    "agent-7",
                    "agent",
                    1_000
                ),
                (
                    "customer",
                    "cus_1",
                    "sla-watcher",
                    "system",
                    "system",
                    3_000
                ),
                (
                    "customer",
                    "cus_1",
                    "DeleteCustomer",
                    "anonymous",
                    "",
                    4_000
                ),
            ],
            "{backend}"
        );
        assert!(page.next_page_token.is_empty(), "{backend}");
        assert!(page.entries.iter().all(|e| e.id.starts_with("aud_")));
        assert!(history(&api, "cus_unknown", 0, "").await.entries.is_empty());
    }
}

#[tokio::test]
async fn a_batch_is_recorded_in_as_many_statements_as_it_needs_and_pages_do_not_skip() {
    for (backend, pool, _dir) in crate::db::tests::both().await {
        let api = AuditApi::new(pool.clone(), PageTokens::new(b"test secret"));
        let ids: Vec<String> = (0..300).map(|i| format!("cmp_{i:03}")).collect();
        let refs: Vec<&str> = ids.iter().map(String::as_str).collect();
        // The same record many times at the same instant: the id orders them.
        let same = vec!["cmp_hot"; 250];
        as_job("sla-watcher", async {
            let mut tx = pool.begin().await.unwrap();
            record_many(&mut tx, "complaint", &refs, 7_000)
                .await
                .unwrap();
            record_many(&mut tx, "complaint", &same, 7_000)
                .await
                .unwrap();
            tx.commit().await.unwrap();
        })
        .await;
        let count: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM audit_log")
            .fetch_one(&pool)
            .await
            .unwrap();
        assert_eq!(count, 550, "{backend}");

        let mut token = String::new();
        let mut seen = Vec::new();
        loop {
            let page = history(&api, "cmp_hot", 7, &token).await;
            assert!(page.entries.len() <= 7);
            seen.extend(page.entries.into_iter().map(|e| e.id));
            if page.next_page_token.is_empty() {
                break;
            }
            token = page.next_page_token;
        }
        let distinct: BTreeSet<_> = seen.iter().collect();
        assert_eq!((seen.len(), distinct.len()), (250, 250), "{backend}");
    }
}

#[tokio::test]
async fn bad_requests_name_their_field() {
    let dir = tempfile::tempdir().unwrap();
    let pool = crate::db::tests::sqlite(&dir).await;
    let api = AuditApi::new(pool.clone(), PageTokens::new(b"test secret"));
    for _ in 0..3 {
        auth::in_call(agent("agent-7"), change(&pool, "cus_1", 1_000, true)).await;
    }
    let token = history(&api, "cus_1", 1, "").await.next_page_token;
    assert!(!token.is_empty());
    let cases = [
        ("", 0, String::new(), "record_id"),
        ("   ", 0, String::new(), "record_id"),
        (&*"x".repeat(101), 0, String::new(), "record_id"),
        ("cus_1", -1, String::new(), "page_size"),
        ("cus_1", 501, String::new(), "page_size"),
        ("cus_1", 0, "garbage".to_owned(), "page_token"),
        ("cus_1", 0, "t".repeat(1025), "page_token"),
        // A token of another record's listing.
        ("cus_2", 0, token, "page_token"),
    ];
    for (id, size, token, field) in cases {
        let status = api
            .list_record_history(Request::new(pb::ListRecordHistoryRequest {
                record_id: id.to_owned(),
                page_size: size,
                page_token: token,
            }))
            .await
            .unwrap_err();
        assert_eq!(status.code(), Code::InvalidArgument, "{id:?} {size}");
        assert!(
            status.message().contains(field),
            "{field}: {}",
            status.message()
        );
    }
}
