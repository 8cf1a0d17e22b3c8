-- Churn risk: the level derived from recent signals (0 none, 1 low, 2 medium, 3 high) and the
-- most recent signals as JSON, on the customer row; every signal ever recorded, keyed by the
-- sender's id so a signal delivered twice counts once.
ALTER TABLE customers ADD COLUMN churn_risk BIGINT NOT NULL DEFAULT 0;
ALTER TABLE customers ADD COLUMN churn_signals TEXT NOT NULL DEFAULT '[]';
CREATE INDEX customers_by_churn_risk ON customers (churn_risk, create_time, id);

CREATE TABLE churn_signals (
    signal_id   TEXT PRIMARY KEY,
    customer_id TEXT NOT NULL,
    signal      TEXT NOT NULL,
    record_time BIGINT NOT NULL
);
