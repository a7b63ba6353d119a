//! A merchant connects the shops first and loads the catalogue after: the
//! listings downloaded when no product matched are mapped as soon as the
//! products exist, whichever way they come (the API, or another channel's
//! "add to main products"), and every listing gets its stock. Until then
//! the channel's health counts them and `?unmapped=true` lists them.

use std::collections::BTreeMap;

use serde_json::{Value, json};
use switchyard_sim::Channel;
use switchyard_testkit::{Tenant, TestApp, spawn_app_with};

use crate::{Sim, channel, engine_config, eventually};

async fn health(app: &TestApp, t: &Tenant, store: &str, ch: &str) -> Value {
    app.get(t, &format!("/v1/stores/{store}/channels/{ch}/health"))
        .await
        .body
}

/// Connect a WooCommerce simulator with downloads and stock sync on (plus
/// `extra` settings); wait until its listings are downloaded.
async fn connect(app: &TestApp, t: &Tenant, store: &str, sim: &Sim, extra: Value) -> String {
    let mut settings =
        json!({ "cadence_secs": 10, "auto_sync_stock": true, "download_products": true });
    if let (Some(s), Some(e)) = (settings.as_object_mut(), extra.as_object()) {
        s.extend(e.clone());
    }
    let ch = channel(
        app,
        t,
        store,
        "woocommerce",
        sim,
        sim.sim.credentials.clone(),
        &settings,
    )
    .await;
    let n = sim.stock().await.len();
    eventually("the listings downloaded", 30, || async {
        let r = app
            .get(
                t,
                &format!("/v1/stores/{store}/channels/{ch}/listings?limit=1000"),
            )
            .await;
        r.body["items"].as_array().map_or(0, Vec::len) == n
    })
    .await;
    ch
}

async fn set_stock(app: &TestApp, t: &Tenant, store: &str, skus: &[String], quantity: i64) {
    let items: Vec<Value> = skus
        .iter()
        .map(|s| json!({ "sku": s, "quantity": quantity }))
        .collect();
    let r = app
        .post(
            t,
            &format!("/v1/stores/{store}/stock"),
            &json!({ "items": items }),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
}

#[tokio::test]
async fn listings_downloaded_before_the_products_existed_get_stock_once_the_api_creates_them() {
    let app = spawn_app_with(engine_config()).await;
    let t = app.tenant("acme").await;
    let store = app.store(&t, "Acme").await;
    let woo = Sim::start(Channel::WooCommerce).await;
    let skus: Vec<String> = woo.stock().await.into_keys().collect();
    let ch = connect(
        &app,
        &t,
        &store,
        &woo,
        json!({ "push_notifications": false }),
    )
    .await;

    // Nothing matched: every listing is counted and listed as unmapped.
    let h = health(&app, &t, &store, &ch).await;
    assert_eq!(h["unmapped_listings"], skus.len(), "{h}");
    let unmapped = app
        .get(
            &t,
            &format!("/v1/stores/{store}/channels/{ch}/listings?unmapped=true&limit=5"),
        )
        .await;
    assert_eq!(unmapped.status, 200, "{}", unmapped.body);
    assert_eq!(unmapped.body["items"].as_array().unwrap().len(), 5);
    assert!(unmapped.body["next_cursor"].is_string());

    // Now the catalogue, one product at a time through the API, then stock.
    for sku in &skus {
        app.product(&t, &store, sku).await;
    }
    set_stock(&app, &t, &store, &skus, 7).await;
    let want: BTreeMap<String, i64> = skus.iter().map(|s| (s.clone(), 7)).collect();
    woo.wait_shows(&want, 30).await;
    let h = health(&app, &t, &store, &ch).await;
    assert_eq!(h["unmapped_listings"], 0, "{h}");
    let none = app
        .get(
            &t,
            &format!("/v1/stores/{store}/channels/{ch}/listings?unmapped=true"),
        )
        .await;
    assert_eq!(none.body["items"], json!([]));
}

#[tokio::test]
async fn listings_downloaded_first_map_to_the_products_another_channel_adds_to_the_catalogue() {
    let app = spawn_app_with(engine_config()).await;
    let t = app.tenant("acme").await;
    let store = app.store(&t, "Acme").await;
    let first = Sim::start(Channel::WooCommerce).await;
    let skus: Vec<String> = first.stock().await.into_keys().collect();
    let a = connect(
        &app,
        &t,
        &store,
        &first,
        json!({ "push_notifications": false }),
    )
    .await;
    assert_eq!(
        health(&app, &t, &store, &a).await["unmapped_listings"],
        skus.len()
    );

    // A second shop with the same SKUs fills the catalogue from its listings.
    let second = Sim::start(Channel::WooCommerce).await;
    let b = connect(
        &app,
        &t,
        &store,
        &second,
        json!({ "push_notifications": false, "add_to_main_products": true }),
    )
    .await;
    let products = app
        .get(&t, &format!("/v1/stores/{store}/products?limit=1000"))
        .await;
    assert_eq!(
        products.body["items"].as_array().unwrap().len(),
        skus.len(),
        "{}",
        products.body
    );
    for ch in [&a, &b] {
        assert_eq!(health(&app, &t, &store, ch).await["unmapped_listings"], 0);
    }
    // The new products have no stock yet: both shops go to 0, then follow.
    let zero: BTreeMap<String, i64> = skus.iter().map(|s| (s.clone(), 0)).collect();
    first.wait_shows(&zero, 30).await;
    second.wait_shows(&zero, 30).await;
    set_stock(&app, &t, &store, &skus, 4).await;
    let four: BTreeMap<String, i64> = skus.iter().map(|s| (s.clone(), 4)).collect();
    first.wait_shows(&four, 30).await;
    second.wait_shows(&four, 30).await;
}

/// Our order for a channel order id, once imported.
async fn imported(app: &TestApp, t: &Tenant, store: &str, cid: &str) -> Value {
    let find = || async {
        let r = app
            .get(t, &format!("/v1/orders?store_id={store}&limit=1000"))
            .await;
        r.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|o| o["channel_order_id"] == cid)
            .cloned()
    };
    eventually(&format!("order {cid} imported"), 30, || async {
        find().await.is_some()
    })
    .await;
    let id = find().await.unwrap()["id"].as_str().unwrap().to_owned();
    app.get_order(t, &id).await
}

/// Data that maps to nothing is never only in a log: a line whose SKU is
/// no product is counted on its order (and holds it when the channel says
/// so), and the channel's health and error list count unmapped listings,
/// unmapped order lines and failing stock pushes.
#[tokio::test]
async fn lines_and_listings_that_map_to_nothing_are_counted_and_can_hold_the_order() {
    let app = spawn_app_with(engine_config()).await;
    let t = app.tenant("acme").await;
    let store = app.store(&t, "Acme").await;
    let woo = Sim::start(Channel::WooCommerce).await;
    let skus: Vec<String> = woo.stock().await.into_keys().collect();
    // The store sells everything the shop lists but SKU-00012.
    let known: Vec<String> = skus.iter().filter(|s| *s != "SKU-00012").cloned().collect();
    for sku in &known {
        app.product(&t, &store, sku).await;
    }
    set_stock(&app, &t, &store, &known, 10).await;
    let ch = connect(
        &app,
        &t,
        &store,
        &woo,
        json!({ "order_filters": { "unmapped_lines": "hold" } }),
    )
    .await;
    let errors = format!("/v1/stores/{store}/channels/{ch}/errors");

    let mixed = woo
        .order(&[("SKU-00001", 1), ("SKU-00012", 2)], json!({}))
        .await;
    let plain = woo.order(&[("SKU-00001", 1)], json!({})).await;
    let held = imported(&app, &t, &store, &mixed).await;
    assert_eq!(held["state"], "on_hold", "{held}");
    assert_eq!(held["unmapped_lines"], 1, "{held}");
    assert!(
        held["hold_reason"]
            .as_str()
            .is_some_and(|r| r.contains("`SKU-00012`")),
        "{held}"
    );
    let open = imported(&app, &t, &store, &plain).await;
    assert_eq!(open["state"], "open", "{open}");
    assert_eq!(open["unmapped_lines"], 0);

    let h = health(&app, &t, &store, &ch).await;
    assert_eq!(h["unmapped_listings"], 1, "{h}");
    assert_eq!(h["unmapped_order_lines"], 1, "{h}");
    let e = app.get(&t, &errors).await.body;
    let count = |code: &str| {
        e["problems"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["code"] == code)
            .map(|p| p["count"].clone())
    };
    assert_eq!(count("unmapped_listings"), Some(json!(1)), "{e}");
    assert_eq!(count("unmapped_order_lines"), Some(json!(1)), "{e}");
    assert_eq!(count("failing_stock_pushes"), None, "{e}");

    // With `ignore` (the default) such an order stays open, still counted.
    let r = app
        .patch(
            &t,
            &format!("/v1/stores/{store}/channels/{ch}"),
            &json!({ "settings": { "order_filters": { "unmapped_lines": "ignore" } } }),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let later = woo.order(&[("SKU-00012", 1)], json!({})).await;
    let o = imported(&app, &t, &store, &later).await;
    assert_eq!(o["state"], "open", "{o}");
    assert_eq!(o["unmapped_lines"], 1);
    assert_eq!(
        health(&app, &t, &store, &ch).await["unmapped_order_lines"],
        2
    );

    // A shop that refuses every stock update: the failures are counted.
    woo.faults(&switchyard_sim::Faults {
        rate_5xx: 1.0,
        ..switchyard_sim::Faults::default()
    })
    .await;
    set_stock(&app, &t, &store, &known, 3).await;
    eventually("the failing pushes counted", 30, || async {
        health(&app, &t, &store, &ch).await["failing_stock_pushes"]
            .as_i64()
            .unwrap_or(0)
            > 0
    })
    .await;
    let e = app.get(&t, &errors).await.body;
    assert!(
        e["problems"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["code"] == "failing_stock_pushes"),
        "{e}"
    );
}
