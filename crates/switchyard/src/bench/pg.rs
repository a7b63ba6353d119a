//! Benchmarks on PostgreSQL (`switchyard bench --database-url postgres://…`):
//! each scenario gets a database of its own on that server, created from
//! the URL's database (which needs the `CREATEDB` privilege) and dropped
//! when the run ends. The URL's own database is never written to.

use std::sync::Mutex;

use anyhow::Context;
use sqlx::{Connection, PgConnection};

/// Databases this run created, to drop at its end.
static CREATED: Mutex<Vec<String>> = Mutex::new(Vec::new());

/// The URL of a new, empty database on the server of `server`.
pub(crate) async fn fresh(server: &str) -> anyhow::Result<String> {
    let name = {
        let mut created = CREATED
            .lock()
            .map_err(|_| anyhow::anyhow!("the list of bench databases is poisoned"))?;
        let name = format!("switchyard_bench_{}_{}", std::process::id(), created.len());
        created.push(name.clone());
        name
    };
    let mut conn = PgConnection::connect(server)
        .await
        .context("cannot connect to the PostgreSQL server of --database-url")?;
    sqlx::query(&format!("CREATE DATABASE \"{name}\""))
        .execute(&mut conn)
        .await
        .with_context(|| {
            format!("cannot create the bench database {name} (the user needs CREATEDB)")
        })?;
    conn.close().await.ok();
    Ok(with_database(server, &name))
}

/// Gather the planner's statistics of the database at `url`, as
/// autovacuum does within a minute or so of a table's growth. A scenario
/// calls it once its setup (catalogue, listings, first pushes) is done and
/// before it measures the steady state: a fresh database's tables went from
/// empty to tens of thousands of rows in seconds, and until analyzed the
/// planner takes them for empty (a listing's SKU lookup then scanned the
/// whole store's listings, 20–30 ms each, in the 2-instance run).
pub(crate) async fn analyze(url: &str) -> anyhow::Result<()> {
    let mut conn = PgConnection::connect(url)
        .await
        .context("cannot connect to the bench database")?;
    sqlx::query("ANALYZE").execute(&mut conn).await?;
    conn.close().await.ok();
    Ok(())
}

/// Drop every database this run created.
pub(crate) async fn drop_all(server: &str) {
    let names = CREATED
        .lock()
        .map(|mut c| std::mem::take(&mut *c))
        .unwrap_or_default();
    if names.is_empty() {
        return;
    }
    let Ok(mut conn) = PgConnection::connect(server).await else {
        tracing::warn!(databases = ?names, "cannot connect to drop the bench databases");
        return;
    };
    for name in names {
        if let Err(e) = sqlx::query(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
            .execute(&mut conn)
            .await
        {
            tracing::warn!(database = %name, error = %e, "cannot drop a bench database");
        }
    }
    conn.close().await.ok();
}

/// `url` naming database `name` instead of its own (user, host, port and
/// parameters kept).
pub(crate) fn with_database(url: &str, name: &str) -> String {
    let (base, query) = url
        .split_once('?')
        .map_or((url, None), |(b, q)| (b, Some(q)));
    let authority_at = base.find("://").map_or(0, |i| i + 3);
    let host_end = base[authority_at..]
        .find('/')
        .map_or(base.len(), |i| authority_at + i);
    let mut out = format!("{}/{name}", &base[..host_end]);
    if let Some(q) = query {
        out.push('?');
        out.push_str(q);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::with_database;

    #[test]
    fn the_database_of_a_url_is_replaced_and_the_rest_kept() {
        assert_eq!(
            with_database("postgres://u:p@db:5432/app?pool_size=4", "b1"),
            "postgres://u:p@db:5432/b1?pool_size=4"
        );
        assert_eq!(
            with_database("postgresql://localhost", "b2"),
            "postgresql://localhost/b2"
        );
        assert_eq!(with_database("postgres://h/x/y", "b3"), "postgres://h/b3");
    }
}
