use std::collections::BTreeSet;

use chrono::Utc;
use serde_json::{Value, json};
use switchyard_connectors::ConnectorError;
use switchyard_connectors::channel::{
    FulfilmentPush, OrderQuery, SalesChannel, StockOutcome, StockUpdate, Tracking,
};
use switchyard_connectors::shopify::{Shopify, ShopifyCredentials};
use switchyard_domain::cursor::{DEFAULT_OVERLAP, ImportCursor};
use switchyard_sim::{Channel, Faults, RunningSim, SimOptions};

use crate::{
    Control, Receiver, all_listings, assert_retry_after_honoured, drain, drain_with, epoch, lines,
    policy,
};

async fn start(products: usize, orders: usize) -> (RunningSim, Shopify, Control) {
    let sim = switchyard_sim::spawn(
        Channel::Shopify,
        &SimOptions {
            seed: 7,
            products,
            orders,
            ..SimOptions::default()
        },
    )
    .await
    .unwrap();
    let creds: ShopifyCredentials = serde_json::from_value(json!({
        "access_token": sim.credentials["access_token"],
        "api_secret_key": sim.credentials["api_secret_key"],
    }))
    .unwrap();
    let c = Shopify::new(&sim.base_url(), &creds, None, policy()).unwrap();
    let ctl = Control::new(&sim);
    (sim, c, ctl)
}

/// A Plus-sized bucket that refills at once: for tests about paging, not throttling.
async fn unthrottled(ctl: &Control) {
    ctl.put(
        "/_sim/throttle",
        json!({ "maximum_available": 1e9, "restore_rate": 1e9 }),
    )
    .await;
}

async fn graphql(sim: &RunningSim, query: &str, variables: Value) -> Value {
    reqwest::Client::new()
        .post(format!("{}/admin/api/2025-01/graphql.json", sim.base_url()))
        .header(
            "x-shopify-access-token",
            sim.credentials["access_token"].as_str().unwrap(),
        )
        .json(&json!({ "query": query, "variables": variables }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

#[tokio::test]
async fn a_large_window_is_exported_in_bulk_and_reads_as_the_pages_do() {
    // Orders with many lines: a line item past the first page of five
    // comes in the export too.
    let (sim, c, ctl) = start(40, 600).await;
    unthrottled(&ctl).await;
    let stock = ctl.get("/_sim/stock").await;
    let skus: Vec<String> = stock["items"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|i| i["sku"].as_str().map(str::to_owned))
        .take(12)
        .collect();
    assert_eq!(skus.len(), 12, "{stock}");
    for _ in 0..3 {
        let lines: Vec<Value> = skus
            .iter()
            .map(|sku| json!({ "sku": sku, "quantity": 1 }))
            .collect();
        ctl.post("/_sim/orders", json!({ "lines": lines })).await;
    }
    let paged = drain(&c, epoch()).await;
    let bulk = crate::drain_large(&c, epoch()).await;
    assert_eq!(paged.orders.len(), 603);
    assert_eq!(
        bulk.orders, paged.orders,
        "the same orders, mapped the same"
    );
    assert_eq!(bulk.reads, 603, "each read once");
    // One operation started, looked at until complete, then three pages of
    // at most 250 orders read from its result by byte ranges.
    let status = graphql(
        &sim,
        "{ currentBulkOperation { status rootObjectCount url } }",
        json!({}),
    )
    .await;
    let op = &status["data"]["currentBulkOperation"];
    assert_eq!(op["status"], "COMPLETED", "{status}");
    assert_eq!(op["rootObjectCount"], "603");
    assert!(bulk.pages >= 4, "{} pages", bulk.pages);
    // A page token of the result goes on from its byte offset, as after a
    // restart, and gives the rest once.
    let first = c
        .fetch_orders(&OrderQuery {
            updated_since: epoch(),
            page: None,
            large: true,
        })
        .await
        .unwrap();
    assert!(first.orders.is_empty(), "the export runs first");
    let mut page = first.next_page;
    let mut read = Vec::new();
    for _ in 0..20 {
        let Some(token) = page.take() else { break };
        let p = c
            .fetch_orders(&OrderQuery {
                updated_since: epoch(),
                page: Some(token),
                large: true,
            })
            .await
            .unwrap();
        read.extend(p.orders.into_iter().map(|o| o.order.channel_order_id));
        page = p.next_page;
    }
    let unique: BTreeSet<&String> = read.iter().collect();
    assert_eq!((read.len(), unique.len()), (603, 603));
    // A second export while one runs is refused by Shopify: the read pages
    // instead, and still gets everything.
    let running = graphql(
        &sim,
        "mutation($q: String!) { bulkOperationRunQuery(query: $q) { bulkOperation { id } userErrors { code } } }",
        json!({ "q": "{ orders { edges { node { id } } } }" }),
    )
    .await;
    assert!(
        running["data"]["bulkOperationRunQuery"]["bulkOperation"]["id"].is_string(),
        "{running}"
    );
    let fallback = crate::drain_large(&c, epoch()).await;
    assert_eq!(fallback.orders, paged.orders);
    assert!(fallback.pages >= 40, "paged: {} pages", fallback.pages);
}

#[tokio::test]
async fn two_thousand_orders_page_through_without_loss_even_when_updated_while_paging() {
    let (_sim, c, ctl) = start(40, 2000).await;
    unthrottled(&ctl).await;
    let ctl = std::sync::Arc::new(ctl);
    let ids: Vec<String> = drain(&c, epoch()).await.orders.into_keys().collect();
    assert_eq!(ids.len(), 2000);
    // Sorted by update time: after ten pages (150 read), edit orders behind
    // and ahead of the reader.
    let first_pass = drain(&c, epoch()).await;
    let mut by_update: Vec<(chrono::DateTime<Utc>, String)> = first_pass
        .orders
        .values()
        .map(|o| (o.updated_at, o.channel_order_id.clone()))
        .collect();
    by_update.sort();
    let touch: Vec<u64> = [10, 100, 700, 1500, 1999]
        .iter()
        .map(|i| by_update[*i].1.parse().unwrap())
        .collect();
    let (ctl2, touch2) = (ctl.clone(), touch.clone());
    let d = drain_with(&c, epoch(), move |page| {
        (page == 10).then(|| {
            let (ctl, ids) = (ctl2.clone(), touch2.clone());
            Box::pin(async move {
                ctl.post("/_sim/orders/touch", json!({ "ids": ids })).await;
            }) as std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>>
        })
    })
    .await;
    let got: BTreeSet<&String> = d.orders.keys().collect();
    assert_eq!(got, ids.iter().collect(), "every order, once in the result");
    // Orders edited behind the cursor come round again, with their edit.
    assert!(
        d.reads >= 2000 && d.reads <= 2000 + touch.len(),
        "{} reads",
        d.reads
    );
    for id in &touch {
        let o = &d.orders[&id.to_string()];
        assert!(
            o.updated_at > chrono::DateTime::parse_from_rfc3339("2026-06-01T00:00:00Z").unwrap(),
            "{id}"
        );
    }
}

#[tokio::test]
async fn incremental_fetch_returns_only_what_changed_since_the_cursor() {
    let (_sim, c, ctl) = start(20, 150).await;
    unthrottled(&ctl).await;
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
    let old = first
        .orders
        .values()
        .find(|o| !o.cancelled)
        .unwrap()
        .channel_order_id
        .clone();
    ctl.post(&format!("/_sim/orders/{old}/cancel"), json!({}))
        .await;
    let inc = drain(&c, cursor.fetch_since(DEFAULT_OVERLAP)).await;
    let id_of = |v: &Value| v["legacyResourceId"].as_str().unwrap().to_owned();
    let want: BTreeSet<String> = [id_of(&a), id_of(&b), old.clone()].into_iter().collect();
    for (id, o) in &inc.orders {
        assert!(
            want.contains(id) || o.updated_at >= cursor.fetch_since(DEFAULT_OVERLAP),
            "{id} was not changed since the cursor"
        );
    }
    assert!(want.iter().all(|id| inc.orders.contains_key(id)));
    assert!(inc.orders[&old].cancelled);
    assert!(
        inc.orders[&old].lines.iter().all(|l| l.quantity == 0),
        "nothing left to ship"
    );
    let unpaid = &inc.orders[&id_of(&b)];
    assert_eq!(
        unpaid.payment_status,
        switchyard_domain::order::PaymentStatus::Pending
    );
    assert_eq!(unpaid.lines[0].sku.as_deref(), Some("SKU-00005-M"));
    let paid = &inc.orders[&id_of(&a)];
    assert_eq!(paid.number, a["name"].as_str().unwrap());
    assert_eq!(paid.currency.as_str(), "GBP");
    let line = paid.lines[0].unit_price * 2;
    assert_eq!(paid.total, line + 395 + (line * 20 + 50) / 100 + 79);
    assert_eq!(paid.lines[0].tax, (line * 20 + 50) / 100);
}

#[tokio::test]
async fn long_orders_bring_all_their_lines() {
    let (_sim, c, ctl) = start(30, 0).await;
    unthrottled(&ctl).await;
    let skus: Vec<String> = (1..=12).map(|i| format!("SKU-{i:05}")).collect();
    let many: Vec<(&str, i64)> = skus
        .iter()
        .filter(|s| !s.ends_with("5") && !s.ends_with("10"))
        .map(|s| (s.as_str(), 1))
        .collect();
    ctl.post("/_sim/orders", json!({ "lines": lines(&many) }))
        .await;
    let d = drain(&c, epoch()).await;
    let o = d.orders.values().next().unwrap();
    assert_eq!(o.lines.len(), many.len());
}

#[tokio::test]
async fn five_hundred_skus_go_out_in_bulk_and_read_back_exactly() {
    let (_sim, c, ctl) = start(420, 0).await;
    unthrottled(&ctl).await;
    let listings = all_listings(&c).await;
    assert!(listings.len() >= 500);
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
    let calls = ctl.requests().await.len();
    assert!(
        calls <= 3,
        "{calls} calls for 500 quantities (250 a call, plus the location)"
    );
    let stock = ctl.get("/_sim/stock").await;
    let by_sku: std::collections::BTreeMap<String, i64> = stock["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            (
                i["sku"].as_str().unwrap().to_owned(),
                i["available"].as_i64().unwrap(),
            )
        })
        .collect();
    for u in &updates {
        assert_eq!(by_sku[&u.sku], u.quantity, "{}", u.sku);
    }
    // Compare-and-set: a stale expectation is a conflict, the others land.
    let cas = vec![
        StockUpdate {
            expected: Some(updates[0].quantity),
            quantity: 61,
            ..updates[0].clone()
        },
        StockUpdate {
            expected: Some(999),
            quantity: 62,
            ..updates[1].clone()
        },
        StockUpdate {
            expected: Some(updates[2].quantity),
            quantity: 63,
            ..updates[2].clone()
        },
    ];
    let out = c.push_stock(&cas).await.unwrap();
    assert_eq!(out[0], StockOutcome::Accepted);
    assert_eq!(
        out[1],
        StockOutcome::Conflict {
            actual: Some(updates[1].quantity)
        }
    );
    assert_eq!(out[2], StockOutcome::Accepted);
}

fn shipment(
    order: &Value,
    reference: &str,
    lines: Vec<(String, i64)>,
    numbers: &[&str],
) -> FulfilmentPush {
    FulfilmentPush {
        channel_order_id: order["legacyResourceId"].as_str().unwrap().to_owned(),
        lines,
        tracking: numbers
            .iter()
            .map(|n| Tracking {
                number: (*n).into(),
                url: Some(format!(
                    "https://www.royalmail.com/track-your-item#/tracking-results/{n}"
                )),
            })
            .collect(),
        carrier: Some("Royal Mail".into()),
        service: None,
        shipped_at: Utc::now(),
        reference: reference.into(),
    }
}

fn line_id(order: &Value, i: usize) -> String {
    order["lineItems"][i]["id"]
        .as_str()
        .unwrap()
        .rsplit('/')
        .next()
        .unwrap()
        .to_owned()
}

#[tokio::test]
async fn fulfilments_with_two_tracking_numbers_land_once_and_partially() {
    let (_sim, c, ctl) = start(20, 0).await;
    let order = ctl
        .post(
            "/_sim/orders",
            json!({ "lines": lines(&[("SKU-00001", 1), ("SKU-00002", 2)]) }),
        )
        .await;
    let first = shipment(
        &order,
        "ful_1",
        vec![(line_id(&order, 1), 1)],
        &["AB123456789GB", "AB123456790GB"],
    );
    let ack = c.push_fulfilment(&first).await.unwrap();
    assert!(!ack.already_existed);
    let again = c.push_fulfilment(&first).await.unwrap();
    assert!(again.already_existed);
    assert_eq!(again.channel_fulfilment_id, ack.channel_fulfilment_id);
    let f = ctl.get("/_sim/fulfilments").await;
    assert_eq!(f["orders"][0]["status"], "PARTIALLY_FULFILLED");
    let rest = shipment(&order, "ful_2", vec![], &["AB123456791GB"]);
    c.push_fulfilment(&rest).await.unwrap();
    let f = ctl.get("/_sim/fulfilments").await;
    let o = &f["orders"][0];
    assert_eq!(o["status"], "FULFILLED");
    let ships = o["fulfillments"].as_array().unwrap();
    assert_eq!(ships.len(), 2);
    let numbers: Vec<&str> = ships[0]["trackingInfo"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["number"].as_str().unwrap())
        .collect();
    assert_eq!(numbers, ["AB123456789GB", "AB123456790GB"]);
    assert_eq!(ships[0]["trackingInfo"][0]["company"], "Royal Mail");
    assert_eq!(ships[0]["fulfillmentLineItems"][0]["quantity"], 1);
    // Nothing is left: another shipment is refused clearly.
    let err = c
        .push_fulfilment(&shipment(&order, "ful_3", vec![], &["X1"]))
        .await
        .unwrap_err();
    assert!(matches!(err, ConnectorError::Rejected { .. }), "{err}");
}

#[tokio::test]
async fn with_twenty_percent_faults_and_the_cost_throttle_everything_ends_right() {
    let (_sim, c, ctl) = start(150, 90).await;
    // A standard bucket refilling fast: throttling happens, tests stay short.
    ctl.put(
        "/_sim/throttle",
        json!({ "maximum_available": 2000, "restore_rate": 500 }),
    )
    .await;
    let listings = all_listings(&c).await;
    let order = ctl
        .post(
            "/_sim/orders",
            json!({ "lines": lines(&[("SKU-00003", 1), ("SKU-00004", 2)]) }),
        )
        .await;
    ctl.clear_requests().await;
    ctl.faults(&Faults::spread(0.2, 1, 1_500)).await;

    let d = drain(&c, epoch()).await;
    assert_eq!(d.orders.len(), 91);
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
    ctl.faults(&Faults {
        rate_slow: 0.5,
        slow_ms: 1_500,
        ..Faults::default()
    })
    .await;
    c.push_fulfilment(&shipment(
        &order,
        "ful_f",
        vec![],
        &["AB000000001GB", "AB000000002GB"],
    ))
    .await
    .unwrap();
    // Bursts, so every kind of fault shows in the log whatever the dice said above.
    for burst in [
        Faults {
            rate_429: 0.5,
            retry_after_secs: 1,
            ..Faults::default()
        },
        Faults {
            rate_malformed: 0.5,
            ..Faults::default()
        },
        Faults {
            rate_5xx: 0.5,
            ..Faults::default()
        },
    ] {
        ctl.faults(&burst).await;
        for _ in 0..8 {
            c.test_connection().await.unwrap();
        }
    }
    ctl.faults(&Faults::default()).await;
    // Other apps of the shop spent the bucket: the next call is THROTTLED,
    // and the connector waits for the bucket instead of failing.
    ctl.put(
        "/_sim/throttle",
        json!({ "maximum_available": 2000, "restore_rate": 10, "currently_available": 0 }),
    )
    .await;
    c.test_connection().await.unwrap();

    let stock = ctl.get("/_sim/stock").await;
    for u in &updates {
        let item = stock["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|i| i["sku"] == u.sku.as_str())
            .unwrap();
        assert_eq!(item["available"], u.quantity);
    }
    let f = ctl.get("/_sim/fulfilments").await;
    let mine = f["orders"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| {
            o["order_id"].as_u64().map(|i| i.to_string()).as_deref()
                == order["legacyResourceId"].as_str()
        })
        .unwrap();
    let ships = mine["fulfillments"].as_array().unwrap();
    assert_eq!(ships.len(), 1, "{ships:?}");
    assert_eq!(ships[0]["trackingInfo"].as_array().unwrap().len(), 2);

    let log = ctl.requests().await;
    for kind in ["429", "5xx", "malformed", "slow", "throttled"] {
        assert!(
            log.iter().any(|e| e.fault.as_deref() == Some(kind)),
            "no {kind} in the log"
        );
    }
    assert!(assert_retry_after_honoured(&log) > 0);
    // After THROTTLED, the connector waits for the bucket (at least a second).
    for (i, e) in log.iter().enumerate() {
        if e.fault.as_deref() == Some("throttled")
            && let Some(next) = log.get(i + 1)
        {
            assert!(
                next.at_ms >= e.at_ms + 1000.0,
                "#{} came {:.0} ms after THROTTLED",
                next.seq,
                next.at_ms - e.at_ms
            );
        }
    }
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
    assert_eq!(ctl.requests().await.len(), 1);
}

#[tokio::test]
async fn documents_are_validated_against_the_published_schema() {
    let (sim, _c, _ctl) = start(5, 3).await;
    let status = Control::new(&sim).get("/_sim/status").await;
    assert_eq!(status["schema_validation"], true);
    assert!(status["schema_types"].as_u64().unwrap() > 1000);
    let bad = graphql(
        &sim,
        "{ orders(first: 2) { nodes { id colour } } }",
        json!({}),
    )
    .await;
    assert!(bad["data"].is_null());
    let msg = bad["errors"][0]["message"].as_str().unwrap();
    assert!(msg.contains("colour"), "{msg}");
    assert!(bad["errors"][0]["locations"].is_array());
    let wrong_arg = graphql(
        &sim,
        "{ orders(first: \"two\") { nodes { id } } }",
        json!({}),
    )
    .await;
    assert!(
        wrong_arg["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("Int"),
        "{wrong_arg}"
    );
    let undeclared = graphql(
        &sim,
        "query Q($n: Int!) { orders(first: $n) { nodes { id } } }",
        json!({}),
    )
    .await;
    assert!(!undeclared["errors"].as_array().unwrap().is_empty());
    let no_size = graphql(&sim, "{ orders { nodes { id } } }", json!({})).await;
    assert!(
        no_size["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("first or last")
    );
    let ok = graphql(
        &sim,
        "query Q($n: Int!) { orders(first: $n) { nodes { id name } } }",
        json!({ "n": 2 }),
    )
    .await;
    assert_eq!(ok["data"]["orders"]["nodes"].as_array().unwrap().len(), 2);
    let cost = &ok["extensions"]["cost"];
    assert_eq!(cost["requestedQueryCost"], 4);
    assert_eq!(cost["throttleStatus"]["maximumAvailable"], 2000.0);
    let huge = graphql(
        &sim,
        "{ orders(first: 250) { nodes { lineItems(first: 250) { nodes { id } } } } }",
        json!({}),
    )
    .await;
    assert_eq!(huge["errors"][0]["extensions"]["code"], "MAX_COST_EXCEEDED");
}

#[tokio::test]
async fn webhooks_are_signed_with_the_app_secret() {
    let (sim, _c, ctl) = start(5, 0).await;
    let (rx, addr) = Receiver::start().await;
    let created = graphql(
        &sim,
        "mutation W($url: URL!) { webhookSubscriptionCreate(topic: ORDERS_CREATE, webhookSubscription: { callbackUrl: $url, format: JSON }) { webhookSubscription { id topic } userErrors { message } } }",
        json!({ "url": format!("http://{addr}/hook") }),
    )
    .await;
    assert_eq!(
        created["data"]["webhookSubscriptionCreate"]["webhookSubscription"]["topic"],
        "ORDERS_CREATE",
        "{created}"
    );
    ctl.post(
        "/_sim/orders",
        json!({ "lines": lines(&[("SKU-00001", 1)]) }),
    )
    .await;
    let got = rx.wait_for(1).await;
    let (headers, body) = &got[0];
    assert_eq!(headers["x-shopify-topic"], "orders/create");
    let secret = sim.credentials["api_secret_key"].as_str().unwrap();
    let sig = headers["x-shopify-hmac-sha256"].to_str().unwrap();
    assert!(Shopify::verify_webhook(secret, body, sig));
    assert!(!Shopify::verify_webhook("shpss_wrong", body, sig));
}
