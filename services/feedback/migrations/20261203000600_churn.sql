-- Churn: the detector's signals, its position in the customer files, and lost customers. Times
-- are BIGINT microseconds.

-- Churn-risk signals: the document beside the columns ListChurnRiskSignals filters on. The id is
-- the detector's key (kind, level, episode start, customer), so a signal is stored once however
-- often the detector sees it. event_id is its outbox event for the customers service: the
-- signal's customers_delivery is DELIVERED once the relay marked that event delivered.
CREATE TABLE churn_signals (
    id TEXT PRIMARY KEY,
    customer_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    -- 1 low, 2 medium, 3 high: min_level compares it.
    level_rank BIGINT NOT NULL,
    state TEXT NOT NULL,
    event_id TEXT NOT NULL,
    doc TEXT NOT NULL,
    version BIGINT NOT NULL,
    detect_time BIGINT NOT NULL,
    update_time BIGINT NOT NULL
);
CREATE INDEX churn_signals_listing ON churn_signals (detect_time, id);
CREATE INDEX churn_signals_state ON churn_signals (state, detect_time, id);
CREATE INDEX churn_signals_customer ON churn_signals (customer_id, detect_time, id);

-- Where the detector's walk over the customers service's files stands: the page token of the
-- next page ('' = start over), one row. Kept in the database so a restart or another replica
-- goes on where the last pass stopped.
CREATE TABLE churn_sweep (
    name TEXT PRIMARY KEY,
    page_token TEXT NOT NULL,
    update_time BIGINT NOT NULL
);
INSERT INTO churn_sweep (name, page_token, update_time) VALUES ('customers', '', 0);

-- Lost customers: one per customer (the request's retry key is in the kit's idempotency_keys).
CREATE TABLE customer_losses (
    customer_id TEXT PRIMARY KEY,
    reason TEXT NOT NULL,
    loss_time BIGINT NOT NULL,
    doc TEXT NOT NULL,
    create_time BIGINT NOT NULL
);
CREATE INDEX customer_losses_time ON customer_losses (loss_time, reason);
