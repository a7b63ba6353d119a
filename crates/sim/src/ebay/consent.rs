//! eBay's authorization code grant, as eBay's developer documentation
//! describes it ("Getting user access tokens"): the seller signs in and
//! agrees at `/oauth2/authorize` (`client_id`, `redirect_uri` = the app's
//! RuName, `response_type=code`, `scope` space-separated, `state`); eBay
//! sends them to the RuName's *accept* URL with `state`, `code` and
//! `expires_in` (299 s), or to its *decline* URL; the code is exchanged at
//! `POST /identity/v1/oauth2/token` (Basic client auth,
//! `grant_type=authorization_code`, `code`, `redirect_uri` = the RuName)
//! for a User access token and the seller's refresh token. A RuName's
//! URLs are registered with eBay by the developer; here through
//! `POST /_sim/runames {runame, accept_url, decline_url}`.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Json, Router};
use serde::Deserialize;

use super::{App, Sim};
use crate::consent::{escape, with_query};
use crate::core::lock;

/// Where a RuName sends the seller.
#[derive(Debug, Clone, Deserialize)]
pub(super) struct RuName {
    runame: String,
    accept_url: String,
    decline_url: String,
}

/// The sim's RuNames and the codes it handed out (code → RuName).
#[derive(Debug, Default)]
pub(super) struct Consents {
    runames: HashMap<String, RuName>,
    codes: HashMap<String, String>,
}

#[derive(Debug, Deserialize)]
struct Ask {
    #[serde(default)]
    client_id: String,
    #[serde(default)]
    redirect_uri: String,
    #[serde(default)]
    response_type: String,
    #[serde(default)]
    scope: String,
    #[serde(default)]
    state: String,
    #[serde(default)]
    decision: String,
}

fn refuse(text: &str) -> Response {
    (
        StatusCode::BAD_REQUEST,
        Html(format!(
            "<!DOCTYPE html><html><head><title>eBay</title></head><body><h1>We're sorry</h1><p>{}</p></body></html>",
            escape(text)
        )),
    )
        .into_response()
}

fn check(sim: &Sim, a: &Ask) -> Result<RuName, &'static str> {
    if a.client_id != sim.creds.client_id {
        return Err("The client_id is invalid");
    }
    if a.response_type != "code" {
        return Err("response_type must be code");
    }
    lock(&sim.consents)
        .runames
        .get(&a.redirect_uri)
        .cloned()
        .ok_or("The redirect_uri is not a RuName of this application")
}

async fn screen(State(sim): State<App>, Query(a): Query<Ask>) -> Response {
    if let Err(e) = check(&sim, &a) {
        return refuse(e);
    }
    let scopes: String = a
        .scope
        .split(' ')
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
        "<!DOCTYPE html><html><head><title>Grant application access</title></head><body>\
         <h1>Grant application access</h1><p>The application would like to access your eBay account:</p><ul class=\"scopes\">{scopes}</ul>\
         <form method=\"post\" action=\"/oauth2/authorize\">{a}{b}{c}{d}{e}\
         <button type=\"submit\" name=\"decision\" value=\"approve\" id=\"approve\">Agree</button>\
         <button type=\"submit\" name=\"decision\" value=\"deny\" id=\"deny\">Disagree</button></form></body></html>",
        a = hidden("client_id", &a.client_id),
        b = hidden("redirect_uri", &a.redirect_uri),
        c = hidden("response_type", &a.response_type),
        d = hidden("scope", &a.scope),
        e = hidden("state", &a.state),
    ))
    .into_response()
}

async fn decide(State(sim): State<App>, Form(a): Form<Ask>) -> Response {
    let runame = match check(&sim, &a) {
        Ok(r) => r,
        Err(e) => return refuse(e),
    };
    if a.decision != "approve" {
        return Redirect::to(&with_query(
            &runame.decline_url,
            &[("state".to_owned(), a.state)],
        ))
        .into_response();
    }
    let code = format!("v^1.1#i^1#r^1#I^3#f^0#p^3#t^Ul41Xz{:x}", fastrand::u64(..));
    lock(&sim.consents)
        .codes
        .insert(code.clone(), runame.runame.clone());
    Redirect::to(&with_query(
        &runame.accept_url,
        &[
            ("state".to_owned(), a.state),
            ("code".to_owned(), code),
            ("expires_in".to_owned(), "299".to_owned()),
        ],
    ))
    .into_response()
}

/// The `authorization_code` grant: the code once, for its own RuName.
pub(super) fn redeem(sim: &Sim, code: Option<&String>, redirect_uri: Option<&String>) -> bool {
    let runame = code.and_then(|c| lock(&sim.consents).codes.remove(c));
    runame.is_some() && runame.as_ref() == redirect_uri
}

async fn register(State(sim): State<App>, Json(r): Json<RuName>) -> StatusCode {
    lock(&sim.consents).runames.insert(r.runame.clone(), r);
    StatusCode::NO_CONTENT
}

pub(super) fn routes(sim: Arc<Sim>) -> Router {
    Router::new()
        .route("/oauth2/authorize", get(screen).post(decide))
        .route("/_sim/runames", post(register))
        .with_state(sim)
}
