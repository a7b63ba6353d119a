//! The Retailer and Shared API routes: the token, media-type and
//! rate-limit gate, OAuth, orders, shipments, offers, exports and process
//! statuses.

use std::collections::BTreeMap;

use axum::body::Bytes;
use axum::extract::{Path, Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use chrono::{NaiveDate, Utc};
use serde::Deserialize;
use serde_json::{Value, json};

use super::shop::{Action, CSV, offer_json, order_json, process_json, reduced_json, shipment_json};
use super::{App, MEDIA_TYPE, Sim, TOKEN_LIFETIME, answer, problem};
use crate::core::{TokenCheck, basic_auth, form, lock, oauth_error};

/// The rate-limit bucket of a request.
fn bucket(method: &str, path: &str) -> &'static str {
    match (method, path) {
        ("GET", "/retailer/orders") => "orders-list",
        (_, p) if p.starts_with("/retailer/orders/") => "order",
        (_, p) if p.starts_with("/retailer/shipments") => "shipments",
        (_, p) if p.starts_with("/retailer/offers/export") => "offers-export",
        ("PUT", p) if p.starts_with("/retailer/offers/") && p.ends_with("/stock") => "offer-stock",
        (_, p) if p.starts_with("/shared/process-status") => "process-status",
        _ => "other",
    }
}

/// Bearer token, media types and per-endpoint rate limits, with bol's
/// `X-RateLimit-*` headers on every answer.
pub(super) async fn gate(State(sim): State<App>, req: Request, next: Next) -> Response {
    let path = req.uri().path().to_owned();
    if path == "/token" {
        return next.run(req).await;
    }
    if let Err(r) = authorize(&sim, req.headers()) {
        return r;
    }
    let wanted = if path.starts_with("/retailer/offers/export/") {
        CSV
    } else {
        MEDIA_TYPE
    };
    let accept = req
        .headers()
        .get("accept")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    if !accept.contains(wanted) {
        return problem(
            StatusCode::NOT_ACCEPTABLE,
            &format!("Accept must be {wanted}, not `{accept}`."),
            &[],
        );
    }
    let has_body = matches!(req.method().as_str(), "POST" | "PUT");
    let content_type = req
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    if has_body && !content_type.starts_with(MEDIA_TYPE) {
        return problem(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            &format!("Content-Type must be {MEDIA_TYPE}, not `{content_type}`."),
            &[],
        );
    }
    let name = bucket(req.method().as_str(), &path);
    let counted = {
        let mut limits = lock(&sim.limits);
        limits.get_mut(name).map(|l| {
            let now = tokio::time::Instant::now();
            let started = match l.started {
                Some(s) if now < s + l.window => s,
                _ => {
                    l.used = 0;
                    l.started = Some(now);
                    now
                }
            };
            l.used += 1;
            let reset = (started + l.window).saturating_duration_since(now);
            (
                l.calls,
                i64::from(l.calls) - i64::from(l.used),
                reset.as_secs_f64().ceil() as u64,
            )
        })
    };
    let Some((limit, remaining, reset)) = counted else {
        return next.run(req).await;
    };
    let mut resp = if remaining < 0 {
        let mut r = problem(
            StatusCode::TOO_MANY_REQUESTS,
            &format!("Too many requests to {name}, retry in {reset} seconds."),
            &[],
        );
        r.headers_mut()
            .insert("retry-after", HeaderValue::from(reset.max(1)));
        r
    } else {
        next.run(req).await
    };
    let h = resp.headers_mut();
    h.insert("x-ratelimit-limit", HeaderValue::from(limit));
    h.insert("x-ratelimit-remaining", HeaderValue::from(remaining.max(0)));
    h.insert("x-ratelimit-reset", HeaderValue::from(reset));
    resp
}

#[allow(
    clippy::result_large_err,
    reason = "the error is the finished response, as handlers return it"
)]
fn authorize(sim: &Sim, headers: &HeaderMap) -> Result<(), Response> {
    let refused = || problem(StatusCode::UNAUTHORIZED, "Invalid or expired token.", &[]);
    if sim.core.faults().auth_revoked {
        return Err(refused());
    }
    let sent = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    let shop = lock(&sim.shop);
    match shop.access_tokens.check(sent, Utc::now().timestamp()) {
        TokenCheck::Valid => Ok(()),
        TokenCheck::Expired | TokenCheck::Unknown => Err(refused()),
    }
}

/// `POST /token?grant_type=client_credentials` with HTTP Basic.
pub(super) async fn token(
    State(sim): State<App>,
    headers: HeaderMap,
    Query(q): Query<BTreeMap<String, String>>,
    body: Bytes,
) -> Response {
    let body = form(&body);
    let grant = q.get("grant_type").or(body.get("grant_type"));
    if grant.map(String::as_str) != Some("client_credentials") {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            "Unsupported grant type",
        );
    }
    let basic = basic_auth(&headers);
    let expected = format!("{}:{}", sim.creds.client_id, sim.creds.client_secret);
    if basic.as_deref() != Some(expected.as_str()) || sim.core.faults().auth_revoked {
        return oauth_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "Bad credentials",
        );
    }
    let mut shop = lock(&sim.shop);
    let n = shop.id();
    let token = format!("eyJraWQiOiJyc2Ex.bol{n:x}.sig");
    let now = Utc::now().timestamp();
    shop.access_tokens
        .issue(token.clone(), now + TOKEN_LIFETIME, now);
    axum::Json(json!({
        "access_token": token, "token_type": "Bearer", "expires_in": TOKEN_LIFETIME, "scope": "RETAILER",
    }))
    .into_response()
}

#[derive(Debug, Deserialize)]
pub(super) struct OrdersQuery {
    page: Option<String>,
    #[serde(rename = "fulfilment-method")]
    method: Option<String>,
    status: Option<String>,
    #[serde(rename = "change-interval-minute")]
    interval: Option<String>,
    #[serde(rename = "latest-change-date")]
    date: Option<String>,
}

/// Orders per page of `GET /retailer/orders`.
const PAGE_SIZE: usize = 50;

fn bad(name: &str, reason: &str) -> Response {
    problem(StatusCode::BAD_REQUEST, "Bad request", &[(name, reason)])
}

/// `GET /retailer/orders`: reduced orders, newest first, 50 a page.
pub(super) async fn orders(State(sim): State<App>, Query(q): Query<OrdersQuery>) -> Response {
    let page = match q.page.as_deref().map(str::parse::<usize>) {
        None => 1,
        Some(Ok(p)) if p >= 1 => p,
        Some(_) => return bad("page", "must be 1 or more"),
    };
    match q.method.as_deref().unwrap_or("FBR") {
        "FBR" | "ALL" => {}
        "FBB" => return answer(StatusCode::OK, json!({})),
        _ => return bad("fulfilment-method", "must be one of FBR, FBB, ALL"),
    }
    let status = q.status.as_deref().unwrap_or("OPEN");
    if !["OPEN", "SHIPPED", "ALL"].contains(&status) {
        return bad("status", "must be one of OPEN, SHIPPED, ALL");
    }
    let interval = match q.interval.as_deref().map(str::parse::<i64>) {
        None => None,
        Some(Ok(m)) if (1..=60).contains(&m) => Some(m),
        Some(_) => return bad("change-interval-minute", "must be between 1 and 60"),
    };
    let date = match q
        .date
        .as_deref()
        .map(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d"))
    {
        None => None,
        Some(Ok(d)) if d >= (Utc::now() - chrono::Duration::days(92)).date_naive() => Some(d),
        Some(Ok(_)) => {
            return bad(
                "latest-change-date",
                "up to 3 months of history is supported",
            );
        }
        Some(Err(_)) => return bad("latest-change-date", "must be a date (yyyy-MM-dd)"),
    };
    let since = interval.map(|m| Utc::now() - chrono::Duration::minutes(m));
    let mut shop = lock(&sim.shop);
    shop.settle();
    let mut matched: Vec<_> = shop
        .orders
        .values()
        .filter(|o| match status {
            "OPEN" => o.is_open(),
            "SHIPPED" => o.items.iter().any(|i| i.shipped > 0),
            _ => true,
        })
        .filter(|o| since.is_none_or(|s| o.items.iter().any(|i| i.changed >= s)))
        .filter(|o| date.is_none_or(|d| o.items.iter().any(|i| i.changed.date_naive() == d)))
        .collect();
    matched.sort_by(|a, b| b.placed.cmp(&a.placed).then_with(|| b.id.cmp(&a.id)));
    let start = (page - 1) * PAGE_SIZE;
    let before = start
        .checked_sub(1)
        .and_then(|i| matched.get(i))
        .map(|o| reduced_json(o));
    let mut orders: Vec<Value> = matched
        .iter()
        .skip(start)
        .take(PAGE_SIZE)
        .map(|o| reduced_json(o))
        .collect();
    drop(shop);
    if orders.is_empty() {
        // bol answers an empty page with an empty object.
        return answer(StatusCode::OK, json!({}));
    }
    sim.core.disturb_page(&mut orders, before);
    answer(StatusCode::OK, json!({ "orders": orders }))
}

pub(super) async fn one_order(State(sim): State<App>, Path(id): Path<String>) -> Response {
    let mut shop = lock(&sim.shop);
    shop.settle();
    match shop.orders.get(&id) {
        Some(o) => answer(StatusCode::OK, order_json(o)),
        None => problem(
            StatusCode::NOT_FOUND,
            &format!("Order {id} not found."),
            &[],
        ),
    }
}

#[derive(Debug, Deserialize)]
pub(super) struct ShipmentsQuery {
    #[serde(rename = "order-id")]
    order_id: Option<String>,
    page: Option<usize>,
}

/// `GET /retailer/shipments`: reduced shipments, newest first.
pub(super) async fn shipments(State(sim): State<App>, Query(q): Query<ShipmentsQuery>) -> Response {
    let mut shop = lock(&sim.shop);
    shop.settle();
    let page = q.page.unwrap_or(1).max(1);
    let list: Vec<Value> = shop
        .shipments
        .iter()
        .rev()
        .filter(|s| q.order_id.as_ref().is_none_or(|o| &s.order_id == o))
        .skip((page - 1) * PAGE_SIZE)
        .take(PAGE_SIZE)
        .map(|s| shipment_json(s, shop.orders.get(&s.order_id)))
        .collect();
    if list.is_empty() {
        return answer(StatusCode::OK, json!({}));
    }
    answer(StatusCode::OK, json!({ "shipments": list }))
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ShipmentIn {
    order_items: Vec<ItemIn>,
    shipment_reference: Option<String>,
    shipping_label_id: Option<String>,
    transport: Option<TransportIn>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ItemIn {
    order_item_id: String,
    quantity: Option<i64>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct TransportIn {
    transporter_code: String,
    track_and_trace: Option<String>,
}

/// Transporter codes bol knows (a subset of its list).
const TRANSPORTERS: [&str; 14] = [
    "BRIEFPOST",
    "UPS",
    "TNT",
    "TNT-EXTRA",
    "DHL",
    "DHL_DE",
    "DHLFORYOU",
    "GLS",
    "FEDEX_NL",
    "DPD-NL",
    "DPD-BE",
    "BPOST_BE",
    "POSTNL",
    "OTHER",
];

/// `POST /retailer/shipments`: checked at once, handled later.
pub(super) async fn create_shipment(State(sim): State<App>, body: Bytes) -> Response {
    let input: ShipmentIn = match serde_json::from_slice(&body) {
        Ok(i) => i,
        Err(e) => return bad("body", &e.to_string()),
    };
    if input.order_items.is_empty() {
        return bad("orderItems", "must not be empty");
    }
    if input.shipping_label_id.is_some() && input.transport.is_some() {
        return bad("transport", "must be empty when a shippingLabelId is given");
    }
    if let Some(t) = &input.transport
        && !TRANSPORTERS.contains(&t.transporter_code.as_str())
    {
        return bad(
            "transport.transporterCode",
            "is not a known transporter code",
        );
    }
    let mut shop = lock(&sim.shop);
    shop.settle();
    let first = &input.order_items[0].order_item_id;
    let Some(order) = shop
        .orders
        .values()
        .find(|o| o.items.iter().any(|i| &i.id == first))
    else {
        return bad("orderItems[0].orderItemId", "does not exist");
    };
    let order_id = order.id.clone();
    let mut items = Vec::new();
    for (n, it) in input.order_items.iter().enumerate() {
        let Some(item) = order.items.iter().find(|i| i.id == it.order_item_id) else {
            return bad(
                &format!("orderItems[{n}].orderItemId"),
                "does not belong to the same order",
            );
        };
        let q = it.quantity.unwrap_or(item.quantity);
        if q < 1 || q > item.quantity {
            return bad(&format!("orderItems[{n}].quantity"), "out of range");
        }
        items.push((item.id.clone(), q));
    }
    let p = shop.process(
        "CONFIRM_SHIPMENT",
        format!("Confirm shipment for order item {first}."),
        Some(first.clone()),
        Action::Ship {
            order_id,
            reference: input.shipment_reference,
            items,
            transporter: input.transport.as_ref().map(|t| t.transporter_code.clone()),
            track: input.transport.and_then(|t| t.track_and_trace),
        },
    );
    answer(StatusCode::ACCEPTED, process_json(&p))
}

pub(super) async fn one_offer(State(sim): State<App>, Path(id): Path<String>) -> Response {
    let mut shop = lock(&sim.shop);
    shop.settle();
    match shop.offers.get(&id) {
        Some(o) => answer(StatusCode::OK, offer_json(o)),
        None => problem(
            StatusCode::NOT_FOUND,
            &format!("Offer {id} not found."),
            &[],
        ),
    }
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct StockIn {
    amount: i64,
    managed_by_retailer: bool,
}

/// `PUT /retailer/offers/{offer-id}/stock`: 0–999, handled later.
pub(super) async fn offer_stock(
    State(sim): State<App>,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    let input: StockIn = match serde_json::from_slice(&body) {
        Ok(i) => i,
        Err(e) => return bad("body", &e.to_string()),
    };
    if !(0..=999).contains(&input.amount) {
        return bad("amount", "must be between 0 and 999");
    }
    if !input.managed_by_retailer {
        return bad(
            "managedByRetailer",
            "only retailer-managed stock is simulated",
        );
    }
    let mut shop = lock(&sim.shop);
    shop.settle();
    let p = shop.process(
        "UPDATE_OFFER_STOCK",
        format!("Update stock for offer with id {id}."),
        Some(id.clone()),
        Action::Stock {
            offer_id: id,
            amount: input.amount,
        },
    );
    answer(StatusCode::ACCEPTED, process_json(&p))
}

/// `POST /retailer/offers/export` with `{"format": "CSV"}`.
pub(super) async fn start_export(State(sim): State<App>, body: Bytes) -> Response {
    let format: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    if format["format"] != "CSV" {
        return bad("format", "must be CSV");
    }
    let mut shop = lock(&sim.shop);
    shop.settle();
    let p = shop.process(
        "CREATE_OFFER_EXPORT",
        "Create an offer export file.".into(),
        None,
        Action::Export,
    );
    answer(StatusCode::ACCEPTED, process_json(&p))
}

/// `GET /retailer/offers/export/{report-id}`: the CSV.
pub(super) async fn export(State(sim): State<App>, Path(id): Path<String>) -> Response {
    let mut shop = lock(&sim.shop);
    shop.settle();
    match shop.exports.get(&id) {
        Some(csv) => {
            let mut r = csv.clone().into_response();
            r.headers_mut()
                .insert("content-type", HeaderValue::from_static(CSV));
            r
        }
        None => problem(
            StatusCode::NOT_FOUND,
            &format!("Report {id} not found."),
            &[],
        ),
    }
}

pub(super) async fn process_status(State(sim): State<App>, Path(id): Path<String>) -> Response {
    let mut shop = lock(&sim.shop);
    shop.settle();
    match shop.processes.get(&id) {
        Some(p) => answer(StatusCode::OK, process_json(p)),
        None => problem(
            StatusCode::NOT_FOUND,
            &format!("Process status {id} not found."),
            &[],
        ),
    }
}

/// `POST /shared/process-status` with `{processStatusQueries: [{processStatusId}]}`.
pub(super) async fn process_statuses(State(sim): State<App>, body: Bytes) -> Response {
    let v: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let Some(queries) = v["processStatusQueries"].as_array() else {
        return bad("processStatusQueries", "is required");
    };
    if queries.is_empty() || queries.len() > 1000 {
        return bad("processStatusQueries", "between 1 and 1000 ids");
    }
    let mut shop = lock(&sim.shop);
    shop.settle();
    let found: Vec<Value> = queries
        .iter()
        .filter_map(|q| q["processStatusId"].as_str())
        .filter_map(|id| shop.processes.get(id))
        .map(process_json)
        .collect();
    answer(StatusCode::OK, json!({ "processStatuses": found }))
}
