-- Retry keys move to the service kit's idempotency_keys table (created by the kit's migration
-- 20261202000001); keys recorded before have no request digest and replay as before.
INSERT INTO idempotency_keys (scope, request_id, request_hash, resource_id, ref_id, create_time)
SELECT 'create', request_id, '', customer_id, '', create_time FROM customer_requests;
DROP TABLE customer_requests;
