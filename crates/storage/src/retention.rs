//! Retention: what may go once it is old and nothing needs it any more.
//! The engine's pruning worker calls [`Retention::prune`] in small batches,
//! each its own short transaction, so the writer is never held for long.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::Result;

/// Kinds of rows that are pruned.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Prunable {
    /// Stock pushes that are superseded, or confirmed and no longer the
    /// newest push of their listing (the newest stays: listings show it).
    /// Pending and failing pushes are never pruned.
    Pushes,
    /// Webhook messages with their deliveries and attempts, once no
    /// delivery of theirs is still pending.
    WebhookMessages,
    /// Journal events the webhook dispatch has passed.
    Journal,
    /// Idempotency keys past their replay window.
    IdempotencyKeys,
}

impl Prunable {
    /// Every kind.
    pub const ALL: [Self; 4] = [
        Self::Pushes,
        Self::WebhookMessages,
        Self::Journal,
        Self::IdempotencyKeys,
    ];

    /// The table holding it.
    pub(crate) fn table(self) -> &'static str {
        match self {
            Self::Pushes => "stock_pushes",
            Self::WebhookMessages => "webhook_messages",
            Self::Journal => "journal",
            Self::IdempotencyKeys => "idempotency_keys",
        }
    }

    /// Its name in logs and leases.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pushes => "pushes",
            Self::WebhookMessages => "webhook_messages",
            Self::Journal => "journal",
            Self::IdempotencyKeys => "idempotency_keys",
        }
    }
}

/// Pruning.
#[async_trait]
pub trait Retention: Send + Sync {
    /// Delete at most `limit` rows of `what` created before `before` that
    /// nothing still needs (see [`Prunable`]), in one short transaction.
    /// Returns how many went.
    async fn prune(&self, what: Prunable, before: DateTime<Utc>, limit: u32) -> Result<u64>;
    /// Rows of `what` kept now (all of them, prunable or not): for tests and
    /// operators watching growth.
    async fn count_rows(&self, what: Prunable) -> Result<u64>;
}
