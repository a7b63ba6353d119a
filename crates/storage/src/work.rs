//! Records and inputs of the core loop: imported orders, import errors,
//! jobs, listings, SKU mappings and stock pushes.

use chrono::{DateTime, Utc};
use serde::Serialize;
use switchyard_domain::ids::{AccountId, ChannelId, OrderId, PluginId, StoreId};
use switchyard_domain::order::{OrderState, UnifiedOrder};
use switchyard_domain::values::Sku;

/// The coordinates of a channel, for work that runs outside a request.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ChannelRef {
    /// Owner.
    pub account_id: AccountId,
    /// Store.
    pub store_id: StoreId,
    /// Channel.
    pub channel_id: ChannelId,
}

/// One fetched order to import. Storage maps its line SKUs to the store's
/// (manual mappings first) and flags lines whose SKU is missing or unknown,
/// in the same transaction as the upsert.
#[derive(Debug, Clone)]
pub struct ImportItem {
    /// The unified order as the connector mapped it.
    pub order: UnifiedOrder,
    /// The channel's payload.
    pub raw: serde_json::Value,
}

/// What became of one [`ImportItem`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum ImportOutcome {
    /// Inserted.
    Created {
        /// Our id.
        id: OrderId,
        /// Its state.
        state: OrderState,
    },
    /// Changed.
    Updated {
        /// Our id.
        id: OrderId,
        /// Its state.
        state: OrderState,
    },
    /// Seen before with the same channel `updated_at` and state: nothing written.
    Unchanged {
        /// Our id.
        id: OrderId,
    },
    /// Not imported.
    Skipped {
        /// Why.
        reason: String,
    },
}

/// The result of importing a batch in one transaction.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImportReport {
    /// One outcome per item, in order.
    pub outcomes: Vec<ImportOutcome>,
    /// Orders that could not be covered by available stock.
    pub oversold: Vec<OrderId>,
    /// Stock pushes enqueued by the batch.
    pub pushes_enqueued: usize,
}

/// An order that could not be imported.
#[derive(Debug, Clone)]
pub struct NewImportError {
    /// The channel's id of the order.
    pub channel_order_id: String,
    /// Stable code (`unmappable`, `storage` ...).
    pub code: String,
    /// What went wrong.
    pub message: String,
    /// The channel's payload, when there was one.
    pub raw: Option<serde_json::Value>,
}

/// A recorded import error.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ImportErrorRecord {
    /// Id.
    pub id: i64,
    /// Channel.
    pub channel_id: ChannelId,
    /// The channel's id of the order.
    pub channel_order_id: String,
    /// Code.
    pub code: String,
    /// Message.
    pub message: String,
    /// Payload.
    pub raw: Option<serde_json::Value>,
    /// Times seen.
    pub attempts: i64,
    /// First seen.
    pub first_seen_at: DateTime<Utc>,
    /// Last seen.
    pub last_seen_at: DateTime<Utc>,
    /// When a later import succeeded.
    pub resolved_at: Option<DateTime<Utc>>,
}

/// How an import run ended, for the channel's health.
#[derive(Debug, Clone)]
pub struct ImportRun {
    /// When it started.
    pub started_at: DateTime<Utc>,
    /// The error, if it failed.
    pub error: Option<String>,
    /// When the scheduler should run the channel next.
    pub next_import_at: DateTime<Utc>,
}

/// What kind of work a job asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum JobKind {
    /// Import since the cursor now.
    Import,
    /// Re-import a past window (`{from, to}`).
    Backfill,
    /// Import one order (`{channel_order_id}`), from a notification or a retry.
    Order,
    /// Download listings now.
    Listings,
}

impl JobKind {
    /// Stored name.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Import => "import",
            Self::Backfill => "backfill",
            Self::Order => "order",
            Self::Listings => "listings",
        }
    }

    /// Parse a stored name.
    #[must_use]
    pub fn parse(s: &str) -> Option<Self> {
        [Self::Import, Self::Backfill, Self::Order, Self::Listings]
            .into_iter()
            .find(|k| k.as_str() == s)
    }
}

/// A job claimed by a worker.
#[derive(Debug, Clone, PartialEq)]
pub struct Job {
    /// Id.
    pub id: i64,
    /// The channel it is for.
    pub channel: ChannelRef,
    /// What to do.
    pub kind: JobKind,
    /// Parameters.
    pub payload: serde_json::Value,
    /// Attempts so far, this one included.
    pub attempts: i64,
}

/// A job's public view.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct JobRecord {
    /// Id.
    pub id: i64,
    /// Channel.
    pub channel_id: ChannelId,
    /// Kind.
    pub kind: JobKind,
    /// Parameters.
    pub payload: serde_json::Value,
    /// Attempts.
    pub attempts: i64,
    /// Last error.
    pub last_error: Option<String>,
    /// Created.
    pub created_at: DateTime<Utc>,
    /// Finished (successfully or given up).
    pub finished_at: Option<DateTime<Utc>>,
    /// The worker instance that holds (or last held) it.
    pub locked_by: Option<String>,
    /// Until when it is leased.
    pub locked_until: Option<DateTime<Utc>>,
    /// The holder's last heartbeat (`None`: no holder, or it stopped).
    pub holder_heartbeat_at: Option<DateTime<Utc>>,
    /// When it was first claimed.
    pub started_at: Option<DateTime<Utc>>,
    /// What it has done so far.
    pub progress: Option<serde_json::Value>,
}

/// A listing as downloaded from the channel.
#[derive(Debug, Clone)]
pub struct NewListing {
    /// The channel's id.
    pub listing_id: String,
    /// SKU on the channel.
    pub channel_sku: Option<String>,
    /// Title.
    pub title: String,
    /// Price in minor units.
    pub price: Option<i64>,
    /// Quantity the channel shows.
    pub quantity: Option<i64>,
    /// The channel's JSON.
    pub raw: serde_json::Value,
}

/// What a listings download changed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ListingsReport {
    /// Listings stored or refreshed.
    pub listings: usize,
    /// Of those, mapped to a main product.
    pub mapped: usize,
    /// Main products created (add to main products).
    pub products_created: usize,
    /// Stock pushes enqueued for newly mapped listings.
    pub pushes_enqueued: usize,
}

/// A stored listing with its push state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ListingRecord {
    /// Channel.
    pub channel_id: ChannelId,
    /// The channel's id.
    pub listing_id: String,
    /// SKU on the channel.
    pub channel_sku: Option<String>,
    /// Main product SKU it maps to.
    pub sku: Option<String>,
    /// Title.
    pub title: String,
    /// Price (minor units).
    pub price: Option<i64>,
    /// Quantity the channel showed when downloaded.
    pub channel_quantity: Option<i64>,
    /// Quantity the channel last confirmed from us.
    pub confirmed_quantity: Option<i64>,
    /// When.
    pub confirmed_at: Option<DateTime<Utc>>,
    /// State of the newest push (`pending`, `sent`, `error`, ...).
    pub push_state: Option<String>,
    /// Quantity of the newest push.
    pub push_quantity: Option<i64>,
    /// The channel's message for a failed push.
    pub push_error: Option<String>,
}

/// A manual mapping from a channel SKU to a main product SKU.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SkuMapping {
    /// Channel.
    pub channel_id: ChannelId,
    /// SKU as the channel spells it.
    pub channel_sku: String,
    /// Main product SKU.
    pub sku: Sku,
    /// Created.
    pub created_at: DateTime<Utc>,
}

/// A pending stock push, ready to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DuePush {
    /// Id.
    pub id: i64,
    /// Listing on the channel.
    pub listing_id: String,
    /// Main SKU.
    pub sku: String,
    /// Quantity to show.
    pub quantity: i64,
    /// What the channel last confirmed.
    pub confirmed: Option<i64>,
    /// Attempts so far.
    pub attempts: i64,
    /// When the push was enqueued.
    pub created_at: DateTime<Utc>,
}

/// What the channel said to one push.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PushResult {
    /// Confirmed.
    Sent,
    /// Failed; retried at `retry_at` (or given up when `None`).
    Failed {
        /// The channel's message.
        error: String,
        /// When to try again.
        retry_at: Option<DateTime<Utc>>,
    },
}

/// Per-channel health for the API.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChannelHealth {
    /// Orders imported (created) since midnight UTC.
    pub orders_imported_today: i64,
    /// Unresolved import errors.
    pub open_import_errors: i64,
    /// Enqueued time of the oldest push not yet confirmed.
    pub oldest_unpushed_stock_change: Option<DateTime<Utc>>,
    /// Pushes pending or failing.
    pub unpushed_stock_changes: i64,
    /// Listings that map to no main product (no SKU, or a SKU the store
    /// does not have and no mapping names): they get no stock.
    pub unmapped_listings: i64,
    /// Stock pushes the channel refused or that keep failing.
    pub failing_stock_pushes: i64,
    /// Lines of the channel's open orders that map to no product.
    pub unmapped_order_lines: i64,
}

/// Filters of the orders list.
#[derive(Debug, Clone, Default)]
pub struct OrderFilter {
    /// Only this store.
    pub store_id: Option<StoreId>,
    /// Only this channel.
    pub channel_id: Option<ChannelId>,
    /// Only this state.
    pub state: Option<OrderState>,
    /// Changed (by us) at or after.
    pub updated_since: Option<DateTime<Utc>>,
    /// Having a line with this SKU.
    pub sku: Option<String>,
    /// Shipping to this country.
    pub country: Option<String>,
    /// Number, customer name or email containing this text.
    pub q: Option<String>,
}

/// An order as stored.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OrderRecord {
    /// Id.
    pub id: OrderId,
    /// Store.
    pub store_id: StoreId,
    /// Channel.
    pub channel_id: ChannelId,
    /// The channel's id.
    pub channel_order_id: String,
    /// Number people see.
    pub number: String,
    /// Our state.
    pub state: OrderState,
    /// Why it is excluded.
    pub excluded_reason: Option<String>,
    /// Why it is on hold.
    pub hold_reason: Option<String>,
    /// Marked "handle manually".
    pub manual: bool,
    /// Not covered by available stock when imported.
    pub oversold: bool,
    /// Tags (added by plugin rules).
    pub tags: Vec<String>,
    /// The plugin (3PL) the order was routed to, if any.
    pub plugin_id: Option<PluginId>,
    /// The plugin rule that routed it.
    pub routed_by: Option<String>,
    /// The unified order (absent for orders stored before import existed).
    pub unified: Option<UnifiedOrder>,
    /// The channel's payload.
    pub raw: Option<serde_json::Value>,
    /// Per line: store SKU and units still to ship.
    pub lines: Vec<OrderLineRecord>,
    /// First imported.
    pub created_at: DateTime<Utc>,
    /// Last changed by us.
    pub updated_at: DateTime<Utc>,
}

/// An order line as the ledger sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OrderLineRecord {
    /// Position.
    pub line_no: i64,
    /// The channel's line id.
    pub channel_line_id: Option<String>,
    /// Store SKU (or the channel's, when unknown).
    pub sku: String,
    /// Units ordered.
    pub quantity: Option<i64>,
    /// Units still to ship.
    pub open_quantity: i64,
}

/// An API action on an order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OrderAction {
    /// Put on hold with a reason.
    Hold(String),
    /// Release a hold.
    Release,
    /// Cancel (releases its stock).
    Cancel(Option<String>),
    /// Mark or unmark "handle manually".
    Manual(bool),
}
