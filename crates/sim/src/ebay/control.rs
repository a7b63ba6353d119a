//! The `/_sim` control routes: place and cancel orders as a buyer, read
//! back stock and shipments, read and set the daily quotas.

use std::collections::BTreeMap;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};

use super::App;
use super::store::{Line, Order, order_json};
use crate::core::{self, LineIn, lock, parse_body};
use crate::seed;

#[derive(Debug, Deserialize)]
struct PlaceIn {
    lines: Vec<LineIn>,
    #[serde(default = "core::default_paid")]
    paid: bool,
    country: Option<String>,
}

/// Place an order as a buyer: the items' quantities drop at once.
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
        if !store.items.contains_key(&l.sku) {
            return core::bad_request(&format!("no inventory item with SKU {}", l.sku));
        }
    }
    let id = store.order_id();
    let now = store.tick();
    let mut lines = Vec::new();
    for l in &input.lines {
        let line_id = store.id().to_string();
        let Some(item) = store.items.get_mut(&l.sku) else {
            continue;
        };
        item.quantity -= l.quantity;
        lines.push(Line {
            id: line_id,
            sku: Some(item.sku.clone()),
            title: item.title.clone(),
            legacy_item_id: item.legacy_item_id.clone(),
            quantity: l.quantity,
            price: item.price,
        });
    }
    let order = Order {
        id: id.clone(),
        buyer: seed::customer(store.next_id, input.country.as_deref()),
        created: now,
        modified: now,
        paid: input.paid,
        cancelled: false,
        shipping: 399,
        lines,
        fulfillments: Vec::new(),
    };
    let out = order_json(&order, "seller");
    store.orders.insert(id.clone(), order);
    (StatusCode::CREATED, Json(json!({ "id": id, "order": out }))).into_response()
}

/// Cancel an order (as the buyer's cancellation request, once approved).
pub(super) async fn cancel(State(sim): State<App>, Path(id): Path<String>) -> Response {
    let mut store = lock(&sim.store);
    let now = store.tick();
    match store.orders.get_mut(&id) {
        Some(o) => {
            o.cancelled = true;
            o.modified = now;
            Json(order_json(o, "seller")).into_response()
        }
        None => core::not_found(&format!("no order {id}")),
    }
}

pub(super) async fn stock(State(sim): State<App>) -> Json<Value> {
    let store = lock(&sim.store);
    let items: Vec<Value> = store
        .items
        .values()
        .map(|i| json!({ "sku": i.sku, "offer_id": i.offer_id, "quantity": i.quantity }))
        .collect();
    Json(json!({ "items": items }))
}

pub(super) async fn fulfilments(State(sim): State<App>) -> Json<Value> {
    let store = lock(&sim.store);
    let orders: Vec<Value> = store
        .orders
        .values()
        .filter(|o| !o.fulfillments.is_empty())
        .map(|o| {
            json!({ "order_id": o.id, "shipments": o.fulfillments.iter().map(|f| json!({
                "fulfillment_id": f.id, "carrier": f.carrier, "tracking_number": f.tracking,
                "line_items": f.lines.iter().map(|(l, q)| json!({ "line_item_id": l, "quantity": q })).collect::<Vec<_>>(),
            })).collect::<Vec<_>>() })
        })
        .collect();
    Json(json!({ "orders": orders }))
}

/// `GET /_sim/quotas`: each API's daily quota and today's use.
pub(super) async fn quotas(State(sim): State<App>) -> Json<Value> {
    let q = lock(&sim.quotas);
    Json(json!(
        q.iter()
            .map(|(api, q)| (api.clone(), json!({ "limit": q.limit, "used": q.used })))
            .collect::<BTreeMap<_, _>>()
    ))
}

/// `PUT /_sim/quotas {"sell.inventory": 10, …}`: set quotas; today's use
/// starts again from zero.
pub(super) async fn set_quotas(State(sim): State<App>, body: Bytes) -> Response {
    let input: BTreeMap<String, u32> = match parse_body(&body) {
        Ok(i) => i,
        Err(r) => return r,
    };
    {
        let mut q = lock(&sim.quotas);
        for (api, limit) in input {
            let Some(slot) = q.get_mut(&api) else {
                return core::bad_request(&format!(
                    "unknown API {api} (sell.fulfillment, sell.inventory)"
                ));
            };
            *slot = super::Quota {
                limit,
                day: 0,
                used: 0,
            };
        }
    }
    quotas(State(sim)).await.into_response()
}

pub(super) async fn status(State(sim): State<App>) -> Json<Value> {
    let store = lock(&sim.store);
    Json(json!({
        "channel": "ebay", "credentials": sim.creds,
        "inventory_items": store.items.len(), "orders": store.orders.len(),
    }))
}
