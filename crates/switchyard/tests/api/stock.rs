use reqwest::StatusCode;
use serde_json::json;
use switchyard_domain::order::OrderState;
use switchyard_domain::values::Sku;
use switchyard_storage::{NewOrder, NewOrderLine};
use switchyard_testkit::spawn_app;

#[tokio::test]
async fn set_adjust_and_bulk_move_the_api_source_and_journal_each_change() {
    let app = spawn_app().await;
    let t = app.tenant("acme").await;
    let s = app.store(&t, "shop").await;
    app.product(&t, &s, "A").await;
    app.product(&t, &s, "B").await;
    let j0 = app.journal_len(&t, &s).await;
    let r = app
        .put(
            &t,
            &format!("/v1/stores/{s}/stock/A"),
            &json!({ "quantity": 10 }),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(
        (
            r.body["change"]["before"].as_i64(),
            r.body["change"]["after"].as_i64()
        ),
        (Some(0), Some(10))
    );
    assert_eq!(r.body["stock"]["available"], 10);
    let r = app
        .post(
            &t,
            &format!("/v1/stores/{s}/stock/A/adjust"),
            &json!({ "delta": -4, "reason": "damaged" }),
        )
        .await;
    assert_eq!(r.body["stock"]["on_hand"], 6, "{:?}", r.body);
    let r = app
        .put(
            &t,
            &format!("/v1/stores/{s}/stock/B"),
            &json!({ "quantity": 3, "location": "Leeds" }),
        )
        .await;
    assert_eq!(
        r.body["stock"]["sources"][0],
        json!({ "source": "api", "location": "Leeds", "quantity": 3 })
    );
    let r = app
        .post(&t, &format!("/v1/stores/{s}/stock"), &json!({ "items": [
            { "sku": "A", "delta": 1 }, { "sku": "B", "quantity": 7, "location": "Leeds", "expected": 3 }
        ] }))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(r.body["items"][1]["after"], 7);
    let r = app
        .get(&t, &format!("/v1/stores/{s}/stock?sku=A&sku=B&sku=NOPE"))
        .await;
    let avail: Vec<i64> = r.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["available"].as_i64().unwrap())
        .collect();
    assert_eq!(avail, [7, 7]);
    assert_eq!(r.body["missing"], json!(["NOPE"]));
    assert_eq!(app.journal_len(&t, &s).await, j0 + 5);
    let all = app.get(&t, &format!("/v1/stores/{s}/stock?limit=1")).await;
    assert_eq!(all.body["items"][0]["sku"], "A");
    let next = all.body["next_cursor"].as_str().unwrap().to_owned();
    let rest = app
        .get(&t, &format!("/v1/stores/{s}/stock?limit=1&cursor={next}"))
        .await;
    assert_eq!(rest.body["items"][0]["sku"], "B");
}

#[tokio::test]
async fn compare_and_set_with_a_stale_expectation_is_a_conflict() {
    let app = spawn_app().await;
    let t = app.tenant("acme").await;
    let s = app.store(&t, "shop").await;
    app.product(&t, &s, "A").await;
    app.put(
        &t,
        &format!("/v1/stores/{s}/stock/A"),
        &json!({ "quantity": 5 }),
    )
    .await;
    let r = app
        .put(
            &t,
            &format!("/v1/stores/{s}/stock/A"),
            &json!({ "quantity": 9, "expected": 4 }),
        )
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    assert_eq!(r.body["error"]["code"], "stock_expected_mismatch");
    assert_eq!(r.body["error"]["field"], "expected");
    let r = app
        .put(
            &t,
            &format!("/v1/stores/{s}/stock/A"),
            &json!({ "quantity": 9, "expected": 5 }),
        )
        .await;
    assert_eq!(r.body["stock"]["on_hand"], 9);
}

/// The session from the closing note: store, products, a kit, component
/// stock, a channel rule, and the kit's explanation.
#[tokio::test]
async fn kit_explanation_names_every_source_commitment_rule_and_the_limiting_component() {
    let app = spawn_app().await;
    let t = app.tenant("acme").await;
    let s = app.store(&t, "shop").await;
    app.product(&t, &s, "MUG").await;
    app.product(&t, &s, "COASTER").await;
    let r = app
        .post(
            &t,
            &format!("/v1/stores/{s}/products"),
            &json!({
                "sku": "GIFT", "title": "Gift set",
                "components": [{ "sku": "MUG", "quantity": 2 }, { "sku": "COASTER", "quantity": 4 }]
            }),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED);
    app.put(
        &t,
        &format!("/v1/stores/{s}/stock/MUG"),
        &json!({ "quantity": 20 }),
    )
    .await;
    app.put(
        &t,
        &format!("/v1/stores/{s}/stock/COASTER"),
        &json!({ "quantity": 30 }),
    )
    .await;
    let ch = app
        .post(
            &t,
            &format!("/v1/stores/{s}/channels"),
            &json!({
                "name": "Amazon UK", "kind": "amazon", "stock_rules": { "buffer": 1, "maximum": 5 }
            }),
        )
        .await;
    assert_eq!(ch.status, StatusCode::CREATED, "{:?}", ch.body);
    let ch_id = ch.body["id"].as_str().unwrap().to_owned();
    app.post(
        &t,
        &format!("/v1/stores/{s}/channels"),
        &json!({ "name": "Webshop", "kind": "woocommerce" }),
    )
    .await;
    // An open order for one kit commits its components.
    let account = app.storage.ensure_account("acme").await.unwrap().id;
    app.storage
        .upsert_order(
            &account,
            &s.parse().unwrap(),
            NewOrder {
                channel_id: ch_id.parse().unwrap(),
                channel_order_id: "114-1".into(),
                state: OrderState::Open,
                lines: vec![NewOrderLine {
                    sku: Sku::parse("GIFT").unwrap(),
                    open_quantity: 1,
                }],
            },
        )
        .await
        .unwrap();

    let e = app
        .get(&t, &format!("/v1/stores/{s}/stock/GIFT/explain"))
        .await;
    assert_eq!(e.status, StatusCode::OK, "{:?}", e.body);
    let b = &e.body;
    // MUG: 20 − 2 = 18 → 9 kits; COASTER: 30 − 4 = 26 → 6 kits.
    assert_eq!(b["kit"], true);
    assert_eq!(b["available"], 6);
    assert_eq!(b["limiting_component"], "COASTER");
    let coaster = &b["components"][1];
    assert_eq!(
        (
            coaster["on_hand"].as_i64(),
            coaster["committed"].as_i64(),
            coaster["kits_possible"].as_i64()
        ),
        (Some(30), Some(4), Some(6))
    );
    assert_eq!(coaster["commitments"][0]["via_kit"], "GIFT");
    let amazon = b["listings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["channel_name"] == "Amazon UK")
        .unwrap();
    let steps: Vec<&str> = amazon["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["rule"].as_str().unwrap())
        .collect();
    assert_eq!(steps, ["buffer", "maximum", "never_negative"]);
    assert_eq!(amazon["quantity"], 5);
    assert_eq!(
        amazon["summary"],
        "6 → buffer 1 → 5 → maximum 5 → 5 → floor 0 → 5"
    );
    let web = b["listings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["channel_name"] == "Webshop")
        .unwrap();
    assert_eq!(web["quantity"], 6);
    // The plain component explains itself too, and the parts add up.
    let m = app
        .get(&t, &format!("/v1/stores/{s}/stock/MUG/explain"))
        .await
        .body;
    assert_eq!(
        (
            m["on_hand"].as_i64(),
            m["committed"].as_i64(),
            m["available"].as_i64()
        ),
        (Some(20), Some(2), Some(18))
    );
    assert_eq!(m["summary"], "on_hand 20 (api 20) − committed 2 = 18");
    // Changing the channel's rules changes what it shows.
    app.patch(
        &t,
        &format!("/v1/stores/{s}/channels/{ch_id}"),
        &json!({ "stock_rules": { "zero_at_or_below": 6 } }),
    )
    .await;
    let g = app
        .get(&t, &format!("/v1/stores/{s}/stock/GIFT"))
        .await
        .body;
    let amazon = g["listings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["channel_name"] == "Amazon UK")
        .unwrap();
    assert_eq!(amazon["quantity"], 0);
}
