//! Shopify's authorization code grant, as shopify.dev documents it
//! ("Implement authorization code grant manually"): the merchant's consent
//! screen at `/admin/oauth/authorize` (the app's `client_id`, `scope`,
//! `redirect_uri`, `state`), the redirect back with `code`, `hmac`,
//! `host`, `shop`, `state` and `timestamp` — `hmac` being the hex
//! HMAC-SHA256, keyed with the app's secret, of every other parameter
//! sorted by name and joined as `name=value&…` — and the code's exchange
//! at `POST /admin/oauth/access_token` for the shop's offline access
//! token. Shopify documents no redirect when the merchant declines; the
//! simulator's Deny returns the OAuth 2.0 `error=access_denied` (RFC 6749
//! §4.1.2.1) so that a client can be tested against it.

use std::sync::Arc;

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Json, Router};
use base64::Engine as _;
use hmac::{Hmac, Mac};
use serde::Deserialize;
use serde_json::json;
use sha2::Sha256;

use super::Sim;
use crate::consent::{escape, with_query};
use crate::core::lock;

/// The simulated app's client id (API key) for a seed; its secret is the
/// seed's `api_secret_key`.
#[must_use]
pub fn client_id(seed: u64) -> String {
    format!("sim-app-{seed:016x}")
}

/// The shop domain the simulator answers for, with a seed.
#[must_use]
pub fn shop_domain(seed: u64) -> String {
    format!("sim-{seed}.myshopify.com")
}

/// Shopify's callback signature over `params` (without `hmac`).
#[must_use]
pub fn sign(secret: &str, params: &[(String, String)]) -> String {
    let mut sorted: Vec<&(String, String)> = params.iter().filter(|(k, _)| k != "hmac").collect();
    sorted.sort();
    let message = sorted
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&");
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret.as_bytes()) else {
        return String::new();
    };
    mac.update(message.as_bytes());
    mac.finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[derive(Debug, Deserialize)]
struct AuthorizeQuery {
    #[serde(default)]
    client_id: String,
    #[serde(default)]
    scope: String,
    #[serde(default)]
    redirect_uri: String,
    #[serde(default)]
    state: String,
}

fn oauth_error(text: &str) -> Response {
    (
        StatusCode::BAD_REQUEST,
        Html(format!(
            "<!DOCTYPE html><html><head><title>Oauth error</title></head><body><h1>Oauth error invalid_request: {}</h1></body></html>",
            escape(text)
        )),
    )
        .into_response()
}

/// `http(s)://host…`, without whitespace.
fn redirect_ok(uri: &str) -> bool {
    (uri.starts_with("https://") || uri.starts_with("http://"))
        && !uri.chars().any(char::is_whitespace)
}

async fn consent(State(sim): State<Arc<Sim>>, Query(q): Query<AuthorizeQuery>) -> Response {
    if q.client_id != client_id(sim.seed) {
        return oauth_error("The client_id is invalid");
    }
    if !redirect_ok(&q.redirect_uri) {
        return oauth_error("The redirect_uri is missing or not a URL");
    }
    let scopes: String = q
        .scope
        .split(',')
        .filter(|s| !s.is_empty())
        .map(|s| format!("<li><code>{}</code></li>", escape(s)))
        .collect();
    let hidden = |k: &str, v: &str| {
        format!(
            "<input type=\"hidden\" name=\"{k}\" value=\"{}\">",
            escape(v)
        )
    };
    Html(format!(
        "<!DOCTYPE html><html><head><title>Install app</title></head><body>\
         <h1>Install app on {shop}</h1><p>This app will be able to:</p><ul class=\"scopes\">{scopes}</ul>\
         <form method=\"post\" action=\"/admin/oauth/authorize\">{c}{r}{s}{sc}\
         <button type=\"submit\" name=\"decision\" value=\"approve\" id=\"approve\">Install app</button>\
         <button type=\"submit\" name=\"decision\" value=\"deny\" id=\"deny\">Cancel</button></form></body></html>",
        shop = shop_domain(sim.seed),
        c = hidden("client_id", &q.client_id),
        r = hidden("redirect_uri", &q.redirect_uri),
        s = hidden("state", &q.state),
        sc = hidden("scope", &q.scope),
    ))
    .into_response()
}

#[derive(Debug, Deserialize)]
struct Decision {
    #[serde(default)]
    client_id: String,
    #[serde(default)]
    redirect_uri: String,
    #[serde(default)]
    state: String,
    #[serde(default)]
    scope: String,
    #[serde(default)]
    decision: String,
}

async fn decide(State(sim): State<Arc<Sim>>, Form(d): Form<Decision>) -> Response {
    if d.client_id != client_id(sim.seed) || !redirect_ok(&d.redirect_uri) {
        return oauth_error("The client_id or redirect_uri is invalid");
    }
    if d.decision != "approve" {
        let params = vec![
            ("error".to_owned(), "access_denied".to_owned()),
            (
                "error_description".to_owned(),
                "The merchant declined to install the app".to_owned(),
            ),
            ("state".to_owned(), d.state),
        ];
        return Redirect::to(&with_query(&d.redirect_uri, &params)).into_response();
    }
    let code = format!("{:032x}", fastrand::u128(..));
    lock(&sim.codes).insert(code.clone(), d.scope.clone());
    let shop = shop_domain(sim.seed);
    let host = base64::engine::general_purpose::STANDARD_NO_PAD
        .encode(format!("admin.shopify.com/store/sim-{}", sim.seed));
    let timestamp = chrono::Utc::now().timestamp().to_string();
    let mut params = vec![
        ("code".to_owned(), code),
        ("host".to_owned(), host),
        ("shop".to_owned(), shop),
        ("state".to_owned(), d.state),
        ("timestamp".to_owned(), timestamp),
    ];
    let hmac = sign(&sim.creds.api_secret_key, &params);
    params.insert(1, ("hmac".to_owned(), hmac));
    Redirect::to(&with_query(&d.redirect_uri, &params)).into_response()
}

#[derive(Debug, Deserialize)]
struct Exchange {
    #[serde(default)]
    client_id: String,
    #[serde(default)]
    client_secret: String,
    #[serde(default)]
    code: String,
}

async fn exchange(State(sim): State<Arc<Sim>>, Json(e): Json<Exchange>) -> Response {
    if e.client_id != client_id(sim.seed) || e.client_secret != sim.creds.api_secret_key {
        return (
            StatusCode::BAD_REQUEST,
            Json(json!({ "error": "invalid_client", "error_description": "The client_id or client_secret is invalid" })),
        )
            .into_response();
    }
    let Some(scope) = lock(&sim.codes).remove(&e.code) else {
        return (
            StatusCode::BAD_REQUEST,
            Json(json!({ "error": "invalid_request", "error_description": "The authorization code was not found or was already used" })),
        )
            .into_response();
    };
    Json(json!({ "access_token": sim.creds.access_token, "scope": scope })).into_response()
}

pub(crate) fn routes(sim: Arc<Sim>) -> Router {
    Router::new()
        .route("/admin/oauth/authorize", get(consent).post(decide))
        .route("/admin/oauth/access_token", post(exchange))
        .with_state(sim)
}
