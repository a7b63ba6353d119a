//! The `/_sim` control routes: place and cancel orders as a buyer, read
//! back stock and shipments.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};

use super::App;
use super::shop::{Receipt, Txn, receipt_json};
use crate::core::{self, LineIn, lock, parse_body};
use crate::seed;

#[derive(Debug, Deserialize)]
struct PlaceIn {
    lines: Vec<LineIn>,
    #[serde(default = "core::default_paid")]
    paid: bool,
    country: Option<String>,
}

/// Place an order as a buyer: stock is taken at once.
pub(super) async fn place(State(sim): State<App>, body: Bytes) -> Response {
    let input: PlaceIn = match parse_body(&body) {
        Ok(i) => i,
        Err(r) => return r,
    };
    if input.lines.is_empty() {
        return core::bad_request("an order needs at least one line");
    }
    let mut shop = lock(&sim.shop);
    let mut txns = Vec::new();
    for l in &input.lines {
        if let Err(r) = l.check() {
            return r;
        }
        let Some((listing_id, p)) = shop.product_by_sku(&l.sku) else {
            return core::bad_request(&format!("no product with SKU {}", l.sku));
        };
        let title = shop
            .listings
            .get(&listing_id)
            .map(|x| x.title.clone())
            .unwrap_or_default();
        txns.push((
            listing_id,
            p.id,
            l.sku.clone(),
            title,
            l.quantity,
            p.offering.price,
        ));
    }
    for (listing_id, pid, _, _, q, _) in &txns {
        if let Some(p) = shop
            .listings
            .get_mut(listing_id)
            .and_then(|l| l.products.iter_mut().find(|p| p.id == *pid))
        {
            p.offering.quantity -= q;
        }
    }
    let rid = shop.id();
    let now = shop.tick();
    let txns = txns
        .into_iter()
        .map(
            |(listing_id, product_id, sku, title, quantity, price)| Txn {
                id: shop.id(),
                listing_id,
                product_id,
                sku: Some(sku),
                title,
                quantity,
                price,
            },
        )
        .collect();
    let receipt = Receipt {
        id: rid,
        buyer: seed::customer(rid, input.country.as_deref()),
        created: now,
        updated: now,
        paid: input.paid,
        canceled: false,
        shipping: 450,
        txns,
        shipments: Vec::new(),
    };
    let out = receipt_json(sim.creds.shop_id, &receipt);
    shop.receipts.insert(rid, receipt);
    (
        StatusCode::CREATED,
        Json(json!({ "id": rid, "receipt": out })),
    )
        .into_response()
}

pub(super) async fn cancel(State(sim): State<App>, Path(id): Path<u64>) -> Response {
    let mut shop = lock(&sim.shop);
    let now = shop.tick();
    match shop.receipts.get_mut(&id) {
        Some(r) => {
            r.canceled = true;
            r.updated = now;
            Json(receipt_json(sim.creds.shop_id, r)).into_response()
        }
        None => core::not_found(&format!("no receipt {id}")),
    }
}

pub(super) async fn stock(State(sim): State<App>) -> Json<Value> {
    let shop = lock(&sim.shop);
    let items: Vec<Value> = shop
        .listings
        .values()
        .flat_map(|l| {
            l.products.iter().filter_map(move |p| {
                p.sku.as_ref().map(|s| {
                    json!({ "sku": s, "listing_id": l.id, "product_id": p.id, "quantity": p.offering.quantity })
                })
            })
        })
        .collect();
    Json(json!({ "items": items }))
}

pub(super) async fn fulfilments(State(sim): State<App>) -> Json<Value> {
    let shop = lock(&sim.shop);
    let orders: Vec<Value> = shop
        .receipts
        .values()
        .filter(|r| !r.shipments.is_empty())
        .map(|r| {
            json!({ "order_id": r.id, "shipments": r.shipments.iter().map(|s| json!({
                "carrier_name": s.carrier, "tracking_code": s.code })).collect::<Vec<_>>() })
        })
        .collect();
    Json(json!({ "orders": orders }))
}

pub(super) async fn status(State(sim): State<App>) -> Json<Value> {
    let shop = lock(&sim.shop);
    Json(json!({
        "channel": "etsy", "credentials": sim.creds,
        "listings": shop.listings.len(), "receipts": shop.receipts.len(),
    }))
}
