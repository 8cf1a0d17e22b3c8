-- The feedback service's tables. Each resource is a JSON document (`doc`) with the columns its
-- listings filter on beside it; times are BIGINT microseconds (0 = unset).

-- Callbacks (回访): one per event that asked for one (the event's id is the retry key, kept by
-- the kit's idempotency_keys).
CREATE TABLE callbacks (
    id TEXT PRIMARY KEY,
    customer_id TEXT NOT NULL,
    subject_kind TEXT NOT NULL,
    subject_id TEXT NOT NULL,
    source_event_id TEXT NOT NULL,
    assigned_agent_id TEXT NOT NULL,
    state TEXT NOT NULL,
    due_time BIGINT NOT NULL,
    -- Whether the newest outcome event for the complaints service was accepted: '' (none
    -- written), 'pending' or 'delivered'.
    complaint_delivery TEXT NOT NULL,
    -- The id of that newest outbox event ('' when none); the relay marks 'delivered' only
    -- when the event it delivered is still the newest, so a later event is never hidden.
    last_event_id TEXT NOT NULL,
    doc TEXT NOT NULL,
    version BIGINT NOT NULL,
    create_time BIGINT NOT NULL,
    update_time BIGINT NOT NULL
);
CREATE INDEX callbacks_listing ON callbacks (due_time, id);
CREATE INDEX callbacks_customer ON callbacks (customer_id, due_time, id);
CREATE INDEX callbacks_subject ON callbacks (subject_kind, subject_id, due_time, id);
CREATE INDEX callbacks_assignee ON callbacks (assigned_agent_id, due_time, id);
CREATE INDEX callbacks_state ON callbacks (state, due_time, id);
