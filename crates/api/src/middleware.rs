//! Request middleware: bearer authentication and `Idempotency-Key` handling.

use axum::body::{Body, to_bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};
use switchyard_storage::IdempotencyBegin;

use crate::AppState;
use crate::error::ApiError;
use crate::extract::{Auth, payload_too_large};
use crate::tokens;

/// Resolve `Authorization: Bearer sy_...` into an [`Auth`] extension.
pub async fn authenticate(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    let header = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    let Some(secret) = header.and_then(|h| {
        h.strip_prefix("Bearer ")
            .or_else(|| h.strip_prefix("bearer "))
    }) else {
        return unauthorized("send an API token as `Authorization: Bearer sy_...`");
    };
    let secret = secret.trim();
    if !secret.starts_with(tokens::TOKEN_PREFIX) {
        return unauthorized("the bearer token is not a Switchyard API token");
    }
    let record = match state
        .storage
        .find_token_by_hash(&tokens::hash(secret))
        .await
    {
        Ok(Some(r)) => r,
        Ok(None) => return unauthorized("the API token is unknown or revoked"),
        Err(e) => return ApiError::from(e).into_response(),
    };
    if record.use_is_stale(chrono::Utc::now())
        && let Err(e) = state.storage.touch_token(&record.id).await
    {
        tracing::warn!(error = %e, "could not record token use");
    }
    tracing::Span::current().record("account", tracing::field::display(&record.account_id));
    if let Some(plugin) = &record.plugin_id
        && !plugin_route(req.uri().path(), plugin.as_str())
    {
        return ApiError::forbidden(format!(
            "a plugin token can only use its plugin's routes under /v1/plugins/{plugin}"
        ))
        .into_response();
    }
    req.extensions_mut().insert(Auth {
        account_id: record.account_id,
        token_id: record.id,
        store_scope: record.store_id,
        plugin_scope: record.plugin_id,
    });
    next.run(req).await
}

/// Whether `path` is one of plugin `id`'s own routes.
fn plugin_route(path: &str, id: &str) -> bool {
    path.strip_prefix("/v1/plugins/")
        .and_then(|rest| rest.strip_prefix(id))
        .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
}

fn unauthorized(message: &str) -> Response {
    let mut resp =
        ApiError::client(StatusCode::UNAUTHORIZED, "unauthorized", message).into_response();
    resp.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static("Bearer realm=\"switchyard\""),
    );
    resp
}

/// Header naming an idempotency key.
pub const IDEMPOTENCY_KEY: &str = "idempotency-key";
/// Header set on a replayed response.
pub const IDEMPOTENT_REPLAYED: &str = "idempotent-replayed";

/// Honour `Idempotency-Key` on POST: the same key with the same request
/// replays the first response; with a different request it is refused (422);
/// while the first is still running, a retry gets 409. Keys are per account
/// and kept for 24 hours. Responses with 5xx are not kept, so the request can
/// be retried.
pub async fn idempotency(State(state): State<AppState>, req: Request, next: Next) -> Response {
    if req.method() != Method::POST {
        return next.run(req).await;
    }
    let Some(key) = req.headers().get(IDEMPOTENCY_KEY) else {
        return next.run(req).await;
    };
    let key = match key.to_str() {
        Ok(k) if !k.is_empty() && k.len() <= 255 && k.bytes().all(|b| b.is_ascii_graphic()) => {
            k.to_owned()
        }
        _ => {
            return ApiError::client(
                StatusCode::BAD_REQUEST,
                "invalid_idempotency_key",
                "Idempotency-Key must be 1 to 255 printable ASCII characters",
            )
            .into_response();
        }
    };
    let Some(auth) = req.extensions().get::<Auth>().cloned() else {
        return next.run(req).await;
    };
    let (parts, body) = req.into_parts();
    let bytes = match to_bytes(body, state.config.max_body_bytes).await {
        Ok(b) => b,
        Err(_) => return payload_too_large().into_response(),
    };
    let mut h = Sha256::new();
    h.update(parts.method.as_str().as_bytes());
    h.update(b" ");
    h.update(
        parts
            .uri
            .path_and_query()
            .map_or("", |p| p.as_str())
            .as_bytes(),
    );
    h.update(b"\n");
    h.update(&bytes);
    let fingerprint: String = h.finalize().iter().map(|b| format!("{b:02x}")).collect();
    // A key belongs to one operation: the same key on another route is
    // another request, not a reuse.
    let key = format!("{} {} {key}", parts.method, parts.uri.path());
    match state
        .storage
        .begin_idempotent(&auth.account_id, &key, &fingerprint)
        .await
    {
        Err(e) => ApiError::from(e).into_response(),
        // 409, as for a key still in progress: the key is bound to another
        // request (the body is not what is wrong).
        Ok(IdempotencyBegin::Mismatch) => ApiError::client(
            StatusCode::CONFLICT,
            "idempotency_key_reused",
            "this Idempotency-Key was already used with a different request",
        )
        .into_response(),
        Ok(IdempotencyBegin::InProgress) => ApiError::client(
            StatusCode::CONFLICT,
            "idempotency_key_in_progress",
            "a request with this Idempotency-Key is still being processed; retry shortly",
        )
        .into_response(),
        Ok(IdempotencyBegin::Replay { status, body }) => {
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::OK);
            let mut resp = (status, body).into_response();
            resp.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
            resp.headers_mut()
                .insert(IDEMPOTENT_REPLAYED, HeaderValue::from_static("true"));
            resp
        }
        Ok(IdempotencyBegin::Started) => {
            let resp = next
                .run(Request::from_parts(parts, Body::from(bytes)))
                .await;
            let (parts, body) = resp.into_parts();
            let bytes = match to_bytes(body, usize::MAX).await {
                Ok(b) => b,
                Err(e) => {
                    let _ = state
                        .storage
                        .release_idempotent(&auth.account_id, &key)
                        .await;
                    return ApiError::internal(e).into_response();
                }
            };
            let saved = if parts.status.is_server_error() {
                state
                    .storage
                    .release_idempotent(&auth.account_id, &key)
                    .await
            } else {
                state
                    .storage
                    .finish_idempotent(&auth.account_id, &key, parts.status.as_u16(), &bytes)
                    .await
            };
            if let Err(e) = saved {
                tracing::error!(error = %e, "could not record the idempotent response");
            }
            Response::from_parts(parts, Body::from(bytes))
        }
    }
}

/// Longest request target (path and query) accepted, in bytes.
pub const MAX_URI_BYTES: usize = 8 * 1024;

/// 414 with the error envelope for a request target longer than
/// [`MAX_URI_BYTES`], before any route sees it.
pub async fn limit_uri(req: Request, next: Next) -> Response {
    let len = req.uri().path_and_query().map_or(0, |p| p.as_str().len());
    if len > MAX_URI_BYTES {
        return ApiError::client(
            StatusCode::URI_TOO_LONG,
            "uri_too_long",
            format!("the request target is {len} bytes; the limit is {MAX_URI_BYTES}"),
        )
        .into_response();
    }
    next.run(req).await
}
