//! Automatic invoicing: a store that invoices by itself gets an invoice
//! for each order imported (or fully shipped, by its setting) since it
//! turned invoicing on, and every invoice in force whose order is
//! cancelled or refunded gets a credit note for what is not credited yet.
//!
//! Storage finds the work; the domain writes the documents
//! (`invoice::build_invoice`, `invoice::plan_credit_note`); issuing is one
//! transaction that numbers the document, so two instances racing for one
//! order issue it once (the other is refused and moves on).

use std::sync::Arc;

use chrono::{DateTime, Utc};
use switchyard_domain::ids::{AccountId, InvoiceId};
use switchyard_domain::invoice::{
    AutoInvoice, DocumentKind, InvoiceSettings, build_invoice, plan_credit_note,
};
use switchyard_storage::{DocumentSource, Invoice, NewDocument, OrderRecord, StorageError};

use crate::EngineError;
use crate::context::{Context, Topic};
use crate::driver::{Report, Worker};

/// What an invoicing round did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct InvoicingSummary {
    /// Invoices issued.
    pub invoices: usize,
    /// Credit notes issued.
    pub credit_notes: usize,
    /// Orders that cannot be invoiced (logged, left alone).
    pub skipped: usize,
}

impl Report for InvoicingSummary {
    fn merge(&mut self, o: Self) {
        self.invoices += o.invoices;
        self.credit_notes += o.credit_notes;
        self.skipped += o.skipped;
    }

    fn busy(&self) -> bool {
        self.invoices + self.credit_notes > 0
    }
}

/// One document to issue.
#[derive(Debug)]
pub enum InvoicingUnit {
    /// Invoice an order.
    Invoice(AccountId, Box<OrderRecord>, Box<InvoiceSettings>),
    /// Credit what is left of an invoice whose order was cancelled or
    /// refunded (`why`), given its credit notes so far.
    Credit(AccountId, Box<Invoice>, Vec<Invoice>, String),
}

/// Documents looked for per round, of each kind.
const BATCH: u32 = 100;

/// The invoicing worker.
#[derive(Debug)]
pub struct Invoicing {
    ctx: Arc<Context>,
}

impl Worker for Invoicing {
    type Unit = InvoicingUnit;
    type Report = InvoicingSummary;
    const NAME: &'static str = "invoicing";

    fn context(&self) -> &Context {
        &self.ctx
    }

    fn key(u: &InvoicingUnit) -> String {
        match u {
            InvoicingUnit::Invoice(_, o, _) => o.id.to_string(),
            InvoicingUnit::Credit(_, i, _, _) => i.order_id.to_string(),
        }
    }

    async fn due(
        &self,
        _now: DateTime<Utc>,
        room: usize,
    ) -> Result<Vec<InvoicingUnit>, EngineError> {
        let modes = [
            (AutoInvoice::Imported, AutoInvoice::Imported.due_states()),
            (AutoInvoice::Shipped, AutoInvoice::Shipped.due_states()),
        ];
        let limit = u32::try_from(room).unwrap_or(BATCH).min(BATCH);
        let work = self.ctx.storage.invoicing_work(&modes, limit).await?;
        let mut units: Vec<InvoicingUnit> = work
            .credit
            .into_iter()
            .map(|(a, i, notes, why)| InvoicingUnit::Credit(a, Box::new(i), notes, why))
            .collect();
        units.extend(
            work.invoice
                .into_iter()
                .map(|(a, o, s)| InvoicingUnit::Invoice(a, Box::new(o), Box::new(s))),
        );
        Ok(units)
    }

    async fn run(
        &self,
        unit: InvoicingUnit,
        now: DateTime<Utc>,
    ) -> Result<InvoicingSummary, EngineError> {
        let mut out = InvoicingSummary::default();
        let (account, new) = match unit {
            InvoicingUnit::Invoice(account, order, settings) => {
                let Some(unified) = &order.unified else {
                    out.skipped += 1;
                    return Ok(out);
                };
                match build_invoice(unified, order.state, order.channel_id.as_str(), &settings) {
                    Ok(document) => (
                        account,
                        NewDocument {
                            id: InvoiceId::generate(),
                            order_id: order.id.clone(),
                            kind: DocumentKind::Invoice,
                            credits: None,
                            completes: false,
                            document,
                            source: DocumentSource::Auto,
                            issued_at: now,
                        },
                    ),
                    Err(e) => {
                        tracing::warn!(order = %order.id, error = %e, "order not invoiced");
                        out.skipped += 1;
                        return Ok(out);
                    }
                }
            }
            InvoicingUnit::Credit(account, invoice, notes, why) => {
                let prior: Vec<_> = notes.iter().map(|n| n.document.clone()).collect();
                let reason = Some(format!("order {why}"));
                match plan_credit_note(&invoice.document, &prior, None, reason) {
                    Ok(plan) => (
                        account,
                        NewDocument {
                            id: InvoiceId::generate(),
                            order_id: invoice.order_id.clone(),
                            kind: DocumentKind::CreditNote,
                            credits: Some((invoice.id.clone(), notes.len())),
                            completes: plan.completes,
                            document: plan.document,
                            source: DocumentSource::Auto,
                            issued_at: now,
                        },
                    ),
                    Err(e) => {
                        tracing::warn!(invoice = %invoice.id, error = %e, "invoice not credited");
                        out.skipped += 1;
                        return Ok(out);
                    }
                }
            }
        };
        let kind = new.kind;
        match self.ctx.storage.issue_document(&account, new).await {
            Ok(doc) => {
                tracing::info!(order = %doc.order_id, number = %doc.number, kind = kind.as_str(), "issued");
                match kind {
                    DocumentKind::Invoice => out.invoices += 1,
                    DocumentKind::CreditNote => out.credit_notes += 1,
                }
            }
            // Another instance (or a person) issued it first.
            Err(StorageError::Conflict { code, .. })
                if code == "invoice_exists" || code == "credit_changed" => {}
            Err(e) => return Err(e.into()),
        }
        Ok(out)
    }

    fn concurrency(&self) -> usize {
        1
    }

    fn signal(&self) -> &tokio::sync::Notify {
        self.ctx.signals.of(Topic::Invoicing)
    }

    fn after(&self, report: &InvoicingSummary) {
        if report.busy() {
            self.ctx.signals.journal();
        }
    }
}

impl Invoicing {
    pub(crate) fn new(ctx: Arc<Context>) -> Self {
        Self { ctx }
    }

    /// Issue every document due at `now`.
    pub async fn step(&self, now: DateTime<Utc>) -> Result<InvoicingSummary, EngineError> {
        crate::driver::step(self, now).await
    }
}
