//! Hosted onboarding pages: a provider's system makes a single-use page for
//! one store; its client opens the page, picks one of the offered
//! channels, connects it, and is sent back. The page itself is served at
//! `/connect/{token}` (see `crate::connect`).

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use switchyard_domain::channel::ChannelKind;
use switchyard_domain::hosted_page::{Branding, DEFAULT_DAYS, MAX_DAYS, PageState};
use switchyard_domain::ids::{ChannelId, HostedPageId, StoreId};
use switchyard_storage::{HostedPage, NewHostedPage};
use utoipa::ToSchema;

use super::channels::{StockRulesDto, check_rules, check_settings};
use crate::AppState;
use crate::console::connect::{FORM_KINDS, offered};
use crate::error::{ApiError, ErrorBody};
use crate::extract::{ApiJson, ApiPath, ApiQuery, Auth, PageQuery, encode_cursor};

/// Most metadata keys on a page.
const MAX_METADATA: usize = 20;

/// What the connected channel gets.
#[derive(Debug, Default, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PresetsIn {
    /// The channel's settings, as in `POST …/channels`: `download_products`,
    /// `add_to_main_products`, `auto_sync_stock`, `order_filters`,
    /// `cadence_secs`.
    #[schema(value_type = Option<switchyard_domain::filter::ChannelSettings>)]
    pub settings: Option<serde_json::Value>,
    /// The channel's stock rules.
    pub stock_rules: Option<StockRulesDto>,
}

/// A new hosted page.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct HostedPageIn {
    /// The channel kinds the client may choose from (at least one).
    pub channels: Vec<String>,
    /// The provider's name, logo (https), colours (hex) and font
    /// (`system`, `serif`, `rounded`, `mono`).
    pub branding: Branding,
    /// Settings and stock rules the channel gets.
    #[serde(default)]
    pub presets: Option<PresetsIn>,
    /// Seconds the page works (default 7 days, at most 30).
    pub expires_in: Option<i64>,
    /// Where the client is sent when done (http or https), with
    /// `hosted_page_id` and `channel_id` added to its query.
    pub redirect_url: Option<String>,
    /// Up to 20 string key-values, echoed back.
    #[serde(default)]
    pub metadata: BTreeMap<String, String>,
}

/// A hosted page (never its token).
#[derive(Debug, Serialize, ToSchema)]
pub struct HostedPageOut {
    /// Id.
    #[schema(value_type = String)]
    pub id: HostedPageId,
    /// Store.
    #[schema(value_type = String)]
    pub store_id: StoreId,
    /// `open`, `completed`, `expired` or `revoked`.
    #[schema(value_type = String)]
    pub state: PageState,
    /// Kinds offered.
    #[schema(value_type = Vec<String>)]
    pub channels: Vec<ChannelKind>,
    /// How it looks.
    pub branding: Branding,
    /// What the channel gets.
    #[schema(value_type = PresetsIn)]
    pub presets: serde_json::Value,
    /// Where the client is sent when done.
    pub redirect_url: Option<String>,
    /// Echoed back.
    #[schema(value_type = BTreeMap<String, String>)]
    pub metadata: serde_json::Value,
    /// The channel connected through it.
    #[schema(value_type = Option<String>)]
    pub channel_id: Option<ChannelId>,
    /// When it stops working.
    pub expires_at: DateTime<Utc>,
    /// Made.
    pub created_at: DateTime<Utc>,
    /// Used.
    pub completed_at: Option<DateTime<Utc>>,
    /// Withdrawn.
    pub revoked_at: Option<DateTime<Utc>>,
}

impl From<HostedPage> for HostedPageOut {
    fn from(p: HostedPage) -> Self {
        Self {
            state: p.state_at(Utc::now()),
            id: p.id,
            store_id: p.store_id,
            channels: p.channels,
            branding: p.branding,
            presets: p.presets,
            redirect_url: p.redirect_url,
            metadata: p.metadata,
            channel_id: p.channel_id,
            expires_at: p.expires_at,
            created_at: p.created_at,
            completed_at: p.completed_at,
            revoked_at: p.revoked_at,
        }
    }
}

/// A page just made: its URL, shown this once.
#[derive(Debug, Serialize, ToSchema)]
pub struct HostedPageCreatedOut {
    /// The page to send the client to; it carries the page's secret.
    pub url: String,
    /// The page.
    #[serde(flatten)]
    pub page: HostedPageOut,
}

/// A page of hosted pages.
#[derive(Debug, Serialize, ToSchema)]
pub struct HostedPageList {
    /// By id.
    pub items: Vec<HostedPageOut>,
    /// Cursor of the next page.
    pub next_cursor: Option<String>,
}

fn bad(field: &str, message: impl Into<String>) -> ApiError {
    ApiError::field(
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_hosted_page",
        field,
        message,
    )
}

/// The page to store from what the provider sent.
fn check(
    body: HostedPageIn,
    now: DateTime<Utc>,
    offered: impl Fn(ChannelKind) -> bool,
) -> Result<(NewHostedPage, String), ApiError> {
    if body.channels.is_empty() {
        return Err(bad("channels", "offer at least one channel kind"));
    }
    let mut channels = Vec::new();
    for (i, k) in body.channels.iter().enumerate() {
        let kind = ChannelKind::parse(k)
            .map_err(|e| ApiError::from(e).with_field_prefix(&format!("channels[{i}]")))?;
        if !offered(kind) {
            return Err(bad(
                &format!("channels[{i}]"),
                format!(
                    "`{kind}` connects through its own authorization flow, which needs the operator's app on {kind} ([apps.{kind}] in the configuration); without one, pages offer {}, woocommerce, and the kinds whose app is set",
                    FORM_KINDS.map(ChannelKind::as_str).join(", ")
                ),
            ));
        }
        if !channels.contains(&kind) {
            channels.push(kind);
        }
    }
    body.branding.validate()?;
    let presets = body.presets.unwrap_or_default();
    check_settings(&Default::default(), presets.settings.clone())
        .map_err(|e| e.with_field_prefix("presets"))?;
    if let Some(r) = &presets.stock_rules {
        check_rules(Some(*r)).map_err(|e| e.with_field_prefix("presets"))?;
    }
    let days = body.expires_in.unwrap_or(DEFAULT_DAYS * 86_400);
    if !(60..=MAX_DAYS * 86_400).contains(&days) {
        return Err(bad(
            "expires_in",
            format!(
                "expires_in is 60 seconds to {MAX_DAYS} days ({} seconds)",
                MAX_DAYS * 86_400
            ),
        ));
    }
    if let Some(u) = &body.redirect_url {
        let ok = u.len() <= 2000
            && reqwest::Url::parse(u).is_ok_and(|url| matches!(url.scheme(), "http" | "https"));
        if !ok {
            return Err(bad(
                "redirect_url",
                "redirect_url must be an http or https URL (at most 2,000 characters)",
            ));
        }
    }
    if body.metadata.len() > MAX_METADATA {
        return Err(bad("metadata", format!("at most {MAX_METADATA} keys")));
    }
    if let Some((k, _)) = body
        .metadata
        .iter()
        .find(|(k, v)| k.is_empty() || k.chars().count() > 40 || v.chars().count() > 500)
    {
        return Err(bad(
            &format!("metadata.{}", k.chars().take(40).collect::<String>()),
            "keys are 1–40 characters and values at most 500",
        ));
    }
    let token = crate::console::auth::secret().map_err(|e| ApiError::Internal(Box::new(e)))?;
    let page = NewHostedPage {
        id: HostedPageId::generate(),
        token_hash: crate::tokens::hash(&token),
        channels,
        branding: body.branding,
        presets: serde_json::to_value(&presets).unwrap_or_default(),
        redirect_url: body.redirect_url,
        metadata: serde_json::to_value(&body.metadata).unwrap_or_default(),
        expires_at: now + Duration::seconds(days),
    };
    Ok((page, token))
}

/// Make a single-use onboarding page for the store. The answer's `url` is
/// shown this once; send it to the client.
#[utoipa::path(post, path = "/v1/stores/{store_id}/hosted-pages", tag = "hosted pages", request_body = HostedPageIn,
    params(("store_id" = String, Path, description = "Store id")),
    responses((status = 201, body = HostedPageCreatedOut), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn create_hosted_page(
    State(s): State<AppState>,
    auth: Auth,
    headers: HeaderMap,
    ApiPath(store): ApiPath<StoreId>,
    ApiJson(body): ApiJson<HostedPageIn>,
) -> Result<(StatusCode, Json<HostedPageCreatedOut>), ApiError> {
    auth.check_store(&store)?;
    let (new, token) = check(body, Utc::now(), |k| offered(&s, k))?;
    let page = s
        .storage
        .create_hosted_page(&auth.account_id, &store, new)
        .await?;
    let base = crate::console::config(&s).links(&headers).base;
    Ok((
        StatusCode::CREATED,
        Json(HostedPageCreatedOut {
            url: format!("{base}/connect/{token}"),
            page: page.into(),
        }),
    ))
}

/// A store's hosted pages, by id.
#[utoipa::path(get, path = "/v1/stores/{store_id}/hosted-pages", tag = "hosted pages",
    params(("store_id" = String, Path, description = "Store id"), PageQuery),
    responses((status = 200, body = HostedPageList), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn list_hosted_pages(
    State(s): State<AppState>,
    auth: Auth,
    ApiPath(store): ApiPath<StoreId>,
    ApiQuery(q): ApiQuery<PageQuery>,
) -> Result<Json<HostedPageList>, ApiError> {
    auth.check_store(&store)?;
    let page = q.to_request(|k| HostedPageId::parse(k).is_ok())?;
    let p = s
        .storage
        .list_hosted_pages(&auth.account_id, &store, &page)
        .await?;
    Ok(Json(HostedPageList {
        items: p.items.into_iter().map(Into::into).collect(),
        next_cursor: p.next.as_deref().map(encode_cursor),
    }))
}

async fn in_store(
    s: &AppState,
    auth: &Auth,
    store: &StoreId,
    id: &HostedPageId,
) -> Result<HostedPage, ApiError> {
    auth.check_store(store)?;
    let p = s.storage.get_hosted_page(&auth.account_id, id).await?;
    if &p.store_id != store {
        return Err(ApiError::not_found("hosted page"));
    }
    Ok(p)
}

/// One hosted page: `open`, `completed` (with `channel_id`), `expired` or
/// `revoked`.
#[utoipa::path(get, path = "/v1/stores/{store_id}/hosted-pages/{page_id}", tag = "hosted pages",
    params(("store_id" = String, Path, description = "Store id"), ("page_id" = String, Path, description = "Hosted page id")),
    responses((status = 200, body = HostedPageOut), (status = 404, body = ErrorBody)))]
pub async fn get_hosted_page(
    State(s): State<AppState>,
    auth: Auth,
    ApiPath((store, id)): ApiPath<(StoreId, HostedPageId)>,
) -> Result<Json<HostedPageOut>, ApiError> {
    Ok(Json(in_store(&s, &auth, &store, &id).await?.into()))
}

/// Withdraw a page the client has not used (it then says so); 409
/// `page_completed` once a channel was connected through it.
#[utoipa::path(delete, path = "/v1/stores/{store_id}/hosted-pages/{page_id}", tag = "hosted pages",
    params(("store_id" = String, Path, description = "Store id"), ("page_id" = String, Path, description = "Hosted page id")),
    responses((status = 200, body = HostedPageOut), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn revoke_hosted_page(
    State(s): State<AppState>,
    auth: Auth,
    ApiPath((store, id)): ApiPath<(StoreId, HostedPageId)>,
) -> Result<Json<HostedPageOut>, ApiError> {
    in_store(&s, &auth, &store, &id).await?;
    Ok(Json(
        s.storage
            .revoke_hosted_page(&auth.account_id, &id, Utc::now())
            .await?
            .into(),
    ))
}
