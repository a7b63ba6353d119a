//! WooCommerce REST API v3 (`/wp-json/wc/v3`) and the Shipment Tracking
//! extension (`/wp-json/wc-shipment-tracking/v3`), as documented in
//! `channel-specs/woocommerce/`.
//!
//! Money is rendered as decimal strings, dates as site-local and `_gmt`
//! twins without a zone suffix (the site runs at UTC+02:00, so a client
//! that reads the local fields as UTC is caught). Lists page with
//! `page`/`per_page`/`offset` and answer `X-WP-Total`, `X-WP-TotalPages` and
//! `Link`.

mod auth;
mod control;
mod orders;
mod params;
mod products;
mod render;
mod routes;
mod state;

use std::sync::{Arc, Mutex};

use axum::Router;
use serde_json::{Value, json};

use crate::core::{self, Core};
use state::Shop;
pub use state::WooCredentials;

/// The WooCommerce simulator's shared state.
#[derive(Debug)]
pub(crate) struct Sim {
    core: Arc<Core>,
    shop: Mutex<Shop>,
    creds: WooCredentials,
}

fn error_body(status: u16) -> Value {
    let (code, message) = match status {
        429 => ("woocommerce_rest_too_many_requests", "Too many requests."),
        401 => (
            "woocommerce_rest_authentication_error",
            "Consumer key is invalid.",
        ),
        502 => ("http_request_failed", "Bad gateway."),
        503 => ("http_request_failed", "Service unavailable."),
        _ => (
            "internal_server_error",
            "There has been a critical error on this website.",
        ),
    };
    json!({ "code": code, "message": message, "data": { "status": status } })
}

/// Build the simulator's router.
pub(crate) fn router(seed: u64, products: usize, orders: usize, creds: WooCredentials) -> Router {
    let core = Core::new(seed, error_body);
    let sim = Arc::new(Sim {
        shop: Mutex::new(Shop::seeded(seed, products, orders)),
        core: Arc::clone(&core),
        creds,
    });
    routes::api(Arc::clone(&sim))
        .layer(axum::middleware::from_fn_with_state(
            Arc::clone(&core),
            core::faults_layer,
        ))
        .merge(auth::routes(Arc::clone(&sim)))
        .merge(control::routes(sim))
        .merge(core::control_routes(core))
}
