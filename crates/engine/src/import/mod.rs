//! The import worker: one round per due channel registers notifications,
//! runs requested jobs (an import now, a backfill, notified orders: those
//! claimed together are fetched at once and stored as one page), and
//! (when due) fetches everything changed since the cursor.
//!
//! Each page is upserted in one transaction with its commitments and journal
//! events, and marks the SKUs whose available stock it changed: the stock
//! pusher recomputes their targets once for every page that marked them
//! since its last look, and pushes them. The round's advancing read commits
//! its resume point (window, the channel's token for the next page, newest
//! `updated_at` so far) with each page, and moves the cursor to the newest
//! `updated_at` read with its last page. A round cut short (a crash, a
//! failed page, the page limit) goes on from the resume point, so it costs
//! at most the page that was in flight; the idempotent upsert removes what
//! is read twice. An order that cannot be mapped (or stored) is recorded in
//! the channel's error list and the round goes on with the others. When the
//! database itself is away (restarting, out of connections), the round
//! stops where it is, and the next one goes on from the last page stored.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde_json::json;
use switchyard_connectors::channel::{OrderPage, SalesChannel};
use switchyard_connectors::{ConnectorError, registry};
use switchyard_domain::cursor::{CursorMove, next_round};
use switchyard_domain::retry::failures;
use switchyard_storage::{
    Channel, ChannelRef, ImportItem, ImportOutcome, ImportRun, Job, JobKind, NewImportError,
    StorageError,
};

mod reads;

use reads::Ended;

use crate::context::{Context, Signals, Topic};
use crate::driver::{Report, Worker};
use crate::{ByChannel, EngineError, connect};

/// What one round did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImportSummary {
    /// Pages read.
    pub pages: usize,
    /// Orders inserted.
    pub created: usize,
    /// Orders changed.
    pub updated: usize,
    /// Orders read again without change.
    pub unchanged: usize,
    /// Orders not imported (unpaid, cancelled before import, ...).
    pub skipped: usize,
    /// Orders recorded as import errors.
    pub failed: usize,
    /// SKUs whose available stock the round changed: the stock pusher
    /// recomputes their targets ([`crate::StockPush::settle`]).
    pub stock_changed: usize,
    /// Jobs run.
    pub jobs: usize,
    /// The channel error that ended the round, if any.
    pub error: Option<String>,
}

impl ImportSummary {
    fn add(&mut self, outcomes: &[ImportOutcome], stock_changed: usize) {
        for o in outcomes {
            match o {
                ImportOutcome::Created { .. } => self.created += 1,
                ImportOutcome::Updated { .. } => self.updated += 1,
                ImportOutcome::Unchanged { .. } => self.unchanged += 1,
                ImportOutcome::Skipped { .. } => self.skipped += 1,
            }
        }
        self.stock_changed += stock_changed;
    }
}

impl Report for ImportSummary {
    fn merge(&mut self, o: Self) {
        self.pages += o.pages;
        self.created += o.created;
        self.updated += o.updated;
        self.unchanged += o.unchanged;
        self.skipped += o.skipped;
        self.failed += o.failed;
        self.stock_changed += o.stock_changed;
        self.jobs += o.jobs;
        self.error = self.error.take().or(o.error);
    }

    fn busy(&self) -> bool {
        self.created + self.updated + self.jobs > 0
    }
}

/// Which import work an [`Importer`] takes. Notified orders have a lane of
/// their own, with its own slots and lease, so that an order a channel
/// announced never waits behind a round sweeping a channel's overlap, nor
/// for a slot another channel's round holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lane {
    /// Scheduled rounds (cursor, overlap sweeps), imports asked for now,
    /// backfills.
    Rounds,
    /// Notified orders (and their retries), up to `order_batch` per round,
    /// fetched together.
    Notified,
}

impl Lane {
    /// The jobs the lane claims.
    fn kinds(self) -> &'static [JobKind] {
        match self {
            Self::Rounds => &JobKind::ROUNDS,
            Self::Notified => &[JobKind::Order],
        }
    }

    /// The lease a channel's work in this lane is held under.
    fn lease(self) -> &'static str {
        match self {
            Self::Rounds => "import",
            Self::Notified => "import_notified",
        }
    }
}

/// An import worker (one per [`Lane`]), with what it keeps between rounds.
#[derive(Debug)]
pub struct Importer {
    ctx: Arc<Context>,
    lane: Lane,
    /// When each fast-polled channel's overlap was last swept (in memory: a
    /// new process sweeps first).
    swept: ByChannel<DateTime<Utc>>,
}

impl Worker for Importer {
    type Unit = ChannelRef;
    type Report = ImportSummary;
    const NAME: &'static str = "import";

    fn context(&self) -> &Context {
        &self.ctx
    }

    fn key(unit: &ChannelRef) -> String {
        unit.channel_id.to_string()
    }

    async fn due(&self, now: DateTime<Utc>, room: usize) -> Result<Vec<ChannelRef>, EngineError> {
        let limit = u32::try_from(room.min(100)).unwrap_or(100);
        let stale = self.ctx.stale_before(now);
        let lane = self.lane;
        let scheduled = lane == Lane::Rounds;
        Ok(self
            .ctx
            .storage
            .due_channels(now, limit, stale, lane.kinds(), scheduled)
            .await?)
    }

    async fn run(
        &self,
        unit: ChannelRef,
        now: DateTime<Utc>,
    ) -> Result<ImportSummary, EngineError> {
        let key = unit.channel_id.to_string();
        self.ctx
            .leased(self.lane.lease(), &key, now, self.round(&unit, now))
            .await
    }

    fn concurrency(&self) -> usize {
        match self.lane {
            Lane::Rounds => self.ctx.config.concurrency.import,
            Lane::Notified => self.ctx.config.concurrency.notified,
        }
    }

    fn signal(&self) -> &tokio::sync::Notify {
        match self.lane {
            Lane::Rounds => self.ctx.signals.of(Topic::Import),
            Lane::Notified => self.ctx.signals.notified_lane(),
        }
    }

    fn after(&self, report: &ImportSummary) {
        after_import(&self.ctx.signals, report);
    }
}

/// Wake the workers an import's changes give work to.
fn after_import(signals: &Signals, report: &ImportSummary) {
    if report.stock_changed > 0 {
        signals.wake(Topic::Push);
    }
    if report.created + report.updated > 0 {
        signals.journal();
    }
}

/// Why reading a window or running a job stopped.
#[derive(Debug)]
enum Stop {
    /// The channel failed (recorded on the channel or the job).
    Channel(ConnectorError),
    /// The database is away for a moment: the round ends without moving
    /// the cursor or settling the job, and the next one reads again.
    Database(StorageError),
}

impl From<ConnectorError> for Stop {
    fn from(e: ConnectorError) -> Self {
        Self::Channel(e)
    }
}

impl Importer {
    pub(crate) fn new(ctx: Arc<Context>, lane: Lane) -> Self {
        Self {
            ctx,
            lane,
            swept: ByChannel::default(),
        }
    }

    /// Run a round of every channel due at `now`.
    pub async fn step(&self, now: DateTime<Utc>) -> Result<ImportSummary, EngineError> {
        crate::driver::step(self, now).await
    }

    /// Run one import round of a channel (see the module docs).
    #[tracing::instrument(skip_all, fields(channel = %r.channel_id))]
    pub async fn round(
        &self,
        r: &ChannelRef,
        started: DateTime<Utc>,
    ) -> Result<ImportSummary, EngineError> {
        let (ch, conn) = connect::open(&self.ctx, r).await?;
        let channel = ch.kind.as_str();
        let summary = self.round_with(r, ch, conn, started).await?;
        crate::measure::import_round(channel, self.lane.lease(), &summary);
        Ok(summary)
    }

    /// [`Importer::round`] with the channel and its connector opened.
    async fn round_with(
        &self,
        r: &ChannelRef,
        ch: Channel,
        conn: Result<Arc<dyn SalesChannel>, String>,
        started: DateTime<Utc>,
    ) -> Result<ImportSummary, EngineError> {
        let inner = &*self.ctx;
        let cadence = chrono::Duration::seconds(i64::from(ch.settings.cadence_secs));
        let mut summary = ImportSummary::default();
        let claim = match self.lane {
            Lane::Rounds => 20,
            Lane::Notified => inner.config.order_batch.max(1),
        };
        let jobs = inner
            .storage
            .claim_jobs(r, self.lane.kinds(), &inner.lease(started), claim)
            .await?;
        let rounds = self.lane == Lane::Rounds;
        if !rounds && jobs.is_empty() {
            return Ok(summary);
        }
        let conn = match conn {
            Ok(c) => c,
            Err(e) => {
                for job in &jobs {
                    inner
                        .storage
                        .finish_job(job.id, Some(e.clone()), None)
                        .await?;
                }
                if rounds {
                    self.finish(r, &ch, started, Some(e.clone()), cadence)
                        .await?;
                }
                summary.error = Some(e);
                return Ok(summary);
            }
        };
        if rounds {
            self.ensure_notifications(r, &ch, conn.as_ref()).await?;
        }
        let mut error = None;
        let mut run_incremental = rounds && ch.sync.next_import_at.is_none_or(|t| t <= started);
        let (orders, jobs): (Vec<Job>, Vec<Job>) =
            jobs.into_iter().partition(|j| j.kind == JobKind::Order);
        if !orders.is_empty() {
            summary.jobs += orders.len();
            let results = self.orders(r, conn.as_ref(), &orders, &mut summary).await?;
            for (job, result) in orders.iter().zip(results) {
                self.settle_job(job, result).await?;
            }
        }
        for job in jobs {
            summary.jobs += 1;
            let result = match job.kind {
                JobKind::Import => {
                    run_incremental = true;
                    Ok(())
                }
                // Taken by the listings download, never claimed here.
                JobKind::Listings => Ok(()),
                JobKind::Backfill => {
                    match self.backfill(r, conn.as_ref(), &job, &mut summary).await {
                        // Released at once for its next attempt, which goes
                        // on from the recorded page.
                        Ok(Ended::PageLimit) => {
                            inner
                                .storage
                                .finish_job(job.id, None, Some(started))
                                .await?;
                            continue;
                        }
                        Ok(Ended::Done) => Ok(()),
                        Err(e) => Err(e),
                    }
                }
                // Taken above, all together.
                JobKind::Order => Ok(()),
            };
            let result = match result {
                Ok(()) => Ok(()),
                Err(Stop::Channel(e)) => Err(e),
                // The job stays leased and is taken up again after its lease.
                Err(Stop::Database(e)) => return Err(e.into()),
            };
            self.settle_job(&job, result).await?;
        }
        let mut more = false;
        if run_incremental && error.is_none() {
            for read in self.windows(r, &ch, conn.capabilities(), started) {
                match self
                    .fetch_window(r, conn.as_ref(), read, started, &mut summary, None)
                    .await
                {
                    Ok(Ended::Done) => {}
                    Ok(Ended::PageLimit) => more = true,
                    Err(Stop::Channel(e)) => {
                        error = Some(e.to_string());
                        break;
                    }
                    Err(Stop::Database(e)) => return Err(e.into()),
                }
            }
        }
        if run_incremental || error.is_some() {
            // A read stopped by the page limit goes on at once.
            let cadence = if more {
                chrono::Duration::zero()
            } else {
                cadence
            };
            self.finish(r, &ch, started, error.clone(), cadence).await?;
        }
        summary.error = error;
        tracing::info!(
            created = summary.created,
            updated = summary.updated,
            unchanged = summary.unchanged,
            skipped = summary.skipped,
            failed = summary.failed,
            pages = summary.pages,
            stock_changed = summary.stock_changed,
            error = summary.error.as_deref().unwrap_or(""),
            lane = ?self.lane,
            "import round done"
        );
        Ok(summary)
    }

    async fn finish(
        &self,
        r: &ChannelRef,
        ch: &Channel,
        started: DateTime<Utc>,
        error: Option<String>,
        cadence: chrono::Duration,
    ) -> Result<(), EngineError> {
        let next = match &error {
            None => next_round(started, cadence, Context::unit()),
            // A failing channel backs off, never later than its cadence.
            Some(_) => {
                let policy = &self.ctx.config.retry.import;
                let wait = policy
                    .wait(failures(ch.sync.failures) + 1, Context::unit())
                    .unwrap_or(cadence);
                self.ctx.now() + wait.min(cadence)
            }
        };
        if let Some(e) = &error {
            tracing::warn!(channel = %r.channel_id, error = %e, "import failed; retrying later");
        }
        self.ctx
            .storage
            .finish_import_run(
                r,
                ImportRun {
                    started_at: started,
                    error,
                    next_import_at: next,
                },
            )
            .await?;
        Ok(())
    }

    async fn settle_job(
        &self,
        job: &Job,
        result: Result<(), ConnectorError>,
    ) -> Result<(), EngineError> {
        let storage = &self.ctx.storage;
        let retry = self
            .ctx
            .config
            .retry
            .jobs
            .wait(failures(job.attempts), Context::unit());
        match (result, retry) {
            (Ok(()), _) => storage.finish_job(job.id, None, None).await?,
            (Err(e), Some(wait)) if e.is_retryable() => {
                storage
                    .finish_job(job.id, Some(e.to_string()), Some(self.ctx.now() + wait))
                    .await?;
            }
            (Err(e), _) => {
                storage
                    .finish_job(job.id, Some(e.to_string()), None)
                    .await?
            }
        }
        Ok(())
    }

    /// Register for order notifications once, when switched on and the
    /// server has a public URL.
    async fn ensure_notifications(
        &self,
        r: &ChannelRef,
        ch: &Channel,
        conn: &dyn SalesChannel,
    ) -> Result<(), EngineError> {
        let inner = &*self.ctx;
        let Some(base) = &inner.config.public_url else {
            return Ok(());
        };
        if !ch.settings.push_notifications
            || !conn.capabilities().push_notifications
            || ch.sync.notifications_at.is_some()
        {
            return Ok(());
        }
        let url = format!("{}/v1/inbound/{}", base.trim_end_matches('/'), r.channel_id);
        let outcome = match conn.subscribe_notifications(&url).await {
            Ok(None) => None,
            Ok(Some(secret)) => self.store_secret(r, ch, &secret).await.err(),
            Err(e) => Some(e.to_string()),
        };
        if let Some(e) = &outcome {
            tracing::warn!(channel = %r.channel_id, error = %e, "order notifications not registered; polling only");
        } else {
            tracing::info!(channel = %r.channel_id, %url, "order notifications registered");
        }
        inner.storage.set_notifications(r, outcome).await?;
        Ok(())
    }

    async fn store_secret(&self, r: &ChannelRef, ch: &Channel, secret: &str) -> Result<(), String> {
        let inner = &*self.ctx;
        let creds = connect::credentials(inner, r)
            .await
            .map_err(|e| e.to_string())?
            .ok_or("the channel has no credentials")?;
        let updated =
            registry::with_webhook_secret(ch.kind, &creds, secret).map_err(|e| e.to_string())?;
        let sealed = inner
            .cipher
            .seal(&r.account_id, &r.channel_id, &updated)
            .map_err(|e| e.to_string())?;
        inner
            .storage
            .store_engine_credentials(r, sealed)
            .await
            .map_err(|e| e.to_string())?;
        Ok(())
    }

    /// Upsert one page; on a storage failure, retry its orders one by one
    /// and record those that still fail. A database that is away fails
    /// the page as a whole, with nothing recorded.
    async fn store_page(
        &self,
        r: &ChannelRef,
        page: OrderPage,
        cursor: &CursorMove,
        summary: &mut ImportSummary,
    ) -> Result<(), StorageError> {
        let storage = &self.ctx.storage;
        let changed_before = summary.stock_changed;
        // Our own back-office copies of marketplace orders are not sales.
        summary.skipped += page.ours.len();
        let mut errors: Vec<NewImportError> = page
            .unmappable
            .into_iter()
            .map(|u| NewImportError {
                channel_order_id: u.channel_order_id.unwrap_or_else(|| "(unknown)".into()),
                code: "unmappable".into(),
                message: u.reason,
                raw: Some(u.raw),
            })
            .collect();
        let items: Vec<ImportItem> = page
            .orders
            .into_iter()
            .map(|f| ImportItem {
                order: f.order,
                raw: f.raw,
            })
            .collect();
        match storage.import_orders(r, &items, cursor).await {
            Ok(report) => summary.add(&report.outcomes, report.stock_changed),
            Err(e) if e.is_transient() => return Err(e),
            Err(batch_error) => {
                tracing::warn!(error = %batch_error, "page failed as a batch; importing its orders one by one");
                for item in items {
                    match storage
                        .import_orders(r, std::slice::from_ref(&item), &CursorMove::Stay)
                        .await
                    {
                        Ok(report) => summary.add(&report.outcomes, report.stock_changed),
                        Err(e) if e.is_transient() => return Err(e),
                        Err(e) => errors.push(NewImportError {
                            channel_order_id: item.order.channel_order_id,
                            code: "storage".into(),
                            message: e.to_string(),
                            raw: Some(item.raw),
                        }),
                    }
                }
                // With orders that failed, the position stays: the next
                // round reads them again.
                if *cursor != CursorMove::Stay
                    && errors.is_empty()
                    && let Err(e) = storage.import_orders(r, &[], cursor).await
                {
                    if e.is_transient() {
                        return Err(e);
                    }
                    tracing::error!(error = %e, "cannot move the import position");
                }
            }
        }
        summary.failed += errors.len();
        // The pushes' targets are set and sent while the next pages are read.
        if summary.stock_changed > changed_before {
            self.ctx.signals.wake(Topic::Push);
        }
        if let Err(e) = storage.record_import_errors(r, errors).await {
            if e.is_transient() {
                return Err(e);
            }
            tracing::error!(error = %e, "cannot record import errors");
        }
        Ok(())
    }

    /// The orders of `jobs` (one each, as notified): fetched from the
    /// channel at once and stored as one page, so a burst of notifications
    /// costs one transaction rather than one per order. Returns each job's
    /// outcome (a failed fetch is retried as its job says); an order the
    /// channel does not know is recorded as an import error.
    async fn orders(
        &self,
        r: &ChannelRef,
        conn: &dyn SalesChannel,
        jobs: &[Job],
        summary: &mut ImportSummary,
    ) -> Result<Vec<Result<(), ConnectorError>>, StorageError> {
        let ids: Vec<Result<&str, ConnectorError>> = jobs
            .iter()
            .map(|job| {
                job.payload["channel_order_id"]
                    .as_str()
                    .ok_or_else(|| ConnectorError::Client {
                        channel: "order job".into(),
                        reason: format!("job {} names no channel_order_id", job.id),
                    })
            })
            .collect();
        // A channel often notifies one order twice (created, then paid).
        let wanted: BTreeSet<&str> = ids
            .iter()
            .filter_map(|id| id.as_ref().ok().copied())
            .collect();
        // All at once: the claim (`order_batch`) bounds how many.
        let answers = futures::future::join_all(wanted.iter().map(|id| conn.fetch_order(id))).await;
        let jobs_of = |id: &str| -> Vec<i64> {
            jobs.iter()
                .zip(&ids)
                .filter(|(_, i)| i.as_ref().is_ok_and(|i| *i == id))
                .map(|(j, _)| j.id)
                .collect()
        };
        // In order of the channel's ids: the same burst makes the same page.
        let mut page = OrderPage::default();
        let mut unknown = Vec::new();
        let mut failed: BTreeMap<&str, ConnectorError> = BTreeMap::new();
        for (id, got) in wanted.into_iter().zip(answers) {
            match got {
                Ok(p) if p.is_empty() => unknown.push(NewImportError {
                    channel_order_id: id.to_owned(),
                    code: "not_found".into(),
                    message: format!("the channel does not know order {id}"),
                    raw: Some(json!({ "jobs": jobs_of(id) })),
                }),
                Ok(p) => page.append(p),
                Err(e) => {
                    failed.insert(id, e);
                }
            }
        }
        if !unknown.is_empty() {
            summary.failed += unknown.len();
            self.ctx.storage.record_import_errors(r, unknown).await?;
        }
        if !page.is_empty() {
            summary.pages += 1;
            self.store_page(r, page, &CursorMove::Stay, summary).await?;
        }
        // A failed fetch goes back to the first job naming the order (its
        // retry brings the order in); the others of that order are done.
        Ok(ids
            .into_iter()
            .map(|id| failed.remove(id?).map_or(Ok(()), Err))
            .collect())
    }
}
