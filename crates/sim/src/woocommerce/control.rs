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
use super::render;
use super::routes::{fire, set_status};
use super::state::{Line, Order, Shop, now};
use crate::core::{bad_request, lock, not_found};
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

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SeedIn {
    seed: Option<u64>,
    products: Option<usize>,
    orders: Option<usize>,
}

async fn reseed(State(sim): State<Arc<Sim>>, body: Bytes) -> Response {
    let input: SeedIn = match serde_json::from_slice(&body) {
        Ok(i) => i,
        Err(e) => return bad_request(&e.to_string()),
    };
    let products = input.products.unwrap_or(50);
    let orders = input.orders.unwrap_or(0);
    if products > 100_000 || orders > 200_000 {
        return bad_request("at most 100000 products and 200000 orders");
    }
    let mut shop = lock(&sim.shop);
    let seed = input.seed.unwrap_or(shop.seed);
    *shop = Shop::seeded(seed, products, orders);
    Json(json!({ "seed": seed, "products": shop.products.len(), "orders": shop.orders.len() }))
        .into_response()
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct LineIn {
    sku: String,
    quantity: i64,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PlaceIn {
    lines: Vec<LineIn>,
    #[serde(default = "yes")]
    paid: bool,
    country: Option<String>,
    customer_note: Option<String>,
}

fn yes() -> bool {
    true
}

/// Place an order as a customer at checkout.
async fn place_order(State(sim): State<Arc<Sim>>, headers: HeaderMap, body: Bytes) -> Response {
    let input: PlaceIn = match serde_json::from_slice(&body) {
        Ok(i) => i,
        Err(e) => return bad_request(&e.to_string()),
    };
    if input.lines.is_empty() {
        return bad_request("an order needs at least one line");
    }
    let rendered = {
        let mut shop = lock(&sim.shop);
        let mut lines = Vec::new();
        for l in &input.lines {
            if !(1..=10_000).contains(&l.quantity) {
                return bad_request("quantity must be between 1 and 10000");
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
        let mut rng = fastrand::Rng::with_seed(shop.next_id);
        let mut customer = seed::generate(rng.u64(..), 0, 1)
            .orders
            .pop()
            .map(|o| o.customer)
            .unwrap_or_else(unreachable_customer);
        if let Some(c) = &input.country {
            customer.country.clone_from(c);
        }
        let at = now();
        let id = shop.id();
        let order = Order {
            id,
            order_key: format!("wc_order_{:013x}", id.wrapping_mul(0x9e37_79b9)),
            status: "pending".into(),
            currency: "EUR",
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
        shop.orders
            .get(&id)
            .map(|o| render::order(o, &format!("http://{}", host(&headers))))
    };
    match rendered {
        Some(o) => {
            fire(&sim, "order.created", &o, &headers);
            (StatusCode::CREATED, Json(o)).into_response()
        }
        None => not_found("order vanished"),
    }
}

fn unreachable_customer() -> seed::Person {
    seed::Person {
        first_name: "Sam".into(),
        last_name: "Buyer".into(),
        email: "sam@example.com".into(),
        phone: "+31 20 000 0000".into(),
        company: None,
        address1: "1 Dorpsstraat".into(),
        address2: None,
        city: "Utrecht".into(),
        region: None,
        postcode: "3511 AB".into(),
        country: "NL".into(),
    }
}

fn host(headers: &HeaderMap) -> String {
    headers
        .get("host")
        .and_then(|h| h.to_str().ok())
        .unwrap_or("127.0.0.1")
        .to_owned()
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
            .map(|o| render::order(o, &format!("http://{}", host(headers))))
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

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TouchIn {
    ids: Vec<u64>,
}

/// Edit orders as a shop manager would (a private note on the order), so
/// their modified date moves: for "updated while paging" scenarios.
async fn touch(State(sim): State<Arc<Sim>>, body: Bytes) -> Response {
    let input: TouchIn = match serde_json::from_slice(&body) {
        Ok(i) => i,
        Err(e) => return bad_request(&e.to_string()),
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
