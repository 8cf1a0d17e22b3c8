//! The use cases of the feedback service: the one place where a change runs (load, etag,
//! domain rule, save with its events and retry key, retry on a lost race, idempotent replay).
//! The gRPC handlers call these; background work will call the same functions.

mod activities;
mod callbacks;
mod churn;
mod scorecards;
mod scores;
mod staff;
mod surveys;

use csops_runtime::outbox::NewEvent;
use tokio_util::sync::CancellationToken;

use crate::domain::callback::CallbackRules;
use crate::domain::churn::ChurnRules;
use crate::domain::survey::SurveyRules;
use crate::events::Outgoing;
use crate::store::Store;

/// The rules a deployment configures.
#[derive(Debug, Clone)]
pub struct Rules {
    /// The callback window, the fix limit of a finding and the unreached attempts that end a
    /// callback.
    pub callbacks: CallbackRules,
    /// Where survey grades start and where a side of the service-type quadrant is high.
    pub surveys: SurveyRules,
    /// When silence, unanswered surveys or falling scores raise a churn-risk signal.
    pub churn: ChurnRules,
    /// The repeat-complaint window and the on-time target of the process indicators (and of
    /// the scorecards' repeat-complaint rate).
    pub indicators: crate::domain::indicators::IndicatorRules,
}

/// What the API and background work share.
#[derive(Debug)]
pub struct Feedback {
    /// Storage.
    pub store: Store,
    /// Configured rules.
    pub rules: Rules,
    /// The customers service (consents and tiers; the files the churn detector walks).
    pub customers: crate::clients::Customers,
    /// Cancelled when the process stops.
    pub stop: CancellationToken,
}

/// A new id: `<prefix>_<uuid v7>` (time-ordered).
pub(crate) fn new_id(prefix: &str) -> String {
    format!("{prefix}_{}", uuid::Uuid::now_v7().simple())
}

/// The outbox event of an outgoing message.
pub(crate) fn event(outgoing: &Outgoing) -> NewEvent {
    NewEvent {
        id: new_id("fev"),
        destination: outgoing.destination(),
        kind: outgoing.kind(),
        aggregate_id: outgoing.aggregate_id().to_owned(),
        // Serialising a plain enum cannot fail.
        payload: serde_json::to_string(outgoing).unwrap_or_default(),
    }
}

fn not_found(what: &str, id: &str) -> csops_runtime::Error {
    csops_runtime::Error::NotFound(format!("{what} {id} not found"))
}
