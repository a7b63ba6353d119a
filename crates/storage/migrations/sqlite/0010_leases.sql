-- One lease shape for every work queue: `lease_until` and `lease_holder`
-- (the worker instance). A lease is free when it ran out or its holder is
-- known dead (stopped, or silent past the staleness bound); see
-- `src/sqlite/leases.rs`. Fulfilment syncs and back-office steps used to
-- push `next_attempt_at` / `next_at` forward as their lease, so a dead
-- worker's claim waited out the lease; they now lease like the others.
ALTER TABLE jobs RENAME COLUMN locked_until TO lease_until;
ALTER TABLE jobs RENAME COLUMN locked_by TO lease_holder;
ALTER TABLE webhook_deliveries RENAME COLUMN leased_until TO lease_until;
ALTER TABLE webhook_deliveries ADD COLUMN lease_holder TEXT;
ALTER TABLE plugin_messages ADD COLUMN lease_holder TEXT;
ALTER TABLE fulfilments ADD COLUMN lease_until TEXT;
ALTER TABLE fulfilments ADD COLUMN lease_holder TEXT;
ALTER TABLE back_office_orders ADD COLUMN lease_until TEXT;
ALTER TABLE back_office_orders ADD COLUMN lease_holder TEXT;
