//! Xero Accounting API 2.0, as described by `channel-specs/xero/`
//! (`xero_accounting.yaml`, `xero-identity.yaml`) and developer.xero.com.
//!
//! - OAuth 2.0: `POST /connect/token` (on Xero `identity.xero.com`) takes
//!   `grant_type=refresh_token` with the app's client id and secret (HTTP
//!   Basic or form fields) and answers an access token that lives 30
//!   minutes and a **new** refresh token; the one used stops working.
//! - `GET /connections` lists the organisations (tenants) the token
//!   reaches; every Accounting API call names one in `xero-tenant-id`.
//! - Accounting API under `/api.xro/2.0`: `Contacts` (GET with `where`
//!   `EmailAddress=="…"` or `Name=="…"`, `searchTerm`, `page`; PUT/POST to
//!   create, names unique), `Accounts`, `TaxRates`, `Invoices` (GET by
//!   `InvoiceNumbers`, `page`; PUT/POST to create, `ACCREC` numbers
//!   unique), `CreditNotes` (GET with `where` `CreditNoteNumber=="…"`;
//!   PUT/POST) and `CreditNotes/{id}/Allocations` (PUT).
//! - `summarizeErrors=false` answers 200 with each element's
//!   `ValidationErrors` and `HasErrors`; otherwise a validation failure is
//!   400 with Xero's `ValidationException` (`Error` with `Elements`).
//! - `Idempotency-Key` on PUT/POST: a repeated key answers the first
//!   answer again, and creates nothing.
//! - Rate limits per tenant: 60 calls a minute and 5,000 a day (settable on
//!   `/_sim/limits`): every answer carries `X-MinLimit-Remaining`,
//!   `X-DayLimit-Remaining` and `X-AppMinLimit-Remaining`; past a limit,
//!   429 with `Retry-After` and `X-Rate-Limit-Problem`.
//! - Dates are answered in Xero's `/Date(ms+0000)/` form; amounts are
//!   decimal numbers.
//!
//! Control (`/_sim`): `GET /_sim/books` (contacts, invoices, credit notes,
//! allocations), `PUT /_sim/limits`, `POST /_sim/tokens/expire`, and every
//! simulator's faults and request log.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use chrono::Utc;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

mod writes;

use crate::books::{CallAllowance, Grants};
use crate::core::{self, Core, TokenCheck, basic_auth, form, lock, oauth_error};

/// Seconds an access token lives.
const ACCESS_TTL: i64 = 1800;
/// Items per page of a list.
const PAGE: usize = 100;

/// What an app connected to the simulated organisation holds.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct XeroCredentials {
    /// The app's client id.
    pub client_id: String,
    /// The app's client secret.
    pub client_secret: String,
    /// A refresh token the organisation granted (single use).
    pub refresh_token: String,
}

impl XeroCredentials {
    /// The credentials generated from `seed`.
    #[must_use]
    pub fn for_seed(seed: u64) -> Self {
        Self {
            client_id: format!("XERO{seed:028X}"),
            client_secret: format!("xs-{seed:016x}-secret"),
            refresh_token: format!("xrt-{seed:016x}-0"),
        }
    }
}

#[derive(Debug)]
struct Books {
    tenant_id: String,
    contacts: Vec<Value>,
    invoices: Vec<Value>,
    credit_notes: Vec<Value>,
    allocations: Vec<Value>,
    /// Idempotency key → (status, body) answered first.
    replies: BTreeMap<String, (u16, Value)>,
    next: u64,
}

impl Books {
    fn uuid(&mut self) -> String {
        self.next += 1;
        let n = self.next;
        format!(
            "{:08x}-{:04x}-4{:03x}-8{:03x}-{:012x}",
            n.wrapping_mul(2_654_435_761) % 0xffff_ffff,
            n % 0xffff,
            n % 0xfff,
            n.wrapping_mul(7) % 0xfff,
            n
        )
    }
}

#[derive(Debug)]
struct Sim {
    core: Arc<Core>,
    creds: XeroCredentials,
    grants: Arc<Mutex<Grants>>,
    books: Mutex<Books>,
}

type App = Arc<Sim>;

fn xero_date(ms: i64) -> String {
    format!("/Date({ms}+0000)/")
}

/// Xero's `Error` body.
fn error_body(status: u16) -> Value {
    match status {
        401 => {
            json!({ "Type": null, "Title": "Unauthorized", "Status": 401, "Detail": "AuthenticationUnsuccessful", "Instance": null, "Extensions": {} })
        }
        429 => {
            json!({ "Title": "Too Many Requests", "Status": 429, "Detail": "The API rate limit for your organisation/application pairing has been exceeded" })
        }
        s => {
            json!({ "ErrorNumber": 500, "Type": "UnknownErrorException", "Message": format!("An error occurred in Xero ({s}). Check the API Status page http://status.developer.xero.com for current service status.") })
        }
    }
}

fn problem(status: StatusCode, title: &str, detail: &str) -> Response {
    (
        status,
        Json(json!({ "Type": null, "Title": title, "Status": status.as_u16(), "Detail": detail, "Instance": null, "Extensions": {} })),
    )
        .into_response()
}

/// Build the simulator's router.
pub(crate) fn router(seed: u64, creds: XeroCredentials) -> Router {
    let core = Core::new(seed, error_body);
    let grants = Arc::new(Mutex::new(Grants::new(
        "x",
        creds.refresh_token.clone(),
        ACCESS_TTL,
        CallAllowance::new(60, 5000),
    )));
    let sim = Arc::new(Sim {
        core: Arc::clone(&core),
        grants: Arc::clone(&grants),
        books: Mutex::new(Books {
            tenant_id: format!("{:08x}-7e2a-4c1d-9b3f-{:012x}", seed, seed * 31),
            contacts: Vec::new(),
            invoices: Vec::new(),
            credit_notes: Vec::new(),
            allocations: Vec::new(),
            replies: BTreeMap::new(),
            next: seed * 1000,
        }),
        creds,
    });
    let api = Router::new()
        .route("/connect/token", post(token))
        .route("/connections", get(connections))
        .route("/api.xro/2.0/Accounts", get(accounts))
        .route("/api.xro/2.0/TaxRates", get(tax_rates))
        .route(
            "/api.xro/2.0/Contacts",
            get(list_contacts)
                .put(writes::create_contacts)
                .post(writes::create_contacts),
        )
        .route(
            "/api.xro/2.0/Invoices",
            get(list_invoices)
                .put(writes::create_invoices)
                .post(writes::create_invoices),
        )
        .route(
            "/api.xro/2.0/CreditNotes",
            get(list_credit_notes)
                .put(writes::create_credit_notes)
                .post(writes::create_credit_notes),
        )
        .route(
            "/api.xro/2.0/CreditNotes/{id}/Allocations",
            put(writes::allocate).post(writes::allocate),
        )
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

// --- OAuth and tenants -------------------------------------------------------

async fn token(State(sim): State<App>, headers: HeaderMap, body: Bytes) -> Response {
    let f = form(&body);
    let (id, secret) = match basic_auth(&headers) {
        Some(b) => match b.split_once(':') {
            Some((i, s)) => (i.to_owned(), s.to_owned()),
            None => (String::new(), String::new()),
        },
        None => (
            f.get("client_id").cloned().unwrap_or_default(),
            f.get("client_secret").cloned().unwrap_or_default(),
        ),
    };
    if id != sim.creds.client_id || secret != sim.creds.client_secret {
        return oauth_error(StatusCode::BAD_REQUEST, "invalid_client", "invalid_client");
    }
    if f.get("grant_type").map(String::as_str) != Some("refresh_token") {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            "unsupported_grant_type",
        );
    }
    let sent = f.get("refresh_token").cloned().unwrap_or_default();
    // A refresh token works once: using it retires it.
    let rotated = if sim.core.faults().auth_revoked {
        None
    } else {
        lock(&sim.grants).rotate(&sent, Utc::now().timestamp())
    };
    let Some(t) = rotated else {
        return oauth_error(StatusCode::BAD_REQUEST, "invalid_grant", "invalid_grant");
    };
    Json(json!({
        "access_token": t.access,
        "expires_in": t.ttl,
        "token_type": "Bearer",
        "refresh_token": t.refresh,
        "scope": "offline_access accounting.transactions accounting.contacts accounting.settings",
    }))
    .into_response()
}

fn bearer(headers: &HeaderMap) -> Option<&str> {
    headers
        .get("authorization")?
        .to_str()
        .ok()?
        .strip_prefix("Bearer ")
}

/// The token check of every call; with `tenant`, also the tenant header and
/// the tenant's allowance. Answers the refusal, or the rate-limit headers.
#[allow(
    clippy::result_large_err,
    reason = "the error is the finished response"
)]
fn gate(
    sim: &Sim,
    headers: &HeaderMap,
    tenant: bool,
) -> Result<Vec<(&'static str, String)>, Response> {
    let now = Utc::now();
    if sim.core.faults().auth_revoked {
        return Err(problem(
            StatusCode::UNAUTHORIZED,
            "Unauthorized",
            "AuthenticationUnsuccessful",
        ));
    }
    let mut g = lock(&sim.grants);
    match g.check(bearer(headers), now.timestamp()) {
        TokenCheck::Valid => {}
        TokenCheck::Expired => {
            return Err(problem(
                StatusCode::UNAUTHORIZED,
                "Unauthorized",
                &format!(
                    "TokenExpired: token expired at {}",
                    now.format("%m/%d/%Y %H:%M:%S")
                ),
            ));
        }
        TokenCheck::Unknown => {
            return Err(problem(
                StatusCode::UNAUTHORIZED,
                "Unauthorized",
                "AuthenticationUnsuccessful",
            ));
        }
    }
    if !tenant {
        return Ok(Vec::new());
    }
    let sent = headers.get("xero-tenant-id").and_then(|v| v.to_str().ok());
    if sent != Some(lock(&sim.books).tenant_id.as_str()) {
        return Err(problem(
            StatusCode::FORBIDDEN,
            "Forbidden",
            "AuthenticationUnsuccessful",
        ));
    }
    match g.allowance.take(now.timestamp_millis()) {
        Ok((min, day)) => Ok(vec![
            ("x-minlimit-remaining", min.to_string()),
            ("x-daylimit-remaining", day.to_string()),
            ("x-appminlimit-remaining", "9999".to_owned()),
        ]),
        Err(r) => {
            let mut resp = (StatusCode::TOO_MANY_REQUESTS, Json(error_body(429))).into_response();
            let h = resp.headers_mut();
            h.insert("retry-after", HeaderValue::from(r.retry_after));
            if let Ok(v) = HeaderValue::from_str(r.window) {
                h.insert("x-rate-limit-problem", v);
            }
            Err(resp)
        }
    }
}

fn with_headers(mut resp: Response, headers: Vec<(&'static str, String)>) -> Response {
    for (k, v) in headers {
        if let Ok(v) = HeaderValue::from_str(&v) {
            resp.headers_mut().insert(k, v);
        }
    }
    resp
}

async fn connections(State(sim): State<App>, headers: HeaderMap) -> Response {
    if let Err(r) = gate(&sim, &headers, false) {
        return r;
    }
    let b = lock(&sim.books);
    let at = "2026-01-05T09:00:00.0000000";
    Json(json!([{
        "id": format!("c0{}", &b.tenant_id[2..]),
        "authEventId": format!("a0{}", &b.tenant_id[2..]),
        "tenantId": b.tenant_id,
        "tenantType": "ORGANISATION",
        "tenantName": "Demo Company (Simulated)",
        "createdDateUtc": at,
        "updatedDateUtc": at,
    }]))
    .into_response()
}

// --- settings ------------------------------------------------------------------

/// The chart of accounts: `(code, name, type, tax type)`.
const ACCOUNTS: [(&str, &str, &str, &str); 4] = [
    ("090", "Business Bank Account", "BANK", "NONE"),
    ("200", "Sales", "REVENUE", "OUTPUT2"),
    ("260", "Other Revenue", "REVENUE", "OUTPUT2"),
    ("610", "Accounts Receivable", "CURRENT", "NONE"),
];

/// Tax rates: `(type, name, percent)`.
const TAX_RATES: [(&str, &str, f64); 5] = [
    ("OUTPUT2", "20% (VAT on Income)", 20.0),
    ("RROUTPUT", "5% (VAT on Income)", 5.0),
    ("ZERORATEDOUTPUT", "Zero Rated Income", 0.0),
    ("EXEMPTOUTPUT", "Exempt Income", 0.0),
    ("NONE", "No VAT", 0.0),
];

async fn accounts(State(sim): State<App>, headers: HeaderMap) -> Response {
    let h = match gate(&sim, &headers, true) {
        Ok(h) => h,
        Err(r) => return r,
    };
    let items: Vec<Value> = ACCOUNTS
        .iter()
        .enumerate()
        .map(|(i, (code, name, kind, tax))| {
            json!({
                "AccountID": format!("{:08x}-0000-4000-8000-{:012x}", i + 1, i + 1),
                "Code": code, "Name": name, "Type": kind, "Status": "ACTIVE", "TaxType": tax,
                "Class": if *kind == "REVENUE" { "REVENUE" } else { "ASSET" },
                "EnablePaymentsToAccount": false, "ShowInExpenseClaims": false,
                "HasAttachments": false, "UpdatedDateUTC": xero_date(1_767_600_000_000),
            })
        })
        .collect();
    with_headers(Json(json!({ "Accounts": items })).into_response(), h)
}

async fn tax_rates(State(sim): State<App>, headers: HeaderMap) -> Response {
    let h = match gate(&sim, &headers, true) {
        Ok(h) => h,
        Err(r) => return r,
    };
    let items: Vec<Value> = TAX_RATES
        .iter()
        .map(|(kind, name, pct)| {
            json!({
                "Name": name, "TaxType": kind, "Status": "ACTIVE", "ReportTaxType": "OUTPUT",
                "CanApplyToRevenue": true, "CanApplyToAssets": false, "CanApplyToEquity": false,
                "CanApplyToExpenses": false, "CanApplyToLiabilities": false,
                "DisplayTaxRate": pct, "EffectiveRate": pct,
                "TaxComponents": [{ "Name": "VAT", "Rate": pct, "IsCompound": false, "IsNonRecoverable": false }],
            })
        })
        .collect();
    with_headers(Json(json!({ "TaxRates": items })).into_response(), h)
}

// --- lists -----------------------------------------------------------------------

/// A `where` of the form `Field=="value"` (Xero's filter syntax, the one
/// form clients use to find by a key).
fn where_eq(q: &BTreeMap<String, String>) -> Option<(String, String)> {
    let w = q.get("where")?;
    let (field, value) = w.split_once("==")?;
    let value = value.trim().trim_matches('"');
    Some((field.trim().to_owned(), value.to_owned()))
}

fn page_of(items: Vec<Value>, q: &BTreeMap<String, String>, key: &str) -> Value {
    match q.get("page").and_then(|p| p.parse::<usize>().ok()) {
        Some(p) => {
            let p = p.max(1);
            let count = items.len();
            let page: Vec<Value> = items.into_iter().skip((p - 1) * PAGE).take(PAGE).collect();
            json!({
                "pagination": { "page": p, "pageSize": PAGE, "pageCount": count.div_ceil(PAGE), "itemCount": count },
                key: page,
            })
        }
        None => json!({ key: items }),
    }
}

async fn list_contacts(
    State(sim): State<App>,
    headers: HeaderMap,
    Query(q): Query<BTreeMap<String, String>>,
) -> Response {
    let h = match gate(&sim, &headers, true) {
        Ok(h) => h,
        Err(r) => return r,
    };
    let b = lock(&sim.books);
    let filter = where_eq(&q);
    let term = q.get("searchTerm").map(|t| t.to_lowercase());
    let items: Vec<Value> = b
        .contacts
        .iter()
        .filter(|c| match &filter {
            Some((f, v)) => c[f.as_str()]
                .as_str()
                .is_some_and(|x| x.eq_ignore_ascii_case(v)),
            None => true,
        })
        .filter(|c| {
            term.as_ref().is_none_or(|t| {
                ["Name", "EmailAddress"].iter().any(|k| {
                    c[*k]
                        .as_str()
                        .is_some_and(|x| x.to_lowercase().contains(t.as_str()))
                })
            })
        })
        .cloned()
        .collect();
    with_headers(Json(page_of(items, &q, "Contacts")).into_response(), h)
}

async fn list_invoices(
    State(sim): State<App>,
    headers: HeaderMap,
    Query(q): Query<BTreeMap<String, String>>,
) -> Response {
    let numbers: Option<Vec<String>> = q.get("InvoiceNumbers").map(|n| {
        n.split(',')
            .map(|s| s.trim().trim_matches('"').to_owned())
            .collect()
    });
    list_documents(&sim, &headers, &q, "Invoices", |i| {
        numbers
            .as_ref()
            .is_none_or(|ns| ns.iter().any(|n| i["InvoiceNumber"].as_str() == Some(n)))
    })
}

async fn list_credit_notes(
    State(sim): State<App>,
    headers: HeaderMap,
    Query(q): Query<BTreeMap<String, String>>,
) -> Response {
    let filter = where_eq(&q);
    list_documents(&sim, &headers, &q, "CreditNotes", |c| match &filter {
        Some((f, v)) => c[f.as_str()].as_str() == Some(v.as_str()),
        None => true,
    })
}

/// `GET /Invoices` or `/CreditNotes`: the documents `keep` keeps, paged.
fn list_documents(
    sim: &Sim,
    headers: &HeaderMap,
    q: &BTreeMap<String, String>,
    key: &str,
    keep: impl Fn(&Value) -> bool,
) -> Response {
    let h = match gate(sim, headers, true) {
        Ok(h) => h,
        Err(r) => return r,
    };
    let b = lock(&sim.books);
    let list = if key == "Invoices" {
        &b.invoices
    } else {
        &b.credit_notes
    };
    let items: Vec<Value> = list.iter().filter(|d| keep(d)).cloned().collect();
    with_headers(Json(page_of(items, q, key)).into_response(), h)
}

// --- control ---------------------------------------------------------------------

async fn books(State(sim): State<App>) -> Json<Value> {
    let b = lock(&sim.books);
    Json(json!({
        "tenant_id": b.tenant_id,
        "contacts": b.contacts, "invoices": b.invoices,
        "credit_notes": b.credit_notes, "allocations": b.allocations,
    }))
}
