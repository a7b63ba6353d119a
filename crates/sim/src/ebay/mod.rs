//! eBay Sell APIs, as described by `channel-specs/ebay/`
//! (`sell_fulfillment_v1_oas3.json`, `sell_inventory_v1_oas3.json`).
//!
//! - Auth: `POST /identity/v1/oauth2/token` with HTTP Basic
//!   (`client_id:client_secret`) and a form body
//!   `grant_type=refresh_token&refresh_token=…&scope=…` answers a User
//!   access token that lives two hours. API calls carry
//!   `Authorization: Bearer <token>`. OAuth errors are `{"error",
//!   "error_description"}`; API errors are `{"errors": [{errorId, domain,
//!   category, message, longMessage?, parameters?}]}`.
//! - Orders: `GET /sell/fulfillment/v1/order?filter=…&limit=…&offset=…`
//!   with the `creationdate:[a..b]`, `lastmodifieddate:[a..b]` and
//!   `orderfulfillmentstatus:{A|B}` filters, `limit` 1–200 (default 50),
//!   and `orderIds` (at most 50). Answered as `OrderSearchPagedCollection`
//!   (`href`, `limit`, `offset`, `next`, `prev`, `total`, `orders`), newest
//!   first by creation date, as eBay lists them. Money is `{value,
//!   currency}` with the value as decimal text.
//! - Shipments: `POST /sell/fulfillment/v1/order/{id}/shipping_fulfillment`
//!   (`lineItems`, `shippedDate`, `shippingCarrierCode`, `trackingNumber`)
//!   answers 201 with a `Location` header naming the new fulfillment (its id
//!   is the tracking number, as on eBay) and an empty JSON body. eBay does
//!   not deduplicate: the same call twice makes two fulfillments.
//!   `GET …/shipping_fulfillment` lists them.
//! - Stock: `POST /sell/inventory/v1/bulk_update_price_quantity` with up to
//!   25 `requests` of `{sku, shipToLocationAvailability: {quantity}}`;
//!   answered 200 when every item passed, 207 (Multi-Status) when some
//!   failed, each with its own `statusCode` and `errors`.
//!   `GET /sell/inventory/v1/inventory_item?limit=…&offset=…` lists the
//!   inventory items; its `offset` is a **page number**, as the contract
//!   says.
//! - Quotas: each API has a daily call quota (UTC day); past it, 429 with
//!   error 2001, and no `Retry-After` (eBay sends none). `GET
//!   /developer/analytics/v1_beta/user_rate_limit/` reports usage as the
//!   Analytics API does.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::core::{self, Core};

/// The currency of the simulated seller (an `EBAY_GB` account).
const CURRENCY: &str = "GBP";
/// Seconds a User access token lives.
const TOKEN_LIFETIME: i64 = 7200;
/// Default daily call quotas per API, as eBay lists them for a new app.
pub const DEFAULT_QUOTAS: [(&str, u32); 2] =
    [("sell.fulfillment", 100_000), ("sell.inventory", 2_000_000)];

/// What an eBay app connected to the simulated seller holds.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EbayCredentials {
    /// The app's client id (App ID).
    pub client_id: String,
    /// The app's client secret (Cert ID).
    pub client_secret: String,
    /// The seller's OAuth refresh token.
    pub refresh_token: String,
}

impl EbayCredentials {
    /// The credentials of the seller generated from `seed`.
    #[must_use]
    pub fn for_seed(seed: u64) -> Self {
        Self {
            client_id: format!("Switchya-sim-PRD-{seed:08x}"),
            client_secret: format!("PRD-{seed:016x}cafe"),
            refresh_token: format!("v^1.1#i^1#r^1#p^3#f^0#t^Ul4xMF8{seed:012x}"),
        }
    }
}

mod api;
mod consent;
mod control;
mod store;

use store::Store;

/// The simulator's shared state.
#[derive(Debug)]
struct Sim {
    core: Arc<Core>,
    store: Mutex<Store>,
    creds: EbayCredentials,
    /// API (`sell.inventory`) → its daily quota.
    quotas: Mutex<BTreeMap<String, Quota>>,
    /// RuNames and the authorization codes handed out.
    consents: Mutex<consent::Consents>,
}

/// One API's daily call quota and its use on `day` (days since 1970, UTC).
#[derive(Debug, Clone, Copy)]
struct Quota {
    limit: u32,
    day: i64,
    used: u32,
}

type App = Arc<Sim>;

/// eBay's error body: `{"errors": [{errorId, domain, category, message}]}`.
fn error(status: StatusCode, id: u32, domain: &str, message: &str) -> Response {
    let category = if status.is_server_error() {
        "APPLICATION"
    } else {
        "REQUEST"
    };
    (
        status,
        Json(json!({ "errors": [{
            "errorId": id, "domain": domain, "category": category, "message": message,
        }]})),
    )
        .into_response()
}

fn error_body(status: u16) -> Value {
    let (id, domain, message) = match status {
        429 => (
            2001,
            "ACCESS",
            "Too many requests. The request limit has been reached for the resource.",
        ),
        401 => (1001, "OAuth", "Invalid access token"),
        _ => (
            10001,
            "API_FULFILLMENT",
            "There was a problem with an eBay internal system or process.",
        ),
    };
    json!({ "errors": [{ "errorId": id, "domain": domain, "category":
        if status >= 500 { "APPLICATION" } else { "REQUEST" }, "message": message }] })
}

/// Build the simulator's router.
pub(crate) fn router(seed: u64, products: usize, orders: usize, creds: EbayCredentials) -> Router {
    let core = Core::new(seed, error_body);
    let sim = Arc::new(Sim {
        store: Mutex::new(Store::seeded(seed, products, orders)),
        core: Arc::clone(&core),
        creds,
        quotas: Mutex::new(
            DEFAULT_QUOTAS
                .iter()
                .map(|(k, v)| {
                    (
                        (*k).to_owned(),
                        Quota {
                            limit: *v,
                            day: 0,
                            used: 0,
                        },
                    )
                })
                .collect(),
        ),
        consents: Mutex::default(),
    });
    let api = Router::new()
        .route("/identity/v1/oauth2/token", post(api::token))
        .route("/sell/fulfillment/v1/order", get(api::orders))
        .route("/sell/fulfillment/v1/order/{order_id}", get(api::one_order))
        .route(
            "/sell/fulfillment/v1/order/{order_id}/shipping_fulfillment",
            get(api::fulfillments).post(api::create_fulfillment),
        )
        .route(
            "/sell/fulfillment/v1/order/{order_id}/shipping_fulfillment/{fulfillment_id}",
            get(api::one_fulfillment),
        )
        .route(
            "/sell/inventory/v1/inventory_item",
            get(api::inventory_items),
        )
        .route(
            "/sell/inventory/v1/bulk_update_price_quantity",
            post(api::bulk_update),
        )
        .route(
            "/developer/analytics/v1_beta/user_rate_limit/",
            get(api::rate_limits),
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
        .route(
            "/_sim/quotas",
            get(control::quotas).put(control::set_quotas),
        )
        .with_state(Arc::clone(&sim));
    api.merge(control)
        .merge(consent::routes(sim))
        .merge(core::control_routes(core))
}
