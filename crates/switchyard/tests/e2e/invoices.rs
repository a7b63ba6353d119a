//! Invoices end to end: an order imported from the Shopify simulator is
//! invoiced by itself, its PDF reads correctly (checked with pdftotext),
//! a second invoice is refused, and cancelling the order on the channel
//! issues a credit note against it. Invoices made through the API, partial
//! credit notes, a 200-line order printed over several pages, bad input
//! and another account's reach are tested too.

use std::process::Command;

use serde_json::{Value, json};

use crate::{World, eventually};

/// A 24×12 RGBA PNG, the store's logo.
const LOGO: &str = "iVBORw0KGgoAAAANSUhEUgAAABgAAAAMCAYAAAB4MH11AAAAq0lEQVR4nO2RIQ4CQRAE7xFIJBKJXIlEIpFIJBLRAolEIk4gkUgkkj8Ntclu0hmBRpyoTDKm0t3DrIyalzEWsIQVFH5r7ga2sIM9vwP3CCc4w4XflXuDOzzgye/FfcMHBgSRBEIQSSAEkQRCEEkgBPFLoJbABWoJXKCWwAVqCVwgF8gq6gJZRV0gq6gLZBV1gTyB0gZVoLRBFShtUAVKG1SBvKJp5GnkPx/5C03neDiyaElzAAAAAElFTkSuQmCC";

fn settings(auto: &str) -> Value {
    json!({
        "prefix": "ACME-",
        "auto": auto,
        "seller": {
            "name": "Acme Trading B.V.",
            "address": ["Keizersgracht 1", "1015 CJ Amsterdam", "Netherlands"],
            "vat_number": "NL123456789B01",
            "email": "billing@acme.example"
        },
        "tax_rates": { "default_bp": 2100, "countries": { "DE": 1900 } },
        "footer": "Payment received with thanks.",
        "logo_png": LOGO
    })
}

/// Money as the PDF prints it (two decimals).
fn eur(minor: i64) -> String {
    format!(
        "{}{}.{:02}",
        if minor < 0 { "-" } else { "" },
        minor.abs() / 100,
        minor.abs() % 100
    )
}

/// The PDF's text, by pdftotext with its layout kept.
fn pdf_text(bytes: &[u8]) -> String {
    assert!(bytes.starts_with(b"%PDF-"), "not a PDF");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("doc.pdf");
    std::fs::write(&path, bytes).unwrap();
    let out = Command::new("pdftotext")
        .args(["-layout", "-enc", "UTF-8"])
        .arg(&path)
        .arg("-")
        .output()
        .expect("pdftotext (Debian's poppler-utils; scripts/test installs it)");
    assert!(
        out.status.success(),
        "pdftotext: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    if let Ok(dir) = std::env::var("SWITCHYARD_PDFS") {
        let _ = std::fs::create_dir_all(&dir);
        let n = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        let _ = std::fs::write(format!("{dir}/invoice-{n}.pdf"), bytes);
    }
    String::from_utf8(out.stdout).unwrap()
}

async fn pdf(w: &World, id: &str) -> Vec<u8> {
    let r = reqwest::Client::new()
        .get(format!("{}/v1/invoices/{id}.pdf", w.app.address))
        .bearer_auth(&w.t.token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "application/pdf");
    r.bytes().await.unwrap().to_vec()
}

async fn documents(w: &World, query: &str) -> Vec<Value> {
    let r = w
        .app
        .get(&w.t, &format!("/v1/stores/{}/invoices?{query}", w.store))
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    r.body["items"].as_array().unwrap().clone()
}

async fn wait_documents(w: &World, query: &str, n: usize) -> Vec<Value> {
    eventually(&format!("{n} documents ({query})"), 30, || async {
        documents(w, query).await.len() == n
    })
    .await;
    documents(w, query).await
}

/// The line of the PDF's text that starts with `no` in the table.
fn row<'a>(text: &'a str, no: u32, sku: &str) -> &'a str {
    text.lines()
        .find(|l| {
            let mut cells = l.split_whitespace();
            cells.next() == Some(&no.to_string()) && cells.next() == Some(sku)
        })
        .unwrap_or_else(|| panic!("no row {no} {sku} in:\n{text}"))
}

#[tokio::test]
async fn an_imported_order_is_invoiced_printed_and_credited_when_cancelled() {
    let w = World::new(json!({})).await;
    let r = w
        .app
        .put(
            &w.t,
            &format!("/v1/stores/{}/invoice-settings", w.store),
            &settings("imported"),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["next_invoice"], "ACME-00001");
    assert!(r.body["auto_since"].is_string());

    let channel_id = w
        .shopify
        .order(
            &[("SKU-00001", 2), ("SKU-00004", 1)],
            json!({ "country": "DE" }),
        )
        .await;
    let orders = w.wait_orders("", 1, 20).await;
    let order = w
        .app
        .get(
            &w.t,
            &format!("/v1/orders/{}", orders[0]["id"].as_str().unwrap()),
        )
        .await
        .body;
    let unified = &order["unified"];

    let docs = wait_documents(&w, "", 1).await;
    let inv = &docs[0];
    assert_eq!(inv["kind"], "invoice");
    assert_eq!(inv["number"], "ACME-00001");
    assert_eq!(inv["source"], "auto");
    assert_eq!(inv["order_id"], order["id"]);
    // The channel's amounts, exactly: lines, shipping, 20 % tax on top.
    assert_eq!(inv["gross"], unified["total"], "{inv}");
    assert_eq!(inv["tax"], unified["tax_total"]);
    assert!(inv["difference"].is_null());
    assert_eq!(inv["tax_source"], "channel");
    assert_eq!(inv["prices_include_tax"], false);
    let lines = inv["lines"].as_array().unwrap();
    assert_eq!(lines.len(), 3, "two products and shipping");
    assert_eq!(lines[2]["kind"], "shipping");
    assert!(lines.iter().all(|l| l["tax_rate_bp"] == 2000), "{inv}");
    assert_eq!(inv["seller"]["vat_number"], "NL123456789B01");
    assert_eq!(inv["buyer"]["shipping_address"]["country"], "DE");

    // The PDF says the same, and so does asking with Accept.
    let id = inv["id"].as_str().unwrap();
    let bytes = pdf(&w, id).await;
    let text = pdf_text(&bytes);
    for want in [
        "INVOICE",
        "ACME-00001",
        "Acme Trading B.V.",
        "Keizersgracht 1",
        "VAT: NL123456789B01",
        "Bill to",
        "Ship to",
        "Payment received with thanks.",
    ] {
        assert!(text.contains(want), "`{want}` missing from:\n{text}");
    }
    assert!(text.contains(unified["number"].as_str().unwrap()));
    for l in lines {
        let no = u32::try_from(l["line_no"].as_u64().unwrap()).unwrap();
        let sku = l["sku"].as_str().unwrap_or("");
        if sku.is_empty() {
            let shipping = text
                .lines()
                .find(|t| t.contains("Shipping"))
                .expect("shipping row");
            assert!(shipping.contains(&eur(l["net"].as_i64().unwrap())));
            continue;
        }
        let r = row(&text, no, sku);
        for cell in [
            l["quantity"].to_string(),
            eur(l["unit_price"].as_i64().unwrap()),
            "20 %".to_owned(),
            eur(l["net"].as_i64().unwrap()),
        ] {
            assert!(r.contains(&cell), "row `{r}` lacks `{cell}`");
        }
    }
    let total = format!("Total {}", inv["currency"].as_str().unwrap());
    let total_line = text.lines().find(|t| t.contains(&total)).unwrap();
    assert!(total_line.contains(&eur(inv["gross"].as_i64().unwrap())));
    let tax_line = text.lines().find(|t| t.contains("Tax 20 % on")).unwrap();
    assert!(tax_line.contains(&eur(inv["net"].as_i64().unwrap())));
    assert!(tax_line.contains(&eur(inv["tax"].as_i64().unwrap())));
    assert!(!text.contains("Page 1 of"), "one page, no page numbers");
    let by_accept = reqwest::Client::new()
        .get(format!("{}/v1/invoices/{id}", w.app.address))
        .bearer_auth(&w.t.token)
        .header("accept", "application/pdf")
        .send()
        .await
        .unwrap();
    assert_eq!(by_accept.headers()["content-type"], "application/pdf");

    // One invoice in force per order.
    let again = w
        .app
        .post(
            &w.t,
            &format!("/v1/orders/{}/invoices", order["id"].as_str().unwrap()),
            &json!({}),
        )
        .await;
    assert_eq!(again.status, 409, "{}", again.body);
    assert_eq!(again.body["error"]["code"], "invoice_exists");

    // Cancelled on the channel: a credit note for all of it.
    w.shopify
        .post(&format!("/_sim/orders/{channel_id}/cancel"), json!({}))
        .await;
    let credits = wait_documents(&w, "kind=credit_note", 1).await;
    let cn = &credits[0];
    assert_eq!(cn["number"], "CN-00001");
    assert_eq!(cn["credits_id"], inv["id"]);
    assert_eq!(cn["gross"], inv["gross"]);
    assert_eq!(cn["reason"], "order cancelled");
    let invoice = w.app.get(&w.t, &format!("/v1/invoices/{id}")).await;
    assert_eq!(invoice.body["credited_in_full"], true);
    let text = pdf_text(&pdf(&w, cn["id"].as_str().unwrap()).await);
    for want in [
        "CREDIT NOTE",
        "CN-00001",
        "Credits invoice:",
        "ACME-00001",
        "Reason: order cancelled",
    ] {
        assert!(text.contains(want), "`{want}` missing from:\n{text}");
    }

    // Both were announced (webhook event types `invoice.created` and
    // `credit_note.created`).
    let journal = w
        .app
        .get(&w.t, &format!("/v1/stores/{}/journal?limit=1000", w.store))
        .await;
    let types: Vec<&str> = journal.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["type"].as_str())
        .collect();
    assert!(types.contains(&"invoice.created"), "{types:?}");
    assert!(types.contains(&"credit_note.created"), "{types:?}");
}

#[tokio::test]
async fn invoices_through_the_api_partial_credit_notes_and_a_multi_page_pdf() {
    let w = World::new(json!({})).await;
    // Settings are checked before anything is stored.
    for (body, field) in [
        (json!({ "prefix": "a b" }), "prefix"),
        (
            json!({ "tax_rates": { "countries": { "XX1": 2100 } } }),
            "tax_rates.countries.XX1",
        ),
        (
            json!({ "tax_rates": { "default_bp": 20000 } }),
            "tax_rates.default_bp",
        ),
        (json!({ "logo_png": "bm90IGEgcG5n" }), "logo_png"),
        (json!({ "auto": "sometimes" }), ""),
    ] {
        let r = w
            .app
            .put(
                &w.t,
                &format!("/v1/stores/{}/invoice-settings", w.store),
                &body,
            )
            .await;
        assert_eq!(r.status, 422, "{body}: {}", r.body);
        if !field.is_empty() {
            assert_eq!(r.body["error"]["field"], field, "{}", r.body);
        }
    }
    let r = w
        .app
        .put(
            &w.t,
            &format!("/v1/stores/{}/invoice-settings", w.store),
            &settings("off"),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);

    // 200 lines, nothing invoiced by itself.
    let skus: Vec<String> = w
        .skus
        .iter()
        .filter(|s| *s != crate::KIT)
        .cloned()
        .collect();
    let lines: Vec<(&str, i64)> = (0..200)
        .map(|i| (skus[i % skus.len()].as_str(), 1))
        .collect();
    w.shopify.order(&lines, json!({})).await;
    let orders = w.wait_orders("", 1, 30).await;
    let order_id = orders[0]["id"].as_str().unwrap().to_owned();
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert!(documents(&w, "").await.is_empty(), "auto is off");

    let made = w
        .app
        .post(&w.t, &format!("/v1/orders/{order_id}/invoices"), &json!({}))
        .await;
    assert_eq!(made.status, 201, "{}", made.body);
    let inv = made.body.clone();
    assert_eq!(inv["source"], "api");
    assert_eq!(inv["lines"].as_array().unwrap().len(), 201);
    let id = inv["id"].as_str().unwrap().to_owned();
    let text = pdf_text(&pdf(&w, &id).await);
    let pages = text.matches("Page ").filter(|_| true).count();
    assert!(pages >= 4, "200 lines run over several pages:\n{text}");
    assert!(text.contains("Page 1 of"), "{text}");
    for (i, l) in inv["lines"]
        .as_array()
        .unwrap()
        .iter()
        .enumerate()
        .take(200)
    {
        let r = row(
            &text,
            u32::try_from(i + 1).unwrap(),
            l["sku"].as_str().unwrap(),
        );
        assert!(r.contains(&eur(l["net"].as_i64().unwrap())), "{r}");
    }
    let total = format!("Total {}", inv["currency"].as_str().unwrap());
    let total_line = text.lines().find(|t| t.contains(&total)).unwrap();
    assert!(total_line.contains(&eur(inv["gross"].as_i64().unwrap())));

    // Credit one unit of line 3, then line 3 again: nothing is left of it.
    let path = format!("/v1/invoices/{id}/credit-notes");
    let one = w
        .app
        .post(
            &w.t,
            &path,
            &json!({ "lines": [{ "line_no": 3, "quantity": 1 }], "reason": "damaged" }),
        )
        .await;
    assert_eq!(one.status, 201, "{}", one.body);
    assert_eq!(one.body["lines"].as_array().unwrap().len(), 1);
    assert_eq!(one.body["gross"], inv["lines"][2]["gross"]);
    let over = w
        .app
        .post(
            &w.t,
            &path,
            &json!({ "lines": [{ "line_no": 3, "quantity": 1 }] }),
        )
        .await;
    assert_eq!(over.status, 422, "{}", over.body);
    assert_eq!(over.body["error"]["field"], "lines[0].quantity");
    let missing = w
        .app
        .post(
            &w.t,
            &path,
            &json!({ "lines": [{ "line_no": 999, "quantity": 1 }] }),
        )
        .await;
    assert_eq!(missing.status, 422);
    // The rest, with no body: the credit notes add up to the invoice.
    let rest = w
        .app
        .request(&w.t, reqwest::Method::POST, &path, None)
        .await;
    assert_eq!(rest.status, 201, "{}", rest.body);
    assert_eq!(
        one.body["gross"].as_i64().unwrap() + rest.body["gross"].as_i64().unwrap(),
        inv["gross"].as_i64().unwrap()
    );
    let done = w.app.post(&w.t, &path, &json!({})).await;
    assert_eq!(done.status, 409);
    assert_eq!(done.body["error"]["code"], "already_credited");
    // Credited in full: a new invoice, with the next number.
    let again = w
        .app
        .post(&w.t, &format!("/v1/orders/{order_id}/invoices"), &json!({}))
        .await;
    assert_eq!(again.status, 201, "{}", again.body);
    assert_eq!(again.body["number"], "ACME-00002");
    // A credit note is not credited.
    let cn_id = one.body["id"].as_str().unwrap();
    let r = w
        .app
        .post(
            &w.t,
            &format!("/v1/invoices/{cn_id}/credit-notes"),
            &json!({}),
        )
        .await;
    assert_eq!(r.status, 409);
    assert_eq!(r.body["error"]["code"], "not_an_invoice");

    // Filters and paging.
    assert_eq!(documents(&w, "kind=invoice").await.len(), 2);
    assert_eq!(documents(&w, "number=CN-").await.len(), 2);
    let page = w
        .app
        .get(&w.t, &format!("/v1/stores/{}/invoices?limit=3", w.store))
        .await;
    assert_eq!(page.body["items"].as_array().unwrap().len(), 3);
    let next = page.body["next_cursor"].as_str().unwrap();
    let page2 = w
        .app
        .get(
            &w.t,
            &format!("/v1/stores/{}/invoices?limit=3&cursor={next}", w.store),
        )
        .await;
    assert_eq!(page2.body["items"].as_array().unwrap().len(), 1);
    let bad = w
        .app
        .get(
            &w.t,
            &format!("/v1/stores/{}/invoices?kind=receipt", w.store),
        )
        .await;
    assert_eq!(bad.status, 422, "{}", bad.body);

    // Numbers cannot go back under a prefix that used them.
    let mut s = settings("off");
    s["next_invoice_number"] = json!(2);
    let r = w
        .app
        .put(
            &w.t,
            &format!("/v1/stores/{}/invoice-settings", w.store),
            &s,
        )
        .await;
    assert_eq!(r.status, 409, "{}", r.body);
    assert_eq!(r.body["error"]["code"], "number_used");

    // Another account reaches none of it.
    let other = w.app.tenant("intruder").await;
    for path in [
        format!("/v1/invoices/{id}"),
        format!("/v1/invoices/{id}.pdf"),
        format!("/v1/stores/{}/invoices", w.store),
        format!("/v1/stores/{}/invoice-settings", w.store),
    ] {
        let r = w.app.get(&other, &path).await;
        assert_eq!(r.status, 404, "{path}: {}", r.body);
        assert!(!r.body.to_string().contains(&id));
    }
    let r = w
        .app
        .post(
            &other,
            &format!("/v1/orders/{order_id}/invoices"),
            &json!({}),
        )
        .await;
    assert_eq!(r.status, 404);
    let r = w.app.post(&other, &path, &json!({})).await;
    assert_eq!(r.status, 404);
}
