//! The HTTP API of Switchyard.
//!
//! [`router`] builds the whole service: `/healthz`, `/readyz` and `/metrics`
//! ([`operator`]), the OpenAPI document at `/v1/openapi.json` and its
//! reference page at `/docs`, and the authenticated `/v1` resources, each in
//! its own module under [`routes`]. The OpenAPI document is generated from the same
//! route table, so it always lists every route that exists.

pub mod console;
pub mod contract;
pub mod error;
pub mod extract;
pub mod invoice_pdf;
pub mod middleware;
pub mod operator;
pub mod routes;
pub mod text;
pub mod tokens;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderName, Request, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use switchyard_storage::Storage;
use switchyard_storage::crypto::CredentialCipher;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::request_id::{
    MakeRequestId, PropagateRequestIdLayer, RequestId, SetRequestIdLayer,
};
use tower_http::trace::TraceLayer;
use utoipa::OpenApi;
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};

use crate::error::ApiError;

/// Settings of the API layer.
#[derive(Debug, Clone)]
pub struct ApiConfig {
    /// Largest accepted request body, in bytes.
    pub max_body_bytes: usize,
    /// Where webhook URLs written as addresses may point (names are
    /// checked by the engine on every connection).
    pub outbound: switchyard_domain::webhook::AddressPolicy,
    /// `/metrics` is served on its own address ([`metrics_router`]), not
    /// with the API.
    pub metrics_apart: bool,
}

impl Default for ApiConfig {
    fn default() -> Self {
        Self {
            max_body_bytes: 4 * 1024 * 1024,
            outbound: switchyard_domain::webhook::AddressPolicy::default(),
            metrics_apart: false,
        }
    }
}

/// What every handler can reach.
#[derive(Debug, Clone)]
pub struct AppState {
    /// The storage backend.
    pub storage: Arc<dyn Storage>,
    /// Seals channel credentials.
    pub cipher: CredentialCipher,
    /// API settings.
    pub config: Arc<ApiConfig>,
    /// Poked when the API enqueues work for the engine or changes stock,
    /// so the workers act at once instead of at their next tick.
    pub wake: Arc<tokio::sync::Notify>,
    /// The console's settings and sign-in throttle.
    pub console: Arc<console::ConsoleConfig>,
}

struct BearerAuth;

impl utoipa::Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)),
        );
    }
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Switchyard API",
        description = "Multichannel commerce hub: stores, channels, catalogue and the stock ledger. \
                       Authenticate with `Authorization: Bearer sy_...`. Errors are `{\"error\": {\"code\", \"message\", \"field\"?}}`. \
                       POST requests honour `Idempotency-Key`. Unknown query parameters are ignored; unknown body fields are refused (422).",
        license(name = "Apache-2.0")
    ),
    paths(operator::healthz, operator::readyz, operator::scrape, routes::inbound::receive),
    modifiers(&BearerAuth),
    security(("bearer" = [])),
    tags(
        (name = "account", description = "The caller's account and API tokens"),
        (name = "stores", description = "Stores: one brand or one client of a fulfilment provider"),
        (name = "channels", description = "Connections to sales channels, with their stock rules"),
        (name = "products", description = "Main products and kits"),
        (name = "stock", description = "The stock ledger: sources, commitments, availability, explanations"),
        (name = "journal", description = "The append-only log of every change"),
        (name = "orders", description = "Orders imported from channels, and what people do with them"),
        (name = "fulfilments", description = "Shipments with tracking, synced to the order's channel; carrier rules"),
        (name = "back office", description = "The webshop a store's marketplace orders are created in, and read back from"),
        (name = "plugins", description = "Plugins (3PL fulfilment centres): orders routed to them by the plugin rules (with a dry run), and the plugin's own routes for reporting shipments and stock with a plugin token"),
        (name = "webhooks", description = "Signed (Standard Webhooks) notifications of order, product, channel product and fulfilment events, with delivery log and replay"),
        (name = "hosted pages", description = "Single-use onboarding pages on which a provider's client connects one channel to a store"),
        (name = "invoices", description = "Invoices and credit notes made from orders: numbering, seller details, tax rates, JSON and PDF"),
        (name = "accounting", description = "Accounting packages (Xero, Sage) each issued invoice and credit note is booked into, with its sync state"),
        (name = "inbound", description = "Order notifications the channels push to us, signed with the channel's own secret (no bearer token)"),
        (name = "operations", description = "For the operator: liveness, readiness and Prometheus metrics (no bearer token)"),
    )
)]
struct ApiDoc;

/// The OpenAPI document of every `/v1` route, and the router serving them.
fn v1() -> (Router<AppState>, utoipa::openapi::OpenApi) {
    let (router, mut doc) = routes::all(utoipa_axum::router::OpenApiRouter::with_openapi(
        ApiDoc::openapi(),
    ))
    .split_for_parts();
    utoipa::Modify::modify(&contract::Contract, &mut doc);
    (router, doc)
}

/// The OpenAPI document the server serves at `/v1/openapi.json` (the one
/// committed as `docs/openapi.json`).
#[must_use]
pub fn openapi() -> utoipa::openapi::OpenApi {
    v1().1
}

#[derive(Clone, Copy)]
struct RandomRequestId;

impl MakeRequestId for RandomRequestId {
    fn make_request_id<B>(&mut self, _req: &Request<B>) -> Option<RequestId> {
        let mut b = [0u8; 12];
        getrandom::fill(&mut b).ok()?;
        let id: String = b.iter().map(|x| format!("{x:02x}")).collect();
        id.parse().ok().map(RequestId::new)
    }
}

/// The complete service.
pub fn router(state: AppState) -> Router {
    operator::install();
    let (v1, doc) = v1();
    let doc = Arc::new(doc);
    let v1 = v1
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            middleware::idempotency,
        ))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            middleware::authenticate,
        ));
    let request_id = HeaderName::from_static("x-request-id");
    let probes = probes(&state);
    probes
        .route("/v1/openapi.json", get(move || async move { axum::Json(doc.as_ref().clone()) }))
        .route("/v1/inbound/{channel_id}", axum::routing::post(routes::inbound::receive))
        .merge(v1)
        .merge(console::router())
        .merge(utoipa_swagger_ui::SwaggerUi::new("/docs").config(utoipa_swagger_ui::Config::new(["/v1/openapi.json"])))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(axum::middleware::from_fn(operator::track))
        .layer(DefaultBodyLimit::max(state.config.max_body_bytes))
        .layer(axum::middleware::from_fn(middleware::limit_uri))
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(|req: &Request<_>| {
                    let id = req
                        .headers()
                        .get("x-request-id")
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or("-");
                    tracing::info_span!("request", method = %req.method(), path = %req.uri().path(), request_id = %id, account = tracing::field::Empty)
                })
                .on_response(|resp: &Response, latency: Duration, _span: &tracing::Span| {
                    tracing::info!(status = resp.status().as_u16(), latency_ms = latency.as_millis() as u64, "response");
                }),
        )
        .layer(PropagateRequestIdLayer::new(request_id.clone()))
        .layer(SetRequestIdLayer::new(request_id, RandomRequestId))
        .layer(CatchPanicLayer::custom(|_| {
            ApiError::client(StatusCode::INTERNAL_SERVER_ERROR, "internal", "an internal error occurred; it has been logged")
                .into_response()
        }))
        .with_state(state)
}

/// `/healthz` and `/readyz`, and `/metrics` unless it has its own address.
fn probes(state: &AppState) -> Router<AppState> {
    let probes = Router::new()
        .route("/healthz", get(operator::healthz))
        .route("/readyz", get(operator::readyz));
    if state.config.metrics_apart {
        probes
    } else {
        probes.route("/metrics", get(operator::scrape))
    }
}

/// `/metrics` alone, for its own address (`metrics_listen`).
pub fn metrics_router(state: AppState) -> Router {
    operator::install();
    Router::new()
        .route("/metrics", get(operator::scrape))
        .fallback(not_found)
        .with_state(state)
}

/// The service of an instance that runs workers only (`role =
/// "workers"`): `/healthz`, and a clear 404 for everything else.
pub fn health_router(state: AppState) -> Router {
    operator::install();
    let probes = probes(&state);
    probes
        .fallback(workers_only)
        .layer(axum::middleware::from_fn(operator::track))
        .with_state(state)
}

async fn workers_only(req: axum::extract::Request) -> ApiError {
    ApiError::client(
        StatusCode::NOT_FOUND,
        "not_found",
        format!(
            "no route for {} {}: this instance runs workers only (role = \"workers\"); send API requests to an instance with role \"api\" or \"all\"",
            req.method(),
            req.uri().path()
        ),
    )
}

async fn not_found(req: axum::extract::Request) -> ApiError {
    ApiError::client(
        StatusCode::NOT_FOUND,
        "not_found",
        format!("no route for {} {}", req.method(), req.uri().path()),
    )
}

async fn method_not_allowed(req: axum::extract::Request) -> ApiError {
    ApiError::client(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        format!("{} is not allowed on {}", req.method(), req.uri().path()),
    )
}
