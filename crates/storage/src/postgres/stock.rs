//! The stock ledger: source quantities, commitments by orders, snapshots;
//! and what a shipment does to stock and to its order: the plain units
//! behind shipped lines (kits expanded), the `api` source moved by them,
//! and the order's state and commitments settled from its open lines.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use crate::journal::{EventPayload, NewEvent, OrderEvent, StockEvent, StockFacts, stock_event};
use async_trait::async_trait;
use sqlx::{PgConnection, Postgres, QueryBuilder, Row};
use switchyard_domain::explain::ChannelRules;
use switchyard_domain::ids::{AccountId, ChannelId, OrderId, StoreId};
use switchyard_domain::order::OrderState;
use switchyard_domain::shipment::settled_state;
use switchyard_domain::stock::{
    ChangeRefused, Commitment, SkuLedger, SourceLevel, StockRules, StockSource, api_level_moves,
    plan_change, shortfalls,
};
use switchyard_domain::values::Sku;

use super::listings::enqueue_targets;

use super::products::{components_of, load_kinds, product_kind};
use super::{PgStorage, append_event, fetch_in, fetch_limit, now, paginate, require_store, stored};
use crate::stock::commitment_payload;
use crate::{
    Page, PageRequest, Result, SnapshotEntry, Stock, StockChange, StockChangeOutcome,
    StockSnapshot, StorageError,
};
use switchyard_domain::product::Kinds;
use switchyard_domain::stock::{holds_commitments, plan_commitments};

#[async_trait]
impl Stock for PgStorage {
    #[tracing::instrument(skip_all, fields(account = %account, store = %store, source = %source, changes = changes.len()))]
    async fn change_stock(
        &self,
        account: &AccountId,
        store: &StoreId,
        source: &StockSource,
        changes: &[StockChange],
    ) -> Result<Vec<StockChangeOutcome>> {
        let mut tx = self.pool.begin().await?;
        require_store(&mut tx, account, store).await?;
        let source_text = source.to_string();
        let now = now();
        let mut kinds: BTreeMap<&str, Option<bool>> = BTreeMap::new();
        let mut out = Vec::with_capacity(changes.len());
        // Each SKU's on-hand and committed units before the first change,
        // kept up to date change by change for the events' `ledger`.
        let mut distinct: Vec<String> = changes.iter().map(|c| c.sku.to_string()).collect();
        distinct.sort();
        distinct.dedup();
        let mut facts: BTreeMap<String, (i64, i64)> = ledgers(&mut tx, store, &distinct)
            .await?
            .into_iter()
            .map(|(k, l)| (k, (l.on_hand(), l.committed())))
            .collect();
        for (i, ch) in changes.iter().enumerate() {
            let kind = match kinds.get(ch.sku.as_str()) {
                Some(k) => *k,
                None => {
                    // Concurrent changes of one SKU queue on its product
                    // row, so compare-and-set sees the winner's quantity.
                    sqlx::query("SELECT 1::bigint FROM products WHERE store_id = $1 AND sku = $2 FOR UPDATE")
                        .bind(store.as_str())
                        .bind(ch.sku.as_str())
                        .execute(&mut *tx)
                        .await?;
                    let k = product_kind(&mut tx, store, ch.sku.as_str()).await?;
                    kinds.insert(ch.sku.as_str(), k);
                    k
                }
            };
            let before: i64 = sqlx::query_scalar(
                "SELECT quantity FROM stock_levels WHERE store_id = $1 AND sku = $2 AND source = $3 AND location = $4",
            )
            .bind(store.as_str())
            .bind(ch.sku.as_str())
            .bind(&source_text)
            .bind(&ch.location)
            .fetch_optional(&mut *tx)
            .await?
            .unwrap_or(0);
            let after = match plan_change(kind, before, ch, source, i) {
                Ok(after) => after,
                Err(ChangeRefused::Invalid(e)) => return Err(StorageError::Invalid(e)),
                Err(ChangeRefused::Conflict(e)) => {
                    return Err(StorageError::conflict(e.code, e.message, e.field));
                }
            };
            sqlx::query(
                "INSERT INTO stock_levels (store_id, sku, source, location, quantity, updated_at) VALUES ($1, $2, $3, $4, $5, $6)
                 ON CONFLICT (store_id, sku, source, location) DO UPDATE SET quantity = excluded.quantity, updated_at = excluded.updated_at",
            )
            .bind(store.as_str())
            .bind(ch.sku.as_str())
            .bind(&source_text)
            .bind(&ch.location)
            .bind(after)
            .bind(now)
            .execute(&mut *tx)
            .await?;
            if before != after {
                let f = facts.entry(ch.sku.to_string()).or_insert((0, 0));
                f.0 += after - before;
                let ev = stock_event(StockEvent {
                    sku: ch.sku.to_string(),
                    source: source_text.clone(),
                    location: ch.location.clone(),
                    before,
                    after,
                    reason: ch.reason.clone(),
                    ledger: StockFacts {
                        on_hand: f.0,
                        committed: f.1,
                    },
                });
                append_event(&mut tx, account, store, &ev).await?;
            }
            out.push(StockChangeOutcome {
                sku: ch.sku.clone(),
                location: ch.location.clone(),
                before,
                after,
            });
        }
        let touched: std::collections::BTreeSet<String> = out
            .iter()
            .filter(|o| o.before != o.after)
            .map(|o| o.sku.as_str().to_owned())
            .collect();
        enqueue_targets(&mut tx, store, &touched, "stock_changed").await?;
        tx.commit().await?;
        Ok(out)
    }

    async fn stock_snapshot(
        &self,
        account: &AccountId,
        store: &StoreId,
        skus: &[Sku],
    ) -> Result<StockSnapshot> {
        // One read transaction: every figure comes from the same committed state.
        let mut tx = self.pool.begin().await?;
        require_store(&mut tx, account, store).await?;
        let requested: Vec<&str> = skus.iter().map(Sku::as_str).collect();
        // SKU → is it a kit, for the requested SKUs that exist.
        let mut is_kit: BTreeMap<String, bool> = BTreeMap::new();
        for r in fetch_in(
            &mut tx,
            "SELECT sku, is_kit FROM products",
            store,
            "sku",
            &requested,
            "",
        )
        .await?
        {
            is_kit.insert(r.try_get("sku")?, r.try_get("is_kit")?);
        }
        let kits: Vec<&str> = is_kit
            .iter()
            .filter(|(_, k)| **k)
            .map(|(s, _)| s.as_str())
            .collect();
        let components = components_of(&mut tx, store, &kits).await?;
        let mut needed: Vec<String> = is_kit
            .iter()
            .filter(|(_, k)| !**k)
            .map(|(s, _)| s.clone())
            .collect();
        needed.extend(
            components
                .values()
                .flatten()
                .map(|c| c.sku.as_str().to_owned()),
        );
        needed.sort();
        needed.dedup();
        let ledgers = ledgers(&mut tx, store, &needed).await?;
        let ledger_of = |s: &str| ledgers.get(s).cloned().unwrap_or_default();
        let mut entries = BTreeMap::new();
        for s in skus {
            if is_kit.get(s.as_str()) == Some(&false) {
                entries.insert(s.clone(), SnapshotEntry::Plain(ledger_of(s.as_str())));
            } else if let Some(cs) = components.get(s.as_str()) {
                let parts = cs
                    .iter()
                    .map(|c| (c.clone(), ledger_of(c.sku.as_str())))
                    .collect();
                entries.insert(s.clone(), SnapshotEntry::Kit(parts));
            }
        }
        let channels = sqlx::query(
            "SELECT id, name, stock_rules FROM channels WHERE store_id = $1 ORDER BY id",
        )
        .bind(store.as_str())
        .fetch_all(&mut *tx)
        .await?
        .iter()
        .map(|r| {
            let rules: StockRules = serde_json::from_value(r.try_get("stock_rules")?)
                .map_err(|e| StorageError::corrupt("stock rules", e))?;
            Ok(ChannelRules {
                channel_id: stored("channel id", ChannelId::parse(r.try_get("id")?))?,
                name: r.try_get("name")?,
                rules,
            })
        })
        .collect::<Result<Vec<_>>>()?;
        Ok(StockSnapshot { entries, channels })
    }

    async fn list_skus(
        &self,
        account: &AccountId,
        store: &StoreId,
        page: &PageRequest,
    ) -> Result<Page<Sku>> {
        let mut tx = self.pool.begin().await?;
        require_store(&mut tx, account, store).await?;
        let rows: Vec<String> = sqlx::query_scalar(
            "SELECT sku FROM products WHERE store_id = $1 AND sku > $2 ORDER BY sku LIMIT $3",
        )
        .bind(store.as_str())
        .bind(page.after.as_deref().unwrap_or(""))
        .bind(fetch_limit(page))
        .fetch_all(&mut *tx)
        .await?;
        let items = rows
            .iter()
            .map(|s| stored("sku", Sku::parse(s)))
            .collect::<Result<Vec<_>>>()?;
        Ok(paginate(items, page, |s| s.to_string()))
    }
}

/// A product's stock as it stands in this transaction.
pub(crate) async fn snapshot_entry(
    conn: &mut PgConnection,
    store: &StoreId,
    p: &crate::Product,
) -> Result<crate::SnapshotEntry> {
    let ls = ledgers(conn, store, &crate::stock::ledger_skus(p)).await?;
    Ok(crate::stock::snapshot_entry_of(p, &ls))
}

/// Sources and commitments of plain SKUs.
pub(crate) async fn ledgers(
    conn: &mut PgConnection,
    store: &StoreId,
    skus: &[String],
) -> Result<BTreeMap<String, SkuLedger>> {
    let mut out: BTreeMap<String, SkuLedger> = BTreeMap::new();
    let skus: Vec<&str> = skus.iter().map(String::as_str).collect();
    let levels = fetch_in(
        conn,
        "SELECT sku, source, location, quantity FROM stock_levels",
        store,
        "sku",
        &skus,
        "ORDER BY sku, source, location",
    )
    .await?;
    for r in levels {
        out.entry(r.try_get("sku")?)
            .or_default()
            .sources
            .push(SourceLevel {
                source: stored("stock source", StockSource::parse(r.try_get("source")?))?,
                location: r.try_get("location")?,
                quantity: r.try_get("quantity")?,
            });
    }
    let commitments = fetch_in(
        conn,
        "SELECT sku, order_id, SUM(quantity)::bigint AS quantity, via_kit FROM stock_commitments",
        store,
        "sku",
        &skus,
        "GROUP BY sku, order_id, via_kit ORDER BY sku, order_id",
    )
    .await?;
    for r in commitments {
        out.entry(r.try_get("sku")?)
            .or_default()
            .commitments
            .push(Commitment {
                order_id: stored("order id", OrderId::parse(r.try_get("order_id")?))?,
                quantity: r.try_get("quantity")?,
                via_kit: r
                    .try_get::<Option<&str>, _>("via_kit")?
                    .map(|k| stored("sku", Sku::parse(k)))
                    .transpose()?,
            });
    }
    Ok(out)
}

/// `(on hand, committed)` of plain SKUs: the sum of their sources and the
/// committed total the triggers keep (one row per SKU, however many orders
/// are open).
pub(crate) async fn totals(
    conn: &mut PgConnection,
    store: &StoreId,
    skus: &[&str],
) -> Result<HashMap<String, (i64, i64)>> {
    let rows = fetch_in(
        conn,
        "SELECT sku, \
         (SELECT COALESCE(SUM(l.quantity)::bigint, 0) FROM stock_levels l WHERE l.store_id = p.store_id AND l.sku = p.sku) AS on_hand, \
         COALESCE((SELECT c.quantity FROM stock_committed c WHERE c.store_id = p.store_id AND c.sku = p.sku), 0) AS committed \
         FROM products p",
        store,
        "sku",
        skus,
        "",
    )
    .await?;
    let mut out = HashMap::with_capacity(rows.len());
    for r in rows {
        out.insert(
            r.try_get("sku")?,
            (r.try_get("on_hand")?, r.try_get("committed")?),
        );
    }
    Ok(out)
}

/// Forget what the channel last confirmed for its listings of these store SKUs.
pub(crate) async fn invalidate_confirmed(
    conn: &mut PgConnection,
    store: &StoreId,
    channel: &ChannelId,
    skus: &BTreeSet<String>,
) -> Result<()> {
    let skus: Vec<&str> = skus.iter().map(String::as_str).collect();
    // By store and SKU first: that is the index (a channel may list a
    // million SKUs). Rows are locked in (channel, listing) order, as a
    // push round's confirmations lock them, so the two never deadlock.
    sqlx::query(
        "UPDATE listings SET confirmed_quantity = NULL
         WHERE (channel_id, listing_id) IN (
             SELECT channel_id, listing_id FROM listings
             WHERE store_id = $1 AND sku = ANY($2) AND channel_id = $3
             ORDER BY channel_id, listing_id FOR UPDATE)",
    )
    .bind(store.as_str())
    .bind(&skus)
    .bind(channel.as_str())
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Lock the committed totals of `skus` and of what `orders` commit now,
/// in SKU order (creating the rows that do not exist yet), before a
/// transaction changes commitments. The trigger that keeps the totals then
/// only updates rows the transaction holds already, so concurrent imports
/// sharing SKUs queue behind each other instead of deadlocking.
pub(crate) async fn lock_committed(
    conn: &mut PgConnection,
    store: &StoreId,
    skus: &[&str],
    orders: &[&str],
) -> Result<()> {
    const TOUCHED: &str = "SELECT unnest($2::text[]) AS sku
         UNION SELECT sku FROM stock_commitments WHERE order_id = ANY($3)";
    sqlx::query(&format!(
        "INSERT INTO stock_committed (store_id, sku, quantity)
         SELECT $1, t.sku, 0 FROM ({TOUCHED}) t ORDER BY t.sku
         ON CONFLICT (store_id, sku) DO NOTHING"
    ))
    .bind(store.as_str())
    .bind(skus)
    .bind(orders)
    .execute(&mut *conn)
    .await?;
    sqlx::query(&format!(
        "SELECT 1 FROM stock_committed WHERE store_id = $1 AND sku IN ({TOUCHED})
         ORDER BY sku FOR UPDATE"
    ))
    .bind(store.as_str())
    .bind(skus)
    .bind(orders)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Flag orders committing a SKU whose availability went below zero: the
/// order stays open (the goods may turn up) but people must see it.
pub(crate) async fn flag_oversold(
    conn: &mut PgConnection,
    account: &AccountId,
    store: &StoreId,
    candidates: Vec<(OrderId, BTreeSet<String>)>,
) -> Result<Vec<OrderId>> {
    let skus: BTreeSet<String> = candidates
        .iter()
        .flat_map(|(_, s)| s.iter().cloned())
        .collect();
    if skus.is_empty() {
        return Ok(Vec::new());
    }
    let skus: Vec<&str> = skus.iter().map(String::as_str).collect();
    let totals = totals(conn, store, &skus).await?;
    let mut flagged = Vec::new();
    for (id, committed) in candidates {
        let short = shortfalls(&committed, |s| totals.get(s).copied());
        if short.is_empty() {
            continue;
        }
        let was: bool = sqlx::query_scalar("SELECT oversold FROM orders WHERE id = $1")
            .bind(id.as_str())
            .fetch_one(&mut *conn)
            .await?;
        if was {
            continue;
        }
        sqlx::query("UPDATE orders SET oversold = true WHERE id = $1")
            .bind(id.as_str())
            .execute(&mut *conn)
            .await?;
        let ev = NewEvent::new(
            &id,
            "order.oversold",
            EventPayload::Order(OrderEvent {
                short: Some(short),
                ..OrderEvent::of(&id)
            }),
        );
        append_event(conn, account, store, &ev).await?;
        tracing::warn!(order = %id, "order could not be covered by available stock (oversold)");
        flagged.push(id);
    }
    Ok(flagged)
}

/// The plain SKUs (kits expanded) and units behind `(sku, quantity)` lines.
/// Move the `api` source of each SKU by its `units`, taken off by a
/// shipment or given back (`returning`) as `domain::stock::api_level_moves`
/// decides. Journalled as `stock.changed` with `reason`.
pub(crate) async fn move_api_stock(
    conn: &mut PgConnection,
    account: &AccountId,
    store: &StoreId,
    units: &BTreeMap<String, i64>,
    returning: bool,
    reason: &str,
) -> Result<()> {
    let now = now();
    for (sku, qty) in units {
        let levels: Vec<(String, i64)> = sqlx::query_as(
            "SELECT location, quantity FROM stock_levels WHERE store_id = $1 AND sku = $2 AND source = 'api' ORDER BY location",
        )
        .bind(store.as_str())
        .bind(sku)
        .fetch_all(&mut *conn)
        .await?;
        let mut f = ledgers(&mut *conn, store, std::slice::from_ref(sku))
            .await?
            .get(sku.as_str())
            .map_or((0, 0), |l| (l.on_hand(), l.committed()));
        for m in api_level_moves(&levels, *qty, returning) {
            sqlx::query(
                "INSERT INTO stock_levels (store_id, sku, source, location, quantity, updated_at) VALUES ($1, $2, 'api', $3, $4, $5)
                 ON CONFLICT (store_id, sku, source, location) DO UPDATE SET quantity = excluded.quantity, updated_at = excluded.updated_at",
            )
            .bind(store.as_str())
            .bind(sku)
            .bind(&m.location)
            .bind(m.after)
            .bind(now)
            .execute(&mut *conn)
            .await?;
            f.0 += m.after - m.before;
            let ev = stock_event(StockEvent {
                sku: sku.clone(),
                source: "api".to_owned(),
                location: m.location.clone(),
                before: m.before,
                after: m.after,
                reason: Some(reason.to_owned()),
                ledger: StockFacts {
                    on_hand: f.0,
                    committed: f.1,
                },
            });
            append_event(conn, account, store, &ev).await?;
        }
    }
    Ok(())
}

/// Units still open and units shipped over an order's lines.
async fn open_and_shipped(conn: &mut PgConnection, order: &str) -> Result<(i64, i64)> {
    let (open, ordered): (Option<i64>, Option<i64>) = sqlx::query_as(
        "SELECT SUM(open_quantity)::bigint, SUM(COALESCE(quantity, open_quantity))::bigint FROM order_lines WHERE order_id = $1",
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
    conn: &mut PgConnection,
    store: &StoreId,
    order: &str,
    current: OrderState,
) -> Result<(OrderState, BTreeSet<String>)> {
    let mut touched = committed_skus(conn, order).await?;
    let (open, shipped) = open_and_shipped(conn, order).await?;
    let state = settled_state(current, open, shipped);
    sqlx::query("UPDATE orders SET state = $1, updated_at = $2 WHERE id = $3")
        .bind(state.as_str())
        .bind(now())
        .bind(order)
        .execute(&mut *conn)
        .await?;
    let (_, committed) = recommit(conn, store, order, state).await?;
    touched.extend(committed);
    Ok((state, touched))
}

/// SKUs an order commits right now.
pub(crate) async fn committed_skus(conn: &mut PgConnection, id: &str) -> Result<BTreeSet<String>> {
    let skus: Vec<String> =
        sqlx::query_scalar("SELECT DISTINCT sku FROM stock_commitments WHERE order_id = $1")
            .bind(id)
            .fetch_all(&mut *conn)
            .await?;
    Ok(skus.into_iter().collect())
}

/// Replace an order's commitments from its stored lines (none unless its
/// state commits stock). Returns the commitments (for the journal) and the
/// SKUs committed now.
pub(crate) async fn recommit(
    conn: &mut PgConnection,
    store: &StoreId,
    id: &str,
    state: OrderState,
) -> Result<(Vec<crate::CommittedUnits>, BTreeSet<String>)> {
    // A state that holds no commitments needs no line read.
    let lines: Vec<(i64, String, i64)> = if holds_commitments(state) {
        sqlx::query_as(
            "SELECT line_no, sku, open_quantity FROM order_lines WHERE order_id = $1 AND open_quantity > 0 ORDER BY line_no",
        )
        .bind(id)
        .fetch_all(&mut *conn)
        .await?
    } else {
        Vec::new()
    };
    let skus: Vec<&str> = lines.iter().map(|l| l.1.as_str()).collect();
    let kinds = load_kinds(conn, store, &skus).await?;
    let committed: Vec<&str> = kinds.plain_skus(&skus).into_iter().collect();
    lock_committed(conn, store, &committed, &[id]).await?;
    commit_lines(conn, store, id, state, &lines, &kinds, false).await
}

/// Write an order's commitments for its `lines` (`(line_no, sku, open)`),
/// kits expanded by `kinds`, replacing what it committed before unless it
/// is `fresh` (a new order has nothing to replace).
pub(crate) async fn commit_lines(
    conn: &mut PgConnection,
    store: &StoreId,
    id: &str,
    state: OrderState,
    lines: &[(i64, String, i64)],
    kinds: &Kinds,
    fresh: bool,
) -> Result<(Vec<crate::CommittedUnits>, BTreeSet<String>)> {
    if !fresh {
        sqlx::query("DELETE FROM stock_commitments WHERE order_id = $1")
            .bind(id)
            .execute(&mut *conn)
            .await?;
    }
    let plan = plan_commitments(state, lines, kinds);
    let rows: Vec<CommitmentRow<'_>> = plan
        .iter()
        .map(|(n, part, qty, via)| (id, *n, *part, *qty, *via))
        .collect();
    insert_commitments(conn, store, &rows).await?;
    Ok(commitment_payload(&plan))
}

/// `(order_id, line_no, sku, quantity, via_kit)`.
pub(crate) type CommitmentRow<'a> = (&'a str, i64, &'a str, i64, Option<&'a str>);

/// Insert commitment rows, many to a statement.
pub(crate) async fn insert_commitments(
    conn: &mut PgConnection,
    store: &StoreId,
    rows: &[CommitmentRow<'_>],
) -> Result<()> {
    // 6 parameters a row, under PostgreSQL's 65,535.
    for chunk in rows.chunks(2000) {
        let mut q: QueryBuilder<Postgres> = QueryBuilder::new(
            "INSERT INTO stock_commitments (store_id, order_id, line_no, sku, quantity, via_kit) ",
        );
        q.push_values(chunk, |mut b, (id, n, part, qty, via)| {
            b.push_bind(store.as_str())
                .push_bind(*id)
                .push_bind(*n)
                .push_bind(*part)
                .push_bind(*qty)
                .push_bind(*via);
        });
        q.build().execute(&mut *conn).await?;
    }
    Ok(())
}
