//! Webhook pages of a store: subscriptions with their event selection,
//! the signing secret (shown when made, on request, and on rotation),
//! messages with their delivery state, the delivery log (status, latency,
//! the start of the answer), replays and a test event. Every change goes
//! through the API's own functions.

use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use maud::{Markup, html};
use serde::Deserialize;
use switchyard_domain::ids::{MessageId, WebhookId};
use switchyard_domain::webhook::EventType;
use switchyard_storage::{PageRequest, Store, WebhookEndpoint};

use super::pages::{failed, html_response, internal, not_found, page};
use super::{Fields, Need, Session, local_time, say, see_other};
use crate::AppState;
use crate::error::ApiError;
use crate::routes::webhooks::{
    ReplayIn, SecretOut, WebhookIn, WebhookPatchIn, change_webhook, queue_test, replay, rotate,
    secrets, subscribe,
};

/// Messages and attempts shown on an endpoint's page.
const SHOWN: u32 = 50;

fn events_picker(chosen: &[EventType]) -> Markup {
    html! {
        fieldset.events {
            legend { "Events " span.muted { "(none ticked: every event)" } }
            @for t in EventType::ALL {
                label.check { input type="checkbox" name="events" value=(t) checked[chosen.contains(&t)]; " " code { (t) } }
            }
        }
    }
}

fn endpoint_path(store: &Store, id: &WebhookId) -> String {
    format!("/console/stores/{}/webhooks/{id}", store.id)
}

/// A secret shown once, to copy.
fn secret_box(title: &str, out: &SecretOut) -> Markup {
    html! {
        div.created role="status" {
            p { (title) }
            input.secret type="text" readonly value=(out.secret) aria-label="Signing secret";
            @if let (Some(prev), Some(until)) = (&out.previous_secret, out.previous_valid_until) {
                p.muted { "The previous secret keeps signing until " (until.format("%Y-%m-%d %H:%M UTC")) ", beside the new one:" }
                input.secret type="text" readonly value=(prev) aria-label="Previous signing secret";
            }
        }
    }
}

async fn list_page(
    s: &AppState,
    session: &Session,
    store: &Store,
    status: StatusCode,
    error: Option<&str>,
) -> Response {
    let hooks = match s
        .storage
        .list_webhooks(
            &session.user.account_id,
            &store.id,
            &PageRequest::first(100),
        )
        .await
    {
        Ok(p) => p.items,
        Err(e) => return failed(&e),
    };
    let csrf = &session.csrf;
    let body = html! {
        p.muted { "Store " a href={ "/console/stores/" (store.id) } { (store.name) } " · messages are signed (Standard Webhooks) and retried for 5 days." }
        @if let Some(e) = error { p.error role="alert" { (e) } }
        @if hooks.is_empty() { p.empty { "No webhooks yet." } } @else {
            table.webhooks {
                thead { tr { th { "Endpoint" } th { "Events" } th { "State" } } }
                tbody {
                    @for h in &hooks {
                        tr data-webhook=(h.id) {
                            td { a href=(endpoint_path(store, &h.id)) { code { (h.url) } } @if let Some(d) = &h.description { br; small.muted { (d) } } }
                            td { @if h.events.is_empty() { "every event" } @else { @for (i, t) in h.events.iter().enumerate() { @if i > 0 { ", " } code { (t) } } } }
                            td { (state_of(h)) }
                        }
                    }
                }
            }
        }
        h2 { "New webhook" }
        form.card.new-webhook method="post" action={ "/console/stores/" (store.id) "/webhooks" } {
            input type="hidden" name="csrf" value=(csrf);
            label { "URL" input type="url" name="url" required placeholder="https://example.com/switchyard"; }
            label { span { "What it is for " span.muted { "(optional)" } } input type="text" name="description" maxlength="500"; }
            (events_picker(&[]))
            button type="submit" { "Add webhook" }
        }
    };
    html_response(status, page("Webhooks", Some((&session.user, csrf)), body))
}

fn state_of(h: &WebhookEndpoint) -> Markup {
    html! {
        @if !h.enabled {
            span.bad { "disabled" } @if let Some(r) = &h.disabled_reason { " " small.muted { (r) } }
        } @else if let Some(t) = h.failing_since {
            span.bad { "failing since " (t.format("%Y-%m-%d %H:%M")) }
        } @else {
            span.good { "enabled" }
        }
    }
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
    let body = WebhookIn {
        url: f.get("url").to_owned(),
        events: f.all("events"),
        description: f.optional("description"),
        enabled: Some(true),
    };
    match subscribe(&s, &session.user.account_id, &store.id, body).await {
        Ok(made) => {
            tracing::info!(user = %session.user.id, webhook = %made.webhook.id, "webhook added in the console");
            let out = SecretOut {
                secret: made.secret,
                previous_secret: None,
                previous_valid_until: None,
            };
            endpoint_page(
                &s,
                &session,
                &store,
                &made.webhook,
                Shown {
                    status: Some(StatusCode::CREATED),
                    secret: Some((
                        "Webhook added. Its signing secret, to verify the messages:",
                        &out,
                    )),
                    ..Shown::default()
                },
            )
            .await
        }
        Err(e) => match say(&e) {
            Some(m) => {
                list_page(
                    &s,
                    &session,
                    &store,
                    StatusCode::UNPROCESSABLE_ENTITY,
                    Some(&m),
                )
                .await
            }
            None => internal(&e),
        },
    }
}

#[derive(Default)]
struct Shown<'a> {
    status: Option<StatusCode>,
    error: Option<&'a str>,
    notice: Option<&'static str>,
    secret: Option<(&'a str, &'a SecretOut)>,
    state: Option<String>,
}

fn done_message(done: &str) -> Option<&'static str> {
    Some(match done {
        "saved" => "Webhook saved.",
        "test" => "Test event queued: it is sent within seconds.",
        "replayed" => "Message queued again, from the start of the retry schedule.",
        "replay" => "Messages queued again.",
        _ => return None,
    })
}

async fn endpoint_page(
    s: &AppState,
    session: &Session,
    store: &Store,
    h: &WebhookEndpoint,
    shown: Shown<'_>,
) -> Response {
    let account = &session.user.account_id;
    let messages = match s
        .storage
        .list_webhook_messages(
            account,
            &h.id,
            shown.state.as_deref(),
            &PageRequest::first(SHOWN),
        )
        .await
    {
        Ok(p) => p.items,
        Err(e) => return failed(&e),
    };
    let attempts = match s
        .storage
        .list_webhook_attempts(account, &h.id, None, &PageRequest::first(SHOWN))
        .await
    {
        Ok(p) => p.items,
        Err(e) => return failed(&e),
    };
    let csrf = &session.csrf;
    let base = endpoint_path(store, &h.id);
    let act = |a: &str| format!("{base}/{a}");
    let post = |a: &str, label: &str, class: &str| {
        html! {
            form.inline method="post" action=(act(a)) {
                input type="hidden" name="csrf" value=(csrf);
                button class=(class) type="submit" { (label) }
            }
        }
    };
    let body = html! {
        p.muted { "Store " a href={ "/console/stores/" (store.id) } { (store.name) } " · " a href={ "/console/stores/" (store.id) "/webhooks" } { "Webhooks" } " · " (state_of(h)) }
        @if let Some(e) = shown.error { p.error role="alert" { (e) } }
        @if let Some(n) = shown.notice { p.created role="status" { (n) } }
        @if let Some((title, out)) = shown.secret { (secret_box(title, out)) }
        div.actions {
            (post("test", "Send a test event", "secondary"))
            (post("secret", "Show signing secret", "secondary"))
            (post("rotate", "Rotate secret", "secondary"))
        }
        h2 { "Messages" }
        p {
            @for (state, label) in [("", "all"), ("pending", "pending"), ("succeeded", "succeeded"), ("failed", "failed")] {
                @if shown.state.as_deref().unwrap_or("") == state { strong { (label) } } @else { a href={ (base) @if !state.is_empty() { "?state=" (state) } } { (label) } }
                " "
            }
        }
        @if messages.is_empty() { p.empty { "No messages." } } @else {
            table.messages {
                thead { tr { th { "Event" } th { "At" } th { "State" } th { "Tries" } th { "Last answer" } th { "" } } }
                tbody {
                    @for m in &messages {
                        tr data-message=(m.message_id) {
                            td { code { (m.event_type) } details { summary { "payload" } pre { (serde_json::to_string_pretty(&m.payload).unwrap_or_default()) } } }
                            td { (m.created_at.format("%Y-%m-%d %H:%M:%S")) }
                            td { span class={ "sync sync-" (m.state) } { (m.state) } }
                            td { (m.attempts) }
                            td { @if let Some(st) = m.last_status { code { (st) } } " " @if let Some(e) = &m.last_error { span.bad { (e) } } }
                            td { (post(&format!("messages/{}/replay", m.message_id), "Send again", "secondary")) }
                        }
                    }
                }
            }
        }
        h2 { "Delivery log" }
        @if attempts.is_empty() { p.empty { "Nothing sent yet." } } @else {
            table.attempts {
                thead { tr { th { "Started" } th { "Message" } th { "Try" } th { "Status" } th { "Latency" } th { "Outcome" } th { "Answer" } } }
                tbody {
                    @for a in &attempts {
                        tr {
                            td { (a.started_at.format("%Y-%m-%d %H:%M:%S")) }
                            td { code { (a.message_id) } }
                            td { (a.attempt) }
                            td { @if let Some(st) = a.status { code { (st) } } @else { span.muted { "none" } } }
                            td { (a.latency_ms) " ms" }
                            td { (a.outcome) }
                            td {
                                @if let Some(e) = &a.error { span.bad { (e) } }
                                @if let Some(r) = &a.response { details { summary { "answer" } pre { (r) } } }
                            }
                        }
                    }
                }
            }
        }
        h2 { "Send again since" }
        form.card.replay method="post" action=(act("replay")) {
            input type="hidden" name="csrf" value=(csrf);
            label { "Since (UTC)" input type="datetime-local" name="since" required; }
            label.check { input type="checkbox" name="only_failed" value="true" checked; " Only messages not delivered" }
            button type="submit" { "Send again" }
        }
        h2 { "Settings" }
        form.card.settings method="post" action=(act("settings")) {
            input type="hidden" name="csrf" value=(csrf);
            label { "URL" input type="url" name="url" required value=(h.url); }
            label { span { "What it is for " span.muted { "(optional)" } } input type="text" name="description" maxlength="500" value=(h.description.as_deref().unwrap_or("")); }
            (events_picker(&h.events))
            label.check { input type="checkbox" name="enabled" value="true" checked[h.enabled]; " Enabled (enabling resumes pending messages)" }
            button type="submit" { "Save" }
        }
        h2 { "Delete" }
        form.card method="post" action=(act("delete")) {
            input type="hidden" name="csrf" value=(csrf);
            p { "Removes the webhook with its pending messages and its log." }
            button.danger type="submit" { "Delete webhook" }
        }
    };
    html_response(
        shown.status.unwrap_or(StatusCode::OK),
        page(
            &format!("Webhook {}", h.url),
            Some((&session.user, csrf)),
            body,
        ),
    )
}

/// A store and one of its webhooks, if this user reaches them.
async fn reached(
    s: &AppState,
    session: &Session,
    store: &str,
    id: &str,
) -> Result<(Store, WebhookEndpoint), Response> {
    let store = session.store(s, store).await?;
    let Ok(id) = WebhookId::parse(id) else {
        return Err(not_found().await);
    };
    match s.storage.get_webhook(&session.user.account_id, &id).await {
        Ok(h) if h.store_id == store.id => Ok((store, h)),
        Ok(_) => Err(not_found().await),
        Err(e) => Err(failed(&e)),
    }
}

#[derive(Debug, Default, Deserialize)]
pub(super) struct ShowQuery {
    #[serde(default)]
    done: String,
    #[serde(default)]
    state: String,
}

pub(super) async fn show(
    State(s): State<AppState>,
    session: Session,
    Path((store, id)): Path<(String, String)>,
    Query(q): Query<ShowQuery>,
) -> Response {
    let (store, h) = match reached(&s, &session, &store, &id).await {
        Ok(found) => found,
        Err(r) => return r,
    };
    let state = matches!(q.state.as_str(), "pending" | "succeeded" | "failed").then_some(q.state);
    let shown = Shown {
        notice: done_message(&q.done),
        state,
        ..Shown::default()
    };
    endpoint_page(&s, &session, &store, &h, shown).await
}

/// A form on a webhook's page: test, secret, rotate, replay, settings,
/// delete, or `messages/{id}/replay`.
pub(super) async fn act(
    State(s): State<AppState>,
    session: Session,
    Path((store, id, what)): Path<(String, String, String)>,
    Form(f): Form<Vec<(String, String)>>,
) -> Response {
    let f = Fields(f);
    if let Err(r) = session.accept(f.get("csrf"), Need::Anyone) {
        return r.into_response();
    }
    let (store, h) = match reached(&s, &session, &store, &id).await {
        Ok(found) => found,
        Err(r) => return r,
    };
    let account = &session.user.account_id;
    let base = endpoint_path(&store, &h.id);
    let done: Result<&str, ApiError> = match what.as_str() {
        "test" => queue_test(&s, account, &h).await.map(|_| "test"),
        "secret" => {
            tracing::info!(user = %session.user.id, webhook = %h.id, "webhook secret shown in the console");
            let out = secrets(&s, account, &h).await;
            return with_secret(&s, &session, &store, &h, "The signing secret:", out).await;
        }
        "rotate" => {
            tracing::info!(user = %session.user.id, webhook = %h.id, "webhook secret rotated in the console");
            let out = rotate(&s, account, &h.id).await;
            return with_secret(
                &s,
                &session,
                &store,
                &h,
                "Secret rotated. The new signing secret:",
                out,
            )
            .await;
        }
        "replay" => match local_time("since", f.get("since")).and_then(|t| {
            t.ok_or_else(|| {
                ApiError::field(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "invalid_since",
                    "since",
                    "say since when",
                )
            })
        }) {
            Ok(since) => replay(
                &s,
                account,
                &h.id,
                ReplayIn {
                    since,
                    only_failed: Some(f.get("only_failed") == "true"),
                },
            )
            .await
            .map(|_| "replay"),
            Err(e) => Err(e),
        },
        "settings" => change_webhook(
            &s,
            account,
            &h.id,
            WebhookPatchIn {
                url: Some(f.get("url").to_owned()),
                events: Some(f.all("events")),
                description: Some(f.optional("description")),
                enabled: Some(f.get("enabled") == "true"),
            },
        )
        .await
        .map(|_| "saved"),
        "delete" => {
            return match s.storage.delete_webhook(account, &h.id).await {
                Ok(()) => {
                    tracing::info!(user = %session.user.id, webhook = %h.id, "webhook deleted in the console");
                    see_other(&format!("/console/stores/{}/webhooks", store.id))
                }
                Err(e) => failed(&e),
            };
        }
        _ => return not_found().await,
    };
    match done {
        Ok(done) => see_other(&format!("{base}?done={done}")),
        Err(e) => match say(&e) {
            Some(m) => {
                let status = e.status();
                let shown = Shown {
                    status: Some(status),
                    error: Some(&m),
                    ..Shown::default()
                };
                endpoint_page(&s, &session, &store, &h, shown).await
            }
            None => internal(&e),
        },
    }
}

/// The endpoint's page with a secret to copy.
async fn with_secret(
    s: &AppState,
    session: &Session,
    store: &Store,
    h: &WebhookEndpoint,
    title: &str,
    out: Result<SecretOut, ApiError>,
) -> Response {
    match out {
        Ok(out) => {
            let shown = Shown {
                secret: Some((title, &out)),
                ..Shown::default()
            };
            endpoint_page(s, session, store, h, shown).await
        }
        Err(e) => internal(&e),
    }
}

/// Send one message again.
pub(super) async fn replay_one(
    State(s): State<AppState>,
    session: Session,
    Path((store, id, message)): Path<(String, String, String)>,
    Form(f): Form<Vec<(String, String)>>,
) -> Response {
    let f = Fields(f);
    if let Err(r) = session.accept(f.get("csrf"), Need::Anyone) {
        return r.into_response();
    }
    let (store, h) = match reached(&s, &session, &store, &id).await {
        Ok(found) => found,
        Err(r) => return r,
    };
    let Ok(message) = MessageId::parse(&message) else {
        return not_found().await;
    };
    match s
        .storage
        .replay_message(&session.user.account_id, &h.id, &message, Utc::now())
        .await
    {
        Ok(_) => see_other(&format!("{}?done=replayed", endpoint_path(&store, &h.id))),
        Err(e) => failed(&e),
    }
}
