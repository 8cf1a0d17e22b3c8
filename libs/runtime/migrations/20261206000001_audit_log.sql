-- The service kit's audit log (libs/runtime/src/audit/), in every service's database: one
-- entry per record an accepted change touched, written in the change's own transaction. The
-- actor is the verified caller (the token's subject), "system" for the service's own jobs.
-- Entries are only ever inserted; keeping them is the deployment's retention policy.
CREATE TABLE audit_log (
    id          TEXT PRIMARY KEY,
    record_kind TEXT NOT NULL,
    record_id   TEXT NOT NULL,
    action      TEXT NOT NULL,
    actor_id    TEXT NOT NULL,
    actor_role  TEXT NOT NULL,
    trace_id    TEXT NOT NULL,
    create_time BIGINT NOT NULL
);
-- ListRecordHistory: one record's entries, oldest first, a page at a time.
CREATE INDEX audit_log_record ON audit_log (record_id, create_time, id);
