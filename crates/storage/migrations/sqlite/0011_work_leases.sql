-- Work that is not a row of its own, held under the same lease as the work
-- queues (see `src/sqlite/leases.rs`): one channel's import round, its
-- listings download, its stock push, one store's back-office round. Among
-- the instances sharing a database, at most one holds each at a time.
CREATE TABLE work_leases (
    kind          TEXT NOT NULL,
    key           TEXT NOT NULL,
    lease_until   TEXT,
    lease_holder  TEXT,
    PRIMARY KEY (kind, key)
);
