//! Extractors that turn every malformed request into a JSON error: bodies,
//! paths, queries, the authenticated token, and pagination cursors.

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::de::DeserializeOwned;
use switchyard_domain::ids::{AccountId, PluginId, StoreId, TokenId};
use switchyard_storage::PageRequest;

use crate::error::ApiError;

/// A JSON body parsed strictly: malformed JSON is 400, a body of the wrong
/// shape (unknown field, wrong type, missing field) is 422 naming the field,
/// an oversized body is 413, a non-JSON content type is 415.
#[derive(Debug)]
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let is_json = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .is_some_and(|m| {
                let m = m.trim();
                m.eq_ignore_ascii_case("application/json")
                    || m.to_ascii_lowercase().ends_with("+json")
            });
        if !is_json {
            return Err(ApiError::client(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                "send the body as JSON with `Content-Type: application/json`",
            ));
        }
        let bytes = Bytes::from_request(req, state).await.map_err(|r| {
            if r.status() == StatusCode::PAYLOAD_TOO_LARGE {
                payload_too_large()
            } else {
                ApiError::client(StatusCode::BAD_REQUEST, "unreadable_body", r.body_text())
            }
        })?;
        parse_json(&bytes).map(ApiJson)
    }
}

/// The error for a body over the configured limit.
#[must_use]
pub fn payload_too_large() -> ApiError {
    ApiError::client(
        StatusCode::PAYLOAD_TOO_LARGE,
        "payload_too_large",
        "the request body is larger than this server accepts",
    )
}

/// Parse JSON bytes into `T` with the error mapping of [`ApiJson`]: the
/// body is one JSON value and nothing after it; a field of the wrong shape
/// is named, in words a client understands (never a Rust type's name).
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let malformed = |e: &serde_json::Error| {
        ApiError::client(
            StatusCode::BAD_REQUEST,
            "malformed_json",
            format!("the body is not valid JSON: {e}"),
        )
    };
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        let mut field = (path != ".").then_some(path);
        match inner.classify() {
            serde_json::error::Category::Syntax
            | serde_json::error::Category::Eof
            | serde_json::error::Category::Io => malformed(&inner),
            serde_json::error::Category::Data => {
                let message = humanize(&strip_position(&inner.to_string()));
                // A missing or repeated field is named, under its parent.
                if let Some(name) = ["missing field `", "duplicate field `"]
                    .iter()
                    .find_map(|p| message.strip_prefix(p))
                    .and_then(|rest| rest.split('`').next())
                {
                    field = Some(match field {
                        Some(parent) => format!("{parent}.{name}"),
                        None => name.to_owned(),
                    });
                }
                ApiError::Client {
                    status: StatusCode::UNPROCESSABLE_ENTITY,
                    code: "invalid_body",
                    message,
                    field,
                }
            }
        }
    })?;
    // Data after the value (a second document, garbage) is refused, not
    // ignored.
    de.end().map_err(|e| {
        ApiError::client(
            StatusCode::BAD_REQUEST,
            "malformed_json",
            format!(
                "the body has data after its JSON value ({})",
                strip_position(&e.to_string())
            ),
        )
    })?;
    Ok(value)
}

fn strip_position(s: &str) -> String {
    match s.find(" at line ") {
        Some(i) => s[..i].to_owned(),
        None => s.to_owned(),
    }
}

/// serde's words for the expected shapes, as a client would say them.
fn humanize(message: &str) -> String {
    let mut out = message.to_owned();
    // `expected struct ProductIn` and the like name our own types.
    while let Some(i) = out.find("expected struct ") {
        let rest = &out[i + "expected struct ".len()..];
        let end = rest
            .find(|c: char| !(c.is_alphanumeric() || c == '_'))
            .unwrap_or(rest.len());
        out = format!("{}expected an object{}", &out[..i], &rest[end..]);
    }
    while let Some(i) = out.find("expected enum ") {
        let rest = &out[i + "expected enum ".len()..];
        let end = rest
            .find(|c: char| !(c.is_alphanumeric() || c == '_'))
            .unwrap_or(rest.len());
        out = format!(
            "{}expected one of the allowed values{}",
            &out[..i],
            &rest[end..]
        );
    }
    for (rust, words) in [
        ("expected u8", "expected a whole number from 0 to 255"),
        ("expected u16", "expected a whole number from 0 to 65535"),
        (
            "expected u32",
            "expected a whole number from 0 to 4294967295",
        ),
        ("expected u64", "expected a whole number of 0 or more"),
        ("expected usize", "expected a whole number of 0 or more"),
        ("expected i8", "expected a whole number"),
        ("expected i16", "expected a whole number"),
        ("expected i32", "expected a whole number"),
        ("expected i64", "expected a whole number"),
        ("expected isize", "expected a whole number"),
        ("expected f32", "expected a number"),
        ("expected f64", "expected a number"),
        ("floating point `", "number `"),
        ("expected a borrowed string", "expected a string"),
    ] {
        out = out.replace(rust, words);
    }
    out
}

/// Path parameters; a malformed id or parameter can name nothing, so 404.
#[derive(Debug)]
pub struct ApiPath<T>(pub T);

impl<T: DeserializeOwned + Send, S: Send + Sync> FromRequestParts<S> for ApiPath<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        axum::extract::Path::<T>::from_request_parts(parts, state)
            .await
            .map(|p| ApiPath(p.0))
            .map_err(|r| {
                ApiError::client(
                    StatusCode::NOT_FOUND,
                    "not_found",
                    format!("no such resource: {}", r.body_text()),
                )
            })
    }
}

/// Query parameters; malformed ones are 400 naming the problem.
#[derive(Debug)]
pub struct ApiQuery<T>(pub T);

impl<T: DeserializeOwned + Send, S: Send + Sync> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let q = parts.uri.query().unwrap_or("");
        let de = serde_urlencoded::Deserializer::new(form_urlencoded::parse(q.as_bytes()));
        serde_path_to_error::deserialize(de)
            .map(ApiQuery)
            .map_err(|e| {
                let field = e.path().to_string();
                ApiError::field(
                    StatusCode::BAD_REQUEST,
                    "invalid_query",
                    field,
                    e.into_inner().to_string(),
                )
            })
    }
}

/// The authenticated caller, set by the auth middleware.
#[derive(Debug, Clone)]
pub struct Auth {
    /// The account every request is scoped to.
    pub account_id: AccountId,
    /// The token used.
    pub token_id: TokenId,
    /// The one store the token may reach, if it is store-scoped.
    pub store_scope: Option<StoreId>,
    /// The one plugin whose own routes the token may use, if it is a
    /// plugin token (its store scope is then the plugin's store).
    pub plugin_scope: Option<PluginId>,
}

impl Auth {
    /// 404 unless the token may reach `store` (ownership by the account is
    /// enforced by storage, which scopes every query by account).
    pub fn check_store(&self, store: &StoreId) -> Result<(), ApiError> {
        match &self.store_scope {
            Some(s) if s != store => Err(ApiError::not_found("store")),
            _ => Ok(()),
        }
    }

    /// 404 unless the token may reach plugin `id` (a plugin token reaches
    /// only its own plugin).
    pub fn check_plugin(&self, id: &PluginId) -> Result<(), ApiError> {
        match &self.plugin_scope {
            Some(p) if p != id => Err(ApiError::not_found("plugin")),
            _ => Ok(()),
        }
    }

    /// 403 for a plugin token on an action reserved to the merchant.
    pub fn require_merchant(&self, action: &str) -> Result<(), ApiError> {
        if self.plugin_scope.is_some() {
            return Err(ApiError::forbidden(format!(
                "a plugin token cannot {action}; use the merchant's token"
            )));
        }
        Ok(())
    }

    /// 403 for a store-scoped token on an account-wide action.
    pub fn require_account_wide(&self, action: &str) -> Result<(), ApiError> {
        if self.store_scope.is_some() {
            return Err(ApiError::forbidden(format!(
                "a store-scoped token cannot {action}; use an account-wide token"
            )));
        }
        Ok(())
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Auth {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        parts.extensions.get::<Auth>().cloned().ok_or_else(|| {
            ApiError::client(
                StatusCode::UNAUTHORIZED,
                "unauthorized",
                "missing bearer token",
            )
        })
    }
}

/// Default page size.
pub const DEFAULT_LIMIT: u32 = 100;
/// Largest page size; larger requests are refused.
pub const MAX_LIMIT: u32 = 1000;

/// `?limit=&cursor=` of list endpoints.
#[derive(Debug, Default, serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    /// Items per page, 1–1000 (default 100).
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<u32>,
    /// The `next_cursor` of the previous page.
    #[param(min_length = 1)]
    pub cursor: Option<String>,
}

impl PageQuery {
    /// Decode into a storage page request. `check` validates the decoded key
    /// (it must look like the sort key of this list).
    pub fn to_request(&self, check: impl Fn(&str) -> bool) -> Result<PageRequest, ApiError> {
        let limit = page_limit(self.limit)?;
        let after = match &self.cursor {
            None => None,
            Some(c) => Some(decode_cursor(c).filter(|k| check(k)).ok_or_else(|| {
                ApiError::field(
                    StatusCode::BAD_REQUEST,
                    "invalid_cursor",
                    "cursor",
                    "cursor is not one this list issued",
                )
            })?),
        };
        Ok(PageRequest { after, limit })
    }
}

/// A requested page size: default 100; 0 and more than 1000 refused, as
/// the document says.
pub fn page_limit(requested: Option<u32>) -> Result<u32, ApiError> {
    match requested {
        Some(n) if (1..=MAX_LIMIT).contains(&n) => Ok(n),
        Some(n) => Err(ApiError::field(
            StatusCode::BAD_REQUEST,
            "invalid_query",
            "limit",
            format!("limit must be from 1 to {MAX_LIMIT}, not {n}"),
        )),
        None => Ok(DEFAULT_LIMIT),
    }
}

/// Opaque cursor for a sort key.
#[must_use]
pub fn encode_cursor(key: &str) -> String {
    URL_SAFE_NO_PAD.encode(format!("v1:{key}"))
}

fn decode_cursor(c: &str) -> Option<String> {
    let raw = URL_SAFE_NO_PAD.decode(c).ok()?;
    let s = String::from_utf8(raw).ok()?;
    s.strip_prefix("v1:").map(str::to_owned)
}
