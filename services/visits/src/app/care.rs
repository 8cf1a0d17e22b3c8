//! Care-event use cases: list and skip (its visit is cancelled).

use csops_runtime::paging::Cursor;
use csops_runtime::{time, Error};

use super::{not_found, Visits};
use crate::domain::care::{CareEvent, CareState};
use crate::store::CareFilter;

impl Visits {
    /// Lists care events.
    pub async fn list_care(
        &self,
        filter: &CareFilter,
        after: Option<&Cursor>,
        limit: u32,
    ) -> Result<Vec<CareEvent>, Error> {
        Ok(self.store.list_care(filter, after, limit).await?)
    }

    /// UPCOMING → SKIPPED with a reason; its visit, if still open, is cancelled with it.
    pub async fn skip_care(&self, id: &str, reason: &str) -> Result<CareEvent, Error> {
        for _ in 0..csops_runtime::change::ATTEMPTS {
            let mut care = self
                .store
                .get_care(id)
                .await?
                .ok_or_else(|| not_found("care event", id))?;
            if care.state != CareState::Upcoming {
                return Err(Error::precondition_on(
                    "STATE",
                    format!("care event {id}"),
                    format!(
                        "care event {id} is {}; only an upcoming one can be skipped",
                        care.state.code()
                    ),
                ));
            }
            let now = time::now();
            let read = care.version;
            care.state = CareState::Skipped;
            care.skip_reason = reason.to_owned();
            care.version += 1;
            let visit = match care.visit_id.as_str() {
                "" => None,
                visit_id => self.store.get_visit(visit_id).await?,
            };
            let cancelled = visit.and_then(|v| {
                let read = v.version;
                let mut v = v;
                v.cancel(format!("care skipped: {reason}"), now).ok()?;
                v.version += 1;
                v.update_time = now;
                Some((v, read))
            });
            if self
                .store
                .save_care(&care, read, cancelled.as_ref().map(|(v, r)| (v, *r)))
                .await?
            {
                return Ok(care);
            }
        }
        Err(Error::Aborted(format!(
            "care event {id} kept changing; retry the call"
        )))
    }
}
