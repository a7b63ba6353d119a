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
use super::state::{Note, Order, Shop, Tracking, now};
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
