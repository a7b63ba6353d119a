-- Fulfilments synced to the order's channel, carrier settings per store, and
-- the back-office order connection. Append-only.

-- Carrier rules and codes (JSON of `CarrierSettings`), and the back office
-- (JSON of `BackOfficeSettings`, or NULL).
ALTER TABLE stores ADD COLUMN carrier_settings TEXT NOT NULL DEFAULT '{}';
ALTER TABLE stores ADD COLUMN back_office TEXT;

-- A shipment of some or all lines of an order. `sync_state` pending →
-- synced, or failed (retried); `sync_action` is what the channel still has
-- to be told (create, update_tracking, cancel). `sync_started_at` marks an
-- attempt that went out: the next one checks the channel before creating.
CREATE TABLE fulfilments (
    id                     TEXT PRIMARY KEY,
    account_id             TEXT NOT NULL,
    store_id               TEXT NOT NULL,
    order_id               TEXT NOT NULL REFERENCES orders(id) ON DELETE CASCADE,
    channel_id             TEXT NOT NULL REFERENCES channels(id) ON DELETE CASCADE,
    source                 TEXT NOT NULL,
    status                 TEXT NOT NULL,
    carrier                TEXT NOT NULL,
    carrier_detected       INTEGER NOT NULL DEFAULT 0,
    service                TEXT,
    tracking               TEXT NOT NULL,
    shipped_at             TEXT NOT NULL,
    external_ref           TEXT,
    sync_state             TEXT NOT NULL,
    sync_action            TEXT,
    channel_fulfilment_id  TEXT,
    attempts               INTEGER NOT NULL DEFAULT 0,
    last_error             TEXT,
    next_attempt_at        TEXT,
    sync_started_at        TEXT,
    synced_at              TEXT,
    created_at             TEXT NOT NULL,
    updated_at             TEXT NOT NULL
);
CREATE INDEX fulfilments_by_order ON fulfilments(order_id, created_at);
CREATE INDEX fulfilments_due ON fulfilments(sync_state, next_attempt_at);
CREATE UNIQUE INDEX fulfilments_external ON fulfilments(order_id, external_ref) WHERE external_ref IS NOT NULL;

CREATE TABLE fulfilment_lines (
    fulfilment_id    TEXT NOT NULL REFERENCES fulfilments(id) ON DELETE CASCADE,
    line_no          INTEGER NOT NULL,
    sku              TEXT NOT NULL,
    channel_line_id  TEXT,
    quantity         INTEGER NOT NULL CHECK (quantity > 0),
    PRIMARY KEY (fulfilment_id, line_no)
);

-- Each routed order's copy in the store's back office.
CREATE TABLE back_office_orders (
    order_id        TEXT PRIMARY KEY REFERENCES orders(id) ON DELETE CASCADE,
    account_id      TEXT NOT NULL,
    store_id        TEXT NOT NULL,
    channel_id      TEXT NOT NULL REFERENCES channels(id) ON DELETE CASCADE,
    state           TEXT NOT NULL,
    remote_id       TEXT,
    remote_number   TEXT,
    remote_status   TEXT,
    attempts        INTEGER NOT NULL DEFAULT 0,
    last_error      TEXT,
    waiting_since   TEXT,
    fulfilment_id   TEXT,
    channel_cancel  TEXT,
    next_at         TEXT,
    step_started_at TEXT,
    checked_at      TEXT,
    created_at      TEXT NOT NULL,
    updated_at      TEXT NOT NULL
);
CREATE INDEX back_office_orders_due ON back_office_orders(store_id, state, next_at);
CREATE INDEX orders_by_store_state ON orders(store_id, state, created_at);
