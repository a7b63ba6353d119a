//! The import baseline: the rows an import left (orders, their lines and
//! commitments, journal events, stock pushes), inserted again into a fresh
//! database with the product's schema, 100 orders per transaction (the
//! import's page size). That is what "storing orders" costs with nothing
//! else to do: no HTTP, no mapping, no lookups.
//!
//! On SQLite, one prepared `INSERT` per row into a file with the product's
//! pragmas. On PostgreSQL, where each statement is a round trip to the
//! server, one set-based `INSERT … SELECT FROM jsonb_populate_recordset`
//! per table per transaction.

use std::collections::HashMap;
use std::path::Path;
use std::time::Instant;

use anyhow::Context;
use serde_json::Value;
use sqlx::sqlite::{SqliteArguments, SqlitePoolOptions};
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

    fn insert_sql(&self) -> String {
        format!(
            "INSERT INTO {} ({}) VALUES ({})",
            self.table,
            self.columns.join(", "),
            vec!["?"; self.columns.len()].join(", ")
        )
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

async fn insert(conn: &mut SqliteConnection, sql: &str, row: &[Value]) -> anyhow::Result<()> {
    let mut q = sqlx::query::<Sqlite>(sql);
    for v in row {
        q = bind(q, v);
    }
    q.execute(&mut *conn).await?;
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

/// Insert the rows the import left in `src` (journal events after
/// `journal_after`) into a fresh database in `dir`; time only the inserts.
async fn run_sqlite(src: &Path, dir: &Path, journal_after: i64) -> anyhow::Result<Baseline> {
    let path = dir.join("baseline.db");
    // The product's schema, from its own migrations.
    drop(SqliteStorage::connect_and_migrate(&url(&path)).await?);
    let pool = SqlitePoolOptions::new()
        .max_connections(1)
        .connect_with(connect_options(&url(&path))?)
        .await?;
    let mut conn = pool.acquire().await?;
    sqlx::query("ATTACH DATABASE ? AS src")
        .bind(src.display().to_string())
        .execute(&mut *conn)
        .await?;
    // The rows orders refer to, untimed.
    for t in ["accounts", "stores", "channels", "products", "listings"] {
        sqlx::query(&format!("INSERT INTO main.{t} SELECT * FROM src.{t}"))
            .execute(&mut *conn)
            .await?;
    }
    let orders = Rows::load(&mut conn, "orders", "").await?;
    let lines = Rows::load(&mut conn, "order_lines", "").await?;
    let commitments = Rows::load(&mut conn, "stock_commitments", "").await?;
    let journal = Rows::load(
        &mut conn,
        "journal",
        &format!("WHERE seq > {journal_after}"),
    )
    .await?;
    let pushes = Rows::load(&mut conn, "stock_pushes", "WHERE cause = 'order_import'").await?;
    sqlx::query("DETACH DATABASE src")
        .execute(&mut *conn)
        .await?;
    let lines_of = lines.by("order_id")?;
    let commitments_of = commitments.by("order_id")?;
    let id = orders.column("id")?;
    let batches = orders.rows.len().div_ceil(BATCH).max(1);
    let per = |n: usize| n.div_ceil(batches).max(1);
    let (order_sql, line_sql, commit_sql, journal_sql, push_sql) = (
        orders.insert_sql(),
        lines.insert_sql(),
        commitments.insert_sql(),
        journal.insert_sql(),
        pushes.insert_sql(),
    );
    let started = Instant::now();
    for (b, chunk) in orders.rows.chunks(BATCH).enumerate() {
        let mut tx = conn.begin().await?;
        for o in chunk {
            insert(&mut tx, &order_sql, o).await?;
            let key = o[id].as_str().unwrap_or_default();
            for l in lines_of.get(key).into_iter().flatten() {
                insert(&mut tx, &line_sql, l).await?;
            }
            for c in commitments_of.get(key).into_iter().flatten() {
                insert(&mut tx, &commit_sql, c).await?;
            }
        }
        for e in journal
            .rows
            .chunks(per(journal.rows.len()))
            .nth(b)
            .into_iter()
            .flatten()
        {
            insert(&mut tx, &journal_sql, e).await?;
        }
        for p in pushes
            .rows
            .chunks(per(pushes.rows.len()))
            .nth(b)
            .into_iter()
            .flatten()
        {
            insert(&mut tx, &push_sql, p).await?;
        }
        tx.commit().await?;
    }
    let seconds = started.elapsed().as_secs_f64();
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
fn slice(rows: &[Value], batches: usize, b: usize) -> Vec<&Value> {
    rows.chunks(rows.len().div_ceil(batches).max(1))
        .nth(b)
        .into_iter()
        .flatten()
        .collect()
}
