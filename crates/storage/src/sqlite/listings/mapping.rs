//! Mapping listings to the store's products: by manual SKU mapping, else
//! by the same SKU, and again when products or mappings change.

use std::collections::{BTreeSet, HashMap};

use sqlx::{QueryBuilder, Row, Sqlite, SqliteConnection};
use switchyard_domain::ids::{ChannelId, StoreId};

use super::enqueue_targets;
use crate::Result;
use crate::sqlite::products::product_kind;
use crate::sqlite::{fetch_in, fetch_in_by};

/// The journal's entity id of a listing: `{channel_id}:{listing_id}`.
pub(crate) fn listing_key(channel: &ChannelId, listing_id: &str) -> String {
    format!("{channel}:{listing_id}")
}

/// The store SKU a channel SKU maps to: the manual mapping, else the same
/// SKU when it is a product of the store.
pub(crate) async fn map_sku(
    conn: &mut SqliteConnection,
    store: &StoreId,
    channel: &ChannelId,
    channel_sku: &str,
) -> Result<Option<String>> {
    let mapped: Option<String> =
        sqlx::query_scalar("SELECT sku FROM sku_mappings WHERE channel_id = ? AND channel_sku = ?")
            .bind(channel.as_str())
            .bind(channel_sku)
            .fetch_optional(&mut *conn)
            .await?;
    if mapped.is_some() {
        return Ok(mapped);
    }
    Ok(product_kind(conn, store, channel_sku)
        .await?
        .is_some()
        .then(|| channel_sku.to_owned()))
}

/// [`map_sku`] for many channel SKUs at once: channel SKU → store SKU,
/// for those that map.
pub(crate) async fn map_skus(
    conn: &mut SqliteConnection,
    store: &StoreId,
    channel: &ChannelId,
    channel_skus: &[&str],
) -> Result<HashMap<String, String>> {
    let mut out = HashMap::with_capacity(channel_skus.len());
    for r in fetch_in_by(
        conn,
        "SELECT channel_sku, sku FROM sku_mappings",
        ("channel_id", channel.as_str()),
        "channel_sku",
        channel_skus,
        "",
    )
    .await?
    {
        out.insert(r.try_get("channel_sku")?, r.try_get("sku")?);
    }
    let rest: Vec<&str> = channel_skus
        .iter()
        .copied()
        .filter(|s| !out.contains_key(*s))
        .collect();
    for r in fetch_in(conn, "SELECT sku FROM products", store, "sku", &rest, "").await? {
        let sku: String = r.try_get("sku")?;
        out.insert(sku.clone(), sku);
    }
    Ok(out)
}

/// Now that products `skus` exist, map every listing of the store (on any
/// channel) whose channel SKU is one of them and that maps to nothing yet
/// (no manual mapping says otherwise), and enqueue their targets. Returns
/// how many listings were mapped. Called in the transaction that creates
/// the products, so a channel connected before its catalogue gets stock
/// as soon as the catalogue exists.
pub(crate) async fn map_listings_to_new_products(
    conn: &mut SqliteConnection,
    store: &StoreId,
    skus: &BTreeSet<String>,
) -> Result<usize> {
    let list: Vec<&str> = skus.iter().map(String::as_str).collect();
    let mut mapped = BTreeSet::new();
    let mut count = 0;
    for chunk in list.chunks(500) {
        let mut q = QueryBuilder::<Sqlite>::new(
            "UPDATE listings SET sku = channel_sku, confirmed_quantity = NULL WHERE sku IS NULL AND store_id = ",
        );
        q.push_bind(store.as_str());
        q.push(" AND channel_sku IN (");
        let mut sep = q.separated(", ");
        for sku in chunk {
            sep.push_bind(*sku);
        }
        q.push(
            ") AND NOT EXISTS (SELECT 1 FROM sku_mappings m WHERE m.channel_id = listings.channel_id \
             AND m.channel_sku = listings.channel_sku) RETURNING sku",
        );
        for r in q.build().fetch_all(&mut *conn).await? {
            mapped.insert(r.try_get::<String, _>("sku")?);
            count += 1;
        }
    }
    if count > 0 {
        tracing::info!(store = %store, listings = count, "listings mapped to new products");
        enqueue_targets(conn, store, &mapped, "product_created").await?;
    }
    Ok(count)
}

/// Re-map a channel's listings showing `channel_sku` and recompute them.
pub(crate) async fn remap_listings(
    conn: &mut SqliteConnection,
    store: &StoreId,
    channel: &ChannelId,
    channel_sku: &str,
) -> Result<()> {
    let sku = map_sku(conn, store, channel, channel_sku).await?;
    sqlx::query("UPDATE listings SET sku = ?, confirmed_quantity = NULL WHERE channel_id = ? AND channel_sku = ?")
        .bind(&sku)
        .bind(channel.as_str())
        .bind(channel_sku)
        .execute(&mut *conn)
        .await?;
    if let Some(s) = sku {
        enqueue_targets(conn, store, &BTreeSet::from([s]), "sku_mapping").await?;
    }
    Ok(())
}
