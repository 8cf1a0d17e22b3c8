//! Plans, and the plan visits a re-plan writes with them.

use chrono::{DateTime, Utc};
use csops_runtime::audit;
use csops_runtime::db;
use csops_runtime::db::Traced as _;
use csops_runtime::idempotency::{Key, Recorded};
use csops_runtime::outbox::{self, NewEvent};
use csops_runtime::sql::Sql;

use super::visits::{insert_visit, insert_visits, update_visit};
use super::{docs, from_doc, to_doc, Cursor, Inserted, Store, StoreError, PLAN, VISIT};
use crate::domain::plan::{Plan, PlanState};
use crate::domain::visit::Visit;
use crate::domain::Tier;

/// Filters of a plan listing; they combine with AND.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PlanFilter {
    /// Only this owner.
    pub owner_agent_id: Option<String>,
    /// Only this customer.
    pub customer_id: Option<String>,
    /// Only this tier.
    pub tier: Option<Tier>,
    /// Only key accounts, or only the others.
    pub key_account: Option<bool>,
    /// Only plans whose next visit is overdue.
    pub overdue_only: bool,
    /// Only plans whose next visit is due before this time.
    pub next_due_before: Option<DateTime<Utc>>,
    /// Only this state.
    pub state: Option<PlanState>,
}

/// The plan visits a change writes with its plan: new ones, and changed ones (moved,
/// cancelled) each guarded by the version it was read at.
#[derive(Debug, Default)]
pub struct PlanVisits {
    /// New visits.
    pub create: Vec<Visit>,
    /// (visit after the change, version read).
    pub update: Vec<(Visit, i64)>,
}

/// Rows per multi-row statement (well under both engines' limits on bound values).
const CHUNK: usize = 500;

fn next_due(plan: &Plan) -> i64 {
    plan.next
        .as_ref()
        .map_or(0, |n| n.due_time.timestamp_micros())
}

impl Store {
    /// Inserts a new plan with its first visits, recording the retry key; `Replayed` when
    /// the key was recorded before or the customer has a plan already.
    pub async fn insert_plan(
        &self,
        plan: &Plan,
        visits: &[Visit],
        key: Option<&Key>,
        sweep_time: DateTime<Utc>,
    ) -> Result<Inserted, StoreError> {
        async {
            let mut tx = db::begin(&self.pool).await?;
            let produced = Recorded {
                resource_id: plan.id.clone(),
                ref_id: String::new(),
            };
            let now = plan.create_time.timestamp_micros();
            match outbox::record_change(&mut tx, key.map(|k| (k, &produced)), &[], now).await {
                Ok(()) => {}
                Err(StoreError::Duplicate(_)) => return Ok(Inserted::Replayed),
                Err(e) => return Err(e),
            }
            let inserted = sqlx::query(
                "INSERT INTO visit_plans (id, customer_id, owner_agent_id, tier, key_account, \
                 state, next_due_time, sweep_time, doc, version, create_time, update_time) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) \
                 ON CONFLICT (customer_id) DO NOTHING",
            )
            .bind(&plan.id)
            .bind(&plan.customer_id)
            .bind(&plan.owner_agent_id)
            .bind(plan.facts.tier.code())
            .bind(i64::from(plan.facts.key_account))
            .bind(plan.state.code())
            .bind(next_due(plan))
            .bind(sweep_micros(sweep_time))
            .bind(to_doc(plan))
            .bind(plan.version)
            .bind(now)
            .bind(plan.update_time.timestamp_micros())
            .execute(&mut *tx)
            .await?;
            if inserted.rows_affected() == 0 {
                return Ok(Inserted::Replayed);
            }
            for visit in visits {
                insert_visit(&mut tx, visit).await?;
            }
            audit::record(&mut tx, PLAN, &plan.id, now).await?;
            let visit_ids: Vec<&str> = visits.iter().map(|v| v.id.as_str()).collect();
            audit::record_many(&mut tx, VISIT, &visit_ids, now).await?;
            tx.commit().await?;
            Ok(Inserted::Created)
        }
        .traced(self.span("INSERT", "visit_plans", "visits.insert_plan"))
        .await
    }

    /// Returns a plan by id.
    pub async fn get_plan(&self, id: &str) -> Result<Option<Plan>, StoreError> {
        async {
            let mut conn = db::acquire(&self.pool).await?;
            let row: Option<(String, String)> =
                sqlx::query_as("SELECT id, doc FROM visit_plans WHERE id = $1")
                    .bind(id)
                    .fetch_optional(&mut *conn)
                    .await?;
            row.map(|(id, doc)| from_doc(&id, &doc)).transpose()
        }
        .traced(self.span("SELECT", "visit_plans", "visits.get_plan"))
        .await
    }

    /// Returns the plans of these customers (at most one each).
    pub async fn plans_of_customers(
        &self,
        customer_ids: &[String],
    ) -> Result<Vec<Plan>, StoreError> {
        if customer_ids.is_empty() {
            return Ok(Vec::new());
        }
        async {
            let mut conn = db::acquire(&self.pool).await?;
            let mut out = Vec::with_capacity(customer_ids.len());
            for chunk in customer_ids.chunks(CHUNK) {
                let mut sql = Sql::new("SELECT id, doc FROM visit_plans WHERE customer_id IN (");
                for (i, id) in chunk.iter().enumerate() {
                    sql.bind(if i == 0 { "$?" } else { ", $?" }, id.as_str());
                }
                sql.push(")");
                let rows: Vec<(String, String)> = sql.query_as().fetch_all(&mut *conn).await?;
                out.extend(docs::<Plan>(rows)?);
            }
            Ok(out)
        }
        .traced(self.span("SELECT", "visit_plans", "visits.plans_of_customers"))
        .await
    }

    /// Inserts new plans with their first visits in one transaction, a few statements per
    /// thousand rows; a plan whose customer has one already (a concurrent event) is skipped
    /// with its visits. Returns the ids of the plans inserted.
    pub async fn insert_plans(
        &self,
        plans: &[(Plan, DateTime<Utc>)],
        visits: &[Visit],
    ) -> Result<Vec<String>, StoreError> {
        if plans.is_empty() {
            return Ok(Vec::new());
        }
        async {
            let mut tx = db::begin(&self.pool).await?;
            let mut inserted: Vec<String> = Vec::with_capacity(plans.len());
            for chunk in plans.chunks(CHUNK) {
                let mut sql = Sql::new(
                    "INSERT INTO visit_plans (id, customer_id, owner_agent_id, tier, key_account, \
                     state, next_due_time, sweep_time, doc, version, create_time, update_time) \
                     VALUES ",
                );
                for (i, (plan, sweep)) in chunk.iter().enumerate() {
                    sql.push(if i == 0 { "(" } else { ", (" })
                        .bind("$?", plan.id.as_str())
                        .bind(", $?", plan.customer_id.as_str())
                        .bind(", $?", plan.owner_agent_id.as_str())
                        .bind(", $?", plan.facts.tier.code())
                        .bind(", $?", i64::from(plan.facts.key_account))
                        .bind(", $?", plan.state.code())
                        .bind(", $?", next_due(plan))
                        .bind(", $?", sweep_micros(*sweep))
                        .bind(", $?", to_doc(plan))
                        .bind(", $?", plan.version)
                        .bind(", $?", plan.create_time.timestamp_micros())
                        .bind(", $?)", plan.update_time.timestamp_micros());
                }
                sql.push(" ON CONFLICT (customer_id) DO NOTHING RETURNING id");
                let rows: Vec<(String,)> = sql.query_as().fetch_all(&mut *tx).await?;
                inserted.extend(rows.into_iter().map(|(id,)| id));
            }
            let kept: std::collections::HashSet<&str> =
                inserted.iter().map(String::as_str).collect();
            let visits: Vec<&Visit> = visits
                .iter()
                .filter(|v| kept.contains(v.plan_id.as_str()))
                .collect();
            insert_visits(&mut tx, &visits).await?;
            let now = plans
                .iter()
                .map(|(p, _)| p.update_time.timestamp_micros())
                .max()
                .unwrap_or_default();
            let plan_ids: Vec<&str> = inserted.iter().map(String::as_str).collect();
            audit::record_many(&mut tx, PLAN, &plan_ids, now).await?;
            let visit_ids: Vec<&str> = visits.iter().map(|v| v.id.as_str()).collect();
            audit::record_many(&mut tx, VISIT, &visit_ids, now).await?;
            tx.commit().await?;
            Ok(inserted)
        }
        .traced(self.span("INSERT", "visit_plans", "visits.insert_plans"))
        .await
    }

    /// Returns a customer's plan.
    pub async fn plan_of_customer(&self, customer_id: &str) -> Result<Option<Plan>, StoreError> {
        async {
            let mut conn = db::acquire(&self.pool).await?;
            let row: Option<(String, String)> =
                sqlx::query_as("SELECT id, doc FROM visit_plans WHERE customer_id = $1")
                    .bind(customer_id)
                    .fetch_optional(&mut *conn)
                    .await?;
            row.map(|(id, doc)| from_doc(&id, &doc)).transpose()
        }
        .traced(self.span("SELECT", "visit_plans", "visits.plan_of_customer"))
        .await
    }

    /// Saves a changed plan with its plan visits and events if nobody changed the plan (or
    /// one of those visits) since it was read; false when someone did (nothing written).
    pub async fn save_plan(
        &self,
        plan: &Plan,
        read_version: i64,
        visits: &PlanVisits,
        events: &[NewEvent],
        key: Option<(&Key, &Recorded)>,
        sweep_time: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        async {
            let mut tx = db::begin(&self.pool).await?;
            let saved = sqlx::query(
                "UPDATE visit_plans SET owner_agent_id = $1, tier = $2, key_account = $3, \
                 state = $4, next_due_time = $5, sweep_time = $6, doc = $7, version = $8, \
                 update_time = $9 \
                 WHERE id = $10 AND version = $11",
            )
            .bind(&plan.owner_agent_id)
            .bind(plan.facts.tier.code())
            .bind(i64::from(plan.facts.key_account))
            .bind(plan.state.code())
            .bind(next_due(plan))
            .bind(sweep_micros(sweep_time))
            .bind(to_doc(plan))
            .bind(plan.version)
            .bind(plan.update_time.timestamp_micros())
            .bind(&plan.id)
            .bind(read_version)
            .execute(&mut *tx)
            .await?;
            if saved.rows_affected() != 1 {
                return Ok(false);
            }
            for visit in &visits.create {
                insert_visit(&mut tx, visit).await?;
            }
            for (visit, read) in &visits.update {
                if !update_visit(&mut tx, visit, *read).await? {
                    return Ok(false);
                }
            }
            let now = plan.update_time.timestamp_micros();
            outbox::record_change(&mut tx, key, events, now).await?;
            audit::record(&mut tx, PLAN, &plan.id, now).await?;
            let visit_ids: Vec<&str> = visits
                .create
                .iter()
                .chain(visits.update.iter().map(|(v, _)| v))
                .map(|v| v.id.as_str())
                .collect();
            audit::record_many(&mut tx, VISIT, &visit_ids, now).await?;
            tx.commit().await?;
            self.published(events.len());
            Ok(true)
        }
        .traced(self.span("UPDATE", "visit_plans", "visits.save_plan"))
        .await
    }

    /// Returns up to `limit` plans after `after` in (create_time, id) order.
    pub async fn list_plans(
        &self,
        filter: &PlanFilter,
        after: Option<&Cursor>,
        limit: u32,
        now: DateTime<Utc>,
    ) -> Result<Vec<Plan>, StoreError> {
        async {
            let PlanFilter {
                owner_agent_id,
                customer_id,
                tier,
                key_account,
                overdue_only,
                next_due_before,
                state,
            } = filter;
            let mut sql = Sql::new("SELECT id, doc FROM visit_plans WHERE 1 = 1");
            if let Some(owner) = owner_agent_id {
                sql.bind(" AND owner_agent_id = $?", owner.as_str());
            }
            if let Some(customer) = customer_id {
                sql.bind(" AND customer_id = $?", customer.as_str());
            }
            if let Some(tier) = tier {
                sql.bind(" AND tier = $?", tier.code());
            }
            if let Some(key_account) = key_account {
                sql.bind(" AND key_account = $?", i64::from(*key_account));
            }
            if *overdue_only {
                sql.bind(
                    " AND next_due_time > 0 AND next_due_time < $?",
                    now.timestamp_micros(),
                );
            }
            if let Some(before) = next_due_before {
                sql.bind(
                    " AND next_due_time > 0 AND next_due_time < $?",
                    before.timestamp_micros(),
                );
            }
            if let Some(state) = state {
                sql.bind(" AND state = $?", state.code());
            }
            if let Some(cursor) = after {
                sql.after("create_time", cursor.key, cursor.id.as_str());
            }
            sql.bind(" ORDER BY create_time, id LIMIT $?", i64::from(limit));
            let mut conn = db::acquire(&self.pool).await?;
            let rows: Vec<(String, String)> = sql.query_as().fetch_all(&mut *conn).await?;
            db::returned_rows(rows.len());
            docs(rows)
        }
        .traced(self.span("SELECT", "visit_plans", "visits.list_plans"))
        .await
    }

    /// Ids of up to `limit` plans the sweep must look at by `now`.
    pub async fn plans_to_sweep(
        &self,
        now: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<String>, StoreError> {
        async {
            let mut conn = db::acquire(&self.pool).await?;
            let rows: Vec<(String,)> = sqlx::query_as(
                "SELECT id FROM visit_plans WHERE sweep_time <= $1 ORDER BY sweep_time LIMIT $2",
            )
            .bind(now.timestamp_micros())
            .bind(i64::from(limit))
            .fetch_all(&mut *conn)
            .await?;
            db::returned_rows(rows.len());
            Ok(rows.into_iter().map(|(id,)| id).collect())
        }
        .traced(self.span("SELECT", "visit_plans", "visits.plans_to_sweep"))
        .await
    }
}

fn sweep_micros(t: DateTime<Utc>) -> i64 {
    if t == DateTime::<Utc>::MAX_UTC {
        i64::MAX
    } else {
        t.timestamp_micros()
    }
}
