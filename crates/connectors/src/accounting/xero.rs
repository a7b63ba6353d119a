//! Xero Accounting API 2.0: tenants from `GET /connections`, contacts found
//! by `where` or created, invoices and credit notes created with `PUT`,
//! `summarizeErrors=false` and an `Idempotency-Key`, credit notes allocated
//! to their invoice, and the per-minute allowance read from
//! `X-MinLimit-Remaining`.

use std::time::Duration;

use chrono::Timelike;
use serde_json::{Value, json};
use switchyard_domain::accounting::{ContactKey, PostAs};
use switchyard_domain::invoice::DocumentKind;

use super::{
    AccountingClient, Booked, PushError, SyncDocument, contact_lookups, contact_name, decimal,
    describe, percent,
};
use crate::error::ConnectorError;
use crate::http::{HttpRequest, HttpResponse};

/// Hold back the next call when the tenant's minute (or day) allowance is
/// used up, until the next minute.
pub(super) fn limit_signal(r: &HttpResponse) -> Option<Duration> {
    let left = |h: &str| r.header(h).and_then(|v| v.trim().parse::<u64>().ok());
    if left("x-daylimit-remaining") == Some(0) {
        return Some(Duration::from_secs(3600));
    }
    if left("x-minlimit-remaining") == Some(0) || left("x-appminlimit-remaining") == Some(0) {
        let s = u64::from(chrono::Utc::now().second());
        return Some(Duration::from_secs(61 - s.min(60)));
    }
    None
}

/// The first organisation the token reaches.
pub(super) async fn tenant(c: &AccountingClient) -> Result<String, ConnectorError> {
    let req = HttpRequest::get(&c.endpoints.tenants).secret_header("authorization", c.bearer());
    let (_, v) = c.http.send_json(&req).await?;
    v.as_array()
        .and_then(|a| {
            a.iter()
                .find(|t| t["tenantType"] == "ORGANISATION")
                .or(a.first())
        })
        .and_then(|t| t["tenantId"].as_str())
        .map(str::to_owned)
        .ok_or_else(|| c.malformed("the token reaches no organisation (GET /connections is empty)"))
}

fn get(c: &AccountingClient, path_and_query: &str) -> HttpRequest {
    HttpRequest::get(format!("{}/{path_and_query}", c.endpoints.api))
        .secret_header("authorization", c.bearer())
        .header("xero-tenant-id", c.tenant())
        .header("accept", "application/json")
}

/// The idempotency key of a write: the document's own key and a digest of
/// the body, so a resend of the same request replays Xero's first answer,
/// while a corrected request (new settings after a refusal) is a new one.
fn idempotency_key(key: &str, body: &Value) -> String {
    use sha2::Digest as _;
    let digest = sha2::Sha256::digest(body.to_string().as_bytes());
    let hex: String = digest.iter().take(8).map(|b| format!("{b:02x}")).collect();
    format!("{key}-{hex}")
}

fn put(c: &AccountingClient, path: &str, body: &Value, key: &str) -> HttpRequest {
    let key = idempotency_key(key, body);
    HttpRequest::json(
        reqwest::Method::PUT,
        format!("{}/{path}?summarizeErrors=false", c.endpoints.api),
        body,
    )
    .secret_header("authorization", c.bearer())
    .header("xero-tenant-id", c.tenant())
    .header("accept", "application/json")
    // With the key, Xero answers a repeated request with the first answer
    // and creates nothing: resending is harmless.
    .header("idempotency-key", key)
}

/// `where` clause text for `Field=="value"` (quotes escaped).
fn where_eq(field: &str, value: &str) -> String {
    let v = value.replace('\\', "\\\\").replace('"', "\\\"");
    crate::support::encode(&format!("{field}==\"{v}\""))
}

/// The validation messages of an element, joined.
fn element_errors(e: &Value) -> Option<String> {
    let list = e["ValidationErrors"].as_array()?;
    let msgs: Vec<&str> = list.iter().filter_map(|m| m["Message"].as_str()).collect();
    (!msgs.is_empty()).then(|| msgs.join("; "))
}

/// The buyer's contact id: found by the connection's lookups, else created.
async fn contact(c: &AccountingClient, doc: &SyncDocument<'_>) -> Result<String, PushError> {
    let lookups = contact_lookups(&c.settings, doc.document);
    for (key, value) in &lookups {
        let field = match key {
            ContactKey::Email => "EmailAddress",
            ContactKey::Name => "Name",
        };
        let (_, v) = c
            .http
            .send_json(&get(
                c,
                &format!("Contacts?where={}", where_eq(field, value)),
            ))
            .await?;
        if let Some(id) = v["Contacts"]
            .as_array()
            .and_then(|a| a.iter().find(|x| x["ContactStatus"] != "ARCHIVED"))
            .and_then(|x| x["ContactID"].as_str())
        {
            return Ok(id.to_owned());
        }
    }
    let name = contact_name(doc.document);
    let body = json!({ "Contacts": [{
        "Name": name,
        "EmailAddress": doc.document.buyer.email.clone().unwrap_or_default(),
        "IsCustomer": true,
    }] });
    let (_, v) = c
        .http
        .send_json(&put(c, "Contacts", &body, &format!("{}-contact", doc.id)))
        .await?;
    let e = &v["Contacts"][0];
    if let Some(msg) = element_errors(e) {
        // Names are unique in Xero: a contact of that name exists (made
        // meanwhile, or matched by email only): use it.
        let (_, found) = c
            .http
            .send_json(&get(
                c,
                &format!("Contacts?where={}", where_eq("Name", &name)),
            ))
            .await?;
        return found["Contacts"][0]["ContactID"]
            .as_str()
            .map(str::to_owned)
            .ok_or(PushError::Refused(msg));
    }
    e["ContactID"]
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| c.malformed("the created contact has no ContactID").into())
}

/// Xero's tax type for a rate: the connection's mapping, else the active
/// revenue rate of that percentage.
async fn tax_type(c: &AccountingClient, rate: u32) -> Result<String, PushError> {
    if let Some(t) = c.settings.tax_code(rate) {
        return Ok(t.to_owned());
    }
    let key = format!("xero-tax:{rate}");
    if let Some(t) = c.cache.lock().await.get(&key) {
        return Ok(t.clone());
    }
    let (_, v) = c.http.send_json(&get(c, "TaxRates")).await?;
    let found = v["TaxRates"].as_array().and_then(|a| {
        a.iter()
            .filter(|t| t["Status"] == "ACTIVE" && t["CanApplyToRevenue"] != false)
            .find(|t| {
                t["EffectiveRate"]
                    .as_f64()
                    .is_some_and(|r| (r - percent(rate)).abs() < 0.001)
            })
            .and_then(|t| t["TaxType"].as_str())
    });
    let Some(t) = found else {
        return Err(PushError::Refused(format!(
            "Xero has no active revenue tax rate of {}; map it in the connection's tax_rates",
            switchyard_domain::invoice::percent(rate)
        )));
    };
    c.cache.lock().await.insert(key, t.to_owned());
    Ok(t.to_owned())
}

async fn line_items(c: &AccountingClient, doc: &SyncDocument<'_>) -> Result<Vec<Value>, PushError> {
    let d = doc.document;
    let mut out = Vec::new();
    for l in &d.lines {
        let mut item = json!({
            "Description": describe(l),
            "Quantity": l.quantity,
            "UnitAmount": decimal(d, l.unit_price),
            "AccountCode": c.account_for(l),
            "TaxType": tax_type(c, l.tax_rate_bp).await?,
            "TaxAmount": decimal(d, l.tax),
            "LineAmount": decimal(d, l.unit_price * l.quantity - l.discount),
        });
        if l.discount != 0 {
            item["DiscountAmount"] = decimal(d, l.discount);
        }
        out.push(item);
    }
    Ok(out)
}

fn status(c: &AccountingClient) -> &'static str {
    match c.settings.post_as {
        PostAs::Approved => "AUTHORISED",
        PostAs::Draft => "DRAFT",
    }
}

/// The document of that number already in Xero, if any (not deleted or
/// voided).
async fn existing(
    c: &AccountingClient,
    doc: &SyncDocument<'_>,
) -> Result<Option<Value>, PushError> {
    let (path, key) = match doc.kind {
        DocumentKind::Invoice => (
            format!(
                "Invoices?InvoiceNumbers={}",
                crate::support::encode(doc.number)
            ),
            "Invoices",
        ),
        DocumentKind::CreditNote => (
            format!(
                "CreditNotes?where={}",
                where_eq("CreditNoteNumber", doc.number)
            ),
            "CreditNotes",
        ),
    };
    let (_, v) = c.http.send_json(&get(c, &path)).await?;
    Ok(v[key].as_array().and_then(|a| {
        a.iter()
            .find(|x| !matches!(x["Status"].as_str(), Some("DELETED" | "VOIDED")))
            .cloned()
    }))
}

pub(super) async fn push(
    c: &AccountingClient,
    doc: &SyncDocument<'_>,
) -> Result<Booked, PushError> {
    let d = doc.document;
    let (id_field, number_field) = match doc.kind {
        DocumentKind::Invoice => ("InvoiceID", "InvoiceNumber"),
        DocumentKind::CreditNote => ("CreditNoteID", "CreditNoteNumber"),
    };
    let booked = match existing(c, doc).await? {
        Some(found) => found,
        None => {
            let contact = contact(c, doc).await?;
            let date = doc.issued_at.format("%Y-%m-%d").to_string();
            let mut body = json!({
                "Contact": { "ContactID": contact },
                "Date": date,
                "LineAmountTypes": if d.prices_include_tax { "Inclusive" } else { "Exclusive" },
                "Status": status(c),
                "CurrencyCode": d.currency,
                "LineItems": line_items(c, doc).await?,
            });
            body[number_field] = json!(doc.number);
            let path = match doc.kind {
                DocumentKind::Invoice => {
                    body["Type"] = json!("ACCREC");
                    body["DueDate"] = json!(date);
                    body["Reference"] = json!(d.order_number);
                    "Invoices"
                }
                DocumentKind::CreditNote => {
                    body["Type"] = json!("ACCRECCREDIT");
                    body["Reference"] = json!(match doc.credits {
                        Some((_, n)) => format!("{} ({n})", d.order_number),
                        None => d.order_number.clone(),
                    });
                    "CreditNotes"
                }
            };
            let (_, v) = c
                .http
                .send_json(&put(c, path, &json!({ path: [body] }), doc.id))
                .await?;
            let e = v[path][0].clone();
            if let Some(msg) = element_errors(&e) {
                return Err(PushError::Refused(msg));
            }
            e
        }
    };
    let remote_id = booked[id_field]
        .as_str()
        .ok_or_else(|| c.malformed(format!("the booked document has no {id_field}")))?
        .to_owned();
    if doc.kind == DocumentKind::CreditNote
        && booked["Status"] == "AUTHORISED"
        && let Some((invoice_id, _)) = doc.credits
    {
        allocate(c, doc, &remote_id, &booked, invoice_id).await?;
    }
    Ok(Booked {
        remote_id,
        remote_number: booked[number_field].as_str().map(str::to_owned),
    })
}

/// Allocate what is left of the credit note to its invoice.
async fn allocate(
    c: &AccountingClient,
    doc: &SyncDocument<'_>,
    credit_id: &str,
    booked: &Value,
    invoice_id: &str,
) -> Result<(), PushError> {
    let left = booked["RemainingCredit"]
        .as_f64()
        .or(booked["Total"].as_f64())
        .unwrap_or(0.0);
    if left <= 0.0 {
        return Ok(());
    }
    let body = json!({ "Allocations": [{
        "Invoice": { "InvoiceID": invoice_id },
        "Amount": left,
        "Date": doc.issued_at.format("%Y-%m-%d").to_string(),
    }] });
    let (_, v) = c
        .http
        .send_json(&put(
            c,
            &format!("CreditNotes/{credit_id}/Allocations"),
            &body,
            &format!("{}-allocation", doc.id),
        ))
        .await?;
    match element_errors(&v["Allocations"][0]) {
        Some(msg) => Err(PushError::Refused(format!(
            "the credit note is booked, but allocating it to its invoice failed: {msg}"
        ))),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(headers: &[(&'static str, &str)]) -> HttpResponse {
        let mut h = reqwest::header::HeaderMap::new();
        for (k, v) in headers {
            h.insert(
                *k,
                v.parse()
                    .unwrap_or_else(|_| reqwest::header::HeaderValue::from_static("")),
            );
        }
        HttpResponse {
            status: 200,
            headers: h,
            body: Vec::new(),
        }
    }

    #[test]
    fn the_remaining_calls_hold_back_the_next_one_when_spent() {
        assert_eq!(
            limit_signal(&answer(&[("x-minlimit-remaining", "12")])),
            None
        );
        let wait = limit_signal(&answer(&[
            ("x-minlimit-remaining", "0"),
            ("x-daylimit-remaining", "4000"),
        ]))
        .unwrap_or_default();
        assert!(
            wait >= Duration::from_secs(1) && wait <= Duration::from_secs(61),
            "{wait:?}"
        );
        assert_eq!(
            limit_signal(&answer(&[("x-daylimit-remaining", "0")])),
            Some(Duration::from_secs(3600))
        );
        assert!(limit_signal(&answer(&[("x-appminlimit-remaining", "0")])).is_some());
    }

    #[test]
    fn a_resent_request_keeps_its_key_and_a_changed_one_gets_another() {
        let a = json!({ "Invoices": [{ "InvoiceNumber": "INV-1", "LineItems": [{ "AccountCode": "999" }] }] });
        let b = json!({ "Invoices": [{ "InvoiceNumber": "INV-1", "LineItems": [{ "AccountCode": "200" }] }] });
        assert_eq!(idempotency_key("inv_1", &a), idempotency_key("inv_1", &a));
        assert_ne!(idempotency_key("inv_1", &a), idempotency_key("inv_1", &b));
        assert!(idempotency_key("inv_1", &a).starts_with("inv_1-"));
    }
}
