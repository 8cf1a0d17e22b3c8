-- The W3C trace context of the change that wrote each outbox event, so the relay's delivery
-- continues that trace and the receiver's handling joins it (issue 15). Empty: no context
-- (telemetry off, or a row written before this migration).
ALTER TABLE outbox_events ADD COLUMN traceparent TEXT NOT NULL DEFAULT '';
ALTER TABLE outbox_events ADD COLUMN tracestate TEXT NOT NULL DEFAULT '';
