//! W3C trace-context propagation through HTTP headers and gRPC metadata.

use opentelemetry::propagation::{Extractor, Injector, TextMapPropagator as _};
use opentelemetry::trace::{SpanContext, TraceContextExt as _};
use opentelemetry::Context;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use tonic::metadata::{MetadataKey, MetadataMap, MetadataValue};
use tracing_opentelemetry::OpenTelemetrySpanExt as _;

/// Reads trace headers (`traceparent`, `tracestate`) from an HTTP header map.
struct HeaderExtractor<'a>(&'a http::HeaderMap);

impl Extractor for HeaderExtractor<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|v| v.to_str().ok())
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(http::HeaderName::as_str).collect()
    }
}

/// Writes trace headers into an HTTP header map.
struct HeaderInjector<'a>(&'a mut http::HeaderMap);

impl Injector for HeaderInjector<'_> {
    fn set(&mut self, key: &str, value: String) {
        if let (Ok(name), Ok(value)) = (
            http::HeaderName::from_bytes(key.as_bytes()),
            http::HeaderValue::from_str(&value),
        ) {
            self.0.insert(name, value);
        }
    }
}

/// Writes trace headers into gRPC request metadata.
struct MetadataInjector<'a>(&'a mut MetadataMap);

impl Injector for MetadataInjector<'_> {
    fn set(&mut self, key: &str, value: String) {
        if let (Ok(key), Ok(value)) = (
            MetadataKey::from_bytes(key.as_bytes()),
            MetadataValue::try_from(value.as_str()),
        ) {
            self.0.insert(key, value);
        }
    }
}

/// Extracts the remote OpenTelemetry context from HTTP headers with the global propagator.
pub fn extract_context(headers: &http::HeaderMap) -> Context {
    opentelemetry::global::get_text_map_propagator(|p| p.extract(&HeaderExtractor(headers)))
}

/// Injects an OpenTelemetry context into HTTP headers with the global propagator.
pub fn inject_context(cx: &Context, headers: &mut http::HeaderMap) {
    opentelemetry::global::get_text_map_propagator(|p| {
        p.inject_context(cx, &mut HeaderInjector(headers));
    });
}

/// Injects an OpenTelemetry context into gRPC metadata with the global propagator.
pub(crate) fn inject_metadata(cx: &Context, metadata: &mut MetadataMap) {
    opentelemetry::global::get_text_map_propagator(|p| {
        p.inject_context(cx, &mut MetadataInjector(metadata));
    });
}

/// The W3C trace context of a span (`traceparent`, `tracestate`), as text a store can keep with
/// a row: an outbox event carries the context of the change that wrote it, a complaint the
/// context of the call that created it, so work done later — a delivery, an escalation —
/// joins or links to that trace. Empty strings when there is no valid context (telemetry off).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TraceHeaders {
    /// `traceparent` (`00-<trace id>-<span id>-<flags>`), or empty.
    pub traceparent: String,
    /// `tracestate`, or empty.
    pub tracestate: String,
}

impl Injector for TraceHeaders {
    fn set(&mut self, key: &str, value: String) {
        match key {
            "traceparent" => self.traceparent = value,
            "tracestate" => self.tracestate = value,
            _ => {}
        }
    }
}

impl Extractor for TraceHeaders {
    fn get(&self, key: &str) -> Option<&str> {
        match key {
            "traceparent" if !self.traceparent.is_empty() => Some(&self.traceparent),
            "tracestate" if !self.tracestate.is_empty() => Some(&self.tracestate),
            _ => None,
        }
    }

    fn keys(&self) -> Vec<&str> {
        vec!["traceparent", "tracestate"]
    }
}

impl TraceHeaders {
    /// The context of `span` (empty when it has no valid OpenTelemetry context). The W3C
    /// format is used whatever propagator is installed: the text is stored, not sent.
    pub fn of(span: &tracing::Span) -> Self {
        let cx = span.context();
        let mut headers = Self::default();
        if cx.span().span_context().is_valid() {
            TraceContextPropagator::new().inject_context(&cx, &mut headers);
        }
        headers
    }

    /// The context of the current span.
    pub fn current() -> Self {
        Self::of(&tracing::Span::current())
    }

    /// The stored span context, when there is a valid one.
    pub fn span_context(&self) -> Option<SpanContext> {
        if self.traceparent.is_empty() {
            return None;
        }
        let cx = TraceContextPropagator::new().extract(self);
        let span_context = cx.span().span_context().clone();
        span_context.is_valid().then_some(span_context)
    }

    /// Tells whether both hold a context of the same trace.
    pub fn same_trace(&self, other: &TraceHeaders) -> bool {
        // `00-<32 hex trace id>-<16 hex span id>-<flags>`
        match (self.traceparent.get(3..35), other.traceparent.get(3..35)) {
            (Some(a), Some(b)) => a == b,
            _ => false,
        }
    }

    /// Makes `span` (not yet entered) a child of the stored context, so it continues that
    /// trace; returns false (and leaves `span` alone) when there is no valid stored context.
    pub fn continue_in(&self, span: &tracing::Span) -> bool {
        let Some(span_context) = self.span_context() else {
            return false;
        };
        let parent = Context::new().with_remote_span_context(span_context);
        span.set_parent(parent).is_ok()
    }

    /// Adds a link from `span` to the stored context (a span that serves many traces, such
    /// as a batch, links to each instead of joining one).
    pub fn link_from(&self, span: &tracing::Span) {
        if let Some(span_context) = self.span_context() {
            span.add_link(span_context);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_headers_round_trip_a_w3c_traceparent() {
        let headers = TraceHeaders {
            traceparent: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01".into(),
            tracestate: "vendor=1".into(),
        };
        let span_context = headers.span_context().expect("a valid context");
        assert_eq!(
            span_context.trace_id().to_string(),
            "4bf92f3577b34da6a3ce929d0e0e4736"
        );
        assert_eq!(span_context.span_id().to_string(), "00f067aa0ba902b7");
        assert!(span_context.is_sampled());
        let mut again = TraceHeaders::default();
        TraceContextPropagator::new().inject_context(
            &Context::new().with_remote_span_context(span_context),
            &mut again,
        );
        assert_eq!(again, headers);
    }

    #[test]
    fn empty_or_garbled_headers_have_no_context() {
        assert_eq!(TraceHeaders::default().span_context(), None);
        let garbled = TraceHeaders {
            traceparent: "00-not-a-trace-01".into(),
            tracestate: String::new(),
        };
        assert_eq!(garbled.span_context(), None);
        // Outside any OpenTelemetry layer a span has no context to store.
        assert_eq!(TraceHeaders::current(), TraceHeaders::default());
    }
}
