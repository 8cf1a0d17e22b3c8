//! Rows as they are read, before they become domain values.

use super::callbacks::{Delivery, Stored};
use super::{from_doc, StoreError};

/// A row read for its document alone (templates, surveys).
#[derive(Debug, sqlx::FromRow)]
pub(super) struct DocRow {
    pub(super) id: String,
    pub(super) doc: String,
}

/// A callback row: its document and the delivery columns the relay updates.
#[derive(Debug, sqlx::FromRow)]
pub(super) struct CallbackRow {
    pub(super) id: String,
    pub(super) doc: String,
    pub(super) complaint_delivery: String,
}

impl TryFrom<CallbackRow> for Stored {
    type Error = StoreError;

    fn try_from(row: CallbackRow) -> Result<Self, StoreError> {
        let CallbackRow {
            id,
            doc,
            complaint_delivery,
        } = row;
        let delivery = match complaint_delivery.as_str() {
            "" => Delivery::None,
            "pending" => Delivery::Pending,
            "delivered" => Delivery::Delivered,
            other => {
                return Err(StoreError::Corrupt {
                    id,
                    what: format!("unknown complaint_delivery {other:?}"),
                })
            }
        };
        Ok(Stored {
            callback: from_doc(&id, &doc)?,
            delivery,
        })
    }
}
