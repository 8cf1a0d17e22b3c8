//! The use cases of the visits service: the one place where a change runs (load, etag,
//! domain rule, save with its plan visits, events and retry key, retry on a lost race,
//! idempotent replay). The gRPC handlers call these; the sweep calls the same functions.

mod care;
mod customers;
mod field_jobs;
mod plans;
pub mod visits;

use chrono::{DateTime, NaiveDate, Utc};
use csops_runtime::outbox::NewEvent;
use csops_sla::{Calendar, Policy, VisitRules};
use tokio_util::sync::CancellationToken;

pub use customers::{Applied, Replanned};
pub use plans::PlanInput;
pub use visits::{Agenda, Booked};

use crate::clients::CustomersClient;
use crate::domain::plan::Planning;
use crate::domain::{new_id, Outgoing, Zone};
use crate::store::Store;

/// The rules a deployment configures.
#[derive(Debug, Clone)]
pub struct Rules {
    /// The SLA policy (field-job limits).
    pub policy: Policy,
    /// Its `[visits]` table: cadence, in-person rule, horizon, grace, care.
    pub visits: VisitRules,
    /// The calendar visit days fall on.
    pub calendar: Calendar,
    /// The deployment's time zone.
    pub zone: Zone,
    /// The most bookings per person and day.
    pub max_daily_bookings: u32,
    /// Who gets a visit nobody else is named for.
    pub default_agent: String,
}

impl Rules {
    /// What plans are planned with.
    pub fn planning(&self) -> Planning<'_> {
        Planning {
            rules: &self.visits,
            calendar: &self.calendar,
            zone: self.zone,
        }
    }

    /// Today in the deployment's time zone.
    pub fn today(&self, now: DateTime<Utc>) -> NaiveDate {
        self.zone.date(now)
    }
}

/// What the API and the sweep share.
#[derive(Debug)]
pub struct Visits {
    /// Storage.
    pub store: Store,
    /// Configured rules.
    pub rules: Rules,
    /// The customers service.
    pub customers: CustomersClient,
    /// Cancelled when the process stops.
    pub stop: CancellationToken,
}

/// The outbox event of an outgoing message to feedback.
pub(crate) fn event(outgoing: &Outgoing) -> NewEvent {
    NewEvent {
        id: new_id("vev"),
        destination: "feedback",
        kind: outgoing.kind(),
        aggregate_id: outgoing.aggregate_id().to_owned(),
        // Serialising a plain enum cannot fail.
        payload: serde_json::to_string(outgoing).unwrap_or_default(),
    }
}

fn not_found(what: &str, id: &str) -> csops_runtime::Error {
    csops_runtime::Error::NotFound(format!("{what} {id} not found"))
}
