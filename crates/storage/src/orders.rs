//! Orders in the unified format: arrival, reads, and operator actions.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::Serialize;
use switchyard_domain::ids::{AccountId, ChannelId, OrderId, PluginId, StoreId};
use switchyard_domain::order::{OrderState, UnifiedOrder};
use switchyard_domain::values::Sku;

use crate::{JournalEvent, Page, PageRequest, Result};

/// Orders, as far as the foundation needs them: existence (for store
/// deletion) and stock commitments. Order import builds on this.
#[async_trait]
pub trait Orders: Send + Sync {
    /// Insert or update an order by `(channel, channel_order_id)` and replace
    /// its stock commitments, in one transaction with its journal event.
    async fn upsert_order(
        &self,
        account: &AccountId,
        store: &StoreId,
        order: NewOrder,
    ) -> Result<UpsertedOrder>;
    /// How many orders the store has.
    async fn count_orders(&self, account: &AccountId, store: &StoreId) -> Result<i64>;
    /// The account's orders matching `filter`, oldest first, paged by id.
    async fn list_orders(
        &self,
        account: &AccountId,
        filter: &OrderFilter,
        page: &PageRequest,
    ) -> Result<Page<OrderRecord>>;
    /// One order with its lines and payloads.
    async fn get_order(&self, account: &AccountId, id: &OrderId) -> Result<OrderRecord>;
    /// The order's journal events, oldest first.
    async fn order_events(&self, account: &AccountId, id: &OrderId) -> Result<Vec<JournalEvent>>;
    /// Hold, release, cancel or mark an order, journalled; stock commitments
    /// and pushes follow in the same transaction. Refused with 409
    /// `invalid_transition` when the state does not allow it.
    async fn act_on_order(
        &self,
        account: &AccountId,
        id: &OrderId,
        action: OrderAction,
    ) -> Result<OrderRecord>;
}

/// One order line as the ledger sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewOrderLine {
    /// SKU as mapped to the store's catalogue (unknown SKUs commit nothing).
    pub sku: Sku,
    /// Units still to ship.
    pub open_quantity: i64,
}

/// An order to insert or update.
#[derive(Debug, Clone)]
pub struct NewOrder {
    /// Channel it came from (must belong to the store).
    pub channel_id: ChannelId,
    /// The channel's id of the order.
    pub channel_order_id: String,
    /// State.
    pub state: OrderState,
    /// Lines.
    pub lines: Vec<NewOrderLine>,
}

/// The result of an order upsert.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpsertedOrder {
    /// The order's id (stable across upserts).
    pub id: OrderId,
    /// Whether it was newly inserted.
    pub created: bool,
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
    /// Newest first (the page's cursor then reads older orders) instead of
    /// oldest first.
    pub newest_first: bool,
}

/// An order as stored.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
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
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
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

pub use switchyard_domain::order::OrderAction;
