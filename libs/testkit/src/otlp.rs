//! An in-process OTLP/gRPC trace receiver that records the spans exporters send it.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{
    TraceService, TraceServiceServer,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue, KeyValue};
use opentelemetry_proto::tonic::trace::v1::span::SpanKind;
use tokio::sync::oneshot;

/// A span as the receiver got it, with ids in lower-case hex and values as strings.
#[derive(Clone, Debug, PartialEq)]
pub struct ReceivedSpan {
    /// The trace id, 32 hex digits.
    pub trace_id: String,
    /// The span id, 16 hex digits.
    pub span_id: String,
    /// The parent span id, 16 hex digits, or empty for a root span.
    pub parent_span_id: String,
    /// The span name.
    pub name: String,
    /// The span kind: `server`, `client`, `internal`, `producer`, `consumer` or `unspecified`.
    pub kind: String,
    /// The `service.name` resource attribute, or empty.
    pub service_name: String,
    /// The span's attributes.
    pub attributes: BTreeMap<String, String>,
    /// The span's events (tracing events recorded inside the span).
    pub events: Vec<ReceivedEvent>,
    /// The spans it links to, as (trace id, span id).
    pub links: Vec<(String, String)>,
    /// The span's status: `unset`, `ok` or `error`.
    pub status: String,
}

/// An event recorded on a received span.
#[derive(Clone, Debug, PartialEq)]
pub struct ReceivedEvent {
    /// The event name (for tracing events, the message).
    pub name: String,
    /// The event's attributes.
    pub attributes: BTreeMap<String, String>,
}

impl ReceivedSpan {
    /// Tells whether `needle` occurs anywhere in the span: name, attributes or events.
    pub fn mentions(&self, needle: &str) -> bool {
        let in_map = |map: &BTreeMap<String, String>| {
            map.iter()
                .any(|(k, v)| k.contains(needle) || v.contains(needle))
        };
        self.name.contains(needle)
            || in_map(&self.attributes)
            || self
                .events
                .iter()
                .any(|e| e.name.contains(needle) || in_map(&e.attributes))
    }
}

/// Returns true when `span` descends from the span with id `ancestor` among `spans`.
pub fn descends_from(spans: &[ReceivedSpan], span: &ReceivedSpan, ancestor: &str) -> bool {
    let by_id: std::collections::HashMap<&str, &ReceivedSpan> =
        spans.iter().map(|s| (s.span_id.as_str(), s)).collect();
    let mut parent = span.parent_span_id.as_str();
    for _ in 0..64 {
        if parent == ancestor {
            return true;
        }
        match by_id.get(parent) {
            Some(s) => parent = s.parent_span_id.as_str(),
            None => return false,
        }
    }
    false
}

type Spans = Arc<Mutex<Vec<ReceivedSpan>>>;

/// An OTLP/gRPC trace collector on `127.0.0.1` with a random port, stopped when dropped.
#[derive(Debug)]
pub struct OtlpReceiver {
    addr: SocketAddr,
    spans: Spans,
    stop: Option<oneshot::Sender<()>>,
}

impl OtlpReceiver {
    /// Starts the receiver on `127.0.0.1:0`.
    ///
    /// # Panics
    /// When no local port can be bound.
    pub async fn start() -> OtlpReceiver {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the OTLP receiver to 127.0.0.1:0");
        let addr = listener
            .local_addr()
            .expect("the OTLP receiver's local address");
        let spans = Spans::default();
        let (stop, stopped) = oneshot::channel::<()>();
        let service = TraceServiceServer::new(Collector {
            spans: Arc::clone(&spans),
        });
        tokio::spawn(async move {
            let served = tonic::transport::Server::builder()
                .add_service(service)
                .serve_with_incoming_shutdown(
                    tonic::transport::server::TcpIncoming::from(listener),
                    async {
                        let _ = stopped.await;
                    },
                )
                .await;
            if let Err(error) = served {
                eprintln!("OTLP receiver failed: {error}");
            }
        });
        OtlpReceiver {
            addr,
            spans,
            stop: Some(stop),
        }
    }

    /// The URL exporters should send to, e.g. `http://127.0.0.1:4317`.
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Every span received so far, in arrival order.
    pub fn spans(&self) -> Vec<ReceivedSpan> {
        self.spans
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Waits until `pred` holds for the spans received so far, and returns them.
    ///
    /// # Panics
    /// When `timeout` passes first; the message lists the spans received.
    pub async fn wait_for_spans(
        &self,
        pred: impl Fn(&[ReceivedSpan]) -> bool,
        timeout: Duration,
    ) -> Vec<ReceivedSpan> {
        let deadline = Instant::now() + timeout;
        loop {
            let spans = self.spans();
            if pred(&spans) {
                return spans;
            }
            if Instant::now() >= deadline {
                panic!("timed out after {timeout:?} waiting for spans; received {spans:#?}");
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

impl Drop for OtlpReceiver {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

struct Collector {
    spans: Spans,
}

#[tonic::async_trait]
impl TraceService for Collector {
    async fn export(
        &self,
        request: tonic::Request<ExportTraceServiceRequest>,
    ) -> Result<tonic::Response<ExportTraceServiceResponse>, tonic::Status> {
        let mut received = Vec::new();
        for resource_spans in request.into_inner().resource_spans {
            let resource = resource_spans
                .resource
                .map(|r| strings(&r.attributes))
                .unwrap_or_default();
            let service_name = resource.get("service.name").cloned().unwrap_or_default();
            for span in resource_spans
                .scope_spans
                .into_iter()
                .flat_map(|scope| scope.spans)
            {
                received.push(ReceivedSpan {
                    trace_id: hex(&span.trace_id),
                    span_id: hex(&span.span_id),
                    parent_span_id: hex(&span.parent_span_id),
                    kind: kind_name(span.kind).to_owned(),
                    name: span.name,
                    service_name: service_name.clone(),
                    attributes: strings(&span.attributes),
                    events: span
                        .events
                        .into_iter()
                        .map(|event| ReceivedEvent {
                            attributes: strings(&event.attributes),
                            name: event.name,
                        })
                        .collect(),
                    links: span
                        .links
                        .iter()
                        .map(|link| (hex(&link.trace_id), hex(&link.span_id)))
                        .collect(),
                    status: match span.status.map(|s| s.code) {
                        Some(1) => "ok",
                        Some(2) => "error",
                        _ => "unset",
                    }
                    .to_owned(),
                });
            }
        }
        self.spans
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .extend(received);
        Ok(tonic::Response::new(ExportTraceServiceResponse {
            partial_success: None,
        }))
    }
}

fn kind_name(kind: i32) -> &'static str {
    match SpanKind::try_from(kind) {
        Ok(SpanKind::Server) => "server",
        Ok(SpanKind::Client) => "client",
        Ok(SpanKind::Internal) => "internal",
        Ok(SpanKind::Producer) => "producer",
        Ok(SpanKind::Consumer) => "consumer",
        Ok(SpanKind::Unspecified) | Err(_) => "unspecified",
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().fold(String::new(), |mut out, b| {
        let _ = write!(out, "{b:02x}");
        out
    })
}

fn strings(attributes: &[KeyValue]) -> BTreeMap<String, String> {
    attributes
        .iter()
        .map(|kv| (kv.key.clone(), value_string(kv.value.as_ref())))
        .collect()
}

fn value_string(value: Option<&AnyValue>) -> String {
    match value.and_then(|v| v.value.as_ref()) {
        None => String::new(),
        Some(any_value::Value::StringValue(s)) => s.clone(),
        Some(any_value::Value::BoolValue(b)) => b.to_string(),
        Some(any_value::Value::IntValue(i)) => i.to_string(),
        Some(any_value::Value::DoubleValue(d)) => d.to_string(),
        Some(any_value::Value::BytesValue(bytes)) => hex(bytes),
        Some(any_value::Value::ArrayValue(array)) => {
            let items: Vec<String> = array.values.iter().map(|v| value_string(Some(v))).collect();
            format!("[{}]", items.join(","))
        }
        Some(any_value::Value::KvlistValue(list)) => format!("{:?}", strings(&list.values)),
        #[allow(unreachable_patterns)]
        Some(other) => format!("{other:?}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_is_lower_case_and_zero_padded() {
        assert_eq!(hex(&[0x0a, 0xff, 0x00]), "0aff00");
    }

    #[test]
    fn values_render_as_strings() {
        let v = |value| value_string(Some(&AnyValue { value: Some(value) }));
        assert_eq!(v(any_value::Value::StringValue("x".into())), "x");
        assert_eq!(v(any_value::Value::IntValue(4)), "4");
        assert_eq!(v(any_value::Value::BoolValue(true)), "true");
    }
}
