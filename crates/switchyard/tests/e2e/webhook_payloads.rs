//! Webhook payloads as of their event: however late the workers get to a
//! journal event, the message describes the product, order, fulfilment or
//! listing as the event's transaction left it, not as it is at delivery.

use serde_json::{Value, json};
use switchyard::Clock;
use switchyard_testkit::receiver::Receiver;
use switchyard_testkit::{Tenant, TestApp};

use crate::loopback_allowed;
use crate::webhooks::subscribe;

/// A webhook describes the product as of its event, however late the
/// workers get to it: `product.created` without the stock set afterwards,
/// and the `product.updated` of each stock change showing that change's
/// figures (7, then 3), not what the stock is at delivery.
#[tokio::test]
async fn product_payloads_describe_the_product_as_of_each_event() {
    // The API alone: the events wait in the journal until the workers
    // below start, after every change was made.
    let app = switchyard_testkit::spawn_api_only().await;
    let t = app.tenant("acme").await;
    let store = app.store(&t, "Shop").await;
    let rx = Receiver::start().await;
    subscribe(
        &app,
        &t,
        &store,
        &rx.url,
        json!(["product.created", "product.updated"]),
    )
    .await;
    app.product(&t, &store, "MUG").await;
    for qty in [7, 3] {
        let r = app
            .put(
                &t,
                &format!("/v1/stores/{store}/stock/MUG"),
                &json!({ "quantity": qty }),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
    }
    let (messages, succeeded) = dispatch_and_deliver_once(&app).await;
    assert_eq!((messages, succeeded), (3, 3));
    let got = rx
        .wait_for("three product events", 10, |g| g.len() >= 3)
        .await;
    let mut stock: Vec<(String, Value)> = got
        .iter()
        .map(|r| (r.event_type(), r.json()["data"]["stock"].clone()))
        .collect();
    // Delivered side by side: compare in the order of the events.
    stock.sort_by_key(|(t, s)| (t != "product.created", -s["on_hand"].as_i64().unwrap_or(0)));
    assert_eq!(
        stock,
        vec![
            (
                "product.created".to_owned(),
                json!({ "on_hand": 0, "committed": 0, "available": 0 })
            ),
            (
                "product.updated".to_owned(),
                json!({ "on_hand": 7, "committed": 0, "available": 7 })
            ),
            (
                "product.updated".to_owned(),
                json!({ "on_hand": 3, "committed": 0, "available": 3 })
            ),
        ],
        "{got:#?}"
    );
    assert!(
        got.iter().all(|r| r.json()["data"]["sku"] == "MUG"),
        "{got:#?}"
    );
}

/// Workers started on an API-only app's database after its changes were
/// made: one dispatch round and one delivery round. Returns the messages
/// made and the deliveries that succeeded.
async fn dispatch_and_deliver_once(app: &TestApp) -> (usize, usize) {
    let cipher = switchyard_storage::crypto::CredentialCipher::load_or_create(
        &app.data_dir.path().join("secret.key"),
    )
    .unwrap();
    let clock = Clock::default();
    let engine = switchyard::Engine::new(
        app.storage.clone(),
        cipher,
        loopback_allowed(&clock),
        std::sync::Arc::new(tokio::sync::Notify::new()),
    );
    let messages = engine.webhook_dispatch().step(clock.now()).await.unwrap();
    let sent = engine.webhook_delivery().step(clock.now()).await.unwrap();
    (messages, sent.succeeded)
}

/// An API-only app, so that events wait in the journal until a test runs
/// the workers: a store with the product MUG and a Shopify channel, and a
/// receiver subscribed to `events`.
struct Shop {
    app: TestApp,
    t: Tenant,
    store: String,
    channel: switchyard_storage::ChannelRef,
    rx: Receiver,
}

async fn shop(events: Value) -> Shop {
    let app = switchyard_testkit::spawn_api_only().await;
    let t = app.tenant("acme").await;
    let store = app.store(&t, "Shop").await;
    app.product(&t, &store, "MUG").await;
    let ch = app
        .post(
            &t,
            &format!("/v1/stores/{store}/channels"),
            &json!({ "name": "Shop", "kind": "shopify", "credentials": { "access_token": "x" } }),
        )
        .await;
    assert_eq!(ch.status, 201, "{}", ch.body);
    let rx = Receiver::start().await;
    subscribe(&app, &t, &store, &rx.url, events).await;
    let account = app.storage.ensure_account("acme").await.unwrap().id;
    let channel = switchyard_storage::ChannelRef {
        account_id: account,
        store_id: store.parse().unwrap(),
        channel_id: ch.body["id"].as_str().unwrap().parse().unwrap(),
    };
    Shop {
        app,
        t,
        store,
        channel,
        rx,
    }
}

/// Order and fulfilment events are delivered with the entity as the event
/// left it: an order created, held, released and shipped before any
/// delivery is sent open and unshipped for `order.created`, held for
/// `order.on_hold`, and with its shipment only once it has one.
#[tokio::test]
async fn order_payloads_describe_the_order_as_of_each_event() {
    let Shop {
        app,
        t,
        channel,
        rx,
        ..
    } = shop(json!([
        "order.created",
        "order.on_hold",
        "order.updated",
        "fulfilment.created"
    ]))
    .await;
    // An order as the import stores it.
    let order = app
        .storage
        .upsert_order(
            &channel.account_id,
            &channel.store_id,
            switchyard_storage::NewOrder {
                channel_id: channel.channel_id.clone(),
                channel_order_id: "1001".into(),
                state: switchyard_domain::order::OrderState::Open,
                lines: vec![switchyard_storage::NewOrderLine {
                    sku: switchyard_domain::values::Sku::parse("MUG").unwrap(),
                    open_quantity: 1,
                }],
            },
        )
        .await
        .unwrap();
    let id = order.id.to_string();
    for (action, body) in [
        ("hold", json!({ "reason": "address check" })),
        ("release", json!({})),
    ] {
        let r = app
            .post(&t, &format!("/v1/orders/{id}/{action}"), &body)
            .await;
        assert_eq!(r.status, 200, "{action}: {}", r.body);
    }
    let f = app
        .post(
            &t,
            &format!("/v1/orders/{id}/fulfilments"),
            &json!({ "tracking": [{ "number": "1Z999AA10123456784" }] }),
        )
        .await;
    assert_eq!(f.status, 201, "{}", f.body);
    let (messages, _) = dispatch_and_deliver_once(&app).await;
    assert!(messages >= 4, "{messages}");
    let got = rx
        .wait_for("the order's events", 10, |g| g.len() >= messages)
        .await;
    let of = |kind: &str| -> Vec<Value> {
        got.iter()
            .filter(|r| r.event_type() == kind)
            .map(|r| r.json()["data"].clone())
            .collect()
    };
    let created = of("order.created");
    assert_eq!(created.len(), 1, "{got:#?}");
    assert_eq!(created[0]["id"], id.as_str());
    assert_eq!(created[0]["state"], "open", "{}", created[0]);
    assert!(created[0]["hold_reason"].is_null(), "{}", created[0]);
    assert_eq!(created[0]["fulfilments"], json!([]), "{}", created[0]);
    let held = of("order.on_hold");
    assert_eq!(held.len(), 1, "{got:#?}");
    assert_eq!(held[0]["state"], "on_hold", "{}", held[0]);
    assert_eq!(held[0]["hold_reason"], "address check");
    assert_eq!(held[0]["fulfilments"], json!([]), "{}", held[0]);
    let shipped = of("fulfilment.created");
    assert_eq!(shipped.len(), 1, "{got:#?}");
    assert_eq!(shipped[0]["tracking"][0]["number"], "1Z999AA10123456784");
    // The order's last update is the one that shipped it.
    let updates = of("order.updated");
    assert!(
        updates
            .iter()
            .any(|u| u["fulfilments"].as_array().is_some_and(|f| f.len() == 1)),
        "{updates:#?}"
    );
    assert!(
        updates
            .iter()
            .any(|u| u["state"] == "open" && u["fulfilments"] == json!([])),
        "the release, before the shipment: {updates:#?}"
    );
}

/// Listing events are delivered with the listing as the download left it:
/// a listing seen, then renamed, before any delivery is sent under its
/// first title for `channel_product.created` and its second for
/// `channel_product.updated`.
#[tokio::test]
async fn listing_payloads_describe_the_listing_as_of_each_event() {
    let Shop {
        app,
        t,
        store,
        channel,
        rx,
    } = shop(json!([
        "channel_product.created",
        "channel_product.updated"
    ]))
    .await;
    for title in ["Mug", "Blue mug"] {
        let listing = switchyard_storage::NewListing {
            listing_id: "gid://shopify/ProductVariant/1".into(),
            channel_sku: Some("MUG".into()),
            title: title.into(),
            price: Some(1250),
            quantity: Some(3),
            raw: json!({}),
        };
        let report = app
            .storage
            .upsert_listings(&channel, vec![listing], false)
            .await
            .unwrap();
        assert_eq!(report.listings, 1);
    }
    let (messages, _) = dispatch_and_deliver_once(&app).await;
    assert_eq!(messages, 2);
    let got = rx
        .wait_for("the listing's events", 10, |g| g.len() >= 2)
        .await;
    let of = |kind: &str| -> Value {
        got.iter()
            .find(|r| r.event_type() == kind)
            .map(|r| r.json()["data"].clone())
            .unwrap_or_else(|| panic!("no {kind} in {got:#?}"))
    };
    let created = of("channel_product.created");
    assert_eq!(created["title"], "Mug", "{created}");
    assert_eq!(created["sku"], "MUG", "{created}");
    assert_eq!(created["channel_quantity"], 3, "{created}");
    let updated = of("channel_product.updated");
    assert_eq!(updated["title"], "Blue mug", "{updated}");
    // The journal keeps what was delivered.
    let journal = app
        .get(&t, &format!("/v1/stores/{store}/journal?limit=1000"))
        .await;
    let listing_events: Vec<&Value> = journal.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["entity_type"] == "listing")
        .collect();
    assert_eq!(listing_events.len(), 2, "{}", journal.body);
    assert_eq!(listing_events[0]["payload"]["listings"][0]["title"], "Mug");
}
