//! The core loop end to end: the real server with its workers, a Shopify
//! and a WooCommerce simulator on loopback sharing a catalogue (one SKU is
//! a kit in the store), orders placed as customers would. Every wait is a
//! bounded poll for a condition, never a fixed sleep.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests: a failed step should stop the test loudly"
)]

mod accounting;
mod back_office;
mod bench;
mod catalogue_later;
mod core_loop;
mod crash;
mod database_restart;
mod examples;
mod fulfilment;
mod instances;
mod invoices;
mod migrate_data;
mod more_channels;
mod operations;
mod plugin_rules;
mod plugins;
mod polling;
mod retention;
mod webhook_payloads;
mod webhooks;

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::{Value, json};
use switchyard::EngineConfig;
use switchyard_sim::{Channel, Faults, RunningSim, SimOptions};
use switchyard_testkit::{Tenant, TestApp, spawn_app_with};
pub use switchyard_testkit::{engine_config, eventually};

/// The kit of the store: one `SKU-00001` and two `SKU-00002`, sold on both
/// channels as `SKU-00003`.
pub const KIT: &str = "SKU-00003";
/// Units of every plain SKU at the start.
pub const START: i64 = 10;

/// [`engine_config`] (workers that may reach 127.0.0.1, where receivers and
/// the simulated 3PL listen, and nothing else that is not public) on `clock`.
pub fn loopback_allowed(clock: &switchyard::Clock) -> EngineConfig {
    EngineConfig {
        clock: clock.clone(),
        ..engine_config()
    }
}

/// A simulator's control API.
#[derive(Debug)]
pub struct Sim {
    pub sim: RunningSim,
    http: reqwest::Client,
}

impl Sim {
    pub async fn start(channel: Channel) -> Self {
        let sim = switchyard_sim::spawn(
            channel,
            &SimOptions {
                seed: 11,
                products: 12,
                orders: 0,
                ..SimOptions::default()
            },
        )
        .await
        .unwrap();
        Self {
            sim,
            http: reqwest::Client::new(),
        }
    }

    pub fn url(&self) -> String {
        self.sim.base_url()
    }

    async fn send(&self, method: reqwest::Method, path: &str, body: Value) -> Value {
        let r = self
            .http
            .request(method.clone(), format!("{}{path}", self.url()))
            .json(&body)
            .send()
            .await
            .unwrap();
        let status = r.status();
        let v: Value = r.json().await.unwrap_or(Value::Null);
        assert!(status.is_success(), "{method} {path}: {status} {v}");
        v
    }

    pub async fn post(&self, path: &str, body: Value) -> Value {
        self.send(reqwest::Method::POST, path, body).await
    }

    pub async fn put(&self, path: &str, body: Value) -> Value {
        self.send(reqwest::Method::PUT, path, body).await
    }

    /// Place a paid order; returns the channel's order id.
    pub async fn order(&self, lines: &[(&str, i64)], extra: Value) -> String {
        let mut body = json!({
            "lines": lines.iter().map(|(s, q)| json!({ "sku": s, "quantity": q })).collect::<Vec<_>>(),
        });
        if let (Some(b), Some(e)) = (body.as_object_mut(), extra.as_object()) {
            b.extend(e.clone());
        }
        self.sim.place_order(&body).await.unwrap()
    }

    /// The shipments of one order as the simulator holds them (Shopify
    /// `fulfillments`; empty when it has none).
    pub async fn fulfilments(&self, channel_order_id: &str) -> Vec<Value> {
        let all: Value = self
            .http
            .get(format!("{}/_sim/fulfilments", self.url()))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        all["orders"]
            .as_array()
            .unwrap()
            .iter()
            .find(|o| {
                o["order_id"].as_u64().map(|n| n.to_string()).as_deref() == Some(channel_order_id)
            })
            .and_then(|o| o["fulfillments"].as_array().cloned())
            .unwrap_or_default()
    }

    /// SKU → quantity the channel shows.
    pub async fn stock(&self) -> BTreeMap<String, i64> {
        self.sim.shown_stock().await.unwrap()
    }

    /// Wait (at most `secs`) until the channel shows `expected`.
    pub async fn wait_shows(&self, expected: &BTreeMap<String, i64>, secs: u64) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
        loop {
            let last = self.stock().await;
            if &last == expected {
                return;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "{} never showed the expected stock:\n expected {expected:?}\n      got {last:?}",
                self.url()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub async fn faults(&self, f: &Faults) {
        self.put("/_sim/faults", serde_json::to_value(f).unwrap())
            .await;
    }
}

/// A store with both channels connected and stock in sync.
#[derive(Debug)]
pub struct World {
    pub app: TestApp,
    pub t: Tenant,
    pub store: String,
    pub shopify: Sim,
    pub woo: Sim,
    pub shopify_ch: String,
    pub woo_ch: String,
    /// Every SKU the channels list.
    pub skus: Vec<String>,
}

impl World {
    /// Start everything; `settings` are merged into both channels' settings.
    pub async fn new(settings: Value) -> Self {
        Self::on(spawn_app_with(engine_config()).await, settings).await
    }

    pub async fn on(app: TestApp, settings: Value) -> Self {
        let t = app.tenant("acme").await;
        let store = app.store(&t, "Acme").await;
        Self::in_store(app, t, store, settings).await
    }

    /// Connect both channels to an existing store of tenant `t`.
    pub async fn in_store(app: TestApp, t: Tenant, store: String, settings: Value) -> Self {
        let shopify = Sim::start(Channel::Shopify).await;
        let woo = Sim::start(Channel::WooCommerce).await;
        let skus: Vec<String> = shopify.stock().await.into_keys().collect();
        for sku in skus.iter().filter(|s| *s != KIT) {
            app.product(&t, &store, sku).await;
        }
        let kit = app
            .post(
                &t,
                &format!("/v1/stores/{store}/products"),
                &json!({ "sku": KIT, "title": "Bundle", "components": [
                    { "sku": "SKU-00001", "quantity": 1 }, { "sku": "SKU-00002", "quantity": 2 } ] }),
            )
            .await;
        assert_eq!(kit.status, 201, "{}", kit.body);
        let items: Vec<Value> = skus
            .iter()
            .filter(|s| *s != KIT)
            .map(|s| json!({ "sku": s, "quantity": START }))
            .collect();
        let r = app
            .post(
                &t,
                &format!("/v1/stores/{store}/stock"),
                &json!({ "items": items }),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
        let mut base = json!({ "cadence_secs": 10, "auto_sync_stock": true });
        if let (Some(b), Some(e)) = (base.as_object_mut(), settings.as_object()) {
            b.extend(e.clone());
        }
        let shopify_ch = channel(
            &app,
            &t,
            &store,
            "shopify",
            &shopify,
            json!({
                "access_token": shopify.sim.credentials["access_token"],
                "api_secret_key": shopify.sim.credentials["api_secret_key"],
            }),
            &base,
        )
        .await;
        let woo_ch = channel(
            &app,
            &t,
            &store,
            "woocommerce",
            &woo,
            woo.sim.credentials.clone(),
            &base,
        )
        .await;
        let w = Self {
            app,
            t,
            store,
            shopify,
            woo,
            shopify_ch,
            woo_ch,
            skus,
        };
        let expected = w.expected(&BTreeMap::new());
        w.converge(&expected, 30).await;
        w
    }

    /// What every channel should show when `sold` units of plain SKUs are committed.
    pub fn expected(&self, sold: &BTreeMap<&str, i64>) -> BTreeMap<String, i64> {
        let avail = |s: &str| START - sold.get(s).copied().unwrap_or(0);
        self.skus
            .iter()
            .map(|s| {
                let q = if s == KIT {
                    avail("SKU-00001").max(0).min(avail("SKU-00002").max(0) / 2)
                } else {
                    avail(s).max(0)
                };
                (s.clone(), q)
            })
            .collect()
    }

    /// Wait until both channels show `expected`.
    pub async fn converge(&self, expected: &BTreeMap<String, i64>, secs: u64) {
        for sim in [&self.shopify, &self.woo] {
            sim.wait_shows(expected, secs).await;
        }
    }

    /// Orders of the store (all pages).
    pub async fn orders(&self, query: &str) -> Vec<Value> {
        let r = self
            .app
            .get(
                &self.t,
                &format!("/v1/orders?store_id={}&limit=1000{query}", self.store),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
        r.body["items"].as_array().unwrap().clone()
    }

    /// Wait until the store holds `n` orders matching `query`.
    pub async fn wait_orders(&self, query: &str, n: usize, secs: u64) -> Vec<Value> {
        eventually(&format!("{n} orders ({query})"), secs, || async {
            self.orders(query).await.len() == n
        })
        .await;
        self.orders(query).await
    }

    /// Run a channel job and wait for it to finish; returns the job.
    pub async fn job(&self, channel: &str, path: &str, body: Value) -> Value {
        let base = format!("/v1/stores/{}/channels/{channel}", self.store);
        let r = self
            .app
            .post(&self.t, &format!("{base}/{path}"), &body)
            .await;
        assert_eq!(r.status, 202, "{}", r.body);
        let id = r.body["id"].as_i64().unwrap();
        eventually(&format!("job {id} ({path}) to finish"), 30, || async {
            let j = self.app.get(&self.t, &format!("{base}/jobs/{id}")).await;
            !j.body["finished_at"].is_null()
        })
        .await;
        let j = self.app.get(&self.t, &format!("{base}/jobs/{id}")).await;
        assert!(j.body["last_error"].is_null(), "job failed: {}", j.body);
        j.body
    }

    pub async fn patch_settings(&self, channel: &str, settings: Value) {
        let r = self
            .app
            .patch(
                &self.t,
                &format!("/v1/stores/{}/channels/{channel}", self.store),
                &json!({ "settings": settings }),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
    }
}

pub async fn channel(
    app: &TestApp,
    t: &Tenant,
    store: &str,
    kind: &str,
    sim: &Sim,
    credentials: Value,
    settings: &Value,
) -> String {
    app.channel(t, store, kind, &sim.url(), credentials, settings)
        .await
}
