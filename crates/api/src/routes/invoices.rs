//! Invoices and credit notes: a store's invoice settings (seller, numbering,
//! tax rates, automatic invoicing), invoices made from orders, credit notes
//! against them, and each document as JSON or PDF.

use axum::Json;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use switchyard_domain::DomainError;
use switchyard_domain::ids::{AccountId, InvoiceId, OrderId, StoreId};
use switchyard_domain::invoice::{
    Buyer, CreditLine, Document, DocumentKind, DocumentLine, InvoiceSettings, build_invoice,
    plan_credit_note,
};
use switchyard_storage::{
    DocumentSource, Invoice, InvoiceConfig, InvoiceConfigChange, InvoiceFilter, NewDocument,
    OrderRecord, StorageError,
};
use utoipa::{IntoParams, ToSchema};

use crate::AppState;
use crate::error::{ApiError, ErrorBody};
use crate::extract::{ApiJson, ApiPath, ApiQuery, Auth, encode_cursor, page_limit};

/// A store's invoice settings.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InvoiceSettingsIn {
    /// The settings (fields left out take their defaults): `prefix`
    /// (`INV-`), `credit_note_prefix` (`CN-`), `digits` (5), `auto`
    /// (`off`, `imported`, `shipped`), `seller` (`name`, `address` lines,
    /// `vat_number`, `registration`, `email`), `tax_rates` (`default_bp`,
    /// `countries`: rates in basis points, 2100 = 21 %), `prices_include_tax`,
    /// `channel_prices_include_tax` (by channel id), `footer`, `logo_png`
    /// (base64 PNG, at most 256 KiB).
    #[serde(flatten)]
    pub settings: InvoiceSettings,
    /// The next invoice's sequence number (above every one issued under
    /// the prefix).
    pub next_invoice_number: Option<i64>,
    /// The next credit note's sequence number.
    pub next_credit_note_number: Option<i64>,
}

/// A store's invoice settings with its counters.
#[derive(Debug, Serialize, ToSchema)]
pub struct InvoiceSettingsOut {
    /// The settings.
    #[serde(flatten)]
    pub settings: InvoiceSettings,
    /// The sequence the next invoice gets.
    pub next_invoice_number: i64,
    /// The sequence the next credit note gets.
    pub next_credit_note_number: i64,
    /// The number the next invoice gets.
    pub next_invoice: String,
    /// Since when orders are invoiced by themselves.
    pub auto_since: Option<DateTime<Utc>>,
}

impl From<InvoiceConfig> for InvoiceSettingsOut {
    fn from(c: InvoiceConfig) -> Self {
        Self {
            next_invoice: c
                .settings
                .number(DocumentKind::Invoice, c.next_invoice_number),
            settings: c.settings,
            next_invoice_number: c.next_invoice_number,
            next_credit_note_number: c.next_credit_note_number,
            auto_since: c.auto_since,
        }
    }
}

/// One line of a document.
#[derive(Debug, Serialize, ToSchema)]
pub struct DocumentLineOut {
    /// Position, from 1 (a credit note keeps the invoice's numbers).
    pub line_no: u32,
    /// `product` or `shipping`.
    #[schema(value_type = switchyard_domain::invoice::LineKind)]
    pub kind: String,
    /// SKU.
    pub sku: Option<String>,
    /// What was sold.
    pub description: String,
    /// Units.
    pub quantity: i64,
    /// Price of one unit as the channel states it (minor units).
    pub unit_price: i64,
    /// Discount on the line.
    pub discount: i64,
    /// Tax rate in basis points (2100 = 21 %).
    pub tax_rate_bp: u32,
    /// Without tax.
    pub net: i64,
    /// Tax.
    pub tax: i64,
    /// With tax.
    pub gross: i64,
}

impl From<&DocumentLine> for DocumentLineOut {
    fn from(l: &DocumentLine) -> Self {
        Self {
            line_no: l.line_no,
            kind: serde_json::to_value(l.kind)
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_default(),
            sku: l.sku.clone(),
            description: l.description.clone(),
            quantity: l.quantity,
            unit_price: l.unit_price,
            discount: l.discount,
            tax_rate_bp: l.tax_rate_bp,
            net: l.net,
            tax: l.tax,
            gross: l.gross,
        }
    }
}

/// Net and tax at one rate.
#[derive(Debug, Serialize, ToSchema)]
pub struct TaxAmountOut {
    /// Rate in basis points.
    pub rate_bp: u32,
    /// Without tax at this rate.
    pub net: i64,
    /// Tax at this rate.
    pub tax: i64,
}

/// An invoice or credit note.
#[derive(Debug, Serialize, ToSchema)]
pub struct InvoiceOut {
    /// Id.
    #[schema(value_type = String)]
    pub id: InvoiceId,
    /// `invoice` or `credit_note`.
    #[schema(value_type = switchyard_domain::invoice::DocumentKind)]
    pub kind: String,
    /// Its number.
    pub number: String,
    /// Store.
    #[schema(value_type = String)]
    pub store_id: StoreId,
    /// The order.
    #[schema(value_type = String)]
    pub order_id: OrderId,
    /// For a credit note: the invoice it credits.
    #[schema(value_type = Option<String>)]
    pub credits_id: Option<InvoiceId>,
    /// For an invoice: whether credit notes take it back entirely.
    pub credited_in_full: bool,
    /// `api` or `auto`.
    pub source: String,
    /// When it was issued.
    pub issued_at: DateTime<Utc>,
    /// The seller's legal details.
    pub seller: switchyard_domain::invoice::Seller,
    /// The buyer: `name`, `email`, `billing_address`, `shipping_address`.
    pub buyer: Buyer,
    /// The order's number on its channel.
    pub order_number: String,
    /// When the order was placed.
    pub order_date: DateTime<Utc>,
    /// ISO 4217 currency of every amount (minor units).
    pub currency: String,
    /// Digits of the currency's minor unit.
    pub minor_digits: u32,
    /// How amounts were rounded.
    pub rounding: String,
    /// Whether unit prices include tax.
    pub prices_include_tax: bool,
    /// `channel` (the channel's tax per line) or `store_rates`.
    pub tax_source: String,
    /// Lines (shipping last).
    pub lines: Vec<DocumentLineOut>,
    /// Net and tax per rate.
    pub taxes: Vec<TaxAmountOut>,
    /// Without tax.
    pub net: i64,
    /// Tax.
    pub tax: i64,
    /// With tax.
    pub gross: i64,
    /// The channel's total (for a credit note: the part credited).
    pub channel_total: i64,
    /// When the totals differ from the channel's: `amount` (ours minus
    /// theirs) and `explanation`.
    pub difference: Option<switchyard_domain::invoice::Difference>,
    /// Why a credit note was issued.
    pub reason: Option<String>,
    /// Printed under the totals.
    pub footer: Option<String>,
    /// The PDF.
    pub pdf_url: String,
    /// Its booking in each of the store's accounting packages.
    pub accounting: Vec<super::accounting::SyncOut>,
}

fn name_of<T: Serialize>(v: T) -> String {
    serde_json::to_value(v)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

impl From<Invoice> for InvoiceOut {
    fn from(i: Invoice) -> Self {
        let d: Document = i.document;
        Self {
            pdf_url: format!("/v1/invoices/{}.pdf", i.id),
            kind: i.kind.as_str().to_owned(),
            source: i.source.as_str().to_owned(),
            id: i.id,
            number: i.number,
            store_id: i.store_id,
            order_id: i.order_id,
            credits_id: i.credits_id,
            credited_in_full: i.credited_in_full,
            issued_at: i.issued_at,
            seller: d.seller,
            buyer: d.buyer,
            order_number: d.order_number,
            order_date: d.order_date,
            currency: d.currency,
            minor_digits: d.minor_digits,
            rounding: d.rounding,
            prices_include_tax: d.prices_include_tax,
            tax_source: name_of(d.tax_source),
            lines: d.lines.iter().map(Into::into).collect(),
            taxes: d
                .taxes
                .iter()
                .map(|t| TaxAmountOut {
                    rate_bp: t.rate_bp,
                    net: t.net,
                    tax: t.tax,
                })
                .collect(),
            net: d.net,
            tax: d.tax,
            gross: d.gross,
            channel_total: d.channel_total,
            difference: d.difference,
            reason: d.reason,
            footer: d.footer,
            accounting: Vec::new(),
        }
    }
}

/// A document as answered: with its accounting syncs.
async fn out(s: &AppState, auth: &Auth, inv: Invoice) -> Result<InvoiceOut, ApiError> {
    let syncs = super::accounting::syncs_of(s, auth, &inv.id).await?;
    Ok(InvoiceOut {
        accounting: syncs,
        ..InvoiceOut::from(inv)
    })
}

/// A page of documents.
#[derive(Debug, Serialize, ToSchema)]
pub struct InvoiceList {
    /// Newest first.
    pub items: Vec<InvoiceOut>,
    /// Cursor of the next page.
    pub next_cursor: Option<String>,
}

/// A credit note to issue.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreditNoteIn {
    /// The lines and units to credit; left out, everything not credited
    /// yet.
    pub lines: Option<Vec<CreditLine>>,
    /// Why (printed on the credit note, at most 500 characters).
    pub reason: Option<String>,
}

/// Filters of the documents list.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct InvoiceQuery {
    /// `invoice` or `credit_note`.
    #[param(value_type = Option<switchyard_domain::invoice::DocumentKind>)]
    pub kind: Option<String>,
    /// Only this order's documents.
    pub order_id: Option<String>,
    /// Issued at or after (RFC 3339).
    pub issued_from: Option<DateTime<Utc>>,
    /// Issued before (RFC 3339).
    pub issued_before: Option<DateTime<Utc>>,
    /// Number containing this text.
    pub number: Option<String>,
    /// Page size (1–1000, default 100).
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<u32>,
    /// Cursor from the previous page.
    #[param(min_length = 1)]
    pub cursor: Option<String>,
}

/// A domain refusal about a document's state is a conflict; a bad field
/// stays 422.
fn refusal(e: DomainError) -> ApiError {
    if e.field.is_none() {
        ApiError::client(StatusCode::CONFLICT, e.code, e.message)
    } else {
        e.into()
    }
}

fn check_logo(settings: &InvoiceSettings) -> Result<(), ApiError> {
    let Some(logo) = &settings.logo_png else {
        return Ok(());
    };
    let bad = || {
        ApiError::field(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_logo",
            "logo_png",
            "logo_png is a PNG image in base64 (at most 256 KiB)",
        )
    };
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(logo.trim())
        .map_err(|_| bad())?;
    crate::invoice_pdf::Logo::decode(&bytes).map_err(|_| bad())?;
    Ok(())
}

/// A store's invoice settings, numbering and automatic invoicing.
#[utoipa::path(get, path = "/v1/stores/{store_id}/invoice-settings", tag = "invoices",
    params(("store_id" = String, Path, description = "Store id")),
    responses((status = 200, body = InvoiceSettingsOut), (status = 404, body = ErrorBody)))]
pub async fn get_invoice_settings(
    State(s): State<AppState>,
    auth: Auth,
    ApiPath(store): ApiPath<StoreId>,
) -> Result<Json<InvoiceSettingsOut>, ApiError> {
    auth.check_store(&store)?;
    Ok(Json(
        s.storage
            .invoice_config(&auth.account_id, &store)
            .await?
            .into(),
    ))
}

/// Replace a store's invoice settings. Turning `auto` on invoices orders
/// imported from then on; a next number at or below one issued under the
/// same prefix is refused with 409 `number_used`.
#[utoipa::path(put, path = "/v1/stores/{store_id}/invoice-settings", tag = "invoices", request_body = InvoiceSettingsIn,
    params(("store_id" = String, Path, description = "Store id")),
    responses((status = 200, body = InvoiceSettingsOut), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn put_invoice_settings(
    State(s): State<AppState>,
    auth: Auth,
    ApiPath(store): ApiPath<StoreId>,
    ApiJson(body): ApiJson<InvoiceSettingsIn>,
) -> Result<Json<InvoiceSettingsOut>, ApiError> {
    auth.check_store(&store)?;
    body.settings.validate()?;
    check_logo(&body.settings)?;
    for (field, n) in [
        ("next_invoice_number", body.next_invoice_number),
        ("next_credit_note_number", body.next_credit_note_number),
    ] {
        if n.is_some_and(|n| !(1..=999_999_999_999).contains(&n)) {
            return Err(ApiError::field(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_number",
                field,
                "a sequence number is 1 to 999999999999",
            ));
        }
    }
    let c = s
        .storage
        .set_invoice_config(
            &auth.account_id,
            &store,
            InvoiceConfigChange {
                settings: body.settings,
                next_invoice_number: body.next_invoice_number,
                next_credit_note_number: body.next_credit_note_number,
            },
            Utc::now(),
        )
        .await?;
    s.wake.notify_one();
    Ok(Json(c.into()))
}

/// Invoice an order, under the store's invoice settings. 409
/// `invoice_exists` while the order has an invoice not credited in full;
/// 409 `order_not_invoiceable` for cancelled or excluded orders.
#[utoipa::path(post, path = "/v1/orders/{order_id}/invoices", tag = "invoices",
    params(("order_id" = String, Path, description = "Order id")),
    responses((status = 201, body = InvoiceOut), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn create_invoice(
    State(s): State<AppState>,
    auth: Auth,
    ApiPath(id): ApiPath<OrderId>,
) -> Result<(StatusCode, Json<InvoiceOut>), ApiError> {
    let order = super::orders::load(&s, &auth, &id).await?;
    let inv = invoice_order(&s, &auth.account_id, order).await?;
    s.wake.notify_one();
    Ok((StatusCode::CREATED, Json(out(&s, &auth, inv).await?)))
}

/// Invoice `order` under its store's settings (the API's and the
/// console's way).
pub(crate) async fn invoice_order(
    s: &AppState,
    account: &AccountId,
    order: OrderRecord,
) -> Result<Invoice, ApiError> {
    let Some(unified) = &order.unified else {
        return Err(ApiError::client(
            StatusCode::CONFLICT,
            "order_not_invoiceable",
            "the order was stored before orders kept their lines and prices; it cannot be invoiced",
        ));
    };
    let cfg = s.storage.invoice_config(account, &order.store_id).await?;
    let document = build_invoice(
        unified,
        order.state,
        order.channel_id.as_str(),
        &cfg.settings,
    )
    .map_err(refusal)?;
    Ok(s.storage
        .issue_document(
            account,
            NewDocument {
                id: InvoiceId::generate(),
                order_id: order.id,
                kind: DocumentKind::Invoice,
                credits: None,
                completes: false,
                document,
                source: DocumentSource::Api,
                issued_at: Utc::now(),
            },
        )
        .await?)
}

/// Credit `inv`: the lines given, or everything not credited yet. Planned
/// against the credit notes so far; storage refuses the issue if another
/// one lands meanwhile, and the plan is made again.
pub(crate) async fn credit_invoice(
    s: &AppState,
    account: &AccountId,
    inv: &Invoice,
    lines: Option<&[CreditLine]>,
    reason: Option<String>,
) -> Result<Invoice, ApiError> {
    if inv.kind != DocumentKind::Invoice {
        return Err(ApiError::client(
            StatusCode::CONFLICT,
            "not_an_invoice",
            format!(
                "{} is a credit note; credit the invoice it credits",
                inv.number
            ),
        ));
    }
    for _ in 0..3 {
        let notes = s.storage.credit_notes_of(account, &inv.id).await?;
        let prior: Vec<Document> = notes.iter().map(|n| n.document.clone()).collect();
        let plan =
            plan_credit_note(&inv.document, &prior, lines, reason.clone()).map_err(refusal)?;
        let issued = s
            .storage
            .issue_document(
                account,
                NewDocument {
                    id: InvoiceId::generate(),
                    order_id: inv.order_id.clone(),
                    kind: DocumentKind::CreditNote,
                    credits: Some((inv.id.clone(), notes.len())),
                    completes: plan.completes,
                    document: plan.document,
                    source: DocumentSource::Api,
                    issued_at: Utc::now(),
                },
            )
            .await;
        match issued {
            Ok(cn) => return Ok(cn),
            Err(StorageError::Conflict {
                code: "credit_changed",
                ..
            }) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Err(ApiError::client(
        StatusCode::CONFLICT,
        "credit_changed",
        "other credit notes kept landing against the invoice; try again",
    ))
}

/// The document's PDF, as an answer.
pub(crate) async fn pdf_response(
    s: &AppState,
    account: &AccountId,
    inv: Invoice,
) -> Result<Response, ApiError> {
    let cfg = s.storage.invoice_config(account, &inv.store_id).await?;
    let credits_number = match &inv.credits_id {
        Some(c) => Some(s.storage.get_invoice(account, c).await?.number),
        None => None,
    };
    let logo = cfg.settings.logo_png.as_deref().and_then(|l| {
        base64::engine::general_purpose::STANDARD
            .decode(l.trim())
            .ok()
    });
    let number = inv.number.clone();
    let bytes = tokio::task::spawn_blocking(move || {
        crate::invoice_pdf::render(&inv, credits_number.as_deref(), logo.as_deref())
    })
    .await
    .map_err(ApiError::internal)?
    .map_err(ApiError::internal)?;
    let mut res = Response::new(Body::from(bytes));
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/pdf"),
    );
    if let Ok(v) = HeaderValue::from_str(&format!(
        "inline; filename=\"{}.pdf\"",
        number.replace(['"', '\\', '/'], "-")
    )) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    Ok(res)
}

/// A store's invoices and credit notes, newest first.
#[utoipa::path(get, path = "/v1/stores/{store_id}/invoices", tag = "invoices",
    params(("store_id" = String, Path, description = "Store id"), InvoiceQuery),
    responses((status = 200, body = InvoiceList), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn list_invoices(
    State(s): State<AppState>,
    auth: Auth,
    ApiPath(store): ApiPath<StoreId>,
    ApiQuery(q): ApiQuery<InvoiceQuery>,
) -> Result<Json<InvoiceList>, ApiError> {
    auth.check_store(&store)?;
    let page = crate::extract::PageQuery {
        limit: Some(page_limit(q.limit)?),
        cursor: q.cursor.clone(),
    }
    .to_request(|k| InvoiceId::parse(k).is_ok())?;
    let filter = InvoiceFilter {
        kind: q.kind.as_deref().map(DocumentKind::parse).transpose()?,
        order_id: q
            .order_id
            .as_deref()
            .map(|o| {
                OrderId::parse(o).map_err(|e| DomainError {
                    field: Some("order_id".into()),
                    ..e
                })
            })
            .transpose()?,
        issued_from: q.issued_from,
        issued_before: q.issued_before,
        number: q.number.filter(|n| !n.is_empty()),
    };
    let p = s
        .storage
        .list_invoices(&auth.account_id, &store, &filter, &page)
        .await?;
    let mut items = Vec::with_capacity(p.items.len());
    for inv in p.items {
        items.push(out(&s, &auth, inv).await?);
    }
    Ok(Json(InvoiceList {
        items,
        next_cursor: p.next.as_deref().map(encode_cursor),
    }))
}

/// The document, if the caller's token reaches its store (404 otherwise).
async fn load(s: &AppState, auth: &Auth, id: &InvoiceId) -> Result<Invoice, ApiError> {
    let inv = s.storage.get_invoice(&auth.account_id, id).await?;
    auth.check_store(&inv.store_id)
        .map_err(|_| ApiError::not_found("invoice"))?;
    Ok(inv)
}

/// One invoice or credit note: JSON, or its PDF with `Accept:
/// application/pdf` or the id followed by `.pdf`.
#[utoipa::path(get, path = "/v1/invoices/{invoice_id}", tag = "invoices",
    params(("invoice_id" = String, Path, description = "Invoice or credit note id, optionally followed by `.pdf`")),
    responses((status = 200, body = InvoiceOut, content_type = "application/json"),
        (status = 200, description = "The PDF", content_type = "application/pdf"),
        (status = 404, body = ErrorBody)))]
pub async fn get_invoice(
    State(s): State<AppState>,
    auth: Auth,
    headers: HeaderMap,
    ApiPath(raw): ApiPath<String>,
) -> Result<Response, ApiError> {
    let (id, pdf) = match raw.strip_suffix(".pdf") {
        Some(id) => (id, true),
        None => (
            raw.as_str(),
            headers
                .get(header::ACCEPT)
                .and_then(|v| v.to_str().ok())
                .is_some_and(|a| a.contains("application/pdf")),
        ),
    };
    let id = InvoiceId::parse(id).map_err(|e| {
        ApiError::field(
            StatusCode::BAD_REQUEST,
            "invalid_id",
            "invoice_id",
            e.message,
        )
    })?;
    let inv = load(&s, &auth, &id).await?;
    if !pdf {
        return Ok(Json(out(&s, &auth, inv).await?).into_response());
    }
    pdf_response(&s, &auth.account_id, inv).await
}

/// Issue a credit note against an invoice: the lines and units given, or
/// everything not credited yet. 409 `already_credited` when nothing is
/// left; a credit note against a credit note is 409 `not_an_invoice`.
#[utoipa::path(post, path = "/v1/invoices/{invoice_id}/credit-notes", tag = "invoices", request_body = CreditNoteIn,
    params(("invoice_id" = String, Path, description = "Invoice id")),
    responses((status = 201, body = InvoiceOut), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn create_credit_note(
    State(s): State<AppState>,
    auth: Auth,
    ApiPath(id): ApiPath<InvoiceId>,
    body: axum::body::Bytes,
) -> Result<(StatusCode, Json<InvoiceOut>), ApiError> {
    // No body credits everything not credited yet.
    let body: CreditNoteIn = if body.iter().all(u8::is_ascii_whitespace) {
        CreditNoteIn::default()
    } else {
        crate::extract::parse_json(&body)?
    };
    if body
        .reason
        .as_ref()
        .is_some_and(|r| r.chars().count() > 500 || r.chars().any(char::is_control))
    {
        return Err(ApiError::field(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_reason",
            "reason",
            "a reason has at most 500 characters",
        ));
    }
    let inv = load(&s, &auth, &id).await?;
    let cn = credit_invoice(
        &s,
        &auth.account_id,
        &inv,
        body.lines.as_deref(),
        body.reason,
    )
    .await?;
    s.wake.notify_one();
    Ok((StatusCode::CREATED, Json(out(&s, &auth, cn).await?)))
}
