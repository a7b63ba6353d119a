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
use serde_json::json;
use switchyard_connectors::http::HttpPolicy;
use switchyard_connectors::registry;
use switchyard_domain::ids::ChannelId;
use switchyard_storage::JobKind;

use crate::AppState;
use crate::error::ApiError;
use crate::extract::ApiPath;
use crate::routes::channels::channel_with_credentials;

/// What an accepted notification queued.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct InboundAccepted {
    /// Always `true`.
    pub accepted: bool,
    /// The import job queued for it.
    pub job_id: i64,
    /// The order the notification names, when it names one (otherwise an
    /// import round of the channel was queued).
    pub channel_order_id: Option<String>,
}

/// Receive a channel's order notification.
///
/// No bearer token: the channel signs the body with the channel's secret
/// (Shopify `X-Shopify-Hmac-Sha256`, WooCommerce `X-WC-Webhook-Signature`,
/// …), and an unsigned or wrongly signed body is 401. The order is imported
/// at once; polling goes on regardless.
#[utoipa::path(
    post,
    path = "/v1/inbound/{channel_id}",
    tag = "inbound",
    security(()),
    params(("channel_id" = String, Path, description = "The channel the notification is for (`ch_…`)")),
    request_body(content = serde_json::Value, description = "The channel's notification body, exactly as it sent it"),
    responses(
        (status = 202, description = "Accepted: an import of the order (or a round) is queued", body = InboundAccepted),
        (status = 401, description = "The signature is missing or wrong (`invalid_signature`)", body = crate::error::ErrorBody),
        (status = 404, description = "No such channel", body = crate::error::ErrorBody),
        (status = 422, description = "The channel has no credentials to check the signature with (`channel_not_connected`)", body = crate::error::ErrorBody),
    )
)]
#[tracing::instrument(skip_all, fields(channel = %id))]
pub async fn receive(
    State(s): State<AppState>,
    ApiPath(id): ApiPath<ChannelId>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<(StatusCode, Json<InboundAccepted>), ApiError> {
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
        Json(InboundAccepted {
            accepted: true,
            job_id: job.id,
            channel_order_id: n.channel_order_id,
        }),
    ))
}
