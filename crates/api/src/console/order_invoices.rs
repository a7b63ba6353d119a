//! An order's invoices and credit notes on its page: each with its PDF,
//! total and bookings in the store's accounting packages; making an
//! invoice, crediting one in full, sending a document to a package again.

use axum::extract::{Path, State};
use axum::response::Response;
use maud::{Markup, html};
use switchyard_domain::accounting::SyncState;
use switchyard_domain::ids::{AccountId, AccountingId, InvoiceId};
use switchyard_domain::invoice::DocumentKind;
use switchyard_domain::order::OrderState;
use switchyard_storage::{
    DocumentSync, Invoice, InvoiceFilter, OrderRecord, PageRequest, StorageError,
};

use super::pages::{failed, not_found};
use super::{Fields, Session};
use crate::AppState;
use crate::error::ApiError;

fn action(order: &OrderRecord, name: &str) -> String {
    format!("/console/orders/{}/{name}", order.id)
}

/// The order page's "Invoices" section.
pub(super) fn section(
    order: &OrderRecord,
    documents: &[(Invoice, Vec<DocumentSync>)],
    csrf: &str,
) -> Markup {
    let in_force = documents
        .iter()
        .any(|(d, _)| d.kind == DocumentKind::Invoice && !d.credited_in_full);
    html! {
        h2 { "Invoices" }
        @if documents.is_empty() { p.empty { "Not invoiced." } } @else {
            table.invoices {
                thead { tr { th { "Number" } th { "Kind" } th { "Issued" } th { "Total" } th { "Accounting" } th {} } }
                tbody {
                    @for (d, syncs) in documents {
                        tr data-invoice=(d.id) {
                            td { a href={ "/console/invoices/" (d.id) } { (d.number) } " " span.muted { "PDF" } }
                            td {
                                (d.kind.as_str().replace('_', " "))
                                @if d.credited_in_full { " " span.muted { "(credited in full)" } }
                                @if let Some(r) = &d.document.reason { br; small.muted { (r) } }
                            }
                            td { (d.issued_at.format("%Y-%m-%d %H:%M")) }
                            td { (money(&d.document, d.document.gross)) " " (d.document.currency) }
                            td.sync {
                                @if syncs.is_empty() { small.muted { "no package connected" } }
                                @for sy in syncs {
                                    div {
                                        (sy.kind.as_str()) ": "
                                        span class={ "sync sync-" (sy.state.as_str()) } { (sy.state.as_str()) }
                                        @if let Some(n) = sy.remote_number.as_ref().or(sy.remote_id.as_ref()) { " " code { (n) } }
                                        @if let Some(e) = &sy.last_error { " " span.bad { (e) } }
                                        @if sy.state != SyncState::Synced {
                                            form.inline method="post" action=(action(order, "invoice-sync-retry")) {
                                                input type="hidden" name="csrf" value=(csrf);
                                                input type="hidden" name="invoice" value=(d.id);
                                                input type="hidden" name="connection" value=(sy.connection_id);
                                                button.secondary type="submit" { "Send again" }
                                            }
                                        }
                                    }
                                }
                            }
                            td {
                                @if d.kind == DocumentKind::Invoice && !d.credited_in_full {
                                    form.inline method="post" action=(action(order, "credit")) {
                                        input type="hidden" name="csrf" value=(csrf);
                                        input type="hidden" name="invoice" value=(d.id);
                                        button.danger type="submit" { "Credit in full" }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        @if !in_force && order.unified.is_some() && !matches!(order.state, OrderState::Cancelled | OrderState::Excluded) {
            form.inline method="post" action=(action(order, "invoice")) {
                input type="hidden" name="csrf" value=(csrf);
                button type="submit" { "Create invoice" }
            }
        }
    }
}

/// Make an invoice, credit one in full, or send a document to a package
/// again; a document of another order is not found.
pub(super) async fn act(
    s: &AppState,
    account: &AccountId,
    order: &OrderRecord,
    what: &str,
    f: &Fields,
) -> Result<Result<(), ApiError>, Response> {
    if what == "invoice" {
        return Ok(
            crate::routes::invoices::invoice_order(s, account, order.clone())
                .await
                .map(drop),
        );
    }
    let Ok(iid) = InvoiceId::parse(f.get("invoice")) else {
        return Err(not_found().await);
    };
    let inv = match s.storage.get_invoice(account, &iid).await {
        Ok(inv) if inv.order_id == order.id => inv,
        Ok(_) | Err(StorageError::NotFound { .. }) => return Err(not_found().await),
        Err(e) => return Err(failed(&e)),
    };
    if what == "credit" {
        return Ok(crate::routes::invoices::credit_invoice(
            s,
            account,
            &inv,
            None,
            Some("credited in the console".into()),
        )
        .await
        .map(drop));
    }
    let Ok(conn) = AccountingId::parse(f.get("connection")) else {
        return Err(not_found().await);
    };
    Ok(s.storage
        .retry_sync(account, &inv.id, &conn, chrono::Utc::now())
        .await
        .map(drop)
        .map_err(ApiError::from))
}

/// The order's invoices and credit notes, oldest first, each with its
/// accounting syncs.
pub(super) async fn documents_of(
    s: &AppState,
    account: &AccountId,
    order: &OrderRecord,
) -> Result<Vec<(Invoice, Vec<DocumentSync>)>, StorageError> {
    let filter = InvoiceFilter {
        order_id: Some(order.id.clone()),
        ..InvoiceFilter::default()
    };
    let docs = s
        .storage
        .list_invoices(account, &order.store_id, &filter, &PageRequest::first(100))
        .await?;
    let mut out = Vec::new();
    for d in docs.items.into_iter().rev() {
        let syncs = s.storage.document_syncs(account, &d.id).await?;
        out.push((d, syncs));
    }
    Ok(out)
}

/// An amount of a document in its currency's decimals.
fn money(d: &switchyard_domain::invoice::Document, minor: i64) -> String {
    switchyard_domain::values::Currency::parse(&d.currency)
        .map(|c| c.format_amount(minor))
        .unwrap_or_else(|_| minor.to_string())
}

/// An invoice's or credit note's PDF, for a user who reaches its store.
pub(super) async fn invoice_pdf(
    State(s): State<AppState>,
    session: Session,
    Path(id): Path<String>,
) -> Response {
    let Ok(id) = InvoiceId::parse(id.trim_end_matches(".pdf")) else {
        return not_found().await;
    };
    let account = &session.user.account_id;
    match s.storage.get_invoice(account, &id).await {
        Ok(inv) if session.user.reaches(&inv.store_id) => {
            match crate::routes::invoices::pdf_response(&s, account, inv).await {
                Ok(r) => r,
                Err(e) => super::pages::internal(&e),
            }
        }
        Ok(_) | Err(StorageError::NotFound { .. }) => not_found().await,
        Err(e) => failed(&e),
    }
}
