//! WatchSlaEvents streams are a bounded resource: beyond `--max-sla-streams` a new stream is
//! refused with RESOURCE_EXHAUSTED, and a stream its client closes gives its place back.
#![allow(clippy::unwrap_used, unreachable_pub)]

use std::time::Duration;

mod common;

use common::start_complaints;
use csops_complaints::Config;
use csops_proto::complaints::v1 as pb;
use csops_proto::complaints::v1::complaints_service_client::ComplaintsServiceClient;
use csops_testkit::Backend;
use tonic::Code;

#[tokio::test]
async fn streams_beyond_the_limit_are_refused_and_a_closed_one_gives_its_place_back() {
    let dir = tempfile::tempdir().unwrap();
    let db = Backend::Sqlite.database_url(dir.path(), "complaints").await;
    let config = Config {
        max_sla_streams: 2,
        ..Config::for_tests("")
    };
    let running = start_complaints(&db, config).await;
    let mut client = ComplaintsServiceClient::connect(format!("http://{}", running.addr))
        .await
        .unwrap();
    let open = |client: &mut ComplaintsServiceClient<_>| {
        let mut client = client.clone();
        async move {
            client
                .watch_sla_events(pb::WatchSlaEventsRequest::default())
                .await
                .map(tonic::Response::into_inner)
        }
    };
    let first = open(&mut client).await.unwrap();
    let _second = open(&mut client).await.unwrap();
    let refused = open(&mut client).await.unwrap_err();
    assert_eq!(refused.code(), Code::ResourceExhausted, "{refused:?}");
    assert!(
        refused.message().contains("--max-sla-streams"),
        "{refused:?}"
    );

    // The client closes one: its place comes back once the server sees it gone.
    drop(first);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        match open(&mut client).await {
            Ok(_third) => break,
            Err(status) if status.code() == Code::ResourceExhausted => {
                assert!(
                    tokio::time::Instant::now() < deadline,
                    "the closed stream's place never came back"
                );
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            Err(status) => panic!("{status:?}"),
        }
    }
    running.stop().await;
}
