//! Records read from and inputs written to storage. These are not API DTOs:
//! the API maps them to its own `…In` / `…Out` types.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use switchyard_domain::channel::ChannelKind;
use switchyard_domain::explain::ChannelRules;
use switchyard_domain::filter::ChannelSettings;
use switchyard_domain::ids::{AccountId, ChannelId, OrderId, PluginId, StoreId, TokenId};
use switchyard_domain::order::OrderState;
use switchyard_domain::product::{KitComponent, ProductAttributes};
use switchyard_domain::stock::{SkuLedger, StockRules};
use switchyard_domain::values::Sku;

/// A page request: resume after `after` (the sort key of the last item seen),
/// return at most `limit` items.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageRequest {
    /// Sort key of the last item of the previous page.
    pub after: Option<String>,
    /// Maximum number of items, at least 1.
    pub limit: u32,
}

impl PageRequest {
    /// The first page of `limit` items.
    #[must_use]
    pub fn first(limit: u32) -> Self {
        Self { after: None, limit }
    }
}

/// One page of results.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page<T> {
    /// The items.
    pub items: Vec<T>,
    /// Sort key to pass as `after` for the next page; `None` on the last page.
    pub next: Option<String>,
}

/// A tenant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    /// Id.
    pub id: AccountId,
    /// Unique name.
    pub name: String,
    /// Creation time.
    pub created_at: DateTime<Utc>,
}

/// A token to store: only its hash and display prefix, never the secret.
#[derive(Debug, Clone)]
pub struct NewToken {
    /// Owner.
    pub account_id: AccountId,
    /// Restrict the token to one store.
    pub store_id: Option<StoreId>,
    /// Restrict the token to one plugin's own routes (`store_id` must be
    /// the plugin's store).
    pub plugin_id: Option<PluginId>,
    /// Label chosen by the user.
    pub name: String,
    /// The first characters of the token, to recognise it in lists.
    pub prefix: String,
    /// Hex SHA-256 of the whole token.
    pub hash: String,
}

/// How often a token's `last_used_at` is written: at most once per interval,
/// so authenticating does not cost a write per request.
pub const TOKEN_TOUCH_INTERVAL: chrono::Duration = chrono::Duration::seconds(60);

/// A stored API token (without its secret).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenRecord {
    /// Id.
    pub id: TokenId,
    /// Owner.
    pub account_id: AccountId,
    /// Store scope, if any.
    pub store_id: Option<StoreId>,
    /// Plugin scope, if any.
    pub plugin_id: Option<PluginId>,
    /// Label.
    pub name: String,
    /// Display prefix.
    pub prefix: String,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// Last authenticated use (to the minute).
    pub last_used_at: Option<DateTime<Utc>>,
    /// Revocation time.
    pub revoked_at: Option<DateTime<Utc>>,
}

impl TokenRecord {
    /// Whether a use at `now` should be recorded ([`TOKEN_TOUCH_INTERVAL`]).
    #[must_use]
    pub fn use_is_stale(&self, now: DateTime<Utc>) -> bool {
        self.last_used_at
            .is_none_or(|t| now - t >= TOKEN_TOUCH_INTERVAL)
    }
}

/// A store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Store {
    /// Id.
    pub id: StoreId,
    /// Name.
    pub name: String,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// Last change.
    pub updated_at: DateTime<Utc>,
}

/// A store to create.
#[derive(Debug, Clone)]
pub struct NewStore {
    /// Name (validated by the caller).
    pub name: String,
}

/// Changes to a store; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct StorePatch {
    /// New name.
    pub name: Option<String>,
}

/// A channel connection (credentials are never part of it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Channel {
    /// Id.
    pub id: ChannelId,
    /// Owning store.
    pub store_id: StoreId,
    /// Display name.
    pub name: String,
    /// Kind of channel.
    pub kind: ChannelKind,
    /// Base URL of the channel's API (shop domain, simulator address).
    pub base_url: Option<String>,
    /// Whether credentials are stored.
    pub has_credentials: bool,
    /// Stock rules for its listings.
    pub stock_rules: StockRules,
    /// Cadence, stock switches and order filters.
    pub settings: ChannelSettings,
    /// Where its import stands.
    pub sync: ChannelSync,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// Last change.
    pub updated_at: DateTime<Utc>,
}

/// A channel to create. The id is chosen by the caller because sealed
/// credentials bind it as associated data.
#[derive(Debug, Clone)]
pub struct NewChannel {
    /// Id chosen by the caller.
    pub id: ChannelId,
    /// Display name.
    pub name: String,
    /// Kind.
    pub kind: ChannelKind,
    /// Base URL.
    pub base_url: Option<String>,
    /// Sealed credentials.
    pub credentials: Option<Vec<u8>>,
    /// Stock rules.
    pub stock_rules: StockRules,
    /// Cadence, switches, filters.
    pub settings: ChannelSettings,
}

/// Where a channel's import and notifications stand.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ChannelSync {
    /// Newest channel `updated_at` among committed orders.
    pub cursor: Option<DateTime<Utc>>,
    /// When the scheduler runs the next import.
    pub next_import_at: Option<DateTime<Utc>>,
    /// Last import attempt.
    pub last_import_at: Option<DateTime<Utc>>,
    /// Last import that completed.
    pub last_success_at: Option<DateTime<Utc>>,
    /// Last import failure, as a message.
    pub last_error: Option<String>,
    /// When it happened.
    pub last_error_at: Option<DateTime<Utc>>,
    /// Failed imports in a row.
    pub failures: i64,
    /// When listings were last downloaded.
    pub listings_synced_at: Option<DateTime<Utc>>,
    /// When order notifications were registered with the channel.
    pub notifications_at: Option<DateTime<Utc>>,
    /// Why registering notifications failed, if it did.
    pub notifications_error: Option<String>,
}

/// Changes to a channel; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct ChannelPatch {
    /// New name.
    pub name: Option<String>,
    /// New base URL (`Some(None)` clears it).
    pub base_url: Option<Option<String>>,
    /// New sealed credentials (`Some(None)` removes them).
    pub credentials: Option<Option<Vec<u8>>>,
    /// New stock rules (replace the old ones whole).
    pub stock_rules: Option<StockRules>,
    /// New settings (replace the old ones whole).
    pub settings: Option<ChannelSettings>,
}

/// A main product (a kit when `components` is not empty).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Product {
    /// SKU, unique in the store.
    pub sku: Sku,
    /// Descriptive attributes.
    #[serde(flatten)]
    pub attributes: ProductAttributes,
    /// Kit components, in the order given; empty for a plain product.
    pub components: Vec<KitComponent>,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// Last change.
    pub updated_at: DateTime<Utc>,
}

impl Product {
    /// Whether the product is a kit.
    #[must_use]
    pub fn is_kit(&self) -> bool {
        !self.components.is_empty()
    }
}

/// A product to create (attributes validated by the caller; kit components
/// are checked against the store by storage).
#[derive(Debug, Clone)]
pub struct NewProduct {
    /// SKU.
    pub sku: Sku,
    /// Attributes.
    pub attributes: ProductAttributes,
    /// Kit components; empty for a plain product.
    pub components: Vec<KitComponent>,
}

/// A product's new state: attributes are replaced whole; components only when
/// given (an empty list turns a kit into a plain product).
#[derive(Debug, Clone)]
pub struct ProductUpdate {
    /// New attributes.
    pub attributes: ProductAttributes,
    /// New components, when they change.
    pub components: Option<Vec<KitComponent>>,
}

/// What to do to one SKU's quantity at one source.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StockOp {
    /// Set the absolute quantity.
    Set(i64),
    /// Add (or, negative, remove) units.
    Adjust(i64),
}

/// One stock change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StockChange {
    /// SKU of a plain product of the store.
    pub sku: Sku,
    /// Location at the source; empty for none.
    pub location: String,
    /// The change.
    pub op: StockOp,
    /// Compare-and-set: apply only if the current quantity at this source and
    /// location equals this.
    pub expected: Option<i64>,
    /// Why (kept in the journal).
    pub reason: Option<String>,
}

/// The effect of one applied change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StockChangeOutcome {
    /// SKU.
    pub sku: Sku,
    /// Location.
    pub location: String,
    /// Quantity before.
    pub before: i64,
    /// Quantity after.
    pub after: i64,
}

/// What a SKU is in a [`StockSnapshot`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SnapshotEntry {
    /// A plain product and its ledger.
    Plain(SkuLedger),
    /// A kit and each component with its ledger.
    Kit(Vec<(KitComponent, SkuLedger)>),
}

/// Ledgers and channel rules, read consistently in one transaction.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct StockSnapshot {
    /// Requested SKUs that exist.
    pub entries: BTreeMap<Sku, SnapshotEntry>,
    /// The store's channels and their rules.
    pub channels: Vec<ChannelRules>,
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

/// One journal event.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
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

/// What to do with an idempotent request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IdempotencyBegin {
    /// The key is new: run the request, then finish or release the key.
    Started,
    /// The same request already completed: replay this response.
    Replay {
        /// HTTP status.
        status: u16,
        /// Response body.
        body: Vec<u8>,
    },
    /// The same request is running right now.
    InProgress,
    /// The key was used with a different request.
    Mismatch,
}
