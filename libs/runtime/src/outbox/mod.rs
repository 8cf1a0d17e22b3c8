//! The transactional outbox: events for other services are written in the transaction of the
//! change that caused them ([`write`]), so an accepted change never loses its events, and a
//! [`Relay`] delivers them at least once; receivers apply each event id once. Claims take a
//! lease (`FOR UPDATE SKIP LOCKED` on PostgreSQL, so replicas share the work without waiting
//! on each other), a failed delivery is retried with exponential backoff and jitter, and an
//! event for a receiver that is down or not deployed yet waits until it answers.

mod relay;

use std::fmt::Write as _;

use crate::db::Traced as _;
use csops_observability::TraceHeaders;
use sqlx::{AnyConnection, AnyPool, Row};

use crate::db::{self, StoreError};
use crate::sql::{self, Sql, Value};

#[cfg(test)]
use crate::time::now_micros;
#[cfg(test)]
use relay::backoff;
pub use relay::{Deliver, Pass, Relay, RelaySettings};

/// An event to write with the change that caused it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewEvent {
    /// Unique id; receivers apply each id once.
    pub id: String,
    /// The receiving service, e.g. `feedback`.
    pub destination: &'static str,
    /// What happened, e.g. `schedule_callback`.
    pub kind: &'static str,
    /// The resource the event is about (events of one resource are delivered in order).
    pub aggregate_id: String,
    /// The event, as JSON.
    pub payload: String,
}

/// Records a change's retry key (when it has one) and writes its events, on the connection
/// of the change's transaction: what every store's save does after writing the resource.
pub async fn record_change(
    conn: &mut AnyConnection,
    key: Option<(&crate::idempotency::Key, &crate::idempotency::Recorded)>,
    events: &[NewEvent],
    now_micros: i64,
) -> Result<(), StoreError> {
    if let Some((key, produced)) = key {
        crate::idempotency::record(conn, key, produced, now_micros).await?;
    }
    for event in events {
        write(conn, event, now_micros).await?;
    }
    Ok(())
}

/// Writes `event` on the connection of the change's transaction, with the trace context of
/// the current span (the change's), so its delivery continues that trace.
pub async fn write(
    conn: &mut AnyConnection,
    event: &NewEvent,
    now_micros: i64,
) -> Result<(), StoreError> {
    let trace = TraceHeaders::current();
    let system = db::system_name(conn.backend_name());
    sqlx::query(
        "INSERT INTO outbox_events (id, destination, kind, aggregate_id, payload, attempts, \
         next_attempt_time, delivered_time, last_error, lease_owner, lease_until, create_time, \
         traceparent, tracestate) \
         VALUES ($1, $2, $3, $4, $5, 0, 0, 0, '', '', 0, $6, $7, $8)",
    )
    .bind(&event.id)
    .bind(event.destination)
    .bind(event.kind)
    .bind(&event.aggregate_id)
    .bind(&event.payload)
    .bind(now_micros)
    .bind(trace.traceparent)
    .bind(trace.tracestate)
    .execute(conn)
    .traced(db::span(system, "INSERT", "outbox_events", "outbox.write"))
    .await?;
    Ok(())
}

/// Writes a batch of events on the connection of the batch's transaction, each with the trace
/// context of the change that caused it: one multi-row statement per
/// [`sql::rows_per_statement`] events (the breach watcher saves a batch of complaints at once).
pub async fn write_many(
    conn: &mut AnyConnection,
    events: &[(NewEvent, TraceHeaders)],
    now_micros: i64,
) -> Result<(), StoreError> {
    if events.is_empty() {
        return Ok(());
    }
    let system = db::system_name(conn.backend_name());
    async {
        for chunk in events.chunks(sql::rows_per_statement(8)) {
            let mut statement = Sql::new(
                "INSERT INTO outbox_events (id, destination, kind, aggregate_id, payload, \
                 attempts, next_attempt_time, delivered_time, last_error, lease_owner, \
                 lease_until, create_time, traceparent, tracestate) SELECT column1, column2, \
                 column3, column4, column5, 0, 0, 0, '', '', 0, column6, column7, column8 FROM \
                 (VALUES ",
            );
            for (i, (event, trace)) in chunk.iter().enumerate() {
                statement.tuple(
                    i == 0,
                    [
                        Value::from(event.id.as_str()),
                        Value::from(event.destination),
                        Value::from(event.kind),
                        Value::from(event.aggregate_id.as_str()),
                        Value::from(event.payload.as_str()),
                        Value::from(now_micros),
                        Value::from(trace.traceparent.as_str()),
                        Value::from(trace.tracestate.as_str()),
                    ],
                );
            }
            statement.push(") AS v");
            statement.query().execute(&mut *conn).await?;
        }
        Ok(())
    }
    .traced(db::span(
        system,
        "INSERT",
        "outbox_events",
        "outbox.write_many",
    ))
    .await
}

/// An event claimed for delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claimed {
    /// Event id.
    pub id: String,
    /// The receiving service.
    pub destination: String,
    /// What happened.
    pub kind: String,
    /// The resource the event is about.
    pub aggregate_id: String,
    /// The event, as JSON.
    pub payload: String,
    /// Failed deliveries so far.
    pub attempts: i64,
    /// When it was written.
    pub create_time: i64,
    /// The trace context of the change that wrote it.
    pub trace: TraceHeaders,
}

/// Undelivered events for one destination.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pending {
    /// The receiving service.
    pub destination: String,
    /// How many wait.
    pub events: i64,
    /// When the oldest of them was written.
    pub oldest_create_time: i64,
}

/// The outbox table of one service's database.
#[derive(Debug, Clone)]
pub struct Outbox {
    pool: AnyPool,
    postgres: bool,
    system: &'static str,
}

/// Appends `$first, $first+1, …` for `n` values.
fn placeholders(sql: &mut String, first: usize, n: usize) {
    for i in 0..n {
        let sep = if i == 0 { "" } else { ", " };
        let _ = write!(sql, "{sep}${}", first + i);
    }
}

impl Outbox {
    /// The outbox of the database behind `pool` (the kit's migrations applied).
    pub fn new(pool: AnyPool) -> Self {
        let postgres = db::is_postgres(&pool);
        let system = db::system(&pool);
        Self {
            pool,
            postgres,
            system,
        }
    }

    /// The span of one of the outbox's statements.
    fn span(&self, operation: &'static str, name: &'static str) -> tracing::Span {
        db::span(self.system, operation, "outbox_events", name)
    }

    /// Claims up to `limit` due events for `destinations` for `owner` until `lease_until`,
    /// oldest first. One statement: on PostgreSQL rows another relay holds are skipped, not
    /// waited for.
    pub async fn claim(
        &self,
        destinations: &[&str],
        owner: &str,
        now: i64,
        lease_until: i64,
        limit: u32,
    ) -> Result<Vec<Claimed>, StoreError> {
        if destinations.is_empty() || limit == 0 {
            return Ok(Vec::new());
        }
        let mut sql = String::from(
            "UPDATE outbox_events SET lease_owner = $1, lease_until = $2 WHERE id IN (\
             SELECT id FROM outbox_events WHERE delivered_time = 0 AND next_attempt_time <= $3 \
             AND lease_until < $3 AND destination IN (",
        );
        placeholders(&mut sql, 4, destinations.len());
        let _ = write!(
            sql,
            ") ORDER BY create_time, id LIMIT ${}{}) RETURNING id, destination, kind, \
             aggregate_id, payload, attempts, create_time, traceparent, tracestate",
            4 + destinations.len(),
            if self.postgres {
                " FOR UPDATE SKIP LOCKED"
            } else {
                ""
            }
        );
        let mut query = sqlx::query(&sql).bind(owner).bind(lease_until).bind(now);
        for destination in destinations {
            query = query.bind(*destination);
        }
        let rows = async {
            let mut conn = db::acquire(&self.pool).await?;
            let rows = query.bind(i64::from(limit)).fetch_all(&mut *conn).await?;
            db::returned_rows(rows.len());
            Ok::<_, sqlx::Error>(rows)
        }
        .traced(self.span("UPDATE", "outbox.claim"))
        .await?;
        let mut claimed = rows
            .iter()
            .map(|r| {
                Ok(Claimed {
                    id: r.try_get("id")?,
                    destination: r.try_get("destination")?,
                    kind: r.try_get("kind")?,
                    aggregate_id: r.try_get("aggregate_id")?,
                    payload: r.try_get("payload")?,
                    attempts: r.try_get("attempts")?,
                    create_time: r.try_get("create_time")?,
                    trace: TraceHeaders {
                        traceparent: r.try_get("traceparent")?,
                        tracestate: r.try_get("tracestate")?,
                    },
                })
            })
            .collect::<Result<Vec<_>, sqlx::Error>>()?;
        // RETURNING does not keep the subquery's order.
        claimed.sort_by(|a, b| (a.create_time, &a.id).cmp(&(b.create_time, &b.id)));
        Ok(claimed)
    }

    /// Marks events delivered.
    pub async fn delivered(&self, ids: &[String], now: i64) -> Result<(), StoreError> {
        if ids.is_empty() {
            return Ok(());
        }
        let mut sql = String::from(
            "UPDATE outbox_events SET delivered_time = $1, lease_until = 0, last_error = '' \
             WHERE id IN (",
        );
        placeholders(&mut sql, 2, ids.len());
        sql.push(')');
        let mut query = sqlx::query(&sql).bind(now);
        for id in ids {
            query = query.bind(id);
        }
        query
            .execute(&self.pool)
            .traced(self.span("UPDATE", "outbox.delivered"))
            .await?;
        Ok(())
    }

    /// Records a failed delivery and when to try again.
    pub async fn failed(&self, id: &str, error: &str, next_attempt: i64) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE outbox_events SET attempts = attempts + 1, next_attempt_time = $1, \
             last_error = $2, lease_until = 0 WHERE id = $3",
        )
        .bind(next_attempt)
        .bind(error)
        .bind(id)
        .execute(&self.pool)
        .traced(self.span("UPDATE", "outbox.failed"))
        .await?;
        Ok(())
    }

    /// Extends the claims `owner` still holds among `ids` to `lease_until` (the heartbeat of a
    /// pass that takes longer than a lease). A claim already released, expired (`lease_until`
    /// before `now`) or delivered is left alone.
    pub async fn extend(
        &self,
        ids: &[String],
        owner: &str,
        now: i64,
        lease_until: i64,
    ) -> Result<(), StoreError> {
        if ids.is_empty() {
            return Ok(());
        }
        let mut sql = String::from(
            "UPDATE outbox_events SET lease_until = $1 WHERE delivered_time = 0 \
             AND lease_owner = $2 AND lease_until >= $3 AND id IN (",
        );
        placeholders(&mut sql, 4, ids.len());
        sql.push(')');
        let mut query = sqlx::query(&sql).bind(lease_until).bind(owner).bind(now);
        for id in ids {
            query = query.bind(id);
        }
        query
            .execute(&self.pool)
            .traced(self.span("UPDATE", "outbox.extend"))
            .await?;
        Ok(())
    }

    /// Gives claims of `owner` back at once (nothing was attempted, or the pass failed), so
    /// they do not wait out their lease.
    pub async fn release(&self, ids: &[String], owner: &str) -> Result<(), StoreError> {
        if ids.is_empty() {
            return Ok(());
        }
        let mut sql = String::from(
            "UPDATE outbox_events SET lease_until = 0 WHERE delivered_time = 0 \
             AND lease_owner = $1 AND id IN (",
        );
        placeholders(&mut sql, 2, ids.len());
        sql.push(')');
        let mut query = sqlx::query(&sql).bind(owner);
        for id in ids {
            query = query.bind(id);
        }
        query
            .execute(&self.pool)
            .traced(self.span("UPDATE", "outbox.release"))
            .await?;
        Ok(())
    }

    /// Undelivered events per destination: how many, and when the oldest was written.
    pub async fn pending(&self) -> Result<Vec<Pending>, StoreError> {
        let rows = sqlx::query(
            "SELECT destination, COUNT(*) AS events, MIN(create_time) AS oldest \
             FROM outbox_events WHERE delivered_time = 0 GROUP BY destination",
        )
        .fetch_all(&self.pool)
        .traced(self.span("SELECT", "outbox.pending"))
        .await?;
        rows.iter()
            .map(|r| {
                Ok(Pending {
                    destination: r.try_get("destination")?,
                    events: r.try_get("events")?,
                    oldest_create_time: r.try_get("oldest")?,
                })
            })
            .collect::<Result<Vec<_>, sqlx::Error>>()
            .map_err(StoreError::from)
    }
}

#[cfg(test)]
mod tests;
