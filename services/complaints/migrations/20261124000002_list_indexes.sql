-- Listing by agent ("my open complaints"), by state and by SLA state walks these in listing
-- order instead of scanning every complaint (the benchmark's agent page took ~250 ms at
-- 30,000 complaints without them).
CREATE INDEX complaints_by_agent ON complaints (assigned_agent_id, create_time, id);
CREATE INDEX complaints_by_state ON complaints (state, create_time, id);
CREATE INDEX complaints_by_sla_state ON complaints (sla_state, create_time, id);
