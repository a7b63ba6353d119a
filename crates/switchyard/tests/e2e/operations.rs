//! What people do with channels and orders through the API: test
//! credentials, act on orders, map SKUs, read the error list and retry.

use std::collections::BTreeMap;

use base64::Engine as _;
use hmac::{Hmac, Mac};
use serde_json::json;
use sha2::Sha256;

use crate::{World, eventually};

#[tokio::test]
async fn the_credentials_test_says_what_is_wrong() {
    let w = World::new(json!({})).await;
    let path = |ch: &str| format!("/v1/stores/{}/channels/{ch}/test", w.store);
    let ok = w.app.post(&w.t, &path(&w.shopify_ch), &json!({})).await;
    assert_eq!(ok.status, 200);
    assert_eq!(ok.body["ok"], true, "{}", ok.body);

    w.woo.post("/_sim/auth/revoke", json!({})).await;
    let r = w.app.post(&w.t, &path(&w.woo_ch), &json!({})).await;
    assert_eq!(r.body["ok"], false, "{}", r.body);
    assert_eq!(r.body["code"], "channel_auth_failed");
    assert!(r.body["hint"].as_str().unwrap().contains("credentials"));

    let patch = w
        .app
        .patch(
            &w.t,
            &format!("/v1/stores/{}/channels/{}", w.store, w.shopify_ch),
            &json!({ "base_url": "http://127.0.0.1:9" }),
        )
        .await;
    assert_eq!(patch.status, 200);
    let r = w.app.post(&w.t, &path(&w.shopify_ch), &json!({})).await;
    assert_eq!(r.body["code"], "channel_unreachable", "{}", r.body);

    // Credentials of the wrong shape are refused before they are stored.
    let bad = w
        .app
        .patch(
            &w.t,
            &format!("/v1/stores/{}/channels/{}", w.store, w.woo_ch),
            &json!({ "credentials": { "token": "x" } }),
        )
        .await;
    assert_eq!(bad.status, 422);
    assert_eq!(bad.body["error"]["field"], "credentials");
}

#[tokio::test]
async fn orders_are_filtered_paged_held_released_and_cancelled() {
    let w = World::new(json!({})).await;
    w.shopify
        .order(&[("SKU-00004", 1)], json!({ "country": "NL" }))
        .await;
    w.woo
        .order(&[("SKU-00006", 2)], json!({ "country": "GB" }))
        .await;
    w.woo
        .order(&[("SKU-00004", 1)], json!({ "country": "GB" }))
        .await;
    let all = w.wait_orders("", 3, 20).await;
    assert_eq!(w.orders("&country=NL").await.len(), 1);
    assert_eq!(w.orders("&sku=SKU-00004").await.len(), 2);
    assert_eq!(
        w.orders(&format!("&channel_id={}", w.woo_ch)).await.len(),
        2
    );
    let number = all[0]["number"].as_str().unwrap().trim_start_matches('#');
    assert!(!w.orders(&format!("&q={number}")).await.is_empty());
    // Cursor pagination visits every order once.
    let mut seen = Vec::new();
    let mut cursor = String::new();
    for _ in 0..10 {
        let r = w
            .app
            .get(
                &w.t,
                &format!("/v1/orders?store_id={}&limit=1{cursor}", w.store),
            )
            .await;
        seen.extend(
            r.body["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|o| o["id"].clone()),
        );
        match r.body["next_cursor"].as_str() {
            Some(c) => cursor = format!("&cursor={c}"),
            None => break,
        }
    }
    assert_eq!(seen.len(), 3);

    let id = all[1]["id"].as_str().unwrap();
    let o = |p: &str| format!("/v1/orders/{id}/{p}");
    let held = w
        .app
        .post(&w.t, &o("hold"), &json!({ "reason": "address check" }))
        .await;
    assert_eq!(held.body["state"], "on_hold", "{}", held.body);
    assert_eq!(held.body["hold_reason"], "address check");
    let twice = w.app.post(&w.t, &o("release"), &json!({})).await;
    assert_eq!(twice.body["state"], "open");
    let again = w.app.post(&w.t, &o("release"), &json!({})).await;
    assert_eq!(again.status, 409, "{}", again.body);
    assert_eq!(again.body["error"]["code"], "invalid_transition");
    let manual = w
        .app
        .post(&w.t, &o("manual"), &json!({ "manual": true }))
        .await;
    assert_eq!(manual.body["manual"], true);

    // Cancelling here releases its stock on every channel.
    let sold = BTreeMap::from([("SKU-00004", 2), ("SKU-00006", 2)]);
    w.converge(&w.expected(&sold), 20).await;
    let cancelled = w
        .app
        .post(&w.t, &o("cancel"), &json!({ "reason": "fraud" }))
        .await;
    assert_eq!(cancelled.body["state"], "cancelled", "{}", cancelled.body);
    let types: Vec<&str> = cancelled.body["journal"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["type"].as_str())
        .collect();
    assert!(
        types.contains(&"order.on_hold") && types.contains(&"order.cancelled"),
        "{types:?}"
    );
    let line_sku = all[1]["lines"][0]["sku"].as_str().unwrap();
    let qty = all[1]["lines"][0]["open_quantity"].as_i64().unwrap();
    let mut after = sold.clone();
    *after.get_mut(line_sku).unwrap() -= qty;
    w.converge(&w.expected(&after), 20).await;
}

#[tokio::test]
async fn a_manual_mapping_joins_a_channel_sku_to_a_differently_named_product() {
    let w = World::new(json!({})).await;
    w.app.product(&w.t, &w.store, "MUG-RED").await;
    let r = w
        .app
        .put(
            &w.t,
            &format!("/v1/stores/{}/stock/MUG-RED", w.store),
            &json!({ "quantity": 4 }),
        )
        .await;
    assert_eq!(r.status, 200);
    for ch in [&w.shopify_ch, &w.woo_ch] {
        let m = w
            .app
            .put(
                &w.t,
                &format!(
                    "/v1/stores/{}/channels/{ch}/sku-mappings/SKU-00012",
                    w.store
                ),
                &json!({ "sku": "MUG-RED" }),
            )
            .await;
        assert_eq!(m.status, 200, "{}", m.body);
    }
    let mut expected = w.expected(&BTreeMap::new());
    expected.insert("SKU-00012".into(), 4);
    w.converge(&expected, 20).await;
    // An order for the channel SKU commits the mapped product.
    w.woo.order(&[("SKU-00012", 1)], json!({})).await;
    expected.insert("SKU-00012".into(), 3);
    w.converge(&expected, 20).await;
    let orders = w.wait_orders("&sku=MUG-RED", 1, 10).await;
    assert_eq!(orders[0]["lines"][0]["sku"], "MUG-RED");
    // The channel shows the quantity a moment before its confirmation is
    // recorded.
    let listing = || async {
        let listings = w
            .app
            .get(
                &w.t,
                &format!(
                    "/v1/stores/{}/channels/{}/listings?limit=1000",
                    w.store, w.woo_ch
                ),
            )
            .await;
        listings.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|l| l["channel_sku"] == "SKU-00012")
            .cloned()
            .unwrap()
    };
    eventually("the confirmation to be recorded", 10, || async {
        listing().await["confirmed_quantity"] == 3
    })
    .await;
    let l = listing().await;
    assert_eq!(l["sku"], "MUG-RED");
    assert_eq!(l["confirmed_quantity"], 3);
}

/// Shopify's `X-Shopify-Hmac-Sha256` of `body` under the app's secret key.
pub(crate) fn shopify_signature(secret: &str, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(body);
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

#[tokio::test]
async fn an_order_the_channel_cannot_deliver_is_listed_and_can_be_retried() {
    let w = World::new(json!({})).await;
    let body = br#"{"id": 987654321}"#;
    let secret = w.shopify.sim.credentials["api_secret_key"]
        .as_str()
        .unwrap();
    let r = reqwest::Client::new()
        .post(format!("{}/v1/inbound/{}", w.app.address, w.shopify_ch))
        .header("x-shopify-hmac-sha256", shopify_signature(secret, body))
        .header("x-shopify-topic", "orders/create")
        .body(body.to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202);
    let errors = format!("/v1/stores/{}/channels/{}/errors", w.store, w.shopify_ch);
    eventually("the error to be listed", 20, || async {
        let l = w.app.get(&w.t, &errors).await.body;
        l["items"].as_array().is_some_and(|i| !i.is_empty())
    })
    .await;
    let list = w.app.get(&w.t, &errors).await.body;
    let e = &list["items"][0];
    assert_eq!(e["channel_order_id"], "987654321");
    assert_eq!(e["code"], "not_found");
    let health = w
        .app
        .get(
            &w.t,
            &format!("/v1/stores/{}/channels/{}/health", w.store, w.shopify_ch),
        )
        .await;
    assert_eq!(health.body["open_import_errors"], 1, "{}", health.body);
    assert!(health.body["import"]["last_success_at"].is_string());

    let id = e["id"].as_i64().unwrap();
    let retry = w
        .app
        .post(&w.t, &format!("{errors}/{id}/retry"), &json!({}))
        .await;
    assert_eq!(retry.status, 202, "{}", retry.body);
    eventually("the retry to be counted", 20, || async {
        let l = w.app.get(&w.t, &errors).await.body;
        l["items"][0]["attempts"] == 2
    })
    .await;

    // Someone deals with it outside Switchyard: it leaves the open list
    // and the health count, and stays listed with `all=true`.
    let handled = w
        .app
        .post(&w.t, &format!("{errors}/{id}/handle-manually"), &json!({}))
        .await;
    assert_eq!(handled.status, 200, "{}", handled.body);
    assert!(handled.body["resolved_at"].is_string(), "{}", handled.body);
    assert!(
        handled.body["handled_manually_by"]
            .as_str()
            .is_some_and(|by| by.starts_with("tok_")),
        "{}",
        handled.body
    );
    let open = w.app.get(&w.t, &errors).await.body;
    assert_eq!(open["items"], json!([]), "{open}");
    let all = w.app.get(&w.t, &format!("{errors}?all=true")).await.body;
    assert_eq!(all["items"][0]["id"], id, "{all}");
    let health = w
        .app
        .get(
            &w.t,
            &format!("/v1/stores/{}/channels/{}/health", w.store, w.shopify_ch),
        )
        .await;
    assert_eq!(health.body["open_import_errors"], 0, "{}", health.body);
    let missing = w
        .app
        .post(
            &w.t,
            &format!("{errors}/999999/handle-manually"),
            &json!({}),
        )
        .await;
    assert_eq!(missing.status, 404, "{}", missing.body);
}

#[tokio::test]
async fn listings_of_unknown_skus_become_main_products_when_switched_on() {
    let app = switchyard_testkit::spawn_app_with(crate::engine_config()).await;
    let t = app.tenant("acme").await;
    let store = app.store(&t, "Empty").await;
    let woo = crate::Sim::start(switchyard_sim::Channel::WooCommerce).await;
    let skus: Vec<String> = woo.stock().await.into_keys().collect();
    let ch = crate::channel(
        &app,
        &t,
        &store,
        "woocommerce",
        &woo,
        woo.sim.credentials.clone(),
        &json!({ "add_to_main_products": true }),
    )
    .await;
    eventually("every listed SKU to become a product", 20, || async {
        let r = app
            .get(&t, &format!("/v1/stores/{store}/products?limit=1000"))
            .await;
        r.body["items"].as_array().map_or(0, Vec::len) == skus.len()
    })
    .await;
    let listings = app
        .get(
            &t,
            &format!("/v1/stores/{store}/channels/{ch}/listings?limit=1000"),
        )
        .await;
    let items = listings.body["items"].as_array().unwrap();
    assert_eq!(items.len(), skus.len());
    assert!(
        items.iter().all(|l| l["sku"] == l["channel_sku"]),
        "{items:?}"
    );
    // Without the switch, nothing is added.
    let other = app.store(&t, "Other").await;
    crate::channel(
        &app,
        &t,
        &other,
        "woocommerce",
        &woo,
        woo.sim.credentials.clone(),
        &json!({}),
    )
    .await;
    eventually("the listings of the second channel", 20, || async {
        let r = app.get(&t, &format!("/v1/stores/{other}/channels")).await;
        r.body["items"][0]["import"]["listings_synced_at"].is_string()
    })
    .await;
    let r = app.get(&t, &format!("/v1/stores/{other}/products")).await;
    assert_eq!(r.body["items"].as_array().map_or(0, Vec::len), 0);
}
