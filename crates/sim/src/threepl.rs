//! A simulated 3PL (fulfilment centre) speaking Switchyard's plugin
//! protocol (`docs/plugins.md`) from the plugin's side:
//!
//! - `POST /orders` receives `order.routed` and `order.cancelled`
//!   messages, checks their Standard Webhooks signature with the plugin's
//!   secret (401 otherwise; timestamps more than 5 minutes off are
//!   refused), and treats `webhook-id` as an idempotency key (a repeat
//!   gets the first answer). A routed order is accepted with
//!   `202 {"reference"}`.
//! - After `ship_after`, an accepted order that was not cancelled ships:
//!   its stock goes down, it gets a UPS tracking number with a valid check
//!   digit, and the shipment is reported to Switchyard
//!   (`POST /v1/plugins/{id}/orders/{order}/fulfilments`, with the 3PL's
//!   reference so a repeated report is not a second shipment), followed by
//!   the new stock of its SKUs (`PUT /v1/plugins/{id}/stock`). Reports are
//!   retried a bounded number of times; what failed stays visible.
//! - The control API under `/_sim`: `GET /_sim/orders`, `GET/POST
//!   /_sim/stock` (set figures and report them), `POST /_sim/faults`
//!   (`{"status": 503, "count": 3}`: the next orders are answered so),
//!   `GET /_sim/requests`.
//!
//! Like every simulator, it imports no Switchyard crate.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tokio::net::TcpListener;

use crate::SimError;
use crate::signing;

/// Attempts at reporting one thing to Switchyard.
const REPORT_ATTEMPTS: u32 = 8;

/// How to run the simulated 3PL.
#[derive(Debug, Clone)]
pub struct ThreePlOptions {
    /// The plugin's signing secret (`whsec_...`), as Switchyard shows it.
    pub secret: String,
    /// Switchyard's base URL; without it shipments are not reported.
    pub api_url: Option<String>,
    /// The plugin token (`sy_...`).
    pub token: Option<String>,
    /// The plugin's id (`plg_...`).
    pub plugin_id: Option<String>,
    /// How long after accepting an order it ships.
    pub ship_after: Duration,
    /// Stock on hand at start, per SKU (reported when set through `/_sim/stock`).
    pub stock: BTreeMap<String, i64>,
    /// Seed of the tracking numbers.
    pub seed: u64,
}

/// One order at the 3PL.
#[derive(Debug, Clone, Serialize)]
pub struct ThreePlOrder {
    /// Switchyard's order id.
    pub order_id: String,
    /// The order number.
    pub number: String,
    /// The 3PL's reference.
    pub reference: String,
    /// SKU and units per line.
    pub lines: Vec<(String, i64)>,
    /// `accepted`, `cancelled`, `shipped` (reported), `report_failed`.
    pub state: String,
    /// The UPS tracking number, once shipped.
    pub tracking: Option<String>,
    /// Switchyard's fulfilment id, once reported.
    pub fulfilment_id: Option<String>,
    /// What went wrong reporting it.
    pub error: Option<String>,
    /// Message types received for it, in order.
    pub messages: Vec<String>,
    /// When it was accepted.
    pub received_at: DateTime<Utc>,
}

#[derive(Debug, Default)]
struct Inner {
    orders: BTreeMap<String, ThreePlOrder>,
    /// webhook-id → the answer given.
    seen: BTreeMap<String, (u16, Value)>,
    stock: BTreeMap<String, i64>,
    fault: Option<(u16, u32)>,
    next_ref: u64,
    requests: Vec<Value>,
    stock_reports: Vec<Value>,
}

#[derive(Debug)]
struct Shared {
    opts: ThreePlOptions,
    key: Vec<u8>,
    client: reqwest::Client,
    inner: Mutex<Inner>,
}

type App = Arc<Shared>;

fn lock(s: &Shared) -> std::sync::MutexGuard<'_, Inner> {
    s.inner
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn problem(status: StatusCode, message: impl Into<String>) -> Response {
    (status, Json(json!({ "error": message.into() }))).into_response()
}

/// A UPS `1Z` number with a valid check digit: shipper `SY3PL0`, service
/// `03` (Ground), a 7-digit package number.
#[must_use]
pub fn ups_tracking(package: u64) -> String {
    let body = format!("SY3PL003{:07}", package % 10_000_000);
    format!("1Z{body}{}", ups_check_digit(&body))
}

/// UPS's check digit of the 15 characters after `1Z`: letters count as
/// `(ASCII − 63) mod 10`, odd positions once, even positions twice.
fn ups_check_digit(body: &str) -> u32 {
    let sum: u32 = body
        .bytes()
        .enumerate()
        .map(|(i, b)| {
            let v = if b.is_ascii_digit() {
                u32::from(b - b'0')
            } else {
                u32::from(b - 63) % 10
            };
            if i % 2 == 0 { v } else { 2 * v }
        })
        .sum();
    (10 - sum % 10) % 10
}

async fn receive(State(app): State<App>, headers: HeaderMap, body: Bytes) -> Response {
    let verified = signing::verify(&app.key, &headers, &body);
    let msg: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    lock(&app).requests.push(json!({
        "at": Utc::now(), "webhook_id": headers.get("webhook-id").and_then(|v| v.to_str().ok()),
        "type": msg["type"], "order_id": msg["data"]["id"], "verified": verified.is_ok(),
    }));
    let id = match verified {
        Ok(id) => id,
        Err(e) => return problem(StatusCode::UNAUTHORIZED, e),
    };
    let (status, answer, ship) = {
        let mut inner = lock(&app);
        if let Some((status, answer)) = inner.seen.get(&id) {
            let status = StatusCode::from_u16(*status).unwrap_or(StatusCode::OK);
            return (status, Json(answer.clone())).into_response();
        }
        if let Some((status, left)) = inner.fault {
            inner.fault = (left > 1).then_some((status, left - 1));
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
            return problem(status, "injected fault");
        }
        let (status, answer, ship) = accept(&mut inner, &msg);
        if status.is_success() {
            inner.seen.insert(id, (status.as_u16(), answer.clone()));
        }
        (status, answer, ship)
    };
    if let Some(order_id) = ship {
        let app = Arc::clone(&app);
        tokio::spawn(async move {
            tokio::time::sleep(app.opts.ship_after).await;
            ship_order(&app, &order_id).await;
        });
    }
    (status, Json(answer)).into_response()
}

/// Apply one verified message; the answer and the order to ship, if any.
fn accept(inner: &mut Inner, msg: &Value) -> (StatusCode, Value, Option<String>) {
    let data = &msg["data"];
    let Some(order_id) = data["id"].as_str().map(str::to_owned) else {
        return (
            StatusCode::UNPROCESSABLE_ENTITY,
            json!({ "error": "data.id is missing" }),
            None,
        );
    };
    match msg["type"].as_str() {
        Some("order.routed") => {
            if let Some(o) = inner.orders.get_mut(&order_id) {
                o.messages.push("order.routed".into());
                return (
                    StatusCode::ACCEPTED,
                    json!({ "reference": o.reference }),
                    None,
                );
            }
            let lines: Vec<(String, i64)> = data["lines"]
                .as_array()
                .map(Vec::as_slice)
                .unwrap_or_default()
                .iter()
                .filter_map(|l| {
                    let open = l["open_quantity"].as_i64()?;
                    (open > 0).then(|| (l["sku"].as_str().unwrap_or_default().to_owned(), open))
                })
                .collect();
            inner.next_ref += 1;
            let reference = format!("3PL-{:06}", inner.next_ref);
            inner.orders.insert(
                order_id.clone(),
                ThreePlOrder {
                    order_id: order_id.clone(),
                    number: data["number"].as_str().unwrap_or_default().to_owned(),
                    reference: reference.clone(),
                    lines,
                    state: "accepted".into(),
                    tracking: None,
                    fulfilment_id: None,
                    error: None,
                    messages: vec!["order.routed".into()],
                    received_at: Utc::now(),
                },
            );
            (
                StatusCode::ACCEPTED,
                json!({ "reference": reference }),
                Some(order_id),
            )
        }
        Some("order.cancelled") => {
            let Some(o) = inner.orders.get_mut(&order_id) else {
                return (StatusCode::OK, json!({ "status": "unknown_order" }), None);
            };
            o.messages.push("order.cancelled".into());
            if o.state == "accepted" {
                o.state = "cancelled".into();
                (StatusCode::OK, json!({ "status": "cancelled" }), None)
            } else {
                (StatusCode::OK, json!({ "status": o.state }), None)
            }
        }
        other => (
            StatusCode::UNPROCESSABLE_ENTITY,
            json!({ "error": format!("unknown message type {other:?}") }),
            None,
        ),
    }
}

/// Ship an accepted order and report it and the new stock to Switchyard.
async fn ship_order(app: &Shared, order_id: &str) {
    let (order, skus) = {
        let mut inner = lock(app);
        let Some(o) = inner.orders.get(order_id).cloned() else {
            return;
        };
        if o.state != "accepted" {
            return;
        }
        for (sku, qty) in &o.lines {
            let level = inner.stock.entry(sku.clone()).or_insert(0);
            *level = (*level - qty).max(0);
        }
        let package = app
            .opts
            .seed
            .wrapping_mul(1_000)
            .wrapping_add(inner.next_ref);
        let tracking = ups_tracking(package);
        if let Some(o) = inner.orders.get_mut(order_id) {
            o.tracking = Some(tracking);
            o.state = "shipping".into();
        }
        let skus: BTreeSet<String> = o.lines.iter().map(|(s, _)| s.clone()).collect();
        (inner.orders.get(order_id).cloned(), skus)
    };
    let Some(order) = order else { return };
    let body = json!({
        "tracking": [{ "number": order.tracking }],
        "carrier": "UPS",
        "service": "UPS Ground",
        "reference": order.reference,
    });
    let result = report(
        app,
        reqwest::Method::POST,
        &format!("orders/{order_id}/fulfilments"),
        &body,
    )
    .await;
    {
        let mut inner = lock(app);
        if let Some(o) = inner.orders.get_mut(order_id) {
            match &result {
                Ok(v) => {
                    o.state = "shipped".into();
                    o.fulfilment_id = v["id"].as_str().map(str::to_owned);
                }
                Err(e) => {
                    o.state = "report_failed".into();
                    o.error = Some(e.clone());
                }
            }
        }
    }
    if let Err(e) = report_stock(app, &skus).await {
        tracing::warn!(error = %e, "3pl: stock report failed");
    }
}

/// Report the current figures of `skus` (`PUT /v1/plugins/{id}/stock`).
async fn report_stock(app: &Shared, skus: &BTreeSet<String>) -> Result<Value, String> {
    let items: Vec<Value> = {
        let inner = lock(app);
        skus.iter()
            .map(|s| json!({ "sku": s, "quantity": inner.stock.get(s).copied().unwrap_or(0) }))
            .collect()
    };
    if items.is_empty() {
        return Ok(json!({ "applied": [] }));
    }
    let body = json!({ "items": items });
    let r = report(app, reqwest::Method::PUT, "stock", &body).await;
    lock(app)
        .stock_reports
        .push(json!({ "at": Utc::now(), "items": body["items"], "ok": r.is_ok() }));
    r
}

/// Call one of the plugin's Switchyard routes, retrying 429, 5xx and
/// connection failures a bounded number of times.
async fn report(
    app: &Shared,
    method: reqwest::Method,
    path: &str,
    body: &Value,
) -> Result<Value, String> {
    let (Some(api), Some(token), Some(plugin)) = (
        app.opts.api_url.as_deref(),
        app.opts.token.as_deref(),
        app.opts.plugin_id.as_deref(),
    ) else {
        return Err("not reported: no Switchyard URL, token and plugin id given".into());
    };
    let url = format!("{}/v1/plugins/{plugin}/{path}", api.trim_end_matches('/'));
    let mut wait = Duration::from_millis(200);
    let mut last = String::new();
    for _ in 0..REPORT_ATTEMPTS {
        match app
            .client
            .request(method.clone(), &url)
            .bearer_auth(token)
            .json(body)
            .send()
            .await
        {
            Ok(r) if r.status().is_success() => {
                return r.json().await.map_err(|e| e.to_string());
            }
            Ok(r) if r.status().as_u16() == 429 || r.status().is_server_error() => {
                last = format!("{} answered {}", url, r.status());
            }
            Ok(r) => {
                let status = r.status();
                let text = r.text().await.unwrap_or_default();
                return Err(format!("{url} answered {status}: {text}"));
            }
            Err(e) => last = e.to_string(),
        }
        tokio::time::sleep(wait).await;
        wait = (wait * 2).min(Duration::from_secs(5));
    }
    Err(last)
}

async fn list_orders(State(app): State<App>) -> Json<Value> {
    let inner = lock(&app);
    Json(json!({ "items": inner.orders.values().collect::<Vec<_>>() }))
}

async fn list_requests(State(app): State<App>) -> Json<Value> {
    let inner = lock(&app);
    Json(json!({ "items": inner.requests, "stock_reports": inner.stock_reports }))
}

async fn get_stock(State(app): State<App>) -> Json<Value> {
    Json(json!({ "items": lock(&app).stock }))
}

#[derive(Debug, Deserialize)]
struct StockIn {
    items: BTreeMap<String, i64>,
}

/// Set stock figures and report them to Switchyard.
async fn set_stock(State(app): State<App>, Json(body): Json<StockIn>) -> Response {
    if let Some((sku, q)) = body.items.iter().find(|(_, q)| **q < 0) {
        return problem(
            StatusCode::UNPROCESSABLE_ENTITY,
            format!("{sku}: quantity {q} is negative"),
        );
    }
    lock(&app).stock.extend(body.items.clone());
    let skus: BTreeSet<String> = body.items.into_keys().collect();
    match report_stock(&app, &skus).await {
        Ok(v) => (StatusCode::OK, Json(json!({ "reported": v }))).into_response(),
        Err(e) => problem(StatusCode::BAD_GATEWAY, e),
    }
}

#[derive(Debug, Deserialize)]
struct FaultsIn {
    status: Option<u16>,
    #[serde(default = "one")]
    count: u32,
}

fn one() -> u32 {
    1
}

async fn set_faults(State(app): State<App>, Json(f): Json<FaultsIn>) -> Response {
    let fault = match f.status {
        Some(s) if (400..600).contains(&s) && f.count > 0 => Some((s, f.count)),
        Some(s) => {
            return problem(
                StatusCode::UNPROCESSABLE_ENTITY,
                format!("status {s} / count {} cannot be injected", f.count),
            );
        }
        None => None,
    };
    lock(&app).fault = fault;
    Json(json!({ "fault": fault.map(|(s, n)| json!({ "status": s, "count": n })) })).into_response()
}

async fn ship_now(State(app): State<App>, Path(order): Path<String>) -> Response {
    if !lock(&app).orders.contains_key(&order) {
        return problem(StatusCode::NOT_FOUND, format!("no order {order}"));
    }
    ship_order(&app, &order).await;
    let o = lock(&app).orders.get(&order).cloned();
    Json(json!(o)).into_response()
}

/// The simulated 3PL's router.
pub fn router(opts: ThreePlOptions) -> Result<Router, SimError> {
    let key = signing::secret_key(&opts.secret)?;
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()?;
    let inner = Inner {
        stock: opts.stock.clone(),
        ..Inner::default()
    };
    let app = Arc::new(Shared {
        opts,
        key,
        client,
        inner: Mutex::new(inner),
    });
    Ok(Router::new()
        .route("/orders", post(receive))
        .route("/_sim/orders", get(list_orders))
        .route("/_sim/orders/{order_id}/ship", post(ship_now))
        .route("/_sim/stock", get(get_stock).post(set_stock))
        .route("/_sim/faults", post(set_faults))
        .route("/_sim/requests", get(list_requests))
        .with_state(app))
}

/// The simulated 3PL serving in the background (dropped: it stops).
#[derive(Debug)]
pub struct RunningThreePl {
    /// Where it listens.
    pub addr: std::net::SocketAddr,
    server: crate::Server,
}

impl RunningThreePl {
    /// `http://addr`.
    #[must_use]
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Where Switchyard sends orders: `{base_url}/orders`.
    #[must_use]
    pub fn orders_url(&self) -> String {
        format!("{}/orders", self.base_url())
    }

    /// The orders it holds (`GET /_sim/orders`).
    pub async fn orders(&self) -> Result<Vec<Value>, SimError> {
        let v: Value = reqwest::get(format!("{}/_sim/orders", self.base_url()))
            .await?
            .json()
            .await?;
        Ok(v["items"].as_array().cloned().unwrap_or_default())
    }

    /// Control call: POST `body` to `/_sim/{path}`.
    pub async fn control(&self, path: &str, body: &Value) -> Result<Value, SimError> {
        crate::post_control(&self.base_url(), path, body).await
    }

    /// Stop serving and wait for it.
    pub async fn stop(self) {
        self.server.stop().await;
    }
}

/// Serve the simulated 3PL on `listener` in the background.
pub fn spawn_on(opts: ThreePlOptions, listener: TcpListener) -> Result<RunningThreePl, SimError> {
    let router = router(opts)?;
    let addr = listener.local_addr()?;
    Ok(RunningThreePl {
        addr,
        server: crate::Server::start(listener, router, "3pl simulator"),
    })
}

/// Serve the simulated 3PL on a free loopback port.
pub async fn spawn(opts: ThreePlOptions) -> Result<RunningThreePl, SimError> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    spawn_on(opts, listener)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tracking_numbers_carry_the_ups_check_digit() {
        // UPS's published sample number 1Z 999 AA1 01 2345 678 4.
        assert_eq!(ups_check_digit("999AA1012345678"), 4);
        assert_eq!(ups_check_digit("999AA1012345679"), 3);
        let n = ups_tracking(1_234_567);
        assert_eq!(n.len(), 18);
        assert_eq!(&n[..17], "1ZSY3PL0031234567");
        assert_eq!(n[17..].parse::<u32>().unwrap(), ups_check_digit(&n[2..17]));
    }
}
