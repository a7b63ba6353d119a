//! The hosted onboarding page a provider's client opens
//! (`/connect/{page_token}`): the provider's branding, the channels on
//! offer, and for each a form in the channel's own words. The credentials
//! are checked with the channel before anything is saved; the channel is
//! then created with the page's presets, in the same transaction that uses
//! the page up, and the client is sent to the provider's `redirect_url`.
//!
//! Nothing the provider wrote reaches the page unescaped: the name is
//! escaped text, colours are checked hex values and fonts come from a
//! fixed list (served as this page's own stylesheet), and the logo is an
//! https image allowed by the page's Content-Security-Policy alone.

use std::collections::HashMap;

use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use maud::{DOCTYPE, Markup, html};
use switchyard_connectors::registry::credential_form;
use switchyard_domain::channel::ChannelKind;
use switchyard_domain::hosted_page::{Branding, PageState};
use switchyard_domain::ids::AccountId;
use switchyard_storage::{HostedPage, NewOAuthState};

use super::channel_connect::{credential_inputs, credentials_from};
use super::see_other;
use crate::AppState;
use crate::console::pages::{failed, internal, not_found};
use crate::error::ApiError;
use crate::routes::channel_ops::try_connection;
use crate::routes::channels::{ChannelIn, StockRulesDto, connect_channel};
use crate::routes::destination::check_destination;

mod amazon;
mod ebay;
mod etsy;
mod shopify;
mod woocommerce;

pub use amazon::AmazonApp;
pub(crate) use amazon::amazon_callback;
use amazon::authorize_amazon;
pub use ebay::EbayApp;
use ebay::authorize_ebay;
pub(crate) use ebay::ebay_callback;
pub use etsy::EtsyApp;
use etsy::authorize_etsy;
pub(crate) use etsy::etsy_callback;
pub use shopify::ShopifyApp;
use shopify::authorize_shopify;
pub(crate) use shopify::shopify_callback;
use woocommerce::authorize_woocommerce;
pub(crate) use woocommerce::{woocommerce_callback, woocommerce_return};

/// Kinds connected with a credentials form on a hosted page. The others
/// connect through their own authorization flows.
pub const FORM_KINDS: [ChannelKind; 3] = [
    ChannelKind::Bolcom,
    ChannelKind::Vendure,
    ChannelKind::Medusa,
];

/// How long a client has to approve on the channel's site.
const AUTHORIZE_MINUTES: i64 = 15;

/// Whether a hosted page can offer `kind` on this server: the form kinds,
/// WooCommerce (its key flow needs no app), and Shopify, Etsy, eBay and
/// Amazon when the operator configured their apps.
#[must_use]
pub fn offered(s: &AppState, kind: ChannelKind) -> bool {
    FORM_KINDS.contains(&kind)
        || kind == ChannelKind::Woocommerce
        || (kind == ChannelKind::Shopify && crate::console::config(s).shopify.is_some())
        || (kind == ChannelKind::Etsy && crate::console::config(s).etsy.is_some())
        || (kind == ChannelKind::Ebay && crate::console::config(s).ebay.is_some())
        || (kind == ChannelKind::Amazon && crate::console::config(s).amazon.is_some())
}

/// Where each form kind's API usually is (the client may change it).
fn default_base(kind: ChannelKind) -> &'static str {
    match kind {
        ChannelKind::Bolcom => "https://api.bol.com",
        _ => "",
    }
}

fn base_help(kind: ChannelKind) -> &'static str {
    match kind {
        ChannelKind::Bolcom => "bol.com's Retailer API; keep it unless bol.com gave you another",
        ChannelKind::Vendure => {
            "your Vendure server, e.g. https://shop.example.com (its Admin API is /admin-api)"
        }
        _ => "your Medusa server, e.g. https://shop.example.com",
    }
}

fn label(kind: ChannelKind) -> &'static str {
    match kind {
        ChannelKind::Shopify => "Shopify",
        ChannelKind::Woocommerce => "WooCommerce",
        ChannelKind::Etsy => "Etsy",
        ChannelKind::Ebay => "eBay",
        ChannelKind::Bolcom => "bol.com",
        ChannelKind::Amazon => "Amazon",
        ChannelKind::Vendure => "Vendure",
        ChannelKind::Medusa => "Medusa",
    }
}

/// The page's stylesheet: the console's base rules, then the provider's
/// checked colours and font.
fn stylesheet(b: &Branding) -> String {
    let primary = b.primary_color.as_deref().unwrap_or("#1f6feb");
    let accent = b.accent_color.as_deref().unwrap_or("#111827");
    format!(
        "{base}\n:root {{ --accent: {primary}; }}\nbody {{ font-family: {font}; }}\nheader.top {{ background: {accent}; }}\n\
         header.top img.logo {{ max-height: 40px; max-width: 200px; }}\nul.kinds {{ list-style: none; padding: 0; display: grid; gap: .6rem; max-width: 420px; }}\n\
         ul.kinds a {{ display: block; padding: .8rem 1rem; background: #fff; border: 1px solid var(--line); border-radius: 6px; font-weight: 600; text-decoration: none; color: var(--accent); }}\n",
        base = include_str!("../assets/console.css"),
        font = b.font.stack(),
    )
}

/// A page in the provider's colours. Its CSP allows the logo's origin
/// for images and nothing else from outside.
fn layout(token: &str, b: &Branding, status: StatusCode, title: &str, body: Markup) -> Response {
    let markup = html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                meta name="referrer" content="no-referrer";
                title { (title) " · " (b.name) }
                @if token.is_empty() {
                    link rel="stylesheet" href="/console/assets/console.css";
                } @else {
                    link rel="stylesheet" href={ "/connect/" (token) "/style.css" };
                }
            }
            body {
                header.top {
                    @if let Some(logo) = &b.logo_url { img.logo src=(logo) alt=(b.name); }
                    span.brand { (b.name) }
                }
                main { h1 { (title) } (body) }
            }
        }
    };
    let img = b
        .logo_url
        .as_deref()
        .and_then(|u| reqwest::Url::parse(u).ok())
        .map(|u| u.origin().ascii_serialization())
        .filter(|o| o.starts_with("https://"))
        .map_or_else(String::new, |o| format!(" {o}"));
    let csp = format!(
        "default-src 'none'; style-src 'self'; img-src 'self'{img}; form-action 'self' http: https:; \
         frame-ancestors 'none'; base-uri 'none'"
    );
    let mut r = (
        status,
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        markup.into_string(),
    )
        .into_response();
    if let Ok(v) = HeaderValue::from_str(&csp) {
        r.headers_mut().insert(header::CONTENT_SECURITY_POLICY, v);
    }
    r
}

/// The page this token opens, with its account.
async fn by_token(s: &AppState, token: &str) -> Result<(AccountId, HostedPage), Response> {
    if token.len() > 100 {
        return Err(not_found().await);
    }
    match s
        .storage
        .hosted_page_by_token(&crate::tokens::hash(token))
        .await
    {
        Ok(Some(found)) => Ok(found),
        Ok(None) => Err(not_found().await),
        Err(e) => Err(failed(&e)),
    }
}

/// What a page that cannot be used any more says, in the provider's colours.
fn closed(token: &str, page: &HostedPage, state: PageState) -> Response {
    let b = &page.branding;
    let (title, text) = match state {
        PageState::Completed => (
            "Already connected",
            format!(
                "This page has been used: your shop is connected to {}. You can close this page.",
                b.name
            ),
        ),
        PageState::Expired => (
            "This page has expired",
            format!("Ask {} for a new link.", b.name),
        ),
        _ => (
            "This page was withdrawn",
            format!(
                "{} withdrew this page. Ask them for a new link if you still need one.",
                b.name
            ),
        ),
    };
    layout(
        token,
        b,
        StatusCode::GONE,
        title,
        html! { p.notice { (text) } },
    )
}

/// The page, if it is open at this moment.
async fn open_page(s: &AppState, token: &str) -> Result<(AccountId, HostedPage), Response> {
    let (account, page) = by_token(s, token).await?;
    match page.state_at(Utc::now()) {
        PageState::Open => Ok((account, page)),
        other => Err(closed(token, &page, other)),
    }
}

pub(super) async fn style(State(s): State<AppState>, Path(token): Path<String>) -> Response {
    match by_token(&s, &token).await {
        Ok((_, page)) => (
            [
                (header::CONTENT_TYPE, "text/css; charset=utf-8"),
                (header::CACHE_CONTROL, "no-store"),
            ],
            stylesheet(&page.branding),
        )
            .into_response(),
        Err(r) => r,
    }
}

pub(super) async fn show(State(s): State<AppState>, Path(token): Path<String>) -> Response {
    let (_, page) = match open_page(&s, &token).await {
        Ok(found) => found,
        Err(r) => return r,
    };
    let b = &page.branding;
    let body = html! {
        p { (b.name) " asks you to connect your shop, so that your orders and stock reach them. Choose where you sell:" }
        ul.kinds {
            @for k in &page.channels {
                li { a href={ "/connect/" (token) "/" (k.as_str()) } { (label(*k)) } }
            }
        }
        p.muted { "This page works once and until " (page.expires_at.format("%Y-%m-%d %H:%M UTC")) "." }
    };
    layout(&token, b, StatusCode::OK, "Connect your shop", body)
}

fn kind_of(s: &AppState, page: &HostedPage, kind: &str) -> Option<ChannelKind> {
    ChannelKind::parse(kind)
        .ok()
        .filter(|k| page.channels.contains(k) && offered(s, *k))
}

fn form_page(
    token: &str,
    page: &HostedPage,
    kind: ChannelKind,
    form: &HashMap<String, String>,
    status: StatusCode,
    error: Option<(&str, Option<&str>)>,
) -> Response {
    let base = form
        .get("base_url")
        .map_or(default_base(kind), String::as_str);
    let body = html! {
        @if let Some((message, hint)) = error {
            div.test.test-failed role="alert" {
                p { strong { (label(kind)) " said: " } (message) }
                @if let Some(h) = hint { p.muted { (h) } }
            }
        }
        @if matches!(kind, ChannelKind::Etsy | ChannelKind::Ebay | ChannelKind::Amazon) {
            form.card.connect method="post" action={ "/connect/" (token) "/" (kind.as_str()) } {
                p { "You approve on " (label(kind)) ", signed in as the shop's owner, and " (label(kind)) " sends you back here. Nothing to copy." }
                button type="submit" { "Continue to " (label(kind)) }
            }
        } @else if kind == ChannelKind::Woocommerce {
            form.card.connect method="post" action={ "/connect/" (token) "/woocommerce" } {
                label { span { "Your store's address " span.muted { "(where WordPress runs, e.g. https://shop.example.com)" } }
                    input type="url" name="store" required value=(form.get("store").map_or("", String::as_str)) placeholder="https://shop.example.com"; }
                p { "You approve in your store's admin, which gives us API keys and sends you back here. Nothing to copy." }
                button type="submit" { "Continue to WooCommerce" }
            }
        } @else if kind == ChannelKind::Shopify {
            form.card.connect method="post" action={ "/connect/" (token) "/shopify" } {
                label { span { "Your shop " span.muted { "(the name in name.myshopify.com)" } }
                    input type="text" name="shop" required value=(form.get("shop").map_or("", String::as_str)) placeholder="your-shop.myshopify.com"; }
                p { "You approve on Shopify, which then sends you back here. Nothing to copy." }
                button type="submit" { "Continue to Shopify" }
            }
        } @else {
        form.card.connect method="post" action={ "/connect/" (token) "/" (kind.as_str()) } {
            label { span { "Address " span.muted { "(" (base_help(kind)) ")" } }
                input type="url" name="base_url" required value=(base); }
            (credential_inputs(credential_form(kind), true))
            p { "We check these with " (label(kind)) " before saving them; they are stored sealed and never shown again." }
            button type="submit" { "Connect " (label(kind)) }
        }
        }
        p { a href={ "/connect/" (token) } { "← Choose another channel" } }
    };
    layout(
        token,
        &page.branding,
        status,
        &format!("Connect {}", label(kind)),
        body,
    )
}

pub(super) async fn kind_form(
    State(s): State<AppState>,
    Path((token, kind)): Path<(String, String)>,
) -> Response {
    let (_, page) = match open_page(&s, &token).await {
        Ok(found) => found,
        Err(r) => return r,
    };
    let Some(kind) = kind_of(&s, &page, &kind) else {
        return not_found().await;
    };
    form_page(&token, &page, kind, &HashMap::new(), StatusCode::OK, None)
}

/// The stock rules and settings the page gives its channel.
fn presets(page: &HostedPage) -> (Option<StockRulesDto>, Option<serde_json::Value>) {
    let rules = page
        .presets
        .get("stock_rules")
        .filter(|v| !v.is_null())
        .and_then(|v| serde_json::from_value(v.clone()).ok());
    let settings = page
        .presets
        .get("settings")
        .filter(|v| !v.is_null())
        .cloned();
    (rules, settings)
}

/// Where the client goes when done: the provider's `redirect_url` with the
/// page and the channel in its query.
fn back_to(redirect: &str, page: &HostedPage, channel: &str) -> Option<String> {
    let mut url = reqwest::Url::parse(redirect).ok()?;
    url.query_pairs_mut()
        .append_pair("hosted_page_id", page.id.as_str())
        .append_pair("channel_id", channel);
    Some(url.to_string())
}

pub(super) async fn submit(
    State(s): State<AppState>,
    Path((token, kind)): Path<(String, String)>,
    headers: HeaderMap,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let (account, page) = match open_page(&s, &token).await {
        Ok(found) => found,
        Err(r) => return r,
    };
    let Some(kind) = kind_of(&s, &page, &kind) else {
        return not_found().await;
    };
    let refuse = |status: StatusCode, message: &str, hint: Option<&str>| {
        form_page(&token, &page, kind, &form, status, Some((message, hint)))
    };
    if kind == ChannelKind::Amazon {
        return authorize_amazon(&s, &headers, &account, &page)
            .await
            .map(|r| with_page_cookie(&s, r, &token))
            .unwrap_or_else(|(status, message)| refuse(status, &message, None));
    }
    if kind == ChannelKind::Ebay {
        return authorize_ebay(&s, &account, &page)
            .await
            .map(|r| with_page_cookie(&s, r, &token))
            .unwrap_or_else(|(status, message)| refuse(status, &message, None));
    }
    if kind == ChannelKind::Etsy {
        return authorize_etsy(&s, &headers, &account, &page)
            .await
            .map(|r| with_page_cookie(&s, r, &token))
            .unwrap_or_else(|(status, message)| refuse(status, &message, None));
    }
    if kind == ChannelKind::Woocommerce {
        return authorize_woocommerce(
            &s,
            &headers,
            &account,
            &page,
            form.get("store").map_or("", String::as_str),
        )
        .await
        .map(|r| with_page_cookie(&s, r, &token))
        .unwrap_or_else(|(status, message)| refuse(status, &message, None));
    }
    if kind == ChannelKind::Shopify {
        return authorize_shopify(
            &s,
            &headers,
            &account,
            &page,
            form.get("shop").map_or("", String::as_str),
        )
        .await
        .map(|r| with_page_cookie(&s, r, &token))
        .unwrap_or_else(|(status, message)| refuse(status, &message, None));
    }
    let base = form.get("base_url").map_or("", |v| v.trim());
    if let Err(e) = check_destination(&s, "base_url", base) {
        return refuse(e.status(), &e.to_string(), None);
    }
    let creds = match credentials_from(kind, &form) {
        Ok(Some(c)) => c,
        Ok(None) => {
            return refuse(
                StatusCode::UNPROCESSABLE_ENTITY,
                "the credentials are missing",
                None,
            );
        }
        Err(e) => return refuse(e.status(), &e.to_string(), None),
    };
    if let Some(f) = credential_form(kind)
        .iter()
        .find(|f| f.required && creds.get(f.name).is_none())
    {
        return refuse(
            StatusCode::UNPROCESSABLE_ENTITY,
            &format!("{} is required", f.name),
            Some(f.help),
        );
    }
    // Checked with the channel before anything is saved.
    let bytes = creds.to_string().into_bytes();
    match try_connection(&s, kind, Some(base), &bytes).await {
        Ok(t) if t.ok => {}
        Ok(t) => {
            return refuse(
                StatusCode::UNPROCESSABLE_ENTITY,
                &t.message,
                t.hint.as_deref(),
            );
        }
        Err(e) => return refuse(e.status(), &e.to_string(), None),
    }
    finish(&s, &token, &account, &page, kind, base, creds)
        .await
        .unwrap_or_else(|(status, message)| refuse(status, &message, None))
}

/// Create the channel with the page's presets, using the page up, and send
/// the client on. `Err` carries what to tell the client on the form.
async fn finish(
    s: &AppState,
    token: &str,
    account: &AccountId,
    page: &HostedPage,
    kind: ChannelKind,
    base: &str,
    creds: serde_json::Value,
) -> Result<Response, (StatusCode, String)> {
    let (stock_rules, settings) = presets(page);
    let body = ChannelIn {
        name: format!("{} ({})", label(kind), page.branding.name),
        kind: kind.as_str().to_owned(),
        base_url: Some(base.to_owned()),
        credentials: Some(creds),
        stock_rules,
        settings,
    };
    match connect_channel(s, account, &page.store_id, body, Some(page.id.clone())).await {
        Ok(ch) => {
            s.wake.notify_one();
            tracing::info!(page = %page.id, channel = %ch.id, kind = kind.as_str(), "channel connected through a hosted page");
            Ok(
                match page
                    .redirect_url
                    .as_deref()
                    .and_then(|r| back_to(r, page, ch.id.as_str()))
                {
                    Some(to) => see_other(&to),
                    None => layout(
                        token,
                        &page.branding,
                        StatusCode::OK,
                        "Connected",
                        html! { p.created { "Your " (label(kind)) " shop is connected to " (page.branding.name) ". You can close this page." } },
                    ),
                },
            )
        }
        Err(ApiError::Client {
            code: "page_not_open",
            ..
        }) => Ok(closed(token, page, PageState::Completed)),
        Err(e @ ApiError::Client { .. }) => Err((e.status(), e.to_string())),
        Err(e) => Ok(internal(&e)),
    }
}

/// A callback that cannot be taken: plain words, no page to go back to.
fn refused_callback(status: StatusCode, why: &str) -> Response {
    tracing::warn!(%why, "hosted page callback refused");
    crate::console::pages::message_page(status, "Connection refused", why)
}

/// After a callback, the page's own address is not known (only its hash
/// is stored): the client is told what happened and to open their link
/// again.
fn retry_page(
    own: Option<&str>,
    page: &HostedPage,
    kind: ChannelKind,
    status: StatusCode,
    why: &str,
) -> Response {
    // Back on the client's own page, when their browser brought it along
    // and it is still open: the channel's words above its form.
    if let Some(token) = own
        && page.state_at(Utc::now()) == PageState::Open
    {
        return form_page(
            token,
            page,
            kind,
            &HashMap::new(),
            status,
            Some((why, None)),
        );
    }
    // Otherwise (only the page's hash is stored) the client is told to
    // open their link again.
    let channel = label(kind);
    layout(
        "",
        &page.branding,
        status,
        &format!("{channel} did not connect"),
        html! {
            div.test.test-failed role="alert" { p { strong { (channel) " said: " } (why) } }
            p { "Open the link " (page.branding.name) " sent you again to try once more." }
        },
    )
}

/// The cookie that carries a page's token to the channel and back, so
/// that a refused authorization returns the client to their own page.
const PAGE_COOKIE: &str = "sy_connect";

/// The page token the client's browser brought back, if it opens `page`.
async fn own_token(s: &AppState, headers: &HeaderMap, page: &HostedPage) -> Option<String> {
    let token = crate::console::auth::cookie(headers, PAGE_COOKIE)?;
    match s
        .storage
        .hosted_page_by_token(&crate::tokens::hash(token))
        .await
    {
        Ok(Some((_, p))) if p.id == page.id => Some(token.to_owned()),
        _ => None,
    }
}

/// `r` (a redirect to the channel) with the page's token in a cookie for
/// the way back: HttpOnly, SameSite=Lax (it comes back on the channel's
/// top-level redirect), only under `/connect`, for the authorization's time.
fn with_page_cookie(s: &AppState, mut r: Response, token: &str) -> Response {
    let secure = crate::console::config(s).public_url.starts_with("https://");
    let cookie = format!(
        "{PAGE_COOKIE}={token}; Path=/connect; HttpOnly; SameSite=Lax; Max-Age={}{}",
        AUTHORIZE_MINUTES * 60,
        if secure { "; Secure" } else { "" }
    );
    if let Ok(v) = HeaderValue::from_str(&cookie) {
        r.headers_mut().append(header::SET_COOKIE, v);
    }
    r
}

fn callback_url(s: &AppState, headers: &HeaderMap, kind: ChannelKind) -> String {
    format!(
        "{}/connect/callback/{}",
        crate::console::config(s).links(headers).base,
        kind.as_str()
    )
}

/// The authorization a callback's `state` names, taken once, and its page;
/// a callback without one, or with an unknown, spent or expired one, is
/// refused.
async fn take_state(
    s: &AppState,
    state: Option<&str>,
    kind: ChannelKind,
) -> Result<(switchyard_storage::OAuthState, HostedPage), Response> {
    let Some(state) = state else {
        return Err(refused_callback(
            StatusCode::BAD_REQUEST,
            "The callback carries no state.",
        ));
    };
    let taken = match s
        .storage
        .take_oauth_state(&crate::tokens::hash(state), Utc::now())
        .await
    {
        Ok(Some(t)) if t.kind == kind => t,
        Ok(_) => {
            return Err(refused_callback(
                StatusCode::BAD_REQUEST,
                "This authorization is unknown, was already used or has expired. Open your page again and start over.",
            ));
        }
        Err(e) => return Err(failed(&e)),
    };
    match s
        .storage
        .get_hosted_page(&taken.account_id, &taken.page_id)
        .await
    {
        Ok(p) => Ok((taken, p)),
        Err(e) => Err(failed(&e)),
    }
}

/// The HTTP client of the code exchanges: short, and never following a
/// redirect.
fn exchange_client() -> Result<reqwest::Client, String> {
    reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(15))
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(|e| e.to_string())
}

/// POST a code exchange to a channel's token endpoint (checked like any
/// outbound address) and read its JSON answer; a refusal comes back in the
/// channel's words.
async fn exchange(
    s: &AppState,
    channel: &str,
    url: &str,
    request: impl FnOnce(reqwest::RequestBuilder) -> reqwest::RequestBuilder,
) -> Result<serde_json::Value, String> {
    check_destination(s, "token_url", url).map_err(|e| e.to_string())?;
    let r = request(exchange_client()?.post(url))
        .send()
        .await
        .map_err(|e| format!("{channel} could not be reached: {e}"))?;
    let ok = r.status().is_success();
    let body: serde_json::Value = r
        .json()
        .await
        .map_err(|e| format!("{channel}'s answer could not be read: {e}"))?;
    if !ok {
        return Err(body["error_description"]
            .as_str()
            .or(body["error"].as_str())
            .unwrap_or("the code was refused")
            .to_owned());
    }
    Ok(body)
}

/// A non-empty string field of an exchange's answer.
fn field_of(body: &serde_json::Value, channel: &str, name: &str) -> Result<String, String> {
    body[name]
        .as_str()
        .filter(|t| !t.is_empty())
        .map(str::to_owned)
        .ok_or_else(|| format!("{channel}'s answer has no {name}"))
}

/// A hosted page for a console user connecting `kind` to `store` through
/// its own sign-in: in Switchyard's name, one hour, back to the store's
/// page when done. Returns the page's address to send the user to.
pub(crate) async fn console_page(
    s: &AppState,
    user: &switchyard_storage::User,
    store: &switchyard_storage::Store,
    kind: ChannelKind,
    base: &str,
) -> Result<String, ApiError> {
    let token = crate::console::auth::secret().map_err(|e| ApiError::Internal(Box::new(e)))?;
    let page = switchyard_storage::NewHostedPage {
        id: switchyard_domain::ids::HostedPageId::generate(),
        token_hash: crate::tokens::hash(&token),
        channels: vec![kind],
        branding: Branding {
            name: format!(
                "Switchyard · {}",
                store.name.chars().take(80).collect::<String>()
            ),
            logo_url: None,
            primary_color: None,
            accent_color: None,
            font: switchyard_domain::hosted_page::Font::System,
        },
        presets: serde_json::json!({}),
        redirect_url: Some(format!("{base}/console/stores/{}", store.id)),
        metadata: serde_json::json!({ "console_user": user.id.as_str() }),
        expires_at: Utc::now() + chrono::Duration::hours(1),
    };
    s.storage
        .create_hosted_page(&user.account_id, &store.id, page)
        .await?;
    tracing::info!(user = %user.id, store = %store.id, kind = kind.as_str(), "console connects a channel through its sign-in");
    Ok(format!("/connect/{token}/{}", kind.as_str()))
}

/// Begin an authorization on `page` for `kind`: a new single-use state
/// (stored as its hash with the shop and the PKCE verifier sealed, for
/// [`AUTHORIZE_MINUTES`]); returns the state to send to the channel.
async fn start_authorization(
    s: &AppState,
    account: &AccountId,
    page: &HostedPage,
    kind: ChannelKind,
    shop: Option<String>,
    verifier: Option<String>,
) -> Result<String, (StatusCode, String)> {
    let internal = |e: String| (StatusCode::INTERNAL_SERVER_ERROR, e);
    let state = crate::console::auth::secret().map_err(|e| internal(e.to_string()))?;
    // The verifier is a secret until the exchange: kept sealed for the page.
    let verifier = match verifier {
        Some(v) => {
            use base64::Engine as _;
            let sealed = crate::routes::webhooks::seal(s, account, page.id.as_str(), &v)
                .map_err(|e| internal(e.to_string()))?;
            Some(base64::engine::general_purpose::STANDARD.encode(sealed))
        }
        None => None,
    };
    s.storage
        .create_oauth_state(NewOAuthState {
            hash: crate::tokens::hash(&state),
            account_id: account.clone(),
            page_id: page.id.clone(),
            kind,
            shop,
            verifier,
            expires_at: Utc::now() + chrono::Duration::minutes(AUTHORIZE_MINUTES),
        })
        .await
        .map_err(|e| internal(e.to_string()))?;
    Ok(state)
}

/// The PKCE verifier of a taken state, unsealed.
fn verifier_of(s: &AppState, taken: &switchyard_storage::OAuthState) -> Option<String> {
    use base64::Engine as _;
    let sealed = base64::engine::general_purpose::STANDARD
        .decode(taken.verifier.as_deref()?)
        .ok()?;
    crate::routes::webhooks::open(s, &taken.account_id, taken.page_id.as_str(), &sealed).ok()
}
