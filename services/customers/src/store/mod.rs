//! Storage of customer files: one method per query, on SQLite or PostgreSQL through
//! `sqlx::Any`. Only this module speaks SQL; `rows` maps what it reads to the domain. A change
//! visits must hear of is written to the kit's outbox in the change's transaction, and every
//! change to the kit's audit log.

mod rows;

use std::sync::Arc;

use csops_runtime::audit;
pub use csops_runtime::db::StoreError;
use csops_runtime::db::Traced as _;
use csops_runtime::db::{self, classify, DbErrorKind};
use csops_runtime::idempotency::{self, Key, Recorded};
use csops_runtime::outbox::{self, NewEvent};
/// Position after the last row of a page: (create_time, id).
pub use csops_runtime::paging::Cursor;
use csops_runtime::sql::{like_anywhere, Sql};
use csops_runtime::time::to_micros_opt;
use csops_runtime::Error;
use sqlx::{AnyConnection, AnyPool};
use tokio::sync::Notify;

use crate::domain::{
    ChurnSignal, Customer, CustomerChanged, Region, RiskLevel, Tier, CUSTOMER_CHANGED, VISITS,
};
use rows::{CustomerRow, COLUMNS};

/// The kind of record the audit log names.
const CUSTOMER: &str = "customer";

/// Which files a listing includes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArchiveFilter {
    /// Active only.
    Active,
    /// Archived only.
    Archived,
    /// Both.
    All,
}

/// Filters of a listing; they combine with AND.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListFilter {
    /// Only this tier.
    pub tier: Option<Tier>,
    /// Only this region.
    pub region: Option<Region>,
    /// Only key accounts, or only the others.
    pub key_account: Option<bool>,
    /// Only this owner.
    pub owner_agent_id: Option<String>,
    /// Lowercased text the name must contain.
    pub name_contains: Option<String>,
    /// Digits a phone number must contain.
    pub phone_contains: Option<String>,
    /// Active and/or archived.
    pub archive: ArchiveFilter,
    /// Only customers at least this much at risk.
    pub min_churn_risk: Option<RiskLevel>,
}

/// Result of recording a churn signal.
#[derive(Debug, PartialEq, Eq)]
pub enum SignalRecorded {
    /// Recorded and the customer saved.
    Recorded,
    /// The signal id was recorded before; nothing changed.
    Duplicate,
    /// The customer changed since it was read; nothing was written.
    Stale,
}

/// Result of an idempotent insert.
#[derive(Debug)]
pub enum Inserted {
    /// The customer was created.
    Created,
    /// The retry key was recorded before: nothing was written.
    Replayed,
}

/// Customer storage over a shared pool.
#[derive(Debug, Clone)]
pub struct Store {
    pool: AnyPool,
    /// OpenTelemetry's `db.system.name` of the pool.
    system: &'static str,
    /// Woken after a commit that wrote an outbox event, so the relay sends it at once.
    outbox_written: Arc<Notify>,
}

impl Store {
    /// Wraps a pool whose database has the customers migrations applied; `outbox_written` is
    /// notified after each commit that wrote an event (the relay's waker).
    pub fn new(pool: AnyPool, outbox_written: Arc<Notify>) -> Self {
        let system = db::system(&pool);
        Self {
            pool,
            system,
            outbox_written,
        }
    }

    /// The span of one store call.
    fn span(
        &self,
        operation: &'static str,
        collection: &'static str,
        name: &'static str,
    ) -> tracing::Span {
        db::span(self.system, operation, collection, name)
    }

    /// Inserts a new customer with its retry key and its event for visits, unless the key was
    /// recorded before (then nothing is written).
    pub async fn insert(
        &self,
        customer: &Customer,
        key: &Key,
        change: Option<&CustomerChanged>,
    ) -> Result<Inserted, StoreError> {
        async {
            let mut tx = db::begin(&self.pool).await?;
            let produced = Recorded {
                resource_id: customer.id.clone(),
                ref_id: String::new(),
            };
            match idempotency::record(
                &mut tx,
                key,
                &produced,
                customer.create_time.timestamp_micros(),
            )
            .await
            {
                Ok(()) => {}
                Err(StoreError::Duplicate(_)) => return Ok(Inserted::Replayed),
                Err(error) => return Err(error),
            }
            sqlx::query(
                "INSERT INTO customers (id, display_name, search_name, search_phones, tier, \
                 key_account, region, owner_agent_id, state, profile, tier_history, \
                 lifetime_value_minor, version, create_time, update_time, delete_time, \
                 churn_risk, churn_signals) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, \
                 $17, $18)",
            )
            .bind(&customer.id)
            .bind(&customer.display_name)
            .bind(customer.search_name())
            .bind(customer.search_phones())
            .bind(customer.tier.code())
            .bind(i64::from(customer.key_account))
            .bind(customer.region.code())
            .bind(&customer.owner_agent_id)
            .bind(customer.state.code())
            .bind(to_json(&customer.profile))
            .bind(to_json(&customer.tier_history))
            .bind(customer.lifetime_value_minor())
            .bind(customer.version)
            .bind(customer.create_time.timestamp_micros())
            .bind(customer.update_time.timestamp_micros())
            .bind(to_micros_opt(customer.delete_time))
            .bind(churn_rank(customer))
            .bind(to_json(&customer.churn_signals))
            .execute(&mut *tx)
            .await?;
            if let Some(change) = change {
                publish(&mut tx, change).await?;
            }
            audit::record(
                &mut tx,
                CUSTOMER,
                &customer.id,
                customer.create_time.timestamp_micros(),
            )
            .await?;
            tx.commit().await?;
            if change.is_some() {
                self.outbox_written.notify_one();
            }
            Ok(Inserted::Created)
        }
        .traced(self.span("INSERT", "customers", "customers.insert"))
        .await
    }

    /// Returns what the first call with `key` produced, if it ran (ALREADY_EXISTS when the
    /// key came with another request).
    pub async fn replay(&self, key: &Key) -> Result<Option<Recorded>, Error> {
        idempotency::find(&self.pool, key).await
    }

    /// Returns a customer by id.
    pub async fn get(&self, id: &str) -> Result<Option<Customer>, StoreError> {
        async {
            let mut conn = db::acquire(&self.pool).await?;
            let row: Option<CustomerRow> =
                sqlx::query_as(&format!("SELECT {COLUMNS} FROM customers WHERE id = $1"))
                    .bind(id)
                    .fetch_optional(&mut *conn)
                    .await?;
            row.map(Customer::try_from).transpose()
        }
        .traced(self.span("SELECT", "customers", "customers.get"))
        .await
    }

    /// Writes a changed customer, with its event for visits, if nobody changed it since
    /// `expected_version`; returns false, writing nothing, when the stored version differs (or
    /// the row is gone).
    pub async fn save(
        &self,
        customer: &Customer,
        expected_version: i64,
        change: Option<&CustomerChanged>,
    ) -> Result<bool, StoreError> {
        async {
            if change.is_none() && self.system == "postgresql" {
                let mut conn = db::acquire(&self.pool).await?;
                return save_audited(&mut conn, customer, expected_version).await;
            }
            let mut tx = db::begin(&self.pool).await?;
            if !save(&mut tx, customer, expected_version).await? {
                return Ok(false);
            }
            if let Some(change) = change {
                publish(&mut tx, change).await?;
            }
            audit::record(
                &mut tx,
                CUSTOMER,
                &customer.id,
                customer.update_time.timestamp_micros(),
            )
            .await?;
            tx.commit().await?;
            if change.is_some() {
                self.outbox_written.notify_one();
            }
            Ok(true)
        }
        .traced(self.span("UPDATE", "customers", "customers.save"))
        .await
    }

    /// Records a churn signal once per signal id, together with the customer's new state.
    pub async fn record_signal(
        &self,
        customer: &Customer,
        expected_version: i64,
        signal: &ChurnSignal,
    ) -> Result<SignalRecorded, StoreError> {
        async {
            let mut tx = db::begin(&self.pool).await?;
            let claimed = sqlx::query(
                "INSERT INTO churn_signals (signal_id, customer_id, signal, record_time) \
                 VALUES ($1, $2, $3, $4)",
            )
            .bind(&signal.signal_id)
            .bind(&customer.id)
            .bind(to_json(signal))
            .bind(customer.update_time.timestamp_micros())
            .execute(&mut *tx)
            .await;
            match claimed {
                Ok(_) => {}
                Err(error) if classify(&error) == DbErrorKind::UniqueViolation => {
                    return Ok(SignalRecorded::Duplicate);
                }
                Err(error) => return Err(error.into()),
            }
            if !save(&mut tx, customer, expected_version).await? {
                return Ok(SignalRecorded::Stale);
            }
            audit::record(
                &mut tx,
                CUSTOMER,
                &customer.id,
                customer.update_time.timestamp_micros(),
            )
            .await?;
            tx.commit().await?;
            Ok(SignalRecorded::Recorded)
        }
        .traced(self.span("INSERT", "churn_signals", "customers.record_signal"))
        .await
    }

    /// Returns up to `limit` customers after `after` in (create_time, id) order (the cursor's key is the create_time). Keyset
    /// pagination: rows that existed when the listing began are neither skipped nor repeated,
    /// whatever is inserted meanwhile.
    pub async fn list(
        &self,
        filter: &ListFilter,
        after: Option<&Cursor>,
        limit: u32,
    ) -> Result<Vec<Customer>, StoreError> {
        async {
            let mut sql = Sql::new(&format!("SELECT {COLUMNS} FROM customers WHERE 1 = 1"));
            match filter.archive {
                ArchiveFilter::Active => sql.bind(" AND state = $?", "active"),
                ArchiveFilter::Archived => sql.bind(" AND state = $?", "archived"),
                ArchiveFilter::All => &mut sql,
            };
            if let Some(tier) = filter.tier {
                sql.bind(" AND tier = $?", tier.code());
            }
            if let Some(region) = filter.region {
                sql.bind(" AND region = $?", region.code());
            }
            if let Some(key_account) = filter.key_account {
                sql.bind(" AND key_account = $?", i64::from(key_account));
            }
            if let Some(owner) = &filter.owner_agent_id {
                sql.bind(" AND owner_agent_id = $?", owner.as_str());
            }
            match (&filter.name_contains, &filter.phone_contains) {
                (Some(name), Some(phone)) => {
                    sql.bind(" AND (search_name LIKE $? ESCAPE '\\'", like_anywhere(name))
                        .bind(
                            " OR search_phones LIKE $? ESCAPE '\\')",
                            like_anywhere(phone),
                        );
                }
                (Some(name), None) => {
                    sql.bind(" AND search_name LIKE $? ESCAPE '\\'", like_anywhere(name));
                }
                (None, Some(phone)) => {
                    sql.bind(
                        " AND search_phones LIKE $? ESCAPE '\\'",
                        like_anywhere(phone),
                    );
                }
                (None, None) => {}
            }
            if let Some(level) = filter.min_churn_risk {
                sql.bind(" AND churn_risk >= $?", level.rank());
            }
            if let Some(cursor) = after {
                sql.after("create_time", cursor.key, cursor.id.as_str());
            }
            sql.bind(" ORDER BY create_time, id LIMIT $?", i64::from(limit));
            let mut conn = db::acquire(&self.pool).await?;
            let rows: Vec<CustomerRow> = sql.query_as().fetch_all(&mut *conn).await?;
            db::returned_rows(rows.len());
            rows.into_iter().map(Customer::try_from).collect()
        }
        .traced(self.span("SELECT", "customers", "customers.list"))
        .await
    }
}

/// Writes `change` to the outbox for visits. Its id is the receiver's idempotency key; the
/// customer's id orders the events of one file; its time is the file's update time.
async fn publish(conn: &mut AnyConnection, change: &CustomerChanged) -> Result<(), StoreError> {
    let event = NewEvent {
        id: format!("cev_{}", uuid::Uuid::now_v7().simple()),
        destination: VISITS,
        kind: CUSTOMER_CHANGED,
        aggregate_id: change.customer.customer_id.clone(),
        payload: to_json(change),
    };
    outbox::write(conn, &event, change.customer.update_time.timestamp_micros()).await
}

/// The guarded update of a customer: 18 parameters, bound by [`bind_update`].
const UPDATE: &str = "UPDATE customers SET display_name = $1, search_name = $2, \
     search_phones = $3, tier = $4, key_account = $5, region = $6, owner_agent_id = $7, \
     state = $8, profile = $9, tier_history = $10, lifetime_value_minor = $11, version = $12, \
     update_time = $13, delete_time = $14, churn_risk = $15, churn_signals = $16 \
     WHERE id = $17 AND version = $18";

async fn save(
    conn: &mut AnyConnection,
    customer: &Customer,
    expected_version: i64,
) -> Result<bool, StoreError> {
    let result = bind_update(sqlx::query(UPDATE), customer, expected_version)
        .execute(conn)
        .await?;
    Ok(result.rows_affected() == 1)
}

/// PostgreSQL: the guarded update and its audit entry in one statement (atomic without a
/// transaction, so a change that writes no event costs one round trip, as before auditing).
async fn save_audited(
    conn: &mut AnyConnection,
    customer: &Customer,
    expected_version: i64,
) -> Result<bool, StoreError> {
    static STATEMENT: std::sync::LazyLock<String> =
        std::sync::LazyLock::new(|| audit::Entry::after(&format!("{UPDATE} RETURNING id"), 18));
    let entry = audit::Entry::of_call(CUSTOMER, customer.update_time.timestamp_micros());
    let query = bind_update(sqlx::query(STATEMENT.as_str()), customer, expected_version);
    let result = entry.bind(query).execute(conn).await?;
    Ok(result.rows_affected() == 1)
}

fn bind_update<'q>(
    query: sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>>,
    customer: &'q Customer,
    expected_version: i64,
) -> sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>> {
    query
        .bind(&customer.display_name)
        .bind(customer.search_name())
        .bind(customer.search_phones())
        .bind(customer.tier.code())
        .bind(i64::from(customer.key_account))
        .bind(customer.region.code())
        .bind(&customer.owner_agent_id)
        .bind(customer.state.code())
        .bind(to_json(&customer.profile))
        .bind(to_json(&customer.tier_history))
        .bind(customer.lifetime_value_minor())
        .bind(customer.version)
        .bind(customer.update_time.timestamp_micros())
        .bind(to_micros_opt(customer.delete_time))
        .bind(churn_rank(customer))
        .bind(to_json(&customer.churn_signals))
        .bind(&customer.id)
        .bind(expected_version)
}

fn churn_rank(customer: &Customer) -> i64 {
    customer.churn_risk().map_or(0, RiskLevel::rank)
}

fn to_json<T: serde::Serialize>(value: &T) -> String {
    // Serialising plain data structs to a String cannot fail.
    serde_json::to_string(value).unwrap_or_default()
}
