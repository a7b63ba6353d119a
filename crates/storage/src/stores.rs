//! Stores: the unit a merchant sells from, owning channels, products and orders.

use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, Utc};
use switchyard_domain::ids::{AccountId, ChannelId, StoreId};
use switchyard_domain::plugin_rules::PluginRules;

use crate::{Page, PageRequest, Result};

/// Stores.
#[async_trait]
pub trait Stores: Send + Sync {
    /// Create a store.
    async fn create_store(&self, account: &AccountId, new: NewStore) -> Result<Store>;
    /// One store of the account.
    async fn get_store(&self, account: &AccountId, id: &StoreId) -> Result<Store>;
    /// The account's stores; `only` restricts to one (store-scoped tokens).
    async fn list_stores(
        &self,
        account: &AccountId,
        only: Option<&StoreId>,
        page: &PageRequest,
    ) -> Result<Page<Store>>;
    /// Change a store.
    async fn update_store(
        &self,
        account: &AccountId,
        id: &StoreId,
        patch: StorePatch,
    ) -> Result<Store>;
    /// Delete a store and everything in it. Refused with `store_has_orders`
    /// while it has orders, unless `force`.
    async fn delete_store(&self, account: &AccountId, id: &StoreId, force: bool) -> Result<()>;
    /// What the console's overview shows of a store since `since`:
    /// orders per channel and UTC day, orders waiting for someone, the
    /// oldest stock change not yet pushed, and the delays of the latest
    /// stock pushes that sales caused.
    async fn store_overview(
        &self,
        account: &AccountId,
        store: &StoreId,
        since: DateTime<Utc>,
    ) -> Result<StoreOverview>;
    /// The store's plugin rules.
    async fn plugin_rules(&self, account: &AccountId, store: &StoreId) -> Result<PluginRules>;
    /// Replace the store's plugin rules (validated), journalled.
    async fn set_plugin_rules(
        &self,
        account: &AccountId,
        store: &StoreId,
        rules: PluginRules,
    ) -> Result<PluginRules>;
}

/// How many pushes [`StoreOverview::sale_pushes`] holds at most.
pub const OVERVIEW_PUSHES: i64 = 50;

/// What a store's overview shows.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StoreOverview {
    /// Orders imported per channel and UTC day, oldest day first.
    pub orders_per_day: Vec<DayCount>,
    /// Orders on hold.
    pub on_hold: i64,
    /// Fulfilments whose sync to the channel failed.
    pub failed_syncs: i64,
    /// Orders the back office failed to take.
    pub back_office_failed: i64,
    /// When the oldest stock push not yet confirmed was queued.
    pub oldest_unpushed_stock_change: Option<DateTime<Utc>>,
    /// The latest stock pushes an imported sale caused, newest first (at
    /// most [`OVERVIEW_PUSHES`]).
    pub sale_pushes: Vec<PushDelay>,
}

/// Orders one channel imported on one UTC day.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DayCount {
    /// The channel.
    pub channel_id: ChannelId,
    /// The day (UTC).
    pub day: NaiveDate,
    /// Orders imported.
    pub orders: i64,
}

/// When a stock push was queued and when the channel took it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PushDelay {
    /// The channel pushed to.
    pub channel_id: ChannelId,
    /// Queued.
    pub queued_at: DateTime<Utc>,
    /// Taken by the channel.
    pub sent_at: DateTime<Utc>,
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
