//! `POST /v1/inbound/{channel_id}`: order notifications channels push to
//! us. No bearer token: the channel's own signature (e.g. Shopify's
//! `X-Shopify-Hmac-Sha256`, WooCommerce's `X-WC-Webhook-Signature`) is
//! checked with the channel's secret, then an import of that order is
//! queued for the engine at once. Polling continues regardless: channels
//! drop notifications.

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use serde_json::{Value, json};
use switchyard_connectors::http::HttpPolicy;
use switchyard_connectors::registry;
use switchyard_domain::ids::ChannelId;
use switchyard_storage::JobKind;

use crate::AppState;
use crate::error::ApiError;
use crate::extract::ApiPath;
use crate::routes::channels::channel_with_credentials;

/// Receive a channel's order notification.
#[tracing::instrument(skip_all, fields(channel = %id))]
pub async fn receive(
    State(s): State<AppState>,
    ApiPath(id): ApiPath<ChannelId>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let r = s
        .storage
        .find_channel(&id)
        .await?
        .ok_or_else(|| ApiError::not_found("channel"))?;
    let (ch, creds) =
        channel_with_credentials(&s, &r.account_id, &r.store_id, &r.channel_id).await?;
    let conn = registry::connect(
        ch.kind,
        ch.base_url.as_deref(),
        creds.as_deref(),
        HttpPolicy::default(),
    )
    .map_err(|e| {
        ApiError::client(
            StatusCode::UNPROCESSABLE_ENTITY,
            "channel_not_connected",
            e.to_string(),
        )
    })?;
    let n = conn.verify_notification(&headers, &body).map_err(|e| {
        tracing::warn!(error = %e, "inbound notification refused");
        ApiError::client(StatusCode::UNAUTHORIZED, "invalid_signature", e.to_string())
    })?;
    let (kind, payload) = match &n.channel_order_id {
        Some(o) => (
            JobKind::Order,
            json!({ "channel_order_id": o, "topic": n.topic }),
        ),
        None => (JobKind::Import, json!({ "topic": n.topic })),
    };
    let job = s.storage.enqueue_job(&r, kind, payload).await?;
    s.wake.notify_one();
    tracing::info!(
        job = job.id,
        order = n.channel_order_id.as_deref().unwrap_or("-"),
        "notification accepted"
    );
    Ok((
        StatusCode::ACCEPTED,
        Json(json!({ "accepted": true, "job_id": job.id, "channel_order_id": n.channel_order_id })),
    ))
}
