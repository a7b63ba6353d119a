use std::collections::BTreeMap;

use serde_json::json;
use switchyard_sim::Faults;

use crate::{KIT, START, World};

#[tokio::test]
async fn a_sale_on_one_channel_lowers_every_other_channel_kits_included() {
    let w = World::new(json!({})).await;
    w.shopify.order(&[("SKU-00001", 2)], json!({})).await;
    let mut sold = BTreeMap::from([("SKU-00001", 2)]);
    w.converge(&w.expected(&sold), 20).await;

    w.woo.order(&[("SKU-00002", 3)], json!({})).await;
    sold.insert("SKU-00002", 3);
    w.converge(&w.expected(&sold), 20).await;

    // The kit sold on Shopify commits its components.
    w.shopify.order(&[(KIT, 1)], json!({})).await;
    sold.insert("SKU-00001", 3);
    sold.insert("SKU-00002", 5);
    let expected = w.expected(&sold);
    assert_eq!(expected[KIT], 2, "min(7 / 1, 5 / 2)");
    w.converge(&expected, 20).await;

    let orders = w.wait_orders("", 3, 10).await;
    assert!(orders.iter().all(|o| o["state"] == "open"));
    let stock = w
        .app
        .get(&w.t, &format!("/v1/stores/{}/stock/SKU-00002", w.store))
        .await;
    assert_eq!(stock.body["committed"], 5, "{}", stock.body);
    // The order keeps the unified format, the raw payload and its journal.
    let id = orders[0]["id"].as_str().unwrap();
    let one = w.app.get(&w.t, &format!("/v1/orders/{id}")).await;
    assert_eq!(one.status, 200);
    assert!(one.body["raw"].is_object(), "{}", one.body);
    assert_eq!(one.body["unified"]["lines"][0]["sku"], "SKU-00001");
    assert_eq!(one.body["journal"][0]["type"], "order.created");
}

#[tokio::test]
async fn reimports_and_backfills_duplicate_nothing() {
    let w = World::new(json!({})).await;
    w.shopify.order(&[("SKU-00004", 1)], json!({})).await;
    w.woo.order(&[("SKU-00004", 2)], json!({})).await;
    w.wait_orders("", 2, 20).await;
    w.converge(&w.expected(&BTreeMap::from([("SKU-00004", 3)])), 20)
        .await;

    for ch in [&w.shopify_ch, &w.woo_ch] {
        w.job(ch, "import", json!({})).await;
        let from = (chrono::Utc::now() - chrono::Duration::minutes(30)).to_rfc3339();
        w.job(ch, "backfill", json!({ "from": from })).await;
    }
    assert_eq!(w.orders("").await.len(), 2);
    let stock = w
        .app
        .get(&w.t, &format!("/v1/stores/{}/stock/SKU-00004", w.store))
        .await;
    assert_eq!(stock.body["committed"], 3, "{}", stock.body);
    let order_events = w
        .app
        .get(&w.t, &format!("/v1/stores/{}/journal?limit=1000", w.store))
        .await;
    let created = order_events.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["type"] == "order.created" || e["type"] == "order.updated")
        .count();
    assert_eq!(created, 2, "re-reads write no order events");
}

#[tokio::test]
async fn filtered_orders_are_excluded_and_commit_nothing() {
    let w = World::new(json!({ "order_filters": {
        "countries": { "deny": ["US"] },
        "skus": { "deny": ["SKU-0001?-*"] },
    } }))
    .await;
    w.woo
        .order(&[("SKU-00006", 4)], json!({ "country": "US" }))
        .await;
    w.shopify
        .order(&[("SKU-00010-M", 1)], json!({ "country": "GB" }))
        .await;
    let excluded = w.wait_orders("&state=excluded", 2, 20).await;
    assert!(excluded.iter().any(|o| {
        o["excluded_reason"]
            .as_str()
            .is_some_and(|r| r.contains("US"))
    }));
    assert!(excluded.iter().any(|o| {
        o["excluded_reason"]
            .as_str()
            .is_some_and(|r| r.contains("SKU-0001?-*"))
    }));
    // Nothing committed: every channel still shows the starting stock.
    w.converge(&w.expected(&BTreeMap::new()), 20).await;
    let stock = w
        .app
        .get(&w.t, &format!("/v1/stores/{}/stock/SKU-00006", w.store))
        .await;
    assert_eq!(stock.body["committed"], 0);
}

#[tokio::test]
async fn a_cancellation_on_the_channel_restores_stock_everywhere() {
    let w = World::new(json!({})).await;
    let id = w.shopify.order(&[("SKU-00007", 3)], json!({})).await;
    w.converge(&w.expected(&BTreeMap::from([("SKU-00007", 3)])), 20)
        .await;
    w.shopify
        .post(&format!("/_sim/orders/{id}/cancel"), json!({}))
        .await;
    w.wait_orders("&state=cancelled", 1, 20).await;
    w.converge(&w.expected(&BTreeMap::new()), 20).await;
}

#[tokio::test]
async fn unpaid_orders_wait_for_payment_unless_switched_on() {
    let w = World::new(json!({})).await;
    let id = w
        .woo
        .order(&[("SKU-00008", 1)], json!({ "paid": false }))
        .await;
    w.job(&w.woo_ch, "import", json!({})).await;
    assert!(
        w.orders("").await.is_empty(),
        "unpaid orders are not imported by default"
    );
    w.woo
        .post(&format!("/_sim/orders/{id}/pay"), json!({}))
        .await;
    w.wait_orders("", 1, 20).await;

    w.patch_settings(
        &w.shopify_ch,
        json!({ "order_filters": { "import_unpaid": true } }),
    )
    .await;
    w.shopify
        .order(&[("SKU-00008", 1)], json!({ "paid": false }))
        .await;
    w.wait_orders("", 2, 20).await;
    w.converge(&w.expected(&BTreeMap::from([("SKU-00008", 2)])), 20)
        .await;
}

#[tokio::test]
async fn channels_failing_at_30_percent_lose_no_order_and_converge() {
    let w = World::new(json!({})).await;
    let faults = Faults {
        rate_429: 0.1,
        retry_after_secs: 1,
        rate_5xx: 0.1,
        rate_malformed: 0.05,
        rate_duplicate: 0.05,
        ..Faults::default()
    };
    w.shopify.faults(&faults).await;
    w.woo.faults(&faults).await;
    let mut sold: BTreeMap<&str, i64> = BTreeMap::new();
    let picks = ["SKU-00004", "SKU-00006", "SKU-00007", "SKU-00008"];
    for i in 0..12 {
        let sku = picks[i % picks.len()];
        if i % 2 == 0 {
            w.shopify.order(&[(sku, 1)], json!({})).await;
        } else {
            w.woo.order(&[(sku, 1)], json!({})).await;
        }
        *sold.entry(sku).or_default() += 1;
    }
    w.wait_orders("", 12, 90).await;
    w.shopify.faults(&Faults::default()).await;
    w.woo.faults(&Faults::default()).await;
    w.converge(&w.expected(&sold), 60).await;
    assert_eq!(w.orders("").await.len(), 12, "no order duplicated");
}

#[tokio::test]
async fn a_notification_imports_without_waiting_for_the_cadence() {
    let w = World::new(json!({ "cadence_secs": 3600 })).await;
    for ch in [&w.shopify_ch, &w.woo_ch] {
        let c = w
            .app
            .get(&w.t, &format!("/v1/stores/{}/channels/{ch}", w.store))
            .await;
        assert!(
            c.body["import"]["notifications_registered_at"].is_string(),
            "{}",
            c.body
        );
    }
    w.shopify.order(&[("SKU-00009", 1)], json!({})).await;
    w.woo.order(&[("SKU-00009", 1)], json!({})).await;
    // The next scheduled import is an hour away: only the notifications
    // can bring these in.
    w.wait_orders("", 2, 15).await;
    w.converge(&w.expected(&BTreeMap::from([("SKU-00009", 2)])), 20)
        .await;
    // A burst of notifications on one channel is fetched and stored
    // together: every order once, each committing its line once.
    let burst =
        futures::future::join_all((0..6).map(|_| w.shopify.order(&[("SKU-00012", 1)], json!({}))))
            .await;
    assert!(burst.iter().all(|id| !id.is_empty()));
    let orders = w.wait_orders("&sku=SKU-00012", 6, 15).await;
    assert_eq!(orders.len(), 6, "each order once");
    w.converge(
        &w.expected(&BTreeMap::from([("SKU-00009", 2), ("SKU-00012", 6)])),
        20,
    )
    .await;
    // A forged notification is refused.
    let r = reqwest::Client::new()
        .post(format!("{}/v1/inbound/{}", w.app.address, w.shopify_ch))
        .header("x-shopify-hmac-sha256", "Zm9yZ2Vk")
        .body("{\"id\": 1}")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
}

#[tokio::test]
async fn the_last_unit_sold_twice_pushes_zero_and_flags_the_order() {
    let w = World::new(json!({})).await;
    let r = w
        .app
        .put(
            &w.t,
            &format!("/v1/stores/{}/stock/SKU-00011", w.store),
            &json!({ "quantity": 1 }),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let mut sold = BTreeMap::from([("SKU-00011", START - 1)]);
    w.converge(&w.expected(&sold), 20).await;
    let (a, b) = tokio::join!(
        w.shopify.order(&[("SKU-00011", 1)], json!({})),
        w.woo.order(&[("SKU-00011", 1)], json!({}))
    );
    assert!(!a.is_empty() && !b.is_empty());
    sold.insert("SKU-00011", START + 1);
    w.converge(&w.expected(&sold), 20).await;
    let orders = w.wait_orders("&sku=SKU-00011", 2, 20).await;
    let flagged: Vec<_> = orders.iter().filter(|o| o["oversold"] == true).collect();
    assert_eq!(flagged.len(), 1, "exactly the uncovered order: {orders:?}");
    assert_eq!(flagged[0]["state"], "open", "kept open, not hidden");
    let id = flagged[0]["id"].as_str().unwrap();
    let one = w.app.get(&w.t, &format!("/v1/orders/{id}")).await;
    assert!(
        one.body["journal"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["type"] == "order.oversold")
    );
}

/// A notified order has a lane of its own: while the channel's round is
/// stuck reading a slow order list, the order a notification announced is
/// imported at once, not after the round.
#[tokio::test]
async fn a_notified_order_never_waits_behind_a_slow_round() {
    let w = World::new(json!({ "cadence_secs": 3600 })).await;
    // Every order list read from Shopify now hangs past the client's 2 s
    // timeout (and is retried); reading one order does not.
    w.shopify
        .faults(&switchyard_sim::Faults {
            slow_only_matching: Some("orders(first".into()),
            slow_ms: 8000,
            ..switchyard_sim::Faults::default()
        })
        .await;
    let r = w
        .app
        .post(
            &w.t,
            &format!("/v1/stores/{}/channels/{}/import", w.store, w.shopify_ch),
            &json!({}),
        )
        .await;
    assert_eq!(r.status, 202, "{}", r.body);
    // Give the round time to start its slow read.
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    let started = std::time::Instant::now();
    w.shopify.order(&[("SKU-00009", 1)], json!({})).await;
    w.wait_orders("", 1, 6).await;
    assert!(
        started.elapsed() < std::time::Duration::from_secs(6),
        "the notified order waited for the round"
    );
    w.shopify.faults(&switchyard_sim::Faults::default()).await;
}
