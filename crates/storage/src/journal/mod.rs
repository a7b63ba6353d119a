//! The journal: every change, appended in the transaction that made it.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use switchyard_domain::ids::{AccountId, StoreId};

mod payloads;

pub use payloads::*;

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

/// The entities a batch of events is about, which a backend reads (in the
/// events' transaction) for [`with_entities`].
#[derive(Default)]
pub(crate) struct EntityIds<'a> {
    /// Orders.
    pub(crate) orders: Vec<&'a str>,
    /// Fulfilments.
    pub(crate) fulfilments: Vec<&'a str>,
    /// Listings, by channel.
    pub(crate) listings: std::collections::BTreeMap<switchyard_domain::ids::ChannelId, Vec<String>>,
}

/// What `events` are about.
pub(crate) fn entity_ids(events: &[NewEvent]) -> EntityIds<'_> {
    let mut ids = EntityIds::default();
    for e in events {
        match &e.payload {
            EventPayload::Order(_) => ids.orders.push(e.entity_id.as_str()),
            EventPayload::Fulfilment(_) => ids.fulfilments.push(e.entity_id.as_str()),
            EventPayload::Listing(l) => ids
                .listings
                .entry(l.channel_id.clone())
                .or_default()
                .extend(l.listing_ids()),
            _ => {}
        }
    }
    ids
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
    /// Listings by channel and listing id.
    pub(crate) listings: std::collections::BTreeMap<
        (switchyard_domain::ids::ChannelId, String),
        crate::ListingRecord,
    >,
}

/// The payloads of `events` as the journal keeps them: an order's, a
/// fulfilment's or a listing's event also carries the entities as the
/// event's transaction leaves them (`entity`, `listings`), which is what
/// its webhooks deliver.
pub(crate) fn with_entities(events: &[NewEvent], mut read: EventEntities) -> Vec<EventPayload> {
    events
        .iter()
        .map(|ev| {
            let mut payload = ev.payload.clone();
            match &mut payload {
                EventPayload::Order(o) => {
                    o.entity = read.orders.remove(&ev.entity_id).map(|order| OrderEntity {
                        order: crate::OrderRecord { raw: None, ..order },
                        fulfilments: read.shipped.remove(&ev.entity_id).unwrap_or_default(),
                    });
                }
                EventPayload::Fulfilment(f) => {
                    f.entity = read.fulfilments.remove(&ev.entity_id);
                }
                EventPayload::Listing(l) => {
                    let found = l
                        .listing_ids()
                        .into_iter()
                        .filter_map(|id| read.listings.get(&(l.channel_id.clone(), id)).cloned())
                        .collect();
                    l.listings = Some(found);
                }
                _ => {}
            }
            payload
        })
        .collect()
}
