//! `/_sim` routes of the Shopify simulator.

use std::sync::Arc;

use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use serde_json::{Value, json};

use super::state::{self, Shop, gid};
use super::{Sim, fire};
use crate::core::{
    LineIn, SeedIn, TouchIn, bad_request, default_paid, host, lock, not_found, parse_body,
};
use crate::seed;

async fn status(State(sim): State<Arc<Sim>>) -> Json<Value> {
    let shop = lock(&sim.shop);
    Json(json!({
        "channel": "shopify",
        "api": format!("/admin/api/{}/graphql.json", super::API_VERSION),
        "schema_validation": true,
        "schema_types": sim.schema.types.len(),
        "seed": shop.seed,
        "credentials": sim.creds,
        "location_id": gid("Location", state::LOCATION_ID),
        "products": shop.products.len(),
        "variants": shop.variants.len(),
        "orders": shop.orders.len(),
        "webhooks": shop.webhooks.len(),
        "faults": sim.core.faults(),
    }))
}

async fn reseed(State(sim): State<Arc<Sim>>, body: Bytes) -> Response {
    let input: SeedIn = match parse_body(&body) {
        Ok(i) => i,
        Err(r) => return r,
    };
    let (products, orders) = match input.sizes() {
        Ok(s) => s,
        Err(r) => return r,
    };
    let mut shop = lock(&sim.shop);
    let seed = input.seed.unwrap_or(shop.seed);
    *shop = Shop::seeded(seed, products, orders);
    Json(json!({ "seed": seed, "products": shop.products.len(), "orders": shop.orders.len() }))
        .into_response()
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PlaceIn {
    lines: Vec<LineIn>,
    #[serde(default = "default_paid")]
    paid: bool,
    country: Option<String>,
    /// Order tags, as a merchant's app or staff would add them.
    #[serde(default)]
    tags: Vec<String>,
}

/// Place an order as a customer at checkout: stock is taken at once.
async fn place_order(State(sim): State<Arc<Sim>>, headers: HeaderMap, body: Bytes) -> Response {
    let input: PlaceIn = match parse_body(&body) {
        Ok(i) => i,
        Err(r) => return r,
    };
    if input.lines.is_empty() {
        return bad_request("an order needs at least one line");
    }
    let (id, out) = {
        let mut shop = lock(&sim.shop);
        let mut picks = Vec::new();
        for l in &input.lines {
            if let Err(r) = l.check() {
                return r;
            }
            let Some(v) = shop.variant_by_sku(&l.sku) else {
                return bad_request(&format!("no variant with SKU {}", l.sku));
            };
            picks.push((Some(v.id), l.quantity, 0, v.inventory_item_id));
        }
        let customer_seed = shop.id();
        let customer = seed::customer(customer_seed, input.country.as_deref());
        for (_, q, _, item) in &picks {
            *shop.available.entry(*item).or_default() -= q;
        }
        let now = shop.stamp();
        let lines: Vec<(Option<u64>, i64, i64)> =
            picks.iter().map(|(v, q, d, _)| (*v, *q, *d)).collect();
        let financial = if input.paid { "PAID" } else { "PENDING" };
        let id = shop.create_order(&lines, customer, financial, ("Standard", 395), now);
        if let Some(o) = shop.orders.get_mut(&id) {
            o.tags = input.tags;
        }
        (id, shop.orders.get(&id).map(state::order_json))
    };
    fire(&sim, "orders/create", id, &host(&headers));
    if input.paid {
        fire(&sim, "orders/paid", id, &host(&headers));
    }
    (StatusCode::CREATED, Json(out)).into_response()
}

async fn cancel(State(sim): State<Arc<Sim>>, headers: HeaderMap, Path(id): Path<u64>) -> Response {
    let out = {
        let mut shop = lock(&sim.shop);
        match shop.cancel_order(id, true) {
            Ok(order) => order,
            Err(e) if e.contains("no such") => return not_found(e),
            Err(e) => return bad_request(e),
        }
    };
    fire(&sim, "orders/cancelled", id, &host(&headers));
    fire(&sim, "orders/updated", id, &host(&headers));
    Json(out).into_response()
}

async fn pay(State(sim): State<Arc<Sim>>, headers: HeaderMap, Path(id): Path<u64>) -> Response {
    let out = {
        let mut shop = lock(&sim.shop);
        let at = shop.stamp();
        let Some(o) = shop.orders.get_mut(&id) else {
            return not_found("no such order");
        };
        o.financial = "PAID";
        o.updated_ms = at;
        state::order_json(o)
    };
    fire(&sim, "orders/paid", id, &host(&headers));
    fire(&sim, "orders/updated", id, &host(&headers));
    Json(out).into_response()
}

/// Edit orders (as a merchant adding a note would), moving `updatedAt`.
async fn touch(State(sim): State<Arc<Sim>>, body: Bytes) -> Response {
    let input: TouchIn = match parse_body(&body) {
        Ok(i) => i,
        Err(r) => return r,
    };
    let mut shop = lock(&sim.shop);
    let mut touched = Vec::new();
    for id in input.ids {
        let at = shop.stamp();
        if let Some(o) = shop.orders.get_mut(&id) {
            o.updated_ms = at;
            touched.push(id);
        }
    }
    Json(json!({ "touched": touched })).into_response()
}

async fn stock(State(sim): State<Arc<Sim>>) -> Json<Value> {
    let shop = lock(&sim.shop);
    let items: Vec<Value> = shop
        .variants
        .values()
        .map(|v| {
            json!({ "sku": v.sku, "variant_id": gid("ProductVariant", v.id),
                    "inventory_item_id": gid("InventoryItem", v.inventory_item_id),
                    "available": shop.available.get(&v.inventory_item_id) })
        })
        .collect();
    Json(json!({ "items": items }))
}

async fn fulfilments(State(sim): State<Arc<Sim>>) -> Json<Value> {
    let shop = lock(&sim.shop);
    let orders: Vec<Value> = shop
        .orders
        .values()
        .filter(|o| !o.fulfillments.is_empty())
        .map(|o| {
            let j = state::order_json(o);
            json!({ "order_id": o.id, "status": j["displayFulfillmentStatus"], "fulfillments": j["fulfillments"] })
        })
        .collect();
    Json(json!({ "orders": orders }))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ThrottleIn {
    maximum_available: f64,
    restore_rate: f64,
    /// Points left now, as when other apps of the shop spent the bucket.
    currently_available: Option<f64>,
}

/// Set the cost bucket: standard plans 2,000 points restoring 100 a
/// second, Plus 20,000 and 1,000.
async fn throttle(State(sim): State<Arc<Sim>>, body: Bytes) -> Response {
    let input: ThrottleIn = match serde_json::from_slice(&body) {
        Ok(i) => i,
        Err(e) => return bad_request(&e.to_string()),
    };
    if !(input.maximum_available >= 1000.0 && input.restore_rate > 0.0) {
        return bad_request("maximum_available must be at least 1000 and restore_rate above 0");
    }
    sim.set_limits(
        input.maximum_available,
        input.restore_rate,
        input.currently_available,
    );
    Json(
        json!({ "maximum_available": input.maximum_available, "restore_rate": input.restore_rate }),
    )
    .into_response()
}

pub(crate) fn routes(sim: Arc<Sim>) -> Router {
    Router::new()
        .route("/_sim/status", get(status))
        .route("/_sim/seed", post(reseed))
        .route("/_sim/orders", post(place_order))
        .route("/_sim/orders/touch", post(touch))
        .route("/_sim/orders/{id}/cancel", post(cancel))
        .route("/_sim/orders/{id}/pay", post(pay))
        .route("/_sim/stock", get(stock))
        .route("/_sim/fulfilments", get(fulfilments))
        .route("/_sim/throttle", axum::routing::put(throttle))
        // The signed storage link of a bulk operation's result.
        .route("/_sim/bulk/{name}", get(super::bulk::file))
        .with_state(sim)
}
