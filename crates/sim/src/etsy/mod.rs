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

use std::sync::{Arc, Mutex};

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::core::{self, Core};

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

mod api;
mod control;
mod oauth;
mod shop;

use shop::Shop;

/// The simulator's shared state.
#[derive(Debug)]
struct Sim {
    core: Arc<Core>,
    shop: Mutex<Shop>,
    creds: EtsyCredentials,
    /// Authorization codes handed out and not exchanged yet.
    grants: Mutex<std::collections::HashMap<String, oauth::Grant>>,
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

/// Build the simulator's router.
pub(crate) fn router(seed: u64, products: usize, orders: usize, creds: EtsyCredentials) -> Router {
    let core = Core::new(seed, error_body);
    let sim = Arc::new(Sim {
        shop: Mutex::new(Shop::seeded(seed, products, orders)),
        core: Arc::clone(&core),
        creds,
        grants: Mutex::default(),
    });
    let api = Router::new()
        .route("/v3/public/oauth/token", post(api::token))
        .route("/v3/application/users/me", get(api::me))
        .route(
            "/v3/application/shops/{shop_id}/receipts",
            get(api::receipts),
        )
        .route(
            "/v3/application/shops/{shop_id}/receipts/{receipt_id}",
            get(api::one_receipt),
        )
        .route(
            "/v3/application/shops/{shop_id}/receipts/{receipt_id}/tracking",
            post(api::tracking),
        )
        .route(
            "/v3/application/shops/{shop_id}/listings",
            get(api::listings),
        )
        .route(
            "/v3/application/listings/{listing_id}/inventory",
            get(api::get_inventory).put(api::put_inventory),
        )
        .layer(axum::middleware::from_fn_with_state(
            Arc::clone(&sim),
            api::gate,
        ))
        .layer(axum::middleware::from_fn_with_state(
            Arc::clone(&core),
            core::faults_layer,
        ))
        .with_state(Arc::clone(&sim));
    let control = Router::new()
        .route("/_sim/status", get(control::status))
        .route("/_sim/orders", post(control::place))
        .route("/_sim/orders/{id}/cancel", post(control::cancel))
        .route("/_sim/stock", get(control::stock))
        .route("/_sim/fulfilments", get(control::fulfilments))
        .with_state(Arc::clone(&sim));
    api.merge(control)
        .merge(oauth::routes(sim))
        .merge(core::control_routes(core))
}
