//! Orders arriving from a channel: the facts of a batch are read once (its
//! stored orders, SKU mappings, product kinds, the channel's filters and
//! the store's rules), each order's plan comes from
//! [`switchyard_domain::arrival::plan`], and the plans are written in the
//! caller's transaction, with oversell detection and the stock pushes they
//! cause.

use std::collections::{BTreeSet, HashMap, HashSet};

use sqlx::{Row, SqliteConnection};
use switchyard_domain::arrival::{ArrivalPlan, ArrivalWrite, Stored, plan};
use switchyard_domain::filter::ChannelSettings;
use switchyard_domain::ids::{ChannelId, OrderId};
use switchyard_domain::order::OrderState;
use switchyard_domain::plugin_rules::PluginRules;

use super::catalogue::Kinds;
use super::ledger::{flag_oversold, invalidate_confirmed};
use super::listings::{enqueue_targets, require_channel};
use super::mapping::map_skus;
use super::orders::{LineWrite, OrderWrite, write_order};
use super::{execute_in, fetch_in_by, now_text, store_setting, stored, ts};
use crate::{ChannelRef, ImportItem, ImportOutcome, ImportReport, Result, StorageError};

/// The stored order with this channel id.
pub(crate) struct Existing {
    pub id: OrderId,
    pub state: OrderState,
    /// The channel `updated_at` it was last imported with.
    seen: Option<String>,
    /// Excluded by a plugin rule when it arrived, with the reason.
    rule_excluded: Option<String>,
}

pub(crate) async fn find_existing(
    conn: &mut SqliteConnection,
    channel: &ChannelId,
    channel_order_id: &str,
) -> Result<Option<Existing>> {
    let row: Option<(String, String, Option<String>, Option<String>)> = sqlx::query_as(
        "SELECT id, state, channel_updated_at, rule_excluded FROM orders WHERE channel_id = ? AND channel_order_id = ?",
    )
    .bind(channel.as_str())
    .bind(channel_order_id)
    .fetch_optional(&mut *conn)
    .await?;
    row.map(|(id, state, seen, rule_excluded)| {
        Ok(Existing {
            id: stored("order id", OrderId::parse(&id))?,
            state: stored("order state", OrderState::parse(&state))?,
            seen,
            rule_excluded,
        })
    })
    .transpose()
}

/// The stored orders of a channel among `ids`, by channel order id.
async fn find_existing_many(
    conn: &mut SqliteConnection,
    channel: &ChannelId,
    ids: &[&str],
) -> Result<HashMap<String, Existing>> {
    let rows = fetch_in_by(
        conn,
        "SELECT channel_order_id, id, state, channel_updated_at, rule_excluded FROM orders",
        ("channel_id", channel.as_str()),
        "channel_order_id",
        ids,
        "",
    )
    .await?;
    let mut out = HashMap::with_capacity(rows.len());
    for r in rows {
        out.insert(
            r.try_get("channel_order_id")?,
            Existing {
                id: stored("order id", OrderId::parse(r.try_get("id")?))?,
                state: stored("order state", OrderState::parse(r.try_get("state")?))?,
                seen: r.try_get("channel_updated_at")?,
                rule_excluded: r.try_get("rule_excluded")?,
            },
        );
    }
    Ok(out)
}

/// Import a batch in the caller's transaction (see [`crate::Imports::import_orders`]).
pub(crate) async fn import_batch(
    conn: &mut SqliteConnection,
    channel: &ChannelRef,
    items: &[ImportItem],
) -> Result<ImportReport> {
    let (account, store, ch) = (&channel.account_id, &channel.store_id, &channel.channel_id);
    require_channel(conn, account, store, ch).await?;
    let settings: String = sqlx::query_scalar("SELECT settings FROM channels WHERE id = ?")
        .bind(ch.as_str())
        .fetch_one(&mut *conn)
        .await?;
    let settings: ChannelSettings = serde_json::from_str(&settings)
        .map_err(|e| StorageError::corrupt("channel settings", e))?;
    let rules: PluginRules = store_setting(conn, store, "plugin_rules").await?;
    let mut report = ImportReport::default();
    let mut touched = BTreeSet::new();
    let mut check_oversell: Vec<(OrderId, BTreeSet<String>)> = Vec::new();
    // Everything the page needs is read once: its stored orders, SKU
    // mappings and product kinds.
    let ids: Vec<&str> = items
        .iter()
        .map(|i| i.order.channel_order_id.as_str())
        .collect();
    let mut stored_orders = find_existing_many(conn, ch, &ids).await?;
    let channel_skus: BTreeSet<&str> = items
        .iter()
        .flat_map(|i| &i.order.lines)
        .filter_map(|l| l.sku.as_deref().map(str::trim))
        .filter(|s| !s.is_empty())
        .collect();
    let channel_skus: Vec<&str> = channel_skus.into_iter().collect();
    let mapping = map_skus(conn, store, ch, &channel_skus).await?;
    let store_skus: BTreeSet<&str> = mapping.values().map(String::as_str).collect();
    let store_skus: Vec<&str> = store_skus.into_iter().collect();
    let kinds = Kinds::load(conn, store, &store_skus).await?;
    // Orders written in this batch (a page may carry one twice) and the
    // orders whose import errors are now resolved.
    let mut written_ids: HashSet<String> = HashSet::new();
    let mut resolved: Vec<String> = Vec::new();
    let mut stale: BTreeSet<String> = BTreeSet::new();
    for item in items {
        let cid = item.order.channel_order_id.as_str();
        let existing = if written_ids.contains(cid) {
            find_existing(conn, ch, cid).await?
        } else {
            stored_orders.remove(cid)
        };
        let stored_facts = existing.as_ref().map(|e| Stored {
            state: e.state,
            same_version: e.seen.as_deref() == Some(ts(item.order.updated_at).as_str()),
            rule_excluded: e.rule_excluded.clone(),
        });
        let w = match plan(
            ch.as_str(),
            &item.order,
            &settings.order_filters,
            &rules,
            &mapping,
            stored_facts.as_ref(),
        ) {
            ArrivalPlan::Skip(reason) => {
                report.outcomes.push(ImportOutcome::Skipped { reason });
                continue;
            }
            ArrivalPlan::Unchanged => {
                if let Some(e) = &existing {
                    report
                        .outcomes
                        .push(ImportOutcome::Unchanged { id: e.id.clone() });
                }
                continue;
            }
            ArrivalPlan::Write(w) => *w,
        };
        let ArrivalWrite {
            order,
            lines,
            state,
            excluded_reason,
            hold_reason,
            routing,
            mapped_skus,
        } = w;
        let lines = lines.into_iter().map(LineWrite::from).collect();
        let written = write_order(
            conn,
            account,
            store,
            OrderWrite {
                existing: existing.map(|e| (e.id, e.state)),
                channel_id: ch,
                channel_order_id: &order.channel_order_id,
                state,
                excluded_reason,
                hold_reason,
                unified: Some(&order),
                raw: Some(item.raw.to_string()),
                lines,
                routing,
                kinds: &kinds,
            },
        )
        .await?;
        written_ids.insert(order.channel_order_id.clone());
        resolved.push(order.channel_order_id.clone());
        touched.extend(written.touched);
        if written.created {
            // The channel took its own stock down at checkout: what we last
            // confirmed there is stale for these SKUs, even when the order
            // commits nothing here (excluded), so their targets are pushed again.
            stale.extend(mapped_skus.iter().cloned());
            touched.extend(mapped_skus);
        }
        if !written.committed.is_empty() {
            check_oversell.push((written.id.clone(), written.committed));
        }
        report.outcomes.push(if written.created {
            ImportOutcome::Created {
                id: written.id,
                state,
            }
        } else {
            ImportOutcome::Updated {
                id: written.id,
                state,
            }
        });
    }
    let resolved: Vec<&str> = resolved.iter().map(String::as_str).collect();
    let now = now_text();
    execute_in(
        conn,
        |q| {
            q.push("UPDATE import_errors SET resolved_at = ")
                .push_bind(now.clone())
                .push(" WHERE channel_id = ")
                .push_bind(ch.as_str().to_owned())
                .push(" AND resolved_at IS NULL AND");
        },
        "channel_order_id",
        &resolved,
    )
    .await?;
    invalidate_confirmed(conn, store, ch, &stale).await?;
    report.oversold = flag_oversold(conn, account, store, check_oversell).await?;
    report.pushes_enqueued = enqueue_targets(conn, store, &touched, "order_import").await?;
    Ok(report)
}
