//! Channels: settings, sealed credentials, stock rules.

use crate::journal::{ChannelEvent, EventPayload, NewEvent, channel_updated_event};
use async_trait::async_trait;
use sqlx::sqlite::SqliteRow;
use sqlx::{QueryBuilder, Row, Sqlite, SqliteConnection};
use switchyard_domain::channel::ChannelKind;
use switchyard_domain::filter::ChannelSettings;
use switchyard_domain::ids::{AccountId, ChannelId, StoreId};
use switchyard_domain::stock::StockRules;

use super::{
    SqliteStorage, append_event, now_text, parse_opt_ts, parse_ts, require_store, store_page,
    stored,
};
use crate::{
    Channel, ChannelPatch, ChannelRef, ChannelSync, Channels, NewChannel, Page, PageRequest,
    Result, StorageError,
};

const CHANNEL_COLUMNS: &str = "id, store_id, name, kind, base_url, credentials IS NOT NULL AS has_credentials, stock_rules, \
     settings, import_cursor, import_resume, next_import_at, last_import_at, last_success_at, last_error, last_error_at, failures, \
     listings_synced_at, notifications_at, notifications_error, created_at, updated_at";

fn channel_from_row(r: &SqliteRow) -> Result<Channel> {
    let rules: &str = r.try_get("stock_rules")?;
    Ok(Channel {
        id: stored("channel id", ChannelId::parse(r.try_get("id")?))?,
        store_id: stored("store id", StoreId::parse(r.try_get("store_id")?))?,
        name: r.try_get("name")?,
        kind: stored("channel kind", ChannelKind::parse(r.try_get("kind")?))?,
        base_url: r.try_get("base_url")?,
        has_credentials: r.try_get("has_credentials")?,
        stock_rules: serde_json::from_str(rules)
            .map_err(|e| StorageError::corrupt("stock rules", e))?,
        settings: serde_json::from_str(r.try_get("settings")?)
            .map_err(|e| StorageError::corrupt("channel settings", e))?,
        sync: ChannelSync {
            cursor: parse_opt_ts(r.try_get("import_cursor")?)?,
            resume: r
                .try_get::<Option<&str>, _>("import_resume")?
                .map(serde_json::from_str)
                .transpose()
                .map_err(|e| StorageError::corrupt("import resume point", e))?,
            next_import_at: parse_opt_ts(r.try_get("next_import_at")?)?,
            last_import_at: parse_opt_ts(r.try_get("last_import_at")?)?,
            last_success_at: parse_opt_ts(r.try_get("last_success_at")?)?,
            last_error: r.try_get("last_error")?,
            last_error_at: parse_opt_ts(r.try_get("last_error_at")?)?,
            failures: r.try_get("failures")?,
            listings_synced_at: parse_opt_ts(r.try_get("listings_synced_at")?)?,
            notifications_at: parse_opt_ts(r.try_get("notifications_at")?)?,
            notifications_error: r.try_get("notifications_error")?,
        },
        created_at: parse_ts(r.try_get("created_at")?)?,
        updated_at: parse_ts(r.try_get("updated_at")?)?,
    })
}

/// The journal view of a channel: never credentials.
fn rules_json(r: &StockRules) -> String {
    serde_json::to_string(r).unwrap_or_else(|_| "{}".to_owned())
}

fn settings_json(s: &ChannelSettings) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| "{}".to_owned())
}

async fn fetch_channel(
    conn: &mut SqliteConnection,
    account: &AccountId,
    store: &StoreId,
    id: &ChannelId,
) -> Result<Channel> {
    let r = sqlx::query(&format!(
        "SELECT {CHANNEL_COLUMNS} FROM channels WHERE id = ? AND store_id = ? AND account_id = ?"
    ))
    .bind(id.as_str())
    .bind(store.as_str())
    .bind(account.as_str())
    .fetch_optional(&mut *conn)
    .await?
    .ok_or(StorageError::NotFound { entity: "channel" })?;
    channel_from_row(&r)
}

#[async_trait]
impl Channels for SqliteStorage {
    #[tracing::instrument(skip_all, fields(account = %account, store = %store))]
    async fn create_channel(
        &self,
        account: &AccountId,
        store: &StoreId,
        new: NewChannel,
    ) -> Result<Channel> {
        let mut tx = self.write.begin().await?;
        require_store(&mut tx, account, store).await?;
        let now = now_text();
        sqlx::query(
            "INSERT INTO channels (id, account_id, store_id, name, kind, base_url, credentials, stock_rules, settings, next_import_at, created_at, updated_at)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(new.id.as_str())
        .bind(account.as_str())
        .bind(store.as_str())
        .bind(&new.name)
        .bind(new.kind.as_str())
        .bind(&new.base_url)
        .bind(&new.credentials)
        .bind(rules_json(&new.stock_rules))
        .bind(settings_json(&new.settings))
        .bind(&now)
        .bind(&now)
        .bind(&now)
        .execute(&mut *tx)
        .await?;
        let ch = fetch_channel(&mut tx, account, store, &new.id).await?;
        let ev = NewEvent::new(
            &ch.id,
            "channel.created",
            EventPayload::Channel(ChannelEvent::snapshot(&ch)),
        );
        append_event(&mut tx, account, store, &ev).await?;
        if let Some(page) = &new.hosted_page {
            super::hosted_pages::use_page(&mut tx, account, store, page, ch.id.as_str()).await?;
            let ev = NewEvent::new(
                &ch.id,
                "channel.connected",
                EventPayload::Channel(ChannelEvent {
                    hosted_page_id: Some(page.to_string()),
                    ..ChannelEvent::snapshot(&ch)
                }),
            );
            append_event(&mut tx, account, store, &ev).await?;
        }
        tx.commit().await?;
        Ok(ch)
    }

    async fn get_channel(
        &self,
        account: &AccountId,
        store: &StoreId,
        id: &ChannelId,
    ) -> Result<Channel> {
        let mut conn = self.read.acquire().await?;
        fetch_channel(&mut conn, account, store, id).await
    }

    async fn channel_credentials(
        &self,
        account: &AccountId,
        store: &StoreId,
        id: &ChannelId,
    ) -> Result<Option<Vec<u8>>> {
        let row: Option<Option<Vec<u8>>> = sqlx::query_scalar(
            "SELECT credentials FROM channels WHERE id = ? AND store_id = ? AND account_id = ?",
        )
        .bind(id.as_str())
        .bind(store.as_str())
        .bind(account.as_str())
        .fetch_optional(&self.read)
        .await?;
        row.ok_or(StorageError::NotFound { entity: "channel" })
    }

    async fn list_channels(
        &self,
        account: &AccountId,
        store: &StoreId,
        page: &PageRequest,
    ) -> Result<Page<Channel>> {
        store_page(
            &self.read,
            account,
            store,
            page,
            &format!(
                "SELECT {CHANNEL_COLUMNS} FROM channels WHERE store_id = ? AND id > ? ORDER BY id LIMIT ?"
            ),
            channel_from_row,
            |c| c.id.to_string(),
        )
        .await
    }

    #[tracing::instrument(skip(self, patch))]
    async fn update_channel(
        &self,
        account: &AccountId,
        store: &StoreId,
        id: &ChannelId,
        patch: ChannelPatch,
    ) -> Result<Channel> {
        let mut tx = self.write.begin().await?;
        let old = fetch_channel(&mut tx, account, store, id).await?;
        let mut q: QueryBuilder<Sqlite> = QueryBuilder::new("UPDATE channels SET updated_at = ");
        q.push_bind(now_text());
        if let Some(name) = patch.name {
            q.push(", name = ").push_bind(name);
        }
        if let Some(url) = patch.base_url {
            q.push(", base_url = ").push_bind(url);
        }
        let credentials_changed = patch.credentials.is_some();
        if let Some(c) = patch.credentials {
            q.push(", credentials = ").push_bind(c);
        }
        if let Some(r) = &patch.stock_rules {
            q.push(", stock_rules = ").push_bind(rules_json(r));
        }
        if let Some(st) = &patch.settings {
            q.push(", settings = ").push_bind(settings_json(st));
            if st.cadence_secs != old.settings.cadence_secs {
                // A new cadence takes effect now, not after the old interval.
                q.push(", next_import_at = ").push_bind(now_text());
            }
        }
        q.push(" WHERE id = ").push_bind(id.as_str());
        q.build().execute(&mut *tx).await?;
        let ch = fetch_channel(&mut tx, account, store, id).await?;
        let ev = channel_updated_event(&old, &ch, credentials_changed);
        append_event(&mut tx, account, store, &ev).await?;
        tx.commit().await?;
        Ok(ch)
    }

    #[tracing::instrument(skip(self))]
    async fn delete_channel(
        &self,
        account: &AccountId,
        store: &StoreId,
        id: &ChannelId,
    ) -> Result<()> {
        let mut tx = self.write.begin().await?;
        fetch_channel(&mut tx, account, store, id).await?;
        let orders: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM orders WHERE channel_id = ?")
            .bind(id.as_str())
            .fetch_one(&mut *tx)
            .await?;
        if orders > 0 {
            return Err(StorageError::conflict(
                "channel_has_orders",
                format!("channel {id} has {orders} imported order(s) and cannot be deleted"),
                None,
            ));
        }
        sqlx::query("DELETE FROM channels WHERE id = ?")
            .bind(id.as_str())
            .execute(&mut *tx)
            .await?;
        let ev = NewEvent::new(
            id,
            "channel.deleted",
            EventPayload::Channel(ChannelEvent::of(id)),
        );
        append_event(&mut tx, account, store, &ev).await?;
        tx.commit().await?;
        Ok(())
    }
}

/// Fail with `NotFound { entity: "channel" }` unless the channel is the store's.
pub(crate) async fn require_channel(
    conn: &mut SqliteConnection,
    account: &AccountId,
    store: &StoreId,
    channel: &ChannelId,
) -> Result<()> {
    require_store(conn, account, store).await?;
    let found: Option<i64> =
        sqlx::query_scalar("SELECT 1 FROM channels WHERE id = ? AND store_id = ?")
            .bind(channel.as_str())
            .bind(store.as_str())
            .fetch_optional(&mut *conn)
            .await?;
    found
        .map(|_| ())
        .ok_or(StorageError::NotFound { entity: "channel" })
}

pub(crate) fn channel_ref_from_row(r: &sqlx::sqlite::SqliteRow) -> Result<ChannelRef> {
    Ok(ChannelRef {
        account_id: stored("account id", AccountId::parse(r.try_get("account_id")?))?,
        store_id: stored("store id", StoreId::parse(r.try_get("store_id")?))?,
        channel_id: stored("channel id", ChannelId::parse(r.try_get("id")?))?,
    })
}
