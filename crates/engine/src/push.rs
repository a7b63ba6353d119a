//! The stock pusher: for every channel with due pushes, send them through
//! the connector's bulk path (drops to zero first), in batches of the
//! channel's maximum, and record what the channel confirmed. Failures are
//! retried with backoff until the channel confirms.

use chrono::Utc;
use switchyard_connectors::channel::{StockOutcome, StockUpdate};
use switchyard_storage::{ChannelRef, DuePush, PushResult};

use crate::{Engine, EngineError, connect, doubling};

/// What one push round did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PushSummary {
    /// Channels pushed to.
    pub channels: usize,
    /// Quantities the channels confirmed.
    pub sent: usize,
    /// Quantities that failed (retried later).
    pub failed: usize,
}

/// Backoff after `attempts` failed tries: 2 s doubling, at most 5 minutes
/// (an hour for items the channel refused outright).
fn backoff(attempts: i64, retryable: bool) -> chrono::Duration {
    let cap = if retryable { 300 } else { 3600 };
    doubling(2, attempts, chrono::Duration::seconds(cap))
}

/// Largest number of pushes read per channel per round.
const ROUND_LIMIT: u32 = 2000;

impl Engine {
    /// Push everything due on every channel, the channels concurrently.
    pub async fn push_due(&self) -> Result<PushSummary, EngineError> {
        let due = self
            .inner
            .storage
            .channels_with_due_pushes(Utc::now())
            .await?;
        let rounds = due.iter().map(|r| self.push_channel(r));
        let mut total = PushSummary::default();
        for s in futures::future::join_all(rounds).await {
            let s = s?;
            total.channels += 1;
            total.sent += s.sent;
            total.failed += s.failed;
        }
        Ok(total)
    }

    /// Push one channel's due quantities.
    #[tracing::instrument(skip_all, fields(channel = %r.channel_id))]
    pub async fn push_channel(&self, r: &ChannelRef) -> Result<PushSummary, EngineError> {
        let inner = &self.inner;
        let due = inner.storage.due_pushes(r, Utc::now(), ROUND_LIMIT).await?;
        let mut summary = PushSummary::default();
        if due.is_empty() {
            return Ok(summary);
        }
        let (_, conn) = connect::open(inner, r).await?;
        let conn = match conn {
            Ok(c) => c,
            Err(e) => {
                let results = due
                    .into_iter()
                    .map(|p| {
                        let retry = Utc::now() + backoff(p.attempts, false);
                        (
                            p,
                            PushResult::Failed {
                                error: e.clone(),
                                retry_at: Some(retry),
                            },
                        )
                    })
                    .collect::<Vec<_>>();
                summary.failed = results.len();
                inner.storage.record_push_results(r, results).await?;
                return Ok(summary);
            }
        };
        let batch = conn.capabilities().max_stock_batch.max(1);
        for chunk in due.chunks(batch) {
            // We are the authority on stock: no compare-and-set, the newest
            // target simply wins.
            let updates: Vec<StockUpdate> = chunk
                .iter()
                .map(|p| StockUpdate {
                    channel_listing_id: p.listing_id.clone(),
                    sku: p.sku.clone(),
                    quantity: p.quantity,
                    expected: None,
                })
                .collect();
            let outcomes = conn.push_stock(&updates).await;
            let results: Vec<(DuePush, PushResult)> = match outcomes {
                Ok(outcomes) => chunk
                    .iter()
                    .cloned()
                    .zip(
                        outcomes
                            .into_iter()
                            .map(Some)
                            .chain(std::iter::repeat(None)),
                    )
                    .map(|(p, o)| {
                        let r = match o {
                            Some(StockOutcome::Accepted) => PushResult::Sent,
                            Some(StockOutcome::Conflict { actual }) => PushResult::Failed {
                                error: format!(
                                    "the channel holds {actual:?}, not what we last pushed"
                                ),
                                retry_at: Some(Utc::now()),
                            },
                            Some(StockOutcome::Failed { reason, retryable }) => {
                                PushResult::Failed {
                                    retry_at: Some(Utc::now() + backoff(p.attempts, retryable)),
                                    error: reason,
                                }
                            }
                            None => PushResult::Failed {
                                error: "the channel returned no outcome for this item".into(),
                                retry_at: Some(Utc::now() + backoff(p.attempts, true)),
                            },
                        };
                        (p, r)
                    })
                    .collect(),
                Err(e) => {
                    tracing::warn!(error = %e, items = chunk.len(), "stock push failed; retrying with backoff");
                    chunk
                        .iter()
                        .cloned()
                        .map(|p| {
                            let retry = Utc::now() + backoff(p.attempts, e.is_retryable());
                            (
                                p,
                                PushResult::Failed {
                                    error: e.to_string(),
                                    retry_at: Some(retry),
                                },
                            )
                        })
                        .collect()
                }
            };
            for (_, res) in &results {
                match res {
                    PushResult::Sent => summary.sent += 1,
                    PushResult::Failed { .. } => summary.failed += 1,
                }
            }
            inner.storage.record_push_results(r, results).await?;
        }
        tracing::debug!(sent = summary.sent, failed = summary.failed, "stock pushed");
        Ok(summary)
    }
}
