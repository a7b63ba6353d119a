//! Amazon Selling Partner API, as described by
//! `channel-specs/amazon-sp-api/` (`ordersV0.json`,
//! `listingsItems_2021-08-01.json`).
//!
//! - Auth: Login with Amazon (`POST /auth/o2/token`, form-encoded
//!   `grant_type=refresh_token`, `refresh_token`, `client_id`,
//!   `client_secret`; on Amazon this is `api.amazon.com`, here it is served
//!   beside the API) gives an access token for an hour, sent as
//!   `x-amz-access-token`. Errors are `{"errors": [{code, message,
//!   details}]}`.
//! - Orders v0: `GET /orders/v0/orders` with `MarketplaceIds` and
//!   `CreatedAfter` or `LastUpdatedAfter` (one of them is required),
//!   `FulfillmentChannels` (`MFN`, `AFN`), `MaxResultsPerPage` (1–100) and
//!   `NextToken`. The token names a snapshot of the result taken on the
//!   first page, so later pages are stable. `GET
//!   /orders/v0/orders/{id}/orderItems` gives the lines; `ItemPrice` is the
//!   price of all units of a line. Without a restricted data token the
//!   shipping address carries no name or street, as on Amazon.
//! - `POST /orders/v0/orders/{id}/shipmentConfirmation` answers 204. A
//!   package is keyed by its `packageReferenceId` (positive digits): sending
//!   the same id again edits the package, never adds one.
//! - Listings Items 2021-08-01: `PATCH
//!   /listings/2021-08-01/items/{sellerId}/{sku}` with a `replace` of
//!   `/attributes/fulfillment_availability` sets the quantity; `GET
//!   /listings/2021-08-01/items/{sellerId}` (`pageSize` ≤ 20, `pageToken`)
//!   lists them.
//! - Feeds 2021-06-30: `JSON_LISTINGS_FEED` documents uploaded to a
//!   pre-signed URL (served under `/_s3/`), processed after a short queue,
//!   with a processing report per feed (see [`feeds`]).
//! - Rate limits: a token bucket per operation with the usage plan's rate
//!   and burst (getOrders 0.0167/s burst 20, getOrderItems 0.5/s burst 30,
//!   confirmShipment 2/s burst 10, patchListingsItem and
//!   searchListingsItems 5/s burst 5), `x-amzn-RateLimit-Limit` on every
//!   answer, and 429 `QuotaExceeded` without `Retry-After`.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::core::{self, Core};

/// The marketplace of the simulated seller (amazon.de).
pub const MARKETPLACE: &str = "A1PA6795UKMFR9";
/// Its currency.
const CURRENCY: &str = "EUR";
/// Seconds an access token lives.
const TOKEN_LIFETIME: i64 = 3600;
/// The usage plans: `(operation, rate per second, burst)`.
pub const USAGE_PLANS: [(&str, f64, f64); 10] = [
    ("getOrders", 0.0167, 20.0),
    ("createFeedDocument", 0.5, 15.0),
    ("createFeed", 0.0083, 15.0),
    ("getFeed", 2.0, 15.0),
    ("getFeedDocument", 0.0222, 10.0),
    ("getOrderItems", 0.5, 30.0),
    ("getOrderAddress", 0.5, 30.0),
    ("confirmShipment", 2.0, 10.0),
    ("patchListingsItem", 5.0, 5.0),
    ("searchListingsItems", 5.0, 5.0),
];

/// What an SP-API application authorised by the simulated seller holds.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AmazonCredentials {
    /// The LWA client id of the application.
    pub client_id: String,
    /// The LWA client secret.
    pub client_secret: String,
    /// The seller's refresh token.
    pub refresh_token: String,
    /// The seller (merchant) id.
    pub seller_id: String,
    /// The marketplace the channel sells on.
    pub marketplace_id: String,
}

impl AmazonCredentials {
    /// The credentials of the seller generated from `seed`.
    #[must_use]
    pub fn for_seed(seed: u64) -> Self {
        Self {
            client_id: format!("amzn1.application-oa2-client.{seed:032x}"),
            client_secret: format!("amzn1.oa2-cs.v1.{seed:064x}"),
            refresh_token: format!("Atzr|IwEBI{seed:040x}"),
            seller_id: format!(
                "A{:013X}",
                seed.wrapping_mul(0x9E37_79B9) % 0xF_FFFF_FFFF_FFFF
            ),
            marketplace_id: MARKETPLACE.to_owned(),
        }
    }
}

mod api;
pub mod consent;
mod control;
mod feeds;
mod store;

use store::Store;

/// One operation's token bucket.
#[derive(Debug, Clone, Copy)]
struct Bucket {
    rate: f64,
    burst: f64,
    tokens: f64,
    last: Option<tokio::time::Instant>,
}

impl Bucket {
    /// Take a token if there is one.
    fn take(&mut self) -> bool {
        let now = tokio::time::Instant::now();
        if let Some(last) = self.last {
            self.tokens =
                (self.tokens + now.duration_since(last).as_secs_f64() * self.rate).min(self.burst);
        }
        self.last = Some(now);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

/// The simulator's shared state.
#[derive(Debug)]
struct Sim {
    core: Arc<Core>,
    store: Mutex<Store>,
    creds: AmazonCredentials,
    buckets: Mutex<BTreeMap<String, Bucket>>,
    /// The seed (the simulated application's id derives from it).
    seed: u64,
    /// Redirect URIs and authorization codes.
    consents: Mutex<consent::Consents>,
}

type App = Arc<Sim>;

/// SP-API's error body with the request id header.
fn errors(status: StatusCode, code: &str, message: &str) -> Response {
    let mut r = (
        status,
        Json(json!({ "errors": [{ "code": code, "message": message, "details": "" }] })),
    )
        .into_response();
    r.headers_mut().insert(
        "x-amzn-requestid",
        HeaderValue::from_static("b8a1d2f0-5e1c-4c9a-9e0a-000000000000"),
    );
    r
}

fn error_body(status: u16) -> Value {
    let (code, message) = match status {
        429 => (
            "QuotaExceeded",
            "You exceeded your quota for the requested resource.",
        ),
        403 => ("Unauthorized", "Access to requested resource is denied."),
        _ => (
            "InternalFailure",
            "We encountered an internal error. Please try again.",
        ),
    };
    json!({ "errors": [{ "code": code, "message": message, "details": "" }] })
}

fn bucket_of(op: &str) -> Bucket {
    let (rate, burst) = USAGE_PLANS
        .iter()
        .find(|(o, _, _)| *o == op)
        .map_or((1.0, 1.0), |(_, r, b)| (*r, *b));
    Bucket {
        rate,
        burst,
        tokens: burst,
        last: None,
    }
}

/// Build the simulator's router.
pub(crate) fn router(
    seed: u64,
    products: usize,
    orders: usize,
    creds: AmazonCredentials,
) -> Router {
    let core = Core::new(seed, error_body);
    let sim = Arc::new(Sim {
        store: Mutex::new(Store::seeded(seed, products, orders)),
        core: Arc::clone(&core),
        creds,
        buckets: Mutex::new(
            USAGE_PLANS
                .iter()
                .map(|(op, _, _)| ((*op).to_owned(), bucket_of(op)))
                .collect(),
        ),
        seed,
        consents: Mutex::default(),
    });
    let api = Router::new()
        .route("/auth/o2/token", post(api::token))
        .route("/orders/v0/orders", get(api::orders))
        .route("/orders/v0/orders/{order_id}", get(api::one_order))
        .route(
            "/orders/v0/orders/{order_id}/orderItems",
            get(api::order_items),
        )
        .route(
            "/orders/v0/orders/{order_id}/address",
            get(api::order_address),
        )
        .route(
            "/orders/v0/orders/{order_id}/shipmentConfirmation",
            post(api::confirm_shipment),
        )
        .route(
            "/listings/2021-08-01/items/{seller_id}",
            get(api::search_listings),
        )
        .route(
            "/listings/2021-08-01/items/{seller_id}/{sku}",
            get(api::get_listing).patch(api::patch_listing),
        )
        .route("/feeds/2021-06-30/documents", post(feeds::create_document))
        .route("/feeds/2021-06-30/documents/{id}", get(feeds::get_document))
        .route("/feeds/2021-06-30/feeds", post(feeds::create_feed))
        .route("/feeds/2021-06-30/feeds/{id}", get(feeds::get_feed))
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
        .route("/_s3/{id}", get(feeds::download).put(feeds::upload))
        .route("/_sim/status", get(control::status))
        .route("/_sim/orders", post(control::place))
        .route("/_sim/orders/{id}/cancel", post(control::cancel))
        .route("/_sim/stock", get(control::stock))
        .route("/_sim/fulfilments", get(control::fulfilments))
        .route("/_sim/lag", axum::routing::put(control::set_lag))
        .route(
            "/_sim/rate-limits",
            get(control::rate_limits).put(control::set_rate_limits),
        )
        .with_state(Arc::clone(&sim));
    api.merge(control)
        .merge(consent::routes(sim))
        .merge(core::control_routes(core))
        .fallback(api::no_route)
        .method_not_allowed_fallback(api::no_method)
}
