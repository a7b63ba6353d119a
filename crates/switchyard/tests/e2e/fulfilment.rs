//! Fulfilments through the API, synced to the order's channel: carrier
//! detection, partial shipments, refusals, channel failures, tracking
//! corrections and cancellations.

use std::collections::BTreeMap;

use serde_json::{Value, json};
use switchyard_sim::Faults;

use crate::{World, eventually};

impl World {
    /// Our order for a channel order id (waits until it is imported).
    pub async fn order_for(&self, channel_order_id: &str) -> Value {
        eventually(
            &format!("order {channel_order_id} imported"),
            30,
            || async {
                self.orders("")
                    .await
                    .iter()
                    .any(|o| o["channel_order_id"] == channel_order_id)
            },
        )
        .await;
        let id = self
            .orders("")
            .await
            .into_iter()
            .find(|o| o["channel_order_id"] == channel_order_id)
            .unwrap()["id"]
            .as_str()
            .unwrap()
            .to_owned();
        self.get_order(&id).await
    }

    pub async fn get_order(&self, id: &str) -> Value {
        self.app.get_order(&self.t, id).await
    }

    /// Wait until fulfilment `id` is synced; returns it.
    pub async fn synced(&self, id: &str, secs: u64) -> Value {
        self.app.wait_synced(&self.t, id, secs).await
    }

    /// Shopify's fulfillments of an order, as the simulator holds them.
    pub async fn shopify_fulfilments(&self, channel_order_id: &str) -> Vec<Value> {
        self.shopify.fulfilments(channel_order_id).await
    }
}

fn numbers(f: &Value) -> Vec<String> {
    f["trackingInfo"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["number"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn an_api_fulfilment_reaches_shopify_with_the_detected_carrier_and_ships_the_stock() {
    let w = World::new(json!({})).await;
    let cid = w.shopify.order(&[("SKU-00004", 2)], json!({})).await;
    let order = w.order_for(&cid).await;
    let id = order["id"].as_str().unwrap();
    let sold = BTreeMap::from([("SKU-00004", 2)]);
    w.converge(&w.expected(&sold), 30).await;

    let r = w
        .app
        .post(
            &w.t,
            &format!("/v1/orders/{id}/fulfilments"),
            &json!({ "tracking": [{ "number": "1Z 999 AA1 01 2345 6784", "url": "https://www.ups.com/track?tracknum=1Z999AA10123456784" }] }),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(r.body["carrier"], "ups");
    assert_eq!(r.body["carrier_detected"], true);
    assert_eq!(r.body["lines"][0]["quantity"], 2);
    let f = w.synced(r.body["id"].as_str().unwrap(), 30).await;
    assert!(f["sync"]["channel_fulfilment_id"].is_string());

    let on_shopify = w.shopify_fulfilments(&cid).await;
    assert_eq!(on_shopify.len(), 1, "{on_shopify:?}");
    assert_eq!(on_shopify[0]["trackingInfo"][0]["company"], "UPS");
    assert_eq!(numbers(&on_shopify[0]), ["1Z 999 AA1 01 2345 6784"]);

    // Shipped: the commitment is released and the api source lowered, so
    // every channel keeps showing 8.
    let order = w.get_order(id).await;
    assert_eq!(order["state"], "fulfilled");
    assert_eq!(order["fulfilments"].as_array().unwrap().len(), 1);
    let stock = w
        .app
        .get(&w.t, &format!("/v1/stores/{}/stock/SKU-00004", w.store))
        .await;
    assert_eq!(stock.body["on_hand"], 8, "{}", stock.body);
    assert_eq!(stock.body["committed"], 0, "{}", stock.body);
    w.converge(&w.expected(&sold), 30).await;
    // Shopify's own re-send of the order (after our shipment) changes nothing.
    w.job(&w.shopify_ch, "import", json!({})).await;
    let again = w.get_order(id).await;
    assert_eq!(again["state"], "fulfilled");
    assert_eq!(again["lines"][0]["open_quantity"], 0);
}

#[tokio::test]
async fn an_order_ships_in_two_parts_and_over_fulfilment_is_refused() {
    let w = World::new(json!({})).await;
    let cid = w
        .shopify
        .order(&[("SKU-00004", 2), ("SKU-00006", 1)], json!({}))
        .await;
    let order = w.order_for(&cid).await;
    let id = order["id"].as_str().unwrap().to_owned();
    let path = format!("/v1/orders/{id}/fulfilments");

    let over = w
        .app
        .post(
            &w.t,
            &path,
            &json!({ "lines": [{ "sku": "SKU-00004", "quantity": 3 }], "tracking": [{ "number": "JD014600006281434201" }] }),
        )
        .await;
    assert_eq!(over.status, 409, "{}", over.body);
    assert_eq!(over.body["error"]["code"], "over_fulfilment");
    for (body, code) in [
        (json!({ "carrier": "pigeon" }), "invalid_carrier"),
        (
            json!({ "tracking": [{ "number": "X", "url": "ftp://x" }] }),
            "invalid_tracking_url",
        ),
        (
            json!({ "lines": [{ "line_no": 7, "quantity": 1 }] }),
            "unknown_line",
        ),
    ] {
        let r = w.app.post(&w.t, &path, &body).await;
        assert_eq!(r.status, 422, "{body}: {}", r.body);
        assert_eq!(r.body["error"]["code"], code, "{}", r.body);
    }
    assert!(
        w.get_order(&id).await["fulfilments"]
            .as_array()
            .unwrap()
            .is_empty()
    );

    let first = w
        .app
        .post(
            &w.t,
            &path,
            &json!({ "lines": [{ "sku": "SKU-00004", "quantity": 1 }], "tracking": [{ "number": "JD014600006281434201" }], "carrier": "DHL Express" }),
        )
        .await;
    assert_eq!(first.status, 201, "{}", first.body);
    assert_eq!(first.body["carrier"], "dhl_express");
    assert_eq!(w.get_order(&id).await["state"], "partially_fulfilled");
    w.synced(first.body["id"].as_str().unwrap(), 30).await;

    // The rest: no lines means everything still open.
    let second = w
        .app
        .post(&w.t, &path, &json!({ "tracking": [{ "number": "00340434161094022115" }, { "number": "00340434161094022116" }] }))
        .await;
    assert_eq!(second.status, 201, "{}", second.body);
    let lines: Vec<(i64, i64)> = second.body["lines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| {
            (
                l["line_no"].as_i64().unwrap(),
                l["quantity"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(lines, [(0, 1), (1, 1)]);
    w.synced(second.body["id"].as_str().unwrap(), 30).await;
    assert_eq!(w.get_order(&id).await["state"], "fulfilled");

    let on_shopify = w.shopify_fulfilments(&cid).await;
    assert_eq!(on_shopify.len(), 2, "{on_shopify:?}");
    assert_eq!(on_shopify[0]["trackingInfo"][0]["company"], "DHL Express");
    assert_eq!(numbers(&on_shopify[1]).len(), 2);

    let more = w.app.post(&w.t, &path, &json!({})).await;
    assert_eq!(more.status, 409);
    assert_eq!(more.body["error"]["code"], "nothing_to_fulfil");
    let sold = BTreeMap::from([("SKU-00004", 2), ("SKU-00006", 1)]);
    w.converge(&w.expected(&sold), 30).await;
}

#[tokio::test]
async fn cancelled_orders_cannot_ship() {
    let w = World::new(json!({})).await;
    let cid = w.woo.order(&[("SKU-00007", 1)], json!({})).await;
    let order = w.order_for(&cid).await;
    let id = order["id"].as_str().unwrap();
    let c = w
        .app
        .post(&w.t, &format!("/v1/orders/{id}/cancel"), &json!({}))
        .await;
    assert_eq!(c.status, 200);
    let r = w
        .app
        .post(
            &w.t,
            &format!("/v1/orders/{id}/fulfilments"),
            &json!({ "tracking": [{ "number": "1Z999AA10123456784" }] }),
        )
        .await;
    assert_eq!(r.status, 409, "{}", r.body);
    assert_eq!(r.body["error"]["code"], "order_not_fulfillable");
}

#[tokio::test]
async fn a_channel_failing_during_sync_then_recovering_gets_exactly_one_shipment() {
    let w = World::new(json!({})).await;
    let cid = w.shopify.order(&[("SKU-00008", 1)], json!({})).await;
    let order = w.order_for(&cid).await;
    let id = order["id"].as_str().unwrap();

    // Every request fails: the sync fails and says why.
    w.shopify
        .faults(&Faults {
            rate_5xx: 1.0,
            ..Faults::default()
        })
        .await;
    let r = w
        .app
        .post(
            &w.t,
            &format!("/v1/orders/{id}/fulfilments"),
            &json!({ "tracking": [{ "number": "RM123456785GB" }] }),
        )
        .await;
    assert_eq!(r.status, 201);
    assert_eq!(r.body["carrier"], "royal_mail");
    let fid = r.body["id"].as_str().unwrap().to_owned();
    eventually("the sync to fail", 30, || async {
        let f = w.app.get(&w.t, &format!("/v1/fulfilments/{fid}")).await;
        f.body["sync"]["state"] == "failed" && f.body["sync"]["last_error"].is_string()
    })
    .await;

    // Then a third of the requests are handled but their answers lost
    // (held beyond the client's timeout) and some fail outright: whether a
    // create went through is often unknown, and retries must look first.
    w.shopify
        .faults(&Faults {
            rate_slow: 0.3,
            slow_ms: 2_500,
            rate_5xx: 0.2,
            ..Faults::default()
        })
        .await;
    eventually("the sync to get through the faults", 120, || async {
        let f = w.app.get(&w.t, &format!("/v1/fulfilments/{fid}")).await;
        if f.body["sync"]["state"] == "failed" {
            w.app
                .post(&w.t, &format!("/v1/fulfilments/{fid}/retry"), &json!({}))
                .await;
        }
        f.body["sync"]["state"] == "synced"
    })
    .await;
    w.shopify.faults(&Faults::default()).await;
    let on_shopify = w.shopify_fulfilments(&cid).await;
    assert_eq!(
        on_shopify.len(),
        1,
        "one shipment, not one per attempt: {on_shopify:?}"
    );
    assert_eq!(numbers(&on_shopify[0]), ["RM123456785GB"]);
}

#[tokio::test]
async fn a_corrected_number_and_a_cancelled_shipment_reach_the_channels() {
    let w = World::new(json!({})).await;
    let cid = w.shopify.order(&[("SKU-00009", 1)], json!({})).await;
    let order = w.order_for(&cid).await;
    let id = order["id"].as_str().unwrap();
    let r = w
        .app
        .post(
            &w.t,
            &format!("/v1/orders/{id}/fulfilments"),
            &json!({ "tracking": [{ "number": "1Z999AA10123456784" }] }),
        )
        .await;
    let fid = r.body["id"].as_str().unwrap().to_owned();
    w.synced(&fid, 30).await;

    let fix = w
        .app
        .patch(
            &w.t,
            &format!("/v1/fulfilments/{fid}"),
            &json!({ "tracking": [{ "number": "1Z12345E0205271688" }] }),
        )
        .await;
    assert_eq!(fix.status, 200, "{}", fix.body);
    assert_eq!(fix.body["sync"]["action"], "update_tracking");
    w.synced(&fid, 30).await;
    let on_shopify = w.shopify_fulfilments(&cid).await;
    assert_eq!(on_shopify.len(), 1);
    assert_eq!(numbers(&on_shopify[0]), ["1Z12345E0205271688"]);

    let cancel = w
        .app
        .post(&w.t, &format!("/v1/fulfilments/{fid}/cancel"), &json!({}))
        .await;
    assert_eq!(cancel.status, 200, "{}", cancel.body);
    assert_eq!(cancel.body["status"], "cancelled");
    w.synced(&fid, 30).await;
    let on_shopify = w.shopify_fulfilments(&cid).await;
    assert_eq!(on_shopify[0]["status"], "CANCELLED", "{on_shopify:?}");
    // The line is open again, committed again, and the unit back in stock.
    let order = w.get_order(id).await;
    assert_eq!(order["state"], "open");
    let stock = w
        .app
        .get(&w.t, &format!("/v1/stores/{}/stock/SKU-00009", w.store))
        .await;
    assert_eq!(stock.body["on_hand"], 10, "{}", stock.body);
    assert_eq!(stock.body["committed"], 1, "{}", stock.body);
    // Shopify sending the order again (fulfilled, then reopened) leaves it
    // open: our shipments, not the channel's lagging status, decide.
    w.job(&w.shopify_ch, "import", json!({})).await;
    assert_eq!(w.get_order(id).await["state"], "open");
    let stock = w
        .app
        .get(&w.t, &format!("/v1/stores/{}/stock/SKU-00009", w.store))
        .await;
    assert_eq!(stock.body["committed"], 1, "{}", stock.body);
    let edit = w
        .app
        .patch(
            &w.t,
            &format!("/v1/fulfilments/{fid}"),
            &json!({ "tracking": [{ "number": "X" }] }),
        )
        .await;
    assert_eq!(edit.status, 409);
}

#[tokio::test]
async fn store_carrier_rules_and_codes_decide_what_the_channel_is_told() {
    let w = World::new(json!({})).await;
    let path = format!("/v1/stores/{}/carriers", w.store);
    let bad = w
        .app
        .put(
            &w.t,
            &path,
            &json!({ "rules": [{ "pattern": "", "carrier": "gls" }] }),
        )
        .await;
    assert_eq!(bad.status, 422, "{}", bad.body);
    assert_eq!(bad.body["error"]["field"], "rules[0].pattern");
    let unknown = w
        .app
        .put(
            &w.t,
            &path,
            &json!({ "rules": [{ "pattern": "ZZ*", "carrier": "pigeon" }] }),
        )
        .await;
    assert_eq!(unknown.status, 422, "{}", unknown.body);
    let ok = w
        .app
        .put(
            &w.t,
            &path,
            &json!({ "rules": [{ "pattern": "ZZ*", "carrier": "gls" }],
                     "codes": { "gls": { "shopify": "GLS Express" } } }),
        )
        .await;
    assert_eq!(ok.status, 200, "{}", ok.body);
    assert_eq!(w.app.get(&w.t, &path).await.body, ok.body);

    let cid = w.shopify.order(&[("SKU-00011", 1)], json!({})).await;
    let id = w.order_for(&cid).await["id"].as_str().unwrap().to_owned();
    let r = w
        .app
        .post(
            &w.t,
            &format!("/v1/orders/{id}/fulfilments"),
            &json!({ "tracking": [{ "number": "zz 0042 17" }] }),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(r.body["carrier"], "gls");
    w.synced(r.body["id"].as_str().unwrap(), 30).await;
    let on_shopify = w.shopify_fulfilments(&cid).await;
    assert_eq!(on_shopify[0]["trackingInfo"][0]["company"], "GLS Express");
    assert_eq!(on_shopify[0]["trackingInfo"][0]["number"], "zz 0042 17");
}
