use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use switchyard_testkit::spawn_app;

/// Every malformed request gets a 4xx JSON error with a stable code, and
/// nothing is written: the journal does not move.
#[tokio::test]
async fn bad_input_gets_clear_errors_and_writes_nothing() {
    let app = spawn_app().await;
    let t = app.tenant("acme").await;
    let s = app.store(&t, "shop").await;
    app.product(&t, &s, "A").await;
    let r = app
        .post(
            &t,
            &format!("/v1/stores/{s}/products"),
            &json!({ "sku": "KIT", "title": "Kit", "components": [{ "sku": "A", "quantity": 1 }] }),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED);
    let j0 = app.journal_len(&t, &s).await;
    let products = format!("/v1/stores/{s}/products");
    let stock_a = format!("/v1/stores/{s}/stock/A");
    let bulk = format!("/v1/stores/{s}/stock");
    let long_sku = "X".repeat(129);
    let too_many: Vec<Value> = (0..10_001)
        .map(|_| json!({ "sku": "A", "delta": 1 }))
        .collect();

    // (method, path, body, status, code, field)
    type Case<'a> = (Method, String, Value, StatusCode, &'a str, Option<&'a str>);
    let cases: Vec<Case> = vec![
        (
            Method::POST,
            products.clone(),
            json!({ "sku": "B", "title": "B", "colour": "red" }),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_body",
            None,
        ),
        (
            Method::POST,
            products.clone(),
            json!({ "sku": "B", "title": 7 }),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_body",
            Some("title"),
        ),
        (
            Method::POST,
            products.clone(),
            json!({ "sku": "", "title": "empty" }),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_sku",
            Some("sku"),
        ),
        (
            Method::POST,
            products.clone(),
            json!({ "sku": long_sku, "title": "long" }),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_sku",
            Some("sku"),
        ),
        (
            Method::POST,
            products.clone(),
            json!({ "sku": "B\u{7}", "title": "bell" }),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_sku",
            Some("sku"),
        ),
        (
            Method::POST,
            products.clone(),
            json!({ "sku": "B", "title": "B", "weight_g": -5 }),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_weight",
            Some("weight_g"),
        ),
        (
            Method::POST,
            products.clone(),
            json!({ "sku": "B", "title": "B", "price": { "amount": 100, "currency": "pounds" } }),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_currency",
            Some("price.currency"),
        ),
        (
            Method::POST,
            products.clone(),
            json!({ "sku": "B", "title": "B", "components": [{ "sku": "B", "quantity": 1 }] }),
            StatusCode::UNPROCESSABLE_ENTITY,
            "kit_cycle",
            Some("components[0].sku"),
        ),
        (
            Method::POST,
            products.clone(),
            json!({ "sku": "B", "title": "B", "components": [{ "sku": "KIT", "quantity": 1 }] }),
            StatusCode::UNPROCESSABLE_ENTITY,
            "kit_of_kits",
            Some("components[0].sku"),
        ),
        (
            Method::POST,
            products.clone(),
            json!({ "sku": "B", "title": "B", "components": [{ "sku": "GHOST", "quantity": 1 }] }),
            StatusCode::UNPROCESSABLE_ENTITY,
            "component_not_found",
            Some("components[0].sku"),
        ),
        (
            Method::POST,
            products.clone(),
            json!({ "sku": "B", "title": "B", "components": [{ "sku": "A", "quantity": 0 }] }),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_quantity",
            Some("components[0].quantity"),
        ),
        (
            Method::POST,
            products.clone(),
            json!({ "sku": "A", "title": "again" }),
            StatusCode::CONFLICT,
            "sku_taken",
            Some("sku"),
        ),
        (
            Method::PATCH,
            format!("{products}/A"),
            json!({ "components": [{ "sku": "KIT", "quantity": 1 }] }),
            StatusCode::UNPROCESSABLE_ENTITY,
            "kit_of_kits",
            Some("components"),
        ),
        (
            Method::PUT,
            stock_a.clone(),
            json!({ "quantity": -1 }),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_quantity",
            Some("quantity"),
        ),
        (
            Method::PUT,
            stock_a.clone(),
            json!({ "quantity": 1_000_000_001i64 }),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_quantity",
            Some("quantity"),
        ),
        (
            Method::PUT,
            stock_a.clone(),
            json!({ "quantity": 1e30 }),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_body",
            Some("quantity"),
        ),
        (
            Method::PUT,
            stock_a.clone(),
            json!({ "quantity": "5" }),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_body",
            Some("quantity"),
        ),
        (
            Method::PUT,
            stock_a.clone(),
            json!({}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_body",
            None,
        ),
        (
            Method::PUT,
            format!("/v1/stores/{s}/stock/KIT"),
            json!({ "quantity": 1 }),
            StatusCode::UNPROCESSABLE_ENTITY,
            "kit_has_no_stock",
            Some("sku"),
        ),
        (
            Method::PUT,
            format!("/v1/stores/{s}/stock/{}", "Y".repeat(129)),
            json!({ "quantity": 1 }),
            StatusCode::BAD_REQUEST,
            "invalid_sku",
            Some("sku"),
        ),
        (
            Method::POST,
            format!("{stock_a}/adjust"),
            json!({ "delta": -1 }),
            StatusCode::CONFLICT,
            "negative_stock",
            Some("delta"),
        ),
        (
            Method::POST,
            format!("{stock_a}/adjust"),
            json!({ "delta": 0 }),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_quantity",
            Some("delta"),
        ),
        (
            Method::POST,
            bulk.clone(),
            json!({ "items": too_many }),
            StatusCode::UNPROCESSABLE_ENTITY,
            "too_many_items",
            Some("items"),
        ),
        (
            Method::POST,
            bulk.clone(),
            json!({ "items": [] }),
            StatusCode::UNPROCESSABLE_ENTITY,
            "too_many_items",
            Some("items"),
        ),
        (
            Method::POST,
            bulk.clone(),
            json!({ "items": [{ "sku": "A", "quantity": 5 }, { "sku": "NOPE", "quantity": 1 }] }),
            StatusCode::UNPROCESSABLE_ENTITY,
            "unknown_sku",
            Some("items[1].sku"),
        ),
        (
            Method::POST,
            bulk.clone(),
            json!({ "items": [{ "sku": "A", "quantity": 5 }, { "sku": "A", "quantity": 1, "delta": 1 }] }),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_item",
            Some("items[1].quantity"),
        ),
        (
            Method::POST,
            bulk.clone(),
            json!({ "items": [{ "sku": "A", "quantity": 5 }, { "sku": "A", "quantity": 2000000000i64 }] }),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_quantity",
            Some("items[1].quantity"),
        ),
        (
            Method::POST,
            format!("/v1/stores/{s}/channels"),
            json!({ "name": "X", "kind": "myspace" }),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_channel_kind",
            Some("kind"),
        ),
        (
            Method::POST,
            format!("/v1/stores/{s}/channels"),
            json!({ "name": "X", "kind": "shopify", "stock_rules": { "percentage": 150 } }),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_stock_rule",
            Some("stock_rules.percentage"),
        ),
        (
            Method::POST,
            format!("/v1/stores/{s}/channels"),
            json!({ "name": "X", "kind": "shopify", "credentials": "hunter2" }),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_credentials",
            Some("credentials"),
        ),
        (
            Method::POST,
            format!("/v1/stores/{s}/channels"),
            json!({ "name": "X", "kind": "shopify", "base_url": "ftp://x" }),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_url",
            Some("base_url"),
        ),
        (
            Method::PATCH,
            format!("/v1/stores/{s}"),
            json!({ "name": "" }),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_text",
            Some("name"),
        ),
    ];
    for (method, path, body, status, code, field) in cases {
        let r = app.request(&t, method.clone(), &path, Some(&body)).await;
        let label = format!(
            "{method} {path} {}",
            body.to_string().chars().take(120).collect::<String>()
        );
        assert_eq!(r.status, status, "{label}: {:?}", r.body);
        assert_eq!(r.body["error"]["code"], code, "{label}: {:?}", r.body);
        assert!(
            r.body["error"]["message"]
                .as_str()
                .is_some_and(|m| !m.is_empty()),
            "{label}"
        );
        if let Some(f) = field {
            assert_eq!(r.body["error"]["field"], f, "{label}: {:?}", r.body);
        }
    }

    // Raw bodies: malformed JSON, wrong content type, oversize.
    let r = app
        .raw(
            &t,
            Method::POST,
            &products,
            "application/json",
            b"{\"sku\": \"B\",".to_vec(),
        )
        .await;
    assert_eq!(
        (r.status, r.body["error"]["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("malformed_json"))
    );
    let r = app
        .raw(&t, Method::POST, &products, "text/plain", b"sku=B".to_vec())
        .await;
    assert_eq!(
        (r.status, r.body["error"]["code"].as_str()),
        (
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Some("unsupported_media_type")
        )
    );
    let huge = format!(
        "{{\"sku\":\"B\",\"title\":\"{}\"}}",
        "x".repeat(5 * 1024 * 1024)
    );
    let r = app
        .raw(
            &t,
            Method::POST,
            &products,
            "application/json",
            huge.into_bytes(),
        )
        .await;
    assert_eq!(
        (r.status, r.body["error"]["code"].as_str()),
        (StatusCode::PAYLOAD_TOO_LARGE, Some("payload_too_large"))
    );

    // Query strings: bad cursors and limits.
    for q in [
        "cursor=not-a-cursor",
        "cursor=djE6",
        "limit=0",
        "limit=lots",
    ] {
        let r = app.get(&t, &format!("{products}?{q}")).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{q}: {:?}", r.body);
        assert!(
            r.body["error"]["code"]
                .as_str()
                .is_some_and(|c| c.starts_with("invalid_")),
            "{q}"
        );
    }
    let r = app
        .get(&t, &format!("/v1/stores/{s}/journal?after=-1"))
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    // The document says 1 to 1000, and so does the server.
    let r = app.get(&t, &format!("{products}?limit=5000")).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.body);
    assert_eq!(r.body["error"]["field"], "limit");
    let r = app.get(&t, "/v1/orders?limit=4294967296").await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.body);
    let r = app.get(&t, &format!("{products}?limit=1000")).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    // A field that cannot be null says so, rather than keeping its value.
    let r = app
        .patch(
            &t,
            &format!("{products}/A"),
            &serde_json::json!({ "title": null }),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    assert_eq!(r.body["error"]["field"], "title", "{}", r.body);
    // A very long request target: 414, in the envelope.
    let long = format!("{products}?q={}", "x".repeat(10_000));
    let r = app.get(&t, &long).await;
    assert_eq!(r.status, StatusCode::URI_TOO_LONG, "{}", r.body);
    assert_eq!(r.body["error"]["code"], "uri_too_long", "{}", r.body);
    // The rule, once for every list: unknown query parameters are ignored.
    let r = app
        .get(&t, &format!("{products}?limit=2&colour=blue"))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let r = app
        .get(&t, &format!("/v1/stores/{s}/stock?newer_filter=1"))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);

    // Unknown routes and methods answer JSON too.
    let r = app.get(&t, "/v1/nope").await;
    assert_eq!(
        (r.status, r.body["error"]["code"].as_str()),
        (StatusCode::NOT_FOUND, Some("not_found"))
    );
    let r = app
        .request(&t, Method::DELETE, &format!("/v1/stores/{s}/journal"), None)
        .await;
    assert_eq!(
        (r.status, r.body["error"]["code"].as_str()),
        (StatusCode::METHOD_NOT_ALLOWED, Some("method_not_allowed"))
    );
    let r = app.get(&t, "/v1/stores/st_garbage").await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);

    assert_eq!(
        app.journal_len(&t, &s).await,
        j0,
        "no rejected request wrote anything"
    );
    let a = app.get(&t, &stock_a).await;
    assert_eq!(
        a.body["on_hand"], 0,
        "the valid first item of a failed bulk call was rolled back"
    );
}

/// A body is one JSON value: data after it is refused, not ignored. A body
/// of the wrong shape names its field in a client's words, never a Rust
/// type's name. A SKU no URL can address is refused at creation.
#[tokio::test]
async fn json_bodies_are_one_value_and_errors_speak_the_clients_language() {
    let app = spawn_app().await;
    let t = app.tenant("acme").await;
    let s = app.store(&t, "shop").await;
    let products = format!("/v1/stores/{s}/products");
    let j0 = app.journal_len(&t, &s).await;
    for body in [
        &br#"{"sku":"A","title":"x"} garbage"#[..],
        br#"{"sku":"A","title":"x"}{"sku":"B","title":"y"}"#,
        br#"{"sku":"A","title":"x"} 7"#,
    ] {
        let r = app
            .raw(
                &t,
                Method::POST,
                &products,
                "application/json",
                body.to_vec(),
            )
            .await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.body);
        assert_eq!(r.body["error"]["code"], "malformed_json");
        assert!(
            r.body["error"]["message"]
                .as_str()
                .unwrap()
                .contains("data after its JSON value"),
            "{}",
            r.body
        );
    }
    // Whitespace after the value is fine.
    let r = app
        .raw(
            &t,
            Method::POST,
            &products,
            "application/json",
            b"{\"sku\":\"A\",\"title\":\"x\"}\n  ".to_vec(),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let j1 = app.journal_len(&t, &s).await;
    assert_eq!(j1, j0 + 1, "only the well-formed body wrote anything");

    // (body, field, words that must appear)
    let cases = [
        (json!({ "title": "no sku" }), "sku", "missing field `sku`"),
        (
            json!({ "sku": "B", "title": "x", "weight_g": "heavy" }),
            "weight_g",
            "expected",
        ),
        (
            json!({ "sku": "B", "title": "x", "weight_g": 1.5 }),
            "weight_g",
            "number `1.5`",
        ),
        (json!("a string"), "", "expected an object"),
    ];
    for (body, field, words) in cases {
        let r = app.post(&t, &products, &body).await;
        assert_eq!(
            r.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{body}: {}",
            r.body
        );
        let msg = r.body["error"]["message"].as_str().unwrap();
        assert!(msg.contains(words), "{body}: {msg}");
        for rust in [
            "struct ",
            "ProductIn",
            "u32",
            "u64",
            "i64",
            "floating point",
        ] {
            assert!(!msg.contains(rust), "{body}: `{rust}` in {msg}");
        }
        if !field.is_empty() {
            assert_eq!(r.body["error"]["field"], field, "{body}: {}", r.body);
        }
    }
    let dup = app
        .raw(
            &t,
            Method::POST,
            &products,
            "application/json",
            br#"{"sku":"C","title":"x","title":"y"}"#.to_vec(),
        )
        .await;
    assert_eq!(dup.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", dup.body);
    assert_eq!(dup.body["error"]["field"], "title", "{}", dup.body);

    for sku in [".", ".."] {
        let r = app
            .post(&t, &products, &json!({ "sku": sku, "title": "dots" }))
            .await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
        assert_eq!(r.body["error"]["code"], "invalid_sku");
        assert_eq!(r.body["error"]["field"], "sku");
    }
    assert_eq!(
        app.journal_len(&t, &s).await,
        j1,
        "no refused body wrote anything"
    );
}

/// A channel's settings are merged into its current ones; `null` is not
/// a value any setting takes, so it is refused naming the setting, and
/// nothing changes.
#[tokio::test]
async fn null_in_channel_settings_is_refused_naming_the_setting() {
    let app = spawn_app().await;
    let t = app.tenant("acme").await;
    let s = app.store(&t, "shop").await;
    let r = app
        .post(
            &t,
            &format!("/v1/stores/{s}/channels"),
            &json!({ "name": "Shop", "kind": "shopify", "settings": { "cadence_secs": null } }),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    assert_eq!(r.body["error"]["field"], "settings.cadence_secs");
    let r = app
        .post(
            &t,
            &format!("/v1/stores/{s}/channels"),
            &json!({ "name": "Shop", "kind": "shopify", "settings": { "cadence_secs": 600 } }),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let ch = format!("/v1/stores/{s}/channels/{}", r.body["id"].as_str().unwrap());
    let r = app
        .patch(
            &t,
            &ch,
            &json!({ "settings": { "order_filters": { "skus_deny": null } } }),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    assert_eq!(r.body["error"]["field"], "settings.order_filters.skus_deny");
    let now = app.get(&t, &ch).await;
    assert_eq!(now.body["settings"]["cadence_secs"], 600, "{}", now.body);
}
