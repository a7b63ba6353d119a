//! The console's pages and forms.

use axum::Form;
use axum::extract::{FromRequestParts, Query, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use maud::{DOCTYPE, Markup, html};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use switchyard_storage::{LinkPurpose, NewSession, PageRequest, StorageError, User};

use super::auth::{self, FORM_COOKIE, SESSION_COOKIE};
use super::{Need, Session, config, see_other};
use crate::AppState;

/// A page in the console's frame; `user` adds the navigation.
pub(super) fn page(title: &str, user: Option<(&User, &str)>, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · Switchyard" }
                link rel="stylesheet" href="/console/assets/console.css";
                script src="/console/assets/live.js" defer {}
            }
            body {
                header.top {
                    a.brand href="/console" { "Switchyard" }
                    @if let Some((user, csrf)) = user {
                        nav {
                            a href="/console" { "Overview" }
                            a href="/console/orders" { "Orders" }
                            a href="/console/settings" { "Settings" }
                        }
                        form.sign-out method="post" action="/console/sign-out" {
                            input type="hidden" name="csrf" value=(csrf);
                            span.who { (user.email) }
                            button type="submit" { "Sign out" }
                        }
                    }
                }
                main { h1 { (title) } (body) }
            }
        }
    }
}

pub(super) fn html_response(status: StatusCode, markup: Markup) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        markup.into_string(),
    )
        .into_response()
}

pub(super) fn message_page(status: StatusCode, title: &str, text: &str) -> Response {
    html_response(
        status,
        page(
            title,
            None,
            html! { p.notice { (text) } p { a href="/console" { "Back to the console" } } },
        ),
    )
}

pub(super) async fn not_found() -> Response {
    message_page(StatusCode::NOT_FOUND, "Not found", "There is no such page.")
}

pub(super) fn refused_form() -> Response {
    message_page(
        StatusCode::FORBIDDEN,
        "Form refused",
        "This form was not sent from the console page it belongs to (its CSRF token is missing or wrong). Open the page again and resend it.",
    )
}

pub(super) fn forbidden(text: &str) -> Response {
    message_page(StatusCode::FORBIDDEN, "Not allowed", text)
}

pub(super) fn failed(e: &StorageError) -> Response {
    match e {
        StorageError::NotFound { .. } => {
            message_page(StatusCode::NOT_FOUND, "Not found", "There is no such page.")
        }
        e => {
            tracing::error!(error = %e, "console page failed");
            message_page(
                StatusCode::INTERNAL_SERVER_ERROR,
                "Something failed",
                "The page could not be made; the error has been logged. Try again in a moment.",
            )
        }
    }
}

pub(super) fn internal(e: &dyn std::error::Error) -> Response {
    tracing::error!(error = %e, "console action failed");
    message_page(
        StatusCode::INTERNAL_SERVER_ERROR,
        "Something failed",
        "The action could not be done; the error has been logged.",
    )
}

/// The address of the request (for the sign-in throttle).
pub(super) struct Peer(pub(super) String);

impl FromRequestParts<AppState> for Peer {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &AppState) -> Result<Self, Self::Rejection> {
        Ok(Self(super::peer(parts)))
    }
}

// ---- Overview ----

pub(super) async fn overview(State(s): State<AppState>, session: Session) -> Response {
    overview_with(&s, &session, StatusCode::OK, None).await
}

/// The overview, with an error from its store form.
pub(super) async fn overview_with(
    s: &AppState,
    session: &Session,
    status: StatusCode,
    error: Option<&str>,
) -> Response {
    let u = &session.user;
    let stores = match s
        .storage
        .list_stores(&u.account_id, None, &PageRequest::first(100))
        .await
    {
        Ok(p) => p.items,
        Err(e) => return failed(&e),
    };
    let stores: Vec<_> = stores.into_iter().filter(|st| u.reaches(&st.id)).collect();
    let account = match s.storage.get_account(&u.account_id).await {
        Ok(a) => a,
        Err(e) => return failed(&e),
    };
    let mut panels = Vec::with_capacity(stores.len());
    for st in &stores {
        match super::overview::store_panel(s, &u.account_id, st).await {
            Ok(p) => panels.push(p),
            Err(r) => return r,
        }
    }
    html_response(
        status,
        page(
            "Overview",
            Some((u, &session.csrf)),
            html! {
                p { "Account " strong { (account.name) } ", signed in as " (u.role.as_str()) "." }
                h2 { "Stores" }
                @if let Some(e) = error { p.error role="alert" { (e) } }
                @if stores.is_empty() {
                    p.empty { "No stores yet." }
                }
                @for panel in &panels { (panel) }
                @if u.stores.is_none() {
                    form.card method="post" action="/console/stores" {
                        input type="hidden" name="csrf" value=(session.csrf);
                        label { "New store" input type="text" name="name" maxlength="200" required placeholder="e.g. Acme EU"; }
                        button type="submit" { "Create store" }
                    }
                }
            },
        ),
    )
}

// ---- Signing in and out ----

fn sign_in_page(
    status: StatusCode,
    form_token: &str,
    email: &str,
    error: Option<&str>,
    mail: bool,
) -> Response {
    html_response(
        status,
        page(
            "Sign in",
            None,
            html! {
                @if let Some(e) = error { p.error role="alert" { (e) } }
                form.card method="post" action="/console/sign-in" {
                    input type="hidden" name="form" value=(form_token);
                    label { "Email" input type="email" name="email" value=(email) autocomplete="username" required autofocus; }
                    label { "Password" input type="password" name="password" autocomplete="current-password" required; }
                    button type="submit" { "Sign in" }
                }
                @if mail {
                    details.forgot {
                        summary { "Forgot your password?" }
                        form.card method="post" action="/console/forgot-password" {
                            input type="hidden" name="form" value=(form_token);
                            p { "We email you a link to set a new one." }
                            label { "Email" input type="email" name="email" autocomplete="username" required; }
                            button.secondary type="submit" { "Email me a link" }
                        }
                    }
                } @else {
                    p.muted { "Forgot your password? Ask an owner of your account for a new sign-in link." }
                }
            },
        ),
    )
}

/// The sign-in page's double-submit token, when the form sent it back.
fn form_token<'a>(headers: &'a HeaderMap, sent: &str) -> Option<&'a str> {
    auth::cookie(headers, FORM_COOKIE).filter(|expected| auth::same(sent, expected))
}

/// The sign-in page answering 429: too many `what` for now.
fn held(
    wait: std::time::Duration,
    what: &str,
    form_token: &str,
    email: &str,
    mail: bool,
) -> Response {
    let minutes = wait.as_secs().div_ceil(60).max(1);
    sign_in_page(
        StatusCode::TOO_MANY_REQUESTS,
        form_token,
        email,
        Some(&format!(
            "Too many {what}. Try again in {minutes} minute(s)."
        )),
        mail,
    )
}

/// The sign-in form, with a fresh double-submit token in a cookie.
pub(super) async fn sign_in_form(State(s): State<AppState>, headers: HeaderMap) -> Response {
    let token = match auth::cookie(&headers, FORM_COOKIE) {
        Some(t) => t.to_owned(),
        None => match auth::secret() {
            Ok(t) => t,
            Err(e) => return internal(&e),
        },
    };
    with_cookie(
        sign_in_page(
            StatusCode::OK,
            &token,
            "",
            None,
            config(&s).mailer.is_some(),
        ),
        &auth::set_cookie(
            FORM_COOKIE,
            &token,
            std::time::Duration::from_secs(3600),
            config(&s).secure(),
        ),
    )
}

fn with_cookie(mut r: Response, cookie: &str) -> Response {
    if let Ok(v) = cookie.parse() {
        r.headers_mut().append(header::SET_COOKIE, v);
    }
    r
}

#[derive(Debug, Deserialize)]
pub(super) struct SignIn {
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: SecretString,
    #[serde(default)]
    form: String,
}

pub(super) async fn sign_in(
    State(s): State<AppState>,
    Peer(address): Peer,
    headers: HeaderMap,
    Form(f): Form<SignIn>,
) -> Response {
    let Some(expected) = form_token(&headers, &f.form) else {
        return refused_form();
    };
    let c = config(&s);
    let email = f.email.trim().to_lowercase();
    let now = std::time::Instant::now();
    let found = match s.storage.find_user_by_email(&email).await {
        Ok(f) => f,
        Err(e) => return failed(&e),
    };
    // The account an email belongs to is throttled too (unknown emails
    // count only toward themselves and the address).
    let account = found
        .as_ref()
        .map(|(u, _)| u.account_id.as_str().to_owned());
    if let Some(wait) = c.throttle.wait(&email, &address, account.as_deref(), now) {
        return held(
            wait,
            "failed sign-ins",
            expected,
            &email,
            c.mailer.is_some(),
        );
    }
    let hash = found.as_ref().and_then(|(_, h)| h.as_deref());
    let ok = auth::verify_password(f.password.expose_secret(), hash);
    let Some((user, _)) = found.filter(|_| ok) else {
        c.throttle.failed(&email, &address, account.as_deref(), now);
        tracing::info!(%address, "console sign-in refused");
        return sign_in_page(
            StatusCode::UNAUTHORIZED,
            expected,
            &email,
            Some("Wrong email or password."),
            c.mailer.is_some(),
        );
    };
    c.throttle.succeeded(&email);
    start_session(&s, &user, Some(address)).await
}

#[derive(Debug, Deserialize)]
pub(super) struct Forgot {
    #[serde(default)]
    email: String,
    #[serde(default)]
    form: String,
}

/// Email a password reset link to an active user with this email. The
/// answer is the same whether or not there is one, so the form tells
/// nobody which emails have accounts; each request counts toward the
/// sign-in throttle of the email and the address, so it cannot flood an
/// inbox.
pub(super) async fn forgot_password(
    State(s): State<AppState>,
    Peer(address): Peer,
    headers: HeaderMap,
    Form(f): Form<Forgot>,
) -> Response {
    let Some(expected) = form_token(&headers, &f.form) else {
        return refused_form();
    };
    let c = config(&s);
    let Some(_) = &c.mailer else {
        return message_page(
            StatusCode::NOT_FOUND,
            "No mail here",
            "This Switchyard sends no email. Ask an owner of your account for a new sign-in link.",
        );
    };
    let email = f.email.trim().to_lowercase();
    let now = std::time::Instant::now();
    if let Some(wait) = c.throttle.wait(&email, &address, None, now) {
        return held(wait, "requests", expected, &email, true);
    }
    c.throttle.failed(&email, &address, None, now);
    match s.storage.find_user_by_email(&email).await {
        Ok(Some((user, _))) if user.active => {
            let links = c.links(&headers);
            match super::link_for(
                s.storage.as_ref(),
                &links,
                &user.account_id,
                &user.id,
                LinkPurpose::Reset,
            )
            .await
            {
                Ok(link) => {
                    // Failures are logged there; the answer stays the same.
                    super::settings::deliver(&s, &user, &link, super::mail::LinkMail::Reset).await;
                    tracing::info!(user = %user.id, %address, "console password reset asked");
                }
                Err(e) => tracing::warn!(error = %e, "console password reset link not made"),
            }
        }
        Ok(_) => tracing::info!(%address, "console password reset asked for no active user"),
        Err(e) => return failed(&e),
    }
    message_page(
        StatusCode::OK,
        "Check your email",
        "If that email belongs to a user of Switchyard, a link to set a new password is on its way. It works once.",
    )
}

/// Begin a session for `user` and send them to the overview.
async fn start_session(s: &AppState, user: &User, address: Option<String>) -> Response {
    let c = config(s);
    let secret = match auth::secret() {
        Ok(t) => t,
        Err(e) => return internal(&e),
    };
    let expires = Utc::now() + chrono::Duration::hours(i64::from(c.session_hours));
    if let Err(e) = s
        .storage
        .create_session(NewSession {
            user_id: user.id.clone(),
            hash: crate::tokens::hash(&secret),
            expires_at: expires,
            address,
        })
        .await
    {
        return failed(&e);
    }
    tracing::info!(user = %user.id, "console session started");
    let r = with_cookie(
        see_other("/console"),
        &auth::set_cookie(SESSION_COOKIE, &secret, c.session_ttl(), c.secure()),
    );
    // The sign-in form's token has done its work.
    with_cookie(
        r,
        &auth::set_cookie(FORM_COOKIE, "", std::time::Duration::ZERO, c.secure()),
    )
}

#[derive(Debug, Deserialize)]
pub(super) struct CsrfForm {
    #[serde(default)]
    pub(super) csrf: String,
}

pub(super) async fn sign_out(
    State(s): State<AppState>,
    session: Session,
    Form(f): Form<CsrfForm>,
) -> Response {
    if let Err(r) = session.accept(&f.csrf, Need::Anyone) {
        return r.into_response();
    }
    if let Err(e) = s.storage.end_session(&session.hash, Utc::now()).await {
        return failed(&e);
    }
    with_cookie(
        see_other("/console/sign-in"),
        &auth::set_cookie(
            SESSION_COOKIE,
            "",
            std::time::Duration::ZERO,
            config(&s).secure(),
        ),
    )
}

// ---- Setting a password from a link ----

#[derive(Debug, Deserialize)]
pub(super) struct LinkQuery {
    #[serde(default)]
    link: String,
}

fn set_password_page(status: StatusCode, link: &str, error: Option<&str>) -> Response {
    html_response(
        status,
        page(
            "Set your password",
            None,
            html! {
                @if let Some(e) = error { p.error role="alert" { (e) } }
                form.card method="post" action="/console/set-password" {
                    input type="hidden" name="link" value=(link);
                    label { "New password (at least " (switchyard_domain::user::PASSWORD_MIN) " characters)"
                        input type="password" name="password" autocomplete="new-password" required autofocus; }
                    label { "The same again" input type="password" name="confirm" autocomplete="new-password" required; }
                    button type="submit" { "Set password and sign in" }
                }
            },
        ),
    )
}

pub(super) async fn set_password_form(Query(q): Query<LinkQuery>) -> Response {
    if q.link.is_empty() {
        return message_page(
            StatusCode::BAD_REQUEST,
            "Link incomplete",
            "This page is opened from the link you were sent; the link's secret is missing. Copy the whole link.",
        );
    }
    set_password_page(StatusCode::OK, &q.link, None)
}

#[derive(Debug, Deserialize)]
pub(super) struct SetPassword {
    #[serde(default)]
    link: String,
    #[serde(default)]
    password: SecretString,
    #[serde(default)]
    confirm: SecretString,
}

pub(super) async fn set_password(
    State(s): State<AppState>,
    Peer(address): Peer,
    Form(f): Form<SetPassword>,
) -> Response {
    // The link's secret is this form's proof: nobody else has it.
    if let Err(e) = switchyard_domain::user::check_new_password(f.password.expose_secret()) {
        return set_password_page(StatusCode::UNPROCESSABLE_ENTITY, &f.link, Some(&e.message));
    }
    if f.password.expose_secret() != f.confirm.expose_secret() {
        return set_password_page(
            StatusCode::UNPROCESSABLE_ENTITY,
            &f.link,
            Some("The two passwords differ."),
        );
    }
    let hash = match auth::hash_password(f.password.expose_secret()) {
        Ok(h) => h,
        Err(e) => return internal(&e),
    };
    match s
        .storage
        .redeem_user_link(&crate::tokens::hash(&f.link), &hash, Utc::now())
        .await
    {
        Ok(user) => start_session(&s, &user, Some(address)).await,
        Err(StorageError::NotFound { .. }) => message_page(
            StatusCode::GONE,
            "Link used or expired",
            "This link has been used or has expired. Ask an owner of your account for a new one.",
        ),
        Err(e) => failed(&e),
    }
}
