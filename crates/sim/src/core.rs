//! What every simulator shares: fault injection, the request log, the
//! control routes under `/_sim`, and outgoing webhook deliveries.

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::Json;
use axum::Router;
use axum::body::Body;
use axum::extract::{Query, Request, State};
use axum::http::{HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tokio::time::Instant;

/// The access tokens an OAuth-style channel has issued. As on the real
/// channels, each stays valid until its own `expires_in`: issuing a new one
/// (another process of the same app refreshing) revokes none.
#[derive(Debug, Default)]
pub(crate) struct AccessTokens(std::collections::BTreeMap<String, i64>);

/// What a presented access token is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TokenCheck {
    /// Issued and not expired.
    Valid,
    /// Issued, and expired.
    Expired,
    /// Never issued (or none sent).
    Unknown,
}

impl AccessTokens {
    /// Record `token`, valid until `expires_at` (Unix seconds); tokens long
    /// expired are forgotten.
    pub(crate) fn issue(&mut self, token: String, expires_at: i64, now: i64) {
        self.0.retain(|_, exp| *exp > now - 3600);
        self.0.insert(token, expires_at);
    }

    /// What `sent` is at `now` (Unix seconds).
    pub(crate) fn check(&self, sent: Option<&str>, now: i64) -> TokenCheck {
        match sent.and_then(|s| self.0.get(s)) {
            Some(exp) if *exp > now => TokenCheck::Valid,
            Some(_) => TokenCheck::Expired,
            None => TokenCheck::Unknown,
        }
    }
}

/// Lock a mutex, recovering the data if a panicking thread poisoned it (a
/// simulator keeps serving; its state is plain data).
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Faults injected into the channel API (never into `/_sim`). Rates are
/// probabilities per request, from 0 to 1.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Faults {
    /// Answer 429 with `Retry-After`, before the request is handled.
    pub rate_429: f64,
    /// Seconds sent in `Retry-After`.
    pub retry_after_secs: u64,
    /// Answer 500, 502 or 503, before the request is handled.
    pub rate_5xx: f64,
    /// Handle the request, then hold the response for `slow_ms` (beyond a
    /// client's timeout, the client never sees the answer).
    pub rate_slow: f64,
    /// How long a slow response is held, in milliseconds.
    pub slow_ms: u64,
    /// Hold only the responses to requests whose body contains this text
    /// (e.g. one GraphQL mutation), every time: the request is handled, the
    /// client never hears so. `None` leaves `rate_slow` alone.
    #[serde(default)]
    pub slow_only_matching: Option<String>,
    /// Handle the request, then answer 200 with a truncated JSON body.
    pub rate_malformed: f64,
    /// On list pages: repeat the last item of the previous page first.
    pub rate_duplicate: f64,
    /// On list pages: serve the page's items shuffled.
    pub rate_reorder: f64,
    /// Refuse every credential (401/403), as when a merchant revokes the app.
    pub auth_revoked: bool,
}

impl Default for Faults {
    fn default() -> Self {
        Self {
            rate_429: 0.0,
            retry_after_secs: 1,
            rate_5xx: 0.0,
            rate_slow: 0.0,
            slow_ms: 3_000,
            slow_only_matching: None,
            rate_malformed: 0.0,
            rate_duplicate: 0.0,
            rate_reorder: 0.0,
            auth_revoked: false,
        }
    }
}

impl Faults {
    fn check(&self) -> Result<(), String> {
        for (name, r) in [
            ("rate_429", self.rate_429),
            ("rate_5xx", self.rate_5xx),
            ("rate_slow", self.rate_slow),
            ("rate_malformed", self.rate_malformed),
            ("rate_duplicate", self.rate_duplicate),
            ("rate_reorder", self.rate_reorder),
        ] {
            if !(0.0..=1.0).contains(&r) {
                return Err(format!("{name} must be between 0 and 1, not {r}"));
            }
        }
        if self.rate_429 + self.rate_5xx > 1.0 {
            return Err("rate_429 + rate_5xx must not exceed 1".into());
        }
        if self.slow_ms > 120_000 {
            return Err("slow_ms must be at most 120000".into());
        }
        Ok(())
    }

    /// The total of the per-request fault rates (a convenience for callers
    /// that set "20 % faults" spread over the kinds).
    #[must_use]
    pub fn spread(total: f64, retry_after_secs: u64, slow_ms: u64) -> Self {
        let each = total / 4.0;
        Self {
            rate_429: each,
            retry_after_secs,
            rate_5xx: each,
            rate_slow: each,
            slow_ms,
            slow_only_matching: None,
            rate_malformed: each,
            rate_duplicate: total,
            rate_reorder: total,
            auth_revoked: false,
        }
    }
}

/// One request the channel API received.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LogEntry {
    /// Arrival order.
    pub seq: u64,
    /// Arrival, in milliseconds since the simulator started.
    pub at_ms: f64,
    /// Method.
    pub method: String,
    /// Path.
    pub path: String,
    /// Query string.
    pub query: Option<String>,
    /// Status answered.
    pub status: u16,
    /// The injected fault, if any (`429`, `5xx`, `slow`, `malformed`), or
    /// `throttled` when the channel's own rate limit refused the request.
    pub fault: Option<String>,
    /// `Retry-After` seconds sent with a 429.
    pub retry_after: Option<u64>,
}

/// A stock level the channel API accepted from a client (the connector),
/// as `GET /_sim/stock/accepted` lists them: benchmarks time propagation
/// to the moment a channel took the new quantity.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StockAccepted {
    /// When, in microseconds since the Unix epoch.
    pub at_us: i64,
    /// The SKU.
    pub sku: String,
    /// The quantity it now shows.
    pub quantity: i64,
}

/// A webhook the simulator sent.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Delivery {
    /// When it was first attempted, ms since start.
    pub at_ms: f64,
    /// Destination.
    pub url: String,
    /// Topic.
    pub topic: String,
    /// Final HTTP status, if the receiver answered.
    pub status: Option<u16>,
    /// Attempts made.
    pub attempts: u32,
}

/// A response header a simulator sets (and the log strips) when the
/// channel's own rate limit refused a request with a 200 answer, as
/// Shopify's GraphQL `THROTTLED` does.
pub(crate) const THROTTLED_MARK: &str = "x-sim-throttled";

/// How a channel words its error bodies.
pub(crate) type ErrorBody = fn(status: u16) -> Value;

/// Shared simulator machinery.
#[derive(Debug)]
pub(crate) struct Core {
    started: Instant,
    faults: Mutex<Faults>,
    log: Mutex<Vec<LogEntry>>,
    seq: Mutex<u64>,
    rng: Mutex<fastrand::Rng>,
    deliveries: Mutex<Vec<Delivery>>,
    accepted: Mutex<Vec<StockAccepted>>,
    error_body: ErrorBody,
    http: reqwest::Client,
}

impl Core {
    pub(crate) fn new(seed: u64, error_body: ErrorBody) -> Arc<Self> {
        Arc::new(Self {
            started: Instant::now(),
            faults: Mutex::new(Faults::default()),
            log: Mutex::new(Vec::new()),
            seq: Mutex::new(0),
            rng: Mutex::new(fastrand::Rng::with_seed(seed ^ 0x5eed_fa17)),
            deliveries: Mutex::new(Vec::new()),
            accepted: Mutex::new(Vec::new()),
            error_body,
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(10))
                .build()
                .unwrap_or_default(),
        })
    }

    /// Record that the API accepted `quantity` for `sku` from a client.
    pub(crate) fn record_stock(&self, sku: &str, quantity: i64) {
        let at_us = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_micros()).unwrap_or(i64::MAX));
        lock(&self.accepted).push(StockAccepted {
            at_us,
            sku: sku.to_owned(),
            quantity,
        });
    }

    pub(crate) fn faults(&self) -> Faults {
        lock(&self.faults).clone()
    }

    pub(crate) fn set_faults(&self, f: Faults) {
        *lock(&self.faults) = f;
    }

    /// True with probability `p`.
    pub(crate) fn roll(&self, p: f64) -> bool {
        p > 0.0 && lock(&self.rng).f64() < p
    }

    /// Shuffle or duplicate list items as the faults ask. `before` is the
    /// item just before the page (the previous page's last), if any.
    pub(crate) fn disturb_page<T: Clone>(&self, items: &mut Vec<T>, before: Option<T>) {
        let f = self.faults();
        if let Some(prev) = before
            && self.roll(f.rate_duplicate)
        {
            items.insert(0, prev);
        }
        if items.len() > 1 && self.roll(f.rate_reorder) {
            lock(&self.rng).shuffle(items);
        }
    }

    pub(crate) fn elapsed_ms(&self) -> f64 {
        self.started.elapsed().as_secs_f64() * 1000.0
    }

    pub(crate) fn error_response(&self, status: StatusCode) -> Response {
        (status, Json((self.error_body)(status.as_u16()))).into_response()
    }

    /// Send a webhook in the background: a few attempts, recorded.
    pub(crate) fn deliver(
        self: &Arc<Self>,
        url: String,
        topic: String,
        headers: Vec<(String, String)>,
        body: Vec<u8>,
    ) {
        let core = Arc::clone(self);
        tokio::spawn(async move {
            let at_ms = core.elapsed_ms();
            let mut status = None;
            let mut attempts = 0;
            for attempt in 1..=3u32 {
                attempts = attempt;
                let mut req = core
                    .http
                    .post(&url)
                    .header("content-type", "application/json");
                for (k, v) in &headers {
                    req = req.header(k, v);
                }
                match req.body(body.clone()).send().await {
                    Ok(r) => {
                        status = Some(r.status().as_u16());
                        if r.status().is_success() {
                            break;
                        }
                    }
                    Err(e) => tracing::debug!(%url, error = %e, "webhook delivery failed"),
                }
                tokio::time::sleep(Duration::from_millis(200 * u64::from(attempt))).await;
            }
            lock(&core.deliveries).push(Delivery {
                at_ms,
                url,
                topic,
                status,
                attempts,
            });
        });
    }
}

/// The fault-injecting, logging middleware in front of a channel API.
pub(crate) async fn faults_layer(
    State(core): State<Arc<Core>>,
    req: Request,
    next: Next,
) -> Response {
    let seq = {
        let mut s = lock(&core.seq);
        *s += 1;
        *s
    };
    let at_ms = core.elapsed_ms();
    let method = req.method().to_string();
    let path = req.uri().path().to_owned();
    let query = req.uri().query().map(str::to_owned);
    let f = core.faults();
    let pick = lock(&core.rng).f64();
    let mut fault = None;
    let mut retry_after = None;
    let mut hold = None;
    let resp = if pick < f.rate_429 {
        fault = Some("429".to_owned());
        retry_after = Some(f.retry_after_secs);
        let mut r = core.error_response(StatusCode::TOO_MANY_REQUESTS);
        r.headers_mut()
            .insert("retry-after", HeaderValue::from(f.retry_after_secs));
        r
    } else if pick < f.rate_429 + f.rate_5xx {
        fault = Some("5xx".to_owned());
        let status = match lock(&core.rng).u8(0..3) {
            0 => StatusCode::INTERNAL_SERVER_ERROR,
            1 => StatusCode::BAD_GATEWAY,
            _ => StatusCode::SERVICE_UNAVAILABLE,
        };
        core.error_response(status)
    } else {
        let (req, matched) = match f.slow_only_matching.as_deref() {
            None => (req, false),
            Some(text) => {
                let (parts, body) = req.into_parts();
                let bytes = axum::body::to_bytes(body, 16 * 1024 * 1024)
                    .await
                    .unwrap_or_default();
                let hit = String::from_utf8_lossy(&bytes).contains(text);
                (Request::from_parts(parts, Body::from(bytes)), hit)
            }
        };
        let resp = next.run(req).await;
        if matched || (f.slow_only_matching.is_none() && core.roll(f.rate_slow)) {
            fault = Some("slow".to_owned());
            hold = Some(Duration::from_millis(f.slow_ms));
            resp
        } else if resp.status().is_success() && core.roll(f.rate_malformed) {
            fault = Some("malformed".to_owned());
            let (mut parts, _) = resp.into_parts();
            parts.headers.remove("content-length");
            Response::from_parts(parts, Body::from("{\"data\": [{\"id\": 1, \"trunc"))
        } else {
            resp
        }
    };
    let mut resp = resp;
    if resp.headers_mut().remove(THROTTLED_MARK).is_some() {
        // A throttled answer that is also held back never reaches the
        // client in time: it cannot act on it, and the log says so.
        fault = Some(
            if hold.is_some() {
                "slow+throttled"
            } else {
                "throttled"
            }
            .to_owned(),
        );
    }
    // Logged before a slow answer is held back: the client may hang up
    // meanwhile, and this future is then dropped.
    lock(&core.log).push(LogEntry {
        seq,
        at_ms,
        method,
        path,
        query,
        status: resp.status().as_u16(),
        fault,
        retry_after,
    });
    if let Some(d) = hold {
        tokio::time::sleep(d).await;
    }
    resp
}

#[derive(Debug, Deserialize)]
struct LogQuery {
    after: Option<u64>,
}

async fn get_faults(State(core): State<Arc<Core>>) -> Json<Faults> {
    Json(core.faults())
}

async fn put_faults(State(core): State<Arc<Core>>, body: axum::body::Bytes) -> Response {
    let f: Faults = match serde_json::from_slice(&body) {
        Ok(f) => f,
        Err(e) => return bad_request(&e.to_string()),
    };
    if let Err(m) = f.check() {
        return bad_request(&m);
    }
    core.set_faults(f.clone());
    Json(f).into_response()
}

pub(crate) fn bad_request(message: &str) -> Response {
    (
        StatusCode::BAD_REQUEST,
        Json(json!({"error": {"code": "bad_request", "message": message}})),
    )
        .into_response()
}

pub(crate) fn not_found(message: &str) -> Response {
    (
        StatusCode::NOT_FOUND,
        Json(json!({"error": {"code": "not_found", "message": message}})),
    )
        .into_response()
}

async fn get_requests(State(core): State<Arc<Core>>, Query(q): Query<LogQuery>) -> Json<Value> {
    let mut log: Vec<LogEntry> = lock(&core.log)
        .iter()
        .filter(|e| q.after.is_none_or(|a| e.seq > a))
        .cloned()
        .collect();
    log.sort_by_key(|e| e.seq);
    Json(json!({ "requests": log }))
}

async fn clear_requests(State(core): State<Arc<Core>>) -> StatusCode {
    lock(&core.log).clear();
    StatusCode::NO_CONTENT
}

async fn revoke(State(core): State<Arc<Core>>) -> Json<Faults> {
    let mut f = core.faults();
    f.auth_revoked = true;
    core.set_faults(f.clone());
    Json(f)
}

async fn restore(State(core): State<Arc<Core>>) -> Json<Faults> {
    let mut f = core.faults();
    f.auth_revoked = false;
    core.set_faults(f.clone());
    Json(f)
}

async fn deliveries(State(core): State<Arc<Core>>) -> Json<Value> {
    Json(json!({ "deliveries": *lock(&core.deliveries) }))
}

/// `/_sim` routes every simulator has.
pub(crate) fn control_routes(core: Arc<Core>) -> Router {
    Router::new()
        .route("/_sim/faults", get(get_faults).put(put_faults))
        .route("/_sim/requests", get(get_requests).delete(clear_requests))
        .route("/_sim/auth/revoke", post(revoke))
        .route("/_sim/auth/restore", post(restore))
        .route("/_sim/webhooks/deliveries", get(deliveries))
        .route("/_sim/stock/accepted", get(accepted_stock))
        .with_state(core)
}

/// `GET /_sim/stock/accepted`: every stock level a client set, oldest first.
async fn accepted_stock(State(core): State<Arc<Core>>) -> Json<Value> {
    Json(json!({ "items": *lock(&core.accepted) }))
}

/// The `Host` a request was sent to (for links and webhook sources).
pub(crate) fn host(headers: &axum::http::HeaderMap) -> String {
    headers
        .get("host")
        .and_then(|h| h.to_str().ok())
        .unwrap_or("127.0.0.1")
        .to_owned()
}

/// A control request body, or the 400 that says what is wrong with it.
#[allow(
    clippy::result_large_err,
    reason = "the error is the finished response, as handlers return it"
)]
pub(crate) fn parse_body<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, Response> {
    serde_json::from_slice(body).map_err(|e| bad_request(&e.to_string()))
}

/// `POST /_sim/seed`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct SeedIn {
    pub seed: Option<u64>,
    pub products: Option<usize>,
    pub orders: Option<usize>,
}

impl SeedIn {
    /// `(products, orders)` with defaults, within the simulators' bounds.
    #[allow(
        clippy::result_large_err,
        reason = "the error is the finished response, as handlers return it"
    )]
    pub fn sizes(&self) -> Result<(usize, usize), Response> {
        let products = self.products.unwrap_or(50);
        let orders = self.orders.unwrap_or(0);
        if products > 100_000 || orders > 200_000 {
            return Err(bad_request("at most 100000 products and 200000 orders"));
        }
        Ok((products, orders))
    }
}

/// One line of `POST /_sim/orders`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct LineIn {
    pub sku: String,
    pub quantity: i64,
}

impl LineIn {
    /// Refuse quantities no checkout would accept.
    #[allow(
        clippy::result_large_err,
        reason = "the error is the finished response, as handlers return it"
    )]
    pub fn check(&self) -> Result<(), Response> {
        if (1..=10_000).contains(&self.quantity) {
            Ok(())
        } else {
            Err(bad_request("quantity must be between 1 and 10000"))
        }
    }
}

/// `POST /_sim/orders/touch`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct TouchIn {
    pub ids: Vec<u64>,
}

pub(crate) fn default_paid() -> bool {
    true
}

/// A form-encoded body as name → value (an unreadable body is empty).
pub(crate) fn form(body: &[u8]) -> std::collections::BTreeMap<String, String> {
    serde_urlencoded::from_bytes::<Vec<(String, String)>>(body)
        .unwrap_or_default()
        .into_iter()
        .collect()
}

/// The `user:password` of an HTTP Basic `authorization` header.
pub(crate) fn basic_auth(headers: &axum::http::HeaderMap) -> Option<String> {
    use base64::Engine as _;
    let b64 = headers
        .get("authorization")?
        .to_str()
        .ok()?
        .strip_prefix("Basic ")?;
    let raw = base64::engine::general_purpose::STANDARD
        .decode(b64.trim())
        .ok()?;
    String::from_utf8(raw).ok()
}

/// An OAuth error (`{"error", "error_description"}`), as token endpoints
/// answer.
pub(crate) fn oauth_error(status: StatusCode, error: &str, description: &str) -> Response {
    (
        status,
        Json(json!({ "error": error, "error_description": description })),
    )
        .into_response()
}

/// The time of a simulated change: now, and strictly after `last` (which
/// becomes it), so changes in the same instant still order.
pub(crate) fn later(last: &mut chrono::DateTime<chrono::Utc>) -> chrono::DateTime<chrono::Utc> {
    let next = *last + chrono::Duration::microseconds(1);
    *last = chrono::Utc::now().max(next);
    *last
}

/// Decimal text of `minor` units with `exp` decimals (`1299`, 2 → `"12.99"`).
pub(crate) fn decimal(minor: i64, exp: u32) -> String {
    if exp == 0 {
        return minor.to_string();
    }
    let p = 10i64.pow(exp);
    let sign = if minor < 0 { "-" } else { "" };
    let a = minor.unsigned_abs();
    let p = p.unsigned_abs();
    format!("{sign}{}.{:0width$}", a / p, a % p, width = exp as usize)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_access_token_leaves_the_earlier_ones_valid_until_they_expire() {
        let mut t = AccessTokens::default();
        t.issue("first".into(), 100, 0);
        t.issue("second".into(), 150, 50);
        assert_eq!(t.check(Some("first"), 60), TokenCheck::Valid);
        assert_eq!(t.check(Some("second"), 60), TokenCheck::Valid);
        assert_eq!(t.check(Some("first"), 100), TokenCheck::Expired);
        assert_eq!(t.check(Some("other"), 60), TokenCheck::Unknown);
        assert_eq!(t.check(None, 60), TokenCheck::Unknown);
        // Long expired tokens are forgotten when another is issued.
        t.issue("third".into(), 9000, 5000);
        assert_eq!(t.check(Some("first"), 5000), TokenCheck::Unknown);
    }

    #[test]
    fn decimals_render_minor_units() {
        assert_eq!(decimal(1299, 2), "12.99");
        assert_eq!(decimal(5, 2), "0.05");
        assert_eq!(decimal(-150, 2), "-1.50");
        assert_eq!(decimal(700, 0), "700");
    }

    #[test]
    fn fault_rates_are_checked() {
        assert!(Faults::default().check().is_ok());
        assert!(Faults::spread(0.2, 1, 500).check().is_ok());
        let bad = Faults {
            rate_429: 1.5,
            ..Faults::default()
        };
        assert!(bad.check().is_err());
    }
}
