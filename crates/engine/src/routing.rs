//! Sending orders to plugins (3PL). The plugin rules route an order when
//! it is imported, in the import's transaction, which queues an
//! `order.routed` message; cancelling a routed order queues
//! `order.cancelled`. [`Engine::deliver_plugin_messages`] claims due
//! messages under a lease and POSTs each, signed per Standard Webhooks with
//! the plugin's secret, with the order as it stands in the unified format.
//! A 2xx answer delivers it; anything else (or no answer) is retried with
//! doubling backoff up to [`MAX_BACKOFF`], without end: an order routed to
//! a plugin that is down waits for it and is never lost. A process that
//! dies mid-request leaves the lease to expire and the same message (same
//! `webhook-id`) is sent again, so plugins must treat the id as an
//! idempotency key.

use futures::StreamExt;
use serde_json::json;
use switchyard_domain::webhook::jittered;
use switchyard_storage::{DuePluginMessage, PluginAttempt};

use crate::{Engine, EngineError, doubling};

/// Messages claimed per round.
const BATCH: u32 = 32;
/// Messages sent at once by one worker.
const PARALLELISM: usize = 8;
/// First retry delay, in seconds; it doubles per failed attempt.
const FIRST_RETRY_SECS: i64 = 5;
/// Longest wait between two attempts.
pub const MAX_BACKOFF: chrono::Duration = chrono::Duration::minutes(30);

/// What one round of plugin sends did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RoutingSummary {
    /// Messages attempted.
    pub attempted: usize,
    /// Of which the plugin took (2xx).
    pub delivered: usize,
}

impl Engine {
    /// Send due plugin messages.
    pub async fn deliver_plugin_messages(&self) -> Result<RoutingSummary, EngineError> {
        let due = self
            .inner
            .storage
            .claim_plugin_messages(&self.lease(self.now()), BATCH)
            .await?;
        if due.is_empty() {
            return Ok(RoutingSummary::default());
        }
        let client = self.outbound_client().await?;
        let results: Vec<Result<bool, EngineError>> = futures::stream::iter(due)
            .map(|m| {
                let client = client.clone();
                async move { self.send_plugin_message(&client, m).await }
            })
            .buffer_unordered(PARALLELISM)
            .collect()
            .await;
        let mut out = RoutingSummary::default();
        for r in results {
            out.attempted += 1;
            out.delivered += usize::from(r?);
        }
        Ok(out)
    }

    /// One attempt; `true` when the plugin took the message.
    async fn send_plugin_message(
        &self,
        client: &reqwest::Client,
        m: DuePluginMessage,
    ) -> Result<bool, EngineError> {
        let started_at = self.now();
        let mut order = self.order_json(&m.account_id, &m.order_id).await?;
        // The unified order is the contract; the channel's own payload is not.
        if let Some(o) = order.as_object_mut() {
            o.remove("raw");
        }
        let body = json!({
            "type": m.kind.as_str(),
            "timestamp": started_at,
            "plugin_id": m.plugin_id,
            "data": order,
        })
        .to_string();
        let secret = self
            .inner
            .cipher
            .open_text_for(&m.account_id, m.plugin_id.as_str(), &m.secret)
            .map_err(|_| {
                "the plugin secret cannot be unsealed (was the key file replaced?)".to_owned()
            });
        let result = match secret {
            Ok(secret) => {
                self.post_signed(client, &m.url, &[secret], m.id.as_str(), &body)
                    .await
            }
            Err(e) => Err(e),
        };
        let (status, response, error) = match result {
            Ok((status, excerpt)) => (Some(status), Some(excerpt), None),
            Err(e) => (None, None, Some(e)),
        };
        let ok = status.is_some_and(|s| (200..300).contains(&s));
        let retry_at = (!ok).then(|| {
            let wait = doubling(FIRST_RETRY_SECS, m.attempts - 1, MAX_BACKOFF).num_seconds();
            started_at + chrono::Duration::seconds(jittered(wait, fastrand::f64()))
        });
        let error = match (error, status) {
            (Some(e), _) => Some(e),
            (None, Some(s)) if !ok => Some(format!("the plugin answered {s}")),
            _ => None,
        };
        tracing::info!(message = %m.id, plugin = %m.plugin_id, order = %m.order_id, kind = m.kind.as_str(),
            status, error = error.as_deref(), ok, attempt = m.attempts, "plugin send");
        let attempt = PluginAttempt {
            status,
            response,
            error,
            retry_at,
        };
        self.inner
            .storage
            .record_plugin_attempt(&m, attempt, started_at)
            .await?;
        Ok(ok)
    }
}
