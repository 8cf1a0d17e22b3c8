//! Opaque page tokens: the keyset position after the last row of a page, bound to the filters
//! that produced it (a token reused with other filters is rejected rather than misread).

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde::{Deserialize, Serialize};

use crate::domain::Customer;
use crate::store::{ArchiveFilter, Cursor, ListFilter};

#[derive(Debug, Serialize, Deserialize)]
struct Wire {
    /// create_time of the last row.
    t: i64,
    /// id of the last row.
    i: String,
    /// Fingerprint of the filters.
    f: u64,
}

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
        let wire = Wire {
            t: self.cursor.create_time,
            i: self.cursor.id.clone(),
            f: self.fingerprint,
        };
        URL_SAFE_NO_PAD.encode(serde_json::to_vec(&wire).unwrap_or_default())
    }

    /// Decodes a token, checking it was issued for the same filters.
    pub(crate) fn decode(token: &str, fingerprint: u64) -> Result<Self, &'static str> {
        let bytes = URL_SAFE_NO_PAD
            .decode(token)
            .map_err(|_| "is not a token issued by this service")?;
        let wire: Wire =
            serde_json::from_slice(&bytes).map_err(|_| "is not a token issued by this service")?;
        if wire.f != fingerprint {
            return Err("was issued for other filters; repeat the filters of the first page");
        }
        Ok(Self {
            cursor: Cursor {
                create_time: wire.t,
                id: wire.i,
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
    canonical.bytes().fold(0xcbf2_9ce4_8422_2325, |hash, byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3)
    })
}
