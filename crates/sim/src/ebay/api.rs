//! The Sell API routes: the token and quota gate, OAuth, orders,
//! shipping fulfillments, inventory items and bulk stock updates.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::{Value, json};

use super::store::{Fulfillment, Order, fulfillment_json, item_json, order_json, time};
use super::{App, Sim, TOKEN_LIFETIME, error};
use crate::core::{TokenCheck, basic_auth, form, lock, oauth_error};

/// The API a path's calls count against.
fn api_of(path: &str) -> Option<&'static str> {
    if path.starts_with("/sell/fulfillment/") {
        Some("sell.fulfillment")
    } else if path.starts_with("/sell/inventory/") {
        Some("sell.inventory")
    } else {
        None
    }
}

fn day_now() -> (i64, i64) {
    let secs = Utc::now().timestamp();
    (secs.div_euclid(86_400), secs)
}

/// Bearer token on every API route, and each API's daily quota.
pub(super) async fn gate(State(sim): State<App>, req: Request, next: Next) -> Response {
    let path = req.uri().path().to_owned();
    if path == "/identity/v1/oauth2/token" {
        return next.run(req).await;
    }
    if let Err(r) = authorize(&sim, req.headers()) {
        return r;
    }
    if let Some(api) = api_of(&path) {
        let (day, _) = day_now();
        let mut q = lock(&sim.quotas);
        if let Some(quota) = q.get_mut(api) {
            if quota.day != day {
                quota.day = day;
                quota.used = 0;
            }
            if quota.used >= quota.limit {
                return error(
                    StatusCode::TOO_MANY_REQUESTS,
                    2001,
                    "ACCESS",
                    "Too many requests. The request limit has been reached for the resource.",
                );
            }
            quota.used += 1;
        }
    }
    next.run(req).await
}

#[allow(
    clippy::result_large_err,
    reason = "the error is the finished response, as handlers return it"
)]
fn authorize(sim: &Sim, headers: &HeaderMap) -> Result<(), Response> {
    let invalid = || {
        error(
            StatusCode::UNAUTHORIZED,
            1001,
            "OAuth",
            "Invalid access token",
        )
    };
    if sim.core.faults().auth_revoked {
        return Err(invalid());
    }
    let sent = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    let store = lock(&sim.store);
    match store.access_tokens.check(sent, Utc::now().timestamp()) {
        TokenCheck::Valid => Ok(()),
        TokenCheck::Expired | TokenCheck::Unknown => Err(invalid()),
    }
}

/// `POST /identity/v1/oauth2/token`: Basic client auth, refresh grant.
pub(super) async fn token(State(sim): State<App>, headers: HeaderMap, body: Bytes) -> Response {
    let basic = basic_auth(&headers);
    let expected = format!("{}:{}", sim.creds.client_id, sim.creds.client_secret);
    if basic.as_deref() != Some(expected.as_str()) {
        return oauth_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "client authentication failed",
        );
    }
    let f = form(&body);
    if f.get("grant_type").map(String::as_str) == Some("authorization_code") {
        if !super::consent::redeem(&sim, f.get("code"), f.get("redirect_uri")) {
            return oauth_error(
                StatusCode::BAD_REQUEST,
                "invalid_grant",
                "the provided authorization grant code is invalid or was issued to another client",
            );
        }
        let mut store = lock(&sim.store);
        let n = store.id();
        let access = format!("v^1.1#i^1#p^3#r^1#I^3#f^0#t^H4sI{n:x}");
        let now = Utc::now().timestamp();
        store
            .access_tokens
            .issue(access.clone(), now + TOKEN_LIFETIME, now);
        return Json(json!({
            "access_token": access, "expires_in": TOKEN_LIFETIME,
            "refresh_token": sim.creds.refresh_token, "refresh_token_expires_in": 47_304_000,
            "token_type": "User Access Token",
        }))
        .into_response();
    }
    if f.get("grant_type").map(String::as_str) != Some("refresh_token") {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            "grant type in request is not supported by the authorization server",
        );
    }
    if f.get("refresh_token") != Some(&sim.creds.refresh_token) || sim.core.faults().auth_revoked {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_grant",
            "the provided authorization refresh token is invalid or was issued to another client",
        );
    }
    if let Some(scope) = f.get("scope")
        && let Some(bad) = scope.split(' ').find(|s| {
            !s.is_empty()
                && !matches!(
                    *s,
                    "https://api.ebay.com/oauth/api_scope"
                        | "https://api.ebay.com/oauth/api_scope/sell.fulfillment"
                        | "https://api.ebay.com/oauth/api_scope/sell.inventory"
                        | "https://api.ebay.com/oauth/api_scope/sell.analytics.readonly"
                )
        })
    {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_scope",
            &format!(
                "the requested scope {bad} is invalid, unknown, malformed, or exceeds the scope granted to the client"
            ),
        );
    }
    let mut store = lock(&sim.store);
    let n = store.id();
    let access = format!("v^1.1#i^1#p^3#r^0#I^3#f^0#t^H4sI{n:x}");
    let now = Utc::now().timestamp();
    store
        .access_tokens
        .issue(access.clone(), now + TOKEN_LIFETIME, now);
    Json(json!({
        "access_token": access, "expires_in": TOKEN_LIFETIME, "token_type": "User Access Token",
    }))
    .into_response()
}

/// A parsed `filter` of `getOrders`.
#[derive(Debug, Default)]
struct Filter {
    created: Option<(DateTime<Utc>, Option<DateTime<Utc>>)>,
    modified: Option<(DateTime<Utc>, Option<DateTime<Utc>>)>,
    statuses: Option<Vec<String>>,
}

fn bad(id: u32, message: &str) -> Response {
    error(StatusCode::BAD_REQUEST, id, "API_FULFILLMENT", message)
}

#[allow(
    clippy::result_large_err,
    reason = "the error is the finished response, as handlers return it"
)]
fn range(name: &str, v: &str) -> Result<(DateTime<Utc>, Option<DateTime<Utc>>), Response> {
    let inner = v
        .strip_prefix('[')
        .and_then(|s| s.strip_suffix(']'))
        .ok_or_else(|| {
            bad(
                30800,
                &format!("Invalid filter value {v} for filter {name}"),
            )
        })?;
    let (a, b) = inner.split_once("..").ok_or_else(|| {
        bad(
            30800,
            &format!("Invalid filter value {v} for filter {name}"),
        )
    })?;
    if a.is_empty() {
        return Err(bad(30820, "Start date is missing"));
    }
    let parse = |s: &str| {
        DateTime::parse_from_rfc3339(s)
            .map(|t| t.with_timezone(&Utc))
            .map_err(|_| bad(30810, "Invalid date format"))
    };
    let start = parse(a)?;
    let end = if b.is_empty() { None } else { Some(parse(b)?) };
    if end.is_some_and(|e| e < start) {
        return Err(bad(30840, "Start date should be before end date"));
    }
    if start > Utc::now() + chrono::Duration::minutes(5) {
        return Err(bad(30850, "Start and end dates can't be in the future"));
    }
    Ok((start, end))
}

#[allow(
    clippy::result_large_err,
    reason = "the error is the finished response, as handlers return it"
)]
fn parse_filter(s: &str) -> Result<Filter, Response> {
    let mut f = Filter::default();
    for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (name, value) = part
            .split_once(':')
            .ok_or_else(|| bad(30700, &format!("Invalid filter name: {part}")))?;
        match name {
            "creationdate" => f.created = Some(range(name, value)?),
            "lastmodifieddate" => f.modified = Some(range(name, value)?),
            "orderfulfillmentstatus" => {
                let set = value
                    .strip_prefix('{')
                    .and_then(|s| s.strip_suffix('}'))
                    .ok_or_else(|| {
                        bad(
                            30800,
                            &format!("Invalid filter value {value} for filter {name}"),
                        )
                    })?;
                let v: Vec<String> = set.split('|').map(str::to_owned).collect();
                let mut sorted = v.clone();
                sorted.sort();
                if sorted != ["IN_PROGRESS", "NOT_STARTED"]
                    && sorted != ["FULFILLED", "IN_PROGRESS"]
                {
                    return Err(bad(
                        30800,
                        &format!("Invalid filter value {value} for filter {name}"),
                    ));
                }
                f.statuses = Some(v);
            }
            other => return Err(bad(30700, &format!("Invalid filter name: {other}"))),
        }
    }
    Ok(f)
}

impl Filter {
    fn admits(&self, o: &Order) -> bool {
        let within = |t: DateTime<Utc>, r: &Option<(DateTime<Utc>, Option<DateTime<Utc>>)>| {
            r.is_none_or(|(a, b)| t >= a && b.is_none_or(|b| t <= b))
        };
        // When both dates are given, eBay uses only the creation date.
        let dates = if self.created.is_some() {
            within(o.created, &self.created)
        } else {
            within(o.modified, &self.modified)
        };
        dates
            && self
                .statuses
                .as_ref()
                .is_none_or(|s| s.iter().any(|x| x == o.fulfillment_status()))
    }
}

#[derive(Debug, Deserialize)]
pub(super) struct OrdersQuery {
    filter: Option<String>,
    limit: Option<String>,
    offset: Option<String>,
    #[serde(rename = "orderIds")]
    order_ids: Option<String>,
}

fn seller(sim: &Sim) -> String {
    format!(
        "seller_{}",
        &sim.creds.client_id[sim.creds.client_id.len().saturating_sub(8)..]
    )
}

/// `getOrders`.
pub(super) async fn orders(
    State(sim): State<App>,
    headers: HeaderMap,
    Query(q): Query<OrdersQuery>,
) -> Response {
    let host = crate::core::host(&headers);
    let store = lock(&sim.store);
    if let Some(ids) = q.order_ids.as_deref() {
        let ids: Vec<&str> = ids
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .collect();
        if ids.len() > 50 {
            return bad(
                30900,
                "Exceeded maximum number of order IDs (the current limit is 50)",
            );
        }
        let orders: Vec<Value> = ids
            .iter()
            .filter_map(|id| store.orders.get(*id))
            .map(|o| order_json(o, &seller(&sim)))
            .collect();
        return Json(json!({ "href": format!("http://{host}/sell/fulfillment/v1/order?orderIds={}", ids.join(",")),
            "total": orders.len(), "limit": 50, "offset": 0, "orders": orders }))
        .into_response();
    }
    let limit = match q.limit.as_deref().map(str::parse::<usize>) {
        None => 50,
        Some(Ok(l)) if (1..=200).contains(&l) => l,
        Some(_) => {
            return bad(
                31100,
                &format!("Invalid limit: {}", q.limit.unwrap_or_default()),
            );
        }
    };
    let offset = match q.offset.as_deref().map(str::parse::<usize>) {
        None => 0,
        Some(Ok(o)) => o,
        Some(Err(_)) => {
            return bad(
                31000,
                &format!("Invalid offset: {}", q.offset.unwrap_or_default()),
            );
        }
    };
    let filter = match q.filter.as_deref().map(parse_filter).transpose() {
        Ok(f) => f.unwrap_or_default(),
        Err(r) => return r,
    };
    // Without a date filter, eBay returns the orders of the last 90 days.
    let default_from = Utc::now() - chrono::Duration::days(90);
    let mut matched: Vec<&Order> = store
        .orders
        .values()
        .filter(|o| filter.admits(o))
        .filter(|o| {
            filter.created.is_some() || filter.modified.is_some() || o.created >= default_from
        })
        .collect();
    // Newest first by creation date.
    matched.sort_by(|a, b| b.created.cmp(&a.created).then_with(|| b.id.cmp(&a.id)));
    let total = matched.len();
    let mut orders: Vec<Value> = matched
        .iter()
        .skip(offset)
        .take(limit)
        .map(|o| order_json(o, &seller(&sim)))
        .collect();
    let before = offset
        .checked_sub(1)
        .and_then(|i| matched.get(i))
        .map(|o| order_json(o, &seller(&sim)));
    drop(store);
    sim.core.disturb_page(&mut orders, before);
    let link = |off: usize| {
        let mut s = format!("http://{host}/sell/fulfillment/v1/order?limit={limit}&offset={off}");
        if let Some(f) = &q.filter {
            s.push_str("&filter=");
            s.push_str(&urlencode(f));
        }
        s
    };
    let mut body = json!({
        "href": link(offset), "total": total, "limit": limit, "offset": offset, "orders": orders,
    });
    if offset + limit < total {
        body["next"] = json!(link(offset + limit));
    }
    if offset > 0 {
        body["prev"] = json!(link(offset.saturating_sub(limit)));
    }
    Json(body).into_response()
}

fn urlencode(s: &str) -> String {
    serde_urlencoded::to_string([("x", s)])
        .map(|e| e.trim_start_matches("x=").to_owned())
        .unwrap_or_default()
}

/// `getOrder`.
pub(super) async fn one_order(State(sim): State<App>, Path(id): Path<String>) -> Response {
    match lock(&sim.store).orders.get(&id) {
        Some(o) => Json(order_json(o, &seller(&sim))).into_response(),
        None => error(
            StatusCode::NOT_FOUND,
            32100,
            "API_FULFILLMENT",
            &format!("Invalid order ID: {id}"),
        ),
    }
}

/// `getShippingFulfillments`.
pub(super) async fn fulfillments(State(sim): State<App>, Path(id): Path<String>) -> Response {
    match lock(&sim.store).orders.get(&id) {
        Some(o) => Json(json!({
            "fulfillments": o.fulfillments.iter().map(fulfillment_json).collect::<Vec<_>>(),
            "total": o.fulfillments.len(),
        }))
        .into_response(),
        None => bad(32100, &format!("Invalid order ID: {id}")),
    }
}

/// `getShippingFulfillment`.
pub(super) async fn one_fulfillment(
    State(sim): State<App>,
    Path((id, fid)): Path<(String, String)>,
) -> Response {
    let store = lock(&sim.store);
    let Some(o) = store.orders.get(&id) else {
        return bad(32100, &format!("Invalid order ID: {id}"));
    };
    match o.fulfillments.iter().find(|f| f.id == fid) {
        Some(f) => Json(fulfillment_json(f)).into_response(),
        None => error(
            StatusCode::NOT_FOUND,
            32100,
            "API_FULFILLMENT",
            &format!("No shipping fulfillment {fid} on order {id}"),
        ),
    }
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct FulfillmentIn {
    line_items: Vec<LineRefIn>,
    shipped_date: Option<String>,
    shipping_carrier_code: Option<String>,
    tracking_number: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct LineRefIn {
    line_item_id: String,
    quantity: Option<i64>,
}

/// At most this many tracking numbers per order (error 34100).
const MAX_TRACKING: usize = 10;

/// `createShippingFulfillment`: 201 with `Location`, never deduplicated.
pub(super) async fn create_fulfillment(
    State(sim): State<App>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    let input: FulfillmentIn = match serde_json::from_slice(&body) {
        Ok(i) => i,
        Err(e) => return bad(32600, &format!("Invalid input data: {e}")),
    };
    let host = crate::core::host(&headers);
    let mut store = lock(&sim.store);
    let now = store.tick();
    let generated = store.id();
    let Some(o) = store.orders.get_mut(&id) else {
        return bad(32100, &format!("Invalid order ID: {id}"));
    };
    if o.cancelled {
        return error(
            StatusCode::CONFLICT,
            32600,
            "API_FULFILLMENT",
            "The order is cancelled and cannot be shipped",
        );
    }
    if input.line_items.is_empty() {
        return bad(32600, "Invalid input data: lineItems is empty");
    }
    let mut lines = Vec::new();
    for l in &input.line_items {
        if lines
            .iter()
            .any(|(x, _): &(String, i64)| *x == l.line_item_id)
        {
            return bad(32210, "Duplicate line item in the request");
        }
        let Some(line) = o.lines.iter().find(|x| x.id == l.line_item_id) else {
            return bad(32200, &format!("Invalid line item id: {}", l.line_item_id));
        };
        let q = l.quantity.unwrap_or(line.quantity);
        if !(1..=line.quantity).contains(&q) {
            return bad(32600, &format!("Invalid input data: quantity {q}"));
        }
        lines.push((line.id.clone(), q));
    }
    let tracking = input.tracking_number.unwrap_or_default();
    let carrier = input.shipping_carrier_code.unwrap_or_default();
    if tracking.is_empty() != carrier.is_empty()
        || tracking.chars().any(|c| !c.is_ascii_alphanumeric())
    {
        return bad(32300, "Invalid shipment tracking number or carrier");
    }
    if !tracking.is_empty() && o.fulfillments.len() >= MAX_TRACKING {
        return bad(34100, "Maximum tracking number for order is exceeded");
    }
    let shipped = match input.shipped_date.as_deref() {
        None => now,
        Some(s) => match DateTime::parse_from_rfc3339(s) {
            Ok(t) if t.with_timezone(&Utc) <= now + chrono::Duration::minutes(5) => {
                t.with_timezone(&Utc)
            }
            _ => return bad(32500, "Invalid shipped date"),
        },
    };
    let fid = if tracking.is_empty() {
        generated.to_string()
    } else if o.fulfillments.iter().any(|f| f.id == tracking) {
        // A second package with the same number gets a suffixed id.
        format!("{tracking}-{generated}")
    } else {
        tracking.clone()
    };
    o.fulfillments.push(Fulfillment {
        id: fid.clone(),
        lines,
        carrier,
        tracking,
        shipped,
    });
    o.modified = now;
    let location =
        format!("http://{host}/sell/fulfillment/v1/order/{id}/shipping_fulfillment/{fid}");
    let mut r = (StatusCode::CREATED, Json(json!({}))).into_response();
    if let Ok(v) = HeaderValue::from_str(&location) {
        r.headers_mut().insert("location", v);
    }
    r
}

#[derive(Debug, Deserialize)]
pub(super) struct ItemsQuery {
    limit: Option<String>,
    offset: Option<String>,
}

/// `getInventoryItems`: `offset` is the page number.
pub(super) async fn inventory_items(
    State(sim): State<App>,
    headers: HeaderMap,
    Query(q): Query<ItemsQuery>,
) -> Response {
    let invalid = || {
        error(
            StatusCode::BAD_REQUEST,
            25706,
            "API_INVENTORY",
            "You have provided invalid pagination values.",
        )
    };
    let limit = match q.limit.as_deref().map(str::parse::<usize>) {
        None => 25,
        Some(Ok(l)) if (1..=200).contains(&l) => l,
        Some(_) => return invalid(),
    };
    let page = match q.offset.as_deref().map(str::parse::<usize>) {
        None => 0,
        Some(Ok(p)) => p,
        Some(Err(_)) => return invalid(),
    };
    let host = crate::core::host(&headers);
    let store = lock(&sim.store);
    let total = store.items.len();
    let items: Vec<Value> = store
        .items
        .values()
        .skip(page * limit)
        .take(limit)
        .map(item_json)
        .collect();
    let link = |p: usize| {
        format!("http://{host}/sell/inventory/v1/inventory_item?limit={limit}&offset={p}")
    };
    let mut body = json!({
        "href": link(page), "limit": limit, "size": items.len(), "total": total, "inventoryItems": items,
    });
    if (page + 1) * limit < total {
        body["next"] = json!(link(page + 1));
    }
    if page > 0 {
        body["prev"] = json!(link(page - 1));
    }
    Json(body).into_response()
}

#[derive(Debug, Deserialize)]
struct BulkIn {
    requests: Vec<PriceQuantityIn>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct PriceQuantityIn {
    sku: Option<String>,
    ship_to_location_availability: Option<AvailabilityIn>,
    #[serde(default)]
    offers: Vec<Value>,
}

#[derive(Debug, Deserialize)]
struct AvailabilityIn {
    quantity: Option<i64>,
}

/// `bulkUpdatePriceQuantity`: each item stands alone; 207 when any failed.
pub(super) async fn bulk_update(State(sim): State<App>, body: Bytes) -> Response {
    let input: BulkIn = match serde_json::from_slice(&body) {
        Ok(i) => i,
        Err(e) => {
            return error(
                StatusCode::BAD_REQUEST,
                25709,
                "API_INVENTORY",
                &format!("Invalid value for requests. {e}"),
            );
        }
    };
    if input.requests.is_empty() || input.requests.len() > 25 {
        return error(
            StatusCode::BAD_REQUEST,
            25709,
            "API_INVENTORY",
            "Invalid value for requests. Between 1 and 25 inventory items per call.",
        );
    }
    let mut store = lock(&sim.store);
    let mut responses = Vec::new();
    let mut failed = false;
    for r in input.requests {
        let sku = r.sku.clone().unwrap_or_default();
        let fail = |code: u16, id: u32, message: String| {
            json!({ "sku": sku, "statusCode": code, "errors": [{
                "errorId": id, "domain": "API_INVENTORY", "category": "REQUEST", "message": message }] })
        };
        let q = r.ship_to_location_availability.and_then(|a| a.quantity);
        let out = match (r.sku.as_deref(), q) {
            (None | Some(""), _) => fail(400, 25709, "Invalid value for sku.".into()),
            (Some(_), None) if r.offers.is_empty() => fail(
                400,
                25709,
                "Invalid value for shipToLocationAvailability.quantity.".into(),
            ),
            (Some(_), Some(q)) if q < 0 => fail(
                400,
                25709,
                "Invalid value for shipToLocationAvailability.quantity. It cannot be negative."
                    .into(),
            ),
            (Some(s), q) => match store.items.get_mut(s) {
                None => fail(
                    404,
                    25710,
                    format!("We didn't find the entity you are requesting. SKU {s}"),
                ),
                Some(item) => {
                    if let Some(q) = q {
                        item.quantity = q;
                    }
                    json!({ "sku": s, "offerId": item.offer_id, "statusCode": 200 })
                }
            },
        };
        failed |= out["statusCode"] != 200;
        responses.push(out);
    }
    let status = if failed {
        StatusCode::MULTI_STATUS
    } else {
        StatusCode::OK
    };
    (status, Json(json!({ "responses": responses }))).into_response()
}

/// `getUserRateLimits` of the Analytics API: each API's daily quota.
pub(super) async fn rate_limits(State(sim): State<App>) -> Json<Value> {
    let (day, _) = day_now();
    let reset = DateTime::from_timestamp((day + 1) * 86_400, 0).unwrap_or_default();
    let q = lock(&sim.quotas);
    let limits: Vec<Value> = q
        .iter()
        .map(|(api, quota)| {
            let (limit, used) = (quota.limit, if quota.day == day { quota.used } else { 0 });
            let name = api.trim_start_matches("sell.");
            json!({ "apiContext": "sell", "apiName": name, "apiVersion": "v1", "resources": [{
                "name": api, "rates": [{ "count": used, "limit": limit,
                    "remaining": limit.saturating_sub(used), "reset": time(reset),
                    "timeWindow": 86_400 }] }] })
        })
        .collect();
    Json(json!({ "rateLimits": limits }))
}
