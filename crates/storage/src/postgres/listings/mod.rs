//! Listings, SKU mappings and the stock push queue.
//!
//! [`enqueue_targets`] is called inside every transaction that changes
//! available stock (cancellation, API stock change, shipment...), with the
//! SKUs it touched; an import page instead marks them ([`mark_stale`]) and
//! the stock pusher's look recomputes them once for every page since
//! (`settle_targets`). Only those SKUs and the kits containing them are
//! recomputed, and only listings on channels with *auto sync stock* on get
//! a push. A newer target supersedes an older pending one; a target equal to
//! what the channel last confirmed is skipped.
//!
//! A channel SKU stands for a main product by a manual SKU mapping, else
//! the same SKU when the store has it; listings follow when products or
//! mappings appear.

mod mapping;
mod targets;

pub(crate) use mapping::{
    listing_key, map_listings_to_new_products, map_sku, map_skus, remap_listings,
};
pub(crate) use targets::{enqueue_targets, mark_stale};

use std::collections::{BTreeMap, BTreeSet};

use crate::journal::{ChannelEvent, EventPayload, ListingEvent, NewEvent, listing_product_event};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::postgres::PgRow;
use sqlx::{PgConnection, Postgres, QueryBuilder, Row};
use switchyard_domain::ids::{AccountId, ChannelId, StoreId};
use switchyard_domain::product::ProductAttributes;
use switchyard_domain::values::Sku;

use super::channels::{channel_ref_from_row, require_channel};
use super::leases;
use super::products::product_kind;
use super::{
    PgStorage, append_event, append_events, at, fetch_limit, now, opt_time, paginate, pg,
    require_store, stored, time,
};
use crate::{
    ChannelRef, DuePush, ListingRecord, Listings, ListingsReport, NewListing, Page, PageRequest,
    PushResult, Result, SettledTargets, SkuMapping, StorageError,
};

fn mapping_from_row(r: &PgRow) -> Result<SkuMapping> {
    Ok(SkuMapping {
        channel_id: stored("channel id", ChannelId::parse(r.try_get("channel_id")?))?,
        channel_sku: r.try_get("channel_sku")?,
        sku: stored("sku", Sku::parse(r.try_get("sku")?))?,
        created_at: time(r.try_get("created_at")?)?,
    })
}

#[async_trait]
impl Listings for PgStorage {
    #[tracing::instrument(skip_all, fields(channel = %channel.channel_id, listings = listings.len()))]
    async fn upsert_listings(
        &self,
        channel: &ChannelRef,
        listings: Vec<NewListing>,
        add_to_main: bool,
    ) -> Result<ListingsReport> {
        let (account, store, ch) = (&channel.account_id, &channel.store_id, &channel.channel_id);
        let mut tx = self.pool.begin().await?;
        require_channel(&mut tx, account, store, ch).await?;
        let now = now();
        let made_at = now;
        let mut report = ListingsReport::default();
        let mut touched = BTreeSet::new();
        let mut created = BTreeSet::new();
        // Journalled once the listings are written, so that each event
        // carries its listing as this download leaves it.
        let mut events = Vec::new();
        for l in listings {
            let channel_sku = l
                .channel_sku
                .as_deref()
                .map(str::trim)
                .filter(|s| !s.is_empty());
            let mut sku = match channel_sku {
                Some(cs) => map_sku(&mut tx, store, ch, cs).await?,
                None => None,
            };
            if sku.is_none()
                && add_to_main
                && let Some(cs) = channel_sku
                && let Ok(new_sku) = Sku::parse(cs)
            {
                let title = if l.title.trim().is_empty() {
                    cs.to_owned()
                } else {
                    l.title.clone()
                };
                let attributes = ProductAttributes {
                    title: title.chars().take(500).collect(),
                    ..ProductAttributes::default()
                };
                sqlx::query("INSERT INTO products (store_id, sku, title, is_kit, created_at, updated_at) VALUES ($1, $2, $3, FALSE, $4, $5)")
                    .bind(store.as_str())
                    .bind(new_sku.as_str())
                    .bind(&attributes.title)
                    .bind(now)
                    .bind(now)
                    .execute(&mut *tx)
                    .await?;
                events.push(listing_product_event(
                    &new_sku,
                    attributes.clone(),
                    made_at,
                    ch,
                ));
                report.products_created += 1;
                created.insert(new_sku.to_string());
                sku = Some(new_sku.to_string());
            }
            let before: Option<ListingShape> = sqlx::query_as(
                "SELECT sku, channel_sku, title, price FROM listings WHERE channel_id = $1 AND listing_id = $2",
            )
            .bind(ch.as_str())
            .bind(&l.listing_id)
            .fetch_optional(&mut *tx)
            .await?;
            let previous = before.as_ref().map(|b| b.0.clone());
            let after: ListingShape = (
                sku.clone(),
                channel_sku.map(str::to_owned),
                l.title.clone(),
                l.price,
            );
            // Webhooks see a listing appear, or change what it shows;
            // a download that finds it unchanged says nothing.
            let event_type = match &before {
                None => Some("listing.created"),
                Some(b) if *b != after => Some("listing.updated"),
                Some(_) => None,
            };
            if let Some(event_type) = event_type {
                events.push(NewEvent::new(
                    listing_key(ch, &l.listing_id),
                    event_type,
                    EventPayload::Listing(ListingEvent {
                        channel_id: ch.clone(),
                        listing_id: Some(l.listing_id.clone()),
                        sku: after.0.clone(),
                        channel_sku: after.1.clone(),
                        quantities: None,
                        listings: None,
                    }),
                ));
            }
            // What the channel shows counts as confirmed until we push: a
            // target equal to it needs no push.
            sqlx::query(
                "INSERT INTO listings (channel_id, listing_id, store_id, channel_sku, sku, title, price, channel_quantity, raw, confirmed_quantity, created_at, updated_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
                 ON CONFLICT (channel_id, listing_id) DO UPDATE SET channel_sku = excluded.channel_sku, sku = excluded.sku,
                   title = excluded.title, price = excluded.price, channel_quantity = excluded.channel_quantity, raw = excluded.raw,
                   confirmed_quantity = CASE WHEN listings.sku IS NOT DISTINCT FROM excluded.sku THEN COALESCE(listings.confirmed_quantity, excluded.confirmed_quantity)
                                             ELSE excluded.confirmed_quantity END,
                   updated_at = excluded.updated_at",
            )
            .bind(ch.as_str())
            .bind(&l.listing_id)
            .bind(store.as_str())
            .bind(channel_sku)
            .bind(&sku)
            .bind(&l.title)
            .bind(l.price)
            .bind(l.quantity)
            .bind(&l.raw)
            .bind(l.quantity)
            .bind(now)
            .bind(now)
            .execute(&mut *tx)
            .await?;
            report.listings += 1;
            if let Some(s) = sku {
                report.mapped += 1;
                if previous != Some(Some(s.clone())) {
                    touched.insert(s);
                }
            }
        }
        report.pushes_enqueued =
            enqueue_targets(&mut tx, store, &touched, "listing_mapped").await?;
        // Products this channel's listings created: the other channels'
        // listings of those SKUs map to them too.
        map_listings_to_new_products(&mut tx, store, &created).await?;
        append_events(&mut tx, account, store, &events).await?;
        sqlx::query("UPDATE channels SET listings_synced_at = $1 WHERE id = $2")
            .bind(now)
            .bind(ch.as_str())
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(report)
    }

    async fn due_listings(
        &self,
        now: DateTime<Utc>,
        synced_before: DateTime<Utc>,
        stale_before: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<ChannelRef>> {
        let free = leases::free("j", "?1", "?4");
        let rows = sqlx::query(&pg(&format!(
            "SELECT account_id, store_id, id FROM channels
             WHERE credentials IS NOT NULL AND base_url IS NOT NULL
               AND COALESCE((settings->>'download_products')::boolean, true)
               AND (listings_synced_at IS NULL OR listings_synced_at < ?2)
             UNION
             SELECT c.account_id, c.store_id, c.id FROM jobs j JOIN channels c ON c.id = j.channel_id
             WHERE j.finished_at IS NULL AND j.kind = 'listings' AND j.run_after <= ?1 AND {free}
             LIMIT ?3"
        )))
        .bind(at(now))
        .bind(at(synced_before))
        .bind(i64::from(limit.max(1)))
        .bind(at(stale_before))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(channel_ref_from_row).collect()
    }

    async fn record_listings_error(
        &self,
        channel: &ChannelRef,
        error: &str,
        when: DateTime<Utc>,
    ) -> Result<()> {
        sqlx::query("UPDATE channels SET last_error = $1, last_error_at = $2 WHERE id = $3")
            .bind(error)
            .bind(at(when))
            .bind(channel.channel_id.as_str())
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn list_listings(
        &self,
        account: &AccountId,
        store: &StoreId,
        channel: &ChannelId,
        page: &PageRequest,
        unmapped_only: bool,
    ) -> Result<Page<ListingRecord>> {
        let mut tx = self.pool.begin().await?;
        require_channel(&mut tx, account, store, channel).await?;
        let after = page.after.as_deref().unwrap_or("");
        let items = read_listings(
            &mut tx,
            channel,
            after,
            None,
            unmapped_only,
            fetch_limit(page),
        )
        .await?;
        Ok(paginate(items, page, |l| l.listing_id.clone()))
    }

    async fn get_listing(
        &self,
        account: &AccountId,
        store: &StoreId,
        channel: &ChannelId,
        listing_id: &str,
    ) -> Result<ListingRecord> {
        let mut tx = self.pool.begin().await?;
        require_channel(&mut tx, account, store, channel).await?;
        read_listings(&mut tx, channel, "", Some(listing_id), false, 1)
            .await?
            .pop()
            .ok_or(StorageError::NotFound { entity: "listing" })
    }

    async fn set_sku_mapping(
        &self,
        account: &AccountId,
        store: &StoreId,
        channel: &ChannelId,
        channel_sku: &str,
        sku: &Sku,
    ) -> Result<SkuMapping> {
        let mut tx = self.pool.begin().await?;
        require_channel(&mut tx, account, store, channel).await?;
        if product_kind(&mut tx, store, sku.as_str()).await?.is_none() {
            return Err(StorageError::NotFound { entity: "product" });
        }
        let now = now();
        sqlx::query(
            "INSERT INTO sku_mappings (channel_id, channel_sku, store_id, sku, created_at) VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (channel_id, channel_sku) DO UPDATE SET sku = excluded.sku, created_at = excluded.created_at",
        )
        .bind(channel.as_str())
        .bind(channel_sku)
        .bind(store.as_str())
        .bind(sku.as_str())
        .bind(now)
        .execute(&mut *tx)
        .await?;
        remap_listings(&mut tx, store, channel, channel_sku).await?;
        let ev = NewEvent::new(
            channel,
            "channel.sku_mapped",
            EventPayload::Channel(ChannelEvent {
                channel_sku: Some(channel_sku.to_owned()),
                sku: Some(sku.to_string()),
                ..ChannelEvent::of(channel)
            }),
        );
        append_event(&mut tx, account, store, &ev).await?;
        let r =
            sqlx::query("SELECT * FROM sku_mappings WHERE channel_id = $1 AND channel_sku = $2")
                .bind(channel.as_str())
                .bind(channel_sku)
                .fetch_one(&mut *tx)
                .await?;
        let m = mapping_from_row(&r)?;
        tx.commit().await?;
        Ok(m)
    }

    async fn delete_sku_mapping(
        &self,
        account: &AccountId,
        store: &StoreId,
        channel: &ChannelId,
        channel_sku: &str,
    ) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        require_channel(&mut tx, account, store, channel).await?;
        let n = sqlx::query("DELETE FROM sku_mappings WHERE channel_id = $1 AND channel_sku = $2")
            .bind(channel.as_str())
            .bind(channel_sku)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if n == 0 {
            return Err(StorageError::NotFound {
                entity: "sku mapping",
            });
        }
        remap_listings(&mut tx, store, channel, channel_sku).await?;
        let ev = NewEvent::new(
            channel,
            "channel.sku_unmapped",
            EventPayload::Channel(ChannelEvent {
                channel_sku: Some(channel_sku.to_owned()),
                ..ChannelEvent::of(channel)
            }),
        );
        append_event(&mut tx, account, store, &ev).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn list_sku_mappings(
        &self,
        account: &AccountId,
        store: &StoreId,
        channel: &ChannelId,
    ) -> Result<Vec<SkuMapping>> {
        let mut tx = self.pool.begin().await?;
        require_channel(&mut tx, account, store, channel).await?;
        sqlx::query("SELECT * FROM sku_mappings WHERE channel_id = $1 ORDER BY channel_sku")
            .bind(channel.as_str())
            .fetch_all(&mut *tx)
            .await?
            .iter()
            .map(mapping_from_row)
            .collect()
    }

    async fn resync_stock(&self, account: &AccountId, store: &StoreId) -> Result<usize> {
        let mut tx = self.pool.begin().await?;
        require_store(&mut tx, account, store).await?;
        let skus: Vec<String> = sqlx::query_scalar(
            "SELECT DISTINCT sku FROM listings WHERE store_id = $1 AND sku IS NOT NULL",
        )
        .bind(store.as_str())
        .fetch_all(&mut *tx)
        .await?;
        let n = enqueue_targets(&mut tx, store, &skus.into_iter().collect(), "resync").await?;
        tx.commit().await?;
        Ok(n)
    }

    async fn settle_targets(&self, limit: u32) -> Result<SettledTargets> {
        // Most calls find nothing: one read instead of a transaction's
        // three round trips.
        let any: bool = sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM stale_targets)")
            .fetch_one(&self.pool)
            .await?;
        if !any {
            return Ok(SettledTargets::default());
        }
        let mut tx = self.pool.begin().await?;
        // Marks a page still writing holds are skipped: it commits, wakes
        // the pusher, and the next call takes them. Two instances settling
        // at once take disjoint marks.
        let rows: Vec<(String, String, String)> = sqlx::query_as(
            "DELETE FROM stale_targets s USING (SELECT store_id, sku FROM stale_targets \
             ORDER BY store_id, sku LIMIT $1 FOR UPDATE SKIP LOCKED) t \
             WHERE s.store_id = t.store_id AND s.sku = t.sku RETURNING s.store_id, s.sku, s.cause",
        )
        .bind(i64::from(limit))
        .fetch_all(&mut *tx)
        .await?;
        let mut settled = SettledTargets {
            skus: rows.len(),
            pushes: 0,
        };
        for ((store, cause), skus) in crate::listings::group_marks(rows) {
            let store = stored("store id", StoreId::parse(&store))?;
            settled.pushes += enqueue_targets(&mut tx, &store, &skus, &cause).await?;
        }
        tx.commit().await?;
        Ok(settled)
    }

    async fn channels_with_due_pushes(&self, now: DateTime<Utc>) -> Result<Vec<ChannelRef>> {
        let rows = sqlx::query(
            // One index probe per channel (its first due push), however
            // many pushes wait: every push wake asks, on every instance,
            // and a backlog (a listings download sets thousands) made the
            // join-and-DISTINCT read all of them each time.
            "SELECT c.account_id, c.store_id, c.id FROM channels c
             WHERE c.credentials IS NOT NULL AND EXISTS (
                 SELECT 1 FROM stock_pushes p WHERE p.channel_id = c.id
                 AND p.state IN ('pending', 'error') AND p.next_attempt_at <= $1)",
        )
        .bind(at(now))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(channel_ref_from_row).collect()
    }

    async fn due_pushes(
        &self,
        channel: &ChannelRef,
        now: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<DuePush>> {
        // Drops to zero first: they are what prevents overselling.
        let rows = sqlx::query(
            "SELECT p.id, p.listing_id, p.sku, p.quantity, p.attempts, p.created_at, l.confirmed_quantity
             FROM stock_pushes p JOIN listings l ON l.channel_id = p.channel_id AND l.listing_id = p.listing_id
             WHERE p.channel_id = $1 AND p.state IN ('pending', 'error') AND p.next_attempt_at <= $2
             ORDER BY p.quantity = 0 DESC, p.id LIMIT $3",
        )
        .bind(channel.channel_id.as_str())
        .bind(at(now))
        .bind(i64::from(limit.max(1)))
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(DuePush {
                    id: r.try_get("id")?,
                    listing_id: r.try_get("listing_id")?,
                    sku: r.try_get("sku")?,
                    quantity: r.try_get("quantity")?,
                    confirmed: r.try_get("confirmed_quantity")?,
                    attempts: r.try_get("attempts")?,
                    created_at: time(r.try_get("created_at")?)?,
                })
            })
            .collect()
    }

    async fn record_push_results(
        &self,
        channel: &ChannelRef,
        results: Vec<(DuePush, PushResult)>,
    ) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        let now = now();
        // The newest push per listing says what the channel now holds.
        let mut confirmed: BTreeMap<String, i64> = BTreeMap::new();
        // Each result applies only to the quantity that was sent: a push
        // retargeted while in flight stays open for its new quantity.
        let mut sent: Vec<(i64, i64)> = Vec::new();
        let mut failed: Vec<(i64, i64, String, Option<DateTime<Utc>>)> = Vec::new();
        for (push, result) in results {
            match result {
                PushResult::Sent => {
                    sent.push((push.id, push.quantity));
                    confirmed.insert(push.listing_id.clone(), push.quantity);
                }
                PushResult::Failed { error, retry_at } => {
                    failed.push((push.id, push.quantity, error, retry_at));
                }
            }
        }
        // Listings before pushes, locked in (channel, listing) order: an
        // import's transaction takes them the same way (it forgets
        // confirmed quantities, then supersedes pushes), so the two never
        // deadlock.
        let quantities: Vec<(&String, &i64)> = confirmed.iter().collect();
        for chunk in quantities.chunks(400) {
            let listings: Vec<&str> = chunk.iter().map(|(l, _)| l.as_str()).collect();
            sqlx::query(
                "SELECT 1 FROM listings WHERE channel_id = $1 AND listing_id = ANY($2)
                 ORDER BY channel_id, listing_id FOR UPDATE",
            )
            .bind(channel.channel_id.as_str())
            .bind(&listings)
            .execute(&mut *tx)
            .await?;
            let mut q: QueryBuilder<Postgres> = QueryBuilder::new(
                "UPDATE listings SET confirmed_quantity = v.quantity, confirmed_at = ",
            );
            q.push_bind(now).push(" FROM (");
            q.push_values(chunk, |mut b, (listing, quantity)| {
                b.push_bind(listing.as_str()).push_bind(**quantity);
            });
            q.push(") AS v (listing_id, quantity) WHERE listings.channel_id = ")
                .push_bind(channel.channel_id.as_str())
                .push(" AND listings.listing_id = v.listing_id");
            q.build().execute(&mut *tx).await?;
        }
        // The pushes, locked in id order before any is changed (an import
        // locks the pushes it retargets or supersedes the same way).
        let mut ids: Vec<i64> = sent
            .iter()
            .map(|(id, _)| *id)
            .chain(failed.iter().map(|f| f.0))
            .collect();
        ids.sort_unstable();
        for chunk in ids.chunks(1000) {
            sqlx::query("SELECT 1 FROM stock_pushes WHERE id = ANY($1) ORDER BY id FOR UPDATE")
                .bind(chunk)
                .execute(&mut *tx)
                .await?;
        }
        failed.sort_by_key(|f| f.0);
        for (id, quantity, error, retry_at) in failed {
            sqlx::query("UPDATE stock_pushes SET state = CASE WHEN state = 'superseded' THEN state ELSE 'error' END, error = $1, attempts = attempts + 1, next_attempt_at = $2 WHERE id = $3 AND quantity = $4")
                .bind(&error)
                // No retry: parked at 9999-12-31, as the SQLite backend does.
                .bind(retry_at.unwrap_or_else(|| {
                    DateTime::from_timestamp(253_402_214_400, 0).unwrap_or(DateTime::<Utc>::MAX_UTC)
                }))
                .bind(id)
                .bind(quantity)
                .execute(&mut *tx)
                .await?;
        }
        // A push superseded while in flight still tells us what the
        // channel now holds. Confirmations go in batches: a round can
        // confirm thousands.
        sent.sort_unstable();
        for chunk in sent.chunks(400) {
            let mut q: QueryBuilder<Postgres> = QueryBuilder::new(
                "UPDATE stock_pushes SET state = CASE WHEN state = 'superseded' THEN state ELSE 'sent' END, sent_at = ",
            );
            q.push_bind(now)
                .push(", attempts = attempts + 1, error = NULL WHERE (id, quantity) IN (");
            q.push_values(chunk, |mut b, (id, quantity)| {
                b.push_bind(*id).push_bind(*quantity);
            });
            q.push(")");
            q.build().execute(&mut *tx).await?;
        }
        if !confirmed.is_empty() {
            let ev = NewEvent::new(
                &channel.channel_id,
                "listing.stock_confirmed",
                EventPayload::Listing(ListingEvent {
                    channel_id: channel.channel_id.clone(),
                    listing_id: None,
                    sku: None,
                    channel_sku: None,
                    quantities: Some(confirmed.clone()),
                    listings: None,
                }),
            );
            append_event(&mut tx, &channel.account_id, &channel.store_id, &ev).await?;
        }
        tx.commit().await?;
        Ok(())
    }
}

/// A listing with its latest push (`l`, joined to `p`); the caller adds
/// the `WHERE`.
const LISTING_SELECT: &str =
    "SELECT l.*, p.state AS push_state, p.quantity AS push_quantity, p.error AS push_error
     FROM listings l LEFT JOIN stock_pushes p ON p.id = (
         SELECT id FROM stock_pushes WHERE channel_id = l.channel_id AND listing_id = l.listing_id
         AND state != 'superseded' ORDER BY id DESC LIMIT 1)";

/// The listings of `channel` with these ids (those that exist), in id
/// order.
pub(crate) async fn listings_by_id(
    conn: &mut PgConnection,
    channel: &ChannelId,
    ids: &[String],
) -> Result<Vec<ListingRecord>> {
    let rows = sqlx::query(&format!(
        "{LISTING_SELECT} WHERE l.channel_id = $1 AND l.listing_id = ANY($2) ORDER BY l.listing_id"
    ))
    .bind(channel.as_str())
    .bind(ids)
    .fetch_all(&mut *conn)
    .await?;
    rows.iter().map(|r| listing_from_row(channel, r)).collect()
}

/// Listings of a channel after `after` in id order (or the one with id
/// `only`; only those that map to no product with `unmapped_only`).
async fn read_listings(
    conn: &mut PgConnection,
    channel: &ChannelId,
    after: &str,
    only: Option<&str>,
    unmapped_only: bool,
    limit: i64,
) -> Result<Vec<ListingRecord>> {
    let rows = sqlx::query(&format!(
        "{LISTING_SELECT}
         WHERE l.channel_id = $1 AND l.listing_id > $2 AND ($3 IS NULL OR l.listing_id = $3)
           AND (NOT $5 OR l.sku IS NULL)
         ORDER BY l.listing_id LIMIT $4"
    ))
    .bind(channel.as_str())
    .bind(after)
    .bind(only)
    .bind(limit)
    .bind(unmapped_only)
    .fetch_all(&mut *conn)
    .await?;
    rows.iter().map(|r| listing_from_row(channel, r)).collect()
}

fn listing_from_row(channel: &ChannelId, r: &sqlx::postgres::PgRow) -> Result<ListingRecord> {
    Ok(ListingRecord {
        channel_id: channel.clone(),
        listing_id: r.try_get("listing_id")?,
        channel_sku: r.try_get("channel_sku")?,
        sku: r.try_get("sku")?,
        title: r.try_get("title")?,
        price: r.try_get("price")?,
        channel_quantity: r.try_get("channel_quantity")?,
        confirmed_quantity: r.try_get("confirmed_quantity")?,
        confirmed_at: opt_time(r.try_get("confirmed_at")?)?,
        push_state: r.try_get("push_state")?,
        push_quantity: r.try_get("push_quantity")?,
        push_error: r.try_get("push_error")?,
    })
}

/// `sku, channel_sku, title, price` of a listing: what a change of is news.
type ListingShape = (Option<String>, Option<String>, String, Option<i64>);
