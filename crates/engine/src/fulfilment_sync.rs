//! The fulfilment sync: every fulfilment with something left to tell its
//! order's channel (create, corrected tracking, cancellation) is claimed
//! under a lease, sent through the connector, and recorded as synced or
//! failed with backoff. The connectors look for an earlier attempt before
//! creating a shipment, so retries and crashes never ship twice.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use switchyard_connectors::channel::FulfilmentPush;
use switchyard_connectors::error::ConnectorError;
use switchyard_domain::fulfilment::SyncAction;
use switchyard_domain::retry::failures;
use switchyard_storage::{DueFulfilment, SyncResult};

use crate::context::{Context, Topic};
use crate::driver::{Report, Worker};
use crate::{EngineError, connect};

/// What one sync round did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SyncSummary {
    /// Fulfilments the channels confirmed.
    pub synced: usize,
    /// Attempts that failed (retried with backoff).
    pub failed: usize,
}

impl Report for SyncSummary {
    fn merge(&mut self, o: Self) {
        self.synced += o.synced;
        self.failed += o.failed;
    }

    fn busy(&self) -> bool {
        self.synced + self.failed > 0
    }
}

/// Largest number of fulfilments taken per look.
const ROUND_LIMIT: usize = 200;

/// The fulfilment sync. Fulfilments of different orders sync at once; the
/// fulfilments of one order one after the other.
#[derive(Debug)]
pub struct FulfilmentSync {
    ctx: Arc<Context>,
}

impl Worker for FulfilmentSync {
    type Unit = DueFulfilment;
    type Report = SyncSummary;
    const NAME: &'static str = "fulfilment_sync";

    fn context(&self) -> &Context {
        &self.ctx
    }

    fn key(d: &DueFulfilment) -> String {
        format!("{}/{}", d.channel.channel_id, d.channel_order_id)
    }

    async fn due(
        &self,
        now: DateTime<Utc>,
        room: usize,
    ) -> Result<Vec<DueFulfilment>, EngineError> {
        let limit = u32::try_from(room.min(ROUND_LIMIT)).unwrap_or(200);
        Ok(self
            .ctx
            .storage
            .due_fulfilments(&self.ctx.lease(now), limit)
            .await?)
    }

    async fn run(&self, d: DueFulfilment, now: DateTime<Utc>) -> Result<SyncSummary, EngineError> {
        Ok(match self.sync_one(d, now).await? {
            Some(true) => SyncSummary {
                synced: 1,
                failed: 0,
            },
            Some(false) => SyncSummary {
                synced: 0,
                failed: 1,
            },
            None => SyncSummary::default(),
        })
    }

    fn concurrency(&self) -> usize {
        self.ctx.config.concurrency.fulfilment
    }

    fn signal(&self) -> &tokio::sync::Notify {
        self.ctx.signals.of(Topic::Fulfilment)
    }

    fn after(&self, report: &SyncSummary) {
        crate::measure::fulfilment_syncs(report);
        if report.busy() {
            self.ctx.signals.wake(Topic::Dispatch);
        }
    }
}

impl FulfilmentSync {
    pub(crate) fn new(ctx: Arc<Context>) -> Self {
        Self { ctx }
    }

    /// Send every fulfilment due at `now` to its channel.
    pub async fn step(&self, now: DateTime<Utc>) -> Result<SyncSummary, EngineError> {
        crate::driver::step(self, now).await
    }

    /// When a sync that failed `attempts` times (this one included) is
    /// tried again.
    fn retry_at(&self, attempts: i64, retryable: bool) -> DateTime<Utc> {
        let retry = &self.ctx.config.retry;
        let policy = if retryable {
            &retry.fulfilment
        } else {
            &retry.fulfilment_refused
        };
        let wait = policy
            .wait(failures(attempts), Context::unit())
            .unwrap_or(chrono::Duration::days(1));
        self.ctx.now() + wait
    }

    /// One fulfilment: `None` when another worker has it.
    #[tracing::instrument(skip_all, fields(fulfilment = %d.fulfilment.id, channel = %d.channel.channel_id))]
    async fn sync_one(
        &self,
        d: DueFulfilment,
        now: DateTime<Utc>,
    ) -> Result<Option<bool>, EngineError> {
        let inner = &*self.ctx;
        let f = &d.fulfilment;
        let Some(action) = f.sync.action else {
            return Ok(None);
        };
        if !inner
            .storage
            .begin_fulfilment_sync(&f.id, action, &inner.lease(now))
            .await?
        {
            return Ok(None);
        }
        let attempts = f.sync.attempts + 1;
        let (_, conn) = connect::open(inner, &d.channel).await?;
        let outcome: Result<Option<String>, (String, bool)> = match conn {
            Err(msg) => Err((msg, true)),
            Ok(conn) => {
                let push = FulfilmentPush {
                    channel_order_id: d.channel_order_id.clone(),
                    lines: f
                        .lines
                        .iter()
                        .filter_map(|l| l.channel_line_id.clone().map(|c| (c, l.quantity)))
                        .collect(),
                    tracking: f.tracking.clone(),
                    carrier: d.carriers.code_for(f.carrier, d.kind),
                    service: f.service.clone(),
                    shipped_at: f.shipped_at,
                    reference: f.id.to_string(),
                };
                let cid = f.sync.channel_fulfilment_id.clone();
                let result: Result<Option<String>, ConnectorError> = match (action, cid) {
                    (SyncAction::Create, _) | (SyncAction::UpdateTracking, None) => conn
                        .push_fulfilment(&push)
                        .await
                        .map(|ack| Some(ack.channel_fulfilment_id)),
                    (SyncAction::UpdateTracking, Some(cid)) => conn
                        .update_fulfilment_tracking(&cid, &push)
                        .await
                        .map(|new| new.or(Some(cid))),
                    (SyncAction::Cancel, Some(cid)) => conn
                        .cancel_fulfilment(&d.channel_order_id, &cid)
                        .await
                        .map(|()| None),
                    (SyncAction::Cancel, None) => Err(conn.unsupported(
                        "cancelling a shipment whose id on the channel is unknown (an earlier attempt may have created it): cancel it on the channel",
                    )),
                };
                result.map_err(|e| (e.to_string(), e.is_retryable()))
            }
        };
        let (result, ok) = match outcome {
            Ok(channel_fulfilment_id) => (
                SyncResult::Synced {
                    channel_fulfilment_id,
                },
                true,
            ),
            Err((error, retryable)) => {
                tracing::warn!(%error, attempts, "fulfilment sync failed; retrying with backoff");
                (
                    SyncResult::Failed {
                        error,
                        retry_at: self.retry_at(attempts, retryable),
                    },
                    false,
                )
            }
        };
        inner
            .storage
            .record_fulfilment_sync(&f.id, action, result)
            .await?;
        Ok(Some(ok))
    }
}
