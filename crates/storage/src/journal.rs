//! The journal: every change, appended in the transaction that made it.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use switchyard_domain::ids::{AccountId, StoreId};

use crate::Result;

/// The journal.
#[async_trait]
pub trait Journal: Send + Sync {
    /// Events of a store with `seq > after`, oldest first.
    async fn journal(
        &self,
        account: &AccountId,
        store: &StoreId,
        after: i64,
        limit: u32,
    ) -> Result<Vec<JournalEvent>>;
}

/// One journal event.
#[derive(Debug, Clone, PartialEq, serde::Serialize, utoipa::ToSchema)]
pub struct JournalEvent {
    /// Monotonic sequence number (global, gap-free per insert order).
    pub seq: i64,
    /// Store.
    pub store_id: StoreId,
    /// Entity kind.
    pub entity_type: String,
    /// Entity id.
    pub entity_id: String,
    /// Event type (`type` on the wire, as in the journal API).
    #[serde(rename = "type")]
    pub event_type: String,
    /// Payload.
    pub payload: serde_json::Value,
    /// When it happened.
    pub created_at: DateTime<Utc>,
}
