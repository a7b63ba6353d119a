//! The REST routes: auth, orders, notes, trackings, products, variations,
//! batches and webhooks.

#![allow(
    clippy::result_large_err,
    reason = "parameter checks return the finished error response, as handlers do"
)]

use std::sync::Arc;

use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use base64::Engine as _;
use chrono::{DateTime, NaiveDateTime, Utc};
use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::Sha256;

use super::Sim;
use super::render::{self, site_offset};
use super::state::{Note, Order, Shop, Tracking, Webhook, now};
use crate::core::lock;

/// Largest batch WooCommerce accepts.
pub(crate) const BATCH_LIMIT: usize = 100;
const MAX_PER_PAGE: usize = 100;

type Params = Query<Vec<(String, String)>>;

pub(crate) fn wc_error(status: StatusCode, code: &str, message: &str) -> Response {
    (
        status,
        Json(json!({ "code": code, "message": message, "data": { "status": status.as_u16() } })),
    )
        .into_response()
}

fn invalid_param(name: &str, why: &str) -> Response {
    (
        StatusCode::BAD_REQUEST,
        Json(json!({
            "code": "rest_invalid_param",
            "message": format!("Invalid parameter(s): {name}"),
            "data": { "status": 400, "params": { name: why }, "details": {} }
        })),
    )
        .into_response()
}

fn base_url(headers: &HeaderMap) -> String {
    let host = headers
        .get("host")
        .and_then(|h| h.to_str().ok())
        .unwrap_or("127.0.0.1");
    format!("http://{host}")
}

async fn auth(State(sim): State<Arc<Sim>>, req: Request, next: Next) -> Response {
    let (key, secret) = credentials(&req);
    let Some(key) = key else {
        return wc_error(
            StatusCode::UNAUTHORIZED,
            "woocommerce_rest_cannot_view",
            "Sorry, you cannot list resources.",
        );
    };
    if sim.core.faults().auth_revoked || key != sim.creds.consumer_key {
        return wc_error(
            StatusCode::UNAUTHORIZED,
            "woocommerce_rest_authentication_error",
            "Consumer key is invalid.",
        );
    }
    if secret.as_deref() != Some(sim.creds.consumer_secret.as_str()) {
        return wc_error(
            StatusCode::UNAUTHORIZED,
            "woocommerce_rest_authentication_error",
            "Consumer secret is invalid.",
        );
    }
    next.run(req).await
}

/// Basic auth, or `consumer_key`/`consumer_secret` in the query string.
fn credentials(req: &Request) -> (Option<String>, Option<String>) {
    if let Some(h) = req
        .headers()
        .get("authorization")
        .and_then(|h| h.to_str().ok())
        && let Some(b64) = h.strip_prefix("Basic ")
        && let Ok(raw) = base64::engine::general_purpose::STANDARD.decode(b64.trim())
        && let Ok(text) = String::from_utf8(raw)
        && let Some((k, s)) = text.split_once(':')
    {
        return (Some(k.to_owned()), Some(s.to_owned()));
    }
    let mut key = None;
    let mut secret = None;
    if let Some(q) = req.uri().query() {
        for (k, v) in form_pairs(q) {
            match k.as_str() {
                "consumer_key" => key = Some(v),
                "consumer_secret" => secret = Some(v),
                _ => {}
            }
        }
    }
    (key, secret)
}

fn form_pairs(q: &str) -> Vec<(String, String)> {
    format!("/?{q}")
        .parse::<axum::http::Uri>()
        .ok()
        .and_then(|u| Query::<Vec<(String, String)>>::try_from_uri(&u).ok())
        .map(|Query(v)| v)
        .unwrap_or_default()
}

fn param<'a>(p: &'a [(String, String)], name: &str) -> Option<&'a str> {
    p.iter()
        .rev()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// `exclude=1,2` or `exclude[]=1&exclude[]=2`.
fn id_list(p: &[(String, String)], name: &str) -> Result<Option<Vec<u64>>, Response> {
    let bracket = format!("{name}[]");
    let mut out = Vec::new();
    let mut seen = false;
    for (k, v) in p {
        if k == name || *k == bracket {
            seen = true;
            for part in v.split(',').filter(|s| !s.trim().is_empty()) {
                out.push(part.trim().parse().map_err(|_| {
                    invalid_param(name, &format!("{name}[0] is not of type integer."))
                })?);
            }
        }
    }
    Ok(seen.then_some(out))
}

fn int_param(
    p: &[(String, String)],
    name: &str,
    min: i64,
    max: i64,
) -> Result<Option<i64>, Response> {
    let Some(v) = param(p, name) else {
        return Ok(None);
    };
    let n: i64 = v
        .parse()
        .map_err(|_| invalid_param(name, &format!("{name} is not of type integer.")))?;
    if n < min || n > max {
        return Err(invalid_param(
            name,
            &format!("{name} must be between {min} (inclusive) and {max} (inclusive)"),
        ));
    }
    Ok(Some(n))
}

/// An ISO 8601 date; a date without a zone is GMT when `dates_are_gmt`,
/// else in the site's timezone.
fn date_param(p: &[(String, String)], name: &str) -> Result<Option<DateTime<Utc>>, Response> {
    let Some(v) = param(p, name) else {
        return Ok(None);
    };
    if let Ok(t) = DateTime::parse_from_rfc3339(v) {
        return Ok(Some(t.with_timezone(&Utc)));
    }
    let naive = NaiveDateTime::parse_from_str(v, "%Y-%m-%dT%H:%M:%S")
        .or_else(|_| NaiveDateTime::parse_from_str(v, "%Y-%m-%d %H:%M:%S"))
        .map_err(|_| invalid_param(name, "Invalid date."))?;
    let gmt = matches!(param(p, "dates_are_gmt"), Some("true" | "1"));
    Ok(Some(if gmt {
        naive.and_utc()
    } else {
        naive
            .and_local_timezone(site_offset())
            .single()
            .map_or_else(|| naive.and_utc(), |t| t.with_timezone(&Utc))
    }))
}

/// A page of `items` with the WordPress headers.
fn paged(
    sim: &Sim,
    headers: &HeaderMap,
    path: &str,
    p: &[(String, String)],
    items: Vec<Value>,
) -> Response {
    let per_page = match int_param(p, "per_page", 1, MAX_PER_PAGE as i64) {
        Ok(v) => v.unwrap_or(10) as usize,
        Err(r) => return r,
    };
    let page = match int_param(p, "page", 1, i64::MAX) {
        Ok(v) => v.unwrap_or(1) as usize,
        Err(r) => return r,
    };
    let offset = match int_param(p, "offset", 0, i64::MAX) {
        Ok(v) => v.map(|o| o as usize),
        Err(r) => return r,
    };
    let total = items.len();
    let pages = total.div_ceil(per_page);
    let start = offset.unwrap_or((page - 1).saturating_mul(per_page));
    let mut page_items: Vec<Value> = items.iter().skip(start).take(per_page).cloned().collect();
    let before = start.checked_sub(1).and_then(|i| items.get(i)).cloned();
    if !page_items.is_empty() {
        sim.core.disturb_page(&mut page_items, before);
    }
    let mut resp = Json(page_items).into_response();
    let h = resp.headers_mut();
    h.insert("x-wp-total", HeaderValue::from(total));
    h.insert("x-wp-totalpages", HeaderValue::from(pages));
    let base = base_url(headers);
    let link_for = |n: usize| {
        let mut q: Vec<(String, String)> = p
            .iter()
            .filter(|(k, _)| k != "page" && k != "consumer_key" && k != "consumer_secret")
            .cloned()
            .collect();
        q.push(("page".into(), n.to_string()));
        let qs: Vec<String> = q
            .iter()
            .map(|(k, v)| format!("{}={}", enc(k), enc(v)))
            .collect();
        format!("{base}{path}?{}", qs.join("&"))
    };
    let mut links = Vec::new();
    if page > 1 && offset.is_none() {
        links.push(format!("<{}>; rel=\"prev\"", link_for(page - 1)));
    }
    if page < pages && offset.is_none() {
        links.push(format!("<{}>; rel=\"next\"", link_for(page + 1)));
    }
    if !links.is_empty()
        && let Ok(v) = HeaderValue::from_str(&links.join(", "))
    {
        h.insert("link", v);
    }
    resp
}

fn enc(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

const STATUSES: [&str; 9] = [
    "pending",
    "processing",
    "on-hold",
    "completed",
    "cancelled",
    "refunded",
    "failed",
    "trash",
    "checkout-draft",
];

async fn list_orders(
    State(sim): State<Arc<Sim>>,
    headers: HeaderMap,
    Query(p): Params,
) -> Response {
    let modified_after = match date_param(&p, "modified_after") {
        Ok(v) => v,
        Err(r) => return r,
    };
    let modified_before = match date_param(&p, "modified_before") {
        Ok(v) => v,
        Err(r) => return r,
    };
    let after = match date_param(&p, "after") {
        Ok(v) => v,
        Err(r) => return r,
    };
    let before = match date_param(&p, "before") {
        Ok(v) => v,
        Err(r) => return r,
    };
    let include = match id_list(&p, "include") {
        Ok(v) => v,
        Err(r) => return r,
    };
    let exclude = match id_list(&p, "exclude") {
        Ok(v) => v.unwrap_or_default(),
        Err(r) => return r,
    };
    let statuses: Vec<&str> = param(&p, "status")
        .map(|s| s.split(',').map(str::trim).collect())
        .unwrap_or_else(|| vec!["any"]);
    for s in &statuses {
        if *s != "any" && !STATUSES.contains(s) {
            return invalid_param(
                "status",
                &format!("status[0] is not one of any, {}.", STATUSES.join(", ")),
            );
        }
    }
    let orderby = param(&p, "orderby").unwrap_or("date");
    if !["date", "id", "include", "title", "slug"].contains(&orderby) {
        return invalid_param(
            "orderby",
            "orderby is not one of date, id, include, title, and slug.",
        );
    }
    let asc = match param(&p, "order").unwrap_or("desc") {
        "asc" => true,
        "desc" => false,
        _ => return invalid_param("order", "order is not one of asc and desc."),
    };
    let search = param(&p, "search").map(str::to_lowercase);
    let base = base_url(&headers);
    let items = {
        let shop = lock(&sim.shop);
        let mut list: Vec<&Order> = shop
            .orders
            .values()
            .filter(|o| {
                let status_ok = statuses
                    .iter()
                    .any(|s| (*s == "any" && o.status != "trash") || *s == o.status);
                status_ok
                    && modified_after.is_none_or(|t| o.modified > t)
                    && modified_before.is_none_or(|t| o.modified < t)
                    && after.is_none_or(|t| o.created > t)
                    && before.is_none_or(|t| o.created < t)
                    && include.as_ref().is_none_or(|ids| ids.contains(&o.id))
                    && !exclude.contains(&o.id)
                    && search.as_ref().is_none_or(|q| {
                        o.id.to_string() == *q
                            || o.customer.email.to_lowercase().contains(q.as_str())
                            || o.customer.last_name.to_lowercase().contains(q.as_str())
                    })
            })
            .collect();
        match orderby {
            "id" => list.sort_by_key(|o| o.id),
            "include" => {
                let ids = include.clone().unwrap_or_default();
                list.sort_by_key(|o| ids.iter().position(|i| *i == o.id));
            }
            _ => list.sort_by_key(|o| (o.created, o.id)),
        }
        if !asc {
            list.reverse();
        }
        list.iter().map(|o| render::order(o, &base)).collect()
    };
    paged(&sim, &headers, "/wp-json/wc/v3/orders", &p, items)
}

fn order_not_found() -> Response {
    wc_error(
        StatusCode::NOT_FOUND,
        "woocommerce_rest_shop_order_invalid_id",
        "Invalid ID.",
    )
}

async fn get_order(
    State(sim): State<Arc<Sim>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    let shop = lock(&sim.shop);
    match id.parse::<u64>().ok().and_then(|id| shop.orders.get(&id)) {
        Some(o) => Json(render::order(o, &base_url(&headers))).into_response(),
        None => order_not_found(),
    }
}

fn json_body(body: &Bytes) -> Result<Value, Response> {
    serde_json::from_slice::<Value>(body)
        .ok()
        .filter(Value::is_object)
        .ok_or_else(|| {
            wc_error(
                StatusCode::BAD_REQUEST,
                "rest_invalid_json",
                "Invalid JSON body passed.",
            )
        })
}

/// Move an order to `status`, with WooCommerce's side effects on stock and dates.
pub(crate) fn set_status(shop: &mut Shop, id: u64, status: &str) {
    let Some(o) = shop.orders.get(&id) else {
        return;
    };
    let holds = |s: &str| matches!(s, "processing" | "completed" | "on-hold");
    let before = o.status.clone();
    let lines: Vec<(u64, u64, i64)> = o
        .lines
        .iter()
        .filter(|l| l.product_id != 0)
        .map(|l| (l.product_id, l.variation_id, l.quantity))
        .collect();
    if holds(&before) && !holds(status) {
        for (p, v, q) in &lines {
            shop.adjust_stock(*p, *v, *q);
        }
    } else if !holds(&before) && holds(status) {
        for (p, v, q) in &lines {
            shop.adjust_stock(*p, *v, -q);
        }
    }
    let at = now();
    if let Some(o) = shop.orders.get_mut(&id) {
        if status == "completed" && o.completed.is_none() {
            o.completed = Some(at);
        }
        if status == "processing" && o.paid.is_none() {
            o.paid = Some(at);
        }
        o.status = status.to_owned();
        o.modified = at;
    }
}

async fn update_order(
    State(sim): State<Arc<Sim>>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    let body = match json_body(&body) {
        Ok(b) => b,
        Err(r) => return r,
    };
    let Some(id) = id.parse::<u64>().ok() else {
        return order_not_found();
    };
    let status = body.get("status");
    if let Some(s) = status
        && !s.as_str().is_some_and(|s| STATUSES.contains(&s))
    {
        return invalid_param(
            "status",
            &format!("status is not one of {}.", STATUSES.join(", ")),
        );
    }
    let rendered = {
        let mut shop = lock(&sim.shop);
        if !shop.orders.contains_key(&id) {
            return order_not_found();
        }
        if let Some(s) = status.and_then(Value::as_str) {
            set_status(&mut shop, id, s);
        }
        if let Some(n) = body.get("customer_note").and_then(Value::as_str) {
            let at = now();
            if let Some(o) = shop.orders.get_mut(&id) {
                o.customer_note = n.to_owned();
                o.modified = at;
            }
        }
        shop.orders
            .get(&id)
            .map(|o| render::order(o, &base_url(&headers)))
    };
    match rendered {
        Some(o) => {
            fire(&sim, "order.updated", &o, &headers);
            Json(o).into_response()
        }
        None => order_not_found(),
    }
}

async fn list_notes(
    State(sim): State<Arc<Sim>>,
    Path(id): Path<String>,
    Query(p): Params,
) -> Response {
    let shop = lock(&sim.shop);
    let Some(id) = id
        .parse::<u64>()
        .ok()
        .filter(|id| shop.orders.contains_key(id))
    else {
        return order_not_found();
    };
    let kind = param(&p, "type").unwrap_or("any");
    let notes: Vec<Value> = shop
        .notes
        .get(&id)
        .map(|ns| {
            ns.iter()
                .rev()
                .filter(|n| match kind {
                    "customer" => n.customer_note,
                    "internal" => !n.customer_note,
                    _ => true,
                })
                .map(render::note)
                .collect()
        })
        .unwrap_or_default();
    Json(notes).into_response()
}

async fn create_note(State(sim): State<Arc<Sim>>, Path(id): Path<String>, body: Bytes) -> Response {
    let body = match json_body(&body) {
        Ok(b) => b,
        Err(r) => return r,
    };
    let Some(text) = body
        .get("note")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
    else {
        return wc_error(
            StatusCode::BAD_REQUEST,
            "rest_missing_callback_param",
            "Missing parameter(s): note",
        );
    };
    let mut shop = lock(&sim.shop);
    let Some(id) = id
        .parse::<u64>()
        .ok()
        .filter(|id| shop.orders.contains_key(id))
    else {
        return order_not_found();
    };
    let note = Note {
        id: shop.id(),
        note: text.to_owned(),
        customer_note: body
            .get("customer_note")
            .and_then(Value::as_bool)
            .unwrap_or(false),
        created: now(),
    };
    let out = render::note(&note);
    shop.notes.entry(id).or_default().push(note);
    (StatusCode::CREATED, Json(out)).into_response()
}

async fn list_trackings(State(sim): State<Arc<Sim>>, Path(id): Path<String>) -> Response {
    let shop = lock(&sim.shop);
    let Some(id) = id
        .parse::<u64>()
        .ok()
        .filter(|id| shop.orders.contains_key(id))
    else {
        return order_not_found();
    };
    let list: Vec<Value> = shop
        .trackings
        .get(&id)
        .map(|ts| ts.iter().map(render::tracking).collect())
        .unwrap_or_default();
    Json(list).into_response()
}

async fn create_tracking(
    State(sim): State<Arc<Sim>>,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    let body = match json_body(&body) {
        Ok(b) => b,
        Err(r) => return r,
    };
    let text = |k: &str| {
        body.get(k)
            .and_then(Value::as_str)
            .unwrap_or("")
            .trim()
            .to_owned()
    };
    let number = text("tracking_number");
    if number.is_empty() {
        return wc_error(
            StatusCode::BAD_REQUEST,
            "rest_missing_callback_param",
            "Missing parameter(s): tracking_number",
        );
    }
    let date_shipped = match body.get("date_shipped") {
        None | Some(Value::Null) => now().timestamp(),
        Some(Value::Number(n)) => n.as_i64().unwrap_or_else(|| now().timestamp()),
        Some(Value::String(s)) => match s.parse::<i64>() {
            Ok(ts) => ts,
            Err(_) => match chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d") {
                Ok(d) => d
                    .and_hms_opt(0, 0, 0)
                    .map_or(0, |t| t.and_utc().timestamp()),
                Err(_) => return invalid_param("date_shipped", "Invalid date."),
            },
        },
        Some(_) => return invalid_param("date_shipped", "Invalid date."),
    };
    let mut shop = lock(&sim.shop);
    let Some(id) = id
        .parse::<u64>()
        .ok()
        .filter(|id| shop.orders.contains_key(id))
    else {
        return order_not_found();
    };
    let seq = shop.id();
    let t = Tracking {
        tracking_id: format!(
            "{:032x}",
            u128::from(seq).wrapping_mul(0x9e37_79b9_7f4a_7c15)
        ),
        provider: text("tracking_provider"),
        custom_provider: text("custom_tracking_provider"),
        custom_link: text("custom_tracking_link"),
        number,
        date_shipped,
    };
    let out = render::tracking(&t);
    shop.trackings.entry(id).or_default().push(t);
    (StatusCode::CREATED, Json(out)).into_response()
}

async fn delete_tracking(
    State(sim): State<Arc<Sim>>,
    Path((id, tracking_id)): Path<(String, String)>,
) -> Response {
    let mut shop = lock(&sim.shop);
    let Some(id) = id
        .parse::<u64>()
        .ok()
        .filter(|id| shop.orders.contains_key(id))
    else {
        return order_not_found();
    };
    let list = shop.trackings.entry(id).or_default();
    match list.iter().position(|t| t.tracking_id == tracking_id) {
        Some(i) => {
            list.remove(i);
            Json(json!({ "message": "Successfully deleted tracking" })).into_response()
        }
        None => wc_error(
            StatusCode::NOT_FOUND,
            "woocommerce_rest_order_invalid_tracking_id",
            "Invalid tracking ID.",
        ),
    }
}

async fn list_products(
    State(sim): State<Arc<Sim>>,
    headers: HeaderMap,
    Query(p): Params,
) -> Response {
    let modified_after = match date_param(&p, "modified_after") {
        Ok(v) => v,
        Err(r) => return r,
    };
    let sku = param(&p, "sku").map(str::to_owned);
    let kind = param(&p, "type").map(str::to_owned);
    let base = base_url(&headers);
    let items: Vec<Value> = {
        let shop = lock(&sim.shop);
        shop.products
            .values()
            .filter(|pr| {
                sku.as_ref()
                    .is_none_or(|s| s.split(',').any(|s| s == pr.sku))
                    && kind.as_ref().is_none_or(|k| k == pr.kind)
                    && modified_after.is_none_or(|t| pr.modified > t)
            })
            .map(|pr| render::product(pr, &base))
            .collect()
    };
    paged(&sim, &headers, "/wp-json/wc/v3/products", &p, items)
}

fn product_not_found() -> Response {
    wc_error(
        StatusCode::NOT_FOUND,
        "woocommerce_rest_product_invalid_id",
        "Invalid ID.",
    )
}

async fn get_product(
    State(sim): State<Arc<Sim>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    let shop = lock(&sim.shop);
    match id.parse::<u64>().ok().and_then(|id| shop.products.get(&id)) {
        Some(p) => Json(render::product(p, &base_url(&headers))).into_response(),
        None => product_not_found(),
    }
}

/// The stock fields of an update, checked as WordPress checks its schema.
struct StockPatch {
    stock_quantity: Option<Option<i64>>,
    manage_stock: Option<bool>,
}

fn stock_patch(body: &Value) -> Result<StockPatch, (String, String)> {
    let stock_quantity = match body.get("stock_quantity") {
        None => None,
        Some(Value::Null) => Some(None),
        Some(Value::Number(n)) => Some(Some(n.as_i64().ok_or_else(|| {
            (
                "stock_quantity".to_owned(),
                "stock_quantity is not of type integer.".to_owned(),
            )
        })?)),
        Some(Value::String(s)) => Some(Some(s.trim().parse().map_err(|_| {
            (
                "stock_quantity".to_owned(),
                "stock_quantity is not of type integer.".to_owned(),
            )
        })?)),
        Some(_) => {
            return Err((
                "stock_quantity".into(),
                "stock_quantity is not of type integer.".into(),
            ));
        }
    };
    let manage_stock = match body.get("manage_stock") {
        None => None,
        Some(Value::Bool(b)) => Some(*b),
        Some(_) => {
            return Err((
                "manage_stock".into(),
                "manage_stock is not of type boolean.".into(),
            ));
        }
    };
    Ok(StockPatch {
        stock_quantity,
        manage_stock,
    })
}

fn apply_product(shop: &mut Shop, id: u64, patch: &StockPatch) -> bool {
    let at = now();
    let Some(p) = shop.products.get_mut(&id) else {
        return false;
    };
    if let Some(m) = patch.manage_stock {
        p.manage_stock = m;
    }
    if let Some(q) = patch.stock_quantity {
        p.stock_quantity = q;
    }
    p.modified = at;
    true
}

fn apply_variation(shop: &mut Shop, parent: u64, id: u64, patch: &StockPatch) -> bool {
    let at = now();
    let Some(v) = shop
        .variations
        .get_mut(&id)
        .filter(|v| v.parent_id == parent)
    else {
        return false;
    };
    if let Some(m) = patch.manage_stock {
        v.manage_stock = m;
    }
    if let Some(q) = patch.stock_quantity {
        v.stock_quantity = q;
    }
    v.modified = at;
    true
}

async fn update_product(
    State(sim): State<Arc<Sim>>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    let body = match json_body(&body) {
        Ok(b) => b,
        Err(r) => return r,
    };
    let patch = match stock_patch(&body) {
        Ok(p) => p,
        Err((k, m)) => return invalid_param(&k, &m),
    };
    let mut shop = lock(&sim.shop);
    let Some(id) = id.parse::<u64>().ok() else {
        return product_not_found();
    };
    if !apply_product(&mut shop, id, &patch) {
        return product_not_found();
    }
    match shop.products.get(&id) {
        Some(p) => Json(render::product(p, &base_url(&headers))).into_response(),
        None => product_not_found(),
    }
}

fn too_many() -> Response {
    wc_error(
        StatusCode::PAYLOAD_TOO_LARGE,
        "woocommerce_rest_request_entity_too_large",
        &format!("Unable to accept more than {BATCH_LIMIT} items for this request."),
    )
}

fn batch_counts(body: &Value) -> usize {
    ["create", "update", "delete"]
        .iter()
        .map(|k| body.get(*k).and_then(Value::as_array).map_or(0, Vec::len))
        .sum()
}

fn item_error(id: &Value, code: &str, message: &str, status: u16) -> Value {
    json!({ "id": id.as_u64().unwrap_or(0), "error": { "code": code, "message": message, "data": { "status": status } } })
}

/// `create` and `delete` are refused per item: the simulator's catalogue is seeded.
fn unsupported(body: &Value, key: &str) -> Vec<Value> {
    body.get(key)
        .and_then(Value::as_array)
        .map(|items| {
            items
                .iter()
                .map(|i| {
                    item_error(
                        i.get("id").unwrap_or(i),
                        "woocommerce_rest_cannot_create",
                        "The simulator's catalogue is seeded; create and delete are not simulated.",
                        400,
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

async fn batch_products(State(sim): State<Arc<Sim>>, headers: HeaderMap, body: Bytes) -> Response {
    let body = match json_body(&body) {
        Ok(b) => b,
        Err(r) => return r,
    };
    if batch_counts(&body) > BATCH_LIMIT {
        return too_many();
    }
    let base = base_url(&headers);
    let mut shop = lock(&sim.shop);
    let mut updated = Vec::new();
    for item in body
        .get("update")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let id = item.get("id").cloned().unwrap_or(Value::Null);
        let Some(pid) = id.as_u64() else {
            updated.push(item_error(
                &id,
                "woocommerce_rest_product_invalid_id",
                "Invalid ID.",
                400,
            ));
            continue;
        };
        match stock_patch(item) {
            Err((_, m)) => updated.push(item_error(&id, "rest_invalid_param", &m, 400)),
            Ok(patch) => {
                if apply_product(&mut shop, pid, &patch)
                    && let Some(p) = shop.products.get(&pid)
                {
                    updated.push(render::product(p, &base));
                } else {
                    updated.push(item_error(
                        &id,
                        "woocommerce_rest_product_invalid_id",
                        "Invalid ID.",
                        400,
                    ));
                }
            }
        }
    }
    let mut out = json!({});
    if body.get("create").is_some() {
        out["create"] = json!(unsupported(&body, "create"));
    }
    if body.get("update").is_some() {
        out["update"] = json!(updated);
    }
    if body.get("delete").is_some() {
        out["delete"] = json!(unsupported(&body, "delete"));
    }
    Json(out).into_response()
}

async fn list_variations(
    State(sim): State<Arc<Sim>>,
    headers: HeaderMap,
    Path(pid): Path<String>,
    Query(p): Params,
) -> Response {
    let base = base_url(&headers);
    let items: Vec<Value> = {
        let shop = lock(&sim.shop);
        let Some(prod) = pid
            .parse::<u64>()
            .ok()
            .and_then(|id| shop.products.get(&id))
        else {
            return product_not_found();
        };
        prod.variations
            .iter()
            .filter_map(|v| shop.variations.get(v))
            .map(|v| render::variation(v, &base))
            .collect()
    };
    paged(
        &sim,
        &headers,
        &format!("/wp-json/wc/v3/products/{pid}/variations"),
        &p,
        items,
    )
}

async fn update_variation(
    State(sim): State<Arc<Sim>>,
    headers: HeaderMap,
    Path((pid, vid)): Path<(String, String)>,
    body: Bytes,
) -> Response {
    let body = match json_body(&body) {
        Ok(b) => b,
        Err(r) => return r,
    };
    let patch = match stock_patch(&body) {
        Ok(p) => p,
        Err((k, m)) => return invalid_param(&k, &m),
    };
    let (Ok(pid), Ok(vid)) = (pid.parse::<u64>(), vid.parse::<u64>()) else {
        return product_not_found();
    };
    let mut shop = lock(&sim.shop);
    if !apply_variation(&mut shop, pid, vid, &patch) {
        return product_not_found();
    }
    match shop.variations.get(&vid) {
        Some(v) => Json(render::variation(v, &base_url(&headers))).into_response(),
        None => product_not_found(),
    }
}

async fn batch_variations(
    State(sim): State<Arc<Sim>>,
    headers: HeaderMap,
    Path(pid): Path<String>,
    body: Bytes,
) -> Response {
    let body = match json_body(&body) {
        Ok(b) => b,
        Err(r) => return r,
    };
    if batch_counts(&body) > BATCH_LIMIT {
        return too_many();
    }
    let Ok(pid) = pid.parse::<u64>() else {
        return product_not_found();
    };
    let base = base_url(&headers);
    let mut shop = lock(&sim.shop);
    if !shop.products.contains_key(&pid) {
        return product_not_found();
    }
    let mut updated = Vec::new();
    for item in body
        .get("update")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let id = item.get("id").cloned().unwrap_or(Value::Null);
        let Some(vid) = id.as_u64() else {
            updated.push(item_error(
                &id,
                "woocommerce_rest_product_variation_invalid_id",
                "Invalid ID.",
                400,
            ));
            continue;
        };
        match stock_patch(item) {
            Err((_, m)) => updated.push(item_error(&id, "rest_invalid_param", &m, 400)),
            Ok(patch) => {
                if apply_variation(&mut shop, pid, vid, &patch)
                    && let Some(v) = shop.variations.get(&vid)
                {
                    updated.push(render::variation(v, &base));
                } else {
                    updated.push(item_error(
                        &id,
                        "woocommerce_rest_product_variation_invalid_id",
                        "Invalid ID.",
                        400,
                    ));
                }
            }
        }
    }
    let mut out = json!({});
    if body.get("create").is_some() {
        out["create"] = json!(unsupported(&body, "create"));
    }
    out["update"] = json!(updated);
    if body.get("delete").is_some() {
        out["delete"] = json!(unsupported(&body, "delete"));
    }
    Json(out).into_response()
}

const TOPICS: [&str; 8] = [
    "order.created",
    "order.updated",
    "order.deleted",
    "order.restored",
    "product.created",
    "product.updated",
    "product.deleted",
    "product.restored",
];

async fn create_webhook(State(sim): State<Arc<Sim>>, body: Bytes) -> Response {
    let body = match json_body(&body) {
        Ok(b) => b,
        Err(r) => return r,
    };
    let topic = body.get("topic").and_then(Value::as_str).unwrap_or("");
    if !TOPICS.contains(&topic) {
        return invalid_param("topic", "Webhook topic is invalid.");
    }
    let Some(url) = body
        .get("delivery_url")
        .and_then(Value::as_str)
        .filter(|u| u.starts_with("http://") || u.starts_with("https://"))
    else {
        return invalid_param(
            "delivery_url",
            "Webhook delivery URL must be a valid URL starting with http:// or https://.",
        );
    };
    let mut shop = lock(&sim.shop);
    let id = shop.id();
    let secret = body
        .get("secret")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .map_or_else(|| format!("whsec_sim_{id:x}"), str::to_owned);
    let w = Webhook {
        id,
        name: body
            .get("name")
            .and_then(Value::as_str)
            .unwrap_or("Webhook")
            .to_owned(),
        status: body
            .get("status")
            .and_then(Value::as_str)
            .unwrap_or("active")
            .to_owned(),
        topic: topic.to_owned(),
        delivery_url: url.to_owned(),
        secret,
        created: now(),
    };
    let out = render::webhook(&w);
    shop.webhooks.push(w);
    (StatusCode::CREATED, Json(out)).into_response()
}

async fn list_webhooks(
    State(sim): State<Arc<Sim>>,
    headers: HeaderMap,
    Query(p): Params,
) -> Response {
    let items: Vec<Value> = lock(&sim.shop)
        .webhooks
        .iter()
        .map(render::webhook)
        .collect();
    paged(&sim, &headers, "/wp-json/wc/v3/webhooks", &p, items)
}

/// Deliver `payload` to every active webhook on `topic`, signed as
/// WooCommerce signs: base64 of HMAC-SHA256 of the body with the secret.
pub(crate) fn fire(sim: &Sim, topic: &str, payload: &Value, headers: &HeaderMap) {
    let body = payload.to_string().into_bytes();
    let source = format!("{}/", base_url(headers));
    let hooks: Vec<Webhook> = {
        let mut shop = lock(&sim.shop);
        let hooks: Vec<Webhook> = shop
            .webhooks
            .iter()
            .filter(|w| w.topic == topic && w.status == "active")
            .cloned()
            .collect();
        shop.deliveries += hooks.len() as u64;
        hooks
    };
    let (resource, event) = topic.split_once('.').unwrap_or((topic, ""));
    for (i, w) in hooks.into_iter().enumerate() {
        let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(w.secret.as_bytes()) else {
            continue;
        };
        mac.update(&body);
        let sig = base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes());
        let headers = vec![
            ("x-wc-webhook-source".to_owned(), source.clone()),
            ("x-wc-webhook-topic".to_owned(), topic.to_owned()),
            ("x-wc-webhook-resource".to_owned(), resource.to_owned()),
            ("x-wc-webhook-event".to_owned(), event.to_owned()),
            ("x-wc-webhook-signature".to_owned(), sig),
            ("x-wc-webhook-id".to_owned(), w.id.to_string()),
            (
                "x-wc-webhook-delivery-id".to_owned(),
                format!("{}{i}", w.id),
            ),
        ];
        sim.core
            .deliver(w.delivery_url, topic.to_owned(), headers, body.clone());
    }
}

async fn index() -> Json<Value> {
    Json(json!({
        "namespace": "wc/v3",
        "routes": {
            "/wc/v3/orders": {}, "/wc/v3/orders/(?P<id>[\\d]+)": {},
            "/wc/v3/orders/(?P<order_id>[\\d]+)/notes": {},
            "/wc/v3/products": {}, "/wc/v3/products/batch": {},
            "/wc/v3/products/(?P<product_id>[\\d]+)/variations": {},
            "/wc/v3/products/(?P<product_id>[\\d]+)/variations/batch": {},
            "/wc/v3/webhooks": {}
        }
    }))
}

async fn current_currency() -> Json<Value> {
    Json(json!({ "code": "EUR", "name": "Euro", "symbol": "&euro;",
        "_links": { "collection": [{ "href": "/wp-json/wc/v3/data/currencies" }] } }))
}

async fn no_route() -> Response {
    wc_error(
        StatusCode::NOT_FOUND,
        "rest_no_route",
        "No route was found matching the URL and request method.",
    )
}

pub(crate) fn api(sim: Arc<Sim>) -> Router {
    Router::new()
        .route("/wp-json/wc/v3", get(index))
        .route("/wp-json/wc/v3/orders", get(list_orders))
        .route(
            "/wp-json/wc/v3/data/currencies/current",
            get(current_currency),
        )
        .route(
            "/wp-json/wc/v3/orders/{id}",
            get(get_order)
                .put(update_order)
                .post(update_order)
                .patch(update_order),
        )
        .route(
            "/wp-json/wc/v3/orders/{id}/notes",
            get(list_notes).post(create_note),
        )
        .route(
            "/wp-json/wc-shipment-tracking/v3/orders/{id}/shipment-trackings",
            get(list_trackings).post(create_tracking),
        )
        .route(
            "/wp-json/wc-shipment-tracking/v3/orders/{id}/shipment-trackings/{tracking_id}",
            axum::routing::delete(delete_tracking),
        )
        .route("/wp-json/wc/v3/products", get(list_products))
        .route("/wp-json/wc/v3/products/batch", post(batch_products))
        .route(
            "/wp-json/wc/v3/products/{id}",
            get(get_product).put(update_product).post(update_product),
        )
        .route(
            "/wp-json/wc/v3/products/{id}/variations",
            get(list_variations),
        )
        .route(
            "/wp-json/wc/v3/products/{id}/variations/batch",
            post(batch_variations),
        )
        .route(
            "/wp-json/wc/v3/products/{id}/variations/{vid}",
            put(update_variation).post(update_variation),
        )
        .route(
            "/wp-json/wc/v3/webhooks",
            get(list_webhooks).post(create_webhook),
        )
        .route("/wp-json/{*rest}", axum::routing::any(no_route))
        .layer(axum::middleware::from_fn_with_state(Arc::clone(&sim), auth))
        .with_state(sim)
}
