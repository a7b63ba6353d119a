//! Invoices and credit notes of a store, its invoice settings and
//! numbering. A document is issued in one transaction with its number
//! (taken from the store's counter, so numbers have no gaps and no
//! repeats), its journal event and its accounting syncs; it never changes
//! afterwards, except that an invoice is marked credited in full by the
//! credit note that completes its credit.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::Serialize;
use switchyard_domain::ids::{AccountId, InvoiceId, OrderId, StoreId};
use switchyard_domain::invoice::{AutoInvoice, Document, DocumentKind, InvoiceSettings};

use crate::{OrderRecord, Page, PageRequest, Result};

/// Invoices and credit notes.
#[async_trait]
pub trait Invoices: Send + Sync {
    /// A store's invoice settings and counters (the defaults when never set).
    async fn invoice_config(&self, account: &AccountId, store: &StoreId) -> Result<InvoiceConfig>;
    /// Replace a store's invoice settings (validated by the caller) and,
    /// when given, the next sequence numbers. A next number at or below one
    /// already issued under the same prefix is refused with `number_used`.
    /// Turning automatic invoicing on starts it from `now`: orders imported
    /// before are not invoiced by themselves.
    async fn set_invoice_config(
        &self,
        account: &AccountId,
        store: &StoreId,
        change: InvoiceConfigChange,
        now: DateTime<Utc>,
    ) -> Result<InvoiceConfig>;
    /// Issue an invoice or credit note for an order of the account, with
    /// the next number of its kind. Refused with `invoice_exists` when the
    /// order has an invoice not credited in full, and for a credit note
    /// with `credit_changed` when the invoice's credit notes are no longer
    /// those it was planned against.
    async fn issue_document(&self, account: &AccountId, new: NewDocument) -> Result<Invoice>;
    /// One document of the account.
    async fn get_invoice(&self, account: &AccountId, id: &InvoiceId) -> Result<Invoice>;
    /// A store's documents matching `filter`, newest first, paged by id.
    async fn list_invoices(
        &self,
        account: &AccountId,
        store: &StoreId,
        filter: &InvoiceFilter,
        page: &PageRequest,
    ) -> Result<Page<Invoice>>;
    /// The credit notes issued against an invoice, oldest first.
    async fn credit_notes_of(
        &self,
        account: &AccountId,
        invoice: &InvoiceId,
    ) -> Result<Vec<Invoice>>;
    /// What automatic invoicing has to do, across accounts: orders whose
    /// store invoices them by itself, imported since it started, in one of
    /// the states `due` names for the store's mode, with no invoice yet;
    /// and invoices in force whose order was cancelled or refunded. At most
    /// `limit` of each.
    async fn invoicing_work(
        &self,
        due: &[(AutoInvoice, Vec<&'static str>)],
        limit: u32,
    ) -> Result<InvoicingWork>;
}

/// A store's invoice settings with its counters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct InvoiceConfig {
    /// The settings.
    pub settings: InvoiceSettings,
    /// The sequence the next invoice gets.
    pub next_invoice_number: i64,
    /// The sequence the next credit note gets.
    pub next_credit_note_number: i64,
    /// Since when orders are invoiced by themselves (`None` when off).
    pub auto_since: Option<DateTime<Utc>>,
}

/// A change of a store's invoice settings.
#[derive(Debug, Clone)]
pub struct InvoiceConfigChange {
    /// The new settings.
    pub settings: InvoiceSettings,
    /// The next invoice's sequence, if it changes.
    pub next_invoice_number: Option<i64>,
    /// The next credit note's sequence, if it changes.
    pub next_credit_note_number: Option<i64>,
}

/// Who asked for a document.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DocumentSource {
    /// Through the API or the console.
    Api,
    /// Automatic invoicing (import, shipment, cancellation, refund).
    Auto,
}

impl DocumentSource {
    /// The stored name.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Api => "api",
            Self::Auto => "auto",
        }
    }
}

/// A document to issue.
#[derive(Debug, Clone)]
pub struct NewDocument {
    /// Its id.
    pub id: InvoiceId,
    /// The order.
    pub order_id: OrderId,
    /// Invoice or credit note.
    pub kind: DocumentKind,
    /// For a credit note: the invoice it credits, and how many credit
    /// notes that invoice had when this one was planned.
    pub credits: Option<(InvoiceId, usize)>,
    /// For a credit note: whether it completes the invoice's credit.
    pub completes: bool,
    /// Its content.
    pub document: Document,
    /// Who asked.
    pub source: DocumentSource,
    /// When it is issued.
    pub issued_at: DateTime<Utc>,
}

/// An issued invoice or credit note.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Invoice {
    /// Id.
    pub id: InvoiceId,
    /// Invoice or credit note.
    pub kind: DocumentKind,
    /// Its number.
    pub number: String,
    /// Store.
    pub store_id: StoreId,
    /// The order.
    pub order_id: OrderId,
    /// For a credit note: the invoice it credits.
    pub credits_id: Option<InvoiceId>,
    /// For an invoice: whether credit notes take it back entirely.
    pub credited_in_full: bool,
    /// Who asked for it.
    pub source: DocumentSource,
    /// Its content (flattened: the webhook payload reads like the API's
    /// answer).
    #[serde(flatten)]
    pub document: Document,
    /// When it was issued.
    pub issued_at: DateTime<Utc>,
}

/// Filters of the documents list.
#[derive(Debug, Clone, Default)]
pub struct InvoiceFilter {
    /// Only this kind.
    pub kind: Option<DocumentKind>,
    /// Only documents of this order.
    pub order_id: Option<OrderId>,
    /// Issued at or after.
    pub issued_from: Option<DateTime<Utc>>,
    /// Issued before.
    pub issued_before: Option<DateTime<Utc>>,
    /// Number containing this text.
    pub number: Option<String>,
}

/// What automatic invoicing has to do.
#[derive(Debug, Clone, Default)]
pub struct InvoicingWork {
    /// Orders to invoice, with their account and store's settings.
    pub invoice: Vec<(AccountId, OrderRecord, InvoiceSettings)>,
    /// Invoices whose order was cancelled or refunded, with their account,
    /// the credit notes issued so far, and the order's state.
    pub credit: Vec<(AccountId, Invoice, Vec<Invoice>, String)>,
}

/// The columns every document read selects.
pub(crate) const INVOICE_COLUMNS: &str = "id, kind, number, store_id, order_id, credits_id, credited_in_full, source, document, issued_at";

/// An invoice from its stored parts.
#[allow(clippy::too_many_arguments, reason = "one argument per column")]
pub(crate) fn invoice_from_parts(
    id: String,
    kind: &str,
    number: String,
    store_id: String,
    order_id: String,
    credits_id: Option<String>,
    credited_in_full: bool,
    source: &str,
    document: Document,
    issued_at: DateTime<Utc>,
) -> Result<Invoice> {
    Ok(Invoice {
        id: crate::stored("invoice id", InvoiceId::parse(&id))?,
        kind: crate::stored("invoice kind", DocumentKind::parse(kind))?,
        number,
        store_id: crate::stored("store id", StoreId::parse(&store_id))?,
        order_id: crate::stored("order id", OrderId::parse(&order_id))?,
        credits_id: credits_id
            .map(|c| crate::stored("invoice id", InvoiceId::parse(&c)))
            .transpose()?,
        credited_in_full,
        source: if source == "auto" {
            DocumentSource::Auto
        } else {
            DocumentSource::Api
        },
        document,
        issued_at,
    })
}

/// The journal event of an issued document.
pub(crate) fn issued_event(doc: &Invoice) -> crate::journal::NewEvent {
    let (event_type, payload) = match doc.kind {
        DocumentKind::Invoice => ("invoice.created", crate::EventPayload::Invoice(doc.clone())),
        DocumentKind::CreditNote => (
            "credit_note.created",
            crate::EventPayload::CreditNote(doc.clone()),
        ),
    };
    crate::journal::NewEvent::new(&doc.id, event_type, payload)
}

/// The refusal of a second invoice.
pub(crate) fn invoice_exists(number: &str) -> crate::StorageError {
    crate::StorageError::conflict(
        "invoice_exists",
        format!("the order has invoice {number} already; credit it in full before issuing another"),
        None,
    )
}

/// The refusal of a credit note planned against credit notes that changed.
pub(crate) fn credit_changed() -> crate::StorageError {
    crate::StorageError::conflict(
        "credit_changed",
        "another credit note was issued against the invoice meanwhile; plan the credit again",
        None,
    )
}
