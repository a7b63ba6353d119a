//! The import baseline: the rows an import left (orders, their lines and
//! commitments, journal events, stock pushes), inserted again into a fresh
//! file with the product's schema and pragmas, 100 orders per transaction
//! (the import's page size), one prepared `INSERT` per row. That is what
//! "storing orders" costs with nothing else to do: no HTTP, no mapping, no
//! lookups.

use std::collections::HashMap;
use std::path::Path;
use std::time::Instant;

use anyhow::Context;
use serde_json::Value;
use sqlx::sqlite::{SqliteArguments, SqlitePoolOptions};
use sqlx::{Connection, Sqlite, SqliteConnection};
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

/// The newest journal sequence number of the database at `db`.
pub(crate) async fn journal_seq(db: &Path) -> anyhow::Result<i64> {
    let mut conn =
        SqliteConnection::connect_with(&connect_options(&url(db))?.read_only(true)).await?;
    let seq: i64 = sqlx::query_scalar("SELECT COALESCE(MAX(seq), 0) FROM journal")
        .fetch_one(&mut conn)
        .await?;
    Ok(seq)
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
pub(crate) async fn run(src: &Path, dir: &Path, journal_after: i64) -> anyhow::Result<Baseline> {
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
