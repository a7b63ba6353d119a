//! Fulfilments (shipments) of orders and their sync back to the channel.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use switchyard_domain::carrier::Carrier;
use switchyard_domain::channel::ChannelKind;
use switchyard_domain::fulfilment::{
    CarrierSettings, FulfilmentSource, RequestedLine, SyncAction, SyncState, Tracking,
};
use switchyard_domain::ids::{AccountId, ChannelId, FulfilmentId, OrderId, StoreId};

use crate::{ChannelRef, Claim, Result};

/// Fulfilments: recorded through the API or a back office, synced to the
/// order's channel by the engine.
#[async_trait]
pub trait Fulfilments: Send + Sync {
    /// Record a shipment: in one transaction, plan its lines against what is
    /// still open (refusing over-fulfilment and cancelled or excluded
    /// orders), lower the lines' open quantities, release their commitments,
    /// take what shipped off the `api` source, set the order partially
    /// fulfilled or fulfilled, journal it and queue its channel sync. A
    /// repeated `external_ref` returns the existing fulfilment.
    async fn create_fulfilment(
        &self,
        account: &AccountId,
        order: &OrderId,
        new: NewFulfilment,
    ) -> Result<FulfilmentRecord>;

    /// An order's fulfilments, oldest first.
    async fn list_fulfilments(
        &self,
        account: &AccountId,
        order: &OrderId,
    ) -> Result<Vec<FulfilmentRecord>>;

    /// One fulfilment.
    async fn get_fulfilment(
        &self,
        account: &AccountId,
        id: &FulfilmentId,
    ) -> Result<FulfilmentRecord>;

    /// Replace the tracking numbers (and carrier) of an active fulfilment;
    /// the channel is told again.
    async fn update_fulfilment_tracking(
        &self,
        account: &AccountId,
        id: &FulfilmentId,
        tracking: Vec<Tracking>,
        carrier: Option<Carrier>,
    ) -> Result<FulfilmentRecord>;

    /// Cancel a fulfilment: its lines open again (committed again, the `api`
    /// source gets the units back) and the channel is told.
    async fn cancel_fulfilment(
        &self,
        account: &AccountId,
        id: &FulfilmentId,
    ) -> Result<FulfilmentRecord>;

    /// Retry a failed sync now.
    async fn retry_fulfilment(
        &self,
        account: &AccountId,
        id: &FulfilmentId,
    ) -> Result<FulfilmentRecord>;

    /// A store's carrier rules and codes.
    async fn carrier_settings(
        &self,
        account: &AccountId,
        store: &StoreId,
    ) -> Result<CarrierSettings>;

    /// Replace a store's carrier rules and codes.
    async fn set_carrier_settings(
        &self,
        account: &AccountId,
        store: &StoreId,
        settings: CarrierSettings,
    ) -> Result<CarrierSettings>;

    /// Fulfilments whose sync is due at `claim.now` and free to claim,
    /// oldest first.
    async fn due_fulfilments(&self, claim: &Claim, limit: u32) -> Result<Vec<DueFulfilment>>;

    /// Claim a due sync and count the attempt, before the channel is called
    /// (a process dying mid-call leaves the lease to its heartbeat or its
    /// expiry, and the next attempt checks the channel before creating).
    /// `false` when another worker holds it or it is no longer due.
    async fn begin_fulfilment_sync(
        &self,
        id: &FulfilmentId,
        action: SyncAction,
        claim: &Claim,
    ) -> Result<bool>;

    /// Record the outcome of the attempt at `action`. A newer action queued
    /// meanwhile (tracking corrected during a create) stays pending.
    async fn record_fulfilment_sync(
        &self,
        id: &FulfilmentId,
        action: SyncAction,
        result: SyncResult,
    ) -> Result<FulfilmentRecord>;
}

/// A shipment to record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewFulfilment {
    /// Lines and quantities; `None` ships everything still open.
    pub lines: Option<Vec<RequestedLine>>,
    /// Tracking numbers (may be empty: shipped without track and trace).
    pub tracking: Vec<Tracking>,
    /// The carrier, when named; otherwise derived from the first number.
    pub carrier: Option<Carrier>,
    /// Service level.
    pub service: Option<String>,
    /// When it shipped.
    pub shipped_at: DateTime<Utc>,
    /// Who reported it.
    pub source: FulfilmentSource,
    /// The reporter's own reference (a back-office order id): at most one
    /// fulfilment per order and reference, so a repeated report is a no-op.
    pub external_ref: Option<String>,
}

/// One shipped line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct FulfilmentLine {
    /// The order line's position.
    pub line_no: i64,
    /// Store SKU.
    pub sku: String,
    /// The channel's line id.
    pub channel_line_id: Option<String>,
    /// Units shipped.
    pub quantity: i64,
}

/// Whether a fulfilment stands or was called off.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum FulfilmentStatus {
    /// The goods shipped.
    Active,
    /// Cancelled (lines open again).
    Cancelled,
}

/// Where a fulfilment stands on its order's channel.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct FulfilmentSync {
    /// Pending, synced or failed.
    pub state: SyncState,
    /// What is still to be told to the channel (`None` once synced).
    pub action: Option<SyncAction>,
    /// The channel's id of the shipment, once created.
    pub channel_fulfilment_id: Option<String>,
    /// Attempts of the current action.
    pub attempts: i64,
    /// The channel's last error.
    pub last_error: Option<String>,
    /// When the next attempt is due (pending or failed).
    pub next_attempt_at: Option<DateTime<Utc>>,
    /// When the channel last confirmed.
    pub synced_at: Option<DateTime<Utc>>,
}

/// A fulfilment as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct FulfilmentRecord {
    /// Id.
    pub id: FulfilmentId,
    /// The order.
    pub order_id: OrderId,
    /// Store.
    pub store_id: StoreId,
    /// The order's channel.
    pub channel_id: ChannelId,
    /// Who reported it.
    pub source: FulfilmentSource,
    /// Active or cancelled.
    pub status: FulfilmentStatus,
    /// Carrier.
    pub carrier: Carrier,
    /// Whether the carrier was derived from the tracking number.
    pub carrier_detected: bool,
    /// Service level.
    pub service: Option<String>,
    /// Tracking numbers.
    pub tracking: Vec<Tracking>,
    /// When it shipped.
    pub shipped_at: DateTime<Utc>,
    /// Shipped lines.
    pub lines: Vec<FulfilmentLine>,
    /// The reporter's reference.
    pub external_ref: Option<String>,
    /// Sync to the channel.
    pub sync: FulfilmentSync,
    /// Recorded.
    pub created_at: DateTime<Utc>,
    /// Last changed.
    pub updated_at: DateTime<Utc>,
}

/// A fulfilment whose channel sync is due, with what the worker needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DueFulfilment {
    /// The fulfilment.
    pub fulfilment: FulfilmentRecord,
    /// Its order's channel.
    pub channel: ChannelRef,
    /// The channel's kind (for carrier codes).
    pub kind: ChannelKind,
    /// The order on the channel.
    pub channel_order_id: String,
    /// The store's carrier settings.
    pub carriers: CarrierSettings,
}

/// What the channel said to a sync attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SyncResult {
    /// Confirmed, with the channel's shipment id when it has one.
    Synced {
        /// The channel's id of the shipment.
        channel_fulfilment_id: Option<String>,
    },
    /// Failed; retried at `retry_at`.
    Failed {
        /// The channel's message.
        error: String,
        /// When to try again.
        retry_at: DateTime<Utc>,
    },
}
