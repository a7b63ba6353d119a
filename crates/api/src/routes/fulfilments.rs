//! Fulfilments: shipments of some or all of an order's lines, with tracking
//! numbers and carrier, synced to the order's channel; and each store's
//! carrier rules and codes.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use switchyard_domain::carrier::Carrier;
use switchyard_domain::fulfilment::{CarrierSettings, FulfilmentSource, RequestedLine, Tracking};
use switchyard_domain::ids::{FulfilmentId, OrderId, StoreId};
use switchyard_domain::values::check_text;
use switchyard_storage::{FulfilmentRecord, NewFulfilment};
use utoipa::ToSchema;

use crate::AppState;
use crate::error::{ApiError, ErrorBody};
use crate::extract::{ApiJson, ApiPath, Auth};

/// One tracking number.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TrackingIn {
    /// The number as the carrier printed it.
    pub number: String,
    /// A tracking page (http or https).
    pub url: Option<String>,
}

/// One line to ship: by `line_no` (see the order's `lines`) or by `sku`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LineIn {
    /// The order line's `line_no`.
    pub line_no: Option<i64>,
    /// Or a SKU: spread over the order's lines with it, in order.
    pub sku: Option<String>,
    /// Units shipped (at least 1, at most what is still open).
    pub quantity: i64,
}

/// A shipment.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FulfilmentIn {
    /// Lines and quantities; leave out to ship everything still open.
    pub lines: Option<Vec<LineIn>>,
    /// Tracking numbers (at most 20).
    #[serde(default)]
    pub tracking: Vec<TrackingIn>,
    /// The carrier (`royal_mail`, `dpd`, `dhl_express`, `dhl_parcel`, `ups`,
    /// `fedex`, `usps`, `postnl`, `evri`, `gls`, `parcelforce`,
    /// `amazon_logistics`, `other`, or a name such as "Royal Mail"); derived
    /// from the first tracking number when left out.
    pub carrier: Option<String>,
    /// Service level ("Tracked 24", "Express").
    #[schema(value_type = Option<crate::text::Text100>)]
    pub service: Option<String>,
    /// When it shipped (default: now).
    pub shipped_at: Option<DateTime<Utc>>,
    /// Your own reference for this shipment (1–200 characters): an order
    /// has at most one fulfilment per reference, so sending the same one
    /// again returns the first instead of shipping twice.
    #[schema(value_type = Option<crate::text::Text200>)]
    pub reference: Option<String>,
}

impl FulfilmentIn {
    /// The shipment to record, reported by `source`.
    pub(crate) fn into_new(self, source: FulfilmentSource) -> Result<NewFulfilment, ApiError> {
        if let Some(sv) = &self.service {
            check_text("service", sv, 100)?;
        }
        if let Some(r) = &self.reference {
            check_text("reference", r, 200)?;
        }
        Ok(NewFulfilment {
            lines: self.lines.map(|ls| {
                ls.into_iter()
                    .map(|l| RequestedLine {
                        line_no: l.line_no,
                        sku: l.sku,
                        quantity: l.quantity,
                    })
                    .collect()
            }),
            carrier: carrier(self.carrier.as_deref())?,
            tracking: tracking(self.tracking),
            service: self.service,
            shipped_at: self.shipped_at.unwrap_or_else(Utc::now),
            source,
            external_ref: self.reference,
        })
    }
}

/// New tracking numbers for a fulfilment (a number corrected later).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TrackingUpdateIn {
    /// The numbers that replace the current ones.
    pub tracking: Vec<TrackingIn>,
    /// A carrier, when it changed too.
    pub carrier: Option<String>,
}

/// An order's fulfilments.
#[derive(Debug, Serialize, ToSchema)]
pub struct FulfilmentList {
    /// Oldest first.
    pub items: Vec<FulfilmentRecord>,
}

fn carrier(v: Option<&str>) -> Result<Option<Carrier>, ApiError> {
    v.map(|c| {
        Carrier::parse(c.trim())
            .ok()
            .or_else(|| Carrier::from_name(c))
            .ok_or_else(|| {
                ApiError::field(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "invalid_carrier",
                    "carrier",
                    format!(
                        "`{c}` is not a carrier; use one of {}",
                        Carrier::ALL.map(Carrier::as_str).join(", ")
                    ),
                )
            })
    })
    .transpose()
}

fn tracking(v: Vec<TrackingIn>) -> Vec<Tracking> {
    v.into_iter()
        .map(|t| Tracking {
            number: t.number.trim().to_owned(),
            url: t.url,
        })
        .collect()
}

async fn fulfilment_in_scope(
    s: &AppState,
    auth: &Auth,
    id: &FulfilmentId,
) -> Result<FulfilmentRecord, ApiError> {
    let f = s.storage.get_fulfilment(&auth.account_id, id).await?;
    auth.check_store(&f.store_id)
        .map_err(|_| ApiError::not_found("fulfilment"))?;
    Ok(f)
}

/// Record a shipment of an order and sync it to the order's channel.
/// Lines default to everything still open. Over-fulfilment and shipping a
/// cancelled or excluded order are refused (409). Committed stock is
/// released and the `api` source lowered by what shipped.
#[utoipa::path(post, path = "/v1/orders/{order_id}/fulfilments", tag = "fulfilments", request_body = FulfilmentIn,
    params(("order_id" = String, Path, description = "Order id")),
    responses((status = 201, body = FulfilmentRecord), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn create_fulfilment(
    State(s): State<AppState>,
    auth: Auth,
    ApiPath(id): ApiPath<OrderId>,
    ApiJson(body): ApiJson<FulfilmentIn>,
) -> Result<(StatusCode, Json<FulfilmentRecord>), ApiError> {
    super::orders::load(&s, &auth, &id).await?;
    let new = body.into_new(FulfilmentSource::Api)?;
    let f = s
        .storage
        .create_fulfilment(&auth.account_id, &id, new)
        .await?;
    s.wake.notify_one();
    Ok((StatusCode::CREATED, Json(f)))
}

/// An order's fulfilments with their sync state.
#[utoipa::path(get, path = "/v1/orders/{order_id}/fulfilments", tag = "fulfilments",
    params(("order_id" = String, Path, description = "Order id")),
    responses((status = 200, body = FulfilmentList), (status = 404, body = ErrorBody)))]
pub async fn list_fulfilments(
    State(s): State<AppState>,
    auth: Auth,
    ApiPath(id): ApiPath<OrderId>,
) -> Result<Json<FulfilmentList>, ApiError> {
    super::orders::load(&s, &auth, &id).await?;
    let items = s.storage.list_fulfilments(&auth.account_id, &id).await?;
    Ok(Json(FulfilmentList { items }))
}

/// One fulfilment.
#[utoipa::path(get, path = "/v1/fulfilments/{fulfilment_id}", tag = "fulfilments",
    params(("fulfilment_id" = String, Path, description = "Fulfilment id")),
    responses((status = 200, body = FulfilmentRecord), (status = 404, body = ErrorBody)))]
pub async fn get_fulfilment(
    State(s): State<AppState>,
    auth: Auth,
    ApiPath(id): ApiPath<FulfilmentId>,
) -> Result<Json<FulfilmentRecord>, ApiError> {
    Ok(Json(fulfilment_in_scope(&s, &auth, &id).await?))
}

/// Replace a fulfilment's tracking numbers; the channel is told again.
#[utoipa::path(patch, path = "/v1/fulfilments/{fulfilment_id}", tag = "fulfilments", request_body = TrackingUpdateIn,
    params(("fulfilment_id" = String, Path, description = "Fulfilment id")),
    responses((status = 200, body = FulfilmentRecord), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn update_fulfilment(
    State(s): State<AppState>,
    auth: Auth,
    ApiPath(id): ApiPath<FulfilmentId>,
    ApiJson(body): ApiJson<TrackingUpdateIn>,
) -> Result<Json<FulfilmentRecord>, ApiError> {
    fulfilment_in_scope(&s, &auth, &id).await?;
    let c = carrier(body.carrier.as_deref())?;
    let f = s
        .storage
        .update_fulfilment_tracking(&auth.account_id, &id, tracking(body.tracking), c)
        .await?;
    s.wake.notify_one();
    Ok(Json(f))
}

/// Cancel a fulfilment: its lines are open again, the units go back to the
/// `api` source, and the channel is told where it can cancel shipments.
#[utoipa::path(post, path = "/v1/fulfilments/{fulfilment_id}/cancel", tag = "fulfilments",
    params(("fulfilment_id" = String, Path, description = "Fulfilment id")),
    responses((status = 200, body = FulfilmentRecord), (status = 404, body = ErrorBody)))]
pub async fn cancel_fulfilment(
    State(s): State<AppState>,
    auth: Auth,
    ApiPath(id): ApiPath<FulfilmentId>,
) -> Result<Json<FulfilmentRecord>, ApiError> {
    fulfilment_in_scope(&s, &auth, &id).await?;
    let f = s.storage.cancel_fulfilment(&auth.account_id, &id).await?;
    s.wake.notify_one();
    Ok(Json(f))
}

/// Retry a failed sync now.
#[utoipa::path(post, path = "/v1/fulfilments/{fulfilment_id}/retry", tag = "fulfilments",
    params(("fulfilment_id" = String, Path, description = "Fulfilment id")),
    responses((status = 200, body = FulfilmentRecord), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn retry_fulfilment(
    State(s): State<AppState>,
    auth: Auth,
    ApiPath(id): ApiPath<FulfilmentId>,
) -> Result<Json<FulfilmentRecord>, ApiError> {
    fulfilment_in_scope(&s, &auth, &id).await?;
    let f = s.storage.retry_fulfilment(&auth.account_id, &id).await?;
    s.wake.notify_one();
    Ok(Json(f))
}

/// A store's carrier rules (tracking-number pattern → carrier, checked
/// before the built-in formats) and carrier codes per channel kind.
#[utoipa::path(get, path = "/v1/stores/{store_id}/carriers", tag = "fulfilments",
    params(("store_id" = String, Path, description = "Store id")),
    responses((status = 200, body = CarrierSettings), (status = 404, body = ErrorBody)))]
pub async fn get_carriers(
    State(s): State<AppState>,
    auth: Auth,
    ApiPath(store): ApiPath<StoreId>,
) -> Result<Json<CarrierSettings>, ApiError> {
    auth.check_store(&store)?;
    Ok(Json(
        s.storage.carrier_settings(&auth.account_id, &store).await?,
    ))
}

/// Replace a store's carrier rules and codes, e.g.
/// `{"rules": [{"pattern": "ZX*", "carrier": "gls"}],
///   "codes": {"ups": {"shopify": "UPS Ground"}}}`.
#[utoipa::path(put, path = "/v1/stores/{store_id}/carriers", tag = "fulfilments", request_body = CarrierSettings,
    params(("store_id" = String, Path, description = "Store id")),
    responses((status = 200, body = CarrierSettings), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn put_carriers(
    State(s): State<AppState>,
    auth: Auth,
    ApiPath(store): ApiPath<StoreId>,
    ApiJson(body): ApiJson<CarrierSettings>,
) -> Result<Json<CarrierSettings>, ApiError> {
    auth.check_store(&store)?;
    Ok(Json(
        s.storage
            .set_carrier_settings(&auth.account_id, &store, body)
            .await?,
    ))
}
