//! This instance's heartbeat: it tells the database the instance is alive,
//! so the leases it holds stay its own; an instance that stops beating is
//! dead after `stale_after`, and its leases are free at once.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::sync::Notify;

use crate::EngineError;
use crate::context::Context;
use crate::driver::Worker;

/// The heartbeat worker.
#[derive(Debug)]
pub(crate) struct Heartbeat {
    ctx: Arc<Context>,
}

impl Heartbeat {
    pub(crate) fn new(ctx: Arc<Context>) -> Self {
        Self { ctx }
    }
}

impl Worker for Heartbeat {
    type Unit = ();
    type Report = usize;
    const NAME: &'static str = "heartbeat";

    fn context(&self) -> &Context {
        &self.ctx
    }

    fn key((): &()) -> String {
        String::new()
    }

    async fn due(&self, _now: DateTime<Utc>, _room: usize) -> Result<Vec<()>, EngineError> {
        Ok(vec![()])
    }

    async fn run(&self, (): (), now: DateTime<Utc>) -> Result<usize, EngineError> {
        self.ctx.storage.beat(&self.ctx.instance, now).await?;
        Ok(0)
    }

    fn concurrency(&self) -> usize {
        1
    }

    /// It keeps its own time, and beats at once when the clock is moved.
    fn signal(&self) -> &Notify {
        self.ctx.config.clock.moved()
    }

    fn interval(&self) -> Duration {
        self.ctx.config.heartbeat
    }
}
