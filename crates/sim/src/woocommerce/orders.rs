//! Orders, order notes and Shipment Tracking entries.

use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::Sim;
use super::params::*;
use super::render;
use super::routes::fire;
use super::state::{Line, Note, Order, Shop, Tracking, now};
use crate::core::lock;

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

pub(crate) async fn list_orders(
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
    {
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
        paged_with(&sim, &headers, "/wp-json/wc/v3/orders", &p, &list, |o| {
            render::order(o, &base)
        })
    }
}

fn order_not_found() -> Response {
    wc_error(
        StatusCode::NOT_FOUND,
        "woocommerce_rest_shop_order_invalid_id",
        "Invalid ID.",
    )
}

pub(crate) async fn get_order(
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

pub(crate) async fn update_order(
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

pub(crate) async fn list_notes(
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

pub(crate) async fn create_note(
    State(sim): State<Arc<Sim>>,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
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

pub(crate) async fn list_trackings(
    State(sim): State<Arc<Sim>>,
    Path(id): Path<String>,
) -> Response {
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

pub(crate) async fn create_tracking(
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

pub(crate) async fn delete_tracking(
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

/// A WooCommerce decimal string (`"12.50"`) or number in minor units.
fn minor_units(v: &Value) -> Option<i64> {
    let text = match v {
        Value::String(s) => s.trim().to_owned(),
        Value::Number(n) => n.to_string(),
        _ => return None,
    };
    let (whole, frac) = text.split_once('.').unwrap_or((text.as_str(), ""));
    if frac.len() > 2 || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let whole: i64 = whole.parse().ok()?;
    let frac: i64 = format!("{frac:0<2}").parse().ok()?;
    whole.checked_mul(100)?.checked_add(frac)
}

fn person_from(billing: &Value, shipping: &Value) -> crate::seed::Person {
    let s = |v: &Value, k: &str| v.get(k).and_then(Value::as_str).unwrap_or("").to_owned();
    let opt = |v: &Value, k: &str| Some(s(v, k)).filter(|x| !x.is_empty());
    let a = if shipping.get("address_1").is_some() {
        shipping
    } else {
        billing
    };
    crate::seed::Person {
        first_name: s(a, "first_name"),
        last_name: s(a, "last_name"),
        email: s(billing, "email"),
        phone: s(billing, "phone"),
        company: opt(a, "company"),
        address1: s(a, "address_1"),
        address2: opt(a, "address_2"),
        city: s(a, "city"),
        region: opt(a, "state"),
        postcode: s(a, "postcode"),
        country: s(a, "country"),
    }
}

/// `POST /orders`: create an order (as a back office receives marketplace
/// orders). Lines name a `product_id` / `variation_id` or only a `name`
/// with totals; `meta_data` is kept; `set_paid` moves it to processing,
/// which reduces stock as WooCommerce does.
pub(crate) async fn create_order(
    State(sim): State<Arc<Sim>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let body = match json_body(&body) {
        Ok(b) => b,
        Err(r) => return r,
    };
    let status = body
        .get("status")
        .and_then(Value::as_str)
        .unwrap_or("pending")
        .to_owned();
    if !STATUSES.contains(&status.as_str()) {
        return invalid_param(
            "status",
            &format!("status is not one of {}.", STATUSES.join(", ")),
        );
    }
    let items = body
        .get("line_items")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let rendered = {
        let mut shop = lock(&sim.shop);
        let mut lines = Vec::new();
        for (i, item) in items.iter().enumerate() {
            let quantity = item.get("quantity").and_then(Value::as_i64).unwrap_or(1);
            if quantity < 1 {
                return invalid_param(
                    "line_items",
                    &format!("line_items[{i}][quantity] must be at least 1."),
                );
            }
            let pid = item.get("product_id").and_then(Value::as_u64).unwrap_or(0);
            let vid = item
                .get("variation_id")
                .and_then(Value::as_u64)
                .unwrap_or(0);
            let (name, sku, price) = if vid != 0 {
                match shop.variations.get(&vid).filter(|v| v.parent_id == pid) {
                    Some(v) => (
                        format!("{} - {}", shop.products[&pid].name, v.option),
                        v.sku.clone(),
                        v.price,
                    ),
                    None => {
                        return wc_error(
                            StatusCode::BAD_REQUEST,
                            "woocommerce_rest_invalid_variation_id",
                            "Invalid variation ID.",
                        );
                    }
                }
            } else if pid != 0 {
                match shop.products.get(&pid) {
                    Some(p) => (p.name.clone(), p.sku.clone(), p.price),
                    None => {
                        return wc_error(
                            StatusCode::BAD_REQUEST,
                            "woocommerce_rest_invalid_product_id",
                            "Invalid product ID.",
                        );
                    }
                }
            } else {
                let name = item.get("name").and_then(Value::as_str).unwrap_or("");
                if name.is_empty() {
                    return wc_error(
                        StatusCode::BAD_REQUEST,
                        "woocommerce_rest_required_product_reference",
                        "Product ID or SKU is required.",
                    );
                }
                (name.to_owned(), String::new(), 0)
            };
            let total = item
                .get("total")
                .and_then(minor_units)
                .unwrap_or(price * quantity);
            let subtotal = item.get("subtotal").and_then(minor_units).unwrap_or(total);
            let id = shop.id();
            lines.push(Line {
                id,
                name,
                product_id: pid,
                variation_id: vid,
                quantity,
                sku,
                subtotal,
                total,
            });
        }
        let shipping_line = body
            .get("shipping_lines")
            .and_then(Value::as_array)
            .and_then(|l| l.first().cloned())
            .unwrap_or(Value::Null);
        let mut meta = Vec::new();
        for m in body
            .get("meta_data")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            if let Some(k) = m.get("key").and_then(Value::as_str) {
                let mid = shop.id();
                meta.push((
                    mid,
                    k.to_owned(),
                    m.get("value").cloned().unwrap_or(Value::Null),
                ));
            }
        }
        let at = now();
        let id = shop.id();
        let order = Order {
            id,
            order_key: format!("wc_order_{:013x}", id.wrapping_mul(0x9e37_79b9)),
            status: "pending".into(),
            currency: body
                .get("currency")
                .and_then(Value::as_str)
                .unwrap_or("EUR")
                .to_owned(),
            created_via: "rest-api",
            meta,
            created: at,
            modified: at,
            paid: None,
            completed: None,
            customer: person_from(
                body.get("billing").unwrap_or(&Value::Null),
                body.get("shipping").unwrap_or(&Value::Null),
            ),
            customer_note: body
                .get("customer_note")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_owned(),
            lines,
            shipping_method: shipping_line
                .get("method_title")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_owned(),
            shipping_line_id: shop.id(),
            shipping: shipping_line
                .get("total")
                .and_then(minor_units)
                .unwrap_or(0),
            tax_line_id: shop.id(),
        };
        shop.orders.insert(id, order);
        let paid = body.get("set_paid").and_then(Value::as_bool) == Some(true);
        let target = if paid && status == "pending" {
            "processing".to_owned()
        } else {
            status
        };
        if target != "pending" {
            set_status(&mut shop, id, &target);
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
        None => order_not_found(),
    }
}
