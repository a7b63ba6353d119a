//! The journal.

use async_trait::async_trait;
use sqlx::Row;
use switchyard_domain::ids::{AccountId, StoreId};

use super::{SqliteStorage, parse_ts, require_store, stored};
use crate::{Journal, JournalEvent, Result, StorageError};

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
