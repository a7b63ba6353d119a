-- Invoices and credit notes. A store's settings row holds the numbering
-- counters, taken in the transaction that issues a document, so numbers
-- have no gaps and no repeats. Documents are immutable: only
-- `credited_in_full` changes, when a credit note completes the credit.
-- `order_id` has no foreign key: an invoice outlives its order's pruning.

CREATE TABLE invoice_settings (
    store_id          TEXT PRIMARY KEY REFERENCES stores(id) ON DELETE CASCADE,
    account_id        TEXT NOT NULL REFERENCES accounts(id),
    settings          TEXT NOT NULL,
    auto              TEXT NOT NULL DEFAULT 'off',
    auto_since        TEXT,
    next_invoice      INTEGER NOT NULL DEFAULT 1 CHECK (next_invoice >= 1),
    next_credit_note  INTEGER NOT NULL DEFAULT 1 CHECK (next_credit_note >= 1),
    updated_at        TEXT NOT NULL
);

CREATE TABLE invoices (
    id                TEXT PRIMARY KEY,
    account_id        TEXT NOT NULL REFERENCES accounts(id),
    store_id          TEXT NOT NULL REFERENCES stores(id),
    order_id          TEXT NOT NULL,
    kind              TEXT NOT NULL CHECK (kind IN ('invoice', 'credit_note')),
    prefix            TEXT NOT NULL,
    seq               INTEGER NOT NULL,
    number            TEXT NOT NULL,
    credits_id        TEXT REFERENCES invoices(id),
    currency          TEXT NOT NULL,
    net               INTEGER NOT NULL,
    tax               INTEGER NOT NULL,
    gross             INTEGER NOT NULL,
    credited_in_full  INTEGER NOT NULL DEFAULT 0,
    source            TEXT NOT NULL,
    document          TEXT NOT NULL,
    issued_at         TEXT NOT NULL,
    UNIQUE (store_id, kind, number)
);
CREATE INDEX invoices_by_store ON invoices(store_id, id);
CREATE INDEX invoices_by_order ON invoices(order_id);
CREATE INDEX invoices_by_credited ON invoices(credits_id) WHERE credits_id IS NOT NULL;
-- One invoice in force per order: another only once it is credited in full.
CREATE UNIQUE INDEX invoices_one_per_order ON invoices(order_id)
    WHERE kind = 'invoice' AND credited_in_full = 0;
