//! Etsy Open API v3 connector.
//!
//! - Auth: every request carries `x-api-key` (the app's keystring) and an
//!   OAuth access token, which lives an hour. The token is obtained from the
//!   shop owner's refresh token (`POST /v3/public/oauth/token`,
//!   `grant_type=refresh_token`), renewed a minute before it expires, and
//!   once more when a request is answered 401 (revoked early).
//! - Orders are receipts: `GET /v3/application/shops/{shop_id}/receipts
//!   ?min_last_modified=…&sort_on=receipt_id&sort_order=asc&limit=100&offset=…`.
//!   Receipt ids never change and a receipt modified while we page still
//!   matches `min_last_modified`, so offsets over that order are stable; new
//!   receipts only append. Money is `{amount, divisor, currency_code}`.
//! - Stock: Etsy has no bulk stock endpoint and `PUT
//!   /listings/{id}/inventory` **replaces** every product of the listing, so
//!   each listing is read, the matching SKUs' offering quantities changed,
//!   and the whole inventory written back (other products, prices and
//!   properties untouched). A listing's changes go in one write.
//! - Shipments: `POST /shops/{shop_id}/receipts/{id}/tracking` (form
//!   encoded `tracking_code`, `carrier_name`), one per tracking number,
//!   each looked for on the receipt before it is created.
//! - Rate limits: `x-remaining-this-second` at 0 holds the channel back a
//!   second, `x-remaining-today` at 0 until the limit resets (clamped by
//!   the policy); 429 honours `retry-after`.

mod map;

use std::collections::BTreeMap;
use std::time::Duration;

use async_trait::async_trait;
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
use crate::support::{self, TokenCache};

/// Receipts and listings per page (Etsy's maximum).
const PAGE_SIZE: usize = 100;

/// Credentials of an Etsy channel (stored encrypted).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EtsyCredentials {
    /// The app's keystring (`x-api-key`).
    pub keystring: SecretString,
    /// The shop owner's OAuth refresh token.
    pub refresh_token: SecretString,
    /// The shop's numeric id.
    pub shop_id: u64,
}

/// An Etsy shop.
#[derive(Debug, Clone)]
pub struct Etsy {
    http: ChannelHttp,
    base: String,
    creds: EtsyCredentials,
    attempts: u32,
    pause: Duration,
    token: TokenCache,
}

/// Hold back after the last request of a second or of the day.
fn signals(r: &HttpResponse) -> Option<Duration> {
    let left = |h: &str| r.header(h).and_then(|v| v.trim().parse::<i64>().ok());
    if left("x-remaining-today") == Some(0) {
        return Some(Duration::from_secs(3600));
    }
    (left("x-remaining-this-second") == Some(0)).then_some(Duration::from_secs(1))
}

impl Etsy {
    /// A connector for the API at `base_url` (`https://openapi.etsy.com`).
    pub fn new(
        base_url: &str,
        creds: &EtsyCredentials,
        policy: HttpPolicy,
    ) -> Result<Self, ConnectorError> {
        let pause = policy.base_backoff;
        let attempts = policy.max_attempts;
        let http = ChannelHttp::new(
            "etsy",
            policy,
            vec![
                creds.keystring.expose_secret().to_owned(),
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

    fn shop_path(&self, rest: &str) -> String {
        format!("/v3/application/shops/{}{rest}", self.creds.shop_id)
    }

    /// A new access token from the shop owner's refresh token.
    async fn fetch_token(&self) -> Result<(String, Duration), ConnectorError> {
        let req = HttpRequest::form(
            reqwest::Method::POST,
            format!("{}/v3/public/oauth/token", self.base),
            &[
                ("grant_type", "refresh_token"),
                ("client_id", self.creds.keystring.expose_secret()),
                ("refresh_token", self.creds.refresh_token.expose_secret()),
            ],
        )
        .secret_header("x-api-key", self.creds.keystring.expose_secret().to_owned());
        let (_, v) = self.http.send_json(&req).await?;
        support::token_from(self.http.label(), &v, 3600)
    }

    /// Send `req` with the keystring and a token; on 401 renew the token
    /// and send once more.
    async fn send(&self, req: HttpRequest) -> Result<Value, ConnectorError> {
        self.token
            .with_token(
                &[401],
                || self.fetch_token(),
                |t| {
                    let r = req
                        .clone()
                        .secret_header("x-api-key", self.creds.keystring.expose_secret().to_owned())
                        .secret_header("authorization", format!("Bearer {t}"));
                    async move { Ok(self.http.send_json(&r).await?.1) }
                },
            )
            .await
    }

    async fn get(&self, path: &str) -> Result<Value, ConnectorError> {
        self.send(HttpRequest::get(format!("{}{path}", self.base)))
            .await
    }

    async fn receipt(&self, id: &str) -> Result<Value, ConnectorError> {
        self.get(&self.shop_path(&format!("/receipts/{id}"))).await
    }

    /// Change some SKUs' quantities on one listing, keeping everything else.
    async fn write_listing(
        &self,
        listing: &str,
        quantities: &BTreeMap<String, i64>,
    ) -> Result<BTreeMap<String, StockOutcome>, ConnectorError> {
        let path = format!("/v3/application/listings/{listing}/inventory");
        let inv = self.get(&path).await?;
        let products = inv["products"]
            .as_array()
            .ok_or_else(|| self.malformed("inventory has no products"))?;
        let mut out: BTreeMap<String, StockOutcome> = BTreeMap::new();
        let mut body_products = Vec::with_capacity(products.len());
        for p in products.iter().filter(|p| p["is_deleted"] != true) {
            let sku = p["sku"].as_str().unwrap_or_default().to_owned();
            let offerings = p["offerings"]
                .as_array()
                .ok_or_else(|| self.malformed("product has no offerings"))?
                .iter()
                .filter(|o| o["is_deleted"] != true)
                .map(|o| {
                    let currency = o["price"]["currency_code"]
                        .as_str()
                        .and_then(|c| Currency::parse(c).ok())
                        .ok_or_else(|| self.malformed("offering price has no currency"))?;
                    let minor = map::money(self.http.label(), &o["price"], currency)?;
                    #[allow(clippy::cast_precision_loss, reason = "prices are small")]
                    let price = minor as f64 / 10_f64.powi(currency.minor_digits().cast_signed());
                    let quantity = quantities
                        .get(&sku)
                        .copied()
                        .or_else(|| o["quantity"].as_i64())
                        .unwrap_or(0);
                    Ok(json!({ "price": price, "quantity": quantity,
                               "is_enabled": o["is_enabled"].as_bool().unwrap_or(true) }))
                })
                .collect::<Result<Vec<_>, ConnectorError>>()?;
            let props: Vec<Value> = p["property_values"]
                .as_array()
                .map(Vec::as_slice)
                .unwrap_or_default()
                .iter()
                .map(|v| {
                    json!({ "property_id": v["property_id"], "value_ids": v["value_ids"],
                            "scale_id": v["scale_id"], "property_name": v["property_name"],
                            "values": v["values"] })
                })
                .collect();
            body_products
                .push(json!({ "sku": sku, "property_values": props, "offerings": offerings }));
        }
        for sku in quantities.keys() {
            if !products.iter().any(|p| p["sku"].as_str() == Some(sku)) {
                out.insert(
                    sku.clone(),
                    StockOutcome::Failed {
                        reason: format!("listing {listing} has no product with SKU {sku}"),
                        retryable: false,
                    },
                );
            }
        }
        let body = json!({
            "products": body_products,
            "price_on_property": inv["price_on_property"],
            "quantity_on_property": inv["quantity_on_property"],
            "sku_on_property": inv["sku_on_property"],
        });
        let written = self
            .send(HttpRequest::json(
                reqwest::Method::PUT,
                format!("{}{path}", self.base),
                &body,
            ))
            .await?;
        let shown: BTreeMap<String, i64> = written["products"]
            .as_array()
            .map(Vec::as_slice)
            .unwrap_or_default()
            .iter()
            .filter_map(|p| {
                Some((
                    p["sku"].as_str()?.to_owned(),
                    p["offerings"][0]["quantity"].as_i64()?,
                ))
            })
            .collect();
        for (sku, q) in quantities {
            out.entry(sku.clone()).or_insert(match shown.get(sku) {
                Some(s) if s == q => StockOutcome::Accepted,
                other => StockOutcome::Failed {
                    reason: format!("Etsy kept quantity {other:?} for {sku}"),
                    retryable: true,
                },
            });
        }
        Ok(out)
    }
}

#[async_trait]
impl SalesChannel for Etsy {
    fn capabilities(&self) -> Capabilities {
        Capabilities {
            bulk_stock: false,
            max_stock_batch: 50,
            push_notifications: false,
            partial_fulfilment: false,
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
        let me = self.get("/v3/application/users/me").await?;
        match me["shop_id"].as_u64() {
            Some(id) if id == self.creds.shop_id => Ok(()),
            other => Err(ConnectorError::Rejected {
                channel: self.http.label().to_owned(),
                status: 403,
                body: format!(
                    "the token belongs to shop {other:?}, not {}",
                    self.creds.shop_id
                ),
            }),
        }
    }

    async fn fetch_orders(&self, query: &OrderQuery) -> Result<OrderPage, ConnectorError> {
        let offset =
            support::offset_from(self.http.label(), "an Etsy", "et1:", query.page.as_deref())?;
        let since = query.updated_since.timestamp();
        let body = self
            .get(&self.shop_path(&format!(
                "/receipts?min_last_modified={since}&sort_on=receipt_id&sort_order=asc&limit={PAGE_SIZE}&offset={offset}"
            )))
            .await?;
        let count = body["count"]
            .as_u64()
            .ok_or_else(|| self.malformed("receipt list has no count"))?;
        let results = body["results"]
            .as_array()
            .ok_or_else(|| self.malformed("receipt list has no results"))?;
        let mut page = OrderPage::default();
        for raw in results {
            let id = raw["receipt_id"].as_u64().map(|i| i.to_string());
            if id.as_deref().is_some_and(|i| page.holds(i)) {
                continue;
            }
            page.add(raw.clone(), id, map::receipt(self.http.label(), raw));
        }
        page.next_page = support::next_offset("et1:", offset, PAGE_SIZE, count);
        Ok(page)
    }

    async fn fetch_order(&self, channel_order_id: &str) -> Result<OrderPage, ConnectorError> {
        let raw = self.receipt(channel_order_id).await?;
        let mapped = map::receipt(self.http.label(), &raw);
        Ok(OrderPage::single(raw, channel_order_id, mapped))
    }

    async fn fetch_listings(&self, page: Option<String>) -> Result<ListingPage, ConnectorError> {
        let offset = support::listing_page(self.http.label(), page.as_deref(), 0)?;
        let body = self
            .get(&self.shop_path(&format!(
                "/listings?state=active&limit={PAGE_SIZE}&offset={offset}&includes=Inventory"
            )))
            .await?;
        let results = body["results"]
            .as_array()
            .ok_or_else(|| self.malformed("listing list has no results"))?;
        let mut listings = Vec::new();
        for l in results {
            let id = l["listing_id"]
                .as_u64()
                .ok_or_else(|| self.malformed("listing without listing_id"))?;
            let inventory = match l.get("inventory") {
                Some(i) if i.is_object() => i.clone(),
                _ => {
                    self.get(&format!("/v3/application/listings/{id}/inventory"))
                        .await?
                }
            };
            let title = l["title"].as_str().unwrap_or_default();
            for p in inventory["products"]
                .as_array()
                .map(Vec::as_slice)
                .unwrap_or_default()
            {
                let Some(sku) = p["sku"].as_str().filter(|s| !s.is_empty()) else {
                    continue;
                };
                let offering = &p["offerings"][0];
                let price = offering["price"]["currency_code"]
                    .as_str()
                    .and_then(|c| Currency::parse(c).ok())
                    .and_then(|c| map::money(self.http.label(), &offering["price"], c).ok());
                let size: Vec<String> = p["property_values"]
                    .as_array()
                    .map(Vec::as_slice)
                    .unwrap_or_default()
                    .iter()
                    .flat_map(|v| v["values"].as_array().cloned().unwrap_or_default())
                    .filter_map(|v| v.as_str().map(str::to_owned))
                    .collect();
                listings.push(Listing {
                    channel_listing_id: format!("{id}/{sku}"),
                    sku: Some(sku.to_owned()),
                    title: if size.is_empty() {
                        title.to_owned()
                    } else {
                        format!("{title} - {}", size.join(" / "))
                    },
                    quantity: offering["quantity"].as_i64(),
                    price,
                    raw: p.clone(),
                });
            }
        }
        let count = body["count"].as_u64().unwrap_or(0);
        let next = offset + PAGE_SIZE;
        Ok(ListingPage {
            listings,
            next_page: (u64::try_from(next).unwrap_or(u64::MAX) < count).then(|| next.to_string()),
        })
    }

    async fn push_stock(
        &self,
        updates: &[StockUpdate],
    ) -> Result<Vec<StockOutcome>, ConnectorError> {
        let mut by_listing: BTreeMap<String, BTreeMap<String, i64>> = BTreeMap::new();
        let mut keys = Vec::with_capacity(updates.len());
        for u in updates {
            let (listing, sku) = u
                .channel_listing_id
                .split_once('/')
                .unwrap_or((u.channel_listing_id.as_str(), u.sku.as_str()));
            by_listing
                .entry(listing.to_owned())
                .or_default()
                .insert(sku.to_owned(), u.quantity.clamp(0, 999));
            keys.push((listing.to_owned(), sku.to_owned()));
        }
        let mut results: BTreeMap<(String, String), StockOutcome> = BTreeMap::new();
        for (listing, quantities) in &by_listing {
            match self.write_listing(listing, quantities).await {
                Ok(out) => {
                    for (sku, o) in out {
                        results.insert((listing.clone(), sku), o);
                    }
                }
                Err(e @ (ConnectorError::Rejected { .. } | ConnectorError::Malformed { .. })) => {
                    for sku in quantities.keys() {
                        results.insert(
                            (listing.clone(), sku.clone()),
                            StockOutcome::Failed {
                                reason: e.to_string(),
                                retryable: matches!(e, ConnectorError::Malformed { .. }),
                            },
                        );
                    }
                }
                Err(e) => return Err(e),
            }
        }
        Ok(keys
            .into_iter()
            .map(|k| {
                results.remove(&k).unwrap_or(StockOutcome::Failed {
                    reason: "no answer for this SKU".into(),
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
        let numbers: Vec<&str> = if shipment.tracking.is_empty() {
            // Etsy needs a tracking code; a shipment without one is
            // recorded under our reference so the buyer is told it left.
            vec![shipment.reference.as_str()]
        } else {
            shipment
                .tracking
                .iter()
                .map(|t| t.number.as_str())
                .collect()
        };
        let carrier = shipment.carrier.clone().unwrap_or_else(|| "other".into());
        let mut first: Option<(String, bool)> = None;
        for number in numbers {
            let find = || async {
                let r = self.receipt(order).await?;
                Ok(r["shipments"]
                    .as_array()
                    .map(Vec::as_slice)
                    .unwrap_or_default()
                    .iter()
                    .find(|s| s["tracking_code"].as_str() == Some(number))
                    .and_then(|s| s["receipt_shipping_id"].as_u64())
                    .map(|id| id.to_string()))
            };
            let create = || async {
                let req = HttpRequest::form(
                    reqwest::Method::POST,
                    format!(
                        "{}{}",
                        self.base,
                        self.shop_path(&format!("/receipts/{order}/tracking"))
                    ),
                    &[("tracking_code", number), ("carrier_name", &carrier)],
                )
                .not_idempotent();
                let r = self.send(req).await?;
                r["shipments"]
                    .as_array()
                    .and_then(|s| {
                        s.iter()
                            .find(|s| s["tracking_code"].as_str() == Some(number))
                    })
                    .and_then(|s| s["receipt_shipping_id"].as_u64())
                    .map(|id| id.to_string())
                    .ok_or_else(|| self.malformed("the receipt does not show the new shipment"))
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
