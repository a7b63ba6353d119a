//! Connecting a channel from the console: the form of each kind's
//! credentials (secrets as password fields, never shown again), and for
//! kinds with their own sign-in, a button that goes through it.

use std::collections::HashMap;

use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use maud::{Markup, html};
use serde::Deserialize;
use serde_json::{Map, Value};
use switchyard_connectors::registry::{CredentialField, credential_form};
use switchyard_domain::channel::ChannelKind;
use switchyard_storage::Store;

use super::pages::{html_response, internal, not_found, page};
use super::{Need, Session, say, see_other};
use crate::AppState;
use crate::error::ApiError;
use crate::routes::channels::{ChannelIn, connect_channel};

/// Listings shown per page.
use super::channels::channel_path;

#[derive(Debug, Deserialize)]
pub(super) struct KindQuery {
    #[serde(default)]
    kind: String,
}

/// The form of one kind's credentials: the channel's own field names and
/// help. Secrets are password fields and are never filled in again.
pub(super) fn credential_inputs(fields: &[CredentialField], required: bool) -> Markup {
    html! {
        @for f in fields {
            label {
                span { code { (f.name) } @if !f.required { " " span.muted { "(optional)" } } }
                @if f.secret {
                    input type="password" name={ "cred." (f.name) } autocomplete="off" required[required && f.required];
                } @else if f.numeric {
                    input type="number" name={ "cred." (f.name) } min="1" required[required && f.required];
                } @else {
                    input type="text" name={ "cred." (f.name) } required[required && f.required];
                }
                small.muted { (f.help) }
            }
        }
    }
}

fn connect_page(
    session: &Session,
    store: &Store,
    authorizable: bool,
    kind: Option<ChannelKind>,
    form: &HashMap<String, String>,
    status: StatusCode,
    error: Option<&str>,
) -> Response {
    let csrf = &session.csrf;
    let action = format!("/console/stores/{}/channels", store.id);
    let value = |k: &str| form.get(k).map_or("", String::as_str);
    let body = html! {
        p.muted { "Store " a href={ "/console/stores/" (store.id) } { (store.name) } }
        @if let Some(e) = error { p.error role="alert" { (e) } }
        form.filters method="get" action={ (action) "/new" } {
            label { "Kind"
                select name="kind" {
                    @for k in ChannelKind::ALL {
                        option value=(k.as_str()) selected[kind == Some(k)] { (k.as_str()) }
                    }
                }
            }
            button.secondary type="submit" { "Choose" }
        }
        @if let (Some(kind), true) = (kind, authorizable) {
            form.card.authorize method="post" action={ (action) "/authorize" } {
                input type="hidden" name="csrf" value=(csrf);
                input type="hidden" name="kind" value=(kind.as_str());
                p { "Sign in on " (kind.as_str()) " and approve there: nothing to copy, and the credentials go straight into the sealed store." }
                button type="submit" { "Connect with " (kind.as_str()) "'s sign-in" }
            }
            p.muted { "Or paste credentials you already have:" }
        }
        @if let Some(kind) = kind {
            form.card.connect method="post" action=(action) {
                input type="hidden" name="csrf" value=(csrf);
                input type="hidden" name="kind" value=(kind.as_str());
                label { "Name" input type="text" name="name" required maxlength="200" value=(value("name")) placeholder={ "e.g. My " (kind.as_str()) " shop" }; }
                label { "Base URL"
                    input type="url" name="base_url" required value=(value("base_url")) placeholder="https://…";
                    small.muted { "The address of the channel's API: the shop's domain, or a simulator's address." }
                }
                fieldset {
                    legend { "Credentials" }
                    p { "Entered once: they are sealed at rest and never shown again." }
                    (credential_inputs(credential_form(kind), true))
                }
                button type="submit" { "Connect" }
            }
        }
    };
    html_response(
        status,
        page("Connect a channel", Some((&session.user, csrf)), body),
    )
}

pub(super) async fn connect_form(
    State(s): State<AppState>,
    session: Session,
    Path(store): Path<String>,
    Query(q): Query<KindQuery>,
) -> Response {
    let store = match session.store(&s, &store).await {
        Ok(st) => st,
        Err(r) => return r,
    };
    let kind = ChannelKind::parse(&q.kind).ok();
    connect_page(
        &session,
        &store,
        kind.is_some_and(|k| authorizable(&s, k)),
        kind,
        &HashMap::new(),
        StatusCode::OK,
        None,
    )
}

/// Whether `kind` can be connected through its own sign-in on this server.
fn authorizable(s: &AppState, kind: ChannelKind) -> bool {
    !super::connect::FORM_KINDS.contains(&kind) && super::connect::offered(s, kind)
}

/// Connect a channel through its own sign-in: a single-use hosted page for
/// this store, in Switchyard's name, that sends the user back to the store
/// when done.
pub(super) async fn authorize(
    State(s): State<AppState>,
    session: Session,
    headers: axum::http::HeaderMap,
    Path(store): Path<String>,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let store = match session
        .store_form(
            &s,
            form.get("csrf").map_or("", String::as_str),
            Need::Anyone,
            &store,
        )
        .await
    {
        Ok(st) => st,
        Err(r) => return r,
    };
    let Some(kind) = form
        .get("kind")
        .and_then(|k| ChannelKind::parse(k).ok())
        .filter(|k| authorizable(&s, *k))
    else {
        return not_found().await;
    };
    let base = super::config(&s).links(&headers).base;
    match super::connect::console_page(&s, &session.user, &store, kind, &base).await {
        Ok(to) => see_other(&to),
        Err(e) => super::pages::internal(&e),
    }
}

/// The credentials object from a form's `cred.*` fields (empty ones left
/// out), numbers as numbers; `None` when none was filled in.
pub(super) fn credentials_from(
    kind: ChannelKind,
    form: &HashMap<String, String>,
) -> Result<Option<Value>, ApiError> {
    let mut o = Map::new();
    for f in credential_form(kind) {
        let Some(v) = form
            .get(&format!("cred.{}", f.name))
            .map(|v| v.trim())
            .filter(|v| !v.is_empty())
        else {
            continue;
        };
        let v = if f.numeric {
            v.parse::<u64>().map(Value::from).map_err(|_| {
                ApiError::field(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "invalid_credentials",
                    format!("credentials.{}", f.name),
                    "must be a whole number",
                )
            })?
        } else {
            Value::String(v.to_owned())
        };
        o.insert(f.name.to_owned(), v);
    }
    Ok((!o.is_empty()).then_some(Value::Object(o)))
}

pub(super) async fn connect(
    State(s): State<AppState>,
    session: Session,
    Path(store): Path<String>,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let csrf = form.get("csrf").map_or("", String::as_str);
    let store = match session.store_form(&s, csrf, Need::Anyone, &store).await {
        Ok(st) => st,
        Err(r) => return r,
    };
    let Ok(kind) = ChannelKind::parse(form.get("kind").map_or("", String::as_str)) else {
        return connect_page(
            &session,
            &store,
            false,
            None,
            &form,
            StatusCode::UNPROCESSABLE_ENTITY,
            Some("Choose the kind of channel first."),
        );
    };
    let text = |k: &str| form.get(k).map_or("", |v| v.trim()).to_owned();
    let base_url = text("base_url");
    let done = match credentials_from(kind, &form) {
        Ok(credentials) => {
            let body = ChannelIn {
                name: text("name"),
                kind: kind.as_str().to_owned(),
                base_url: (!base_url.is_empty()).then_some(base_url),
                credentials,
                stock_rules: None,
                settings: None,
            };
            connect_channel(&s, &session.user.account_id, &store.id, body, None).await
        }
        Err(e) => Err(e),
    };
    match done {
        Ok(ch) => {
            tracing::info!(user = %session.user.id, channel = %ch.id, kind = %kind, "channel connected in the console");
            see_other(&format!("{}?done=connected", channel_path(&store, &ch)))
        }
        Err(e) => match say(&e) {
            Some(m) => connect_page(
                &session,
                &store,
                authorizable(&s, kind),
                Some(kind),
                &form,
                StatusCode::UNPROCESSABLE_ENTITY,
                Some(&m),
            ),
            None => internal(&e),
        },
    }
}
