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

/// An order as its webhooks deliver it: the record without the channel's
/// raw payload, and its fulfilments.
pub(crate) fn order_entity(
    order: crate::OrderRecord,
    fulfilments: Vec<crate::FulfilmentRecord>,
) -> serde_json::Value {
    let mut v = serde_json::to_value(crate::OrderRecord { raw: None, ..order }).unwrap_or_default();
    v["fulfilments"] = serde_json::to_value(fulfilments).unwrap_or_default();
    v
}

/// A fulfilment as its webhooks deliver it.
pub(crate) fn fulfilment_entity(f: crate::FulfilmentRecord) -> serde_json::Value {
    serde_json::to_value(f).unwrap_or_default()
}

/// An event's payload with the entity it is about as the event's
/// transaction left it, under `entity` (what the event's webhooks deliver:
/// the entity as of the event, not as of the delivery).
pub(crate) fn with_entity(
    payload: &serde_json::Value,
    entity: Option<serde_json::Value>,
) -> serde_json::Value {
    let mut p = payload.clone();
    if let (Some(e), Some(o)) = (entity, p.as_object_mut()) {
        o.insert("entity".to_owned(), e);
    }
    p
}
