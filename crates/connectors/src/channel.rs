//! What a sales channel can do, as one trait every channel connector
//! implements. Plugins (3PL), webshop back offices and accounting packages
//! follow the same pattern: a capability set, typed requests and results,
//! [`ConnectorError`] for failures, and construction from the channel's
//! decrypted credentials and settings.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use switchyard_domain::order::UnifiedOrder;

use crate::error::ConnectorError;

/// What a channel supports; the engine adapts to it (batching, polling,
/// partial shipments) instead of asking every connector to fake it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Capabilities {
    /// Stock for many SKUs in one call; `max_stock_batch` per call.
    pub bulk_stock: bool,
    /// Largest stock batch (1 when there is no bulk endpoint).
    pub max_stock_batch: usize,
    /// The channel can notify us of new orders (webhooks).
    pub push_notifications: bool,
    /// A shipment may cover some of an order's lines.
    pub partial_fulfilment: bool,
    /// One shipment may carry several tracking numbers.
    pub multiple_tracking_numbers: bool,
    /// Stock can be set only if the channel still holds an expected value.
    pub compare_and_set_stock: bool,
    /// Order-list calls are rationed tightly (a few a minute), so an import
    /// round makes as few as it can (no separate quick read before a sweep
    /// of the overlap).
    pub scarce_order_lists: bool,
    /// A shipment's tracking numbers can be replaced after it was created.
    pub tracking_updates: bool,
    /// A shipment can be cancelled.
    pub fulfilment_cancellation: bool,
    /// An order can be cancelled through the API.
    pub order_cancellation: bool,
}

/// A page request for orders changed since a moment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderQuery {
    /// Orders updated at or after this (the cursor minus its overlap).
    pub updated_since: DateTime<Utc>,
    /// The channel's token for the next page, from the previous [`OrderPage`].
    pub page: Option<String>,
    /// The window is large (a backfill, a first import, a long absence): a
    /// channel with a bulk export (Shopify's bulk operations) exports it
    /// instead of paging through it. The pages it then gives are read the
    /// same way, and their tokens resume the same way.
    pub large: bool,
}

/// An order as mapped, with the channel's payload kept beside it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FetchedOrder {
    /// The unified order.
    pub order: UnifiedOrder,
    /// The channel's own JSON for it, stored with the order.
    pub raw: Value,
}

/// An order the connector could read but not map (kept for the error list,
/// never silently dropped).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnmappableOrder {
    /// The channel's id, when it could be read.
    pub channel_order_id: Option<String>,
    /// Why it could not be mapped.
    pub reason: String,
    /// The payload.
    pub raw: Value,
}

/// One page of changed orders.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OrderPage {
    /// Orders on the page.
    pub orders: Vec<FetchedOrder>,
    /// Orders on the page that could not be mapped.
    pub unmappable: Vec<UnmappableOrder>,
    /// Token for the next page; `None` on the last page.
    pub next_page: Option<String>,
    /// Channel ids of orders on the page that Switchyard itself created
    /// (this channel is a store's back office): never imported as sales.
    pub ours: Vec<String>,
}

impl OrderPage {
    /// Whether the page already holds the channel's order `id` (a channel
    /// may list an order twice on a page).
    #[must_use]
    pub fn holds(&self, id: &str) -> bool {
        self.orders.iter().any(|f| f.order.channel_order_id == id)
            || self
                .unmappable
                .iter()
                .any(|u| u.channel_order_id.as_deref() == Some(id))
    }

    /// A page holding the one order `channel_order_id` (what
    /// `fetch_order` answers).
    #[must_use]
    pub fn single(
        raw: Value,
        channel_order_id: &str,
        mapped: Result<UnifiedOrder, impl std::fmt::Display>,
    ) -> Self {
        let mut page = Self::default();
        page.add(raw, Some(channel_order_id.to_owned()), mapped);
        page
    }

    /// A page holding the order `channel_order_id` when the channel has it
    /// (`raw`), mapped with `map`; an empty page when it does not.
    #[must_use]
    pub fn found<E: std::fmt::Display>(
        raw: Option<Value>,
        channel_order_id: &str,
        map: impl FnOnce(&Value) -> Result<UnifiedOrder, E>,
    ) -> Self {
        match raw {
            None => Self::default(),
            Some(raw) => {
                let mapped = map(&raw);
                Self::single(raw, channel_order_id, mapped)
            }
        }
    }

    /// Whether the page holds nothing at all (for `fetch_order`: the
    /// channel does not know the order).
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.orders.is_empty() && self.unmappable.is_empty() && self.ours.is_empty()
    }

    /// Move `other`'s orders onto this page (its `next_page` is dropped).
    pub fn append(&mut self, other: Self) {
        self.orders.extend(other.orders);
        self.unmappable.extend(other.unmappable);
        self.ours.extend(other.ours);
    }

    /// File one channel order by how its mapping went: mapped orders with
    /// their payload, the others (with `channel_order_id`, when known) for
    /// the error list.
    pub fn add(
        &mut self,
        raw: Value,
        channel_order_id: Option<String>,
        mapped: Result<UnifiedOrder, impl std::fmt::Display>,
    ) {
        match mapped {
            Ok(order) => self.orders.push(FetchedOrder { order, raw }),
            Err(e) => self.unmappable.push(UnmappableOrder {
                channel_order_id,
                reason: e.to_string(),
                raw,
            }),
        }
    }
}

/// A channel's record of a product.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Listing {
    /// The channel's id of the listing (variant, offer, inventory item ...).
    pub channel_listing_id: String,
    /// SKU on the channel.
    pub sku: Option<String>,
    /// Title.
    pub title: String,
    /// Quantity the channel shows now.
    pub quantity: Option<i64>,
    /// Price in minor units, when the channel states one.
    pub price: Option<i64>,
    /// The channel's own JSON.
    pub raw: Value,
}

/// One page of listings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListingPage {
    /// Listings.
    pub listings: Vec<Listing>,
    /// Token for the next page.
    pub next_page: Option<String>,
}

/// A stock quantity to show on a listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StockUpdate {
    /// The listing.
    pub channel_listing_id: String,
    /// SKU, for logs and results.
    pub sku: String,
    /// Quantity to show.
    pub quantity: i64,
    /// Compare-and-set: the quantity we last pushed, where supported.
    pub expected: Option<i64>,
}

/// What became of one [`StockUpdate`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StockOutcome {
    /// The channel took the quantity.
    Accepted,
    /// The channel's quantity was not the expected one (compare-and-set).
    Conflict {
        /// What the channel holds, when it said.
        actual: Option<i64>,
    },
    /// The channel refused this item (the rest of the batch may have passed).
    Failed {
        /// Why.
        reason: String,
        /// Whether resending it can help.
        retryable: bool,
    },
}

pub use switchyard_domain::fulfilment::Tracking;

/// A shipment to report to the channel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FulfilmentPush {
    /// The order on the channel.
    pub channel_order_id: String,
    /// `(channel line id, quantity)` shipped.
    pub lines: Vec<(String, i64)>,
    /// Tracking numbers (one or more).
    pub tracking: Vec<Tracking>,
    /// Carrier in the channel's own vocabulary.
    pub carrier: Option<String>,
    /// Service level.
    pub service: Option<String>,
    /// When it shipped.
    pub shipped_at: DateTime<Utc>,
    /// Our id of the fulfilment: sent where the channel takes a reference,
    /// and used to look for an earlier attempt before creating, so a retry
    /// never ships twice.
    pub reference: String,
}

/// The channel's acknowledgement of a shipment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FulfilmentAck {
    /// The channel's id of the shipment.
    pub channel_fulfilment_id: String,
    /// Whether an earlier attempt had already created it.
    pub already_existed: bool,
}

/// An order notification the channel pushed to us.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notification {
    /// The order it is about, when the payload names one.
    pub channel_order_id: Option<String>,
    /// The channel's topic, when it sends one.
    pub topic: Option<String>,
}

/// Why a notification was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NotificationError {
    /// The signature header is missing.
    #[error("the `{header}` signature header is missing")]
    Unsigned {
        /// The header expected.
        header: &'static str,
    },
    /// The signature does not match.
    #[error("the signature in `{header}` does not match the body")]
    BadSignature {
        /// The header checked.
        header: &'static str,
    },
    /// The channel has no secret to check signatures with.
    #[error("{0}")]
    NoSecret(&'static str),
}

/// A sales channel.
#[async_trait]
pub trait SalesChannel: Send + Sync + std::fmt::Debug {
    /// What the channel supports.
    fn capabilities(&self) -> Capabilities;

    /// Check the credentials with a cheap authenticated call.
    async fn test_connection(&self) -> Result<(), ConnectorError>;

    /// One page of orders changed since `query.updated_since`, oldest change first.
    async fn fetch_orders(&self, query: &OrderQuery) -> Result<OrderPage, ConnectorError>;

    /// One order by the channel's id: a page holding it (mapped or
    /// unmappable), or an empty page when the channel does not know it.
    async fn fetch_order(&self, channel_order_id: &str) -> Result<OrderPage, ConnectorError>;

    /// Register for order notifications at `callback_url`, without creating
    /// a second subscription when one exists. Returns a signing secret the
    /// connector generated and the caller must keep in the credentials.
    /// By default the channel sends none to an HTTP endpoint and is polled.
    async fn subscribe_notifications(
        &self,
        callback_url: &str,
    ) -> Result<Option<String>, ConnectorError> {
        let _ = callback_url;
        Ok(None)
    }

    /// Check a notification's signature and read which order it is about.
    /// By default there are none to check.
    fn verify_notification(
        &self,
        headers: &reqwest::header::HeaderMap,
        body: &[u8],
    ) -> Result<Notification, NotificationError> {
        let _ = (headers, body);
        Err(NotificationError::NoSecret(
            "this channel sends no order notifications to Switchyard; it is polled",
        ))
    }

    /// One page of listings.
    async fn fetch_listings(&self, page: Option<String>) -> Result<ListingPage, ConnectorError>;

    /// Push quantities, at most `capabilities().max_stock_batch` per call; one
    /// outcome per update, in order.
    async fn push_stock(
        &self,
        updates: &[StockUpdate],
    ) -> Result<Vec<StockOutcome>, ConnectorError>;

    /// Report a shipment, idempotently by `reference`.
    async fn push_fulfilment(
        &self,
        shipment: &FulfilmentPush,
    ) -> Result<FulfilmentAck, ConnectorError>;

    /// Replace the tracking numbers (and carrier) of a shipment the channel
    /// created as `channel_fulfilment_id` (see `tracking_updates`). Returns
    /// the shipment's new id when the channel gave it another.
    async fn update_fulfilment_tracking(
        &self,
        channel_fulfilment_id: &str,
        shipment: &FulfilmentPush,
    ) -> Result<Option<String>, ConnectorError> {
        let _ = (channel_fulfilment_id, shipment);
        Err(self.unsupported("changing a shipment's tracking numbers"))
    }

    /// Cancel a shipment (see `fulfilment_cancellation`). Cancelling one
    /// that is cancelled already succeeds.
    async fn cancel_fulfilment(
        &self,
        channel_order_id: &str,
        channel_fulfilment_id: &str,
    ) -> Result<(), ConnectorError> {
        let _ = (channel_order_id, channel_fulfilment_id);
        Err(self.unsupported("cancelling a shipment"))
    }

    /// Cancel an order (see `order_cancellation`). Cancelling one that is
    /// cancelled already succeeds.
    async fn cancel_order(
        &self,
        channel_order_id: &str,
        reason: &str,
    ) -> Result<(), ConnectorError> {
        let _ = (channel_order_id, reason);
        Err(self.unsupported("cancelling an order"))
    }

    /// This channel as a back office orders can be created in, where it can be one.
    fn as_back_office(&self) -> Option<&dyn crate::back_office::BackOffice> {
        None
    }

    /// The error for an operation this connector does not support.
    fn unsupported(&self, what: &str) -> ConnectorError;
}
