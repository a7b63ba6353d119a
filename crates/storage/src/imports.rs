//! Order imports: batches from a channel, import errors, runs, and the
//! jobs (backfills, manual imports) that worker instances hold.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::Serialize;
use switchyard_domain::cursor::CursorMove;
use switchyard_domain::ids::{AccountId, ChannelId, OrderId, StoreId};
use switchyard_domain::order::{OrderState, UnifiedOrder};

use crate::{ChannelHealth, ChannelRef, Claim, Page, PageRequest, Result};

/// Order import: the engine's side of channels.
#[async_trait]
pub trait Imports: Send + Sync {
    /// Channels with credentials whose scheduled import is due at `now`
    /// (with `scheduled`), or that have jobs of one of `kinds` free to claim
    /// (see [`Imports::claim_jobs`] for `stale_before`).
    async fn due_channels(
        &self,
        now: DateTime<Utc>,
        limit: u32,
        stale_before: DateTime<Utc>,
        kinds: &[JobKind],
        scheduled: bool,
    ) -> Result<Vec<ChannelRef>>;
    /// Who owns a channel (for inbound notifications, which carry no token).
    async fn find_channel(&self, id: &ChannelId) -> Result<Option<ChannelRef>>;
    /// Upsert `items` by `(channel, channel_order_id)` in one transaction
    /// with their stock commitments, journal events and stock pushes, and
    /// move the channel's import position (`cursor`: its resume point, or
    /// its cursor when the read is done) in the same transaction.
    async fn import_orders(
        &self,
        channel: &ChannelRef,
        items: &[ImportItem],
        cursor: &CursorMove,
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
    /// Mark an open import error as dealt with outside Switchyard, by
    /// `by` (a user or token id), with a `channel.import_error_handled`
    /// journal event; an error already resolved is answered unchanged.
    /// It opens again if the channel's order fails to import later.
    async fn handle_import_error_manually(
        &self,
        account: &AccountId,
        store: &StoreId,
        channel: &ChannelId,
        id: i64,
        by: &str,
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
    /// Claim up to `limit` due jobs of `channel` of one of `kinds` (see
    /// [`crate::Leases`] for when a job is free).
    async fn claim_jobs(
        &self,
        channel: &ChannelRef,
        kinds: &[JobKind],
        claim: &Claim,
        limit: u32,
    ) -> Result<Vec<Job>>;
    /// What a running job has done so far (`{"pages", "orders"}`, and
    /// `next_page`: the channel's token for the page it goes on from).
    async fn set_job_progress(&self, id: i64, progress: serde_json::Value) -> Result<()>;
    /// Finish a job, or (with `retry_at`) release it for a later attempt.
    async fn finish_job(
        &self,
        id: i64,
        error: Option<String>,
        retry_at: Option<DateTime<Utc>>,
    ) -> Result<()>;
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
    /// SKUs whose available stock the batch changed, marked for their push
    /// targets to be recomputed ([`crate::Listings::settle_targets`]).
    pub stock_changed: usize,
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
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
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
    /// When a later import succeeded, or someone handled it manually.
    pub resolved_at: Option<DateTime<Utc>>,
    /// Who handled it outside Switchyard (a user or token id), when it
    /// was resolved that way.
    pub handled_manually_by: Option<String>,
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

/// `kinds` as an SQL list of their stored names (`'import','order'`); an
/// empty list matches nothing. The names are ours, never user input.
pub(crate) fn job_kinds(kinds: &[JobKind]) -> String {
    if kinds.is_empty() {
        return "NULL".to_owned();
    }
    kinds
        .iter()
        .map(|k| format!("'{}'", k.as_str()))
        .collect::<Vec<_>>()
        .join(",")
}

impl JobKind {
    /// Every kind an import runs (all but listings, which the listings
    /// download takes).
    pub const IMPORT: [Self; 3] = [Self::Import, Self::Backfill, Self::Order];
    /// What the import rounds run: imports now and backfills (notified
    /// orders have their own lane, so they never wait behind a round).
    pub const ROUNDS: [Self; 2] = [Self::Import, Self::Backfill];

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
    /// What earlier attempts recorded ([`Imports::set_job_progress`]).
    pub progress: Option<serde_json::Value>,
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
    pub lease_holder: Option<String>,
    /// Until when it is leased.
    pub lease_until: Option<DateTime<Utc>>,
    /// The holder's last heartbeat (`None`: no holder, or it stopped).
    pub holder_heartbeat_at: Option<DateTime<Utc>>,
    /// When it was first claimed.
    pub started_at: Option<DateTime<Utc>>,
    /// What it has done so far.
    pub progress: Option<serde_json::Value>,
}
