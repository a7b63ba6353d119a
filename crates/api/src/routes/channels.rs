//! Channel connections of a store: kind, base URL, write-only credentials
//! (sealed at rest), and stock rules. Order import settings arrive with the
//! import engine.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use switchyard_domain::channel::ChannelKind;
use switchyard_domain::ids::{AccountId, ChannelId, StoreId};
use switchyard_domain::stock::StockRules;
use switchyard_domain::values::{check_text, check_url};
use switchyard_storage::{Channel, ChannelPatch, NewChannel};
use utoipa::ToSchema;

use crate::AppState;
use crate::error::{ApiError, ErrorBody};
use crate::extract::{ApiJson, ApiPath, ApiQuery, Auth, PageQuery, encode_cursor};
use crate::routes::nullable;

/// Largest accepted credentials object, serialised.
const MAX_CREDENTIALS_BYTES: usize = 16 * 1024;

/// Stock rules of a channel, applied in this order: `fixed` (if set, shown
/// as is; nothing else applies), `zero_at_or_below` (base at or below → 0),
/// `buffer` (subtract), `percentage` (keep p %, rounded down), `maximum`
/// (cap), then never below 0.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StockRulesDto {
    /// Always show exactly this quantity.
    pub fixed: Option<i64>,
    /// Show 0 when availability is at or below this.
    pub zero_at_or_below: Option<i64>,
    /// Hold back this many units.
    pub buffer: Option<i64>,
    /// Show this percentage (1–100), rounded down.
    pub percentage: Option<i64>,
    /// Never show more than this.
    pub maximum: Option<i64>,
}

impl From<StockRulesDto> for StockRules {
    fn from(d: StockRulesDto) -> Self {
        Self {
            fixed: d.fixed,
            zero_at_or_below: d.zero_at_or_below,
            buffer: d.buffer,
            percentage: d.percentage,
            maximum: d.maximum,
        }
    }
}

impl From<StockRules> for StockRulesDto {
    fn from(r: StockRules) -> Self {
        Self {
            fixed: r.fixed,
            zero_at_or_below: r.zero_at_or_below,
            buffer: r.buffer,
            percentage: r.percentage,
            maximum: r.maximum,
        }
    }
}

/// A channel connection. Credentials are write-only and never returned.
#[derive(Debug, Serialize, ToSchema)]
pub struct ChannelOut {
    /// Channel id (`ch_...`).
    pub id: String,
    /// Store id.
    pub store_id: String,
    /// Display name.
    pub name: String,
    /// Kind: shopify, woocommerce, amazon, ebay, etsy, bolcom, vendure, medusa.
    pub kind: String,
    /// Base URL of the channel's API.
    pub base_url: Option<String>,
    /// Whether credentials are stored.
    pub has_credentials: bool,
    /// Stock rules.
    pub stock_rules: StockRulesDto,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// Last change.
    pub updated_at: DateTime<Utc>,
}

impl From<Channel> for ChannelOut {
    fn from(c: Channel) -> Self {
        Self {
            id: c.id.to_string(),
            store_id: c.store_id.to_string(),
            name: c.name,
            kind: c.kind.to_string(),
            base_url: c.base_url,
            has_credentials: c.has_credentials,
            stock_rules: c.stock_rules.into(),
            created_at: c.created_at,
            updated_at: c.updated_at,
        }
    }
}

/// A page of channels.
#[derive(Debug, Serialize, ToSchema)]
pub struct ChannelList {
    /// Channels.
    pub items: Vec<ChannelOut>,
    /// Pass as `cursor` for the next page; absent on the last page.
    pub next_cursor: Option<String>,
}

/// A channel to create.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChannelIn {
    /// Display name.
    pub name: String,
    /// Kind of channel.
    pub kind: String,
    /// Base URL of the channel's API.
    pub base_url: Option<String>,
    /// Credentials as a JSON object (e.g. `{"access_token": "..."}`); encrypted at rest, never returned.
    #[schema(value_type = Option<Object>)]
    pub credentials: Option<serde_json::Value>,
    /// Stock rules.
    pub stock_rules: Option<StockRulesDto>,
}

/// Changes to a channel. `null` clears `base_url` or `credentials`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChannelPatchIn {
    /// New name.
    pub name: Option<String>,
    /// New base URL, or `null` to clear.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>)]
    pub base_url: Option<Option<String>>,
    /// New credentials, or `null` to remove them.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<Object>)]
    pub credentials: Option<Option<serde_json::Value>>,
    /// New stock rules (replace the old ones whole).
    pub stock_rules: Option<StockRulesDto>,
}

fn seal_credentials(
    s: &AppState,
    account: &AccountId,
    channel: &ChannelId,
    creds: serde_json::Value,
) -> Result<Vec<u8>, ApiError> {
    let obj = creds.as_object().filter(|o| !o.is_empty()).ok_or_else(|| {
        ApiError::field(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_credentials",
            "credentials",
            "credentials must be a non-empty JSON object",
        )
    })?;
    let bytes = serde_json::to_vec(obj).map_err(ApiError::internal)?;
    if bytes.len() > MAX_CREDENTIALS_BYTES {
        return Err(ApiError::field(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_credentials",
            "credentials",
            format!("credentials must be at most {MAX_CREDENTIALS_BYTES} bytes"),
        ));
    }
    s.cipher
        .seal(account, channel, &bytes)
        .map_err(ApiError::internal)
}

fn check_rules(r: Option<StockRulesDto>) -> Result<Option<StockRules>, ApiError> {
    let Some(r) = r else { return Ok(None) };
    let rules = StockRules::from(r);
    rules.validate()?;
    Ok(Some(rules))
}

/// List a store's channels.
#[utoipa::path(get, path = "/v1/stores/{store_id}/channels", tag = "channels",
    params(("store_id" = String, Path, description = "Store id"), PageQuery),
    responses((status = 200, body = ChannelList), (status = 404, body = ErrorBody)))]
pub async fn list_channels(
    State(s): State<AppState>,
    auth: Auth,
    ApiPath(store): ApiPath<StoreId>,
    ApiQuery(q): ApiQuery<PageQuery>,
) -> Result<Json<ChannelList>, ApiError> {
    auth.check_store(&store)?;
    let page = q.to_request(|k| ChannelId::parse(k).is_ok())?;
    let p = s
        .storage
        .list_channels(&auth.account_id, &store, &page)
        .await?;
    Ok(Json(ChannelList {
        items: p.items.into_iter().map(ChannelOut::from).collect(),
        next_cursor: p.next.as_deref().map(encode_cursor),
    }))
}

/// Connect a channel.
#[utoipa::path(post, path = "/v1/stores/{store_id}/channels", tag = "channels", request_body = ChannelIn,
    params(("store_id" = String, Path, description = "Store id")),
    responses((status = 201, body = ChannelOut), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn create_channel(
    State(s): State<AppState>,
    auth: Auth,
    ApiPath(store): ApiPath<StoreId>,
    ApiJson(body): ApiJson<ChannelIn>,
) -> Result<(StatusCode, Json<ChannelOut>), ApiError> {
    auth.check_store(&store)?;
    check_text("name", &body.name, 200)?;
    let kind = ChannelKind::parse(&body.kind)?;
    if let Some(u) = &body.base_url {
        check_url("base_url", u)?;
    }
    let stock_rules = check_rules(body.stock_rules)?.unwrap_or_default();
    let id = ChannelId::generate();
    let credentials = body
        .credentials
        .map(|c| seal_credentials(&s, &auth.account_id, &id, c))
        .transpose()?;
    let ch = s
        .storage
        .create_channel(
            &auth.account_id,
            &store,
            NewChannel {
                id,
                name: body.name,
                kind,
                base_url: body.base_url,
                credentials,
                stock_rules,
            },
        )
        .await?;
    Ok((StatusCode::CREATED, Json(ch.into())))
}

/// Get a channel.
#[utoipa::path(get, path = "/v1/stores/{store_id}/channels/{channel_id}", tag = "channels",
    params(("store_id" = String, Path, description = "Store id"), ("channel_id" = String, Path, description = "Channel id")),
    responses((status = 200, body = ChannelOut), (status = 404, body = ErrorBody)))]
pub async fn get_channel(
    State(s): State<AppState>,
    auth: Auth,
    ApiPath((store, id)): ApiPath<(StoreId, ChannelId)>,
) -> Result<Json<ChannelOut>, ApiError> {
    auth.check_store(&store)?;
    Ok(Json(
        s.storage
            .get_channel(&auth.account_id, &store, &id)
            .await?
            .into(),
    ))
}

/// Change a channel: name, base URL, credentials, stock rules.
#[utoipa::path(patch, path = "/v1/stores/{store_id}/channels/{channel_id}", tag = "channels", request_body = ChannelPatchIn,
    params(("store_id" = String, Path, description = "Store id"), ("channel_id" = String, Path, description = "Channel id")),
    responses((status = 200, body = ChannelOut), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn update_channel(
    State(s): State<AppState>,
    auth: Auth,
    ApiPath((store, id)): ApiPath<(StoreId, ChannelId)>,
    ApiJson(body): ApiJson<ChannelPatchIn>,
) -> Result<Json<ChannelOut>, ApiError> {
    auth.check_store(&store)?;
    if let Some(n) = &body.name {
        check_text("name", n, 200)?;
    }
    if let Some(Some(u)) = &body.base_url {
        check_url("base_url", u)?;
    }
    let stock_rules = check_rules(body.stock_rules)?;
    // Make sure the channel is ours before sealing anything for it.
    s.storage.get_channel(&auth.account_id, &store, &id).await?;
    let credentials = match body.credentials {
        None => None,
        Some(None) => Some(None),
        Some(Some(c)) => Some(Some(seal_credentials(&s, &auth.account_id, &id, c)?)),
    };
    let ch = s
        .storage
        .update_channel(
            &auth.account_id,
            &store,
            &id,
            ChannelPatch {
                name: body.name,
                base_url: body.base_url,
                credentials,
                stock_rules,
            },
        )
        .await?;
    Ok(Json(ch.into()))
}

/// Disconnect a channel. Refused (409 `channel_has_orders`) once it has orders.
#[utoipa::path(delete, path = "/v1/stores/{store_id}/channels/{channel_id}", tag = "channels",
    params(("store_id" = String, Path, description = "Store id"), ("channel_id" = String, Path, description = "Channel id")),
    responses((status = 204), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn delete_channel(
    State(s): State<AppState>,
    auth: Auth,
    ApiPath((store, id)): ApiPath<(StoreId, ChannelId)>,
) -> Result<StatusCode, ApiError> {
    auth.check_store(&store)?;
    s.storage
        .delete_channel(&auth.account_id, &store, &id)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
