//! Listings downloaded from channels, SKU mappings, and the stock pushes
//! that keep each listing at its target.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::Serialize;
use switchyard_domain::ids::{AccountId, ChannelId, StoreId};
use switchyard_domain::values::Sku;

use crate::{ChannelRef, Page, PageRequest, Result};

/// Listings, SKU mappings and stock pushes.
#[async_trait]
pub trait Listings: Send + Sync {
    /// Store downloaded listings, map them by SKU (manual mappings first),
    /// create main products for unknown SKUs when `add_to_main`, and enqueue
    /// pushes for listings that became mapped.
    async fn upsert_listings(
        &self,
        channel: &ChannelRef,
        listings: Vec<NewListing>,
        add_to_main: bool,
    ) -> Result<ListingsReport>;
    /// Channels with credentials that download products and whose listings
    /// were last downloaded before `synced_before` (or never), or that have
    /// a listings job free to claim.
    async fn due_listings(
        &self,
        now: DateTime<Utc>,
        synced_before: DateTime<Utc>,
        stale_before: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<ChannelRef>>;
    /// Record why downloading a channel's listings failed, as the channel's
    /// last error (its import failure count is left alone).
    async fn record_listings_error(
        &self,
        channel: &ChannelRef,
        error: &str,
        at: DateTime<Utc>,
    ) -> Result<()>;
    /// A channel's listings ordered by listing id (only those that map to
    /// no main product with `unmapped_only`).
    async fn list_listings(
        &self,
        account: &AccountId,
        store: &StoreId,
        channel: &ChannelId,
        page: &PageRequest,
        unmapped_only: bool,
    ) -> Result<Page<ListingRecord>>;
    /// One listing of a channel.
    async fn get_listing(
        &self,
        account: &AccountId,
        store: &StoreId,
        channel: &ChannelId,
        listing_id: &str,
    ) -> Result<ListingRecord>;
    /// Map a channel SKU to a main product; remaps listings and recomputes their stock.
    async fn set_sku_mapping(
        &self,
        account: &AccountId,
        store: &StoreId,
        channel: &ChannelId,
        channel_sku: &str,
        sku: &Sku,
    ) -> Result<SkuMapping>;
    /// Remove a mapping.
    async fn delete_sku_mapping(
        &self,
        account: &AccountId,
        store: &StoreId,
        channel: &ChannelId,
        channel_sku: &str,
    ) -> Result<()>;
    /// A channel's mappings.
    async fn list_sku_mappings(
        &self,
        account: &AccountId,
        store: &StoreId,
        channel: &ChannelId,
    ) -> Result<Vec<SkuMapping>>;
    /// Recompute and enqueue every listing's target of a store (after rules
    /// or switches change, or to repair).
    async fn resync_stock(&self, account: &AccountId, store: &StoreId) -> Result<usize>;
    /// Recompute the push targets of up to `limit` SKUs that import pages
    /// marked stale ([`crate::ImportReport::stock_changed`]), once for all
    /// the pages that marked them, enqueue their pushes and clear the marks,
    /// in one transaction. Marks held by a page still being written are left
    /// for the next call.
    async fn settle_targets(&self, limit: u32) -> Result<SettledTargets>;
    /// Channels with pushes due at `now`.
    async fn channels_with_due_pushes(&self, now: DateTime<Utc>) -> Result<Vec<ChannelRef>>;
    /// A channel's due pushes: the newest per listing, drops to zero first.
    async fn due_pushes(
        &self,
        channel: &ChannelRef,
        now: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<DuePush>>;
    /// Record the channel's answers.
    async fn record_push_results(
        &self,
        channel: &ChannelRef,
        results: Vec<(DuePush, PushResult)>,
    ) -> Result<()>;
}

/// What one [`Listings::settle_targets`] call did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SettledTargets {
    /// Marks cleared (SKUs whose targets were recomputed).
    pub skus: usize,
    /// Pushes that carry a new target (new or retargeted).
    pub pushes: usize,
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
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
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
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
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

/// The marks taken by one settle, by store and cause.
pub(crate) type StaleMarks =
    std::collections::BTreeMap<(String, String), std::collections::BTreeSet<String>>;

/// Largest import page whose orders set their listings' push targets in the
/// page's own transaction. Pages this small (notified orders, Shopify's
/// pages of 15) would gain little from marking, and the stock pusher can
/// push them as soon as they commit, without a settle transaction queued
/// on the writer between the sale and its push. Larger pages (offset pages
/// of 100, bulk exports) mark their SKUs ([`Listings::settle_targets`]), so
/// a long import sets each target a few times rather than once per page.
pub(crate) const TARGETS_IN_PAGE: usize = 20;

/// Group taken marks `(store, sku, cause)` by store and cause.
pub(crate) fn group_marks(rows: Vec<(String, String, String)>) -> StaleMarks {
    let mut out = StaleMarks::new();
    for (store, sku, cause) in rows {
        out.entry((store, cause)).or_default().insert(sku);
    }
    out
}
