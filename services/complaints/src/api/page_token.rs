//! Opaque page tokens: the keyset position after the last row of a page, bound to the filters
//! that produced it (a token reused with other filters is rejected rather than misread).

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde::{Deserialize, Serialize};

use crate::store::Cursor;

#[derive(Debug, Serialize, Deserialize)]
struct Wire {
    t: i64,
    i: String,
    f: u64,
}

/// Encodes the position after (`time`, `id`) for filters with `fingerprint`.
pub(crate) fn encode(time: i64, id: &str, fingerprint: u64) -> String {
    let wire = Wire {
        t: time,
        i: id.to_owned(),
        f: fingerprint,
    };
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(&wire).unwrap_or_default())
}

/// Decodes a token, checking it was issued for the same filters.
pub(crate) fn decode(token: &str, fingerprint: u64) -> Result<Cursor, &'static str> {
    let bytes = URL_SAFE_NO_PAD
        .decode(token)
        .map_err(|_| "is not a token issued by this service")?;
    let wire: Wire =
        serde_json::from_slice(&bytes).map_err(|_| "is not a token issued by this service")?;
    if wire.f != fingerprint {
        return Err("was issued for other filters; repeat the filters of the first page");
    }
    Ok(Cursor {
        time: wire.t,
        id: wire.i,
    })
}

/// A stable FNV-1a hash of a canonical description of the filters.
pub(crate) fn fingerprint(canonical: &str) -> u64 {
    canonical.bytes().fold(0xcbf2_9ce4_8422_2325, |hash, byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3)
    })
}
