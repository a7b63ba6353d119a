//! The back-office order connection: Shopify orders created in the
//! WooCommerce back office, read back on the store's cadence (driven by
//! the workers' clock, not by waiting), shipped onto Shopify, cancelled
//! both ways, and failures listed with Resend and Handle manually.

use std::collections::BTreeMap;

use serde_json::{Value, json};
use switchyard::{Clock, EngineConfig};
use switchyard_testkit::spawn_app_with;

use crate::{World, engine_config, eventually};

/// A world whose workers run on `clock`, with WooCommerce as back office.
async fn world(clock: &Clock) -> World {
    let app = spawn_app_with(EngineConfig {
        clock: clock.clone(),
        ..engine_config()
    })
    .await;
    let w = World::on(app, json!({})).await;
    let r = w
        .app
        .put(
            &w.t,
            &format!("/v1/stores/{}/back-office", w.store),
            &json!({ "channel_id": w.woo_ch }),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["back_office"]["check_interval_secs"], 300);
    assert_eq!(
        r.body["back_office"]["ship_without_tracking_after_secs"],
        10_800
    );
    w
}

impl World {
    /// A WooCommerce REST call as the merchant's own back-office staff make it.
    async fn woo_admin(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let c = &self.woo.sim.credentials;
        let mut req = reqwest::Client::new()
            .request(method, format!("{}/wp-json{path}", self.woo.url()))
            .basic_auth(
                c["consumer_key"].as_str().unwrap(),
                c["consumer_secret"].as_str(),
            );
        if let Some(b) = body {
            req = req.json(&b);
        }
        let r = req.send().await.unwrap();
        let status = r.status();
        let v: Value = r.json().await.unwrap();
        assert!(status.is_success(), "{path}: {status} {v}");
        v
    }

    /// Wait until the order's back-office copy is in `state`; returns the order.
    async fn back_office_state(&self, id: &str, state: &str, secs: u64) -> Value {
        eventually(
            &format!("back office of {id} to be {state}"),
            secs,
            || async { self.get_order(id).await["back_office"]["state"] == state },
        )
        .await;
        self.get_order(id).await
    }

    /// Read-backs are due every 5 minutes: move the workers' clock past one.
    fn next_check(clock: &Clock) {
        clock.advance(chrono::Duration::seconds(301));
    }

    async fn shopify_order_cancelled(&self, channel_order_id: &str) -> bool {
        let r = reqwest::Client::new()
            .post(format!(
                "{}/admin/api/2025-01/graphql.json",
                self.shopify.url()
            ))
            .header(
                "X-Shopify-Access-Token",
                self.shopify.sim.credentials["access_token"]
                    .as_str()
                    .unwrap(),
            )
            .json(&json!({
                "query": "query($id: ID!) { order(id: $id) { cancelledAt } }",
                "variables": { "id": format!("gid://shopify/Order/{channel_order_id}") }
            }))
            .send()
            .await
            .unwrap()
            .json::<Value>()
            .await
            .unwrap();
        !r["data"]["order"]["cancelledAt"].is_null()
    }
}

#[tokio::test]
async fn a_shopify_order_goes_through_the_woocommerce_back_office_and_ships_on_shopify() {
    let clock = Clock::default();
    let w = world(&clock).await;
    let cid = w.shopify.order(&[("SKU-00004", 2)], json!({})).await;
    let order = w.order_for(&cid).await;
    let id = order["id"].as_str().unwrap().to_owned();
    let order = w.back_office_state(&id, "not_shipped", 30).await;
    let remote = order["back_office"]["remote_id"]
        .as_str()
        .unwrap()
        .to_owned();

    // In WooCommerce: paid, processing, our reference, the shop's own product.
    let copy = w
        .woo_admin(
            reqwest::Method::GET,
            &format!("/wc/v3/orders/{remote}"),
            None,
        )
        .await;
    assert_eq!(copy["status"], "processing");
    assert!(
        copy["meta_data"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["key"] == "switchyard_order_id" && m["value"] == id.as_str()),
        "{copy}"
    );
    assert_eq!(copy["line_items"][0]["sku"], "SKU-00004");
    assert_eq!(copy["line_items"][0]["quantity"], 2);
    assert_ne!(copy["line_items"][0]["product_id"], 0);

    // The copy is not a WooCommerce sale: importing the shop adds nothing,
    // and the shop's own stock drop for it is corrected.
    w.job(&w.woo_ch, "import", json!({})).await;
    assert_eq!(w.orders("").await.len(), 1);
    let sold = BTreeMap::from([("SKU-00004", 2)]);
    w.converge(&w.expected(&sold), 30).await;

    // Staff complete it with a Royal Mail track-and-trace code.
    w.woo_admin(
        reqwest::Method::POST,
        &format!("/wc-shipment-tracking/v3/orders/{remote}/shipment-trackings"),
        Some(json!({ "tracking_provider": "Royal Mail", "tracking_number": "RM123456785GB" })),
    )
    .await;
    w.woo_admin(
        reqwest::Method::PUT,
        &format!("/wc/v3/orders/{remote}"),
        Some(json!({ "status": "completed" })),
    )
    .await;
    World::next_check(&clock);
    let order = w.back_office_state(&id, "shipped", 30).await;
    assert_eq!(order["state"], "fulfilled");
    assert_eq!(order["back_office"]["remote_status"], "completed");
    let f = &order["fulfilments"][0];
    assert_eq!(f["source"], "back_office");
    assert_eq!(f["carrier"], "royal_mail");
    w.synced(f["id"].as_str().unwrap(), 30).await;
    let on_shopify = w.shopify_fulfilments(&cid).await;
    assert_eq!(on_shopify.len(), 1, "{on_shopify:?}");
    assert_eq!(on_shopify[0]["trackingInfo"][0]["company"], "Royal Mail");
    assert_eq!(on_shopify[0]["trackingInfo"][0]["number"], "RM123456785GB");
    w.converge(&w.expected(&sold), 30).await;

    // Reading it back again records nothing twice.
    World::next_check(&clock);
    w.job(&w.shopify_ch, "import", json!({})).await;
    assert_eq!(
        w.get_order(&id).await["fulfilments"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    assert_eq!(w.shopify_fulfilments(&cid).await.len(), 1);
}

#[tokio::test]
async fn completed_without_track_and_trace_waits_then_ships_after_the_timeout() {
    let clock = Clock::default();
    let w = world(&clock).await;
    let cid = w.shopify.order(&[("SKU-00006", 1)], json!({})).await;
    let id = w.order_for(&cid).await["id"].as_str().unwrap().to_owned();
    let order = w.back_office_state(&id, "not_shipped", 30).await;
    let remote = order["back_office"]["remote_id"]
        .as_str()
        .unwrap()
        .to_owned();

    World::next_check(&clock);
    eventually("a read-back while still processing", 30, || async {
        !w.get_order(&id).await["back_office"]["checked_at"].is_null()
    })
    .await;
    assert_eq!(
        w.get_order(&id).await["back_office"]["state"],
        "not_shipped"
    );

    w.woo_admin(
        reqwest::Method::PUT,
        &format!("/wc/v3/orders/{remote}"),
        Some(json!({ "status": "completed" })),
    )
    .await;
    World::next_check(&clock);
    let order = w.back_office_state(&id, "waiting", 30).await;
    assert!(order["back_office"]["waiting_since"].is_string());
    assert_eq!(order["state"], "open");
    assert!(order["fulfilments"].as_array().unwrap().is_empty());

    // Three hours on, still without a code: shipped without one.
    clock.advance(chrono::Duration::hours(3));
    let order = w.back_office_state(&id, "shipped", 30).await;
    assert_eq!(order["state"], "fulfilled");
    let f = &order["fulfilments"][0];
    assert!(f["tracking"].as_array().unwrap().is_empty());
    assert_eq!(f["carrier"], "other");
    w.synced(f["id"].as_str().unwrap(), 30).await;
    let on_shopify = w.shopify_fulfilments(&cid).await;
    assert_eq!(on_shopify.len(), 1, "{on_shopify:?}");
    assert!(on_shopify[0]["trackingInfo"].as_array().unwrap().is_empty());
}

#[tokio::test]
async fn cancellations_travel_both_ways() {
    let clock = Clock::default();
    let w = world(&clock).await;

    // Cancelled on the marketplace → cancelled in the back office.
    let a = w.shopify.order(&[("SKU-00007", 1)], json!({})).await;
    let a_id = w.order_for(&a).await["id"].as_str().unwrap().to_owned();
    let order = w.back_office_state(&a_id, "not_shipped", 30).await;
    let a_remote = order["back_office"]["remote_id"]
        .as_str()
        .unwrap()
        .to_owned();
    w.shopify
        .post(&format!("/_sim/orders/{a}/cancel"), json!({}))
        .await;
    let order = w.back_office_state(&a_id, "cancelled", 30).await;
    assert_eq!(order["state"], "cancelled");
    let copy = w
        .woo_admin(
            reqwest::Method::GET,
            &format!("/wc/v3/orders/{a_remote}"),
            None,
        )
        .await;
    assert_eq!(copy["status"], "cancelled");

    // Cancelled in the back office → cancelled here and on the marketplace.
    let b = w.shopify.order(&[("SKU-00008", 1)], json!({})).await;
    let b_id = w.order_for(&b).await["id"].as_str().unwrap().to_owned();
    let order = w.back_office_state(&b_id, "not_shipped", 30).await;
    let b_remote = order["back_office"]["remote_id"]
        .as_str()
        .unwrap()
        .to_owned();
    w.woo_admin(
        reqwest::Method::PUT,
        &format!("/wc/v3/orders/{b_remote}"),
        Some(json!({ "status": "cancelled" })),
    )
    .await;
    World::next_check(&clock);
    let order = w.back_office_state(&b_id, "cancelled", 30).await;
    assert_eq!(order["state"], "cancelled");
    eventually("the Shopify order to be cancelled", 30, || async {
        w.get_order(&b_id).await["back_office"]["channel_cancel"] == "done"
    })
    .await;
    assert!(w.shopify_order_cancelled(&b).await);
    // Both cancellations released their stock everywhere.
    w.converge(&w.expected(&BTreeMap::new()), 30).await;
}

#[tokio::test]
async fn orders_the_back_office_refuses_are_listed_for_resend_or_manual_handling() {
    let clock = Clock::default();
    let w = world(&clock).await;
    w.woo.post("/_sim/auth/revoke", json!({})).await;
    let a = w.shopify.order(&[("SKU-00004", 1)], json!({})).await;
    let b = w.shopify.order(&[("SKU-00006", 1)], json!({})).await;
    let a_id = w.order_for(&a).await["id"].as_str().unwrap().to_owned();
    let b_id = w.order_for(&b).await["id"].as_str().unwrap().to_owned();
    w.back_office_state(&a_id, "failed", 30).await;
    let order = w.back_office_state(&b_id, "failed", 30).await;
    assert!(
        order["back_office"]["last_error"]
            .as_str()
            .unwrap()
            .contains("authentication failed"),
        "{}",
        order["back_office"]
    );
    let list = w
        .app
        .get(
            &w.t,
            &format!("/v1/stores/{}/back-office/orders?state=failed", w.store),
        )
        .await;
    assert_eq!(list.status, 200);
    assert_eq!(list.body["items"].as_array().unwrap().len(), 2);
    let bad = w
        .app
        .get(
            &w.t,
            &format!("/v1/stores/{}/back-office/orders?state=lost", w.store),
        )
        .await;
    assert_eq!(bad.status, 400);

    // The console's order page says the same, and resends from there.
    let link = switchyard_testkit::console::invited(
        &w.app,
        "acme",
        "ops@example.com",
        switchyard_domain::user::Role::Staff,
    )
    .await;
    let mut b = switchyard_testkit::console::Browser::new(&w.app);
    switchyard_testkit::console::set_password(&mut b, &link, "a long password").await;
    let page = b.get(&format!("/console/orders/{a_id}")).await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("bo-failed"), "{}", page.body);
    assert!(page.body.contains("authentication failed"));
    assert!(page.body.contains("Resend to the back office"));
    assert!(page.body.contains("/back-office-manual"));
    let csrf = page.hidden("csrf");

    w.woo.post("/_sim/auth/restore", json!({})).await;
    let resend = b
        .post(
            &format!("/console/orders/{a_id}/back-office-resend"),
            &[("csrf", &csrf)],
        )
        .await;
    assert_eq!(resend.status, 303, "{}", resend.body);
    w.back_office_state(&a_id, "not_shipped", 30).await;
    let page = b.get(&format!("/console/orders/{a_id}")).await;
    assert!(page.body.contains("bo-not_shipped"), "{}", page.body);
    assert!(!page.body.contains("Resend to the back office"));
    let manual = w
        .app
        .post(
            &w.t,
            &format!("/v1/orders/{b_id}/back-office/manual"),
            &json!({}),
        )
        .await;
    assert_eq!(manual.status, 200, "{}", manual.body);
    assert_eq!(manual.body["state"], "manual");
    assert_eq!(w.get_order(&b_id).await["manual"], true);
    let again = w
        .app
        .post(
            &w.t,
            &format!("/v1/orders/{a_id}/back-office/manual"),
            &json!({}),
        )
        .await;
    assert_eq!(again.status, 409, "{}", again.body);
    // Exactly one copy of the resent order in WooCommerce.
    let copies = w
        .woo_admin(reqwest::Method::GET, "/wc/v3/orders?per_page=100", None)
        .await;
    let ours = copies
        .as_array()
        .unwrap()
        .iter()
        .filter(|o| {
            o["meta_data"]
                .as_array()
                .unwrap()
                .iter()
                .any(|m| m["key"] == "switchyard_order_id")
        })
        .count();
    assert_eq!(ours, 1);
}
