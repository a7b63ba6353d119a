//! The stock ledger over HTTP: set / adjust / bulk change the `api` source,
//! read figures, and explain every figure down to its sources, commitments
//! and channel rules.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use switchyard_domain::explain::{Explanation, Subject, explain};
use switchyard_domain::ids::{AccountId, StoreId};
use switchyard_domain::stock::{StockSource, check_location};
use switchyard_domain::values::{Sku, check_delta, check_quantity, check_text};
use switchyard_storage::{SnapshotEntry, StockChange, StockChangeOutcome, StockOp, StockSnapshot};
use utoipa::{IntoParams, ToSchema};

use crate::AppState;
use crate::error::{ApiError, ErrorBody};
use crate::extract::{ApiJson, ApiPath, ApiQuery, Auth, PageQuery, encode_cursor};
use crate::routes::channels::StockRulesDto;
use crate::routes::products::path_sku;

/// Most items in one bulk call.
pub const MAX_BULK_ITEMS: usize = 10_000;
/// Most SKUs in one read.
pub const MAX_READ_SKUS: usize = 1_000;

/// Set the `api` quantity of a SKU.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetStockIn {
    /// New absolute quantity, 0–1,000,000,000.
    pub quantity: i64,
    /// Compare-and-set: apply only if the current `api` quantity (at this location) is this; otherwise 409.
    pub expected: Option<i64>,
    /// Location / warehouse name (default: none).
    pub location: Option<String>,
    /// Why (kept in the journal).
    #[schema(value_type = Option<crate::text::Text500>)]
    pub reason: Option<String>,
}

/// Change the `api` quantity of a SKU by a delta.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AdjustStockIn {
    /// Units to add (negative to remove); the result may not go below 0.
    pub delta: i64,
    /// Compare-and-set: apply only if the current `api` quantity is this.
    pub expected: Option<i64>,
    /// Location / warehouse name.
    pub location: Option<String>,
    /// Why (kept in the journal).
    #[schema(value_type = Option<crate::text::Text500>)]
    pub reason: Option<String>,
}

impl SetStockIn {
    /// The checked change of `sku`.
    pub(crate) fn into_change(self, sku: Sku) -> Result<StockChange, ApiError> {
        let quantity = check_quantity("quantity", self.quantity)?;
        let location = check_extras(&self.location, self.expected, &self.reason)?;
        Ok(StockChange {
            sku,
            location,
            op: StockOp::Set(quantity),
            expected: self.expected,
            reason: self.reason,
        })
    }
}

impl AdjustStockIn {
    /// The checked change of `sku`.
    pub(crate) fn into_change(self, sku: Sku) -> Result<StockChange, ApiError> {
        let delta = check_delta("delta", self.delta)?;
        let location = check_extras(&self.location, self.expected, &self.reason)?;
        Ok(StockChange {
            sku,
            location,
            op: StockOp::Adjust(delta),
            expected: self.expected,
            reason: self.reason,
        })
    }
}

/// One item of a bulk change: exactly one of `quantity` and `delta`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BulkItemIn {
    /// SKU of a plain product.
    pub sku: String,
    /// Set to this absolute quantity.
    pub quantity: Option<i64>,
    /// Or add this delta.
    pub delta: Option<i64>,
    /// Compare-and-set expectation.
    pub expected: Option<i64>,
    /// Location / warehouse name.
    pub location: Option<String>,
    /// Why.
    #[schema(value_type = Option<crate::text::Text500>)]
    pub reason: Option<String>,
}

/// Up to 10,000 changes, applied all or nothing.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BulkStockIn {
    /// The changes, applied in order.
    pub items: Vec<BulkItemIn>,
}

/// The effect of one change.
#[derive(Debug, Serialize, ToSchema)]
pub struct StockChangeOut {
    /// SKU.
    pub sku: String,
    /// Source changed (`api`, `plugin:<id>`).
    pub source: String,
    /// Location.
    pub location: String,
    /// Quantity before.
    pub before: i64,
    /// Quantity after.
    pub after: i64,
}

/// The effects of a bulk change.
#[derive(Debug, Serialize, ToSchema)]
pub struct BulkStockOut {
    /// One entry per item, in order.
    pub items: Vec<StockChangeOut>,
}

/// One source's quantity.
#[derive(Debug, Serialize, ToSchema)]
pub struct SourceOut {
    /// `api` or `plugin:<id>`.
    pub source: String,
    /// Location (empty for none).
    pub location: String,
    /// Units on hand.
    pub quantity: i64,
}

/// What one channel shows.
#[derive(Debug, Serialize, ToSchema)]
pub struct ListingQuantityOut {
    /// Channel id.
    pub channel_id: String,
    /// Channel name.
    pub channel_name: String,
    /// Quantity after the channel's stock rules.
    pub quantity: i64,
}

/// A SKU's stock figures.
#[derive(Debug, Serialize, ToSchema)]
pub struct StockOut {
    /// SKU.
    pub sku: String,
    /// Whether it is a kit (kits have no stock of their own).
    pub kit: bool,
    /// Σ sources (plain products).
    pub on_hand: Option<i64>,
    /// Σ open commitments (plain products).
    pub committed: Option<i64>,
    /// `on_hand − committed`; for kits, how many the components allow.
    pub available: i64,
    /// Kits: the component that limits availability.
    pub limiting_component: Option<String>,
    /// Plain products: each source.
    pub sources: Vec<SourceOut>,
    /// What each channel of the store shows.
    pub listings: Vec<ListingQuantityOut>,
}

/// The result of a single set or adjust.
#[derive(Debug, Serialize, ToSchema)]
pub struct StockWriteOut {
    /// What changed.
    pub change: StockChangeOut,
    /// The SKU's figures after the change.
    pub stock: StockOut,
}

/// Stock of many SKUs.
#[derive(Debug, Serialize, ToSchema)]
pub struct StockList {
    /// Figures, in SKU order.
    pub items: Vec<StockOut>,
    /// Requested SKUs that are not products of the store.
    pub missing: Vec<String>,
    /// Pass as `cursor` for the next page (when listing all); absent on the last page.
    pub next_cursor: Option<String>,
}

/// One open commitment.
#[derive(Debug, Serialize, ToSchema)]
pub struct CommitmentOut {
    /// Order holding the units.
    pub order_id: String,
    /// Units.
    pub quantity: i64,
    /// The kit the order line was for, if any.
    pub via_kit: Option<String>,
}

/// A kit component's part in the kit's availability.
#[derive(Debug, Serialize, ToSchema)]
pub struct ComponentExplainOut {
    /// Component SKU.
    pub sku: String,
    /// Units per kit.
    pub per_kit: i64,
    /// Σ sources.
    pub on_hand: i64,
    /// Σ commitments.
    pub committed: i64,
    /// `on_hand − committed`.
    pub available: i64,
    /// `⌊max(available, 0) / per_kit⌋`.
    pub kits_possible: i64,
    /// Sources.
    pub sources: Vec<SourceOut>,
    /// Commitments.
    pub commitments: Vec<CommitmentOut>,
}

/// One applied stock rule.
#[derive(Debug, Serialize, ToSchema)]
pub struct RuleStepOut {
    /// Rule: fixed, zero_at_or_below, buffer, percentage, maximum, never_negative.
    pub rule: String,
    /// Its setting.
    pub parameter: i64,
    /// Quantity before.
    pub before: i64,
    /// Quantity after.
    pub after: i64,
    /// What happened.
    pub note: String,
}

impl RuleStepOut {
    /// The rule in words: `buffer 2`, `percentage 50%`, `floor 0`.
    #[must_use]
    pub fn label(&self) -> String {
        match self.rule.as_str() {
            "never_negative" => "floor 0".to_owned(),
            "percentage" => format!("percentage {}%", self.parameter),
            r => format!("{r} {}", self.parameter),
        }
    }
}

/// How one channel's quantity is derived.
#[derive(Debug, Serialize, ToSchema)]
pub struct ListingExplainOut {
    /// Channel id.
    pub channel_id: String,
    /// Channel name.
    pub channel_name: String,
    /// The channel's rules.
    pub rules: StockRulesDto,
    /// The availability the rules start from.
    pub base: i64,
    /// Each rule applied, in order.
    pub steps: Vec<RuleStepOut>,
    /// The quantity shown.
    pub quantity: i64,
    /// The derivation in one line, e.g. `12 → buffer 2 → 10 → maximum 5 → 5 → floor 0 → 5`.
    pub summary: String,
}

/// The full derivation of a SKU's figures.
#[derive(Debug, Serialize, ToSchema)]
pub struct ExplainOut {
    /// SKU.
    pub sku: String,
    /// Whether it is a kit.
    pub kit: bool,
    /// Σ sources (plain products).
    pub on_hand: Option<i64>,
    /// Σ commitments (plain products).
    pub committed: Option<i64>,
    /// Availability.
    pub available: i64,
    /// The availability in one line, e.g. `on_hand 12 (api 7 + plugin:3pl@Leeds 5) − committed 4 = 8`.
    pub summary: String,
    /// Plain products: sources.
    pub sources: Vec<SourceOut>,
    /// Plain products: open commitments.
    pub commitments: Vec<CommitmentOut>,
    /// Kits: components.
    pub components: Vec<ComponentExplainOut>,
    /// Kits: the limiting component.
    pub limiting_component: Option<String>,
    /// Each channel's quantity and derivation.
    pub listings: Vec<ListingExplainOut>,
}

fn sources_out(levels: &[switchyard_domain::stock::SourceLevel]) -> Vec<SourceOut> {
    levels
        .iter()
        .map(|l| SourceOut {
            source: l.source.to_string(),
            location: l.location.clone(),
            quantity: l.quantity,
        })
        .collect()
}

fn commitments_out(cs: &[switchyard_domain::stock::Commitment]) -> Vec<CommitmentOut> {
    cs.iter()
        .map(|c| CommitmentOut {
            order_id: c.order_id.to_string(),
            quantity: c.quantity,
            via_kit: c.via_kit.as_ref().map(ToString::to_string),
        })
        .collect()
}

fn source_label(l: &switchyard_domain::stock::SourceLevel) -> String {
    if l.location.is_empty() {
        l.source.to_string()
    } else {
        format!("{}@{}", l.source, l.location)
    }
}

fn availability_summary(e: &Explanation) -> String {
    if e.kit {
        let parts: Vec<String> = e
            .components
            .iter()
            .map(|c| {
                format!(
                    "{}: ⌊{}/{}⌋ = {}",
                    c.sku,
                    c.available.max(0),
                    c.per_kit,
                    c.kits_possible
                )
            })
            .collect();
        let limit = e
            .limiting_component
            .as_ref()
            .map(|s| format!(", limited by {s}"))
            .unwrap_or_default();
        format!("min({}) = {}{limit}", parts.join(", "), e.available)
    } else {
        let parts: Vec<String> = e
            .sources
            .iter()
            .map(|l| format!("{} {}", source_label(l), l.quantity))
            .collect();
        let detail = if parts.is_empty() {
            String::from("no sources")
        } else {
            parts.join(" + ")
        };
        format!(
            "on_hand {} ({detail}) − committed {} = {}",
            e.on_hand.unwrap_or(0),
            e.committed.unwrap_or(0),
            e.available
        )
    }
}

fn rule_name(r: switchyard_domain::stock::RuleName) -> String {
    serde_json::to_value(r)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

pub(crate) fn explain_out(e: Explanation) -> ExplainOut {
    let summary = availability_summary(&e);
    ExplainOut {
        sku: e.sku.to_string(),
        kit: e.kit,
        on_hand: e.on_hand,
        committed: e.committed,
        available: e.available,
        summary,
        sources: sources_out(&e.sources),
        commitments: commitments_out(&e.commitments),
        components: e
            .components
            .iter()
            .map(|c| ComponentExplainOut {
                sku: c.sku.to_string(),
                per_kit: c.per_kit,
                on_hand: c.on_hand,
                committed: c.committed,
                available: c.available,
                kits_possible: c.kits_possible,
                sources: sources_out(&c.sources),
                commitments: commitments_out(&c.commitments),
            })
            .collect(),
        limiting_component: e.limiting_component.as_ref().map(ToString::to_string),
        listings: e
            .listings
            .into_iter()
            .map(|l| {
                let steps: Vec<RuleStepOut> = l
                    .steps
                    .into_iter()
                    .map(|s| RuleStepOut {
                        rule: rule_name(s.rule),
                        parameter: s.parameter,
                        before: s.before,
                        after: s.after,
                        note: s.note,
                    })
                    .collect();
                let mut summary = l.base.to_string();
                for s in &steps {
                    summary.push_str(&format!(" → {} → {}", s.label(), s.after));
                }
                ListingExplainOut {
                    channel_id: l.channel_id.to_string(),
                    channel_name: l.channel_name,
                    rules: l.rules.into(),
                    base: l.base,
                    steps,
                    quantity: l.quantity,
                    summary,
                }
            })
            .collect(),
    }
}

pub(crate) fn explain_entry(sku: &Sku, snap: &StockSnapshot) -> Option<Explanation> {
    let subject = match snap.entries.get(sku)? {
        SnapshotEntry::Plain(l) => Subject::Plain(l),
        SnapshotEntry::Kit(parts) => Subject::Kit(parts),
    };
    Some(explain(sku, subject, &snap.channels))
}

fn stock_out(e: Explanation) -> StockOut {
    StockOut {
        sku: e.sku.to_string(),
        kit: e.kit,
        on_hand: e.on_hand,
        committed: e.committed,
        available: e.available,
        limiting_component: e.limiting_component.as_ref().map(ToString::to_string),
        sources: sources_out(&e.sources),
        listings: e
            .listings
            .into_iter()
            .map(|l| ListingQuantityOut {
                channel_id: l.channel_id.to_string(),
                channel_name: l.channel_name,
                quantity: l.quantity,
            })
            .collect(),
    }
}

/// One applied change of `source`.
pub(crate) fn change_out(o: StockChangeOutcome, source: &str) -> StockChangeOut {
    StockChangeOut {
        sku: o.sku.to_string(),
        source: source.to_owned(),
        location: o.location,
        before: o.before,
        after: o.after,
    }
}

fn check_extras(
    location: &Option<String>,
    expected: Option<i64>,
    reason: &Option<String>,
) -> Result<String, ApiError> {
    let location = location.clone().unwrap_or_default();
    check_location("location", &location)?;
    if let Some(e) = expected {
        check_quantity("expected", e)?;
    }
    if let Some(r) = reason {
        check_text("reason", r, 500)?;
    }
    Ok(location)
}

/// One SKU's figures and their derivation (404 when it is no product of
/// the store).
pub(crate) async fn read_one(
    s: &AppState,
    account: &AccountId,
    store: &StoreId,
    sku: &Sku,
) -> Result<Explanation, ApiError> {
    let snap = s
        .storage
        .stock_snapshot(account, store, std::slice::from_ref(sku))
        .await?;
    explain_entry(sku, &snap).ok_or_else(|| ApiError::not_found("product"))
}

/// Apply one change to the `api` source and read the SKU's figures after it.
pub(crate) async fn write_one(
    s: &AppState,
    account: &AccountId,
    store: &StoreId,
    change: StockChange,
) -> Result<StockWriteOut, ApiError> {
    let sku = change.sku.clone();
    let out = s
        .storage
        .change_stock(account, store, &StockSource::Api, &[change])
        .await
        .map_err(|e| ApiError::from(e).with_field_prefix(""))?;
    s.wake.notify_one();
    let change = out
        .into_iter()
        .next()
        .map(|o| change_out(o, "api"))
        .ok_or_else(|| ApiError::not_found("product"))?;
    let stock = stock_out(read_one(s, account, store, &sku).await?);
    Ok(StockWriteOut { change, stock })
}

/// `?sku=...` (repeatable) of stock reads.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct StockQuery {
    /// SKUs to read (repeat the parameter, up to 1,000). Without it, all SKUs are paged through.
    pub sku: Option<Vec<String>>,
    /// Page size when listing all (1–1000, default 100).
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<u32>,
    /// Cursor when listing all.
    #[param(min_length = 1)]
    pub cursor: Option<String>,
}

/// Read stock of some SKUs (`?sku=A&sku=B`) or page through all of them.
#[utoipa::path(get, path = "/v1/stores/{store_id}/stock", tag = "stock",
    params(("store_id" = String, Path, description = "Store id"), StockQuery),
    responses((status = 200, body = StockList), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn list_stock(
    State(s): State<AppState>,
    auth: Auth,
    ApiPath(store): ApiPath<StoreId>,
    ApiQuery(pairs): ApiQuery<Vec<(String, String)>>,
) -> Result<Json<StockList>, ApiError> {
    auth.check_store(&store)?;
    let mut skus = Vec::new();
    let mut page = PageQuery::default();
    for (k, v) in pairs {
        match k.as_str() {
            "sku" => skus.push(v),
            "limit" => {
                page.limit = Some(v.parse().map_err(|_| {
                    ApiError::field(
                        StatusCode::BAD_REQUEST,
                        "invalid_query",
                        "limit",
                        "limit must be a positive integer",
                    )
                })?);
            }
            "cursor" => page.cursor = Some(v),
            _ => {}
        }
    }
    let (wanted, next) = if skus.is_empty() {
        let req = page.to_request(|k| Sku::parse(k).is_ok())?;
        let p = s.storage.list_skus(&auth.account_id, &store, &req).await?;
        (p.items, p.next)
    } else {
        if skus.len() > MAX_READ_SKUS {
            return Err(ApiError::field(
                StatusCode::BAD_REQUEST,
                "too_many_items",
                "sku",
                format!("at most {MAX_READ_SKUS} SKUs per read (got {})", skus.len()),
            ));
        }
        let parsed = skus
            .iter()
            .map(|s| {
                Sku::parse(s)
                    .map_err(|e| ApiError::field(StatusCode::BAD_REQUEST, e.code, "sku", e.message))
            })
            .collect::<Result<Vec<_>, _>>()?;
        (parsed, None)
    };
    let snap = s
        .storage
        .stock_snapshot(&auth.account_id, &store, &wanted)
        .await?;
    let mut items = Vec::new();
    let mut missing = Vec::new();
    let mut sorted = wanted;
    sorted.sort();
    sorted.dedup();
    for sku in &sorted {
        match explain_entry(sku, &snap) {
            Some(e) => items.push(stock_out(e)),
            None => missing.push(sku.to_string()),
        }
    }
    Ok(Json(StockList {
        items,
        missing,
        next_cursor: next.as_deref().map(encode_cursor),
    }))
}

/// Apply up to 10,000 set / adjust changes to the `api` source, all or nothing.
#[utoipa::path(post, path = "/v1/stores/{store_id}/stock", tag = "stock", request_body = BulkStockIn,
    params(("store_id" = String, Path, description = "Store id")),
    responses((status = 200, body = BulkStockOut), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn bulk_change_stock(
    State(s): State<AppState>,
    auth: Auth,
    ApiPath(store): ApiPath<StoreId>,
    ApiJson(body): ApiJson<BulkStockIn>,
) -> Result<Json<BulkStockOut>, ApiError> {
    auth.check_store(&store)?;
    if body.items.is_empty() || body.items.len() > MAX_BULK_ITEMS {
        return Err(ApiError::field(
            StatusCode::UNPROCESSABLE_ENTITY,
            "too_many_items",
            "items",
            format!(
                "send between 1 and {MAX_BULK_ITEMS} items (got {})",
                body.items.len()
            ),
        ));
    }
    let mut changes = Vec::with_capacity(body.items.len());
    for (i, it) in body.items.into_iter().enumerate() {
        let at = format!("items[{i}]");
        let check = || -> Result<StockChange, ApiError> {
            let sku = Sku::parse(&it.sku)?;
            let op = match (it.quantity, it.delta) {
                (Some(q), None) => StockOp::Set(check_quantity("quantity", q)?),
                (None, Some(d)) => StockOp::Adjust(check_delta("delta", d)?),
                _ => {
                    return Err(ApiError::field(
                        StatusCode::UNPROCESSABLE_ENTITY,
                        "invalid_item",
                        "quantity",
                        "give exactly one of `quantity` (set) and `delta` (adjust)",
                    ));
                }
            };
            let location = check_extras(&it.location, it.expected, &it.reason)?;
            Ok(StockChange {
                sku,
                location,
                op,
                expected: it.expected,
                reason: it.reason.clone(),
            })
        };
        changes.push(check().map_err(|e| e.with_field_prefix(&at))?);
    }
    let out = s
        .storage
        .change_stock(&auth.account_id, &store, &StockSource::Api, &changes)
        .await
        .map_err(|e| ApiError::from(e).with_field_prefix("items"))?;
    s.wake.notify_one();
    Ok(Json(BulkStockOut {
        items: out.into_iter().map(|o| change_out(o, "api")).collect(),
    }))
}

/// Read one SKU's figures, with what each channel shows.
#[utoipa::path(get, path = "/v1/stores/{store_id}/stock/{sku}", tag = "stock",
    params(("store_id" = String, Path, description = "Store id"), ("sku" = String, Path, description = "SKU, URL-encoded")),
    responses((status = 200, body = StockOut), (status = 404, body = ErrorBody)))]
pub async fn get_stock(
    State(s): State<AppState>,
    auth: Auth,
    ApiPath((store, sku)): ApiPath<(StoreId, String)>,
) -> Result<Json<StockOut>, ApiError> {
    auth.check_store(&store)?;
    let sku = path_sku(&sku)?;
    Ok(Json(stock_out(
        read_one(&s, &auth.account_id, &store, &sku).await?,
    )))
}

/// Set the `api` quantity (absolute), optionally compare-and-set with `expected` (409 on mismatch).
#[utoipa::path(put, path = "/v1/stores/{store_id}/stock/{sku}", tag = "stock", request_body = SetStockIn,
    params(("store_id" = String, Path, description = "Store id"), ("sku" = String, Path, description = "SKU, URL-encoded")),
    responses((status = 200, body = StockWriteOut), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn set_stock(
    State(s): State<AppState>,
    auth: Auth,
    ApiPath((store, sku)): ApiPath<(StoreId, String)>,
    ApiJson(body): ApiJson<SetStockIn>,
) -> Result<Json<StockWriteOut>, ApiError> {
    auth.check_store(&store)?;
    let change = body.into_change(path_sku(&sku)?)?;
    Ok(Json(write_one(&s, &auth.account_id, &store, change).await?))
}

/// Adjust the `api` quantity by a delta (may not go below 0).
#[utoipa::path(post, path = "/v1/stores/{store_id}/stock/{sku}/adjust", tag = "stock", request_body = AdjustStockIn,
    params(("store_id" = String, Path, description = "Store id"), ("sku" = String, Path, description = "SKU, URL-encoded")),
    responses((status = 200, body = StockWriteOut), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn adjust_stock(
    State(s): State<AppState>,
    auth: Auth,
    ApiPath((store, sku)): ApiPath<(StoreId, String)>,
    ApiJson(body): ApiJson<AdjustStockIn>,
) -> Result<Json<StockWriteOut>, ApiError> {
    auth.check_store(&store)?;
    let change = body.into_change(path_sku(&sku)?)?;
    Ok(Json(write_one(&s, &auth.account_id, &store, change).await?))
}

/// Explain a SKU's figures: each source, each commitment, for kits each
/// component and the limiting one, and for each channel every rule applied.
#[utoipa::path(get, path = "/v1/stores/{store_id}/stock/{sku}/explain", tag = "stock",
    params(("store_id" = String, Path, description = "Store id"), ("sku" = String, Path, description = "SKU, URL-encoded")),
    responses((status = 200, body = ExplainOut), (status = 404, body = ErrorBody)))]
pub async fn explain_stock(
    State(s): State<AppState>,
    auth: Auth,
    ApiPath((store, sku)): ApiPath<(StoreId, String)>,
) -> Result<Json<ExplainOut>, ApiError> {
    auth.check_store(&store)?;
    let sku = path_sku(&sku)?;
    Ok(Json(explain_out(
        read_one(&s, &auth.account_id, &store, &sku).await?,
    )))
}
