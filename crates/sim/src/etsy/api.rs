//! The Open API v3 routes: the key and rate-limit gate, OAuth, receipts,
//! tracking, listings and inventories.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};

use super::shop::{
    Offering, Product, Receipt, Shipment, inventory_json, listing_json, receipt_json,
};
use super::{App, PER_DAY, PER_SECOND, Sim, TOKEN_LIFETIME, err};
use crate::core::{TokenCheck, form, lock, oauth_error};

/// `x-api-key` on every route, the rate limits, and their headers.
pub(super) async fn gate(State(sim): State<App>, req: Request, next: Next) -> Response {
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
    match shop.access_tokens.check(sent, now_secs()) {
        TokenCheck::Valid => Ok(()),
        TokenCheck::Expired => Err(err(StatusCode::UNAUTHORIZED, "access token is expired")),
        TokenCheck::Unknown => Err(err(StatusCode::UNAUTHORIZED, "invalid_token")),
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

pub(super) async fn token(State(sim): State<App>, body: Bytes) -> Response {
    let f = form(&body);
    let bad = |e: &str, d: &str| oauth_error(StatusCode::BAD_REQUEST, e, d);
    if f.get("client_id") != Some(&sim.creds.keystring) {
        return bad("invalid_client", "client_id is not a known app");
    }
    match f.get("grant_type").map(String::as_str) {
        Some("refresh_token") => {
            if f.get("refresh_token") != Some(&sim.creds.refresh_token)
                || sim.core.faults().auth_revoked
            {
                return bad("invalid_grant", "refresh_token is invalid or revoked");
            }
        }
        Some("authorization_code") => {
            if let Err(e) = super::oauth::redeem(
                &sim,
                f.get("code"),
                f.get("redirect_uri"),
                f.get("code_verifier"),
            ) {
                return bad("invalid_grant", e);
            }
        }
        _ => {
            return bad(
                "unsupported_grant_type",
                "grant_type must be authorization_code or refresh_token",
            );
        }
    }
    let mut shop = lock(&sim.shop);
    let n = shop.id();
    let access = format!("{}.access{n:x}", sim.creds.shop_id + 1);
    let now = now_secs();
    shop.access_tokens
        .issue(access.clone(), now + TOKEN_LIFETIME, now);
    Json(json!({
        "access_token": access, "token_type": "Bearer", "expires_in": TOKEN_LIFETIME,
        "refresh_token": sim.creds.refresh_token,
    }))
    .into_response()
}

pub(super) async fn me(State(sim): State<App>, headers: HeaderMap) -> Response {
    if let Err(r) = authorize(&sim, &headers) {
        return r;
    }
    Json(json!({ "user_id": sim.creds.shop_id + 1, "shop_id": sim.creds.shop_id })).into_response()
}

#[derive(Debug, Deserialize)]
pub(super) struct ReceiptsQuery {
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

pub(super) async fn receipts(
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

pub(super) async fn one_receipt(
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

pub(super) async fn tracking(
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
pub(super) struct ListingsQuery {
    limit: Option<i64>,
    offset: Option<i64>,
    state: Option<String>,
    /// `Inventory` (comma-separated with others) embeds each listing's inventory.
    includes: Option<String>,
}

pub(super) async fn listings(
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

pub(super) async fn get_inventory(
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
pub(super) async fn put_inventory(
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
