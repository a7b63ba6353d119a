//! Pruning on SQLite (see [`crate::Retention`]).

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::{SqliteStorage, ts};
use crate::{Prunable, Result, Retention};

#[async_trait]
impl Retention for SqliteStorage {
    async fn prune(&self, what: Prunable, before: DateTime<Utc>, limit: u32) -> Result<u64> {
        let (before, limit) = (ts(before), i64::from(limit.max(1)));
        let mut tx = self.write.begin().await?;
        let gone = match what {
            Prunable::Pushes => {
                sqlx::query(
                    "DELETE FROM stock_pushes WHERE id IN (
                         SELECT p.id FROM stock_pushes p WHERE p.created_at < ?1
                           AND (p.state = 'superseded'
                                OR (p.state = 'sent' AND EXISTS (
                                    SELECT 1 FROM stock_pushes q
                                    WHERE q.channel_id = p.channel_id AND q.listing_id = p.listing_id
                                      AND q.id > p.id AND q.state <> 'superseded')))
                         LIMIT ?2)",
                )
                .bind(&before)
                .bind(limit)
                .execute(&mut *tx)
                .await?
                .rows_affected()
            }
            Prunable::WebhookMessages => {
                let ids: Vec<String> = sqlx::query_scalar(
                    "SELECT m.id FROM webhook_messages m WHERE m.created_at < ?1
                       AND NOT EXISTS (SELECT 1 FROM webhook_deliveries d
                                       WHERE d.message_id = m.id AND d.state = 'pending')
                     LIMIT ?2",
                )
                .bind(&before)
                .bind(limit)
                .fetch_all(&mut *tx)
                .await?;
                for table in ["webhook_attempts", "webhook_deliveries"] {
                    let mut q = sqlx::QueryBuilder::new(format!(
                        "DELETE FROM {table} WHERE message_id IN ("
                    ));
                    let mut list = q.separated(", ");
                    for id in &ids {
                        list.push_bind(id);
                    }
                    q.push(")");
                    if !ids.is_empty() {
                        q.build().execute(&mut *tx).await?;
                    }
                }
                let mut q = sqlx::QueryBuilder::new("DELETE FROM webhook_messages WHERE id IN (");
                let mut list = q.separated(", ");
                for id in &ids {
                    list.push_bind(id);
                }
                q.push(")");
                if ids.is_empty() {
                    0
                } else {
                    q.build().execute(&mut *tx).await?.rows_affected()
                }
            }
            Prunable::Journal => sqlx::query(
                "DELETE FROM journal WHERE seq IN (
                     SELECT j.seq FROM journal j, webhook_cursor c
                     WHERE c.id = 1 AND j.seq <= c.seq AND j.created_at < ?1
                     ORDER BY j.seq LIMIT ?2)",
            )
            .bind(&before)
            .bind(limit)
            .execute(&mut *tx)
            .await?
            .rows_affected(),
            Prunable::IdempotencyKeys => sqlx::query(
                "DELETE FROM idempotency_keys WHERE rowid IN (
                     SELECT rowid FROM idempotency_keys WHERE created_at < ?1 LIMIT ?2)",
            )
            .bind(&before)
            .bind(limit)
            .execute(&mut *tx)
            .await?
            .rows_affected(),
        };
        tx.commit().await?;
        Ok(gone)
    }

    async fn count_rows(&self, what: Prunable) -> Result<u64> {
        let table = what.table();
        let n: i64 = sqlx::query_scalar(&format!("SELECT count(*) FROM {table}"))
            .fetch_one(&self.read)
            .await?;
        Ok(u64::try_from(n).unwrap_or(0))
    }
}
