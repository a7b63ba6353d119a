//! The advancing reads of an import round: which windows a round reads,
//! reading a window page by page with its resume point, and backfills that
//! go on from the page an earlier attempt recorded.

use chrono::{DateTime, Utc};
use serde_json::json;
use switchyard_connectors::ConnectorError;
use switchyard_connectors::channel::{Capabilities, OrderQuery, SalesChannel};
use switchyard_domain::cursor::{CursorMove, ImportCursor, ResumePoint};
use switchyard_storage::{Channel, ChannelRef, Job};

use super::{ImportSummary, Importer, Stop};

/// One read of the orders changed since a moment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Read {
    pub(super) since: DateTime<Utc>,
    /// Whether the read moves the channel's import position (resume point,
    /// then cursor).
    pub(super) advance: bool,
    /// Where an advancing read cut short goes on from.
    pub(super) resume: Option<ResumePoint>,
}

impl Read {
    pub(super) fn new(since: DateTime<Utc>, advance: bool) -> Self {
        Self {
            since,
            advance,
            resume: None,
        }
    }
}

/// How a read ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Ended {
    /// Its last page is stored.
    Done,
    /// It stopped at the page limit; the next round goes on from its
    /// resume point.
    PageLimit,
}

/// What a job's reads have done, over all its attempts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Progress {
    job: i64,
    pages: u64,
    orders: usize,
    /// The channel's token for the page the job goes on from.
    next_page: Option<String>,
}

impl Progress {
    pub(super) fn of(job: &Job) -> Self {
        let p = job.progress.as_ref();
        let count = |k: &str| p.and_then(|p| p[k].as_u64()).unwrap_or(0);
        Self {
            job: job.id,
            pages: count("pages"),
            orders: usize::try_from(count("orders")).unwrap_or(usize::MAX),
            next_page: p.and_then(|p| p["next_page"].as_str()).map(str::to_owned),
        }
    }
}

impl Importer {
    /// Where an incremental round reads from, in order, and whether each
    /// read moves the cursor. A channel polled much faster than the overlap
    /// (and whose list calls are not rationed) reads from just before its
    /// cursor each round, so new orders are not queued behind minutes of
    /// orders read again; every half overlap it then sweeps the whole
    /// overlap for orders that showed up late. Other channels read the
    /// whole overlap every round. A read cut short goes on first, alone.
    pub(super) fn windows(
        &self,
        r: &ChannelRef,
        ch: &Channel,
        caps: Capabilities,
        started: DateTime<Utc>,
    ) -> Vec<Read> {
        let cfg = &self.ctx.config;
        if let Some(p) = &ch.sync.resume {
            return vec![Read {
                since: p.since,
                advance: true,
                resume: Some(p.clone()),
            }];
        }
        let Some(cursor) = ch.sync.cursor else {
            return vec![Read::new(started - cfg.initial_lookback, true)];
        };
        let cursor = ImportCursor { updated_at: cursor };
        let full = cursor.fetch_since(cfg.overlap);
        let cadence = chrono::Duration::seconds(i64::from(ch.settings.cadence_secs));
        let half = cfg.overlap / 2;
        if caps.scarce_order_lists || cadence >= half || cfg.short_overlap >= cfg.overlap {
            return vec![Read::new(full, true)];
        }
        let quick = Read::new(cursor.fetch_since(cfg.short_overlap), true);
        let Ok(mut swept) = self.swept.lock() else {
            return vec![Read::new(full, true)];
        };
        if swept
            .get(&r.channel_id)
            .is_some_and(|t| started - *t < half)
        {
            return vec![quick];
        }
        swept.insert(r.channel_id.clone(), started);
        vec![quick, Read::new(full, false)]
    }

    /// Read every page of a window (up to the page limit). An advancing read
    /// commits its resume point with each page and its cursor with the last.
    pub(super) async fn fetch_window(
        &self,
        r: &ChannelRef,
        conn: &dyn SalesChannel,
        read: Read,
        started: DateTime<Utc>,
        summary: &mut ImportSummary,
        mut job: Option<&mut Progress>,
    ) -> Result<Ended, Stop> {
        let (mut page, mut newest, began) = match &read.resume {
            Some(p) => {
                tracing::info!(since = %p.since, started = %p.started, "going on with a read cut short");
                (Some(p.page.clone()), p.newest, p.started)
            }
            None => (None, None, started),
        };
        // A long window is exported in bulk where the channel can.
        let large = began - read.since > self.ctx.config.bulk_after;
        for n in 0..self.ctx.config.max_pages {
            let query = OrderQuery {
                updated_since: read.since,
                page: page.take(),
                large,
            };
            let p = match conn.fetch_orders(&query).await {
                Ok(p) => p,
                // A channel may refuse a page token kept across a restart
                // (expired, or from before an upgrade): read the window again.
                Err(e) if n == 0 && read.resume.is_some() && !e.is_retryable() => {
                    tracing::warn!(error = %e, "the channel refused the resume point; reading the window from its start");
                    conn.fetch_orders(&OrderQuery {
                        updated_since: read.since,
                        page: None,
                        large,
                    })
                    .await?
                }
                Err(e) => return Err(e.into()),
            };
            summary.pages += 1;
            newest = newest.max(p.orders.iter().map(|o| o.order.updated_at).max());
            let next = p.next_page.clone();
            let cursor = match (&next, &read.resume) {
                _ if !read.advance => CursorMove::Stay,
                (Some(token), _) => CursorMove::Resume(ResumePoint {
                    since: read.since,
                    page: token.clone(),
                    newest,
                    started: began,
                }),
                (None, Some(p)) => CursorMove::Finish(p.finished(newest)),
                (None, None) => CursorMove::Finish(newest),
            };
            let read_orders = p.orders.len();
            self.store_page(r, p, &cursor, summary)
                .await
                .map_err(Stop::Database)?;
            if let Some(progress) = job.as_deref_mut() {
                progress.pages += 1;
                progress.orders += read_orders;
                progress.next_page.clone_from(&next);
                self.record_progress(progress).await;
            }
            match next {
                None => return Ok(Ended::Done),
                Some(n) => page = Some(n),
            }
        }
        // Bounded: an advancing read goes on from its resume point.
        tracing::warn!(
            pages = self.ctx.config.max_pages,
            "page limit reached; continuing next round"
        );
        Ok(Ended::PageLimit)
    }

    /// Read a backfill's window, going on from where an earlier attempt
    /// stopped (its recorded `next_page`).
    pub(super) async fn backfill(
        &self,
        r: &ChannelRef,
        conn: &dyn SalesChannel,
        job: &Job,
        summary: &mut ImportSummary,
    ) -> Result<Ended, Stop> {
        let from = job.payload["from"]
            .as_str()
            .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
            .map(|t| t.with_timezone(&Utc));
        let Some(from) = from else {
            return Err(Stop::Channel(ConnectorError::Client {
                channel: "backfill".into(),
                reason: format!("job {} has no valid `from`", job.id),
            }));
        };
        let mut progress = Progress::of(job);
        let started = self.ctx.now();
        let read = Read {
            resume: progress.next_page.clone().map(|page| ResumePoint {
                since: from,
                page,
                newest: None,
                started,
            }),
            ..Read::new(from, false)
        };
        // Orders changed after `to` come along too: importing them is
        // idempotent, and the channels' filters are by "changed since" only.
        self.fetch_window(r, conn, read, started, summary, Some(&mut progress))
            .await
    }

    async fn record_progress(&self, p: &Progress) {
        let progress = json!({ "pages": p.pages, "orders": p.orders, "next_page": p.next_page });
        if let Err(e) = self.ctx.storage.set_job_progress(p.job, progress).await {
            tracing::warn!(job = p.job, error = %e, "cannot record job progress");
        }
    }
}
