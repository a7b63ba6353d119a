//! The one mapping from errors to HTTP responses.
//!
//! Every error leaves as `{"error": {"code", "message", "field"?}}` with a
//! stable snake_case `code`. Internal failures are logged with their cause
//! chain and answered with a generic 500; their details never reach clients.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use switchyard_domain::DomainError;
use switchyard_storage::StorageError;
use utoipa::ToSchema;

/// Seconds a client waits before retrying a 503.
const RETRY_AFTER_SECS: &str = "1";

/// The error envelope.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    /// The error.
    pub error: ErrorDetail,
}

/// What went wrong.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorDetail {
    /// Stable snake_case code, e.g. `not_found`, `invalid_sku`.
    pub code: String,
    /// Human-readable explanation.
    pub message: String,
    /// The offending input field, as a path (`items[3].quantity`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}

/// An error answered to a client.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// A client error with an explicit status.
    #[error("{message}")]
    Client {
        /// HTTP status (4xx).
        status: StatusCode,
        /// Stable code.
        code: &'static str,
        /// Message.
        message: String,
        /// Offending field.
        field: Option<String>,
    },
    /// Something failed on our side.
    #[error("internal error")]
    Internal(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// The database is away for a moment (restarting, out of connections):
    /// 503 with `Retry-After`.
    #[error("service unavailable")]
    Unavailable(#[source] Box<dyn std::error::Error + Send + Sync>),
}

impl ApiError {
    /// A client error.
    pub fn client(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self::Client {
            status,
            code,
            message: message.into(),
            field: None,
        }
    }

    /// A client error naming a field.
    pub fn field(
        status: StatusCode,
        code: &'static str,
        field: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        Self::Client {
            status,
            code,
            message: message.into(),
            field: Some(field.into()),
        }
    }

    /// 404 for an entity.
    pub fn not_found(entity: &str) -> Self {
        Self::client(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("{entity} not found"),
        )
    }

    /// 403 for an action the token may not take.
    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::client(StatusCode::FORBIDDEN, "forbidden", message)
    }

    /// An internal failure.
    pub fn internal(e: impl std::error::Error + Send + Sync + 'static) -> Self {
        Self::Internal(Box::new(e))
    }

    /// Rewrite the field path of a client error (`[3].sku` → `items[3].sku`).
    #[must_use]
    pub fn with_field_prefix(mut self, prefix: &str) -> Self {
        if let Self::Client { field: Some(f), .. } = &mut self {
            *f = match f.strip_prefix("[0].") {
                Some(rest) if prefix.is_empty() => rest.to_owned(),
                _ if f.starts_with('[') => format!("{prefix}{f}"),
                _ if prefix.is_empty() => f.clone(),
                _ => format!("{prefix}.{f}"),
            };
        }
        self
    }

    /// The HTTP status of this error.
    #[must_use]
    pub fn status(&self) -> StatusCode {
        match self {
            Self::Client { status, .. } => *status,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
            Self::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
        }
    }
}

impl From<DomainError> for ApiError {
    fn from(e: DomainError) -> Self {
        Self::Client {
            status: StatusCode::UNPROCESSABLE_ENTITY,
            code: e.code,
            message: e.message,
            field: e.field,
        }
    }
}

impl From<StorageError> for ApiError {
    fn from(e: StorageError) -> Self {
        match e {
            StorageError::NotFound { entity } => Self::not_found(entity),
            StorageError::Invalid(d) => d.into(),
            StorageError::Conflict {
                code,
                message,
                field,
            } => Self::Client {
                status: StatusCode::CONFLICT,
                code,
                message,
                field,
            },
            other if other.is_transient() => Self::Unavailable(Box::new(other)),
            other => Self::internal(other),
        }
    }
}

fn cause_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        s.push_str(": ");
        s.push_str(&c.to_string());
        cur = c.source();
    }
    s
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        let body = match self {
            Self::Client {
                code,
                message,
                field,
                ..
            } => ErrorDetail {
                code: code.to_owned(),
                message,
                field,
            },
            Self::Internal(e) => {
                tracing::error!(error = %cause_chain(e.as_ref()), "internal error");
                ErrorDetail {
                    code: "internal".to_owned(),
                    message: "an internal error occurred; it has been logged".to_owned(),
                    field: None,
                }
            }
            Self::Unavailable(e) => {
                tracing::warn!(error = %cause_chain(e.as_ref()), "database unavailable");
                let body = ErrorDetail {
                    code: "unavailable".to_owned(),
                    message: "the database is unavailable for a moment; retry shortly (a POST with the same Idempotency-Key)".to_owned(),
                    field: None,
                };
                return (
                    status,
                    [(axum::http::header::RETRY_AFTER, RETRY_AFTER_SECS)],
                    Json(ErrorBody { error: body }),
                )
                    .into_response();
            }
        };
        (status, Json(ErrorBody { error: body })).into_response()
    }
}
