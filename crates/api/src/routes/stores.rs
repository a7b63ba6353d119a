//! Stores.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use switchyard_domain::ids::StoreId;
use switchyard_domain::values::check_text;
use switchyard_storage::{NewStore, Store, StorePatch};
use utoipa::{IntoParams, ToSchema};

use crate::AppState;
use crate::error::{ApiError, ErrorBody};
use crate::extract::{ApiJson, ApiPath, ApiQuery, Auth, PageQuery, encode_cursor};

/// A store.
#[derive(Debug, Serialize, ToSchema)]
pub struct StoreOut {
    /// Store id (`st_...`).
    pub id: String,
    /// Name.
    pub name: String,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// Last change.
    pub updated_at: DateTime<Utc>,
}

impl From<Store> for StoreOut {
    fn from(s: Store) -> Self {
        Self {
            id: s.id.to_string(),
            name: s.name,
            created_at: s.created_at,
            updated_at: s.updated_at,
        }
    }
}

/// A page of stores.
#[derive(Debug, Serialize, ToSchema)]
pub struct StoreList {
    /// Stores.
    pub items: Vec<StoreOut>,
    /// Pass as `cursor` for the next page; absent on the last page.
    pub next_cursor: Option<String>,
}

/// A store to create.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StoreIn {
    /// Name, 1–200 characters.
    #[schema(value_type = crate::text::Text200)]
    pub name: String,
}

/// Changes to a store.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StorePatchIn {
    /// New name.
    #[schema(value_type = Option<crate::text::Text200>)]
    #[serde(default, deserialize_with = "super::not_null")]
    #[schema(nullable = false)]
    pub name: Option<String>,
}

/// `?force=` of store deletion.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DeleteStoreQuery {
    /// Delete even though the store has orders (deletes them too).
    pub force: Option<bool>,
}

/// List stores (a store-scoped token sees only its own).
#[utoipa::path(get, path = "/v1/stores", tag = "stores", params(PageQuery),
    responses((status = 200, body = StoreList), (status = 400, body = ErrorBody)))]
pub async fn list_stores(
    State(s): State<AppState>,
    auth: Auth,
    ApiQuery(q): ApiQuery<PageQuery>,
) -> Result<Json<StoreList>, ApiError> {
    let page = q.to_request(|k| StoreId::parse(k).is_ok())?;
    let p = s
        .storage
        .list_stores(&auth.account_id, auth.store_scope.as_ref(), &page)
        .await?;
    Ok(Json(StoreList {
        items: p.items.into_iter().map(StoreOut::from).collect(),
        next_cursor: p.next.as_deref().map(encode_cursor),
    }))
}

/// Create a store.
#[utoipa::path(post, path = "/v1/stores", tag = "stores", request_body = StoreIn,
    responses((status = 201, body = StoreOut), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn create_store(
    State(s): State<AppState>,
    auth: Auth,
    ApiJson(body): ApiJson<StoreIn>,
) -> Result<(StatusCode, Json<StoreOut>), ApiError> {
    auth.require_account_wide("create stores")?;
    check_text("name", &body.name, 200)?;
    let store = s
        .storage
        .create_store(&auth.account_id, NewStore { name: body.name })
        .await?;
    Ok((StatusCode::CREATED, Json(store.into())))
}

/// Get a store.
#[utoipa::path(get, path = "/v1/stores/{store_id}", tag = "stores",
    params(("store_id" = String, Path, description = "Store id")),
    responses((status = 200, body = StoreOut), (status = 404, body = ErrorBody)))]
pub async fn get_store(
    State(s): State<AppState>,
    auth: Auth,
    ApiPath(id): ApiPath<StoreId>,
) -> Result<Json<StoreOut>, ApiError> {
    auth.check_store(&id)?;
    Ok(Json(
        s.storage.get_store(&auth.account_id, &id).await?.into(),
    ))
}

/// Change a store.
#[utoipa::path(patch, path = "/v1/stores/{store_id}", tag = "stores", request_body = StorePatchIn,
    params(("store_id" = String, Path, description = "Store id")),
    responses((status = 200, body = StoreOut), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn update_store(
    State(s): State<AppState>,
    auth: Auth,
    ApiPath(id): ApiPath<StoreId>,
    ApiJson(body): ApiJson<StorePatchIn>,
) -> Result<Json<StoreOut>, ApiError> {
    auth.check_store(&id)?;
    if let Some(n) = &body.name {
        check_text("name", n, 200)?;
    }
    let store = s
        .storage
        .update_store(&auth.account_id, &id, StorePatch { name: body.name })
        .await?;
    Ok(Json(store.into()))
}

/// Delete a store and everything in it. Refused (409 `store_has_orders`)
/// while it has orders, unless `force=true`.
#[utoipa::path(delete, path = "/v1/stores/{store_id}", tag = "stores",
    params(("store_id" = String, Path, description = "Store id"), DeleteStoreQuery),
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn delete_store(
    State(s): State<AppState>,
    auth: Auth,
    ApiPath(id): ApiPath<StoreId>,
    ApiQuery(q): ApiQuery<DeleteStoreQuery>,
) -> Result<StatusCode, ApiError> {
    auth.check_store(&id)?;
    auth.require_account_wide("delete stores")?;
    s.storage
        .delete_store(&auth.account_id, &id, q.force.unwrap_or(false))
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
