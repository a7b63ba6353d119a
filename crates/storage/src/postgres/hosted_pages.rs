//! Hosted onboarding pages.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::Row;
use sqlx::postgres::PgRow;
use switchyard_domain::ids::{AccountId, HostedPageId, StoreId};

use super::{PgStorage, opt_time, require_store, store_page, time};
use crate::hosted_pages::{PAGE_COLUMNS, PAGE_NOT_OPEN, PageText, channels_text, state_from_row};
use crate::{HostedPage, HostedPages, NewHostedPage, Page, PageRequest, Result, StorageError};
use crate::{NewOAuthState, OAuthState};

fn page_from_row(r: &PgRow) -> Result<HostedPage> {
    PageText {
        id: r.try_get("id")?,
        store_id: r.try_get("store_id")?,
        channels: r.try_get("channels")?,
        branding: r.try_get("branding")?,
        presets: r.try_get("presets")?,
        redirect_url: r.try_get("redirect_url")?,
        metadata: r.try_get("metadata")?,
        state: r.try_get("state")?,
        channel_id: r.try_get("channel_id")?,
    }
    .into_page(
        time(r.try_get("expires_at")?)?,
        time(r.try_get("created_at")?)?,
        opt_time(r.try_get("completed_at")?)?,
        opt_time(r.try_get("revoked_at")?)?,
    )
}

async fn fetch(
    conn: &mut sqlx::PgConnection,
    account: &AccountId,
    id: &HostedPageId,
) -> Result<HostedPage> {
    let r = sqlx::query(&format!(
        "SELECT {PAGE_COLUMNS} FROM hosted_pages h WHERE h.id = $1 AND h.account_id = $2"
    ))
    .bind(id.as_str())
    .bind(account.as_str())
    .fetch_optional(&mut *conn)
    .await?
    .ok_or(StorageError::NotFound {
        entity: "hosted page",
    })?;
    page_from_row(&r)
}

/// Use up an open, unexpired page of the store for `channel`, inside the
/// transaction that creates the channel.
pub(super) async fn use_page(
    conn: &mut sqlx::PgConnection,
    account: &AccountId,
    store: &StoreId,
    page: &HostedPageId,
    channel: &str,
) -> Result<()> {
    let now = Utc::now();
    let used = sqlx::query(
        "UPDATE hosted_pages SET state = 'completed', channel_id = $1, completed_at = $2 \
         WHERE id = $3 AND account_id = $4 AND store_id = $5 AND state = 'open' AND expires_at > $6",
    )
    .bind(channel)
    .bind(now)
    .bind(page.as_str())
    .bind(account.as_str())
    .bind(store.as_str())
    .bind(now)
    .execute(&mut *conn)
    .await?
    .rows_affected();
    if used == 0 {
        return Err(StorageError::Conflict {
            code: "page_not_open",
            message: PAGE_NOT_OPEN.to_owned(),
            field: None,
        });
    }
    Ok(())
}

#[async_trait]
impl HostedPages for PgStorage {
    async fn create_hosted_page(
        &self,
        account: &AccountId,
        store: &StoreId,
        new: NewHostedPage,
    ) -> Result<HostedPage> {
        let mut tx = self.pool.begin().await?;
        require_store(&mut tx, account, store).await?;
        sqlx::query(
            "INSERT INTO hosted_pages (id, account_id, store_id, token_hash, channels, branding, presets, \
             redirect_url, metadata, state, expires_at, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 'open', $10, $11)",
        )
        .bind(new.id.as_str())
        .bind(account.as_str())
        .bind(store.as_str())
        .bind(&new.token_hash)
        .bind(channels_text(&new.channels))
        .bind(serde_json::to_string(&new.branding).unwrap_or_default())
        .bind(new.presets.to_string())
        .bind(&new.redirect_url)
        .bind(new.metadata.to_string())
        .bind(new.expires_at)
        .bind(Utc::now())
        .execute(&mut *tx)
        .await?;
        let page = fetch(&mut tx, account, &new.id).await?;
        tx.commit().await?;
        Ok(page)
    }

    async fn get_hosted_page(&self, account: &AccountId, id: &HostedPageId) -> Result<HostedPage> {
        let mut conn = self.pool.acquire().await?;
        fetch(&mut conn, account, id).await
    }

    async fn list_hosted_pages(
        &self,
        account: &AccountId,
        store: &StoreId,
        page: &PageRequest,
    ) -> Result<Page<HostedPage>> {
        store_page(
            &self.pool,
            account,
            store,
            page,
            &format!(
                "SELECT {PAGE_COLUMNS} FROM hosted_pages h WHERE h.store_id = ? AND h.id > ? ORDER BY h.id LIMIT ?"
            ),
            page_from_row,
            |p| p.id.to_string(),
        )
        .await
    }

    async fn revoke_hosted_page(
        &self,
        account: &AccountId,
        id: &HostedPageId,
        now: DateTime<Utc>,
    ) -> Result<HostedPage> {
        let mut tx = self.pool.begin().await?;
        let page = fetch(&mut tx, account, id).await?;
        match page.stored_state {
            switchyard_domain::hosted_page::PageState::Completed => {
                return Err(StorageError::Conflict {
                    code: "page_completed",
                    message:
                        "a channel was connected through this page; disconnect the channel instead"
                            .into(),
                    field: None,
                });
            }
            switchyard_domain::hosted_page::PageState::Open => {
                sqlx::query(
                    "UPDATE hosted_pages SET state = 'revoked', revoked_at = $1 WHERE id = $2",
                )
                .bind(now)
                .bind(id.as_str())
                .execute(&mut *tx)
                .await?;
            }
            _ => {}
        }
        let page = fetch(&mut tx, account, id).await?;
        tx.commit().await?;
        Ok(page)
    }

    async fn hosted_page_by_token(&self, hash: &str) -> Result<Option<(AccountId, HostedPage)>> {
        let r = sqlx::query(&format!(
            "SELECT {PAGE_COLUMNS}, h.account_id FROM hosted_pages h WHERE h.token_hash = $1"
        ))
        .bind(hash)
        .fetch_optional(&self.pool)
        .await?;
        r.map(|r| {
            let account: String = r.try_get("account_id")?;
            Ok((
                crate::stored("account id", AccountId::parse(&account))?,
                page_from_row(&r)?,
            ))
        })
        .transpose()
    }
    async fn create_oauth_state(&self, new: NewOAuthState) -> Result<()> {
        sqlx::query(
            "INSERT INTO oauth_states (state_hash, account_id, page_id, kind, shop, verifier, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(&new.hash)
        .bind(new.account_id.as_str())
        .bind(new.page_id.as_str())
        .bind(new.kind.as_str())
        .bind(&new.shop)
        .bind(&new.verifier)
        .bind(new.expires_at)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn take_oauth_state(&self, hash: &str, now: DateTime<Utc>) -> Result<Option<OAuthState>> {
        let r = sqlx::query(
            "UPDATE oauth_states SET used_at = $1 \
             WHERE state_hash = $2 AND used_at IS NULL AND expires_at > $1 \
             RETURNING account_id, page_id, kind, shop, verifier",
        )
        .bind(now)
        .bind(hash)
        .fetch_optional(&self.pool)
        .await?;
        r.map(|r| {
            state_from_row(
                r.try_get("account_id")?,
                r.try_get("page_id")?,
                r.try_get("kind")?,
                r.try_get("shop")?,
                r.try_get("verifier")?,
            )
        })
        .transpose()
    }

    async fn find_oauth_state(&self, hash: &str) -> Result<Option<OAuthState>> {
        let r = sqlx::query(
            "SELECT account_id, page_id, kind, shop, verifier FROM oauth_states WHERE state_hash = $1",
        )
        .bind(hash)
        .fetch_optional(&self.pool)
        .await?;
        r.map(|r| {
            state_from_row(
                r.try_get("account_id")?,
                r.try_get("page_id")?,
                r.try_get("kind")?,
                r.try_get("shop")?,
                r.try_get("verifier")?,
            )
        })
        .transpose()
    }
}
