//! The pruning worker: every `prune_interval`, each kind of row that only
//! grows (stock pushes, webhook messages, the journal, idempotency keys)
//! loses what is older than its retention and no longer needed, in batches
//! of `prune_batch` rows, each its own short transaction. What is still
//! needed (a pending push, an undelivered message, journal events the
//! webhook dispatch has not passed) is never pruned: storage decides that
//! per kind ([`switchyard_storage::Prunable`]).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use switchyard_storage::Prunable;

use crate::EngineError;
use crate::context::Context;
use crate::driver::{Report, Worker};

/// How long each kind of row is kept.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Retention {
    /// Superseded and confirmed stock pushes, in hours.
    pub pushes_hours: u32,
    /// Delivered (or given up) webhook messages with their attempts, in days.
    pub webhooks_days: u32,
    /// Journal events already dispatched, in days (0 keeps them for ever).
    pub journal_days: u32,
    /// Idempotency keys, in hours (at least their 24-hour replay window).
    pub idempotency_hours: u32,
    /// How often the pruning worker runs, in seconds.
    pub interval_secs: u32,
    /// Rows deleted per transaction.
    pub batch: u32,
    /// Batches per kind and run (the rest waits for the next run).
    pub batches_per_run: u32,
}

impl Default for Retention {
    fn default() -> Self {
        Self {
            pushes_hours: 24,
            webhooks_days: 30,
            journal_days: 365,
            idempotency_hours: 24,
            interval_secs: 60,
            batch: 1000,
            batches_per_run: 20,
        }
    }
}

impl Retention {
    /// How long `what` is kept; `None` keeps it for ever.
    #[must_use]
    pub fn keep(&self, what: Prunable) -> Option<chrono::Duration> {
        let hours = |h: u32| chrono::Duration::hours(i64::from(h));
        match what {
            Prunable::Pushes => Some(hours(self.pushes_hours)),
            Prunable::WebhookMessages => Some(hours(self.webhooks_days * 24)),
            Prunable::Journal => (self.journal_days > 0).then(|| hours(self.journal_days * 24)),
            Prunable::IdempotencyKeys => Some(hours(self.idempotency_hours.max(24))),
        }
    }
}

/// What pruning removed, per kind.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PruneSummary {
    /// Rows removed.
    pub rows: u64,
    /// Kinds that had more to prune than one run takes.
    pub behind: usize,
}

impl Report for PruneSummary {
    fn merge(&mut self, o: Self) {
        self.rows += o.rows;
        self.behind += o.behind;
    }

    /// Never busy: the rest waits for the next run, so pruning never
    /// crowds out the work that matters.
    fn busy(&self) -> bool {
        false
    }
}

/// The pruning worker.
#[derive(Debug)]
pub struct Pruner {
    ctx: Arc<Context>,
    /// Never notified: pruning keeps its own time.
    idle: tokio::sync::Notify,
    /// When each kind is next due (in memory: a new process prunes first).
    /// A kind's run, here or on the instance holding its lease, makes it
    /// due again an interval later; without this the kinds waiting for the
    /// one slot were due again at once, and the driver ran the first kind
    /// over and over.
    next: std::sync::Mutex<HashMap<Prunable, DateTime<Utc>>>,
}

impl Worker for Pruner {
    type Unit = Prunable;
    type Report = PruneSummary;
    const NAME: &'static str = "prune";

    fn context(&self) -> &Context {
        &self.ctx
    }

    fn key(unit: &Prunable) -> String {
        unit.as_str().to_owned()
    }

    async fn due(&self, now: DateTime<Utc>, _room: usize) -> Result<Vec<Prunable>, EngineError> {
        let r = &self.ctx.config.retention;
        let next = self
            .next
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        Ok(Prunable::ALL
            .into_iter()
            .filter(|p| r.keep(*p).is_some() && next.get(p).is_none_or(|at| *at <= now))
            .collect())
    }

    async fn run(&self, what: Prunable, now: DateTime<Utc>) -> Result<PruneSummary, EngineError> {
        let interval =
            chrono::Duration::seconds(i64::from(self.ctx.config.retention.interval_secs.max(1)));
        self.next
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(what, now + interval);
        self.ctx
            .leased("prune", what.as_str(), now, self.prune(what, now))
            .await
    }

    fn concurrency(&self) -> usize {
        1
    }

    fn signal(&self) -> &tokio::sync::Notify {
        &self.idle
    }

    fn interval(&self) -> Duration {
        Duration::from_secs(u64::from(self.ctx.config.retention.interval_secs.max(1)))
    }
}

impl Pruner {
    pub(crate) fn new(ctx: Arc<Context>) -> Self {
        Self {
            ctx,
            idle: tokio::sync::Notify::new(),
            next: std::sync::Mutex::default(),
        }
    }

    /// Prune every kind due at `now` once (each is due again an interval
    /// after its last run).
    pub async fn step(&self, now: DateTime<Utc>) -> Result<PruneSummary, EngineError> {
        crate::driver::step(self, now).await
    }

    /// Prune `what` older than its retention at `now`, batch by batch.
    async fn prune(&self, what: Prunable, now: DateTime<Utc>) -> Result<PruneSummary, EngineError> {
        let r = &self.ctx.config.retention;
        let Some(keep) = r.keep(what) else {
            return Ok(PruneSummary::default());
        };
        let before = now - keep;
        let mut summary = PruneSummary::default();
        for _ in 0..r.batches_per_run.max(1) {
            let gone = self.ctx.storage.prune(what, before, r.batch).await?;
            summary.rows += gone;
            if gone < u64::from(r.batch) {
                if summary.rows > 0 {
                    tracing::info!(what = what.as_str(), rows = summary.rows, "pruned");
                }
                return Ok(summary);
            }
            // Let the writer breathe between batches.
            tokio::task::yield_now().await;
        }
        summary.behind = 1;
        tracing::info!(
            what = what.as_str(),
            rows = summary.rows,
            "pruned; more next run"
        );
        Ok(summary)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]

    use switchyard_storage::crypto::CredentialCipher;
    use switchyard_storage::sqlite::SqliteStorage;

    use super::*;
    use crate::EngineConfig;

    /// A kind that ran is not due again until an interval later, so the
    /// kinds waiting for the one slot are taken in turn and the driver
    /// never runs the first one over and over.
    #[tokio::test]
    async fn a_kind_is_due_again_one_interval_after_its_run() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("t.db").display());
        let storage = SqliteStorage::connect_and_migrate(&url).await.unwrap();
        let config = EngineConfig::default();
        let interval = chrono::Duration::seconds(i64::from(config.retention.interval_secs));
        let ctx = Context::new(
            Arc::new(storage),
            CredentialCipher::from_key(&[1; 32]),
            config,
        );
        let now = ctx.now();
        let pruner = Pruner::new(Arc::new(ctx));
        let all = pruner.due(now, 1).await.unwrap();
        assert!(all.contains(&Prunable::Pushes), "{all:?}");
        assert!(all.len() > 1, "{all:?}");

        pruner.run(Prunable::Pushes, now).await.unwrap();
        let left = pruner.due(now, 1).await.unwrap();
        assert!(!left.contains(&Prunable::Pushes), "{left:?}");
        assert_eq!(left.len(), all.len() - 1);
        let later = pruner.due(now + interval, 1).await.unwrap();
        assert_eq!(later, all);
    }
}
