-- Outgoing webhooks: subscriptions, the messages derived from the journal,
-- one delivery per (message, endpoint), and every attempt. Append-only.

-- A store's subscription. `events` is a JSON array of event types (empty:
-- all). Secrets are sealed with the credential cipher; after a rotation
-- the previous one stays valid (both signatures sent) until
-- `previous_secret_expires_at`. `failing_since` is the first failure of
-- an unbroken run of failures (cleared by any success).
CREATE TABLE webhook_endpoints (
    id                         TEXT PRIMARY KEY,
    account_id                 TEXT NOT NULL,
    store_id                   TEXT NOT NULL REFERENCES stores(id) ON DELETE CASCADE,
    url                        TEXT NOT NULL,
    description                TEXT,
    events                     TEXT NOT NULL,
    enabled                    INTEGER NOT NULL,
    disabled_reason            TEXT,
    secret                     BLOB NOT NULL,
    previous_secret            BLOB,
    previous_secret_expires_at TEXT,
    failing_since              TEXT,
    created_at                 TEXT NOT NULL,
    updated_at                 TEXT NOT NULL
);
CREATE INDEX webhook_endpoints_by_store ON webhook_endpoints(store_id, id);

-- How far the journal has been turned into messages. Starts at the
-- journal's end: history before webhooks existed is not sent.
CREATE TABLE webhook_cursor (
    id   INTEGER PRIMARY KEY CHECK (id = 1),
    seq  INTEGER NOT NULL
);
INSERT INTO webhook_cursor (id, seq) SELECT 1, COALESCE(MAX(seq), 0) FROM journal;

-- One event, with the exact body every endpoint receives (the id is the
-- `webhook-id` header, stable across retries). `journal_seq` and
-- `entity_key` make fan-out idempotent; a test event has neither.
CREATE TABLE webhook_messages (
    id           TEXT PRIMARY KEY,
    account_id   TEXT NOT NULL,
    store_id     TEXT NOT NULL REFERENCES stores(id) ON DELETE CASCADE,
    event_type   TEXT NOT NULL,
    journal_seq  INTEGER,
    entity_key   TEXT,
    body         TEXT NOT NULL,
    created_at   TEXT NOT NULL
);
CREATE UNIQUE INDEX webhook_messages_by_journal ON webhook_messages(journal_seq, entity_key)
    WHERE journal_seq IS NOT NULL;
CREATE INDEX webhook_messages_by_store ON webhook_messages(store_id, created_at);

-- A message on its way to one endpoint: `pending` (due at
-- `next_attempt_at`, held by a worker until `leased_until`), `succeeded`,
-- or `failed` (schedule exhausted, endpoint gone or disabled).
-- `schedule_step` is where in the retry schedule it stands (a replay
-- starts it again); `attempts` counts every attempt ever made.
CREATE TABLE webhook_deliveries (
    message_id       TEXT NOT NULL REFERENCES webhook_messages(id) ON DELETE CASCADE,
    endpoint_id      TEXT NOT NULL REFERENCES webhook_endpoints(id) ON DELETE CASCADE,
    state            TEXT NOT NULL,
    attempts         INTEGER NOT NULL DEFAULT 0,
    schedule_step    INTEGER NOT NULL DEFAULT 0,
    next_attempt_at  TEXT NOT NULL,
    leased_until     TEXT,
    last_status      INTEGER,
    last_error       TEXT,
    updated_at       TEXT NOT NULL,
    PRIMARY KEY (message_id, endpoint_id)
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries(state, next_attempt_at);
CREATE INDEX webhook_deliveries_by_endpoint ON webhook_deliveries(endpoint_id, state);

-- Every attempt: the delivery log.
CREATE TABLE webhook_attempts (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    message_id    TEXT NOT NULL,
    endpoint_id   TEXT NOT NULL REFERENCES webhook_endpoints(id) ON DELETE CASCADE,
    attempt       INTEGER NOT NULL,
    started_at    TEXT NOT NULL,
    status        INTEGER,
    latency_ms    INTEGER NOT NULL,
    response      TEXT,
    error         TEXT,
    outcome       TEXT NOT NULL
);
CREATE INDEX webhook_attempts_by_endpoint ON webhook_attempts(endpoint_id, id);
