//! Sage Business Cloud Accounting API v3.1, as described by
//! `channel-specs/sage/` (`swagger.full.json`, `swagger.user_businesses.json`)
//! and developer.sage.com.
//!
//! - OAuth 2.0: `POST /token` (on Sage `oauth.accounting.sage.com`) with
//!   `grant_type=refresh_token`, `client_id`, `client_secret` and the
//!   refresh token answers an access token that lives 5 minutes and a
//!   **new** refresh token (31 days); the one used stops working.
//! - `GET /v3.1/businesses` lists the businesses the token reaches; every
//!   other call picks one with the `X-Business` header (the lead business
//!   without it).
//! - Lists answer Sage's envelope (`$total`, `$page`, `$next`, `$back`,
//!   `$itemsPerPage`, `$items`), paged with `page` and `items_per_page`
//!   (default 20, at most 200). `GET /v3.1/contacts` (`email`, `search`),
//!   `ledger_accounts` (`search` on name or nominal code), `tax_rates`,
//!   `sales_invoices` and `sales_credit_notes` (`search` on number,
//!   reference or contact).
//! - `POST /v3.1/contacts`, `/sales_invoices`, `/sales_credit_notes` and
//!   `/contact_allocations` create, answering 201 with the record; Sage
//!   numbers invoices (`SI-1`) and credit notes (`SCN-1`) itself, and keeps
//!   the client's number in `reference`.
//! - Errors are Sage's list of `{"$severity", "$dataCode", "$message",
//!   "$source"}`: 422 `RecordInvalid` on validation, 401 and 404 likewise.
//! - Rate limit per business: 100 calls a minute and 1,296,000 a day
//!   (settable on `/_sim/limits`), 429 with `Retry-After` past it.
//!
//! Control (`/_sim`): `GET /_sim/books`, `PUT /_sim/limits`, `POST
//! /_sim/tokens/expire`, and every simulator's faults and request log.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::Utc;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

mod writes;

use crate::books::{CallAllowance, Grants};
use crate::core::{self, Core, TokenCheck, form, lock, oauth_error};

/// Seconds an access token lives.
const ACCESS_TTL: i64 = 300;

/// What an app connected to the simulated business holds.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SageCredentials {
    /// The app's client id.
    pub client_id: String,
    /// The app's client secret.
    pub client_secret: String,
    /// A refresh token the business granted (single use).
    pub refresh_token: String,
}

impl SageCredentials {
    /// The credentials generated from `seed`.
    #[must_use]
    pub fn for_seed(seed: u64) -> Self {
        Self {
            client_id: format!("sage-app-{seed:012x}"),
            client_secret: format!("ss-{seed:016x}-secret"),
            refresh_token: format!("srt-{seed:016x}-0"),
        }
    }
}

/// Ledger accounts: `(id, nominal code, name, type)`.
const LEDGER: [(&str, i64, &str, &str); 4] = [
    (
        "9a1f0c1e-0001-4d6a-8f00-000000004000",
        4000,
        "Sales - Products",
        "SALES",
    ),
    (
        "9a1f0c1e-0002-4d6a-8f00-000000004010",
        4010,
        "Sales - Services",
        "SALES",
    ),
    (
        "9a1f0c1e-0003-4d6a-8f00-000000004900",
        4900,
        "Carriage on Sales",
        "OTHER_INCOME",
    ),
    (
        "9a1f0c1e-0004-4d6a-8f00-000000001200",
        1200,
        "Current",
        "BANK",
    ),
];

/// Tax rates: `(id, name, percentage)`.
const TAX_RATES: [(&str, &str, f64); 5] = [
    ("GB_STANDARD", "Standard", 20.0),
    ("GB_LOWER", "Lower", 5.0),
    ("GB_ZERO", "Zero", 0.0),
    ("GB_EXEMPT", "Exempt", 0.0),
    ("GB_NO_TAX", "No Tax", 0.0),
];

#[derive(Debug)]
struct Books {
    business_id: String,
    contacts: Vec<Value>,
    invoices: Vec<Value>,
    credit_notes: Vec<Value>,
    allocations: Vec<Value>,
    next: u64,
}

impl Books {
    fn id(&mut self) -> String {
        self.next += 1;
        format!("{:032x}", self.next.wrapping_mul(0x9e37_79b9_7f4a_7c15))
    }
}

#[derive(Debug)]
struct Sim {
    core: Arc<Core>,
    creds: SageCredentials,
    grants: Arc<Mutex<Grants>>,
    books: Mutex<Books>,
}

type App = Arc<Sim>;

/// Sage's error list.
fn errors(list: &[(&str, &str, &str)]) -> Value {
    json!(
        list.iter()
            .map(|(code, message, source)| json!({ "$severity": "error", "$dataCode": code, "$message": message, "$source": source }))
            .collect::<Vec<_>>()
    )
}

fn error_body(status: u16) -> Value {
    match status {
        429 => errors(&[(
            "TooManyRequests",
            "Too many requests. Please try again later.",
            "",
        )]),
        401 => errors(&[(
            "ExpiredOrMissingAccessToken",
            "Your access token is invalid or has expired.",
            "",
        )]),
        _ => errors(&[("UnexpectedError", "An unexpected error occurred.", "")]),
    }
}

fn refuse(status: StatusCode, list: &[(&str, &str, &str)]) -> Response {
    (status, Json(errors(list))).into_response()
}

/// Build the simulator's router.
pub(crate) fn router(seed: u64, creds: SageCredentials) -> Router {
    let core = Core::new(seed, error_body);
    let grants = Arc::new(Mutex::new(Grants::new(
        "s",
        creds.refresh_token.clone(),
        ACCESS_TTL,
        CallAllowance::new(100, 1_296_000),
    )));
    let sim = Arc::new(Sim {
        core: Arc::clone(&core),
        grants: Arc::clone(&grants),
        books: Mutex::new(Books {
            business_id: format!("{seed:08x}5a6e4b75b1e55{seed:011x}"),
            contacts: Vec::new(),
            invoices: Vec::new(),
            credit_notes: Vec::new(),
            allocations: Vec::new(),
            next: seed * 1000,
        }),
        creds,
    });
    let api = Router::new()
        .route("/token", post(token))
        .route("/v3.1/businesses", get(businesses))
        .route(
            "/v3.1/contacts",
            get(list_contacts).post(writes::create_contact),
        )
        .route("/v3.1/ledger_accounts", get(ledger_accounts))
        .route("/v3.1/tax_rates", get(tax_rates))
        .route(
            "/v3.1/sales_invoices",
            get(list_invoices).post(writes::create_invoice),
        )
        .route(
            "/v3.1/sales_credit_notes",
            get(list_credit_notes).post(writes::create_credit_note),
        )
        .route("/v3.1/contact_allocations", post(writes::allocate))
        .layer(axum::middleware::from_fn_with_state(
            Arc::clone(&core),
            core::faults_layer,
        ))
        .with_state(Arc::clone(&sim));
    let control = Router::new()
        .route("/_sim/books", get(books))
        .with_state(sim);
    api.merge(control)
        .merge(crate::books::grant_routes(grants))
        .merge(core::control_routes(core))
}

async fn token(State(sim): State<App>, body: Bytes) -> Response {
    let f = form(&body);
    if f.get("client_id") != Some(&sim.creds.client_id)
        || f.get("client_secret") != Some(&sim.creds.client_secret)
    {
        return oauth_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "Client authentication failed",
        );
    }
    if f.get("grant_type").map(String::as_str) != Some("refresh_token") {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            "The grant type is not supported",
        );
    }
    let sent = f.get("refresh_token").cloned().unwrap_or_default();
    let rotated = if sim.core.faults().auth_revoked {
        None
    } else {
        lock(&sim.grants).rotate(&sent, Utc::now().timestamp())
    };
    let Some(t) = rotated else {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_grant",
            "The refresh token is invalid or has expired",
        );
    };
    Json(json!({
        "access_token": t.access, "expires_in": t.ttl, "token_type": "bearer",
        "refresh_token": t.refresh, "refresh_token_expires_in": 2_678_400,
        "scope": "full_access", "requested_by_id": format!("{:032x}", t.serial),
    }))
    .into_response()
}

/// The token and business check of every call, and the business's
/// allowance. `business` is false for `/businesses` itself.
#[allow(
    clippy::result_large_err,
    reason = "the error is the finished response"
)]
fn gate(sim: &Sim, headers: &HeaderMap, business: bool) -> Result<(), Response> {
    let mut g = lock(&sim.grants);
    let now = Utc::now();
    let sent = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    if sim.core.faults().auth_revoked || g.check(sent, now.timestamp()) != TokenCheck::Valid {
        return Err(refuse(
            StatusCode::UNAUTHORIZED,
            &[(
                "ExpiredOrMissingAccessToken",
                "Your access token is invalid or has expired.",
                "",
            )],
        ));
    }
    if business {
        let chosen = headers.get("x-business").and_then(|v| v.to_str().ok());
        if chosen.is_some_and(|c| c != lock(&sim.books).business_id) {
            return Err(refuse(
                StatusCode::NOT_FOUND,
                &[(
                    "BusinessNotFound",
                    "The business could not be found or you do not have access to it.",
                    "X-Business",
                )],
            ));
        }
    }
    if let Err(r) = g.allowance.take(now.timestamp_millis()) {
        let mut resp = refuse(
            StatusCode::TOO_MANY_REQUESTS,
            &[(
                "TooManyRequests",
                "Too many requests. Please try again later.",
                "",
            )],
        );
        resp.headers_mut()
            .insert("retry-after", HeaderValue::from(r.retry_after));
        return Err(resp);
    }
    Ok(())
}

async fn businesses(State(sim): State<App>, headers: HeaderMap) -> Response {
    if let Err(r) = gate(&sim, &headers, false) {
        return r;
    }
    let b = lock(&sim.books);
    Json(json!([{
        "id": b.business_id, "name": "Simulated Trading Ltd", "displayed_as": "Simulated Trading Ltd",
        "address_line_1": "1 Sim Street", "city": "Newcastle", "postal_code": "NE1 1AA",
        "country": { "id": "GB", "displayed_as": "United Kingdom (GB)" },
        "is_demo": true, "ni_based": false, "subscriptions": [],
        "created_at": "2026-01-05T09:00:00Z", "updated_at": "2026-01-05T09:00:00Z",
    }]))
    .into_response()
}

/// One page of `items` in Sage's envelope.
fn envelope(items: Vec<Value>, q: &BTreeMap<String, String>, path: &str) -> Value {
    let per = q
        .get("items_per_page")
        .and_then(|p| p.parse::<usize>().ok())
        .unwrap_or(20)
        .clamp(1, 200);
    let page = q
        .get("page")
        .and_then(|p| p.parse::<usize>().ok())
        .unwrap_or(1)
        .max(1);
    let total = items.len();
    let items: Vec<Value> = items.into_iter().skip((page - 1) * per).take(per).collect();
    let link = |p: usize| json!(format!("{path}?page={p}&items_per_page={per}"));
    json!({
        "$total": total,
        "$page": page,
        "$next": if page * per < total { link(page + 1) } else { Value::Null },
        "$back": if page > 1 { link(page - 1) } else { Value::Null },
        "$itemsPerPage": per,
        "$items": items,
    })
}

fn matches(v: &Value, keys: &[&str], term: Option<&String>) -> bool {
    term.is_none_or(|t| {
        let t = t.to_lowercase();
        keys.iter().any(|k| {
            let x = &v[*k];
            x.as_str()
                .map(str::to_lowercase)
                .or_else(|| x.as_i64().map(|n| n.to_string()))
                .is_some_and(|s| s.contains(&t))
        })
    })
}

async fn list_contacts(
    State(sim): State<App>,
    headers: HeaderMap,
    Query(q): Query<BTreeMap<String, String>>,
) -> Response {
    if let Err(r) = gate(&sim, &headers, true) {
        return r;
    }
    let b = lock(&sim.books);
    let items = b
        .contacts
        .iter()
        .filter(|c| {
            q.get("email").is_none_or(|e| {
                c["email"]
                    .as_str()
                    .is_some_and(|x| x.eq_ignore_ascii_case(e))
            })
        })
        .filter(|c| matches(c, &["name", "reference", "email"], q.get("search")))
        .cloned()
        .collect();
    Json(envelope(items, &q, "/contacts")).into_response()
}

async fn ledger_accounts(
    State(sim): State<App>,
    headers: HeaderMap,
    Query(q): Query<BTreeMap<String, String>>,
) -> Response {
    if let Err(r) = gate(&sim, &headers, true) {
        return r;
    }
    let items = LEDGER
        .iter()
        .map(|(id, code, name, kind)| json!({
            "id": id, "displayed_as": format!("{name} ({code})"), "$path": format!("/ledger_accounts/{id}"),
            "name": name, "display_name": name, "nominal_code": code,
            "ledger_account_type": { "id": kind, "displayed_as": kind },
            "included_in_chart": true, "visible_in_sales": *kind != "BANK",
            "created_at": "2026-01-05T09:00:00Z", "updated_at": "2026-01-05T09:00:00Z",
        }))
        .filter(|a| matches(a, &["name", "nominal_code"], q.get("search")))
        .collect();
    Json(envelope(items, &q, "/ledger_accounts")).into_response()
}

async fn tax_rates(
    State(sim): State<App>,
    headers: HeaderMap,
    Query(q): Query<BTreeMap<String, String>>,
) -> Response {
    if let Err(r) = gate(&sim, &headers, true) {
        return r;
    }
    let items = TAX_RATES
        .iter()
        .map(|(id, name, pct)| json!({
            "id": id, "displayed_as": format!("{name} {pct:.2}%"), "$path": format!("/tax_rates/{id}"),
            "name": name, "agency": "HMRC", "percentage": pct, "is_visible": true,
            "retailer": false, "editable": false, "deletable": false, "is_combined_rate": false,
            "created_at": "2026-01-05T09:00:00Z", "updated_at": "2026-01-05T09:00:00Z",
        }))
        .collect();
    Json(envelope(items, &q, "/tax_rates")).into_response()
}

async fn list_invoices(
    State(sim): State<App>,
    headers: HeaderMap,
    Query(q): Query<BTreeMap<String, String>>,
) -> Response {
    list_artefacts(&sim, &headers, &q, false)
}

async fn list_credit_notes(
    State(sim): State<App>,
    headers: HeaderMap,
    Query(q): Query<BTreeMap<String, String>>,
) -> Response {
    list_artefacts(&sim, &headers, &q, true)
}

/// `GET /sales_invoices` or `/sales_credit_notes`, `search` on the number,
/// the reference or the contact.
fn list_artefacts(
    sim: &Sim,
    headers: &HeaderMap,
    q: &BTreeMap<String, String>,
    credit: bool,
) -> Response {
    if let Err(r) = gate(sim, headers, true) {
        return r;
    }
    let b = lock(&sim.books);
    let (list, number, path) = if credit {
        (&b.credit_notes, "credit_note_number", "/sales_credit_notes")
    } else {
        (&b.invoices, "invoice_number", "/sales_invoices")
    };
    let items = list
        .iter()
        .filter(|i| matches(i, &[number, "reference", "contact_name"], q.get("search")))
        .cloned()
        .collect();
    Json(envelope(items, q, path)).into_response()
}

async fn books(State(sim): State<App>) -> Json<Value> {
    let b = lock(&sim.books);
    Json(json!({
        "business_id": b.business_id,
        "contacts": b.contacts, "invoices": b.invoices,
        "credit_notes": b.credit_notes, "allocations": b.allocations,
    }))
}
