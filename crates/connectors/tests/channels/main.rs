//! Connectors against their simulators, over real HTTP on loopback. Waits
//! are asserted on the simulator's request log, never on wall time.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests: a failed step should stop the test loudly"
)]

mod accounting;
mod amazon;
mod bolcom;
mod ebay;
mod etsy;
mod shopify;
mod woocommerce;
mod woocommerce_shipping;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use switchyard_connectors::channel::{OrderQuery, SalesChannel};
use switchyard_connectors::http::HttpPolicy;
use switchyard_domain::order::UnifiedOrder;
use switchyard_sim::{Faults, LogEntry, RunningSim};

/// Short timeouts and backoffs so fault runs finish quickly; `Retry-After`
/// is still honoured in full (clamped at 5 s).
pub fn policy() -> HttpPolicy {
    HttpPolicy {
        connect_timeout: Duration::from_secs(2),
        request_timeout: Duration::from_millis(800),
        max_attempts: 10,
        base_backoff: Duration::from_millis(20),
        max_backoff: Duration::from_millis(200),
        max_retry_after: Duration::from_secs(5),
        max_concurrency: 4,
        // The simulators listen on 127.0.0.1.
        outbound: switchyard_domain::webhook::AddressPolicy::parse(&["127.0.0.1".to_owned()])
            .unwrap(),
    }
}

/// Talks to a simulator's `/_sim` control API.
#[derive(Debug)]
pub struct Control {
    base: String,
    http: reqwest::Client,
}

impl Control {
    pub fn new(sim: &RunningSim) -> Self {
        Self {
            base: sim.base_url(),
            http: reqwest::Client::new(),
        }
    }

    pub async fn get(&self, path: &str) -> Value {
        let r = self
            .http
            .get(format!("{}{path}", self.base))
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success(), "GET {path}: {}", r.status());
        r.json().await.unwrap()
    }

    async fn send(&self, method: reqwest::Method, path: &str, body: Value) -> Value {
        let r = self
            .http
            .request(method.clone(), format!("{}{path}", self.base))
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

    pub async fn faults(&self, f: &Faults) {
        self.put("/_sim/faults", serde_json::to_value(f).unwrap())
            .await;
    }

    pub async fn requests(&self) -> Vec<LogEntry> {
        serde_json::from_value(self.get("/_sim/requests").await["requests"].clone()).unwrap()
    }

    pub async fn clear_requests(&self) {
        self.http
            .delete(format!("{}/_sim/requests", self.base))
            .send()
            .await
            .unwrap();
    }
}

/// Read every page of orders changed since `since`; the map keeps the
/// newest version of each (as the idempotent upsert does), `reads` counts
/// every order read, duplicates included.
#[derive(Debug)]
pub struct Drained {
    pub orders: BTreeMap<String, UnifiedOrder>,
    pub reads: usize,
    pub pages: usize,
}

pub async fn drain_with(
    c: &dyn SalesChannel,
    since: DateTime<Utc>,
    between_pages: impl FnMut(
        usize,
    )
        -> Option<std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>>>,
) -> Drained {
    drain_as(c, since, false, between_pages).await
}

/// Every page of a window read as a large one (a bulk export where the
/// channel has one).
pub async fn drain_large(c: &dyn SalesChannel, since: DateTime<Utc>) -> Drained {
    drain_as(c, since, true, |_| None).await
}

async fn drain_as(
    c: &dyn SalesChannel,
    since: DateTime<Utc>,
    large: bool,
    mut between_pages: impl FnMut(
        usize,
    ) -> Option<
        std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>>,
    >,
) -> Drained {
    let mut out = Drained {
        orders: BTreeMap::new(),
        reads: 0,
        pages: 0,
    };
    let mut page = None;
    for _ in 0..500 {
        let p = c
            .fetch_orders(&OrderQuery {
                updated_since: since,
                page: page.clone(),
                large,
            })
            .await
            .unwrap();
        out.pages += 1;
        assert!(p.unmappable.is_empty(), "unmappable: {:?}", p.unmappable);
        for f in p.orders {
            out.reads += 1;
            let keep = out
                .orders
                .get(&f.order.channel_order_id)
                .is_none_or(|o| o.updated_at <= f.order.updated_at);
            if keep {
                out.orders.insert(f.order.channel_order_id.clone(), f.order);
            }
        }
        if let Some(fut) = between_pages(out.pages) {
            fut.await;
        }
        match p.next_page {
            Some(n) => page = Some(n),
            None => return out,
        }
    }
    panic!("more than 500 pages");
}

pub async fn drain(c: &dyn SalesChannel, since: DateTime<Utc>) -> Drained {
    drain_with(c, since, |_| None).await
}

/// Every listing of the channel, page by page.
pub async fn all_listings(c: &dyn SalesChannel) -> Vec<switchyard_connectors::channel::Listing> {
    let mut out = Vec::new();
    let mut page = None;
    for _ in 0..100 {
        let p = c.fetch_listings(page).await.unwrap();
        out.extend(p.listings);
        match p.next_page {
            Some(n) => page = Some(n),
            None => return out,
        }
    }
    panic!("too many listing pages");
}

pub fn epoch() -> DateTime<Utc> {
    DateTime::<Utc>::UNIX_EPOCH
}

/// After every 429 the simulator logged, nothing arrived before its
/// `Retry-After` had passed. Returns how many 429s were checked.
pub fn assert_retry_after_honoured(log: &[LogEntry]) -> usize {
    let mut checked = 0;
    for (i, e) in log.iter().enumerate() {
        if e.status == 429 {
            let wait_ms = e.retry_after.expect("429 carries Retry-After") as f64 * 1000.0;
            if let Some(next) = log.get(i + 1) {
                assert!(
                    next.at_ms >= e.at_ms + wait_ms,
                    "request #{} arrived {:.0} ms after the 429 #{} that asked for {wait_ms} ms",
                    next.seq,
                    next.at_ms - e.at_ms,
                    e.seq
                );
                checked += 1;
            }
        }
    }
    checked
}

/// A loopback webhook receiver: records `(headers, body)` of every POST.
#[derive(Debug, Clone, Default)]
pub struct Receiver {
    pub got: Arc<Mutex<Vec<(HeaderMap, Bytes)>>>,
}

impl Receiver {
    pub async fn start() -> (Self, SocketAddr) {
        async fn hook(State(r): State<Receiver>, headers: HeaderMap, body: Bytes) -> &'static str {
            r.got.lock().unwrap().push((headers, body));
            "ok"
        }
        let r = Self::default();
        let app = Router::new()
            .route("/hook", axum::routing::post(hook))
            .with_state(r.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        (r, addr)
    }

    /// Wait (bounded) until `n` deliveries arrived.
    pub async fn wait_for(&self, n: usize) -> Vec<(HeaderMap, Bytes)> {
        for _ in 0..100 {
            let got = self.got.lock().unwrap().clone();
            if got.len() >= n {
                return got;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("expected {n} webhook deliveries");
    }
}

/// A published contract shipped with the tests (`tests/specs/`, each with
/// its licence).
pub fn shipped_spec(rel: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/specs")
        .join(rel)
}

/// A published contract whose owner does not license it for
/// redistribution (Etsy, eBay, bol.com): read from the folder named by
/// `SWITCHYARD_CHANNEL_SPECS`. Without the variable the contract check is
/// skipped, and the test says so; a variable pointing at a folder without
/// the file is a failure.
pub fn unshipped_spec(rel: &str) -> Option<Value> {
    let Some(dir) = std::env::var_os("SWITCHYARD_CHANNEL_SPECS") else {
        eprintln!(
            "contract check skipped: {rel} is not shipped with Switchyard (see \
             crates/connectors/tests/specs/README.md); set SWITCHYARD_CHANNEL_SPECS \
             to a folder holding it to run the check"
        );
        return None;
    };
    let path = std::path::Path::new(&dir).join(rel);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "SWITCHYARD_CHANNEL_SPECS is set but {} cannot be read: {e}",
            path.display()
        )
    });
    Some(serde_json::from_str(&text).unwrap())
}

/// [`conforms`], when the contract is at hand (see [`unshipped_spec`]).
pub fn conforms_if_at_hand(spec: Option<&Value>, name: &str, v: &Value) {
    if let Some(spec) = spec {
        conforms(spec, name, v);
    }
}

pub fn lines(v: &[(&str, i64)]) -> Value {
    json!(
        v.iter()
            .map(|(s, q)| json!({ "sku": s, "quantity": q }))
            .collect::<Vec<_>>()
    )
}

/// `v` has only properties the spec's schema `name` lists, every property
/// it requires, and the declared JSON type for each.
pub fn conforms(spec: &Value, name: &str, v: &Value) {
    let schema = &spec["components"]["schemas"][name];
    let props = schema["properties"].as_object().unwrap();
    let obj = v.as_object().unwrap();
    for k in obj.keys() {
        assert!(props.contains_key(k), "{name}: `{k}` is not in the spec");
    }
    for r in schema["required"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default()
    {
        assert!(
            obj.contains_key(r.as_str().unwrap()),
            "{name}: `{r}` is required"
        );
    }
    for (k, val) in obj {
        let p = &props[k];
        if val.is_null() {
            continue;
        }
        let ok = match p["type"].as_str() {
            Some("integer") => val.is_i64() || val.is_u64(),
            Some("number") => val.is_number(),
            Some("string") => val.is_string(),
            Some("boolean") => val.is_boolean(),
            Some("array") => val.is_array(),
            Some("object") => val.is_object(),
            _ => true,
        };
        assert!(ok, "{name}.{k}: {val} is not a {}", p["type"]);
    }
}
