//! Switchyard against real commerce platforms (Vendure, Medusa) running
//! on loopback: each platform is installed from the npm registry into a
//! cache directory outside the checkout, started once per test run, set up
//! as a merchant would, and sold to through its own storefront API. Every
//! check goes through Switchyard's API or the platform's own API; every
//! wait is a bounded poll.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests: a failed step should stop the test loudly"
)]

mod faults;
mod fixture;
mod medusa;
mod scenario;
mod vendure;

use std::time::Duration;

use serde_json::{Value, json};
use switchyard_sim::{Channel, RunningSim, SimOptions};
use switchyard_testkit::{Tenant, TestApp, eventually};

/// Worker settings: the tests' quick ones, with more patience per request
/// (a real platform on a busy 2-core machine answers slower than a simulator).
pub fn engine_config() -> switchyard::EngineConfig {
    let mut c = switchyard_testkit::engine_config();
    c.http.request_timeout = Duration::from_secs(15);
    c
}

/// A store of a fresh tenant, with helpers over Switchyard's API.
#[derive(Debug)]
pub struct Store {
    pub app: TestApp,
    pub t: Tenant,
    pub id: String,
}

impl Store {
    /// A store holding `skus`, `stock` units of each.
    pub async fn new(app: TestApp, skus: &[&str], stock: i64) -> Self {
        let t = app.tenant("acme").await;
        let id = app.store(&t, "Acme").await;
        for sku in skus {
            app.product(&t, &id, sku).await;
        }
        let items: Vec<Value> = skus
            .iter()
            .map(|s| json!({ "sku": s, "quantity": stock }))
            .collect();
        let r = app
            .post(
                &t,
                &format!("/v1/stores/{id}/stock"),
                &json!({ "items": items }),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
        Self { app, t, id }
    }

    /// Connect a channel; returns its id.
    pub async fn channel(
        &self,
        kind: &str,
        base_url: &str,
        credentials: Value,
        settings: Value,
    ) -> String {
        self.app
            .channel(&self.t, &self.id, kind, base_url, credentials, &settings)
            .await
    }

    /// Orders of one channel.
    pub async fn orders(&self, channel: &str) -> Vec<Value> {
        let r = self
            .app
            .get(
                &self.t,
                &format!("/v1/orders?channel_id={channel}&limit=1000"),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
        r.body["items"].as_array().unwrap().clone()
    }

    /// Wait until the channel's order `channel_order_id` is imported; returns it.
    pub async fn order_for(&self, channel: &str, channel_order_id: &str) -> Value {
        eventually(
            &format!("order {channel_order_id} imported"),
            60,
            || async {
                self.orders(channel)
                    .await
                    .iter()
                    .any(|o| o["channel_order_id"] == channel_order_id)
            },
        )
        .await;
        let o = self
            .orders(channel)
            .await
            .into_iter()
            .find(|o| o["channel_order_id"] == channel_order_id)
            .unwrap();
        self.get_order(o["id"].as_str().unwrap()).await
    }

    pub async fn get_order(&self, id: &str) -> Value {
        self.app.get_order(&self.t, id).await
    }

    /// Wait until the order's back-office copy is in `state`; returns the order.
    /// On a timeout it says where the copy stood (state, attempts, error).
    pub async fn back_office_state(&self, id: &str, state: &str) -> Value {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
        loop {
            let order = self.get_order(id).await;
            if order["back_office"]["state"] == state {
                // An order's answer is read in parts (order, fulfilments,
                // back office): the part read first may predate the step the
                // back office shows, so what the step did is read afresh.
                return self.get_order(id).await;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "timed out after 60 s waiting for the back office of {id} to be {state}; it is {} (order {})",
                order["back_office"],
                order["state"],
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Record a shipment through the API; returns the fulfilment once synced.
    pub async fn ship(&self, order: &str, body: Value) -> Value {
        let r = self
            .app
            .post(&self.t, &format!("/v1/orders/{order}/fulfilments"), &body)
            .await;
        assert_eq!(r.status, 201, "{}", r.body);
        let id = r.body["id"].as_str().unwrap();
        self.app.wait_synced(&self.t, id, 60).await
    }
}

/// A channel simulator (seed 11: SKU-00001 … SKU-00012, as the platform
/// fixtures seed them).
pub async fn simulator(channel: Channel) -> RunningSim {
    switchyard_sim::spawn(
        channel,
        &SimOptions {
            seed: 11,
            products: 12,
            orders: 0,
            ..SimOptions::default()
        },
    )
    .await
    .unwrap()
}

/// Wait until `read` gives `want` for every key of `want`.
pub async fn until_stock<F, Fut>(what: &str, want: &[(&str, i64)], mut read: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = std::collections::BTreeMap<String, i64>>,
{
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        let got = read().await;
        if want.iter().all(|(s, q)| got.get(*s) == Some(q)) {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{what} never showed {want:?}; last {got:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The tracking numbers Shopify (simulated) holds for an order, as text.
pub async fn shopify_tracking(shopify: &RunningSim, order: &str) -> String {
    let r: Value = reqwest::Client::new()
        .post(format!("{}/admin/api/2025-01/graphql.json", shopify.base_url()))
        .header("X-Shopify-Access-Token", shopify.credentials["access_token"].as_str().unwrap())
        .json(&json!({
            "query": "query($id: ID!) { order(id: $id) { fulfillments { trackingInfo { number company } } } }",
            "variables": { "id": format!("gid://shopify/Order/{order}") }
        }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    r["data"]["order"]["fulfillments"].to_string()
}

/// Cancel an order on a simulated marketplace, as the buyer or seller would there.
pub async fn cancel_on_sim(sim: &RunningSim, order: &str) {
    let r = reqwest::Client::new()
        .post(format!("{}/_sim/orders/{order}/cancel", sim.base_url()))
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "cancel {order}: {}", r.status());
}
