//! Plugins (3PL fulfilment centres): the plugins of a store, the outbox of
//! orders routed to them, and what they report back.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::Serialize;
use switchyard_domain::ids::{AccountId, MessageId, OrderId, PluginId, StoreId};

use crate::{Claim, Page, PageRequest, Result};

/// Plugins and the orders routed to them.
#[async_trait]
pub trait Plugins: Send + Sync {
    /// Create a plugin, journalled.
    async fn create_plugin(
        &self,
        account: &AccountId,
        store: &StoreId,
        new: NewPlugin,
    ) -> Result<Plugin>;
    /// A store's plugins, by id.
    async fn list_plugins(
        &self,
        account: &AccountId,
        store: &StoreId,
        page: &PageRequest,
    ) -> Result<Page<Plugin>>;
    /// One plugin.
    async fn get_plugin(&self, account: &AccountId, id: &PluginId) -> Result<Plugin>;
    /// Change a plugin, journalled.
    async fn update_plugin(
        &self,
        account: &AccountId,
        id: &PluginId,
        patch: PluginPatch,
    ) -> Result<Plugin>;
    /// Delete a plugin with its tokens. Refused (`plugin_in_use`) while a
    /// plugin rule names it or an order routed to it is still open.
    async fn delete_plugin(&self, account: &AccountId, id: &PluginId) -> Result<()>;
    /// The sealed signing secret of a plugin.
    async fn plugin_secret(&self, account: &AccountId, id: &PluginId) -> Result<Vec<u8>>;

    /// Orders routed to a plugin, newest first, optionally only those with
    /// a message in `message_state` (`pending`, `delivered`).
    async fn list_plugin_orders(
        &self,
        account: &AccountId,
        id: &PluginId,
        message_state: Option<&str>,
        page: &PageRequest,
    ) -> Result<Page<PluginOrder>>;
    /// One order routed to a plugin (not found for any other order).
    async fn plugin_order(
        &self,
        account: &AccountId,
        id: &PluginId,
        order: &OrderId,
    ) -> Result<PluginOrder>;
    /// Send an order's pending messages to the plugin now.
    async fn resend_plugin_order(
        &self,
        account: &AccountId,
        id: &PluginId,
        order: &OrderId,
        now: DateTime<Utc>,
    ) -> Result<PluginOrder>;

    /// Claim due messages of enabled plugins: an `order.routed`
    /// only while its order is open (one on hold waits), an
    /// `order.cancelled` only after the order's `order.routed` was delivered.
    async fn claim_plugin_messages(
        &self,
        claim: &Claim,
        limit: u32,
    ) -> Result<Vec<DuePluginMessage>>;
    /// Record how a send ended.
    async fn record_plugin_attempt(
        &self,
        message: &DuePluginMessage,
        attempt: PluginAttempt,
        now: DateTime<Utc>,
    ) -> Result<()>;
}

/// A store's plugin (never its secret).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Plugin {
    /// Id.
    pub id: PluginId,
    /// Store.
    pub store_id: StoreId,
    /// Name people see, e.g. `Warehouse Venlo`.
    pub name: String,
    /// Where routed orders are POSTed.
    pub url: String,
    /// Whether orders are sent to it (they wait while it is disabled).
    pub enabled: bool,
    /// Start of the current run of failed sends, if it is failing.
    pub failing_since: Option<DateTime<Utc>>,
    /// Messages not yet delivered.
    pub pending_messages: i64,
    /// Created.
    pub created_at: DateTime<Utc>,
    /// Last change.
    pub updated_at: DateTime<Utc>,
}

/// A plugin to create.
#[derive(Debug, Clone)]
pub struct NewPlugin {
    /// Its id (chosen first: the secret is sealed for it).
    pub id: PluginId,
    /// Name.
    pub name: String,
    /// Destination (validated by the caller).
    pub url: String,
    /// Enabled.
    pub enabled: bool,
    /// The signing secret, sealed.
    pub secret: Vec<u8>,
}

/// A change to a plugin; `None` leaves a field alone.
#[derive(Debug, Clone, Default)]
pub struct PluginPatch {
    /// New name.
    pub name: Option<String>,
    /// New destination.
    pub url: Option<String>,
    /// Enable (waiting messages are sent at once) or disable.
    pub enabled: Option<bool>,
}

/// What a plugin message asks of the plugin.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub enum PluginMessageKind {
    /// Fulfil this order.
    #[serde(rename = "order.routed")]
    Routed,
    /// Do not ship this order (it was cancelled).
    #[serde(rename = "order.cancelled")]
    Cancelled,
}

impl PluginMessageKind {
    /// Stored and wire name (the body's `type`).
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Routed => "order.routed",
            Self::Cancelled => "order.cancelled",
        }
    }

    /// Parse a stored name.
    #[must_use]
    pub fn parse(s: &str) -> Option<Self> {
        [Self::Routed, Self::Cancelled]
            .into_iter()
            .find(|k| k.as_str() == s)
    }
}

/// An order routed to a plugin, with where its messages stand.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct PluginOrder {
    /// The order.
    pub order_id: OrderId,
    /// Its number.
    pub number: String,
    /// Its state here (`open`, `on_hold`, `fulfilled` ...).
    pub state: String,
    /// The rule that routed it.
    pub routed_by: Option<String>,
    /// Messages sent (or to send) to the plugin about it.
    pub messages: Vec<PluginMessage>,
}

/// One message to a plugin.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct PluginMessage {
    /// Id (the `webhook-id` header).
    pub id: MessageId,
    /// What it asks.
    #[serde(rename = "type")]
    pub kind: PluginMessageKind,
    /// `pending`, `delivered` or `skipped`.
    pub state: String,
    /// Attempts made.
    pub attempts: i64,
    /// Next attempt, while pending.
    pub next_attempt_at: Option<DateTime<Utc>>,
    /// Status of the last answer.
    pub last_status: Option<u16>,
    /// Error of the last attempt.
    pub last_error: Option<String>,
    /// Start of the plugin's answer (at most 4 KiB).
    pub response: Option<String>,
    /// When the plugin took it.
    pub delivered_at: Option<DateTime<Utc>>,
}

/// A plugin message claimed by a worker.
#[derive(Debug, Clone)]
pub struct DuePluginMessage {
    /// Message id.
    pub id: MessageId,
    /// What it asks.
    pub kind: PluginMessageKind,
    /// Owner.
    pub account_id: AccountId,
    /// Plugin.
    pub plugin_id: PluginId,
    /// Destination.
    pub url: String,
    /// The sealed signing secret.
    pub secret: Vec<u8>,
    /// The order it is about.
    pub order_id: OrderId,
    /// Attempts so far, this one included.
    pub attempts: i64,
    /// The plugin's current run of failures.
    pub failing_since: Option<DateTime<Utc>>,
}

/// How an attempt to send a plugin message ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PluginAttempt {
    /// HTTP status, when an answer came.
    pub status: Option<u16>,
    /// Start of the answer's body.
    pub response: Option<String>,
    /// Why it failed without an answer, or what the answer meant.
    pub error: Option<String>,
    /// `None`: delivered. Otherwise the next attempt.
    pub retry_at: Option<DateTime<Utc>>,
}
