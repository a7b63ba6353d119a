//! Plugins (3PL fulfilment centres) of a store: the merchant's side
//! (create, change, secret, tokens, the orders routed to each) and the
//! plugin's own side, used with a plugin token (read its orders, report
//! shipments and its stock). `docs/plugins.md` describes the protocol.

use std::collections::BTreeSet;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};
use switchyard_domain::fulfilment::FulfilmentSource;
use switchyard_domain::ids::{AccountId, OrderId, PluginId, StoreId};
use switchyard_domain::stock::{StockSource, check_location};
use switchyard_domain::values::{Sku, check_quantity, check_text};
use switchyard_storage::{
    FulfilmentRecord, NewPlugin, OrderRecord, Plugin, PluginOrder, PluginPatch, SnapshotEntry,
    StockChange, StockOp,
};
use utoipa::{IntoParams, ToSchema};

use super::account::CreatedTokenOut;
use super::destination::check_destination;
use super::fulfilments::FulfilmentIn;
use super::stock::{StockChangeOut, change_out};
use super::webhooks::{new_secret, open, seal};
use crate::AppState;
use crate::error::{ApiError, ErrorBody};
use crate::extract::{ApiJson, ApiPath, ApiQuery, Auth, PageQuery, encode_cursor, page_limit};
use crate::tokens;

/// Most stock figures in one report.
pub const MAX_STOCK_ITEMS: usize = 10_000;

/// A new plugin.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PluginIn {
    /// Name people see (1–100 characters), e.g. `Warehouse Venlo`.
    #[schema(value_type = crate::text::Text100)]
    pub name: String,
    /// `http(s)://` URL routed orders are POSTed to. Private, loopback and
    /// metadata addresses are refused unless the operator allows them.
    pub url: String,
    /// Whether orders are sent (default true). Orders routed to a disabled
    /// plugin wait and are sent when it is enabled.
    pub enabled: Option<bool>,
}

/// A change to a plugin; absent fields stay as they are.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PluginPatchIn {
    /// New name.
    #[schema(value_type = Option<crate::text::Text100>)]
    #[serde(default, deserialize_with = "super::not_null")]
    #[schema(nullable = false)]
    pub name: Option<String>,
    /// New URL (waiting orders are sent to it at once).
    #[serde(default, deserialize_with = "super::not_null")]
    #[schema(nullable = false)]
    pub url: Option<String>,
    /// Enable (waiting orders are sent at once) or disable.
    #[serde(default, deserialize_with = "super::not_null")]
    #[schema(nullable = false)]
    pub enabled: Option<bool>,
}

/// A plugin with its signing secret (shown on creation).
#[derive(Debug, Serialize, ToSchema)]
pub struct PluginCreatedOut {
    /// The plugin.
    #[serde(flatten)]
    pub plugin: Plugin,
    /// `whsec_` + base64 of 32 random bytes: the key of the HMAC-SHA256
    /// signature on every request to the plugin (Standard Webhooks).
    pub secret: String,
}

/// A plugin's signing secret.
#[derive(Debug, Serialize, ToSchema)]
pub struct PluginSecretOut {
    /// The secret.
    pub secret: String,
}

/// A page of plugins.
#[derive(Debug, Serialize, ToSchema)]
pub struct PluginList {
    /// Plugins, by id.
    pub items: Vec<Plugin>,
    /// Cursor of the next page.
    pub next_cursor: Option<String>,
}

/// A token for the plugin.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PluginTokenIn {
    /// Label (1–100 characters).
    pub name: String,
}

/// Filters of a plugin's orders.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PluginOrdersQuery {
    /// Only orders with a message in this state (`pending`, `delivered`, `skipped`).
    pub state: Option<String>,
    /// Items per page (default 100, at most 1000).
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<u32>,
    /// Cursor of the previous page.
    #[param(min_length = 1)]
    pub cursor: Option<String>,
}

/// A page of orders routed to a plugin, newest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct PluginOrderList {
    /// Orders with their messages to the plugin.
    pub items: Vec<PluginOrder>,
    /// Cursor of the next page.
    pub next_cursor: Option<String>,
}

/// One order routed to a plugin.
#[derive(Debug, Serialize, ToSchema)]
pub struct PluginOrderOut {
    /// The order in the unified format.
    pub order: OrderRecord,
    /// The order's fulfilments.
    pub fulfilments: Vec<FulfilmentRecord>,
    /// Messages sent (or to send) to the plugin about it.
    pub routing: PluginOrder,
}

/// One stock figure at the plugin.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PluginStockItemIn {
    /// SKU of a plain product of the store.
    pub sku: String,
    /// Units on hand (absolute), 0 or more.
    pub quantity: i64,
    /// Location / warehouse at the plugin; omitted for none.
    pub location: Option<String>,
}

/// Absolute stock figures, applied all or nothing.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PluginStockIn {
    /// Up to 10,000 figures; each `(sku, location)` at most once.
    pub items: Vec<PluginStockItemIn>,
}

/// A figure that was not applied.
#[derive(Debug, Serialize, ToSchema)]
pub struct SkippedStockOut {
    /// Index in `items`.
    pub index: usize,
    /// SKU.
    pub sku: String,
    /// `unknown_sku` or `kit` (kits have no stock of their own).
    pub reason: String,
}

/// What a stock report changed.
#[derive(Debug, Serialize, ToSchema)]
pub struct PluginStockOut {
    /// Figures applied to the `plugin:<id>` source, in order.
    pub applied: Vec<StockChangeOut>,
    /// Figures for SKUs the store does not stock.
    pub skipped: Vec<SkippedStockOut>,
}

/// The plugin, if the caller may reach it.
async fn in_scope(s: &AppState, auth: &Auth, id: &PluginId) -> Result<Plugin, ApiError> {
    auth.check_plugin(id)?;
    let p = s.storage.get_plugin(&auth.account_id, id).await?;
    auth.check_store(&p.store_id)
        .map_err(|_| ApiError::not_found("plugin"))?;
    Ok(p)
}

fn check_name(name: &str) -> Result<String, ApiError> {
    let name = name.trim();
    check_text("name", name, 100)?;
    Ok(name.to_owned())
}

/// Connect a plugin to a store. The answer carries its signing secret.
#[utoipa::path(post, path = "/v1/stores/{store_id}/plugins", tag = "plugins", request_body = PluginIn,
    params(("store_id" = String, Path, description = "Store id")),
    responses((status = 201, body = PluginCreatedOut), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn create_plugin(
    State(s): State<AppState>,
    auth: Auth,
    ApiPath(store): ApiPath<StoreId>,
    ApiJson(body): ApiJson<PluginIn>,
) -> Result<(StatusCode, Json<PluginCreatedOut>), ApiError> {
    auth.check_store(&store)?;
    let made = add_plugin(&s, &auth.account_id, &store, body).await?;
    Ok((StatusCode::CREATED, Json(made)))
}

/// Connect a plugin to a store, with a new signing secret (the API's and
/// the console's create).
pub(crate) async fn add_plugin(
    s: &AppState,
    account: &AccountId,
    store: &StoreId,
    body: PluginIn,
) -> Result<PluginCreatedOut, ApiError> {
    let name = check_name(&body.name)?;
    let url = check_destination(s, "url", &body.url)?;
    let id = PluginId::generate();
    let secret = new_secret()?;
    let new = NewPlugin {
        id: id.clone(),
        name,
        url,
        enabled: body.enabled.unwrap_or(true),
        secret: seal(s, account, id.as_str(), &secret)?,
    };
    let plugin = s.storage.create_plugin(account, store, new).await?;
    Ok(PluginCreatedOut { plugin, secret })
}

/// A store's plugins.
#[utoipa::path(get, path = "/v1/stores/{store_id}/plugins", tag = "plugins",
    params(("store_id" = String, Path, description = "Store id"), PageQuery),
    responses((status = 200, body = PluginList), (status = 404, body = ErrorBody)))]
pub async fn list_plugins(
    State(s): State<AppState>,
    auth: Auth,
    ApiPath(store): ApiPath<StoreId>,
    ApiQuery(q): ApiQuery<PageQuery>,
) -> Result<Json<PluginList>, ApiError> {
    auth.check_store(&store)?;
    let page = q.to_request(|k| PluginId::parse(k).is_ok())?;
    let p = s
        .storage
        .list_plugins(&auth.account_id, &store, &page)
        .await?;
    Ok(Json(PluginList {
        items: p.items,
        next_cursor: p.next.as_deref().map(encode_cursor),
    }))
}

/// One plugin (a plugin token may read its own).
#[utoipa::path(get, path = "/v1/plugins/{plugin_id}", tag = "plugins",
    params(("plugin_id" = String, Path, description = "Plugin id")),
    responses((status = 200, body = Plugin), (status = 404, body = ErrorBody)))]
pub async fn get_plugin(
    State(s): State<AppState>,
    auth: Auth,
    ApiPath(id): ApiPath<PluginId>,
) -> Result<Json<Plugin>, ApiError> {
    Ok(Json(in_scope(&s, &auth, &id).await?))
}

/// Change a plugin. Enabling it, or giving it a new URL, sends its waiting
/// orders at once.
#[utoipa::path(patch, path = "/v1/plugins/{plugin_id}", tag = "plugins", request_body = PluginPatchIn,
    params(("plugin_id" = String, Path, description = "Plugin id")),
    responses((status = 200, body = Plugin), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn update_plugin(
    State(s): State<AppState>,
    auth: Auth,
    ApiPath(id): ApiPath<PluginId>,
    ApiJson(body): ApiJson<PluginPatchIn>,
) -> Result<Json<Plugin>, ApiError> {
    auth.require_merchant("change a plugin")?;
    in_scope(&s, &auth, &id).await?;
    Ok(Json(change_plugin(&s, &auth.account_id, &id, body).await?))
}

/// Change a plugin and wake the workers (waiting orders go at once).
pub(crate) async fn change_plugin(
    s: &AppState,
    account: &AccountId,
    id: &PluginId,
    body: PluginPatchIn,
) -> Result<Plugin, ApiError> {
    let patch = PluginPatch {
        name: body.name.as_deref().map(check_name).transpose()?,
        url: body
            .url
            .as_deref()
            .map(|u| check_destination(s, "url", u))
            .transpose()?,
        enabled: body.enabled,
    };
    let p = s.storage.update_plugin(account, id, patch).await?;
    s.wake.notify_one();
    Ok(p)
}

/// Delete a plugin and its tokens. Refused (409 `plugin_in_use`) while a
/// plugin rule routes to it or an open order is routed to it.
#[utoipa::path(delete, path = "/v1/plugins/{plugin_id}", tag = "plugins",
    params(("plugin_id" = String, Path, description = "Plugin id")),
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn delete_plugin(
    State(s): State<AppState>,
    auth: Auth,
    ApiPath(id): ApiPath<PluginId>,
) -> Result<StatusCode, ApiError> {
    auth.require_merchant("delete a plugin")?;
    in_scope(&s, &auth, &id).await?;
    s.storage.delete_plugin(&auth.account_id, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The secret requests to the plugin are signed with.
#[utoipa::path(get, path = "/v1/plugins/{plugin_id}/secret", tag = "plugins",
    params(("plugin_id" = String, Path, description = "Plugin id")),
    responses((status = 200, body = PluginSecretOut), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn get_plugin_secret(
    State(s): State<AppState>,
    auth: Auth,
    ApiPath(id): ApiPath<PluginId>,
) -> Result<Json<PluginSecretOut>, ApiError> {
    auth.require_merchant("read the signing secret")?;
    in_scope(&s, &auth, &id).await?;
    Ok(Json(PluginSecretOut {
        secret: signing_secret(&s, &auth.account_id, &id).await?,
    }))
}

/// A plugin's signing secret, unsealed.
pub(crate) async fn signing_secret(
    s: &AppState,
    account: &AccountId,
    id: &PluginId,
) -> Result<String, ApiError> {
    let sealed = s.storage.plugin_secret(account, id).await?;
    open(s, account, id.as_str(), &sealed)
}

/// Issue a token the plugin uses to report back. It reaches only this
/// plugin's routes (`/v1/plugins/{plugin_id}/...`). The secret is in the
/// answer, once; revoke it with `DELETE /v1/tokens/{token_id}`.
#[utoipa::path(post, path = "/v1/plugins/{plugin_id}/tokens", tag = "plugins", request_body = PluginTokenIn,
    params(("plugin_id" = String, Path, description = "Plugin id")),
    responses((status = 201, body = CreatedTokenOut), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn create_plugin_token(
    State(s): State<AppState>,
    auth: Auth,
    ApiPath(id): ApiPath<PluginId>,
    ApiJson(body): ApiJson<PluginTokenIn>,
) -> Result<(StatusCode, Json<CreatedTokenOut>), ApiError> {
    auth.require_merchant("issue tokens")?;
    let p = in_scope(&s, &auth, &id).await?;
    Ok((
        StatusCode::CREATED,
        Json(plugin_token(&s, &auth.account_id, &p, &body.name).await?),
    ))
}

/// Issue a token that reaches only this plugin's routes.
pub(crate) async fn plugin_token(
    s: &AppState,
    account: &AccountId,
    p: &Plugin,
    name: &str,
) -> Result<CreatedTokenOut, ApiError> {
    let name = check_name(name)?;
    let scope = tokens::Scope {
        store: Some(p.store_id.clone()),
        plugin: Some(p.id.clone()),
    };
    let (secret, rec) = tokens::issue(s.storage.as_ref(), account.clone(), scope, name).await?;
    Ok(CreatedTokenOut {
        token: secret.expose_secret().to_owned(),
        record: rec.into(),
    })
}

/// Orders routed to the plugin, newest first, with their messages.
#[utoipa::path(get, path = "/v1/plugins/{plugin_id}/orders", tag = "plugins",
    params(("plugin_id" = String, Path, description = "Plugin id"), PluginOrdersQuery),
    responses((status = 200, body = PluginOrderList), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn list_plugin_orders(
    State(s): State<AppState>,
    auth: Auth,
    ApiPath(id): ApiPath<PluginId>,
    ApiQuery(q): ApiQuery<PluginOrdersQuery>,
) -> Result<Json<PluginOrderList>, ApiError> {
    in_scope(&s, &auth, &id).await?;
    if let Some(st) = &q.state
        && !matches!(st.as_str(), "pending" | "delivered" | "skipped")
    {
        return Err(ApiError::field(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_state",
            "state",
            format!("`{st}` is not a message state (pending, delivered, skipped)"),
        ));
    }
    let page = PageQuery {
        limit: Some(page_limit(q.limit)?),
        cursor: q.cursor,
    }
    .to_request(|k| OrderId::parse(k).is_ok())?;
    let p = s
        .storage
        .list_plugin_orders(&auth.account_id, &id, q.state.as_deref(), &page)
        .await?;
    Ok(Json(PluginOrderList {
        items: p.items,
        next_cursor: p.next.as_deref().map(encode_cursor),
    }))
}

/// One order routed to the plugin, in the unified format, with its
/// fulfilments and messages.
#[utoipa::path(get, path = "/v1/plugins/{plugin_id}/orders/{order_id}", tag = "plugins",
    params(("plugin_id" = String, Path, description = "Plugin id"), ("order_id" = String, Path, description = "Order id")),
    responses((status = 200, body = PluginOrderOut), (status = 404, body = ErrorBody)))]
pub async fn get_plugin_order(
    State(s): State<AppState>,
    auth: Auth,
    ApiPath((id, order)): ApiPath<(PluginId, OrderId)>,
) -> Result<Json<PluginOrderOut>, ApiError> {
    in_scope(&s, &auth, &id).await?;
    let routing = s
        .storage
        .plugin_order(&auth.account_id, &id, &order)
        .await?;
    let mut o = s.storage.get_order(&auth.account_id, &order).await?;
    o.raw = None;
    let fulfilments = s.storage.list_fulfilments(&auth.account_id, &order).await?;
    Ok(Json(PluginOrderOut {
        order: o,
        fulfilments,
        routing,
    }))
}

/// Send an order's waiting messages to the plugin now (after fixing
/// whatever made it fail).
#[utoipa::path(post, path = "/v1/plugins/{plugin_id}/orders/{order_id}/resend", tag = "plugins",
    params(("plugin_id" = String, Path, description = "Plugin id"), ("order_id" = String, Path, description = "Order id")),
    responses((status = 200, body = PluginOrder), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn resend_plugin_order(
    State(s): State<AppState>,
    auth: Auth,
    ApiPath((id, order)): ApiPath<(PluginId, OrderId)>,
) -> Result<Json<PluginOrder>, ApiError> {
    auth.require_merchant("resend orders")?;
    in_scope(&s, &auth, &id).await?;
    let o = s
        .storage
        .resend_plugin_order(&auth.account_id, &id, &order, chrono::Utc::now())
        .await?;
    s.wake.notify_one();
    Ok(Json(o))
}

/// The plugin reports a shipment of an order routed to it. Same body as
/// `POST /v1/orders/{order_id}/fulfilments`; pass `reference` (your
/// shipment id) so a repeated report is answered with the first instead of
/// shipping twice. Synced to the order's channel like any fulfilment; the
/// `api` source is left alone (report your stock with `PUT .../stock`).
#[utoipa::path(post, path = "/v1/plugins/{plugin_id}/orders/{order_id}/fulfilments", tag = "plugins", request_body = FulfilmentIn,
    params(("plugin_id" = String, Path, description = "Plugin id"), ("order_id" = String, Path, description = "Order id")),
    responses((status = 201, body = FulfilmentRecord), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn create_plugin_fulfilment(
    State(s): State<AppState>,
    auth: Auth,
    ApiPath((id, order)): ApiPath<(PluginId, OrderId)>,
    ApiJson(body): ApiJson<FulfilmentIn>,
) -> Result<(StatusCode, Json<FulfilmentRecord>), ApiError> {
    in_scope(&s, &auth, &id).await?;
    s.storage
        .plugin_order(&auth.account_id, &id, &order)
        .await?;
    let new = body.into_new(FulfilmentSource::Plugin)?;
    let f = s
        .storage
        .create_fulfilment(&auth.account_id, &order, new)
        .await?;
    s.wake.notify_one();
    Ok((StatusCode::CREATED, Json(f)))
}

/// The plugin reports its stock: absolute units per SKU (and location)
/// into its own source `plugin:<id>`, kept apart from `api`. All figures
/// apply together; SKUs the store does not stock (or kits) are listed in
/// `skipped`. Channels get the new totals as usual.
#[utoipa::path(put, path = "/v1/plugins/{plugin_id}/stock", tag = "plugins", request_body = PluginStockIn,
    params(("plugin_id" = String, Path, description = "Plugin id")),
    responses((status = 200, body = PluginStockOut), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn report_plugin_stock(
    State(s): State<AppState>,
    auth: Auth,
    ApiPath(id): ApiPath<PluginId>,
    ApiJson(body): ApiJson<PluginStockIn>,
) -> Result<Json<PluginStockOut>, ApiError> {
    let p = in_scope(&s, &auth, &id).await?;
    if body.items.is_empty() || body.items.len() > MAX_STOCK_ITEMS {
        return Err(ApiError::field(
            StatusCode::UNPROCESSABLE_ENTITY,
            "too_many_items",
            "items",
            format!(
                "send between 1 and {MAX_STOCK_ITEMS} items (got {})",
                body.items.len()
            ),
        ));
    }
    let mut seen = BTreeSet::new();
    let mut parsed = Vec::with_capacity(body.items.len());
    for (i, it) in body.items.iter().enumerate() {
        let check = || -> Result<(Sku, String, i64), ApiError> {
            let sku = Sku::parse(&it.sku)?;
            let quantity = check_quantity("quantity", it.quantity)?;
            let location = it.location.clone().unwrap_or_default();
            check_location("location", &location)?;
            Ok((sku, location, quantity))
        };
        let item = check().map_err(|e| e.with_field_prefix(&format!("items[{i}]")))?;
        if !seen.insert((item.0.clone(), item.1.clone())) {
            return Err(ApiError::field(
                StatusCode::UNPROCESSABLE_ENTITY,
                "duplicate_item",
                format!("items[{i}]"),
                format!("`{}` at location `{}` is listed twice", item.0, item.1),
            ));
        }
        parsed.push(item);
    }
    let skus: Vec<Sku> = seen.iter().map(|(s, _)| s.clone()).collect();
    let snap = s
        .storage
        .stock_snapshot(&auth.account_id, &p.store_id, &skus)
        .await?;
    let mut changes = Vec::with_capacity(parsed.len());
    let mut skipped = Vec::new();
    for (index, (sku, location, quantity)) in parsed.into_iter().enumerate() {
        match snap.entries.get(&sku) {
            Some(SnapshotEntry::Plain(_)) => changes.push(StockChange {
                sku,
                location,
                op: StockOp::Set(quantity),
                expected: None,
                reason: Some(format!("reported by plugin {}", p.name)),
            }),
            other => skipped.push(SkippedStockOut {
                index,
                sku: sku.to_string(),
                reason: if other.is_some() {
                    "kit"
                } else {
                    "unknown_sku"
                }
                .to_owned(),
            }),
        }
    }
    let source = StockSource::Plugin(id.to_string());
    let applied = if changes.is_empty() {
        Vec::new()
    } else {
        s.storage
            .change_stock(&auth.account_id, &p.store_id, &source, &changes)
            .await
            .map_err(|e| ApiError::from(e).with_field_prefix("items"))?
    };
    s.wake.notify_one();
    let source = source.to_string();
    Ok(Json(PluginStockOut {
        applied: applied
            .into_iter()
            .map(|o| change_out(o, &source))
            .collect(),
        skipped,
    }))
}
