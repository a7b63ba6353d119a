//! Etsy joins the core loop: a third channel in the store, polled (Etsy
//! sends no order notifications). A sale on Etsy lowers stock on Shopify
//! and WooCommerce; a sale elsewhere lowers it on Etsy; a shipment recorded
//! through the API reaches the Etsy receipt.

use std::collections::BTreeMap;

use serde_json::json;
use switchyard_sim::Channel;

use crate::{Sim, World, channel, eventually};

#[tokio::test]
async fn a_sale_on_etsy_reaches_every_channel_and_its_shipment_reaches_etsy() {
    let w = World::new(json!({})).await;
    let etsy = Sim::start(Channel::Etsy).await;
    let etsy_ch = channel(
        &w.app,
        &w.t,
        &w.store,
        "etsy",
        &etsy,
        etsy.sim.credentials.clone(),
        &json!({ "cadence_secs": 10, "auto_sync_stock": true }),
    )
    .await;
    // Its listings are downloaded, mapped by SKU and given the store's figures.
    let expected = w.expected(&BTreeMap::new());
    eventually("Etsy to show the store's stock", 30, || async {
        etsy.stock().await == expected
    })
    .await;

    // A sale on Etsy, imported on demand (Etsy is polled).
    let receipt = etsy.order(&[("SKU-00001", 2)], json!({})).await;
    w.job(&etsy_ch, "import", json!({})).await;
    let order = w.order_for(&receipt).await;
    assert_eq!(order["channel_id"], etsy_ch.as_str());
    let mut sold = BTreeMap::new();
    sold.insert("SKU-00001", 2);
    let expected = w.expected(&sold);
    w.converge(&expected, 30).await;

    // A sale on Shopify lowers Etsy too.
    w.shopify.order(&[("SKU-00002", 1)], json!({})).await;
    sold.insert("SKU-00002", 1);
    let expected = w.expected(&sold);
    w.converge(&expected, 30).await;
    eventually("Etsy to follow the Shopify sale", 30, || async {
        etsy.stock().await == expected
    })
    .await;

    // Shipped through the API: the receipt gets the tracking code.
    let id = order["id"].as_str().unwrap();
    let r = w
        .app
        .post(
            &w.t,
            &format!("/v1/orders/{id}/fulfilments"),
            &json!({ "tracking": [{ "number": "1Z999AA10123456784" }] }),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    eventually("the shipment to sync to Etsy", 30, || async {
        let f = w
            .app
            .get(&w.t, &format!("/v1/orders/{id}/fulfilments"))
            .await;
        f.body["items"][0]["sync"]["state"] == "synced"
    })
    .await;
    let shipped: serde_json::Value = reqwest::get(format!("{}/_sim/fulfilments", etsy.url()))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let ours = shipped["orders"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["order_id"].as_u64().map(|n| n.to_string()) == Some(receipt.clone()))
        .unwrap();
    assert_eq!(ours["shipments"][0]["tracking_code"], "1Z999AA10123456784");
    assert_eq!(ours["shipments"][0]["carrier_name"], "ups");
}
