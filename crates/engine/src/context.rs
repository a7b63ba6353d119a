//! What every worker shares: storage, the credential cipher, settings, the
//! clock, built connectors, the wake-ups and this instance's identity.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use switchyard_storage::crypto::CredentialCipher;
use switchyard_storage::{Claim, Storage};
use tokio::sync::Notify;

use crate::{Clock, EngineConfig, EngineError, connect};

/// The wake-ups of the workers: each says "you may have work now".
#[derive(Debug, Default)]
pub(crate) struct Signals {
    /// Import (a job was enqueued, a notification arrived).
    pub import: Notify,
    /// Listings download (a listings job was enqueued).
    pub listings: Notify,
    /// Stock push (stock changed, pushes were enqueued).
    pub push: Notify,
    /// Fulfilment sync (a fulfilment was recorded or changed).
    pub fulfilment: Notify,
    /// Back office (an order was routed to it).
    pub back_office: Notify,
    /// Plugin delivery (an order was routed to a plugin).
    pub plugins: Notify,
    /// Webhook dispatch (the journal grew).
    pub dispatch: Notify,
    /// Webhook delivery (messages were dispatched).
    pub delivery: Notify,
}

impl Signals {
    /// Something changed that any worker may care about (an API write):
    /// every worker looks.
    pub(crate) fn all(&self) {
        for n in [
            &self.import,
            &self.listings,
            &self.push,
            &self.fulfilment,
            &self.back_office,
            &self.plugins,
            &self.dispatch,
            &self.delivery,
        ] {
            n.notify_one();
        }
    }

    /// The journal grew (orders, stock, fulfilments changed): webhooks,
    /// plugins and the back office may have work.
    pub(crate) fn journal(&self) {
        self.dispatch.notify_one();
        self.plugins.notify_one();
        self.back_office.notify_one();
        self.fulfilment.notify_one();
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
