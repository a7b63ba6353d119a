//! Persistence for Switchyard, behind one trait per aggregate.
//!
//! The application holds an `Arc<dyn Storage>` chosen by database URL at
//! start-up. SQLite is the embedded default ([`sqlite::SqliteStorage`]); a
//! PostgreSQL backend implements the same traits and passes the same
//! conformance suite (`tests/conformance`).
//!
//! Every method that changes state appends its journal events in the same
//! transaction as the change, and every method is scoped by [`AccountId`]
//! (and usually [`StoreId`]): rows of another account are simply not found.

pub mod crypto;
mod hooks;
mod plugins;
mod shipping;
pub mod sqlite;
mod types;
mod work;

pub use hooks::*;
pub use plugins::*;
pub use shipping::*;
pub use types::*;
pub use work::*;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use switchyard_domain::DomainError;
use switchyard_domain::ids::{AccountId, ChannelId, OrderId, StoreId, TokenId};
use switchyard_domain::plugin_rules::PluginRules;
use switchyard_domain::stock::StockSource;
use switchyard_domain::values::Sku;

/// Seconds without a heartbeat after which a worker instance counts as
/// dead and its leases as free (the engine's default `stale_after`, and
/// what the API calls a stalled job).
pub const WORKER_STALE_AFTER_SECS: i64 = 10;

/// Errors of every storage backend.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    /// The entity does not exist (or belongs to another account or store).
    #[error("{entity} not found")]
    NotFound {
        /// What was looked for, e.g. `store`, `product`.
        entity: &'static str,
    },
    /// The input broke a domain rule that needed the database to check
    /// (a kit component that does not exist, ...).
    #[error(transparent)]
    Invalid(#[from] DomainError),
    /// The change conflicts with the current state (compare-and-set mismatch,
    /// duplicate SKU, store still has orders, ...).
    #[error("{message}")]
    Conflict {
        /// Stable snake_case code.
        code: &'static str,
        /// Human-readable explanation.
        message: String,
        /// The input field at fault, when there is one.
        field: Option<String>,
    },
    /// The database failed.
    #[error("database error")]
    Database(#[from] sqlx::Error),
    /// A migration failed.
    #[error("migration failed")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// A stored value could not be read back (a bug or a corrupted file).
    #[error("stored {what} is corrupt")]
    Corrupt {
        /// Which value.
        what: &'static str,
        /// The underlying parse failure.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

impl StorageError {
    pub(crate) fn conflict(
        code: &'static str,
        message: impl Into<String>,
        field: Option<String>,
    ) -> Self {
        Self::Conflict {
            code,
            message: message.into(),
            field,
        }
    }

    pub(crate) fn corrupt(
        what: &'static str,
        source: impl std::error::Error + Send + Sync + 'static,
    ) -> Self {
        Self::Corrupt {
            what,
            source: Box::new(source),
        }
    }
}

/// Result alias for storage calls.
pub type Result<T, E = StorageError> = std::result::Result<T, E>;

/// Accounts and API tokens.
#[async_trait]
pub trait Accounts: Send + Sync {
    /// The account named `name`, created if it does not exist.
    async fn ensure_account(&self, name: &str) -> Result<Account>;
    /// One account.
    async fn get_account(&self, id: &AccountId) -> Result<Account>;
    /// Store a new token (only its hash). A store scope must belong to the account.
    async fn create_token(&self, new: NewToken) -> Result<TokenRecord>;
    /// The live (not revoked) token with this SHA-256 hash, if any.
    async fn find_token_by_hash(&self, hash: &str) -> Result<Option<TokenRecord>>;
    /// Record that a token was used now (at most once per [`TOKEN_TOUCH_INTERVAL`]).
    async fn touch_token(&self, id: &TokenId) -> Result<()>;
    /// The account's tokens (never the secrets), optionally only one store's.
    async fn list_tokens(
        &self,
        account: &AccountId,
        page: &PageRequest,
    ) -> Result<Page<TokenRecord>>;
    /// Revoke a token; revoking twice is not an error.
    async fn revoke_token(&self, account: &AccountId, id: &TokenId) -> Result<TokenRecord>;
}

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

/// Main products and kits.
#[async_trait]
pub trait Products: Send + Sync {
    /// Create a product (or kit). Kit components must exist and be plain.
    async fn create_product(
        &self,
        account: &AccountId,
        store: &StoreId,
        new: NewProduct,
    ) -> Result<Product>;
    /// One product by SKU.
    async fn get_product(&self, account: &AccountId, store: &StoreId, sku: &Sku)
    -> Result<Product>;
    /// The store's products ordered by SKU.
    async fn list_products(
        &self,
        account: &AccountId,
        store: &StoreId,
        page: &PageRequest,
    ) -> Result<Page<Product>>;
    /// Replace a product's attributes and, when given, its kit components.
    async fn update_product(
        &self,
        account: &AccountId,
        store: &StoreId,
        sku: &Sku,
        patch: ProductUpdate,
    ) -> Result<Product>;
    /// Delete a product; refused while it is a kit component or holds stock.
    async fn delete_product(&self, account: &AccountId, store: &StoreId, sku: &Sku) -> Result<()>;
}

/// The stock ledger.
#[async_trait]
pub trait Stock: Send + Sync {
    /// Apply `changes` to one source, all or nothing, journalled. Fails with
    /// `Conflict { code: "stock_expected_mismatch" }` when a compare-and-set
    /// expectation does not hold, naming the change's index in `field`.
    async fn change_stock(
        &self,
        account: &AccountId,
        store: &StoreId,
        source: &StockSource,
        changes: &[StockChange],
    ) -> Result<Vec<StockChangeOutcome>>;
    /// What is needed to compute and explain the figures of `skus`: for each
    /// existing SKU, whether it is a kit, its ledger or its components'
    /// ledgers, plus the store's channel rules. Unknown SKUs are absent.
    async fn stock_snapshot(
        &self,
        account: &AccountId,
        store: &StoreId,
        skus: &[Sku],
    ) -> Result<StockSnapshot>;
    /// SKUs of the store in order, for paging through all stock.
    async fn list_skus(
        &self,
        account: &AccountId,
        store: &StoreId,
        page: &PageRequest,
    ) -> Result<Page<Sku>>;
}

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

/// Order import: the engine's side of channels.
#[async_trait]
pub trait Imports: Send + Sync {
    /// Channels with credentials whose import is due at `now`, or that have
    /// jobs free to claim (see [`Imports::claim_jobs`] for `stale_before`).
    async fn due_channels(
        &self,
        now: DateTime<Utc>,
        limit: u32,
        stale_before: DateTime<Utc>,
    ) -> Result<Vec<ChannelRef>>;
    /// Who owns a channel (for inbound notifications, which carry no token).
    async fn find_channel(&self, id: &ChannelId) -> Result<Option<ChannelRef>>;
    /// Upsert `items` by `(channel, channel_order_id)` in one transaction
    /// with their stock commitments, journal events and stock pushes, and
    /// (when given) advance the channel's cursor in the same transaction.
    async fn import_orders(
        &self,
        channel: &ChannelRef,
        items: &[ImportItem],
        advance_cursor_to: Option<DateTime<Utc>>,
    ) -> Result<ImportReport>;
    /// Record (or refresh) orders that could not be imported.
    async fn record_import_errors(
        &self,
        channel: &ChannelRef,
        errors: Vec<NewImportError>,
    ) -> Result<()>;
    /// A channel's import errors, newest first; only unresolved ones unless `all`.
    async fn list_import_errors(
        &self,
        account: &AccountId,
        store: &StoreId,
        channel: &ChannelId,
        all: bool,
        page: &PageRequest,
    ) -> Result<Page<ImportErrorRecord>>;
    /// One import error.
    async fn get_import_error(
        &self,
        account: &AccountId,
        store: &StoreId,
        channel: &ChannelId,
        id: i64,
    ) -> Result<ImportErrorRecord>;
    /// Record how an import run ended and when the next is due.
    async fn finish_import_run(&self, channel: &ChannelRef, run: ImportRun) -> Result<()>;
    /// Record that notifications were registered (or why not).
    async fn set_notifications(&self, channel: &ChannelRef, error: Option<String>) -> Result<()>;
    /// Replace a channel's sealed credentials without touching anything else
    /// (the engine stores a webhook secret it generated).
    async fn store_engine_credentials(&self, channel: &ChannelRef, sealed: Vec<u8>) -> Result<()>;
    /// Health figures of a channel.
    async fn channel_health(
        &self,
        account: &AccountId,
        store: &StoreId,
        channel: &ChannelId,
    ) -> Result<ChannelHealth>;
    /// Ask the engine for work on a channel.
    async fn enqueue_job(
        &self,
        channel: &ChannelRef,
        kind: JobKind,
        payload: serde_json::Value,
    ) -> Result<JobRecord>;
    /// One job of a channel.
    async fn get_job(&self, channel: &ChannelRef, id: i64) -> Result<JobRecord>;
    /// Claim up to `limit` due jobs of `channel` for `lease`, as worker
    /// instance `holder`. A job is free when it is not leased, its lease
    /// has run out, or its holder has not beaten since `stale_before`
    /// (it died) or has stopped.
    async fn claim_jobs(
        &self,
        channel: &ChannelRef,
        now: DateTime<Utc>,
        lease: chrono::Duration,
        limit: u32,
        holder: &str,
        stale_before: DateTime<Utc>,
    ) -> Result<Vec<Job>>;
    /// What a running job has done so far (`{"pages", "orders"}`).
    async fn set_job_progress(&self, id: i64, progress: serde_json::Value) -> Result<()>;
    /// Worker instance `id` starts at `now`. On SQLite, where one process
    /// owns the database file, every other instance is retired at once: a
    /// restarted process takes over what the killed one held without
    /// waiting for its heartbeat to go stale.
    async fn register_instance(&self, id: &str, now: DateTime<Utc>) -> Result<()>;
    /// Worker instance `id` is alive at `now`.
    async fn beat(&self, id: &str, now: DateTime<Utc>) -> Result<()>;
    /// Worker instance `id` stopped: its leases are free at once.
    async fn stop_instance(&self, id: &str, now: DateTime<Utc>) -> Result<()>;
    /// Finish a job, or (with `retry_at`) release it for a later attempt.
    async fn finish_job(
        &self,
        id: i64,
        error: Option<String>,
        retry_at: Option<DateTime<Utc>>,
    ) -> Result<()>;
}

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

/// The journal.
#[async_trait]
pub trait Journal: Send + Sync {
    /// Events of a store with `seq > after`, oldest first.
    async fn journal(
        &self,
        account: &AccountId,
        store: &StoreId,
        after: i64,
        limit: u32,
    ) -> Result<Vec<JournalEvent>>;
}

/// Idempotency keys of POST requests.
#[async_trait]
pub trait Idempotency: Send + Sync {
    /// Claim `key` for a request with `fingerprint`, or learn what to replay.
    async fn begin_idempotent(
        &self,
        account: &AccountId,
        key: &str,
        fingerprint: &str,
    ) -> Result<IdempotencyBegin>;
    /// Store the response of a claimed key.
    async fn finish_idempotent(
        &self,
        account: &AccountId,
        key: &str,
        status: u16,
        body: &[u8],
    ) -> Result<()>;
    /// Release a claimed key without a response (the request failed
    /// transiently, so a retry must run it again).
    async fn release_idempotent(&self, account: &AccountId, key: &str) -> Result<()>;
}

/// Everything the application needs from a backend.
#[async_trait]
pub trait Storage:
    Accounts
    + Stores
    + Channels
    + Products
    + Stock
    + Orders
    + Imports
    + Listings
    + Fulfilments
    + BackOffices
    + Webhooks
    + Plugins
    + Journal
    + Idempotency
    + std::fmt::Debug
    + 'static
{
    /// Which backend this is (`sqlite`, `postgres`).
    fn backend(&self) -> &'static str;
    /// Cheap liveness check of the database.
    async fn ping(&self) -> Result<()>;
}
