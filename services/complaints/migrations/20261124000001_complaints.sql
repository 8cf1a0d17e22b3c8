-- The complaints database. One row per complaint holds the whole aggregate as JSON (written
-- only through the service); the columns beside it exist for filters, the breach watcher's
-- lease and optimistic concurrency. Portable between SQLite and PostgreSQL: BIGINT times in
-- microseconds since the epoch, BIGINT 0/1 flags, TEXT ids; "unset" is '' or 0, never NULL.
CREATE TABLE complaints (
    id                TEXT PRIMARY KEY,
    customer_id       TEXT NOT NULL,
    state             TEXT NOT NULL,
    nature            TEXT NOT NULL,
    severity          TEXT NOT NULL,
    assigned_agent_id TEXT NOT NULL,
    escalation_level  TEXT NOT NULL,
    sla_state         TEXT NOT NULL,
    defaulted         BIGINT NOT NULL,
    next_check_time   BIGINT NOT NULL,
    lease_owner       TEXT NOT NULL,
    lease_until       BIGINT NOT NULL,
    body              TEXT NOT NULL,
    version           BIGINT NOT NULL,
    create_time       BIGINT NOT NULL,
    update_time       BIGINT NOT NULL
);
CREATE INDEX complaints_by_create_time ON complaints (create_time, id);
CREATE INDEX complaints_by_customer ON complaints (customer_id, create_time, id);
CREATE INDEX complaints_by_next_check ON complaints (next_check_time);
CREATE INDEX complaints_by_defaulted ON complaints (defaulted);

-- Retry safety: the first result of each (scope, request_id).
CREATE TABLE complaint_requests (
    scope        TEXT NOT NULL,
    request_id   TEXT NOT NULL,
    complaint_id TEXT NOT NULL,
    ref_id       TEXT NOT NULL,
    create_time  BIGINT NOT NULL,
    PRIMARY KEY (scope, request_id)
);

-- The append-only timeline; sequence has no gaps per complaint.
CREATE TABLE timeline_entries (
    complaint_id TEXT NOT NULL,
    sequence     BIGINT NOT NULL,
    id           TEXT NOT NULL,
    kind         TEXT NOT NULL,
    create_time  BIGINT NOT NULL,
    body         TEXT NOT NULL,
    PRIMARY KEY (complaint_id, sequence)
);

-- SLA events as recorded by any replica, read by WatchSlaEvents streams everywhere.
CREATE TABLE sla_events (
    id           TEXT PRIMARY KEY,
    complaint_id TEXT NOT NULL,
    event_time   BIGINT NOT NULL,
    body         TEXT NOT NULL
);
CREATE INDEX sla_events_by_time ON sla_events (event_time, id);

-- Exactly-once escalation: one row per (complaint, breached clock or broken promise, level).
CREATE TABLE sla_escalations (
    complaint_id     TEXT NOT NULL,
    subject_id       TEXT NOT NULL,
    escalation_level TEXT NOT NULL,
    create_time      BIGINT NOT NULL,
    PRIMARY KEY (complaint_id, subject_id, escalation_level)
);

-- The transactional outbox: events for other services, written with the change that caused
-- them and delivered at least once by the relay.
CREATE TABLE outbox (
    id                TEXT PRIMARY KEY,
    destination       TEXT NOT NULL,
    kind              TEXT NOT NULL,
    complaint_id      TEXT NOT NULL,
    payload           TEXT NOT NULL,
    attempts          BIGINT NOT NULL,
    next_attempt_time BIGINT NOT NULL,
    delivered_time    BIGINT NOT NULL,
    last_error        TEXT NOT NULL,
    lease_owner       TEXT NOT NULL,
    lease_until       BIGINT NOT NULL,
    create_time       BIGINT NOT NULL
);
CREATE INDEX outbox_pending ON outbox (delivered_time, next_attempt_time);

-- Reply violations recorded by CheckReply for supervisors.
CREATE TABLE reply_violations (
    id           TEXT PRIMARY KEY,
    agent_id     TEXT NOT NULL,
    complaint_id TEXT NOT NULL,
    check_time   BIGINT NOT NULL,
    body         TEXT NOT NULL
);
CREATE INDEX reply_violations_by_agent ON reply_violations (agent_id, check_time, id);
