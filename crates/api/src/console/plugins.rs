//! Plugins of a store (3PL fulfilment centres): connect one (its signing
//! secret shown once), its state, settings, secret and tokens, the orders
//! routed to it with their messages. Every change goes through the API's
//! own functions. The rules that route orders to them are edited in
//! `plugin_rules`.

use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use maud::{Markup, html};
use serde::Deserialize;
use switchyard_domain::ids::{OrderId, PluginId};
use switchyard_storage::{PageRequest, Plugin, Store};

use super::orders::plugin_messages;
use super::pages::{failed, html_response, internal, not_found, page};
use super::{Fields, Need, Session, say, see_other};
use crate::AppState;
use crate::error::ApiError;
use crate::routes::plugins::{
    PluginIn, PluginPatchIn, add_plugin, change_plugin, plugin_token, signing_secret,
};

/// Orders shown on a plugin's page.
const SHOWN: u32 = 100;

pub(super) fn plugins_path(store: &Store) -> String {
    format!("/console/stores/{}/plugins", store.id)
}

fn plugin_path(store: &Store, id: &PluginId) -> String {
    format!("{}/{id}", plugins_path(store))
}

pub(super) fn rules_path(store: &Store) -> String {
    format!("/console/stores/{}/plugin-rules", store.id)
}

fn state_of(p: &Plugin) -> Markup {
    html! {
        @if !p.enabled {
            span.bad { "disabled" } " " small.muted { "(orders wait)" }
        } @else if let Some(t) = p.failing_since {
            span.bad { "failing since " (t.format("%Y-%m-%d %H:%M")) }
        } @else {
            span.good { "enabled" }
        }
    }
}

pub(super) async fn plugins_of(
    s: &AppState,
    session: &Session,
    store: &Store,
) -> Result<Vec<Plugin>, Response> {
    s.storage
        .list_plugins(
            &session.user.account_id,
            &store.id,
            &PageRequest::first(100),
        )
        .await
        .map(|p| p.items)
        .map_err(|e| failed(&e))
}

async fn list_page(
    s: &AppState,
    session: &Session,
    store: &Store,
    status: StatusCode,
    error: Option<&str>,
) -> Response {
    let plugins = match plugins_of(s, session, store).await {
        Ok(p) => p,
        Err(r) => return r,
    };
    let csrf = &session.csrf;
    let body = html! {
        p.muted {
            "Store " a href={ "/console/stores/" (store.id) } { (store.name) }
            " · orders reach a plugin through the store's " a href=(rules_path(store)) { "plugin rules" } "."
        }
        @if let Some(e) = error { p.error role="alert" { (e) } }
        @if plugins.is_empty() { p.empty { "No plugins yet." } } @else {
            table.plugins {
                thead { tr { th { "Plugin" } th { "Sends to" } th { "State" } th { "Waiting messages" } } }
                tbody {
                    @for p in &plugins {
                        tr data-plugin=(p.id) {
                            td { a href=(plugin_path(store, &p.id)) { (p.name) } }
                            td { code { (p.url) } }
                            td { (state_of(p)) }
                            td { (p.pending_messages) }
                        }
                    }
                }
            }
        }
        h2 { "New plugin" }
        form.card.new-plugin method="post" action=(plugins_path(store)) {
            input type="hidden" name="csrf" value=(csrf);
            label { "Name" input type="text" name="name" required maxlength="100" placeholder="Warehouse Venlo"; }
            label { "URL orders are sent to" input type="url" name="url" required placeholder="https://3pl.example.com/switchyard"; }
            label.check { input type="checkbox" name="enabled" value="true" checked; " Send orders now (untick to let them wait)" }
            button type="submit" { "Add plugin" }
        }
    };
    html_response(status, page("Plugins", Some((&session.user, csrf)), body))
}

pub(super) async fn list(
    State(s): State<AppState>,
    session: Session,
    Path(store): Path<String>,
) -> Response {
    match session.store(&s, &store).await {
        Ok(store) => list_page(&s, &session, &store, StatusCode::OK, None).await,
        Err(r) => r,
    }
}

pub(super) async fn create(
    State(s): State<AppState>,
    session: Session,
    Path(store): Path<String>,
    Form(f): Form<Vec<(String, String)>>,
) -> Response {
    let f = Fields(f);
    let store = match session
        .store_form(&s, f.get("csrf"), Need::Anyone, &store)
        .await
    {
        Ok(st) => st,
        Err(r) => return r,
    };
    let body = PluginIn {
        name: f.get("name").to_owned(),
        url: f.get("url").to_owned(),
        enabled: Some(f.get("enabled") == "true"),
    };
    match add_plugin(&s, &session.user.account_id, &store.id, body).await {
        Ok(made) => {
            tracing::info!(user = %session.user.id, plugin = %made.plugin.id, "plugin added in the console");
            plugin_page(
                &s,
                &session,
                &store,
                &made.plugin,
                Shown {
                    status: Some(StatusCode::CREATED),
                    secret: Some((
                        "Plugin added. Its signing secret, to verify the orders it receives (Standard Webhooks):",
                        made.secret,
                    )),
                    ..Shown::default()
                },
            )
            .await
        }
        Err(e) => match say(&e) {
            Some(m) => list_page(&s, &session, &store, e.status(), Some(&m)).await,
            None => internal(&e),
        },
    }
}

/// What a plugin's page shows beside the plugin.
#[derive(Default)]
struct Shown<'a> {
    status: Option<StatusCode>,
    error: Option<&'a str>,
    notice: Option<&'a str>,
    /// A secret to copy now: a title and the value.
    secret: Option<(&'a str, String)>,
    /// Only orders with a message in this state.
    state: Option<String>,
    after: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
pub(super) struct PluginQuery {
    #[serde(default)]
    state: String,
    #[serde(default)]
    after: String,
    #[serde(default)]
    done: String,
}

/// The store and its plugin, if this user reaches both.
async fn reached(
    s: &AppState,
    session: &Session,
    store: &str,
    plugin: &str,
) -> Result<(Store, Plugin), Response> {
    let store = session.store(s, store).await?;
    let Ok(id) = PluginId::parse(plugin) else {
        return Err(not_found().await);
    };
    match s.storage.get_plugin(&session.user.account_id, &id).await {
        Ok(p) if p.store_id == store.id => Ok((store, p)),
        Ok(_) | Err(switchyard_storage::StorageError::NotFound { .. }) => Err(not_found().await),
        Err(e) => Err(failed(&e)),
    }
}

pub(super) async fn show(
    State(s): State<AppState>,
    session: Session,
    Path((store, plugin)): Path<(String, String)>,
    Query(q): Query<PluginQuery>,
) -> Response {
    let (store, plugin) = match reached(&s, &session, &store, &plugin).await {
        Ok(found) => found,
        Err(r) => return r,
    };
    let state = matches!(q.state.as_str(), "pending" | "delivered" | "skipped").then_some(q.state);
    let after = OrderId::parse(&q.after).is_ok().then_some(q.after);
    let notice = match q.done.as_str() {
        "saved" => Some("Plugin saved."),
        "resent" => Some("The order's waiting messages are being sent now."),
        _ => None,
    };
    plugin_page(
        &s,
        &session,
        &store,
        &plugin,
        Shown {
            notice,
            state,
            after,
            ..Shown::default()
        },
    )
    .await
}

async fn plugin_page(
    s: &AppState,
    session: &Session,
    store: &Store,
    p: &Plugin,
    shown: Shown<'_>,
) -> Response {
    let orders = match s
        .storage
        .list_plugin_orders(
            &session.user.account_id,
            &p.id,
            shown.state.as_deref(),
            &PageRequest {
                after: shown.after.clone(),
                limit: SHOWN,
            },
        )
        .await
    {
        Ok(o) => o,
        Err(e) => return failed(&e),
    };
    let csrf = &session.csrf;
    let base = plugin_path(store, &p.id);
    let act = |a: &str| format!("{base}/{a}");
    let filter = shown.state.clone().unwrap_or_default();
    let next = orders.next.as_ref().map(|n| {
        let mut url = form_urlencoded::Serializer::new(String::new());
        url.append_pair("state", &filter).append_pair("after", n);
        format!("{base}?{}", url.finish())
    });
    let body = html! {
        p.muted {
            "Store " a href={ "/console/stores/" (store.id) } { (store.name) }
            " · " a href=(plugins_path(store)) { "Plugins" }
            " · " a href=(rules_path(store)) { "Plugin rules" }
            " · " (state_of(p))
            " · " (p.pending_messages) " message(s) waiting"
        }
        @if let Some(e) = shown.error { p.error role="alert" { (e) } }
        @if let Some(n) = shown.notice { p.created role="status" { (n) } }
        @if let Some((title, secret)) = &shown.secret {
            div.created role="status" {
                p { (title) }
                input.secret type="text" readonly value=(secret) aria-label="Secret";
            }
        }
        div.actions {
            form.inline method="post" action=(act("secret")) {
                input type="hidden" name="csrf" value=(csrf);
                button.secondary type="submit" { "Show signing secret" }
            }
            @if session.user.role.manages_access() {
                form.inline method="post" action=(act("token")) {
                    input type="hidden" name="csrf" value=(csrf);
                    input type="text" name="name" required maxlength="100" placeholder="token label" aria-label="Token label";
                    button.secondary type="submit" { "Issue a plugin token" }
                }
            }
        }
        h2 { "Orders routed here" }
        p {
            @for (st, label) in [("", "all"), ("pending", "waiting"), ("delivered", "delivered"), ("skipped", "skipped")] {
                @if filter == st { strong { (label) } } @else { a href={ (base) @if !st.is_empty() { "?state=" (st) } } { (label) } }
                " "
            }
        }
        @if orders.items.is_empty() { p.empty { "No orders." } } @else {
            table.plugin-orders {
                thead { tr { th { "Order" } th { "State" } th { "Routed by" } th { "Messages" } th { "" } } }
                tbody {
                    @for o in &orders.items {
                        tr data-order=(o.order_id) {
                            td { a href={ "/console/orders/" (o.order_id) } { @if o.number.is_empty() { (o.order_id) } @else { (o.number) } } }
                            td { (o.state.replace('_', " ")) }
                            td { @if let Some(r) = &o.routed_by { (r) } }
                            td { (plugin_messages(&o.messages)) }
                            td {
                                @if o.messages.iter().any(|m| m.state == "pending") {
                                    form.inline method="post" action=(act("resend")) {
                                        input type="hidden" name="csrf" value=(csrf);
                                        input type="hidden" name="order" value=(o.order_id);
                                        button.secondary type="submit" { "Send now" }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        @if let Some(next) = next { p { a.more href=(next) { "Older orders →" } } }
        h2 { "Settings" }
        form.card.plugin-settings method="post" action=(act("settings")) {
            input type="hidden" name="csrf" value=(csrf);
            label { "Name" input type="text" name="name" required maxlength="100" value=(p.name); }
            label { "URL orders are sent to" input type="url" name="url" required value=(p.url); }
            label.check { input type="checkbox" name="enabled" value="true" checked[p.enabled]; " Send orders (while unticked, they wait)" }
            button type="submit" { "Save" }
        }
        form.inline method="post" action=(act("delete")) {
            input type="hidden" name="csrf" value=(csrf);
            button.danger type="submit" { "Delete plugin" }
        }
    };
    html_response(
        shown.status.unwrap_or(StatusCode::OK),
        page(
            &format!("Plugin {}", p.name),
            Some((&session.user, csrf)),
            body,
        ),
    )
}

/// Save settings, show the secret, issue a token, send an order now, or
/// delete, from a plugin's page.
pub(super) async fn act(
    State(s): State<AppState>,
    session: Session,
    Path((store, plugin, what)): Path<(String, String, String)>,
    Form(f): Form<Vec<(String, String)>>,
) -> Response {
    let f = Fields(f);
    let need = if what == "token" {
        Need::Owner
    } else {
        Need::Anyone
    };
    if let Err(r) = session.accept(f.get("csrf"), need) {
        return r.into_response();
    }
    let (store, p) = match reached(&s, &session, &store, &plugin).await {
        Ok(found) => found,
        Err(r) => return r,
    };
    let account = &session.user.account_id;
    let base = plugin_path(&store, &p.id);
    let answer: Result<Response, ApiError> = match what.as_str() {
        "settings" => {
            let patch = PluginPatchIn {
                name: Some(f.get("name").to_owned()),
                url: Some(f.get("url").to_owned()),
                enabled: Some(f.get("enabled") == "true"),
            };
            change_plugin(&s, account, &p.id, patch)
                .await
                .map(|_| see_other(&format!("{base}?done=saved")))
        }
        "secret" => match signing_secret(&s, account, &p.id).await {
            Ok(secret) => Ok(plugin_page(
                &s,
                &session,
                &store,
                &p,
                Shown {
                    secret: Some(("The signing secret of this plugin:", secret)),
                    ..Shown::default()
                },
            )
            .await),
            Err(e) => Err(e),
        },
        "token" => match plugin_token(&s, account, &p, f.get("name")).await {
            Ok(made) => Ok(plugin_page(
                &s,
                &session,
                &store,
                &p,
                Shown {
                    status: Some(StatusCode::CREATED),
                    secret: Some((
                        "The plugin's token, shown this once; it reaches only this plugin's routes:",
                        made.token,
                    )),
                    ..Shown::default()
                },
            )
            .await),
            Err(e) => Err(e),
        },
        "resend" => {
            let Ok(order) = OrderId::parse(f.get("order")) else {
                return not_found().await;
            };
            match s
                .storage
                .resend_plugin_order(account, &p.id, &order, chrono::Utc::now())
                .await
            {
                Ok(_) => {
                    s.wake.notify_one();
                    Ok(see_other(&format!("{base}?done=resent")))
                }
                Err(e) => Err(e.into()),
            }
        }
        "delete" => match s.storage.delete_plugin(account, &p.id).await {
            Ok(()) => Ok(see_other(&plugins_path(&store))),
            Err(e) => Err(e.into()),
        },
        _ => return not_found().await,
    };
    match answer {
        Ok(r) => {
            tracing::info!(user = %session.user.id, plugin = %p.id, action = %what, "plugin action in the console");
            r
        }
        Err(e) => match say(&e) {
            Some(m) => {
                plugin_page(
                    &s,
                    &session,
                    &store,
                    &p,
                    Shown {
                        status: Some(e.status()),
                        error: Some(&m),
                        ..Shown::default()
                    },
                )
                .await
            }
            None => internal(&e),
        },
    }
}
