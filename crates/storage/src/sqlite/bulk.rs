//! A generated catalogue for load tests and benchmarks: many products with
//! stock, each listed on the given channels, written with a few
//! `INSERT … SELECT` statements instead of one API call per product.

use switchyard_domain::ids::{ChannelId, StoreId};

use super::{SqliteStorage, now_text};
use crate::Result;

impl SqliteStorage {
    /// Add `count` plain products `{prefix}{n:07}` (n = 1…count) to
    /// `store`, each with `quantity` units from the `api` source and one
    /// listing `{prefix}{n:07}` (listing id = SKU) on each of `channels`,
    /// confirmed at `quantity` so nothing is pushed until stock changes.
    /// The listing ids mean nothing to a real channel: the products are
    /// ballast that makes the tables as large as a big merchant's.
    pub async fn generate_catalogue(
        &self,
        store: &StoreId,
        channels: &[ChannelId],
        prefix: &str,
        count: u64,
        quantity: i64,
    ) -> Result<()> {
        let now = now_text();
        let count = i64::try_from(count).unwrap_or(i64::MAX);
        let mut tx = self.write.begin().await?;
        let numbers =
            "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?) ";
        sqlx::query(&format!(
            "{numbers}INSERT INTO products (store_id, sku, title, created_at, updated_at)
             SELECT ?, printf('%s%07d', ?, i), printf('Generated %07d', i), ?, ? FROM n"
        ))
        .bind(count)
        .bind(store.as_str())
        .bind(prefix)
        .bind(&now)
        .bind(&now)
        .execute(&mut *tx)
        .await?;
        sqlx::query(&format!(
            "{numbers}INSERT INTO stock_levels (store_id, sku, source, location, quantity, updated_at)
             SELECT ?, printf('%s%07d', ?, i), 'api', '', ?, ? FROM n"
        ))
        .bind(count)
        .bind(store.as_str())
        .bind(prefix)
        .bind(quantity)
        .bind(&now)
        .execute(&mut *tx)
        .await?;
        for ch in channels {
            sqlx::query(&format!(
                "{numbers}INSERT INTO listings (channel_id, listing_id, store_id, channel_sku, sku, title, channel_quantity, confirmed_quantity, confirmed_at, created_at, updated_at)
                 SELECT ?, printf('%s%07d', ?, i), ?, printf('%s%07d', ?, i), printf('%s%07d', ?, i), printf('Generated %07d', i), ?, ?, ?, ?, ? FROM n"
            ))
            .bind(count)
            .bind(ch.as_str())
            .bind(prefix)
            .bind(store.as_str())
            .bind(prefix)
            .bind(prefix)
            .bind(quantity)
            .bind(quantity)
            .bind(&now)
            .bind(&now)
            .bind(&now)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }
}
