-- SKUs whose stock changed in an import page and whose listings' push
-- targets are yet to be recomputed. The page marks them in its own
-- transaction; the stock pusher recomputes the targets of everything
-- marked, once for all the pages that marked a SKU since (see
-- `src/sqlite/listings/mod.rs`, `settle_targets`), and deletes the marks
-- in the same transaction. A crash loses nothing: the marks wait.
CREATE TABLE stale_targets (
    store_id  TEXT NOT NULL REFERENCES stores(id) ON DELETE CASCADE,
    sku       TEXT NOT NULL,
    cause     TEXT NOT NULL,
    PRIMARY KEY (store_id, sku)
);
