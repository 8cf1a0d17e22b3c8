//! Paging for every List RPC: page sizes, and opaque page tokens that are versioned, bound to
//! the filters of the first page and tamper-evident.
//!
//! A token is the keyset position after the last row of a page (its sort key and id), the
//! digest of the listing's canonical [`Filters`], a format version and an HMAC-SHA256 tag under
//! a key every replica of a service shares (`CSOPS_PAGE_TOKEN_SECRET`, else derived from the
//! database URL, which replicas share and which carries the password in production). A token
//! that was edited, forged, or issued for other filters is refused with INVALID_ARGUMENT on
//! `page_token`, never misread. The filters are described field by field with explicit names,
//! so renaming a Rust field or reordering a struct does not invalidate tokens clients hold.

use std::fmt;
use std::sync::Arc;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

use crate::violations::Violations;

/// The largest page any List RPC returns.
pub const MAX_PAGE_SIZE: u32 = 500;

/// The token format this build writes; a token of another version is refused.
const VERSION: u8 = 1;
const DIGEST_LEN: usize = 16;
const KEY_LEN: usize = 8;
const TAG_LEN: usize = 16;
/// Ids are at most 100 characters; anything longer was not issued here.
const MAX_ID_LEN: usize = 256;

/// Reads a request's `page_size`: 0 means `default`; a negative or too large size is a
/// violation on `page_size` (and `default` is returned so validation can go on).
pub fn page_size(size: i32, default: u32, v: &mut Violations) -> u32 {
    match u32::try_from(size) {
        Ok(0) => default,
        Ok(n) if n <= MAX_PAGE_SIZE => n,
        _ => {
            v.push(
                "page_size",
                format!("must be 0-{MAX_PAGE_SIZE} (0 means {default})"),
            );
            default
        }
    }
}

/// The keyset position after the last row of a page: its sort key (a time or a sequence) and
/// its id, which breaks ties.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cursor {
    /// Sort key of the last row.
    pub key: i64,
    /// Id of the last row.
    pub id: String,
}

/// The canonical description of a listing's filters: the listing's name, then each filter by
/// an explicit name in the order the RPC adds them. Values are length-prefixed, so no value can
/// imitate another field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Filters(String);

impl Filters {
    /// Starts the description of one listing, e.g. `Filters::new("ListComplaints")`.
    pub fn new(listing: &str) -> Self {
        Self(format!("{listing};"))
    }

    /// Adds one filter value.
    #[must_use]
    pub fn with(mut self, name: &str, value: impl fmt::Display) -> Self {
        let value = value.to_string();
        self.0.push_str(&format!("{name}={}:{value};", value.len()));
        self
    }

    /// Adds a filter that holds several values (their order counts).
    #[must_use]
    pub fn with_all<I>(mut self, name: &str, values: I) -> Self
    where
        I: IntoIterator,
        I::Item: fmt::Display,
    {
        let values: Vec<String> = values.into_iter().map(|v| v.to_string()).collect();
        self.0.push_str(&format!("{name}=["));
        for value in values {
            self.0.push_str(&format!("{}:{value},", value.len()));
        }
        self.0.push_str("];");
        self
    }

    fn digest(&self) -> [u8; DIGEST_LEN] {
        let full = Sha256::digest(self.0.as_bytes());
        let mut digest = [0; DIGEST_LEN];
        digest.copy_from_slice(&full[..DIGEST_LEN]);
        digest
    }
}

/// Issues and checks the page tokens of one service.
#[derive(Clone)]
pub struct PageTokens {
    key: Arc<[u8; 32]>,
}

impl fmt::Debug for PageTokens {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PageTokens { key: <secret> }")
    }
}

impl PageTokens {
    /// Signs tokens with a key derived from `secret` (shared by every replica of the service).
    pub fn new(secret: &[u8]) -> Self {
        let mut hasher = Sha256::new();
        hasher.update(b"csops page tokens\0");
        hasher.update(secret);
        Self {
            key: Arc::new(hasher.finalize().into()),
        }
    }

    fn mac(&self) -> Hmac<Sha256> {
        // HMAC takes a key of any length; 32 bytes always fit.
        <Hmac<Sha256> as Mac>::new_from_slice(self.key.as_slice())
            .unwrap_or_else(|_| unreachable!("hmac accepts any key length"))
    }

    /// Returns the token for the position after `cursor` in the listing described by
    /// `filters`.
    pub fn encode(&self, cursor: &Cursor, filters: &Filters) -> String {
        let mut bytes = Vec::with_capacity(1 + DIGEST_LEN + KEY_LEN + cursor.id.len() + TAG_LEN);
        bytes.push(VERSION);
        bytes.extend_from_slice(&filters.digest());
        bytes.extend_from_slice(&cursor.key.to_be_bytes());
        bytes.extend_from_slice(cursor.id.as_bytes());
        let mut mac = self.mac();
        mac.update(&bytes);
        let tag = mac.finalize().into_bytes();
        bytes.extend_from_slice(&tag[..TAG_LEN]);
        URL_SAFE_NO_PAD.encode(bytes)
    }

    /// Decodes a token, checking its version, its tag and that it was issued for the same
    /// filters; the error completes the sentence "page_token …".
    pub fn decode(&self, token: &str, filters: &Filters) -> Result<Cursor, &'static str> {
        const FOREIGN: &str = "is not a token issued by this service";
        let bytes = URL_SAFE_NO_PAD.decode(token).map_err(|_| FOREIGN)?;
        let min = 1 + DIGEST_LEN + KEY_LEN + TAG_LEN;
        if bytes.len() < min || bytes.len() > min + MAX_ID_LEN {
            return Err(FOREIGN);
        }
        let (signed, tag) = bytes.split_at(bytes.len() - TAG_LEN);
        let mut mac = self.mac();
        mac.update(signed);
        mac.verify_truncated_left(tag).map_err(|_| FOREIGN)?;
        if signed[0] != VERSION {
            return Err("was issued by another version of the service; start from the first page");
        }
        let (digest, rest) = signed[1..].split_at(DIGEST_LEN);
        if digest != filters.digest() {
            return Err("was issued for other filters; repeat the filters of the first page");
        }
        let (key, id) = rest.split_at(KEY_LEN);
        let mut key_bytes = [0; KEY_LEN];
        key_bytes.copy_from_slice(key);
        let id = String::from_utf8(id.to_vec()).map_err(|_| FOREIGN)?;
        Ok(Cursor {
            key: i64::from_be_bytes(key_bytes),
            id,
        })
    }

    /// Reads a request's `page_token`: `None` for the first page, else the cursor, or a
    /// violation on `page_token`.
    pub fn read(&self, token: &str, filters: &Filters, v: &mut Violations) -> Option<Cursor> {
        if token.is_empty() {
            return None;
        }
        match self.decode(token, filters) {
            Ok(cursor) => Some(cursor),
            Err(why) => {
                v.push("page_token", why);
                None
            }
        }
    }

    /// Cuts rows fetched with `limit + 1` to one page, and returns the token of the next page
    /// (empty on the last page).
    pub fn page<T>(
        &self,
        mut rows: Vec<T>,
        limit: u32,
        filters: &Filters,
        cursor_of: impl Fn(&T) -> Cursor,
    ) -> (Vec<T>, String) {
        let limit = limit as usize;
        let more = rows.len() > limit;
        rows.truncate(limit);
        let next = match (more, rows.last()) {
            (true, Some(last)) => self.encode(&cursor_of(last), filters),
            _ => String::new(),
        };
        (rows, next)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use proptest::prelude::*;

    use super::*;

    fn tokens() -> PageTokens {
        PageTokens::new(b"test secret")
    }

    fn cursor() -> Cursor {
        Cursor {
            key: 1_700_000_000_000_000,
            id: "cmp_0192".to_owned(),
        }
    }

    #[test]
    fn a_token_round_trips_for_the_same_filters() {
        let filters = Filters::new("ListComplaints").with("state", "open");
        let token = tokens().encode(&cursor(), &filters);
        assert_eq!(tokens().decode(&token, &filters).unwrap(), cursor());
    }

    #[test]
    fn a_token_is_refused_for_other_filters_with_a_hint() {
        let token = tokens().encode(&cursor(), &Filters::new("L").with("state", "open"));
        let why = tokens()
            .decode(&token, &Filters::new("L").with("state", "closed"))
            .unwrap_err();
        assert!(why.contains("other filters"), "{why}");
    }

    #[test]
    fn a_token_from_another_key_or_garbage_is_refused() {
        let filters = Filters::new("L");
        let token = tokens().encode(&cursor(), &filters);
        assert!(PageTokens::new(b"other").decode(&token, &filters).is_err());
        assert!(tokens().decode("garbage", &filters).is_err());
        assert!(tokens().decode("", &filters).is_err());
    }

    #[test]
    fn a_token_of_another_version_is_refused_even_when_signed() {
        let filters = Filters::new("L");
        let t = tokens();
        let mut bytes = URL_SAFE_NO_PAD
            .decode(t.encode(&cursor(), &filters))
            .unwrap();
        bytes.truncate(bytes.len() - TAG_LEN);
        bytes[0] = 2;
        let mut mac = t.mac();
        mac.update(&bytes);
        let tag = mac.finalize().into_bytes();
        bytes.extend_from_slice(&tag[..TAG_LEN]);
        let why = t
            .decode(&URL_SAFE_NO_PAD.encode(bytes), &filters)
            .unwrap_err();
        assert!(why.contains("another version"), "{why}");
    }

    #[test]
    fn values_cannot_imitate_other_fields() {
        let a = Filters::new("L").with("a", "x;b=1:y").with("b", "");
        let b = Filters::new("L").with("a", "x").with("b", "y");
        assert_ne!(a.digest(), b.digest());
        let a = Filters::new("L").with_all("s", ["a,b"]);
        let b = Filters::new("L").with_all("s", ["a", "b"]);
        assert_ne!(a.digest(), b.digest());
    }

    #[test]
    fn page_cuts_to_the_limit_and_tokens_only_when_more_rows_exist() {
        let t = tokens();
        let filters = Filters::new("L");
        let cursor_of = |n: &i64| Cursor {
            key: *n,
            id: n.to_string(),
        };
        let (rows, next) = t.page(vec![1, 2, 3], 2, &filters, cursor_of);
        assert_eq!(rows, [1, 2]);
        assert_eq!(t.decode(&next, &filters).unwrap().key, 2);
        let (rows, next) = t.page(vec![1, 2], 2, &filters, cursor_of);
        assert_eq!(rows, [1, 2]);
        assert!(next.is_empty());
    }

    #[test]
    fn page_size_defaults_and_bounds() {
        let mut v = Violations::default();
        assert_eq!(page_size(0, 50, &mut v), 50);
        assert_eq!(page_size(500, 50, &mut v), 500);
        assert!(v.is_empty());
        page_size(501, 50, &mut v);
        page_size(-1, 50, &mut v);
        assert_eq!(v.0.len(), 2);
        assert_eq!(v.0[0].field, "page_size");
    }

    proptest! {
        #[test]
        fn any_single_byte_change_is_detected(
            key in any::<i64>(),
            id in "[a-z0-9_]{0,40}",
            at in any::<prop::sample::Index>(),
            flip in 1u8..=255,
        ) {
            let t = tokens();
            let filters = Filters::new("L").with("x", 1);
            let cursor = Cursor { key, id };
            let token = t.encode(&cursor, &filters);
            prop_assert_eq!(t.decode(&token, &filters).unwrap(), cursor);
            let mut bytes = URL_SAFE_NO_PAD.decode(&token).unwrap();
            let i = at.index(bytes.len());
            bytes[i] ^= flip;
            prop_assert!(t.decode(&URL_SAFE_NO_PAD.encode(bytes), &filters).is_err());
        }
    }
}
