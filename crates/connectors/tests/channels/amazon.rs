use secrecy::ExposeSecret;
use serde_json::{Value, json};
use switchyard_connectors::ConnectorError;
use switchyard_connectors::amazon::{Amazon, AmazonCredentials};
use switchyard_connectors::channel::{
    FulfilmentPush, SalesChannel, StockOutcome, StockUpdate, Tracking,
};
use switchyard_domain::order::ChannelFulfilment;
use switchyard_sim::{Channel, Faults, RunningSim, SimOptions};

use crate::{Control, all_listings, conforms, drain, lines, policy, shipped_spec};

async fn start() -> (RunningSim, Amazon, Control, AmazonCredentials) {
    let sim = switchyard_sim::spawn(
        Channel::Amazon,
        &SimOptions {
            seed: 3,
            products: 12,
            orders: 0,
            ..SimOptions::default()
        },
    )
    .await
    .unwrap();
    let creds: AmazonCredentials = serde_json::from_value(sim.credentials.clone()).unwrap();
    let c = Amazon::new(&sim.base_url(), &creds, policy()).unwrap();
    let ctl = Control::new(&sim);
    (sim, c, ctl, creds)
}

/// No listing lag and roomy buckets, for tests that are not about them.
async fn roomy(ctl: &Control) {
    ctl.put("/_sim/lag", json!({ "seconds": 0 })).await;
    ctl.put(
        "/_sim/rate-limits",
        json!({ "getOrders": { "rate": 100.0, "burst": 100.0 },
                "getOrderItems": { "rate": 1000.0, "burst": 1000.0 } }),
    )
    .await;
}

async fn place(ctl: &Control, skus: &[(&str, i64)], afn: bool) -> String {
    let v = ctl
        .post("/_sim/orders", json!({ "lines": lines(skus), "afn": afn }))
        .await;
    v["id"].as_str().unwrap().to_owned()
}

/// The Swagger 2 definitions, shaped as `conforms` reads them.
fn spec(file: &str) -> Value {
    let v: Value = serde_json::from_str(
        &std::fs::read_to_string(shipped_spec("amazon-sp-api").join(file)).unwrap(),
    )
    .unwrap();
    json!({ "components": { "schemas": v["definitions"] } })
}

async fn raw_get(sim: &RunningSim, creds: &AmazonCredentials, path: &str) -> Value {
    raw_call(sim, creds, reqwest::Method::GET, path).await.1
}

/// `method path` with a fresh access token: the status and the JSON body.
async fn raw_call(
    sim: &RunningSim,
    creds: &AmazonCredentials,
    method: reqwest::Method,
    path: &str,
) -> (u16, Value) {
    let http = reqwest::Client::new();
    let token: Value = http
        .post(format!("{}/auth/o2/token", sim.base_url()))
        .form(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", creds.refresh_token.expose_secret()),
            ("client_id", creds.client_id.as_str()),
            ("client_secret", creds.client_secret.expose_secret()),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let r = http
        .request(method, format!("{}{path}", sim.base_url()))
        .header(
            "x-amz-access-token",
            token["access_token"].as_str().unwrap(),
        )
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    let text = r.text().await.unwrap();
    let body = serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("{path} answered {status} with no JSON ({e}): {text:?}"));
    (status, body)
}

/// Every `null` in `v`, by path: Amazon leaves absent fields out, and its
/// schemas allow no `null`.
fn nulls(v: &Value, at: &str, out: &mut Vec<String>) {
    match v {
        Value::Null => out.push(at.to_owned()),
        Value::Array(a) => a
            .iter()
            .enumerate()
            .for_each(|(i, x)| nulls(x, &format!("{at}[{i}]"), out)),
        Value::Object(o) => o
            .iter()
            .for_each(|(k, x)| nulls(x, &format!("{at}.{k}"), out)),
        _ => {}
    }
}

fn since() -> chrono::DateTime<chrono::Utc> {
    chrono::Utc::now() - chrono::Duration::minutes(10)
}

#[tokio::test]
async fn seller_fulfilled_orders_page_through_with_their_items_and_follow_the_spec() {
    let (sim, c, ctl, creds) = start().await;
    let skus: Vec<String> = sim.shown_stock().await.unwrap().into_keys().collect();
    // Amazon lists a change two minutes after it happened.
    let early = place(&ctl, &[(&skus[0], 1)], false).await;
    assert!(
        drain(&c, since()).await.orders.is_empty(),
        "{early} listed too soon"
    );
    roomy(&ctl).await;
    for i in 0..150 {
        place(
            &ctl,
            &[(&skus[i % 5], 1), (&skus[5 + i % 3], 2)],
            i % 10 == 9,
        )
        .await;
    }
    let d = drain(&c, since()).await;
    assert_eq!(d.orders.len(), 1 + 135, "seller-fulfilled only");
    assert_eq!(d.pages, 2, "100 a page");
    let o = &d.orders[&early];
    assert_eq!(o.lines.len(), 1);
    assert_eq!(o.currency.as_str(), "EUR");
    assert_eq!(o.shipping_total, 299);
    assert_eq!(o.total, o.lines[0].unit_price + 299);
    assert!(
        o.shipping_address.line1.is_none(),
        "no street without an RDT"
    );
    assert!(o.shipping_address.postal_code.is_some());

    let orders = spec("ordersV0.json");
    let page = raw_get(
        &sim,
        &creds,
        &format!(
            "/orders/v0/orders?MarketplaceIds={}&LastUpdatedAfter=2020-01-01T00:00:00Z&MaxResultsPerPage=2",
            creds.marketplace_id
        ),
    )
    .await;
    let first = &page["payload"]["Orders"][0];
    conforms(&orders, "Order", first);
    conforms(&orders, "Money", &first["OrderTotal"]);
    conforms(&orders, "Address", &first["ShippingAddress"]);
    assert!(page["payload"]["NextToken"].is_string());
    let items = raw_get(
        &sim,
        &creds,
        &format!(
            "/orders/v0/orders/{}/orderItems",
            first["AmazonOrderId"].as_str().unwrap()
        ),
    )
    .await;
    conforms(&orders, "OrderItem", &items["payload"]["OrderItems"][0]);
    let missing = raw_get(
        &sim,
        &creds,
        &format!("/orders/v0/orders?MarketplaceIds={}", creds.marketplace_id),
    )
    .await;
    conforms(&orders, "Error", &missing["errors"][0]);
    assert_eq!(missing["errors"][0]["code"], "InvalidInput");
}

#[tokio::test]
async fn stock_is_patched_per_sku_and_listings_are_read_twenty_a_page() {
    let (sim, c, ctl, creds) = start().await;
    let listings = all_listings(&c).await;
    let shown = sim.shown_stock().await.unwrap();
    assert_eq!(listings.len(), shown.len());
    for l in &listings {
        assert_eq!(l.quantity, Some(shown[&l.channel_listing_id]));
    }
    let mut updates: Vec<StockUpdate> = listings
        .iter()
        .take(3)
        .map(|l| StockUpdate {
            channel_listing_id: l.channel_listing_id.clone(),
            sku: l.channel_listing_id.clone(),
            quantity: 4,
            expected: None,
        })
        .collect();
    updates.push(StockUpdate {
        channel_listing_id: "NOT-LISTED".into(),
        sku: "NOT-LISTED".into(),
        quantity: 1,
        expected: None,
    });
    ctl.clear_requests().await;
    let out = c.push_stock(&updates).await.unwrap();
    assert!(
        out[..3].iter().all(|o| *o == StockOutcome::Accepted),
        "{out:?}"
    );
    assert!(matches!(
        out[3],
        StockOutcome::Failed {
            retryable: false,
            ..
        }
    ));
    let shown = sim.shown_stock().await.unwrap();
    for u in &updates[..3] {
        assert_eq!(shown[&u.sku], 4);
    }
    let log = ctl.requests().await;
    assert_eq!(log.iter().filter(|e| e.method == "PATCH").count(), 4);
    let page = raw_get(
        &sim,
        &creds,
        &format!(
            "/listings/2021-08-01/items/{}?marketplaceIds={}&pageSize=2",
            creds.seller_id, creds.marketplace_id
        ),
    )
    .await;
    let listing_spec = spec("listingsItems_2021-08-01.json");
    let item = &page["items"][0];
    conforms(&listing_spec, "Item", item);
    conforms(&listing_spec, "ItemOfferByMarketplace", &item["offers"][0]);
    conforms(&listing_spec, "Money", &item["offers"][0]["price"]);
    conforms(
        &listing_spec,
        "ItemSummaryByMarketplace",
        &page["items"][0]["summaries"][0],
    );
}

fn shipment(
    order: &str,
    lines: Vec<(String, i64)>,
    reference: &str,
    number: &str,
) -> FulfilmentPush {
    FulfilmentPush {
        channel_order_id: order.to_owned(),
        lines,
        tracking: vec![Tracking {
            number: number.into(),
            url: None,
        }],
        carrier: Some("DHL".into()),
        service: Some("Paket".into()),
        shipped_at: chrono::Utc::now(),
        reference: reference.into(),
    }
}

#[tokio::test]
async fn a_package_resent_is_edited_not_doubled_and_a_revoked_token_is_an_auth_error() {
    let (sim, c, ctl, creds) = start().await;
    roomy(&ctl).await;
    let skus: Vec<String> = sim.shown_stock().await.unwrap().into_keys().collect();
    let id = place(&ctl, &[(&skus[0], 2), (&skus[1], 1)], false).await;
    let order = c.fetch_order(&id).await.unwrap().orders.remove(0).order;
    let first = (order.lines[0].channel_line_id.clone(), 2);
    let push = shipment(&id, vec![first.clone()], "ful_a", "JJD0001");
    let ack = c.push_fulfilment(&push).await.unwrap();
    // Resent with a corrected number: the same package, edited.
    let fixed = shipment(&id, vec![first], "ful_a", "JJD0002");
    let again = c.push_fulfilment(&fixed).await.unwrap();
    assert_eq!(again.channel_fulfilment_id, ack.channel_fulfilment_id);
    let f = ctl.get("/_sim/fulfilments").await;
    let packages = f["orders"][0]["shipments"].as_array().unwrap().clone();
    assert_eq!(packages.len(), 1);
    assert_eq!(packages[0]["tracking_number"], "JJD0002");
    assert_eq!(packages[0]["carrier"], "DHL");
    let o = c.fetch_order(&id).await.unwrap().orders.remove(0).order;
    assert_eq!(o.fulfilment, ChannelFulfilment::PartiallyFulfilled);
    // A tracking update edits the package under its id.
    let mut moved = fixed.clone();
    moved.tracking[0].number = "JJD0005".into();
    assert_eq!(
        c.update_fulfilment_tracking(&ack.channel_fulfilment_id, &moved)
            .await
            .unwrap(),
        None
    );
    let f = ctl.get("/_sim/fulfilments").await;
    assert_eq!(f["orders"][0]["shipments"].as_array().unwrap().len(), 1);
    assert_eq!(f["orders"][0]["shipments"][0]["tracking_number"], "JJD0005");
    // The rest, without naming lines.
    c.push_fulfilment(&shipment(&id, vec![], "ful_b", "JJD0003"))
        .await
        .unwrap();
    let o = c.fetch_order(&id).await.unwrap().orders.remove(0).order;
    assert_eq!(o.fulfilment, ChannelFulfilment::Fulfilled);
    // Shipping more than ordered is refused.
    let over = c
        .push_fulfilment(&shipment(
            &id,
            vec![(order.lines[1].channel_line_id.clone(), 1)],
            "ful_c",
            "JJD0004",
        ))
        .await;
    assert!(
        matches!(over, Err(ConnectorError::Rejected { status: 400, .. })),
        "{over:?}"
    );
    // A cancellation is seen.
    let gone = place(&ctl, &[(&skus[2], 1)], false).await;
    ctl.post(&format!("/_sim/orders/{gone}/cancel"), json!({}))
        .await;
    assert!(
        c.fetch_order(&gone).await.unwrap().orders[0]
            .order
            .cancelled
    );

    ctl.post("/_sim/auth/revoke", json!({})).await;
    let fresh = Amazon::new(&sim.base_url(), &creds, policy()).unwrap();
    assert!(matches!(
        fresh.test_connection().await,
        Err(ConnectorError::Auth { .. })
    ));
    ctl.post("/_sim/auth/restore", json!({})).await;
    fresh.test_connection().await.unwrap();
}

#[tokio::test]
async fn a_spent_bucket_holds_the_operation_for_one_token_and_then_succeeds() {
    let (sim, c, ctl, _creds) = start().await;
    roomy(&ctl).await;
    let skus: Vec<String> = sim.shown_stock().await.unwrap().into_keys().collect();
    place(&ctl, &[(&skus[0], 1)], false).await;
    // Two calls a second, no burst beyond one.
    ctl.put(
        "/_sim/rate-limits",
        json!({ "getOrders": { "rate": 2.0, "burst": 1.0 } }),
    )
    .await;
    ctl.clear_requests().await;
    for _ in 0..3 {
        assert_eq!(drain(&c, since()).await.orders.len(), 1);
    }
    let calls: Vec<_> = ctl
        .requests()
        .await
        .into_iter()
        .filter(|e| e.path == "/orders/v0/orders")
        .collect();
    assert_eq!(calls.iter().filter(|e| e.status == 200).count(), 3);
    assert!(
        calls.iter().any(|e| e.status == 429),
        "the bucket ran dry: {calls:?}"
    );
    for w in calls.windows(2) {
        if w[0].status == 429 {
            assert!(
                w[1].at_ms - w[0].at_ms >= 450.0,
                "retried {:.0} ms after a 429 on a 2/s bucket",
                w[1].at_ms - w[0].at_ms
            );
        }
    }
}

#[tokio::test]
async fn under_429s_5xx_slow_duplicate_and_shuffled_answers_nothing_is_lost_or_doubled() {
    let (sim, c, ctl, _creds) = start().await;
    roomy(&ctl).await;
    let skus: Vec<String> = sim.shown_stock().await.unwrap().into_keys().collect();
    for i in 0..120 {
        place(&ctl, &[(&skus[i % 6], 1)], false).await;
    }
    let listings = all_listings(&c).await;
    ctl.clear_requests().await;
    ctl.faults(&Faults::spread(0.2, 1, 1_500)).await;
    let d = drain(&c, since()).await;
    assert_eq!(d.orders.len(), 120, "every order, once");
    let updates: Vec<StockUpdate> = listings
        .iter()
        .take(8)
        .map(|l| StockUpdate {
            channel_listing_id: l.channel_listing_id.clone(),
            sku: l.channel_listing_id.clone(),
            quantity: 6,
            expected: None,
        })
        .collect();
    let out = c.push_stock(&updates).await.unwrap();
    assert!(out.iter().all(|o| *o == StockOutcome::Accepted), "{out:?}");
    let id = d.orders.keys().next().unwrap().clone();
    c.push_fulfilment(&shipment(&id, vec![], "ful_f", "JJD0009"))
        .await
        .unwrap();
    ctl.faults(&Faults::default()).await;
    let f = ctl.get("/_sim/fulfilments").await;
    assert_eq!(f["orders"][0]["shipments"].as_array().unwrap().len(), 1);
    assert!(ctl.requests().await.iter().any(|e| e.fault.is_some()));
}

#[tokio::test]
async fn many_skus_go_as_one_listings_feed_whose_report_refuses_single_messages() {
    let (sim, c, ctl, _creds) = start().await;
    let listings = all_listings(&c).await;
    let mut updates: Vec<StockUpdate> = listings
        .iter()
        .map(|l| StockUpdate {
            channel_listing_id: l.channel_listing_id.clone(),
            sku: l.channel_listing_id.clone(),
            quantity: 11,
            expected: None,
        })
        .collect();
    updates.insert(
        4,
        StockUpdate {
            channel_listing_id: "NOT-LISTED".into(),
            sku: "NOT-LISTED".into(),
            quantity: 1,
            expected: None,
        },
    );
    assert!(updates.len() >= 10);
    ctl.clear_requests().await;
    let out = c.push_stock(&updates).await.unwrap();
    for (u, o) in updates.iter().zip(&out) {
        if u.sku == "NOT-LISTED" {
            assert!(
                matches!(
                    o,
                    StockOutcome::Failed {
                        retryable: false,
                        ..
                    }
                ),
                "{o:?}"
            );
        } else {
            assert_eq!(*o, StockOutcome::Accepted, "{}", u.sku);
        }
    }
    let shown = sim.shown_stock().await.unwrap();
    assert!(shown.values().all(|q| *q == 11), "{shown:?}");
    let log = ctl.requests().await;
    let paths: Vec<String> = log
        .iter()
        .map(|e| format!("{} {}", e.method, e.path))
        .collect();
    assert!(
        !paths.iter().any(|p| p.starts_with("PATCH")),
        "no per-SKU patches: {paths:?}"
    );
    for step in [
        "POST /feeds/2021-06-30/documents",
        "POST /feeds/2021-06-30/feeds",
        "GET /feeds/2021-06-30/feeds/",
    ] {
        assert!(
            paths.iter().any(|p| p.starts_with(step)),
            "{step} missing: {paths:?}"
        );
    }
    let feeds = spec("feeds_2021-06-30.json");
    let feed_path = log
        .iter()
        .find(|e| e.method == "GET" && e.path.starts_with("/feeds/2021-06-30/feeds/"))
        .unwrap()
        .path
        .clone();
    let feed = raw_get(&sim, &_creds, &feed_path).await;
    conforms(&feeds, "Feed", &feed);
    assert_eq!(feed["processingStatus"], "DONE");
}

/// `getOrders` honours each documented filter it is given, or refuses it in
/// Amazon's words; `getOrderAddress` is served; answers carry no `null`;
/// a path or method the simulator does not serve is Amazon's JSON error,
/// never an empty body a client would read as "nothing".
#[tokio::test]
async fn get_orders_honours_every_filter_and_every_answer_is_amazons() {
    let (sim, _c, ctl, creds) = start().await;
    roomy(&ctl).await;
    let skus: Vec<String> = sim.shown_stock().await.unwrap().into_keys().collect();
    let kept = place(&ctl, &[(&skus[0], 1)], false).await;
    let cancelled = place(&ctl, &[(&skus[1], 1)], false).await;
    ctl.post(&format!("/_sim/orders/{cancelled}/cancel"), json!({}))
        .await;
    let orders = spec("ordersV0.json");
    let m = &creds.marketplace_id;
    let list = |q: String| {
        let (sim, creds) = (&sim, &creds);
        async move {
            let (status, v) = raw_call(
                sim,
                creds,
                reqwest::Method::GET,
                &format!("/orders/v0/orders?MarketplaceIds={m}&{q}"),
            )
            .await;
            (status, v)
        }
    };
    let ids = |v: &Value| -> Vec<String> {
        let mut ids: Vec<String> = v["payload"]["Orders"]
            .as_array()
            .unwrap_or_else(|| panic!("no orders in {v}"))
            .iter()
            .map(|o| o["AmazonOrderId"].as_str().unwrap().to_owned())
            .collect();
        ids.sort();
        ids
    };
    let mut both = vec![kept.clone(), cancelled.clone()];
    both.sort();
    let since = "CreatedAfter=2020-01-01T00:00:00Z";
    for (query, want) in [
        (format!("AmazonOrderIds={kept}"), vec![kept.clone()]),
        (
            format!("{since}&OrderStatuses=Canceled"),
            vec![cancelled.clone()],
        ),
        (
            format!("{since}&OrderStatuses=Unshipped,Pending"),
            vec![kept.clone()],
        ),
        (
            format!("{since}&CreatedBefore=2021-01-01T00:00:00Z"),
            vec![],
        ),
        (format!("{since}&PaymentMethods=COD"), vec![]),
        (format!("{since}&PaymentMethods=Other,COD"), both.clone()),
        (
            format!("{since}&SellerOrderId={cancelled}"),
            vec![cancelled.clone()],
        ),
        (format!("{since}&FulfillmentChannels=AFN"), vec![]),
    ] {
        let (status, v) = list(query.clone()).await;
        assert_eq!(status, 200, "{query}: {v}");
        assert_eq!(ids(&v), want, "{query}");
        for o in v["payload"]["Orders"].as_array().unwrap() {
            conforms(&orders, "Order", o);
            conforms(&orders, "Address", &o["ShippingAddress"]);
        }
        let mut found = Vec::new();
        nulls(&v, "$", &mut found);
        assert!(found.is_empty(), "{query}: null at {found:?}");
    }
    // The buyer's (relay) address as the orders show it.
    let (_, all) = list(since.to_owned()).await;
    let email = all["payload"]["Orders"][0]["BuyerInfo"]["BuyerEmail"]
        .as_str()
        .unwrap()
        .to_owned();
    let (status, v) = list(format!("{since}&BuyerEmail={email}")).await;
    assert_eq!(status, 200, "{v}");
    assert!(!ids(&v).is_empty());
    for query in [
        format!("{since}&OrderStatuses=Lost"),
        format!("{since}&PaymentMethods=Cheque"),
        format!("{since}&BuyerEmail={email}&OrderStatuses=Shipped"),
        "CreatedBefore=2021-01-01T00:00:00Z&LastUpdatedAfter=2020-01-01T00:00:00Z".to_owned(),
    ] {
        let (status, v) = list(query.clone()).await;
        assert_eq!(status, 400, "{query}: {v}");
        assert_eq!(v["errors"][0]["code"], "InvalidInput", "{query}");
        conforms(&orders, "Error", &v["errors"][0]);
    }
    // getOrderAddress.
    let (status, v) = raw_call(
        &sim,
        &creds,
        reqwest::Method::GET,
        &format!("/orders/v0/orders/{kept}/address"),
    )
    .await;
    assert_eq!(status, 200, "{v}");
    conforms(&orders, "GetOrderAddressResponse", &v);
    conforms(&orders, "OrderAddress", &v["payload"]);
    conforms(&orders, "Address", &v["payload"]["ShippingAddress"]);
    assert_eq!(v["payload"]["AmazonOrderId"], kept.as_str());
    // What the simulator does not serve: Amazon's JSON error.
    for (method, path, want) in [
        (
            reqwest::Method::GET,
            format!("/orders/v0/orders/{kept}/regulatedInfo"),
            404,
        ),
        (
            reqwest::Method::GET,
            "/orders/2026-01-01/orders".to_owned(),
            404,
        ),
        (
            reqwest::Method::DELETE,
            format!("/orders/v0/orders/{kept}"),
            405,
        ),
    ] {
        let (status, v) = raw_call(&sim, &creds, method, &path).await;
        assert_eq!(status, want, "{path}: {v}");
        conforms(&orders, "Error", &v["errors"][0]);
    }
}
