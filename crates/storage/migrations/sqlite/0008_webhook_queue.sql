-- Claiming deliveries reads, per endpoint, its oldest due deliveries and
-- how many it has in flight. These two indexes make both a short index
-- walk; before, every claim ranked the whole backlog of every endpoint.
CREATE INDEX webhook_deliveries_queue ON webhook_deliveries(endpoint_id, state, next_attempt_at, message_id);
CREATE INDEX webhook_deliveries_leases ON webhook_deliveries(endpoint_id, state, leased_until);
-- A prefix of the queue index.
DROP INDEX webhook_deliveries_by_endpoint;
