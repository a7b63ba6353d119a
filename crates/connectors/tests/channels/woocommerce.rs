use std::collections::BTreeSet;

use chrono::Utc;
use serde_json::{Value, json};
use switchyard_connectors::ConnectorError;
use switchyard_connectors::channel::{
    FulfilmentPush, OrderQuery, SalesChannel, StockOutcome, StockUpdate, Tracking,
};
use switchyard_connectors::woocommerce::{WooCommerce, WooCommerceCredentials};
use switchyard_domain::cursor::{DEFAULT_OVERLAP, ImportCursor};
use switchyard_sim::{Channel, Faults, RunningSim, SimOptions};

use crate::{
    Control, Receiver, all_listings, assert_retry_after_honoured, drain, drain_with, epoch, lines,
    policy, shipped_spec,
};

pub(crate) async fn start(products: usize, orders: usize) -> (RunningSim, WooCommerce, Control) {
    let sim = switchyard_sim::spawn(
        Channel::WooCommerce,
        &SimOptions {
            seed: 42,
            products,
            orders,
            ..SimOptions::default()
        },
    )
    .await
    .unwrap();
    let creds: WooCommerceCredentials = serde_json::from_value(sim.credentials.clone()).unwrap();
    let c = WooCommerce::new(&sim.base_url(), &creds, policy()).unwrap();
    let ctl = Control::new(&sim);
    (sim, c, ctl)
}

#[tokio::test]
async fn two_thousand_orders_page_through_without_loss_even_when_updated_while_paging() {
    let (_sim, c, ctl) = start(40, 2000).await;
    let ctl = std::sync::Arc::new(ctl);
    let all_ids: Vec<u64> = drain(&c, epoch())
        .await
        .orders
        .keys()
        .map(|k| k.parse().unwrap())
        .collect::<BTreeSet<u64>>()
        .into_iter()
        .collect();
    assert_eq!(all_ids.len(), 2000);
    // After the third page (about 300 read), edit orders both behind and
    // ahead of the reader.
    let touch: Vec<u64> = [50, 150, 600, 1200, 1999]
        .iter()
        .map(|i| all_ids[*i])
        .collect();
    let (ctl2, touch2) = (ctl.clone(), touch.clone());
    let d = drain_with(&c, epoch(), move |page| {
        (page == 3).then(|| {
            let (ctl, ids) = (ctl2.clone(), touch2.clone());
            Box::pin(async move {
                ctl.post("/_sim/orders/touch", json!({ "ids": ids })).await;
            }) as std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>>
        })
    })
    .await;
    let got: BTreeSet<u64> = d.orders.keys().map(|k| k.parse().unwrap()).collect();
    assert_eq!(
        got,
        all_ids.iter().copied().collect(),
        "every order read once"
    );
    assert_eq!(d.reads, 2000, "no order read twice in one pass");
    assert_eq!(d.pages, 21, "100 a page, overlapping by one");
    // The next incremental fetch picks up every edit made while paging.
    let cursor = ImportCursor {
        updated_at: epoch(),
    }
    .advanced(d.orders.values().map(|o| o.updated_at));
    let inc = drain(&c, cursor.fetch_since(DEFAULT_OVERLAP)).await;
    for id in &touch {
        let o = &inc.orders[&id.to_string()];
        assert!(
            o.updated_at > chrono::DateTime::parse_from_rfc3339("2026-06-01T00:00:00Z").unwrap()
        );
    }
}

#[tokio::test]
async fn incremental_fetch_returns_only_what_changed_since_the_cursor() {
    let (_sim, c, ctl) = start(20, 150).await;
    let first = drain(&c, epoch()).await;
    assert_eq!(first.orders.len(), 150);
    let cursor = ImportCursor {
        updated_at: epoch(),
    }
    .advanced(first.orders.values().map(|o| o.updated_at));
    let a = ctl
        .post(
            "/_sim/orders",
            json!({ "lines": lines(&[("SKU-00001", 2)]) }),
        )
        .await;
    let b = ctl
        .post(
            "/_sim/orders",
            json!({ "lines": lines(&[("SKU-00005-M", 1), ("SKU-00002", 3)]), "paid": false }),
        )
        .await;
    let old = first.orders.keys().next().unwrap().clone();
    ctl.post(&format!("/_sim/orders/{old}/cancel"), json!({}))
        .await;
    let inc = drain(&c, cursor.fetch_since(DEFAULT_OVERLAP)).await;
    let want: BTreeSet<String> = [a["id"].to_string(), b["id"].to_string(), old.clone()]
        .into_iter()
        .collect();
    for (id, o) in &inc.orders {
        // Besides the changes, only orders inside the overlap window are read again.
        assert!(
            want.contains(id) || o.updated_at >= cursor.fetch_since(DEFAULT_OVERLAP),
            "{id} was not changed since the cursor"
        );
    }
    assert!(want.iter().all(|id| inc.orders.contains_key(id)));
    assert!(inc.orders.len() < 10, "{} orders re-read", inc.orders.len());
    assert!(inc.orders[&old].cancelled);
    let unpaid = &inc.orders[&b["id"].to_string()];
    assert_eq!(
        unpaid.payment_status,
        switchyard_domain::order::PaymentStatus::Pending
    );
    assert_eq!(unpaid.lines.len(), 2);
    assert_eq!(unpaid.lines[0].sku.as_deref(), Some("SKU-00005-M"));
    // Money as the channel states it: 20 % VAT on lines and shipping.
    let paid = &inc.orders[&a["id"].to_string()];
    let line_total = paid.lines[0].unit_price * 2;
    assert_eq!(
        paid.total,
        line_total + 395 + (line_total * 20 + 50) / 100 + 79
    );
    assert!(paid.updated_at <= Utc::now());
}

#[tokio::test]
async fn five_hundred_skus_go_out_in_batches_and_read_back_exactly() {
    let (_sim, c, ctl) = start(420, 0).await;
    let listings = all_listings(&c).await;
    assert!(listings.len() >= 500, "{}", listings.len());
    let updates: Vec<StockUpdate> = listings
        .iter()
        .take(500)
        .enumerate()
        .map(|(i, l)| StockUpdate {
            channel_listing_id: l.channel_listing_id.clone(),
            sku: l.sku.clone().unwrap(),
            quantity: (i as i64 * 7) % 101,
            expected: None,
        })
        .collect();
    ctl.clear_requests().await;
    let outcomes = c.push_stock(&updates).await.unwrap();
    assert!(
        outcomes.iter().all(|o| *o == StockOutcome::Accepted),
        "{outcomes:?}"
    );
    let stock = ctl.get("/_sim/stock").await;
    let by_sku: std::collections::BTreeMap<String, i64> = stock["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            (
                i["sku"].as_str().unwrap().to_owned(),
                i["stock_quantity"].as_i64().unwrap_or(-1),
            )
        })
        .collect();
    for u in &updates {
        assert_eq!(by_sku[&u.sku], u.quantity, "{}", u.sku);
    }
    let posts = ctl
        .requests()
        .await
        .into_iter()
        .filter(|r| r.method == "POST" && r.path.ends_with("/batch"))
        .count();
    let variable_parents: BTreeSet<&str> = updates
        .iter()
        .filter_map(|u| u.channel_listing_id.split_once('/').map(|(p, _)| p))
        .collect();
    assert!(
        posts <= 500 / 100 + 1 + variable_parents.len(),
        "{posts} batch calls"
    );
}

fn shipment(order: &Value, reference: &str) -> FulfilmentPush {
    FulfilmentPush {
        channel_order_id: order["id"].to_string(),
        lines: vec![],
        tracking: vec![
            Tracking {
                number: "JD014600006281230704".into(),
                url: Some("https://www.dhl.com/track?JD014600006281230704".into()),
            },
            Tracking {
                number: "JD014600006281230705".into(),
                url: None,
            },
        ],
        carrier: Some("DHL".into()),
        service: None,
        shipped_at: Utc::now(),
        reference: reference.into(),
    }
}

#[tokio::test]
async fn a_fulfilment_with_two_tracking_numbers_lands_once() {
    let (_sim, c, ctl) = start(20, 0).await;
    let order = ctl
        .post(
            "/_sim/orders",
            json!({ "lines": lines(&[("SKU-00001", 1), ("SKU-00002", 2)]) }),
        )
        .await;
    let ack = c.push_fulfilment(&shipment(&order, "ful_1")).await.unwrap();
    assert!(!ack.already_existed);
    let again = c.push_fulfilment(&shipment(&order, "ful_1")).await.unwrap();
    assert!(again.already_existed, "a resend is recognised");
    assert_eq!(again.channel_fulfilment_id, ack.channel_fulfilment_id);
    let f = ctl.get("/_sim/fulfilments").await;
    let o = &f["orders"][0];
    assert_eq!(o["status"], "completed");
    let numbers: Vec<&str> = o["trackings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["tracking_number"].as_str().unwrap())
        .collect();
    assert_eq!(numbers, ["JD014600006281230704", "JD014600006281230705"]);
    assert_eq!(o["trackings"][0]["custom_tracking_provider"], "DHL");
    assert_eq!(o["notes"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn with_twenty_percent_faults_every_operation_ends_in_exactly_the_right_state() {
    let (_sim, c, ctl) = start(150, 300).await;
    let listings = all_listings(&c).await;
    let order = ctl
        .post(
            "/_sim/orders",
            json!({ "lines": lines(&[("SKU-00003", 1)]) }),
        )
        .await;
    let second = ctl
        .post(
            "/_sim/orders",
            json!({ "lines": lines(&[("SKU-00004", 2)]) }),
        )
        .await;
    ctl.clear_requests().await;
    ctl.faults(&Faults::spread(0.2, 1, 1_500)).await;

    let d = drain(&c, epoch()).await;
    assert_eq!(d.orders.len(), 302);
    let updates: Vec<StockUpdate> = listings
        .iter()
        .take(150)
        .enumerate()
        .map(|(i, l)| StockUpdate {
            channel_listing_id: l.channel_listing_id.clone(),
            sku: l.sku.clone().unwrap(),
            quantity: 1000 + i as i64,
            expected: None,
        })
        .collect();
    let outcomes = c.push_stock(&updates).await.unwrap();
    assert!(
        outcomes.iter().all(|o| *o == StockOutcome::Accepted),
        "{outcomes:?}"
    );
    c.push_fulfilment(&shipment(&order, "ful_f")).await.unwrap();

    // Answers that never arrive in time, while a shipment is created: the
    // connector must look before it creates again.
    ctl.faults(&Faults {
        rate_slow: 0.5,
        slow_ms: 1_500,
        ..Faults::default()
    })
    .await;
    c.push_fulfilment(&shipment(&second, "ful_s"))
        .await
        .unwrap();
    // A burst of rate limiting, so the Retry-After check below always has work.
    ctl.faults(&Faults {
        rate_429: 0.5,
        retry_after_secs: 1,
        ..Faults::default()
    })
    .await;
    for _ in 0..6 {
        c.test_connection().await.unwrap();
    }
    ctl.faults(&Faults::default()).await;

    let stock = ctl.get("/_sim/stock").await;
    for u in &updates {
        let item = stock["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|i| i["sku"] == u.sku.as_str())
            .unwrap();
        assert_eq!(item["stock_quantity"], u.quantity);
    }
    let f = ctl.get("/_sim/fulfilments").await;
    assert_eq!(f["orders"].as_array().unwrap().len(), 2);
    for o in f["orders"].as_array().unwrap() {
        assert_eq!(o["trackings"].as_array().unwrap().len(), 2, "{o}");
        assert_eq!(o["notes"].as_array().unwrap().len(), 1, "{o}");
        assert_eq!(o["status"], "completed");
    }

    let log = ctl.requests().await;
    for kind in ["429", "5xx", "malformed", "slow"] {
        assert!(
            log.iter().any(|e| e.fault.as_deref() == Some(kind)),
            "no {kind} fault was injected"
        );
    }
    assert!(
        assert_retry_after_honoured(&log) > 0,
        "some 429s were checked"
    );
}

#[tokio::test]
async fn revoked_credentials_fail_clearly_and_are_not_retried() {
    let (_sim, c, ctl) = start(5, 5).await;
    ctl.post("/_sim/auth/revoke", json!({})).await;
    ctl.clear_requests().await;
    let err = c
        .fetch_orders(&OrderQuery {
            updated_since: epoch(),
            page: None,
            large: false,
        })
        .await
        .unwrap_err();
    assert!(
        matches!(err, ConnectorError::Auth { status: 401, .. }),
        "{err}"
    );
    assert!(!err.is_retryable());
    assert!(err.to_string().contains("check the channel's credentials"));
    assert_eq!(
        ctl.requests().await.len(),
        1,
        "auth failures are not retried"
    );
}

/// The documented property names and types of one table in the saved docs.
fn documented(doc: &str, heading: &str) -> Vec<(String, String)> {
    let start = doc
        .find(heading)
        .unwrap_or_else(|| panic!("{heading} not in docs"));
    doc[start..]
        .lines()
        .skip(1)
        .skip_while(|l| !l.starts_with('|'))
        .take_while(|l| l.starts_with('|'))
        .filter_map(|l| {
            let cells: Vec<&str> = l.split('|').map(str::trim).collect();
            let name = cells.get(1)?.strip_prefix('`')?.strip_suffix('`')?;
            Some((name.to_owned(), (*cells.get(2)?).to_owned()))
        })
        .collect()
}

fn check_fields(what: &str, v: &Value, fields: &[(String, String)], skip: &[&str]) {
    assert!(!fields.is_empty());
    for (name, ty) in fields {
        if skip.contains(&name.as_str()) {
            continue;
        }
        let got = v
            .get(name)
            .unwrap_or_else(|| panic!("{what}: `{name}` missing in {v}"));
        let ok = match ty.as_str() {
            "integer" => got.is_i64() || got.is_u64(),
            "string" => got.is_string() || (name == "price" && got.is_number()),
            "boolean" => got.is_boolean(),
            "array" => got.is_array(),
            "object" => got.is_object(),
            "date-time" => got.is_string() || got.is_null(),
            _ => true,
        };
        assert!(ok, "{what}: `{name}` should be {ty}, is {got}");
    }
}

#[tokio::test]
async fn simulator_responses_carry_the_documented_fields() {
    let (sim, _c, ctl) = start(10, 3).await;
    let order = ctl
        .post(
            "/_sim/orders",
            json!({ "lines": lines(&[("SKU-00005-S", 1)]) }),
        )
        .await;
    let creds = sim.credentials.clone();
    let http = reqwest::Client::new();
    let get = |path: String| {
        let http = http.clone();
        let creds = creds.clone();
        let base = sim.base_url();
        async move {
            http.get(format!("{base}/wp-json/wc/v3{path}"))
                .basic_auth(
                    creds["consumer_key"].as_str().unwrap(),
                    creds["consumer_secret"].as_str(),
                )
                .send()
                .await
                .unwrap()
                .json::<Value>()
                .await
                .unwrap()
        }
    };
    let dir = shipped_spec("woocommerce");
    let orders_doc = std::fs::read_to_string(dir.join("wp-api-v3_orders.md")).unwrap();
    let o = get(format!("/orders/{}", order["id"])).await;
    check_fields(
        "order",
        &o,
        &documented(&orders_doc, "## Order properties ##"),
        &["set_paid"],
    );
    check_fields(
        "billing",
        &o["billing"],
        &documented(&orders_doc, "### Order - Billing properties ###"),
        &[],
    );
    check_fields(
        "shipping",
        &o["shipping"],
        &documented(&orders_doc, "### Order - Shipping properties ###"),
        &[],
    );
    check_fields(
        "line item",
        &o["line_items"][0],
        &documented(&orders_doc, "### Order - Line items properties ###"),
        &[],
    );
    check_fields(
        "shipping line",
        &o["shipping_lines"][0],
        &documented(&orders_doc, "### Order - Shipping lines properties ###"),
        &[],
    );

    let products_doc = std::fs::read_to_string(dir.join("wp-api-v3_products.md")).unwrap();
    let list = get("/products?per_page=10".into()).await;
    let fields = documented(&products_doc, "## Product properties ##");
    let present = [
        "id",
        "name",
        "slug",
        "type",
        "status",
        "sku",
        "price",
        "regular_price",
        "manage_stock",
        "stock_quantity",
        "stock_status",
        "variations",
        "date_modified_gmt",
    ];
    let wanted: Vec<(String, String)> = fields
        .into_iter()
        .filter(|(n, _)| present.contains(&n.as_str()))
        .collect();
    assert_eq!(wanted.len(), present.len(), "{wanted:?}");
    check_fields("product", &list[0], &wanted, &["stock_quantity"]);

    let var_doc = std::fs::read_to_string(dir.join("wp-api-v3_product-variations.md")).unwrap();
    let vars = get("/products/105/variations".into()).await;
    let vfields: Vec<(String, String)> = documented(&var_doc, "## Product variation properties ##")
        .into_iter()
        .filter(|(n, _)| {
            [
                "id",
                "sku",
                "price",
                "manage_stock",
                "stock_status",
                "attributes",
                "date_modified_gmt",
            ]
            .contains(&n.as_str())
        })
        .collect();
    assert_eq!(vfields.len(), 7, "{vfields:?}");
    check_fields("variation", &vars[0], &vfields, &[]);
}

#[tokio::test]
async fn webhooks_are_signed_as_woocommerce_signs_them() {
    let (sim, _c, ctl) = start(5, 0).await;
    let (rx, addr) = Receiver::start().await;
    let creds = sim.credentials.clone();
    let r = reqwest::Client::new()
        .post(format!("{}/wp-json/wc/v3/webhooks", sim.base_url()))
        .basic_auth(
            creds["consumer_key"].as_str().unwrap(),
            creds["consumer_secret"].as_str(),
        )
        .json(&json!({ "name": "Switchyard", "topic": "order.created",
            "delivery_url": format!("http://{addr}/hook"), "secret": "s3cret-value" }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    ctl.post(
        "/_sim/orders",
        json!({ "lines": lines(&[("SKU-00001", 1)]) }),
    )
    .await;
    let got = rx.wait_for(1).await;
    let (headers, body) = &got[0];
    assert_eq!(headers["x-wc-webhook-topic"], "order.created");
    let sig = headers["x-wc-webhook-signature"].to_str().unwrap();
    assert!(WooCommerce::verify_webhook("s3cret-value", body, sig));
    assert!(!WooCommerce::verify_webhook("wrong", body, sig));
    let order: Value = serde_json::from_slice(body).unwrap();
    assert_eq!(order["line_items"][0]["sku"], "SKU-00001");
}
