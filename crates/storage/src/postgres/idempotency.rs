//! Idempotency keys.

use async_trait::async_trait;
use chrono::Utc;
use sqlx::Row;
use switchyard_domain::ids::AccountId;

use super::{PgStorage, at, time};
use crate::{Idempotency, IdempotencyBegin, Result, StorageError};

/// How long a completed idempotency key is remembered.
const KEY_TTL_HOURS: i64 = 24;
/// How long a claimed but unfinished key blocks retries (a crashed request).
const IN_FLIGHT_TIMEOUT_SECS: i64 = 300;

#[async_trait]
impl Idempotency for PgStorage {
    async fn begin_idempotent(
        &self,
        account: &AccountId,
        key: &str,
        fingerprint: &str,
    ) -> Result<IdempotencyBegin> {
        let now = Utc::now();
        let mut tx = self.pool.begin().await?;
        sqlx::query("DELETE FROM idempotency_keys WHERE account_id = $1 AND created_at < $2")
            .bind(account.as_str())
            .bind(at(now - chrono::Duration::hours(KEY_TTL_HOURS)))
            .execute(&mut *tx)
            .await?;
        let row = sqlx::query("SELECT fingerprint, status, response_body, created_at FROM idempotency_keys WHERE account_id = $1 AND key = $2")
            .bind(account.as_str())
            .bind(key)
            .fetch_optional(&mut *tx)
            .await?;
        let outcome = match row {
            None => {
                sqlx::query("INSERT INTO idempotency_keys (account_id, key, fingerprint, created_at) VALUES ($1, $2, $3, $4)")
                    .bind(account.as_str())
                    .bind(key)
                    .bind(fingerprint)
                    .bind(at(now))
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
                    let claimed = time(r.try_get("created_at")?)?;
                    if now - claimed > chrono::Duration::seconds(IN_FLIGHT_TIMEOUT_SECS) {
                        sqlx::query("UPDATE idempotency_keys SET created_at = $1 WHERE account_id = $2 AND key = $3")
                            .bind(at(now))
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
        sqlx::query("UPDATE idempotency_keys SET status = $1, response_body = $2 WHERE account_id = $3 AND key = $4")
            .bind(i64::from(status))
            .bind(body)
            .bind(account.as_str())
            .bind(key)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn release_idempotent(&self, account: &AccountId, key: &str) -> Result<()> {
        sqlx::query(
            "DELETE FROM idempotency_keys WHERE account_id = $1 AND key = $2 AND status IS NULL",
        )
        .bind(account.as_str())
        .bind(key)
        .execute(&self.pool)
        .await?;
        Ok(())
    }
}
