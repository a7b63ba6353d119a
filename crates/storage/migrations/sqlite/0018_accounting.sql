-- Accounting connections (Xero, Sage) of a store, and the sync of each
-- issued invoice and credit note to each connection. Credentials are
-- sealed; a refresh rotates them and they are written back at once.

CREATE TABLE accounting_connections (
    id           TEXT PRIMARY KEY,
    account_id   TEXT NOT NULL REFERENCES accounts(id),
    store_id     TEXT NOT NULL REFERENCES stores(id) ON DELETE CASCADE,
    kind         TEXT NOT NULL CHECK (kind IN ('xero', 'sage')),
    name         TEXT NOT NULL,
    base_url     TEXT,
    credentials  BLOB NOT NULL,
    settings     TEXT NOT NULL,
    tenant       TEXT,
    last_error   TEXT,
    created_at   TEXT NOT NULL,
    updated_at   TEXT NOT NULL,
    UNIQUE (store_id, kind)
);

CREATE TABLE accounting_syncs (
    invoice_id     TEXT NOT NULL REFERENCES invoices(id) ON DELETE CASCADE,
    connection_id  TEXT NOT NULL REFERENCES accounting_connections(id) ON DELETE CASCADE,
    account_id     TEXT NOT NULL,
    store_id       TEXT NOT NULL,
    state          TEXT NOT NULL CHECK (state IN ('pending', 'synced', 'failed')),
    remote_id      TEXT,
    remote_number  TEXT,
    attempts       INTEGER NOT NULL DEFAULT 0,
    last_error     TEXT,
    next_at        TEXT,
    synced_at      TEXT,
    created_at     TEXT NOT NULL,
    updated_at     TEXT NOT NULL,
    PRIMARY KEY (invoice_id, connection_id)
);
CREATE INDEX accounting_syncs_due ON accounting_syncs(connection_id, next_at) WHERE next_at IS NOT NULL;
CREATE INDEX accounting_syncs_by_store ON accounting_syncs(store_id, state);
