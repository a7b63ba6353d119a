//! Users, their single-use links and their sessions.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::Row;
use sqlx::postgres::PgRow;
use switchyard_domain::ids::{AccountId, UserId};
use switchyard_domain::user::Role;

use super::{PgStorage, now, require_store, stored, time};
use crate::users::{USER_COLUMNS, stores_from_text, stores_text};
use crate::{NewSession, NewUser, NewUserLink, Result, SessionRecord, StorageError, User, Users};

fn user_from_row(r: &PgRow) -> Result<User> {
    Ok(User {
        id: stored("user id", UserId::parse(r.try_get("id")?))?,
        account_id: stored("account id", AccountId::parse(r.try_get("account_id")?))?,
        email: r.try_get("email")?,
        role: stored("user role", Role::parse(r.try_get("role")?))?,
        stores: stores_from_text(r.try_get("stores")?)?,
        active: r.try_get("active")?,
        created_at: time(r.try_get("created_at")?)?,
    })
}

#[async_trait]
impl Users for PgStorage {
    #[tracing::instrument(skip_all, fields(account = %new.account_id))]
    async fn create_user(&self, new: NewUser) -> Result<User> {
        let mut tx = self.pool.begin().await?;
        for store in new.stores.iter().flatten() {
            require_store(&mut tx, &new.account_id, store).await?;
        }
        let r = sqlx::query(&format!(
            "WITH u AS (INSERT INTO users (id, account_id, email, role, stores, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (email) DO NOTHING RETURNING *) \
             SELECT {USER_COLUMNS} FROM u"
        ))
        .bind(UserId::generate().as_str())
        .bind(new.account_id.as_str())
        .bind(&new.email)
        .bind(new.role.as_str())
        .bind(stores_text(new.stores.as_ref()))
        .bind(now())
        .fetch_optional(&mut *tx)
        .await?
        .ok_or_else(|| {
            StorageError::conflict(
                "email_taken",
                format!("a user with the email {} exists", new.email),
                Some("email".into()),
            )
        })?;
        let user = user_from_row(&r)?;
        tx.commit().await?;
        Ok(user)
    }

    async fn find_user_by_email(&self, email: &str) -> Result<Option<(User, Option<String>)>> {
        let r = sqlx::query(&format!(
            "SELECT {USER_COLUMNS}, u.password_hash FROM users u WHERE u.email = $1"
        ))
        .bind(email)
        .fetch_optional(&self.pool)
        .await?;
        r.map(|r| Ok((user_from_row(&r)?, r.try_get("password_hash")?)))
            .transpose()
    }

    async fn get_user(&self, account: &AccountId, id: &UserId) -> Result<User> {
        let r = sqlx::query(&format!(
            "SELECT {USER_COLUMNS} FROM users u WHERE u.id = $1 AND u.account_id = $2"
        ))
        .bind(id.as_str())
        .bind(account.as_str())
        .fetch_optional(&self.pool)
        .await?
        .ok_or(StorageError::NotFound { entity: "user" })?;
        user_from_row(&r)
    }

    async fn list_users(&self, account: &AccountId) -> Result<Vec<User>> {
        let rows = sqlx::query(&format!(
            "SELECT {USER_COLUMNS} FROM users u WHERE u.account_id = $1 ORDER BY u.id"
        ))
        .bind(account.as_str())
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(user_from_row).collect()
    }

    async fn create_user_link(&self, link: NewUserLink) -> Result<()> {
        let done = sqlx::query(
            "INSERT INTO user_links (token_hash, user_id, purpose, created_at, expires_at) \
             SELECT $1, id, $2, $3, $4 FROM users WHERE id = $5 AND account_id = $6",
        )
        .bind(&link.hash)
        .bind(link.purpose.as_str())
        .bind(now())
        .bind(link.expires_at)
        .bind(link.user_id.as_str())
        .bind(link.account_id.as_str())
        .execute(&self.pool)
        .await?;
        if done.rows_affected() == 0 {
            return Err(StorageError::NotFound { entity: "user" });
        }
        Ok(())
    }

    #[tracing::instrument(skip_all)]
    async fn redeem_user_link(
        &self,
        hash: &str,
        password_hash: &str,
        now: DateTime<Utc>,
    ) -> Result<User> {
        // One statement: the link's row lock makes a second use wait and
        // then find it used.
        let r = sqlx::query(&format!(
            "WITH l AS (UPDATE user_links SET used_at = $1 \
                 WHERE token_hash = $2 AND used_at IS NULL AND expires_at > $1 RETURNING user_id), \
             s AS (UPDATE user_sessions SET ended_at = $1 \
                 WHERE user_id IN (SELECT user_id FROM l) AND ended_at IS NULL), \
             u AS (UPDATE users SET password_hash = $3 WHERE id IN (SELECT user_id FROM l) RETURNING *) \
             SELECT {USER_COLUMNS} FROM u"
        ))
        .bind(now)
        .bind(hash)
        .bind(password_hash)
        .fetch_optional(&self.pool)
        .await?
        .ok_or(StorageError::NotFound { entity: "link" })?;
        user_from_row(&r)
    }

    async fn change_password(
        &self,
        account: &AccountId,
        user: &UserId,
        password_hash: &str,
        keep: &str,
        now: DateTime<Utc>,
    ) -> Result<()> {
        let changed: Option<String> = sqlx::query_scalar(
            "WITH u AS (UPDATE users SET password_hash = $1 \
                 WHERE id = $2 AND account_id = $3 RETURNING id), \
             s AS (UPDATE user_sessions SET ended_at = $4 \
                 WHERE user_id IN (SELECT id FROM u) AND ended_at IS NULL AND token_hash <> $5) \
             SELECT id FROM u",
        )
        .bind(password_hash)
        .bind(user.as_str())
        .bind(account.as_str())
        .bind(now)
        .bind(keep)
        .fetch_optional(&self.pool)
        .await?;
        changed
            .map(drop)
            .ok_or(StorageError::NotFound { entity: "user" })
    }

    async fn create_session(&self, new: NewSession) -> Result<()> {
        sqlx::query(
            "INSERT INTO user_sessions (token_hash, user_id, address, created_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(&new.hash)
        .bind(new.user_id.as_str())
        .bind(&new.address)
        .bind(now())
        .bind(new.expires_at)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn find_session(&self, hash: &str, now: DateTime<Utc>) -> Result<Option<SessionRecord>> {
        let r = sqlx::query(&format!(
            "SELECT {USER_COLUMNS}, s.created_at AS session_at, s.expires_at AS session_ends \
             FROM user_sessions s JOIN users u ON u.id = s.user_id \
             WHERE s.token_hash = $1 AND s.ended_at IS NULL AND s.expires_at > $2"
        ))
        .bind(hash)
        .bind(now)
        .fetch_optional(&self.pool)
        .await?;
        r.map(|r| {
            Ok(SessionRecord {
                user: user_from_row(&r)?,
                created_at: time(r.try_get("session_at")?)?,
                expires_at: time(r.try_get("session_ends")?)?,
            })
        })
        .transpose()
    }

    async fn end_session(&self, hash: &str, now: DateTime<Utc>) -> Result<()> {
        sqlx::query(
            "UPDATE user_sessions SET ended_at = $1 WHERE token_hash = $2 AND ended_at IS NULL",
        )
        .bind(now)
        .bind(hash)
        .execute(&self.pool)
        .await?;
        Ok(())
    }
}
