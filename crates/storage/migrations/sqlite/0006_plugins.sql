-- Plugins (3PL fulfilment centres): the plugin itself, where orders are
-- routed, the outbox of messages to the plugin, and plugin-scoped tokens.
-- Append-only.

-- A store's plugin. Its secret signs what Switchyard sends it (Standard
-- Webhooks), sealed with the credential cipher for the plugin id.
-- `failing_since` is the first failure of an unbroken run of failed sends.
CREATE TABLE plugins (
    id            TEXT PRIMARY KEY,
    account_id    TEXT NOT NULL,
    store_id      TEXT NOT NULL REFERENCES stores(id) ON DELETE CASCADE,
    name          TEXT NOT NULL,
    url           TEXT NOT NULL,
    enabled       INTEGER NOT NULL,
    secret        BLOB NOT NULL,
    failing_since TEXT,
    created_at    TEXT NOT NULL,
    updated_at    TEXT NOT NULL
);
CREATE INDEX plugins_by_store ON plugins(store_id, id);

-- What the store's plugin rules decided when the order arrived: tags
-- (JSON array), the plugin it is routed to and by which rule, and an
-- exclusion by rule (kept when the channel sends the order again).
-- `rules_applied_at` is NULL for orders the rules never saw.
ALTER TABLE orders ADD COLUMN tags TEXT NOT NULL DEFAULT '[]';
ALTER TABLE orders ADD COLUMN plugin_id TEXT;
ALTER TABLE orders ADD COLUMN routed_by TEXT;
ALTER TABLE orders ADD COLUMN rule_excluded TEXT;
ALTER TABLE orders ADD COLUMN rules_applied_at TEXT;
CREATE INDEX orders_by_plugin ON orders(plugin_id, id) WHERE plugin_id IS NOT NULL;

-- Messages to plugins: `order.routed` (the order to fulfil) and
-- `order.cancelled`, at most one of each per order. The id is the
-- `webhook-id` header, stable across retries. `pending` until the plugin
-- answers 2xx (`delivered`); `skipped` when the order was cancelled before
-- the plugin ever got it. Never given up: retried with backoff.
CREATE TABLE plugin_messages (
    id           TEXT PRIMARY KEY,
    account_id   TEXT NOT NULL,
    store_id     TEXT NOT NULL REFERENCES stores(id) ON DELETE CASCADE,
    plugin_id    TEXT NOT NULL REFERENCES plugins(id),
    order_id     TEXT NOT NULL REFERENCES orders(id) ON DELETE CASCADE,
    kind         TEXT NOT NULL,
    state        TEXT NOT NULL,
    attempts     INTEGER NOT NULL DEFAULT 0,
    next_at      TEXT NOT NULL,
    lease_until  TEXT,
    last_status  INTEGER,
    last_error   TEXT,
    response     TEXT,
    delivered_at TEXT,
    created_at   TEXT NOT NULL,
    updated_at   TEXT NOT NULL,
    UNIQUE (order_id, kind)
);
CREATE INDEX plugin_messages_due ON plugin_messages(state, next_at) WHERE state = 'pending';
CREATE INDEX plugin_messages_by_plugin ON plugin_messages(plugin_id, order_id);

-- A token limited to one plugin's own routes (reporting stock and
-- shipments). Its `store_id` is the plugin's store.
ALTER TABLE api_tokens ADD COLUMN plugin_id TEXT REFERENCES plugins(id) ON DELETE CASCADE;
