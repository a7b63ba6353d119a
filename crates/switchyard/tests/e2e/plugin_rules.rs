//! Plugin rules and their dry run over real imported orders.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use crate::World;

#[tokio::test]
async fn a_dry_run_shows_what_past_orders_would_get_and_changes_nothing() {
    let w = World::new(json!({})).await;
    let gb = w
        .shopify
        .order(&[("SKU-00001", 1)], json!({ "country": "GB" }))
        .await;
    let us = w
        .woo
        .order(&[("SKU-00002", 3)], json!({ "country": "US" }))
        .await;
    let mixed = w
        .shopify
        .order(
            &[("SKU-00001", 1), ("SKU-00004", 1)],
            json!({ "country": "DE" }),
        )
        .await;
    for id in [&gb, &us, &mixed] {
        w.order_for(id).await;
    }
    // Two plugins, disabled (nothing is sent to them here).
    let mut plugin = BTreeMap::new();
    for name in ["big", "small"] {
        let r = w
            .app
            .post(
                &w.t,
                &format!("/v1/stores/{}/plugins", w.store),
                &json!({ "name": name, "url": format!("https://{name}.example.invalid/orders"), "enabled": false }),
            )
            .await;
        assert_eq!(r.status, 201, "{}", r.body);
        plugin.insert(name, r.body["id"].as_str().unwrap().to_owned());
    }
    let (big, small) = (plugin["big"].as_str(), plugin["small"].as_str());
    let base = format!("/v1/stores/{}/plugin-rules", w.store);
    let empty = w.app.get(&w.t, &base).await;
    assert_eq!(empty.status, 200);
    assert_eq!(empty.body["rules"], json!([]));

    let rules = json!({ "rules": [
        { "name": "bulk", "when": { "min_quantity": 3 }, "then": { "action": "add_tag", "tag": "bulk" } },
        { "name": "bulk to the big warehouse", "when": { "tags_any": ["bulk"] },
          "then": { "action": "send_to_plugin", "plugin_id": big } },
        { "name": "only SKU-00001 to the small one", "when": { "skus_all": ["SKU-00001"] },
          "then": { "action": "send_to_plugin", "plugin_id": small } },
        { "name": "check the US", "when": { "countries": ["US"] }, "then": { "action": "hold", "reason": "US address check" } },
    ]});
    // Bad rules are refused with the field at fault.
    let mut bad = rules.clone();
    bad["rules"][0]["when"]["max_quantity"] = json!(1);
    let r = w.app.put(&w.t, &base, &bad).await;
    assert_eq!(r.status, 422, "{}", r.body);
    assert_eq!(r.body["error"]["field"], "rules[0].when.max_quantity");
    let r = w
        .app
        .put(
            &w.t,
            &base,
            &json!({ "rules": [{ "name": "x", "then": { "action": "teleport" } }] }),
        )
        .await;
    assert!(r.status == 400 || r.status == 422, "{}", r.body);
    // Routing to a plugin the store does not have is refused.
    let mut unknown = rules.clone();
    unknown["rules"][2]["then"]["plugin_id"] = json!("plg_01jzzzzzzzzzzzzzzzzzzzzzzz");
    let r = w.app.put(&w.t, &base, &unknown).await;
    assert_eq!(r.status, 422, "{}", r.body);
    assert_eq!(r.body["error"]["field"], "rules[2].then.plugin_id");

    let orders_before: Vec<Value> = w.orders("").await;
    let journal_before = journal_len(&w).await;
    // Trying rules before saving them.
    let r = w
        .app
        .post(&w.t, &format!("{base}/dry-run"), &json!({ "rules": rules }))
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let outcome = |channel_order_id: &str| {
        let o = orders_before
            .iter()
            .find(|o| o["channel_order_id"] == channel_order_id)
            .unwrap();
        r.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|i| i["order_id"] == o["id"])
            .unwrap()["outcome"]
            .clone()
    };
    assert_eq!(outcome(&gb)["plugin_id"], small);
    assert_eq!(outcome(&us)["plugin_id"], big);
    assert_eq!(outcome(&us)["tags_added"], json!(["bulk"]));
    assert_eq!(outcome(&us)["on_hold"], "US address check");
    assert!(
        outcome(&mixed)["plugin_id"].is_null(),
        "stays with the store"
    );
    assert_eq!(r.body["summary"]["by_plugin"], json!({ big: 1, small: 1 }));
    assert_eq!(r.body["summary"]["stay_with_store"], 1);
    assert_eq!(r.body["summary"]["on_hold"], 1);

    // Saved, the dry run uses them; paging goes through every order.
    let r = w.app.put(&w.t, &base, &rules).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(w.app.get(&w.t, &base).await.body["rules"], rules["rules"]);
    let first = w
        .app
        .post(&w.t, &format!("{base}/dry-run"), &json!({ "limit": 2 }))
        .await;
    assert_eq!(first.body["items"].as_array().unwrap().len(), 2);
    let cursor = first.body["next_cursor"].as_str().unwrap();
    let rest = w
        .app
        .post(
            &w.t,
            &format!("{base}/dry-run"),
            &json!({ "limit": 2, "cursor": cursor }),
        )
        .await;
    assert_eq!(rest.body["items"].as_array().unwrap().len(), 1);
    assert!(rest.body["next_cursor"].is_null());

    // Nothing changed but the rules themselves.
    let orders_after: Vec<Value> = w.orders("").await;
    assert_eq!(orders_before, orders_after);
    assert_eq!(
        journal_len(&w).await,
        journal_before + 1,
        "only store.plugin_rules_updated"
    );
}

async fn journal_len(w: &World) -> usize {
    let path = format!("/v1/stores/{}/journal?limit=1000", w.store);
    w.app.get(&w.t, &path).await.body["items"]
        .as_array()
        .unwrap()
        .len()
}
