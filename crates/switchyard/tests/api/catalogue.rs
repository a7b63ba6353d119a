use reqwest::StatusCode;
use serde_json::json;
use switchyard_domain::ids::ChannelId;
use switchyard_domain::order::OrderState;
use switchyard_storage::{NewOrder, NewOrderLine};
use switchyard_testkit::spawn_app;

#[tokio::test]
async fn stores_can_be_created_listed_renamed_and_deleted() {
    let app = spawn_app().await;
    let t = app.tenant("acme").await;
    let mut ids = Vec::new();
    for i in 0..3 {
        ids.push(app.store(&t, &format!("store {i}")).await);
    }
    let page1 = app.get(&t, "/v1/stores?limit=2").await;
    assert_eq!(page1.body["items"].as_array().unwrap().len(), 2);
    let cursor = page1.body["next_cursor"].as_str().unwrap().to_owned();
    let page2 = app
        .get(&t, &format!("/v1/stores?limit=2&cursor={cursor}"))
        .await;
    assert_eq!(page2.body["items"].as_array().unwrap().len(), 1);
    assert!(page2.body["next_cursor"].is_null());
    let r = app
        .patch(
            &t,
            &format!("/v1/stores/{}", ids[0]),
            &json!({ "name": "renamed" }),
        )
        .await;
    assert_eq!(
        (r.status, r.body["name"].as_str()),
        (StatusCode::OK, Some("renamed"))
    );
    assert_eq!(
        app.delete(&t, &format!("/v1/stores/{}", ids[0]))
            .await
            .status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        app.get(&t, &format!("/v1/stores/{}", ids[0])).await.status,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn a_store_with_orders_is_deleted_only_when_forced() {
    let app = spawn_app().await;
    let t = app.tenant("acme").await;
    let s = app.store(&t, "shop").await;
    app.product(&t, &s, "MUG").await;
    let ch = app
        .post(
            &t,
            &format!("/v1/stores/{s}/channels"),
            &json!({ "name": "Woo", "kind": "woocommerce" }),
        )
        .await;
    let ch: ChannelId = ch.body["id"].as_str().unwrap().parse().unwrap();
    // Orders arrive through import (a later part); arrange one through storage.
    let account = app.storage.ensure_account("acme").await.unwrap().id;
    app.storage
        .upsert_order(
            &account,
            &s.parse().unwrap(),
            NewOrder {
                channel_id: ch.clone(),
                channel_order_id: "1001".into(),
                state: OrderState::Open,
                lines: vec![NewOrderLine {
                    sku: "MUG".parse_sku(),
                    open_quantity: 1,
                }],
            },
        )
        .await
        .unwrap();
    let r = app.delete(&t, &format!("/v1/stores/{s}")).await;
    assert_eq!(
        (r.status, r.body["error"]["code"].as_str()),
        (StatusCode::CONFLICT, Some("store_has_orders"))
    );
    let r = app
        .delete(&t, &format!("/v1/stores/{s}/channels/{ch}"))
        .await;
    assert_eq!(
        (r.status, r.body["error"]["code"].as_str()),
        (StatusCode::CONFLICT, Some("channel_has_orders"))
    );
    assert_eq!(
        app.get(&t, &format!("/v1/stores/{s}")).await.status,
        StatusCode::OK
    );
    assert_eq!(
        app.delete(&t, &format!("/v1/stores/{s}?force=true"))
            .await
            .status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        app.get(&t, &format!("/v1/stores/{s}")).await.status,
        StatusCode::NOT_FOUND
    );
}

trait ParseSku {
    fn parse_sku(&self) -> switchyard_domain::values::Sku;
}

impl ParseSku for str {
    fn parse_sku(&self) -> switchyard_domain::values::Sku {
        switchyard_domain::values::Sku::parse(self).unwrap()
    }
}

#[tokio::test]
async fn products_keep_every_attribute_and_kits_their_components() {
    let app = spawn_app().await;
    let t = app.tenant("acme").await;
    let s = app.store(&t, "shop").await;
    let r = app
        .post(&t, &format!("/v1/stores/{s}/products"), &json!({
            "sku": "MUG-RED/L", "title": "Red mug, large", "gtin": "4006381333931", "weight_g": 350,
            "dimensions": { "length_mm": 120, "width_mm": 90, "height_mm": 100 },
            "image_url": "https://cdn.example.com/mug.png",
            "price": { "amount": 1299, "currency": "GBP" },
            "customs": { "hs_code": "6912.00", "origin_country": "GB", "description": "Ceramic mug" }
        }))
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    app.product(&t, &s, "COASTER").await;
    let r = app
        .get(&t, &format!("/v1/stores/{s}/products/MUG-RED%2FL"))
        .await;
    assert_eq!(
        r.status,
        StatusCode::OK,
        "SKUs with slashes are addressed URL-encoded"
    );
    assert_eq!(
        r.body["price"],
        json!({ "amount": 1299, "currency": "GBP" })
    );
    assert_eq!(r.body["customs"]["origin_country"], "GB");
    assert_eq!(r.body["dimensions"]["height_mm"], 100);

    let r = app
        .post(&t, &format!("/v1/stores/{s}/products"), &json!({
            "sku": "GIFT-SET", "title": "Gift set",
            "components": [{ "sku": "MUG-RED/L", "quantity": 2 }, { "sku": "COASTER", "quantity": 4 }]
        }))
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    assert_eq!(r.body["kit"], true);
    assert_eq!(
        r.body["components"][1],
        json!({ "sku": "COASTER", "quantity": 4 })
    );

    let r = app
        .patch(
            &t,
            &format!("/v1/stores/{s}/products/COASTER"),
            &json!({ "title": "Cork coaster", "weight_g": null }),
        )
        .await;
    assert_eq!(
        (r.status, r.body["title"].as_str()),
        (StatusCode::OK, Some("Cork coaster"))
    );
    let r = app
        .delete(&t, &format!("/v1/stores/{s}/products/COASTER"))
        .await;
    assert_eq!(
        (r.status, r.body["error"]["code"].as_str()),
        (StatusCode::CONFLICT, Some("product_in_kit"))
    );
    let r = app
        .patch(
            &t,
            &format!("/v1/stores/{s}/products/GIFT-SET"),
            &json!({ "components": [] }),
        )
        .await;
    assert_eq!(
        (r.status, r.body["kit"].as_bool()),
        (StatusCode::OK, Some(false))
    );
    assert_eq!(
        app.delete(&t, &format!("/v1/stores/{s}/products/COASTER"))
            .await
            .status,
        StatusCode::NO_CONTENT
    );

    let list = app
        .get(&t, &format!("/v1/stores/{s}/products?limit=1"))
        .await;
    assert_eq!(list.body["items"][0]["sku"], "GIFT-SET");
    assert!(list.body["next_cursor"].is_string());
}
