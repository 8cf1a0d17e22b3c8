//! Load for the customers fault tests (PostgreSQL crash, SIGTERM): callers creating
//! customers without pause, each call with its own request_id, and the check that re-sending
//! every request afterwards creates each customer exactly once.
#![allow(dead_code, unreachable_pub)]

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use csops_proto::customers::v1 as pb;
use csops_proto::customers::v1::customers_service_client::CustomersServiceClient;
use tokio::task::JoinHandle;
use tonic::transport::Channel;
use tonic::Code;

/// What one create call answered: the customer's id, or the status code.
pub type Outcome = Result<String, Code>;

/// The create request with retry key `request_id`.
pub fn request(request_id: &str) -> pb::CreateCustomerRequest {
    pb::CreateCustomerRequest {
        customer: Some(pb::Customer {
            display_name: format!("Customer {request_id}"),
            tier: pb::CustomerTier::B as i32,
            region: pb::Region::Urban as i32,
            owner_agent_id: "agent-1".into(),
            ..Default::default()
        }),
        request_id: request_id.to_owned(),
        actor_id: "agent-1".into(),
    }
}

/// Creates the customer of `request_id`.
pub async fn create(client: &mut CustomersServiceClient<Channel>, request_id: &str) -> Outcome {
    client
        .create_customer(request(request_id))
        .await
        .map(|r| r.into_inner().customer.unwrap().id)
        .map_err(|status| match status.code() {
            // hyper's answer for a request still queued on a connection the server closed
            // after its GOAWAY: never sent, so never accepted (the kit's `retry_idempotent`
            // treats it so too). A CANCELLED the server sent stays CANCELLED: not clean.
            Code::Cancelled if std::error::Error::source(&status).is_some() => Code::Unavailable,
            code => code,
        })
}

/// `callers` tasks creating customers until stopped.
pub struct Creators {
    ok: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
    tasks: Vec<JoinHandle<Vec<(String, Outcome)>>>,
}

impl Creators {
    /// Starts the callers; each backs off 50 ms after a failed call instead of spinning.
    pub fn start(client: &CustomersServiceClient<Channel>, callers: usize) -> Self {
        let ok = Arc::new(AtomicUsize::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let tasks = (0..callers)
            .map(|worker| {
                let mut client = client.clone();
                let ok = ok.clone();
                let stop = stop.clone();
                tokio::spawn(async move {
                    let mut outcomes: Vec<(String, Outcome)> = Vec::new();
                    for n in 0.. {
                        if stop.load(Ordering::SeqCst) {
                            break;
                        }
                        let request_id = format!("w{worker}-{n}");
                        let outcome = create(&mut client, &request_id).await;
                        let failed = outcome.is_err();
                        if !failed {
                            ok.fetch_add(1, Ordering::SeqCst);
                        }
                        outcomes.push((request_id, outcome));
                        if failed {
                            tokio::time::sleep(Duration::from_millis(50)).await;
                        }
                    }
                    outcomes
                })
            })
            .collect();
        Self { ok, stop, tasks }
    }

    /// Creates answered OK so far.
    pub fn accepted(&self) -> usize {
        self.ok.load(Ordering::SeqCst)
    }

    /// Waits until `want` creates were answered OK, failing with `what` after `within`.
    pub async fn until_accepted(&self, want: usize, within: Duration, what: &str) {
        let deadline = tokio::time::Instant::now() + within;
        while self.accepted() < want {
            assert!(tokio::time::Instant::now() < deadline, "{what}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Stops the callers and returns every call's request_id and answer.
    pub async fn finish(self) -> Vec<(String, Outcome)> {
        self.stop.store(true, Ordering::SeqCst);
        let mut outcomes = Vec::new();
        for task in self.tasks {
            outcomes.extend(task.await.unwrap());
        }
        outcomes
    }
}

/// Sends every request again with its request_id: an accepted one must answer the same
/// customer, a failed one is created now (or answers the customer it did create before its
/// answer was lost).
pub async fn resend_all(
    client: &mut CustomersServiceClient<Channel>,
    outcomes: &[(String, Outcome)],
) {
    for (request_id, outcome) in outcomes {
        let again = create(client, request_id)
            .await
            .unwrap_or_else(|code| panic!("{request_id} re-sent: {code:?}"));
        if let Ok(first) = outcome {
            assert_eq!(&again, first, "{request_id} answered another customer");
        }
    }
}
