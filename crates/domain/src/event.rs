//! Journal events: the append-only record of every state change.

use serde::Serialize;

/// What kind of entity an event is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EntityType {
    /// A store.
    Store,
    /// A channel connection.
    Channel,
    /// A main product.
    Product,
    /// A stock level of a SKU.
    Stock,
    /// An order.
    Order,
    /// An API token.
    Token,
    /// A channel's listing (channel product).
    Listing,
    /// A shipment of an order.
    Fulfilment,
    /// A webhook subscription.
    Webhook,
    /// A plugin (3PL).
    Plugin,
    /// An invoice.
    Invoice,
    /// A credit note.
    CreditNote,
    /// A connection to an accounting package.
    Accounting,
}

impl EntityType {
    /// The stored name.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Store => "store",
            Self::Channel => "channel",
            Self::Product => "product",
            Self::Stock => "stock",
            Self::Order => "order",
            Self::Token => "token",
            Self::Listing => "listing",
            Self::Fulfilment => "fulfilment",
            Self::Webhook => "webhook",
            Self::Plugin => "plugin",
            Self::Invoice => "invoice",
            Self::CreditNote => "credit_note",
            Self::Accounting => "accounting",
        }
    }
}
