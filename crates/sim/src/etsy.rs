//! Etsy Open API v3 (`/v3/application`), as described by
//! `channel-specs/etsy/etsy_openapi_3.0.0.json`.
//!
//! - Auth: every request carries `x-api-key` (the app's keystring); shop
//!   routes also need `Authorization: Bearer <access token>`, whose token
//!   expires after an hour and is renewed at `POST /v3/public/oauth/token`
//!   (`grant_type=refresh_token`, form-encoded). Errors are
//!   `{"error": "..."}` (OAuth errors `{"error", "error_description"}`).
//! - Receipts (orders): `GET /shops/{shop_id}/receipts` with
//!   `min_last_modified` (Unix seconds), `limit` (1–100, default 25),
//!   `offset`, `sort_on` (`created`, `updated`, `receipt_id`) and
//!   `sort_order`; answered `{count, results}`. Money is `{amount, divisor,
//!   currency_code}`. `POST /shops/{shop_id}/receipts/{id}/tracking`
//!   (form-encoded `tracking_code`, `carrier_name`) adds a shipment.
//! - Listings: `GET /shops/{shop_id}/listings` and
//!   `GET/PUT /listings/{id}/inventory`. A PUT **replaces** the listing's
//!   products: any product left out is deleted, as on Etsy, so a client
//!   must read, modify and write back the whole inventory.
//! - Rate limits: 10 requests a second and 10,000 a day per app, with
//!   `x-limit-per-second`, `x-remaining-this-second`, `x-limit-per-day`,
//!   `x-remaining-today` on every answer and 429 + `retry-after` past them.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::{Path, Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::core::{self, Core, LineIn, lock, parse_body};
use crate::seed;

/// The currency of the simulated shop.
const CURRENCY: &str = "EUR";
/// Requests per second and per day allowed to the app.
pub const PER_SECOND: u32 = 10;
/// Requests per day.
pub const PER_DAY: u32 = 10_000;
/// Seconds an access token lives.
const TOKEN_LIFETIME: i64 = 3600;

/// What an Etsy app connected to the simulated shop holds.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EtsyCredentials {
    /// The app's keystring (`x-api-key`).
    pub keystring: String,
    /// The OAuth refresh token of the shop owner.
    pub refresh_token: String,
    /// The shop's id.
    pub shop_id: u64,
}

impl EtsyCredentials {
    /// The credentials of the shop generated from `seed`.
    #[must_use]
    pub fn for_seed(seed: u64) -> Self {
        Self {
            keystring: format!("etsykey{seed:08x}"),
            refresh_token: format!("{}.refresh{seed:016x}", 40_000_000 + seed),
            shop_id: 30_000_000 + seed,
        }
    }
}

#[derive(Debug, Clone)]
struct Offering {
    id: u64,
    quantity: i64,
    price: i64,
    enabled: bool,
}

#[derive(Debug, Clone)]
struct Product {
    id: u64,
    sku: Option<String>,
    size: Option<String>,
    offering: Offering,
}

#[derive(Debug, Clone)]
struct Listing {
    id: u64,
    title: String,
    products: Vec<Product>,
    updated: i64,
}

#[derive(Debug, Clone)]
struct Txn {
    id: u64,
    listing_id: u64,
    product_id: u64,
    sku: Option<String>,
    title: String,
    quantity: i64,
    price: i64,
}

#[derive(Debug, Clone)]
struct Shipment {
    id: u64,
    at: i64,
    carrier: String,
    code: String,
}

#[derive(Debug, Clone)]
struct Receipt {
    id: u64,
    buyer: seed::Person,
    created: i64,
    updated: i64,
    paid: bool,
    canceled: bool,
    shipping: i64,
    txns: Vec<Txn>,
    shipments: Vec<Shipment>,
}

impl Receipt {
    fn subtotal(&self) -> i64 {
        self.txns.iter().map(|t| t.price * t.quantity).sum()
    }

    fn status(&self) -> &'static str {
        if self.canceled {
            "canceled"
        } else if !self.shipments.is_empty() {
            "completed"
        } else if self.paid {
            "paid"
        } else {
            "payment processing"
        }
    }
}

#[derive(Debug)]
struct Shop {
    next_id: u64,
    /// Simulated seconds (moves on with every change).
    now: i64,
    listings: BTreeMap<u64, Listing>,
    receipts: BTreeMap<u64, Receipt>,
    access_token: Option<(String, i64)>,
    /// `(second, used)` and `(day, used)` of the app's rate limits.
    second: (i64, u32),
    day: (i64, u32),
}

impl Shop {
    fn id(&mut self) -> u64 {
        self.next_id += 1;
        self.next_id
    }

    /// Now (real time), strictly after every earlier change.
    fn tick(&mut self) -> i64 {
        self.now = (self.now + 1).max(chrono::Utc::now().timestamp());
        self.now
    }

    fn product_by_sku(&self, sku: &str) -> Option<(u64, &Product)> {
        self.listings.values().find_map(|l| {
            l.products
                .iter()
                .find(|p| p.sku.as_deref() == Some(sku))
                .map(|p| (l.id, p))
        })
    }

    fn seeded(seed: u64, products: usize, orders: usize) -> Self {
        let g = seed::generate(seed, products, orders);
        let mut shop = Self {
            next_id: 1_000_000_000 + seed * 1_000_000,
            now: seed::anchor().timestamp(),
            listings: BTreeMap::new(),
            receipts: BTreeMap::new(),
            access_token: None,
            second: (0, 0),
            day: (0, 0),
        };
        let mut ids = Vec::new();
        for p in &g.products {
            let id = shop.id();
            let mut prods = Vec::new();
            for v in &p.variants {
                let (pid, oid) = (shop.id(), shop.id());
                prods.push(Product {
                    id: pid,
                    sku: v.sku.clone(),
                    size: p.has_options.then(|| v.title.clone()),
                    offering: Offering {
                        id: oid,
                        quantity: v.stock,
                        price: v.price,
                        enabled: true,
                    },
                });
            }
            ids.push(id);
            shop.listings.insert(
                id,
                Listing {
                    id,
                    title: p.title.clone(),
                    products: prods,
                    updated: shop.now,
                },
            );
        }
        for o in &g.orders {
            let rid = shop.id();
            let mut txns = Vec::new();
            for (pi, vi, q) in &o.lines {
                let Some(l) = ids.get(*pi).and_then(|id| shop.listings.get(id)) else {
                    continue;
                };
                let Some(p) = l.products.get(*vi) else {
                    continue;
                };
                txns.push((
                    l.id,
                    p.id,
                    p.sku.clone(),
                    l.title.clone(),
                    *q,
                    p.offering.price,
                ));
            }
            let txns = txns
                .into_iter()
                .map(
                    |(listing_id, product_id, sku, title, quantity, price)| Txn {
                        id: shop.id(),
                        listing_id,
                        product_id,
                        sku,
                        title,
                        quantity,
                        price,
                    },
                )
                .collect();
            let t = o.created_at.timestamp();
            shop.receipts.insert(
                rid,
                Receipt {
                    id: rid,
                    buyer: o.customer.clone(),
                    created: t,
                    updated: t,
                    paid: o.paid,
                    canceled: o.cancelled,
                    shipping: o.shipping,
                    txns,
                    shipments: Vec::new(),
                },
            );
        }
        shop
    }
}

fn money(amount: i64) -> Value {
    json!({ "amount": amount, "divisor": 100, "currency_code": CURRENCY })
}

fn receipt_json(shop_id: u64, r: &Receipt) -> Value {
    let b = &r.buyer;
    let subtotal = r.subtotal();
    json!({
        "receipt_id": r.id, "receipt_type": 0, "seller_user_id": shop_id + 1, "seller_email": "shop@example.com",
        "buyer_user_id": 50_000_000 + r.id % 1_000_000, "buyer_email": b.email,
        "name": format!("{} {}", b.first_name, b.last_name),
        "first_line": b.address1, "second_line": null, "city": b.city, "state": b.region, "zip": b.postcode,
        "status": r.status(),
        "formatted_address": format!("{} {}\n{}\n{} {}", b.first_name, b.last_name, b.address1, b.postcode, b.city),
        "country_iso": b.country, "payment_method": "cc", "payment_email": null,
        "message_from_seller": null, "message_from_buyer": null, "message_from_payment": null,
        "is_paid": r.paid, "is_shipped": !r.shipments.is_empty(),
        "create_timestamp": r.created, "created_timestamp": r.created,
        "update_timestamp": r.updated, "updated_timestamp": r.updated,
        "is_gift": false, "gift_message": "", "gift_sender": "",
        "grandtotal": money(subtotal + r.shipping), "subtotal": money(subtotal),
        "total_price": money(subtotal), "total_shipping_cost": money(r.shipping),
        "total_tax_cost": money(0), "total_vat_cost": money(0), "discount_amt": money(0), "gift_wrap_price": money(0),
        "shipments": r.shipments.iter().map(|s| json!({
            "receipt_shipping_id": s.id, "shipment_notification_timestamp": s.at,
            "carrier_name": s.carrier, "tracking_code": s.code,
        })).collect::<Vec<_>>(),
        "transactions": r.txns.iter().map(|t| json!({
            "transaction_id": t.id, "title": t.title, "description": "", "seller_user_id": shop_id + 1,
            "buyer_user_id": 50_000_000 + r.id % 1_000_000, "create_timestamp": r.created, "created_timestamp": r.created,
            "paid_timestamp": r.paid.then_some(r.created),
            "shipped_timestamp": r.shipments.first().map(|s| s.at),
            "quantity": t.quantity, "listing_image_id": null, "receipt_id": r.id, "is_digital": false, "file_data": "",
            "listing_id": t.listing_id, "transaction_type": "listing", "product_id": t.product_id, "sku": t.sku,
            "price": money(t.price), "shipping_cost": money(0), "variations": [], "product_data": [],
            "shipping_profile_id": null, "min_processing_days": 1, "max_processing_days": 3,
            "shipping_method": null, "shipping_upgrade": null, "expected_ship_date": r.created + 3 * 86_400,
            "buyer_coupon": 0, "shop_coupon": 0,
        })).collect::<Vec<_>>(),
        "refunds": [],
    })
}

fn product_json(p: &Product) -> Value {
    json!({
        "product_id": p.id, "sku": p.sku.clone().unwrap_or_default(), "is_deleted": false,
        "offerings": [{
            "offering_id": p.offering.id, "quantity": p.offering.quantity, "is_enabled": p.offering.enabled,
            "is_deleted": false, "price": money(p.offering.price), "readiness_state_id": null,
        }],
        "property_values": p.size.as_ref().map_or_else(Vec::new, |s| vec![json!({
            "property_id": 100, "property_name": "Size", "scale_id": null, "scale_name": null,
            "values": [s], "value_ids": [value_id(s)],
        })]),
    })
}

fn value_id(size: &str) -> u64 {
    size.bytes()
        .fold(1_000, |a, b| a * 31 % 1_000_000 + u64::from(b))
}

fn inventory_json(l: &Listing) -> Value {
    let sized = l.products.iter().any(|p| p.size.is_some());
    let on = if sized { json!([100]) } else { json!([]) };
    json!({
        "products": l.products.iter().map(product_json).collect::<Vec<_>>(),
        "price_on_property": on, "quantity_on_property": on, "sku_on_property": on,
        "readiness_state_on_property": [],
    })
}

fn listing_json(shop_id: u64, l: &Listing) -> Value {
    let quantity: i64 = l.products.iter().map(|p| p.offering.quantity).sum();
    let price = l.products.first().map_or(0, |p| p.offering.price);
    json!({
        "listing_id": l.id, "user_id": shop_id + 1, "shop_id": shop_id, "title": l.title, "description": "",
        "state": "active", "creation_timestamp": l.updated, "created_timestamp": l.updated,
        "last_modified_timestamp": l.updated, "updated_timestamp": l.updated, "quantity": quantity,
        "url": format!("https://www.etsy.com/listing/{}", l.id), "listing_type": "physical",
        "skus": l.products.iter().filter_map(|p| p.sku.clone()).collect::<Vec<_>>(),
        "price": money(price),
    })
}

/// The simulator's shared state.
#[derive(Debug)]
struct Sim {
    core: Arc<Core>,
    shop: Mutex<Shop>,
    creds: EtsyCredentials,
}

type App = Arc<Sim>;

fn err(status: StatusCode, message: &str) -> Response {
    (status, Json(json!({ "error": message }))).into_response()
}

fn error_body(status: u16) -> Value {
    json!({ "error": match status {
        429 => "You have exceeded your rate limit",
        401 => "invalid_token",
        _ => "Internal server error",
    }})
}

/// `x-api-key` on every route, the rate limits, and their headers.
async fn gate(State(sim): State<App>, req: Request, next: Next) -> Response {
    if req.headers().get("x-api-key").and_then(|v| v.to_str().ok())
        != Some(sim.creds.keystring.as_str())
    {
        return err(StatusCode::FORBIDDEN, "Invalid API key");
    }
    let secs = i64::try_from(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs()),
    )
    .unwrap_or(0);
    let (left_second, left_day) = {
        let mut shop = lock(&sim.shop);
        if shop.second.0 != secs {
            shop.second = (secs, 0);
        }
        if shop.day.0 != secs / 86_400 {
            shop.day = (secs / 86_400, 0);
        }
        shop.second.1 += 1;
        shop.day.1 += 1;
        (
            i64::from(PER_SECOND) - i64::from(shop.second.1),
            i64::from(PER_DAY) - i64::from(shop.day.1),
        )
    };
    let mut resp = if left_second < 0 || left_day < 0 {
        let mut r = err(
            StatusCode::TOO_MANY_REQUESTS,
            "You have exceeded your rate limit",
        );
        let wait = if left_day < 0 {
            86_400 - secs % 86_400
        } else {
            1
        };
        r.headers_mut()
            .insert("retry-after", HeaderValue::from(wait));
        r
    } else {
        next.run(req).await
    };
    let h = resp.headers_mut();
    h.insert("x-limit-per-second", HeaderValue::from(PER_SECOND));
    h.insert(
        "x-remaining-this-second",
        HeaderValue::from(left_second.max(0)),
    );
    h.insert("x-limit-per-day", HeaderValue::from(PER_DAY));
    h.insert("x-remaining-today", HeaderValue::from(left_day.max(0)));
    resp
}

/// The bearer token of shop routes.
#[allow(
    clippy::result_large_err,
    reason = "the error is the finished response, as handlers return it"
)]
fn authorize(sim: &Sim, headers: &HeaderMap) -> Result<(), Response> {
    if sim.core.faults().auth_revoked {
        return Err(err(StatusCode::UNAUTHORIZED, "invalid_token"));
    }
    let sent = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    let shop = lock(&sim.shop);
    match (&shop.access_token, sent) {
        (Some((token, expires)), Some(s)) if s == token => {
            if *expires <= now_secs() {
                Err(err(StatusCode::UNAUTHORIZED, "access token is expired"))
            } else {
                Ok(())
            }
        }
        _ => Err(err(StatusCode::UNAUTHORIZED, "invalid_token")),
    }
}

fn now_secs() -> i64 {
    chrono::Utc::now().timestamp()
}

#[allow(
    clippy::result_large_err,
    reason = "the error is the finished response, as handlers return it"
)]
fn check_shop(sim: &Sim, shop_id: u64) -> Result<(), Response> {
    if shop_id == sim.creds.shop_id {
        Ok(())
    } else {
        Err(err(
            StatusCode::FORBIDDEN,
            "You do not have permission to access this shop",
        ))
    }
}

/// A shop route: a valid token, and the token's own shop.
#[allow(
    clippy::result_large_err,
    reason = "the error is the finished response, as handlers return it"
)]
fn shop_access(sim: &Sim, headers: &HeaderMap, shop_id: u64) -> Result<(), Response> {
    authorize(sim, headers)?;
    check_shop(sim, shop_id)
}

fn form(body: &[u8]) -> BTreeMap<String, String> {
    serde_urlencoded::from_bytes::<Vec<(String, String)>>(body)
        .unwrap_or_default()
        .into_iter()
        .collect()
}

async fn token(State(sim): State<App>, body: Bytes) -> Response {
    let f = form(&body);
    let bad = |e: &str, d: &str| {
        (
            StatusCode::BAD_REQUEST,
            Json(json!({ "error": e, "error_description": d })),
        )
            .into_response()
    };
    if f.get("grant_type").map(String::as_str) != Some("refresh_token") {
        return bad("unsupported_grant_type", "grant_type must be refresh_token");
    }
    if f.get("client_id") != Some(&sim.creds.keystring) {
        return bad("invalid_client", "client_id is not a known app");
    }
    if f.get("refresh_token") != Some(&sim.creds.refresh_token) || sim.core.faults().auth_revoked {
        return bad("invalid_grant", "refresh_token is invalid or revoked");
    }
    let mut shop = lock(&sim.shop);
    let n = shop.id();
    let access = format!("{}.access{n:x}", sim.creds.shop_id + 1);
    shop.access_token = Some((access.clone(), now_secs() + TOKEN_LIFETIME));
    Json(json!({
        "access_token": access, "token_type": "Bearer", "expires_in": TOKEN_LIFETIME,
        "refresh_token": sim.creds.refresh_token,
    }))
    .into_response()
}

async fn me(State(sim): State<App>, headers: HeaderMap) -> Response {
    if let Err(r) = authorize(&sim, &headers) {
        return r;
    }
    Json(json!({ "user_id": sim.creds.shop_id + 1, "shop_id": sim.creds.shop_id })).into_response()
}

#[derive(Debug, Deserialize)]
struct ReceiptsQuery {
    min_last_modified: Option<i64>,
    max_last_modified: Option<i64>,
    limit: Option<i64>,
    offset: Option<i64>,
    sort_on: Option<String>,
    sort_order: Option<String>,
    was_paid: Option<bool>,
}

#[allow(
    clippy::result_large_err,
    reason = "the error is the finished response, as handlers return it"
)]
fn page_bounds(limit: Option<i64>, offset: Option<i64>) -> Result<(usize, usize), Response> {
    let limit = limit.unwrap_or(25);
    if !(1..=100).contains(&limit) {
        return Err(err(
            StatusCode::BAD_REQUEST,
            "Expected int <= 100 and >= 1 for 'limit'",
        ));
    }
    let offset = offset.unwrap_or(0);
    if offset < 0 {
        return Err(err(
            StatusCode::BAD_REQUEST,
            "Expected int >= 0 for 'offset'",
        ));
    }
    Ok((
        usize::try_from(limit).unwrap_or(25),
        usize::try_from(offset).unwrap_or(0),
    ))
}

async fn receipts(
    State(sim): State<App>,
    headers: HeaderMap,
    Path(shop_id): Path<u64>,
    Query(q): Query<ReceiptsQuery>,
) -> Response {
    if let Err(r) = shop_access(&sim, &headers, shop_id) {
        return r;
    }
    let (limit, offset) = match page_bounds(q.limit, q.offset) {
        Ok(b) => b,
        Err(r) => return r,
    };
    let shop = lock(&sim.shop);
    let mut rs: Vec<&Receipt> = shop
        .receipts
        .values()
        .filter(|r| q.min_last_modified.is_none_or(|m| r.updated >= m))
        .filter(|r| q.max_last_modified.is_none_or(|m| r.updated <= m))
        .filter(|r| q.was_paid.is_none_or(|p| r.paid == p))
        .collect();
    match q.sort_on.as_deref().unwrap_or("created") {
        "created" => rs.sort_by_key(|r| (r.created, r.id)),
        "updated" => rs.sort_by_key(|r| (r.updated, r.id)),
        "receipt_id" => rs.sort_by_key(|r| r.id),
        other => {
            return err(
                StatusCode::BAD_REQUEST,
                &format!("sort_on must be one of created, updated, receipt_id (got {other})"),
            );
        }
    }
    if q.sort_order.as_deref().unwrap_or("desc") != "asc" {
        rs.reverse();
    }
    let count = rs.len();
    let mut results: Vec<Value> = rs
        .into_iter()
        .skip(offset)
        .take(limit)
        .map(|r| receipt_json(shop_id, r))
        .collect();
    drop(shop);
    sim.core.disturb_page(&mut results, None);
    Json(json!({ "count": count, "results": results })).into_response()
}

async fn one_receipt(
    State(sim): State<App>,
    headers: HeaderMap,
    Path((shop_id, id)): Path<(u64, u64)>,
) -> Response {
    if let Err(r) = shop_access(&sim, &headers, shop_id) {
        return r;
    }
    match lock(&sim.shop).receipts.get(&id) {
        Some(r) => Json(receipt_json(shop_id, r)).into_response(),
        None => err(StatusCode::NOT_FOUND, &format!("Receipt {id} not found")),
    }
}

async fn tracking(
    State(sim): State<App>,
    headers: HeaderMap,
    Path((shop_id, id)): Path<(u64, u64)>,
    body: Bytes,
) -> Response {
    if let Err(r) = shop_access(&sim, &headers, shop_id) {
        return r;
    }
    let f = form(&body);
    let Some(code) = f.get("tracking_code").filter(|c| !c.trim().is_empty()) else {
        return err(StatusCode::BAD_REQUEST, "tracking_code is required");
    };
    let carrier = f.get("carrier_name").cloned().unwrap_or_default();
    let mut shop = lock(&sim.shop);
    let (sid, now) = (shop.id(), shop.tick());
    let Some(r) = shop.receipts.get_mut(&id) else {
        return err(StatusCode::NOT_FOUND, &format!("Receipt {id} not found"));
    };
    if r.canceled {
        return err(StatusCode::CONFLICT, "Cannot ship a canceled receipt");
    }
    r.shipments.push(Shipment {
        id: sid,
        at: now,
        carrier,
        code: code.trim().to_owned(),
    });
    r.updated = now;
    Json(receipt_json(shop_id, r)).into_response()
}

#[derive(Debug, Deserialize)]
struct ListingsQuery {
    limit: Option<i64>,
    offset: Option<i64>,
    state: Option<String>,
    /// `Inventory` (comma-separated with others) embeds each listing's inventory.
    includes: Option<String>,
}

async fn listings(
    State(sim): State<App>,
    headers: HeaderMap,
    Path(shop_id): Path<u64>,
    Query(q): Query<ListingsQuery>,
) -> Response {
    if q.state.as_deref().is_some_and(|s| s != "active") {
        // Every simulated listing is active.
        return Json(json!({ "count": 0, "results": [] })).into_response();
    }
    let with_inventory = q
        .includes
        .as_deref()
        .is_some_and(|i| i.split(',').any(|x| x.trim() == "Inventory"));
    if let Err(r) = shop_access(&sim, &headers, shop_id) {
        return r;
    }
    let (limit, offset) = match page_bounds(q.limit, q.offset) {
        Ok(b) => b,
        Err(r) => return r,
    };
    let shop = lock(&sim.shop);
    let results: Vec<Value> = shop
        .listings
        .values()
        .skip(offset)
        .take(limit)
        .map(|l| {
            let mut v = listing_json(shop_id, l);
            if with_inventory {
                v["inventory"] = inventory_json(l);
            }
            v
        })
        .collect();
    Json(json!({ "count": shop.listings.len(), "results": results })).into_response()
}

async fn get_inventory(
    State(sim): State<App>,
    headers: HeaderMap,
    Path(id): Path<u64>,
) -> Response {
    if let Err(r) = authorize(&sim, &headers) {
        return r;
    }
    match lock(&sim.shop).listings.get(&id) {
        Some(l) => Json(inventory_json(l)).into_response(),
        None => err(StatusCode::NOT_FOUND, &format!("Listing {id} not found")),
    }
}

#[derive(Debug, Deserialize)]
struct InventoryIn {
    products: Vec<ProductIn>,
}

#[derive(Debug, Deserialize)]
struct ProductIn {
    sku: Option<String>,
    #[serde(default)]
    property_values: Vec<PropertyIn>,
    offerings: Vec<OfferingIn>,
}

#[derive(Debug, Deserialize)]
struct PropertyIn {
    #[serde(default)]
    values: Vec<String>,
}

#[derive(Debug, Deserialize)]
struct OfferingIn {
    price: f64,
    quantity: i64,
    is_enabled: bool,
}

/// Replace a listing's products, as Etsy does: what is not sent is deleted.
async fn put_inventory(
    State(sim): State<App>,
    headers: HeaderMap,
    Path(id): Path<u64>,
    body: Bytes,
) -> Response {
    if let Err(r) = authorize(&sim, &headers) {
        return r;
    }
    let input: InventoryIn = match serde_json::from_slice(&body) {
        Ok(i) => i,
        Err(e) => return err(StatusCode::BAD_REQUEST, &format!("Invalid products: {e}")),
    };
    if input.products.is_empty() {
        return err(
            StatusCode::BAD_REQUEST,
            "products must contain at least one product",
        );
    }
    let mut shop = lock(&sim.shop);
    if !shop.listings.contains_key(&id) {
        return err(StatusCode::NOT_FOUND, &format!("Listing {id} not found"));
    }
    let mut products = Vec::new();
    for p in input.products {
        let [o] = p.offerings.as_slice() else {
            return err(
                StatusCode::BAD_REQUEST,
                "each product needs exactly one offering",
            );
        };
        if !(0..=999).contains(&o.quantity) {
            return err(
                StatusCode::BAD_REQUEST,
                "Offering quantity must be between 0 and 999",
            );
        }
        if !(o.price.is_finite() && o.price >= 0.2) {
            return err(
                StatusCode::BAD_REQUEST,
                "Offering price must be at least 0.20",
            );
        }
        #[allow(clippy::cast_possible_truncation, reason = "prices are small")]
        let price = (o.price * 100.0).round() as i64;
        let (pid, oid) = (shop.id(), shop.id());
        products.push(Product {
            id: pid,
            sku: p.sku.filter(|s| !s.is_empty()),
            size: p
                .property_values
                .first()
                .and_then(|v| v.values.first().cloned()),
            offering: Offering {
                id: oid,
                quantity: o.quantity,
                price,
                enabled: o.is_enabled,
            },
        });
    }
    let now = shop.tick();
    let Some(l) = shop.listings.get_mut(&id) else {
        return err(StatusCode::NOT_FOUND, &format!("Listing {id} not found"));
    };
    l.products = products;
    l.updated = now;
    Json(inventory_json(l)).into_response()
}

#[derive(Debug, Deserialize)]
struct PlaceIn {
    lines: Vec<LineIn>,
    #[serde(default = "core::default_paid")]
    paid: bool,
    country: Option<String>,
}

/// Place an order as a buyer: stock is taken at once.
async fn place(State(sim): State<App>, body: Bytes) -> Response {
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

async fn cancel(State(sim): State<App>, Path(id): Path<u64>) -> Response {
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

async fn stock(State(sim): State<App>) -> Json<Value> {
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

async fn fulfilments(State(sim): State<App>) -> Json<Value> {
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

async fn status(State(sim): State<App>) -> Json<Value> {
    let shop = lock(&sim.shop);
    Json(json!({
        "channel": "etsy", "credentials": sim.creds,
        "listings": shop.listings.len(), "receipts": shop.receipts.len(),
    }))
}

/// Build the simulator's router.
pub(crate) fn router(seed: u64, products: usize, orders: usize, creds: EtsyCredentials) -> Router {
    let core = Core::new(seed, error_body);
    let sim = Arc::new(Sim {
        shop: Mutex::new(Shop::seeded(seed, products, orders)),
        core: Arc::clone(&core),
        creds,
    });
    let api = Router::new()
        .route("/v3/public/oauth/token", post(token))
        .route("/v3/application/users/me", get(me))
        .route("/v3/application/shops/{shop_id}/receipts", get(receipts))
        .route(
            "/v3/application/shops/{shop_id}/receipts/{receipt_id}",
            get(one_receipt),
        )
        .route(
            "/v3/application/shops/{shop_id}/receipts/{receipt_id}/tracking",
            post(tracking),
        )
        .route("/v3/application/shops/{shop_id}/listings", get(listings))
        .route(
            "/v3/application/listings/{listing_id}/inventory",
            get(get_inventory).put(put_inventory),
        )
        .layer(axum::middleware::from_fn_with_state(Arc::clone(&sim), gate))
        .layer(axum::middleware::from_fn_with_state(
            Arc::clone(&core),
            core::faults_layer,
        ))
        .with_state(Arc::clone(&sim));
    let control = Router::new()
        .route("/_sim/status", get(status))
        .route("/_sim/orders", post(place))
        .route("/_sim/orders/{id}/cancel", post(cancel))
        .route("/_sim/stock", get(stock))
        .route("/_sim/fulfilments", get(fulfilments))
        .with_state(sim);
    api.merge(control).merge(core::control_routes(core))
}
