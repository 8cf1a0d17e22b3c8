//! Storage of churn: the risk signals (the document beside the columns the listing filters on,
//! stored once per detector key, each with its outbox event for the customers service in the
//! same transaction), what the detector reads of a page of customers (one query), where its
//! walk over the customer files stands, and lost customers.
//!
//! A signal's delivery is read from its outbox event: the relay marks the event delivered when
//! the customers service accepted it, so no second write is needed.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use csops_runtime::audit;
use csops_runtime::db;
use csops_runtime::db::Traced as _;
use csops_runtime::idempotency::{Key, Recorded};
use csops_runtime::outbox::{self, NewEvent};
use csops_runtime::sql::Sql;
use csops_runtime::time::from_micros_opt;

use super::{from_doc, to_doc, Cursor, Delivery, Store, StoreError, CHURN_SIGNAL, CUSTOMER_LOSS};
use crate::domain::churn::{
    ChurnKind, CustomerLoss, LossReason, RiskLevel, RiskSignal, SignalState, SurveySent,
};

/// At most this many values in one `IN` list.
const CHUNK: usize = 500;

/// Filters of a signal listing; they combine with AND, values of one list with OR.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SignalFilter {
    /// Only this customer.
    pub customer_id: Option<String>,
    /// Only these states (empty: any).
    pub states: Vec<SignalState>,
    /// Only these kinds (empty: any).
    pub kinds: Vec<ChurnKind>,
    /// Only at least this strong.
    pub min_level: Option<RiskLevel>,
}

/// A signal as stored: the signal and whether the customers service accepted it.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredSignal {
    /// The signal.
    pub signal: RiskSignal,
    /// Pending until the customers service accepted its event, then delivered.
    pub delivery: Delivery,
}

/// What this service knows of one customer's contact history.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ContactFacts {
    /// The latest activity or reached callback; `None` when none was ever recorded.
    pub last_contact: Option<DateTime<Utc>>,
    /// The latest survey answer.
    pub last_answer: Option<DateTime<Utc>>,
    /// The latest surveys sent (at most the history asked for).
    pub surveys: Vec<SurveySent>,
    /// The customer's loss was recorded: they left.
    pub lost: bool,
}

/// Result of recording a loss.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LossInserted {
    /// Written.
    Created,
    /// The retry key was taken by another call: nothing was written.
    Replayed,
    /// The customer's loss was recorded before (under another key): nothing was written.
    Exists,
}

/// The rank a level is filtered by.
pub fn level_rank(level: RiskLevel) -> i64 {
    match level {
        RiskLevel::Low => 1,
        RiskLevel::Medium => 2,
        RiskLevel::High => 3,
    }
}

#[derive(Debug, sqlx::FromRow)]
struct SignalRow {
    id: String,
    doc: String,
    /// The event's delivered time: 0 while pending; `NULL` when the event is gone (only
    /// delivered events are ever removed).
    delivered_time: Option<i64>,
}

impl TryFrom<SignalRow> for StoredSignal {
    type Error = StoreError;

    fn try_from(row: SignalRow) -> Result<Self, StoreError> {
        let SignalRow {
            id,
            doc,
            delivered_time,
        } = row;
        Ok(Self {
            signal: from_doc(&id, &doc)?,
            delivery: match delivered_time {
                Some(0) => Delivery::Pending,
                _ => Delivery::Delivered,
            },
        })
    }
}

/// One fact of the detector's query: `fact` is `contact`, `answer`, `lost` or `survey`.
#[derive(Debug, sqlx::FromRow)]
struct FactRow {
    customer_id: String,
    fact: String,
    survey_id: String,
    t1: i64,
    t2: i64,
    score: Option<f64>,
}

/// The signals with their delivery: `inner` selects `id, doc, event_id, detect_time` of
/// churn_signals (with its filters, order and limit), the outer query joins the events.
const SIGNAL_HEAD: &str = "SELECT s.id AS id, s.doc AS doc, e.delivered_time AS delivered_time \
     FROM (SELECT id, doc, event_id, detect_time FROM churn_signals WHERE 1 = 1";
const SIGNAL_TAIL: &str = ") s LEFT JOIN outbox_events e ON e.id = s.event_id";

impl Store {
    /// The page token where the detector's walk over the customer files goes on ('' = start).
    pub async fn churn_cursor(&self) -> Result<String, StoreError> {
        async {
            let mut conn = db::acquire(&self.pool).await?;
            let token: Option<(String,)> =
                sqlx::query_as("SELECT page_token FROM churn_sweep WHERE name = 'customers'")
                    .fetch_optional(&mut *conn)
                    .await?;
            Ok(token.map(|t| t.0).unwrap_or_default())
        }
        .traced(self.span("SELECT", "churn_sweep", "feedback.churn_cursor"))
        .await
    }

    /// Moves the detector's walk to `token`.
    pub async fn set_churn_cursor(
        &self,
        token: &str,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        async {
            let mut conn = db::acquire(&self.pool).await?;
            sqlx::query(
                "UPDATE churn_sweep SET page_token = $1, update_time = $2 WHERE name = 'customers'",
            )
            .bind(token)
            .bind(now.timestamp_micros())
            .execute(&mut *conn)
            .await?;
            Ok(())
        }
        .traced(self.span("UPDATE", "churn_sweep", "feedback.set_churn_cursor"))
        .await
    }

    /// What the detector needs of each of `customer_ids`, in one query: the latest activity
    /// or reached callback, the latest survey answer, the latest `history` surveys sent and
    /// whether the customer's loss was recorded. Customers with none of these are absent.
    pub async fn contact_facts(
        &self,
        customer_ids: &[String],
        history: usize,
    ) -> Result<HashMap<String, ContactFacts>, StoreError> {
        async {
            let mut conn = db::acquire(&self.pool).await?;
            let mut facts: HashMap<String, ContactFacts> = HashMap::new();
            let mut returned = 0;
            for chunk in customer_ids.chunks(CHUNK) {
                let mut sql = Sql::new("WITH ids (customer_id) AS (VALUES ");
                for (i, id) in chunk.iter().enumerate() {
                    sql.bind(if i == 0 { "($?)" } else { ", ($?)" }, id.as_str());
                }
                // A reached callback is a completed one; its update time is when the answer was
                // recorded (a finding fixed later moves it too: close enough for a silence counted
                // in weeks).
                sql.push(
                    ") \
                     SELECT a.customer_id AS customer_id, 'contact' AS fact, '' AS survey_id, \
                     MAX(a.occur_time) AS t1, CAST(0 AS BIGINT) AS t2, \
                     CAST(NULL AS DOUBLE PRECISION) AS score \
                     FROM activities a WHERE a.customer_id IN (SELECT customer_id FROM ids) \
                     GROUP BY a.customer_id \
                     UNION ALL \
                     SELECT c.customer_id, 'contact', '', MAX(c.update_time), CAST(0 AS BIGINT), \
                     CAST(NULL AS DOUBLE PRECISION) \
                     FROM callbacks c WHERE c.state = 'completed' \
                     AND c.customer_id IN (SELECT customer_id FROM ids) GROUP BY c.customer_id \
                     UNION ALL \
                     SELECT f.customer_id, 'answer', '', MAX(f.answer_time), CAST(0 AS BIGINT), \
                     CAST(NULL AS DOUBLE PRECISION) \
                     FROM survey_facts f WHERE f.answer_time > 0 \
                     AND f.customer_id IN (SELECT customer_id FROM ids) GROUP BY f.customer_id \
                     UNION ALL \
                     SELECT l.customer_id, 'lost', '', l.loss_time, CAST(0 AS BIGINT), \
                     CAST(NULL AS DOUBLE PRECISION) \
                     FROM customer_losses l WHERE l.customer_id IN (SELECT customer_id FROM ids) \
                     UNION ALL \
                     SELECT r.customer_id, 'survey', r.survey_id, r.send_time, r.answer_time, \
                     CAST(r.overall_score AS DOUBLE PRECISION) \
                     FROM (SELECT customer_id, survey_id, send_time, answer_time, overall_score, \
                     ROW_NUMBER() OVER (PARTITION BY customer_id \
                     ORDER BY send_time DESC, survey_id DESC) AS n \
                     FROM survey_facts WHERE customer_id IN (SELECT customer_id FROM ids)) r",
                );
                sql.bind(
                    " WHERE r.n <= $?",
                    i64::try_from(history).unwrap_or(i64::MAX),
                );
                let rows: Vec<FactRow> = sql.query_as().fetch_all(&mut *conn).await?;
                returned += rows.len();
                for row in rows {
                    let FactRow {
                        customer_id,
                        fact,
                        survey_id,
                        t1,
                        t2,
                        score,
                    } = row;
                    let f = facts.entry(customer_id).or_default();
                    let t = from_micros_opt(t1);
                    match fact.as_str() {
                        "contact" => f.last_contact = f.last_contact.max(t),
                        "answer" => f.last_answer = f.last_answer.max(t),
                        "lost" => f.lost = true,
                        _ => {
                            if let Some(send_time) = t {
                                let answer_time = from_micros_opt(t2);
                                f.surveys.push(SurveySent {
                                    survey_id,
                                    send_time,
                                    answer_time,
                                    overall_score: score.filter(|_| answer_time.is_some()),
                                });
                            }
                        }
                    }
                }
            }
            db::returned_rows(returned);
            Ok(facts)
        }
        .traced(self.span("SELECT", "activities", "feedback.contact_facts"))
        .await
    }

    /// Those of `ids` stored already.
    pub async fn known_signals(&self, ids: &[String]) -> Result<HashSet<String>, StoreError> {
        async {
            let mut conn = db::acquire(&self.pool).await?;
            let mut known = HashSet::new();
            for chunk in ids.chunks(CHUNK) {
                let mut sql = Sql::new("SELECT id FROM churn_signals WHERE 1 = 1");
                sql.and_in("id", chunk);
                let rows: Vec<(String,)> = sql.query_as().fetch_all(&mut *conn).await?;
                known.extend(rows.into_iter().map(|r| r.0));
            }
            db::returned_rows(known.len());
            Ok(known)
        }
        .traced(self.span("SELECT", "churn_signals", "feedback.known_signals"))
        .await
    }

    /// Stores each signal not stored yet with its event, in one transaction; returns the ids
    /// stored (a signal another pass stored meanwhile is skipped with its event).
    pub async fn insert_signals(
        &self,
        signals: &[(RiskSignal, NewEvent)],
        now: DateTime<Utc>,
    ) -> Result<Vec<String>, StoreError> {
        async {
            let mut stored = Vec::new();
            let mut tx = db::begin(&self.pool).await?;
            for (s, event) in signals {
                let done = sqlx::query(
                    "INSERT INTO churn_signals (id, customer_id, kind, level_rank, state, event_id, \
                     doc, version, detect_time, update_time) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT (id) DO NOTHING",
                )
                .bind(&s.id)
                .bind(&s.customer_id)
                .bind(s.kind.code())
                .bind(level_rank(s.level))
                .bind(s.state.code())
                .bind(&event.id)
                .bind(to_doc(s))
                .bind(s.version)
                .bind(s.detect_time.timestamp_micros())
                .bind(s.detect_time.timestamp_micros())
                .execute(&mut *tx)
                .await?;
                if done.rows_affected() == 1 {
                    outbox::write(&mut tx, event, now.timestamp_micros()).await?;
                    stored.push(s.id.clone());
                }
            }
            let ids: Vec<&str> = stored.iter().map(String::as_str).collect();
            audit::record_many(&mut tx, CHURN_SIGNAL, &ids, now.timestamp_micros()).await?;
            tx.commit().await?;
            self.published(stored.len());
            Ok(stored)
        }
        .traced(self.span("INSERT", "churn_signals", "feedback.insert_signals"))
        .await
    }

    /// Returns a signal by id.
    pub async fn get_signal(&self, id: &str) -> Result<Option<StoredSignal>, StoreError> {
        async {
            let mut conn = db::acquire(&self.pool).await?;
            let mut sql = Sql::new(SIGNAL_HEAD);
            sql.bind(" AND id = $?", id).push(SIGNAL_TAIL);
            let row: Option<SignalRow> = sql.query_as().fetch_optional(&mut *conn).await?;
            row.map(StoredSignal::try_from).transpose()
        }
        .traced(self.span("SELECT", "churn_signals", "feedback.get_signal"))
        .await
    }

    /// Saves a changed signal if nobody changed it since `read_version`.
    pub async fn save_signal(&self, s: &RiskSignal, read_version: i64) -> Result<bool, StoreError> {
        async {
            let now = s.update_time.unwrap_or(s.detect_time).timestamp_micros();
            let mut tx = db::begin(&self.pool).await?;
            let done = sqlx::query(
                "UPDATE churn_signals SET state = $1, doc = $2, version = $3, update_time = $4 \
                 WHERE id = $5 AND version = $6",
            )
            .bind(s.state.code())
            .bind(to_doc(s))
            .bind(s.version)
            .bind(now)
            .bind(&s.id)
            .bind(read_version)
            .execute(&mut *tx)
            .await?;
            if done.rows_affected() != 1 {
                return Ok(false);
            }
            audit::record(&mut tx, CHURN_SIGNAL, &s.id, now).await?;
            tx.commit().await?;
            Ok(true)
        }
        .traced(self.span("UPDATE", "churn_signals", "feedback.save_signal"))
        .await
    }

    /// Returns up to `limit` signals before `before` in (detect_time, id) order, newest first.
    pub async fn list_signals(
        &self,
        filter: &SignalFilter,
        before: Option<&Cursor>,
        limit: u32,
    ) -> Result<Vec<StoredSignal>, StoreError> {
        async {
            let mut conn = db::acquire(&self.pool).await?;
            let SignalFilter {
                customer_id,
                states,
                kinds,
                min_level,
            } = filter;
            let mut sql = Sql::new(SIGNAL_HEAD);
            if let Some(c) = customer_id {
                sql.bind(" AND customer_id = $?", c.as_str());
            }
            let states: Vec<&str> = states.iter().map(|s| s.code()).collect();
            sql.and_in("state", &states);
            let kinds: Vec<&str> = kinds.iter().map(|k| k.code()).collect();
            sql.and_in("kind", &kinds);
            if let Some(level) = min_level {
                sql.bind(" AND level_rank >= $?", level_rank(*level));
            }
            if let Some(cursor) = before {
                sql.before("detect_time", cursor.key, cursor.id.as_str());
            }
            sql.bind(
                " ORDER BY detect_time DESC, id DESC LIMIT $?",
                i64::from(limit),
            )
            .push(SIGNAL_TAIL)
            .push(" ORDER BY s.detect_time DESC, s.id DESC");
            let rows: Vec<SignalRow> = sql.query_as().fetch_all(&mut *conn).await?;
            db::returned_rows(rows.len());
            rows.into_iter().map(StoredSignal::try_from).collect()
        }
        .traced(self.span("SELECT", "churn_signals", "feedback.list_signals"))
        .await
    }

    /// Records a loss with its retry key: `Replayed` when the key was recorded before, `Exists`
    /// when the customer's loss was recorded under another key.
    pub async fn insert_loss(
        &self,
        loss: &CustomerLoss,
        key: &Key,
    ) -> Result<LossInserted, StoreError> {
        async {
            let mut tx = db::begin(&self.pool).await?;
            let produced = Recorded {
                resource_id: loss.customer_id.clone(),
                ref_id: String::new(),
            };
            let now = loss.create_time.timestamp_micros();
            match outbox::record_change(&mut tx, Some((key, &produced)), &[], now).await {
                Ok(()) => {}
                Err(StoreError::Duplicate(_)) => return Ok(LossInserted::Replayed),
                Err(e) => return Err(e),
            }
            let inserted = sqlx::query(
                "INSERT INTO customer_losses (customer_id, reason, loss_time, doc, create_time) \
                 VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(&loss.customer_id)
            .bind(loss.reason.code())
            .bind(loss.loss_time.timestamp_micros())
            .bind(to_doc(loss))
            .bind(now)
            .execute(&mut *tx)
            .await;
            match inserted {
                Ok(_) => {}
                Err(e) => {
                    return match StoreError::from(e) {
                        StoreError::Duplicate(_) => Ok(LossInserted::Exists),
                        other => Err(other),
                    }
                }
            }
            // A customer has at most one loss: the record is named by the customer's id.
            audit::record(&mut tx, CUSTOMER_LOSS, &loss.customer_id, now).await?;
            tx.commit().await?;
            Ok(LossInserted::Created)
        }
        .traced(self.span("INSERT", "customer_losses", "feedback.insert_loss"))
        .await
    }

    /// Returns a customer's loss.
    pub async fn get_loss(&self, customer_id: &str) -> Result<Option<CustomerLoss>, StoreError> {
        async {
            let mut conn = db::acquire(&self.pool).await?;
            let row: Option<(String, String)> = sqlx::query_as(
                "SELECT customer_id, doc FROM customer_losses WHERE customer_id = $1",
            )
            .bind(customer_id)
            .fetch_optional(&mut *conn)
            .await?;
            row.map(|(id, doc)| from_doc(&id, &doc)).transpose()
        }
        .traced(self.span("SELECT", "customer_losses", "feedback.get_loss"))
        .await
    }

    /// Losses with a loss time in [`start`, `end`), per reason (reasons without one absent).
    pub async fn count_losses(
        &self,
        start: DateTime<Utc>,
        end: DateTime<Utc>,
    ) -> Result<Vec<(LossReason, i64)>, StoreError> {
        async {
            let mut conn = db::acquire(&self.pool).await?;
            let rows: Vec<(String, i64)> = sqlx::query_as(
                "SELECT reason, COUNT(*) AS losses FROM customer_losses \
                 WHERE loss_time >= $1 AND loss_time < $2 GROUP BY reason",
            )
            .bind(start.timestamp_micros())
            .bind(end.timestamp_micros())
            .fetch_all(&mut *conn)
            .await?;
            db::returned_rows(rows.len());
            rows.into_iter()
                .map(|(code, n)| match LossReason::from_code(&code) {
                    Some(reason) => Ok((reason, n)),
                    None => Err(StoreError::Corrupt {
                        id: format!("customer_losses reason {code}"),
                        what: "unknown reason".into(),
                    }),
                })
                .collect()
        }
        .traced(self.span("SELECT", "customer_losses", "feedback.count_losses"))
        .await
    }
}
