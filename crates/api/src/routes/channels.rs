//! Channel connections of a store: kind, base URL, write-only credentials
//! (sealed at rest, checked against the kind's shape), stock rules, and the
//! settings of the core loop: cadence, the three stock switches, order
//! notifications and order filters.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use switchyard_connectors::registry;
use switchyard_domain::channel::ChannelKind;
use switchyard_domain::filter::ChannelSettings;
use switchyard_domain::ids::{AccountId, ChannelId, StoreId};
use switchyard_domain::stock::StockRules;
use switchyard_domain::values::check_text;

use super::destination::check_destination;
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
    #[schema(value_type = switchyard_domain::channel::ChannelKind)]
    pub kind: String,
    /// Base URL of the channel's API.
    pub base_url: Option<String>,
    /// Whether credentials are stored.
    pub has_credentials: bool,
    /// Stock rules.
    pub stock_rules: StockRulesDto,
    /// Settings: `cadence_secs` (10–86400, default 180), `download_products`
    /// (default true), `add_to_main_products` (default false),
    /// `auto_sync_stock` (default false), `push_notifications` (default
    /// true), `order_filters` {`import_unpaid`, `import_not_ready`,
    /// `countries` {`allow`, `deny`}, `skus` {`allow`, `deny`} (exact or glob)}.
    pub settings: ChannelSettings,
    /// Where the import stands.
    pub import: ImportStateOut,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// Last change.
    pub updated_at: DateTime<Utc>,
}

/// A channel's import state.
#[derive(Debug, Serialize, ToSchema)]
pub struct ImportStateOut {
    /// Newest channel `updated_at` among imported orders.
    pub cursor: Option<DateTime<Utc>>,
    /// Next scheduled import.
    pub next_import_at: Option<DateTime<Utc>>,
    /// Last attempt.
    pub last_import_at: Option<DateTime<Utc>>,
    /// Last successful import.
    pub last_success_at: Option<DateTime<Utc>>,
    /// Last error message.
    pub last_error: Option<String>,
    /// When it happened.
    pub last_error_at: Option<DateTime<Utc>>,
    /// Failed imports in a row.
    pub consecutive_failures: i64,
    /// When listings were last downloaded.
    pub listings_synced_at: Option<DateTime<Utc>>,
    /// When order notifications were registered with the channel.
    pub notifications_registered_at: Option<DateTime<Utc>>,
    /// Why registering them failed.
    pub notifications_error: Option<String>,
}

impl From<switchyard_storage::ChannelSync> for ImportStateOut {
    fn from(s: switchyard_storage::ChannelSync) -> Self {
        Self {
            cursor: s.cursor,
            next_import_at: s.next_import_at,
            last_import_at: s.last_import_at,
            last_success_at: s.last_success_at,
            last_error: s.last_error,
            last_error_at: s.last_error_at,
            consecutive_failures: s.failures,
            listings_synced_at: s.listings_synced_at,
            notifications_registered_at: s.notifications_at,
            notifications_error: s.notifications_error,
        }
    }
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
            settings: c.settings,
            import: c.sync.into(),
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
    #[schema(value_type = crate::text::Text200)]
    pub name: String,
    /// Kind of channel.
    #[schema(value_type = switchyard_domain::channel::ChannelKind)]
    pub kind: String,
    /// Base URL of the channel's API.
    pub base_url: Option<String>,
    /// Credentials, in the shape the channel's `kind` takes (e.g.
    /// `{"access_token": "shpat_…"}` for Shopify); encrypted at rest, never returned.
    #[schema(value_type = Option<ChannelCredentials>)]
    pub credentials: Option<serde_json::Value>,
    /// Stock rules.
    pub stock_rules: Option<StockRulesDto>,
    /// Settings (see `ChannelOut.settings`); missing fields take their defaults.
    #[schema(value_type = Option<ChannelSettings>)]
    pub settings: Option<serde_json::Value>,
}

/// Changes to a channel. `null` clears `base_url` or `credentials`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChannelPatchIn {
    /// New name.
    #[schema(value_type = Option<crate::text::Text200>)]
    #[serde(default, deserialize_with = "super::not_null")]
    #[schema(nullable = false)]
    pub name: Option<String>,
    /// New base URL, or `null` to clear.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>)]
    pub base_url: Option<Option<String>>,
    /// New credentials (the whole set, in the shape of the channel's kind),
    /// or `null` to remove them.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<ChannelCredentials>)]
    pub credentials: Option<Option<serde_json::Value>>,
    /// New stock rules (replace the old ones whole).
    #[serde(default, deserialize_with = "super::not_null")]
    #[schema(nullable = false)]
    pub stock_rules: Option<StockRulesDto>,
    /// Settings to change, merged into the current ones (fields not given
    /// keep their value; none may be `null`).
    #[schema(value_type = Option<ChannelSettings>)]
    #[serde(default, deserialize_with = "super::not_null")]
    #[schema(nullable = false)]
    pub settings: Option<serde_json::Value>,
}

/// A channel's credentials as the API takes them: one shape per kind, the
/// fields its connector reads (`registry::credential_form`). Only a
/// document type; the handlers check the JSON against the kind.
#[derive(Debug)]
pub struct ChannelCredentials;

/// `ShopifyCredentials`, `WoocommerceCredentials`, …
fn credentials_schema_name(kind: ChannelKind) -> String {
    let name = kind.as_str();
    let mut chars = name.chars();
    let first = chars.next().map(|c| c.to_ascii_uppercase());
    format!(
        "{}{}Credentials",
        first.map(String::from).unwrap_or_default(),
        chars.as_str()
    )
}

/// The credentials of one kind, from its form.
fn credentials_schema(
    kind: ChannelKind,
) -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
    use utoipa::openapi::schema::{AdditionalProperties, ObjectBuilder, SchemaType, Type};
    let mut o = ObjectBuilder::new()
        .schema_type(SchemaType::Type(Type::Object))
        .title(Some(kind.as_str()))
        .description(Some(format!(
            "Credentials of a `{}` channel: {}.",
            kind.as_str(),
            registry::credential_fields(kind)
        )))
        .additional_properties(Some(AdditionalProperties::FreeForm(false)));
    for f in registry::credential_form(kind) {
        let t = if f.numeric {
            Type::Integer
        } else {
            Type::String
        };
        let mut help = f.help.to_owned();
        if f.secret {
            help.push_str(" (secret: write-only)");
        }
        o = o.property(
            f.name,
            ObjectBuilder::new()
                .schema_type(SchemaType::Type(t))
                .description(Some(help))
                .write_only(f.secret.then_some(true)),
        );
        if f.required {
            o = o.required(f.name);
        }
    }
    o.into()
}

impl utoipa::PartialSchema for ChannelCredentials {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        let mut any = utoipa::openapi::schema::AnyOfBuilder::new().description(Some(
            "The credentials of the channel's kind (`kind`): one of these shapes.",
        ));
        for kind in ChannelKind::ALL {
            any = any.item(utoipa::openapi::Ref::from_schema_name(
                credentials_schema_name(kind),
            ));
        }
        any.into()
    }
}

impl ToSchema for ChannelCredentials {
    fn schemas(
        schemas: &mut Vec<(
            String,
            utoipa::openapi::RefOr<utoipa::openapi::schema::Schema>,
        )>,
    ) {
        for kind in ChannelKind::ALL {
            schemas.push((credentials_schema_name(kind), credentials_schema(kind)));
        }
    }
}

/// The first `null` in a settings patch, as a path (`order_filters.skus`).
fn first_null(v: &serde_json::Value, at: &str) -> Option<String> {
    match v {
        serde_json::Value::Null => Some(at.to_owned()),
        serde_json::Value::Object(m) => m.iter().find_map(|(k, x)| {
            first_null(
                x,
                &if at.is_empty() {
                    k.clone()
                } else {
                    format!("{at}.{k}")
                },
            )
        }),
        serde_json::Value::Array(a) => a
            .iter()
            .enumerate()
            .find_map(|(i, x)| first_null(x, &format!("{at}[{i}]"))),
        _ => None,
    }
}

/// RFC 7396 JSON merge patch.
fn merge(target: &mut serde_json::Value, patch: &serde_json::Value) {
    match (target, patch) {
        (serde_json::Value::Object(t), serde_json::Value::Object(p)) => {
            for (k, v) in p {
                if v.is_null() {
                    t.remove(k);
                } else {
                    merge(t.entry(k.clone()).or_insert(serde_json::Value::Null), v);
                }
            }
        }
        (t, p) => *t = p.clone(),
    }
}

/// Parse and validate settings, starting from `base`.
pub(crate) fn check_settings(
    base: &ChannelSettings,
    patch: Option<serde_json::Value>,
) -> Result<Option<ChannelSettings>, ApiError> {
    let Some(patch) = patch else { return Ok(None) };
    if !patch.is_object() {
        return Err(ApiError::field(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_settings",
            "settings",
            "settings must be a JSON object",
        ));
    }
    if let Some(at) = first_null(&patch, "") {
        return Err(ApiError::field(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_settings",
            format!("settings.{at}"),
            format!("settings.{at} must not be null; leave it out to keep its value"),
        ));
    }
    let mut v = serde_json::to_value(base).map_err(ApiError::internal)?;
    merge(&mut v, &patch);
    let settings: ChannelSettings = serde_path_to_error::deserialize(v).map_err(|e| {
        let path = e.path().to_string();
        ApiError::field(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_settings",
            if path == "." {
                "settings".to_owned()
            } else {
                format!("settings.{path}")
            },
            e.into_inner().to_string(),
        )
    })?;
    settings
        .validate()
        .map_err(|e| ApiError::from(e.under("settings")))?;
    Ok(Some(settings))
}

fn seal_credentials(
    s: &AppState,
    account: &AccountId,
    channel: &ChannelId,
    kind: ChannelKind,
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
    match registry::check_credentials(kind, &bytes) {
        // Kinds without a connector yet keep whatever they are given.
        Ok(()) | Err(registry::ConnectError::Unsupported(_)) => {}
        Err(e) => {
            return Err(ApiError::field(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_credentials",
                "credentials",
                e.to_string(),
            ));
        }
    }
    s.cipher
        .seal(account, channel, &bytes)
        .map_err(ApiError::internal)
}

/// A channel and its decrypted credentials (`None` when it has none), for
/// the routes that talk to the channel itself.
pub(crate) async fn channel_with_credentials(
    s: &AppState,
    account: &AccountId,
    store: &StoreId,
    id: &ChannelId,
) -> Result<(Channel, Option<Vec<u8>>), ApiError> {
    let ch = s.storage.get_channel(account, store, id).await?;
    let creds = s
        .storage
        .channel_credentials(account, store, id)
        .await?
        .map(|sealed| s.cipher.open(account, id, &sealed))
        .transpose()
        .map_err(ApiError::internal)?;
    Ok((ch, creds))
}

pub(crate) fn check_rules(r: Option<StockRulesDto>) -> Result<Option<StockRules>, ApiError> {
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
    let ch = connect_channel(&s, &auth.account_id, &store, body, None).await?;
    Ok((StatusCode::CREATED, Json(ch.into())))
}

/// Validate and connect a channel (the API's POST and the console's
/// connect form).
pub(crate) async fn connect_channel(
    s: &AppState,
    account: &AccountId,
    store: &StoreId,
    body: ChannelIn,
    via: Option<switchyard_domain::ids::HostedPageId>,
) -> Result<Channel, ApiError> {
    check_text("name", &body.name, 200)?;
    let kind = ChannelKind::parse(&body.kind)?;
    if let Some(u) = &body.base_url {
        check_destination(s, "base_url", u)?;
    }
    let stock_rules = check_rules(body.stock_rules)?.unwrap_or_default();
    let settings = check_settings(&ChannelSettings::default(), body.settings)?.unwrap_or_default();
    let id = ChannelId::generate();
    let credentials = body
        .credentials
        .map(|c| seal_credentials(s, account, &id, kind, c))
        .transpose()?;
    let ch = s
        .storage
        .create_channel(
            account,
            store,
            NewChannel {
                id,
                name: body.name,
                kind,
                base_url: body.base_url,
                credentials,
                stock_rules,
                settings,
                hosted_page: via,
            },
        )
        .await?;
    s.wake.notify_one();
    Ok(ch)
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
    let ch = change_channel(&s, &auth.account_id, &store, &id, body).await?;
    Ok(Json(ch.into()))
}

/// Validate and apply a change to a channel (the API's PATCH and the
/// console's forms); new rules or a switched-on sync recompute the
/// store's stock targets.
pub(crate) async fn change_channel(
    s: &AppState,
    account: &AccountId,
    store: &StoreId,
    id: &ChannelId,
    body: ChannelPatchIn,
) -> Result<Channel, ApiError> {
    if let Some(n) = &body.name {
        check_text("name", n, 200)?;
    }
    if let Some(Some(u)) = &body.base_url {
        check_destination(s, "base_url", u)?;
    }
    let stock_rules = check_rules(body.stock_rules)?;
    // Make sure the channel is ours before sealing anything for it.
    let current = s.storage.get_channel(account, store, id).await?;
    let settings = check_settings(&current.settings, body.settings)?;
    let credentials = match body.credentials {
        None => None,
        Some(None) => Some(None),
        Some(Some(c)) => Some(Some(seal_credentials(s, account, id, current.kind, c)?)),
    };
    let restock = stock_rules.is_some_and(|r| r != current.stock_rules)
        || settings
            .as_ref()
            .is_some_and(|st| st.auto_sync_stock && !current.settings.auto_sync_stock);
    let ch = s
        .storage
        .update_channel(
            account,
            store,
            id,
            ChannelPatch {
                name: body.name,
                base_url: body.base_url,
                credentials,
                stock_rules,
                settings,
            },
        )
        .await?;
    if restock {
        // New rules or a switched-on sync change every listing's target.
        s.storage.resync_stock(account, store).await?;
    }
    s.wake.notify_one();
    Ok(ch)
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
