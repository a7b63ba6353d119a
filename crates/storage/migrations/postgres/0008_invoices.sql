-- Invoices and credit notes. A store's settings row holds the numbering
-- counters, taken in the transaction that issues a document, so numbers
-- have no gaps and no repeats. Documents are immutable: only
-- `credited_in_full` changes, when a credit note completes the credit.
-- `order_id` has no foreign key: an invoice outlives its order's pruning.

CREATE TABLE invoice_settings (
    store_id          text COLLATE "C" PRIMARY KEY REFERENCES stores(id) ON DELETE CASCADE,
    account_id        text COLLATE "C" NOT NULL REFERENCES accounts(id),
    settings          jsonb NOT NULL,
    auto              text COLLATE "C" NOT NULL DEFAULT 'off',
    auto_since        timestamptz,
    next_invoice      bigint NOT NULL DEFAULT 1 CHECK (next_invoice >= 1),
    next_credit_note  bigint NOT NULL DEFAULT 1 CHECK (next_credit_note >= 1),
    updated_at        timestamptz NOT NULL
);

CREATE TABLE invoices (
    id                text COLLATE "C" PRIMARY KEY,
    account_id        text COLLATE "C" NOT NULL REFERENCES accounts(id),
    store_id          text COLLATE "C" NOT NULL REFERENCES stores(id),
    order_id          text COLLATE "C" NOT NULL,
    kind              text COLLATE "C" NOT NULL CHECK (kind IN ('invoice', 'credit_note')),
    prefix            text COLLATE "C" NOT NULL,
    seq               bigint NOT NULL,
    number            text COLLATE "C" NOT NULL,
    credits_id        text COLLATE "C" REFERENCES invoices(id),
    currency          text COLLATE "C" NOT NULL,
    net               bigint NOT NULL,
    tax               bigint NOT NULL,
    gross             bigint NOT NULL,
    credited_in_full  boolean NOT NULL DEFAULT false,
    source            text COLLATE "C" NOT NULL,
    document          jsonb NOT NULL,
    issued_at         timestamptz NOT NULL,
    UNIQUE (store_id, kind, number)
);
CREATE INDEX invoices_by_store ON invoices(store_id, id);
CREATE INDEX invoices_by_order ON invoices(order_id);
CREATE INDEX invoices_by_credited ON invoices(credits_id) WHERE credits_id IS NOT NULL;
-- One invoice in force per order: another only once it is credited in full.
CREATE UNIQUE INDEX invoices_one_per_order ON invoices(order_id)
    WHERE kind = 'invoice' AND NOT credited_in_full;
