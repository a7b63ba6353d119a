//! Sage Business Cloud Accounting v3.1: the business from
//! `GET /businesses` sent as `X-Business`, contacts found by `email` or
//! `search` or created, ledger accounts and tax rates looked up, sales
//! invoices and credit notes created with our number as `reference` (Sage
//! numbers them itself and has no idempotency keys, so a document is
//! looked for by its reference before it is created), and credit notes
//! allocated to their invoice with a contact allocation.

use serde_json::{Value, json};
use switchyard_domain::accounting::ContactKey;
use switchyard_domain::invoice::DocumentKind;

use super::{
    AccountingClient, Booked, PushError, SyncDocument, contact_lookups, contact_name, decimal,
    describe, percent,
};
use crate::error::ConnectorError;
use crate::http::HttpRequest;

/// Longest `reference` Sage keeps.
const MAX_REFERENCE: usize = 25;

/// The lead business the token reaches.
pub(super) async fn business(c: &AccountingClient) -> Result<String, ConnectorError> {
    let req = HttpRequest::get(&c.endpoints.tenants)
        .secret_header("authorization", c.bearer())
        .header("accept", "application/json");
    let (_, v) = c.http.send_json(&req).await?;
    v.as_array()
        .and_then(|a| a.first())
        .and_then(|b| b["id"].as_str())
        .map(str::to_owned)
        .ok_or_else(|| c.malformed("the token reaches no business (GET /businesses is empty)"))
}

fn get(c: &AccountingClient, path_and_query: &str) -> HttpRequest {
    HttpRequest::get(format!("{}/{path_and_query}", c.endpoints.api))
        .secret_header("authorization", c.bearer())
        .header("x-business", c.tenant())
        .header("accept", "application/json")
}

/// A create: Sage has no idempotency keys, so a create whose answer was
/// lost is never resent blindly; the next attempt looks first.
fn post(c: &AccountingClient, path: &str, body: &Value) -> HttpRequest {
    HttpRequest::json(
        reqwest::Method::POST,
        format!("{}/{path}", c.endpoints.api),
        body,
    )
    .secret_header("authorization", c.bearer())
    .header("x-business", c.tenant())
    .header("accept", "application/json")
    .not_idempotent()
}

/// Sage's own words from an error answer (`[{"$source", "$message"}]`).
fn sage_message(body: &str) -> String {
    match serde_json::from_str::<Value>(body) {
        Ok(Value::Array(list)) => list
            .iter()
            .map(|e| {
                let msg = e["$message"].as_str().unwrap_or("");
                match e["$source"].as_str().filter(|s| !s.is_empty()) {
                    Some(src) => format!("{src}: {msg}"),
                    None => msg.to_owned(),
                }
            })
            .collect::<Vec<_>>()
            .join("; "),
        _ => body.to_owned(),
    }
}

/// A refusal of a create (422 and the like) in Sage's words; other
/// failures as they are.
fn refused(e: ConnectorError) -> PushError {
    match e {
        ConnectorError::Rejected { status, body, .. } if status == 400 || status == 422 => {
            PushError::Refused(sage_message(&body))
        }
        other => PushError::Connector(other),
    }
}

fn items(v: &Value) -> &[Value] {
    v["$items"].as_array().map_or(&[], Vec::as_slice)
}

async fn contact(c: &AccountingClient, doc: &SyncDocument<'_>) -> Result<String, PushError> {
    for (key, value) in contact_lookups(&c.settings, doc.document) {
        let q = match key {
            ContactKey::Email => format!("contacts?email={}", crate::support::encode(&value)),
            ContactKey::Name => format!("contacts?search={}", crate::support::encode(&value)),
        };
        let (_, v) = c.http.send_json(&get(c, &q)).await?;
        let found = items(&v).iter().find(|x| match key {
            ContactKey::Email => true,
            ContactKey::Name => x["name"]
                .as_str()
                .is_some_and(|n| n.eq_ignore_ascii_case(&value)),
        });
        if let Some(id) = found.and_then(|x| x["id"].as_str()) {
            return Ok(id.to_owned());
        }
    }
    let body = json!({ "contact": {
        "name": contact_name(doc.document),
        "contact_type_ids": ["CUSTOMER"],
        "email": doc.document.buyer.email.clone().unwrap_or_default(),
    } });
    let (_, v) = c
        .http
        .send_json(&post(c, "contacts", &body))
        .await
        .map_err(refused)?;
    v["id"]
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| c.malformed("the created contact has no id").into())
}

async fn ledger_account(c: &AccountingClient, code: &str) -> Result<String, PushError> {
    let key = format!("sage-ledger:{code}");
    if let Some(id) = c.cache.lock().await.get(&key) {
        return Ok(id.clone());
    }
    let (_, v) = c
        .http
        .send_json(&get(
            c,
            &format!(
                "ledger_accounts?search={}&items_per_page=200",
                crate::support::encode(code)
            ),
        ))
        .await?;
    let found = items(&v)
        .iter()
        .find(|a| a["nominal_code"].as_i64().map(|n| n.to_string()).as_deref() == Some(code))
        .and_then(|a| a["id"].as_str());
    let Some(id) = found else {
        return Err(PushError::Refused(format!(
            "Sage has no ledger account with nominal code {code}; set the connection's sales_account"
        )));
    };
    c.cache.lock().await.insert(key, id.to_owned());
    Ok(id.to_owned())
}

async fn tax_rate(c: &AccountingClient, rate: u32) -> Result<String, PushError> {
    if let Some(t) = c.settings.tax_code(rate) {
        return Ok(t.to_owned());
    }
    let key = format!("sage-tax:{rate}");
    if let Some(t) = c.cache.lock().await.get(&key) {
        return Ok(t.clone());
    }
    let (_, v) = c
        .http
        .send_json(&get(c, "tax_rates?items_per_page=200"))
        .await?;
    let found = items(&v)
        .iter()
        .find(|t| {
            t["percentage"]
                .as_f64()
                .is_some_and(|p| (p - percent(rate)).abs() < 0.001)
        })
        .and_then(|t| t["id"].as_str());
    let Some(t) = found else {
        return Err(PushError::Refused(format!(
            "Sage has no tax rate of {}; map it in the connection's tax_rates",
            switchyard_domain::invoice::percent(rate)
        )));
    };
    c.cache.lock().await.insert(key, t.to_owned());
    Ok(t.to_owned())
}

/// The document of that reference already in Sage, if any.
async fn existing(
    c: &AccountingClient,
    doc: &SyncDocument<'_>,
) -> Result<Option<Value>, PushError> {
    let path = match doc.kind {
        DocumentKind::Invoice => "sales_invoices",
        DocumentKind::CreditNote => "sales_credit_notes",
    };
    let (_, v) = c
        .http
        .send_json(&get(
            c,
            &format!(
                "{path}?search={}&items_per_page=200",
                crate::support::encode(doc.number)
            ),
        ))
        .await?;
    Ok(items(&v)
        .iter()
        .find(|x| x["reference"].as_str() == Some(doc.number) && x["deleted_at"].is_null())
        .cloned())
}

pub(super) async fn push(
    c: &AccountingClient,
    doc: &SyncDocument<'_>,
) -> Result<Booked, PushError> {
    if doc.number.chars().count() > MAX_REFERENCE {
        return Err(PushError::Refused(format!(
            "Sage keeps our number in `reference`, at most {MAX_REFERENCE} characters; {} is longer (shorten the store's number prefix)",
            doc.number
        )));
    }
    let d = doc.document;
    let (path, key, lines_key, number_key) = match doc.kind {
        DocumentKind::Invoice => (
            "sales_invoices",
            "sales_invoice",
            "invoice_lines",
            "invoice_number",
        ),
        DocumentKind::CreditNote => (
            "sales_credit_notes",
            "sales_credit_note",
            "credit_note_lines",
            "credit_note_number",
        ),
    };
    let booked = match existing(c, doc).await? {
        Some(found) => found,
        None => {
            let contact = contact(c, doc).await?;
            let mut lines = Vec::new();
            for l in &d.lines {
                lines.push(json!({
                    "description": describe(l),
                    "ledger_account_id": ledger_account(c, c.account_for(l)).await?,
                    "quantity": l.quantity,
                    "unit_price": decimal(d, l.unit_price),
                    "discount_amount": decimal(d, l.discount),
                    "tax_rate_id": tax_rate(c, l.tax_rate_bp).await?,
                    "tax_amount": decimal(d, l.tax),
                    "unit_price_includes_tax": d.prices_include_tax,
                }));
            }
            let mut body = json!({
                "contact_id": contact,
                "date": doc.issued_at.format("%Y-%m-%d").to_string(),
                "reference": doc.number,
                "currency_id": d.currency,
                "notes": format!("Order {}", d.order_number),
            });
            body[lines_key] = json!(lines);
            let (_, v) = c
                .http
                .send_json(&post(c, path, &json!({ key: body })))
                .await
                .map_err(refused)?;
            v
        }
    };
    let remote_id = booked["id"]
        .as_str()
        .ok_or_else(|| c.malformed("the booked document has no id"))?
        .to_owned();
    if doc.kind == DocumentKind::CreditNote
        && let Some((invoice_id, _)) = doc.credits
    {
        let left = booked["outstanding_amount"]
            .as_f64()
            .or(booked["total_amount"].as_f64())
            .unwrap_or(0.0);
        if left > 0.0 {
            let body = json!({ "contact_allocation": {
                "transaction_type_id": "CUSTOMER_ALLOCATION",
                "contact_id": booked["contact"]["id"],
                "date": doc.issued_at.format("%Y-%m-%d").to_string(),
                "allocated_artefacts": [
                    { "artefact_id": invoice_id, "amount": left },
                    { "artefact_id": remote_id, "amount": -left },
                ],
            } });
            c.http
                .send_json(&post(c, "contact_allocations", &body))
                .await
                .map_err(|e| match refused(e) {
                    PushError::Refused(m) => PushError::Refused(format!(
                        "the credit note is booked, but allocating it to its invoice failed: {m}"
                    )),
                    other => other,
                })?;
        }
    }
    Ok(Booked {
        remote_id,
        remote_number: booked[number_key].as_str().map(str::to_owned),
    })
}
