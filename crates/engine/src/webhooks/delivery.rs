//! Webhook delivery: due deliveries are claimed under a lease as soon as
//! they are dispatched and sent at once, at most `webhook_concurrency` per
//! endpoint and the `webhooks` concurrency in all; the outcomes of a batch
//! are recorded in one transaction.

use std::sync::Arc;
use std::time::Instant;

use chrono::{DateTime, Utc};
use futures::StreamExt;
use switchyard_domain::webhook::DISABLE_AFTER_FAILING_SECS;
use switchyard_storage::{AttemptResult, DeliveryOutcome, DueDelivery};

use super::post_signed;
use crate::EngineError;
use crate::context::{Context, Topic};
use crate::driver::{Report, Worker};

/// Deliveries sent and recorded together, at most.
const BATCH: usize = 16;

/// What delivering did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DeliverySummary {
    /// Deliveries attempted.
    pub attempted: usize,
    /// Of which answered 2xx.
    pub succeeded: usize,
}

impl Report for DeliverySummary {
    fn merge(&mut self, o: Self) {
        self.attempted += o.attempted;
        self.succeeded += o.succeeded;
    }

    fn busy(&self) -> bool {
        self.attempted > 0
    }
}

/// The webhook delivery worker.
#[derive(Debug)]
pub struct WebhookDelivery {
    ctx: Arc<Context>,
}

impl Worker for WebhookDelivery {
    /// A batch of claimed deliveries, sent at once and recorded together.
    type Unit = Vec<DueDelivery>;
    type Report = DeliverySummary;
    const NAME: &'static str = "webhook_delivery";

    fn context(&self) -> &Context {
        &self.ctx
    }

    fn key(batch: &Vec<DueDelivery>) -> String {
        batch
            .first()
            .map(|d| format!("{}/{}", d.message_id, d.endpoint_id))
            .unwrap_or_default()
    }

    async fn due(
        &self,
        now: DateTime<Utc>,
        room: usize,
    ) -> Result<Vec<Vec<DueDelivery>>, EngineError> {
        let cfg = &self.ctx.config;
        let limit = u32::try_from(
            room.saturating_mul(BATCH)
                .min(cfg.concurrency.webhooks.max(1)),
        )
        .unwrap_or(u32::MAX);
        let due = self
            .ctx
            .storage
            .claim_deliveries(&self.ctx.lease(now), cfg.webhook_concurrency, limit)
            .await?;
        Ok(batches(due, room))
    }

    async fn run(
        &self,
        batch: Vec<DueDelivery>,
        _now: DateTime<Utc>,
    ) -> Result<DeliverySummary, EngineError> {
        self.deliver(batch).await
    }

    /// Batches in flight: the global cap spread over batches.
    fn concurrency(&self) -> usize {
        self.ctx.config.concurrency.webhooks.div_ceil(BATCH).max(1)
    }

    fn signal(&self) -> &tokio::sync::Notify {
        self.ctx.signals.of(Topic::Delivery)
    }
}

/// `due` in at most `room` batches, spread evenly so that a few due
/// deliveries go out side by side rather than in one batch.
fn batches(due: Vec<DueDelivery>, room: usize) -> Vec<Vec<DueDelivery>> {
    if due.is_empty() {
        return Vec::new();
    }
    let n = room.clamp(1, due.len());
    let size = due.len().div_ceil(n).clamp(1, BATCH);
    let mut out = Vec::with_capacity(n);
    let mut it = due.into_iter().peekable();
    while it.peek().is_some() {
        out.push(it.by_ref().take(size).collect());
    }
    out
}

impl WebhookDelivery {
    pub(crate) fn new(ctx: Arc<Context>) -> Self {
        Self { ctx }
    }

    /// Send every delivery due at `now`.
    pub async fn step(&self, now: DateTime<Utc>) -> Result<DeliverySummary, EngineError> {
        crate::driver::step(self, now).await
    }

    /// Send a batch at once and record the outcomes together.
    async fn deliver(&self, batch: Vec<DueDelivery>) -> Result<DeliverySummary, EngineError> {
        let client = self.ctx.outbound_client().await?;
        let n = batch.len();
        let results: Vec<(DueDelivery, AttemptResult, DeliveryOutcome)> =
            futures::stream::iter(batch)
                .map(|d| {
                    let client = client.clone();
                    async move { self.deliver_one(&client, d).await }
                })
                .buffer_unordered(n.max(1))
                .collect()
                .await;
        let summary = DeliverySummary {
            attempted: results.len(),
            succeeded: results
                .iter()
                .filter(|(_, _, o)| *o == DeliveryOutcome::Succeeded)
                .count(),
        };
        self.ctx.storage.record_deliveries(results).await?;
        Ok(summary)
    }

    /// One attempt of one delivery, and how it ended.
    async fn deliver_one(
        &self,
        client: &reqwest::Client,
        d: DueDelivery,
    ) -> (DueDelivery, AttemptResult, DeliveryOutcome) {
        let started_at = self.ctx.now();
        let clock = Instant::now();
        let (status, response, error) = match self.post_message(client, &d).await {
            Ok((status, excerpt)) => (Some(status), Some(excerpt), None),
            Err(e) => (None, None, Some(e)),
        };
        let latency_ms = i64::try_from(clock.elapsed().as_millis()).unwrap_or(i64::MAX);
        let outcome = match status {
            Some(s) if (200..300).contains(&s) => DeliveryOutcome::Succeeded,
            Some(410) => DeliveryOutcome::Disable {
                reason: "the endpoint answered 410 Gone".to_owned(),
            },
            _ => {
                let since = d.failing_since.unwrap_or(started_at);
                if (started_at - since).num_seconds() >= DISABLE_AFTER_FAILING_SECS {
                    DeliveryOutcome::Disable {
                        reason: format!("every attempt failed since {}", since.to_rfc3339()),
                    }
                } else {
                    let policy = &self.ctx.config.retry.webhooks;
                    DeliveryOutcome::Failed {
                        retry_at: policy
                            .wait(d.schedule_step + 1, Context::unit())
                            .map(|wait| started_at + wait),
                    }
                }
            }
        };
        let ok = outcome == DeliveryOutcome::Succeeded;
        crate::measure::delivery("webhook", ok, clock.elapsed());
        tracing::info!(message = %d.message_id, webhook = %d.endpoint_id, status, latency_ms, error = error.as_deref(), ok, "webhook attempt");
        let attempt = AttemptResult {
            started_at,
            status,
            latency_ms,
            response,
            error,
        };
        (d, attempt, outcome)
    }

    /// POST one message: the status and the start of the answer, or why
    /// there was no answer.
    async fn post_message(
        &self,
        client: &reqwest::Client,
        d: &DueDelivery,
    ) -> Result<(u16, String), String> {
        let cipher = &self.ctx.cipher;
        let open = |sealed: &[u8]| {
            cipher
                .open_text_for(&d.account_id, d.endpoint_id.as_str(), sealed)
                .map_err(|_| "the webhook secret cannot be unsealed (was the key file replaced?)")
        };
        let mut secrets = vec![open(&d.secrets.current)?];
        if let Some(p) = &d.secrets.previous {
            secrets.push(open(p)?);
        }
        post_signed(
            &self.ctx,
            client,
            &d.url,
            &secrets,
            d.message_id.as_str(),
            &d.body,
        )
        .await
    }
}
