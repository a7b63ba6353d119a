//! The back-office order connection: the store's setting, each routed
//! order's copy and the steps the engine takes on it.

use std::collections::BTreeSet;

use crate::journal::{EventPayload, NewEvent, OrderEvent, StoreEvent};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::postgres::PgRow;
use sqlx::{PgConnection, Row};
use switchyard_domain::DomainError;
use switchyard_domain::back_office::{
    Handover, Step, cancel_here, channel_cancel_after, channel_cancel_start, plan_handover,
    step_event,
};
use switchyard_domain::ids::{AccountId, ChannelId, FulfilmentId, OrderId, StoreId};
use switchyard_domain::shipment::shipped_in_back_office;

use super::fulfilments::insert_fulfilment;
use super::leases;
use super::listings::enqueue_targets;
use super::orders::{cancel_in_tx, fetch_order};
use super::stock::invalidate_confirmed;
use super::{
    PgStorage, append_event, at, fetch_limit, now, opt_time, paginate, require_store, stored, time,
};
use super::{from_json, pg};
use crate::{
    BackOfficeOrder, BackOfficeSettings, BackOfficeState, BackOfficeUpdate, BackOfficeWork,
    BackOffices, ChannelRef, Claim, Page, PageRequest, Result, StorageError,
};

const COLUMNS: &str = "order_id, store_id, channel_id, state, remote_id, remote_number, remote_status, attempts, \
    last_error, waiting_since, fulfilment_id, channel_cancel, next_at, checked_at, created_at, updated_at";

fn from_row(r: &PgRow) -> Result<BackOfficeOrder> {
    let fid: Option<&str> = r.try_get("fulfilment_id")?;
    Ok(BackOfficeOrder {
        order_id: stored("order id", OrderId::parse(r.try_get("order_id")?))?,
        store_id: stored("store id", StoreId::parse(r.try_get("store_id")?))?,
        channel_id: stored("channel id", ChannelId::parse(r.try_get("channel_id")?))?,
        state: BackOfficeState::parse(r.try_get("state")?).ok_or_else(|| {
            StorageError::corrupt(
                "back-office state",
                DomainError::rule("invalid_state", "unknown back-office state"),
            )
        })?,
        remote_id: r.try_get("remote_id")?,
        remote_number: r.try_get("remote_number")?,
        remote_status: r.try_get("remote_status")?,
        attempts: r.try_get("attempts")?,
        last_error: r.try_get("last_error")?,
        waiting_since: opt_time(r.try_get("waiting_since")?)?,
        fulfilment_id: fid
            .map(|f| stored("fulfilment id", FulfilmentId::parse(f)))
            .transpose()?,
        channel_cancel: r.try_get("channel_cancel")?,
        next_at: opt_time(r.try_get("next_at")?)?,
        checked_at: opt_time(r.try_get("checked_at")?)?,
        created_at: time(r.try_get("created_at")?)?,
        updated_at: time(r.try_get("updated_at")?)?,
    })
}

async fn fetch(conn: &mut PgConnection, order: &OrderId) -> Result<Option<BackOfficeOrder>> {
    sqlx::query(&pg(&format!(
        "SELECT {COLUMNS} FROM back_office_orders WHERE order_id = ?"
    )))
    .bind(order.as_str())
    .fetch_optional(&mut *conn)
    .await?
    .as_ref()
    .map(from_row)
    .transpose()
}

/// The copy of `order`, which must exist.
async fn require(conn: &mut PgConnection, order: &OrderId) -> Result<BackOfficeOrder> {
    fetch(conn, order).await?.ok_or(StorageError::NotFound {
        entity: "back-office order",
    })
}

async fn settings_of(
    conn: &mut PgConnection,
    store: &StoreId,
) -> Result<Option<BackOfficeSettings>> {
    let s: Option<serde_json::Value> =
        sqlx::query_scalar("SELECT back_office FROM stores WHERE id = $1")
            .bind(store.as_str())
            .fetch_one(&mut *conn)
            .await?;
    s.map(|s| from_json("back office", s)).transpose()
}

/// One order's row, for the account; `NotFound` unless the order is the account's.
async fn owned(
    conn: &mut PgConnection,
    account: &AccountId,
    order: &OrderId,
) -> Result<Option<BackOfficeOrder>> {
    fetch_order(conn, account, order, false).await?;
    fetch(conn, order).await
}

async fn journal_order(
    conn: &mut PgConnection,
    account: &AccountId,
    row: &BackOfficeOrder,
    event_type: &'static str,
) -> Result<()> {
    let ev = NewEvent::new(
        &row.order_id,
        event_type,
        EventPayload::Order(OrderEvent {
            back_office: Some(row.clone()),
            ..OrderEvent::of(&row.order_id)
        }),
    );
    append_event(conn, account, &row.store_id, &ev).await?;
    Ok(())
}

/// A channel changed its own stock for this order (the back office lowered
/// it when the copy was created, a cancellation there or on the
/// marketplace put units back): what we last confirmed on its listings of
/// the order's SKUs is stale, so their targets are pushed again.
async fn restate_channel_stock(
    conn: &mut PgConnection,
    store: &StoreId,
    channel: &ChannelId,
    order: &OrderId,
) -> Result<()> {
    let touched: BTreeSet<String> =
        sqlx::query_scalar::<_, String>("SELECT DISTINCT sku FROM order_lines WHERE order_id = $1")
            .bind(order.as_str())
            .fetch_all(&mut *conn)
            .await?
            .into_iter()
            .collect();
    invalidate_confirmed(conn, store, channel, &touched).await?;
    enqueue_targets(conn, store, &touched, "back_office_order").await?;
    Ok(())
}

impl PgStorage {
    /// Move an order's copy from one of `from` to `to`: `pending` resends it
    /// now (attempts and error cleared, the order no longer manual),
    /// `manual` leaves it to people (the order marked manual). Otherwise a
    /// conflict with `refusal` (code, message before the current state).
    async fn hand_over(
        &self,
        account: &AccountId,
        order: &OrderId,
        handover: Handover,
    ) -> Result<BackOfficeOrder> {
        let mut tx = self.pool.begin().await?;
        let row = owned(&mut tx, account, order)
            .await?
            .ok_or(StorageError::NotFound {
                entity: "back-office order",
            })?;
        let (to, manual) = plan_handover(row.state, handover)
            .map_err(|e| StorageError::conflict(e.code, e.message, e.field))?;
        let now = now();
        let resend = !manual;
        sqlx::query(
            "UPDATE back_office_orders SET state = $1, next_at = $2, updated_at = $3, \
             attempts = CASE WHEN $4 THEN 0 ELSE attempts END, \
             last_error = CASE WHEN $5 THEN NULL ELSE last_error END WHERE order_id = $6",
        )
        .bind(to.as_str())
        .bind(resend.then_some(&now))
        .bind(now)
        .bind(resend)
        .bind(resend)
        .bind(order.as_str())
        .execute(&mut *tx)
        .await?;
        sqlx::query("UPDATE orders SET manual = $1, updated_at = $2 WHERE id = $3")
            .bind(manual)
            .bind(now)
            .bind(order.as_str())
            .execute(&mut *tx)
            .await?;
        let row = require(&mut tx, order).await?;
        journal_order(&mut tx, account, &row, "order.updated").await?;
        tx.commit().await?;
        Ok(row)
    }
}

#[async_trait]
impl BackOffices for PgStorage {
    async fn back_office(
        &self,
        account: &AccountId,
        store: &StoreId,
    ) -> Result<Option<BackOfficeSettings>> {
        let mut tx = self.pool.begin().await?;
        require_store(&mut tx, account, store).await?;
        settings_of(&mut tx, store).await
    }

    async fn set_back_office(
        &self,
        account: &AccountId,
        store: &StoreId,
        settings: Option<BackOfficeSettings>,
    ) -> Result<Option<BackOfficeSettings>> {
        let mut tx = self.pool.begin().await?;
        require_store(&mut tx, account, store).await?;
        let before = settings_of(&mut tx, store).await?;
        let settings = match settings {
            None => None,
            Some(s) => {
                s.validate()?;
                let ours: Option<i64> = sqlx::query_scalar(
                    "SELECT 1::bigint FROM channels WHERE id = $1 AND store_id = $2",
                )
                .bind(s.channel_id.as_str())
                .bind(store.as_str())
                .fetch_optional(&mut *tx)
                .await?;
                if ours.is_none() {
                    return Err(DomainError::invalid(
                        "unknown_channel",
                        "channel_id",
                        "the back office must be a channel of this store",
                    )
                    .into());
                }
                Some(s.replacing(before.as_ref(), Utc::now()))
            }
        };
        // `None` is SQL NULL, not JSON null: no back office.
        sqlx::query("UPDATE stores SET back_office = $1, updated_at = $2 WHERE id = $3")
            .bind(settings.as_ref().map(sqlx::types::Json))
            .bind(now())
            .bind(store.as_str())
            .execute(&mut *tx)
            .await?;
        let ev = NewEvent::new(
            store,
            "store.back_office_updated",
            EventPayload::Store(StoreEvent {
                back_office: Some(settings.clone()),
                ..StoreEvent::of(store)
            }),
        );
        append_event(&mut tx, account, store, &ev).await?;
        tx.commit().await?;
        Ok(settings)
    }

    async fn list_back_office_orders(
        &self,
        account: &AccountId,
        store: &StoreId,
        state: Option<BackOfficeState>,
        page: &PageRequest,
    ) -> Result<Page<BackOfficeOrder>> {
        let mut tx = self.pool.begin().await?;
        require_store(&mut tx, account, store).await?;
        let rows = sqlx::query(&pg(&format!(
            "SELECT {COLUMNS} FROM back_office_orders WHERE store_id = ? AND (? IS NULL OR state = ?) AND order_id > ? \
             ORDER BY order_id LIMIT ?"
        )))
        .bind(store.as_str())
        .bind(state.map(BackOfficeState::as_str))
        .bind(state.map(BackOfficeState::as_str))
        .bind(page.after.as_deref().unwrap_or(""))
        .bind(fetch_limit(page))
        .fetch_all(&mut *tx)
        .await?;
        let items = rows.iter().map(from_row).collect::<Result<Vec<_>>>()?;
        Ok(paginate(items, page, |o| o.order_id.to_string()))
    }

    async fn back_office_order(
        &self,
        account: &AccountId,
        order: &OrderId,
    ) -> Result<Option<BackOfficeOrder>> {
        let mut tx = self.pool.begin().await?;
        owned(&mut tx, account, order).await
    }

    async fn resend_back_office_order(
        &self,
        account: &AccountId,
        order: &OrderId,
    ) -> Result<BackOfficeOrder> {
        self.hand_over(account, order, Handover::Resend).await
    }

    async fn handle_back_office_manually(
        &self,
        account: &AccountId,
        order: &OrderId,
    ) -> Result<BackOfficeOrder> {
        self.hand_over(account, order, Handover::Manual).await
    }

    async fn stores_with_back_office(
        &self,
    ) -> Result<Vec<(AccountId, StoreId, BackOfficeSettings)>> {
        let rows = sqlx::query(
            "SELECT account_id, id, back_office FROM stores WHERE back_office IS NOT NULL ORDER BY id",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok((
                    stored("account id", AccountId::parse(r.try_get("account_id")?))?,
                    stored("store id", StoreId::parse(r.try_get("id")?))?,
                    from_json("back office", r.try_get("back_office")?)?,
                ))
            })
            .collect()
    }

    async fn back_office_work(
        &self,
        account: &AccountId,
        store: &StoreId,
        claim: &Claim,
        limit: u32,
    ) -> Result<BackOfficeWork> {
        let mut tx = self.pool.begin().await?;
        require_store(&mut tx, account, store).await?;
        let mut work = BackOfficeWork {
            sends: Vec::new(),
            checks: Vec::new(),
            cancels: Vec::new(),
            channel_cancels: Vec::new(),
        };
        let Some(settings) = settings_of(&mut tx, store).await? else {
            return Ok(work);
        };
        let now_s = at(claim.now);
        let stale = at(claim.stale_before);
        let limit = i64::from(limit);
        sqlx::query(
            "INSERT INTO back_office_orders (order_id, account_id, store_id, channel_id, state, next_at, created_at, updated_at) \
             SELECT o.id, o.account_id, o.store_id, $1, 'pending', $2, $3, $4 FROM orders o \
             WHERE o.store_id = $5 AND o.state = 'open' AND o.manual = false AND o.plugin_id IS NULL AND o.channel_id != $6 AND o.created_at >= $7 \
             AND NOT EXISTS (SELECT 1::bigint FROM back_office_orders b WHERE b.order_id = o.id) ORDER BY o.created_at LIMIT $8",
        )
        .bind(settings.channel_id.as_str())
        .bind(now_s)
        .bind(now_s)
        .bind(now_s)
        .bind(store.as_str())
        .bind(settings.channel_id.as_str())
        .bind(at(settings.since))
        .bind(limit)
        .execute(&mut *tx)
        .await?;
        // Orders cancelled before they were sent need nothing from the back office.
        sqlx::query(
            "UPDATE back_office_orders SET state = 'cancelled', next_at = NULL, updated_at = $1 \
             WHERE store_id = $2 AND state IN ('pending', 'failed') \
             AND order_id IN (SELECT id FROM orders WHERE store_id = $3 AND state = 'cancelled')",
        )
        .bind(now_s)
        .bind(store.as_str())
        .bind(store.as_str())
        .execute(&mut *tx)
        .await?;
        let free = leases::free("b", "?", "?");
        let due = |states: &str, order_cancelled: bool| {
            format!(
                "SELECT {COLUMNS} FROM back_office_orders b WHERE store_id = ? AND state IN ({states}) \
                 AND next_at IS NOT NULL AND next_at <= ? AND {free} \
                 AND {} (SELECT state FROM orders WHERE id = b.order_id) = 'cancelled' \
                 ORDER BY next_at LIMIT ?",
                if order_cancelled { "" } else { "NOT" }
            )
        };
        let (sends, checks, cancels) = (
            due("'pending', 'failed'", false),
            due("'not_shipped', 'waiting'", false),
            due("'not_shipped', 'waiting'", true),
        );
        for r in sqlx::query(&pg(&sends))
            .bind(store.as_str())
            .bind(now_s)
            .bind(now_s)
            .bind(stale)
            .bind(limit)
            .fetch_all(&mut *tx)
            .await?
        {
            let row = from_row(&r)?;
            let order = fetch_order(&mut tx, account, &row.order_id, false).await?;
            let listings: Vec<(String, String)> = sqlx::query_as(
                "SELECT l.sku, l.listing_id FROM listings l JOIN order_lines ol ON ol.sku = l.sku \
                 WHERE l.channel_id = $1 AND ol.order_id = $2 ORDER BY l.listing_id",
            )
            .bind(settings.channel_id.as_str())
            .bind(row.order_id.as_str())
            .fetch_all(&mut *tx)
            .await?;
            work.sends
                .push((row, order, listings.into_iter().collect()));
        }
        for r in sqlx::query(&pg(&checks))
            .bind(store.as_str())
            .bind(now_s)
            .bind(now_s)
            .bind(stale)
            .bind(limit)
            .fetch_all(&mut *tx)
            .await?
        {
            work.checks.push(from_row(&r)?);
        }
        for r in sqlx::query(&pg(&cancels))
            .bind(store.as_str())
            .bind(now_s)
            .bind(now_s)
            .bind(stale)
            .bind(limit)
            .fetch_all(&mut *tx)
            .await?
        {
            work.cancels.push(from_row(&r)?);
        }
        for r in sqlx::query(&pg(&format!(
            "SELECT {COLUMNS} FROM back_office_orders b WHERE store_id = ? AND channel_cancel = 'pending' \
             AND next_at IS NOT NULL AND next_at <= ? AND {free} ORDER BY next_at LIMIT ?"
        )))
        .bind(store.as_str())
        .bind(now_s)
        .bind(now_s)
        .bind(stale)
        .bind(limit)
        .fetch_all(&mut *tx)
        .await?
        {
            let row = from_row(&r)?;
            let (channel, channel_order_id): (String, String) =
                sqlx::query_as("SELECT channel_id, channel_order_id FROM orders WHERE id = $1")
                    .bind(row.order_id.as_str())
                    .fetch_one(&mut *tx)
                    .await?;
            let channel = ChannelRef {
                account_id: account.clone(),
                store_id: store.clone(),
                channel_id: stored("channel id", ChannelId::parse(&channel))?,
            };
            work.channel_cancels.push((row, channel, channel_order_id));
        }
        tx.commit().await?;
        Ok(work)
    }

    async fn begin_back_office_step(&self, order: &OrderId, claim: &Claim) -> Result<bool> {
        let take = leases::take("?1", "?2");
        let free = leases::free("back_office_orders", "?3", "?5");
        let done = sqlx::query(&pg(&format!(
            "UPDATE back_office_orders SET {take}, step_started_at = ?3, \
             attempts = attempts + CASE WHEN state IN ('pending', 'failed') THEN 1 ELSE 0 END \
             WHERE order_id = ?4 AND next_at IS NOT NULL AND next_at <= ?3 AND {free}"
        )))
        .bind(at(claim.until()))
        .bind(&claim.holder)
        .bind(at(claim.now))
        .bind(order.as_str())
        .bind(at(claim.stale_before))
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    #[tracing::instrument(skip(self, update), fields(order = %order))]
    async fn record_back_office(
        &self,
        order: &OrderId,
        update: BackOfficeUpdate,
        now: DateTime<Utc>,
        next_check: chrono::Duration,
    ) -> Result<BackOfficeOrder> {
        let mut tx = self.pool.begin().await?;
        let row = require(&mut tx, order).await?;
        let account: String = sqlx::query_scalar("SELECT account_id FROM orders WHERE id = $1")
            .bind(order.as_str())
            .fetch_one(&mut *tx)
            .await?;
        let account = stored("account id", AccountId::parse(&account))?;
        let now_s = at(now);
        let next = at(now + next_check);
        let set = |sql: &str| {
            format!(
                "UPDATE back_office_orders SET {sql}, {}, updated_at = ? WHERE order_id = ?",
                leases::RELEASE
            )
        };
        // Read-backs that change nothing people see are not journalled.
        let event = step_event(
            (row.state, row.remote_status.as_deref()),
            match &update {
                BackOfficeUpdate::Sent { .. } => Step::Sent,
                BackOfficeUpdate::SendFailed { .. } => Step::SendFailed,
                BackOfficeUpdate::Unchanged { remote_status } => Step::Unchanged { remote_status },
                BackOfficeUpdate::Waiting { .. } => Step::Waiting,
                BackOfficeUpdate::Shipped { .. } => Step::Shipped,
                BackOfficeUpdate::CancelledThere { .. } => Step::CancelledThere,
                BackOfficeUpdate::CancelledHere => Step::CancelledHere,
                BackOfficeUpdate::CheckFailed { .. } => Step::CheckFailed,
                BackOfficeUpdate::ChannelCancel { .. } => Step::ChannelCancel,
            },
        );
        match update {
            BackOfficeUpdate::Sent {
                remote_id,
                remote_number,
                remote_status,
            } => {
                sqlx::query(&pg(&set("state = 'not_shipped', remote_id = ?, remote_number = ?, remote_status = ?, attempts = 0, last_error = NULL, next_at = ?, checked_at = ?")))
                    .bind(&remote_id).bind(&remote_number).bind(&remote_status).bind(next).bind(now_s)
                    .bind(now_s).bind(order.as_str())
                    .execute(&mut *tx).await?;
                restate_channel_stock(&mut tx, &row.store_id, &row.channel_id, order).await?;
            }
            BackOfficeUpdate::SendFailed { error, retry_at } => {
                sqlx::query(&pg(&set("state = 'failed', last_error = ?, next_at = ?")))
                    .bind(&error)
                    .bind(retry_at.map(at))
                    .bind(now_s)
                    .bind(order.as_str())
                    .execute(&mut *tx)
                    .await?;
            }
            BackOfficeUpdate::Unchanged { remote_status } => {
                sqlx::query(&pg(&set("remote_status = ?, attempts = 0, last_error = NULL, next_at = ?, checked_at = ?")))
                    .bind(&remote_status).bind(next).bind(now_s).bind(now_s).bind(order.as_str())
                    .execute(&mut *tx).await?;
            }
            BackOfficeUpdate::Waiting {
                remote_status,
                since,
            } => {
                sqlx::query(&pg(&set("state = 'waiting', remote_status = ?, waiting_since = COALESCE(waiting_since, ?), attempts = 0, last_error = NULL, next_at = ?, checked_at = ?")))
                    .bind(&remote_status).bind(at(since)).bind(next).bind(now_s).bind(now_s).bind(order.as_str())
                    .execute(&mut *tx).await?;
            }
            BackOfficeUpdate::Shipped {
                remote_status,
                fulfilment,
            } => {
                // The order may have shipped another way meanwhile (the API,
                // a cancellation): the back office's word is kept, the
                // refusal noted, nothing ships twice.
                let recorded = match insert_fulfilment(&mut tx, &account, order, fulfilment).await {
                    Ok(f) => Ok(f.id.to_string()),
                    Err(StorageError::Conflict { message, .. }) => Err(message),
                    Err(e) => return Err(e),
                };
                let (fid, note) = shipped_in_back_office(recorded);
                sqlx::query(&pg(&set("state = 'shipped', remote_status = ?, fulfilment_id = ?, last_error = ?, next_at = NULL, checked_at = ?")))
                    .bind(&remote_status).bind(&fid).bind(&note).bind(now_s).bind(now_s).bind(order.as_str())
                    .execute(&mut *tx).await?;
            }
            BackOfficeUpdate::CancelledThere {
                remote_status,
                cancel_on_channel,
            } => {
                let o = fetch_order(&mut tx, &account, order, false).await?;
                if cancel_here(o.state) {
                    let ev = cancel_in_tx(
                        &mut tx,
                        &account,
                        &o,
                        Some("cancelled in the back office"),
                        "back_office",
                    )
                    .await?;
                    append_event(&mut tx, &account, &o.store_id, &ev).await?;
                }
                restate_channel_stock(&mut tx, &row.store_id, &row.channel_id, order).await?;
                let channel_cancel = channel_cancel_start(cancel_on_channel);
                sqlx::query(&pg(&set("state = 'cancelled', remote_status = ?, channel_cancel = ?, next_at = ?, checked_at = ?")))
                    .bind(&remote_status)
                    .bind(channel_cancel)
                    .bind(cancel_on_channel.then_some(&now_s))
                    .bind(now_s)
                    .bind(now_s)
                    .bind(order.as_str())
                    .execute(&mut *tx)
                    .await?;
            }
            BackOfficeUpdate::CancelledHere => {
                restate_channel_stock(&mut tx, &row.store_id, &row.channel_id, order).await?;
                sqlx::query(&pg(&set("state = 'cancelled', remote_status = 'cancelled', last_error = NULL, next_at = NULL")))
                    .bind(now_s)
                    .bind(order.as_str())
                    .execute(&mut *tx)
                    .await?;
            }
            BackOfficeUpdate::CheckFailed { error, retry_at } => {
                sqlx::query(&pg(&set(
                    "last_error = ?, attempts = attempts + 1, next_at = ?",
                )))
                .bind(&error)
                .bind(at(retry_at))
                .bind(now_s)
                .bind(order.as_str())
                .execute(&mut *tx)
                .await?;
            }
            BackOfficeUpdate::ChannelCancel { outcome, retry_at } => {
                let (state, error, restate) = channel_cancel_after(outcome, retry_at.is_some());
                if restate {
                    let marketplace: String =
                        sqlx::query_scalar("SELECT channel_id FROM orders WHERE id = $1")
                            .bind(order.as_str())
                            .fetch_one(&mut *tx)
                            .await?;
                    let marketplace = stored("channel id", ChannelId::parse(&marketplace))?;
                    restate_channel_stock(&mut tx, &row.store_id, &marketplace, order).await?;
                }
                sqlx::query(&pg(&set("channel_cancel = ?, last_error = ?, next_at = ?")))
                    .bind(&state)
                    .bind(&error)
                    .bind(retry_at.map(at))
                    .bind(now_s)
                    .bind(order.as_str())
                    .execute(&mut *tx)
                    .await?;
            }
        }
        let row = require(&mut tx, order).await?;
        if let Some(event) = event {
            journal_order(&mut tx, &account, &row, event).await?;
        }
        tx.commit().await?;
        Ok(row)
    }
}
