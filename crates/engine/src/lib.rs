//! Switchyard's workers: the import scheduler (polling on each channel's
//! cadence, jobs requested through the API, inbound notifications), the
//! listings download, and the stock pusher.
//!
//! Every worker is steppable: [`Engine::import_channel`] and
//! [`Engine::push_due`] do one bounded round and return what they did, so
//! tests drive them deterministically; [`Engine::run`] loops over them until
//! shut down. All state lives in storage: a process can die at any point
//! and the next one carries on without losing or duplicating work (imports
//! are idempotent upserts, the cursor moves in the transaction of the last
//! page, pushes are rows that stay pending until the channel confirms).

mod connect;
mod import;
mod push;

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use switchyard_connectors::http::HttpPolicy;
use switchyard_domain::ids::ChannelId;
use switchyard_storage::Storage;
use switchyard_storage::crypto::CredentialCipher;
use tokio::sync::{Notify, watch};

pub use import::ImportSummary;
pub use push::PushSummary;

/// Settings of the workers.
#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// The base URL channels can reach this server's API at, for order
    /// notifications (`{public_url}/v1/inbound/{channel_id}`). `None` turns
    /// notifications off (polling only).
    pub public_url: Option<String>,
    /// How far back the first import of a channel reaches.
    pub initial_lookback: chrono::Duration,
    /// Overlap of consecutive fetches.
    pub overlap: chrono::Duration,
    /// How often listings are downloaded again (when the switch is on).
    pub listings_interval: chrono::Duration,
    /// How often the scheduler looks for due work when nothing wakes it.
    pub tick: Duration,
    /// Imports running at once.
    pub import_concurrency: usize,
    /// Most pages read in one import run (bounds a run; the rest follows
    /// in the next run from the advanced cursor).
    pub max_pages: usize,
    /// Timeouts, retries and limits of channel traffic.
    pub http: HttpPolicy,
}

impl Default for EngineConfig {
    fn default() -> Self {
        Self {
            public_url: None,
            initial_lookback: chrono::Duration::days(30),
            overlap: switchyard_domain::cursor::DEFAULT_OVERLAP,
            listings_interval: chrono::Duration::hours(1),
            tick: Duration::from_millis(250),
            import_concurrency: 4,
            max_pages: 500,
            http: HttpPolicy::default(),
        }
    }
}

/// `base_secs · 2^attempts` seconds, capped at `cap`: the one backoff
/// schedule of the workers (failing import rounds, jobs, stock pushes).
pub(crate) fn doubling(base_secs: i64, attempts: i64, cap: chrono::Duration) -> chrono::Duration {
    let secs = base_secs.saturating_mul(1 << attempts.clamp(0, 16));
    chrono::Duration::seconds(secs).min(cap)
}

/// Why a worker step failed (storage trouble; channel trouble is recorded
/// on the channel instead).
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// Storage failed.
    #[error(transparent)]
    Storage(#[from] switchyard_storage::StorageError),
}

/// The workers, sharing storage, the credential cipher and connectors.
#[derive(Debug, Clone)]
pub struct Engine {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    storage: Arc<dyn Storage>,
    cipher: CredentialCipher,
    config: EngineConfig,
    connectors: connect::Cache,
    /// Wakes the scheduler (a job was enqueued, a notification arrived).
    wake_import: Arc<Notify>,
    /// Wakes the pusher (stock changed).
    wake_push: Arc<Notify>,
    running: Mutex<HashSet<ChannelId>>,
}

impl Engine {
    /// Workers over `storage`. `wake` is the handle the API pokes when it
    /// enqueues work or changes stock.
    #[must_use]
    pub fn new(
        storage: Arc<dyn Storage>,
        cipher: CredentialCipher,
        config: EngineConfig,
        wake: Arc<Notify>,
    ) -> Self {
        Self {
            inner: Arc::new(Inner {
                storage,
                cipher,
                config,
                connectors: connect::Cache::default(),
                wake_import: wake,
                wake_push: Arc::new(Notify::new()),
                running: Mutex::new(HashSet::new()),
            }),
        }
    }

    /// Run the scheduler and the pusher until `shutdown` turns true.
    pub async fn run(&self, mut shutdown: watch::Receiver<bool>) {
        tracing::info!("engine started");
        let importer = {
            let this = self.clone();
            let mut stop = shutdown.clone();
            tokio::spawn(async move { this.import_loop(&mut stop).await })
        };
        let pusher = {
            let this = self.clone();
            let mut stop = shutdown.clone();
            tokio::spawn(async move { this.push_loop(&mut stop).await })
        };
        let _ = shutdown.wait_for(|s| *s).await;
        let _ = importer.await;
        let _ = pusher.await;
        tracing::info!("engine stopped");
    }

    async fn import_loop(&self, stop: &mut watch::Receiver<bool>) {
        let limit = self.inner.config.import_concurrency.max(1);
        let sem = Arc::new(tokio::sync::Semaphore::new(limit));
        loop {
            if *stop.borrow() {
                return;
            }
            match self
                .inner
                .storage
                .due_channels(chrono::Utc::now(), 100)
                .await
            {
                Ok(due) => {
                    for ch in due {
                        let Ok(permit) = Arc::clone(&sem).try_acquire_owned() else {
                            break;
                        };
                        if !self.claim_running(&ch.channel_id) {
                            continue;
                        }
                        let this = self.clone();
                        tokio::spawn(async move {
                            if let Err(e) = this.import_channel(&ch).await {
                                tracing::error!(channel = %ch.channel_id, error = %e, "import round failed");
                            }
                            this.release_running(&ch.channel_id);
                            drop(permit);
                        });
                    }
                }
                Err(e) => tracing::error!(error = %e, "cannot read due channels"),
            }
            tokio::select! {
                // The API's poke may also mean stock changed.
                () = self.inner.wake_import.notified() => self.wake_pusher(),
                () = tokio::time::sleep(self.inner.config.tick) => {}
                _ = stop.changed() => {}
            }
        }
    }

    async fn push_loop(&self, stop: &mut watch::Receiver<bool>) {
        loop {
            if *stop.borrow() {
                return;
            }
            if let Err(e) = self.push_due().await {
                tracing::error!(error = %e, "stock push round failed");
            }
            tokio::select! {
                () = self.inner.wake_push.notified() => {}
                () = tokio::time::sleep(self.inner.config.tick) => {}
                _ = stop.changed() => {}
            }
        }
    }

    fn claim_running(&self, id: &ChannelId) -> bool {
        self.inner
            .running
            .lock()
            .map(|mut r| r.insert(id.clone()))
            .unwrap_or(false)
    }

    fn release_running(&self, id: &ChannelId) {
        if let Ok(mut r) = self.inner.running.lock() {
            r.remove(id);
        }
    }

    /// Wake the pusher (after an import enqueued pushes).
    pub fn wake_pusher(&self) {
        self.inner.wake_push.notify_one();
    }
}
