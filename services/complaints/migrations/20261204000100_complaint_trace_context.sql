-- The W3C trace context of the call that created each complaint (issue 15): the breach
-- watcher's checks continue that trace, so an escalation is found from the complaint's trace.
-- Empty: no context (telemetry off, or a complaint created before this migration).
ALTER TABLE complaints ADD COLUMN traceparent TEXT NOT NULL DEFAULT '';
ALTER TABLE complaints ADD COLUMN tracestate TEXT NOT NULL DEFAULT '';
