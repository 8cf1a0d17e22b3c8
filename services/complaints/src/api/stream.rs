//! WatchSlaEvents: a server stream of SLA events recorded by any replica, polled from the
//! store and woken at once when this replica records one. When the server stops, the kit's
//! edge layer ends the stream with UNAVAILABLE (`csops_runtime::edge`); the task here then
//! sees its receiver gone and returns.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use csops_proto::complaints::v1 as pb;
use csops_runtime::time::{now_micros, timestamp_to_micros};
use csops_runtime::Error;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::Status;

use super::enums::ProtoEnum;
use super::{convert, done, known, limits, ComplaintsApi};
use crate::app::Complaints;
use crate::domain::{ClockKind, Severity, SlaEvent, SlaEventKind, Violations};

/// Micros since the epoch: the stream's cursor over the stored `sla_events.event_time`.
type Micros = i64;

/// Streams re-read events this far back, so a row committed late by another replica is seen.
const STREAM_OVERLAP: Micros = 5_000_000;
const STREAM_POLL: Duration = Duration::from_millis(500);

/// The stream WatchSlaEvents answers.
pub(super) type SlaStream = ReceiverStream<Result<pb::WatchSlaEventsResponse, Status>>;

#[derive(Debug, Clone)]
struct SlaFilter {
    kinds: Vec<SlaEventKind>,
    clock_kinds: Vec<ClockKind>,
    complaint_id: String,
    assigned_agent_id: String,
    customer_id: String,
    min_severity: Option<Severity>,
}

impl SlaFilter {
    fn matches(&self, e: &SlaEvent) -> bool {
        (self.kinds.is_empty() || self.kinds.contains(&e.kind))
            && (self.clock_kinds.is_empty()
                || e.clock_kind.is_some_and(|k| self.clock_kinds.contains(&k)))
            && (self.complaint_id.is_empty() || self.complaint_id == e.complaint_id)
            && (self.assigned_agent_id.is_empty() || self.assigned_agent_id == e.assigned_agent_id)
            && (self.customer_id.is_empty() || self.customer_id == e.customer_id)
            && self.min_severity.is_none_or(|s| e.severity >= s)
    }
}

async fn stream_sla_events(
    core: Arc<Complaints>,
    filter: SlaFilter,
    floor: Micros,
    skip: Option<String>,
    tx: mpsc::Sender<Result<pb::WatchSlaEventsResponse, Status>>,
) {
    let mut seen: HashMap<String, Micros> = HashMap::new();
    if let Some(id) = skip {
        seen.insert(id, floor);
    }
    let mut cursor = floor;
    loop {
        let notified = core.sla_recorded.notified();
        match core
            .store
            .sla_events_since((cursor - STREAM_OVERLAP).max(floor), 5000)
            .await
        {
            Ok(events) => {
                for e in events {
                    let time = e.time.timestamp_micros();
                    if time < floor || seen.contains_key(&e.id) {
                        continue;
                    }
                    cursor = cursor.max(time);
                    seen.insert(e.id.clone(), time);
                    if filter.matches(&e)
                        && tx
                            .send(Ok(pb::WatchSlaEventsResponse {
                                event: Some(convert::sla_event(&e)),
                            }))
                            .await
                            .is_err()
                    {
                        return;
                    }
                }
                seen.retain(|_, t| *t >= cursor - 2 * STREAM_OVERLAP);
            }
            Err(error) => {
                tracing::warn!(
                    error = &error as &dyn std::error::Error,
                    "sla stream poll failed"
                );
            }
        }
        tokio::select! {
            () = tx.closed() => return,
            () = notified => {}
            () = tokio::time::sleep(STREAM_POLL) => {}
        }
    }
}

/// Handles `watch_sla_events`.
pub(super) async fn watch_sla_events(
    api: &ComplaintsApi,
    request: pb::WatchSlaEventsRequest,
) -> Result<SlaStream, Error> {
    limits::check(&request)?;
    // Each open stream polls the store: beyond `--max-sla-streams` a new one is refused
    // rather than slowing every watcher (and growing memory) for one more.
    let Ok(slot) = api.streams.clone().try_acquire_owned() else {
        return Err(Error::ResourceExhausted(
            "this server has as many SLA event streams open as --max-sla-streams allows; retry with backoff or on another replica".into(),
        ));
    };
    let pb::WatchSlaEventsRequest {
        kinds,
        clock_kinds,
        complaint_id,
        assigned_agent_id,
        customer_id,
        min_severity,
        since,
        after_event_id,
    } = request;
    let mut v = Violations::default();
    let mut filter = SlaFilter {
        kinds: Vec::new(),
        clock_kinds: Vec::new(),
        complaint_id,
        assigned_agent_id,
        customer_id,
        min_severity: known(
            Severity::from_number(min_severity),
            min_severity,
            "min_severity",
            &mut v,
        ),
    };
    for (i, k) in kinds.iter().enumerate() {
        match SlaEventKind::from_number(*k) {
            Some(k) => filter.kinds.push(k),
            None => v.push(format!("kinds[{i}]"), "unknown kind"),
        }
    }
    for (i, k) in clock_kinds.iter().enumerate() {
        match ClockKind::from_number(*k) {
            Some(k) => filter.clock_kinds.push(k),
            None => v.push(format!("clock_kinds[{i}]"), "unknown clock kind"),
        }
    }
    let since = since.map(|t| timestamp_to_micros("since", Some(t), &mut v));
    done(v)?;
    let (floor, skip) = if !after_event_id.is_empty() {
        let time = api
            .core
            .store
            .sla_event_time(&after_event_id)
            .await
            .map_err(Error::from)?
            .ok_or_else(|| Error::invalid("after_event_id", "no stored event has this id"))?;
        (time, Some(after_event_id))
    } else if let Some(since) = since {
        (since.saturating_add(1), None)
    } else {
        (now_micros(), None)
    };
    let (tx, rx) = mpsc::channel(64);
    let core = api.core.clone();
    tokio::spawn(async move {
        stream_sla_events(core, filter, floor, skip, tx).await;
        drop(slot);
    });
    Ok(ReceiverStream::new(rx))
}
