//! Accounts and their API tokens.

use async_trait::async_trait;
use chrono::Utc;
use sqlx::Row;
use sqlx::postgres::PgRow;
use switchyard_domain::ids::{AccountId, PluginId, StoreId, TokenId};

use super::pg;
use super::{PgStorage, at, fetch_limit, now, opt_time, paginate, require_store, stored, time};
use crate::{
    Account, Accounts, NewToken, Page, PageRequest, Result, StorageError, TOKEN_TOUCH_INTERVAL,
    TokenRecord,
};

const TOKEN_COLUMNS: &str =
    "id, account_id, store_id, plugin_id, name, prefix, created_at, last_used_at, revoked_at";

fn token_from_row(r: &PgRow) -> Result<TokenRecord> {
    Ok(TokenRecord {
        id: stored("token id", TokenId::parse(r.try_get("id")?))?,
        account_id: stored("account id", AccountId::parse(r.try_get("account_id")?))?,
        store_id: r
            .try_get::<Option<&str>, _>("store_id")?
            .map(|s| stored("store id", StoreId::parse(s)))
            .transpose()?,
        plugin_id: r
            .try_get::<Option<&str>, _>("plugin_id")?
            .map(|s| stored("plugin id", PluginId::parse(s)))
            .transpose()?,
        name: r.try_get("name")?,
        prefix: r.try_get("prefix")?,
        created_at: time(r.try_get("created_at")?)?,
        last_used_at: opt_time(r.try_get("last_used_at")?)?,
        revoked_at: opt_time(r.try_get("revoked_at")?)?,
    })
}

#[async_trait]
impl Accounts for PgStorage {
    #[tracing::instrument(skip(self))]
    async fn ensure_account(&self, name: &str) -> Result<Account> {
        let id = AccountId::generate();
        sqlx::query("INSERT INTO accounts (id, name, created_at) VALUES ($1, $2, $3) ON CONFLICT (name) DO NOTHING")
            .bind(id.as_str())
            .bind(name)
            .bind(now())
            .execute(&self.pool)
            .await?;
        let r = sqlx::query("SELECT id, name, created_at FROM accounts WHERE name = $1")
            .bind(name)
            .fetch_one(&self.pool)
            .await?;
        Ok(Account {
            id: stored("account id", AccountId::parse(r.try_get("id")?))?,
            name: r.try_get("name")?,
            created_at: time(r.try_get("created_at")?)?,
        })
    }

    async fn get_account(&self, id: &AccountId) -> Result<Account> {
        let r = sqlx::query("SELECT id, name, created_at FROM accounts WHERE id = $1")
            .bind(id.as_str())
            .fetch_optional(&self.pool)
            .await?
            .ok_or(StorageError::NotFound { entity: "account" })?;
        Ok(Account {
            id: stored("account id", AccountId::parse(r.try_get("id")?))?,
            name: r.try_get("name")?,
            created_at: time(r.try_get("created_at")?)?,
        })
    }

    #[tracing::instrument(skip_all, fields(account = %new.account_id))]
    async fn create_token(&self, new: NewToken) -> Result<TokenRecord> {
        let mut tx = self.pool.begin().await?;
        if let Some(store) = &new.store_id {
            require_store(&mut tx, &new.account_id, store).await?;
        }
        if let Some(plugin) = &new.plugin_id {
            // A plugin token reaches exactly its plugin's store.
            let store: Option<String> = sqlx::query_scalar(
                "SELECT store_id FROM plugins WHERE id = $1 AND account_id = $2",
            )
            .bind(plugin.as_str())
            .bind(new.account_id.as_str())
            .fetch_optional(&mut *tx)
            .await?;
            if store.as_deref() != new.store_id.as_ref().map(StoreId::as_str) {
                return Err(StorageError::NotFound { entity: "plugin" });
            }
        }
        let id = TokenId::generate();
        let r = sqlx::query(&pg(&format!(
            "INSERT INTO api_tokens (id, account_id, store_id, plugin_id, name, prefix, token_hash, created_at)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING {TOKEN_COLUMNS}"
        )))
        .bind(id.as_str())
        .bind(new.account_id.as_str())
        .bind(new.store_id.as_ref().map(StoreId::as_str))
        .bind(new.plugin_id.as_ref().map(PluginId::as_str))
        .bind(&new.name)
        .bind(&new.prefix)
        .bind(&new.hash)
        .bind(now())
        .fetch_one(&mut *tx)
        .await?;
        let rec = token_from_row(&r)?;
        tx.commit().await?;
        Ok(rec)
    }

    async fn find_token_by_hash(&self, hash: &str) -> Result<Option<TokenRecord>> {
        sqlx::query(&pg(&format!(
            "SELECT {TOKEN_COLUMNS} FROM api_tokens WHERE token_hash = ? AND revoked_at IS NULL"
        )))
        .bind(hash)
        .fetch_optional(&self.pool)
        .await?
        .as_ref()
        .map(token_from_row)
        .transpose()
    }

    async fn touch_token(&self, id: &TokenId) -> Result<()> {
        let now = Utc::now();
        let stale = at(now - TOKEN_TOUCH_INTERVAL);
        sqlx::query("UPDATE api_tokens SET last_used_at = $1 WHERE id = $2 AND (last_used_at IS NULL OR last_used_at < $3)")
            .bind(at(now))
            .bind(id.as_str())
            .bind(stale)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn list_tokens(
        &self,
        account: &AccountId,
        page: &PageRequest,
    ) -> Result<Page<TokenRecord>> {
        let rows = sqlx::query(&pg(&format!(
            "SELECT {TOKEN_COLUMNS} FROM api_tokens WHERE account_id = ? AND id > ? ORDER BY id LIMIT ?"
        )))
        .bind(account.as_str())
        .bind(page.after.as_deref().unwrap_or(""))
        .bind(fetch_limit(page))
        .fetch_all(&self.pool)
        .await?;
        let items = rows
            .iter()
            .map(token_from_row)
            .collect::<Result<Vec<_>>>()?;
        Ok(paginate(items, page, |t| t.id.to_string()))
    }

    #[tracing::instrument(skip(self))]
    async fn revoke_token(&self, account: &AccountId, id: &TokenId) -> Result<TokenRecord> {
        let r = sqlx::query(&pg(&format!(
            "UPDATE api_tokens SET revoked_at = COALESCE(revoked_at, ?) WHERE id = ? AND account_id = ? RETURNING {TOKEN_COLUMNS}"
        )))
        .bind(now())
        .bind(id.as_str())
        .bind(account.as_str())
        .fetch_optional(&self.pool)
        .await?
        .ok_or(StorageError::NotFound { entity: "token" })?;
        token_from_row(&r)
    }
}
