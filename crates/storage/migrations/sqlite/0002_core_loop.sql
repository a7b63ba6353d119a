-- The core loop: channel settings and import state, full orders, import
-- errors, jobs requested through the API, listings, SKU mappings and stock
-- pushes. Append-only.

-- Channel settings (JSON of `ChannelSettings`) and import state.
ALTER TABLE channels ADD COLUMN settings TEXT NOT NULL DEFAULT '{}';
ALTER TABLE channels ADD COLUMN import_cursor TEXT;
ALTER TABLE channels ADD COLUMN next_import_at TEXT;
ALTER TABLE channels ADD COLUMN last_import_at TEXT;
ALTER TABLE channels ADD COLUMN last_success_at TEXT;
ALTER TABLE channels ADD COLUMN last_error TEXT;
ALTER TABLE channels ADD COLUMN last_error_at TEXT;
ALTER TABLE channels ADD COLUMN failures INTEGER NOT NULL DEFAULT 0;
ALTER TABLE channels ADD COLUMN listings_synced_at TEXT;
ALTER TABLE channels ADD COLUMN notifications_at TEXT;
ALTER TABLE channels ADD COLUMN notifications_error TEXT;

-- The unified order, the channel's payload and our own decisions.
ALTER TABLE orders ADD COLUMN number TEXT NOT NULL DEFAULT '';
ALTER TABLE orders ADD COLUMN payment_status TEXT;
ALTER TABLE orders ADD COLUMN country TEXT;
ALTER TABLE orders ADD COLUMN customer_name TEXT;
ALTER TABLE orders ADD COLUMN customer_email TEXT;
ALTER TABLE orders ADD COLUMN currency TEXT;
ALTER TABLE orders ADD COLUMN total INTEGER;
ALTER TABLE orders ADD COLUMN channel_updated_at TEXT;
ALTER TABLE orders ADD COLUMN unified TEXT;
ALTER TABLE orders ADD COLUMN raw TEXT;
ALTER TABLE orders ADD COLUMN excluded_reason TEXT;
ALTER TABLE orders ADD COLUMN hold_reason TEXT;
ALTER TABLE orders ADD COLUMN manual INTEGER NOT NULL DEFAULT 0;
ALTER TABLE orders ADD COLUMN oversold INTEGER NOT NULL DEFAULT 0;
CREATE INDEX orders_by_store_updated ON orders(store_id, updated_at);
CREATE INDEX orders_by_channel ON orders(channel_id, id);

ALTER TABLE order_lines ADD COLUMN channel_line_id TEXT;
ALTER TABLE order_lines ADD COLUMN quantity INTEGER;
CREATE INDEX order_lines_by_sku ON order_lines(sku, order_id);

-- Orders a channel sent that could not be imported; resolved when a later
-- import of the same order succeeds.
CREATE TABLE import_errors (
    id                INTEGER PRIMARY KEY AUTOINCREMENT,
    account_id        TEXT NOT NULL,
    store_id          TEXT NOT NULL,
    channel_id        TEXT NOT NULL REFERENCES channels(id) ON DELETE CASCADE,
    channel_order_id  TEXT NOT NULL,
    code              TEXT NOT NULL,
    message           TEXT NOT NULL,
    raw               TEXT,
    attempts          INTEGER NOT NULL DEFAULT 1,
    first_seen_at     TEXT NOT NULL,
    last_seen_at      TEXT NOT NULL,
    resolved_at       TEXT,
    UNIQUE (channel_id, channel_order_id)
);
CREATE INDEX import_errors_open ON import_errors(channel_id, resolved_at, id);

-- Work the API asks the engine for (import now, backfill, one order, ...).
CREATE TABLE jobs (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    account_id    TEXT NOT NULL,
    store_id      TEXT NOT NULL,
    channel_id    TEXT NOT NULL REFERENCES channels(id) ON DELETE CASCADE,
    kind          TEXT NOT NULL,
    payload       TEXT NOT NULL DEFAULT '{}',
    run_after     TEXT NOT NULL,
    locked_until  TEXT,
    attempts      INTEGER NOT NULL DEFAULT 0,
    last_error    TEXT,
    created_at    TEXT NOT NULL,
    finished_at   TEXT
);
CREATE INDEX jobs_due ON jobs(finished_at, run_after);

-- Channel SKU → main product SKU, where they differ.
CREATE TABLE sku_mappings (
    channel_id   TEXT NOT NULL REFERENCES channels(id) ON DELETE CASCADE,
    channel_sku  TEXT NOT NULL,
    store_id     TEXT NOT NULL,
    sku          TEXT NOT NULL,
    created_at   TEXT NOT NULL,
    PRIMARY KEY (channel_id, channel_sku)
);

-- The channel's records of products, and where their stock push stands.
CREATE TABLE listings (
    channel_id          TEXT NOT NULL REFERENCES channels(id) ON DELETE CASCADE,
    listing_id          TEXT NOT NULL,
    store_id            TEXT NOT NULL,
    channel_sku         TEXT,
    sku                 TEXT,
    title               TEXT NOT NULL,
    price               INTEGER,
    channel_quantity    INTEGER,
    raw                 TEXT,
    confirmed_quantity  INTEGER,
    confirmed_at        TEXT,
    created_at          TEXT NOT NULL,
    updated_at          TEXT NOT NULL,
    PRIMARY KEY (channel_id, listing_id)
);
CREATE INDEX listings_by_sku ON listings(store_id, sku);

-- Stock pushes per listing: pending → sent (the channel confirmed), or
-- superseded (a newer target replaced it before it was sent), skipped
-- (equal to what the channel last confirmed), error (retried with backoff).
CREATE TABLE stock_pushes (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    store_id         TEXT NOT NULL,
    channel_id       TEXT NOT NULL REFERENCES channels(id) ON DELETE CASCADE,
    listing_id       TEXT NOT NULL,
    sku              TEXT NOT NULL,
    quantity         INTEGER NOT NULL,
    state            TEXT NOT NULL,
    cause            TEXT,
    error            TEXT,
    attempts         INTEGER NOT NULL DEFAULT 0,
    next_attempt_at  TEXT NOT NULL,
    created_at       TEXT NOT NULL,
    sent_at          TEXT
);
CREATE INDEX stock_pushes_due ON stock_pushes(state, channel_id, next_attempt_at);
CREATE INDEX stock_pushes_by_listing ON stock_pushes(channel_id, listing_id, state);

-- Where each background worker has read the journal up to.
CREATE TABLE worker_cursors (
    name  TEXT PRIMARY KEY,
    seq   INTEGER NOT NULL
);
