//! What one does with a connected channel: test its credentials, import
//! now, backfill a window, download listings, read its health and import
//! errors (and retry one), read its listings, and map channel SKUs to main
//! products. Work is handed to the engine as jobs through storage.

use std::time::{Duration, Instant};

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;
use switchyard_connectors::ConnectorError;
use switchyard_connectors::http::HttpPolicy;
use switchyard_connectors::registry;
use switchyard_domain::channel::ChannelKind;
use switchyard_domain::ids::{AccountId, ChannelId, StoreId};
use switchyard_domain::values::{Sku, check_text};
use switchyard_storage::{
    ChannelHealth, ChannelRef, ImportErrorRecord, JobKind, JobRecord, ListingRecord, SkuMapping,
};
use utoipa::{IntoParams, ToSchema};

use crate::AppState;
use crate::error::{ApiError, ErrorBody};
use crate::extract::{ApiJson, ApiPath, ApiQuery, Auth, PageQuery, encode_cursor, page_limit};
use crate::routes::channels::{ImportStateOut, channel_with_credentials};

fn channel_ref(account: &AccountId, store: StoreId, channel: ChannelId) -> ChannelRef {
    ChannelRef {
        account_id: account.clone(),
        store_id: store,
        channel_id: channel,
    }
}

/// The result of a credentials test.
#[derive(Debug, Serialize, ToSchema)]
pub struct TestOut {
    /// Whether the channel accepted the credentials.
    pub ok: bool,
    /// On failure, a stable code (`channel_auth_failed`, `channel_unreachable`, ...).
    pub code: Option<String>,
    /// What happened, in words.
    pub message: String,
    /// What to do about it.
    pub hint: Option<String>,
    /// Round trip, in milliseconds.
    pub latency_ms: u64,
}

fn hint(e: &ConnectorError) -> &'static str {
    match e {
        ConnectorError::Auth { .. } => {
            "the channel refused the credentials: check the token or key pair and its permissions (orders, products, inventory, fulfilments)"
        }
        ConnectorError::Unreachable { .. } => {
            "nothing answered at base_url: check the address, the port and that the shop is online"
        }
        ConnectorError::RateLimited { .. } => {
            "the channel is limiting requests right now; the credentials may be fine, try again shortly"
        }
        ConnectorError::Unavailable { .. } => "the channel is having trouble; try again later",
        ConnectorError::Malformed { .. } => {
            "the answer was not the channel's API: check that base_url points at the shop itself"
        }
        ConnectorError::Rejected { .. } | ConnectorError::Client { .. } => {
            "the channel refused the request: check base_url and the API version the shop allows"
        }
        ConnectorError::Unsupported { .. } => {
            "this channel cannot do that through its API; do it in the channel's own back office"
        }
        ConnectorError::Blocked { .. } => {
            "base_url is (or resolves to) an address Switchyard may not connect to; nothing was sent. A shop on a private network needs the operator's `outbound_allow`"
        }
    }
}

/// Check the stored credentials against the channel with one cheap call.
#[utoipa::path(post, path = "/v1/stores/{store_id}/channels/{channel_id}/test", tag = "channels",
    params(("store_id" = String, Path, description = "Store id"), ("channel_id" = String, Path, description = "Channel id")),
    responses((status = 200, body = TestOut), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn test_channel(
    State(s): State<AppState>,
    auth: Auth,
    ApiPath((store, id)): ApiPath<(StoreId, ChannelId)>,
) -> Result<Json<TestOut>, ApiError> {
    auth.check_store(&store)?;
    Ok(Json(
        test_credentials(&s, &auth.account_id, &store, &id).await?,
    ))
}

/// Try a channel's stored credentials with one cheap call (the API and
/// the console's Test button).
pub(crate) async fn test_credentials(
    s: &AppState,
    account: &AccountId,
    store: &StoreId,
    id: &ChannelId,
) -> Result<TestOut, ApiError> {
    let (ch, creds) = channel_with_credentials(s, account, store, id).await?;
    let creds = creds.ok_or_else(|| {
        ApiError::field(
            StatusCode::UNPROCESSABLE_ENTITY,
            "no_credentials",
            "credentials",
            "the channel has no credentials to test; PATCH them first",
        )
    })?;
    try_connection(s, ch.kind, ch.base_url.as_deref(), &creds).await
}

/// Ask a channel of `kind` at `base_url` whether it takes these (plain
/// JSON) credentials, before or after they are stored.
pub(crate) async fn try_connection(
    s: &AppState,
    kind: ChannelKind,
    base_url: Option<&str>,
    creds: &[u8],
) -> Result<TestOut, ApiError> {
    // A test answers quickly: two attempts, short timeouts.
    let policy = HttpPolicy {
        connect_timeout: Duration::from_secs(5),
        request_timeout: Duration::from_secs(15),
        max_attempts: 2,
        max_retry_after: Duration::from_secs(5),
        outbound: s.config.outbound.clone(),
        ..HttpPolicy::default()
    };
    let conn = registry::connect(kind, base_url, Some(creds), policy).map_err(|e| {
        ApiError::field(
            StatusCode::UNPROCESSABLE_ENTITY,
            "channel_not_testable",
            "channel",
            e.to_string(),
        )
    })?;
    let start = Instant::now();
    let result = conn.test_connection().await;
    let latency_ms = u64::try_from(start.elapsed().as_millis()).unwrap_or(u64::MAX);
    Ok(match result {
        Ok(()) => TestOut {
            ok: true,
            code: None,
            message: format!("{kind} accepted the credentials"),
            hint: None,
            latency_ms,
        },
        Err(e) => TestOut {
            ok: false,
            code: Some(e.code().to_owned()),
            message: e.to_string(),
            hint: Some(hint(&e).to_owned()),
            latency_ms,
        },
    })
}

/// A job handed to the engine.
#[derive(Debug, Serialize, ToSchema)]
pub struct JobOut {
    /// Job id.
    pub id: i64,
    /// `import`, `backfill`, `order` or `listings`.
    #[schema(value_type = String)]
    pub kind: JobKind,
    /// Parameters.
    pub payload: JobPayload,
    /// Attempts so far.
    pub attempts: i64,
    /// The last attempt's error.
    pub last_error: Option<String>,
    /// Enqueued.
    pub created_at: DateTime<Utc>,
    /// Finished (done, or given up with `last_error`).
    pub finished_at: Option<DateTime<Utc>>,
    /// `queued`, `running` (a live worker holds it), `stalled` (its worker
    /// stopped beating: another takes it over within seconds), `done` or
    /// `failed`.
    pub state: &'static str,
    /// The worker instance holding (or that last held) it.
    pub holder: Option<String>,
    /// That worker's last heartbeat, while it is alive.
    pub holder_heartbeat_at: Option<DateTime<Utc>>,
    /// First claimed.
    pub started_at: Option<DateTime<Utc>>,
    /// So far (backfills).
    pub progress: Option<JobProgress>,
}

/// A job's parameters; which are set depends on its kind.
#[derive(Debug, Default, Serialize, Deserialize, ToSchema)]
pub struct JobPayload {
    /// Backfill: the window's start.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<DateTime<Utc>>,
    /// Backfill: the window's end.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<DateTime<Utc>>,
    /// Order: the channel's id of the order to import.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channel_order_id: Option<String>,
    /// Order or import from a notification: its topic (`orders/create`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub topic: Option<String>,
    /// Order: the import error this retries.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_of: Option<i64>,
}

/// How far a backfill got.
#[derive(Debug, Default, Serialize, Deserialize, ToSchema)]
pub struct JobProgress {
    /// Pages read.
    #[serde(default)]
    pub pages: i64,
    /// Orders stored.
    #[serde(default)]
    pub orders: i64,
    /// Where the next page starts (the channel's cursor), while there is one.
    #[serde(default)]
    pub next_page: Option<String>,
}

impl From<JobRecord> for JobOut {
    fn from(j: JobRecord) -> Self {
        let now = Utc::now();
        let leased = j.lease_until.is_some_and(|t| t > now);
        let alive = j.holder_heartbeat_at.is_some_and(|t| {
            now - t < chrono::Duration::seconds(switchyard_storage::WORKER_STALE_AFTER_SECS)
        });
        let state = match (j.finished_at, &j.last_error) {
            (Some(_), Some(_)) => "failed",
            (Some(_), None) => "done",
            (None, _) if leased && alive => "running",
            (None, _) if leased => "stalled",
            (None, _) => "queued",
        };
        Self {
            id: j.id,
            kind: j.kind,
            // Payloads are written by this server (the API and the
            // engine); a field this version does not know is not shown.
            payload: serde_json::from_value(j.payload).unwrap_or_default(),
            attempts: j.attempts,
            last_error: j.last_error,
            created_at: j.created_at,
            finished_at: j.finished_at,
            state,
            holder: j.lease_holder,
            holder_heartbeat_at: j.holder_heartbeat_at,
            started_at: j.started_at,
            progress: j.progress.and_then(|p| serde_json::from_value(p).ok()),
        }
    }
}

/// A job handed to the engine, and whether it finished.
#[utoipa::path(get, path = "/v1/stores/{store_id}/channels/{channel_id}/jobs/{job_id}", tag = "channels",
    params(("store_id" = String, Path, description = "Store id"), ("channel_id" = String, Path, description = "Channel id"), ("job_id" = i64, Path, description = "Job id")),
    responses((status = 200, body = JobOut), (status = 404, body = ErrorBody)))]
pub async fn get_job(
    State(s): State<AppState>,
    auth: Auth,
    ApiPath((store, id, job)): ApiPath<(StoreId, ChannelId, i64)>,
) -> Result<Json<JobOut>, ApiError> {
    auth.check_store(&store)?;
    let j = s
        .storage
        .get_job(&channel_ref(&auth.account_id, store, id), job)
        .await?;
    Ok(Json(j.into()))
}

async fn enqueue(
    s: &AppState,
    auth: &Auth,
    store: StoreId,
    id: ChannelId,
    kind: JobKind,
    payload: serde_json::Value,
) -> Result<(StatusCode, Json<JobOut>), ApiError> {
    auth.check_store(&store)?;
    let job = hand_over(s, &auth.account_id, store, id, kind, payload).await?;
    Ok((StatusCode::ACCEPTED, Json(job.into())))
}

/// Hand a job for a channel to the engine and wake it.
pub(crate) async fn hand_over(
    s: &AppState,
    account: &AccountId,
    store: StoreId,
    id: ChannelId,
    kind: JobKind,
    payload: serde_json::Value,
) -> Result<JobRecord, ApiError> {
    let job = s
        .storage
        .enqueue_job(&channel_ref(account, store, id), kind, payload)
        .await?;
    s.wake.notify_one();
    Ok(job)
}

/// Import now (orders changed since the cursor), without waiting for the cadence.
#[utoipa::path(post, path = "/v1/stores/{store_id}/channels/{channel_id}/import", tag = "channels",
    params(("store_id" = String, Path, description = "Store id"), ("channel_id" = String, Path, description = "Channel id")),
    responses((status = 202, body = JobOut), (status = 404, body = ErrorBody)))]
pub async fn import_channel(
    State(s): State<AppState>,
    auth: Auth,
    ApiPath((store, id)): ApiPath<(StoreId, ChannelId)>,
) -> Result<(StatusCode, Json<JobOut>), ApiError> {
    enqueue(&s, &auth, store, id, JobKind::Import, json!({})).await
}

/// Download the channel's listings now.
#[utoipa::path(post, path = "/v1/stores/{store_id}/channels/{channel_id}/listings/download", tag = "channels",
    params(("store_id" = String, Path, description = "Store id"), ("channel_id" = String, Path, description = "Channel id")),
    responses((status = 202, body = JobOut), (status = 404, body = ErrorBody)))]
pub async fn download_listings(
    State(s): State<AppState>,
    auth: Auth,
    ApiPath((store, id)): ApiPath<(StoreId, ChannelId)>,
) -> Result<(StatusCode, Json<JobOut>), ApiError> {
    enqueue(&s, &auth, store, id, JobKind::Listings, json!({})).await
}

/// A past window to import again.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BackfillIn {
    /// Start (RFC 3339).
    pub from: DateTime<Utc>,
    /// End (RFC 3339, default now).
    pub to: Option<DateTime<Utc>>,
}

/// Re-import every order changed in a past window. Orders already imported
/// are updated, never duplicated.
#[utoipa::path(post, path = "/v1/stores/{store_id}/channels/{channel_id}/backfill", tag = "channels", request_body = BackfillIn,
    params(("store_id" = String, Path, description = "Store id"), ("channel_id" = String, Path, description = "Channel id")),
    responses((status = 202, body = JobOut), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn backfill_channel(
    State(s): State<AppState>,
    auth: Auth,
    ApiPath((store, id)): ApiPath<(StoreId, ChannelId)>,
    ApiJson(body): ApiJson<BackfillIn>,
) -> Result<(StatusCode, Json<JobOut>), ApiError> {
    let payload = backfill_window(body.from, body.to)?;
    enqueue(&s, &auth, store, id, JobKind::Backfill, payload).await
}

/// The payload of a backfill of `from`..`to` (default now), refused when
/// the window is empty or starts in the future.
pub(crate) fn backfill_window(
    from: DateTime<Utc>,
    to: Option<DateTime<Utc>>,
) -> Result<serde_json::Value, ApiError> {
    let to = to.unwrap_or_else(Utc::now);
    if from >= to {
        return Err(ApiError::field(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_window",
            "from",
            "from must be before to",
        ));
    }
    if from > Utc::now() {
        return Err(ApiError::field(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_window",
            "from",
            "from must be in the past",
        ));
    }
    Ok(json!({ "from": from, "to": to }))
}

/// A channel's health.
#[derive(Debug, Serialize, ToSchema)]
pub struct HealthOut {
    /// Import state (last success, last error, ...).
    pub import: ImportStateOut,
    /// Orders imported since midnight UTC.
    pub orders_imported_today: i64,
    /// Unresolved import errors.
    pub open_import_errors: i64,
    /// Enqueued time of the oldest stock change not yet confirmed by the channel.
    pub oldest_unpushed_stock_change: Option<DateTime<Utc>>,
    /// Stock pushes pending or failing.
    pub unpushed_stock_changes: i64,
    /// Listings that map to no main product, so get no stock: list them
    /// with `GET …/listings?unmapped=true`, then create the products or map
    /// their SKUs (`PUT …/sku-mappings/{channel_sku}`).
    pub unmapped_listings: i64,
    /// Stock pushes the channel refused or that keep failing: each listing
    /// shows its `push_error` in `GET …/listings`.
    pub failing_stock_pushes: i64,
    /// Lines of open orders that map to no product (they commit no stock):
    /// each order shows `unmapped_lines`.
    pub unmapped_order_lines: i64,
}

/// Health of a channel: last successful import, last error, orders imported
/// today, oldest unpushed stock change.
#[utoipa::path(get, path = "/v1/stores/{store_id}/channels/{channel_id}/health", tag = "channels",
    params(("store_id" = String, Path, description = "Store id"), ("channel_id" = String, Path, description = "Channel id")),
    responses((status = 200, body = HealthOut), (status = 404, body = ErrorBody)))]
pub async fn channel_health(
    State(s): State<AppState>,
    auth: Auth,
    ApiPath((store, id)): ApiPath<(StoreId, ChannelId)>,
) -> Result<Json<HealthOut>, ApiError> {
    auth.check_store(&store)?;
    let ch = s.storage.get_channel(&auth.account_id, &store, &id).await?;
    let ChannelHealth {
        orders_imported_today,
        open_import_errors,
        oldest_unpushed_stock_change,
        unpushed_stock_changes,
        unmapped_listings,
        failing_stock_pushes,
        unmapped_order_lines,
    } = s
        .storage
        .channel_health(&auth.account_id, &store, &id)
        .await?;
    Ok(Json(HealthOut {
        import: ch.sync.into(),
        orders_imported_today,
        open_import_errors,
        oldest_unpushed_stock_change,
        unpushed_stock_changes,
        unmapped_listings,
        failing_stock_pushes,
        unmapped_order_lines,
    }))
}

/// `?all=&limit=&cursor=` of the error list.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ErrorsQuery {
    /// Include resolved errors too.
    pub all: Option<bool>,
    /// Items per page.
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<u32>,
    /// Cursor of the previous page.
    #[param(min_length = 1)]
    pub cursor: Option<String>,
}

/// A page of import errors.
#[derive(Debug, Serialize, ToSchema)]
pub struct ImportErrorList {
    /// Errors, newest first.
    pub items: Vec<ImportErrorRecord>,
    /// Cursor of the next page.
    pub next_cursor: Option<String>,
    /// The channel's other problems, each with its count and where to see
    /// them (only those that have any).
    pub problems: Vec<ProblemOut>,
}

/// A kind of problem with a channel's data, counted.
#[derive(Debug, Serialize, ToSchema)]
pub struct ProblemOut {
    /// `unmapped_listings`, `failing_stock_pushes` or `unmapped_order_lines`.
    pub code: &'static str,
    /// How many.
    pub count: i64,
    /// What it means and what to do.
    pub message: &'static str,
    /// Where to see them.
    pub see: String,
}

fn problems(store: &StoreId, ch: &ChannelId, h: &ChannelHealth) -> Vec<ProblemOut> {
    let base = format!("/v1/stores/{store}/channels/{ch}");
    [
        (
            "unmapped_listings",
            h.unmapped_listings,
            "listings whose SKU matches no main product get no stock: create the products or map their SKUs (PUT …/sku-mappings/{channel_sku})",
            format!("{base}/listings?unmapped=true"),
        ),
        (
            "failing_stock_pushes",
            h.failing_stock_pushes,
            "stock pushes the channel refused or that keep failing; each listing shows the channel's push_error",
            format!("{base}/listings"),
        ),
        (
            "unmapped_order_lines",
            h.unmapped_order_lines,
            "lines of open orders that map to no product commit no stock; each order shows unmapped_lines, and order_filters.unmapped_lines: \"hold\" holds such orders",
            format!("/v1/orders?channel_id={ch}"),
        ),
    ]
    .into_iter()
    .filter(|p| p.1 > 0)
    .map(|(code, count, message, see)| ProblemOut {
        code,
        count,
        message,
        see,
    })
    .collect()
}

/// Orders the channel sent that could not be imported (unresolved only,
/// unless `all=true`), and the counts of the channel's other problems
/// (`problems`: unmapped listings, failing stock pushes, unmapped order lines).
#[utoipa::path(get, path = "/v1/stores/{store_id}/channels/{channel_id}/errors", tag = "channels",
    params(("store_id" = String, Path, description = "Store id"), ("channel_id" = String, Path, description = "Channel id"), ErrorsQuery),
    responses((status = 200, body = ImportErrorList), (status = 404, body = ErrorBody)))]
pub async fn list_import_errors(
    State(s): State<AppState>,
    auth: Auth,
    ApiPath((store, id)): ApiPath<(StoreId, ChannelId)>,
    ApiQuery(q): ApiQuery<ErrorsQuery>,
) -> Result<Json<ImportErrorList>, ApiError> {
    auth.check_store(&store)?;
    let page = PageQuery {
        limit: Some(page_limit(q.limit)?),
        cursor: q.cursor,
    }
    .to_request(|k| k.parse::<i64>().is_ok())?;
    let p = s
        .storage
        .list_import_errors(&auth.account_id, &store, &id, q.all.unwrap_or(false), &page)
        .await?;
    let health = s
        .storage
        .channel_health(&auth.account_id, &store, &id)
        .await?;
    Ok(Json(ImportErrorList {
        items: p.items,
        next_cursor: p.next.as_deref().map(encode_cursor),
        problems: problems(&store, &id, &health),
    }))
}

/// Retry a failed import: fetch that order from the channel again and import it.
#[utoipa::path(post, path = "/v1/stores/{store_id}/channels/{channel_id}/errors/{error_id}/retry", tag = "channels",
    params(("store_id" = String, Path, description = "Store id"), ("channel_id" = String, Path, description = "Channel id"), ("error_id" = i64, Path, description = "Import error id")),
    responses((status = 202, body = JobOut), (status = 404, body = ErrorBody)))]
pub async fn retry_import_error(
    State(s): State<AppState>,
    auth: Auth,
    ApiPath((store, id, error_id)): ApiPath<(StoreId, ChannelId, i64)>,
) -> Result<(StatusCode, Json<JobOut>), ApiError> {
    auth.check_store(&store)?;
    let job = retry_import(&s, &auth.account_id, store, id, error_id).await?;
    Ok((StatusCode::ACCEPTED, Json(job.into())))
}

/// Fetch the order of an import error from the channel again.
pub(crate) async fn retry_import(
    s: &AppState,
    account: &AccountId,
    store: StoreId,
    id: ChannelId,
    error_id: i64,
) -> Result<JobRecord, ApiError> {
    let e = s
        .storage
        .get_import_error(account, &store, &id, error_id)
        .await?;
    let payload = json!({ "channel_order_id": e.channel_order_id, "retry_of": e.id });
    hand_over(s, account, store, id, JobKind::Order, payload).await
}

/// Mark an import error as dealt with outside Switchyard (the order was
/// entered by hand, or is not wanted): it leaves the open list and the
/// channel's health, with the token that did it recorded. It opens again
/// if the order fails to import later.
#[utoipa::path(post, path = "/v1/stores/{store_id}/channels/{channel_id}/errors/{error_id}/handle-manually", tag = "channels",
    params(("store_id" = String, Path, description = "Store id"), ("channel_id" = String, Path, description = "Channel id"), ("error_id" = i64, Path, description = "Import error id")),
    responses((status = 200, body = ImportErrorRecord), (status = 404, body = ErrorBody)))]
pub async fn handle_import_error_manually(
    State(s): State<AppState>,
    auth: Auth,
    ApiPath((store, id, error_id)): ApiPath<(StoreId, ChannelId, i64)>,
) -> Result<Json<ImportErrorRecord>, ApiError> {
    auth.check_store(&store)?;
    let e = s
        .storage
        .handle_import_error_manually(
            &auth.account_id,
            &store,
            &id,
            error_id,
            auth.token_id.as_str(),
        )
        .await?;
    Ok(Json(e))
}

/// A page of listings.
#[derive(Debug, Serialize, ToSchema)]
pub struct ListingList {
    /// Listings with their push state.
    pub items: Vec<ListingRecord>,
    /// Cursor of the next page.
    pub next_cursor: Option<String>,
}

/// `?unmapped=&limit=&cursor=` of the listings.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListingsQuery {
    /// Only listings that map to no main product (they get no stock).
    pub unmapped: Option<bool>,
    /// Items per page.
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<u32>,
    /// Cursor of the previous page.
    #[param(min_length = 1)]
    pub cursor: Option<String>,
}

/// The channel's listings, their mapping to main products and where their
/// stock push stands (`pending`, `sent`, `skipped`, `error` with the channel's message).
#[utoipa::path(get, path = "/v1/stores/{store_id}/channels/{channel_id}/listings", tag = "channels",
    params(("store_id" = String, Path, description = "Store id"), ("channel_id" = String, Path, description = "Channel id"), ListingsQuery),
    responses((status = 200, body = ListingList), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn list_listings(
    State(s): State<AppState>,
    auth: Auth,
    ApiPath((store, id)): ApiPath<(StoreId, ChannelId)>,
    ApiQuery(q): ApiQuery<ListingsQuery>,
) -> Result<Json<ListingList>, ApiError> {
    auth.check_store(&store)?;
    let page = PageQuery {
        limit: Some(page_limit(q.limit)?),
        cursor: q.cursor,
    }
    .to_request(|k| !k.is_empty())?;
    let p = s
        .storage
        .list_listings(
            &auth.account_id,
            &store,
            &id,
            &page,
            q.unmapped.unwrap_or(false),
        )
        .await?;
    Ok(Json(ListingList {
        items: p.items,
        next_cursor: p.next.as_deref().map(encode_cursor),
    }))
}

/// A mapping to create.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SkuMappingIn {
    /// The main product SKU the channel SKU stands for.
    pub sku: String,
}

/// Manual SKU mappings of a channel.
#[derive(Debug, Serialize, ToSchema)]
pub struct SkuMappingList {
    /// Mappings by channel SKU.
    pub items: Vec<SkuMapping>,
}

/// List the channel's manual SKU mappings.
#[utoipa::path(get, path = "/v1/stores/{store_id}/channels/{channel_id}/sku-mappings", tag = "channels",
    params(("store_id" = String, Path, description = "Store id"), ("channel_id" = String, Path, description = "Channel id")),
    responses((status = 200, body = SkuMappingList), (status = 404, body = ErrorBody)))]
pub async fn list_sku_mappings(
    State(s): State<AppState>,
    auth: Auth,
    ApiPath((store, id)): ApiPath<(StoreId, ChannelId)>,
) -> Result<Json<SkuMappingList>, ApiError> {
    auth.check_store(&store)?;
    let items = s
        .storage
        .list_sku_mappings(&auth.account_id, &store, &id)
        .await?;
    Ok(Json(SkuMappingList { items }))
}

/// Map a channel SKU to a main product whose SKU differs. Listings and
/// future order lines with that channel SKU follow the mapping.
#[utoipa::path(put, path = "/v1/stores/{store_id}/channels/{channel_id}/sku-mappings/{channel_sku}", tag = "channels", request_body = SkuMappingIn,
    params(("store_id" = String, Path, description = "Store id"), ("channel_id" = String, Path, description = "Channel id"), ("channel_sku" = String, Path, description = "SKU as the channel spells it")),
    responses((status = 200, body = SkuMapping), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn put_sku_mapping(
    State(s): State<AppState>,
    auth: Auth,
    ApiPath((store, id, channel_sku)): ApiPath<(StoreId, ChannelId, String)>,
    ApiJson(body): ApiJson<SkuMappingIn>,
) -> Result<Json<SkuMapping>, ApiError> {
    auth.check_store(&store)?;
    check_text("channel_sku", &channel_sku, 255)?;
    let sku = Sku::parse(&body.sku)?;
    let m = s
        .storage
        .set_sku_mapping(&auth.account_id, &store, &id, &channel_sku, &sku)
        .await?;
    s.wake.notify_one();
    Ok(Json(m))
}

/// Remove a manual SKU mapping.
#[utoipa::path(delete, path = "/v1/stores/{store_id}/channels/{channel_id}/sku-mappings/{channel_sku}", tag = "channels",
    params(("store_id" = String, Path, description = "Store id"), ("channel_id" = String, Path, description = "Channel id"), ("channel_sku" = String, Path, description = "SKU as the channel spells it")),
    responses((status = 204), (status = 404, body = ErrorBody)))]
pub async fn delete_sku_mapping(
    State(s): State<AppState>,
    auth: Auth,
    ApiPath((store, id, channel_sku)): ApiPath<(StoreId, ChannelId, String)>,
) -> Result<StatusCode, ApiError> {
    auth.check_store(&store)?;
    s.storage
        .delete_sku_mapping(&auth.account_id, &store, &id, &channel_sku)
        .await?;
    s.wake.notify_one();
    Ok(StatusCode::NO_CONTENT)
}
