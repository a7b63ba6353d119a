//! Plugin rules of a store, and a dry run that shows what past orders
//! would have got under them without changing anything.

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::State;
use serde::{Deserialize, Serialize};
use switchyard_domain::ids::{AccountId, OrderId, StoreId};
use switchyard_domain::plugin_rules::{OrderFacts, PluginRules, RuleOutcome};
use switchyard_storage::{OrderFilter, OrderRecord, PageRequest};
use utoipa::ToSchema;

use crate::AppState;
use crate::error::{ApiError, ErrorBody};
use crate::extract::{ApiJson, ApiPath, Auth, PageQuery, encode_cursor};

/// The rules, first to last.
#[derive(Debug, Serialize, ToSchema)]
pub struct PluginRulesOut {
    /// Each `{name, when: {channels, skus_any, skus_all, min_quantity,
    /// max_quantity, total: {currency, min, max}, countries, tags_any},
    /// then: {action: send_to_plugin|exclude|hold|add_tag, ...}}`.
    pub rules: Vec<switchyard_domain::plugin_rules::PluginRule>,
}

impl From<PluginRules> for PluginRulesOut {
    fn from(r: PluginRules) -> Self {
        Self { rules: r.rules }
    }
}

/// What to try.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DryRunIn {
    /// Rules to try (same shape as the PUT body); the store's own when omitted.
    pub rules: Option<PluginRules>,
    /// Orders per page (default 100, at most 1000), oldest first.
    #[schema(minimum = 1, maximum = 1000)]
    pub limit: Option<u32>,
    /// The `next_cursor` of the previous page.
    #[schema(min_length = 1)]
    pub cursor: Option<String>,
}

/// One past order and what the rules would do with it.
#[derive(Debug, Serialize, ToSchema)]
pub struct DryRunItem {
    /// Order.
    #[schema(value_type = String)]
    pub order_id: OrderId,
    /// Its number.
    pub number: String,
    /// Its state now.
    #[schema(value_type = switchyard_domain::order::OrderState)]
    pub state: String,
    /// The plugin it is routed to now (none: it stays with the store).
    pub plugin_id_now: Option<String>,
    /// What the rules decide: `plugin_id` (none: stays with the store),
    /// `routed_by`, `excluded`, `on_hold`, `tags_added`, `matched`.
    pub outcome: RuleOutcome,
}

/// Counts over the page.
#[derive(Debug, Default, Serialize, ToSchema)]
pub struct DryRunSummary {
    /// Orders each plugin would get.
    pub by_plugin: BTreeMap<String, u64>,
    /// Orders no routing rule takes.
    pub stay_with_store: u64,
    /// Orders that would be excluded.
    pub excluded: u64,
    /// Orders that would be put on hold.
    pub on_hold: u64,
}

/// The dry run of one page of orders.
#[derive(Debug, Serialize, ToSchema)]
pub struct DryRunOut {
    /// Orders, oldest first.
    pub items: Vec<DryRunItem>,
    /// Counts over these items.
    pub summary: DryRunSummary,
    /// Cursor of the next page.
    pub next_cursor: Option<String>,
}

/// What rules look at in a stored order (the tags it arrived with;
/// rules add theirs again).
fn facts(o: &OrderRecord) -> OrderFacts {
    OrderFacts::of(
        o.channel_id.as_str(),
        o.unified.as_ref(),
        o.lines
            .iter()
            .map(|l| (l.sku.clone(), l.quantity.unwrap_or(l.open_quantity)))
            .collect(),
    )
}

/// The store's plugin rules.
#[utoipa::path(get, path = "/v1/stores/{store_id}/plugin-rules", tag = "plugins",
    params(("store_id" = String, Path, description = "Store id")),
    responses((status = 200, body = PluginRulesOut), (status = 404, body = ErrorBody)))]
pub async fn get_plugin_rules(
    State(s): State<AppState>,
    auth: Auth,
    ApiPath(store): ApiPath<StoreId>,
) -> Result<Json<PluginRulesOut>, ApiError> {
    auth.check_store(&store)?;
    Ok(Json(
        s.storage
            .plugin_rules(&auth.account_id, &store)
            .await?
            .into(),
    ))
}

/// Replace the store's plugin rules. Ordered; every matching rule's action
/// applies, and the first matching `send_to_plugin` routes the order.
#[utoipa::path(put, path = "/v1/stores/{store_id}/plugin-rules", tag = "plugins", request_body = PluginRules,
    params(("store_id" = String, Path, description = "Store id")),
    responses((status = 200, body = PluginRulesOut), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn put_plugin_rules(
    State(s): State<AppState>,
    auth: Auth,
    ApiPath(store): ApiPath<StoreId>,
    ApiJson(body): ApiJson<PluginRules>,
) -> Result<Json<PluginRulesOut>, ApiError> {
    auth.check_store(&store)?;
    Ok(Json(
        s.storage
            .set_plugin_rules(&auth.account_id, &store, body)
            .await?
            .into(),
    ))
}

/// What past orders of the store would get under the store's rules (or
/// the rules given), one page at a time. Nothing is changed.
#[utoipa::path(post, path = "/v1/stores/{store_id}/plugin-rules/dry-run", tag = "plugins", request_body = DryRunIn,
    params(("store_id" = String, Path, description = "Store id")),
    responses((status = 200, body = DryRunOut), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn dry_run_plugin_rules(
    State(s): State<AppState>,
    auth: Auth,
    ApiPath(store): ApiPath<StoreId>,
    ApiJson(body): ApiJson<DryRunIn>,
) -> Result<Json<DryRunOut>, ApiError> {
    auth.check_store(&store)?;
    let page = PageQuery {
        limit: body.limit,
        cursor: body.cursor,
    }
    .to_request(|k| OrderId::parse(k).is_ok())?;
    Ok(Json(
        dry_run(&s, &auth.account_id, &store, body.rules, &page, false).await?,
    ))
}

/// What one page of the store's orders (oldest first, or newest first)
/// would get under `rules`, or the store's own rules. Changes nothing.
pub(crate) async fn dry_run(
    s: &AppState,
    account: &AccountId,
    store: &StoreId,
    rules: Option<PluginRules>,
    page: &PageRequest,
    newest_first: bool,
) -> Result<DryRunOut, ApiError> {
    // Read even when rules are given: it is also the check that the store
    // is the caller's (404 otherwise).
    let stored = s.storage.plugin_rules(account, store).await?;
    let rules = match rules {
        Some(r) => {
            r.validate()
                .map_err(|e| ApiError::from(e).with_field_prefix("rules"))?;
            r
        }
        None => stored,
    };
    let filter = OrderFilter {
        store_id: Some(store.clone()),
        newest_first,
        ..OrderFilter::default()
    };
    let orders = s.storage.list_orders(account, &filter, page).await?;
    let mut summary = DryRunSummary::default();
    let items = orders
        .items
        .into_iter()
        .map(|o| {
            let outcome = rules.evaluate(&facts(&o));
            match &outcome.plugin_id {
                Some(p) => *summary.by_plugin.entry(p.clone()).or_default() += 1,
                None => summary.stay_with_store += 1,
            }
            summary.excluded += u64::from(outcome.excluded.is_some());
            summary.on_hold += u64::from(outcome.on_hold.is_some());
            DryRunItem {
                order_id: o.id,
                number: o.number,
                state: o.state.as_str().to_owned(),
                plugin_id_now: o.plugin_id.map(|p| p.to_string()),
                outcome,
            }
        })
        .collect();
    Ok(DryRunOut {
        items,
        summary,
        next_cursor: orders.next.as_deref().map(encode_cursor),
    })
}
