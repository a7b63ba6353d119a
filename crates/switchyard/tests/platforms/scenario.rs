//! What the Vendure and Medusa tests share: the platform as the scenarios
//! see it ([`Shop`]), a store with the platform as its back office, and the
//! run behind the fault proxy.

use axum::http::Method;
use serde_json::{Value, json};
use switchyard::Clock;
use switchyard_sim::{Channel, RunningSim};
use switchyard_testkit::spawn_app_with;

use crate::faults::{Fault, FaultProxy};
use crate::fixture::Platform;
use crate::{Store, engine_config, simulator};

/// A platform under test.
pub trait Shop {
    /// Its channel kind.
    const KIND: &'static str;
    /// The running server.
    fn platform(&self) -> &Platform;
    /// The channel credentials Switchyard connects with.
    fn credentials(&self) -> Value;
    /// Buy one `sku` as a customer and pay; the platform's order id.
    async fn buy(&self, sku: &str, email: &str) -> String;
    /// How many live shipments the platform holds for an order, whether
    /// it shows the order as shipped, and the order as it answered.
    async fn shipments(&self, order: &str) -> (usize, bool, Value);
    /// Whether a proxied request is the connector listing orders.
    fn order_list(method: &Method, path: &str, body: &[u8]) -> bool;
    /// Whether a proxied request is the connector creating a shipment.
    fn fulfilment_create(method: &Method, path: &str, body: &[u8]) -> bool;
}

/// A store (with `skus`, 10 of each) whose back office is the platform, and
/// a Shopify simulator whose orders it receives; its workers run on `clock`.
pub struct BackOfficeWorld {
    pub s: Store,
    pub shopify: RunningSim,
    pub shopify_ch: String,
    /// The platform's channel.
    pub channel: String,
}

pub async fn back_office_world<S: Shop>(shop: &S, skus: &[&str], clock: &Clock) -> BackOfficeWorld {
    let app = spawn_app_with(switchyard::EngineConfig {
        clock: clock.clone(),
        ..engine_config()
    })
    .await;
    let s = Store::new(app, skus, 10).await;
    let shopify = simulator(Channel::Shopify).await;
    let shopify_ch = s
        .channel(
            "shopify",
            &shopify.base_url(),
            json!({ "access_token": shopify.credentials["access_token"],
                    "api_secret_key": shopify.credentials["api_secret_key"] }),
            json!({ "cadence_secs": 10 }),
        )
        .await;
    // The back office only: the channel test's store owns the platform's stock.
    let channel = s
        .channel(
            S::KIND,
            &shop.platform().base,
            shop.credentials(),
            json!({ "cadence_secs": 10, "auto_sync_stock": false }),
        )
        .await;
    let r = s
        .app
        .put(
            &s.t,
            &format!("/v1/stores/{}/back-office", s.id),
            &json!({ "channel_id": channel }),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    BackOfficeWorld {
        s,
        shopify,
        shopify_ch,
        channel,
    }
}

/// Order lists fail (503, 429 with `Retry-After`, a garbled body, 503) and
/// the answer to a shipment's creation is lost after the platform made it:
/// the order is imported once and the platform holds one shipment.
pub async fn errors_and_lost_answers<S: Shop + 'static>(shop: &S) {
    let proxy = FaultProxy::start(&shop.platform().base).await;
    let s = Store::new(spawn_app_with(engine_config()).await, &["SKU-00005-L"], 10).await;
    let ch = s
        .channel(
            S::KIND,
            &proxy.url,
            shop.credentials(),
            json!({ "cadence_secs": 10, "auto_sync_stock": false }),
        )
        .await;
    for f in [
        Fault::Unavailable,
        Fault::TooMany,
        Fault::Garbled,
        Fault::Unavailable,
    ] {
        proxy.next(f, S::order_list);
    }
    let id = shop.buy("SKU-00005-L", "dee@example.com").await;
    let order = s.order_for(&ch, &id).await;

    // The fulfilment is created but its answer is lost: the retry finds it.
    proxy.next(Fault::LoseAnswer, S::fulfilment_create);
    s.ship(
        order["id"].as_str().unwrap(),
        json!({ "tracking": [{ "number": "JJD000390007770003" }] }),
    )
    .await;
    let (n, shipped, there) = shop.shipments(&id).await;
    assert_eq!(n, 1, "{there}");
    assert!(shipped, "{there}");
    assert_eq!(
        proxy.applied(),
        [
            Fault::Unavailable,
            Fault::TooMany,
            Fault::Garbled,
            Fault::Unavailable,
            Fault::LoseAnswer
        ]
    );
    let n = s
        .orders(&ch)
        .await
        .iter()
        .filter(|o| o["channel_order_id"] == id.as_str())
        .count();
    assert_eq!(n, 1);
}
