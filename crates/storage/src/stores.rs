//! Stores: the unit a merchant sells from, owning channels, products and orders.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use switchyard_domain::ids::{AccountId, StoreId};
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
