//! The console: server-rendered pages for the people who run Switchyard,
//! served by `serve` beside the API under `/console`.
//!
//! Users sign in with an email and a password (Argon2id). A session is a
//! random secret in an HttpOnly, SameSite=Lax cookie, stored only as its
//! hash, that ends when the user signs out, sets a new password, or after
//! [`ConsoleConfig::session_hours`]. Every form that changes something
//! carries the session's CSRF token; the sign-in form, which has no
//! session yet, a double-submit cookie. Pages carry a strict
//! Content-Security-Policy, and no inline script or style.

pub mod auth;
mod channel_connect;
mod channels;
pub mod connect;
pub mod mail;
mod order_invoices;
mod orders;
mod overview;
mod pages;
mod plugin_rules;
mod plugins;
mod products;
mod settings;
mod stores;
mod webhooks;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{MethodRouter, get, post};
use chrono::Utc;
use switchyard_domain::ids::{AccountId, UserId};
use switchyard_domain::user::Role;
use switchyard_storage::{LinkPurpose, NewUser, NewUserLink, Storage, StorageError, User};

use crate::AppState;
use auth::{AuthError, Throttle};

/// Settings of the console.
#[derive(Debug)]
pub struct ConsoleConfig {
    /// The address people open (`public_url`): links printed and mailed
    /// start with it, and an https one makes the cookies Secure.
    pub public_url: String,
    /// How long a session lasts after signing in.
    pub session_hours: u32,
    /// How long an invitation or a password reset link works.
    pub link_hours: u32,
    /// Failed sign-ins remembered: per email, per address, over a window.
    pub throttle: Throttle,
    /// Where single-use links are emailed (`smtp_url`); without it they are
    /// shown to the owner who made them.
    pub mailer: Option<mail::Mailer>,
    /// The operator's Shopify app, for hosted pages' authorization flow.
    pub shopify: Option<connect::ShopifyApp>,
    /// The operator's Etsy app.
    pub etsy: Option<connect::EtsyApp>,
    /// The operator's eBay app.
    pub ebay: Option<connect::EbayApp>,
    /// The operator's SP-API application.
    pub amazon: Option<connect::AmazonApp>,
}

impl ConsoleConfig {
    /// The console at `public_url` (may be empty: links are then relative
    /// to wherever the server is reached), with the default lifetimes and
    /// limits: 12-hour sessions, 72-hour links, 5 failed sign-ins per
    /// email, 20 per address and 50 per account in 15 minutes.
    #[must_use]
    pub fn new(public_url: &str) -> Self {
        Self {
            public_url: public_url.trim_end_matches('/').to_owned(),
            session_hours: 12,
            link_hours: 72,
            throttle: Throttle::new(Duration::from_secs(15 * 60), 5, 20, 50),
            mailer: None,
            shopify: None,
            etsy: None,
            ebay: None,
            amazon: None,
        }
    }

    fn secure(&self) -> bool {
        self.public_url.starts_with("https://")
    }

    fn session_ttl(&self) -> Duration {
        Duration::from_secs(u64::from(self.session_hours) * 3600)
    }
}

impl ConsoleConfig {
    /// How links are made for a request: from `public_url`, or else from
    /// the address the request was sent to (its `Host`).
    #[must_use]
    pub fn links(&self, headers: &axum::http::HeaderMap) -> Links {
        let base = if self.public_url.is_empty() {
            headers
                .get(header::HOST)
                .and_then(|h| h.to_str().ok())
                .map_or_else(String::new, |h| format!("http://{h}"))
        } else {
            self.public_url.clone()
        };
        Links {
            base,
            hours: self.link_hours,
        }
    }
}

/// How single-use links are made: where they point and how long they work.
#[derive(Debug, Clone)]
pub struct Links {
    /// The console's address, without a trailing slash.
    pub base: String,
    /// Hours a link works.
    pub hours: u32,
}

impl Links {
    /// Links to the console at `base`, working for 72 hours.
    #[must_use]
    pub fn new(base: &str) -> Self {
        Self {
            base: base.trim_end_matches('/').to_owned(),
            hours: 72,
        }
    }
}

/// Why a user or a link could not be made.
#[derive(Debug, thiserror::Error)]
pub enum InviteError {
    /// The input broke a rule (email, role, store).
    #[error(transparent)]
    Invalid(#[from] switchyard_domain::DomainError),
    /// Making the secret failed.
    #[error(transparent)]
    Auth(#[from] AuthError),
    /// Storage refused it (email taken, store not the account's).
    #[error(transparent)]
    Storage(#[from] StorageError),
}

/// Add a user to an account and make their single-use link to set a
/// password. Returns the user and the link (shown or mailed once; only its
/// hash is stored).
pub async fn invite(
    storage: &dyn Storage,
    links: &Links,
    account: &AccountId,
    email: &str,
    role: Role,
    stores: Option<Vec<switchyard_domain::ids::StoreId>>,
) -> Result<(User, String), InviteError> {
    let email = switchyard_domain::user::normalise_email(email)?;
    let user = storage
        .create_user(NewUser {
            account_id: account.clone(),
            email,
            role,
            stores,
        })
        .await?;
    let link = link_for(storage, links, account, &user.id, LinkPurpose::Invite).await?;
    Ok((user, link))
}

/// A new single-use link for an existing user of the account.
pub async fn link_for(
    storage: &dyn Storage,
    links: &Links,
    account: &AccountId,
    user: &UserId,
    purpose: LinkPurpose,
) -> Result<String, InviteError> {
    let secret = auth::secret()?;
    storage
        .create_user_link(NewUserLink {
            account_id: account.clone(),
            user_id: user.clone(),
            purpose,
            hash: crate::tokens::hash(&secret),
            expires_at: Utc::now() + chrono::Duration::hours(i64::from(links.hours)),
        })
        .await?;
    Ok(format!("{}/console/set-password?link={secret}", links.base))
}

/// Every route of the console: its path, the methods it answers, and
/// the handler. The router and [`routes`] are both made from this list.
#[allow(clippy::type_complexity, reason = "a table of three plain columns")]
fn table() -> Vec<(
    &'static str,
    &'static [&'static str],
    MethodRouter<AppState>,
)> {
    vec![
        ("/", &["GET"], get(|| async { Redirect::to("/console") })),
        ("/console", &["GET"], get(pages::overview)),
        (
            "/console/sign-in",
            &["GET", "POST"],
            get(pages::sign_in_form).post(pages::sign_in),
        ),
        ("/console/sign-out", &["POST"], post(pages::sign_out)),
        (
            "/console/forgot-password",
            &["POST"],
            post(pages::forgot_password),
        ),
        (
            "/console/set-password",
            &["GET", "POST"],
            get(pages::set_password_form).post(pages::set_password),
        ),
        ("/console/stores", &["POST"], post(stores::create)),
        ("/console/stores/{store}", &["GET"], get(stores::show)),
        (
            "/console/stores/{store}/rename",
            &["POST"],
            post(stores::rename),
        ),
        (
            "/console/stores/{store}/delete",
            &["POST"],
            post(stores::delete),
        ),
        (
            "/console/stores/{store}/products",
            &["GET"],
            get(products::list),
        ),
        (
            "/console/stores/{store}/products/{sku}",
            &["GET"],
            get(products::show),
        ),
        (
            "/console/stores/{store}/products/{sku}/stock",
            &["POST"],
            post(products::change),
        ),
        (
            "/console/stores/{store}/webhooks",
            &["GET", "POST"],
            get(webhooks::list).post(webhooks::create),
        ),
        (
            "/console/stores/{store}/webhooks/{webhook}",
            &["GET"],
            get(webhooks::show),
        ),
        (
            "/console/stores/{store}/webhooks/{webhook}/{action}",
            &["POST"],
            post(webhooks::act),
        ),
        (
            "/console/stores/{store}/webhooks/{webhook}/messages/{message}/replay",
            &["POST"],
            post(webhooks::replay_one),
        ),
        (
            "/console/stores/{store}/channels",
            &["POST"],
            post(channel_connect::connect),
        ),
        (
            "/console/stores/{store}/channels/authorize",
            &["POST"],
            post(channel_connect::authorize),
        ),
        (
            "/console/stores/{store}/channels/new",
            &["GET"],
            get(channel_connect::connect_form),
        ),
        (
            "/console/stores/{store}/channels/{channel}",
            &["GET"],
            get(channels::show),
        ),
        (
            "/console/stores/{store}/channels/{channel}/{action}",
            &["POST"],
            post(channels::act),
        ),
        (
            "/console/stores/{store}/channels/{channel}/errors/{error}/{action}",
            &["POST"],
            post(channels::act_on_error),
        ),
        (
            "/console/stores/{store}/plugins",
            &["GET", "POST"],
            get(plugins::list).post(plugins::create),
        ),
        (
            "/console/stores/{store}/plugins/{plugin}",
            &["GET"],
            get(plugins::show),
        ),
        (
            "/console/stores/{store}/plugins/{plugin}/{action}",
            &["POST"],
            post(plugins::act),
        ),
        (
            "/console/stores/{store}/plugin-rules",
            &["GET", "POST"],
            get(plugin_rules::rules).post(plugin_rules::save_rules),
        ),
        (
            "/console/stores/{store}/plugin-rules/dry-run",
            &["POST"],
            post(plugin_rules::try_rules),
        ),
        ("/console/orders", &["GET"], get(orders::list)),
        ("/console/orders/live", &["GET"], get(orders::live)),
        ("/console/orders/{order}", &["GET"], get(orders::show)),
        (
            "/console/orders/{order}/{action}",
            &["POST"],
            post(orders::act),
        ),
        (
            "/console/invoices/{invoice}",
            &["GET"],
            get(order_invoices::invoice_pdf),
        ),
        ("/console/settings", &["GET"], get(settings::settings)),
        (
            "/console/settings/tokens",
            &["POST"],
            post(settings::create_token),
        ),
        (
            "/console/settings/tokens/{token}/revoke",
            &["POST"],
            post(settings::revoke_token),
        ),
        (
            "/console/settings/users",
            &["POST"],
            post(settings::invite_user),
        ),
        (
            "/console/settings/password",
            &["POST"],
            post(settings::change_password),
        ),
        (
            "/console/settings/users/{user}/link",
            &["POST"],
            post(settings::user_link),
        ),
        (
            "/connect/callback/shopify",
            &["GET"],
            get(connect::shopify_callback),
        ),
        (
            "/connect/callback/amazon",
            &["GET"],
            get(connect::amazon_callback),
        ),
        (
            "/connect/callback/ebay",
            &["GET"],
            get(connect::ebay_callback),
        ),
        (
            "/connect/callback/etsy",
            &["GET"],
            get(connect::etsy_callback),
        ),
        (
            "/connect/callback/woocommerce",
            &["POST"],
            post(connect::woocommerce_callback),
        ),
        (
            "/connect/return/woocommerce",
            &["GET"],
            get(connect::woocommerce_return),
        ),
        ("/connect/{page_token}", &["GET"], get(connect::show)),
        (
            "/connect/{page_token}/style.css",
            &["GET"],
            get(connect::style),
        ),
        (
            "/connect/{page_token}/{kind}",
            &["GET", "POST"],
            get(connect::kind_form).post(connect::submit),
        ),
        ("/console/assets/console.css", &["GET"], get(stylesheet)),
        ("/console/assets/live.js", &["GET"], get(script)),
        ("/console/{*rest}", &["GET"], get(pages::not_found)),
    ]
}

/// The console's routes as (method, path template): what the tenancy test
/// walks.
#[must_use]
pub fn routes() -> Vec<(&'static str, &'static str)> {
    table()
        .into_iter()
        .flat_map(|(path, methods, _)| methods.iter().map(move |m| (*m, path)))
        .collect()
}

/// The console's routes.
pub fn router() -> Router<AppState> {
    table()
        .into_iter()
        .fold(Router::new(), |r, (path, _, handler)| {
            r.route(path, handler)
        })
        .layer(axum::middleware::map_response(security_headers))
}

async fn stylesheet() -> Response {
    asset(
        "text/css; charset=utf-8",
        include_str!("assets/console.css"),
    )
}

async fn script() -> Response {
    asset(
        "text/javascript; charset=utf-8",
        include_str!("assets/live.js"),
    )
}

/// One of the console's embedded files, cached for an hour.
fn asset(content_type: &'static str, body: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        body,
    )
        .into_response()
}

/// Headers every console answer carries: no script but our own, no
/// framing, no sniffing, no referrer (links carry secrets), no caching of
/// pages.
async fn security_headers(mut r: Response) -> Response {
    let h = r.headers_mut();
    // A page may set its own (the hosted pages allow their logo's origin).
    if !h.contains_key(header::CONTENT_SECURITY_POLICY) {
        h.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(
                "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
             connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
            ),
        );
    }
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    if !h.contains_key(header::CACHE_CONTROL) {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    r
}

/// The signed-in user of a request, with the session's CSRF token. A
/// request without a live session is sent to the sign-in page.
#[derive(Debug, Clone)]
pub struct Session {
    /// Who.
    pub user: User,
    /// The token every form of this session carries.
    pub csrf: String,
    /// The hash of the session's secret.
    hash: String,
}

/// Why a signed-in user's form was refused.
#[derive(Debug, Clone, Copy)]
enum Refusal {
    /// Its CSRF token is missing or not this session's.
    Csrf,
    /// Only an owner may do it.
    NotOwner,
    /// Only a user who reaches every store may do it.
    Limited,
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        match self {
            Self::Csrf => pages::refused_form(),
            Self::NotOwner => pages::forbidden("Only an owner manages API tokens and users."),
            Self::Limited => pages::forbidden(
                "You are limited to some stores: creating and deleting stores is for users who reach every store.",
            ),
        }
    }
}

/// Who may send a form, beyond its session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Need {
    /// Any signed-in user.
    Anyone,
    /// An owner (users and API tokens).
    Owner,
    /// A user who reaches every store (creating and deleting stores).
    AccountWide,
}

impl Session {
    /// Accept a form only with this session's CSRF token, from a user
    /// who may do what it asks.
    fn accept(&self, csrf: &str, need: Need) -> Result<(), Refusal> {
        if !auth::same(csrf, &self.csrf) {
            return Err(Refusal::Csrf);
        }
        match need {
            Need::Owner if !self.user.role.manages_access() => Err(Refusal::NotOwner),
            Need::AccountWide if self.user.stores.is_some() => Err(Refusal::Limited),
            _ => Ok(()),
        }
    }
}

impl FromRequestParts<AppState> for Session {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, s: &AppState) -> Result<Self, Response> {
        let to_sign_in = || Redirect::to("/console/sign-in").into_response();
        let Some(secret) = auth::cookie(&parts.headers, auth::SESSION_COOKIE) else {
            return Err(to_sign_in());
        };
        let hash = crate::tokens::hash(secret);
        match s.storage.find_session(&hash, Utc::now()).await {
            Ok(Some(found)) => Ok(Self {
                user: found.user,
                csrf: auth::csrf_token(secret),
                hash,
            }),
            Ok(None) => Err(to_sign_in()),
            Err(e) => Err(pages::failed(&e)),
        }
    }
}

/// The address a request came from, for the sign-in throttle.
fn peer(parts: &Parts) -> String {
    parts
        .extensions
        .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
        .map_or_else(|| "unknown".to_owned(), |c| c.0.ip().to_string())
}

/// Why the API's checks refused a form, in words that name the field;
/// `None` when it was not the user's doing.
fn say(e: &crate::error::ApiError) -> Option<String> {
    match e {
        crate::error::ApiError::Client {
            message,
            field: Some(f),
            ..
        } if !f.is_empty() => Some(format!("{f}: {message}")),
        crate::error::ApiError::Client { message, .. } => Some(message.clone()),
        _ => None,
    }
}

/// A `datetime-local` value (`2026-12-01T10:00`, seconds optional) as UTC.
fn local_time(
    field: &str,
    v: &str,
) -> Result<Option<chrono::DateTime<Utc>>, crate::error::ApiError> {
    let v = v.trim();
    if v.is_empty() {
        return Ok(None);
    }
    chrono::NaiveDateTime::parse_from_str(v, "%Y-%m-%dT%H:%M")
        .or_else(|_| chrono::NaiveDateTime::parse_from_str(v, "%Y-%m-%dT%H:%M:%S"))
        .map(|t| Some(t.and_utc()))
        .map_err(|_| {
            crate::error::ApiError::field(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_window",
                field,
                "must be a date and time like 2026-12-01T10:00",
            )
        })
}

/// A form whose fields may repeat (`events=…&events=…`).
pub(super) struct Fields(pub(super) Vec<(String, String)>);

impl Fields {
    pub(super) fn get(&self, k: &str) -> &str {
        self.0
            .iter()
            .find(|(n, _)| n == k)
            .map_or("", |(_, v)| v.trim())
    }

    pub(super) fn all(&self, k: &str) -> Vec<String> {
        self.0
            .iter()
            .filter(|(n, _)| n == k)
            .map(|(_, v)| v.clone())
            .collect()
    }

    pub(super) fn optional(&self, k: &str) -> Option<String> {
        let v = self.get(k);
        (!v.is_empty()).then(|| v.to_owned())
    }
}

/// A redirect after a form (303: the browser follows with a GET).
fn see_other(to: &str) -> Response {
    (StatusCode::SEE_OTHER, [(header::LOCATION, to.to_owned())]).into_response()
}

/// The console's settings carried in the application state.
pub(crate) fn config(s: &AppState) -> &Arc<ConsoleConfig> {
    &s.console
}
