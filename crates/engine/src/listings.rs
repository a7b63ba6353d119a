//! The listings download: every channel that downloads products reads its
//! listings again after `listings_interval` (or when a listings job asks),
//! maps them to main products by SKU, and enqueues the pushes of listings
//! that became mapped. A channel whose download fails is tried again on the
//! `listings` retry policy (never later than its cadence, as a failing
//! import), and the failure shows as the channel's last
//! error.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use switchyard_connectors::ConnectorError;
use switchyard_connectors::channel::SalesChannel;
use switchyard_storage::{ChannelRef, JobKind, NewListing};

use crate::context::{Context, Topic};
use crate::driver::{Report, Worker};
use crate::{ByChannel, EngineError, connect};

/// What a listings round did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListingsSummary {
    /// Channels whose listings were downloaded.
    pub channels: usize,
    /// Listings read.
    pub listings: usize,
    /// Stock pushes enqueued for listings that became mapped.
    pub pushes: usize,
    /// Downloads that failed (tried again later).
    pub failed: usize,
}

impl Report for ListingsSummary {
    fn merge(&mut self, o: Self) {
        self.channels += o.channels;
        self.listings += o.listings;
        self.pushes += o.pushes;
        self.failed += o.failed;
    }

    fn busy(&self) -> bool {
        self.channels > 0
    }
}

/// The listings download, with each failing channel's backoff.
#[derive(Debug)]
pub struct ListingsDownload {
    ctx: Arc<Context>,
    /// Failing channels: failures in a row and when to try again.
    failing: ByChannel<(u32, DateTime<Utc>)>,
}

impl Worker for ListingsDownload {
    type Unit = ChannelRef;
    type Report = ListingsSummary;
    const NAME: &'static str = "listings";

    fn context(&self) -> &Context {
        &self.ctx
    }

    fn key(unit: &ChannelRef) -> String {
        unit.channel_id.to_string()
    }

    async fn due(&self, now: DateTime<Utc>, room: usize) -> Result<Vec<ChannelRef>, EngineError> {
        let ctx = &self.ctx;
        let limit = u32::try_from(room.min(100)).unwrap_or(100);
        let synced_before = now - ctx.config.listings_interval;
        let mut due = ctx
            .storage
            .due_listings(now, synced_before, ctx.stale_before(now), limit)
            .await?;
        if let Ok(failing) = self.failing.lock() {
            due.retain(|r| failing.get(&r.channel_id).is_none_or(|(_, at)| *at <= now));
        }
        Ok(due)
    }

    async fn run(&self, r: ChannelRef, now: DateTime<Utc>) -> Result<ListingsSummary, EngineError> {
        let key = r.channel_id.to_string();
        self.ctx
            .leased("listings", &key, now, self.download(&r, now))
            .await
    }

    fn concurrency(&self) -> usize {
        self.ctx.config.concurrency.listings
    }

    fn signal(&self) -> &tokio::sync::Notify {
        self.ctx.signals.of(Topic::Listings)
    }

    fn after(&self, report: &ListingsSummary) {
        if report.pushes > 0 {
            self.ctx.signals.wake(Topic::Push);
        }
    }
}

impl ListingsDownload {
    pub(crate) fn new(ctx: Arc<Context>) -> Self {
        Self {
            ctx,
            failing: ByChannel::default(),
        }
    }

    /// Download the listings of every channel due at `now`.
    pub async fn step(&self, now: DateTime<Utc>) -> Result<ListingsSummary, EngineError> {
        crate::driver::step(self, now).await
    }

    /// Download one channel's listings, and settle its listings jobs.
    #[tracing::instrument(skip_all, fields(channel = %r.channel_id))]
    pub async fn download(
        &self,
        r: &ChannelRef,
        now: DateTime<Utc>,
    ) -> Result<ListingsSummary, EngineError> {
        let ctx = &*self.ctx;
        let jobs = ctx
            .storage
            .claim_jobs(r, &[JobKind::Listings], &ctx.lease(now), 20)
            .await?;
        let (ch, conn) = connect::open(ctx, r).await?;
        let mut summary = ListingsSummary::default();
        let result = match conn {
            Err(e) => Err(e),
            // A job asks for products the channel does not download.
            Ok(_) if !ch.settings.download_products => Ok(()),
            Ok(conn) => match self
                .read_and_store(r, conn.as_ref(), ch.settings.add_to_main_products)
                .await
            {
                Ok((listings, pushes)) => {
                    summary.channels = 1;
                    summary.listings = listings;
                    summary.pushes = pushes;
                    Ok(())
                }
                Err(e) => Err(e),
            },
        };
        match &result {
            Ok(()) => {
                if let Ok(mut f) = self.failing.lock() {
                    f.remove(&r.channel_id);
                }
            }
            Err(error) => {
                summary.failed = 1;
                let failures = self
                    .failing
                    .lock()
                    .map_or(1, |f| f.get(&r.channel_id).map_or(0, |(n, _)| *n) + 1);
                let wait = ctx
                    .config
                    .retry
                    .listings
                    .wait(failures, Context::unit())
                    .unwrap_or(ctx.config.listings_interval)
                    // As a failing import: never later than the channel's
                    // cadence.
                    .min(chrono::Duration::seconds(i64::from(
                        ch.settings.cadence_secs,
                    )));
                if let Ok(mut f) = self.failing.lock() {
                    f.insert(r.channel_id.clone(), (failures, now + wait));
                }
                tracing::warn!(%error, failures, "listings download failed; retrying later");
                ctx.storage
                    .record_listings_error(r, &format!("listings download: {error}"), now)
                    .await?;
            }
        }
        for job in jobs {
            ctx.storage
                .finish_job(job.id, result.as_ref().err().cloned(), None)
                .await?;
        }
        Ok(summary)
    }

    /// Read every page of listings (at most `max_pages`) and store them:
    /// how many were read and how many pushes they enqueued, or why the
    /// channel or storage failed.
    async fn read_and_store(
        &self,
        r: &ChannelRef,
        conn: &dyn SalesChannel,
        add_to_main: bool,
    ) -> Result<(usize, usize), String> {
        let mut all = Vec::new();
        let mut page = None;
        for _ in 0..self.ctx.config.max_pages {
            let p = conn
                .fetch_listings(page)
                .await
                .map_err(|e: ConnectorError| e.to_string())?;
            all.extend(p.listings.into_iter().map(|l| NewListing {
                listing_id: l.channel_listing_id,
                channel_sku: l.sku,
                title: l.title,
                price: l.price,
                quantity: l.quantity,
                raw: l.raw,
            }));
            page = p.next_page;
            if page.is_none() {
                break;
            }
        }
        let n = all.len();
        let report = self
            .ctx
            .storage
            .upsert_listings(r, all, add_to_main)
            .await
            .map_err(|e| format!("cannot store listings: {e}"))?;
        tracing::info!(
            listings = report.listings,
            mapped = report.mapped,
            created = report.products_created,
            pushes = report.pushes_enqueued,
            "listings downloaded"
        );
        Ok((n, report.pushes_enqueued))
    }
}
