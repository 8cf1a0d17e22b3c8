//! The read limit answers each call with the rows of its SELECT, going round the keys, on a
//! real PostgreSQL.
#![allow(clippy::unwrap_used, unreachable_pub)]

use csops_load::echo::pb::echo_service_client::EchoServiceClient;
use csops_load::pk::{PkSelect, Select};
use csops_load::scenarios::echo_request;

async fn table() -> String {
    let url = csops_testkit::postgres::fresh_database().await;
    let pool = sqlx::PgPool::connect(&url).await.unwrap();
    for statement in [
        "CREATE TABLE files (id TEXT PRIMARY KEY, owner TEXT NOT NULL, version BIGINT NOT NULL)",
        "INSERT INTO files VALUES ('f1', 'ann', 1), ('f2', 'bob', 2), ('f3', 'ann', 3)",
    ] {
        sqlx::query(statement).execute(&pool).await.unwrap();
    }
    url
}

fn row(id: &str, owner: &str, version: i64) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(id.as_bytes());
    out.extend_from_slice(owner.as_bytes());
    out.extend_from_slice(&version.to_le_bytes());
    out
}

/// Serves `select` and returns the payloads of `calls` echo calls.
async fn answers(select: Select, calls: usize) -> Vec<Vec<u8>> {
    let server = PkSelect::connect(&select).await.unwrap();
    let (listener, addr) = csops_load::echo::bind("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let serving = tokio::spawn(csops_load::echo::serve(listener, server, async move {
        let _ = stopped.await;
    }));
    let mut client = EchoServiceClient::connect(format!("http://{addr}"))
        .await
        .unwrap();
    let mut out = Vec::new();
    for _ in 0..calls {
        let answer = client.echo(echo_request(0)).await.unwrap().into_inner();
        out.push(answer.payload);
    }
    let _ = stop.send(());
    serving.await.unwrap().unwrap();
    out
}

#[tokio::test]
async fn a_primary_key_read_answers_with_the_row_of_each_key_in_turn() {
    let url = table().await;
    let select = Select {
        database_url: url,
        sql: "SELECT id, owner, version FROM files WHERE id = $1".into(),
        keys_sql: "SELECT id FROM files ORDER BY id".into(),
        pool_size: 2,
    };
    let got = answers(select, 4).await;
    assert_eq!(
        got,
        vec![
            row("f1", "ann", 1),
            row("f2", "bob", 2),
            row("f3", "ann", 3),
            row("f1", "ann", 1)
        ]
    );
}

#[tokio::test]
async fn a_list_read_answers_with_every_row_and_no_keys_is_an_error() {
    let url = table().await;
    let list = Select {
        database_url: url.clone(),
        sql: "SELECT id, owner, version FROM files WHERE owner = $1 ORDER BY id LIMIT 20".into(),
        keys_sql: "SELECT 'ann'".into(),
        pool_size: 2,
    };
    let got = answers(list, 1).await;
    assert_eq!(
        got,
        vec![[row("f1", "ann", 1), row("f3", "ann", 3)].concat()]
    );

    let none = Select {
        database_url: url,
        sql: "SELECT id FROM files WHERE id = $1".into(),
        keys_sql: "SELECT id FROM files WHERE false".into(),
        pool_size: 1,
    };
    let error = PkSelect::connect(&none).await.unwrap_err();
    assert!(error.to_string().contains("no keys"), "{error}");
}
