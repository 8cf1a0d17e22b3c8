-- The service kit's retry table (libs/runtime/src/idempotency.rs), in every service's database:
-- the first result of each (scope, request_id). Portable between SQLite and PostgreSQL.
CREATE TABLE idempotency_keys (
    -- The RPC, e.g. 'create' or 'note'.
    scope        TEXT NOT NULL,
    -- The caller's key.
    request_id   TEXT NOT NULL,
    -- Digest of the request the key was first used with ('' for keys recorded before digests).
    request_hash TEXT NOT NULL,
    -- The resource the first call created or changed.
    resource_id  TEXT NOT NULL,
    -- What inside it the first call produced (an entry, a promise), or ''.
    ref_id       TEXT NOT NULL,
    create_time  BIGINT NOT NULL,
    PRIMARY KEY (scope, request_id)
);
