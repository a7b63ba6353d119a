//! Etsy's OAuth 2.0 authorization code grant with PKCE, as Etsy documents
//! it ("Authentication" in the Open API v3 docs; the spec's `oauth2`
//! scheme names `https://www.etsy.com/oauth/connect` and
//! `/v3/public/oauth/token`): the shop owner's consent at
//! `/oauth/connect` (`response_type=code`, `client_id` = the keystring,
//! `redirect_uri`, `scope` space-separated, `state`, `code_challenge` and
//! `code_challenge_method=S256`), the redirect back with `code` and
//! `state` (or `error=access_denied`), and the code's exchange at the
//! token endpoint (`grant_type=authorization_code`, `client_id`,
//! `redirect_uri`, `code`, `code_verifier`), where BASE64URL(SHA256 of
//! the verifier) must equal the challenge. Codes work once.

use std::sync::Arc;

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::{Form, Router};
use base64::Engine as _;
use serde::Deserialize;
use sha2::{Digest, Sha256};

use super::{App, Sim};
use crate::consent::{escape, with_query};
use crate::core::lock;

/// A code handed out and not exchanged yet.
#[derive(Debug, Clone)]
pub(super) struct Grant {
    challenge: String,
    redirect_uri: String,
}

#[derive(Debug, Deserialize)]
struct Connect {
    #[serde(default)]
    response_type: String,
    #[serde(default)]
    client_id: String,
    #[serde(default)]
    redirect_uri: String,
    #[serde(default)]
    scope: String,
    #[serde(default)]
    state: String,
    #[serde(default)]
    code_challenge: String,
    #[serde(default)]
    code_challenge_method: String,
    #[serde(default)]
    decision: String,
}

fn refuse(text: &str) -> Response {
    (
        StatusCode::BAD_REQUEST,
        Html(format!(
            "<!DOCTYPE html><html><head><title>Etsy</title></head><body><h1>There was a problem with your request</h1><p>{}</p></body></html>",
            escape(text)
        )),
    )
        .into_response()
}

fn check(sim: &Sim, c: &Connect) -> Result<(), &'static str> {
    if c.response_type != "code" {
        return Err("response_type must be code");
    }
    if c.client_id != sim.creds.keystring {
        return Err("client_id is not a known app");
    }
    if !(c.redirect_uri.starts_with("https://") || c.redirect_uri.starts_with("http://")) {
        return Err("redirect_uri is not a URL");
    }
    if c.state.is_empty() {
        return Err("state is required");
    }
    if c.code_challenge_method != "S256" || c.code_challenge.len() < 43 {
        return Err("a code_challenge with code_challenge_method S256 is required");
    }
    Ok(())
}

async fn consent(State(sim): State<App>, Query(c): Query<Connect>) -> Response {
    if let Err(e) = check(&sim, &c) {
        return refuse(e);
    }
    let scopes: String = c
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
        "<!DOCTYPE html><html><head><title>Etsy</title></head><body>\
         <h1>An app would like to connect to your Etsy account</h1><ul class=\"scopes\">{scopes}</ul>\
         <form method=\"post\" action=\"/oauth/connect\">{a}{b}{d}{e}{f}{g}{h}\
         <button type=\"submit\" name=\"decision\" value=\"approve\" id=\"approve\">Allow Access</button>\
         <button type=\"submit\" name=\"decision\" value=\"deny\" id=\"deny\">Decline</button></form></body></html>",
        a = hidden("response_type", &c.response_type),
        b = hidden("client_id", &c.client_id),
        d = hidden("redirect_uri", &c.redirect_uri),
        e = hidden("scope", &c.scope),
        f = hidden("state", &c.state),
        g = hidden("code_challenge", &c.code_challenge),
        h = hidden("code_challenge_method", &c.code_challenge_method),
    ))
    .into_response()
}

async fn decide(State(sim): State<App>, Form(c): Form<Connect>) -> Response {
    if let Err(e) = check(&sim, &c) {
        return refuse(e);
    }
    if c.decision != "approve" {
        let params = [
            ("error".to_owned(), "access_denied".to_owned()),
            (
                "error_description".to_owned(),
                "The user denied the request".to_owned(),
            ),
            ("state".to_owned(), c.state.clone()),
        ];
        return Redirect::to(&with_query(&c.redirect_uri, &params)).into_response();
    }
    let code = format!("{:040x}", fastrand::u128(..));
    lock(&sim.grants).insert(
        code.clone(),
        Grant {
            challenge: c.code_challenge.clone(),
            redirect_uri: c.redirect_uri.clone(),
        },
    );
    let params = [("code".to_owned(), code), ("state".to_owned(), c.state)];
    Redirect::to(&with_query(&c.redirect_uri, &params)).into_response()
}

/// The `authorization_code` grant of the token endpoint: `Ok` when the
/// code is known, unused, for this `redirect_uri`, and the verifier
/// matches its challenge. The code is spent either way.
pub(super) fn redeem(
    sim: &Sim,
    code: Option<&String>,
    redirect_uri: Option<&String>,
    verifier: Option<&String>,
) -> Result<(), &'static str> {
    let grant = code
        .and_then(|c| lock(&sim.grants).remove(c))
        .ok_or("code is invalid, expired or already used")?;
    if redirect_uri != Some(&grant.redirect_uri) {
        return Err("redirect_uri does not match the authorization request");
    }
    let verifier = verifier.ok_or("code_verifier is required")?;
    let computed = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(Sha256::digest(verifier.as_bytes()));
    if computed != grant.challenge {
        return Err("code_verifier does not match the code_challenge");
    }
    Ok(())
}

pub(super) fn routes(sim: Arc<Sim>) -> Router {
    Router::new()
        .route("/oauth/connect", get(consent).post(decide))
        .with_state(sim)
}
