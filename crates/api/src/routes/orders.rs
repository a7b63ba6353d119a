//! Orders imported from channels: list with filters, read one with its
//! lines, channel payload and journal, and the actions people take on
//! them (hold / release, cancel, "handle manually").

use axum::Json;
use axum::extract::State;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use switchyard_domain::ids::{ChannelId, OrderId, StoreId};
use switchyard_domain::order::OrderState;
use switchyard_domain::values::check_text;
use switchyard_storage::{
    BackOfficeOrder, FulfilmentRecord, JournalEvent, OrderAction, OrderFilter, OrderRecord,
};
use utoipa::{IntoParams, ToSchema};

use crate::AppState;
use crate::error::{ApiError, ErrorBody};
use crate::extract::{ApiJson, ApiPath, ApiQuery, Auth, PageQuery, encode_cursor, page_limit};

/// Filters of the orders list.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct OrdersQuery {
    /// Only this store.
    pub store_id: Option<String>,
    /// Only this channel.
    pub channel_id: Option<String>,
    /// Only this state (`open`, `on_hold`, `excluded`, `cancelled`, `partially_fulfilled`, `fulfilled`).
    #[param(value_type = Option<switchyard_domain::order::OrderState>)]
    pub state: Option<String>,
    /// Changed at or after (RFC 3339).
    pub updated_since: Option<DateTime<Utc>>,
    /// Having a line with this SKU.
    pub sku: Option<String>,
    /// Shipping to this country (ISO alpha-2).
    pub country: Option<String>,
    /// Order number, customer name or email containing this text.
    #[param(value_type = Option<crate::text::Text200>)]
    pub q: Option<String>,
    /// Items per page (default 100, at most 1000).
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<u32>,
    /// Cursor of the previous page.
    #[param(min_length = 1)]
    pub cursor: Option<String>,
}

/// A page of orders.
#[derive(Debug, Serialize, ToSchema)]
pub struct OrderList {
    /// Orders, oldest first (without the channel payload).
    pub items: Vec<OrderRecord>,
    /// Cursor of the next page.
    pub next_cursor: Option<String>,
}

/// One order with its journal.
#[derive(Debug, Serialize, ToSchema)]
pub struct OrderOut {
    /// The order: state, flags, the unified order, lines, the channel payload.
    #[serde(flatten)]
    pub order: OrderRecord,
    /// Lines that map to no product (no SKU, like a "Gift wrapping" fee,
    /// or a SKU the store does not have): they commit no stock. Each is
    /// flagged in `unified.lines[].flags`; the channel's
    /// `order_filters.unmapped_lines: "hold"` holds such orders.
    pub unmapped_lines: usize,
    /// Its shipments and where each stands on the channel.
    pub fulfilments: Vec<FulfilmentRecord>,
    /// Its copy in the store's back office, when it has one: state,
    /// reference and status there.
    pub back_office: Option<BackOfficeOrder>,
    /// Its journal events, oldest first.
    pub journal: Vec<JournalEvent>,
}

async fn order_out(s: &AppState, auth: &Auth, order: OrderRecord) -> Result<OrderOut, ApiError> {
    let id = order.id.clone();
    Ok(OrderOut {
        fulfilments: s.storage.list_fulfilments(&auth.account_id, &id).await?,
        back_office: s.storage.back_office_order(&auth.account_id, &id).await?,
        journal: s.storage.order_events(&auth.account_id, &id).await?,
        unmapped_lines: order
            .unified
            .as_ref()
            .map_or(0, switchyard_domain::order::UnifiedOrder::unmapped_lines),
        order,
    })
}

fn parse_id<T>(
    field: &str,
    v: Option<String>,
    parse: impl Fn(&str) -> Result<T, switchyard_domain::DomainError>,
) -> Result<Option<T>, ApiError> {
    v.map(|s| {
        parse(&s).map_err(|e| {
            ApiError::field(
                axum::http::StatusCode::BAD_REQUEST,
                "invalid_query",
                field,
                e.message,
            )
        })
    })
    .transpose()
}

/// List orders, filtered and paged.
#[utoipa::path(get, path = "/v1/orders", tag = "orders", params(OrdersQuery),
    responses((status = 200, body = OrderList), (status = 400, body = ErrorBody)))]
pub async fn list_orders(
    State(s): State<AppState>,
    auth: Auth,
    ApiQuery(q): ApiQuery<OrdersQuery>,
) -> Result<Json<OrderList>, ApiError> {
    let mut store_id = parse_id("store_id", q.store_id, StoreId::parse)?;
    if let Some(scope) = &auth.store_scope {
        if store_id.as_ref().is_some_and(|s| s != scope) {
            return Err(ApiError::not_found("store"));
        }
        store_id = Some(scope.clone());
    }
    let state = parse_id("state", q.state, OrderState::parse)?;
    if let Some(c) = &q.country
        && (c.len() != 2 || !c.bytes().all(|b| b.is_ascii_uppercase()))
    {
        return Err(ApiError::field(
            axum::http::StatusCode::BAD_REQUEST,
            "invalid_query",
            "country",
            "country must be an ISO 3166-1 alpha-2 code in upper case",
        ));
    }
    if let Some(text) = &q.q {
        check_text("q", text, 200)?;
    }
    let filter = OrderFilter {
        store_id,
        channel_id: parse_id("channel_id", q.channel_id, ChannelId::parse)?,
        state,
        updated_since: q.updated_since,
        sku: q.sku,
        country: q.country,
        q: q.q,
        newest_first: false,
    };
    let page = PageQuery {
        limit: Some(page_limit(q.limit)?),
        cursor: q.cursor,
    }
    .to_request(|k| OrderId::parse(k).is_ok())?;
    let p = s
        .storage
        .list_orders(&auth.account_id, &filter, &page)
        .await?;
    Ok(Json(OrderList {
        items: p.items,
        next_cursor: p.next.as_deref().map(encode_cursor),
    }))
}

/// The order, if the caller's token reaches its store (404 otherwise).
pub(crate) async fn load(s: &AppState, auth: &Auth, id: &OrderId) -> Result<OrderRecord, ApiError> {
    let o = s.storage.get_order(&auth.account_id, id).await?;
    auth.check_store(&o.store_id)
        .map_err(|_| ApiError::not_found("order"))?;
    Ok(o)
}

/// One order: lines, the unified order, the raw channel payload and its journal.
#[utoipa::path(get, path = "/v1/orders/{order_id}", tag = "orders",
    params(("order_id" = String, Path, description = "Order id")),
    responses((status = 200, body = OrderOut), (status = 404, body = ErrorBody)))]
pub async fn get_order(
    State(s): State<AppState>,
    auth: Auth,
    ApiPath(id): ApiPath<OrderId>,
) -> Result<Json<OrderOut>, ApiError> {
    let order = load(&s, &auth, &id).await?;
    Ok(Json(order_out(&s, &auth, order).await?))
}

async fn act(
    s: &AppState,
    auth: &Auth,
    id: &OrderId,
    action: OrderAction,
) -> Result<Json<OrderOut>, ApiError> {
    load(s, auth, id).await?;
    let order = s.storage.act_on_order(&auth.account_id, id, action).await?;
    s.wake.notify_one();
    Ok(Json(order_out(s, auth, order).await?))
}

/// Why an order is held.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct HoldIn {
    /// Reason, shown with the order.
    #[schema(value_type = crate::text::Text500)]
    pub reason: String,
}

/// Put an open order on hold. Its stock stays committed; it is not routed.
#[utoipa::path(post, path = "/v1/orders/{order_id}/hold", tag = "orders", request_body = HoldIn,
    params(("order_id" = String, Path, description = "Order id")),
    responses((status = 200, body = OrderOut), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn hold_order(
    State(s): State<AppState>,
    auth: Auth,
    ApiPath(id): ApiPath<OrderId>,
    ApiJson(body): ApiJson<HoldIn>,
) -> Result<Json<OrderOut>, ApiError> {
    check_text("reason", &body.reason, 500)?;
    act(&s, &auth, &id, OrderAction::Hold(body.reason)).await
}

/// Release a held order.
#[utoipa::path(post, path = "/v1/orders/{order_id}/release", tag = "orders",
    params(("order_id" = String, Path, description = "Order id")),
    responses((status = 200, body = OrderOut), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn release_order(
    State(s): State<AppState>,
    auth: Auth,
    ApiPath(id): ApiPath<OrderId>,
) -> Result<Json<OrderOut>, ApiError> {
    act(&s, &auth, &id, OrderAction::Release).await
}

/// Why an order is cancelled.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CancelIn {
    /// Reason.
    #[schema(value_type = Option<crate::text::Text500>)]
    pub reason: Option<String>,
}

/// Cancel an order in Switchyard: its stock is released and pushed to
/// every channel. Refused once it has shipped.
#[utoipa::path(post, path = "/v1/orders/{order_id}/cancel", tag = "orders", request_body = CancelIn,
    params(("order_id" = String, Path, description = "Order id")),
    responses((status = 200, body = OrderOut), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn cancel_order(
    State(s): State<AppState>,
    auth: Auth,
    ApiPath(id): ApiPath<OrderId>,
    body: axum::body::Bytes,
) -> Result<Json<OrderOut>, ApiError> {
    // The body is optional: an empty one cancels without a reason.
    let reason = if body.iter().all(u8::is_ascii_whitespace) {
        None
    } else {
        crate::extract::parse_json::<CancelIn>(&body)?.reason
    };
    if let Some(r) = &reason {
        check_text("reason", r, 500)?;
    }
    act(&s, &auth, &id, OrderAction::Cancel(reason)).await
}

/// Mark whether people handle the order by hand.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ManualIn {
    /// `true` to mark "handle manually", `false` to clear it.
    pub manual: bool,
}

/// Mark an order "handle manually" (or clear the mark).
#[utoipa::path(post, path = "/v1/orders/{order_id}/manual", tag = "orders", request_body = ManualIn,
    params(("order_id" = String, Path, description = "Order id")),
    responses((status = 200, body = OrderOut), (status = 404, body = ErrorBody)))]
pub async fn mark_manual(
    State(s): State<AppState>,
    auth: Auth,
    ApiPath(id): ApiPath<OrderId>,
    ApiJson(body): ApiJson<ManualIn>,
) -> Result<Json<OrderOut>, ApiError> {
    act(&s, &auth, &id, OrderAction::Manual(body.manual)).await
}
