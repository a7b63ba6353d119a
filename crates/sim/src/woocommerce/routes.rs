//! The REST router: auth, webhooks, and the routes of `orders` and `products`.

use std::sync::Arc;

use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Query, Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use base64::Engine as _;
use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::Sha256;

use super::orders::*;
use super::params::*;
use super::products::*;
use super::state::{Webhook, now};
use super::{Sim, render};
use crate::core::lock;

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
    if let Some(text) = crate::core::basic_auth(req.headers())
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
        .route("/wp-json/wc/v3/orders", get(list_orders).post(create_order))
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
