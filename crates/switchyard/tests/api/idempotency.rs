use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use switchyard_testkit::{Resp, Tenant, TestApp, spawn_app};

async fn post_with_key(app: &TestApp, t: &Tenant, path: &str, key: &str, body: &Value) -> Resp {
    app.request_with_headers(
        t,
        Method::POST,
        path,
        &[("Idempotency-Key", key)],
        Some(body),
    )
    .await
}

#[tokio::test]
async fn the_same_key_and_body_replays_the_first_response_without_acting_twice() {
    let app = spawn_app().await;
    let t = app.tenant("acme").await;
    let a = post_with_key(
        &app,
        &t,
        "/v1/stores",
        "create-shop-1",
        &json!({ "name": "Shop" }),
    )
    .await;
    assert_eq!(a.status, StatusCode::CREATED);
    let b = post_with_key(
        &app,
        &t,
        "/v1/stores",
        "create-shop-1",
        &json!({ "name": "Shop" }),
    )
    .await;
    assert_eq!(b.status, StatusCode::CREATED);
    assert_eq!(a.body, b.body);
    assert_eq!(
        b.headers
            .get("idempotent-replayed")
            .map(|v| v.to_str().unwrap()),
        Some("true")
    );
    let list = app.get(&t, "/v1/stores").await;
    assert_eq!(
        list.body["items"].as_array().unwrap().len(),
        1,
        "the store was created once"
    );

    let c = post_with_key(
        &app,
        &t,
        "/v1/stores",
        "create-shop-1",
        &json!({ "name": "Other" }),
    )
    .await;
    assert_eq!(
        (c.status, c.body["error"]["code"].as_str()),
        (StatusCode::CONFLICT, Some("idempotency_key_reused"))
    );

    // Keys belong to accounts: another account's identical key runs anew.
    let other = app.tenant("globex").await;
    let d = post_with_key(
        &app,
        &other,
        "/v1/stores",
        "create-shop-1",
        &json!({ "name": "Shop" }),
    )
    .await;
    assert_eq!(d.status, StatusCode::CREATED);
    assert_ne!(d.body["id"], a.body["id"]);
}

#[tokio::test]
async fn an_adjustment_retried_with_its_key_is_applied_once() {
    let app = spawn_app().await;
    let t = app.tenant("acme").await;
    let s = app.store(&t, "shop").await;
    app.product(&t, &s, "A").await;
    for _ in 0..3 {
        let r = post_with_key(
            &app,
            &t,
            &format!("/v1/stores/{s}/stock/A/adjust"),
            "restock-42",
            &json!({ "delta": 5 }),
        )
        .await;
        assert_eq!(r.status, StatusCode::OK);
    }
    let r = app.get(&t, &format!("/v1/stores/{s}/stock/A")).await;
    assert_eq!(r.body["on_hand"], 5);
    // Error responses are replayed too (they changed nothing and will not).
    let bad = post_with_key(
        &app,
        &t,
        &format!("/v1/stores/{s}/stock/A/adjust"),
        "oops",
        &json!({ "delta": -50 }),
    )
    .await;
    assert_eq!(bad.status, StatusCode::CONFLICT);
    let again = post_with_key(
        &app,
        &t,
        &format!("/v1/stores/{s}/stock/A/adjust"),
        "oops",
        &json!({ "delta": -50 }),
    )
    .await;
    assert_eq!(
        (again.status, again.body.clone()),
        (StatusCode::CONFLICT, bad.body)
    );
}
