//! Work taken under a lease, and the worker instances that hold leases.
//!
//! Every work queue (import jobs, fulfilment syncs, back-office steps,
//! plugin messages, webhook deliveries) is claimed the same way: a row is
//! free when it was never leased, its lease has run out, or its holder is
//! known to be dead (it said it stopped, or has not beaten since
//! [`Claim::stale_before`]). A holder the database has never heard of keeps
//! its lease until the lease runs out. Each backend defines "free" once
//! (`sqlite/leases.rs`) and every queue uses that definition.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::Result;

/// Seconds without a heartbeat after which a worker instance counts as
/// dead and its leases as free (the engine's default `stale_after`, and
/// what the API calls a stalled job).
pub const WORKER_STALE_AFTER_SECS: i64 = 10;

/// Who claims work, when, and for how long.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claim {
    /// The claiming worker instance (`wrk_…`).
    pub holder: String,
    /// The time of the claim.
    pub now: DateTime<Utc>,
    /// How long the work is held without a heartbeat-based release.
    pub lease: chrono::Duration,
    /// Holders silent since this instant are dead and hold nothing.
    pub stale_before: DateTime<Utc>,
}

impl Claim {
    /// When the lease taken by this claim runs out.
    #[must_use]
    pub fn until(&self) -> DateTime<Utc> {
        self.now + self.lease
    }
}

/// One work queue's backlog, for the operator's metrics.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueDepth {
    /// The queue: `stock_pushes`, `webhook_deliveries` or `plugin_messages`.
    pub queue: &'static str,
    /// Items waiting (due now or retrying later).
    pub items: i64,
    /// When the oldest waiting item was enqueued.
    pub oldest: Option<DateTime<Utc>>,
}

/// The queues [`Leases::queue_depths`] reports, in its order.
pub const QUEUES: [&str; 3] = ["stock_pushes", "webhook_deliveries", "plugin_messages"];

/// Worker instances: each process running workers registers, beats, and
/// says when it stops, so that its leases are freed as soon as it dies.
#[async_trait]
pub trait Leases: Send + Sync {
    /// Worker instance `id` starts at `now`. On SQLite, where one process
    /// owns the database file, every other instance is retired at once: a
    /// restarted process takes over what the killed one held without
    /// waiting for its heartbeat to go stale.
    async fn register_instance(&self, id: &str, now: DateTime<Utc>) -> Result<()>;
    /// Worker instance `id` is alive at `now`.
    async fn beat(&self, id: &str, now: DateTime<Utc>) -> Result<()>;
    /// Worker instance `id` stopped: its leases are free at once.
    async fn stop_instance(&self, id: &str, now: DateTime<Utc>) -> Result<()>;
    /// Worker instances that beat after `since` and have not stopped (the
    /// readiness check: someone is doing the work).
    async fn live_instances(&self, since: DateTime<Utc>) -> Result<i64>;
    /// The backlog of each queue in [`QUEUES`]: pending stock pushes
    /// (retries included), webhook deliveries and plugin messages not yet
    /// taken by their receiver.
    async fn queue_depths(&self) -> Result<Vec<QueueDepth>>;
    /// Take the lease on work that is not a row of its own (`kind` names
    /// it: a channel's import round, its stock push, ...; `key` says whose)
    /// for `claim.holder`. True when the holder now has it: it was free, or
    /// already the holder's (the lease is then extended).
    async fn take_lease(&self, kind: &str, key: &str, claim: &Claim) -> Result<bool>;
    /// Give back a lease `holder` took with [`Leases::take_lease`].
    async fn release_lease(&self, kind: &str, key: &str, holder: &str) -> Result<()>;
    /// Tell the other instances sharing the database that work may be due
    /// (`payload` says which). PostgreSQL sends it with `NOTIFY`; on SQLite,
    /// where one process runs the workers, nothing needs telling.
    async fn publish_wakeup(&self, payload: &str) -> Result<()>;
    /// The wake-ups published by every instance (this one's included), as
    /// they arrive; `None` when the backend has none. The receiver ends when
    /// the database is closed.
    async fn wakeups(&self) -> Result<Option<tokio::sync::mpsc::Receiver<String>>>;
}

/// The PostgreSQL channel wake-ups travel on.
pub const WAKEUP_CHANNEL: &str = "switchyard_wakeup";
