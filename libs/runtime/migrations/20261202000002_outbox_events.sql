-- The service kit's transactional outbox (libs/runtime/src/outbox/), in every service's
-- database: events for other services, written in the transaction of the change that caused
-- them and delivered at least once by the relay. "Unset" times are 0, never NULL.
CREATE TABLE outbox_events (
    id                TEXT PRIMARY KEY,
    destination       TEXT NOT NULL,
    kind              TEXT NOT NULL,
    aggregate_id      TEXT NOT NULL,
    payload           TEXT NOT NULL,
    attempts          BIGINT NOT NULL,
    next_attempt_time BIGINT NOT NULL,
    delivered_time    BIGINT NOT NULL,
    last_error        TEXT NOT NULL,
    lease_owner       TEXT NOT NULL,
    lease_until       BIGINT NOT NULL,
    create_time       BIGINT NOT NULL
);
-- What the relay claims: undelivered events by destination, oldest first.
CREATE INDEX outbox_events_pending ON outbox_events (destination, create_time, id)
    WHERE delivered_time = 0;
