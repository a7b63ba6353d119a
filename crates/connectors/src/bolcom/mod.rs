//! bol.com Retailer API v10 connector.
//!
//! - Auth: client credentials (`POST https://login.bol.com/token?grant_type=
//!   client_credentials`, HTTP Basic); the token lives five minutes and is
//!   renewed a minute early and on a 401. Against any other host (a
//!   simulator, a proxy) the token is asked at `{base_url}/token`.
//! - Every call sends `Accept: application/vnd.retailer.v10+json` and
//!   bodies with the same `Content-Type`; bol refuses plain JSON.
//! - Orders: `GET /retailer/orders?status=ALL&fulfilment-method=FBR` lists
//!   reduced orders, 50 a page, with no total (a page short of 50 is the
//!   last; an empty one is `{}`). Changes of the last hour are asked with
//!   `change-interval-minute=60`; an older cursor walks day by day with
//!   `latest-change-date`. Only orders whose items changed at or after the
//!   cursor are read in full (`GET /retailer/orders/{id}`: prices,
//!   addresses), since the list carries neither.
//! - Changes are asynchronous: a stock update (`PUT
//!   /retailer/offers/{id}/stock`) or a shipment (`POST
//!   /retailer/shipments`) answers 202 with a process status, polled (in
//!   bulk, `POST /shared/process-status`) until `SUCCESS` or `FAILURE`. A
//!   change is confirmed only on `SUCCESS`.
//! - Shipments carry our fulfilment id as `shipmentReference`; before one is
//!   created the order's shipments are searched for it, so a retry never
//!   ships twice. bol takes one track-and-trace code per shipment.
//! - Listings come from the offer export (`POST /retailer/offers/export`,
//!   poll, then the CSV); the offer's `referenceCode` is the SKU.
//! - Rate limits are per endpoint (the order list: 7 calls per 3 minutes):
//!   `X-RateLimit-Remaining: 0` holds the channel back for
//!   `X-RateLimit-Reset` seconds, and 429s honour `Retry-After`.

mod map;

use std::collections::BTreeMap;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{NaiveDate, Utc};
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

/// The Retailer API v10 media type.
const MEDIA_TYPE: &str = "application/vnd.retailer.v10+json";
/// Reduced orders per list page.
const PAGE_SIZE: usize = 50;
/// Within this, a cursor is served by `change-interval-minute=60`.
const RECENT_MINUTES: i64 = 55;
/// Days of change history bol keeps (`latest-change-date`).
const HISTORY_DAYS: i64 = 90;
/// Polls of a process status before it is reported still pending.
const MAX_POLLS: u32 = 20;

/// Credentials of a bol.com channel (stored encrypted).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BolCredentials {
    /// The API client id.
    pub client_id: String,
    /// The API client secret.
    pub client_secret: SecretString,
}

/// A bol.com retailer account.
#[derive(Debug, Clone)]
pub struct Bolcom {
    http: ChannelHttp,
    base: String,
    token_url: String,
    creds: BolCredentials,
    eur: Currency,
    attempts: u32,
    pause: Duration,
    max_pause: Duration,
    token: TokenCache,
}

/// The last call of an endpoint's window holds the channel back until the
/// window resets.
fn signals(r: &HttpResponse) -> Option<Duration> {
    let n = |h: &str| r.header(h).and_then(|v| v.trim().parse::<u64>().ok());
    (n("x-ratelimit-remaining") == Some(0))
        .then(|| Duration::from_secs(n("x-ratelimit-reset").unwrap_or(1).max(1)))
}

/// Where a list walk is: the last hour, or one day of an older window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Walk {
    Recent,
    Day(NaiveDate),
}

impl Bolcom {
    /// A connector for the API at `base_url` (`https://api.bol.com`).
    pub fn new(
        base_url: &str,
        creds: &BolCredentials,
        policy: HttpPolicy,
    ) -> Result<Self, ConnectorError> {
        let base = base_url.trim_end_matches('/').to_owned();
        let token_url = if base == "https://api.bol.com" {
            "https://login.bol.com/token".to_owned()
        } else {
            format!("{base}/token")
        };
        let eur = Currency::parse("EUR").map_err(|e| ConnectorError::Client {
            channel: "bolcom".into(),
            reason: e.message,
        })?;
        let (pause, max_pause, attempts) =
            (policy.base_backoff, policy.max_backoff, policy.max_attempts);
        let http = ChannelHttp::new(
            "bolcom",
            policy,
            vec![creds.client_secret.expose_secret().to_owned()],
        )?
        .with_signals(signals);
        Ok(Self {
            http,
            base,
            token_url,
            creds: creds.clone(),
            eur,
            attempts,
            pause,
            max_pause,
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

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// A new token for the API client (client credentials).
    async fn fetch_token(&self) -> Result<(String, Duration), ConnectorError> {
        let req = HttpRequest {
            method: reqwest::Method::POST,
            url: format!("{}?grant_type=client_credentials", self.token_url),
            headers: vec![("accept".into(), "application/json".into())],
            secret_headers: vec![(
                "authorization".into(),
                SecretString::from(support::basic_auth(
                    &self.creds.client_id,
                    self.creds.client_secret.expose_secret(),
                )),
            )],
            body: None,
            idempotent: true,
        };
        let (_, v) = self.http.send_json(&req).await?;
        support::token_from(self.label(), &v, 299)
    }

    /// Send with the media type and a token; renew on 401 and send once
    /// more. `want_json` parses the answer.
    async fn call(
        &self,
        req: HttpRequest,
        accept: &str,
        want_json: bool,
    ) -> Result<(HttpResponse, Value), ConnectorError> {
        let mut req = req;
        if req.body.is_some() {
            req.headers.retain(|(k, _)| k != "content-type");
            req = req.header("content-type", MEDIA_TYPE);
        }
        let req = req.header("accept", accept);
        self.token
            .with_token(
                &[401],
                || self.fetch_token(),
                |t| {
                    let r = req
                        .clone()
                        .secret_header("authorization", format!("Bearer {t}"));
                    async move {
                        if want_json {
                            self.http.send_json(&r).await
                        } else {
                            self.http.send(&r).await.map(|r| (r, Value::Null))
                        }
                    }
                },
            )
            .await
    }

    async fn get(&self, path: &str) -> Result<Value, ConnectorError> {
        Ok(self
            .call(HttpRequest::get(self.url(path)), MEDIA_TYPE, true)
            .await?
            .1)
    }

    async fn order(&self, id: &str) -> Result<Value, ConnectorError> {
        self.get(&format!("/retailer/orders/{id}")).await
    }

    /// Poll process statuses until each is final or the polls run out;
    /// returns id → the last status seen.
    async fn settle(&self, ids: &[String]) -> Result<BTreeMap<String, Value>, ConnectorError> {
        let mut seen: BTreeMap<String, Value> = BTreeMap::new();
        let mut wait = self.pause;
        for _ in 0..MAX_POLLS {
            let open: Vec<&String> = ids
                .iter()
                .filter(|id| seen.get(*id).is_none_or(|s| s["status"] == "PENDING"))
                .collect();
            if open.is_empty() {
                break;
            }
            tokio::time::sleep(wait).await;
            wait = (wait * 2).min(self.max_pause);
            for chunk in open.chunks(1000) {
                let body = json!({ "processStatusQueries": chunk.iter()
                    .map(|id| json!({ "processStatusId": id })).collect::<Vec<_>>() });
                let (_, v) = self
                    .call(
                        HttpRequest::json(
                            reqwest::Method::POST,
                            self.url("/shared/process-status"),
                            &body,
                        ),
                        MEDIA_TYPE,
                        true,
                    )
                    .await?;
                for s in v["processStatuses"]
                    .as_array()
                    .map(Vec::as_slice)
                    .unwrap_or_default()
                {
                    if let Some(id) = s["processStatusId"].as_str() {
                        seen.insert(id.to_owned(), s.clone());
                    }
                }
            }
        }
        Ok(seen)
    }

    /// Our shipment on the order, found by its `shipmentReference`.
    async fn find_shipment(
        &self,
        order: &str,
        reference: &str,
    ) -> Result<Option<String>, ConnectorError> {
        let v = self
            .get(&format!("/retailer/shipments?order-id={order}"))
            .await?;
        Ok(v["shipments"]
            .as_array()
            .map(Vec::as_slice)
            .unwrap_or_default()
            .iter()
            .find(|s| s["shipmentReference"].as_str() == Some(reference))
            .and_then(|s| s["shipmentId"].as_str().map(str::to_owned)))
    }

    fn page_token(walk: Walk, page: usize) -> String {
        match walk {
            Walk::Recent => format!("bo1:recent:{page}"),
            Walk::Day(d) => format!("bo1:{d}:{page}"),
        }
    }

    fn parse_token(&self, t: &str) -> Result<(Walk, usize), ConnectorError> {
        let bad = || ConnectorError::Client {
            channel: self.label().to_owned(),
            reason: format!("not a bol.com page token: {t}"),
        };
        let rest = t.strip_prefix("bo1:").ok_or_else(bad)?;
        let (walk, page) = rest.rsplit_once(':').ok_or_else(bad)?;
        let page = page.parse().map_err(|_| bad())?;
        let walk = if walk == "recent" {
            Walk::Recent
        } else {
            Walk::Day(NaiveDate::parse_from_str(walk, "%Y-%m-%d").map_err(|_| bad())?)
        };
        Ok((walk, page))
    }
}

#[async_trait]
impl SalesChannel for Bolcom {
    fn capabilities(&self) -> Capabilities {
        Capabilities {
            bulk_stock: false,
            max_stock_batch: 50,
            push_notifications: false,
            partial_fulfilment: true,
            multiple_tracking_numbers: false,
            compare_and_set_stock: false,
            scarce_order_lists: true,
            tracking_updates: false,
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
        // The token proves the credentials; a shipment list proves the
        // retailer scope without spending the scarce order-list calls.
        self.get("/retailer/shipments?page=1").await.map(|_| ())
    }

    async fn fetch_orders(&self, query: &OrderQuery) -> Result<OrderPage, ConnectorError> {
        let since = query.updated_since;
        let today = Utc::now().date_naive();
        let (walk, page) = match query.page.as_deref() {
            Some(t) => self.parse_token(t)?,
            None if Utc::now() - since <= chrono::Duration::minutes(RECENT_MINUTES) => {
                (Walk::Recent, 1)
            }
            // bol keeps three months of change history.
            None => (
                Walk::Day(
                    since
                        .date_naive()
                        .max(today - chrono::Duration::days(HISTORY_DAYS))
                        .min(today),
                ),
                1,
            ),
        };
        let filter = match walk {
            Walk::Recent => "change-interval-minute=60".to_owned(),
            Walk::Day(d) => format!("latest-change-date={d}"),
        };
        let list = self
            .get(&format!(
                "/retailer/orders?status=ALL&fulfilment-method=FBR&{filter}&page={page}"
            ))
            .await?;
        // An empty page is `{}`.
        let reduced = match &list["orders"] {
            Value::Array(a) => a.as_slice(),
            Value::Null if list.is_object() => &[],
            _ => return Err(self.malformed("order list has no orders")),
        };
        let mut out = OrderPage::default();
        for r in reduced {
            let Some(id) = r["orderId"].as_str() else {
                out.add(r.clone(), None, Err("reduced order without orderId"));
                continue;
            };
            if out.holds(id) {
                continue;
            }
            match map::changed(self.label(), r) {
                Ok(t) if t < since => continue,
                Ok(_) => {}
                Err(e) => {
                    out.add(r.clone(), Some(id.to_owned()), Err(e));
                    continue;
                }
            }
            let full = self.order(id).await?;
            out.add(
                full.clone(),
                Some(id.to_owned()),
                map::order(self.label(), self.eur, &full),
            );
        }
        out.next_page = if reduced.len() >= PAGE_SIZE {
            Some(Self::page_token(walk, page + 1))
        } else {
            match walk {
                Walk::Day(d) if d < today => {
                    d.succ_opt().map(|n| Self::page_token(Walk::Day(n), 1))
                }
                _ => None,
            }
        };
        Ok(out)
    }

    async fn fetch_order(&self, channel_order_id: &str) -> Result<OrderPage, ConnectorError> {
        let raw = self.order(channel_order_id).await?;
        let mapped = map::order(self.label(), self.eur, &raw);
        Ok(OrderPage::single(raw, channel_order_id, mapped))
    }

    async fn fetch_listings(&self, page: Option<String>) -> Result<ListingPage, ConnectorError> {
        if let Some(p) = page {
            return Err(ConnectorError::Client {
                channel: self.label().to_owned(),
                reason: format!("the offer export has one page, not {p}"),
            });
        }
        let (_, started) = self
            .call(
                HttpRequest::json(
                    reqwest::Method::POST,
                    self.url("/retailer/offers/export"),
                    &json!({ "format": "CSV" }),
                ),
                MEDIA_TYPE,
                true,
            )
            .await?;
        let id = started["processStatusId"]
            .as_str()
            .ok_or_else(|| self.malformed("export answer has no processStatusId"))?
            .to_owned();
        let done = self.settle(std::slice::from_ref(&id)).await?;
        let status = done.get(&id).cloned().unwrap_or(Value::Null);
        let report = match status["status"].as_str() {
            Some("SUCCESS") => status["entityId"]
                .as_str()
                .ok_or_else(|| self.malformed("finished export names no report"))?
                .to_owned(),
            Some("FAILURE" | "TIMEOUT") => {
                return Err(ConnectorError::Rejected {
                    channel: self.label().to_owned(),
                    status: 200,
                    body: format!("offer export failed: {}", status["errorMessage"]),
                });
            }
            _ => {
                return Err(ConnectorError::Unavailable {
                    channel: self.label().to_owned(),
                    attempts: MAX_POLLS,
                    reason: "the offer export is still being prepared".into(),
                });
            }
        };
        let (resp, _) = self
            .call(
                HttpRequest::get(self.url(&format!("/retailer/offers/export/{report}"))),
                "application/vnd.retailer.v10+csv",
                false,
            )
            .await?;
        let text = String::from_utf8_lossy(&resp.body);
        let mut rows = text.lines().filter(|l| !l.trim().is_empty());
        let header = map::csv_record(rows.next().unwrap_or_default());
        let col = |name: &str| header.iter().position(|h| h == name);
        let (Some(c_id), Some(c_ean), Some(c_stock), Some(c_ref), c_price) = (
            col("offerId"),
            col("ean"),
            col("stockAmount"),
            col("referenceCode"),
            col("bundlePricesPrice"),
        ) else {
            return Err(self.malformed(format!("offer export header lacks columns: {header:?}")));
        };
        let listings = rows
            .map(map::csv_record)
            .filter_map(|r| {
                let field = |i: usize| r.get(i).map(String::as_str).unwrap_or_default();
                let id = field(c_id);
                if id.is_empty() {
                    return None;
                }
                let sku = Some(field(c_ref).to_owned()).filter(|s| !s.is_empty());
                Some(Listing {
                    channel_listing_id: id.to_owned(),
                    title: format!("EAN {}", field(c_ean)),
                    sku,
                    quantity: field(c_stock).parse().ok(),
                    price: c_price.and_then(|c| self.eur.parse_amount(field(c)).ok()),
                    raw: json!({ "offerId": id, "ean": field(c_ean), "referenceCode": field(c_ref),
                                 "stockAmount": field(c_stock) }),
                })
            })
            .collect();
        Ok(ListingPage {
            listings,
            next_page: None,
        })
    }

    async fn push_stock(
        &self,
        updates: &[StockUpdate],
    ) -> Result<Vec<StockOutcome>, ConnectorError> {
        // Submit every update, then poll their processes together.
        let mut submitted: Vec<Result<String, StockOutcome>> = Vec::with_capacity(updates.len());
        for u in updates {
            let req = HttpRequest::json(
                reqwest::Method::PUT,
                self.url(&format!("/retailer/offers/{}/stock", u.channel_listing_id)),
                &json!({ "amount": u.quantity.clamp(0, 999), "managedByRetailer": true }),
            );
            match self.call(req, MEDIA_TYPE, true).await {
                Ok((_, v)) => match v["processStatusId"].as_str() {
                    Some(id) => submitted.push(Ok(id.to_owned())),
                    None => submitted.push(Err(StockOutcome::Failed {
                        reason: "bol.com answered without a process status".into(),
                        retryable: true,
                    })),
                },
                Err(e @ ConnectorError::Rejected { .. }) => {
                    submitted.push(Err(StockOutcome::Failed {
                        reason: e.to_string(),
                        retryable: false,
                    }));
                }
                Err(e) => return Err(e),
            }
        }
        let ids: Vec<String> = submitted
            .iter()
            .filter_map(|s| s.as_ref().ok().cloned())
            .collect();
        let statuses = self.settle(&ids).await?;
        Ok(submitted
            .into_iter()
            .map(|s| match s {
                Err(outcome) => outcome,
                Ok(id) => {
                    let st = statuses.get(&id);
                    match st.and_then(|s| s["status"].as_str()) {
                        Some("SUCCESS") => StockOutcome::Accepted,
                        Some("FAILURE") => StockOutcome::Failed {
                            reason: st
                                .and_then(|s| s["errorMessage"].as_str())
                                .unwrap_or("refused")
                                .to_owned(),
                            retryable: false,
                        },
                        other => StockOutcome::Failed {
                            reason: format!("process {id} is {}", other.unwrap_or("unknown")),
                            retryable: true,
                        },
                    }
                }
            })
            .collect())
    }

    async fn push_fulfilment(
        &self,
        shipment: &FulfilmentPush,
    ) -> Result<FulfilmentAck, ConnectorError> {
        let order = shipment.channel_order_id.as_str();
        let reference = shipment.reference.as_str();
        let items: Vec<(String, i64)> = if shipment.lines.is_empty() {
            let raw = self.order(order).await?;
            raw["orderItems"]
                .as_array()
                .ok_or_else(|| self.malformed("order has no orderItems"))?
                .iter()
                .filter_map(|i| {
                    let open = i["quantity"].as_i64()?
                        - i["quantityShipped"].as_i64().unwrap_or(0)
                        - i["quantityCancelled"].as_i64().unwrap_or(0);
                    (open > 0).then(|| Some((i["orderItemId"].as_str()?.to_owned(), open)))?
                })
                .collect()
        } else {
            shipment.lines.clone()
        };
        let mut body = json!({
            "orderItems": items.iter().map(|(id, q)| json!({ "orderItemId": id, "quantity": q })).collect::<Vec<_>>(),
            "shipmentReference": reference,
        });
        body["transport"] = json!({
            "transporterCode": shipment.carrier.clone().unwrap_or_else(|| "OTHER".into()),
        });
        if let Some(t) = shipment.tracking.first() {
            body["transport"]["trackAndTrace"] = json!(t.number);
        }
        let find = || self.find_shipment(order, reference);
        let create = || async {
            if items.is_empty() {
                return Err(ConnectorError::Rejected {
                    channel: self.label().to_owned(),
                    status: 400,
                    body: format!("order {order} has nothing left to ship"),
                });
            }
            let (_, started) = self
                .call(
                    HttpRequest::json(
                        reqwest::Method::POST,
                        self.url("/retailer/shipments"),
                        &body,
                    )
                    .not_idempotent(),
                    MEDIA_TYPE,
                    true,
                )
                .await?;
            let id = started["processStatusId"]
                .as_str()
                .ok_or_else(|| self.malformed("shipment answer has no processStatusId"))?
                .to_owned();
            let done = self.settle(std::slice::from_ref(&id)).await?;
            let status = done.get(&id).cloned().unwrap_or(Value::Null);
            match status["status"].as_str() {
                Some("SUCCESS") => self
                    .find_shipment(order, reference)
                    .await?
                    .ok_or_else(|| self.malformed("the shipment succeeded but is not listed")),
                Some("FAILURE") => Err(ConnectorError::Rejected {
                    channel: self.label().to_owned(),
                    status: 200,
                    body: format!(
                        "bol.com refused the shipment: {}",
                        status["errorMessage"].as_str().unwrap_or("no reason given")
                    ),
                }),
                other => Err(ConnectorError::Unavailable {
                    channel: self.label().to_owned(),
                    attempts: MAX_POLLS,
                    reason: format!("shipment process {id} is {}", other.unwrap_or("unknown")),
                }),
            }
        };
        let (id, existed) = crate::support::ensure(self.attempts, self.pause, find, create).await?;
        Ok(FulfilmentAck {
            channel_fulfilment_id: id,
            already_existed: existed,
        })
    }
}
