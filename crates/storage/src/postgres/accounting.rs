//! Accounting connections and document syncs.

use crate::journal::{EventPayload, NewEvent};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::postgres::PgRow;
use sqlx::{PgConnection, Row};
use switchyard_domain::accounting::{AccountingKind, SyncState};
use switchyard_domain::ids::{AccountId, AccountingId, InvoiceId, StoreId};

use super::{PgStorage, append_event, fetch_limit, paginate, pg, require_store};
use crate::accounting::{ACCOUNTING_COLUMNS, SYNC_COLUMNS};
use crate::invoices::INVOICE_COLUMNS;
use crate::{
    Accounting, AccountingConnection, AccountingPatch, AccountingRef, DocumentSync, DueSync,
    NewAccounting, Page, PageRequest, Result, StorageError, SyncOutcome, stored,
};

fn connection_from_row(r: &PgRow) -> Result<AccountingConnection> {
    let settings: serde_json::Value = r.try_get("settings")?;
    Ok(AccountingConnection {
        id: stored(
            "accounting id",
            AccountingId::parse(&r.try_get::<String, _>("id")?),
        )?,
        store_id: stored(
            "store id",
            StoreId::parse(&r.try_get::<String, _>("store_id")?),
        )?,
        kind: stored(
            "accounting kind",
            AccountingKind::parse(&r.try_get::<String, _>("kind")?),
        )?,
        name: r.try_get("name")?,
        base_url: r.try_get("base_url")?,
        settings: serde_json::from_value(settings)
            .map_err(|e| StorageError::corrupt("accounting settings", e))?,
        tenant: r.try_get("tenant")?,
        last_error: r.try_get("last_error")?,
        created_at: r.try_get("created_at")?,
        updated_at: r.try_get("updated_at")?,
    })
}

fn sync_from_row(r: &PgRow) -> Result<DocumentSync> {
    Ok(DocumentSync {
        invoice_id: stored(
            "invoice id",
            InvoiceId::parse(&r.try_get::<String, _>("invoice_id")?),
        )?,
        connection_id: stored(
            "accounting id",
            AccountingId::parse(&r.try_get::<String, _>("connection_id")?),
        )?,
        kind: stored(
            "accounting kind",
            AccountingKind::parse(&r.try_get::<String, _>("kind")?),
        )?,
        state: stored(
            "sync state",
            SyncState::parse(&r.try_get::<String, _>("state")?),
        )?,
        remote_id: r.try_get("remote_id")?,
        remote_number: r.try_get("remote_number")?,
        attempts: r.try_get("attempts")?,
        last_error: r.try_get("last_error")?,
        next_at: r.try_get("next_at")?,
        synced_at: r.try_get("synced_at")?,
        created_at: r.try_get("created_at")?,
        updated_at: r.try_get("updated_at")?,
    })
}

async fn fetch(
    conn: &mut PgConnection,
    account: &AccountId,
    id: &AccountingId,
) -> Result<AccountingConnection> {
    let r = sqlx::query(&pg(&format!(
        "SELECT {ACCOUNTING_COLUMNS} FROM accounting_connections WHERE id = ? AND account_id = ?"
    )))
    .bind(id.as_str())
    .bind(account.as_str())
    .fetch_optional(&mut *conn)
    .await?
    .ok_or(StorageError::NotFound {
        entity: "accounting connection",
    })?;
    connection_from_row(&r)
}

async fn fetch_sync(
    conn: &mut PgConnection,
    invoice: &str,
    connection: &str,
) -> Result<DocumentSync> {
    let r = sqlx::query(&pg(&format!(
        "SELECT {SYNC_COLUMNS} FROM accounting_syncs s JOIN accounting_connections c ON c.id = s.connection_id \
         WHERE s.invoice_id = ? AND s.connection_id = ?"
    )))
    .bind(invoice)
    .bind(connection)
    .fetch_optional(&mut *conn)
    .await?
    .ok_or(StorageError::NotFound { entity: "sync" })?;
    sync_from_row(&r)
}

fn event(c: &AccountingConnection, event_type: &'static str) -> NewEvent {
    NewEvent::new(&c.id, event_type, EventPayload::Accounting(c.clone()))
}

/// Queue a just-issued document for every connection of its store (inside
/// the transaction that issues it).
pub(super) async fn queue_syncs(
    conn: &mut PgConnection,
    store: &StoreId,
    invoice: &InvoiceId,
    now: DateTime<Utc>,
) -> Result<()> {
    sqlx::query(&pg("INSERT INTO accounting_syncs (invoice_id, connection_id, account_id, store_id, state, attempts, next_at, created_at, updated_at) \
         SELECT ?, id, account_id, store_id, 'pending', 0, ?, ?, ? FROM accounting_connections WHERE store_id = ?"))
    .bind(invoice.as_str())
    .bind(now)
    .bind(now)
    .bind(now)
    .bind(store.as_str())
    .execute(&mut *conn)
    .await?;
    Ok(())
}

#[async_trait]
impl Accounting for PgStorage {
    async fn create_accounting(
        &self,
        account: &AccountId,
        store: &StoreId,
        new: NewAccounting,
    ) -> Result<AccountingConnection> {
        let mut tx = self.pool.begin().await?;
        require_store(&mut tx, account, store).await?;
        let now = Utc::now();
        let done = sqlx::query(&pg("INSERT INTO accounting_connections (id, account_id, store_id, kind, name, base_url, credentials, settings, created_at, updated_at) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"))
        .bind(new.id.as_str())
        .bind(account.as_str())
        .bind(store.as_str())
        .bind(new.kind.as_str())
        .bind(&new.name)
        .bind(&new.base_url)
        .bind(&new.credentials)
        .bind(serde_json::to_value(&new.settings).unwrap_or_default())
        .bind(now)
        .bind(now)
        .execute(&mut *tx)
        .await;
        if let Err(sqlx::Error::Database(e)) = &done
            && e.is_unique_violation()
        {
            return Err(StorageError::conflict(
                "accounting_exists",
                format!(
                    "the store is connected to {} already; change that connection instead",
                    new.kind.as_str()
                ),
                Some("kind".into()),
            ));
        }
        done?;
        let c = fetch(&mut tx, account, &new.id).await?;
        append_event(&mut tx, account, store, &event(&c, "accounting.connected")).await?;
        tx.commit().await?;
        Ok(c)
    }

    async fn list_accountings(
        &self,
        account: &AccountId,
        store: &StoreId,
    ) -> Result<Vec<AccountingConnection>> {
        let mut conn = self.pool.acquire().await?;
        require_store(&mut conn, account, store).await?;
        sqlx::query(&pg(&format!(
            "SELECT {ACCOUNTING_COLUMNS} FROM accounting_connections WHERE store_id = ? ORDER BY id"
        )))
        .bind(store.as_str())
        .fetch_all(&mut *conn)
        .await?
        .iter()
        .map(connection_from_row)
        .collect()
    }

    async fn get_accounting(
        &self,
        account: &AccountId,
        id: &AccountingId,
    ) -> Result<AccountingConnection> {
        let mut conn = self.pool.acquire().await?;
        fetch(&mut conn, account, id).await
    }

    async fn update_accounting(
        &self,
        account: &AccountId,
        id: &AccountingId,
        patch: AccountingPatch,
    ) -> Result<AccountingConnection> {
        let mut tx = self.pool.begin().await?;
        let old = fetch(&mut tx, account, id).await?;
        let now = Utc::now();
        if let Some(n) = &patch.name {
            sqlx::query(&pg(
                "UPDATE accounting_connections SET name = ? WHERE id = ?",
            ))
            .bind(n)
            .bind(id.as_str())
            .execute(&mut *tx)
            .await?;
        }
        if let Some(s) = &patch.settings {
            sqlx::query(&pg(
                "UPDATE accounting_connections SET settings = ? WHERE id = ?",
            ))
            .bind(serde_json::to_value(s).unwrap_or_default())
            .bind(id.as_str())
            .execute(&mut *tx)
            .await?;
        }
        if let Some(c) = &patch.credentials {
            sqlx::query(&pg("UPDATE accounting_connections SET credentials = ?, tenant = NULL, last_error = NULL WHERE id = ?"))
            .bind(c)
            .bind(id.as_str())
            .execute(&mut *tx)
            .await?;
            // Documents that failed for want of a connection are sent again.
            sqlx::query(&pg("UPDATE accounting_syncs SET next_at = ?, updated_at = ? WHERE connection_id = ? AND state <> 'synced' AND next_at IS NOT NULL"))
            .bind(now)
            .bind(now)
            .bind(id.as_str())
            .execute(&mut *tx)
            .await?;
        }
        sqlx::query(&pg(
            "UPDATE accounting_connections SET updated_at = ? WHERE id = ?",
        ))
        .bind(now)
        .bind(id.as_str())
        .execute(&mut *tx)
        .await?;
        let c = fetch(&mut tx, account, id).await?;
        append_event(
            &mut tx,
            account,
            &old.store_id,
            &event(&c, "accounting.updated"),
        )
        .await?;
        tx.commit().await?;
        Ok(c)
    }

    async fn delete_accounting(&self, account: &AccountId, id: &AccountingId) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        let c = fetch(&mut tx, account, id).await?;
        sqlx::query(&pg("DELETE FROM accounting_syncs WHERE connection_id = ?"))
            .bind(id.as_str())
            .execute(&mut *tx)
            .await?;
        sqlx::query(&pg("DELETE FROM accounting_connections WHERE id = ?"))
            .bind(id.as_str())
            .execute(&mut *tx)
            .await?;
        append_event(
            &mut tx,
            account,
            &c.store_id,
            &event(&c, "accounting.deleted"),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn accounting_credentials(&self, conn: &AccountingRef) -> Result<Vec<u8>> {
        let mut c = self.pool.acquire().await?;
        sqlx::query_scalar(&pg(
            "SELECT credentials FROM accounting_connections WHERE id = ? AND account_id = ?",
        ))
        .bind(conn.id.as_str())
        .bind(conn.account_id.as_str())
        .fetch_optional(&mut *c)
        .await?
        .ok_or(StorageError::NotFound {
            entity: "accounting connection",
        })
    }

    async fn store_accounting_credentials(
        &self,
        conn: &AccountingRef,
        sealed: Vec<u8>,
        tenant: Option<String>,
    ) -> Result<()> {
        sqlx::query(&pg("UPDATE accounting_connections SET credentials = ?, tenant = COALESCE(?, tenant) WHERE id = ? AND account_id = ?"))
        .bind(sealed)
        .bind(tenant)
        .bind(conn.id.as_str())
        .bind(conn.account_id.as_str())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn set_accounting_error(
        &self,
        conn: &AccountingRef,
        error: Option<String>,
    ) -> Result<()> {
        sqlx::query(&pg(
            "UPDATE accounting_connections SET last_error = ? WHERE id = ? AND account_id = ?",
        ))
        .bind(error)
        .bind(conn.id.as_str())
        .bind(conn.account_id.as_str())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn accountings_due(&self, now: DateTime<Utc>, limit: u32) -> Result<Vec<AccountingRef>> {
        let mut conn = self.pool.acquire().await?;
        let rows = sqlx::query(&pg(&format!(
            "SELECT {ACCOUNTING_COLUMNS}, account_id FROM accounting_connections c \
             WHERE EXISTS (SELECT 1 FROM accounting_syncs s WHERE s.connection_id = c.id AND s.next_at IS NOT NULL AND s.next_at <= ?) \
             ORDER BY c.id LIMIT ?"
        )))
        .bind(now)
        .bind(i64::from(limit))
        .fetch_all(&mut *conn)
        .await?;
        rows.iter()
            .map(|r| {
                let account = stored(
                    "account id",
                    AccountId::parse(&r.try_get::<String, _>("account_id")?),
                )?;
                Ok(AccountingRef::of(account, connection_from_row(r)?))
            })
            .collect()
    }

    async fn due_syncs(
        &self,
        conn: &AccountingRef,
        now: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<DueSync>> {
        let mut c = self.pool.acquire().await?;
        // A credit note waits for its invoice's sync on the same connection.
        let rows = sqlx::query(&pg(&format!(
            "SELECT {SYNC_COLUMNS}, i.credits_id, cs.remote_id AS credits_remote, ci.number AS credits_number \
             FROM accounting_syncs s JOIN accounting_connections c ON c.id = s.connection_id \
             JOIN invoices i ON i.id = s.invoice_id \
             LEFT JOIN invoices ci ON ci.id = i.credits_id \
             LEFT JOIN accounting_syncs cs ON cs.invoice_id = i.credits_id AND cs.connection_id = s.connection_id \
             WHERE s.connection_id = ? AND s.next_at IS NOT NULL AND s.next_at <= ? \
             AND (i.credits_id IS NULL OR cs.invoice_id IS NULL OR cs.state = 'synced') \
             ORDER BY s.next_at, s.invoice_id LIMIT ?"
        )))
        .bind(conn.id.as_str())
        .bind(now)
        .bind(i64::from(limit))
        .fetch_all(&mut *c)
        .await?;
        let mut out = Vec::new();
        for r in rows {
            let sync = sync_from_row(&r)?;
            let inv = sqlx::query(&pg(&format!(
                "SELECT {INVOICE_COLUMNS} FROM invoices WHERE id = ?"
            )))
            .bind(sync.invoice_id.as_str())
            .fetch_one(&mut *c)
            .await?;
            let credits = match (
                r.try_get::<Option<String>, _>("credits_remote")?,
                r.try_get::<Option<String>, _>("credits_number")?,
            ) {
                (Some(id), Some(n)) => Some((id, n)),
                _ => None,
            };
            out.push(DueSync {
                invoice: super::invoices::invoice_from_row(&inv)?,
                sync,
                credits,
            });
        }
        Ok(out)
    }

    async fn record_sync(
        &self,
        conn: &AccountingRef,
        invoice: &InvoiceId,
        outcome: SyncOutcome,
        now: DateTime<Utc>,
    ) -> Result<DocumentSync> {
        let mut tx = self.pool.begin().await?;
        let (state, next_at, error) = outcome.columns();
        let (remote_id, remote_number, synced_at) = match &outcome {
            SyncOutcome::Synced {
                remote_id,
                remote_number,
            } => (
                Some(remote_id.as_str()),
                remote_number.as_deref(),
                Some(now),
            ),
            SyncOutcome::Failed { .. } => (None, None, None),
        };
        sqlx::query(&pg("UPDATE accounting_syncs SET state = ?, next_at = ?, last_error = ?, attempts = attempts + 1, \
             remote_id = COALESCE(?, remote_id), remote_number = COALESCE(?, remote_number), \
             synced_at = COALESCE(?, synced_at), updated_at = ? WHERE invoice_id = ? AND connection_id = ?"))
        .bind(state.as_str())
        .bind(next_at)
        .bind(error)
        .bind(remote_id)
        .bind(remote_number)
        .bind(synced_at)
        .bind(now)
        .bind(invoice.as_str())
        .bind(conn.id.as_str())
        .execute(&mut *tx)
        .await?;
        let s = fetch_sync(&mut tx, invoice.as_str(), conn.id.as_str()).await?;
        tx.commit().await?;
        Ok(s)
    }

    async fn document_syncs(
        &self,
        account: &AccountId,
        invoice: &InvoiceId,
    ) -> Result<Vec<DocumentSync>> {
        let mut c = self.pool.acquire().await?;
        sqlx::query(&pg(&format!(
            "SELECT {SYNC_COLUMNS} FROM accounting_syncs s JOIN accounting_connections c ON c.id = s.connection_id \
             WHERE s.invoice_id = ? AND s.account_id = ? ORDER BY s.connection_id"
        )))
        .bind(invoice.as_str())
        .bind(account.as_str())
        .fetch_all(&mut *c)
        .await?
        .iter()
        .map(sync_from_row)
        .collect()
    }

    async fn retry_sync(
        &self,
        account: &AccountId,
        invoice: &InvoiceId,
        conn: &AccountingId,
        now: DateTime<Utc>,
    ) -> Result<DocumentSync> {
        let mut tx = self.pool.begin().await?;
        let s = sqlx::query(&pg("UPDATE accounting_syncs SET state = 'pending', next_at = ?, attempts = 0, updated_at = ? \
             WHERE invoice_id = ? AND connection_id = ? AND account_id = ? AND state <> 'synced'"))
        .bind(now)
        .bind(now)
        .bind(invoice.as_str())
        .bind(conn.as_str())
        .bind(account.as_str())
        .execute(&mut *tx)
        .await?;
        let sync = sqlx::query_scalar::<_, String>(&pg("SELECT state FROM accounting_syncs WHERE invoice_id = ? AND connection_id = ? AND account_id = ?"))
        .bind(invoice.as_str())
        .bind(conn.as_str())
        .bind(account.as_str())
        .fetch_optional(&mut *tx)
        .await?;
        match sync {
            None => return Err(StorageError::NotFound { entity: "sync" }),
            Some(state) if s.rows_affected() == 0 && state == "synced" => {
                return Err(StorageError::conflict(
                    "already_synced",
                    "the document is in the package already",
                    None,
                ));
            }
            Some(_) => {}
        }
        let out = fetch_sync(&mut tx, invoice.as_str(), conn.as_str()).await?;
        tx.commit().await?;
        Ok(out)
    }

    async fn list_syncs(
        &self,
        account: &AccountId,
        conn: &AccountingId,
        state: Option<SyncState>,
        page: &PageRequest,
    ) -> Result<Page<DocumentSync>> {
        let mut c = self.pool.acquire().await?;
        fetch(&mut c, account, conn).await?;
        let mut q: sqlx::QueryBuilder<sqlx::Postgres> = sqlx::QueryBuilder::new(format!(
            "SELECT {SYNC_COLUMNS} FROM accounting_syncs s JOIN accounting_connections c ON c.id = s.connection_id WHERE s.connection_id = "
        ));
        q.push_bind(conn.as_str());
        if let Some(st) = state {
            q.push(" AND s.state = ").push_bind(st.as_str());
        }
        if let Some(after) = &page.after {
            q.push(" AND s.invoice_id < ").push_bind(after.as_str());
        }
        q.push(" ORDER BY s.invoice_id DESC LIMIT ")
            .push_bind(fetch_limit(page));
        let items = q
            .build()
            .fetch_all(&mut *c)
            .await?
            .iter()
            .map(sync_from_row)
            .collect::<Result<Vec<_>>>()?;
        Ok(paginate(items, page, |s| s.invoice_id.to_string()))
    }
}
