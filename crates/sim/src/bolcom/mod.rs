//! bol.com Retailer API v10 (and Shared API v10 for process statuses), as
//! described by `channel-specs/bolcom/retailer-v10.json` and
//! `shared-v10.json`.
//!
//! - Auth: `POST /token?grant_type=client_credentials` with HTTP Basic
//!   (`client_id:client_secret`) answers a bearer token that lives 299
//!   seconds (on bol this is `login.bol.com/token`; the simulator serves it
//!   beside the API). Every API request must send `Accept:
//!   application/vnd.retailer.v10+json` (406 otherwise) and bodies with the
//!   same `Content-Type` (415 otherwise). Errors are `Problem` documents
//!   (`type`, `title`, `status`, `detail`, `host`, `instance`, `violations`).
//! - Orders: `GET /retailer/orders` lists *reduced* orders, 50 a page
//!   (`page` from 1), filtered by `status` (`OPEN` by default, `SHIPPED`,
//!   `ALL`), `fulfilment-method` (`FBR` by default), `change-interval-minute`
//!   (at most 60) or `latest-change-date` (a day); newest first. A page with
//!   nothing on it is `{}`, without `orders`, as on bol. Prices and
//!   addresses are only on `GET /retailer/orders/{order-id}`.
//! - Changes are asynchronous: `POST /retailer/shipments` and `PUT
//!   /retailer/offers/{offer-id}/stock` answer 202 with a `ProcessStatus`
//!   (`PENDING`), which `GET /shared/process-status/{id}` (or the bulk `POST
//!   /shared/process-status`) reports as `SUCCESS` or `FAILURE` once
//!   processed; only then does the change show.
//! - Offers have no list endpoint: `POST /retailer/offers/export`
//!   (`{"format": "CSV"}`) starts an export whose process status names the
//!   report, read as CSV at `GET /retailer/offers/export/{report-id}`.
//! - Rate limits per endpoint, each a fixed window: `X-RateLimit-Limit`,
//!   `X-RateLimit-Remaining` and `X-RateLimit-Reset` (seconds) on every
//!   answer, 429 with `Retry-After` past the limit. The order list allows 7
//!   calls per 3 minutes.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::core::{self, Core};

/// The media type of every Retailer API v10 request and answer.
pub const MEDIA_TYPE: &str = "application/vnd.retailer.v10+json";
/// The CSV media type of reports.
const CSV_TYPE: &str = "application/vnd.retailer.v10+csv";
/// Seconds a token lives.
const TOKEN_LIFETIME: i64 = 299;

/// Rate limits per endpoint: `(name, calls, window seconds)`.
pub const RATE_LIMITS: [(&str, u32, u64); 7] = [
    ("orders-list", 7, 180),
    ("order", 25, 1),
    ("shipments", 25, 1),
    ("offer-stock", 25, 1),
    ("offers-export", 10, 60),
    ("process-status", 100, 1),
    ("other", 25, 1),
];

/// What a bol.com API client of the simulated retailer holds.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BolCredentials {
    /// The API client id.
    pub client_id: String,
    /// The API client secret.
    pub client_secret: String,
}

impl BolCredentials {
    /// The credentials of the retailer generated from `seed`.
    #[must_use]
    pub fn for_seed(seed: u64) -> Self {
        Self {
            client_id: format!("{seed:08x}-b01c-4e11-9a5e-5eed{seed:08x}"),
            client_secret: format!("bolsecret-{seed:016x}-Xq"),
        }
    }
}

mod api;
mod control;
mod shop;

use shop::Shop;

/// One endpoint's fixed-window rate limit.
#[derive(Debug, Clone, Copy)]
struct Limit {
    calls: u32,
    window: std::time::Duration,
    started: Option<tokio::time::Instant>,
    used: u32,
}

/// The simulator's shared state.
#[derive(Debug)]
struct Sim {
    core: Arc<Core>,
    shop: Mutex<Shop>,
    creds: BolCredentials,
    limits: Mutex<BTreeMap<String, Limit>>,
}

type App = Arc<Sim>;

/// A `Problem` document with bol's media type.
fn problem(status: StatusCode, detail: &str, violations: &[(&str, &str)]) -> Response {
    let mut r = (
        status,
        Json(json!({
            "type": format!("https://api.bol.com/problems/{}", status.as_u16()),
            "title": status.canonical_reason().unwrap_or("Error"),
            "status": status.as_u16(),
            "detail": detail,
            "host": "Instance-001",
            "instance": "https://api.bol.com/retailer",
            "violations": violations.iter().map(|(n, r)| json!({ "name": n, "reason": r })).collect::<Vec<_>>(),
        })),
    )
        .into_response();
    r.headers_mut()
        .insert("content-type", HeaderValue::from_static(MEDIA_TYPE));
    r
}

/// A JSON answer with bol's media type.
fn answer(status: StatusCode, body: Value) -> Response {
    let mut r = (status, Json(body)).into_response();
    r.headers_mut()
        .insert("content-type", HeaderValue::from_static(MEDIA_TYPE));
    r
}

fn error_body(status: u16) -> Value {
    json!({
        "type": format!("https://api.bol.com/problems/{status}"),
        "title": if status == 429 { "Too Many Requests" } else { "Internal Server Error" },
        "status": status,
        "detail": if status == 429 { "Too many requests, retry later." } else { "Something went wrong." },
        "host": "Instance-001", "instance": "https://api.bol.com/retailer", "violations": [],
    })
}

/// Build the simulator's router.
pub(crate) fn router(seed: u64, products: usize, orders: usize, creds: BolCredentials) -> Router {
    let core = Core::new(seed, error_body);
    let sim = Arc::new(Sim {
        shop: Mutex::new(Shop::seeded(seed, products, orders)),
        core: Arc::clone(&core),
        creds,
        limits: Mutex::new(
            RATE_LIMITS
                .iter()
                .map(|(k, calls, secs)| {
                    (
                        (*k).to_owned(),
                        Limit {
                            calls: *calls,
                            window: std::time::Duration::from_secs(*secs),
                            started: None,
                            used: 0,
                        },
                    )
                })
                .collect(),
        ),
    });
    let api = Router::new()
        .route("/token", post(api::token))
        .route("/retailer/orders", get(api::orders))
        .route("/retailer/orders/{order_id}", get(api::one_order))
        .route(
            "/retailer/shipments",
            get(api::shipments).post(api::create_shipment),
        )
        .route("/retailer/offers/{offer_id}", get(api::one_offer))
        .route("/retailer/offers/{offer_id}/stock", put(api::offer_stock))
        .route("/retailer/offers/export", post(api::start_export))
        .route("/retailer/offers/export/{report_id}", get(api::export))
        .route("/shared/process-status/{id}", get(api::process_status))
        .route("/shared/process-status", post(api::process_statuses))
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
            "/_sim/rate-limits",
            get(control::rate_limits).put(control::set_rate_limits),
        )
        .route(
            "/_sim/processing",
            get(control::processing).put(control::set_processing),
        )
        .with_state(sim);
    api.merge(control).merge(core::control_routes(core))
}
