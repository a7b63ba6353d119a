//! The journal: every change, in order.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use switchyard_domain::ids::StoreId;
use utoipa::{IntoParams, ToSchema};

use crate::AppState;
use crate::error::{ApiError, ErrorBody};
use crate::extract::{ApiPath, ApiQuery, Auth, page_limit};

/// One journal event: what it is about (`entity_type`, `entity_id`), its
/// `type`, and its `payload`, whose shape follows `entity_type`.
#[derive(Debug, Serialize, ToSchema)]
pub struct EventOut {
    /// Monotonic sequence number.
    pub seq: i64,
    /// Entity id (an id, or a SKU for products and stock).
    pub entity_id: String,
    /// Event type; its prefix is the `entity_type`.
    #[serde(rename = "type")]
    pub event_type: JournalEventType,
    /// When it happened.
    pub created_at: DateTime<Utc>,
    /// `entity_type` and `payload`.
    #[serde(flatten)]
    pub body: EventBody,
}

/// A journal event's type, one of [`switchyard_storage::EVENT_TYPES`].
#[derive(Debug, Serialize)]
#[serde(transparent)]
pub struct JournalEventType(pub String);

impl utoipa::PartialSchema for JournalEventType {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::{ObjectBuilder, SchemaType, Type};
        ObjectBuilder::new()
            .schema_type(SchemaType::Type(Type::String))
            .description(Some("A journal event type: `entity_type.what_happened`"))
            .enum_values(Some(switchyard_storage::EVENT_TYPES.iter().copied()))
            .into()
    }
}

impl ToSchema for JournalEventType {}

/// An event's entity type and payload as the journal stored them,
/// documented by the payload types the backends write
/// ([`switchyard_storage::EventPayload`]).
#[derive(Debug, Serialize)]
pub struct EventBody {
    /// Entity kind.
    pub entity_type: String,
    /// The payload.
    pub payload: serde_json::Value,
}

impl utoipa::PartialSchema for EventBody {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        switchyard_storage::EventPayload::schema()
    }
}

impl ToSchema for EventBody {
    fn name() -> std::borrow::Cow<'static, str> {
        switchyard_storage::EventPayload::name()
    }

    fn schemas(
        schemas: &mut Vec<(
            String,
            utoipa::openapi::RefOr<utoipa::openapi::schema::Schema>,
        )>,
    ) {
        switchyard_storage::EventPayload::schemas(schemas);
    }
}

/// A page of the journal.
#[derive(Debug, Serialize, ToSchema)]
pub struct JournalOut {
    /// Events in sequence order.
    pub items: Vec<EventOut>,
    /// Pass as `after` for the next page; absent when the page was not full.
    pub next_after: Option<i64>,
}

/// `?after=&limit=`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct JournalQuery {
    /// Return events with a sequence number above this (default 0).
    pub after: Option<i64>,
    /// Page size, 1–1000 (default 100).
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<u32>,
}

/// Page through a store's journal.
#[utoipa::path(get, path = "/v1/stores/{store_id}/journal", tag = "journal",
    params(("store_id" = String, Path, description = "Store id"), JournalQuery),
    responses((status = 200, body = JournalOut), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn list_journal(
    State(s): State<AppState>,
    auth: Auth,
    ApiPath(store): ApiPath<StoreId>,
    ApiQuery(q): ApiQuery<JournalQuery>,
) -> Result<Json<JournalOut>, ApiError> {
    auth.check_store(&store)?;
    let after = q.after.unwrap_or(0);
    if after < 0 {
        return Err(ApiError::field(
            StatusCode::BAD_REQUEST,
            "invalid_query",
            "after",
            "after must not be negative",
        ));
    }
    let limit = page_limit(q.limit)?;
    let events = s
        .storage
        .journal(&auth.account_id, &store, after, limit)
        .await?;
    let full = events.len() == limit as usize;
    let next_after = if full {
        events.last().map(|e| e.seq)
    } else {
        None
    };
    Ok(Json(JournalOut {
        items: events
            .into_iter()
            .map(|e| EventOut {
                seq: e.seq,
                entity_id: e.entity_id,
                event_type: JournalEventType(e.event_type),
                created_at: e.created_at,
                body: EventBody {
                    entity_type: e.entity_type,
                    payload: e.payload,
                },
            })
            .collect(),
        next_after,
    }))
}
