//! Shopify connector over the Admin GraphQL API (2025-01).
//!
//! - Orders: `orders(sortKey: UPDATED_AT, query: "updated_at:>='…'")` with
//!   cursor pages; an order changed while we page moves behind the cursor
//!   and is read again, never skipped. Line items beyond the first page are
//!   fetched per order.
//! - Stock: `inventorySetQuantities` (`available`, 250 per call), with
//!   `compareQuantity` when the caller knows what it last pushed.
//! - Fulfilment: `fulfillmentCreate` over the order's fulfillment orders,
//!   one or more tracking numbers; before creating (and after any answer
//!   that leaves it unknown) the order's fulfillments are searched for the
//!   same tracking numbers, so a retry never ships twice.
//! - Throttling: every response's `extensions.cost` holds back the next
//!   request until the bucket can pay for it; `THROTTLED` answers are retried.

mod bulk;
mod map;
mod notify;
mod shipping;

use std::collections::BTreeMap;
use std::time::Duration;

use async_trait::async_trait;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::sync::OnceCell;

use crate::channel::{
    Capabilities, FulfilmentAck, FulfilmentPush, Listing, ListingPage, Notification,
    NotificationError, OrderPage, OrderQuery, SalesChannel, StockOutcome, StockUpdate,
};
use crate::error::ConnectorError;
use crate::http::{ChannelHttp, HttpPolicy, HttpRequest, HttpResponse};
use crate::ratelimit;
use crate::support;

/// The Admin API version spoken.
pub const API_VERSION: &str = "2025-01";
/// Orders per page (sized so a page's requested cost stays under 1,000).
pub const ORDERS_PAGE: usize = 15;
/// Quantities per `inventorySetQuantities` call (Shopify's limit).
pub const STOCK_BATCH: usize = 250;

/// What is read of a line item (paged reads and bulk exports alike).
macro_rules! line_selection {
    () => {
        "id sku name quantity currentQuantity
  originalUnitPriceSet { shopMoney { amount currencyCode } }
  totalDiscountSet { shopMoney { amount currencyCode } }
  taxLines { priceSet { shopMoney { amount currencyCode } } }"
    };
}

/// What is read of an address.
macro_rules! address_selection {
    () => {
        "name company address1 address2 city provinceCode zip countryCodeV2 phone"
    };
}

/// What is read of an order, its line items aside (paged reads and bulk
/// exports alike).
macro_rules! order_selection {
    () => {
        concat!(
            "id name createdAt updatedAt cancelledAt
  displayFinancialStatus displayFulfillmentStatus currencyCode email phone tags
  totalPriceSet { shopMoney { amount currencyCode } }
  totalTaxSet { shopMoney { amount currencyCode } }
  totalShippingPriceSet { shopMoney { amount currencyCode } }
  totalDiscountsSet { shopMoney { amount currencyCode } }
  customer { displayName phone }
  shippingAddress { ",
            address_selection!(),
            " }
  billingAddress { ",
            address_selection!(),
            " }
  shippingLine { title code }"
        )
    };
}

/// A bulk export of the orders changed since a moment (`SEARCH` is replaced
/// by the quoted search): the same fields, and every line item.
const BULK_ORDERS: &str = concat!(
    "{ orders(query: SEARCH, sortKey: UPDATED_AT) { edges { node { ",
    order_selection!(),
    "\n  lineItems { edges { node { ",
    line_selection!(),
    " } } } } } } }"
);

const LINE_FIELDS: &str = concat!(
    "fragment SwitchyardLine on LineItem {\n  ",
    line_selection!(),
    "\n}"
);

const ORDER_FIELDS: &str = concat!(
    "fragment SwitchyardOrder on Order {\n  ",
    order_selection!(),
    "\n  lineItems(first: 5) { pageInfo { hasNextPage endCursor } nodes { ...SwitchyardLine } }\n}"
);

/// Credentials of a Shopify channel (stored encrypted).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ShopifyCredentials {
    /// Admin API access token (`shpat_…`).
    pub access_token: SecretString,
    /// The app's secret key: checks webhook signatures.
    #[serde(default)]
    pub api_secret_key: Option<SecretString>,
}

/// A Shopify shop.
#[derive(Debug, Clone)]
pub struct Shopify {
    http: ChannelHttp,
    endpoint: String,
    token: SecretString,
    attempts: u32,
    pause: Duration,
    location: std::sync::Arc<OnceCell<String>>,
    currency: std::sync::Arc<OnceCell<String>>,
    webhook_key: Option<SecretString>,
}

fn throttle_signal(resp: &HttpResponse) -> Option<Duration> {
    resp.json_value()
        .and_then(|v| ratelimit::shopify_graphql_throttle(&v))
}

/// The order search for "changed since".
fn search_since(t: chrono::DateTime<chrono::Utc>) -> String {
    let since = t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    format!("updated_at:>='{since}'")
}

fn gid(kind: &str, id: &str) -> String {
    if id.starts_with("gid://") {
        id.to_owned()
    } else {
        format!("gid://shopify/{kind}/{id}")
    }
}

impl Shopify {
    /// A connector for the shop at `base_url` (`https://{shop}.myshopify.com`).
    /// `location_id` picks the location stock is set at (default: the
    /// shop's first location).
    pub fn new(
        base_url: &str,
        creds: &ShopifyCredentials,
        location_id: Option<String>,
        policy: HttpPolicy,
    ) -> Result<Self, ConnectorError> {
        let attempts = policy.max_attempts;
        let pause = policy.base_backoff;
        let http = ChannelHttp::new(
            "shopify",
            policy,
            vec![creds.access_token.expose_secret().to_owned()],
        )?
        .with_signals(throttle_signal);
        let location = std::sync::Arc::new(OnceCell::new());
        if let Some(l) = location_id {
            let _ = location.set(gid("Location", &l));
        }
        Ok(Self {
            http,
            endpoint: format!(
                "{}/admin/api/{API_VERSION}/graphql.json",
                base_url.trim_end_matches('/')
            ),
            token: creds.access_token.clone(),
            attempts,
            pause,
            location,
            currency: std::sync::Arc::default(),
            webhook_key: creds.api_secret_key.clone(),
        })
    }

    /// Check a webhook's `X-Shopify-Hmac-Sha256` with the app's secret key.
    #[must_use]
    pub fn verify_webhook(api_secret_key: &str, body: &[u8], hmac_header: &str) -> bool {
        support::verify_hmac_sha256_base64(api_secret_key.as_bytes(), body, hmac_header)
    }

    fn malformed(&self, reason: impl Into<String>) -> ConnectorError {
        ConnectorError::Malformed {
            channel: self.http.label().to_owned(),
            reason: reason.into(),
        }
    }

    fn request(&self, query: &str, variables: &Value, idempotent: bool) -> HttpRequest {
        let req = HttpRequest::json(
            reqwest::Method::POST,
            &self.endpoint,
            &json!({ "query": query, "variables": variables }),
        )
        .secret_header(
            "x-shopify-access-token",
            self.token.expose_secret().to_owned(),
        );
        if idempotent {
            req
        } else {
            req.not_idempotent()
        }
    }

    /// Run a document; `THROTTLED` answers are retried after the wait the
    /// cost extension implies. Any other GraphQL error is final.
    async fn graphql(
        &self,
        query: &str,
        variables: &Value,
        idempotent: bool,
    ) -> Result<Value, ConnectorError> {
        let req = self.request(query, variables, idempotent);
        for _ in 0..self.attempts.max(1) * 2 {
            let (_, body) = self.http.send_json(&req).await?;
            let errors = body["errors"].as_array().cloned().unwrap_or_default();
            if errors
                .iter()
                .any(|e| e["extensions"]["code"] == "THROTTLED")
            {
                // The signal already holds the channel back; just go again.
                continue;
            }
            if !errors.is_empty() {
                let text: Vec<String> = errors
                    .iter()
                    .map(|e| e["message"].as_str().unwrap_or("error").to_owned())
                    .collect();
                return Err(ConnectorError::Rejected {
                    channel: self.http.label().to_owned(),
                    status: 200,
                    body: text.join("; "),
                });
            }
            return match body.get("data") {
                Some(d) if d.is_object() => Ok(d.clone()),
                _ => Err(self.malformed("GraphQL answer without data")),
            };
        }
        Err(ConnectorError::RateLimited {
            channel: self.http.label().to_owned(),
            retry_after: Duration::from_secs(1),
        })
    }

    async fn location(&self) -> Result<String, ConnectorError> {
        self.location
            .get_or_try_init(|| async {
                let d = self
                    .graphql(
                        "query SwitchyardLocation { locations(first: 1) { nodes { id } } }",
                        &json!({}),
                        true,
                    )
                    .await?;
                d["locations"]["nodes"][0]["id"]
                    .as_str()
                    .map(str::to_owned)
                    .ok_or_else(|| self.malformed("the shop has no location"))
            })
            .await
            .cloned()
    }

    async fn currency(&self) -> Result<String, ConnectorError> {
        self.currency
            .get_or_try_init(|| async {
                let d = self
                    .graphql(
                        "query SwitchyardShop { shop { currencyCode } }",
                        &json!({}),
                        true,
                    )
                    .await?;
                d["shop"]["currencyCode"]
                    .as_str()
                    .map(str::to_owned)
                    .ok_or_else(|| self.malformed("shop without currencyCode"))
            })
            .await
            .cloned()
    }

    /// Line items past the first page of an order.
    async fn remaining_lines(&self, order: &mut Value) -> Result<(), ConnectorError> {
        let query = format!(
            "query SwitchyardMoreLines($id: ID!, $after: String) {{ order(id: $id) {{ lineItems(first: 50, after: $after) {{ pageInfo {{ hasNextPage endCursor }} nodes {{ ...SwitchyardLine }} }} }} }}\n{LINE_FIELDS}"
        );
        for _ in 0..100 {
            let page = &order["lineItems"]["pageInfo"];
            if page["hasNextPage"] != true {
                return Ok(());
            }
            let vars = json!({ "id": order["id"], "after": page["endCursor"] });
            let d = self.graphql(&query, &vars, true).await?;
            let more = &d["order"]["lineItems"];
            let nodes = more["nodes"]
                .as_array()
                .cloned()
                .ok_or_else(|| self.malformed("lineItems page without nodes"))?;
            if let Some(list) = order["lineItems"]["nodes"].as_array_mut() {
                list.extend(nodes);
            }
            order["lineItems"]["pageInfo"] = more["pageInfo"].clone();
        }
        Err(self.malformed("more than 5,000 line items on one order"))
    }

    /// One page of orders changed since `query.updated_since`, after the
    /// keyset cursor `after`.
    async fn orders_page(
        &self,
        query: &OrderQuery,
        after: Option<&str>,
    ) -> Result<OrderPage, ConnectorError> {
        let doc = format!(
            "query SwitchyardOrders($first: Int!, $after: String, $query: String!) {{
  orders(first: $first, after: $after, query: $query, sortKey: UPDATED_AT) {{
    pageInfo {{ hasNextPage endCursor }}
    nodes {{ ...SwitchyardOrder }}
  }}
}}
{ORDER_FIELDS}
{LINE_FIELDS}"
        );
        let vars = json!({
            "first": ORDERS_PAGE,
            "after": after,
            "query": search_since(query.updated_since),
        });
        let d = self.graphql(&doc, &vars, true).await?;
        let conn = &d["orders"];
        let nodes = conn["nodes"]
            .as_array()
            .cloned()
            .ok_or_else(|| self.malformed("orders without nodes"))?;
        let mut page = OrderPage::default();
        for mut raw in nodes {
            self.remaining_lines(&mut raw).await?;
            let mapped = map::order(self.http.label(), &raw);
            let id = raw["id"].as_str().map(|g| map::legacy_id(g).to_owned());
            page.add(raw, id, mapped);
        }
        if conn["pageInfo"]["hasNextPage"] == true {
            page.next_page = Some(
                conn["pageInfo"]["endCursor"]
                    .as_str()
                    .ok_or_else(|| self.malformed("hasNextPage without endCursor"))?
                    .to_owned(),
            );
        }
        Ok(page)
    }

    /// `Rejected` (422) with the messages of a non-empty `userErrors` list.
    fn user_errors(&self, errors: &Value) -> Result<(), ConnectorError> {
        match errors.as_array().filter(|e| !e.is_empty()) {
            None => Ok(()),
            Some(e) => Err(ConnectorError::Rejected {
                channel: self.http.label().to_owned(),
                status: 422,
                body: e
                    .iter()
                    .map(|e| e["message"].as_str().unwrap_or("refused"))
                    .collect::<Vec<_>>()
                    .join("; "),
            }),
        }
    }

    async fn order_shipments(&self, order_gid: &str) -> Result<Value, ConnectorError> {
        let query = "query SwitchyardShipments($id: ID!) {
  order(id: $id) {
    id
    fulfillmentOrders(first: 5) { nodes { id status lineItems(first: 50) { nodes { id remainingQuantity lineItem { id } } } } }
    cancelledAt
    fulfillments(first: 10) { id status trackingInfo(first: 20) { number } fulfillmentLineItems(first: 10) { nodes { quantity lineItem { id } } } }
  }
}";
        let d = self
            .graphql(query, &json!({ "id": order_gid }), true)
            .await?;
        if d["order"].is_null() {
            return Err(ConnectorError::Rejected {
                channel: self.http.label().to_owned(),
                status: 404,
                body: format!("order {order_gid} not found"),
            });
        }
        Ok(d["order"].clone())
    }

    /// One `inventorySetQuantities` call; item errors by index.
    async fn set_quantities(
        &self,
        location: &str,
        items: &[(usize, &StockUpdate)],
        compare: bool,
    ) -> Result<BTreeMap<usize, (String, String)>, ConnectorError> {
        let quantities: Vec<Value> = items
            .iter()
            .map(|(_, u)| {
                let mut q = json!({
                    "inventoryItemId": gid("InventoryItem", &u.channel_listing_id),
                    "locationId": location,
                    "quantity": u.quantity,
                });
                if compare {
                    q["compareQuantity"] = json!(u.expected);
                }
                q
            })
            .collect();
        let mutation = "mutation SwitchyardSetStock($input: InventorySetQuantitiesInput!) {
  inventorySetQuantities(input: $input) { inventoryAdjustmentGroup { id } userErrors { field message code } }
}";
        let vars = json!({ "input": {
            "name": "available", "reason": "correction",
            "referenceDocumentUri": "switchyard://stock-sync",
            "ignoreCompareQuantity": !compare,
            "quantities": quantities,
        }});
        let d = self.graphql(mutation, &vars, true).await?;
        let mut errors = BTreeMap::new();
        for e in d["inventorySetQuantities"]["userErrors"]
            .as_array()
            .into_iter()
            .flatten()
        {
            let idx = e["field"]
                .as_array()
                .and_then(|f| f.get(2))
                .and_then(Value::as_str)
                .and_then(|i| i.parse::<usize>().ok());
            let code = e["code"].as_str().unwrap_or("").to_owned();
            let message = e["message"].as_str().unwrap_or("refused").to_owned();
            match idx {
                Some(i) => {
                    errors.insert(i, (code, message));
                }
                None => {
                    // Not about one item: the whole call is refused.
                    for i in 0..items.len() {
                        errors.insert(i, (code.clone(), message.clone()));
                    }
                }
            }
        }
        Ok(errors)
    }

    async fn available(&self, item: &str, location: &str) -> Result<Option<i64>, ConnectorError> {
        let q = "query SwitchyardLevel($id: ID!, $loc: ID!) { inventoryItem(id: $id) { inventoryLevel(locationId: $loc) { quantities(names: [\"available\"]) { quantity } } } }";
        let d = self
            .graphql(
                q,
                &json!({ "id": gid("InventoryItem", item), "loc": location }),
                true,
            )
            .await?;
        Ok(d["inventoryItem"]["inventoryLevel"]["quantities"][0]["quantity"].as_i64())
    }

    async fn push_group(
        &self,
        location: &str,
        group: Vec<(usize, &StockUpdate)>,
        compare: bool,
        out: &mut [Option<StockOutcome>],
    ) -> Result<(), ConnectorError> {
        for chunk in group.chunks(STOCK_BATCH) {
            let mut pending: Vec<(usize, &StockUpdate)> = chunk.to_vec();
            // The call is all or nothing: drop the refused items and send the rest again.
            for _ in 0..3 {
                if pending.is_empty() {
                    break;
                }
                let errors = self.set_quantities(location, &pending, compare).await?;
                if errors.is_empty() {
                    for (i, _) in &pending {
                        out[*i] = Some(StockOutcome::Accepted);
                    }
                    pending.clear();
                    break;
                }
                let mut rest = Vec::new();
                for (pos, (i, u)) in pending.iter().enumerate() {
                    match errors.get(&pos) {
                        None => rest.push((*i, *u)),
                        Some((code, _)) if code == "COMPARE_QUANTITY_STALE" => {
                            // Our own earlier attempt may have landed.
                            let actual = self.available(&u.channel_listing_id, location).await?;
                            out[*i] = Some(if actual == Some(u.quantity) {
                                StockOutcome::Accepted
                            } else {
                                StockOutcome::Conflict { actual }
                            });
                        }
                        Some((code, message)) => {
                            out[*i] = Some(StockOutcome::Failed {
                                reason: format!("{code}: {message}"),
                                retryable: false,
                            });
                        }
                    }
                }
                pending = rest;
            }
        }
        Ok(())
    }
}

#[async_trait]
impl SalesChannel for Shopify {
    fn capabilities(&self) -> Capabilities {
        Capabilities {
            bulk_stock: true,
            max_stock_batch: STOCK_BATCH,
            push_notifications: true,
            partial_fulfilment: true,
            multiple_tracking_numbers: true,
            compare_and_set_stock: true,
            scarce_order_lists: false,
            tracking_updates: true,
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

    async fn test_connection(&self) -> Result<(), ConnectorError> {
        self.graphql("query SwitchyardPing { shop { name } }", &json!({}), true)
            .await
            .map(|_| ())
    }

    async fn fetch_order(&self, channel_order_id: &str) -> Result<OrderPage, ConnectorError> {
        self.fetch_one(channel_order_id).await
    }

    async fn subscribe_notifications(
        &self,
        callback_url: &str,
    ) -> Result<Option<String>, ConnectorError> {
        self.subscribe(callback_url).await
    }

    fn verify_notification(
        &self,
        headers: &reqwest::header::HeaderMap,
        body: &[u8],
    ) -> Result<Notification, NotificationError> {
        self.verify(headers, body)
    }

    async fn fetch_orders(&self, query: &OrderQuery) -> Result<OrderPage, ConnectorError> {
        match bulk::Token::parse(query.page.as_deref()) {
            bulk::Token::Page(None) if query.large => self.start_export(query).await,
            bulk::Token::Page(after) => self.orders_page(query, after).await,
            bulk::Token::Export(id) => self.poll_export(query, &id).await,
            bulk::Token::File { offset, url } => self.export_page(query, offset, &url).await,
        }
    }

    async fn fetch_listings(&self, page: Option<String>) -> Result<ListingPage, ConnectorError> {
        let currency = self.currency().await?;
        let doc = "query SwitchyardListings($after: String) {
  productVariants(first: 100, after: $after) {
    pageInfo { hasNextPage endCursor }
    nodes { id sku displayName price inventoryQuantity inventoryItem { id } }
  }
}";
        let d = self.graphql(doc, &json!({ "after": page }), true).await?;
        let conn = &d["productVariants"];
        let mut listings = Vec::new();
        for v in conn["nodes"].as_array().into_iter().flatten() {
            let item = v["inventoryItem"]["id"]
                .as_str()
                .ok_or_else(|| self.malformed("variant without inventoryItem.id"))?;
            listings.push(Listing {
                channel_listing_id: item.to_owned(),
                sku: v["sku"]
                    .as_str()
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned),
                title: v["displayName"].as_str().unwrap_or_default().to_owned(),
                quantity: v["inventoryQuantity"].as_i64(),
                price: v["price"].as_str().and_then(|p| {
                    switchyard_domain::values::Currency::parse(&currency)
                        .ok()
                        .and_then(|c| c.parse_amount(p).ok())
                }),
                raw: v.clone(),
            });
        }
        Ok(ListingPage {
            listings,
            next_page: (conn["pageInfo"]["hasNextPage"] == true)
                .then(|| conn["pageInfo"]["endCursor"].as_str().map(str::to_owned))
                .flatten(),
        })
    }

    async fn push_stock(
        &self,
        updates: &[StockUpdate],
    ) -> Result<Vec<StockOutcome>, ConnectorError> {
        let location = self.location().await?;
        let mut out: Vec<Option<StockOutcome>> = vec![None; updates.len()];
        let (cas, plain): (Vec<_>, Vec<_>) = updates
            .iter()
            .enumerate()
            .partition(|(_, u)| u.expected.is_some());
        self.push_group(&location, plain, false, &mut out).await?;
        self.push_group(&location, cas, true, &mut out).await?;
        Ok(out
            .into_iter()
            .map(|o| {
                o.unwrap_or(StockOutcome::Failed {
                    reason: "not accepted after three rounds".into(),
                    retryable: true,
                })
            })
            .collect())
    }

    async fn push_fulfilment(
        &self,
        shipment: &FulfilmentPush,
    ) -> Result<FulfilmentAck, ConnectorError> {
        self.create_shipment(shipment).await
    }

    async fn update_fulfilment_tracking(
        &self,
        channel_fulfilment_id: &str,
        shipment: &FulfilmentPush,
    ) -> Result<Option<String>, ConnectorError> {
        self.update_tracking(channel_fulfilment_id, shipment).await
    }

    async fn cancel_fulfilment(
        &self,
        channel_order_id: &str,
        channel_fulfilment_id: &str,
    ) -> Result<(), ConnectorError> {
        self.cancel_shipment(channel_order_id, channel_fulfilment_id)
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
