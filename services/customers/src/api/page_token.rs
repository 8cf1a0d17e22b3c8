//! Opaque page tokens: the keyset position after the last row of a page, bound to the filters
//! that produced it (a token reused with other filters is rejected rather than misread).

use csops_runtime::page_token;

use crate::domain::Customer;
use crate::store::{ArchiveFilter, Cursor, ListFilter};

/// A decoded page token.
#[derive(Debug)]
pub(crate) struct PageToken {
    pub(crate) cursor: Cursor,
    fingerprint: u64,
}

impl PageToken {
    /// Returns the token that continues after `last`.
    pub(crate) fn after(last: &Customer, fingerprint: u64) -> Self {
        Self {
            cursor: Cursor {
                create_time: last.create_time,
                id: last.id.clone(),
            },
            fingerprint,
        }
    }

    pub(crate) fn encode(&self) -> String {
        page_token::encode(
            &page_token::Cursor {
                key: self.cursor.create_time,
                id: self.cursor.id.clone(),
            },
            self.fingerprint,
        )
    }

    /// Decodes a token, checking it was issued for the same filters.
    pub(crate) fn decode(token: &str, fingerprint: u64) -> Result<Self, &'static str> {
        let page_token::Cursor { key, id } = page_token::decode(token, fingerprint)?;
        Ok(Self {
            cursor: Cursor {
                create_time: key,
                id,
            },
            fingerprint,
        })
    }
}

/// Returns a stable FNV-1a hash of the filters.
pub(crate) fn fingerprint(filter: &ListFilter) -> u64 {
    let ListFilter {
        tier,
        region,
        key_account,
        owner_agent_id,
        name_contains,
        phone_contains,
        archive,
        min_churn_risk,
    } = filter;
    let canonical = format!(
        "{}|{}|{:?}|{}|{}|{}|{}|{}",
        tier.map_or("", |t| t.code()),
        region.map_or("", |r| r.code()),
        key_account,
        owner_agent_id.as_deref().unwrap_or(""),
        name_contains.as_deref().unwrap_or(""),
        phone_contains.as_deref().unwrap_or(""),
        match archive {
            ArchiveFilter::Active => "active",
            ArchiveFilter::Archived => "archived",
            ArchiveFilter::All => "all",
        },
        min_churn_risk.map_or(0, |level| level.rank()),
    );
    page_token::fingerprint(&canonical)
}
