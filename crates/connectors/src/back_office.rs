//! A webshop as the back office of a store (the Channable model): orders
//! from the store's marketplaces are created in it, and read back until they
//! ship or are cancelled there.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use switchyard_domain::order::UnifiedOrder;

use crate::channel::Tracking;
use crate::error::ConnectorError;

/// One line of an order to create, with the back office's own product.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackOfficeLine {
    /// Store SKU.
    pub sku: String,
    /// The back office's listing of the SKU (its product / variant id), when known.
    pub listing_id: Option<String>,
    /// Units.
    pub quantity: i64,
    /// Title on the marketplace.
    pub title: String,
    /// Price of one unit, in minor units of the order's currency.
    pub unit_price: i64,
}

/// An order to create in the back office.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewBackOfficeOrder {
    /// Our order id: stored on the back-office order and used to find an
    /// earlier attempt, so a retry never creates a second copy.
    pub reference: String,
    /// Where the order came from (channel name), shown in the back office.
    pub source: String,
    /// The order as imported.
    pub order: UnifiedOrder,
    /// Lines with store SKUs (open units only).
    pub lines: Vec<BackOfficeLine>,
    /// An earlier attempt may have created it: look before creating.
    pub maybe_created: bool,
    /// When the first attempt was made (bounds the look).
    pub first_attempt_at: DateTime<Utc>,
}

impl NewBackOfficeOrder {
    /// The buyer's email address, or (for back offices that require one:
    /// some marketplaces, Amazon among them, never give the buyer's) an
    /// undeliverable one made from the reference.
    #[must_use]
    pub fn buyer_email(&self) -> String {
        self.order
            .customer
            .email
            .clone()
            .unwrap_or_else(|| format!("{}@marketplace.invalid", self.reference))
    }
}

/// The back office's copy of an order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteOrder {
    /// Its id there.
    pub id: String,
    /// The number shown there.
    pub number: Option<String>,
    /// Its status there.
    pub status: String,
}

/// Where an order stands in the back office.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RemoteProgress {
    /// Not shipped yet (pending, processing, on hold ...).
    Open,
    /// Completed: shipped, with or without track and trace.
    Completed,
    /// Cancelled, refunded or failed there.
    Cancelled,
}

/// An order read back from the back office.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteOrderState {
    /// Its id there.
    pub id: String,
    /// Its status there, as the back office names it.
    pub status: String,
    /// What the status means.
    pub progress: RemoteProgress,
    /// Track-and-trace entries (when completed).
    pub tracking: Vec<Tracking>,
    /// The carrier as the back office names it, when it does.
    pub carrier: Option<String>,
    /// When it shipped, when the back office says.
    pub shipped_at: Option<DateTime<Utc>>,
}

/// A webshop that takes orders created by Switchyard.
#[async_trait]
pub trait BackOffice: Send + Sync {
    /// Create `order` (or, when an earlier attempt did, return that copy).
    async fn create_order(&self, order: &NewBackOfficeOrder)
    -> Result<RemoteOrder, ConnectorError>;

    /// Read orders back by their ids there; orders it no longer has are
    /// left out.
    async fn read_orders(&self, ids: &[String]) -> Result<Vec<RemoteOrderState>, ConnectorError>;

    /// Cancel an order there (a cancelled one stays cancelled; success).
    async fn cancel_remote_order(&self, id: &str) -> Result<(), ConnectorError>;
}
