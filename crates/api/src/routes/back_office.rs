//! The back-office order connection: a store names a webshop channel as the
//! back office its marketplace orders are created in; the orders' copies
//! there, with Resend and Handle manually for the ones that failed.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use chrono::Utc;
use serde::{Deserialize, Serialize};
use switchyard_domain::channel::ChannelKind;
use switchyard_domain::ids::{ChannelId, OrderId, StoreId};
use switchyard_storage::{
    BackOfficeOrder, BackOfficeSettings, BackOfficeState, DEFAULT_BACK_OFFICE_CHECK_SECS,
    DEFAULT_SHIP_WITHOUT_TRACKING_SECS,
};
use utoipa::{IntoParams, ToSchema};

use crate::AppState;
use crate::error::{ApiError, ErrorBody};
use crate::extract::{ApiJson, ApiPath, ApiQuery, Auth, PageQuery, encode_cursor, page_limit};

/// Kinds of channel that can be a back office.
const BACK_OFFICE_KINDS: [ChannelKind; 3] = [
    ChannelKind::Woocommerce,
    ChannelKind::Vendure,
    ChannelKind::Medusa,
];

/// A store's back office.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BackOfficeIn {
    /// The webshop channel (of this store) orders are created in.
    #[schema(value_type = String)]
    pub channel_id: ChannelId,
    /// How often sent orders are read back, in seconds (60 to 86400; default 300).
    pub check_interval_secs: Option<i64>,
    /// How long an order completed without track and trace waits before it
    /// counts as shipped without it, in seconds (default 10800: 3 hours).
    pub ship_without_tracking_after_secs: Option<i64>,
}

/// A store's back office (`null` when it names none).
#[derive(Debug, Serialize, ToSchema)]
pub struct BackOfficeOut {
    /// The setting.
    pub back_office: Option<BackOfficeSettings>,
}

/// Filters of the back-office orders list.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct BackOfficeOrdersQuery {
    /// Only this state (`pending`, `failed`, `manual`, `not_shipped`,
    /// `waiting`, `shipped`, `cancelled`).
    #[param(value_type = Option<switchyard_domain::back_office::BackOfficeState>)]
    pub state: Option<String>,
    /// Items per page (default 100, at most 1000).
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<u32>,
    /// Cursor of the previous page.
    #[param(min_length = 1)]
    pub cursor: Option<String>,
}

/// A page of back-office orders.
#[derive(Debug, Serialize, ToSchema)]
pub struct BackOfficeOrderList {
    /// Copies of orders in the back office, by order id.
    pub items: Vec<BackOfficeOrder>,
    /// Cursor of the next page.
    pub next_cursor: Option<String>,
}

/// The store's back office.
#[utoipa::path(get, path = "/v1/stores/{store_id}/back-office", tag = "back office",
    params(("store_id" = String, Path, description = "Store id")),
    responses((status = 200, body = BackOfficeOut), (status = 404, body = ErrorBody)))]
pub async fn get_back_office(
    State(s): State<AppState>,
    auth: Auth,
    ApiPath(store): ApiPath<StoreId>,
) -> Result<Json<BackOfficeOut>, ApiError> {
    auth.check_store(&store)?;
    Ok(Json(BackOfficeOut {
        back_office: s.storage.back_office(&auth.account_id, &store).await?,
    }))
}

/// Name the store's back office. From then on, orders imported from the
/// store's other channels are created in it, read back on the cadence, and
/// their shipping synced to the marketplace.
#[utoipa::path(put, path = "/v1/stores/{store_id}/back-office", tag = "back office", request_body = BackOfficeIn,
    params(("store_id" = String, Path, description = "Store id")),
    responses((status = 200, body = BackOfficeOut), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn put_back_office(
    State(s): State<AppState>,
    auth: Auth,
    ApiPath(store): ApiPath<StoreId>,
    ApiJson(body): ApiJson<BackOfficeIn>,
) -> Result<Json<BackOfficeOut>, ApiError> {
    auth.check_store(&store)?;
    // The store first: another account's store is not found (404).
    s.storage.back_office(&auth.account_id, &store).await?;
    let channel = s
        .storage
        .get_channel(&auth.account_id, &store, &body.channel_id)
        .await
        .map_err(|_| {
            ApiError::field(
                StatusCode::UNPROCESSABLE_ENTITY,
                "unknown_channel",
                "channel_id",
                "the back office must be a channel of this store",
            )
        })?;
    if !BACK_OFFICE_KINDS.contains(&channel.kind) {
        return Err(ApiError::field(
            StatusCode::UNPROCESSABLE_ENTITY,
            "unsupported_back_office",
            "channel_id",
            format!(
                "a {} channel cannot be a back office yet; supported: {}",
                channel.kind,
                BACK_OFFICE_KINDS.map(ChannelKind::as_str).join(", ")
            ),
        ));
    }
    let settings = BackOfficeSettings {
        channel_id: body.channel_id,
        check_interval_secs: body
            .check_interval_secs
            .unwrap_or(DEFAULT_BACK_OFFICE_CHECK_SECS),
        ship_without_tracking_after_secs: body
            .ship_without_tracking_after_secs
            .unwrap_or(DEFAULT_SHIP_WITHOUT_TRACKING_SECS),
        since: Utc::now(),
    };
    let back_office = s
        .storage
        .set_back_office(&auth.account_id, &store, Some(settings))
        .await?;
    s.wake.notify_one();
    Ok(Json(BackOfficeOut { back_office }))
}

/// Stop creating orders in a back office (orders already there are left alone).
#[utoipa::path(delete, path = "/v1/stores/{store_id}/back-office", tag = "back office",
    params(("store_id" = String, Path, description = "Store id")),
    responses((status = 200, body = BackOfficeOut), (status = 404, body = ErrorBody)))]
pub async fn delete_back_office(
    State(s): State<AppState>,
    auth: Auth,
    ApiPath(store): ApiPath<StoreId>,
) -> Result<Json<BackOfficeOut>, ApiError> {
    auth.check_store(&store)?;
    let back_office = s
        .storage
        .set_back_office(&auth.account_id, &store, None)
        .await?;
    Ok(Json(BackOfficeOut { back_office }))
}

/// The store's orders in its back office; `?state=failed` lists the ones
/// that need Resend or Handle manually.
#[utoipa::path(get, path = "/v1/stores/{store_id}/back-office/orders", tag = "back office",
    params(("store_id" = String, Path, description = "Store id"), BackOfficeOrdersQuery),
    responses((status = 200, body = BackOfficeOrderList), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn list_back_office_orders(
    State(s): State<AppState>,
    auth: Auth,
    ApiPath(store): ApiPath<StoreId>,
    ApiQuery(q): ApiQuery<BackOfficeOrdersQuery>,
) -> Result<Json<BackOfficeOrderList>, ApiError> {
    auth.check_store(&store)?;
    let state = q
        .state
        .as_deref()
        .map(|st| {
            BackOfficeState::parse(st).ok_or_else(|| {
                ApiError::field(
                    StatusCode::BAD_REQUEST,
                    "invalid_query",
                    "state",
                    "state is one of pending, failed, manual, not_shipped, waiting, shipped, cancelled",
                )
            })
        })
        .transpose()?;
    let page = PageQuery {
        limit: Some(page_limit(q.limit)?),
        cursor: q.cursor,
    }
    .to_request(|k| OrderId::parse(k).is_ok())?;
    let p = s
        .storage
        .list_back_office_orders(&auth.account_id, &store, state, &page)
        .await?;
    Ok(Json(BackOfficeOrderList {
        items: p.items,
        next_cursor: p.next.as_deref().map(encode_cursor),
    }))
}

/// Resend an order that failed to reach the back office (or was set to be
/// handled manually).
#[utoipa::path(post, path = "/v1/orders/{order_id}/back-office/resend", tag = "back office",
    params(("order_id" = String, Path, description = "Order id")),
    responses((status = 200, body = BackOfficeOrder), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn resend_back_office_order(
    State(s): State<AppState>,
    auth: Auth,
    ApiPath(id): ApiPath<OrderId>,
) -> Result<Json<BackOfficeOrder>, ApiError> {
    super::orders::load(&s, &auth, &id).await?;
    let row = s
        .storage
        .resend_back_office_order(&auth.account_id, &id)
        .await?;
    s.wake.notify_one();
    Ok(Json(row))
}

/// Stop sending an order to the back office: people handle it by hand (the
/// order is marked manual).
#[utoipa::path(post, path = "/v1/orders/{order_id}/back-office/manual", tag = "back office",
    params(("order_id" = String, Path, description = "Order id")),
    responses((status = 200, body = BackOfficeOrder), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn handle_back_office_manually(
    State(s): State<AppState>,
    auth: Auth,
    ApiPath(id): ApiPath<OrderId>,
) -> Result<Json<BackOfficeOrder>, ApiError> {
    super::orders::load(&s, &auth, &id).await?;
    Ok(Json(
        s.storage
            .handle_back_office_manually(&auth.account_id, &id)
            .await?,
    ))
}
