use secrecy::ExposeSecret;
use serde_json::{Value, json};
use switchyard_connectors::ConnectorError;
use switchyard_connectors::channel::{
    FulfilmentPush, SalesChannel, StockOutcome, StockUpdate, Tracking,
};
use switchyard_connectors::ebay::{Ebay, EbayCredentials};
use switchyard_domain::order::ChannelFulfilment;
use switchyard_sim::{Channel, Faults, RunningSim, SimOptions};

use crate::{
    Control, all_listings, conforms_if_at_hand, drain, epoch, lines, policy, unshipped_spec,
};

async fn start(products: usize, orders: usize) -> (RunningSim, Ebay, Control, EbayCredentials) {
    let sim = switchyard_sim::spawn(
        Channel::Ebay,
        &SimOptions {
            seed: 11,
            products,
            orders,
            ..SimOptions::default()
        },
    )
    .await
    .unwrap();
    let creds: EbayCredentials = serde_json::from_value(sim.credentials.clone()).unwrap();
    let c = Ebay::new(&sim.base_url(), &creds, policy()).unwrap();
    let ctl = Control::new(&sim);
    (sim, c, ctl, creds)
}

/// GET an API path with a fresh token, as a raw client would.
async fn raw_get(sim: &RunningSim, creds: &EbayCredentials, path: &str) -> Value {
    let http = reqwest::Client::new();
    let token: Value = http
        .post(format!("{}/identity/v1/oauth2/token", sim.base_url()))
        .basic_auth(&creds.client_id, Some(creds.client_secret.expose_secret()))
        .form(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", creds.refresh_token.expose_secret()),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    http.get(format!("{}{path}", sim.base_url()))
        .bearer_auth(token["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

fn spec(file: &str) -> Option<Value> {
    unshipped_spec(&format!("ebay/{file}"))
}

fn shipment(order: &str, lines: Vec<(String, i64)>, number: &str) -> FulfilmentPush {
    FulfilmentPush {
        channel_order_id: order.to_owned(),
        lines,
        tracking: vec![Tracking {
            number: number.into(),
            url: None,
        }],
        carrier: Some("RoyalMail".into()),
        service: None,
        shipped_at: chrono::Utc::now(),
        reference: "ful_1".into(),
    }
}

#[tokio::test]
async fn orders_page_through_newest_first_with_exact_money_and_addresses_and_follow_the_spec() {
    let (sim, c, ctl, creds) = start(12, 450).await;
    ctl.clear_requests().await;
    let d = drain(&c, epoch()).await;
    assert_eq!(d.orders.len(), 450);
    assert_eq!(d.pages, 3, "200 a page");
    assert_eq!(d.reads, 450, "none read twice");
    let q = ctl.requests().await[1].query.clone().unwrap();
    assert!(
        q.contains("filter=lastmodifieddate%3A%5B1970-01-01T00%3A00%3A00.000Z..%5D"),
        "{q}"
    );

    let fulfillment = spec("sell_fulfillment_v1_oas3.json");
    // Without a date filter eBay shows only the last 90 days; the seeded
    // history is older.
    let recent = raw_get(&sim, &creds, "/sell/fulfillment/v1/order?limit=3").await;
    assert_eq!(recent["total"], 0);
    let page = raw_get(
        &sim,
        &creds,
        "/sell/fulfillment/v1/order?limit=3&filter=creationdate:%5B2025-01-01T00:00:00.000Z..%5D",
    )
    .await;
    let mut collection = page.clone();
    collection["orders"] = json!([]);
    conforms_if_at_hand(
        fulfillment.as_ref(),
        "OrderSearchPagedCollection",
        &collection,
    );
    let o = &page["orders"][0];
    conforms_if_at_hand(fulfillment.as_ref(), "Order", o);
    conforms_if_at_hand(fulfillment.as_ref(), "LineItem", &o["lineItems"][0]);
    conforms_if_at_hand(
        fulfillment.as_ref(),
        "Amount",
        &o["pricingSummary"]["total"],
    );
    conforms_if_at_hand(fulfillment.as_ref(), "PricingSummary", &o["pricingSummary"]);
    conforms_if_at_hand(fulfillment.as_ref(), "CancelStatus", &o["cancelStatus"]);
    conforms_if_at_hand(
        fulfillment.as_ref(),
        "ExtendedContact",
        &o["fulfillmentStartInstructions"][0]["shippingStep"]["shipTo"],
    );
    conforms_if_at_hand(
        fulfillment.as_ref(),
        "Address",
        &o["fulfillmentStartInstructions"][0]["shippingStep"]["shipTo"]["contactAddress"],
    );
    // Newest first by creation date.
    let created: Vec<&str> = page["orders"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["creationDate"].as_str().unwrap())
        .collect();
    assert!(created.windows(2).all(|w| w[0] >= w[1]), "{created:?}");

    let mapped = &d.orders[o["orderId"].as_str().unwrap()];
    let total = &o["pricingSummary"]["total"]["value"];
    assert_eq!(
        mapped.total,
        (total.as_str().unwrap().parse::<f64>().unwrap() * 100.0).round() as i64
    );
    assert_eq!(mapped.currency.as_str(), "GBP");
    let ship_to = &o["fulfillmentStartInstructions"][0]["shippingStep"]["shipTo"];
    assert_eq!(
        mapped.shipping_address.postal_code.as_deref(),
        ship_to["contactAddress"]["postalCode"].as_str()
    );
    assert_eq!(
        mapped.shipping_address.name.as_deref(),
        ship_to["fullName"].as_str()
    );
    assert_eq!(mapped.lines.len(), o["lineItems"].as_array().unwrap().len());
    let line = &o["lineItems"][0];
    assert_eq!(
        mapped.lines[0].unit_price * line["quantity"].as_i64().unwrap(),
        (line["lineItemCost"]["value"]
            .as_str()
            .unwrap()
            .parse::<f64>()
            .unwrap()
            * 100.0)
            .round() as i64
    );

    let inventory = spec("sell_inventory_v1_oas3.json");
    let items = raw_get(&sim, &creds, "/sell/inventory/v1/inventory_item?limit=2").await;
    let mut list = items.clone();
    list["inventoryItems"] = json!([]);
    conforms_if_at_hand(inventory.as_ref(), "InventoryItems", &list);
    let mut item = items["inventoryItems"][0].clone();
    item.as_object_mut().unwrap().remove("product");
    conforms_if_at_hand(
        inventory.as_ref(),
        "InventoryItemWithSkuLocaleGroupid",
        &item,
    );

    // Bad filters get eBay's own errors.
    let bad = raw_get(
        &sim,
        &creds,
        "/sell/fulfillment/v1/order?filter=updated:%5B2026-01-01T00:00:00.000Z..%5D",
    )
    .await;
    assert_eq!(bad["errors"][0]["errorId"], 30700);
    let bad = raw_get(&sim, &creds, "/sell/fulfillment/v1/order?limit=201").await;
    assert_eq!(bad["errors"][0]["errorId"], 31100);
}

#[tokio::test]
async fn stock_goes_25_skus_a_call_and_a_refused_sku_fails_alone() {
    let (_sim, c, ctl, _creds) = start(40, 0).await;
    let listings = all_listings(&c).await;
    assert!(listings.len() > 30, "{}", listings.len());
    let mut updates: Vec<StockUpdate> = listings
        .iter()
        .take(29)
        .enumerate()
        .map(|(i, l)| StockUpdate {
            channel_listing_id: l.channel_listing_id.clone(),
            sku: l.sku.clone().unwrap(),
            quantity: i as i64,
            expected: None,
        })
        .collect();
    updates.insert(
        3,
        StockUpdate {
            channel_listing_id: "NO-SUCH-SKU".into(),
            sku: "NO-SUCH-SKU".into(),
            quantity: 4,
            expected: None,
        },
    );
    ctl.clear_requests().await;
    let out = c.push_stock(&updates).await.unwrap();
    assert_eq!(out.len(), 30);
    for (u, o) in updates.iter().zip(&out) {
        if u.sku == "NO-SUCH-SKU" {
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
    let calls: Vec<_> = ctl
        .requests()
        .await
        .into_iter()
        .filter(|e| e.path.ends_with("/bulk_update_price_quantity"))
        .collect();
    assert_eq!(calls.len(), 2, "30 SKUs in two calls");
    assert_eq!(calls[0].status, 207, "the batch with the unknown SKU");
    assert_eq!(calls[1].status, 200);
    let shown = _sim.shown_stock().await.unwrap();
    for u in updates.iter().filter(|u| u.sku != "NO-SUCH-SKU") {
        assert_eq!(shown[&u.sku], u.quantity, "{}", u.sku);
    }
}

#[tokio::test]
async fn shipments_are_per_line_items_recorded_once_and_a_revoked_token_is_an_auth_error() {
    let (sim, c, ctl, creds) = start(12, 0).await;
    let listings = all_listings(&c).await;
    let (a, b) = (
        listings[0].sku.clone().unwrap(),
        listings[1].sku.clone().unwrap(),
    );
    let placed = ctl
        .post(
            "/_sim/orders",
            json!({ "lines": lines(&[(&a, 2), (&b, 1)]) }),
        )
        .await;
    let id = placed["id"].as_str().unwrap().to_owned();
    let order = c.fetch_order(&id).await.unwrap().orders.remove(0).order;
    let first_line = (order.lines[0].channel_line_id.clone(), 2);

    // The first line ships; pushed twice, it is created once.
    let push = shipment(&id, vec![first_line.clone()], "JD014600006281230701");
    let one = c.push_fulfilment(&push).await.unwrap();
    assert!(!one.already_existed);
    assert_eq!(one.channel_fulfilment_id, "JD014600006281230701");
    let again = c.push_fulfilment(&push).await.unwrap();
    assert!(again.already_existed);
    let o = c.fetch_order(&id).await.unwrap().orders.remove(0).order;
    assert_eq!(o.fulfilment, ChannelFulfilment::PartiallyFulfilled);

    // The rest, with two tracking numbers: two fulfillments.
    let mut rest = shipment(
        &id,
        vec![(order.lines[1].channel_line_id.clone(), 1)],
        "JD014600006281230702",
    );
    rest.tracking.push(Tracking {
        number: "JD014600006281230703".into(),
        url: None,
    });
    c.push_fulfilment(&rest).await.unwrap();
    let o = c.fetch_order(&id).await.unwrap().orders.remove(0).order;
    assert_eq!(o.fulfilment, ChannelFulfilment::Fulfilled);
    let f = raw_get(
        &sim,
        &creds,
        &format!("/sell/fulfillment/v1/order/{id}/shipping_fulfillment"),
    )
    .await;
    assert_eq!(f["total"], 3);
    conforms_if_at_hand(
        spec("sell_fulfillment_v1_oas3.json").as_ref(),
        "ShippingFulfillment",
        &f["fulfillments"][0],
    );
    assert_eq!(f["fulfillments"][0]["shippingCarrierCode"], "RoyalMail");
    assert_eq!(
        f["fulfillments"][0]["lineItems"],
        json!([{ "lineItemId": first_line.0, "quantity": 2 }])
    );

    // A cancelled order is seen as cancelled.
    let gone = ctl
        .post("/_sim/orders", json!({ "lines": lines(&[(&a, 1)]) }))
        .await;
    let gone = gone["id"].as_str().unwrap();
    ctl.post(&format!("/_sim/orders/{gone}/cancel"), json!({}))
        .await;
    assert!(c.fetch_order(gone).await.unwrap().orders[0].order.cancelled);

    ctl.post("/_sim/auth/revoke", json!({})).await;
    let fresh = Ebay::new(&sim.base_url(), &creds, policy()).unwrap();
    assert!(matches!(
        fresh.test_connection().await,
        Err(ConnectorError::Auth { .. })
    ));
    ctl.post("/_sim/auth/restore", json!({})).await;
    fresh.test_connection().await.unwrap();
}

#[tokio::test]
async fn a_spent_daily_quota_is_given_back_at_once_as_a_long_rate_limit() {
    let (_sim, c, ctl, _creds) = start(12, 0).await;
    let listings = all_listings(&c).await;
    let update = StockUpdate {
        channel_listing_id: listings[0].channel_listing_id.clone(),
        sku: listings[0].sku.clone().unwrap(),
        quantity: 7,
        expected: None,
    };
    ctl.put("/_sim/quotas", json!({ "sell.inventory": 1 }))
        .await;
    ctl.clear_requests().await;
    // The first call passes (the quota now covers only it) ...
    assert_eq!(
        c.push_stock(std::slice::from_ref(&update)).await.unwrap(),
        vec![StockOutcome::Accepted]
    );
    // ... the next is refused, and the connector hands the wait back
    // instead of retrying into the spent quota.
    let fresh = Ebay::new(&_sim.base_url(), &_creds, policy()).unwrap();
    match fresh.push_stock(std::slice::from_ref(&update)).await {
        Err(ConnectorError::RateLimited { retry_after, .. }) => {
            assert!(retry_after > policy().max_retry_after, "{retry_after:?}");
        }
        other => panic!("expected a rate limit, got {other:?}"),
    }
    let refused = ctl
        .requests()
        .await
        .iter()
        .filter(|e| e.status == 429)
        .count();
    assert_eq!(refused, 1, "one refusal, no hammering");
    let q = ctl.get("/_sim/quotas").await;
    assert_eq!(q["sell.inventory"]["used"], 1);
}

#[tokio::test]
async fn under_429s_5xx_slow_duplicate_and_shuffled_answers_nothing_is_lost_or_doubled() {
    let (_sim, c, ctl, _creds) = start(30, 450).await;
    let listings = all_listings(&c).await;
    ctl.clear_requests().await;
    ctl.faults(&Faults::spread(0.2, 1, 1_500)).await;
    let d = drain(&c, epoch()).await;
    assert_eq!(d.orders.len(), 450, "every order, once");
    // Orders read one by one, as after a notification.
    for id in d.orders.keys().take(40) {
        let p = c.fetch_order(id).await.unwrap();
        assert_eq!(&p.orders[0].order.channel_order_id, id);
    }
    let updates: Vec<StockUpdate> = listings
        .iter()
        .take(30)
        .map(|l| StockUpdate {
            channel_listing_id: l.channel_listing_id.clone(),
            sku: l.sku.clone().unwrap(),
            quantity: 5,
            expected: None,
        })
        .collect();
    let out = c.push_stock(&updates).await.unwrap();
    assert!(out.iter().all(|o| *o == StockOutcome::Accepted), "{out:?}");
    let sku = listings[0].sku.clone().unwrap();
    let placed = ctl
        .post("/_sim/orders", json!({ "lines": lines(&[(&sku, 1)]) }))
        .await;
    let id = placed["id"].as_str().unwrap();
    c.push_fulfilment(&shipment(id, vec![], "JD014600006281239999"))
        .await
        .unwrap();
    ctl.faults(&Faults::default()).await;
    let f = ctl.get("/_sim/fulfilments").await;
    let ours = f["orders"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["order_id"] == id)
        .unwrap();
    assert_eq!(ours["shipments"].as_array().unwrap().len(), 1);
    assert!(
        ctl.requests().await.iter().any(|e| e.fault.is_some()),
        "faults were injected"
    );
}
