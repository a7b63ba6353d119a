//! Medusa connector over the admin REST API (Medusa 2.x).
//!
//! - Auth: a secret API key (`sk_…`, `POST /admin/api-keys {"type":"secret"}`)
//!   as the user name of HTTP Basic auth, with an empty password.
//! - Orders: `GET /admin/orders?updated_at[$gte]=…&order=created_at` with
//!   `offset`/`limit`. Creation order never changes, and an order only ever
//!   joins the set (its `updated_at` grows), so a page shifted by a change
//!   is read again, never skipped. Computed totals must be named in
//!   `fields` one by one: `*items` alone leaves every line total out.
//! - Stock: inventory levels at one stock location (the credentials'
//!   `location_id`, else the store's default location), through
//!   `POST /admin/inventory-items/location-levels/batch`. Medusa reserves
//!   stock for placed orders and sells `stocked − reserved`, so the
//!   quantity pushed is `target + reserved`.
//! - Fulfilment: `POST /admin/orders/{id}/fulfillments` with our reference
//!   in its `metadata` (found again before any retry creates one), then
//!   `…/fulfillments/{fid}/shipments` with one label per tracking number.

mod back_office;
mod map;

use std::collections::BTreeMap;
use std::time::Duration;

use async_trait::async_trait;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::sync::OnceCell;

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

/// What the connector reads of an order.
const ORDER_FIELDS: &str = "id,display_id,status,payment_status,fulfillment_status,created_at,\
updated_at,canceled_at,currency_code,email,total,tax_total,shipping_total,discount_total,metadata,\
*items,items.total,items.tax_total,items.discount_total,items.original_total,*items.detail,\
*shipping_address,*billing_address,*shipping_methods,*fulfillments,*fulfillments.labels";

/// What the connector reads of a variant.
const VARIANT_FIELDS: &str = "id,sku,title,product.title,*prices,*inventory_items,\
*inventory_items.inventory.location_levels";

/// Credentials of a Medusa channel (stored encrypted).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MedusaCredentials {
    /// A secret API key (`sk_…`).
    pub api_key: SecretString,
    /// The stock location whose levels Switchyard keeps; the store's
    /// default location when absent.
    #[serde(default)]
    pub location_id: Option<String>,
}

/// A Medusa server.
#[derive(Debug, Clone)]
pub struct Medusa {
    http: ChannelHttp,
    base: String,
    auth: SecretString,
    location: std::sync::Arc<OnceCell<String>>,
    store: std::sync::Arc<OnceCell<Value>>,
    attempts: u32,
    pause: Duration,
}

impl Medusa {
    /// A connector for the server at `base_url`.
    pub fn new(
        base_url: &str,
        creds: &MedusaCredentials,
        policy: HttpPolicy,
    ) -> Result<Self, ConnectorError> {
        let auth = support::basic_auth(creds.api_key.expose_secret(), "");
        let pause = policy.base_backoff;
        let attempts = policy.max_attempts;
        let http = ChannelHttp::new(
            "medusa",
            policy,
            vec![creds.api_key.expose_secret().to_owned(), auth.clone()],
        )?;
        let location = OnceCell::new();
        if let Some(l) = &creds.location_id {
            let _ = location.set(l.clone());
        }
        Ok(Self {
            http,
            base: base_url.trim_end_matches('/').to_owned(),
            auth: SecretString::from(auth),
            location: std::sync::Arc::new(location),
            store: std::sync::Arc::default(),
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
            status: 400,
            body: reason.into(),
        }
    }

    async fn get(&self, path: &str) -> Result<Value, ConnectorError> {
        let req = HttpRequest::get(format!("{}{path}", self.base))
            .secret_header("authorization", self.auth.expose_secret());
        self.http.send_json(&req).await.map(|(_, v)| v)
    }

    async fn post(
        &self,
        path: &str,
        body: &Value,
        idempotent: bool,
    ) -> Result<Value, ConnectorError> {
        let mut req =
            HttpRequest::json(reqwest::Method::POST, format!("{}{path}", self.base), body)
                .secret_header("authorization", self.auth.expose_secret());
        if !idempotent {
            req = req.not_idempotent();
        }
        self.http.send_json(&req).await.map(|(_, v)| v)
    }

    /// The store's defaults (region, sales channel, stock location), read once.
    async fn store(&self) -> Result<&Value, ConnectorError> {
        self.store
            .get_or_try_init(|| async {
                let v = self
                    .get("/admin/stores?fields=id,default_region_id,default_sales_channel_id,default_location_id")
                    .await?;
                v["stores"]
                    .get(0)
                    .cloned()
                    .ok_or_else(|| self.malformed("the server lists no store"))
            })
            .await
    }

    /// The stock location whose levels are kept.
    async fn location(&self) -> Result<String, ConnectorError> {
        self.location
            .get_or_try_init(|| async {
                if let Some(l) = self.store().await?["default_location_id"].as_str() {
                    return Ok(l.to_owned());
                }
                let locs = self.get("/admin/stock-locations?fields=id&limit=1").await?;
                locs["stock_locations"][0]["id"]
                    .as_str()
                    .map(str::to_owned)
                    .ok_or_else(|| self.refused("the store has no stock location"))
            })
            .await
            .cloned()
    }

    /// One order with the fields [`map::order`] reads, or `None`.
    async fn order(&self, id: &str) -> Result<Option<Value>, ConnectorError> {
        let path = format!(
            "/admin/orders/{}?fields={ORDER_FIELDS}",
            support::encode(id)
        );
        match self.get(&path).await {
            Ok(v) => Ok(v.get("order").filter(|o| o.is_object()).cloned()),
            Err(ConnectorError::Rejected { status: 404, .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Variants by id, with their inventory.
    async fn variants(&self, ids: &[&str]) -> Result<Vec<Value>, ConnectorError> {
        let filter: String = ids
            .iter()
            .map(|id| format!("&id[]={}", support::encode(id)))
            .collect();
        let v = self
            .get(&format!(
                "/admin/product-variants?limit={}&fields={VARIANT_FIELDS}{filter}",
                ids.len()
            ))
            .await?;
        v["variants"]
            .as_array()
            .cloned()
            .ok_or_else(|| self.malformed("variant list has no `variants`"))
    }

    /// Cancel an order there; a cancelled one stays cancelled.
    async fn cancel(&self, id: &str) -> Result<(), ConnectorError> {
        let Some(order) = self.order(id).await? else {
            return Err(self.refused(format!("there is no order {id}")));
        };
        if order["status"] == "canceled" {
            return Ok(());
        }
        self.post(
            &format!("/admin/orders/{}/cancel", support::encode(id)),
            &json!({}),
            false,
        )
        .await
        .map(|_| ())
    }
}

/// The one inventory item of a variant and its level at `location`:
/// `(inventory item id, stocked, reserved)`; `Err` says why there is none.
fn inventory_at(variant: &Value, location: &str) -> Result<(String, Option<(i64, i64)>), String> {
    let items = variant["inventory_items"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    if items.is_empty() {
        return Err(format!(
            "variant {} does not manage inventory in Medusa (manage_inventory is off)",
            variant["id"]
        ));
    }
    let [item] = items.as_slice() else {
        return Err(format!(
            "variant {} has {} inventory items; Switchyard keeps variants with exactly one",
            variant["id"],
            items.len()
        ));
    };
    if item["required_quantity"].as_i64().unwrap_or(1) != 1 {
        return Err(format!(
            "variant {} is a Medusa inventory kit",
            variant["id"]
        ));
    }
    let id = item["inventory_item_id"]
        .as_str()
        .ok_or("inventory item without id")?
        .to_owned();
    let level = item["inventory"]["location_levels"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|l| l["location_id"] == location)
        .map(|l| {
            (
                l["stocked_quantity"].as_i64().unwrap_or(0),
                l["reserved_quantity"].as_i64().unwrap_or(0),
            )
        });
    Ok((id, level))
}

#[async_trait]
impl SalesChannel for Medusa {
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
        self.get("/admin/stores?fields=id").await.map(|_| ())
    }

    async fn fetch_orders(&self, query: &OrderQuery) -> Result<OrderPage, ConnectorError> {
        let offset =
            support::offset_from(self.http.label(), "a Medusa", "md1:", query.page.as_deref())?;
        let since = query
            .updated_since
            .to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
        let body = self
            .get(&format!(
                "/admin/orders?updated_at[$gte]={}&order=created_at&offset={offset}&limit={ORDERS_PAGE}&fields={ORDER_FIELDS}",
                support::encode(&since)
            ))
            .await?;
        let items = body["orders"]
            .as_array()
            .cloned()
            .ok_or_else(|| self.malformed("order list has no `orders`"))?;
        let count = body["count"]
            .as_u64()
            .ok_or_else(|| self.malformed("order list has no `count`"))?;
        let mut page = OrderPage::default();
        for raw in items {
            let id = raw["id"].as_str().map(str::to_owned);
            if id.as_deref().is_some_and(|id| page.holds(id)) || raw["status"] == "draft" {
                continue;
            }
            if back_office::reference_of(&raw).is_some() {
                page.ours.extend(id);
                continue;
            }
            let mapped = map::order(self.http.label(), &raw);
            page.add(raw, id, mapped);
        }
        page.next_page = support::next_offset("md1:", offset, ORDERS_PAGE, count);
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
        let location = self.location().await?;
        let body = self
            .get(&format!(
                "/admin/product-variants?limit={STOCK_BATCH}&offset={}&order=created_at&fields={VARIANT_FIELDS}",
                n * STOCK_BATCH
            ))
            .await?;
        let variants = body["variants"]
            .as_array()
            .cloned()
            .ok_or_else(|| self.malformed("variant list has no `variants`"))?;
        let count = body["count"].as_u64().unwrap_or(0);
        let mut listings = Vec::with_capacity(variants.len());
        for v in variants {
            let id = v["id"]
                .as_str()
                .ok_or_else(|| self.malformed("variant without id"))?
                .to_owned();
            let quantity = inventory_at(&v, &location)
                .ok()
                .and_then(|(_, level)| level)
                .map(|(stocked, reserved)| stocked - reserved);
            let price = v["prices"]
                .as_array()
                .and_then(|ps| ps.first())
                .and_then(|p| {
                    let digits = switchyard_domain::values::Currency::parse(
                        &p["currency_code"].as_str()?.to_ascii_uppercase(),
                    )
                    .ok()?
                    .minor_digits();
                    map::minor_units(&p["amount"], digits)
                });
            let title = match (v["product"]["title"].as_str(), v["title"].as_str()) {
                (Some(p), Some(t)) if p != t => format!("{p} {t}"),
                (_, Some(t)) => t.to_owned(),
                (Some(p), None) => p.to_owned(),
                (None, None) => String::new(),
            };
            listings.push(Listing {
                channel_listing_id: id,
                sku: v["sku"]
                    .as_str()
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned),
                title,
                quantity,
                price,
                raw: v,
            });
        }
        let read = (n as u64 + 1) * STOCK_BATCH as u64;
        Ok(ListingPage {
            listings,
            next_page: (read < count).then(|| (n + 1).to_string()),
        })
    }

    async fn push_stock(
        &self,
        updates: &[StockUpdate],
    ) -> Result<Vec<StockOutcome>, ConnectorError> {
        let location = self.location().await?;
        let mut out = Vec::with_capacity(updates.len());
        for chunk in updates.chunks(STOCK_BATCH) {
            let ids: Vec<&str> = chunk
                .iter()
                .map(|u| u.channel_listing_id.as_str())
                .collect();
            let variants: BTreeMap<String, Value> = self
                .variants(&ids)
                .await?
                .into_iter()
                .filter_map(|v| Some((v["id"].as_str()?.to_owned(), v)))
                .collect();
            // Per update: the inventory item and the quantity to stock, or why not.
            let plan: Vec<Result<(String, i64, bool), String>> = chunk
                .iter()
                .map(|u| {
                    let v = variants
                        .get(&u.channel_listing_id)
                        .ok_or_else(|| format!("Medusa has no variant {}", u.channel_listing_id))?;
                    let (item, level) = inventory_at(v, &location)?;
                    let reserved = level.map_or(0, |(_, r)| r);
                    Ok((item, u.quantity.max(0) + reserved, level.is_some()))
                })
                .collect();
            let (mut create, mut update) = (Vec::new(), Vec::new());
            for (item, stocked, exists) in plan.iter().flatten() {
                let row = json!({ "inventory_item_id": item, "location_id": location, "stocked_quantity": stocked });
                if *exists {
                    update.push(row)
                } else {
                    create.push(row)
                }
            }
            let mut stocked_now: BTreeMap<String, i64> = BTreeMap::new();
            if !create.is_empty() || !update.is_empty() {
                let r = self
                    .post(
                        "/admin/inventory-items/location-levels/batch",
                        &json!({ "create": create, "update": update }),
                        true,
                    )
                    .await?;
                // The answer's `available_quantity` is computed before the
                // change; `stocked_quantity` is the new value.
                for l in ["created", "updated"]
                    .iter()
                    .flat_map(|k| r[*k].as_array().cloned().unwrap_or_default())
                {
                    if let (Some(i), Some(q)) = (
                        l["inventory_item_id"].as_str(),
                        l["stocked_quantity"].as_i64(),
                    ) {
                        stocked_now.insert(i.to_owned(), q);
                    }
                }
            }
            for p in plan {
                out.push(match p {
                    Err(reason) => StockOutcome::Failed {
                        reason,
                        retryable: false,
                    },
                    Ok((item, stocked, _)) if stocked_now.get(&item) == Some(&stocked) => {
                        StockOutcome::Accepted
                    }
                    Ok((item, _, _)) => StockOutcome::Failed {
                        reason: format!(
                            "Medusa kept stocked_quantity {:?} for {item}",
                            stocked_now.get(&item)
                        ),
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
        let path = format!("/admin/orders/{}", support::encode(id));
        let lines: Vec<(String, i64)> = if shipment.lines.is_empty() {
            order["items"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|l| {
                    let left = l["quantity"].as_i64()?
                        - l["detail"]["fulfilled_quantity"].as_i64().unwrap_or(0);
                    let id = l["id"].as_str()?.to_owned();
                    (left > 0).then_some((id, left))
                })
                .collect()
        } else {
            shipment.lines.clone()
        };
        let items: Vec<Value> = lines
            .iter()
            .map(|(l, q)| json!({ "id": l, "quantity": q }))
            .collect();
        // The order just read serves the first look; later looks read it again.
        let mut known = Some(order);
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
                        f["canceled_at"].is_null()
                            && f["metadata"]["switchyard_reference"] == shipment.reference.as_str()
                    })
                    .map(|f| {
                        (
                            f["id"].as_str().unwrap_or_default().to_owned(),
                            !f["shipped_at"].is_null(),
                        )
                    }))
            }
        };
        let create = || async {
            let location = self.location().await?;
            let r = self
                .post(
                    &format!("{path}/fulfillments?fields=id,*fulfillments"),
                    &json!({ "items": items, "location_id": location,
                             "metadata": { "switchyard_reference": shipment.reference,
                                           "carrier": shipment.carrier.clone().unwrap_or_default() } }),
                    false,
                )
                .await?;
            r["order"]["fulfillments"]
                .as_array()
                .into_iter()
                .flatten()
                .find(|f| f["metadata"]["switchyard_reference"] == shipment.reference.as_str())
                .and_then(|f| f["id"].as_str())
                .map(|f| (f.to_owned(), false))
                .ok_or_else(|| self.malformed("the created fulfilment is not on the order"))
        };
        let ((fid, shipped), existed) =
            support::ensure(self.attempts, self.pause, find, create).await?;
        if !shipped {
            // Medusa needs a label URL; a tracking link where we have one.
            let labels: Vec<Value> = shipment
                .tracking
                .iter()
                .map(|t| {
                    let url = t.url.clone().unwrap_or_default();
                    json!({ "tracking_number": t.number, "tracking_url": url, "label_url": url })
                })
                .collect();
            self.post(
                &format!("{path}/fulfillments/{}/shipments", support::encode(&fid)),
                &json!({ "items": items, "labels": labels }),
                true,
            )
            .await?;
        }
        Ok(FulfilmentAck {
            channel_fulfilment_id: fid,
            already_existed: existed && shipped,
        })
    }

    async fn cancel_order(
        &self,
        channel_order_id: &str,
        reason: &str,
    ) -> Result<(), ConnectorError> {
        tracing::debug!(
            order = channel_order_id,
            reason,
            "cancelling a Medusa order"
        );
        self.cancel(channel_order_id).await
    }
}
