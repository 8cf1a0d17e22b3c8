-- The visits service's tables. Each resource is a JSON document (`doc`) with the columns its
-- listings, sweeps and bookings filter on beside it; times are BIGINT microseconds (0 = unset).

-- One visit plan per customer.
CREATE TABLE visit_plans (
    id TEXT PRIMARY KEY,
    customer_id TEXT NOT NULL UNIQUE,
    owner_agent_id TEXT NOT NULL,
    tier TEXT NOT NULL,
    key_account BIGINT NOT NULL,
    state TEXT NOT NULL,
    -- The next plan visit's due time; 0 when none is planned.
    next_due_time BIGINT NOT NULL,
    -- When the plan needs the sweep next (extend the horizon, create care tasks, resume).
    sweep_time BIGINT NOT NULL,
    doc TEXT NOT NULL,
    version BIGINT NOT NULL,
    create_time BIGINT NOT NULL,
    update_time BIGINT NOT NULL
);
CREATE INDEX visit_plans_listing ON visit_plans (create_time, id);
CREATE INDEX visit_plans_owner ON visit_plans (owner_agent_id, create_time, id);
CREATE INDEX visit_plans_sweep ON visit_plans (sweep_time);

-- Visits: plan visits, care visits, complaint follow-ups and visits made by hand.
CREATE TABLE visits (
    id TEXT PRIMARY KEY,
    customer_id TEXT NOT NULL,
    plan_id TEXT NOT NULL,
    assigned_agent_id TEXT NOT NULL,
    state TEXT NOT NULL,
    care_kind TEXT NOT NULL,
    purpose TEXT NOT NULL,
    method TEXT NOT NULL,
    due_time BIGINT NOT NULL,
    scheduled_start_time BIGINT NOT NULL,
    scheduled_end_time BIGINT NOT NULL,
    doc TEXT NOT NULL,
    version BIGINT NOT NULL,
    create_time BIGINT NOT NULL,
    update_time BIGINT NOT NULL
);
CREATE INDEX visits_listing ON visits (due_time, id);
CREATE INDEX visits_customer ON visits (customer_id, due_time, id);
CREATE INDEX visits_plan ON visits (plan_id, due_time);
CREATE INDEX visits_assignee ON visits (assigned_agent_id, due_time);
CREATE INDEX visits_booked ON visits (assigned_agent_id, scheduled_start_time);
CREATE INDEX visits_open ON visits (state, due_time);

-- Care events: one per occasion and date of a plan (occasion_key makes them unique).
CREATE TABLE care_events (
    id TEXT PRIMARY KEY,
    customer_id TEXT NOT NULL,
    plan_id TEXT NOT NULL,
    owner_agent_id TEXT NOT NULL,
    occasion TEXT NOT NULL,
    occasion_date TEXT NOT NULL,
    state TEXT NOT NULL,
    occasion_key TEXT NOT NULL UNIQUE,
    doc TEXT NOT NULL,
    version BIGINT NOT NULL,
    create_time BIGINT NOT NULL,
    update_time BIGINT NOT NULL
);
CREATE INDEX care_events_listing ON care_events (occasion_date, id);
CREATE INDEX care_events_customer ON care_events (customer_id, occasion_date, id);

-- Field jobs (装维): installation, move, repair, maintenance, reconnection, business change.
CREATE TABLE field_jobs (
    id TEXT PRIMARY KEY,
    customer_id TEXT NOT NULL,
    engineer_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    state TEXT NOT NULL,
    complaint_id TEXT NOT NULL,
    -- The agreed window; 0 while none is agreed.
    window_start_time BIGINT NOT NULL,
    window_end_time BIGINT NOT NULL,
    -- 1 while extra work waits for the customer's consent.
    consent_pending BIGINT NOT NULL,
    -- 1 once a clock breached.
    breached BIGINT NOT NULL,
    -- When a running clock next crosses a threshold; 0 when none runs.
    next_check_time BIGINT NOT NULL,
    doc TEXT NOT NULL,
    version BIGINT NOT NULL,
    create_time BIGINT NOT NULL,
    update_time BIGINT NOT NULL
);
CREATE INDEX field_jobs_listing ON field_jobs (create_time, id);
CREATE INDEX field_jobs_engineer ON field_jobs (engineer_id, window_start_time);
CREATE INDEX field_jobs_customer ON field_jobs (customer_id, create_time, id);
CREATE INDEX field_jobs_check ON field_jobs (next_check_time);
