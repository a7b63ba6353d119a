//! Switchyard's workers, each a type with its own state and a `step(now)`
//! that does one bounded round and says what it did:
//!
//! | worker | file | work |
//! |---|---|---|
//! | [`Importer`] | `import/` | two lanes: import rounds of each channel (polling on its cadence, imports asked for, backfills), and notified orders, which never wait behind a round |
//! | [`ListingsDownload`] | `listings.rs` | each channel's listings, on the listings interval or on request |
//! | [`StockPush`] | `stock_push.rs` | due stock quantities to each channel |
//! | [`FulfilmentSync`] | `fulfilment_sync.rs` | shipments, tracking corrections and cancellations to the order's channel |
//! | [`BackOfficeSync`] | `back_office.rs` | marketplace orders to the store's back office and their shipping back |
//! | [`PluginDelivery`] | `plugin_delivery.rs` | routed orders to 3PL plugins |
//! | [`AccountingSync`] | `accounting_sync.rs` | issued invoices and credit notes to the stores' Xero and Sage connections |
//! | [`Invoicing`] | `invoicing.rs` | invoices for orders of stores that invoice by themselves, credit notes for cancelled or refunded orders |
//! | [`WebhookDispatch`] | `webhooks/dispatch.rs` | journal events into webhook messages |
//! | [`WebhookDelivery`] | `webhooks/delivery.rs` | messages to webhook endpoints |
//! | [`Pruner`] | `prune.rs` | old rows nothing needs any more (superseded pushes, delivered webhooks, dispatched journal events, idempotency keys) |
//! | `Heartbeat` | `heartbeat.rs` | this instance's liveness, which frees its leases when it dies |
//!
//! One driver (`driver.rs`) runs them all on [`Engine::run`]: it wakes a
//! worker when told there is work, on its tick and after a busy round, and
//! drains running rounds on shutdown. One clock ([`Clock`]) and one retry
//! policy type (`switchyard_domain::retry::RetryPolicy`, per kind of work
//! in [`Retries`]) serve every worker.
//!
//! All state lives in storage: a process can die at any point and the next
//! one carries on without losing or duplicating work (imports are
//! idempotent upserts, the cursor moves in the transaction of a page,
//! pushes are rows that stay pending until the channel confirms, other
//! work is held under leases that expire).

mod accounting_sync;
mod back_office;
mod clock;
mod config;
mod connect;
mod context;
mod driver;
mod fulfilment_sync;
mod heartbeat;
mod import;
mod invoicing;
mod listings;
pub mod measure;
pub mod plugin_delivery;
mod prune;
mod stock_push;
mod wakeups;
pub use wakeups::relay_api_wakes;
pub mod webhooks;

use std::sync::Arc;

use switchyard_domain::ids::ChannelId;
use switchyard_storage::crypto::CredentialCipher;
use switchyard_storage::{ChannelRef, Storage};
use tokio::sync::{Notify, watch};

pub use accounting_sync::{AccountingSummary, AccountingSync};
pub use back_office::{BackOfficeSummary, BackOfficeSync};
pub use clock::Clock;
pub use config::{Concurrency, EngineConfig, Retries};
pub use driver::Report;
pub use fulfilment_sync::{FulfilmentSync, SyncSummary};
pub use import::{ImportSummary, Importer, Lane};
pub use invoicing::{Invoicing, InvoicingSummary};
pub use listings::{ListingsDownload, ListingsSummary};
pub use plugin_delivery::{PluginDelivery, PluginSummary};
pub use prune::{PruneSummary, Pruner, Retention};
pub use stock_push::{PushSummary, StockPush};
pub use webhooks::delivery::{DeliverySummary, WebhookDelivery};
pub use webhooks::dispatch::WebhookDispatch;

use context::{Context, Topic};
use driver::Driver;
use heartbeat::Heartbeat;

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
    ctx: Arc<Context>,
    /// What the API pokes when it enqueues work or changes stock.
    wake: Arc<Notify>,
    workers: Workers,
}

#[derive(Debug, Clone)]
struct Workers {
    import: Arc<Importer>,
    notified: Arc<Importer>,
    listings: Arc<ListingsDownload>,
    push: Arc<StockPush>,
    fulfilment: Arc<FulfilmentSync>,
    back_office: Arc<BackOfficeSync>,
    plugins: Arc<PluginDelivery>,
    invoicing: Arc<Invoicing>,
    accounting: Arc<AccountingSync>,
    dispatch: Arc<WebhookDispatch>,
    delivery: Arc<WebhookDelivery>,
    heartbeat: Arc<Heartbeat>,
    prune: Arc<Pruner>,
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
        let ctx = Arc::new(Context::new(storage, cipher, config));
        let workers = Workers {
            import: Arc::new(Importer::new(Arc::clone(&ctx), Lane::Rounds)),
            notified: Arc::new(Importer::new(Arc::clone(&ctx), Lane::Notified)),
            listings: Arc::new(ListingsDownload::new(Arc::clone(&ctx))),
            push: Arc::new(StockPush::new(Arc::clone(&ctx))),
            fulfilment: Arc::new(FulfilmentSync::new(Arc::clone(&ctx))),
            back_office: Arc::new(BackOfficeSync::new(Arc::clone(&ctx))),
            plugins: Arc::new(PluginDelivery::new(Arc::clone(&ctx))),
            invoicing: Arc::new(Invoicing::new(Arc::clone(&ctx))),
            accounting: Arc::new(AccountingSync::new(Arc::clone(&ctx))),
            dispatch: Arc::new(WebhookDispatch::new(Arc::clone(&ctx))),
            delivery: Arc::new(WebhookDelivery::new(Arc::clone(&ctx))),
            heartbeat: Arc::new(Heartbeat::new(Arc::clone(&ctx))),
            prune: Arc::new(Pruner::new(Arc::clone(&ctx))),
        };
        Self { ctx, wake, workers }
    }

    /// This process's worker instance id.
    #[must_use]
    pub fn instance(&self) -> &str {
        &self.ctx.instance
    }

    /// The import worker.
    #[must_use]
    pub fn importer(&self) -> &Importer {
        &self.workers.import
    }

    /// The listings download.
    #[must_use]
    pub fn listings(&self) -> &ListingsDownload {
        &self.workers.listings
    }

    /// The stock pusher.
    #[must_use]
    pub fn stock_push(&self) -> &StockPush {
        &self.workers.push
    }

    /// The fulfilment sync.
    #[must_use]
    pub fn fulfilment_sync(&self) -> &FulfilmentSync {
        &self.workers.fulfilment
    }

    /// The back-office worker.
    #[must_use]
    pub fn back_office(&self) -> &BackOfficeSync {
        &self.workers.back_office
    }

    /// The plugin delivery.
    #[must_use]
    pub fn plugin_delivery(&self) -> &PluginDelivery {
        &self.workers.plugins
    }

    /// The invoicing worker.
    #[must_use]
    pub fn invoicing(&self) -> &Invoicing {
        &self.workers.invoicing
    }

    /// The accounting sync.
    #[must_use]
    pub fn accounting(&self) -> &AccountingSync {
        &self.workers.accounting
    }

    /// The webhook dispatch.
    #[must_use]
    pub fn webhook_dispatch(&self) -> &WebhookDispatch {
        &self.workers.dispatch
    }

    /// The webhook delivery.
    #[must_use]
    pub fn webhook_delivery(&self) -> &WebhookDelivery {
        &self.workers.delivery
    }

    /// The pruning worker.
    #[must_use]
    pub fn pruner(&self) -> &Pruner {
        &self.workers.prune
    }

    /// One import round of a channel, now (benchmarks and tests).
    pub async fn import_channel(&self, r: &ChannelRef) -> Result<ImportSummary, EngineError> {
        self.workers.import.round(r, self.ctx.now()).await
    }

    /// Push everything due on every channel, now.
    pub async fn push_due(&self) -> Result<PushSummary, EngineError> {
        self.workers.push.step(self.ctx.now()).await
    }

    /// Wake the pusher (after work that enqueued pushes).
    pub fn wake_pusher(&self) {
        self.ctx.signals.wake(Topic::Push);
    }

    /// Run every worker until `shutdown` turns true, then drain their
    /// running rounds and say this instance stopped (its leases are free at
    /// once for the next process).
    pub async fn run(&self, shutdown: watch::Receiver<bool>) {
        let ctx = &self.ctx;
        tracing::info!(instance = %ctx.instance, "engine started");
        if let Err(e) = ctx
            .storage
            .register_instance(&ctx.instance, ctx.now())
            .await
        {
            tracing::error!(error = %e, "cannot register the worker instance");
        }
        let mut driver = Driver::default();
        let w = &self.workers;
        driver.add(&w.heartbeat, &shutdown);
        driver.add(&w.import, &shutdown);
        driver.add(&w.notified, &shutdown);
        driver.add(&w.listings, &shutdown);
        driver.add(&w.push, &shutdown);
        driver.add(&w.fulfilment, &shutdown);
        driver.add(&w.back_office, &shutdown);
        driver.add(&w.plugins, &shutdown);
        driver.add(&w.invoicing, &shutdown);
        driver.add(&w.accounting, &shutdown);
        driver.add(&w.dispatch, &shutdown);
        driver.add(&w.delivery, &shutdown);
        driver.add(&w.prune, &shutdown);
        // Wake-ups across the instances sharing the database.
        match ctx.storage.wakeups().await {
            Ok(Some(incoming)) => {
                let (out, wakes) = tokio::sync::mpsc::unbounded_channel();
                ctx.signals.publish_to(out);
                driver.spawn(wakeups::publish(Arc::clone(ctx), wakes, shutdown.clone()));
                driver.spawn(wakeups::listen(Arc::clone(ctx), incoming, shutdown.clone()));
                tracing::info!("listening for the other instances' wake-ups");
            }
            Ok(None) => {}
            Err(e) => tracing::warn!(error = %e, "cannot listen for wake-ups; ticks find the work"),
        }
        // The API's poke: any worker may have work.
        let (wake, ctx2, mut stop) = (Arc::clone(&self.wake), Arc::clone(ctx), shutdown.clone());
        driver.spawn(async move {
            loop {
                tokio::select! {
                    () = wake.notified() => ctx2.signals.all(),
                    r = stop.wait_for(|s| *s) => { let _ = r; break; }
                }
            }
        });
        driver.join().await;
        if let Err(e) = ctx.storage.stop_instance(&ctx.instance, ctx.now()).await {
            tracing::error!(error = %e, "cannot record the instance's stop");
        }
        tracing::info!("engine stopped");
    }
}

/// Channels by id, for per-channel worker state.
pub(crate) type ByChannel<T> = std::sync::Mutex<std::collections::HashMap<ChannelId, T>>;
