//! The `/_sim` control routes: place and cancel orders as a customer, read
//! back stock and shipments, tune rate limits and processing delay.

use std::collections::BTreeMap;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};

use super::App;
use super::shop::{Item, Order, order_json};
use crate::core::{self, LineIn, lock, parse_body};
use crate::seed;

#[derive(Debug, Deserialize)]
struct PlaceIn {
    lines: Vec<LineIn>,
    /// bol only passes on paid orders; `false` is refused.
    #[serde(default = "core::default_paid")]
    paid: bool,
    country: Option<String>,
}

/// Place an order as a customer: the offers' stock drops at once.
pub(super) async fn place(State(sim): State<App>, body: Bytes) -> Response {
    let input: PlaceIn = match parse_body(&body) {
        Ok(i) => i,
        Err(r) => return r,
    };
    if input.lines.is_empty() {
        return core::bad_request("an order needs at least one line");
    }
    if !input.paid {
        return core::bad_request("bol.com passes on only paid orders");
    }
    let mut shop = lock(&sim.shop);
    shop.settle();
    let mut picked = Vec::new();
    for l in &input.lines {
        if let Err(r) = l.check() {
            return r;
        }
        let Some(offer) = shop.offer_by_reference(&l.sku) else {
            return core::bad_request(&format!("no offer with reference {}", l.sku));
        };
        picked.push((offer.id.clone(), l.quantity));
    }
    let now = shop.tick();
    let id = format!("C{:09X}", shop.id() % 0xf_ffff_ffff);
    let mut items = Vec::new();
    for (offer_id, q) in picked {
        let item_id = (shop.id() * 10).to_string();
        let Some(offer) = shop.offers.get_mut(&offer_id) else {
            continue;
        };
        offer.stock -= q;
        items.push(Item {
            id: item_id,
            offer_id,
            ean: offer.ean.clone(),
            reference: offer.reference.clone(),
            title: offer.title.clone(),
            quantity: q,
            shipped: 0,
            cancelled: 0,
            unit_price: offer.price,
            changed: now,
        });
    }
    let country = input.country.as_deref().or(Some("NL"));
    let order = Order {
        id: id.clone(),
        placed: now,
        buyer: seed::customer(shop.next_id, country),
        items,
    };
    let out = order_json(&order);
    shop.orders.insert(id.clone(), order);
    (StatusCode::CREATED, Json(json!({ "id": id, "order": out }))).into_response()
}

/// The customer cancels every open item.
pub(super) async fn cancel(State(sim): State<App>, Path(id): Path<String>) -> Response {
    let mut shop = lock(&sim.shop);
    let now = shop.tick();
    match shop.orders.get_mut(&id) {
        Some(o) => {
            for i in &mut o.items {
                i.cancelled = i.quantity - i.shipped;
                i.changed = now;
            }
            Json(order_json(o)).into_response()
        }
        None => core::not_found(&format!("no order {id}")),
    }
}

pub(super) async fn stock(State(sim): State<App>) -> Json<Value> {
    let mut shop = lock(&sim.shop);
    shop.settle();
    let items: Vec<Value> = shop
        .offers
        .values()
        .filter_map(|o| {
            o.reference
                .as_ref()
                .map(|r| json!({ "sku": r, "offer_id": o.id, "ean": o.ean, "quantity": o.stock }))
        })
        .collect();
    Json(json!({ "items": items }))
}

pub(super) async fn fulfilments(State(sim): State<App>) -> Json<Value> {
    let mut shop = lock(&sim.shop);
    shop.settle();
    let mut by_order: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    for s in &shop.shipments {
        by_order.entry(s.order_id.clone()).or_default().push(json!({
            "shipment_id": s.id, "reference": s.reference, "carrier": s.transporter,
            "tracking_number": s.track,
            "order_items": s.items.iter().map(|(i, q)| json!({ "order_item_id": i, "quantity": q })).collect::<Vec<_>>(),
        }));
    }
    Json(
        json!({ "orders": by_order.into_iter().map(|(o, s)| json!({ "order_id": o, "shipments": s })).collect::<Vec<_>>() }),
    )
}

/// `GET /_sim/rate-limits`: `{name: {calls, window_secs, used}}`.
pub(super) async fn rate_limits(State(sim): State<App>) -> Json<Value> {
    let limits = lock(&sim.limits);
    Json(json!(
        limits
            .iter()
            .map(|(k, l)| (
                k.clone(),
                json!({ "calls": l.calls, "window_secs": l.window.as_secs_f64(), "used": l.used })
            ))
            .collect::<BTreeMap<_, _>>()
    ))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct LimitIn {
    calls: u32,
    window_ms: u64,
}

/// `PUT /_sim/rate-limits {"orders-list": {"calls": 7, "window_ms": 2000}}`.
pub(super) async fn set_rate_limits(State(sim): State<App>, body: Bytes) -> Response {
    let input: BTreeMap<String, LimitIn> = match parse_body(&body) {
        Ok(i) => i,
        Err(r) => return r,
    };
    {
        let mut limits = lock(&sim.limits);
        for (name, l) in input {
            let Some(slot) = limits.get_mut(&name) else {
                return core::bad_request(&format!("unknown rate limit {name}"));
            };
            if l.calls == 0 || l.window_ms == 0 {
                return core::bad_request("calls and window_ms must be positive");
            }
            slot.calls = l.calls;
            slot.window = std::time::Duration::from_millis(l.window_ms);
            slot.started = None;
            slot.used = 0;
        }
    }
    rate_limits(State(sim)).await.into_response()
}

pub(super) async fn processing(State(sim): State<App>) -> Json<Value> {
    let shop = lock(&sim.shop);
    Json(json!({ "delay_ms": shop.delay.num_milliseconds() }))
}

/// `PUT /_sim/processing {"delay_ms": 200}`: how long changes stay pending.
pub(super) async fn set_processing(State(sim): State<App>, body: Bytes) -> Response {
    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct In {
        delay_ms: i64,
    }
    let input: In = match parse_body(&body) {
        Ok(i) => i,
        Err(r) => return r,
    };
    if !(0..=60_000).contains(&input.delay_ms) {
        return core::bad_request("delay_ms must be between 0 and 60000");
    }
    lock(&sim.shop).delay = chrono::Duration::milliseconds(input.delay_ms);
    processing(State(sim)).await.into_response()
}

pub(super) async fn status(State(sim): State<App>) -> Json<Value> {
    let shop = lock(&sim.shop);
    Json(json!({
        "channel": "bolcom", "credentials": sim.creds,
        "offers": shop.offers.len(), "orders": shop.orders.len(),
        "processes": shop.processes.len(),
    }))
}
