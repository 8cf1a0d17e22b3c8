//! A customer who left, and why: counted by reason so the causes of churn are known.
//!
//! The reasons are those of the after-sales handbook's survey of why customers leave (seed
//! 002, "顾客流失的原因": staff indifference 48 %, product dissatisfaction 14 %, competition
//! and price 9 %, a relationship elsewhere 5 %, moved away 3 %, died 1 %, other 20 %; its
//! second list, "为什么客户会更换供应商", has the same causes with indifference at 68 %).

use chrono::{DateTime, Utc};
use csops_runtime::time::serde_micros;
use csops_runtime::{RuleError, Violations};
use serde::{Deserialize, Serialize};

use crate::domain::callback::CLOCK_SKEW;
use crate::domain::{coded, Actor};

/// Longest note of a loss, in characters.
pub const MAX_LOSS_NOTE: usize = 1_000;

coded! {
    /// Why a customer left (seed 002).
    pub enum LossReason {
        /// Staff were indifferent or cold (雇员态度冷漠, 态度冷淡): the most common reason.
        StaffIndifference = "staff_indifference",
        /// Unhappy with the product or its quality, the network included (对产品不满意,
        /// 服务/产品有问题).
        ProductDissatisfaction = "product_dissatisfaction",
        /// A competitor, on price (竞争/价格).
        CompetitionPrice = "competition_price",
        /// A personal relationship with another provider (与其他分销商有交情, 因为友情).
        RelationshipElsewhere = "relationship_elsewhere",
        /// Moved away (搬迁, 地理位置的变化).
        MovedAway = "moved_away",
        /// Died (死亡).
        Deceased = "deceased",
        /// Anything else: the note says what.
        Other = "other",
    }
}

impl LossReason {
    /// The reason in plain words, for reports.
    pub fn label(self) -> &'static str {
        match self {
            LossReason::StaffIndifference => "staff were indifferent",
            LossReason::ProductDissatisfaction => "unhappy with the product",
            LossReason::CompetitionPrice => "a competitor's price",
            LossReason::RelationshipElsewhere => "a relationship with another provider",
            LossReason::MovedAway => "moved away",
            LossReason::Deceased => "died",
            LossReason::Other => "other",
        }
    }

    /// True when the company could have prevented it (not a move or a death): the losses
    /// quality work can reduce.
    pub fn is_avoidable(self) -> bool {
        !matches!(self, LossReason::MovedAway | LossReason::Deceased)
    }
}

/// A loss as reported.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewCustomerLoss {
    /// The customer who left.
    pub customer_id: String,
    /// Why; `None` when the caller gave none (refused).
    pub reason: Option<LossReason>,
    /// In plain words; required for OTHER.
    pub note: String,
    /// When the customer left; `None`: now.
    pub loss_time: Option<DateTime<Utc>>,
}

/// A customer who left, validated.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CustomerLoss {
    /// The customer who left.
    pub customer_id: String,
    /// Why.
    pub reason: LossReason,
    /// In plain words, at most [`MAX_LOSS_NOTE`] characters.
    pub note: String,
    /// When the customer left.
    #[serde(with = "serde_micros")]
    pub loss_time: DateTime<Utc>,
    /// Who recorded it.
    pub recorded_by: Actor,
    /// When it was recorded.
    #[serde(with = "serde_micros")]
    pub create_time: DateTime<Utc>,
}

impl CustomerLoss {
    /// Validates a reported loss: customer id required (at most 100 characters), reason
    /// required, note at most 1000 characters and required for OTHER, loss time not in the
    /// future (a few minutes of clock difference are taken as now).
    pub fn record(
        new: NewCustomerLoss,
        actor: &Actor,
        now: DateTime<Utc>,
    ) -> Result<CustomerLoss, RuleError> {
        let NewCustomerLoss {
            customer_id,
            reason,
            note,
            loss_time,
        } = new;
        let mut v = Violations::default();
        v.require_id("customer_id", &customer_id);
        if reason.is_none() {
            v.push("reason", "is required: why the customer left");
        }
        if v.max_len("note", &note, MAX_LOSS_NOTE)
            && reason == Some(LossReason::Other)
            && note.trim().is_empty()
        {
            v.push("note", "is required for OTHER: say why the customer left");
        }
        let loss_time = loss_time.unwrap_or(now);
        if loss_time > now + CLOCK_SKEW {
            v.push("loss_time", "must not be in the future");
        }
        let Some(reason) = reason.filter(|_| v.is_empty()) else {
            return Err(RuleError::Invalid(v));
        };
        Ok(CustomerLoss {
            customer_id: customer_id.trim().to_owned(),
            reason,
            note: note.trim().to_owned(),
            loss_time: loss_time.min(now),
            recorded_by: actor.clone(),
            create_time: now,
        })
    }
}
