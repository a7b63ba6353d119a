//! The journal.

use async_trait::async_trait;
use sqlx::Row;
use sqlx::postgres::PgRow;
use switchyard_domain::ids::{AccountId, StoreId};

use super::{PgStorage, require_store, stored, time};
use crate::{Journal, JournalEvent, Result};

#[async_trait]
impl Journal for PgStorage {
    async fn journal(
        &self,
        account: &AccountId,
        store: &StoreId,
        after: i64,
        limit: u32,
    ) -> Result<Vec<JournalEvent>> {
        let mut tx = self.pool.begin().await?;
        require_store(&mut tx, account, store).await?;
        let rows = sqlx::query(
            "SELECT seq, store_id, entity_type, entity_id, event_type, payload, created_at FROM journal
             WHERE store_id = $1 AND account_id = $2 AND seq > $3 ORDER BY seq LIMIT $4",
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
pub(crate) fn event_from_row(r: &PgRow) -> Result<JournalEvent> {
    Ok(JournalEvent {
        seq: r.try_get("seq")?,
        store_id: stored("store id", StoreId::parse(r.try_get("store_id")?))?,
        entity_type: r.try_get("entity_type")?,
        entity_id: r.try_get("entity_id")?,
        event_type: r.try_get("event_type")?,
        payload: r.try_get("payload")?,
        created_at: time(r.try_get("created_at")?)?,
    })
}
