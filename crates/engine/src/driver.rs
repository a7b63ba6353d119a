//! One driver for every worker.
//!
//! A worker finds its due work as units (a channel to import, a delivery to
//! send, …) and runs one unit at a time per key. The driver runs each
//! worker on its own task: it looks for due work when woken, on the
//! worker's tick, and at once again after a unit that did something; it
//! keeps at most the worker's concurrency of units running, never two with
//! one key, holds them in a `JoinSet`, and on shutdown stops looking and
//! drains what is running.
//!
//! [`step`] does the same once, without the driver: every due unit, run to
//! the end, so tests and benchmarks drive a worker deterministically.

use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use futures::StreamExt;
use tokio::sync::{Notify, watch};
use tokio::task::JoinSet;

use crate::EngineError;
use crate::context::Context;

/// What a unit (or a whole step) of a worker did.
pub trait Report: Default + Send + 'static {
    /// Add another unit's report to this one.
    fn merge(&mut self, other: Self);
    /// Whether it did anything (the driver then looks again at once).
    fn busy(&self) -> bool;
}

/// A kind of work the driver runs.
pub(crate) trait Worker: Send + Sync + 'static {
    /// One piece of due work.
    type Unit: Send + 'static;
    /// What running units did.
    type Report: Report;
    /// The worker's name in logs.
    const NAME: &'static str;

    /// The shared context (clock, signals, settings).
    fn context(&self) -> &Context;

    /// Which unit this is: two units with one key never run at once.
    fn key(unit: &Self::Unit) -> String;

    /// Up to `room` units due at `now` (claimed, for work kept under a lease).
    fn due(
        &self,
        now: DateTime<Utc>,
        room: usize,
    ) -> impl Future<Output = Result<Vec<Self::Unit>, EngineError>> + Send;

    /// Run one unit.
    fn run(
        &self,
        unit: Self::Unit,
        now: DateTime<Utc>,
    ) -> impl Future<Output = Result<Self::Report, EngineError>> + Send;

    /// Units running at once.
    fn concurrency(&self) -> usize;

    /// The wake-up that says this worker may have work.
    fn signal(&self) -> &Notify;

    /// How often to look for work when nothing wakes the worker.
    fn interval(&self) -> Duration {
        self.context().config.tick
    }

    /// After a unit did something: wake the workers that may now have work.
    fn after(&self, report: &Self::Report) {
        let _ = report;
    }
}

/// Run every unit due at `now` once, at most the worker's concurrency at a
/// time, and add up what they did.
pub(crate) async fn step<W: Worker>(w: &W, now: DateTime<Utc>) -> Result<W::Report, EngineError> {
    let limit = w.concurrency().max(1);
    let units = w.due(now, usize::MAX).await?;
    let reports: Vec<Result<W::Report, EngineError>> = futures::stream::iter(units)
        .map(|u| w.run(u, now))
        .buffer_unordered(limit)
        .collect()
        .await;
    let mut total = W::Report::default();
    for r in reports {
        let r = r?;
        w.after(&r);
        total.merge(r);
    }
    Ok(total)
}

/// Drive `w` until `stop` turns true, then drain its running units.
pub(crate) async fn drive<W: Worker>(w: Arc<W>, mut stop: watch::Receiver<bool>) {
    let limit = w.concurrency().max(1);
    let mut running: JoinSet<Result<W::Report, EngineError>> = JoinSet::new();
    let mut keys: HashSet<String> = HashSet::new();
    // The key of each running task, to free it even when the task panics.
    let mut ids: HashMap<tokio::task::Id, String> = HashMap::new();
    let mut tick = tokio::time::interval(w.interval());
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    // Whether to look for due work now, and whether the last look left
    // units waiting (for room, or for their key's unit to finish).
    let (mut look, mut left) = (true, false);
    loop {
        // A dropped sender counts as shutdown.
        if *stop.borrow() || stop.has_changed().is_err() {
            break;
        }
        let room = limit.saturating_sub(running.len());
        if look && room > 0 {
            left = false;
            let now = w.context().now();
            match w.due(now, room).await {
                Ok(units) => {
                    for unit in units {
                        let key = W::key(&unit);
                        if running.len() >= limit || keys.contains(&key) {
                            left = true;
                            continue;
                        }
                        keys.insert(key.clone());
                        let w = Arc::clone(&w);
                        let task = running.spawn(async move { w.run(unit, now).await });
                        ids.insert(task.id(), key);
                    }
                }
                Err(e) => tracing::error!(worker = W::NAME, error = %e, "cannot look for due work"),
            }
        }
        look = false;
        tokio::select! {
            biased;
            _ = stop.changed() => {}
            Some(done) = running.join_next_with_id(), if !running.is_empty() => {
                let id = match &done {
                    Ok((id, _)) => *id,
                    Err(e) => e.id(),
                };
                let key = ids.remove(&id).unwrap_or_default();
                keys.remove(&key);
                let busy = match done {
                    Ok((_, Ok(report))) => {
                        w.after(&report);
                        report.busy()
                    }
                    Ok((_, Err(e))) => {
                        tracing::error!(worker = W::NAME, unit = %key, error = %e, "round failed");
                        false
                    }
                    Err(e) => {
                        tracing::error!(worker = W::NAME, unit = %key, error = %e, "a round panicked");
                        true
                    }
                };
                // Work that arrived meanwhile is looked at now, not at the
                // next tick.
                look = busy || left;
            }
            () = w.signal().notified() => look = true,
            _ = tick.tick() => look = true,
        }
    }
    while let Some(done) = running.join_next_with_id().await {
        if let Ok((id, Err(e))) = done {
            let key = ids.remove(&id).unwrap_or_default();
            tracing::error!(worker = W::NAME, unit = %key, error = %e, "round failed");
        }
    }
}

/// Runs every worker of an engine on its own task until shutdown.
#[derive(Debug, Default)]
pub(crate) struct Driver {
    tasks: JoinSet<()>,
}

impl Driver {
    /// Drive `w` alongside the others.
    pub(crate) fn add<W: Worker>(&mut self, w: &Arc<W>, stop: &watch::Receiver<bool>) {
        let (w, stop) = (Arc::clone(w), stop.clone());
        self.tasks.spawn(drive(w, stop));
    }

    /// Run `f` alongside the workers (the wake-up relay).
    pub(crate) fn spawn(&mut self, f: impl Future<Output = ()> + Send + 'static) {
        self.tasks.spawn(f);
    }

    /// Wait until every worker has drained.
    pub(crate) async fn join(mut self) {
        while let Some(r) = self.tasks.join_next().await {
            if let Err(e) = r {
                tracing::error!(error = %e, "a worker task panicked");
            }
        }
    }
}

/// A report that counts units that did something (workers with nothing
/// else to say).
impl Report for usize {
    fn merge(&mut self, other: Self) {
        *self += other;
    }
    fn busy(&self) -> bool {
        *self > 0
    }
}
