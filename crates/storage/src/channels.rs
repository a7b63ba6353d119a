//! Channel connections of a store: settings, sealed credentials, sync
//! state and health.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::Serialize;
use switchyard_domain::channel::ChannelKind;
use switchyard_domain::cursor::ResumePoint;
use switchyard_domain::filter::ChannelSettings;
use switchyard_domain::ids::{AccountId, ChannelId, StoreId};
use switchyard_domain::stock::StockRules;

use crate::{Page, PageRequest, Result};

/// Channel connections of a store.
#[async_trait]
pub trait Channels: Send + Sync {
    /// Create a channel. Credentials arrive already sealed (see [`crypto`]).
    async fn create_channel(
        &self,
        account: &AccountId,
        store: &StoreId,
        new: NewChannel,
    ) -> Result<Channel>;
    /// One channel.
    async fn get_channel(
        &self,
        account: &AccountId,
        store: &StoreId,
        id: &ChannelId,
    ) -> Result<Channel>;
    /// The sealed credentials of a channel, if any.
    async fn channel_credentials(
        &self,
        account: &AccountId,
        store: &StoreId,
        id: &ChannelId,
    ) -> Result<Option<Vec<u8>>>;
    /// The store's channels.
    async fn list_channels(
        &self,
        account: &AccountId,
        store: &StoreId,
        page: &PageRequest,
    ) -> Result<Page<Channel>>;
    /// Change a channel.
    async fn update_channel(
        &self,
        account: &AccountId,
        store: &StoreId,
        id: &ChannelId,
        patch: ChannelPatch,
    ) -> Result<Channel>;
    /// Delete a channel; refused with `channel_has_orders` while it has orders.
    async fn delete_channel(
        &self,
        account: &AccountId,
        store: &StoreId,
        id: &ChannelId,
    ) -> Result<()>;
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
    /// The hosted page it is connected through: used up in the same
    /// transaction (`Conflict { code: "page_not_open" }` when it was used,
    /// withdrawn or has expired, and then no channel is made).
    pub hosted_page: Option<switchyard_domain::ids::HostedPageId>,
}

/// Where a channel's import and notifications stand.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ChannelSync {
    /// Newest channel `updated_at` among committed orders.
    pub cursor: Option<DateTime<Utc>>,
    /// Where an unfinished read of the channel's orders goes on from.
    pub resume: Option<ResumePoint>,
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
