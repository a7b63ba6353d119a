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

use super::{SqliteStorage, parse_opt_ts, ts};
use crate::{Claim, Leases, QUEUES, QueueDepth, Result};

/// SQL: row `alias` is free to claim at `now` (a placeholder such as
/// `?1`): never leased, its lease ran out, or its holder is known dead
/// (stopped, or no heartbeat after `stale`).
pub(crate) fn free(alias: &str, now: &str, stale: &str) -> String {
    format!(
        "({alias}.lease_until IS NULL OR {alias}.lease_until <= {now}
          OR EXISTS (SELECT 1 FROM worker_instances w WHERE w.id = {alias}.lease_holder
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

/// SQL `SET` item giving a lease back; `lease_holder` keeps who last held
/// the row (the API shows it on jobs).
pub(crate) const RELEASE: &str = "lease_until = NULL";

#[async_trait]
impl Leases for SqliteStorage {
    async fn register_instance(&self, id: &str, now: DateTime<Utc>) -> Result<()> {
        let now = ts(now);
        let mut tx = self.write.begin().await?;
        let retired = sqlx::query(
            "UPDATE worker_instances SET stopped_at = ?1 WHERE id != ?2 AND stopped_at IS NULL",
        )
        .bind(&now)
        .bind(id)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        sqlx::query(
            "INSERT INTO worker_instances (id, started_at, heartbeat_at) VALUES (?1, ?2, ?2)
             ON CONFLICT (id) DO UPDATE SET heartbeat_at = excluded.heartbeat_at, stopped_at = NULL",
        )
        .bind(id)
        .bind(&now)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        if retired > 0 {
            tracing::info!(
                instance = id,
                retired,
                "took over from the instances before this one"
            );
        }
        Ok(())
    }

    async fn beat(&self, id: &str, now: DateTime<Utc>) -> Result<()> {
        let now = ts(now);
        sqlx::query(
            "INSERT INTO worker_instances (id, started_at, heartbeat_at) VALUES (?1, ?2, ?2)
             ON CONFLICT (id) DO UPDATE SET heartbeat_at = excluded.heartbeat_at",
        )
        .bind(id)
        .bind(&now)
        .execute(&self.write)
        .await?;
        Ok(())
    }

    async fn stop_instance(&self, id: &str, now: DateTime<Utc>) -> Result<()> {
        sqlx::query("UPDATE worker_instances SET stopped_at = ? WHERE id = ?")
            .bind(ts(now))
            .bind(id)
            .execute(&self.write)
            .await?;
        Ok(())
    }

    async fn live_instances(&self, since: DateTime<Utc>) -> Result<i64> {
        Ok(sqlx::query_scalar(
            "SELECT COUNT(*) FROM worker_instances WHERE stopped_at IS NULL AND heartbeat_at > ?",
        )
        .bind(ts(since))
        .fetch_one(&self.read)
        .await?)
    }

    async fn queue_depths(&self) -> Result<Vec<QueueDepth>> {
        // Timestamps are fixed-width RFC 3339 text: MIN is the oldest.
        let rows = sqlx::query(
            "SELECT 0 AS q, COUNT(*) AS n, MIN(created_at) AS oldest FROM stock_pushes WHERE state IN ('pending', 'error')
             UNION ALL
             SELECT 1, COUNT(*), MIN(m.created_at) FROM webhook_deliveries d
               JOIN webhook_messages m ON m.id = d.message_id WHERE d.state = 'pending'
             UNION ALL
             SELECT 2, COUNT(*), MIN(created_at) FROM plugin_messages WHERE state = 'pending'
             ORDER BY q",
        )
        .fetch_all(&self.read)
        .await?;
        QUEUES
            .iter()
            .zip(rows)
            .map(|(queue, r)| {
                Ok(QueueDepth {
                    queue,
                    items: r.try_get("n")?,
                    oldest: parse_opt_ts(r.try_get("oldest")?)?,
                })
            })
            .collect()
    }

    async fn take_lease(&self, kind: &str, key: &str, claim: &Claim) -> Result<bool> {
        let free = free("work_leases", "?5", "?6");
        let taken = sqlx::query(&format!(
            "INSERT INTO work_leases (kind, key, lease_until, lease_holder) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (kind, key) DO UPDATE SET lease_until = excluded.lease_until,
                 lease_holder = excluded.lease_holder
             WHERE work_leases.lease_holder = excluded.lease_holder OR {free}"
        ))
        .bind(kind)
        .bind(key)
        .bind(ts(claim.until()))
        .bind(&claim.holder)
        .bind(ts(claim.now))
        .bind(ts(claim.stale_before))
        .execute(&self.write)
        .await?
        .rows_affected();
        Ok(taken == 1)
    }

    async fn release_lease(&self, kind: &str, key: &str, holder: &str) -> Result<()> {
        sqlx::query(&format!(
            "UPDATE work_leases SET {RELEASE} WHERE kind = ? AND key = ? AND lease_holder = ?"
        ))
        .bind(kind)
        .bind(key)
        .bind(holder)
        .execute(&self.write)
        .await?;
        Ok(())
    }

    async fn publish_wakeup(&self, _payload: &str) -> Result<()> {
        Ok(())
    }

    async fn wakeups(&self) -> Result<Option<tokio::sync::mpsc::Receiver<String>>> {
        Ok(None)
    }
}
