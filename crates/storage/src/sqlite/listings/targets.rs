//! Push targets: recomputing the targets of the listings that show some
//! SKUs ([`enqueue_targets`], in the transaction that changed their stock),
//! and marking SKUs for the stock pusher to recompute later ([`mark_stale`],
//! an import page's way).

use std::collections::{BTreeSet, HashMap};

use sqlx::{QueryBuilder, Row, Sqlite, SqliteConnection};
use switchyard_domain::filter::ChannelSettings;
use switchyard_domain::ids::StoreId;
use switchyard_domain::push::{ListingPushState, OpenPush, plan_pushes};
use switchyard_domain::stock::StockRules;

use super::super::products::components_of;
use super::super::stock::totals;
use super::super::{fetch_in, fetch_in_by, now_text};
use crate::{Result, StorageError};

/// Recompute the targets of every listing showing `skus` (or a kit that
/// contains one of them) and enqueue pushes. Returns how many pushes carry
/// a new target (new or retargeted).
///
/// A fixed number of statements whatever the number of listings: the
/// listings with their open pushes, the channels' rules, the SKUs' totals,
/// one update retargeting untried pushes, one superseding open pushes, and
/// batched inserts.
pub(crate) async fn enqueue_targets(
    conn: &mut SqliteConnection,
    store: &StoreId,
    skus: &BTreeSet<String>,
    cause: &str,
) -> Result<usize> {
    if skus.is_empty() {
        return Ok(0);
    }
    let plain: Vec<&str> = skus.iter().map(String::as_str).collect();
    let mut shown: BTreeSet<String> = skus.clone();
    for r in fetch_in(
        conn,
        "SELECT DISTINCT kit_sku FROM kit_components",
        store,
        "component_sku",
        &plain,
        "",
    )
    .await?
    {
        shown.insert(r.try_get("kit_sku")?);
    }
    let shown_refs: Vec<&str> = shown.iter().map(String::as_str).collect();
    let rows = fetch_in_by(
        conn,
        "SELECT l.channel_id, l.listing_id, l.sku, l.confirmed_quantity, p.id AS open_id, p.quantity AS open_quantity, \
         p.state = 'pending' AND p.attempts = 0 AS open_untried \
         FROM listings l LEFT JOIN stock_pushes p ON p.channel_id = l.channel_id AND p.listing_id = l.listing_id \
         AND p.state IN ('pending', 'error')",
        ("l.store_id", store.as_str()),
        "l.sku",
        &shown_refs,
        "ORDER BY l.channel_id, l.listing_id, p.id",
    )
    .await?;
    if rows.is_empty() {
        return Ok(0);
    }
    // The store's channels: which sync stock, and their rules.
    let mut rules_of: HashMap<String, StockRules> = HashMap::new();
    for (id, settings, rules) in sqlx::query_as::<_, (String, String, String)>(
        "SELECT id, settings, stock_rules FROM channels WHERE store_id = ?",
    )
    .bind(store.as_str())
    .fetch_all(&mut *conn)
    .await?
    {
        let settings: ChannelSettings = serde_json::from_str(&settings)
            .map_err(|e| StorageError::corrupt("channel settings", e))?;
        if settings.auto_sync_stock {
            let rules: StockRules = serde_json::from_str(&rules)
                .map_err(|e| StorageError::corrupt("stock rules", e))?;
            rules_of.insert(id, rules);
        }
    }
    let mut targets: Vec<ListingPushState> = Vec::new();
    for r in &rows {
        let channel: String = r.try_get("channel_id")?;
        if !rules_of.contains_key(&channel) {
            continue;
        }
        let listing: String = r.try_get("listing_id")?;
        let open = OpenPush::from_columns(
            r.try_get("open_id")?,
            r.try_get("open_quantity")?,
            r.try_get("open_untried")?,
        );
        match targets.last_mut() {
            Some(t) if t.channel == channel && t.listing == listing => t.open.extend(open),
            _ => targets.push(ListingPushState {
                channel,
                listing,
                sku: r.try_get("sku")?,
                confirmed: r.try_get("confirmed_quantity")?,
                open: open.into_iter().collect(),
            }),
        }
    }
    if targets.is_empty() {
        return Ok(0);
    }
    let listed: BTreeSet<&str> = targets.iter().map(|t| t.sku.as_str()).collect();
    let listed: Vec<&str> = listed.into_iter().collect();
    let kits = components_of(conn, store, &listed).await?;
    let mut needed: BTreeSet<&str> = listed
        .iter()
        .copied()
        .filter(|s| !kits.contains_key(*s))
        .collect();
    needed.extend(kits.values().flatten().map(|c| c.sku.as_str()));
    let needed: Vec<&str> = needed.into_iter().collect();
    let totals = totals(conn, store, &needed).await?;
    let available = |s: &str| {
        totals
            .get(s)
            .map_or(0, |(on_hand, committed)| on_hand - committed)
    };
    let mut plan = plan_pushes(&targets, &rules_of, &kits, available);
    let now = now_text();
    // Untried pushes take their new target in place.
    let mut taken = BTreeSet::new();
    for chunk in plan.retarget.chunks(400) {
        let mut q: QueryBuilder<Sqlite> =
            QueryBuilder::new("UPDATE stock_pushes SET quantity = v.quantity, cause = ");
        q.push_bind(cause)
            .push(" FROM (SELECT column1 AS id, column2 AS quantity FROM (");
        q.push_values(chunk, |mut b, r| {
            b.push_bind(r.id).push_bind(r.quantity);
        });
        q.push(
            ")) AS v WHERE stock_pushes.id = v.id AND stock_pushes.state = 'pending' \
             AND stock_pushes.attempts = 0 RETURNING stock_pushes.id",
        );
        for id in q.build_query_scalar::<i64>().fetch_all(&mut *conn).await? {
            taken.insert(id);
        }
    }
    let enqueued = plan.settle_retargets(&taken);
    let inserts: Vec<(&ListingPushState, i64)> =
        plan.push.iter().map(|(i, q)| (&targets[*i], *q)).collect();
    for chunk in plan.supersede.chunks(400) {
        let mut q: QueryBuilder<Sqlite> = QueryBuilder::new(
            "UPDATE stock_pushes SET state = 'superseded' WHERE state IN ('pending', 'error') AND id IN (",
        );
        let mut sep = q.separated(", ");
        for id in chunk {
            sep.push_bind(*id);
        }
        q.push(")");
        q.build().execute(&mut *conn).await?;
    }
    for chunk in inserts.chunks(400) {
        let mut q: QueryBuilder<Sqlite> = QueryBuilder::new(
            "INSERT INTO stock_pushes (store_id, channel_id, listing_id, sku, quantity, state, cause, next_attempt_at, created_at) ",
        );
        q.push_values(chunk, |mut b, (t, quantity)| {
            b.push_bind(store.as_str())
                .push_bind(t.channel.as_str())
                .push_bind(t.listing.as_str())
                .push_bind(t.sku.as_str())
                .push_bind(*quantity)
                .push_bind("pending")
                .push_bind(cause)
                .push_bind(&now)
                .push_bind(&now);
        });
        q.build().execute(&mut *conn).await?;
    }
    Ok(enqueued)
}

/// Mark `skus` of a store for their push targets to be recomputed by
/// [`Listings::settle_targets`], in the caller's transaction: an import page
/// changes the available stock of many SKUs that the next pages change
/// again, and their targets are computed once for all of them.
pub(crate) async fn mark_stale(
    conn: &mut SqliteConnection,
    store: &StoreId,
    skus: &BTreeSet<String>,
    cause: &str,
) -> Result<()> {
    let skus: Vec<&String> = skus.iter().collect();
    for chunk in skus.chunks(300) {
        let mut q: QueryBuilder<Sqlite> =
            QueryBuilder::new("INSERT INTO stale_targets (store_id, sku, cause) ");
        q.push_values(chunk, |mut b, sku| {
            b.push_bind(store.as_str())
                .push_bind(sku.as_str())
                .push_bind(cause);
        });
        q.push(" ON CONFLICT (store_id, sku) DO UPDATE SET cause = excluded.cause");
        q.build().execute(&mut *conn).await?;
    }
    Ok(())
}
