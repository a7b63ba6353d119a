use secrecy::ExposeSecret;
use serde_json::{Value, json};
use switchyard_connectors::ConnectorError;
use switchyard_connectors::bolcom::{BolCredentials, Bolcom};
use switchyard_connectors::channel::{
    FulfilmentPush, SalesChannel, StockOutcome, StockUpdate, Tracking,
};
use switchyard_domain::order::ChannelFulfilment;
use switchyard_sim::{Channel, Faults, RunningSim, SimOptions};

use crate::{Control, all_listings, conforms_if_at_hand, drain, lines, policy, unshipped_spec};

const MEDIA: &str = "application/vnd.retailer.v10+json";

async fn start(products: usize) -> (RunningSim, Bolcom, Control, BolCredentials) {
    let sim = switchyard_sim::spawn(
        Channel::Bolcom,
        &SimOptions {
            seed: 5,
            products,
            orders: 0,
            ..SimOptions::default()
        },
    )
    .await
    .unwrap();
    let creds: BolCredentials = serde_json::from_value(sim.credentials.clone()).unwrap();
    let c = Bolcom::new(&sim.base_url(), &creds, policy()).unwrap();
    let ctl = Control::new(&sim);
    (sim, c, ctl, creds)
}

/// A raw API call with a fresh token and bol's media type.
async fn raw(
    sim: &RunningSim,
    creds: &BolCredentials,
    method: reqwest::Method,
    path: &str,
    accept: Option<&str>,
) -> (u16, Value) {
    let http = reqwest::Client::new();
    let token: Value = http
        .post(format!(
            "{}/token?grant_type=client_credentials",
            sim.base_url()
        ))
        .basic_auth(&creds.client_id, Some(creds.client_secret.expose_secret()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let mut req = http
        .request(method, format!("{}{path}", sim.base_url()))
        .bearer_auth(token["access_token"].as_str().unwrap());
    if let Some(a) = accept {
        req = req.header("accept", a);
    }
    let r = req.send().await.unwrap();
    (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
}

/// Generous limits for tests that are not about them.
async fn roomy(ctl: &Control) {
    ctl.put(
        "/_sim/rate-limits",
        json!({ "orders-list": { "calls": 100, "window_ms": 1000 },
                "order": { "calls": 1000, "window_ms": 1000 } }),
    )
    .await;
}

async fn place(ctl: &Control, skus: &[(&str, i64)]) -> String {
    let v = ctl
        .post("/_sim/orders", json!({ "lines": lines(skus) }))
        .await;
    v["id"].as_str().unwrap().to_owned()
}

fn spec(file: &str) -> Option<Value> {
    unshipped_spec(&format!("bolcom/{file}"))
}

#[tokio::test]
async fn orders_of_the_last_hour_and_of_older_days_are_read_once_in_full_and_follow_the_spec() {
    let (sim, c, ctl, creds) = start(12).await;
    roomy(&ctl).await;
    let skus: Vec<String> = sim.shown_stock().await.unwrap().into_keys().collect();
    for i in 0..120 {
        place(
            &ctl,
            &[(skus[i % 5].as_str(), 1), (skus[5 + i % 4].as_str(), 2)],
        )
        .await;
    }
    ctl.clear_requests().await;
    let recent = drain(&c, chrono::Utc::now() - chrono::Duration::minutes(10)).await;
    assert_eq!(recent.orders.len(), 120);
    assert_eq!(recent.pages, 3, "50 a page, the last short");
    assert_eq!(recent.reads, 120);
    let log = ctl.requests().await;
    let lists: Vec<_> = log
        .iter()
        .filter(|e| e.path == "/retailer/orders")
        .collect();
    assert!(
        lists.iter().all(|e| e
            .query
            .as_deref()
            .unwrap()
            .contains("change-interval-minute=60")),
        "{lists:?}"
    );
    assert_eq!(
        log.iter()
            .filter(|e| e.path.starts_with("/retailer/orders/"))
            .count(),
        120,
        "each order read in full once"
    );

    // A cursor two days old walks the days.
    ctl.clear_requests().await;
    let older = drain(&c, chrono::Utc::now() - chrono::Duration::days(2)).await;
    assert_eq!(older.orders.len(), 120);
    let days: Vec<String> = ctl
        .requests()
        .await
        .iter()
        .filter(|e| e.path == "/retailer/orders")
        .filter_map(|e| e.query.clone())
        .collect();
    assert!(days[0].contains("latest-change-date="), "{days:?}");
    assert_eq!(days.len(), 5, "two empty days, then three pages: {days:?}");

    // Mapping: money in exact cents, the offer reference as SKU, the address.
    let (_, full) = raw(
        &sim,
        &creds,
        reqwest::Method::GET,
        &format!("/retailer/orders/{}", recent.orders.keys().next().unwrap()),
        Some(MEDIA),
    )
    .await;
    let o = &recent.orders[full["orderId"].as_str().unwrap()];
    let item = &full["orderItems"][0];
    assert_eq!(
        o.lines[0].unit_price,
        (item["unitPrice"].as_f64().unwrap() * 100.0).round() as i64
    );
    assert_eq!(
        o.lines[0].sku.as_deref(),
        item["offer"]["reference"].as_str()
    );
    assert_eq!(
        o.shipping_address.postal_code.as_deref(),
        full["shipmentDetails"]["zipCode"].as_str()
    );
    assert!(
        o.shipping_address
            .line1
            .as_deref()
            .unwrap()
            .ends_with(full["shipmentDetails"]["houseNumber"].as_str().unwrap())
    );
    let retailer = spec("retailer-v10.json");
    conforms_if_at_hand(retailer.as_ref(), "Order", &full);
    conforms_if_at_hand(retailer.as_ref(), "OrderOrderItem", item);
    conforms_if_at_hand(
        retailer.as_ref(),
        "ShipmentDetails",
        &full["shipmentDetails"],
    );
    let (_, list) = raw(
        &sim,
        &creds,
        reqwest::Method::GET,
        "/retailer/orders?status=ALL",
        Some(MEDIA),
    )
    .await;
    conforms_if_at_hand(retailer.as_ref(), "ReducedOrder", &list["orders"][0]);
    conforms_if_at_hand(
        retailer.as_ref(),
        "ReducedOrderItem",
        &list["orders"][0]["orderItems"][0],
    );
    // bol answers an empty page with `{}` and refuses plain JSON.
    let (_, empty) = raw(
        &sim,
        &creds,
        reqwest::Method::GET,
        "/retailer/orders?page=9",
        Some(MEDIA),
    )
    .await;
    assert_eq!(empty, json!({}));
    let (status, problem) = raw(
        &sim,
        &creds,
        reqwest::Method::GET,
        "/retailer/orders",
        Some("application/json"),
    )
    .await;
    assert_eq!(status, 406);
    conforms_if_at_hand(retailer.as_ref(), "Problem", &problem);
}

#[tokio::test]
async fn the_order_list_limit_is_respected_from_its_headers() {
    let (sim, c, ctl, _creds) = start(12).await;
    let skus: Vec<String> = sim.shown_stock().await.unwrap().into_keys().collect();
    for i in 0..110 {
        place(&ctl, &[(skus[i % 6].as_str(), 1)]).await;
    }
    ctl.put(
        "/_sim/rate-limits",
        json!({ "orders-list": { "calls": 2, "window_ms": 1500 },
                "order": { "calls": 1000, "window_ms": 1000 } }),
    )
    .await;
    ctl.clear_requests().await;
    let d = drain(&c, chrono::Utc::now() - chrono::Duration::minutes(10)).await;
    assert_eq!(d.orders.len(), 110);
    let log = ctl.requests().await;
    let lists: Vec<_> = log
        .iter()
        .filter(|e| e.path == "/retailer/orders")
        .collect();
    assert_eq!(lists.len(), 3, "{lists:?}");
    assert!(lists.iter().all(|e| e.status == 200), "no 429: {lists:?}");
    assert!(
        lists[2].at_ms - lists[0].at_ms >= 1000.0,
        "the third call waited for the window: {:.0} ms",
        lists[2].at_ms - lists[0].at_ms
    );
}

#[tokio::test]
async fn stock_is_confirmed_only_when_its_process_succeeds_and_listings_come_from_the_export() {
    let (sim, c, ctl, creds) = start(12).await;
    ctl.put("/_sim/processing", json!({ "delay_ms": 300 }))
        .await;
    let listings = all_listings(&c).await;
    let shown = sim.shown_stock().await.unwrap();
    assert_eq!(listings.len(), shown.len());
    for l in &listings {
        assert_eq!(l.quantity, Some(shown[l.sku.as_ref().unwrap()]));
    }
    let mut updates: Vec<StockUpdate> = listings
        .iter()
        .take(4)
        .map(|l| StockUpdate {
            channel_listing_id: l.channel_listing_id.clone(),
            sku: l.sku.clone().unwrap(),
            quantity: 3,
            expected: None,
        })
        .collect();
    updates.push(StockUpdate {
        channel_listing_id: "00000000-0000-0000-0000-000000000000".into(),
        sku: "GONE".into(),
        quantity: 1,
        expected: None,
    });
    ctl.clear_requests().await;
    let out = c.push_stock(&updates).await.unwrap();
    assert!(
        out[..4].iter().all(|o| *o == StockOutcome::Accepted),
        "{out:?}"
    );
    assert!(
        matches!(
            out[4],
            StockOutcome::Failed {
                retryable: false,
                ..
            }
        ),
        "{:?}",
        out[4]
    );
    let log = ctl.requests().await;
    assert!(
        log.iter().any(|e| e.path == "/shared/process-status"),
        "processes were polled"
    );
    let shown = sim.shown_stock().await.unwrap();
    for u in &updates[..4] {
        assert_eq!(shown[&u.sku], 3);
    }
    let shared = spec("shared-v10.json");
    let (_, p) = raw(
        &sim,
        &creds,
        reqwest::Method::GET,
        "/shared/process-status/1",
        Some(MEDIA),
    )
    .await;
    conforms_if_at_hand(shared.as_ref(), "Problem", &p);
    let (_, offer) = raw(
        &sim,
        &creds,
        reqwest::Method::GET,
        &format!("/retailer/offers/{}", listings[0].channel_listing_id),
        Some(MEDIA),
    )
    .await;
    conforms_if_at_hand(spec("retailer-v10.json").as_ref(), "RetailerOffer", &offer);
}

fn shipment(order: &str, lines: Vec<(String, i64)>, reference: &str) -> FulfilmentPush {
    FulfilmentPush {
        channel_order_id: order.to_owned(),
        lines,
        tracking: vec![Tracking {
            number: "3SBOL0123456789".into(),
            url: None,
        }],
        carrier: Some("POSTNL".into()),
        service: None,
        shipped_at: chrono::Utc::now(),
        reference: reference.into(),
    }
}

#[tokio::test]
async fn a_shipment_is_confirmed_once_by_its_reference_and_refusals_and_revocation_are_errors() {
    let (sim, c, ctl, creds) = start(12).await;
    let skus: Vec<String> = sim.shown_stock().await.unwrap().into_keys().collect();
    let id = place(&ctl, &[(&skus[0], 2), (&skus[1], 1)]).await;
    let order = c.fetch_order(&id).await.unwrap().orders.remove(0).order;
    let first = (order.lines[0].channel_line_id.clone(), 2);
    let push = shipment(&id, vec![first.clone()], "ful_a");
    let one = c.push_fulfilment(&push).await.unwrap();
    assert!(!one.already_existed);
    let again = c.push_fulfilment(&push).await.unwrap();
    assert!(again.already_existed);
    assert_eq!(again.channel_fulfilment_id, one.channel_fulfilment_id);
    let o = c.fetch_order(&id).await.unwrap().orders.remove(0).order;
    assert_eq!(o.fulfilment, ChannelFulfilment::PartiallyFulfilled);
    let f = ctl.get("/_sim/fulfilments").await;
    let ours = &f["orders"][0]["shipments"];
    assert_eq!(ours.as_array().unwrap().len(), 1);
    assert_eq!(ours[0]["tracking_number"], "3SBOL0123456789");
    assert_eq!(ours[0]["carrier"], "POSTNL");
    let (_, listed) = raw(
        &sim,
        &creds,
        reqwest::Method::GET,
        &format!("/retailer/shipments?order-id={id}"),
        Some(MEDIA),
    )
    .await;
    conforms_if_at_hand(
        spec("retailer-v10.json").as_ref(),
        "ReducedShipment",
        &listed["shipments"][0],
    );

    // The same item again under another reference: bol's process fails.
    let twice = c
        .push_fulfilment(&shipment(&id, vec![first], "ful_b"))
        .await;
    assert!(
        matches!(twice, Err(ConnectorError::Rejected { .. })),
        "{twice:?}"
    );

    // The rest ships without naming lines; the order is then fulfilled.
    c.push_fulfilment(&shipment(&id, vec![], "ful_c"))
        .await
        .unwrap();
    let o = c.fetch_order(&id).await.unwrap().orders.remove(0).order;
    assert_eq!(o.fulfilment, ChannelFulfilment::Fulfilled);

    // A customer cancellation is seen.
    let gone = place(&ctl, &[(&skus[2], 1)]).await;
    ctl.post(&format!("/_sim/orders/{gone}/cancel"), json!({}))
        .await;
    assert!(
        c.fetch_order(&gone).await.unwrap().orders[0]
            .order
            .cancelled
    );

    ctl.post("/_sim/auth/revoke", json!({})).await;
    let fresh = Bolcom::new(&sim.base_url(), &creds, policy()).unwrap();
    assert!(matches!(
        fresh.test_connection().await,
        Err(ConnectorError::Auth { .. })
    ));
    ctl.post("/_sim/auth/restore", json!({})).await;
    fresh.test_connection().await.unwrap();
}

#[tokio::test]
async fn under_429s_5xx_slow_duplicate_and_shuffled_answers_nothing_is_lost_or_doubled() {
    let (sim, c, ctl, _creds) = start(12).await;
    roomy(&ctl).await;
    let skus: Vec<String> = sim.shown_stock().await.unwrap().into_keys().collect();
    for i in 0..120 {
        place(&ctl, &[(skus[i % 7].as_str(), 1)]).await;
    }
    let listings = all_listings(&c).await;
    ctl.clear_requests().await;
    ctl.faults(&Faults::spread(0.2, 1, 1_500)).await;
    let d = drain(&c, chrono::Utc::now() - chrono::Duration::minutes(10)).await;
    assert_eq!(d.orders.len(), 120, "every order, once");
    let updates: Vec<StockUpdate> = listings
        .iter()
        .take(8)
        .map(|l| StockUpdate {
            channel_listing_id: l.channel_listing_id.clone(),
            sku: l.sku.clone().unwrap(),
            quantity: 6,
            expected: None,
        })
        .collect();
    let out = c.push_stock(&updates).await.unwrap();
    assert!(out.iter().all(|o| *o == StockOutcome::Accepted), "{out:?}");
    let id = d.orders.keys().next().unwrap().clone();
    c.push_fulfilment(&shipment(&id, vec![], "ful_f"))
        .await
        .unwrap();
    ctl.faults(&Faults::default()).await;
    let f = ctl.get("/_sim/fulfilments").await;
    assert_eq!(f["orders"][0]["shipments"].as_array().unwrap().len(), 1);
    assert!(
        ctl.requests().await.iter().any(|e| e.fault.is_some()),
        "faults were injected"
    );
}
