//! Sage writes: contacts, sales invoices and credit notes (checked as Sage
//! does, errors in its list form), and contact allocations.

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use serde_json::{Value, json};

use super::{App, LEDGER, TAX_RATES, gate, refuse};
use crate::books::{amount, cents};
use crate::core::lock;

#[allow(
    clippy::result_large_err,
    reason = "the error is the finished response"
)]
fn body_of(body: &Bytes, key: &str) -> Result<Value, Response> {
    let v: Value = serde_json::from_slice(body).map_err(|_| {
        refuse(
            StatusCode::BAD_REQUEST,
            &[("InvalidJson", "The request body is not valid JSON.", "")],
        )
    })?;
    match v.get(key) {
        Some(x) if x.is_object() => Ok(x.clone()),
        _ => Err(refuse(
            StatusCode::UNPROCESSABLE_ENTITY,
            &[("RecordInvalid", &format!("{key} is missing"), key)],
        )),
    }
}

pub(super) async fn create_contact(
    State(sim): State<App>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Err(r) = gate(&sim, &headers, true) {
        return r;
    }
    let c = match body_of(&body, "contact") {
        Ok(c) => c,
        Err(r) => return r,
    };
    let name = c["name"].as_str().unwrap_or("").trim().to_owned();
    if name.is_empty() {
        return refuse(
            StatusCode::UNPROCESSABLE_ENTITY,
            &[("RecordInvalid", "can't be blank", "name")],
        );
    }
    let types = c["contact_type_ids"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    if types.is_empty() {
        return refuse(
            StatusCode::UNPROCESSABLE_ENTITY,
            &[("RecordInvalid", "can't be blank", "contact_type_ids")],
        );
    }
    let mut b = lock(&sim.books);
    let id = b.id();
    let n = b.contacts.len() + 1;
    let made = json!({
        "id": id, "displayed_as": format!("{name} (C{n:04})"), "$path": format!("/contacts/{id}"),
        "name": name, "reference": format!("C{n:04}"), "email": c["email"].as_str().unwrap_or(""),
        "contact_types": types.iter().map(|t| json!({ "id": t, "displayed_as": t })).collect::<Vec<_>>(),
        "balance": 0.0, "system": false, "deletable": true,
        "created_at": Utc::now().to_rfc3339(), "updated_at": Utc::now().to_rfc3339(),
    });
    b.contacts.push(made.clone());
    (StatusCode::CREATED, Json(made)).into_response()
}

/// Check and total the lines of an artefact: `(net, tax, lines, errors)`.
fn lines(doc: &Value, key: &str) -> (i64, i64, Vec<Value>, Vec<(String, String)>) {
    let mut errs = Vec::new();
    let (mut net, mut tax) = (0, 0);
    let mut out = Vec::new();
    let items = doc[key].as_array().cloned().unwrap_or_default();
    if items.is_empty() {
        errs.push((key.to_owned(), "can't be blank".to_owned()));
    }
    for (i, l) in items.iter().enumerate() {
        let src = |f: &str| format!("{key}[{i}].{f}");
        if l["description"]
            .as_str()
            .is_none_or(|d| d.trim().is_empty())
        {
            errs.push((src("description"), "can't be blank".into()));
        }
        let ledger = l["ledger_account_id"].as_str().unwrap_or("");
        if !LEDGER.iter().any(|(id, ..)| *id == ledger) {
            errs.push((src("ledger_account_id"), "is invalid".into()));
        }
        let Some(unit) = cents(&l["unit_price"]) else {
            errs.push((src("unit_price"), "can't be blank".into()));
            continue;
        };
        let rate = l["tax_rate_id"].as_str().unwrap_or("");
        let Some((_, _, pct)) = TAX_RATES.iter().find(|(id, ..)| *id == rate) else {
            errs.push((src("tax_rate_id"), "is invalid".into()));
            continue;
        };
        let t = match cents(&l["tax_amount"]) {
            Some(t) => t,
            None if *pct == 0.0 => 0,
            None => {
                errs.push((
                    src("tax_amount"),
                    "is required for a tax rate with a percentage".into(),
                ));
                continue;
            }
        };
        let q = l["quantity"].as_f64().unwrap_or(1.0);
        let disc = cents(&l["discount_amount"]).unwrap_or(0);
        let gross_in = l["unit_price_includes_tax"].as_bool().unwrap_or(false);
        let line = (q * unit as f64).round() as i64 - disc;
        let n = if gross_in { line - t } else { line };
        net += n;
        tax += t;
        let mut echo = l.clone();
        echo["net_amount"] = amount(n);
        echo["tax_amount"] = amount(t);
        echo["total_amount"] = amount(n + t);
        echo["ledger_account"] = json!({ "id": ledger });
        echo["tax_rate"] = json!({ "id": rate });
        if let Some(o) = echo.as_object_mut() {
            o.remove("ledger_account_id");
            o.remove("tax_rate_id");
        }
        out.push(echo);
    }
    (net, tax, out, errs)
}

fn invalid(errs: &[(String, String)]) -> Response {
    let list: Vec<(&str, &str, &str)> = errs
        .iter()
        .map(|(s, m)| ("RecordInvalid", m.as_str(), s.as_str()))
        .collect();
    refuse(StatusCode::UNPROCESSABLE_ENTITY, &list)
}

async fn create_artefact(sim: App, headers: HeaderMap, body: Bytes, credit: bool) -> Response {
    if let Err(r) = gate(&sim, &headers, true) {
        return r;
    }
    let (key, lines_key, prefix) = if credit {
        ("sales_credit_note", "credit_note_lines", "SCN-")
    } else {
        ("sales_invoice", "invoice_lines", "SI-")
    };
    let doc = match body_of(&body, key) {
        Ok(d) => d,
        Err(r) => return r,
    };
    let (net, tax, out_lines, mut errs) = lines(&doc, lines_key);
    let mut b = lock(&sim.books);
    let contact = doc["contact_id"]
        .as_str()
        .and_then(|id| b.contacts.iter().find(|c| c["id"] == id).cloned());
    if contact.is_none() {
        errs.push(("contact_id".into(), "is invalid".into()));
    }
    if doc["date"]
        .as_str()
        .and_then(|d| chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d").ok())
        .is_none()
    {
        errs.push(("date".into(), "is not a valid date".into()));
    }
    if doc["reference"]
        .as_str()
        .is_some_and(|r| r.chars().count() > 25)
    {
        errs.push((
            "reference".into(),
            "is too long (maximum is 25 characters)".into(),
        ));
    }
    if !errs.is_empty() {
        return invalid(&errs);
    }
    let contact = contact.unwrap_or_default();
    let id = b.id();
    let list = if credit { &b.credit_notes } else { &b.invoices };
    let number = format!("{prefix}{}", list.len() + 1);
    let path = if credit {
        "sales_credit_notes"
    } else {
        "sales_invoices"
    };
    let mut made = json!({
        "id": id, "displayed_as": number, "$path": format!("/{path}/{id}"),
        "contact": { "id": contact["id"], "displayed_as": contact["displayed_as"] },
        "contact_name": contact["name"], "contact_reference": contact["reference"],
        "date": doc["date"], "reference": doc["reference"].as_str().unwrap_or(""),
        "net_amount": amount(net), "tax_amount": amount(tax), "total_amount": amount(net + tax),
        "outstanding_amount": amount(net + tax),
        "currency": { "id": doc["currency_id"].as_str().unwrap_or("GBP"), "displayed_as": doc["currency_id"].as_str().unwrap_or("GBP") },
        "status": { "id": "UNPAID", "displayed_as": "Unpaid" },
        "editable": true, "sent": false,
        lines_key: out_lines,
        "created_at": Utc::now().to_rfc3339(), "updated_at": Utc::now().to_rfc3339(),
    });
    if credit {
        made["credit_note_number"] = json!(number);
        made["credit_note_number_prefix"] = json!("SCN-");
        b.credit_notes.push(made.clone());
    } else {
        made["invoice_number"] = json!(number);
        made["invoice_number_prefix"] = json!("SI-");
        made["due_date"] = doc["date"].clone();
        b.invoices.push(made.clone());
    }
    (StatusCode::CREATED, Json(made)).into_response()
}

pub(super) async fn create_invoice(
    State(sim): State<App>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    create_artefact(sim, headers, body, false).await
}

pub(super) async fn create_credit_note(
    State(sim): State<App>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    create_artefact(sim, headers, body, true).await
}

/// `POST /contact_allocations`: allocate a credit note to an invoice of
/// the same contact (the artefacts' amounts add up to zero).
pub(super) async fn allocate(State(sim): State<App>, headers: HeaderMap, body: Bytes) -> Response {
    if let Err(r) = gate(&sim, &headers, true) {
        return r;
    }
    let a = match body_of(&body, "contact_allocation") {
        Ok(a) => a,
        Err(r) => return r,
    };
    let mut errs: Vec<(String, String)> = Vec::new();
    if a["transaction_type_id"].as_str() != Some("CUSTOMER_ALLOCATION") {
        errs.push(("transaction_type_id".into(), "is invalid".into()));
    }
    let contact = a["contact_id"].as_str().unwrap_or("").to_owned();
    let arts = a["allocated_artefacts"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let sum: i64 = arts.iter().filter_map(|x| cents(&x["amount"])).sum();
    if arts.len() < 2 || sum != 0 {
        errs.push((
            "allocated_artefacts".into(),
            "must balance: the amounts add up to zero".into(),
        ));
    }
    let mut b = lock(&sim.books);
    let mut found = Vec::new();
    for (i, art) in arts.iter().enumerate() {
        let id = art["artefact_id"].as_str().unwrap_or("");
        let amt = cents(&art["amount"]).unwrap_or(0);
        let inv = b.invoices.iter().position(|x| x["id"] == id);
        let cn = b.credit_notes.iter().position(|x| x["id"] == id);
        let (list_credit, pos) = match (inv, cn) {
            (Some(p), _) => (false, p),
            (None, Some(p)) => (true, p),
            (None, None) => {
                errs.push((
                    format!("allocated_artefacts[{i}].artefact_id"),
                    "is invalid".into(),
                ));
                continue;
            }
        };
        let rec = if list_credit {
            &b.credit_notes[pos]
        } else {
            &b.invoices[pos]
        };
        if rec["contact"]["id"] != contact.as_str() {
            errs.push((
                format!("allocated_artefacts[{i}].artefact_id"),
                "belongs to another contact".into(),
            ));
        }
        if amt.abs() > cents(&rec["outstanding_amount"]).unwrap_or(0) {
            errs.push((
                format!("allocated_artefacts[{i}].amount"),
                "exceeds the outstanding amount".into(),
            ));
        }
        found.push((list_credit, pos, amt));
    }
    if !errs.is_empty() {
        return invalid(&errs);
    }
    for (credit, pos, amt) in &found {
        let rec = if *credit {
            &mut b.credit_notes[*pos]
        } else {
            &mut b.invoices[*pos]
        };
        let left = cents(&rec["outstanding_amount"]).unwrap_or(0) - amt.abs();
        rec["outstanding_amount"] = amount(left);
        if left == 0 {
            rec["status"] = json!({ "id": "PAID", "displayed_as": "Paid" });
        } else {
            rec["status"] = json!({ "id": "PART_PAID", "displayed_as": "Part Paid" });
        }
    }
    let id = b.id();
    let made = json!({
        "id": id, "displayed_as": format!("Allocation {}", b.allocations.len() + 1), "$path": format!("/contact_allocations/{id}"),
        "transaction_type": { "id": "CUSTOMER_ALLOCATION", "displayed_as": "Customer Allocation" },
        "date": a["date"].as_str().map_or_else(|| Utc::now().format("%Y-%m-%d").to_string(), str::to_owned),
        "contact": { "id": contact },
        // As Sage answers them: each with its own id and the artefact.
        "allocated_artefacts": arts.iter().enumerate().map(|(i, x)| json!({
            "id": format!("{id}-{i}"),
            "artefact": { "id": x["artefact_id"], "displayed_as": x["artefact_id"] },
            "amount": x["amount"],
        })).collect::<Vec<_>>(),
        "created_at": Utc::now().to_rfc3339(), "updated_at": Utc::now().to_rfc3339(),
    });
    b.allocations.push(made.clone());
    (StatusCode::CREATED, Json(made)).into_response()
}
