//! Store pages: create, rename, delete, and a store's channels.

use axum::Form;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use maud::html;
use serde::Deserialize;
use switchyard_domain::ids::StoreId;
use switchyard_domain::values::check_text;
use switchyard_storage::{NewStore, PageRequest, StorageError, Store, StorePatch};

use super::pages::{failed, html_response, not_found, page};
use super::{Need, Session, see_other};
use crate::AppState;

/// Longest store name (as the API).
const NAME_MAX: usize = 200;

impl Session {
    /// The store, if this user reaches it: another account's store, or one
    /// outside a staff user's limit, is not found.
    pub(super) async fn store(&self, s: &AppState, id: &str) -> Result<Store, Response> {
        let Ok(id) = StoreId::parse(id) else {
            return Err(not_found().await);
        };
        if !self.user.reaches(&id) {
            return Err(not_found().await);
        }
        s.storage
            .get_store(&self.user.account_id, &id)
            .await
            .map_err(|e| failed(&e))
    }

    /// A form sent for one of this user's stores: its CSRF token (and who
    /// may send it) checked first, then the store.
    pub(super) async fn store_form(
        &self,
        s: &AppState,
        csrf: &str,
        need: Need,
        store: &str,
    ) -> Result<Store, Response> {
        self.accept(csrf, need)
            .map_err(IntoResponse::into_response)?;
        self.store(s, store).await
    }
}

async fn store_page(
    s: &AppState,
    session: &Session,
    store: &Store,
    status: StatusCode,
    error: Option<&str>,
) -> Response {
    let channels = match s
        .storage
        .list_channels(
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
        p.muted { "Store " code { (store.id) } " · created " (store.created_at.format("%Y-%m-%d %H:%M UTC")) }
        @if let Some(e) = error { p.error role="alert" { (e) } }
        p.links {
            a.more href={ "/console/stores/" (store.id) "/products" } { "Products and stock →" }
            a.more href={ "/console/stores/" (store.id) "/plugins" } { "Plugins →" }
            a.more href={ "/console/stores/" (store.id) "/plugin-rules" } { "Plugin rules →" }
            a.more href={ "/console/stores/" (store.id) "/webhooks" } { "Webhooks →" }
        }
        h2 { "Channels" }
        p { a.more href={ "/console/stores/" (store.id) "/channels/new" } { "Connect a channel →" } }
        @if channels.is_empty() {
            p.empty { "No channels yet." }
        } @else {
            table.channels {
                thead { tr { th { "Channel" } th { "Kind" } th { "Credentials" } th { "Last import" } th { "Health" } } }
                tbody {
                    @for c in &channels {
                        tr {
                            td { a href={ "/console/stores/" (store.id) "/channels/" (c.id) } { (c.name) } }
                            td { (c.kind.as_str()) }
                            td { @if c.has_credentials { "stored" } @else { span.muted { "none" } } }
                            td { @if let Some(t) = c.sync.last_import_at { (t.format("%Y-%m-%d %H:%M:%S")) } @else { span.muted { "never" } } }
                            td {
                                @if let Some(e) = &c.sync.last_error { span.bad title=(e) { "failing: " (e) } }
                                @else if c.sync.last_success_at.is_some() { span.good { "ok" } }
                                @else { span.muted { "not yet imported" } }
                            }
                        }
                    }
                }
            }
        }
        h2 { "Rename" }
        form.card method="post" action={ "/console/stores/" (store.id) "/rename" } {
            input type="hidden" name="csrf" value=(csrf);
            label { "Name" input type="text" name="name" value=(store.name) maxlength=(NAME_MAX) required; }
            button type="submit" { "Rename" }
        }
        @if session.user.stores.is_none() {
            h2 { "Delete" }
            form.card method="post" action={ "/console/stores/" (store.id) "/delete" } {
                input type="hidden" name="csrf" value=(csrf);
                p { "Deleting a store removes its channels, products and stock. A store with orders is kept unless you also delete its orders." }
                label.check { input type="checkbox" name="force" value="true"; " Also delete its orders" }
                button.danger type="submit" { "Delete store" }
            }
        }
    };
    html_response(status, page(&store.name, Some((&session.user, csrf)), body))
}

pub(super) async fn show(
    State(s): State<AppState>,
    session: Session,
    Path(id): Path<String>,
) -> Response {
    match session.store(&s, &id).await {
        Ok(store) => store_page(&s, &session, &store, StatusCode::OK, None).await,
        Err(r) => r,
    }
}

#[derive(Debug, Deserialize)]
pub(super) struct NameForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    name: String,
}

pub(super) async fn create(
    State(s): State<AppState>,
    session: Session,
    Form(f): Form<NameForm>,
) -> Response {
    if let Err(r) = session.accept(&f.csrf, Need::AccountWide) {
        return r.into_response();
    }
    let name = f.name.trim();
    if let Err(e) = check_text("name", name, NAME_MAX) {
        return super::pages::overview_with(
            &s,
            &session,
            StatusCode::UNPROCESSABLE_ENTITY,
            Some(&e.message),
        )
        .await;
    }
    match s
        .storage
        .create_store(
            &session.user.account_id,
            NewStore {
                name: name.to_owned(),
            },
        )
        .await
    {
        Ok(store) => {
            tracing::info!(user = %session.user.id, store = %store.id, "store created in the console");
            see_other(&format!("/console/stores/{}", store.id))
        }
        Err(e) => failed(&e),
    }
}

pub(super) async fn rename(
    State(s): State<AppState>,
    session: Session,
    Path(id): Path<String>,
    Form(f): Form<NameForm>,
) -> Response {
    let store = match session.store_form(&s, &f.csrf, Need::Anyone, &id).await {
        Ok(st) => st,
        Err(r) => return r,
    };
    let name = f.name.trim();
    if let Err(e) = check_text("name", name, NAME_MAX) {
        return store_page(
            &s,
            &session,
            &store,
            StatusCode::UNPROCESSABLE_ENTITY,
            Some(&e.message),
        )
        .await;
    }
    let patch = StorePatch {
        name: Some(name.to_owned()),
    };
    match s
        .storage
        .update_store(&session.user.account_id, &store.id, patch)
        .await
    {
        Ok(_) => see_other(&format!("/console/stores/{}", store.id)),
        Err(e) => failed(&e),
    }
}

#[derive(Debug, Deserialize)]
pub(super) struct DeleteForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    force: Option<String>,
}

pub(super) async fn delete(
    State(s): State<AppState>,
    session: Session,
    Path(id): Path<String>,
    Form(f): Form<DeleteForm>,
) -> Response {
    let store = match session
        .store_form(&s, &f.csrf, Need::AccountWide, &id)
        .await
    {
        Ok(st) => st,
        Err(r) => return r,
    };
    let force = f.force.as_deref() == Some("true");
    match s
        .storage
        .delete_store(&session.user.account_id, &store.id, force)
        .await
    {
        Ok(()) => {
            tracing::info!(user = %session.user.id, store = %store.id, force, "store deleted in the console");
            see_other("/console")
        }
        Err(StorageError::Conflict { message, .. }) => {
            store_page(&s, &session, &store, StatusCode::CONFLICT, Some(&message)).await
        }
        Err(e) => failed(&e),
    }
}
