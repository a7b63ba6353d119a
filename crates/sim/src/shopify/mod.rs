//! Shopify Admin GraphQL API, version 2025-01.
//!
//! `POST /admin/api/2025-01/graphql.json` with `X-Shopify-Access-Token`.
//! Every document is validated against the published Admin schema
//! (trimmed to what the simulator serves and shipped inside it; see
//! [`schema`]) and answered with
//! GraphQL errors as Shopify does when invalid. Queries are costed and run
//! against a leaky bucket (2,000 points, 100 restored a second, 1,000 at
//! most per query); a query the bucket cannot pay for is answered
//! `THROTTLED`. Webhooks are signed with `X-Shopify-Hmac-Sha256`.

mod bulk;
mod control;
mod graphql;
mod mutations;
pub mod oauth;
pub mod schema;
mod search;
mod shipping;
mod state;

use std::cell::RefCell;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, LazyLock, Mutex};

use apollo_compiler::executable::OperationType;
use apollo_compiler::resolvers::Execution;
use apollo_compiler::validation::Valid;
use apollo_compiler::{ExecutableDocument, Schema};
use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::Sha256;
use tokio::time::Instant;

use crate::core::{self, Core, lock};
use crate::{SimError, SimOptions};
pub use state::ShopifyCredentials;

/// The API version served.
pub const API_VERSION: &str = "2025-01";
const BUCKET_MAX: f64 = 2000.0;
const RESTORE_PER_SEC: f64 = 100.0;
const SINGLE_QUERY_MAX: u64 = 1000;

#[derive(Debug)]
struct Bucket {
    available: f64,
    at: Instant,
    maximum: f64,
    restore: f64,
}

/// The Shopify simulator's shared state.
pub(crate) struct Sim {
    core: Arc<Core>,
    shop: Mutex<state::Shop>,
    creds: ShopifyCredentials,
    schema: Arc<Valid<Schema>>,
    bucket: Mutex<Bucket>,
    /// The shop's latest bulk query operation.
    bulk: Mutex<Option<bulk::BulkOp>>,
    /// The seed (the simulated app and shop domain derive from it).
    seed: u64,
    /// Authorization codes not exchanged yet, with their scopes.
    codes: Mutex<HashMap<String, String>>,
}

impl std::fmt::Debug for Sim {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ShopifySim").finish_non_exhaustive()
    }
}

fn error_body(status: u16) -> Value {
    match status {
        401 => {
            json!({ "errors": "[API] Invalid API key or access token (unrecognized login or wrong password)" })
        }
        429 => {
            json!({ "errors": "Exceeded 2 calls per second for api client. Reduce request rates to resume uninterrupted service." })
        }
        503 => json!({ "errors": "Unavailable Shop" }),
        _ => json!({ "errors": "Internal Server Error" }),
    }
}

/// Loaded schemas by file (`None`: the shipped one): a schema takes a
/// moment to build, and tests start many simulators.
static SCHEMAS: LazyLock<Mutex<HashMap<Option<PathBuf>, SharedSchema>>> =
    LazyLock::new(Mutex::default);

type SharedSchema = Arc<Valid<Schema>>;

fn schema_for(opts: &SimOptions) -> Result<Arc<Valid<Schema>>, SimError> {
    if let Some(s) = lock(&SCHEMAS).get(&opts.schema) {
        return Ok(Arc::clone(s));
    }
    let s = Arc::new(match &opts.schema {
        Some(path) => schema::load(path)?,
        None => schema::embedded()?,
    });
    lock(&SCHEMAS).insert(opts.schema.clone(), Arc::clone(&s));
    Ok(s)
}

pub(crate) fn build(opts: &SimOptions) -> Result<(Router, Value), SimError> {
    let schema = schema_for(opts)?;
    let creds = ShopifyCredentials::for_seed(opts.seed);
    let value = json!(creds);
    let core = Core::new(opts.seed, error_body);
    let sim = Arc::new(Sim {
        core: Arc::clone(&core),
        shop: Mutex::new(state::Shop::seeded(opts.seed, opts.products, opts.orders)),
        creds,
        schema,
        bucket: Mutex::new(Bucket {
            available: BUCKET_MAX,
            at: Instant::now(),
            maximum: BUCKET_MAX,
            restore: RESTORE_PER_SEC,
        }),
        bulk: Mutex::new(None),
        seed: opts.seed,
        codes: Mutex::default(),
    });
    let api = Router::new()
        .route(
            &format!("/admin/api/{API_VERSION}/graphql.json"),
            post(graphql_endpoint),
        )
        .route(
            "/admin/api/{version}/graphql.json",
            post(unsupported_version),
        )
        .layer(axum::middleware::from_fn_with_state(Arc::clone(&sim), auth))
        .layer(axum::middleware::from_fn_with_state(
            Arc::clone(&core),
            core::faults_layer,
        ))
        .with_state(Arc::clone(&sim));
    Ok((
        api.merge(oauth::routes(Arc::clone(&sim)))
            .merge(control::routes(sim))
            .merge(core::control_routes(core)),
        value,
    ))
}

async fn auth(State(sim): State<Arc<Sim>>, req: Request, next: Next) -> Response {
    let token = req
        .headers()
        .get("x-shopify-access-token")
        .and_then(|v| v.to_str().ok());
    if sim.core.faults().auth_revoked || token != Some(sim.creds.access_token.as_str()) {
        return sim.core.error_response(StatusCode::UNAUTHORIZED);
    }
    next.run(req).await
}

async fn unsupported_version() -> Response {
    (
        StatusCode::NOT_FOUND,
        Json(json!({ "errors": "Not Found" })),
    )
        .into_response()
}

impl Sim {
    /// Take `cost` from the bucket, or say how much is available.
    fn spend(&self, requested: u64) -> Result<f64, f64> {
        let mut b = lock(&self.bucket);
        let now = Instant::now();
        b.available =
            (b.available + now.duration_since(b.at).as_secs_f64() * b.restore).min(b.maximum);
        b.at = now;
        if requested as f64 > b.available {
            return Err(b.available);
        }
        b.available -= requested as f64;
        Ok(b.available)
    }

    fn refund(&self, points: u64) -> f64 {
        let mut b = lock(&self.bucket);
        b.available = (b.available + points as f64).min(b.maximum);
        b.available
    }

    /// `(maximum, restore rate)` of the bucket.
    fn limits(&self) -> (f64, f64) {
        let b = lock(&self.bucket);
        (b.maximum, b.restore)
    }

    /// Change the plan's bucket (standard: 2,000 / 100 a second; Plus: 20,000 / 1,000).
    pub(crate) fn set_limits(&self, maximum: f64, restore: f64, available: Option<f64>) {
        let mut b = lock(&self.bucket);
        b.maximum = maximum;
        b.restore = restore;
        b.available = available.unwrap_or(b.available).clamp(0.0, maximum);
        b.at = Instant::now();
    }
}

fn cost_ext(sim: &Sim, requested: u64, actual: Option<u64>, available: f64) -> Value {
    let (maximum, restore) = sim.limits();
    json!({ "cost": {
        "requestedQueryCost": requested,
        "actualQueryCost": actual,
        "throttleStatus": { "maximumAvailable": maximum, "currentlyAvailable": available.floor(), "restoreRate": restore }
    }})
}

async fn graphql_endpoint(
    State(sim): State<Arc<Sim>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let is_graphql = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|c| c.starts_with("application/graphql"));
    let (query, variables, op_name) = if is_graphql {
        (
            String::from_utf8_lossy(&body).into_owned(),
            Value::Null,
            None,
        )
    } else {
        let Ok(v) = serde_json::from_slice::<Value>(&body) else {
            return (
                StatusCode::BAD_REQUEST,
                Json(json!({ "errors": { "query": "Required parameter missing or invalid" } })),
            )
                .into_response();
        };
        let Some(q) = v["query"].as_str() else {
            return (
                StatusCode::BAD_REQUEST,
                Json(json!({ "errors": { "query": "Required parameter missing or invalid" } })),
            )
                .into_response();
        };
        (
            q.to_owned(),
            v["variables"].clone(),
            v["operationName"].as_str().map(str::to_owned),
        )
    };
    let (json, events) = execute(&sim, &query, variables, op_name.as_deref());
    let throttled = json["errors"][0]["extensions"]["code"] == "THROTTLED";
    let host = core::host(&headers);
    for (topic, id) in events {
        if topic == bulk::START {
            bulk::start(Arc::clone(&sim), id, host.clone());
        } else {
            fire(&sim, topic, id, &host);
        }
    }
    let mut resp = Json(json).into_response();
    if throttled {
        resp.headers_mut().insert(
            core::THROTTLED_MARK,
            axum::http::HeaderValue::from_static("1"),
        );
    }
    resp
}

/// Validate, cost, throttle and run one document.
fn execute(
    sim: &Sim,
    query: &str,
    variables: Value,
    op_name: Option<&str>,
) -> (Value, Vec<(&'static str, u64)>) {
    let schema = &*sim.schema;
    let doc = match ExecutableDocument::parse_and_validate(schema, query, "query.graphql") {
        Ok(d) => d,
        Err(e) => {
            let errors: Vec<Value> = e
                .errors
                .iter()
                .map(|d| {
                    let mut v = serde_json::to_value(d.to_json()).unwrap_or(Value::Null);
                    v["extensions"] = json!({ "code": "GRAPHQL_VALIDATION_FAILED" });
                    v
                })
                .collect();
            return (json!({ "errors": errors }), vec![]);
        }
    };
    let op = match doc.operations.get(op_name) {
        Ok(op) => op,
        Err(e) => {
            return (
                json!({ "errors": [{ "message": e.message().to_string() }] }),
                vec![],
            );
        }
    };
    if op.operation_type == OperationType::Subscription {
        return (
            json!({ "errors": [{ "message": "Subscriptions are not supported" }] }),
            vec![],
        );
    }
    let raw_vars: apollo_compiler::response::JsonMap = match variables {
        Value::Null => Default::default(),
        Value::Object(m) => serde_json::from_value(Value::Object(m)).unwrap_or_default(),
        _ => {
            return (
                json!({ "errors": [{ "message": "Variables must be an object" }] }),
                vec![],
            );
        }
    };
    let vars = match apollo_compiler::request::coerce_variable_values(schema, op, &raw_vars) {
        Ok(v) => v,
        Err(e) => {
            let err = serde_json::to_value(e.to_graphql_error(&doc.sources)).unwrap_or(Value::Null);
            return (json!({ "errors": [err] }), vec![]);
        }
    };
    let mutation = op.operation_type == OperationType::Mutation;
    let requested = graphql::cost(schema, &doc, &op.selection_set, &vars, mutation);
    if requested > SINGLE_QUERY_MAX {
        return (
            json!({
                "errors": [{ "message": format!("Query cost is {requested}, which exceeds the single query max cost limit ({SINGLE_QUERY_MAX}).\n\nSee https://shopify.dev/concepts/about-apis/rate-limits for more information on how the\ncost of a query is calculated.\n\nTo query larger amounts of data with fewer limits, bulk operations should be used instead.\nSee https://shopify.dev/tutorials/perform-bulk-operations-with-admin-api for usage details.\n"),
                    "extensions": { "code": "MAX_COST_EXCEEDED", "cost": requested, "maxCost": SINGLE_QUERY_MAX } }],
                "extensions": cost_ext(sim, requested, None, sim.spend(0).unwrap_or(0.0))
            }),
            vec![],
        );
    }
    if let Err(available) = sim.spend(requested) {
        return (
            json!({
                "errors": [{ "message": "Throttled", "extensions": { "code": "THROTTLED", "documentation": "https://shopify.dev/api/usage/rate-limits" } }],
                "extensions": cost_ext(sim, requested, None, available)
            }),
            vec![],
        );
    }
    let events: graphql::Events = RefCell::new(Vec::new());
    let warnings = RefCell::new(Vec::new());
    let root = graphql::Root {
        mutation,
        sim,
        events: &events,
        warnings: &warnings,
    };
    let result = Execution::new(schema, &doc)
        .operation(op)
        .coerced_variable_values(&vars)
        .execute_sync(&root);
    let mut out = match result {
        Ok(resp) => serde_json::to_value(resp).unwrap_or(Value::Null),
        Err(e) => {
            json!({ "errors": [serde_json::to_value(e.to_graphql_error(&doc.sources)).unwrap_or(Value::Null)] })
        }
    };
    let actual = if mutation {
        requested
    } else {
        graphql::actual_cost(&out["data"]).min(requested)
    };
    let available = sim.refund(requested - actual);
    let mut ext = cost_ext(sim, requested, Some(actual), available);
    let warnings = warnings.into_inner();
    if !warnings.is_empty() {
        ext["search"] = json!(warnings);
    }
    out["extensions"] = ext;
    (out, events.into_inner())
}

/// Deliver an order event to its subscribers, signed with the app secret.
pub(crate) fn fire(sim: &Sim, topic: &'static str, order_id: u64, host: &str) {
    let (payload, hooks) = {
        let shop = lock(&sim.shop);
        let Some(o) = shop.orders.get(&order_id) else {
            return;
        };
        let enum_name = topic.replace('/', "_").to_uppercase();
        let hooks: Vec<(u64, String)> = shop
            .webhooks
            .iter()
            .filter(|w| w.topic == enum_name)
            .map(|w| (w.id, w.callback_url.clone()))
            .collect();
        (state::order_webhook_json(o), hooks)
    };
    if hooks.is_empty() {
        return;
    }
    let body = payload.to_string().into_bytes();
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(sim.creds.api_secret_key.as_bytes()) else {
        return;
    };
    mac.update(&body);
    let sig = base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes());
    let now = chrono::Utc::now().to_rfc3339();
    for (id, url) in hooks {
        let event = lock(&sim.shop).id();
        let headers = vec![
            ("x-shopify-topic".to_owned(), topic.to_owned()),
            ("x-shopify-hmac-sha256".to_owned(), sig.clone()),
            ("x-shopify-shop-domain".to_owned(), host.to_owned()),
            ("x-shopify-api-version".to_owned(), API_VERSION.to_owned()),
            ("x-shopify-webhook-id".to_owned(), format!("{id}-{event}")),
            ("x-shopify-event-id".to_owned(), event.to_string()),
            ("x-shopify-triggered-at".to_owned(), now.clone()),
        ];
        sim.core
            .deliver(url, topic.to_owned(), headers, body.clone());
    }
}
