-- Accounting connections (Xero, Sage) of a store, and the sync of each
-- issued invoice and credit note to each connection. Credentials are
-- sealed; a refresh rotates them and they are written back at once.

CREATE TABLE accounting_connections (
    id           text COLLATE "C" PRIMARY KEY,
    account_id   text COLLATE "C" NOT NULL REFERENCES accounts(id),
    store_id     text COLLATE "C" NOT NULL REFERENCES stores(id) ON DELETE CASCADE,
    kind         text COLLATE "C" NOT NULL CHECK (kind IN ('xero', 'sage')),
    name         text COLLATE "C" NOT NULL,
    base_url     text COLLATE "C",
    credentials  bytea NOT NULL,
    settings     jsonb NOT NULL,
    tenant       text COLLATE "C",
    last_error   text COLLATE "C",
    created_at   timestamptz NOT NULL,
    updated_at   timestamptz NOT NULL,
    UNIQUE (store_id, kind)
);

CREATE TABLE accounting_syncs (
    invoice_id     text COLLATE "C" NOT NULL REFERENCES invoices(id) ON DELETE CASCADE,
    connection_id  text COLLATE "C" NOT NULL REFERENCES accounting_connections(id) ON DELETE CASCADE,
    account_id     text COLLATE "C" NOT NULL,
    store_id       text COLLATE "C" NOT NULL,
    state          text COLLATE "C" NOT NULL CHECK (state IN ('pending', 'synced', 'failed')),
    remote_id      text COLLATE "C",
    remote_number  text COLLATE "C",
    attempts       bigint NOT NULL DEFAULT 0,
    last_error     text COLLATE "C",
    next_at        timestamptz,
    synced_at      timestamptz,
    created_at     timestamptz NOT NULL,
    updated_at     timestamptz NOT NULL,
    PRIMARY KEY (invoice_id, connection_id)
);
CREATE INDEX accounting_syncs_due ON accounting_syncs(connection_id, next_at) WHERE next_at IS NOT NULL;
CREATE INDEX accounting_syncs_by_store ON accounting_syncs(store_id, state);
