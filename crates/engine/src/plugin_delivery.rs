//! Sending orders to plugins (3PL). The plugin rules route an order when
//! it is imported, in the import's transaction, which queues an
//! `order.routed` message; cancelling a routed order queues
//! `order.cancelled`. [`PluginDelivery`] claims due
//! messages under a lease and POSTs each, signed per Standard Webhooks with
//! the plugin's secret, with the order as it stands in the unified format.
//! A 2xx answer delivers it; anything else (or no answer) is retried on
//! the `plugins` retry policy, without end: an order routed to
//! a plugin that is down waits for it and is never lost. A process that
//! dies mid-request leaves the lease to expire and the same message (same
//! `webhook-id`) is sent again, so plugins must treat the id as an
//! idempotency key.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde_json::json;
use switchyard_domain::retry::failures;
use switchyard_storage::{DuePluginMessage, PluginAttempt};

use crate::EngineError;
use crate::context::{Context, Topic};
use crate::driver::{Report, Worker};
use crate::webhooks::{order_json, post_signed};

/// What plugin sends did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PluginSummary {
    /// Messages attempted.
    pub attempted: usize,
    /// Of which the plugin took (2xx).
    pub delivered: usize,
}

impl Report for PluginSummary {
    fn merge(&mut self, o: Self) {
        self.attempted += o.attempted;
        self.delivered += o.delivered;
    }

    fn busy(&self) -> bool {
        self.attempted > 0
    }
}

/// Messages claimed per look, at most.
const BATCH: usize = 32;

/// The plugin delivery: each due message is claimed under a lease and sent
/// on its own, up to the `plugins` concurrency at once.
#[derive(Debug)]
pub struct PluginDelivery {
    ctx: Arc<Context>,
}

impl Worker for PluginDelivery {
    type Unit = DuePluginMessage;
    type Report = PluginSummary;
    const NAME: &'static str = "plugin_delivery";

    fn context(&self) -> &Context {
        &self.ctx
    }

    fn key(m: &DuePluginMessage) -> String {
        m.id.to_string()
    }

    async fn due(
        &self,
        now: DateTime<Utc>,
        room: usize,
    ) -> Result<Vec<DuePluginMessage>, EngineError> {
        let limit = u32::try_from(room.min(BATCH)).unwrap_or(32);
        Ok(self
            .ctx
            .storage
            .claim_plugin_messages(&self.ctx.lease(now), limit)
            .await?)
    }

    async fn run(
        &self,
        m: DuePluginMessage,
        _now: DateTime<Utc>,
    ) -> Result<PluginSummary, EngineError> {
        let client = self.ctx.outbound_client().await?;
        let ok = self.send_plugin_message(&client, m).await?;
        Ok(PluginSummary {
            attempted: 1,
            delivered: usize::from(ok),
        })
    }

    fn concurrency(&self) -> usize {
        self.ctx.config.concurrency.plugins
    }

    fn signal(&self) -> &tokio::sync::Notify {
        self.ctx.signals.of(Topic::Plugins)
    }
}

impl PluginDelivery {
    pub(crate) fn new(ctx: Arc<Context>) -> Self {
        Self { ctx }
    }

    /// Send every plugin message due at `now`.
    pub async fn step(&self, now: DateTime<Utc>) -> Result<PluginSummary, EngineError> {
        crate::driver::step(self, now).await
    }

    /// One attempt; `true` when the plugin took the message.
    async fn send_plugin_message(
        &self,
        client: &reqwest::Client,
        m: DuePluginMessage,
    ) -> Result<bool, EngineError> {
        let started_at = self.ctx.now();
        let mut order = order_json(self.ctx.storage.as_ref(), &m.account_id, &m.order_id).await?;
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
            .ctx
            .cipher
            .open_text_for(&m.account_id, m.plugin_id.as_str(), &m.secret)
            .map_err(|_| {
                "the plugin secret cannot be unsealed (was the key file replaced?)".to_owned()
            });
        let clock = std::time::Instant::now();
        let result = match secret {
            Ok(secret) => {
                post_signed(&self.ctx, client, &m.url, &[secret], m.id.as_str(), &body).await
            }
            Err(e) => Err(e),
        };
        let (status, response, error) = match result {
            Ok((status, excerpt)) => (Some(status), Some(excerpt), None),
            Err(e) => (None, None, Some(e)),
        };
        let ok = status.is_some_and(|s| (200..300).contains(&s));
        crate::measure::delivery("plugin", ok, clock.elapsed());
        let policy = &self.ctx.config.retry.plugins;
        let retry_at = (!ok).then(|| {
            // The policy never gives up on plugins by default; one that
            // does keeps the longest wait.
            let wait = policy
                .wait(failures(m.attempts), Context::unit())
                .unwrap_or(chrono::Duration::milliseconds(
                    i64::try_from(policy.cap_ms).unwrap_or(i64::MAX),
                ));
            started_at + wait
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
        self.ctx
            .storage
            .record_plugin_attempt(&m, attempt, started_at)
            .await?;
        Ok(ok)
    }
}
