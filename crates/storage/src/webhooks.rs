//! Outgoing webhooks: subscriptions, messages derived from the journal,
//! deliveries and their attempts.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::Serialize;
use switchyard_domain::ids::{AccountId, MessageId, StoreId, WebhookId};
use switchyard_domain::webhook::EventType;

use crate::{Claim, Page, PageRequest, Result};

/// Outgoing webhooks.
#[async_trait]
pub trait Webhooks: Send + Sync {
    /// Create a subscription, journalled.
    async fn create_webhook(
        &self,
        account: &AccountId,
        store: &StoreId,
        new: NewWebhookEndpoint,
    ) -> Result<WebhookEndpoint>;
    /// A store's subscriptions, by id.
    async fn list_webhooks(
        &self,
        account: &AccountId,
        store: &StoreId,
        page: &PageRequest,
    ) -> Result<Page<WebhookEndpoint>>;
    /// One subscription.
    async fn get_webhook(&self, account: &AccountId, id: &WebhookId) -> Result<WebhookEndpoint>;
    /// Change a subscription, journalled.
    async fn update_webhook(
        &self,
        account: &AccountId,
        id: &WebhookId,
        patch: WebhookPatch,
    ) -> Result<WebhookEndpoint>;
    /// Delete a subscription and its deliveries, journalled.
    async fn delete_webhook(&self, account: &AccountId, id: &WebhookId) -> Result<()>;
    /// The sealed secrets of a subscription.
    async fn webhook_secrets(&self, account: &AccountId, id: &WebhookId) -> Result<SealedSecrets>;
    /// Replace the secret; the old one stays in use until `previous_until`.
    async fn rotate_webhook_secret(
        &self,
        account: &AccountId,
        id: &WebhookId,
        secret: Vec<u8>,
        previous_until: DateTime<Utc>,
    ) -> Result<WebhookEndpoint>;

    /// Journal events not yet turned into messages (with the cursor they
    /// were read after), oldest first.
    async fn undispatched_events(&self, limit: u32) -> Result<(i64, Vec<OwnedEvent>)>;
    /// The subscriptions of `stores`, enabled or not (a message is kept
    /// for a disabled one, so a replay can send it later).
    async fn webhooks_of_stores(&self, stores: &[StoreId]) -> Result<Vec<WebhookEndpoint>>;
    /// Record messages and their deliveries and move the cursor from
    /// `from` to `to`, in one transaction. `false` (and nothing written)
    /// when another worker moved the cursor first.
    async fn dispatch_messages(
        &self,
        from: i64,
        to: i64,
        messages: Vec<NewWebhookMessage>,
    ) -> Result<bool>;
    /// Record a message outside the journal (a test event) for its endpoints.
    async fn enqueue_message(&self, message: NewWebhookMessage) -> Result<()>;
    /// Claim due deliveries of enabled endpoints, at most `per_endpoint`
    /// in flight per endpoint (counting those other live workers hold).
    async fn claim_deliveries(
        &self,
        claim: &Claim,
        per_endpoint: u32,
        limit: u32,
    ) -> Result<Vec<DueDelivery>>;
    /// Log attempts and apply their outcomes, in one transaction (a
    /// worker records the deliveries it sent together).
    async fn record_deliveries(
        &self,
        results: Vec<(DueDelivery, AttemptResult, DeliveryOutcome)>,
    ) -> Result<()>;
    /// Messages of an endpoint, newest first, optionally in one state.
    async fn list_webhook_messages(
        &self,
        account: &AccountId,
        id: &WebhookId,
        state: Option<&str>,
        page: &PageRequest,
    ) -> Result<Page<MessageDelivery>>;
    /// An endpoint's delivery log, newest first, optionally of one message.
    async fn list_webhook_attempts(
        &self,
        account: &AccountId,
        id: &WebhookId,
        message: Option<&MessageId>,
        page: &PageRequest,
    ) -> Result<Page<AttemptRecord>>;
    /// Send one message to the endpoint again, now, from the start of the
    /// schedule (also one it never had, if it is of the endpoint's store).
    async fn replay_message(
        &self,
        account: &AccountId,
        id: &WebhookId,
        message: &MessageId,
        now: DateTime<Utc>,
    ) -> Result<MessageDelivery>;
    /// Send again every message of the endpoint's store since `since` that
    /// it wants (only those not delivered, when `only_failed`). Returns how many.
    async fn replay_since(
        &self,
        account: &AccountId,
        id: &WebhookId,
        since: DateTime<Utc>,
        only_failed: bool,
        now: DateTime<Utc>,
    ) -> Result<u64>;
}

/// A store's webhook subscription (never its secret).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct WebhookEndpoint {
    /// Id.
    pub id: WebhookId,
    /// Store.
    pub store_id: StoreId,
    /// Where messages are POSTed.
    pub url: String,
    /// What it is for.
    pub description: Option<String>,
    /// Event types it wants; empty means all.
    pub events: Vec<EventType>,
    /// Whether messages are sent to it.
    pub enabled: bool,
    /// Why it was disabled by Switchyard (410 Gone, failing for 5 days).
    pub disabled_reason: Option<String>,
    /// Start of the current run of failures, if it is failing.
    pub failing_since: Option<DateTime<Utc>>,
    /// Until when the secret before the last rotation is still used.
    pub previous_secret_expires_at: Option<DateTime<Utc>>,
    /// Created.
    pub created_at: DateTime<Utc>,
    /// Last change.
    pub updated_at: DateTime<Utc>,
}

impl WebhookEndpoint {
    /// Whether this endpoint wants events of type `t`.
    #[must_use]
    pub fn wants(&self, t: EventType) -> bool {
        self.events.is_empty() || self.events.contains(&t)
    }
}

/// A subscription to create.
#[derive(Debug, Clone)]
pub struct NewWebhookEndpoint {
    /// Its id (chosen first: the secret is sealed for it).
    pub id: WebhookId,
    /// Destination (validated by the caller).
    pub url: String,
    /// Description.
    pub description: Option<String>,
    /// Event types; empty means all.
    pub events: Vec<EventType>,
    /// Enabled.
    pub enabled: bool,
    /// The signing secret, sealed.
    pub secret: Vec<u8>,
}

/// A change to a subscription; `None` leaves a field alone.
#[derive(Debug, Clone, Default)]
pub struct WebhookPatch {
    /// New destination.
    pub url: Option<String>,
    /// New description (`Some(None)` clears it).
    pub description: Option<Option<String>>,
    /// New event filter.
    pub events: Option<Vec<EventType>>,
    /// Enable (clears the reason it was disabled and its failure run) or disable.
    pub enabled: Option<bool>,
}

/// The sealed secrets an endpoint's messages are signed with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SealedSecrets {
    /// The current secret.
    pub current: Vec<u8>,
    /// The one before the last rotation, while it is still valid.
    pub previous: Option<Vec<u8>>,
}

/// A message to record, with the endpoints it goes to.
#[derive(Debug, Clone)]
pub struct NewWebhookMessage {
    /// Its id (the `webhook-id` header).
    pub id: MessageId,
    /// Owner.
    pub account_id: AccountId,
    /// Store.
    pub store_id: StoreId,
    /// Event type, e.g. `order.created`.
    pub event_type: String,
    /// The journal event it comes from (none for a test event).
    pub journal_seq: Option<i64>,
    /// The entity within that event (one event can name several listings).
    pub entity_key: Option<String>,
    /// The exact body to send.
    pub body: String,
    /// When the event happened.
    pub created_at: DateTime<Utc>,
    /// Endpoints to deliver it to.
    pub endpoints: Vec<WebhookId>,
}

/// One journal event, with its owner, for fan-out.
#[derive(Debug, Clone, PartialEq)]
pub struct OwnedEvent {
    /// Journal sequence number.
    pub seq: i64,
    /// Owner.
    pub account_id: AccountId,
    /// Store.
    pub store_id: StoreId,
    /// Entity kind (`order`, `listing`, ...).
    pub entity_type: String,
    /// Entity id (a listing's is `{channel_id}:{listing_id}`).
    pub entity_id: String,
    /// Event type.
    pub event_type: String,
    /// The event's payload.
    pub payload: serde_json::Value,
    /// When.
    pub created_at: DateTime<Utc>,
}

/// A delivery claimed by a worker, with what it needs to send it.
#[derive(Debug, Clone)]
pub struct DueDelivery {
    /// Message.
    pub message_id: MessageId,
    /// Endpoint.
    pub endpoint_id: WebhookId,
    /// Its store.
    pub store_id: StoreId,
    /// Owner.
    pub account_id: AccountId,
    /// Destination.
    pub url: String,
    /// Body.
    pub body: String,
    /// Attempts made so far (all time).
    pub attempts: u32,
    /// Position in the retry schedule (attempts since the last replay).
    pub schedule_step: u32,
    /// The endpoint's current run of failures.
    pub failing_since: Option<DateTime<Utc>>,
    /// Signing secrets.
    pub secrets: SealedSecrets,
}

/// What one attempt got.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttemptResult {
    /// When it started.
    pub started_at: DateTime<Utc>,
    /// HTTP status, when an answer came.
    pub status: Option<u16>,
    /// How long it took.
    pub latency_ms: i64,
    /// The start of the answer's body (at most 4 KiB).
    pub response: Option<String>,
    /// Why it failed without an answer (timeout, refused address, ...).
    pub error: Option<String>,
}

/// What follows from an attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeliveryOutcome {
    /// 2xx: delivered; the endpoint's failure run ends.
    Succeeded,
    /// Failed; try again at `retry_at`, or give up when `None`.
    Failed {
        /// Next attempt.
        retry_at: Option<DateTime<Utc>>,
    },
    /// Failed, and the endpoint is disabled for `reason` (410 Gone, or
    /// failing for 5 days): a journal event records it.
    Disable {
        /// Why.
        reason: String,
    },
}

/// A message as an endpoint saw it.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct MessageDelivery {
    /// Message id.
    pub message_id: MessageId,
    /// Event type.
    pub event_type: String,
    /// When the event happened.
    pub created_at: DateTime<Utc>,
    /// `pending`, `succeeded` or `failed`.
    pub state: String,
    /// Attempts made.
    pub attempts: u32,
    /// Next attempt, while pending.
    pub next_attempt_at: Option<DateTime<Utc>>,
    /// Status of the last answer.
    pub last_status: Option<u16>,
    /// Error of the last attempt.
    pub last_error: Option<String>,
    /// The body sent.
    pub payload: serde_json::Value,
}

/// One line of an endpoint's delivery log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct AttemptRecord {
    /// Log id (ascending).
    pub id: i64,
    /// Message.
    pub message_id: MessageId,
    /// Attempt number of that message at this endpoint.
    pub attempt: u32,
    /// When it started.
    pub started_at: DateTime<Utc>,
    /// HTTP status, when an answer came.
    pub status: Option<u16>,
    /// Duration.
    pub latency_ms: i64,
    /// Start of the answer's body.
    pub response: Option<String>,
    /// Error without an answer.
    pub error: Option<String>,
    /// `succeeded`, `retrying`, `failed` or `disabled`.
    pub outcome: String,
}
