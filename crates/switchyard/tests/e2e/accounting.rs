//! Invoices booked into the Xero and Sage simulators end to end: an order
//! imported from the Shopify simulator is invoiced by itself and booked
//! once in both packages; cancelling it books a credit note allocated to
//! the invoice in both. A refusal shows in the package's words and is
//! retried by hand once fixed. A server killed between booking an invoice
//! and recording it books nothing twice after its restart.

use serde_json::{Value, json};
use switchyard_sim::{Channel, Faults, RunningSim, SimOptions};

use crate::crash::{Place, serve, start_in};
use crate::{Sim, World, eventually};

/// An accounting package's simulator (Xero or Sage) on loopback.
pub(crate) async fn package(channel: Channel) -> RunningSim {
    switchyard_sim::spawn(channel, &SimOptions::default())
        .await
        .unwrap()
}

fn connection(kind: &str, sim: &RunningSim, sales: &str) -> Value {
    let shipping = if kind == "xero" { "260" } else { "4900" };
    json!({
        "kind": kind,
        "base_url": sim.base_url(),
        "credentials": sim.credentials,
        "settings": { "sales_account": sales, "shipping_account": shipping },
    })
}

async fn books(sim: &RunningSim) -> Value {
    reqwest::get(format!("{}/_sim/books", sim.base_url()))
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

fn cents(v: &Value) -> i64 {
    (v.as_f64().unwrap() * 100.0).round() as i64
}

/// Wait until the document's syncs are all `state`.
async fn wait_syncs(w: &World, id: &str, n: usize, state: &str) -> Value {
    eventually(&format!("{id} {state} in {n} package(s)"), 40, || async {
        let v = w.app.get(&w.t, &format!("/v1/invoices/{id}")).await.body;
        let a = v["accounting"].as_array().cloned().unwrap_or_default();
        a.len() == n && a.iter().all(|s| s["state"] == state)
    })
    .await;
    w.app.get(&w.t, &format!("/v1/invoices/{id}")).await.body
}

#[tokio::test]
async fn an_imported_order_is_booked_once_in_xero_and_sage_and_its_cancellation_credited() {
    let w = World::new(json!({})).await;
    let (xero, sage) = (package(Channel::Xero).await, package(Channel::Sage).await);
    let r = w
        .app
        .put(
            &w.t,
            &format!("/v1/stores/{}/invoice-settings", w.store),
            &json!({ "prefix": "ACME-", "auto": "imported" }),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    for (kind, sim, sales) in [("xero", &xero, "200"), ("sage", &sage, "4000")] {
        let r = w
            .app
            .post(
                &w.t,
                &format!("/v1/stores/{}/accounting", w.store),
                &connection(kind, sim, sales),
            )
            .await;
        assert_eq!(r.status, 201, "{}", r.body);
        assert!(
            r.body.get("credentials").is_none(),
            "credentials are never answered"
        );
    }
    let twice = w
        .app
        .post(
            &w.t,
            &format!("/v1/stores/{}/accounting", w.store),
            &connection("xero", &xero, "200"),
        )
        .await;
    assert_eq!(twice.status, 409);
    assert_eq!(twice.body["error"]["code"], "accounting_exists");

    let channel_id = w
        .shopify
        .order(&[("SKU-00001", 2), ("SKU-00004", 1)], json!({}))
        .await;
    let invoices = {
        eventually("the invoice", 30, || async {
            w.app
                .get(&w.t, &format!("/v1/stores/{}/invoices", w.store))
                .await
                .body["items"]
                .as_array()
                .is_some_and(|a| a.len() == 1)
        })
        .await;
        w.app
            .get(&w.t, &format!("/v1/stores/{}/invoices", w.store))
            .await
            .body
    };
    let inv_id = invoices["items"][0]["id"].as_str().unwrap().to_owned();
    let inv = wait_syncs(&w, &inv_id, 2, "synced").await;
    let gross = inv["gross"].as_i64().unwrap();
    let x = books(&xero).await;
    let s = books(&sage).await;
    assert_eq!(x["invoices"].as_array().unwrap().len(), 1, "{x}");
    assert_eq!(s["invoices"].as_array().unwrap().len(), 1, "{s}");
    assert_eq!(x["invoices"][0]["InvoiceNumber"], "ACME-00001");
    assert_eq!(x["invoices"][0]["Status"], "AUTHORISED");
    assert_eq!(cents(&x["invoices"][0]["Total"]), gross);
    assert_eq!(s["invoices"][0]["reference"], "ACME-00001");
    assert_eq!(cents(&s["invoices"][0]["total_amount"]), gross);
    let remote: Vec<&str> = inv["accounting"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["remote_id"].as_str().unwrap())
        .collect();
    assert!(remote.contains(&x["invoices"][0]["InvoiceID"].as_str().unwrap()));
    assert!(remote.contains(&s["invoices"][0]["id"].as_str().unwrap()));
    let conns = w
        .app
        .get(&w.t, &format!("/v1/stores/{}/accounting", w.store))
        .await
        .body;
    assert!(
        conns["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|c| c["tenant"].is_string() && c["last_error"].is_null()),
        "{conns}"
    );

    // Cancelled on the channel: a credit note, booked and allocated in both.
    w.shopify
        .post(&format!("/_sim/orders/{channel_id}/cancel"), json!({}))
        .await;
    let cn_id = {
        eventually("the credit note", 30, || async {
            w.app
                .get(
                    &w.t,
                    &format!("/v1/stores/{}/invoices?kind=credit_note", w.store),
                )
                .await
                .body["items"]
                .as_array()
                .is_some_and(|a| a.len() == 1)
        })
        .await;
        w.app
            .get(
                &w.t,
                &format!("/v1/stores/{}/invoices?kind=credit_note", w.store),
            )
            .await
            .body["items"][0]["id"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    wait_syncs(&w, &cn_id, 2, "synced").await;
    let x = books(&xero).await;
    let s = books(&sage).await;
    assert_eq!(x["credit_notes"].as_array().unwrap().len(), 1);
    assert_eq!(x["credit_notes"][0]["CreditNoteNumber"], "CN-00001");
    assert_eq!(x["allocations"].as_array().unwrap().len(), 1);
    assert_eq!(
        x["allocations"][0]["Invoice"]["InvoiceID"],
        x["invoices"][0]["InvoiceID"]
    );
    assert_eq!(cents(&x["invoices"][0]["AmountDue"]), 0);
    assert_eq!(s["credit_notes"].as_array().unwrap().len(), 1);
    assert_eq!(s["allocations"].as_array().unwrap().len(), 1);
    assert_eq!(cents(&s["invoices"][0]["outstanding_amount"]), 0);
    assert_eq!(
        x["invoices"].as_array().unwrap().len(),
        1,
        "still one invoice"
    );
    assert_eq!(
        s["invoices"].as_array().unwrap().len(),
        1,
        "still one invoice"
    );
}

/// A store connected to a Xero simulator whose sales account it does not
/// have (`999`): every document is refused until the settings are fixed.
async fn with_refusing_xero() -> (World, RunningSim, String) {
    let w = World::new(json!({})).await;
    let xero = package(Channel::Xero).await;
    let made = w
        .app
        .post(
            &w.t,
            &format!("/v1/stores/{}/accounting", w.store),
            &connection("xero", &xero, "999"),
        )
        .await;
    assert_eq!(made.status, 201, "{}", made.body);
    let conn = made.body["id"].as_str().unwrap().to_owned();
    (w, xero, conn)
}

#[tokio::test]
async fn a_refusal_shows_in_the_packages_words_and_is_retried_by_hand() {
    let (w, xero, conn) = with_refusing_xero().await;
    // Bad input is refused before anything is stored.
    for (body, field) in [
        (
            json!({ "kind": "quickbooks", "credentials": xero.credentials, "settings": { "sales_account": "200" } }),
            "kind",
        ),
        (
            json!({ "kind": "sage", "credentials": { "client_id": "", "client_secret": "x", "refresh_token": "y" }, "settings": { "sales_account": "200" } }),
            "credentials.client_id",
        ),
        (
            json!({ "kind": "sage", "base_url": "ftp://x", "credentials": xero.credentials, "settings": { "sales_account": "200" } }),
            "base_url",
        ),
        (
            json!({ "kind": "sage", "credentials": xero.credentials, "settings": { "sales_account": "4 000" } }),
            "sales_account",
        ),
    ] {
        let r = w
            .app
            .post(&w.t, &format!("/v1/stores/{}/accounting", w.store), &body)
            .await;
        assert_eq!(r.status, 422, "{body}: {}", r.body);
        assert_eq!(r.body["error"]["field"], field, "{}", r.body);
    }

    w.shopify.order(&[("SKU-00001", 1)], json!({})).await;
    let orders = w.wait_orders("", 1, 20).await;
    let r = w
        .app
        .post(
            &w.t,
            &format!("/v1/orders/{}/invoices", orders[0]["id"].as_str().unwrap()),
            &json!({}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let id = r.body["id"].as_str().unwrap().to_owned();
    let failed = wait_syncs(&w, &id, 1, "failed").await;
    let err = failed["accounting"][0]["last_error"].as_str().unwrap();
    assert!(
        err.contains("Account code '999' is not a valid code for this document."),
        "{err}"
    );
    assert!(
        failed["accounting"][0]["next_at"].is_null(),
        "a refusal waits for a person"
    );
    let listed = w
        .app
        .get(&w.t, &format!("/v1/accounting/{conn}/syncs?state=failed"))
        .await;
    assert_eq!(listed.body["items"].as_array().unwrap().len(), 1);

    let r = w
        .app
        .patch(
            &w.t,
            &format!("/v1/accounting/{conn}"),
            &json!({ "settings": { "sales_account": "200" } }),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let r = w
        .app
        .post(
            &w.t,
            &format!("/v1/invoices/{id}/syncs/{conn}/retry"),
            &json!({}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    wait_syncs(&w, &id, 1, "synced").await;
    assert_eq!(books(&xero).await["invoices"].as_array().unwrap().len(), 1);
    let again = w
        .app
        .post(
            &w.t,
            &format!("/v1/invoices/{id}/syncs/{conn}/retry"),
            &json!({}),
        )
        .await;
    assert_eq!(again.status, 409);
    assert_eq!(again.body["error"]["code"], "already_synced");

    // Another account reaches none of it.
    let other = w.app.tenant("intruder").await;
    for path in [
        format!("/v1/accounting/{conn}"),
        format!("/v1/accounting/{conn}/syncs"),
        format!("/v1/stores/{}/accounting", w.store),
    ] {
        let r = w.app.get(&other, &path).await;
        assert_eq!(r.status, 404, "{path}");
    }
    let r = w
        .app
        .post(
            &other,
            &format!("/v1/invoices/{id}/syncs/{conn}/retry"),
            &json!({}),
        )
        .await;
    assert_eq!(r.status, 404);
    let r = w
        .app
        .delete(&other, &format!("/v1/accounting/{conn}"))
        .await;
    assert_eq!(r.status, 404);
}

#[tokio::test]
async fn a_server_killed_between_booking_an_invoice_and_recording_it_books_it_once() {
    for channel in [Channel::Xero, Channel::Sage] {
        let shop = Sim::start(Channel::Shopify).await;
        shop.order(&[("SKU-00001", 1)], json!({})).await;
        let books_sim = package(channel).await;
        let (dir, port, server, api, store) = start_in(Place::new().await).await;
        let (kind, sales) = match channel {
            Channel::Xero => ("xero", "200"),
            _ => ("sage", "4000"),
        };
        for (path, body) in [
            ("products", json!({ "sku": "SKU-00001", "title": "Mug" })),
            (
                "channels",
                json!({ "name": "Shopify", "kind": "shopify", "base_url": shop.url(),
                    "credentials": { "access_token": shop.sim.credentials["access_token"] },
                    "settings": { "download_products": false, "push_notifications": false } }),
            ),
            ("accounting", connection(kind, &books_sim, sales)),
        ] {
            let (s, b) = api
                .send(
                    reqwest::Method::POST,
                    &format!("/v1/stores/{store}/{path}"),
                    Some(body),
                )
                .await;
            assert_eq!(s, 201, "{b}");
        }
        let (s, b) = api
            .send(
                reqwest::Method::PUT,
                &format!("/v1/stores/{store}/invoice-settings"),
                Some(json!({ "auto": "imported" })),
            )
            .await;
        assert_eq!(s, 200, "{b}");
        // The package books the invoice, but its answer never comes back.
        let create = match channel {
            Channel::Xero => "/api.xro/2.0/Invoices",
            _ => "\"sales_invoice\"",
        };
        let f = Faults {
            slow_only_matching: Some(if channel == Channel::Xero {
                "ACCREC".into()
            } else {
                create.into()
            }),
            slow_ms: 60_000,
            ..Faults::default()
        };
        reqwest::Client::new()
            .put(format!("{}/_sim/faults", books_sim.base_url()))
            .json(&f)
            .send()
            .await
            .unwrap();
        eventually("the package to hold the invoice", 60, || async {
            books(&books_sim).await["invoices"]
                .as_array()
                .is_some_and(|a| a.len() == 1)
        })
        .await;
        drop(server);
        let (_, list) = api
            .send(
                reqwest::Method::GET,
                &format!("/v1/stores/{store}/invoices"),
                None,
            )
            .await;
        assert_eq!(list, Value::Null, "the server is down");
        reqwest::Client::new()
            .put(format!("{}/_sim/faults", books_sim.base_url()))
            .json(&Faults::default())
            .send()
            .await
            .unwrap();
        let server = serve(&dir, port);
        eventually(
            "the invoice to be recorded as synced after the restart",
            60,
            || async {
                let (s, l) = api
                    .send(
                        reqwest::Method::GET,
                        &format!("/v1/stores/{store}/invoices"),
                        None,
                    )
                    .await;
                s == 200 && l["items"][0]["accounting"][0]["state"] == "synced"
            },
        )
        .await;
        let b = books(&books_sim).await;
        assert_eq!(
            b["invoices"].as_array().unwrap().len(),
            1,
            "{kind}: one invoice, not two: {b}"
        );
        drop(server);
    }
}

#[tokio::test]
async fn the_order_page_shows_invoices_their_bookings_and_acts_on_them() {
    use switchyard_domain::user::Role;
    use switchyard_testkit::console::{Browser, invited, set_password};

    // The simulator lives as long as its binding.
    let (w, _xero, conn) = with_refusing_xero().await;
    w.app
        .put(
            &w.t,
            &format!("/v1/stores/{}/invoice-settings", w.store),
            &json!({ "auto": "imported" }),
        )
        .await;
    w.shopify.order(&[("SKU-00001", 1)], json!({})).await;
    let orders = w.wait_orders("", 1, 20).await;
    let order = orders[0]["id"].as_str().unwrap().to_owned();
    let docs = format!("/v1/stores/{}/invoices", w.store);
    eventually("the invoice, refused by Xero", 30, || async {
        let l = w.app.get(&w.t, &docs).await.body;
        l["items"][0]["accounting"][0]["state"] == "failed"
    })
    .await;
    let inv = w.app.get(&w.t, &docs).await.body["items"][0].clone();
    let inv_id = inv["id"].as_str().unwrap().to_owned();

    let link = invited(&w.app, "acme", "ann@example.com", Role::Owner).await;
    let mut b = Browser::new(&w.app);
    set_password(&mut b, &link, "the right password").await;
    let path = format!("/console/orders/{order}");
    let page = b.get(&path).await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("INV-00001"), "{}", page.body);
    assert!(
        page.body
            .contains("Account code &#39;999&#39; is not a valid code")
            || page.body.contains("Account code '999' is not a valid code"),
        "{}",
        page.body
    );
    assert!(
        !page.body.contains("Create invoice"),
        "an invoice is in force"
    );
    let csrf = page.hidden("csrf");

    // The PDF opens from the page.
    let pdf = b.get(&format!("/console/invoices/{inv_id}")).await;
    assert_eq!(pdf.status, 200);
    assert_eq!(pdf.headers["content-type"], "application/pdf");

    // Fixed, and sent again from the page.
    w.app
        .patch(
            &w.t,
            &format!("/v1/accounting/{conn}"),
            &json!({ "settings": { "sales_account": "200" } }),
        )
        .await;
    let sent = b
        .post(
            &format!("{path}/invoice-sync-retry"),
            &[("csrf", &csrf), ("invoice", &inv_id), ("connection", &conn)],
        )
        .await;
    assert_eq!(sent.status, 303, "{}", sent.body);
    eventually("the invoice booked in Xero", 30, || async {
        b_state(&w, &inv_id).await == "synced"
    })
    .await;
    let page = b.get(&path).await;
    assert!(page.body.contains("sync-synced"), "{}", page.body);

    // Credited in full from the page: the credit note shows, and a new
    // invoice can be made.
    let credited = b
        .post(
            &format!("{path}/credit"),
            &[("csrf", &csrf), ("invoice", &inv_id)],
        )
        .await;
    assert_eq!(credited.status, 303, "{}", credited.body);
    let page = b.get(&path).await;
    assert!(page.body.contains("CN-00001"), "{}", page.body);
    assert!(page.body.contains("credited in full"));
    assert!(page.body.contains("Create invoice"));
    let made = b.post(&format!("{path}/invoice"), &[("csrf", &csrf)]).await;
    assert_eq!(made.status, 303, "{}", made.body);
    let page = b.get(&path).await;
    assert!(
        page.body.contains("ACME-") || page.body.contains("INV-00002"),
        "{}",
        page.body
    );
    // A document of another order is not found through this one.
    let other = b
        .post(
            &format!("{path}/credit"),
            &[
                ("csrf", &csrf),
                ("invoice", "inv_01aaaaaaaaaaaaaaaaaaaaaaaa"),
            ],
        )
        .await;
    assert_eq!(other.status, 404);
}

async fn b_state(w: &World, id: &str) -> String {
    w.app.get(&w.t, &format!("/v1/invoices/{id}")).await.body["accounting"][0]["state"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}
