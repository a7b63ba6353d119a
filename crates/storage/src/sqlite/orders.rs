//! Orders: arrivals from a channel, the transactional upsert of one order
//! with its stock commitments and journal event, the orders list, and API
//! actions.
//!
//! An arriving batch's facts are read once (its stored orders, SKU
//! mappings, product kinds, the channel's filters and the store's rules),
//! each order's plan comes from [`switchyard_domain::arrival::plan`], and
//! the plans are written in the caller's transaction, with oversell
//! detection and the stock pushes they cause.

use std::collections::BTreeMap;

use crate::journal::{EventPayload, NewEvent, OrderEvent};
use async_trait::async_trait;
use sqlx::{QueryBuilder, Row, Sqlite, SqliteConnection};
use switchyard_domain::ids::{AccountId, ChannelId, OrderId, PluginId, StoreId};
use switchyard_domain::order::OrderState;
use switchyard_domain::order::check_action;
use switchyard_domain::shipment::resent_state;
use switchyard_domain::stock::plan_commitments;

use super::channels::require_channel;
use super::imports::find_existing;
use super::journal::event_from_row;
use super::listings::enqueue_targets;
use super::plugins::{plugin_order_cancelled, record_routing};
use super::products::load_kinds;
use super::stock::{CommitmentRow, commit_lines, committed_skus, insert_commitments, recommit};
use super::{
    SqliteStorage, append_event, append_events, fetch_limit, now_text, paginate, parse_ts,
    require_store, stored, ts,
};
use crate::import_page::{LineRow, LineWrite, Written, line_rows, new_lines, order_event};
use crate::stock::commitment_payload;
use crate::{
    JournalEvent, NewOrder, OrderAction, OrderFilter, OrderLineRecord, OrderRecord, Orders, Page,
    PageRequest, Result, StorageError, UpsertedOrder,
};

/// Everything written to an order row, the raw JSON as this backend stores it.
pub(crate) type OrderWrite<'a> = crate::import_page::OrderWrite<'a, String>;

/// Insert or update an order by `(channel, channel_order_id)`, its lines
/// and commitments, and journal it, on `conn` (inside the caller's transaction).
pub(crate) async fn write_order(
    conn: &mut SqliteConnection,
    account: &AccountId,
    store: &StoreId,
    w: OrderWrite<'_>,
) -> Result<Written> {
    let Some((id, previous)) = w.existing.clone() else {
        return write_new_orders(conn, account, store, vec![w])
            .await?
            .pop()
            .ok_or_else(|| {
                StorageError::corrupt("order write", std::io::Error::other("no row written"))
            });
    };
    let now = now_text();
    let u = w.unified;
    let created = false;
    let previous = Some(previous);
    // What our own fulfilments shipped stays shipped when the channel sends
    // the order again (our sync to the channel changes its `updated_at`).
    let shipped: BTreeMap<i64, i64> = sqlx::query_as(
        "SELECT fl.line_no, SUM(fl.quantity) FROM fulfilment_lines fl JOIN fulfilments f ON f.id = fl.fulfilment_id \
         WHERE f.order_id = ? AND f.status = 'active' GROUP BY fl.line_no",
    )
    .bind(id.as_str())
    .fetch_all(&mut *conn)
    .await?
    .into_iter()
    .collect();
    let ours: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM fulfilments WHERE order_id = ?")
        .bind(id.as_str())
        .fetch_one(&mut *conn)
        .await?;
    // Where Switchyard records the shipments, they (not the channel's
    // shipping status, which lags behind our sync) say how far it shipped.
    let mut w = w;
    let open: Vec<i64> = w.lines.iter().map(|l| l.open_quantity).collect();
    w.state = resent_state(w.state, ours > 0, &open, &shipped);
    let row = OrderRow::new(&id, &w)?;
    insert_orders(conn, account, store, &now, std::slice::from_ref(&row)).await?;
    sqlx::query("DELETE FROM order_lines WHERE order_id = ?")
        .bind(id.as_str())
        .execute(&mut *conn)
        .await?;
    let mut touched = committed_skus(conn, id.as_str()).await?;
    let lines: Vec<(i64, String, i64)> = w
        .lines
        .iter()
        .enumerate()
        .map(|(line_no, l)| {
            let line_no = i64::try_from(line_no).unwrap_or(i64::MAX);
            let open = (l.open_quantity - shipped.get(&line_no).copied().unwrap_or(0)).max(0);
            (line_no, l.sku.clone(), open)
        })
        .collect();
    insert_lines(conn, &line_rows(id.as_str(), &lines, &w.lines)).await?;
    let (commitments, committed) =
        commit_lines(conn, store, id.as_str(), w.state, &lines, w.kinds, created).await?;
    touched.extend(committed.iter().cloned());
    if w.state == OrderState::Cancelled && previous.is_some_and(|p| p != OrderState::Cancelled) {
        wake_back_office(conn, id.as_str()).await?;
        plugin_order_cancelled(conn, account, store, &id).await?;
    }
    if let Some(r) = &w.routing {
        let channel_tags = u.map(|o| o.tags.as_slice()).unwrap_or_default();
        record_routing(conn, account, store, &id, channel_tags, r).await?;
    }
    let ev = order_event(&id, &w, previous, commitments);
    append_event(conn, account, store, &ev).await?;
    Ok(Written {
        id,
        created,
        touched,
        committed,
    })
}

/// Write orders new to the store (no stored row for their channel order
/// id) with a few multi-row statements for all of them: their rows, lines,
/// commitments and `order.created` events, in the order given.
pub(crate) async fn write_new_orders(
    conn: &mut SqliteConnection,
    account: &AccountId,
    store: &StoreId,
    writes: Vec<OrderWrite<'_>>,
) -> Result<Vec<Written>> {
    if writes.is_empty() {
        return Ok(Vec::new());
    }
    let now = now_text();
    let mut rows = Vec::with_capacity(writes.len());
    let mut lines = Vec::with_capacity(writes.len());
    for w in &writes {
        let id = OrderId::generate();
        // A new order has no fulfilments of ours: its state is the channel's.
        rows.push(OrderRow::new(&id, w)?);
        lines.push((id, new_lines(&w.lines)));
    }
    insert_orders(conn, account, store, &now, &rows).await?;
    let all_lines: Vec<LineRow<'_>> = lines
        .iter()
        .zip(&writes)
        .flat_map(|((id, l), w)| line_rows(id.as_str(), l, &w.lines))
        .collect();
    insert_lines(conn, &all_lines).await?;
    let plans: Vec<_> = lines
        .iter()
        .zip(&writes)
        .map(|((_, l), w)| plan_commitments(w.state, l, w.kinds))
        .collect();
    let all_commitments: Vec<CommitmentRow<'_>> = lines
        .iter()
        .zip(&plans)
        .flat_map(|((id, _), plan)| {
            plan.iter()
                .map(|(n, sku, qty, via)| (id.as_str(), *n, *sku, *qty, *via))
        })
        .collect();
    insert_commitments(conn, store, &all_commitments).await?;
    let mut events = Vec::with_capacity(writes.len());
    let mut written = Vec::with_capacity(writes.len());
    for (((id, _), w), plan) in lines.iter().zip(&writes).zip(&plans) {
        if let Some(r) = &w.routing {
            let channel_tags = w.unified.map(|o| o.tags.as_slice()).unwrap_or_default();
            record_routing(conn, account, store, id, channel_tags, r).await?;
        }
        let (commitments, committed) = commitment_payload(plan);
        events.push(order_event(id, w, None, commitments));
        written.push(Written {
            id: id.clone(),
            created: true,
            touched: committed.clone(),
            committed,
        });
    }
    append_events(conn, account, store, &events).await?;
    Ok(written)
}

/// An order's row, ready to bind.
struct OrderRow {
    id: String,
    channel_id: String,
    channel_order_id: String,
    state: &'static str,
    number: String,
    payment_status: Option<String>,
    country: Option<String>,
    customer_name: Option<String>,
    customer_email: Option<String>,
    currency: Option<String>,
    total: Option<i64>,
    channel_updated_at: Option<String>,
    unified: Option<String>,
    raw: Option<String>,
    excluded_reason: Option<String>,
    /// The channel's tags, kept on the row from the order's arrival (an
    /// update leaves them and what rules added alone).
    tags: String,
    hold_reason: Option<String>,
}

impl OrderRow {
    fn new(id: &OrderId, w: &OrderWrite<'_>) -> Result<Self> {
        let u = w.unified;
        Ok(Self {
            id: id.to_string(),
            channel_id: w.channel_id.to_string(),
            channel_order_id: w.channel_order_id.to_owned(),
            state: w.state.as_str(),
            number: u.map_or_else(String::new, |o| o.number.clone()),
            payment_status: u.map(|o| enum_text(&o.payment_status)),
            country: u.and_then(|o| o.shipping_address.country.map(|c| c.as_str().to_owned())),
            customer_name: u.and_then(|o| o.customer.name.clone()),
            customer_email: u.and_then(|o| o.customer.email.clone()),
            currency: u.map(|o| o.currency.as_str().to_owned()),
            total: u.map(|o| o.total),
            channel_updated_at: u.map(|o| ts(o.updated_at)),
            unified: u.map(|o| serde_json::to_string(o).unwrap_or_default()),
            raw: w.raw.clone(),
            excluded_reason: w.excluded_reason.clone(),
            tags: serde_json::to_string(u.map(|o| o.tags.as_slice()).unwrap_or_default())
                .map_err(|e| StorageError::corrupt("tags", e))?,
            hold_reason: w.hold_reason.clone(),
        })
    }
}

/// Insert (or, for a channel order id already stored, update) `rows`.
async fn insert_orders(
    conn: &mut SqliteConnection,
    account: &AccountId,
    store: &StoreId,
    now: &str,
    rows: &[OrderRow],
) -> Result<()> {
    // 21 variables a row, under SQLite's 32,766.
    for chunk in rows.chunks(500) {
        let mut q: QueryBuilder<Sqlite> = QueryBuilder::new(
            "INSERT INTO orders (id, account_id, store_id, channel_id, channel_order_id, state, created_at, updated_at, \
             number, payment_status, country, customer_name, customer_email, currency, total, channel_updated_at, unified, raw, excluded_reason, tags, hold_reason) ",
        );
        q.push_values(chunk, |mut b, r| {
            b.push_bind(r.id.as_str())
                .push_bind(account.as_str())
                .push_bind(store.as_str())
                .push_bind(r.channel_id.as_str())
                .push_bind(r.channel_order_id.as_str())
                .push_bind(r.state)
                .push_bind(now)
                .push_bind(now)
                .push_bind(r.number.as_str())
                .push_bind(r.payment_status.as_deref())
                .push_bind(r.country.as_deref())
                .push_bind(r.customer_name.as_deref())
                .push_bind(r.customer_email.as_deref())
                .push_bind(r.currency.as_deref())
                .push_bind(r.total)
                .push_bind(r.channel_updated_at.as_deref())
                .push_bind(r.unified.as_deref())
                .push_bind(r.raw.as_deref())
                .push_bind(r.excluded_reason.as_deref())
                .push_bind(r.tags.as_str())
                .push_bind(r.hold_reason.as_deref());
        });
        q.push(
            " ON CONFLICT (channel_id, channel_order_id) DO UPDATE SET state = excluded.state, updated_at = excluded.updated_at, \
             number = excluded.number, payment_status = excluded.payment_status, country = excluded.country, \
             customer_name = excluded.customer_name, customer_email = excluded.customer_email, currency = excluded.currency, \
             total = excluded.total, channel_updated_at = excluded.channel_updated_at, unified = excluded.unified, \
             raw = excluded.raw, excluded_reason = excluded.excluded_reason",
        );
        q.build().execute(&mut *conn).await?;
    }
    Ok(())
}

async fn insert_lines(conn: &mut SqliteConnection, rows: &[LineRow<'_>]) -> Result<()> {
    for chunk in rows.chunks(2000) {
        let mut q: QueryBuilder<Sqlite> = QueryBuilder::new(
            "INSERT INTO order_lines (order_id, line_no, sku, open_quantity, channel_line_id, quantity) ",
        );
        q.push_values(chunk, |mut b, (id, n, sku, open, line, quantity)| {
            b.push_bind(*id)
                .push_bind(*n)
                .push_bind(*sku)
                .push_bind(*open)
                .push_bind(*line)
                .push_bind(*quantity);
        });
        q.build().execute(&mut *conn).await?;
    }
    Ok(())
}

fn enum_text<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_value(v)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

const ORDER_COLUMNS: &str = "id, store_id, channel_id, channel_order_id, number, state, excluded_reason, hold_reason, \
     manual, oversold, tags, plugin_id, routed_by, unified, created_at, updated_at";

fn order_from_row(r: &sqlx::sqlite::SqliteRow, lines: Vec<OrderLineRecord>) -> Result<OrderRecord> {
    let unified: Option<&str> = r.try_get("unified")?;
    let raw: Option<&str> = r.try_get("raw").unwrap_or(None);
    Ok(OrderRecord {
        id: stored("order id", OrderId::parse(r.try_get("id")?))?,
        store_id: stored("store id", StoreId::parse(r.try_get("store_id")?))?,
        channel_id: stored("channel id", ChannelId::parse(r.try_get("channel_id")?))?,
        channel_order_id: r.try_get("channel_order_id")?,
        number: r.try_get("number")?,
        state: stored("order state", OrderState::parse(r.try_get("state")?))?,
        excluded_reason: r.try_get("excluded_reason")?,
        hold_reason: r.try_get("hold_reason")?,
        manual: r.try_get("manual")?,
        oversold: r.try_get("oversold")?,
        tags: serde_json::from_str(r.try_get("tags")?)
            .map_err(|e| StorageError::corrupt("order tags", e))?,
        plugin_id: r
            .try_get::<Option<&str>, _>("plugin_id")?
            .map(|p| stored("plugin id", PluginId::parse(p)))
            .transpose()?,
        routed_by: r.try_get("routed_by")?,
        unified: unified
            .map(serde_json::from_str)
            .transpose()
            .map_err(|e| StorageError::corrupt("unified order", e))?,
        raw: raw
            .map(serde_json::from_str)
            .transpose()
            .map_err(|e| StorageError::corrupt("raw order", e))?,
        lines,
        created_at: parse_ts(r.try_get("created_at")?)?,
        updated_at: parse_ts(r.try_get("updated_at")?)?,
    })
}

/// The lines of `ids`, by order id, in line order: one query per 400 orders.
async fn lines_of(
    conn: &mut SqliteConnection,
    ids: &[&str],
) -> Result<BTreeMap<String, Vec<OrderLineRecord>>> {
    let mut out: BTreeMap<String, Vec<OrderLineRecord>> = BTreeMap::new();
    for chunk in ids.chunks(400) {
        let mut q: QueryBuilder<Sqlite> = QueryBuilder::new(
            "SELECT order_id, line_no, channel_line_id, sku, quantity, open_quantity FROM order_lines WHERE order_id IN (",
        );
        let mut sep = q.separated(", ");
        for id in chunk {
            sep.push_bind(*id);
        }
        q.push(") ORDER BY order_id, line_no");
        for r in q.build().fetch_all(&mut *conn).await? {
            out.entry(r.try_get("order_id")?)
                .or_default()
                .push(OrderLineRecord {
                    line_no: r.try_get("line_no")?,
                    channel_line_id: r.try_get("channel_line_id")?,
                    sku: r.try_get("sku")?,
                    quantity: r.try_get("quantity")?,
                    open_quantity: r.try_get("open_quantity")?,
                });
        }
    }
    Ok(out)
}

pub(crate) async fn fetch_order(
    conn: &mut SqliteConnection,
    account: &AccountId,
    id: &OrderId,
    with_raw: bool,
) -> Result<OrderRecord> {
    let raw = if with_raw { ", raw" } else { "" };
    let r = sqlx::query(&format!(
        "SELECT {ORDER_COLUMNS}{raw} FROM orders WHERE id = ? AND account_id = ?"
    ))
    .bind(id.as_str())
    .bind(account.as_str())
    .fetch_optional(&mut *conn)
    .await?
    .ok_or(StorageError::NotFound { entity: "order" })?;
    let lines = lines_of(conn, &[id.as_str()])
        .await?
        .remove(id.as_str())
        .unwrap_or_default();
    order_from_row(&r, lines)
}

/// Orders of `account` by id, with their lines (not their raw payloads):
/// two queries per 400 orders.
pub(crate) async fn fetch_orders(
    conn: &mut SqliteConnection,
    account: &AccountId,
    ids: &[&str],
) -> Result<BTreeMap<String, OrderRecord>> {
    let mut out = BTreeMap::new();
    for chunk in ids.chunks(400) {
        let mut q: QueryBuilder<Sqlite> = QueryBuilder::new(format!(
            "SELECT {ORDER_COLUMNS} FROM orders WHERE account_id = "
        ));
        q.push_bind(account.as_str()).push(" AND id IN (");
        let mut sep = q.separated(", ");
        for id in chunk {
            sep.push_bind(*id);
        }
        q.push(")");
        let rows = q.build().fetch_all(&mut *conn).await?;
        let mut lines = lines_of(conn, chunk).await?;
        for r in &rows {
            let id: String = r.try_get("id")?;
            let o = order_from_row(r, lines.remove(&id).unwrap_or_default())?;
            out.insert(id, o);
        }
    }
    Ok(out)
}

/// A cancelled order's back-office copy is dealt with now, not at its next
/// read-back.
async fn wake_back_office(conn: &mut SqliteConnection, order: &str) -> Result<()> {
    sqlx::query(
        "UPDATE back_office_orders SET next_at = ? WHERE order_id = ? AND state IN ('not_shipped', 'waiting', 'pending', 'failed')",
    )
    .bind(now_text())
    .bind(order)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Cancel `o` on `conn`: release its commitments and enqueue the pushes.
/// Returns the journal event to append (the caller adds it).
pub(crate) async fn cancel_in_tx(
    conn: &mut SqliteConnection,
    account: &AccountId,
    o: &OrderRecord,
    reason: Option<&str>,
    by: &str,
) -> Result<NewEvent> {
    let released = committed_skus(conn, o.id.as_str()).await?;
    sqlx::query("UPDATE orders SET state = 'cancelled', updated_at = ? WHERE id = ?")
        .bind(now_text())
        .bind(o.id.as_str())
        .execute(&mut *conn)
        .await?;
    recommit(conn, &o.store_id, o.id.as_str(), OrderState::Cancelled).await?;
    enqueue_targets(conn, &o.store_id, &released, "order_cancelled").await?;
    wake_back_office(conn, o.id.as_str()).await?;
    plugin_order_cancelled(conn, account, &o.store_id, &o.id).await?;
    Ok(NewEvent::new(
        &o.id,
        "order.cancelled",
        EventPayload::Order(OrderEvent {
            reason: reason.map(str::to_owned),
            previous_state: Some(o.state),
            by: Some(by.to_owned()),
            ..OrderEvent::of(&o.id)
        }),
    ))
}

#[async_trait]
impl Orders for SqliteStorage {
    #[tracing::instrument(skip_all, fields(account = %account, store = %store, channel = %order.channel_id, channel_order_id = %order.channel_order_id))]
    async fn upsert_order(
        &self,
        account: &AccountId,
        store: &StoreId,
        order: NewOrder,
    ) -> Result<UpsertedOrder> {
        let mut tx = self.write.begin().await?;
        require_channel(&mut tx, account, store, &order.channel_id).await?;
        let skus: Vec<&str> = order.lines.iter().map(|l| l.sku.as_str()).collect();
        let kinds = load_kinds(&mut tx, store, &skus).await?;
        let lines = order
            .lines
            .iter()
            .map(|l| LineWrite {
                channel_line_id: None,
                sku: l.sku.as_str().to_owned(),
                quantity: None,
                open_quantity: l.open_quantity,
            })
            .collect();
        let existing = find_existing(&mut tx, &order.channel_id, &order.channel_order_id)
            .await?
            .map(|e| (e.id, e.state));
        let w = write_order(
            &mut tx,
            account,
            store,
            OrderWrite {
                existing,
                channel_id: &order.channel_id,
                channel_order_id: &order.channel_order_id,
                state: order.state,
                excluded_reason: None,
                hold_reason: None,
                unified: None,
                raw: None,
                lines,
                routing: None,
                kinds: &kinds,
            },
        )
        .await?;
        enqueue_targets(&mut tx, store, &w.touched, "order").await?;
        tx.commit().await?;
        Ok(UpsertedOrder {
            id: w.id,
            created: w.created,
        })
    }

    async fn count_orders(&self, account: &AccountId, store: &StoreId) -> Result<i64> {
        let mut tx = self.read.begin().await?;
        require_store(&mut tx, account, store).await?;
        Ok(
            sqlx::query_scalar("SELECT COUNT(*) FROM orders WHERE store_id = ?")
                .bind(store.as_str())
                .fetch_one(&mut *tx)
                .await?,
        )
    }

    async fn list_orders(
        &self,
        account: &AccountId,
        filter: &OrderFilter,
        page: &PageRequest,
    ) -> Result<Page<OrderRecord>> {
        let mut tx = self.read.begin().await?;
        let mut q: QueryBuilder<Sqlite> = QueryBuilder::new(format!(
            "SELECT {ORDER_COLUMNS} FROM orders WHERE account_id = "
        ));
        q.push_bind(account.as_str());
        if let Some(s) = &filter.store_id {
            q.push(" AND store_id = ").push_bind(s.as_str());
        }
        if let Some(c) = &filter.channel_id {
            q.push(" AND channel_id = ").push_bind(c.as_str());
        }
        if let Some(st) = filter.state {
            q.push(" AND state = ").push_bind(st.as_str());
        }
        if let Some(t) = filter.updated_since {
            q.push(" AND updated_at >= ").push_bind(ts(t));
        }
        if let Some(c) = &filter.country {
            q.push(" AND country = ").push_bind(c.clone());
        }
        if let Some(sku) = &filter.sku {
            q.push(" AND id IN (SELECT order_id FROM order_lines WHERE sku = ")
                .push_bind(sku.clone())
                .push(")");
        }
        if let Some(text) = &filter.q {
            let like = format!(
                "%{}%",
                text.replace('\\', "\\\\")
                    .replace('%', "\\%")
                    .replace('_', "\\_")
            );
            q.push(" AND (number LIKE ")
                .push_bind(like.clone())
                .push(" ESCAPE '\\' OR customer_name LIKE ")
                .push_bind(like.clone())
                .push(" ESCAPE '\\' OR customer_email LIKE ")
                .push_bind(like)
                .push(" ESCAPE '\\')");
        }
        if filter.newest_first {
            if let Some(after) = &page.after {
                q.push(" AND id < ").push_bind(after.clone());
            }
            q.push(" ORDER BY id DESC LIMIT ");
        } else {
            q.push(" AND id > ")
                .push_bind(page.after.clone().unwrap_or_default());
            q.push(" ORDER BY id LIMIT ");
        }
        q.push_bind(fetch_limit(page));
        let rows = q.build().fetch_all(&mut *tx).await?;
        let ids = rows
            .iter()
            .map(|r| r.try_get::<&str, _>("id"))
            .collect::<std::result::Result<Vec<_>, _>>()?;
        let mut lines = lines_of(&mut tx, &ids).await?;
        let items = rows
            .iter()
            .zip(&ids)
            .map(|(r, id)| order_from_row(r, lines.remove(*id).unwrap_or_default()))
            .collect::<Result<Vec<_>>>()?;
        Ok(paginate(items, page, |o| o.id.to_string()))
    }

    async fn get_order(&self, account: &AccountId, id: &OrderId) -> Result<OrderRecord> {
        let mut tx = self.read.begin().await?;
        fetch_order(&mut tx, account, id, true).await
    }

    async fn order_events(&self, account: &AccountId, id: &OrderId) -> Result<Vec<JournalEvent>> {
        let mut tx = self.read.begin().await?;
        fetch_order(&mut tx, account, id, false).await?;
        let rows = sqlx::query(
            "SELECT seq, store_id, entity_type, entity_id, event_type, payload, created_at FROM journal
             WHERE account_id = ? AND entity_type = 'order' AND entity_id = ? ORDER BY seq LIMIT 1000",
        )
        .bind(account.as_str())
        .bind(id.as_str())
        .fetch_all(&mut *tx)
        .await?;
        rows.iter().map(event_from_row).collect()
    }

    #[tracing::instrument(skip(self))]
    async fn act_on_order(
        &self,
        account: &AccountId,
        id: &OrderId,
        action: OrderAction,
    ) -> Result<OrderRecord> {
        let mut tx = self.write.begin().await?;
        let o = fetch_order(&mut tx, account, id, false).await?;
        if !check_action(o.state, &action)
            .map_err(|e| StorageError::conflict(e.code, e.message, e.field))?
        {
            return Ok(o);
        }
        let now = now_text();
        let said = |event_type, event: OrderEvent| {
            NewEvent::new(id, event_type, EventPayload::Order(event))
        };
        let ev = match &action {
            OrderAction::Hold(reason) => {
                sqlx::query("UPDATE orders SET state = 'on_hold', hold_reason = ?, updated_at = ? WHERE id = ?")
                    .bind(reason)
                    .bind(&now)
                    .bind(id.as_str())
                    .execute(&mut *tx)
                    .await?;
                said(
                    "order.on_hold",
                    OrderEvent {
                        reason: Some(reason.clone()),
                        ..OrderEvent::of(id)
                    },
                )
            }
            OrderAction::Release => {
                sqlx::query("UPDATE orders SET state = 'open', hold_reason = NULL, updated_at = ? WHERE id = ?")
                    .bind(&now)
                    .bind(id.as_str())
                    .execute(&mut *tx)
                    .await?;
                said("order.released", OrderEvent::of(id))
            }
            OrderAction::Cancel(reason) => {
                cancel_in_tx(&mut tx, account, &o, reason.as_deref(), "api").await?
            }
            OrderAction::Manual(on) => {
                sqlx::query("UPDATE orders SET manual = ?, updated_at = ? WHERE id = ?")
                    .bind(on)
                    .bind(&now)
                    .bind(id.as_str())
                    .execute(&mut *tx)
                    .await?;
                said(
                    "order.updated",
                    OrderEvent {
                        manual: Some(*on),
                        ..OrderEvent::of(id)
                    },
                )
            }
        };
        append_event(&mut tx, account, &o.store_id, &ev).await?;
        let out = fetch_order(&mut tx, account, id, true).await?;
        tx.commit().await?;
        Ok(out)
    }
}
