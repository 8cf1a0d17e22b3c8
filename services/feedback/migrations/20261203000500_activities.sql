-- Activities: what happened in the other services (complaints received, SLA clocks met or
-- breached, contacts handled, visits and field jobs completed, customer contacts), one row per
-- sender event. Process indicators count them; the churn detector reads the latest contact.
CREATE TABLE activities (
    id TEXT PRIMARY KEY,
    source_service TEXT NOT NULL,
    source_event_id TEXT NOT NULL,
    -- contact_handled, complaint_received, clock_met, clock_met_late, clock_breached,
    -- field_job_completed, visit_completed, customer_contact
    kind TEXT NOT NULL,
    customer_id TEXT NOT NULL,
    -- '' when none.
    agent_id TEXT NOT NULL,
    -- '' when none: complaint, field_job, visit.
    subject_kind TEXT NOT NULL,
    subject_id TEXT NOT NULL,
    -- A complaint's nature, as its service names it ('' when none).
    category TEXT NOT NULL,
    -- A clock's kind, e.g. FIRST_CONTACT, RESOLUTION ('' when none).
    clock_kind TEXT NOT NULL,
    occur_time BIGINT NOT NULL,
    create_time BIGINT NOT NULL,
    UNIQUE (source_service, source_event_id)
);
CREATE INDEX activities_time ON activities (occur_time, id);
CREATE INDEX activities_agent ON activities (agent_id, occur_time);
CREATE INDEX activities_customer ON activities (customer_id, occur_time);
