-- The earliest fix deadline of a callback's open findings (0 = none open), so the sweep counts
-- overdue findings without reading documents.
ALTER TABLE callbacks ADD COLUMN finding_due_time BIGINT NOT NULL DEFAULT 0;
CREATE INDEX callbacks_finding_due ON callbacks (finding_due_time) WHERE finding_due_time > 0;
