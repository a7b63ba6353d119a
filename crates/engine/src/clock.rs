//! The workers' one clock.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use chrono::{DateTime, Utc};

/// The workers' clock: the system clock, moved forward by an offset that
/// tests set (waits of hours, backoffs) without waiting. Every time a
/// worker decides with comes from here; the engine reads the system clock
/// nowhere else (`.ci/run` checks).
#[derive(Debug, Clone, Default)]
pub struct Clock {
    offset_ms: Arc<AtomicI64>,
    /// Told when the clock moves, so the heartbeat beats at once: an
    /// instance whose last beat the jump left behind would look dead to
    /// its own claims.
    moved: Arc<tokio::sync::Notify>,
}

impl Clock {
    /// Now, by this clock.
    #[must_use]
    pub fn now(&self) -> DateTime<Utc> {
        Utc::now() + chrono::Duration::milliseconds(self.offset_ms.load(Ordering::SeqCst))
    }

    /// Move this clock (and every copy of it) forward.
    pub fn advance(&self, by: chrono::Duration) {
        self.offset_ms
            .fetch_add(by.num_milliseconds(), Ordering::SeqCst);
        self.moved.notify_one();
    }

    /// Notified when the clock is moved forward.
    pub(crate) fn moved(&self) -> &tokio::sync::Notify {
        &self.moved
    }

    /// The real time, for what other machines compare with their own clocks
    /// (the `webhook-timestamp` a receiver checks for replays) and for ids.
    #[must_use]
    pub fn wall() -> DateTime<Utc> {
        Utc::now()
    }
}
