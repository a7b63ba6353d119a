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

/// One journal event.
#[derive(Debug, Serialize, ToSchema)]
pub struct EventOut {
    /// Monotonic sequence number.
    pub seq: i64,
    /// Entity kind: store, channel, product, stock, order, token.
    pub entity_type: String,
    /// Entity id (an id, or a SKU).
    pub entity_id: String,
    /// Event type, e.g. `stock.changed`.
    #[serde(rename = "type")]
    pub event_type: String,
    /// The entity or the change, as the event's transaction recorded it;
    /// order and fulfilment events also carry the whole entity under
    /// `entity` (what their webhooks deliver).
    #[schema(value_type = Object)]
    pub payload: serde_json::Value,
    /// When it happened.
    pub created_at: DateTime<Utc>,
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
                entity_type: e.entity_type,
                entity_id: e.entity_id,
                event_type: e.event_type,
                payload: e.payload,
                created_at: e.created_at,
            })
            .collect(),
        next_after,
    }))
}
