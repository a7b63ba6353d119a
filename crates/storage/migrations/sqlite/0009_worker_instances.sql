-- Every process running workers registers itself and beats every few
-- seconds. A lease whose holder has stopped beating (or stopped) is free,
-- whatever its expiry: a restarted process takes back a dead one's jobs
-- within seconds instead of waiting out the lease.
CREATE TABLE worker_instances (
    id            TEXT PRIMARY KEY,
    started_at    TEXT NOT NULL,
    heartbeat_at  TEXT NOT NULL,
    stopped_at    TEXT
);

ALTER TABLE jobs ADD COLUMN locked_by TEXT;
ALTER TABLE jobs ADD COLUMN started_at TEXT;
-- What a running job has done so far (JSON: pages, orders).
ALTER TABLE jobs ADD COLUMN progress TEXT;
