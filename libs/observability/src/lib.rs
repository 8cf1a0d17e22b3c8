//! Telemetry for csops services: logs, OTLP traces, W3C trace propagation and RED metrics.
#![forbid(unsafe_code)]

mod grpc;
mod metrics;
mod propagation;
mod telemetry;

pub use grpc::{
    GrpcClientLayer, GrpcClientService, GrpcServerLayer, GrpcServerService, ObservedBody,
    ResponseFuture, TracingInterceptor,
};
pub use metrics::{serve_metrics, Metrics};
pub use propagation::{extract_context, inject_context, TraceHeaders};
pub use telemetry::{
    init, init_with_writer, LogFormat, ParseLogFormatError, Telemetry, TelemetryConfig,
    TelemetryError,
};
