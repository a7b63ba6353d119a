//! The PostgreSQL schema, on a throwaway cluster: its migrations apply to
//! an empty database and again as a no-op, and it has every table and
//! column of the SQLite schema, so that the backends can hold the same
//! data (and `migrate-data` can copy one into the other).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests: a failed step should stop the test loudly"
)]

use std::collections::{BTreeMap, BTreeSet};

use switchyard_storage::Storage;
use switchyard_storage::postgres::PgStorage;
use switchyard_storage::sqlite::SqliteStorage;

type Tables = BTreeMap<String, BTreeSet<String>>;

async fn sqlite_tables() -> Tables {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("schema.db").display());
    SqliteStorage::connect_and_migrate(&url).await.unwrap();
    let pool = sqlx::SqlitePool::connect(&url).await.unwrap();
    let names: Vec<String> = sqlx::query_scalar(
        "SELECT name FROM sqlite_master WHERE type = 'table'
           AND name NOT LIKE 'sqlite_%' AND name NOT LIKE '_sqlx%'",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    let mut tables = Tables::new();
    for name in names {
        let columns: Vec<String> =
            sqlx::query_scalar("SELECT name FROM pragma_table_info(?) ORDER BY name")
                .bind(&name)
                .fetch_all(&pool)
                .await
                .unwrap();
        tables.insert(name, columns.into_iter().collect());
    }
    tables
}

async fn postgres_tables(s: &PgStorage) -> Tables {
    let rows: Vec<(String, String)> = sqlx::query_as(
        "SELECT table_name::text, column_name::text FROM information_schema.columns
         WHERE table_schema = 'public' AND table_name NOT LIKE '_sqlx%'",
    )
    .fetch_all(s.pool())
    .await
    .unwrap();
    let mut tables = Tables::new();
    for (table, column) in rows {
        tables.entry(table).or_default().insert(column);
    }
    tables
}

#[tokio::test]
async fn the_postgres_schema_migrates_twice_and_holds_every_sqlite_column() {
    let cluster = switchyard_pgtest::cluster().unwrap();
    let url = cluster.database().await.unwrap();
    let s = PgStorage::connect_and_migrate(&url).await.unwrap();
    s.ping().await.unwrap();
    // A second start finds nothing to do.
    PgStorage::connect_and_migrate(&url).await.unwrap();

    let sqlite = sqlite_tables().await;
    let postgres = postgres_tables(&s).await;
    assert!(sqlite.len() > 20, "the SQLite schema was read: {sqlite:?}");
    for (table, columns) in &sqlite {
        let Some(pg) = postgres.get(table) else {
            panic!("table {table} is missing on PostgreSQL");
        };
        let missing: Vec<&String> = columns.difference(pg).collect();
        // PostgreSQL's journal also records the writing transaction, and
        // the webhook cursor the transaction it stands at.
        let extra: Vec<&String> = pg
            .difference(columns)
            .filter(|c| {
                !(matches!(table.as_str(), "journal" | "webhook_cursor") && c.as_str() == "xid")
            })
            .collect();
        assert!(
            missing.is_empty() && extra.is_empty(),
            "{table}: missing on PostgreSQL {missing:?}, only on PostgreSQL {extra:?}"
        );
    }
    let only_pg: Vec<&String> = postgres
        .keys()
        .filter(|t| !sqlite.contains_key(*t))
        .collect();
    assert!(only_pg.is_empty(), "tables only on PostgreSQL: {only_pg:?}");
}

#[tokio::test]
async fn committed_units_follow_every_change_to_the_commitments() {
    let cluster = switchyard_pgtest::cluster().unwrap();
    let url = cluster.database().await.unwrap();
    let s = PgStorage::connect_and_migrate(&url).await.unwrap();
    let pool = s.pool();
    for sql in [
        "INSERT INTO accounts VALUES ('acc_1', 'a', now())",
        "INSERT INTO stores (id, account_id, name, created_at, updated_at) VALUES ('sto_1', 'acc_1', 's', now(), now())",
        "INSERT INTO channels (id, account_id, store_id, name, kind, created_at, updated_at) VALUES ('chn_1', 'acc_1', 'sto_1', 'c', 'shopify', now(), now())",
        "INSERT INTO orders (id, account_id, store_id, channel_id, channel_order_id, state, created_at, updated_at) VALUES ('ord_1', 'acc_1', 'sto_1', 'chn_1', '1', 'open', now(), now())",
        "INSERT INTO orders (id, account_id, store_id, channel_id, channel_order_id, state, created_at, updated_at) VALUES ('ord_2', 'acc_1', 'sto_1', 'chn_1', '2', 'open', now(), now())",
        "INSERT INTO stock_commitments VALUES ('sto_1', 'ord_1', 1, 'A', 2, NULL), ('sto_1', 'ord_2', 1, 'A', 3, NULL), ('sto_1', 'ord_2', 2, 'B', 1, NULL)",
    ] {
        sqlx::query(sql).execute(pool).await.unwrap();
    }
    let committed = || async {
        let rows: Vec<(String, i64)> =
            sqlx::query_as("SELECT sku, quantity FROM stock_committed ORDER BY sku")
                .fetch_all(pool)
                .await
                .unwrap();
        rows
    };
    assert_eq!(committed().await, [("A".into(), 5), ("B".into(), 1)]);
    sqlx::query("UPDATE stock_commitments SET quantity = 1 WHERE order_id = 'ord_2' AND sku = 'A'")
        .execute(pool)
        .await
        .unwrap();
    assert_eq!(committed().await, [("A".into(), 3), ("B".into(), 1)]);
    sqlx::query("UPDATE stock_commitments SET sku = 'B' WHERE order_id = 'ord_1'")
        .execute(pool)
        .await
        .unwrap();
    assert_eq!(committed().await, [("A".into(), 1), ("B".into(), 3)]);
    // An order deleted takes its commitments with it (by cascade).
    sqlx::query("DELETE FROM orders WHERE id = 'ord_2'")
        .execute(pool)
        .await
        .unwrap();
    assert_eq!(committed().await, [("A".into(), 0), ("B".into(), 2)]);
}

/// A wake-up published on one connection reaches another's listener as
/// sent (its commit not waiting for the WAL flush).
#[tokio::test]
async fn a_wakeup_reaches_the_listeners_as_sent() {
    use switchyard_storage::Leases;
    let cluster = switchyard_pgtest::cluster().unwrap();
    let url = cluster.database().await.unwrap();
    let a = PgStorage::connect_and_migrate(&url).await.unwrap();
    let b = PgStorage::connect_and_migrate(&url).await.unwrap();
    let mut heard = b.wakeups().await.unwrap().expect("PostgreSQL listens");
    for payload in ["wrk_a push,dispatch", "wrk_a it's \\ 'quoted'"] {
        a.publish_wakeup(payload).await.unwrap();
        let got = tokio::time::timeout(std::time::Duration::from_secs(10), heard.recv())
            .await
            .expect("the wake-up arrives")
            .unwrap();
        assert_eq!(got, payload);
    }
}
