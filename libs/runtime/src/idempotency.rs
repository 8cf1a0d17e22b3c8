//! Safe retries: a call that carries a `request_id` runs once; a repeat with the same request
//! answers what the first call produced; the same `request_id` with a different request is
//! ALREADY_EXISTS. One table shape for every service (`idempotency_keys`, created by the kit's
//! migrations); the key is recorded in the transaction of the change it made, so a crash can
//! never leave a change without its key or a key without its change.

use sha2::{Digest, Sha256};
use sqlx::{AnyConnection, AnyPool, Row};

use crate::db::{StoreError, Traced as _};
use crate::error::Error;

/// A caller's retry key for one kind of call, with the digest of the request it came with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Key {
    /// The kind of call, e.g. `create` or `note`.
    pub scope: &'static str,
    /// The caller's key.
    pub request_id: String,
    /// Digest of the request's protobuf encoding.
    pub request_hash: String,
}

impl Key {
    /// Builds the key of `request` (its protobuf encoding is digested, so the same key sent
    /// with another request is told apart from a retry).
    pub fn new(scope: &'static str, request_id: &str, request: &impl prost::Message) -> Self {
        let digest = Sha256::digest(request.encode_to_vec());
        Self {
            scope,
            request_id: request_id.to_owned(),
            request_hash: digest[..16].iter().map(|b| format!("{b:02x}")).collect(),
        }
    }
}

/// What the first call with a key produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recorded {
    /// The resource it created or changed.
    pub resource_id: String,
    /// What inside the resource it produced (an entry, a promise), or empty.
    pub ref_id: String,
}

/// Returns what the first call with `key` produced, if it ran; a key first used with another
/// request is ALREADY_EXISTS.
pub async fn find(pool: &AnyPool, key: &Key) -> Result<Option<Recorded>, Error> {
    let row = sqlx::query(
        "SELECT request_hash, resource_id, ref_id FROM idempotency_keys \
         WHERE scope = $1 AND request_id = $2",
    )
    .bind(key.scope)
    .bind(&key.request_id)
    .fetch_optional(pool)
    .traced(crate::db::span(
        crate::db::system(pool),
        "SELECT",
        "idempotency_keys",
        "retry_keys.find",
    ))
    .await
    .map_err(StoreError::from)?;
    let Some(row) = row else {
        return Ok(None);
    };
    let hash: String = row.try_get("request_hash").map_err(StoreError::from)?;
    // Keys recorded before digests existed have none; they replay as before.
    if !hash.is_empty() && hash != key.request_hash {
        return Err(Error::AlreadyExists(format!(
            "request_id {:?} was already used for a different request; use a new request_id \
             for a new request",
            key.request_id
        )));
    }
    Ok(Some(Recorded {
        resource_id: row.try_get("resource_id").map_err(StoreError::from)?,
        ref_id: row.try_get("ref_id").map_err(StoreError::from)?,
    }))
}

/// Records `key` with what its call produced, on the connection (transaction) of the change.
/// A key recorded by another call first fails with [`StoreError::Duplicate`]: the caller then
/// answers with [`find`].
pub async fn record(
    conn: &mut AnyConnection,
    key: &Key,
    produced: &Recorded,
    now_micros: i64,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO idempotency_keys (scope, request_id, request_hash, resource_id, ref_id, \
         create_time) VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(key.scope)
    .bind(&key.request_id)
    .bind(&key.request_hash)
    .bind(&produced.resource_id)
    .bind(&produced.ref_id)
    .bind(now_micros)
    .execute(conn)
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn the_same_request_has_the_same_key_and_another_request_another_digest() {
        let a = Key::new(
            "create",
            "r1",
            &prost_types::Timestamp {
                seconds: 1,
                nanos: 0,
            },
        );
        let b = Key::new(
            "create",
            "r1",
            &prost_types::Timestamp {
                seconds: 1,
                nanos: 0,
            },
        );
        let c = Key::new(
            "create",
            "r1",
            &prost_types::Timestamp {
                seconds: 2,
                nanos: 0,
            },
        );
        assert_eq!(a, b);
        assert_ne!(a.request_hash, c.request_hash);
        assert_eq!(a.request_hash.len(), 32);
    }

    #[tokio::test]
    async fn a_key_replays_its_first_result_and_refuses_another_request() {
        let dir = tempfile::tempdir().unwrap();
        let pool = crate::db::tests::sqlite(&dir).await;
        let first = Key::new(
            "create",
            "r1",
            &prost_types::Timestamp {
                seconds: 1,
                nanos: 0,
            },
        );
        assert_eq!(find(&pool, &first).await.unwrap(), None);
        let produced = Recorded {
            resource_id: "cus_1".into(),
            ref_id: String::new(),
        };
        let mut conn = pool.acquire().await.unwrap();
        record(&mut conn, &first, &produced, 1).await.unwrap();
        assert!(matches!(
            record(&mut conn, &first, &produced, 2).await,
            Err(StoreError::Duplicate(_))
        ));
        assert_eq!(find(&pool, &first).await.unwrap(), Some(produced));
        let other = Key::new(
            "create",
            "r1",
            &prost_types::Timestamp {
                seconds: 9,
                nanos: 0,
            },
        );
        let error = find(&pool, &other).await.unwrap_err();
        assert_eq!(
            tonic::Status::from(error).code(),
            tonic::Code::AlreadyExists
        );
    }
}
