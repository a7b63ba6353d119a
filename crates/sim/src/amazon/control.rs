//! The `/_sim` control routes: place and cancel orders as a buyer, read
//! back stock and packages, tune the usage plans.

use std::collections::BTreeMap;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};

use super::store::{Item, Order, order_json};
use super::{App, Bucket};
use crate::core::{self, LineIn, lock, parse_body};
use crate::seed;

#[derive(Debug, Deserialize)]
struct PlaceIn {
    lines: Vec<LineIn>,
    #[serde(default = "core::default_paid")]
    paid: bool,
    country: Option<String>,
    /// Fulfilled by Amazon (AFN) instead of by the seller.
    #[serde(default)]
    afn: bool,
}

/// Place an order as a buyer: the listings' quantities drop at once.
pub(super) async fn place(State(sim): State<App>, body: Bytes) -> Response {
    let input: PlaceIn = match parse_body(&body) {
        Ok(i) => i,
        Err(r) => return r,
    };
    if input.lines.is_empty() {
        return core::bad_request("an order needs at least one line");
    }
    let mut store = lock(&sim.store);
    for l in &input.lines {
        if let Err(r) = l.check() {
            return r;
        }
        if !store.listings.contains_key(&l.sku) {
            return core::bad_request(&format!("no listing with SKU {}", l.sku));
        }
    }
    let id = store.order_id();
    let now = store.tick();
    let mut items = Vec::new();
    for l in &input.lines {
        let item_id = format!("{:014}", store.id());
        let Some(listing) = store.listings.get_mut(&l.sku) else {
            continue;
        };
        if !input.afn {
            listing.quantity -= l.quantity;
        }
        items.push(Item {
            id: item_id,
            asin: listing.asin.clone(),
            sku: listing.sku.clone(),
            title: listing.title.clone(),
            quantity: l.quantity,
            unit_price: listing.price,
        });
    }
    let order = Order {
        id: id.clone(),
        purchased: now,
        updated: now,
        afn: input.afn,
        paid: input.paid,
        cancelled: false,
        buyer: seed::customer(store.next_id, input.country.as_deref().or(Some("DE"))),
        shipping: 299,
        items,
        packages: Vec::new(),
    };
    let out = order_json(&order);
    store.orders.insert(id.clone(), order);
    (StatusCode::CREATED, Json(json!({ "id": id, "order": out }))).into_response()
}

pub(super) async fn cancel(State(sim): State<App>, Path(id): Path<String>) -> Response {
    let mut store = lock(&sim.store);
    let now = store.tick();
    match store.orders.get_mut(&id) {
        Some(o) => {
            o.cancelled = true;
            o.updated = now;
            Json(order_json(o)).into_response()
        }
        None => core::not_found(&format!("no order {id}")),
    }
}

pub(super) async fn stock(State(sim): State<App>) -> Json<Value> {
    let store = lock(&sim.store);
    let items: Vec<Value> = store
        .listings
        .values()
        .map(|l| json!({ "sku": l.sku, "asin": l.asin, "quantity": l.quantity }))
        .collect();
    Json(json!({ "items": items }))
}

pub(super) async fn fulfilments(State(sim): State<App>) -> Json<Value> {
    let store = lock(&sim.store);
    let orders: Vec<Value> = store
        .orders
        .values()
        .filter(|o| !o.packages.is_empty())
        .map(|o| json!({ "order_id": o.id, "shipments": o.packages.iter().map(|p| json!({
            "package_reference_id": p.reference, "carrier": p.carrier_code, "carrier_name": p.carrier_name,
            "shipping_method": p.method, "tracking_number": p.tracking, "ship_date": p.ship_date,
            "order_items": p.items.iter().map(|(i, q)| json!({ "order_item_id": i, "quantity": q })).collect::<Vec<_>>(),
        })).collect::<Vec<_>>() }))
        .collect();
    Json(json!({ "orders": orders }))
}

/// `GET /_sim/rate-limits`: each operation's rate, burst and tokens left.
pub(super) async fn rate_limits(State(sim): State<App>) -> Json<Value> {
    let b = lock(&sim.buckets);
    Json(json!(
        b.iter()
            .map(|(op, x)| (
                op.clone(),
                json!({ "rate": x.rate, "burst": x.burst, "tokens": x.tokens })
            ))
            .collect::<BTreeMap<_, _>>()
    ))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PlanIn {
    rate: f64,
    burst: f64,
}

/// `PUT /_sim/rate-limits {"getOrderItems": {"rate": 50, "burst": 50}}`:
/// a full bucket with the new plan.
pub(super) async fn set_rate_limits(State(sim): State<App>, body: Bytes) -> Response {
    let input: BTreeMap<String, PlanIn> = match parse_body(&body) {
        Ok(i) => i,
        Err(r) => return r,
    };
    {
        let mut b = lock(&sim.buckets);
        for (op, plan) in input {
            if !(plan.rate > 0.0 && plan.burst >= 1.0) {
                return core::bad_request("rate must be positive and burst at least 1");
            }
            let Some(slot) = b.get_mut(&op) else {
                return core::bad_request(&format!("unknown operation {op}"));
            };
            *slot = Bucket {
                rate: plan.rate,
                burst: plan.burst,
                tokens: plan.burst,
                last: None,
            };
        }
    }
    rate_limits(State(sim)).await.into_response()
}

pub(super) async fn status(State(sim): State<App>) -> Json<Value> {
    let store = lock(&sim.store);
    Json(json!({
        "channel": "amazon", "credentials": sim.creds,
        "listings": store.listings.len(), "orders": store.orders.len(),
    }))
}

/// `PUT /_sim/lag {"seconds": 0}`: how long a change waits before
/// `getOrders` lists it (Amazon: 120 s; tests shorten it).
pub(super) async fn set_lag(State(sim): State<App>, body: Bytes) -> Response {
    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct In {
        seconds: i64,
    }
    let input: In = match parse_body(&body) {
        Ok(i) => i,
        Err(r) => return r,
    };
    if !(0..=3600).contains(&input.seconds) {
        return core::bad_request("seconds must be between 0 and 3600");
    }
    lock(&sim.store).lag_secs = input.seconds;
    Json(json!({ "seconds": input.seconds })).into_response()
}
