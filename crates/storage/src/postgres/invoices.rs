//! Invoices and credit notes.

use crate::journal::{EventPayload, NewEvent, StoreEvent};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::postgres::PgRow;
use sqlx::{PgConnection, Row};
use switchyard_domain::ids::{AccountId, InvoiceId, OrderId, StoreId};
use switchyard_domain::invoice::{AutoInvoice, DocumentKind, InvoiceSettings};

use super::orders::fetch_order;
use super::{PgStorage, append_event, fetch_limit, paginate, pg};
use crate::invoices::{
    INVOICE_COLUMNS, credit_changed, invoice_exists, invoice_from_parts, issued_event,
};
use crate::{
    Invoice, InvoiceConfig, InvoiceConfigChange, InvoiceFilter, Invoices, InvoicingWork,
    NewDocument, Page, PageRequest, Result, StorageError,
};

pub(super) fn invoice_from_row(r: &PgRow) -> Result<Invoice> {
    let doc: serde_json::Value = r.try_get("document")?;
    invoice_from_parts(
        r.try_get("id")?,
        r.try_get::<String, _>("kind")?.as_str(),
        r.try_get("number")?,
        r.try_get("store_id")?,
        r.try_get("order_id")?,
        r.try_get("credits_id")?,
        r.try_get::<bool, _>("credited_in_full")?,
        r.try_get::<String, _>("source")?.as_str(),
        serde_json::from_value(doc).map_err(|e| StorageError::corrupt("invoice document", e))?,
        r.try_get("issued_at")?,
    )
}

/// The store's settings row, made with the defaults when there is none.
async fn config(
    conn: &mut PgConnection,
    account: &AccountId,
    store: &StoreId,
) -> Result<InvoiceConfig> {
    super::require_store(conn, account, store).await?;
    sqlx::query(&pg("INSERT INTO invoice_settings (store_id, account_id, settings, updated_at) VALUES (?, ?, ?, ?) \
         ON CONFLICT (store_id) DO NOTHING"))
    .bind(store.as_str())
    .bind(account.as_str())
    .bind(serde_json::to_value(InvoiceSettings::defaults()).unwrap_or_default())
    .bind(Utc::now())
    .execute(&mut *conn)
    .await?;
    let r = sqlx::query(&pg("SELECT settings, auto_since, next_invoice, next_credit_note FROM invoice_settings WHERE store_id = ?"))
    .bind(store.as_str())
    .fetch_one(&mut *conn)
    .await?;
    let settings: serde_json::Value = r.try_get("settings")?;
    Ok(InvoiceConfig {
        settings: serde_json::from_value(settings)
            .map_err(|e| StorageError::corrupt("invoice settings", e))?,
        next_invoice_number: r.try_get("next_invoice")?,
        next_credit_note_number: r.try_get("next_credit_note")?,
        auto_since: r.try_get("auto_since")?,
    })
}

async fn fetch(conn: &mut PgConnection, account: &AccountId, id: &InvoiceId) -> Result<Invoice> {
    let r = sqlx::query(&pg(&format!(
        "SELECT {INVOICE_COLUMNS} FROM invoices WHERE id = ? AND account_id = ?"
    )))
    .bind(id.as_str())
    .bind(account.as_str())
    .fetch_optional(&mut *conn)
    .await?
    .ok_or(StorageError::NotFound { entity: "invoice" })?;
    invoice_from_row(&r)
}

async fn credit_notes(conn: &mut PgConnection, invoice: &str) -> Result<Vec<Invoice>> {
    sqlx::query(&pg(&format!(
        "SELECT {INVOICE_COLUMNS} FROM invoices WHERE credits_id = ? ORDER BY id"
    )))
    .bind(invoice)
    .fetch_all(&mut *conn)
    .await?
    .iter()
    .map(invoice_from_row)
    .collect()
}

/// The highest sequence issued under `prefix` for `kind` in the store.
async fn highest_seq(
    conn: &mut PgConnection,
    store: &StoreId,
    kind: DocumentKind,
    prefix: &str,
) -> Result<i64> {
    Ok(sqlx::query_scalar::<_, Option<i64>>(&pg(
        "SELECT MAX(seq) FROM invoices WHERE store_id = ? AND kind = ? AND prefix = ?",
    ))
    .bind(store.as_str())
    .bind(kind.as_str())
    .bind(prefix)
    .fetch_one(&mut *conn)
    .await?
    .unwrap_or(0))
}

#[async_trait]
impl Invoices for PgStorage {
    async fn invoice_config(&self, account: &AccountId, store: &StoreId) -> Result<InvoiceConfig> {
        let mut tx = self.pool.begin().await?;
        let c = config(&mut tx, account, store).await?;
        tx.commit().await?;
        Ok(c)
    }

    async fn set_invoice_config(
        &self,
        account: &AccountId,
        store: &StoreId,
        change: InvoiceConfigChange,
        now: DateTime<Utc>,
    ) -> Result<InvoiceConfig> {
        let mut tx = self.pool.begin().await?;
        let old = config(&mut tx, account, store).await?;
        let s = &change.settings;
        let mut next = [old.next_invoice_number, old.next_credit_note_number];
        for (i, (kind, asked, field)) in [
            (
                DocumentKind::Invoice,
                change.next_invoice_number,
                "next_invoice_number",
            ),
            (
                DocumentKind::CreditNote,
                change.next_credit_note_number,
                "next_credit_note_number",
            ),
        ]
        .into_iter()
        .enumerate()
        {
            let highest = highest_seq(&mut tx, store, kind, s.prefix_of(kind)).await?;
            let want = asked.unwrap_or(next[i]);
            if want <= highest {
                return Err(StorageError::conflict(
                    "number_used",
                    format!(
                        "{} is issued already; the next number under prefix `{}` is at least {}",
                        s.number(kind, highest),
                        s.prefix_of(kind),
                        highest + 1
                    ),
                    Some(field.to_owned()),
                ));
            }
            next[i] = want;
        }
        let auto_since = match (old.settings.auto, s.auto) {
            (_, AutoInvoice::Off) => None,
            (AutoInvoice::Off, _) => Some(now),
            _ => old.auto_since,
        };
        sqlx::query(&pg(
            "UPDATE invoice_settings SET settings = ?, auto = ?, auto_since = ?, next_invoice = ?, \
             next_credit_note = ?, updated_at = ? WHERE store_id = ?",
        ))
        .bind(serde_json::to_value(s).unwrap_or_default())
        .bind(s.auto.as_str())
        .bind(auto_since)
        .bind(next[0])
        .bind(next[1])
        .bind(now)
        .bind(store.as_str())
        .execute(&mut *tx)
        .await?;
        let c = config(&mut tx, account, store).await?;
        let ev = NewEvent::new(
            store,
            "store.invoice_settings_changed",
            EventPayload::Store(StoreEvent {
                invoice_settings: Some(c.clone()),
                ..StoreEvent::of(store)
            }),
        );
        append_event(&mut tx, account, store, &ev).await?;
        tx.commit().await?;
        Ok(c)
    }

    async fn issue_document(&self, account: &AccountId, new: NewDocument) -> Result<Invoice> {
        let mut tx = self.pool.begin().await?;
        let order = fetch_order(&mut tx, account, &new.order_id, false).await?;
        let store = order.store_id.clone();
        let cfg = config(&mut tx, account, &store).await?;
        // The counter's row is taken first: issues in one store queue here,
        // and each check below sees what the one before committed.
        let column = match new.kind {
            DocumentKind::Invoice => "next_invoice",
            DocumentKind::CreditNote => "next_credit_note",
        };
        let seq: i64 = sqlx::query_scalar(&pg(&format!(
            "UPDATE invoice_settings SET {column} = {column} + 1 WHERE store_id = ? RETURNING {column} - 1"
        )))
        .bind(store.as_str())
        .fetch_one(&mut *tx)
        .await?;
        match (&new.kind, &new.credits) {
            (DocumentKind::Invoice, _) => {
                let open: Option<String> = sqlx::query_scalar(&pg("SELECT number FROM invoices WHERE order_id = ? AND kind = 'invoice' AND NOT credited_in_full"))
                .bind(new.order_id.as_str())
                .fetch_optional(&mut *tx)
                .await?;
                if let Some(n) = open {
                    return Err(invoice_exists(&n));
                }
            }
            (DocumentKind::CreditNote, Some((inv, seen))) => {
                let r = sqlx::query(&pg("SELECT credited_in_full, (SELECT COUNT(*) FROM invoices c WHERE c.credits_id = i.id) AS notes \
                     FROM invoices i WHERE i.id = ? AND i.order_id = ? AND i.kind = 'invoice'"))
                .bind(inv.as_str())
                .bind(new.order_id.as_str())
                .fetch_optional(&mut *tx)
                .await?
                .ok_or(StorageError::NotFound { entity: "invoice" })?;
                let notes: i64 = r.try_get("notes")?;
                if r.try_get::<bool, _>("credited_in_full")?
                    || usize::try_from(notes).ok() != Some(*seen)
                {
                    return Err(credit_changed());
                }
            }
            (DocumentKind::CreditNote, None) => {
                return Err(StorageError::Invalid(switchyard_domain::DomainError::rule(
                    "invalid_credit_note",
                    "a credit note names the invoice it credits",
                )));
            }
        }
        let prefix = cfg.settings.prefix_of(new.kind).to_owned();
        let number = cfg.settings.number(new.kind, seq);
        let d = &new.document;
        let inserted = sqlx::query(&pg("INSERT INTO invoices (id, account_id, store_id, order_id, kind, prefix, seq, number, credits_id, \
             currency, net, tax, gross, source, document, issued_at) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"))
        .bind(new.id.as_str())
        .bind(account.as_str())
        .bind(store.as_str())
        .bind(new.order_id.as_str())
        .bind(new.kind.as_str())
        .bind(&prefix)
        .bind(seq)
        .bind(&number)
        .bind(new.credits.as_ref().map(|(i, _)| i.as_str()))
        .bind(&d.currency)
        .bind(d.net)
        .bind(d.tax)
        .bind(d.gross)
        .bind(new.source.as_str())
        .bind(serde_json::to_value(d).unwrap_or_default())
        .bind(new.issued_at)
        .execute(&mut *tx)
        .await;
        if let Err(sqlx::Error::Database(e)) = &inserted
            && e.is_unique_violation()
        {
            if e.constraint() == Some("invoices_one_per_order") {
                return Err(invoice_exists("in force"));
            }
            return Err(StorageError::conflict(
                "number_used",
                format!("{number} is issued already; set the next number past it"),
                None,
            ));
        }
        inserted?;
        if let (true, Some((inv, _))) = (new.completes, &new.credits) {
            sqlx::query(&pg(
                "UPDATE invoices SET credited_in_full = true WHERE id = ?",
            ))
            .bind(inv.as_str())
            .execute(&mut *tx)
            .await?;
        }
        super::accounting::queue_syncs(&mut tx, &store, &new.id, new.issued_at).await?;
        let inv = fetch(&mut tx, account, &new.id).await?;
        let ev = issued_event(&inv);
        append_event(&mut tx, account, &store, &ev).await?;
        tx.commit().await?;
        Ok(inv)
    }

    async fn get_invoice(&self, account: &AccountId, id: &InvoiceId) -> Result<Invoice> {
        let mut conn = self.pool.acquire().await?;
        fetch(&mut conn, account, id).await
    }

    async fn list_invoices(
        &self,
        account: &AccountId,
        store: &StoreId,
        filter: &InvoiceFilter,
        page: &PageRequest,
    ) -> Result<Page<Invoice>> {
        let mut conn = self.pool.acquire().await?;
        super::require_store(&mut conn, account, store).await?;
        let mut q: sqlx::QueryBuilder<sqlx::Postgres> = sqlx::QueryBuilder::new(format!(
            "SELECT {INVOICE_COLUMNS} FROM invoices WHERE store_id = "
        ));
        q.push_bind(store.as_str());
        if let Some(after) = &page.after {
            q.push(" AND id < ").push_bind(after.as_str());
        }
        if let Some(k) = filter.kind {
            q.push(" AND kind = ").push_bind(k.as_str());
        }
        if let Some(o) = &filter.order_id {
            q.push(" AND order_id = ").push_bind(o.as_str());
        }
        if let Some(t) = filter.issued_from {
            q.push(" AND issued_at >= ").push_bind(t);
        }
        if let Some(t) = filter.issued_before {
            q.push(" AND issued_at < ").push_bind(t);
        }
        if let Some(n) = &filter.number {
            q.push(" AND strpos(number, ")
                .push_bind(n.as_str())
                .push(") > 0");
        }
        q.push(" ORDER BY id DESC LIMIT ")
            .push_bind(fetch_limit(page));
        let items = q
            .build()
            .fetch_all(&mut *conn)
            .await?
            .iter()
            .map(invoice_from_row)
            .collect::<Result<Vec<_>>>()?;
        Ok(paginate(items, page, |i| i.id.to_string()))
    }

    async fn credit_notes_of(
        &self,
        account: &AccountId,
        invoice: &InvoiceId,
    ) -> Result<Vec<Invoice>> {
        let mut conn = self.pool.acquire().await?;
        fetch(&mut conn, account, invoice).await?;
        credit_notes(&mut conn, invoice.as_str()).await
    }

    async fn invoicing_work(
        &self,
        due: &[(AutoInvoice, Vec<&'static str>)],
        limit: u32,
    ) -> Result<InvoicingWork> {
        let mut conn = self.pool.acquire().await?;
        let mut work = InvoicingWork::default();
        let mut q: sqlx::QueryBuilder<sqlx::Postgres> = sqlx::QueryBuilder::new(
            "SELECT o.account_id, o.id, s.settings FROM orders o JOIN invoice_settings s ON s.store_id = o.store_id \
             WHERE s.auto_since IS NOT NULL AND o.created_at >= s.auto_since AND o.unified IS NOT NULL \
             AND NOT EXISTS (SELECT 1 FROM invoices i WHERE i.order_id = o.id AND i.kind = 'invoice') AND (false",
        );
        for (mode, states) in due {
            q.push(" OR (s.auto = ").push_bind(mode.as_str());
            q.push(" AND o.state IN (");
            let mut sep = q.separated(", ");
            for s in states {
                sep.push_bind(*s);
            }
            sep.push_unseparated("))");
        }
        q.push(") ORDER BY o.id LIMIT ").push_bind(i64::from(limit));
        let rows = q.build().fetch_all(&mut *conn).await?;
        for r in rows {
            let account = crate::stored(
                "account id",
                AccountId::parse(&r.try_get::<String, _>("account_id")?),
            )?;
            let id = crate::stored("order id", OrderId::parse(&r.try_get::<String, _>("id")?))?;
            let settings: serde_json::Value = r.try_get("settings")?;
            let settings: InvoiceSettings = serde_json::from_value(settings)
                .map_err(|e| StorageError::corrupt("invoice settings", e))?;
            let order = fetch_order(&mut conn, &account, &id, false).await?;
            work.invoice.push((account, order, settings));
        }
        let rows = sqlx::query(&pg(&format!(
            "SELECT i.account_id AS acc, o.state AS order_state, o.payment_status AS paid, {} \
             FROM invoices i JOIN orders o ON o.id = i.order_id \
             WHERE i.kind = 'invoice' AND NOT i.credited_in_full \
             AND (o.state = 'cancelled' OR o.payment_status = 'refunded') ORDER BY i.id LIMIT ?",
            INVOICE_COLUMNS
                .split(", ")
                .map(|c| format!("i.{c}"))
                .collect::<Vec<_>>()
                .join(", ")
        )))
        .bind(i64::from(limit))
        .fetch_all(&mut *conn)
        .await?;
        for r in rows {
            let account = crate::stored(
                "account id",
                AccountId::parse(&r.try_get::<String, _>("acc")?),
            )?;
            let inv = invoice_from_row(&r)?;
            let notes = credit_notes(&mut conn, inv.id.as_str()).await?;
            let state: String = r.try_get("order_state")?;
            let why = if state == "cancelled" {
                "cancelled".to_owned()
            } else {
                r.try_get::<Option<String>, _>("paid")?.unwrap_or_default()
            };
            work.credit.push((account, inv, notes, why));
        }
        Ok(work)
    }
}
