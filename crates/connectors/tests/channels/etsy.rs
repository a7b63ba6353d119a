use std::collections::BTreeMap;

use secrecy::ExposeSecret;
use serde_json::{Value, json};
use switchyard_connectors::ConnectorError;
use switchyard_connectors::channel::{
    FulfilmentPush, SalesChannel, StockOutcome, StockUpdate, Tracking,
};
use switchyard_connectors::etsy::{Etsy, EtsyCredentials};
use switchyard_sim::{Channel, RunningSim, SimOptions};

use crate::{
    Control, all_listings, conforms_if_at_hand, drain, epoch, lines, policy, unshipped_spec,
};

async fn start(products: usize, orders: usize) -> (RunningSim, Etsy, Control, EtsyCredentials) {
    let sim = switchyard_sim::spawn(
        Channel::Etsy,
        &SimOptions {
            seed: 7,
            products,
            orders,
            ..SimOptions::default()
        },
    )
    .await
    .unwrap();
    let creds: EtsyCredentials = serde_json::from_value(sim.credentials.clone()).unwrap();
    let c = Etsy::new(&sim.base_url(), &creds, policy()).unwrap();
    let ctl = Control::new(&sim);
    (sim, c, ctl, creds)
}

/// GET an API path with a fresh token, as a raw client would.
async fn raw_get(sim: &RunningSim, creds: &EtsyCredentials, path: &str) -> Value {
    let http = reqwest::Client::new();
    let token: Value = http
        .post(format!("{}/v3/public/oauth/token", sim.base_url()))
        .header("x-api-key", creds.keystring.expose_secret())
        .form(&[
            ("grant_type", "refresh_token"),
            ("client_id", creds.keystring.expose_secret()),
            ("refresh_token", creds.refresh_token.expose_secret()),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    http.get(format!("{}{path}", sim.base_url()))
        .header("x-api-key", creds.keystring.expose_secret())
        .bearer_auth(token["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

#[tokio::test]
async fn receipts_page_through_in_id_order_with_money_and_addresses_mapped_and_follow_the_spec() {
    let (sim, c, _ctl, creds) = start(12, 230).await;
    let d = drain(&c, epoch()).await;
    assert_eq!(d.orders.len(), 230);
    assert_eq!(d.pages, 3, "100 a page");
    assert_eq!(d.reads, 230, "none read twice");

    let spec = unshipped_spec("etsy/etsy_openapi_3.0.0.json");
    let page = raw_get(
        &sim,
        &creds,
        &format!("/v3/application/shops/{}/receipts?limit=5", creds.shop_id),
    )
    .await;
    let r = &page["results"][0];
    conforms_if_at_hand(spec.as_ref(), "ShopReceipt", r);
    conforms_if_at_hand(
        spec.as_ref(),
        "ShopReceiptTransaction",
        &r["transactions"][0],
    );
    conforms_if_at_hand(spec.as_ref(), "Money", &r["grandtotal"]);
    let o = &d.orders[&r["receipt_id"].to_string()];
    assert_eq!(o.total, r["grandtotal"]["amount"].as_i64().unwrap());
    assert_eq!(o.currency.as_str(), "EUR");
    assert_eq!(
        o.shipping_total,
        r["total_shipping_cost"]["amount"].as_i64().unwrap()
    );
    assert_eq!(o.shipping_address.city.as_deref(), r["city"].as_str());
    assert_eq!(
        o.shipping_address
            .country
            .map(|c| c.as_str().to_owned())
            .as_deref(),
        r["country_iso"].as_str()
    );
    assert_eq!(o.lines.len(), r["transactions"].as_array().unwrap().len());
    assert_eq!(
        o.lines[0].unit_price,
        r["transactions"][0]["price"]["amount"].as_i64().unwrap()
    );

    let listings = raw_get(
        &sim,
        &creds,
        &format!(
            "/v3/application/shops/{}/listings?limit=3&includes=Inventory",
            creds.shop_id
        ),
    )
    .await;
    let l = &listings["results"][0];
    let mut bare = l.clone();
    bare.as_object_mut().unwrap().remove("inventory");
    bare.as_object_mut().unwrap().remove("skus");
    bare.as_object_mut().unwrap().remove("price");
    conforms_if_at_hand(spec.as_ref(), "ShopListing", &bare);
    conforms_if_at_hand(spec.as_ref(), "ListingInventory", &l["inventory"]);
    conforms_if_at_hand(
        spec.as_ref(),
        "ListingInventoryProduct",
        &l["inventory"]["products"][0],
    );
    conforms_if_at_hand(
        spec.as_ref(),
        "ListingInventoryProductOffering",
        &l["inventory"]["products"][0]["offerings"][0],
    );
}

#[tokio::test]
async fn a_stock_change_rewrites_the_listing_without_touching_its_other_products() {
    let (sim, c, ctl, creds) = start(12, 0).await;
    let listings = all_listings(&c).await;
    // A listing with sizes: several products in one inventory.
    let mut by_listing: BTreeMap<String, Vec<&switchyard_connectors::channel::Listing>> =
        BTreeMap::new();
    for l in &listings {
        let (id, _) = l.channel_listing_id.split_once('/').unwrap();
        by_listing.entry(id.to_owned()).or_default().push(l);
    }
    let (listing, products) = by_listing.iter().find(|(_, p)| p.len() > 1).unwrap();
    let before = raw_get(
        &sim,
        &creds,
        &format!("/v3/application/listings/{listing}/inventory"),
    )
    .await;
    let target = products[0];
    let out = c
        .push_stock(&[StockUpdate {
            channel_listing_id: target.channel_listing_id.clone(),
            sku: target.sku.clone().unwrap(),
            quantity: 3,
            expected: None,
        }])
        .await
        .unwrap();
    assert_eq!(out, vec![StockOutcome::Accepted]);
    let after = raw_get(
        &sim,
        &creds,
        &format!("/v3/application/listings/{listing}/inventory"),
    )
    .await;
    let view = |inv: &Value| -> BTreeMap<String, (i64, i64, Value)> {
        inv["products"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| {
                (
                    p["sku"].as_str().unwrap().to_owned(),
                    (
                        p["offerings"][0]["quantity"].as_i64().unwrap(),
                        p["offerings"][0]["price"]["amount"].as_i64().unwrap(),
                        p["property_values"][0]["values"].clone(),
                    ),
                )
            })
            .collect()
    };
    let (b, a) = (view(&before), view(&after));
    assert_eq!(b.len(), a.len(), "no product dropped");
    for (sku, (q, price, size)) in &b {
        let (q2, price2, size2) = &a[sku];
        assert_eq!((price, size), (price2, size2), "{sku}: price and size kept");
        if Some(sku.as_str()) == target.sku.as_deref() {
            assert_eq!(*q2, 3);
        } else {
            assert_eq!(q, q2, "{sku}: quantity untouched");
        }
    }
    // An unknown SKU is refused for that item only.
    let out = c
        .push_stock(&[StockUpdate {
            channel_listing_id: format!("{listing}/NOPE"),
            sku: "NOPE".into(),
            quantity: 1,
            expected: None,
        }])
        .await
        .unwrap();
    assert!(matches!(
        out[0],
        StockOutcome::Failed {
            retryable: false,
            ..
        }
    ));
    let shown = ctl.get("/_sim/stock").await;
    assert!(
        shown["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|i| i["sku"] == target.sku.clone().unwrap().as_str() && i["quantity"] == 3)
    );
}

#[tokio::test]
async fn a_shipment_is_recorded_once_even_when_pushed_twice_and_a_revoked_token_is_an_auth_error() {
    let (_sim, c, ctl, _creds) = start(12, 0).await;
    let listings = all_listings(&c).await;
    let sku = listings[0].sku.clone().unwrap();
    let placed = ctl
        .post("/_sim/orders", json!({ "lines": lines(&[(&sku, 2)]) }))
        .await;
    let id = placed["id"].to_string();
    let push = FulfilmentPush {
        channel_order_id: id.clone(),
        lines: vec![],
        tracking: vec![Tracking {
            number: "1Z999AA10123456784".into(),
            url: None,
        }],
        carrier: Some("ups".into()),
        service: None,
        shipped_at: chrono::Utc::now(),
        reference: "ful_1".into(),
    };
    let first = c.push_fulfilment(&push).await.unwrap();
    assert!(!first.already_existed);
    let again = c.push_fulfilment(&push).await.unwrap();
    assert!(again.already_existed);
    assert_eq!(again.channel_fulfilment_id, first.channel_fulfilment_id);
    let f = ctl.get("/_sim/fulfilments").await;
    let ours = f["orders"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["order_id"] == placed["id"])
        .unwrap();
    assert_eq!(ours["shipments"].as_array().unwrap().len(), 1);
    // The imported order shows it shipped.
    let page = c.fetch_order(&id).await.unwrap();
    assert_eq!(
        page.orders[0].order.fulfilment,
        switchyard_domain::order::ChannelFulfilment::Fulfilled
    );

    // Revoked: the token cannot be renewed and the error says so.
    ctl.post("/_sim/auth/revoke", json!({})).await;
    let fresh = Etsy::new(&_sim.base_url(), &_creds, policy()).unwrap();
    assert!(matches!(
        fresh.test_connection().await,
        Err(ConnectorError::Auth { .. })
    ));
    ctl.post("/_sim/auth/restore", json!({})).await;
    fresh.test_connection().await.unwrap();
}

#[tokio::test]
async fn bursts_past_ten_requests_a_second_are_held_back_and_all_succeed() {
    let (_sim, c, ctl, _creds) = start(12, 40).await;
    let d = drain(&c, epoch()).await;
    let ids: Vec<String> = d.orders.keys().take(30).cloned().collect();
    ctl.clear_requests().await;
    let c = std::sync::Arc::new(c);
    let tasks: Vec<_> = ids
        .iter()
        .map(|id| {
            let (c, id) = (c.clone(), id.clone());
            tokio::spawn(async move { c.fetch_order(&id).await })
        })
        .collect();
    for t in tasks {
        let page = t.await.unwrap().unwrap();
        assert_eq!(page.orders.len(), 1);
    }
    let log = ctl.requests().await;
    let ok = log.iter().filter(|e| e.status == 200).count();
    assert_eq!(ok, 30, "every receipt read once");
    // Held back by the limit headers and `retry-after`, not hammering:
    // fewer refusals than answers.
    let refused = log.iter().filter(|e| e.status == 429).count();
    assert!(refused < ok, "{refused} refusals for {ok} answers");
}

#[tokio::test]
async fn under_429s_5xx_slow_duplicate_and_shuffled_answers_nothing_is_lost_or_doubled() {
    let (_sim, c, ctl, _creds) = start(12, 230).await;
    let listings = all_listings(&c).await;
    ctl.clear_requests().await;
    ctl.faults(&switchyard_sim::Faults::spread(0.2, 1, 1_500))
        .await;
    let d = drain(&c, epoch()).await;
    assert_eq!(d.orders.len(), 230, "every receipt, once");
    // Stock to ten listings' first products, each confirmed.
    let updates: Vec<StockUpdate> = listings
        .iter()
        .take(10)
        .map(|l| StockUpdate {
            channel_listing_id: l.channel_listing_id.clone(),
            sku: l.sku.clone().unwrap(),
            quantity: 5,
            expected: None,
        })
        .collect();
    let out = c.push_stock(&updates).await.unwrap();
    assert!(out.iter().all(|o| *o == StockOutcome::Accepted), "{out:?}");
    // A shipment while answers go missing: looked for before created again.
    let sku = listings[0].sku.clone().unwrap();
    let placed = ctl
        .post("/_sim/orders", json!({ "lines": lines(&[(&sku, 1)]) }))
        .await;
    let push = FulfilmentPush {
        channel_order_id: placed["id"].to_string(),
        lines: vec![],
        tracking: vec![Tracking {
            number: "JJD000390007711112222".into(),
            url: None,
        }],
        carrier: Some("dhl_parcel".into()),
        service: None,
        shipped_at: chrono::Utc::now(),
        reference: "ful_f".into(),
    };
    c.push_fulfilment(&push).await.unwrap();
    ctl.faults(&switchyard_sim::Faults::default()).await;
    let f = ctl.get("/_sim/fulfilments").await;
    let ours = f["orders"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["order_id"] == placed["id"])
        .unwrap();
    assert_eq!(ours["shipments"].as_array().unwrap().len(), 1);
    assert!(
        ctl.requests().await.iter().any(|e| e.fault.is_some()),
        "faults were injected"
    );
}
