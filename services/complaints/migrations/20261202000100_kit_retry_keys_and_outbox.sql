-- Retry keys and the outbox move to the service kit's tables (created by the kit's migrations
-- 20261202000001 and 20261202000002). Keys recorded before have no request digest and replay
-- as before; undelivered events keep their attempts, schedule and lease.
INSERT INTO idempotency_keys (scope, request_id, request_hash, resource_id, ref_id, create_time)
SELECT scope, request_id, '', complaint_id, ref_id, create_time FROM complaint_requests;
DROP TABLE complaint_requests;

INSERT INTO outbox_events (id, destination, kind, aggregate_id, payload, attempts,
    next_attempt_time, delivered_time, last_error, lease_owner, lease_until, create_time)
SELECT id, destination, kind, complaint_id, payload, attempts, next_attempt_time,
    delivered_time, last_error, lease_owner, lease_until, create_time FROM outbox;
DROP TABLE outbox;
