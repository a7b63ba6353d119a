//! What every worker shares: storage, the credential cipher, settings, the
//! clock, built connectors, the wake-ups and this instance's identity.

use std::future::Future;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use switchyard_storage::crypto::CredentialCipher;
use switchyard_storage::{Claim, Storage};
use tokio::sync::Notify;

use crate::{Clock, EngineConfig, EngineError, connect};

/// What a wake-up is about: each worker waits on one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Topic {
    /// Import (a job was enqueued, a notification arrived).
    Import,
    /// Listings download (a listings job was enqueued).
    Listings,
    /// Stock push (stock changed, pushes were enqueued).
    Push,
    /// Fulfilment sync (a fulfilment was recorded or changed).
    Fulfilment,
    /// Back office (an order was routed to it).
    BackOffice,
    /// Plugin delivery (an order was routed to a plugin).
    Plugins,
    /// Webhook dispatch (the journal grew).
    Dispatch,
    /// Webhook delivery (messages were dispatched).
    Delivery,
    /// Automatic invoicing (orders imported, shipped or cancelled).
    Invoicing,
    /// Accounting sync (invoices or credit notes were issued).
    Accounting,
}

impl Topic {
    /// Every topic, in the order of their bits.
    pub(crate) const ALL: [Self; 10] = [
        Self::Import,
        Self::Listings,
        Self::Push,
        Self::Fulfilment,
        Self::BackOffice,
        Self::Plugins,
        Self::Dispatch,
        Self::Delivery,
        Self::Invoicing,
        Self::Accounting,
    ];

    /// The topic's name on the wire.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::Import => "import",
            Self::Listings => "listings",
            Self::Push => "push",
            Self::Fulfilment => "fulfilment",
            Self::BackOffice => "back_office",
            Self::Plugins => "plugins",
            Self::Dispatch => "dispatch",
            Self::Delivery => "delivery",
            Self::Invoicing => "invoicing",
            Self::Accounting => "accounting",
        }
    }

    /// The topic named `s`.
    pub(crate) fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.as_str() == s)
    }
}

/// The wake-ups of the workers: each says "you may have work now". A wake
/// here is also sent to the other instances sharing the database, when
/// there are any (see `wakeups.rs`).
#[derive(Debug, Default)]
pub(crate) struct Signals {
    notify: [Notify; 10],
    /// The import topic's second waiter: the notified lane. A `Notify`
    /// wakes one waiter, and both import lanes must hear an import wake.
    notified_lane: Notify,
    /// Where wakes go to be told to the other instances.
    outbox: std::sync::OnceLock<tokio::sync::mpsc::UnboundedSender<Topic>>,
}

impl Signals {
    /// The wake-up of `topic`'s worker.
    pub(crate) fn of(&self, topic: Topic) -> &Notify {
        &self.notify[topic as usize]
    }

    /// Wake `topic`'s worker here and on the other instances.
    pub(crate) fn wake(&self, topic: Topic) {
        self.wake_here(topic);
        if let Some(out) = self.outbox.get() {
            let _ = out.send(topic);
        }
    }

    /// Wake `topic`'s worker on this instance only (a wake-up another
    /// instance sent).
    pub(crate) fn wake_here(&self, topic: Topic) {
        self.of(topic).notify_one();
        if topic == Topic::Import {
            self.notified_lane.notify_one();
        }
    }

    /// The wake-up of the notified import lane (woken with
    /// [`Topic::Import`]).
    pub(crate) fn notified_lane(&self) -> &Notify {
        &self.notified_lane
    }

    /// Send wakes to the other instances through `out` from now on.
    pub(crate) fn publish_to(&self, out: tokio::sync::mpsc::UnboundedSender<Topic>) {
        let _ = self.outbox.set(out);
    }

    /// Something changed that any worker may care about (an API write):
    /// every worker looks.
    pub(crate) fn all(&self) {
        for t in Topic::ALL {
            self.wake(t);
        }
    }

    /// The journal grew (orders, stock, fulfilments changed): webhooks,
    /// plugins, the back office, the fulfilment sync, invoicing and the
    /// accounting sync may have work.
    pub(crate) fn journal(&self) {
        for t in [
            Topic::Dispatch,
            Topic::Plugins,
            Topic::BackOffice,
            Topic::Fulfilment,
            Topic::Invoicing,
            Topic::Accounting,
        ] {
            self.wake(t);
        }
    }
}

/// The shared state of the workers.
#[derive(Debug)]
pub(crate) struct Context {
    pub storage: Arc<dyn Storage>,
    pub cipher: CredentialCipher,
    pub config: EngineConfig,
    pub connectors: connect::Cache,
    pub signals: Signals,
    /// The outbound client of webhook deliveries and plugins, built on
    /// first use.
    pub outbound: tokio::sync::OnceCell<reqwest::Client>,
    /// This process's worker instance id (`wrk_…`): the holder of its leases.
    pub instance: String,
}

/// A new worker instance id: `wrk_`, the start time and 8 random hex
/// digits (unique among the processes sharing a database).
fn instance_id() -> String {
    format!(
        "wrk_{}_{:08x}",
        Clock::wall().format("%Y%m%d%H%M%S"),
        fastrand::u32(..)
    )
}

impl Context {
    pub(crate) fn new(
        storage: Arc<dyn Storage>,
        cipher: CredentialCipher,
        config: EngineConfig,
    ) -> Self {
        Self {
            storage,
            cipher,
            config,
            connectors: connect::Cache::default(),
            signals: Signals::default(),
            outbound: tokio::sync::OnceCell::new(),
            instance: instance_id(),
        }
    }

    /// Now, by the workers' clock.
    pub(crate) fn now(&self) -> DateTime<Utc> {
        self.config.clock.now()
    }

    /// When a holder that has not beaten since is dead.
    pub(crate) fn stale_before(&self, now: DateTime<Utc>) -> DateTime<Utc> {
        now - self.config.stale_after
    }

    /// A claim on due work at `now` by this instance, for the configured
    /// lease.
    pub(crate) fn lease(&self, now: DateTime<Utc>) -> Claim {
        Claim {
            holder: self.instance.clone(),
            now,
            lease: self.config.lease,
            stale_before: self.stale_before(now),
        }
    }

    /// Run `work` (`kind` of work for `key`: a channel's import round, its
    /// stock push, ...) under a lease, so that among the instances sharing
    /// the database only one does it at a time. When another instance holds
    /// it, nothing runs and the report is empty.
    pub(crate) async fn leased<T: Default>(
        &self,
        kind: &str,
        key: &str,
        now: DateTime<Utc>,
        work: impl Future<Output = Result<T, EngineError>>,
    ) -> Result<T, EngineError> {
        if !self.storage.take_lease(kind, key, &self.lease(now)).await? {
            tracing::debug!(kind, key, "held by another instance");
            return Ok(T::default());
        }
        let result = work.await;
        if let Err(e) = self.storage.release_lease(kind, key, &self.instance).await {
            // It runs out by itself, or frees when this instance stops.
            tracing::warn!(kind, key, error = %e, "cannot release a lease");
        }
        result
    }

    /// A random number in `[0, 1)` for a retry's jitter.
    pub(crate) fn unit() -> f64 {
        fastrand::f64()
    }

    /// The outbound client of webhooks and plugins, built on first use.
    pub(crate) async fn outbound_client(&self) -> Result<reqwest::Client, EngineError> {
        let cfg = &self.config;
        self.outbound
            .get_or_try_init(|| async {
                switchyard_connectors::outbound::client(&cfg.outbound, cfg.webhook_timeout)
            })
            .await
            .map_err(|e| EngineError::Setup(format!("cannot build the outbound HTTP client: {e}")))
            .cloned()
    }
}

#[cfg(test)]
mod signal_tests {
    #![allow(clippy::unwrap_used, reason = "tests")]

    use std::time::Duration;

    use super::{Signals, Topic};

    /// Both import lanes hear one import wake (a `Notify` wakes only one
    /// waiter, so the notified lane has its own).
    #[tokio::test]
    async fn an_import_wake_reaches_both_import_lanes() {
        let s = Signals::default();
        s.wake_here(Topic::Import);
        let soon = Duration::from_millis(200);
        tokio::time::timeout(soon, s.of(Topic::Import).notified())
            .await
            .unwrap();
        tokio::time::timeout(soon, s.notified_lane().notified())
            .await
            .unwrap();
        // Another topic's wake is not an import wake.
        s.wake_here(Topic::Push);
        assert!(
            tokio::time::timeout(soon, s.notified_lane().notified())
                .await
                .is_err()
        );
    }
}
