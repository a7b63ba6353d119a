-- Foundation schema: accounts, tokens, stores, channels, catalogue, stock
-- ledger, orders (as far as stock needs them), journal, idempotency keys.
-- Append-only: never edit an applied migration; add a new file instead.
-- Times are RFC 3339 UTC text. Quantities are integers.

CREATE TABLE accounts (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL UNIQUE,
    created_at  TEXT NOT NULL
);

CREATE TABLE stores (
    id          TEXT PRIMARY KEY,
    account_id  TEXT NOT NULL REFERENCES accounts(id),
    name        TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL
);
CREATE INDEX stores_by_account ON stores(account_id, id);

CREATE TABLE api_tokens (
    id            TEXT PRIMARY KEY,
    account_id    TEXT NOT NULL REFERENCES accounts(id),
    store_id      TEXT REFERENCES stores(id) ON DELETE CASCADE,
    name          TEXT NOT NULL,
    prefix        TEXT NOT NULL,
    token_hash    TEXT NOT NULL UNIQUE,
    created_at    TEXT NOT NULL,
    last_used_at  TEXT,
    revoked_at    TEXT
);
CREATE INDEX api_tokens_by_account ON api_tokens(account_id, id);

CREATE TABLE channels (
    id           TEXT PRIMARY KEY,
    account_id   TEXT NOT NULL REFERENCES accounts(id),
    store_id     TEXT NOT NULL REFERENCES stores(id) ON DELETE CASCADE,
    name         TEXT NOT NULL,
    kind         TEXT NOT NULL,
    base_url     TEXT,
    credentials  BLOB,
    stock_rules  TEXT NOT NULL DEFAULT '{}',
    created_at   TEXT NOT NULL,
    updated_at   TEXT NOT NULL
);
CREATE INDEX channels_by_store ON channels(store_id, id);

CREATE TABLE products (
    store_id             TEXT NOT NULL REFERENCES stores(id) ON DELETE CASCADE,
    sku                  TEXT NOT NULL,
    title                TEXT NOT NULL,
    gtin                 TEXT,
    weight_g             INTEGER,
    length_mm            INTEGER,
    width_mm             INTEGER,
    height_mm            INTEGER,
    image_url            TEXT,
    price_amount         INTEGER,
    price_currency       TEXT,
    hs_code              TEXT,
    origin_country       TEXT,
    customs_description  TEXT,
    is_kit               INTEGER NOT NULL DEFAULT 0,
    created_at           TEXT NOT NULL,
    updated_at           TEXT NOT NULL,
    PRIMARY KEY (store_id, sku)
);

CREATE TABLE kit_components (
    store_id       TEXT NOT NULL,
    kit_sku        TEXT NOT NULL,
    component_sku  TEXT NOT NULL,
    quantity       INTEGER NOT NULL CHECK (quantity >= 1),
    position       INTEGER NOT NULL,
    PRIMARY KEY (store_id, kit_sku, component_sku),
    FOREIGN KEY (store_id, kit_sku) REFERENCES products(store_id, sku) ON DELETE CASCADE,
    FOREIGN KEY (store_id, component_sku) REFERENCES products(store_id, sku) ON DELETE CASCADE
);
CREATE INDEX kit_components_by_component ON kit_components(store_id, component_sku);

CREATE TABLE stock_levels (
    store_id    TEXT NOT NULL,
    sku         TEXT NOT NULL,
    source      TEXT NOT NULL,
    location    TEXT NOT NULL DEFAULT '',
    quantity    INTEGER NOT NULL CHECK (quantity >= 0),
    updated_at  TEXT NOT NULL,
    PRIMARY KEY (store_id, sku, source, location),
    FOREIGN KEY (store_id, sku) REFERENCES products(store_id, sku) ON DELETE CASCADE
);

CREATE TABLE orders (
    id                TEXT PRIMARY KEY,
    account_id        TEXT NOT NULL REFERENCES accounts(id),
    store_id          TEXT NOT NULL REFERENCES stores(id) ON DELETE CASCADE,
    channel_id        TEXT NOT NULL REFERENCES channels(id) ON DELETE CASCADE,
    channel_order_id  TEXT NOT NULL,
    state             TEXT NOT NULL,
    created_at        TEXT NOT NULL,
    updated_at        TEXT NOT NULL,
    UNIQUE (channel_id, channel_order_id)
);
CREATE INDEX orders_by_store ON orders(store_id, id);

CREATE TABLE order_lines (
    order_id       TEXT NOT NULL REFERENCES orders(id) ON DELETE CASCADE,
    line_no        INTEGER NOT NULL,
    sku            TEXT NOT NULL,
    open_quantity  INTEGER NOT NULL CHECK (open_quantity >= 0),
    PRIMARY KEY (order_id, line_no)
);

-- Units reserved by open order lines, kits already expanded into components.
CREATE TABLE stock_commitments (
    store_id  TEXT NOT NULL,
    order_id  TEXT NOT NULL REFERENCES orders(id) ON DELETE CASCADE,
    line_no   INTEGER NOT NULL,
    sku       TEXT NOT NULL,
    quantity  INTEGER NOT NULL CHECK (quantity > 0),
    via_kit   TEXT,
    PRIMARY KEY (order_id, line_no, sku)
);
CREATE INDEX stock_commitments_by_sku ON stock_commitments(store_id, sku);

-- The append-only journal. `seq` is monotonic across the whole database.
CREATE TABLE journal (
    seq          INTEGER PRIMARY KEY AUTOINCREMENT,
    account_id   TEXT NOT NULL,
    store_id     TEXT NOT NULL,
    entity_type  TEXT NOT NULL,
    entity_id    TEXT NOT NULL,
    event_type   TEXT NOT NULL,
    payload      TEXT NOT NULL,
    created_at   TEXT NOT NULL
);
CREATE INDEX journal_by_store ON journal(store_id, seq);

CREATE TABLE idempotency_keys (
    account_id     TEXT NOT NULL,
    key            TEXT NOT NULL,
    fingerprint    TEXT NOT NULL,
    status         INTEGER,
    response_body  BLOB,
    created_at     TEXT NOT NULL,
    PRIMARY KEY (account_id, key)
);
