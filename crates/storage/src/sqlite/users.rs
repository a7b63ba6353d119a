//! Users, their single-use links and their sessions.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::Row;
use sqlx::sqlite::SqliteRow;
use switchyard_domain::ids::{AccountId, UserId};
use switchyard_domain::user::Role;

use super::{SqliteStorage, now_text, parse_ts, require_store, stored, ts};
use crate::users::{USER_COLUMNS, stores_from_text, stores_text};
use crate::{NewSession, NewUser, NewUserLink, Result, SessionRecord, StorageError, User, Users};

fn user_from_row(r: &SqliteRow) -> Result<User> {
    Ok(User {
        id: stored("user id", UserId::parse(r.try_get("id")?))?,
        account_id: stored("account id", AccountId::parse(r.try_get("account_id")?))?,
        email: r.try_get("email")?,
        role: stored("user role", Role::parse(r.try_get("role")?))?,
        stores: stores_from_text(r.try_get("stores")?)?,
        active: r.try_get("active")?,
        created_at: parse_ts(r.try_get("created_at")?)?,
    })
}

#[async_trait]
impl Users for SqliteStorage {
    #[tracing::instrument(skip_all, fields(account = %new.account_id))]
    async fn create_user(&self, new: NewUser) -> Result<User> {
        let mut tx = self.write.begin().await?;
        for store in new.stores.iter().flatten() {
            require_store(&mut tx, &new.account_id, store).await?;
        }
        let id = UserId::generate();
        let inserted = sqlx::query(
            "INSERT INTO users (id, account_id, email, role, stores, created_at) VALUES (?, ?, ?, ?, ?, ?) \
             ON CONFLICT (email) DO NOTHING",
        )
        .bind(id.as_str())
        .bind(new.account_id.as_str())
        .bind(&new.email)
        .bind(new.role.as_str())
        .bind(stores_text(new.stores.as_ref()))
        .bind(now_text())
        .execute(&mut *tx)
        .await?;
        if inserted.rows_affected() == 0 {
            return Err(StorageError::conflict(
                "email_taken",
                format!("a user with the email {} exists", new.email),
                Some("email".into()),
            ));
        }
        let r = sqlx::query(&format!(
            "SELECT {USER_COLUMNS} FROM users u WHERE u.id = ?"
        ))
        .bind(id.as_str())
        .fetch_one(&mut *tx)
        .await?;
        let user = user_from_row(&r)?;
        tx.commit().await?;
        Ok(user)
    }

    async fn find_user_by_email(&self, email: &str) -> Result<Option<(User, Option<String>)>> {
        let r = sqlx::query(&format!(
            "SELECT {USER_COLUMNS}, u.password_hash FROM users u WHERE u.email = ?"
        ))
        .bind(email)
        .fetch_optional(&self.read)
        .await?;
        r.map(|r| Ok((user_from_row(&r)?, r.try_get("password_hash")?)))
            .transpose()
    }

    async fn get_user(&self, account: &AccountId, id: &UserId) -> Result<User> {
        let r = sqlx::query(&format!(
            "SELECT {USER_COLUMNS} FROM users u WHERE u.id = ? AND u.account_id = ?"
        ))
        .bind(id.as_str())
        .bind(account.as_str())
        .fetch_optional(&self.read)
        .await?
        .ok_or(StorageError::NotFound { entity: "user" })?;
        user_from_row(&r)
    }

    async fn list_users(&self, account: &AccountId) -> Result<Vec<User>> {
        let rows = sqlx::query(&format!(
            "SELECT {USER_COLUMNS} FROM users u WHERE u.account_id = ? ORDER BY u.id"
        ))
        .bind(account.as_str())
        .fetch_all(&self.read)
        .await?;
        rows.iter().map(user_from_row).collect()
    }

    async fn create_user_link(&self, link: NewUserLink) -> Result<()> {
        let done = sqlx::query(
            "INSERT INTO user_links (token_hash, user_id, purpose, created_at, expires_at) \
             SELECT ?, id, ?, ?, ? FROM users WHERE id = ? AND account_id = ?",
        )
        .bind(&link.hash)
        .bind(link.purpose.as_str())
        .bind(now_text())
        .bind(ts(link.expires_at))
        .bind(link.user_id.as_str())
        .bind(link.account_id.as_str())
        .execute(&self.write)
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
        let mut tx = self.write.begin().await?;
        let now = ts(now);
        let user: Option<String> = sqlx::query_scalar(
            "UPDATE user_links SET used_at = ?1 \
             WHERE token_hash = ?2 AND used_at IS NULL AND expires_at > ?1 RETURNING user_id",
        )
        .bind(&now)
        .bind(hash)
        .fetch_optional(&mut *tx)
        .await?;
        let user = user.ok_or(StorageError::NotFound { entity: "link" })?;
        sqlx::query("UPDATE users SET password_hash = ? WHERE id = ?")
            .bind(password_hash)
            .bind(&user)
            .execute(&mut *tx)
            .await?;
        sqlx::query("UPDATE user_sessions SET ended_at = ? WHERE user_id = ? AND ended_at IS NULL")
            .bind(&now)
            .bind(&user)
            .execute(&mut *tx)
            .await?;
        let r = sqlx::query(&format!(
            "SELECT {USER_COLUMNS} FROM users u WHERE u.id = ?"
        ))
        .bind(&user)
        .fetch_one(&mut *tx)
        .await?;
        let user = user_from_row(&r)?;
        tx.commit().await?;
        Ok(user)
    }

    async fn change_password(
        &self,
        account: &AccountId,
        user: &UserId,
        password_hash: &str,
        keep: &str,
        now: DateTime<Utc>,
    ) -> Result<()> {
        let mut tx = self.write.begin().await?;
        let changed =
            sqlx::query("UPDATE users SET password_hash = ? WHERE id = ? AND account_id = ?")
                .bind(password_hash)
                .bind(user.as_str())
                .bind(account.as_str())
                .execute(&mut *tx)
                .await?
                .rows_affected();
        if changed == 0 {
            return Err(StorageError::NotFound { entity: "user" });
        }
        sqlx::query(
            "UPDATE user_sessions SET ended_at = ? \
             WHERE user_id = ? AND ended_at IS NULL AND token_hash <> ?",
        )
        .bind(ts(now))
        .bind(user.as_str())
        .bind(keep)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn create_session(&self, new: NewSession) -> Result<()> {
        sqlx::query(
            "INSERT INTO user_sessions (token_hash, user_id, address, created_at, expires_at) \
             VALUES (?, ?, ?, ?, ?)",
        )
        .bind(&new.hash)
        .bind(new.user_id.as_str())
        .bind(&new.address)
        .bind(now_text())
        .bind(ts(new.expires_at))
        .execute(&self.write)
        .await?;
        Ok(())
    }

    async fn find_session(&self, hash: &str, now: DateTime<Utc>) -> Result<Option<SessionRecord>> {
        let r = sqlx::query(&format!(
            "SELECT {USER_COLUMNS}, s.created_at AS session_at, s.expires_at AS session_ends \
             FROM user_sessions s JOIN users u ON u.id = s.user_id \
             WHERE s.token_hash = ? AND s.ended_at IS NULL AND s.expires_at > ?"
        ))
        .bind(hash)
        .bind(ts(now))
        .fetch_optional(&self.read)
        .await?;
        r.map(|r| {
            Ok(SessionRecord {
                user: user_from_row(&r)?,
                created_at: parse_ts(r.try_get("session_at")?)?,
                expires_at: parse_ts(r.try_get("session_ends")?)?,
            })
        })
        .transpose()
    }

    async fn end_session(&self, hash: &str, now: DateTime<Utc>) -> Result<()> {
        sqlx::query(
            "UPDATE user_sessions SET ended_at = ? WHERE token_hash = ? AND ended_at IS NULL",
        )
        .bind(ts(now))
        .bind(hash)
        .execute(&self.write)
        .await?;
        Ok(())
    }
}
