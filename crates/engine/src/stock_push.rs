//! The stock pusher: each look for due work first recomputes the targets of
//! the SKUs that import pages marked stale (once for all the pages since
//! the last look), then, for every channel with due pushes, sends them through
//! the connector's bulk path (drops to zero first), in batches of the
//! channel's maximum, and record what the channel confirmed. Failures are
//! retried with backoff until the channel confirms.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use switchyard_connectors::channel::{StockOutcome, StockUpdate};
use switchyard_domain::retry::failures;
use switchyard_storage::{ChannelRef, DuePush, PushResult, SettledTargets};

use crate::context::{Context, Topic};
use crate::driver::{Report, Worker};
use crate::{EngineError, connect, measure};

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

impl Report for PushSummary {
    fn merge(&mut self, o: Self) {
        self.channels += o.channels;
        self.sent += o.sent;
        self.failed += o.failed;
    }

    fn busy(&self) -> bool {
        self.sent + self.failed > 0
    }
}

/// Largest number of pushes read per channel per round.
const ROUND_LIMIT: u32 = 2000;

/// Stale SKUs whose targets one transaction recomputes.
const SETTLE_LIMIT: u32 = 1000;

/// Transactions of stale SKUs one look for due pushes settles; what is left
/// is settled on the next look, which this one asks for.
const SETTLE_ROUNDS: usize = 8;

/// The stock pusher. Each channel is pushed on its own round, so a slow or
/// throttled channel never holds back the others.
#[derive(Debug)]
pub struct StockPush {
    ctx: Arc<Context>,
}

impl Worker for StockPush {
    type Unit = ChannelRef;
    type Report = PushSummary;
    const NAME: &'static str = "stock_push";

    fn context(&self) -> &Context {
        &self.ctx
    }

    fn key(unit: &ChannelRef) -> String {
        unit.channel_id.to_string()
    }

    async fn due(&self, now: DateTime<Utc>, _room: usize) -> Result<Vec<ChannelRef>, EngineError> {
        self.settle().await?;
        Ok(self.ctx.storage.channels_with_due_pushes(now).await?)
    }

    async fn run(&self, r: ChannelRef, now: DateTime<Utc>) -> Result<PushSummary, EngineError> {
        let key = r.channel_id.to_string();
        self.ctx
            .leased("push", &key, now, self.push_channel(&r, now))
            .await
    }

    fn concurrency(&self) -> usize {
        self.ctx.config.concurrency.push
    }

    fn signal(&self) -> &tokio::sync::Notify {
        self.ctx.signals.of(Topic::Push)
    }

    fn after(&self, report: &PushSummary) {
        // Confirmed quantities are journal events (`listing` webhooks).
        if report.sent > 0 {
            self.ctx.signals.wake(Topic::Dispatch);
        }
    }
}

impl StockPush {
    pub(crate) fn new(ctx: Arc<Context>) -> Self {
        Self { ctx }
    }

    /// Push everything due at `now` on every channel, the channels
    /// concurrently.
    pub async fn step(&self, now: DateTime<Utc>) -> Result<PushSummary, EngineError> {
        crate::driver::step(self, now).await
    }

    /// Recompute the targets of the SKUs that import pages marked stale
    /// since the last look (once for all the pages that marked each), so
    /// that their pushes are due. Returns what it did.
    pub async fn settle(&self) -> Result<SettledTargets, EngineError> {
        let mut total = SettledTargets::default();
        for _ in 0..SETTLE_ROUNDS {
            let s = self.ctx.storage.settle_targets(SETTLE_LIMIT).await?;
            total.skus += s.skus;
            total.pushes += s.pushes;
            if s.skus < SETTLE_LIMIT as usize {
                return Ok(total);
            }
        }
        // More marks wait: look again once these are pushed.
        self.ctx.signals.wake_here(Topic::Push);
        Ok(total)
    }

    /// When a push that failed `attempts` times before is tried again.
    fn retry_at(&self, attempts: i64, retryable: bool) -> DateTime<Utc> {
        let retry = &self.ctx.config.retry;
        let policy = if retryable {
            &retry.push
        } else {
            &retry.push_refused
        };
        let wait = policy
            .wait(failures(attempts) + 1, Context::unit())
            .unwrap_or(chrono::Duration::hours(1));
        self.ctx.now() + wait
    }

    /// Push one channel's due quantities.
    #[tracing::instrument(skip_all, fields(channel = %r.channel_id))]
    pub async fn push_channel(
        &self,
        r: &ChannelRef,
        now: DateTime<Utc>,
    ) -> Result<PushSummary, EngineError> {
        let inner = &*self.ctx;
        let due = inner.storage.due_pushes(r, now, ROUND_LIMIT).await?;
        let mut summary = PushSummary {
            channels: 1,
            ..PushSummary::default()
        };
        if due.is_empty() {
            return Ok(summary);
        }
        let (ch, conn) = connect::open(inner, r).await?;
        let channel = ch.kind.as_str();
        let conn = match conn {
            Ok(c) => c,
            Err(e) => {
                let results = due
                    .into_iter()
                    .map(|p| {
                        let retry = self.retry_at(p.attempts, false);
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
                measure::stock_push(channel, None, 0, summary.failed);
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
            let clock = std::time::Instant::now();
            let outcomes = conn.push_stock(&updates).await;
            let took = clock.elapsed();
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
                                retry_at: Some(self.ctx.now()),
                            },
                            Some(StockOutcome::Failed { reason, retryable }) => {
                                PushResult::Failed {
                                    retry_at: Some(self.retry_at(p.attempts, retryable)),
                                    error: reason,
                                }
                            }
                            None => PushResult::Failed {
                                error: "the channel returned no outcome for this item".into(),
                                retry_at: Some(self.retry_at(p.attempts, true)),
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
                            let retry = self.retry_at(p.attempts, e.is_retryable());
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
            let (mut sent, mut failed) = (0, 0);
            let confirmed = self.ctx.now();
            for (p, res) in &results {
                match res {
                    PushResult::Sent => {
                        sent += 1;
                        measure::propagated(channel, confirmed - p.created_at);
                    }
                    PushResult::Failed { .. } => failed += 1,
                }
            }
            measure::stock_push(channel, Some(took), sent, failed);
            summary.sent += sent;
            summary.failed += failed;
            inner.storage.record_push_results(r, results).await?;
        }
        tracing::debug!(sent = summary.sent, failed = summary.failed, "stock pushed");
        Ok(summary)
    }
}
