-- The PostgreSQL schema: the same tables as the SQLite backend at its
-- migration 0010, in PostgreSQL's own types. Append-only from here on:
-- never edit an applied migration; add a new file instead.
--
-- Times are `timestamptz` (UTC on the wire). Settings, payloads and rule
-- sets are `jsonb`; a webhook body stays `text` because every endpoint
-- receives its exact bytes. Quantities, counts and money in minor units
-- are `bigint`. Work queues carry `lease_until` / `lease_holder` and are
-- claimed with `FOR UPDATE SKIP LOCKED` (see `src/postgres/leases.rs`).

CREATE TABLE accounts (
    id          text COLLATE "C" PRIMARY KEY,
    name        text COLLATE "C" NOT NULL UNIQUE,
    created_at  timestamptz NOT NULL
);

CREATE TABLE stores (
    id                text COLLATE "C" PRIMARY KEY,
    account_id        text COLLATE "C" NOT NULL REFERENCES accounts(id),
    name              text COLLATE "C" NOT NULL,
    carrier_settings  jsonb NOT NULL DEFAULT '{}',
    back_office       jsonb,
    plugin_rules      jsonb NOT NULL DEFAULT '{"rules":[]}',
    created_at        timestamptz NOT NULL,
    updated_at        timestamptz NOT NULL
);
CREATE INDEX stores_by_account ON stores(account_id, id);

CREATE TABLE channels (
    id                   text COLLATE "C" PRIMARY KEY,
    account_id           text COLLATE "C" NOT NULL REFERENCES accounts(id),
    store_id             text COLLATE "C" NOT NULL REFERENCES stores(id) ON DELETE CASCADE,
    name                 text COLLATE "C" NOT NULL,
    kind                 text COLLATE "C" NOT NULL,
    base_url             text COLLATE "C",
    credentials          bytea,
    stock_rules          jsonb NOT NULL DEFAULT '{}',
    settings             jsonb NOT NULL DEFAULT '{}',
    import_cursor        timestamptz,
    next_import_at       timestamptz,
    last_import_at       timestamptz,
    last_success_at      timestamptz,
    last_error           text COLLATE "C",
    last_error_at        timestamptz,
    failures             bigint NOT NULL DEFAULT 0,
    listings_synced_at   timestamptz,
    notifications_at     timestamptz,
    notifications_error  text COLLATE "C",
    created_at           timestamptz NOT NULL,
    updated_at           timestamptz NOT NULL
);
CREATE INDEX channels_by_store ON channels(store_id, id);
-- Channels whose import may be due: the scheduler's every tick.
CREATE INDEX channels_import_due ON channels(next_import_at)
    WHERE credentials IS NOT NULL AND base_url IS NOT NULL;

CREATE TABLE plugins (
    id             text COLLATE "C" PRIMARY KEY,
    account_id     text COLLATE "C" NOT NULL,
    store_id       text COLLATE "C" NOT NULL REFERENCES stores(id) ON DELETE CASCADE,
    name           text COLLATE "C" NOT NULL,
    url            text COLLATE "C" NOT NULL,
    enabled        boolean NOT NULL,
    secret         bytea NOT NULL,
    failing_since  timestamptz,
    created_at     timestamptz NOT NULL,
    updated_at     timestamptz NOT NULL
);
CREATE INDEX plugins_by_store ON plugins(store_id, id);

CREATE TABLE api_tokens (
    id            text COLLATE "C" PRIMARY KEY,
    account_id    text COLLATE "C" NOT NULL REFERENCES accounts(id),
    store_id      text COLLATE "C" REFERENCES stores(id) ON DELETE CASCADE,
    plugin_id     text COLLATE "C" REFERENCES plugins(id) ON DELETE CASCADE,
    name          text COLLATE "C" NOT NULL,
    prefix        text COLLATE "C" NOT NULL,
    token_hash    text COLLATE "C" NOT NULL UNIQUE,
    created_at    timestamptz NOT NULL,
    last_used_at  timestamptz,
    revoked_at    timestamptz
);
CREATE INDEX api_tokens_by_account ON api_tokens(account_id, id);

CREATE TABLE products (
    store_id             text COLLATE "C" NOT NULL REFERENCES stores(id) ON DELETE CASCADE,
    sku                  text COLLATE "C" NOT NULL,
    title                text COLLATE "C" NOT NULL,
    gtin                 text COLLATE "C",
    weight_g             bigint,
    length_mm            bigint,
    width_mm             bigint,
    height_mm            bigint,
    image_url            text COLLATE "C",
    price_amount         bigint,
    price_currency       text COLLATE "C",
    hs_code              text COLLATE "C",
    origin_country       text COLLATE "C",
    customs_description  text COLLATE "C",
    is_kit               boolean NOT NULL DEFAULT false,
    created_at           timestamptz NOT NULL,
    updated_at           timestamptz NOT NULL,
    PRIMARY KEY (store_id, sku)
);

CREATE TABLE kit_components (
    store_id       text COLLATE "C" NOT NULL,
    kit_sku        text COLLATE "C" NOT NULL,
    component_sku  text COLLATE "C" NOT NULL,
    quantity       bigint NOT NULL CHECK (quantity >= 1),
    position       bigint NOT NULL,
    PRIMARY KEY (store_id, kit_sku, component_sku),
    FOREIGN KEY (store_id, kit_sku) REFERENCES products(store_id, sku) ON DELETE CASCADE,
    FOREIGN KEY (store_id, component_sku) REFERENCES products(store_id, sku) ON DELETE CASCADE
);
CREATE INDEX kit_components_by_component ON kit_components(store_id, component_sku);

CREATE TABLE stock_levels (
    store_id    text COLLATE "C" NOT NULL,
    sku         text COLLATE "C" NOT NULL,
    source      text COLLATE "C" NOT NULL,
    location    text COLLATE "C" NOT NULL DEFAULT '',
    quantity    bigint NOT NULL CHECK (quantity >= 0),
    updated_at  timestamptz NOT NULL,
    PRIMARY KEY (store_id, sku, source, location),
    FOREIGN KEY (store_id, sku) REFERENCES products(store_id, sku) ON DELETE CASCADE
);

CREATE TABLE orders (
    id                  text COLLATE "C" PRIMARY KEY,
    account_id          text COLLATE "C" NOT NULL REFERENCES accounts(id),
    store_id            text COLLATE "C" NOT NULL REFERENCES stores(id) ON DELETE CASCADE,
    channel_id          text COLLATE "C" NOT NULL REFERENCES channels(id) ON DELETE CASCADE,
    channel_order_id    text COLLATE "C" NOT NULL,
    state               text COLLATE "C" NOT NULL,
    number              text COLLATE "C" NOT NULL DEFAULT '',
    payment_status      text COLLATE "C",
    country             text COLLATE "C",
    customer_name       text COLLATE "C",
    customer_email      text COLLATE "C",
    currency            text COLLATE "C",
    total               bigint,
    channel_updated_at  timestamptz,
    unified             jsonb,
    raw                 jsonb,
    excluded_reason     text COLLATE "C",
    hold_reason         text COLLATE "C",
    manual              boolean NOT NULL DEFAULT false,
    oversold            boolean NOT NULL DEFAULT false,
    tags                jsonb NOT NULL DEFAULT '[]',
    plugin_id           text COLLATE "C",
    routed_by           text COLLATE "C",
    rule_excluded       text COLLATE "C",
    rules_applied_at    timestamptz,
    created_at          timestamptz NOT NULL,
    updated_at          timestamptz NOT NULL,
    UNIQUE (channel_id, channel_order_id)
);
CREATE INDEX orders_by_store ON orders(store_id, id);
CREATE INDEX orders_by_store_updated ON orders(store_id, updated_at);
CREATE INDEX orders_by_store_state ON orders(store_id, state, created_at);
CREATE INDEX orders_by_channel ON orders(channel_id, id);
CREATE INDEX orders_by_plugin ON orders(plugin_id, id) WHERE plugin_id IS NOT NULL;

CREATE TABLE order_lines (
    order_id         text COLLATE "C" NOT NULL REFERENCES orders(id) ON DELETE CASCADE,
    line_no          bigint NOT NULL,
    sku              text COLLATE "C" NOT NULL,
    open_quantity    bigint NOT NULL CHECK (open_quantity >= 0),
    channel_line_id  text COLLATE "C",
    quantity         bigint,
    PRIMARY KEY (order_id, line_no)
);
CREATE INDEX order_lines_by_sku ON order_lines(sku, order_id);

-- Units reserved by open order lines, kits already expanded into components.
CREATE TABLE stock_commitments (
    store_id  text COLLATE "C" NOT NULL,
    order_id  text COLLATE "C" NOT NULL REFERENCES orders(id) ON DELETE CASCADE,
    line_no   bigint NOT NULL,
    sku       text COLLATE "C" NOT NULL,
    quantity  bigint NOT NULL CHECK (quantity > 0),
    via_kit   text COLLATE "C",
    PRIMARY KEY (order_id, line_no, sku)
);
CREATE INDEX stock_commitments_by_sku ON stock_commitments(store_id, sku);

-- Units committed per store SKU, kept by a trigger in the same transaction
-- as every change to stock_commitments (import, cancel, ship, order
-- deletion by cascade). Stock targets read one row per SKU here.
CREATE TABLE stock_committed (
    store_id  text COLLATE "C" NOT NULL,
    sku       text COLLATE "C" NOT NULL,
    quantity  bigint NOT NULL,
    PRIMARY KEY (store_id, sku)
);

CREATE FUNCTION stock_committed_apply() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        UPDATE stock_committed SET quantity = quantity - OLD.quantity
        WHERE store_id = OLD.store_id AND sku = OLD.sku;
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        INSERT INTO stock_committed (store_id, sku, quantity)
        VALUES (NEW.store_id, NEW.sku, NEW.quantity)
        ON CONFLICT (store_id, sku) DO UPDATE
            SET quantity = stock_committed.quantity + excluded.quantity;
    END IF;
    RETURN NULL;
END;
$$;

CREATE TRIGGER stock_committed_apply
    AFTER INSERT OR DELETE OR UPDATE OF store_id, sku, quantity ON stock_commitments
    FOR EACH ROW EXECUTE FUNCTION stock_committed_apply();

-- The append-only journal. `seq` orders events; PostgreSQL hands out
-- sequence numbers before commit, so a reader that follows `seq` (webhook
-- dispatch) reads only below the oldest transaction still in flight,
-- found through `xid`.
CREATE TABLE journal (
    seq          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    xid          xid8 NOT NULL DEFAULT pg_current_xact_id(),
    account_id   text COLLATE "C" NOT NULL,
    store_id     text COLLATE "C" NOT NULL,
    entity_type  text COLLATE "C" NOT NULL,
    entity_id    text COLLATE "C" NOT NULL,
    event_type   text COLLATE "C" NOT NULL,
    payload      jsonb NOT NULL,
    created_at   timestamptz NOT NULL
);
CREATE INDEX journal_by_store ON journal(store_id, seq);
-- Webhook dispatch reads finished transactions' events in (xid, seq) order.
CREATE INDEX journal_by_xid ON journal(xid, seq);

CREATE TABLE idempotency_keys (
    account_id     text COLLATE "C" NOT NULL,
    key            text COLLATE "C" NOT NULL,
    fingerprint    text COLLATE "C" NOT NULL,
    status         bigint,
    response_body  bytea,
    created_at     timestamptz NOT NULL,
    PRIMARY KEY (account_id, key)
);

-- Orders a channel sent that could not be imported; resolved when a later
-- import of the same order succeeds.
CREATE TABLE import_errors (
    id                bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    account_id        text COLLATE "C" NOT NULL,
    store_id          text COLLATE "C" NOT NULL,
    channel_id        text COLLATE "C" NOT NULL REFERENCES channels(id) ON DELETE CASCADE,
    channel_order_id  text COLLATE "C" NOT NULL,
    code              text COLLATE "C" NOT NULL,
    message           text COLLATE "C" NOT NULL,
    raw               jsonb,
    attempts          bigint NOT NULL DEFAULT 1,
    first_seen_at     timestamptz NOT NULL,
    last_seen_at      timestamptz NOT NULL,
    resolved_at       timestamptz,
    UNIQUE (channel_id, channel_order_id)
);
CREATE INDEX import_errors_open ON import_errors(channel_id, resolved_at, id);

-- Every process running workers registers and beats; a lease whose holder
-- stopped or fell silent is free whatever its expiry.
CREATE TABLE worker_instances (
    id            text COLLATE "C" PRIMARY KEY,
    started_at    timestamptz NOT NULL,
    heartbeat_at  timestamptz NOT NULL,
    stopped_at    timestamptz
);

-- Work the API asks the engine for (import now, backfill, one order, ...).
CREATE TABLE jobs (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    account_id    text COLLATE "C" NOT NULL,
    store_id      text COLLATE "C" NOT NULL,
    channel_id    text COLLATE "C" NOT NULL REFERENCES channels(id) ON DELETE CASCADE,
    kind          text COLLATE "C" NOT NULL,
    payload       jsonb NOT NULL DEFAULT '{}',
    run_after     timestamptz NOT NULL,
    lease_until   timestamptz,
    lease_holder  text COLLATE "C",
    attempts      bigint NOT NULL DEFAULT 0,
    last_error    text COLLATE "C",
    started_at    timestamptz,
    progress      jsonb,
    created_at    timestamptz NOT NULL,
    finished_at   timestamptz
);
CREATE INDEX jobs_due ON jobs(channel_id, run_after) WHERE finished_at IS NULL;

-- Channel SKU → main product SKU, where they differ.
CREATE TABLE sku_mappings (
    channel_id   text COLLATE "C" NOT NULL REFERENCES channels(id) ON DELETE CASCADE,
    channel_sku  text COLLATE "C" NOT NULL,
    store_id     text COLLATE "C" NOT NULL,
    sku          text COLLATE "C" NOT NULL,
    created_at   timestamptz NOT NULL,
    PRIMARY KEY (channel_id, channel_sku)
);

-- The channel's records of products, and where their stock push stands.
CREATE TABLE listings (
    channel_id          text COLLATE "C" NOT NULL REFERENCES channels(id) ON DELETE CASCADE,
    listing_id          text COLLATE "C" NOT NULL,
    store_id            text COLLATE "C" NOT NULL,
    channel_sku         text COLLATE "C",
    sku                 text COLLATE "C",
    title               text COLLATE "C" NOT NULL,
    price               bigint,
    channel_quantity    bigint,
    raw                 jsonb,
    confirmed_quantity  bigint,
    confirmed_at        timestamptz,
    created_at          timestamptz NOT NULL,
    updated_at          timestamptz NOT NULL,
    PRIMARY KEY (channel_id, listing_id)
);
CREATE INDEX listings_by_sku ON listings(store_id, sku);

-- Stock pushes per listing: pending → sent, superseded, skipped, or error
-- (retried with backoff).
CREATE TABLE stock_pushes (
    id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    store_id         text COLLATE "C" NOT NULL,
    channel_id       text COLLATE "C" NOT NULL REFERENCES channels(id) ON DELETE CASCADE,
    listing_id       text COLLATE "C" NOT NULL,
    sku              text COLLATE "C" NOT NULL,
    quantity         bigint NOT NULL,
    state            text COLLATE "C" NOT NULL,
    cause            text COLLATE "C",
    error            text COLLATE "C",
    attempts         bigint NOT NULL DEFAULT 0,
    next_attempt_at  timestamptz NOT NULL,
    created_at       timestamptz NOT NULL,
    sent_at          timestamptz
);
CREATE INDEX stock_pushes_due ON stock_pushes(channel_id, next_attempt_at)
    WHERE state IN ('pending', 'error');
CREATE INDEX stock_pushes_by_listing ON stock_pushes(channel_id, listing_id, state);

-- Where each background worker has read the journal up to.
CREATE TABLE worker_cursors (
    name  text COLLATE "C" PRIMARY KEY,
    seq   bigint NOT NULL
);

-- A shipment of some or all lines of an order, and its sync to the channel.
CREATE TABLE fulfilments (
    id                     text COLLATE "C" PRIMARY KEY,
    account_id             text COLLATE "C" NOT NULL,
    store_id               text COLLATE "C" NOT NULL,
    order_id               text COLLATE "C" NOT NULL REFERENCES orders(id) ON DELETE CASCADE,
    channel_id             text COLLATE "C" NOT NULL REFERENCES channels(id) ON DELETE CASCADE,
    source                 text COLLATE "C" NOT NULL,
    status                 text COLLATE "C" NOT NULL,
    carrier                text COLLATE "C" NOT NULL,
    carrier_detected       boolean NOT NULL DEFAULT false,
    service                text COLLATE "C",
    tracking               jsonb NOT NULL,
    shipped_at             timestamptz NOT NULL,
    external_ref           text COLLATE "C",
    sync_state             text COLLATE "C" NOT NULL,
    sync_action            text COLLATE "C",
    channel_fulfilment_id  text COLLATE "C",
    attempts               bigint NOT NULL DEFAULT 0,
    last_error             text COLLATE "C",
    next_attempt_at        timestamptz,
    lease_until            timestamptz,
    lease_holder           text COLLATE "C",
    sync_started_at        timestamptz,
    synced_at              timestamptz,
    created_at             timestamptz NOT NULL,
    updated_at             timestamptz NOT NULL
);
CREATE INDEX fulfilments_by_order ON fulfilments(order_id, created_at);
CREATE INDEX fulfilments_due ON fulfilments(next_attempt_at)
    WHERE sync_state IN ('pending', 'failed');
CREATE UNIQUE INDEX fulfilments_external ON fulfilments(order_id, external_ref)
    WHERE external_ref IS NOT NULL;

CREATE TABLE fulfilment_lines (
    fulfilment_id    text COLLATE "C" NOT NULL REFERENCES fulfilments(id) ON DELETE CASCADE,
    line_no          bigint NOT NULL,
    sku              text COLLATE "C" NOT NULL,
    channel_line_id  text COLLATE "C",
    quantity         bigint NOT NULL CHECK (quantity > 0),
    PRIMARY KEY (fulfilment_id, line_no)
);

-- Each routed order's copy in the store's back office.
CREATE TABLE back_office_orders (
    order_id         text COLLATE "C" PRIMARY KEY REFERENCES orders(id) ON DELETE CASCADE,
    account_id       text COLLATE "C" NOT NULL,
    store_id         text COLLATE "C" NOT NULL,
    channel_id       text COLLATE "C" NOT NULL REFERENCES channels(id) ON DELETE CASCADE,
    state            text COLLATE "C" NOT NULL,
    remote_id        text COLLATE "C",
    remote_number    text COLLATE "C",
    remote_status    text COLLATE "C",
    attempts         bigint NOT NULL DEFAULT 0,
    last_error       text COLLATE "C",
    waiting_since    timestamptz,
    fulfilment_id    text COLLATE "C",
    channel_cancel   text COLLATE "C",
    next_at          timestamptz,
    lease_until      timestamptz,
    lease_holder     text COLLATE "C",
    step_started_at  timestamptz,
    checked_at       timestamptz,
    created_at       timestamptz NOT NULL,
    updated_at       timestamptz NOT NULL
);
CREATE INDEX back_office_orders_due ON back_office_orders(store_id, state, next_at)
    WHERE next_at IS NOT NULL;

-- Outgoing webhooks: subscriptions (secrets sealed), messages derived from
-- the journal, one delivery per (message, endpoint), and every attempt.
CREATE TABLE webhook_endpoints (
    id                          text COLLATE "C" PRIMARY KEY,
    account_id                  text COLLATE "C" NOT NULL,
    store_id                    text COLLATE "C" NOT NULL REFERENCES stores(id) ON DELETE CASCADE,
    url                         text COLLATE "C" NOT NULL,
    description                 text COLLATE "C",
    events                      jsonb NOT NULL,
    enabled                     boolean NOT NULL,
    disabled_reason             text COLLATE "C",
    secret                      bytea NOT NULL,
    previous_secret             bytea,
    previous_secret_expires_at  timestamptz,
    failing_since               timestamptz,
    created_at                  timestamptz NOT NULL,
    updated_at                  timestamptz NOT NULL
);
CREATE INDEX webhook_endpoints_by_store ON webhook_endpoints(store_id, id);

-- How far the journal has been turned into messages: the (xid, seq) of
-- the last event dispatched. Events are read in that order, and only
-- from transactions older than every one still running, so an event
-- that commits late is never passed by the cursor.
CREATE TABLE webhook_cursor (
    id   bigint PRIMARY KEY CHECK (id = 1),
    seq  bigint NOT NULL,
    xid  xid8 NOT NULL DEFAULT '0'
);
INSERT INTO webhook_cursor (id, seq) VALUES (1, 0);

CREATE TABLE webhook_messages (
    id           text COLLATE "C" PRIMARY KEY,
    account_id   text COLLATE "C" NOT NULL,
    store_id     text COLLATE "C" NOT NULL REFERENCES stores(id) ON DELETE CASCADE,
    event_type   text COLLATE "C" NOT NULL,
    journal_seq  bigint,
    entity_key   text COLLATE "C",
    body         text COLLATE "C" NOT NULL,
    created_at   timestamptz NOT NULL
);
CREATE UNIQUE INDEX webhook_messages_by_journal ON webhook_messages(journal_seq, entity_key)
    WHERE journal_seq IS NOT NULL;
CREATE INDEX webhook_messages_by_store ON webhook_messages(store_id, created_at);

CREATE TABLE webhook_deliveries (
    message_id       text COLLATE "C" NOT NULL REFERENCES webhook_messages(id) ON DELETE CASCADE,
    endpoint_id      text COLLATE "C" NOT NULL REFERENCES webhook_endpoints(id) ON DELETE CASCADE,
    state            text COLLATE "C" NOT NULL,
    attempts         bigint NOT NULL DEFAULT 0,
    schedule_step    bigint NOT NULL DEFAULT 0,
    next_attempt_at  timestamptz NOT NULL,
    lease_until      timestamptz,
    lease_holder     text COLLATE "C",
    last_status      bigint,
    last_error       text COLLATE "C",
    updated_at       timestamptz NOT NULL,
    PRIMARY KEY (message_id, endpoint_id)
);
CREATE INDEX webhook_deliveries_queue ON webhook_deliveries(endpoint_id, next_attempt_at, message_id)
    WHERE state = 'pending';
CREATE INDEX webhook_deliveries_leases ON webhook_deliveries(endpoint_id, lease_until)
    WHERE state = 'pending';

CREATE TABLE webhook_attempts (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    message_id   text COLLATE "C" NOT NULL,
    endpoint_id  text COLLATE "C" NOT NULL REFERENCES webhook_endpoints(id) ON DELETE CASCADE,
    attempt      bigint NOT NULL,
    started_at   timestamptz NOT NULL,
    status       bigint,
    latency_ms   bigint NOT NULL,
    response     text COLLATE "C",
    error        text COLLATE "C",
    outcome      text COLLATE "C" NOT NULL
);
CREATE INDEX webhook_attempts_by_endpoint ON webhook_attempts(endpoint_id, id);

-- Messages to plugins: `order.routed` and `order.cancelled`, at most one of
-- each per order; never given up.
CREATE TABLE plugin_messages (
    id            text COLLATE "C" PRIMARY KEY,
    account_id    text COLLATE "C" NOT NULL,
    store_id      text COLLATE "C" NOT NULL REFERENCES stores(id) ON DELETE CASCADE,
    plugin_id     text COLLATE "C" NOT NULL REFERENCES plugins(id),
    order_id      text COLLATE "C" NOT NULL REFERENCES orders(id) ON DELETE CASCADE,
    kind          text COLLATE "C" NOT NULL,
    state         text COLLATE "C" NOT NULL,
    attempts      bigint NOT NULL DEFAULT 0,
    next_at       timestamptz NOT NULL,
    lease_until   timestamptz,
    lease_holder  text COLLATE "C",
    last_status   bigint,
    last_error    text COLLATE "C",
    response      text COLLATE "C",
    delivered_at  timestamptz,
    created_at    timestamptz NOT NULL,
    updated_at    timestamptz NOT NULL,
    UNIQUE (order_id, kind)
);
CREATE INDEX plugin_messages_due ON plugin_messages(next_at) WHERE state = 'pending';
CREATE INDEX plugin_messages_by_plugin ON plugin_messages(plugin_id, order_id);
