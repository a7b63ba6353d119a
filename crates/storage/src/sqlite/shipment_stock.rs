//! What a shipment does to stock and to its order: the plain units behind
//! shipped lines (kits expanded), the `api` source moved by them, and the
//! order's state and commitments settled from its open lines.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::json;
use sqlx::SqliteConnection;
use switchyard_domain::event::{EntityType, NewEvent};
use switchyard_domain::fulfilment::state_after;
use switchyard_domain::ids::{AccountId, StoreId};
use switchyard_domain::order::OrderState;

use super::catalogue::{components_of, product_kind};
use super::orders::{committed_skus, recommit};
use super::{append_event, now_text};
use crate::Result;

/// The plain SKUs (kits expanded) and units behind `(sku, quantity)` lines.
pub(crate) async fn plain_units(
    conn: &mut SqliteConnection,
    store: &StoreId,
    lines: &[(String, i64)],
) -> Result<BTreeMap<String, i64>> {
    let mut out: BTreeMap<String, i64> = BTreeMap::new();
    for (sku, qty) in lines {
        match product_kind(conn, store, sku).await? {
            None => {}
            Some(false) => *out.entry(sku.clone()).or_default() += qty,
            Some(true) => {
                for c in components_of(conn, store, &[sku.as_str()])
                    .await?
                    .remove(sku.as_str())
                    .unwrap_or_default()
                {
                    *out.entry(c.sku.as_str().to_owned()).or_default() +=
                        c.quantity.saturating_mul(*qty);
                }
            }
        }
    }
    Ok(out)
}

/// Move the `api` source of each SKU by `sign · units` (shipping takes
/// units off, cancelling a shipment puts them back), never below zero:
/// the unlocated level first, then locations in name order. Journalled as
/// `stock.changed` with `reason`.
pub(crate) async fn move_api_stock(
    conn: &mut SqliteConnection,
    account: &AccountId,
    store: &StoreId,
    units: &BTreeMap<String, i64>,
    sign: i64,
    reason: &str,
) -> Result<()> {
    let now = now_text();
    for (sku, qty) in units {
        let levels: Vec<(String, i64)> = sqlx::query_as(
            "SELECT location, quantity FROM stock_levels WHERE store_id = ? AND sku = ? AND source = 'api' ORDER BY location",
        )
        .bind(store.as_str())
        .bind(sku)
        .fetch_all(&mut *conn)
        .await?;
        let mut left = *qty;
        let mut changes: Vec<(String, i64, i64)> = Vec::new();
        if sign > 0 {
            // Back where it was taken from: the unlocated level.
            let before = levels
                .iter()
                .find(|(l, _)| l.is_empty())
                .map_or(0, |(_, q)| *q);
            changes.push((String::new(), before, before.saturating_add(left)));
        } else {
            for (loc, before) in levels {
                if left == 0 {
                    break;
                }
                let take = left.min(before);
                if take > 0 {
                    changes.push((loc, before, before - take));
                    left -= take;
                }
            }
        }
        for (loc, before, after) in changes {
            sqlx::query(
                "INSERT INTO stock_levels (store_id, sku, source, location, quantity, updated_at) VALUES (?, ?, 'api', ?, ?, ?)
                 ON CONFLICT (store_id, sku, source, location) DO UPDATE SET quantity = excluded.quantity, updated_at = excluded.updated_at",
            )
            .bind(store.as_str())
            .bind(sku)
            .bind(&loc)
            .bind(after)
            .bind(&now)
            .execute(&mut *conn)
            .await?;
            let ev = NewEvent {
                entity_type: EntityType::Stock,
                entity_id: sku.clone(),
                event_type: "stock.changed",
                payload: json!({
                    "sku": sku, "source": "api", "location": loc,
                    "before": before, "after": after, "reason": reason,
                }),
            };
            append_event(conn, account, store, &ev).await?;
        }
    }
    Ok(())
}

/// Units still open and units shipped over an order's lines.
async fn open_and_shipped(conn: &mut SqliteConnection, order: &str) -> Result<(i64, i64)> {
    let (open, ordered): (Option<i64>, Option<i64>) = sqlx::query_as(
        "SELECT SUM(open_quantity), SUM(COALESCE(quantity, open_quantity)) FROM order_lines WHERE order_id = ?",
    )
    .bind(order)
    .fetch_one(&mut *conn)
    .await?;
    let open = open.unwrap_or(0);
    Ok((open, ordered.unwrap_or(0) - open))
}

/// Set the order's state from its open lines (unless it is cancelled),
/// recommit, and return the SKUs whose commitments changed.
pub(crate) async fn settle_order(
    conn: &mut SqliteConnection,
    store: &StoreId,
    order: &str,
    current: OrderState,
) -> Result<(OrderState, BTreeSet<String>)> {
    let mut touched = committed_skus(conn, order).await?;
    let (open, shipped) = open_and_shipped(conn, order).await?;
    let state = match current {
        OrderState::Cancelled | OrderState::Excluded => current,
        // A hold survives a shipment of part of the order.
        OrderState::OnHold if open > 0 => current,
        _ => state_after(open, shipped),
    };
    sqlx::query("UPDATE orders SET state = ?, updated_at = ? WHERE id = ?")
        .bind(state.as_str())
        .bind(now_text())
        .bind(order)
        .execute(&mut *conn)
        .await?;
    let (_, committed) = recommit(conn, store, order, state).await?;
    touched.extend(committed);
    Ok((state, touched))
}
