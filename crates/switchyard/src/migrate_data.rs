//! `switchyard migrate-data --from sqlite://… --to postgres://…`: move an
//! installation from its SQLite file to PostgreSQL without starting over.
//!
//! Every table is copied, row for row: accounts, token hashes, stores,
//! channels with their sealed credentials (the data directory's key file
//! keeps opening them), products, stock sources, orders, the journal,
//! cursors, pending pushes, deliveries and plugin messages. What
//! PostgreSQL derives itself is not copied but rebuilt: the committed
//! totals (its trigger sums the copied commitments, and the copy checks
//! they equal SQLite's) and the identity sequences.
//!
//! - The target must be empty: anything in it but a copy of this same
//!   source is refused.
//! - Each table goes in chunks, each chunk in one transaction together
//!   with the copy's progress (a `migrate_data_progress` table in the
//!   target), so an interrupted copy is taken up where it stopped by
//!   running the command again.
//! - The source must be still: a server still beating on it is refused.

use std::collections::{BTreeMap, BTreeSet};
use std::ops::ControlFlow;

use anyhow::{Context, bail, ensure};
use serde_json::Value;
use sqlx::{Connection, PgConnection, Row, SqliteConnection};
use switchyard_storage::postgres::PgStorage;
use switchyard_storage::sqlite::{SqliteStorage, connect_options};

use crate::config::redact_url;

/// Rows per chunk (one transaction each), unless told otherwise.
pub const CHUNK: i64 = 2_000;
/// Tables never copied: the migrations' own bookkeeping, this copy's
/// progress, and what PostgreSQL derives from the copied rows.
const NOT_COPIED: [&str; 3] = [
    "_sqlx_migrations",
    "migrate_data_progress",
    "stock_committed",
];
/// Singletons the target's migrations seed; the source's row replaces them.
const SEEDED: [&str; 1] = ["webhook_cursor"];
/// A worker instance that beat this recently is a server still running.
const LIVE_WITHIN: chrono::Duration = chrono::Duration::seconds(10);

/// What a finished copy did.
#[derive(Debug, Default)]
pub struct CopyReport {
    /// Rows copied per table (this run; a resumed run counts what it did).
    pub rows: BTreeMap<String, u64>,
    /// Whether the copy was already complete before this run.
    pub already_complete: bool,
}

/// What the copy is doing, as it goes.
#[derive(Debug, Clone, Copy)]
pub enum Step<'a> {
    /// The target holds an interrupted copy of this source: going on.
    Resuming,
    /// The target holds a finished copy of this source: nothing to do.
    AlreadyComplete,
    /// A chunk of `table` is in: `copied` of `total` rows so far.
    Rows {
        /// The table.
        table: &'a str,
        /// Rows of it in the target.
        copied: i64,
        /// Rows of it in the source.
        total: i64,
        /// Whether the table is done.
        done: bool,
    },
    /// Everything is in and checked.
    Complete,
}

/// One table to copy: its columns (both sides have them) and PostgreSQL types.
#[derive(Debug)]
struct Table {
    name: String,
    columns: Vec<(String, String)>,
}

impl Table {
    /// The SQLite expression of each column as JSON PostgreSQL reads back
    /// into the column's type: JSON text as JSON, blobs as `\x` hex.
    fn source_select(&self) -> String {
        let fields: Vec<String> = self
            .columns
            .iter()
            .map(|(c, ty)| {
                let value = match ty.as_str() {
                    "jsonb" | "json" => format!("json(\"{c}\")"),
                    "bytea" => format!(
                        "CASE WHEN \"{c}\" IS NULL THEN NULL ELSE '\\x' || hex(\"{c}\") END"
                    ),
                    _ => format!("\"{c}\""),
                };
                format!("'{c}', {value}")
            })
            .collect();
        format!(
            "SELECT rowid, json_object({}) FROM \"{}\" WHERE rowid > ? ORDER BY rowid LIMIT ?",
            fields.join(", "),
            self.name
        )
    }

    fn target_insert(&self) -> String {
        let cols: Vec<String> = self
            .columns
            .iter()
            .map(|(c, _)| format!("\"{c}\""))
            .collect();
        let cols = cols.join(", ");
        format!(
            "INSERT INTO \"{t}\" ({cols}) OVERRIDING SYSTEM VALUE \
             SELECT {cols} FROM jsonb_populate_recordset(NULL::\"{t}\", $1)",
            t = self.name
        )
    }
}

/// Copy the installation at `from` (SQLite) into the empty database at
/// `to` (PostgreSQL), `chunk` rows per transaction, telling `progress`
/// each step; when it answers `Break`, the copy stops after the chunk in
/// hand, as an interruption would, and the next run goes on from there.
pub async fn copy(
    from: &str,
    to: &str,
    chunk: i64,
    mut progress: impl FnMut(Step<'_>) -> ControlFlow<()>,
) -> anyhow::Result<CopyReport> {
    ensure!(chunk > 0, "the chunk size must be positive");
    ensure!(
        from.starts_with("sqlite:"),
        "--from must be a SQLite database (sqlite://path/to/switchyard.db), not {}",
        redact_url(from)
    );
    ensure!(
        to.starts_with("postgres://") || to.starts_with("postgresql://"),
        "--to must be a PostgreSQL database (postgres://user@host:port/database), not {}",
        redact_url(to)
    );
    let path = from
        .trim_start_matches("sqlite://")
        .trim_start_matches("sqlite:");
    ensure!(
        std::path::Path::new(path).is_file(),
        "no SQLite database at {path}"
    );
    // Both schemas brought up to date by their own migrations.
    drop(
        SqliteStorage::connect_and_migrate(from)
            .await
            .with_context(|| format!("cannot open {}", redact_url(from)))?,
    );
    drop(
        PgStorage::connect_and_migrate(to)
            .await
            .with_context(|| format!("cannot open {}", redact_url(to)))?,
    );
    let mut src = SqliteConnection::connect_with(&connect_options(from)?.read_only(true))
        .await
        .with_context(|| format!("cannot open {}", redact_url(from)))?;
    let mut dst = PgConnection::connect(to)
        .await
        .with_context(|| format!("cannot open {}", redact_url(to)))?;
    refuse_running_source(&mut src).await?;
    let fingerprint = fingerprint(&mut src).await?;
    let tables = tables(&mut src, &mut dst).await?;
    sqlx::query(
        "CREATE TABLE IF NOT EXISTS migrate_data_progress (
             table_name   text PRIMARY KEY,
             source       text NOT NULL,
             last_rowid   bigint NOT NULL,
             done         boolean NOT NULL DEFAULT false,
             completed_at timestamptz
         )",
    )
    .execute(&mut dst)
    .await?;
    let mut report = CopyReport::default();
    let done: BTreeMap<String, (String, i64, bool, bool)> = sqlx::query(
        "SELECT table_name, source, last_rowid, done, completed_at IS NOT NULL AS complete
         FROM migrate_data_progress",
    )
    .fetch_all(&mut dst)
    .await?
    .iter()
    .map(|r| {
        Ok((
            r.try_get::<String, _>("table_name")?,
            (
                r.try_get::<String, _>("source")?,
                r.try_get::<i64, _>("last_rowid")?,
                r.try_get::<bool, _>("done")?,
                r.try_get::<bool, _>("complete")?,
            ),
        ))
    })
    .collect::<Result<_, sqlx::Error>>()?;
    if let Some((source, ..)) = done.values().next() {
        ensure!(
            *source == fingerprint,
            "the target holds part of a copy of another SQLite database ({source}); \
             copy into an empty database"
        );
        if done.values().any(|(_, _, _, complete)| *complete) {
            report.already_complete = true;
            let _ = progress(Step::AlreadyComplete);
            return Ok(report);
        }
        let _ = progress(Step::Resuming);
    } else {
        refuse_non_empty(&mut dst, &tables).await?;
    }
    for table in &tables {
        let (mut last, finished) = done
            .get(&table.name)
            .map_or((0, false), |(_, last, finished, _)| (*last, *finished));
        if finished {
            continue;
        }
        let total: i64 = sqlx::query_scalar(&format!("SELECT count(*) FROM \"{}\"", table.name))
            .fetch_one(&mut src)
            .await?;
        let before: i64 = sqlx::query_scalar(&format!(
            "SELECT count(*) FROM \"{}\" WHERE rowid <= ?",
            table.name
        ))
        .bind(last)
        .fetch_one(&mut src)
        .await?;
        let (select, insert) = (table.source_select(), table.target_insert());
        let mut copied = before;
        loop {
            let rows = sqlx::query(&select)
                .bind(last)
                .bind(chunk)
                .fetch_all(&mut src)
                .await
                .with_context(|| format!("cannot read {}", table.name))?;
            let mut tx = dst.begin().await?;
            if last == 0 && SEEDED.contains(&table.name.as_str()) {
                sqlx::query(&format!("DELETE FROM \"{}\"", table.name))
                    .execute(&mut *tx)
                    .await?;
            }
            let n = rows.len();
            if n > 0 {
                let mut values = Vec::with_capacity(n);
                for r in &rows {
                    last = r.try_get(0)?;
                    let text: String = r.try_get(1)?;
                    values.push(serde_json::from_str::<Value>(&text)?);
                }
                sqlx::query(&insert)
                    .bind(Value::Array(values))
                    .execute(&mut *tx)
                    .await
                    .with_context(|| format!("cannot write {}", table.name))?;
            }
            let finished = (n as i64) < chunk;
            sqlx::query(
                "INSERT INTO migrate_data_progress (table_name, source, last_rowid, done)
                 VALUES ($1, $2, $3, $4)
                 ON CONFLICT (table_name) DO UPDATE
                 SET last_rowid = excluded.last_rowid, done = excluded.done",
            )
            .bind(&table.name)
            .bind(&fingerprint)
            .bind(last)
            .bind(finished)
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
            copied += n as i64;
            *report.rows.entry(table.name.clone()).or_default() += n as u64;
            let step = Step::Rows {
                table: &table.name,
                copied,
                total,
                done: finished,
            };
            if progress(step).is_break() {
                bail!(
                    "the copy stopped after {copied} of {total} rows of {}; run it again to go on",
                    table.name
                );
            }
            if finished {
                break;
            }
        }
    }
    finish(&mut src, &mut dst, &tables).await?;
    let _ = progress(Step::Complete);
    Ok(report)
}

/// A server still beating on the source would change it under the copy.
async fn refuse_running_source(src: &mut SqliteConnection) -> anyhow::Result<()> {
    let since =
        (chrono::Utc::now() - LIVE_WITHIN).to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
    let live: Vec<String> = sqlx::query_scalar(
        "SELECT id FROM worker_instances WHERE stopped_at IS NULL AND heartbeat_at > ?",
    )
    .bind(since)
    .fetch_all(&mut *src)
    .await?;
    if let Some(id) = live.first() {
        bail!(
            "a server is still running on the source (worker instance {id} beat within the last {} s); stop it first",
            LIVE_WITHIN.num_seconds()
        );
    }
    Ok(())
}

/// What identifies the source across runs: its path and its journal's end.
async fn fingerprint(src: &mut SqliteConnection) -> anyhow::Result<String> {
    let file: String =
        sqlx::query_scalar("SELECT file FROM pragma_database_list WHERE name = 'main'")
            .fetch_one(&mut *src)
            .await?;
    let seq: i64 = sqlx::query_scalar("SELECT COALESCE(MAX(seq), 0) FROM journal")
        .fetch_one(&mut *src)
        .await?;
    Ok(format!("{file} (journal {seq})"))
}

/// The tables to copy, parents before children, with the columns both
/// sides have (PostgreSQL's own extra columns take their defaults).
async fn tables(src: &mut SqliteConnection, dst: &mut PgConnection) -> anyhow::Result<Vec<Table>> {
    let names: Vec<String> = sqlx::query_scalar(
        "SELECT table_name::text FROM information_schema.tables
         WHERE table_schema = current_schema() AND table_type = 'BASE TABLE' ORDER BY 1",
    )
    .fetch_all(&mut *dst)
    .await?;
    let names: Vec<String> = names
        .into_iter()
        .filter(|n| !NOT_COPIED.contains(&n.as_str()))
        .collect();
    let edges: Vec<(String, String)> = sqlx::query_as(
        "SELECT c.conrelid::regclass::text, c.confrelid::regclass::text FROM pg_constraint c
         WHERE c.contype = 'f' AND c.conrelid <> c.confrelid",
    )
    .fetch_all(&mut *dst)
    .await?;
    // Parents first (Kahn's algorithm, names in order among equals).
    let mut order = Vec::new();
    let mut left: BTreeSet<String> = names.iter().cloned().collect();
    while !left.is_empty() {
        let ready: Vec<String> = left
            .iter()
            .filter(|t| {
                !edges
                    .iter()
                    .any(|(child, parent)| child == *t && parent != *t && left.contains(parent))
            })
            .cloned()
            .collect();
        ensure!(
            !ready.is_empty(),
            "the foreign keys of {left:?} form a cycle"
        );
        for t in ready {
            left.remove(&t);
            order.push(t);
        }
    }
    let mut out = Vec::new();
    for name in order {
        let theirs: BTreeSet<String> = sqlx::query_scalar("SELECT name FROM pragma_table_info(?)")
            .bind(&name)
            .fetch_all(&mut *src)
            .await?
            .into_iter()
            .collect();
        ensure!(
            !theirs.is_empty(),
            "the SQLite database has no table {name}; is it a Switchyard database?"
        );
        let ours: Vec<(String, String)> = sqlx::query_as(
            "SELECT column_name::text, udt_name::text FROM information_schema.columns
             WHERE table_schema = current_schema() AND table_name = $1 ORDER BY ordinal_position",
        )
        .bind(&name)
        .fetch_all(&mut *dst)
        .await?;
        let columns = ours
            .into_iter()
            .filter(|(c, _)| theirs.contains(c))
            .collect();
        out.push(Table { name, columns });
    }
    Ok(out)
}

async fn refuse_non_empty(dst: &mut PgConnection, tables: &[Table]) -> anyhow::Result<()> {
    for t in tables {
        if SEEDED.contains(&t.name.as_str()) {
            continue;
        }
        let any: bool =
            sqlx::query_scalar(&format!("SELECT EXISTS (SELECT 1 FROM \"{}\")", t.name))
                .fetch_one(&mut *dst)
                .await?;
        if any {
            bail!(
                "the target database is not empty (table {} has rows); migrate-data copies into an empty database only",
                t.name
            );
        }
    }
    Ok(())
}

/// What PostgreSQL derives: identity sequences past the copied ids, the
/// webhook cursor's transaction position, and the committed totals
/// (checked against SQLite's).
async fn finish(
    src: &mut SqliteConnection,
    dst: &mut PgConnection,
    tables: &[Table],
) -> anyhow::Result<()> {
    let mut tx = dst.begin().await?;
    let identities: Vec<(String, String)> = sqlx::query_as(
        "SELECT table_name::text, column_name::text FROM information_schema.columns
         WHERE table_schema = current_schema() AND is_identity = 'YES'",
    )
    .fetch_all(&mut *tx)
    .await?;
    for (table, column) in identities {
        if !tables.iter().any(|t| t.name == table) {
            continue;
        }
        sqlx::query(&format!(
            "SELECT setval(pg_get_serial_sequence('\"{table}\"', '{column}'),
                           COALESCE((SELECT max(\"{column}\") FROM \"{table}\"), 0) + 1, false)"
        ))
        .execute(&mut *tx)
        .await?;
    }
    // The cursor's events were copied in seq order: its position is the
    // (xid, seq) of the last event it passed.
    sqlx::query(
        "UPDATE webhook_cursor c SET xid = COALESCE(
             (SELECT j.xid FROM journal j WHERE j.seq = c.seq), '0'::xid8)",
    )
    .execute(&mut *tx)
    .await?;
    let theirs: BTreeMap<(String, String), i64> = sqlx::query_as::<_, (String, String, i64)>(
        "SELECT store_id, sku, quantity FROM stock_committed WHERE quantity <> 0",
    )
    .fetch_all(&mut *src)
    .await?
    .into_iter()
    .map(|(st, sku, q)| ((st, sku), q))
    .collect();
    let ours: BTreeMap<(String, String), i64> = sqlx::query_as::<_, (String, String, i64)>(
        "SELECT store_id, sku, quantity FROM stock_committed WHERE quantity <> 0",
    )
    .fetch_all(&mut *tx)
    .await?
    .into_iter()
    .map(|(st, sku, q)| ((st, sku), q))
    .collect();
    ensure!(
        theirs == ours,
        "the committed totals rebuilt from the copied commitments differ from SQLite's; the source may have changed during the copy"
    );
    sqlx::query("UPDATE migrate_data_progress SET completed_at = now()")
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(())
}
