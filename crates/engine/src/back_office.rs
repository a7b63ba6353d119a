//! The back-office order connection (the Channable model): marketplace
//! orders of a store are created in its back office, read back on the
//! store's cadence (not shipped → waiting → shipped), and their shipping
//! becomes a fulfilment on the marketplace order. Cancellations travel both
//! ways.

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use switchyard_connectors::back_office::{
    BackOffice, BackOfficeLine, NewBackOfficeOrder, RemoteOrderState, RemoteProgress,
};
use switchyard_connectors::channel::SalesChannel;
use switchyard_connectors::error::ConnectorError;
use switchyard_domain::carrier::Carrier;
use switchyard_domain::fulfilment::FulfilmentSource;
use switchyard_domain::ids::{AccountId, ChannelId, StoreId};
use switchyard_storage::{
    BackOfficeOrder, BackOfficeSettings, BackOfficeUpdate, BackOfficeWork, ChannelRef,
    NewFulfilment, OrderRecord,
};

use switchyard_domain::retry::failures;

use crate::context::{Context, Topic};
use crate::driver::{Report, Worker};
use crate::{EngineError, connect};

/// What one back-office round did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BackOfficeSummary {
    /// Orders created in a back office.
    pub sent: usize,
    /// Orders read back.
    pub checked: usize,
    /// Orders found shipped (fulfilments recorded).
    pub shipped: usize,
    /// Orders cancelled (either way).
    pub cancelled: usize,
    /// Steps that failed (retried, or listed for a person).
    pub failed: usize,
}

impl Report for BackOfficeSummary {
    fn merge(&mut self, o: Self) {
        self.sent += o.sent;
        self.checked += o.checked;
        self.shipped += o.shipped;
        self.cancelled += o.cancelled;
        self.failed += o.failed;
    }

    fn busy(&self) -> bool {
        self.sent + self.shipped + self.cancelled > 0
    }
}

/// Largest number of orders per kind of step per store and round.
const ROUND_LIMIT: u32 = 100;

/// A store with a back office: the unit of the back-office worker.
type BackOfficeStore = (AccountId, StoreId, BackOfficeSettings);

/// The back-office worker: one round per store with a back office.
#[derive(Debug)]
pub struct BackOfficeSync {
    ctx: Arc<Context>,
}

impl Worker for BackOfficeSync {
    type Unit = BackOfficeStore;
    type Report = BackOfficeSummary;
    const NAME: &'static str = "back_office";

    fn context(&self) -> &Context {
        &self.ctx
    }

    fn key((_, store, _): &BackOfficeStore) -> String {
        store.to_string()
    }

    async fn due(
        &self,
        _now: DateTime<Utc>,
        _room: usize,
    ) -> Result<Vec<BackOfficeStore>, EngineError> {
        Ok(self.ctx.storage.stores_with_back_office().await?)
    }

    async fn run(
        &self,
        (account, store, settings): BackOfficeStore,
        now: DateTime<Utc>,
    ) -> Result<BackOfficeSummary, EngineError> {
        let key = store.to_string();
        let round = async {
            let mut summary = BackOfficeSummary::default();
            self.back_office_store(&account, &store, &settings, &mut summary)
                .await?;
            Ok(summary)
        };
        self.ctx.leased("back_office", &key, now, round).await
    }

    fn concurrency(&self) -> usize {
        self.ctx.config.concurrency.back_office
    }

    fn signal(&self) -> &tokio::sync::Notify {
        self.ctx.signals.of(Topic::BackOffice)
    }

    fn interval(&self) -> std::time::Duration {
        self.ctx.config.back_office_tick
    }

    fn after(&self, report: &BackOfficeSummary) {
        crate::measure::back_office(report);
        if report.shipped > 0 {
            self.ctx.signals.wake(Topic::Fulfilment);
        }
        if report.busy() {
            self.ctx.signals.wake(Topic::Dispatch);
        }
    }
}

impl BackOfficeSync {
    pub(crate) fn new(ctx: Arc<Context>) -> Self {
        Self { ctx }
    }

    /// One round over every store with a back office.
    pub async fn step(&self, now: DateTime<Utc>) -> Result<BackOfficeSummary, EngineError> {
        crate::driver::step(self, now).await
    }

    /// When a step that failed `attempts` times before this one is tried
    /// again.
    fn retry_at(&self, attempts: i64) -> DateTime<Utc> {
        let wait = self
            .ctx
            .config
            .retry
            .back_office
            .wait(failures(attempts) + 1, Context::unit())
            .unwrap_or(chrono::Duration::hours(1));
        self.ctx.now() + wait
    }

    #[tracing::instrument(skip_all, fields(store = %store, back_office = %settings.channel_id))]
    async fn back_office_store(
        &self,
        account: &AccountId,
        store: &StoreId,
        settings: &BackOfficeSettings,
        summary: &mut BackOfficeSummary,
    ) -> Result<(), EngineError> {
        let storage = &self.ctx.storage;
        let work = storage
            .back_office_work(account, store, &self.ctx.lease(self.ctx.now()), ROUND_LIMIT)
            .await?;
        let BackOfficeWork {
            sends,
            checks,
            cancels,
            channel_cancels,
        } = work;
        if sends.is_empty() && checks.is_empty() && cancels.is_empty() && channel_cancels.is_empty()
        {
            return Ok(());
        }
        let every = chrono::Duration::seconds(settings.check_interval_secs);
        let bo_ref = ChannelRef {
            account_id: account.clone(),
            store_id: store.clone(),
            channel_id: settings.channel_id.clone(),
        };
        let (bo_channel, conn) = connect::open(&self.ctx, &bo_ref).await?;
        // Orders name the back office's own variants, which its first
        // listings download finds: sends wait for it (untouched, without a
        // failed attempt), and the download is asked for now.
        let awaiting_products =
            bo_channel.settings.download_products && bo_channel.sync.listings_synced_at.is_none();
        if awaiting_products {
            self.ctx.signals.wake(Topic::Listings);
        }
        let conn: Result<Arc<dyn SalesChannel>, String> = conn.and_then(|c| {
            if c.as_back_office().is_some() {
                Ok(c)
            } else {
                Err(format!(
                    "a {} channel cannot be a back office yet (WooCommerce can)",
                    bo_channel.kind
                ))
            }
        });
        let mut names: BTreeMap<ChannelId, String> = BTreeMap::new();
        for (row, order, listings) in sends {
            if awaiting_products || !self.begin(&row).await? {
                continue;
            }
            let update = match (&conn, order.unified.as_ref()) {
                (Err(msg), _) => BackOfficeUpdate::SendFailed {
                    error: msg.clone(),
                    retry_at: Some(self.retry_at(row.attempts)),
                },
                (Ok(_), None) => BackOfficeUpdate::SendFailed {
                    error: "the order has no unified form to send (imported before it existed)"
                        .into(),
                    retry_at: None,
                },
                (Ok(c), Some(_)) => {
                    let Some(bo) = c.as_back_office() else {
                        continue;
                    };
                    // The marketplace's name, read once per channel and round.
                    let source = match names.get(&order.channel_id) {
                        Some(n) => n.clone(),
                        None => {
                            let n = storage
                                .get_channel(account, store, &order.channel_id)
                                .await
                                .map_or_else(|_| order.channel_id.to_string(), |c| c.name);
                            names.insert(order.channel_id.clone(), n.clone());
                            n
                        }
                    };
                    self.send(bo, source, &row, &order, &listings).await?
                }
            };
            match &update {
                BackOfficeUpdate::Sent { .. } => summary.sent += 1,
                _ => summary.failed += 1,
            }
            storage
                .record_back_office(&row.order_id, update, self.ctx.now(), every)
                .await?;
        }
        let bo = match &conn {
            Ok(c) => c.as_back_office(),
            Err(_) => None,
        };
        self.check(bo, conn.as_ref().err(), account, settings, checks, summary)
            .await?;
        for row in cancels {
            if !self.begin(&row).await? {
                continue;
            }
            let update = match (bo, row.remote_id.as_deref()) {
                (Some(bo), Some(id)) => match bo.cancel_remote_order(id).await {
                    Ok(()) => {
                        summary.cancelled += 1;
                        BackOfficeUpdate::CancelledHere
                    }
                    Err(e) => self.check_failed(&row, e.to_string(), summary),
                },
                (_, None) => BackOfficeUpdate::CancelledHere,
                (None, _) => self.check_failed(
                    &row,
                    conn.as_ref().err().cloned().unwrap_or_default(),
                    summary,
                ),
            };
            storage
                .record_back_office(&row.order_id, update, self.ctx.now(), every)
                .await?;
        }
        for (row, channel, channel_order_id) in channel_cancels {
            if !self.begin(&row).await? {
                continue;
            }
            let update = self
                .cancel_on_channel(&row, &channel, &channel_order_id)
                .await?;
            storage
                .record_back_office(&row.order_id, update, self.ctx.now(), every)
                .await?;
        }
        Ok(())
    }

    async fn begin(&self, row: &BackOfficeOrder) -> Result<bool, EngineError> {
        let now = self.ctx.now();
        Ok(self
            .ctx
            .storage
            .begin_back_office_step(&row.order_id, &self.ctx.lease(now))
            .await?)
    }

    fn check_failed(
        &self,
        row: &BackOfficeOrder,
        error: String,
        summary: &mut BackOfficeSummary,
    ) -> BackOfficeUpdate {
        summary.failed += 1;
        tracing::warn!(order = %row.order_id, %error, "back-office step failed; retrying");
        BackOfficeUpdate::CheckFailed {
            error,
            retry_at: self.retry_at(row.attempts),
        }
    }

    /// Create one order in the back office.
    async fn send(
        &self,
        bo: &dyn BackOffice,
        source: String,
        row: &BackOfficeOrder,
        order: &OrderRecord,
        listings: &BTreeMap<String, String>,
    ) -> Result<BackOfficeUpdate, EngineError> {
        let Some(unified) = order.unified.clone() else {
            return Ok(BackOfficeUpdate::SendFailed {
                error: "the order has no unified form".into(),
                retry_at: None,
            });
        };
        let lines = order
            .lines
            .iter()
            .filter(|l| l.open_quantity > 0)
            .map(|l| {
                let u = usize::try_from(l.line_no)
                    .ok()
                    .and_then(|i| unified.lines.get(i));
                BackOfficeLine {
                    sku: l.sku.clone(),
                    listing_id: listings.get(&l.sku).cloned(),
                    quantity: l.open_quantity,
                    title: u.map_or_else(|| l.sku.clone(), |u| u.title.clone()),
                    unit_price: u.map_or(0, |u| u.unit_price),
                }
            })
            .collect();
        let new = NewBackOfficeOrder {
            reference: order.id.to_string(),
            source,
            order: unified,
            lines,
            // `attempts` was read before this attempt was counted.
            maybe_created: row.attempts > 0,
            first_attempt_at: row.created_at,
        };
        Ok(match bo.create_order(&new).await {
            Ok(r) => {
                tracing::info!(order = %order.id, remote = %r.id, "order created in the back office");
                BackOfficeUpdate::Sent {
                    remote_id: r.id,
                    remote_number: r.number,
                    remote_status: Some(r.status),
                }
            }
            Err(e) => {
                tracing::warn!(order = %order.id, error = %e, "creating the order in the back office failed");
                BackOfficeUpdate::SendFailed {
                    retry_at: e.is_retryable().then(|| self.retry_at(row.attempts)),
                    error: e.to_string(),
                }
            }
        })
    }

    /// Read sent orders back and move them on.
    async fn check(
        &self,
        bo: Option<&dyn BackOffice>,
        conn_error: Option<&String>,
        account: &AccountId,
        settings: &BackOfficeSettings,
        rows: Vec<BackOfficeOrder>,
        summary: &mut BackOfficeSummary,
    ) -> Result<(), EngineError> {
        let storage = &self.ctx.storage;
        let every = chrono::Duration::seconds(settings.check_interval_secs);
        let mut claimed = Vec::with_capacity(rows.len());
        for row in rows {
            if self.begin(&row).await? {
                claimed.push(row);
            }
        }
        if claimed.is_empty() {
            return Ok(());
        }
        let ids: Vec<String> = claimed.iter().filter_map(|r| r.remote_id.clone()).collect();
        let read: Result<Vec<RemoteOrderState>, String> = match bo {
            Some(bo) => bo.read_orders(&ids).await.map_err(|e| e.to_string()),
            None => Err(conn_error.cloned().unwrap_or_default()),
        };
        let by_id: BTreeMap<String, RemoteOrderState> = match read {
            Ok(list) => list.into_iter().map(|s| (s.id.clone(), s)).collect(),
            Err(error) => {
                for row in claimed {
                    let update = self.check_failed(&row, error.clone(), summary);
                    storage
                        .record_back_office(&row.order_id, update, self.ctx.now(), every)
                        .await?;
                }
                return Ok(());
            }
        };
        for row in claimed {
            summary.checked += 1;
            let state = row.remote_id.as_ref().and_then(|id| by_id.get(id));
            let update = match state {
                None => self.check_failed(
                    &row,
                    format!(
                        "the back office no longer has order {}",
                        row.remote_id.as_deref().unwrap_or("?")
                    ),
                    summary,
                ),
                Some(s) => self.progress(account, &row, s, settings).await?,
            };
            match &update {
                BackOfficeUpdate::Shipped { .. } => summary.shipped += 1,
                BackOfficeUpdate::CancelledThere { .. } => summary.cancelled += 1,
                _ => {}
            }
            storage
                .record_back_office(&row.order_id, update, self.ctx.now(), every)
                .await?;
        }
        Ok(())
    }

    /// What a read-back order's state means for ours.
    async fn progress(
        &self,
        account: &AccountId,
        row: &BackOfficeOrder,
        s: &RemoteOrderState,
        settings: &BackOfficeSettings,
    ) -> Result<BackOfficeUpdate, EngineError> {
        let now = self.ctx.now();
        let shipped = |tracking| BackOfficeUpdate::Shipped {
            remote_status: s.status.clone(),
            fulfilment: NewFulfilment {
                lines: None,
                tracking,
                carrier: s.carrier.as_deref().and_then(Carrier::from_name),
                service: None,
                shipped_at: s.shipped_at.unwrap_or(now),
                source: FulfilmentSource::BackOffice,
                external_ref: Some(format!("back_office:{}", s.id)),
            },
        };
        Ok(match s.progress {
            RemoteProgress::Open => BackOfficeUpdate::Unchanged {
                remote_status: s.status.clone(),
            },
            RemoteProgress::Completed if !s.tracking.is_empty() => shipped(s.tracking.clone()),
            RemoteProgress::Completed => {
                let since: DateTime<Utc> = row.waiting_since.unwrap_or(now);
                let wait = chrono::Duration::seconds(settings.ship_without_tracking_after_secs);
                if now - since >= wait {
                    tracing::info!(order = %row.order_id, "no track and trace after the wait; shipped without it");
                    shipped(Vec::new())
                } else {
                    BackOfficeUpdate::Waiting {
                        remote_status: s.status.clone(),
                        since,
                    }
                }
            }
            RemoteProgress::Cancelled => {
                let order = self.ctx.storage.get_order(account, &row.order_id).await?;
                let channel = ChannelRef {
                    account_id: account.clone(),
                    store_id: order.store_id.clone(),
                    channel_id: order.channel_id.clone(),
                };
                let (_, conn) = connect::open(&self.ctx, &channel).await?;
                BackOfficeUpdate::CancelledThere {
                    remote_status: s.status.clone(),
                    cancel_on_channel: conn.is_ok_and(|c| c.capabilities().order_cancellation),
                }
            }
        })
    }

    /// Cancel the marketplace order after a cancellation in the back office.
    async fn cancel_on_channel(
        &self,
        row: &BackOfficeOrder,
        channel: &ChannelRef,
        channel_order_id: &str,
    ) -> Result<BackOfficeUpdate, EngineError> {
        let (_, conn) = connect::open(&self.ctx, channel).await?;
        let result = match conn {
            Ok(c) => {
                c.cancel_order(channel_order_id, "cancelled in the back office")
                    .await
            }
            Err(msg) => Err(ConnectorError::Unavailable {
                channel: channel.channel_id.to_string(),
                attempts: 0,
                reason: msg,
            }),
        };
        Ok(match result {
            Ok(()) => BackOfficeUpdate::ChannelCancel {
                outcome: "done".into(),
                retry_at: None,
            },
            Err(ConnectorError::Unsupported { .. }) => BackOfficeUpdate::ChannelCancel {
                outcome: "unsupported".into(),
                retry_at: None,
            },
            Err(e) => BackOfficeUpdate::ChannelCancel {
                retry_at: e.is_retryable().then(|| self.retry_at(row.attempts)),
                outcome: format!("failed: {e}"),
            },
        })
    }
}
