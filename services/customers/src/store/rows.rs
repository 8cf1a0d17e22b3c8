//! Rows as stored: one struct per table read, mapped to the domain with every column named.
//! Times are BIGINT microseconds since the epoch (0 for unset), JSON columns TEXT.

use csops_runtime::db::StoreError;
use csops_runtime::time::{from_micros, from_micros_opt};

use crate::domain::{ChurnSignal, Customer, Profile, Region, RiskLevel, State, Tier, TierChange};

/// A row of `customers`, as `SELECT {COLUMNS}` reads it.
#[derive(Debug, sqlx::FromRow)]
pub(super) struct CustomerRow {
    id: String,
    display_name: String,
    tier: String,
    key_account: i64,
    region: String,
    owner_agent_id: String,
    state: String,
    profile: String,
    tier_history: String,
    churn_signals: String,
    churn_risk: i64,
    version: i64,
    create_time: i64,
    update_time: i64,
    delete_time: i64,
}

/// The columns [`CustomerRow`] reads.
pub(super) const COLUMNS: &str = "id, display_name, tier, key_account, region, owner_agent_id, \
                                  state, profile, tier_history, churn_signals, churn_risk, version, \
                                  create_time, update_time, delete_time";

impl TryFrom<CustomerRow> for Customer {
    type Error = StoreError;

    fn try_from(row: CustomerRow) -> Result<Self, StoreError> {
        let CustomerRow {
            id,
            display_name,
            tier,
            key_account,
            region,
            owner_agent_id,
            state,
            profile,
            tier_history,
            churn_signals,
            churn_risk,
            version,
            create_time,
            update_time,
            delete_time,
        } = row;
        let corrupt = |what: String| StoreError::Corrupt {
            id: id.clone(),
            what,
        };
        Ok(Customer {
            display_name,
            tier: Tier::from_code(&tier).ok_or_else(|| corrupt(format!("tier {tier:?}")))?,
            key_account: key_account != 0,
            region: Region::from_code(&region)
                .ok_or_else(|| corrupt(format!("region {region:?}")))?,
            owner_agent_id,
            state: State::from_code(&state).ok_or_else(|| corrupt(format!("state {state:?}")))?,
            profile: serde_json::from_str::<Profile>(&profile)
                .map_err(|e| corrupt(format!("profile: {e}")))?,
            tier_history: serde_json::from_str::<Vec<TierChange>>(&tier_history)
                .map_err(|e| corrupt(format!("tier_history: {e}")))?,
            churn_signals: serde_json::from_str::<Vec<ChurnSignal>>(&churn_signals)
                .map_err(|e| corrupt(format!("churn_signals: {e}")))?,
            churn_level: RiskLevel::from_rank(churn_risk),
            version,
            create_time: from_micros(create_time),
            update_time: from_micros(update_time),
            delete_time: from_micros_opt(delete_time),
            id,
        })
    }
}
