//! eBay Sell APIs connector (Fulfillment v1 for orders and shipments,
//! Inventory v1 for stock).
//!
//! - Auth: a User access token (two hours) from the seller's refresh token
//!   (`POST /identity/v1/oauth2/token`, HTTP Basic with the app's client id
//!   and secret, `grant_type=refresh_token` with the scopes we need),
//!   renewed a minute before it expires and once more on a 401.
//! - Orders: `GET /sell/fulfillment/v1/order?filter=lastmodifieddate:[since..]
//!   &limit=200&offset=…`. eBay lists newest first by creation date, and
//!   the window is open-ended, so while we page an order can only enter the
//!   window or be created; either pushes the rest later in the list (read
//!   twice, harmless), never earlier (skipped). Money is `{value,
//!   currency}` with decimal text, parsed exactly.
//! - Stock: `POST /sell/inventory/v1/bulk_update_price_quantity`, 25 SKUs a
//!   call, `shipToLocationAvailability.quantity` per SKU. The answer is 200
//!   or 207 (Multi-Status) with a `statusCode` per SKU, so one refused SKU
//!   fails only itself.
//! - Shipments: `POST …/order/{id}/shipping_fulfillment` per tracking number
//!   (eBay takes one number per fulfillment), answered 201 with the new
//!   fulfillment's URI in `Location`. eBay does not deduplicate, so each is
//!   looked for by its tracking number among the order's fulfillments first.
//! - Quotas: eBay counts calls per API per day and answers 429 (error 2001)
//!   without `Retry-After` once the day's quota is spent: the channel is
//!   held back until the next day (clamped by the policy), not hammered.

mod map;

use std::collections::BTreeMap;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{SecondsFormat, Utc};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::channel::{
    Capabilities, FulfilmentAck, FulfilmentPush, Listing, ListingPage, OrderPage, OrderQuery,
    SalesChannel, StockOutcome, StockUpdate,
};
use crate::error::ConnectorError;
use crate::http::{ChannelHttp, HttpPolicy, HttpRequest, HttpResponse};
use crate::support::{self, TokenCache, encode};

/// Orders and inventory items per page (eBay's maximum).
const PAGE_SIZE: usize = 200;
/// SKUs per `bulkUpdatePriceQuantity` call (eBay's maximum).
const STOCK_BATCH: usize = 25;
/// The OAuth scopes the connector uses.
const SCOPES: &str = "https://api.ebay.com/oauth/api_scope/sell.fulfillment https://api.ebay.com/oauth/api_scope/sell.inventory";

/// Credentials of an eBay channel (stored encrypted).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EbayCredentials {
    /// The app's client id (App ID).
    pub client_id: String,
    /// The app's client secret (Cert ID).
    pub client_secret: SecretString,
    /// The seller's OAuth refresh token (consented to the
    /// `sell.fulfillment` and `sell.inventory` scopes).
    pub refresh_token: SecretString,
}

/// An eBay seller account.
#[derive(Debug, Clone)]
pub struct Ebay {
    http: ChannelHttp,
    base: String,
    creds: EbayCredentials,
    attempts: u32,
    pause: Duration,
    token: TokenCache,
}

/// A spent daily quota (429 with error 2001) holds the channel back until
/// the next UTC day; the policy clamps the wait.
fn signals(r: &HttpResponse) -> Option<Duration> {
    // A 429 with `Retry-After` is a short throttle, honoured as such.
    if r.status != 429 || r.header("retry-after").is_some() {
        return None;
    }
    let body: Value = r.json_value()?;
    let quota = body["errors"]
        .as_array()?
        .iter()
        .any(|e| e["errorId"].as_u64() == Some(2001));
    quota.then(|| {
        let secs = Utc::now().timestamp().rem_euclid(86_400);
        Duration::from_secs(u64::try_from(86_400 - secs).unwrap_or(3600))
    })
}

impl Ebay {
    /// A connector for the API at `base_url` (`https://api.ebay.com`).
    pub fn new(
        base_url: &str,
        creds: &EbayCredentials,
        policy: HttpPolicy,
    ) -> Result<Self, ConnectorError> {
        let pause = policy.base_backoff;
        let attempts = policy.max_attempts;
        let http = ChannelHttp::new(
            "ebay",
            policy,
            vec![
                creds.client_secret.expose_secret().to_owned(),
                creds.refresh_token.expose_secret().to_owned(),
            ],
        )?
        .with_signals(signals);
        Ok(Self {
            http,
            base: base_url.trim_end_matches('/').to_owned(),
            creds: creds.clone(),
            attempts,
            pause,
            token: TokenCache::default(),
        })
    }

    fn malformed(&self, reason: impl Into<String>) -> ConnectorError {
        ConnectorError::Malformed {
            channel: self.http.label().to_owned(),
            reason: reason.into(),
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// A new User access token from the seller's refresh token.
    async fn fetch_token(&self) -> Result<(String, Duration), ConnectorError> {
        let req = HttpRequest::form(
            reqwest::Method::POST,
            self.url("/identity/v1/oauth2/token"),
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", self.creds.refresh_token.expose_secret()),
                ("scope", SCOPES),
            ],
        )
        .secret_header(
            "authorization",
            support::basic_auth(
                &self.creds.client_id,
                self.creds.client_secret.expose_secret(),
            ),
        );
        let (_, v) = self.http.send_json(&req).await?;
        support::token_from(self.http.label(), &v, 7200)
    }

    /// Send `req` with a token; on 401 renew the token and send once more.
    async fn send(&self, req: HttpRequest) -> Result<(HttpResponse, Value), ConnectorError> {
        self.token
            .with_token(
                &[401],
                || self.fetch_token(),
                |t| {
                    let r = req
                        .clone()
                        .secret_header("authorization", format!("Bearer {t}"));
                    async move { self.http.send_json(&r).await }
                },
            )
            .await
    }

    async fn get(&self, path: &str) -> Result<Value, ConnectorError> {
        Ok(self.send(HttpRequest::get(self.url(path))).await?.1)
    }

    async fn order(&self, id: &str) -> Result<Value, ConnectorError> {
        self.get(&format!("/sell/fulfillment/v1/order/{}", encode(id)))
            .await
    }

    /// The order's fulfillment carrying `number` (or, for `None`, one
    /// without a tracking number covering exactly `lines`).
    async fn find_fulfillment(
        &self,
        order: &str,
        number: Option<&str>,
        lines: &[(String, i64)],
    ) -> Result<Option<String>, ConnectorError> {
        let v = self
            .get(&format!(
                "/sell/fulfillment/v1/order/{}/shipping_fulfillment",
                encode(order)
            ))
            .await?;
        let list = v["fulfillments"]
            .as_array()
            .ok_or_else(|| self.malformed("fulfillment list has no fulfillments"))?;
        Ok(list
            .iter()
            .find(|f| {
                let tracking = f["shipmentTrackingNumber"].as_str().unwrap_or_default();
                match number {
                    Some(n) => tracking == n,
                    None => {
                        let covered: Vec<(String, i64)> = f["lineItems"]
                            .as_array()
                            .map(Vec::as_slice)
                            .unwrap_or_default()
                            .iter()
                            .filter_map(|l| {
                                Some((
                                    l["lineItemId"].as_str()?.to_owned(),
                                    l["quantity"].as_i64()?,
                                ))
                            })
                            .collect();
                        tracking.is_empty() && covered == lines
                    }
                }
            })
            .and_then(|f| f["fulfillmentId"].as_str().map(str::to_owned)))
    }

    /// One bulk stock call for at most 25 SKUs.
    async fn push_batch(
        &self,
        batch: &[StockUpdate],
    ) -> Result<BTreeMap<String, StockOutcome>, ConnectorError> {
        let body = json!({ "requests": batch.iter().map(|u| json!({
            "sku": u.channel_listing_id,
            "shipToLocationAvailability": { "quantity": u.quantity.max(0) },
        })).collect::<Vec<_>>() });
        let (_, v) = self
            .send(HttpRequest::json(
                reqwest::Method::POST,
                self.url("/sell/inventory/v1/bulk_update_price_quantity"),
                &body,
            ))
            .await?;
        let responses = v["responses"]
            .as_array()
            .ok_or_else(|| self.malformed("bulk answer has no responses"))?;
        let mut out = BTreeMap::new();
        for r in responses {
            let Some(sku) = r["sku"].as_str() else {
                continue;
            };
            let status = r["statusCode"].as_u64().unwrap_or(0);
            let outcome = if status == 200 {
                StockOutcome::Accepted
            } else {
                let reason = r["errors"][0]["message"]
                    .as_str()
                    .unwrap_or("refused")
                    .to_owned();
                StockOutcome::Failed {
                    reason: format!("eBay answered {status} for {sku}: {reason}"),
                    retryable: status == 429 || status >= 500,
                }
            };
            out.insert(sku.to_owned(), outcome);
        }
        Ok(out)
    }
}

#[async_trait]
impl SalesChannel for Ebay {
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
            fulfilment_cancellation: false,
            order_cancellation: false,
        }
    }

    fn unsupported(&self, what: &str) -> ConnectorError {
        ConnectorError::Unsupported {
            channel: self.http.label().to_owned(),
            what: what.to_owned(),
        }
    }

    async fn test_connection(&self) -> Result<(), ConnectorError> {
        let v = self.get("/sell/fulfillment/v1/order?limit=1").await?;
        if v["orders"].is_array() {
            Ok(())
        } else {
            Err(self.malformed("order list has no orders"))
        }
    }

    async fn fetch_orders(&self, query: &OrderQuery) -> Result<OrderPage, ConnectorError> {
        let offset =
            support::offset_from(self.http.label(), "an eBay", "eb1:", query.page.as_deref())?;
        let since = query
            .updated_since
            .to_rfc3339_opts(SecondsFormat::Millis, true);
        let filter = encode(&format!("lastmodifieddate:[{since}..]"));
        let body = self
            .get(&format!(
                "/sell/fulfillment/v1/order?filter={filter}&limit={PAGE_SIZE}&offset={offset}"
            ))
            .await?;
        let total = body["total"]
            .as_u64()
            .ok_or_else(|| self.malformed("order list has no total"))?;
        let orders = body["orders"]
            .as_array()
            .ok_or_else(|| self.malformed("order list has no orders"))?;
        let mut page = OrderPage::default();
        for raw in orders {
            let id = raw["orderId"].as_str().map(str::to_owned);
            if id.as_deref().is_some_and(|i| page.holds(i)) {
                continue;
            }
            page.add(raw.clone(), id, map::order(self.http.label(), raw));
        }
        page.next_page = support::next_offset("eb1:", offset, PAGE_SIZE, total);
        Ok(page)
    }

    async fn fetch_order(&self, channel_order_id: &str) -> Result<OrderPage, ConnectorError> {
        let raw = self.order(channel_order_id).await?;
        let mapped = map::order(self.http.label(), &raw);
        Ok(OrderPage::single(raw, channel_order_id, mapped))
    }

    async fn fetch_listings(&self, page: Option<String>) -> Result<ListingPage, ConnectorError> {
        // `offset` of getInventoryItems is a page number, not an item count.
        let number = support::listing_page(self.http.label(), page.as_deref(), 0)?;
        let body = self
            .get(&format!(
                "/sell/inventory/v1/inventory_item?limit={PAGE_SIZE}&offset={number}"
            ))
            .await?;
        let items = body["inventoryItems"]
            .as_array()
            .ok_or_else(|| self.malformed("inventory list has no inventoryItems"))?;
        let listings = items
            .iter()
            .filter_map(|i| {
                let sku = i["sku"].as_str().filter(|s| !s.is_empty())?;
                let title = i["product"]["title"].as_str().unwrap_or(sku);
                let size: Vec<&str> = i["product"]["aspects"]
                    .as_object()
                    .map(|a| {
                        a.values()
                            .filter_map(|v| v.as_array())
                            .flatten()
                            .filter_map(Value::as_str)
                            .collect()
                    })
                    .unwrap_or_default();
                Some(Listing {
                    channel_listing_id: sku.to_owned(),
                    sku: Some(sku.to_owned()),
                    title: if size.is_empty() {
                        title.to_owned()
                    } else {
                        format!("{title} - {}", size.join(" / "))
                    },
                    quantity: i["availability"]["shipToLocationAvailability"]["quantity"].as_i64(),
                    price: None,
                    raw: i.clone(),
                })
            })
            .collect();
        let more = body["next"].as_str().is_some_and(|n| !n.is_empty());
        Ok(ListingPage {
            listings,
            next_page: more.then(|| (number + 1).to_string()),
        })
    }

    async fn push_stock(
        &self,
        updates: &[StockUpdate],
    ) -> Result<Vec<StockOutcome>, ConnectorError> {
        let mut results: BTreeMap<String, StockOutcome> = BTreeMap::new();
        for batch in updates.chunks(STOCK_BATCH) {
            results.extend(self.push_batch(batch).await?);
        }
        Ok(updates
            .iter()
            .map(|u| {
                results
                    .get(&u.channel_listing_id)
                    .cloned()
                    .unwrap_or(StockOutcome::Failed {
                        reason: format!("eBay gave no answer for {}", u.channel_listing_id),
                        retryable: true,
                    })
            })
            .collect())
    }

    async fn push_fulfilment(
        &self,
        shipment: &FulfilmentPush,
    ) -> Result<FulfilmentAck, ConnectorError> {
        let order = shipment.channel_order_id.as_str();
        let lines: Vec<(String, i64)> = if shipment.lines.is_empty() {
            let raw = self.order(order).await?;
            raw["lineItems"]
                .as_array()
                .ok_or_else(|| self.malformed("order has no lineItems"))?
                .iter()
                .filter_map(|l| {
                    Some((
                        l["lineItemId"].as_str()?.to_owned(),
                        l["quantity"].as_i64()?,
                    ))
                })
                .collect()
        } else {
            shipment.lines.clone()
        };
        let numbers: Vec<Option<&str>> = if shipment.tracking.is_empty() {
            vec![None]
        } else {
            shipment
                .tracking
                .iter()
                .map(|t| Some(t.number.as_str()))
                .collect()
        };
        let shipped = shipment
            .shipped_at
            .min(Utc::now())
            .to_rfc3339_opts(SecondsFormat::Millis, true);
        let path = format!(
            "/sell/fulfillment/v1/order/{}/shipping_fulfillment",
            encode(order)
        );
        let mut first: Option<(String, bool)> = None;
        for number in numbers {
            let mut body = json!({
                "lineItems": lines.iter().map(|(id, q)| json!({ "lineItemId": id, "quantity": q })).collect::<Vec<_>>(),
                "shippedDate": shipped,
            });
            if let Some(n) = number {
                body["trackingNumber"] = json!(n);
                body["shippingCarrierCode"] =
                    json!(shipment.carrier.clone().unwrap_or_else(|| "Other".into()));
            }
            let find = || self.find_fulfillment(order, number, &lines);
            let create = || async {
                let (resp, _) = self
                    .send(
                        HttpRequest::json(reqwest::Method::POST, self.url(&path), &body)
                            .not_idempotent(),
                    )
                    .await?;
                resp.header("location")
                    .and_then(|l| l.rsplit('/').next())
                    .filter(|id| !id.is_empty())
                    .map(str::to_owned)
                    .ok_or_else(|| self.malformed("201 without a Location naming the fulfillment"))
            };
            let got = crate::support::ensure(self.attempts, self.pause, find, create).await?;
            first.get_or_insert(got);
        }
        let (id, existed) = first.ok_or_else(|| self.malformed("nothing to ship"))?;
        Ok(FulfilmentAck {
            channel_fulfilment_id: id,
            already_existed: existed,
        })
    }
}
