//! The import baseline: the rows an import left (orders, their lines and
//! commitments, journal events, stock pushes), inserted again into a fresh
//! database with the product's schema, 100 orders per transaction (the
//! import's page size). That is what "storing orders" costs with nothing
//! else to do: no HTTP, no mapping, no lookups.
//!
//! On SQLite, one multi-row `INSERT` per table per transaction (the fastest
//! correct way through sqlx: one hop to its connection thread per table per
//! page, not per row) into a file with the product's pragmas; beside it,
//! the engine's own limit (`INSERT … SELECT` from the attached source, in
//! one transaction). On PostgreSQL, where each statement is a round trip to the
//! server, one set-based `INSERT … SELECT FROM jsonb_populate_recordset`
//! per table per transaction.

use std::collections::HashMap;
use std::path::Path;
use std::time::Instant;

use anyhow::Context;
use serde_json::Value;
use sqlx::sqlite::SqliteArguments;
use sqlx::{Connection, PgConnection, Sqlite, SqliteConnection};
use switchyard_storage::postgres::PgStorage;
use switchyard_storage::sqlite::{SqliteStorage, connect_options};

/// Orders per transaction.
const BATCH: usize = 100;

/// What the baseline stored and how fast.
#[derive(Debug)]
pub(crate) struct Baseline {
    pub orders: usize,
    pub lines: usize,
    pub commitments: usize,
    pub events: usize,
    pub pushes: usize,
    pub seconds: f64,
    pub orders_per_sec: f64,
}

fn url(path: &Path) -> String {
    format!("sqlite://{}", path.display())
}

/// The newest journal sequence number of the database at `url`.
pub(crate) async fn journal_seq(url: &str) -> anyhow::Result<i64> {
    const SQL: &str = "SELECT COALESCE(MAX(seq), 0)::bigint FROM journal";
    if url.starts_with("sqlite:") {
        let mut conn =
            SqliteConnection::connect_with(&connect_options(url)?.read_only(true)).await?;
        return Ok(sqlx::query_scalar(&SQL.replace("::bigint", ""))
            .fetch_one(&mut conn)
            .await?);
    }
    let mut conn = PgConnection::connect(url).await?;
    Ok(sqlx::query_scalar(SQL).fetch_one(&mut conn).await?)
}

/// The baseline of the import that left its rows in the database at `src`
/// (journal events after `journal_after`): on SQLite into a file in `dir`,
/// on PostgreSQL into a new database on `server`.
pub(crate) async fn run(
    src: &str,
    dir: &Path,
    server: &str,
    journal_after: i64,
) -> anyhow::Result<Baseline> {
    match src.strip_prefix("sqlite://") {
        Some(path) => run_sqlite(Path::new(path), dir, journal_after).await,
        None => run_pg(src, server, journal_after).await,
    }
}

/// A table's rows as JSON arrays (column order of the table).
struct Rows {
    table: &'static str,
    columns: Vec<String>,
    rows: Vec<Vec<Value>>,
}

impl Rows {
    async fn load(
        conn: &mut SqliteConnection,
        table: &'static str,
        filter: &str,
    ) -> anyhow::Result<Self> {
        let columns: Vec<String> =
            sqlx::query_scalar(&format!("SELECT name FROM pragma_table_info('{table}')"))
                .fetch_all(&mut *conn)
                .await?;
        let select = format!(
            "SELECT json_array({}) FROM src.{table} {filter} ORDER BY rowid",
            columns.join(", ")
        );
        let texts: Vec<String> = sqlx::query_scalar(&select).fetch_all(&mut *conn).await?;
        let rows = texts
            .iter()
            .map(|t| serde_json::from_str::<Vec<Value>>(t))
            .collect::<Result<_, _>>()?;
        Ok(Self {
            table,
            columns,
            rows,
        })
    }

    fn column(&self, name: &str) -> anyhow::Result<usize> {
        self.columns
            .iter()
            .position(|c| c == name)
            .with_context(|| format!("{} has no column {name}", self.table))
    }

    /// Rows grouped by the text of column `key`.
    fn by(&self, key: &str) -> anyhow::Result<HashMap<String, Vec<&Vec<Value>>>> {
        let k = self.column(key)?;
        let mut out: HashMap<String, Vec<&Vec<Value>>> = HashMap::new();
        for r in &self.rows {
            out.entry(r[k].as_str().unwrap_or_default().to_owned())
                .or_default()
                .push(r);
        }
        Ok(out)
    }
}

/// SQLite's limit on the variables of one statement.
const MAX_VARIABLES: usize = 32_766;

/// Insert `rows` into `table` with as few multi-row `INSERT`s as its
/// variable limit allows (one per table per page, at the import's sizes).
async fn insert_all(
    conn: &mut SqliteConnection,
    rows: &Rows,
    chunk: &[&Vec<Value>],
) -> anyhow::Result<()> {
    let width = rows.columns.len().max(1);
    for part in chunk.chunks((MAX_VARIABLES / width).max(1)) {
        let one = format!("({})", vec!["?"; width].join(", "));
        let sql = format!(
            "INSERT INTO {} ({}) VALUES {}",
            rows.table,
            rows.columns.join(", "),
            vec![one.as_str(); part.len()].join(", ")
        );
        let mut q = sqlx::query::<Sqlite>(&sql);
        for row in part {
            for v in *row {
                q = bind(q, v);
            }
        }
        q.execute(&mut *conn).await?;
    }
    Ok(())
}

fn bind<'q>(
    q: sqlx::query::Query<'q, Sqlite, SqliteArguments<'q>>,
    v: &'q Value,
) -> sqlx::query::Query<'q, Sqlite, SqliteArguments<'q>> {
    match v {
        Value::Null => q.bind(None::<String>),
        Value::Bool(b) => q.bind(*b),
        Value::Number(n) => match n.as_i64() {
            Some(i) => q.bind(i),
            None => q.bind(n.as_f64()),
        },
        Value::String(s) => q.bind(s.as_str()),
        other => q.bind(other.to_string()),
    }
}

/// The tables an import writes, with the filter that selects its rows.
fn imported(journal_after: i64) -> [(&'static str, String); 5] {
    [
        ("orders", String::new()),
        ("order_lines", String::new()),
        ("stock_commitments", String::new()),
        ("journal", format!("WHERE seq > {journal_after}")),
        ("stock_pushes", "WHERE cause = 'order_import'".to_owned()),
    ]
}

/// A fresh SQLite file in `dir` with the product's schema and pragmas, the
/// database at `src` attached as `src`, and the rows orders refer to
/// copied (untimed).
async fn fresh_sqlite(dir: &Path, name: &str, src: &Path) -> anyhow::Result<SqliteConnection> {
    let path = dir.join(name);
    // The product's schema, from its own migrations.
    drop(SqliteStorage::connect_and_migrate(&url(&path)).await?);
    let mut conn = SqliteConnection::connect_with(&connect_options(&url(&path))?).await?;
    sqlx::query("ATTACH DATABASE ? AS src")
        .bind(src.display().to_string())
        .execute(&mut conn)
        .await?;
    for t in ["accounts", "stores", "channels", "products", "listings"] {
        sqlx::query(&format!("INSERT INTO main.{t} SELECT * FROM src.{t}"))
            .execute(&mut conn)
            .await?;
    }
    Ok(conn)
}

/// Insert the rows the import left in `src` (journal events after
/// `journal_after`) into a fresh database in `dir`, 100 orders per
/// transaction, one multi-row `INSERT` per table per transaction; time only
/// the inserts.
async fn run_sqlite(src: &Path, dir: &Path, journal_after: i64) -> anyhow::Result<Baseline> {
    let mut conn = fresh_sqlite(dir, "baseline.db", src).await?;
    let [o, l, c, j, p] = imported(journal_after);
    let orders = Rows::load(&mut conn, o.0, &o.1).await?;
    let lines = Rows::load(&mut conn, l.0, &l.1).await?;
    let commitments = Rows::load(&mut conn, c.0, &c.1).await?;
    let journal = Rows::load(&mut conn, j.0, &j.1).await?;
    let pushes = Rows::load(&mut conn, p.0, &p.1).await?;
    sqlx::query("DETACH DATABASE src")
        .execute(&mut conn)
        .await?;
    let lines_of = lines.by("order_id")?;
    let commitments_of = commitments.by("order_id")?;
    let id = orders.column("id")?;
    let batches = orders.rows.len().div_ceil(BATCH).max(1);
    let started = Instant::now();
    for (b, chunk) in orders.rows.chunks(BATCH).enumerate() {
        let keys: Vec<&str> = chunk
            .iter()
            .map(|o| o[id].as_str().unwrap_or_default())
            .collect();
        let page_lines: Vec<&Vec<Value>> = keys
            .iter()
            .flat_map(|k| lines_of.get(*k).into_iter().flatten().copied())
            .collect();
        let page_commitments: Vec<&Vec<Value>> = keys
            .iter()
            .flat_map(|k| commitments_of.get(*k).into_iter().flatten().copied())
            .collect();
        let mut tx = conn.begin().await?;
        insert_all(&mut tx, &orders, &chunk.iter().collect::<Vec<_>>()).await?;
        insert_all(&mut tx, &lines, &page_lines).await?;
        insert_all(&mut tx, &commitments, &page_commitments).await?;
        insert_all(&mut tx, &journal, &slice(&journal.rows, batches, b)).await?;
        insert_all(&mut tx, &pushes, &slice(&pushes.rows, batches, b)).await?;
        tx.commit().await?;
    }
    let seconds = started.elapsed().as_secs_f64();
    conn.close().await.ok();
    Ok(Baseline {
        orders: orders.rows.len(),
        lines: lines.rows.len(),
        commitments: commitments.rows.len(),
        events: journal.rows.len(),
        pushes: pushes.rows.len(),
        seconds,
        orders_per_sec: orders.rows.len() as f64 / seconds,
    })
}

/// The SQLite engine's own limit for the same rows: one transaction of
/// `INSERT … SELECT` per table from the attached database, with no
/// statement or value ever crossing into Rust. Orders per second.
pub(crate) async fn engine_limit(
    src: &str,
    dir: &Path,
    journal_after: i64,
) -> anyhow::Result<Option<f64>> {
    let Some(path) = src.strip_prefix("sqlite://") else {
        return Ok(None);
    };
    let mut conn = fresh_sqlite(dir, "engine-limit.db", Path::new(path)).await?;
    let started = Instant::now();
    let mut tx = conn.begin().await?;
    let mut orders = 0;
    for (table, filter) in imported(journal_after) {
        let done = sqlx::query(&format!(
            "INSERT INTO main.{table} SELECT * FROM src.{table} {filter} ORDER BY rowid"
        ))
        .execute(&mut *tx)
        .await?;
        if table == "orders" {
            orders = done.rows_affected();
        }
    }
    tx.commit().await?;
    let seconds = started.elapsed().as_secs_f64();
    conn.close().await.ok();
    Ok(Some(orders as f64 / seconds))
}

/// A PostgreSQL table's rows as JSON objects, for `jsonb_populate_recordset`.
async fn pg_rows(
    conn: &mut PgConnection,
    table: &str,
    filter: &str,
    order: &str,
) -> anyhow::Result<Vec<Value>> {
    Ok(sqlx::query_scalar(&format!(
        "SELECT to_jsonb(t) FROM {table} t {filter} ORDER BY {order}"
    ))
    .fetch_all(&mut *conn)
    .await?)
}

/// One statement inserting `rows` (JSON objects) into `table`.
async fn pg_insert(conn: &mut PgConnection, table: &str, rows: &[&Value]) -> anyhow::Result<()> {
    if rows.is_empty() {
        return Ok(());
    }
    sqlx::query(&format!(
        "INSERT INTO {table} OVERRIDING SYSTEM VALUE \
         SELECT * FROM jsonb_populate_recordset(NULL::{table}, $1)"
    ))
    .bind(Value::Array(rows.iter().map(|r| (*r).clone()).collect()))
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Insert the rows the import left in the database at `src` into a new
/// database on `server`, one statement per table per 100 orders; time
/// only the inserts.
async fn run_pg(src: &str, server: &str, journal_after: i64) -> anyhow::Result<Baseline> {
    let target = super::pg::fresh(server).await?;
    // The product's schema, from its own migrations.
    drop(PgStorage::connect_and_migrate(&target).await?);
    let mut from = PgConnection::connect(src).await?;
    let mut conn = PgConnection::connect(&target).await?;
    // The rows orders refer to, untimed.
    for (t, order) in [
        ("accounts", "id"),
        ("stores", "id"),
        ("channels", "id"),
        ("products", "store_id, sku"),
        ("listings", "channel_id, listing_id"),
    ] {
        let rows = pg_rows(&mut from, t, "", order).await?;
        for chunk in rows.chunks(5_000) {
            pg_insert(&mut conn, t, &chunk.iter().collect::<Vec<_>>()).await?;
        }
    }
    let orders = pg_rows(&mut from, "orders", "", "created_at, id").await?;
    let lines = pg_rows(&mut from, "order_lines", "", "order_id, line_no").await?;
    let commitments = pg_rows(&mut from, "stock_commitments", "", "order_id").await?;
    let journal = pg_rows(
        &mut from,
        "journal",
        &format!("WHERE seq > {journal_after}"),
        "seq",
    )
    .await?;
    let pushes = pg_rows(
        &mut from,
        "stock_pushes",
        "WHERE cause = 'order_import'",
        "id",
    )
    .await?;
    from.close().await.ok();
    let (lines_of, commitments_of) = (by_order(&lines), by_order(&commitments));
    let batches = orders.len().div_ceil(BATCH).max(1);
    let started = Instant::now();
    for (b, chunk) in orders.chunks(BATCH).enumerate() {
        let mut tx = conn.begin().await?;
        pg_insert(&mut tx, "orders", &chunk.iter().collect::<Vec<_>>()).await?;
        pg_insert(&mut tx, "order_lines", &of_orders(chunk, &lines_of)).await?;
        pg_insert(
            &mut tx,
            "stock_commitments",
            &of_orders(chunk, &commitments_of),
        )
        .await?;
        pg_insert(&mut tx, "journal", &slice(&journal, batches, b)).await?;
        pg_insert(&mut tx, "stock_pushes", &slice(&pushes, batches, b)).await?;
        tx.commit().await?;
    }
    let seconds = started.elapsed().as_secs_f64();
    conn.close().await.ok();
    Ok(Baseline {
        orders: orders.len(),
        lines: lines.len(),
        commitments: commitments.len(),
        events: journal.len(),
        pushes: pushes.len(),
        seconds,
        orders_per_sec: orders.len() as f64 / seconds,
    })
}

/// Rows (JSON objects) by their `order_id`.
fn by_order(rows: &[Value]) -> HashMap<&str, Vec<&Value>> {
    let mut out: HashMap<&str, Vec<&Value>> = HashMap::new();
    for r in rows {
        out.entry(r["order_id"].as_str().unwrap_or_default())
            .or_default()
            .push(r);
    }
    out
}

/// The rows of the orders of `chunk`.
fn of_orders<'a>(chunk: &[Value], rows: &HashMap<&str, Vec<&'a Value>>) -> Vec<&'a Value> {
    chunk
        .iter()
        .flat_map(|o| {
            rows.get(o["id"].as_str().unwrap_or_default())
                .into_iter()
                .flatten()
                .copied()
        })
        .collect()
}

/// Batch `b` of `batches` equal slices of `rows`.
fn slice<T>(rows: &[T], batches: usize, b: usize) -> Vec<&T> {
    rows.chunks(rows.len().div_ceil(batches).max(1))
        .nth(b)
        .into_iter()
        .flatten()
        .collect()
}
