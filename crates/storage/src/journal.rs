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

/// The ids of the orders and of the fulfilments `events` are about: the
/// entities a backend reads for [`with_entities`].
pub(crate) fn entity_ids(events: &[switchyard_domain::event::NewEvent]) -> (Vec<&str>, Vec<&str>) {
    use switchyard_domain::event::EntityType;
    let ids = |t: EntityType| -> Vec<&str> {
        events
            .iter()
            .filter(|e| e.entity_type == t)
            .map(|e| e.entity_id.as_str())
            .collect()
    };
    (ids(EntityType::Order), ids(EntityType::Fulfilment))
}

/// What a backend read, in its transaction, of the entities of a batch of
/// events.
#[derive(Default)]
pub(crate) struct EventEntities {
    /// Orders by id (without their raw payloads).
    pub(crate) orders: std::collections::BTreeMap<String, crate::OrderRecord>,
    /// Those orders' fulfilments, by order id.
    pub(crate) shipped: std::collections::BTreeMap<String, Vec<crate::FulfilmentRecord>>,
    /// Fulfilments by id.
    pub(crate) fulfilments: std::collections::BTreeMap<String, crate::FulfilmentRecord>,
}

/// The payloads of `events` as the journal keeps them: an order's or a
/// fulfilment's event also carries the entity as the event's transaction
/// leaves it (`entity`), which is what its webhooks deliver.
pub(crate) fn with_entities(
    events: &[switchyard_domain::event::NewEvent],
    mut read: EventEntities,
) -> Vec<serde_json::Value> {
    use switchyard_domain::event::EntityType;
    events
        .iter()
        .map(|ev| {
            let entity = match ev.entity_type {
                EntityType::Order => read.orders.remove(&ev.entity_id).map(|o| {
                    order_entity(o, read.shipped.remove(&ev.entity_id).unwrap_or_default())
                }),
                EntityType::Fulfilment => read
                    .fulfilments
                    .remove(&ev.entity_id)
                    .map(fulfilment_entity),
                _ => None,
            };
            with_entity(&ev.payload, entity)
        })
        .collect()
}

/// An order as its webhooks deliver it: the record without the channel's
/// raw payload, and its fulfilments.
fn order_entity(
    order: crate::OrderRecord,
    fulfilments: Vec<crate::FulfilmentRecord>,
) -> serde_json::Value {
    let mut v = serde_json::to_value(crate::OrderRecord { raw: None, ..order }).unwrap_or_default();
    v["fulfilments"] = serde_json::to_value(fulfilments).unwrap_or_default();
    v
}

/// A fulfilment as its webhooks deliver it.
fn fulfilment_entity(f: crate::FulfilmentRecord) -> serde_json::Value {
    serde_json::to_value(f).unwrap_or_default()
}

/// An event's payload with the entity it is about as the event's
/// transaction left it, under `entity` (what the event's webhooks deliver:
/// the entity as of the event, not as of the delivery).
fn with_entity(
    payload: &serde_json::Value,
    entity: Option<serde_json::Value>,
) -> serde_json::Value {
    let mut p = payload.clone();
    if let (Some(e), Some(o)) = (entity, p.as_object_mut()) {
        o.insert("entity".to_owned(), e);
    }
    p
}
