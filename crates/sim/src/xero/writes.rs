//! Xero writes: contacts, invoices and credit notes (checked per element
//! as Xero does, answered per `summarizeErrors`, replayed per
//! `Idempotency-Key`), and credit note allocations.

use std::collections::BTreeMap;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use serde_json::{Value, json};

use super::{ACCOUNTS, App, Books, Sim, TAX_RATES, gate, with_headers, xero_date};
use crate::books::{amount, cents};
use crate::core::{self, lock};

/// A write's rate-limit headers, idempotency key and elements.
type Write = (Vec<(&'static str, String)>, Option<String>, Vec<Value>);

/// A write's common part: the gate, the idempotency replay, the body.
#[allow(
    clippy::result_large_err,
    reason = "the error is the finished response"
)]
fn begin_write(sim: &Sim, headers: &HeaderMap, body: &Bytes, key: &str) -> Result<Write, Response> {
    let h = gate(sim, headers, true)?;
    let idem = headers
        .get("idempotency-key")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    if let Some(k) = &idem
        && let Some((status, v)) = lock(&sim.books).replies.get(k)
    {
        let status = StatusCode::from_u16(*status).unwrap_or(StatusCode::OK);
        return Err(with_headers((status, Json(v.clone())).into_response(), h));
    }
    let v: Value = serde_json::from_slice(body).map_err(|e| {
        (
            StatusCode::BAD_REQUEST,
            Json(json!({ "ErrorNumber": 14, "Type": "PostDataInvalidException", "Message": format!("JSON for post data was invalid,{e}") })),
        )
            .into_response()
    })?;
    // One element or a list under the collection's name.
    let items = match v.get(key) {
        Some(Value::Array(a)) => a.clone(),
        _ if v.is_object() => vec![v],
        _ => Vec::new(),
    };
    Ok((h, idem, items))
}

/// The answer to a write: with `summarizeErrors=false` every element with
/// its own errors; otherwise 400 when any failed.
fn finish_write(
    sim: &Sim,
    h: Vec<(&'static str, String)>,
    idem: Option<String>,
    key: &str,
    results: Vec<Value>,
    q: &BTreeMap<String, String>,
) -> Response {
    let failed = results
        .iter()
        .any(|r| r["HasErrors"] == true || r["HasValidationErrors"] == true);
    let summarize = q.get("summarizeErrors").map(String::as_str) != Some("false");
    let (status, body) = if failed && summarize {
        // Each element as Xero's `Element`: its errors and its id.
        let elements: Vec<Value> = results
            .iter()
            .map(|r| {
                let mut e = json!({ "ValidationErrors": r["ValidationErrors"].clone() });
                for id in ["ContactID", "InvoiceID", "CreditNoteID"] {
                    if r[id].is_string() {
                        e[id] = r[id].clone();
                    }
                }
                e
            })
            .collect();
        (
            StatusCode::BAD_REQUEST,
            json!({ "ErrorNumber": 10, "Type": "ValidationException", "Message": "A validation exception occurred", "Elements": elements }),
        )
    } else {
        (StatusCode::OK, json!({ key: results }))
    };
    if let Some(k) = idem {
        lock(&sim.books)
            .replies
            .insert(k, (status.as_u16(), body.clone()));
    }
    with_headers((status, Json(body)).into_response(), h)
}

pub(super) async fn create_contacts(
    State(sim): State<App>,
    headers: HeaderMap,
    Query(q): Query<BTreeMap<String, String>>,
    body: Bytes,
) -> Response {
    let (h, idem, items) = match begin_write(&sim, &headers, &body, "Contacts") {
        Ok(x) => x,
        Err(r) => return r,
    };
    let mut results = Vec::new();
    {
        let mut b = lock(&sim.books);
        for c in items {
            let name = c["Name"].as_str().unwrap_or("").trim().to_owned();
            let mut errors = Vec::new();
            if name.is_empty() {
                errors.push("The contact name must be specified.".to_owned());
            } else if b
                .contacts
                .iter()
                .any(|x| x["Name"].as_str() == Some(name.as_str()))
            {
                errors.push(format!("The contact name {name} is already assigned to another contact. The contact name must be unique across all active contacts."));
            }
            if errors.is_empty() {
                let id = b.uuid();
                let made = json!({
                    "ContactID": id, "ContactStatus": "ACTIVE", "Name": name,
                    "EmailAddress": c["EmailAddress"].as_str().unwrap_or(""),
                    "IsSupplier": false, "IsCustomer": true, "HasAttachments": false,
                    "HasValidationErrors": false,
                    "UpdatedDateUTC": xero_date(Utc::now().timestamp_millis()),
                    "Addresses": [], "Phones": [], "ContactGroups": [], "ContactPersons": [],
                });
                b.contacts.push(made.clone());
                results.push(made);
            } else {
                let mut c = c.clone();
                c["HasValidationErrors"] = json!(true);
                c["ValidationErrors"] = json!(
                    errors
                        .iter()
                        .map(|m| json!({ "Message": m }))
                        .collect::<Vec<_>>()
                );
                results.push(c);
            }
        }
    }
    finish_write(&sim, h, idem, "Contacts", results, &q)
}

/// Check and total a document's lines: `(sub total, tax, errors)`.
fn lines(doc: &Value) -> (i64, i64, Vec<String>) {
    let mut errors = Vec::new();
    let (mut sub, mut tax) = (0, 0);
    let items = doc["LineItems"].as_array().cloned().unwrap_or_default();
    if items.is_empty() {
        errors.push("A line item must be specified.".to_owned());
    }
    let inclusive = doc["LineAmountTypes"].as_str() == Some("Inclusive");
    for (i, l) in items.iter().enumerate() {
        let code = l["AccountCode"].as_str().unwrap_or("");
        if !ACCOUNTS
            .iter()
            .any(|(c, _, kind, _)| *c == code && *kind == "REVENUE")
        {
            errors.push(format!(
                "Account code '{code}' is not a valid code for this document."
            ));
        }
        let tax_type = l["TaxType"].as_str().unwrap_or("OUTPUT2");
        let Some((_, _, pct)) = TAX_RATES.iter().find(|(t, _, _)| *t == tax_type) else {
            errors.push(format!("The TaxType code '{tax_type}' does not exist or cannot be used for this type of transaction."));
            continue;
        };
        let q = l["Quantity"].as_f64().unwrap_or(1.0);
        let unit = cents(&l["UnitAmount"]).unwrap_or(0);
        let disc = cents(&l["DiscountAmount"]).unwrap_or(0);
        let line = (q * unit as f64).round() as i64 - disc;
        if let Some(given) = cents(&l["LineAmount"])
            && (given - line).abs() > 1
        {
            errors.push(format!("Line {}: the line total {} does not match the quantity, unit amount and discount ({}).", i + 1, core::decimal(given, 2), core::decimal(line, 2)));
        }
        let t = cents(&l["TaxAmount"]).unwrap_or_else(|| {
            let base = if inclusive {
                line as f64 / (1.0 + pct / 100.0)
            } else {
                line as f64
            };
            (base * pct / 100.0).round() as i64
        });
        sub += if inclusive { line - t } else { line };
        tax += t;
    }
    (sub, tax, errors)
}

fn contact_of(b: &Books, doc: &Value) -> Option<Value> {
    let id = doc["Contact"]["ContactID"].as_str()?;
    b.contacts.iter().find(|c| c["ContactID"] == id).cloned()
}

fn date_ms(doc: &Value) -> i64 {
    doc["Date"]
        .as_str()
        .and_then(|d| chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d").ok())
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map_or_else(
            || Utc::now().timestamp_millis(),
            |d| d.and_utc().timestamp_millis(),
        )
}

fn echo_lines(doc: &Value, b: &mut Books) -> Vec<Value> {
    doc["LineItems"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .map(|mut l| {
            l["LineItemID"] = json!(b.uuid());
            for k in ["UnitAmount", "LineAmount", "TaxAmount", "DiscountAmount"] {
                if let Some(c) = cents(&l[k]) {
                    l[k] = amount(c);
                }
            }
            l.as_object_mut().map(|o| o.remove("ItemCode"));
            l
        })
        .collect()
}

/// What differs between invoices and credit notes.
#[derive(Debug, Clone, Copy)]
struct Kind {
    /// The collection (`Invoices`, `CreditNotes`).
    key: &'static str,
    /// The id and number fields.
    id: &'static str,
    number: &'static str,
    /// The types allowed.
    types: [&'static str; 2],
    /// What Xero calls it in its messages.
    name: &'static str,
    /// Numbers Xero makes when none is given.
    prefix: &'static str,
}

const INVOICE: Kind = Kind {
    key: "Invoices",
    id: "InvoiceID",
    number: "InvoiceNumber",
    types: ["ACCREC", "ACCPAY"],
    name: "Invoice",
    prefix: "INV-",
};

const CREDIT_NOTE: Kind = Kind {
    key: "CreditNotes",
    id: "CreditNoteID",
    number: "CreditNoteNumber",
    types: ["ACCRECCREDIT", "ACCPAYCREDIT"],
    name: "Credit Note",
    prefix: "CN-",
};

pub(super) async fn create_invoices(
    State(sim): State<App>,
    headers: HeaderMap,
    Query(q): Query<BTreeMap<String, String>>,
    body: Bytes,
) -> Response {
    create_documents(&sim, &headers, &q, &body, INVOICE)
}

pub(super) async fn create_credit_notes(
    State(sim): State<App>,
    headers: HeaderMap,
    Query(q): Query<BTreeMap<String, String>>,
    body: Bytes,
) -> Response {
    create_documents(&sim, &headers, &q, &body, CREDIT_NOTE)
}

/// `PUT`/`POST /Invoices` and `/CreditNotes`: each element checked as Xero
/// does, created when it passes.
fn create_documents(
    sim: &Sim,
    headers: &HeaderMap,
    q: &BTreeMap<String, String>,
    body: &Bytes,
    kind: Kind,
) -> Response {
    let (h, idem, items) = match begin_write(sim, headers, body, kind.key) {
        Ok(x) => x,
        Err(r) => return r,
    };
    let mut results = Vec::new();
    {
        let mut b = lock(&sim.books);
        for doc in items {
            let (sub, tax, mut errors) = lines(&doc);
            if !kind.types.contains(&doc["Type"].as_str().unwrap_or("")) {
                errors.push(format!("{} Type must be specified.", kind.name));
            }
            let contact = contact_of(&b, &doc);
            if contact.is_none() {
                errors.push("A Contact must be specified for this type of transaction".to_owned());
            }
            let status = doc["Status"].as_str().unwrap_or("DRAFT").to_owned();
            if !["DRAFT", "SUBMITTED", "AUTHORISED"].contains(&status.as_str()) {
                errors.push(format!("{} not of valid status for creation", kind.name));
            }
            let number = doc[kind.number].as_str().unwrap_or("").to_owned();
            let list = if kind.key == INVOICE.key {
                &b.invoices
            } else {
                &b.credit_notes
            };
            if !number.is_empty()
                && list
                    .iter()
                    .any(|i| i[kind.number].as_str() == Some(number.as_str()))
            {
                errors.push(format!("{} # must be unique.", kind.name));
            }
            if !errors.is_empty() {
                let mut d = doc.clone();
                d["HasErrors"] = json!(true);
                d["ValidationErrors"] = json!(
                    errors
                        .iter()
                        .map(|m| json!({ "Message": m }))
                        .collect::<Vec<_>>()
                );
                results.push(d);
                continue;
            }
            let number = if number.is_empty() {
                format!("{}{:04}", kind.prefix, list.len() + 1)
            } else {
                number
            };
            let id = b.uuid();
            let total = sub + tax;
            let mut made = json!({
                "Type": doc["Type"],
                "Reference": doc["Reference"].as_str().unwrap_or(""),
                "Contact": contact, "Date": xero_date(date_ms(&doc)),
                "Status": status, "LineAmountTypes": doc["LineAmountTypes"].as_str().unwrap_or("Exclusive"),
                "LineItems": echo_lines(&doc, &mut b),
                "SubTotal": amount(sub), "TotalTax": amount(tax), "Total": amount(total),
                "CurrencyCode": doc["CurrencyCode"].as_str().unwrap_or("GBP"), "CurrencyRate": 1.0,
                "HasAttachments": false, "HasErrors": false, "SentToContact": false,
                "UpdatedDateUTC": xero_date(Utc::now().timestamp_millis()),
                "Payments": [],
            });
            made[kind.id] = json!(id);
            made[kind.number] = json!(number);
            if kind.key == INVOICE.key {
                made["DueDate"] = json!(xero_date(date_ms(&doc)));
                made["AmountDue"] = amount(total);
                made["AmountPaid"] = json!(0.0);
                made["AmountCredited"] = json!(0.0);
                made["IsDiscounted"] = json!(false);
                for k in ["CreditNotes", "Prepayments", "Overpayments"] {
                    made[k] = json!([]);
                }
                b.invoices.push(made.clone());
            } else {
                made["RemainingCredit"] = amount(total);
                made["Allocations"] = json!([]);
                b.credit_notes.push(made.clone());
            }
            results.push(made);
        }
    }
    finish_write(sim, h, idem, kind.key, results, q)
}

pub(super) async fn allocate(
    State(sim): State<App>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Query(q): Query<BTreeMap<String, String>>,
    body: Bytes,
) -> Response {
    let (h, idem, items) = match begin_write(&sim, &headers, &body, "Allocations") {
        Ok(x) => x,
        Err(r) => return r,
    };
    let mut results = Vec::new();
    {
        let mut b = lock(&sim.books);
        let Some(ci) = b
            .credit_notes
            .iter()
            .position(|c| c["CreditNoteID"] == id.as_str())
        else {
            return with_headers(
                (StatusCode::NOT_FOUND, Json(json!({ "Title": "Not Found", "Status": 404, "Detail": "The resource you're looking for cannot be found" }))).into_response(),
                h,
            );
        };
        for a in items {
            let mut errors = Vec::new();
            let amt = cents(&a["Amount"]).unwrap_or(0);
            let inv_id = a["Invoice"]["InvoiceID"].as_str().unwrap_or("").to_owned();
            let ii = b
                .invoices
                .iter()
                .position(|i| i["InvoiceID"] == inv_id.as_str());
            let credit = &b.credit_notes[ci];
            if credit["Status"] != "AUTHORISED" {
                errors.push("Only AUTHORISED credit notes can be allocated".to_owned());
            }
            if amt <= 0 || amt > cents(&credit["RemainingCredit"]).unwrap_or(0) {
                errors.push(
                    "The amount must be more than zero and no more than the remaining credit."
                        .to_owned(),
                );
            }
            match ii {
                None => errors.push("Invoice could not be found".to_owned()),
                Some(ii) => {
                    let inv = &b.invoices[ii];
                    if inv["Status"] != "AUTHORISED" {
                        errors.push("Only AUTHORISED invoices can be allocated to".to_owned());
                    }
                    if amt > cents(&inv["AmountDue"]).unwrap_or(0) {
                        errors.push(
                            "The amount cannot be more than the amount due on the invoice."
                                .to_owned(),
                        );
                    }
                }
            }
            let Some(ii) = ii.filter(|_| errors.is_empty()) else {
                let mut d = a.clone();
                d["ValidationErrors"] = json!(
                    errors
                        .iter()
                        .map(|m| json!({ "Message": m }))
                        .collect::<Vec<_>>()
                );
                d["StatusAttributeString"] = json!("ERROR");
                results.push(d);
                continue;
            };
            let alloc_id = b.uuid();
            let due = cents(&b.invoices[ii]["AmountDue"]).unwrap_or(0) - amt;
            let credited = cents(&b.invoices[ii]["AmountCredited"]).unwrap_or(0) + amt;
            b.invoices[ii]["AmountDue"] = amount(due);
            b.invoices[ii]["AmountCredited"] = amount(credited);
            if due == 0 {
                b.invoices[ii]["Status"] = json!("PAID");
            }
            let left = cents(&b.credit_notes[ci]["RemainingCredit"]).unwrap_or(0) - amt;
            b.credit_notes[ci]["RemainingCredit"] = amount(left);
            if left == 0 {
                b.credit_notes[ci]["Status"] = json!("PAID");
            }
            let made = json!({
                "AllocationID": alloc_id, "Amount": amount(amt), "Date": xero_date(date_ms(&a)),
                "Invoice": { "InvoiceID": inv_id, "InvoiceNumber": b.invoices[ii]["InvoiceNumber"] },
                "CreditNote": { "CreditNoteID": id, "CreditNoteNumber": b.credit_notes[ci]["CreditNoteNumber"] },
                "IsDeleted": false,
            });
            if let Some(list) = b.credit_notes[ci]["Allocations"].as_array_mut() {
                list.push(made.clone());
            }
            b.allocations.push(made.clone());
            results.push(made);
        }
    }
    finish_write(&sim, h, idem, "Allocations", results, &q)
}
