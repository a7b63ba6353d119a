//! Selling Partner API website authorization, as Amazon documents it
//! ("Authorizing Selling Partner API applications"): the seller opens
//! Seller Central's consent page `/apps/authorize/consent` with the app's
//! `application_id`, a `state`, `version=beta` while the app is a draft,
//! and optionally a `redirect_uri` that must be one of the app's
//! registered OAuth redirect URIs; on Confirm, Amazon sends the seller to
//! that URI with `state`, `selling_partner_id` and `spapi_oauth_code`
//! (valid five minutes), which the app exchanges with Login with Amazon
//! (`grant_type=authorization_code`, `code`, `client_id`,
//! `client_secret`) for the seller's refresh token. Amazon documents no
//! redirect on Cancel; the simulator's returns `error=access_denied` so
//! that clients can be tested against a refusal. Redirect URIs are
//! registered with `POST /_sim/redirect-uris {uri}`.

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

/// The simulated application's id for a seed.
#[must_use]
pub fn application_id(seed: u64) -> String {
    format!("amzn1.sp.solution.00000000-0000-4000-8000-{seed:012x}")
}

/// Registered redirect URIs and the codes handed out.
#[derive(Debug, Default)]
pub(super) struct Consents {
    redirect_uris: Vec<String>,
    codes: HashMap<String, ()>,
}

#[derive(Debug, Deserialize)]
struct Ask {
    #[serde(default)]
    application_id: String,
    #[serde(default)]
    state: String,
    #[serde(default)]
    version: String,
    #[serde(default)]
    redirect_uri: String,
    #[serde(default)]
    decision: String,
}

fn refuse(text: &str) -> Response {
    (
        StatusCode::BAD_REQUEST,
        Html(format!(
            "<!DOCTYPE html><html><head><title>Seller Central</title></head><body><h1>Authorization error</h1><p>{}</p></body></html>",
            escape(text)
        )),
    )
        .into_response()
}

/// Where Confirm sends the seller, if the request is one Amazon takes.
fn check(sim: &Sim, a: &Ask) -> Result<String, &'static str> {
    if a.application_id != application_id(sim.seed) {
        return Err("The application ID is not valid (MD1000)");
    }
    if a.state.is_empty() {
        return Err("state is required");
    }
    let c = lock(&sim.consents);
    if a.redirect_uri.is_empty() {
        c.redirect_uris
            .first()
            .cloned()
            .ok_or("The application has no OAuth redirect URI (MD5101)")
    } else if c.redirect_uris.contains(&a.redirect_uri) {
        Ok(a.redirect_uri.clone())
    } else {
        Err("The redirect_uri is not one of the application's OAuth redirect URIs (MD5101)")
    }
}

async fn screen(State(sim): State<App>, Query(a): Query<Ask>) -> Response {
    if let Err(e) = check(&sim, &a) {
        return refuse(e);
    }
    let hidden = |k: &str, v: &str| {
        format!(
            "<input type=\"hidden\" name=\"{k}\" value=\"{}\">",
            escape(v)
        )
    };
    Html(format!(
        "<!DOCTYPE html><html><head><title>Seller Central</title></head><body>\
         <h1>Authorize the application</h1><p>{draft}The application will be able to access your selling account data.</p>\
         <form method=\"post\" action=\"/apps/authorize/consent\">{a}{b}{c}{d}\
         <button type=\"submit\" name=\"decision\" value=\"approve\" id=\"approve\">Confirm</button>\
         <button type=\"submit\" name=\"decision\" value=\"deny\" id=\"deny\">Cancel</button></form></body></html>",
        draft = if a.version == "beta" { "A draft application. " } else { "" },
        a = hidden("application_id", &a.application_id),
        b = hidden("state", &a.state),
        c = hidden("version", &a.version),
        d = hidden("redirect_uri", &a.redirect_uri),
    ))
    .into_response()
}

async fn decide(State(sim): State<App>, Form(a): Form<Ask>) -> Response {
    let to = match check(&sim, &a) {
        Ok(t) => t,
        Err(e) => return refuse(e),
    };
    if a.decision != "approve" {
        return Redirect::to(&with_query(
            &to,
            &[
                ("state".to_owned(), a.state),
                ("error".to_owned(), "access_denied".to_owned()),
                (
                    "error_description".to_owned(),
                    "The selling partner did not authorize the application".to_owned(),
                ),
            ],
        ))
        .into_response();
    }
    let code = format!("ANDM{:x}", fastrand::u128(..));
    lock(&sim.consents).codes.insert(code.clone(), ());
    Redirect::to(&with_query(
        &to,
        &[
            ("state".to_owned(), a.state),
            ("selling_partner_id".to_owned(), sim.creds.seller_id.clone()),
            ("spapi_oauth_code".to_owned(), code),
        ],
    ))
    .into_response()
}

/// The `authorization_code` grant: each code once.
pub(super) fn redeem(sim: &Sim, code: Option<&String>) -> bool {
    code.is_some_and(|c| lock(&sim.consents).codes.remove(c).is_some())
}

#[derive(Debug, Deserialize)]
struct Uri {
    uri: String,
}

async fn register(State(sim): State<App>, Json(u): Json<Uri>) -> StatusCode {
    lock(&sim.consents).redirect_uris.push(u.uri);
    StatusCode::NO_CONTENT
}

pub(super) fn routes(sim: Arc<Sim>) -> Router {
    Router::new()
        .route("/apps/authorize/consent", get(screen).post(decide))
        .route("/_sim/redirect-uris", post(register))
        .with_state(sim)
}
