//! WooCommerce REST API v3 connector.
//!
//! - Orders: `GET /wp-json/wc/v3/orders?modified_after=…&dates_are_gmt=true
//!   &orderby=id&order=asc&offset=…`. WooCommerce cannot sort orders by
//!   modification date, so pages are read in id order, which never changes:
//!   an order updated while we page stays where it is. Each page overlaps
//!   the previous one by one order; if that order is not where it should
//!   be, orders left the result set and the connector steps back instead of
//!   skipping any.
//! - Stock: `POST /products/batch` and `/products/{id}/variations/batch`,
//!   100 items a call, `manage_stock` switched on.
//! - Fulfilment: one Shipment Tracking entry per tracking number, an order
//!   note carrying our reference, and the order `completed` when every line
//!   shipped. Each is looked for before it is created.
//! - Auth: consumer key and secret as HTTP Basic (the documented method
//!   over HTTPS).

mod back_office;
mod map;
mod notify;
mod shipping;

use shipping::shipment_id;

use std::collections::BTreeMap;
use std::time::Duration;

use async_trait::async_trait;
use base64::Engine as _;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::channel::{
    Capabilities, FulfilmentAck, FulfilmentPush, Listing, ListingPage, Notification,
    NotificationError, OrderPage, OrderQuery, SalesChannel, StockOutcome, StockUpdate,
};
use crate::error::ConnectorError;
use crate::http::{ChannelHttp, HttpPolicy, HttpRequest};
use crate::support::{self, Fields};

/// Orders per page (WooCommerce's maximum).
const PAGE_SIZE: usize = 100;
/// Items per batch call (WooCommerce's limit).
pub const BATCH_LIMIT: usize = 100;

/// Credentials of a WooCommerce channel (stored encrypted).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WooCommerceCredentials {
    /// `ck_…`
    pub consumer_key: SecretString,
    /// `cs_…`
    pub consumer_secret: SecretString,
    /// The secret of webhooks we register, to check their signatures.
    #[serde(default)]
    pub webhook_secret: Option<SecretString>,
}

/// A WooCommerce shop.
#[derive(Debug, Clone)]
pub struct WooCommerce {
    http: ChannelHttp,
    base: String,
    auth: SecretString,
    attempts: u32,
    pause: Duration,
    currency: std::sync::Arc<tokio::sync::OnceCell<String>>,
    webhook_secret: Option<SecretString>,
}

/// Where the next page starts: the position of the first order not yet
/// read, and the highest id read so far.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct PageToken {
    offset: usize,
    last_id: u64,
}

impl PageToken {
    fn parse(s: &str) -> Option<Self> {
        let (o, l) = s.strip_prefix("wc1:")?.split_once(':')?;
        Some(Self {
            offset: o.parse().ok()?,
            last_id: l.parse().ok()?,
        })
    }

    fn render(self) -> String {
        format!("wc1:{}:{}", self.offset, self.last_id)
    }
}

impl WooCommerce {
    /// A connector for the shop at `base_url` (e.g. `https://shop.example`).
    pub fn new(
        base_url: &str,
        creds: &WooCommerceCredentials,
        policy: HttpPolicy,
    ) -> Result<Self, ConnectorError> {
        let auth = format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(format!(
                "{}:{}",
                creds.consumer_key.expose_secret(),
                creds.consumer_secret.expose_secret()
            ))
        );
        let pause = policy.base_backoff;
        let attempts = policy.max_attempts;
        let http = ChannelHttp::new(
            "woocommerce",
            policy,
            vec![
                creds.consumer_key.expose_secret().to_owned(),
                creds.consumer_secret.expose_secret().to_owned(),
                auth.clone(),
            ],
        )?;
        let auth = SecretString::from(auth);
        Ok(Self {
            http,
            base: base_url.trim_end_matches('/').to_owned(),
            auth,
            attempts,
            pause,
            currency: std::sync::Arc::default(),
            webhook_secret: creds.webhook_secret.clone(),
        })
    }

    /// The shop's currency (`GET /wc/v3/data/currencies/current`), read once.
    async fn currency(&self) -> Result<String, ConnectorError> {
        self.currency
            .get_or_try_init(|| async {
                let (_, body) = self.get_json("/wc/v3/data/currencies/current").await?;
                body.get("code")
                    .and_then(Value::as_str)
                    .map(str::to_owned)
                    .ok_or_else(|| self.malformed("current currency has no code"))
            })
            .await
            .cloned()
    }

    /// Check a webhook delivery's `X-WC-Webhook-Signature`.
    #[must_use]
    pub fn verify_webhook(secret: &str, body: &[u8], signature: &str) -> bool {
        support::verify_hmac_sha256_base64(secret.as_bytes(), body, signature)
    }

    fn url(&self, path: &str) -> String {
        format!("{}/wp-json{path}", self.base)
    }

    fn get(&self, path: &str) -> HttpRequest {
        HttpRequest::get(self.url(path)).secret_header("authorization", self.auth.expose_secret())
    }

    fn send_body(&self, method: reqwest::Method, path: &str, body: &Value) -> HttpRequest {
        HttpRequest::json(method, self.url(path), body)
            .secret_header("authorization", self.auth.expose_secret())
    }

    fn malformed(&self, reason: impl Into<String>) -> ConnectorError {
        ConnectorError::Malformed {
            channel: self.http.label().to_owned(),
            reason: reason.into(),
        }
    }

    async fn get_json(
        &self,
        path: &str,
    ) -> Result<(crate::http::HttpResponse, Value), ConnectorError> {
        self.http.send_json(&self.get(path)).await
    }

    async fn page_at(
        &self,
        since: &str,
        start: usize,
    ) -> Result<(Vec<Value>, usize), ConnectorError> {
        let path = format!(
            "/wc/v3/orders?modified_after={since}&dates_are_gmt=true&orderby=id&order=asc&per_page={PAGE_SIZE}&offset={start}"
        );
        let (resp, body) = self.get_json(&path).await?;
        let items = body
            .as_array()
            .cloned()
            .ok_or_else(|| self.malformed("order list is not an array"))?;
        let total = resp
            .header("x-wp-total")
            .and_then(|t| t.trim().parse().ok())
            .ok_or_else(|| self.malformed("X-WP-Total header is missing"))?;
        Ok((items, total))
    }

    /// Create what `create` makes unless `check` finds it, without ever
    /// making it twice.
    async fn ensure<T, C, CF, M, MF>(
        &self,
        check: C,
        create: M,
    ) -> Result<(T, bool), ConnectorError>
    where
        C: FnMut() -> CF,
        CF: std::future::Future<Output = Result<Option<T>, ConnectorError>>,
        M: FnMut() -> MF,
        MF: std::future::Future<Output = Result<T, ConnectorError>>,
    {
        support::ensure(self.attempts, self.pause, check, create).await
    }

    async fn trackings(&self, order: &str) -> Result<Vec<Value>, ConnectorError> {
        let (_, body) = self
            .get_json(&format!(
                "/wc-shipment-tracking/v3/orders/{order}/shipment-trackings"
            ))
            .await?;
        body.as_array()
            .cloned()
            .ok_or_else(|| self.malformed("tracking list is not an array"))
    }

    async fn notes(&self, order: &str) -> Result<Vec<Value>, ConnectorError> {
        let (_, body) = self
            .get_json(&format!("/wc/v3/orders/{order}/notes"))
            .await?;
        body.as_array()
            .cloned()
            .ok_or_else(|| self.malformed("note list is not an array"))
    }

    async fn push_batch(
        &self,
        path: &str,
        items: &[(usize, u64, i64)],
        out: &mut [Option<StockOutcome>],
    ) -> Result<(), ConnectorError> {
        for chunk in items.chunks(BATCH_LIMIT) {
            let update: Vec<Value> = chunk
                .iter()
                .map(|(_, id, q)| json!({ "id": id, "manage_stock": true, "stock_quantity": q }))
                .collect();
            let (_, body) = self
                .http
                .send_json(&self.send_body(
                    reqwest::Method::POST,
                    path,
                    &json!({ "update": update }),
                ))
                .await?;
            let results = body
                .get("update")
                .and_then(Value::as_array)
                .ok_or_else(|| self.malformed("batch answer has no `update` list"))?;
            let by_id: BTreeMap<u64, &Value> = results
                .iter()
                .filter_map(|r| r.get("id").and_then(Value::as_u64).map(|id| (id, r)))
                .collect();
            for (idx, id, q) in chunk {
                out[*idx] = Some(match by_id.get(id) {
                    Some(r) if r.get("error").is_some() => StockOutcome::Failed {
                        reason: r["error"]["message"]
                            .as_str()
                            .unwrap_or("refused")
                            .to_owned(),
                        retryable: false,
                    },
                    Some(r) if r.get("stock_quantity").and_then(Value::as_i64) == Some(*q) => {
                        StockOutcome::Accepted
                    }
                    Some(r) => StockOutcome::Failed {
                        reason: format!(
                            "the shop kept stock_quantity {}",
                            r.get("stock_quantity").unwrap_or(&Value::Null)
                        ),
                        retryable: true,
                    },
                    None => StockOutcome::Failed {
                        reason: "the shop did not answer for this item".into(),
                        retryable: true,
                    },
                });
            }
        }
        Ok(())
    }
}

fn listing(raw: Value, id: String, currency_hint: &str) -> Listing {
    let f = Fields::new("woocommerce", &raw);
    let name = f
        .opt_str("name")
        .or_else(|| {
            raw.get("attributes")
                .and_then(Value::as_array)
                .and_then(|a| a.first())
                .and_then(|a| a.get("option"))
                .and_then(Value::as_str)
                .map(str::to_owned)
        })
        .unwrap_or_default();
    let price = f.opt_str("price").and_then(|p| {
        switchyard_domain::values::Currency::parse(currency_hint)
            .ok()
            .and_then(|c| c.parse_amount(&p).ok())
    });
    Listing {
        channel_listing_id: id,
        sku: f.opt_str("sku"),
        title: name,
        quantity: raw.get("stock_quantity").and_then(Value::as_i64),
        price,
        raw,
    }
}

#[async_trait]
impl SalesChannel for WooCommerce {
    fn capabilities(&self) -> Capabilities {
        Capabilities {
            bulk_stock: true,
            max_stock_batch: BATCH_LIMIT,
            push_notifications: true,
            partial_fulfilment: false,
            multiple_tracking_numbers: true,
            compare_and_set_stock: false,
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

    fn as_back_office(&self) -> Option<&dyn crate::back_office::BackOffice> {
        Some(self)
    }

    async fn update_fulfilment_tracking(
        &self,
        channel_fulfilment_id: &str,
        shipment: &FulfilmentPush,
    ) -> Result<Option<String>, ConnectorError> {
        self.replace_trackings(channel_fulfilment_id, shipment)
            .await
    }

    async fn cancel_fulfilment(
        &self,
        channel_order_id: &str,
        channel_fulfilment_id: &str,
    ) -> Result<(), ConnectorError> {
        self.remove_shipment(channel_order_id, channel_fulfilment_id)
            .await
    }

    async fn cancel_order(
        &self,
        channel_order_id: &str,
        reason: &str,
    ) -> Result<(), ConnectorError> {
        self.set_cancelled(channel_order_id, reason).await
    }

    async fn test_connection(&self) -> Result<(), ConnectorError> {
        self.get_json("/wc/v3/orders?per_page=1").await.map(|_| ())
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
        let token = match &query.page {
            None => PageToken {
                offset: 0,
                last_id: 0,
            },
            Some(t) => PageToken::parse(t).ok_or_else(|| ConnectorError::Client {
                channel: self.http.label().to_owned(),
                reason: format!("not a WooCommerce page token: {t}"),
            })?,
        };
        // `modified_after` is exclusive and to the second: ask from one
        // second earlier, the overlap removes the rest.
        let since = (query.updated_since - chrono::Duration::seconds(1))
            .format("%Y-%m-%dT%H:%M:%S")
            .to_string();
        let mut offset = token.offset;
        let (mut items, mut total) = (Vec::new(), 0);
        // Overlap by one order; step back while the overlap shows that
        // orders left the set before our position.
        for _ in 0..8 {
            let start = offset.saturating_sub(1);
            (items, total) = self.page_at(&since, start).await?;
            let min = items.iter().filter_map(|o| o.get("id")?.as_u64()).min();
            let shifted_left = token.last_id > 0 && min.is_some_and(|m| m > token.last_id);
            if shifted_left && start > 0 {
                offset = offset.saturating_sub(PAGE_SIZE - 1);
                continue;
            }
            break;
        }
        let start = offset.saturating_sub(1);
        let mut seen = std::collections::BTreeSet::new();
        let mut page = OrderPage::default();
        let mut last_id = token.last_id;
        let mut fresh: Vec<(u64, Value)> = items
            .into_iter()
            .filter_map(|o| o.get("id").and_then(Value::as_u64).map(|id| (id, o)))
            .filter(|(id, _)| *id > token.last_id)
            .collect();
        fresh.sort_by_key(|(id, _)| *id);
        for (id, raw) in fresh {
            if !seen.insert(id) {
                continue;
            }
            last_id = last_id.max(id);
            if back_office::reference_of(&raw).is_some() {
                page.ours.push(id.to_string());
                continue;
            }
            let mapped = map::order(self.http.label(), &raw);
            page.add(raw, Some(id.to_string()), mapped);
        }
        let next_offset = start + PAGE_SIZE;
        if next_offset < total {
            page.next_page = Some(
                PageToken {
                    offset: next_offset,
                    last_id,
                }
                .render(),
            );
        }
        Ok(page)
    }

    async fn fetch_listings(&self, page: Option<String>) -> Result<ListingPage, ConnectorError> {
        let n = support::listing_page(self.http.label(), page.as_deref(), 1)?;
        let (resp, body) = self
            .get_json(&format!(
                "/wc/v3/products?per_page={PAGE_SIZE}&page={n}&orderby=id&order=asc"
            ))
            .await?;
        let products = body
            .as_array()
            .cloned()
            .ok_or_else(|| self.malformed("product list is not an array"))?;
        let pages: usize = resp
            .header("x-wp-totalpages")
            .and_then(|t| t.trim().parse().ok())
            .unwrap_or(n);
        let currency = self.currency().await?;
        let mut listings = Vec::new();
        for p in products {
            let id = p
                .get("id")
                .and_then(Value::as_u64)
                .ok_or_else(|| self.malformed("product without id"))?;
            if p.get("type").and_then(Value::as_str) == Some("variable") {
                let mut vpage = 1;
                loop {
                    let (vresp, vbody) = self
                        .get_json(&format!(
                            "/wc/v3/products/{id}/variations?per_page={PAGE_SIZE}&page={vpage}"
                        ))
                        .await?;
                    for v in vbody.as_array().cloned().unwrap_or_default() {
                        let vid = v
                            .get("id")
                            .and_then(Value::as_u64)
                            .ok_or_else(|| self.malformed("variation without id"))?;
                        listings.push(listing(v, format!("{id}/{vid}"), &currency));
                    }
                    let vpages: usize = vresp
                        .header("x-wp-totalpages")
                        .and_then(|t| t.trim().parse().ok())
                        .unwrap_or(vpage);
                    if vpage >= vpages {
                        break;
                    }
                    vpage += 1;
                }
            } else {
                listings.push(listing(p, id.to_string(), &currency));
            }
        }
        Ok(ListingPage {
            listings,
            next_page: (n < pages).then(|| (n + 1).to_string()),
        })
    }

    async fn push_stock(
        &self,
        updates: &[StockUpdate],
    ) -> Result<Vec<StockOutcome>, ConnectorError> {
        let mut out: Vec<Option<StockOutcome>> = vec![None; updates.len()];
        let mut simple = Vec::new();
        let mut variations: BTreeMap<u64, Vec<(usize, u64, i64)>> = BTreeMap::new();
        for (i, u) in updates.iter().enumerate() {
            let parsed = match u.channel_listing_id.split_once('/') {
                None => u
                    .channel_listing_id
                    .parse::<u64>()
                    .ok()
                    .map(|id| (None, id)),
                Some((p, v)) => p
                    .parse::<u64>()
                    .ok()
                    .zip(v.parse::<u64>().ok())
                    .map(|(p, v)| (Some(p), v)),
            };
            match parsed {
                Some((None, id)) => simple.push((i, id, u.quantity)),
                Some((Some(parent), id)) => {
                    variations
                        .entry(parent)
                        .or_default()
                        .push((i, id, u.quantity));
                }
                None => {
                    out[i] = Some(StockOutcome::Failed {
                        reason: format!(
                            "`{}` is not a WooCommerce product or product/variation id",
                            u.channel_listing_id
                        ),
                        retryable: false,
                    });
                }
            }
        }
        self.push_batch("/wc/v3/products/batch", &simple, &mut out)
            .await?;
        for (parent, items) in &variations {
            self.push_batch(
                &format!("/wc/v3/products/{parent}/variations/batch"),
                items,
                &mut out,
            )
            .await?;
        }
        Ok(out
            .into_iter()
            .map(|o| {
                o.unwrap_or(StockOutcome::Failed {
                    reason: "not sent".into(),
                    retryable: true,
                })
            })
            .collect())
    }

    async fn push_fulfilment(
        &self,
        shipment: &FulfilmentPush,
    ) -> Result<FulfilmentAck, ConnectorError> {
        let order_id = shipment.channel_order_id.as_str();
        if order_id.is_empty() || !order_id.bytes().all(|b| b.is_ascii_digit()) {
            return Err(ConnectorError::Client {
                channel: self.http.label().to_owned(),
                reason: format!("`{order_id}` is not a WooCommerce order id"),
            });
        }
        let (_, order) = self.get_json(&format!("/wc/v3/orders/{order_id}")).await?;
        let (ids, mut existed) = self.add_trackings(order_id, shipment).await?;
        let marker = format!("[switchyard:{}]", shipment.reference);
        let numbers: Vec<&str> = shipment
            .tracking
            .iter()
            .map(|t| t.number.as_str())
            .collect();
        let units: i64 = shipment.lines.iter().map(|(_, q)| q).sum();
        let note = format!(
            "Shipped{}{}: tracking {} {marker}",
            shipment
                .carrier
                .as_deref()
                .map(|c| format!(" with {c}"))
                .unwrap_or_default(),
            if shipment.lines.is_empty() {
                String::new()
            } else {
                format!(" ({units} item(s))")
            },
            if numbers.is_empty() {
                "none".to_owned()
            } else {
                numbers.join(", ")
            }
        );
        let (_, note_found) = self
            .ensure(
                || async {
                    Ok(self
                        .notes(order_id)
                        .await?
                        .iter()
                        .any(|n| {
                            n.get("note")
                                .and_then(Value::as_str)
                                .is_some_and(|t| t.contains(&marker))
                        })
                        .then_some(()))
                },
                || {
                    let req = self
                        .send_body(
                            reqwest::Method::POST,
                            &format!("/wc/v3/orders/{order_id}/notes"),
                            &json!({ "note": note, "customer_note": false }),
                        )
                        .not_idempotent();
                    async move { self.http.send_json(&req).await.map(|_| ()) }
                },
            )
            .await?;
        existed &= note_found;
        // Complete the order when this shipment covers every line in full.
        let ordered: BTreeMap<String, i64> = order
            .get("line_items")
            .and_then(Value::as_array)
            .map(|ls| {
                ls.iter()
                    .filter_map(|l| {
                        Some((
                            l.get("id")?.as_i64()?.to_string(),
                            l.get("quantity")?.as_i64()?,
                        ))
                    })
                    .collect()
            })
            .unwrap_or_default();
        let shipped: BTreeMap<String, i64> =
            shipment
                .lines
                .iter()
                .fold(BTreeMap::new(), |mut m, (id, q)| {
                    *m.entry(id.clone()).or_default() += q;
                    m
                });
        let complete = shipment.lines.is_empty()
            || ordered
                .iter()
                .all(|(id, q)| shipped.get(id).is_some_and(|s| s >= q));
        let status = order.get("status").and_then(Value::as_str).unwrap_or("");
        if complete && status != "completed" {
            existed = false;
            self.http
                .send_json(&self.send_body(
                    reqwest::Method::PUT,
                    &format!("/wc/v3/orders/{order_id}"),
                    &json!({ "status": "completed" }),
                ))
                .await?;
        }
        Ok(FulfilmentAck {
            channel_fulfilment_id: shipment_id(&ids, &shipment.reference),
            already_existed: existed,
        })
    }
}
