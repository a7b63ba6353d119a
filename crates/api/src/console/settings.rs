//! Profile › Settings: the user's profile; for owners, the account's API
//! tokens and users (invitations and new sign-in links).

use axum::Form;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use maud::{Markup, html};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use switchyard_domain::ids::{StoreId, TokenId, UserId};
use switchyard_domain::user::Role;
use switchyard_domain::values::check_text;
use switchyard_storage::{LinkPurpose, PageRequest, Store, TokenRecord, User};

use super::auth;
use super::mail::LinkMail;
use super::pages::{CsrfForm, Peer, failed, html_response, internal, not_found, page};
use super::{InviteError, Need, Session, config, see_other};
use crate::AppState;
use crate::tokens;

/// What the last action left to show, once.
enum Notice<'a> {
    None,
    /// A token was made: its secret.
    Token(&'a str, &'a TokenRecord),
    /// A sign-in link was made for a user, and how it reached them.
    Link(&'a User, &'a str, &'a Delivery),
    /// The token form was refused.
    TokenError(&'a str),
    /// The user form was refused.
    UserError(&'a str),
    /// The user's own password was changed.
    PasswordChanged,
    /// The password form was refused.
    PasswordError(&'a str),
}

/// How a single-use link reached its user.
#[derive(Debug)]
pub(super) enum Delivery {
    /// Emailed.
    Mailed,
    /// To be shown to the owner: no mail is set up, or (with why) it failed.
    Shown(Option<String>),
}

/// Email a link to its user when `smtp_url` is set.
pub(super) async fn deliver(s: &AppState, user: &User, link: &str, kind: LinkMail) -> Delivery {
    let c = config(s);
    let Some(mailer) = &c.mailer else {
        return Delivery::Shown(None);
    };
    let (subject, body) = kind.compose(link, c.link_hours);
    match mailer.send(&user.email, subject, body).await {
        Ok(()) => Delivery::Mailed,
        Err(e) => {
            tracing::warn!(error = %e, user = %user.id, "console link not mailed");
            Delivery::Shown(Some(e.to_string()))
        }
    }
}

fn store_names<'a>(ids: &[StoreId], stores: &'a [Store]) -> Vec<&'a str> {
    ids.iter()
        .map(|id| {
            stores
                .iter()
                .find(|s| &s.id == id)
                .map_or("(deleted store)", |s| s.name.as_str())
        })
        .collect()
}

fn token_rows(tokens: &[TokenRecord], stores: &[Store], csrf: &str) -> Markup {
    html! {
        table.tokens {
            thead { tr { th { "Name" } th { "Token" } th { "Store" } th { "Created" } th { "Last used" } th {} } }
            tbody {
                @for t in tokens {
                    tr data-token=(t.id) {
                        td { (t.name) }
                        td { code { (t.prefix) "…" } }
                        td { @if let Some(st) = &t.store_id { (store_names(std::slice::from_ref(st), stores).join("")) } @else { "every store" } }
                        td { (t.created_at.format("%Y-%m-%d %H:%M")) }
                        td { @if let Some(at) = t.last_used_at { (at.format("%Y-%m-%d %H:%M")) } @else { "never" } }
                        td {
                            @if t.revoked_at.is_some() { span.muted { "revoked" } }
                            @else {
                                form method="post" action={ "/console/settings/tokens/" (t.id) "/revoke" } {
                                    input type="hidden" name="csrf" value=(csrf);
                                    button.danger type="submit" { "Revoke" }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

fn user_rows(users: &[User], stores: &[Store], me: &User, csrf: &str) -> Markup {
    html! {
        table.users {
            thead { tr { th { "Email" } th { "Role" } th { "Stores" } th { "Status" } th {} } }
            tbody {
                @for u in users {
                    tr data-user=(u.id) {
                        td { (u.email) }
                        td { (u.role.as_str()) }
                        td { @match &u.stores { None => "every store", Some(ids) => (store_names(ids, stores).join(", ")) } }
                        td { @if u.active { "active" } @else { span.muted { "invited" } } }
                        td {
                            @if u.id != me.id {
                                form method="post" action={ "/console/settings/users/" (u.id) "/link" } {
                                    input type="hidden" name="csrf" value=(csrf);
                                    button.secondary type="submit" {
                                        @if u.active { "New password link" } @else { "New invitation link" }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

async fn settings_page(
    s: &AppState,
    session: &Session,
    status: StatusCode,
    notice: Notice<'_>,
) -> Response {
    let u = &session.user;
    let csrf = &session.csrf;
    let mut body = html! {
        h2 { "Profile" }
        p { (u.email) " · " (u.role.as_str())
            @if let Some(stores) = &u.stores { " · limited to " (stores.len()) " store(s)" } }
        @if let Notice::PasswordChanged = notice {
            p.created role="status" { "Password changed. Your other sessions were signed out; this one goes on." }
        }
        @if let Notice::PasswordError(e) = notice { p.error role="alert" { (e) } }
        form.card.password-form method="post" action="/console/settings/password" {
            input type="hidden" name="csrf" value=(csrf);
            label { "Current password" input type="password" name="current" autocomplete="current-password" required; }
            label { "New password " input type="password" name="password" autocomplete="new-password" required; }
            label { "The same again" input type="password" name="confirm" autocomplete="new-password" required; }
            button type="submit" { "Change password" }
        }
    };
    if u.role.manages_access() {
        let page_of = PageRequest::first(100);
        let (tokens, stores, users) = match (
            s.storage.list_tokens(&u.account_id, &page_of).await,
            s.storage.list_stores(&u.account_id, None, &page_of).await,
            s.storage.list_users(&u.account_id).await,
        ) {
            (Ok(t), Ok(st), Ok(us)) => (t.items, st.items, us),
            (Err(e), _, _) | (_, Err(e), _) | (_, _, Err(e)) => return failed(&e),
        };
        body = html! {
            (body)
            h2 { "API tokens" }
            @if let Notice::Token(secret, rec) = notice {
                div.created role="status" {
                    p { "Token " strong { (rec.name) } " created. Copy it now: it is shown only this once." }
                    input.secret type="text" readonly value=(secret) aria-label="New API token";
                }
            }
            @if let Notice::TokenError(e) = notice { p.error role="alert" { (e) } }
            @if tokens.is_empty() { p.empty { "No API tokens yet." } } @else { (token_rows(&tokens, &stores, csrf)) }
            form.card.token-form method="post" action="/console/settings/tokens" {
                input type="hidden" name="csrf" value=(csrf);
                label { "Name" input type="text" name="name" maxlength="100" required placeholder="e.g. ERP connector"; }
                label { "Reaches"
                    select name="store" {
                        option value="" { "every store" }
                        @for st in &stores { option value=(st.id) { (st.name) } }
                    }
                }
                button type="submit" { "Create token" }
            }
            h2 { "Users" }
            @if let Notice::Link(who, link, how) = notice {
                @match how {
                    Delivery::Mailed => {
                        p.created role="status" { "A link was emailed to " strong { (who.email) } ". It works once and expires in " (config(s).link_hours) " hours." }
                    }
                    Delivery::Shown(why) => {
                        div.created role="status" {
                            @if let Some(why) = why { p.error { "It could not be emailed (" (why) "). Send it yourself:" } }
                            p { "Send this link to " strong { (who.email) } ". It works once and expires in " (config(s).link_hours) " hours." }
                            input.secret type="text" readonly value=(link) aria-label="Sign-in link";
                        }
                    }
                }
            }
            @if let Notice::UserError(e) = notice { p.error role="alert" { (e) } }
            (user_rows(&users, &stores, u, csrf))
            form.card.user-form method="post" action="/console/settings/users" {
                input type="hidden" name="csrf" value=(csrf);
                label { "Email" input type="email" name="email" maxlength="254" required placeholder="name@example.com"; }
                label { "Role"
                    select name="role" {
                        option value="staff" { "staff: everything but users and tokens" }
                        option value="owner" { "owner: everything" }
                    }
                }
                @if !stores.is_empty() {
                    fieldset {
                        legend { "Staff reach (none ticked: every store)" }
                        @for st in &stores {
                            label.check { input type="checkbox" name="store" value=(st.id); " " (st.name) }
                        }
                    }
                }
                button type="submit" { "Invite" }
            }
        };
    }
    html_response(status, page("Settings", Some((u, csrf)), body))
}

pub(super) async fn settings(State(s): State<AppState>, session: Session) -> Response {
    settings_page(&s, &session, StatusCode::OK, Notice::None).await
}

#[derive(Debug, Deserialize)]
pub(super) struct NewTokenForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    store: String,
}

pub(super) async fn create_token(
    State(s): State<AppState>,
    session: Session,
    Form(f): Form<NewTokenForm>,
) -> Response {
    if let Err(r) = session.accept(&f.csrf, Need::Owner) {
        return r.into_response();
    }
    let name = f.name.trim();
    if let Err(e) = check_text("name", name, 100) {
        let notice = Notice::TokenError(&e.message);
        return settings_page(&s, &session, StatusCode::UNPROCESSABLE_ENTITY, notice).await;
    }
    let store = if f.store.is_empty() {
        None
    } else {
        match StoreId::parse(&f.store) {
            Ok(id) => Some(id),
            Err(_) => return not_found().await,
        }
    };
    let scope = tokens::Scope {
        store,
        plugin: None,
    };
    match tokens::issue(
        s.storage.as_ref(),
        session.user.account_id.clone(),
        scope,
        name.to_owned(),
    )
    .await
    {
        Ok((secret, rec)) => {
            tracing::info!(user = %session.user.id, token = %rec.id, "API token created in the console");
            settings_page(
                &s,
                &session,
                StatusCode::CREATED,
                Notice::Token(secret.expose_secret(), &rec),
            )
            .await
        }
        Err(tokens::IssueError::Storage(e)) => failed(&e),
        Err(e) => internal(&e),
    }
}

pub(super) async fn revoke_token(
    State(s): State<AppState>,
    session: Session,
    Path(id): Path<String>,
    Form(f): Form<CsrfForm>,
) -> Response {
    if let Err(r) = session.accept(&f.csrf, Need::Owner) {
        return r.into_response();
    }
    let Ok(id) = TokenId::parse(&id) else {
        return not_found().await;
    };
    match s.storage.revoke_token(&session.user.account_id, &id).await {
        Ok(rec) => {
            tracing::info!(user = %session.user.id, token = %rec.id, "API token revoked in the console");
            see_other("/console/settings")
        }
        Err(e) => failed(&e),
    }
}

/// Invite a user: the form's body is read by hand, as it may name several
/// stores (`store=…&store=…`).
pub(super) async fn invite_user(
    State(s): State<AppState>,
    session: Session,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let mut csrf = String::new();
    let mut email = String::new();
    let mut role = String::new();
    let mut stores = Vec::new();
    for (k, v) in form_urlencoded::parse(&body) {
        match k.as_ref() {
            "csrf" => csrf = v.into_owned(),
            "email" => email = v.into_owned(),
            "role" => role = v.into_owned(),
            "store" => stores.push(v.into_owned()),
            _ => {}
        }
    }
    if let Err(r) = session.accept(&csrf, Need::Owner) {
        return r.into_response();
    }
    let refuse = |message: String| {
        let s = s.clone();
        let session = session.clone();
        async move {
            settings_page(
                &s,
                &session,
                StatusCode::UNPROCESSABLE_ENTITY,
                Notice::UserError(&message),
            )
            .await
        }
    };
    let role = match Role::parse(&role) {
        Ok(r) => r,
        Err(e) => return refuse(e.message).await,
    };
    let mut limit = Vec::with_capacity(stores.len());
    for id in &stores {
        match StoreId::parse(id) {
            Ok(id) => limit.push(id),
            Err(_) => return not_found().await,
        }
    }
    let limit = (!limit.is_empty()).then_some(limit);
    if role == Role::Owner && limit.is_some() {
        return refuse(
            "An owner reaches every store; leave the stores unticked, or invite staff.".into(),
        )
        .await;
    }
    let account = session.user.account_id.clone();
    match super::invite(
        s.storage.as_ref(),
        &config(&s).links(&headers),
        &account,
        &email,
        role,
        limit,
    )
    .await
    {
        Ok((user, link)) => {
            tracing::info!(by = %session.user.id, user = %user.id, role = role.as_str(), "user invited in the console");
            let how = deliver(&s, &user, &link, LinkMail::Invitation).await;
            settings_page(
                &s,
                &session,
                StatusCode::CREATED,
                Notice::Link(&user, &link, &how),
            )
            .await
        }
        Err(InviteError::Invalid(e)) => refuse(e.message).await,
        Err(InviteError::Storage(switchyard_storage::StorageError::Conflict {
            message, ..
        })) => refuse(message).await,
        Err(InviteError::Storage(e)) => failed(&e),
        Err(e) => internal(&e),
    }
}

/// A new single-use link for another user of the account: an invitation
/// again, or a password reset for an active user.
pub(super) async fn user_link(
    State(s): State<AppState>,
    session: Session,
    headers: HeaderMap,
    Path(id): Path<String>,
    Form(f): Form<CsrfForm>,
) -> Response {
    if let Err(r) = session.accept(&f.csrf, Need::Owner) {
        return r.into_response();
    }
    let Ok(id) = UserId::parse(&id) else {
        return not_found().await;
    };
    let account = session.user.account_id.clone();
    let user = match s.storage.get_user(&account, &id).await {
        Ok(u) => u,
        Err(e) => return failed(&e),
    };
    let purpose = if user.active {
        LinkPurpose::Reset
    } else {
        LinkPurpose::Invite
    };
    match super::link_for(
        s.storage.as_ref(),
        &config(&s).links(&headers),
        &account,
        &user.id,
        purpose,
    )
    .await
    {
        Ok(link) => {
            tracing::info!(by = %session.user.id, user = %user.id, purpose = purpose.as_str(), "sign-in link made in the console");
            let how = deliver(&s, &user, &link, LinkMail::NewLink).await;
            settings_page(
                &s,
                &session,
                StatusCode::CREATED,
                Notice::Link(&user, &link, &how),
            )
            .await
        }
        Err(InviteError::Storage(e)) => failed(&e),
        Err(e) => internal(&e),
    }
}

#[derive(Debug, Deserialize)]
pub(super) struct PasswordForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    current: SecretString,
    #[serde(default)]
    password: SecretString,
    #[serde(default)]
    confirm: SecretString,
}

/// A user changes their own password: the current one first (failures
/// count toward the sign-in throttle), then the new one twice. Every other
/// session of theirs ends.
pub(super) async fn change_password(
    State(s): State<AppState>,
    session: Session,
    Peer(address): Peer,
    Form(f): Form<PasswordForm>,
) -> Response {
    if let Err(r) = session.accept(&f.csrf, Need::Anyone) {
        return r.into_response();
    }
    let refuse = |status, why: &str| {
        let why = why.to_owned();
        let (s, session) = (s.clone(), session.clone());
        async move { settings_page(&s, &session, status, Notice::PasswordError(&why)).await }
    };
    let c = config(&s);
    let u = &session.user;
    let now = std::time::Instant::now();
    let account = Some(u.account_id.as_str());
    if let Some(wait) = c.throttle.wait(&u.email, &address, account, now) {
        let minutes = wait.as_secs().div_ceil(60).max(1);
        return refuse(
            StatusCode::TOO_MANY_REQUESTS,
            &format!("Too many wrong passwords. Try again in {minutes} minute(s)."),
        )
        .await;
    }
    let stored = match s.storage.find_user_by_email(&u.email).await {
        Ok(found) => found.and_then(|(_, h)| h),
        Err(e) => return failed(&e),
    };
    if !auth::verify_password(f.current.expose_secret(), stored.as_deref()) {
        c.throttle.failed(&u.email, &address, account, now);
        tracing::info!(user = %u.id, %address, "console password change refused: wrong current password");
        return refuse(StatusCode::UNAUTHORIZED, "The current password is wrong.").await;
    }
    if let Err(e) = switchyard_domain::user::check_new_password(f.password.expose_secret()) {
        return refuse(StatusCode::UNPROCESSABLE_ENTITY, &e.message).await;
    }
    if f.password.expose_secret() != f.confirm.expose_secret() {
        return refuse(
            StatusCode::UNPROCESSABLE_ENTITY,
            "The two new passwords differ.",
        )
        .await;
    }
    let hash = match auth::hash_password(f.password.expose_secret()) {
        Ok(h) => h,
        Err(e) => return internal(&e),
    };
    if let Err(e) = s
        .storage
        .change_password(
            &u.account_id,
            &u.id,
            &hash,
            &session.hash,
            chrono::Utc::now(),
        )
        .await
    {
        return failed(&e);
    }
    c.throttle.succeeded(&u.email);
    tracing::info!(user = %u.id, "console password changed");
    settings_page(&s, &session, StatusCode::OK, Notice::PasswordChanged).await
}
