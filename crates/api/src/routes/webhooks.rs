//! Webhook subscriptions of a store, their secrets, the delivery log,
//! replays and test events. Messages themselves are made by the engine
//! from the journal; see the README's "Webhooks" section for the wire
//! format and the signature.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use switchyard_domain::ids::{AccountId, MessageId, StoreId, WebhookId};
use switchyard_domain::webhook::{EventType, TEST_EVENT_TYPE};
use switchyard_storage::{
    AttemptRecord, MessageDelivery, NewWebhookEndpoint, NewWebhookMessage, WebhookEndpoint,
    WebhookPatch,
};
use utoipa::{IntoParams, ToSchema};

use crate::AppState;
use crate::error::{ApiError, ErrorBody};
use crate::extract::{ApiJson, ApiPath, ApiQuery, Auth, PageQuery, encode_cursor, page_limit};
use crate::routes::destination::check_destination;

/// How long the secret before a rotation keeps signing.
const ROTATION_OVERLAP_HOURS: i64 = 24;

/// A new subscription.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WebhookIn {
    /// `http(s)://` URL messages are POSTed to. Private, loopback and
    /// metadata addresses are refused unless the operator allows them.
    pub url: String,
    /// Event types wanted, e.g. `["order.created", "fulfilment.updated"]`;
    /// omitted or empty means every event.
    #[serde(default)]
    pub events: Vec<String>,
    /// What it is for.
    pub description: Option<String>,
    /// Whether messages are sent (default true).
    pub enabled: Option<bool>,
}

/// A change to a subscription; absent fields stay as they are.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WebhookPatchIn {
    /// New URL.
    #[serde(default, deserialize_with = "super::not_null")]
    #[schema(nullable = false)]
    pub url: Option<String>,
    /// New event filter (empty: every event).
    #[serde(default, deserialize_with = "super::not_null")]
    #[schema(nullable = false)]
    pub events: Option<Vec<String>>,
    /// New description (`null` clears it).
    #[serde(default, deserialize_with = "super::nullable")]
    #[schema(value_type = Option<String>)]
    pub description: Option<Option<String>>,
    /// Enable (which also clears why Switchyard disabled it) or disable.
    #[serde(default, deserialize_with = "super::not_null")]
    #[schema(nullable = false)]
    pub enabled: Option<bool>,
}

/// A subscription with its signing secret (shown on creation and rotation).
#[derive(Debug, Serialize, ToSchema)]
pub struct WebhookCreatedOut {
    /// The subscription.
    #[serde(flatten)]
    pub webhook: WebhookEndpoint,
    /// `whsec_` + base64 of 32 random bytes: the key of the HMAC-SHA256
    /// signature (Standard Webhooks).
    pub secret: String,
}

/// The secrets messages are signed with.
#[derive(Debug, Serialize, ToSchema)]
pub struct SecretOut {
    /// The current secret.
    pub secret: String,
    /// The secret before the last rotation, while it still signs.
    pub previous_secret: Option<String>,
    /// Until when it does.
    pub previous_valid_until: Option<DateTime<Utc>>,
}

/// A page of subscriptions.
#[derive(Debug, Serialize, ToSchema)]
pub struct WebhookList {
    /// Subscriptions, by id.
    pub items: Vec<WebhookEndpoint>,
    /// Cursor of the next page.
    pub next_cursor: Option<String>,
}

/// Filters of the message list.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct MessagesQuery {
    /// Only this delivery state (`pending`, `succeeded`, `failed`).
    pub state: Option<String>,
    /// Items per page (default 100, at most 1000).
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<u32>,
    /// Cursor of the previous page.
    #[param(min_length = 1)]
    pub cursor: Option<String>,
}

/// A page of messages as one endpoint saw them, newest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct MessageList {
    /// Messages with their delivery state and body.
    pub items: Vec<MessageDelivery>,
    /// Cursor of the next page.
    pub next_cursor: Option<String>,
}

/// Filters of the delivery log.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AttemptsQuery {
    /// Only attempts of this message.
    pub message_id: Option<String>,
    /// Items per page (default 100, at most 1000).
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<u32>,
    /// Cursor of the previous page.
    #[param(min_length = 1)]
    pub cursor: Option<String>,
}

/// A page of the delivery log, newest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct AttemptList {
    /// Attempts: status, latency, the first 4 KiB of the answer.
    pub items: Vec<AttemptRecord>,
    /// Cursor of the next page.
    pub next_cursor: Option<String>,
}

/// Which messages to send again.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReplayIn {
    /// Messages since this time (RFC 3339).
    pub since: DateTime<Utc>,
    /// Only those not delivered (default true); false sends delivered ones again too.
    pub only_failed: Option<bool>,
}

/// How many messages were queued again.
#[derive(Debug, Serialize, ToSchema)]
pub struct ReplayOut {
    /// Messages queued.
    pub replayed: u64,
}

/// The test message queued.
#[derive(Debug, Serialize, ToSchema)]
pub struct TestEventOut {
    /// Its id (the `webhook-id` it is sent with).
    #[schema(value_type = String)]
    pub message_id: MessageId,
}

fn bad(field: &str, code: &'static str, message: impl Into<String>) -> ApiError {
    ApiError::field(StatusCode::UNPROCESSABLE_ENTITY, code, field, message)
}

fn parse_events(raw: &[String]) -> Result<Vec<EventType>, ApiError> {
    let mut out = raw
        .iter()
        .enumerate()
        .map(|(i, e)| {
            EventType::parse(e).map_err(|err| bad(&format!("events[{i}]"), err.code, err.message))
        })
        .collect::<Result<Vec<_>, _>>()?;
    out.sort();
    out.dedup();
    Ok(out)
}

fn check_description(d: Option<String>) -> Result<Option<String>, ApiError> {
    match d {
        Some(d) if d.chars().count() > 500 => Err(bad(
            "description",
            "invalid_description",
            "description is longer than 500 characters",
        )),
        d => Ok(d),
    }
}

/// `whsec_` + base64 of 32 random bytes.
pub(crate) fn new_secret() -> Result<String, ApiError> {
    let mut b = [0u8; 32];
    getrandom::fill(&mut b)
        .map_err(|e| ApiError::internal(std::io::Error::other(e.to_string())))?;
    Ok(format!("whsec_{}", STANDARD.encode(b)))
}

/// Seal a signing secret for its owner (a webhook or plugin id).
pub(crate) fn seal(
    s: &AppState,
    account: &AccountId,
    owner: &str,
    secret: &str,
) -> Result<Vec<u8>, ApiError> {
    s.cipher
        .seal_for(account, owner, secret.as_bytes())
        .map_err(ApiError::internal)
}

/// Open a signing secret sealed for `owner`.
pub(crate) fn open(
    s: &AppState,
    account: &AccountId,
    owner: &str,
    sealed: &[u8],
) -> Result<String, ApiError> {
    s.cipher
        .open_text_for(account, owner, sealed)
        .map_err(ApiError::internal)
}

/// The subscription, if the caller may reach its store.
async fn in_scope(s: &AppState, auth: &Auth, id: &WebhookId) -> Result<WebhookEndpoint, ApiError> {
    let e = s.storage.get_webhook(&auth.account_id, id).await?;
    auth.check_store(&e.store_id)
        .map_err(|_| ApiError::not_found("webhook"))?;
    Ok(e)
}

/// Subscribe an endpoint to a store's events. The answer carries the
/// signing secret.
#[utoipa::path(post, path = "/v1/stores/{store_id}/webhooks", tag = "webhooks", request_body = WebhookIn,
    params(("store_id" = String, Path, description = "Store id")),
    responses((status = 201, body = WebhookCreatedOut), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn create_webhook(
    State(s): State<AppState>,
    auth: Auth,
    ApiPath(store): ApiPath<StoreId>,
    ApiJson(body): ApiJson<WebhookIn>,
) -> Result<(StatusCode, Json<WebhookCreatedOut>), ApiError> {
    auth.check_store(&store)?;
    let created = subscribe(&s, &auth.account_id, &store, body).await?;
    Ok((StatusCode::CREATED, Json(created)))
}

/// Validate and make a subscription with a fresh secret (the API and the
/// console).
pub(crate) async fn subscribe(
    s: &AppState,
    account: &AccountId,
    store: &StoreId,
    body: WebhookIn,
) -> Result<WebhookCreatedOut, ApiError> {
    let url = check_destination(s, "url", &body.url)?;
    let events = parse_events(&body.events)?;
    let id = WebhookId::generate();
    let secret = new_secret()?;
    let new = NewWebhookEndpoint {
        id: id.clone(),
        url,
        description: check_description(body.description)?,
        events,
        enabled: body.enabled.unwrap_or(true),
        secret: seal(s, account, id.as_str(), &secret)?,
    };
    let webhook = s.storage.create_webhook(account, store, new).await?;
    Ok(WebhookCreatedOut { webhook, secret })
}

/// A store's subscriptions.
#[utoipa::path(get, path = "/v1/stores/{store_id}/webhooks", tag = "webhooks",
    params(("store_id" = String, Path, description = "Store id"), PageQuery),
    responses((status = 200, body = WebhookList), (status = 404, body = ErrorBody)))]
pub async fn list_webhooks(
    State(s): State<AppState>,
    auth: Auth,
    ApiPath(store): ApiPath<StoreId>,
    ApiQuery(q): ApiQuery<PageQuery>,
) -> Result<Json<WebhookList>, ApiError> {
    auth.check_store(&store)?;
    let page = q.to_request(|k| WebhookId::parse(k).is_ok())?;
    let p = s
        .storage
        .list_webhooks(&auth.account_id, &store, &page)
        .await?;
    Ok(Json(WebhookList {
        items: p.items,
        next_cursor: p.next.as_deref().map(encode_cursor),
    }))
}

/// One subscription.
#[utoipa::path(get, path = "/v1/webhooks/{webhook_id}", tag = "webhooks",
    params(("webhook_id" = String, Path, description = "Webhook id")),
    responses((status = 200, body = WebhookEndpoint), (status = 404, body = ErrorBody)))]
pub async fn get_webhook(
    State(s): State<AppState>,
    auth: Auth,
    ApiPath(id): ApiPath<WebhookId>,
) -> Result<Json<WebhookEndpoint>, ApiError> {
    Ok(Json(in_scope(&s, &auth, &id).await?))
}

/// Change a subscription. Enabling one Switchyard disabled (410 Gone,
/// failing for 5 days) resumes its pending messages.
#[utoipa::path(patch, path = "/v1/webhooks/{webhook_id}", tag = "webhooks", request_body = WebhookPatchIn,
    params(("webhook_id" = String, Path, description = "Webhook id")),
    responses((status = 200, body = WebhookEndpoint), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn update_webhook(
    State(s): State<AppState>,
    auth: Auth,
    ApiPath(id): ApiPath<WebhookId>,
    ApiJson(body): ApiJson<WebhookPatchIn>,
) -> Result<Json<WebhookEndpoint>, ApiError> {
    in_scope(&s, &auth, &id).await?;
    Ok(Json(change_webhook(&s, &auth.account_id, &id, body).await?))
}

/// Validate and apply a change to a subscription (the API and the console).
pub(crate) async fn change_webhook(
    s: &AppState,
    account: &AccountId,
    id: &WebhookId,
    body: WebhookPatchIn,
) -> Result<WebhookEndpoint, ApiError> {
    let patch = WebhookPatch {
        url: body
            .url
            .as_deref()
            .map(|u| check_destination(s, "url", u))
            .transpose()?,
        description: body.description.map(check_description).transpose()?,
        events: body.events.as_deref().map(parse_events).transpose()?,
        enabled: body.enabled,
    };
    Ok(s.storage.update_webhook(account, id, patch).await?)
}

/// Delete a subscription with its pending messages and log.
#[utoipa::path(delete, path = "/v1/webhooks/{webhook_id}", tag = "webhooks",
    params(("webhook_id" = String, Path, description = "Webhook id")),
    responses((status = 204), (status = 404, body = ErrorBody)))]
pub async fn delete_webhook(
    State(s): State<AppState>,
    auth: Auth,
    ApiPath(id): ApiPath<WebhookId>,
) -> Result<StatusCode, ApiError> {
    in_scope(&s, &auth, &id).await?;
    s.storage.delete_webhook(&auth.account_id, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The signing secrets: the current one and, for 24 hours after a
/// rotation, the previous one.
#[utoipa::path(get, path = "/v1/webhooks/{webhook_id}/secret", tag = "webhooks",
    params(("webhook_id" = String, Path, description = "Webhook id")),
    responses((status = 200, body = SecretOut), (status = 404, body = ErrorBody)))]
pub async fn get_webhook_secret(
    State(s): State<AppState>,
    auth: Auth,
    ApiPath(id): ApiPath<WebhookId>,
) -> Result<Json<SecretOut>, ApiError> {
    let e = in_scope(&s, &auth, &id).await?;
    Ok(Json(secrets(&s, &auth.account_id, &e).await?))
}

/// The signing secrets of a subscription, opened.
pub(crate) async fn secrets(
    s: &AppState,
    account: &AccountId,
    e: &WebhookEndpoint,
) -> Result<SecretOut, ApiError> {
    let id = &e.id;
    let sealed = s.storage.webhook_secrets(account, id).await?;
    let previous = sealed
        .previous
        .as_deref()
        .map(|p| open(s, account, id.as_str(), p))
        .transpose()?;
    Ok(SecretOut {
        secret: open(s, account, id.as_str(), &sealed.current)?,
        previous_valid_until: previous.as_ref().and(e.previous_secret_expires_at),
        previous_secret: previous,
    })
}

/// Replace the signing secret. For 24 hours messages carry signatures with
/// both the new and the old secret, so receivers can switch without losing
/// a message.
#[utoipa::path(post, path = "/v1/webhooks/{webhook_id}/secret/rotate", tag = "webhooks",
    params(("webhook_id" = String, Path, description = "Webhook id")),
    responses((status = 200, body = SecretOut), (status = 404, body = ErrorBody)))]
pub async fn rotate_webhook_secret(
    State(s): State<AppState>,
    auth: Auth,
    ApiPath(id): ApiPath<WebhookId>,
) -> Result<Json<SecretOut>, ApiError> {
    in_scope(&s, &auth, &id).await?;
    Ok(Json(rotate(&s, &auth.account_id, &id).await?))
}

/// Replace a subscription's secret; the old one signs for 24 hours more.
pub(crate) async fn rotate(
    s: &AppState,
    account: &AccountId,
    id: &WebhookId,
) -> Result<SecretOut, ApiError> {
    let old = s.storage.webhook_secrets(account, id).await?;
    let secret = new_secret()?;
    let until = Utc::now() + chrono::Duration::hours(ROTATION_OVERLAP_HOURS);
    s.storage
        .rotate_webhook_secret(account, id, seal(s, account, id.as_str(), &secret)?, until)
        .await?;
    Ok(SecretOut {
        secret,
        previous_secret: Some(open(s, account, id.as_str(), &old.current)?),
        previous_valid_until: Some(until),
    })
}

/// Queue a `webhook.test` message to this endpoint only (even when it is
/// disabled it is queued; it is sent once the endpoint is enabled).
#[utoipa::path(post, path = "/v1/webhooks/{webhook_id}/test", tag = "webhooks",
    params(("webhook_id" = String, Path, description = "Webhook id")),
    responses((status = 202, body = TestEventOut), (status = 404, body = ErrorBody)))]
pub async fn send_test_event(
    State(s): State<AppState>,
    auth: Auth,
    ApiPath(id): ApiPath<WebhookId>,
) -> Result<(StatusCode, Json<TestEventOut>), ApiError> {
    let e = in_scope(&s, &auth, &id).await?;
    let message_id = queue_test(&s, &auth.account_id, &e).await?;
    Ok((StatusCode::ACCEPTED, Json(TestEventOut { message_id })))
}

/// Queue a `webhook.test` message to one subscription.
pub(crate) async fn queue_test(
    s: &AppState,
    account: &AccountId,
    e: &WebhookEndpoint,
) -> Result<MessageId, ApiError> {
    let message_id = MessageId::generate();
    let now = Utc::now();
    let body = serde_json::json!({
        "type": TEST_EVENT_TYPE,
        "timestamp": now,
        "data": { "webhook_id": e.id, "store_id": e.store_id, "message": "This is a test event from Switchyard." },
    });
    s.storage
        .enqueue_message(NewWebhookMessage {
            id: message_id.clone(),
            account_id: account.clone(),
            store_id: e.store_id.clone(),
            event_type: TEST_EVENT_TYPE.to_owned(),
            journal_seq: None,
            entity_key: None,
            body: body.to_string(),
            created_at: now,
            endpoints: vec![e.id.clone()],
        })
        .await?;
    Ok(message_id)
}

/// Messages of this endpoint with their delivery state, newest first.
#[utoipa::path(get, path = "/v1/webhooks/{webhook_id}/messages", tag = "webhooks",
    params(("webhook_id" = String, Path, description = "Webhook id"), MessagesQuery),
    responses((status = 200, body = MessageList), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn list_webhook_messages(
    State(s): State<AppState>,
    auth: Auth,
    ApiPath(id): ApiPath<WebhookId>,
    ApiQuery(q): ApiQuery<MessagesQuery>,
) -> Result<Json<MessageList>, ApiError> {
    in_scope(&s, &auth, &id).await?;
    if let Some(st) = q.state.as_deref()
        && !matches!(st, "pending" | "succeeded" | "failed")
    {
        return Err(ApiError::field(
            StatusCode::BAD_REQUEST,
            "invalid_query",
            "state",
            "state is one of pending, succeeded, failed",
        ));
    }
    let page = PageQuery {
        limit: Some(page_limit(q.limit)?),
        cursor: q.cursor,
    }
    .to_request(|k| MessageId::parse(k).is_ok())?;
    let p = s
        .storage
        .list_webhook_messages(&auth.account_id, &id, q.state.as_deref(), &page)
        .await?;
    Ok(Json(MessageList {
        items: p.items,
        next_cursor: p.next.as_deref().map(encode_cursor),
    }))
}

/// The delivery log of this endpoint: every attempt with its status,
/// latency and the first 4 KiB of the answer, newest first.
#[utoipa::path(get, path = "/v1/webhooks/{webhook_id}/attempts", tag = "webhooks",
    params(("webhook_id" = String, Path, description = "Webhook id"), AttemptsQuery),
    responses((status = 200, body = AttemptList), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn list_webhook_attempts(
    State(s): State<AppState>,
    auth: Auth,
    ApiPath(id): ApiPath<WebhookId>,
    ApiQuery(q): ApiQuery<AttemptsQuery>,
) -> Result<Json<AttemptList>, ApiError> {
    in_scope(&s, &auth, &id).await?;
    let message = q
        .message_id
        .as_deref()
        .map(|m| {
            MessageId::parse(m).map_err(|e| {
                ApiError::field(
                    StatusCode::BAD_REQUEST,
                    "invalid_query",
                    "message_id",
                    e.message,
                )
            })
        })
        .transpose()?;
    let page = PageQuery {
        limit: Some(page_limit(q.limit)?),
        cursor: q.cursor,
    }
    .to_request(|k| k.parse::<i64>().is_ok())?;
    let p = s
        .storage
        .list_webhook_attempts(&auth.account_id, &id, message.as_ref(), &page)
        .await?;
    Ok(Json(AttemptList {
        items: p.items,
        next_cursor: p.next.as_deref().map(encode_cursor),
    }))
}

/// Send one message to this endpoint again, now, from the start of the
/// retry schedule (same `webhook-id`).
#[utoipa::path(post, path = "/v1/webhooks/{webhook_id}/messages/{message_id}/replay", tag = "webhooks",
    params(("webhook_id" = String, Path, description = "Webhook id"), ("message_id" = String, Path, description = "Message id")),
    responses((status = 202, body = MessageDelivery), (status = 404, body = ErrorBody)))]
pub async fn replay_message(
    State(s): State<AppState>,
    auth: Auth,
    ApiPath((id, message)): ApiPath<(WebhookId, MessageId)>,
) -> Result<(StatusCode, Json<MessageDelivery>), ApiError> {
    in_scope(&s, &auth, &id).await?;
    let d = s
        .storage
        .replay_message(&auth.account_id, &id, &message, Utc::now())
        .await?;
    Ok((StatusCode::ACCEPTED, Json(d)))
}

/// Send again every message since a time that this endpoint wants (by
/// default only those it has not received).
#[utoipa::path(post, path = "/v1/webhooks/{webhook_id}/replay", tag = "webhooks", request_body = ReplayIn,
    params(("webhook_id" = String, Path, description = "Webhook id")),
    responses((status = 202, body = ReplayOut), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn replay_webhook(
    State(s): State<AppState>,
    auth: Auth,
    ApiPath(id): ApiPath<WebhookId>,
    ApiJson(body): ApiJson<ReplayIn>,
) -> Result<(StatusCode, Json<ReplayOut>), ApiError> {
    in_scope(&s, &auth, &id).await?;
    let replayed = replay(&s, &auth.account_id, &id, body).await?;
    Ok((StatusCode::ACCEPTED, Json(ReplayOut { replayed })))
}

/// Queue again what a subscription wants since a time.
pub(crate) async fn replay(
    s: &AppState,
    account: &AccountId,
    id: &WebhookId,
    body: ReplayIn,
) -> Result<u64, ApiError> {
    let now = Utc::now();
    if body.since > now {
        return Err(bad("since", "invalid_since", "since is in the future"));
    }
    Ok(s.storage
        .replay_since(
            account,
            id,
            body.since,
            body.only_failed.unwrap_or(true),
            now,
        )
        .await?)
}
