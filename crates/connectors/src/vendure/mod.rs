//! Vendure connector over the Admin GraphQL API (`/admin-api`, Vendure 3.x).
//!
//! - Auth: an API key in the `vendure-api-key` header (Vendure ≥ 3.6 with
//!   `'api-key'` among `authOptions.tokenMethod`), and the `vendure-token`
//!   header when the key is for a channel other than the default one.
//! - Orders: `orders` filtered on `updatedAt` *or* `orderPlacedAt`, not
//!   active (carts) and not drafts, in id order with `skip`/`take` pages.
//!   Vendure does not touch `updatedAt` when an order changes state (paid,
//!   shipped): a cart paid long after it was filled keeps its old
//!   `updatedAt` and only `orderPlacedAt` shows it is new.
//! - Stock: `updateProductVariants` (100 a call). Vendure subtracts its own
//!   allocations (placed, unshipped orders) from `stockOnHand`, so the
//!   quantity pushed is `target + stockAllocated`, read just before.
//! - Fulfilment: `addFulfillmentToOrder` with the built-in manual handler
//!   (`method` = carrier, `trackingCode` = the numbers), then
//!   `transitionFulfillmentToState(Shipped)`. An existing fulfilment with
//!   the same tracking code and lines is the earlier attempt.

mod back_office;
mod map;

use std::collections::BTreeMap;
use std::time::Duration;

use async_trait::async_trait;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::channel::{
    Capabilities, FulfilmentAck, FulfilmentPush, Listing, ListingPage, OrderPage, OrderQuery,
    SalesChannel, StockOutcome, StockUpdate,
};
use crate::error::ConnectorError;
use crate::http::{ChannelHttp, HttpPolicy, HttpRequest};
use crate::support;

/// Orders per page.
const ORDERS_PAGE: usize = 50;
/// Variants per listings page and per stock call.
pub const STOCK_BATCH: usize = 100;

/// The fields of an order the connector reads.
const ORDER_FIELDS: &str = "fragment SwitchyardAddress on OrderAddress {
  fullName company streetLine1 streetLine2 city province postalCode countryCode phoneNumber
}
fragment SwitchyardOrder on Order {
  id code state active orderPlacedAt createdAt updatedAt currencyCode
  total totalWithTax shipping shippingWithTax
  discounts { amountWithTax }
  customer { firstName lastName emailAddress phoneNumber }
  shippingAddress { ...SwitchyardAddress }
  billingAddress { ...SwitchyardAddress }
  shippingLines { shippingMethod { name } }
  payments { state amount updatedAt }
  fulfillments { id state method trackingCode updatedAt lines { orderLineId quantity } }
  lines { id quantity unitPriceWithTax linePriceWithTax proratedLinePrice proratedLinePriceWithTax
          productVariant { id sku name } }
  history(options: { filter: { type: { eq: \"ORDER_NOTE\" } }, take: 20 }) { items { data } }
}";

/// Credentials of a Vendure channel (stored encrypted).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VendureCredentials {
    /// An Admin API key (Settings → API keys), with a role holding the
    /// order permissions (DeleteOrder included: it clears a draft an
    /// unfinished back-office attempt left), catalogue, customer and
    /// settings permissions.
    pub api_key: SecretString,
    /// The Vendure channel's token, when the key is not for the default
    /// channel.
    #[serde(default)]
    pub channel_token: Option<String>,
}

/// A Vendure server.
#[derive(Debug, Clone)]
pub struct Vendure {
    http: ChannelHttp,
    endpoint: String,
    api_key: SecretString,
    channel_token: Option<String>,
    attempts: u32,
    pause: Duration,
}

impl Vendure {
    /// A connector for the server at `base_url` (its root; `/admin-api` is added).
    pub fn new(
        base_url: &str,
        creds: &VendureCredentials,
        policy: HttpPolicy,
    ) -> Result<Self, ConnectorError> {
        let pause = policy.base_backoff;
        let attempts = policy.max_attempts;
        let http = ChannelHttp::new(
            "vendure",
            policy,
            vec![creds.api_key.expose_secret().to_owned()],
        )?;
        let base = base_url.trim_end_matches('/');
        let endpoint = if base.ends_with("/admin-api") {
            base.to_owned()
        } else {
            format!("{base}/admin-api")
        };
        Ok(Self {
            http,
            endpoint,
            api_key: creds.api_key.clone(),
            channel_token: creds.channel_token.clone(),
            attempts,
            pause,
        })
    }

    fn malformed(&self, reason: impl Into<String>) -> ConnectorError {
        ConnectorError::Malformed {
            channel: self.http.label().to_owned(),
            reason: reason.into(),
        }
    }

    fn refused(&self, reason: impl Into<String>) -> ConnectorError {
        ConnectorError::Rejected {
            channel: self.http.label().to_owned(),
            status: 200,
            body: reason.into(),
        }
    }

    /// Run a document and return its `data`. GraphQL errors come with
    /// HTTP 200 (or 400 for an invalid document); `FORBIDDEN` is a bad or
    /// under-privileged key.
    async fn graphql(
        &self,
        query: &str,
        variables: &Value,
        idempotent: bool,
    ) -> Result<Value, ConnectorError> {
        let mut req = HttpRequest::json(
            reqwest::Method::POST,
            &self.endpoint,
            &json!({ "query": query, "variables": variables }),
        )
        .secret_header("vendure-api-key", self.api_key.expose_secret());
        if let Some(t) = &self.channel_token {
            req = req.header("vendure-token", t.clone());
        }
        if !idempotent {
            req = req.not_idempotent();
        }
        let (_, body) = self.http.send_json(&req).await?;
        let errors = body["errors"].as_array().cloned().unwrap_or_default();
        if errors
            .iter()
            .any(|e| e["extensions"]["code"] == "FORBIDDEN")
        {
            return Err(ConnectorError::Auth {
                channel: self.http.label().to_owned(),
                status: 403,
            });
        }
        if !errors.is_empty() {
            let text: Vec<&str> = errors
                .iter()
                .map(|e| e["message"].as_str().unwrap_or("error"))
                .collect();
            return Err(self.refused(text.join("; ")));
        }
        match body.get("data") {
            Some(d) if d.is_object() => Ok(d.clone()),
            _ => Err(self.malformed("GraphQL answer without data")),
        }
    }

    /// A mutation's result, or its error result (`errorCode`, `message`:
    /// Vendure answers expected failures as data, not as GraphQL errors).
    fn result(&self, data: &Value, field: &str) -> Result<Value, ConnectorError> {
        let v = data
            .get(field)
            .filter(|v| !v.is_null())
            .ok_or_else(|| self.malformed(format!("`{field}` is missing")))?;
        match v.get("errorCode").and_then(Value::as_str) {
            Some(code) => Err(self.refused(format!(
                "{field}: {code}: {}",
                v["message"].as_str().unwrap_or("")
            ))),
            None => Ok(v.clone()),
        }
    }

    /// One order with the fields [`map::order`] reads, or `None`.
    async fn order(&self, id: &str) -> Result<Option<Value>, ConnectorError> {
        let d = self
            .graphql(
                &format!(
                    "query SwitchyardOrder($id: ID!) {{ order(id: $id) {{ ...SwitchyardOrder }} }}\n{ORDER_FIELDS}"
                ),
                &json!({ "id": id }),
                true,
            )
            .await?;
        Ok(d.get("order").filter(|o| o.is_object()).cloned())
    }

    /// Orders matching `filter`, in id order, one page.
    async fn orders(
        &self,
        filter: &Value,
        skip: usize,
        take: usize,
    ) -> Result<(Vec<Value>, u64), ConnectorError> {
        let d = self
            .graphql(
                &format!(
                    "query SwitchyardOrders($o: OrderListOptions) {{ orders(options: $o) {{
                       totalItems items {{ ...SwitchyardOrder }} }} }}\n{ORDER_FIELDS}"
                ),
                &json!({ "o": { "filter": filter, "sort": { "id": "ASC" }, "skip": skip, "take": take } }),
                true,
            )
            .await?;
        let items = d["orders"]["items"]
            .as_array()
            .cloned()
            .ok_or_else(|| self.malformed("order list has no items"))?;
        let total = d["orders"]["totalItems"]
            .as_u64()
            .ok_or_else(|| self.malformed("order list has no totalItems"))?;
        Ok((items, total))
    }

    /// `stockAllocated` of each variant that exists, by id.
    async fn allocated(&self, ids: &[&str]) -> Result<BTreeMap<String, i64>, ConnectorError> {
        let d = self
            .graphql(
                "query SwitchyardAllocated($o: ProductVariantListOptions) {
                   productVariants(options: $o) { items { id stockAllocated } } }",
                &json!({ "o": { "filter": { "id": { "in": ids } }, "take": ids.len() } }),
                true,
            )
            .await?;
        Ok(d["productVariants"]["items"]
            .as_array()
            .map(|items| {
                items
                    .iter()
                    .filter_map(|v| {
                        Some((v["id"].as_str()?.to_owned(), v["stockAllocated"].as_i64()?))
                    })
                    .collect()
            })
            .unwrap_or_default())
    }

    /// Move a fulfilment to `state` unless it is there already.
    async fn transition_fulfilment(
        &self,
        id: &str,
        from: &str,
        state: &str,
    ) -> Result<(), ConnectorError> {
        if from == state {
            return Ok(());
        }
        let d = self
            .graphql(
                "mutation SwitchyardFulfilmentState($id: ID!, $state: String!) {
                   transitionFulfillmentToState(id: $id, state: $state) {
                     ... on Fulfillment { id state }
                     ... on ErrorResult { errorCode message } } }",
                &json!({ "id": id, "state": state }),
                false,
            )
            .await?;
        self.result(&d, "transitionFulfillmentToState").map(|_| ())
    }

    /// Cancel an order there; a cancelled one stays cancelled.
    async fn cancel(&self, id: &str, reason: &str) -> Result<(), ConnectorError> {
        let Some(order) = self.order(id).await? else {
            return Err(self.refused(format!("there is no order {id}")));
        };
        if order["state"] == "Cancelled" {
            return Ok(());
        }
        let d = self
            .graphql(
                "mutation SwitchyardCancel($i: CancelOrderInput!) { cancelOrder(input: $i) {
                   ... on Order { id state } ... on ErrorResult { errorCode message } } }",
                &json!({ "i": { "orderId": id, "reason": reason, "cancelShipping": true } }),
                false,
            )
            .await?;
        self.result(&d, "cancelOrder").map(|_| ())
    }
}

/// The tracking code Vendure keeps for a shipment: its numbers, comma-separated
/// (the manual handler has one free-text field).
fn tracking_code(shipment: &FulfilmentPush) -> String {
    shipment
        .tracking
        .iter()
        .map(|t| t.number.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

/// `(order line id, quantity)` of a Vendure fulfilment, sorted.
fn fulfilment_lines(f: &Value) -> Vec<(String, i64)> {
    let mut lines: Vec<(String, i64)> = f["lines"]
        .as_array()
        .map(|ls| {
            ls.iter()
                .filter_map(|l| {
                    Some((
                        l["orderLineId"].as_str()?.to_owned(),
                        l["quantity"].as_i64()?,
                    ))
                })
                .collect()
        })
        .unwrap_or_default();
    lines.sort();
    lines
}

#[async_trait]
impl SalesChannel for Vendure {
    fn capabilities(&self) -> Capabilities {
        Capabilities {
            bulk_stock: true,
            max_stock_batch: STOCK_BATCH,
            push_notifications: false,
            partial_fulfilment: true,
            multiple_tracking_numbers: true,
            compare_and_set_stock: false,
            scarce_order_lists: false,
            tracking_updates: false,
            fulfilment_cancellation: true,
            order_cancellation: true,
        }
    }

    fn unsupported(&self, what: &str) -> ConnectorError {
        ConnectorError::Unsupported {
            channel: self.http.label().to_owned(),
            what: what.to_owned(),
        }
    }

    fn as_back_office(&self) -> Option<&dyn crate::back_office::BackOffice> {
        Some(self)
    }

    async fn test_connection(&self) -> Result<(), ConnectorError> {
        let d = self
            .graphql(
                "query SwitchyardPing { activeChannel { id code defaultCurrencyCode } }",
                &json!({}),
                true,
            )
            .await?;
        d["activeChannel"]["id"]
            .as_str()
            .map(|_| ())
            .ok_or_else(|| self.malformed("no active channel"))
    }

    async fn fetch_orders(&self, query: &OrderQuery) -> Result<OrderPage, ConnectorError> {
        let skip = support::offset_from(
            self.http.label(),
            "a Vendure",
            "vd1:",
            query.page.as_deref(),
        )?;
        // `after` is exclusive, and the SQLite backend keeps `updatedAt`
        // to the second: ask from one second earlier.
        let since = (query.updated_since - chrono::Duration::seconds(1))
            .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        let filter = json!({
            "active": { "eq": false },
            "state": { "notEq": "Draft" },
            "_or": [ { "updatedAt": { "after": since } }, { "orderPlacedAt": { "after": since } } ],
        });
        // Id order never changes: an order that starts to match while we
        // page (a cart being paid) lands before our position and only
        // pushes the rest right, so pages are read again, never skipped.
        let (items, total) = self.orders(&filter, skip, ORDERS_PAGE).await?;
        let mut page = OrderPage::default();
        for raw in items {
            let id = raw["id"].as_str().map(str::to_owned);
            if id.as_deref().is_some_and(|id| page.holds(id)) {
                continue;
            }
            if back_office::reference_of(&raw).is_some() {
                page.ours.extend(id);
                continue;
            }
            let mapped = map::order(self.http.label(), &raw);
            page.add(raw, id, mapped);
        }
        page.next_page = support::next_offset("vd1:", skip, ORDERS_PAGE, total);
        Ok(page)
    }

    async fn fetch_order(&self, channel_order_id: &str) -> Result<OrderPage, ConnectorError> {
        let raw = self.order(channel_order_id).await?;
        Ok(OrderPage::found(raw, channel_order_id, |o| {
            map::order(self.http.label(), o)
        }))
    }

    async fn fetch_listings(&self, page: Option<String>) -> Result<ListingPage, ConnectorError> {
        let n = support::listing_page(self.http.label(), page.as_deref(), 0)?;
        let d = self
            .graphql(
                "query SwitchyardVariants($o: ProductVariantListOptions) {
                   productVariants(options: $o) { totalItems items {
                     id sku name priceWithTax currencyCode stockOnHand stockAllocated enabled
                     product { name } } } }",
                &json!({ "o": { "sort": { "id": "ASC" }, "skip": n * STOCK_BATCH, "take": STOCK_BATCH } }),
                true,
            )
            .await?;
        let items = d["productVariants"]["items"]
            .as_array()
            .cloned()
            .ok_or_else(|| self.malformed("variant list has no items"))?;
        let total = d["productVariants"]["totalItems"].as_u64().unwrap_or(0);
        let mut listings = Vec::with_capacity(items.len());
        for v in items {
            let id = v["id"]
                .as_str()
                .ok_or_else(|| self.malformed("variant without id"))?
                .to_owned();
            let on_hand = v["stockOnHand"].as_i64();
            let allocated = v["stockAllocated"].as_i64().unwrap_or(0);
            listings.push(Listing {
                channel_listing_id: id,
                sku: v["sku"]
                    .as_str()
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned),
                title: v["name"].as_str().unwrap_or_default().to_owned(),
                // What Vendure can still sell (its saleable level before the
                // merchant's out-of-stock threshold).
                quantity: on_hand.map(|h| h - allocated),
                price: v["priceWithTax"].as_i64(),
                raw: v,
            });
        }
        let read = (n as u64 + 1) * STOCK_BATCH as u64;
        Ok(ListingPage {
            listings,
            next_page: (read < total).then(|| (n + 1).to_string()),
        })
    }

    async fn push_stock(
        &self,
        updates: &[StockUpdate],
    ) -> Result<Vec<StockOutcome>, ConnectorError> {
        let mut out = Vec::with_capacity(updates.len());
        for chunk in updates.chunks(STOCK_BATCH) {
            let ids: Vec<&str> = chunk
                .iter()
                .map(|u| u.channel_listing_id.as_str())
                .collect();
            let allocated = self.allocated(&ids).await?;
            let input: Vec<Value> = chunk
                .iter()
                .filter_map(|u| {
                    let a = allocated.get(&u.channel_listing_id)?;
                    Some(
                        json!({ "id": u.channel_listing_id, "trackInventory": "TRUE",
                                 "stockOnHand": u.quantity.max(0) + a }),
                    )
                })
                .collect();
            let mut after: BTreeMap<String, i64> = BTreeMap::new();
            if !input.is_empty() {
                let d = self
                    .graphql(
                        "mutation SwitchyardStock($i: [UpdateProductVariantInput!]!) {
                           updateProductVariants(input: $i) { id stockOnHand } }",
                        &json!({ "i": input }),
                        true,
                    )
                    .await?;
                for v in d["updateProductVariants"].as_array().into_iter().flatten() {
                    if let (Some(id), Some(h)) = (v["id"].as_str(), v["stockOnHand"].as_i64()) {
                        after.insert(id.to_owned(), h);
                    }
                }
            }
            for u in chunk {
                let id = &u.channel_listing_id;
                out.push(match (allocated.get(id), after.get(id)) {
                    (None, _) => StockOutcome::Failed {
                        reason: format!("Vendure has no product variant {id}"),
                        retryable: false,
                    },
                    (Some(a), Some(h)) if *h == u.quantity.max(0) + a => StockOutcome::Accepted,
                    (Some(_), h) => StockOutcome::Failed {
                        reason: format!("Vendure kept stockOnHand {h:?}"),
                        retryable: true,
                    },
                });
            }
        }
        Ok(out)
    }

    async fn push_fulfilment(
        &self,
        shipment: &FulfilmentPush,
    ) -> Result<FulfilmentAck, ConnectorError> {
        let id = shipment.channel_order_id.as_str();
        let Some(order) = self.order(id).await? else {
            return Err(self.refused(format!("there is no order {id}")));
        };
        let code = tracking_code(shipment);
        // Lines to ship: as given, or everything not shipped yet.
        let mut lines: Vec<(String, i64)> = if shipment.lines.is_empty() {
            let mut shipped: BTreeMap<String, i64> = BTreeMap::new();
            for f in order["fulfillments"].as_array().into_iter().flatten() {
                if f["state"] != "Cancelled" {
                    for (l, q) in fulfilment_lines(f) {
                        *shipped.entry(l).or_default() += q;
                    }
                }
            }
            order["lines"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|l| {
                    let lid = l["id"].as_str()?;
                    let left = l["quantity"].as_i64()? - shipped.get(lid).copied().unwrap_or(0);
                    (left > 0).then(|| (lid.to_owned(), left))
                })
                .collect()
        } else {
            shipment.lines.clone()
        };
        lines.sort();
        // The order just read serves the first look; later looks read it again.
        let mut known = Some(order);
        let (code, lines) = (&code, &lines);
        let find = || {
            let known = known.take();
            async move {
                let Some(order) = support::first_or(known, self.order(id)).await? else {
                    return Ok(None);
                };
                Ok(order["fulfillments"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .find(|f| {
                        f["state"] != "Cancelled"
                            && f["trackingCode"].as_str().unwrap_or("") == code
                            && fulfilment_lines(f) == *lines
                    })
                    .map(|f| {
                        (
                            f["id"].as_str().unwrap_or_default().to_owned(),
                            f["state"].as_str().unwrap_or_default().to_owned(),
                        )
                    }))
            }
        };
        let create = || async {
            let d = self
                .graphql(
                    "mutation SwitchyardFulfil($i: FulfillOrderInput!) {
                       addFulfillmentToOrder(input: $i) {
                         ... on Fulfillment { id state } ... on ErrorResult { errorCode message } } }",
                    &json!({ "i": {
                        "lines": lines.iter().map(|(l, q)| json!({ "orderLineId": l, "quantity": q })).collect::<Vec<_>>(),
                        "handler": { "code": "manual-fulfillment", "arguments": [
                            { "name": "method", "value": shipment.carrier.clone().unwrap_or_default() },
                            { "name": "trackingCode", "value": code } ] },
                    } }),
                    false,
                )
                .await?;
            let f = self.result(&d, "addFulfillmentToOrder")?;
            Ok((
                f["id"].as_str().unwrap_or_default().to_owned(),
                f["state"].as_str().unwrap_or_default().to_owned(),
            ))
        };
        let ((fid, state), existed) =
            support::ensure(self.attempts, self.pause, find, create).await?;
        if fid.is_empty() {
            return Err(self.malformed("the fulfilment has no id"));
        }
        // Created fulfilments start `Pending`; shipped is what the buyer sees.
        self.transition_fulfilment(&fid, &state, "Shipped").await?;
        Ok(FulfilmentAck {
            channel_fulfilment_id: fid,
            already_existed: existed && state == "Shipped",
        })
    }

    async fn cancel_fulfilment(
        &self,
        channel_order_id: &str,
        channel_fulfilment_id: &str,
    ) -> Result<(), ConnectorError> {
        let Some(order) = self.order(channel_order_id).await? else {
            return Err(self.refused(format!("there is no order {channel_order_id}")));
        };
        let state = order["fulfillments"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|f| f["id"] == channel_fulfilment_id)
            .and_then(|f| f["state"].as_str())
            .ok_or_else(|| {
                self.refused(format!(
                    "order {channel_order_id} has no fulfilment {channel_fulfilment_id}"
                ))
            })?
            .to_owned();
        self.transition_fulfilment(channel_fulfilment_id, &state, "Cancelled")
            .await
    }

    async fn cancel_order(
        &self,
        channel_order_id: &str,
        reason: &str,
    ) -> Result<(), ConnectorError> {
        self.cancel(channel_order_id, reason).await
    }
}
