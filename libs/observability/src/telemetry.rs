//! Process-wide telemetry set-up: the tracing subscriber, the OTLP span exporter and shutdown.

use std::fmt;
use std::io::IsTerminal;
use std::str::FromStr;
use std::time::Duration;

use opentelemetry::trace::{TraceContextExt as _, TracerProvider as _};
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::SdkTracerProvider;
use opentelemetry_sdk::Resource;
use tracing_subscriber::filter::{ParseError, Targets};
use tracing_subscriber::fmt::format::{FormatEvent, FormatFields, Writer};
use tracing_subscriber::fmt::{FmtContext, MakeWriter};
use tracing_subscriber::layer::Filter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

use crate::metrics::Metrics;

/// How long `shutdown` waits for buffered spans to be exported.
const SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(5);

/// The filter used when `RUST_LOG` (logs) or `CSOPS_TRACE_FILTER` (traces) is unset or empty.
const DEFAULT_FILTER: &str = "info";

/// The variable that filters the spans exported over OTLP, independently of `RUST_LOG`.
const TRACE_FILTER_VAR: &str = "CSOPS_TRACE_FILTER";

/// The format of log lines written to stderr.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum LogFormat {
    /// Human-readable text when stderr is a terminal, JSON otherwise.
    #[default]
    Auto,
    /// One JSON object per line.
    Json,
    /// Human-readable text.
    Text,
}

impl LogFormat {
    /// Resolves `Auto` against whether stderr is a terminal.
    fn resolve(self) -> LogFormat {
        match self {
            LogFormat::Auto if std::io::stderr().is_terminal() => LogFormat::Text,
            LogFormat::Auto => LogFormat::Json,
            other => other,
        }
    }
}

/// The error returned when a log format is not one of `auto`, `json` or `text`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown log format {0:?}: expected one of auto, json, text")]
pub struct ParseLogFormatError(String);

impl FromStr for LogFormat {
    type Err = ParseLogFormatError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "auto" => Ok(LogFormat::Auto),
            "json" => Ok(LogFormat::Json),
            "text" => Ok(LogFormat::Text),
            _ => Err(ParseLogFormatError(s.to_owned())),
        }
    }
}

impl fmt::Display for LogFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            LogFormat::Auto => "auto",
            LogFormat::Json => "json",
            LogFormat::Text => "text",
        })
    }
}

/// What a service tells `init` about itself.
#[derive(Clone, Debug)]
pub struct TelemetryConfig {
    /// The service name reported in traces when `OTEL_SERVICE_NAME` is unset.
    pub service_name: String,
    /// The format of log lines.
    pub log_format: LogFormat,
}

impl TelemetryConfig {
    /// Creates a configuration with the given default service name and `LogFormat::Auto`.
    pub fn new(service_name: impl Into<String>) -> Self {
        Self {
            service_name: service_name.into(),
            log_format: LogFormat::Auto,
        }
    }
}

/// Why telemetry could not be initialised.
#[derive(Debug, thiserror::Error)]
pub enum TelemetryError {
    /// `RUST_LOG` holds a directive the filter cannot parse.
    #[error("invalid RUST_LOG filter: {0}")]
    Filter(#[from] tracing_subscriber::filter::ParseError),
    /// `CSOPS_TRACE_FILTER` holds a directive the filter cannot parse.
    #[error("invalid CSOPS_TRACE_FILTER filter: {0}")]
    TraceFilter(tracing_subscriber::filter::ParseError),
    /// The OTLP exporter could not be built from the `OTEL_EXPORTER_OTLP_*` variables.
    #[error("cannot build the OTLP span exporter: {0}")]
    Exporter(#[from] opentelemetry_otlp::ExporterBuildError),
    /// OTLP export was requested but `init` was not called inside a tokio runtime.
    #[error("OTLP export needs a tokio runtime: call init from inside the runtime")]
    NoRuntime,
    /// A global tracing subscriber was already installed.
    #[error("a global tracing subscriber is already installed: {0}")]
    AlreadyInitialised(#[from] tracing_subscriber::util::TryInitError),
}

/// The handle to process-wide telemetry; call [`Telemetry::shutdown`] before exiting.
#[derive(Debug)]
#[must_use = "call shutdown() before exiting so buffered spans are exported"]
pub struct Telemetry {
    provider: Option<SdkTracerProvider>,
    metrics: Metrics,
}

impl Telemetry {
    /// Returns the metrics registry shared by the gRPC layer and the metrics endpoint.
    pub fn metrics(&self) -> Metrics {
        self.metrics.clone()
    }

    /// Tells whether spans are exported over OTLP.
    pub fn exports_traces(&self) -> bool {
        self.provider.is_some()
    }

    /// Flushes buffered spans and stops the exporter, waiting at most a few seconds.
    ///
    /// Safe when the collector is unreachable. On a multi-thread tokio runtime the wait
    /// happens off the worker; on a current-thread runtime prefer [`Telemetry::shutdown_async`],
    /// since the exporter needs the runtime to make progress.
    pub fn shutdown(self) {
        let Some(provider) = self.provider else {
            return;
        };
        let run = move || shutdown_provider(&provider);
        match tokio::runtime::Handle::try_current() {
            Ok(handle) if handle.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread => {
                tokio::task::block_in_place(run);
            }
            _ => run(),
        }
    }

    /// Flushes buffered spans and stops the exporter without blocking the runtime.
    pub async fn shutdown_async(self) {
        let Some(provider) = self.provider else {
            return;
        };
        if let Err(error) = tokio::task::spawn_blocking(move || shutdown_provider(&provider)).await
        {
            tracing::warn!(%error, "telemetry shutdown task failed");
        }
    }
}

fn shutdown_provider(provider: &SdkTracerProvider) {
    if let Err(error) = provider.shutdown_with_timeout(SHUTDOWN_TIMEOUT) {
        tracing::warn!(%error, "span exporter did not shut down cleanly");
    }
}

/// Installs the global tracing subscriber, the OTLP exporter and the W3C propagator.
///
/// Logs go to stderr, filtered by `RUST_LOG` (default `info`). Spans are exported over
/// OTLP/gRPC only when `OTEL_EXPORTER_OTLP_ENDPOINT` or `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`
/// is set, filtered by `CSOPS_TRACE_FILTER` (default `info`, whatever `RUST_LOG` says); the
/// SDK reads `OTEL_SERVICE_NAME`, `OTEL_RESOURCE_ATTRIBUTES`,
/// `OTEL_TRACES_SAMPLER`, `OTEL_TRACES_SAMPLER_ARG` and the other standard variables.
pub fn init(config: TelemetryConfig) -> Result<Telemetry, TelemetryError> {
    init_with_writer(config, std::io::stderr)
}

/// Like [`init`], but writes log lines to `writer` (tests use it to inspect logs).
pub fn init_with_writer<W>(config: TelemetryConfig, writer: W) -> Result<Telemetry, TelemetryError>
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    // Each layer has its own filter: RUST_LOG chooses the log lines, CSOPS_TRACE_FILTER the
    // spans and span events exported, so quieting the logs does not switch tracing off.
    let log_filter = layer_filter("RUST_LOG")?;
    let trace_filter = layer_filter(TRACE_FILTER_VAR).map_err(TelemetryError::TraceFilter)?;

    let fmt_layer = match config.log_format.resolve() {
        LogFormat::Json => json_layer(writer).with_filter(log_filter).boxed(),
        _ => text_layer(writer).with_filter(log_filter).boxed(),
    };

    let provider = if otlp_endpoint_configured() {
        Some(build_provider(&config.service_name)?)
    } else {
        None
    };
    let otel_layer = provider.as_ref().map(|provider| {
        // Each span carries what its own fields say, nothing per span that the trace does not
        // need: no source location, thread, level or busy/idle time (each costs attributes to
        // build, queue and encode for every span, and busy/idle a clock read on every poll).
        tracing_opentelemetry::layer()
            .with_tracer(provider.tracer("csops-observability"))
            .with_location(false)
            .with_threads(false)
            .with_level(false)
            .with_tracked_inactivity(false)
            .with_filter(trace_filter)
    });

    tracing_subscriber::registry()
        .with(fmt_layer)
        .with(otel_layer)
        .try_init()?;

    opentelemetry::global::set_text_map_propagator(TraceContextPropagator::new());
    if let Some(provider) = &provider {
        opentelemetry::global::set_tracer_provider(provider.clone());
    }

    Ok(Telemetry {
        provider,
        metrics: Metrics::new(),
    })
}

/// The JSON log layer: one object per line with the event's fields, its target and the
/// current span's fields, plus `trace_id` and `span_id` of the current span whenever it has a
/// valid OpenTelemetry context, so a log search leads to the trace (and to the very span).
fn json_layer<S, W>(writer: W) -> impl Layer<S>
where
    S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    tracing_subscriber::fmt::layer()
        .json()
        .with_current_span(true)
        .with_span_list(false)
        .with_writer(writer)
        .map_event_format(|format| WithTraceIds { format, json: true })
}

/// The text log layer, for a terminal: tracing's default format, plus ` trace_id=… span_id=…`
/// at the end of a line written inside a traced span.
fn text_layer<S, W>(writer: W) -> impl Layer<S>
where
    S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    tracing_subscriber::fmt::layer()
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(writer)
        .map_event_format(|format| WithTraceIds {
            format,
            json: false,
        })
}

/// Adds `trace_id` and `span_id` to each log line written inside a traced span: as two more
/// members of a JSON line's object, or as ` trace_id=… span_id=…` at the end of a text line.
struct WithTraceIds<F> {
    format: F,
    json: bool,
}

impl<S, N, F> FormatEvent<S, N> for WithTraceIds<F>
where
    S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
    F: FormatEvent<S, N>,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &tracing::Event<'_>,
    ) -> fmt::Result {
        // Entering a span activates its OpenTelemetry context (tracing-opentelemetry's
        // default), so the current context is the span the event is written in.
        let ids = opentelemetry::Context::map_current(|cx| {
            let span = cx.span();
            let context = span.span_context();
            context
                .is_valid()
                .then(|| (context.trace_id(), context.span_id()))
        });
        let Some((trace_id, span_id)) = ids else {
            return self.format.format_event(ctx, writer, event);
        };
        let mut line = String::new();
        self.format
            .format_event(ctx, Writer::new(&mut line), event)?;
        let text = line.trim_end();
        match text.strip_suffix('}') {
            Some(object) if self.json => writeln!(
                writer,
                "{object},\"trace_id\":\"{trace_id}\",\"span_id\":\"{span_id}\"}}"
            ),
            None if self.json => writer.write_str(&line),
            _ => writeln!(writer, "{text} trace_id={trace_id} span_id={span_id}"),
        }
    }
}

/// The filter in `var` (tracing's `EnvFilter` syntax), `info` when unset or empty.
///
/// Directives of targets and levels only (`info`, `warn,csops_runtime=debug`), the usual case,
/// become a static [`Targets`] filter; span and field directives need an [`EnvFilter`], which
/// also tracks every span it sees entered and left, a cost paid on each poll of a traced call.
fn layer_filter<S>(var: &str) -> Result<Box<dyn Filter<S> + Send + Sync>, ParseError>
where
    S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
{
    let directives = std::env::var(var)
        .ok()
        .filter(|d| !d.trim().is_empty())
        .unwrap_or_else(|| DEFAULT_FILTER.to_owned());
    Ok(match parse_filter(&directives)? {
        ParsedFilter::Targets(targets) => Box::new(targets),
        ParsedFilter::Env(env) => env,
    })
}

/// A filter's directives, as the cheapest filter that understands them.
#[derive(Debug)]
enum ParsedFilter {
    Targets(Targets),
    Env(Box<EnvFilter>),
}

fn parse_filter(directives: &str) -> Result<ParsedFilter, ParseError> {
    // `Targets` would read a span directive (`[span{field=value}]=level`) as a target's name.
    if !directives.contains('[') {
        if let Ok(targets) = directives.parse::<Targets>() {
            return Ok(ParsedFilter::Targets(targets));
        }
    }
    Ok(ParsedFilter::Env(Box::new(EnvFilter::try_new(directives)?)))
}

fn otlp_endpoint_configured() -> bool {
    [
        "OTEL_EXPORTER_OTLP_ENDPOINT",
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
    ]
    .iter()
    .any(|var| std::env::var(var).is_ok_and(|v| !v.trim().is_empty()))
}

fn build_provider(default_service_name: &str) -> Result<SdkTracerProvider, TelemetryError> {
    // The tonic channel spawns its worker on the current runtime.
    tokio::runtime::Handle::try_current().map_err(|_| TelemetryError::NoRuntime)?;
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_tonic()
        .build()?;

    // The SDK's detectors read OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES; the
    // service's own name applies only when neither names the service.
    let detected = Resource::builder().build();
    let named_by_env = std::env::var("OTEL_SERVICE_NAME").is_ok_and(|v| !v.is_empty())
        || std::env::var("OTEL_RESOURCE_ATTRIBUTES").is_ok_and(|v| {
            v.split(',')
                .any(|kv| kv.trim().starts_with("service.name="))
        });
    let resource = if named_by_env {
        detected
    } else {
        Resource::builder()
            .with_service_name(default_service_name.to_owned())
            .build()
    };

    // The builder's default sampler comes from OTEL_TRACES_SAMPLER(_ARG).
    Ok(SdkTracerProvider::builder()
        .with_batch_exporter(exporter)
        .with_resource(resource)
        .build())
}

#[cfg(test)]
mod tests {
    use tracing_opentelemetry::OpenTelemetrySpanExt as _;

    use super::*;

    #[test]
    fn log_format_parses_known_names_in_any_case() {
        assert_eq!("auto".parse(), Ok(LogFormat::Auto));
        assert_eq!("json".parse(), Ok(LogFormat::Json));
        assert_eq!(" Text ".parse(), Ok(LogFormat::Text));
    }

    #[test]
    fn log_format_rejects_unknown_names_with_the_choices() {
        let error = "yaml".parse::<LogFormat>().err();
        assert_eq!(error, Some(ParseLogFormatError("yaml".to_owned())));
        let message = error.map(|e| e.to_string()).unwrap_or_default();
        assert!(message.contains("auto, json, text"), "{message}");
    }

    #[test]
    fn log_format_display_round_trips() {
        for format in [LogFormat::Auto, LogFormat::Json, LogFormat::Text] {
            assert_eq!(format.to_string().parse(), Ok(format));
        }
    }

    /// A writer that keeps what it is given.
    #[derive(Clone, Default)]
    struct Lines(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

    impl std::io::Write for Lines {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl<'w> MakeWriter<'w> for Lines {
        type Writer = Lines;
        fn make_writer(&'w self) -> Self::Writer {
            self.clone()
        }
    }

    /// Writes one line outside any span and one inside a nested span; returns the lines and
    /// the inner span's trace and span ids.
    fn lines_in_and_out_of_a_span(json: bool) -> (String, String, String) {
        let lines = Lines::default();
        let provider = SdkTracerProvider::builder().build();
        let log = if json {
            json_layer(lines.clone()).boxed()
        } else {
            text_layer(lines.clone()).boxed()
        };
        let subscriber = tracing_subscriber::registry()
            .with(log)
            .with(tracing_opentelemetry::layer().with_tracer(provider.tracer("test")));
        let (trace_id, span_id) = tracing::subscriber::with_default(subscriber, || {
            tracing::info!("outside any span");
            let outer = tracing::info_span!("rpc");
            let _outer = outer.enter();
            let inner = tracing::info_span!("store call");
            let _inner = inner.enter();
            tracing::info!(rows = 3, "inside a nested span");
            let context = inner.context();
            let span_context = context.span().span_context().clone();
            (
                span_context.trace_id().to_string(),
                span_context.span_id().to_string(),
            )
        });
        assert_eq!(trace_id.len(), 32);
        let text = String::from_utf8(lines.0.lock().unwrap_or_else(|e| e.into_inner()).clone())
            .unwrap_or_default();
        (text, trace_id, span_id)
    }

    #[test]
    fn json_lines_inside_a_traced_span_carry_its_trace_and_span_ids() {
        let (text, trace_id, span_id) = lines_in_and_out_of_a_span(true);
        let parsed: Vec<serde_json::Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
            .collect();
        assert_eq!(parsed.len(), 2, "{text}");
        assert_eq!(parsed[0]["fields"]["message"], "outside any span");
        assert!(parsed[0].get("trace_id").is_none(), "{text}");
        assert_eq!(parsed[1]["fields"]["rows"], 3);
        assert_eq!(parsed[1]["trace_id"], trace_id.as_str());
        assert_eq!(parsed[1]["span_id"], span_id.as_str());
    }

    #[test]
    fn text_lines_inside_a_traced_span_end_with_its_trace_and_span_ids() {
        let (text, trace_id, span_id) = lines_in_and_out_of_a_span(false);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 2, "{text}");
        assert!(lines[0].ends_with("outside any span"), "{text}");
        assert!(lines[1].contains("rows=3"), "{text}");
        assert!(
            lines[1].ends_with(&format!(" trace_id={trace_id} span_id={span_id}")),
            "{text}"
        );
    }

    #[test]
    fn level_and_target_filters_are_static_and_span_directives_keep_their_meaning() {
        for directives in ["info", "warn,csops_runtime=debug", "off"] {
            assert!(
                matches!(parse_filter(directives), Ok(ParsedFilter::Targets(_))),
                "{directives}"
            );
        }
        // Span and field directives need the dynamic filter, which understands them.
        for directives in [
            "warn,[grpc.server]=debug",
            "info,[{rpc.method=GetCustomer}]=trace",
        ] {
            assert!(
                matches!(parse_filter(directives), Ok(ParsedFilter::Env(_))),
                "{directives}"
            );
        }
        assert!(parse_filter("info,[unclosed=debug").is_err());
    }

    #[test]
    fn explicit_log_formats_resolve_to_themselves() {
        assert_eq!(LogFormat::Json.resolve(), LogFormat::Json);
        assert_eq!(LogFormat::Text.resolve(), LogFormat::Text);
        assert_ne!(LogFormat::Auto.resolve(), LogFormat::Auto);
    }
}
