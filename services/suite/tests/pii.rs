//! No personal data in logs, traces or metric labels, in any service: the whole suite (the
//! real `csops-suite` binary) logs JSON at debug and exports every span to a real OTLP
//! receiver while a customer's name, phone number, e-mail and address pass through all four
//! services — in the customer file, a phone search, a complaint's description and notes, a
//! reply checked for forbidden phrases, a callback's notes and findings, a visit's reason, and
//! requests refused for the very values — then the logs, the spans and every `/metrics` page
//! are searched for them.
#![allow(clippy::unwrap_used, unreachable_pub)]

mod common;

use std::io::{Read as _, Write as _};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{free_offset, stop_with_sigint};
use csops_testkit::otlp::OtlpReceiver;
use csops_testkit::tools::grpcurl;

const NAME: &str = "Zhang Weiguo";
const PHONE: &str = "13912345678";
const PHONE_WRITTEN: &str = "+86 139 1234 5678";
const EMAIL: &str = "zhang.weiguo@example.cn";
const ADDRESS: &str = "88 Jianguo Road";

/// What must never appear: each value, and the parts a careless log would keep.
const SECRETS: [&str; 7] = [
    NAME,
    "Weiguo",
    PHONE,
    "1234 5678",
    EMAIL,
    "zhang.weiguo",
    ADDRESS,
];

/// GET http://127.0.0.1:PORT/metrics, the body.
fn scrape(port: u16) -> String {
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    write!(
        stream,
        "GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut page = String::new();
    stream.read_to_string(&mut page).unwrap();
    assert!(page.starts_with("HTTP/1.1 200"), "{page}");
    page
}

/// The calls, as an operator would make them with grpcurl (authentication off: what is
/// checked here is what the services write down, not who may call).
fn script(offset: u16) -> String {
    let [customers, complaints, visits, feedback] =
        [50051, 50052, 50053, 50054].map(|p: u16| format!("localhost:{}", p + offset));
    format!(
        r#"
id() {{ sed -n "s/.*\"id\": \"\($1_[0-9a-f]*\)\".*/\1/p" | head -n 1; }}
CUSTOMER=$(grpcurl -plaintext -d @ {customers} csops.customers.v1.CustomersService/CreateCustomer <<EOF | id cus
{{"request_id": "pii-1", "actor_id": "agent-7", "customer": {{"display_name": "{NAME}",
  "tier": "CUSTOMER_TIER_A", "region": "REGION_URBAN", "owner_agent_id": "agent-7",
  "contacts": [{{"kind": "CONTACT_KIND_PHONE", "value": "{PHONE_WRITTEN}", "primary": true}},
               {{"kind": "CONTACT_KIND_EMAIL", "value": "{EMAIL}"}},
               {{"kind": "CONTACT_KIND_ADDRESS", "value": "{ADDRESS}, Chaoyang District"}}],
  "consents": [{{"channel": "CONTACT_CHANNEL_PHONE_CALL", "granted": true}}]}}}}
EOF
)
test -n "$CUSTOMER"
grpcurl -plaintext -d '{{"query": "1234 5678"}}' {customers} csops.customers.v1.CustomersService/ListCustomers | grep -q "$CUSTOMER"
grpcurl -plaintext -d '{{"query": "{NAME}"}}' {customers} csops.customers.v1.CustomersService/ListCustomers | grep -q "$CUSTOMER"
# Refused for the very values: a phone number where a name goes is fine, but a name of 200
# characters and an e-mail that is not one are not; the answers must not be logged whole.
status=0
grpcurl -plaintext -d @ {customers} csops.customers.v1.CustomersService/CreateCustomer <<EOF || status=$?
{{"request_id": "pii-2", "customer": {{"display_name": "{NAME} {PHONE} $(printf 'x%.0s' $(seq 1 200))",
  "tier": "CUSTOMER_TIER_A", "region": "REGION_URBAN",
  "contacts": [{{"kind": "CONTACT_KIND_EMAIL", "value": "{NAME} at {PHONE}"}}]}}}}
EOF
test "$status" -eq 67
COMPLAINT=$(grpcurl -plaintext -d @ {complaints} csops.complaints.v1.ComplaintsService/CreateComplaint <<EOF | id cmp
{{"request_id": "pii-3", "actor": {{"id": "agent-7", "role": "ACTOR_ROLE_AGENT"}},
 "complaint": {{"customer_id": "$CUSTOMER", "title": "{NAME}: the router drops",
   "description": "Call {NAME} back on {PHONE_WRITTEN} or {EMAIL}; engineer to {ADDRESS}.",
   "nature": "COMPLAINT_NATURE_PRODUCT_QUALITY", "severity": "SEVERITY_MEDIUM",
   "channel": "CHANNEL_HOTLINE"}}}}
EOF
)
test -n "$COMPLAINT"
grpcurl -plaintext -d @ {complaints} csops.complaints.v1.ComplaintsService/AddNote <<EOF
{{"complaint_id": "$COMPLAINT", "actor": {{"id": "agent-7", "role": "ACTOR_ROLE_AGENT"}},
 "text": "{NAME} called from {PHONE}"}}
EOF
grpcurl -plaintext -d @ {complaints} csops.complaints.v1.ComplaintsService/CheckReply <<EOF
{{"complaint_id": "$COMPLAINT", "text": "Dear {NAME}, we will call you on {PHONE}. It is not our fault."}}
EOF
DUE=$(date -u -d '+2 days' +%Y-%m-%dT%H:%M:%SZ)
grpcurl -plaintext -d @ {visits} csops.visits.v1.VisitsService/RequestComplaintVisit <<EOF
{{"complaint_id": "$COMPLAINT", "customer_id": "$CUSTOMER",
 "reason": "COMPLAINT_VISIT_REASON_KEY_ACCOUNT", "source_event_id": "evt_pii_1",
 "due_time": "$DUE", "actor": {{"id": "complaints", "role": "ACTOR_ROLE_SYSTEM"}}}}
EOF
ENDED=$(date -u -d '-1 hour' +%Y-%m-%dT%H:%M:%SZ)
grpcurl -plaintext -d @ {feedback} csops.feedback.v1.FeedbackService/ScheduleCallback <<EOF
{{"customer_id": "$CUSTOMER", "subject": {{"kind": "SUBJECT_KIND_COMPLAINT", "id": "$COMPLAINT"}},
 "service_end_time": "$ENDED", "served_by_agent_id": "agent-7", "source_event_id": "evt_pii_2",
 "actor": {{"id": "complaints", "role": "ACTOR_ROLE_SYSTEM"}}}}
EOF
CALLBACK=$(grpcurl -plaintext -d "{{\"customer_id\": \"$CUSTOMER\"}}" {feedback} \
  csops.feedback.v1.FeedbackService/ListCallbacks | id cbk)
test -n "$CALLBACK"
grpcurl -plaintext -d @ {feedback} csops.feedback.v1.FeedbackService/RecordCallbackAttempt <<EOF
{{"callback_id": "$CALLBACK", "reached": true, "outcome": "CALLBACK_OUTCOME_UNSATISFIED",
 "findings": [{{"description": "{NAME} at {ADDRESS} still loses the line", "owner_agent_id": "eng-3"}}],
 "notes": "reached {NAME} on {PHONE}", "actor": {{"id": "agent-9", "role": "ACTOR_ROLE_AGENT"}}}}
EOF
echo "$CUSTOMER $COMPLAINT $CALLBACK"
"#
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn personal_data_reaches_no_log_span_or_metric_of_any_service() {
    let receiver = OtlpReceiver::start().await;
    let dir = tempfile::tempdir().unwrap();
    let offset = free_offset();
    let log_path = dir.path().join("suite.log");
    let child = Command::new(env!("CARGO_BIN_EXE_csops-suite"))
        .arg("--data-dir")
        .arg(dir.path())
        .args(["--port-offset", &offset.to_string(), "--log-format", "json"])
        .args(["--auth", "off"])
        .env("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.endpoint())
        .env("OTEL_TRACES_SAMPLER", "always_on")
        .env("RUST_LOG", "debug")
        .env("CSOPS_TRACE_FILTER", "debug")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log_path).unwrap())
        .spawn()
        .unwrap();

    // The flow, once every service answers.
    let grpcurl = grpcurl();
    let path = format!(
        "{}:{}",
        grpcurl.parent().unwrap().display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let ready = format!(
        "for p in {}; do grpcurl -plaintext -d '{{}}' localhost:$p grpc.health.v1.Health/Check >/dev/null || exit 1; done",
        [50051u16, 50052, 50053, 50054]
            .map(|p| (p + offset).to_string())
            .join(" ")
    );
    let deadline = Instant::now() + Duration::from_secs(60);
    while !Command::new("bash")
        .args(["-c", &ready])
        .env("PATH", &path)
        .stderr(Stdio::null())
        .status()
        .unwrap()
        .success()
    {
        assert!(Instant::now() < deadline, "the suite never served");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let flow = Command::new("bash")
        .args(["-euo", "pipefail", "-c", &script(offset)])
        .env("PATH", &path)
        .output()
        .unwrap();
    assert!(
        flow.status.success(),
        "the flow failed:\n{}\n{}",
        String::from_utf8_lossy(&flow.stdout),
        String::from_utf8_lossy(&flow.stderr)
    );
    let ids = String::from_utf8(flow.stdout).unwrap();
    let ids: Vec<&str> = ids
        .lines()
        .last()
        .unwrap_or("")
        .split_whitespace()
        .collect();
    assert_eq!(ids.len(), 3, "{ids:?}");

    let pages: Vec<(u16, String)> = (9091..=9094)
        .map(|p: u16| (p + offset, scrape(p + offset)))
        .collect();

    // Every service's server spans, and the callback's (the last call) among them.
    let spans = receiver
        .wait_for_spans(
            |spans| {
                spans
                    .iter()
                    .any(|s| s.name.ends_with("FeedbackService/RecordCallbackAttempt"))
                    && spans
                        .iter()
                        .any(|s| s.name.ends_with("CustomersService/CreateCustomer"))
                    && spans
                        .iter()
                        .any(|s| s.name.ends_with("VisitsService/RequestComplaintVisit"))
                    && spans
                        .iter()
                        .any(|s| s.name.ends_with("ComplaintsService/CheckReply"))
            },
            Duration::from_secs(30),
        )
        .await;

    stop_with_sigint(child).await;
    let logs = std::fs::read_to_string(&log_path).unwrap();

    // The checks can see what they look for: the records' ids are logged and traced.
    for id in &ids {
        assert!(logs.contains(id), "the logs name {id}:\n{logs}");
    }
    assert!(spans.len() > 20, "{} spans", spans.len());
    for secret in SECRETS {
        let line = logs.lines().find(|l| l.contains(secret));
        assert!(line.is_none(), "a log line holds {secret:?}: {line:?}");
        if let Some(span) = spans.iter().find(|s| s.mentions(secret)) {
            panic!("span {} holds {secret:?}: {span:#?}", span.name);
        }
        for (port, page) in &pages {
            let line = page.lines().find(|l| l.contains(secret));
            assert!(
                line.is_none(),
                "/metrics on {port} holds {secret:?}: {line:?}"
            );
        }
    }
}
