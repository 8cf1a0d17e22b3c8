-- The customer file. One row holds the whole aggregate; nested parts (contacts, dates,
-- consents, tier history) are JSON text, written only through the service.
-- Portable between SQLite and PostgreSQL: BIGINT times in microseconds since the epoch,
-- BIGINT 0/1 flags, TEXT ids; "unset" is '' or 0, never NULL.
CREATE TABLE customers (
    id                   TEXT PRIMARY KEY,
    display_name         TEXT NOT NULL,
    search_name          TEXT NOT NULL,
    search_phones        TEXT NOT NULL,
    tier                 TEXT NOT NULL,
    key_account          BIGINT NOT NULL,
    region               TEXT NOT NULL,
    owner_agent_id       TEXT NOT NULL,
    state                TEXT NOT NULL,
    profile              TEXT NOT NULL,
    tier_history         TEXT NOT NULL,
    lifetime_value_minor BIGINT NOT NULL,
    version              BIGINT NOT NULL,
    create_time          BIGINT NOT NULL,
    update_time          BIGINT NOT NULL,
    delete_time          BIGINT NOT NULL
);

-- Listing order and keyset pagination.
CREATE INDEX customers_by_create_time ON customers (create_time, id);
CREATE INDEX customers_by_owner ON customers (owner_agent_id, create_time, id);

-- Idempotent creates: the first customer created under a request_id.
CREATE TABLE customer_requests (
    request_id  TEXT PRIMARY KEY,
    customer_id TEXT NOT NULL,
    create_time BIGINT NOT NULL
);
