//! `/_sim` routes of the WooCommerce simulator: status, reseeding, placing
//! and changing orders as a customer or shop manager would, and reading
//! back what connectors pushed.

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

use super::Sim;
use super::orders::set_status;
use super::params::base_url;
use super::render;
use super::routes::fire;
use super::state::{Line, Order, Shop, now};
use crate::core::{
    LineIn, SeedIn, TouchIn, bad_request, default_paid, lock, not_found, parse_body,
};
use crate::seed;

async fn status(State(sim): State<Arc<Sim>>) -> Json<Value> {
    let shop = lock(&sim.shop);
    Json(json!({
        "channel": "woocommerce",
        "api": "/wp-json/wc/v3",
        "seed": shop.seed,
        "credentials": sim.creds,
        "products": shop.products.len(),
        "variations": shop.variations.len(),
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
    customer_note: Option<String>,
    /// The order shows up in lists this many seconds after its last change
    /// (its dates lie that far in the past), as a lagging replica or search
    /// index lists it.
    #[serde(default)]
    listed_late_secs: i64,
}

/// Place an order as a customer at checkout.
async fn place_order(State(sim): State<Arc<Sim>>, headers: HeaderMap, body: Bytes) -> Response {
    let input: PlaceIn = match parse_body(&body) {
        Ok(i) => i,
        Err(r) => return r,
    };
    if input.lines.is_empty() {
        return bad_request("an order needs at least one line");
    }
    if !(0..=86_400).contains(&input.listed_late_secs) {
        return bad_request("listed_late_secs must be between 0 and 86400");
    }
    let rendered = {
        let mut shop = lock(&sim.shop);
        let mut lines = Vec::new();
        for l in &input.lines {
            if let Err(r) = l.check() {
                return r;
            }
            let Some((pid, vid)) = shop.find_sku(&l.sku) else {
                return bad_request(&format!("no product with SKU {}", l.sku));
            };
            let (name, price) = if vid == 0 {
                let p = &shop.products[&pid];
                (p.name.clone(), p.price)
            } else {
                let v = &shop.variations[&vid];
                (
                    format!("{} - {}", shop.products[&pid].name, v.option),
                    v.price,
                )
            };
            let id = shop.id();
            lines.push(Line {
                id,
                name,
                product_id: pid,
                variation_id: vid,
                quantity: l.quantity,
                sku: l.sku.clone(),
                subtotal: price * l.quantity,
                total: price * l.quantity,
            });
        }
        let customer = seed::customer(shop.next_id, input.country.as_deref());
        let at = now();
        let id = shop.id();
        let order = Order {
            id,
            order_key: format!("wc_order_{:013x}", id.wrapping_mul(0x9e37_79b9)),
            status: "pending".into(),
            currency: "EUR".into(),
            created_via: "checkout",
            meta: Vec::new(),
            created: at,
            modified: at,
            paid: None,
            completed: None,
            customer,
            customer_note: input.customer_note.unwrap_or_default(),
            lines,
            shipping_method: "Standard".into(),
            shipping_line_id: shop.id(),
            shipping: 395,
            tax_line_id: shop.id(),
        };
        shop.orders.insert(id, order);
        if input.paid {
            set_status(&mut shop, id, "processing");
        }
        if input.listed_late_secs > 0
            && let Some(o) = shop.orders.get_mut(&id)
        {
            let late = chrono::Duration::seconds(input.listed_late_secs);
            o.created -= late;
            o.modified -= late;
            o.paid = o.paid.map(|t| t - late);
        }
        shop.orders
            .get(&id)
            .map(|o| render::order(o, &base_url(&headers)))
    };
    match rendered {
        Some(o) => {
            fire(&sim, "order.created", &o, &headers);
            (StatusCode::CREATED, Json(o)).into_response()
        }
        None => not_found("order vanished"),
    }
}

async fn change(sim: &Sim, headers: &HeaderMap, id: u64, status: &str) -> Response {
    let rendered = {
        let mut shop = lock(&sim.shop);
        if !shop.orders.contains_key(&id) {
            return not_found("no such order");
        }
        set_status(&mut shop, id, status);
        shop.orders
            .get(&id)
            .map(|o| render::order(o, &base_url(headers)))
    };
    match rendered {
        Some(o) => {
            fire(sim, "order.updated", &o, headers);
            Json(o).into_response()
        }
        None => not_found("no such order"),
    }
}

async fn cancel(State(sim): State<Arc<Sim>>, headers: HeaderMap, Path(id): Path<u64>) -> Response {
    change(&sim, &headers, id, "cancelled").await
}

async fn pay(State(sim): State<Arc<Sim>>, headers: HeaderMap, Path(id): Path<u64>) -> Response {
    change(&sim, &headers, id, "processing").await
}

/// Edit orders as a shop manager would (a private note on the order), so
/// their modified date moves: for "updated while paging" scenarios.
async fn touch(State(sim): State<Arc<Sim>>, body: Bytes) -> Response {
    let input: TouchIn = match parse_body(&body) {
        Ok(i) => i,
        Err(r) => return r,
    };
    let mut shop = lock(&sim.shop);
    let at = now();
    let mut touched = Vec::new();
    for id in input.ids {
        if let Some(o) = shop.orders.get_mut(&id) {
            o.customer_note = format!("{} (edited)", o.customer_note).trim().to_owned();
            o.modified = at;
            touched.push(id);
        }
    }
    Json(json!({ "touched": touched, "modified_gmt": render::gmt(at) })).into_response()
}

/// Every stock-managed item's quantity.
async fn stock(State(sim): State<Arc<Sim>>) -> Json<Value> {
    let shop = lock(&sim.shop);
    let mut items: Vec<Value> = shop
        .products
        .values()
        .filter(|p| p.kind == "simple")
        .map(|p| json!({ "sku": p.sku, "product_id": p.id, "variation_id": 0, "manage_stock": p.manage_stock, "stock_quantity": p.stock_quantity }))
        .collect();
    items.extend(shop.variations.values().map(|v| {
        json!({ "sku": v.sku, "product_id": v.parent_id, "variation_id": v.id, "manage_stock": v.manage_stock, "stock_quantity": v.stock_quantity })
    }));
    Json(json!({ "items": items }))
}

/// Orders with trackings or notes, as connectors left them.
async fn fulfilments(State(sim): State<Arc<Sim>>) -> Json<Value> {
    let shop = lock(&sim.shop);
    let orders: Vec<Value> = shop
        .orders
        .values()
        .filter(|o| shop.trackings.contains_key(&o.id) || shop.notes.contains_key(&o.id))
        .map(|o| {
            json!({
                "order_id": o.id,
                "status": o.status,
                "trackings": shop.trackings.get(&o.id).map(|ts| ts.iter().map(render::tracking).collect::<Vec<_>>()).unwrap_or_default(),
                "notes": shop.notes.get(&o.id).map(|ns| ns.iter().map(render::note).collect::<Vec<_>>()).unwrap_or_default(),
            })
        })
        .collect();
    Json(json!({ "orders": orders }))
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
        .with_state(sim)
}
