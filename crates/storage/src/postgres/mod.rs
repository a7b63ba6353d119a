//! The PostgreSQL backend, for installations that outgrow one SQLite file
//! and one process: `database_url = "postgres://…"`.
//!
//! This is its foundation: connecting with a sized pool and a statement
//! timeout, and the schema (`migrations/postgres`), which is the SQLite
//! schema in PostgreSQL's own types (`timestamptz`, `jsonb`, `boolean`,
//! `bytea`, identity columns, partial indexes for the work queues). The
//! aggregate files (`postgres/<same>.rs` as `sqlite/<same>.rs`) follow.

use std::str::FromStr;
use std::time::Duration;

use sqlx::PgPool;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};

use crate::Result;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

/// Connections per process unless the URL says otherwise.
const DEFAULT_POOL_SIZE: u32 = 16;

/// A statement running longer than this is cancelled by the server, so a
/// stuck query frees its connection instead of starving the pool.
const STATEMENT_TIMEOUT: &str = "30s";

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
        let pool = PgPoolOptions::new()
            .max_connections(pool_size)
            .acquire_timeout(Duration::from_secs(10))
            .connect_with(opts)
            .await?;
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

    /// Cheap liveness check of the database.
    pub async fn ping(&self) -> Result<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    /// The pool, for the backend's own files and for tests of the schema.
    #[must_use]
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }
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
