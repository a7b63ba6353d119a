-- Units committed per store SKU, kept by triggers in the same transaction
-- as every change to stock_commitments (import, cancel, ship, order
-- deletion by cascade). Stock targets read one row per SKU here instead of
-- summing the commitments of every open order, which grew with the number
-- of open orders. The detail in stock_commitments stays for `explain`.
CREATE TABLE stock_committed (
    store_id  TEXT NOT NULL,
    sku       TEXT NOT NULL,
    quantity  INTEGER NOT NULL,
    PRIMARY KEY (store_id, sku)
) WITHOUT ROWID;

INSERT INTO stock_committed (store_id, sku, quantity)
SELECT store_id, sku, SUM(quantity) FROM stock_commitments GROUP BY store_id, sku;

CREATE TRIGGER stock_committed_on_insert AFTER INSERT ON stock_commitments BEGIN
    INSERT INTO stock_committed (store_id, sku, quantity) VALUES (NEW.store_id, NEW.sku, NEW.quantity)
    ON CONFLICT (store_id, sku) DO UPDATE SET quantity = quantity + excluded.quantity;
END;

CREATE TRIGGER stock_committed_on_delete AFTER DELETE ON stock_commitments BEGIN
    UPDATE stock_committed SET quantity = quantity - OLD.quantity
    WHERE store_id = OLD.store_id AND sku = OLD.sku;
END;

CREATE TRIGGER stock_committed_on_update AFTER UPDATE OF store_id, sku, quantity ON stock_commitments BEGIN
    UPDATE stock_committed SET quantity = quantity - OLD.quantity
    WHERE store_id = OLD.store_id AND sku = OLD.sku;
    INSERT INTO stock_committed (store_id, sku, quantity) VALUES (NEW.store_id, NEW.sku, NEW.quantity)
    ON CONFLICT (store_id, sku) DO UPDATE SET quantity = quantity + excluded.quantity;
END;
