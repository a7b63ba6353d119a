-- SKUs whose stock changed in an import page and whose listings' push
-- targets are yet to be recomputed. The page marks them in its own
-- transaction (holding the mark's row lock until it commits); the stock
-- pusher takes the marks it can lock, recomputes those SKUs' targets once
-- for all the pages that marked them since (see
-- `src/postgres/listings/mod.rs`, `settle_targets`), and deletes the marks
-- in the same transaction. A crash loses nothing: the marks wait.
CREATE TABLE stale_targets (
    store_id  text COLLATE "C" NOT NULL REFERENCES stores(id) ON DELETE CASCADE,
    sku       text COLLATE "C" NOT NULL,
    cause     text COLLATE "C" NOT NULL,
    PRIMARY KEY (store_id, sku)
);
