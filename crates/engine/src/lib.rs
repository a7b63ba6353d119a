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

mod back_office;
mod connect;
mod fulfil;
mod import;
mod push;
pub mod routing;
pub mod webhooks;

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use switchyard_connectors::http::HttpPolicy;
use switchyard_domain::ids::ChannelId;
use switchyard_domain::webhook::AddressPolicy;
use switchyard_storage::Storage;
use switchyard_storage::crypto::CredentialCipher;
use tokio::sync::{Notify, watch};

pub use back_office::BackOfficeSummary;
pub use fulfil::SyncSummary;
pub use import::ImportSummary;
pub use push::PushSummary;
pub use routing::RoutingSummary;
pub use webhooks::DeliverySummary;

/// The workers' clock: the system clock, moved forward by an offset that
/// tests set (waits of hours, backoffs) without waiting.
#[derive(Debug, Clone, Default)]
pub struct Clock {
    offset_ms: Arc<std::sync::atomic::AtomicI64>,
}

impl Clock {
    /// Now, by this clock.
    #[must_use]
    pub fn now(&self) -> chrono::DateTime<chrono::Utc> {
        chrono::Utc::now()
            + chrono::Duration::milliseconds(
                self.offset_ms.load(std::sync::atomic::Ordering::SeqCst),
            )
    }

    /// Move this clock (and every copy of it) forward.
    pub fn advance(&self, by: chrono::Duration) {
        self.offset_ms
            .fetch_add(by.num_milliseconds(), std::sync::atomic::Ordering::SeqCst);
    }
}

/// Settings of the workers.
#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// The base URL channels can reach this server's API at, for order
    /// notifications (`{public_url}/v1/inbound/{channel_id}`). `None` turns
    /// notifications off (polling only).
    pub public_url: Option<String>,
    /// How far back the first import of a channel reaches.
    pub initial_lookback: chrono::Duration,
    /// Overlap of consecutive fetches: how late an order may show up in a
    /// channel's list (after its `updated_at`) and still be read.
    pub overlap: chrono::Duration,
    /// Overlap of the quick reads of a channel polled much more often than
    /// `overlap`: each round reads from just before its cursor, and the whole
    /// overlap is swept again every half overlap, after that round's quick read.
    pub short_overlap: chrono::Duration,
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
    /// How long a worker holds a fulfilment sync or back-office step it
    /// started; a process that dies mid-call leaves it to expire, and the
    /// next attempt looks at the channel before creating anything.
    pub lease: chrono::Duration,
    /// How often the back-office worker looks for work.
    pub back_office_tick: Duration,
    /// The workers' clock.
    pub clock: Clock,
    /// Where webhook (and plugin) requests may connect: public addresses
    /// plus the operator's allow-list.
    pub outbound: AddressPolicy,
    /// How long a webhook endpoint has to answer (a slower answer is a
    /// failed attempt).
    pub webhook_timeout: Duration,
    /// Deliveries in flight per webhook endpoint, across workers.
    pub webhook_concurrency: u32,
    /// How often this process tells the database it is alive.
    pub heartbeat: Duration,
    /// A worker instance that has not beaten for this long is dead: its
    /// leases are free at once, however long they were taken for.
    pub stale_after: chrono::Duration,
}

impl Default for EngineConfig {
    fn default() -> Self {
        Self {
            public_url: None,
            initial_lookback: chrono::Duration::days(30),
            overlap: switchyard_domain::cursor::DEFAULT_OVERLAP,
            short_overlap: chrono::Duration::seconds(10),
            listings_interval: chrono::Duration::hours(1),
            tick: Duration::from_millis(250),
            import_concurrency: 4,
            max_pages: 500,
            http: HttpPolicy::default(),
            lease: chrono::Duration::minutes(5),
            back_office_tick: Duration::from_secs(1),
            clock: Clock::default(),
            outbound: AddressPolicy::default(),
            webhook_timeout: Duration::from_secs(15),
            webhook_concurrency: 4,
            heartbeat: Duration::from_secs(2),
            stale_after: chrono::Duration::seconds(switchyard_storage::WORKER_STALE_AFTER_SECS),
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
    /// The worker cannot be set up (its HTTP client, ...).
    #[error("{0}")]
    Setup(String),
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
    /// Wakes the fulfilment sync (a fulfilment was recorded).
    wake_ship: Arc<Notify>,
    /// Channels with an import round running.
    running: Mutex<HashSet<ChannelId>>,
    /// Channels with a push round running.
    pushing: Mutex<HashSet<ChannelId>>,
    /// When each fast-polled channel's overlap was last swept (in memory: a
    /// new process sweeps first).
    swept: Mutex<std::collections::HashMap<ChannelId, chrono::DateTime<chrono::Utc>>>,
    /// The outbound client of webhook deliveries, built on first use.
    webhook_client: tokio::sync::OnceCell<reqwest::Client>,
    /// This process's worker instance id (`wrk_…`): the holder of its leases.
    instance: String,
}

/// A new worker instance id: `wrk_`, the start time and 8 random hex
/// digits (unique among the processes sharing a database).
fn instance_id() -> String {
    format!(
        "wrk_{}_{:08x}",
        chrono::Utc::now().format("%Y%m%d%H%M%S"),
        fastrand::u32(..)
    )
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
                wake_ship: Arc::new(Notify::new()),
                running: Mutex::new(HashSet::new()),
                pushing: Mutex::new(HashSet::new()),
                swept: Mutex::new(std::collections::HashMap::new()),
                webhook_client: tokio::sync::OnceCell::new(),
                instance: instance_id(),
            }),
        }
    }

    /// This process's worker instance id.
    #[must_use]
    pub fn instance(&self) -> &str {
        &self.inner.instance
    }

    /// When a holder that has not beaten since is dead.
    pub(crate) fn stale_before(
        &self,
        now: chrono::DateTime<chrono::Utc>,
    ) -> chrono::DateTime<chrono::Utc> {
        now - self.inner.config.stale_after
    }

    /// A claim on due work at `now` by this instance, for the configured
    /// lease.
    pub(crate) fn lease(&self, now: chrono::DateTime<chrono::Utc>) -> switchyard_storage::Claim {
        switchyard_storage::Claim {
            holder: self.inner.instance.clone(),
            now,
            lease: self.inner.config.lease,
            stale_before: self.stale_before(now),
        }
    }

    /// Beat until `stop`, then say this instance stopped (its leases are
    /// free at once for the next process).
    async fn heartbeat_loop(&self, stop: &mut watch::Receiver<bool>) {
        let id = &self.inner.instance;
        loop {
            if let Err(e) = self.inner.storage.beat(id, chrono::Utc::now()).await {
                tracing::error!(error = %e, "heartbeat failed");
            }
            tokio::select! {
                () = tokio::time::sleep(self.inner.config.heartbeat) => {}
                _ = stop.wait_for(|s| *s) => break,
            }
        }
        if let Err(e) = self
            .inner
            .storage
            .stop_instance(id, chrono::Utc::now())
            .await
        {
            tracing::error!(error = %e, "cannot record the instance's stop");
        }
    }

    /// Run the scheduler and the pusher until `shutdown` turns true.
    pub async fn run(&self, mut shutdown: watch::Receiver<bool>) {
        tracing::info!(instance = %self.inner.instance, "engine started");
        if let Err(e) = self
            .inner
            .storage
            .register_instance(&self.inner.instance, chrono::Utc::now())
            .await
        {
            tracing::error!(error = %e, "cannot register the worker instance");
        }
        let heart = {
            let this = self.clone();
            let mut stop = shutdown.clone();
            tokio::spawn(async move { this.heartbeat_loop(&mut stop).await })
        };
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
        let shipper = {
            let this = self.clone();
            let mut stop = shutdown.clone();
            tokio::spawn(async move { this.shipping_loop(&mut stop).await })
        };
        let notifier = {
            let this = self.clone();
            let mut stop = shutdown.clone();
            tokio::spawn(async move { this.webhook_loop(&mut stop).await })
        };
        let _ = shutdown.wait_for(|s| *s).await;
        let _ = importer.await;
        let _ = pusher.await;
        let _ = shipper.await;
        let _ = notifier.await;
        let _ = heart.await;
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
                .due_channels(
                    chrono::Utc::now(),
                    100,
                    self.stale_before(chrono::Utc::now()),
                )
                .await
            {
                Ok(due) => {
                    for ch in due {
                        let Ok(permit) = Arc::clone(&sem).try_acquire_owned() else {
                            break;
                        };
                        if !self.claim(&self.inner.running, &ch.channel_id) {
                            continue;
                        }
                        let this = self.clone();
                        tokio::spawn(async move {
                            if let Err(e) = this.import_channel(&ch).await {
                                tracing::error!(channel = %ch.channel_id, error = %e, "import round failed");
                            }
                            this.release(&this.inner.running, &ch.channel_id);
                            drop(permit);
                            // Work that arrived during the round (notified
                            // orders) is looked at now, not at the next tick.
                            this.inner.wake_import.notify_one();
                        });
                    }
                }
                Err(e) => tracing::error!(error = %e, "cannot read due channels"),
            }
            tokio::select! {
                // The API's poke may also mean stock changed or a
                // fulfilment was recorded.
                () = self.inner.wake_import.notified() => {
                    self.wake_pusher();
                    self.inner.wake_ship.notify_one();
                }
                () = tokio::time::sleep(self.inner.config.tick) => {}
                _ = stop.changed() => {}
            }
        }
    }

    /// Push each channel on its own task, so a slow or throttled channel
    /// never holds back the others; a channel whose round ends wakes the
    /// loop, which looks again at once for what became due meanwhile.
    async fn push_loop(&self, stop: &mut watch::Receiver<bool>) {
        let mut rounds = tokio::task::JoinSet::new();
        loop {
            if *stop.borrow() {
                break;
            }
            match self
                .inner
                .storage
                .channels_with_due_pushes(chrono::Utc::now())
                .await
            {
                Ok(due) => {
                    for ch in due {
                        if !self.claim(&self.inner.pushing, &ch.channel_id) {
                            continue;
                        }
                        let this = self.clone();
                        rounds.spawn(async move {
                            if let Err(e) = this.push_channel(&ch).await {
                                tracing::error!(channel = %ch.channel_id, error = %e, "stock push round failed");
                            }
                            this.release(&this.inner.pushing, &ch.channel_id);
                            this.wake_pusher();
                        });
                    }
                }
                Err(e) => tracing::error!(error = %e, "cannot read channels with due pushes"),
            }
            // Reap finished rounds.
            while rounds.try_join_next().is_some() {}
            tokio::select! {
                () = self.inner.wake_push.notified() => {}
                () = tokio::time::sleep(self.inner.config.tick) => {}
                _ = stop.changed() => {}
            }
        }
        while rounds.join_next().await.is_some() {}
    }

    /// Fulfilment syncs every tick; the back office every `back_office_tick`.
    async fn shipping_loop(&self, stop: &mut watch::Receiver<bool>) {
        let mut last_back_office: Option<tokio::time::Instant> = None;
        loop {
            if *stop.borrow() {
                return;
            }
            if last_back_office.is_none_or(|t| t.elapsed() >= self.inner.config.back_office_tick) {
                last_back_office = Some(tokio::time::Instant::now());
                if let Err(e) = self.back_office_round().await {
                    tracing::error!(error = %e, "back-office round failed");
                }
            }
            if let Err(e) = self.sync_fulfilments().await {
                tracing::error!(error = %e, "fulfilment sync round failed");
            }
            tokio::select! {
                () = self.inner.wake_ship.notified() => {}
                () = tokio::time::sleep(self.inner.config.tick) => {}
                _ = stop.changed() => {}
            }
        }
    }

    /// Dispatch journal events to webhook messages, deliver what is due,
    /// and send orders to plugins, every tick (at once again while a round
    /// found work).
    async fn webhook_loop(&self, stop: &mut watch::Receiver<bool>) {
        loop {
            if *stop.borrow() {
                return;
            }
            let mut busy = false;
            match self.dispatch_webhooks().await {
                Ok(n) => busy |= n > 0,
                Err(e) => tracing::error!(error = %e, "webhook dispatch round failed"),
            }
            match self.deliver_webhooks().await {
                Ok(d) => busy |= d.attempted > 0,
                Err(e) => tracing::error!(error = %e, "webhook delivery round failed"),
            }
            match self.deliver_plugin_messages().await {
                Ok(d) => busy |= d.attempted > 0,
                Err(e) => tracing::error!(error = %e, "plugin send round failed"),
            }
            if busy {
                continue;
            }
            tokio::select! {
                () = tokio::time::sleep(self.inner.config.tick) => {}
                _ = stop.changed() => {}
            }
        }
    }

    /// Now, by the workers' clock.
    pub(crate) fn now(&self) -> chrono::DateTime<chrono::Utc> {
        self.inner.config.clock.now()
    }

    /// Mark `id` busy in `set`; false when it already was.
    fn claim(&self, set: &Mutex<HashSet<ChannelId>>, id: &ChannelId) -> bool {
        set.lock()
            .map(|mut r| r.insert(id.clone()))
            .unwrap_or(false)
    }

    fn release(&self, set: &Mutex<HashSet<ChannelId>>, id: &ChannelId) {
        if let Ok(mut r) = set.lock() {
            r.remove(id);
        }
    }

    /// Wake the pusher (after an import enqueued pushes).
    pub fn wake_pusher(&self) {
        self.inner.wake_push.notify_one();
    }
}
