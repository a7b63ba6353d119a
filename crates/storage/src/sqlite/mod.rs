//! The embedded default backend: one SQLite file in WAL mode.
//!
//! All writes go through a pool of exactly one connection, so in-process
//! writers queue instead of failing with `SQLITE_BUSY`, and a transaction's
//! reads and writes see one consistent state (which compare-and-set relies
//! on). Reads use a separate pool and see the last committed state. Other
//! processes (e.g. `switchyard token create` while the server runs) wait on
//! the busy timeout.

mod accounting;
mod accounts;
mod back_office;
mod channels;
mod checkpoint;
mod fulfilments;
mod hosted_pages;
mod idempotency;
mod import_page;
mod imports;
mod invoices;
mod journal;
mod leases;
mod listings;
mod orders;
mod plugins;
mod products;
mod retention;
mod stock;
mod stores;
mod users;
mod webhooks;

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use crate::journal::NewEvent;
use async_trait::async_trait;
use chrono::{DateTime, SecondsFormat, Utc};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{SqliteConnection, SqlitePool};
use switchyard_domain::ids::{AccountId, StoreId};

use self::checkpoint::Checkpointer;
use crate::{Page, PageRequest, Result, Storage, StorageError};
pub(crate) use crate::{fetch_limit, paginate, stored};

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");

/// Storage on a SQLite database file.
#[derive(Debug, Clone)]
pub struct SqliteStorage {
    write: SqlitePool,
    read: SqlitePool,
    /// Checkpoints the WAL off the writer's path (a database file only).
    _checkpointer: Option<Arc<Checkpointer>>,
}

impl SqliteStorage {
    /// Open (creating if missing) the database at `url`
    /// (`sqlite://path/to/file.db`) without migrating it.
    pub async fn connect(url: &str) -> Result<Self> {
        let opts = connect_options(url)?;
        let in_memory = url.contains(":memory:") || url.contains("mode=memory");
        if in_memory {
            let write = SqlitePoolOptions::new()
                .max_connections(1)
                .connect_with(opts)
                .await?;
            return Ok(Self {
                read: write.clone(),
                write,
                _checkpointer: None,
            });
        }
        // Its connection creates the file and puts it in WAL mode.
        let checkpointer = Checkpointer::start(&opts).await?;
        let waker = checkpointer.waker();
        // The writer leaves checkpoints to the checkpointer, woken each time
        // the writer is released.
        let write = SqlitePoolOptions::new()
            .max_connections(1)
            .after_release(move |_, _| {
                waker.notify_one();
                Box::pin(async { Ok(true) })
            })
            .connect_with(opts.clone().pragma("wal_autocheckpoint", "0"))
            .await?;
        let read = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(opts.read_only(true))
            .await?;
        Ok(Self {
            write,
            read,
            _checkpointer: Some(Arc::new(checkpointer)),
        })
    }

    /// Open and apply pending migrations.
    pub async fn connect_and_migrate(url: &str) -> Result<Self> {
        let s = Self::connect(url).await?;
        s.migrate().await?;
        Ok(s)
    }

    /// Apply pending migrations.
    pub async fn migrate(&self) -> Result<()> {
        MIGRATOR.run(&self.write).await?;
        Ok(())
    }
}

/// The connection settings the product ships with: WAL journal,
/// `synchronous = NORMAL`, foreign keys on, a 10 s busy timeout, a 64 MiB
/// page cache per connection (SQLite's default is 2 MiB, so a busy store's
/// indexes were read back from the OS on every page of an import) and the
/// file memory-mapped up to 1 GiB (reads without a copy through `pread`).
/// Public so benchmarks can hold a baseline to exactly these pragmas.
pub fn connect_options(url: &str) -> Result<SqliteConnectOptions> {
    Ok(SqliteConnectOptions::from_str(url)?
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Normal)
        .foreign_keys(true)
        .busy_timeout(Duration::from_secs(10))
        // Negative: KiB rather than pages.
        .pragma("cache_size", "-65536")
        .pragma("mmap_size", "1073741824")
        .pragma("temp_store", "memory"))
}

#[async_trait]
impl Storage for SqliteStorage {
    fn backend(&self) -> &'static str {
        "sqlite"
    }

    async fn ping(&self) -> Result<()> {
        sqlx::query("SELECT 1").execute(&self.read).await?;
        Ok(())
    }
}

/// Current time as fixed-width RFC 3339 UTC text, which sorts correctly.
pub(crate) fn now_text() -> String {
    ts(Utc::now())
}

pub(crate) fn ts(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Micros, true)
}

pub(crate) fn parse_ts(s: &str) -> Result<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| StorageError::corrupt("timestamp", e))
}

pub(crate) fn parse_opt_ts(s: Option<String>) -> Result<Option<DateTime<Utc>>> {
    s.as_deref().map(parse_ts).transpose()
}

/// The payloads of `events` as the journal keeps them, with the orders,
/// fulfilments and listings they are about read in this transaction
/// ([`crate::journal::with_entities`]).
async fn journal_payloads(
    conn: &mut SqliteConnection,
    account: &AccountId,
    events: &[NewEvent],
) -> Result<Vec<String>> {
    let ids = crate::journal::entity_ids(events);
    let mut read = crate::journal::EventEntities {
        orders: orders::fetch_orders(conn, account, &ids.orders).await?,
        shipped: fulfilments::fulfilments_of(conn, &ids.orders).await?,
        ..Default::default()
    };
    for (channel, listing_ids) in &ids.listings {
        for l in listings::listings_by_id(conn, channel, listing_ids).await? {
            read.listings
                .insert((channel.clone(), l.listing_id.clone()), l);
        }
    }
    for id in ids.fulfilments {
        let Ok(fid) = switchyard_domain::ids::FulfilmentId::parse(id) else {
            continue;
        };
        match fulfilments::fetch(conn, account, &fid).await {
            Ok(f) => {
                read.fulfilments.insert(id.to_owned(), f);
            }
            Err(StorageError::NotFound { .. }) => {}
            Err(e) => return Err(e),
        }
    }
    crate::journal::with_entities(events, read)
        .iter()
        .map(|p| {
            serde_json::to_string(&p.stored())
                .map_err(|e| StorageError::corrupt("journal payload", e))
        })
        .collect()
}

/// Append one event to the journal on `conn` (inside the caller's transaction).
pub(crate) async fn append_event(
    conn: &mut SqliteConnection,
    account: &AccountId,
    store: &StoreId,
    ev: &NewEvent,
) -> Result<i64> {
    let payload = journal_payloads(conn, account, std::slice::from_ref(ev))
        .await?
        .pop()
        .unwrap_or_default();
    let seq: i64 = sqlx::query_scalar(
        "INSERT INTO journal (account_id, store_id, entity_type, entity_id, event_type, payload, created_at)
         VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING seq",
    )
    .bind(account.as_str())
    .bind(store.as_str())
    .bind(ev.entity_type().as_str())
    .bind(&ev.entity_id)
    .bind(ev.event_type)
    .bind(payload)
    .bind(now_text())
    .fetch_one(&mut *conn)
    .await?;
    Ok(seq)
}

/// Append `events` to the journal on `conn` in the order given, many to a
/// statement (inside the caller's transaction).
pub(crate) async fn append_events(
    conn: &mut SqliteConnection,
    account: &AccountId,
    store: &StoreId,
    events: &[NewEvent],
) -> Result<()> {
    let now = now_text();
    let payloads = journal_payloads(conn, account, events).await?;
    let all: Vec<(&NewEvent, String)> = events.iter().zip(payloads).collect();
    for chunk in all.chunks(2000) {
        let mut q: sqlx::QueryBuilder<sqlx::Sqlite> = sqlx::QueryBuilder::new(
            "INSERT INTO journal (account_id, store_id, entity_type, entity_id, event_type, payload, created_at) ",
        );
        q.push_values(chunk, |mut b, (ev, payload)| {
            b.push_bind(account.as_str())
                .push_bind(store.as_str())
                .push_bind(ev.entity_type().as_str())
                .push_bind(ev.entity_id.as_str())
                .push_bind(ev.event_type)
                .push_bind(payload.as_str())
                .push_bind(now.as_str());
        });
        q.build().execute(&mut *conn).await?;
    }
    Ok(())
}

/// A store's JSON setting in `column` (a constant of this crate).
pub(crate) async fn store_setting<T: serde::de::DeserializeOwned>(
    conn: &mut SqliteConnection,
    store: &StoreId,
    column: &'static str,
) -> Result<T> {
    let s: String = sqlx::query_scalar(&format!("SELECT {column} FROM stores WHERE id = ?"))
        .bind(store.as_str())
        .fetch_one(&mut *conn)
        .await?;
    serde_json::from_str(&s).map_err(|e| StorageError::corrupt(column, e))
}

/// Replace a store's JSON setting in `column`, journalled as `event_type`
/// with what `say` puts in its payload, in one transaction.
pub(crate) async fn set_store_setting<T: serde::Serialize>(
    pool: &SqlitePool,
    account: &AccountId,
    store: &StoreId,
    column: &'static str,
    value: &T,
    event_type: &'static str,
    say: impl FnOnce(&mut crate::StoreEvent) + Send,
) -> Result<()> {
    let mut tx = pool.begin().await?;
    write_store_setting(&mut tx, account, store, column, value, event_type, say).await?;
    tx.commit().await?;
    Ok(())
}

/// [`set_store_setting`] inside the caller's transaction.
pub(crate) async fn write_store_setting<T: serde::Serialize>(
    conn: &mut SqliteConnection,
    account: &AccountId,
    store: &StoreId,
    column: &'static str,
    value: &T,
    event_type: &'static str,
    say: impl FnOnce(&mut crate::StoreEvent) + Send,
) -> Result<()> {
    require_store(conn, account, store).await?;
    let text = serde_json::to_string(value).map_err(|e| StorageError::corrupt(column, e))?;
    sqlx::query(&format!(
        "UPDATE stores SET {column} = ?, updated_at = ? WHERE id = ?"
    ))
    .bind(&text)
    .bind(now_text())
    .bind(store.as_str())
    .execute(&mut *conn)
    .await?;
    let mut said = crate::StoreEvent::of(store);
    say(&mut said);
    let ev = NewEvent::new(store, event_type, crate::EventPayload::Store(said));
    append_event(conn, account, store, &ev).await?;
    Ok(())
}

/// Fail with `NotFound { entity: "store" }` unless the store belongs to the account.
pub(crate) async fn require_store(
    conn: &mut SqliteConnection,
    account: &AccountId,
    store: &StoreId,
) -> Result<()> {
    let found: Option<i64> =
        sqlx::query_scalar("SELECT 1 FROM stores WHERE id = ? AND account_id = ?")
            .bind(store.as_str())
            .bind(account.as_str())
            .fetch_optional(&mut *conn)
            .await?;
    found
        .map(|_| ())
        .ok_or(StorageError::NotFound { entity: "store" })
}

/// One page of a store's rows by id, after checking the store belongs to
/// the account. `query` binds the store id, the id to start after and the
/// limit, in that order (`… WHERE store_id = ? AND id > ? ORDER BY id
/// LIMIT ?`).
pub(crate) async fn store_page<T>(
    pool: &SqlitePool,
    account: &AccountId,
    store: &StoreId,
    page: &PageRequest,
    query: &str,
    from_row: impl Fn(&sqlx::sqlite::SqliteRow) -> Result<T>,
    key: impl Fn(&T) -> String,
) -> Result<Page<T>> {
    let mut tx = pool.begin().await?;
    require_store(&mut tx, account, store).await?;
    let rows = sqlx::query(query)
        .bind(store.as_str())
        .bind(page.after.as_deref().unwrap_or(""))
        .bind(fetch_limit(page))
        .fetch_all(&mut *tx)
        .await?;
    let items = rows.iter().map(from_row).collect::<Result<Vec<_>>>()?;
    Ok(paginate(items, page, key))
}

/// Largest number of values bound into one `IN (...)` list.
const IN_CHUNK: usize = 400;

/// Run `{select} WHERE store_id = ? AND {column} IN (...) {tail}` over `values`
/// in chunks of [`IN_CHUNK`], returning all rows (ordered within each chunk).
pub(crate) async fn fetch_in(
    conn: &mut SqliteConnection,
    select: &str,
    store: &StoreId,
    column: &str,
    values: &[&str],
    tail: &str,
) -> Result<Vec<sqlx::sqlite::SqliteRow>> {
    fetch_in_by(
        conn,
        select,
        ("store_id", store.as_str()),
        column,
        values,
        tail,
    )
    .await
}

/// [`fetch_in`] keyed by another column: `{select} WHERE {key.0} = {key.1}
/// AND {column} IN (...) {tail}`.
pub(crate) async fn fetch_in_by(
    conn: &mut SqliteConnection,
    select: &str,
    key: (&str, &str),
    column: &str,
    values: &[&str],
    tail: &str,
) -> Result<Vec<sqlx::sqlite::SqliteRow>> {
    let mut rows = Vec::new();
    for chunk in values.chunks(IN_CHUNK) {
        let mut q: sqlx::QueryBuilder<sqlx::Sqlite> = sqlx::QueryBuilder::new(select);
        q.push(format!(" WHERE {} = ", key.0)).push_bind(key.1);
        q.push(format!(" AND {column} IN ("));
        let mut sep = q.separated(", ");
        for v in chunk {
            sep.push_bind(*v);
        }
        q.push(") ").push(tail);
        rows.extend(q.build().fetch_all(&mut *conn).await?);
    }
    Ok(rows)
}

/// Run a statement ending in `{column} IN (...)` over `values` in chunks:
/// `head` pushes the statement up to that point (with its binds, ending in
/// `WHERE` or `AND`). Returns the rows changed.
pub(crate) async fn execute_in(
    conn: &mut SqliteConnection,
    head: impl Fn(&mut sqlx::QueryBuilder<'_, sqlx::Sqlite>),
    column: &str,
    values: &[&str],
) -> Result<u64> {
    let mut changed = 0;
    for chunk in values.chunks(IN_CHUNK) {
        let mut q: sqlx::QueryBuilder<sqlx::Sqlite> = sqlx::QueryBuilder::new("");
        head(&mut q);
        q.push(format!(" {column} IN ("));
        let mut sep = q.separated(", ");
        for v in chunk {
            sep.push_bind(*v);
        }
        q.push(")");
        changed += q.build().execute(&mut *conn).await?.rows_affected();
    }
    Ok(changed)
}
