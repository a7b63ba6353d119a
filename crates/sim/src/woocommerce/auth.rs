//! WooCommerce's Application Authentication Endpoint, as its REST API
//! documentation describes it: `/wc-auth/v1/authorize` with `app_name`,
//! `scope` (`read`, `write`, `read_write`), `user_id`, `return_url` and
//! `callback_url` (over HTTPS) shows the store owner what the app asks;
//! on approval the store POSTs the keys as JSON (`key_id`, `user_id`,
//! `consumer_key`, `consumer_secret`, `key_permissions`) to `callback_url`
//! and then sends the owner to `return_url` with `success=1&user_id=…`;
//! on denial to `return_url` with `success=0`. A callback that does not
//! take the keys stops the flow with an error page, as WooCommerce does.
//! The simulator also lets `callback_url` be plain http on a loopback
//! address, so that it can be tested on one machine.

use std::sync::Arc;

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::{Form, Router};
use serde::Deserialize;
use serde_json::json;

use super::Sim;
use crate::consent::{escape, with_query};

#[derive(Debug, Deserialize)]
struct Ask {
    #[serde(default)]
    app_name: String,
    #[serde(default)]
    scope: String,
    #[serde(default)]
    user_id: String,
    #[serde(default)]
    return_url: String,
    #[serde(default)]
    callback_url: String,
    #[serde(default)]
    decision: String,
}

fn error_page(text: &str) -> Response {
    (
        StatusCode::BAD_REQUEST,
        Html(format!(
            "<!DOCTYPE html><html><head><title>WooCommerce &rsaquo; Error</title></head><body><div id=\"error-page\"><p>Error: {}</p></div></body></html>",
            escape(text)
        )),
    )
        .into_response()
}

/// What WooCommerce checks before it shows anything.
fn check(a: &Ask) -> Result<(), &'static str> {
    if a.app_name.is_empty() {
        return Err("Missing parameter app_name");
    }
    if !matches!(a.scope.as_str(), "read" | "write" | "read_write") {
        return Err("Invalid scope");
    }
    if a.user_id.is_empty() {
        return Err("Missing parameter user_id");
    }
    if !(a.return_url.starts_with("https://") || a.return_url.starts_with("http://")) {
        return Err("The return_url is not a valid URL");
    }
    let loopback = ["http://127.0.0.1:", "http://[::1]:", "http://localhost:"]
        .iter()
        .any(|p| a.callback_url.starts_with(p));
    if !a.callback_url.starts_with("https://") && !loopback {
        return Err("The callback_url needs to be over SSL");
    }
    Ok(())
}

async fn screen(Query(a): Query<Ask>) -> Response {
    if let Err(e) = check(&a) {
        return error_page(e);
    }
    let permission = match a.scope.as_str() {
        "read" => "View coupons, customers, orders, products and reports",
        "write" => "Create webhooks, coupons, customers, orders and products",
        _ => "View and manage coupons, customers, orders, products, reports and webhooks",
    };
    let hidden = |k: &str, v: &str| {
        format!(
            "<input type=\"hidden\" name=\"{k}\" value=\"{}\">",
            escape(v)
        )
    };
    Html(format!(
        "<!DOCTYPE html><html><head><title>WooCommerce &rsaquo; Authorize</title></head><body>\
         <h1>{app} would like to connect to your store</h1>\
         <p>This will give \"{app}\" {scope} access which will allow it to:</p><ul class=\"permissions\"><li>{permission}</li></ul>\
         <form method=\"post\" action=\"/wc-auth/v1/authorize\">{a}{b}{c}{d}{e}\
         <button type=\"submit\" name=\"decision\" value=\"approve\" id=\"approve\">Approve</button>\
         <button type=\"submit\" name=\"decision\" value=\"deny\" id=\"deny\">Deny</button></form></body></html>",
        app = escape(&a.app_name),
        scope = escape(&a.scope.replace('_', "/")),
        a = hidden("app_name", &a.app_name),
        b = hidden("scope", &a.scope),
        c = hidden("user_id", &a.user_id),
        d = hidden("return_url", &a.return_url),
        e = hidden("callback_url", &a.callback_url),
    ))
    .into_response()
}

async fn decide(State(sim): State<Arc<Sim>>, Form(a): Form<Ask>) -> Response {
    if let Err(e) = check(&a) {
        return error_page(e);
    }
    let back = |success: &str| {
        with_query(
            &a.return_url,
            &[
                ("success".to_owned(), success.to_owned()),
                ("user_id".to_owned(), a.user_id.clone()),
            ],
        )
    };
    if a.decision != "approve" {
        return Redirect::to(&back("0")).into_response();
    }
    let keys = json!({
        "key_id": 1,
        "user_id": a.user_id,
        "consumer_key": sim.creds.consumer_key,
        "consumer_secret": sim.creds.consumer_secret,
        "key_permissions": a.scope,
    });
    let sent = match reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(15))
        .build()
    {
        Ok(c) => c.post(&a.callback_url).json(&keys).send().await,
        Err(e) => return error_page(&e.to_string()),
    };
    match sent {
        Ok(r) if r.status().is_success() => Redirect::to(&back("1")).into_response(),
        _ => error_page(
            "An error occurred in the request and at the time were unable to send the consumer data",
        ),
    }
}

pub(crate) fn routes(sim: Arc<Sim>) -> Router {
    Router::new()
        .route("/wc-auth/v1/authorize", get(screen).post(decide))
        .with_state(sim)
}
