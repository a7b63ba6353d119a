//! Worker instances, and the one definition of a free lease that every
//! work queue's claim uses (see [`crate::Leases`]).
//!
//! A claimable table has `lease_until` and `lease_holder` columns. A claim
//! selects due rows that are [`free`], then [`take`]s them; recording the
//! outcome [`RELEASE`]s them. Queues that cap work in flight count the rows
//! that are not free ([`held`]).

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use sqlx::Row;

use super::{PgStorage, at};
use crate::{Claim, Leases, QUEUES, QueueDepth, Result, WAKEUP_CHANNEL};

/// SQL: row `alias` is free to claim at `now` (a placeholder such as
/// `?1`): never leased, its lease ran out, or its holder is known dead
/// (stopped, or no heartbeat after `stale`).
pub(crate) fn free(alias: &str, now: &str, stale: &str) -> String {
    format!(
        "({alias}.lease_until IS NULL OR {alias}.lease_until <= {now}
          OR EXISTS (SELECT 1::bigint FROM worker_instances w WHERE w.id = {alias}.lease_holder
                     AND (w.stopped_at IS NOT NULL OR w.heartbeat_at <= {stale})))"
    )
}

/// SQL: row `alias` is held by a live worker (the negation of [`free`]).
pub(crate) fn held(alias: &str, now: &str, stale: &str) -> String {
    format!("NOT {}", free(alias, now, stale))
}

/// SQL `SET` items taking the lease until `until` for `holder`
/// (placeholders).
pub(crate) fn take(until: &str, holder: &str) -> String {
    format!("lease_until = {until}, lease_holder = {holder}")
}

/// Claims take due rows with this lock clause: rows another transaction
/// is claiming right now are skipped instead of waited for.
pub(crate) const SKIP_LOCKED: &str = "FOR UPDATE SKIP LOCKED";

/// SQL `SET` item giving a lease back; `lease_holder` keeps who last held
/// the row (the API shows it on jobs).
pub(crate) const RELEASE: &str = "lease_until = NULL";
/// Selected in a statement that is its own transaction, makes its commit
/// asynchronous: visible at once, not waiting for the WAL flush, lost only
/// with the last commits of a server that crashes. For writes whose loss
/// costs a delay and nothing else.
const ASYNC_COMMIT: &str = "set_config('synchronous_commit', 'off', true)";

#[async_trait]
impl Leases for PgStorage {
    async fn register_instance(&self, id: &str, now: DateTime<Utc>) -> Result<()> {
        // Many processes share a PostgreSQL database: a new instance
        // retires nobody; the dead are found by their silence.
        sqlx::query(
            "INSERT INTO worker_instances (id, started_at, heartbeat_at) VALUES ($1, $2, $2)
             ON CONFLICT (id) DO UPDATE SET heartbeat_at = excluded.heartbeat_at, stopped_at = NULL",
        )
        .bind(id)
        .bind(at(now))
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn beat(&self, id: &str, now: DateTime<Utc>) -> Result<()> {
        let now = at(now);
        sqlx::query(
            "INSERT INTO worker_instances (id, started_at, heartbeat_at) VALUES ($1, $2, $2)
             ON CONFLICT (id) DO UPDATE SET heartbeat_at = excluded.heartbeat_at",
        )
        .bind(id)
        .bind(now)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn stop_instance(&self, id: &str, now: DateTime<Utc>) -> Result<()> {
        sqlx::query("UPDATE worker_instances SET stopped_at = $1 WHERE id = $2")
            .bind(at(now))
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn live_instances(&self, since: DateTime<Utc>) -> Result<i64> {
        Ok(sqlx::query_scalar(
            "SELECT COUNT(*) FROM worker_instances WHERE stopped_at IS NULL AND heartbeat_at > $1",
        )
        .bind(at(since))
        .fetch_one(&self.pool)
        .await?)
    }

    async fn queue_depths(&self) -> Result<Vec<QueueDepth>> {
        let rows = sqlx::query(
            "SELECT 0 AS q, COUNT(*) AS n, MIN(created_at) AS oldest FROM stock_pushes WHERE state IN ('pending', 'error')
             UNION ALL
             SELECT 1, COUNT(*), MIN(m.created_at) FROM webhook_deliveries d
               JOIN webhook_messages m ON m.id = d.message_id WHERE d.state = 'pending'
             UNION ALL
             SELECT 2, COUNT(*), MIN(created_at) FROM plugin_messages WHERE state = 'pending'
             ORDER BY q",
        )
        .fetch_all(&self.pool)
        .await?;
        QUEUES
            .iter()
            .zip(rows)
            .map(|(queue, r)| {
                Ok(QueueDepth {
                    queue,
                    items: r.try_get("n")?,
                    oldest: r.try_get("oldest")?,
                })
            })
            .collect()
    }

    async fn take_lease(&self, kind: &str, key: &str, claim: &Claim) -> Result<bool> {
        // Taken by updating the row when it is free (or ours), else by
        // inserting it when there is none. A lease another instance holds
        // is left untouched: no row lock, no transaction id, no WAL flush.
        // (`INSERT … ON CONFLICT DO UPDATE … WHERE` locks the conflicting
        // row even when the WHERE refuses, so every refused attempt cost a
        // commit flush: about 500 a second beside a second instance.)
        let free = free("work_leases", "$5", "$6");
        let taken: i64 = sqlx::query_scalar(&format!(
            "WITH renewed AS (
                 UPDATE work_leases SET lease_until = $3, lease_holder = $4
                 WHERE kind = $1 AND key = $2 AND (lease_holder = $4 OR {free})
                 RETURNING 1
             ), fresh AS (
                 INSERT INTO work_leases (kind, key, lease_until, lease_holder)
                 SELECT $1, $2, $3, $4
                 WHERE NOT EXISTS (SELECT 1 FROM work_leases WHERE kind = $1 AND key = $2)
                 ON CONFLICT (kind, key) DO NOTHING
                 RETURNING 1
             )
             SELECT (SELECT count(*) FROM renewed) + (SELECT count(*) FROM fresh)"
        ))
        .bind(kind)
        .bind(key)
        .bind(at(claim.until()))
        .bind(&claim.holder)
        .bind(at(claim.now))
        .bind(at(claim.stale_before))
        .fetch_one(&self.pool)
        .await?;
        Ok(taken == 1)
    }

    async fn release_lease(&self, kind: &str, key: &str, holder: &str) -> Result<()> {
        // A release lost with the last commits of a crashed server only
        // leaves the lease to run out (or to its holder to take again): its
        // commit need not wait for the WAL flush.
        sqlx::query(&format!(
            "UPDATE work_leases SET {RELEASE} FROM (SELECT {ASYNC_COMMIT}) AS async \
             WHERE kind = $1 AND key = $2 AND lease_holder = $3"
        ))
        .bind(kind)
        .bind(key)
        .bind(holder)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn publish_wakeup(&self, payload: &str) -> Result<()> {
        // A notification takes a transaction id and writes a commit record,
        // but carries nothing durable (a lost wake-up is found by the next
        // tick): its commit does not queue for the WAL flush.
        sqlx::query(&format!("SELECT pg_notify($1, $2), {ASYNC_COMMIT}"))
            .bind(WAKEUP_CHANNEL)
            .bind(payload)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn wakeups(&self) -> Result<Option<tokio::sync::mpsc::Receiver<String>>> {
        let mut listener = sqlx::postgres::PgListener::connect_with(&self.pool).await?;
        listener.listen(WAKEUP_CHANNEL).await?;
        let (tx, rx) = tokio::sync::mpsc::channel(1024);
        tokio::spawn(async move {
            loop {
                let received = tokio::select! {
                    r = listener.recv() => r,
                    // Nobody listens any more: give the connection back.
                    () = tx.closed() => return,
                };
                match received {
                    Ok(n) => {
                        // A full queue means the workers are already awake.
                        if let Err(tokio::sync::mpsc::error::TrySendError::Closed(_)) =
                            tx.try_send(n.payload().to_owned())
                        {
                            return;
                        }
                    }
                    Err(sqlx::Error::PoolClosed) => return,
                    Err(e) => {
                        // The listener reconnects on the next receive;
                        // wake-ups sent meanwhile are lost, and the
                        // workers' ticks find that work.
                        tracing::warn!(error = %e, "listening for wake-ups failed; retrying");
                        tokio::time::sleep(std::time::Duration::from_secs(1)).await;
                    }
                }
            }
        });
        Ok(Some(rx))
    }
}
