//! The fulfilment sync: every fulfilment with something left to tell its
//! order's channel (create, corrected tracking, cancellation) is claimed
//! under a lease, sent through the connector, and recorded as synced or
//! failed with backoff. The connectors look for an earlier attempt before
//! creating a shipment, so retries and crashes never ship twice.

use switchyard_connectors::channel::FulfilmentPush;
use switchyard_connectors::error::ConnectorError;
use switchyard_domain::fulfilment::SyncAction;
use switchyard_storage::{DueFulfilment, SyncResult};

use crate::{Engine, EngineError, connect, doubling};

/// What one sync round did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SyncSummary {
    /// Fulfilments the channels confirmed.
    pub synced: usize,
    /// Attempts that failed (retried with backoff).
    pub failed: usize,
}

/// Largest number of fulfilments taken per round.
const ROUND_LIMIT: u32 = 200;

/// Backoff after `attempts` tries: 5 s doubling, at most 30 minutes (a day
/// for what the channel cannot do at all).
fn backoff(attempts: i64, retryable: bool) -> chrono::Duration {
    if retryable {
        doubling(5, attempts - 1, chrono::Duration::minutes(30))
    } else {
        doubling(60, attempts - 1, chrono::Duration::days(1))
    }
}

impl Engine {
    /// Send every due fulfilment to its channel.
    pub async fn sync_fulfilments(&self) -> Result<SyncSummary, EngineError> {
        let due = self
            .inner
            .storage
            .due_fulfilments(&self.lease(self.now()), ROUND_LIMIT)
            .await?;
        let mut summary = SyncSummary::default();
        for d in due {
            match self.sync_one(d).await? {
                Some(true) => summary.synced += 1,
                Some(false) => summary.failed += 1,
                None => {}
            }
        }
        Ok(summary)
    }

    /// One fulfilment: `None` when another worker has it.
    #[tracing::instrument(skip_all, fields(fulfilment = %d.fulfilment.id, channel = %d.channel.channel_id))]
    async fn sync_one(&self, d: DueFulfilment) -> Result<Option<bool>, EngineError> {
        let inner = &self.inner;
        let f = &d.fulfilment;
        let Some(action) = f.sync.action else {
            return Ok(None);
        };
        let now = self.now();
        if !inner
            .storage
            .begin_fulfilment_sync(&f.id, action, &self.lease(now))
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
                        retry_at: self.now() + backoff(attempts, retryable),
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
