//! Amazon Selling Partner API connector (Orders v0, Listings Items
//! 2021-08-01).
//!
//! - Auth: Login with Amazon exchanges the seller's refresh token for an
//!   access token (an hour), sent as `x-amz-access-token`; renewed a minute
//!   early and once more when a call is refused 403. The token endpoint is
//!   `https://api.amazon.com/auth/o2/token` for Amazon's own hosts and
//!   `{base_url}/auth/o2/token` for anything else (a simulator, a proxy).
//! - Orders: `getOrders` with `LastUpdatedAfter`, `FulfillmentChannels=MFN`
//!   (orders Amazon fulfils are not ours to route) and `NextToken`; each
//!   order's lines from `getOrderItems`. Amazon lists a change only two
//!   minutes after it happens, so an Amazon sale reaches the other channels
//!   no sooner than that (its order notifications need an SQS queue).
//! - Stock: `patchListingsItem` replacing
//!   `/attributes/fulfillment_availability` (channel code `DEFAULT`) per
//!   SKU; `ACCEPTED` confirms, `INVALID` refuses with Amazon's issues. From
//!   ten SKUs on, one `JSON_LISTINGS_FEED` carries them all: create a feed
//!   document, upload it to its pre-signed URL, create the feed, poll it to
//!   `DONE`, and read the processing report, whose issues refuse single
//!   messages (SKUs) while the rest are confirmed.
//! - Shipments: `confirmShipment` with a `packageReferenceId` derived from
//!   our fulfilment id (positive digits, stable): resending it edits the
//!   same package, so a retry never ships twice.
//! - Rate limits are token buckets per operation. Amazon's 429 carries no
//!   `Retry-After`; `x-amzn-RateLimit-Limit` gives the operation's rate, and
//!   a refused call holds the channel for one token's time (a minute for
//!   `getOrders`).

mod map;

use std::time::Duration;

use async_trait::async_trait;
use chrono::{SecondsFormat, Utc};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use serde_json::{Value, json};
use switchyard_domain::values::Currency;

use crate::channel::{
    Capabilities, FulfilmentAck, FulfilmentPush, Listing, ListingPage, OrderPage, OrderQuery,
    SalesChannel, StockOutcome, StockUpdate,
};
use crate::error::ConnectorError;
use crate::http::{ChannelHttp, HttpPolicy, HttpRequest, HttpResponse};
use crate::support::{self, TokenCache, encode};

/// Item pages per order before giving up (an order has few lines).
const MAX_ITEM_PAGES: usize = 20;
/// From this many SKUs in one push, stock goes as one listings feed.
const FEED_FROM: usize = 10;
/// Largest stock batch (one feed).
const FEED_MAX: usize = 1_000;
/// Polls of a feed before it is reported still processing.
const FEED_POLLS: u32 = 30;
/// The content type of a JSON listings feed document.
const FEED_CONTENT_TYPE: &str = "application/json; charset=UTF-8";

/// Credentials of an Amazon channel (stored encrypted).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AmazonCredentials {
    /// The LWA client id of the SP-API application.
    pub client_id: String,
    /// The LWA client secret.
    pub client_secret: SecretString,
    /// The seller's refresh token (from authorising the application).
    pub refresh_token: SecretString,
    /// The seller (merchant) id.
    pub seller_id: String,
    /// The marketplace this channel sells on (`A1PA6795UKMFR9` is amazon.de).
    pub marketplace_id: String,
}

/// An Amazon seller account on one marketplace.
#[derive(Debug, Clone)]
pub struct Amazon {
    http: ChannelHttp,
    base: String,
    token_url: String,
    creds: AmazonCredentials,
    eur: Currency,
    token: TokenCache,
}

/// A refused call waits one token of its operation's bucket.
fn signals(r: &HttpResponse) -> Option<Duration> {
    if r.status != 429 || r.header("retry-after").is_some() {
        return None;
    }
    let rate = r
        .header("x-amzn-ratelimit-limit")
        .and_then(|v| v.trim().parse::<f64>().ok())
        .filter(|r| *r > 0.0)?;
    Some(Duration::from_secs_f64((1.0 / rate).min(3600.0)))
}

/// A stable, positive numeric package id for our fulfilment id (FNV-1a).
fn package_id(reference: &str) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in reference.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    (h % 1_000_000_000_000 + 1).to_string()
}

impl Amazon {
    /// A connector for the regional endpoint at `base_url`
    /// (`https://sellingpartnerapi-eu.amazon.com`).
    pub fn new(
        base_url: &str,
        creds: &AmazonCredentials,
        policy: HttpPolicy,
    ) -> Result<Self, ConnectorError> {
        let base = base_url.trim_end_matches('/').to_owned();
        let token_url = if base.contains("sellingpartnerapi") && base.ends_with(".amazon.com") {
            "https://api.amazon.com/auth/o2/token".to_owned()
        } else {
            format!("{base}/auth/o2/token")
        };
        let eur = Currency::parse("EUR").map_err(|e| ConnectorError::Client {
            channel: "amazon".into(),
            reason: e.message,
        })?;
        let http = ChannelHttp::new(
            "amazon",
            policy,
            vec![
                creds.client_secret.expose_secret().to_owned(),
                creds.refresh_token.expose_secret().to_owned(),
            ],
        )?
        .with_signals(signals);
        Ok(Self {
            http,
            base,
            token_url,
            creds: creds.clone(),
            eur,
            token: TokenCache::default(),
        })
    }

    fn label(&self) -> &str {
        self.http.label()
    }

    fn malformed(&self, reason: impl Into<String>) -> ConnectorError {
        ConnectorError::Malformed {
            channel: self.label().to_owned(),
            reason: reason.into(),
        }
    }

    /// A new access token from Login with Amazon.
    async fn fetch_token(&self) -> Result<(String, Duration), ConnectorError> {
        let req = HttpRequest::form(
            reqwest::Method::POST,
            self.token_url.clone(),
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", self.creds.refresh_token.expose_secret()),
                ("client_id", &self.creds.client_id),
                ("client_secret", self.creds.client_secret.expose_secret()),
            ],
        );
        let (_, v) = self.http.send_json(&req).await?;
        support::token_from(self.label(), &v, 3600)
    }

    /// Send with the access token; when refused (Amazon answers 403 for an
    /// expired token) renew it and send once more.
    async fn call(&self, req: HttpRequest, want_json: bool) -> Result<Value, ConnectorError> {
        self.token
            .with_token(
                &[401, 403],
                || self.fetch_token(),
                |t| {
                    let r = req.clone().secret_header("x-amz-access-token", t);
                    async move {
                        if want_json {
                            self.http.send_json(&r).await.map(|(_, v)| v)
                        } else {
                            self.http.send(&r).await.map(|_| Value::Null)
                        }
                    }
                },
            )
            .await
    }

    async fn get(&self, path_and_query: &str) -> Result<Value, ConnectorError> {
        self.call(
            HttpRequest::get(format!("{}{path_and_query}", self.base)),
            true,
        )
        .await
    }

    /// Every item of an order, page by page.
    async fn items(&self, order: &str) -> Result<Vec<Value>, ConnectorError> {
        let mut out = Vec::new();
        let mut next: Option<String> = None;
        for _ in 0..MAX_ITEM_PAGES {
            let mut path = format!("/orders/v0/orders/{}/orderItems", encode(order));
            if let Some(n) = &next {
                path.push_str(&format!("?NextToken={}", encode(n)));
            }
            let v = self.get(&path).await?;
            let page = v["payload"]["OrderItems"]
                .as_array()
                .ok_or_else(|| self.malformed("order items answer has no OrderItems"))?;
            out.extend(page.iter().cloned());
            match v["payload"]["NextToken"].as_str() {
                Some(n) if !n.is_empty() => next = Some(n.to_owned()),
                _ => return Ok(out),
            }
        }
        Err(self.malformed(format!(
            "order {order} has more than {MAX_ITEM_PAGES} item pages"
        )))
    }

    /// `confirmShipment` of `shipment` as package `package`: the same id
    /// edits the package, so this is safe to resend.
    async fn confirm(
        &self,
        shipment: &FulfilmentPush,
        package: &str,
    ) -> Result<(), ConnectorError> {
        let order = shipment.channel_order_id.as_str();
        let items: Vec<(String, i64)> = if shipment.lines.is_empty() {
            self.items(order)
                .await?
                .iter()
                .filter_map(|i| {
                    let left =
                        i["QuantityOrdered"].as_i64()? - i["QuantityShipped"].as_i64().unwrap_or(0);
                    (left > 0).then(|| Some((i["OrderItemId"].as_str()?.to_owned(), left)))?
                })
                .collect()
        } else {
            shipment.lines.clone()
        };
        let carrier = shipment.carrier.clone().unwrap_or_else(|| "Other".into());
        let mut detail = json!({
            "packageReferenceId": package,
            "carrierCode": carrier,
            // Amazon needs a number; a shipment without one is confirmed
            // under our reference.
            "trackingNumber": shipment.tracking.first().map_or(shipment.reference.as_str(), |t| t.number.as_str()),
            "shipDate": shipment.shipped_at.min(Utc::now()).to_rfc3339_opts(SecondsFormat::Secs, true),
            "orderItems": items.iter().map(|(id, q)| json!({ "orderItemId": id, "quantity": q })).collect::<Vec<_>>(),
        });
        if carrier == "Other" {
            detail["carrierName"] = json!("Other");
        }
        if let Some(s) = &shipment.service {
            detail["shippingMethod"] = json!(s);
        }
        // The same packageReferenceId edits the package: safe to resend.
        let req = HttpRequest::json(
            reqwest::Method::POST,
            format!(
                "{}/orders/v0/orders/{}/shipmentConfirmation",
                self.base,
                encode(order)
            ),
            &json!({ "marketplaceId": self.creds.marketplace_id, "packageDetail": detail }),
        );
        self.call(req, false).await?;
        Ok(())
    }

    /// Stock for many SKUs as one `JSON_LISTINGS_FEED`.
    async fn push_feed(
        &self,
        updates: &[StockUpdate],
    ) -> Result<Vec<StockOutcome>, ConnectorError> {
        let doc = self
            .call(
                HttpRequest::json(
                    reqwest::Method::POST,
                    format!("{}/feeds/2021-06-30/documents", self.base),
                    &json!({ "contentType": FEED_CONTENT_TYPE }),
                ),
                true,
            )
            .await?;
        let (Some(doc_id), Some(upload)) = (doc["feedDocumentId"].as_str(), doc["url"].as_str())
        else {
            return Err(self.malformed("feed document answer lacks feedDocumentId or url"));
        };
        let feed = json!({
            "header": { "sellerId": self.creds.seller_id, "version": "2.0", "issueLocale": "en_US" },
            "messages": updates.iter().enumerate().map(|(i, u)| json!({
                "messageId": i + 1, "sku": u.channel_listing_id, "operationType": "PATCH",
                "productType": "PRODUCT",
                "patches": [{ "op": "replace", "path": "/attributes/fulfillment_availability",
                    "value": [{ "fulfillment_channel_code": "DEFAULT", "quantity": u.quantity.max(0) }] }],
            })).collect::<Vec<_>>(),
        });
        // The pre-signed URL carries its own authorisation (no token).
        let put = HttpRequest {
            method: reqwest::Method::PUT,
            url: upload.to_owned(),
            headers: vec![("content-type".into(), FEED_CONTENT_TYPE.into())],
            secret_headers: Vec::new(),
            body: Some(feed.to_string().into_bytes()),
            idempotent: true,
        };
        self.http.send(&put).await?;
        let created = self
            .call(
                HttpRequest::json(
                    reqwest::Method::POST,
                    format!("{}/feeds/2021-06-30/feeds", self.base),
                    &json!({ "feedType": "JSON_LISTINGS_FEED",
                             "marketplaceIds": [self.creds.marketplace_id],
                             "inputFeedDocumentId": doc_id }),
                ),
                true,
            )
            .await?;
        let feed_id = created["feedId"]
            .as_str()
            .ok_or_else(|| self.malformed("createFeed answer has no feedId"))?
            .to_owned();
        let mut wait = Duration::from_millis(100);
        let mut status = Value::Null;
        for _ in 0..FEED_POLLS {
            tokio::time::sleep(wait).await;
            wait = (wait * 2).min(Duration::from_secs(30));
            status = self
                .get(&format!("/feeds/2021-06-30/feeds/{}", encode(&feed_id)))
                .await?;
            if !matches!(
                status["processingStatus"].as_str(),
                Some("IN_QUEUE" | "IN_PROGRESS")
            ) {
                break;
            }
        }
        let every = |reason: String| {
            updates
                .iter()
                .map(|_| StockOutcome::Failed {
                    reason: reason.clone(),
                    retryable: true,
                })
                .collect()
        };
        match status["processingStatus"].as_str() {
            Some("DONE") => {}
            Some(other) => return Ok(every(format!("feed {feed_id} is {other}"))),
            None => return Err(self.malformed("getFeed answer has no processingStatus")),
        }
        let result = status["resultFeedDocumentId"]
            .as_str()
            .ok_or_else(|| self.malformed("a DONE feed names no result document"))?;
        let doc = self
            .get(&format!("/feeds/2021-06-30/documents/{}", encode(result)))
            .await?;
        let url = doc["url"]
            .as_str()
            .ok_or_else(|| self.malformed("result document has no url"))?;
        let (_, report) = self.http.send_json(&HttpRequest::get(url)).await?;
        let refused: std::collections::BTreeMap<u64, String> = report["issues"]
            .as_array()
            .map(Vec::as_slice)
            .unwrap_or_default()
            .iter()
            .filter(|i| i["severity"] == "ERROR")
            .filter_map(|i| {
                Some((
                    i["messageId"].as_u64()?,
                    i["message"].as_str().unwrap_or("refused").to_owned(),
                ))
            })
            .collect();
        Ok((1..=updates.len() as u64)
            .map(|m| match refused.get(&m) {
                Some(reason) => StockOutcome::Failed {
                    reason: reason.clone(),
                    retryable: false,
                },
                None => StockOutcome::Accepted,
            })
            .collect())
    }

    fn map(
        &self,
        raw: &Value,
        items: &[Value],
    ) -> (
        Value,
        Result<switchyard_domain::order::UnifiedOrder, ConnectorError>,
    ) {
        let mut full = raw.clone();
        full["OrderItems"] = json!(items);
        let mapped = map::order(self.label(), raw, items, self.eur);
        (full, mapped)
    }
}

#[async_trait]
impl SalesChannel for Amazon {
    fn capabilities(&self) -> Capabilities {
        Capabilities {
            bulk_stock: true,
            max_stock_batch: FEED_MAX,
            push_notifications: false,
            partial_fulfilment: true,
            multiple_tracking_numbers: false,
            compare_and_set_stock: false,
            scarce_order_lists: true,
            tracking_updates: true,
            fulfilment_cancellation: false,
            order_cancellation: false,
        }
    }

    fn unsupported(&self, what: &str) -> ConnectorError {
        ConnectorError::Unsupported {
            channel: self.label().to_owned(),
            what: what.to_owned(),
        }
    }

    async fn test_connection(&self) -> Result<(), ConnectorError> {
        // A listings page proves the token, the seller id and the
        // marketplace without spending getOrders' one call a minute.
        let v = self
            .get(&format!(
                "/listings/2021-08-01/items/{}?marketplaceIds={}&pageSize=1",
                encode(&self.creds.seller_id),
                encode(&self.creds.marketplace_id)
            ))
            .await?;
        if v["items"].is_array() {
            Ok(())
        } else {
            Err(self.malformed("listings answer has no items"))
        }
    }

    async fn fetch_orders(&self, query: &OrderQuery) -> Result<OrderPage, ConnectorError> {
        let market = encode(&self.creds.marketplace_id);
        let path = match query.page.as_deref() {
            Some(p) => {
                let token = p
                    .strip_prefix("am1:")
                    .ok_or_else(|| ConnectorError::Client {
                        channel: self.label().to_owned(),
                        reason: format!("not an Amazon page token: {p}"),
                    })?;
                format!(
                    "/orders/v0/orders?MarketplaceIds={market}&NextToken={}",
                    encode(token)
                )
            }
            None => format!(
                "/orders/v0/orders?MarketplaceIds={market}&LastUpdatedAfter={}&FulfillmentChannels=MFN&MaxResultsPerPage=100",
                encode(
                    &query
                        .updated_since
                        .to_rfc3339_opts(SecondsFormat::Secs, true)
                )
            ),
        };
        let v = self.get(&path).await?;
        let orders = v["payload"]["Orders"]
            .as_array()
            .ok_or_else(|| self.malformed("order list has no Orders"))?;
        let mut page = OrderPage::default();
        for raw in orders {
            let Some(id) = raw["AmazonOrderId"].as_str() else {
                page.add(raw.clone(), None, Err("order without AmazonOrderId"));
                continue;
            };
            if page.holds(id) {
                continue;
            }
            if raw["FulfillmentChannel"].as_str() == Some("AFN") {
                continue;
            }
            let items = self.items(id).await?;
            let (full, mapped) = self.map(raw, &items);
            page.add(full, Some(id.to_owned()), mapped);
        }
        page.next_page = v["payload"]["NextToken"]
            .as_str()
            .filter(|t| !t.is_empty())
            .map(|t| format!("am1:{t}"));
        Ok(page)
    }

    async fn fetch_order(&self, channel_order_id: &str) -> Result<OrderPage, ConnectorError> {
        let v = self
            .get(&format!("/orders/v0/orders/{}", encode(channel_order_id)))
            .await?;
        let raw = &v["payload"];
        let items = self.items(channel_order_id).await?;
        let (full, mapped) = self.map(raw, &items);
        Ok(OrderPage::single(full, channel_order_id, mapped))
    }

    async fn fetch_listings(&self, page: Option<String>) -> Result<ListingPage, ConnectorError> {
        let mut path = format!(
            "/listings/2021-08-01/items/{}?marketplaceIds={}&includedData=summaries,fulfillmentAvailability,offers&pageSize=20",
            encode(&self.creds.seller_id),
            encode(&self.creds.marketplace_id)
        );
        if let Some(p) = &page {
            path.push_str(&format!("&pageToken={}", encode(p)));
        }
        let v = self.get(&path).await?;
        let items = v["items"]
            .as_array()
            .ok_or_else(|| self.malformed("listings answer has no items"))?;
        let listings = items
            .iter()
            .filter_map(|i| {
                let sku = i["sku"].as_str().filter(|s| !s.is_empty())?;
                let quantity = i["fulfillmentAvailability"]
                    .as_array()
                    .and_then(|a| a.iter().find(|f| f["fulfillmentChannelCode"] == "DEFAULT"))
                    .and_then(|f| f["quantity"].as_i64());
                let price = i["offers"][0]["price"]["amount"]
                    .as_str()
                    .and_then(|a| self.eur.parse_amount(a).ok());
                Some(Listing {
                    channel_listing_id: sku.to_owned(),
                    sku: Some(sku.to_owned()),
                    title: i["summaries"][0]["itemName"]
                        .as_str()
                        .unwrap_or(sku)
                        .to_owned(),
                    quantity,
                    price,
                    raw: i.clone(),
                })
            })
            .collect();
        Ok(ListingPage {
            listings,
            next_page: v["pagination"]["nextToken"]
                .as_str()
                .filter(|t| !t.is_empty())
                .map(str::to_owned),
        })
    }

    async fn push_stock(
        &self,
        updates: &[StockUpdate],
    ) -> Result<Vec<StockOutcome>, ConnectorError> {
        if updates.len() >= FEED_FROM {
            let mut out = Vec::with_capacity(updates.len());
            for chunk in updates.chunks(FEED_MAX) {
                out.extend(self.push_feed(chunk).await?);
            }
            return Ok(out);
        }
        let mut out = Vec::with_capacity(updates.len());
        for u in updates {
            let body = json!({
                "productType": "PRODUCT",
                "patches": [{ "op": "replace", "path": "/attributes/fulfillment_availability",
                    "value": [{ "fulfillment_channel_code": "DEFAULT", "quantity": u.quantity.max(0) }] }],
            });
            let req = HttpRequest::json(
                reqwest::Method::PATCH,
                format!(
                    "{}/listings/2021-08-01/items/{}/{}?marketplaceIds={}",
                    self.base,
                    encode(&self.creds.seller_id),
                    encode(&u.channel_listing_id),
                    encode(&self.creds.marketplace_id)
                ),
                &body,
            );
            out.push(match self.call(req, true).await {
                Ok(v) => match v["status"].as_str() {
                    Some("ACCEPTED" | "VALID") => StockOutcome::Accepted,
                    Some(other) => StockOutcome::Failed {
                        reason: format!(
                            "Amazon answered {other}: {}",
                            v["issues"][0]["message"]
                                .as_str()
                                .unwrap_or("no issue given")
                        ),
                        retryable: false,
                    },
                    None => StockOutcome::Failed {
                        reason: "Amazon's answer has no status".into(),
                        retryable: true,
                    },
                },
                Err(e @ ConnectorError::Rejected { .. }) => StockOutcome::Failed {
                    reason: e.to_string(),
                    retryable: false,
                },
                Err(e) => return Err(e),
            });
        }
        Ok(out)
    }

    async fn push_fulfilment(
        &self,
        shipment: &FulfilmentPush,
    ) -> Result<FulfilmentAck, ConnectorError> {
        let package = package_id(&shipment.reference);
        self.confirm(shipment, &package).await?;
        Ok(FulfilmentAck {
            channel_fulfilment_id: package,
            already_existed: false,
        })
    }

    /// A package is edited by confirming it again under its id.
    async fn update_fulfilment_tracking(
        &self,
        channel_fulfilment_id: &str,
        shipment: &FulfilmentPush,
    ) -> Result<Option<String>, ConnectorError> {
        self.confirm(shipment, channel_fulfilment_id).await?;
        Ok(None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn package_ids_are_stable_positive_numbers() {
        let a = package_id("ful_01abc");
        assert_eq!(a, package_id("ful_01abc"));
        assert_ne!(a, package_id("ful_01abd"));
        assert!(a.bytes().all(|b| b.is_ascii_digit()) && a != "0");
    }
}
