//! Stores and their settings.

use crate::journal::{EventPayload, NewEvent, StoreEvent, store_event};
use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, Utc};
use sqlx::Row;
use sqlx::sqlite::SqliteRow;
use switchyard_domain::ids::{AccountId, ChannelId, OrderId, StoreId};
use switchyard_domain::plugin_rules::PluginRules;

use super::plugins::check_rule_plugins;
use super::{
    SqliteStorage, append_event, fetch_limit, now_text, paginate, parse_opt_ts, parse_ts,
    require_store, store_setting, stored,
};
use crate::{
    DayCount, NewStore, OVERVIEW_PUSHES, Page, PageRequest, PushDelay, Result, StorageError, Store,
    StoreOverview, StorePatch, Stores,
};

fn store_from_row(r: &SqliteRow) -> Result<Store> {
    Ok(Store {
        id: stored("store id", StoreId::parse(r.try_get("id")?))?,
        name: r.try_get("name")?,
        created_at: parse_ts(r.try_get("created_at")?)?,
        updated_at: parse_ts(r.try_get("updated_at")?)?,
    })
}

#[async_trait]
impl Stores for SqliteStorage {
    #[tracing::instrument(skip_all, fields(account = %account))]
    async fn create_store(&self, account: &AccountId, new: NewStore) -> Result<Store> {
        let mut tx = self.write.begin().await?;
        let id = StoreId::generate();
        let now = now_text();
        let r = sqlx::query(
            "INSERT INTO stores (id, account_id, name, created_at, updated_at) VALUES (?, ?, ?, ?, ?)
             RETURNING id, name, created_at, updated_at",
        )
        .bind(id.as_str())
        .bind(account.as_str())
        .bind(&new.name)
        .bind(&now)
        .bind(&now)
        .fetch_one(&mut *tx)
        .await?;
        let store = store_from_row(&r)?;
        let ev = store_event("store.created", &store);
        append_event(&mut tx, account, &store.id, &ev).await?;
        tx.commit().await?;
        Ok(store)
    }

    async fn get_store(&self, account: &AccountId, id: &StoreId) -> Result<Store> {
        let r = sqlx::query(
            "SELECT id, name, created_at, updated_at FROM stores WHERE id = ? AND account_id = ?",
        )
        .bind(id.as_str())
        .bind(account.as_str())
        .fetch_optional(&self.read)
        .await?
        .ok_or(StorageError::NotFound { entity: "store" })?;
        store_from_row(&r)
    }

    async fn list_stores(
        &self,
        account: &AccountId,
        only: Option<&StoreId>,
        page: &PageRequest,
    ) -> Result<Page<Store>> {
        let rows = sqlx::query(
            "SELECT id, name, created_at, updated_at FROM stores
             WHERE account_id = ? AND id > ? AND (? IS NULL OR id = ?) ORDER BY id LIMIT ?",
        )
        .bind(account.as_str())
        .bind(page.after.as_deref().unwrap_or(""))
        .bind(only.map(StoreId::as_str))
        .bind(only.map(StoreId::as_str))
        .bind(fetch_limit(page))
        .fetch_all(&self.read)
        .await?;
        let items = rows
            .iter()
            .map(store_from_row)
            .collect::<Result<Vec<_>>>()?;
        Ok(paginate(items, page, |s| s.id.to_string()))
    }

    #[tracing::instrument(skip(self, patch))]
    async fn update_store(
        &self,
        account: &AccountId,
        id: &StoreId,
        patch: StorePatch,
    ) -> Result<Store> {
        let mut tx = self.write.begin().await?;
        let r = sqlx::query(
            "UPDATE stores SET name = COALESCE(?, name), updated_at = ? WHERE id = ? AND account_id = ?
             RETURNING id, name, created_at, updated_at",
        )
        .bind(patch.name)
        .bind(now_text())
        .bind(id.as_str())
        .bind(account.as_str())
        .fetch_optional(&mut *tx)
        .await?
        .ok_or(StorageError::NotFound { entity: "store" })?;
        let store = store_from_row(&r)?;
        let ev = store_event("store.updated", &store);
        append_event(&mut tx, account, id, &ev).await?;
        tx.commit().await?;
        Ok(store)
    }

    async fn store_overview(
        &self,
        account: &AccountId,
        store: &StoreId,
        since: DateTime<Utc>,
    ) -> Result<StoreOverview> {
        let mut tx = self.read.begin().await?;
        require_store(&mut tx, account, store).await?;
        // Ids sort by when they were made: the store's index on (store, id)
        // finds the orders imported since `since`.
        let days = sqlx::query(
            "SELECT channel_id, substr(created_at, 1, 10) AS day, COUNT(*) AS n FROM orders
             WHERE store_id = ? AND id >= ? GROUP BY channel_id, day ORDER BY day, channel_id",
        )
        .bind(store.as_str())
        .bind(OrderId::first_at(since).as_str())
        .fetch_all(&mut *tx)
        .await?;
        let mut orders_per_day = Vec::with_capacity(days.len());
        for r in &days {
            let day: String = r.try_get("day")?;
            orders_per_day.push(DayCount {
                channel_id: stored("channel id", ChannelId::parse(r.try_get("channel_id")?))?,
                day: NaiveDate::parse_from_str(&day, "%Y-%m-%d")
                    .map_err(|e| StorageError::corrupt("order time", e))?,
                orders: r.try_get("n")?,
            });
        }
        let (on_hold, failed_syncs, back_office_failed, oldest): (i64, i64, i64, Option<String>) =
            sqlx::query_as(
                "SELECT (SELECT COUNT(*) FROM orders WHERE store_id = ?1 AND state = 'on_hold'),
                        (SELECT COUNT(*) FROM fulfilments WHERE store_id = ?1 AND sync_state = 'failed'),
                        (SELECT COUNT(*) FROM back_office_orders WHERE store_id = ?1 AND state = 'failed'),
                        (SELECT MIN(created_at) FROM stock_pushes WHERE store_id = ?1 AND state IN ('pending', 'error'))",
            )
            .bind(store.as_str())
            .fetch_one(&mut *tx)
            .await?;
        let pushes = sqlx::query(
            "SELECT channel_id, created_at, sent_at FROM stock_pushes
             WHERE store_id = ? AND cause = 'order_import' AND sent_at IS NOT NULL
             ORDER BY id DESC LIMIT ?",
        )
        .bind(store.as_str())
        .bind(OVERVIEW_PUSHES)
        .fetch_all(&mut *tx)
        .await?;
        let sale_pushes = pushes
            .iter()
            .map(|r| {
                Ok(PushDelay {
                    channel_id: stored("channel id", ChannelId::parse(r.try_get("channel_id")?))?,
                    queued_at: parse_ts(r.try_get("created_at")?)?,
                    sent_at: parse_ts(r.try_get("sent_at")?)?,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(StoreOverview {
            orders_per_day,
            on_hold,
            failed_syncs,
            back_office_failed,
            oldest_unpushed_stock_change: parse_opt_ts(oldest)?,
            sale_pushes,
        })
    }

    async fn plugin_rules(&self, account: &AccountId, store: &StoreId) -> Result<PluginRules> {
        let mut conn = self.read.acquire().await?;
        require_store(&mut conn, account, store).await?;
        store_setting(&mut conn, store, "plugin_rules").await
    }

    #[tracing::instrument(skip_all, fields(store = %store, rules = rules.rules.len()))]
    async fn set_plugin_rules(
        &self,
        account: &AccountId,
        store: &StoreId,
        rules: PluginRules,
    ) -> Result<PluginRules> {
        rules.validate()?;
        let mut tx = self.write.begin().await?;
        require_store(&mut tx, account, store).await?;
        check_rule_plugins(&mut tx, store, &rules).await?;
        super::write_store_setting(
            &mut tx,
            account,
            store,
            "plugin_rules",
            &rules,
            "store.plugin_rules_updated",
            |e| e.plugin_rules = Some(rules.clone()),
        )
        .await?;
        tx.commit().await?;
        Ok(rules)
    }

    #[tracing::instrument(skip(self))]
    async fn delete_store(&self, account: &AccountId, id: &StoreId, force: bool) -> Result<()> {
        let mut tx = self.write.begin().await?;
        require_store(&mut tx, account, id).await?;
        let orders: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM orders WHERE store_id = ?")
            .bind(id.as_str())
            .fetch_one(&mut *tx)
            .await?;
        if orders > 0 && !force {
            return Err(StorageError::conflict(
                "store_has_orders",
                format!(
                    "store {id} still has {orders} order(s); pass force=true to delete it with everything in it"
                ),
                None,
            ));
        }
        // Children without a cascading path from `stores` go first.
        for sql in [
            "DELETE FROM accounting_syncs WHERE store_id = ?",
            "DELETE FROM accounting_connections WHERE store_id = ?",
            "DELETE FROM invoices WHERE store_id = ?",
            "DELETE FROM plugin_messages WHERE store_id = ?",
            "DELETE FROM stock_commitments WHERE store_id = ?",
            "DELETE FROM stock_levels WHERE store_id = ?",
            "DELETE FROM kit_components WHERE store_id = ?",
            "DELETE FROM orders WHERE store_id = ?",
            "DELETE FROM products WHERE store_id = ?",
            "DELETE FROM oauth_states WHERE page_id IN (SELECT id FROM hosted_pages WHERE store_id = ?)",
            "DELETE FROM hosted_pages WHERE store_id = ?",
            "DELETE FROM channels WHERE store_id = ?",
            "DELETE FROM api_tokens WHERE store_id = ?",
            "DELETE FROM plugins WHERE store_id = ?",
            "DELETE FROM stores WHERE id = ?",
        ] {
            sqlx::query(sql).bind(id.as_str()).execute(&mut *tx).await?;
        }
        let ev = NewEvent::new(
            id,
            "store.deleted",
            EventPayload::Store(StoreEvent {
                orders_deleted: Some(orders),
                ..StoreEvent::of(id)
            }),
        );
        append_event(&mut tx, account, id, &ev).await?;
        tx.commit().await?;
        Ok(())
    }
}
