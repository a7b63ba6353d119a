//! Accounting connections: a store's Xero or Sage, with sealed credentials
//! and settings; each issued invoice and credit note is booked there, with
//! its sync state visible and retryable by hand.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use switchyard_domain::accounting::{AccountingKind, AccountingSettings, SyncState};
use switchyard_domain::ids::{AccountingId, InvoiceId, StoreId};
use switchyard_storage::{AccountingConnection, AccountingPatch, DocumentSync, NewAccounting};
use utoipa::{IntoParams, ToSchema};

use super::destination::check_destination;
use crate::AppState;
use crate::error::{ApiError, ErrorBody};
use crate::extract::{ApiJson, ApiPath, ApiQuery, Auth, PageQuery, encode_cursor, page_limit};

/// The credentials of an app connected to the package.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AccountingCredentialsIn {
    /// The app's client id.
    pub client_id: String,
    /// The app's client secret.
    #[serde(serialize_with = "switchyard_connectors::secret::serialize")]
    #[schema(value_type = String)]
    pub client_secret: SecretString,
    /// A refresh token the organisation or business granted the app (it
    /// rotates with each use; Switchyard keeps the current one).
    #[serde(serialize_with = "switchyard_connectors::secret::serialize")]
    #[schema(value_type = String)]
    pub refresh_token: SecretString,
    /// Xero's tenant id or Sage's business id; looked up when absent.
    pub tenant: Option<String>,
}

/// A new accounting connection.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AccountingIn {
    /// `xero` or `sage`.
    #[schema(value_type = switchyard_domain::accounting::AccountingKind)]
    pub kind: String,
    /// A name people see (default: the package's).
    pub name: Option<String>,
    /// Where the package is reached, when not its usual host (a simulator).
    pub base_url: Option<String>,
    /// The app's credentials (sealed at rest, never answered).
    pub credentials: AccountingCredentialsIn,
    /// `sales_account`, `shipping_account`, `tax_rates` (basis points →
    /// the package's tax code), `contact_match` (`email`, `name`) and
    /// `post_as` (`approved`, `draft`).
    pub settings: AccountingSettings,
}

/// Changes to a connection.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AccountingPatchIn {
    /// New name.
    #[serde(default, deserialize_with = "super::not_null")]
    #[schema(nullable = false)]
    pub name: Option<String>,
    /// New settings.
    #[serde(default, deserialize_with = "super::not_null")]
    #[schema(nullable = false)]
    pub settings: Option<AccountingSettings>,
    /// New credentials (for a connection whose refresh token was refused);
    /// documents waiting for the connection are sent again.
    #[serde(default, deserialize_with = "super::not_null")]
    #[schema(nullable = false)]
    pub credentials: Option<AccountingCredentialsIn>,
}

/// An accounting connection (never its credentials).
#[derive(Debug, Serialize, ToSchema)]
pub struct AccountingOut {
    /// Id.
    #[schema(value_type = String)]
    pub id: AccountingId,
    /// Store.
    #[schema(value_type = String)]
    pub store_id: StoreId,
    /// `xero` or `sage`.
    #[schema(value_type = switchyard_domain::accounting::AccountingKind)]
    pub kind: String,
    /// Name.
    pub name: String,
    /// Where the package is reached, when not its usual host.
    pub base_url: Option<String>,
    /// Settings.
    pub settings: AccountingSettings,
    /// Xero's organisation or Sage's business, once looked up.
    pub tenant: Option<String>,
    /// What stops the connection as a whole (credentials refused, the
    /// package away), if anything.
    pub last_error: Option<String>,
    /// Made.
    pub created_at: DateTime<Utc>,
    /// Changed.
    pub updated_at: DateTime<Utc>,
}

impl From<AccountingConnection> for AccountingOut {
    fn from(c: AccountingConnection) -> Self {
        Self {
            id: c.id,
            store_id: c.store_id,
            kind: c.kind.as_str().to_owned(),
            name: c.name,
            base_url: c.base_url,
            settings: c.settings,
            tenant: c.tenant,
            last_error: c.last_error,
            created_at: c.created_at,
            updated_at: c.updated_at,
        }
    }
}

/// A document's sync to one connection.
#[derive(Debug, Serialize, ToSchema)]
pub struct SyncOut {
    /// The invoice or credit note.
    #[schema(value_type = String)]
    pub invoice_id: InvoiceId,
    /// The connection.
    #[schema(value_type = String)]
    pub connection_id: AccountingId,
    /// `xero` or `sage`.
    #[schema(value_type = switchyard_domain::accounting::AccountingKind)]
    pub kind: String,
    /// `pending`, `synced` or `failed`.
    #[schema(value_type = switchyard_domain::accounting::SyncState)]
    pub state: String,
    /// The package's id of the document.
    pub remote_id: Option<String>,
    /// The package's number of it.
    pub remote_number: Option<String>,
    /// Attempts so far.
    pub attempts: i64,
    /// The last failure, in the package's words where it gave some.
    pub last_error: Option<String>,
    /// When the next attempt is due.
    pub next_at: Option<DateTime<Utc>>,
    /// When it was booked.
    pub synced_at: Option<DateTime<Utc>>,
    /// Last changed.
    pub updated_at: DateTime<Utc>,
}

impl From<DocumentSync> for SyncOut {
    fn from(s: DocumentSync) -> Self {
        Self {
            invoice_id: s.invoice_id,
            connection_id: s.connection_id,
            kind: s.kind.as_str().to_owned(),
            state: s.state.as_str().to_owned(),
            remote_id: s.remote_id,
            remote_number: s.remote_number,
            attempts: s.attempts,
            last_error: s.last_error,
            next_at: s.next_at,
            synced_at: s.synced_at,
            updated_at: s.updated_at,
        }
    }
}

/// A store's connections.
#[derive(Debug, Serialize, ToSchema)]
pub struct AccountingList {
    /// By id.
    pub items: Vec<AccountingOut>,
}

/// A page of syncs.
#[derive(Debug, Serialize, ToSchema)]
pub struct SyncList {
    /// Newest document first.
    pub items: Vec<SyncOut>,
    /// Cursor of the next page.
    pub next_cursor: Option<String>,
}

/// Filters of a connection's syncs.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct SyncQuery {
    /// `pending`, `synced` or `failed`.
    #[param(value_type = Option<switchyard_domain::accounting::SyncState>)]
    pub state: Option<String>,
    /// Page size (1–1000, default 100).
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<u32>,
    /// Cursor from the previous page.
    #[param(min_length = 1)]
    pub cursor: Option<String>,
}

fn bad(field: &str, message: impl Into<String>) -> ApiError {
    ApiError::field(
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_accounting",
        field,
        message,
    )
}

fn check_credentials(c: &AccountingCredentialsIn) -> Result<(), ApiError> {
    for (field, v) in [
        ("client_id", c.client_id.as_str()),
        ("client_secret", c.client_secret.expose_secret()),
        ("refresh_token", c.refresh_token.expose_secret()),
    ] {
        if v.trim().is_empty() || v.len() > 4096 {
            return Err(bad(
                &format!("credentials.{field}"),
                format!("{field} is required (at most 4096 characters)"),
            ));
        }
    }
    Ok(())
}

fn check_name(name: &str) -> Result<(), ApiError> {
    if name.trim().is_empty() || name.chars().count() > 100 {
        return Err(bad("name", "a name is 1–100 characters"));
    }
    Ok(())
}

fn seal(
    s: &AppState,
    auth: &Auth,
    id: &AccountingId,
    c: &AccountingCredentialsIn,
) -> Result<Vec<u8>, ApiError> {
    let bytes = serde_json::to_vec(c).map_err(ApiError::internal)?;
    s.cipher
        .seal_for(&auth.account_id, id.as_str(), &bytes)
        .map_err(ApiError::internal)
}

/// Connect a store to Xero or Sage. Every invoice and credit note issued
/// from then on is booked there. 409 `accounting_exists` when the store is
/// connected to that package already.
#[utoipa::path(post, path = "/v1/stores/{store_id}/accounting", tag = "accounting", request_body = AccountingIn,
    params(("store_id" = String, Path, description = "Store id")),
    responses((status = 201, body = AccountingOut), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn create_accounting(
    State(s): State<AppState>,
    auth: Auth,
    ApiPath(store): ApiPath<StoreId>,
    ApiJson(body): ApiJson<AccountingIn>,
) -> Result<(StatusCode, Json<AccountingOut>), ApiError> {
    auth.check_store(&store)?;
    let kind = AccountingKind::parse(&body.kind)?;
    let name = body.name.unwrap_or_else(|| match kind {
        AccountingKind::Xero => "Xero".to_owned(),
        AccountingKind::Sage => "Sage".to_owned(),
    });
    check_name(&name)?;
    check_credentials(&body.credentials)?;
    body.settings.validate()?;
    let base_url = body
        .base_url
        .as_deref()
        .map(|u| check_destination(&s, "base_url", u))
        .transpose()?;
    let id = AccountingId::generate();
    let credentials = seal(&s, &auth, &id, &body.credentials)?;
    let c = s
        .storage
        .create_accounting(
            &auth.account_id,
            &store,
            NewAccounting {
                id,
                kind,
                name,
                base_url,
                credentials,
                settings: body.settings,
            },
        )
        .await?;
    Ok((StatusCode::CREATED, Json(c.into())))
}

/// A store's accounting connections.
#[utoipa::path(get, path = "/v1/stores/{store_id}/accounting", tag = "accounting",
    params(("store_id" = String, Path, description = "Store id")),
    responses((status = 200, body = AccountingList), (status = 404, body = ErrorBody)))]
pub async fn list_accounting(
    State(s): State<AppState>,
    auth: Auth,
    ApiPath(store): ApiPath<StoreId>,
) -> Result<Json<AccountingList>, ApiError> {
    auth.check_store(&store)?;
    let items = s.storage.list_accountings(&auth.account_id, &store).await?;
    Ok(Json(AccountingList {
        items: items.into_iter().map(Into::into).collect(),
    }))
}

async fn load(
    s: &AppState,
    auth: &Auth,
    id: &AccountingId,
) -> Result<AccountingConnection, ApiError> {
    let c = s.storage.get_accounting(&auth.account_id, id).await?;
    auth.check_store(&c.store_id)
        .map_err(|_| ApiError::not_found("accounting connection"))?;
    Ok(c)
}

/// One accounting connection, with what stops it if anything.
#[utoipa::path(get, path = "/v1/accounting/{accounting_id}", tag = "accounting",
    params(("accounting_id" = String, Path, description = "Accounting connection id")),
    responses((status = 200, body = AccountingOut), (status = 404, body = ErrorBody)))]
pub async fn get_accounting(
    State(s): State<AppState>,
    auth: Auth,
    ApiPath(id): ApiPath<AccountingId>,
) -> Result<Json<AccountingOut>, ApiError> {
    Ok(Json(load(&s, &auth, &id).await?.into()))
}

/// Change a connection's name, settings or credentials.
#[utoipa::path(patch, path = "/v1/accounting/{accounting_id}", tag = "accounting", request_body = AccountingPatchIn,
    params(("accounting_id" = String, Path, description = "Accounting connection id")),
    responses((status = 200, body = AccountingOut), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn update_accounting(
    State(s): State<AppState>,
    auth: Auth,
    ApiPath(id): ApiPath<AccountingId>,
    ApiJson(body): ApiJson<AccountingPatchIn>,
) -> Result<Json<AccountingOut>, ApiError> {
    load(&s, &auth, &id).await?;
    if let Some(n) = &body.name {
        check_name(n)?;
    }
    if let Some(st) = &body.settings {
        st.validate()?;
    }
    let credentials = match &body.credentials {
        Some(c) => {
            check_credentials(c)?;
            Some(seal(&s, &auth, &id, c)?)
        }
        None => None,
    };
    let c = s
        .storage
        .update_accounting(
            &auth.account_id,
            &id,
            AccountingPatch {
                name: body.name,
                settings: body.settings,
                credentials,
            },
        )
        .await?;
    s.wake.notify_one();
    Ok(Json(c.into()))
}

/// Disconnect a package (what it has booked stays there).
#[utoipa::path(delete, path = "/v1/accounting/{accounting_id}", tag = "accounting",
    params(("accounting_id" = String, Path, description = "Accounting connection id")),
    responses((status = 204), (status = 404, body = ErrorBody)))]
pub async fn delete_accounting(
    State(s): State<AppState>,
    auth: Auth,
    ApiPath(id): ApiPath<AccountingId>,
) -> Result<StatusCode, ApiError> {
    load(&s, &auth, &id).await?;
    s.storage.delete_accounting(&auth.account_id, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A connection's document syncs, newest document first.
#[utoipa::path(get, path = "/v1/accounting/{accounting_id}/syncs", tag = "accounting",
    params(("accounting_id" = String, Path, description = "Accounting connection id"), SyncQuery),
    responses((status = 200, body = SyncList), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn list_syncs(
    State(s): State<AppState>,
    auth: Auth,
    ApiPath(id): ApiPath<AccountingId>,
    ApiQuery(q): ApiQuery<SyncQuery>,
) -> Result<Json<SyncList>, ApiError> {
    load(&s, &auth, &id).await?;
    let page = PageQuery {
        limit: Some(page_limit(q.limit)?),
        cursor: q.cursor,
    }
    .to_request(|k| InvoiceId::parse(k).is_ok())?;
    let state = q.state.as_deref().map(SyncState::parse).transpose()?;
    let p = s
        .storage
        .list_syncs(&auth.account_id, &id, state, &page)
        .await?;
    Ok(Json(SyncList {
        items: p.items.into_iter().map(Into::into).collect(),
        next_cursor: p.next.as_deref().map(encode_cursor),
    }))
}

/// Send a document to a connection again now (after the package refused
/// it, or to hurry a retry). 409 `already_synced` when it is booked.
#[utoipa::path(post, path = "/v1/invoices/{invoice_id}/syncs/{accounting_id}/retry", tag = "accounting",
    params(("invoice_id" = String, Path, description = "Invoice or credit note id"), ("accounting_id" = String, Path, description = "Accounting connection id")),
    responses((status = 200, body = SyncOut), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn retry_sync(
    State(s): State<AppState>,
    auth: Auth,
    ApiPath((invoice, id)): ApiPath<(InvoiceId, AccountingId)>,
) -> Result<Json<SyncOut>, ApiError> {
    load(&s, &auth, &id).await?;
    let sync = s
        .storage
        .retry_sync(&auth.account_id, &invoice, &id, Utc::now())
        .await?;
    s.wake.notify_one();
    Ok(Json(sync.into()))
}

/// A document's syncs, for the invoice's answer.
pub(crate) async fn syncs_of(
    s: &AppState,
    auth: &Auth,
    invoice: &InvoiceId,
) -> Result<Vec<SyncOut>, ApiError> {
    Ok(s.storage
        .document_syncs(&auth.account_id, invoice)
        .await?
        .into_iter()
        .map(Into::into)
        .collect())
}
