//! The PostgreSQL backend, for installations that outgrow one SQLite file
//! and one process: `database_url = "postgres://…"`.
//!
//! One file per aggregate, as `sqlite/<same>.rs`, applying the same plans
//! in PostgreSQL's own types (`timestamptz`, `jsonb`, `boolean`, `bytea`,
//! identity columns, partial indexes for the work queues). Connections
//! come from a sized pool with a statement timeout; work queues are
//! claimed with `FOR UPDATE SKIP LOCKED` (`leases.rs`).
//!
//! Statements are written with SQLite-style placeholders where they are
//! composed from shared fragments (`?`, `?N`); [`pg`] numbers them as
//! PostgreSQL's `$N` by SQLite's own rule (a bare `?` is one more than the
//! largest number so far).

mod accounting;
mod accounts;
mod back_office;
mod channels;
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
use std::time::Duration;

use crate::journal::NewEvent;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions, PgRow};
use sqlx::types::Json;
use sqlx::{Connection, PgConnection, PgPool};
use switchyard_domain::ids::{AccountId, StoreId};

use crate::{Page, PageRequest, Result, Storage, StorageError};
pub(crate) use crate::{fetch_limit, paginate, stored};

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

/// Connections per process unless the URL says otherwise.
const DEFAULT_POOL_SIZE: u32 = 16;

/// A statement running longer than this is cancelled by the server, so a
/// stuck query frees its connection instead of starving the pool.
const STATEMENT_TIMEOUT: &str = "30s";
/// How long the first connection at start may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a call waits for a pooled connection (or for a new one while
/// the database is away) before it fails as unavailable: an API request
/// then answers 503 promptly and a worker retries on its next round.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(5);

/// Storage on a PostgreSQL database.
#[derive(Debug, Clone)]
pub struct PgStorage {
    pool: PgPool,
}

impl PgStorage {
    /// Connect to `url` (`postgres://user@host:port/db`) without migrating.
    /// `?pool_size=N` sizes the pool (default 16).
    pub async fn connect(url: &str) -> Result<Self> {
        let (url, pool_size) = pool_size(url);
        let opts = PgConnectOptions::from_str(&url)?
            .application_name("switchyard")
            .options([("statement_timeout", STATEMENT_TIMEOUT)]);
        // One connection first, so that a wrong address, user or password
        // is reported as itself at once rather than as a pool timeout.
        let first = tokio::time::timeout(CONNECT_TIMEOUT, PgConnection::connect_with(&opts))
            .await
            .map_err(|_| {
                sqlx::Error::Io(std::io::Error::new(
                    std::io::ErrorKind::TimedOut,
                    format!("no answer within {} s", CONNECT_TIMEOUT.as_secs()),
                ))
            })??;
        first.close().await?;
        let pool = PgPoolOptions::new()
            .max_connections(pool_size)
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .connect_lazy_with(opts);
        Ok(Self { pool })
    }

    /// Connect and apply pending migrations.
    pub async fn connect_and_migrate(url: &str) -> Result<Self> {
        let s = Self::connect(url).await?;
        s.migrate().await?;
        Ok(s)
    }

    /// Apply pending migrations.
    pub async fn migrate(&self) -> Result<()> {
        MIGRATOR.run(&self.pool).await?;
        Ok(())
    }

    /// The pool, for the backend's own files and for tests of the schema.
    #[must_use]
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }
}

#[async_trait]
impl Storage for PgStorage {
    fn backend(&self) -> &'static str {
        "postgres"
    }

    async fn ping(&self) -> Result<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }
}

/// SQLite-style placeholders (`?`, `?N`) as PostgreSQL's `$N`, numbered by
/// SQLite's rule; quoted text is left alone.
pub(crate) fn pg(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len() + 16);
    let mut max = 0u32;
    let mut quoted = false;
    let mut chars = sql.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\'' => {
                quoted = !quoted;
                out.push(c);
            }
            '?' if !quoted => {
                let mut digits = String::new();
                while let Some(d) = chars.peek().copied().filter(char::is_ascii_digit) {
                    digits.push(d);
                    chars.next();
                }
                let n = match digits.parse::<u32>() {
                    Ok(n) => n,
                    Err(_) => max + 1,
                };
                max = max.max(n);
                out.push('$');
                out.push_str(&n.to_string());
            }
            _ => out.push(c),
        }
    }
    out
}

/// A stored JSON value as `T`.
pub(crate) fn from_json<T: serde::de::DeserializeOwned>(
    what: &'static str,
    v: serde_json::Value,
) -> Result<T> {
    serde_json::from_value(v).map_err(|e| StorageError::corrupt(what, e))
}

/// The time of a write.
pub(crate) fn now() -> DateTime<Utc> {
    Utc::now()
}

/// A time as bound (PostgreSQL takes `timestamptz` as it is).
pub(crate) fn at(t: DateTime<Utc>) -> DateTime<Utc> {
    t
}

/// A stored time (kept for symmetry with SQLite's text times).
#[allow(
    clippy::unnecessary_wraps,
    reason = "the same shape as the SQLite backend's parse"
)]
pub(crate) fn time(t: DateTime<Utc>) -> Result<DateTime<Utc>> {
    Ok(t)
}

/// A stored optional time.
#[allow(
    clippy::unnecessary_wraps,
    reason = "the same shape as the SQLite backend's parse"
)]
pub(crate) fn opt_time(t: Option<DateTime<Utc>>) -> Result<Option<DateTime<Utc>>> {
    Ok(t)
}

/// The payloads of `events` as the journal keeps them, with the orders,
/// fulfilments and listings they are about read in this transaction
/// ([`crate::journal::with_entities`]).
async fn journal_payloads(
    conn: &mut PgConnection,
    account: &AccountId,
    events: &[NewEvent],
) -> Result<Vec<crate::EventPayload>> {
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
    Ok(crate::journal::with_entities(events, read))
}

/// Append one event to the journal on `conn` (inside the caller's transaction).
pub(crate) async fn append_event(
    conn: &mut PgConnection,
    account: &AccountId,
    store: &StoreId,
    ev: &NewEvent,
) -> Result<i64> {
    let payloads = journal_payloads(conn, account, std::slice::from_ref(ev)).await?;
    let payload = payloads.first().unwrap_or(&ev.payload);
    let seq: i64 = sqlx::query_scalar(
        "INSERT INTO journal (account_id, store_id, entity_type, entity_id, event_type, payload, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING seq",
    )
    .bind(account.as_str())
    .bind(store.as_str())
    .bind(ev.entity_type().as_str())
    .bind(&ev.entity_id)
    .bind(ev.event_type)
    .bind(sqlx::types::Json(payload.stored()))
    .bind(now())
    .fetch_one(&mut *conn)
    .await?;
    Ok(seq)
}

/// Append `events` to the journal on `conn` in the order given, many to a
/// statement (inside the caller's transaction).
pub(crate) async fn append_events(
    conn: &mut PgConnection,
    account: &AccountId,
    store: &StoreId,
    events: &[NewEvent],
) -> Result<()> {
    let now = now();
    let payloads = journal_payloads(conn, account, events).await?;
    let all: Vec<(&NewEvent, &crate::EventPayload)> = events.iter().zip(&payloads).collect();
    for chunk in all.chunks(2000) {
        let mut q: sqlx::QueryBuilder<sqlx::Postgres> = sqlx::QueryBuilder::new(
            "INSERT INTO journal (account_id, store_id, entity_type, entity_id, event_type, payload, created_at) ",
        );
        q.push_values(chunk, |mut b, (ev, payload)| {
            b.push_bind(account.as_str())
                .push_bind(store.as_str())
                .push_bind(ev.entity_type().as_str())
                .push_bind(ev.entity_id.as_str())
                .push_bind(ev.event_type)
                .push_bind(sqlx::types::Json(payload.stored()))
                .push_bind(now);
        });
        q.build().execute(&mut *conn).await?;
    }
    Ok(())
}

/// A store's JSON setting in `column` (a constant of this crate).
pub(crate) async fn store_setting<T: serde::de::DeserializeOwned>(
    conn: &mut PgConnection,
    store: &StoreId,
    column: &'static str,
) -> Result<T> {
    let v: Option<serde_json::Value> =
        sqlx::query_scalar(&format!("SELECT {column} FROM stores WHERE id = $1"))
            .bind(store.as_str())
            .fetch_one(&mut *conn)
            .await?;
    serde_json::from_value(v.unwrap_or(serde_json::Value::Null))
        .map_err(|e| StorageError::corrupt(column, e))
}

/// Replace a store's JSON setting in `column`, journalled as `event_type`
/// with what `say` puts in its payload, in one transaction.
pub(crate) async fn set_store_setting<T: serde::Serialize + Sync>(
    pool: &PgPool,
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
pub(crate) async fn write_store_setting<T: serde::Serialize + Sync>(
    conn: &mut PgConnection,
    account: &AccountId,
    store: &StoreId,
    column: &'static str,
    value: &T,
    event_type: &'static str,
    say: impl FnOnce(&mut crate::StoreEvent) + Send,
) -> Result<()> {
    require_store(conn, account, store).await?;
    sqlx::query(&format!(
        "UPDATE stores SET {column} = $1, updated_at = $2 WHERE id = $3"
    ))
    .bind(Json(value))
    .bind(now())
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
    conn: &mut PgConnection,
    account: &AccountId,
    store: &StoreId,
) -> Result<()> {
    let found: Option<i64> =
        sqlx::query_scalar("SELECT 1::bigint FROM stores WHERE id = $1 AND account_id = $2")
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
/// limit, in that order.
pub(crate) async fn store_page<T>(
    pool: &PgPool,
    account: &AccountId,
    store: &StoreId,
    page: &PageRequest,
    query: &str,
    from_row: impl Fn(&PgRow) -> Result<T>,
    key: impl Fn(&T) -> String,
) -> Result<Page<T>> {
    let mut tx = pool.begin().await?;
    require_store(&mut tx, account, store).await?;
    let rows = sqlx::query(&pg(query))
        .bind(store.as_str())
        .bind(page.after.as_deref().unwrap_or(""))
        .bind(fetch_limit(page))
        .fetch_all(&mut *tx)
        .await?;
    let items = rows.iter().map(from_row).collect::<Result<Vec<_>>>()?;
    Ok(paginate(items, page, key))
}

/// Run `{select} WHERE store_id = ? AND {column} = ANY(...) {tail}` over
/// `values` in one statement.
pub(crate) async fn fetch_in(
    conn: &mut PgConnection,
    select: &str,
    store: &StoreId,
    column: &str,
    values: &[&str],
    tail: &str,
) -> Result<Vec<PgRow>> {
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
/// AND {column} = ANY(...) {tail}`.
pub(crate) async fn fetch_in_by(
    conn: &mut PgConnection,
    select: &str,
    key: (&str, &str),
    column: &str,
    values: &[&str],
    tail: &str,
) -> Result<Vec<PgRow>> {
    if values.is_empty() {
        return Ok(Vec::new());
    }
    let sql = pg(&format!(
        "{select} WHERE {} = ? AND {column} = ANY(?) {tail}",
        key.0
    ));
    Ok(sqlx::query(&sql)
        .bind(key.1)
        .bind(values)
        .fetch_all(&mut *conn)
        .await?)
}

/// Run a statement ending in `{column} = ANY(...)` over `values`: `head`
/// pushes the statement up to that point (with its binds, ending in
/// `WHERE` or `AND`). Returns the rows changed.
pub(crate) async fn execute_in(
    conn: &mut PgConnection,
    head: impl Fn(&mut sqlx::QueryBuilder<'_, sqlx::Postgres>),
    column: &str,
    values: &[&str],
) -> Result<u64> {
    let mut q: sqlx::QueryBuilder<sqlx::Postgres> = sqlx::QueryBuilder::new("");
    head(&mut q);
    q.push(format!(" {column} = ANY("))
        .push_bind(values)
        .push(")");
    Ok(q.build().execute(&mut *conn).await?.rows_affected())
}

/// Take our own `pool_size` parameter out of the URL (PostgreSQL would
/// refuse it as an unknown option).
fn pool_size(url: &str) -> (String, u32) {
    let Some((base, query)) = url.split_once('?') else {
        return (url.to_owned(), DEFAULT_POOL_SIZE);
    };
    let mut size = DEFAULT_POOL_SIZE;
    let rest: Vec<&str> = query
        .split('&')
        .filter(|kv| match kv.strip_prefix("pool_size=") {
            Some(n) => {
                size = n.parse().ok().filter(|n| *n > 0).unwrap_or(size);
                false
            }
            None => !kv.is_empty(),
        })
        .collect();
    if rest.is_empty() {
        (base.to_owned(), size)
    } else {
        (format!("{base}?{}", rest.join("&")), size)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_numbered_as_sqlite_numbers_them() {
        assert_eq!(
            pg("SELECT ? FROM t WHERE a = ?3 AND b = ? AND c = '?' AND d = ?1"),
            "SELECT $1 FROM t WHERE a = $3 AND b = $4 AND c = '?' AND d = $1"
        );
    }

    #[test]
    fn pool_size_is_taken_out_of_the_url() {
        assert_eq!(
            pool_size("postgres://a@h/db"),
            ("postgres://a@h/db".into(), DEFAULT_POOL_SIZE)
        );
        assert_eq!(
            pool_size("postgres://a@h/db?pool_size=4"),
            ("postgres://a@h/db".into(), 4)
        );
        assert_eq!(
            pool_size("postgres://a@h/db?sslmode=disable&pool_size=40"),
            ("postgres://a@h/db?sslmode=disable".into(), 40)
        );
        assert_eq!(
            pool_size("postgres://a@h/db?pool_size=0&sslmode=disable"),
            (
                "postgres://a@h/db?sslmode=disable".into(),
                DEFAULT_POOL_SIZE
            )
        );
    }
}
