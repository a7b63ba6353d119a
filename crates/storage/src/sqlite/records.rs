//! The journal and idempotency keys.

use async_trait::async_trait;
use chrono::Utc;
use sqlx::Row;
use switchyard_domain::ids::{AccountId, StoreId};

use super::{SqliteStorage, parse_ts, require_store, stored, ts};
use crate::{Idempotency, IdempotencyBegin, Journal, JournalEvent, Result, StorageError};

/// How long a completed idempotency key is remembered.
const KEY_TTL_HOURS: i64 = 24;
/// How long a claimed but unfinished key blocks retries (a crashed request).
const IN_FLIGHT_TIMEOUT_SECS: i64 = 300;

#[async_trait]
impl Journal for SqliteStorage {
    async fn journal(
        &self,
        account: &AccountId,
        store: &StoreId,
        after: i64,
        limit: u32,
    ) -> Result<Vec<JournalEvent>> {
        let mut tx = self.read.begin().await?;
        require_store(&mut tx, account, store).await?;
        let rows = sqlx::query(
            "SELECT seq, store_id, entity_type, entity_id, event_type, payload, created_at FROM journal
             WHERE store_id = ? AND account_id = ? AND seq > ? ORDER BY seq LIMIT ?",
        )
        .bind(store.as_str())
        .bind(account.as_str())
        .bind(after)
        .bind(i64::from(limit.max(1)))
        .fetch_all(&mut *tx)
        .await?;
        rows.iter().map(event_from_row).collect()
    }
}

/// A journal row (`seq, store_id, entity_type, entity_id, event_type, payload, created_at`).
pub(crate) fn event_from_row(r: &sqlx::sqlite::SqliteRow) -> Result<JournalEvent> {
    let payload: &str = r.try_get("payload")?;
    Ok(JournalEvent {
        seq: r.try_get("seq")?,
        store_id: stored("store id", StoreId::parse(r.try_get("store_id")?))?,
        entity_type: r.try_get("entity_type")?,
        entity_id: r.try_get("entity_id")?,
        event_type: r.try_get("event_type")?,
        payload: serde_json::from_str(payload)
            .map_err(|e| StorageError::corrupt("journal payload", e))?,
        created_at: parse_ts(r.try_get("created_at")?)?,
    })
}

#[async_trait]
impl Idempotency for SqliteStorage {
    async fn begin_idempotent(
        &self,
        account: &AccountId,
        key: &str,
        fingerprint: &str,
    ) -> Result<IdempotencyBegin> {
        let now = Utc::now();
        let mut tx = self.write.begin().await?;
        sqlx::query("DELETE FROM idempotency_keys WHERE account_id = ? AND created_at < ?")
            .bind(account.as_str())
            .bind(ts(now - chrono::Duration::hours(KEY_TTL_HOURS)))
            .execute(&mut *tx)
            .await?;
        let row = sqlx::query("SELECT fingerprint, status, response_body, created_at FROM idempotency_keys WHERE account_id = ? AND key = ?")
            .bind(account.as_str())
            .bind(key)
            .fetch_optional(&mut *tx)
            .await?;
        let outcome = match row {
            None => {
                sqlx::query("INSERT INTO idempotency_keys (account_id, key, fingerprint, created_at) VALUES (?, ?, ?, ?)")
                    .bind(account.as_str())
                    .bind(key)
                    .bind(fingerprint)
                    .bind(ts(now))
                    .execute(&mut *tx)
                    .await?;
                IdempotencyBegin::Started
            }
            Some(r) => {
                let stored_fp: &str = r.try_get("fingerprint")?;
                let status: Option<i64> = r.try_get("status")?;
                if stored_fp != fingerprint {
                    IdempotencyBegin::Mismatch
                } else if let Some(status) = status {
                    IdempotencyBegin::Replay {
                        status: u16::try_from(status)
                            .map_err(|e| StorageError::corrupt("idempotent status", e))?,
                        body: r
                            .try_get::<Option<Vec<u8>>, _>("response_body")?
                            .unwrap_or_default(),
                    }
                } else {
                    let claimed = parse_ts(r.try_get("created_at")?)?;
                    if now - claimed > chrono::Duration::seconds(IN_FLIGHT_TIMEOUT_SECS) {
                        sqlx::query("UPDATE idempotency_keys SET created_at = ? WHERE account_id = ? AND key = ?")
                            .bind(ts(now))
                            .bind(account.as_str())
                            .bind(key)
                            .execute(&mut *tx)
                            .await?;
                        IdempotencyBegin::Started
                    } else {
                        IdempotencyBegin::InProgress
                    }
                }
            }
        };
        tx.commit().await?;
        Ok(outcome)
    }

    async fn finish_idempotent(
        &self,
        account: &AccountId,
        key: &str,
        status: u16,
        body: &[u8],
    ) -> Result<()> {
        sqlx::query("UPDATE idempotency_keys SET status = ?, response_body = ? WHERE account_id = ? AND key = ?")
            .bind(i64::from(status))
            .bind(body)
            .bind(account.as_str())
            .bind(key)
            .execute(&self.write)
            .await?;
        Ok(())
    }

    async fn release_idempotent(&self, account: &AccountId, key: &str) -> Result<()> {
        sqlx::query(
            "DELETE FROM idempotency_keys WHERE account_id = ? AND key = ? AND status IS NULL",
        )
        .bind(account.as_str())
        .bind(key)
        .execute(&self.write)
        .await?;
        Ok(())
    }
}
