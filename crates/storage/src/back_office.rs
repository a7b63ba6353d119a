//! The back-office order connection: orders handed to the merchant's own
//! webshop back office, and what it reports back.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::Serialize;
use switchyard_domain::ids::{AccountId, ChannelId, FulfilmentId, OrderId, StoreId};

use crate::{ChannelRef, Claim, NewFulfilment, OrderRecord, Page, PageRequest, Result};

/// The back-office order connection.
#[async_trait]
pub trait BackOffices: Send + Sync {
    /// A store's back office, if it names one.
    async fn back_office(
        &self,
        account: &AccountId,
        store: &StoreId,
    ) -> Result<Option<BackOfficeSettings>>;

    /// Name (or, with `None`, drop) a store's back office. The channel must
    /// belong to the store; `since` is set to now when the channel changes.
    async fn set_back_office(
        &self,
        account: &AccountId,
        store: &StoreId,
        settings: Option<BackOfficeSettings>,
    ) -> Result<Option<BackOfficeSettings>>;

    /// A store's back-office orders, optionally in one state.
    async fn list_back_office_orders(
        &self,
        account: &AccountId,
        store: &StoreId,
        state: Option<BackOfficeState>,
        page: &PageRequest,
    ) -> Result<Page<BackOfficeOrder>>;

    /// The back-office copy of one order, if any.
    async fn back_office_order(
        &self,
        account: &AccountId,
        order: &OrderId,
    ) -> Result<Option<BackOfficeOrder>>;

    /// Resend a failed (or manual) order now.
    async fn resend_back_office_order(
        &self,
        account: &AccountId,
        order: &OrderId,
    ) -> Result<BackOfficeOrder>;

    /// Stop sending an order; someone handles it by hand (the order is
    /// marked manual).
    async fn handle_back_office_manually(
        &self,
        account: &AccountId,
        order: &OrderId,
    ) -> Result<BackOfficeOrder>;

    /// Stores naming a back office.
    async fn stores_with_back_office(
        &self,
    ) -> Result<Vec<(AccountId, StoreId, BackOfficeSettings)>>;

    /// Queue newly eligible orders (open, not manual, from another channel,
    /// imported since the back office was named) and return what is due.
    async fn back_office_work(
        &self,
        account: &AccountId,
        store: &StoreId,
        claim: &Claim,
        limit: u32,
    ) -> Result<BackOfficeWork>;

    /// Claim one order's next step (counts an attempt for sends). `false`
    /// when another worker holds it or it is not due any more.
    async fn begin_back_office_step(&self, order: &OrderId, claim: &Claim) -> Result<bool>;

    /// Apply what a step found, in one transaction with its effects
    /// (fulfilment, cancellation, stock pushes for the back office's own
    /// listings), scheduling the next check `next_check` later.
    async fn record_back_office(
        &self,
        order: &OrderId,
        update: BackOfficeUpdate,
        now: DateTime<Utc>,
        next_check: chrono::Duration,
    ) -> Result<BackOfficeOrder>;
}

pub use switchyard_domain::back_office::{
    BackOfficeSettings, BackOfficeState, DEFAULT_BACK_OFFICE_CHECK_SECS,
    DEFAULT_SHIP_WITHOUT_TRACKING_SECS,
};

/// An order's copy in the back office.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct BackOfficeOrder {
    /// Our order.
    pub order_id: OrderId,
    /// Store.
    pub store_id: StoreId,
    /// The back-office channel.
    pub channel_id: ChannelId,
    /// Where it stands.
    pub state: BackOfficeState,
    /// The back office's order id.
    pub remote_id: Option<String>,
    /// The number the back office shows.
    pub remote_number: Option<String>,
    /// The back office's own status (`processing`, `completed` ...).
    pub remote_status: Option<String>,
    /// Attempts of the current step.
    pub attempts: i64,
    /// Last error.
    pub last_error: Option<String>,
    /// When it was seen completed without track and trace.
    pub waiting_since: Option<DateTime<Utc>>,
    /// The fulfilment recorded from it.
    pub fulfilment_id: Option<FulfilmentId>,
    /// Cancelling the marketplace order: `pending`, `done`, `unsupported`
    /// or `failed: …`, after a cancellation in the back office.
    pub channel_cancel: Option<String>,
    /// When the next step is due.
    pub next_at: Option<DateTime<Utc>>,
    /// Last read back.
    pub checked_at: Option<DateTime<Utc>>,
    /// Queued.
    pub created_at: DateTime<Utc>,
    /// Last changed.
    pub updated_at: DateTime<Utc>,
}

/// Back-office work due for one store.
#[derive(Debug, Clone, PartialEq)]
pub struct BackOfficeWork {
    /// Orders to create in the back office, with their order and the back
    /// office's listing of each SKU (SKU → listing id) where it has one.
    pub sends: Vec<(
        BackOfficeOrder,
        OrderRecord,
        std::collections::BTreeMap<String, String>,
    )>,
    /// Orders to read back.
    pub checks: Vec<BackOfficeOrder>,
    /// Orders cancelled here whose back-office copy is still open.
    pub cancels: Vec<BackOfficeOrder>,
    /// Orders cancelled in the back office whose marketplace order is to be
    /// cancelled too, with its channel order id.
    pub channel_cancels: Vec<(BackOfficeOrder, ChannelRef, String)>,
}

/// What reading an order back (or acting on it) found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BackOfficeUpdate {
    /// Created in the back office.
    Sent {
        /// Its id there.
        remote_id: String,
        /// Its number there.
        remote_number: Option<String>,
        /// Its status there.
        remote_status: Option<String>,
    },
    /// Creating it failed.
    SendFailed {
        /// Why.
        error: String,
        /// When to try again (`None`: wait for a resend).
        retry_at: Option<DateTime<Utc>>,
    },
    /// Read back: no change that matters.
    Unchanged {
        /// Its status there.
        remote_status: String,
    },
    /// Completed there without track and trace.
    Waiting {
        /// Its status there.
        remote_status: String,
        /// Since when (kept from the first sighting).
        since: DateTime<Utc>,
    },
    /// Shipped: record the fulfilment.
    Shipped {
        /// Its status there.
        remote_status: String,
        /// The shipment.
        fulfilment: NewFulfilment,
    },
    /// Cancelled or refunded there: cancel our order, and ask for the
    /// marketplace order to be cancelled when `cancel_on_channel`.
    CancelledThere {
        /// Its status there.
        remote_status: String,
        /// Whether the marketplace can cancel orders.
        cancel_on_channel: bool,
    },
    /// We cancelled the back-office copy (the order was cancelled here).
    CancelledHere,
    /// Reading or cancelling failed; try again at `retry_at`.
    CheckFailed {
        /// Why.
        error: String,
        /// When to try again.
        retry_at: DateTime<Utc>,
    },
    /// Outcome of cancelling the marketplace order.
    ChannelCancel {
        /// `done`, `unsupported` or `failed: …`.
        outcome: String,
        /// Retry at, when it failed.
        retry_at: Option<DateTime<Utc>>,
    },
}
