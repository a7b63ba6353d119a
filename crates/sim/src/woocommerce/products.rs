//! Products, variations and their batch updates (stock).

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
use super::state::{Shop, now};
use crate::core::{Core, lock};

pub(crate) async fn list_products(
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

pub(crate) async fn get_product(
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

impl StockPatch {
    fn apply(&self, manage_stock: &mut bool, stock_quantity: &mut Option<i64>) {
        if let Some(m) = self.manage_stock {
            *manage_stock = m;
        }
        if let Some(q) = self.stock_quantity {
            *stock_quantity = q;
        }
    }
}

fn apply_product(core: &Core, shop: &mut Shop, id: u64, patch: &StockPatch) -> bool {
    let Some(p) = shop.products.get_mut(&id) else {
        return false;
    };
    patch.apply(&mut p.manage_stock, &mut p.stock_quantity);
    if let Some(Some(q)) = patch.stock_quantity {
        core.record_stock(&p.sku, q);
    }
    p.modified = now();
    true
}

fn apply_variation(core: &Core, shop: &mut Shop, parent: u64, id: u64, patch: &StockPatch) -> bool {
    let Some(v) = shop
        .variations
        .get_mut(&id)
        .filter(|v| v.parent_id == parent)
    else {
        return false;
    };
    patch.apply(&mut v.manage_stock, &mut v.stock_quantity);
    if let Some(Some(q)) = patch.stock_quantity {
        core.record_stock(&v.sku, q);
    }
    v.modified = now();
    true
}

pub(crate) async fn update_product(
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
    if !apply_product(&sim.core, &mut shop, id, &patch) {
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

/// One batch call: `update` items are applied one by one (each answered
/// with the object or an error); `create` and `delete` are refused per item.
/// `parent` is the variable product for a variations batch.
fn batch(core: &Core, shop: &mut Shop, base: &str, body: &Value, parent: Option<u64>) -> Value {
    let invalid = if parent.is_some() {
        "woocommerce_rest_product_variation_invalid_id"
    } else {
        "woocommerce_rest_product_invalid_id"
    };
    let mut updated = Vec::new();
    for item in body
        .get("update")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let id = item.get("id").cloned().unwrap_or(Value::Null);
        let rendered = match (id.as_u64(), stock_patch(item)) {
            (None, _) => None,
            (Some(_), Err((_, m))) => {
                updated.push(item_error(&id, "rest_invalid_param", &m, 400));
                continue;
            }
            (Some(n), Ok(patch)) => match parent {
                None => apply_product(core, shop, n, &patch)
                    .then(|| shop.products.get(&n).map(|p| render::product(p, base)))
                    .flatten(),
                Some(pid) => apply_variation(core, shop, pid, n, &patch)
                    .then(|| shop.variations.get(&n).map(|v| render::variation(v, base)))
                    .flatten(),
            },
        };
        updated.push(rendered.unwrap_or_else(|| item_error(&id, invalid, "Invalid ID.", 400)));
    }
    let mut out = json!({});
    if body.get("create").is_some() {
        out["create"] = json!(unsupported(body, "create"));
    }
    if body.get("update").is_some() {
        out["update"] = json!(updated);
    }
    if body.get("delete").is_some() {
        out["delete"] = json!(unsupported(body, "delete"));
    }
    out
}

pub(crate) async fn batch_products(
    State(sim): State<Arc<Sim>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let body = match json_body(&body) {
        Ok(b) => b,
        Err(r) => return r,
    };
    if batch_counts(&body) > BATCH_LIMIT {
        return too_many();
    }
    let mut shop = lock(&sim.shop);
    Json(batch(
        &sim.core,
        &mut shop,
        &base_url(&headers),
        &body,
        None,
    ))
    .into_response()
}

pub(crate) async fn list_variations(
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

pub(crate) async fn update_variation(
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
    if !apply_variation(&sim.core, &mut shop, pid, vid, &patch) {
        return product_not_found();
    }
    match shop.variations.get(&vid) {
        Some(v) => Json(render::variation(v, &base_url(&headers))).into_response(),
        None => product_not_found(),
    }
}

pub(crate) async fn batch_variations(
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
    let mut shop = lock(&sim.shop);
    if !shop.products.contains_key(&pid) {
        return product_not_found();
    }
    Json(batch(
        &sim.core,
        &mut shop,
        &base_url(&headers),
        &body,
        Some(pid),
    ))
    .into_response()
}
