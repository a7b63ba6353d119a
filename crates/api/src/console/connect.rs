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

use super::channels::{credential_inputs, credentials_from};
use super::pages::{failed, internal, not_found};
use super::see_other;
use crate::AppState;
use crate::error::ApiError;
use crate::routes::channel_ops::try_connection;
use crate::routes::channels::{ChannelIn, StockRulesDto, connect_channel};
use crate::routes::destination::check_destination;

/// Kinds connected with a credentials form on a hosted page. The others
/// connect through their own authorization flows.
pub const FORM_KINDS: [ChannelKind; 3] = [
    ChannelKind::Bolcom,
    ChannelKind::Vendure,
    ChannelKind::Medusa,
];

/// How long a client has to approve on the channel's site.
const AUTHORIZE_MINUTES: i64 = 15;

/// The operator's Shopify app (`[apps.shopify]`).
#[derive(Clone)]
pub struct ShopifyApp {
    /// Client id (API key).
    pub client_id: String,
    /// Client secret (API secret key): checks the callback's `hmac`, and
    /// signs the shop's webhooks.
    pub client_secret: String,
    /// Scopes asked for, comma-separated.
    pub scopes: String,
    /// Where a shop is reached; `{shop}` is its `myshopify.com` domain.
    pub shop_url: String,
}

impl std::fmt::Debug for ShopifyApp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ShopifyApp")
            .field("client_id", &self.client_id)
            .field("scopes", &self.scopes)
            .field("shop_url", &self.shop_url)
            .finish_non_exhaustive()
    }
}

impl ShopifyApp {
    fn shop_base(&self, shop: &str) -> String {
        self.shop_url
            .replace("{shop}", shop)
            .trim_end_matches('/')
            .to_owned()
    }
}

/// Whether a hosted page can offer `kind` on this server: the form kinds,
/// WooCommerce (its key flow needs no app), and Shopify, Etsy, eBay and
/// Amazon when the operator configured their apps.
#[must_use]
pub fn offered(s: &AppState, kind: ChannelKind) -> bool {
    FORM_KINDS.contains(&kind)
        || kind == ChannelKind::Woocommerce
        || (kind == ChannelKind::Shopify && super::config(s).shopify.is_some())
        || (kind == ChannelKind::Etsy && super::config(s).etsy.is_some())
        || (kind == ChannelKind::Ebay && super::config(s).ebay.is_some())
        || (kind == ChannelKind::Amazon && super::config(s).amazon.is_some())
}

/// A Shopify shop domain (`name.myshopify.com`), from what the client
/// typed (`name` alone, or the domain), if it is one.
fn shop_domain(typed: &str) -> Option<String> {
    let t = typed.trim().to_ascii_lowercase();
    let t = t
        .trim_start_matches("https://")
        .trim_start_matches("http://")
        .trim_end_matches('/');
    let domain = if t.ends_with(".myshopify.com") {
        t.to_owned()
    } else {
        format!("{t}.myshopify.com")
    };
    let name = domain.strip_suffix(".myshopify.com")?;
    let ok = !name.is_empty()
        && name.len() <= 60
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        && !name.starts_with('-');
    ok.then_some(domain)
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
        base = include_str!("assets/console.css"),
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
            .unwrap_or_else(|(status, message)| refuse(status, &message, None));
    }
    if kind == ChannelKind::Ebay {
        return authorize_ebay(&s, &account, &page)
            .await
            .unwrap_or_else(|(status, message)| refuse(status, &message, None));
    }
    if kind == ChannelKind::Etsy {
        return authorize_etsy(&s, &headers, &account, &page)
            .await
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

/// Send the client to Shopify to approve the app for their shop, with a
/// single-use state bound to this page and shop.
async fn authorize_shopify(
    s: &AppState,
    headers: &HeaderMap,
    account: &AccountId,
    page: &HostedPage,
    typed: &str,
) -> Result<Response, (StatusCode, String)> {
    let unprocessable = |m: &str| (StatusCode::UNPROCESSABLE_ENTITY, m.to_owned());
    let Some(app) = super::config(s).shopify.clone() else {
        return Err(unprocessable("this server has no Shopify app"));
    };
    let shop = shop_domain(typed).ok_or_else(|| {
        unprocessable("that is not a Shopify shop: give its name, as in name.myshopify.com")
    })?;
    let state =
        super::auth::secret().map_err(|e| (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
    s.storage
        .create_oauth_state(NewOAuthState {
            hash: crate::tokens::hash(&state),
            account_id: account.clone(),
            page_id: page.id.clone(),
            kind: ChannelKind::Shopify,
            shop: Some(shop.clone()),
            verifier: None,
            expires_at: Utc::now() + chrono::Duration::minutes(AUTHORIZE_MINUTES),
        })
        .await
        .map_err(|e| (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
    let callback = format!(
        "{}/connect/callback/shopify",
        super::config(s).links(headers).base
    );
    let mut url = reqwest::Url::parse(&format!("{}/admin/oauth/authorize", app.shop_base(&shop)))
        .map_err(|e| unprocessable(&format!("the shop address cannot be used: {e}")))?;
    url.query_pairs_mut()
        .append_pair("client_id", &app.client_id)
        .append_pair("scope", &app.scopes)
        .append_pair("redirect_uri", &callback)
        .append_pair("state", &state);
    tracing::info!(page = %page.id, %shop, "hosted page sends its client to Shopify");
    Ok(see_other(url.as_str()))
}

/// Whether Shopify signed this callback: the hex HMAC-SHA256, keyed with
/// the app's secret, of every other parameter sorted and joined.
fn shopify_signed(secret: &str, params: &[(String, String)]) -> bool {
    use hmac::Mac as _;
    let Some(given) = params.iter().find(|(k, _)| k == "hmac").map(|(_, v)| v) else {
        return false;
    };
    let Some(given) = (0..given.len())
        .step_by(2)
        .map(|i| {
            given
                .get(i..i + 2)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
        })
        .collect::<Option<Vec<u8>>>()
    else {
        return false;
    };
    let mut rest: Vec<&(String, String)> = params.iter().filter(|(k, _)| k != "hmac").collect();
    rest.sort();
    let message = rest
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&");
    let Ok(mut mac) = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()) else {
        return false;
    };
    mac.update(message.as_bytes());
    mac.verify_slice(&given).is_ok()
}

/// A callback that cannot be taken: plain words, no page to go back to.
fn refused_callback(status: StatusCode, why: &str) -> Response {
    tracing::warn!(%why, "hosted page callback refused");
    super::pages::message_page(status, "Connection refused", why)
}

/// Shopify sends the client back here: the signature, the shop and the
/// single-use state are checked, the code is exchanged for the shop's
/// token, and the channel is made as for a form.
pub(super) async fn shopify_callback(
    State(s): State<AppState>,
    Query(params): Query<Vec<(String, String)>>,
) -> Response {
    let Some(app) = super::config(&s).shopify.clone() else {
        return not_found().await;
    };
    let get = |k: &str| params.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
    let Some(state) = get("state") else {
        return refused_callback(StatusCode::BAD_REQUEST, "The callback carries no state.");
    };
    let denied = get("error");
    if denied.is_none() && !shopify_signed(&app.client_secret, &params) {
        return refused_callback(
            StatusCode::BAD_REQUEST,
            "The callback's signature (hmac) is wrong: it did not come from Shopify.",
        );
    }
    let taken = match s
        .storage
        .take_oauth_state(&crate::tokens::hash(state), Utc::now())
        .await
    {
        Ok(Some(t)) if t.kind == ChannelKind::Shopify => t,
        Ok(_) => {
            return refused_callback(
                StatusCode::BAD_REQUEST,
                "This authorization is unknown, was already used or has expired. Open your page again and start over.",
            );
        }
        Err(e) => return failed(&e),
    };
    let page = match s
        .storage
        .get_hosted_page(&taken.account_id, &taken.page_id)
        .await
    {
        Ok(p) => p,
        Err(e) => return failed(&e),
    };
    let token_less = |status: StatusCode, message: &str| {
        // The client goes back to the page's Shopify form, which can start over.
        retry_page(&page, "Shopify", status, message)
    };
    if let Some(error) = denied {
        let why = get("error_description").unwrap_or(error);
        return token_less(StatusCode::OK, why);
    }
    let shop = get("shop").and_then(shop_domain);
    if shop.is_none() || shop != taken.shop {
        return refused_callback(
            StatusCode::BAD_REQUEST,
            "The callback names another shop than the one the authorization was started for.",
        );
    }
    let shop = shop.unwrap_or_default();
    if page.state_at(Utc::now()) != PageState::Open {
        return retry_page(
            &page,
            "Shopify",
            StatusCode::GONE,
            "This page can no longer connect a shop.",
        );
    }
    let Some(code) = get("code") else {
        return refused_callback(StatusCode::BAD_REQUEST, "The callback carries no code.");
    };
    let base = app.shop_base(&shop);
    let token = match exchange_shopify_code(&s, &app, &base, code).await {
        Ok(t) => t,
        Err(why) => return token_less(StatusCode::BAD_GATEWAY, &why),
    };
    let creds = serde_json::json!({ "access_token": token, "api_secret_key": app.client_secret });
    match finish(
        &s,
        "",
        &taken.account_id,
        &page,
        ChannelKind::Shopify,
        &base,
        creds,
    )
    .await
    {
        Ok(r) => r,
        Err((status, why)) => token_less(status, &why),
    }
}

/// After a callback, the page's own address is not known (only its hash
/// is stored): the client is told what happened and to open their link
/// again.
fn retry_page(page: &HostedPage, channel: &str, status: StatusCode, why: &str) -> Response {
    // The page's own address is not known here (only its hash is stored):
    // the client opens their link again.
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

/// Exchange the code at the shop for its offline access token.
async fn exchange_shopify_code(
    s: &AppState,
    app: &ShopifyApp,
    base: &str,
    code: &str,
) -> Result<String, String> {
    let url = format!("{base}/admin/oauth/access_token");
    check_destination(s, "shop", &url).map_err(|e| e.to_string())?;
    let client = reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(15))
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(|e| e.to_string())?;
    let r = client
        .post(&url)
        .json(&serde_json::json!({ "client_id": app.client_id, "client_secret": app.client_secret, "code": code }))
        .send()
        .await
        .map_err(|e| format!("the shop could not be reached: {e}"))?;
    let status = r.status();
    let body: serde_json::Value = r
        .json()
        .await
        .map_err(|e| format!("the shop's answer could not be read: {e}"))?;
    if !status.is_success() {
        return Err(body["error_description"]
            .as_str()
            .or(body["error"].as_str())
            .unwrap_or("the code was refused")
            .to_owned());
    }
    body["access_token"]
        .as_str()
        .filter(|t| !t.is_empty())
        .map(str::to_owned)
        .ok_or_else(|| "the shop's answer has no access_token".to_owned())
}

// ---- WooCommerce: the Application Authentication Endpoint ----

/// Send the client to their store's `/wc-auth/v1/authorize`, with a
/// single-use state (as `user_id`) bound to this page and store.
async fn authorize_woocommerce(
    s: &AppState,
    headers: &HeaderMap,
    account: &AccountId,
    page: &HostedPage,
    typed: &str,
) -> Result<Response, (StatusCode, String)> {
    let store = typed.trim().trim_end_matches('/').to_owned();
    check_destination(s, "store", &store).map_err(|e| (e.status(), e.to_string()))?;
    let state =
        super::auth::secret().map_err(|e| (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
    s.storage
        .create_oauth_state(NewOAuthState {
            hash: crate::tokens::hash(&state),
            account_id: account.clone(),
            page_id: page.id.clone(),
            kind: ChannelKind::Woocommerce,
            shop: Some(store.clone()),
            verifier: None,
            expires_at: Utc::now() + chrono::Duration::minutes(AUTHORIZE_MINUTES),
        })
        .await
        .map_err(|e| (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
    let base = super::config(s).links(headers).base;
    let mut url = reqwest::Url::parse(&format!("{store}/wc-auth/v1/authorize")).map_err(|e| {
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            format!("the store address cannot be used: {e}"),
        )
    })?;
    url.query_pairs_mut()
        .append_pair("app_name", &page.branding.name)
        .append_pair("scope", "read_write")
        .append_pair("user_id", &state)
        .append_pair("return_url", &format!("{base}/connect/return/woocommerce"))
        .append_pair(
            "callback_url",
            &format!("{base}/connect/callback/woocommerce"),
        );
    tracing::info!(page = %page.id, %store, "hosted page sends its client to WooCommerce");
    Ok(see_other(url.as_str()))
}

/// The keys a store POSTs to the callback.
#[derive(Debug, serde::Deserialize)]
pub(super) struct WooKeys {
    #[serde(default)]
    user_id: serde_json::Value,
    #[serde(default)]
    consumer_key: String,
    #[serde(default)]
    consumer_secret: String,
}

/// The store POSTs the keys here (server to server) before it sends the
/// client back: the state (`user_id`) is taken once, the keys are checked
/// with the store, and the channel is made.
pub(super) async fn woocommerce_callback(
    State(s): State<AppState>,
    axum::Json(keys): axum::Json<WooKeys>,
) -> Response {
    let refuse = |status: StatusCode, why: &str| {
        tracing::warn!(%why, "WooCommerce key callback refused");
        (status, axum::Json(serde_json::json!({ "error": why }))).into_response()
    };
    let state = match &keys.user_id {
        serde_json::Value::String(v) => v.clone(),
        other => other.to_string(),
    };
    let taken = match s
        .storage
        .take_oauth_state(&crate::tokens::hash(&state), Utc::now())
        .await
    {
        Ok(Some(t)) if t.kind == ChannelKind::Woocommerce => t,
        Ok(_) => return refuse(StatusCode::BAD_REQUEST, "unknown, used or expired user_id"),
        Err(e) => return failed(&e),
    };
    let page = match s
        .storage
        .get_hosted_page(&taken.account_id, &taken.page_id)
        .await
    {
        Ok(p) => p,
        Err(e) => return failed(&e),
    };
    if page.state_at(Utc::now()) != PageState::Open {
        return refuse(StatusCode::GONE, "the page can no longer connect a store");
    }
    let store = taken.shop.clone().unwrap_or_default();
    let creds = serde_json::json!({
        "consumer_key": keys.consumer_key,
        "consumer_secret": keys.consumer_secret,
    });
    match try_connection(
        &s,
        ChannelKind::Woocommerce,
        Some(&store),
        creds.to_string().as_bytes(),
    )
    .await
    {
        Ok(t) if t.ok => {}
        Ok(t) => return refuse(StatusCode::UNPROCESSABLE_ENTITY, &t.message),
        Err(e) => return refuse(e.status(), &e.to_string()),
    }
    match finish(
        &s,
        "",
        &taken.account_id,
        &page,
        ChannelKind::Woocommerce,
        &store,
        creds,
    )
    .await
    {
        Ok(_) => (
            StatusCode::OK,
            axum::Json(serde_json::json!({ "ok": true })),
        )
            .into_response(),
        Err((status, why)) => refuse(status, &why),
    }
}

#[derive(Debug, serde::Deserialize)]
pub(super) struct WooReturn {
    #[serde(default)]
    success: String,
    #[serde(default)]
    user_id: String,
}

/// The store sends the client back here: on to the provider when the keys
/// arrived and the channel is made, or told what happened.
pub(super) async fn woocommerce_return(
    State(s): State<AppState>,
    Query(q): Query<WooReturn>,
) -> Response {
    let hash = crate::tokens::hash(&q.user_id);
    let found = match s.storage.find_oauth_state(&hash).await {
        Ok(Some(t)) if t.kind == ChannelKind::Woocommerce => t,
        Ok(_) => {
            return refused_callback(
                StatusCode::BAD_REQUEST,
                "This authorization is unknown. Open your page again and start over.",
            );
        }
        Err(e) => return failed(&e),
    };
    let page = match s
        .storage
        .get_hosted_page(&found.account_id, &found.page_id)
        .await
    {
        Ok(p) => p,
        Err(e) => return failed(&e),
    };
    if q.success != "1" {
        // Denied: the state is spent so it cannot be used later.
        if let Err(e) = s.storage.take_oauth_state(&hash, Utc::now()).await {
            return failed(&e);
        }
        return retry_page(
            &page,
            "WooCommerce",
            StatusCode::OK,
            "the store's owner denied access",
        );
    }
    match (&page.channel_id, page.redirect_url.as_deref()) {
        (Some(ch), Some(r)) if page.state_at(Utc::now()) == PageState::Completed => {
            match back_to(r, &page, ch.as_str()) {
                Some(to) => see_other(&to),
                None => retry_page(&page, "WooCommerce", StatusCode::OK, "connected"),
            }
        }
        (Some(_), None) if page.state_at(Utc::now()) == PageState::Completed => layout(
            "",
            &page.branding,
            StatusCode::OK,
            "Connected",
            html! { p.created { "Your WooCommerce store is connected to " (page.branding.name) ". You can close this page." } },
        ),
        _ => retry_page(
            &page,
            "WooCommerce",
            StatusCode::BAD_GATEWAY,
            "the store did not send working API keys",
        ),
    }
}

// ---- Etsy: OAuth 2.0 with PKCE ----

/// The operator's Etsy app (`[apps.etsy]`).
#[derive(Debug, Clone)]
pub struct EtsyApp {
    /// Keystring: the client id and `x-api-key`.
    pub keystring: String,
    /// Scopes asked for, space-separated.
    pub scopes: String,
    /// Where the owner approves (`https://www.etsy.com/oauth/connect`).
    pub connect_url: String,
    /// The Open API (`https://api.etsy.com`).
    pub api_url: String,
}

/// The PKCE challenge of a verifier: BASE64URL(SHA256(verifier)).
fn pkce_challenge(verifier: &str) -> String {
    use base64::Engine as _;
    use sha2::Digest as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(sha2::Sha256::digest(verifier.as_bytes()))
}

fn callback_url(s: &AppState, headers: &HeaderMap, kind: ChannelKind) -> String {
    format!(
        "{}/connect/callback/{}",
        super::config(s).links(headers).base,
        kind.as_str()
    )
}

/// Send the client to Etsy with a single-use state and a PKCE challenge
/// whose verifier stays here.
async fn authorize_etsy(
    s: &AppState,
    headers: &HeaderMap,
    account: &AccountId,
    page: &HostedPage,
) -> Result<Response, (StatusCode, String)> {
    let internal = |e: String| (StatusCode::INTERNAL_SERVER_ERROR, e);
    let Some(app) = super::config(s).etsy.clone() else {
        return Err((
            StatusCode::UNPROCESSABLE_ENTITY,
            "this server has no Etsy app".into(),
        ));
    };
    let state = super::auth::secret().map_err(|e| internal(e.to_string()))?;
    let verifier = super::auth::secret().map_err(|e| internal(e.to_string()))?;
    s.storage
        .create_oauth_state(NewOAuthState {
            hash: crate::tokens::hash(&state),
            account_id: account.clone(),
            page_id: page.id.clone(),
            kind: ChannelKind::Etsy,
            shop: None,
            verifier: Some(verifier.clone()),
            expires_at: Utc::now() + chrono::Duration::minutes(AUTHORIZE_MINUTES),
        })
        .await
        .map_err(|e| internal(e.to_string()))?;
    let mut url = reqwest::Url::parse(&app.connect_url).map_err(|e| internal(e.to_string()))?;
    url.query_pairs_mut()
        .append_pair("response_type", "code")
        .append_pair("client_id", &app.keystring)
        .append_pair("redirect_uri", &callback_url(s, headers, ChannelKind::Etsy))
        .append_pair("scope", &app.scopes)
        .append_pair("state", &state)
        .append_pair("code_challenge", &pkce_challenge(&verifier))
        .append_pair("code_challenge_method", "S256");
    tracing::info!(page = %page.id, "hosted page sends its client to Etsy");
    Ok(see_other(url.as_str()))
}

/// Etsy sends the client back here: the state is taken once, the code is
/// exchanged with the verifier, the shop is looked up, and the channel is
/// made with the refresh token.
pub(super) async fn etsy_callback(
    State(s): State<AppState>,
    headers: HeaderMap,
    Query(params): Query<Vec<(String, String)>>,
) -> Response {
    let Some(app) = super::config(&s).etsy.clone() else {
        return not_found().await;
    };
    let get = |k: &str| params.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
    let (taken, page) = match take_state(&s, get("state"), ChannelKind::Etsy).await {
        Ok(found) => found,
        Err(r) => return r,
    };
    if let Some(error) = get("error") {
        let why = get("error_description").unwrap_or(error);
        return retry_page(&page, "Etsy", StatusCode::OK, why);
    }
    if page.state_at(Utc::now()) != PageState::Open {
        return retry_page(
            &page,
            "Etsy",
            StatusCode::GONE,
            "this page can no longer connect a shop",
        );
    }
    let (Some(code), Some(verifier)) = (get("code"), taken.verifier.as_deref()) else {
        return refused_callback(StatusCode::BAD_REQUEST, "The callback carries no code.");
    };
    let redirect_uri = callback_url(&s, &headers, ChannelKind::Etsy);
    let creds = match etsy_credentials(&s, &app, code, verifier, &redirect_uri).await {
        Ok(c) => c,
        Err(why) => return retry_page(&page, "Etsy", StatusCode::BAD_GATEWAY, &why),
    };
    match finish(
        &s,
        "",
        &taken.account_id,
        &page,
        ChannelKind::Etsy,
        &app.api_url,
        creds,
    )
    .await
    {
        Ok(r) => r,
        Err((status, why)) => retry_page(&page, "Etsy", status, &why),
    }
}

/// Exchange the code (with its verifier) for tokens, then find the shop
/// the token's user owns: the channel's `{keystring, refresh_token, shop_id}`.
async fn etsy_credentials(
    s: &AppState,
    app: &EtsyApp,
    code: &str,
    verifier: &str,
    redirect_uri: &str,
) -> Result<serde_json::Value, String> {
    let token_url = format!("{}/v3/public/oauth/token", app.api_url);
    check_destination(s, "api_url", &token_url).map_err(|e| e.to_string())?;
    let client = reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(15))
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(|e| e.to_string())?;
    let r = client
        .post(&token_url)
        .header("x-api-key", &app.keystring)
        .form(&[
            ("grant_type", "authorization_code"),
            ("client_id", app.keystring.as_str()),
            ("redirect_uri", redirect_uri),
            ("code", code),
            ("code_verifier", verifier),
        ])
        .send()
        .await
        .map_err(|e| format!("Etsy could not be reached: {e}"))?;
    let ok = r.status().is_success();
    let body: serde_json::Value = r
        .json()
        .await
        .map_err(|e| format!("Etsy's answer could not be read: {e}"))?;
    if !ok {
        return Err(body["error_description"]
            .as_str()
            .or(body["error"].as_str())
            .unwrap_or("the code was refused")
            .to_owned());
    }
    let (Some(access), Some(refresh)) = (
        body["access_token"].as_str(),
        body["refresh_token"].as_str(),
    ) else {
        return Err("Etsy's answer has no tokens".to_owned());
    };
    let me: serde_json::Value = client
        .get(format!("{}/v3/application/users/me", app.api_url))
        .header("x-api-key", &app.keystring)
        .bearer_auth(access)
        .send()
        .await
        .map_err(|e| format!("Etsy could not be reached: {e}"))?
        .json()
        .await
        .map_err(|e| format!("Etsy's answer could not be read: {e}"))?;
    let shop_id = me["shop_id"]
        .as_u64()
        .ok_or("the Etsy account has no shop: sign in as the shop's owner")?;
    Ok(
        serde_json::json!({ "keystring": app.keystring, "refresh_token": refresh, "shop_id": shop_id }),
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

// ---- eBay: consent for the app's RuName ----

/// The operator's eBay app (`[apps.ebay]`).
#[derive(Clone)]
pub struct EbayApp {
    /// App ID.
    pub client_id: String,
    /// Cert ID.
    pub client_secret: String,
    /// The RuName whose accept URL is `/connect/callback/ebay`.
    pub runame: String,
    /// Scopes, space-separated.
    pub scopes: String,
    /// Where the seller consents.
    pub auth_url: String,
    /// The APIs' address.
    pub api_url: String,
}

impl std::fmt::Debug for EbayApp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EbayApp")
            .field("client_id", &self.client_id)
            .field("runame", &self.runame)
            .finish_non_exhaustive()
    }
}

/// Send the client to eBay's consent for the app's RuName, with a
/// single-use state bound to this page.
async fn authorize_ebay(
    s: &AppState,
    account: &AccountId,
    page: &HostedPage,
) -> Result<Response, (StatusCode, String)> {
    let internal = |e: String| (StatusCode::INTERNAL_SERVER_ERROR, e);
    let Some(app) = super::config(s).ebay.clone() else {
        return Err((
            StatusCode::UNPROCESSABLE_ENTITY,
            "this server has no eBay app".into(),
        ));
    };
    let state = super::auth::secret().map_err(|e| internal(e.to_string()))?;
    s.storage
        .create_oauth_state(NewOAuthState {
            hash: crate::tokens::hash(&state),
            account_id: account.clone(),
            page_id: page.id.clone(),
            kind: ChannelKind::Ebay,
            shop: None,
            verifier: None,
            expires_at: Utc::now() + chrono::Duration::minutes(AUTHORIZE_MINUTES),
        })
        .await
        .map_err(|e| internal(e.to_string()))?;
    let mut url = reqwest::Url::parse(&app.auth_url).map_err(|e| internal(e.to_string()))?;
    url.query_pairs_mut()
        .append_pair("client_id", &app.client_id)
        .append_pair("redirect_uri", &app.runame)
        .append_pair("response_type", "code")
        .append_pair("scope", &app.scopes)
        .append_pair("state", &state);
    tracing::info!(page = %page.id, "hosted page sends its client to eBay");
    Ok(see_other(url.as_str()))
}

/// eBay sends the seller to the RuName's accept URL (here) with `state`
/// and `code`, or to its decline URL (here with `declined=1`).
pub(super) async fn ebay_callback(
    State(s): State<AppState>,
    Query(params): Query<Vec<(String, String)>>,
) -> Response {
    let Some(app) = super::config(&s).ebay.clone() else {
        return not_found().await;
    };
    let get = |k: &str| params.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
    let (taken, page) = match take_state(&s, get("state"), ChannelKind::Ebay).await {
        Ok(found) => found,
        Err(r) => return r,
    };
    if get("declined").is_some() || get("error").is_some() {
        return retry_page(
            &page,
            "eBay",
            StatusCode::OK,
            "you disagreed to grant access",
        );
    }
    if page.state_at(Utc::now()) != PageState::Open {
        return retry_page(
            &page,
            "eBay",
            StatusCode::GONE,
            "this page can no longer connect a shop",
        );
    }
    let Some(code) = get("code") else {
        return refused_callback(StatusCode::BAD_REQUEST, "The callback carries no code.");
    };
    let refresh = match ebay_refresh_token(&s, &app, code).await {
        Ok(t) => t,
        Err(why) => return retry_page(&page, "eBay", StatusCode::BAD_GATEWAY, &why),
    };
    let creds = serde_json::json!({
        "client_id": app.client_id, "client_secret": app.client_secret, "refresh_token": refresh,
    });
    match finish(
        &s,
        "",
        &taken.account_id,
        &page,
        ChannelKind::Ebay,
        &app.api_url,
        creds,
    )
    .await
    {
        Ok(r) => r,
        Err((status, why)) => retry_page(&page, "eBay", status, &why),
    }
}

/// Exchange the code for the seller's refresh token.
async fn ebay_refresh_token(s: &AppState, app: &EbayApp, code: &str) -> Result<String, String> {
    let url = format!("{}/identity/v1/oauth2/token", app.api_url);
    check_destination(s, "api_url", &url).map_err(|e| e.to_string())?;
    let r = reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(15))
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(|e| e.to_string())?
        .post(&url)
        .basic_auth(&app.client_id, Some(&app.client_secret))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", app.runame.as_str()),
        ])
        .send()
        .await
        .map_err(|e| format!("eBay could not be reached: {e}"))?;
    let ok = r.status().is_success();
    let body: serde_json::Value = r
        .json()
        .await
        .map_err(|e| format!("eBay's answer could not be read: {e}"))?;
    if !ok {
        return Err(body["error_description"]
            .as_str()
            .or(body["error"].as_str())
            .unwrap_or("the code was refused")
            .to_owned());
    }
    body["refresh_token"]
        .as_str()
        .filter(|t| !t.is_empty())
        .map(str::to_owned)
        .ok_or_else(|| "eBay's answer has no refresh_token".to_owned())
}

// ---- Amazon: SP-API website authorization ----

/// The operator's SP-API application (`[apps.amazon]`).
#[derive(Clone)]
pub struct AmazonApp {
    /// `amzn1.sp.solution.…`
    pub application_id: String,
    /// A draft application (`version=beta`).
    pub draft: bool,
    /// LWA client id.
    pub client_id: String,
    /// LWA client secret.
    pub client_secret: String,
    /// Seller Central's consent page.
    pub consent_url: String,
    /// LWA's token endpoint.
    pub token_url: String,
    /// The SP-API endpoint.
    pub api_url: String,
    /// The marketplace the channel sells on.
    pub marketplace_id: String,
}

impl std::fmt::Debug for AmazonApp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AmazonApp")
            .field("application_id", &self.application_id)
            .field("client_id", &self.client_id)
            .finish_non_exhaustive()
    }
}

/// Send the seller to Seller Central's consent page with a single-use
/// state bound to this page.
async fn authorize_amazon(
    s: &AppState,
    headers: &HeaderMap,
    account: &AccountId,
    page: &HostedPage,
) -> Result<Response, (StatusCode, String)> {
    let internal = |e: String| (StatusCode::INTERNAL_SERVER_ERROR, e);
    let Some(app) = super::config(s).amazon.clone() else {
        return Err((
            StatusCode::UNPROCESSABLE_ENTITY,
            "this server has no Amazon application".into(),
        ));
    };
    let state = super::auth::secret().map_err(|e| internal(e.to_string()))?;
    s.storage
        .create_oauth_state(NewOAuthState {
            hash: crate::tokens::hash(&state),
            account_id: account.clone(),
            page_id: page.id.clone(),
            kind: ChannelKind::Amazon,
            shop: None,
            verifier: None,
            expires_at: Utc::now() + chrono::Duration::minutes(AUTHORIZE_MINUTES),
        })
        .await
        .map_err(|e| internal(e.to_string()))?;
    let mut url = reqwest::Url::parse(&app.consent_url).map_err(|e| internal(e.to_string()))?;
    {
        let mut q = url.query_pairs_mut();
        q.append_pair("application_id", &app.application_id)
            .append_pair("state", &state)
            .append_pair(
                "redirect_uri",
                &callback_url(s, headers, ChannelKind::Amazon),
            );
        if app.draft {
            q.append_pair("version", "beta");
        }
    }
    tracing::info!(page = %page.id, "hosted page sends its client to Seller Central");
    Ok(see_other(url.as_str()))
}

/// Seller Central sends the seller back with `state`,
/// `selling_partner_id` and `spapi_oauth_code`; the code is exchanged with
/// Login with Amazon for the seller's refresh token.
pub(super) async fn amazon_callback(
    State(s): State<AppState>,
    Query(params): Query<Vec<(String, String)>>,
) -> Response {
    let Some(app) = super::config(&s).amazon.clone() else {
        return not_found().await;
    };
    let get = |k: &str| params.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
    let (taken, page) = match take_state(&s, get("state"), ChannelKind::Amazon).await {
        Ok(found) => found,
        Err(r) => return r,
    };
    if let Some(error) = get("error") {
        let why = get("error_description").unwrap_or(error);
        return retry_page(&page, "Amazon", StatusCode::OK, why);
    }
    if page.state_at(Utc::now()) != PageState::Open {
        return retry_page(
            &page,
            "Amazon",
            StatusCode::GONE,
            "this page can no longer connect a shop",
        );
    }
    let (Some(code), Some(seller)) = (get("spapi_oauth_code"), get("selling_partner_id")) else {
        return refused_callback(
            StatusCode::BAD_REQUEST,
            "The callback carries no spapi_oauth_code or selling_partner_id.",
        );
    };
    let refresh = match amazon_refresh_token(&s, &app, code).await {
        Ok(t) => t,
        Err(why) => return retry_page(&page, "Amazon", StatusCode::BAD_GATEWAY, &why),
    };
    let creds = serde_json::json!({
        "client_id": app.client_id, "client_secret": app.client_secret, "refresh_token": refresh,
        "seller_id": seller, "marketplace_id": app.marketplace_id,
    });
    match finish(
        &s,
        "",
        &taken.account_id,
        &page,
        ChannelKind::Amazon,
        &app.api_url,
        creds,
    )
    .await
    {
        Ok(r) => r,
        Err((status, why)) => retry_page(&page, "Amazon", status, &why),
    }
}

/// Exchange the authorization code with Login with Amazon.
async fn amazon_refresh_token(s: &AppState, app: &AmazonApp, code: &str) -> Result<String, String> {
    check_destination(s, "token_url", &app.token_url).map_err(|e| e.to_string())?;
    let r = reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(15))
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(|e| e.to_string())?
        .post(&app.token_url)
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("client_id", app.client_id.as_str()),
            ("client_secret", app.client_secret.as_str()),
        ])
        .send()
        .await
        .map_err(|e| format!("Login with Amazon could not be reached: {e}"))?;
    let ok = r.status().is_success();
    let body: serde_json::Value = r
        .json()
        .await
        .map_err(|e| format!("Login with Amazon's answer could not be read: {e}"))?;
    if !ok {
        return Err(body["error_description"]
            .as_str()
            .or(body["error"].as_str())
            .unwrap_or("the code was refused")
            .to_owned());
    }
    body["refresh_token"]
        .as_str()
        .filter(|t| !t.is_empty())
        .map(str::to_owned)
        .ok_or_else(|| "Login with Amazon's answer has no refresh_token".to_owned())
}
