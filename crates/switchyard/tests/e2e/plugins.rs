//! Plugins end to end with the simulated 3PL (`switchyard_sim::threepl`)
//! on loopback: an order routed by rule is received (signature checked by
//! the 3PL), shipped with a UPS number, the shipment synced to the channel,
//! the 3PL's stock reported into its own source, and every channel updated.
//! A 3PL that is down gets the order later, once; a held order waits; a
//! cancelled order is called off at the 3PL.

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::{Value, json};
use switchyard::Clock;
use switchyard_sim::threepl::{RunningThreePl, ThreePlOptions};
use switchyard_testkit::{Tenant, TestApp, spawn_app_with};
use tokio::net::TcpListener;

use crate::{World, eventually, loopback_allowed};

/// A store with a plugin pointing at a 3PL simulator that holds a plugin
/// token, both channels connected, and `rules` saved (`{plugin}` in a
/// rule's `plugin_id` is replaced by the plugin's id).
struct PluginWorld {
    w: World,
    tpl: RunningThreePl,
    plugin: String,
    plugin_token: Tenant,
    clock: Clock,
}

async fn plugin_world(ship_after: Duration, rules: Value) -> PluginWorld {
    let clock = Clock::default();
    let app: TestApp = spawn_app_with(loopback_allowed(&clock)).await;
    let t = app.tenant("acme").await;
    let store = app.store(&t, "Acme").await;
    // The 3PL's address first: the plugin is created pointing at it.
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/orders", listener.local_addr().unwrap());
    let r = app
        .post(
            &t,
            &format!("/v1/stores/{store}/plugins"),
            &json!({ "name": "Warehouse Venlo", "url": url }),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let plugin = r.body["id"].as_str().unwrap().to_owned();
    let secret = r.body["secret"].as_str().unwrap().to_owned();
    assert!(secret.starts_with("whsec_"));
    let r = app
        .post(
            &t,
            &format!("/v1/plugins/{plugin}/tokens"),
            &json!({ "name": "venlo" }),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(r.body["plugin_id"], plugin.as_str());
    let plugin_token = Tenant {
        token: r.body["token"].as_str().unwrap().to_owned(),
    };
    let tpl = switchyard_sim::threepl::spawn_on(
        ThreePlOptions {
            secret,
            api_url: Some(app.address.clone()),
            token: Some(plugin_token.token.clone()),
            plugin_id: Some(plugin.clone()),
            ship_after,
            stock: BTreeMap::new(),
            seed: 7,
        },
        listener,
    )
    .unwrap();
    let rules =
        serde_json::from_str::<Value>(&rules.to_string().replace("{plugin}", &plugin)).unwrap();
    let r = app
        .put(&t, &format!("/v1/stores/{store}/plugin-rules"), &rules)
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let w = World::in_store(app, t, store, json!({})).await;
    PluginWorld {
        w,
        tpl,
        plugin,
        plugin_token,
        clock,
    }
}

impl PluginWorld {
    /// The 3PL's copy of an order, once it has one.
    async fn at_3pl(&self, order_id: &str) -> Value {
        eventually(&format!("the 3PL to hold {order_id}"), 30, || async {
            self.tpl
                .orders()
                .await
                .unwrap()
                .iter()
                .any(|o| o["order_id"] == order_id)
        })
        .await;
        self.tpl
            .orders()
            .await
            .unwrap()
            .into_iter()
            .find(|o| o["order_id"] == order_id)
            .unwrap()
    }

    async fn routing(&self, order_id: &str) -> Value {
        let r = self
            .w
            .app
            .get(
                &self.w.t,
                &format!("/v1/plugins/{}/orders/{order_id}", self.plugin),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
        r.body
    }
}

#[tokio::test]
async fn an_order_routed_by_rule_is_shipped_by_the_3pl_synced_to_the_channel_and_its_stock_reaches_every_channel()
 {
    let p = plugin_world(
        Duration::from_millis(200),
        json!({ "rules": [
            { "name": "tag venlo items", "when": { "skus_any": ["SKU-00004"] },
              "then": { "action": "add_tag", "tag": "venlo" } },
            { "name": "venlo ships its own", "when": { "tags_any": ["venlo"] },
              "then": { "action": "send_to_plugin", "plugin_id": "{plugin}" } },
        ]}),
    )
    .await;
    let w = &p.w;
    let pt = &p.plugin_token;

    // The 3PL reports what it holds: its own source, beside `api`.
    let r = p
        .tpl
        .control(
            "stock",
            &json!({ "items": { "SKU-00004": 7, "NOT-STOCKED": 3 } }),
        )
        .await
        .unwrap();
    assert_eq!(
        r["reported"]["applied"][0]["source"],
        format!("plugin:{}", p.plugin)
    );
    assert_eq!(r["reported"]["skipped"][0]["reason"], "unknown_sku");
    let mut expected = w.expected(&BTreeMap::new());
    expected.insert("SKU-00004".into(), 17);
    w.converge(&expected, 30).await;

    // An order with SKU-00004 is routed to the plugin; one without stays.
    let routed_cid = w.shopify.order(&[("SKU-00004", 2)], json!({})).await;
    let stays_cid = w.woo.order(&[("SKU-00001", 1)], json!({})).await;
    let routed = w.order_for(&routed_cid).await;
    let stays = w.order_for(&stays_cid).await;
    let id = routed["id"].as_str().unwrap();
    assert_eq!(routed["plugin_id"], p.plugin.as_str());
    assert_eq!(routed["routed_by"], "venlo ships its own");
    assert_eq!(routed["tags"], json!(["venlo"]));
    assert!(stays["plugin_id"].is_null(), "{stays}");

    // The 3PL received it (signature verified, or it would have answered
    // 401) and shipped it with a UPS number.
    let at = p.at_3pl(id).await;
    assert_eq!(at["messages"], json!(["order.routed"]));
    assert_eq!(at["lines"], json!([["SKU-00004", 2]]));
    eventually("the 3PL to report its shipment", 30, || async {
        p.tpl.orders().await.unwrap()[0]["state"] == "shipped"
    })
    .await;
    let at = p.at_3pl(id).await;
    let tracking = at["tracking"].as_str().unwrap().to_owned();
    assert!(
        tracking.starts_with("1Z") && tracking.len() == 18,
        "{tracking}"
    );
    let reqs: Value = reqwest::get(format!("{}/_sim/requests", p.tpl.base_url()))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(
        reqs["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["verified"] == true),
        "{reqs}"
    );
    assert!(
        reqs["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["order_id"] == id),
        "only the routed order went to the 3PL: {reqs}"
    );

    // The shipment: source plugin, carrier UPS, synced to Shopify.
    eventually("the plugin's shipment to sync", 30, || async {
        let f = w
            .app
            .get(&w.t, &format!("/v1/orders/{id}/fulfilments"))
            .await;
        f.body["items"][0]["sync"]["state"] == "synced"
    })
    .await;
    let f = w
        .app
        .get(&w.t, &format!("/v1/orders/{id}/fulfilments"))
        .await;
    let f = &f.body["items"][0];
    assert_eq!(f["source"], "plugin");
    assert_eq!(f["carrier"], "ups");
    assert_eq!(f["external_ref"], at["reference"]);
    let on_shopify = w.shopify.fulfilments(&routed_cid).await;
    assert_eq!(on_shopify.len(), 1, "{on_shopify:?}");
    assert_eq!(on_shopify[0]["trackingInfo"][0]["company"], "UPS");
    let order = w.app.get(&w.t, &format!("/v1/orders/{id}")).await;
    assert_eq!(order.body["state"], "fulfilled");

    // The console's order page names the plugin, the rule, the delivered
    // message, and the plugin's shipment synced.
    let link = switchyard_testkit::console::invited(
        &w.app,
        "acme",
        "ops@example.com",
        switchyard_domain::user::Role::Owner,
    )
    .await;
    let mut b = switchyard_testkit::console::Browser::new(&w.app);
    switchyard_testkit::console::set_password(&mut b, &link, "a long password").await;
    let page = b.get(&format!("/console/orders/{id}")).await;
    assert_eq!(page.status, 200);
    for text in [
        "Warehouse Venlo",
        "venlo ships its own",
        "order.routed",
        "msg-delivered",
        "sync-synced",
    ] {
        assert!(page.body.contains(text), "{text} in {}", page.body);
    }
    assert!(!page.body.contains("Send to the plugin now"));

    // Shipping left `api` alone; the 3PL reported 5 left. Every channel
    // shows 10 + 5.
    let s = w
        .app
        .get(&w.t, &format!("/v1/stores/{}/stock/SKU-00004", w.store))
        .await;
    let sources = s.body["sources"].as_array().unwrap();
    let level = |src: &str| {
        sources
            .iter()
            .find(|x| x["source"] == src)
            .map(|x| x["quantity"].clone())
    };
    assert_eq!(level("api"), Some(json!(10)), "{}", s.body);
    assert_eq!(
        level(&format!("plugin:{}", p.plugin)),
        Some(json!(5)),
        "{}",
        s.body
    );
    let mut sold = BTreeMap::new();
    sold.insert("SKU-00001", 1);
    let mut expected = w.expected(&sold);
    expected.insert("SKU-00004".into(), 15);
    w.converge(&expected, 30).await;

    // A repeated shipment report (same reference) is the same shipment.
    let again = w
        .app
        .post(
            pt,
            &format!("/v1/plugins/{}/orders/{id}/fulfilments", p.plugin),
            &json!({ "tracking": [{ "number": tracking }], "reference": at["reference"] }),
        )
        .await;
    assert_eq!(again.status, 201, "{}", again.body);
    assert_eq!(again.body["id"], f["id"]);

    // The plugin token reaches only its plugin's own routes.
    let stays_id = stays["id"].as_str().unwrap();
    for (path, status) in [
        ("/v1/orders".to_owned(), 403),
        (format!("/v1/orders/{stays_id}"), 403),
        (format!("/v1/stores/{}", w.store), 403),
        (format!("/v1/plugins/{}/secret", p.plugin), 403),
        (format!("/v1/plugins/{}/orders/{stays_id}", p.plugin), 404),
        (format!("/v1/plugins/{}", p.plugin), 200),
        (format!("/v1/plugins/{}/orders", p.plugin), 200),
    ] {
        let r = w.app.get(pt, &path).await;
        assert_eq!(r.status, status, "GET {path}: {}", r.body);
    }
    let r = w
        .app
        .post(
            pt,
            &format!("/v1/plugins/{}/orders/{stays_id}/fulfilments", p.plugin),
            &json!({}),
        )
        .await;
    assert_eq!(r.status, 404, "not its order: {}", r.body);
    let r = w
        .app
        .put(
            pt,
            &format!("/v1/plugins/{}/stock", p.plugin),
            &json!({ "items": [{ "sku": "SKU-00004", "quantity": -1 }] }),
        )
        .await;
    assert_eq!(r.status, 422, "{}", r.body);
    assert_eq!(r.body["error"]["field"], "items[0].quantity");

    // The merchant sees the plugin's orders and their delivery.
    let list = w
        .app
        .get(
            &w.t,
            &format!("/v1/plugins/{}/orders?state=delivered", p.plugin),
        )
        .await;
    assert_eq!(
        list.body["items"].as_array().unwrap().len(),
        1,
        "{}",
        list.body
    );
    assert_eq!(list.body["items"][0]["messages"][0]["state"], "delivered");
    // A rule cannot be deleted from under the plugin.
    let r = w
        .app
        .delete(&w.t, &format!("/v1/plugins/{}", p.plugin))
        .await;
    assert_eq!(r.status, 409, "{}", r.body);
    assert_eq!(r.body["error"]["code"], "plugin_in_use");
}

#[tokio::test]
async fn a_3pl_that_is_down_gets_the_order_once_it_recovers_held_orders_wait_and_cancelled_ones_are_called_off()
 {
    let p = plugin_world(
        Duration::from_secs(3600),
        json!({ "rules": [
            { "name": "vip", "when": { "tags_any": ["vip"] },
              "then": { "action": "add_tag", "tag": "vip-seen" } },
            { "name": "check the US", "when": { "countries": ["US"] },
              "then": { "action": "hold", "reason": "US address check" } },
            { "name": "all to venlo", "when": {},
              "then": { "action": "send_to_plugin", "plugin_id": "{plugin}" } },
        ]}),
    )
    .await;
    let w = &p.w;

    // Down: the 3PL answers 503 three times.
    p.tpl
        .control("faults", &json!({ "status": 503, "count": 3 }))
        .await
        .unwrap();
    let cid = w
        .shopify
        .order(
            &[("SKU-00001", 1)],
            json!({ "country": "GB", "tags": ["vip"] }),
        )
        .await;
    let first = w.order_for(&cid).await;
    // The channel's tags are the order's, and rules match them.
    assert_eq!(first["tags"], json!(["vip", "vip-seen"]));
    let id = first["id"].as_str().unwrap().to_owned();
    for attempt in 1..=3 {
        // An attempt counts when it is claimed; it has failed once its retry
        // is scheduled in the future. Moving the clock while it is still in
        // flight would expire its lease and let a second worker send it too.
        eventually(&format!("attempt {attempt} to fail"), 30, || async {
            let r = p.routing(&id).await;
            let m = &r["routing"]["messages"][0];
            let retry_at = m["next_attempt_at"]
                .as_str()
                .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok());
            m["attempts"].as_i64() == Some(attempt)
                && m["state"] == "pending"
                && !m["last_error"].is_null()
                && retry_at.is_some_and(|t| t > p.clock.now())
        })
        .await;
        // The backoff doubles from 5 s; the workers' clock jumps past it.
        p.clock.advance(chrono::Duration::minutes(2));
    }
    let r = p.routing(&id).await;
    assert_eq!(r["routing"]["messages"][0]["last_status"], 503);
    let at = p.at_3pl(&id).await;
    eventually("the message to be delivered", 30, || async {
        p.routing(&id).await["routing"]["messages"][0]["state"] == "delivered"
    })
    .await;
    let r = p.routing(&id).await;
    assert_eq!(r["routing"]["messages"][0]["attempts"], 4, "{r}");
    assert_eq!(at["messages"], json!(["order.routed"]));
    assert_eq!(p.tpl.orders().await.unwrap().len(), 1, "exactly once");

    // Held by rule: routed, but not sent until released.
    let us_cid = w
        .woo
        .order(&[("SKU-00002", 1)], json!({ "country": "US" }))
        .await;
    let us = w.order_for(&us_cid).await;
    let us_id = us["id"].as_str().unwrap().to_owned();
    assert_eq!(us["state"], "on_hold");
    assert_eq!(us["hold_reason"], "US address check");
    assert_eq!(us["plugin_id"], p.plugin.as_str());
    p.clock.advance(chrono::Duration::minutes(2));
    // A tick later, still nothing at the 3PL.
    let ticks_before = p.tpl.orders().await.unwrap().len();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(p.tpl.orders().await.unwrap().len(), ticks_before);
    assert_eq!(
        p.routing(&us_id).await["routing"]["messages"][0]["attempts"],
        0
    );
    let r = w
        .app
        .post(&w.t, &format!("/v1/orders/{us_id}/release"), &json!({}))
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    p.at_3pl(&us_id).await;

    // Cancelled before it shipped: the 3PL is told and never ships it.
    let r = w
        .app
        .post(
            &w.t,
            &format!("/v1/orders/{us_id}/cancel"),
            &json!({ "reason": "customer changed their mind" }),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    eventually("the 3PL to call the order off", 30, || async {
        p.at_3pl(&us_id).await["state"] == "cancelled"
    })
    .await;
    assert_eq!(
        p.at_3pl(&us_id).await["messages"],
        json!(["order.routed", "order.cancelled"])
    );
    let r = p.routing(&us_id).await;
    let kinds: Vec<&str> = r["routing"]["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["type"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["order.routed", "order.cancelled"]);
}
